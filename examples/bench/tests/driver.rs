//! The benchmark's own behaviour: every scenario runs clean against the real servers on
//! 127.0.0.1, and the driver's checks do catch wrong answers.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::routing::post;
use mcp_bench::driver::{self, Load, Workload as _};
use mcp_bench::oauth::{self, CodeExchange, Issuer, LimitTokens, RefreshChain};
use mcp_bench::scenarios::{self, Options, Scenario};
use mcp_bench::servers;
use mcp_bench::workload::{Check, Credential, Era, Rpc};
use serde_json::Value;

fn small(scenarios: Vec<Scenario>) -> Options {
    let mut o = Options::new(true);
    o.scenarios = scenarios;
    o.warmup = Duration::from_millis(50);
    o.duration = Duration::from_secs(60);
    o.requests = Some(40);
    o.concurrency = 4;
    o.sessions = 200;
    o.idle_timeout = Duration::from_millis(300);
    o
}

#[test]
fn every_scenario_runs_clean_and_counts_exactly() {
    let opts = small(Scenario::ALL.to_vec());
    let mut seen = Vec::new();
    let outcomes = scenarios::run(&opts, |o| seen.push(o.scenario)).expect("the benchmark runs");
    assert_eq!(seen, Scenario::ALL);
    for o in &outcomes {
        assert_eq!(
            o.errors(),
            0,
            "{}: {:?}",
            o.scenario.name(),
            o.sides.iter().map(|s| &s.stats.error_samples).collect::<Vec<_>>()
        );
        match o.scenario {
            Scenario::IdleLegacy => {
                // Two waves of 200 sessions, and the eviction check passed (else an error).
                assert_eq!(o.sides[0].stats.ok, 400);
                assert_eq!(o.key.0, "rss_per_session_bytes");
            }
            Scenario::Initialize => {
                assert_eq!(o.sides.len(), 1);
                assert_eq!(o.sides[0].stats.ok, 40);
                assert_eq!(o.sides[0].stats.latencies.len(), 40);
                assert!(o.key.1 > 0.0);
            }
            _ => {
                // ours, the limit, and for echo_modern our dispatcher behind a bare handler.
                let labels: Vec<&str> = o.sides.iter().map(|s| s.label).collect();
                if o.scenario == Scenario::EchoModern {
                    assert_eq!(labels, ["ours", "limit", "core"]);
                } else if o.scenario == Scenario::EchoJwt {
                    assert_eq!(labels, ["jwt", "static"]);
                } else {
                    assert_eq!(labels, ["ours", "limit"]);
                }
                for side in &o.sides {
                    assert_eq!(side.stats.ok, 40, "{} {}", o.scenario.name(), side.label);
                    assert_eq!(side.stats.latencies.len(), 40);
                    assert!(side.stats.latencies.percentile(99.0) >= side.stats.latencies.percentile(50.0));
                }
                assert_eq!(o.key.0, "ratio");
                assert!(o.key.1 > 0.0);
                assert!(o.line().starts_with(&format!("ratio {} ", o.scenario.name())));
            }
        }
    }
}

#[test]
fn profiling_mode_runs_every_side_in_process() {
    let sides: [(Scenario, &[&str]); 9] = [
        (Scenario::EchoModern, &["ours", "limit", "core"]),
        (Scenario::EchoLegacy, &["ours", "limit"]),
        (Scenario::EchoJwt, &["jwt", "static"]),
        (Scenario::TokenCodeExchange, &["ours", "limit"]),
        (Scenario::TokenRefresh, &["ours", "limit"]),
        (Scenario::ToolsList, &["ours", "limit"]),
        (Scenario::ModelList, &["ours", "limit"]),
        (Scenario::ModelGet, &["ours", "limit"]),
        (Scenario::Initialize, &["ours"]),
    ];
    for (scenario, names) in sides {
        for side in names {
            let p =
                scenarios::profile(scenario, side, 25, 3).unwrap_or_else(|e| panic!("{} {side}: {e}", scenario.name()));
            assert_eq!(p.requests, 25);
        }
    }
    let err = scenarios::profile(Scenario::EchoLegacy, "core", 1, 0).unwrap_err();
    assert_eq!(err, "echo_legacy has no side `core`");
    assert!(scenarios::profile(Scenario::IdleLegacy, "ours", 1, 0).is_err());
}

/// Serve `app` on 127.0.0.1 and drive 20 echo calls against it.
fn drive_echo(app: Router) -> driver::RunStats {
    drive_echo_as(app, Credential::None)
}

/// The same, authenticated with `credential`.
fn drive_echo_as(app: Router, credential: Credential) -> driver::RunStats {
    let rt = tokio::runtime::Runtime::new().expect("a runtime");
    rt.block_on(async {
        let running = servers::start(app).await.expect("a server");
        let rpc = Rpc {
            path: "/mcp",
            era: Era::Modern,
            handshake: false,
            method: "tools/call",
            name: Some("echo"),
            params: Box::new(|n| format!(r#""name":"echo","arguments":{{"message":"m{n}"}}"#)),
            check: Check::Result(Box::new(|n, r| {
                if r.pointer("/content/0/text").and_then(Value::as_str) == Some(format!("m{n}").as_str()) {
                    Ok(())
                } else {
                    Err(format!("wrong echo {r}"))
                }
            })),
            credential,
        };
        let load = Load {
            concurrency: 2,
            warmup: Duration::ZERO,
            duration: Duration::from_secs(60),
            max_requests: Some(20),
            record: true,
        };
        driver::run(running.addr, Arc::new(rpc), load).await
    })
}

/// A server that answers every request with its own id and `member` (a `result` or an
/// `error`).
fn answering(member: &'static str) -> Router {
    Router::new().route(
        "/mcp",
        post(move |body: axum::body::Bytes| async move {
            let req: Value = serde_json::from_slice(&body).expect("a JSON-RPC request");
            let body = format!(r#"{{"jsonrpc":"2.0","id":{},{member}}}"#, req["id"]);
            ([(http::header::CONTENT_TYPE, "application/json")], body)
        }),
    )
}

#[test]
fn the_real_echo_passes() {
    let stats = drive_echo(servers::echo_router(Default::default()).expect("a router"));
    assert_eq!((stats.ok, stats.errors), (20, 0), "{:?}", stats.error_samples);
    assert!(stats.rate() > 0.0);
}

#[test]
fn a_wrong_text_is_an_error() {
    let stats = drive_echo(answering(r#""result":{"content":[{"type":"text","text":"wrong"}]}"#));
    assert_eq!((stats.ok, stats.errors), (0, 20));
    assert!(stats.error_samples[0].starts_with("wrong echo"), "{:?}", stats.error_samples);
}

#[test]
fn a_tool_error_is_an_error() {
    let stats = drive_echo(answering(r#""result":{"isError":true,"content":[{"type":"text","text":"m1"}]}"#));
    assert_eq!((stats.ok, stats.errors), (0, 20));
    assert!(stats.error_samples[0].starts_with("the tool failed (isError)"), "{:?}", stats.error_samples);
}

#[test]
fn a_json_rpc_error_is_an_error() {
    let stats = drive_echo(answering(r#""error":{"code":-32601,"message":"nope"}"#));
    assert_eq!((stats.ok, stats.errors), (0, 20));
    assert!(stats.error_samples[0].contains("JSON-RPC error"), "{:?}", stats.error_samples);
}

#[test]
fn a_server_that_is_gone_is_an_error_not_a_hang() {
    let rt = tokio::runtime::Runtime::new().expect("a runtime");
    let addr = rt.block_on(async {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        l.local_addr().expect("an address")
        // `l` is dropped here: nothing listens on the port.
    });
    let stats = rt.block_on(driver::run(
        addr,
        Arc::new(mcp_bench::workload::Handshake { path: "/mcp" }),
        Load {
            concurrency: 3,
            warmup: Duration::ZERO,
            duration: Duration::from_secs(5),
            max_requests: Some(10),
            record: true,
        },
    ));
    assert_eq!(stats.ok, 0);
    assert_eq!(stats.errors, 3);
    assert!(stats.error_samples[0].starts_with("connect to 127.0.0.1:"), "{:?}", stats.error_samples);
}

/// Serve `app` and run 10 operations of `workload`, after `prepare` when it asks for it.
fn drive(app: Router, workload: Arc<dyn driver::Workload>) -> driver::RunStats {
    let rt = tokio::runtime::Runtime::new().expect("a runtime");
    rt.block_on(async {
        let running = servers::start(app).await.expect("a server");
        let mut max = 10;
        if workload.prepares() {
            let c = driver::Client::connect(running.addr).await.expect("a connection");
            max = workload.prepare(vec![c], 10).await.expect("prepared").min(10);
        }
        let load = Load {
            concurrency: 2,
            warmup: Duration::ZERO,
            duration: Duration::from_secs(60),
            max_requests: Some(max),
            record: true,
        };
        driver::run(running.addr, workload, load).await
    })
}

#[test]
fn the_token_flows_pass_and_the_jwt_opens_the_endpoint() {
    for workload in [
        Arc::new(CodeExchange::new(Issuer::Ours)) as Arc<dyn driver::Workload>,
        Arc::new(RefreshChain::new(Issuer::Ours)),
    ] {
        let app = servers::echo_auth_router(oauth::auth_server().expect("an AS")).expect("a router");
        let stats = drive(app, workload);
        assert_eq!((stats.ok, stats.errors), (10, 0), "{:?}", stats.error_samples);
    }
    let app = servers::echo_auth_router(oauth::auth_server().expect("an AS")).expect("a router");
    let stats = drive_echo_as(app, Credential::Issued);
    assert_eq!((stats.ok, stats.errors), (20, 0), "{:?}", stats.error_samples);
}

#[test]
fn a_server_without_the_authorization_server_fails_the_jwt_calls() {
    // No `/authorize` to get a token from: every connection's setup fails.
    let stats = drive_echo_as(servers::echo_router(Default::default()).expect("a router"), Credential::Issued);
    assert_eq!(stats.ok, 0);
    assert!(stats.errors > 0);
    assert!(stats.error_samples[0].starts_with("setup: sign-in: authorization: HTTP 404"), "{:?}", stats.error_samples);
    // A static token the server does not know: 401.
    let app = servers::echo_auth_router(oauth::auth_server().expect("an AS")).expect("a router");
    let stats = drive_echo_as(app, Credential::Static("not-the-token"));
    assert_eq!((stats.ok, stats.errors), (0, 20));
    assert!(stats.error_samples[0].contains("401"), "{:?}", stats.error_samples);
}

/// A token endpoint answering `body` to everything.
fn token_answering(body: &'static str) -> Router {
    Router::new()
        .route("/token", post(move || async move { ([(http::header::CONTENT_TYPE, "application/json")], body) }))
}

#[test]
fn incomplete_or_unrotated_token_answers_are_errors() {
    let limit = Arc::new(LimitTokens::new().expect("a key"));
    let exchange = || Arc::new(CodeExchange::new(Issuer::Limit(limit.clone()))) as Arc<dyn driver::Workload>;
    // The real limit passes.
    let stats = drive(oauth::token_limit_router(limit.clone()), exchange());
    assert_eq!((stats.ok, stats.errors), (10, 0), "{:?}", stats.error_samples);
    // No refresh token; an access token that is no JWT; an error.
    for (body, why) in [
        (r#"{"access_token":"a.b.c","token_type":"Bearer","expires_in":3600,"scope":"echo"}"#, "not a token response"),
        (
            r#"{"access_token":"opaque","token_type":"Bearer","expires_in":3600,"refresh_token":"r","scope":"echo"}"#,
            "an incomplete token response",
        ),
        (r#"{"error":"invalid_grant"}"#, "not a token response"),
    ] {
        let stats = drive(token_answering(body), exchange());
        assert_eq!((stats.ok, stats.errors), (0, 10), "{body}");
        assert!(stats.error_samples[0].contains(why), "{body}: {:?}", stats.error_samples);
    }
    // A refresh that hands back the same refresh token is no rotation.
    let same = r#"{"access_token":"a.b.c","token_type":"Bearer","expires_in":3600,"refresh_token":"r","scope":"echo"}"#;
    let chain = Arc::new(RefreshChain::new(Issuer::Limit(limit.clone())));
    let stats = drive(token_answering(same), chain);
    assert!(stats.errors > 0);
    assert!(stats.error_samples.iter().any(|e| e.contains("not rotated")), "{:?}", stats.error_samples);
}

#[test]
fn a_spent_batch_of_codes_is_an_error_not_a_hang() {
    let limit = Arc::new(LimitTokens::new().expect("a key"));
    let workload = Arc::new(CodeExchange::new(Issuer::Limit(limit.clone())));
    let rt = tokio::runtime::Runtime::new().expect("a runtime");
    let stats = rt.block_on(async {
        let running = servers::start(oauth::token_limit_router(limit)).await.expect("a server");
        let c = driver::Client::connect(running.addr).await.expect("a connection");
        assert_eq!(workload.prepare(vec![c], 3).await, Ok(3));
        let load = Load {
            concurrency: 1,
            warmup: Duration::ZERO,
            duration: Duration::from_millis(500),
            max_requests: Some(5),
            record: false,
        };
        driver::run(running.addr, workload, load).await
    });
    assert_eq!((stats.ok, stats.errors), (3, 2));
    assert!(stats.error_samples[0].starts_with("no authorization code left"), "{:?}", stats.error_samples);
}
