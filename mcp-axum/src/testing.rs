//! [`McpTestClient`]: drive an axum [`Router`] that serves MCP in-process, with the same
//! headers a real client sends (including your auth headers), and no socket.
//!
//! ```
//! use mcp_axum::testing::McpTestClient;
//! use mcp_core::prelude::*;
//!
//! struct Tools;
//!
//! #[mcp_toolset]
//! impl Tools {
//!     /// Add two numbers.
//!     #[mcp_tool(read_only)]
//!     fn add(&self, a: i64, b: i64) -> i64 {
//!         a + b
//!     }
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let server = Server::builder().info(server_info!()).toolset(Tools).build().unwrap();
//! let app = mcp_axum::McpRouter::new(server).into_router();
//! let client = McpTestClient::new(app).bearer("a-token");
//! assert_eq!(client.list_tools().await.unwrap()[0].name, "add");
//! let sum = client.call_tool("add", serde_json::json!({ "a": 2, "b": 3 })).await.unwrap();
//! assert_eq!(sum.structured_value(), Some(serde_json::json!(5)));
//! # }
//! ```

#[cfg(feature = "oauth-server")]
mod auth_store;

use std::sync::atomic::{AtomicI64, Ordering};

use axum::Router;
use axum::body::Body;
use http::{HeaderMap, HeaderName, HeaderValue, Request, StatusCode};
use mcp_core::protocol::{CallToolResult, ErrorObject, GetPromptResult, ReadResourceResult, Tool};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use tower::ServiceExt;

#[cfg(feature = "oauth-server")]
pub use self::auth_store::check_auth_store;

/// Why a request of [`McpTestClient`] failed.
#[derive(Debug, Clone, PartialEq)]
pub enum McpTestError {
    /// The HTTP layer refused the request (401, 403, 404, 413, ...), with the body.
    Http {
        /// The status.
        status: StatusCode,
        /// The body, as text.
        body: String,
    },
    /// The server answered with a JSON-RPC error.
    Rpc(ErrorObject),
    /// The answer was not what the protocol says.
    Protocol(String),
}

impl std::fmt::Display for McpTestError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            McpTestError::Http { status, body } => write!(f, "HTTP {status}: {body}"),
            McpTestError::Rpc(e) => write!(f, "JSON-RPC error {}: {}", e.code, e.message),
            McpTestError::Protocol(m) => write!(f, "protocol: {m}"),
        }
    }
}

impl std::error::Error for McpTestError {}

/// An MCP client that calls an axum [`Router`] in-process with stateless 2026-07-28
/// requests (the `MCP-Protocol-Version`, `Mcp-Method` and `Mcp-Name` headers and the
/// `_meta` of a real client), answers read from JSON or from an SSE stream.
#[derive(Clone, Debug)]
pub struct McpTestClient {
    router: Router,
    path: String,
    headers: HeaderMap,
    next_id: std::sync::Arc<AtomicI64>,
}

impl McpTestClient {
    /// A client of `router`, posting to `/mcp` with `Host: localhost`.
    pub fn new(router: Router) -> Self {
        let mut headers = HeaderMap::new();
        headers.insert(http::header::HOST, HeaderValue::from_static("localhost"));
        McpTestClient { router, path: "/mcp".into(), headers, next_id: Default::default() }
    }

    /// Post to this path instead of `/mcp`.
    pub fn path(mut self, path: impl Into<String>) -> Self {
        self.path = path.into();
        self
    }

    /// Send `Authorization: Bearer <token>` with every request.
    pub fn bearer(self, token: &str) -> Self {
        self.header(http::header::AUTHORIZATION, &format!("Bearer {token}"))
    }

    /// Send this header with every request.
    ///
    /// # Panics
    ///
    /// If `value` is not a valid header value.
    pub fn header(mut self, name: HeaderName, value: &str) -> Self {
        self.headers.insert(name, HeaderValue::from_str(value).expect("a valid header value"));
        self
    }

    /// One request; its `result`.
    pub async fn request<R: DeserializeOwned>(&self, method: &str, params: Value) -> Result<R, McpTestError> {
        let answer = self.send(method, params).await?;
        if let Some(e) = answer.get("error") {
            let e: ErrorObject = serde_json::from_value(e.clone())
                .map_err(|e| McpTestError::Protocol(format!("bad error object: {e}")))?;
            return Err(McpTestError::Rpc(e));
        }
        let result =
            answer.get("result").cloned().ok_or_else(|| McpTestError::Protocol(format!("no result: {answer}")))?;
        serde_json::from_value(result).map_err(|e| McpTestError::Protocol(format!("unexpected result: {e}")))
    }

    /// One request; the whole JSON-RPC answer.
    pub async fn send(&self, method: &str, mut params: Value) -> Result<Value, McpTestError> {
        if !params.is_object() {
            params = json!({});
        }
        params["_meta"] = json!({
            "io.modelcontextprotocol/protocolVersion": "2026-07-28",
            "io.modelcontextprotocol/clientCapabilities": {},
            "io.modelcontextprotocol/clientInfo": { "name": "mcp-axum-test-client", "version": env!("CARGO_PKG_VERSION") },
        });
        let id = self.next_id.fetch_add(1, Ordering::Relaxed) + 1;
        let body = json!({ "jsonrpc": "2.0", "id": id, "method": method, "params": params });
        let mut req = Request::post(&self.path)
            .header(http::header::CONTENT_TYPE, "application/json")
            .header(http::header::ACCEPT, "application/json, text/event-stream")
            .header(crate::PROTOCOL_VERSION, "2026-07-28")
            .header(crate::MCP_METHOD, method);
        if let Some(name) = params.get("name").or(params.get("uri")).and_then(Value::as_str)
            && let Ok(v) = HeaderValue::from_str(name)
        {
            req = req.header(crate::MCP_NAME, v);
        }
        let mut req = req.body(Body::from(body.to_string())).map_err(|e| McpTestError::Protocol(e.to_string()))?;
        for (k, v) in &self.headers {
            req.headers_mut().insert(k, v.clone());
        }
        let response = match self.router.clone().oneshot(req).await {
            Ok(r) => r,
            Err(never) => match never {},
        };
        let status = response.status();
        let sse = response
            .headers()
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("text/event-stream"));
        let bytes = axum::body::to_bytes(response.into_body(), 64 * 1024 * 1024)
            .await
            .map_err(|e| McpTestError::Protocol(format!("body: {e}")))?;
        let text = String::from_utf8_lossy(&bytes).into_owned();
        // 401 and 403 are about the credentials, whatever the body says.
        let auth_refusal = status == http::StatusCode::UNAUTHORIZED || status == http::StatusCode::FORBIDDEN;
        if !status.is_success()
            && !sse
            && (auth_refusal || serde_json::from_str::<Value>(&text).map_or(true, |v| v.get("jsonrpc").is_none()))
        {
            return Err(McpTestError::Http { status, body: text });
        }
        if !sse {
            return serde_json::from_str(&text).map_err(|e| McpTestError::Protocol(format!("not JSON ({e}): {text}")));
        }
        // SSE: the message with our id is the answer; notifications before it are skipped.
        text.lines()
            .filter_map(|l| l.strip_prefix("data:"))
            .filter_map(|d| serde_json::from_str::<Value>(d.trim()).ok())
            .find(|m| m.get("id") == Some(&json!(id)))
            .ok_or_else(|| McpTestError::Protocol(format!("no answer in the stream: {text}")))
    }

    /// Every tool, following `nextCursor`.
    pub async fn list_tools(&self) -> Result<Vec<Tool>, McpTestError> {
        let mut tools = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let params = match &cursor {
                Some(c) => json!({ "cursor": c }),
                None => json!({}),
            };
            let page: Value = self.request("tools/list", params).await?;
            let items: Vec<Tool> = serde_json::from_value(page["tools"].clone())
                .map_err(|e| McpTestError::Protocol(format!("bad tools: {e}")))?;
            tools.extend(items);
            match page.get("nextCursor").and_then(Value::as_str) {
                Some(c) => cursor = Some(c.to_owned()),
                None => return Ok(tools),
            }
        }
    }

    /// `tools/call`.
    pub async fn call_tool(&self, name: &str, arguments: Value) -> Result<CallToolResult, McpTestError> {
        self.request("tools/call", json!({ "name": name, "arguments": arguments })).await
    }

    /// `resources/read`.
    pub async fn read_resource(&self, uri: &str) -> Result<ReadResourceResult, McpTestError> {
        self.request("resources/read", json!({ "uri": uri })).await
    }

    /// `prompts/get`.
    pub async fn get_prompt(&self, name: &str, arguments: Value) -> Result<GetPromptResult, McpTestError> {
        self.request("prompts/get", json!({ "name": name, "arguments": arguments })).await
    }
}
