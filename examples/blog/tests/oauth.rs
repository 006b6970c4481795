//! `blog --oauth-issuer URL`: the binary against an authorization server run by the test
//! on 127.0.0.1 (metadata and JWKS), with ES256 access tokens signed here.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::routing::get;
use base64::Engine as _;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

mod common;

use common::TempDir;

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// The authorization server: RFC 8414 metadata and a JWKS with one ES256 key.
async fn authorization_server() -> (String, EncodingKey) {
    use p256::pkcs8::EncodePrivateKey;
    let key = p256::ecdsa::SigningKey::random(&mut rand::thread_rng());
    let point = key.verifying_key().to_encoded_point(false);
    let jwk = json!({ "kty": "EC", "crv": "P-256", "kid": "k1", "alg": "ES256",
        "x": b64(point.x().unwrap()), "y": b64(point.y().unwrap()) });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let u = url.clone();
    let app = Router::new()
        .route(
            "/.well-known/oauth-authorization-server",
            get(move || {
                let u = u.clone();
                async move { axum::Json(json!({ "issuer": u, "jwks_uri": format!("{u}/jwks") })) }
            }),
        )
        .route("/jwks", get(move || async move { axum::Json(json!({ "keys": [jwk] })) }));
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, EncodingKey::from_ec_der(key.to_pkcs8_der().unwrap().as_bytes()))
}

fn token(key: &EncodingKey, iss: &str, aud: &str, user: &str, scope: &str) -> String {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs();
    let mut h = Header::new(Algorithm::ES256);
    h.kid = Some("k1".into());
    let claims = json!({ "iss": iss, "aud": aud, "sub": format!("user-{user}"), "preferred_username": user,
        "scope": scope, "exp": now + 300 });
    jsonwebtoken::encode(&h, &claims, key).unwrap()
}

async fn call(
    http: &reqwest::Client,
    url: &str,
    token: Option<&str>,
    method: &str,
    mut params: Value,
) -> (u16, String, Value) {
    params["_meta"] = json!({ "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientCapabilities": {}, "io.modelcontextprotocol/clientInfo": { "name": "t", "version": "1" } });
    let mut req = http
        .post(url)
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2026-07-28")
        .header("mcp-method", method);
    if let Some(name) = params.get("name").and_then(Value::as_str) {
        req = req.header("mcp-name", name);
    }
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let resp =
        req.json(&json!({ "jsonrpc": "2.0", "id": 1, "method": method, "params": params })).send().await.unwrap();
    let status = resp.status().as_u16();
    let challenge = resp.headers().get("www-authenticate").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
    (status, challenge, resp.json().await.unwrap())
}

#[tokio::test(flavor = "multi_thread")]
async fn oauth_mode_end_to_end() {
    let (issuer, key) = authorization_server().await;
    let dir = TempDir::new("blog-oauth");
    let mut child = Killed(
        Command::new(env!("CARGO_BIN_EXE_blog"))
            .args(["--bind", "127.0.0.1:0", "--database-url", dir.db().to_str().unwrap(), "--oauth-issuer", &issuer])
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    // The start-up log names the mode and the URL.
    let mut log = String::new();
    let mut lines = BufReader::new(child.0.stderr.take().unwrap()).lines();
    let url = loop {
        let line = lines.next().expect("the blog exits early").unwrap();
        log.push_str(&line);
        log.push('\n');
        if let Some(rest) = line.strip_prefix("blog: MCP at ") {
            break rest.split_whitespace().next().unwrap().to_owned();
        }
    };
    let line = lines.next().unwrap().unwrap();
    assert_eq!(line, format!("blog: auth: OAuth: JWT access tokens of {issuer} for {url}"));
    std::thread::spawn(move || for _ in lines {});
    let base = url.trim_end_matches("/mcp").to_owned();
    let http = reqwest::Client::new();

    // Protected-resource metadata points at the issuer.
    let prm: Value = http
        .get(format!("{base}/.well-known/oauth-protected-resource/mcp"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(prm["resource"], url);
    assert_eq!(prm["authorization_servers"], json!([issuer]));
    assert_eq!(prm["scopes_supported"], json!(["posts:read", "posts:write"]));

    // No token: 401 pointing at the metadata.
    let (status, challenge, _) = call(&http, &url, None, "tools/list", json!({})).await;
    assert_eq!(status, 401);
    assert_eq!(
        challenge,
        format!(
            r#"Bearer resource_metadata="{base}/.well-known/oauth-protected-resource/mcp", scope="posts:read posts:write""#
        )
    );
    // A token for another resource: 401 invalid_token.
    let wrong = token(&key, &issuer, "https://elsewhere.example/mcp", "carol", "posts:read");
    let (status, challenge, _) = call(&http, &url, Some(&wrong), "tools/list", json!({})).await;
    assert_eq!(status, 401);
    assert!(challenge.contains(r#"error="invalid_token""#), "{challenge}");

    // A read-only token sees no write tools and gets 403 with the scope to ask for.
    let reader = token(&key, &issuer, &url, "carol", "posts:read");
    let (status, _, list) = call(&http, &url, Some(&reader), "tools/list", json!({})).await;
    assert_eq!(status, 200);
    let names: Vec<&str> =
        list["result"]["tools"].as_array().unwrap().iter().map(|t| t["name"].as_str().unwrap()).collect();
    assert!(
        names.contains(&"posts_list") && !names.contains(&"posts_create") && !names.contains(&"publish_post"),
        "{names:?}"
    );
    let (status, challenge, _) = call(
        &http,
        &url,
        Some(&reader),
        "tools/call",
        json!({ "name": "posts_create", "arguments": { "title": "t", "body": "b" } }),
    )
    .await;
    assert_eq!(status, 403);
    assert!(challenge.contains(r#"scope="posts:write", error="insufficient_scope""#), "{challenge}");

    // A writer: the author comes from the token, not from the agent.
    let carol = token(&key, &issuer, &url, "carol", "posts:read posts:write");
    let (status, _, created) = call(
        &http,
        &url,
        Some(&carol),
        "tools/call",
        json!({ "name": "posts_create", "arguments": { "title": "Carol's draft", "body": "b" } }),
    )
    .await;
    assert_eq!(status, 200, "{created}");
    let post = &created["result"]["structuredContent"];
    let id = post["id"].as_i64().unwrap();
    let (_, _, authors) = call(
        &http,
        &url,
        Some(&carol),
        "tools/call",
        json!({ "name": "authors_list", "arguments": { "filter": { "name": "carol" } } }),
    )
    .await;
    assert_eq!(authors["result"]["structuredContent"]["items"][0]["id"], post["author_id"], "{authors}");

    // Another user of the same authorization server cannot see or change the draft.
    let dave = token(&key, &issuer, &url, "dave", "posts:read posts:write");
    let (_, _, got) =
        call(&http, &url, Some(&dave), "tools/call", json!({ "name": "posts_get", "arguments": { "id": id } })).await;
    assert_eq!(got["result"]["isError"], true, "{got}");
    let (_, _, patched) = call(
        &http,
        &url,
        Some(&dave),
        "tools/call",
        json!({ "name": "posts_patch", "arguments": { "id": id, "title": "mine" } }),
    )
    .await;
    assert_eq!(patched["result"]["isError"], true, "{patched}");
    let (_, _, got) =
        call(&http, &url, Some(&carol), "tools/call", json!({ "name": "posts_get", "arguments": { "id": id } })).await;
    assert_eq!(got["result"]["structuredContent"]["title"], "Carol's draft");
    drop(log);
}
