//! # mcp-axum
//!
//! Serve an [`mcp_core::Server`] over MCP streamable HTTP from the axum app you already
//! have: the stateless 2026-07-28 protocol and the session-based 2025 ones
//! (2025-03-26, 2025-06-18, 2025-11-25) on one endpoint.
//!
//! ```no_run
//! use axum::{Router, routing::get};
//! use mcp_core::prelude::*;
//!
//! struct Reports;
//!
//! #[mcp_toolset]
//! impl Reports {
//!     /// How many posts there are.
//!     #[mcp_tool(read_only)]
//!     fn count_posts(&self) -> u64 {
//!         42
//!     }
//! }
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let mcp = Server::builder().info(server_info!()).toolset(Reports).build()?;
//! let app = Router::new()
//!     .route("/api/health", get(|| async { "ok" })) // your existing routes, untouched
//!     .merge(mcp_axum::McpRouter::new(mcp).path("/mcp").into_router());
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8000").await?;
//! mcp_axum::serve(listener, app).await?;
//! # Ok(()) }
//! ```
//!
//! ## What the endpoint does
//!
//! - `POST /mcp` (and `/mcp/`, without a redirect): a request carrying
//!   `MCP-Protocol-Version: 2026-07-28` (or a `_meta` protocol version) is served
//!   statelessly after checking `MCP-Protocol-Version`, `Mcp-Method` and `Mcp-Name`
//!   against the body (400 with -32020 on a mismatch, 404 with -32601 for unknown
//!   methods). `initialize` opens a legacy session and answers with a random
//!   `Mcp-Session-Id`; later requests must carry it (400 without, 404 when unknown).
//! - The answer is one JSON body, or an SSE stream (`text/event-stream`,
//!   `X-Accel-Buffering: no`, keep-alive comments) as soon as the handler sends progress
//!   or log notifications or, in a legacy session, asks the client something. A client
//!   that disconnects cancels the handler.
//! - `GET /mcp` with a session id opens the session's server-to-client stream
//!   (list changes, subscribed resource updates), resumable with `Last-Event-ID` from a
//!   bounded buffer. `DELETE /mcp` ends the session. Without a session (or for
//!   2026-07-28) both answer 405.
//! - Secure defaults: `Host` and `Origin` must be loopback or configured (403
//!   otherwise), bodies are limited (413), `Content-Type` must be JSON (415), `Accept`
//!   must allow JSON and SSE (406). Forwarded headers are trusted only when configured.
//!   Nothing containing a header value is logged. Hosts and origins are parsed, never
//!   prefix-matched: loopback means an address in `127.0.0.0/8` or `::1`, or the names
//!   `localhost` and `*.localhost`; `127.0.0.1.attacker.example` is refused, and so is any
//!   `Host` with userinfo, a path or other junk.
//! - Browser clients (MCP Inspector in direct mode): for an `Origin` the policy allows,
//!   CORS preflights are answered `204` before authentication (methods POST, GET,
//!   DELETE; the MCP request headers, `Authorization` and `Mcp-Param-*` included), and
//!   every answer, `401`s included, exposes `Mcp-Session-Id`, `MCP-Protocol-Version` and
//!   `WWW-Authenticate`. Refused origins get no CORS headers.
//! - Legacy sessions are bounded ([`SessionLimits`]): 10,000 in all, 100 per
//!   authenticated principal (a principal at its cap ends its own oldest session, never
//!   another's), 30 minutes idle. JSON-RPC batches (2025-03-26) hold at most 64 messages
//!   (`ServerBuilder::max_batch_size`).
//!
//! ## Serving
//!
//! [`serve`] is `axum::serve` for a server open to the network: `TCP_NODELAY` on every
//! connection (SSE replies otherwise stall about 40 ms on Nagle's algorithm), a head
//! timeout (10 s, also for silent new connections and idle HTTP/1 keep-alive), a body
//! timeout (60 s, then `408`), an idle timeout (60 s with no request in flight), a
//! connection cap (1024; beyond it connections wait in the listen backlog), and
//! [`Serve::with_graceful_shutdown`]. Each is a setting of [`Serve`];
//! `mcp_axum::serve(listener, app).await` takes the defaults.
//!
//! ## Feature flags
//!
//! | feature | default | what it enables |
//! |---------|---------|-----------------|
//! | `redis` | no      | `RedisStore`: legacy session state in Redis, so replicas share sessions; with `oauth-server` also `auth::server::RedisAuthStore`, the authorization server's state |
//! | `oauth` | no      | `auth::JwtAuthenticator` and `auth::Introspection` (an HTTPS client) |
//! | `oauth-server` | no | `auth::server::AuthServer`: a built-in OAuth 2.1 authorization server (registration, sign-in and consent pages, tokens) mounted with `McpRouter::auth_server`; implies `oauth` |
//!
//! ## Authentication
//!
//! [`McpRouter::auth`] makes the endpoint an OAuth 2.1 resource server: a chain of
//! [`auth::Authenticator`]s (static tokens, the app's own middleware, JWT access tokens
//! against a JWKS, token introspection), protected-resource metadata at
//! `/.well-known/oauth-protected-resource`, `401`/`403` challenges, and per-tool scopes.
//! See the [`auth`] module for the guide (clients, authorization servers, proxies).
//! With the `oauth-server` feature, [`McpRouter::auth_server`] makes the app its own
//! authorization server, so Claude and ChatGPT connect with sign-in and consent; see
//! `auth::server` for that guide.
#![doc = include_str!("docs/route_tools.md")]

pub mod auth;
mod cors;
#[cfg(feature = "redis")]
mod redis_store;
mod route_tools;
mod security;
mod serve;
mod service;
mod session;
pub mod testing;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::routing::any;
use http::Request;
use mcp_core::Server;

#[cfg(feature = "redis")]
pub use crate::redis_store::RedisStore;
#[doc(hidden)]
pub use crate::route_tools::__private;
pub use crate::route_tools::{McpCall, RequestHeaders, RouteHandler, RouteInfo, RouteTools};
pub use crate::serve::{Serve, serve};
pub use crate::service::{LAST_EVENT_ID, MCP_METHOD, MCP_NAME, PROTOCOL_VERSION, SESSION_ID};
pub use crate::session::{MemoryStore, SessionLimits, SessionStore, StoreError};

/// Builds the MCP endpoint for an axum app. See the [crate docs](crate).
pub struct McpRouter {
    server: Server,
    path: String,
    policy: security::Policy,
    body_limit: usize,
    keep_alive: Duration,
    event_buffer: usize,
    legacy: bool,
    limits: SessionLimits,
    store: Option<Arc<dyn SessionStore>>,
    auth: Option<auth::Auth>,
    public_url: Option<String>,
    #[cfg(feature = "oauth-server")]
    auth_server: Option<auth::server::AuthServer>,
}

impl std::fmt::Debug for McpRouter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("McpRouter").field("path", &self.path).field("legacy", &self.legacy).finish_non_exhaustive()
    }
}

impl McpRouter {
    /// An endpoint at `/mcp` serving `server`, with the secure defaults.
    pub fn new(server: Server) -> Self {
        McpRouter {
            server,
            path: "/mcp".into(),
            policy: security::Policy::default(),
            body_limit: 4 * 1024 * 1024,
            keep_alive: Duration::from_secs(15),
            event_buffer: 256,
            legacy: true,
            limits: SessionLimits::default(),
            store: None,
            auth: None,
            public_url: None,
            #[cfg(feature = "oauth-server")]
            auth_server: None,
        }
    }

    /// The endpoint's path (default `/mcp`); it is also served with a trailing slash.
    pub fn path(mut self, path: impl Into<String>) -> Self {
        let p = path.into();
        self.path = if p.starts_with('/') { p } else { format!("/{p}") };
        self
    }

    /// The URL clients use to reach this server (for example `https://api.example.com`):
    /// its host (on any port) and its origin are allowed, and it is the base of the
    /// resource URI when authentication is on.
    ///
    /// # Panics
    ///
    /// When `url` is not an absolute `http` or `https` URL with a host and no userinfo,
    /// query or fragment (a configuration error, reported when the router is built).
    pub fn public_url(mut self, url: &str) -> Self {
        let (origin, host) =
            parse_public_url(url).unwrap_or_else(|why| panic!("McpRouter::public_url(`{url}`): {why}"));
        self.public_url = Some(url.trim_end_matches('/').to_owned());
        self.policy.hosts.push(host);
        self.policy.origins.push(origin);
        self
    }

    /// Also accept requests addressed to this host: `api.example.com` (any port) or
    /// `api.example.com:8443` (that port only).
    ///
    /// # Panics
    ///
    /// When `host` is not a host name or IP address with an optional port.
    pub fn allow_host(mut self, host: impl Into<String>) -> Self {
        let host = host.into();
        let rule = security::HostRule::parse(&host)
            .unwrap_or_else(|| panic!("McpRouter::allow_host(`{host}`): expected `name[:port]` or `ip[:port]`"));
        self.policy.hosts.push(rule);
        self
    }

    /// Accept any `Host` (behind a proxy that already checks it).
    pub fn allow_any_host(mut self) -> Self {
        self.policy.any_host = true;
        self
    }

    /// Also accept browser requests from this origin (`https://app.example.com`; the port
    /// is the scheme's default unless written).
    ///
    /// # Panics
    ///
    /// When `origin` is not `http(s)://host[:port]`.
    pub fn allow_origin(mut self, origin: impl Into<String>) -> Self {
        let origin = origin.into();
        let parsed = security::Origin::parse(origin.strip_suffix('/').unwrap_or(&origin))
            .unwrap_or_else(|| panic!("McpRouter::allow_origin(`{origin}`): expected `http(s)://host[:port]`"));
        self.policy.origins.push(parsed);
        self
    }

    /// Accept requests from any origin. Only for servers that authenticate every request.
    pub fn allow_any_origin(mut self) -> Self {
        self.policy.any_origin = true;
        self
    }

    /// Stop accepting loopback hosts and origins by default.
    pub fn deny_loopback(mut self) -> Self {
        self.policy.loopback = false;
        self
    }

    /// Trust `X-Forwarded-Host` (and `X-Forwarded-Proto`) from a proxy in front.
    pub fn trust_forwarded_headers(mut self, trust: bool) -> Self {
        self.policy.trust_forwarded = trust;
        self
    }

    /// Largest accepted request body (default 4 MiB).
    pub fn body_limit(mut self, bytes: usize) -> Self {
        self.body_limit = bytes;
        self
    }

    /// Interval of SSE keep-alive comments (default 15 s).
    pub fn keep_alive(mut self, every: Duration) -> Self {
        self.keep_alive = every.max(Duration::from_millis(10));
        self
    }

    /// Events of a session's GET stream kept for `Last-Event-ID` replay (default 256).
    pub fn event_buffer(mut self, events: usize) -> Self {
        self.event_buffer = events;
        self
    }

    /// Serve the session-based 2025 protocol versions too (default `true`).
    pub fn legacy(mut self, enabled: bool) -> Self {
        self.legacy = enabled;
        self
    }

    /// Limits of legacy sessions (count, idle timeout) of the default in-memory store.
    pub fn session_limits(mut self, limits: SessionLimits) -> Self {
        self.limits = limits;
        self
    }

    /// Authenticate every request with `auth` (see [`auth`]) and serve its
    /// protected-resource metadata (RFC 9728) at `/.well-known/oauth-protected-resource`
    /// and at the path-aware form for this endpoint (for `/mcp`:
    /// `/.well-known/oauth-protected-resource/mcp`).
    pub fn auth(mut self, auth: auth::Auth) -> Self {
        self.auth = Some(auth);
        self
    }

    /// Serve the built-in OAuth 2.1 authorization server next to the endpoint (feature
    /// `oauth-server`; see [`auth::server`]): its metadata, `/authorize`, `/token`,
    /// `/register`, `/revoke` and `/jwks.json` at root paths. The endpoint accepts its
    /// access tokens in-process, before the authenticators of [`McpRouter::auth`] (which
    /// is optional), and its protected-resource metadata names it.
    #[cfg(feature = "oauth-server")]
    pub fn auth_server(mut self, server: auth::server::AuthServer) -> Self {
        self.auth_server = Some(server);
        self
    }

    /// Keep legacy session state in `store` (for example Redis, shared by replicas).
    pub fn session_store(mut self, store: impl SessionStore) -> Self {
        self.store = Some(Arc::new(store));
        self
    }

    // `mut` serves the authorization server, which attaches its authenticator here.
    #[cfg_attr(not(feature = "oauth-server"), allow(unused_mut))]
    fn inner(mut self) -> (String, Arc<service::Inner>) {
        #[cfg(feature = "oauth-server")]
        if let Some(server) = &self.auth_server {
            self.auth = Some(server.attach(self.auth.take(), self.public_url.as_deref(), &self.path));
        }
        let store = self.store.unwrap_or_else(|| Arc::new(MemoryStore::new(self.limits)));
        let inner = service::Inner {
            server: self.server,
            config: service::Config {
                policy: self.policy,
                body_limit: self.body_limit,
                keep_alive: self.keep_alive,
                event_buffer: self.event_buffer,
                legacy: self.legacy,
            },
            sessions: session::Sessions::new(store, self.limits),
            forwarding: std::sync::Once::new(),
            auth: self.auth.map(|a| {
                let resource =
                    a.resource.clone().or_else(|| self.public_url.as_ref().map(|u| format!("{u}{}", self.path)));
                service::AuthConfig { auth: a, resource }
            }),
            path: self.path.clone(),
        };
        (self.path, Arc::new(inner))
    }

    /// The endpoint as a router to [`merge`](Router::merge) into your app; it composes with
    /// your state and layers.
    pub fn into_router<S: Clone + Send + Sync + 'static>(self) -> Router<S> {
        #[cfg(feature = "oauth-server")]
        let auth_server = self.auth_server.clone();
        let (path, inner) = self.inner();
        let handler = {
            let inner = inner.clone();
            move |req: Request<Body>| service::handle(inner.clone(), req)
        };
        let trimmed = path.trim_end_matches('/');
        let path = if trimmed.is_empty() { "/".to_owned() } else { trimmed.to_owned() };
        let mut router = Router::new().route(&path, any(handler.clone()));
        if path != "/" {
            router = router.route(&format!("{path}/"), any(handler));
        }
        if inner.auth.is_some() {
            let metadata = move |req: Request<Body>| {
                let inner = inner.clone();
                async move { service::protected_resource_metadata(&inner, req) }
            };
            router = router.route(auth::WELL_KNOWN, any(metadata.clone()));
            if path != "/" {
                router = router.route(&format!("{}{path}", auth::WELL_KNOWN), any(metadata));
            }
        }
        #[cfg(feature = "oauth-server")]
        if let Some(server) = auth_server {
            router = router.merge(server.routes(&path));
        }
        router
    }
}

/// The origin and the host rule of a public URL, parsed (`http::Uri`, not split by hand).
fn parse_public_url(url: &str) -> Result<(security::Origin, security::HostRule), &'static str> {
    let uri: http::Uri = url.parse().map_err(|_| "not a URL")?;
    let scheme = uri.scheme_str().filter(|s| s.eq_ignore_ascii_case("http") || s.eq_ignore_ascii_case("https"));
    let scheme = scheme.ok_or("expected an absolute `http://` or `https://` URL")?;
    let authority = uri.authority().ok_or("expected a host")?;
    if authority.as_str().contains('@') {
        return Err("a public URL has no userinfo (`user@`)");
    }
    if uri.query().is_some() || url.contains('#') {
        return Err("a public URL has no query or fragment");
    }
    let origin = security::Origin::parse(&format!("{scheme}://{authority}")).ok_or("invalid host or port")?;
    let host = security::HostRule::parse(authority.host()).ok_or("invalid host")?;
    Ok((origin, host))
}
