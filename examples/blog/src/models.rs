//! The Diesel models, each one also a set of MCP tools through `#[mcp_toolset]`.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use mcp_core::mcp_toolset;
use mcp_core::schemars::JsonSchema;
use mcp_diesel::ValidationErrors;
use serde::Serialize;
use serde_json::{Map, Value};

use crate::schema::{authors, comments, post_tags, posts, tags};

/// People who write on the blog.
#[mcp_toolset(search(name, bio), relations(posts = has_many(Post, posts::author_id)))]
#[derive(Debug, Clone, Queryable, Selectable, Identifiable, Serialize, JsonSchema)]
#[diesel(table_name = authors)]
#[cfg_attr(not(feature = "postgres"), diesel(check_for_backend(diesel::sqlite::Sqlite)))]
#[cfg_attr(feature = "postgres", diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg)))]
#[schemars(crate = "mcp_core::schemars")]
pub struct Author {
    /// The author's id.
    pub id: i32,
    /// Display name, unique.
    pub name: String,
    /// Never shown to agents.
    #[mcp(skip)]
    pub email: String,
    /// A few words about them.
    pub bio: Option<String>,
    /// When they joined.
    pub created_at: NaiveDateTime,
}

/// Blog posts: everyone reads published ones; authors also see, change and delete their own
/// drafts and posts.
#[mcp_toolset(
    actions(list, get, count, create, update, patch, delete, aggregate),
    group_by(author_id, published),
    search(title, body),
    max_limit = 50,
    validate = Post::validate,
    relations(
        author = belongs_to(Author, author_id),
        comments = has_many(Comment, comments::post_id),
        tags = has_many(PostTag, post_tags::post_id)
    )
)]
#[derive(Debug, Clone, Queryable, Selectable, Identifiable, Serialize, JsonSchema)]
#[diesel(table_name = posts)]
#[cfg_attr(not(feature = "postgres"), diesel(check_for_backend(diesel::sqlite::Sqlite)))]
#[cfg_attr(feature = "postgres", diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg)))]
#[schemars(crate = "mcp_core::schemars")]
pub struct Post {
    /// The post's id.
    pub id: i32,
    /// Who wrote it (set from the signed-in user).
    #[mcp(read_only)]
    pub author_id: i32,
    /// Its title.
    pub title: String,
    /// Its text (Markdown).
    pub body: String,
    /// Whether everyone can read it (use `publish_post` to publish).
    #[mcp(read_only)]
    pub published: bool,
    /// How often it was read.
    #[mcp(read_only)]
    pub views: i64,
    /// When it was written.
    #[mcp(read_only)]
    pub created_at: NaiveDateTime,
    /// When it was published.
    #[mcp(read_only)]
    pub published_at: Option<NaiveDateTime>,
}

/// Most characters in a post's title.
pub const TITLE_MAX: usize = 200;
/// Most bytes in a post's text.
pub const BODY_MAX: usize = 100_000;

impl Post {
    /// The rules of a post's title and text, in one place for agents (the `posts_*` model
    /// tools run it before every create, update and patch) and for the REST API: given the
    /// fields being written, what is wrong with them.
    pub fn validate(values: &Map<String, Value>) -> Result<(), ValidationErrors> {
        let mut errors = ValidationErrors::new();
        if let Some(title) = values.get("title").and_then(Value::as_str) {
            match title.trim().chars().count() {
                0 => errors.add("title", "must not be empty"),
                n if n > TITLE_MAX => errors.add("title", format!("has {n} characters; at most {TITLE_MAX}")),
                _ => {}
            }
        }
        if let Some(body) = values.get("body").and_then(Value::as_str) {
            if body.trim().is_empty() {
                errors.add("body", "must not be empty");
            } else if body.len() > BODY_MAX {
                errors.add("body", format!("has {} bytes; at most {BODY_MAX}", body.len()));
            }
        }
        errors.into_result()
    }
}

/// A reader's comment on a post; visible with its post.
#[mcp_toolset(search(body), max_limit = 50, relations(post = belongs_to(Post, post_id)))]
#[derive(Debug, Clone, Queryable, Selectable, Serialize, JsonSchema)]
#[diesel(table_name = comments)]
#[cfg_attr(not(feature = "postgres"), diesel(check_for_backend(diesel::sqlite::Sqlite)))]
#[cfg_attr(feature = "postgres", diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg)))]
#[schemars(crate = "mcp_core::schemars")]
pub struct Comment {
    /// The comment's id.
    pub id: i32,
    /// The post it is about.
    pub post_id: i32,
    /// Who wrote it.
    pub author_name: String,
    /// What they said.
    pub body: String,
    /// When.
    pub created_at: NaiveDateTime,
}

/// A topic posts are filed under.
#[mcp_toolset(search(name), relations(posts = has_many(PostTag, post_tags::tag_id)))]
#[derive(Debug, Clone, Queryable, Selectable, Serialize, JsonSchema)]
#[diesel(table_name = tags)]
#[cfg_attr(not(feature = "postgres"), diesel(check_for_backend(diesel::sqlite::Sqlite)))]
#[cfg_attr(feature = "postgres", diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg)))]
#[schemars(crate = "mcp_core::schemars")]
pub struct Tag {
    /// The tag's id.
    pub id: i32,
    /// Its name, unique.
    pub name: String,
}

/// A post filed under a tag; visible with its post.
#[mcp_toolset(max_limit = 100, relations(post = belongs_to(Post, post_id), tag = belongs_to(Tag, tag_id)))]
#[derive(Debug, Clone, Queryable, Selectable, Serialize, JsonSchema)]
#[diesel(table_name = post_tags)]
#[cfg_attr(not(feature = "postgres"), diesel(check_for_backend(diesel::sqlite::Sqlite)))]
#[cfg_attr(feature = "postgres", diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg)))]
#[schemars(crate = "mcp_core::schemars")]
pub struct PostTag {
    /// The link's id.
    pub id: i32,
    /// The post.
    pub post_id: i32,
    /// The tag.
    pub tag_id: i32,
}
