//! The Diesel models, each one also a set of MCP tools through `#[mcp_toolset]`.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use mcp_core::mcp_toolset;
use mcp_core::schemars::JsonSchema;
use serde::Serialize;

use crate::schema::{authors, comments, post_tags, posts, tags};

/// People who write on the blog.
#[derive(Debug, Clone, Queryable, Selectable, Identifiable, Serialize, JsonSchema)]
#[diesel(table_name = authors)]
#[cfg_attr(not(feature = "postgres"), diesel(check_for_backend(diesel::sqlite::Sqlite)))]
#[cfg_attr(feature = "postgres", diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg)))]
#[schemars(crate = "mcp_core::schemars")]
#[mcp_toolset(search(name, bio), relations(posts = has_many(Post, posts::author_id)))]
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
#[derive(Debug, Clone, Queryable, Selectable, Identifiable, Serialize, JsonSchema)]
#[diesel(table_name = posts)]
#[cfg_attr(not(feature = "postgres"), diesel(check_for_backend(diesel::sqlite::Sqlite)))]
#[cfg_attr(feature = "postgres", diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg)))]
#[schemars(crate = "mcp_core::schemars")]
#[mcp_toolset(
    actions(list, get, count, create, update, patch, delete, aggregate),
    group_by(author_id, published),
    search(title, body),
    max_limit = 50,
    relations(
        author = belongs_to(Author, author_id),
        comments = has_many(Comment, comments::post_id),
        tags = has_many(PostTag, post_tags::post_id)
    )
)]
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

/// A reader's comment on a post; visible with its post.
#[derive(Debug, Clone, Queryable, Selectable, Serialize, JsonSchema)]
#[diesel(table_name = comments)]
#[cfg_attr(not(feature = "postgres"), diesel(check_for_backend(diesel::sqlite::Sqlite)))]
#[cfg_attr(feature = "postgres", diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg)))]
#[schemars(crate = "mcp_core::schemars")]
#[mcp_toolset(search(body), max_limit = 50, relations(post = belongs_to(Post, post_id)))]
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
#[derive(Debug, Clone, Queryable, Selectable, Serialize, JsonSchema)]
#[diesel(table_name = tags)]
#[cfg_attr(not(feature = "postgres"), diesel(check_for_backend(diesel::sqlite::Sqlite)))]
#[cfg_attr(feature = "postgres", diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg)))]
#[schemars(crate = "mcp_core::schemars")]
#[mcp_toolset(search(name), relations(posts = has_many(PostTag, post_tags::tag_id)))]
pub struct Tag {
    /// The tag's id.
    pub id: i32,
    /// Its name, unique.
    pub name: String,
}

/// A post filed under a tag; visible with its post.
#[derive(Debug, Clone, Queryable, Selectable, Serialize, JsonSchema)]
#[diesel(table_name = post_tags)]
#[cfg_attr(not(feature = "postgres"), diesel(check_for_backend(diesel::sqlite::Sqlite)))]
#[cfg_attr(feature = "postgres", diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg)))]
#[schemars(crate = "mcp_core::schemars")]
#[mcp_toolset(max_limit = 100, relations(post = belongs_to(Post, post_id), tag = belongs_to(Tag, tag_id)))]
pub struct PostTag {
    /// The link's id.
    pub id: i32,
    /// The post.
    pub post_id: i32,
    /// The tag.
    pub tag_id: i32,
}
