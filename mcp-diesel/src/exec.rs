//! How [`crate::ModelTools`] reaches the database: an [`Executor`] (the second type
//! parameter of `ModelTools`) and the model's queries run through it ([`ModelExec`]).
//!
//! - a Diesel connection type (`SqliteConnection`, `PgConnection`, `MysqlConnection`):
//!   sync Diesel on an r2d2 pool, each query on the blocking thread pool, at most as many
//!   at once as the pool has connections;
//! - [`Async<C>`] (feature `diesel-async`, `C` = `diesel_async::AsyncPgConnection` or
//!   `diesel_async::AsyncMysqlConnection`): diesel-async on a deadpool pool, no blocking
//!   threads.

use std::sync::Arc;
use std::time::Duration;

use diesel::r2d2::{ConnectionManager, Pool, R2D2Connection};
use mcp_core::ToolError;
use mcp_core::server::BoxFuture;
use serde_json::{Map, Value};
use tokio::sync::Semaphore;

use crate::aggregate::AggQuery;
use crate::filter::Filter;
use crate::model::{ListQuery, ModelInfo, ModelQuery, QueryError};

/// Where a model's queries run: the second type parameter of [`crate::ModelTools`].
pub trait Executor: Sized + 'static {
    /// The pool `ModelTools::new` takes.
    type Pool: Clone + Send + Sync + 'static;
    /// Most connections the pool holds.
    fn pool_size(pool: &Self::Pool) -> usize;
}

impl<C: R2D2Connection + 'static> Executor for C {
    type Pool = Pool<ConnectionManager<C>>;

    fn pool_size(pool: &Self::Pool) -> usize {
        pool.max_size() as usize
    }
}

/// A pool [`crate::ModelTools::new`] takes. It names its [`Executor`], so the pool's
/// type alone decides where the queries run: `ModelTools::<Post, _>::new(pool)` needs no
/// connection type, whichever backends are compiled in.
pub trait ModelPool: Clone + Send + Sync + 'static {
    /// Where this pool's queries run.
    type Executor: Executor;
    /// This pool, as its executor names it (the same value).
    fn into_executor_pool(self) -> <Self::Executor as Executor>::Pool;
}

impl<C: R2D2Connection + 'static> ModelPool for Pool<ConnectionManager<C>> {
    type Executor = C;
    fn into_executor_pool(self) -> Self {
        self
    }
}

/// A pool and the permits bounding how many queries run at once. Not public API.
#[doc(hidden)]
pub struct Db<E: Executor> {
    pub(crate) pool: E::Pool,
    pub(crate) permits: Arc<Semaphore>,
    /// The statement timeout of [`crate::ModelTools::statement_timeout`]: how long a read
    /// is waited for, and the limit the database enforces on a write.
    pub(crate) wait: Duration,
    /// How long a tool waits for a connection (see [`crate::ModelTools::pool_timeout`]),
    /// timed apart from the statement.
    pub(crate) pool_wait: Duration,
}

impl<E: Executor> Db<E> {
    pub(crate) fn new(pool: E::Pool) -> Self {
        let size = E::pool_size(&pool).max(1);
        Db {
            pool,
            permits: Arc::new(Semaphore::new(size)),
            wait: crate::STATEMENT_TIMEOUT,
            pool_wait: crate::POOL_TIMEOUT,
        }
    }
}

impl<E: Executor> Clone for Db<E> {
    fn clone(&self) -> Self {
        Db { pool: self.pool.clone(), permits: self.permits.clone(), wait: self.wait, pool_wait: self.pool_wait }
    }
}

/// A page of rows, the total when asked for, and the included relations (name, value per row).
pub type Page<M> = (Vec<M>, Option<i64>, Vec<(&'static str, Vec<Value>)>);
/// A row and its included relations.
pub type Found<M> = Option<(M, Vec<(&'static str, Value)>)>;
/// Each metric's `(group key, value)` rows, by metric name.
pub type Aggregates = Vec<(String, Vec<(Value, Value)>)>;

/// The queries of a model through executor `E`: implemented for every model with
/// `#[mcp_toolset]` and every executor its backends and the enabled features allow.
#[diagnostic::on_unimplemented(
    message = "`{Self}` has no queries for `{E}`",
    label = "no `#[mcp_toolset]` queries for this connection type",
    note = "the model needs `#[mcp_toolset]` and mcp-diesel the feature of this backend (`sqlite`, `postgres`, `mysql`; `diesel-async` for `Async<...>`)"
)]
pub trait ModelExec<E: Executor>: ModelInfo {
    /// Whether this backend has regular expressions (`$regex`).
    const REGEX: bool;
    /// A page (`limit + 1` rows), with the count of `total` (the agent's filter) and the includes.
    #[doc(hidden)]
    fn exec_page(
        db: &Db<E>,
        query: ListQuery,
        scope: Filter,
        total: Option<Filter>,
        includes: Vec<(usize, Filter)>,
    ) -> BoxFuture<'_, Result<Page<Self>, ToolError>>;
    /// One row by key, with its includes.
    #[doc(hidden)]
    fn exec_get(
        db: &Db<E>,
        key: Value,
        scope: Filter,
        includes: Vec<(usize, Filter)>,
    ) -> BoxFuture<'_, Result<Found<Self>, ToolError>>;
    /// The number of rows.
    #[doc(hidden)]
    fn exec_count(db: &Db<E>, filter: Filter, scope: Filter) -> BoxFuture<'_, Result<i64, ToolError>>;
    /// Insert a row.
    #[doc(hidden)]
    fn exec_create(db: &Db<E>, values: Map<String, Value>, scope: Filter) -> BoxFuture<'_, Result<Self, ToolError>>;
    /// Change a row.
    #[doc(hidden)]
    fn exec_update(
        db: &Db<E>,
        key: Value,
        values: Map<String, Value>,
        scope: Filter,
    ) -> BoxFuture<'_, Result<Option<Self>, ToolError>>;
    /// Delete a row.
    #[doc(hidden)]
    fn exec_delete(db: &Db<E>, key: Value, scope: Filter) -> BoxFuture<'_, Result<bool, ToolError>>;
    /// Several metrics.
    #[doc(hidden)]
    fn exec_aggregate(
        db: &Db<E>,
        queries: Vec<(String, AggQuery)>,
        scope: Filter,
    ) -> BoxFuture<'_, Result<Aggregates, ToolError>>;
}

/// Run `f` on a pooled connection on the blocking thread pool.
///
/// The wait for a connection is timed apart from the statement: past
/// [`Db::pool_wait`] nothing was sent and the tool says so. A read is then waited for
/// at most [`Db::wait`] and abandoned past it. A write is never abandoned: it runs in a
/// transaction whose time limit the database enforces ([`Flavor`]), and the tool answers
/// once the database has committed it or rolled it back.
async fn run_sync<M: ModelInfo, C: R2D2Connection + 'static, R: Send + 'static>(
    db: &Db<C>,
    access: Access,
    f: impl FnOnce(&mut C) -> Result<R, QueryError> + Send + 'static,
) -> Result<R, ToolError> {
    let asked = std::time::Instant::now();
    let permit = match tokio::time::timeout(db.pool_wait, db.permits.clone().acquire_owned()).await {
        Ok(Ok(permit)) => permit,
        Ok(Err(_)) => return Err(ToolError::internal("the database pool is closed; nothing was done")),
        Err(_) => return Err(Failed::Pool("every connection stayed in use".into()).tool_error::<M, C>(access, db)),
    };
    let pool = db.pool.clone();
    // What is left of the pool wait, spent on the blocking thread (r2d2 blocks).
    let left = db.pool_wait.saturating_sub(asked.elapsed()).max(Duration::from_millis(1));
    let limit = db.wait;
    let (connected, on_connection) = tokio::sync::oneshot::channel::<()>();
    let work = tokio::task::spawn_blocking(move || {
        // Held until the statement ends, even when the caller stopped waiting.
        let _permit = permit;
        let mut conn = pool.get_timeout(left).map_err(|e| Failed::Pool(e.to_string()))?;
        let _ = connected.send(());
        match access {
            Access::Read => f(&mut conn).map_err(Failed::Statement),
            Access::Write => write_sync(&mut *conn, limit, f),
        }
    });
    let joined = match access {
        // The database decides a write's outcome; the tool waits for it.
        Access::Write => work.await,
        Access::Read => {
            // The statement's time starts once it has a connection (an error: none came).
            let _ = on_connection.await;
            tokio::time::timeout(db.wait, work).await.map_err(|_| {
                ToolError::internal(format!(
                    "the query took longer than the {} ms statement timeout and was abandoned; narrow the filter or ask for fewer rows",
                    db.wait.as_millis()
                ))
            })?
        }
    };
    match joined {
        Ok(Ok(r)) => Ok(r),
        Ok(Err(failed)) => Err(failed.tool_error::<M, C>(access, db)),
        // A panic: the connection is dropped as broken, so an open transaction never commits.
        Err(_) => Err(ToolError::internal(match access {
            Access::Read => "internal error: the query failed unexpectedly",
            Access::Write => "internal error: the write failed unexpectedly and was not committed; nothing was written",
        })),
    }
}

/// `f` in a transaction of its own with the database's time limits set, committed here so
/// that a failed commit is told apart from a failed statement.
fn write_sync<C: diesel::Connection + 'static, R>(
    conn: &mut C,
    limit: Duration,
    f: impl FnOnce(&mut C) -> Result<R, QueryError>,
) -> Result<R, Failed> {
    use diesel::connection::TransactionManager;
    let flavor = Flavor::of::<C>();
    let settings = flavor.session_limits(limit);
    for (i, sql) in settings.iter().enumerate() {
        // MySQL has no `max_statement_time`: its second form goes without.
        match conn.batch_execute(sql) {
            Ok(()) => break,
            Err(e) if i + 1 == settings.len() => return Err(Failed::Statement(e.into())),
            Err(_) => {}
        }
    }
    C::TransactionManager::begin_transaction(conn).map_err(|e| Failed::Statement(e.into()))?;
    let done = match flavor.transaction_limits(limit) {
        Some(sql) => conn.batch_execute(&sql).map_err(QueryError::from),
        None => Ok(()),
    }
    .and_then(|()| f(conn));
    let outcome = match done {
        Ok(v) => C::TransactionManager::commit_transaction(conn).map(|()| v).map_err(Failed::Commit),
        Err(e) => {
            // If the rollback fails too, the connection is broken and the server rolls back.
            let _ = C::TransactionManager::rollback_transaction(conn);
            Err(Failed::Statement(e))
        }
    };
    if let Some(sql) = flavor.session_reset(limit) {
        let _ = conn.batch_execute(&sql);
    }
    outcome
}

/// Whether a tool reads or writes: decides how long it waits and what a failure means.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Access {
    /// May be abandoned; nothing changes.
    Read,
    /// Waited for until the database has decided.
    Write,
}

/// The database behind a connection type, for the settings that bound a write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
// Without a backend's feature its variant is never made.
#[cfg_attr(not(all(feature = "postgres", feature = "mysql", feature = "sqlite")), allow(dead_code))]
pub(crate) enum Flavor {
    Postgres,
    Mysql,
    Sqlite,
    /// A connection type of the application's own: no limits are set.
    Other,
}

impl Flavor {
    /// The flavor of the sync connection type `C`.
    fn of<C: 'static>() -> Flavor {
        use std::any::TypeId;
        let t = TypeId::of::<C>();
        #[cfg(feature = "postgres")]
        if t == TypeId::of::<diesel::PgConnection>() {
            return Flavor::Postgres;
        }
        #[cfg(feature = "mysql")]
        if t == TypeId::of::<diesel::MysqlConnection>() {
            return Flavor::Mysql;
        }
        #[cfg(feature = "sqlite")]
        if t == TypeId::of::<diesel::SqliteConnection>() {
            return Flavor::Sqlite;
        }
        let _ = t;
        Flavor::Other
    }

    /// Session settings made before a write's transaction, tried in order until one is
    /// accepted: how long a lock is waited for (and on MariaDB any statement runs).
    fn session_limits(self, limit: Duration) -> Vec<String> {
        let ms = limit.as_millis().max(1);
        match self {
            Flavor::Sqlite => vec![format!("PRAGMA busy_timeout = {ms}")],
            Flavor::Mysql => {
                // Whole seconds, at least one, for the lock waits; MariaDB's statement
                // limit takes fractions.
                let secs = limit.as_millis().div_ceil(1000).max(1);
                let locks = format!("innodb_lock_wait_timeout = {secs}, lock_wait_timeout = {secs}");
                vec![
                    format!("SET SESSION max_statement_time = {:.3}, {locks}", ms as f64 / 1000.0),
                    format!("SET SESSION {locks}"),
                ]
            }
            Flavor::Postgres | Flavor::Other => Vec::new(),
        }
    }

    /// Undo what [`Flavor::session_limits`] set that reads would feel: MariaDB's
    /// `max_statement_time` back to the pools' [`crate::STATEMENT_TIMEOUT`] when the tools'
    /// limit differs (other tools share the connection).
    fn session_reset(self, limit: Duration) -> Option<String> {
        (self == Flavor::Mysql && limit != crate::STATEMENT_TIMEOUT)
            .then(|| format!("SET SESSION max_statement_time = {}", crate::STATEMENT_TIMEOUT.as_secs()))
    }

    /// Settings made first inside a write's transaction (they end with it): PostgreSQL
    /// cancels a statement past the limit, and a lock wait a little before, so that the
    /// error names the lock.
    fn transaction_limits(self, limit: Duration) -> Option<String> {
        let ms = limit.as_millis().max(1);
        match self {
            Flavor::Postgres => {
                Some(format!("SET LOCAL statement_timeout = {ms}; SET LOCAL lock_timeout = {}", (ms * 9 / 10).max(1)))
            }
            _ => None,
        }
    }
}

/// How a database call failed, by stage: what it means for the data depends on it.
pub(crate) enum Failed {
    /// No connection came within the pool wait: nothing was sent.
    Pool(String),
    /// The work failed before any commit (a write was rolled back).
    Statement(QueryError),
    /// `COMMIT` failed: unless the database answered with an error, the write may have been
    /// applied.
    Commit(diesel::result::Error),
}

/// What went wrong in the database, in terms an agent can act on.
#[derive(Debug, PartialEq, Eq)]
enum Cause {
    /// The database cancelled the statement at its time limit.
    Timeout,
    /// The statement waited too long for a lock another transaction holds.
    LockWait,
    /// A serialization failure or a deadlock: the transaction lost to a concurrent one.
    Conflict,
    /// The connection broke.
    LostConnection,
    /// The database is read-only (a replica, maintenance).
    ReadOnly,
    /// The `$regex` pattern is not one the database accepts: its own words.
    BadRegex(String),
    /// A text value with a NUL character (PostgreSQL cannot store or compare it).
    Nul,
}

impl Cause {
    fn of(e: &diesel::result::Error) -> Option<Cause> {
        use diesel::result::{DatabaseErrorKind as Kind, Error};
        let (kind, message) = match e {
            Error::DatabaseError(kind, info) => (kind, info.message()),
            Error::RollbackErrorOnCommit { commit_error, .. } => return Cause::of(commit_error),
            Error::BrokenTransactionManager => return Some(Cause::LostConnection),
            _ => return None,
        };
        match kind {
            Kind::SerializationFailure => return Some(Cause::Conflict),
            Kind::ClosedConnection | Kind::UnableToSendCommand => return Some(Cause::LostConnection),
            Kind::ReadOnlyTransaction => return Some(Cause::ReadOnly),
            _ => {}
        }
        // Diesel gives no SQLSTATE or error number for these: the servers' own words.
        let m = message.to_ascii_lowercase();
        let has = |words: &[&str]| words.iter().any(|w| m.contains(w));
        Some(
            if has(&[
                "due to lock timeout",
                "lock wait timeout exceeded",
                "database is locked",
                "database table is locked",
            ]) {
                Cause::LockWait
            } else if has(&[
                "due to statement timeout",
                "max_statement_time exceeded",
                "maximum statement execution time",
            ]) {
                Cause::Timeout
            } else if has(&["deadlock", "could not serialize access"]) {
                Cause::Conflict
            } else if has(&["invalid regular expression", "regex error", "from regexp", "regular expression"]) {
                // PostgreSQL: "invalid regular expression: parentheses () not balanced";
                // MariaDB: "Regex error 'missing closing parenthesis at offset 1'" (older:
                // "Got error '...' from regexp"); MySQL: "... regular expression ...". None
                // quotes the SQL.
                Cause::BadRegex(message.split_once(": ").map_or(message, |(_, why)| why).to_owned())
            } else if has(&["invalid byte sequence"]) && m.contains("0x00") {
                Cause::Nul
            } else if has(&[
                "server has gone away",
                "lost connection",
                "server closed the connection",
                "terminating connection",
                "connection closed",
                "no connection to the server",
            ]) {
                Cause::LostConnection
            } else {
                return None;
            },
        )
    }

    /// The words for an agent. `committing`: the failure came from `COMMIT`.
    fn tool_error<M: ModelInfo>(self, access: Access, committing: bool, limit: Duration) -> ToolError {
        let ms = limit.as_millis();
        let undone = "it was rolled back and nothing was written";
        match (self, access) {
            (Cause::BadRegex(why), _) => ToolError::invalid_arguments(format!(
                "the `regex` pattern is not a regular expression this database accepts ({why}); fix the pattern"
            )),
            (Cause::Nul, _) => ToolError::invalid_arguments(
                "a text value contains a NUL character (\\u0000), which this database cannot store or compare; remove it",
            ),
            (Cause::LostConnection, Access::Write) if committing => ToolError::internal(format!(
                "the connection to the database broke while the write was being committed: it may have been applied. Check with `{0}_get` or `{0}_list` before retrying",
                M::NAME
            )),
            (Cause::LostConnection, Access::Write) => ToolError::internal(format!(
                "the connection to the database broke before the write was committed: {undone}; retry in a moment"
            )),
            (Cause::LostConnection, Access::Read) => {
                ToolError::internal("the connection to the database broke during the query; retry in a moment")
            }
            (Cause::Timeout, Access::Write) => ToolError::internal(format!(
                "the write did not finish within the {ms} ms statement timeout (the table may be locked or the database overloaded), so the database cancelled it: {undone}. Retry later"
            )),
            (Cause::Timeout, Access::Read) => ToolError::internal(
                "the query took longer than the statement timeout and the database cancelled it; narrow the filter or ask for fewer rows",
            ),
            (Cause::LockWait, Access::Write) => ToolError::internal(format!(
                "the write waited too long for a lock held by another transaction: {undone}. Retry in a moment"
            )),
            (Cause::LockWait, Access::Read) => ToolError::internal(
                "the query waited too long for a lock held by another transaction; retry in a moment (narrowing the filter will not help)",
            ),
            (Cause::Conflict, Access::Write) => ToolError::internal(format!(
                "the write conflicted with a concurrent transaction (a deadlock or serialization failure): {undone}. Retry it"
            )),
            (Cause::Conflict, Access::Read) => {
                ToolError::internal("the query conflicted with a concurrent transaction; retry it")
            }
            (Cause::ReadOnly, Access::Write) => ToolError::internal(format!(
                "the database accepts no writes right now (read-only): {undone}. Retry later"
            )),
            (Cause::ReadOnly, Access::Read) => {
                ToolError::internal("the database refused the query (read-only); retry later")
            }
        }
    }
}

impl Failed {
    /// The tool's answer for this failure of a call to `db`.
    pub(crate) fn tool_error<M: ModelInfo, E: Executor>(self, access: Access, db: &Db<E>) -> ToolError {
        use diesel::result::{DatabaseErrorKind as Kind, Error};
        match self {
            Failed::Pool(why) => {
                crate::errors::log_failure(&why);
                ToolError::internal(format!(
                    "no database connection became free within {} ms (the server is busy, or the database is unreachable): nothing was {}; retry in a moment",
                    db.pool_wait.as_millis(),
                    if access == Access::Write { "written" } else { "done" }
                ))
            }
            Failed::Statement(QueryError::Database(e)) => match Cause::of(&e) {
                Some(cause) => {
                    crate::errors::log_failure(&e);
                    cause.tool_error::<M>(access, false, db.wait)
                }
                None if access == Access::Write && !is_constraint(&e) => {
                    crate::errors::log_failure(&e);
                    ToolError::internal(
                        "the database could not make this write (the cause is in the server's log): it was rolled back and nothing was written",
                    )
                }
                None => crate::errors::query_error::<M>(QueryError::Database(e)),
            },
            Failed::Statement(other) => crate::errors::query_error::<M>(other),
            Failed::Commit(e) => {
                let answered = match &e {
                    Error::DatabaseError(kind, _) => {
                        !matches!(kind, Kind::ClosedConnection | Kind::UnableToSendCommand)
                    }
                    _ => false,
                };
                match Cause::of(&e) {
                    // The server answered `COMMIT` with an error: it rolled back.
                    Some(cause) if answered && cause != Cause::LostConnection => {
                        crate::errors::log_failure(&e);
                        cause.tool_error::<M>(access, true, db.wait)
                    }
                    None if answered && is_constraint(&e) => crate::errors::query_error::<M>(QueryError::Database(e)),
                    _ => {
                        crate::errors::log_failure(&e);
                        Cause::LostConnection.tool_error::<M>(access, true, db.wait)
                    }
                }
            }
        }
    }
}

/// A constraint violation: [`crate::errors::query_error`] words it, naming the field.
fn is_constraint(e: &diesel::result::Error) -> bool {
    use diesel::result::{DatabaseErrorKind as Kind, Error};
    matches!(
        e,
        Error::DatabaseError(
            Kind::UniqueViolation
                | Kind::ForeignKeyViolation
                | Kind::NotNullViolation
                | Kind::CheckViolation
                | Kind::RestrictViolation
                | Kind::ExclusionViolation,
            _
        )
    )
}

impl<M: ModelQuery<C>, C: R2D2Connection + 'static> ModelExec<C> for M {
    const REGEX: bool = <M as ModelQuery<C>>::REGEX;

    fn exec_page(
        db: &Db<C>,
        query: ListQuery,
        scope: Filter,
        total: Option<Filter>,
        includes: Vec<(usize, Filter)>,
    ) -> BoxFuture<'_, Result<Page<Self>, ToolError>> {
        Box::pin(run_sync::<M, C, _>(db, Access::Read, move |conn| {
            let rows = M::list(conn, &query, &scope)?;
            let total = match &total {
                Some(filter) => Some(M::count(conn, filter, &scope)?),
                None => None,
            };
            // One query per relation for the whole page.
            let mut included = Vec::with_capacity(includes.len());
            for (rel, rel_scope) in &includes {
                included.push((M::RELATIONS[*rel].name, M::include(conn, &rows, *rel, rel_scope)?));
            }
            Ok((rows, total, included))
        }))
    }

    fn exec_get(
        db: &Db<C>,
        key: Value,
        scope: Filter,
        includes: Vec<(usize, Filter)>,
    ) -> BoxFuture<'_, Result<Found<Self>, ToolError>> {
        Box::pin(run_sync::<M, C, _>(db, Access::Read, move |conn| {
            let Some(row) = M::get(conn, &key, &scope)? else { return Ok(None) };
            let mut included = Vec::with_capacity(includes.len());
            for (rel, rel_scope) in &includes {
                let mut one = M::include(conn, std::slice::from_ref(&row), *rel, rel_scope)?;
                included.push((M::RELATIONS[*rel].name, one.pop().unwrap_or(Value::Null)));
            }
            Ok(Some((row, included)))
        }))
    }

    fn exec_count(db: &Db<C>, filter: Filter, scope: Filter) -> BoxFuture<'_, Result<i64, ToolError>> {
        Box::pin(run_sync::<M, C, _>(db, Access::Read, move |conn| M::count(conn, &filter, &scope)))
    }

    fn exec_create(db: &Db<C>, values: Map<String, Value>, scope: Filter) -> BoxFuture<'_, Result<Self, ToolError>> {
        Box::pin(run_sync::<M, C, _>(db, Access::Write, move |conn| M::create(conn, &values, &scope)))
    }

    fn exec_update(
        db: &Db<C>,
        key: Value,
        values: Map<String, Value>,
        scope: Filter,
    ) -> BoxFuture<'_, Result<Option<Self>, ToolError>> {
        Box::pin(run_sync::<M, C, _>(db, Access::Write, move |conn| M::update(conn, &key, &values, &scope)))
    }

    fn exec_delete(db: &Db<C>, key: Value, scope: Filter) -> BoxFuture<'_, Result<bool, ToolError>> {
        Box::pin(run_sync::<M, C, _>(db, Access::Write, move |conn| M::delete(conn, &key, &scope)))
    }

    fn exec_aggregate(
        db: &Db<C>,
        queries: Vec<(String, AggQuery)>,
        scope: Filter,
    ) -> BoxFuture<'_, Result<Aggregates, ToolError>> {
        Box::pin(run_sync::<M, C, _>(db, Access::Read, move |conn| {
            let mut results = Vec::new();
            for (name, q) in &queries {
                results.push((name.clone(), M::aggregate(conn, q, &scope)?));
            }
            Ok(results)
        }))
    }
}

#[cfg(all(feature = "diesel-async", feature = "mysql"))]
pub use self::nonblocking::async_mysql_pool;
#[cfg(all(feature = "diesel-async", feature = "postgres"))]
pub use self::nonblocking::async_postgres_pool;
#[cfg(feature = "diesel-async")]
pub use self::nonblocking::{Async, AsyncModelQuery, AsyncPool};

#[cfg(feature = "diesel-async")]
// Without `postgres` or `mysql` there is no async connection type to serve.
#[cfg_attr(not(any(feature = "postgres", feature = "mysql")), allow(unused_imports, unused_macros, dead_code))]
mod nonblocking {
    use std::future::Future;
    use std::marker::PhantomData;

    use diesel_async::pooled_connection::deadpool::Pool;
    use diesel_async::pooled_connection::{AsyncDieselConnectionManager, ManagerConfig};
    use diesel_async::{AsyncConnection, SimpleAsyncConnection};
    use mcp_core::ToolError;
    use mcp_core::server::BoxFuture;
    use serde_json::{Map, Value};

    use super::{Access, Aggregates, Db, Executor, Failed, Flavor, Found, ModelExec, Page};
    use crate::aggregate::AggQuery;
    use crate::filter::Filter;
    use crate::model::{ListQuery, ModelInfo, QueryError};

    /// The diesel-async executor: given a deadpool pool of async connections `C`
    /// (`diesel_async::AsyncPgConnection` or `diesel_async::AsyncMysqlConnection`),
    /// `ModelTools::<Post, _>::new(pool)` runs the model's queries on it.
    pub struct Async<C>(PhantomData<fn() -> C>);

    /// A deadpool pool of diesel-async connections, as [`Async`] takes.
    pub type AsyncPool<C> = Pool<C>;

    /// The queries of a model for one kind of diesel-async connection: implemented by the
    /// code `#[mcp_toolset]` generates (the same template as [`crate::ModelQuery`], with
    /// every query awaited), with concrete Diesel types.
    pub trait AsyncModelQuery<C: Send>: ModelInfo {
        /// Whether this backend has regular expressions (`$regex`).
        const REGEX: bool = false;

        /// As [`crate::ModelQuery::list`].
        fn list(
            conn: &mut C,
            query: &ListQuery,
            scope: &Filter,
        ) -> impl Future<Output = Result<Vec<Self>, QueryError>> + Send;
        /// As [`crate::ModelQuery::count`].
        fn count(conn: &mut C, filter: &Filter, scope: &Filter)
        -> impl Future<Output = Result<i64, QueryError>> + Send;
        /// As [`crate::ModelQuery::get`].
        fn get(
            conn: &mut C,
            key: &Value,
            scope: &Filter,
        ) -> impl Future<Output = Result<Option<Self>, QueryError>> + Send;
        /// As [`crate::ModelQuery::create`].
        fn create(
            conn: &mut C,
            values: &Map<String, Value>,
            scope: &Filter,
        ) -> impl Future<Output = Result<Self, QueryError>> + Send {
            let _ = (conn, values, scope);
            async { Err(QueryError::Unsupported("create")) }
        }
        /// As [`crate::ModelQuery::update`].
        fn update(
            conn: &mut C,
            key: &Value,
            values: &Map<String, Value>,
            scope: &Filter,
        ) -> impl Future<Output = Result<Option<Self>, QueryError>> + Send {
            let _ = (conn, key, values, scope);
            async { Err(QueryError::Unsupported("update")) }
        }
        /// As [`crate::ModelQuery::aggregate`].
        fn aggregate(
            conn: &mut C,
            query: &AggQuery,
            scope: &Filter,
        ) -> impl Future<Output = Result<Vec<(Value, Value)>, QueryError>> + Send {
            let _ = (conn, query, scope);
            async { Err(QueryError::Unsupported("aggregate")) }
        }
        /// As [`crate::ModelQuery::include`].
        fn include(
            conn: &mut C,
            rows: &[Self],
            relation: usize,
            scope: &Filter,
        ) -> impl Future<Output = Result<Vec<Value>, QueryError>> + Send {
            let _ = (conn, rows, relation, scope);
            async { Err(QueryError::Unsupported("include")) }
        }
        /// As [`crate::ModelQuery::delete`].
        fn delete(conn: &mut C, key: &Value, scope: &Filter) -> impl Future<Output = Result<bool, QueryError>> + Send {
            let _ = (conn, key, scope);
            async { Err(QueryError::Unsupported("delete")) }
        }
    }

    /// A connection from the pool of `db`, waited for at most [`Db::pool_wait`] (a pool
    /// wait that runs out sent nothing).
    macro_rules! pooled {
        ($db:expr, $access:expr) => {
            match tokio::time::timeout($db.pool_wait, $db.pool.get()).await {
                Ok(Ok(conn)) => conn,
                Ok(Err(e)) => return Err(Failed::Pool(e.to_string()).tool_error::<M, _>($access, $db)),
                Err(_) => {
                    return Err(
                        Failed::Pool("timed out waiting for a connection".into()).tool_error::<M, _>($access, $db)
                    );
                }
            }
        };
    }

    /// A read's failure as the agent sees it.
    fn read_error<M: ModelInfo, E: Executor>(db: &Db<E>) -> impl Fn(QueryError) -> ToolError + '_ {
        move |e| Failed::Statement(e).tool_error::<M, E>(Access::Read, db)
    }

    /// `f` in a transaction of its own with the database's time limits set, committed here
    /// so that a failed commit is told apart from a failed statement (as `write_sync`).
    async fn write_async<C, R>(
        conn: &mut C,
        flavor: Flavor,
        limit: std::time::Duration,
        f: impl for<'c> FnOnce(&'c mut C) -> BoxFuture<'c, Result<R, QueryError>>,
    ) -> Result<R, Failed>
    where
        C: AsyncConnection + SimpleAsyncConnection + Send + 'static,
    {
        use diesel_async::TransactionManager;
        let settings = flavor.session_limits(limit);
        for (i, sql) in settings.iter().enumerate() {
            // MySQL has no `max_statement_time`: its second form goes without.
            match conn.batch_execute(sql).await {
                Ok(()) => break,
                Err(e) if i + 1 == settings.len() => return Err(Failed::Statement(e.into())),
                Err(_) => {}
            }
        }
        C::TransactionManager::begin_transaction(conn).await.map_err(|e| Failed::Statement(e.into()))?;
        let limited = match flavor.transaction_limits(limit) {
            Some(sql) => conn.batch_execute(&sql).await.map_err(QueryError::from),
            None => Ok(()),
        };
        let done = match limited {
            Ok(()) => f(conn).await,
            Err(e) => Err(e),
        };
        let outcome = match done {
            Ok(v) => C::TransactionManager::commit_transaction(conn).await.map(|()| v).map_err(Failed::Commit),
            Err(e) => {
                let _ = C::TransactionManager::rollback_transaction(conn).await;
                Err(Failed::Statement(e))
            }
        };
        if let Some(sql) = flavor.session_reset(limit) {
            let _ = conn.batch_execute(&sql).await;
        }
        outcome
    }

    /// The model's queries on diesel-async connections `$conn`.
    macro_rules! async_exec {
        ($conn:ty, $flavor:expr) => {
            impl Executor for Async<$conn> {
                type Pool = Pool<$conn>;

                fn pool_size(pool: &Self::Pool) -> usize {
                    pool.status().max_size
                }
            }

            impl super::ModelPool for Pool<$conn> {
                type Executor = Async<$conn>;
                fn into_executor_pool(self) -> Self {
                    self
                }
            }

            impl<M: AsyncModelQuery<$conn>> ModelExec<Async<$conn>> for M {
                const REGEX: bool = <M as AsyncModelQuery<$conn>>::REGEX;

                fn exec_page(
                    db: &Db<Async<$conn>>,
                    query: ListQuery,
                    scope: Filter,
                    total: Option<Filter>,
                    includes: Vec<(usize, Filter)>,
                ) -> BoxFuture<'_, Result<Page<Self>, ToolError>> {
                    Box::pin(async move {
                        let mut conn = pooled!(db, Access::Read);
                        let conn = &mut *conn;
                        let run = async {
                            let rows = M::list(conn, &query, &scope).await?;
                            let total = match &total {
                                Some(filter) => Some(M::count(conn, filter, &scope).await?),
                                None => None,
                            };
                            let mut included = Vec::with_capacity(includes.len());
                            for (rel, rel_scope) in &includes {
                                included
                                    .push((M::RELATIONS[*rel].name, M::include(conn, &rows, *rel, rel_scope).await?));
                            }
                            Ok((rows, total, included))
                        };
                        run.await.map_err(read_error::<M, _>(db))
                    })
                }

                fn exec_get(
                    db: &Db<Async<$conn>>,
                    key: Value,
                    scope: Filter,
                    includes: Vec<(usize, Filter)>,
                ) -> BoxFuture<'_, Result<Found<Self>, ToolError>> {
                    Box::pin(async move {
                        let mut conn = pooled!(db, Access::Read);
                        let conn = &mut *conn;
                        let run = async {
                            let Some(row) = M::get(conn, &key, &scope).await? else { return Ok(None) };
                            let mut included = Vec::with_capacity(includes.len());
                            for (rel, rel_scope) in &includes {
                                let mut one = M::include(conn, std::slice::from_ref(&row), *rel, rel_scope).await?;
                                included.push((M::RELATIONS[*rel].name, one.pop().unwrap_or(Value::Null)));
                            }
                            Ok(Some((row, included)))
                        };
                        run.await.map_err(read_error::<M, _>(db))
                    })
                }

                fn exec_count(
                    db: &Db<Async<$conn>>,
                    filter: Filter,
                    scope: Filter,
                ) -> BoxFuture<'_, Result<i64, ToolError>> {
                    Box::pin(async move {
                        let mut conn = pooled!(db, Access::Read);
                        M::count(&mut conn, &filter, &scope).await.map_err(read_error::<M, _>(db))
                    })
                }

                fn exec_create(
                    db: &Db<Async<$conn>>,
                    values: Map<String, Value>,
                    scope: Filter,
                ) -> BoxFuture<'_, Result<Self, ToolError>> {
                    Box::pin(async move {
                        let mut conn = pooled!(db, Access::Write);
                        write_async(&mut *conn, $flavor, db.wait, move |conn| {
                            Box::pin(async move { M::create(conn, &values, &scope).await })
                        })
                        .await
                        .map_err(|e| e.tool_error::<M, _>(Access::Write, db))
                    })
                }

                fn exec_update(
                    db: &Db<Async<$conn>>,
                    key: Value,
                    values: Map<String, Value>,
                    scope: Filter,
                ) -> BoxFuture<'_, Result<Option<Self>, ToolError>> {
                    Box::pin(async move {
                        let mut conn = pooled!(db, Access::Write);
                        write_async(&mut *conn, $flavor, db.wait, move |conn| {
                            Box::pin(async move { M::update(conn, &key, &values, &scope).await })
                        })
                        .await
                        .map_err(|e| e.tool_error::<M, _>(Access::Write, db))
                    })
                }

                fn exec_delete(
                    db: &Db<Async<$conn>>,
                    key: Value,
                    scope: Filter,
                ) -> BoxFuture<'_, Result<bool, ToolError>> {
                    Box::pin(async move {
                        let mut conn = pooled!(db, Access::Write);
                        write_async(&mut *conn, $flavor, db.wait, move |conn| {
                            Box::pin(async move { M::delete(conn, &key, &scope).await })
                        })
                        .await
                        .map_err(|e| e.tool_error::<M, _>(Access::Write, db))
                    })
                }

                fn exec_aggregate(
                    db: &Db<Async<$conn>>,
                    queries: Vec<(String, AggQuery)>,
                    scope: Filter,
                ) -> BoxFuture<'_, Result<Aggregates, ToolError>> {
                    Box::pin(async move {
                        let mut conn = pooled!(db, Access::Read);
                        let conn = &mut *conn;
                        let mut results = Vec::new();
                        for (name, q) in &queries {
                            let rows = M::aggregate(conn, q, &scope).await.map_err(read_error::<M, _>(db))?;
                            results.push((name.clone(), rows));
                        }
                        Ok(results)
                    })
                }
            }
        };
    }

    /// A connection being set up by a pool.
    type Setup<'a, C> = std::pin::Pin<Box<dyn Future<Output = diesel::ConnectionResult<C>> + Send + 'a>>;

    /// A deadpool pool of at most `size` diesel-async PostgreSQL connections to `url`, each
    /// with a [`crate::STATEMENT_TIMEOUT`] (for [`Async`]`<diesel_async::AsyncPgConnection>`).
    #[cfg(feature = "postgres")]
    pub fn async_postgres_pool(
        url: &str,
        size: u32,
    ) -> Result<Pool<diesel_async::AsyncPgConnection>, diesel_async::pooled_connection::deadpool::BuildError> {
        fn setup(url: &str) -> Setup<'_, diesel_async::AsyncPgConnection> {
            let millis = crate::STATEMENT_TIMEOUT.as_millis();
            Box::pin(async move {
                let mut conn = diesel_async::AsyncPgConnection::establish(url).await?;
                conn.batch_execute(&format!("SET statement_timeout = {millis}"))
                    .await
                    .map_err(diesel::ConnectionError::CouldntSetupConfiguration)?;
                Ok(conn)
            })
        }
        let mut config = ManagerConfig::default();
        config.custom_setup = Box::new(setup);
        let manager = AsyncDieselConnectionManager::new_with_config(url, config);
        Pool::builder(manager).max_size(size.max(1) as usize).build()
    }

    /// A deadpool pool of at most `size` diesel-async MySQL/MariaDB connections to `url`,
    /// each with a [`crate::STATEMENT_TIMEOUT`] (for [`Async`]`<diesel_async::AsyncMysqlConnection>`).
    #[cfg(feature = "mysql")]
    pub fn async_mysql_pool(
        url: &str,
        size: u32,
    ) -> Result<Pool<diesel_async::AsyncMysqlConnection>, diesel_async::pooled_connection::deadpool::BuildError> {
        fn setup(url: &str) -> Setup<'_, diesel_async::AsyncMysqlConnection> {
            let secs = crate::STATEMENT_TIMEOUT.as_secs();
            Box::pin(async move {
                let mut conn = diesel_async::AsyncMysqlConnection::establish(url).await?;
                // MariaDB calls it `max_statement_time` (seconds), MySQL `max_execution_time`
                // (milliseconds, SELECT only).
                if conn.batch_execute(&format!("SET SESSION max_statement_time = {secs}")).await.is_err() {
                    conn.batch_execute(&format!("SET SESSION max_execution_time = {}", secs * 1000))
                        .await
                        .map_err(diesel::ConnectionError::CouldntSetupConfiguration)?;
                }
                Ok(conn)
            })
        }
        let mut config = ManagerConfig::default();
        config.custom_setup = Box::new(setup);
        let manager = AsyncDieselConnectionManager::new_with_config(url, config);
        Pool::builder(manager).max_size(size.max(1) as usize).build()
    }

    #[cfg(feature = "postgres")]
    async_exec!(diesel_async::AsyncPgConnection, Flavor::Postgres);
    #[cfg(feature = "mysql")]
    async_exec!(diesel_async::AsyncMysqlConnection, Flavor::Mysql);
}

#[cfg(all(test, feature = "sqlite"))]
mod tests {
    use diesel::result::{DatabaseErrorKind as Kind, Error};

    use super::*;

    #[derive(serde::Serialize)]
    struct Note;

    impl ModelInfo for Note {
        type Key = i32;
        const NAME: &'static str = "notes";
        const FIELDS: &'static [crate::filter::FieldInfo] = &[];
        const PRIMARY_KEY: usize = 0;
        const SEARCH: &'static [usize] = &[];
        const HIDDEN: &'static [&'static str] = &[];
        const ACTIONS: crate::Actions = crate::Actions::READ;
        const DEFAULT_LIMIT: u32 = 1;
        const MAX_LIMIT: u32 = 1;
        const DESCRIPTION: &'static str = "";
        fn row_schema() -> Map<String, Value> {
            Map::new()
        }
    }

    fn db_error(kind: Kind, message: &str) -> Error {
        Error::DatabaseError(kind, Box::new(message.to_owned()))
    }

    fn words(failed: Failed, access: Access) -> String {
        let db = Db::<diesel::SqliteConnection>::new(crate::sqlite_pool(":memory:", 1).unwrap());
        failed.tool_error::<Note, _>(access, &db).message().to_owned()
    }

    #[test]
    fn causes_are_told_apart() {
        let cases = [
            (db_error(Kind::Unknown, "canceling statement due to statement timeout"), Cause::Timeout),
            (db_error(Kind::Unknown, "Query execution was interrupted (max_statement_time exceeded)"), Cause::Timeout),
            (db_error(Kind::Unknown, "canceling statement due to lock timeout"), Cause::LockWait),
            (db_error(Kind::Unknown, "Lock wait timeout exceeded; try restarting transaction"), Cause::LockWait),
            (db_error(Kind::Unknown, "database is locked"), Cause::LockWait),
            (db_error(Kind::Unknown, "deadlock detected"), Cause::Conflict),
            (db_error(Kind::SerializationFailure, "could not serialize access"), Cause::Conflict),
            (db_error(Kind::ClosedConnection, "server closed the connection unexpectedly"), Cause::LostConnection),
            (db_error(Kind::Unknown, "MySQL server has gone away"), Cause::LostConnection),
            (db_error(Kind::Unknown, "invalid byte sequence for encoding \"UTF8\": 0x00"), Cause::Nul),
            (
                db_error(Kind::Unknown, "invalid regular expression: parentheses () not balanced"),
                Cause::BadRegex("parentheses () not balanced".into()),
            ),
        ];
        for (e, want) in cases {
            assert_eq!(Cause::of(&e), Some(want), "{e}");
        }
        assert_eq!(Cause::of(&db_error(Kind::Unknown, "syntax error at or near")), None);
    }

    #[test]
    fn a_write_says_whether_it_was_written() {
        let timeout = words(
            Failed::Statement(QueryError::Database(db_error(
                Kind::Unknown,
                "canceling statement due to statement timeout",
            ))),
            Access::Write,
        );
        assert!(timeout.contains("rolled back and nothing was written") && timeout.contains("Retry"), "{timeout}");
        let read = words(
            Failed::Statement(QueryError::Database(db_error(
                Kind::Unknown,
                "canceling statement due to statement timeout",
            ))),
            Access::Read,
        );
        assert!(read.contains("narrow the filter") && !read.contains("written"), "{read}");
        // `COMMIT` without an answer: the outcome is unknown, and the words say so.
        let broken =
            words(Failed::Commit(db_error(Kind::ClosedConnection, "server closed the connection")), Access::Write);
        assert!(broken.contains("may have been applied") && broken.contains("`notes_get`"), "{broken}");
        let unknown =
            words(Failed::Commit(db_error(Kind::Unknown, "Lost connection to server during query")), Access::Write);
        assert!(unknown.contains("may have been applied"), "{unknown}");
        // `COMMIT` answered with an error: rolled back.
        let conflict =
            words(Failed::Commit(db_error(Kind::SerializationFailure, "could not serialize")), Access::Write);
        assert!(conflict.contains("nothing was written"), "{conflict}");
        let busy = words(Failed::Pool("timed out".into()), Access::Write);
        assert!(busy.contains("nothing was written; retry in a moment"), "{busy}");
        let regex = words(
            Failed::Statement(QueryError::Database(db_error(
                Kind::Unknown,
                "invalid regular expression: brackets [] not balanced",
            ))),
            Access::Read,
        );
        assert!(regex.contains("(brackets [] not balanced); fix the pattern"), "{regex}");
    }
}
