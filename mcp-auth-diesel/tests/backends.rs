//! `DieselAuthStore` on a real SQLite file, and on PostgreSQL and MySQL/MariaDB when
//! `MCP_TEST_POSTGRES_URL` / `MCP_TEST_MYSQL_URL` are set (with `--features
//! postgres,mysql`; each run makes a database of its own and drops it). With
//! `MCP_TEST_REQUIRE_ALL_BACKENDS` set (CI), a skipped backend is a failure.
//!
//! Each backend runs the `AuthStore` contract (`mcp_axum::testing::check_auth_store`), then
//! the replica checks: two stores with pools of their own on one database, as two
//! processes would be.

#![allow(missing_docs)]
// SQLite is the backend every run has (the default feature).
#![cfg(feature = "sqlite")]

use mcp_auth_diesel::DieselAuthStore;
use mcp_axum::auth::server::AuthStore;
use mcp_axum::auth::server::store::{Client, ClientAuth, Code, CodeUse, Digest, Grant, Refresh, RefreshUse};

/// A database of one test run, and how to drop it.
struct TestDb {
    name: &'static str,
    url: String,
    drop: Option<Box<dyn FnOnce()>>,
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some(d) = self.drop.take() {
            d();
        }
    }
}

fn unique(prefix: &str) -> String {
    static SEQ: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    let seq = SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!("{prefix}_{}_{nanos}_{seq}", std::process::id())
}

fn sqlite() -> TestDb {
    let dir = std::env::temp_dir().join(unique("mcp_auth_diesel"));
    std::fs::create_dir_all(&dir).unwrap();
    let url = dir.join("auth.db").to_str().unwrap().to_owned();
    TestDb {
        name: "SQLite",
        url,
        drop: Some(Box::new(move || {
            let _ = std::fs::remove_dir_all(&dir);
        })),
    }
}

/// `url` with its database name replaced by `db`.
#[cfg(any(feature = "postgres", feature = "mysql"))]
fn with_database(url: &str, db: &str) -> String {
    let (base, query) = url.split_once('?').map_or((url, None), |(b, q)| (b, Some(q)));
    let (server, _) = base.rsplit_once('/').expect("a database URL ends in /NAME");
    match query {
        Some(q) => format!("{server}/{db}?{q}"),
        None => format!("{server}/{db}"),
    }
}

#[cfg(feature = "postgres")]
fn postgres(admin_url: String) -> TestDb {
    use diesel::Connection as _;
    use diesel::connection::SimpleConnection as _;
    let db = unique("mcp_auth_test");
    let mut admin = diesel::PgConnection::establish(&admin_url).expect("MCP_TEST_POSTGRES_URL: cannot connect");
    admin.batch_execute(&format!("CREATE DATABASE {db}")).unwrap();
    TestDb {
        name: "PostgreSQL",
        url: with_database(&admin_url, &db),
        drop: Some(Box::new(move || {
            let _ = admin.batch_execute(&format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"));
        })),
    }
}

#[cfg(feature = "mysql")]
fn mysql(admin_url: String) -> TestDb {
    use diesel::Connection as _;
    use diesel::connection::SimpleConnection as _;
    let db = unique("mcp_auth_test");
    let mut admin = diesel::MysqlConnection::establish(&admin_url).expect("MCP_TEST_MYSQL_URL: cannot connect");
    // A case-insensitive default collation, as many servers have: the tables must not
    // inherit it.
    admin.batch_execute(&format!("CREATE DATABASE {db} CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci")).unwrap();
    TestDb {
        name: "MySQL",
        url: with_database(&admin_url, &db),
        drop: Some(Box::new(move || {
            let _ = admin.batch_execute(&format!("DROP DATABASE IF EXISTS {db}"));
        })),
    }
}

fn skipped(why: &str) {
    assert!(std::env::var_os("MCP_TEST_REQUIRE_ALL_BACKENDS").is_none(), "MCP_TEST_REQUIRE_ALL_BACKENDS is set: {why}");
    eprintln!("skipped: {why}");
}

/// SQLite always; PostgreSQL and MySQL when their URLs are set (and their features on).
fn databases() -> Vec<TestDb> {
    #[cfg_attr(not(any(feature = "postgres", feature = "mysql")), allow(unused_mut))]
    let mut out = vec![sqlite()];
    match std::env::var("MCP_TEST_POSTGRES_URL") {
        #[cfg(feature = "postgres")]
        Ok(url) => out.push(postgres(url)),
        #[cfg(not(feature = "postgres"))]
        Ok(_) => skipped("PostgreSQL: MCP_TEST_POSTGRES_URL is set but the `postgres` feature is off"),
        Err(_) => skipped("PostgreSQL: set MCP_TEST_POSTGRES_URL (and --features postgres) to run it"),
    }
    match std::env::var("MCP_TEST_MYSQL_URL") {
        #[cfg(feature = "mysql")]
        Ok(url) => out.push(mysql(url)),
        #[cfg(not(feature = "mysql"))]
        Ok(_) => skipped("MySQL: MCP_TEST_MYSQL_URL is set but the `mysql` feature is off"),
        Err(_) => skipped("MySQL: set MCP_TEST_MYSQL_URL (and --features mysql) to run it"),
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_backend_keeps_the_auth_store_contract() {
    for db in databases() {
        eprintln!("{}: the AuthStore contract", db.name);
        // Two replicas starting at once on an empty database: both come up.
        let (store, other) = tokio::join!(DieselAuthStore::open(&db.url), DieselAuthStore::open(&db.url));
        let (store, other) = (store.unwrap(), other.unwrap());
        // Opening again finds the tables there (the migration is recorded, not rerun).
        let again = DieselAuthStore::open(&db.url).await.unwrap();
        mcp_axum::testing::check_auth_store(&store).await;
        drop((other, again));
    }
}

const NOW: u64 = 2_000_000_000;

fn grant(family: &str) -> Grant {
    Grant {
        client_id: "replicated-client".into(),
        subject: "alice".into(),
        claims: serde_json::Map::new(),
        scopes: vec!["posts:read".into()],
        resource: "https://app.example/mcp".into(),
        family: family.into(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_on_one_database_share_codes_tokens_and_clients() {
    for db in databases() {
        let name = db.name;
        eprintln!("{name}: two replicas");
        // Two stores with two pools: what two processes of one app would have.
        let a = DieselAuthStore::open(&db.url).await.unwrap();
        let b = DieselAuthStore::open(&db.url).await.unwrap();

        // A client registered at one is known at the other, by its exact id only.
        let client = Client {
            client_id: "Replicated-Client".into(),
            secret: Some(Digest::of("s")),
            auth: ClientAuth::ClientSecretBasic,
            redirect_uris: vec!["https://app.example/cb".into()],
            client_name: None,
            created_at: NOW,
        };
        a.put_client(&client).await.unwrap();
        assert!(b.client("Replicated-Client").await.unwrap().is_some(), "{name}: a client put at A is known at B");
        assert!(b.client("replicated-client").await.unwrap().is_none(), "{name}: client ids compare case-sensitively");
        assert!(b.client("Replicated-Client ").await.unwrap().is_none(), "{name}: a trailing space is another id");

        // A code issued by A is spent at B, and replayed at A.
        let code = Digest::of("a-code");
        let record = Code {
            grant: grant("code-family"),
            redirect_uri: "https://app.example/cb".into(),
            code_challenge: "c".into(),
            expires_at: NOW + 60,
        };
        a.put_code(&code, &record).await.unwrap();
        assert!(matches!(b.take_code(&code, NOW).await.unwrap(), CodeUse::Fresh(_)), "{name}: B spends A's code");
        assert!(matches!(a.take_code(&code, NOW).await.unwrap(), CodeUse::Replayed(_)), "{name}: A sees it replayed");

        // Presented at both at once, many times: one wins across the two pools.
        let raced = Digest::of("raced-code");
        a.put_code(&raced, &record).await.unwrap();
        let uses = futures_util::future::join_all(
            (0..12).map(|i| if i % 2 == 0 { a.take_code(&raced, NOW) } else { b.take_code(&raced, NOW) }),
        )
        .await;
        let fresh = uses.iter().filter(|u| matches!(u, Ok(CodeUse::Fresh(_)))).count();
        let replayed = uses.iter().filter(|u| matches!(u, Ok(CodeUse::Replayed(_)))).count();
        assert_eq!((fresh, replayed), (1, 11), "{name}: 12 uses of one code through two replicas: {uses:?}");

        // A refresh token rotated at A is in grace at B, refused after it, and its family
        // is dead at both.
        let grace = 30;
        let first = Digest::of("refresh-first");
        let sibling = Digest::of("refresh-sibling");
        let r = Refresh { grant: grant("refresh-family"), expires_at: NOW + 3600, used_at: None };
        a.put_refresh(&first, &r).await.unwrap();
        a.put_refresh(&sibling, &r).await.unwrap();
        assert!(matches!(a.use_refresh(&first, NOW, grace).await.unwrap(), RefreshUse::Rotated(_)), "{name}");
        assert!(
            matches!(b.use_refresh(&first, NOW + grace, grace).await.unwrap(), RefreshUse::Grace(_)),
            "{name}: within the grace window B answers with the same successor"
        );
        assert!(
            matches!(b.use_refresh(&first, NOW + grace + 1, grace).await.unwrap(), RefreshUse::Reused(_)),
            "{name}: after the grace window B refuses it and revokes the family"
        );
        assert!(
            matches!(a.use_refresh(&sibling, NOW + grace + 2, grace).await.unwrap(), RefreshUse::Unknown),
            "{name}: the family is dead at A too"
        );
        assert!(a.refresh(&sibling, NOW).await.unwrap().is_none(), "{name}");

        // Rotated at both at once: one rotation, the rest in grace, the family alive.
        let raced = Digest::of("refresh-raced");
        let r = Refresh { grant: grant("raced-family"), expires_at: NOW + 3600, used_at: None };
        b.put_refresh(&raced, &r).await.unwrap();
        let uses =
            futures_util::future::join_all((0..12).map(|i| {
                if i % 2 == 0 { a.use_refresh(&raced, NOW, grace) } else { b.use_refresh(&raced, NOW, grace) }
            }))
            .await;
        let rotated = uses.iter().filter(|u| matches!(u, Ok(RefreshUse::Rotated(_)))).count();
        let in_grace = uses.iter().filter(|u| matches!(u, Ok(RefreshUse::Grace(_)))).count();
        assert_eq!((rotated, in_grace), (1, 11), "{name}: 12 uses of one refresh token through two replicas: {uses:?}");

        // Both replicas get the same successor secret, whoever asks first.
        let (sa, sb) = tokio::join!(a.secret(&[1; 32]), b.secret(&[2; 32]));
        assert_eq!(sa.unwrap(), sb.unwrap(), "{name}: one secret for both replicas");
    }
}

#[tokio::test]
async fn open_refuses_what_it_cannot_serve() {
    let err = DieselAuthStore::open(":memory:").await.unwrap_err().to_string();
    assert!(err.contains("SQLite file path"), "{err}");
    let err = DieselAuthStore::open("redis://127.0.0.1").await.unwrap_err().to_string();
    assert!(err.contains("`redis://`") && err.contains("postgres://"), "{err}");
}

#[tokio::test]
async fn expired_rows_are_pruned_and_live_ones_kept() {
    let db = sqlite();
    let store = DieselAuthStore::open(&db.url).await.unwrap();
    let wall = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let old = Refresh { grant: grant("old"), expires_at: wall - 1, used_at: None };
    let live = Refresh { grant: grant("live"), expires_at: wall + 3600, used_at: None };
    store.put_refresh(&Digest::of("old"), &old).await.unwrap();
    store.put_refresh(&Digest::of("live"), &live).await.unwrap();
    let spent_long_ago =
        Code { grant: grant("c"), redirect_uri: "x".into(), code_challenge: "c".into(), expires_at: wall - 601 };
    let spent_lately = Code { expires_at: wall - 10, ..spent_long_ago.clone() };
    store.put_code(&Digest::of("code-old"), &spent_long_ago).await.unwrap();
    store.put_code(&Digest::of("code-late"), &spent_lately).await.unwrap();
    assert_eq!(store.prune().await.unwrap(), 2, "the expired refresh token and the long-expired code");
    assert!(store.refresh(&Digest::of("live"), wall).await.unwrap().is_some());
    // A code expired lately is still recognised as a replay.
    assert!(matches!(store.take_code(&Digest::of("code-late"), wall).await.unwrap(), CodeUse::Fresh(_)));
    assert!(matches!(store.take_code(&Digest::of("code-old"), wall).await.unwrap(), CodeUse::Unknown));
}

fn pending(expires_at: u64) -> mcp_axum::auth::server::store::Pending {
    mcp_axum::auth::server::store::Pending {
        client_id: "c".into(),
        redirect_uri: "http://127.0.0.1/cb".into(),
        state: "s".into(),
        code_challenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM".into(),
        scopes: vec![],
        resource: "https://app.example/mcp".into(),
        browser: Digest::of("b"),
        csrf: Digest::of("c"),
        principal: None,
        expires_at,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_ins_in_progress_are_bounded_across_replicas() {
    for db in databases() {
        let name = db.name;
        let a = DieselAuthStore::open(&db.url).await.unwrap().max_pending(3);
        let b = DieselAuthStore::open(&db.url).await.unwrap().max_pending(3);
        let wall = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
        // Expired ones do not count.
        a.put_pending(&Digest::of("expired"), &pending(wall - 1)).await.unwrap();
        for i in 0..3 {
            let store = if i % 2 == 0 { &a } else { &b };
            store.put_pending(&Digest::of(&format!("p{i}")), &pending(wall + 600)).await.unwrap();
        }
        // A third replica counts on its first new one: three are live, put by two others.
        let c = DieselAuthStore::open(&db.url).await.unwrap().max_pending(3);
        let err = c.put_pending(&Digest::of("p3"), &pending(wall + 600)).await.unwrap_err().to_string();
        assert!(err.contains("3 sign-ins are in progress"), "{name}: {err}");
        assert!(c.pending(&Digest::of("p3"), wall).await.unwrap().is_none(), "{name}: the refused one was not kept");
        // One in progress goes on (it exists), and once one ends a new one fits.
        c.put_pending(&Digest::of("p0"), &pending(wall + 601)).await.unwrap();
        b.remove_pending(&Digest::of("p1")).await.unwrap();
        c.put_pending(&Digest::of("p3"), &pending(wall + 600)).await.unwrap();
        assert!(a.pending(&Digest::of("p3"), wall).await.unwrap().is_some(), "{name}");
    }
}

fn count_rows(path: &str, table: &str) -> i64 {
    use diesel::prelude::*;
    #[derive(QueryableByName)]
    struct Count {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let mut conn = diesel::SqliteConnection::establish(path).unwrap();
    diesel::sql_query(format!("SELECT COUNT(*) AS n FROM {table}")).get_result::<Count>(&mut conn).unwrap().n
}

#[tokio::test]
async fn expired_rows_go_by_themselves_every_256_writes() {
    let db = sqlite();
    let store = DieselAuthStore::open(&db.url).await.unwrap();
    let wall = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    store
        .put_refresh(&Digest::of("old"), &Refresh { grant: grant("old"), expires_at: wall - 1, used_at: None })
        .await
        .unwrap();
    for i in 0..254 {
        store.put_consent("u", &format!("c{i}"), &[]).await.unwrap();
    }
    assert_eq!(count_rows(&db.url, "mcp_oauth_refresh_tokens"), 1, "255 writes: not pruned yet");
    store.put_consent("u", "last", &[]).await.unwrap();
    assert_eq!(count_rows(&db.url, "mcp_oauth_refresh_tokens"), 0, "the 256th write pruned the expired token");
}

#[tokio::test]
async fn a_revoked_family_is_forgotten_only_a_day_after_its_last_token() {
    use diesel::prelude::*;
    use mcp_auth_diesel::schema::mcp_oauth_revoked_families as revoked;
    let db = sqlite();
    let store = DieselAuthStore::open(&db.url).await.unwrap();
    let wall = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let day_ago = i64::try_from(wall).unwrap() - 86_401;
    let mut conn = diesel::SqliteConnection::establish(&db.url).unwrap();
    for family in ["old-empty", "old-with-a-token"] {
        diesel::insert_into(revoked::table)
            .values((revoked::family.eq(family), revoked::revoked_at.eq(day_ago)))
            .execute(&mut conn)
            .unwrap();
    }
    store.revoke_family("recent").await.unwrap();
    // A successor stored after the revocation (a race): its family must stay revoked.
    let late = Refresh { grant: grant("old-with-a-token"), expires_at: wall + 3600, used_at: None };
    store.put_refresh(&Digest::of("late"), &late).await.unwrap();
    assert_eq!(store.prune().await.unwrap(), 1);
    let left: Vec<String> = revoked::table.select(revoked::family).order(revoked::family).load(&mut conn).unwrap();
    assert_eq!(left, ["old-with-a-token", "recent"]);
    assert!(matches!(store.use_refresh(&Digest::of("late"), wall, 30).await.unwrap(), RefreshUse::Unknown));
}
