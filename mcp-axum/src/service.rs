//! The endpoint: POST (both eras), GET (legacy server-to-client stream), DELETE (legacy
//! session end).

// Refusals are ready HTTP responses returned on cold paths; boxing them buys nothing.
#![allow(clippy::result_large_err)]

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use base64::Engine as _;
use bytes::Bytes;
use futures_util::FutureExt as _;
use futures_util::future::Either;
use http::header::AsHeaderName;
use http::header::{ACCEPT, ALLOW, CACHE_CONTROL, CONTENT_TYPE, WWW_AUTHENTICATE};
use http::{HeaderMap, HeaderName, HeaderValue, Method, Request, Response, StatusCode};
use mcp_core::protocol::jsonrpc::{Parsed, parse, str_value};
use mcp_core::protocol::{ErrorObject, Message, ProtocolVersion, RequestId, codes, methods};
use mcp_core::{
    Extensions, Inbound, ListRequest, MirroredHeaders, Principal, Reply, Server, Session, Sink, SinkReceiver,
};
use serde::Deserialize;
use serde_json::Value;
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::future::Future;
use tokio::sync::mpsc;
use tokio_util::sync::{CancellationToken, DropGuard};

use crate::auth::{Auth, AuthError};
use crate::security::{Policy, Refusal};
use crate::session::{Live, Sessions, StreamEvent};

/// `Mcp-Session-Id`.
pub const SESSION_ID: &str = "mcp-session-id";
/// `MCP-Protocol-Version`.
pub const PROTOCOL_VERSION: &str = "mcp-protocol-version";
/// `Mcp-Method`.
pub const MCP_METHOD: &str = "mcp-method";
/// `Mcp-Name`.
pub const MCP_NAME: &str = "mcp-name";
/// `Last-Event-ID`.
pub const LAST_EVENT_ID: &str = "last-event-id";

// The same names, parsed once (a `&str` name is parsed on every lookup).
const SESSION_ID_H: HeaderName = HeaderName::from_static(SESSION_ID);
const PROTOCOL_VERSION_H: HeaderName = HeaderName::from_static(PROTOCOL_VERSION);
const MCP_METHOD_H: HeaderName = HeaderName::from_static(MCP_METHOD);
const MCP_NAME_H: HeaderName = HeaderName::from_static(MCP_NAME);
const LAST_EVENT_ID_H: HeaderName = HeaderName::from_static(LAST_EVENT_ID);

pub(crate) struct Config {
    pub(crate) policy: Policy,
    pub(crate) body_limit: usize,
    pub(crate) keep_alive: Duration,
    pub(crate) event_buffer: usize,
    pub(crate) legacy: bool,
}

pub(crate) struct Inner {
    pub(crate) server: Server,
    pub(crate) config: Config,
    pub(crate) sessions: Sessions,
    /// Whether the listener for messages forwarded by other replicas runs.
    pub(crate) forwarding: std::sync::Once,
    pub(crate) auth: Option<AuthConfig>,
    /// The endpoint's path.
    pub(crate) path: String,
}

/// Authentication, with the resource URI when it is fixed by configuration.
pub(crate) struct AuthConfig {
    pub(crate) auth: Auth,
    pub(crate) resource: Option<String>,
}

impl Inner {
    /// This server's canonical resource URI: configured, else the URL the request was
    /// addressed to (forwarded headers only when trusted), built only from a host the
    /// policy accepts.
    fn resource(&self, parts: &http::request::Parts) -> Result<String, Refusal> {
        if let Some(r) = self.auth.as_ref().and_then(|a| a.resource.clone()) {
            return Ok(r);
        }
        let policy = &self.config.policy;
        let host = policy.accepted_host(&parts.headers, parts.uri.authority().map(|a| a.as_str()))?;
        let scheme = if policy.trust_forwarded {
            header(&parts.headers, "x-forwarded-proto").and_then(|p| p.split(',').next()).map_or("http", str::trim)
        } else {
            "http"
        };
        let scheme = if scheme.eq_ignore_ascii_case("https") { "https" } else { "http" };
        Ok(format!("{scheme}://{host}{}", self.path))
    }

    /// Whether the resource URI (and so the metadata and the challenges) depends on the
    /// request's host.
    fn resource_from_request(&self) -> bool {
        self.auth.as_ref().is_some_and(|a| a.resource.is_none())
    }

    /// A `401` or `403` with the RFC 6750/9728 challenge and a JSON-RPC error body.
    fn auth_refusal(
        &self,
        parts: &http::request::Parts,
        status: StatusCode,
        id: Option<RequestId>,
        scope: &[String],
        error: Option<(&str, &str)>,
        message: String,
    ) -> Resp {
        let resource = match self.resource(parts) {
            Ok(r) => r,
            Err(refusal) => return forbidden(refusal),
        };
        let url = crate::auth::metadata_url(&resource);
        let mut r = rpc_error(status, id, ErrorObject::new(codes::INVALID_REQUEST, message));
        r.headers_mut().insert(WWW_AUTHENTICATE, crate::auth::challenge(&url, scope, error));
        if self.resource_from_request() {
            vary_on_host(&mut r, &self.config.policy);
        }
        r
    }
}

/// `403` for a host or origin the policy refuses.
fn forbidden(refusal: Refusal) -> Resp {
    let msg = match refusal {
        Refusal::Host(h) => {
            format!("Forbidden: host `{h}` is not allowed (configure it with `McpRouter::public_url` or `allow_host`)")
        }
        Refusal::Origin(o) => {
            format!("Forbidden: origin `{o}` is not allowed (configure it with `McpRouter::allow_origin`)")
        }
    };
    plain(StatusCode::FORBIDDEN, codes::INVALID_REQUEST, msg)
}

/// A response derived from the request's host: caches must not share it across hosts.
fn vary_on_host(r: &mut Resp, policy: &Policy) {
    let vary = if policy.trust_forwarded { "Host, X-Forwarded-Host, X-Forwarded-Proto" } else { "Host" };
    r.headers_mut().append(http::header::VARY, HeaderValue::from_static(vary));
}

/// `GET /.well-known/oauth-protected-resource[/path]`: the RFC 9728 document. Public:
/// readable from any origin (browser-based clients fetch it), but built only for a host
/// the policy accepts, and cached for long only when it does not depend on the host.
pub(crate) fn protected_resource_metadata(inner: &Inner, req: Request<Body>) -> Resp {
    let Some(cfg) = &inner.auth else {
        return plain(StatusCode::NOT_FOUND, codes::INVALID_REQUEST, "Not Found");
    };
    let (parts, _) = req.into_parts();
    let mut r = if parts.method == Method::OPTIONS {
        crate::cors::metadata_preflight()
    } else if parts.method != Method::GET && parts.method != Method::HEAD {
        method_not_allowed("GET")
    } else {
        let resource = match inner.resource(&parts) {
            Ok(r) => r,
            Err(refusal) => return forbidden(refusal),
        };
        let doc = cfg.auth.metadata(&resource, &inner.server.all_tool_scopes());
        let mut r = json_response(StatusCode::OK, doc);
        if inner.resource_from_request() {
            r.headers_mut().insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
            vary_on_host(&mut r, &inner.config.policy);
        } else {
            r.headers_mut().insert(CACHE_CONTROL, HeaderValue::from_static("max-age=3600"));
        }
        r
    };
    r.headers_mut().insert("access-control-allow-origin", HeaderValue::from_static("*"));
    r
}

type Resp = Response<Body>;

fn json_response(status: StatusCode, body: Vec<u8>) -> Resp {
    let mut r = Response::new(Body::from(body));
    *r.status_mut() = status;
    r.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    r
}

fn rpc_error(status: StatusCode, id: Option<RequestId>, error: ErrorObject) -> Resp {
    json_response(status, mcp_core::protocol::Response::error(id, error).to_vec())
}

fn plain(status: StatusCode, code: i32, message: impl Into<String>) -> Resp {
    rpc_error(status, None, ErrorObject::new(code, message))
}

fn header(h: &HeaderMap, name: impl AsHeaderName) -> Option<&str> {
    h.get(name).and_then(|v| v.to_str().ok())
}

/// The HTTP status for a JSON-RPC error of a 2026-07-28 request.
fn modern_status(code: i32) -> StatusCode {
    match code {
        codes::METHOD_NOT_FOUND => StatusCode::NOT_FOUND,
        codes::PARSE_ERROR
        | codes::INVALID_REQUEST
        | codes::INVALID_PARAMS
        | codes::HEADER_MISMATCH
        | codes::MISSING_REQUIRED_CLIENT_CAPABILITY
        | codes::UNSUPPORTED_PROTOCOL_VERSION => StatusCode::BAD_REQUEST,
        codes::INTERNAL_ERROR => StatusCode::INTERNAL_SERVER_ERROR,
        _ => StatusCode::OK,
    }
}

/// Whether a media type list accepts both JSON and event streams (one pass).
fn accepts_json_and_sse(accept: Option<&str>) -> bool {
    let Some(accept) = accept else { return true };
    if accept == "application/json, text/event-stream" {
        return true; // What the SDKs send.
    }
    let (mut json, mut sse) = (false, false);
    for item in accept.split(',') {
        let media = item.split(';').next().unwrap_or_default().trim();
        let (t, sub) = media.split_once('/').unwrap_or((media, ""));
        let any_sub = sub == "*";
        if t == "*" && any_sub {
            return true;
        }
        json |= t.eq_ignore_ascii_case("application") && (any_sub || sub.eq_ignore_ascii_case("json"));
        sse |= t.eq_ignore_ascii_case("text") && (any_sub || sub.eq_ignore_ascii_case("event-stream"));
    }
    json && sse
}

/// Whether a media type list accepts `wanted` (`type/subtype`).
fn accepts(accept: Option<&str>, wanted: &str) -> bool {
    let Some(accept) = accept else { return true };
    let (ty, _) = wanted.split_once('/').unwrap_or((wanted, ""));
    accept.split(',').any(|item| {
        let media = item.split(';').next().unwrap_or_default().trim();
        let (t, sub) = media.split_once('/').unwrap_or((media, ""));
        media.eq_ignore_ascii_case(wanted) || (sub == "*" && (t == "*" || t.eq_ignore_ascii_case(ty)))
    })
}

/// The endpoint. Every request's future is allocated (by axum), so what it keeps is
/// watched: the request is taken apart before the future starts (an argument is kept for
/// the future's whole life) and what each method does is boxed on its own.
pub(crate) fn handle(inner: Arc<Inner>, req: Request<Body>) -> impl Future<Output = Resp> + Send {
    let (parts, body) = req.into_parts();
    serve(inner, parts, body)
}

async fn serve(inner: Arc<Inner>, parts: http::request::Parts, body: Body) -> Resp {
    inner.forwarding.call_once(|| listen_forwarded(&inner));
    if let Err(refusal) = inner.config.policy.check(&parts.headers, parts.uri.authority().map(|a| a.as_str())) {
        return forbidden(refusal);
    }
    // An origin the policy allowed may read the answer (browser clients); preflights are
    // answered before authentication (browsers send them without credentials).
    let Some(origin) = parts.headers.get(http::header::ORIGIN).cloned() else {
        return serve_allowed(inner, parts, body).await;
    };
    if let Some(r) = crate::cors::preflight(&parts.method, &parts.headers) {
        return r;
    }
    let mut r = Box::pin(serve_allowed(inner, parts, body)).await;
    crate::cors::expose(&mut r, origin);
    r
}

/// A request the Host/Origin policy allowed.
async fn serve_allowed(inner: Arc<Inner>, mut parts: http::request::Parts, body: Body) -> Resp {
    if let Some(cfg) = &inner.auth {
        let required = &cfg.auth.required_scopes;
        // Boxed here and below: futures of calls not every request makes would otherwise
        // size the future of every request.
        match Box::pin(cfg.auth.authenticate(&parts)).await {
            Ok(Some(principal)) => {
                let missing: Vec<&String> = required.iter().filter(|s| !principal.has_scope(s)).collect();
                if !missing.is_empty() {
                    let message = format!(
                        "Forbidden: this server needs the scope(s) {}",
                        missing.iter().map(|s| format!("`{s}`")).collect::<Vec<_>>().join(", ")
                    );
                    let error = Some(("insufficient_scope", message.as_str()));
                    return inner.auth_refusal(&parts, StatusCode::FORBIDDEN, None, required, error, message.clone());
                }
                parts.extensions.insert(principal);
            }
            Ok(None) => {
                // Anonymous access allowed: nobody may pose as a principal through the
                // extensions then.
                parts.extensions.remove::<Principal>();
            }
            Err(AuthError::Missing) => {
                let message = "Unauthorized: send `Authorization: Bearer <access token>`".to_owned();
                let scope = cfg.auth.challenge_scopes();
                return inner.auth_refusal(&parts, StatusCode::UNAUTHORIZED, None, scope, None, message);
            }
            Err(AuthError::Invalid(why)) => {
                let message = format!("Unauthorized: {why}");
                let error = Some(("invalid_token", why.as_str()));
                let scope = cfg.auth.challenge_scopes();
                return inner.auth_refusal(&parts, StatusCode::UNAUTHORIZED, None, scope, error, message);
            }
        }
    }
    match parts.method {
        Method::POST => Box::pin(post(&inner, &mut parts, body)).await,
        Method::GET => Box::pin(get(inner, parts)).await,
        Method::DELETE => Box::pin(delete(inner, parts)).await,
        _ => method_not_allowed("POST, GET, DELETE"),
    }
}

fn method_not_allowed(allow: &'static str) -> Resp {
    let mut r = plain(StatusCode::METHOD_NOT_ALLOWED, codes::INVALID_REQUEST, "Method not allowed");
    r.headers_mut().insert(ALLOW, HeaderValue::from_static(allow));
    r
}

/// The bits of a request's params the transport compares with headers, borrowed (one
/// pass over the params, nothing copied).
#[derive(Deserialize, Default)]
struct Peek<'a> {
    #[serde(rename = "_meta", default, borrow)]
    meta: Option<PeekMeta<'a>>,
    #[serde(default, borrow)]
    name: Option<&'a RawValue>,
}

#[derive(Deserialize, Default)]
struct PeekMeta<'a> {
    #[serde(rename = "io.modelcontextprotocol/protocolVersion", default, borrow)]
    version: Option<&'a RawValue>,
}

impl Peek<'_> {
    /// The version `_meta` names, if it names one.
    fn version(&self) -> Option<&RawValue> {
        self.meta.as_ref().and_then(|m| m.version)
    }
}

fn peek(req: &mcp_core::protocol::Request) -> Peek<'_> {
    req.params.as_deref().and_then(|p| serde_json::from_str(p.get()).ok()).unwrap_or_default()
}

/// Decode a header value that may use the `=?base64?...?=` sentinel.
fn decode_header_value(v: &str) -> Option<Cow<'_, str>> {
    match v.strip_prefix("=?base64?").and_then(|r| r.strip_suffix("?=")) {
        Some(b64) => base64::engine::general_purpose::STANDARD
            .decode(b64)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .map(Cow::Owned),
        None => Some(Cow::Borrowed(v)),
    }
}

/// The text of a mirrored header (`Mcp-Name`, `Mcp-Param-*`), decoded from the
/// `=?base64?…?=` form when it uses it; otherwise why it is not valid and how to send it.
fn header_text<'a>(name: &str, v: &'a HeaderValue) -> Result<Cow<'a, str>, String> {
    let Ok(text) = v.to_str() else {
        return Err(format!(
            "Header mismatch: the {name} header is not valid: header values must be visible ASCII; \
             send a value with other characters as `=?base64?<Base64 of its UTF-8>?=`"
        ));
    };
    decode_header_value(text).ok_or_else(|| {
        format!(
            "Header mismatch: the {name} header is not valid Base64: `=?base64?…?=` must wrap standard \
             Base64 of UTF-8 text"
        )
    })
}

fn mismatch(id: Option<RequestId>, message: String) -> Resp {
    rpc_error(StatusCode::BAD_REQUEST, id, ErrorObject::new(codes::HEADER_MISMATCH, message))
}

/// Check the 2026-07-28 request headers that the envelope alone can confirm, and collect
/// those the dispatcher holds against the params as it reads them ([`MirroredHeaders`]:
/// the body's protocol version and name), so the params are not read twice.
fn modern_headers(headers: &HeaderMap, request_id: &RequestId, method: &str) -> Result<MirroredHeaders, Resp> {
    let id = || Some(request_id.clone());
    let Some(version) = header(headers, &PROTOCOL_VERSION_H) else {
        return Err(mismatch(id(), "Header mismatch: the MCP-Protocol-Version header is required".into()));
    };
    match header(headers, &MCP_METHOD_H) {
        None => return Err(mismatch(id(), "Header mismatch: the Mcp-Method header is required".into())),
        Some(m) if m != method => {
            return Err(mismatch(
                id(),
                format!("Header mismatch: Mcp-Method header value '{m}' does not match body value '{method}'"),
            ));
        }
        Some(_) => {}
    }
    let name = match method {
        methods::TOOLS_CALL | methods::PROMPTS_GET | methods::RESOURCES_READ => match headers.get(&MCP_NAME_H) {
            None => None,
            Some(raw) => match header_text("Mcp-Name", raw) {
                Ok(v) => Some(v.into_owned()),
                Err(message) => return Err(mismatch(id(), message)),
            },
        },
        _ => None,
    };
    let modern = ProtocolVersion::V2026_07_28.as_str();
    let protocol_version = if version == modern { Cow::Borrowed(modern) } else { Cow::Owned(version.to_owned()) };
    Ok(MirroredHeaders { protocol_version: Some(protocol_version), name })
}

/// What handlers see of the HTTP request: the app's [`Extensions`], the [`Principal`],
/// and the headers (moved, not copied: nothing after dispatch reads them).
fn extensions(parts: &mut http::request::Parts) -> Extensions {
    let mut ext = parts.extensions.get::<Extensions>().cloned().unwrap_or_default();
    if let Some(p) = parts.extensions.get::<Principal>() {
        ext.insert(p.clone());
    }
    ext.insert(crate::RequestHeaders::from(std::mem::take(&mut parts.headers)));
    ext
}

/// Who sent the request, as the handlers will see it (see [`extensions`]).
fn principal_subject(parts: &http::request::Parts) -> Option<&str> {
    let from_app = || parts.extensions.get::<Extensions>().and_then(|e| e.get::<Principal>());
    parts.extensions.get::<Principal>().or_else(from_app).map(|p| p.subject.as_str())
}

/// A POST. The hot paths (`tools/call`) are awaited in place; the rest is boxed, so that
/// the future of every request, which axum allocates, stays small.
async fn post(inner: &Arc<Inner>, parts: &mut http::request::Parts, body: Body) -> Resp {
    let ct = header(&parts.headers, &CONTENT_TYPE).unwrap_or_default();
    if !ct.split(';').next().unwrap_or_default().trim().eq_ignore_ascii_case("application/json") {
        return plain(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            codes::INVALID_REQUEST,
            "Unsupported Media Type: send `Content-Type: application/json`",
        );
    }
    let accept = header(&parts.headers, &ACCEPT);
    if !accepts_json_and_sse(accept) {
        return plain(
            StatusCode::NOT_ACCEPTABLE,
            codes::INVALID_REQUEST,
            "Not Acceptable: the client must accept both application/json and text/event-stream",
        );
    }
    let bytes = match axum::body::to_bytes(body, inner.config.body_limit).await {
        Ok(b) => b,
        Err(e) => return body_error(&e, inner.config.body_limit),
    };
    let fast = match Hot::of(inner, &parts.headers) {
        Hot::Call => fast_tool_call(inner, parts, &bytes).await,
        Hot::List(method) => fast_list(inner, parts, &bytes, method),
        Hot::Legacy => fast_legacy_tool_call(inner, parts, &bytes).await,
        Hot::General => None,
    };
    match fast {
        Some(resp) => resp,
        None => Box::pin(general(inner, parts, bytes)).await,
    }
}

/// Why a request body could not be read: too large (`413`), too slow (`408`, see
/// [`crate::Serve::body_read_timeout`]), or cut off (`400`).
#[cold]
fn body_error(e: &axum::Error, limit: usize) -> Resp {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = source {
        if err.is::<http_body_util::LengthLimitError>() {
            let message = format!("Payload Too Large: the limit is {limit} bytes");
            return plain(StatusCode::PAYLOAD_TOO_LARGE, codes::INVALID_REQUEST, message);
        }
        if err.is::<crate::serve::BodyTimeout>() {
            let message = "Request Timeout: the request body did not arrive in time; send it at once, \
                           with a correct Content-Length";
            let mut r = plain(StatusCode::REQUEST_TIMEOUT, codes::INVALID_REQUEST, message);
            r.headers_mut().insert(http::header::CONNECTION, HeaderValue::from_static("close"));
            return r;
        }
        source = err.source();
    }
    plain(
        StatusCode::BAD_REQUEST,
        codes::INVALID_REQUEST,
        format!("Bad Request: the request body could not be read: {e}"),
    )
}

/// The one-pass way a POST's headers point to, if any (each still falls back to the
/// general way when the body is not what they say).
enum Hot {
    /// A 2026-07-28 `tools/call` ([`fast_tool_call`]).
    Call,
    /// A 2026-07-28 `*/list` request of this method ([`fast_list`]).
    List(&'static str),
    /// A request in a legacy session ([`fast_legacy_tool_call`]).
    Legacy,
    General,
}

impl Hot {
    /// Read off the headers, each looked up once.
    fn of(inner: &Inner, headers: &HeaderMap) -> Hot {
        let version = header(headers, &PROTOCOL_VERSION_H);
        if version == Some(ProtocolVersion::V2026_07_28.as_str()) {
            return match header(headers, &MCP_METHOD_H) {
                Some(methods::TOOLS_CALL) if inner.auth.is_none() && !inner.server.has_param_headers() => Hot::Call,
                Some(m) => ListRequest::method_of(m).map_or(Hot::General, Hot::List),
                None => Hot::General,
            };
        }
        let legacy_version = version.is_none_or(|v| ProtocolVersion::parse(v).is_some_and(|v| !v.is_modern()));
        if inner.config.legacy && inner.auth.is_none() && legacy_version && headers.contains_key(&SESSION_ID_H) {
            Hot::Legacy
        } else {
            Hot::General
        }
    }
}

/// A POST off the hot paths: any message of either era.
async fn general(inner: &Arc<Inner>, parts: &mut http::request::Parts, bytes: Bytes) -> Resp {
    let parsed = match parse(&bytes) {
        Ok(p) => p,
        Err(resp) => return json_response(StatusCode::BAD_REQUEST, resp.to_vec()),
    };
    let headers = &parts.headers;
    let proto = header(headers, &PROTOCOL_VERSION_H);
    let session_id = header(headers, &SESSION_ID_H).map(str::to_owned);
    let single_request = match &parsed {
        Parsed::Single(Message::Request(r)) => Some(r),
        _ => None,
    };
    let is_modern_header = proto == Some(ProtocolVersion::V2026_07_28.as_str());
    // The params are read here only when something needs them before dispatch: the
    // era of a request without a version header, `x-mcp-header` parameters, scopes.
    let needs_peek =
        (!is_modern_header && session_id.is_none()) || inner.server.has_param_headers() || inner.auth.is_some();
    let peeked = single_request.filter(|_| needs_peek).map(peek);
    if let Some(req) = single_request
        && let Some(resp) = check_tool_scopes(inner, parts, req, peeked.as_ref())
    {
        return resp;
    }

    // Era: a 2026-07-28 header, or a request naming its version in `_meta` without a
    // session, is served statelessly; everything else belongs to a legacy session.
    let meta_versioned = peeked.as_ref().is_some_and(|p| p.version().is_some());
    let modern = is_modern_header
        || (session_id.is_none() && meta_versioned && single_request.is_some_and(|r| r.method != methods::INITIALIZE));

    if modern {
        let mirrored = match single_request {
            Some(req) => {
                let mirrored = match modern_headers(headers, &req.id, &req.method) {
                    Ok(m) => m,
                    Err(resp) => return resp,
                };
                if let Err(resp) = check_param_headers(&inner.server, headers, req, peeked.as_ref()) {
                    return resp;
                }
                mirrored
            }
            None if matches!(parsed, Parsed::Batch(_)) => {
                return plain(
                    StatusCode::BAD_REQUEST,
                    codes::INVALID_REQUEST,
                    "JSON-RPC batches are not supported by protocol 2026-07-28",
                );
            }
            // Notifications and responses carry nothing to act on statelessly.
            None => return accepted(),
        };
        let inbound = Inbound::new().extensions(extensions(parts)).mirrored(mirrored);
        return respond(inner, parsed, inbound, Era::Modern, None).await;
    }

    if !inner.config.legacy {
        return plain(
            StatusCode::BAD_REQUEST,
            codes::INVALID_PARAMS,
            "this server speaks protocol 2026-07-28 only: send `MCP-Protocol-Version: 2026-07-28` and `_meta`",
        );
    }
    if let Some(v) = proto
        && ProtocolVersion::parse(v).is_none_or(ProtocolVersion::is_modern)
    {
        return plain(
            StatusCode::BAD_REQUEST,
            codes::INVALID_REQUEST,
            format!("Bad Request: unsupported MCP-Protocol-Version `{v}`"),
        );
    }
    let is_initialize = single_request.is_some_and(|r| r.method == methods::INITIALIZE);
    match session_id {
        None if is_initialize => {
            let session = Arc::new(Session::new());
            let live = Live::new(session.clone());
            let inbound = Inbound::new().extensions(extensions(parts)).session(session);
            respond(inner, parsed, inbound, Era::Initialize, Some(live)).await
        }
        None => plain(
            StatusCode::BAD_REQUEST,
            codes::INVALID_REQUEST,
            "Bad Request: missing Mcp-Session-Id header (send `initialize` first, or use protocol 2026-07-28)",
        ),
        Some(id) => {
            let live = match session(inner, parts, &id).await {
                Ok(l) => l,
                Err(resp) => return resp,
            };
            // A client's answer, or a cancellation: applied here if this process runs the
            // request it concerns, otherwise handed to the other replicas.
            if let Parsed::Single(message) = &parsed
                && is_answer_or_cancellation(message)
            {
                if !apply_locally(&live, message)
                    && let Err(e) = Box::pin(inner.sessions.store.forward(&id, &bytes)).await
                {
                    tracing::warn!(error = %e, "could not forward a session message");
                }
                return accepted();
            }
            let inbound = Inbound::new().extensions(extensions(parts)).session(live.session.clone());
            let resp = respond(inner, parsed, inbound, Era::Legacy, None).await;
            save_session(inner, &id, &live).await;
            resp
        }
    }
}

/// The live legacy session `id`, if it exists and belongs to the caller.
async fn session(inner: &Inner, parts: &http::request::Parts, id: &str) -> Result<Arc<Live>, Resp> {
    let live = match Box::pin(inner.sessions.get(id)).await {
        Ok(Some(l)) => l,
        Ok(None) => return Err(plain(StatusCode::NOT_FOUND, codes::INVALID_REQUEST, "Session not found")),
        Err(e) => return Err(store_failure(&e)),
    };
    // A session belongs to whoever created it; anyone else does not see it.
    if !live.session.read(|st| st.principal.as_deref() == principal_subject(parts)) {
        return Err(plain(StatusCode::NOT_FOUND, codes::INVALID_REQUEST, "Session not found"));
    }
    Ok(live)
}

/// Keep what a request changed in its legacy session. A store that fails is logged: the
/// answer stands.
async fn save_session(inner: &Inner, id: &str, live: &Live) {
    // Most requests change nothing: no future to box for them.
    if live.take_dirty()
        && let Err(e) = Box::pin(inner.sessions.save(id, live)).await
    {
        tracing::warn!(error = %e, "could not save session state");
    }
}

/// `Mcp-Param-{name}` headers of a 2026-07-28 `tools/call` against the arguments they
/// mirror (`x-mcp-header`): a value in the body needs its header, a header needs its
/// value, Base64 (`=?base64?…?=`) is decoded strictly, and the two must match
/// (integers numerically). Anything else is 400 with -32020.
fn check_param_headers(
    server: &Server,
    headers: &HeaderMap,
    req: &mcp_core::protocol::Request,
    peek: Option<&Peek<'_>>,
) -> Result<(), Resp> {
    if req.method != methods::TOOLS_CALL {
        return Ok(());
    }
    let Some(name) = peek.and_then(|p| p.name).and_then(str_value) else { return Ok(()) };
    let params = server.tool_param_headers(&name);
    if params.is_empty() {
        return Ok(());
    }
    #[derive(Deserialize)]
    struct Args {
        #[serde(default)]
        arguments: Option<serde_json::Map<String, Value>>,
    }
    let raw = req.params.as_deref().map_or("{}", |p| p.get());
    let arguments = serde_json::from_str::<Args>(raw).ok().and_then(|a| a.arguments).unwrap_or_default();
    let id = Some(req.id.clone());
    for p in params {
        let header_name = format!("Mcp-Param-{}", p.name);
        let mut values = headers.get_all(header_name.as_str()).iter();
        let sent = values.next();
        if values.next().is_some() {
            return Err(mismatch(id, format!("Header mismatch: {header_name} was sent more than once")));
        }
        let body = p.value(&arguments);
        let header = match sent {
            None if body.is_none() => continue,
            None => {
                return Err(mismatch(
                    id,
                    format!("Header mismatch: the {header_name} header is required when the argument has a value"),
                ));
            }
            Some(v) => match header_text(&header_name, v) {
                Ok(h) => h,
                Err(message) => return Err(mismatch(id, message)),
            },
        };
        match body {
            Some(b) if p.matches(&header, b) => {}
            Some(b) => {
                return Err(mismatch(
                    id,
                    format!("Header mismatch: {header_name} header value '{header}' does not match body value '{b}'"),
                ));
            }
            None => {
                return Err(mismatch(
                    id,
                    format!("Header mismatch: {header_name} was sent but the argument has no value"),
                ));
            }
        }
    }
    Ok(())
}

/// A `tools/call` the caller's token lacks scopes for: `403` with `insufficient_scope`
/// naming every scope the call needs (`401` for an anonymous caller), unless the
/// compatibility mode lets the dispatcher answer with an `isError` result.
fn check_tool_scopes(
    inner: &Inner,
    parts: &http::request::Parts,
    req: &mcp_core::protocol::Request,
    peek: Option<&Peek<'_>>,
) -> Option<Resp> {
    let cfg = inner.auth.as_ref()?;
    if req.method != methods::TOOLS_CALL || cfg.auth.errors_as_results {
        return None;
    }
    let name = str_value(peek?.name?)?;
    let principal = parts.extensions.get::<Principal>();
    let denied = inner.server.authorize_tool(&name, principal).err()?;
    if denied.required_scopes().is_empty() {
        return None; // The application's permission hook: the dispatcher says why.
    }
    let mut scope = cfg.auth.required_scopes.clone();
    for s in denied.required_scopes() {
        if !scope.contains(s) {
            scope.push(s.clone());
        }
    }
    let id = Some(req.id.clone());
    let message = format!("Forbidden: {denied}");
    Some(match principal {
        None => inner.auth_refusal(parts, StatusCode::UNAUTHORIZED, id, &scope, None, message),
        Some(_) => {
            let error = Some(("insufficient_scope", message.as_str()));
            inner.auth_refusal(parts, StatusCode::FORBIDDEN, id, &scope, error, message.clone())
        }
    })
}

fn is_answer_or_cancellation(message: &Message) -> bool {
    match message {
        Message::Response(_) => true,
        Message::Notification(n) => n.method == methods::CANCELLED,
        Message::Request(_) => false,
    }
}

/// Deliver a client's answer (or a cancellation) to the request it concerns; whether this
/// process runs that request. Anything else: `true`.
fn apply_locally(live: &Live, message: &Message) -> bool {
    match message {
        Message::Response(r) => match &r.id {
            Some(id) => live.session.peer().resolve(id, r.outcome.clone()),
            None => true,
        },
        Message::Notification(n) if n.method == methods::CANCELLED => {
            let params = n.params.as_deref().map_or("{}", |p| p.get());
            match serde_json::from_str::<mcp_core::protocol::CancelledParams>(params) {
                Ok(mcp_core::protocol::CancelledParams { request_id: Some(id), .. }) => live.session.peer().cancel(&id),
                _ => true,
            }
        }
        Message::Notification(_) | Message::Request(_) => true,
    }
}

/// Apply messages other replicas forwarded to the sessions this process holds.
fn listen_forwarded(inner: &Arc<Inner>) {
    let Some(mut rx) = inner.sessions.store.forwarded() else { return };
    let weak = Arc::downgrade(inner);
    tokio::spawn(async move {
        while let Some((session, bytes)) = rx.recv().await {
            let Some(inner) = weak.upgrade() else { break };
            let Some(live) = inner.sessions.cached(&session) else { continue };
            if let Ok(Parsed::Single(message)) = parse(&bytes) {
                apply_locally(&live, &message);
            }
        }
    });
}

fn store_failure(e: &crate::session::StoreError) -> Resp {
    tracing::error!(error = %e, "session store failed");
    plain(StatusCode::SERVICE_UNAVAILABLE, codes::INTERNAL_ERROR, "the session store is unavailable; try again")
}

fn accepted() -> Resp {
    let mut r = Response::new(Body::empty());
    *r.status_mut() = StatusCode::ACCEPTED;
    r
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Era {
    Modern,
    Legacy,
    /// A legacy `initialize` that creates its session if it succeeds.
    Initialize,
}

fn sse_frame(data: &[u8], id: Option<u64>) -> Bytes {
    let mut out = Vec::with_capacity(data.len() + 32);
    if let Some(id) = id {
        out.extend_from_slice(format!("id: {id}\n").as_bytes());
    }
    out.extend_from_slice(b"event: message\ndata: ");
    out.extend_from_slice(data);
    out.extend_from_slice(b"\n\n");
    Bytes::from(out)
}

fn sse_headers(r: &mut Resp) {
    let h = r.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
    h.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert("x-accel-buffering", HeaderValue::from_static("no"));
}

/// Dispatch, then answer with one JSON body — or, as soon as the handler sends a
/// notification or a request to the client, with an SSE stream that carries those and
/// ends with the response. Dropping the response (the client went away) cancels the
/// handler.
async fn respond(inner: &Arc<Inner>, parsed: Parsed, inbound: Inbound, era: Era, created: Option<Arc<Live>>) -> Resp {
    let has_requests = match &parsed {
        Parsed::Single(Message::Request(_)) => true,
        Parsed::Single(_) => false,
        Parsed::Batch(items) => items.iter().any(|i| matches!(i, Ok(Message::Request(_)))),
    };
    let server = inner.server.clone();
    if era == Era::Modern && has_requests && !may_send(&parsed) {
        // Nothing to stream: dispatch in place, without a channel.
        let cancel = CancellationToken::new();
        let answer = dispatch(server, parsed, inbound.request_cancel(cancel.clone()));
        return answer_in_place(cancel, answer).await;
    }
    if !has_requests {
        // Notifications and client responses: processed, acknowledged with 202.
        let _ = dispatch(server, parsed, inbound).await;
        return accepted();
    }
    let (inbound, rx, cancel) = with_sink(inbound);
    stream_or_answer(inner, rx, cancel, Box::pin(dispatch(server, parsed, inbound)), era, created).await
}

/// `inbound` with a sink whose channel is made only if the handler sends something (most
/// send nothing), and a cancellation token for the request alone.
fn with_sink(inbound: Inbound) -> (Inbound, SinkReceiver, CancellationToken) {
    let (sink, rx) = Sink::lazy(64);
    let cancel = CancellationToken::new();
    (inbound.sink(sink).request_cancel(cancel.clone()), rx, cancel)
}

/// Run a request's handler with a sink; answer with one JSON body, or with an SSE stream
/// as soon as the handler sends something before its answer.
///
/// The handler (`task`, dispatched with [`with_sink`]'s inbound) is polled right here, not
/// spawned: a task per request costs more than the whole dispatch of a small call. If it
/// starts streaming, the stream owns it. Its finishing does not wake this task (the sink
/// never closes), which on a multi-threaded runtime could wake another worker.
async fn stream_or_answer(
    inner: &Arc<Inner>,
    mut rx: SinkReceiver,
    cancel: CancellationToken,
    mut task: Handling,
    era: Era,
    created: Option<Arc<Live>>,
) -> Resp {
    let guard = cancel.drop_guard();

    tokio::select! {
        // The handler first: a call that finishes at once never registers with the channel.
        biased;
        reply = &mut task => {
            let mut pending = Vec::new();
            while let Some(m) = rx.try_recv() {
                pending.push(m);
            }
            let mut session_header = None;
            if era == Era::Initialize {
                match Box::pin(finish_initialize(inner, created.as_ref())).await {
                    Ok(id) => session_header = id,
                    Err(resp) => return resp,
                }
            }
            let mut resp = if pending.is_empty() {
                let _ = guard.disarm();
                json_reply(reply, era)
            } else {
                let mut queue: VecDeque<Bytes> = pending.iter().map(|m| sse_frame(&serde_json::to_vec(m).unwrap_or_default(), None)).collect();
                if let Some(reply) = reply {
                    queue.push_back(sse_frame(&reply.to_vec(), None));
                }
                let _ = guard.disarm();
                let stream = futures_util::stream::iter(queue.into_iter().map(Ok::<Bytes, Infallible>));
                let mut r = Response::new(Body::from_stream(stream));
                sse_headers(&mut r);
                r
            };
            if let Some(id) = session_header
                && let Ok(v) = HeaderValue::from_str(&id) {
                    resp.headers_mut().insert(SESSION_ID, v);
                }
            resp
        }
        // A message before the handler finished: answer with an event stream. (The
        // receiver does not end while the handler runs; a finished handler is always
        // answered by the branch above, which is polled first.)
        Some(first) = rx.recv() => {
            let mut queue = VecDeque::new();
            queue.push_back(sse_frame(&serde_json::to_vec(&first).unwrap_or_default(), None));
            let state = SseState {
                queue,
                rx: Some(rx),
                task: Some(task),
                guard: Some(guard),
                keep_alive: tokio::time::interval_at(tokio::time::Instant::now() + inner.config.keep_alive, inner.config.keep_alive),
            };
            let mut r = Response::new(Body::from_stream(sse_stream(state)));
            sse_headers(&mut r);
            r
        }
    }
}

/// The hot path: a 2026-07-28 `tools/call` whose headers say so, that nothing but the
/// dispatcher needs to look into (no scopes to check, no `Mcp-Param-*` headers) and that
/// cannot stream, read in one pass ([`Server::parse_tool_call`]) and answered in place.
/// [`Hot::of`] read the version and method headers; the mirrored ones are held against
/// the parsed call here, so the dispatcher need not read them again. `None`: take the
/// general way, which gives the same answer (and explains any mismatch).
async fn fast_tool_call(inner: &Arc<Inner>, parts: &mut http::request::Parts, bytes: &Bytes) -> Option<Resp> {
    let headers = &parts.headers;
    let modern = ProtocolVersion::V2026_07_28.as_str();
    let call = inner.server.parse_tool_call(bytes).filter(|c| !c.may_send())?;
    let name = header(headers, &MCP_NAME_H).and_then(decode_header_value)?;
    if name != call.name() || call.protocol_version().as_deref() != Some(modern) {
        return None;
    }
    let cancel = CancellationToken::new();
    let inbound = Inbound::new().extensions(extensions(parts)).request_cancel(cancel.clone());
    let answer = guarded_call(|| inner.server.handle_tool_call(call, inbound));
    Some(answer_in_place(cancel, answer).await)
}

/// A 2026-07-28 `*/list` request whose headers say so ([`Hot::of`]; `method` is the
/// `Mcp-Method` header), read in one pass
/// ([`Server::parse_list_request`]) and answered at once: its page is ready, or made
/// from the tools the caller may see. `None`: take the general way, which gives the same
/// answer (and explains any mismatch).
fn fast_list(inner: &Arc<Inner>, parts: &mut http::request::Parts, bytes: &Bytes, method: &str) -> Option<Resp> {
    let modern = ProtocolVersion::V2026_07_28.as_str();
    let list = inner.server.parse_list_request(bytes)?;
    if list.method() != method || list.protocol_version().as_deref() != Some(modern) || list.may_send() {
        return None;
    }
    let inbound = Inbound::new().extensions(extensions(parts));
    // The application's permission hook may run (which tools this caller sees).
    let reply = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| inner.server.handle_list(list, &inbound)))
        .map_or_else(|_| panicked(), |r| r.map(Reply::Single));
    Some(json_reply(reply, Era::Modern))
}

/// `tools/call` in a legacy session, read in one pass like [`fast_tool_call`] when no
/// scope needs checking before dispatch ([`Hot::of`]). `None`: take the general way,
/// which gives the same answer.
async fn fast_legacy_tool_call(inner: &Arc<Inner>, parts: &mut http::request::Parts, bytes: &Bytes) -> Option<Resp> {
    // The header's value, shared (not copied): the headers move into the extensions.
    let id_value = parts.headers.get(&SESSION_ID_H)?.clone();
    let id = id_value.to_str().ok()?;
    let call = inner.server.parse_tool_call(bytes)?;
    let live = match session(inner, parts, id).await {
        Ok(l) => l,
        Err(resp) => return Some(resp),
    };
    let (inbound, rx, cancel) = with_sink(Inbound::new().extensions(extensions(parts)).session(live.session.clone()));
    // The handler's future owns what it needs: it may outlive the body as an event stream.
    let task = Box::pin(guarded_call(|| inner.server.handle_tool_call(call, inbound)));
    let resp = stream_or_answer(inner, rx, cancel, task, Era::Legacy, None).await;
    save_session(inner, id, &live).await;
    Some(resp)
}

/// A 2026-07-28 dispatch that cannot stream, run in place (`cancel`, the token its
/// inbound carries, fires if the client goes away) and answered with one JSON body.
/// (A combinator, not an `async fn`: that would keep `answer` twice, as its argument and
/// as what it awaits.)
fn answer_in_place(
    cancel: CancellationToken,
    answer: impl Future<Output = Option<Reply>>,
) -> impl Future<Output = Resp> {
    let guard = cancel.drop_guard();
    answer.map(move |reply| {
        let _ = guard.disarm();
        json_reply(reply, Era::Modern)
    })
}

/// Dispatch, a panic (a bug: tools' panics are caught by the dispatcher) becoming an
/// internal error instead of a dropped connection.
fn dispatch(server: Server, parsed: Parsed, inbound: Inbound) -> impl Future<Output = Option<Reply>> + Send {
    guarded(async move { server.handle_parsed(parsed, inbound).await })
}

/// `fut`, a panic becoming an internal error.
fn guarded<'a>(
    fut: impl Future<Output = Option<Reply>> + Send + 'a,
) -> impl Future<Output = Option<Reply>> + Send + 'a {
    std::panic::AssertUnwindSafe(fut).catch_unwind().map(|r| r.unwrap_or_else(|_| panicked()))
}

/// A `tools/call` answer: checked and prepared by `start` (which runs the application's
/// permission hook), then run; a panic in either becomes an internal error.
fn guarded_call<F: Future<Output = Option<Reply>> + Send + 'static>(
    start: impl FnOnce() -> F,
) -> impl Future<Output = Option<Reply>> + Send + 'static {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(start)) {
        Ok(fut) => Either::Left(guarded(fut)),
        Err(_) => Either::Right(std::future::ready(panicked())),
    }
}

fn panicked() -> Option<Reply> {
    tracing::error!("the MCP dispatcher panicked");
    let error = ErrorObject::internal("internal error");
    Some(Reply::Single(mcp_core::protocol::Response::error(None, error)))
}

/// The answer to a POST whose handler sent nothing before it: one JSON body (`202`
/// without a reply). 2026-07-28 errors get their HTTP status.
fn json_reply(reply: Option<Reply>, era: Era) -> Resp {
    match reply {
        Some(reply) => {
            let status = match era {
                Era::Modern => reply.as_error().map_or(StatusCode::OK, |e| modern_status(e.code)),
                _ => StatusCode::OK,
            };
            json_response(status, reply.into_vec())
        }
        None => accepted(),
    }
}

/// Whether the handler of a 2026-07-28 request could send anything to the client before
/// its answer. For the request/answer methods only progress (the request names a
/// `progressToken`) and log messages (it names a `logLevel`) can; asking the client for
/// input is an answer of its own. Read from the params' text: a key spelled with `\u`
/// escapes counts as present. Other methods (`subscriptions/listen`) always may.
fn may_send(parsed: &Parsed) -> bool {
    let Parsed::Single(Message::Request(req)) = parsed else { return true };
    let answers_only = matches!(
        req.method.as_str(),
        methods::TOOLS_CALL
            | methods::TOOLS_LIST
            | methods::RESOURCES_READ
            | methods::RESOURCES_LIST
            | methods::RESOURCES_TEMPLATES_LIST
            | methods::PROMPTS_GET
            | methods::PROMPTS_LIST
            | methods::COMPLETION_COMPLETE
            | methods::SERVER_DISCOVER
    );
    if !answers_only {
        return true;
    }
    let raw = req.params.as_deref().map_or("", |p| p.get());
    raw.contains("progressToken") || raw.contains("logLevel") || raw.contains("\\u")
}

/// After a legacy `initialize`: keep the session if it succeeded.
async fn finish_initialize(inner: &Arc<Inner>, created: Option<&Arc<Live>>) -> Result<Option<String>, Resp> {
    let Some(live) = created else { return Ok(None) };
    if live.session.protocol_version().is_none() {
        return Ok(None);
    }
    let id = match Sessions::new_id() {
        Ok(id) => id,
        Err(e) => return Err(store_failure(&e)),
    };
    if let Err(e) = inner.sessions.create(&id, live.clone()).await {
        return Err(store_failure(&e));
    }
    Ok(Some(id))
}

/// The dispatch of one POST.
type Handling = std::pin::Pin<Box<dyn std::future::Future<Output = Option<Reply>> + Send>>;

struct SseState {
    queue: VecDeque<Bytes>,
    rx: Option<SinkReceiver>,
    task: Option<Handling>,
    guard: Option<DropGuard>,
    keep_alive: tokio::time::Interval,
}

fn sse_stream(state: SseState) -> impl futures_util::Stream<Item = Result<Bytes, Infallible>> + Send {
    futures_util::stream::unfold(state, |mut s| async move {
        loop {
            if let Some(b) = s.queue.pop_front() {
                return Some((Ok(b), s));
            }
            if s.task.is_none() && s.rx.is_none() {
                return None;
            }
            tokio::select! {
                m = async { match s.rx.as_mut() { Some(rx) => rx.recv().await, None => std::future::pending().await } } => {
                    match m {
                        Some(m) => s.queue.push_back(sse_frame(&serde_json::to_vec(&m).unwrap_or_default(), None)),
                        None => s.rx = None,
                    }
                }
                joined = async { match s.task.as_mut() { Some(t) => t.await, None => std::future::pending().await } } => {
                    s.task = None;
                    if let Some(rx) = s.rx.as_mut() {
                        while let Some(m) = rx.try_recv() {
                            s.queue.push_back(sse_frame(&serde_json::to_vec(&m).unwrap_or_default(), None));
                        }
                    }
                    s.rx = None;
                    if let Some(g) = s.guard.take() {
                        let _ = g.disarm();
                    }
                    if let Some(reply) = joined {
                        s.queue.push_back(sse_frame(&reply.to_vec(), None));
                    }
                }
                _ = s.keep_alive.tick() => return Some((Ok(Bytes::from_static(b": keep-alive\n\n")), s)),
            }
        }
    })
}

fn session_of(parts: &http::request::Parts) -> Result<String, Resp> {
    if header(&parts.headers, &PROTOCOL_VERSION_H) == Some(ProtocolVersion::V2026_07_28.as_str()) {
        return Err(method_not_allowed("POST"));
    }
    match header(&parts.headers, &SESSION_ID_H) {
        Some(id) => Ok(id.to_owned()),
        // Without a session there is nothing to stream or end.
        None => Err(method_not_allowed("POST")),
    }
}

async fn get(inner: Arc<Inner>, parts: http::request::Parts) -> Resp {
    if !inner.config.legacy {
        return method_not_allowed("POST");
    }
    let id = match session_of(&parts) {
        Ok(id) => id,
        Err(r) => return r,
    };
    if !accepts(header(&parts.headers, &ACCEPT), "text/event-stream") {
        return plain(StatusCode::NOT_ACCEPTABLE, codes::INVALID_REQUEST, "Not Acceptable: accept text/event-stream");
    }
    let live = match inner.sessions.get(&id).await {
        Ok(Some(l)) => l,
        Ok(None) => return plain(StatusCode::NOT_FOUND, codes::INVALID_REQUEST, "Session not found"),
        Err(e) => return store_failure(&e),
    };
    if !live.session.read(|st| st.principal.as_deref() == principal_subject(&parts)) {
        return plain(StatusCode::NOT_FOUND, codes::INVALID_REQUEST, "Session not found");
    }
    let last: Option<u64> = header(&parts.headers, &LAST_EVENT_ID_H).and_then(|v| v.trim().parse().ok());
    let (tx, rx) = mpsc::channel::<StreamEvent>(64);
    let replay: VecDeque<Bytes> = {
        let mut st = live.stream();
        st.sender = Some(tx);
        match last {
            Some(last) => st.buffer.iter().filter(|e| e.id > last).map(|e| sse_frame(&e.data, Some(e.id))).collect(),
            None => VecDeque::new(),
        }
    };
    start_forwarder(&inner, &live);
    let keep_alive = inner.config.keep_alive;
    let ended = live.ended.clone();
    let state = (replay, rx, tokio::time::interval_at(tokio::time::Instant::now() + keep_alive, keep_alive), ended);
    let stream = futures_util::stream::unfold(state, |(mut queue, mut rx, mut tick, ended)| async move {
        if let Some(b) = queue.pop_front() {
            return Some((Ok::<Bytes, Infallible>(b), (queue, rx, tick, ended)));
        }
        tokio::select! {
            e = rx.recv() => e.map(|e| (Ok(sse_frame(&e.data, Some(e.id))), (queue, rx, tick, ended.clone()))),
            _ = tick.tick() => Some((Ok(Bytes::from_static(b": keep-alive\n\n")), (queue, rx, tick, ended.clone()))),
            _ = ended.cancelled() => None,
        }
    });
    let mut r = Response::new(Body::from_stream(stream));
    sse_headers(&mut r);
    r
}

/// Forward server events to a session's stream (once per session), recording them for
/// `Last-Event-ID` replay even while no GET stream is connected.
fn start_forwarder(inner: &Arc<Inner>, live: &Arc<Live>) {
    {
        let mut st = live.stream();
        if st.forwarding {
            return;
        }
        st.forwarding = true;
    }
    let server = inner.server.clone();
    let mut events = server.subscribe_events();
    let live = live.clone();
    let capacity = inner.config.event_buffer.max(1);
    tokio::spawn(async move {
        loop {
            let ev = tokio::select! {
                _ = live.ended.cancelled() => break,
                ev = events.recv() => ev,
            };
            let ev = match ev {
                Ok(ev) => ev,
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                Err(_) => break,
            };
            let Some(n) = server.legacy_notification(&ev, &live.session) else { continue };
            let data = Bytes::from(serde_json::to_vec(&Message::Notification(n)).unwrap_or_default());
            let (event, sender) = {
                let mut st = live.stream();
                st.next_id += 1;
                let event = StreamEvent { id: st.next_id, data };
                st.buffer.push_back(event.clone());
                while st.buffer.len() > capacity {
                    st.buffer.pop_front();
                }
                (event, st.sender.clone())
            };
            if let Some(tx) = sender
                && tx.try_send(event).is_err()
            {
                // Disconnected or slow: the event stays in the buffer for replay.
                live.stream().sender = None;
            }
        }
    });
}

async fn delete(inner: Arc<Inner>, parts: http::request::Parts) -> Resp {
    if !inner.config.legacy {
        return method_not_allowed("POST");
    }
    let id = match session_of(&parts) {
        Ok(id) => id,
        Err(r) => return r,
    };
    if let Ok(Some(live)) = inner.sessions.get(&id).await
        && !live.session.read(|st| st.principal.as_deref() == principal_subject(&parts))
    {
        return plain(StatusCode::NOT_FOUND, codes::INVALID_REQUEST, "Session not found");
    }
    match inner.sessions.delete(&id).await {
        Ok(true) => {
            let mut r = Response::new(Body::empty());
            *r.status_mut() = StatusCode::NO_CONTENT;
            r
        }
        Ok(false) => plain(StatusCode::NOT_FOUND, codes::INVALID_REQUEST, "Session not found"),
        Err(e) => store_failure(&e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_header_matching() {
        assert!(accepts(Some("application/json, text/event-stream"), "application/json"));
        assert!(accepts(Some("application/json, text/event-stream"), "text/event-stream"));
        assert!(accepts(Some("*/*"), "text/event-stream"));
        assert!(accepts(Some("application/*;q=0.9, text/*"), "text/event-stream"));
        assert!(accepts(None, "application/json"));
        assert!(!accepts(Some("text/html"), "application/json"));
        assert!(!accepts(Some("application/json"), "text/event-stream"));
        for (accept, both) in [
            (Some("application/json, text/event-stream"), true),
            (Some("text/event-stream;q=0.5,APPLICATION/JSON"), true),
            (Some("*/*"), true),
            (Some("application/*;q=0.9, text/*"), true),
            (None, true),
            (Some("application/json"), false),
            (Some("text/event-stream"), false),
            (Some("application/jsonx, text/event-stream"), false),
            (Some("text/html"), false),
        ] {
            assert_eq!(accepts_json_and_sse(accept), both, "{accept:?}");
            let separately = accepts(accept, "application/json") && accepts(accept, "text/event-stream");
            assert_eq!(separately, both, "{accept:?}");
        }
    }

    #[test]
    fn what_may_stream() {
        let may = |body: &str| may_send(&parse(body.as_bytes()).unwrap());
        let call = |params: &str| format!(r#"{{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{params}}}"#);
        assert!(!may(&call(r#"{"name":"echo","arguments":{},"_meta":{"x":1}}"#)));
        assert!(may(&call(r#"{"name":"echo","_meta":{"progressToken":"p"}}"#)));
        assert!(may(&call(r#"{"name":"echo","_meta":{"io.modelcontextprotocol/logLevel":"info"}}"#)));
        assert!(may(&call(r#"{"name":"echo","_meta":{"progress\u0054oken":"p"}}"#)));
        assert!(may(r#"{"jsonrpc":"2.0","id":1,"method":"subscriptions/listen","params":{}}"#));
        assert!(!may(r#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#));
    }

    #[test]
    fn base64_sentinel() {
        assert_eq!(decode_header_value("plain").as_deref(), Some("plain"));
        assert_eq!(decode_header_value("=?base64?SGVsbG8sIOS4lueVjA==?=").as_deref(), Some("Hello, 世界"));
        assert_eq!(decode_header_value("=?base64?!!!?="), None);
    }

    #[test]
    fn status_codes() {
        assert_eq!(modern_status(codes::METHOD_NOT_FOUND), StatusCode::NOT_FOUND);
        assert_eq!(modern_status(codes::UNSUPPORTED_PROTOCOL_VERSION), StatusCode::BAD_REQUEST);
        assert_eq!(modern_status(-1), StatusCode::OK);
    }
}
