//! The servers under test, started in-process on 127.0.0.1: ours (`McpRouter`) and the
//! limits (bare axum handlers doing the same work with nothing of the framework).

use std::borrow::Cow;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use base64::Engine as _;
use diesel::prelude::*;
use http::{HeaderValue, StatusCode};
use mcp_axum::auth::server::AuthServer;
use mcp_axum::auth::{Auth, BearerTokens};
use mcp_axum::{McpRouter, SessionLimits};
use mcp_core::prelude::*;
use mcp_core::schemars::JsonSchema;
use mcp_core::server::{BoxFuture, Toolset};
use mcp_diesel::{ModelTools, SqlitePool};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::{Map, Value, json};
use tokio::sync::Semaphore;
use tokio::task::JoinHandle;

/// A server listening on 127.0.0.1; stops when dropped.
#[derive(Debug)]
pub struct Running {
    /// Where it listens.
    pub addr: SocketAddr,
    task: JoinHandle<()>,
}

impl Drop for Running {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Serve `app` on a free port of 127.0.0.1 with [`mcp_axum::serve`] (`TCP_NODELAY` on
/// every connection), on the current runtime.
pub async fn start(app: Router) -> Result<Running, String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.map_err(|e| format!("bind: {e}"))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let task = tokio::spawn(async move {
        if let Err(e) = mcp_axum::serve(listener, app).await {
            eprintln!("mcp-bench: server on {addr} failed: {e}");
        }
    });
    Ok(Running { addr, task })
}

// ------------------------------------------------------------------ echo

/// The `echo` tool.
#[derive(Debug, Clone, Copy)]
pub struct Echo;

#[mcp_toolset]
impl Echo {
    /// Repeat a message.
    #[mcp_tool(read_only)]
    fn echo(&self, #[mcp(desc = "What to repeat")] message: String) -> String {
        message
    }
}

/// Our server with the `echo` tool, its legacy sessions limited by `limits`.
pub fn echo_router(limits: SessionLimits) -> Result<Router, String> {
    let server = Server::builder().info(server_info!()).toolset(Echo).build().map_err(|e| e.to_string())?;
    Ok(McpRouter::new(server).session_limits(limits).into_router())
}

/// Our echo server behind authentication: the access tokens of `auth_server` (mounted
/// beside it, validated in-process) and the static bearer token
/// [`oauth::STATIC_TOKEN`](crate::oauth::STATIC_TOKEN), both as the bench user.
pub fn echo_auth_router(auth_server: AuthServer) -> Result<Router, String> {
    let server = Server::builder().info(server_info!()).toolset(Echo).build().map_err(|e| e.to_string())?;
    let tokens = BearerTokens::new().token(crate::oauth::STATIC_TOKEN, Principal::new("alice"));
    Ok(McpRouter::new(server).auth(Auth::new().authenticator(tokens)).auth_server(auth_server).into_router())
}

fn json_response(body: Vec<u8>) -> Response {
    let mut r = Response::new(axum::body::Body::from(body));
    r.headers_mut().insert(http::header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    r
}

fn bad_request(e: impl std::fmt::Display) -> Response {
    let body =
        json!({ "jsonrpc": "2.0", "id": null, "error": { "code": -32700, "message": format!("bad request: {e}") } });
    (StatusCode::BAD_REQUEST, json_response(body.to_string().into_bytes())).into_response()
}

fn internal_error(e: impl std::fmt::Display) -> Response {
    let body = json!({ "jsonrpc": "2.0", "id": null, "error": { "code": -32603, "message": format!("{e}") } });
    (StatusCode::INTERNAL_SERVER_ERROR, json_response(body.to_string().into_bytes())).into_response()
}

#[derive(Deserialize)]
struct CallRequest<'a, A> {
    #[serde(borrow)]
    id: &'a RawValue,
    #[serde(borrow)]
    params: CallParams<'a, A>,
}

#[derive(Deserialize)]
struct CallParams<'a, A> {
    #[serde(borrow)]
    #[allow(dead_code)] // parsed like a real server would, to know which tool is meant
    name: Cow<'a, str>,
    arguments: A,
    #[serde(rename = "_meta", borrow, default)]
    meta: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct EchoArgs<'a> {
    #[serde(borrow)]
    message: Cow<'a, str>,
}

#[derive(Serialize)]
struct RpcOk<'a, R> {
    jsonrpc: &'static str,
    id: &'a RawValue,
    result: R,
}

#[derive(Serialize)]
struct Text<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    text: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct CallResult<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    result_type: Option<&'static str>,
    content: [Text<'a>; 1],
    #[serde(skip_serializing_if = "Option::is_none")]
    structured_content: Option<&'a RawValue>,
    #[serde(rename = "_meta", skip_serializing_if = "Option::is_none")]
    meta: Option<&'a RawValue>,
}

impl<'a> CallResult<'a> {
    /// A text result, shaped for 2026-07-28 when the request named a version in `_meta`.
    fn new(modern: bool, text: &'a str, structured: Option<&'a RawValue>, server_meta: &'a RawValue) -> Self {
        CallResult {
            result_type: modern.then_some("complete"),
            content: [Text { kind: "text", text }],
            structured_content: structured,
            meta: modern.then_some(server_meta),
        }
    }
}

/// What the bare handlers add to 2026-07-28 results: the same `_meta` (server info) as
/// ours, serialized once.
#[derive(Clone)]
pub struct LimitState {
    meta: Arc<RawValue>,
}

impl LimitState {
    /// The `_meta` our server puts into 2026-07-28 results.
    pub fn new(server_info: &Implementation) -> Result<Self, String> {
        let meta = json!({ "io.modelcontextprotocol/serverInfo": server_info });
        let raw = serde_json::value::to_raw_value(&meta).map_err(|e| e.to_string())?;
        Ok(LimitState { meta: Arc::from(raw) })
    }
}

/// The echo limit: parse the same JSON-RPC body, answer the same JSON.
pub fn echo_limit_router(state: LimitState) -> Router {
    async fn handle(State(state): State<LimitState>, body: Bytes) -> Response {
        let req: CallRequest<'_, EchoArgs<'_>> = match serde_json::from_slice(&body) {
            Ok(r) => r,
            Err(e) => return bad_request(e),
        };
        let p = &req.params;
        let result = CallResult::new(p.meta.is_some(), &p.arguments.message, None, &state.meta);
        match serde_json::to_vec(&RpcOk { jsonrpc: "2.0", id: req.id, result }) {
            Ok(b) => json_response(b),
            Err(e) => internal_error(e),
        }
    }
    Router::new().route("/mcp", post(handle)).with_state(state)
}

/// Our dispatcher without our HTTP layer: a bare axum handler handing the body to
/// [`Server::handle_bytes`] (no header checks, no per-request task, no SSE upgrade). Only
/// for 2026-07-28 requests; it tells the cost of `mcp-core` from that of `mcp-axum`.
pub fn core_router(server: Server) -> Router {
    async fn handle(State(server): State<Server>, body: Bytes) -> Response {
        match server.handle_bytes(&body, mcp_core::Inbound::new()).await {
            Some(reply) => json_response(reply.to_vec()),
            None => StatusCode::ACCEPTED.into_response(),
        }
    }
    Router::new().route("/mcp", post(handle)).with_state(server)
}

/// Our echo server as [`core_router`] serves it.
pub fn echo_core_router() -> Result<Router, String> {
    let server = Server::builder().info(server_info!()).toolset(Echo).build().map_err(|e| e.to_string())?;
    Ok(core_router(server))
}

// ------------------------------------------------------------------ tools/list

/// 200 tools with realistic schemas (only listed, never called).
#[derive(Debug, Clone, Copy)]
pub struct ManyTools(pub usize);

impl Toolset for ManyTools {
    fn tools(&self) -> Vec<Tool> {
        (0..self.0)
            .map(|i| {
                Tool::new(format!("tool_{i:03}"))
                    .title(format!("Tool number {i}"))
                    .description(format!(
                        "Tool number {i} of the benchmark: looks up records by name and returns at most `limit` of them."
                    ))
                    .input_schema(json!({
                        "type": "object",
                        "properties": {
                            "name": { "type": "string", "description": "Which records", "maxLength": 200 },
                            "limit": { "type": "integer", "minimum": 1, "maximum": 100, "description": "Most records" },
                            "verbose": { "type": "boolean", "description": "Every field of each record" },
                        },
                        "required": ["name"],
                        "additionalProperties": false,
                    }))
                    .annotations(ToolAnnotations { read_only_hint: Some(true), ..Default::default() })
            })
            .collect()
    }

    fn call_tool<'a>(
        &'a self,
        index: usize,
        _args: Map<String, Value>,
        _ctx: &'a Context,
    ) -> BoxFuture<'a, Result<CallToolResult, ToolError>> {
        Box::pin(async move { Ok(CallToolResult::text(format!("tool {index}"))) })
    }
}

/// Our server with `tools` tools on one `tools/list` page.
pub fn many_tools_router(tools: usize) -> Result<Router, String> {
    let server = Server::builder()
        .info(server_info!())
        .page_size(tools)
        .toolset(ManyTools(tools))
        .build()
        .map_err(|e| e.to_string())?;
    Ok(McpRouter::new(server).into_router())
}

#[derive(Deserialize)]
struct IdOnly<'a> {
    #[serde(borrow)]
    id: &'a RawValue,
}

/// The `tools/list` limit: parse the request's id, answer with the same page bytes.
pub fn bytes_limit_router(page: Arc<RawValue>) -> Router {
    async fn handle(State(page): State<Arc<RawValue>>, body: Bytes) -> Response {
        let req: IdOnly<'_> = match serde_json::from_slice(&body) {
            Ok(r) => r,
            Err(e) => return bad_request(e),
        };
        let page = page.get();
        let mut out = Vec::with_capacity(page.len() + 64);
        out.extend_from_slice(br#"{"jsonrpc":"2.0","id":"#);
        out.extend_from_slice(req.id.get().as_bytes());
        out.extend_from_slice(br#","result":"#);
        out.extend_from_slice(page.as_bytes());
        out.push(b'}');
        json_response(out)
    }
    Router::new().route("/mcp", post(handle)).with_state(page)
}

// ------------------------------------------------------------------ the Diesel model

/// The table of the model scenarios.
pub mod schema {
    #![allow(missing_docs)] // `diesel::table!` generates undocumented column types.

    diesel::table! {
        /// Blog posts.
        posts (id) {
            id -> Integer,
            author_id -> Integer,
            title -> Text,
            body -> Text,
            published -> Bool,
            views -> BigInt,
        }
    }
}

use schema::posts;

/// Blog posts.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Serialize, JsonSchema)]
#[diesel(table_name = posts, check_for_backend(diesel::sqlite::Sqlite))]
#[schemars(crate = "mcp_core::schemars")]
#[mcp_toolset(search(title, body), max_limit = 50)]
pub struct Post {
    /// The post's id.
    pub id: i32,
    /// Who wrote it.
    pub author_id: i32,
    /// Its title.
    pub title: String,
    /// Its text.
    pub body: String,
    /// Whether everyone can read it.
    pub published: bool,
    /// How often it was read.
    pub views: i64,
}

/// Index of `views` among the fields of [`Post`] (in keyset cursors).
const VIEWS_FIELD: usize = 5;

/// Rows of the model table.
pub const ROWS: i32 = 10_000;

/// A fresh SQLite database file at `path` (replaced if it exists; `:memory:` for one
/// in memory, with a pool of one connection) with [`ROWS`] posts, an index matching the
/// list scenario's order (`views DESC, id`: the primary key is every order's
/// tie-breaker), and a pool of `size` connections to it.
///
/// No `ANALYZE`: with its statistics, SQLite re-prepares a cached statement whenever a
/// new value is bound to `views >= ?` (a fifth of the limit's CPU went to parsing SQL),
/// which measures SQLite's planner rather than the framework.
pub fn database(path: &str, size: u32) -> Result<SqlitePool, String> {
    if path != ":memory:" {
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{path}{suffix}"));
        }
    }
    let pool = mcp_diesel::sqlite_pool(path, size).map_err(|e| format!("open {path}: {e}"))?;
    let mut conn = pool.get().map_err(|e| e.to_string())?;
    use diesel::connection::SimpleConnection as _;
    conn.batch_execute(&format!(
        "CREATE TABLE posts (
             id INTEGER PRIMARY KEY NOT NULL,
             author_id INTEGER NOT NULL,
             title TEXT NOT NULL,
             body TEXT NOT NULL,
             published BOOLEAN NOT NULL,
             views BIGINT NOT NULL
         );
         WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {ROWS})
         INSERT INTO posts (id, author_id, title, body, published, views)
         SELECT i, i % 50 + 1, 'Post number ' || i, 'The text of post ' || i || ': ' || hex(zeroblob(120)),
                (i % 3) != 0, (i * 7919) % 100003
         FROM n;
         CREATE INDEX posts_views ON posts (views DESC, id);"
    ))
    .map_err(|e| format!("create the table: {e}"))?;
    Ok(pool)
}

/// Our server with the model's tools (`posts_list`, `posts_get`, `posts_count`).
pub fn model_router(pool: SqlitePool) -> Result<Router, String> {
    let tools = ModelTools::<Post, _>::new(pool);
    let server = Server::builder().info(server_info!()).toolset(tools).build().map_err(|e| e.to_string())?;
    Ok(McpRouter::new(server).into_router())
}

/// The filter of the list scenario: `published` and a lower bound on `views`.
#[derive(Deserialize)]
struct ListFilter {
    published: bool,
    #[serde(rename = "views__gte")]
    views_gte: i64,
}

#[derive(Deserialize)]
struct ListArgs<'a> {
    filter: ListFilter,
    #[serde(borrow)]
    order_by: [Cow<'a, str>; 1],
    limit: i64,
}

#[derive(Deserialize)]
struct GetArgs {
    id: i32,
}

#[derive(Serialize)]
struct Page<'a> {
    items: &'a [Post],
    returned: usize,
    has_more: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_cursor: Option<String>,
    truncated: bool,
}

/// The hand-written handlers of the model scenarios: the same pool, the same executor
/// (`spawn_blocking`, at most as many queries at once as the pool has connections).
#[derive(Clone)]
struct ModelLimit {
    pool: SqlitePool,
    permits: Arc<Semaphore>,
    state: LimitState,
}

impl ModelLimit {
    async fn run<R: Send + 'static>(
        &self,
        f: impl FnOnce(&mut SqliteConnection) -> QueryResult<R> + Send + 'static,
    ) -> Result<R, String> {
        let _permit = self.permits.acquire().await.map_err(|e| e.to_string())?;
        let pool = self.pool.clone();
        tokio::task::spawn_blocking(move || {
            let mut conn = pool.get_timeout(Duration::from_secs(10)).map_err(|e| e.to_string())?;
            f(&mut conn).map_err(|e| e.to_string())
        })
        .await
        .map_err(|e| e.to_string())?
    }
}

fn structured_answer(state: &LimitState, id: &RawValue, modern: bool, value: &impl Serialize) -> Response {
    let text = match serde_json::to_string(value) {
        Ok(t) => t,
        Err(e) => return internal_error(e),
    };
    let raw = match RawValue::from_string(text.clone()) {
        Ok(r) => r,
        Err(e) => return internal_error(e),
    };
    let result = CallResult::new(modern, &text, Some(&raw), &state.meta);
    match serde_json::to_vec(&RpcOk { jsonrpc: "2.0", id, result }) {
        Ok(b) => json_response(b),
        Err(e) => internal_error(e),
    }
}

/// The model limits: `posts_list` (`published` + `views__gte` filter, `-views` order,
/// keyset cursor) and `posts_get` as hand-written Diesel queries.
pub fn model_limit_router(pool: SqlitePool, state: LimitState) -> Router {
    async fn list(State(limit): State<ModelLimit>, body: Bytes) -> Response {
        let req: CallRequest<'_, ListArgs<'_>> = match serde_json::from_slice(&body) {
            Ok(r) => r,
            Err(e) => return bad_request(e),
        };
        let args = &req.params.arguments;
        if args.order_by[0] != "-views" || !(1..=50).contains(&args.limit) {
            return bad_request("this handler sorts by `-views` only, 1 to 50 rows");
        }
        let (published, min_views, n) = (args.filter.published, args.filter.views_gte, args.limit);
        let rows = limit
            .run(move |conn| {
                posts::table
                    .filter(posts::published.eq(published))
                    .filter(posts::views.ge(min_views))
                    .order((posts::views.desc(), posts::id.asc()))
                    .limit(n + 1)
                    .select(Post::as_select())
                    .load(conn)
            })
            .await;
        let mut rows = match rows {
            Ok(r) => r,
            Err(e) => return internal_error(e),
        };
        let has_more = rows.len() as i64 > n;
        rows.truncate(n as usize);
        let next_cursor = rows.last().filter(|_| has_more).map(|last| {
            let key = format!("k:[[{VIEWS_FIELD},1,{}],[0,0,{}]]", last.views, last.id);
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(key)
        });
        let page = Page { items: &rows, returned: rows.len(), has_more, next_cursor, truncated: false };
        structured_answer(&limit.state, req.id, req.params.meta.is_some(), &page)
    }

    async fn get(State(limit): State<ModelLimit>, body: Bytes) -> Response {
        let req: CallRequest<'_, GetArgs> = match serde_json::from_slice(&body) {
            Ok(r) => r,
            Err(e) => return bad_request(e),
        };
        let id = req.params.arguments.id;
        match limit.run(move |conn| posts::table.find(id).select(Post::as_select()).first(conn).optional()).await {
            Ok(Some(row)) => structured_answer(&limit.state, req.id, req.params.meta.is_some(), &row),
            Ok(None) => internal_error(format!("no post {id}")),
            Err(e) => internal_error(e),
        }
    }

    let permits = Arc::new(Semaphore::new(pool.max_size().max(1) as usize));
    let state = ModelLimit { pool, permits, state };
    Router::new().route("/list", post(list)).route("/get", post(get)).with_state(state)
}
