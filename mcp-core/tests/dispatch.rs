//! Behaviour of `Server::handle` in both eras, through the real dispatcher.

mod common;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use mcp_core::prelude::*;
use mcp_core::protocol::{
    ClientCapabilities, ErrorObject, InputRequest, Message, Outcome, RootsCapability, codes, meta, methods,
};
use mcp_core::server::Toolset;
use mcp_core::testing::TestClient;
use mcp_core::{Extensions, Inbound, Reply, ServerEvent, Session};
use serde_json::{Map, Value, json};

fn result(resp: Option<mcp_core::protocol::Response>) -> Value {
    match resp.expect("a response").outcome {
        Outcome::Result(raw) => serde_json::from_str(raw.get()).unwrap(),
        Outcome::Error(e) => panic!("unexpected error {e:?}"),
    }
}

fn error(resp: Option<mcp_core::protocol::Response>) -> ErrorObject {
    match resp.expect("a response").outcome {
        Outcome::Error(e) => e,
        Outcome::Result(raw) => panic!("expected an error, got {}", raw.get()),
    }
}

fn all_caps() -> ClientCapabilities {
    ClientCapabilities {
        roots: Some(RootsCapability::default()),
        sampling: Some(Map::new()),
        elicitation: Some(Map::new()),
        ..Default::default()
    }
}

/// Answers every kind of input request the way a cooperative client would.
fn answer(req: &InputRequest) -> Option<Value> {
    Some(match req {
        InputRequest::Elicit(p) if p.message.contains("color") => {
            json!({ "action": "accept", "content": { "color": "blue" } })
        }
        InputRequest::Elicit(_) => json!({ "action": "accept", "content": { "name": "Alice" } }),
        InputRequest::CreateMessage(_) => {
            json!({ "role": "assistant", "content": { "type": "text", "text": "Paris" }, "model": "test-model" })
        }
        InputRequest::ListRoots => json!({ "roots": [{ "uri": "file:///tmp", "name": "tmp" }] }),
    })
}

async fn raw(server: &Server, body: &str, inbound: Inbound) -> Value {
    let reply = server.handle_bytes(body.as_bytes(), inbound).await.expect("a reply");
    serde_json::from_slice(&reply.to_vec()).unwrap()
}

fn modern_meta() -> Value {
    json!({ meta::PROTOCOL_VERSION: "2026-07-28", meta::CLIENT_CAPABILITIES: {} })
}

// ---------------------------------------------------------------- bad input

#[tokio::test]
async fn malformed_messages_get_json_rpc_errors() {
    let s = common::server();
    let v = raw(&s, "{not json", Inbound::new()).await;
    assert_eq!(v["error"]["code"], codes::PARSE_ERROR);
    assert_eq!(v["id"], Value::Null);

    let v = raw(&s, "[1,2]", Inbound::new()).await;
    assert_eq!(v["error"]["code"], codes::INVALID_REQUEST, "{v}");

    let v = raw(&s, r#"{"jsonrpc":"2.0","id":5}"#, Inbound::new()).await;
    assert_eq!(v["error"]["code"], codes::INVALID_REQUEST);
    assert_eq!(v["id"], 5);

    let body = json!({ "jsonrpc": "2.0", "id": 1, "method": "no/such", "params": { "_meta": modern_meta() } });
    let v = raw(&s, &body.to_string(), Inbound::new()).await;
    assert_eq!(v["error"]["code"], codes::METHOD_NOT_FOUND);
    assert!(v["error"]["message"].as_str().unwrap().contains("no/such"));
}

#[tokio::test]
async fn bad_params_name_the_field() {
    let c = TestClient::modern(common::server());
    let e = error(c.send("tools/call", json!({ "arguments": {} })).await);
    assert_eq!(e.code, codes::INVALID_PARAMS);
    assert!(e.message.contains("`name`"), "{}", e.message);
    assert!(!e.message.contains("line 1"), "{}", e.message);

    let e = error(c.send("tools/call", json!({ "name": 5 })).await);
    assert_eq!(e.code, codes::INVALID_PARAMS);
    assert!(e.message.contains("invalid type"), "{}", e.message);

    let e = error(c.send("tools/call", json!({ "name": "nope" })).await);
    assert_eq!(e.code, codes::INVALID_PARAMS);
    assert_eq!(e.message, "Unknown tool: nope");
}

#[tokio::test]
async fn deep_nesting_and_huge_numbers_in_params_are_clean_errors() {
    let s = common::server();
    let deep = format!(
        r#"{{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{{"name":"echo","arguments":{{"x":{}1{}}}}}}}"#,
        "[".repeat(5000),
        "]".repeat(5000)
    );
    let v = raw(&s, &deep, Inbound::new()).await;
    assert_eq!(v["error"]["code"], codes::PARSE_ERROR);

    let body = json!({ "jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": { "name": "echo", "_meta": modern_meta() } })
        .to_string()
        .replace(r#""name":"echo""#, r#""name":"echo","arguments":{"message":1e400}"#);
    let v = raw(&s, &body, Inbound::new()).await;
    assert_eq!(v["error"]["code"], codes::INVALID_PARAMS, "{v}");
}

#[tokio::test]
async fn legacy_requests_before_initialize_are_rejected() {
    let s = common::server();
    let session = Arc::new(Session::new());
    let body = r#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#;
    let v = raw(&s, body, Inbound::new().session(session.clone())).await;
    assert_eq!(v["error"]["code"], codes::INVALID_REQUEST);
    assert!(v["error"]["message"].as_str().unwrap().contains("initialize"));
    // ping is allowed before initialize.
    let v = raw(&s, r#"{"jsonrpc":"2.0","id":2,"method":"ping"}"#, Inbound::new().session(session)).await;
    assert_eq!(v["result"], json!({}));
}

// ---------------------------------------------------------------- legacy lifecycle

#[tokio::test]
async fn initialize_negotiates_versions() {
    let s = common::server();
    for (asked, expected) in [
        ("2025-03-26", "2025-03-26"),
        ("2025-06-18", "2025-06-18"),
        ("2025-11-25", "2025-11-25"),
        ("2024-11-05", "2025-11-25"),
        ("2026-07-28", "2025-11-25"),
        ("banana", "2025-11-25"),
    ] {
        let session = Arc::new(Session::new());
        let body = json!({ "jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": asked, "capabilities": {}, "clientInfo": { "name": "t", "version": "1" } } });
        let v = raw(&s, &body.to_string(), Inbound::new().session(session.clone())).await;
        assert_eq!(v["result"]["protocolVersion"], expected, "asked {asked}");
        assert_eq!(v["result"]["serverInfo"]["name"], env!("CARGO_PKG_NAME"));
        assert!(v["result"].get("resultType").is_none());
        assert_eq!(session.protocol_version().unwrap().as_str(), expected);
        // A second initialize on the same session is refused.
        let v = raw(&s, &body.to_string(), Inbound::new().session(session)).await;
        assert_eq!(v["error"]["code"], codes::INVALID_REQUEST);
    }
}

#[tokio::test]
async fn initialize_needs_valid_params() {
    let s = common::server();
    let body = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18"}}"#;
    let session = Arc::new(Session::new());
    let v = raw(&s, body, Inbound::new().session(session.clone())).await;
    assert_eq!(v["error"]["code"], codes::INVALID_PARAMS);
    assert!(v["error"]["message"].as_str().unwrap().contains("capabilities"));
    assert!(session.protocol_version().is_none());
}

#[tokio::test]
async fn legacy_ping_set_level_and_methods_of_the_other_era() {
    let c = TestClient::legacy(common::server(), ProtocolVersion::V2025_06_18).await.unwrap();
    assert_eq!(result(c.send("ping", json!({})).await), json!({}));
    assert_eq!(result(c.send("logging/setLevel", json!({ "level": "warning" })).await), json!({}));
    assert_eq!(c.session().unwrap().state().log_level, Some(LoggingLevel::Warning));
    let e = error(c.send("logging/setLevel", json!({ "level": "loud" })).await);
    assert_eq!(e.code, codes::INVALID_PARAMS);
    assert_eq!(error(c.send("server/discover", json!({})).await).code, codes::METHOD_NOT_FOUND);
    assert_eq!(
        error(c.send("subscriptions/listen", json!({ "notifications": {} })).await).code,
        codes::METHOD_NOT_FOUND
    );
}

// ---------------------------------------------------------------- modern era

#[tokio::test]
async fn modern_requests_need_their_meta() {
    let s = common::server();
    let v = raw(&s, r#"{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{}}"#, Inbound::new()).await;
    assert_eq!(v["error"]["code"], codes::INVALID_PARAMS);
    assert!(v["error"]["message"].as_str().unwrap().contains(meta::PROTOCOL_VERSION));

    let body = json!({ "jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": { "_meta": { meta::PROTOCOL_VERSION: "2026-07-28" } } });
    let v = raw(&s, &body.to_string(), Inbound::new()).await;
    assert_eq!(v["error"]["code"], codes::INVALID_PARAMS);
    assert!(v["error"]["message"].as_str().unwrap().contains(meta::CLIENT_CAPABILITIES));

    let body = json!({ "jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": { "_meta": {
        meta::PROTOCOL_VERSION: "2026-07-28", meta::CLIENT_CAPABILITIES: "none" } } });
    let v = raw(&s, &body.to_string(), Inbound::new()).await;
    assert_eq!(v["error"]["code"], codes::INVALID_PARAMS);

    let body = json!({ "jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": { "_meta": {
        meta::PROTOCOL_VERSION: "2026-07-28", meta::CLIENT_CAPABILITIES: {}, meta::LOG_LEVEL: "chatty" } } });
    let v = raw(&s, &body.to_string(), Inbound::new()).await;
    assert_eq!(v["error"]["code"], codes::INVALID_PARAMS);
    assert!(v["error"]["message"].as_str().unwrap().contains("debug"));

    let body = json!({ "jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": { "_meta": 7 } });
    let v = raw(&s, &body.to_string(), Inbound::new()).await;
    assert_eq!(v["error"]["code"], codes::INVALID_PARAMS);
}

#[tokio::test]
async fn unsupported_versions_list_what_is_supported() {
    let s = common::server();
    for version in [json!("1900-01-01"), json!(42), json!("2025-06-18")] {
        let body = json!({ "jsonrpc": "2.0", "id": 9, "method": "tools/list", "params": { "_meta": {
            meta::PROTOCOL_VERSION: version, meta::CLIENT_CAPABILITIES: {} } } });
        let v = raw(&s, &body.to_string(), Inbound::new()).await;
        assert_eq!(v["error"]["code"], codes::UNSUPPORTED_PROTOCOL_VERSION, "{v}");
        assert_eq!(v["error"]["data"]["requested"], version);
        assert_eq!(v["error"]["data"]["supported"], json!(["2026-07-28", "2025-11-25", "2025-06-18", "2025-03-26"]));
    }
}

#[tokio::test]
async fn discover_describes_the_server() {
    let c = TestClient::modern(common::server());
    let v = result(c.send("server/discover", json!({})).await);
    assert_eq!(v["resultType"], "complete");
    assert_eq!(v["supportedVersions"][0], "2026-07-28");
    assert_eq!(v["capabilities"]["tools"]["listChanged"], true);
    assert_eq!(v["capabilities"]["resources"]["subscribe"], true);
    assert_eq!(v["instructions"], "Test fixture");
    assert_eq!(v["ttlMs"], 300_000);
    assert_eq!(v["cacheScope"], "public");
    assert_eq!(v["_meta"][meta::SERVER_INFO]["title"], "Kitchen");
    assert_eq!(c.server_info().await.unwrap().name, env!("CARGO_PKG_NAME"));
}

#[tokio::test]
async fn legacy_only_methods_are_not_found_in_the_modern_era() {
    let c = TestClient::modern(common::server());
    for m in ["initialize", "ping", "logging/setLevel", "resources/subscribe", "resources/unsubscribe"] {
        let e = error(c.send(m, json!({ "uri": "x", "level": "info" })).await);
        assert_eq!(e.code, codes::METHOD_NOT_FOUND, "{m}");
    }
}

#[tokio::test]
async fn every_modern_result_has_a_result_type() {
    let c = TestClient::modern(common::server());
    for (method, params, cacheable) in [
        ("tools/list", json!({}), true),
        ("resources/list", json!({}), true),
        ("resources/templates/list", json!({}), true),
        ("prompts/list", json!({}), true),
        ("resources/read", json!({ "uri": "kitchen://static" }), true),
        ("tools/call", json!({ "name": "echo", "arguments": { "message": "x" } }), false),
        ("prompts/get", json!({ "name": "greet", "arguments": { "name": "Bo" } }), false),
        (
            "completion/complete",
            json!({ "ref": { "type": "ref/prompt", "name": "greet" }, "argument": { "name": "style", "value": "f" } }),
            false,
        ),
    ] {
        let v = result(c.send(method, params).await);
        assert_eq!(v["resultType"], "complete", "{method}: {v}");
        assert!(v["_meta"][meta::SERVER_INFO].is_object(), "{method}");
        assert_eq!(v.get("ttlMs").is_some(), cacheable, "{method}");
        assert_eq!(v.get("cacheScope").is_some(), cacheable, "{method}");
    }
    let read = result(c.send("resources/read", json!({ "uri": "kitchen://static" })).await);
    assert_eq!(read["ttlMs"], 0);
    assert_eq!(read["cacheScope"], "private");
}

// ---------------------------------------------------------------- lists and pagination

#[tokio::test]
async fn tools_list_is_paginated_and_ordered() {
    for c in clients().await {
        let tools = c.list_tools().await.unwrap();
        let names: Vec<&str> = tools.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, common::TOOLS, "{:?}", c.protocol_version());
        let first = result(c.send("tools/list", json!({})).await);
        assert_eq!(first["tools"].as_array().unwrap().len(), 5);
        let cursor = first["nextCursor"].as_str().unwrap().to_owned();
        let second = result(c.send("tools/list", json!({ "cursor": cursor })).await);
        assert_eq!(second["tools"][0]["name"], "progress");
        // The same request gives byte-identical pages.
        assert_eq!(first, result(c.send("tools/list", json!({})).await));
    }
}

#[tokio::test]
async fn invalid_cursors_are_invalid_params() {
    let c = TestClient::modern(common::server());
    for cursor in [json!("garbage"), json!("bWNwOnQ6OTk"), json!(""), json!(5)] {
        let e = error(c.send("tools/list", json!({ "cursor": cursor })).await);
        assert_eq!(e.code, codes::INVALID_PARAMS, "{cursor}");
    }
    // A prompts cursor is not a tools cursor.
    let prompts_cursor = base64_cursor("p", 0);
    assert_eq!(error(c.send("tools/list", json!({ "cursor": prompts_cursor })).await).code, codes::INVALID_PARAMS);
}

fn base64_cursor(tag: &str, page: usize) -> String {
    use std::fmt::Write;
    // URL-safe base64 without padding of "mcp:<tag>:<page>", written out by hand here so
    // the test does not share code with the implementation.
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let input = format!("mcp:{tag}:{page}");
    let bytes = input.as_bytes();
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..=chunk.len() {
            let _ = write!(out, "{}", ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}

async fn clients() -> Vec<TestClient> {
    let mut v = vec![TestClient::modern(common::server())];
    for version in [ProtocolVersion::V2025_03_26, ProtocolVersion::V2025_06_18, ProtocolVersion::V2025_11_25] {
        v.push(TestClient::legacy(common::server(), version).await.unwrap());
    }
    v
}

#[tokio::test]
async fn lists_are_shaped_per_version() {
    for c in clients().await {
        let v = c.protocol_version();
        let tools = result(c.send("tools/list", json!({})).await);
        let echo = &tools["tools"][0];
        assert_eq!(echo.get("title").is_some(), v.has_structured_output(), "{v}");
        assert_eq!(echo.get("outputSchema").is_some(), v.has_structured_output(), "{v}");
        assert_eq!(tools.get("resultType").is_some(), v.is_modern(), "{v}");
        assert_eq!(tools.get("ttlMs").is_some(), v.is_modern(), "{v}");
        let numbers = &tools["tools"][1];
        match v {
            ProtocolVersion::V2025_03_26 => assert!(numbers.get("outputSchema").is_none()),
            ProtocolVersion::V2026_07_28 => assert_eq!(numbers["outputSchema"]["type"], "array"),
            _ => {
                assert_eq!(numbers["outputSchema"]["type"], "object");
                assert_eq!(numbers["outputSchema"]["properties"]["result"]["type"], "array");
            }
        }
    }
}

// ---------------------------------------------------------------- tools/call

#[tokio::test]
async fn tool_results_are_shaped_per_version() {
    for c in clients().await {
        let v = c.protocol_version();
        let r = c.call_tool("echo", json!({ "message": "hi" })).await.unwrap();
        assert!(!r.is_error());
        assert_eq!(r.text_content(), r#"{"echo":"hi"}"#);
        let numbers = c.call_tool("numbers", json!({})).await.unwrap();
        match v {
            ProtocolVersion::V2025_03_26 => {
                assert!(r.structured_content.is_none());
                assert!(numbers.structured_content.is_none());
            }
            ProtocolVersion::V2026_07_28 => {
                assert_eq!(r.structured_value(), Some(json!({ "echo": "hi" })));
                assert_eq!(numbers.structured_value(), Some(json!([1, 2, 3])));
            }
            _ => {
                assert_eq!(r.structured_value(), Some(json!({ "echo": "hi" })));
                assert_eq!(numbers.structured_value(), Some(json!({ "result": [1, 2, 3] })));
            }
        }
        let links = result(c.send("tools/call", json!({ "name": "links", "arguments": {} })).await);
        let block = &links["content"][1];
        if v.has_structured_output() {
            assert_eq!(block["type"], "resource_link");
            assert_eq!(block["uri"], "kitchen://static");
        } else {
            assert_eq!(block["type"], "text");
            assert!(block["text"].as_str().unwrap().contains("kitchen://static"));
        }
    }
}

#[tokio::test]
async fn tool_failures_are_is_error_results() {
    let c = TestClient::modern(common::server());
    let r = c.call_tool("failing", json!({})).await.unwrap();
    assert!(r.is_error());
    assert_eq!(r.text_content(), "the post is already published");
    let r = c.call_tool("echo", json!({ "message": 3 })).await.unwrap();
    assert!(r.is_error());
    assert!(r.text_content().contains("`message`"));
}

#[tokio::test]
async fn a_panicking_tool_is_an_error_result_not_a_crash() {
    let c = TestClient::modern(common::server());
    let r = c.call_tool("panicking", json!({})).await.unwrap();
    assert!(r.is_error());
    assert!(!r.text_content().contains("boom"), "panic text must not leak: {}", r.text_content());
    // The server still works afterwards.
    assert!(!c.call_tool("echo", json!({ "message": "still here" })).await.unwrap().is_error());
}

#[tokio::test]
async fn cancellation_drops_the_tool_and_sends_no_response() {
    let kitchen = common::Kitchen::default();
    let calls = kitchen.calls.clone();
    let s = common::server_with(kitchen);
    let c = Arc::new(TestClient::legacy(s, ProtocolVersion::V2025_06_18).await.unwrap());
    let c2 = c.clone();
    let call = tokio::spawn(async move { c2.send("tools/call", json!({ "name": "slow", "arguments": {} })).await });
    let session = c.session().unwrap().clone();
    for _ in 0..100 {
        if session.peer().in_flight() == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(session.peer().in_flight(), 1);
    // The first request the client sent after initialize had id 2.
    c.notify("notifications/cancelled", json!({ "requestId": 2, "reason": "user" })).await;
    let resp = tokio::time::timeout(Duration::from_secs(5), call).await.unwrap().unwrap();
    assert!(resp.is_none(), "a cancelled request gets no response");
    assert_eq!(session.peer().in_flight(), 0);
    assert_eq!(calls.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn transport_cancellation_drops_the_tool() {
    let s = common::server();
    let token = mcp_core::CancellationToken::new();
    let body = json!({ "jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {
        "name": "slow", "arguments": {}, "_meta": modern_meta() } });
    let handle = {
        let s = s.clone();
        let token = token.clone();
        tokio::spawn(async move { s.handle_bytes(body.to_string().as_bytes(), Inbound::new().cancel(token)).await })
    };
    tokio::time::sleep(Duration::from_millis(50)).await;
    token.cancel();
    let reply = tokio::time::timeout(Duration::from_secs(5), handle).await.unwrap().unwrap();
    assert!(reply.is_none());
}

// ---------------------------------------------------------------- progress and logging

#[tokio::test]
async fn progress_goes_to_the_request_sink_and_only_increases() {
    let c = TestClient::modern(common::server()).with_meta(meta::PROGRESS_TOKEN, json!("tok"));
    c.call_tool("progress", json!({})).await.unwrap();
    let notes = c.notifications();
    let progress: Vec<Value> = notes
        .iter()
        .filter(|n| n.method == methods::PROGRESS)
        .map(|n| serde_json::from_str(n.params.as_ref().unwrap().get()).unwrap())
        .collect();
    assert_eq!(progress.len(), 3);
    assert_eq!(progress[0]["progressToken"], "tok");
    assert_eq!(progress[2]["progress"], 3.0);
    assert_eq!(progress[2]["total"], 3.0);
    // Without a token, no progress.
    let c = TestClient::modern(common::server());
    c.call_tool("progress", json!({})).await.unwrap();
    assert!(c.notifications().is_empty());
}

fn log_levels(c: &TestClient) -> Vec<String> {
    c.notifications()
        .iter()
        .filter(|n| n.method == methods::MESSAGE)
        .map(|n| {
            serde_json::from_str::<Value>(n.params.as_ref().unwrap().get()).unwrap()["level"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect()
}

#[tokio::test]
async fn modern_logging_needs_a_log_level_in_meta() {
    let c = TestClient::modern(common::server());
    c.call_tool("logging", json!({})).await.unwrap();
    assert!(log_levels(&c).is_empty());
    let c = TestClient::modern(common::server()).with_meta(meta::LOG_LEVEL, json!("info"));
    c.call_tool("logging", json!({})).await.unwrap();
    assert_eq!(log_levels(&c), ["info", "warning"]);
}

#[tokio::test]
async fn legacy_logging_follows_set_level() {
    let c = TestClient::legacy(common::server(), ProtocolVersion::V2025_11_25).await.unwrap();
    c.call_tool("logging", json!({})).await.unwrap();
    assert_eq!(log_levels(&c), ["debug", "info", "warning"]);
    let c = TestClient::legacy(common::server(), ProtocolVersion::V2025_11_25).await.unwrap();
    c.send("logging/setLevel", json!({ "level": "warning" })).await;
    c.call_tool("logging", json!({})).await.unwrap();
    assert_eq!(log_levels(&c), ["warning"]);
}

// ---------------------------------------------------------------- asking the client

#[tokio::test]
async fn legacy_tools_ask_the_client_through_the_session() {
    let c = TestClient::legacy_with(common::server(), ProtocolVersion::V2025_06_18, all_caps(), Extensions::new())
        .await
        .unwrap()
        .with_input_handler(answer);
    assert_eq!(c.call_tool("ask_name", json!({})).await.unwrap().text_content(), "Hello, Alice!");
    assert_eq!(c.call_tool("ask_model", json!({})).await.unwrap().text_content(), "The model said: Paris");
    assert_eq!(c.call_tool("ask_roots", json!({})).await.unwrap().text_content(), "1 roots");
    assert_eq!(c.call_tool("two_rounds", json!({})).await.unwrap().text_content(), "Alice likes blue");
}

#[tokio::test]
async fn asking_without_the_capability_fails_clearly() {
    let c = TestClient::legacy(common::server(), ProtocolVersion::V2025_06_18).await.unwrap();
    let r = c.call_tool("ask_name", json!({})).await.unwrap();
    assert!(r.is_error());
    assert!(r.text_content().contains("elicitation"));
    let c = TestClient::modern(common::server());
    let e = error(c.send("tools/call", json!({ "name": "ask_model", "arguments": {} })).await);
    assert_eq!(e.code, codes::MISSING_REQUIRED_CLIENT_CAPABILITY);
    assert_eq!(e.data.unwrap()["requiredCapabilities"], json!({ "sampling": {} }));
}

#[tokio::test]
async fn modern_tools_ask_through_input_required() {
    let kitchen = common::Kitchen::default();
    let calls = kitchen.calls.clone();
    let c = TestClient::modern(common::server_with(kitchen)).with_capabilities(all_caps());
    let r1 = result(c.send("tools/call", json!({ "name": "ask_name", "arguments": {} })).await);
    assert_eq!(r1["resultType"], "input_required");
    assert_eq!(r1["inputRequests"]["user_name"]["method"], "elicitation/create");
    assert_eq!(r1["inputRequests"]["user_name"]["params"]["message"], "What is your name?");
    assert!(r1["requestState"].is_string());
    assert!(r1.get("ttlMs").is_none());
    assert_eq!(calls.load(Ordering::SeqCst), 0, "no side effect before the answer");

    let retry = json!({ "name": "ask_name", "arguments": {}, "requestState": r1["requestState"],
        "inputResponses": { "user_name": { "action": "accept", "content": { "name": "Alice" } } } });
    let r2 = result(c.send("tools/call", retry).await);
    assert_eq!(r2["resultType"], "complete");
    assert_eq!(r2["content"][0]["text"], "Hello, Alice!");
    assert_eq!(calls.load(Ordering::SeqCst), 1);

    // Answers without state are accepted; unknown keys are ignored.
    let oneshot = json!({ "name": "ask_name", "arguments": {}, "inputResponses": {
        "user_name": { "action": "accept", "content": { "name": "Bo" } }, "unexpected": 1 } });
    assert_eq!(result(c.send("tools/call", oneshot).await)["content"][0]["text"], "Hello, Bo!");

    // A wrong key or a malformed answer asks again.
    for responses in [json!({ "wrong_key": { "action": "accept" } }), json!({ "user_name": 12345 })] {
        let again = result(
            c.send("tools/call", json!({ "name": "ask_name", "arguments": {}, "inputResponses": responses })).await,
        );
        assert_eq!(again["resultType"], "input_required");
    }
    // `inputResponses: null` is a malformed request.
    let e = error(c.send("tools/call", json!({ "name": "ask_name", "arguments": {}, "inputResponses": null })).await);
    assert_eq!(e.code, codes::INVALID_PARAMS);
}

#[tokio::test]
async fn tampered_or_foreign_request_state_is_rejected() {
    let s = common::server();
    let alice = TestClient::modern(s.clone()).with_capabilities(all_caps()).with_principal(Principal::new("alice"));
    let bob = TestClient::modern(s.clone()).with_capabilities(all_caps()).with_principal(Principal::new("bob"));
    let r1 = result(alice.send("tools/call", json!({ "name": "ask_name", "arguments": {} })).await);
    let state = r1["requestState"].as_str().unwrap().to_owned();
    let answers = json!({ "user_name": { "action": "accept", "content": { "name": "Eve" } } });

    let tampered = json!({ "name": "ask_name", "arguments": {}, "requestState": format!("{state}-TAMPERED"), "inputResponses": answers });
    assert_eq!(error(alice.send("tools/call", tampered).await).code, codes::INVALID_PARAMS);

    let stolen = json!({ "name": "ask_name", "arguments": {}, "requestState": state, "inputResponses": answers });
    let e = error(bob.send("tools/call", stolen).await);
    assert!(e.message.contains("different caller"), "{}", e.message);

    let other_tool = json!({ "name": "ask_model", "arguments": {}, "requestState": state, "inputResponses": answers });
    let e = error(alice.send("tools/call", other_tool).await);
    assert!(e.message.contains("different request"), "{}", e.message);
}

#[tokio::test]
async fn modern_multi_input_and_multi_round() {
    let c = TestClient::modern(common::server()).with_capabilities(all_caps());
    let r1 = result(c.send("tools/call", json!({ "name": "ask_everything", "arguments": {} })).await);
    let keys: Vec<&String> = r1["inputRequests"].as_object().unwrap().keys().collect();
    assert_eq!(keys, ["client_roots", "greeting", "user_name"]);

    let r1 = result(c.send("tools/call", json!({ "name": "two_rounds", "arguments": {} })).await);
    assert!(r1["inputRequests"].get("step1").is_some());
    let r2 = result(
        c.send(
            "tools/call",
            json!({ "name": "two_rounds", "arguments": {}, "requestState": r1["requestState"],
            "inputResponses": { "step1": { "action": "accept", "content": { "name": "Alice" } } } }),
        )
        .await,
    );
    assert_eq!(r2["resultType"], "input_required");
    assert!(r2["inputRequests"].get("step2").is_some());
    assert_ne!(r2["requestState"], r1["requestState"]);
    let r3 = result(
        c.send(
            "tools/call",
            json!({ "name": "two_rounds", "arguments": {}, "requestState": r2["requestState"],
            "inputResponses": { "step2": { "action": "accept", "content": { "color": "blue" } } } }),
        )
        .await,
    );
    assert_eq!(r3["content"][0]["text"], "Alice likes blue");

    // The test client's helper does the same loop.
    let c = c.with_input_handler(answer);
    assert_eq!(c.call_tool("ask_everything", json!({})).await.unwrap().text_content(), "Accept / Paris / 1 roots");
}

#[tokio::test]
async fn prompts_can_ask_for_input_too() {
    let c = TestClient::modern(common::server()).with_capabilities(all_caps());
    let r1 = result(c.send("prompts/get", json!({ "name": "ask_context" })).await);
    assert_eq!(r1["resultType"], "input_required");
    let c = c.with_input_handler(|_| Some(json!({ "action": "accept", "content": { "context": "tests" } })));
    let p = c.get_prompt("ask_context", json!({})).await.unwrap();
    assert_eq!(p.messages[0].content.as_text(), Some("Context: \"tests\""));
    // Lists never answer input_required.
    assert_eq!(result(c.send("prompts/list", json!({})).await)["resultType"], "complete");
}

// ---------------------------------------------------------------- resources, prompts, completion

#[tokio::test]
async fn resources_static_template_and_not_found() {
    for c in clients().await {
        let v = c.protocol_version();
        let r = c.read_resource("kitchen://static").await.unwrap();
        assert_eq!(r.contents[0].uri(), "kitchen://static");
        let r = c.read_resource("kitchen://items/42").await.unwrap();
        let ResourceContents::Text(t) = &r.contents[0] else { panic!() };
        assert_eq!(t.text, r#"{"id":"42"}"#);
        for uri in ["kitchen://nothing", "kitchen://items/missing"] {
            let e = error(c.send("resources/read", json!({ "uri": uri })).await);
            assert_eq!(e.code, if v.is_modern() { -32602 } else { -32002 }, "{v} {uri}");
            assert_eq!(e.data.unwrap()["uri"], uri);
        }
        assert_eq!(c.list_resources().await.unwrap().len(), 1);
        assert_eq!(c.list_resource_templates().await.unwrap()[0].uri_template, "kitchen://items/{id}");
    }
}

#[tokio::test]
async fn prompts_check_required_arguments() {
    let c = TestClient::modern(common::server());
    let p = c.get_prompt("greet", json!({ "name": "Ada" })).await.unwrap();
    assert_eq!(p.messages[0].content.as_text(), Some("Say hello to Ada"));
    let e = error(c.send("prompts/get", json!({ "name": "greet", "arguments": {} })).await);
    assert_eq!(e.code, codes::INVALID_PARAMS);
    assert!(e.message.contains("`name`"));
    let e = error(c.send("prompts/get", json!({ "name": "nope" })).await);
    assert_eq!(e.message, "Unknown prompt: nope");
    assert_eq!(c.list_prompts().await.unwrap().len(), 2);
}

#[tokio::test]
async fn completion_for_prompts_and_templates() {
    let c = TestClient::modern(common::server());
    let v = result(
        c.send(
            "completion/complete",
            json!({ "ref": { "type": "ref/prompt", "name": "greet" }, "argument": { "name": "style", "value": "c" } }),
        )
        .await,
    );
    assert_eq!(v["completion"]["values"], json!(["casual"]));
    let v = result(
        c.send("completion/complete", json!({ "ref": { "type": "ref/resource", "uri": "kitchen://items/{id}" }, "argument": { "name": "id", "value": "" } }))
            .await,
    );
    assert_eq!(v["completion"]["values"].as_array().unwrap().len(), 100);
    assert_eq!(v["completion"]["total"], 150);
    assert_eq!(v["completion"]["hasMore"], true);
    for bad in [
        json!({ "ref": { "type": "ref/prompt", "name": "nope" }, "argument": { "name": "x", "value": "" } }),
        json!({ "ref": { "type": "ref/prompt", "name": "greet" }, "argument": { "name": "nope", "value": "" } }),
        json!({ "ref": { "type": "ref/resource", "uri": "x://{y}" }, "argument": { "name": "y", "value": "" } }),
        json!({ "ref": { "type": "ref/other" }, "argument": { "name": "y", "value": "" } }),
    ] {
        assert_eq!(error(c.send("completion/complete", bad).await).code, codes::INVALID_PARAMS);
    }
}

#[tokio::test]
async fn capabilities_follow_what_is_registered() {
    let empty = Server::builder().info(server_info!()).build().unwrap();
    let caps = empty.capabilities();
    assert!(caps.tools.is_none() && caps.prompts.is_none() && caps.resources.is_none() && caps.completions.is_none());
    let c = TestClient::modern(empty);
    let e = error(c.send("prompts/list", json!({})).await);
    assert_eq!(e.code, codes::METHOD_NOT_FOUND);
    assert_eq!(e.message, "prompts not supported");
    assert_eq!(error(c.send("tools/call", json!({ "name": "x" })).await).code, codes::METHOD_NOT_FOUND);
}

// ---------------------------------------------------------------- subscriptions

#[tokio::test]
async fn subscriptions_listen_acknowledges_forwards_and_closes() {
    let s = common::server();
    let (tx, mut rx) = tokio::sync::mpsc::channel(16);
    let body = json!({ "jsonrpc": "2.0", "id": "sub-1", "method": "subscriptions/listen", "params": {
        "_meta": modern_meta(),
        "notifications": { "toolsListChanged": true, "promptsListChanged": true, "resourceSubscriptions": ["kitchen://static"] } } });
    let handle = {
        let s = s.clone();
        tokio::spawn(async move { s.handle_bytes(body.to_string().as_bytes(), Inbound::new().sink(tx)).await })
    };
    let ack = rx.recv().await.unwrap();
    let Message::Notification(ack) = ack else { panic!() };
    assert_eq!(ack.method, "notifications/subscriptions/acknowledged");
    let ack: Value = serde_json::from_str(ack.params.unwrap().get()).unwrap();
    assert_eq!(ack["_meta"][meta::SUBSCRIPTION_ID], "sub-1");
    assert_eq!(ack["notifications"]["toolsListChanged"], true);
    assert_eq!(ack["notifications"]["promptsListChanged"], true);

    s.notify(ServerEvent::ResourcesListChanged); // not subscribed: dropped
    s.notify(ServerEvent::ResourceUpdated("kitchen://other".into())); // other URI: dropped
    s.notify(ServerEvent::ResourceUpdated("kitchen://static".into()));
    s.notify(ServerEvent::ToolsListChanged);
    let mut got = Vec::new();
    for _ in 0..2 {
        let Some(Message::Notification(n)) = rx.recv().await else { panic!() };
        let p: Value = serde_json::from_str(n.params.unwrap().get()).unwrap();
        assert_eq!(p["_meta"][meta::SUBSCRIPTION_ID], "sub-1");
        got.push(n.method);
    }
    assert_eq!(got, ["notifications/resources/updated", "notifications/tools/list_changed"]);

    s.shutdown();
    let reply = tokio::time::timeout(Duration::from_secs(5), handle).await.unwrap().unwrap().unwrap();
    let v: Value = serde_json::from_slice(&reply.to_vec()).unwrap();
    assert_eq!(v["id"], "sub-1");
    assert_eq!(v["result"]["resultType"], "complete");
    assert_eq!(v["result"]["_meta"][meta::SUBSCRIPTION_ID], "sub-1");
}

#[tokio::test]
async fn legacy_subscriptions_filter_resource_updates() {
    let s = common::server();
    let c = TestClient::legacy(s.clone(), ProtocolVersion::V2025_06_18).await.unwrap();
    let session = c.session().unwrap();
    assert!(s.legacy_notification(&ServerEvent::ResourceUpdated("kitchen://static".into()), session).is_none());
    assert_eq!(result(c.send("resources/subscribe", json!({ "uri": "kitchen://static" })).await), json!({}));
    let n = s.legacy_notification(&ServerEvent::ResourceUpdated("kitchen://static".into()), session).unwrap();
    assert_eq!(n.method, "notifications/resources/updated");
    assert!(s.legacy_notification(&ServerEvent::ToolsListChanged, session).is_some());
    c.send("resources/unsubscribe", json!({ "uri": "kitchen://static" })).await;
    assert!(s.legacy_notification(&ServerEvent::ResourceUpdated("kitchen://static".into()), session).is_none());
}

// ---------------------------------------------------------------- batches

#[tokio::test]
async fn batches_only_for_2025_03_26() {
    let batch = r#"[{"jsonrpc":"2.0","id":1,"method":"ping"},{"jsonrpc":"2.0","method":"notifications/x"},
        {"jsonrpc":"2.0","id":2,"method":"tools/list"}, 7]"#;
    let old = TestClient::legacy(common::server(), ProtocolVersion::V2025_03_26).await.unwrap();
    let s = common::server();
    let reply = s.handle_bytes(batch.as_bytes(), Inbound::new().session(old.session().unwrap().clone())).await.unwrap();
    let Reply::Batch(items) = &reply else { panic!("{reply:?}") };
    assert_eq!(items.len(), 3);
    let v: Value = serde_json::from_slice(&reply.to_vec()).unwrap();
    assert_eq!(v[0]["id"], 1);
    assert_eq!(v[1]["id"], 2);
    assert!(v[1]["result"]["tools"].is_array());
    assert_eq!(v[2]["error"]["code"], codes::INVALID_REQUEST);

    let new = TestClient::legacy(common::server(), ProtocolVersion::V2025_06_18).await.unwrap();
    let v = raw(&s, batch, Inbound::new().session(new.session().unwrap().clone())).await;
    assert_eq!(v["error"]["code"], codes::INVALID_REQUEST);
    assert!(v["error"]["message"].as_str().unwrap().contains("2025-06-18"));
    let v = raw(&s, batch, Inbound::new()).await;
    assert_eq!(v["error"]["code"], codes::INVALID_REQUEST);
}

// ---------------------------------------------------------------- building

struct Dup(&'static str);

impl Toolset for Dup {
    fn tools(&self) -> Vec<Tool> {
        vec![Tool::new(self.0)]
    }
}

#[test]
fn build_rejects_duplicates_and_bad_names() {
    let e = Server::builder().info(server_info!()).toolset(Dup("a")).toolset(Dup("a")).build().unwrap_err();
    assert!(e.to_string().contains("duplicate tool `a`: declared by toolset #0 and toolset #1"), "{e}");
    let e = Server::builder().info(server_info!()).toolset(Dup("bad name")).build().unwrap_err();
    assert!(e.to_string().contains("contains ` `"), "{e}");
    let e = Server::builder().toolset(Dup("a")).build().unwrap_err();
    assert!(e.to_string().contains("server_info!()"), "{e}");
}
