//! Issue #17 "Trust first", over real HTTP: every tool's structured result fits its
//! advertised `outputSchema` (what the Python SDK and MCP Inspector check); hand-written
//! tools returning `Author` hide its `#[mcp(skip)]` email; the posts' rules hold for the
//! model tools and the REST API alike; and a write to someone else's visible post says it
//! is not theirs, while a post the caller cannot see stays "not found".

mod common;

#[path = "../../../mcp-diesel/tests/support/output_check.rs"]
mod output_check;

use common::{ALICE, BOB, Fixture};
use serde_json::{Value, json};

struct App {
    base: String,
    http: reqwest::Client,
    _dir: Fixture,
}

async fn start() -> App {
    let (app, dir) = common::app("blog-trust");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(mcp_axum::serve(listener, app));
    App { base: format!("http://{addr}"), http: reqwest::Client::new(), _dir: dir }
}

impl App {
    /// One stateless MCP request as `token`: the JSON-RPC answer (from JSON or SSE).
    async fn mcp(&self, token: &str, method: &str, mut params: Value) -> Value {
        params["_meta"] = json!({
            "io.modelcontextprotocol/protocolVersion": "2026-07-28",
            "io.modelcontextprotocol/clientCapabilities": {},
        });
        let body = json!({ "jsonrpc": "2.0", "id": 1, "method": method, "params": params });
        let mut req = self
            .http
            .post(format!("{}/mcp", self.base))
            .bearer_auth(token)
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .header("mcp-protocol-version", "2026-07-28")
            .header("mcp-method", method);
        if let Some(name) = params["name"].as_str() {
            req = req.header("mcp-name", name);
        }
        let r = req.body(body.to_string()).send().await.unwrap();
        assert_eq!(r.status().as_u16(), 200, "{method} {params}");
        let text = r.text().await.unwrap();
        serde_json::from_str(&text).unwrap_or_else(|_| {
            text.lines()
                .rev()
                .filter_map(|l| l.strip_prefix("data:"))
                .filter_map(|d| serde_json::from_str::<Value>(d.trim()).ok())
                .find(|m| m.get("id").is_some())
                .unwrap_or(Value::Null)
        })
    }

    /// Every tool `token` sees, page after page.
    async fn tools(&self, token: &str) -> Vec<Value> {
        let mut out = Vec::new();
        let mut cursor = Value::Null;
        loop {
            let params = if cursor.is_null() { json!({}) } else { json!({ "cursor": cursor }) };
            let page = self.mcp(token, "tools/list", params).await;
            out.extend(page["result"]["tools"].as_array().unwrap().iter().cloned());
            cursor = page["result"]["nextCursor"].clone();
            if cursor.is_null() {
                return out;
            }
        }
    }

    /// A `tools/call`'s result.
    async fn call(&self, token: &str, tool: &str, args: Value) -> Value {
        let v = self.mcp(token, "tools/call", json!({ "name": tool, "arguments": args })).await;
        assert!(v.get("error").is_none(), "{tool}: JSON-RPC error {v}");
        v["result"].clone()
    }

    async fn ok(&self, token: &str, tool: &str, args: Value) -> Value {
        let r = self.call(token, tool, args.clone()).await;
        assert_ne!(r["isError"], true, "{tool} {args}: {r}");
        r["structuredContent"].clone()
    }

    async fn err(&self, token: &str, tool: &str, args: Value) -> String {
        let r = self.call(token, tool, args.clone()).await;
        assert_eq!(r["isError"], true, "{tool} {args} should fail: {r}");
        r["content"][0]["text"].as_str().unwrap_or_default().to_owned()
    }

    /// The author id of `name`.
    async fn author(&self, name: &str) -> i64 {
        let page = self.ok(ALICE, "authors_list", json!({ "filter": { "name": name } })).await;
        page["items"][0]["id"].as_i64().unwrap()
    }
}

#[tokio::test]
async fn every_blog_tool_result_fits_its_output_schema() {
    let app = start().await;
    let tools = app.tools(ALICE).await;
    let app = &app;
    let call = move |name: String, args: Value| {
        Box::pin(async move { app.call(ALICE, &name, args).await })
            as std::pin::Pin<Box<dyn std::future::Future<Output = Value> + '_>>
    };
    let seen = output_check::check_all(&tools, &call).await;
    for (tool, arg) in [("posts_list", "fields"), ("posts_list", "include"), ("posts_aggregate", "group_by")] {
        assert!(
            seen.calls.iter().any(|(n, a, ok)| n == tool && a.get(arg).is_some() && *ok),
            "{tool} was never called successfully with `{arg}`"
        );
    }
}

#[tokio::test]
async fn hand_written_tools_returning_author_hide_the_email() {
    let app = start().await;
    let tools = app.tools(ALICE).await;
    let first = app.ok(ALICE, "posts_list", json!({ "filter": { "published": true }, "limit": 1 })).await;
    let post_id = first["items"][0]["id"].clone();
    for (tool, args) in [("post_author", json!({ "post_id": post_id })), ("blog_authors", json!({}))] {
        let schema = tools.iter().find(|t| t["name"] == tool).unwrap()["outputSchema"].to_string();
        assert!(schema.contains("\"name\""), "{tool}: {schema}");
        assert!(!schema.contains("email"), "{tool}: the outputSchema shows the email: {schema}");
        let r = app.call(ALICE, tool, args).await;
        assert_ne!(r["isError"], true, "{r}");
        let structured = r["structuredContent"].to_string();
        assert!(structured.contains("\"name\""), "{tool}: {structured}");
        let text = r["content"].to_string();
        for shown in [&structured, &text] {
            assert!(!shown.contains("email") && !shown.contains('@'), "{tool} leaks the email: {shown}");
        }
    }
}

#[tokio::test]
async fn the_posts_rules_hold_for_model_tools_and_the_rest_api() {
    let app = start().await;
    let before = app.ok(ALICE, "posts_count", json!({})).await["count"].clone();
    let long = "x".repeat(1024 * 1024);
    let mine = app.ok(ALICE, "posts_create", json!({ "title": "Mine", "body": "text" })).await;
    let id = mine["id"].clone();
    for title in ["", "   ", long.as_str()] {
        let why = app.err(ALICE, "posts_create", json!({ "title": title, "body": "text" })).await;
        assert!(why.contains("`title`") && why.contains("nothing was written"), "{why}");
        let rule = if title.len() > 10 { "at most 200" } else { "must not be empty" };
        assert!(why.contains(rule), "{why}");
        let why = app.err(ALICE, "posts_patch", json!({ "id": id, "title": title })).await;
        assert!(why.contains("`title`") && why.contains(rule), "{why}");
        let why = app.err(ALICE, "posts_update", json!({ "id": id, "title": title, "body": "text" })).await;
        assert!(why.contains("`title`") && why.contains(rule), "{why}");
        // The REST API answers by the same rules.
        let r = app
            .http
            .post(format!("{}/api/posts", app.base))
            .bearer_auth(ALICE)
            .json(&json!({ "title": title, "body": "text" }))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 422);
        let body: Value = r.json().await.unwrap();
        assert!(body["fields"]["title"].as_str().unwrap().contains(rule), "{body}");
        let r = app
            .http
            .patch(format!("{}/api/posts/{id}", app.base))
            .bearer_auth(ALICE)
            .json(&json!({ "title": title }))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 422);
    }
    let why = app.err(ALICE, "posts_patch", json!({ "id": id, "body": " " })).await;
    assert!(why.contains("`body` must not be empty"), "{why}");
    // Nothing was written: one new post, its title as created.
    let after = app.ok(ALICE, "posts_count", json!({})).await["count"].clone();
    assert_eq!(after.as_i64().unwrap(), before.as_i64().unwrap() + 1);
    assert_eq!(app.ok(ALICE, "posts_get", json!({ "id": id })).await["title"], "Mine");
    // Within the rules, writes go through.
    let changed = app.ok(ALICE, "posts_patch", json!({ "id": id, "title": "x".repeat(200) })).await;
    assert_eq!(changed["title"].as_str().unwrap().len(), 200);
}

#[tokio::test]
async fn writing_someone_elses_post_says_it_is_not_theirs_without_leaking_drafts() {
    let app = start().await;
    let bob = app.author("bob").await;
    let published =
        app.ok(BOB, "posts_list", json!({ "filter": { "author_id": bob, "published": true }, "limit": 1 })).await;
    let public = published["items"][0]["id"].clone();
    let draft =
        app.ok(BOB, "posts_list", json!({ "filter": { "author_id": bob, "published": false }, "limit": 1 })).await;
    let draft = draft["items"][0]["id"].clone();
    assert!(public.is_i64() && draft.is_i64(), "bob has a published post and a draft");
    // Alice reads bob's published post...
    assert_eq!(app.ok(ALICE, "posts_get", json!({ "id": public })).await["id"], public);
    // ...but may not change it: she is told so.
    for (tool, args) in [
        ("posts_patch", json!({ "id": public, "title": "Taken over" })),
        ("posts_update", json!({ "id": public, "title": "Taken over", "body": "x" })),
        ("posts_delete", json!({ "id": public })),
    ] {
        let why = app.err(ALICE, tool, args).await;
        assert!(why.contains("not yours to change") && why.contains(&format!("= {public}")), "{tool}: {why}");
    }
    // Bob's draft does not exist for her: "not found", as for a post that does not exist.
    for (tool, args) in
        [("posts_patch", json!({ "id": draft, "title": "Taken over" })), ("posts_delete", json!({ "id": draft }))]
    {
        let why = app.err(ALICE, tool, args).await;
        assert!(why.contains("no posts with `id`") && !why.contains("yours"), "{tool}: {why}");
        let missing = app
            .err(
                ALICE,
                tool,
                json!({ "id": 987_654, "title": "t" })
                    .as_object()
                    .map(|o| {
                        let mut o = o.clone();
                        if tool == "posts_delete" {
                            o.remove("title");
                        }
                        Value::Object(o)
                    })
                    .unwrap(),
            )
            .await;
        assert_eq!(missing.replace("987654", &draft.to_string()), why, "a draft and a missing post answer alike");
    }
    // Nothing changed.
    let still = app.ok(BOB, "posts_get", json!({ "id": public })).await;
    assert_ne!(still["title"], "Taken over");
}
