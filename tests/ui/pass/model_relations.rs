//! Relations both ways, with a nullable key, a renamed column and a `has_many` through a
//! path into the schema module; the tables need no `allow_tables_to_appear_in_same_query!`.
use diesel::prelude::*;
use mcp_core::mcp_toolset;
use mcp_core::schemars::JsonSchema;
use serde::Serialize;

mod schema {
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
            writer -> Nullable<Integer>,
        }
    }

    diesel::table! {
        comments (id) {
            id -> Integer,
            post_id -> Integer,
            body -> Text,
        }
    }
}

#[derive(Queryable, Selectable, Serialize, JsonSchema)]
#[diesel(table_name = schema::authors)]
#[schemars(crate = "mcp_core::schemars")]
#[mcp_toolset(relations(posts = has_many(Post, schema::posts::writer)))]
struct Author {
    id: i32,
    name: String,
}

#[derive(Queryable, Selectable, Serialize, JsonSchema)]
#[diesel(table_name = schema::posts)]
#[schemars(crate = "mcp_core::schemars")]
#[mcp_toolset(relations(
    author = belongs_to(Author, author_id),
    comments = has_many(Comment, schema::comments::post_id),
))]
struct Post {
    id: i32,
    title: String,
    #[diesel(column_name = writer)]
    author_id: Option<i32>,
}

#[derive(Queryable, Selectable, Serialize, JsonSchema)]
#[diesel(table_name = schema::comments)]
#[schemars(crate = "mcp_core::schemars")]
#[mcp_toolset(relations(post = belongs_to(Post, post_id)))]
struct Comment {
    id: i32,
    post_id: i32,
    body: String,
}

fn main() {
    use mcp_diesel::ModelInfo;
    assert_eq!(Post::RELATIONS[0].foreign, "id");
    assert_eq!(Post::RELATIONS[1].local, "id");
    assert_eq!(Author::RELATIONS[0].foreign, "writer");
}
