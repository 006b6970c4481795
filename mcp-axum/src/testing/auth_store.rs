//! The contract every [`AuthStore`] keeps, as one check any implementation can run.

use futures_util::future::join_all;
use serde_json::{Value, json};

use crate::auth::server::store::{
    AuthStore, Client, ClientAuth, Code, CodeUse, Digest, Grant, Pending, Refresh, RefreshUse, SigningKey,
};

/// Check that `store` keeps the [`AuthStore`] contract: every record comes back as it was
/// put, codes are spent once even when presented concurrently, refresh tokens rotate, get
/// their grace and revoke their family on reuse, consents and keys behave, and the
/// successor secret is set once. Panics with the broken rule.
///
/// Run it on an **empty** store (a fresh database, a fresh Redis key prefix): it adds
/// signing keys and retires the others, and it sets the store's secret.
///
/// ```no_run
/// # async fn check() {
/// let store = mcp_axum::auth::server::MemoryAuthStore::new();
/// mcp_axum::testing::check_auth_store(&store).await;
/// # }
/// ```
pub async fn check_auth_store(store: &dyn AuthStore) {
    let run = hex_of(&random::<16>());
    clients(store, &run).await;
    pending(store, &run).await;
    codes(store, &run).await;
    refresh_tokens(store, &run).await;
    consents(store, &run).await;
    keys(store, &run).await;
    secret(store).await;
}

fn random<const N: usize>() -> [u8; N] {
    let mut b = [0u8; N];
    getrandom::fill(&mut b).expect("the OS random source");
    b
}

fn hex_of(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A fixed clock far from the real one, so stores that read their own would be caught.
const NOW: u64 = 2_000_000_000;

fn as_json<T: serde::Serialize>(v: &T) -> Value {
    serde_json::to_value(v).expect("store records serialize")
}

fn grant(run: &str, family: &str) -> Grant {
    let mut claims = serde_json::Map::new();
    claims.insert("name".into(), json!("Ålice \"quoted\" <b>"));
    claims.insert("groups".into(), json!(["a", "b"]));
    claims.insert("nested".into(), json!({ "n": 1.5, "ok": true, "none": null }));
    Grant {
        client_id: format!("client-{run}"),
        subject: format!("user-{run}"),
        claims,
        scopes: vec!["posts:read".into(), "posts:write".into()],
        resource: "https://app.example/mcp".into(),
        family: format!("{family}-{run}"),
    }
}

async fn clients(store: &dyn AuthStore, run: &str) {
    let id = format!("client-{run}");
    assert!(store.client(&id).await.unwrap().is_none(), "an unknown client must be None");
    let mut client = Client {
        client_id: id.clone(),
        secret: Some(Digest::of("s3cret")),
        auth: ClientAuth::ClientSecretPost,
        redirect_uris: vec!["https://app.example/cb".into(), "http://127.0.0.1/cb".into()],
        client_name: Some("Ünïcode client ✓".into()),
        created_at: NOW,
    };
    store.put_client(&client).await.unwrap();
    let back = store.client(&id).await.unwrap().expect("a client that was put comes back");
    assert_eq!(as_json(&back), as_json(&client), "a client comes back exactly as it was put");
    client.redirect_uris = vec!["https://other.example/cb".into()];
    client.secret = None;
    client.auth = ClientAuth::None;
    client.client_name = None;
    store.put_client(&client).await.unwrap();
    let back = store.client(&id).await.unwrap().unwrap();
    assert_eq!(as_json(&back), as_json(&client), "put_client replaces an existing client");
}

async fn pending(store: &dyn AuthStore, run: &str) {
    let id = Digest::of(&format!("pending-{run}"));
    let mut principal = mcp_core::Principal::new(format!("user-{run}"));
    principal.scopes = vec!["posts:read".into()];
    principal.claims.insert("email".into(), json!("a@example.com"));
    let p = Pending {
        client_id: format!("client-{run}"),
        redirect_uri: "http://127.0.0.1:4567/cb?x=1".into(),
        state: "st ate/+=".into(),
        code_challenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM".into(),
        scopes: vec!["posts:read".into()],
        resource: "https://app.example/mcp".into(),
        browser: Digest::of("browser"),
        csrf: Digest::of("csrf"),
        principal: Some(principal),
        expires_at: NOW + 600,
    };
    assert!(store.pending(&id, NOW).await.unwrap().is_none(), "an unknown pending authorization must be None");
    store.put_pending(&id, &p).await.unwrap();
    let back = store.pending(&id, NOW).await.unwrap().expect("a pending authorization comes back");
    assert_eq!(as_json(&back), as_json(&p), "a pending authorization comes back exactly as it was put");
    assert!(store.pending(&id, NOW + 600).await.unwrap().is_none(), "a pending authorization is gone at its expiry");
    store.remove_pending(&id).await.unwrap();
    assert!(store.pending(&id, NOW).await.unwrap().is_none(), "remove_pending forgets it");
}

fn code(run: &str, family: &str) -> Code {
    Code {
        grant: grant(run, family),
        redirect_uri: "http://localhost/callback".into(),
        code_challenge: "challenge".into(),
        expires_at: NOW + 60,
    }
}

async fn codes(store: &dyn AuthStore, run: &str) {
    let d = Digest::of(&format!("code-{run}"));
    assert!(matches!(store.take_code(&d, NOW).await.unwrap(), CodeUse::Unknown), "an unknown code is Unknown");
    let c = code(run, "code-family");
    store.put_code(&d, &c).await.unwrap();
    match store.take_code(&d, NOW).await.unwrap() {
        CodeUse::Fresh(back) => assert_eq!(as_json(&back), as_json(&c), "a code comes back exactly as it was put"),
        other => panic!("the first use of a code must be Fresh, got {other:?}"),
    }
    match store.take_code(&d, NOW + 1).await.unwrap() {
        CodeUse::Replayed(back) => assert_eq!(back.grant.family, c.grant.family, "a replay names the code's family"),
        other => panic!("a second use of a code must be Replayed, got {other:?}"),
    }

    // Presented many times at once: exactly one wins.
    let d = Digest::of(&format!("raced-code-{run}"));
    store.put_code(&d, &code(run, "raced-family")).await.unwrap();
    let uses = join_all((0..8).map(|_| store.take_code(&d, NOW))).await;
    let fresh = uses.iter().filter(|u| matches!(u, Ok(CodeUse::Fresh(_)))).count();
    let replayed = uses.iter().filter(|u| matches!(u, Ok(CodeUse::Replayed(_)))).count();
    assert_eq!((fresh, replayed), (1, 7), "8 concurrent uses of one code: exactly one Fresh, the rest Replayed");
}

fn refresh(run: &str, family: &str) -> Refresh {
    Refresh { grant: grant(run, family), expires_at: NOW + 3600, used_at: None }
}

async fn refresh_tokens(store: &dyn AuthStore, run: &str) {
    let grace = 30;
    let first = Digest::of(&format!("refresh-1-{run}"));
    let second = Digest::of(&format!("refresh-2-{run}"));
    let r = refresh(run, "family");
    assert!(matches!(store.use_refresh(&first, NOW, grace).await.unwrap(), RefreshUse::Unknown));
    store.put_refresh(&first, &r).await.unwrap();
    store.put_refresh(&second, &r).await.unwrap();

    let peek = store.refresh(&first, NOW).await.unwrap().expect("refresh() finds a live token");
    assert_eq!(as_json(&peek.grant), as_json(&r.grant), "a refresh token's grant comes back exactly");
    assert!(peek.used_at.is_none(), "refresh() does not spend the token");
    assert!(store.refresh(&first, NOW + 3600).await.unwrap().is_none(), "refresh() does not find an expired token");

    match store.use_refresh(&first, NOW, grace).await.unwrap() {
        RefreshUse::Rotated(back) => assert_eq!(back.grant.family, r.grant.family),
        other => panic!("the first use of a refresh token must be Rotated, got {other:?}"),
    }
    assert!(
        matches!(store.use_refresh(&first, NOW + grace, grace).await.unwrap(), RefreshUse::Grace(_)),
        "a reuse within the grace window (inclusive) is Grace"
    );
    assert!(
        matches!(store.use_refresh(&first, NOW + grace + 1, grace).await.unwrap(), RefreshUse::Reused(_)),
        "a reuse after the grace window is Reused"
    );
    assert!(
        matches!(store.use_refresh(&second, NOW + grace + 2, grace).await.unwrap(), RefreshUse::Unknown),
        "after a reuse every token of the family is dead"
    );
    assert!(store.refresh(&second, NOW).await.unwrap().is_none(), "refresh() finds nothing of a revoked family");
    let late = Digest::of(&format!("refresh-3-{run}"));
    store.put_refresh(&late, &r).await.unwrap();
    assert!(
        matches!(store.use_refresh(&late, NOW + grace + 3, grace).await.unwrap(), RefreshUse::Unknown),
        "a successor stored after its family was revoked is dead too"
    );

    // An expired token is Unknown and is not spent.
    let expired = Digest::of(&format!("refresh-expired-{run}"));
    store.put_refresh(&expired, &refresh(run, "expired-family")).await.unwrap();
    assert!(matches!(store.use_refresh(&expired, NOW + 3600, grace).await.unwrap(), RefreshUse::Unknown));

    // revoke_family.
    let revoked = Digest::of(&format!("refresh-revoked-{run}"));
    store.put_refresh(&revoked, &refresh(run, "revoked-family")).await.unwrap();
    store.revoke_family(&format!("revoked-family-{run}")).await.unwrap();
    assert!(matches!(store.use_refresh(&revoked, NOW, grace).await.unwrap(), RefreshUse::Unknown));
    assert!(store.refresh(&revoked, NOW).await.unwrap().is_none());

    // Presented many times at once: one rotation, the rest in grace, none revokes the family.
    let raced = Digest::of(&format!("refresh-raced-{run}"));
    store.put_refresh(&raced, &refresh(run, "raced-family")).await.unwrap();
    let uses = join_all((0..8).map(|_| store.use_refresh(&raced, NOW, grace))).await;
    let rotated = uses.iter().filter(|u| matches!(u, Ok(RefreshUse::Rotated(_)))).count();
    let in_grace = uses.iter().filter(|u| matches!(u, Ok(RefreshUse::Grace(_)))).count();
    assert_eq!((rotated, in_grace), (1, 7), "8 concurrent uses of one refresh token: one Rotated, seven Grace");
}

async fn consents(store: &dyn AuthStore, run: &str) {
    let (user, client) = (format!("user-{run}"), format!("client-{run}"));
    assert!(store.consent(&user, &client).await.unwrap().is_none(), "no consent before one is given");
    store.put_consent(&user, &client, &["posts:read".into()]).await.unwrap();
    store.put_consent(&user, &client, &["posts:read".into(), "posts:write".into()]).await.unwrap();
    assert_eq!(
        store.consent(&user, &client).await.unwrap(),
        Some(vec!["posts:read".to_owned(), "posts:write".to_owned()]),
        "put_consent replaces the scopes"
    );
    assert!(store.consent(&user, &format!("other-{run}")).await.unwrap().is_none(), "consent is per client");
    store.revoke_consent(&user, &client).await.unwrap();
    assert!(store.consent(&user, &client).await.unwrap().is_none(), "a revoked consent is gone");
}

async fn keys(store: &dyn AuthStore, run: &str) {
    let key = |n: u64| SigningKey {
        kid: format!("kid-{n}-{run}"),
        pkcs8: (0..=255u8).chain([0, 0, 1]).collect(),
        created_at: NOW + n,
        retired_at: None,
    };
    store.add_signing_key(&key(1), false).await.unwrap();
    store.add_signing_key(&key(2), false).await.unwrap();
    store.add_signing_key(&key(3), true).await.unwrap();
    let all = store.signing_keys().await.unwrap();
    let find = |n: u64| {
        all.iter().find(|k| k.kid == key(n).kid).unwrap_or_else(|| panic!("signing key {n} was not kept")).clone()
    };
    assert_eq!(find(1).pkcs8, key(1).pkcs8, "a key's bytes come back exactly");
    assert_eq!(find(1).retired_at, Some(NOW + 3), "retire_others retires older keys at the new key's creation");
    assert_eq!(find(2).retired_at, Some(NOW + 3));
    assert_eq!((find(3).created_at, find(3).retired_at), (NOW + 3, None), "the new key stays active");
    assert!(all.iter().filter(|k| k.retired_at.is_none()).count() == 1, "exactly one key is active");
}

async fn secret(store: &dyn AuthStore) {
    let first = random::<32>();
    let kept = store.secret(&first).await.unwrap();
    let again = store.secret(&random::<32>()).await.unwrap();
    assert_eq!(kept, again, "the successor secret is set once: later candidates get the stored one");
    let raced = join_all((0..4).map(|_| async { store.secret(&random::<32>()).await.unwrap() })).await;
    assert!(raced.iter().all(|s| *s == kept), "concurrent candidates all get the stored secret");
}

#[cfg(test)]
mod tests {
    #[tokio::test]
    async fn the_memory_store_keeps_the_contract() {
        super::check_auth_store(&crate::auth::server::MemoryAuthStore::new()).await;
    }
}
