//! `GET /authorize`, the sign-in and consent pages and their POSTs.
//!
//! Until the client and its redirect URI are validated, errors are pages, never
//! redirects. The pending authorization lives in the store under the digest of a random
//! `tx`; every form carries `tx` and a CSRF token, and the browser that started it must
//! present its binding cookie. POSTs answer `303`.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::routing::get;
use http::request::Parts;
use http::{HeaderValue, Request, Response, StatusCode};
use mcp_core::Principal;

use super::pages::{ConsentPage, ErrorPage, STYLESHEET, ScopeLine, SignInPage};
use super::store::{Client, Code, Digest, Grant, Pending};
use super::{ClientError, Inner, client_address, read_form, rules, single};

const SIGN_IN: &str = "/authorize/sign-in";
const CONSENT: &str = "/authorize/consent";
const STYLE: &str = "/authorize/style.css";
/// How long a user has to sign in and approve.
const PENDING_TTL: u64 = 600;

pub(super) fn routes<S: Clone + Send + Sync + 'static>(inner: Arc<Inner>) -> Router<S> {
    let i = inner.clone();
    let start = move |req: Request<Body>| {
        let i = i.clone();
        async move { start(&i, req).await }
    };
    let i = inner.clone();
    let sign_in = move |req: Request<Body>| {
        let i = i.clone();
        async move { sign_in(&i, req).await }
    };
    let i = inner.clone();
    let consent_page = move |req: Request<Body>| {
        let i = i.clone();
        async move { consent_page(&i, req).await }
    };
    let i = inner;
    let decide = move |req: Request<Body>| {
        let i = i.clone();
        async move { decide(&i, req).await }
    };
    Router::new()
        .route("/authorize", get(start))
        .route(SIGN_IN, axum::routing::post(sign_in))
        .route(CONSENT, get(consent_page).post(decide))
        .route(STYLE, get(stylesheet))
}

async fn stylesheet() -> Response<Body> {
    let mut r = Response::new(Body::from(STYLESHEET));
    r.headers_mut().insert(http::header::CONTENT_TYPE, HeaderValue::from_static("text/css; charset=utf-8"));
    r.headers_mut().insert(http::header::CACHE_CONTROL, HeaderValue::from_static("max-age=3600"));
    r
}

/// A page with the anti-framing, no-script and no-referrer headers. `form_target` is the
/// origin a form on it may end up redirecting to.
fn page(status: StatusCode, html: String, form_target: Option<&str>) -> Response<Body> {
    let mut r = Response::new(Body::from(html));
    *r.status_mut() = status;
    let form_action = match form_target {
        Some(o) => format!("'self' {o}"),
        None => "'self'".into(),
    };
    let csp = format!(
        "default-src 'none'; style-src 'self'; img-src 'self'; form-action {form_action}; frame-ancestors 'none'; \
         base-uri 'none'"
    );
    let h = r.headers_mut();
    h.insert(http::header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    if let Ok(v) = HeaderValue::from_str(&csp) {
        h.insert(http::header::CONTENT_SECURITY_POLICY, v);
    }
    h.insert(http::header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(http::header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    h.insert(http::header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(http::header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    r
}

fn error_page(inner: &Inner, status: StatusCode, title: &str, message: &str) -> Response<Body> {
    let html = inner.pages.error(&ErrorPage { title, message, stylesheet: STYLE });
    page(status, html, None)
}

fn see_other(location: &str) -> Response<Body> {
    let mut r = Response::new(Body::empty());
    *r.status_mut() = StatusCode::SEE_OTHER;
    if let Ok(v) = HeaderValue::from_str(location) {
        r.headers_mut().insert(http::header::LOCATION, v);
    }
    r.headers_mut().insert(http::header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r.headers_mut().insert(http::header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    r
}

/// The validated redirect URI with these parameters and `iss` (RFC 9207) appended.
fn redirect_to(inner: &Inner, redirect_uri: &str, params: &[(&str, &str)]) -> Response<Body> {
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in params {
        query.append_pair(k, v);
    }
    query.append_pair("iss", &inner.issuer);
    let sep = if redirect_uri.contains('?') { '&' } else { '?' };
    see_other(&format!("{redirect_uri}{sep}{}", query.finish()))
}

/// An OAuth error sent back to the validated redirect URI.
fn redirect_error(inner: &Inner, redirect_uri: &str, state: Option<&str>, error: &str, why: &str) -> Response<Body> {
    let mut params = vec![("error", error), ("error_description", why)];
    if let Some(s) = state {
        params.push(("state", s));
    }
    redirect_to(inner, redirect_uri, &params)
}

/// The origin of a validated redirect URI (for `form-action`), and the host to show.
fn origin_and_host(redirect_uri: &str) -> (String, String) {
    match url::Url::parse(redirect_uri) {
        Ok(u) => {
            let host = match (u.host_str(), u.port()) {
                (Some(h), Some(p)) => format!("{h}:{p}"),
                (Some(h), None) => h.to_owned(),
                (None, _) => redirect_uri.to_owned(),
            };
            (u.origin().ascii_serialization(), host)
        }
        Err(_) => (String::new(), redirect_uri.to_owned()),
    }
}

fn client_name(client: &Client) -> String {
    client.client_name.clone().unwrap_or_else(|| format!("An unnamed app ({})", client.client_id))
}

fn cookie_name(inner: &Inner) -> &'static str {
    if inner.issuer.starts_with("https://") { "__Host-mcp-oauth" } else { "mcp-oauth" }
}

/// The browser-binding cookie's value, if the request has one.
fn browser_cookie(inner: &Inner, parts: &Parts) -> Option<String> {
    let name = cookie_name(inner);
    parts
        .headers
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(n, v)| *n == name && v.len() == 43)
        .map(|(_, v)| v.to_owned())
}

fn set_browser_cookie(inner: &Inner, r: &mut Response<Body>, value: &str) {
    let secure = if inner.issuer.starts_with("https://") { "; Secure" } else { "" };
    let cookie = format!("{}={value}; Path=/; HttpOnly; SameSite=Lax{secure}", cookie_name(inner));
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        r.headers_mut().append(http::header::SET_COOKIE, v);
    }
}

fn unavailable(inner: &Inner, e: impl std::fmt::Display) -> Response<Body> {
    tracing::warn!(error = %e, "the authorization store failed");
    error_page(
        inner,
        StatusCode::SERVICE_UNAVAILABLE,
        "Try again",
        "The server could not complete this step; try again.",
    )
}

/// `GET /authorize`.
async fn start(inner: &Inner, req: Request<Body>) -> Response<Body> {
    let (parts, _) = req.into_parts();
    let pairs: Vec<(String, String)> =
        url::form_urlencoded::parse(parts.uri.query().unwrap_or_default().as_bytes()).into_owned().collect();
    let bad = |message: &str| error_page(inner, StatusCode::BAD_REQUEST, "This sign-in link is not valid", message);
    // First the client and its redirect URI: until both are known, nothing redirects.
    let (client_id, redirect_uri) = match (single(&pairs, "client_id"), single(&pairs, "redirect_uri")) {
        (Ok(Some(c)), Ok(Some(r))) => (c, r),
        (Err(e), _) | (_, Err(e)) => return bad(&e),
        (Ok(None), _) => return bad("The request names no client (`client_id`). Start again from your app."),
        (_, Ok(None)) => return bad("The request has no `redirect_uri`. Start again from your app."),
    };
    let client = match inner.client(client_id, &client_address(&parts)).await {
        Ok(Some(c)) => c,
        Ok(None) => {
            return bad("The app that sent you here is not registered with this server (unknown `client_id`). \
                        Reconnect it from the app.");
        }
        Err(ClientError::Document(why)) => return bad(&format!("{why}. Nothing was sent to the app.")),
        Err(ClientError::Store(e)) => return unavailable(inner, e),
    };
    if !client.redirect_uris.iter().any(|r| rules::redirect_matches(r, redirect_uri)) {
        return bad("The address to send you back to (`redirect_uri`) is not one this app registered. \
                    Nothing was sent to it.");
    }
    // From here on, errors go back to the client.
    let state = match single(&pairs, "state") {
        Ok(Some(s)) => s,
        Ok(None) => {
            return redirect_error(inner, redirect_uri, None, "invalid_request", "`state` is required");
        }
        Err(e) => return redirect_error(inner, redirect_uri, None, "invalid_request", &e),
    };
    let fail = |error: &str, why: &str| redirect_error(inner, redirect_uri, Some(state), error, why);
    let param = |name: &str| single(&pairs, name);
    match param("response_type") {
        Ok(Some("code")) => {}
        Ok(Some(other)) => {
            return fail("unsupported_response_type", &format!("`response_type={other}`: only `code` is supported"));
        }
        Ok(None) => return fail("invalid_request", "`response_type=code` is required"),
        Err(e) => return fail("invalid_request", &e),
    }
    let challenge = match (param("code_challenge"), param("code_challenge_method")) {
        (Ok(Some(c)), Ok(Some("S256"))) if rules::valid_challenge(c) => c,
        (Ok(Some(_)), Ok(Some("S256"))) => {
            return fail(
                "invalid_request",
                "`code_challenge` must be the base64url SHA-256 of the verifier (43 characters)",
            );
        }
        (Ok(None), _) => {
            return fail(
                "invalid_request",
                "PKCE is required: send `code_challenge` with `code_challenge_method=S256`",
            );
        }
        (Ok(Some(_)), Ok(_)) => return fail("invalid_request", "`code_challenge_method` must be `S256`"),
        (Err(e), _) | (_, Err(e)) => return fail("invalid_request", &e),
    };
    let resource = match pairs.iter().filter(|(k, _)| k == "resource").count() {
        0 => inner.resource().to_owned(),
        1 => {
            let given = param("resource").ok().flatten().unwrap_or_default();
            if rules::canonical_resource(given).as_deref() != Some(inner.resource()) {
                return fail(
                    "invalid_target",
                    &format!("`resource` must be this server's MCP endpoint, `{}`", inner.resource()),
                );
            }
            inner.resource().to_owned()
        }
        _ => return fail("invalid_target", "this server serves one resource; send one `resource`"),
    };
    let offered = inner.scope_names();
    let scopes: Vec<String> = match param("scope") {
        Ok(Some(s)) => {
            let asked: Vec<String> =
                s.split_whitespace().filter(|s| offered.iter().any(|o| o == s)).map(str::to_owned).collect();
            if asked.is_empty() && !offered.is_empty() {
                return fail(
                    "invalid_scope",
                    &format!("none of the scopes asked for is offered; offered: {}", offered.join(" ")),
                );
            }
            asked
        }
        Ok(None) => offered,
        Err(e) => return fail("invalid_scope", &e),
    };
    let (browser, new_cookie) = match browser_cookie(inner, &parts) {
        Some(b) => (b, false),
        None => (rules::random_token(), true),
    };
    let tx = rules::random_token();
    let csrf = rules::random_token();
    let mut pending = Pending {
        client_id: client.client_id.clone(),
        redirect_uri: redirect_uri.to_owned(),
        state: state.to_owned(),
        code_challenge: challenge.to_owned(),
        scopes,
        resource,
        browser: Digest::of(&browser),
        csrf: Digest::of(&csrf),
        principal: None,
        expires_at: inner.now() + PENDING_TTL,
    };
    let session = inner.sign_in.session(&parts).await;
    let mut response = match session {
        Some(principal) => {
            pending.principal = Some(principal);
            if let Err(e) = inner.store.put_pending(&Digest::of(&tx), &pending).await {
                return unavailable(inner, e);
            }
            after_sign_in(inner, &client, &tx, &csrf, pending).await
        }
        None => {
            if let Err(e) = inner.store.put_pending(&Digest::of(&tx), &pending).await {
                return unavailable(inner, e);
            }
            sign_in_page(inner, &client, &pending, &tx, &csrf, None, "", StatusCode::OK)
        }
    };
    if new_cookie {
        set_browser_cookie(inner, &mut response, &browser);
    }
    response
}

#[allow(clippy::too_many_arguments)]
fn sign_in_page(
    inner: &Inner,
    client: &Client,
    pending: &Pending,
    tx: &str,
    csrf: &str,
    error: Option<&str>,
    username: &str,
    status: StatusCode,
) -> Response<Body> {
    let (origin, host) = origin_and_host(&pending.redirect_uri);
    let name = client_name(client);
    let html = inner.pages.sign_in(&SignInPage {
        server_name: &inner.name,
        client_name: &name,
        redirect_host: &host,
        error,
        username,
        action: SIGN_IN,
        tx,
        csrf,
        stylesheet: STYLE,
    });
    page(status, html, Some(&origin))
}

/// The scopes a signed-in user can grant: those asked for, within the principal's own
/// scopes when it has any.
fn grantable(pending: &Pending, principal: &Principal) -> Vec<String> {
    pending.scopes.iter().filter(|s| principal.scopes.is_empty() || principal.scopes.contains(s)).cloned().collect()
}

/// Signed in: redirect with a code when the user already consented to these scopes for
/// this client, else show the consent page.
async fn after_sign_in(inner: &Inner, client: &Client, tx: &str, csrf: &str, pending: Pending) -> Response<Body> {
    let Some(principal) = pending.principal.clone() else {
        return error_page(inner, StatusCode::BAD_REQUEST, "Sign in first", "Sign in before approving.");
    };
    let scopes = grantable(&pending, &principal);
    match inner.store.consent(&principal.subject, &client.client_id).await {
        Ok(Some(consented)) if scopes.iter().all(|s| consented.contains(s)) => {
            issue_code(inner, tx, &pending, &principal, scopes).await
        }
        Ok(_) => consent_html(inner, client, &pending, &principal, &scopes, tx, csrf),
        Err(e) => unavailable(inner, e),
    }
}

#[allow(clippy::too_many_arguments)]
fn consent_html(
    inner: &Inner,
    client: &Client,
    pending: &Pending,
    principal: &Principal,
    scopes: &[String],
    tx: &str,
    csrf: &str,
) -> Response<Body> {
    let (origin, host) = origin_and_host(&pending.redirect_uri);
    let name = client_name(client);
    let lines: Vec<ScopeLine<'_>> = scopes
        .iter()
        .map(|s| ScopeLine {
            name: s,
            description: inner.scopes.iter().find(|(n, _)| n == s).map_or(s.as_str(), |(_, d)| d.as_str()),
        })
        .collect();
    let html = inner.pages.consent(&ConsentPage {
        server_name: &inner.name,
        client_name: &name,
        redirect_host: &host,
        user: &principal.subject,
        scopes: &lines,
        action: CONSENT,
        tx,
        csrf,
        stylesheet: STYLE,
    });
    page(StatusCode::OK, html, Some(&origin))
}

/// Issue a code for the pending authorization and send the browser back with it.
async fn issue_code(
    inner: &Inner,
    tx: &str,
    pending: &Pending,
    principal: &Principal,
    scopes: Vec<String>,
) -> Response<Body> {
    let code = rules::random_token();
    let record = Code {
        grant: Grant {
            client_id: pending.client_id.clone(),
            subject: principal.subject.clone(),
            claims: principal.claims.clone(),
            scopes,
            resource: pending.resource.clone(),
            family: rules::random_token(),
        },
        redirect_uri: pending.redirect_uri.clone(),
        code_challenge: pending.code_challenge.clone(),
        expires_at: inner.now() + inner.code_ttl,
    };
    if let Err(e) = inner.store.put_code(&Digest::of(&code), &record).await {
        return unavailable(inner, e);
    }
    if let Err(e) = inner.store.remove_pending(&Digest::of(tx)).await {
        tracing::debug!(error = %e, "could not forget a finished authorization");
    }
    redirect_to(inner, &pending.redirect_uri, &[("code", &code), ("state", &pending.state)])
}

/// The pending authorization a form or link names, checked against the browser cookie
/// and (for POSTs) the CSRF token.
async fn pending_for(
    inner: &Inner,
    parts: &Parts,
    tx: Option<&str>,
    csrf: Option<Option<&str>>,
) -> Result<(Pending, Client), Response<Body>> {
    let expired = || {
        error_page(
            inner,
            StatusCode::BAD_REQUEST,
            "This sign-in has expired",
            "This sign-in request is unknown or has expired. Start again from your app.",
        )
    };
    let Some(tx) = tx else { return Err(expired()) };
    let pending = match inner.store.pending(&Digest::of(tx), inner.now()).await {
        Ok(Some(p)) => p,
        Ok(None) => return Err(expired()),
        Err(e) => return Err(unavailable(inner, e)),
    };
    let forged = || {
        error_page(
            inner,
            StatusCode::FORBIDDEN,
            "Request refused",
            "This form was not sent from the page this server showed you (its CSRF check failed). Nothing was \
             approved. Start again from your app.",
        )
    };
    if !browser_cookie(inner, parts).is_some_and(|b| pending.browser.matches(&b)) {
        return Err(forged());
    }
    if let Some(csrf) = csrf
        && !csrf.is_some_and(|c| pending.csrf.matches(c))
    {
        return Err(forged());
    }
    match inner.client(&pending.client_id, &client_address(parts)).await {
        Ok(Some(c)) => Ok((pending, c)),
        Ok(None) | Err(ClientError::Document(_)) => Err(expired()),
        Err(ClientError::Store(e)) => Err(unavailable(inner, e)),
    }
}

/// `POST /authorize/sign-in`.
async fn sign_in(inner: &Inner, req: Request<Body>) -> Response<Body> {
    let (parts, body) = req.into_parts();
    let form = match read_form(body).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    let field = |n: &str| single(&form, n).ok().flatten();
    let tx = field("tx");
    let (mut pending, client) = match pending_for(inner, &parts, tx, Some(field("csrf"))).await {
        Ok(p) => p,
        Err(r) => return r,
    };
    let tx = tx.unwrap_or_default();
    let csrf = field("csrf").unwrap_or_default();
    let username = field("username").unwrap_or_default();
    let password = field("password").unwrap_or_default();
    let limits = inner.limiter.limits;
    let address = client_address(&parts);
    if !inner.limiter.allow(&format!("sign-in-address:{address}"), limits.sign_in_address)
        || !inner.limiter.allow(&format!("sign-in-user:{username}"), limits.sign_in_user)
    {
        let why = "Too many sign-in attempts. Wait a minute, then try again.";
        return sign_in_page(inner, &client, &pending, tx, csrf, Some(why), username, StatusCode::TOO_MANY_REQUESTS);
    }
    match inner.sign_in.sign_in(username, password).await {
        Ok(Some(principal)) => {
            pending.principal = Some(principal);
            if let Err(e) = inner.store.put_pending(&Digest::of(tx), &pending).await {
                return unavailable(inner, e);
            }
            see_other(&format!("{CONSENT}?tx={tx}"))
        }
        Ok(None) => {
            let why = "Wrong username or password.";
            sign_in_page(inner, &client, &pending, tx, csrf, Some(why), username, StatusCode::UNAUTHORIZED)
        }
        Err(e) => {
            tracing::warn!(error = %e, "the app's sign-in check failed");
            let why = "Signing in failed on the server; try again.";
            sign_in_page(inner, &client, &pending, tx, csrf, Some(why), username, StatusCode::SERVICE_UNAVAILABLE)
        }
    }
}

/// `GET /authorize/consent?tx=...`: after signing in.
async fn consent_page(inner: &Inner, req: Request<Body>) -> Response<Body> {
    let (parts, _) = req.into_parts();
    let query: Vec<(String, String)> =
        url::form_urlencoded::parse(parts.uri.query().unwrap_or_default().as_bytes()).into_owned().collect();
    let tx = single(&query, "tx").ok().flatten();
    let (pending, client) = match pending_for(inner, &parts, tx, None).await {
        Ok(p) => p,
        Err(r) => return r,
    };
    let tx = tx.unwrap_or_default();
    // A fresh CSRF token for the consent form.
    let csrf = rules::random_token();
    let mut pending = pending;
    pending.csrf = Digest::of(&csrf);
    if let Err(e) = inner.store.put_pending(&Digest::of(tx), &pending).await {
        return unavailable(inner, e);
    }
    after_sign_in(inner, &client, tx, &csrf, pending).await
}

/// `POST /authorize/consent`: approve or deny.
async fn decide(inner: &Inner, req: Request<Body>) -> Response<Body> {
    let (parts, body) = req.into_parts();
    let form = match read_form(body).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    let field = |n: &str| single(&form, n).ok().flatten();
    let tx = field("tx");
    let (pending, client) = match pending_for(inner, &parts, tx, Some(field("csrf"))).await {
        Ok(p) => p,
        Err(r) => return r,
    };
    let tx = tx.unwrap_or_default();
    let Some(principal) = pending.principal.clone() else {
        return error_page(inner, StatusCode::BAD_REQUEST, "Sign in first", "Sign in before approving.");
    };
    match field("decision") {
        Some("approve") => {
            let scopes = grantable(&pending, &principal);
            if let Err(e) = inner.store.put_consent(&principal.subject, &client.client_id, &scopes).await {
                return unavailable(inner, e);
            }
            issue_code(inner, tx, &pending, &principal, scopes).await
        }
        Some("deny") => {
            if let Err(e) = inner.store.remove_pending(&Digest::of(tx)).await {
                tracing::debug!(error = %e, "could not forget a denied authorization");
            }
            redirect_error(inner, &pending.redirect_uri, Some(&pending.state), "access_denied", "the user declined")
        }
        _ => error_page(inner, StatusCode::BAD_REQUEST, "Choose", "Choose Allow or Deny."),
    }
}
