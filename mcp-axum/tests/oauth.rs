//! OAuth 2.1 resource server over real HTTP: JWT access tokens signed in the test (RS256
//! and ES256, keys generated here) checked against a JWKS served on 127.0.0.1, key
//! rotation, discovery through authorization-server metadata, and RFC 7662 introspection.

#![cfg(feature = "oauth")]

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::routing::{get, post};
use base64::Engine as _;
use common::start;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use mcp_axum::auth::{Auth, Introspection, JwtAuthenticator, JwtBuilder};
use serde_json::{Value, json};

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// A signing key and its public JWK.
struct Key {
    alg: Algorithm,
    kid: String,
    encoding: EncodingKey,
    jwk: Value,
}

fn rsa_key(kid: &str) -> Key {
    use rsa::pkcs1::EncodeRsaPrivateKey;
    use rsa::traits::PublicKeyParts;
    let key = rsa::RsaPrivateKey::new(&mut rand::thread_rng(), 2048).unwrap();
    let der = key.to_pkcs1_der().unwrap();
    Key {
        alg: Algorithm::RS256,
        kid: kid.into(),
        encoding: EncodingKey::from_rsa_der(der.as_bytes()),
        jwk: json!({ "kty": "RSA", "kid": kid, "use": "sig", "alg": "RS256",
            "n": b64(&key.n().to_bytes_be()), "e": b64(&key.e().to_bytes_be()) }),
    }
}

fn ec_key(kid: &str) -> Key {
    use p256::pkcs8::EncodePrivateKey;
    let key = p256::ecdsa::SigningKey::random(&mut rand::thread_rng());
    let der = key.to_pkcs8_der().unwrap();
    let point = key.verifying_key().to_encoded_point(false);
    Key {
        alg: Algorithm::ES256,
        kid: kid.into(),
        encoding: EncodingKey::from_ec_der(der.as_bytes()),
        jwk: json!({ "kty": "EC", "crv": "P-256", "kid": kid, "use": "sig", "alg": "ES256",
            "x": b64(point.x().unwrap()), "y": b64(point.y().unwrap()) }),
    }
}

/// A JSON response (the crate builds axum without its `json` feature).
fn json_body(v: Value) -> ([(axum::http::HeaderName, &'static str); 1], String) {
    ([(axum::http::header::CONTENT_TYPE, "application/json")], v.to_string())
}

fn now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() as i64
}

/// The authorization server of the tests: metadata, JWKS (changeable) and introspection.
struct Issuer {
    url: String,
    jwks: Arc<Mutex<Vec<Value>>>,
    fetches: Arc<Mutex<usize>>,
    introspections: Arc<Mutex<usize>>,
    /// How long the JWKS endpoint takes to answer.
    jwks_delay: Arc<Mutex<Duration>>,
    /// Whether the JWKS endpoint answers 500.
    jwks_fails: Arc<Mutex<bool>>,
}

async fn issuer() -> Issuer {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let jwks: Arc<Mutex<Vec<Value>>> = Arc::default();
    let fetches: Arc<Mutex<usize>> = Arc::default();
    let introspections: Arc<Mutex<usize>> = Arc::default();
    let jwks_delay: Arc<Mutex<Duration>> = Arc::default();
    let jwks_fails: Arc<Mutex<bool>> = Arc::default();
    let (j, f, i, u) = (jwks.clone(), fetches.clone(), introspections.clone(), url.clone());
    let (delay, fails) = (jwks_delay.clone(), jwks_fails.clone());
    let app = Router::new()
        .route(
            "/.well-known/oauth-authorization-server",
            get(move || {
                let u = u.clone();
                async move { json_body(json!({ "issuer": u, "jwks_uri": format!("{u}/jwks") })) }
            }),
        )
        .route(
            "/jwks",
            get(move || {
                *f.lock().unwrap() += 1;
                let keys = j.lock().unwrap().clone();
                let (delay, fails) = (*delay.lock().unwrap(), *fails.lock().unwrap());
                async move {
                    tokio::time::sleep(delay).await;
                    if fails {
                        (axum::http::StatusCode::INTERNAL_SERVER_ERROR, json_body(json!({ "error": "down" })))
                    } else {
                        (axum::http::StatusCode::OK, json_body(json!({ "keys": keys })))
                    }
                }
            }),
        )
        .route(
            "/introspect",
            post(move |headers: axum::http::HeaderMap, body: String| {
                *i.lock().unwrap() += 1;
                async move {
                    // The resource server authenticates as a client (HTTP Basic).
                    let auth = headers.get("authorization").map(|v| v.to_str().unwrap().to_owned());
                    if auth.as_deref()
                        != Some(&format!("Basic {}", base64::engine::general_purpose::STANDARD.encode("rs:rs-secret")))
                    {
                        return (axum::http::StatusCode::UNAUTHORIZED, json_body(json!({ "error": "invalid_client" })));
                    }
                    let answer = match body.split('&').find_map(|kv| kv.strip_prefix("token=")) {
                        Some("opaque-alice") => {
                            json!({ "active": true, "sub": "alice", "scope": "posts:read posts:write",
                            "exp": now() + 600, "aud": "http://resource.test/mcp" })
                        }
                        Some("opaque-other-aud") => {
                            json!({ "active": true, "sub": "alice", "aud": "https://elsewhere" })
                        }
                        _ => json!({ "active": false }),
                    };
                    (axum::http::StatusCode::OK, json_body(answer))
                }
            }),
        );
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    Issuer { url, jwks, fetches, introspections, jwks_delay, jwks_fails }
}

fn sign(key: &Key, claims: &Value) -> String {
    let mut h = Header::new(key.alg);
    h.kid = Some(key.kid.clone());
    jsonwebtoken::encode(&h, claims, &key.encoding).unwrap()
}

fn claims(iss: &str, aud: &str, scope: &str) -> Value {
    json!({ "iss": iss, "aud": aud, "sub": "alice", "scope": scope, "exp": now() + 300, "iat": now() })
}

#[tokio::test]
async fn jwt_access_tokens() {
    let idp = issuer().await;
    let rsa = rsa_key("rsa-1");
    let ec = ec_key("ec-1");
    idp.jwks.lock().unwrap().extend([rsa.jwk.clone(), ec.jwk.clone()]);
    let iss = idp.url.clone();
    let app = start(|r, base| {
        let resource = format!("{base}/mcp");
        let jwt = JwtAuthenticator::builder(&iss, format!("{iss}/jwks"), &resource)
            .leeway(Duration::from_secs(5))
            .min_refresh(Duration::ZERO)
            .build()
            .unwrap();
        r.auth(Auth::new().authenticator(jwt).authorization_server(&iss))
    })
    .await;
    let aud = format!("{}/mcp", app.base);
    let ok = claims(&iss, &aud, "posts:read posts:write");

    // Valid, with either key type; scopes come from the `scope` claim.
    for key in [&rsa, &ec] {
        let a = app.call(Some(&sign(key, &ok)), "whoami", json!({})).await;
        assert_eq!(a.status, 200, "{:?}: {}", key.alg, a.body);
        assert_eq!(
            a.body["result"]["structuredContent"],
            json!({ "subject": "alice", "scopes": ["posts:read", "posts:write"] })
        );
    }
    let a = app.call(Some(&sign(&ec, &ok)), "publish", json!({ "id": 3 })).await;
    assert_eq!(a.body["result"]["content"][0]["text"], "published 3");

    let refused = |a: &common::Answer, why: &str| {
        assert_eq!(a.status, 401, "{}", a.body);
        assert!(a.challenge().contains(r#"error="invalid_token""#), "{}", a.challenge());
        assert!(a.challenge().contains(why), "{} does not say {why}", a.challenge());
    };
    let with = |patch: Value| {
        let mut c = ok.clone();
        c.as_object_mut().unwrap().extend(patch.as_object().unwrap().clone());
        c
    };
    refused(&app.call(Some(&sign(&rsa, &with(json!({ "exp": now() - 60 })))), "whoami", json!({})).await, "expired");
    refused(
        &app.call(Some(&sign(&rsa, &with(json!({ "nbf": now() + 600 })))), "whoami", json!({})).await,
        "not valid yet",
    );
    refused(
        &app.call(Some(&sign(&rsa, &with(json!({ "aud": "https://other.example/mcp" })))), "whoami", json!({})).await,
        "not issued for this resource",
    );
    refused(&app.call(Some(&sign(&rsa, &with(json!({ "aud": null })))), "whoami", json!({})).await, "aud");
    // Another issuer's token is not ours: nobody recognises it.
    refused(
        &app.call(Some(&sign(&rsa, &with(json!({ "iss": "https://evil.example" })))), "whoami", json!({})).await,
        "not recognised",
    );
    // Within the leeway an expired token still passes.
    assert_eq!(app.call(Some(&sign(&rsa, &with(json!({ "exp": now() - 2 })))), "whoami", json!({})).await.status, 200);

    // Bad signature: same kid, another key.
    let impostor = Key { kid: "rsa-1".into(), ..rsa_key("x") };
    refused(&app.call(Some(&sign(&impostor, &ok)), "whoami", json!({})).await, "signature");
    // A token whose payload was changed after signing.
    let good = sign(&rsa, &ok);
    let mut parts: Vec<String> = good.split('.').map(str::to_owned).collect();
    parts[1] = b64(serde_json::to_vec(&with(json!({ "sub": "mallory" }))).unwrap().as_slice());
    refused(&app.call(Some(&parts.join(".")), "whoami", json!({})).await, "signature");

    // alg none and HS256 (with the public key's bytes as the "secret") are refused.
    let header = b64(br#"{"alg":"none","typ":"JWT"}"#);
    let none = format!("{header}.{}.", b64(serde_json::to_vec(&ok).unwrap().as_slice()));
    refused(&app.call(Some(&none), "whoami", json!({})).await, "none");
    let mut hs = Header::new(Algorithm::HS256);
    hs.kid = Some("rsa-1".into());
    let hs_token =
        jsonwebtoken::encode(&hs, &ok, &EncodingKey::from_secret(rsa.jwk["n"].as_str().unwrap().as_bytes())).unwrap();
    refused(&app.call(Some(&hs_token), "whoami", json!({})).await, "HS256");

    // Unknown kid: fetched again, still unknown. Then the server rotates in the key.
    let rotated = ec_key("ec-2");
    let fetches = *idp.fetches.lock().unwrap();
    refused(&app.call(Some(&sign(&rotated, &ok)), "whoami", json!({})).await, "unknown key");
    assert_eq!(*idp.fetches.lock().unwrap(), fetches + 1);
    idp.jwks.lock().unwrap().push(rotated.jwk.clone());
    let a = app.call(Some(&sign(&rotated, &ok)), "whoami", json!({})).await;
    assert_eq!(a.status, 200, "{}", a.body);
    // Known keys are not fetched again.
    let fetches = *idp.fetches.lock().unwrap();
    app.call(Some(&sign(&rsa, &ok)), "whoami", json!({})).await;
    assert_eq!(*idp.fetches.lock().unwrap(), fetches);

    // Missing scope: 403 with the scope to ask for.
    let read_only = sign(&rsa, &with(json!({ "scope": "posts:read" })));
    let a = app.call(Some(&read_only), "publish", json!({ "id": 1 })).await;
    assert_eq!(a.status, 403);
    assert!(a.challenge().contains(r#"scope="posts:write", error="insufficient_scope""#), "{}", a.challenge());
    assert_eq!(app.tool_names(Some(&read_only)).await, ["whoami"]);

    // A token in the query string is never looked at.
    let resp = app.http.get(format!("{}/mcp?access_token={}", app.base, sign(&rsa, &ok))).send().await.unwrap();
    assert_eq!(resp.status(), 401);
}

/// An authorization server with one RSA key, and a server accepting its tokens with the
/// default settings.
async fn jwt_app(kid: &str) -> (Issuer, Key, common::App) {
    let idp = issuer().await;
    let rsa = rsa_key(kid);
    idp.jwks.lock().unwrap().push(rsa.jwk.clone());
    let iss = idp.url.clone();
    let app = start(|r, base| {
        let jwt = JwtAuthenticator::builder(&iss, format!("{iss}/jwks"), format!("{base}/mcp")).build().unwrap();
        r.auth(Auth::new().authenticator(jwt))
    })
    .await;
    (idp, rsa, app)
}

#[tokio::test]
async fn unknown_kids_do_not_hammer_the_authorization_server() {
    let (idp, rsa, app) = jwt_app("k1").await;
    let (iss, aud) = (idp.url.clone(), format!("{}/mcp", app.base));
    assert_eq!(app.call(Some(&sign(&rsa, &claims(&iss, &aud, ""))), "whoami", json!({})).await.status, 200);
    let junk = ec_key("junk");
    for _ in 0..5 {
        assert_eq!(app.call(Some(&sign(&junk, &claims(&iss, &aud, ""))), "whoami", json!({})).await.status, 401);
    }
    // One fetch at first use; unknown kids within `min_refresh` (30 s) fetch nothing more.
    assert_eq!(*idp.fetches.lock().unwrap(), 1);
}

/// A server accepting tokens of `idp` with its JWT authenticator set up by `configure`.
async fn jwt_app_with(idp: &Issuer, configure: impl FnOnce(JwtBuilder) -> JwtBuilder) -> common::App {
    let iss = idp.url.clone();
    start(|r, base| {
        let jwt =
            configure(JwtAuthenticator::builder(&iss, format!("{iss}/jwks"), format!("{base}/mcp"))).build().unwrap();
        r.auth(Auth::new().authenticator(jwt))
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_junk_tokens_against_a_failing_jwks_cause_one_fetch() {
    let idp = issuer().await;
    let rsa = rsa_key("k1");
    idp.jwks.lock().unwrap().push(rsa.jwk.clone());
    *idp.jwks_fails.lock().unwrap() = true;
    let cool_down = Duration::from_millis(1500);
    let app = jwt_app_with(&idp, |b| b.retry_after_failure(cool_down)).await;
    let (iss, aud) = (idp.url.clone(), format!("{}/mcp", app.base));
    let junk = ec_key("junk");
    let junk_token = sign(&junk, &claims(&iss, &aud, ""));
    let started = std::time::Instant::now();
    let answers =
        futures_util::future::join_all((0..50).map(|_| app.call(Some(&junk_token), "whoami", json!({})))).await;
    assert!(answers.iter().all(|a| a.status == 401), "every junk token is refused");
    assert_eq!(*idp.fetches.lock().unwrap(), 1, "50 concurrent junk tokens while the JWKS fails");
    // More junk, one after the other, within the cool-down: no fetch.
    for _ in 0..20 {
        assert_eq!(app.call(Some(&junk_token), "whoami", json!({})).await.status, 401);
    }
    // A valid token within the cool-down is refused too (no keys yet), saying why, and
    // fetches nothing.
    let valid = sign(&rsa, &claims(&iss, &aud, ""));
    let a = app.call(Some(&valid), "whoami", json!({})).await;
    assert_eq!(a.status, 401);
    assert!(a.challenge().contains("could not be fetched"), "{}", a.challenge());
    assert_eq!(*idp.fetches.lock().unwrap(), 1, "no refetch within the cool-down");
    assert!(started.elapsed() < cool_down, "the test was too slow to check the cool-down");
    // After the cool-down, with the JWKS back: the keys are fetched again.
    *idp.jwks_fails.lock().unwrap() = false;
    tokio::time::sleep(cool_down).await;
    let a = app.call(Some(&valid), "whoami", json!({})).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(*idp.fetches.lock().unwrap(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_valid_token_does_not_wait_for_a_slow_refresh() {
    let idp = issuer().await;
    let rsa = rsa_key("k1");
    idp.jwks.lock().unwrap().push(rsa.jwk.clone());
    // Every unknown kid may refresh: only the one-fetch-at-a-time rule limits fetches.
    let app = jwt_app_with(&idp, |b| b.min_refresh(Duration::ZERO)).await;
    let app = Arc::new(app);
    let (iss, aud) = (idp.url.clone(), format!("{}/mcp", app.base));
    let valid = sign(&rsa, &claims(&iss, &aud, ""));
    assert_eq!(app.call(Some(&valid), "whoami", json!({})).await.status, 200);
    assert_eq!(*idp.fetches.lock().unwrap(), 1);

    // The JWKS endpoint becomes slow; six junk tokens arrive at once.
    let slow = Duration::from_secs(3);
    *idp.jwks_delay.lock().unwrap() = slow;
    let junk = sign(&ec_key("junk"), &claims(&iss, &aud, ""));
    let junk_calls: Vec<_> = (0..6)
        .map(|_| {
            let (app, junk) = (app.clone(), junk.clone());
            tokio::spawn(async move { app.call(Some(&junk), "whoami", json!({})).await.status })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(300)).await;
    // A valid token meanwhile is answered from the keys at hand.
    let started = std::time::Instant::now();
    let a = app.call(Some(&valid), "whoami", json!({})).await;
    let took = started.elapsed();
    assert_eq!(a.status, 200, "{}", a.body);
    assert!(took < Duration::from_millis(1000), "a valid token waited {took:?} for the JWKS refresh");
    for call in junk_calls {
        assert_eq!(call.await.unwrap(), 401);
    }
    // The six junk tokens shared one fetch.
    assert_eq!(*idp.fetches.lock().unwrap(), 2, "one fetch for the six junk tokens");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_unknown_kids_with_default_settings_fetch_once() {
    let idp = issuer().await;
    let rsa = rsa_key("k1");
    idp.jwks.lock().unwrap().push(rsa.jwk.clone());
    *idp.jwks_delay.lock().unwrap() = Duration::from_millis(200);
    let app = jwt_app_with(&idp, |b| b).await;
    let (iss, aud) = (idp.url.clone(), format!("{}/mcp", app.base));
    let junk: Vec<String> =
        (0..50).map(|n| sign(&Key { kid: format!("junk-{n}"), ..ec_key("x") }, &claims(&iss, &aud, ""))).collect();
    let answers = futures_util::future::join_all(junk.iter().map(|t| app.call(Some(t), "whoami", json!({})))).await;
    assert!(answers.iter().all(|a| a.status == 401));
    assert_eq!(*idp.fetches.lock().unwrap(), 1, "50 unknown kids, one fetch");
    assert_eq!(app.call(Some(&sign(&rsa, &claims(&iss, &aud, ""))), "whoami", json!({})).await.status, 200);
    assert_eq!(*idp.fetches.lock().unwrap(), 1);
}

#[tokio::test]
async fn discovery_through_authorization_server_metadata() {
    let idp = issuer().await;
    let ec = ec_key("ec-1");
    idp.jwks.lock().unwrap().push(ec.jwk.clone());
    assert_eq!(mcp_axum::auth::discover_jwks_uri(&idp.url, false).await.unwrap(), format!("{}/jwks", idp.url));
    let builder = JwtAuthenticator::discover(&idp.url, "http://resource.test/mcp").await.unwrap();
    let jwt = builder.build().unwrap();
    let app = start(|r, _| r.auth(Auth::new().authenticator(jwt))).await;
    let token = sign(&ec, &claims(&idp.url, "http://resource.test/mcp", "posts:read"));
    assert_eq!(app.call(Some(&token), "whoami", json!({})).await.status, 200);

    // An unreachable issuer, or plain http to a remote host, fails at set-up.
    assert!(mcp_axum::auth::discover_jwks_uri("http://127.0.0.1:9/", false).await.is_err());
    assert!(JwtAuthenticator::builder("https://a.example", "http://a.example/jwks", "x").build().is_err());
}

#[tokio::test]
async fn introspection() {
    let idp = issuer().await;
    let introspection =
        Introspection::new(format!("{}/introspect", idp.url), "rs", "rs-secret", "http://resource.test/mcp").unwrap();
    let app = start(|r, _| r.auth(Auth::new().authenticator(introspection))).await;
    let a = app.call(Some("opaque-alice"), "publish", json!({ "id": 9 })).await;
    assert_eq!(a.status, 200, "{}", a.body);
    // Cached: a second call does not ask again.
    let before = *idp.introspections.lock().unwrap();
    assert_eq!(app.call(Some("opaque-alice"), "whoami", json!({})).await.status, 200);
    assert_eq!(*idp.introspections.lock().unwrap(), before);

    let a = app.call(Some("opaque-revoked"), "whoami", json!({})).await;
    assert_eq!(a.status, 401);
    assert!(a.challenge().contains("not active"), "{}", a.challenge());
    let a = app.call(Some("opaque-other-aud"), "whoami", json!({})).await;
    assert!(a.challenge().contains("not issued for this resource"), "{}", a.challenge());

    // Wrong client credentials: the resource server cannot ask, and says so.
    let bad = Introspection::new(format!("{}/introspect", idp.url), "rs", "wrong", "http://resource.test/mcp").unwrap();
    let app = start(|r, _| r.auth(Auth::new().authenticator(bad))).await;
    let a = app.call(Some("opaque-alice"), "whoami", json!({})).await;
    assert_eq!(a.status, 401);
    assert!(a.challenge().contains("could not be asked"), "{}", a.challenge());
}

#[tokio::test]
async fn two_users_cannot_reach_each_others_sessions() {
    let (idp, rsa, app) = jwt_app("k").await;
    let (iss, aud) = (idp.url.clone(), format!("{}/mcp", app.base));
    let alice = sign(&rsa, &claims(&iss, &aud, "posts:read"));
    let mut bob_claims = claims(&iss, &aud, "posts:read");
    bob_claims["sub"] = json!("bob");
    let bob = sign(&rsa, &bob_claims);
    let session = app.open_session(&alice).await;
    let list = json!({ "jsonrpc": "2.0", "id": 2, "method": "tools/list" });
    assert_eq!(app.legacy(Some(&alice), Some(&session), list.clone()).await.status, 200);
    assert_eq!(app.legacy(Some(&bob), Some(&session), list).await.status, 404);
}
