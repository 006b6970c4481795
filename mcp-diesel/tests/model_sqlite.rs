//! A Diesel model with `#[mcp_toolset]`, served by `ModelTools` and driven through the MCP
//! dispatcher, on a real SQLite file.

#![allow(missing_docs)]

use chrono::NaiveDateTime;
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use mcp_core::schemars::JsonSchema;
use mcp_core::testing::TestClient;
use mcp_core::{Principal, Server, ToolError};
use mcp_diesel::{ModelTools, SqlitePool};
use serde::Serialize;
use serde_json::{Value, json};

mod schema {
    diesel::table! {
        posts (id) {
            id -> Integer,
            title -> Text,
            body -> Nullable<Text>,
            views -> BigInt,
            published -> Bool,
            created_at -> Timestamp,
            owner_id -> Integer,
            secret -> Text,
        }
    }
}

/// Blog posts, newest first.
#[derive(Queryable, Selectable, Serialize, JsonSchema)]
#[diesel(table_name = schema::posts, check_for_backend(diesel::sqlite::Sqlite))]
#[schemars(crate = "mcp_core::schemars")]
#[mcp_core::mcp_toolset(search(title, body), max_limit = 5, default_limit = 3)]
pub struct Post {
    pub id: i32,
    pub title: String,
    pub body: Option<String>,
    pub views: i64,
    pub published: bool,
    pub created_at: NaiveDateTime,
    #[mcp(skip)]
    pub owner_id: i32,
    #[mcp(skip)]
    pub secret: String,
}

fn pool() -> SqlitePool {
    let dir = std::env::temp_dir().join(format!("mcp-diesel-model-{}-{}", std::process::id(), rand_suffix()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("db.sqlite");
    let pool = mcp_diesel::sqlite_pool(path.to_str().unwrap(), 4).unwrap();
    let mut conn = pool.get().unwrap();
    conn.batch_execute(
        "CREATE TABLE posts (
            id INTEGER PRIMARY KEY NOT NULL,
            title TEXT NOT NULL,
            body TEXT,
            views BIGINT NOT NULL,
            published BOOLEAN NOT NULL,
            created_at TIMESTAMP NOT NULL,
            owner_id INTEGER NOT NULL,
            secret TEXT NOT NULL
        );",
    )
    .unwrap();
    // Owner 1 has posts 1..=8, owner 2 has posts 9..=12.
    for id in 1..=12 {
        let owner = if id <= 8 { 1 } else { 2 };
        let body = if id % 4 == 0 { "NULL".to_owned() } else { format!("'body of post {id}, about Rust'") };
        let title = match id {
            1 => "Hello Rust".to_owned(),
            2 => "50% off_sale".to_owned(),
            3 => "hello world".to_owned(),
            _ => format!("Post {id}"),
        };
        conn.batch_execute(&format!(
            "INSERT INTO posts VALUES ({id}, '{title}', {body}, {views}, {published}, '2026-01-{day:02} 10:00:00', {owner}, 'secret {id}');",
            views = (id * 37) % 11,
            published = id % 2,
            day = id,
        ))
        .unwrap();
    }
    pool
}

fn rand_suffix() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed) + std::time::SystemTime::now().elapsed().map(|d| d.as_nanos() as u64).unwrap_or(0)
}

/// The server, each caller seeing only their own posts.
fn client(user: &str) -> TestClient {
    let tools = ModelTools::<Post, SqliteConnection>::new(pool()).scope(|ctx| {
        let user = ctx.principal().ok_or_else(|| ToolError::forbidden("sign in first"))?;
        let id: i32 = user.subject.parse().map_err(|_| ToolError::forbidden("unknown user"))?;
        Ok(json!({ "owner_id": id }))
    });
    let server = Server::builder().info(mcp_core::server_info!()).toolset(tools).build().unwrap();
    TestClient::modern(server).with_principal(Principal::new(user))
}

async fn call(c: &TestClient, tool: &str, args: Value) -> Value {
    let r = c.call_tool(tool, args).await.expect("protocol error");
    assert_ne!(r.is_error, Some(true), "{tool} failed: {:?}", r.content);
    r.structured_content.expect("structured content")
}

async fn call_err(c: &TestClient, tool: &str, args: Value) -> String {
    let r = c.call_tool(tool, args.clone()).await.expect("protocol error");
    assert_eq!(r.is_error, Some(true), "{tool} {args} should fail: {:?}", r.structured_content);
    serde_json::to_string(&r.content).unwrap()
}

fn ids(v: &Value) -> Vec<i64> {
    v["items"].as_array().unwrap().iter().map(|r| r["id"].as_i64().unwrap()).collect()
}

#[tokio::test]
async fn tools_are_described_without_hidden_fields() {
    let c = client("1");
    let tools = c.list_tools().await.unwrap();
    let names: Vec<&str> = tools.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["posts_list", "posts_get", "posts_count"]);
    for t in &tools {
        let text = serde_json::to_string(t).unwrap();
        assert!(!text.contains("owner_id") && !text.contains("secret"), "{text}");
        let ann = t.annotations.as_ref().unwrap();
        assert_eq!(ann.read_only_hint, Some(true));
        assert!(t.output_schema.is_some());
    }
    let list = serde_json::to_value(&tools[0]).unwrap();
    assert!(list["description"].as_str().unwrap().contains("Blog posts, newest first."));
    let filter_doc = list["inputSchema"]["properties"]["filter"]["description"].as_str().unwrap();
    assert!(filter_doc.contains("`created_at` (date-time)"), "{filter_doc}");
    assert!(filter_doc.contains("`body` (text, nullable)"), "{filter_doc}");
    assert_eq!(list["inputSchema"]["properties"]["limit"]["maximum"], 5);
    let get = serde_json::to_value(&tools[1]).unwrap();
    assert_eq!(get["inputSchema"]["required"], json!(["id"]));
}

#[tokio::test]
async fn list_pages_within_the_scope() {
    let c = client("1");
    let first = call(&c, "posts_list", json!({})).await;
    assert_eq!(ids(&first), [1, 2, 3], "default limit 3, primary key order");
    assert_eq!(first["has_more"], true);
    assert_eq!(first["truncated"], false);
    for row in first["items"].as_array().unwrap() {
        assert!(row.get("owner_id").is_none() && row.get("secret").is_none(), "{row}");
    }
    assert_eq!(first["items"][0]["created_at"], "2026-01-01T10:00:00");

    // Following cursors visits every row of the scope once.
    let mut seen = Vec::new();
    let mut page = call(&c, "posts_list", json!({ "limit": 5, "include_total": true })).await;
    assert_eq!(page["total"], 8);
    loop {
        seen.extend(ids(&page));
        let Some(cursor) = page.get("next_cursor").and_then(Value::as_str) else { break };
        page = call(&c, "posts_list", json!({ "limit": 5, "cursor": cursor })).await;
    }
    assert_eq!(seen, (1..=8).collect::<Vec<_>>());

    // Offset pagination agrees.
    let page2 = call(&c, "posts_list", json!({ "limit": 3, "offset": 3 })).await;
    assert_eq!(ids(&page2), [4, 5, 6]);

    // The other user sees only their own rows.
    let other = client("2");
    let all = call(&other, "posts_list", json!({ "limit": 5 })).await;
    assert_eq!(ids(&all), [9, 10, 11, 12]);
    assert_eq!(all["has_more"], false);
    assert!(all.get("next_cursor").is_none());
}

#[tokio::test]
async fn filters_search_and_order() {
    let c = client("1");
    let cases = [
        (json!({ "title__icontains": "hello" }), vec![1, 3]),
        (json!({ "title__contains": "Hello" }), vec![1]),
        (json!({ "title__contains": "%" }), vec![2]),
        (json!({ "title__contains": "_" }), vec![2]),
        (json!({ "title__startswith": "Post" }), vec![4, 5, 6, 7, 8]),
        (json!({ "title": { "$in": ["Post 4", "Post 6"] } }), vec![4, 6]),
        (json!({ "id": { "$gte": 3, "$lt": 5 } }), vec![3, 4]),
        (json!({ "id__between": [6, 7] }), vec![6, 7]),
        (json!({ "published": true }), vec![1, 3, 5, 7]),
        (json!({ "published__ne": true }), vec![2, 4, 6, 8]),
        (json!({ "body__isnull": true }), vec![4, 8]),
        (json!({ "body": null }), vec![4, 8]),
        (json!({ "body__ne": "body of post 1, about Rust" }), vec![2, 3, 4, 5, 6, 7, 8]),
        (json!({ "created_at__gt": "2026-01-06T00:00:00" }), vec![6, 7, 8]),
        (json!({ "$or": [{ "id": 1 }, { "id": 8 }] }), vec![1, 8]),
        (json!({ "$not": { "id__lte": 5 } }), vec![6, 7, 8]),
        (json!({ "$nor": [{ "id__lte": 6 }] }), vec![7, 8]),
        // An agent's `$or` cannot reach other users' rows.
        (json!({ "$or": [{ "id__gt": 0 }, { "id": 10 }] }), (1..=8).collect()),
        (json!({ "id": 10 }), vec![]),
    ];
    for (filter, want) in cases {
        let got = call(&c, "posts_list", json!({ "filter": filter, "limit": 5 })).await;
        assert_eq!(ids(&got), want.iter().copied().take(5).collect::<Vec<i64>>(), "filter {filter}");
        assert_eq!(got["has_more"], want.len() > 5, "filter {filter}");
        let count = call(&c, "posts_count", json!({ "filter": filter })).await;
        assert_eq!(count["count"], want.len(), "count of {filter}");
    }
    // Every word somewhere (any case) in the title or the body.
    let found = call(&c, "posts_list", json!({ "search": "RUST hello" })).await;
    assert_eq!(ids(&found), [1, 3]);
    let found = call(&c, "posts_list", json!({ "search": "world post" })).await;
    assert_eq!(ids(&found), [3]);
    let ordered = call(&c, "posts_list", json!({ "order_by": ["-views"], "limit": 5 })).await;
    let views: Vec<i64> = ordered["items"].as_array().unwrap().iter().map(|r| r["views"].as_i64().unwrap()).collect();
    assert!(views.windows(2).all(|w| w[0] >= w[1]), "{views:?}");
    let fields = call(&c, "posts_list", json!({ "fields": ["title"], "limit": 1 })).await;
    assert_eq!(fields["items"], json!([{ "title": "Hello Rust" }]));
}

#[tokio::test]
async fn get_and_count_respect_the_scope() {
    let c = client("1");
    let post = call(&c, "posts_get", json!({ "id": 3 })).await;
    assert_eq!(post["title"], "hello world");
    assert!(post.get("secret").is_none());
    // Another user's row does not exist for this caller.
    let err = call_err(&c, "posts_get", json!({ "id": 10 })).await;
    assert!(err.contains("no posts with `id` = 10"), "{err}");
    assert_eq!(call(&c, "posts_count", json!({})).await["count"], 8);
    assert_eq!(call(&client("2"), "posts_count", json!({})).await["count"], 4);
    assert_eq!(call(&c, "posts_count", json!({ "search": "rust" })).await["count"], 6);
}

#[tokio::test]
async fn agents_get_errors_they_can_fix() {
    let c = client("1");
    let cases = [
        (json!({ "filter": { "secret": "secret 1" } }), "unknown field `secret`"),
        (json!({ "filter": { "owner_id": 2 } }), "unknown field `owner_id`"),
        (json!({ "filter": { "published__gt": true } }), "published"),
        (json!({ "filter": { "views": "many" } }), "views"),
        (json!({ "filter": { "created_at__gt": "yesterday" } }), "created_at"),
        (json!({ "limit": 6 }), "`limit` must be an integer from 1 to 5"),
        (json!({ "order_by": ["secret"] }), "cannot sort by `secret`"),
        (json!({ "fields": ["owner_id"] }), "unknown field \\\"owner_id\\\" in `fields`"),
        (json!({ "cursor": "forged" }), "`cursor` is not a cursor"),
        (json!({ "bogus": 1 }), "unknown argument `bogus`"),
    ];
    for (args, want) in cases {
        let err = call_err(&c, "posts_list", args.clone()).await;
        assert!(err.contains(want), "{args}: {err}");
        assert!(!err.contains("SELECT") && !err.contains("secret 1"), "{err}");
    }
    let err = call_err(&c, "posts_get", json!({ "id": "three" })).await;
    assert!(err.contains("invalid key"), "{err}");
    // Without a principal the scope refuses.
    let anonymous = Server::builder()
        .info(mcp_core::server_info!())
        .toolset(ModelTools::<Post, SqliteConnection>::new(pool()).scope(|ctx| {
            ctx.principal().ok_or_else(|| ToolError::forbidden("sign in first"))?;
            Ok(json!({}))
        }))
        .build()
        .unwrap();
    let err = call_err(&TestClient::modern(anonymous), "posts_count", json!({})).await;
    assert!(err.contains("sign in first"), "{err}");
}

#[tokio::test]
async fn the_byte_budget_stops_a_page_early() {
    let tools = ModelTools::<Post, SqliteConnection>::new(pool()).byte_budget(300);
    let c = TestClient::modern(Server::builder().info(mcp_core::server_info!()).toolset(tools).build().unwrap());
    let page = call(&c, "posts_list", json!({ "limit": 5 })).await;
    let n = page["returned"].as_i64().unwrap();
    assert!((1..5).contains(&n), "{page}");
    assert_eq!(page["truncated"], true);
    assert_eq!(page["has_more"], true);
    let next = call(&c, "posts_list", json!({ "limit": 5, "cursor": page["next_cursor"] })).await;
    assert_eq!(ids(&next)[0], n + 1);
}
