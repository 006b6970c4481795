//! # blog
//!
//! The demo application: a blog on embedded SQLite with an ordinary JSON API of its own,
//! and MCP at `/mcp` for agents. Its Diesel models become tools through
//! `#[mcp_toolset]` (authors read-only; posts with every write, each user seeing published
//! posts and their own drafts and changing only their own), beside hand-written tools
//! (an action in one transaction with an audit row, a report, a slow tool with progress),
//! a resource template and a prompt.
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
//! let pool = blog::open_database("blog.db")?;
//! let users = blog::demo_users(&pool)?;
//! let app = blog::router(blog::mcp_server(pool.clone())?, pool, users);
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8000").await?;
//! mcp_axum::serve(listener, app).await?;
//! # Ok(())
//! # }
//! ```

pub mod models;
pub mod schema;
pub mod seed;
pub mod tools;

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Path, Query, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use diesel::prelude::*;
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};
use mcp_core::{BuildError, Principal, Server, ToolError, server_info};
use mcp_diesel::{ModelTools, QueryTool, SqlitePool, WriteAction};
use serde::Deserialize;
use serde_json::json;

use crate::models::{Author, Post};
use crate::schema::{authors, posts};

/// The migrations in `examples/blog/migrations`, compiled into the binary.
pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations");

/// Open (or create) the SQLite database at `path`, run pending migrations and write the
/// demo data on first start.
pub fn open_database(path: &str) -> Result<SqlitePool, Box<dyn std::error::Error + Send + Sync>> {
    let pool = mcp_diesel::sqlite_pool(path, 8)?;
    let mut conn = pool.get()?;
    conn.run_pending_migrations(MIGRATIONS)?;
    seed::seed_if_empty(&mut conn)?;
    Ok(pool)
}

/// A user of the API: a bearer token and the author it acts as.
#[derive(Clone, Debug)]
pub struct User {
    /// The author's name.
    pub name: String,
    /// The bearer token.
    pub token: String,
    /// The author's id.
    pub author_id: i32,
}

/// A fresh random token.
pub fn random_token() -> String {
    let mut bytes = [0u8; 18];
    getrandom::fill(&mut bytes).expect("the system's random source failed");
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `alice` and `bob` with fresh random tokens.
pub fn demo_users(pool: &SqlitePool) -> Result<Vec<User>, Box<dyn std::error::Error + Send + Sync>> {
    users(pool, &[("alice".into(), random_token()), ("bob".into(), random_token())])
}

/// Users from `NAME:TOKEN` pairs; authors that do not exist yet are created.
pub fn users(
    pool: &SqlitePool,
    pairs: &[(String, String)],
) -> Result<Vec<User>, Box<dyn std::error::Error + Send + Sync>> {
    let mut conn = pool.get()?;
    let mut out = Vec::new();
    for (name, token) in pairs {
        let existing: Option<i32> =
            authors::table.filter(authors::name.eq(name)).select(authors::id).first(&mut conn).optional()?;
        let author_id = match existing {
            Some(id) => id,
            None => diesel::insert_into(authors::table)
                .values((authors::name.eq(name), authors::email.eq(format!("{name}@example.com"))))
                .returning(authors::id)
                .get_result(&mut conn)?,
        };
        out.push(User { name: name.clone(), token: token.clone(), author_id });
    }
    Ok(out)
}

/// The principal of a user, with their author id as a claim.
pub fn principal(user: &User) -> Principal {
    let mut p = Principal::new(user.name.clone());
    p.claims.insert("author_id".into(), json!(user.author_id));
    p
}

/// The MCP server: the model tools and the blog's own tools.
pub fn mcp_server(pool: SqlitePool) -> Result<Server, BuildError> {
    let authors = ModelTools::<Author, SqliteConnection>::new(pool.clone());
    let posts = ModelTools::<Post, SqliteConnection>::new(pool.clone())
        .scope(|ctx| {
            // Everyone reads published posts; signed-in authors also their drafts.
            Ok(match tools::author_id(ctx) {
                Ok(me) => json!({ "$or": [{ "published": true }, { "author_id": me }] }),
                Err(_) => json!({ "published": true }),
            })
        })
        .write_scope(|ctx| Ok(json!({ "author_id": tools::author_id(ctx)? })))
        .before_write(|ctx, action, values| {
            if action == WriteAction::Create {
                values.insert("author_id".into(), json!(tools::author_id(ctx)?));
            }
            Ok(())
        });
    // Read-only comments, visible when their post is (the posts' scope, through the
    // relation): comments on drafts stay with their author.
    let comments = ModelTools::<crate::models::Comment, SqliteConnection>::new(pool.clone())
        .scope(|_| Ok(json!({ "post": {} })))
        .related(&posts);
    let posts = posts.related(&authors).related(&comments);
    Server::builder()
        .info(server_info!())
        .title("Demo blog")
        .instructions(
            "A blog. Find posts with `posts_list` (filters, search, sorting), read one with `posts_get`, \
             write drafts with `posts_create`/`posts_patch`, publish with `publish_post`. Authors are in \
             `authors_list`, comments in `comments_list`; `include: [\"author\", \"comments\"]` attaches \
             them to posts. `posts_per_author` reports who is read most.",
        )
        .toolset(authors.clone())
        .toolset(posts.clone())
        .toolset(comments.clone())
        // One `query` tool with pipelines over the models, with the same scopes.
        .toolset(QueryTool::new().collection(authors).collection(posts).collection(comments))
        .toolset(tools::BlogTools::new(pool))
        .build()
}

#[derive(Clone)]
struct AppState {
    pool: SqlitePool,
    tokens: Arc<HashMap<String, User>>,
}

/// The whole app: the JSON API, `/health`, and MCP at `/mcp` behind bearer tokens.
pub fn router(server: Server, pool: SqlitePool, users: Vec<User>) -> Router {
    mcp_router(server, pool, users, |r| r)
}

/// [`router`] with the MCP endpoint configured by `configure` (public URL, Origin policy).
pub fn mcp_router(
    server: Server,
    pool: SqlitePool,
    users: Vec<User>,
    configure: impl FnOnce(mcp_axum::McpRouter) -> mcp_axum::McpRouter,
) -> Router {
    let state = AppState { pool, tokens: Arc::new(users.into_iter().map(|u| (u.token.clone(), u)).collect()) };
    let mcp = configure(mcp_axum::McpRouter::new(server).path("/mcp"))
        .into_router()
        .layer(axum::middleware::from_fn_with_state(state.clone(), authenticate));
    Router::new()
        .route("/health", get(|| async { "ok" }))
        .route("/api/posts", get(list_posts))
        .route("/api/posts/{id}", get(get_post))
        .with_state(state)
        .merge(mcp)
}

/// Bearer tokens: a known token becomes the request's [`Principal`]; anything else is 401.
async fn authenticate(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let token = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    match token.and_then(|t| state.tokens.get(t)) {
        Some(user) => {
            request.extensions_mut().insert(principal(user));
            next.run(request).await
        }
        None => {
            let message = if token.is_some() { "unknown token" } else { "send `Authorization: Bearer <token>`" };
            (
                StatusCode::UNAUTHORIZED,
                [(header::WWW_AUTHENTICATE, "Bearer realm=\"blog\"")],
                Json(json!({ "error": message })),
            )
                .into_response()
        }
    }
}

#[derive(Deserialize)]
struct Page {
    limit: Option<i64>,
    offset: Option<i64>,
}

/// `GET /api/posts`: published posts, newest first (the app's own REST API).
async fn list_posts(State(state): State<AppState>, Query(page): Query<Page>) -> Response {
    let limit = page.limit.unwrap_or(20).clamp(1, 100);
    let offset = page.offset.unwrap_or(0).max(0);
    db(state.pool, move |conn| {
        posts::table
            .filter(posts::published.eq(true))
            .order((posts::published_at.desc(), posts::id.desc()))
            .limit(limit)
            .offset(offset)
            .select(Post::as_select())
            .load(conn)
    })
    .await
}

/// `GET /api/posts/{id}`: one published post.
async fn get_post(State(state): State<AppState>, Path(id): Path<i32>) -> Response {
    db(state.pool, move |conn| {
        posts::table.find(id).filter(posts::published.eq(true)).select(Post::as_select()).first(conn)
    })
    .await
}

async fn db<T: serde::Serialize + Send + 'static>(
    pool: SqlitePool,
    f: impl FnOnce(&mut SqliteConnection) -> QueryResult<T> + Send + 'static,
) -> Response {
    let result = tokio::task::spawn_blocking(move || {
        let mut conn = pool.get().map_err(|_| ToolError::internal("busy"))?;
        f(&mut conn).map_err(|e| match e {
            diesel::result::Error::NotFound => ToolError::not_found("no such post"),
            other => {
                eprintln!("blog: database error: {other}");
                ToolError::internal("database error")
            }
        })
    })
    .await;
    match result {
        Ok(Ok(v)) => Json(v).into_response(),
        Ok(Err(e)) if e.kind() == mcp_core::ToolErrorKind::NotFound => {
            (StatusCode::NOT_FOUND, Json(json!({ "error": "no such post" }))).into_response()
        }
        _ => (StatusCode::INTERNAL_SERVER_ERROR, Json(json!({ "error": "database error" }))).into_response(),
    }
}
