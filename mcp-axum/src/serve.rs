//! [`serve`]: axum's `serve` with what a server open to the network needs: `TCP_NODELAY`,
//! header, body and idle timeouts, a connection cap, and graceful shutdown.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use bytes::Bytes;
use http::Request;
use http_body::{Body as HttpBody, Frame, SizeHint};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::{Notify, Semaphore, watch};
use tokio::time::{Instant, Sleep};
use tower::Service as _;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Serve `app` on `listener`, like `axum::serve`, with what a server open to the network
/// needs; `.await` it (or spawn it), or configure it first:
///
/// | setting | default | what it bounds |
/// |---------|---------|----------------|
/// | [`header_read_timeout`](Serve::header_read_timeout) | 10 s | receiving a request's head; a new connection that sends nothing; on HTTP/1 also an idle keep-alive connection |
/// | [`body_read_timeout`](Serve::body_read_timeout) | 60 s | receiving a request's whole body, from when its head arrived (`408 Request Timeout`, then the connection is closed) |
/// | [`idle_timeout`](Serve::idle_timeout) | 60 s | a connection with no request in flight (HTTP/1 and HTTP/2) |
/// | [`max_connections`](Serve::max_connections) | 1024 | open connections; beyond it new ones wait in the listen backlog (no file descriptor is taken) until one closes |
///
/// Every accepted connection gets `TCP_NODELAY` (without it, SSE replies written in several
/// chunks stall on Nagle's algorithm for about 40 ms). A streaming response (SSE) counts as
/// a request in flight until it ends. Each request carries the peer's address as
/// [`ConnectInfo<SocketAddr>`](axum::extract::ConnectInfo), which handlers can extract and the
/// authorization server's per-address limits use (behind a reverse proxy that is the proxy's
/// address).
///
/// ```no_run
/// # async fn run(app: axum::Router) -> std::io::Result<()> {
/// use std::time::Duration;
///
/// let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:8000").await?;
/// mcp_axum::serve(listener, app)
///     .max_connections(256)
///     .idle_timeout(Duration::from_secs(30))
///     // For example `tokio::signal::ctrl_c()` (tokio's `signal` feature).
///     .with_graceful_shutdown(async move {
///         let _ = stopped.await;
///     })
///     .await
/// # }
/// ```
pub fn serve(listener: TcpListener, app: Router) -> Serve {
    Serve {
        setup: Some(Setup {
            listener,
            app,
            limits: Limits {
                header_read_timeout: Some(Duration::from_secs(10)),
                body_read_timeout: Some(Duration::from_secs(60)),
                idle_timeout: Some(Duration::from_secs(60)),
                max_connections: 1024,
            },
            signal: None,
        }),
        running: None,
    }
}

#[derive(Clone, Copy, Debug)]
struct Limits {
    header_read_timeout: Option<Duration>,
    body_read_timeout: Option<Duration>,
    idle_timeout: Option<Duration>,
    max_connections: usize,
}

type Signal = Pin<Box<dyn Future<Output = ()> + Send>>;

struct Setup {
    listener: TcpListener,
    app: Router,
    limits: Limits,
    signal: Option<Signal>,
}

/// A server being configured, then running; see [`serve`]. A future: `.await` it or
/// spawn it.
#[must_use = "a server does nothing until it is awaited"]
pub struct Serve {
    setup: Option<Setup>,
    running: Option<Pin<Box<dyn Future<Output = io::Result<()>> + Send>>>,
}

impl std::fmt::Debug for Serve {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut d = f.debug_struct("Serve");
        if let Some(s) = &self.setup {
            d.field("listener", &s.listener).field("limits", &s.limits);
        }
        d.field("running", &self.running.is_some()).finish()
    }
}

impl Serve {
    fn set(mut self, f: impl FnOnce(&mut Setup)) -> Self {
        if let Some(s) = self.setup.as_mut() {
            f(s);
        }
        self
    }

    /// Longest wait for a request's head (default 10 s; `None`: no limit). It also bounds
    /// how long a new connection may stay silent, and on HTTP/1 the wait starts when the
    /// connection is ready for its next request, so an idle keep-alive connection is
    /// closed after it as well.
    pub fn header_read_timeout(self, timeout: impl Into<Option<Duration>>) -> Self {
        let timeout = timeout.into();
        self.set(|s| s.limits.header_read_timeout = timeout)
    }

    /// Longest time to receive a request's whole body once its head arrived (default
    /// 60 s; `None`: no limit). A body that does not arrive in time is answered with
    /// `408 Request Timeout` by the MCP endpoint (your own handlers see a body error), and
    /// the connection is closed. Raise it for routes that take large uploads.
    pub fn body_read_timeout(self, timeout: impl Into<Option<Duration>>) -> Self {
        let timeout = timeout.into();
        self.set(|s| s.limits.body_read_timeout = timeout)
    }

    /// Close a connection that had no request in flight for this long (default 60 s;
    /// `None`: never).
    pub fn idle_timeout(self, timeout: impl Into<Option<Duration>>) -> Self {
        let timeout = timeout.into();
        self.set(|s| s.limits.idle_timeout = timeout)
    }

    /// Most connections open at once (default 1024, at least 1). Beyond it the server
    /// stops accepting: new connections wait in the listen backlog, holding no file
    /// descriptor of this process, until one closes. Keep it below the process's open
    /// file limit (`ulimit -n`) minus what the app needs besides.
    pub fn max_connections(self, connections: usize) -> Self {
        self.set(|s| s.limits.max_connections = connections.max(1))
    }

    /// Stop when `signal` completes: stop accepting, let the requests in flight finish
    /// (idle connections are closed at once), then return.
    pub fn with_graceful_shutdown(self, signal: impl Future<Output = ()> + Send + 'static) -> Self {
        self.set(|s| s.signal = Some(Box::pin(signal)))
    }

    /// The address the server listens on.
    pub fn local_addr(&self) -> io::Result<std::net::SocketAddr> {
        match &self.setup {
            Some(s) => s.listener.local_addr(),
            None => Err(io::Error::other("the server is running")),
        }
    }
}

impl Future for Serve {
    type Output = io::Result<()>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if let Some(s) = this.setup.take() {
            let signal = s.signal.unwrap_or_else(|| Box::pin(std::future::pending()));
            this.running = Some(Box::pin(run(s.listener, s.app, s.limits, signal)));
        }
        match this.running.as_mut() {
            Some(running) => running.as_mut().poll(cx),
            None => Poll::Ready(Ok(())),
        }
    }
}

async fn run(listener: TcpListener, app: Router, limits: Limits, mut signal: Signal) -> io::Result<()> {
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    // Every connection holds a receiver: `closed()` tells when all are gone.
    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    loop {
        // A permit first: beyond the cap, connections wait in the backlog, not here.
        let permit = tokio::select! {
            p = permits.clone().acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => break,
            },
            () = &mut signal => break,
        };
        let (tcp, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) if is_connection_error(&e) => continue,
                Err(e) => {
                    // Out of file descriptors, most likely: wait for some to close.
                    tracing::error!(error = %e, "accept failed; retrying in 1 s");
                    tokio::select! {
                        () = tokio::time::sleep(Duration::from_secs(1)) => continue,
                        () = &mut signal => break,
                    }
                }
            },
            () = &mut signal => break,
        };
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "could not set TCP_NODELAY");
        }
        let app = app.clone();
        let shutdown = shutdown_rx.clone();
        tokio::spawn(async move {
            connection(tcp, peer, app, limits, shutdown).await;
            drop(permit);
        });
    }
    drop(listener);
    drop(shutdown_rx);
    let _ = shutdown_tx.send(true);
    shutdown_tx.closed().await;
    Ok(())
}

fn is_connection_error(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused | io::ErrorKind::ConnectionAborted | io::ErrorKind::ConnectionReset
    )
}

/// Requests in flight on one connection, and when the last one ended.
struct Activity {
    in_flight: AtomicUsize,
    /// Requests started, ever.
    started: AtomicUsize,
    last: Mutex<Instant>,
    changed: Notify,
}

impl Activity {
    fn start(self: &Arc<Self>) -> InFlight {
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        self.started.fetch_add(1, Ordering::Relaxed);
        self.changed.notify_waiters();
        InFlight(self.clone())
    }

    /// Resolves once the connection had nothing in flight for `idle`.
    async fn idle_for(&self, idle: Duration) {
        loop {
            let changed = self.changed.notified();
            if self.in_flight.load(Ordering::Acquire) > 0 {
                changed.await;
                continue;
            }
            let deadline = *self.last.lock().unwrap_or_else(|e| e.into_inner()) + idle;
            if Instant::now() >= deadline {
                return;
            }
            tokio::select! {
                () = tokio::time::sleep_until(deadline) => {}
                () = changed => {}
            }
        }
    }
}

/// A request in flight until dropped (with its response body, so a stream counts).
struct InFlight(Arc<Activity>);

impl Drop for InFlight {
    fn drop(&mut self) {
        *self.0.last.lock().unwrap_or_else(|e| e.into_inner()) = Instant::now();
        self.0.in_flight.fetch_sub(1, Ordering::AcqRel);
        self.0.changed.notify_waiters();
    }
}

async fn connection(
    tcp: tokio::net::TcpStream,
    peer: std::net::SocketAddr,
    app: Router,
    limits: Limits,
    mut shutdown: watch::Receiver<bool>,
) {
    let activity = Arc::new(Activity {
        in_flight: AtomicUsize::new(0),
        started: AtomicUsize::new(0),
        last: Mutex::new(Instant::now()),
        changed: Notify::new(),
    });
    let service = {
        let activity = activity.clone();
        hyper::service::service_fn(move |req: Request<Incoming>| {
            let in_flight = activity.start();
            let deadline = limits.body_read_timeout.map(|t| Instant::now() + t);
            let mut req = req.map(|body| TimedBody { inner: body, deadline, sleep: None });
            // The peer address, as `axum::serve(.. into_make_service_with_connect_info())` gives
            // it: per-address limits (sign-in, registration) read it.
            req.extensions_mut().insert(axum::extract::ConnectInfo(peer));
            let mut app = app.clone();
            let answer = app.call(req);
            async move {
                let resp = answer.await.unwrap_or_else(|e: Infallible| match e {});
                Ok::<_, Infallible>(resp.map(|body| Body::new(Tracked { inner: body, _in_flight: in_flight })))
            }
        })
    };
    let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
    builder.http1().timer(TokioTimer::new()).header_read_timeout(limits.header_read_timeout);
    builder.http2().timer(TokioTimer::new());
    let conn = builder.serve_connection_with_upgrades(TokioIo::new(tcp), service);
    let mut conn = std::pin::pin!(conn);
    let idle = async {
        match limits.idle_timeout {
            Some(t) => activity.idle_for(t).await,
            None => std::future::pending().await,
        }
    };
    let mut idle = std::pin::pin!(idle);
    // Before its first request a connection is read to tell HTTP/1 from HTTP/2, which no
    // HTTP/1 timer covers: one that sends nothing is dropped after the head timeout.
    let silent = async {
        match limits.header_read_timeout {
            Some(t) => {
                tokio::time::sleep(t).await;
                if activity.started.load(Ordering::Relaxed) > 0 {
                    std::future::pending::<()>().await;
                }
            }
            None => std::future::pending().await,
        }
    };
    let mut silent = std::pin::pin!(silent);
    let mut closing = false;
    loop {
        tokio::select! {
            result = conn.as_mut() => {
                if let Err(e) = result {
                    tracing::trace!(error = %e, "connection ended with an error");
                }
                return;
            }
            () = &mut silent => return,
            () = &mut idle, if !closing => {
                closing = true;
                conn.as_mut().graceful_shutdown();
            }
            _ = shutdown.changed(), if !closing => {
                closing = true;
                conn.as_mut().graceful_shutdown();
            }
        }
    }
}

/// A request body that must arrive before a deadline; the timer is only set when the
/// body is not all there at once.
struct TimedBody {
    inner: Incoming,
    deadline: Option<Instant>,
    sleep: Option<Pin<Box<Sleep>>>,
}

/// A request body that did not arrive in time ([`Serve::body_read_timeout`]).
#[derive(Debug)]
pub(crate) struct BodyTimeout;

impl std::fmt::Display for BodyTimeout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the request body did not arrive in time")
    }
}

impl std::error::Error for BodyTimeout {}

impl HttpBody for TimedBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(frame) => Poll::Ready(frame.map(|f| f.map_err(Into::into))),
            Poll::Pending => {
                let Some(deadline) = this.deadline else { return Poll::Pending };
                let sleep = this.sleep.get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
                match sleep.as_mut().poll(cx) {
                    Poll::Ready(()) => {
                        this.deadline = None;
                        Poll::Ready(Some(Err(Box::new(BodyTimeout))))
                    }
                    Poll::Pending => Poll::Pending,
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// A response body that keeps its request in flight until it ends.
struct Tracked {
    inner: Body,
    _in_flight: InFlight,
}

impl HttpBody for Tracked {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
