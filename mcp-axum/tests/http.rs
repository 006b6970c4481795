//! The endpoint over real HTTP on 127.0.0.1: both protocol eras, every status code,
//! SSE responses, cancellation on disconnect, GET streams with replay, session limits.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures_util::StreamExt;
use mcp_axum::{McpRouter, SessionLimits};
use mcp_core::ServerEvent;
use mcp_core::prelude::*;
use mcp_core::protocol::ElicitParams;
use serde_json::{Value, json};

#[derive(Clone, Default)]
struct Probe {
    started: Arc<AtomicUsize>,
    dropped: Arc<AtomicUsize>,
}

struct OnDrop(Arc<AtomicUsize>);

impl Drop for OnDrop {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[mcp_toolset]
impl Probe {
    /// Echo.
    #[mcp_tool]
    fn echo(&self, message: String) -> String {
        message
    }

    /// Reports progress.
    #[mcp_tool]
    async fn work(&self, progress: Progress) -> &'static str {
        for i in 1..=3 {
            progress.report(f64::from(i), Some(3.0), format!("step {i}")).await;
        }
        "done"
    }

    /// Never finishes on its own.
    #[mcp_tool]
    async fn hang(&self) -> &'static str {
        self.started.fetch_add(1, Ordering::SeqCst);
        let _guard = OnDrop(self.dropped.clone());
        tokio::time::sleep(Duration::from_secs(60)).await;
        "late"
    }

    /// Asks for a name.
    #[mcp_tool]
    async fn ask(&self, ctx: &Context) -> Result<String, ToolError> {
        let r = ctx
            .elicit_as(
                "name",
                ElicitParams::form(
                    "Name?",
                    json!({ "type": "object", "properties": { "name": { "type": "string" } } }),
                ),
            )
            .await?;
        Ok(format!("Hi {}", r.content.and_then(|c| c.get("name").cloned()).unwrap_or(Value::Null)))
    }
}

struct App {
    base: String,
    http: reqwest::Client,
    server: Server,
    probe: Probe,
}

async fn start(configure: impl FnOnce(McpRouter) -> McpRouter) -> App {
    let probe = Probe::default();
    let server = Server::builder().info(server_info!()).toolset(probe.clone()).build().unwrap();
    let router = configure(McpRouter::new(server.clone()).keep_alive(Duration::from_millis(200)));
    let app = axum::Router::new().merge(router.into_router());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(mcp_axum::serve(listener, app));
    App { base: format!("http://{addr}/mcp"), http: reqwest::Client::new(), server, probe }
}

fn modern_body(id: i64, method: &str, params: Value) -> Value {
    let mut params = params;
    params["_meta"] = json!({
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientCapabilities": {},
    });
    json!({ "jsonrpc": "2.0", "id": id, "method": method, "params": params })
}

impl App {
    fn post(&self) -> reqwest::RequestBuilder {
        self.http
            .post(&self.base)
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
    }

    fn modern(&self, body: &Value) -> reqwest::RequestBuilder {
        let method = body["method"].as_str().unwrap_or_default().to_owned();
        let mut b = self.post().header("mcp-protocol-version", "2026-07-28").header("mcp-method", method);
        if let Some(name) = body["params"]["name"].as_str().or(body["params"]["uri"].as_str()) {
            b = b.header("mcp-name", name);
        }
        b.body(body.to_string())
    }

    async fn initialize(&self, version: &str) -> String {
        let body = json!({ "jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": version, "capabilities": { "elicitation": {} }, "clientInfo": { "name": "t", "version": "1" } } });
        let r = self.post().body(body.to_string()).send().await.unwrap();
        assert_eq!(r.status(), 200);
        let id = r.headers()["mcp-session-id"].to_str().unwrap().to_owned();
        let v: Value = r.json_value().await;
        assert_eq!(v["result"]["protocolVersion"], version);
        let note = json!({ "jsonrpc": "2.0", "method": "notifications/initialized" });
        let r = self.legacy(&id, version).body(note.to_string()).send().await.unwrap();
        assert_eq!(r.status(), 202);
        id
    }

    fn legacy(&self, session: &str, version: &str) -> reqwest::RequestBuilder {
        self.post().header("mcp-session-id", session).header("mcp-protocol-version", version)
    }
}

trait JsonValue {
    async fn json_value(self) -> Value;
}

impl JsonValue for reqwest::Response {
    async fn json_value(self) -> Value {
        let text = self.text().await.unwrap();
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
    }
}

/// The JSON messages of an SSE body.
fn sse_messages(text: &str) -> Vec<Value> {
    text.lines().filter_map(|l| l.strip_prefix("data: ")).map(|d| serde_json::from_str(d).unwrap()).collect()
}

// ------------------------------------------------------------------ modern era

#[tokio::test]
async fn modern_requests_are_stateless_with_headers_checked() {
    let app = start(|r| r).await;
    let body = modern_body(1, "server/discover", json!({}));
    let r = app.modern(&body).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/json");
    assert!(r.headers().get("mcp-session-id").is_none());
    let v = r.json_value().await;
    assert_eq!(v["result"]["resultType"], "complete");

    let call = modern_body(2, "tools/call", json!({ "name": "echo", "arguments": { "message": "hi" } }));
    let v = app.modern(&call).send().await.unwrap().json_value().await;
    assert_eq!(v["result"]["content"][0]["text"], "hi");

    // The trailing-slash form is the same endpoint, no redirect.
    let r = app
        .http
        .post(format!("{}/", app.base))
        .header("content-type", "application/json")
        .header("mcp-protocol-version", "2026-07-28")
        .header("mcp-method", "server/discover")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn modern_header_mismatches_are_400_with_32020() {
    let app = start(|r| r).await;
    let call = modern_body(7, "tools/call", json!({ "name": "echo", "arguments": { "message": "hi" } }));
    let cases: Vec<(reqwest::RequestBuilder, &str)> = vec![
        (
            app.post().header("mcp-protocol-version", "2026-07-28").header("mcp-name", "echo").body(call.to_string()),
            "Mcp-Method",
        ),
        (
            app.post()
                .header("mcp-protocol-version", "2026-07-28")
                .header("mcp-method", "tools/list")
                .header("mcp-name", "echo")
                .body(call.to_string()),
            "Mcp-Method",
        ),
        (
            app.post()
                .header("mcp-protocol-version", "2026-07-28")
                .header("mcp-method", "tools/call")
                .body(call.to_string()),
            "Mcp-Name",
        ),
        (
            app.post()
                .header("mcp-protocol-version", "2026-07-28")
                .header("mcp-method", "tools/call")
                .header("mcp-name", "other")
                .body(call.to_string()),
            "Mcp-Name",
        ),
        (
            app.post()
                .header("mcp-protocol-version", "2026-07-28")
                .header("mcp-method", "tools/call")
                .header("mcp-name", "=?base64?b3RoZXI=?=")
                .body(call.to_string()),
            "Mcp-Name",
        ),
        (
            app.post()
                .header("mcp-protocol-version", "2026-07-28")
                .header("mcp-method", "tools/call")
                .header("mcp-name", "=?base64?!!!?=")
                .body(call.to_string()),
            "not valid Base64",
        ),
        (
            app.post()
                .header("mcp-protocol-version", "2026-07-28")
                .header("mcp-method", "tools/call")
                .header("mcp-name", "echo")
                .body({
                    let mut c = call.clone();
                    c["params"]["_meta"]["io.modelcontextprotocol/protocolVersion"] = json!("2025-06-18");
                    c.to_string()
                }),
            "MCP-Protocol-Version header value '2026-07-28' does not match body value '2025-06-18'",
        ),
    ];
    for (req, what) in cases {
        let r = req.send().await.unwrap();
        assert_eq!(r.status(), 400, "{what}");
        let v = r.json_value().await;
        assert_eq!(v["error"]["code"], -32020, "{v}");
        assert_eq!(v["id"], 7);
        assert!(v["error"]["message"].as_str().unwrap().contains(what), "{v}");
    }
    // The Base64 form of the right name is accepted.
    let r = app
        .post()
        .header("mcp-protocol-version", "2026-07-28")
        .header("mcp-method", "tools/call")
        .header("mcp-name", "=?base64?ZWNobw==?=")
        .body(call.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // Header and `_meta` disagree.
    let mut v999 = modern_body(8, "server/discover", json!({}));
    v999["params"]["_meta"]["io.modelcontextprotocol/protocolVersion"] = json!("v999.0.0");
    let r = app.modern(&v999).send().await.unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(r.json_value().await["error"]["code"], -32020);
    // Both say an unsupported version: -32022.
    let r = app
        .post()
        .header("mcp-protocol-version", "v999.0.0")
        .header("mcp-method", "server/discover")
        .body(v999.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let v = r.json_value().await;
    assert_eq!(v["error"]["code"], -32022);
    assert_eq!(v["error"]["data"]["requested"], "v999.0.0");
}

#[tokio::test]
async fn modern_errors_map_to_http_statuses() {
    let app = start(|r| r).await;
    // Missing `_meta` fields: 400 with -32602, the id echoed.
    for params in [json!({}), json!({ "_meta": { "io.modelcontextprotocol/protocolVersion": "2026-07-28" } })] {
        let body = json!({ "jsonrpc": "2.0", "id": 101, "method": "server/discover", "params": params });
        let r = app.modern(&body).send().await.unwrap();
        assert_eq!(r.status(), 400);
        let v = r.json_value().await;
        assert_eq!(v["error"]["code"], -32602);
        assert_eq!(v["id"], 101);
    }
    // Unknown and legacy-only methods: 404 with -32601.
    for m in ["unknown/method", "initialize", "ping", "logging/setLevel", "resources/subscribe"] {
        let body = modern_body(500, m, json!({ "uri": "x", "level": "info" }));
        let r = app.modern(&body).send().await.unwrap();
        assert_eq!(r.status(), 404, "{m}");
        assert_eq!(r.json_value().await["error"]["code"], -32601, "{m}");
    }
    // GET and DELETE are not part of 2026-07-28.
    for method in [reqwest::Method::GET, reqwest::Method::DELETE] {
        let r = app
            .http
            .request(method.clone(), &app.base)
            .header("mcp-protocol-version", "2026-07-28")
            .header("accept", "text/event-stream")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 405, "{method}");
    }
    let r = app.http.get(&app.base).header("accept", "text/event-stream").send().await.unwrap();
    assert_eq!(r.status(), 405);
}

#[tokio::test]
async fn progress_switches_the_answer_to_sse() {
    let app = start(|r| r).await;
    let mut body = modern_body(3, "tools/call", json!({ "name": "work", "arguments": {} }));
    body["params"]["_meta"]["progressToken"] = json!("p1");
    let r = app.modern(&body).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "text/event-stream");
    assert_eq!(r.headers()["x-accel-buffering"], "no");
    let msgs = sse_messages(&r.text().await.unwrap());
    assert_eq!(msgs.len(), 4, "{msgs:?}");
    assert_eq!(msgs[0]["method"], "notifications/progress");
    assert_eq!(msgs[2]["params"]["progress"], 3.0);
    assert_eq!(msgs[3]["id"], 3);
    assert_eq!(msgs[3]["result"]["content"][0]["text"], "done");
}

#[tokio::test]
async fn a_disconnecting_client_cancels_the_tool() {
    let app = start(|r| r).await;
    let body = modern_body(4, "tools/call", json!({ "name": "hang", "arguments": {} }));
    let r = app.modern(&body).timeout(Duration::from_millis(300)).send().await;
    assert!(r.is_err(), "the tool does not answer in time");
    for _ in 0..100 {
        if app.probe.dropped.load(Ordering::SeqCst) == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(app.probe.started.load(Ordering::SeqCst), 1);
    assert_eq!(app.probe.dropped.load(Ordering::SeqCst), 1, "the tool's future was dropped");
}

#[tokio::test]
async fn subscriptions_listen_streams_list_changes() {
    let app = start(|r| r).await;
    let body = modern_body(9, "subscriptions/listen", json!({ "notifications": { "toolsListChanged": true } }));
    let r = app.modern(&body).send().await.unwrap();
    assert_eq!(r.headers()["content-type"], "text/event-stream");
    let mut stream = r.bytes_stream();
    let mut text = String::new();
    let mut notified = false;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while sse_messages(&text).len() < 2 && tokio::time::Instant::now() < deadline {
        let chunk = tokio::time::timeout(Duration::from_millis(500), stream.next()).await;
        if let Ok(Some(Ok(b))) = chunk {
            text.push_str(std::str::from_utf8(&b).unwrap());
        }
        if !notified && !sse_messages(&text).is_empty() {
            app.server.notify(ServerEvent::ToolsListChanged);
            notified = true;
        }
    }
    let msgs = sse_messages(&text);
    assert_eq!(msgs[0]["method"], "notifications/subscriptions/acknowledged");
    assert_eq!(msgs[1]["method"], "notifications/tools/list_changed");
    assert_eq!(msgs[1]["params"]["_meta"]["io.modelcontextprotocol/subscriptionId"], 9);
}

#[tokio::test]
async fn idle_streams_get_keep_alive_comments() {
    let app = start(|r| r).await;
    let body = modern_body(10, "subscriptions/listen", json!({ "notifications": { "toolsListChanged": true } }));
    let r = app.modern(&body).send().await.unwrap();
    let mut stream = r.bytes_stream();
    let mut text = String::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(3);
    while !text.contains(": keep-alive") && tokio::time::Instant::now() < deadline {
        if let Ok(Some(Ok(b))) = tokio::time::timeout(Duration::from_millis(500), stream.next()).await {
            text.push_str(std::str::from_utf8(&b).unwrap());
        }
    }
    assert!(text.contains(": keep-alive\n\n"), "{text}");
}

// ------------------------------------------------------------------ legacy era

#[tokio::test]
async fn in_a_legacy_session_progress_streams_and_a_disconnect_cancels_too() {
    let app = start(|r| r).await;
    let id = app.initialize("2025-11-25").await;
    let call = |id: u32, name: &str| json!({ "jsonrpc": "2.0", "id": id, "method": "tools/call", "params": { "name": name, "arguments": {}, "_meta": { "progressToken": 7 } } });
    let r = app.legacy(&id, "2025-11-25").body(call(3, "work").to_string()).send().await.unwrap();
    assert_eq!(r.headers()["content-type"], "text/event-stream");
    let msgs = sse_messages(&r.text().await.unwrap());
    assert_eq!(msgs.len(), 4, "{msgs:?}");
    assert_eq!(msgs[0]["params"]["progressToken"], 7);
    assert_eq!(msgs[3]["result"]["content"][0]["text"], "done");

    let r = app.legacy(&id, "2025-11-25").body(call(4, "hang").to_string()).timeout(Duration::from_millis(300)).send();
    assert!(r.await.is_err(), "the tool does not answer in time");
    for _ in 0..100 {
        if app.probe.dropped.load(Ordering::SeqCst) == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(app.probe.dropped.load(Ordering::SeqCst), 1, "the tool's future was dropped");
}

#[tokio::test]
async fn legacy_sessions_lifecycle() {
    let app = start(|r| r).await;
    let id = app.initialize("2025-06-18").await;
    assert_eq!(id.len(), 32);
    let list = json!({ "jsonrpc": "2.0", "id": 2, "method": "tools/list" });
    let r = app.legacy(&id, "2025-06-18").body(list.to_string()).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.json_value().await["result"]["tools"].as_array().unwrap().len(), 4);

    // Missing and unknown session ids.
    let r = app.post().header("mcp-protocol-version", "2025-06-18").body(list.to_string()).send().await.unwrap();
    assert_eq!(r.status(), 400);
    let r = app.legacy("0123456789abcdef0123456789abcdef", "2025-06-18").body(list.to_string()).send().await.unwrap();
    assert_eq!(r.status(), 404);
    // An unknown protocol version header is refused; any supported one is accepted
    // (clients such as the official conformance suite send 2025-03-26 on newer sessions).
    let r = app.legacy(&id, "1999-01-01").body(list.to_string()).send().await.unwrap();
    assert_eq!(r.status(), 400);
    let r = app.legacy(&id, "2026-07-28").body(list.to_string()).send().await.unwrap();
    assert_ne!(r.status(), 200, "2026-07-28 is stateless: the session header is ignored and `_meta` is required");
    let r = app.legacy(&id, "2025-03-26").body(list.to_string()).send().await.unwrap();
    assert_eq!(r.status(), 200);
    // Missing header: assumed compatible (2025-03-26 clients send none).
    let r = app.post().header("mcp-session-id", &id).body(list.to_string()).send().await.unwrap();
    assert_eq!(r.status(), 200);

    // Batches are only for 2025-03-26.
    let batch = json!([{ "jsonrpc": "2.0", "id": 3, "method": "ping" }]);
    let v = app.legacy(&id, "2025-06-18").body(batch.to_string()).send().await.unwrap().json_value().await;
    assert_eq!(v["error"]["code"], -32600);
    let old = app.initialize("2025-03-26").await;
    let v = app.legacy(&old, "2025-03-26").body(batch.to_string()).send().await.unwrap().json_value().await;
    assert_eq!(v[0]["result"], json!({}));

    // DELETE ends the session.
    let r = app.http.delete(&app.base).header("mcp-session-id", &id).send().await.unwrap();
    assert_eq!(r.status(), 204);
    let r = app.legacy(&id, "2025-06-18").body(list.to_string()).send().await.unwrap();
    assert_eq!(r.status(), 404);
    let r = app.http.delete(&app.base).header("mcp-session-id", &id).send().await.unwrap();
    assert_eq!(r.status(), 404);
}

#[tokio::test]
async fn legacy_elicitation_round_trip_over_http() {
    let app = start(|r| r).await;
    let id = app.initialize("2025-11-25").await;
    let call =
        json!({ "jsonrpc": "2.0", "id": 5, "method": "tools/call", "params": { "name": "ask", "arguments": {} } });
    let r = app.legacy(&id, "2025-11-25").body(call.to_string()).send().await.unwrap();
    assert_eq!(r.headers()["content-type"], "text/event-stream");
    let mut stream = r.bytes_stream();
    let mut text = String::new();
    while sse_messages(&text).is_empty() {
        text.push_str(std::str::from_utf8(&stream.next().await.unwrap().unwrap()).unwrap());
    }
    let ask = sse_messages(&text).remove(0);
    assert_eq!(ask["method"], "elicitation/create");
    let answer =
        json!({ "jsonrpc": "2.0", "id": ask["id"], "result": { "action": "accept", "content": { "name": "Ada" } } });
    let r = app.legacy(&id, "2025-11-25").body(answer.to_string()).send().await.unwrap();
    assert_eq!(r.status(), 202);
    while let Some(chunk) = stream.next().await {
        text.push_str(std::str::from_utf8(&chunk.unwrap()).unwrap());
    }
    let msgs = sse_messages(&text);
    assert_eq!(msgs.last().unwrap()["result"]["content"][0]["text"], "Hi \"Ada\"");
}

#[tokio::test]
async fn get_stream_delivers_and_replays_events() {
    let app = start(|r| r).await;
    let id = app.initialize("2025-06-18").await;
    let open = |last: Option<&str>| {
        let mut b = app.http.get(&app.base).header("mcp-session-id", &id).header("accept", "text/event-stream");
        if let Some(l) = last {
            b = b.header("last-event-id", l);
        }
        b.send()
    };
    let r = open(None).await.unwrap();
    assert_eq!(r.status(), 200);
    let mut stream = r.bytes_stream();
    tokio::time::sleep(Duration::from_millis(50)).await;
    app.server.notify(ServerEvent::ToolsListChanged);
    let mut text = String::new();
    while !text.contains("data: ") {
        text.push_str(std::str::from_utf8(&stream.next().await.unwrap().unwrap()).unwrap());
    }
    assert!(text.contains("id: 1\n"), "{text}");
    drop(stream);
    tokio::time::sleep(Duration::from_millis(50)).await;
    // Missed while disconnected: replayed after `Last-Event-ID`.
    app.server.notify(ServerEvent::PromptsListChanged);
    app.server.notify(ServerEvent::ResourcesListChanged);
    tokio::time::sleep(Duration::from_millis(50)).await;
    let mut stream = open(Some("1")).await.unwrap().bytes_stream();
    let mut text = String::new();
    while sse_messages(&text).len() < 2 {
        text.push_str(std::str::from_utf8(&stream.next().await.unwrap().unwrap()).unwrap());
    }
    assert!(text.contains("id: 2\n") && text.contains("id: 3\n"), "{text}");
    assert!(!text.contains("id: 1\n"));
    // GET needs a known session and SSE.
    let r = app
        .http
        .get(&app.base)
        .header("mcp-session-id", "nope")
        .header("accept", "text/event-stream")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let r = app
        .http
        .get(&app.base)
        .header("mcp-session-id", &id)
        .header("accept", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 406);
}

#[tokio::test]
async fn sessions_are_bounded_and_expire() {
    let app = start(|r| {
        r.session_limits(SessionLimits {
            max_sessions: 2,
            idle_timeout: Duration::from_millis(300),
            ..Default::default()
        })
    })
    .await;
    let list = json!({ "jsonrpc": "2.0", "id": 2, "method": "tools/list" });
    let a = app.initialize("2025-06-18").await;
    let b = app.initialize("2025-06-18").await;
    let c = app.initialize("2025-06-18").await;
    // The longest idle session was evicted to make room.
    assert_eq!(app.legacy(&a, "2025-06-18").body(list.to_string()).send().await.unwrap().status(), 404);
    assert_eq!(app.legacy(&b, "2025-06-18").body(list.to_string()).send().await.unwrap().status(), 200);
    assert_eq!(app.legacy(&c, "2025-06-18").body(list.to_string()).send().await.unwrap().status(), 200);
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(app.legacy(&b, "2025-06-18").body(list.to_string()).send().await.unwrap().status(), 404);
}

// ------------------------------------------------------------------ security and bad input

#[tokio::test]
async fn secure_defaults() {
    let app = start(|r| r).await;
    let body = modern_body(1, "server/discover", json!({}));
    let r = app.modern(&body).header("host", "evil.example.com").send().await.unwrap();
    assert_eq!(r.status(), 403);
    let r = app.modern(&body).header("origin", "https://evil.example.com").send().await.unwrap();
    assert_eq!(r.status(), 403);
    let r = app.modern(&body).header("origin", "http://localhost:5173").send().await.unwrap();
    assert_eq!(r.status(), 200);
    let bare = |ct: &str, accept: &str| {
        app.http
            .post(&app.base)
            .header("content-type", ct)
            .header("accept", accept)
            .header("mcp-protocol-version", "2026-07-28")
            .header("mcp-method", "server/discover")
            .body(body.to_string())
            .send()
    };
    assert_eq!(bare("text/plain", "application/json, text/event-stream").await.unwrap().status(), 415);
    assert_eq!(bare("application/json", "application/json").await.unwrap().status(), 406);
    assert_eq!(bare("application/json; charset=utf-8", "*/*").await.unwrap().status(), 200);
    let huge =
        format!(r#"{{"jsonrpc":"2.0","id":1,"method":"ping","params":{{"x":"{}"}}}}"#, "a".repeat(5 * 1024 * 1024));
    let r = app.post().header("mcp-protocol-version", "2026-07-28").body(huge).send().await.unwrap();
    assert_eq!(r.status(), 413);
    let r = app.post().header("mcp-protocol-version", "2026-07-28").body("{not json").send().await.unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(r.json_value().await["error"]["code"], -32700);
    let r = app.http.put(&app.base).send().await.unwrap();
    assert_eq!(r.status(), 405);
}

#[tokio::test]
async fn configured_public_url_and_origins() {
    let app =
        start(|r| r.public_url("https://api.example.com").deny_loopback().allow_origin("https://app.example.com"))
            .await;
    let body = modern_body(1, "server/discover", json!({}));
    let r = app.modern(&body).send().await.unwrap();
    assert_eq!(r.status(), 403, "loopback is no longer allowed");
    let r = app
        .modern(&body)
        .header("host", "api.example.com")
        .header("origin", "https://app.example.com")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = app
        .modern(&body)
        .header("host", "api.example.com")
        .header("origin", "https://api.example.com")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn a_panicking_permission_hook_is_an_internal_error_not_a_dropped_connection() {
    // The application's hook runs in the dispatcher, outside the tools' panic guard.
    let server = Server::builder()
        .info(server_info!())
        .toolset(Probe::default())
        .tool_permission(|tool, _| if tool.name == "hang" { panic!("a bug in the hook") } else { true })
        .build()
        .unwrap();
    let app = axum::Router::new().merge(McpRouter::new(server.clone()).into_router());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(mcp_axum::serve(listener, app));
    let app = App { base: format!("http://{addr}/mcp"), http: reqwest::Client::new(), server, probe: Probe::default() };
    for round in 0..2 {
        let r = app.modern(&modern_body(round, "tools/list", json!({}))).send().await.unwrap();
        assert_eq!(r.status(), 500);
        let v = r.json_value().await;
        assert_eq!(v["error"]["code"], -32603, "{v}");
        assert_eq!(v["error"]["message"], "internal error");
    }
    // The hook also runs before a call: in 2026-07-28 and in a legacy session alike.
    let call = modern_body(3, "tools/call", json!({ "name": "hang", "arguments": {} }));
    let r = app.modern(&call).header("mcp-name", "hang").send().await.unwrap();
    assert_eq!(r.status(), 500);
    assert_eq!(r.json_value().await["error"]["code"], -32603);
    let id = app.initialize("2025-11-25").await;
    let call =
        json!({ "jsonrpc": "2.0", "id": 4, "method": "tools/call", "params": { "name": "hang", "arguments": {} } });
    let v = app.legacy(&id, "2025-11-25").body(call.to_string()).send().await.unwrap().json_value().await;
    assert_eq!(v["error"]["code"], -32603, "{v}");
}
