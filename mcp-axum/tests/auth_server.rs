//! The built-in authorization server over real HTTP on 127.0.0.1: discovery, dynamic
//! registration, the browser's part (sign-in form, consent, CSRF, cookies) done by a small
//! driver, the code exchange, MCP calls with the JWT in both protocol eras, refresh-token
//! rotation, and the security refusals (each with its OAuth error and nothing issued).

#![cfg(feature = "oauth-server")]

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use common::flow::{Client, REDIRECT, Server, Skew, Users, claims_of, hidden, param, pkce, query_of};
use common::start;
use mcp_axum::auth::server::{AuthServer, PreRegistered};
use serde_json::{Value, json};

async fn server_with(grace: Duration, sign_ins_per_user: u32) -> Server {
    let skew = Skew::default();
    let mut auth = None;
    let s = skew.clone();
    let app = start(|router, base| {
        let a = AuthServer::builder()
            .issuer(base)
            .name("Test blog")
            .sign_in(Users)
            .scopes([("posts:read", "Read your posts"), ("posts:write", "Write & <publish> posts")])
            .client(PreRegistered::confidential(
                "fixed",
                "fixed-secret-123",
                ["https://claude.ai/api/mcp/auth_callback"],
            ))
            .refresh_grace(grace)
            .sign_ins_per_minute(sign_ins_per_user, 100)
            .client_metadata_from_loopback(true)
            .clock(move || SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() + s.0.load(Ordering::SeqCst))
            .build()
            .unwrap();
        auth = Some(a.clone());
        router.auth_server(a)
    })
    .await;
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    Server { app, http, skew, auth: auth.unwrap() }
}

async fn server() -> Server {
    server_with(Duration::from_secs(30), 100).await
}

#[tokio::test]
async fn metadata_is_served_at_every_alias_with_the_bare_origin_as_issuer() {
    let s = server().await;
    let base = &s.app.base;
    let mut docs = Vec::new();
    for path in [
        "/.well-known/oauth-authorization-server",
        "/.well-known/oauth-authorization-server/mcp",
        "/.well-known/openid-configuration",
        "/.well-known/openid-configuration/mcp",
        "/mcp/.well-known/openid-configuration",
    ] {
        let a = s.app.get(path).await;
        assert_eq!(a.status, 200, "{path}");
        docs.push(a.body);
    }
    assert!(docs.iter().all(|d| d == &docs[0]));
    let d = &docs[0];
    assert_eq!(d["issuer"], json!(base));
    assert_eq!(d["authorization_endpoint"], json!(format!("{base}/authorize")));
    assert_eq!(d["token_endpoint"], json!(format!("{base}/token")));
    assert_eq!(d["registration_endpoint"], json!(format!("{base}/register")));
    assert_eq!(d["revocation_endpoint"], json!(format!("{base}/revoke")));
    assert_eq!(d["code_challenge_methods_supported"], json!(["S256"]));
    assert_eq!(
        d["token_endpoint_auth_methods_supported"],
        json!(["none", "client_secret_post", "client_secret_basic"])
    );
    assert_eq!(d["authorization_response_iss_parameter_supported"], json!(true));
    assert_eq!(d["scopes_supported"], json!(["posts:read", "posts:write"]));
    // Not implemented yet, so not advertised.
    assert_eq!(d["client_id_metadata_document_supported"], true);
    // The protected-resource metadata names this server.
    let prm = s.app.get("/.well-known/oauth-protected-resource/mcp").await;
    assert_eq!(prm.body["authorization_servers"], json!([base]));
    assert_eq!(prm.body["resource"], json!(format!("{base}/mcp")));
    // An MCP call without a token is challenged towards it.
    let a = s.app.modern(None, "tools/list", json!({})).await;
    assert_eq!(a.status, 401);
    assert!(a.challenge().contains("/.well-known/oauth-protected-resource/mcp"), "{}", a.challenge());
    let jwks = s.app.get("/jwks.json").await;
    assert_eq!(jwks.body["keys"][0]["kty"], "EC");
    assert_eq!(jwks.body["keys"][0]["alg"], "ES256");
    assert!(jwks.body["keys"][0].get("d").is_none(), "the JWKS must not publish the private key");
}

#[tokio::test]
async fn the_whole_flow_sign_in_consent_code_token_mcp_refresh() {
    let s = server().await;
    let base = s.app.base.clone();
    // Registration without a method: a public client, and it is said so.
    let (status, reg) =
        s.register(json!({ "redirect_uris": ["http://127.0.0.1/callback"], "client_name": "Test <Agent>" })).await;
    assert_eq!(status, 201, "{reg}");
    assert_eq!(reg["token_endpoint_auth_method"], "none");
    assert!(reg.get("client_secret").is_none());
    let client = Client { id: reg["client_id"].as_str().unwrap().to_owned(), secret: None };

    // The browser's part, step by step.
    let (verifier, challenge) = pkce();
    let params = [
        ("response_type", "code"),
        ("client_id", client.id.as_str()),
        ("redirect_uri", REDIRECT),
        ("state", "xyz-state"),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
        ("resource", &format!("{base}/MCP/").replace("/MCP/", "/mcp/")),
    ];
    let r = s.get_authorize(&params, None).await;
    assert_eq!(r.status(), 200);
    let h = r.headers().clone();
    let csp = h["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("frame-ancestors 'none'") && csp.contains("default-src 'none'"), "{csp}");
    assert!(!csp.contains("script-src"));
    assert_eq!(h["x-frame-options"], "DENY");
    assert_eq!(h["referrer-policy"], "no-referrer");
    let cookie = h["set-cookie"].to_str().unwrap();
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"), "{cookie}");
    let cookie = cookie.split(';').next().unwrap().to_owned();
    let page = r.text().await.unwrap();
    // The client's name is escaped, the redirect host shown.
    assert!(page.contains("Test &#60;Agent&#62;") || page.contains("Test &lt;Agent&gt;"), "{page}");
    assert!(!page.contains("<Agent>"));
    assert!(page.contains("127.0.0.1:51234"));
    assert!(!page.contains("<script"));
    let tx = hidden(&page, "tx");
    let csrf = hidden(&page, "csrf");

    // A wrong password: the form again, with an error.
    let form = [("tx", tx.as_str()), ("csrf", csrf.as_str()), ("username", "alice"), ("password", "nope")];
    let r = s.post_form("/authorize/sign-in", &form, Some(&cookie)).await;
    assert_eq!(r.status(), 401);
    assert!(r.text().await.unwrap().contains("Wrong username or password"));

    let form = [("tx", tx.as_str()), ("csrf", csrf.as_str()), ("username", "alice"), ("password", "wonderland")];
    let r = s.post_form("/authorize/sign-in", &form, Some(&cookie)).await;
    assert_eq!(r.status(), 303);
    let next = r.headers()["location"].to_str().unwrap().to_owned();
    let r = s.http.get(s.url(&next)).header("cookie", &cookie).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let page = r.text().await.unwrap();
    assert!(
        page.contains("Read your posts") && page.contains("Write &#38; &#60;publish&#62; posts")
            || page.contains("Write &amp; &lt;publish&gt; posts"),
        "{page}"
    );
    assert!(page.contains("user-alice"));
    let csrf = hidden(&page, "csrf");
    let form = [("tx", tx.as_str()), ("csrf", csrf.as_str()), ("decision", "approve")];
    let r = s.post_form("/authorize/consent", &form, Some(&cookie)).await;
    assert_eq!(r.status(), 303);
    let location = r.headers()["location"].to_str().unwrap().to_owned();
    assert!(location.starts_with("http://127.0.0.1:51234/callback?"), "{location}");
    let q = query_of(&location);
    assert_eq!(param(&q, "state"), Some("xyz-state"));
    assert_eq!(param(&q, "iss"), Some(base.as_str()));
    let code = param(&q, "code").unwrap().to_owned();

    // The code for tokens.
    let (status, tokens) = s.exchange(&client, &code, &verifier).await;
    assert_eq!(status, 200, "{tokens}");
    assert_eq!(tokens["token_type"], "Bearer");
    assert_eq!(tokens["scope"], "posts:read posts:write");
    let access = tokens["access_token"].as_str().unwrap().to_owned();
    let refresh = tokens["refresh_token"].as_str().unwrap().to_owned();
    let claims = claims_of(&access);
    assert_eq!(claims["iss"], json!(base));
    assert_eq!(claims["sub"], "user-alice");
    assert_eq!(claims["aud"], json!(format!("{base}/mcp")));
    assert_eq!(claims["client_id"], json!(client.id));
    assert_eq!(claims["author_id"], 7);
    assert!(claims["jti"].is_string() && claims["exp"].as_u64() > claims["iat"].as_u64());

    // MCP with the JWT, modern and legacy.
    let names = s.app.tool_names(Some(&access)).await;
    assert!(names.contains(&"whoami".to_owned()));
    let a = s.app.call(Some(&access), "whoami", json!({})).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.body["result"]["structuredContent"]["subject"], "user-alice", "{}", a.body);
    let a = s.app.call(Some(&access), "publish", json!({ "id": 3 })).await;
    assert_eq!(a.body["result"]["content"][0]["text"], "published 3", "{}", a.body);
    let session = s.app.open_session(&access).await;
    let a = s
        .app
        .legacy(
            Some(&access),
            Some(&session),
            json!({ "jsonrpc": "2.0", "id": 2, "method": "tools/call",
            "params": { "name": "whoami", "arguments": {} } }),
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert!(a.body["result"].to_string().contains("user-alice"), "{}", a.body);
    // A tampered token is refused.
    let tampered = format!("{}x", &access[..access.len() - 1]);
    assert_eq!(s.app.modern(Some(&tampered), "tools/list", json!({})).await.status, 401);

    // Refresh: rotated, same audience and scope.
    let (status, second) = s.refresh(&client, &refresh).await;
    assert_eq!(status, 200, "{second}");
    let refresh2 = second["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(refresh2, refresh);
    assert_eq!(claims_of(second["access_token"].as_str().unwrap())["aud"], json!(format!("{base}/mcp")));
    assert_eq!(second["scope"], "posts:read posts:write");
    // The same token again within the grace window (parallel calls): the same successor.
    let (status, again) = s.refresh(&client, &refresh).await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["refresh_token"], json!(refresh2));
    // The successor works, and rotates in turn.
    let (status, third) = s.refresh(&client, &refresh2).await;
    assert_eq!(status, 200, "{third}");
    assert_eq!(s.app.tool_names(Some(third["access_token"].as_str().unwrap())).await.len(), names.len());

    // A second authorization of the same client skips the consent page (remembered)...
    let (_, challenge) = pkce();
    let mut jar = Some(cookie.clone());
    let location = s.browser(&client, &challenge, "again", &mut jar).await;
    assert!(param(&query_of(&location), "code").is_some(), "{location}");
    // ...until the app revokes the consent through the store.
    s.auth.store().revoke_consent("user-alice", &client.id).await.unwrap();
    let params = [
        ("response_type", "code"),
        ("client_id", client.id.as_str()),
        ("redirect_uri", REDIRECT),
        ("state", "s"),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ];
    let page = s.get_authorize(&params, Some(&cookie)).await.text().await.unwrap();
    let (tx, csrf) = (hidden(&page, "tx"), hidden(&page, "csrf"));
    let form = [("tx", tx.as_str()), ("csrf", csrf.as_str()), ("username", "alice"), ("password", "wonderland")];
    let r = s.post_form("/authorize/sign-in", &form, Some(&cookie)).await;
    let next = r.headers()["location"].to_str().unwrap().to_owned();
    let r = s.http.get(s.url(&next)).header("cookie", &cookie).send().await.unwrap();
    assert_eq!(r.status(), 200, "the consent page is shown again");

    // Revocation (RFC 7009) kills the family.
    let r = s
        .http
        .post(s.url("/revoke"))
        .form(&[("token", third["refresh_token"].as_str().unwrap()), ("client_id", &client.id)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let (status, e) = s.refresh(&client, third["refresh_token"].as_str().unwrap()).await;
    assert_eq!((status, e["error"].as_str()), (400, Some("invalid_grant")));
}

#[tokio::test]
async fn confidential_clients_authenticate_with_post_and_basic() {
    let s = server().await;
    let (status, reg) = s
        .register(json!({ "redirect_uris": ["https://claude.ai/api/mcp/auth_callback", REDIRECT],
            "token_endpoint_auth_method": "client_secret_post", "client_name": "Claude" }))
        .await;
    assert_eq!(status, 201, "{reg}");
    assert_eq!(reg["token_endpoint_auth_method"], "client_secret_post");
    let secret = reg["client_secret"].as_str().unwrap().to_owned();
    let client = Client { id: reg["client_id"].as_str().unwrap().to_owned(), secret: Some(secret.clone()) };
    let (verifier, challenge) = pkce();
    let code = s.code(&client, &challenge).await;
    // A wrong secret: invalid_client, and the code is not spent.
    let wrong = Client { id: client.id.clone(), secret: Some("wrong".into()) };
    let (status, e) = s.exchange(&wrong, &code, &verifier).await;
    assert_eq!((status, e["error"].as_str()), (401, Some("invalid_client")));
    // No secret at all: the same.
    let bare = Client { id: client.id.clone(), secret: None };
    let (status, e) = s.exchange(&bare, &code, &verifier).await;
    assert_eq!((status, e["error"].as_str()), (401, Some("invalid_client")));
    let (status, tokens) = s.exchange(&client, &code, &verifier).await;
    assert_eq!(status, 200, "{tokens}");
    // Basic, with the id and secret URL-encoded.
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", client.id, secret));
    let r = s
        .http
        .post(s.url("/token"))
        .header("authorization", format!("Basic {basic}"))
        .form(&[("grant_type", "refresh_token"), ("refresh_token", tokens["refresh_token"].as_str().unwrap())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // The pre-registered confidential client exists without registration.
    let r = s
        .http
        .post(s.url("/token"))
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", "x"),
            ("client_id", "fixed"),
            ("client_secret", "fixed-secret-123"),
        ])
        .send()
        .await
        .unwrap();
    let e: Value = r.json().await.unwrap();
    assert_eq!(e["error"], "invalid_grant", "the client authenticated; only the token is unknown");
}

#[tokio::test]
async fn registration_refuses_bad_redirect_uris_and_methods() {
    let s = server().await;
    for (body, error) in [
        (json!({ "redirect_uris": ["http://evil.example/cb"] }), "invalid_redirect_uri"),
        (json!({ "redirect_uris": ["https://a.example/cb#frag"] }), "invalid_redirect_uri"),
        (json!({ "redirect_uris": ["http://127.0.0.1.evil.example/cb"] }), "invalid_redirect_uri"),
        (json!({ "redirect_uris": [] }), "invalid_redirect_uri"),
        (
            json!({ "redirect_uris": ["https://a.example/cb"], "token_endpoint_auth_method": "private_key_jwt" }),
            "invalid_client_metadata",
        ),
        (json!({ "redirect_uris": ["https://a.example/cb"], "grant_types": ["password"] }), "invalid_client_metadata"),
        (json!("nope"), "invalid_client_metadata"),
    ] {
        let (status, e) = s.register(body.clone()).await;
        assert_eq!((status, e["error"].as_str()), (400, Some(error)), "{body}: {e}");
        assert!(e["error_description"].as_str().unwrap().len() > 10);
    }
}

/// The authorization parameters of a valid request, to break one at a time.
fn good_params(client: &str, challenge: &str) -> Vec<(String, String)> {
    [
        ("response_type", "code"),
        ("client_id", client),
        ("redirect_uri", REDIRECT),
        ("state", "st"),
        ("code_challenge", challenge),
        ("code_challenge_method", "S256"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

#[tokio::test]
async fn authorization_requests_are_refused_without_issuing_anything() {
    let s = server().await;
    let client = s.public_client().await;
    let (_, challenge) = pkce();
    let ask = |params: Vec<(String, String)>| {
        let s = &s;
        async move {
            let p: Vec<(&str, &str)> = params.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            s.get_authorize(&p, None).await
        }
    };
    let set = |name: &str, value: Option<&str>| {
        let mut p = good_params(&client.id, &challenge);
        p.retain(|(k, _)| k != name);
        if let Some(v) = value {
            p.push((name.to_owned(), v.to_owned()));
        }
        p
    };
    // A wrong or prefix-matching redirect URI, or an unknown client: an error page, never a redirect.
    for (name, value) in [
        ("redirect_uri", Some("http://127.0.0.1:51234/callback/../evil")),
        ("redirect_uri", Some("http://127.0.0.1:51234/callbackx")),
        ("redirect_uri", Some("http://127.0.0.1:51234/callback?x=1")),
        ("redirect_uri", Some("http://localhost:51234/callback")),
        ("redirect_uri", Some("https://evil.example/callback")),
        ("redirect_uri", None),
        ("client_id", Some("unknown")),
    ] {
        let r = ask(set(name, value)).await;
        assert_eq!(r.status(), 400, "{name}={value:?}");
        assert!(r.headers().get("location").is_none());
        assert_eq!(r.headers()["x-frame-options"], "DENY");
        let page = r.text().await.unwrap();
        assert!(page.contains("not") && !page.contains("name=\"password\""), "{page}");
    }
    // The same for an https redirect URI: exact match only, no prefix, no added query.
    let (_, reg) = s.register(json!({ "redirect_uris": ["https://app.example/cb"] })).await;
    let https_client = reg["client_id"].as_str().unwrap().to_owned();
    for presented in [
        "https://app.example/cb/evil",
        "https://app.example/cbx",
        "https://app.example/cb?x=1",
        "https://app.example/cb#x",
        "https://app.example:8443/cb",
        "https://app.example.evil.example/cb",
    ] {
        let mut p = good_params(&https_client, &challenge);
        p.retain(|(k, _)| k != "redirect_uri");
        p.push(("redirect_uri".into(), presented.into()));
        let r = ask(p).await;
        assert_eq!(r.status(), 400, "{presented}");
        assert!(r.headers().get("location").is_none(), "{presented}");
    }
    let mut p = good_params(&https_client, &challenge);
    p.retain(|(k, _)| k != "redirect_uri");
    p.push(("redirect_uri".into(), "https://app.example/cb".into()));
    assert_eq!(ask(p).await.status(), 200);
    // Errors after the redirect URI is validated go back to it, with `iss`, and no code.
    let expect = |r: reqwest::Response, error: &str| {
        assert_eq!(r.status(), 303);
        let location = r.headers()["location"].to_str().unwrap().to_owned();
        assert!(location.starts_with(REDIRECT), "{location}");
        let q = query_of(&location);
        assert_eq!(param(&q, "error"), Some(error), "{location}");
        assert!(param(&q, "iss").is_some());
        assert!(param(&q, "code").is_none());
    };
    expect(ask(set("code_challenge", None)).await, "invalid_request");
    expect(ask(set("code_challenge_method", None)).await, "invalid_request");
    expect(ask(set("code_challenge_method", Some("plain"))).await, "invalid_request");
    expect(ask(set("state", None)).await, "invalid_request");
    expect(ask(set("response_type", Some("token"))).await, "unsupported_response_type");
    expect(ask(set("resource", Some("https://other.example/mcp"))).await, "invalid_target");
    expect(ask(set("resource", Some(&format!("{}/mcp2", s.app.base)))).await, "invalid_target");
    expect(ask(set("resource", Some(&format!("{}/mcp#x", s.app.base)))).await, "invalid_target");
    expect(ask(set("scope", Some("admin"))).await, "invalid_scope");
    // The port of a loopback redirect URI may vary (RFC 8252): a sign-in page.
    let r = ask(set("redirect_uri", Some("http://127.0.0.1:9/callback"))).await;
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn consent_without_the_csrf_token_or_cookie_is_refused() {
    let s = server().await;
    let client = s.public_client().await;
    let (_, challenge) = pkce();
    let p = good_params(&client.id, &challenge);
    let p: Vec<(&str, &str)> = p.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let r = s.get_authorize(&p, None).await;
    let cookie = r.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_owned();
    let page = r.text().await.unwrap();
    let (tx, csrf) = (hidden(&page, "tx"), hidden(&page, "csrf"));
    // Sign-in without the CSRF token, or from another browser: refused.
    let r = s
        .post_form(
            "/authorize/sign-in",
            &[("tx", &tx), ("username", "alice"), ("password", "wonderland")],
            Some(&cookie),
        )
        .await;
    assert_eq!(r.status(), 403);
    let r = s
        .post_form(
            "/authorize/sign-in",
            &[("tx", &tx), ("csrf", &csrf), ("username", "alice"), ("password", "wonderland")],
            None,
        )
        .await;
    assert_eq!(r.status(), 403);
    let form = [("tx", tx.as_str()), ("csrf", csrf.as_str()), ("username", "alice"), ("password", "wonderland")];
    let r = s.post_form("/authorize/sign-in", &form, Some(&cookie)).await;
    assert_eq!(r.status(), 303);
    let next = r.headers()["location"].to_str().unwrap().to_owned();
    let page = s.http.get(s.url(&next)).header("cookie", &cookie).send().await.unwrap().text().await.unwrap();
    let csrf = hidden(&page, "csrf");
    for (form, cookie) in [
        (vec![("tx", tx.as_str()), ("decision", "approve")], Some(cookie.as_str())),
        (
            vec![("tx", tx.as_str()), ("csrf", "forged-token-forged-token-forged-token-abcd"), ("decision", "approve")],
            Some(&cookie),
        ),
        (vec![("tx", tx.as_str()), ("csrf", csrf.as_str()), ("decision", "approve")], None),
    ] {
        let r = s.post_form("/authorize/consent", &form, cookie).await;
        assert_eq!(r.status(), 403, "{form:?}");
        assert!(r.headers().get("location").is_none());
        assert!(r.text().await.unwrap().contains("CSRF"));
    }
    // With both, it goes through.
    let r = s
        .post_form("/authorize/consent", &[("tx", &tx), ("csrf", &csrf), ("decision", "approve")], Some(&cookie))
        .await;
    assert_eq!(r.status(), 303);
    assert!(param(&query_of(r.headers()["location"].to_str().unwrap()), "code").is_some());
}

#[tokio::test]
async fn code_exchanges_are_refused_on_every_mismatch() {
    let s = server().await;
    let client = s.public_client().await;

    // A wrong verifier.
    let (_, challenge) = pkce();
    let code = s.code(&client, &challenge).await;
    let (other_verifier, _) = pkce();
    let (status, e) = s.exchange(&client, &code, &other_verifier).await;
    assert_eq!((status, e["error"].as_str()), (400, Some("invalid_grant")), "{e}");
    assert!(e.get("access_token").is_none());

    // No verifier.
    let (verifier, challenge) = pkce();
    let code = s.code(&client, &challenge).await;
    let (status, e) =
        s.token(&client, &[("grant_type", "authorization_code"), ("code", &code), ("redirect_uri", REDIRECT)]).await;
    assert_eq!((status, e["error"].as_str()), (400, Some("invalid_request")), "{e}");
    let _ = verifier;

    // Another redirect URI than the authorization request's.
    let (verifier, challenge) = pkce();
    let code = s.code(&client, &challenge).await;
    let (status, e) = s
        .token(
            &client,
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", "http://127.0.0.1:1/callback"),
                ("code_verifier", &verifier),
            ],
        )
        .await;
    assert_eq!((status, e["error"].as_str()), (400, Some("invalid_grant")), "{e}");

    // A resource for another server at the token endpoint.
    let (verifier, challenge) = pkce();
    let code = s.code(&client, &challenge).await;
    let (status, e) = s
        .token(
            &client,
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", REDIRECT),
                ("code_verifier", &verifier),
                ("resource", "https://other.example/mcp"),
            ],
        )
        .await;
    assert_eq!((status, e["error"].as_str()), (400, Some("invalid_target")), "{e}");

    // Another client's code.
    let (verifier, challenge) = pkce();
    let code = s.code(&client, &challenge).await;
    let thief = s.public_client().await;
    let (status, e) = s.exchange(&thief, &code, &verifier).await;
    assert_eq!((status, e["error"].as_str()), (400, Some("invalid_grant")), "{e}");

    // An expired code (60 s).
    let (verifier, challenge) = pkce();
    let code = s.code(&client, &challenge).await;
    s.skew.advance(61);
    let (status, e) = s.exchange(&client, &code, &verifier).await;
    assert_eq!((status, e["error"].as_str()), (400, Some("invalid_grant")), "{e}");
    assert!(e["error_description"].as_str().unwrap().contains("expired"));
}

#[tokio::test]
async fn a_reused_code_is_refused_and_revokes_what_it_issued() {
    let s = server().await;
    let client = s.public_client().await;
    let (verifier, challenge) = pkce();
    let code = s.code(&client, &challenge).await;
    let (status, tokens) = s.exchange(&client, &code, &verifier).await;
    assert_eq!(status, 200);
    let (status, e) = s.exchange(&client, &code, &verifier).await;
    assert_eq!((status, e["error"].as_str()), (400, Some("invalid_grant")), "{e}");
    assert!(e.get("access_token").is_none());
    // The refresh token the first exchange issued is dead.
    let (status, e) = s.refresh(&client, tokens["refresh_token"].as_str().unwrap()).await;
    assert_eq!((status, e["error"].as_str()), (400, Some("invalid_grant")), "{e}");
}

#[tokio::test]
async fn refresh_reuse_after_the_grace_window_kills_the_family() {
    let s = server_with(Duration::from_secs(5), 100).await;
    let client = s.public_client().await;
    let (verifier, challenge) = pkce();
    let code = s.code(&client, &challenge).await;
    let (_, tokens) = s.exchange(&client, &code, &verifier).await;
    let first = tokens["refresh_token"].as_str().unwrap().to_owned();
    let (status, second) = s.refresh(&client, &first).await;
    assert_eq!(status, 200);
    let second = second["refresh_token"].as_str().unwrap().to_owned();
    s.skew.advance(6);
    // The first token again, after the window: refused...
    let (status, e) = s.refresh(&client, &first).await;
    assert_eq!((status, e["error"].as_str()), (400, Some("invalid_grant")), "{e}");
    assert!(e.get("access_token").is_none());
    // ...and its live successor is dead too.
    let (status, e) = s.refresh(&client, &second).await;
    assert_eq!((status, e["error"].as_str()), (400, Some("invalid_grant")), "{e}");
    // Another client cannot use (or burn) someone's refresh token.
    let (verifier, challenge) = pkce();
    let code = s.code(&client, &challenge).await;
    let (_, tokens) = s.exchange(&client, &code, &verifier).await;
    let other = s.public_client().await;
    let (status, e) = s.refresh(&other, tokens["refresh_token"].as_str().unwrap()).await;
    assert_eq!((status, e["error"].as_str()), (400, Some("invalid_grant")));
    let (status, _) = s.refresh(&client, tokens["refresh_token"].as_str().unwrap()).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn rotated_keys_keep_old_tokens_valid_and_sign_with_the_new_one() {
    let s = server().await;
    let client = s.public_client().await;
    let (verifier, challenge) = pkce();
    let code = s.code(&client, &challenge).await;
    let (_, tokens) = s.exchange(&client, &code, &verifier).await;
    let old = tokens["access_token"].as_str().unwrap().to_owned();
    s.skew.advance(30); // the first key has been in use a while
    s.auth.rotate_keys().await.unwrap();
    let jwks = s.app.get("/jwks.json").await;
    assert_eq!(jwks.body["keys"].as_array().unwrap().len(), 2);
    assert_eq!(s.app.modern(Some(&old), "tools/list", json!({})).await.status, 200);
    let kid = |t: &str| -> Value {
        let h = t.split('.').next().unwrap();
        serde_json::from_slice::<Value>(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(h).unwrap()).unwrap()["kid"].clone()
    };
    // The new key is published first and signs 20 s later (other replicas learn it meanwhile).
    let (_, early) = s.refresh(&client, tokens["refresh_token"].as_str().unwrap()).await;
    assert_eq!(kid(early["access_token"].as_str().unwrap()), kid(&old), "the new key does not sign yet");
    s.skew.advance(21);
    let (_, fresh) = s.refresh(&client, early["refresh_token"].as_str().unwrap()).await;
    let new = fresh["access_token"].as_str().unwrap();
    assert_ne!(kid(&old), kid(new));
    // Once the old key's tokens have all expired (1 h + leeway), it is gone and so are they.
    s.skew.advance(3600 + 61);
    assert_eq!(s.app.get("/jwks.json").await.body["keys"].as_array().unwrap().len(), 1);
    assert_eq!(s.app.modern(Some(&old), "tools/list", json!({})).await.status, 401);
}

#[tokio::test]
async fn sign_in_attempts_are_rate_limited_per_user() {
    let s = server_with(Duration::from_secs(30), 5).await;
    let client = s.public_client().await;
    let (_, challenge) = pkce();
    let p = good_params(&client.id, &challenge);
    let p: Vec<(&str, &str)> = p.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let r = s.get_authorize(&p, None).await;
    let cookie = r.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_owned();
    let page = r.text().await.unwrap();
    let (tx, csrf) = (hidden(&page, "tx"), hidden(&page, "csrf"));
    let mut statuses = Vec::new();
    for _ in 0..6 {
        let form = [("tx", tx.as_str()), ("csrf", csrf.as_str()), ("username", "alice"), ("password", "guess")];
        statuses.push(s.post_form("/authorize/sign-in", &form, Some(&cookie)).await.status().as_u16());
    }
    assert_eq!(statuses, [401, 401, 401, 401, 401, 429]);
    // Even the right password waits now.
    let form = [("tx", tx.as_str()), ("csrf", csrf.as_str()), ("username", "alice"), ("password", "wonderland")];
    assert_eq!(s.post_form("/authorize/sign-in", &form, Some(&cookie)).await.status(), 429);
}

/// A site serving client metadata documents on 127.0.0.1, counting the requests it gets.
struct Documents {
    base: String,
    hits: Arc<AtomicU64>,
}

async fn document_site() -> Documents {
    use axum::response::IntoResponse;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let hits = Arc::new(AtomicU64::new(0));
    let doc = |id: String, extra: Value| {
        let mut d = json!({
            "client_id": id,
            "client_name": "Doc <Agent>",
            "redirect_uris": ["http://127.0.0.1/callback"],
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
            "token_endpoint_auth_method": "none",
        });
        d.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        axum::Json(d).into_response()
    };
    let b = base.clone();
    let redirect = |to: &'static str| {
        move || async move { (http::StatusCode::FOUND, [(http::header::LOCATION, to)]).into_response() }
    };
    let app = axum::Router::new()
        .route("/client.json", axum::routing::get(move || async move { doc(format!("{b}/client.json"), json!({})) }))
        .route(
            "/wrong-id.json",
            axum::routing::get(move || async move { doc("https://other.example/c.json".into(), json!({})) }),
        )
        .route(
            "/secret.json",
            axum::routing::get({
                let b = base.clone();
                move || async move {
                    doc(format!("{b}/secret.json"), json!({ "token_endpoint_auth_method": "client_secret_post" }))
                }
            }),
        )
        .route(
            "/big.json",
            axum::routing::get({
                let b = base.clone();
                move || async move { doc(format!("{b}/big.json"), json!({ "logo": "x".repeat(20_000) })) }
            }),
        )
        .route(
            "/slow.json",
            axum::routing::get(|| async {
                tokio::time::sleep(Duration::from_secs(30)).await;
                "{}"
            }),
        )
        .route("/to-private", axum::routing::get(redirect("http://10.0.0.1/client.json")))
        .route("/to-metadata", axum::routing::get(redirect("http://169.254.169.254/latest/meta-data/")))
        .route("/to-file", axum::routing::get(redirect("file:///etc/passwd")))
        .layer(axum::middleware::from_fn({
            let hits = hits.clone();
            move |req: axum::extract::Request, next: axum::middleware::Next| {
                hits.fetch_add(1, Ordering::SeqCst);
                next.run(req)
            }
        }));
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    Documents { base, hits }
}

/// `GET /authorize` for `client_id` with a valid request otherwise: the status, the
/// `Location` (if any) and the page.
async fn authorize_as(base: &str, client_id: &str, redirect_uri: &str) -> (u16, Option<String>, String) {
    let (_, challenge) = pkce();
    let resource = format!("{base}/mcp");
    let params = [
        ("response_type", "code"),
        ("client_id", client_id),
        ("redirect_uri", redirect_uri),
        ("state", "st"),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
        ("resource", resource.as_str()),
    ];
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let r = http.get(format!("{base}/authorize")).query(&params).send().await.unwrap();
    let location = r.headers().get("location").map(|l| l.to_str().unwrap().to_owned());
    (r.status().as_u16(), location, r.text().await.unwrap())
}

#[tokio::test]
async fn a_client_metadata_document_identifies_the_client_without_registration() {
    let s = server().await;
    let docs = document_site().await;
    let client = Client { id: format!("{}/client.json", docs.base), secret: None };

    // A redirect URI the document does not list: an error page, nothing sent anywhere.
    let (status, location, page) = authorize_as(&s.app.base, &client.id, "https://evil.example/callback").await;
    assert_eq!((status, location), (400, None), "{page}");
    assert!(page.contains("not one this app registered"), "{page}");

    // The whole flow with the URL as `client_id`; the document is fetched once, then cached.
    let (verifier, challenge) = pkce();
    let code = s.code(&client, &challenge).await;
    let (status, tokens) = s.exchange(&client, &code, &verifier).await;
    assert_eq!(status, 200, "{tokens}");
    let access = tokens["access_token"].as_str().unwrap();
    assert_eq!(claims_of(access)["client_id"], client.id.as_str(), "the token names the document URL as its client");
    let who = s.app.modern(Some(access), "tools/call", json!({ "name": "whoami", "arguments": {} })).await;
    assert_eq!(who.body["result"]["structuredContent"]["subject"], "user-alice", "{}", who.body);
    let (status, refreshed) = s.refresh(&client, tokens["refresh_token"].as_str().unwrap()).await;
    assert_eq!(status, 200, "{refreshed}");
    assert_eq!(docs.hits.load(Ordering::SeqCst), 1, "the document is fetched once and cached");
}

#[tokio::test]
async fn client_metadata_documents_that_break_the_rules_are_refused() {
    let s = server().await;
    let docs = document_site().await;
    let cases = [
        ("/wrong-id.json", "not the URL it was fetched from"),
        ("/secret.json", "`client_secret_post` is not supported"),
        ("/big.json", "larger than"),
        ("/missing.json", "HTTP 404"),
        ("/to-private", "10.0.0.1 is a private address"),
        ("/to-metadata", "169.254.169.254 is a link-local"),
        ("/to-file", "HTTP 302"),
        ("/slow.json", "longer than 5 s"),
    ];
    for (path, why) in cases {
        let id = format!("{}{path}", docs.base);
        let started = std::time::Instant::now();
        let (status, location, page) = authorize_as(&s.app.base, &id, "http://127.0.0.1:5000/callback").await;
        assert_eq!((status, location), (400, None), "{path}: {page}");
        assert!(page.contains(why), "{path}: the page should say `{why}`:\n{page}");
        assert!(started.elapsed() < Duration::from_secs(8), "{path} took {:?}", started.elapsed());
    }
    // The token endpoint refuses such a client too, with invalid_client.
    let bad = Client { id: format!("{}/wrong-id.json", docs.base), secret: None };
    let (status, e) = s.refresh(&bad, "whatever").await;
    assert_eq!((status, e["error"].as_str()), (401, Some("invalid_client")), "{e}");
    assert!(e["error_description"].as_str().unwrap().contains("not the URL"), "{e}");
}

#[tokio::test]
async fn loopback_private_and_metadata_addresses_are_never_fetched_in_production() {
    let docs = document_site().await;
    let port = docs.base.rsplit(':').next().unwrap().to_owned();
    let app = start(|router, base| {
        router.auth_server(
            AuthServer::builder()
                .issuer(base)
                .sign_in(Users)
                .scopes([("posts:read", "Read your posts")])
                .client_metadata_fetches_per_minute(10)
                .build()
                .unwrap(),
        )
    })
    .await;
    let cases = [
        (format!("http://127.0.0.1:{port}/client.json"), "127.0.0.1 is a loopback address"),
        ("http://app.example/client.json".to_owned(), "https only"),
        (format!("https://127.0.0.1:{port}/client.json"), "127.0.0.1 is a loopback address"),
        (format!("https://[::1]:{port}/client.json"), "::1 is a loopback address"),
        (format!("https://localhost:{port}/client.json"), "loopback address"),
        ("https://10.0.0.1/client.json".to_owned(), "10.0.0.1 is a private address"),
        ("https://192.168.1.1/client.json".to_owned(), "private address"),
        ("https://169.254.169.254/latest/meta-data/iam".to_owned(), "link-local"),
        ("https://[::ffff:169.254.169.254]/c.json".to_owned(), "link-local"),
        ("https://app.example/".to_owned(), "has no path"),
    ];
    for (id, why) in &cases {
        let (status, location, page) = authorize_as(&app.base, id, "http://127.0.0.1:5000/callback").await;
        assert_eq!((status, location), (400, None), "{id}: {page}");
        assert!(page.contains(why), "{id}: the page should say `{why}`:\n{page}");
    }
    assert_eq!(docs.hits.load(Ordering::SeqCst), 0, "nothing was fetched from loopback");
    // `file:` is not a document URL at all: an unknown client.
    let (status, _, page) = authorize_as(&app.base, "file:///etc/passwd", "http://127.0.0.1:5000/callback").await;
    assert_eq!(status, 400);
    assert!(page.contains("not registered"), "{page}");
    // Each unknown URL counts against the caller's fetch limit (10 a minute here).
    let (_, _, page) = authorize_as(&app.base, "https://10.0.0.2/c.json", "http://127.0.0.1:5000/callback").await;
    assert!(page.contains("Too many client metadata documents"), "{page}");
}

#[tokio::test]
async fn sign_in_attempts_are_rate_limited_per_address() {
    let app = start(|router, base| {
        router
            .auth_server(AuthServer::builder().issuer(base).sign_in(Users).sign_ins_per_minute(100, 4).build().unwrap())
    })
    .await;
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let reg: Value = http
        .post(format!("{}/register", app.base))
        .json(&json!({ "redirect_uris": ["http://127.0.0.1/callback"] }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let (_, challenge) = pkce();
    let p = good_params(reg["client_id"].as_str().unwrap(), &challenge);
    let r = http.get(format!("{}/authorize", app.base)).query(&p).send().await.unwrap();
    let cookie = r.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_owned();
    let page = r.text().await.unwrap();
    let (tx, csrf) = (hidden(&page, "tx"), hidden(&page, "csrf"));
    // A different username each time: only the address limit (4 a minute) applies.
    let mut statuses = Vec::new();
    for n in 0..5 {
        let user = format!("guess-{n}");
        let form = [("tx", tx.as_str()), ("csrf", csrf.as_str()), ("username", user.as_str()), ("password", "x")];
        let r = http.post(format!("{}/authorize/sign-in", app.base)).header("cookie", &cookie).form(&form).send().await;
        statuses.push(r.unwrap().status().as_u16());
    }
    assert_eq!(statuses, [401, 401, 401, 401, 429]);
}

#[tokio::test]
async fn revoking_the_consent_ends_the_refresh_tokens() {
    let s = server().await;
    let client = s.public_client().await;
    let (verifier, challenge) = pkce();
    let code = s.code(&client, &challenge).await;
    let (status, tokens) = s.exchange(&client, &code, &verifier).await;
    assert_eq!(status, 200, "{tokens}");
    let refresh = tokens["refresh_token"].as_str().unwrap();
    s.auth.store().revoke_consent("user-alice", &client.id).await.unwrap();
    let (status, e) = s.refresh(&client, refresh).await;
    assert_eq!((status, e["error"].as_str()), (400, Some("invalid_grant")), "{e}");
    assert!(e["error_description"].as_str().unwrap().contains("withdrew"), "{e}");
    // The family is dead even if the user consents again later.
    s.auth.store().put_consent("user-alice", &client.id, &["posts:read".into()]).await.unwrap();
    let (status, _) = s.refresh(&client, refresh).await;
    assert_eq!(status, 400, "the refresh token stays revoked");
}
