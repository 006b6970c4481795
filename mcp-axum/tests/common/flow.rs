//! The browser's and the client's part of the authorization server's flow, over real
//! HTTP: registration, the sign-in and consent pages (a small driver reading the forms),
//! the code exchange and refresh. Used by the `auth_server` and `redis_auth` tests.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use base64::Engine as _;
use mcp_axum::auth::server::{AuthServer, SignIn};
use mcp_core::Principal;
use mcp_core::server::BoxFuture;
use serde_json::{Value, json};
use sha2::Digest as _;

use super::App;

/// The app's users: alice / wonderland, with a claim carried into the tokens.
pub struct Users;

impl SignIn for Users {
    fn sign_in<'a>(&'a self, username: &'a str, password: &'a str) -> BoxFuture<'a, Result<Option<Principal>, String>> {
        let ok = username == "alice" && password == "wonderland";
        Box::pin(async move {
            Ok(ok.then(|| {
                let mut p = Principal::new("user-alice");
                p.claims.insert("author_id".into(), json!(7));
                p
            }))
        })
    }
}

/// A clock the test can move forward.
#[derive(Clone, Default)]
pub struct Skew(pub Arc<AtomicU64>);

impl Skew {
    pub fn advance(&self, secs: u64) {
        self.0.fetch_add(secs, Ordering::SeqCst);
    }

    /// The system clock plus the skew, in Unix seconds.
    pub fn now(&self) -> u64 {
        let system = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
        system + self.0.load(Ordering::SeqCst)
    }
}

pub struct Server {
    pub app: App,
    /// An HTTP client that does not follow redirects (the driver follows them itself).
    pub http: reqwest::Client,
    pub skew: Skew,
    pub auth: AuthServer,
}

pub fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// A PKCE verifier and its S256 challenge.
pub fn pkce() -> (String, String) {
    let mut raw = [0u8; 48];
    getrandom::fill(&mut raw).unwrap();
    let verifier = b64(&raw);
    let challenge = b64(&sha2::Sha256::digest(verifier.as_bytes()));
    (verifier, challenge)
}

/// The value of a hidden input of a page.
pub fn hidden(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker).unwrap_or_else(|| panic!("no `{name}` field in:\n{html}")) + marker.len();
    html[start..].split('"').next().unwrap().to_owned()
}

/// The query parameters of a `Location`.
pub fn query_of(location: &str) -> Vec<(String, String)> {
    let q = location.split_once('?').map_or("", |(_, q)| q);
    url::form_urlencoded::parse(q.as_bytes()).into_owned().collect()
}

pub fn param<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

pub const REDIRECT: &str = "http://127.0.0.1:51234/callback";

/// A registered client.
pub struct Client {
    pub id: String,
    pub secret: Option<String>,
}

impl Server {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.app.base)
    }

    pub async fn register(&self, body: Value) -> (u16, Value) {
        let r = self.http.post(self.url("/register")).json(&body).send().await.unwrap();
        (r.status().as_u16(), r.json().await.unwrap())
    }

    pub async fn public_client(&self) -> Client {
        let (status, reg) = self
            .register(json!({ "redirect_uris": ["http://127.0.0.1/callback"], "client_name": "Test <Agent>" }))
            .await;
        assert_eq!(status, 201, "{reg}");
        Client { id: reg["client_id"].as_str().unwrap().to_owned(), secret: None }
    }

    /// `GET /authorize` with these parameters (the driver's cookie jar is `cookie`).
    pub async fn get_authorize(&self, params: &[(&str, &str)], cookie: Option<&str>) -> reqwest::Response {
        let mut req = self.http.get(self.url("/authorize")).query(params);
        if let Some(c) = cookie {
            req = req.header("cookie", c);
        }
        req.send().await.unwrap()
    }

    pub async fn post_form(&self, path: &str, form: &[(&str, &str)], cookie: Option<&str>) -> reqwest::Response {
        let mut req = self.http.post(self.url(path)).form(form);
        if let Some(c) = cookie {
            req = req.header("cookie", c);
        }
        req.send().await.unwrap()
    }

    /// The browser's part, up to the redirect back: sign in (unless `cookie` already has a
    /// remembered consent for this client) and approve. The final `Location`.
    pub async fn browser(&self, client: &Client, challenge: &str, state: &str, cookie: &mut Option<String>) -> String {
        let params = [
            ("response_type", "code"),
            ("client_id", client.id.as_str()),
            ("redirect_uri", REDIRECT),
            ("state", state),
            ("code_challenge", challenge),
            ("code_challenge_method", "S256"),
            ("scope", "posts:read posts:write"),
            // The issuer's, which replicas behind one public origin share.
            ("resource", &format!("{}/mcp", self.auth.issuer())),
        ];
        let r = self.get_authorize(&params, cookie.as_deref()).await;
        assert_eq!(r.status(), 200);
        if let Some(set) = r.headers().get("set-cookie") {
            *cookie = Some(set.to_str().unwrap().split(';').next().unwrap().to_owned());
        }
        let page = r.text().await.unwrap();
        assert!(page.contains("Sign in to Test blog"), "{page}");
        let tx = hidden(&page, "tx");
        let csrf = hidden(&page, "csrf");
        let form = [("tx", tx.as_str()), ("csrf", csrf.as_str()), ("username", "alice"), ("password", "wonderland")];
        let r = self.post_form("/authorize/sign-in", &form, cookie.as_deref()).await;
        assert_eq!(r.status(), 303);
        let next = r.headers()["location"].to_str().unwrap().to_owned();
        let r = self.http.get(self.url(&next)).header("cookie", cookie.clone().unwrap()).send().await.unwrap();
        if r.status() == 303 {
            // Consent remembered: straight back to the client.
            return r.headers()["location"].to_str().unwrap().to_owned();
        }
        assert_eq!(r.status(), 200);
        let page = r.text().await.unwrap();
        let csrf = hidden(&page, "csrf");
        let form = [("tx", tx.as_str()), ("csrf", csrf.as_str()), ("decision", "approve")];
        let r = self.post_form("/authorize/consent", &form, cookie.as_deref()).await;
        assert_eq!(r.status(), 303, "{}", r.text().await.unwrap());
        r.headers()["location"].to_str().unwrap().to_owned()
    }

    /// Run the authorization to a code.
    pub async fn code(&self, client: &Client, challenge: &str) -> String {
        let mut cookie = None;
        let location = self.browser(client, challenge, "st-1", &mut cookie).await;
        let q = query_of(&location);
        param(&q, "code").unwrap_or_else(|| panic!("no code in {location}")).to_owned()
    }

    pub async fn token(&self, client: &Client, form: &[(&str, &str)]) -> (u16, Value) {
        let mut form: Vec<(&str, &str)> = form.to_vec();
        form.push(("client_id", &client.id));
        if let Some(s) = &client.secret {
            form.push(("client_secret", s));
        }
        let r = self.http.post(self.url("/token")).form(&form).send().await.unwrap();
        assert_eq!(r.headers()["cache-control"], "no-store");
        (r.status().as_u16(), r.json().await.unwrap())
    }

    pub async fn exchange(&self, client: &Client, code: &str, verifier: &str) -> (u16, Value) {
        self.token(
            client,
            &[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", REDIRECT),
                ("code_verifier", verifier),
            ],
        )
        .await
    }

    pub async fn refresh(&self, client: &Client, token: &str) -> (u16, Value) {
        self.token(client, &[("grant_type", "refresh_token"), ("refresh_token", token)]).await
    }
}

pub fn claims_of(jwt: &str) -> Value {
    let payload = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}
