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
    /// How long a tool waits for its statement on the blocking pool (see
    /// [`crate::ModelTools::statement_timeout`]); async connections rely on the server's
    /// own statement timeout.
    pub(crate) wait: Duration,
}

impl<E: Executor> Db<E> {
    pub(crate) fn new(pool: E::Pool) -> Self {
        let size = E::pool_size(&pool).max(1);
        Db { pool, permits: Arc::new(Semaphore::new(size)), wait: crate::STATEMENT_TIMEOUT }
    }
}

impl<E: Executor> Clone for Db<E> {
    fn clone(&self) -> Self {
        Db { pool: self.pool.clone(), permits: self.permits.clone(), wait: self.wait }
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
async fn run_sync<M: ModelInfo, C: R2D2Connection + 'static, R: Send + 'static>(
    db: &Db<C>,
    f: impl FnOnce(&mut C) -> Result<R, QueryError> + Send + 'static,
) -> Result<R, ToolError> {
    let permit = db.permits.clone().acquire_owned().await.map_err(|_| ToolError::internal("the pool is closed"))?;
    let pool = db.pool.clone();
    let work = tokio::task::spawn_blocking(move || {
        // Held until the statement ends, even when the caller stopped waiting.
        let _permit = permit;
        let mut conn = pool.get_timeout(Duration::from_secs(10)).map_err(|e| {
            crate::tools::log_failure(&e);
            ToolError::internal("the database is busy; try again")
        })?;
        f(&mut conn).map_err(crate::tools::query_error::<M>)
    });
    let joined = tokio::time::timeout(db.wait, work).await.map_err(|_| {
        ToolError::internal(format!(
            "the query took longer than the {} ms statement timeout and was abandoned; narrow the filter or ask for fewer rows",
            db.wait.as_millis()
        ))
    })?;
    joined.map_err(|_| ToolError::internal("internal error: the query failed unexpectedly"))?
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
        Box::pin(run_sync::<M, C, _>(db, move |conn| {
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
        Box::pin(run_sync::<M, C, _>(db, move |conn| {
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
        Box::pin(run_sync::<M, C, _>(db, move |conn| M::count(conn, &filter, &scope)))
    }

    fn exec_create(db: &Db<C>, values: Map<String, Value>, scope: Filter) -> BoxFuture<'_, Result<Self, ToolError>> {
        Box::pin(run_sync::<M, C, _>(db, move |conn| M::create(conn, &values, &scope)))
    }

    fn exec_update(
        db: &Db<C>,
        key: Value,
        values: Map<String, Value>,
        scope: Filter,
    ) -> BoxFuture<'_, Result<Option<Self>, ToolError>> {
        Box::pin(run_sync::<M, C, _>(db, move |conn| M::update(conn, &key, &values, &scope)))
    }

    fn exec_delete(db: &Db<C>, key: Value, scope: Filter) -> BoxFuture<'_, Result<bool, ToolError>> {
        Box::pin(run_sync::<M, C, _>(db, move |conn| M::delete(conn, &key, &scope)))
    }

    fn exec_aggregate(
        db: &Db<C>,
        queries: Vec<(String, AggQuery)>,
        scope: Filter,
    ) -> BoxFuture<'_, Result<Aggregates, ToolError>> {
        Box::pin(run_sync::<M, C, _>(db, move |conn| {
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

    use super::{Aggregates, Db, Executor, Found, ModelExec, Page};
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

    /// A connection from the pool of `db`, waiting at most as long as the sync pools do.
    macro_rules! pooled {
        ($db:expr) => {
            match tokio::time::timeout(std::time::Duration::from_secs(10), $db.pool.get()).await {
                Ok(Ok(conn)) => conn,
                Ok(Err(e)) => return Err(pool_error(e)),
                Err(_) => return Err(pool_error("timed out waiting for a connection")),
            }
        };
    }

    /// The model's queries on diesel-async connections `$conn`.
    macro_rules! async_exec {
        ($conn:ty) => {
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
                        let mut conn = pooled!(db);
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
                        run.await.map_err(crate::tools::query_error::<M>)
                    })
                }

                fn exec_get(
                    db: &Db<Async<$conn>>,
                    key: Value,
                    scope: Filter,
                    includes: Vec<(usize, Filter)>,
                ) -> BoxFuture<'_, Result<Found<Self>, ToolError>> {
                    Box::pin(async move {
                        let mut conn = pooled!(db);
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
                        run.await.map_err(crate::tools::query_error::<M>)
                    })
                }

                fn exec_count(
                    db: &Db<Async<$conn>>,
                    filter: Filter,
                    scope: Filter,
                ) -> BoxFuture<'_, Result<i64, ToolError>> {
                    Box::pin(async move {
                        let mut conn = pooled!(db);
                        M::count(&mut conn, &filter, &scope).await.map_err(crate::tools::query_error::<M>)
                    })
                }

                fn exec_create(
                    db: &Db<Async<$conn>>,
                    values: Map<String, Value>,
                    scope: Filter,
                ) -> BoxFuture<'_, Result<Self, ToolError>> {
                    Box::pin(async move {
                        let mut conn = pooled!(db);
                        M::create(&mut conn, &values, &scope).await.map_err(crate::tools::query_error::<M>)
                    })
                }

                fn exec_update(
                    db: &Db<Async<$conn>>,
                    key: Value,
                    values: Map<String, Value>,
                    scope: Filter,
                ) -> BoxFuture<'_, Result<Option<Self>, ToolError>> {
                    Box::pin(async move {
                        let mut conn = pooled!(db);
                        M::update(&mut conn, &key, &values, &scope).await.map_err(crate::tools::query_error::<M>)
                    })
                }

                fn exec_delete(
                    db: &Db<Async<$conn>>,
                    key: Value,
                    scope: Filter,
                ) -> BoxFuture<'_, Result<bool, ToolError>> {
                    Box::pin(async move {
                        let mut conn = pooled!(db);
                        M::delete(&mut conn, &key, &scope).await.map_err(crate::tools::query_error::<M>)
                    })
                }

                fn exec_aggregate(
                    db: &Db<Async<$conn>>,
                    queries: Vec<(String, AggQuery)>,
                    scope: Filter,
                ) -> BoxFuture<'_, Result<Aggregates, ToolError>> {
                    Box::pin(async move {
                        let mut conn = pooled!(db);
                        let conn = &mut *conn;
                        let mut results = Vec::new();
                        for (name, q) in &queries {
                            let rows = M::aggregate(conn, q, &scope).await.map_err(crate::tools::query_error::<M>)?;
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

    /// No connection could be had from the pool.
    fn pool_error(e: impl std::fmt::Display) -> ToolError {
        crate::tools::log_failure(&e);
        ToolError::internal("the database is busy; try again")
    }

    #[cfg(feature = "postgres")]
    async_exec!(diesel_async::AsyncPgConnection);
    #[cfg(feature = "mysql")]
    async_exec!(diesel_async::AsyncMysqlConnection);
}
