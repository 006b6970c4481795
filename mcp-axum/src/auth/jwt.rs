//! JWT access tokens checked against the authorization server's JWKS.

use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use http::request::Parts;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::jwk::{JwkSet, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use mcp_core::Principal;
use mcp_core::server::BoxFuture;
use serde_json::{Map, Value};
use tokio::sync::Mutex;

use super::fetch::{Fetcher, SetupError, check_url};
use super::{Authenticator, Verdict};

type MapFn = dyn Fn(Principal) -> BoxFuture<'static, Result<Principal, String>> + Send + Sync;

/// One key of the JWKS: its `kid`, the algorithm it is used with, the key.
type KeyEntry = (Option<String>, Algorithm, DecodingKey);

/// Validates JWT access tokens (RFC 9068 style) issued by one authorization server.
///
/// Checks the signature against the server's JWKS (fetched on first use, kept, fetched
/// again when a token names an unknown `kid` — key rotation), the algorithm (RS256/384/512, PS256/384/512, ES256/384 and EdDSA;
/// `none` is never accepted and HS* only with [`JwtBuilder::hmac_secret`]), `iss`,
/// `aud` (must contain this server's canonical resource URI, RFC 8707), `exp` and `nbf`
/// with a leeway (default 60 s).
///
/// The principal's subject is `sub`, its scopes come from `scope` (space-separated) or
/// `scp` (a list), and every claim is kept in [`Principal::claims`].
///
/// A JWT from another issuer passes to the next authenticator of the chain.
///
/// Junk tokens cannot drive the JWKS fetches: one fetch is in flight at a time (it runs
/// to completion even if the request that started it goes away), a fetch caused by an
/// unknown `kid` happens at most every [`JwtBuilder::min_refresh`] (default 30 s), and
/// after a failed fetch none is tried for [`JwtBuilder::retry_after_failure`] (default
/// 10 s). Tokens signed with a known key are checked against the keys at hand and never
/// wait for a fetch.
#[derive(Clone)]
pub struct JwtAuthenticator {
    inner: Arc<Inner>,
}

struct Inner {
    issuer: String,
    audience: Vec<String>,
    jwks_uri: String,
    algorithms: Vec<Algorithm>,
    leeway: u64,
    min_refresh: Duration,
    retry_after_failure: Duration,
    hmac: Option<DecodingKey>,
    map: Option<Box<MapFn>>,
    fetcher: Fetcher,
    /// The keys at hand: read without waiting (the lock is only held to swap or clone
    /// the `Arc`, never across a fetch).
    keys: RwLock<Arc<Vec<KeyEntry>>>,
    /// Held (owned by the fetch task) while a fetch is in flight: one at a time.
    refresh: Arc<Mutex<Refresh>>,
    /// Fetches finished so far: a request that waited for one uses its result.
    fetched: AtomicU64,
}

/// When the next fetch may start.
#[derive(Default)]
struct Refresh {
    /// `None` before the first fetch.
    next_allowed: Option<Instant>,
}

impl fmt::Debug for JwtAuthenticator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwtAuthenticator")
            .field("issuer", &self.inner.issuer)
            .field("audience", &self.inner.audience)
            .field("jwks_uri", &self.inner.jwks_uri)
            .finish_non_exhaustive()
    }
}

const DEFAULT_ALGORITHMS: [Algorithm; 9] = [
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
];

/// A builder of [`JwtAuthenticator`].
pub struct JwtBuilder {
    issuer: String,
    audience: Vec<String>,
    jwks_uri: String,
    algorithms: Vec<Algorithm>,
    leeway: Duration,
    min_refresh: Duration,
    retry_after_failure: Duration,
    hmac: Option<DecodingKey>,
    map: Option<Box<MapFn>>,
    allow_http: bool,
    timeout: Duration,
}

impl fmt::Debug for JwtBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwtBuilder").field("issuer", &self.issuer).finish_non_exhaustive()
    }
}

impl JwtAuthenticator {
    /// Tokens of `issuer`, signed with keys from `jwks_uri`, for the resource `audience`
    /// (this server's canonical URI, for example `https://api.example.com/mcp`).
    pub fn builder(issuer: impl Into<String>, jwks_uri: impl Into<String>, audience: impl Into<String>) -> JwtBuilder {
        JwtBuilder {
            issuer: issuer.into(),
            audience: vec![audience.into()],
            jwks_uri: jwks_uri.into(),
            algorithms: DEFAULT_ALGORITHMS.to_vec(),
            leeway: Duration::from_secs(60),
            min_refresh: Duration::from_secs(30),
            retry_after_failure: Duration::from_secs(10),
            hmac: None,
            map: None,
            allow_http: false,
            timeout: Duration::from_secs(5),
        }
    }

    /// Find the JWKS of `issuer` through its metadata (RFC 8414, then OpenID Connect
    /// discovery) and build a builder for tokens of that issuer for `audience`.
    pub async fn discover(issuer: &str, audience: impl Into<String>) -> Result<JwtBuilder, SetupError> {
        let jwks = discover_jwks_uri(issuer, false).await?;
        Ok(Self::builder(issuer, jwks, audience))
    }

    fn current_keys(&self) -> Arc<Vec<KeyEntry>> {
        self.inner.keys.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    async fn key_for(&self, kid: Option<&str>, alg: Algorithm) -> Result<DecodingKey, String> {
        // A known key never waits for a fetch.
        if let Some(k) = pick(&self.current_keys(), kid, alg) {
            return Ok(k);
        }
        // Unknown key: the server may have rotated its keys. One fetch at a time: wait for
        // the one in flight and use what it found.
        let seen = self.inner.fetched.load(Ordering::Acquire);
        let guard = self.inner.refresh.clone().lock_owned().await;
        if let Some(k) = pick(&self.current_keys(), kid, alg) {
            return Ok(k);
        }
        if self.inner.fetched.load(Ordering::Acquire) != seen {
            return Err(unknown_key(kid, self.current_keys().is_empty()));
        }
        // Not more often than `min_refresh` after a fetch, `retry_after_failure` after a
        // failed one, so junk tokens cannot make us hammer the authorization server.
        if guard.next_allowed.is_some_and(|t| Instant::now() < t) {
            return Err(unknown_key(kid, self.current_keys().is_empty()));
        }
        // The fetch runs in a task of its own that holds the lock: a request that goes
        // away (a client hanging up) neither aborts it nor lets a second one start.
        let this = self.clone();
        let fetch = tokio::spawn(async move {
            let mut guard = guard;
            let result = this.fetch_keys().await;
            let now = Instant::now();
            this.inner.fetched.fetch_add(1, Ordering::Release);
            match result {
                Ok(keys) => {
                    *this.inner.keys.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(keys);
                    guard.next_allowed = Some(now + this.inner.min_refresh);
                    true
                }
                Err(e) => {
                    tracing::warn!(jwks_uri = %this.inner.jwks_uri, error = %e,
                        retry_in = ?this.inner.retry_after_failure, "could not fetch the JWKS");
                    guard.next_allowed = Some(now + this.inner.retry_after_failure);
                    false
                }
            }
        });
        if !fetch.await.unwrap_or(false) {
            return Err("the authorization server's signing keys could not be fetched".into());
        }
        pick(&self.current_keys(), kid, alg).ok_or_else(|| unknown_key(kid, false))
    }

    async fn fetch_keys(&self) -> Result<Vec<KeyEntry>, String> {
        let doc = self.inner.fetcher.get_json(&self.inner.jwks_uri).await?;
        let set: JwkSet = serde_json::from_value(doc).map_err(|e| format!("not a JWKS: {e}"))?;
        let mut out = Vec::new();
        for jwk in &set.keys {
            if matches!(jwk.common.public_key_use, Some(PublicKeyUse::Encryption)) {
                continue;
            }
            let Ok(key) = DecodingKey::from_jwk(jwk) else { continue };
            let alg = jwk.common.key_algorithm.and_then(|a| a.to_string().parse::<Algorithm>().ok());
            // Keys without `alg` fit every algorithm of their family.
            let algs: Vec<Algorithm> = match alg {
                Some(a) => vec![a],
                None => DEFAULT_ALGORITHMS.iter().copied().filter(|a| a.family() == key.family()).collect(),
            };
            for a in algs {
                out.push((jwk.common.key_id.clone(), a, key.clone()));
            }
        }
        Ok(out)
    }

    async fn check(&self, token: &str) -> Verdict {
        let Some(header) = jwt_header(token) else { return Verdict::Pass };
        // Another issuer's token is not ours to judge.
        match unverified_issuer(token) {
            Some(iss) if iss == self.inner.issuer => {}
            Some(_) => return Verdict::Pass,
            None => return Verdict::Reject("the token has no `iss` claim".into()),
        }
        let alg_name = header.get("alg").and_then(Value::as_str).unwrap_or_default();
        let Ok(alg) = alg_name.parse::<Algorithm>() else {
            return Verdict::Reject(format!("tokens signed with `{alg_name}` are not accepted"));
        };
        let key = if matches!(alg, Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512) {
            match &self.inner.hmac {
                Some(k) => k.clone(),
                None => return Verdict::Reject(format!("tokens signed with `{alg_name}` are not accepted")),
            }
        } else {
            if !self.inner.algorithms.contains(&alg) {
                return Verdict::Reject(format!("tokens signed with `{alg_name}` are not accepted"));
            }
            match self.key_for(header.get("kid").and_then(Value::as_str), alg).await {
                Ok(k) => k,
                Err(e) => return Verdict::Reject(e),
            }
        };
        let mut v = Validation::new(alg);
        v.leeway = self.inner.leeway;
        v.validate_nbf = true;
        v.set_issuer(&[&self.inner.issuer]);
        v.set_audience(&self.inner.audience);
        v.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        let claims = match jsonwebtoken::decode::<Map<String, Value>>(token, &key, &v) {
            Ok(data) => data.claims,
            Err(e) => return Verdict::Reject(describe(e.kind(), &self.inner.audience)),
        };
        let principal = principal_from_claims(claims);
        match &self.inner.map {
            Some(map) => match map(principal).await {
                Ok(p) => Verdict::Accept(p),
                Err(why) => Verdict::Reject(why),
            },
            None => Verdict::Accept(principal),
        }
    }
}

fn pick(keys: &[KeyEntry], kid: Option<&str>, alg: Algorithm) -> Option<DecodingKey> {
    keys.iter().find(|(k, a, _)| *a == alg && (kid.is_none() || k.as_deref() == kid)).map(|(_, _, key)| key.clone())
}

fn unknown_key(kid: Option<&str>, no_keys: bool) -> String {
    match kid {
        _ if no_keys => "the authorization server's signing keys could not be fetched; try again shortly".into(),
        Some(kid) => format!("the token is signed with an unknown key (kid `{kid}`)"),
        None => "no signing key of the authorization server fits the token".into(),
    }
}

fn describe(kind: &ErrorKind, audience: &[String]) -> String {
    match kind {
        ErrorKind::ExpiredSignature => "the access token has expired".into(),
        ErrorKind::ImmatureSignature => "the access token is not valid yet (`nbf`)".into(),
        ErrorKind::InvalidIssuer => "the access token was issued by another authorization server".into(),
        ErrorKind::InvalidAudience => {
            format!(
                "the access token was not issued for this resource (`aud` must contain `{}`)",
                audience.join("`, `")
            )
        }
        ErrorKind::InvalidSignature => "the access token's signature is invalid".into(),
        ErrorKind::MissingRequiredClaim(c) => format!("the access token has no `{c}` claim"),
        ErrorKind::InvalidClaimFormat(c) => format!("the access token's `{c}` claim is malformed"),
        ErrorKind::InvalidAlgorithm => "the token's algorithm does not fit its key".into(),
        _ => "the access token is malformed".into(),
    }
}

/// The decoded header of a JWT-shaped token (three Base64url parts), else `None`.
fn jwt_header(token: &str) -> Option<Map<String, Value>> {
    let mut parts = token.split('.');
    let (h, _, _, None) = (parts.next()?, parts.next()?, parts.next()?, parts.next()) else { return None };
    serde_json::from_slice(&b64(h)?).ok()
}

fn unverified_issuer(token: &str) -> Option<String> {
    let payload = token.split('.').nth(1)?;
    let claims: Map<String, Value> = serde_json::from_slice(&b64(payload)?).ok()?;
    claims.get("iss")?.as_str().map(str::to_owned)
}

fn b64(s: &str) -> Option<Vec<u8>> {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(s.trim_end_matches('=')).ok()
}

/// A principal from verified claims: `sub`, scopes from `scope` or `scp`.
pub(crate) fn principal_from_claims(claims: Map<String, Value>) -> Principal {
    let subject = claims.get("sub").and_then(Value::as_str).unwrap_or_default().to_owned();
    let mut scopes: Vec<String> = Vec::new();
    match claims.get("scope") {
        Some(Value::String(s)) => scopes.extend(s.split_whitespace().map(str::to_owned)),
        Some(Value::Array(a)) => scopes.extend(a.iter().filter_map(Value::as_str).map(str::to_owned)),
        _ => {}
    }
    match claims.get("scp") {
        Some(Value::String(s)) => scopes.extend(s.split_whitespace().map(str::to_owned)),
        Some(Value::Array(a)) => scopes.extend(a.iter().filter_map(Value::as_str).map(str::to_owned)),
        _ => {}
    }
    let mut p = Principal::new(subject).with_scopes(scopes);
    p.claims = claims;
    p
}

impl JwtBuilder {
    /// Accept only these algorithms (default: RS*, PS*, ES256, ES384, EdDSA).
    pub fn algorithms(mut self, algorithms: impl IntoIterator<Item = Algorithm>) -> Self {
        self.algorithms = algorithms
            .into_iter()
            .filter(|a| !matches!(a, Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512))
            .collect();
        self
    }

    /// Also accept this audience (for example the URL with a trailing slash).
    pub fn also_audience(mut self, audience: impl Into<String>) -> Self {
        self.audience.push(audience.into());
        self
    }

    /// Clock skew tolerated on `exp` and `nbf` (default 60 s).
    pub fn leeway(mut self, leeway: Duration) -> Self {
        self.leeway = leeway;
        self
    }

    /// The shortest interval between two JWKS fetches caused by unknown keys (default 30 s).
    pub fn min_refresh(mut self, interval: Duration) -> Self {
        self.min_refresh = interval;
        self
    }

    /// How long after a failed JWKS fetch no other is tried (default 10 s): tokens with
    /// unknown keys are refused meanwhile, tokens with known keys keep working.
    pub fn retry_after_failure(mut self, cool_down: Duration) -> Self {
        self.retry_after_failure = cool_down;
        self
    }

    /// Also accept HS256/384/512 tokens signed with this shared secret. Only for setups
    /// where the authorization server and this server share a secret on purpose.
    pub fn hmac_secret(mut self, secret: &[u8]) -> Self {
        self.hmac = Some(DecodingKey::from_secret(secret));
        self
    }

    /// Turn the verified principal into the application's (look up the user, add claims)
    /// or refuse it with a reason (`401`). The hook is async and runs on the async
    /// workers: do database work in it on the blocking pool
    /// (`tokio::task::spawn_blocking`) or with an async client, never directly.
    ///
    /// ```
    /// # use mcp_axum::auth::JwtAuthenticator;
    /// let jwt = JwtAuthenticator::builder("https://as.example", "https://as.example/jwks", "https://api.example/mcp")
    ///     .map_principal(|mut p| async move {
    ///         // For example: `tokio::task::spawn_blocking(move || look_up(&p.subject)).await`
    ///         p.claims.insert("tenant".into(), "acme".into());
    ///         Ok(p)
    ///     })
    ///     .build()
    ///     .unwrap();
    /// ```
    pub fn map_principal<F, Fut>(mut self, map: F) -> Self
    where
        F: Fn(Principal) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Principal, String>> + Send + 'static,
    {
        self.map = Some(Box::new(move |p| Box::pin(map(p))));
        self
    }

    /// [`map_principal`](Self::map_principal) with a plain function, for quick work that
    /// never blocks (renaming claims, checking a field). It runs on the async workers.
    pub fn map_principal_sync(
        self,
        map: impl Fn(Principal) -> Result<Principal, String> + Send + Sync + 'static,
    ) -> Self {
        self.map_principal(move |p| std::future::ready(map(p)))
    }

    /// Allow a plain-http JWKS URL on a non-loopback host (never do this in production).
    pub fn allow_insecure_http(mut self, allow: bool) -> Self {
        self.allow_http = allow;
        self
    }

    /// Timeout of JWKS requests (default 5 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The authenticator. Fails when the JWKS URL is not HTTPS (loopback excepted).
    pub fn build(self) -> Result<JwtAuthenticator, SetupError> {
        check_url(&self.jwks_uri, self.allow_http)?;
        if self.audience.iter().any(String::is_empty) {
            return Err(SetupError("the audience (this server's resource URI) cannot be empty".into()));
        }
        Ok(JwtAuthenticator {
            inner: Arc::new(Inner {
                issuer: self.issuer,
                audience: self.audience,
                jwks_uri: self.jwks_uri,
                algorithms: self.algorithms,
                leeway: self.leeway.as_secs(),
                min_refresh: self.min_refresh,
                retry_after_failure: self.retry_after_failure,
                hmac: self.hmac,
                map: self.map,
                fetcher: Fetcher::new(self.timeout),
                keys: RwLock::new(Arc::new(Vec::new())),
                refresh: Arc::new(Mutex::new(Refresh::default())),
                fetched: AtomicU64::new(0),
            }),
        })
    }
}

impl Authenticator for JwtAuthenticator {
    fn authenticate<'a>(&'a self, _request: &'a Parts, token: Option<&'a str>) -> BoxFuture<'a, Verdict> {
        super::with_token(token, |t| self.check(t))
    }
}

/// The `jwks_uri` of an authorization server, from its metadata: RFC 8414
/// (`/.well-known/oauth-authorization-server`, path-aware) first, then OpenID Connect
/// discovery. The metadata's `issuer` must equal `issuer`.
pub async fn discover_jwks_uri(issuer: &str, allow_http: bool) -> Result<String, SetupError> {
    check_url(issuer, allow_http)?;
    let fetcher = Fetcher::new(Duration::from_secs(10));
    let issuer_trimmed = issuer.trim_end_matches('/');
    let (origin, path) = super::split_origin(issuer_trimmed);
    let candidates = [
        format!("{origin}/.well-known/oauth-authorization-server{path}"),
        format!("{origin}/.well-known/openid-configuration{path}"),
        format!("{issuer_trimmed}/.well-known/openid-configuration"),
    ];
    let mut last = String::new();
    for url in &candidates {
        match fetcher.get_json(url).await {
            Ok(doc) => {
                let found = doc.get("issuer").and_then(Value::as_str).unwrap_or_default();
                if found.trim_end_matches('/') != issuer_trimmed {
                    return Err(SetupError(format!(
                        "the metadata at {url} names the issuer `{found}`, not `{issuer}`"
                    )));
                }
                let Some(jwks) = doc.get("jwks_uri").and_then(Value::as_str) else {
                    return Err(SetupError(format!("the metadata at {url} has no `jwks_uri`")));
                };
                check_url(jwks, allow_http)?;
                return Ok(jwks.to_owned());
            }
            Err(e) => last = format!("{url}: {e}"),
        }
    }
    Err(SetupError(format!("no authorization server metadata found for `{issuer}` ({last})")))
}
