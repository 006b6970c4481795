//! The authorization server's Redis store against the real Redis: the `AuthStore`
//! contract, the TTLs it leaves, and two replicas over real HTTP sharing one Redis.
//! Runs when `MCP_TEST_REDIS_URL` is set (`.ci/run` sets it); says so when skipped.

#![cfg(all(feature = "redis", feature = "oauth-server"))]

mod common;

use std::time::Duration;

use common::flow::{Client, REDIRECT, Server, Skew, Users, claims_of, hidden, param, pkce, query_of};
use common::start;
use mcp_axum::auth::server::store::{Code, CodeUse, Digest, Grant, Pending, Refresh};
use mcp_axum::auth::server::{AuthServer, AuthStore, RedisAuthStore};
use redis::AsyncCommands;
use serde_json::{Value, json};

fn redis_url() -> Option<String> {
    let url = std::env::var("MCP_TEST_REDIS_URL").ok();
    if url.is_none() {
        eprintln!(
            "skipped: set MCP_TEST_REDIS_URL (for example redis://127.0.0.1:6379) to test the authorization \
             server's Redis store"
        );
    }
    url
}

/// A prefix no other run uses.
fn fresh_prefix() -> String {
    let mut r = [0u8; 8];
    getrandom::fill(&mut r).unwrap();
    format!("mcp-test:auth:{}:{}:", std::process::id(), r.iter().map(|b| format!("{b:02x}")).collect::<String>())
}

fn unix_now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs()
}

#[tokio::test]
async fn the_redis_store_keeps_the_contract() {
    let Some(url) = redis_url() else { return };
    let prefix = fresh_prefix();
    let store = RedisAuthStore::connect(&url).await.unwrap().prefix(prefix.clone());
    mcp_axum::testing::check_auth_store(&store).await;
    clean(&url, &prefix).await;
}

/// Delete what a test left under `prefix`.
async fn clean(url: &str, prefix: &str) {
    let (_, mut conn) = redis_conn(url).await;
    let keys: Vec<String> = redis::cmd("KEYS").arg(format!("{prefix}*")).query_async(&mut conn).await.unwrap();
    if !keys.is_empty() {
        let _: () = redis::cmd("DEL").arg(&keys).query_async(&mut conn).await.unwrap();
    }
}

#[tokio::test]
async fn a_bad_redis_url_is_a_clear_error() {
    let e = RedisAuthStore::connect("http://127.0.0.1:6379").await.unwrap_err().to_string();
    assert!(e.contains("Redis URL is not usable"), "{e}");
}

#[tokio::test]
async fn a_record_this_version_cannot_read_is_an_error_naming_its_key() {
    let Some(url) = redis_url() else { return };
    let prefix = fresh_prefix();
    let store = RedisAuthStore::connect(&url).await.unwrap().prefix(prefix.clone());
    let (_, mut conn) = redis_conn(&url).await;
    let _: () = conn.set(format!("{prefix}client:x"), "{not json").await.unwrap();
    let e = store.client("x").await.unwrap_err().to_string();
    assert!(e.contains(&format!("`{prefix}client:x`")) && e.contains("delete it"), "{e}");
    let _: () = conn.set(format!("{prefix}secret"), "short").await.unwrap();
    let e = store.secret(&[7; 32]).await.unwrap_err().to_string();
    assert!(e.contains("32 bytes"), "{e}");
    clean(&url, &prefix).await;
}

fn pending_record(expires_at: u64) -> Pending {
    Pending {
        client_id: "c".into(),
        redirect_uri: REDIRECT.into(),
        state: "s".into(),
        code_challenge: "x".into(),
        scopes: vec![],
        resource: "https://app.example/mcp".into(),
        browser: Digest::of("b"),
        csrf: Digest::of("c"),
        principal: None,
        expires_at,
    }
}

#[tokio::test]
async fn sign_ins_in_progress_are_capped_across_replicas() {
    let Some(url) = redis_url() else { return };
    let prefix = fresh_prefix();
    let a = RedisAuthStore::connect(&url).await.unwrap().prefix(prefix.clone()).max_pending(3);
    let b = RedisAuthStore::connect(&url).await.unwrap().prefix(prefix.clone()).max_pending(3);
    let p = pending_record(unix_now() + 600);
    // Entries whose time has passed (a replica died before removing them) do not count.
    let (_, mut conn) = redis_conn(&url).await;
    let index = format!("{prefix}pending-index");
    let _: () = redis::cmd("ZADD")
        .arg(&index)
        .arg(1)
        .arg("x")
        .arg(2)
        .arg("y")
        .arg(3)
        .arg("z")
        .query_async(&mut conn)
        .await
        .unwrap();
    a.put_pending(&Digest::of("1"), &p).await.unwrap();
    b.put_pending(&Digest::of("2"), &p).await.unwrap();
    a.put_pending(&Digest::of("3"), &p).await.unwrap();
    let e = b.put_pending(&Digest::of("4"), &p).await.unwrap_err().to_string();
    assert!(e.contains("3 sign-ins are in progress; try again later"), "{e}");
    // One already in progress is updated (after sign-in) at the cap...
    a.put_pending(&Digest::of("2"), &p).await.unwrap();
    // ...and one finished makes room.
    a.remove_pending(&Digest::of("1")).await.unwrap();
    b.put_pending(&Digest::of("4"), &p).await.unwrap();
    assert!(b.pending(&Digest::of("4"), unix_now()).await.unwrap().is_some());
    clean(&url, &prefix).await;
}

fn grant(family: &str) -> Grant {
    Grant {
        client_id: "c".into(),
        subject: "u".into(),
        claims: serde_json::Map::new(),
        scopes: vec![],
        resource: "https://app.example/mcp".into(),
        family: family.into(),
    }
}

/// The remaining TTL of `key`, in seconds (-1: none, -2: no such key).
async fn ttl(conn: &mut redis::aio::ConnectionManager, key: &str) -> i64 {
    let ms: i64 = conn.pttl(key).await.unwrap();
    if ms < 0 { ms } else { ms / 1000 }
}

#[tokio::test]
async fn every_record_that_expires_has_a_ttl_in_redis() {
    let Some(url) = redis_url() else { return };
    let prefix = fresh_prefix();
    let store = RedisAuthStore::connect(&url).await.unwrap().prefix(prefix.clone());
    // Every kind of record, through the contract (with its clock far ahead).
    mcp_axum::testing::check_auth_store(&store).await;

    // And records with today's times, whose TTLs can be checked.
    let now = unix_now();
    let pending = pending_record(now + 600);
    store.put_pending(&Digest::of("p"), &pending).await.unwrap();
    let code = Code {
        grant: grant("code-family"),
        redirect_uri: REDIRECT.into(),
        code_challenge: "x".into(),
        expires_at: now + 60,
    };
    store.put_code(&Digest::of("code"), &code).await.unwrap();
    assert!(matches!(store.take_code(&Digest::of("code"), now).await.unwrap(), CodeUse::Fresh(_)));
    let short = Refresh { grant: grant("fam"), expires_at: now + 1000, used_at: None };
    let long = Refresh { grant: grant("fam"), expires_at: now + 200_000, used_at: None };
    store.put_refresh(&Digest::of("short"), &short).await.unwrap();
    store.put_refresh(&Digest::of("long"), &long).await.unwrap();

    let (_, mut conn) = redis_conn(&url).await;
    let key = |kind: &str, id: &str| format!("{prefix}{kind}:{id}");
    let near = |got: i64, want: u64| got <= want as i64 && got >= want as i64 - 5;
    let t = ttl(&mut conn, &key("pending", &Digest::of("p").0)).await;
    assert!(near(t, 600 + 60), "a pending authorization lives until its expiry + 60 s, its TTL is {t}");
    let t = ttl(&mut conn, &key("code", &Digest::of("code").0)).await;
    assert!(near(t, 60 + 600), "a spent code is kept until its expiry + 10 min (replays), its TTL is {t}");
    let t = ttl(&mut conn, &key("refresh", &Digest::of("short").0)).await;
    assert!(near(t, 1000 + 60), "a refresh token lives until its expiry + 60 s, its TTL is {t}");
    let t = ttl(&mut conn, &key("family", "fam")).await;
    assert!(near(t, 200_000 + 60), "a family's set lives as long as its longest token, its TTL is {t}");
    store.revoke_family("fam").await.unwrap();
    let t = ttl(&mut conn, &key("revoked", "fam")).await;
    assert!(t >= 200_000, "a revoked family's marker outlives its longest token, its TTL is {t}");
    assert_eq!(ttl(&mut conn, &key("refresh", &Digest::of("long").0)).await, -2, "revoking deletes the tokens");
    let t = ttl(&mut conn, &key("revoked", "never-issued")).await;
    assert_eq!(t, -2);
    store.revoke_family("never-issued").await.unwrap();
    let t = ttl(&mut conn, &key("revoked", "never-issued")).await;
    assert!(near(t, 24 * 3600), "a family revoked before its first token is remembered a day, its TTL is {t}");

    // Nothing of ours is left without a TTL but clients, consents, keys and the secret.
    let keys: Vec<String> = redis::cmd("KEYS").arg(format!("{prefix}*")).query_async(&mut conn).await.unwrap();
    let mut kinds = std::collections::BTreeSet::new();
    for k in &keys {
        let kind = k[prefix.len()..].split(':').next().unwrap().to_owned();
        if ttl(&mut conn, k).await == -1 {
            assert!(["client", "consent", "keys", "secret"].contains(&kind.as_str()), "`{k}` has no TTL");
        }
        kinds.insert(kind);
    }
    let expected = ["client", "code", "family", "keys", "pending", "pending-index", "refresh", "revoked", "secret"];
    assert_eq!(kinds.iter().map(String::as_str).collect::<Vec<_>>(), expected, "every kind of key was checked");
    clean(&url, &prefix).await;
}

async fn redis_conn(url: &str) -> (redis::Client, redis::aio::ConnectionManager) {
    let client = redis::Client::open(url).unwrap();
    let conn = redis::aio::ConnectionManager::new(client.clone()).await.unwrap();
    (client, conn)
}

/// A replica: its own app on its own port with its own `RedisAuthStore` (on the shared
/// prefix), all replicas answering for one public origin (`issuer`, else their own).
async fn replica(url: &str, prefix: &str, issuer: Option<&str>, skew: &Skew) -> Server {
    let store = RedisAuthStore::connect(url).await.unwrap().prefix(prefix);
    let mut auth = None;
    let s = skew.clone();
    let app = start(|router, base| {
        let a = AuthServer::builder()
            .issuer(issuer.unwrap_or(base))
            .name("Test blog")
            .sign_in(Users)
            .scopes([("posts:read", "Read your posts"), ("posts:write", "Write posts")])
            .refresh_grace(Duration::from_secs(5))
            .store(store)
            .clock(move || s.now())
            .build()
            .unwrap();
        auth = Some(a.clone());
        router.auth_server(a)
    })
    .await;
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    Server { app, http, skew: skew.clone(), auth: auth.unwrap() }
}

async fn whoami(s: &Server, token: &str) -> (u16, Value) {
    let a = s.app.call(Some(token), "whoami", json!({})).await;
    (a.status, a.body["result"]["structuredContent"]["subject"].clone())
}

#[tokio::test]
async fn two_replicas_on_one_redis_share_codes_tokens_keys_and_revocations() {
    let Some(url) = redis_url() else { return };
    let prefix = fresh_prefix();
    let skew = Skew::default();
    let a = replica(&url, &prefix, None, &skew).await;
    let b = replica(&url, &prefix, Some(&a.app.base), &skew).await;

    // Registered at A, signed in and consented at A, redeemed at B.
    let client: Client = a.public_client().await;
    let (verifier, challenge) = pkce();
    let code = a.code(&client, &challenge).await;
    let (status, tokens) = b.exchange(&client, &code, &verifier).await;
    assert_eq!(status, 200, "B redeems the code A issued (and knows the client A registered): {tokens}");
    let access = tokens["access_token"].as_str().unwrap();
    let first_refresh = tokens["refresh_token"].as_str().unwrap().to_owned();

    // B signed it; A accepts it, with the key both read from the store.
    assert_eq!(whoami(&a, access).await, (200, json!("user-alice")), "A accepts the token B signed");
    assert_eq!(whoami(&b, access).await, (200, json!("user-alice")));
    let kid = {
        use base64::Engine as _;
        let header = access.split('.').next().unwrap();
        let h: Value =
            serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(header).unwrap()).unwrap();
        h["kid"].clone()
    };
    let published = a.app.get("/jwks.json").await.body["keys"].clone();
    assert!(published.as_array().unwrap().iter().any(|k| k["kid"] == kid), "A publishes B's key: {published}");

    // The code again, at A: refused, and what B issued for it is revoked, at B too.
    let (status, e) = a.exchange(&client, &code, &verifier).await;
    assert_eq!((status, e["error"].as_str()), (400, Some("invalid_grant")), "{e}");
    assert!(e.get("access_token").is_none());
    let (status, e) = b.refresh(&client, &first_refresh).await;
    assert_eq!((status, e["error"].as_str()), (400, Some("invalid_grant")), "the replay at A revoked B's grant: {e}");

    // A new authorization, started at A and signed in at B (the sign-in in progress is in
    // the store); the consent given at A is remembered at B: straight back with a code.
    let (verifier, challenge) = pkce();
    let resource = format!("{}/mcp", a.app.base);
    let params = [
        ("response_type", "code"),
        ("client_id", client.id.as_str()),
        ("redirect_uri", REDIRECT),
        ("state", "st-2"),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
        ("scope", "posts:read posts:write"),
        ("resource", resource.as_str()),
    ];
    let r = a.get_authorize(&params, None).await;
    assert_eq!(r.status(), 200);
    let cookie = r.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_owned();
    let page = r.text().await.unwrap();
    let (tx, csrf) = (hidden(&page, "tx"), hidden(&page, "csrf"));
    let form = [("tx", tx.as_str()), ("csrf", csrf.as_str()), ("username", "alice"), ("password", "wonderland")];
    let r = b.post_form("/authorize/sign-in", &form, Some(&cookie)).await;
    assert_eq!(r.status(), 303, "B continues the sign-in A started");
    let next = r.headers()["location"].to_str().unwrap().to_owned();
    let r = b.http.get(b.url(&next)).header("cookie", &cookie).send().await.unwrap();
    assert_eq!(r.status(), 303, "B remembers the consent given at A");
    let location = r.headers()["location"].to_str().unwrap().to_owned();
    let q = query_of(&location);
    assert_eq!(param(&q, "state"), Some("st-2"), "{location}");
    let code = param(&q, "code").unwrap_or_else(|| panic!("no code in {location}")).to_owned();

    // Redeemed at A this time; refreshed at B.
    let (status, tokens) = a.exchange(&client, &code, &verifier).await;
    assert_eq!(status, 200, "{tokens}");
    let r1 = tokens["refresh_token"].as_str().unwrap().to_owned();
    let (status, rotated) = b.refresh(&client, &r1).await;
    assert_eq!(status, 200, "B rotates the refresh token A issued: {rotated}");
    let r2 = rotated["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(r1, r2);
    assert_eq!(whoami(&a, rotated["access_token"].as_str().unwrap()).await.0, 200);
    assert_eq!(claims_of(rotated["access_token"].as_str().unwrap())["sub"], "user-alice");

    // Within the grace window A answers the spent token with B's successor (parallel
    // refreshes landing on different replicas agree).
    let (status, again) = a.refresh(&client, &r1).await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["refresh_token"].as_str(), Some(r2.as_str()), "A derives the same successor as B");

    // After the window, the spent token at A is refused, and the family is dead at both.
    skew.advance(6);
    let (status, e) = a.refresh(&client, &r1).await;
    assert_eq!((status, e["error"].as_str()), (400, Some("invalid_grant")), "{e}");
    assert!(e.get("access_token").is_none());
    for (name, replica) in [("B", &b), ("A", &a)] {
        let (status, e) = replica.refresh(&client, &r2).await;
        assert_eq!((status, e["error"].as_str()), (400, Some("invalid_grant")), "the successor is dead at {name}: {e}");
    }

    clean(&url, &prefix).await;
}

fn kid_of(jwt: &str) -> Value {
    use base64::Engine as _;
    let header = jwt.split('.').next().unwrap();
    serde_json::from_slice::<Value>(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(header).unwrap()).unwrap()
        ["kid"]
        .clone()
}

#[tokio::test]
async fn a_key_rotated_at_one_replica_signs_at_the_others_within_a_minute() {
    let Some(url) = redis_url() else { return };
    let prefix = fresh_prefix();
    let skew = Skew::default();
    let a = replica(&url, &prefix, None, &skew).await;
    let b = replica(&url, &prefix, Some(&a.app.base), &skew).await;
    let client = a.public_client().await;
    let (verifier, challenge) = pkce();
    let code = a.code(&client, &challenge).await;
    let (_, tokens) = b.exchange(&client, &code, &verifier).await;
    let old = tokens["access_token"].as_str().unwrap().to_owned();

    a.auth.rotate_keys().await.unwrap();
    // A publishes the new key and signs with it 20 s later.
    skew.advance(21);
    let (_, at_a) = a.refresh(&client, tokens["refresh_token"].as_str().unwrap()).await;
    let new_kid = kid_of(at_a["access_token"].as_str().unwrap());
    assert_ne!(new_kid, kid_of(&old), "A signs with its new key");
    // B, which signed a moment ago, rereads the keys within a minute and signs with the new
    // one; both accept the other's tokens.
    skew.advance(61);
    let (status, at_b) = b.refresh(&client, at_a["refresh_token"].as_str().unwrap()).await;
    assert_eq!(status, 200, "{at_b}");
    assert_eq!(kid_of(at_b["access_token"].as_str().unwrap()), new_kid, "B signs with the key A rotated in");
    assert_eq!(whoami(&a, at_b["access_token"].as_str().unwrap()).await.0, 200);
    assert_eq!(whoami(&b, at_a["access_token"].as_str().unwrap()).await.0, 200);
    // The old key's tokens keep working until they expire, at both.
    assert_eq!(whoami(&a, &old).await.0, 200);
    assert_eq!(whoami(&b, &old).await.0, 200);
    clean(&url, &prefix).await;
}
