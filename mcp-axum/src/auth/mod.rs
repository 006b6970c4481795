#![doc = include_str!("../docs/auth.md")]

#[cfg(feature = "oauth")]
mod fetch;
#[cfg(feature = "oauth")]
mod introspection;
#[cfg(feature = "oauth")]
mod jwt;
#[cfg(feature = "oauth-server")]
pub mod server;

use std::fmt;
use std::sync::Arc;

use http::request::Parts;
use http::{HeaderMap, HeaderValue};
use mcp_core::Principal;
use mcp_core::server::BoxFuture;
use serde::Serialize;
use sha2::{Digest, Sha256};

#[cfg(feature = "oauth")]
pub use self::fetch::SetupError;
#[cfg(feature = "oauth")]
pub use self::introspection::Introspection;
#[cfg(feature = "oauth")]
pub use self::jwt::{JwtAuthenticator, JwtBuilder, discover_jwks_uri};
/// Signature algorithms of [`JwtAuthenticator`].
#[cfg(feature = "oauth")]
pub use jsonwebtoken::Algorithm;

/// What an [`Authenticator`] says of a request.
#[derive(Debug)]
pub enum Verdict {
    /// The token is valid: the request acts as this principal.
    Accept(Principal),
    /// The token is this authenticator's kind but invalid (expired, bad signature, wrong
    /// audience...): `401` with `error="invalid_token"` and this description.
    Reject(String),
    /// Not this authenticator's token (or no token): the next one decides.
    Pass,
}

/// Turns a request's credentials into a [`Principal`].
///
/// `token` is the bearer token of the `Authorization` header (`None` without one). Tokens
/// in the query string are never looked at.
pub trait Authenticator: Send + Sync + 'static {
    /// Decide on one request.
    fn authenticate<'a>(&'a self, request: &'a Parts, token: Option<&'a str>) -> BoxFuture<'a, Verdict>;
}

impl<A: Authenticator + ?Sized> Authenticator for Arc<A> {
    fn authenticate<'a>(&'a self, request: &'a Parts, token: Option<&'a str>) -> BoxFuture<'a, Verdict> {
        (**self).authenticate(request, token)
    }
}

/// For authenticators that only look at the token: `Pass` without one, else `check`.
#[cfg(feature = "oauth")]
fn with_token<'a, F>(token: Option<&'a str>, check: impl FnOnce(&'a str) -> F) -> BoxFuture<'a, Verdict>
where
    F: std::future::Future<Output = Verdict> + Send + 'a,
{
    match token {
        Some(t) => Box::pin(check(t)),
        None => Box::pin(std::future::ready(Verdict::Pass)),
    }
}

/// Static bearer tokens or API keys, each acting as a fixed [`Principal`].
///
/// Tokens are kept as SHA-256 digests and every one is compared in constant time, so
/// neither the comparison time nor a memory dump reveals them.
#[derive(Clone, Default)]
pub struct BearerTokens {
    tokens: Vec<([u8; 32], Principal)>,
}

impl fmt::Debug for BearerTokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BearerTokens").field("tokens", &self.tokens.len()).finish()
    }
}

impl BearerTokens {
    /// No tokens yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Accept `token` as `principal`.
    pub fn token(mut self, token: impl AsRef<[u8]>, principal: Principal) -> Self {
        self.tokens.push((Sha256::digest(token.as_ref()).into(), principal));
        self
    }
}

fn constant_time_eq(a: &[u8; 32], b: &[u8; 32]) -> bool {
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl Authenticator for BearerTokens {
    fn authenticate<'a>(&'a self, _request: &'a Parts, token: Option<&'a str>) -> BoxFuture<'a, Verdict> {
        let verdict = match token {
            None => Verdict::Pass,
            Some(t) => {
                let digest: [u8; 32] = Sha256::digest(t.as_bytes()).into();
                // Look at every entry whatever matches, so timing says nothing.
                let mut found = None;
                for (d, p) in &self.tokens {
                    if constant_time_eq(d, &digest) && found.is_none() {
                        found = Some(p);
                    }
                }
                found.map_or(Verdict::Pass, |p| Verdict::Accept(p.clone()))
            }
        };
        Box::pin(std::future::ready(verdict))
    }
}

/// "Use the app's own auth": accepts the [`Principal`] that the application's middleware
/// (a layer on the MCP router, or on the whole app) put into the request extensions.
/// Requests without one pass to the next authenticator.
#[derive(Clone, Copy, Debug, Default)]
pub struct FromExtensions;

impl Authenticator for FromExtensions {
    fn authenticate<'a>(&'a self, request: &'a Parts, _token: Option<&'a str>) -> BoxFuture<'a, Verdict> {
        let verdict = request.extensions.get::<Principal>().cloned().map_or(Verdict::Pass, Verdict::Accept);
        Box::pin(std::future::ready(verdict))
    }
}

/// Authentication of the MCP endpoint and its protected-resource metadata. Give it to
/// [`McpRouter::auth`](crate::McpRouter::auth).
#[derive(Clone, Default)]
pub struct Auth {
    authenticators: Vec<Arc<dyn Authenticator>>,
    pub(crate) resource: Option<String>,
    authorization_servers: Vec<String>,
    scopes_supported: Option<Vec<String>>,
    pub(crate) required_scopes: Vec<String>,
    resource_name: Option<String>,
    resource_documentation: Option<String>,
    pub(crate) allow_anonymous: bool,
    pub(crate) errors_as_results: bool,
}

impl fmt::Debug for Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Auth")
            .field("authenticators", &self.authenticators.len())
            .field("resource", &self.resource)
            .field("authorization_servers", &self.authorization_servers)
            .field("required_scopes", &self.required_scopes)
            .finish_non_exhaustive()
    }
}

impl Auth {
    /// No authenticators yet: every request is refused until one is added.
    pub fn new() -> Self {
        Self::default()
    }

    /// Add an authenticator to the chain; earlier ones are asked first.
    pub fn authenticator(mut self, authenticator: impl Authenticator) -> Self {
        self.authenticators.push(Arc::new(authenticator));
        self
    }

    /// The canonical URI of this MCP server (RFC 8707), for example
    /// `https://api.example.com/mcp`: the `resource` of the metadata and the audience
    /// tokens must name. Defaults to the router's public URL plus its path, else to the
    /// URL the request was addressed to (trusting `X-Forwarded-Proto`/`-Host` only when
    /// the router does).
    pub fn resource(mut self, uri: impl Into<String>) -> Self {
        self.resource = Some(uri.into().trim_end_matches('/').to_owned());
        self
    }

    /// An authorization server clients should get tokens from (its issuer URL).
    pub fn authorization_server(mut self, issuer: impl Into<String>) -> Self {
        self.authorization_servers.push(issuer.into());
        self
    }

    /// `scopes_supported` of the metadata: the scopes a client asks for to start with.
    /// Defaults to the required scopes; tools' own scopes are asked for on demand (step-up).
    pub fn scopes_supported<I: IntoIterator<Item = S>, S: Into<String>>(mut self, scopes: I) -> Self {
        self.scopes_supported = Some(scopes.into_iter().map(Into::into).collect());
        self
    }

    /// Scopes every request needs (`403` with `insufficient_scope` without them); they are
    /// also the `scope` of `401` challenges (else [`Auth::scopes_supported`] is).
    pub fn required_scopes<I: IntoIterator<Item = S>, S: Into<String>>(mut self, scopes: I) -> Self {
        self.required_scopes.extend(scopes.into_iter().map(Into::into));
        self
    }

    /// A human-readable name of the resource, for the metadata.
    pub fn resource_name(mut self, name: impl Into<String>) -> Self {
        self.resource_name = Some(name.into());
        self
    }

    /// A URL of documentation for developers, for the metadata.
    pub fn resource_documentation(mut self, url: impl Into<String>) -> Self {
        self.resource_documentation = Some(url.into());
        self
    }

    /// Let requests without a token through, without a principal (default: `401`). Tools
    /// that need scopes still answer `401` to them.
    pub fn allow_anonymous(mut self, allow: bool) -> Self {
        self.allow_anonymous = allow;
        self
    }

    /// Compatibility mode for clients that cannot handle `403` on `tools/call`: a call
    /// lacking scopes is answered `200` with an `isError` result naming the scopes.
    /// (`401` stays: without it no client can start the OAuth flow.)
    pub fn errors_as_results(mut self, enabled: bool) -> Self {
        self.errors_as_results = enabled;
        self
    }

    /// Run the chain on a request: its principal, `None` for an anonymous request when
    /// [`Auth::allow_anonymous`] is set, or why it is refused. The MCP endpoint calls this
    /// on every request; an app can call it from its own middleware to guard its REST
    /// routes with the same authenticators.
    pub async fn authenticate(&self, parts: &Parts) -> Result<Option<Principal>, AuthError> {
        let token = match bearer_token(&parts.headers) {
            Ok(t) => t,
            Err(e) => return Err(AuthError::Invalid(e.into())),
        };
        for a in &self.authenticators {
            match a.authenticate(parts, token).await {
                Verdict::Accept(p) => return Ok(Some(p)),
                Verdict::Reject(why) => return Err(AuthError::Invalid(why)),
                Verdict::Pass => {}
            }
        }
        match token {
            Some(_) => Err(AuthError::Invalid("the access token is not recognised".into())),
            None if self.allow_anonymous => Ok(None),
            None => Err(AuthError::Missing),
        }
    }

    /// The `scope` of a `401` challenge: what a client should ask for to start with — the
    /// required scopes, else the configured `scopes_supported`.
    pub(crate) fn challenge_scopes(&self) -> &[String] {
        match &self.scopes_supported {
            Some(s) if self.required_scopes.is_empty() => s,
            _ => &self.required_scopes,
        }
    }

    /// The protected-resource metadata document (RFC 9728 §2) for `resource`, its fields
    /// in the RFC's order.
    pub(crate) fn metadata(&self, resource: &str, tool_scopes: &[String]) -> Vec<u8> {
        let scopes = self.scopes_supported.clone().unwrap_or_else(|| {
            if self.required_scopes.is_empty() { tool_scopes.to_vec() } else { self.required_scopes.clone() }
        });
        let doc = Metadata {
            resource,
            authorization_servers: &self.authorization_servers,
            scopes_supported: &scopes,
            bearer_methods_supported: &["header"],
            resource_name: self.resource_name.as_deref(),
            resource_documentation: self.resource_documentation.as_deref(),
        };
        serde_json::to_vec(&doc).unwrap_or_default()
    }
}

/// RFC 9728 §2 field names.
#[derive(Serialize)]
struct Metadata<'a> {
    resource: &'a str,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    authorization_servers: &'a [String],
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    scopes_supported: &'a [String],
    bearer_methods_supported: &'a [&'a str],
    #[serde(skip_serializing_if = "Option::is_none")]
    resource_name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    resource_documentation: Option<&'a str>,
}

/// Why authentication failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AuthError {
    /// No credentials: a challenge without an error code (RFC 6750 §3.1).
    Missing,
    /// Invalid credentials (`error="invalid_token"`), and why.
    Invalid(String),
}

impl fmt::Display for AuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AuthError::Missing => f.write_str("send `Authorization: Bearer <access token>`"),
            AuthError::Invalid(why) => f.write_str(why),
        }
    }
}

impl std::error::Error for AuthError {}

/// The bearer token of the `Authorization` header. Several `Authorization` headers, or a
/// `Bearer` scheme without a token, are invalid requests.
fn bearer_token(headers: &HeaderMap) -> Result<Option<&str>, &'static str> {
    let mut values = headers.get_all(http::header::AUTHORIZATION).iter();
    let Some(value) = values.next() else { return Ok(None) };
    if values.next().is_some() {
        return Err("send one Authorization header");
    }
    let value = value.to_str().map_err(|_| "the Authorization header is not visible ASCII")?;
    let (scheme, token) = value.trim().split_once(' ').unwrap_or((value.trim(), ""));
    if !scheme.eq_ignore_ascii_case("bearer") {
        // Basic and others are not ours; treat as no bearer token.
        return Ok(None);
    }
    let token = token.trim();
    if token.is_empty() {
        return Err("the Bearer scheme needs a token");
    }
    Ok(Some(token))
}

/// An RFC 6750 `error_description`/`scope` value: only `%x20-21 / %x23-5B / %x5D-7E`.
fn quoted(value: &str) -> String {
    value.chars().map(|c| if matches!(c, ' ' | '!' | '#'..='[' | ']'..='~') { c } else { '\'' }).collect()
}

/// A `WWW-Authenticate: Bearer ...` value (RFC 6750 §3 and RFC 9728 §5.1).
pub(crate) fn challenge(metadata_url: &str, scope: &[String], error: Option<(&str, &str)>) -> HeaderValue {
    let mut v = format!("Bearer resource_metadata=\"{}\"", quoted(metadata_url));
    if !scope.is_empty() {
        v.push_str(&format!(", scope=\"{}\"", quoted(&scope.join(" "))));
    }
    if let Some((code, description)) = error {
        v.push_str(&format!(", error=\"{code}\", error_description=\"{}\"", quoted(description)));
    }
    HeaderValue::from_str(&v).unwrap_or_else(|_| HeaderValue::from_static("Bearer"))
}

/// The metadata URL of `resource`: the well-known path inserted between the origin and
/// the resource's path (RFC 9728 §3.1).
pub(crate) fn metadata_url(resource: &str) -> String {
    let (origin, path) = split_origin(resource);
    format!("{origin}{WELL_KNOWN}{}", path.trim_end_matches('/'))
}

/// `https://host:port` and the path (with its leading `/`, or empty).
pub(crate) fn split_origin(url: &str) -> (&str, &str) {
    let after_scheme = url.find("://").map_or(0, |i| i + 3);
    match url[after_scheme..].find('/') {
        Some(i) => url.split_at(after_scheme + i),
        None => (url, ""),
    }
}

/// The well-known path of protected-resource metadata.
pub const WELL_KNOWN: &str = "/.well-known/oauth-protected-resource";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_urls_are_path_aware() {
        assert_eq!(
            metadata_url("https://api.example.com/mcp"),
            "https://api.example.com/.well-known/oauth-protected-resource/mcp"
        );
        assert_eq!(metadata_url("http://127.0.0.1:8000"), "http://127.0.0.1:8000/.well-known/oauth-protected-resource");
        assert_eq!(split_origin("https://a.example/x/y"), ("https://a.example", "/x/y"));
    }

    #[test]
    fn challenges_quote_and_escape() {
        let v = challenge("https://a/.well-known/oauth-protected-resource", &["a".into(), "b".into()], None);
        assert_eq!(v, "Bearer resource_metadata=\"https://a/.well-known/oauth-protected-resource\", scope=\"a b\"");
        let v = challenge("u", &[], Some(("invalid_token", "bad \"kid\"\n")));
        assert_eq!(v, "Bearer resource_metadata=\"u\", error=\"invalid_token\", error_description=\"bad 'kid''\"");
    }

    #[test]
    fn bearer_tokens_from_the_header_only() {
        let mut h = HeaderMap::new();
        assert_eq!(bearer_token(&h), Ok(None));
        h.insert(http::header::AUTHORIZATION, HeaderValue::from_static("bearer  abc "));
        assert_eq!(bearer_token(&h), Ok(Some("abc")));
        h.insert(http::header::AUTHORIZATION, HeaderValue::from_static("Basic Zm9vOmJhcg=="));
        assert_eq!(bearer_token(&h), Ok(None));
        h.insert(http::header::AUTHORIZATION, HeaderValue::from_static("Bearer"));
        assert!(bearer_token(&h).is_err());
        h.append(http::header::AUTHORIZATION, HeaderValue::from_static("Bearer x"));
        assert!(bearer_token(&h).is_err());
    }
}
