//! `belongs_to` goes through a field agents cannot see.
use diesel::prelude::*;
use mcp_core::mcp_toolset;
use mcp_core::schemars::JsonSchema;
use serde::Serialize;

diesel::table! {
    authors (id) {
        id -> Integer,
        name -> Text,
    }
}

diesel::table! {
    posts (id) {
        id -> Integer,
        title -> Text,
        author_id -> Integer,
    }
}

diesel::allow_tables_to_appear_in_same_query!(authors, posts);

#[derive(Queryable, Selectable, Serialize, JsonSchema)]
#[diesel(table_name = authors)]
#[schemars(crate = "mcp_core::schemars")]
#[mcp_toolset]
struct Author {
    id: i32,
    name: String,
}

#[mcp_toolset(relations(author = belongs_to(Author, author_id)))]
#[derive(Queryable, Selectable, Serialize, JsonSchema)]
#[diesel(table_name = posts)]
#[schemars(crate = "mcp_core::schemars")]
struct Post {
    id: i32,
    title: String,
    #[mcp(skip)]
    author_id: i32,
}

fn main() {}
