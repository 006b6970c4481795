//! Per-tool scopes and the permission hook through the dispatcher (no transport): what
//! stdio and in-process callers get.

use mcp_core::prelude::*;
use mcp_core::testing::TestClient;
use serde_json::json;

struct Admin;

#[mcp_toolset]
impl Admin {
    /// Anyone.
    #[mcp_tool(read_only)]
    fn status(&self) -> &'static str {
        "ok"
    }

    /// Needs a scope.
    #[mcp_tool(scopes = "admin:write")]
    fn reindex(&self) -> &'static str {
        "reindexed"
    }

    #[cfg(any())]
    #[mcp_tool(scopes = "never")]
    fn gone(&self) {}

    /// Needs two scopes; its index follows a cfg-removed tool.
    #[mcp_tool(destructive, scopes = "admin:write admin:purge")]
    fn purge(&self) -> &'static str {
        "purged"
    }
}

fn server() -> Server {
    Server::builder().info(server_info!()).toolset(Admin).tool_scopes("status", ["status:read"]).build().unwrap()
}

async fn names(client: &TestClient) -> Vec<String> {
    client.list_tools().await.unwrap().into_iter().map(|t| t.name).collect()
}

#[tokio::test]
async fn scopes_filter_lists_and_refuse_calls() {
    let server = server();
    assert_eq!(server.tool_required_scopes("purge"), ["admin:purge", "admin:write"]);
    assert_eq!(server.all_tool_scopes(), ["admin:purge", "admin:write", "status:read"]);

    let nobody = TestClient::modern(server.clone());
    assert!(names(&nobody).await.is_empty());
    let r = nobody.call_tool("status", json!({})).await.unwrap();
    assert_eq!(r.is_error, Some(true));

    let writer = TestClient::modern(server.clone())
        .with_principal(Principal::new("w").with_scopes(["status:read", "admin:write"]));
    assert_eq!(names(&writer).await, ["status", "reindex"]);
    let r = writer.call_tool("purge", json!({})).await.unwrap();
    assert_eq!(r.is_error, Some(true));
    let text = serde_json::to_value(&r.content).unwrap()[0]["text"].as_str().unwrap().to_owned();
    assert_eq!(
        text,
        "Forbidden: the tool `purge` needs the scope(s) `admin:purge`, which the access token was not granted"
    );
    let r = writer.call_tool("reindex", json!({})).await.unwrap();
    assert_ne!(r.is_error, Some(true));

    let admin = TestClient::legacy(server.clone(), mcp_core::protocol::ProtocolVersion::V2025_06_18)
        .await
        .unwrap()
        .with_principal(Principal::new("a").with_scopes(["status:read", "admin:write", "admin:purge"]));
    assert_eq!(names(&admin).await, ["status", "reindex", "purge"]);
    assert_ne!(admin.call_tool("purge", json!({})).await.unwrap().is_error, Some(true));
}

#[tokio::test]
async fn scoped_lists_paginate_per_caller() {
    let server = Server::builder()
        .info(server_info!())
        .toolset(Admin)
        .page_size(1)
        .tool_permission(|tool, _| tool.name != "reindex")
        .build()
        .unwrap();
    let admin =
        TestClient::modern(server).with_principal(Principal::new("a").with_scopes(["admin:write", "admin:purge"]));
    // `list_tools` follows cursors: two pages of one tool each, `reindex` hidden by the hook.
    assert_eq!(names(&admin).await, ["status", "purge"]);
    let first: serde_json::Value = admin.request("tools/list", json!({})).await.unwrap();
    assert_eq!(first["cacheScope"], "private");
    assert!(first["nextCursor"].is_string());
    let bad: Result<serde_json::Value, _> = admin.request("tools/list", json!({ "cursor": "bm9wZQ" })).await;
    assert_eq!(bad.unwrap_err().code, -32602);
}

#[tokio::test]
async fn callers_share_pages_by_what_they_see() {
    let server = server();
    let scopes = ["status:read", "admin:write"];
    let writer =
        |name: &str| TestClient::modern(server.clone()).with_principal(Principal::new(name).with_scopes(scopes));
    let reader = TestClient::modern(server.clone()).with_principal(Principal::new("r").with_scopes(["status:read"]));
    // Interleaved callers, each list served again from what was built for the first asker.
    for _ in 0..3 {
        assert_eq!(names(&writer("w1")).await, ["status", "reindex"]);
        assert_eq!(names(&reader).await, ["status"]);
        assert_eq!(names(&writer("w2")).await, ["status", "reindex"]);
    }
    let modern: serde_json::Value = writer("w3").request("tools/list", json!({})).await.unwrap();
    assert_eq!(modern["cacheScope"], "private");
    assert_eq!(modern["resultType"], "complete");
    // The same visible set in a legacy session: its own page, shaped for its version.
    let legacy = TestClient::legacy(server.clone(), mcp_core::protocol::ProtocolVersion::V2025_06_18)
        .await
        .unwrap()
        .with_principal(Principal::new("l").with_scopes(scopes));
    let page: serde_json::Value = legacy.request("tools/list", json!({})).await.unwrap();
    assert!(page.get("cacheScope").is_none() && page.get("resultType").is_none(), "{page}");
    assert_eq!(page["tools"].as_array().unwrap().len(), 2);
}
