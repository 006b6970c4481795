//! The requests of the scenarios: MCP JSON-RPC over streamable HTTP as real clients send
//! it, in both protocol eras, and the checks every answer must pass.

use bytes::Bytes;
use http::{HeaderName, HeaderValue, Method, StatusCode};
use mcp_core::server::BoxFuture;
use serde_json::Value;

use crate::driver::{Answer, Client, Workload};

/// The stateless protocol version.
pub const MODERN: &str = "2026-07-28";
/// The session-based protocol version the legacy scenarios negotiate.
pub const LEGACY: &str = "2025-11-25";

/// Which protocol era a request is shaped for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Era {
    /// 2026-07-28: `MCP-Protocol-Version`, `Mcp-Method` and `Mcp-Name` headers, and
    /// `_meta` naming the version, the client's capabilities and info.
    Modern,
    /// 2025-11-25: the worker's `Mcp-Session-Id` and `MCP-Protocol-Version` headers.
    Legacy,
}

/// Builds the inner fields of `params` (without braces and without `_meta`) of request
/// number `n`, for example `"name":"echo","arguments":{"message":"m7"}`.
pub type ParamsFn = Box<dyn Fn(u64) -> String + Send + Sync>;
/// Checks the `result` of request number `n`.
pub type CheckFn = Box<dyn Fn(u64, &Value) -> Result<(), String> + Send + Sync>;

/// How the answers of an [`Rpc`] are checked.
pub enum Check {
    /// Parse the JSON-RPC answer and check its `result` (no error, no `isError`, then
    /// this function).
    Result(CheckFn),
    /// The whole body of the answer to request `n` must be exactly
    /// `{"jsonrpc":"2.0","id":n,"result":<these bytes>}`: for large answers, whose JSON
    /// parsing would make the driver the bottleneck.
    Exact(std::sync::Arc<serde_json::value::RawValue>),
}

impl std::fmt::Debug for Check {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Check::Result(_) => f.write_str("Check::Result"),
            Check::Exact(raw) => write!(f, "Check::Exact({} bytes)", raw.get().len()),
        }
    }
}

impl Check {
    /// Check the answer to request `n`; its `result`, parsed.
    pub fn answer(&self, answer: &Answer, n: u64) -> Result<Value, String> {
        match self {
            Check::Result(f) => {
                let result = rpc_result(answer, n)?;
                f(n, &result)?;
                Ok(result)
            }
            Check::Exact(raw) => {
                exact(answer, n, raw.get().as_bytes())?;
                serde_json::from_str(raw.get()).map_err(|e| e.to_string())
            }
        }
    }

    /// Check the answer to request `n` without keeping anything.
    pub fn quick(&self, answer: &Answer, n: u64) -> Result<(), String> {
        match self {
            Check::Exact(raw) => exact(answer, n, raw.get().as_bytes()),
            Check::Result(_) => self.answer(answer, n).map(drop),
        }
    }
}

fn exact(answer: &Answer, n: u64, result: &[u8]) -> Result<(), String> {
    let body = &answer.body[..];
    let head = format!(r#"{{"jsonrpc":"2.0","id":{n},"result":"#);
    let same = answer.status == StatusCode::OK
        && body.len() == head.len() + result.len() + 1
        && body.starts_with(head.as_bytes())
        && &body[head.len()..body.len() - 1] == result
        && body.ends_with(b"}");
    if same {
        Ok(())
    } else {
        Err(format!(
            "HTTP {}: not the expected {} bytes: {}",
            answer.status,
            head.len() + result.len() + 1,
            short(&String::from_utf8_lossy(body))
        ))
    }
}

/// One JSON-RPC request per step.
pub struct Rpc {
    /// The endpoint's path.
    pub path: &'static str,
    /// The era the requests are shaped for.
    pub era: Era,
    /// Whether each connection opens a legacy session first (`initialize` +
    /// `notifications/initialized`); bare handlers have no sessions.
    pub handshake: bool,
    /// The JSON-RPC method.
    pub method: &'static str,
    /// The `Mcp-Name` header (the tool's name) of modern requests.
    pub name: Option<&'static str>,
    /// The params of request `n`.
    pub params: ParamsFn,
    /// The check of its answer.
    pub check: Check,
    /// How the requests authenticate.
    pub credential: Credential,
}

/// The `Authorization` of an [`Rpc`]'s requests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Credential {
    /// None.
    None,
    /// This static bearer token.
    Static(&'static str),
    /// An access token the server's own authorization server issued to this connection
    /// (the whole flow runs in `setup`; see [`crate::oauth`]).
    Issued,
}

impl std::fmt::Debug for Rpc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rpc").field("method", &self.method).field("era", &self.era).finish_non_exhaustive()
    }
}

fn hv(s: &str) -> Result<HeaderValue, String> {
    HeaderValue::from_str(s).map_err(|e| format!("bad header value `{s}`: {e}"))
}

const JSON: HeaderValue = HeaderValue::from_static("application/json");
const ACCEPT_BOTH: HeaderValue = HeaderValue::from_static("application/json, text/event-stream");

fn base_headers() -> Vec<(HeaderName, HeaderValue)> {
    vec![(http::header::CONTENT_TYPE, JSON), (http::header::ACCEPT, ACCEPT_BOTH)]
}

impl Rpc {
    /// The body of request `n`.
    pub fn body(&self, n: u64) -> String {
        let params = (self.params)(n);
        let sep = if params.is_empty() { "" } else { "," };
        match self.era {
            Era::Modern => format!(
                r#"{{"jsonrpc":"2.0","id":{n},"method":"{}","params":{{{params}{sep}"_meta":{{"io.modelcontextprotocol/protocolVersion":"{MODERN}","io.modelcontextprotocol/clientCapabilities":{{}},"io.modelcontextprotocol/clientInfo":{{"name":"mcp-bench","version":"{}"}}}}}}}}"#,
                self.method,
                env!("CARGO_PKG_VERSION"),
            ),
            Era::Legacy => format!(r#"{{"jsonrpc":"2.0","id":{n},"method":"{}","params":{{{params}}}}}"#, self.method),
        }
    }

    /// The headers of every request of `client`.
    pub fn headers(&self, client: &Client) -> Result<Vec<(HeaderName, HeaderValue)>, String> {
        let mut h = base_headers();
        match self.era {
            Era::Modern => {
                h.push((HeaderName::from_static(mcp_axum::PROTOCOL_VERSION), HeaderValue::from_static(MODERN)));
                h.push((HeaderName::from_static(mcp_axum::MCP_METHOD), hv(self.method)?));
                if let Some(name) = self.name {
                    h.push((HeaderName::from_static(mcp_axum::MCP_NAME), hv(name)?));
                }
            }
            Era::Legacy => {
                h.push((HeaderName::from_static(mcp_axum::PROTOCOL_VERSION), HeaderValue::from_static(LEGACY)));
                if let Some(id) = &client.session {
                    h.push((HeaderName::from_static(mcp_axum::SESSION_ID), hv(id)?));
                }
            }
        }
        match self.credential {
            Credential::None => {}
            Credential::Static(token) => h.push(crate::oauth::bearer(token)?),
            Credential::Issued => {
                h.push(crate::oauth::bearer(client.state.as_deref().ok_or("no access token: setup did not run")?)?)
            }
        }
        Ok(h)
    }

    /// Send request `n` and return its checked `result`.
    pub async fn call(&self, client: &mut Client, n: u64) -> Result<Value, String> {
        let headers = self.headers(client)?;
        let answer = client.send(Method::POST, self.path, &headers, Bytes::from(self.body(n))).await?;
        self.check.answer(&answer, n)
    }

    /// Send request `n` and check the answer, keeping nothing.
    pub async fn call_quick(&self, client: &mut Client, n: u64) -> Result<(), String> {
        let headers = self.headers(client)?;
        let answer = client.send(Method::POST, self.path, &headers, Bytes::from(self.body(n))).await?;
        self.check.quick(&answer, n)
    }
}

impl Workload for Rpc {
    fn setup<'a>(&'a self, client: &'a mut Client) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            if self.credential == Credential::Issued {
                client.state = Some(crate::oauth::access_token(client).await.map_err(|e| format!("sign-in: {e}"))?);
            }
            if self.handshake {
                client.session = Some(handshake(client, self.path).await?);
            }
            Ok(())
        })
    }

    fn step<'a>(&'a self, client: &'a mut Client, n: u64) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(self.call_quick(client, n))
    }
}

/// The JSON-RPC message of an answer: one JSON body, or the message with id `n` of an
/// SSE stream.
pub fn rpc_message(answer: &Answer, n: u64) -> Result<Value, String> {
    let text =
        std::str::from_utf8(&answer.body).map_err(|_| format!("HTTP {}: the body is not UTF-8", answer.status))?;
    let sse = answer
        .headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/event-stream"));
    if sse {
        return text
            .lines()
            .filter_map(|l| l.strip_prefix("data:"))
            .filter_map(|d| serde_json::from_str::<Value>(d.trim()).ok())
            .find(|m| m.get("id").and_then(Value::as_u64) == Some(n))
            .ok_or_else(|| {
                format!("HTTP {}: no answer with id {n} in the event stream: {}", answer.status, short(text))
            });
    }
    serde_json::from_str(text).map_err(|e| format!("HTTP {}: not JSON ({e}): {}", answer.status, short(text)))
}

/// The `result` of the answer to request `n`: HTTP 200, no JSON-RPC error, the same id,
/// and no `isError`.
pub fn rpc_result(answer: &Answer, n: u64) -> Result<Value, String> {
    let mut message = rpc_message(answer, n)?;
    if let Some(e) = message.get("error") {
        return Err(format!("HTTP {}: JSON-RPC error {e}", answer.status));
    }
    if answer.status != StatusCode::OK {
        return Err(format!("HTTP {}: {}", answer.status, short(&String::from_utf8_lossy(&answer.body))));
    }
    if message.get("id").and_then(Value::as_u64) != Some(n) {
        return Err(format!("the answer has id {:?}, not {n}", message.get("id")));
    }
    let result = message.get_mut("result").map(Value::take).ok_or("the answer has no `result`")?;
    if result.get("isError") == Some(&Value::Bool(true)) {
        return Err(format!("the tool failed (isError): {}", short(&result.to_string())));
    }
    Ok(result)
}

fn short(s: &str) -> String {
    let mut end = s.len().min(300);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    if end < s.len() { format!("{}…", &s[..end]) } else { s.to_owned() }
}

/// A legacy handshake on `client`: `initialize` (2025-11-25), then
/// `notifications/initialized` on the new session. Returns the session id.
pub async fn handshake(client: &mut Client, path: &str) -> Result<String, String> {
    const INIT: &str = r#"{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"mcp-bench","version":"0.1.0"}}}"#;
    let answer = client.send(Method::POST, path, &base_headers(), Bytes::from_static(INIT.as_bytes())).await?;
    let result = rpc_result(&answer, 0).map_err(|e| format!("initialize: {e}"))?;
    if result.get("protocolVersion").and_then(Value::as_str) != Some(LEGACY) {
        return Err(format!("initialize negotiated {:?}, not {LEGACY}", result.get("protocolVersion")));
    }
    let id = answer
        .headers
        .get(mcp_axum::SESSION_ID)
        .and_then(|v| v.to_str().ok())
        .ok_or("initialize answered without an Mcp-Session-Id")?
        .to_owned();
    let mut headers = base_headers();
    headers.push((HeaderName::from_static(mcp_axum::SESSION_ID), hv(&id)?));
    headers.push((HeaderName::from_static(mcp_axum::PROTOCOL_VERSION), HeaderValue::from_static(LEGACY)));
    const INITIALIZED: &str = r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#;
    let answer = client.send(Method::POST, path, &headers, Bytes::from_static(INITIALIZED.as_bytes())).await?;
    if answer.status != StatusCode::ACCEPTED {
        return Err(format!("notifications/initialized: HTTP {}, not 202", answer.status));
    }
    Ok(id)
}

/// One legacy handshake per step, each opening a new session.
#[derive(Debug)]
pub struct Handshake {
    /// The endpoint's path.
    pub path: &'static str,
}

impl Workload for Handshake {
    fn step<'a>(&'a self, client: &'a mut Client, _n: u64) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move { handshake(client, self.path).await.map(drop) })
    }
}
