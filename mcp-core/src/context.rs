//! What a handler receives besides its arguments.

use std::sync::{Arc, Mutex};

use serde::de::DeserializeOwned;
use serde_json::Value;
pub use tokio_util::sync::CancellationToken;

use crate::error::ToolError;
use crate::extensions::{Extensions, Principal};
use crate::protocol::{
    ClientCapabilities, CompleteContext, CreateMessageParams, CreateMessageResult, ElicitParams, ElicitResult,
    Implementation, InputRequest, InputRequests, InputResponses, ListRootsResult, LoggingLevel, LoggingMessageParams,
    Message, Notification, Outcome, ProgressParams, ProgressToken, ProtocolVersion, Request, RequestId, methods,
};

use crate::session::{Session, lock};
use crate::sink::Sink;

/// Input gathered for a 2026-07-28 request through multi round-trip requests.
#[derive(Debug, Default)]
pub(crate) struct InputState {
    /// Answers available to this execution (from `inputResponses` and the request state).
    pub(crate) responses: InputResponses,
    /// Number of asks made so far in this execution.
    pub(crate) seq: usize,
    /// Asks that had no answer yet.
    pub(crate) pending: InputRequests,
}

/// A value a request's context owns (read from a 2026-07-28 request) or shares with its
/// legacy session (no copy per request).
#[derive(Debug)]
pub(crate) enum OwnedOrShared<T> {
    Owned(T),
    Shared(Arc<T>),
}

impl<T> std::ops::Deref for OwnedOrShared<T> {
    type Target = T;
    fn deref(&self) -> &T {
        match self {
            OwnedOrShared::Owned(v) => v,
            OwnedOrShared::Shared(v) => v,
        }
    }
}

pub(crate) struct ContextParts {
    pub(crate) request_id: RequestId,
    pub(crate) method: std::borrow::Cow<'static, str>,
    pub(crate) version: ProtocolVersion,
    pub(crate) client_info: Option<OwnedOrShared<Implementation>>,
    pub(crate) client_capabilities: OwnedOrShared<ClientCapabilities>,
    pub(crate) extensions: Extensions,
    pub(crate) progress_token: Option<ProgressToken>,
    pub(crate) log_level: Option<LoggingLevel>,
    pub(crate) sink: Option<Sink>,
    pub(crate) cancel: CancellationToken,
    pub(crate) session: Option<Arc<Session>>,
    pub(crate) responses: InputResponses,
    pub(crate) completion: Option<CompleteContext>,
    pub(crate) events: Option<tokio::sync::broadcast::Sender<crate::ServerEvent>>,
}

struct Inner {
    parts: ContextParts,
    input: Mutex<InputState>,
    last_progress: Mutex<Option<f64>>,
}

/// The request context: who is calling, with which protocol version and capabilities, and
/// the means to report progress, log, notice cancellation and ask the client for input.
///
/// Handlers do not know which transport carries them: progress and log messages go
/// wherever the transport routes notifications for this request, and asking the client
/// works both in a legacy session (a request to the client) and in 2026-07-28 (an
/// `input_required` result and a retry).
///
/// Cloning is cheap.
#[derive(Clone)]
pub struct Context {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Context {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context")
            .field("request_id", &self.inner.parts.request_id)
            .field("method", &self.inner.parts.method)
            .field("version", &self.inner.parts.version)
            .finish_non_exhaustive()
    }
}

impl Context {
    pub(crate) fn new(parts: ContextParts) -> Self {
        let responses = parts.responses.clone();
        Context {
            inner: Arc::new(Inner {
                parts,
                input: Mutex::new(InputState { responses, ..Default::default() }),
                last_progress: Mutex::new(None),
            }),
        }
    }

    /// A context for calling handlers directly in tests: protocol 2026-07-28, no
    /// capabilities, no transport.
    pub fn detached() -> Self {
        Self::new(ContextParts {
            request_id: RequestId::Number(0),
            method: std::borrow::Cow::Borrowed(methods::TOOLS_CALL),
            version: ProtocolVersion::LATEST,
            client_info: None,
            client_capabilities: OwnedOrShared::Owned(ClientCapabilities::default()),
            extensions: Extensions::new(),
            progress_token: None,
            log_level: None,
            sink: None,
            cancel: CancellationToken::new(),
            session: None,
            responses: InputResponses::new(),
            completion: None,
            events: None,
        })
    }

    /// Tell subscribed clients that something changed (for example after this tool
    /// enabled more tools, or changed a resource): the same as
    /// [`Server::notify`](crate::Server::notify).
    pub fn notify(&self, event: crate::ServerEvent) {
        if let Some(tx) = &self.inner.parts.events {
            // No receivers is fine: nobody is listening.
            let _ = tx.send(event);
        }
    }

    /// In a `completion/complete` request, the values of the other arguments.
    pub fn completion_context(&self) -> Option<&CompleteContext> {
        self.inner.parts.completion.as_ref()
    }

    /// The JSON-RPC id of the request.
    pub fn request_id(&self) -> &RequestId {
        &self.inner.parts.request_id
    }

    /// The method being served.
    pub fn method(&self) -> &str {
        &self.inner.parts.method
    }

    /// The protocol version of this request.
    pub fn protocol_version(&self) -> ProtocolVersion {
        self.inner.parts.version
    }

    /// The client's identity, if it said.
    pub fn client_info(&self) -> Option<&Implementation> {
        self.inner.parts.client_info.as_deref()
    }

    /// The client's capabilities.
    pub fn client_capabilities(&self) -> &ClientCapabilities {
        &self.inner.parts.client_capabilities
    }

    /// Request-scoped values (the principal, app state).
    pub fn extensions(&self) -> &Extensions {
        &self.inner.parts.extensions
    }

    /// Shortcut for `extensions().get::<T>()`.
    pub fn get<T: Send + Sync + 'static>(&self) -> Option<&T> {
        self.inner.parts.extensions.get::<T>()
    }

    /// The authenticated caller, if an auth layer put one in.
    pub fn principal(&self) -> Option<&Principal> {
        self.get::<Principal>()
    }

    /// The legacy session, if the request belongs to one.
    pub fn session(&self) -> Option<&Arc<Session>> {
        self.inner.parts.session.as_ref()
    }

    /// Fires when the client cancels the request or goes away.
    pub fn cancellation(&self) -> &CancellationToken {
        &self.inner.parts.cancel
    }

    /// Whether the request was cancelled.
    pub fn is_cancelled(&self) -> bool {
        self.inner.parts.cancel.is_cancelled()
    }

    /// The progress token, if the client asked for progress.
    pub fn progress_token(&self) -> Option<&ProgressToken> {
        self.inner.parts.progress_token.as_ref()
    }

    /// Report progress. Does nothing when the client did not ask for progress; a value not
    /// larger than the previous one is skipped (progress must increase).
    pub async fn progress(&self, progress: f64, total: Option<f64>, message: Option<&str>) {
        let Some(token) = self.inner.parts.progress_token.clone() else { return };
        {
            let mut last = lock(&self.inner.last_progress);
            if last.is_some_and(|l| progress <= l) || !progress.is_finite() {
                return;
            }
            *last = Some(progress);
        }
        let params =
            ProgressParams { progress_token: token, progress, total, message: message.map(Into::into), meta: None };
        self.send(Notification::new(methods::PROGRESS, &params)).await;
    }

    /// The minimum level the client wants log messages at, `None` when it wants none.
    pub fn log_level(&self) -> Option<LoggingLevel> {
        if self.inner.parts.version.is_modern() {
            return self.inner.parts.log_level;
        }
        // Legacy: the session's level, or everything until the client sets one.
        match &self.inner.parts.session {
            Some(s) => Some(s.read(|st| st.log_level).unwrap_or(LoggingLevel::Debug)),
            None => self.inner.parts.log_level,
        }
    }

    /// Send a log message to the client (`notifications/message`) if its level is at or
    /// above what the client asked for.
    pub async fn log(&self, level: LoggingLevel, logger: Option<&str>, data: impl Into<Value>) {
        let Some(min) = self.log_level() else { return };
        if level < min {
            return;
        }
        let params = LoggingMessageParams { level, logger: logger.map(Into::into), data: data.into(), meta: None };
        self.send(Notification::new(methods::MESSAGE, &params)).await;
    }

    /// Log at `info`.
    pub async fn info(&self, message: impl Into<String>) {
        self.log(LoggingLevel::Info, None, Value::String(message.into())).await;
    }

    /// Log at `warning`.
    pub async fn warn(&self, message: impl Into<String>) {
        self.log(LoggingLevel::Warning, None, Value::String(message.into())).await;
    }

    /// Log at `debug`.
    pub async fn debug(&self, message: impl Into<String>) {
        self.log(LoggingLevel::Debug, None, Value::String(message.into())).await;
    }

    async fn send(&self, notification: Notification) {
        if let Some(sink) = &self.inner.parts.sink {
            // A closed sink means the client went away; cancellation follows separately.
            let _ = sink.send(Message::Notification(notification)).await;
        }
    }

    /// Ask the user for input through the client (`elicitation/create`).
    ///
    /// In a legacy session this sends a request to the client and waits for the answer.
    /// In 2026-07-28 the first call ends the handler with an `input_required` result; the
    /// client retries the request with the answer, the handler runs again and this call
    /// then returns the answer. Handlers must therefore have no side effects before their
    /// last ask. The answer is keyed `elicitation-N` (the N-th ask of this run); use
    /// [`Context::elicit_as`] to choose the key.
    pub async fn elicit(&self, params: ElicitParams) -> Result<ElicitResult, ToolError> {
        self.elicit_keyed(None, params).await
    }

    /// [`Context::elicit`] with a chosen key for the 2026-07-28 `inputRequests` map.
    pub async fn elicit_as(&self, key: &str, params: ElicitParams) -> Result<ElicitResult, ToolError> {
        self.elicit_keyed(Some(key), params).await
    }

    async fn elicit_keyed(&self, key: Option<&str>, params: ElicitParams) -> Result<ElicitResult, ToolError> {
        let caps = self.client_capabilities();
        let ok = if params.mode.as_deref() == Some("url") {
            caps.supports_elicitation_url()
        } else {
            caps.supports_elicitation_form()
        };
        if !ok {
            return Err(ToolError::missing_capability("elicitation"));
        }
        self.ask(key, InputRequest::Elicit(params), "elicitation").await
    }

    /// Ask the client's model for a completion (`sampling/createMessage`); see
    /// [`Context::elicit`] for how this works in each era.
    pub async fn sample(&self, params: CreateMessageParams) -> Result<CreateMessageResult, ToolError> {
        self.sample_keyed(None, params).await
    }

    /// [`Context::sample`] with a chosen key.
    pub async fn sample_as(&self, key: &str, params: CreateMessageParams) -> Result<CreateMessageResult, ToolError> {
        self.sample_keyed(Some(key), params).await
    }

    async fn sample_keyed(
        &self,
        key: Option<&str>,
        params: CreateMessageParams,
    ) -> Result<CreateMessageResult, ToolError> {
        if self.client_capabilities().sampling.is_none() {
            return Err(ToolError::missing_capability("sampling"));
        }
        self.ask(key, InputRequest::CreateMessage(params), "sampling").await
    }

    /// Ask the client for its roots (`roots/list`); see [`Context::elicit`].
    pub async fn list_roots(&self) -> Result<ListRootsResult, ToolError> {
        self.list_roots_keyed(None).await
    }

    /// [`Context::list_roots`] with a chosen key.
    pub async fn list_roots_as(&self, key: &str) -> Result<ListRootsResult, ToolError> {
        self.list_roots_keyed(Some(key)).await
    }

    async fn list_roots_keyed(&self, key: Option<&str>) -> Result<ListRootsResult, ToolError> {
        if self.client_capabilities().roots.is_none() {
            return Err(ToolError::missing_capability("roots"));
        }
        self.ask(key, InputRequest::ListRoots, "roots").await
    }

    async fn ask<T: DeserializeOwned>(
        &self,
        key: Option<&str>,
        request: InputRequest,
        kind: &str,
    ) -> Result<T, ToolError> {
        let method = request.method();
        if self.inner.parts.version.is_modern() {
            let mut st = lock(&self.inner.input);
            st.seq += 1;
            let key = key.map_or_else(|| format!("{kind}-{}", st.seq), str::to_owned);
            // A missing or malformed answer asks again rather than failing.
            if let Some(answer) = st.responses.get(&key).and_then(|v| T::deserialize(v).ok()) {
                return Ok(answer);
            }
            st.responses.remove(&key);
            st.pending.insert(key, request);
            return Err(ToolError::input_required());
        }
        let answer = self.request_client(request).await?;
        serde_json::from_value(answer)
            .map_err(|e| ToolError::internal(format!("the client's answer to `{method}` is malformed: {e}")))
    }

    async fn request_client(&self, request: InputRequest) -> Result<Value, ToolError> {
        let method = request.method();
        let (Some(session), Some(sink)) = (&self.inner.parts.session, &self.inner.parts.sink) else {
            return Err(ToolError::internal(format!("this transport cannot send `{method}` requests to the client")));
        };
        let (id, rx) = session.peer().register();
        let params = request.params().unwrap_or_else(|| Value::Object(Default::default()));
        if sink.send(Message::Request(Request::new(id.clone(), method, &params))).await.is_err() {
            session.peer().forget(&id);
            return Err(ToolError::cancelled());
        }
        let outcome = tokio::select! {
            r = rx => r.map_err(|_| ToolError::cancelled())?,
            _ = self.inner.parts.cancel.cancelled() => {
                session.peer().forget(&id);
                return Err(ToolError::cancelled());
            }
        };
        match outcome {
            Outcome::Result(raw) => serde_json::from_str(raw.get())
                .map_err(|e| ToolError::internal(format!("the client's answer to `{method}` is not JSON: {e}"))),
            Outcome::Error(e) => {
                Err(ToolError::internal(format!("the client refused `{method}`: {} (code {})", e.message, e.code)))
            }
        }
    }

    /// Input requests made during this execution that had no answer yet.
    pub(crate) fn take_pending_input(&self) -> (InputRequests, InputResponses) {
        let mut st = lock(&self.inner.input);
        (std::mem::take(&mut st.pending), st.responses.clone())
    }
}
