//! The server: registries built once from [`Toolset`]s, and a transport-neutral
//! [`Server::handle`] that serves both protocol eras.

pub mod access;
pub(crate) mod dispatch;
pub mod param_headers;
mod request_state;
pub(crate) mod shape;
mod toolset;
pub mod uri_template;

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use serde_json::Value;
use serde_json::value::RawValue;
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

use self::access::Access;
pub use self::access::{AccessDenied, PermissionFn};
use self::request_state::StateSigner;
pub use self::toolset::{BoxFuture, CompletionTarget, ResourceTarget, Toolset, UriVariables};
use self::uri_template::UriTemplate;
use crate::extensions::{Extensions, Principal};
use crate::protocol::{
    CacheScope, DiscoverResult, Icon, Implementation, InitializeResult, ListChangedCapability, ListPromptsResult,
    ListResourceTemplatesResult, ListResourcesResult, ListToolsResult, Meta, Prompt, ProtocolVersion, Resource,
    ResourceTemplate, ResourcesCapability, ServerCapabilities, Tool, jsonrpc::to_raw,
};
use crate::session::Session;
use crate::sink::Sink;

/// Something that happened on the server that subscribed clients hear about.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ServerEvent {
    /// The tool list changed.
    ToolsListChanged,
    /// The prompt list changed.
    PromptsListChanged,
    /// The resource list changed.
    ResourcesListChanged,
    /// The resource at this URI changed.
    ResourceUpdated(String),
}

/// What a transport knows about an incoming message besides its JSON.
#[derive(Clone, Default)]
pub struct Inbound {
    /// The legacy session (HTTP) or the connection (stdio) the message belongs to.
    pub session: Option<Arc<Session>>,
    /// Request-scoped values, such as the [`Principal`].
    pub extensions: Extensions,
    /// Where notifications and client requests for this request go.
    pub sink: Option<Sink>,
    /// Fires when the transport loses the client (for example an HTTP disconnect). Each
    /// request's handler gets a child of it, unless it is the request's own token
    /// ([`Inbound::request_cancel`]).
    pub cancel: Option<CancellationToken>,
    /// What the transport's headers repeat from the message, to be held against it
    /// (2026-07-28 over HTTP); `None`: nothing to check.
    pub mirrored: Option<MirroredHeaders>,
    /// Whether `cancel` belongs to the one request this inbound carries.
    own_cancel: bool,
}

/// Values a 2026-07-28 HTTP request's headers repeat from its body. The dispatcher,
/// which reads the body anyway, checks them as soon as it has read the params: a
/// mismatch is error -32020 (`Header mismatch: …`), before the request is acted on.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MirroredHeaders {
    /// `MCP-Protocol-Version`: must equal `_meta["io.modelcontextprotocol/protocolVersion"]`
    /// when the body names a version.
    pub protocol_version: Option<std::borrow::Cow<'static, str>>,
    /// `Mcp-Name`, decoded: must equal the `name` of `tools/call` and `prompts/get` and
    /// the `uri` of `resources/read`, and is required when the body has one.
    pub name: Option<String>,
}

impl Inbound {
    /// Nothing known: a modern request without a way back for notifications.
    pub fn new() -> Self {
        Self::default()
    }

    /// With a session.
    pub fn session(mut self, session: Arc<Session>) -> Self {
        self.session = Some(session);
        self
    }

    /// With extensions.
    pub fn extensions(mut self, extensions: Extensions) -> Self {
        self.extensions = extensions;
        self
    }

    /// With a sink: a [`Sink::lazy`], or a channel's sender.
    pub fn sink(mut self, sink: impl Into<Sink>) -> Self {
        self.sink = Some(sink.into());
        self
    }

    /// With a cancellation token that fires when the transport loses the client: each
    /// request's handler gets a child of it, so cancelling one request
    /// (`notifications/cancelled`) leaves the token alone.
    pub fn cancel(mut self, cancel: CancellationToken) -> Self {
        self.cancel = Some(cancel);
        self.own_cancel = false;
        self
    }

    /// With the cancellation token of the one request this inbound carries (an HTTP
    /// POST, a stdio message): the handler's context uses it as it is instead of a child
    /// of it (which costs an allocation and two locks), so cancelling the request cancels
    /// this token too. A batch's requests still get children of it.
    pub fn request_cancel(mut self, cancel: CancellationToken) -> Self {
        self.cancel = Some(cancel);
        self.own_cancel = true;
        self
    }

    /// The cancellation token of a handler of one of this inbound's requests.
    pub(crate) fn handler_cancel(&self) -> CancellationToken {
        match &self.cancel {
            Some(t) if self.own_cancel => t.clone(),
            Some(t) => t.child_token(),
            None => CancellationToken::new(),
        }
    }

    /// This inbound for one request of a batch (a token of its own no longer is).
    pub(crate) fn for_batch_item(&self) -> Self {
        Inbound { own_cancel: false, ..self.clone() }
    }

    /// With headers to hold against the message.
    pub fn mirrored(mut self, headers: MirroredHeaders) -> Self {
        self.mirrored = Some(headers);
        self
    }
}

/// Why a server could not be built.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BuildError(String);

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for BuildError {}

/// The application's name and version, taken from the *calling* crate's Cargo manifest.
///
/// ```
/// let info = mcp_core::server_info!();
/// assert_eq!(info.name, env!("CARGO_PKG_NAME"));
/// ```
#[macro_export]
macro_rules! server_info {
    () => {
        $crate::protocol::Implementation::new(::core::env!("CARGO_PKG_NAME"), ::core::env!("CARGO_PKG_VERSION"))
    };
}

pub(crate) struct ToolEntry {
    pub(crate) tool: Tool,
    pub(crate) toolset: usize,
    pub(crate) index: usize,
    pub(crate) wrap_output: bool,
    /// OAuth scopes a caller needs.
    pub(crate) scopes: Vec<String>,
    /// Parameters mirrored into `Mcp-Param-*` headers.
    pub(crate) headers: Vec<param_headers::ParamHeader>,
}

pub(crate) struct ResourceEntry {
    pub(crate) toolset: usize,
    pub(crate) index: usize,
}

pub(crate) struct TemplateEntry {
    pub(crate) template: UriTemplate,
    pub(crate) toolset: usize,
    pub(crate) index: usize,
}

pub(crate) struct PromptEntry {
    pub(crate) prompt: Prompt,
    pub(crate) toolset: usize,
    pub(crate) index: usize,
}

/// Pre-serialized results for one protocol version.
#[derive(Default)]
pub(crate) struct Pages {
    pub(crate) tools: Vec<Arc<RawValue>>,
    pub(crate) resources: Vec<Arc<RawValue>>,
    pub(crate) templates: Vec<Arc<RawValue>>,
    pub(crate) prompts: Vec<Arc<RawValue>>,
    /// `initialize` (legacy) or `server/discover` (modern).
    pub(crate) hello: Option<Arc<RawValue>>,
}

/// List kinds, for cursors.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ListKind {
    Tools,
    Resources,
    Templates,
    Prompts,
}

impl ListKind {
    /// The list a method asks for, if it asks for one.
    pub(crate) fn of_method(method: &str) -> Option<ListKind> {
        use crate::protocol::methods;
        match method {
            methods::TOOLS_LIST => Some(ListKind::Tools),
            methods::RESOURCES_LIST => Some(ListKind::Resources),
            methods::RESOURCES_TEMPLATES_LIST => Some(ListKind::Templates),
            methods::PROMPTS_LIST => Some(ListKind::Prompts),
            _ => None,
        }
    }

    /// The method that asks for this list.
    pub(crate) fn method(self) -> &'static str {
        use crate::protocol::methods;
        match self {
            ListKind::Tools => methods::TOOLS_LIST,
            ListKind::Resources => methods::RESOURCES_LIST,
            ListKind::Templates => methods::RESOURCES_TEMPLATES_LIST,
            ListKind::Prompts => methods::PROMPTS_LIST,
        }
    }

    fn tag(self) -> &'static str {
        match self {
            ListKind::Tools => "t",
            ListKind::Resources => "r",
            ListKind::Templates => "rt",
            ListKind::Prompts => "p",
        }
    }
}

pub(crate) fn encode_cursor(kind: ListKind, page: usize) -> String {
    B64.encode(format!("mcp:{}:{page}", kind.tag()))
}

pub(crate) fn decode_cursor(kind: ListKind, cursor: &str) -> Option<usize> {
    let raw = B64.decode(cursor).ok()?;
    let text = std::str::from_utf8(&raw).ok()?;
    let rest = text.strip_prefix("mcp:")?.strip_prefix(kind.tag())?.strip_prefix(':')?;
    rest.parse().ok()
}

pub(crate) struct Inner {
    pub(crate) info: Implementation,
    pub(crate) server_info_value: Value,
    /// `{"io.modelcontextprotocol/serverInfo": …}`, the `_meta` of 2026-07-28 results.
    pub(crate) server_meta: Box<RawValue>,
    pub(crate) instructions: Option<String>,
    pub(crate) capabilities: ServerCapabilities,
    pub(crate) toolsets: Vec<Arc<dyn Toolset>>,
    pub(crate) tools: Vec<ToolEntry>,
    pub(crate) tool_index: HashMap<String, usize>,
    pub(crate) resources: Vec<(Resource, ResourceEntry)>,
    pub(crate) resource_index: HashMap<String, usize>,
    pub(crate) templates: Vec<(ResourceTemplate, TemplateEntry)>,
    pub(crate) prompts: Vec<PromptEntry>,
    pub(crate) prompt_index: HashMap<String, usize>,
    /// Indexed like [`ProtocolVersion::ALL`].
    pub(crate) pages: Vec<Pages>,
    pub(crate) access: Access,
    /// Whether some tool has `x-mcp-header` parameters.
    pub(crate) param_headers: bool,
    pub(crate) page_size: usize,
    /// Most messages in one JSON-RPC batch.
    pub(crate) max_batch: usize,
    pub(crate) list_cache: (u64, CacheScope),
    /// `tools/list` pages of callers who see only some tools, by what they see.
    pub(crate) caller_pages: CallerPages,
    pub(crate) read_cache: (u64, CacheScope),
    pub(crate) signer: StateSigner,
    pub(crate) events: broadcast::Sender<ServerEvent>,
    pub(crate) shutdown: CancellationToken,
}

/// Which `tools/list` page of which visible set, in which protocol version.
#[derive(Clone, PartialEq, Eq, Hash)]
pub(crate) struct CallerPage {
    pub(crate) version: ProtocolVersion,
    pub(crate) page: usize,
    /// Bit `i` set: the caller sees tool `i`.
    pub(crate) visible: Vec<u64>,
}

/// Serialized `tools/list` pages per [`CallerPage`]: there are as many visible sets as
/// combinations of scopes callers hold (a handful in practice); a permission hook could
/// make more, so the cache starts over when it holds [`CallerPages::MAX`].
#[derive(Default)]
pub(crate) struct CallerPages(std::sync::Mutex<HashMap<CallerPage, Arc<RawValue>>>);

impl CallerPages {
    const MAX: usize = 256;

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<CallerPage, Arc<RawValue>>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn get(&self, key: &CallerPage) -> Option<Arc<RawValue>> {
        self.lock().get(key).cloned()
    }

    pub(crate) fn insert(&self, key: CallerPage, page: Arc<RawValue>) {
        let mut map = self.lock();
        if map.len() >= Self::MAX {
            map.clear();
        }
        map.insert(key, page);
    }
}

/// An MCP server: what it offers and how it answers. Cheap to clone; transports share it.
///
/// ```
/// use mcp_core::prelude::*;
///
/// let server = Server::builder()
///     .info(server_info!())
///     .instructions("Answers questions about the blog.")
///     .build()
///     .unwrap();
/// assert_eq!(server.info().name, env!("CARGO_PKG_NAME"));
/// ```
#[derive(Clone)]
pub struct Server {
    pub(crate) inner: Arc<Inner>,
}

impl fmt::Debug for Server {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Server")
            .field("info", &self.inner.info)
            .field("tools", &self.inner.tools.len())
            .field("resources", &self.inner.resources.len())
            .field("templates", &self.inner.templates.len())
            .field("prompts", &self.inner.prompts.len())
            .finish()
    }
}

impl Server {
    /// Whether `principal` (`None`: anonymous) may call the tool `name`: it was granted every
    /// scope the tool requires and the permission hook agrees. An unknown tool is `Ok` (the
    /// call itself reports it). Transports use this to answer `403` with a scope challenge
    /// before dispatching.
    pub fn authorize_tool(&self, name: &str, principal: Option<&Principal>) -> Result<(), AccessDenied> {
        match self.inner.tool_index.get(name) {
            Some(&i) => {
                let e = &self.inner.tools[i];
                self.inner.access.check(&e.tool, &e.scopes, principal)
            }
            None => Ok(()),
        }
    }

    /// The parameters of the tool `name` mirrored into `Mcp-Param-*` HTTP headers
    /// (`x-mcp-header`; empty for an unknown tool). Transports check them against the body.
    pub fn tool_param_headers(&self, name: &str) -> &[param_headers::ParamHeader] {
        self.inner.tool_index.get(name).map_or(&[], |&i| &self.inner.tools[i].headers)
    }

    /// Whether any tool mirrors parameters into `Mcp-Param-*` headers.
    pub fn has_param_headers(&self) -> bool {
        self.inner.param_headers
    }

    /// The scopes the tool `name` requires (empty for an unknown tool).
    pub fn tool_required_scopes(&self, name: &str) -> &[String] {
        self.inner.tool_index.get(name).map_or(&[], |&i| &self.inner.tools[i].scopes)
    }

    /// Every scope some tool requires, sorted, without repeats (for `scopes_supported` in
    /// protected-resource metadata).
    pub fn all_tool_scopes(&self) -> Vec<String> {
        let mut all: Vec<String> = self.inner.tools.iter().flat_map(|t| t.scopes.iter().cloned()).collect();
        all.sort();
        all.dedup();
        all
    }

    /// Start building a server.
    pub fn builder() -> ServerBuilder {
        ServerBuilder::default()
    }

    /// The application's identity.
    pub fn info(&self) -> &Implementation {
        &self.inner.info
    }

    /// The capabilities advertised.
    pub fn capabilities(&self) -> &ServerCapabilities {
        &self.inner.capabilities
    }

    /// Every tool, in listing order (as the newest protocol version shows them).
    pub fn tools(&self) -> Vec<&Tool> {
        self.inner.tools.iter().map(|e| &e.tool).collect()
    }

    /// Every prompt, in listing order.
    pub fn prompts(&self) -> Vec<&Prompt> {
        self.inner.prompts.iter().map(|e| &e.prompt).collect()
    }

    /// Every static resource, in listing order.
    pub fn resources(&self) -> Vec<&Resource> {
        self.inner.resources.iter().map(|(r, _)| r).collect()
    }

    /// Every resource template, in listing order.
    pub fn resource_templates(&self) -> Vec<&ResourceTemplate> {
        self.inner.templates.iter().map(|(t, _)| t).collect()
    }

    /// Tell subscribed clients that something changed.
    pub fn notify(&self, event: ServerEvent) {
        // No receivers is fine: nobody is listening.
        let _ = self.inner.events.send(event);
    }

    /// Receive server events (transports use this to feed legacy sessions' streams).
    pub fn subscribe_events(&self) -> broadcast::Receiver<ServerEvent> {
        self.inner.events.subscribe()
    }

    /// End long-lived requests (`subscriptions/listen`) gracefully.
    pub fn shutdown(&self) {
        self.inner.shutdown.cancel();
    }

    /// A token that fires when [`Server::shutdown`] is called.
    pub fn shutdown_token(&self) -> CancellationToken {
        self.inner.shutdown.clone()
    }
}

/// Builds a [`Server`]. See [`Server::builder`].
pub struct ServerBuilder {
    info: Option<Implementation>,
    instructions: Option<String>,
    toolsets: Vec<Arc<dyn Toolset>>,
    page_size: usize,
    max_batch: usize,
    list_ttl: Duration,
    read_ttl: Duration,
    read_scope: CacheScope,
    state_key: Option<[u8; 32]>,
    state_ttl: Duration,
    tool_scopes: HashMap<String, Vec<String>>,
    permission: Option<Arc<PermissionFn>>,
}

impl Default for ServerBuilder {
    fn default() -> Self {
        ServerBuilder {
            info: None,
            instructions: None,
            toolsets: Vec::new(),
            page_size: 100,
            max_batch: 64,
            list_ttl: Duration::from_secs(300),
            read_ttl: Duration::ZERO,
            read_scope: CacheScope::Private,
            state_key: None,
            state_ttl: Duration::from_secs(600),
            tool_scopes: HashMap::new(),
            permission: None,
        }
    }
}

impl fmt::Debug for ServerBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerBuilder").field("info", &self.info).field("toolsets", &self.toolsets.len()).finish()
    }
}

impl ServerBuilder {
    /// The application's name and version; use [`server_info!`](crate::server_info).
    pub fn info(mut self, info: Implementation) -> Self {
        self.info = Some(info);
        self
    }

    /// A display title for the server.
    pub fn title(mut self, title: impl Into<String>) -> Self {
        self.info_mut().title = Some(title.into());
        self
    }

    /// A description of the server.
    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.info_mut().description = Some(description.into());
        self
    }

    /// An icon for the server.
    pub fn icon(mut self, icon: Icon) -> Self {
        self.info_mut().icons.get_or_insert_with(Vec::new).push(icon);
        self
    }

    /// The server's home page.
    pub fn website_url(mut self, url: impl Into<String>) -> Self {
        self.info_mut().website_url = Some(url.into());
        self
    }

    fn info_mut(&mut self) -> &mut Implementation {
        self.info.get_or_insert_with(|| Implementation::new("", ""))
    }

    /// Guidance for the model on how to use this server.
    pub fn instructions(mut self, instructions: impl Into<String>) -> Self {
        self.instructions = Some(instructions.into());
        self
    }

    /// Add a toolset.
    pub fn toolset<T: Toolset>(mut self, toolset: T) -> Self {
        self.toolsets.push(Arc::new(toolset));
        self
    }

    /// Add a shared toolset.
    pub fn toolset_arc(mut self, toolset: Arc<dyn Toolset>) -> Self {
        self.toolsets.push(toolset);
        self
    }

    /// Items per page of `tools/list`, `resources/list`, `resources/templates/list` and
    /// `prompts/list` (default 100, at least 1).
    pub fn page_size(mut self, n: usize) -> Self {
        self.page_size = n.max(1);
        self
    }

    /// Most messages in one JSON-RPC batch (protocol 2025-03-26 only; default 64, at least
    /// 1). A larger batch is refused as a whole with a -32600 error naming the limit: each
    /// message of a batch runs concurrently.
    pub fn max_batch_size(mut self, n: usize) -> Self {
        self.max_batch = n.max(1);
        self
    }

    /// Freshness hint (`ttlMs`) of list and discovery results (default 5 minutes).
    pub fn list_ttl(mut self, ttl: Duration) -> Self {
        self.list_ttl = ttl;
        self
    }

    /// Caching hints of `resources/read` results (default `ttlMs: 0`, `cacheScope: private`).
    pub fn read_cache(mut self, ttl: Duration, scope: CacheScope) -> Self {
        self.read_ttl = ttl;
        self.read_scope = scope;
        self
    }

    /// The key that signs `requestState` of `input_required` results. Replicas behind one
    /// load balancer must share it; by default each server picks a random key.
    pub fn request_state_key(mut self, key: [u8; 32]) -> Self {
        self.state_key = Some(key);
        self
    }

    /// How long a `requestState` stays valid (default 10 minutes).
    pub fn request_state_ttl(mut self, ttl: Duration) -> Self {
        self.state_ttl = ttl;
        self
    }

    /// Require OAuth `scopes` to see and call the tool `name` (in addition to those its
    /// toolset declares). Building fails if no tool has that name.
    ///
    /// ```
    /// use mcp_core::prelude::*;
    ///
    /// struct Admin;
    ///
    /// #[mcp_toolset]
    /// impl Admin {
    ///     /// Remove every draft.
    ///     #[mcp_tool(destructive)]
    ///     fn purge_drafts(&self) -> u64 {
    ///         0
    ///     }
    /// }
    ///
    /// let server = Server::builder()
    ///     .info(server_info!())
    ///     .toolset(Admin)
    ///     .tool_scopes("purge_drafts", ["posts:admin"])
    ///     .build()
    ///     .unwrap();
    /// let alice = Principal::new("alice").with_scopes(["posts:read"]);
    /// assert!(server.authorize_tool("purge_drafts", Some(&alice)).is_err());
    /// ```
    pub fn tool_scopes<I, S>(mut self, name: impl Into<String>, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.tool_scopes.entry(name.into()).or_default().extend(scopes.into_iter().map(Into::into));
        self
    }

    /// The application's own permission rule, checked after scopes for every listed and
    /// called tool: `true` lets the principal (`None`: anonymous) see and call the tool.
    /// A refused call gets an `isError` result saying so (it is not about token scopes, so
    /// there is no step-up challenge).
    pub fn tool_permission(
        mut self,
        allow: impl Fn(&Tool, Option<&Principal>) -> bool + Send + Sync + 'static,
    ) -> Self {
        self.permission = Some(Arc::new(allow));
        self
    }

    /// Build the server: collect every toolset's items, check names and scopes, and
    /// serialize the list pages for every protocol version.
    pub fn build(self) -> Result<Server, BuildError> {
        let info = match self.info {
            Some(i) if !i.name.is_empty() => i,
            _ => {
                return Err(BuildError(
                    "the server needs a name and version: call `.info(server_info!())` on the builder".into(),
                ));
            }
        };
        let mut errors = Vec::new();
        let mut tools = Vec::new();
        let mut tool_index = HashMap::new();
        let mut resources = Vec::new();
        let mut resource_index = HashMap::new();
        let mut templates: Vec<(ResourceTemplate, TemplateEntry)> = Vec::new();
        let mut prompts = Vec::new();
        let mut prompt_index = HashMap::new();
        let mut owners: HashMap<(&'static str, String), usize> = HashMap::new();
        let mut claim = |kind: &'static str, name: &str, toolset: usize, errors: &mut Vec<String>| {
            if let Some(first) = owners.insert((kind, name.to_owned()), toolset) {
                errors.push(if first == toolset {
                    format!("duplicate {kind} `{name}` in toolset #{toolset}")
                } else {
                    format!("duplicate {kind} `{name}`: declared by toolset #{first} and toolset #{toolset}")
                });
                false
            } else {
                true
            }
        };

        for (ts, set) in self.toolsets.iter().enumerate() {
            errors.extend(set.build_errors());
            for (index, tool) in set.tools().into_iter().enumerate() {
                if let Err(e) = validate_tool_name(&tool.name) {
                    errors.push(e);
                    continue;
                }
                if tool.input_schema.get("type") != Some(&Value::String("object".into())) {
                    errors.push(format!(
                        "tool `{}`: the root of `inputSchema` must be `\"type\": \"object\"`",
                        tool.name
                    ));
                }
                if claim("tool", &tool.name, ts, &mut errors) {
                    tool_index.insert(tool.name.clone(), tools.len());
                    let wrap_output = shape::output_needs_wrapping(&tool);
                    let mut scopes = set.tool_scopes(index);
                    if let Some(extra) = self.tool_scopes.get(&tool.name) {
                        scopes.extend(extra.iter().cloned());
                    }
                    scopes.sort();
                    scopes.dedup();
                    for s in &scopes {
                        if let Err(e) = access::validate_scope(s) {
                            errors.push(format!("tool `{}`: {e}", tool.name));
                        }
                    }
                    let headers = param_headers::collect(&tool.input_schema).unwrap_or_else(|e| {
                        errors.push(format!("tool `{}`: {e}", tool.name));
                        Vec::new()
                    });
                    tools.push(ToolEntry { tool, toolset: ts, index, wrap_output, scopes, headers });
                }
            }
            for (index, resource) in set.resources().into_iter().enumerate() {
                if claim("resource", &resource.uri, ts, &mut errors) {
                    resource_index.insert(resource.uri.clone(), resources.len());
                    resources.push((resource, ResourceEntry { toolset: ts, index }));
                }
            }
            for (index, template) in set.resource_templates().into_iter().enumerate() {
                match UriTemplate::parse(&template.uri_template) {
                    Ok(parsed) => {
                        if claim("resource template", &template.uri_template, ts, &mut errors) {
                            templates.push((template, TemplateEntry { template: parsed, toolset: ts, index }));
                        }
                    }
                    Err(e) => errors.push(format!("resource template `{}`: {e}", template.name)),
                }
            }
            for (index, prompt) in set.prompts().into_iter().enumerate() {
                if claim("prompt", &prompt.name, ts, &mut errors) {
                    prompt_index.insert(prompt.name.clone(), prompts.len());
                    prompts.push(PromptEntry { prompt, toolset: ts, index });
                }
            }
        }
        for name in self.tool_scopes.keys() {
            if !tool_index.contains_key(name) {
                errors.push(format!("`tool_scopes` names the tool `{name}`, which no toolset offers"));
            }
        }
        if !errors.is_empty() {
            return Err(BuildError(format!("cannot build the MCP server:\n  - {}", errors.join("\n  - "))));
        }

        let has_resources = !resources.is_empty() || !templates.is_empty();
        let capabilities = ServerCapabilities {
            logging: Some(Default::default()),
            completions: (!prompts.is_empty() || !templates.is_empty()).then(Default::default),
            prompts: (!prompts.is_empty()).then_some(ListChangedCapability { list_changed: Some(true) }),
            resources: has_resources.then_some(ResourcesCapability { subscribe: Some(true), list_changed: Some(true) }),
            tools: (!tools.is_empty()).then_some(ListChangedCapability { list_changed: Some(true) }),
            ..Default::default()
        };
        let server_info_value = serde_json::to_value(&info).unwrap_or(Value::Null);
        let server_meta = to_raw(&serde_json::json!({ crate::protocol::meta::SERVER_INFO: &server_info_value }));
        let key = match self.state_key {
            Some(k) => k,
            None => {
                let mut k = [0u8; 32];
                getrandom::fill(&mut k).map_err(|e| BuildError(format!("no secure random source: {e}")))?;
                k
            }
        };
        let (events, _) = broadcast::channel(256);
        let access_scoped = tools.iter().any(|t| !t.scopes.is_empty());
        let param_headers = tools.iter().any(|t| !t.headers.is_empty());
        let mut inner = Inner {
            info,
            server_info_value,
            server_meta,
            instructions: self.instructions,
            capabilities,
            toolsets: self.toolsets,
            tools,
            tool_index,
            resources,
            resource_index,
            templates,
            prompts,
            prompt_index,
            pages: Vec::new(),
            access: Access { active: self.permission.is_some() || access_scoped, hook: self.permission },
            param_headers,
            page_size: self.page_size,
            max_batch: self.max_batch,
            list_cache: (self.list_ttl.as_millis() as u64, CacheScope::Private),
            caller_pages: CallerPages::default(),
            read_cache: (self.read_ttl.as_millis() as u64, self.read_scope),
            signer: StateSigner::new(key, self.state_ttl.as_secs()),
            events,
            shutdown: CancellationToken::new(),
        };
        let list_cache = (self.list_ttl.as_millis() as u64, CacheScope::Public);
        inner.pages =
            ProtocolVersion::ALL.iter().map(|&v| build_pages(&inner, v, self.page_size, list_cache)).collect();
        Ok(Server { inner: Arc::new(inner) })
    }
}

/// Check a tool name: 1 to 128 characters of `[A-Za-z0-9_.-]`.
pub fn validate_tool_name(name: &str) -> Result<(), String> {
    if name.is_empty() || name.len() > 128 {
        return Err(format!("tool name `{name}` must be 1 to 128 characters long (it has {})", name.len()));
    }
    if let Some(c) = name.chars().find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))) {
        return Err(format!("tool name `{name}` contains `{c}`; allowed are A-Z, a-z, 0-9, `_`, `.` and `-`"));
    }
    Ok(())
}

fn paginate<T, R>(
    items: &[T],
    page_size: usize,
    kind: ListKind,
    mut make: impl FnMut(Vec<&T>, Option<String>) -> R,
) -> Vec<Arc<RawValue>>
where
    R: serde::Serialize,
{
    let pages = items.len().div_ceil(page_size).max(1);
    (0..pages)
        .map(|p| {
            let chunk: Vec<&T> = items.iter().skip(p * page_size).take(page_size).collect();
            let next = (p + 1 < pages).then(|| encode_cursor(kind, p + 1));
            Arc::from(to_raw(&make(chunk, next)))
        })
        .collect()
}

fn build_pages(inner: &Inner, v: ProtocolVersion, page_size: usize, cache: (u64, CacheScope)) -> Pages {
    let si = &inner.server_info_value;
    let tools = paginate(&inner.tools, page_size, ListKind::Tools, |chunk, next| {
        let mut r = ListToolsResult {
            result_type: None,
            tools: chunk.into_iter().map(|e| shape::tool(&e.tool, v)).collect(),
            next_cursor: next,
            ttl_ms: None,
            cache_scope: None,
            meta: None,
        };
        shape::finish(&mut r, v, si, Some(cache));
        r
    });
    let resources = paginate(&inner.resources, page_size, ListKind::Resources, |chunk, next| {
        let mut r = ListResourcesResult {
            result_type: None,
            resources: chunk.into_iter().map(|(res, _)| shape::resource(res, v)).collect(),
            next_cursor: next,
            ttl_ms: None,
            cache_scope: None,
            meta: None,
        };
        shape::finish(&mut r, v, si, Some(cache));
        r
    });
    let templates = paginate(&inner.templates, page_size, ListKind::Templates, |chunk, next| {
        let mut r = ListResourceTemplatesResult {
            result_type: None,
            resource_templates: chunk.into_iter().map(|(t, _)| shape::template(t, v)).collect(),
            next_cursor: next,
            ttl_ms: None,
            cache_scope: None,
            meta: None,
        };
        shape::finish(&mut r, v, si, Some(cache));
        r
    });
    let prompts = paginate(&inner.prompts, page_size, ListKind::Prompts, |chunk, next| {
        let mut r = ListPromptsResult {
            result_type: None,
            prompts: chunk.into_iter().map(|e| shape::prompt(&e.prompt, v)).collect(),
            next_cursor: next,
            ttl_ms: None,
            cache_scope: None,
            meta: None,
        };
        shape::finish(&mut r, v, si, Some(cache));
        r
    });
    let hello = if v.is_modern() {
        let mut d = DiscoverResult {
            result_type: None,
            supported_versions: ProtocolVersion::ALL.iter().rev().map(|v| v.as_str().to_owned()).collect(),
            capabilities: inner.capabilities.clone(),
            instructions: inner.instructions.clone(),
            ttl_ms: None,
            cache_scope: None,
            meta: None,
        };
        shape::finish(&mut d, v, si, Some(cache));
        Arc::from(to_raw(&d))
    } else {
        let mut caps = inner.capabilities.clone();
        if !v.has_structured_output() {
            caps.extensions = None;
        }
        let r = InitializeResult {
            protocol_version: v,
            capabilities: caps,
            server_info: shape::implementation(&inner.info, v),
            instructions: inner.instructions.clone(),
            meta: None::<Meta>,
        };
        Arc::from(to_raw(&r))
    };
    Pages { tools, resources, templates, prompts, hello: Some(hello) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_reject_garbage() {
        let c = encode_cursor(ListKind::Tools, 3);
        assert_eq!(decode_cursor(ListKind::Tools, &c), Some(3));
        assert_eq!(decode_cursor(ListKind::Prompts, &c), None);
        assert_eq!(decode_cursor(ListKind::Tools, "not a cursor"), None);
        assert_eq!(decode_cursor(ListKind::Tools, ""), None);
    }

    #[test]
    fn tool_names() {
        assert!(validate_tool_name("posts_list").is_ok());
        assert!(validate_tool_name("a.b-c_D9").is_ok());
        assert!(validate_tool_name("").is_err());
        assert!(validate_tool_name("has space").is_err());
        assert!(validate_tool_name(&"x".repeat(129)).is_err());
        assert!(validate_tool_name(&"x".repeat(128)).is_ok());
    }

    #[test]
    fn a_request_s_own_token_is_its_handler_s_and_batch_items_get_children() {
        use tokio_util::sync::CancellationToken;
        let own = CancellationToken::new();
        let inbound = Inbound::new().request_cancel(own.clone());
        inbound.handler_cancel().cancel();
        assert!(own.is_cancelled(), "cancelling the request cancels its own token");

        let post = CancellationToken::new();
        let batch = Inbound::new().request_cancel(post.clone());
        let (one, two) = (batch.for_batch_item().handler_cancel(), batch.for_batch_item().handler_cancel());
        one.cancel();
        assert!(!post.is_cancelled() && !two.is_cancelled(), "one request of a batch leaves the rest alone");
        post.cancel();
        assert!(two.is_cancelled(), "losing the client cancels them all");

        let connection = CancellationToken::new();
        let shared = Inbound::new().request_cancel(CancellationToken::new()).cancel(connection.clone());
        shared.handler_cancel().cancel();
        assert!(!connection.is_cancelled(), "a shared token gets children");
        assert!(!Inbound::new().handler_cancel().is_cancelled());
    }
}
