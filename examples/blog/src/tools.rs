//! The blog's own tools, beside the generated model tools: business actions, a report,
//! a resource template, a prompt and a slow tool that reports progress.

use chrono::Utc;
use diesel::prelude::*;
use mcp_core::prelude::*;
use mcp_core::schemars::JsonSchema;
use serde::Serialize;

use crate::Database;
use crate::models::{Author, Comment, Post};
use crate::schema::{audit_log, authors, comments, posts};

/// The signed-in author: their id, from the principal's `author_id` claim.
pub fn author_id(ctx: &Context) -> Result<i32, ToolError> {
    let p = ctx.principal().ok_or_else(|| ToolError::forbidden("sign in first"))?;
    p.claims
        .get("author_id")
        .and_then(serde_json::Value::as_i64)
        .and_then(|id| i32::try_from(id).ok())
        .ok_or_else(|| ToolError::forbidden("this user is not an author"))
}

fn user_name(ctx: &Context) -> String {
    ctx.principal().map(|p| p.subject.clone()).unwrap_or_default()
}

/// The blog's custom tools.
#[derive(Clone)]
pub struct BlogTools {
    db: Database,
}

/// Posts and readers of one author.
#[derive(Debug, Serialize, JsonSchema)]
#[schemars(crate = "mcp_core::schemars")]
pub struct AuthorStats {
    /// The author's name.
    pub author: String,
    /// Published posts.
    pub posts: i64,
    /// Views of those posts.
    pub views: i64,
}

/// What `publish_post` did.
#[derive(Debug, Serialize, JsonSchema)]
#[schemars(crate = "mcp_core::schemars")]
pub struct Published {
    /// The post, published.
    #[serde(flatten)]
    pub post: Post,
    /// `true` when it was published already: nothing changed, no audit entry was written.
    pub already_published: bool,
}

/// Words in the posts the caller can read.
#[derive(Debug, Serialize, JsonSchema)]
#[schemars(crate = "mcp_core::schemars")]
pub struct WordCount {
    /// Posts counted.
    pub posts: usize,
    /// Words in them.
    pub words: usize,
}

impl BlogTools {
    /// The tools over `db`.
    pub fn new(db: Database) -> Self {
        BlogTools { db }
    }
}

/// Run `$body` (a `Result<_, ToolError>`) with `$conn` bound to a pooled connection, on the
/// blocking thread pool.
macro_rules! run {
    ($db:expr, |$conn:ident| $body:expr) => {
        match blocking!($db, |$conn| -> Result<_, ToolError> { $body }) {
            Ok(Ok(result)) => result,
            Ok(Err(_)) => Err(ToolError::internal("the database is busy; try again")),
            Err(_) => Err(ToolError::internal("the query failed unexpectedly")),
        }
    };
}

fn db_error(e: diesel::result::Error) -> ToolError {
    tracing::error!(error = %e, "database error");
    ToolError::internal("the database could not run the query")
}

/// A post the caller may read (published, or their own), if it exists.
macro_rules! readable {
    ($conn:expr, $id:expr, $me:expr) => {{
        let (id, me): (i32, Option<i32>) = ($id, $me);
        posts::table
            .filter(posts::id.eq(id))
            .filter(posts::published.eq(true).or(posts::author_id.nullable().eq(me)))
            .select(Post::as_select())
            .first::<Post>($conn)
            .optional()
            .map_err(db_error)?
            .ok_or_else(|| ToolError::not_found(format!("no post with id {id}")))
    }};
}

#[mcp_toolset]
impl BlogTools {
    /// Publish one of your drafts: it becomes visible to everyone. The post and an audit
    /// entry are written in one transaction. Publishing a post that is published already
    /// changes nothing (not even `published_at`) and says so (`already_published`).
    #[mcp_tool(idempotent, title = "Publish a post", scopes = "posts:write")]
    async fn publish_post(
        &self,
        ctx: &Context,
        #[mcp(desc = "The draft's id")] id: i32,
    ) -> Result<Published, ToolError> {
        let me = author_id(ctx)?;
        let actor = user_name(ctx);
        run!(self.db, |conn| {
            conn.transaction(|conn| {
                let now = Utc::now().naive_utc();
                let mine = posts::table.filter(posts::id.eq(id)).filter(posts::author_id.eq(me));
                // Only a draft changes: a second call finds nothing to do.
                let changed = diesel::update(mine.filter(posts::published.eq(false)))
                    .set((posts::published.eq(true), posts::published_at.eq(now)))
                    .execute(conn)?;
                if changed == 1 {
                    diesel::insert_into(audit_log::table)
                        .values((
                            audit_log::actor.eq(&actor),
                            audit_log::action.eq("publish_post"),
                            audit_log::detail.eq(format!("post {id}")),
                        ))
                        .execute(conn)?;
                }
                let post = mine.select(Post::as_select()).first(conn).optional()?;
                Ok(post.map(|post| Published { post, already_published: changed == 0 }))
            })
            .map_err(db_error)?
            .ok_or_else(|| ToolError::not_found(format!("no post of yours with id {id}")))
        })
    }

    /// Published posts and their views per author, most read first.
    #[mcp_tool(read_only, title = "Posts per author")]
    async fn posts_per_author(
        &self,
        #[mcp(desc = "How many authors (default 10)", range(min = 1, max = 100))] top: Option<u32>,
    ) -> Result<Vec<AuthorStats>, ToolError> {
        let top = top.unwrap_or(10) as usize;
        run!(self.db, |conn| {
            // SQLite's SUM of a BIGINT is typed NUMERIC; add the views up here instead.
            let rows: Vec<(String, i64)> = posts::table
                .inner_join(authors::table)
                .filter(posts::published.eq(true))
                .select((authors::name, posts::views))
                .load(conn)
                .map_err(db_error)?;
            let mut stats: Vec<AuthorStats> = Vec::new();
            for (author, views) in rows {
                match stats.iter_mut().find(|s| s.author == author) {
                    Some(s) => {
                        s.posts += 1;
                        s.views += views;
                    }
                    None => stats.push(AuthorStats { author, posts: 1, views }),
                }
            }
            stats.sort_by(|a, b| b.views.cmp(&a.views).then_with(|| a.author.cmp(&b.author)));
            stats.truncate(top);
            Ok(stats)
        })
    }

    /// The comments on a post you can read, oldest first.
    #[mcp_tool(read_only, title = "Comments on a post")]
    async fn post_comments(
        &self,
        ctx: &Context,
        #[mcp(desc = "The post's id")] post_id: i32,
        #[mcp(desc = "At most this many (default 20)", range(min = 1, max = 100))] limit: Option<u32>,
    ) -> Result<Vec<Comment>, ToolError> {
        let me = author_id(ctx).ok();
        let limit = i64::from(limit.unwrap_or(20));
        run!(self.db, |conn| {
            readable!(conn, post_id, me)?;
            comments::table
                .filter(comments::post_id.eq(post_id))
                .order((comments::created_at, comments::id))
                .limit(limit)
                .select(Comment::as_select())
                .load(conn)
                .map_err(db_error)
        })
    }

    /// Who wrote a post you can read. Returns the `Author` model: its `#[mcp(skip)]` email
    /// stays out of the result and of the output schema, as in the generated tools.
    #[mcp_tool(read_only, title = "Author of a post")]
    async fn post_author(
        &self,
        ctx: &Context,
        #[mcp(desc = "The post's id")] post_id: i32,
    ) -> Result<Author, ToolError> {
        let me = author_id(ctx).ok();
        run!(self.db, |conn| {
            let post = readable!(conn, post_id, me)?;
            authors::table.find(post.author_id).select(Author::as_select()).first(conn).map_err(db_error)
        })
    }

    /// Everyone who writes on the blog, by name.
    #[mcp_tool(read_only, title = "Authors")]
    async fn blog_authors(&self) -> Result<Vec<Author>, ToolError> {
        run!(self.db, |conn| authors::table
            .order(authors::name)
            .select(Author::as_select())
            .load(conn)
            .map_err(db_error))
    }

    /// Count the words of every post you can read. Slow on purpose: it reports progress.
    #[mcp_tool(read_only, title = "Word count")]
    async fn word_count(&self, ctx: &Context, progress: Progress) -> Result<WordCount, ToolError> {
        let me = author_id(ctx).ok();
        let ids: Vec<i32> = run!(self.db, |conn| {
            posts::table
                .filter(posts::published.eq(true).or(posts::author_id.nullable().eq(me)))
                .order(posts::id)
                .select(posts::id)
                .load(conn)
                .map_err(db_error)
        })?;
        let total = ids.len();
        let mut words = 0;
        for (n, chunk) in ids.chunks(200).enumerate() {
            let chunk = chunk.to_vec();
            let bodies: Vec<String> = run!(self.db, |conn| {
                posts::table.filter(posts::id.eq_any(chunk)).select(posts::body).load(conn).map_err(db_error)
            })?;
            words += bodies.iter().map(|b| b.split_whitespace().count()).sum::<usize>();
            let done = ((n + 1) * 200).min(total);
            progress.report(done as f64, Some(total as f64), format!("{done} of {total} posts")).await;
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        Ok(WordCount { posts: total, words })
    }

    /// A post as JSON, if you can read it.
    #[mcp_resource(uri_template = "blog://posts/{id}", mime_type = "application/json")]
    async fn post(&self, ctx: &Context, id: i32) -> Result<String, ToolError> {
        let me = author_id(ctx).ok();
        let post: Post = run!(self.db, |conn| readable!(conn, id, me))?;
        serde_json::to_string(&post).map_err(|e| ToolError::internal(e.to_string()))
    }

    /// Ask for an editor's review of a post before it is published.
    #[mcp_prompt(title = "Review a post")]
    async fn review_post(&self, ctx: &Context, #[mcp(desc = "The post's id")] id: i32) -> Result<String, ToolError> {
        let me = author_id(ctx).ok();
        let post: Post = run!(self.db, |conn| readable!(conn, id, me))?;
        Ok(format!(
            "You are an editor. Review this blog post: point out unclear sentences, missing context and a better \
             title if there is one.\n\n# {}\n\n{}",
            post.title, post.body
        ))
    }
}
