//! The load driver: keep-alive HTTP/1.1 connections (hyper's client, one connection per
//! worker), a fixed number of requests in flight, bounded by time and by request count,
//! every answer checked.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Method, Request, StatusCode};
use http_body_util::{BodyExt as _, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use mcp_core::server::BoxFuture;
use tokio::net::TcpStream;

use crate::stats::Latencies;

/// Longest one request may take before it counts as an error.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Numbers of warm-up operations start here.
pub const WARMUP_IDS: u64 = 1 << 40;

/// An answer as the driver sees it.
#[derive(Debug)]
pub struct Answer {
    /// The HTTP status.
    pub status: StatusCode,
    /// The response headers.
    pub headers: HeaderMap,
    /// The whole body.
    pub body: Bytes,
}

/// How a [`Client`] reaches its server.
enum Transport {
    /// A keep-alive HTTP/1.1 connection.
    Http(SendRequest<Full<Bytes>>),
    /// The app itself, called in this task without sockets or hyper (profiling mode).
    InProcess(axum::Router),
}

/// One keep-alive HTTP/1.1 connection to a server under test (or, for profiling, the
/// app called in-process), plus the legacy session the worker opened on it, if any.
pub struct Client {
    transport: Transport,
    authority: HeaderValue,
    /// The `Mcp-Session-Id` of this worker's legacy session.
    pub session: Option<String>,
    /// What a workload keeps per connection (an access token, the refresh token a chain
    /// is at).
    pub state: Option<String>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client").field("authority", &self.authority).field("session", &self.session).finish()
    }
}

impl Client {
    /// Connect to `addr` (with `TCP_NODELAY`, as a real client would).
    pub async fn connect(addr: SocketAddr) -> Result<Client, String> {
        let stream = TcpStream::connect(addr).await.map_err(|e| format!("connect to {addr}: {e}"))?;
        stream.set_nodelay(true).map_err(|e| format!("TCP_NODELAY: {e}"))?;
        let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| format!("HTTP handshake with {addr}: {e}"))?;
        tokio::spawn(async move {
            // The connection ends when the worker drops its sender; errors show up there.
            let _ = conn.await;
        });
        let authority = HeaderValue::from_str(&addr.to_string()).map_err(|e| e.to_string())?;
        Ok(Client { transport: Transport::Http(sender), authority, session: None, state: None })
    }

    /// A client calling `app` directly in the caller's task: the same requests and
    /// checks, without sockets, hyper or a second thread, so a profiler (`valgrind
    /// --tool=callgrind`, `perf`) sees only the app's work.
    pub fn in_process(app: axum::Router) -> Client {
        Client {
            transport: Transport::InProcess(app),
            authority: HeaderValue::from_static("127.0.0.1"),
            session: None,
            state: None,
        }
    }

    /// Send one request and read the whole answer.
    pub async fn send(
        &mut self,
        method: Method,
        path: &str,
        headers: &[(HeaderName, HeaderValue)],
        body: Bytes,
    ) -> Result<Answer, String> {
        let mut builder =
            Request::builder().method(method).uri(path).header(http::header::HOST, self.authority.clone());
        for (k, v) in headers {
            builder = builder.header(k, v);
        }
        let exchange = async {
            match &mut self.transport {
                Transport::Http(sender) => {
                    let req = builder.body(Full::new(body)).map_err(|e| e.to_string())?;
                    sender.ready().await.map_err(|e| format!("connection lost: {e}"))?;
                    let resp = sender.send_request(req).await.map_err(|e| format!("request failed: {e}"))?;
                    let (parts, body) = resp.into_parts();
                    let body = body.collect().await.map_err(|e| format!("reading the body: {e}"))?.to_bytes();
                    Ok::<Answer, String>(Answer { status: parts.status, headers: parts.headers, body })
                }
                Transport::InProcess(app) => {
                    use tower::ServiceExt as _;
                    let req = builder.body(axum::body::Body::from(body)).map_err(|e| e.to_string())?;
                    let resp = app.clone().oneshot(req).await.map_err(|e| format!("the app failed: {e}"))?;
                    let (parts, body) = resp.into_parts();
                    let body = body.collect().await.map_err(|e| format!("reading the body: {e}"))?.to_bytes();
                    Ok(Answer { status: parts.status, headers: parts.headers, body })
                }
            }
        };
        match tokio::time::timeout(REQUEST_TIMEOUT, exchange).await {
            Ok(r) => r,
            Err(_) => Err(format!("no answer within {} s", REQUEST_TIMEOUT.as_secs())),
        }
    }
}

/// What the workers do. `setup` runs once per connection (for example, open a legacy
/// session); `step` is one measured operation (usually one request), numbered from 0.
pub trait Workload: Send + Sync + 'static {
    /// Prepare a fresh connection. The default does nothing.
    fn setup<'a>(&'a self, client: &'a mut Client) -> BoxFuture<'a, Result<(), String>> {
        let _ = client;
        Box::pin(async { Ok(()) })
    }

    /// Whether each measurement needs [`Workload::prepare`] first. Default: no.
    fn prepares(&self) -> bool {
        false
    }

    /// Make ready for about `wanted` operations, outside any measurement, over `clients`
    /// (fresh connections to the server under test): for example mint that many
    /// single-use authorization codes. Returns how many operations can run; the
    /// measurement stops there. Default: no limit.
    fn prepare(&self, clients: Vec<Client>, wanted: u64) -> BoxFuture<'_, Result<u64, String>> {
        let _ = (clients, wanted);
        Box::pin(async { Ok(u64::MAX) })
    }

    /// One measured operation; `Err` when the answer is not what it must be.
    fn step<'a>(&'a self, client: &'a mut Client, n: u64) -> BoxFuture<'a, Result<(), String>>;
}

/// How much load to apply.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Load {
    /// Operations in flight (one connection each).
    pub concurrency: usize,
    /// Unmeasured operations before the measurement starts (connections warm, caches
    /// filled).
    pub warmup: Duration,
    /// Longest measurement.
    pub duration: Duration,
    /// Most measured operations (the measurement ends at whichever limit comes first).
    pub max_requests: Option<u64>,
    /// Whether to keep every latency (false: count only, so the driver allocates
    /// nothing while memory is measured).
    pub record: bool,
}

/// The outcome of one measurement.
#[derive(Debug, Default)]
pub struct RunStats {
    /// Operations that completed and passed their checks.
    pub ok: u64,
    /// Operations that failed (transport error, timeout or failed check).
    pub errors: u64,
    /// The first few error messages.
    pub error_samples: Vec<String>,
    /// Length of the measurement window.
    pub elapsed: Duration,
    /// Latencies of the successful operations (empty if not recorded).
    pub latencies: Latencies,
    /// CPU time the whole process (servers and driver) used during the measurement.
    pub cpu: Option<Duration>,
}

impl RunStats {
    /// Successful operations per second.
    pub fn rate(&self) -> f64 {
        if self.elapsed.is_zero() { 0.0 } else { self.ok as f64 / self.elapsed.as_secs_f64() }
    }

    /// CPU time of the process per successful operation, in microseconds: unlike the
    /// rate, hardly affected by other processes competing for the cores.
    pub fn cpu_per_op(&self) -> Option<f64> {
        self.cpu.filter(|_| self.ok > 0).map(|c| c.as_secs_f64() * 1e6 / self.ok as f64)
    }

    /// Add the measurement `other` (another slice of the same load) to this one.
    pub fn merge(&mut self, other: RunStats) {
        self.ok += other.ok;
        self.errors += other.errors;
        for s in other.error_samples {
            if self.error_samples.len() < 5 {
                self.error_samples.push(s);
            }
        }
        self.elapsed += other.elapsed;
        self.latencies = std::mem::take(&mut self.latencies).merged(other.latencies);
        self.cpu = match (self.cpu, other.cpu) {
            (Some(a), Some(b)) => Some(a + b),
            (a, b) => a.or(b),
        };
    }
}

struct Shared {
    tickets: AtomicU64,
    start: Instant,
    end: Instant,
    max: u64,
}

#[derive(Default)]
struct WorkerStats {
    ok: u64,
    errors: u64,
    samples: Vec<String>,
    last: Option<Instant>,
    latencies: Vec<u32>,
}

impl WorkerStats {
    fn error(&mut self, e: String) {
        self.errors += 1;
        if self.samples.len() < 3 {
            self.samples.push(e);
        }
    }
}

/// Apply `load` to the server at `addr` and measure.
pub async fn run(addr: SocketAddr, workload: Arc<dyn Workload>, load: Load) -> RunStats {
    let now = Instant::now();
    let shared = Arc::new(Shared {
        tickets: AtomicU64::new(0),
        start: now + load.warmup,
        end: now + load.warmup + load.duration,
        max: load.max_requests.unwrap_or(u64::MAX),
    });
    // The process's CPU time when the measurement starts (after the warm-up).
    let start = shared.start;
    let cpu_at_start = tokio::spawn(async move {
        tokio::time::sleep_until(start.into()).await;
        crate::stats::cpu_time()
    });
    let mut tasks = Vec::new();
    for _ in 0..load.concurrency.max(1) {
        let shared = shared.clone();
        let workload = workload.clone();
        tasks.push(tokio::spawn(async move { worker(addr, &*workload, &shared, load.record).await }));
    }
    let mut out = RunStats::default();
    let mut last = shared.start;
    let mut all = Vec::new();
    for t in tasks {
        let w = match t.await {
            Ok(w) => w,
            Err(e) => {
                let mut w = WorkerStats::default();
                w.error(format!("a worker failed: {e}"));
                w
            }
        };
        out.ok += w.ok;
        out.errors += w.errors;
        for s in w.samples {
            if out.error_samples.len() < 5 {
                out.error_samples.push(s);
            }
        }
        if let Some(l) = w.last {
            last = last.max(l);
        }
        all.extend(w.latencies);
    }
    out.elapsed = last.saturating_duration_since(shared.start);
    out.latencies = Latencies::from_micros(all);
    let cpu_end = crate::stats::cpu_time();
    out.cpu = match (cpu_at_start.await.ok().flatten(), cpu_end) {
        (Some(a), Some(b)) => Some(b.saturating_sub(a)),
        _ => None,
    };
    out
}

async fn worker(addr: SocketAddr, workload: &dyn Workload, shared: &Shared, record: bool) -> WorkerStats {
    let mut stats = WorkerStats::default();
    let mut client = match Client::connect(addr).await {
        Ok(c) => c,
        Err(e) => {
            stats.error(e);
            return stats;
        }
    };
    if let Err(e) = workload.setup(&mut client).await {
        stats.error(format!("setup: {e}"));
        return stats;
    }
    let mut warm = 0u64;
    loop {
        let t0 = Instant::now();
        if t0 >= shared.end {
            break;
        }
        let measured = t0 >= shared.start;
        let n = if measured {
            let n = shared.tickets.fetch_add(1, Ordering::Relaxed);
            if n >= shared.max {
                break;
            }
            n
        } else {
            warm += 1;
            // Warm-up operations are numbered far away from the measured ones (and within
            // what every JSON parser reads exactly).
            WARMUP_IDS + warm
        };
        let result = workload.step(&mut client, n).await;
        let done = Instant::now();
        if !measured {
            if let Err(e) = result {
                stats.error(format!("warm-up: {e}"));
                // A broken connection stays broken: reconnect.
                match reconnect(addr, workload).await {
                    Ok(c) => client = c,
                    Err(e) => {
                        stats.error(e);
                        return stats;
                    }
                }
            }
            continue;
        }
        match result {
            Ok(()) => {
                stats.ok += 1;
                if record {
                    stats.latencies.push(u32::try_from(done.duration_since(t0).as_micros()).unwrap_or(u32::MAX));
                }
            }
            Err(e) => {
                stats.error(e);
                match reconnect(addr, workload).await {
                    Ok(c) => client = c,
                    Err(e) => {
                        stats.error(e);
                        return stats;
                    }
                }
            }
        }
        stats.last = Some(done);
    }
    stats
}

async fn reconnect(addr: SocketAddr, workload: &dyn Workload) -> Result<Client, String> {
    let mut c = Client::connect(addr).await?;
    workload.setup(&mut c).await.map_err(|e| format!("setup: {e}"))?;
    Ok(c)
}
