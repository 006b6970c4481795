//! A hook of an `#[mcp_toolset(model = ...)]` impl block with the wrong signature.
use diesel::prelude::*;
use mcp_core::mcp_toolset;
use mcp_core::schemars::JsonSchema;
use serde::Serialize;

diesel::table! {
    posts (id) {
        id -> Integer,
        title -> Text,
    }
}

#[derive(Queryable, Selectable, Serialize, JsonSchema)]
#[diesel(table_name = posts)]
#[schemars(crate = "mcp_core::schemars")]
#[mcp_toolset]
struct Post {
    id: i32,
    title: String,
}

struct PostRules;

#[mcp_toolset(model = Post)]
impl PostRules {
    fn scope(&self) -> String {
        String::new()
    }
}

fn main() {}
