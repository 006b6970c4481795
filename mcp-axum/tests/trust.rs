//! Issue #17 "Trust first", over real HTTP: hosts and origins are parsed (no DNS-rebinding
//! bypass by prefix), challenges and protected-resource metadata are only built from
//! hosts the policy accepts, and browser clients get CORS from the origins it allows.

mod common;

use common::{App, start};
use mcp_axum::auth::{Auth, BearerTokens};
use mcp_core::Principal;
use serde_json::{Value, json};

fn tokens() -> Auth {
    Auth::new()
        .authenticator(BearerTokens::new().token("alice-token", Principal::new("alice")))
        .authorization_server("https://auth.example.com")
}

/// A 2026-07-28 `server/discover` with extra headers.
async fn discover(app: &App, headers: &[(&str, &str)]) -> reqwest::Response {
    let mut req = app
        .http
        .post(format!("{}/mcp", app.base))
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2026-07-28")
        .header("mcp-method", "server/discover");
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let body = json!({ "jsonrpc": "2.0", "id": 1, "method": "server/discover", "params": { "_meta": {
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientCapabilities": {},
        "io.modelcontextprotocol/clientInfo": { "name": "t", "version": "1" } } } });
    req.json(&body).send().await.unwrap()
}

#[tokio::test]
async fn hosts_and_origins_that_only_start_like_loopback_are_refused() {
    let app = start(|r, _| r).await;
    let port = app.base.rsplit(':').next().unwrap().to_owned();
    for host in [
        "127.0.0.1.attacker.example".to_owned(),
        format!("127.0.0.1.attacker.example:{port}"),
        format!("127.0.0.1:{port}@evil.com"),
        "127.evil.com".to_owned(),
        "localhost.evil.com".to_owned(),
    ] {
        let resp = discover(&app, &[("host", &host)]).await;
        assert_eq!(resp.status(), 403, "Host {host}");
        let body: Value = resp.json().await.unwrap();
        assert!(body["error"]["message"].as_str().unwrap().contains("is not allowed"), "{body}");
    }
    for origin in ["http://127.evil.com", "http://127.0.0.1.attacker.example", "http://127.0.0.1:8000@evil.com"] {
        let resp = discover(&app, &[("origin", origin)]).await;
        assert_eq!(resp.status(), 403, "Origin {origin}");
        assert!(resp.headers().get("access-control-allow-origin").is_none());
    }
    // Real loopback still works.
    for host in [format!("127.0.0.1:{port}"), format!("localhost:{port}"), "app.localhost".to_owned()] {
        assert_eq!(discover(&app, &[("host", &host)]).await.status(), 200, "Host {host}");
    }
    assert_eq!(discover(&app, &[("origin", "http://localhost:5173")]).await.status(), 200);
}

#[tokio::test]
async fn metadata_and_challenges_are_never_built_from_a_refused_host() {
    // Token mode without a public URL: the resource URI comes from the request's host.
    let app = start(|r, _| r.auth(tokens())).await;
    let port = app.base.rsplit(':').next().unwrap().to_owned();
    let metadata = format!("{}/.well-known/oauth-protected-resource/mcp", app.base);
    for host in ["evil.example", "127.0.0.1.attacker.example"] {
        let resp = app.http.get(&metadata).header("host", host).send().await.unwrap();
        assert_eq!(resp.status(), 403, "Host {host}");
        assert!(!resp.text().await.unwrap().contains("resource\""));
        let resp = discover(&app, &[("host", host)]).await;
        assert_eq!(resp.status(), 403, "Host {host}");
        assert!(resp.headers().get("www-authenticate").is_none());
    }
    // An accepted host: the document names it, and caches may not share it across hosts.
    let resp = app.http.get(&metadata).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["vary"], "Host");
    assert_eq!(resp.headers()["cache-control"], "no-cache");
    assert_eq!(resp.headers()["access-control-allow-origin"], "*");
    let doc: Value = resp.json().await.unwrap();
    assert_eq!(doc["resource"], format!("http://127.0.0.1:{port}/mcp"));
    let resp = discover(&app, &[]).await;
    assert_eq!(resp.status(), 401);
    assert_eq!(resp.headers()["vary"], "Host");

    // With a public URL the document is fixed: cacheable, whatever the host.
    let app = start(|r, _| r.public_url("https://api.example.com").auth(tokens())).await;
    let resp = app.http.get(format!("{}/.well-known/oauth-protected-resource", app.base)).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["cache-control"], "max-age=3600");
    assert!(resp.headers().get("vary").is_none());
}

#[test]
#[should_panic(expected = "no userinfo")]
fn a_public_url_with_userinfo_is_a_configuration_error() {
    let server = mcp_core::Server::builder().info(mcp_core::server_info!()).build().unwrap();
    let _ = mcp_axum::McpRouter::new(server).public_url("https://127.0.0.1:8000@evil.com");
}

#[tokio::test]
async fn browser_clients_get_cors_from_allowed_origins_only() {
    let app = start(|r, _| r.auth(tokens())).await;
    let url = format!("{}/mcp", app.base);
    let preflight = |origin: &str| {
        app.http
            .request(reqwest::Method::OPTIONS, &url)
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "authorization, content-type, mcp-protocol-version, mcp-method, mcp-name, mcp-param-region, x-other",
            )
            .send()
    };
    // A preflight from an allowed origin: 204 before authentication.
    let resp = preflight("http://localhost:6274").await.unwrap();
    assert_eq!(resp.status(), 204);
    let h = resp.headers();
    assert_eq!(h["access-control-allow-origin"], "http://localhost:6274");
    assert_eq!(h["access-control-allow-methods"], "POST, GET, DELETE");
    assert_eq!(
        h["access-control-allow-headers"],
        "authorization, content-type, mcp-protocol-version, mcp-method, mcp-name, mcp-param-region"
    );
    // From a refused origin: refused, without CORS headers.
    let resp = preflight("http://evil.example").await.unwrap();
    assert_eq!(resp.status(), 403);
    assert!(resp.headers().get("access-control-allow-origin").is_none());

    // The actual request: its 401 is readable, challenge included.
    let resp = discover(&app, &[("origin", "http://localhost:6274")]).await;
    assert_eq!(resp.status(), 401);
    let h = resp.headers();
    assert_eq!(h["access-control-allow-origin"], "http://localhost:6274");
    let exposed = h["access-control-expose-headers"].to_str().unwrap().to_ascii_lowercase();
    for name in ["mcp-session-id", "mcp-protocol-version", "www-authenticate"] {
        assert!(exposed.contains(name), "{exposed}");
    }
    // And with a token, the answer and its session id.
    let init = json!({ "jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": { "name": "t", "version": "1" } } });
    let resp = app
        .http
        .post(&url)
        .header("origin", "http://localhost:6274")
        .header("accept", "application/json, text/event-stream")
        .bearer_auth("alice-token")
        .json(&init)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(resp.headers().contains_key("mcp-session-id"));
    assert_eq!(resp.headers()["access-control-allow-origin"], "http://localhost:6274");
    // Requests without an Origin get no CORS headers.
    let resp = discover(&app, &[]).await;
    assert!(resp.headers().get("access-control-allow-origin").is_none());

    // The metadata answers preflights too (browser clients send MCP-Protocol-Version).
    let resp = app
        .http
        .request(reqwest::Method::OPTIONS, format!("{}/.well-known/oauth-protected-resource/mcp", app.base))
        .header("origin", "http://localhost:6274")
        .header("access-control-request-method", "GET")
        .header("access-control-request-headers", "mcp-protocol-version")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 204);
    assert_eq!(resp.headers()["access-control-allow-origin"], "*");
    assert!(resp.headers()["access-control-allow-headers"].to_str().unwrap().contains("mcp-protocol-version"));
}

/// POST raw bytes to the endpoint with these headers; status and JSON body.
async fn post_raw(app: &App, headers: &[(&str, &[u8])], body: Vec<u8>) -> (u16, Value) {
    let mut req = app
        .http
        .post(format!("{}/mcp", app.base))
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream");
    for (k, v) in headers {
        req = req.header(*k, reqwest::header::HeaderValue::from_bytes(v).unwrap());
    }
    let resp = req.body(body).send().await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap())
}

async fn legacy_session(app: &App, version: &str) -> String {
    let init = json!({ "jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
        "protocolVersion": version, "capabilities": {}, "clientInfo": { "name": "t", "version": "1" } } });
    let (status, _) = post_raw(app, &[], init.to_string().into_bytes()).await;
    assert_eq!(status, 200);
    let resp = app
        .http
        .post(format!("{}/mcp", app.base))
        .header("accept", "application/json, text/event-stream")
        .json(&init)
        .send()
        .await
        .unwrap();
    resp.headers()["mcp-session-id"].to_str().unwrap().to_owned()
}

#[tokio::test]
async fn errors_say_what_is_wrong_the_same_on_every_way_through() {
    let app = start(|r, _| r).await;
    let session = legacy_session(&app, "2025-11-25").await;
    let modern: &[(&str, &[u8])] =
        &[("mcp-protocol-version", b"2026-07-28"), ("mcp-method", b"tools/call"), ("mcp-name", b"whoami")];
    let legacy: &[(&str, &[u8])] = &[("mcp-protocol-version", b"2025-11-25"), ("mcp-session-id", session.as_bytes())];
    let call = |name: &str, extra: &str| {
        format!(
            r#"{{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{{"name":"{name}","arguments":{{}}{extra},"_meta":{{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{{}}}}}}}}"#
        )
    };

    // Invalid UTF-8: a parse error naming the byte, whichever way the request goes (the
    // one-pass readers of a 2026-07-28 call and of a legacy session, the general way).
    let mut body = call("whoami", "").into_bytes();
    let offset = body.len() - 5;
    body[offset] = 0xff;
    let mut answers = Vec::new();
    for headers in [modern, legacy, &[][..]] {
        let (status, answer) = post_raw(&app, headers, body.clone()).await;
        assert_eq!(status, 400, "{answer}");
        assert_eq!(answer["error"]["code"], -32700, "{answer}");
        let message = answer["error"]["message"].as_str().unwrap().to_owned();
        assert!(message.contains(&format!("not valid UTF-8 (invalid byte at offset {offset})")), "{message}");
        answers.push(answer);
    }
    assert!(answers.windows(2).all(|w| w[0] == w[1]), "{answers:?}");

    // A duplicate key: named.
    let body = call("whoami", "").replacen(r#""id":7,"#, r#""id":7,"id":8,"#, 1).into_bytes();
    let mut answers = Vec::new();
    for headers in [modern, legacy, &[][..]] {
        let (status, answer) = post_raw(&app, headers, body.clone()).await;
        assert_eq!(status, 400, "{answer}");
        assert_eq!(answer["error"]["code"], -32600, "{answer}");
        assert!(answer["error"]["message"].as_str().unwrap().contains("duplicate key `id`"), "{answer}");
        answers.push(answer);
    }
    assert!(answers.windows(2).all(|w| w[0] == w[1]), "{answers:?}");

    // A non-ASCII Mcp-Name is not "missing": it is invalid, and the answer says how to
    // send it.
    let name = "caf\u{e9}";
    let headers: &[(&str, &[u8])] =
        &[("mcp-protocol-version", b"2026-07-28"), ("mcp-method", b"tools/call"), ("mcp-name", name.as_bytes())];
    let (status, answer) = post_raw(&app, headers, call(name, "").into_bytes()).await;
    assert_eq!(status, 400, "{answer}");
    assert_eq!(answer["error"]["code"], -32020, "{answer}");
    let message = answer["error"]["message"].as_str().unwrap();
    assert!(message.contains("Mcp-Name header is not valid") && message.contains("=?base64?"), "{message}");
    // The encoded form is read.
    let headers: &[(&str, &[u8])] =
        &[("mcp-protocol-version", b"2026-07-28"), ("mcp-method", b"tools/call"), ("mcp-name", b"=?base64?d2hvYW1p?=")];
    let (status, answer) = post_raw(&app, headers, call("whoami", "").into_bytes()).await;
    assert_eq!(status, 200, "{answer}");
}

#[tokio::test]
async fn a_batch_larger_than_the_limit_is_refused_naming_it() {
    let app = start(|r, _| r).await;
    let session = legacy_session(&app, "2025-03-26").await;
    let headers: &[(&str, &[u8])] = &[("mcp-protocol-version", b"2025-03-26"), ("mcp-session-id", session.as_bytes())];
    let batch = |n: usize| {
        let items: Vec<Value> = (0..n).map(|i| json!({ "jsonrpc": "2.0", "id": i, "method": "ping" })).collect();
        serde_json::to_vec(&items).unwrap()
    };
    let (status, answer) = post_raw(&app, headers, batch(64)).await;
    assert_eq!(status, 200);
    assert_eq!(answer.as_array().map(Vec::len), Some(64), "{answer}");
    let (_, answer) = post_raw(&app, headers, batch(20_000)).await;
    assert_eq!(answer["error"]["code"], -32600, "{answer}");
    let message = answer["error"]["message"].as_str().unwrap();
    assert!(message.contains("batch of 20000 messages") && message.contains("limit of 64"), "{message}");
}

#[tokio::test]
async fn one_principal_cannot_evict_another_s_sessions() {
    let auth = Auth::new().authenticator(
        BearerTokens::new().token("alice-token", Principal::new("alice")).token("bob-token", Principal::new("bob")),
    );
    let limits = mcp_axum::SessionLimits { max_sessions: 5, max_sessions_per_principal: 2, ..Default::default() };
    let app = start(|r, _| r.auth(auth).session_limits(limits)).await;
    let ping = json!({ "jsonrpc": "2.0", "id": 9, "method": "ping" });
    let bob = app.open_session("bob-token").await;
    let alice: Vec<String> = {
        let mut ids = Vec::new();
        for _ in 0..10 {
            ids.push(app.open_session("alice-token").await);
        }
        ids
    };
    // Bob's session survives ten of Alice's (five would have filled the whole store).
    let a = app.legacy(Some("bob-token"), Some(&bob), ping.clone()).await;
    assert_eq!(a.status, 200, "{}", a.body);
    // Alice keeps her two newest; her older ones ended.
    for (i, id) in alice.iter().enumerate() {
        let a = app.legacy(Some("alice-token"), Some(id), ping.clone()).await;
        assert_eq!(a.status, if i >= 8 { 200 } else { 404 }, "session {i}: {}", a.body);
    }
}
