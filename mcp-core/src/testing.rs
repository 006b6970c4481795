//! An in-process MCP client for tests: drives a [`Server`] through the same dispatcher a
//! transport uses, in either era, without sockets.
//!
//! ```
//! use mcp_core::prelude::*;
//! use mcp_core::testing::TestClient;
//!
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! let server = Server::builder().info(server_info!()).build().unwrap();
//! let client = TestClient::legacy(server, ProtocolVersion::V2025_06_18).await.unwrap();
//! assert!(client.list_tools().await.is_err()); // no tools: -32601
//! # });
//! ```

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};

use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};
use tokio::sync::mpsc;

use crate::extensions::{Extensions, Principal};
use crate::protocol::{
    CallToolResult, ClientCapabilities, ErrorObject, GetPromptResult, Implementation, InputRequest, InputRequests,
    ListPromptsResult, ListResourceTemplatesResult, ListResourcesResult, ListToolsResult, Message, Notification,
    Outcome, Prompt, ProtocolVersion, ReadResourceResult, Request, RequestId, Resource, ResourceTemplate, Response,
    Tool, jsonrpc::to_raw, meta, methods,
};
use crate::server::{Inbound, Server};
use crate::session::Session;

/// Answers the server's requests for input (elicitation, sampling, roots): given the
/// request, return the result to send back, or `None` to refuse.
pub type InputHandler = Arc<dyn Fn(&InputRequest) -> Option<Value> + Send + Sync>;

/// An in-process client. See the [module docs](self).
pub struct TestClient {
    server: Server,
    version: ProtocolVersion,
    session: Option<Arc<Session>>,
    capabilities: ClientCapabilities,
    extensions: Extensions,
    next_id: AtomicI64,
    notifications: Arc<Mutex<Vec<Notification>>>,
    input: Option<InputHandler>,
    meta: Map<String, Value>,
}

impl std::fmt::Debug for TestClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestClient").field("version", &self.version).finish_non_exhaustive()
    }
}

impl TestClient {
    /// A 2026-07-28 client: every request carries `_meta` with the version and
    /// capabilities; no session.
    pub fn modern(server: Server) -> Self {
        TestClient {
            server,
            version: ProtocolVersion::V2026_07_28,
            session: None,
            capabilities: ClientCapabilities::default(),
            extensions: Extensions::new(),
            next_id: AtomicI64::new(1),
            notifications: Arc::default(),
            input: None,
            meta: Map::new(),
        }
    }

    /// A legacy client that has completed `initialize` and sent `initialized`.
    pub async fn legacy(server: Server, version: ProtocolVersion) -> Result<Self, ErrorObject> {
        Self::legacy_with(server, version, ClientCapabilities::default(), Extensions::new()).await
    }

    /// A legacy client with capabilities and extensions (for example a [`Principal`]).
    pub async fn legacy_with(
        server: Server,
        version: ProtocolVersion,
        capabilities: ClientCapabilities,
        extensions: Extensions,
    ) -> Result<Self, ErrorObject> {
        let mut c = TestClient::modern(server);
        c.version = version;
        c.capabilities = capabilities;
        c.extensions = extensions;
        c.session = Some(Arc::new(Session::new()));
        let params = json!({
            "protocolVersion": version.as_str(),
            "capabilities": c.capabilities,
            "clientInfo": { "name": "mcp-core-test-client", "version": "0" },
        });
        let negotiated: Value = c.request(methods::INITIALIZE, params).await?;
        if negotiated.get("protocolVersion").and_then(Value::as_str) != Some(version.as_str()) {
            return Err(ErrorObject::internal(format!("server negotiated {negotiated}")));
        }
        c.notify(methods::INITIALIZED, json!({})).await;
        Ok(c)
    }

    /// Declare client capabilities (modern: sent with every request).
    pub fn with_capabilities(mut self, capabilities: ClientCapabilities) -> Self {
        self.capabilities = capabilities;
        self
    }

    /// Act as this principal (what an auth layer would have put in the extensions).
    pub fn with_principal(mut self, principal: Principal) -> Self {
        self.extensions.insert(principal);
        self
    }

    /// Put a value into every request's extensions (what middleware or a transport would
    /// provide, such as application state).
    pub fn with_extension<T: Send + Sync + 'static>(mut self, value: T) -> Self {
        self.extensions.insert(value);
        self
    }

    /// Answer the server's requests for input with `handler`.
    pub fn with_input_handler(
        mut self,
        handler: impl Fn(&InputRequest) -> Option<Value> + Send + Sync + 'static,
    ) -> Self {
        self.input = Some(Arc::new(handler));
        self
    }

    /// Add a `_meta` entry to every request (for example the log level).
    pub fn with_meta(mut self, key: &str, value: Value) -> Self {
        self.meta.insert(key.into(), value);
        self
    }

    /// The protocol version in use.
    pub fn protocol_version(&self) -> ProtocolVersion {
        self.version
    }

    /// The legacy session, if any.
    pub fn session(&self) -> Option<&Arc<Session>> {
        self.session.as_ref()
    }

    /// Notifications received so far (progress, log messages, ...), oldest first.
    pub fn notifications(&self) -> Vec<Notification> {
        self.notifications.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Send a notification.
    pub async fn notify(&self, method: &str, params: Value) {
        let n = Notification::new(method, &params);
        self.server.handle(Message::Notification(n), self.inbound(None)).await;
    }

    fn inbound(&self, sink: Option<crate::Sink>) -> Inbound {
        let mut i = Inbound::new().extensions(self.extensions.clone());
        if let Some(s) = &self.session {
            i = i.session(s.clone());
        }
        if let Some(s) = sink {
            i = i.sink(s);
        }
        i
    }

    fn with_request_meta(&self, mut params: Value) -> Value {
        if !params.is_object() {
            params = json!({});
        }
        let obj = params.as_object_mut().expect("an object");
        let m = obj.entry("_meta").or_insert_with(|| json!({}));
        if let Some(m) = m.as_object_mut() {
            if self.version.is_modern() {
                m.entry(meta::PROTOCOL_VERSION).or_insert_with(|| json!(self.version.as_str()));
                m.entry(meta::CLIENT_CAPABILITIES).or_insert_with(|| json!(self.capabilities));
                m.entry(meta::CLIENT_INFO).or_insert_with(|| json!({ "name": "mcp-core-test-client", "version": "0" }));
            }
            for (k, v) in &self.meta {
                m.entry(k.clone()).or_insert_with(|| v.clone());
            }
            if m.is_empty() {
                obj.remove("_meta");
            }
        }
        params
    }

    /// Send a request and return the raw response (`None` if the server sent none, as
    /// for a cancelled request). Notifications are recorded; server requests for input
    /// are answered with the input handler.
    pub async fn send(&self, method: &str, params: Value) -> Option<Response> {
        let id = RequestId::Number(self.next_id.fetch_add(1, Ordering::Relaxed));
        let params = self.with_request_meta(params);
        let req = Request::new(id, method, &params);
        let (tx, mut rx) = mpsc::channel::<Message>(64);
        let server = self.server.clone();
        let inbound = self.inbound(Some(tx.into()));
        let handle = tokio::spawn(async move { server.handle(Message::Request(req), inbound).await });
        let notes = self.notifications.clone();
        let session = self.session.clone();
        let input = self.input.clone();
        let pump = tokio::spawn(async move {
            while let Some(m) = rx.recv().await {
                match m {
                    Message::Notification(n) => notes.lock().unwrap_or_else(|e| e.into_inner()).push(n),
                    Message::Request(r) => {
                        let outcome = answer(&r, input.as_ref());
                        if let Some(s) = &session {
                            s.peer().resolve(&r.id, outcome);
                        }
                    }
                    Message::Response(_) => {}
                }
            }
        });
        let resp = handle.await.ok().flatten();
        let _ = pump.await;
        resp
    }

    /// Send a request and deserialize its result.
    pub async fn request<R: DeserializeOwned>(&self, method: &str, params: Value) -> Result<R, ErrorObject> {
        let resp =
            self.send(method, params).await.ok_or_else(|| ErrorObject::internal("the server sent no response"))?;
        match resp.outcome {
            Outcome::Result(raw) => serde_json::from_str(raw.get())
                .map_err(|e| ErrorObject::internal(format!("unexpected result for `{method}`: {e}: {}", raw.get()))),
            Outcome::Error(e) => Err(e),
        }
    }

    /// Send a request that may answer `input_required` (2026-07-28): answer its input
    /// requests with the input handler and retry, up to 8 rounds.
    pub async fn request_with_input<R: DeserializeOwned>(&self, method: &str, params: Value) -> Result<R, ErrorObject> {
        let mut params = params;
        for _ in 0..8 {
            let result: Value = self.request(method, params.clone()).await?;
            if result.get("resultType").and_then(Value::as_str) != Some("input_required") {
                return serde_json::from_value(result)
                    .map_err(|e| ErrorObject::internal(format!("unexpected result for `{method}`: {e}")));
            }
            let requests: InputRequests = result
                .get("inputRequests")
                .map(|r| serde_json::from_value(r.clone()))
                .transpose()
                .map_err(|e| ErrorObject::internal(format!("bad inputRequests: {e}")))?
                .unwrap_or_default();
            let handler = self.input.as_ref().ok_or_else(|| {
                ErrorObject::internal("the server asked for input but the client has no input handler")
            })?;
            let mut responses = Map::new();
            for (key, req) in &requests {
                let answer = handler(req).ok_or_else(|| ErrorObject::internal(format!("input `{key}` refused")))?;
                responses.insert(key.clone(), answer);
            }
            let obj = params.as_object_mut().ok_or_else(|| ErrorObject::internal("params must be an object"))?;
            obj.insert("inputResponses".into(), Value::Object(responses));
            match result.get("requestState") {
                Some(s) => obj.insert("requestState".into(), s.clone()),
                None => obj.remove("requestState"),
            };
        }
        Err(ErrorObject::internal("the server kept asking for input"))
    }

    /// All tools, following `nextCursor` across pages.
    pub async fn list_tools(&self) -> Result<Vec<Tool>, ErrorObject> {
        self.collect(methods::TOOLS_LIST, |r: ListToolsResult| (r.tools, r.next_cursor)).await
    }

    /// All static resources.
    pub async fn list_resources(&self) -> Result<Vec<Resource>, ErrorObject> {
        self.collect(methods::RESOURCES_LIST, |r: ListResourcesResult| (r.resources, r.next_cursor)).await
    }

    /// All resource templates.
    pub async fn list_resource_templates(&self) -> Result<Vec<ResourceTemplate>, ErrorObject> {
        self.collect(methods::RESOURCES_TEMPLATES_LIST, |r: ListResourceTemplatesResult| {
            (r.resource_templates, r.next_cursor)
        })
        .await
    }

    /// All prompts.
    pub async fn list_prompts(&self) -> Result<Vec<Prompt>, ErrorObject> {
        self.collect(methods::PROMPTS_LIST, |r: ListPromptsResult| (r.prompts, r.next_cursor)).await
    }

    async fn collect<R: DeserializeOwned, T>(
        &self,
        method: &str,
        split: impl Fn(R) -> (Vec<T>, Option<String>),
    ) -> Result<Vec<T>, ErrorObject> {
        let mut out = Vec::new();
        let mut cursor: Option<String> = None;
        for _ in 0..10_000 {
            let params = match &cursor {
                Some(c) => json!({ "cursor": c }),
                None => json!({}),
            };
            let (items, next) = split(self.request(method, params).await?);
            out.extend(items);
            match next {
                Some(n) => cursor = Some(n),
                None => return Ok(out),
            }
        }
        Err(ErrorObject::internal("too many pages"))
    }

    /// Call a tool. Tool failures are `Ok` with `isError`; only protocol errors are `Err`.
    /// `input_required` results are answered with the input handler and retried.
    pub async fn call_tool(&self, name: &str, arguments: Value) -> Result<CallToolResult, ErrorObject> {
        self.request_with_input(methods::TOOLS_CALL, json!({ "name": name, "arguments": arguments })).await
    }

    /// Read a resource.
    pub async fn read_resource(&self, uri: &str) -> Result<ReadResourceResult, ErrorObject> {
        self.request_with_input(methods::RESOURCES_READ, json!({ "uri": uri })).await
    }

    /// Get a prompt.
    pub async fn get_prompt(&self, name: &str, arguments: Value) -> Result<GetPromptResult, ErrorObject> {
        self.request_with_input(methods::PROMPTS_GET, json!({ "name": name, "arguments": arguments })).await
    }

    /// The server's identity as it reported it.
    pub async fn server_info(&self) -> Result<Implementation, ErrorObject> {
        let discover: Value = self.request(methods::SERVER_DISCOVER, json!({})).await?;
        let info = discover.pointer("/_meta/io.modelcontextprotocol~1serverInfo").cloned().unwrap_or(Value::Null);
        serde_json::from_value(info).map_err(|e| ErrorObject::internal(e.to_string()))
    }
}

fn answer(req: &Request, handler: Option<&InputHandler>) -> Outcome {
    let parsed: Option<InputRequest> = serde_json::from_value(json!({
        "method": req.method,
        "params": req.params.as_deref().map(|p| serde_json::from_str::<Value>(p.get()).unwrap_or(Value::Null)),
    }))
    .ok();
    match (parsed, handler) {
        (Some(r), Some(h)) => match h(&r) {
            Some(v) => Outcome::Result(Arc::from(to_raw(&v))),
            None => Outcome::Error(ErrorObject::new(-1, "refused by the test client")),
        },
        _ => Outcome::Error(ErrorObject::method_not_found(&req.method)),
    }
}
