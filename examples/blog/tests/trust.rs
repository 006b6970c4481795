//! What the demo must get right because users copy it, over real HTTP on 127.0.0.1 with a
//! fresh SQLite file: `publish_post` is idempotent, the REST update is one transaction,
//! `/health` looks at the database.

mod common;

use common::{ALICE, TempDir};
use diesel::prelude::*;
use serde_json::{Value, json};

struct App {
    base: String,
    http: reqwest::Client,
    db: blog::Database,
    _dir: TempDir,
}

async fn start() -> App {
    let dir = TempDir::new("blog-trust");
    let db = blog::open_database(dir.db().to_str().unwrap()).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(mcp_axum::serve(listener, common::app_on(db.clone())));
    App { base: format!("http://{addr}"), http: reqwest::Client::new(), db, _dir: dir }
}

fn sqlite(db: &blog::Database) -> &mcp_diesel::SqlitePool {
    match db {
        blog::Database::Sqlite(pool) => pool,
        #[allow(unreachable_patterns)]
        _ => unreachable!("these tests open an SQLite file"),
    }
}

impl App {
    /// A tool call as `token` (stateless 2026-07-28): the `result`.
    async fn call(&self, token: &str, tool: &str, arguments: Value) -> Value {
        let body = json!({ "jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {
            "name": tool, "arguments": arguments,
            "_meta": { "io.modelcontextprotocol/protocolVersion": "2026-07-28",
                       "io.modelcontextprotocol/clientCapabilities": {} } } });
        let r = self
            .http
            .post(format!("{}/mcp", self.base))
            .bearer_auth(token)
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .header("mcp-protocol-version", "2026-07-28")
            .header("mcp-method", "tools/call")
            .header("mcp-name", tool)
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        r.json::<Value>().await.unwrap()["result"].clone()
    }

    async fn rest(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut req = self.http.request(method, format!("{}{path}", self.base)).bearer_auth(ALICE);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let r = req.send().await.unwrap();
        (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
    }

    fn audit_rows(&self, detail: &str) -> i64 {
        use blog::schema::audit_log;
        let mut conn = sqlite(&self.db).get().unwrap();
        audit_log::table.filter(audit_log::detail.eq(detail)).count().get_result(&mut conn).unwrap()
    }
}

#[tokio::test]
async fn publishing_twice_changes_nothing_and_says_so() {
    let app = start().await;
    let draft = app.call(ALICE, "posts_create", json!({ "title": "Twice", "body": "b" })).await;
    let id = draft["structuredContent"]["id"].as_i64().unwrap();
    let first = app.call(ALICE, "publish_post", json!({ "id": id })).await;
    assert_ne!(first["isError"], true, "{first}");
    let first = &first["structuredContent"];
    assert_eq!((first["published"].clone(), first["already_published"].clone()), (json!(true), json!(false)));
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;

    let second = app.call(ALICE, "publish_post", json!({ "id": id })).await;
    assert_ne!(second["isError"], true, "{second}");
    let second = &second["structuredContent"];
    assert_eq!(second["already_published"], true, "{second}");
    assert_eq!(second["published_at"], first["published_at"], "the publication time stays");
    assert_eq!(app.audit_rows(&format!("post {id}")), 1, "one audit entry for one publication");
}

#[tokio::test]
async fn the_rest_update_changes_both_fields_or_neither() {
    let app = start().await;
    let (status, post) =
        app.rest(reqwest::Method::POST, "/api/posts", Some(json!({ "title": "Before", "body": "Old text" }))).await;
    assert_eq!(status, 201, "{post}");
    let id = post["id"].as_i64().unwrap();
    // The database refuses this one body: the second statement of the update fails.
    let mut conn = sqlite(&app.db).get().unwrap();
    diesel::sql_query(
        "CREATE TRIGGER refuse_body BEFORE UPDATE OF body ON posts WHEN NEW.body = 'REFUSED' \
         BEGIN SELECT RAISE(ABORT, 'refused by a trigger'); END",
    )
    .execute(&mut conn)
    .unwrap();
    drop(conn);

    let path = format!("/api/posts/{id}");
    let (status, _) =
        app.rest(reqwest::Method::PATCH, &path, Some(json!({ "title": "After", "body": "REFUSED" }))).await;
    assert_eq!(status, 500);
    let (_, now) = app.rest(reqwest::Method::GET, &path, None).await;
    assert_eq!((now["title"].clone(), now["body"].clone()), (json!("Before"), json!("Old text")), "nothing changed");

    let (status, now) =
        app.rest(reqwest::Method::PATCH, &path, Some(json!({ "title": "After", "body": "New text" }))).await;
    assert_eq!(status, 200, "{now}");
    assert_eq!((now["title"].clone(), now["body"].clone()), (json!("After"), json!("New text")));
}

#[tokio::test]
async fn health_is_ok_while_the_database_answers() {
    let app = start().await;
    let r = app.http.get(format!("{}/health", app.base)).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.text().await.unwrap(), "ok");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_is_503_when_no_connection_can_be_had() {
    let app = start().await;
    // Every connection of the pool taken (a stuck database): `/health` says so within its
    // timeout instead of `ok`.
    let pool = sqlite(&app.db).clone();
    let held: Vec<_> = (0..pool.max_size()).map(|_| pool.get().unwrap()).collect();
    let started = std::time::Instant::now();
    let r = app.http.get(format!("{}/health", app.base)).send().await.unwrap();
    assert_eq!(r.status(), 503);
    assert!(started.elapsed() < std::time::Duration::from_secs(4), "{:?}", started.elapsed());
    drop(held);
    let r = app.http.get(format!("{}/health", app.base)).send().await.unwrap();
    assert_eq!(r.status(), 200);
}
