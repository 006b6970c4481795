//! The blog as its own OAuth authorization server, over real HTTP on 127.0.0.1: a client
//! registers, alice signs in with her token as password and approves, the client gets a
//! JWT and writes a post as alice (the author claim travels in the token), in both
//! protocol eras; refresh rotates. The server's state is in the blog's database: a restart
//! on the same file keeps clients, consents, keys and refresh tokens.

mod common;

use common::ALICE;
use common::oauth::{self, Pkce};
use serde_json::{Value, json};

#[tokio::test]
async fn a_client_connects_through_sign_in_and_consent_and_writes_as_alice() {
    let dir = common::TempDir::new("blog-auth-server");
    let db = blog::open_database(dir.db().to_str().unwrap()).unwrap();
    let (base, _server) = oauth::serve_blog(db, None, None, |b| b).await;
    let http = oauth::http();
    let resource = format!("{base}/mcp");

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
    let (client_id, secret) = oauth::register(&http, &base, "Claude").await;

    // The browser's part.
    let pkce = Pkce::new();
    let done = oauth::authorize(&http, &base, &resource, &client_id, &pkce, ("alice", ALICE)).await;
    assert!(done.sign_in_page.contains("Claude"), "{}", done.sign_in_page);
    let consent = done.consent_page.expect("a first authorization asks for consent");
    assert!(consent.contains("Write, change and publish your posts"), "{consent}");
    assert_eq!(oauth::query_value(&done.location, "iss").as_deref(), Some(base.as_str()));

    let tokens = oauth::redeem(&http, &base, &resource, (&client_id, &secret), &done.code, &pkce).await;
    let access = tokens["access_token"].as_str().unwrap_or_else(|| panic!("{tokens}")).to_owned();

    // MCP with the JWT: alice writes a draft; it is hers.
    let call = |token: String, name: &'static str, args: Value| {
        let (http, base) = (http.clone(), base.clone());
        async move {
            let (status, body) = oauth::call(&http, &base, &token, name, args).await;
            assert_eq!(status, 200, "{body}");
            body
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
    let (status, refreshed) =
        oauth::refresh(&http, &base, (&client_id, &secret), tokens["refresh_token"].as_str().unwrap()).await;
    assert_eq!(status, 200, "{refreshed}");
    assert_ne!(refreshed["refresh_token"], tokens["refresh_token"]);
    let fresh = refreshed["access_token"].as_str().unwrap().to_owned();
    let mine = call(fresh, "posts_count", json!({ "filter": { "author_id": alice_id } })).await;
    assert!(mine["result"]["structuredContent"]["count"].as_i64().unwrap() >= 1, "{mine}");

    // The demo's static bearer token still works beside the JWTs.
    let r = call(ALICE.to_owned(), "posts_count", json!({})).await;
    assert!(r["result"]["structuredContent"]["count"].is_number(), "{r}");
}

/// The blog restarted on the same SQLite file (same address): the access token issued
/// before still verifies (the signing key was kept), the registered client is still known
/// (its secret still checks), alice's consent is remembered, and the refresh token rotates.
/// With the memory store every one of these fails.
#[tokio::test]
async fn clients_consents_keys_and_tokens_survive_a_restart() {
    let dir = common::TempDir::new("blog-auth-restart");
    let path = dir.db().to_str().unwrap().to_owned();
    let http = oauth::http();

    let (base, first) = oauth::serve_blog(blog::open_database(&path).unwrap(), None, None, |b| b).await;
    let resource = format!("{base}/mcp");
    let (client_id, secret) = oauth::register(&http, &base, "Before the restart").await;
    let pkce = Pkce::new();
    let done = oauth::authorize(&http, &base, &resource, &client_id, &pkce, ("alice", ALICE)).await;
    assert!(done.consent_page.is_some(), "the first authorization asks for consent");
    let tokens = oauth::redeem(&http, &base, &resource, (&client_id, &secret), &done.code, &pkce).await;
    let access = tokens["access_token"].as_str().unwrap().to_owned();
    let (status, body) = oauth::call(&http, &base, &access, "posts_count", json!({})).await;
    assert_eq!(status, 200, "{body}");

    // Stop the server and start a new one on the same file and address.
    let addr = base.strip_prefix("http://").unwrap().to_owned();
    first.abort();
    let _ = first.await;
    let listener = {
        let mut tries = 0;
        loop {
            match tokio::net::TcpListener::bind(&addr).await {
                Ok(l) => break l,
                Err(e) if tries < 50 => {
                    tries += 1;
                    eprintln!("rebinding {addr}: {e}");
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                }
                Err(e) => panic!("cannot rebind {addr}: {e}"),
            }
        }
    };
    let (again, _second) = oauth::serve_blog(blog::open_database(&path).unwrap(), Some(listener), None, |b| b).await;
    assert_eq!(again, base);
    let http = oauth::http(); // no connection of the old server

    let (status, body) = oauth::call(&http, &base, &access, "posts_count", json!({})).await;
    assert_eq!(status, 200, "the access token issued before the restart still verifies: {body}");
    assert!(body["result"]["structuredContent"]["count"].is_number(), "{body}");

    let (status, refreshed) =
        oauth::refresh(&http, &base, (&client_id, &secret), tokens["refresh_token"].as_str().unwrap()).await;
    assert_eq!(status, 200, "the client and its refresh token are still known: {refreshed}");
    assert_ne!(refreshed["refresh_token"], tokens["refresh_token"]);

    let pkce = Pkce::new();
    let done = oauth::authorize(&http, &base, &resource, &client_id, &pkce, ("alice", ALICE)).await;
    assert!(done.sign_in_page.contains("Before the restart"), "the client's name is still known");
    assert!(done.consent_page.is_none(), "alice's consent was remembered across the restart");
    oauth::redeem(&http, &base, &resource, (&client_id, &secret), &done.code, &pkce).await;
}
