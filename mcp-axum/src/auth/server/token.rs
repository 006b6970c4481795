//! `POST /token`: the `authorization_code` and `refresh_token` grants, client
//! authentication, access tokens (ES256 JWTs) and refresh-token rotation.

use axum::body::Body;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use http::request::Parts;
use http::{HeaderValue, Request, Response, StatusCode};
use serde_json::{Map, Value, json};
use sha2::Sha256;

use super::store::{Client, ClientAuth, CodeUse, Digest, Grant, Refresh, RefreshUse};
use super::{ClientError, Inner, client_address, json as json_response, oauth_error, read_form, rules, single};

/// An OAuth error; `invalid_client` is a 401 (with a Basic challenge when Basic was used).
pub(super) struct Refusal {
    error: &'static str,
    description: String,
    basic: bool,
}

fn refuse(error: &'static str, description: impl Into<String>) -> Refusal {
    Refusal { error, description: description.into(), basic: false }
}

impl Refusal {
    pub(super) fn response(self) -> Response<Body> {
        let status = match self.error {
            "invalid_client" => StatusCode::UNAUTHORIZED,
            "temporarily_unavailable" => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::BAD_REQUEST,
        };
        let mut r = oauth_error(status, self.error, &self.description);
        if self.basic {
            r.headers_mut().insert(http::header::WWW_AUTHENTICATE, HeaderValue::from_static("Basic realm=\"token\""));
        }
        r
    }
}

fn store_failed(e: impl std::fmt::Display) -> Refusal {
    tracing::warn!(error = %e, "the authorization store failed");
    refuse("temporarily_unavailable", "the server could not complete the request; try again")
}

/// `client_id`/`client_secret` from HTTP Basic (URL-encoded, RFC 6749 §2.3.1).
fn basic_credentials(parts: &Parts) -> Result<Option<(String, String)>, Refusal> {
    let Some(v) = parts.headers.get(http::header::AUTHORIZATION) else { return Ok(None) };
    let v = v.to_str().map_err(|_| refuse("invalid_request", "the Authorization header is not ASCII"))?;
    let Some((scheme, rest)) = v.trim().split_once(' ') else { return Ok(None) };
    if !scheme.eq_ignore_ascii_case("basic") {
        return Ok(None);
    }
    let bad = || Refusal { error: "invalid_client", description: "malformed Basic credentials".into(), basic: true };
    let decoded = base64::engine::general_purpose::STANDARD.decode(rest.trim()).map_err(|_| bad())?;
    let decoded = String::from_utf8(decoded).map_err(|_| bad())?;
    let (id, secret) = decoded.split_once(':').ok_or_else(bad)?;
    let dec = |s: &str| url::form_urlencoded::parse(format!("x={s}").as_bytes()).next().map(|(_, v)| v.into_owned());
    Ok(Some((dec(id).ok_or_else(bad)?, dec(secret).ok_or_else(bad)?)))
}

/// Authenticate the client of a token or revocation request: confidential clients by
/// their secret (post or Basic), public clients by `client_id` alone.
pub(super) async fn authenticate_client(
    inner: &Inner,
    parts: &Parts,
    form: &[(String, String)],
) -> Result<Client, Refusal> {
    let basic = basic_credentials(parts)?;
    let field = |n: &str| single(form, n).map_err(|e| refuse("invalid_request", e));
    let form_id = field("client_id")?;
    let form_secret = field("client_secret")?;
    let (client_id, secret, via_basic) = match (&basic, form_id) {
        (Some((id, _)), Some(f)) if f != id => {
            return Err(refuse("invalid_request", "`client_id` differs from the Basic credentials"));
        }
        (Some((id, s)), _) => (id.as_str(), Some(s.as_str()), true),
        (None, Some(id)) => (id, form_secret, false),
        (None, None) => {
            return Err(refuse("invalid_client", "send `client_id` (and the secret, for confidential clients)"));
        }
    };
    let unknown = || Refusal {
        error: "invalid_client",
        description: "unknown client or wrong secret; register again".into(),
        basic: via_basic,
    };
    let client = match inner.client(client_id, &client_address(parts)).await {
        Ok(Some(c)) => c,
        Ok(None) => return Err(unknown()),
        Err(ClientError::Document(why)) => {
            return Err(Refusal { error: "invalid_client", description: why, basic: via_basic });
        }
        Err(ClientError::Store(e)) => return Err(store_failed(e)),
    };
    match (&client.secret, client.auth) {
        (Some(digest), ClientAuth::ClientSecretPost | ClientAuth::ClientSecretBasic) => match secret {
            Some(s) if digest.matches(s) => Ok(client),
            _ => Err(unknown()),
        },
        _ => Ok(client),
    }
}

/// `POST /token`.
pub(super) async fn handle(inner: &Inner, req: Request<Body>) -> Response<Body> {
    let (parts, body) = req.into_parts();
    let form = match read_form(body).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    match grant(inner, &parts, &form).await {
        Ok(v) => json_response(StatusCode::OK, &v),
        Err(r) => r.response(),
    }
}

async fn grant(inner: &Inner, parts: &Parts, form: &[(String, String)]) -> Result<Value, Refusal> {
    let client = authenticate_client(inner, parts, form).await?;
    let field = |n: &str| single(form, n).map_err(|e| refuse("invalid_request", e));
    match field("grant_type")? {
        Some("authorization_code") => code_grant(inner, &client, form).await,
        Some("refresh_token") => refresh_grant(inner, &client, form).await,
        Some(other) => Err(refuse(
            "unsupported_grant_type",
            format!("`grant_type={other}` is not supported; use `authorization_code` or `refresh_token`"),
        )),
        None => Err(refuse("invalid_request", "`grant_type` is required")),
    }
}

/// The `resource` of a token request, if any, must be the grant's.
fn check_resource(form: &[(String, String)], grant: &Grant) -> Result<(), Refusal> {
    let mut given = form.iter().filter(|(k, _)| k == "resource");
    match (given.next(), given.next()) {
        (None, _) => Ok(()),
        (Some((_, r)), None) if rules::canonical_resource(r).as_deref() == Some(grant.resource.as_str()) => Ok(()),
        _ => Err(refuse(
            "invalid_target",
            format!("`resource` must be `{}`, the resource this grant is for", grant.resource),
        )),
    }
}

async fn code_grant(inner: &Inner, client: &Client, form: &[(String, String)]) -> Result<Value, Refusal> {
    let field = |n: &str| single(form, n).map_err(|e| refuse("invalid_request", e));
    let code = field("code")?.ok_or_else(|| refuse("invalid_request", "`code` is required"))?;
    let now = inner.now();
    let record = match inner.store.take_code(&Digest::of(code), now).await.map_err(store_failed)? {
        CodeUse::Fresh(c) => c,
        CodeUse::Replayed(c) => {
            // A replayed code may be stolen: revoke what it issued.
            inner.store.revoke_family(&c.grant.family).await.map_err(store_failed)?;
            return Err(refuse("invalid_grant", "the code was already used; the tokens it issued are revoked"));
        }
        CodeUse::Unknown => return Err(refuse("invalid_grant", "unknown code")),
    };
    if record.expires_at <= now {
        return Err(refuse("invalid_grant", "the code has expired; start the authorization again"));
    }
    if record.grant.client_id != client.client_id {
        return Err(refuse("invalid_grant", "the code was issued to another client"));
    }
    match field("redirect_uri")? {
        Some(r) if r == record.redirect_uri => {}
        Some(_) => return Err(refuse("invalid_grant", "`redirect_uri` differs from the authorization request's")),
        None => return Err(refuse("invalid_request", "`redirect_uri` is required")),
    }
    let Some(verifier) = field("code_verifier")? else {
        return Err(refuse("invalid_request", "`code_verifier` (PKCE) is required"));
    };
    if !rules::pkce_s256_matches(verifier, &record.code_challenge) {
        return Err(refuse("invalid_grant", "the PKCE `code_verifier` does not match the `code_challenge`"));
    }
    check_resource(form, &record.grant)?;
    let refresh = rules::random_token();
    let r = Refresh { grant: record.grant.clone(), expires_at: now + inner.refresh_ttl, used_at: None };
    inner.store.put_refresh(&Digest::of(&refresh), &r).await.map_err(store_failed)?;
    let scopes = record.grant.scopes.clone();
    respond(inner, &record.grant, &scopes, &refresh).await
}

/// The successor of a refresh token: an HMAC of it under the store's secret, so every
/// replica derives the same one within the grace window, and nobody without the secret can.
async fn successor(inner: &Inner, token: &str) -> Result<String, Refusal> {
    let mut candidate = [0u8; 32];
    rules::fill_random(&mut candidate);
    let secret = inner.store.secret(&candidate).await.map_err(store_failed)?;
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&secret).map_err(|_| refuse("server_error", "bad secret"))?;
    mac.update(token.as_bytes());
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes()))
}

async fn refresh_grant(inner: &Inner, client: &Client, form: &[(String, String)]) -> Result<Value, Refusal> {
    let field = |n: &str| single(form, n).map_err(|e| refuse("invalid_request", e));
    let token = field("refresh_token")?.ok_or_else(|| refuse("invalid_request", "`refresh_token` is required"))?;
    let digest = Digest::of(token);
    let now = inner.now();
    // Check the client before spending the token, so a wrong client cannot burn it.
    let peek = inner.store.refresh(&digest, now).await.map_err(store_failed)?;
    if let Some(r) = &peek {
        if r.grant.client_id != client.client_id {
            return Err(refuse("invalid_grant", "the refresh token was issued to another client"));
        }
        check_resource(form, &r.grant)?;
        // Revoking the consent (a "connected apps" page) ends the grant: no more refreshes.
        let consent = inner.store.consent(&r.grant.subject, &r.grant.client_id).await.map_err(store_failed)?;
        if consent.is_none() {
            inner.store.revoke_family(&r.grant.family).await.map_err(store_failed)?;
            return Err(refuse("invalid_grant", "the user withdrew this app's access; sign in again"));
        }
    }
    let record = match inner.store.use_refresh(&digest, now, inner.grace).await.map_err(store_failed)? {
        RefreshUse::Rotated(r) => {
            let next = successor(inner, token).await?;
            let successor_record =
                Refresh { grant: r.grant.clone(), expires_at: now + inner.refresh_ttl, used_at: None };
            inner.store.put_refresh(&Digest::of(&next), &successor_record).await.map_err(store_failed)?;
            (r, next)
        }
        RefreshUse::Grace(r) => {
            let next = successor(inner, token).await?;
            (r, next)
        }
        RefreshUse::Reused(_) => {
            return Err(refuse(
                "invalid_grant",
                "the refresh token was already used; this grant is revoked, sign in again",
            ));
        }
        RefreshUse::Unknown => return Err(refuse("invalid_grant", "unknown, expired or revoked refresh token")),
    };
    let (r, next) = record;
    if r.grant.client_id != client.client_id {
        return Err(refuse("invalid_grant", "the refresh token was issued to another client"));
    }
    // A narrower `scope` narrows this access token only; a wider one is refused.
    let scopes = match field("scope")? {
        Some(s) => {
            let asked: Vec<String> = s.split_whitespace().map(str::to_owned).collect();
            if let Some(extra) = asked.iter().find(|s| !r.grant.scopes.contains(s)) {
                return Err(refuse("invalid_scope", format!("`{extra}` was not granted")));
            }
            asked
        }
        None => r.grant.scopes.clone(),
    };
    respond(inner, &r.grant, &scopes, &next).await
}

/// Claims the token sets itself; the principal's claims cannot replace them.
const RESERVED: [&str; 10] = ["iss", "sub", "aud", "exp", "iat", "nbf", "jti", "scope", "client_id", "scp"];

async fn respond(inner: &Inner, grant: &Grant, scopes: &[String], refresh: &str) -> Result<Value, Refusal> {
    let now = inner.now();
    let mut claims: Map<String, Value> = grant
        .claims
        .iter()
        .filter(|(k, _)| !RESERVED.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    claims.insert("iss".into(), json!(inner.issuer));
    claims.insert("sub".into(), json!(grant.subject));
    claims.insert("aud".into(), json!(grant.resource));
    claims.insert("iat".into(), json!(now));
    claims.insert("exp".into(), json!(now + inner.access_ttl));
    claims.insert("jti".into(), json!(rules::random_token()));
    claims.insert("scope".into(), json!(scopes.join(" ")));
    claims.insert("client_id".into(), json!(grant.client_id));
    let access = inner.keys.sign(&claims).await.map_err(|e| {
        tracing::warn!(error = %e, "could not sign an access token");
        refuse("temporarily_unavailable", "the server could not sign the token; try again")
    })?;
    Ok(json!({
        "access_token": access,
        "token_type": "Bearer",
        "expires_in": inner.access_ttl,
        "refresh_token": refresh,
        "scope": scopes.join(" "),
    }))
}
