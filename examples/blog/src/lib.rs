//! # blog
//!
//! The demo application: a blog on embedded SQLite (or PostgreSQL) with an ordinary JSON
//! API of its own, and MCP at `/mcp` for agents. Its Diesel models become tools through
//! `#[mcp_toolset]` (authors read-only; posts with every write, each user seeing published
//! posts and their own drafts and changing only their own), beside hand-written tools
//! (an action in one transaction with an audit row, a report, a slow tool with progress),
//! a resource template and a prompt. The JSON API's own handlers (`src/api.rs`, with their
//! bearer-token check and validation) are tools too, through `mcp_axum::RouteTools`.
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
//! // An SQLite file, or a `postgres://` URL with the `postgres` feature.
//! let db = blog::open_database("blog.db")?;
//! let users = blog::demo_users(&db)?;
//! let auth = blog::BlogAuth::tokens(&users);
//! let app = blog::app(blog::mcp_server(db.clone(), &auth)?, db, auth, |mcp| mcp);
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8000").await?;
//! mcp_axum::serve(listener, app).await?;
//! # Ok(())
//! # }
//! ```
//!
//! ## Feature flags
//!
//! | feature | what it adds |
//! |---|---|
//! | `postgres` | `--database-url postgres://...`: the same app on PostgreSQL (needs libpq) |

/// Evaluate `$body` with `$conn` bound to a pooled connection of `$db`'s backend: the body
/// is compiled once per backend, so hand-written Diesel code serves both. `Err` when the
/// pool has no connection to give.
macro_rules! with_conn {
    ($db:expr, |$conn:ident| $body:expr) => {
        with_conn!($db, |$conn| -> _ { $body })
    };
    ($db:expr, |$conn:ident| -> $ret:ty $body:block) => {
        match $db {
            $crate::Database::Sqlite(pool) => pool.get().map(|mut pooled| -> $ret {
                let $conn: &mut ::diesel::SqliteConnection = &mut pooled;
                $body
            }),
            #[cfg(feature = "postgres")]
            $crate::Database::Postgres(pool) => pool.get().map(|mut pooled| -> $ret {
                let $conn: &mut ::diesel::PgConnection = &mut pooled;
                $body
            }),
        }
    };
}

/// [`with_conn!`] on the blocking thread pool: `Err` if the task failed, else its result.
macro_rules! blocking {
    ($db:expr, |$conn:ident| -> $ret:ty $body:block) => {{
        let db: $crate::Database = ::core::clone::Clone::clone(&$db);
        ::tokio::task::spawn_blocking(move || with_conn!(&db, |$conn| -> $ret $body)).await
    }};
}

mod api;
pub mod models;
pub mod schema;
pub mod seed;
pub mod tools;

use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use diesel::prelude::*;
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};
use mcp_axum::auth::{Auth, BearerTokens, JwtAuthenticator};
use mcp_core::{BuildError, Principal, Server, ServerBuilder, server_info};
use mcp_diesel::{ModelQuery, ModelTools, QueryTool, SqlitePool, WriteAction};
use serde_json::json;

use crate::models::{Author, Comment, Post, PostTag, Tag};
use crate::schema::{authors, identities};

/// The SQLite migrations in `examples/blog/migrations/sqlite`, compiled into the binary.
pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");

/// The PostgreSQL migrations in `examples/blog/migrations/postgres` (the same tables and
/// columns), compiled into the binary.
#[cfg(feature = "postgres")]
pub const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");

/// The blog's database: a pool of SQLite connections, or of PostgreSQL connections with the
/// `postgres` feature. Cloning is cheap (the pool is shared).
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum Database {
    /// An SQLite file.
    Sqlite(SqlitePool),
    /// A PostgreSQL database.
    #[cfg(feature = "postgres")]
    Postgres(mcp_diesel::PgPool),
}

/// Connections per pool.
const POOL_SIZE: u32 = 8;

/// Whether `url` names a PostgreSQL database rather than an SQLite file.
pub fn is_postgres_url(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

/// Open the database at `url`, run pending migrations and write the demo data on first
/// start. `url` is an SQLite file path (created if missing; a `sqlite://` prefix is
/// allowed) or, with the `postgres` feature, a `postgres://` URL (the database is created if
/// the server does not have it yet).
pub fn open_database(url: &str) -> Result<Database, Box<dyn std::error::Error + Send + Sync>> {
    if is_postgres_url(url) {
        return open_postgres(url);
    }
    if let Some((scheme, _)) = url.split_once("://").filter(|(s, _)| *s != "sqlite") {
        return Err(format!(
            "`{scheme}://` databases are not supported: give an SQLite file path or a postgres:// URL"
        )
        .into());
    }
    let path = url.strip_prefix("sqlite://").unwrap_or(url);
    if path.is_empty() {
        return Err("the database path is empty".into());
    }
    let pool = mcp_diesel::sqlite_pool(path, POOL_SIZE)?;
    let mut conn = pool.get()?;
    conn.run_pending_migrations(MIGRATIONS)?;
    // The authorization server's tables, beside the blog's own (see [`auth_store`]).
    conn.run_pending_migrations(mcp_auth_diesel::SQLITE_MIGRATIONS)?;
    drop(conn);
    let db = Database::Sqlite(pool);
    seed::seed_if_empty(&db)?;
    Ok(db)
}

#[cfg(feature = "postgres")]
fn open_postgres(url: &str) -> Result<Database, Box<dyn std::error::Error + Send + Sync>> {
    use diesel::connection::SimpleConnection;
    // Fail fast with the driver's own message (bad host, password) rather than after the
    // pool's connection timeout; a database that does not exist yet is created.
    let mut conn = match PgConnection::establish(url) {
        Err(diesel::ConnectionError::BadConnection(e)) if e.contains("does not exist") && e.contains("database") => {
            create_postgres_database(url)?;
            PgConnection::establish(url)?
        }
        other => other?,
    };
    conn.run_pending_migrations(POSTGRES_MIGRATIONS)?;
    conn.run_pending_migrations(mcp_auth_diesel::POSTGRES_MIGRATIONS)?;
    let db = Database::Postgres(mcp_diesel::postgres_pool(url, POOL_SIZE)?);
    if seed::seed_if_empty(&db)? {
        // The demo data is written with explicit ids: move each id sequence past them.
        conn.batch_execute(
            "SELECT setval(pg_get_serial_sequence('authors', 'id'), COALESCE(MAX(id), 0) + 1, false) FROM authors; \
         SELECT setval(pg_get_serial_sequence('posts', 'id'), COALESCE(MAX(id), 0) + 1, false) FROM posts; \
         SELECT setval(pg_get_serial_sequence('comments', 'id'), COALESCE(MAX(id), 0) + 1, false) FROM comments; \
         SELECT setval(pg_get_serial_sequence('tags', 'id'), COALESCE(MAX(id), 0) + 1, false) FROM tags; \
         SELECT setval(pg_get_serial_sequence('post_tags', 'id'), COALESCE(MAX(id), 0) + 1, false) FROM post_tags;",
        )?;
    }
    Ok(db)
}

/// Create the database `url` names, through the server's `postgres` database.
#[cfg(feature = "postgres")]
fn create_postgres_database(url: &str) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    use diesel::connection::SimpleConnection;
    let (base, query) = url.split_once('?').map_or((url, None), |(b, q)| (b, Some(q)));
    let (server, name) = base
        .rsplit_once('/')
        .filter(|(server, name)| server.contains("://") && !server.ends_with('/') && !name.is_empty())
        .ok_or("the PostgreSQL URL names no database")?;
    let maintenance = match query {
        Some(q) => format!("{server}/postgres?{q}"),
        None => format!("{server}/postgres"),
    };
    let mut admin = PgConnection::establish(&maintenance)?;
    admin.batch_execute(&format!("CREATE DATABASE \"{}\"", name.replace('"', "\"\"")))?;
    Ok(())
}

#[cfg(not(feature = "postgres"))]
fn open_postgres(_url: &str) -> Result<Database, Box<dyn std::error::Error + Send + Sync>> {
    Err("this blog was built without PostgreSQL support: build it with `--features postgres` \
         (cargo run -p blog --features postgres -- --database-url postgres://...)"
        .into())
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
pub fn demo_users(db: &Database) -> Result<Vec<User>, Box<dyn std::error::Error + Send + Sync>> {
    users(db, &[("alice".into(), random_token()), ("bob".into(), random_token())])
}

/// Users from `NAME:TOKEN` pairs; authors that do not exist yet are created.
pub fn users(db: &Database, pairs: &[(String, String)]) -> Result<Vec<User>, Box<dyn std::error::Error + Send + Sync>> {
    pairs
        .iter()
        .map(|(name, token)| Ok(User { name: name.clone(), token: token.clone(), author_id: author_named(db, name)? }))
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
pub fn author_named(db: &Database, name: &str) -> Result<i32, Box<dyn std::error::Error + Send + Sync>> {
    let id = with_conn!(db, |conn| {
        let existing: Option<i32> =
            authors::table.filter(authors::name.eq(name)).select(authors::id).first(conn).optional()?;
        match existing {
            Some(id) => Ok(id),
            None => diesel::insert_into(authors::table)
                .values((authors::name.eq(name), authors::email.eq(format!("{name}@example.com"))))
                .returning(authors::id)
                .get_result(conn),
        }
    })?;
    Ok(id?)
}

/// The author of a verified OAuth principal, as its `author_id` claim: looked up by the
/// token's `iss` and `sub` on the blocking pool (a busy pool never holds up the async
/// workers), created on first sight.
async fn identify(db: Database, mut p: Principal) -> Result<Principal, String> {
    let issuer = p.claims.get("iss").and_then(|v| v.as_str()).unwrap_or_default().to_owned();
    let subject = p.subject.clone();
    if issuer.is_empty() || subject.is_empty() {
        return Err("the access token names no issuer or subject".into());
    }
    let name = p.claims.get("preferred_username").and_then(|v| v.as_str()).unwrap_or(&subject).to_owned();
    let found = tokio::task::spawn_blocking(move || author_of_identity(&db, &issuer, &subject, &name)).await;
    let id = match found {
        Ok(Ok(id)) => id,
        Ok(Err(e)) => {
            tracing::error!(error = %e, "could not look up the author of an access token");
            return Err("the server could not look up your account; try again".into());
        }
        Err(e) => {
            tracing::error!(error = %e, "the author lookup failed");
            return Err("the server could not look up your account; try again".into());
        }
    };
    p.claims.insert("author_id".into(), json!(id));
    Ok(p)
}

/// The author of the identity `issuer` + `subject`, created (with the identity) on first
/// sight under the first free name of `name`, `name-2`, `name-3`...
pub fn author_of_identity(
    db: &Database,
    issuer: &str,
    subject: &str,
    name: &str,
) -> Result<i32, Box<dyn std::error::Error + Send + Sync>> {
    let name = if name.trim().is_empty() { "author" } else { name.trim() };
    let once = || {
        with_conn!(db, |conn| -> QueryResult<i32> {
            conn.transaction(|conn| {
                // Write first, so this transaction takes the write lock at its start and
                // waits for another writer (SQLite cannot upgrade a reading transaction
                // while another one writes: it fails at once instead).
                diesel::update(identities::table.filter(identities::id.eq(-1)))
                    .set(identities::subject.eq(""))
                    .execute(conn)?;
                let known: Option<i32> = identities::table
                    .filter(identities::issuer.eq(issuer))
                    .filter(identities::subject.eq(subject))
                    .select(identities::author_id)
                    .first(conn)
                    .optional()?;
                if let Some(id) = known {
                    return Ok(id);
                }
                let mut display = name.to_owned();
                for n in 2.. {
                    let taken: i64 = authors::table.filter(authors::name.eq(&display)).count().get_result(conn)?;
                    if taken == 0 {
                        break;
                    }
                    display = format!("{name}-{n}");
                }
                let id: i32 = diesel::insert_into(authors::table)
                    .values((authors::name.eq(&display), authors::email.eq("")))
                    .returning(authors::id)
                    .get_result(conn)?;
                diesel::insert_into(identities::table)
                    .values((
                        identities::issuer.eq(issuer),
                        identities::subject.eq(subject),
                        identities::author_id.eq(id),
                    ))
                    .execute(conn)?;
                Ok(id)
            })
        })
    };
    let known = with_conn!(db, |conn| -> QueryResult<Option<i32>> {
        identities::table
            .filter(identities::issuer.eq(issuer))
            .filter(identities::subject.eq(subject))
            .select(identities::author_id)
            .first(conn)
            .optional()
    })??;
    if let Some(id) = known {
        return Ok(id);
    }
    // Two first requests at once (of one identity, or wanting one name): one insert wins,
    // the other (a unique violation) finds the row or the next free name on a new try.
    let mut attempt = 0;
    loop {
        attempt += 1;
        match once()? {
            Ok(id) => return Ok(id),
            Err(e) if attempt >= 3 => return Err(e.into()),
            Err(_) => {}
        }
    }
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
    /// metadata and JWKS) issued for `resource` (this server's MCP URL).
    ///
    /// A token stands for its `iss` and `sub` (stable and unique per issuer), never for a
    /// name it claims: each identity writes as an author of its own, made on first sight
    /// and named after `preferred_username` when that name is free (else with a number:
    /// `alice-2`). Such an author is listed to others only once they have published a
    /// post (see [`mcp_server`]), so a token arriving makes nothing public.
    pub async fn oauth(
        db: Database,
        issuer: &str,
        resource: &str,
    ) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        let jwt = JwtAuthenticator::discover(issuer, resource)
            .await?
            .map_principal(move |p| identify(db.clone(), p))
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
pub fn mcp_server(db: Database, auth: &BlogAuth) -> Result<Server, BuildError> {
    let builder = Server::builder().info(server_info!()).title("Demo blog").instructions(
        "A blog. Find posts with `posts_list` (filters, search, sorting), read one with `posts_get`, \
             write drafts with `posts_create`/`posts_patch`, publish with `publish_post`. Authors are in \
             `authors_list`, comments in `comments_list`; `include: [\"author\", \"comments\"]` attaches \
             them to posts. `posts_per_author` reports who is read most.",
    );
    // The model tools run on the backend's own connection type.
    let builder = match &db {
        Database::Sqlite(pool) => model_tools(builder, pool.clone()),
        #[cfg(feature = "postgres")]
        Database::Postgres(pool) => model_tools(builder, pool.clone()),
    };
    builder
        .toolset(tools::BlogTools::new(db.clone()))
        .toolset(api::tools(AppState { db, auth: auth.auth.clone() }))
        .build()
}

/// The model tools of authors, posts and comments over `pool`, with their scopes and
/// relations, and one `query` tool over them.
fn model_tools<C>(builder: ServerBuilder, pool: diesel::r2d2::Pool<diesel::r2d2::ConnectionManager<C>>) -> ServerBuilder
where
    C: diesel::r2d2::R2D2Connection + 'static,
    Author: ModelQuery<C>,
    Post: ModelQuery<C>,
    Comment: ModelQuery<C>,
    Tag: ModelQuery<C>,
    PostTag: ModelQuery<C>,
{
    // A post's author, reached through the post, is visible with the post (a published
    // post's author has published; a draft's is the caller).
    let post_authors = ModelTools::<Author, _>::new(pool.clone());
    let posts = ModelTools::<Post, _>::new(pool.clone())
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
    let comments = ModelTools::<Comment, _>::new(pool.clone()).scope(|_| Ok(json!({ "post": {} }))).related(&posts);
    // Tags are public; which post has which tag is visible with the post, like comments.
    let tags = ModelTools::<Tag, _>::new(pool.clone());
    let post_tags =
        ModelTools::<PostTag, _>::new(pool).scope(|_| Ok(json!({ "post": {} }))).related(&posts).related(&tags);
    let tags = tags.related(&post_tags);
    let posts = posts.related(&post_authors).related(&comments).related(&post_tags);
    // Authors are listed once they have published a post (a token arriving in OAuth mode
    // makes an author, which stays private until then); everyone also sees themselves.
    let authors = post_authors
        .scope(|ctx| {
            Ok(match tools::author_id(ctx) {
                Ok(me) => json!({ "$or": [{ "posts": { "published": true } }, { "id": me }] }),
                Err(_) => json!({ "posts": { "published": true } }),
            })
        })
        .related(&posts);
    builder
        .toolset(authors.clone())
        .toolset(posts.clone())
        .toolset(comments.clone())
        .toolset(tags.clone())
        .toolset(post_tags.clone())
        // One `query` tool with pipelines over the models, with the same scopes.
        .toolset(
            QueryTool::new()
                .collection(authors)
                .collection(posts)
                .collection(comments)
                .collection(tags)
                .collection(post_tags),
        )
}

#[derive(Clone)]
struct AppState {
    db: Database,
    auth: Auth,
}

/// The whole app with bearer tokens for `users`: the JSON API, `/health`, and MCP at
/// `/mcp`.
pub fn router(server: Server, db: Database, users: Vec<User>) -> Router {
    app(server, db, BlogAuth::tokens(&users), |r| r)
}

/// [`router`] with the MCP endpoint configured by `configure` (public URL, Origin policy).
pub fn mcp_router(
    server: Server,
    db: Database,
    users: Vec<User>,
    configure: impl FnOnce(mcp_axum::McpRouter) -> mcp_axum::McpRouter,
) -> Router {
    app(server, db, BlogAuth::tokens(&users), configure)
}

/// The whole app with any [`BlogAuth`]: MCP at `/mcp` (with its protected-resource
/// metadata under `/.well-known/`), the JSON API and `/health`.
pub fn app(
    server: Server,
    db: Database,
    auth: BlogAuth,
    configure: impl FnOnce(mcp_axum::McpRouter) -> mcp_axum::McpRouter,
) -> Router {
    let state = AppState { db, auth: auth.auth.clone() };
    let mcp = configure(mcp_axum::McpRouter::new(server).path("/mcp").auth(auth.auth)).into_router();
    Router::new().route("/health", get(health)).merge(api::routes()).with_state(state).merge(mcp)
}

/// How long `/health` waits for the database.
const HEALTH_TIMEOUT: Duration = Duration::from_secs(2);

/// `200 ok` when the database answers `SELECT 1` within [`HEALTH_TIMEOUT`], else `503`.
/// The check runs on the blocking pool.
async fn health(State(state): State<AppState>) -> (StatusCode, &'static str) {
    let db = state.db.clone();
    let check = tokio::task::spawn_blocking(move || ping(&db, HEALTH_TIMEOUT));
    match tokio::time::timeout(HEALTH_TIMEOUT + Duration::from_millis(500), check).await {
        Ok(Ok(Ok(()))) => (StatusCode::OK, "ok"),
        Ok(Ok(Err(e))) => {
            tracing::warn!(error = %e, "health check: the database does not answer");
            (StatusCode::SERVICE_UNAVAILABLE, "the database is unavailable")
        }
        Ok(Err(_)) | Err(_) => {
            tracing::warn!("health check: the database did not answer in time");
            (StatusCode::SERVICE_UNAVAILABLE, "the database is unavailable")
        }
    }
}

/// `SELECT 1` on a connection of the pool, waiting at most `timeout` for one.
fn ping(db: &Database, timeout: Duration) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    match db {
        Database::Sqlite(pool) => {
            diesel::sql_query("SELECT 1").execute(&mut *pool.get_timeout(timeout)?)?;
        }
        #[cfg(feature = "postgres")]
        Database::Postgres(pool) => {
            diesel::sql_query("SELECT 1").execute(&mut *pool.get_timeout(timeout)?)?;
        }
    }
    Ok(())
}

/// The built-in authorization server's sign-in: each user's password is their token
/// (`--user NAME:SECRET`), so the demo needs no users table of its own.
#[derive(Clone, Debug)]
pub struct BlogSignIn {
    users: Vec<User>,
}

impl BlogSignIn {
    /// Users who can sign in, with their tokens as passwords.
    pub fn new(users: &[User]) -> Self {
        BlogSignIn { users: users.to_vec() }
    }
}

/// Equal strings, compared without an early exit.
fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl mcp_axum::auth::server::SignIn for BlogSignIn {
    fn sign_in<'a>(
        &'a self,
        username: &'a str,
        password: &'a str,
    ) -> mcp_core::server::BoxFuture<'a, Result<Option<Principal>, String>> {
        let found = self.users.iter().find(|u| u.name == username && same_secret(&u.token, password));
        Box::pin(std::future::ready(Ok(found.map(principal))))
    }
}

/// The built-in OAuth 2.1 authorization server of the blog, at `issuer` (its public
/// origin): Claude, ChatGPT and other MCP clients register, the user signs in with their
/// name and token, approves, and the client gets JWT access tokens for `/mcp`. Its state
/// (clients, consents, signing keys, codes, refresh tokens) is kept in the blog's own
/// database ([`auth_store`]), so it survives a restart and replicas share it.
pub fn auth_server(
    users: &[User],
    issuer: &str,
    db: &Database,
) -> Result<mcp_axum::auth::server::AuthServer, mcp_axum::auth::SetupError> {
    auth_server_builder(users, issuer, db).build()
}

/// [`auth_server`] before `build()`, for settings of your own (token lifetimes, a clock).
pub fn auth_server_builder(users: &[User], issuer: &str, db: &Database) -> mcp_axum::auth::server::AuthServerBuilder {
    mcp_axum::auth::server::AuthServer::builder()
        .issuer(issuer)
        .name("Demo blog")
        .sign_in(BlogSignIn::new(users))
        .scopes([(READ, "Read posts, drafts included"), (WRITE, "Write, change and publish your posts")])
        .store(auth_store(db))
}

/// The authorization server's store on the blog's database: the `mcp_oauth_` tables, which
/// [`open_database`] creates with the blog's own migrations
/// (`mcp_auth_diesel::SQLITE_MIGRATIONS` / `POSTGRES_MIGRATIONS`).
pub fn auth_store(db: &Database) -> mcp_auth_diesel::DieselAuthStore {
    match db {
        Database::Sqlite(pool) => mcp_auth_diesel::DieselAuthStore::sqlite(pool.clone()),
        #[cfg(feature = "postgres")]
        Database::Postgres(pool) => mcp_auth_diesel::DieselAuthStore::postgres(pool.clone()),
    }
}
