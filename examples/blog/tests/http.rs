//! The demo blog over real HTTP: the app started on 127.0.0.1 with a fresh SQLite file,
//! alice and bob talking MCP (stateless 2026-07-28 requests) with their bearer tokens.

mod common;

use common::{ALICE, BOB, Fixture};
use serde_json::{Value, json};

struct App {
    base: String,
    http: reqwest::Client,
    _dir: Fixture,
}

async fn start() -> App {
    let (app, dir) = common::app("blog-test");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(mcp_axum::serve(listener, app));
    App { base: format!("http://{addr}"), http: reqwest::Client::new(), _dir: dir }
}

impl App {
    /// One MCP request as `token`; the JSON-RPC answer (from JSON or from an SSE stream).
    async fn mcp(&self, token: Option<&str>, method: &str, mut params: Value) -> (u16, Value) {
        params["_meta"] = json!({
            "io.modelcontextprotocol/protocolVersion": "2026-07-28",
            "io.modelcontextprotocol/clientCapabilities": {},
        });
        let body = json!({ "jsonrpc": "2.0", "id": 1, "method": method, "params": params });
        let mut req = self
            .http
            .post(format!("{}/mcp", self.base))
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .header("mcp-protocol-version", "2026-07-28")
            .header("mcp-method", method);
        if let Some(name) = params["name"].as_str().or(params["uri"].as_str()) {
            req = req.header("mcp-name", name);
        }
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let r = req.body(body.to_string()).send().await.unwrap();
        let status = r.status().as_u16();
        let text = r.text().await.unwrap();
        let value = serde_json::from_str(&text).unwrap_or_else(|_| {
            // SSE: the last `data:` line is the answer.
            text.lines()
                .rev()
                .filter_map(|l| l.strip_prefix("data:"))
                .filter_map(|d| serde_json::from_str::<Value>(d.trim()).ok())
                .find(|m| m.get("id").is_some())
                .unwrap_or(Value::Null)
        });
        (status, value)
    }

    async fn call(&self, token: &str, tool: &str, args: Value) -> Value {
        let (status, v) = self.mcp(Some(token), "tools/call", json!({ "name": tool, "arguments": args })).await;
        assert_eq!(status, 200, "{v}");
        let result = &v["result"];
        assert_ne!(result["isError"], true, "{tool} {args}: {result}");
        result["structuredContent"].clone()
    }

    async fn call_err(&self, token: &str, tool: &str, args: Value) -> String {
        let (_, v) = self.mcp(Some(token), "tools/call", json!({ "name": tool, "arguments": args })).await;
        assert_eq!(v["result"]["isError"], true, "{tool} {args}: {v}");
        v["result"]["content"].to_string()
    }
}

#[tokio::test]
async fn the_mcp_endpoint_needs_a_token_and_the_rest_api_does_not() {
    let app = start().await;
    let (status, _) = app.mcp(None, "tools/list", json!({})).await;
    assert_eq!(status, 401);
    let (status, _) = app.mcp(Some("wrong-token"), "tools/list", json!({})).await;
    assert_eq!(status, 401);
    let posts: Value =
        app.http.get(format!("{}/api/posts?limit=3", app.base)).send().await.unwrap().json().await.unwrap();
    assert_eq!(posts.as_array().unwrap().len(), 3);
    assert!(posts.as_array().unwrap().iter().all(|p| p["published"] == true));
    let r = app.http.get(format!("{}/api/posts/4", app.base)).send().await.unwrap();
    assert_eq!(r.status(), 404, "post 4 is a draft");
}

#[tokio::test]
async fn every_kind_of_tool_answers() {
    let app = start().await;
    let (_, tools) = app.mcp(Some(ALICE), "tools/list", json!({})).await;
    let names: Vec<&str> =
        tools["result"]["tools"].as_array().unwrap().iter().map(|t| t["name"].as_str().unwrap()).collect();
    for want in ["authors_list", "posts_list", "posts_create", "publish_post", "posts_per_author", "word_count"] {
        assert!(names.contains(&want), "{names:?}");
    }
    let authors = app.call(ALICE, "authors_list", json!({ "filter": { "name__in": ["alice", "bob"] } })).await;
    assert_eq!(authors["returned"], 2);
    assert!(authors["items"][0].get("email").is_none(), "skipped field");
    // Drafts are counted only for their author: alice's aggregate sees her own drafts only.
    let alice_id = authors["items"].as_array().unwrap().iter().find(|a| a["name"] == "alice").unwrap()["id"].clone();
    let drafts =
        app.call(ALICE, "posts_aggregate", json!({ "group_by": "author_id", "filter": { "published": false } })).await;
    let groups = drafts["groups"].as_array().unwrap();
    assert_eq!(groups.len(), 1, "{drafts}");
    assert_eq!(groups[0]["author_id"], alice_id);
    let report = app.call(ALICE, "posts_per_author", json!({ "top": 3 })).await;
    assert_eq!(report.as_array().map(Vec::len), Some(3), "{report}");
    let comments = app.call(ALICE, "post_comments", json!({ "post_id": 1, "limit": 5 })).await;
    assert!(comments.as_array().is_some(), "{comments}");
    let words = app.call(ALICE, "word_count", json!({})).await;
    assert!(words["posts"].as_u64().unwrap() > 800 && words["words"].as_u64().unwrap() > 5000, "{words}");
    let (_, res) = app.mcp(Some(ALICE), "resources/read", json!({ "uri": "blog://posts/1" })).await;
    let text = res["result"]["contents"][0]["text"].as_str().unwrap();
    assert_eq!(serde_json::from_str::<Value>(text).unwrap()["id"], 1);
    let (_, prompt) =
        app.mcp(Some(ALICE), "prompts/get", json!({ "name": "review_post", "arguments": { "id": "1" } })).await;
    assert!(prompt["result"]["messages"][0]["content"]["text"].as_str().unwrap().contains("editor"), "{prompt}");
}

#[tokio::test]
async fn alice_and_bob_see_published_posts_and_only_their_own_drafts() {
    let app = start().await;
    // Seeded: 1,200 posts, about a quarter drafts; authors take turns (alice 1, 21, ..., bob 2, 22, ...).
    let alice_drafts = app.call(ALICE, "posts_count", json!({ "filter": { "published": false } })).await;
    let bob_drafts = app.call(BOB, "posts_count", json!({ "filter": { "published": false } })).await;
    assert!(alice_drafts["count"].as_i64().unwrap() > 0);
    let alice_id =
        app.call(ALICE, "authors_list", json!({ "filter": { "name": "alice" } })).await["items"][0]["id"].clone();
    let only_alice =
        app.call(ALICE, "posts_count", json!({ "filter": { "published": false, "author_id__ne": alice_id } })).await;
    assert_eq!(only_alice["count"], 0, "no other author's drafts");
    assert!(bob_drafts["count"].as_i64().unwrap() > 0);

    // Alice writes a draft: bob cannot see it, change it or delete it.
    let draft = app.call(ALICE, "posts_create", json!({ "title": "Alice's secret plan", "body": "Not yet." })).await;
    let id = draft["id"].clone();
    assert_eq!(draft["author_id"], alice_id);
    assert_eq!(draft["published"], false);
    let err = app.call_err(BOB, "posts_get", json!({ "id": id })).await;
    assert!(err.contains("no posts with `id`"), "{err}");
    for (tool, args) in [
        ("posts_patch", json!({ "id": id, "title": "Bob was here" })),
        ("posts_update", json!({ "id": id, "title": "Bob was here", "body": "Gone." })),
        ("posts_delete", json!({ "id": id })),
        ("publish_post", json!({ "id": id })),
    ] {
        let err = app.call_err(BOB, tool, args).await;
        assert!(err.contains("no post"), "{tool}: {err}");
    }
    // Even an `$or` asking for everything does not show it to bob.
    let found = app
        .call(BOB, "posts_list", json!({ "filter": { "$or": [{ "id": id }, { "published": false }] }, "limit": 50 }))
        .await;
    assert!(found["items"].as_array().unwrap().iter().all(|p| p["id"] != id && p["author_id"] != alice_id));
    // Nor do counts or aggregates: bob's drafts per author name only bob.
    let groups = app
        .call(
            BOB,
            "posts_aggregate",
            json!({ "group_by": "author_id", "filter": { "published": false }, "metrics": ["count"] }),
        )
        .await;
    let groups = groups["groups"].as_array().unwrap();
    assert_eq!(groups.len(), 1, "{groups:?}");
    assert_ne!(groups[0]["author_id"], alice_id);

    // Alice publishes it (one transaction with an audit row); now bob reads it but still cannot change it.
    let published = app.call(ALICE, "publish_post", json!({ "id": id })).await;
    assert_eq!(published["published"], true);
    assert!(published["published_at"].is_string());
    assert_eq!(app.call(BOB, "posts_get", json!({ "id": id })).await["title"], "Alice's secret plan");
    let err = app.call_err(BOB, "posts_patch", json!({ "id": id, "title": "Bob was here" })).await;
    assert!(err.contains("not yours to change"), "{err}");
    // Agents cannot set fields the server owns.
    let err = app.call_err(ALICE, "posts_patch", json!({ "id": id, "published": false })).await;
    assert!(err.contains("`published` cannot be written"), "{err}");
}

#[tokio::test]
async fn a_session_cannot_be_hijacked() {
    let app = start().await;
    let url = format!("{}/mcp", app.base);
    let post = |token: &str, session: Option<&str>, body: Value| {
        let mut req = app
            .http
            .post(&url)
            .bearer_auth(token)
            .header("accept", "application/json, text/event-stream")
            .header("mcp-protocol-version", "2025-11-25")
            .json(&body);
        if let Some(s) = session {
            req = req.header("mcp-session-id", s);
        }
        req.send()
    };
    let init = json!({ "jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": { "name": "t", "version": "1" } } });
    let resp = post(ALICE, None, init).await.unwrap();
    assert_eq!(resp.status(), 200);
    let session = resp.headers()["mcp-session-id"].to_str().unwrap().to_owned();
    let call = json!({ "jsonrpc": "2.0", "id": 2, "method": "tools/call",
        "params": { "name": "posts_count", "arguments": { "filter": { "published": false } } } });
    assert_eq!(post(ALICE, Some(&session), call.clone()).await.unwrap().status(), 200);
    // Bob holding alice's session id: the session does not exist for him.
    assert_eq!(post(BOB, Some(&session), call).await.unwrap().status(), 404);
}
