//! Legacy sessions in the real Redis, shared by two server instances.
//! Runs when `MCP_TEST_REDIS_URL` is set (`.ci/run` sets it); says so when skipped.
#![cfg(feature = "redis")]

use std::time::Duration;

use mcp_axum::{McpRouter, RedisStore};
use mcp_core::prelude::*;
use serde_json::{Value, json};

struct Tools;

#[mcp_toolset]
impl Tools {
    /// Echo.
    #[mcp_tool]
    fn echo(&self, message: String) -> String {
        message
    }

    /// Asks the user's name.
    #[mcp_tool]
    async fn ask(&self, ctx: &Context) -> Result<String, ToolError> {
        let r = ctx
            .elicit(mcp_core::protocol::ElicitParams::form(
                "Name?",
                json!({ "type": "object", "properties": { "name": { "type": "string" } } }),
            ))
            .await?;
        Ok(format!("Hi {}", r.content.and_then(|c| c.get("name").cloned()).unwrap_or(Value::Null)))
    }

    /// Logs at debug.
    #[mcp_tool]
    async fn chatty(&self, ctx: &Context) -> &'static str {
        ctx.debug("details").await;
        "said"
    }
}

async fn instance(store: RedisStore) -> String {
    let server = Server::builder().info(server_info!()).toolset(Tools).build().unwrap();
    let app = axum::Router::new().merge(McpRouter::new(server).session_store(store).into_router());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(mcp_axum::serve(listener, app));
    format!("http://{addr}/mcp")
}

fn post(http: &reqwest::Client, url: &str, session: Option<&str>, body: &Value) -> reqwest::RequestBuilder {
    let mut b = http
        .post(url)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2025-11-25")
        .body(body.to_string());
    if let Some(s) = session {
        b = b.header("mcp-session-id", s);
    }
    b
}

async fn store(url: &str, idle: Duration) -> RedisStore {
    let prefix = format!("mcp-test:{}:{}:", std::process::id(), rand_suffix());
    RedisStore::connect(url).await.unwrap().prefix(prefix).idle_timeout(idle)
}

fn rand_suffix() -> u128 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos()
}

#[tokio::test]
async fn a_session_opened_on_one_instance_continues_on_another() {
    let Ok(redis_url) = std::env::var("MCP_TEST_REDIS_URL") else {
        eprintln!(
            "skipped: set MCP_TEST_REDIS_URL (for example redis://127.0.0.1:6379) to test the Redis session store"
        );
        return;
    };
    let shared = store(&redis_url, Duration::from_secs(60)).await;
    let a = instance(shared.clone()).await;
    let b = instance(shared.clone()).await;
    let http = reqwest::Client::new();

    let init = json!({ "jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": { "name": "t", "version": "1" } } });
    let r = post(&http, &a, None, &init).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let session = r.headers()["mcp-session-id"].to_str().unwrap().to_owned();

    let call = json!({ "jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": { "name": "echo", "arguments": { "message": "via b" } } });
    let r = post(&http, &b, Some(&session), &call).send().await.unwrap();
    assert_eq!(r.status(), 200, "instance B serves the session created through A");
    let v: Value = serde_json::from_str(&r.text().await.unwrap()).unwrap();
    assert_eq!(v["result"]["content"][0]["text"], "via b");

    // A change made through B is what A sees next: A logs at `debug`, B raises the
    // level to `error`, and A's next call sends no debug message.
    let set =
        |level: &str| json!({ "jsonrpc": "2.0", "id": 3, "method": "logging/setLevel", "params": { "level": level } });
    assert_eq!(post(&http, &a, Some(&session), &set("debug")).send().await.unwrap().status(), 200);
    let chatty =
        json!({ "jsonrpc": "2.0", "id": 4, "method": "tools/call", "params": { "name": "chatty", "arguments": {} } });
    let body = post(&http, &a, Some(&session), &chatty).send().await.unwrap().text().await.unwrap();
    assert!(body.contains("notifications/message"), "{body}");
    assert_eq!(post(&http, &b, Some(&session), &set("error")).send().await.unwrap().status(), 200);
    let body = post(&http, &a, Some(&session), &chatty).send().await.unwrap().text().await.unwrap();
    assert!(!body.contains("notifications/message"), "A used a stale log level: {body}");
    let state = mcp_axum::SessionStore::load(&shared, &session).await.unwrap().unwrap();
    assert_eq!(state.log_level, Some(LoggingLevel::Error));

    // Ended through B, gone on A too.
    let r = http.delete(&b).header("mcp-session-id", &session).send().await.unwrap();
    assert_eq!(r.status(), 204);
    let r = post(&http, &a, Some(&session), &call).send().await.unwrap();
    assert_eq!(r.status(), 404);
}

#[tokio::test]
async fn idle_sessions_expire_in_redis() {
    let Ok(redis_url) = std::env::var("MCP_TEST_REDIS_URL") else {
        eprintln!("skipped: set MCP_TEST_REDIS_URL to test the Redis session store");
        return;
    };
    let shared = store(&redis_url, Duration::from_millis(300)).await;
    let a = instance(shared).await;
    let http = reqwest::Client::new();
    let init = json!({ "jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": { "name": "t", "version": "1" } } });
    let r = post(&http, &a, None, &init).send().await.unwrap();
    let session = r.headers()["mcp-session-id"].to_str().unwrap().to_owned();
    let ping = json!({ "jsonrpc": "2.0", "id": 2, "method": "ping" });
    // Requests keep it alive...
    for _ in 0..3 {
        tokio::time::sleep(Duration::from_millis(150)).await;
        assert_eq!(post(&http, &a, Some(&session), &ping).send().await.unwrap().status(), 200);
    }
    // ...idleness ends it.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(post(&http, &a, Some(&session), &ping).send().await.unwrap().status(), 404);
}

#[tokio::test]
async fn an_answer_posted_to_another_replica_reaches_the_waiting_tool() {
    let Ok(redis_url) = std::env::var("MCP_TEST_REDIS_URL") else {
        eprintln!("skipped: set MCP_TEST_REDIS_URL to test the Redis session store");
        return;
    };
    use futures_util::StreamExt;
    let shared = store(&redis_url, Duration::from_secs(60)).await;
    let a = instance(shared.clone()).await;
    let b = instance(shared).await;
    let http = reqwest::Client::new();
    let init = json!({ "jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": { "elicitation": {} }, "clientInfo": { "name": "t", "version": "1" } } });
    let r = post(&http, &a, None, &init).send().await.unwrap();
    let session = r.headers()["mcp-session-id"].to_str().unwrap().to_owned();
    // B must have subscribed to forwarded messages before the answer arrives.
    let ping = json!({ "jsonrpc": "2.0", "id": 9, "method": "ping" });
    assert_eq!(post(&http, &b, Some(&session), &ping).send().await.unwrap().status(), 200);
    tokio::time::sleep(Duration::from_millis(100)).await;

    // The tool runs on A and asks the client over A's SSE response.
    let call =
        json!({ "jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": { "name": "ask", "arguments": {} } });
    let mut stream = post(&http, &a, Some(&session), &call).send().await.unwrap().bytes_stream();
    let mut text = String::new();
    while !text.contains("elicitation/create") {
        text.push_str(std::str::from_utf8(&stream.next().await.unwrap().unwrap()).unwrap());
    }
    let ask: Value =
        text.lines().filter_map(|l| l.strip_prefix("data: ")).map(|d| serde_json::from_str(d).unwrap()).next().unwrap();

    // The load balancer sends the answer to B.
    let answer =
        json!({ "jsonrpc": "2.0", "id": ask["id"], "result": { "action": "accept", "content": { "name": "Grace" } } });
    assert_eq!(post(&http, &b, Some(&session), &answer).send().await.unwrap().status(), 202);
    let rest = tokio::time::timeout(Duration::from_secs(5), async {
        let mut rest = String::new();
        while let Some(chunk) = stream.next().await {
            rest.push_str(std::str::from_utf8(&chunk.unwrap()).unwrap());
        }
        rest
    })
    .await
    .expect("A's tool got the answer forwarded by B");
    assert!(rest.contains(r#"Hi \"Grace\""#), "{rest}");
}
