//! # mcp-auth-diesel
//!
//! The state of mcp-axum's built-in OAuth 2.1 authorization server
//! ([`mcp_axum::auth::server::AuthServer`]) in Diesel tables, on SQLite, PostgreSQL or
//! MySQL/MariaDB: [`DieselAuthStore`] implements [`AuthStore`]. Registered clients,
//! consents, signing keys and refresh tokens survive a restart, and replicas on one
//! database share them: a code issued by one replica is redeemed at another, a refresh
//! token rotated at one is refused (after the grace window) at every other.
//!
//! ```
//! use mcp_auth_diesel::DieselAuthStore;
//! # struct Users;
//! # impl mcp_axum::auth::server::SignIn for Users {
//! #     fn sign_in<'a>(&'a self, _: &'a str, _: &'a str)
//! #         -> mcp_core::server::BoxFuture<'a, Result<Option<mcp_core::Principal>, String>> {
//! #         Box::pin(async { Ok(None) })
//! #     }
//! # }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
//! # let dir = std::env::temp_dir().join(format!("mcp-auth-diesel-doc-{}", std::process::id()));
//! # std::fs::create_dir_all(&dir)?;
//! # let path = dir.join("app.db");
//! # let path = path.to_str().unwrap();
//! // An SQLite file (or `postgres://...`, `mysql://...` with those features): a pool is
//! // made and the `mcp_oauth_` tables are created if missing.
//! let store = DieselAuthStore::open(path).await?;
//! let server = mcp_axum::auth::server::AuthServer::builder()
//!     .issuer("https://blog.example.com")
//!     .sign_in(Users)
//!     .store(store)
//!     .build()?;
//! # drop(server);
//! # std::fs::remove_dir_all(&dir)?;
//! # Ok(())
//! # }
//! ```
//!
//! With a pool of your own (an app's Diesel pool is the usual one, so the tables live beside
//! the app's): [`DieselAuthStore::sqlite`], [`DieselAuthStore::postgres`] or
//! [`DieselAuthStore::mysql`], then [`DieselAuthStore::migrate`] once at start. SQLite
//! needs a file: every connection to `:memory:` is a database of its own.
//!
//! ## The tables
//!
//! Eight tables named `mcp_oauth_*` (clients, pending authorizations, codes, refresh
//! tokens, revoked families, consents, signing keys, the successor secret). The SQL is in
//! this crate's `migrations/sqlite`, `migrations/postgres` and `migrations/mysql`
//! directories, one Diesel migration each (`2026-12-06-100000_mcp_oauth_store`), also
//! compiled in as [`SQLITE_MIGRATIONS`], [`POSTGRES_MIGRATIONS`] and [`MYSQL_MIGRATIONS`].
//! [`DieselAuthStore::migrate`] (and [`DieselAuthStore::open`]) run them through
//! `diesel_migrations`, recorded in `__diesel_schema_migrations` like an app's own. An app
//! that manages its schema itself either runs these constants beside its own migrations
//! (`conn.run_pending_migrations(mcp_auth_diesel::SQLITE_MIGRATIONS)`), or copies the
//! directory of its backend into its own `migrations/` and never calls `migrate`.
//!
//! Codes, refresh tokens, pending-authorization ids and client secrets are stored only as
//! SHA-256 digests. The signing keys (PKCS#8) and the successor secret cannot be: whoever
//! reads `mcp_oauth_signing_keys` or `mcp_oauth_secret` (or a backup) can mint access
//! tokens, so guard them as you would any private key. Claims, scopes, redirect URIs and the signed-in principal are text
//! JSON, so one schema serves all three backends.
//!
//! ## What holds under concurrency
//!
//! Each rule of [`AuthStore`] is one statement or one transaction, so it holds across
//! connections, pools and processes on one database:
//!
//! - spending a code is `UPDATE ... SET spent = true WHERE digest = ? AND NOT spent`; the
//!   one update that changed a row won;
//! - presenting a refresh token reads its row under a lock (`SELECT ... FOR UPDATE` on
//!   PostgreSQL and MySQL, a `BEGIN IMMEDIATE` transaction on SQLite), then marks it
//!   spent, or revokes its family;
//! - the successor secret is `INSERT` unless present (`ON CONFLICT DO NOTHING`, `ON
//!   DUPLICATE KEY UPDATE id = id` on MySQL), then read back: every replica gets the first.
//!
//! Expired rows are deleted now and then (every 256 writes of a store, or
//! [`DieselAuthStore::prune`]), not on every request. Sign-ins in progress are bounded
//! across replicas ([`DieselAuthStore::max_pending`], 50,000 by default, as in memory). Queries run on tokio's blocking thread pool, at most as many at once as the
//! pool has connections.
//!
//! ## Feature flags
//!
//! | feature | what it adds |
//! |---|---|
//! | `sqlite` (default) | SQLite, bundled: [`DieselAuthStore::sqlite`] |
//! | `postgres` | PostgreSQL through libpq (`libpq-dev`): [`DieselAuthStore::postgres`] |
//! | `mysql` | MySQL and MariaDB through libmysqlclient (`libmariadb-dev`): [`DieselAuthStore::mysql`] |
//!
//! mcp-axum and mcp-diesel do not depend on each other; this crate depends on both
//! (mcp-axum for the trait, mcp-diesel for its pools).

#[cfg(not(any(feature = "sqlite", feature = "postgres", feature = "mysql")))]
compile_error!("mcp-auth-diesel needs a database: enable its `sqlite` (default), `postgres` or `mysql` feature");

mod ops;
mod rows;
pub mod schema;

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use mcp_axum::auth::server::store::{
    AuthStore, Client, Code, CodeUse, Digest, Pending, Refresh, RefreshUse, SigningKey, StoreError, StoreFuture,
};
use tokio::sync::Semaphore;

#[cfg(feature = "sqlite")]
/// The SQLite migration creating the `mcp_oauth_` tables (`migrations/sqlite`).
pub const SQLITE_MIGRATIONS: diesel_migrations::EmbeddedMigrations =
    diesel_migrations::embed_migrations!("migrations/sqlite");
#[cfg(feature = "postgres")]
/// The PostgreSQL migration creating the `mcp_oauth_` tables (`migrations/postgres`).
pub const POSTGRES_MIGRATIONS: diesel_migrations::EmbeddedMigrations =
    diesel_migrations::embed_migrations!("migrations/postgres");
#[cfg(feature = "mysql")]
/// The MySQL/MariaDB migration creating the `mcp_oauth_` tables (`migrations/mysql`).
pub const MYSQL_MIGRATIONS: diesel_migrations::EmbeddedMigrations =
    diesel_migrations::embed_migrations!("migrations/mysql");

/// The migrations of each backend, by the name of its module in `ops`.
mod migrations {
    #[cfg(feature = "sqlite")]
    pub(crate) fn sqlite() -> diesel_migrations::EmbeddedMigrations {
        crate::SQLITE_MIGRATIONS
    }
    #[cfg(feature = "postgres")]
    pub(crate) fn postgres() -> diesel_migrations::EmbeddedMigrations {
        crate::POSTGRES_MIGRATIONS
    }
    #[cfg(feature = "mysql")]
    pub(crate) fn mysql() -> diesel_migrations::EmbeddedMigrations {
        crate::MYSQL_MIGRATIONS
    }
}

/// What presenting a refresh token found, as rows.
pub(crate) enum Used {
    Rotated(rows::RefreshRow),
    Grace(rows::RefreshRow),
    Reused(rows::RefreshRow),
    Unknown,
}

/// Live pending authorizations kept at most by default (each `GET /authorize` starts one;
/// they expire after 10 minutes), as the memory store.
const MAX_PENDING: u64 = 50_000;

/// New pending authorizations between two counts of the live ones (so the limit may be
/// passed by this many per store before it holds).
const COUNT_PENDING_EVERY: u64 = 32;

/// Writes between two prunes of expired rows.
const PRUNE_EVERY: u64 = 256;

/// Connections per pool [`DieselAuthStore::open`] makes.
const OPEN_POOL_SIZE: u32 = 8;

#[derive(Clone)]
enum Pools {
    #[cfg(feature = "sqlite")]
    Sqlite(mcp_diesel::SqlitePool),
    #[cfg(feature = "postgres")]
    Postgres(mcp_diesel::PgPool),
    #[cfg(feature = "mysql")]
    Mysql(mcp_diesel::MysqlPool),
}

/// Run `$body` with `$conn` a pooled connection of `$pools`' backend and `$m` the module of
/// that backend's statements: the body is compiled once per enabled backend.
macro_rules! on_backend {
    ($pools:expr, |$conn:ident, $m:ident| $body:expr) => {
        match $pools {
            #[cfg(feature = "sqlite")]
            Pools::Sqlite(pool) => {
                use crate::ops::sqlite as $m;
                let mut pooled = pool.get().map_err(no_connection)?;
                let $conn = &mut *pooled;
                $body
            }
            #[cfg(feature = "postgres")]
            Pools::Postgres(pool) => {
                use crate::ops::postgres as $m;
                let mut pooled = pool.get().map_err(no_connection)?;
                let $conn = &mut *pooled;
                $body
            }
            #[cfg(feature = "mysql")]
            Pools::Mysql(pool) => {
                use crate::ops::mysql as $m;
                let mut pooled = pool.get().map_err(no_connection)?;
                let $conn = &mut *pooled;
                $body
            }
        }
    };
}

fn no_connection(e: diesel::r2d2::PoolError) -> StoreError {
    StoreError(format!("no database connection within the pool's timeout: {e}"))
}

struct Shared {
    pools: Pools,
    permits: Arc<Semaphore>,
    writes: AtomicU64,
    /// Most live pending authorizations ([`DieselAuthStore::max_pending`]).
    max_pending: AtomicU64,
    /// New pending authorizations since the last count of the live ones.
    new_pending: AtomicU64,
    /// The last count reached `max_pending`: count again before every new one.
    pending_full: AtomicBool,
}

/// An [`AuthStore`] in Diesel tables on SQLite, PostgreSQL or MySQL. See the
/// [crate docs](crate). Cloning is cheap and shares the pool.
#[derive(Clone)]
pub struct DieselAuthStore {
    shared: Arc<Shared>,
}

impl fmt::Debug for DieselAuthStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let backend = match &self.shared.pools {
            #[cfg(feature = "sqlite")]
            Pools::Sqlite(_) => "sqlite",
            #[cfg(feature = "postgres")]
            Pools::Postgres(_) => "postgres",
            #[cfg(feature = "mysql")]
            Pools::Mysql(_) => "mysql",
        };
        f.debug_struct("DieselAuthStore").field("backend", &backend).finish_non_exhaustive()
    }
}

/// The wall clock, for pruning and for when a family was revoked (the `now` of the
/// [`AuthStore`] methods decides everything else).
fn wall_clock() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

impl DieselAuthStore {
    fn with_pools(pools: Pools, size: u32) -> Self {
        DieselAuthStore {
            shared: Arc::new(Shared {
                pools,
                permits: Arc::new(Semaphore::new(size.max(1) as usize)),
                writes: AtomicU64::new(0),
                max_pending: AtomicU64::new(MAX_PENDING),
                new_pending: AtomicU64::new(0),
                pending_full: AtomicBool::new(false),
            }),
        }
    }

    /// A store on this SQLite pool (a file; [`mcp_diesel::sqlite_pool`] makes one with WAL
    /// and a busy timeout). Run [`migrate`](Self::migrate) once, or create the tables with
    /// your own migrations.
    #[cfg(feature = "sqlite")]
    pub fn sqlite(pool: mcp_diesel::SqlitePool) -> Self {
        let size = pool.max_size();
        Self::with_pools(Pools::Sqlite(pool), size)
    }

    /// A store on this PostgreSQL pool ([`mcp_diesel::postgres_pool`]). Run
    /// [`migrate`](Self::migrate) once, or create the tables with your own migrations.
    #[cfg(feature = "postgres")]
    pub fn postgres(pool: mcp_diesel::PgPool) -> Self {
        let size = pool.max_size();
        Self::with_pools(Pools::Postgres(pool), size)
    }

    /// A store on this MySQL or MariaDB pool ([`mcp_diesel::mysql_pool`]). Run
    /// [`migrate`](Self::migrate) once, or create the tables with your own migrations.
    #[cfg(feature = "mysql")]
    pub fn mysql(pool: mcp_diesel::MysqlPool) -> Self {
        let size = pool.max_size();
        Self::with_pools(Pools::Mysql(pool), size)
    }

    /// A pool on `url` and a store on it, its tables created if missing: `postgres://` or
    /// `postgresql://` (feature `postgres`), `mysql://` (feature `mysql`), or else an
    /// SQLite file path (feature `sqlite`; a `sqlite://` prefix is allowed).
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        let url = url.to_owned();
        let store = tokio::task::spawn_blocking(move || Self::connect(&url))
            .await
            .map_err(|e| StoreError(format!("opening the store failed: {e}")))??;
        store.migrate().await?;
        Ok(store)
    }

    fn connect(url: &str) -> Result<Self, StoreError> {
        let pool_failed = |e: diesel::r2d2::PoolError| StoreError(format!("cannot connect to the database: {e}"));
        let scheme = url.split_once("://").map(|(s, _)| s.to_ascii_lowercase());
        match scheme.as_deref() {
            Some("postgres" | "postgresql") => {
                #[cfg(feature = "postgres")]
                return Ok(Self::postgres(mcp_diesel::postgres_pool(url, OPEN_POOL_SIZE).map_err(pool_failed)?));
                #[cfg(not(feature = "postgres"))]
                Err(StoreError("a postgres:// URL needs mcp-auth-diesel's `postgres` feature".into()))
            }
            Some("mysql") => {
                #[cfg(feature = "mysql")]
                return Ok(Self::mysql(mcp_diesel::mysql_pool(url, OPEN_POOL_SIZE).map_err(pool_failed)?));
                #[cfg(not(feature = "mysql"))]
                Err(StoreError("a mysql:// URL needs mcp-auth-diesel's `mysql` feature".into()))
            }
            Some("sqlite") | None => {
                let path = url.split_once("://").map_or(url, |(_, p)| p);
                if path.is_empty() || path == ":memory:" {
                    return Err(StoreError(
                        "give an SQLite file path: `:memory:` (or nothing) would be a new database per connection"
                            .into(),
                    ));
                }
                #[cfg(feature = "sqlite")]
                return Ok(Self::sqlite(mcp_diesel::sqlite_pool(path, OPEN_POOL_SIZE).map_err(pool_failed)?));
                #[cfg(not(feature = "sqlite"))]
                Err(StoreError("an SQLite path needs mcp-auth-diesel's `sqlite` feature".into()))
            }
            Some(other) => Err(StoreError(format!(
                "`{other}://` is not a database this store knows: give postgres://, mysql:// or an SQLite file path"
            ))),
        }
    }

    /// Create the `mcp_oauth_` tables if they are missing (runs the embedded migration of
    /// the pool's backend; a no-op once applied). Safe to call at every start, and from
    /// replicas starting together: one creates the tables; a replica whose attempt
    /// collided with it tries again and finds them there.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        let mut tries = 0;
        loop {
            match self.run(false, |pools| on_backend!(pools, |conn, m| m::migrate(conn))).await {
                Err(e) if tries < 3 => {
                    tries += 1;
                    tracing::debug!("authorization store: {e}; trying again");
                    tokio::time::sleep(std::time::Duration::from_millis(200 * tries)).await;
                }
                done => return done,
            }
        }
    }

    /// Refuse new sign-ins (`GET /authorize` answers that the server is busy) while `n`
    /// pending authorizations are live in the database, all replicas together (default
    /// 50,000, as the memory store). They are counted every 32 new ones, and before every
    /// new one once the limit was reached.
    pub fn max_pending(self, n: u64) -> Self {
        self.shared.max_pending.store(n, Ordering::Relaxed);
        self
    }

    /// Delete expired rows now (the store also does it every 256 writes): pending
    /// authorizations and refresh tokens past their expiry, codes 10 minutes past theirs,
    /// revoked families a day after their last token is gone. Returns how many rows went.
    pub async fn prune(&self) -> Result<usize, StoreError> {
        self.run(false, |pools| {
            on_backend!(pools, |conn, m| m::prune(conn, wall_clock()).map_err(ops::failed("prune")))
        })
        .await
    }

    /// Run `f` on the blocking thread pool, at most as many at once as the pool has
    /// connections; after a write, prune now and then.
    fn run<T, F>(&self, write: bool, f: F) -> StoreFuture<'_, T>
    where
        T: Send + 'static,
        F: FnOnce(&Pools) -> Result<T, StoreError> + Send + 'static,
    {
        let shared = self.shared.clone();
        Box::pin(async move {
            let permit =
                shared.permits.clone().acquire_owned().await.map_err(|_| StoreError("the store is closed".into()))?;
            tokio::task::spawn_blocking(move || {
                // Held until the statement is done, even if the caller stopped waiting.
                let _permit = permit;
                let result = f(&shared.pools);
                if write && (shared.writes.fetch_add(1, Ordering::Relaxed) + 1).is_multiple_of(PRUNE_EVERY) {
                    let pruned: Result<usize, StoreError> = (|| {
                        on_backend!(&shared.pools, |conn, m| m::prune(conn, wall_clock()).map_err(ops::failed("prune")))
                    })();
                    match pruned {
                        Ok(n) => tracing::debug!(rows = n, "authorization store: expired rows deleted"),
                        Err(e) => tracing::warn!("authorization store: deleting expired rows failed: {e}"),
                    }
                }
                result
            })
            .await
            .map_err(|e| StoreError(format!("a store task failed: {e}")))?
        })
    }
}

impl AuthStore for DieselAuthStore {
    fn put_client<'a>(&'a self, client: &'a Client) -> StoreFuture<'a, ()> {
        let row = rows::ClientRow::new(client);
        self.run(true, move |pools| {
            let row = row?;
            on_backend!(pools, |conn, m| m::put_client(conn, &row))
        })
    }

    fn client<'a>(&'a self, client_id: &'a str) -> StoreFuture<'a, Option<Client>> {
        let id = client_id.to_owned();
        self.run(false, move |pools| {
            let row = on_backend!(pools, |conn, m| m::client(conn, &id))?;
            // Exactly this id: whatever the column's collation, never a case-insensitive
            // or trailing-space match.
            row.filter(|r| r.client_id == id).map(rows::ClientRow::into_client).transpose()
        })
    }

    fn put_pending<'a>(&'a self, id: &'a Digest, pending: &'a Pending) -> StoreFuture<'a, ()> {
        let row = rows::PendingRow::new(id, pending);
        let shared = self.shared.clone();
        self.run(true, move |pools| {
            let row = row?;
            if on_backend!(pools, |conn, m| m::update_pending(conn, &row))? {
                return Ok(());
            }
            // A new one: within the limit?
            let count = shared.pending_full.load(Ordering::Relaxed)
                || shared.new_pending.fetch_add(1, Ordering::Relaxed).is_multiple_of(COUNT_PENDING_EVERY);
            if count {
                let max = shared.max_pending.load(Ordering::Relaxed);
                let live = on_backend!(pools, |conn, m| m::live_pending(conn, wall_clock()))?;
                let full = u64::try_from(live).unwrap_or(0) >= max;
                shared.pending_full.store(full, Ordering::Relaxed);
                if full {
                    return Err(StoreError(format!("{max} sign-ins are in progress; try again later")));
                }
            }
            on_backend!(pools, |conn, m| m::put_pending(conn, &row))
        })
    }

    fn pending<'a>(&'a self, id: &'a Digest, now: u64) -> StoreFuture<'a, Option<Pending>> {
        let (id, now) = (id.0.clone(), rows::time(now));
        self.run(false, move |pools| {
            let now = now?;
            on_backend!(pools, |conn, m| m::pending(conn, &id, now))?.map(rows::PendingRow::into_pending).transpose()
        })
    }

    fn remove_pending<'a>(&'a self, id: &'a Digest) -> StoreFuture<'a, ()> {
        let id = id.0.clone();
        self.run(true, move |pools| on_backend!(pools, |conn, m| m::remove_pending(conn, &id)))
    }

    fn put_code<'a>(&'a self, code: &'a Digest, record: &'a Code) -> StoreFuture<'a, ()> {
        let row = rows::CodeRow::new(code, record);
        self.run(true, move |pools| {
            let row = row?;
            on_backend!(pools, |conn, m| m::put_code(conn, &row))
        })
    }

    fn take_code<'a>(&'a self, code: &'a Digest, _now: u64) -> StoreFuture<'a, CodeUse> {
        let digest = code.0.clone();
        self.run(true, move |pools| {
            let (won, row) = on_backend!(pools, |conn, m| m::take_code(conn, &digest))?;
            Ok(match row {
                None => CodeUse::Unknown,
                Some(row) if won => CodeUse::Fresh(row.into_code()?),
                Some(row) => CodeUse::Replayed(row.into_code()?),
            })
        })
    }

    fn put_refresh<'a>(&'a self, token: &'a Digest, record: &'a Refresh) -> StoreFuture<'a, ()> {
        let row = rows::RefreshRow::new(token, record);
        self.run(true, move |pools| {
            let row = row?;
            on_backend!(pools, |conn, m| m::put_refresh(conn, &row))
        })
    }

    fn use_refresh<'a>(&'a self, token: &'a Digest, now: u64, grace: u64) -> StoreFuture<'a, RefreshUse> {
        let digest = token.0.clone();
        let (now, grace) = (rows::time(now), rows::time(grace));
        self.run(true, move |pools| {
            let (now, grace) = (now?, grace?);
            let used = on_backend!(pools, |conn, m| m::use_refresh(conn, &digest, now, grace, wall_clock()))?;
            Ok(match used {
                Used::Rotated(r) => RefreshUse::Rotated(r.into_refresh()?),
                Used::Grace(r) => RefreshUse::Grace(r.into_refresh()?),
                Used::Reused(r) => RefreshUse::Reused(r.into_refresh()?),
                Used::Unknown => RefreshUse::Unknown,
            })
        })
    }

    fn refresh<'a>(&'a self, token: &'a Digest, now: u64) -> StoreFuture<'a, Option<Refresh>> {
        let (digest, now) = (token.0.clone(), rows::time(now));
        self.run(false, move |pools| {
            let now = now?;
            on_backend!(pools, |conn, m| m::refresh(conn, &digest, now))?
                .map(rows::RefreshRow::into_refresh)
                .transpose()
        })
    }

    fn revoke_family<'a>(&'a self, family: &'a str) -> StoreFuture<'a, ()> {
        let family = family.to_owned();
        self.run(true, move |pools| on_backend!(pools, |conn, m| m::revoke_family(conn, &family, wall_clock())))
    }

    fn consent<'a>(&'a self, subject: &'a str, client_id: &'a str) -> StoreFuture<'a, Option<Vec<String>>> {
        let (subject, client_id) = (subject.to_owned(), client_id.to_owned());
        self.run(false, move |pools| {
            let id = rows::consent_id(&subject, &client_id)?;
            let row = on_backend!(pools, |conn, m| m::consent(conn, &id))?;
            row.filter(|r| r.subject == subject && r.client_id == client_id).map(|r| r.scopes()).transpose()
        })
    }

    fn put_consent<'a>(&'a self, subject: &'a str, client_id: &'a str, scopes: &'a [String]) -> StoreFuture<'a, ()> {
        let row = rows::ConsentRow::new(subject, client_id, scopes);
        self.run(true, move |pools| {
            let row = row?;
            on_backend!(pools, |conn, m| m::put_consent(conn, &row))
        })
    }

    fn revoke_consent<'a>(&'a self, subject: &'a str, client_id: &'a str) -> StoreFuture<'a, ()> {
        let id = rows::consent_id(subject, client_id);
        self.run(true, move |pools| {
            let id = id?;
            on_backend!(pools, |conn, m| m::revoke_consent(conn, &id))
        })
    }

    fn signing_keys(&self) -> StoreFuture<'_, Vec<SigningKey>> {
        self.run(false, move |pools| {
            on_backend!(pools, |conn, m| m::signing_keys(conn))?.into_iter().map(rows::KeyRow::into_key).collect()
        })
    }

    fn add_signing_key<'a>(&'a self, key: &'a SigningKey, retire_others: bool) -> StoreFuture<'a, ()> {
        let row = rows::KeyRow::new(key);
        self.run(true, move |pools| {
            let row = row?;
            on_backend!(pools, |conn, m| m::add_signing_key(conn, &row, retire_others))
        })
    }

    fn secret<'a>(&'a self, candidate: &'a [u8; 32]) -> StoreFuture<'a, [u8; 32]> {
        let candidate = *candidate;
        self.run(true, move |pools| {
            let stored = on_backend!(pools, |conn, m| m::secret(conn, &candidate))?;
            <[u8; 32]>::try_from(stored.as_slice())
                .map_err(|_| StoreError(format!("the stored secret has {} bytes, not 32", stored.len())))
        })
    }
}
