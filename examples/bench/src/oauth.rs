//! The authorization server's scenarios: its token endpoint (`authorization_code` and
//! `refresh_token` grants) and MCP calls with the access tokens it issues.
//!
//! Codes are obtained the way a client obtains them, over HTTP, without a browser and
//! without any back door: the bench app recognises its user from a session cookie (the
//! [`SignIn::session`] hook an app with its own sign-in implements), so `GET /authorize`
//! answers `303` with a code once the user has consented, and the first request of a fresh
//! server approves the consent form (its `tx` and CSRF fields, its browser cookie). Codes
//! live 60 s, so the measurement mints a batch right before each slice
//! ([`Workload::prepare`]).
//!
//! The limit of the token scenarios is a bare axum handler doing the essential work of a
//! token endpoint: parse the form, spend the code (or refresh token) kept under its
//! SHA-256 digest, verify PKCE S256, check client and redirect URI, sign an ES256 JWT with
//! the same crates (jsonwebtoken, p256), keep the new refresh token's record, answer the
//! same JSON.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use base64::Engine as _;
use http::request::Parts;
use http::{HeaderName, HeaderValue, Method, StatusCode};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use mcp_axum::auth::server::{AuthServer, PreRegistered, SignIn};
use mcp_core::Principal;
use mcp_core::server::BoxFuture;
use serde::Deserialize;
use serde_json::{Map, Value, json};
use sha2::{Digest as _, Sha256};

use crate::driver::{Answer, Client, Workload};

/// The issuer of the bench's authorization server (a bare loopback origin; the port the
/// server gets does not matter, the tokens name this origin).
pub const ISSUER: &str = "http://127.0.0.1";
/// The MCP resource, the access tokens' audience.
pub const RESOURCE: &str = "http://127.0.0.1/mcp";
/// The pre-registered public client the driver acts as.
pub const CLIENT_ID: &str = "mcp-bench";
/// Its redirect URI (loopback: any port would do).
pub const REDIRECT_URI: &str = "http://127.0.0.1/callback";
/// The one scope offered.
pub const SCOPE: &str = "echo";
/// The static bearer token `echo_jwt` compares with.
pub const STATIC_TOKEN: &str = "mcp-bench-static-token-6f1c0a9d2e";
/// The app's own session cookie that signs the bench user in.
const SESSION_COOKIE: &str = "bench-session";
const USER: &str = "alice";
/// Lifetime of the access tokens (the server's default).
const ACCESS_TTL: u64 = 3600;

/// The bench app's users: `alice` (password `wonderland`), also recognised from the
/// `bench-session=alice` cookie, as an app that has its own sign-in would.
#[derive(Debug, Clone, Copy)]
pub struct Users;

impl SignIn for Users {
    fn sign_in<'a>(&'a self, username: &'a str, password: &'a str) -> BoxFuture<'a, Result<Option<Principal>, String>> {
        let ok = username == USER && password == "wonderland";
        Box::pin(async move { Ok(ok.then(|| Principal::new(USER))) })
    }

    fn session<'a>(&'a self, request: &'a Parts) -> BoxFuture<'a, Option<Principal>> {
        let signed_in = request
            .headers
            .get_all(http::header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|c| c.trim().split_once('='))
            .any(|(n, v)| n == SESSION_COOKIE && v == USER);
        Box::pin(std::future::ready(signed_in.then(|| Principal::new(USER))))
    }
}

/// The bench's authorization server: issuer [`ISSUER`], scope [`SCOPE`], the public
/// client [`CLIENT_ID`], everything else at its defaults (memory store, 60 s codes, 1 h
/// access tokens, rotation with a 30 s grace window).
pub fn auth_server() -> Result<AuthServer, String> {
    AuthServer::builder()
        .issuer(ISSUER)
        .name("mcp-bench")
        .sign_in(Users)
        .scopes([(SCOPE, "Repeat messages")])
        .client(PreRegistered::public(CLIENT_ID, [REDIRECT_URI]).name("mcp-bench"))
        .build()
        .map_err(|e| e.to_string())
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn random_token() -> Result<String, String> {
    let mut raw = [0u8; 32];
    getrandom::fill(&mut raw).map_err(|e| format!("the system's random source failed: {e}"))?;
    Ok(b64(&raw))
}

/// A PKCE pair: a fresh verifier (43 characters) and its S256 challenge.
pub fn pkce() -> Result<(String, String), String> {
    let verifier = random_token()?;
    let challenge = b64(&Sha256::digest(verifier.as_bytes()));
    Ok((verifier, challenge))
}

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// An authorization code and the PKCE verifier it must be redeemed with.
#[derive(Debug, Clone)]
pub struct Minted {
    /// The code.
    pub code: String,
    /// Its `code_verifier`.
    pub verifier: String,
}

fn short(body: &[u8]) -> String {
    let s = String::from_utf8_lossy(body);
    s.chars().take(300).collect()
}

/// The value of the hidden input `name` of a page.
fn hidden(html: &str, name: &str) -> Result<String, String> {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker).ok_or_else(|| format!("the consent page has no `{name}` field"))? + marker.len();
    Ok(html[start..].split('"').next().unwrap_or_default().to_owned())
}

/// The code in the `Location` of the redirect back to the client, after checking its
/// `state` and `iss` (RFC 9207).
fn code_from(answer: &Answer, state: &str) -> Result<String, String> {
    if answer.status != StatusCode::SEE_OTHER {
        return Err(format!("authorization: HTTP {}, not 303: {}", answer.status, short(&answer.body)));
    }
    let location = answer
        .headers
        .get(http::header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .ok_or("authorization: a 303 without a Location")?;
    let url = url::Url::parse(location).map_err(|e| format!("authorization: Location `{location}`: {e}"))?;
    if !location.starts_with(&format!("{REDIRECT_URI}?")) {
        return Err(format!("authorization: redirected to `{location}`, not the registered redirect URI"));
    }
    let q: HashMap<String, String> = url.query_pairs().into_owned().collect();
    if let Some(e) = q.get("error") {
        return Err(format!("authorization refused: {e}: {}", q.get("error_description").map_or("", String::as_str)));
    }
    if q.get("state").map(String::as_str) != Some(state) || q.get("iss").map(String::as_str) != Some(ISSUER) {
        return Err(format!("authorization: wrong `state` or `iss` in `{location}`"));
    }
    q.get("code").cloned().ok_or_else(|| format!("authorization: no code in `{location}`"))
}

/// One authorization over HTTP as the signed-in bench user: `GET /authorize` (PKCE S256,
/// `state`, `resource`); on a fresh server it answers with the consent page, which is
/// approved with its `tx`, CSRF token and browser cookie; then the code comes back in a
/// `303` to the redirect URI.
pub async fn authorize(c: &mut Client) -> Result<Minted, String> {
    let (verifier, challenge) = pkce()?;
    let state = random_token()?;
    let query = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("response_type", "code")
        .append_pair("client_id", CLIENT_ID)
        .append_pair("redirect_uri", REDIRECT_URI)
        .append_pair("state", &state)
        .append_pair("code_challenge", &challenge)
        .append_pair("code_challenge_method", "S256")
        .append_pair("scope", SCOPE)
        .append_pair("resource", RESOURCE)
        .finish();
    let session = HeaderValue::from_str(&format!("{SESSION_COOKIE}={USER}")).map_err(|e| e.to_string())?;
    let answer =
        c.send(Method::GET, &format!("/authorize?{query}"), &[(http::header::COOKIE, session)], Bytes::new()).await?;
    let answer = if answer.status == StatusCode::OK {
        // Not consented yet: approve, as the user would.
        let page = std::str::from_utf8(&answer.body).map_err(|_| "the consent page is not UTF-8")?;
        let (tx, csrf) = (hidden(page, "tx")?, hidden(page, "csrf")?);
        let browser = answer
            .headers
            .get(http::header::SET_COOKIE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .ok_or("the consent page set no browser cookie")?
            .to_owned();
        let form = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("tx", &tx)
            .append_pair("csrf", &csrf)
            .append_pair("decision", "approve")
            .finish();
        let cookie =
            HeaderValue::from_str(&format!("{SESSION_COOKIE}={USER}; {browser}")).map_err(|e| e.to_string())?;
        let headers = [(http::header::COOKIE, cookie), (http::header::CONTENT_TYPE, FORM)];
        c.send(Method::POST, "/authorize/consent", &headers, Bytes::from(form)).await?
    } else {
        answer
    };
    Ok(Minted { code: code_from(&answer, &state)?, verifier })
}

/// `count` codes from the server `clients` are connected to, minted over all of them at
/// once.
pub async fn mint(clients: Vec<Client>, count: u64) -> Result<Vec<Minted>, String> {
    let n = clients.len().max(1) as u64;
    let mut tasks = tokio::task::JoinSet::new();
    for (i, mut c) in clients.into_iter().enumerate() {
        let share = count / n + u64::from((i as u64) < count % n);
        tasks.spawn(async move {
            let mut out = Vec::with_capacity(share as usize);
            for _ in 0..share {
                out.push(authorize(&mut c).await?);
            }
            Ok::<_, String>(out)
        });
    }
    let mut all = Vec::with_capacity(count as usize);
    while let Some(r) = tasks.join_next().await {
        all.extend(r.map_err(|e| format!("a minting task failed: {e}"))??);
    }
    Ok(all)
}

const FORM: HeaderValue = HeaderValue::from_static("application/x-www-form-urlencoded");

/// A token response, as a client reads it.
#[derive(Debug, Clone, Deserialize)]
pub struct Tokens {
    /// The access token (a JWT).
    pub access_token: String,
    /// `Bearer`.
    pub token_type: String,
    /// Its lifetime in seconds.
    pub expires_in: u64,
    /// The refresh token.
    pub refresh_token: String,
    /// The granted scopes.
    pub scope: String,
}

/// Check a token response: HTTP 200, JSON with a three-part `access_token`,
/// `token_type` Bearer, a `refresh_token`, `expires_in`.
pub fn tokens(answer: &Answer) -> Result<Tokens, String> {
    if answer.status != StatusCode::OK {
        return Err(format!("token endpoint: HTTP {}: {}", answer.status, short(&answer.body)));
    }
    let t: Tokens = serde_json::from_slice(&answer.body)
        .map_err(|e| format!("token endpoint: not a token response ({e}): {}", short(&answer.body)))?;
    let jwt_like = t.access_token.split('.').count() == 3 && t.access_token.split('.').all(|p| !p.is_empty());
    if !jwt_like || !t.token_type.eq_ignore_ascii_case("bearer") || t.refresh_token.is_empty() || t.expires_in == 0 {
        return Err(format!("token endpoint: an incomplete token response: {}", short(&answer.body)));
    }
    Ok(t)
}

async fn post_token(c: &mut Client, form: String) -> Result<Answer, String> {
    c.send(Method::POST, "/token", &[(http::header::CONTENT_TYPE, FORM)], Bytes::from(form)).await
}

/// Redeem `minted` at `/token` (`authorization_code` grant, as the MCP Python SDK sends it).
pub async fn exchange(c: &mut Client, minted: &Minted) -> Result<Tokens, String> {
    let form = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("grant_type", "authorization_code")
        .append_pair("code", &minted.code)
        .append_pair("redirect_uri", REDIRECT_URI)
        .append_pair("client_id", CLIENT_ID)
        .append_pair("code_verifier", &minted.verifier)
        .append_pair("resource", RESOURCE)
        .finish();
    tokens(&post_token(c, form).await?)
}

/// Spend `refresh_token` at `/token` (`refresh_token` grant); the answer must carry a new
/// refresh token (rotation).
pub async fn refresh(c: &mut Client, refresh_token: &str) -> Result<Tokens, String> {
    let form = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("grant_type", "refresh_token")
        .append_pair("refresh_token", refresh_token)
        .append_pair("client_id", CLIENT_ID)
        .append_pair("resource", RESOURCE)
        .finish();
    let t = tokens(&post_token(c, form).await?)?;
    if t.refresh_token == refresh_token {
        return Err("the refresh token was not rotated".into());
    }
    Ok(t)
}

/// An access token of this connection's server, obtained through the whole flow; kept in
/// [`Client::state`].
pub async fn access_token(c: &mut Client) -> Result<String, String> {
    let minted = authorize(c).await?;
    Ok(exchange(c, &minted).await?.access_token)
}

/// The claims of a JWT, unverified (to compare what two servers put in).
pub fn claims_of(jwt: &str) -> Result<Map<String, Value>, String> {
    let payload = jwt.split('.').nth(1).ok_or("not a JWT")?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).map_err(|e| e.to_string())?;
    serde_json::from_slice(&bytes).map_err(|e| e.to_string())
}

// ------------------------------------------------------------------ the limit

/// What a code or refresh token grants.
#[derive(Clone, Debug)]
struct Grant {
    client_id: String,
    subject: String,
    scopes: Vec<String>,
    resource: String,
}

#[derive(Debug)]
struct LimitCode {
    grant: Grant,
    redirect_uri: String,
    challenge: String,
    expires_at: u64,
}

#[derive(Debug)]
struct LimitRefresh {
    grant: Grant,
    expires_at: u64,
    used: bool,
}

/// The state of the token limit: codes and refresh tokens by SHA-256 digest, and one
/// ES256 key.
pub struct LimitTokens {
    codes: Mutex<HashMap<[u8; 32], LimitCode>>,
    refresh: Mutex<HashMap<[u8; 32], LimitRefresh>>,
    kid: String,
    encoding: EncodingKey,
    decoding: DecodingKey,
}

impl std::fmt::Debug for LimitTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LimitTokens").field("kid", &self.kid).finish_non_exhaustive()
    }
}

fn digest(s: &str) -> [u8; 32] {
    Sha256::digest(s.as_bytes()).into()
}

fn bench_grant() -> Grant {
    Grant { client_id: CLIENT_ID.into(), subject: USER.into(), scopes: vec![SCOPE.into()], resource: RESOURCE.into() }
}

impl LimitTokens {
    /// A fresh state with a new P-256 key.
    pub fn new() -> Result<Self, String> {
        use p256::pkcs8::EncodePrivateKey as _;
        let secret = loop {
            let mut bytes = [0u8; 32];
            getrandom::fill(&mut bytes).map_err(|e| e.to_string())?;
            if let Ok(k) = p256::SecretKey::from_slice(&bytes) {
                break k;
            }
        };
        let der = secret.to_pkcs8_der().map_err(|e| e.to_string())?;
        let encoding = EncodingKey::from_ec_der(der.as_bytes());
        let jwk = jsonwebtoken::jwk::Jwk::from_encoding_key(&encoding, Algorithm::ES256).map_err(|e| e.to_string())?;
        let decoding = DecodingKey::from_jwk(&jwk).map_err(|e| e.to_string())?;
        Ok(LimitTokens {
            codes: Mutex::new(HashMap::new()),
            refresh: Mutex::new(HashMap::new()),
            kid: random_token()?[..16].to_owned(),
            encoding,
            decoding,
        })
    }

    /// `count` codes, as its authorization endpoint would have issued them (60 s).
    pub fn mint(&self, count: u64) -> Result<Vec<Minted>, String> {
        let mut out = Vec::with_capacity(count as usize);
        let mut codes = self.codes.lock().map_err(|_| "poisoned")?;
        for _ in 0..count {
            let (verifier, challenge) = pkce()?;
            let code = random_token()?;
            let record = LimitCode {
                grant: bench_grant(),
                redirect_uri: REDIRECT_URI.into(),
                challenge,
                expires_at: now() + 60,
            };
            codes.insert(digest(&code), record);
            out.push(Minted { code, verifier });
        }
        Ok(out)
    }

    /// Check that `jwt` is this limit's, valid for [`RESOURCE`].
    pub fn verify(&self, jwt: &str) -> Result<(), String> {
        let mut v = Validation::new(Algorithm::ES256);
        v.set_issuer(&[ISSUER]);
        v.set_audience(&[RESOURCE]);
        jsonwebtoken::decode::<Map<String, Value>>(jwt, &self.decoding, &v).map(drop).map_err(|e| e.to_string())
    }

    fn keep_refresh(&self, grant: Grant) -> Result<String, String> {
        let token = random_token()?;
        let record = LimitRefresh { grant, expires_at: now() + 30 * 24 * 3600, used: false };
        self.refresh.lock().map_err(|_| "poisoned")?.insert(digest(&token), record);
        Ok(token)
    }

    fn answer(&self, grant: &Grant, refresh: &str) -> Result<Value, String> {
        let now = now();
        let scope = grant.scopes.join(" ");
        let mut claims = Map::new();
        claims.insert("iss".into(), json!(ISSUER));
        claims.insert("sub".into(), json!(grant.subject));
        claims.insert("aud".into(), json!(grant.resource));
        claims.insert("iat".into(), json!(now));
        claims.insert("exp".into(), json!(now + ACCESS_TTL));
        claims.insert("jti".into(), json!(random_token()?));
        claims.insert("scope".into(), json!(scope));
        claims.insert("client_id".into(), json!(grant.client_id));
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some(self.kid.clone());
        header.typ = Some("at+jwt".into());
        let access = jsonwebtoken::encode(&header, &claims, &self.encoding).map_err(|e| e.to_string())?;
        Ok(json!({
            "access_token": access,
            "token_type": "Bearer",
            "expires_in": ACCESS_TTL,
            "refresh_token": refresh,
            "scope": scope,
        }))
    }

    fn code_grant(&self, form: &HashMap<String, String>) -> Result<Value, String> {
        let field = |n: &str| form.get(n).map(String::as_str).ok_or_else(|| format!("`{n}` is required"));
        let record =
            self.codes.lock().map_err(|_| "poisoned")?.remove(&digest(field("code")?)).ok_or("unknown code")?;
        if record.expires_at <= now() {
            return Err("the code has expired".into());
        }
        if record.grant.client_id != field("client_id")? || record.redirect_uri != field("redirect_uri")? {
            return Err("another client or redirect URI".into());
        }
        if b64(&Sha256::digest(field("code_verifier")?.as_bytes())) != record.challenge {
            return Err("the PKCE verifier does not match".into());
        }
        if form.get("resource").is_some_and(|r| *r != record.grant.resource) {
            return Err("another resource".into());
        }
        let refresh = self.keep_refresh(record.grant.clone())?;
        self.answer(&record.grant, &refresh)
    }

    fn refresh_grant(&self, form: &HashMap<String, String>) -> Result<Value, String> {
        let token = form.get("refresh_token").ok_or("`refresh_token` is required")?;
        let grant = {
            let mut map = self.refresh.lock().map_err(|_| "poisoned")?;
            let r = map.get_mut(&digest(token)).ok_or("unknown refresh token")?;
            if r.used || r.expires_at <= now() || form.get("client_id") != Some(&r.grant.client_id) {
                return Err("spent, expired or another client's refresh token".into());
            }
            r.used = true;
            r.grant.clone()
        };
        let next = self.keep_refresh(grant.clone())?;
        self.answer(&grant, &next)
    }

    /// A refresh token of the bench user, as a code exchange would have left it.
    pub fn issue_refresh(&self) -> Result<String, String> {
        self.keep_refresh(bench_grant())
    }
}

/// The token limit: `POST /token` with the `authorization_code` and `refresh_token`
/// grants, doing the essential work only.
pub fn token_limit_router(state: Arc<LimitTokens>) -> Router {
    async fn handle(State(state): State<Arc<LimitTokens>>, body: Bytes) -> Response {
        let form: HashMap<String, String> = url::form_urlencoded::parse(&body).into_owned().collect();
        let result = match form.get("grant_type").map(String::as_str) {
            Some("authorization_code") => state.code_grant(&form),
            Some("refresh_token") => state.refresh_grant(&form),
            _ => Err("unsupported grant".into()),
        };
        match result {
            Ok(v) => {
                let mut r = Response::new(axum::body::Body::from(v.to_string()));
                let h = r.headers_mut();
                h.insert(http::header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
                h.insert(http::header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
                r
            }
            Err(e) => {
                (StatusCode::BAD_REQUEST, json!({ "error": "invalid_grant", "error_description": e }).to_string())
                    .into_response()
            }
        }
    }
    Router::new().route("/token", post(handle)).with_state(state)
}

// ------------------------------------------------------------------ workloads

/// Where a workload's codes and refresh tokens come from.
#[derive(Clone, Debug)]
pub enum Issuer {
    /// Our authorization server, over HTTP.
    Ours,
    /// The limit's state, directly.
    Limit(Arc<LimitTokens>),
}

/// One `authorization_code` exchange per step; the codes are minted by
/// [`Workload::prepare`] before each measurement.
#[derive(Debug)]
pub struct CodeExchange {
    issuer: Issuer,
    codes: Mutex<Vec<Minted>>,
}

impl CodeExchange {
    /// Exchanges at `issuer`'s token endpoint.
    pub fn new(issuer: Issuer) -> Self {
        CodeExchange { issuer, codes: Mutex::new(Vec::new()) }
    }
}

impl Workload for CodeExchange {
    fn prepares(&self) -> bool {
        true
    }

    fn prepare(&self, clients: Vec<Client>, wanted: u64) -> BoxFuture<'_, Result<u64, String>> {
        Box::pin(async move {
            // Codes left from an earlier batch may be near their expiry: start afresh.
            self.codes.lock().map_err(|_| "poisoned")?.clear();
            let minted = match &self.issuer {
                Issuer::Ours => mint(clients, wanted).await?,
                Issuer::Limit(l) => l.mint(wanted)?,
            };
            let n = minted.len() as u64;
            *self.codes.lock().map_err(|_| "poisoned")? = minted;
            Ok(n)
        })
    }

    fn step<'a>(&'a self, client: &'a mut Client, _n: u64) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            let minted = self
                .codes
                .lock()
                .map_err(|_| "poisoned")?
                .pop()
                .ok_or("no authorization code left: the batch minted before the measurement ran out")?;
            exchange(client, &minted).await.map(drop)
        })
    }
}

/// One `refresh_token` grant per step, each spending the refresh token the previous
/// step got (a chain per connection, started by a code exchange in `setup`).
#[derive(Debug)]
pub struct RefreshChain {
    issuer: Issuer,
}

impl RefreshChain {
    /// Chains at `issuer`'s token endpoint.
    pub fn new(issuer: Issuer) -> Self {
        RefreshChain { issuer }
    }
}

impl Workload for RefreshChain {
    fn setup<'a>(&'a self, client: &'a mut Client) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            let first = match &self.issuer {
                Issuer::Ours => {
                    let minted = authorize(client).await?;
                    exchange(client, &minted).await?.refresh_token
                }
                Issuer::Limit(l) => l.issue_refresh()?,
            };
            client.state = Some(first);
            Ok(())
        })
    }

    fn step<'a>(&'a self, client: &'a mut Client, _n: u64) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            let current = client.state.take().ok_or("this connection has no refresh token")?;
            let t = refresh(client, &current).await?;
            client.state = Some(t.refresh_token);
            Ok(())
        })
    }
}

/// The `Authorization` header carrying `token`.
pub fn bearer(token: &str) -> Result<(HeaderName, HeaderValue), String> {
    let v = HeaderValue::from_str(&format!("Bearer {token}")).map_err(|e| format!("a bad token: {e}"))?;
    Ok((http::header::AUTHORIZATION, v))
}

/// Compare two token responses: the same fields, token type, scope and lifetime, and
/// access tokens with the same claims (but `iat`, `exp` and `jti`, with the same
/// `exp - iat`).
pub fn same_tokens(ours: &Tokens, limit: &Tokens) -> Result<(), String> {
    if (ours.token_type.as_str(), ours.expires_in, ours.scope.as_str())
        != (limit.token_type.as_str(), limit.expires_in, limit.scope.as_str())
    {
        return Err(format!("token responses differ: ours {ours:?}, limit {limit:?}"));
    }
    let (a, b) = (claims_of(&ours.access_token)?, claims_of(&limit.access_token)?);
    let keys = |m: &Map<String, Value>| m.keys().cloned().collect::<Vec<_>>();
    let lifetime = |m: &Map<String, Value>| m["exp"].as_u64().zip(m["iat"].as_u64()).map(|(e, i)| e - i);
    let fixed = |m: &Map<String, Value>| {
        m.iter()
            .filter(|(k, _)| !["iat", "exp", "jti"].contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect::<Vec<_>>()
    };
    if keys(&a) != keys(&b) || lifetime(&a) != lifetime(&b) || fixed(&a) != fixed(&b) {
        return Err(format!("the access tokens' claims differ: ours {a:?}, limit {b:?}"));
    }
    Ok(())
}
