//! # mcp-bench
//!
//! The benchmark tool of the framework: the speed and memory of every hot path, measured
//! in one run against the physical limit — a bare axum handler doing the same work
//! without the framework, on the same machine, in the same process, under the same load.
//!
//! ```text
//! cargo run --release -p mcp-bench              # full mode, about 2.5 minutes
//! cargo run --release -p mcp-bench -- --quick   # under a minute (CI runs this, debug build)
//! cargo run --release -p mcp-bench -- --scenario echo_modern,model_get --concurrency 32
//! cargo bench -p mcp-bench                      # criterion micro-benchmarks
//! ```
//!
//! Every server under test starts in-process on 127.0.0.1 (ours through
//! [`mcp_axum::McpRouter`] and [`mcp_axum::serve`], the limits as plain axum routes behind
//! the same `serve`), and the load driver ([`driver`]) keeps `--concurrency` requests in
//! flight over keep-alive HTTP/1.1 connections, one per worker, for `--duration` seconds
//! (or `--requests` requests) after a warm-up. Every answer is checked: HTTP 200, no
//! JSON-RPC error, no `isError`, the expected content (the echoed text, 20 sorted rows
//! matching the filter, the requested row; a token response with a JWT access token and
//! a new refresh token). Before measuring, ours and the limit are sent
//! the same request and must answer the same result, so the limit really does the same
//! work. After a warm-up, the sides take turns in `--rounds` slices, so that a change of
//! the machine's background load hits them alike; `echo_modern` has a third side, `core`
//! (our dispatcher, [`mcp_core::Server::handle_bytes`], behind a bare axum handler), which
//! separates the cost of `mcp-core` from that of `mcp-axum`.
//!
//! | scenario | ours | limit (same run) |
//! |---|---|---|
//! | `echo_modern` | `tools/call` of `echo`, stateless 2026-07-28 (headers and `_meta`) | a bare handler parsing the same body, answering the same JSON |
//! | `echo_legacy` | the same in a 2025-11-25 session (`Mcp-Session-Id`) | the same bare handler |
//! | `echo_jwt` | `echo` (2026-07-28) with an access token of our authorization server, checked in-process (side `jwt`) | the same call with a static bearer token on the same server (side `static`) |
//! | `tools_list_200` | `tools/list`, 200 tools on one precomputed page | a handler answering the same page bytes |
//! | `model_list` | `posts_list`: 20 rows, filter + order, 10,000-row SQLite table | the hand-written Diesel query, same pool and executor |
//! | `model_get` | `posts_get` by id | the hand-written Diesel query |
//! | `initialize_legacy` | `initialize` + `notifications/initialized`, a new session each | - |
//! | `idle_legacy` | RSS per idle session; RSS after eviction; a second wave | - |
//! | `token_code_exchange` | `POST /token`, `authorization_code` grant, at our authorization server | a bare handler: spend the code, verify PKCE S256, sign the same ES256 JWT (jsonwebtoken, p256), keep a refresh record |
//! | `token_refresh` | `POST /token`, `refresh_token` grant with rotation, a chain per connection | the same bare handler |
//!
//! The token scenarios get their codes as a client does, over HTTP and without a browser
//! or a back door ([`oauth`]): the bench app signs its user in from its own session
//! cookie, the first authorization approves the consent form, and every later `GET
//! /authorize` answers with a code. Codes are single-use and live 60 s, so a batch is
//! minted before each slice of the measurement ([`driver::Workload::prepare`], not
//! measured) and the slice stops when the batch is used up.
//!
//! Per scenario it prints requests/s, p50/p99 latency, errors, RSS before and after, the
//! process's CPU time per request (driver included; hardly affected by other processes)
//! and ours/limit; the last lines are machine-readable, one per scenario:
//!
//! ```text
//! rss_per_session_bytes idle_legacy 1806
//! ratio echo_modern 0.93
//! ratio echo_legacy 0.81
//! ratio echo_jwt 0.96
//! ratio tools_list_200 0.97
//! ratio model_list 0.95
//! ratio model_get 0.90
//! handshakes_per_s initialize_legacy 2388
//! ratio token_code_exchange 0.90
//! ratio token_refresh 0.94
//! ```
//!
//! The process exits with 1 when any answer failed its check (a wrong answer is a bug,
//! whatever the speed), 2 on bad arguments. No speed threshold is asserted anywhere:
//! numbers of a debug build or of a busy machine are not comparable.
//!
//! The modules are public so that the tool's own tests (and anyone measuring something
//! else) can reuse the driver:
//!
//! ```
//! use mcp_bench::scenarios::{Options, Scenario};
//!
//! let mut opts = Options::new(true);
//! opts.scenarios = vec![Scenario::EchoModern];
//! opts.warmup = std::time::Duration::ZERO;
//! opts.requests = Some(50);
//! let outcomes = mcp_bench::scenarios::run(&opts, |_| {}).unwrap();
//! assert_eq!(outcomes[0].errors(), 0);
//! assert_eq!(outcomes[0].sides[0].stats.ok, 50);
//! assert!(outcomes[0].line().starts_with("ratio echo_modern "));
//! ```

pub mod driver;
pub mod oauth;
pub mod scenarios;
pub mod servers;
pub mod stats;
pub mod workload;
