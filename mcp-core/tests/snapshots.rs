//! Snapshots of what each protocol version's clients see: `initialize` (legacy) or
//! `server/discover` (2026-07-28), and both pages of a paginated `tools/list`.

mod common;

use mcp_core::prelude::*;
use mcp_core::testing::TestClient;
use serde_json::{Value, json};

fn server() -> Server {
    Server::builder()
        .info(Implementation::new("kitchen", "1.0.0"))
        .title("Kitchen")
        .instructions("Test fixture")
        .icon(Icon::new("https://example.com/icon.png"))
        .page_size(7)
        .toolset(common::Kitchen::default())
        .build()
        .unwrap()
}

async fn pages(c: &TestClient) -> (Value, Value) {
    let first: Value = c.request("tools/list", json!({})).await.unwrap();
    let cursor = first["nextCursor"].clone();
    let second: Value = c.request("tools/list", json!({ "cursor": cursor })).await.unwrap();
    assert!(second.get("nextCursor").is_none());
    (first, second)
}

#[tokio::test]
async fn legacy_versions() {
    for v in [ProtocolVersion::V2025_03_26, ProtocolVersion::V2025_06_18, ProtocolVersion::V2025_11_25] {
        let c = TestClient::legacy(server(), v).await.unwrap();
        let session = mcp_core::Session::new();
        let init = server()
            .handle_bytes(
                json!({ "jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
                    "protocolVersion": v.as_str(), "capabilities": {}, "clientInfo": { "name": "snap", "version": "1" } } })
                .to_string()
                .as_bytes(),
                mcp_core::Inbound::new().session(std::sync::Arc::new(session)),
            )
            .await
            .unwrap();
        let init: Value = serde_json::from_slice(&init.to_vec()).unwrap();
        insta::assert_json_snapshot!(format!("initialize_{}", v.as_str()), init);
        let (first, second) = pages(&c).await;
        insta::assert_json_snapshot!(format!("tools_list_{}_page1", v.as_str()), first);
        insta::assert_json_snapshot!(format!("tools_list_{}_page2", v.as_str()), second);
    }
}

#[tokio::test]
async fn modern_version() {
    let c = TestClient::modern(server());
    let discover: Value = c.request("server/discover", json!({})).await.unwrap();
    insta::assert_json_snapshot!("server_discover_2026-07-28", discover);
    let (first, second) = pages(&c).await;
    insta::assert_json_snapshot!("tools_list_2026-07-28_page1", first);
    insta::assert_json_snapshot!("tools_list_2026-07-28_page2", second);
}
