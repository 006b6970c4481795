//! Two blog replicas on one PostgreSQL database (`--features postgres`,
//! `MCP_TEST_POSTGRES_URL`), each with its own pool and its own authorization server,
//! served on two ports of 127.0.0.1 under one public URL, driven over real HTTP: what one
//! replica issued, the other honours, and a spent refresh token is refused at both.
//! Skipped, saying so, without the feature or the variable.

#[cfg(not(feature = "postgres"))]
#[test]
fn replicas_need_postgres() {
    eprintln!("skipped: the replica tests need `--features postgres` and MCP_TEST_POSTGRES_URL");
}

#[cfg(feature = "postgres")]
mod common;

#[cfg(feature = "postgres")]
mod pg {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU64, Ordering};

    use serde_json::json;

    use crate::common::oauth::{self, Pkce};
    use crate::common::{ALICE, TestDatabase};

    /// The refresh grace window of both replicas (the default, 30 s).
    const GRACE: u64 = 30;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn two_replicas_share_the_authorization_server_state() {
        let Some(database) = TestDatabase::create("two_replicas_share_the_authorization_server_state") else {
            return;
        };
        // One clock for both replicas, moved past the grace window below.
        let skew = Arc::new(AtomicU64::new(0));
        let clock = |skew: Arc<AtomicU64>| {
            move || {
                let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
                now + skew.load(Ordering::SeqCst)
            }
        };
        // Replica A's address is the public URL of both (as behind one load balancer).
        let listener_a = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let public = format!("http://{}", listener_a.local_addr().unwrap());
        let (a, _a) = oauth::serve_blog(blog::open_database(&database.url).unwrap(), Some(listener_a), None, {
            let clock = clock(skew.clone());
            move |b| b.clock(clock).refresh_grace(std::time::Duration::from_secs(GRACE))
        })
        .await;
        // B opens the same database: a pool of its own, the tables already there.
        let (b, _b) = oauth::serve_blog(blog::open_database(&database.url).unwrap(), None, Some(&public), {
            let clock = clock(skew.clone());
            move |b| b.clock(clock).refresh_grace(std::time::Duration::from_secs(GRACE))
        })
        .await;
        assert_ne!(a, b);
        let resource = format!("{public}/mcp");
        let http = oauth::http();

        // Registered, signed in and approved at A; the code redeemed at B.
        let (client_id, secret) = oauth::register(&http, &a, "Replicated").await;
        let client = (client_id.as_str(), secret.as_str());
        let pkce = Pkce::new();
        let done = oauth::authorize(&http, &a, &resource, &client_id, &pkce, ("alice", ALICE)).await;
        assert!(done.consent_page.is_some(), "alice approves at A");
        let tokens = oauth::redeem(&http, &b, &resource, client, &done.code, &pkce).await;

        // The code is spent for A too.
        let (status, again) = oauth::token(
            &http,
            &a,
            &[
                ("grant_type", "authorization_code"),
                ("code", &done.code),
                ("redirect_uri", oauth::REDIRECT),
                ("code_verifier", &pkce.verifier),
                ("client_id", &client_id),
                ("client_secret", &secret),
                ("resource", &resource),
            ],
        )
        .await;
        assert_eq!(
            (status, &again["error"]),
            (400, &json!("invalid_grant")),
            "a code redeemed at B is spent at A: {again}"
        );

        // B's access token works at A's MCP endpoint (the signing key is in the database).
        // The replayed code revoked the family of `tokens`: sign in again (the consent is
        // remembered, whichever replica asks).
        let access = tokens["access_token"].as_str().unwrap();
        let (status, body) = oauth::call(&http, &a, access, "posts_count", json!({})).await;
        assert_eq!(status, 200, "B's access token at A: {body}");
        assert!(body["result"]["structuredContent"]["count"].is_number(), "{body}");

        let pkce = Pkce::new();
        let done = oauth::authorize(&http, &b, &resource, &client_id, &pkce, ("alice", ALICE)).await;
        assert!(done.consent_page.is_none(), "the consent given at A is known at B");
        let tokens = oauth::redeem(&http, &a, &resource, client, &done.code, &pkce).await;
        let first = tokens["refresh_token"].as_str().unwrap();

        // Spent at B; within the grace window A answers with the same successor (both
        // derive it with the shared secret).
        let (status, at_b) = oauth::refresh(&http, &b, client, first).await;
        assert_eq!(status, 200, "{at_b}");
        let successor = at_b["refresh_token"].as_str().unwrap();
        let (status, at_a) = oauth::refresh(&http, &a, client, first).await;
        assert_eq!(status, 200, "within the grace window: {at_a}");
        assert_eq!(at_a["refresh_token"].as_str(), Some(successor), "one successor for both replicas");

        // After the grace window A refuses it, and the family is dead at both.
        skew.store(GRACE + 1, Ordering::SeqCst);
        let (status, at_a) = oauth::refresh(&http, &a, client, first).await;
        assert_eq!((status, &at_a["error"]), (400, &json!("invalid_grant")), "reused after the grace window: {at_a}");
        for (name, replica) in [("A", &a), ("B", &b)] {
            let (status, r) = oauth::refresh(&http, replica, client, successor).await;
            assert_eq!((status, &r["error"]), (400, &json!("invalid_grant")), "the successor at {name}: {r}");
        }
    }
}
