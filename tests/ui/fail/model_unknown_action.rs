//! An unknown action.
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

#[derive(Queryable, Selectable, Serialize, JsonSchema)]
#[diesel(table_name = posts)]
#[schemars(crate = "mcp_core::schemars")]
#[mcp_toolset(actions(list, frobnicate))]
struct Post {
    id: i32,
    title: String,
    views: i64,
}

fn main() {}
