//! The diesel-async executor without a database: failures to connect and bad input are
//! clear tool errors. (The behaviour suite in `model_backends.rs` runs it on real
//! PostgreSQL and MariaDB.)

#![cfg(all(feature = "diesel-async", feature = "postgres"))]
#![allow(missing_docs)]

// Both `RunQueryDsl` traits in scope, as in many apps: the generated queries still compile.
use diesel::prelude::*;
#[allow(unused_imports)]
use diesel_async::RunQueryDsl as _;
use mcp_core::schemars::JsonSchema;
use mcp_core::testing::TestClient;
use mcp_core::{Server, mcp_toolset};
use mcp_diesel::ModelTools;
use serde::Serialize;
use serde_json::json;

diesel::table! {
    notes (id) { id -> Integer, body -> Text, }
}

/// Notes.
#[derive(Queryable, Selectable, Serialize, JsonSchema)]
#[diesel(table_name = notes)]
#[schemars(crate = "mcp_core::schemars")]
#[mcp_toolset(actions(list, get, count, create, update, patch, delete, aggregate), backends(postgres))]
pub struct Note {
    pub id: i32,
    pub body: String,
}

fn client(url: &str) -> TestClient {
    let pool = mcp_diesel::async_postgres_pool(url, 2).unwrap();
    let tools = ModelTools::<Note, _>::new(pool);
    TestClient::modern(Server::builder().info(mcp_core::server_info!()).toolset(tools).build().unwrap())
}

#[tokio::test]
async fn the_async_tools_are_the_sync_tools() {
    let c = client("postgres://nobody@127.0.0.1:1/none");
    let tools = serde_json::to_value(c.list_tools().await.unwrap()).unwrap();
    let names: Vec<&str> = tools.as_array().unwrap().iter().map(|t| t["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        [
            "notes_list",
            "notes_get",
            "notes_count",
            "notes_create",
            "notes_update",
            "notes_patch",
            "notes_delete",
            "notes_aggregate"
        ]
    );
    // PostgreSQL has regular expressions: the async tools say so as the sync ones do.
    let filter = tools[0]["inputSchema"]["properties"]["filter"]["description"].as_str().unwrap();
    assert!(filter.contains("regex"), "{filter}");
}

#[tokio::test]
async fn an_unreachable_database_is_a_clear_error() {
    let c = client("postgres://nobody@127.0.0.1:1/none");
    for (tool, args) in [
        ("notes_count", json!({})),
        ("notes_list", json!({ "include_total": true })),
        ("notes_get", json!({ "id": 1 })),
        ("notes_create", json!({ "body": "hi" })),
        ("notes_delete", json!({ "id": 1 })),
        ("notes_aggregate", json!({})),
    ] {
        let r = c.call_tool(tool, args).await.expect("a tool error, not a protocol error");
        assert_eq!(r.is_error, Some(true), "{tool}");
        let text = serde_json::to_string(&r.content).unwrap();
        assert!(
            text.contains("no database connection became free within 10000 ms")
                && text.contains("the database is unreachable")
                && text.contains("retry in a moment"),
            "{tool}: {text}"
        );
        assert!(!text.contains("127.0.0.1") && !text.contains("nobody"), "{tool} leaks the URL: {text}");
    }
}

#[tokio::test]
async fn bad_input_is_refused_before_any_connection() {
    let c = client("postgres://nobody@127.0.0.1:1/none");
    let r = c.call_tool("notes_list", json!({ "filter": { "title": "x" } })).await.unwrap();
    assert_eq!(r.is_error, Some(true));
    let text = serde_json::to_string(&r.content).unwrap();
    assert!(text.contains("unknown field `title`"), "{text}");
    let r = c.call_tool("notes_list", json!({ "limit": "many" })).await.unwrap();
    assert_eq!(r.is_error, Some(true));
    assert!(!serde_json::to_string(&r.content).unwrap().contains("no database connection"));
}

/// The URL in `var`, or `None` (a failure under `MCP_TEST_REQUIRE_ALL_BACKENDS`).
fn url(var: &str) -> Option<String> {
    let url = std::env::var(var).ok();
    if url.is_none() {
        assert!(std::env::var_os("MCP_TEST_REQUIRE_ALL_BACKENDS").is_none(), "{var} is not set");
        eprintln!("skipped: set {var} to run it");
    }
    url
}

#[tokio::test]
async fn async_postgres_pools_set_the_statement_timeout() {
    let Some(url) = url("MCP_TEST_POSTGRES_URL") else { return };
    let pool = mcp_diesel::async_postgres_pool(&url, 1).unwrap();
    let mut conn = pool.get().await.unwrap();
    let query = diesel::select(diesel::dsl::sql::<diesel::sql_types::Text>("current_setting('statement_timeout')"));
    let timeout: String = diesel_async::RunQueryDsl::get_result(query, &mut *conn).await.unwrap();
    assert_eq!(timeout, format!("{}s", mcp_diesel::STATEMENT_TIMEOUT.as_secs()));
}

#[cfg(feature = "mysql")]
#[tokio::test]
async fn async_mysql_pools_set_the_statement_timeout() {
    let Some(url) = url("MCP_TEST_MYSQL_URL") else { return };
    let pool = mcp_diesel::async_mysql_pool(&url, 1).unwrap();
    let mut conn = pool.get().await.unwrap();
    let query =
        diesel::select(diesel::dsl::sql::<diesel::sql_types::BigInt>("CAST(@@SESSION.max_statement_time AS SIGNED)"));
    let timeout: i64 = diesel_async::RunQueryDsl::get_result(query, &mut *conn).await.unwrap();
    assert_eq!(timeout, mcp_diesel::STATEMENT_TIMEOUT.as_secs() as i64);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writes_share_a_small_pool() {
    let Some(url) = url("MCP_TEST_POSTGRES_URL") else { return };
    let schema = format!("mcp_async_{}", std::process::id());
    let mut admin = diesel::PgConnection::establish(&url).unwrap();
    diesel::connection::SimpleConnection::batch_execute(
        &mut admin,
        &format!("DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}; CREATE TABLE {schema}.notes (id SERIAL PRIMARY KEY, body TEXT NOT NULL UNIQUE)"),
    )
    .unwrap();
    let sep = if url.contains('?') { '&' } else { '?' };
    let c = std::sync::Arc::new(client(&format!("{url}{sep}options=-csearch_path%3D{schema}")));
    // Twelve creates (each a transaction) and twelve counts at once, on two connections.
    let mut calls = tokio::task::JoinSet::new();
    for i in 0..12 {
        let writer = c.clone();
        calls.spawn(
            async move { writer.call_tool("notes_create", json!({ "body": format!("note {i}") })).await.unwrap() },
        );
        let reader = c.clone();
        calls.spawn(async move { reader.call_tool("notes_count", json!({})).await.unwrap() });
    }
    while let Some(r) = calls.join_next().await {
        let r = r.unwrap();
        assert_ne!(r.is_error, Some(true), "{:?}", r.content);
    }
    let all = c.call_tool("notes_list", json!({ "limit": 100, "include_total": true })).await.unwrap();
    let page = all.structured_value().unwrap();
    assert_eq!(page["total"], 12);
    let mut bodies: Vec<&str> = page["items"].as_array().unwrap().iter().map(|n| n["body"].as_str().unwrap()).collect();
    bodies.sort_unstable();
    bodies.dedup();
    assert_eq!(bodies.len(), 12);
    // A unique violation on the async path is the same plain-words error as on the sync one.
    let dup = c.call_tool("notes_create", json!({ "body": "note 3" })).await.unwrap();
    assert_eq!(dup.is_error, Some(true));
    let text = serde_json::to_string(&dup.content).unwrap();
    assert!(text.contains("another notes row already has this value of `body`"), "{text}");
    diesel::connection::SimpleConnection::batch_execute(&mut admin, &format!("DROP SCHEMA {schema} CASCADE")).unwrap();
}
