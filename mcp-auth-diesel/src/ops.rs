//! The store's statements, written once and compiled for each enabled backend (Diesel code
//! is not generic over the backend; a `macro_rules!` template is instantiated per
//! connection type). Every function is sync and runs on the blocking thread pool.

use mcp_axum::auth::server::store::StoreError;

/// What a statement failed on, with the operation it was for.
pub(crate) fn failed(op: &str) -> impl Fn(diesel::result::Error) -> StoreError + '_ {
    move |e| StoreError(format!("{op}: {e}"))
}

/// Run a transaction again (at most 3 more times) when the database rolled it back as a
/// deadlock or serialization failure (InnoDB under concurrent revocations, for example):
/// nothing of it was kept, so running it again is safe.
pub(crate) fn retried<T>(mut transaction: impl FnMut() -> diesel::QueryResult<T>) -> diesel::QueryResult<T> {
    use diesel::result::{DatabaseErrorKind, Error};
    let mut tries = 0;
    loop {
        match transaction() {
            Err(Error::DatabaseError(DatabaseErrorKind::SerializationFailure, info)) if tries < 3 => {
                tries += 1;
                tracing::debug!("authorization store: transaction retried after {}", info.message());
            }
            other => return other,
        }
    }
}

/// How long spent codes are remembered past their expiry, to recognise replays.
pub(crate) const SPENT_CODE_MEMORY: i64 = 600;

/// How long a revoked family is remembered once none of its refresh tokens is left (a
/// successor stored concurrently with the revocation, or a code of the family, would
/// have shown up by then).
pub(crate) const REVOKED_FAMILY_MEMORY: i64 = 86_400;

/// The conflict target of an upsert: the primary key on SQLite and PostgreSQL
/// (`ON CONFLICT (pk)`), any duplicate key on MySQL (`ON DUPLICATE KEY UPDATE`).
macro_rules! conflict_target {
    (mysql, $pk:expr) => {
        diesel::dsl::DuplicatedKeys
    };
    ($other:ident, $pk:expr) => {
        $pk
    };
}

/// A transaction that holds the row it reads against writers of other connections and
/// processes: `BEGIN IMMEDIATE` on SQLite (the database's write lock, taken up front),
/// a plain transaction on the others (where the read is `SELECT ... FOR UPDATE`).
macro_rules! locking_transaction {
    (sqlite, $conn:expr, $f:expr) => {
        $conn.immediate_transaction($f)
    };
    ($other:ident, $conn:expr, $f:expr) => {
        $conn.transaction($f)
    };
}

/// `SELECT ... FOR UPDATE` where the backend has it (SQLite's transaction already holds
/// the write lock).
macro_rules! for_update {
    (sqlite, $query:expr) => {
        $query
    };
    ($other:ident, $query:expr) => {
        $query.for_update()
    };
}

macro_rules! backend {
    ($module:ident, $conn:ty, $flavor:ident) => {
        /// The statements on this backend.
        pub(crate) mod $module {
            use diesel::prelude::*;
            use mcp_axum::auth::server::store::StoreError;

            use super::{REVOKED_FAMILY_MEMORY, SPENT_CODE_MEMORY, failed};
            use crate::rows::*;
            use crate::schema::*;

            type Conn = $conn;

            pub(crate) fn migrate(conn: &mut Conn) -> Result<(), StoreError> {
                use diesel_migrations::MigrationHarness as _;
                conn.run_pending_migrations(crate::migrations::$module())
                    .map(drop)
                    .map_err(|e| StoreError(format!("migrating the mcp_oauth_ tables: {e}")))
            }

            pub(crate) fn put_client(conn: &mut Conn, row: &ClientRow) -> Result<(), StoreError> {
                diesel::insert_into(mcp_oauth_clients::table)
                    .values(row)
                    .on_conflict(conflict_target!($flavor, mcp_oauth_clients::client_id))
                    .do_update()
                    .set(row)
                    .execute(conn)
                    .map_err(failed("put_client"))?;
                Ok(())
            }

            pub(crate) fn client(conn: &mut Conn, id: &str) -> Result<Option<ClientRow>, StoreError> {
                mcp_oauth_clients::table
                    .find(id)
                    .select(ClientRow::as_select())
                    .first(conn)
                    .optional()
                    .map_err(failed("client"))
            }

            /// Update an existing pending authorization: whether there was one.
            pub(crate) fn update_pending(conn: &mut Conn, row: &PendingRow) -> Result<bool, StoreError> {
                let n = diesel::update(mcp_oauth_pending::table.find(&row.digest))
                    .set(row)
                    .execute(conn)
                    .map_err(failed("put_pending"))?;
                Ok(n > 0)
            }

            /// Pending authorizations not expired at `now`.
            pub(crate) fn live_pending(conn: &mut Conn, now: i64) -> Result<i64, StoreError> {
                mcp_oauth_pending::table
                    .filter(mcp_oauth_pending::expires_at.gt(now))
                    .count()
                    .get_result(conn)
                    .map_err(failed("put_pending"))
            }

            pub(crate) fn put_pending(conn: &mut Conn, row: &PendingRow) -> Result<(), StoreError> {
                diesel::insert_into(mcp_oauth_pending::table)
                    .values(row)
                    .on_conflict(conflict_target!($flavor, mcp_oauth_pending::digest))
                    .do_update()
                    .set(row)
                    .execute(conn)
                    .map_err(failed("put_pending"))?;
                Ok(())
            }

            pub(crate) fn pending(conn: &mut Conn, digest: &str, now: i64) -> Result<Option<PendingRow>, StoreError> {
                mcp_oauth_pending::table
                    .find(digest)
                    .filter(mcp_oauth_pending::expires_at.gt(now))
                    .select(PendingRow::as_select())
                    .first(conn)
                    .optional()
                    .map_err(failed("pending"))
            }

            pub(crate) fn remove_pending(conn: &mut Conn, digest: &str) -> Result<(), StoreError> {
                diesel::delete(mcp_oauth_pending::table.find(digest))
                    .execute(conn)
                    .map_err(failed("remove_pending"))?;
                Ok(())
            }

            pub(crate) fn put_code(conn: &mut Conn, row: &CodeRow) -> Result<(), StoreError> {
                diesel::insert_into(mcp_oauth_codes::table).values(row).execute(conn).map_err(failed("put_code"))?;
                Ok(())
            }

            /// One `UPDATE ... WHERE NOT spent`: the database decides who spent it first.
            pub(crate) fn take_code(conn: &mut Conn, digest: &str) -> Result<(bool, Option<CodeRow>), StoreError> {
                let won = diesel::update(mcp_oauth_codes::table.find(digest).filter(mcp_oauth_codes::spent.eq(false)))
                    .set(mcp_oauth_codes::spent.eq(true))
                    .execute(conn)
                    .map_err(failed("take_code"))?
                    == 1;
                let row = mcp_oauth_codes::table
                    .find(digest)
                    .select(CodeRow::as_select())
                    .first(conn)
                    .optional()
                    .map_err(failed("take_code"))?;
                Ok((won, row))
            }

            pub(crate) fn put_refresh(conn: &mut Conn, row: &RefreshRow) -> Result<(), StoreError> {
                diesel::insert_into(mcp_oauth_refresh_tokens::table)
                    .values(row)
                    .on_conflict_do_nothing()
                    .execute(conn)
                    .map_err(failed("put_refresh"))?;
                Ok(())
            }

            fn revoked(conn: &mut Conn, family: &str) -> QueryResult<bool> {
                diesel::select(diesel::dsl::exists(mcp_oauth_revoked_families::table.find(family))).get_result(conn)
            }

            fn revoke(conn: &mut Conn, family: &str, now: i64) -> QueryResult<()> {
                diesel::insert_into(mcp_oauth_revoked_families::table)
                    .values((
                        mcp_oauth_revoked_families::family.eq(family),
                        mcp_oauth_revoked_families::revoked_at.eq(now),
                    ))
                    .on_conflict_do_nothing()
                    .execute(conn)?;
                diesel::delete(mcp_oauth_refresh_tokens::table.filter(mcp_oauth_refresh_tokens::family.eq(family)))
                    .execute(conn)?;
                Ok(())
            }

            /// What presenting a refresh token found; the row is locked while deciding.
            pub(crate) fn use_refresh(
                conn: &mut Conn,
                digest: &str,
                now: i64,
                grace: i64,
                wall: i64,
            ) -> Result<crate::Used, StoreError> {
                super::retried(|| {
                    locking_transaction!($flavor, conn, |conn: &mut Conn| -> QueryResult<crate::Used> {
                        let row = for_update!(
                            $flavor,
                            mcp_oauth_refresh_tokens::table.find(digest).select(RefreshRow::as_select())
                        )
                        .first(conn)
                        .optional()?;
                        let Some(mut row) = row else { return Ok(crate::Used::Unknown) };
                        if row.expires_at <= now || revoked(conn, &row.family)? {
                            return Ok(crate::Used::Unknown);
                        }
                        Ok(match row.used_at {
                            None => {
                                diesel::update(mcp_oauth_refresh_tokens::table.find(digest))
                                    .set(mcp_oauth_refresh_tokens::used_at.eq(now))
                                    .execute(conn)?;
                                row.used_at = Some(now);
                                crate::Used::Rotated(row)
                            }
                            Some(t) if now.saturating_sub(t) <= grace => crate::Used::Grace(row),
                            Some(_) => {
                                revoke(conn, &row.family, wall)?;
                                crate::Used::Reused(row)
                            }
                        })
                    })
                })
                .map_err(failed("use_refresh"))
            }

            pub(crate) fn refresh(conn: &mut Conn, digest: &str, now: i64) -> Result<Option<RefreshRow>, StoreError> {
                let row = mcp_oauth_refresh_tokens::table
                    .find(digest)
                    .filter(mcp_oauth_refresh_tokens::expires_at.gt(now))
                    .select(RefreshRow::as_select())
                    .first(conn)
                    .optional()
                    .map_err(failed("refresh"))?;
                match row {
                    Some(r) if !revoked(conn, &r.family).map_err(failed("refresh"))? => Ok(Some(r)),
                    _ => Ok(None),
                }
            }

            pub(crate) fn revoke_family(conn: &mut Conn, family: &str, wall: i64) -> Result<(), StoreError> {
                super::retried(|| conn.transaction(|conn: &mut Conn| revoke(conn, family, wall)))
                    .map_err(failed("revoke_family"))
            }

            pub(crate) fn consent(conn: &mut Conn, id: &str) -> Result<Option<ConsentRow>, StoreError> {
                mcp_oauth_consents::table
                    .find(id)
                    .select(ConsentRow::as_select())
                    .first(conn)
                    .optional()
                    .map_err(failed("consent"))
            }

            pub(crate) fn put_consent(conn: &mut Conn, row: &ConsentRow) -> Result<(), StoreError> {
                diesel::insert_into(mcp_oauth_consents::table)
                    .values(row)
                    .on_conflict(conflict_target!($flavor, mcp_oauth_consents::id))
                    .do_update()
                    .set(row)
                    .execute(conn)
                    .map_err(failed("put_consent"))?;
                Ok(())
            }

            pub(crate) fn revoke_consent(conn: &mut Conn, id: &str) -> Result<(), StoreError> {
                diesel::delete(mcp_oauth_consents::table.find(id)).execute(conn).map_err(failed("revoke_consent"))?;
                Ok(())
            }

            pub(crate) fn signing_keys(conn: &mut Conn) -> Result<Vec<KeyRow>, StoreError> {
                mcp_oauth_signing_keys::table
                    .select(KeyRow::as_select())
                    .order((mcp_oauth_signing_keys::created_at, mcp_oauth_signing_keys::kid))
                    .load(conn)
                    .map_err(failed("signing_keys"))
            }

            pub(crate) fn add_signing_key(
                conn: &mut Conn,
                row: &KeyRow,
                retire_others: bool,
            ) -> Result<(), StoreError> {
                conn.transaction(|conn: &mut Conn| -> QueryResult<()> {
                    if retire_others {
                        diesel::update(
                            mcp_oauth_signing_keys::table
                                .filter(mcp_oauth_signing_keys::retired_at.is_null())
                                .filter(mcp_oauth_signing_keys::kid.ne(&row.kid)),
                        )
                        .set(mcp_oauth_signing_keys::retired_at.eq(row.created_at))
                        .execute(conn)?;
                    }
                    diesel::insert_into(mcp_oauth_signing_keys::table)
                        .values(row)
                        .on_conflict_do_nothing()
                        .execute(conn)?;
                    Ok(())
                })
                .map_err(failed("add_signing_key"))
            }

            /// Set-if-absent: insert the candidate unless a secret is there, then read.
            pub(crate) fn secret(conn: &mut Conn, candidate: &[u8]) -> Result<Vec<u8>, StoreError> {
                diesel::insert_into(mcp_oauth_secret::table)
                    .values((mcp_oauth_secret::id.eq(1), mcp_oauth_secret::secret.eq(candidate)))
                    .on_conflict_do_nothing()
                    .execute(conn)
                    .map_err(failed("secret"))?;
                mcp_oauth_secret::table.find(1).select(mcp_oauth_secret::secret).first(conn).map_err(failed("secret"))
            }

            /// Delete expired rows (`now` is the wall clock).
            pub(crate) fn prune(conn: &mut Conn, now: i64) -> QueryResult<usize> {
                let mut n = diesel::delete(mcp_oauth_pending::table.filter(mcp_oauth_pending::expires_at.le(now)))
                    .execute(conn)?;
                n += diesel::delete(
                    mcp_oauth_codes::table.filter(mcp_oauth_codes::expires_at.le(now - SPENT_CODE_MEMORY)),
                )
                .execute(conn)?;
                n += diesel::delete(
                    mcp_oauth_refresh_tokens::table.filter(mcp_oauth_refresh_tokens::expires_at.le(now)),
                )
                .execute(conn)?;
                n += diesel::delete(
                    mcp_oauth_revoked_families::table
                        .filter(mcp_oauth_revoked_families::revoked_at.le(now - REVOKED_FAMILY_MEMORY))
                        .filter(diesel::dsl::not(diesel::dsl::exists(
                            mcp_oauth_refresh_tokens::table
                                .filter(mcp_oauth_refresh_tokens::family.eq(mcp_oauth_revoked_families::family)),
                        ))),
                )
                .execute(conn)?;
                Ok(n)
            }
        }
    };
}

#[cfg(feature = "sqlite")]
backend!(sqlite, diesel::SqliteConnection, sqlite);
#[cfg(feature = "postgres")]
backend!(postgres, diesel::PgConnection, postgres);
#[cfg(feature = "mysql")]
backend!(mysql, diesel::MysqlConnection, mysql);
