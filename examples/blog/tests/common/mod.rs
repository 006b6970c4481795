//! What the blog's test files share: a fresh database in a temporary directory, and the
//! whole app over it with alice and bob.

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

/// The blog app on a fresh, seeded database, with alice and bob signed up.
#[allow(dead_code)] // Not every test file serves the app.
pub(crate) fn app(prefix: &str) -> (axum::Router, TempDir) {
    let dir = TempDir::new(prefix);
    let db = blog::open_database(dir.db().to_str().unwrap()).unwrap();
    (app_on(db), dir)
}

/// The blog app on `db`, with alice and bob signed up.
#[allow(dead_code)] // Not every test file serves the app.
pub(crate) fn app_on(db: blog::Database) -> axum::Router {
    let users = blog::users(&db, &[("alice".into(), ALICE.into()), ("bob".into(), BOB.into())]).unwrap();
    let auth = blog::BlogAuth::tokens(&users);
    blog::app(blog::mcp_server(db.clone(), &auth).unwrap(), db, auth, |r| r)
}
