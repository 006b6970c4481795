//! What the blog's test files share: a fresh database in a temporary directory, and the
//! whole app over it with alice and bob.

/// The built-in authorization server, driven over HTTP.
#[allow(dead_code)] // Not every test file uses it.
pub(crate) mod oauth;

/// Alice's bearer token in the tests.
pub(crate) const ALICE: &str = "alice-token-0001";
/// Bob's bearer token in the tests.
pub(crate) const BOB: &str = "bob-token-0002";

/// A temporary directory, removed when dropped.
pub(crate) struct TempDir(pub(crate) std::path::PathBuf);

impl TempDir {
    /// A new, empty directory named after `prefix`, this process and the time.
    pub(crate) fn new(prefix: &str) -> Self {
        let dir = std::env::temp_dir().join(format!(
            "{prefix}-{}-{}",
            std::process::id(),
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    /// The database file in it.
    pub(crate) fn db(&self) -> std::path::PathBuf {
        self.0.join("blog.db")
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// What a test's database lives in, removed when dropped.
pub(crate) struct Fixture {
    _dir: TempDir,
    #[cfg(feature = "postgres")]
    _postgres: Option<TestDatabase>,
}

/// The blog app on a fresh, seeded database, with alice and bob signed up: an SQLite file,
/// or with the `postgres` feature and `MCP_TEST_POSTGRES_URL` set, a PostgreSQL database of
/// its own, so the same behaviour suites run on both.
#[allow(dead_code)] // Not every test file serves the app.
pub(crate) fn app(prefix: &str) -> (axum::Router, Fixture) {
    let dir = TempDir::new(prefix);
    #[cfg(feature = "postgres")]
    if std::env::var_os("MCP_TEST_POSTGRES_URL").is_some() {
        let pg = TestDatabase::create(prefix).unwrap();
        eprintln!("{prefix}: on PostgreSQL, database {}", pg.name);
        let db = blog::open_database(&pg.url).unwrap();
        return (app_on(db), Fixture { _dir: dir, _postgres: Some(pg) });
    }
    let db = blog::open_database(dir.db().to_str().unwrap()).unwrap();
    (
        app_on(db),
        Fixture {
            _dir: dir,
            #[cfg(feature = "postgres")]
            _postgres: None,
        },
    )
}

/// The blog app on `db`, with alice and bob signed up.
#[allow(dead_code)] // Not every test file serves the app.
pub(crate) fn app_on(db: blog::Database) -> axum::Router {
    let users = blog::users(&db, &[("alice".into(), ALICE.into()), ("bob".into(), BOB.into())]).unwrap();
    let auth = blog::BlogAuth::tokens(&users);
    blog::app(blog::mcp_server(db.clone(), &auth).unwrap(), db, auth, |r| r)
}

#[cfg(feature = "postgres")]
pub(crate) use postgres::TestDatabase;

/// Fresh PostgreSQL databases for tests.
#[cfg(feature = "postgres")]
#[allow(dead_code)] // Not every test file uses all of it.
mod postgres {
    use diesel::connection::SimpleConnection;
    use diesel::{Connection, PgConnection};

    /// A database of its own for one test (a fresh name: the blog creates it), dropped with
    /// its connections at the end.
    pub(crate) struct TestDatabase {
        admin_url: String,
        /// The database's name.
        pub(crate) name: String,
        /// Its URL.
        pub(crate) url: String,
    }

    impl TestDatabase {
        /// `None` (and a note) when `MCP_TEST_POSTGRES_URL` is not set; a failure instead when
        /// `MCP_TEST_REQUIRE_ALL_BACKENDS` is.
        pub(crate) fn create(test: &str) -> Option<Self> {
            let Ok(admin_url) = std::env::var("MCP_TEST_POSTGRES_URL") else {
                assert!(
                    std::env::var_os("MCP_TEST_REQUIRE_ALL_BACKENDS").is_none(),
                    "MCP_TEST_REQUIRE_ALL_BACKENDS is set but MCP_TEST_POSTGRES_URL is not"
                );
                eprintln!("skipped {test}: set MCP_TEST_POSTGRES_URL (e.g. postgres://postgres@127.0.0.1:5432/test)");
                return None;
            };
            let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
            static SEQ: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
            let seq = SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let name = format!("blog_test_{}_{nanos}_{seq}", std::process::id());
            PgConnection::establish(&admin_url).expect("MCP_TEST_POSTGRES_URL should accept connections");
            let (without_query, query) = match admin_url.split_once('?') {
                Some((u, q)) => (u, format!("?{q}")),
                None => (admin_url.as_str(), String::new()),
            };
            let (server, _) = without_query.rsplit_once('/').expect("a URL with a database name");
            let url = format!("{server}/{name}{query}");
            Some(TestDatabase { admin_url, name, url })
        }

        /// A connection to it.
        pub(crate) fn conn(&self) -> PgConnection {
            PgConnection::establish(&self.url).unwrap()
        }
    }

    impl Drop for TestDatabase {
        fn drop(&mut self) {
            if let Ok(mut admin) = PgConnection::establish(&self.admin_url) {
                let _ = admin.batch_execute(&format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name));
            }
        }
    }
}
