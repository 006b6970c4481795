//! `DieselAuthStore` on a real SQLite file, and on PostgreSQL and MySQL/MariaDB when
//! `MCP_TEST_POSTGRES_URL` / `MCP_TEST_MYSQL_URL` are set (with `--features
//! postgres,mysql`; each run makes a database of its own and drops it). With
//! `MCP_TEST_REQUIRE_ALL_BACKENDS` set (CI), a skipped backend is a failure.
//!
//! Each backend runs the `AuthStore` contract (`mcp_axum::testing::check_auth_store`), then
//! the replica checks: two stores with pools of their own on one database, as two
//! processes would be.

#![allow(missing_docs)]

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
        let store = DieselAuthStore::open(&db.url).await.unwrap();
        // Opening again finds the tables there (the migration is recorded, not rerun).
        let again = DieselAuthStore::open(&db.url).await.unwrap();
        mcp_axum::testing::check_auth_store(&store).await;
        drop(again);
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
