//! Shared by the auth tests: a toolset with scoped tools and an HTTP client speaking
//! both protocol eras.

#![allow(dead_code, unreachable_pub)]

#[cfg(feature = "oauth-server")]
pub mod flow;

use mcp_axum::McpRouter;
use mcp_core::prelude::*;
use serde_json::{Value, json};

/// Tools with and without scopes.
pub struct Blog;

#[mcp_toolset]
impl Blog {
    /// Who the caller is.
    #[mcp_tool(read_only)]
    fn whoami(&self, principal: Option<Principal>) -> Value {
        match principal {
            Some(p) => json!({ "subject": p.subject, "scopes": p.scopes }),
            None => json!({ "subject": null }),
        }
    }

    /// Publish a post.
    #[mcp_tool(scopes = "posts:write")]
    fn publish(&self, id: i64) -> String {
        format!("published {id}")
    }

    /// Delete everything.
    #[mcp_tool(destructive, scopes = "posts:write posts:admin")]
    fn purge(&self) -> &'static str {
        "purged"
    }
}

/// A running server.
pub struct App {
    pub base: String,
    pub http: reqwest::Client,
}

/// Bind a port, then build the router with the URL it will have (`http://127.0.0.1:port`).
pub async fn start(configure: impl FnOnce(McpRouter, &str) -> McpRouter) -> App {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let server = Server::builder().info(server_info!()).toolset(Blog).build().unwrap();
    let app = configure(McpRouter::new(server), &base).into_router();
    tokio::spawn(async move { mcp_axum::serve(listener, app).await.unwrap() });
    App { base, http: reqwest::Client::new() }
}

/// An HTTP answer.
pub struct Answer {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Answer {
    pub fn challenge(&self) -> &str {
        self.headers.get("www-authenticate").map_or("", |v| v.to_str().unwrap())
    }
}

impl App {
    /// A 2026-07-28 request with an optional bearer token.
    pub async fn modern(&self, token: Option<&str>, method: &str, mut params: Value) -> Answer {
        params["_meta"] = json!({
            "io.modelcontextprotocol/protocolVersion": "2026-07-28",
            "io.modelcontextprotocol/clientCapabilities": {},
            "io.modelcontextprotocol/clientInfo": { "name": "auth-test", "version": "1" },
        });
        let mut req = self
            .http
            .post(format!("{}/mcp", self.base))
            .header("content-type", "application/json")
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
        answer(resp).await
    }

    /// `tools/call` in 2026-07-28.
    pub async fn call(&self, token: Option<&str>, tool: &str, arguments: Value) -> Answer {
        self.modern(token, "tools/call", json!({ "name": tool, "arguments": arguments })).await
    }

    /// The names `tools/list` shows this caller.
    pub async fn tool_names(&self, token: Option<&str>) -> Vec<String> {
        let a = self.modern(token, "tools/list", json!({})).await;
        assert_eq!(a.status, 200, "{}", a.body);
        a.body["result"]["tools"].as_array().unwrap().iter().map(|t| t["name"].as_str().unwrap().to_owned()).collect()
    }

    /// A legacy (2025-11-25) POST, with a session id when given.
    pub async fn legacy(&self, token: Option<&str>, session: Option<&str>, body: Value) -> Answer {
        let mut req = self
            .http
            .post(format!("{}/mcp", self.base))
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .header("mcp-protocol-version", "2025-11-25");
        if let Some(s) = session {
            req = req.header("mcp-session-id", s);
        }
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        answer(req.json(&body).send().await.unwrap()).await
    }

    /// Open a legacy session; its id.
    pub async fn open_session(&self, token: &str) -> String {
        let init = json!({ "jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": { "name": "t", "version": "1" } } });
        let a = self.legacy(Some(token), None, init).await;
        assert_eq!(a.status, 200, "{}", a.body);
        a.headers.get("mcp-session-id").unwrap().to_str().unwrap().to_owned()
    }

    /// A plain GET.
    pub async fn get(&self, path: &str) -> Answer {
        answer(self.http.get(format!("{}{path}", self.base)).send().await.unwrap()).await
    }
}

async fn answer(resp: reqwest::Response) -> Answer {
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let text = resp.text().await.unwrap();
    let body = if let Some(data) = text.lines().find_map(|l| l.strip_prefix("data: ")) {
        serde_json::from_str(data).unwrap()
    } else {
        serde_json::from_str(&text).unwrap_or(Value::String(text))
    };
    Answer { status, headers, body }
}
