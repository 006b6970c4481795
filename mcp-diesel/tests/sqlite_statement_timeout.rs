//! SQLite cannot interrupt a statement: a tool stops waiting after its statement timeout
//! and says so, and the connection stays out of the pool until the statement has ended.

#![allow(missing_docs)]

use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use mcp_core::schemars::JsonSchema;
use mcp_core::testing::TestClient;
use mcp_core::{Principal, Server};
use mcp_diesel::ModelTools;
use serde::Serialize;
use serde_json::json;

mod schema {
    diesel::table! {
        numbers (id) {
            id -> Integer,
            n -> BigInt,
        }
    }

    diesel::table! {
        notes (id) {
            id -> Integer,
            text -> Text,
        }
    }
}

/// Numbers counted by a recursive CTE: any query over them reads millions of rows.
#[derive(Queryable, Selectable, Serialize, JsonSchema)]
#[diesel(table_name = schema::numbers)]
#[schemars(crate = "mcp_core::schemars")]
#[mcp_core::mcp_toolset]
pub struct Number {
    pub id: i32,
    pub n: i64,
}

/// A small table on the same database.
#[derive(Queryable, Selectable, Serialize, JsonSchema)]
#[diesel(table_name = schema::notes)]
#[schemars(crate = "mcp_core::schemars")]
#[mcp_core::mcp_toolset]
pub struct Note {
    pub id: i32,
    pub text: String,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_sqlite_statement_times_out_and_keeps_its_connection_until_it_ends() {
    let dir = std::env::temp_dir().join(format!("mcp_timeout_{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let pool = mcp_diesel::sqlite_pool(dir.join("db.sqlite").to_str().unwrap(), 1).unwrap();
    pool.get()
        .unwrap()
        .batch_execute(
            "CREATE VIEW numbers AS WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 2000000) \
             SELECT x AS id, x % 7 AS n FROM c; \
             CREATE TABLE notes (id INTEGER PRIMARY KEY NOT NULL, text TEXT NOT NULL); \
             INSERT INTO notes (id, text) VALUES (1, 'hello');",
        )
        .unwrap();
    let server = Server::builder()
        .info(mcp_core::server_info!())
        .toolset(ModelTools::<Number, SqliteConnection>::new(pool.clone()).statement_timeout(Duration::from_millis(50)))
        .toolset(ModelTools::<Note, SqliteConnection>::new(pool.clone()))
        .build()
        .unwrap();
    let c = TestClient::modern(server).with_principal(Principal::new("1"));

    let started = std::time::Instant::now();
    let r = c.call_tool("numbers_count", json!({ "filter": { "n": 3 } })).await.expect("protocol error");
    assert_eq!(r.is_error, Some(true), "{:?}", r.structured_content);
    let text = serde_json::to_string(&r.content).unwrap();
    assert!(text.contains("took longer than the 50 ms statement timeout"), "{text}");
    assert!(!text.contains("SELECT") && !text.contains("RECURSIVE"), "{text}");
    // The statement still runs: its connection has not gone back to the pool.
    assert_eq!(pool.state().idle_connections, 0, "the connection came back before the statement ended");

    // Once the statement has ended on its own, the connection is back and serves others.
    while pool.state().idle_connections == 0 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    eprintln!("the abandoned statement ended after {:?}", started.elapsed());
    let r = c.call_tool("notes_list", json!({})).await.expect("protocol error");
    assert_ne!(r.is_error, Some(true), "{:?}", r.content);
    assert_eq!(r.structured_value().unwrap()["items"], json!([{ "id": 1, "text": "hello" }]));
    let _ = std::fs::remove_dir_all(dir);
}
