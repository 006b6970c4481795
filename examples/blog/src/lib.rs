//! # blog
//!
//! The demo application: a blog on embedded SQLite with an ordinary JSON API of its own,
//! and MCP at `/mcp` for agents. Its Diesel models become tools through
//! `#[mcp_toolset]` (authors read-only; posts with every write, each user seeing published
//! posts and their own drafts and changing only their own), beside hand-written tools
//! (an action in one transaction with an audit row, a report, a slow tool with progress),
//! a resource template and a prompt. The JSON API's own handlers (`src/api.rs`, with their
//! bearer-token check and validation) are tools too, through `mcp_axum::RouteTools`.
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
//! let pool = blog::open_database("blog.db")?;
//! let users = blog::demo_users(&pool)?;
//! let auth = blog::BlogAuth::tokens(&users);
//! let app = blog::app(blog::mcp_server(pool.clone(), &auth)?, pool, auth, |mcp| mcp);
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8000").await?;
//! mcp_axum::serve(listener, app).await?;
//! # Ok(())
//! # }
//! ```

mod api;
pub mod models;
pub mod schema;
pub mod seed;
pub mod tools;

use axum::Router;
use axum::routing::get;
use diesel::prelude::*;
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};
use mcp_axum::auth::{Auth, BearerTokens, JwtAuthenticator};
use mcp_core::{BuildError, Principal, Server, server_info};
use mcp_diesel::{ModelTools, QueryTool, SqlitePool, WriteAction};
use serde_json::json;

use crate::models::{Author, Post};
use crate::schema::authors;

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
    pairs
        .iter()
        .map(|(name, token)| {
            Ok(User { name: name.clone(), token: token.clone(), author_id: author_named(pool, name)? })
        })
        .collect()
}

/// The scope that reads posts.
pub const READ: &str = "posts:read";
/// The scope that writes and publishes posts.
pub const WRITE: &str = "posts:write";

/// The principal of a user, with their author id as a claim and both scopes.
pub fn principal(user: &User) -> Principal {
    let mut p = Principal::new(user.name.clone()).with_scopes([READ, WRITE]);
    p.claims.insert("author_id".into(), json!(user.author_id));
    p
}

/// The id of the author called `name`, created on first sight.
pub fn author_named(pool: &SqlitePool, name: &str) -> Result<i32, Box<dyn std::error::Error + Send + Sync>> {
    let mut conn = pool.get()?;
    let existing: Option<i32> =
        authors::table.filter(authors::name.eq(name)).select(authors::id).first(&mut conn).optional()?;
    Ok(match existing {
        Some(id) => id,
        None => diesel::insert_into(authors::table)
            .values((authors::name.eq(name), authors::email.eq(format!("{name}@example.com"))))
            .returning(authors::id)
            .get_result(&mut conn)?,
    })
}

/// How requests are authenticated: the same [`Auth`] guards MCP and the REST writes.
#[derive(Clone, Debug)]
pub struct BlogAuth {
    auth: Auth,
    mode: String,
}

impl BlogAuth {
    /// Static bearer tokens of `users` (the demo mode).
    pub fn tokens(users: &[User]) -> Self {
        let tokens = users.iter().fold(BearerTokens::new(), |t, u| t.token(&u.token, principal(u)));
        let names: Vec<&str> = users.iter().map(|u| u.name.as_str()).collect();
        BlogAuth {
            auth: Auth::new().authenticator(tokens).resource_name("Demo blog").scopes_supported([READ, WRITE]),
            mode: format!("bearer tokens of {}", names.join(", ")),
        }
    }

    /// OAuth: JWT access tokens of the authorization server `issuer` (found through its
    /// metadata and JWKS) issued for `resource` (this server's MCP URL). The token's
    /// `preferred_username` (else `sub`) names the author, created on first sight.
    pub async fn oauth(
        pool: SqlitePool,
        issuer: &str,
        resource: &str,
    ) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        let jwt = JwtAuthenticator::discover(issuer, resource)
            .await?
            .map_principal(move |mut p| {
                let name = p.claims.get("preferred_username").and_then(|v| v.as_str()).unwrap_or(&p.subject).to_owned();
                let id = author_named(&pool, &name).map_err(|e| format!("no author for `{name}`: {e}"))?;
                p.claims.insert("author_id".into(), json!(id));
                Ok(p)
            })
            .build()?;
        Ok(BlogAuth {
            auth: Auth::new()
                .authenticator(jwt)
                .resource(resource)
                .authorization_server(issuer)
                .resource_name("Demo blog")
                .scopes_supported([READ, WRITE]),
            mode: format!("OAuth: JWT access tokens of {issuer} for {resource}"),
        })
    }

    /// One line saying which mode this is.
    pub fn describe(&self) -> &str {
        &self.mode
    }
}

/// The MCP server: the model tools, the blog's own tools, and its JSON API's handlers as
/// tools (called with the agent's token, checked by `auth` like any REST request).
pub fn mcp_server(pool: SqlitePool, auth: &BlogAuth) -> Result<Server, BuildError> {
    let authors = ModelTools::<Author, SqliteConnection>::new(pool.clone());
    let posts = ModelTools::<Post, SqliteConnection>::new(pool.clone())
        // Reading needs no scope beyond signing in; every write needs `posts:write`.
        .write_scopes([WRITE])
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
        .toolset(tools::BlogTools::new(pool.clone()))
        .toolset(api::tools(AppState { pool, auth: auth.auth.clone() }))
        .build()
}

#[derive(Clone)]
struct AppState {
    pool: SqlitePool,
    auth: Auth,
}

/// The whole app with bearer tokens for `users`: the JSON API, `/health`, and MCP at
/// `/mcp`.
pub fn router(server: Server, pool: SqlitePool, users: Vec<User>) -> Router {
    app(server, pool, BlogAuth::tokens(&users), |r| r)
}

/// [`router`] with the MCP endpoint configured by `configure` (public URL, Origin policy).
pub fn mcp_router(
    server: Server,
    pool: SqlitePool,
    users: Vec<User>,
    configure: impl FnOnce(mcp_axum::McpRouter) -> mcp_axum::McpRouter,
) -> Router {
    app(server, pool, BlogAuth::tokens(&users), configure)
}

/// The whole app with any [`BlogAuth`]: MCP at `/mcp` (with its protected-resource
/// metadata under `/.well-known/`), the JSON API and `/health`.
pub fn app(
    server: Server,
    pool: SqlitePool,
    auth: BlogAuth,
    configure: impl FnOnce(mcp_axum::McpRouter) -> mcp_axum::McpRouter,
) -> Router {
    let state = AppState { pool, auth: auth.auth.clone() };
    let mcp = configure(mcp_axum::McpRouter::new(server).path("/mcp").auth(auth.auth)).into_router();
    Router::new().route("/health", get(|| async { "ok" })).merge(api::routes()).with_state(state).merge(mcp)
}
