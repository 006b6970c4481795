//! The blog's JSON API served as MCP tools (`RouteTools`), over real HTTP on 127.0.0.1:
//! the same calls through REST and through MCP, with alice's and bob's bearer tokens.

mod common;

use common::{ALICE, BOB, Fixture};
use serde_json::{Value, json};

struct App {
    base: String,
    http: reqwest::Client,
    _dir: Fixture,
}

async fn start() -> App {
    let (app, dir) = common::app("blog-routes");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(mcp_axum::serve(listener, app));
    App { base: format!("http://{addr}"), http: reqwest::Client::new(), _dir: dir }
}

impl App {
    /// A REST call: status and JSON body.
    async fn rest(&self, method: &str, path: &str, token: Option<&str>, body: Option<Value>) -> (u16, Value) {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let r = req.send().await.unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    /// One stateless MCP request as `token`: the HTTP status and the JSON body.
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
        if let Some(name) = params["name"].as_str() {
            req = req.header("mcp-name", name);
        }
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let r = req.body(body.to_string()).send().await.unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    /// `tools/call` as `token`: the result.
    async fn call(&self, token: &str, tool: &str, args: Value) -> Value {
        let (status, v) = self.mcp(Some(token), "tools/call", json!({ "name": tool, "arguments": args })).await;
        assert_eq!(status, 200, "{v}");
        v["result"].clone()
    }

    async fn ok(&self, token: &str, tool: &str, args: Value) -> Value {
        let r = self.call(token, tool, args.clone()).await;
        assert_ne!(r["isError"], true, "{tool} {args}: {r}");
        r["structuredContent"].clone()
    }

    async fn err(&self, token: &str, tool: &str, args: Value) -> String {
        let r = self.call(token, tool, args.clone()).await;
        assert_eq!(r["isError"], true, "{tool} {args}: {r}");
        r["content"][0]["text"].as_str().unwrap().to_owned()
    }
}

#[tokio::test]
async fn the_json_api_is_listed_as_tools() {
    let app = start().await;
    let (_, v) = app.mcp(Some(ALICE), "tools/list", json!({})).await;
    let tools = v["result"]["tools"].as_array().unwrap();
    let tool = |name: &str| tools.iter().find(|t| t["name"] == name).unwrap_or_else(|| panic!("no {name}")).clone();

    let list = tool("get_api_posts");
    assert_eq!(list["description"], "Published posts, newest first.");
    assert_eq!(list["annotations"], json!({ "readOnlyHint": true }));
    let props = list["inputSchema"]["properties"].as_object().unwrap();
    assert_eq!(props.keys().collect::<Vec<_>>(), ["author_id", "limit", "offset"]);
    assert_eq!(list["outputSchema"]["type"], "array");

    let create = tool("create_draft");
    assert_eq!(create["title"], "Write a draft");
    assert_eq!(create["annotations"], json!({ "destructiveHint": false }));
    assert_eq!(create["inputSchema"]["required"], json!(["title", "body"]));
    assert_eq!(create["outputSchema"]["properties"]["published"]["type"], "boolean");

    let patch = tool("patch_api_posts_id");
    assert_eq!(patch["inputSchema"]["required"], json!(["id"]));
    assert_eq!(patch["inputSchema"]["properties"]["id"]["type"], "integer");
    assert_eq!(patch["annotations"], json!({ "destructiveHint": false, "idempotentHint": true }));

    assert_eq!(tool("get_api_posts_id")["inputSchema"]["required"], json!(["id"]));
}

#[tokio::test]
async fn listing_through_rest_and_mcp_gives_the_same_posts() {
    let app = start().await;
    let (status, all) = app.rest("GET", "/api/posts?limit=50", None, None).await;
    assert_eq!(status, 200);
    let author = all[0]["author_id"].as_i64().unwrap();
    let (_, by_rest) = app.rest("GET", &format!("/api/posts?author_id={author}&limit=2&offset=1"), None, None).await;
    let by_mcp = app.ok(BOB, "get_api_posts", json!({ "author_id": author, "limit": 2, "offset": 1 })).await;
    assert_eq!(by_rest, by_mcp);
    let posts = by_mcp.as_array().unwrap();
    assert!(!posts.is_empty() && posts.len() <= 2, "{by_mcp}");
    assert!(posts.iter().all(|p| p["author_id"] == author && p["published"] == true), "{by_mcp}");

    let id = all[0]["id"].as_i64().unwrap();
    let (_, one_by_rest) = app.rest("GET", &format!("/api/posts/{id}"), None, None).await;
    let one_by_mcp = app.ok(BOB, "get_api_posts_id", json!({ "id": id })).await;
    assert_eq!(one_by_rest, one_by_mcp);
    assert_eq!(one_by_mcp, all[0]);
}

#[tokio::test]
async fn a_draft_written_through_mcp_is_the_authors_through_rest_too() {
    let app = start().await;
    let draft = app.ok(ALICE, "create_draft", json!({ "title": "  From an agent ", "body": "Hello." })).await;
    assert_eq!(draft["title"], "From an agent");
    assert_eq!(draft["published"], false);
    let id = draft["id"].as_i64().unwrap();

    // The author sees the draft through either door; bob and anonymous callers do not.
    let (status, by_rest) = app.rest("GET", &format!("/api/posts/{id}"), Some(ALICE), None).await;
    assert_eq!(status, 200);
    assert_eq!(by_rest, draft);
    assert_eq!(app.ok(ALICE, "get_api_posts_id", json!({ "id": id })).await, draft);
    let (status, body) = app.rest("GET", &format!("/api/posts/{id}"), Some(BOB), None).await;
    assert_eq!((status, body), (404, json!({ "error": "no such post" })));
    assert_eq!(app.err(BOB, "get_api_posts_id", json!({ "id": id })).await, "HTTP 404 Not Found: no such post");
    let (status, _) = app.rest("GET", &format!("/api/posts/{id}"), None, None).await;
    assert_eq!(status, 404);

    // Path and body together: a new title through MCP, read back through REST.
    let changed = app.ok(ALICE, "patch_api_posts_id", json!({ "id": id, "title": "Renamed" })).await;
    assert_eq!(changed["title"], "Renamed");
    assert_eq!(changed["body"], "Hello.");
    let (_, by_rest) = app.rest("GET", &format!("/api/posts/{id}"), Some(ALICE), None).await;
    assert_eq!(by_rest, changed);

    // The draft is alice's, made through the REST API as well.
    let (status, made) =
        app.rest("POST", "/api/posts", Some(ALICE), Some(json!({ "title": "By hand", "body": "Text" }))).await;
    assert_eq!(status, 201);
    assert_eq!(made["author_id"], draft["author_id"]);
}

#[tokio::test]
async fn validation_errors_read_the_same_through_rest_and_mcp() {
    let app = start().await;
    let bad = json!({ "title": " ", "body": "" });
    let (status, body) = app.rest("POST", "/api/posts", Some(ALICE), Some(bad.clone())).await;
    assert_eq!(status, 422);
    assert_eq!(body["error"], "invalid post: body must not be empty; title must not be empty");
    let text = app.err(ALICE, "create_draft", bad).await;
    assert_eq!(
        text,
        format!("HTTP 422 Unprocessable Entity: invalid post: body must not be empty; title must not be empty\n{body}")
    );

    let long = "x".repeat(201);
    let text = app.err(ALICE, "create_draft", json!({ "title": long, "body": "b" })).await;
    assert!(text.contains("title has 201 characters; at most 200"), "{text}");
    // A missing field: axum's own `Json` rejection, as the app answers it.
    let text = app.err(ALICE, "create_draft", json!({ "title": "t" })).await;
    assert!(text.starts_with("HTTP 422 Unprocessable Entity") && text.contains("missing field `body`"), "{text}");
}

#[tokio::test]
async fn the_apps_auth_decides_through_either_door() {
    let app = start().await;
    // No token, a wrong token: REST and the MCP endpoint answer alike.
    for token in [None, Some("wrong-token")] {
        let (rest_status, rest_body) =
            app.rest("POST", "/api/posts", token, Some(json!({ "title": "t", "body": "b" }))).await;
        let (mcp_status, mcp_body) = app
            .mcp(token, "tools/call", json!({ "name": "create_draft", "arguments": { "title": "t", "body": "b" } }))
            .await;
        assert_eq!(rest_status, 401);
        // The same authenticators decide both doors: the same status and reason (MCP's
        // as a JSON-RPC error, with the OAuth challenge).
        assert_eq!(mcp_status, rest_status, "{token:?}");
        let reason = rest_body["error"].as_str().unwrap();
        let message = mcp_body["error"]["message"].as_str().unwrap();
        assert!(message.ends_with(reason.trim_start_matches("send ")), "{message} / {reason}");
    }

    // Bob may not change alice's published post: 403 through REST, a refusal through MCP.
    let draft = app.ok(ALICE, "create_draft", json!({ "title": "Mine", "body": "b" })).await;
    let id = draft["id"].as_i64().unwrap();
    app.ok(ALICE, "publish_post", json!({ "id": id })).await;
    let (status, body) = app.rest("PATCH", &format!("/api/posts/{id}"), Some(BOB), Some(json!({ "title": "x" }))).await;
    assert_eq!((status, body), (403, json!({ "error": "only the author may change this post" })));
    let text = app.err(BOB, "patch_api_posts_id", json!({ "id": id, "title": "x" })).await;
    assert_eq!(text, "the app refused permission (HTTP 403 Forbidden): only the author may change this post");
    let (_, unchanged) = app.rest("GET", &format!("/api/posts/{id}"), None, None).await;
    assert_eq!(unchanged["title"], "Mine");
}
