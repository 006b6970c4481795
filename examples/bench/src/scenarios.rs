//! The scenarios, how they are run, and the report.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use bytes::Bytes;
use http::{Method, StatusCode};
use mcp_axum::SessionLimits;
use serde_json::Value;
use serde_json::value::RawValue;
use tokio::runtime::Runtime;

use crate::driver::{self, Client, Load, RunStats, Workload};
use crate::oauth::{self, CodeExchange, Issuer, LimitTokens, RefreshChain};
use crate::servers::{self, LimitState};
use crate::stats::rss_bytes;
use crate::workload::{Check, Credential, Era, Handshake, Rpc, handshake};
use mcp_diesel::SqlitePool;

/// One scenario of the benchmark.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scenario {
    /// `tools/call` of `echo`, stateless 2026-07-28, against a bare axum handler.
    EchoModern,
    /// `tools/call` of `echo` in a 2025-11-25 session, against the same bare handler.
    EchoLegacy,
    /// `tools/call` of `echo`, stateless, with an access token of our authorization server
    /// (validated in-process) against the same call with a static bearer token.
    EchoJwt,
    /// `tools/list` of 200 tools on one page, against a handler answering the same bytes.
    ToolsList,
    /// `posts_list` (20 rows, filter + order, 10,000-row SQLite table) against the
    /// hand-written Diesel query on the same pool and executor.
    ModelList,
    /// `posts_get` by id against the hand-written Diesel query.
    ModelGet,
    /// Legacy handshakes (`initialize` + `notifications/initialized`), a new session
    /// each time.
    Initialize,
    /// Resident memory per idle legacy session, and what returns after eviction.
    IdleLegacy,
    /// The `authorization_code` grant at our token endpoint against a bare handler
    /// verifying PKCE, signing the same ES256 JWT and keeping a refresh record.
    TokenCodeExchange,
    /// The `refresh_token` grant with rotation (a chain per connection) against the same
    /// bare handler.
    TokenRefresh,
}

impl Scenario {
    /// Every scenario, in the order they run: `idle_legacy` first, on a heap that no
    /// other scenario has grown (memory they freed would be reused by its sessions and
    /// hide their cost).
    pub const ALL: [Scenario; 10] = [
        Scenario::IdleLegacy,
        Scenario::EchoModern,
        Scenario::EchoLegacy,
        Scenario::EchoJwt,
        Scenario::ToolsList,
        Scenario::ModelList,
        Scenario::ModelGet,
        Scenario::Initialize,
        Scenario::TokenCodeExchange,
        Scenario::TokenRefresh,
    ];

    /// The name used on the command line and in the report.
    pub fn name(self) -> &'static str {
        match self {
            Scenario::EchoModern => "echo_modern",
            Scenario::EchoLegacy => "echo_legacy",
            Scenario::EchoJwt => "echo_jwt",
            Scenario::TokenCodeExchange => "token_code_exchange",
            Scenario::TokenRefresh => "token_refresh",
            Scenario::ToolsList => "tools_list_200",
            Scenario::ModelList => "model_list",
            Scenario::ModelGet => "model_get",
            Scenario::Initialize => "initialize_legacy",
            Scenario::IdleLegacy => "idle_legacy",
        }
    }

    /// What it measures, one line.
    pub fn describe(self) -> &'static str {
        match self {
            Scenario::EchoModern => "tools/call `echo`, stateless 2026-07-28 vs a bare axum handler",
            Scenario::EchoLegacy => "tools/call `echo` in a 2025-11-25 session vs the same bare handler",
            Scenario::EchoJwt => "tools/call `echo` with our authorization server's JWT vs with a static bearer token",
            Scenario::TokenCodeExchange => {
                "authorization_code grant at /token vs a bare handler (PKCE, ES256, refresh record)"
            }
            Scenario::TokenRefresh => "refresh_token grant with rotation at /token vs the same bare handler",
            Scenario::ToolsList => "tools/list of 200 tools (one page) vs a handler answering the same bytes",
            Scenario::ModelList => "posts_list, 20 of 10,000 SQLite rows, filter + order, vs hand-written Diesel",
            Scenario::ModelGet => "posts_get by id vs hand-written Diesel",
            Scenario::Initialize => "legacy handshakes (initialize + initialized), a new session each",
            Scenario::IdleLegacy => "RSS per idle legacy session, and after eviction",
        }
    }

    /// The scenario called `name`.
    ///
    /// ```
    /// use mcp_bench::scenarios::Scenario;
    /// assert_eq!(Scenario::parse("model_get"), Some(Scenario::ModelGet));
    /// assert_eq!(Scenario::parse("nope"), None);
    /// ```
    pub fn parse(name: &str) -> Option<Scenario> {
        Scenario::ALL.into_iter().find(|s| s.name() == name)
    }
}

/// How to run the benchmark.
#[derive(Clone, Debug, PartialEq)]
pub struct Options {
    /// Short runs (CI).
    pub quick: bool,
    /// Which scenarios.
    pub scenarios: Vec<Scenario>,
    /// Requests in flight.
    pub concurrency: usize,
    /// Unmeasured time before each measurement.
    pub warmup: Duration,
    /// Longest measurement per side, in all rounds together.
    pub duration: Duration,
    /// Slices the measurement of each side is cut into, the sides taking turns.
    pub rounds: u32,
    /// Most requests per measurement.
    pub requests: Option<u64>,
    /// Sessions of the idle scenario.
    pub sessions: u64,
    /// Idle timeout of the idle scenario's sessions.
    pub idle_timeout: Duration,
    /// Worker threads of the servers' runtime.
    pub server_threads: usize,
    /// Worker threads of the load driver's runtime.
    pub client_threads: usize,
}

impl Options {
    /// The defaults of the full mode (`quick: false`) or the quick one.
    pub fn new(quick: bool) -> Self {
        let cores = std::thread::available_parallelism().map_or(2, usize::from);
        Options {
            quick,
            scenarios: Scenario::ALL.to_vec(),
            concurrency: 16,
            warmup: if quick { Duration::from_millis(300) } else { Duration::from_secs(2) },
            duration: if quick { Duration::from_millis(1500) } else { Duration::from_secs(10) },
            rounds: if quick { 3 } else { 5 },
            requests: None,
            sessions: if quick { 2_000 } else { 10_000 },
            idle_timeout: Duration::from_secs(1),
            server_threads: cores,
            client_threads: 1,
        }
    }
}

/// One side (ours or the limit) of a scenario.
#[derive(Debug)]
pub struct Side {
    /// `ours` or `limit`.
    pub label: &'static str,
    /// The measurement.
    pub stats: RunStats,
    /// RSS when the server was up, before the load.
    pub rss_before: Option<u64>,
    /// RSS after the load.
    pub rss_after: Option<u64>,
}

/// What one scenario found.
#[derive(Debug)]
pub struct Outcome {
    /// Which scenario.
    pub scenario: Scenario,
    /// The measured sides.
    pub sides: Vec<Side>,
    /// The machine-readable key number: (metric, value), e.g. (`ratio`, 0.93).
    pub key: (&'static str, f64),
    /// Findings in words.
    pub notes: Vec<String>,
}

impl Outcome {
    /// Failed operations over all sides.
    pub fn errors(&self) -> u64 {
        self.sides.iter().map(|s| s.stats.errors).sum()
    }

    /// The machine-readable line, e.g. `ratio echo_modern 0.93`.
    pub fn line(&self) -> String {
        let (metric, v) = self.key;
        if metric == "ratio" {
            format!("{metric} {} {v:.2}", self.scenario.name())
        } else {
            format!("{metric} {} {v:.0}", self.scenario.name())
        }
    }
}

struct Env {
    server: Runtime,
    client: Runtime,
    load: Load,
    opts: Options,
}

impl Env {
    /// Start every app, warm each up, then measure them in alternating slices
    /// (`--rounds`), so that a change of the machine's background load hits every side
    /// alike.
    fn measure(&self, sides: Vec<MeasuredSide>) -> Result<Vec<Side>, String> {
        let mut running = Vec::new();
        for (label, app, workload) in sides {
            running.push((label, self.server.block_on(servers::start(app))?, workload));
        }
        let rounds = self.opts.rounds.max(1);
        let mut out: Vec<Side> = Vec::new();
        // Per side, the highest rate seen: how much a workload that prepares (mints single-use
        // codes) must prepare for the next slice.
        let mut rates: Vec<f64> = Vec::new();
        for (label, srv, workload) in &running {
            let mut stats = RunStats::default();
            let mut rate = 0.0;
            if !self.load.warmup.is_zero() {
                // A first guess; the warm-up stops early if it uses everything up.
                let guess = (self.load.warmup.as_secs_f64() * 5_000.0) as u64;
                let budget = self.prepare(srv.addr, workload, guess.clamp(self.load.concurrency as u64 * 4, 20_000))?;
                let warm = Load {
                    warmup: Duration::ZERO,
                    duration: self.load.warmup,
                    max_requests: budget,
                    record: false,
                    ..self.load
                };
                let w = self.client.block_on(driver::run(srv.addr, workload.clone(), warm));
                rate = w.rate();
                stats.errors += w.errors;
                stats.error_samples.extend(w.error_samples.into_iter().map(|e| format!("warm-up: {e}")));
            }
            out.push(Side { label, stats, rss_before: None, rss_after: None });
            rates.push(rate);
        }
        for round in 0..rounds {
            for (((_, srv, workload), side), rate) in running.iter().zip(out.iter_mut()).zip(rates.iter_mut()) {
                let mut max_requests = self
                    .load
                    .max_requests
                    .map(|n| n / u64::from(rounds) + u64::from(u64::from(round) < n % u64::from(rounds)));
                if max_requests == Some(0) {
                    continue;
                }
                let duration = self.load.duration / rounds;
                if workload.prepares() {
                    // Enough for the slice at the best rate seen so far, and a margin.
                    let wanted = (*rate * duration.as_secs_f64() * 1.3) as u64 + 4 * self.load.concurrency as u64;
                    let wanted = max_requests.map_or(wanted, |m| m.min(wanted));
                    max_requests = self.prepare(srv.addr, workload, wanted)?;
                }
                let slice = Load { warmup: Duration::ZERO, duration, max_requests, ..self.load };
                if side.rss_before.is_none() {
                    side.rss_before = rss_bytes();
                }
                let stats = self.client.block_on(driver::run(srv.addr, workload.clone(), slice));
                *rate = rate.max(stats.rate());
                side.stats.merge(stats);
                side.rss_after = rss_bytes();
            }
        }
        drop(running);
        Ok(out)
    }

    /// Let `workload` prepare about `wanted` operations on the server at `addr` (over
    /// fresh connections, outside any measurement): the request bound of the next run, or
    /// `None` for a workload that needs no preparing.
    fn prepare(&self, addr: SocketAddr, workload: &Arc<dyn Workload>, wanted: u64) -> Result<Option<u64>, String> {
        if !workload.prepares() {
            return Ok(None);
        }
        let connections = self.load.concurrency.clamp(1, 16);
        self.client.block_on(async {
            let mut clients = Vec::with_capacity(connections);
            for _ in 0..connections {
                clients.push(Client::connect(addr).await?);
            }
            workload.prepare(clients, wanted.max(1)).await.map(Some).map_err(|e| format!("preparing: {e}"))
        })
    }

    /// Start `app`, run `f` on the driver's runtime with its address, stop it.
    fn with_server<T>(&self, app: Router, f: impl AsyncFnOnce(SocketAddr) -> Result<T, String>) -> Result<T, String> {
        let running = self.server.block_on(servers::start(app))?;
        let out = self.client.block_on(f(running.addr));
        drop(running);
        out
    }
}

/// Run the chosen scenarios; `progress` hears about each as it finishes.
pub fn run(opts: &Options, mut progress: impl FnMut(&Outcome)) -> Result<Vec<Outcome>, String> {
    let server = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(opts.server_threads.max(1))
        .thread_name("server")
        .enable_all()
        .build()
        .map_err(|e| format!("server runtime: {e}"))?;
    let client = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(opts.client_threads.max(1))
        .thread_name("driver")
        .enable_all()
        .build()
        .map_err(|e| format!("driver runtime: {e}"))?;
    let load = Load {
        concurrency: opts.concurrency.max(1),
        warmup: opts.warmup,
        duration: opts.duration,
        max_requests: opts.requests,
        record: true,
    };
    let env = Env { server, client, load, opts: opts.clone() };
    let mut out = Vec::new();
    for &s in &opts.scenarios {
        let outcome = match s {
            Scenario::EchoModern => echo(&env, Era::Modern)?,
            Scenario::EchoLegacy => echo(&env, Era::Legacy)?,
            Scenario::EchoJwt => pair(&env, s, sides(s, &Fixture::None)?)?,
            Scenario::TokenCodeExchange | Scenario::TokenRefresh => token(&env, s)?,
            Scenario::ToolsList => tools_list(&env)?,
            Scenario::ModelList => model(&env, Scenario::ModelList)?,
            Scenario::ModelGet => model(&env, Scenario::ModelGet)?,
            Scenario::Initialize => initialize(&env)?,
            Scenario::IdleLegacy => idle(&env)?,
        };
        progress(&outcome);
        out.push(outcome);
    }
    Ok(out)
}

/// A result with the text copy of structured content parsed, so results that differ only
/// in key order compare equal.
fn normalized(mut result: Value) -> Value {
    if let Some(Value::Array(blocks)) = result.get_mut("content") {
        for b in blocks {
            if let Some(t) = b.get("text").and_then(Value::as_str)
                && let Ok(v) = serde_json::from_str::<Value>(t)
            {
                b["text"] = v;
            }
        }
    }
    result
}

/// Check that the limit answers exactly what ours answers for the same request.
fn same_answers(
    env: &Env,
    scenario: Scenario,
    ours: (Router, &Arc<Rpc>),
    limit: (Router, &Arc<Rpc>),
) -> Result<(), String> {
    let probe = |app: Router, rpc: Arc<Rpc>| {
        env.with_server(app, async move |addr| {
            let mut c = Client::connect(addr).await?;
            rpc.setup(&mut c).await?;
            rpc.call(&mut c, 1).await
        })
    };
    let a = probe(ours.0, ours.1.clone()).map_err(|e| format!("{}: ours: {e}", scenario.name()))?;
    let b = probe(limit.0, limit.1.clone()).map_err(|e| format!("{}: limit: {e}", scenario.name()))?;
    if normalized(a.clone()) != normalized(b.clone()) {
        return Err(format!(
            "{}: the limit does not answer what ours answers:\n  ours:  {a}\n  limit: {b}",
            scenario.name()
        ));
    }
    Ok(())
}

/// Measure `sides` (ours first, the limit second, then any other) after checking that ours
/// and the limit answer the same.
fn pair(env: &Env, scenario: Scenario, sides: Vec<SideSpec>) -> Result<Outcome, String> {
    let [ours, limit, ..] = sides.as_slice() else { return Err(format!("{}: two sides needed", scenario.name())) };
    let (ours_rpc, limit_rpc) = (Arc::new(ours.rpc()), Arc::new(limit.rpc()));
    same_answers(env, scenario, ((ours.app)()?, &ours_rpc), ((limit.app)()?, &limit_rpc))?;
    let sides = sides
        .iter()
        .map(|s| Ok((s.label, (s.app)()?, Arc::new(s.rpc()) as Arc<dyn Workload>)))
        .collect::<Result<Vec<_>, String>>()?;
    let sides = env.measure(sides)?;
    Ok(compared(scenario, sides))
}

/// The outcome of two or more measured sides: the first's rate over the second's.
fn compared(scenario: Scenario, sides: Vec<Side>) -> Outcome {
    let (o, l) = (&sides[0].stats, &sides[1].stats);
    let (ol, ll) = (sides[0].label, sides[1].label);
    let ratio = if l.rate() > 0.0 { o.rate() / l.rate() } else { 0.0 };
    let mut notes = Vec::new();
    if let (Some(a), Some(b)) = (o.cpu_per_op(), l.cpu_per_op()) {
        notes.push(format!(
            "CPU per request (whole process, driver included): {ol} {a:.0} µs, {ll} {b:.0} µs; {ll}/{ol} {:.2}",
            b / a
        ));
    }
    if let Some(core) = sides.get(2) {
        notes.push(format!(
            "{}: our dispatcher (Server::handle_bytes) behind a bare axum handler, without mcp-axum: {:.2} of the limit",
            core.label,
            if l.rate() > 0.0 { core.stats.rate() / l.rate() } else { 0.0 }
        ));
    }
    Outcome { scenario, sides, key: ("ratio", ratio), notes }
}

fn echo_rpc(era: Era, path: &'static str, handshake: bool) -> Rpc {
    echo_rpc_as(era, path, handshake, Credential::None)
}

fn echo_rpc_as(era: Era, path: &'static str, handshake: bool, credential: Credential) -> Rpc {
    Rpc {
        credential,
        path,
        era,
        handshake,
        method: "tools/call",
        name: Some("echo"),
        params: Box::new(|n| format!(r#""name":"echo","arguments":{{"message":"m{n}"}}"#)),
        check: Check::Result(Box::new(|n, r| {
            let text = r.pointer("/content/0/text").and_then(Value::as_str);
            if text == Some(format!("m{n}").as_str()) { Ok(()) } else { Err(format!("echo answered {r}")) }
        })),
    }
}

fn echo(env: &Env, era: Era) -> Result<Outcome, String> {
    let scenario = if era == Era::Modern { Scenario::EchoModern } else { Scenario::EchoLegacy };
    pair(env, scenario, sides(scenario, &Fixture::None)?)
}

/// What the sides of a scenario share: nothing, the page ours answers, or a database.
enum Fixture {
    None,
    Page(Arc<RawValue>),
    Db(SqlitePool),
}

/// One side of a scenario: its label, how to build its server, and what to send it.
struct SideSpec {
    label: &'static str,
    app: Box<dyn Fn() -> Result<Router, String>>,
    rpc: Box<dyn Fn() -> Rpc>,
}

impl SideSpec {
    fn new(
        label: &'static str,
        app: impl Fn() -> Result<Router, String> + 'static,
        rpc: impl Fn() -> Rpc + 'static,
    ) -> Self {
        SideSpec { label, app: Box::new(app), rpc: Box::new(rpc) }
    }

    fn rpc(&self) -> Rpc {
        (self.rpc)()
    }
}

/// The sides of `scenario`, ours first and the limit second (then `core` for
/// `echo_modern`): what a measurement compares and what `--profile` calls.
fn sides(scenario: Scenario, fixture: &Fixture) -> Result<Vec<SideSpec>, String> {
    Ok(match (scenario, fixture) {
        (Scenario::EchoModern | Scenario::EchoLegacy, _) => {
            let era = if scenario == Scenario::EchoModern { Era::Modern } else { Era::Legacy };
            let state = LimitState::new(&mcp_core::server_info!())?;
            let mut sides = vec![
                SideSpec::new(
                    "ours",
                    || servers::echo_router(SessionLimits::default()),
                    move || echo_rpc(era, "/mcp", era == Era::Legacy),
                ),
                SideSpec::new(
                    "limit",
                    move || Ok(servers::echo_limit_router(state.clone())),
                    move || echo_rpc(era, "/mcp", false),
                ),
            ];
            if era == Era::Modern {
                // Where the cost is: our dispatcher behind a bare handler.
                sides.push(SideSpec::new("core", servers::echo_core_router, move || echo_rpc(era, "/mcp", false)));
            }
            sides
        }
        (Scenario::EchoJwt, _) => vec![
            // One server accepting both (its own JWTs first, then the static token): the
            // difference is the token's check alone.
            SideSpec::new(
                "jwt",
                || servers::echo_auth_router(oauth::auth_server()?),
                || echo_rpc_as(Era::Modern, "/mcp", false, Credential::Issued),
            ),
            SideSpec::new(
                "static",
                || servers::echo_auth_router(oauth::auth_server()?),
                || echo_rpc_as(Era::Modern, "/mcp", false, Credential::Static(oauth::STATIC_TOKEN)),
            ),
        ],
        (Scenario::ToolsList, Fixture::Page(page)) => {
            let (a, b, c) = (page.clone(), page.clone(), page.clone());
            vec![
                SideSpec::new("ours", || servers::many_tools_router(TOOLS), move || list_rpc(Check::Exact(a.clone()))),
                SideSpec::new(
                    "limit",
                    move || Ok(servers::bytes_limit_router(b.clone())),
                    move || list_rpc(Check::Exact(c.clone())),
                ),
            ]
        }
        (Scenario::ModelList | Scenario::ModelGet, Fixture::Db(pool)) => {
            let state = LimitState::new(&mcp_core::server_info!())?;
            let limit_path = if scenario == Scenario::ModelList { "/list" } else { "/get" };
            let (a, b) = (pool.clone(), pool.clone());
            vec![
                SideSpec::new("ours", move || servers::model_router(a.clone()), move || model_rpc(scenario, "/mcp")),
                SideSpec::new(
                    "limit",
                    move || Ok(servers::model_limit_router(b.clone(), state.clone())),
                    move || model_rpc(scenario, limit_path),
                ),
            ]
        }
        _ => return Err(format!("{} has no sides to compare", scenario.name())),
    })
}

/// A temporary SQLite database for the model scenarios, removed when dropped.
struct TempDb {
    path: String,
}

impl TempDb {
    fn new(tag: &str) -> Result<(Self, SqlitePool), String> {
        let path = std::env::temp_dir().join(format!("mcp-bench-{tag}{}.db", std::process::id()));
        let path = path.to_str().ok_or("the temporary directory's path is not UTF-8")?.to_owned();
        let db = TempDb { path };
        let pool = servers::database(&db.path, 8)?;
        Ok((db, pool))
    }
}

impl Drop for TempDb {
    fn drop(&mut self) {
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", self.path));
        }
    }
}

const TOOLS: usize = 200;

fn list_rpc(check: Check) -> Rpc {
    Rpc {
        path: "/mcp",
        era: Era::Modern,
        handshake: false,
        method: "tools/list",
        name: None,
        params: Box::new(|_| String::new()),
        check,
        credential: Credential::None,
    }
}

/// The first check of `tools/list`: 200 tools on one page.
fn list_check() -> Check {
    Check::Result(Box::new(|_, r| {
        let n = r.get("tools").and_then(Value::as_array).map_or(0, Vec::len);
        if n == TOOLS && r.get("nextCursor").is_none() {
            Ok(())
        } else {
            Err(format!("tools/list answered {n} tools (next cursor: {:?})", r.get("nextCursor")))
        }
    }))
}

/// The `result` of ours exactly as it was sent.
fn raw_result(env: &Env, app: Router, rpc: Rpc) -> Result<Arc<RawValue>, String> {
    env.with_server(app, async move |addr| first_result(&mut Client::connect(addr).await?, &rpc).await)
}

/// The checked `result` of request 1 on `c`, exactly as it was sent.
async fn first_result(c: &mut Client, rpc: &Rpc) -> Result<Arc<RawValue>, String> {
    #[derive(serde::Deserialize)]
    struct Envelope {
        result: Box<RawValue>,
    }
    let headers = rpc.headers(c)?;
    let answer = c.send(Method::POST, rpc.path, &headers, Bytes::from(rpc.body(1))).await?;
    rpc.check.answer(&answer, 1)?;
    let env: Envelope = serde_json::from_slice(&answer.body).map_err(|e| e.to_string())?;
    Ok(Arc::from(env.result))
}

fn tools_list(env: &Env) -> Result<Outcome, String> {
    // The page as ours sends it; then every answer, ours and the limit's, must be exactly it.
    let page = raw_result(env, servers::many_tools_router(TOOLS)?, list_rpc(list_check()))?;
    let bytes = page.get().len();
    let mut o = pair(env, Scenario::ToolsList, sides(Scenario::ToolsList, &Fixture::Page(page))?)?;
    o.notes.push(format!("one page of {TOOLS} tools: {bytes} bytes"));
    Ok(o)
}

fn model_rpc(scenario: Scenario, path: &'static str) -> Rpc {
    if scenario == Scenario::ModelList {
        Rpc {
            credential: Credential::None,
            path,
            era: Era::Modern,
            handshake: false,
            method: "tools/call",
            name: Some("posts_list"),
            params: Box::new(|n| {
                // The lower bound moves so the pages differ; every page is full.
                let min = 40_000 + (n % 50) * 1000;
                format!(
                    r#""name":"posts_list","arguments":{{"filter":{{"published":true,"views__gte":{min}}},"order_by":["-views"],"limit":20}}"#
                )
            }),
            check: Check::Result(Box::new(|n, r| {
                let min = 40_000 + (n % 50) as i64 * 1000;
                let items = r.pointer("/structuredContent/items").and_then(Value::as_array);
                let ok = items.is_some_and(|items| {
                    items.len() == 20
                        && items.iter().all(|i| {
                            i["published"] == Value::Bool(true) && i["views"].as_i64().is_some_and(|v| v >= min)
                        })
                        && items.windows(2).all(|w| w[0]["views"].as_i64() >= w[1]["views"].as_i64())
                });
                if ok {
                    Ok(())
                } else {
                    Err(format!("posts_list answered {}", r.pointer("/structuredContent").unwrap_or(r)))
                }
            })),
        }
    } else {
        Rpc {
            credential: Credential::None,
            path,
            era: Era::Modern,
            handshake: false,
            method: "tools/call",
            name: Some("posts_get"),
            params: Box::new(|n| format!(r#""name":"posts_get","arguments":{{"id":{}}}"#, key_of(n))),
            check: Check::Result(Box::new(|n, r| {
                let id = r.pointer("/structuredContent/id").and_then(Value::as_i64);
                let title = r.pointer("/structuredContent/title").and_then(Value::as_str);
                let want = key_of(n);
                if id == Some(want) && title == Some(format!("Post number {want}").as_str()) {
                    Ok(())
                } else {
                    Err(format!("posts_get {want} answered {}", r.pointer("/structuredContent").unwrap_or(r)))
                }
            })),
        }
    }
}

/// The primary key request `n` asks for: spread over the whole table.
fn key_of(n: u64) -> i64 {
    (n.wrapping_mul(7919) % servers::ROWS as u64) as i64 + 1
}

fn model(env: &Env, scenario: Scenario) -> Result<Outcome, String> {
    let (db, pool) = TempDb::new("")?;
    let out = sides(scenario, &Fixture::Db(pool)).and_then(|sides| pair(env, scenario, sides));
    // The pools (in the sides, now dropped) close before the files go.
    drop(db);
    let mut o = out?;
    o.notes.push(format!("{} rows, pool of 8 connections, an index on (views DESC, id)", servers::ROWS));
    Ok(o)
}

fn initialize(env: &Env) -> Result<Outcome, String> {
    let side = env
        .measure(vec![("ours", servers::echo_router(SessionLimits::default())?, Arc::new(Handshake { path: "/mcp" }))])?
        .remove(0);
    let rate = side.stats.rate();
    let total = side.stats.ok + side.stats.errors;
    let mut notes = vec!["each operation: initialize + notifications/initialized (two POSTs)".to_owned()];
    let max = SessionLimits::default().max_sessions as u64;
    if total > max {
        notes.push(format!(
            "{total} sessions opened: the store was full (max {max}) after the first {max}, so later handshakes also evicted"
        ));
    }
    Ok(Outcome { scenario: Scenario::Initialize, sides: vec![side], key: ("handshakes_per_s", rate), notes })
}

/// A side as [`Env::measure`] takes it: its label, its app, its workload.
type MeasuredSide = (&'static str, Router, Arc<dyn Workload>);

/// The sides of a token scenario with their workloads: ours (our authorization server,
/// mounted beside the echo endpoint) and the limit.
fn token_sides(scenario: Scenario, limit: &Arc<LimitTokens>) -> Result<Vec<MeasuredSide>, String> {
    let workload = |issuer: Issuer| -> Arc<dyn Workload> {
        if scenario == Scenario::TokenCodeExchange {
            Arc::new(CodeExchange::new(issuer))
        } else {
            Arc::new(RefreshChain::new(issuer))
        }
    };
    Ok(vec![
        ("ours", servers::echo_auth_router(oauth::auth_server()?)?, workload(Issuer::Ours)),
        ("limit", oauth::token_limit_router(limit.clone()), workload(Issuer::Limit(limit.clone()))),
    ])
}

/// One code exchange (and, for `token_refresh`, one refresh) at a fresh server; then the
/// code again, which must be refused. Returns the last token response.
async fn token_probe(c: &mut Client, scenario: Scenario, minted: oauth::Minted) -> Result<oauth::Tokens, String> {
    let mut t = oauth::exchange(c, &minted).await?;
    if scenario == Scenario::TokenRefresh {
        t = oauth::refresh(c, &t.refresh_token).await?;
    }
    if oauth::exchange(c, &minted).await.is_ok() {
        return Err("a code was redeemed twice".into());
    }
    Ok(t)
}

fn token(env: &Env, scenario: Scenario) -> Result<Outcome, String> {
    let name = scenario.name();
    let limit = Arc::new(LimitTokens::new()?);
    // Before measuring: ours' access token opens its MCP endpoint, the limit's verifies
    // with the limit's key, and both answers carry the same fields and claims.
    let ours = env
        .with_server(servers::echo_auth_router(oauth::auth_server()?)?, async move |addr| {
            let mut c = Client::connect(addr).await?;
            let minted = oauth::authorize(&mut c).await?;
            let t = token_probe(&mut c, scenario, minted).await?;
            c.state = Some(t.access_token.clone());
            echo_rpc_as(Era::Modern, "/mcp", false, Credential::Issued)
                .call(&mut c, 1)
                .await
                .map_err(|e| format!("an MCP call with the issued access token: {e}"))?;
            Ok(t)
        })
        .map_err(|e| format!("{name}: ours: {e}"))?;
    let l = limit.clone();
    let theirs = env
        .with_server(oauth::token_limit_router(limit.clone()), async move |addr| {
            let mut c = Client::connect(addr).await?;
            let minted = l.mint(1)?.remove(0);
            let t = token_probe(&mut c, scenario, minted).await?;
            l.verify(&t.access_token)?;
            Ok(t)
        })
        .map_err(|e| format!("{name}: limit: {e}"))?;
    oauth::same_tokens(&ours, &theirs).map_err(|e| format!("{name}: {e}"))?;
    let mut o = compared(scenario, env.measure(token_sides(scenario, &limit)?)?);
    o.notes.push(if scenario == Scenario::TokenCodeExchange {
        "codes minted over HTTP before each slice (GET /authorize as a signed-in user who consented), not measured"
            .to_owned()
    } else {
        "one refresh-token chain per connection, started by a code exchange; every answer rotates".to_owned()
    });
    Ok(o)
}

fn mib(b: u64) -> String {
    format!("{:.1} MiB", b as f64 / (1024.0 * 1024.0))
}

fn idle(env: &Env) -> Result<Outcome, String> {
    let n = env.opts.sessions.max(1);
    let timeout = env.opts.idle_timeout;
    // Room for the warm-up session and `n` more: the first session after them finds the
    // store full and sweeps the expired ones.
    let limits = SessionLimits { max_sessions: n as usize + 1, idle_timeout: timeout, ..SessionLimits::default() };
    let app = servers::echo_router(limits)?;
    let concurrency = env.load.concurrency;
    let wave = Load {
        concurrency,
        warmup: Duration::ZERO,
        duration: Duration::from_secs(3600),
        max_requests: Some(n),
        record: false,
    };
    let running = env.server.block_on(servers::start(app))?;
    let addr = running.addr;
    let result = env.client.block_on(async move {
        let mut c = Client::connect(addr).await?;
        let first = handshake(&mut c, "/mcp").await?;
        let rss0 = rss_bytes().ok_or("no /proc/self/status: RSS cannot be measured here")?;
        let workload: Arc<dyn Workload> = Arc::new(Handshake { path: "/mcp" });
        let t = Instant::now();
        let stats = driver::run(addr, workload.clone(), wave).await;
        let created = t.elapsed();
        let rss1 = rss_bytes().unwrap_or(0);
        tokio::time::sleep(timeout + Duration::from_millis(500)).await;
        // One more session: the store is full, so it evicts every expired one.
        let mut c2 = Client::connect(addr).await?;
        handshake(&mut c2, "/mcp").await?;
        let evicted = gone(&mut c2, &first).await?;
        let rss2 = rss_bytes().unwrap_or(0);
        let again = driver::run(addr, workload, wave).await;
        let rss3 = rss_bytes().unwrap_or(0);
        Ok::<_, String>((stats, again, created, evicted, [rss0, rss1, rss2, rss3]))
    });
    drop(running);
    let (stats, again, created, evicted, [rss0, rss1, rss2, rss3]) = result?;
    let grown = rss1.saturating_sub(rss0);
    let per_session = grown as f64 / n as f64;
    let returned = rss1.saturating_sub(rss2);
    let regrown = rss3.saturating_sub(rss2);
    let mut notes = vec![
        format!(
            "{n} sessions opened in {:.1} s; RSS {} -> {} (+{}, {:.0} bytes each, {} per 10,000)",
            created.as_secs_f64(),
            mib(rss0),
            mib(rss1),
            mib(grown),
            per_session,
            mib((per_session * 10_000.0) as u64)
        ),
        format!(
            "after {} idle and one more session: {} (evicted sessions answer 404: {}); returned to the OS: {} ({:.0}% of the growth)",
            humantime(timeout),
            mib(rss2),
            if evicted { "yes" } else { "NO" },
            mib(returned),
            if grown > 0 { returned as f64 * 100.0 / grown as f64 } else { 0.0 }
        ),
        format!(
            "a second wave of {n} sessions grew RSS by {} ({:.0}% of the first wave's growth: freed memory is reused)",
            mib(regrown),
            if grown > 0 { regrown as f64 * 100.0 / grown as f64 } else { 0.0 }
        ),
    ];
    let mut errors = stats.errors + again.errors;
    let mut samples = stats.error_samples.clone();
    samples.extend(again.error_samples.iter().cloned());
    if !evicted {
        errors += 1;
        samples.push("a session idle longer than the timeout still answered after the store was full".into());
        notes.push("eviction did not happen".into());
    }
    let side = Side {
        label: "ours",
        stats: RunStats {
            ok: stats.ok + again.ok,
            errors,
            error_samples: samples,
            elapsed: stats.elapsed + again.elapsed,
            latencies: Default::default(),
            cpu: None,
        },
        rss_before: Some(rss0),
        rss_after: Some(rss3),
    };
    Ok(Outcome {
        scenario: Scenario::IdleLegacy,
        sides: vec![side],
        key: ("rss_per_session_bytes", per_session),
        notes,
    })
}

fn humantime(d: Duration) -> String {
    format!("{:.1} s", d.as_secs_f64())
}

/// Whether session `id` is gone: a request on it answers 404.
async fn gone(client: &mut Client, id: &str) -> Result<bool, String> {
    let rpc = echo_rpc(Era::Legacy, "/mcp", false);
    client.session = Some(id.to_owned());
    let headers = rpc.headers(client)?;
    let answer = client.send(Method::POST, "/mcp", &headers, Bytes::from(rpc.body(1))).await?;
    Ok(answer.status == StatusCode::NOT_FOUND)
}

fn ms(d: Option<Duration>) -> String {
    d.map_or_else(|| "-".to_owned(), |d| format!("{:.2}", d.as_secs_f64() * 1000.0))
}

fn rss(b: Option<u64>) -> String {
    b.map_or_else(|| "-".to_owned(), mib)
}

/// The table header of [`table_rows`].
pub const TABLE_HEADER: &str =
    "scenario           side     requests      req/s   p50 ms   p99 ms  errors   RSS before    RSS after  CPU µs/req";

/// The table rows of one outcome, and its notes.
pub fn table_rows(o: &Outcome) -> String {
    let mut s = String::new();
    for side in &o.sides {
        let st = &side.stats;
        let _ = writeln!(
            s,
            "{:<18} {:<6} {:>10} {:>10.0} {:>8} {:>8} {:>7} {:>12} {:>12} {:>11}",
            o.scenario.name(),
            side.label,
            st.ok,
            st.rate(),
            ms(st.latencies.percentile(50.0)),
            ms(st.latencies.percentile(99.0)),
            st.errors,
            rss(side.rss_before),
            rss(side.rss_after),
            st.cpu_per_op().map_or_else(|| "-".to_owned(), |c| format!("{c:.0}")),
        );
        for e in &st.error_samples {
            let _ = writeln!(s, "    error: {e}");
        }
    }
    if o.key.0 == "ratio" {
        let _ = writeln!(s, "    ours/limit: {:.2}", o.key.1);
    }
    for n in &o.notes {
        let _ = writeln!(s, "    {n}");
    }
    s
}

/// What [`profile`] did.
#[derive(Debug)]
pub struct Profiled {
    /// Requests (operations) sent and checked, after the warm-up.
    pub requests: u64,
    /// How long they took together.
    pub elapsed: Duration,
}

/// Run `requests` operations of one side (`ours`, `limit`, or `core` for `echo_modern`)
/// of `scenario` one after the other, calling the app in this thread without sockets
/// (see [`Client::in_process`]), after `warmup` unmeasured ones. Every answer is checked
/// as in a measurement. For profilers: `valgrind --tool=callgrind` counts instructions,
/// so two runs with different request counts give the instructions per request, free of
/// the machine's noise.
pub fn profile(scenario: Scenario, side: &str, requests: u64, warmup: u64) -> Result<Profiled, String> {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| e.to_string())?;
    let mut db = None;
    let (app, workload): (Router, Arc<dyn Workload>) = if scenario == Scenario::Initialize && side == "ours" {
        (servers::echo_router(SessionLimits::default())?, Arc::new(Handshake { path: "/mcp" }))
    } else if matches!(scenario, Scenario::TokenCodeExchange | Scenario::TokenRefresh) {
        let limit = Arc::new(LimitTokens::new()?);
        token_sides(scenario, &limit)?
            .into_iter()
            .find(|(label, ..)| *label == side)
            .map(|(_, app, workload)| (app, workload))
            .ok_or_else(|| format!("{} has no side `{side}`", scenario.name()))?
    } else {
        let fixture = match scenario {
            Scenario::ToolsList => {
                // As in a measurement, both sides' answers must be exactly ours, byte for byte.
                let mut ours = Client::in_process(servers::many_tools_router(TOOLS)?);
                Fixture::Page(rt.block_on(first_result(&mut ours, &list_rpc(list_check())))?)
            }
            Scenario::ModelList | Scenario::ModelGet => {
                let (tmp, pool) = TempDb::new("profile-")?;
                db = Some(tmp);
                Fixture::Db(pool)
            }
            _ => Fixture::None,
        };
        let sides = sides(scenario, &fixture)?;
        let chosen = sides
            .iter()
            .find(|s| s.label == side)
            .ok_or_else(|| format!("{} has no side `{side}`", scenario.name()))?;
        ((chosen.app)()?, Arc::new(chosen.rpc()))
    };
    let out = rt.block_on(async move {
        let mut client = Client::in_process(app.clone());
        workload.setup(&mut client).await?;
        // Single-use codes: minted before each loop (a profiler counts this too).
        let prepare = async |n: u64| -> Result<(), String> {
            if workload.prepares() && workload.prepare(vec![Client::in_process(app.clone())], n).await? < n {
                return Err(format!("could not prepare {n} operations"));
            }
            Ok(())
        };
        prepare(warmup).await?;
        for n in 0..warmup {
            workload.step(&mut client, driver::WARMUP_IDS + n).await.map_err(|e| format!("warm-up: {e}"))?;
        }
        prepare(requests).await?;
        let t = Instant::now();
        for n in 0..requests {
            workload.step(&mut client, n).await?;
        }
        Ok(Profiled { requests, elapsed: t.elapsed() })
    });
    drop(db);
    out
}
