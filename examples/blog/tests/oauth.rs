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
    token_of(key, iss, aud, &format!("user-{user}"), user, scope)
}

/// A token for the subject `sub` that calls itself `name`.
fn token_of(key: &EncodingKey, iss: &str, aud: &str, sub: &str, name: &str, scope: &str) -> String {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs();
    let mut h = Header::new(Algorithm::ES256);
    h.kid = Some("k1".into());
    let claims = json!({ "iss": iss, "aud": aud, "sub": sub, "preferred_username": name,
        "scope": scope, "exp": now + 300 });
    jsonwebtoken::encode(&h, &claims, key).unwrap()
}

/// The blog binary in OAuth mode against `issuer`: the process and its MCP URL.
fn start_blog(issuer: &str, dir: &TempDir) -> (Killed, String) {
    let mut child = Killed(
        Command::new(env!("CARGO_BIN_EXE_blog"))
            .args(["--bind", "127.0.0.1:0", "--database-url", dir.db().to_str().unwrap(), "--oauth-issuer", issuer])
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let mut lines = BufReader::new(child.0.stderr.take().unwrap()).lines();
    let url = loop {
        let line = lines.next().expect("the blog exits early").unwrap();
        if let Some(rest) = line.strip_prefix("blog: MCP at ") {
            break rest.split_whitespace().next().unwrap().to_owned();
        }
    };
    std::thread::spawn(move || for _ in lines {});
    (child, url)
}

/// A REST request with a bearer token: the status and the JSON body.
async fn rest(http: &reqwest::Client, method: &str, url: &str, token: &str, body: Option<Value>) -> (u16, Value) {
    let mut req = http.request(reqwest::Method::from_bytes(method.as_bytes()).unwrap(), url).bearer_auth(token);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let r = req.send().await.unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_read_only_token_cannot_write_any_way() {
    let (issuer, key) = authorization_server().await;
    let dir = TempDir::new("blog-oauth-read-only");
    let (_child, url) = start_blog(&issuer, &dir);
    let base = url.trim_end_matches("/mcp").to_owned();
    let http = reqwest::Client::new();
    let writer = token(&key, &issuer, &url, "carol", "posts:read posts:write");
    let reader = token(&key, &issuer, &url, "carol", "posts:read");

    // A draft of carol's, written with her full token.
    let (status, draft) =
        rest(&http, "POST", &format!("{base}/api/posts"), &writer, Some(json!({ "title": "Mine", "body": "b" }))).await;
    assert_eq!(status, 201, "{draft}");
    let id = draft["id"].as_i64().unwrap();

    // The read-only token does not see the writing route tools...
    let (_, _, list) = call(&http, &url, Some(&reader), "tools/list", json!({})).await;
    let names: Vec<&str> =
        list["result"]["tools"].as_array().unwrap().iter().map(|t| t["name"].as_str().unwrap()).collect();
    assert!(names.contains(&"get_api_posts"), "{names:?}");
    assert!(!names.contains(&"create_draft") && !names.contains(&"patch_api_posts_id"), "{names:?}");
    // ...and each of the four ways to write is refused.
    for (tool, args) in [
        ("create_draft", json!({ "title": "Read-only", "body": "b" })),
        ("patch_api_posts_id", json!({ "id": id, "title": "Read-only" })),
    ] {
        let (status, challenge, answer) =
            call(&http, &url, Some(&reader), "tools/call", json!({ "name": tool, "arguments": args })).await;
        assert_eq!(status, 403, "{tool}: {answer}");
        assert!(challenge.contains(r#"scope="posts:write", error="insufficient_scope""#), "{challenge}");
    }
    let (status, answer) =
        rest(&http, "POST", &format!("{base}/api/posts"), &reader, Some(json!({ "title": "Read-only", "body": "b" })))
            .await;
    assert_eq!(status, 403, "{answer}");
    assert!(answer["error"].as_str().unwrap().contains("posts:write"), "{answer}");
    let (status, answer) =
        rest(&http, "PATCH", &format!("{base}/api/posts/{id}"), &reader, Some(json!({ "title": "Read-only" }))).await;
    assert_eq!(status, 403, "{answer}");

    // Nothing was written: the draft is as it was and is carol's only post.
    let (_, now) = rest(&http, "GET", &format!("{base}/api/posts/{id}"), &reader, None).await;
    assert_eq!(now["title"], "Mine");
    let (_, _, mine) = call(
        &http,
        &url,
        Some(&reader),
        "tools/call",
        json!({ "name": "posts_count", "arguments": { "filter": { "author_id": draft["author_id"] } } }),
    )
    .await;
    assert_eq!(mine["result"]["structuredContent"]["count"], 1, "{mine}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_token_is_its_issuer_and_subject_not_the_name_it_claims() {
    let (issuer, key) = authorization_server().await;
    let dir = TempDir::new("blog-oauth-identity");
    let (_child, url) = start_blog(&issuer, &dir);
    let http = reqwest::Client::new();
    let rw = "posts:read posts:write";
    let tool = |token: String, name: &'static str, args: Value| {
        let (http, url) = (http.clone(), url.clone());
        async move {
            let (status, _, v) =
                call(&http, &url, Some(&token), "tools/call", json!({ "name": name, "arguments": args })).await;
            assert_eq!(status, 200, "{name}: {v}");
            v["result"].clone()
        }
    };

    // Names no seeded author has.
    let carol = token_of(&key, &issuer, &url, "sub-quinn", "quinn", rw);
    let draft = tool(carol.clone(), "posts_create", json!({ "title": "Carol's draft", "body": "b" })).await;
    let id = draft["structuredContent"]["id"].as_i64().unwrap();
    let carol_author = draft["structuredContent"]["author_id"].clone();

    // Mallory calls herself quinn: she is someone else, and quinn's draft is not hers.
    let mallory = token_of(&key, &issuer, &url, "sub-mallory", "quinn", rw);
    assert_eq!(tool(mallory.clone(), "posts_get", json!({ "id": id })).await["isError"], true);
    assert_eq!(tool(mallory.clone(), "posts_patch", json!({ "id": id, "title": "mine" })).await["isError"], true);
    let hers = tool(mallory.clone(), "posts_create", json!({ "title": "Mallory's", "body": "b" })).await;
    assert_ne!(hers["structuredContent"]["author_id"], carol_author, "{hers}");
    let me = tool(mallory, "authors_get", json!({ "id": hers["structuredContent"]["author_id"] })).await;
    assert_eq!(me["structuredContent"]["name"], "quinn-2", "{me}");

    // Quinn under another display name is still quinn.
    let renamed = token_of(&key, &issuer, &url, "sub-quinn", "quincy", rw);
    let got = tool(renamed, "posts_get", json!({ "id": id })).await;
    assert_eq!(got["structuredContent"]["title"], "Carol's draft", "{got}");

    // A new token makes no public author: xavier is listed to others once he has published.
    let dave = token_of(&key, &issuer, &url, "sub-xavier", "xavier", rw);
    let find_dave = |token: String| async move {
        tool(token, "authors_list", json!({ "filter": { "name": "xavier" } })).await["structuredContent"]["items"]
            .clone()
    };
    assert_eq!(find_dave(dave.clone()).await.as_array().map(Vec::len), Some(1), "xavier sees himself");
    assert_eq!(find_dave(carol.clone()).await, json!([]), "quinn does not see xavier yet");
    let his = tool(dave.clone(), "posts_create", json!({ "title": "Dave's", "body": "b" })).await;
    assert_eq!(find_dave(carol.clone()).await, json!([]), "a draft does not list him");
    let his_id = his["structuredContent"]["id"].as_i64().unwrap();
    let published = tool(dave, "publish_post", json!({ "id": his_id })).await;
    assert_eq!(published["structuredContent"]["published"], true, "{published}");
    assert_eq!(find_dave(carol).await.as_array().map(Vec::len), Some(1), "published: listed");
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
        json!({ "name": "authors_list", "arguments": { "filter": { "id": post["author_id"] } } }),
    )
    .await;
    // The seeded author carol is someone else: this carol is an author of her own.
    assert_eq!(authors["result"]["structuredContent"]["items"][0]["name"], "carol-2", "{authors}");

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn looking_up_authors_never_holds_up_the_async_workers() {
    let (issuer, key) = authorization_server().await;
    let dir = TempDir::new("blog-oauth-busy");
    let db = blog::open_database(dir.db().to_str().unwrap()).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let url = format!("{base}/mcp");
    let auth = blog::BlogAuth::oauth(db.clone(), &issuer, &url).await.unwrap();
    let app = blog::app(blog::mcp_server(db.clone(), &auth).unwrap(), db.clone(), auth, |r| r);
    tokio::spawn(mcp_axum::serve(listener, app));
    let http = reqwest::Client::new();

    // Every connection of the pool is taken for two seconds.
    let blog::Database::Sqlite(pool) = db.clone() else { unreachable!("an SQLite file") };
    let held: Vec<_> = (0..pool.max_size()).map(|_| pool.get().unwrap()).collect();
    let release = std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_secs(2));
        drop(held);
    });
    // Eight new users at once: each waits for a connection to find their author.
    let calls: Vec<_> = (0..8)
        .map(|n| {
            let (http, url) = (http.clone(), url.clone());
            let t = token(&key, &issuer, &url, &format!("user{n}"), "posts:read");
            tokio::spawn(async move { call(&http, &url, Some(&t), "tools/list", json!({})).await.0 })
        })
        .collect();
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    // A request that needs no database is answered meanwhile.
    let started = std::time::Instant::now();
    let r = http.get(format!("{base}/.well-known/oauth-protected-resource/mcp")).send().await.unwrap();
    let took = started.elapsed();
    assert_eq!(r.status(), 200);
    assert!(took < std::time::Duration::from_millis(1000), "the metadata took {took:?} while the pool was busy");
    for c in calls {
        assert_eq!(c.await.unwrap(), 200, "the users get in once a connection is free");
    }
    release.join().unwrap();
}
