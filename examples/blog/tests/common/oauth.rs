//! A client of the blog's built-in authorization server over real HTTP: registration,
//! the browser's sign-in and consent, the token endpoint and MCP calls with the tokens.

use base64::Engine as _;
use serde_json::{Value, json};

/// The redirect URI the test clients register.
pub(crate) const REDIRECT: &str = "http://127.0.0.1:40123/callback";

/// Base64url without padding.
pub(crate) fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// The value of the hidden form field `name` in `html`.
pub(crate) fn hidden(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker).unwrap_or_else(|| panic!("no `{name}` in:\n{html}")) + marker.len();
    html[start..].split('"').next().unwrap().to_owned()
}

/// A query parameter of a redirect `Location`.
pub(crate) fn query_value(location: &str, name: &str) -> Option<String> {
    let q = location.split_once('?')?.1;
    q.split('&').filter_map(|kv| kv.split_once('=')).find(|(k, _)| *k == name).map(|(_, v)| {
        // The test's values are URL-safe except `iss` (`:` and `/`).
        v.replace("%3A", ":").replace("%2F", "/")
    })
}

/// An HTTP client that does not follow redirects (the test reads them).
pub(crate) fn http() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

/// A PKCE verifier and its S256 challenge.
pub(crate) struct Pkce {
    pub(crate) verifier: String,
    pub(crate) challenge: String,
}

impl Pkce {
    pub(crate) fn new() -> Self {
        use sha2::Digest as _;
        let mut raw = [0u8; 32];
        getrandom::fill(&mut raw).unwrap();
        let verifier = b64(&raw);
        let challenge = b64(&sha2::Sha256::digest(verifier.as_bytes()));
        Pkce { verifier, challenge }
    }
}

/// A confidential client registered at `base` (as Claude's hosted connector does):
/// `(client_id, client_secret)`.
pub(crate) async fn register(http: &reqwest::Client, base: &str, name: &str) -> (String, String) {
    let reg: Value = http
        .post(format!("{base}/register"))
        .json(&json!({ "redirect_uris": [REDIRECT], "client_name": name, "token_endpoint_auth_method": "client_secret_post" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = reg["client_id"].as_str().unwrap_or_else(|| panic!("{reg}")).to_owned();
    (id, reg["client_secret"].as_str().unwrap().to_owned())
}

/// What the browser saw on its way to the code.
pub(crate) struct Authorized {
    /// The sign-in page.
    pub(crate) sign_in_page: String,
    /// The consent page, unless the user had consented before.
    pub(crate) consent_page: Option<String>,
    /// Where the server sent the browser back to.
    pub(crate) location: String,
    /// The code in it.
    pub(crate) code: String,
}

/// The browser's part at `base`: `GET /authorize`, sign in as `user`, approve if asked.
pub(crate) async fn authorize(
    http: &reqwest::Client,
    base: &str,
    resource: &str,
    client_id: &str,
    pkce: &Pkce,
    (user, password): (&str, &str),
) -> Authorized {
    let r = http
        .get(format!("{base}/authorize"))
        .query(&[
            ("response_type", "code"),
            ("client_id", client_id),
            ("redirect_uri", REDIRECT),
            ("state", "s1"),
            ("code_challenge", &pkce.challenge),
            ("code_challenge_method", "S256"),
            ("resource", resource),
            ("scope", "posts:read posts:write"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "GET /authorize");
    let cookie = r.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_owned();
    let sign_in_page = r.text().await.unwrap();
    assert!(sign_in_page.contains("Sign in to Demo blog"), "{sign_in_page}");
    let (tx, csrf) = (hidden(&sign_in_page, "tx"), hidden(&sign_in_page, "csrf"));
    let r = http
        .post(format!("{base}/authorize/sign-in"))
        .header("cookie", &cookie)
        .form(&[("tx", tx.as_str()), ("csrf", &csrf), ("username", user), ("password", password)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303, "sign-in");
    let consent_url = r.headers()["location"].to_str().unwrap().to_owned();
    let r = http.get(format!("{base}{consent_url}")).header("cookie", &cookie).send().await.unwrap();
    let mut consent_page = None;
    // Consented before: straight back to the client; else the consent page.
    let location = if r.status() == 303 {
        r.headers()["location"].to_str().unwrap().to_owned()
    } else {
        assert_eq!(r.status(), 200, "GET {consent_url}");
        let page = r.text().await.unwrap();
        let csrf = hidden(&page, "csrf");
        let r = http
            .post(format!("{base}/authorize/consent"))
            .header("cookie", &cookie)
            .form(&[("tx", tx.as_str()), ("csrf", &csrf), ("decision", "approve")])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 303, "consent");
        consent_page = Some(page);
        r.headers()["location"].to_str().unwrap().to_owned()
    };
    assert!(location.starts_with(REDIRECT), "{location}");
    let code = query_value(&location, "code").unwrap_or_else(|| panic!("no code in {location}"));
    Authorized { sign_in_page, consent_page, location, code }
}

/// A POST to `base`'s token endpoint: the status and the JSON answer.
pub(crate) async fn token(http: &reqwest::Client, base: &str, form: &[(&str, &str)]) -> (u16, Value) {
    let r = http.post(format!("{base}/token")).form(form).send().await.unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

/// Redeem `code` at `base`: the token answer (asserted successful).
pub(crate) async fn redeem(
    http: &reqwest::Client,
    base: &str,
    resource: &str,
    (client_id, secret): (&str, &str),
    code: &str,
    pkce: &Pkce,
) -> Value {
    let (status, tokens) = token(
        http,
        base,
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", &pkce.verifier),
            ("client_id", client_id),
            ("client_secret", secret),
            ("resource", resource),
        ],
    )
    .await;
    assert_eq!(status, 200, "redeeming the code: {tokens}");
    tokens
}

/// Present `refresh_token` at `base`: the status and the answer.
pub(crate) async fn refresh(
    http: &reqwest::Client,
    base: &str,
    (client_id, secret): (&str, &str),
    refresh_token: &str,
) -> (u16, Value) {
    token(
        http,
        base,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
            ("client_id", client_id),
            ("client_secret", secret),
        ],
    )
    .await
}

/// A 2026-07-28 `tools/call` at `base`'s `/mcp` with `token`: the status and the body.
pub(crate) async fn call(http: &reqwest::Client, base: &str, token: &str, name: &str, args: Value) -> (u16, Value) {
    let body = json!({ "jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": { "name": name, "arguments": args,
        "_meta": { "io.modelcontextprotocol/protocolVersion": "2026-07-28", "io.modelcontextprotocol/clientCapabilities": {} } } });
    let r = http
        .post(format!("{base}/mcp"))
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2026-07-28")
        .header("mcp-method", "tools/call")
        .header("mcp-name", name)
        .bearer_auth(token)
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let text = r.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
}

/// The blog with its authorization server on `db`, alice signed up, served on a fresh
/// port of 127.0.0.1 (or `listener`): its base URL and the serving task. `issuer` (default:
/// the base URL) is also the public URL, so replicas on other ports can share it.
pub(crate) async fn serve_blog(
    db: blog::Database,
    listener: Option<tokio::net::TcpListener>,
    issuer: Option<&str>,
    settings: impl FnOnce(mcp_axum::auth::server::AuthServerBuilder) -> mcp_axum::auth::server::AuthServerBuilder,
) -> (String, tokio::task::JoinHandle<std::io::Result<()>>) {
    let listener = match listener {
        Some(l) => l,
        None => tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap(),
    };
    let base = format!("http://{}", listener.local_addr().unwrap());
    let issuer = issuer.unwrap_or(&base).to_owned();
    let users = blog::users(&db, &[("alice".into(), super::ALICE.into())]).unwrap();
    let auth = blog::BlogAuth::tokens(&users);
    let server = settings(blog::auth_server_builder(&users, &issuer, &db)).build().unwrap();
    let app = blog::app(blog::mcp_server(db.clone(), &auth).unwrap(), db, auth, |r| {
        r.public_url(&issuer).auth_server(server)
    });
    (base, tokio::spawn(mcp_axum::serve(listener, app)))
}
