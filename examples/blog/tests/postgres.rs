//! The demo blog on PostgreSQL (`--features postgres`): a fresh database per test, created
//! and dropped through `MCP_TEST_POSTGRES_URL`; the app served on 127.0.0.1 and driven over
//! real HTTP by alice and bob. Skipped, saying so, when the variable is not set. (With both,
//! the other behaviour suites run on PostgreSQL too: see `common::app`.)

#[cfg(not(feature = "postgres"))]
#[test]
fn postgres_needs_the_feature() {
    eprintln!("skipped: the blog's PostgreSQL tests need `--features postgres` and MCP_TEST_POSTGRES_URL");
}

#[cfg(feature = "postgres")]
mod common;

#[cfg(feature = "postgres")]
mod pg {
    use diesel::prelude::*;
    use serde_json::{Value, json};

    use crate::common::{ALICE, BOB, TestDatabase};

    fn count(conn: &mut PgConnection, table: &str) -> i64 {
        #[derive(QueryableByName)]
        struct Count {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            n: i64,
        }
        diesel::sql_query(format!("SELECT COUNT(*) AS n FROM {table}")).get_result::<Count>(conn).unwrap().n
    }

    struct App {
        base: String,
        http: reqwest::Client,
    }

    async fn serve(db: blog::Database) -> App {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(mcp_axum::serve(listener, crate::common::app_on(db)));
        App { base: format!("http://{addr}"), http: reqwest::Client::new() }
    }

    impl App {
        /// One stateless MCP request as `token`: the JSON-RPC answer.
        async fn mcp(&self, token: &str, method: &str, mut params: Value) -> Value {
            params["_meta"] = json!({
                "io.modelcontextprotocol/protocolVersion": "2026-07-28",
                "io.modelcontextprotocol/clientCapabilities": {},
            });
            let body = json!({ "jsonrpc": "2.0", "id": 1, "method": method, "params": params });
            let mut req = self
                .http
                .post(format!("{}/mcp", self.base))
                .bearer_auth(token)
                .header("content-type", "application/json")
                .header("accept", "application/json, text/event-stream")
                .header("mcp-protocol-version", "2026-07-28")
                .header("mcp-method", method);
            if let Some(name) = params["name"].as_str() {
                req = req.header("mcp-name", name);
            }
            let r = req.body(body.to_string()).send().await.unwrap();
            assert_eq!(r.status().as_u16(), 200);
            let text = r.text().await.unwrap();
            serde_json::from_str(&text).unwrap_or_else(|_| {
                text.lines()
                    .rev()
                    .filter_map(|l| l.strip_prefix("data:"))
                    .filter_map(|d| serde_json::from_str::<Value>(d.trim()).ok())
                    .find(|m| m.get("id").is_some())
                    .unwrap_or(Value::Null)
            })
        }

        /// A tool call that succeeds: its structured result.
        async fn ok(&self, token: &str, tool: &str, args: Value) -> Value {
            let v = self.mcp(token, "tools/call", json!({ "name": tool, "arguments": args })).await;
            assert_ne!(v["result"]["isError"], true, "{tool} {args}: {v}");
            v["result"]["structuredContent"].clone()
        }

        /// A tool call that fails: its message.
        async fn err(&self, token: &str, tool: &str, args: Value) -> String {
            let v = self.mcp(token, "tools/call", json!({ "name": tool, "arguments": args })).await;
            assert_eq!(v["result"]["isError"], true, "{tool} {args}: {v}");
            v["result"]["content"][0]["text"].as_str().unwrap_or_default().to_owned()
        }

        /// A request to the JSON API: the status and the body.
        async fn rest(&self, path: &str, token: Option<&str>) -> (u16, Value) {
            let mut req = self.http.get(format!("{}{path}", self.base));
            if let Some(t) = token {
                req = req.bearer_auth(t);
            }
            let r = req.send().await.unwrap();
            (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_blog_on_postgres() {
        let Some(database) = TestDatabase::create("the_blog_on_postgres") else { return };

        // The database, its tables and the demo data.
        let db = blog::open_database(&database.url).unwrap();
        assert!(matches!(db, blog::Database::Postgres(_)));
        let mut conn = database.conn();
        assert_eq!(count(&mut conn, "authors"), 20);
        assert_eq!(count(&mut conn, "posts"), i64::from(blog::seed::POSTS));
        assert_eq!(count(&mut conn, "comments"), i64::from(blog::seed::COMMENTS));
        assert_eq!(count(&mut conn, "audit_log"), 0);
        assert_eq!(count(&mut conn, "tags"), 15);
        assert!(count(&mut conn, "post_tags") >= i64::from(blog::seed::POSTS));
        // The blog's three and the authorization server's `mcp_oauth_` tables.
        assert_eq!(count(&mut conn, "__diesel_schema_migrations"), 4);
        assert_eq!(count(&mut conn, "mcp_oauth_clients"), 0);

        let app = serve(db).await;
        let tools = app.mcp(ALICE, "tools/list", json!({})).await;
        assert_eq!(tools["result"]["tools"].as_array().map(Vec::len), Some(31), "{tools}");

        // Searching is case-insensitive here too; the report and the slow tool work.
        let page = app.ok(ALICE, "posts_list", json!({ "search": "rust", "order_by": ["-views"], "limit": 5 })).await;
        assert_eq!(page["returned"], 5, "{page}");
        let report = app.ok(ALICE, "posts_per_author", json!({ "top": 3 })).await;
        let views: Vec<i64> = report.as_array().unwrap().iter().map(|s| s["views"].as_i64().unwrap()).collect();
        assert!(views.len() == 3 && views.windows(2).all(|w| w[0] >= w[1]), "{report}");
        let words = app.ok(ALICE, "word_count", json!({})).await;
        let readable = app.ok(ALICE, "posts_count", json!({})).await;
        assert_eq!(words["posts"], readable["count"], "{words} {readable}");
        assert!(words["words"].as_u64().unwrap() > 1000, "{words}");

        // Scoping: each sees their own drafts only.
        let alice_drafts = app.ok(ALICE, "posts_count", json!({ "filter": { "published": false } })).await;
        let bob_drafts = app.ok(BOB, "posts_count", json!({ "filter": { "published": false } })).await;
        let all_drafts = count(&mut conn, "posts WHERE NOT published");
        let (a, b) = (alice_drafts["count"].as_i64().unwrap(), bob_drafts["count"].as_i64().unwrap());
        assert!(a > 0 && b > 0 && a + b < all_drafts, "{a} {b} {all_drafts}");
        assert_eq!(a, count(&mut conn, "posts WHERE NOT published AND author_id = 1"));

        // A draft of alice's: new ids follow the demo data's.
        let draft = app.ok(ALICE, "posts_create", json!({ "title": "On PostgreSQL", "body": "It works." })).await;
        let id = draft["id"].as_i64().unwrap();
        assert!(id > i64::from(blog::seed::POSTS), "{draft}");
        assert_eq!((draft["author_id"].clone(), draft["published"].clone()), (json!(1), json!(false)));
        let hidden = app.err(BOB, "posts_get", json!({ "id": id })).await;
        assert!(hidden.contains("no posts with `id`"), "{hidden}");
        let refused = app.err(BOB, "posts_patch", json!({ "id": id, "title": "Bob was here" })).await;
        assert!(refused.contains("no posts with `id`"), "{refused}");
        let patched = app.ok(ALICE, "posts_patch", json!({ "id": id, "title": "On PostgreSQL, revised" })).await;
        assert_eq!(patched["title"], "On PostgreSQL, revised");

        // Publishing: the post and an audit row in one transaction; only the author may.
        assert!(app.err(BOB, "publish_post", json!({ "id": id })).await.contains("no post of yours"));
        assert_eq!(count(&mut conn, "audit_log"), 0);
        let published = app.ok(ALICE, "publish_post", json!({ "id": id })).await;
        assert_eq!(published["published"], true, "{published}");
        assert!(published["published_at"].is_string(), "{published}");
        assert_eq!(count(&mut conn, "audit_log WHERE actor = 'alice' AND action = 'publish_post'"), 1);
        assert_eq!(app.ok(BOB, "posts_get", json!({ "id": id })).await["title"], "On PostgreSQL, revised");

        // The JSON API as a route tool: bob's draft is his through REST too.
        let bobs = app.ok(BOB, "create_draft", json!({ "title": "  Bob's draft ", "body": "Hello." })).await;
        let bob_id = bobs["id"].as_i64().unwrap();
        assert_eq!((bobs["title"].clone(), bobs["author_id"].clone()), (json!("Bob's draft"), json!(2)));
        assert_eq!(app.rest(&format!("/api/posts/{bob_id}"), None).await.0, 404);
        assert_eq!(app.rest(&format!("/api/posts/{bob_id}"), Some(BOB)).await.1["title"], "Bob's draft");
        let refused = app.err(ALICE, "patch_api_posts_id", json!({ "id": bob_id, "title": "Alice was here" })).await;
        assert!(refused.contains("404"), "{refused}");
        let (status, listed) = app.rest("/api/posts?author_id=1&limit=1", None).await;
        assert_eq!((status, listed[0]["id"].as_i64()), (200, Some(id)), "newest published first");

        // Includes through the relations: a published post with its author and comments.
        let page = app
            .ok(
                BOB,
                "posts_list",
                json!({ "filter": { "comments": {}, "author.name": "carol" },
                        "include": ["author", "comments"], "limit": 1 }),
            )
            .await;
        let post = &page["items"][0];
        let post_id = post["id"].as_i64().expect("carol has a post with comments");
        assert_eq!(post["author"]["name"], "carol");
        assert!(post["author"].get("email").is_none(), "{post}");
        let comments = post["comments"].as_array().unwrap();
        assert!(!comments.is_empty() && comments.iter().all(|c| c["post_id"] == post_id), "{post}");
        let listed = app.ok(BOB, "comments_count", json!({ "filter": { "post_id": post_id } })).await;
        assert_eq!(listed["count"].as_u64(), Some(comments.len() as u64));
        assert_eq!(listed["count"].as_i64(), Some(count(&mut conn, &format!("comments WHERE post_id = {post_id}"))));

        // A second start on the same database: no second seed, ids keep counting.
        let again = blog::open_database(&database.url).unwrap();
        assert_eq!(count(&mut conn, "posts"), i64::from(blog::seed::POSTS) + 2);
        let users = blog::users(&again, &[("zed".into(), "zed-token-0003".into())]).unwrap();
        assert_eq!(users[0].author_id, 21);
        drop(conn);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn health_is_503_while_the_database_is_down() {
        use diesel::connection::SimpleConnection;
        let Some(database) = TestDatabase::create("health_is_503_while_the_database_is_down") else { return };
        let db = blog::open_database(&database.url).unwrap();
        let app = serve(db).await;
        let health = || async {
            let started = std::time::Instant::now();
            let r = app.http.get(format!("{}/health", app.base)).send().await.unwrap();
            (r.status().as_u16(), r.text().await.unwrap(), started.elapsed())
        };
        assert_eq!(health().await.0, 200);

        // The database goes away: its connections are cut and no new one is let in.
        let admin_url = std::env::var("MCP_TEST_POSTGRES_URL").unwrap();
        let mut admin = PgConnection::establish(&admin_url).unwrap();
        admin
            .batch_execute(&format!(
                "ALTER DATABASE {0} WITH ALLOW_CONNECTIONS false; \
                 SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{0}';",
                database.name
            ))
            .unwrap();
        let (status, text, took) = health().await;
        assert_eq!(status, 503, "{text}");
        assert!(took < std::time::Duration::from_secs(4), "the check took {took:?}");

        // Back: healthy again.
        admin.batch_execute(&format!("ALTER DATABASE {} WITH ALLOW_CONNECTIONS true", database.name)).unwrap();
        let mut status = 0;
        for _ in 0..10 {
            status = health().await.0;
            if status == 200 {
                break;
            }
        }
        assert_eq!(status, 200);
    }

    /// Creates sent over HTTP while another transaction holds the posts table locked: each
    /// one reported as failed wrote nothing and says a retry is safe; each reported as done
    /// wrote exactly one row. (Before, they were "abandoned; narrow the filter" while the
    /// statements ran on and committed once the lock was gone.)
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn creates_under_a_table_lock_say_what_happened() {
        use diesel::connection::SimpleConnection;
        use std::time::Duration;
        let Some(database) = TestDatabase::create("creates_under_a_table_lock") else { return };
        let app = std::sync::Arc::new(serve(blog::open_database(&database.url).unwrap()).await);
        let mut lock = database.conn();
        lock.batch_execute("BEGIN; LOCK TABLE posts IN ACCESS EXCLUSIVE MODE").unwrap();
        let start = tokio::time::Instant::now();
        // Held past the tools' lock wait (nine tenths of the 10 s statement timeout).
        let release = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(9600));
            lock.batch_execute("COMMIT").unwrap();
            lock
        });
        // Six at once; two more that start waiting at 5 s and get the lock when it goes.
        let mut calls = tokio::task::JoinSet::new();
        for (i, at) in [0, 0, 0, 0, 0, 0, 5000, 5000].into_iter().enumerate() {
            let app = app.clone();
            calls.spawn(async move {
                tokio::time::sleep_until(start + Duration::from_millis(at)).await;
                let title = format!("written under a lock {i}");
                let args = json!({ "title": title, "body": "..." });
                (title, app.mcp(ALICE, "tools/call", json!({ "name": "posts_create", "arguments": args })).await)
            });
        }
        let mut answers = Vec::new();
        while let Some(r) = calls.join_next().await {
            answers.push(r.unwrap());
        }
        let mut conn = release.join().unwrap();
        tokio::time::sleep(Duration::from_millis(500)).await;
        let (mut failed, mut done) = (0, 0);
        for (title, answer) in &answers {
            let rows = count(&mut conn, &format!("posts WHERE title = '{title}'"));
            let text = answer["result"]["content"][0]["text"].as_str().unwrap_or_default();
            if answer["result"]["isError"] == true {
                failed += 1;
                assert_eq!(rows, 0, "{title} was reported as failed but wrote {rows} row(s): {text}");
                assert!(
                    text.contains("waited too long for a lock") && text.contains("nothing was written"),
                    "{title}: {text}"
                );
                assert!(text.contains("Retry"), "{title}: {text}");
            } else {
                done += 1;
                assert_eq!(rows, 1, "{title} was reported as created but wrote {rows} row(s): {answer}");
            }
        }
        assert_eq!((failed, done), (6, 2), "{answers:?}");
    }

    #[test]
    fn a_bad_postgres_url_is_a_clear_error() {
        let Some(database) = TestDatabase::create("a_bad_postgres_url_is_a_clear_error") else { return };
        let (_, rest) = database.url.split_once('@').unwrap();
        let err = blog::open_database(&format!("postgres://no_such_role_here@{rest}")).unwrap_err().to_string();
        assert!(err.contains("no_such_role_here"), "{err}");
    }
}
