//! Authentication over real HTTP: static tokens, the app's own principal, challenges and
//! protected-resource metadata checked byte for byte, per-tool scopes, sessions bound to
//! their principal.

mod common;

use common::start;
use mcp_axum::auth::{Auth, BearerTokens, FromExtensions};
use mcp_core::Principal;
use serde_json::json;

fn tokens() -> BearerTokens {
    BearerTokens::new()
        .token("alice-token", Principal::new("alice").with_scopes(["posts:read", "posts:write"]))
        .token("bob-token", Principal::new("bob").with_scopes(["posts:read"]))
}

#[tokio::test]
async fn metadata_and_challenges_are_exact() {
    let app = start(|r, _| {
        r.public_url("https://api.example.com").auth(
            Auth::new()
                .authenticator(tokens())
                .authorization_server("https://auth.example.com")
                .scopes_supported(["posts:read"])
                .resource_name("Blog")
                .resource_documentation("https://api.example.com/docs"),
        )
    })
    .await;

    // RFC 9728 §2: both the root and the path-aware form (§3.1) serve the same document.
    let expected = r#"{"resource":"https://api.example.com/mcp","authorization_servers":["https://auth.example.com"],"scopes_supported":["posts:read"],"bearer_methods_supported":["header"],"resource_name":"Blog","resource_documentation":"https://api.example.com/docs"}"#;
    for path in ["/.well-known/oauth-protected-resource/mcp", "/.well-known/oauth-protected-resource"] {
        let resp = app.http.get(format!("{}{path}", app.base)).send().await.unwrap();
        assert_eq!(resp.status(), 200);
        assert_eq!(resp.headers()["content-type"], "application/json");
        assert_eq!(resp.headers()["access-control-allow-origin"], "*");
        assert_eq!(resp.text().await.unwrap(), expected);
    }

    // RFC 6750 §3.1: no credentials, no error code; the scope to start with is
    // `scopes_supported` (no required scopes are configured).
    let a = app.call(None, "whoami", json!({})).await;
    assert_eq!(a.status, 401);
    assert_eq!(
        a.challenge(),
        r#"Bearer resource_metadata="https://api.example.com/.well-known/oauth-protected-resource/mcp", scope="posts:read""#
    );
    assert_eq!(a.body["error"]["message"], "Unauthorized: send `Authorization: Bearer <access token>`");

    // An unknown token: invalid_token with a description.
    let a = app.call(Some("nope"), "whoami", json!({})).await;
    assert_eq!(a.status, 401);
    assert_eq!(
        a.challenge(),
        r#"Bearer resource_metadata="https://api.example.com/.well-known/oauth-protected-resource/mcp", scope="posts:read", error="invalid_token", error_description="the access token is not recognised""#
    );

    // Lacking a tool's scopes: 403 insufficient_scope naming every scope the call needs.
    let a = app.call(Some("bob-token"), "purge", json!({})).await;
    assert_eq!(a.status, 403);
    assert_eq!(
        a.challenge(),
        r#"Bearer resource_metadata="https://api.example.com/.well-known/oauth-protected-resource/mcp", scope="posts:admin posts:write", error="insufficient_scope", error_description="Forbidden: the tool `purge` needs the scope(s) `posts:admin`, `posts:write`, which the access token was not granted""#
    );
    assert_eq!(a.body["id"], 1);
    assert!(a.body["error"]["message"].as_str().unwrap().contains("posts:admin"));
}

#[tokio::test]
async fn tokens_only_from_the_authorization_header() {
    let app = start(|r, _| r.auth(Auth::new().authenticator(tokens()))).await;
    let a = app.call(Some("alice-token"), "whoami", json!({})).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.body["result"]["structuredContent"]["subject"], "alice");

    // A token in the query string is ignored (OAuth 2.1 §5.1 forbids it).
    let resp = app
        .http
        .post(format!("{}/mcp?access_token=alice-token", app.base))
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2026-07-28")
        .header("mcp-method", "tools/list")
        .json(&json!({ "jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": { "_meta": {
            "io.modelcontextprotocol/protocolVersion": "2026-07-28",
            "io.modelcontextprotocol/clientCapabilities": {},
            "io.modelcontextprotocol/clientInfo": { "name": "t", "version": "1" } } } }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);

    // Two Authorization headers are refused rather than guessed at.
    let resp = app
        .http
        .post(format!("{}/mcp", app.base))
        .header("authorization", "Bearer alice-token")
        .header("authorization", "Bearer bob-token")
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);

    // GET and DELETE need a token too.
    assert_eq!(app.get("/mcp").await.status, 401);
}

#[tokio::test]
async fn scopes_decide_what_is_listed_and_callable() {
    let app = start(|r, _| r.auth(Auth::new().authenticator(tokens()))).await;
    assert_eq!(app.tool_names(Some("alice-token")).await, ["whoami", "publish"]);
    assert_eq!(app.tool_names(Some("bob-token")).await, ["whoami"]);
    let list = app.modern(Some("bob-token"), "tools/list", json!({})).await;
    assert_eq!(list.body["result"]["cacheScope"], "private");

    let a = app.call(Some("alice-token"), "publish", json!({ "id": 7 })).await;
    assert_eq!(a.status, 200);
    assert_eq!(a.body["result"]["content"][0]["text"], "published 7");
    let a = app.call(Some("bob-token"), "publish", json!({ "id": 7 })).await;
    assert_eq!(a.status, 403);
    assert!(a.challenge().contains(r#"scope="posts:write""#), "{}", a.challenge());

    // The metadata offers the tools' scopes when nothing else is configured.
    let doc = app.get("/.well-known/oauth-protected-resource/mcp").await;
    assert_eq!(doc.body["scopes_supported"], json!(["posts:admin", "posts:write"]));
    assert_eq!(doc.body["resource"], format!("{}/mcp", app.base));
}

#[tokio::test]
async fn compatibility_mode_answers_with_is_error() {
    let app = start(|r, _| r.auth(Auth::new().authenticator(tokens()).errors_as_results(true))).await;
    let a = app.call(Some("bob-token"), "publish", json!({ "id": 1 })).await;
    assert_eq!(a.status, 200);
    assert_eq!(a.body["result"]["isError"], true);
    let text = a.body["result"]["content"][0]["text"].as_str().unwrap();
    assert!(text.contains("`posts:write`"), "{text}");
    // Still 401 without a token: clients need it to start the OAuth flow.
    assert_eq!(app.call(None, "publish", json!({ "id": 1 })).await.status, 401);
}

#[tokio::test]
async fn required_scopes_and_anonymous_access() {
    let app = start(|r, _| r.auth(Auth::new().authenticator(tokens()).required_scopes(["posts:write"]))).await;
    let a = app.call(Some("bob-token"), "whoami", json!({})).await;
    assert_eq!(a.status, 403);
    assert!(a.challenge().contains(r#"scope="posts:write", error="insufficient_scope""#), "{}", a.challenge());
    let a = app.call(None, "whoami", json!({})).await;
    assert!(a.challenge().ends_with(r#"scope="posts:write""#), "{}", a.challenge());

    let app = start(|r, _| r.auth(Auth::new().authenticator(tokens()).allow_anonymous(true))).await;
    let a = app.call(None, "whoami", json!({})).await;
    assert_eq!(a.status, 200);
    assert_eq!(a.body["result"]["structuredContent"]["subject"], json!(null));
    assert_eq!(app.tool_names(None).await, ["whoami"]);
    // A scoped tool asks an anonymous caller to sign in (401 with the scope).
    let a = app.call(None, "publish", json!({ "id": 1 })).await;
    assert_eq!(a.status, 401);
    assert!(a.challenge().contains(r#"scope="posts:write""#));
    // An invalid token is never treated as anonymous.
    assert_eq!(app.call(Some("forged"), "whoami", json!({})).await.status, 401);
}

#[tokio::test]
async fn the_apps_own_middleware_can_authenticate() {
    use axum::extract::Request;
    use axum::middleware::{Next, from_fn};

    async fn app_auth(mut req: Request, next: Next) -> axum::response::Response {
        if req.headers().get("x-api-key").is_some_and(|k| k == "k-1") {
            req.extensions_mut().insert(Principal::new("service-1"));
        }
        next.run(req).await
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let server = mcp_core::Server::builder().info(mcp_core::server_info!()).toolset(common::Blog).build().unwrap();
    let router = mcp_axum::McpRouter::new(server)
        .auth(Auth::new().authenticator(FromExtensions).authenticator(tokens()))
        .into_router()
        .layer(from_fn(app_auth));
    tokio::spawn(async move { mcp_axum::serve(listener, router).await.unwrap() });
    let app = common::App { base, http: reqwest::Client::builder().build().unwrap() };

    let with_key = |k: &str| {
        let mut h = reqwest::header::HeaderMap::new();
        h.insert("x-api-key", k.parse().unwrap());
        h
    };
    let client = common::App {
        base: app.base.clone(),
        http: reqwest::Client::builder().default_headers(with_key("k-1")).build().unwrap(),
    };
    let a = client.call(None, "whoami", json!({})).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.body["result"]["structuredContent"]["subject"], "service-1");
    // The chain goes on to bearer tokens; without either, 401.
    let a = app.call(Some("bob-token"), "whoami", json!({})).await;
    assert_eq!(a.body["result"]["structuredContent"]["subject"], "bob");
    assert_eq!(app.call(None, "whoami", json!({})).await.status, 401);
}

#[tokio::test]
async fn a_session_belongs_to_its_principal() {
    let app = start(|r, _| r.auth(Auth::new().authenticator(tokens()))).await;
    let session = app.open_session("alice-token").await;
    let list = json!({ "jsonrpc": "2.0", "id": 2, "method": "tools/list" });
    let a = app.legacy(Some("alice-token"), Some(&session), list.clone()).await;
    assert_eq!(a.status, 200, "{}", a.body);
    // Bob presenting Alice's session id: as if it did not exist.
    let a = app.legacy(Some("bob-token"), Some(&session), list.clone()).await;
    assert_eq!(a.status, 404);
    let del = app.http.delete(format!("{}/mcp", app.base)).bearer_auth("bob-token").header("mcp-session-id", &session);
    assert_eq!(del.send().await.unwrap().status(), 404);
    // Without a token: 401 before anything else.
    assert_eq!(app.legacy(None, Some(&session), list.clone()).await.status, 401);
    // Alice's session is intact.
    assert_eq!(app.legacy(Some("alice-token"), Some(&session), list).await.status, 200);
}

#[tokio::test]
async fn metadata_urls_follow_a_trusted_proxy() {
    // Behind a TLS-terminating proxy: without trust, the request's own Host and http.
    let app = start(|r, _| r.allow_any_host().auth(Auth::new().authenticator(tokens()))).await;
    let proxied = |path: &str| {
        app.http
            .get(format!("{}{path}", app.base))
            .header("x-forwarded-proto", "https")
            .header("x-forwarded-host", "blog.example.com")
            .header("host", "internal:8080")
    };
    let doc: serde_json::Value =
        proxied("/.well-known/oauth-protected-resource/mcp").send().await.unwrap().json().await.unwrap();
    assert_eq!(doc["resource"], "http://internal:8080/mcp");

    let app2 =
        start(|r, _| r.allow_any_host().trust_forwarded_headers(true).auth(Auth::new().authenticator(tokens()))).await;
    let get = |path: &str| {
        app2.http
            .get(format!("{}{path}", app2.base))
            .header("x-forwarded-proto", "https")
            .header("x-forwarded-host", "blog.example.com")
    };
    let doc: serde_json::Value =
        get("/.well-known/oauth-protected-resource/mcp").send().await.unwrap().json().await.unwrap();
    assert_eq!(doc["resource"], "https://blog.example.com/mcp");
    let resp = get("/mcp").send().await.unwrap();
    assert_eq!(resp.status(), 401);
    assert_eq!(
        resp.headers()["www-authenticate"],
        r#"Bearer resource_metadata="https://blog.example.com/.well-known/oauth-protected-resource/mcp""#
    );
}

#[tokio::test]
async fn a_permission_hook_hides_and_refuses_tools() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    // Only alice may purge, whatever her scopes; nobody else sees the tool.
    let server = mcp_core::Server::builder()
        .info(mcp_core::server_info!())
        .toolset(common::Blog)
        .tool_permission(|tool, principal| tool.name != "purge" || principal.is_some_and(|p| p.subject == "alice"))
        .build()
        .unwrap();
    let everything = BearerTokens::new()
        .token("alice-token", Principal::new("alice").with_scopes(["posts:write", "posts:admin"]))
        .token("mallory-token", Principal::new("mallory").with_scopes(["posts:write", "posts:admin"]));
    let router = mcp_axum::McpRouter::new(server).auth(Auth::new().authenticator(everything)).into_router();
    tokio::spawn(async move { mcp_axum::serve(listener, router).await.unwrap() });
    let app = common::App { base, http: reqwest::Client::new() };
    assert_eq!(app.tool_names(Some("alice-token")).await, ["whoami", "publish", "purge"]);
    assert_eq!(app.tool_names(Some("mallory-token")).await, ["whoami", "publish"]);
    let a = app.call(Some("mallory-token"), "purge", json!({})).await;
    assert_eq!(a.status, 200);
    assert_eq!(a.body["result"]["isError"], true);
    assert_eq!(a.body["result"]["content"][0]["text"], "Forbidden: you are not permitted to call the tool `purge`");
    let a = app.call(Some("alice-token"), "purge", json!({})).await;
    assert_eq!(a.body["result"]["content"][0]["text"], "purged");
}

#[test]
fn unknown_tools_in_tool_scopes_fail_the_build() {
    let err = mcp_core::Server::builder()
        .info(mcp_core::server_info!())
        .toolset(common::Blog)
        .tool_scopes("pubilsh", ["x"])
        .tool_scopes("whoami", ["bad scope\""])
        .build()
        .unwrap_err()
        .to_string();
    assert!(err.contains("`tool_scopes` names the tool `pubilsh`, which no toolset offers"), "{err}");
    assert!(err.contains("tool `whoami`: the scope `bad scope\"` contains"), "{err}");
}
