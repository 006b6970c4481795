#![doc = include_str!("../../docs/auth_server.md")]

mod authorize;
mod cimd;
mod keys;
mod limit;
mod metadata;
mod pages;
#[cfg(feature = "redis")]
mod redis_store;
mod register;
mod revoke;
mod rules;
pub mod store;
mod token;
mod verified;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::routing::{get, post};
use http::request::Parts;
use http::{HeaderValue, Response, StatusCode};
use mcp_core::Principal;
use mcp_core::server::BoxFuture;

pub use self::pages::{ConsentPage, DefaultPages, ErrorPage, Pages, ScopeLine, SignInPage};
#[cfg(feature = "redis")]
pub use self::redis_store::RedisAuthStore;
pub use self::store::{AuthStore, MemoryAuthStore};
use crate::auth::SetupError;

/// How the app signs its users in. The framework renders the pages; the app checks.
///
/// ```
/// use mcp_axum::auth::server::SignIn;
/// use mcp_core::Principal;
/// use mcp_core::server::BoxFuture;
///
/// struct Users;
///
/// impl SignIn for Users {
///     fn sign_in<'a>(&'a self, username: &'a str, password: &'a str)
///         -> BoxFuture<'a, Result<Option<Principal>, String>> {
///         // Look the user up in your own table; compare a password hash there.
///         let ok = username == "alice" && password == "correct horse";
///         Box::pin(async move { Ok(ok.then(|| Principal::new("user-1"))) })
///     }
/// }
/// ```
pub trait SignIn: Send + Sync + 'static {
    /// Check a username and password: `Ok(Some(principal))` when they are right,
    /// `Ok(None)` when they are not, `Err` when the check itself failed (the user sees a
    /// generic error). The principal's `subject` becomes the tokens' `sub`; its `claims`
    /// are carried in the access tokens (keep them small, and nothing secret: clients can
    /// read JWTs); when it has `scopes`, the user can grant at most those.
    fn sign_in<'a>(&'a self, username: &'a str, password: &'a str) -> BoxFuture<'a, Result<Option<Principal>, String>>;

    /// Recognise a user who is already signed in to the app (its session cookie, say)
    /// from the `GET /authorize` request, skipping the sign-in page. Default: nobody.
    fn session<'a>(&'a self, request: &'a Parts) -> BoxFuture<'a, Option<Principal>> {
        let _ = request;
        Box::pin(std::future::ready(None))
    }
}

/// The server's clock in Unix seconds; tests replace it to expire codes and tokens.
#[derive(Clone)]
pub(crate) struct Clock(Arc<dyn Fn() -> u64 + Send + Sync>);

impl Clock {
    pub(crate) fn now(&self) -> u64 {
        (self.0)()
    }
}

fn system_now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// A client registered in code (for example one you configured by hand in Claude's
/// "Advanced settings").
#[derive(Clone, Debug)]
pub struct PreRegistered {
    client: store::Client,
}

impl PreRegistered {
    /// A public client (PKCE only, no secret) with its redirect URIs.
    pub fn public<I: IntoIterator<Item = S>, S: Into<String>>(client_id: impl Into<String>, redirect_uris: I) -> Self {
        PreRegistered {
            client: store::Client {
                client_id: client_id.into(),
                secret: None,
                auth: store::ClientAuth::None,
                redirect_uris: redirect_uris.into_iter().map(Into::into).collect(),
                client_name: None,
                created_at: 0,
            },
        }
    }

    /// A confidential client authenticating with `client_secret_post` or
    /// `client_secret_basic` (both accepted); only the secret's digest is kept.
    pub fn confidential<I: IntoIterator<Item = S>, S: Into<String>>(
        client_id: impl Into<String>,
        secret: &str,
        redirect_uris: I,
    ) -> Self {
        let mut c = Self::public(client_id, redirect_uris);
        c.client.secret = Some(store::Digest::of(secret));
        c.client.auth = store::ClientAuth::ClientSecretPost;
        c
    }

    /// The name shown on the consent page.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.client.client_name = Some(name.into());
        self
    }
}

/// Why a client could not be looked up.
#[derive(Debug)]
enum ClientError {
    /// The store failed.
    Store(store::StoreError),
    /// Its metadata document could not be fetched or is not acceptable: why, for the user.
    Document(String),
}

/// Builds an [`AuthServer`].
pub struct AuthServerBuilder {
    issuer: Option<String>,
    name: String,
    sign_in: Option<Arc<dyn SignIn>>,
    scopes: Vec<(String, String)>,
    clients: Vec<PreRegistered>,
    store: Option<Arc<dyn AuthStore>>,
    pages: Arc<dyn Pages>,
    access_ttl: Duration,
    refresh_ttl: Duration,
    code_ttl: Duration,
    grace: Duration,
    clock: Option<Clock>,
    signing_key: Option<(String, Vec<u8>)>,
    registration: bool,
    documents: bool,
    documents_from_loopback: bool,
    limits: limit::Limits,
}

impl fmt::Debug for AuthServerBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthServerBuilder").field("issuer", &self.issuer).finish_non_exhaustive()
    }
}

impl AuthServerBuilder {
    /// The public origin clients reach this server at, for example
    /// `https://blog.example.com`: the `issuer` of the metadata and of the tokens. It is
    /// never taken from `Host` or `X-Forwarded-*` headers. Required; no path.
    pub fn issuer(mut self, origin: impl Into<String>) -> Self {
        self.issuer = Some(origin.into());
        self
    }

    /// The app's name on the sign-in and consent pages (default "this app").
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// How users sign in. Required.
    pub fn sign_in(mut self, sign_in: impl SignIn) -> Self {
        self.sign_in = Some(Arc::new(sign_in));
        self
    }

    /// The scopes clients can ask for, each with the description the consent page shows.
    /// They are the metadata's `scopes_supported`; a request without `scope` gets all of them.
    pub fn scopes<I, N, D>(mut self, scopes: I) -> Self
    where
        I: IntoIterator<Item = (N, D)>,
        N: Into<String>,
        D: Into<String>,
    {
        self.scopes.extend(scopes.into_iter().map(|(n, d)| (n.into(), d.into())));
        self
    }

    /// A client registered in code.
    pub fn client(mut self, client: PreRegistered) -> Self {
        self.clients.push(client);
        self
    }

    /// Where clients, codes, refresh tokens, consents and keys live (default: memory).
    pub fn store(mut self, store: impl AuthStore) -> Self {
        self.store = Some(Arc::new(store));
        self
    }

    /// Render the sign-in, consent and error pages yourself (default: [`DefaultPages`]).
    pub fn pages(mut self, pages: impl Pages) -> Self {
        self.pages = Arc::new(pages);
        self
    }

    /// Lifetime of access tokens (default 1 hour).
    pub fn access_token_ttl(mut self, ttl: Duration) -> Self {
        self.access_ttl = ttl.max(Duration::from_secs(1));
        self
    }

    /// Lifetime of a refresh token since it was issued; each rotation starts a new one,
    /// so this is the longest inactivity a connection survives (default 30 days).
    pub fn refresh_token_ttl(mut self, ttl: Duration) -> Self {
        self.refresh_ttl = ttl.max(Duration::from_secs(1));
        self
    }

    /// Lifetime of authorization codes (default 60 s).
    pub fn code_ttl(mut self, ttl: Duration) -> Self {
        self.code_ttl = ttl.max(Duration::from_secs(1));
        self
    }

    /// How long a just-rotated refresh token still returns the same successor (default
    /// 30 s), for clients that refresh from several calls at once.
    pub fn refresh_grace(mut self, grace: Duration) -> Self {
        self.grace = grace;
        self
    }

    /// Sign with this P-256 key (PKCS#8 DER) under this `kid`, rather than one generated
    /// and kept in the store.
    pub fn signing_key(mut self, kid: impl Into<String>, pkcs8_der: impl Into<Vec<u8>>) -> Self {
        self.signing_key = Some((kid.into(), pkcs8_der.into()));
        self
    }

    /// Serve dynamic client registration (RFC 7591) at `/register` (default `true`).
    pub fn registration(mut self, enabled: bool) -> Self {
        self.registration = enabled;
        self
    }

    /// Accept Client ID Metadata Documents (default `true`): a client whose `client_id` is
    /// an https URL is described by the JSON document there, fetched (with the rules against
    /// server-side request forgery the guide lists) and cached. This is how Claude and VS
    /// Code identify themselves without registering.
    pub fn client_metadata_documents(mut self, enabled: bool) -> Self {
        self.documents = enabled;
        self
    }

    /// For tests only: also fetch client metadata documents from loopback addresses
    /// (127.0.0.0/8, `::1`, `localhost`), over plain http too. Private, link-local and
    /// other non-public addresses stay refused. Never enable this in production: it lets
    /// anyone make the server fetch from its own machine.
    pub fn client_metadata_from_loopback(mut self, allowed: bool) -> Self {
        self.documents_from_loopback = allowed;
        self
    }

    /// Client metadata documents fetched per client address per minute (default 20): each
    /// unknown URL `client_id` makes this server fetch, so strangers cannot use it as a
    /// fetching proxy.
    pub fn client_metadata_fetches_per_minute(mut self, n: u32) -> Self {
        self.limits.document_fetch = n;
        self
    }

    /// Registrations allowed per client address per minute (default 20).
    pub fn registrations_per_minute(mut self, n: u32) -> Self {
        self.limits.register = n;
        self
    }

    /// Sign-in attempts allowed per username and per client address per minute (default
    /// 5 per user, 20 per address).
    pub fn sign_ins_per_minute(mut self, per_user: u32, per_address: u32) -> Self {
        self.limits.sign_in_user = per_user;
        self.limits.sign_in_address = per_address;
        self
    }

    /// Replace the clock (Unix seconds), for tests that expire codes and tokens.
    #[doc(hidden)]
    pub fn clock(mut self, now: impl Fn() -> u64 + Send + Sync + 'static) -> Self {
        self.clock = Some(Clock(Arc::new(now)));
        self
    }

    /// The server. Fails without an issuer or a [`SignIn`], or with an issuer that is not
    /// a bare `https` origin (`http` only on loopback).
    pub fn build(self) -> Result<AuthServer, SetupError> {
        let issuer = self.issuer.ok_or_else(|| {
            SetupError("the authorization server needs its public origin: `.issuer(\"https://...\")`".into())
        })?;
        let issuer = check_issuer(&issuer)?;
        let sign_in = self.sign_in.ok_or_else(|| {
            SetupError("the authorization server needs to know how users sign in: `.sign_in(...)`".into())
        })?;
        for c in &self.clients {
            for uri in &c.client.redirect_uris {
                rules::check_redirect_uri(uri)
                    .map_err(|e| SetupError(format!("client `{}`: {e}", c.client.client_id)))?;
            }
        }
        let clock = self.clock.unwrap_or_else(|| Clock(Arc::new(system_now)));
        let store = self.store.unwrap_or_else(|| Arc::new(MemoryAuthStore::new()));
        let signing_key = match self.signing_key {
            Some((kid, der)) => Some(keys::from_pkcs8(kid, der, clock.now()).map_err(SetupError)?),
            None => None,
        };
        let keep_retired = self.access_ttl.as_secs() + 60;
        Ok(AuthServer {
            inner: Arc::new(Inner {
                keys: Arc::new(keys::Keys::new(store.clone(), clock.clone(), keep_retired, signing_key)),
                issuer,
                name: self.name,
                resource: std::sync::OnceLock::new(),
                sign_in,
                scopes: self.scopes,
                clients: self.clients.into_iter().map(|c| c.client).collect(),
                store,
                pages: self.pages,
                access_ttl: self.access_ttl.as_secs(),
                refresh_ttl: self.refresh_ttl.as_secs(),
                code_ttl: self.code_ttl.as_secs(),
                grace: self.grace.as_secs(),
                clock,
                registration: self.registration,
                documents: self.documents.then(|| cimd::Documents::new(self.documents_from_loopback)),
                limiter: limit::Limiter::new(self.limits),
                metadata: std::sync::OnceLock::new(),
            }),
        })
    }
}

fn check_issuer(issuer: &str) -> Result<String, SetupError> {
    let issuer = issuer.trim_end_matches('/');
    let parsed = url::Url::parse(issuer).map_err(|e| SetupError(format!("the issuer `{issuer}` is not a URL: {e}")))?;
    let origin = parsed.origin().ascii_serialization();
    if parsed.path() != "/" || parsed.query().is_some() || parsed.fragment().is_some() || origin != issuer {
        return Err(SetupError(format!(
            "the issuer must be the bare public origin, like `https://blog.example.com` (no path, no trailing \
             slash, lowercase host), not `{issuer}`"
        )));
    }
    let loopback = matches!(parsed.host_str(), Some("127.0.0.1" | "[::1]" | "localhost"));
    if parsed.scheme() != "https" && !loopback {
        return Err(SetupError(format!(
            "the issuer `{issuer}` must be https (plain http only on 127.0.0.1, [::1] or localhost)"
        )));
    }
    Ok(origin)
}

/// The built-in authorization server. Give it to
/// [`McpRouter::auth_server`](crate::McpRouter::auth_server).
#[derive(Clone)]
pub struct AuthServer {
    inner: Arc<Inner>,
}

impl fmt::Debug for AuthServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthServer").field("issuer", &self.inner.issuer).finish_non_exhaustive()
    }
}

pub(crate) struct Inner {
    issuer: String,
    name: String,
    /// The MCP endpoint's canonical resource URI (set when mounted).
    resource: std::sync::OnceLock<String>,
    sign_in: Arc<dyn SignIn>,
    scopes: Vec<(String, String)>,
    clients: Vec<store::Client>,
    store: Arc<dyn AuthStore>,
    pages: Arc<dyn Pages>,
    access_ttl: u64,
    refresh_ttl: u64,
    code_ttl: u64,
    grace: u64,
    clock: Clock,
    keys: Arc<keys::Keys>,
    registration: bool,
    /// Client ID Metadata Documents, when accepted.
    documents: Option<cimd::Documents>,
    limiter: limit::Limiter,
    /// The RFC 8414 document, serialised once.
    metadata: std::sync::OnceLock<Vec<u8>>,
}

impl Inner {
    fn now(&self) -> u64 {
        self.clock.now()
    }

    /// A client: pre-registered ones first, then the store, then (for a URL `client_id`)
    /// its metadata document. `address` is the caller's, for the fetch limit.
    async fn client(&self, client_id: &str, address: &str) -> Result<Option<store::Client>, ClientError> {
        if let Some(c) = self.clients.iter().find(|c| c.client_id == client_id) {
            return Ok(Some(c.clone()));
        }
        if let Some(c) = self.store.client(client_id).await.map_err(ClientError::Store)? {
            return Ok(Some(c));
        }
        let Some(documents) = self.documents.as_ref().filter(|_| cimd::is_document_url(client_id)) else {
            return Ok(None);
        };
        if let Some(c) = documents.cached(client_id) {
            return Ok(Some(c));
        }
        if !self.limiter.allow(&format!("document:{address}"), self.limiter.limits.document_fetch) {
            return Err(ClientError::Document(
                "Too many client metadata documents were fetched for this address; wait a minute".into(),
            ));
        }
        documents.fetch_client(client_id, self.now()).await.map(Some).map_err(|e| {
            tracing::info!(client_id, error = %e, "a client metadata document was refused");
            ClientError::Document(format!("The client metadata document `{client_id}` cannot be used: {e}"))
        })
    }

    fn scope_names(&self) -> Vec<String> {
        self.scopes.iter().map(|(n, _)| n.clone()).collect()
    }

    /// The MCP resource (canonical), fixed when mounted.
    fn resource(&self) -> &str {
        self.resource.get().map_or("", String::as_str)
    }
}

impl AuthServer {
    /// A builder; see [`AuthServerBuilder`].
    pub fn builder() -> AuthServerBuilder {
        AuthServerBuilder {
            issuer: None,
            name: "this app".into(),
            sign_in: None,
            scopes: Vec::new(),
            clients: Vec::new(),
            store: None,
            pages: Arc::new(DefaultPages),
            access_ttl: Duration::from_secs(3600),
            refresh_ttl: Duration::from_secs(30 * 24 * 3600),
            code_ttl: Duration::from_secs(60),
            grace: Duration::from_secs(30),
            clock: None,
            signing_key: None,
            registration: true,
            documents: true,
            documents_from_loopback: false,
            limits: limit::Limits::default(),
        }
    }

    /// The issuer (public origin).
    pub fn issuer(&self) -> &str {
        &self.inner.issuer
    }

    /// The store, to manage consents and clients from the app (for example a "connected
    /// apps" page calling [`AuthStore::revoke_consent`]).
    pub fn store(&self) -> &Arc<dyn AuthStore> {
        &self.inner.store
    }

    /// Publish a newly generated key and sign with it 20 s later, once every replica on the
    /// same store can know it (a token with a key a replica does not know makes it reread
    /// the keys, at most every 10 s). Tokens signed with the previous keys stay valid (and
    /// their keys published) until they expire. Other replicas sign with the new key within
    /// a minute (they reread the keys that often).
    pub async fn rotate_keys(&self) -> Result<(), store::StoreError> {
        self.inner.keys.rotate().await
    }

    /// Fix the MCP resource, serialise the metadata: called by `McpRouter` when it mounts
    /// the server. Returns the authenticator of this server's tokens.
    fn mount(&self, resource: &str) -> Result<Arc<dyn crate::auth::Authenticator>, SetupError> {
        let resource = rules::canonical_resource(resource)
            .ok_or_else(|| SetupError(format!("the MCP resource `{resource}` is not an absolute URL")))?;
        let inner = &self.inner;
        if inner.resource.get_or_init(|| resource.clone()) != &resource {
            return Err(SetupError("an AuthServer serves one MCP endpoint; build one per McpRouter".into()));
        }
        inner.metadata.get_or_init(|| metadata::document(inner));
        Ok(Arc::new(keys::OwnTokens {
            keys: inner.keys.clone(),
            issuer: inner.issuer.clone(),
            audience: resource,
            verified: verified::VerifiedTokens::new(verified::CAPACITY),
        }))
    }

    /// The resource server's [`Auth`](crate::auth::Auth) with this server attached: its
    /// tokens accepted in-process (asked first, the app's other authenticators after), its
    /// issuer named in the protected-resource metadata, the resource fixed (to the
    /// configured one, else `public_url` + `path`, else the issuer + `path`).
    pub(crate) fn attach(
        &self,
        auth: Option<crate::auth::Auth>,
        public_url: Option<&str>,
        path: &str,
    ) -> crate::auth::Auth {
        let mut auth = auth.unwrap_or_default();
        let resource = auth
            .resource
            .clone()
            .unwrap_or_else(|| format!("{}{}", public_url.unwrap_or(&self.inner.issuer), path.trim_end_matches('/')));
        match self.mount(&resource) {
            Ok(authenticator) => auth.authenticators.insert(0, authenticator),
            Err(e) => tracing::error!(error = %e, "the authorization server is not mounted"),
        }
        auth.resource = Some(self.inner.resource().to_owned()).filter(|r| !r.is_empty()).or(Some(resource));
        if !auth.authorization_servers.contains(&self.inner.issuer) {
            auth.authorization_servers.insert(0, self.inner.issuer.clone());
        }
        if auth.scopes_supported.is_none() && !self.inner.scopes.is_empty() {
            auth.scopes_supported = Some(self.inner.scope_names());
        }
        auth
    }

    /// The routes: metadata (and its aliases for `mcp_path`), the endpoints at root paths,
    /// the pages.
    pub(crate) fn routes<S: Clone + Send + Sync + 'static>(&self, mcp_path: &str) -> Router<S> {
        let inner = self.inner.clone();
        let meta = {
            let inner = inner.clone();
            move || {
                let inner = inner.clone();
                async move { metadata::serve(&inner) }
            }
        };
        let mut router = Router::new();
        let path = mcp_path.trim_end_matches('/');
        for base in ["/.well-known/oauth-authorization-server", "/.well-known/openid-configuration"] {
            router = router.route(base, get(meta.clone()).options(cors_preflight));
            if !path.is_empty() {
                router = router.route(&format!("{base}{path}"), get(meta.clone()).options(cors_preflight));
            }
        }
        if !path.is_empty() {
            router =
                router.route(&format!("{path}/.well-known/openid-configuration"), get(meta).options(cors_preflight));
        }
        let i = inner.clone();
        router = router.route(
            "/jwks.json",
            get(move || {
                let i = i.clone();
                async move { metadata::jwks(&i).await }
            })
            .options(cors_preflight),
        );
        let i = inner.clone();
        router = router.route(
            "/token",
            post(move |req: http::Request<Body>| {
                let i = i.clone();
                async move { token::handle(&i, req).await }
            })
            .options(cors_preflight),
        );
        let i = inner.clone();
        router = router.route(
            "/revoke",
            post(move |req: http::Request<Body>| {
                let i = i.clone();
                async move { revoke::handle(&i, req).await }
            })
            .options(cors_preflight),
        );
        if inner.registration {
            let i = inner.clone();
            router = router.route(
                "/register",
                post(move |req: http::Request<Body>| {
                    let i = i.clone();
                    async move { register::handle(&i, req).await }
                })
                .options(cors_preflight),
            );
        }
        router.merge(authorize::routes(inner))
    }
}

/// `OPTIONS` on the endpoints browser-based clients call cross-origin.
async fn cors_preflight() -> Response<Body> {
    let mut r = Response::new(Body::empty());
    *r.status_mut() = StatusCode::NO_CONTENT;
    let h = r.headers_mut();
    h.insert("access-control-allow-origin", HeaderValue::from_static("*"));
    h.insert("access-control-allow-methods", HeaderValue::from_static("GET, POST, OPTIONS"));
    h.insert(
        "access-control-allow-headers",
        HeaderValue::from_static("authorization, content-type, mcp-protocol-version"),
    );
    h.insert("access-control-max-age", HeaderValue::from_static("86400"));
    r
}

/// A JSON response with `Cache-Control: no-store` and open CORS (token, register, revoke).
fn json(status: StatusCode, body: &serde_json::Value) -> Response<Body> {
    let mut r = Response::new(Body::from(body.to_string()));
    *r.status_mut() = status;
    let h = r.headers_mut();
    h.insert(http::header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    h.insert(http::header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert("access-control-allow-origin", HeaderValue::from_static("*"));
    r
}

/// An OAuth error response (RFC 6749 §5.2).
fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response<Body> {
    json(status, &serde_json::json!({ "error": error, "error_description": description }))
}

/// The client's address, when the app serves with connect info (else one shared bucket).
fn client_address(parts: &Parts) -> String {
    parts
        .extensions
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map_or_else(|| "unknown".to_owned(), |c| c.0.ip().to_string())
}

/// Read a form body (at most 64 KiB) as name/value pairs.
async fn read_form(body: Body) -> Result<Vec<(String, String)>, Response<Body>> {
    let bytes = axum::body::to_bytes(body, 64 * 1024)
        .await
        .map_err(|_| oauth_error(StatusCode::PAYLOAD_TOO_LARGE, "invalid_request", "the request body is too large"))?;
    Ok(url::form_urlencoded::parse(&bytes).into_owned().collect())
}

/// The single value of `name` in a form or query; `Err` when it is repeated.
fn single<'a>(pairs: &'a [(String, String)], name: &str) -> Result<Option<&'a str>, String> {
    let mut found = pairs.iter().filter(|(k, _)| k == name);
    let first = found.next().map(|(_, v)| v.as_str());
    if found.next().is_some() {
        return Err(format!("`{name}` is repeated; send it once"));
    }
    Ok(first.filter(|v| !v.is_empty()))
}
