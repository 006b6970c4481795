//! # mcp-diesel
//!
//! Diesel models as MCP tools. Put `#[mcp_toolset]` on a Diesel model (with `Queryable`,
//! `Selectable`, `Serialize` and `JsonSchema`) and serve its tools with [`ModelTools`]:
//! `<name>_list` (filter, search, sort, keyset or offset pages within a byte budget),
//! `<name>_get` and `<name>_count`, and with `actions(...)` `<name>_create`,
//! `<name>_update`, `<name>_patch`, `<name>_delete` and `<name>_aggregate` — every query
//! and write limited by a server-side scope ([`ModelTools::scope`],
//! [`ModelTools::write_scope`]), server-set fields filled by [`ModelTools::before_write`].
//!
//! ```
//! use diesel::prelude::*;
//! use mcp_core::{Server, ToolError, mcp_toolset, schemars::JsonSchema, server_info};
//! use mcp_diesel::ModelTools;
//! use serde::Serialize;
//! use serde_json::json;
//!
//! diesel::table! {
//!     posts (id) {
//!         id -> Integer,
//!         title -> Text,
//!         body -> Nullable<Text>,
//!         author_id -> Integer,
//!     }
//! }
//!
//! /// Blog posts.
//! #[mcp_toolset(search(title, body), max_limit = 50)]
//! #[derive(Queryable, Selectable, Serialize, JsonSchema)]
//! #[diesel(table_name = posts)]
//! #[schemars(crate = "mcp_core::schemars")]
//! pub struct Post {
//!     pub id: i32,
//!     pub title: String,
//!     pub body: Option<String>,
//!     #[mcp(skip)] // never shown to agents; the scope below still uses it
//!     pub author_id: i32,
//! }
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let pool = mcp_diesel::sqlite_pool(":memory:", 1)?;
//! let posts = ModelTools::<Post, _>::new(pool)
//!     // Every query of every tool sees only the caller's rows.
//!     .scope(|ctx| {
//!         let user = ctx.principal().ok_or_else(|| ToolError::forbidden("sign in first"))?;
//!         Ok(json!({ "author_id": user.subject.parse::<i32>().unwrap_or(-1) }))
//!     });
//! let server = Server::builder().info(server_info!()).toolset(posts).build()?;
//! let names: Vec<&str> = server.tools().iter().map(|t| t.name.as_str()).collect();
//! assert_eq!(names, ["posts_list", "posts_get", "posts_count"]);
//! # Ok(())
//! # }
//! ```
//!
//! The attributes are listed in the documentation of [`mcp_core::mcp_toolset`].
//!
//! - [`filter`]: the filter language agents use — Django-style keys
//!   (`title__icontains`) and Mongo-style operators (`$gt`, `$in`, `$and`, `$or`, `$nor`,
//!   `$not`) — checked against the model's fields and capped before any SQL exists. Values
//!   are always bind parameters; no SQL is built from strings.
//! - Diesel code is generated per backend, concrete: rustc checks every column/operator
//!   pairing. Text compares byte-exactly on every backend (`BINARY` on MySQL), so `eq`,
//!   `contains` and `$regex` (PostgreSQL and MySQL only) are case-sensitive everywhere and
//!   `icontains` is not. `icontains` and `search` compare `lower()`ed text, which folds
//!   every letter, not ASCII only: PostgreSQL's with a UTF-8 database, MariaDB/MySQL's,
//!   and on SQLite the Unicode-aware `lower()` that [`sqlite_pool`] registers on each
//!   connection ([`register_sqlite_functions`]; SQLite's own folds ASCII only).
//! - Text that can never match or be stored — a NUL character in a filter value, `search`,
//!   a written field or a key — is refused before any SQL, naming the field; a `$regex`
//!   pattern the database rejects is an error saying to fix the pattern.
//! - Writes run in a transaction that re-reads the row through the scope and rolls back
//!   if it would leave it; constraint violations come back in words naming the field.
//! - A write is never reported as failed while it can still commit. The wait for a
//!   connection ([`ModelTools::pool_timeout`]) is timed apart from the statement: past it
//!   nothing was sent and the tool says the server is busy. The statement timeout
//!   ([`ModelTools::statement_timeout`]) of a write is enforced by the database —
//!   PostgreSQL `statement_timeout` and `lock_timeout`, MySQL/MariaDB
//!   `innodb_lock_wait_timeout`, `lock_wait_timeout` and (MariaDB) `max_statement_time`,
//!   SQLite `busy_timeout` — which rolls it back; the tool waits for that decision and
//!   says "rolled back, nothing was written". Only when `COMMIT` itself fails without an
//!   answer (the connection broke) does it say the write may have been applied, to check
//!   before retrying. Reads are abandoned past the statement timeout. Failures name their
//!   cause: a lock wait, a timeout, a conflict with another transaction, a lost
//!   connection, a busy pool.
//! - [`aggregate`]: count, sum, avg, min, max, per value of a `group_by` field.
//!
//! - [`QueryTool`]: one `query` tool taking pipelines over several models.
//!
//! - Relations (`relations(author = belongs_to(Author, author_id), comments =
//!   has_many(Comment, comments::post_id))`): filters through them (`author.name__icontains`),
//!   `include` of related rows without N+1 queries and `$lookup` in [`QueryTool`], all
//!   within the related model's scope once [`ModelTools::related`] names its tools.
//!
//! ### Relations
//!
//! ```
//! use diesel::prelude::*;
//! use mcp_core::{Server, mcp_toolset, schemars::JsonSchema, server_info};
//! use mcp_core::testing::TestClient;
//! use mcp_diesel::ModelTools;
//! use serde::Serialize;
//! use serde_json::json;
//!
//! diesel::table! {
//!     authors (id) { id -> Integer, name -> Text, active -> Bool, }
//! }
//! diesel::table! {
//!     posts (id) { id -> Integer, title -> Text, author_id -> Integer, }
//! }
//!
//! /// People who write posts.
//! #[mcp_toolset]
//! #[derive(Queryable, Selectable, Serialize, JsonSchema)]
//! #[diesel(table_name = authors)]
//! #[schemars(crate = "mcp_core::schemars")]
//! pub struct Author {
//!     pub id: i32,
//!     pub name: String,
//!     #[mcp(skip)]
//!     pub active: bool,
//! }
//!
//! /// Blog posts.
//! #[mcp_toolset(relations(author = belongs_to(Author, author_id)))]
//! #[derive(Queryable, Selectable, Serialize, JsonSchema)]
//! #[diesel(table_name = posts)]
//! #[schemars(crate = "mcp_core::schemars")]
//! pub struct Post {
//!     pub id: i32,
//!     pub title: String,
//!     pub author_id: i32,
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let pool = mcp_diesel::sqlite_pool(":memory:", 1)?;
//! # diesel::connection::SimpleConnection::batch_execute(&mut *pool.get()?,
//! #     "CREATE TABLE authors (id INTEGER PRIMARY KEY, name TEXT NOT NULL, active BOOLEAN NOT NULL);
//! #      CREATE TABLE posts (id INTEGER PRIMARY KEY, title TEXT NOT NULL, author_id INTEGER NOT NULL);
//! #      INSERT INTO authors VALUES (1, 'Ada', TRUE), (2, 'Bob', FALSE);
//! #      INSERT INTO posts VALUES (1, 'Hello', 1), (2, 'Bye', 2);")?;
//! // Only active authors exist for agents, through relations too.
//! let authors = ModelTools::<Author, _>::new(pool.clone()).scope(|_| Ok(json!({ "active": true })));
//! let posts = ModelTools::<Post, _>::new(pool).related(&authors);
//! let server = Server::builder().info(server_info!()).toolset(posts).toolset(authors).build()?;
//!
//! let agent = TestClient::modern(server);
//! let found = agent
//!     .call_tool("posts_list", json!({ "filter": { "author.name__icontains": "a" }, "include": ["author"] }))
//!     .await?
//!     .structured_value()
//!     .unwrap_or_default();
//! assert_eq!(found["items"], json!([{ "id": 1, "title": "Hello", "author_id": 1, "author": { "id": 1, "name": "Ada" } }]));
//! let bye = agent.call_tool("posts_get", json!({ "id": 2, "include": ["author"] })).await?;
//! assert_eq!(bye.structured_value().unwrap_or_default()["author"], json!(null), "Bob is out of scope");
//! # Ok(())
//! # }
//! ```
//!
#![cfg_attr(feature = "sqlite", doc = include_str!("docs/rules.md"))]
//!
#![cfg_attr(all(feature = "diesel-async", feature = "postgres"), doc = include_str!("docs/async.md"))]
//!
//! ## Feature flags
//!
//! | feature | default | what it enables |
//! |---------|---------|-----------------|
//! | `sqlite` | yes | SQLite with the library bundled; [`sqlite_pool`] |
//! | `postgres` | no | PostgreSQL through libpq; [`postgres_pool`] |
//! | `mysql` | no | MySQL and MariaDB through libmysqlclient/libmariadb; [`mysql_pool`] |
//! | `diesel-async` | no | the `Async` executor: diesel-async on deadpool, for `postgres` and `mysql` (`async_postgres_pool`, `async_mysql_pool`) |
//! | `chrono` | no | chrono date/time columns (Diesel's and schemars' support) |
//! | `uuid` | no | `uuid::Uuid` columns (Diesel's and schemars' support) |
pub mod aggregate;
mod errors;
pub mod exec;
pub mod filter;
mod model;
mod query;
mod row_json;
mod template;
mod tools;

#[cfg(all(feature = "diesel-async", feature = "mysql"))]
pub use crate::exec::async_mysql_pool;
#[cfg(all(feature = "diesel-async", feature = "postgres"))]
pub use crate::exec::async_postgres_pool;
#[cfg(feature = "diesel-async")]
pub use crate::exec::{Async, AsyncModelQuery, AsyncPool};
pub use crate::exec::{Executor, ModelExec, ModelPool};
pub use crate::model::{
    Actions, ListQuery, ModelFilter, ModelInfo, ModelQuery, QueryError, Relation, ValidationErrors, decode,
    decode_list, decode_write, like_pattern,
};
pub use crate::query::{Collection, QueryTool};
pub use crate::tools::{Action, ModelHooks, ModelTools, WriteAction};

/// A pool of SQLite connections.
#[cfg(feature = "sqlite")]
pub type SqlitePool = diesel::r2d2::Pool<diesel::r2d2::ConnectionManager<diesel::SqliteConnection>>;

/// What [`sqlite_pool_with`] does with the database file's journal mode.
#[cfg(feature = "sqlite")]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum JournalMode {
    /// Switch the file to WAL once, when the pool opens its first connection (the
    /// default): readers then never wait for a writer. WAL is a property of the file: it
    /// stays after the app stops, with `-wal` and `-shm` files beside the database.
    #[default]
    Wal,
    /// Leave the file's journal mode as it is (rollback journal unless someone changed it).
    Keep,
}

#[cfg(feature = "sqlite")]
#[derive(Debug)]
struct SqlitePragmas {
    journal: JournalMode,
    /// Set once the file was switched to WAL: later connections leave it alone.
    switched: std::sync::atomic::AtomicBool,
}

#[cfg(feature = "sqlite")]
impl diesel::r2d2::CustomizeConnection<diesel::SqliteConnection, diesel::r2d2::Error> for SqlitePragmas {
    fn on_acquire(&self, conn: &mut diesel::SqliteConnection) -> Result<(), diesel::r2d2::Error> {
        use std::sync::atomic::Ordering;

        use diesel::connection::SimpleConnection;
        // A busy timeout instead of "database is locked" (first: switching a new file to
        // WAL takes a lock that the pool's other new connections would otherwise fail on),
        // foreign keys enforced, and case-sensitive LIKE so `contains` means the same on
        // every backend (`icontains` compares lower-cased text).
        conn.batch_execute("PRAGMA busy_timeout = 5000; PRAGMA foreign_keys = ON; PRAGMA case_sensitive_like = ON;")
            .map_err(diesel::r2d2::Error::QueryError)?;
        if self.journal == JournalMode::Wal && !self.switched.load(Ordering::Acquire) {
            conn.batch_execute("PRAGMA journal_mode = WAL;").map_err(diesel::r2d2::Error::QueryError)?;
            self.switched.store(true, Ordering::Release);
        }
        register_sqlite_functions(conn).map_err(diesel::r2d2::Error::QueryError)
    }
}

/// Make SQLite's `lower()` fold every letter, not ASCII only, on `conn`: `icontains` and
/// `search` then ignore case in any script, as on PostgreSQL and MariaDB (`ÉCOLE` finds
/// `école`). [`sqlite_pool`] does it on every connection; call it on the connections of a
/// pool you build yourself. Lower-casing follows Rust's [`str::to_lowercase`] (Unicode's
/// default case mapping, no locale).
#[cfg(feature = "sqlite")]
pub fn register_sqlite_functions(conn: &mut diesel::SqliteConnection) -> diesel::QueryResult<()> {
    sqlite_functions::lower_utils::register_impl(conn, |text: Option<String>| text.map(|t| t.to_lowercase()))
}

/// SQLite's `lower()` as registered (nullable: `lower(NULL)` is `NULL`).
#[cfg(feature = "sqlite")]
mod sqlite_functions {
    diesel::define_sql_function! {
        /// SQL `lower()`, Unicode-aware.
        fn lower(x: diesel::sql_types::Nullable<diesel::sql_types::Text>) -> diesel::sql_types::Nullable<diesel::sql_types::Text>;
    }
}

/// A pool of SQLite connections to the database file at `path`, each with
/// `busy_timeout`, foreign keys and case-sensitive `LIKE` set; the file is switched to WAL
/// once, when the first connection opens (a lasting change of the file: see
/// [`JournalMode`]; [`sqlite_pool_with`] leaves the file's mode alone with
/// [`JournalMode::Keep`]).
///
/// SQLite has no statement timeout of its own, and Diesel exposes neither its progress
/// handler nor `sqlite3_interrupt` (reaching them would take `unsafe`, which this crate
/// forbids). So the limit of a read is kept by the tools instead: a [`ModelTools`] tool
/// waits at most [`STATEMENT_TIMEOUT`] (or its [`ModelTools::statement_timeout`]) and then
/// answers with an error saying the query took too long. The statement itself runs on to
/// its end on its blocking thread, and its connection — with its place in the tools'
/// concurrency limit — goes back to the pool only then, so slow statements cannot pile up
/// beyond the pool size. A write is not abandoned: its wait for another writer's lock is
/// bounded by `busy_timeout` (set to the statement timeout before each write), after which
/// SQLite refuses it and it is rolled back; the tool answers once SQLite has decided.
///
/// Each connection also gets a Unicode-aware `lower()` ([`register_sqlite_functions`]).
#[cfg(feature = "sqlite")]
pub fn sqlite_pool(path: &str, size: u32) -> Result<SqlitePool, diesel::r2d2::PoolError> {
    sqlite_pool_with(path, size, JournalMode::Wal)
}

/// [`sqlite_pool`] with the choice of what happens to the file's journal mode.
///
/// ```no_run
/// # #[cfg(feature = "sqlite")] {
/// // Leave a file shared with other tools in the journal mode it has.
/// let pool = mcp_diesel::sqlite_pool_with("app.db", 8, mcp_diesel::JournalMode::Keep).unwrap();
/// # }
/// ```
#[cfg(feature = "sqlite")]
pub fn sqlite_pool_with(path: &str, size: u32, journal: JournalMode) -> Result<SqlitePool, diesel::r2d2::PoolError> {
    diesel::r2d2::Pool::builder()
        .max_size(size.max(1))
        .connection_customizer(Box::new(SqlitePragmas { journal, switched: Default::default() }))
        .build(diesel::r2d2::ConnectionManager::new(path))
}

/// Longest a statement may run on pools made by [`postgres_pool`] and [`mysql_pool`] (the
/// server cancels it), and the default of [`ModelTools::statement_timeout`]: how long a
/// read is waited for, and the limit the database enforces on a write.
pub const STATEMENT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// How long [`ModelTools`] wait for a free connection by default
/// ([`ModelTools::pool_timeout`]), timed apart from the statement: past it nothing was sent
/// to the database, and the tool says so.
pub const POOL_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// A pool of PostgreSQL connections.
#[cfg(feature = "postgres")]
pub type PgPool = diesel::r2d2::Pool<diesel::r2d2::ConnectionManager<diesel::PgConnection>>;

#[cfg(feature = "postgres")]
#[derive(Debug, Clone, Copy)]
struct PgSettings;

#[cfg(feature = "postgres")]
impl diesel::r2d2::CustomizeConnection<diesel::PgConnection, diesel::r2d2::Error> for PgSettings {
    fn on_acquire(&self, conn: &mut diesel::PgConnection) -> Result<(), diesel::r2d2::Error> {
        use diesel::connection::SimpleConnection;
        conn.batch_execute(&format!("SET statement_timeout = {}", STATEMENT_TIMEOUT.as_millis()))
            .map_err(diesel::r2d2::Error::QueryError)
    }
}

/// A pool of PostgreSQL connections to `url`, each with a [`STATEMENT_TIMEOUT`].
#[cfg(feature = "postgres")]
pub fn postgres_pool(url: &str, size: u32) -> Result<PgPool, diesel::r2d2::PoolError> {
    diesel::r2d2::Pool::builder()
        .max_size(size.max(1))
        .connection_customizer(Box::new(PgSettings))
        .build(diesel::r2d2::ConnectionManager::new(url))
}

/// A pool of MySQL or MariaDB connections.
#[cfg(feature = "mysql")]
pub type MysqlPool = diesel::r2d2::Pool<diesel::r2d2::ConnectionManager<diesel::MysqlConnection>>;

#[cfg(feature = "mysql")]
#[derive(Debug, Clone, Copy)]
struct MysqlSettings;

#[cfg(feature = "mysql")]
impl diesel::r2d2::CustomizeConnection<diesel::MysqlConnection, diesel::r2d2::Error> for MysqlSettings {
    fn on_acquire(&self, conn: &mut diesel::MysqlConnection) -> Result<(), diesel::r2d2::Error> {
        use diesel::connection::SimpleConnection;
        // MariaDB calls it `max_statement_time` (seconds), MySQL `max_execution_time`
        // (milliseconds, SELECT only).
        let secs = STATEMENT_TIMEOUT.as_secs();
        conn.batch_execute(&format!("SET SESSION max_statement_time = {secs}"))
            .or_else(|_| conn.batch_execute(&format!("SET SESSION max_execution_time = {}", secs * 1000)))
            .map_err(diesel::r2d2::Error::QueryError)
    }
}

/// A pool of MySQL or MariaDB connections to `url`, each with a [`STATEMENT_TIMEOUT`].
#[cfg(feature = "mysql")]
pub fn mysql_pool(url: &str, size: u32) -> Result<MysqlPool, diesel::r2d2::PoolError> {
    diesel::r2d2::Pool::builder()
        .max_size(size.max(1))
        .connection_customizer(Box::new(MysqlSettings))
        .build(diesel::r2d2::ConnectionManager::new(url))
}

/// Support for code generated by `#[mcp_toolset]`. Not public API.
#[doc(hidden)]
pub mod __private {
    pub use diesel;
    #[cfg(feature = "diesel-async")]
    pub use diesel_async;
    pub use mcp_core::__private::hidden_from_agents;
    pub use serde_json;

    use serde_json::{Map, Value};

    use crate::filter::{FilterError, Op};

    diesel::define_sql_function! {
        /// SQL `lower()`.
        fn lower(x: diesel::sql_types::Text) -> diesel::sql_types::Text;
    }

    #[cfg(feature = "postgres")]
    diesel::infix_operator!(PgRegex, " ~ ", backend: diesel::pg::Pg);

    /// `left ~ right` (PostgreSQL).
    #[cfg(feature = "postgres")]
    pub fn pg_regex<L, R>(left: L, right: R) -> PgRegex<L, R> {
        PgRegex::new(left, right)
    }

    #[cfg(feature = "mysql")]
    diesel::infix_operator!(MysqlRegexp, " REGEXP ", backend: diesel::mysql::Mysql);

    /// `left REGEXP right` (MySQL).
    #[cfg(feature = "mysql")]
    pub fn mysql_regexp<L, R>(left: L, right: R) -> MysqlRegexp<L, R> {
        MysqlRegexp::new(left, right)
    }

    #[cfg(feature = "mysql")]
    diesel::define_sql_function! {
        /// MySQL `LAST_INSERT_ID()`.
        fn last_insert_id() -> diesel::sql_types::Unsigned<diesel::sql_types::BigInt>;
    }

    #[cfg(feature = "mysql")]
    diesel::define_sql_function! {
        /// MySQL `BINARY(x)`: compare text as bytes (case-sensitive, whatever the collation).
        /// Typed as text so that it compares with text values.
        fn binary(x: diesel::sql_types::Text) -> diesel::sql_types::Text;
    }

    /// Most related rows one `has_many` include loads for one page.
    pub const MAX_INCLUDED: i64 = 1000;

    /// Two values of the same type: rustc points at the second when they differ (a
    /// relation's key and the related model's primary key).
    pub fn same_type<T>(_: ::core::marker::PhantomData<T>, _: ::core::marker::PhantomData<T>) {}

    /// A related row as agents see it.
    pub fn related_json<M: crate::ModelInfo>(row: &M) -> Result<Value, FilterError> {
        row.to_agent_json()
            .map(Value::Object)
            .map_err(|e| FilterError(format!("a related {} row could not be shown: {e}", M::NAME)))
    }

    /// An operator the column's kind does not support (the parser refuses these first).
    pub fn unsupported(op: Op) -> FilterError {
        FilterError(format!("operator `{}` does not apply to this field", op.name()))
    }

    /// Decode a primary key value.
    pub fn decode_key<T: serde::de::DeserializeOwned>(v: &Value) -> Result<T, FilterError> {
        if let Value::String(text) = v {
            crate::filter::refuse_nul(text, "the key")?;
        }
        T::deserialize(v)
            .map_err(|e| FilterError(format!("invalid key {v}: {}", mcp_core::__private::clean_serde_error(&e))))
    }

    /// A key as JSON.
    pub fn key_json<T: serde::Serialize>(key: &T) -> Result<Value, FilterError> {
        serde_json::to_value(key).map_err(|e| FilterError(format!("the key cannot be shown: {e}")))
    }

    /// The row schema of `T` without its hidden fields.
    pub fn row_schema<T: schemars::JsonSchema>(hidden: &[&str]) -> Map<String, Value> {
        let mut s = mcp_core::__private::output_schema::<T>();
        if let Some(Value::Object(props)) = s.get_mut("properties") {
            for h in hidden {
                props.remove(*h);
            }
        }
        if let Some(Value::Array(req)) = s.get_mut("required") {
            req.retain(|r| !hidden.iter().any(|h| r.as_str() == Some(h)));
        }
        s
    }
}
