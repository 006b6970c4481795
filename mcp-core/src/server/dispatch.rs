//! `Server::handle`: era detection, method routing, handler calls, result shaping.

use std::borrow::Cow;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};

use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::value::RawValue;
use serde_json::{Map, Value};
use tokio::sync::broadcast::error::RecvError;
use tokio_util::sync::CancellationToken;

use super::request_state::RequestKey;
use super::{
    CompletionTarget, Inbound, ListKind, Pages, ResourceTarget, Server, ServerEvent, ToolEntry, decode_cursor,
    encode_cursor, shape, toolset::BoxFuture,
};
use crate::context::{Context, ContextParts, OwnedOrShared};
use crate::error::{ToolError, ToolErrorKind};
use crate::extensions::Principal;
use crate::protocol::jsonrpc::{Parsed, encode_result, parse, str_value, to_raw};
use crate::protocol::{
    CallToolResult, CancelledParams, ClientCapabilities, CompleteParams, CompleteResult, Completion, EmptyParams,
    EmptyResult, ErrorObject, GetPromptParams, Implementation, InitializeParams, InputRequiredResult, InputResponses,
    ListToolsResult, LoggingLevel, Message, Meta, Notification, ProgressToken, ProtocolVersion, ReadResourceParams,
    Reference, Request, RequestId, ResourceUriParams, Response, ResultType, SetLevelParams, SubscriptionFilter,
    SubscriptionsAcknowledgedParams, SubscriptionsListenParams, SubscriptionsListenResult, codes, meta, methods,
};
use crate::session::Session;

/// At most this many URIs in one `subscriptions/listen` filter.
const MAX_SUBSCRIBED_URIS: usize = 1000;

/// What the server learned about a request before routing it.
struct Facts {
    version: ProtocolVersion,
    client_info: Option<OwnedOrShared<Implementation>>,
    client_capabilities: OwnedOrShared<ClientCapabilities>,
    log_level: Option<LoggingLevel>,
    progress_token: Option<ProgressToken>,
}

type Routed = Result<Option<Arc<RawValue>>, ErrorObject>;

/// A tool call's answer before it is written: ready already, or the tool's result,
/// serialized where it goes (a raw value, or straight into the response's bytes).
enum Answer {
    Ready(Arc<RawValue>),
    Call(CallToolResult, ProtocolVersion),
}

type CallRouted = Result<Option<Answer>, ErrorObject>;

/// A result shaped for its protocol version ([`Server::shaped`]).
enum Shaped<'r, R> {
    /// With the server's prepared `_meta`.
    WithMeta { result: &'r R, meta: &'r RawValue },
    /// As it is.
    Plain(&'r R),
}

impl<R: serde::Serialize> serde::Serialize for Shaped<'_, R> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(serde::Serialize)]
        struct WithMeta<'a, R> {
            #[serde(flatten)]
            result: &'a R,
            #[serde(rename = "_meta")]
            meta: &'a RawValue,
        }
        match self {
            Shaped::WithMeta { result, meta } => WithMeta { result: *result, meta }.serialize(s),
            Shaped::Plain(r) => r.serialize(s),
        }
    }
}

/// What [`Server::handle_parsed`] answers: nothing (notifications), one response, or the
/// responses of a batch.
#[derive(Debug)]
pub enum Reply {
    /// One response.
    Single(Response),
    /// One successful response, already serialized: a tool's result written straight
    /// into the response's bytes ([`Server::handle_tool_call`]).
    Encoded(Vec<u8>),
    /// The responses of a batch (requests only; notifications get none).
    Batch(Vec<Response>),
}

impl Reply {
    /// Serialize to bytes.
    pub fn to_vec(&self) -> Vec<u8> {
        match self {
            Reply::Single(r) => r.to_vec(),
            Reply::Encoded(bytes) => bytes.clone(),
            Reply::Batch(rs) => serde_json::to_vec(rs).unwrap_or_default(),
        }
    }

    /// Serialize to bytes, without a copy for [`Reply::Encoded`].
    pub fn into_vec(self) -> Vec<u8> {
        match self {
            Reply::Encoded(bytes) => bytes,
            other => other.to_vec(),
        }
    }

    /// The error of a single error response.
    pub fn as_error(&self) -> Option<&ErrorObject> {
        match self {
            Reply::Single(r) => r.as_error(),
            Reply::Encoded(_) | Reply::Batch(_) => None,
        }
    }
}

impl Server {
    /// Handle one message from a client and return the response to send, if any.
    ///
    /// - A request gets a response, unless it was cancelled.
    /// - A notification (`initialized`, `cancelled`, ...) gets none.
    /// - A response (the client answering a request this server sent) is routed to the
    ///   handler waiting for it and gets none.
    ///
    /// The era is decided per message: a request whose `_meta` names a 2026-07-28 protocol
    /// version is served statelessly; anything else belongs to the legacy session in
    /// `inbound.session`, which `initialize` fills.
    pub async fn handle(&self, message: Message, inbound: Inbound) -> Option<Response> {
        match message {
            Message::Request(req) => self.handle_request(req, inbound).await,
            Message::Notification(n) => {
                self.handle_notification(&n, &inbound);
                None
            }
            Message::Response(resp) => {
                if let (Some(session), Some(id)) = (&inbound.session, &resp.id) {
                    session.peer().resolve(id, resp.outcome);
                }
                None
            }
        }
    }

    /// Parse bytes and handle them, batches included (allowed only when the session
    /// negotiated 2025-03-26). Parse errors become error responses.
    pub async fn handle_bytes(&self, bytes: &[u8], inbound: Inbound) -> Option<Reply> {
        match parse(bytes) {
            Ok(parsed) => self.handle_parsed(parsed, inbound).await,
            Err(resp) => Some(Reply::Single(resp)),
        }
    }

    /// Handle an already parsed message or batch.
    pub async fn handle_parsed(&self, parsed: Parsed, inbound: Inbound) -> Option<Reply> {
        match parsed {
            Parsed::Single(m) => self.handle(m, inbound).await.map(Reply::Single),
            Parsed::Batch(items) => {
                let version = inbound.session.as_ref().and_then(|s| s.protocol_version());
                if !version.is_some_and(ProtocolVersion::allows_batches) {
                    let v = version.map_or("this server's 2025-06-18 and later versions", ProtocolVersion::as_str);
                    let msg = format!("JSON-RPC batches are not supported by protocol version {v} (only 2025-03-26)");
                    return Some(Reply::Single(Response::error(None, ErrorObject::invalid_request(msg))));
                }
                let max = self.inner.max_batch;
                if items.len() > max {
                    let msg = format!(
                        "batch of {} messages is larger than this server's limit of {max}: send at most {max} \
                         messages per batch (the server's `max_batch_size`)",
                        items.len()
                    );
                    return Some(Reply::Single(Response::error(None, ErrorObject::invalid_request(msg))));
                }
                let mut set = tokio::task::JoinSet::new();
                let mut out = Vec::new();
                for (i, item) in items.into_iter().enumerate() {
                    match item {
                        Ok(Message::Request(r)) if r.method == methods::INITIALIZE => out.push((
                            i,
                            Response::error(
                                Some(r.id),
                                ErrorObject::invalid_request("`initialize` must not be part of a batch"),
                            ),
                        )),
                        Ok(m) => {
                            let server = self.clone();
                            let inbound = inbound.for_batch_item();
                            set.spawn(async move { (i, server.handle(m, inbound).await) });
                        }
                        Err(resp) => out.push((i, resp)),
                    }
                }
                while let Some(joined) = set.join_next().await {
                    match joined {
                        Ok((i, Some(resp))) => out.push((i, resp)),
                        Ok((_, None)) => {}
                        Err(e) => out.push((usize::MAX, Response::error(None, ErrorObject::internal(e.to_string())))),
                    }
                }
                out.sort_by_key(|(i, _)| *i);
                (!out.is_empty()).then(|| Reply::Batch(out.into_iter().map(|(_, r)| r).collect()))
            }
        }
    }

    /// Handle one request.
    pub async fn handle_request(&self, req: Request, inbound: Inbound) -> Option<Response> {
        let id = req.id.clone();
        match self.route(&req, &inbound).await {
            Ok(Some(raw)) => Some(Response::raw(id, raw)),
            Ok(None) => None,
            Err(e) => Some(Response::error(Some(id), e)),
        }
    }

    fn handle_notification(&self, n: &Notification, inbound: &Inbound) {
        let Some(session) = &inbound.session else { return };
        match n.method.as_str() {
            methods::INITIALIZED if session.protocol_version().is_some() => {
                session.update(|st| st.initialized = true);
            }
            methods::CANCELLED => {
                let raw = n.params.as_deref().map_or("{}", RawValue::get);
                if let Ok(CancelledParams { request_id: Some(id), .. }) = serde_json::from_str(raw) {
                    session.peer().cancel(&id);
                }
            }
            // roots/list_changed and unknown notifications need no action.
            _ => {}
        }
    }

    /// The notification a legacy session should receive for `event`, if any: list changes
    /// always, resource updates only for URIs it subscribed to.
    pub fn legacy_notification(&self, event: &ServerEvent, session: &Session) -> Option<Notification> {
        session.protocol_version()?;
        let empty = EmptyParams::default();
        match event {
            ServerEvent::ToolsListChanged => Some(Notification::new(methods::TOOLS_LIST_CHANGED, &empty)),
            ServerEvent::PromptsListChanged => Some(Notification::new(methods::PROMPTS_LIST_CHANGED, &empty)),
            ServerEvent::ResourcesListChanged => Some(Notification::new(methods::RESOURCES_LIST_CHANGED, &empty)),
            ServerEvent::ResourceUpdated(uri) => session.read(|st| st.subscriptions.contains(uri)).then(|| {
                Notification::new(methods::RESOURCES_UPDATED, &ResourceUriParams { uri: uri.clone(), meta: None })
            }),
        }
    }

    pub(crate) fn pages(&self, v: ProtocolVersion) -> &Pages {
        let i = ProtocolVersion::ALL.iter().position(|x| *x == v).unwrap_or(ProtocolVersion::ALL.len() - 1);
        &self.inner.pages[i]
    }

    fn finish<R: shape::ResultFields + serde::Serialize>(
        &self,
        mut r: R,
        v: ProtocolVersion,
        cache: Option<(u64, crate::protocol::CacheScope)>,
    ) -> Arc<RawValue> {
        Arc::from(to_raw(&self.shaped(&mut r, v, cache)))
    }

    /// `r` shaped for protocol `v`, ready to serialize.
    fn shaped<'r, R: shape::ResultFields>(
        &'r self,
        r: &'r mut R,
        v: ProtocolVersion,
        cache: Option<(u64, crate::protocol::CacheScope)>,
    ) -> Shaped<'r, R> {
        if v.has_result_type() && r.meta().is_none() {
            // The usual case: `_meta` is only the server info, serialized once at build
            // time and written out as it is.
            shape::finish_fields(r, v, cache);
            return Shaped::WithMeta { result: r, meta: &self.inner.server_meta };
        }
        shape::finish(r, v, &self.inner.server_info_value, cache);
        Shaped::Plain(r)
    }

    /// Decide the era and gather the request's protocol facts.
    fn classify(&self, req: &Request, inbound: &Inbound) -> Result<Facts, ErrorObject> {
        self.classify_with(&req.method, inbound, read_meta(req)?)
    }

    /// [`Server::classify`] with the `_meta` already read.
    fn classify_with(&self, method: &str, inbound: &Inbound, meta: RequestMeta<'_>) -> Result<Facts, ErrorObject> {
        let session = inbound.session.as_ref();
        let session_version = session.and_then(|s| s.protocol_version());

        if let Some(requested) = meta.protocol_version {
            let parsed = str_value(requested).and_then(|v| ProtocolVersion::parse(&v));
            match parsed {
                Some(v) if v.is_modern() => return modern_facts(v, &meta),
                Some(v) if session_version == Some(v) => {}
                _ => return Err(unsupported_version(requested)),
            }
        }
        if method == methods::INITIALIZE || method == methods::PING {
            return Ok(self.legacy_facts(session, session_version.unwrap_or(ProtocolVersion::LATEST_LEGACY), &meta));
        }
        match (session, session_version) {
            (Some(s), Some(v)) => Ok(self.legacy_facts(Some(s), v, &meta)),
            (Some(_), None) => Err(ErrorObject::invalid_request(format!(
                "`{method}` before `initialize`: send `initialize` first (or, for protocol 2026-07-28, put `{}` in `_meta`)",
                meta::PROTOCOL_VERSION
            ))),
            (None, _) => Err(ErrorObject::invalid_params(format!(
                "missing `_meta[\"{}\"]`: a request without a session must name its protocol version (this server supports {})",
                meta::PROTOCOL_VERSION,
                supported_list()
            ))),
        }
    }

    fn legacy_facts(&self, session: Option<&Arc<Session>>, v: ProtocolVersion, meta: &RequestMeta<'_>) -> Facts {
        let (client_info, client_capabilities, log_level) = match session {
            Some(s) => s.read(|st| {
                let info = st.client_info.clone().map(OwnedOrShared::Shared);
                (info, OwnedOrShared::Shared(st.client_capabilities.clone()), st.log_level)
            }),
            None => (None, OwnedOrShared::Owned(ClientCapabilities::default()), None),
        };
        Facts { version: v, client_info, client_capabilities, log_level, progress_token: progress_token(meta) }
    }

    async fn route(&self, req: &Request, inbound: &Inbound) -> Routed {
        if req.method == methods::TOOLS_CALL && self.inner.capabilities.tools.is_some() {
            // The hot path: one pass over the params reads `_meta` and the call.
            return match params::<CallParams<'_>>(req) {
                Ok(p) => self.call_with(req, p, inbound).await,
                // Protocol errors (an unsupported version, say) come before bad params.
                Err(e) => Err(self.classify(req, inbound).err().unwrap_or(e)),
            };
        }
        let meta = read_meta(req)?;
        check_mirrored_version(inbound, &meta)?;
        if inbound.mirrored.is_some() && (req.method == methods::PROMPTS_GET || req.method == methods::RESOURCES_READ) {
            #[derive(Deserialize, Default)]
            struct Named<'a> {
                #[serde(default, borrow)]
                name: Option<&'a RawValue>,
                #[serde(default, borrow)]
                uri: Option<&'a RawValue>,
            }
            let raw = req.params.as_deref().map_or("{}", RawValue::get);
            let named: Named<'_> = serde_json::from_str(raw).unwrap_or_default();
            let value = if req.method == methods::PROMPTS_GET { named.name } else { named.uri };
            check_mirrored_name(inbound, value.and_then(str_value).as_deref())?;
        }
        let facts = self.classify_with(&req.method, inbound, meta)?;
        let v = facts.version;
        if let Some(kind) = ListKind::of_method(&req.method).filter(|&k| self.offers(k)) {
            let p: Cursor<'_> = params(req)?;
            return self.list_of(kind, p.cursor.as_deref(), v, inbound);
        }
        let caps = &self.inner.capabilities;
        let unsupported = |what: &str| {
            let mut e = ErrorObject::method_not_found(&req.method);
            e.message = format!("{what} not supported");
            e.with_data(serde_json::json!({ "reason": format!("this server does not offer {what}") }))
        };
        match (req.method.as_str(), v.is_modern()) {
            (methods::INITIALIZE, false) => self.initialize(req, inbound).map(Some),
            (methods::PING, false) => Ok(Some(self.finish(EmptyResult::default(), v, None))),
            (methods::LOGGING_SET_LEVEL, false) => {
                let p: SetLevelParams = params(req)?;
                if let Some(s) = &inbound.session {
                    s.update(|st| st.log_level = Some(p.level));
                }
                Ok(Some(self.finish(EmptyResult::default(), v, None)))
            }
            (methods::RESOURCES_SUBSCRIBE | methods::RESOURCES_UNSUBSCRIBE, false) => {
                if caps.resources.is_none() {
                    return Err(unsupported("resources"));
                }
                let p: ResourceUriParams = params(req)?;
                if let Some(s) = &inbound.session {
                    let subscribe = req.method == methods::RESOURCES_SUBSCRIBE;
                    s.update(|st| {
                        if subscribe {
                            if st.subscriptions.len() < MAX_SUBSCRIBED_URIS {
                                st.subscriptions.insert(p.uri);
                            }
                        } else {
                            st.subscriptions.remove(&p.uri);
                        }
                    });
                }
                Ok(Some(self.finish(EmptyResult::default(), v, None)))
            }
            (methods::SERVER_DISCOVER, true) => Ok(self.pages(v).hello.clone()),
            // The other handlers are boxed: inline, the largest of them would size the
            // future of every request (a bigger allocation and copy for each `tools/call`).
            (methods::SUBSCRIPTIONS_LISTEN, true) => Box::pin(self.listen(req, inbound)).await,
            (methods::TOOLS_LIST | methods::TOOLS_CALL, _) => Err(unsupported("tools")),
            (methods::RESOURCES_READ, _) if caps.resources.is_some() => {
                Box::pin(self.read_resource(req, facts, inbound)).await
            }
            (methods::RESOURCES_LIST | methods::RESOURCES_TEMPLATES_LIST | methods::RESOURCES_READ, _) => {
                Err(unsupported("resources"))
            }
            (methods::PROMPTS_GET, _) if caps.prompts.is_some() => Box::pin(self.get_prompt(req, facts, inbound)).await,
            (methods::PROMPTS_LIST | methods::PROMPTS_GET, _) => Err(unsupported("prompts")),
            (methods::COMPLETION_COMPLETE, _) if caps.completions.is_some() => {
                Box::pin(self.complete(req, facts, inbound)).await
            }
            (methods::COMPLETION_COMPLETE, _) => Err(unsupported("completions")),
            _ => Err(ErrorObject::method_not_found(&req.method)),
        }
    }

    fn initialize(&self, req: &Request, inbound: &Inbound) -> Result<Arc<RawValue>, ErrorObject> {
        let Some(session) = &inbound.session else {
            return Err(ErrorObject::internal("this transport keeps no sessions; use protocol 2026-07-28"));
        };
        let p: InitializeParams = params(req)?;
        if session.protocol_version().is_some() {
            return Err(ErrorObject::invalid_request("the session is already initialized"));
        }
        let v = ProtocolVersion::parse(&p.protocol_version)
            .filter(|v| v.is_legacy())
            .unwrap_or(ProtocolVersion::LATEST_LEGACY);
        let principal = inbound.extensions.get::<Principal>().map(|p| p.subject.clone());
        session.update(|st| {
            st.protocol_version = Some(v);
            st.client_info = Some(Arc::new(p.client_info));
            st.client_capabilities = Arc::new(p.capabilities);
            st.principal = principal;
        });
        self.pages(v).hello.clone().ok_or_else(|| ErrorObject::internal("no initialize result"))
    }

    /// Whether this server offers the list `kind`.
    fn offers(&self, kind: ListKind) -> bool {
        let caps = &self.inner.capabilities;
        match kind {
            ListKind::Tools => caps.tools.is_some(),
            ListKind::Resources | ListKind::Templates => caps.resources.is_some(),
            ListKind::Prompts => caps.prompts.is_some(),
        }
    }

    /// A page of a list this server offers ([`Server::offers`]).
    fn list_of(&self, kind: ListKind, cursor: Option<&str>, v: ProtocolVersion, inbound: &Inbound) -> Routed {
        if kind == ListKind::Tools && self.inner.access.active {
            self.caller_tools_page(cursor, v, inbound)
        } else {
            self.list_page(cursor, v, kind)
        }
    }

    fn list_page(&self, cursor: Option<&str>, v: ProtocolVersion, kind: ListKind) -> Routed {
        let pages = self.pages(v);
        let list = match kind {
            ListKind::Tools => &pages.tools,
            ListKind::Resources => &pages.resources,
            ListKind::Templates => &pages.templates,
            ListKind::Prompts => &pages.prompts,
        };
        let page = match cursor {
            None => 0,
            Some(c) => decode_cursor(kind, c).filter(|&i| i < list.len()).ok_or_else(|| {
                ErrorObject::invalid_params("Invalid cursor").with_data(serde_json::json!({ "cursor": c }))
            })?,
        };
        Ok(list.get(page).cloned())
    }

    /// `tools/list` when tools have scopes or a permission hook: the tools this caller may
    /// call, paginated and serialized for this request (`cacheScope: private`).
    fn caller_tools_page(&self, cursor: Option<&str>, v: ProtocolVersion, inbound: &Inbound) -> Routed {
        let principal = inbound.extensions.get::<Principal>();
        let mut seen = vec![0u64; self.inner.tools.len().div_ceil(64)];
        let visible: Vec<&ToolEntry> = self
            .inner
            .tools
            .iter()
            .enumerate()
            .filter(|(_, e)| self.inner.access.check(&e.tool, &e.scopes, principal).is_ok())
            .map(|(i, e)| {
                seen[i / 64] |= 1 << (i % 64);
                e
            })
            .collect();
        let size = self.inner.page_size;
        let pages = visible.len().div_ceil(size).max(1);
        let page = match cursor {
            None => 0,
            Some(c) => decode_cursor(ListKind::Tools, c).filter(|&i| i < pages).ok_or_else(|| {
                ErrorObject::invalid_params("Invalid cursor").with_data(serde_json::json!({ "cursor": c }))
            })?,
        };
        // A page depends only on which tools the caller sees: callers with the same
        // scopes share it, serialized once.
        let key = super::CallerPage { version: v, page, visible: seen };
        if let Some(hit) = self.inner.caller_pages.get(&key) {
            return Ok(Some(hit));
        }
        let mut r = ListToolsResult {
            result_type: None,
            tools: visible.iter().skip(page * size).take(size).map(|e| shape::tool(&e.tool, v)).collect(),
            next_cursor: (page + 1 < pages).then(|| encode_cursor(ListKind::Tools, page + 1)),
            ttl_ms: None,
            cache_scope: None,
            meta: None,
        };
        shape::finish(&mut r, v, &self.inner.server_info_value, Some(self.inner.list_cache));
        let raw: Arc<RawValue> = Arc::from(to_raw(&r));
        self.inner.caller_pages.insert(key, raw.clone());
        Ok(Some(raw))
    }

    fn context(&self, req: Head<'_>, facts: Facts, inbound: &Inbound, responses: InputResponses) -> (Context, Tracked) {
        self.context_with(req, facts, inbound, responses, None)
    }

    fn context_with(
        &self,
        req: Head<'_>,
        facts: Facts,
        inbound: &Inbound,
        responses: InputResponses,
        completion: Option<crate::protocol::CompleteContext>,
    ) -> (Context, Tracked) {
        let cancel = inbound.handler_cancel();
        let tracked = Tracked::new(inbound.session.clone(), req.id.clone(), cancel.clone());
        let ctx = Context::new(ContextParts {
            request_id: req.id.clone(),
            method: static_method(req.method),
            version: facts.version,
            client_info: facts.client_info,
            client_capabilities: facts.client_capabilities,
            extensions: inbound.extensions.clone(),
            progress_token: facts.progress_token,
            log_level: facts.log_level,
            sink: inbound.sink.clone(),
            cancel,
            session: inbound.session.clone(),
            responses,
            completion,
            events: Some(self.inner.events.clone()),
        });
        (ctx, tracked)
    }

    /// The context of a handler that may ask the client for input: in 2026-07-28, the
    /// answers it can use are those carried (and verified) in `requestState` plus the
    /// request's `inputResponses`.
    fn prepare(
        &self,
        req: Head<'_>,
        facts: Facts,
        inbound: &Inbound,
        key: &RequestKey,
        state: Option<&str>,
        responses: Option<InputResponses>,
    ) -> Result<(Context, Tracked), ErrorObject> {
        let mut answers = InputResponses::new();
        if facts.version.is_modern() {
            let principal = inbound.extensions.get::<Principal>().map(|p| p.subject.as_str());
            if let Some(s) = state {
                answers = self
                    .inner
                    .signer
                    .verify(s, &key.digest()?, principal)
                    .map_err(|m| ErrorObject::invalid_params(format!("invalid `requestState`: {m}")))?;
            }
            answers.extend(responses.unwrap_or_default());
        }
        Ok(self.context(req, facts, inbound, answers))
    }

    /// If the handler asked for input it had no answer to (only possible in 2026-07-28),
    /// the `input_required` result.
    fn input_required(
        &self,
        ctx: &Context,
        key: &RequestKey,
        inbound: &Inbound,
    ) -> Result<Option<Arc<RawValue>>, ErrorObject> {
        let (pending, answers) = ctx.take_pending_input();
        if pending.is_empty() {
            return Ok(None);
        }
        let principal = inbound.extensions.get::<Principal>().map(|p| p.subject.as_str());
        let state = self.inner.signer.issue(key.digest()?, principal, answers).map_err(ErrorObject::internal)?;
        let r = InputRequiredResult {
            result_type: ResultType::InputRequired,
            input_requests: Some(pending),
            request_state: Some(state),
            meta: Some(Meta::new().with(meta::SERVER_INFO, self.inner.server_info_value.clone())),
        };
        Ok(Some(Arc::from(to_raw(&r))))
    }

    /// `tools/call` with its params read: checked and prepared now, the tool run when the
    /// future is polled. The future holds only what the run needs, so it stays small.
    fn call_with<'a>(
        &'a self,
        req: &Request,
        p: CallParams<'_>,
        inbound: &'a Inbound,
    ) -> impl Future<Output = Routed> + Send + 'a {
        let mut next = self.start_call(Head::of(req), p, inbound);
        async move {
            Ok(match next.finish(self, inbound).await? {
                Some(Answer::Ready(raw)) => Some(raw),
                Some(Answer::Call(result, v)) => Some(self.finish(result, v, None)),
                None => None,
            })
        }
    }

    /// `tools/call` up to running the tool: `_meta`, mirrored headers, era, the tool.
    fn start_call(&self, req: Head<'_>, mut p: CallParams<'_>, inbound: &Inbound) -> Next {
        let meta = p.meta.take().unwrap_or_default();
        let started = check_mirrored_version(inbound, &meta)
            .and_then(|()| check_mirrored_name(inbound, Some(&p.name)))
            .and_then(|()| self.classify_with(req.method, inbound, meta))
            .and_then(|facts| self.start_tool(req, p, facts, inbound));
        started.unwrap_or_else(|e| Next::Done(Err(e)))
    }

    /// Read `bytes` as a `tools/call` request in one pass (the envelope and the params
    /// together), for a transport that knows from a header what the body should be.
    /// `None` whenever it is anything else, or anything unusual (a `\u` escape, an
    /// `inputResponses` member, deep nesting, a syntax error): the transport then takes
    /// the general way ([`parse`] and [`Server::handle_parsed`]), which also explains every
    /// error. The answer is the same either way.
    pub fn parse_tool_call<'a>(&self, bytes: &'a [u8]) -> Option<ToolCallRequest<'a>> {
        self.inner.capabilities.tools.as_ref()?;
        let (id, method, params) = read_request::<CallParams<'a>>(bytes)?;
        (method == methods::TOOLS_CALL).then_some(ToolCallRequest { id, params: params? })
    }

    /// Read `bytes` as a `tools/list`, `resources/list`, `resources/templates/list` or
    /// `prompts/list` request in one pass, like [`Server::parse_tool_call`]: `None` for
    /// anything else or unusual, and for a list this server does not offer.
    pub fn parse_list_request<'a>(&self, bytes: &'a [u8]) -> Option<ListRequest<'a>> {
        let (id, method, params) = read_request::<ListParams<'a>>(bytes)?;
        let kind = ListKind::of_method(&method).filter(|&k| self.offers(k))?;
        Some(ListRequest { id, kind, params: params.unwrap_or_default() })
    }

    /// Answer a request [`Server::parse_list_request`] read: what
    /// [`Server::handle_request`] answers for the same bytes, without a future (a page is
    /// ready, or made from the tools the caller may see).
    pub fn handle_list(&self, list: ListRequest<'_>, inbound: &Inbound) -> Option<Response> {
        let ListRequest { id, kind, params } = list;
        let meta = params.meta.unwrap_or_default();
        let answer = check_mirrored_version(inbound, &meta)
            .and_then(|()| self.classify_with(kind.method(), inbound, meta))
            .and_then(|facts| self.list_of(kind, params.cursor.as_deref(), facts.version, inbound));
        match answer {
            Ok(Some(raw)) => Some(Response::raw(id, raw)),
            Ok(None) => None,
            Err(e) => Some(Response::error(Some(id), e)),
        }
    }

    /// Handle a request [`Server::parse_tool_call`] read: what [`Server::handle_request`]
    /// answers for the same bytes. The tool's result is serialized straight into the
    /// response ([`Reply::Encoded`]).
    ///
    /// The request is checked and the tool prepared when this is called; the future runs
    /// the tool. It borrows neither the request's bytes nor the server, so a transport
    /// can keep it after the body is gone (an answer that turns into an event stream).
    pub fn handle_tool_call(
        &self,
        call: ToolCallRequest<'_>,
        inbound: Inbound,
    ) -> impl Future<Output = Option<Reply>> + Send + 'static {
        let id = call.id;
        let head = Head { id: &id, method: methods::TOOLS_CALL, params: None };
        let mut next = self.start_call(head, call.params, &inbound);
        let server = self.clone();
        async move {
            match next.finish(&server, &inbound).await {
                Ok(Some(Answer::Ready(raw))) => Some(Reply::Single(Response::raw(id, raw))),
                Ok(Some(Answer::Call(mut result, v))) => {
                    Some(Reply::Encoded(encode_result(&id, &server.shaped(&mut result, v, None))))
                }
                Ok(None) => None,
                Err(e) => Some(Reply::Single(Response::error(Some(id), e))),
            }
        }
    }

    /// `tools/call` up to running the tool. Synchronous, so that the request's params and
    /// facts are gone before the first `.await` and the future that every call allocates
    /// stays small ([`Server::run_tool`] does the rest).
    fn start_tool(
        &self,
        req: Head<'_>,
        p: CallParams<'_>,
        facts: Facts,
        inbound: &Inbound,
    ) -> Result<Next, ErrorObject> {
        reject_null_input(req.params)?;
        let Some(&i) = self.inner.tool_index.get(p.name.as_ref()) else {
            return Err(ErrorObject::invalid_params(format!("Unknown tool: {}", p.name)));
        };
        let entry = &self.inner.tools[i];
        let v = facts.version;
        if let Err(denied) = self.inner.access.check(&entry.tool, &entry.scopes, inbound.extensions.get::<Principal>())
        {
            // Transports that can answer 403 with a scope challenge do so before dispatch;
            // here (stdio, or HTTP in compatibility mode) the agent reads why.
            return Ok(Next::Done(Ok(Some(self.finish(
                CallToolResult::error(format!("Forbidden: {denied}")),
                v,
                None,
            )))));
        }
        // Only a 2026-07-28 request with a state, or from a client able to answer input
        // requests, can use the key: skip hashing the arguments of every other call.
        let caps = &facts.client_capabilities;
        let keyed = v.is_modern()
            && (p.request_state.is_some()
                || caps.elicitation.is_some()
                || caps.sampling.is_some()
                || caps.roots.is_some());
        let key = if keyed {
            RequestKey::new(methods::TOOLS_CALL, &p.name, p.arguments.as_ref())
        } else {
            RequestKey::none()
        };
        let (ctx, tracked) = self.prepare(req, facts, inbound, &key, p.request_state.as_deref(), p.input_responses)?;
        let arguments = p.arguments.unwrap_or_default();
        Ok(Next::Run(ToolCall { tool: i, arguments, ctx, _tracked: tracked, key, version: v }))
    }

    /// Run a prepared tool. Borrowed: the caller's future keeps it, and a future keeps
    /// what it is given for as long as it lives.
    async fn run_tool(&self, call: &mut ToolCall, inbound: &Inbound) -> CallRouted {
        let entry = &self.inner.tools[call.tool];
        let arguments = std::mem::take(&mut call.arguments);
        let fut = self.inner.toolsets[entry.toolset].call_tool(entry.index, arguments, &call.ctx);
        let Some(outcome) = run(fut, call.ctx.cancellation()).await else { return Ok(None) };
        if let Some(r) = self.input_required(&call.ctx, &call.key, inbound)? {
            return Ok(Some(Answer::Ready(r)));
        }
        let v = call.version;
        let mut result = match outcome {
            Ok(r) => r,
            Err(e) => match e.kind() {
                ToolErrorKind::Cancelled => return Ok(None),
                ToolErrorKind::MissingCapability if v.is_modern() => return Err(e.into_error_object()),
                _ if e.protocol_error().is_some() && e.kind() != ToolErrorKind::MissingCapability => {
                    return Err(e.into_error_object());
                }
                _ => CallToolResult::error(e.message()),
            },
        };
        shape::call_result(&mut result, v, entry.wrap_output);
        Ok(Some(Answer::Call(result, v)))
    }

    async fn read_resource(&self, req: &Request, facts: Facts, inbound: &Inbound) -> Routed {
        let p: ReadResourceParams = params(req)?;
        reject_null_input(req.params.as_deref())?;
        let v = facts.version;
        let not_found = || {
            ErrorObject::new(v.resource_not_found_code(), "Resource not found")
                .with_data(serde_json::json!({ "uri": p.uri }))
        };
        let (toolset, target) = if let Some(&i) = self.inner.resource_index.get(&p.uri) {
            let (_, e) = &self.inner.resources[i];
            (e.toolset, ResourceTarget::Static(e.index))
        } else {
            let found = self.inner.templates.iter().find_map(|(_, e)| {
                e.template.matches(&p.uri).map(|vars| (e.toolset, ResourceTarget::Template(e.index, vars)))
            });
            found.ok_or_else(not_found)?
        };
        let key = RequestKey::new(methods::RESOURCES_READ, &p.uri, None);
        let (ctx, _tracked) =
            self.prepare(Head::of(req), facts, inbound, &key, p.request_state.as_deref(), p.input_responses.clone())?;
        let fut = self.inner.toolsets[toolset].read_resource(target, &p.uri, &ctx);
        let Some(outcome) = run(fut, ctx.cancellation()).await else { return Ok(None) };
        if let Some(r) = self.input_required(&ctx, &key, inbound)? {
            return Ok(Some(r));
        }
        match outcome {
            Ok(r) => Ok(Some(self.finish(r, v, Some(self.inner.read_cache)))),
            Err(e) if e.kind() == ToolErrorKind::Cancelled => Ok(None),
            Err(e) if e.kind() == ToolErrorKind::NotFound && e.protocol_error().is_none() => Err(not_found()),
            Err(e) => Err(e.into_error_object()),
        }
    }

    async fn get_prompt(&self, req: &Request, facts: Facts, inbound: &Inbound) -> Routed {
        let p: GetPromptParams = params(req)?;
        reject_null_input(req.params.as_deref())?;
        let Some(&i) = self.inner.prompt_index.get(&p.name) else {
            return Err(ErrorObject::invalid_params(format!("Unknown prompt: {}", p.name)));
        };
        let entry = &self.inner.prompts[i];
        let args = p.arguments.clone().unwrap_or_default();
        let missing: Vec<&str> = entry
            .prompt
            .arguments
            .iter()
            .flatten()
            .filter(|a| a.required == Some(true) && args.get(&a.name).is_none_or(Value::is_null))
            .map(|a| a.name.as_str())
            .collect();
        if !missing.is_empty() {
            return Err(ErrorObject::invalid_params(format!(
                "prompt `{}` needs the argument(s) {}",
                p.name,
                missing.iter().map(|m| format!("`{m}`")).collect::<Vec<_>>().join(", ")
            )));
        }
        let v = facts.version;
        let key = RequestKey::new(methods::PROMPTS_GET, &p.name, Some(&args));
        let (ctx, _tracked) =
            self.prepare(Head::of(req), facts, inbound, &key, p.request_state.as_deref(), p.input_responses)?;
        let fut = self.inner.toolsets[entry.toolset].get_prompt(entry.index, args, &ctx);
        let Some(outcome) = run(fut, ctx.cancellation()).await else { return Ok(None) };
        if let Some(r) = self.input_required(&ctx, &key, inbound)? {
            return Ok(Some(r));
        }
        match outcome {
            Ok(mut r) => {
                for m in &mut r.messages {
                    shape::content(std::slice::from_mut(&mut m.content), v);
                }
                Ok(Some(self.finish(r, v, None)))
            }
            Err(e) if e.kind() == ToolErrorKind::Cancelled => Ok(None),
            Err(e) => Err(e.into_error_object()),
        }
    }

    async fn complete(&self, req: &Request, facts: Facts, inbound: &Inbound) -> Routed {
        let p: CompleteParams = params(req)?;
        let (toolset, target) = match &p.reference {
            Reference::Prompt { name, .. } => {
                let i = *self
                    .inner
                    .prompt_index
                    .get(name)
                    .ok_or_else(|| ErrorObject::invalid_params(format!("Unknown prompt: {name}")))?;
                let e = &self.inner.prompts[i];
                if !e.prompt.arguments.iter().flatten().any(|a| a.name == p.argument.name) {
                    return Err(ErrorObject::invalid_params(format!(
                        "prompt `{name}` has no argument `{}`",
                        p.argument.name
                    )));
                }
                (e.toolset, CompletionTarget::Prompt(e.index))
            }
            Reference::Resource { uri } => {
                let (_, e) = self
                    .inner
                    .templates
                    .iter()
                    .find(|(t, _)| &t.uri_template == uri)
                    .ok_or_else(|| ErrorObject::invalid_params(format!("Unknown resource template: {uri}")))?;
                if !e.template.variables().any(|var| var == p.argument.name) {
                    return Err(ErrorObject::invalid_params(format!(
                        "resource template `{uri}` has no variable `{}`",
                        p.argument.name
                    )));
                }
                (e.toolset, CompletionTarget::Template(e.index))
            }
        };
        let v = facts.version;
        let context = p.context.clone().unwrap_or_default();
        let (ctx, _tracked) =
            self.context_with(Head::of(req), facts, inbound, InputResponses::new(), Some(context.clone()));
        let fut = self.inner.toolsets[toolset].complete(target, &p.argument, &context, &ctx);
        let Some(outcome) = run(fut, ctx.cancellation()).await else { return Ok(None) };
        match outcome {
            Ok(mut c) => {
                if c.values.len() > 100 {
                    c = Completion::from_values(c.values);
                }
                Ok(Some(self.finish(CompleteResult { result_type: None, completion: c, meta: None }, v, None)))
            }
            Err(e) if e.kind() == ToolErrorKind::Cancelled => Ok(None),
            Err(e) => Err(e.into_error_object()),
        }
    }

    /// `subscriptions/listen`: acknowledge, then forward matching server events on the
    /// request's sink until the client goes away or the server shuts down.
    async fn listen(&self, req: &Request, inbound: &Inbound) -> Routed {
        let p: SubscriptionsListenParams = params(req)?;
        let Some(sink) = inbound.sink.clone() else {
            return Err(ErrorObject::internal("this transport cannot carry `subscriptions/listen` streams"));
        };
        let caps = &self.inner.capabilities;
        let f = p.notifications;
        let accepted = SubscriptionFilter {
            tools_list_changed: f.tools_list_changed.filter(|&b| b && caps.tools.is_some()),
            prompts_list_changed: f.prompts_list_changed.filter(|&b| b && caps.prompts.is_some()),
            resources_list_changed: f.resources_list_changed.filter(|&b| b && caps.resources.is_some()),
            resource_subscriptions: f.resource_subscriptions.filter(|_| caps.resources.is_some()).map(|mut uris| {
                uris.truncate(MAX_SUBSCRIBED_URIS);
                uris
            }),
        };
        let sub_meta = Meta::new().with(meta::SUBSCRIPTION_ID, serde_json::to_value(&req.id).unwrap_or(Value::Null));
        let mut events = self.subscribe_events();
        let ack = SubscriptionsAcknowledgedParams { notifications: accepted.clone(), meta: Some(sub_meta.clone()) };
        if sink.send(Message::Notification(Notification::new(methods::SUBSCRIPTIONS_ACKNOWLEDGED, &ack))).await.is_err()
        {
            return Ok(None);
        }
        let cancel = inbound.cancel.clone().unwrap_or_default();
        let _tracked = Tracked::new(inbound.session.clone(), req.id.clone(), cancel.clone());
        let closed = || {
            let mut r = SubscriptionsListenResult::closed(&req.id);
            if let Some(m) = &mut r.meta {
                m.insert(meta::SERVER_INFO, self.inner.server_info_value.clone());
            }
            Ok(Some(Arc::from(to_raw(&r))))
        };
        loop {
            tokio::select! {
                _ = cancel.cancelled() => return Ok(None),
                _ = self.inner.shutdown.cancelled() => return closed(),
                ev = events.recv() => match ev {
                    Ok(ev) => {
                        if let Some(n) = modern_notification(&ev, &accepted, &sub_meta)
                            && sink.send(Message::Notification(n)).await.is_err() {
                                return Ok(None);
                            }
                    }
                    Err(RecvError::Lagged(_)) => continue,
                    Err(RecvError::Closed) => return closed(),
                },
            }
        }
    }
}

fn modern_notification(ev: &ServerEvent, f: &SubscriptionFilter, sub_meta: &Meta) -> Option<Notification> {
    let empty = EmptyParams { meta: Some(sub_meta.clone()) };
    match ev {
        ServerEvent::ToolsListChanged if f.tools_list_changed == Some(true) => {
            Some(Notification::new(methods::TOOLS_LIST_CHANGED, &empty))
        }
        ServerEvent::PromptsListChanged if f.prompts_list_changed == Some(true) => {
            Some(Notification::new(methods::PROMPTS_LIST_CHANGED, &empty))
        }
        ServerEvent::ResourcesListChanged if f.resources_list_changed == Some(true) => {
            Some(Notification::new(methods::RESOURCES_LIST_CHANGED, &empty))
        }
        ServerEvent::ResourceUpdated(uri) if f.resource_subscriptions.as_ref().is_some_and(|u| u.contains(uri)) => {
            Some(Notification::new(
                methods::RESOURCES_UPDATED,
                &ResourceUriParams { uri: uri.clone(), meta: Some(sub_meta.clone()) },
            ))
        }
        _ => None,
    }
}

/// Registers a request's cancellation token with its session so `notifications/cancelled`
/// reaches it, and unregisters it however the request ends.
struct Tracked {
    session: Option<Arc<Session>>,
    id: RequestId,
}

impl Tracked {
    fn new(session: Option<Arc<Session>>, id: RequestId, token: CancellationToken) -> Self {
        if let Some(s) = &session {
            s.peer().track(&id, token);
        }
        Tracked { session, id }
    }
}

impl Drop for Tracked {
    fn drop(&mut self) {
        if let Some(s) = &self.session {
            s.peer().untrack(&self.id);
        }
    }
}

/// Run a handler until it finishes or the request is cancelled (then `None`; the
/// handler's future is dropped). A panic becomes an internal error, never a crash.
async fn run<T>(fut: BoxFuture<'_, Result<T, ToolError>>, cancel: &CancellationToken) -> Option<Result<T, ToolError>> {
    if cancel.is_cancelled() {
        return None;
    }
    let mut fut = CatchUnwind(fut);
    // Most handlers answer on their first poll: only one that waits registers for the
    // cancellation (a lock and a waiter list on the token's side).
    if let Poll::Ready(r) = std::future::poll_fn(|cx| Poll::Ready(Pin::new(&mut fut).poll(cx))).await {
        return Some(r);
    }
    tokio::select! {
        biased;
        _ = cancel.cancelled() => None,
        r = fut => Some(r),
    }
}

struct CatchUnwind<'a, T>(BoxFuture<'a, Result<T, ToolError>>);

impl<T> Future for CatchUnwind<'_, T> {
    type Output = Result<T, ToolError>;
    fn poll(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Self::Output> {
        let fut = self.0.as_mut();
        match std::panic::catch_unwind(AssertUnwindSafe(|| fut.poll(cx))) {
            Ok(p) => p,
            Err(panic) => {
                let what = panic
                    .downcast_ref::<&str>()
                    .map(|s| (*s).to_owned())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "unknown panic".into());
                tracing::error!(panic = %what, "an MCP handler panicked");
                Poll::Ready(Err(ToolError::internal("internal error: the handler failed unexpectedly")))
            }
        }
    }
}

/// Parse a request's params into `T`; errors name the field and leave out serde's
/// line/column noise.
pub(crate) fn params<'a, T: Deserialize<'a>>(req: &'a Request) -> Result<T, ErrorObject> {
    let raw = req.params.as_deref().map_or("{}", RawValue::get);
    serde_json::from_str(raw).map_err(|e| {
        ErrorObject::invalid_params(format!("invalid params for `{}`: {}", req.method, clean_serde_error(&e)))
    })
}

/// A serde_json error message without the "at line 1 column 7" suffix.
pub fn clean_serde_error(e: &serde_json::Error) -> String {
    let s = e.to_string();
    match s.find(" at line ") {
        Some(i) => s[..i].to_owned(),
        None => s,
    }
}

/// `inputResponses: null` is a malformed request, not an absent field.
fn reject_null_input(params: Option<&RawValue>) -> Result<(), ErrorObject> {
    #[derive(Deserialize)]
    struct Probe {
        #[serde(rename = "inputResponses", default, deserialize_with = "present")]
        input_responses: Option<Box<RawValue>>,
    }
    // `Option` alone would read `null` as absent.
    fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Box<RawValue>>, D::Error> {
        Box::<RawValue>::deserialize(d).map(Some)
    }
    let raw = params.map_or("{}", RawValue::get);
    // Without the key's name (which could only hide behind a `\u` escape) there is
    // nothing to find: skip a third parse of every call's params.
    if !raw.contains("inputResponses") && !raw.contains("\\u") {
        return Ok(());
    }
    match serde_json::from_str::<Probe>(raw) {
        Ok(Probe { input_responses: Some(r) }) if r.get() == "null" => {
            Err(ErrorObject::invalid_params("`inputResponses` must be an object, not null"))
        }
        _ => Ok(()),
    }
}

/// A `tools/call` request read in one pass by [`Server::parse_tool_call`].
pub struct ToolCallRequest<'a> {
    id: RequestId,
    params: CallParams<'a>,
}

impl ToolCallRequest<'_> {
    /// The request's id.
    pub fn id(&self) -> &RequestId {
        &self.id
    }

    /// The tool's name.
    pub fn name(&self) -> &str {
        &self.params.name
    }

    /// The protocol version `_meta` names, if it names one as a string (borrowed from the
    /// request when it has no escapes).
    pub fn protocol_version(&self) -> Option<Cow<'_, str>> {
        RequestMeta::version_of(self.params.meta.as_ref())
    }

    /// Whether the handler could send anything to the client before its answer: only
    /// progress (the request names a `progressToken`) and log messages (it names a
    /// `logLevel`) can; asking for input is an answer of its own (2026-07-28).
    pub fn may_send(&self) -> bool {
        RequestMeta::may_send(self.params.meta.as_ref())
    }
}

/// A `*/list` request read in one pass by [`Server::parse_list_request`].
pub struct ListRequest<'a> {
    id: RequestId,
    kind: ListKind,
    params: ListParams<'a>,
}

impl ListRequest<'_> {
    /// The request's id.
    pub fn id(&self) -> &RequestId {
        &self.id
    }

    /// The request's method (`tools/list`, ...).
    pub fn method(&self) -> &'static str {
        self.kind.method()
    }

    /// `method` as the constant of the list method it names, if it names one (for a
    /// transport that picks the one-pass way from a header).
    pub fn method_of(method: &str) -> Option<&'static str> {
        ListKind::of_method(method).map(ListKind::method)
    }

    /// The protocol version `_meta` names, if it names one as a string.
    pub fn protocol_version(&self) -> Option<Cow<'_, str>> {
        RequestMeta::version_of(self.params.meta.as_ref())
    }

    /// Whether `_meta` names a `progressToken` or a `logLevel`: a transport that answers
    /// such requests on a stream of their own sees them the general way.
    pub fn may_send(&self) -> bool {
        RequestMeta::may_send(self.params.meta.as_ref())
    }
}

impl std::fmt::Debug for ListRequest<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ListRequest").field("id", &self.id).field("method", &self.method()).finish_non_exhaustive()
    }
}

/// The params of a `*/list` request read in one pass.
#[derive(Deserialize, Default)]
struct ListParams<'a> {
    #[serde(default, borrow)]
    cursor: Option<Cow<'a, str>>,
    #[serde(rename = "_meta", default, borrow)]
    meta: Option<RequestMeta<'a>>,
}

/// A request's envelope and params read together.
#[derive(Deserialize)]
#[serde(bound(deserialize = "P: Deserialize<'de>"))]
struct Envelope<'a, P> {
    #[serde(borrow)]
    jsonrpc: &'a RawValue,
    id: RequestId,
    #[serde(borrow)]
    method: Cow<'a, str>,
    #[serde(default)]
    params: Option<P>,
    #[serde(default, borrow)]
    result: Option<&'a RawValue>,
    #[serde(default, borrow)]
    error: Option<&'a RawValue>,
}

/// Read `bytes` as one request with params `P` in one pass; `None` for anything else and
/// for what the general way decides (see [`Server::parse_tool_call`]).
fn read_request<'a, P: Deserialize<'a>>(bytes: &'a [u8]) -> Option<(RequestId, Cow<'a, str>, Option<P>)> {
    let text = std::str::from_utf8(bytes).ok()?;
    // An array is a batch (serde would read it as the envelope's members in order).
    if !text.trim_start().starts_with('{')
        || text.contains("inputResponses")
        || text.contains("\\u")
        || crate::protocol::jsonrpc::nests_too_deep(bytes)
    {
        return None;
    }
    let env: Envelope<'a, P> = serde_json::from_str(text).ok()?;
    let valid = env.jsonrpc.get() == "\"2.0\"" && env.result.is_none() && env.error.is_none();
    valid.then_some((env.id, env.method, env.params))
}

impl std::fmt::Debug for ToolCallRequest<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ToolCallRequest").field("id", &self.id).field("name", &self.params.name).finish_non_exhaustive()
    }
}

/// A method name handlers see in their [`Context`]: the constant for those that have one
/// (no copy per request).
fn static_method(method: &str) -> Cow<'static, str> {
    match method {
        methods::TOOLS_CALL => Cow::Borrowed(methods::TOOLS_CALL),
        methods::RESOURCES_READ => Cow::Borrowed(methods::RESOURCES_READ),
        methods::PROMPTS_GET => Cow::Borrowed(methods::PROMPTS_GET),
        methods::COMPLETION_COMPLETE => Cow::Borrowed(methods::COMPLETION_COMPLETE),
        other => Cow::Owned(other.to_owned()),
    }
}

/// The params of a `*/list` request as the dispatcher reads them: the cursor, borrowed
/// when it can be (`_meta` was read already; everything else is skipped).
#[derive(Deserialize)]
struct Cursor<'a> {
    #[serde(default, borrow)]
    cursor: Option<Cow<'a, str>>,
}

/// What a handler's context and the checks before it need of a request: borrowed, so a
/// request read in one pass needs no [`Request`] made for it.
#[derive(Clone, Copy)]
struct Head<'r> {
    id: &'r RequestId,
    method: &'r str,
    params: Option<&'r RawValue>,
}

impl<'r> Head<'r> {
    fn of(req: &'r Request) -> Self {
        Head { id: &req.id, method: &req.method, params: req.params.as_deref() }
    }
}

/// A `tools/call` after its checks, for the future that finishes it: answered already
/// (refused), or ready to run.
enum Next {
    Done(Routed),
    Run(ToolCall),
}

impl Next {
    /// The answer: the one already known, or the tool's. (In place: moving the tool call
    /// into the future would keep it twice.)
    async fn finish(&mut self, server: &Server, inbound: &Inbound) -> CallRouted {
        match self {
            Next::Done(r) => std::mem::replace(r, Ok(None)).map(|raw| raw.map(Answer::Ready)),
            Next::Run(call) => server.run_tool(call, inbound).await,
        }
    }
}

/// A tool ready to run, with what its answer needs.
struct ToolCall {
    tool: usize,
    arguments: Map<String, Value>,
    ctx: Context,
    _tracked: Tracked,
    key: RequestKey,
    version: ProtocolVersion,
}

/// [`CallToolParams`](crate::protocol::CallToolParams) as the dispatcher reads it: the
/// name borrowed, `_meta` as [`RequestMeta`], `task` skipped.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CallParams<'a> {
    #[serde(borrow)]
    name: std::borrow::Cow<'a, str>,
    #[serde(default)]
    arguments: Option<Map<String, Value>>,
    #[serde(default)]
    input_responses: Option<InputResponses>,
    #[serde(default)]
    request_state: Option<String>,
    #[serde(rename = "_meta", default, borrow)]
    meta: Option<RequestMeta<'a>>,
}

/// The `_meta` members the dispatcher reads, borrowed from the request's params (`null`
/// counts as present, to be refused where a value is required).
#[derive(Deserialize, Default)]
struct RequestMeta<'a> {
    #[serde(rename = "io.modelcontextprotocol/protocolVersion", default, borrow, deserialize_with = "present")]
    protocol_version: Option<&'a RawValue>,
    #[serde(rename = "io.modelcontextprotocol/clientCapabilities", default, borrow, deserialize_with = "present")]
    client_capabilities: Option<&'a RawValue>,
    #[serde(rename = "io.modelcontextprotocol/clientInfo", default, borrow, deserialize_with = "present")]
    client_info: Option<&'a RawValue>,
    #[serde(rename = "io.modelcontextprotocol/logLevel", default, borrow, deserialize_with = "present")]
    log_level: Option<&'a RawValue>,
    #[serde(rename = "progressToken", default, borrow, deserialize_with = "present")]
    progress_token: Option<&'a RawValue>,
}

impl RequestMeta<'_> {
    /// The version `meta` names as a string, if it does.
    fn version_of<'m>(meta: Option<&'m RequestMeta<'_>>) -> Option<Cow<'m, str>> {
        meta?.protocol_version.and_then(str_value)
    }

    /// Whether `meta` names a progress token or a log level.
    fn may_send(meta: Option<&RequestMeta<'_>>) -> bool {
        meta.is_some_and(|m| m.progress_token.is_some() || m.log_level.is_some())
    }
}

fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<&'de RawValue>, D::Error> {
    <&'de RawValue>::deserialize(d).map(Some)
}

/// The request's `_meta`, in one pass over the params that copies nothing.
fn read_meta(req: &Request) -> Result<RequestMeta<'_>, ErrorObject> {
    #[derive(Deserialize)]
    struct MetaOf<'a> {
        #[serde(rename = "_meta", default, borrow)]
        meta: Option<RequestMeta<'a>>,
    }
    let Some(raw) = req.params.as_deref() else { return Ok(RequestMeta::default()) };
    match serde_json::from_str::<MetaOf<'_>>(raw.get()) {
        Ok(m) => Ok(m.meta.unwrap_or_default()),
        // Say which part is wrong.
        Err(e) => {
            #[derive(Deserialize)]
            struct RawMeta<'a> {
                #[serde(rename = "_meta", default, borrow)]
                meta: Option<&'a RawValue>,
            }
            Err(match serde_json::from_str::<RawMeta<'_>>(raw.get()) {
                Err(_) => ErrorObject::invalid_params(format!("`params` of `{}` must be an object", req.method)),
                Ok(RawMeta { meta: Some(m) }) if m.get().starts_with('{') => {
                    ErrorObject::invalid_params(format!("invalid `_meta`: {}", clean_serde_error(&e)))
                }
                Ok(_) => ErrorObject::invalid_params("`_meta` must be an object"),
            })
        }
    }
}

fn header_mismatch(message: String) -> ErrorObject {
    ErrorObject::new(codes::HEADER_MISMATCH, message)
}

/// `MCP-Protocol-Version` against the version `_meta` names, if it names one.
fn check_mirrored_version(inbound: &Inbound, meta: &RequestMeta<'_>) -> Result<(), ErrorObject> {
    let (Some(headers), Some(body)) = (&inbound.mirrored, meta.protocol_version) else { return Ok(()) };
    let Some(header) = headers.protocol_version.as_deref() else { return Ok(()) };
    let text = str_value(body);
    if text.as_deref() == Some(header) {
        return Ok(());
    }
    Err(header_mismatch(format!(
        "Header mismatch: MCP-Protocol-Version header value '{header}' does not match body value '{}'",
        text.as_deref().unwrap_or(body.get())
    )))
}

/// `Mcp-Name` against the body's `name` (or `uri`), if it has one.
fn check_mirrored_name(inbound: &Inbound, body: Option<&str>) -> Result<(), ErrorObject> {
    let (Some(headers), Some(body)) = (&inbound.mirrored, body) else { return Ok(()) };
    match &headers.name {
        None => Err(header_mismatch("Header mismatch: the Mcp-Name header is required for this method".into())),
        Some(v) if v == body => Ok(()),
        Some(v) => Err(header_mismatch(format!(
            "Header mismatch: Mcp-Name header value '{v}' does not match body value '{body}'"
        ))),
    }
}

fn progress_token(meta: &RequestMeta<'_>) -> Option<ProgressToken> {
    meta.progress_token.and_then(|raw| serde_json::from_str(raw.get()).ok())
}

fn supported_list() -> String {
    ProtocolVersion::ALL.iter().rev().map(|v| v.as_str()).collect::<Vec<_>>().join(", ")
}

fn unsupported_version(requested: &RawValue) -> ErrorObject {
    ErrorObject::new(codes::UNSUPPORTED_PROTOCOL_VERSION, "Unsupported protocol version").with_data(serde_json::json!({
        "supported": ProtocolVersion::ALL.iter().rev().map(|v| v.as_str()).collect::<Vec<_>>(),
        "requested": requested,
    }))
}

fn modern_facts(v: ProtocolVersion, meta: &RequestMeta<'_>) -> Result<Facts, ErrorObject> {
    fn field<T: DeserializeOwned>(raw: Option<&RawValue>, key: &str, what: &str) -> Result<Option<T>, ErrorObject> {
        match raw {
            None => Ok(None),
            Some(raw) => serde_json::from_str(raw.get()).map(Some).map_err(|e| {
                ErrorObject::invalid_params(format!("`_meta[\"{key}\"]` must be {what}: {}", clean_serde_error(&e)))
            }),
        }
    }
    let client_capabilities = field::<ClientCapabilities>(
        meta.client_capabilities,
        meta::CLIENT_CAPABILITIES,
        "a ClientCapabilities object",
    )?
    .ok_or_else(|| {
        ErrorObject::invalid_params(format!(
            "missing `_meta[\"{}\"]`: every 2026-07-28 request must declare the client's capabilities",
            meta::CLIENT_CAPABILITIES
        ))
    })?;
    let client_info = field::<Implementation>(meta.client_info, meta::CLIENT_INFO, "an Implementation object")?;
    let log_level = field::<LoggingLevel>(
        meta.log_level,
        meta::LOG_LEVEL,
        "one of debug, info, notice, warning, error, critical, alert, emergency",
    )?;
    let progress_token = field::<ProgressToken>(meta.progress_token, meta::PROGRESS_TOKEN, "a string or an integer")?;
    Ok(Facts {
        version: v,
        client_info: client_info.map(OwnedOrShared::Owned),
        client_capabilities: OwnedOrShared::Owned(client_capabilities),
        log_level,
        progress_token,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(params: &str) -> Request {
        serde_json::from_str(&format!(r#"{{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{params}}}"#)).unwrap()
    }

    #[test]
    fn null_input_responses_are_refused_even_when_escaped() {
        assert!(reject_null_input(request(r#"{"name":"x","inputResponses":null}"#).params.as_deref()).is_err());
        assert!(reject_null_input(request(r#"{"name":"x","input\u0052esponses":null}"#).params.as_deref()).is_err());
        assert!(reject_null_input(request(r#"{"name":"x","inputResponses":{}}"#).params.as_deref()).is_ok());
        assert!(reject_null_input(request(r#"{"name":"x","arguments":{"a":null}}"#).params.as_deref()).is_ok());
        assert!(reject_null_input(request(r#"{"name":"\u0078"}"#).params.as_deref()).is_ok());
    }

    #[test]
    fn the_request_key_is_canonical() {
        let a: Map<String, Value> = serde_json::from_str(r#"{"b":1,"a":[2]}"#).unwrap();
        let b: Map<String, Value> = serde_json::from_str(r#"{ "a": [2], "b": 1 }"#).unwrap();
        let key = |m| RequestKey::new(methods::TOOLS_CALL, "t", Some(m)).digest().unwrap();
        assert_eq!(key(&a), key(&b));
        assert_ne!(key(&a), RequestKey::new(methods::TOOLS_CALL, "u", Some(&a)).digest().unwrap());
        assert_ne!(key(&a), RequestKey::new(methods::TOOLS_CALL, "t", None).digest().unwrap());
        assert!(RequestKey::none().digest().is_err());
    }
}
