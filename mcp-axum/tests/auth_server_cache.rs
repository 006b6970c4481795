//! The authorization server's access tokens are verified once and then remembered (by
//! the digest of the whole token) until they expire: a remembered token still expires
//! to the second, dies with its signing key, and no other string passes for it.

#![cfg(feature = "oauth-server")]

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use common::{App, start};
use http::request::Parts;
use mcp_axum::auth::server::{AuthServer, PreRegistered, SignIn};
use mcp_core::Principal;
use mcp_core::server::BoxFuture;
use serde_json::{Value, json};
use sha2::Digest as _;

/// alice, signed in by the app's own session cookie.
struct Users;

impl SignIn for Users {
    fn sign_in<'a>(&'a self, _: &'a str, _: &'a str) -> BoxFuture<'a, Result<Option<Principal>, String>> {
        Box::pin(async { Ok(None) })
    }

    fn session<'a>(&'a self, request: &'a Parts) -> BoxFuture<'a, Option<Principal>> {
        let ok = request.headers.get("cookie").and_then(|v| v.to_str().ok()).is_some_and(|c| c.contains("app=alice"));
        Box::pin(std::future::ready(ok.then(|| Principal::new("alice"))))
    }
}

const REDIRECT: &str = "http://127.0.0.1/callback";

struct Server {
    app: App,
    http: reqwest::Client,
    auth: AuthServer,
    skew: Arc<AtomicU64>,
}

async fn server(access_ttl: Duration) -> Server {
    let skew = Arc::new(AtomicU64::new(0));
    let s = skew.clone();
    let mut auth = None;
    let app = start(|router, base| {
        let a = AuthServer::builder()
            .issuer(base)
            .sign_in(Users)
            .client(PreRegistered::public("app", [REDIRECT]))
            .access_token_ttl(access_ttl)
            .clock(move || SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() + s.load(Ordering::SeqCst))
            .build()
            .unwrap();
        auth = Some(a.clone());
        router.auth_server(a)
    })
    .await;
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    Server { app, http, auth: auth.unwrap(), skew }
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn hidden(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker).unwrap() + marker.len();
    html[start..].split('"').next().unwrap().to_owned()
}

fn location_code(r: &reqwest::Response) -> String {
    assert_eq!(r.status(), 303);
    let location = r.headers()["location"].to_str().unwrap();
    let url = url::Url::parse(location).unwrap();
    url.query_pairs().find(|(k, _)| k == "code").unwrap().1.into_owned()
}

impl Server {
    /// An access token through the whole flow (consent approved on the page).
    async fn access_token(&self) -> String {
        let verifier = b64(b"a verifier of the cache test, long enough for PKCE");
        let challenge = b64(&sha2::Sha256::digest(verifier.as_bytes()));
        let params = [
            ("response_type", "code"),
            ("client_id", "app"),
            ("redirect_uri", REDIRECT),
            ("state", "s"),
            ("code_challenge", challenge.as_str()),
            ("code_challenge_method", "S256"),
        ];
        let base = &self.app.base;
        let r = self.http.get(format!("{base}/authorize")).query(&params).header("cookie", "app=alice").send().await;
        let r = r.unwrap();
        let code = if r.status() == 303 {
            location_code(&r)
        } else {
            let browser = r.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_owned();
            let page = r.text().await.unwrap();
            let form = [("tx", hidden(&page, "tx")), ("csrf", hidden(&page, "csrf")), ("decision", "approve".into())];
            let r = self
                .http
                .post(format!("{base}/authorize/consent"))
                .header("cookie", format!("app=alice; {browser}"))
                .form(&form)
                .send()
                .await
                .unwrap();
            location_code(&r)
        };
        let form = [
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", REDIRECT),
            ("client_id", "app"),
            ("code_verifier", verifier.as_str()),
        ];
        let r = self.http.post(format!("{base}/token")).form(&form).send().await.unwrap();
        assert_eq!(r.status(), 200);
        let body: Value = r.json().await.unwrap();
        body["access_token"].as_str().unwrap().to_owned()
    }

    async fn status(&self, token: &str) -> (u16, String) {
        let a = self.app.call(Some(token), "whoami", json!({})).await;
        (a.status, a.challenge().to_owned())
    }
}

fn exp_of(jwt: &str) -> u64 {
    let payload = jwt.split('.').nth(1).unwrap();
    let claims: Value =
        serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
    claims["exp"].as_u64().unwrap()
}

#[tokio::test]
async fn a_remembered_token_expires_when_a_checked_one_would() {
    let s = server(Duration::from_secs(1)).await;
    let token = s.access_token().await;
    // Accepted, then accepted again from memory.
    assert_eq!(s.status(&token).await.0, 200);
    assert_eq!(s.status(&token).await.0, 200);
    // The validator's leeway is 5 s: past `exp + 5` it is expired, remembered or not.
    let deadline = exp_of(&token) + 5;
    loop {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs();
        if now > deadline {
            break;
        }
        assert_eq!(s.status(&token).await.0, 200, "valid until {deadline}, now {now}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let (status, challenge) = s.status(&token).await;
    assert_eq!(status, 401);
    assert!(challenge.contains("expired"), "{challenge}");
}

#[tokio::test]
async fn no_other_string_passes_for_a_remembered_token() {
    let s = server(Duration::from_secs(3600)).await;
    let token = s.access_token().await;
    assert_eq!(s.status(&token).await.0, 200);
    // One character of the signature changed, a suffix, a prefix: each checked in full.
    let mut tampered = token.clone().into_bytes();
    let i = token.rfind('.').unwrap() + 5;
    tampered[i] = if tampered[i] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).unwrap();
    assert_eq!(s.status(&tampered).await.0, 401);
    assert_eq!(s.status(&format!("{token}A")).await.0, 401);
    assert_eq!(s.status(&token[..token.len() - 1]).await.0, 401);
    assert_eq!(s.status(&token).await.0, 200);
}

#[tokio::test]
async fn a_remembered_token_dies_with_its_key() {
    let s = server(Duration::from_secs(3600)).await;
    let token = s.access_token().await;
    assert_eq!(s.status(&token).await.0, 200);
    assert_eq!(s.status(&token).await.0, 200);
    s.auth.rotate_keys().await.unwrap();
    assert_eq!(s.status(&token).await.0, 200, "a retired key's tokens stay valid while they may be live");
    // Past the retired key's last possible token, the key is dropped (the JWKS reloads).
    s.skew.fetch_add(3600 + 61, Ordering::SeqCst);
    let jwks: Value = s.http.get(format!("{}/jwks.json", s.app.base)).send().await.unwrap().json().await.unwrap();
    assert_eq!(jwks["keys"].as_array().unwrap().len(), 1);
    let (status, challenge) = s.status(&token).await;
    assert_eq!(status, 401);
    assert!(challenge.contains("unknown or retired key"), "{challenge}");
}
