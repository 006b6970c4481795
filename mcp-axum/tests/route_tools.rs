//! REST handlers as MCP tools, over real HTTP on 127.0.0.1: a small notes API behind its
//! own bearer-token middleware, called through REST and through MCP (stateless
//! 2026-07-28 requests) with the same token, and compared.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::{Extension, Path, Query, Request, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::middleware::{Next, from_fn};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use mcp_axum::{McpCall, McpRouter, RouteTools};
use mcp_core::prelude::*;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

const TOKEN: &str = "secret";
const READ_ONLY_TOKEN: &str = "reader";

/// A note.
#[derive(Clone, Debug, Serialize, JsonSchema)]
struct Note {
    /// Its id.
    id: u32,
    /// The folder it is in.
    folder: String,
    /// Its title.
    title: String,
    /// Its text.
    body: Option<String>,
}

/// What a new note needs.
#[derive(Deserialize, JsonSchema)]
struct NewNote {
    /// The title (not empty).
    title: String,
    /// The text.
    body: Option<String>,
}

/// A search.
#[derive(Deserialize, JsonSchema)]
struct Search {
    /// Only notes in this folder.
    folder: Option<String>,
    /// Only notes whose title contains this.
    q: Option<String>,
    /// At most this many.
    limit: Option<usize>,
}

/// A note's address.
#[derive(Deserialize, JsonSchema)]
struct NoteKey {
    folder: String,
    id: u32,
}

#[derive(Clone, Default)]
struct Notes(Arc<Mutex<Vec<Note>>>);

struct ApiError(StatusCode, String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.0, Json(json!({ "error": self.1 }))).into_response()
    }
}

/// Create a note in a folder.
#[mcp_tool]
async fn create_note(
    State(notes): State<Notes>,
    Path(folder): Path<String>,
    Json(new): Json<NewNote>,
) -> Result<(StatusCode, Json<Note>), ApiError> {
    if new.title.trim().is_empty() {
        return Err(ApiError(StatusCode::UNPROCESSABLE_ENTITY, "title must not be empty".into()));
    }
    let mut all = notes.0.lock().unwrap();
    let note = Note { id: all.len() as u32 + 1, folder, title: new.title, body: new.body };
    all.push(note.clone());
    Ok((StatusCode::CREATED, Json(note)))
}

/// One note.
#[mcp_tool(title = "Read a note")]
async fn get_note(State(notes): State<Notes>, Path(key): Path<NoteKey>) -> Result<Json<Note>, ApiError> {
    let all = notes.0.lock().unwrap();
    match all.iter().find(|n| n.id == key.id && n.folder == key.folder) {
        Some(n) => Ok(Json(n.clone())),
        None => Err(ApiError(StatusCode::NOT_FOUND, format!("no note {} in {}", key.id, key.folder))),
    }
}

/// Find notes.
#[mcp_tool(name = "search_notes", open_world = false)]
async fn search(State(notes): State<Notes>, Query(s): Query<Search>) -> Json<Vec<Note>> {
    let all = notes.0.lock().unwrap();
    let found = all
        .iter()
        .filter(|n| s.folder.as_ref().is_none_or(|f| &n.folder == f))
        .filter(|n| s.q.as_ref().is_none_or(|q| n.title.contains(q.as_str())))
        .take(s.limit.unwrap_or(usize::MAX))
        .cloned()
        .collect();
    Json(found)
}

/// Delete a note.
#[mcp_tool]
async fn delete_note(State(notes): State<Notes>, Path((folder, id)): Path<(String, u32)>) -> StatusCode {
    let mut all = notes.0.lock().unwrap();
    let before = all.len();
    all.retain(|n| !(n.id == id && n.folder == folder));
    if all.len() < before { StatusCode::NO_CONTENT } else { StatusCode::NOT_FOUND }
}

/// Shows the request as the handler saw it.
#[mcp_tool]
async fn echo(
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    call: Option<Extension<McpCall>>,
    Path(name): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    Json(body): Json<Value>,
) -> Json<Value> {
    let headers: HashMap<String, String> =
        headers.iter().map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or_default().to_owned())).collect();
    Json(json!({
        "method": method.as_str(),
        "uri": uri.to_string(),
        "name": name,
        "query": query,
        "body": body,
        "headers": headers,
        "principal": call.as_ref().and_then(|Extension(c)| c.principal()).map(|p| p.subject.clone()),
        "tool": call.map(|Extension(c)| c.tool().to_owned()),
    }))
}

/// The app's own authentication: `Bearer secret` may do anything, `Bearer reader` may only
/// read.
async fn require_token(request: Request, next: Next) -> Response {
    let token = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    match token {
        Some(TOKEN) => next.run(request).await,
        Some(READ_ONLY_TOKEN) if request.method() == Method::GET => next.run(request).await,
        Some(READ_ONLY_TOKEN) => ApiError(StatusCode::FORBIDDEN, "this token may only read".into()).into_response(),
        _ => ApiError(StatusCode::UNAUTHORIZED, "missing or invalid bearer token".into()).into_response(),
    }
}

fn api() -> Router {
    Router::new()
        .route("/notes/{folder}", post(create_note))
        .route("/notes/{folder}/{id}", get(get_note).delete(delete_note))
        .route("/notes", get(search))
        .route("/echo/{name}", post(echo))
        .route_layer(from_fn(require_token))
        .with_state(Notes::default())
}

fn tools(api: Router) -> RouteTools {
    RouteTools::new(api)
        .post::<create_note>("/notes/{folder}")
        .get::<get_note>("/notes/{folder}/{id}")
        .get::<search>("/notes")
        .delete::<delete_note>("/notes/{folder}/{id}")
        .post::<echo>("/echo/{name}")
        // The app's own middleware decides who writes (the MCP caller has no scopes here).
        .unscoped_writes()
}

struct Clock;

#[mcp_toolset]
impl Clock {
    /// A fixed time.
    #[mcp_tool(read_only)]
    fn now(&self) -> u64 {
        1_700_000_000
    }
}

struct App {
    base: String,
    http: reqwest::Client,
}

async fn start() -> App {
    let api = api();
    let server = Server::builder().info(server_info!()).toolset(tools(api.clone())).toolset(Clock).build().unwrap();
    // The MCP endpoint's own authentication stands in as a layer that names the caller.
    let mcp = McpRouter::new(server).into_router().layer(from_fn(|mut req: Request, next: Next| {
        req.extensions_mut().insert(mcp_core::Principal::new("agent-7"));
        next.run(req)
    }));
    let app = api.merge(mcp);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(mcp_axum::serve(listener, app));
    App { base: format!("http://{addr}"), http: reqwest::Client::new() }
}

impl App {
    /// A REST call: status and JSON body.
    async fn rest(&self, method: Method, path: &str, token: Option<&str>, body: Option<Value>) -> (u16, Value) {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if let Some(t) = token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        if let Some(b) = body {
            req = req.header("content-type", "application/json").body(b.to_string());
        }
        let r = req.send().await.unwrap();
        let status = r.status().as_u16();
        let text = r.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// One MCP request with `token` and extra headers; the JSON-RPC answer.
    async fn mcp(&self, token: Option<&str>, extra: &[(&str, &str)], method: &str, mut params: Value) -> Value {
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
            req = req.header("authorization", format!("Bearer {t}"));
        }
        for (k, v) in extra {
            req = req.header(*k, *v);
        }
        let r = req.body(body.to_string()).send().await.unwrap();
        assert_eq!(r.status().as_u16(), 200);
        serde_json::from_str(&r.text().await.unwrap()).unwrap()
    }

    /// `tools/call`: the result.
    async fn call(&self, token: Option<&str>, tool: &str, args: Value) -> Value {
        let v = self.mcp(token, &[], "tools/call", json!({ "name": tool, "arguments": args })).await;
        v["result"].clone()
    }

    /// A successful call's structured content.
    async fn ok(&self, tool: &str, args: Value) -> Value {
        let r = self.call(Some(TOKEN), tool, args.clone()).await;
        assert_ne!(r["isError"], true, "{tool} {args}: {r}");
        r["structuredContent"].clone()
    }

    /// A failed call's text.
    async fn err(&self, token: Option<&str>, tool: &str, args: Value) -> String {
        let r = self.call(token, tool, args.clone()).await;
        assert_eq!(r["isError"], true, "{tool} {args}: {r}");
        r["content"][0]["text"].as_str().unwrap().to_owned()
    }

    async fn tools(&self) -> Vec<Value> {
        let v = self.mcp(Some(TOKEN), &[], "tools/list", json!({})).await;
        v["result"]["tools"].as_array().unwrap().clone()
    }
}

fn tool<'a>(tools: &'a [Value], name: &str) -> &'a Value {
    tools.iter().find(|t| t["name"] == name).unwrap_or_else(|| panic!("no tool {name}"))
}

#[tokio::test]
async fn tools_are_listed_with_names_schemas_and_hints() {
    let app = start().await;
    let tools = app.tools().await;
    let names: Vec<&str> = tools.iter().map(|t| t["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        ["post_notes_folder", "get_notes_folder_id", "search_notes", "delete_notes_folder_id", "post_echo_name", "now"]
    );

    // Path and body flattened: `folder` from the route, `title` and `body` from `NewNote`.
    let create = tool(&tools, "post_notes_folder");
    assert_eq!(create["description"], "Create a note in a folder.");
    let schema = &create["inputSchema"];
    assert_eq!(schema["type"], "object");
    assert_eq!(schema["additionalProperties"], false);
    assert_eq!(schema["properties"]["folder"]["type"], "string");
    assert_eq!(schema["properties"]["title"]["description"], "The title (not empty).");
    assert_eq!(schema["required"], json!(["folder", "title"]));
    assert_eq!(create["outputSchema"]["properties"]["title"]["type"], "string");
    assert_eq!(create.get("annotations"), None, "{create}");

    // A struct `Path`: each parameter takes its field's schema.
    let get = tool(&tools, "get_notes_folder_id");
    assert_eq!(get["title"], "Read a note");
    assert_eq!(get["inputSchema"]["properties"]["id"]["type"], "integer");
    assert_eq!(get["inputSchema"]["properties"]["folder"]["type"], "string");
    assert_eq!(get["annotations"], json!({ "readOnlyHint": true }));

    // A tuple `Path`: by position.
    let delete = tool(&tools, "delete_notes_folder_id");
    assert_eq!(delete["inputSchema"]["properties"]["id"]["type"], "integer");
    assert_eq!(delete["annotations"], json!({ "destructiveHint": true, "idempotentHint": true }));
    assert_eq!(delete.get("outputSchema"), None);

    // Query fields flattened, none required; the explicit name and hints.
    let search = tool(&tools, "search_notes");
    assert_eq!(search["inputSchema"]["properties"]["limit"]["type"], json!(["integer", "null"]));
    assert_eq!(search["inputSchema"].get("required"), None);
    assert_eq!(search["annotations"], json!({ "readOnlyHint": true, "openWorldHint": false }));
    assert_eq!(search["outputSchema"]["type"], "array");

    // A map query and an arbitrary JSON body cannot be flattened: `path`, `query`, `body`.
    let echo = tool(&tools, "post_echo_name");
    let props = echo["inputSchema"]["properties"].as_object().unwrap();
    assert_eq!(props.keys().collect::<Vec<_>>(), ["body", "path", "query"]);
    assert_eq!(props["path"]["properties"]["name"]["type"], "string");
    assert_eq!(echo["inputSchema"]["required"], json!(["path", "body"]));
    assert_eq!(echo.get("outputSchema"), None, "serde_json::Value says nothing");
}

#[tokio::test]
async fn the_same_calls_through_rest_and_mcp_give_the_same_data() {
    let app = start().await;
    let (status, by_rest) =
        app.rest(Method::POST, "/notes/work", Some(TOKEN), Some(json!({ "title": "Plan", "body": "a b" }))).await;
    assert_eq!(status, 201);
    let by_mcp = app.ok("post_notes_folder", json!({ "folder": "home", "title": "Shop", "body": "milk" })).await;
    assert_eq!(by_mcp, json!({ "id": 2, "folder": "home", "title": "Shop", "body": "milk" }));
    assert_eq!(by_rest, json!({ "id": 1, "folder": "work", "title": "Plan", "body": "a b" }));

    for (folder, id) in [("work", 1), ("home", 2)] {
        let (status, rest) = app.rest(Method::GET, &format!("/notes/{folder}/{id}"), Some(TOKEN), None).await;
        assert_eq!(status, 200);
        let mcp = app.ok("get_notes_folder_id", json!({ "folder": folder, "id": id })).await;
        assert_eq!(rest, mcp);
    }

    let (_, rest) = app.rest(Method::GET, "/notes?folder=home&limit=5", Some(TOKEN), None).await;
    let mcp = app.ok("search_notes", json!({ "folder": "home", "limit": 5 })).await;
    assert_eq!(rest, mcp);
    assert_eq!(mcp.as_array().unwrap().len(), 1);
    let all = app.ok("search_notes", json!({})).await;
    assert_eq!(all.as_array().unwrap().len(), 2);

    // No JSON body: the status is the text.
    let r = app.call(Some(TOKEN), "delete_notes_folder_id", json!({ "folder": "home", "id": 2 })).await;
    assert_eq!(r["isError"], Value::Null, "{r}");
    assert_eq!(r["content"][0]["text"], "HTTP 204 No Content");
    let (status, _) = app.rest(Method::GET, "/notes/home/2", Some(TOKEN), None).await;
    assert_eq!(status, 404);

    // The route tools and the toolset's tools live side by side.
    assert_eq!(app.ok("now", json!({})).await, json!(1_700_000_000));
}

#[tokio::test]
async fn the_apps_auth_rejects_mcp_calls_as_it_rejects_rest_calls() {
    let app = start().await;
    let new = json!({ "title": "x" });
    for token in [None, Some("wrong")] {
        let (status, body) = app.rest(Method::POST, "/notes/a", token, Some(new.clone())).await;
        assert_eq!((status, &body), (401, &json!({ "error": "missing or invalid bearer token" })));
        let text = app.err(token, "post_notes_folder", json!({ "folder": "a", "title": "x" })).await;
        assert_eq!(text, "the app refused authentication (HTTP 401 Unauthorized): missing or invalid bearer token");
    }
    let (status, body) = app.rest(Method::POST, "/notes/a", Some(READ_ONLY_TOKEN), Some(new)).await;
    assert_eq!((status, &body), (403, &json!({ "error": "this token may only read" })));
    let text = app.err(Some(READ_ONLY_TOKEN), "post_notes_folder", json!({ "folder": "a", "title": "x" })).await;
    assert_eq!(text, "the app refused permission (HTTP 403 Forbidden): this token may only read");
    // The read-only token may read, through either door.
    let (status, _) = app.rest(Method::GET, "/notes", Some(READ_ONLY_TOKEN), None).await;
    assert_eq!(status, 200);
    let r = app.call(Some(READ_ONLY_TOKEN), "search_notes", json!({})).await;
    assert_eq!(r["structuredContent"], json!([]), "{r}");
}

#[tokio::test]
async fn validation_errors_of_the_handler_reach_the_agent() {
    let app = start().await;
    let (status, body) = app.rest(Method::POST, "/notes/a", Some(TOKEN), Some(json!({ "title": " " }))).await;
    assert_eq!((status, body), (422, json!({ "error": "title must not be empty" })));
    let text = app.err(Some(TOKEN), "post_notes_folder", json!({ "folder": "a", "title": " " })).await;
    assert_eq!(text, "HTTP 422 Unprocessable Entity: title must not be empty");

    // axum's own `Json` rejection, as the app would send it.
    let text = app.err(Some(TOKEN), "post_notes_folder", json!({ "folder": "a", "body": "no title" })).await;
    assert!(text.starts_with("HTTP 422 Unprocessable Entity: "), "{text}");
    assert!(text.contains("missing field `title`"), "{text}");
    let text = app.err(Some(TOKEN), "get_notes_folder_id", json!({ "folder": "a", "id": 9 })).await;
    assert_eq!(text, "HTTP 404 Not Found: no note 9 in a");
    // A path parameter of the wrong type, rejected by axum's `Path`.
    let text = app.err(Some(TOKEN), "get_notes_folder_id", json!({ "folder": "a", "id": "nine" })).await;
    assert!(text.starts_with("HTTP 400 Bad Request: "), "{text}");
}

#[tokio::test]
async fn path_query_body_and_headers_are_filled_in() {
    let app = start().await;
    let args = json!({
        "path": { "name": "a b/c?d" },
        "query": { "q": "x&y=z", "n": "3" },
        "body": [1, "two", { "three": 3 }],
    });
    let extra = [("x-request-id", "req-42"), ("cookie", "session=abc"), ("connection", "x-hop"), ("x-hop", "1")];
    let v = app.mcp(Some(TOKEN), &extra, "tools/call", json!({ "name": "post_echo_name", "arguments": args })).await;
    let seen = &v["result"]["structuredContent"];
    assert_eq!(seen["method"], "POST");
    assert_eq!(seen["name"], "a b/c?d");
    assert_eq!(seen["uri"], "/echo/a%20b%2Fc%3Fd?n=3&q=x%26y%3Dz");
    assert_eq!(seen["query"], json!({ "q": "x&y=z", "n": "3" }));
    assert_eq!(seen["body"], json!([1, "two", { "three": 3 }]));
    assert_eq!(seen["tool"], "post_echo_name");
    assert_eq!(seen["principal"], "agent-7");
    let h = &seen["headers"];
    assert_eq!(h["authorization"], "Bearer secret");
    assert_eq!(h["x-request-id"], "req-42");
    assert_eq!(h["cookie"], "session=abc");
    assert_eq!(h["content-type"], "application/json");
    assert_eq!(h["accept"], "application/json");
    for absent in ["host", "mcp-protocol-version", "mcp-method", "mcp-name", "x-hop", "connection"] {
        assert_eq!(h[absent], Value::Null, "{absent} must not be forwarded: {h}");
    }

    // The same handler called by a browser: no marker.
    let (_, rest) = app.rest(Method::POST, "/echo/n", Some(TOKEN), Some(json!(null))).await;
    assert_eq!(rest["tool"], Value::Null);
    assert_eq!(rest["name"], "n");
}

#[tokio::test]
async fn bad_arguments_are_tool_errors() {
    let app = start().await;
    let cases = [
        ("get_notes_folder_id", json!({ "id": 1 }), "missing required argument `folder`"),
        ("get_notes_folder_id", json!({ "folder": { "a": 1 }, "id": 1 }), "invalid argument `folder`"),
        ("get_notes_folder_id", json!({ "folder": "", "id": 1 }), "must not be empty"),
        ("get_notes_folder_id", json!({ "folder": "a", "id": 1, "x": 1 }), "unknown argument `x`"),
        ("post_echo_name", json!({ "path": { "name": "a" } }), "missing required argument `body`"),
        ("post_echo_name", json!({ "path": "a", "body": 1 }), "invalid argument `path`"),
        ("post_echo_name", json!({ "path": { "name": "a", "id": 2 }, "body": 1 }), "unknown path parameter `id`"),
        ("post_echo_name", json!({ "path": { "name": "a" }, "query": [1], "body": 1 }), "invalid argument `query`"),
        ("post_echo_name", json!({ "path": { "name": "a" }, "query": { "a": {} }, "body": 1 }), "query parameter"),
        ("post_echo_name", json!({ "path": { "name": "a" }, "body": 1, "extra": 1 }), "unknown argument `extra`"),
    ];
    for (tool, args, expected) in cases {
        let text = app.err(Some(TOKEN), tool, args.clone()).await;
        assert!(text.contains(expected), "{tool} {args}: {text}");
    }
}

#[test]
fn a_route_the_handler_cannot_read_stops_the_server_from_building() {
    let cases: [(RouteTools, &str); 5] = [
        (RouteTools::new(api()).get::<get_note>("/notes/{folder/{id}"), "get_notes_folder_id"),
        (RouteTools::new(api()).get::<get_note>("notes"), "get_notes"),
        // The struct `Path` needs `id`, the tuple two values, the single value one.
        (RouteTools::new(api()).get::<get_note>("/notes/{folder}"), "get_notes_folder"),
        (RouteTools::new(api()).delete::<delete_note>("/notes/{id}"), "delete_notes_id"),
        (RouteTools::new(api()).post::<create_note>("/notes/{folder}/{id}"), "post_notes_folder_id"),
    ];
    for (tools, name) in cases {
        let err = Server::builder().info(server_info!()).toolset(tools).build().unwrap_err();
        assert!(err.to_string().contains(&format!("tool `{name}`")), "{err}");
    }
    // Unaffected: the same handlers at routes they can read.
    Server::builder().info(server_info!()).toolset(tools(api())).build().unwrap();
}

#[test]
fn a_writing_route_tool_needs_a_scope_or_an_explicit_choice() {
    // POST and DELETE tools without a word on scopes: the server refuses to build, naming
    // each tool and the fix; GET tools are reads and need nothing.
    let unscoped = RouteTools::new(api())
        .post::<create_note>("/notes/{folder}")
        .get::<search>("/notes")
        .delete::<delete_note>("/notes/{folder}/{id}");
    let err = Server::builder().info(server_info!()).toolset(unscoped.clone()).build().unwrap_err().to_string();
    for name in ["post_notes_folder", "delete_notes_folder_id"] {
        assert!(err.contains(&format!("route tool `{name}`")) && err.contains("write_scopes"), "{err}");
    }
    assert!(!err.contains("get_notes"), "{err}");

    // The router's write scope: every writing tool requires it, reads do not.
    let server =
        Server::builder().info(server_info!()).toolset(unscoped.write_scopes(["notes:write"])).build().unwrap();
    assert_eq!(server.tool_required_scopes("post_notes_folder"), ["notes:write"]);
    assert_eq!(server.tool_required_scopes("delete_notes_folder_id"), ["notes:write"]);
    assert!(server.tool_required_scopes("get_notes").is_empty());

    // A handler's own `scopes` win; `public` and `read_only` need none.
    let server = Server::builder()
        .info(server_info!())
        .toolset(
            RouteTools::new(
                Router::new()
                    .route("/admin/{name}", post(admin_echo))
                    .route("/public/{name}", post(public_echo))
                    .route("/search", post(search_by_post)),
            )
            .write_scopes(["notes:write"])
            .post::<admin_echo>("/admin/{name}")
            .post::<public_echo>("/public/{name}")
            .post::<search_by_post>("/search"),
        )
        .build()
        .unwrap();
    assert_eq!(server.tool_required_scopes("echo_admin"), ["notes:admin"]);
    assert!(server.tool_required_scopes("echo_public").is_empty());
    assert!(server.tool_required_scopes("search_by_post").is_empty());
}

/// Echo for admins.
#[mcp_tool(name = "echo_admin", scopes = "notes:admin")]
async fn admin_echo(Path(name): Path<String>, Json(body): Json<Value>) -> Json<Value> {
    Json(json!({ "name": name, "body": body }))
}

/// Echo for everyone.
#[mcp_tool(name = "echo_public", public)]
async fn public_echo(Path(name): Path<String>) -> Json<Value> {
    Json(json!({ "name": name }))
}

/// A search sent as a POST: it changes nothing.
#[mcp_tool(read_only)]
async fn search_by_post() -> Json<Value> {
    Json(json!([]))
}

#[tokio::test]
async fn route_tools_work_in_a_legacy_session_too() {
    let app = start().await;
    let post = |body: Value, session: Option<String>| {
        let mut req = app
            .http
            .post(format!("{}/mcp", app.base))
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .header("authorization", format!("Bearer {TOKEN}"));
        if let Some(s) = session {
            req = req.header("mcp-session-id", s).header("mcp-protocol-version", "2025-06-18");
        }
        req.body(body.to_string()).send()
    };
    let init = json!({ "jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": { "name": "t", "version": "1" } } });
    let r = post(init, None).await.unwrap();
    let session = r.headers()["mcp-session-id"].to_str().unwrap().to_owned();
    let done = json!({ "jsonrpc": "2.0", "method": "notifications/initialized" });
    assert_eq!(post(done, Some(session.clone())).await.unwrap().status().as_u16(), 202);
    let call = json!({ "jsonrpc": "2.0", "id": 2, "method": "tools/call",
        "params": { "name": "post_notes_folder", "arguments": { "folder": "f", "title": "t" } } });
    let v: Value =
        serde_json::from_str(&post(call, Some(session.clone())).await.unwrap().text().await.unwrap()).unwrap();
    assert_eq!(v["result"]["structuredContent"]["title"], "t", "{v}");
    // A list is wrapped for this version, as the protocol layer does for every tool.
    let call = json!({ "jsonrpc": "2.0", "id": 3, "method": "tools/call",
        "params": { "name": "search_notes", "arguments": {} } });
    let v: Value = serde_json::from_str(&post(call, Some(session)).await.unwrap().text().await.unwrap()).unwrap();
    assert_eq!(v["result"]["structuredContent"]["result"][0]["title"], "t", "{v}");
}
