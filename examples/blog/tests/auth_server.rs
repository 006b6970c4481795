//! The blog as its own OAuth authorization server, over real HTTP on 127.0.0.1: a client
//! registers, alice signs in with her token as password and approves, the client gets a
//! JWT and writes a post as alice (the author claim travels in the token), in both
//! protocol eras; refresh rotates.

mod common;

use base64::Engine as _;
use common::ALICE;
use serde_json::{Value, json};

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn hidden(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker).unwrap_or_else(|| panic!("no `{name}` in:\n{html}")) + marker.len();
    html[start..].split('"').next().unwrap().to_owned()
}

fn query_value(location: &str, name: &str) -> Option<String> {
    let q = location.split_once('?')?.1;
    q.split('&').filter_map(|kv| kv.split_once('=')).find(|(k, _)| *k == name).map(|(_, v)| {
        // The test's values are URL-safe except `iss` (`:` and `/`).
        v.replace("%3A", ":").replace("%2F", "/")
    })
}

const REDIRECT: &str = "http://127.0.0.1:40123/callback";

#[tokio::test]
async fn a_client_connects_through_sign_in_and_consent_and_writes_as_alice() {
    let (db_dir, base, http) = {
        let dir = common::TempDir::new("blog-auth-server");
        let db = blog::open_database(dir.db().to_str().unwrap()).unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let users = blog::users(&db, &[("alice".into(), ALICE.into())]).unwrap();
        let auth = blog::BlogAuth::tokens(&users);
        let server = blog::auth_server(&users, &base).unwrap();
        let app = blog::app(blog::mcp_server(db.clone(), &auth).unwrap(), db, auth, |r| r.auth_server(server));
        tokio::spawn(mcp_axum::serve(listener, app));
        let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        (dir, base, http)
    };
    let _keep = db_dir;

    // Discovery, as Claude does it.
    let prm: Value = http
        .get(format!("{base}/.well-known/oauth-protected-resource/mcp"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(prm["authorization_servers"], json!([base]));
    let meta: Value =
        http.get(format!("{base}/.well-known/oauth-authorization-server")).send().await.unwrap().json().await.unwrap();
    assert_eq!(meta["issuer"], json!(base));
    assert_eq!(meta["scopes_supported"], json!(["posts:read", "posts:write"]));

    // Registration (Claude's hosted connector registers a confidential client).
    let reg: Value = http
        .post(format!("{base}/register"))
        .json(&json!({ "redirect_uris": [REDIRECT], "client_name": "Claude", "token_endpoint_auth_method": "client_secret_post" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let client_id = reg["client_id"].as_str().unwrap().to_owned();
    let secret = reg["client_secret"].as_str().unwrap().to_owned();

    // The browser's part.
    let mut raw = [0u8; 32];
    getrandom::fill(&mut raw).unwrap();
    let verifier = b64(&raw);
    let challenge = {
        use sha2::Digest as _;
        b64(&sha2::Sha256::digest(verifier.as_bytes()))
    };
    let r = http
        .get(format!("{base}/authorize"))
        .query(&[
            ("response_type", "code"),
            ("client_id", &client_id),
            ("redirect_uri", REDIRECT),
            ("state", "s1"),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
            ("resource", &format!("{base}/mcp")),
            ("scope", "posts:read posts:write"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let cookie = r.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_owned();
    let page = r.text().await.unwrap();
    assert!(page.contains("Sign in to Demo blog") && page.contains("Claude"), "{page}");
    let (tx, csrf) = (hidden(&page, "tx"), hidden(&page, "csrf"));
    let r = http
        .post(format!("{base}/authorize/sign-in"))
        .header("cookie", &cookie)
        .form(&[("tx", tx.as_str()), ("csrf", &csrf), ("username", "alice"), ("password", ALICE)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let next = r.headers()["location"].to_str().unwrap().to_owned();
    let page = http.get(format!("{base}{next}")).header("cookie", &cookie).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("Write, change and publish your posts"), "{page}");
    let csrf = hidden(&page, "csrf");
    let r = http
        .post(format!("{base}/authorize/consent"))
        .header("cookie", &cookie)
        .form(&[("tx", tx.as_str()), ("csrf", &csrf), ("decision", "approve")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let location = r.headers()["location"].to_str().unwrap().to_owned();
    assert!(location.starts_with(REDIRECT));
    assert_eq!(query_value(&location, "iss").as_deref(), Some(base.as_str()));
    let code = query_value(&location, "code").unwrap();

    let tokens: Value = http
        .post(format!("{base}/token"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", &verifier),
            ("client_id", &client_id),
            ("client_secret", &secret),
            ("resource", &format!("{base}/mcp")),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let access = tokens["access_token"].as_str().unwrap_or_else(|| panic!("{tokens}")).to_owned();

    // MCP with the JWT: alice writes a draft; it is hers.
    let call = |token: String, name: &'static str, args: Value| {
        let http = http.clone();
        let base = base.clone();
        async move {
            let body = json!({ "jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": { "name": name, "arguments": args,
                "_meta": { "io.modelcontextprotocol/protocolVersion": "2026-07-28", "io.modelcontextprotocol/clientCapabilities": {} } } });
            let r = http
                .post(format!("{base}/mcp"))
                .header("content-type", "application/json")
                .header("accept", "application/json, text/event-stream")
                .header("mcp-protocol-version", "2026-07-28")
                .header("mcp-method", "tools/call")
                .header("mcp-name", name)
                .bearer_auth(token)
                .body(body.to_string())
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200);
            r.json::<Value>().await.unwrap()
        }
    };
    let alice_id = call(access.clone(), "authors_list", json!({ "filter": { "name": "alice" } })).await["result"]
        ["structuredContent"]["items"][0]["id"]
        .clone();
    assert!(alice_id.is_number(), "alice's author id: {alice_id}");
    let draft = call(access.clone(), "posts_create", json!({ "title": "Via OAuth", "body": "Signed in." })).await;
    assert_eq!(draft["result"]["structuredContent"]["author_id"], alice_id, "{draft}");

    // The legacy era with the same token.
    let init = json!({ "jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": { "name": "t", "version": "1" } } });
    let r = http
        .post(format!("{base}/mcp"))
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .bearer_auth(&access)
        .body(init.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let session = r.headers()["mcp-session-id"].to_str().unwrap().to_owned();
    let list = json!({ "jsonrpc": "2.0", "id": 2, "method": "tools/list", "params": {} });
    let r = http
        .post(format!("{base}/mcp"))
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2025-11-25")
        .header("mcp-session-id", &session)
        .bearer_auth(&access)
        .body(list.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("posts_create"));

    // Refresh rotates, and the new token works.
    let refreshed: Value = http
        .post(format!("{base}/token"))
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", tokens["refresh_token"].as_str().unwrap()),
            ("client_id", &client_id),
            ("client_secret", &secret),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_ne!(refreshed["refresh_token"], tokens["refresh_token"]);
    let fresh = refreshed["access_token"].as_str().unwrap().to_owned();
    let mine = call(fresh, "posts_count", json!({ "filter": { "author_id": alice_id } })).await;
    assert!(mine["result"]["structuredContent"]["count"].as_i64().unwrap() >= 1, "{mine}");

    // The demo's static bearer token still works beside the JWTs.
    let r = call(ALICE.to_owned(), "posts_count", json!({})).await;
    assert!(r["result"]["structuredContent"]["count"].is_number(), "{r}");
}
