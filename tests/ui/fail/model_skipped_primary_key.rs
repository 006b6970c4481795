//! The primary key cannot be hidden.
use diesel::prelude::*;
use mcp_core::mcp_toolset;
use mcp_core::schemars::JsonSchema;
use serde::Serialize;

diesel::table! {
    posts (id) {
        id -> Integer,
        title -> Text,
        views -> BigInt,
        data -> Binary,
    }
}

#[mcp_toolset()]
#[derive(Queryable, Selectable, Serialize, JsonSchema)]
#[diesel(table_name = posts)]
#[schemars(crate = "mcp_core::schemars")]
struct Post {
    #[mcp(skip)]
    id: i32,
    title: String,
    views: i64,
}

fn main() {}
