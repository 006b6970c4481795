//! A hidden field needs `#[mcp_toolset]` above the derives, which it marks to hide the
//! field wherever a tool returns the model.
use diesel::prelude::*;
use mcp_core::mcp_toolset;
use mcp_core::schemars::JsonSchema;
use serde::Serialize;

diesel::table! {
    authors (id) {
        id -> Integer,
        name -> Text,
        email -> Text,
    }
}

#[derive(Queryable, Selectable, Serialize, JsonSchema)]
#[diesel(table_name = authors)]
#[schemars(crate = "mcp_core::schemars")]
#[mcp_toolset]
struct Author {
    id: i32,
    name: String,
    #[mcp(skip)]
    email: String,
}

fn main() {}
