//! `mcp_axum::serve` over real TCP: connections that send half a head or half a body,
//! or sit idle, are closed after their timeout; the connection cap holds; graceful
//! shutdown lets the request in flight finish.

use std::time::Duration;

use mcp_axum::McpRouter;
use mcp_core::prelude::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{Instant, timeout};

struct Tools;

#[mcp_toolset]
impl Tools {
    /// Echo.
    #[mcp_tool(read_only)]
    fn echo(&self, message: String) -> String {
        message
    }

    /// Sleep a while.
    #[mcp_tool(read_only)]
    async fn nap(&self, ms: u64) -> &'static str {
        tokio::time::sleep(Duration::from_millis(ms)).await;
        "rested"
    }
}

fn app() -> axum::Router {
    let server = Server::builder().info(server_info!()).toolset(Tools).build().unwrap();
    McpRouter::new(server).into_router()
}

async fn listener() -> (tokio::net::TcpListener, String) {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap().to_string();
    (l, addr)
}

fn call(tool: &str, args: &str) -> String {
    let body = format!(
        r#"{{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{{"name":"{tool}","arguments":{args},"_meta":{{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{{}}}}}}}}"#
    );
    format!(
        "POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nAccept: application/json, text/event-stream\r\nMCP-Protocol-Version: 2026-07-28\r\nMcp-Method: tools/call\r\nMcp-Name: {tool}\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

/// Read until the peer closes the connection; what it sent and how long it took.
async fn until_closed(stream: &mut TcpStream, limit: Duration) -> Option<(String, Duration)> {
    let start = Instant::now();
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    timeout(limit, async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => out.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await
    .ok()?;
    Some((String::from_utf8_lossy(&out).into_owned(), start.elapsed()))
}

/// Read one whole response (headers and a Content-Length body).
async fn one_response(stream: &mut TcpStream) -> String {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = timeout(Duration::from_secs(5), stream.read(&mut buf)).await.expect("a response").unwrap();
        assert!(n > 0, "closed before a response: {}", String::from_utf8_lossy(&out));
        out.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&out);
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let len = head
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase().strip_prefix("content-length: ").map(|v| v.trim().parse().unwrap())
                })
                .unwrap_or(0usize);
            if body.len() >= len {
                return text.into_owned();
            }
        }
    }
}

#[tokio::test]
async fn half_sent_heads_and_bodies_and_idle_connections_are_closed() {
    let (l, addr) = listener().await;
    let serve = mcp_axum::serve(l, app())
        .header_read_timeout(Duration::from_millis(300))
        .body_read_timeout(Duration::from_millis(300));
    tokio::spawn(serve);

    // Half a head.
    let mut s = TcpStream::connect(&addr).await.unwrap();
    s.write_all(b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: appl").await.unwrap();
    let (_, took) = until_closed(&mut s, Duration::from_secs(5)).await.expect("a half-sent head is closed");
    assert!(took < Duration::from_secs(2), "{took:?}");

    // Nothing at all.
    let mut s = TcpStream::connect(&addr).await.unwrap();
    until_closed(&mut s, Duration::from_secs(5)).await.expect("a silent connection is closed");

    // Half a body: 408, then closed.
    let mut s = TcpStream::connect(&addr).await.unwrap();
    let request = call("echo", r#"{"message":"hello"}"#);
    s.write_all(&request.as_bytes()[..request.len() - 10]).await.unwrap();
    let (answer, took) = until_closed(&mut s, Duration::from_secs(5)).await.expect("a half-sent body is closed");
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("did not arrive in time"), "{answer}");
    assert!(took < Duration::from_secs(2), "{took:?}");

    // A whole request, then idle on keep-alive: answered, then closed (by the idle
    // timeout: the head timeout is long here).
    let (l, addr) = listener().await;
    let serve =
        mcp_axum::serve(l, app()).header_read_timeout(Duration::from_secs(30)).idle_timeout(Duration::from_millis(300));
    tokio::spawn(serve);
    let mut s = TcpStream::connect(&addr).await.unwrap();
    s.write_all(call("echo", r#"{"message":"hello"}"#).as_bytes()).await.unwrap();
    let answer = one_response(&mut s).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    let (_, took) = until_closed(&mut s, Duration::from_secs(5)).await.expect("an idle connection is closed");
    assert!(took < Duration::from_secs(2), "{took:?}");
}

#[tokio::test]
async fn a_request_in_flight_is_not_idle() {
    let (l, addr) = listener().await;
    let serve = mcp_axum::serve(l, app()).idle_timeout(Duration::from_millis(200));
    tokio::spawn(serve);
    let mut s = TcpStream::connect(&addr).await.unwrap();
    s.write_all(call("nap", r#"{"ms":700}"#).as_bytes()).await.unwrap();
    let answer = one_response(&mut s).await;
    assert!(answer.starts_with("HTTP/1.1 200") && answer.contains("rested"), "{answer}");
}

#[tokio::test]
async fn the_connection_cap_holds() {
    let (l, addr) = listener().await;
    let serve = mcp_axum::serve(l, app()).max_connections(2).header_read_timeout(Duration::from_secs(30));
    tokio::spawn(serve);
    // Two connections take both places (each is served: it gets an answer).
    let mut held = Vec::new();
    for _ in 0..2 {
        let mut s = TcpStream::connect(&addr).await.unwrap();
        s.write_all(call("echo", r#"{"message":"x"}"#).as_bytes()).await.unwrap();
        assert!(one_response(&mut s).await.starts_with("HTTP/1.1 200"));
        held.push(s);
    }
    // A third waits in the backlog: no answer while the two stay open.
    let mut third = TcpStream::connect(&addr).await.unwrap();
    third.write_all(call("echo", r#"{"message":"y"}"#).as_bytes()).await.unwrap();
    let mut buf = [0u8; 64];
    assert!(
        timeout(Duration::from_millis(500), third.read(&mut buf)).await.is_err(),
        "a connection beyond the cap was served"
    );
    // One closes: the third is served.
    drop(held.pop());
    let answer = one_response(&mut third).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}

#[tokio::test]
async fn graceful_shutdown_lets_the_request_in_flight_finish() {
    let (l, addr) = listener().await;
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(mcp_axum::serve(l, app()).with_graceful_shutdown(async {
        let _ = rx.await;
    }));
    let mut s = TcpStream::connect(&addr).await.unwrap();
    s.write_all(call("nap", r#"{"ms":400}"#).as_bytes()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    tx.send(()).unwrap();
    let answer = one_response(&mut s).await;
    assert!(answer.contains("rested"), "{answer}");
    timeout(Duration::from_secs(5), server).await.expect("the server stops").unwrap().unwrap();
    assert!(TcpStream::connect(&addr).await.is_err(), "still accepting");
}

#[tokio::test]
async fn serve_still_awaits_directly() {
    let (l, addr) = listener().await;
    tokio::spawn(async move { mcp_axum::serve(l, app()).await.unwrap() });
    let mut s = TcpStream::connect(&addr).await.unwrap();
    assert!(s.nodelay().is_ok());
    s.write_all(call("echo", r#"{"message":"direct"}"#).as_bytes()).await.unwrap();
    assert!(one_response(&mut s).await.contains("direct"));
}

#[tokio::test]
async fn handlers_see_the_peer_address() {
    use axum::extract::ConnectInfo;
    let (l, addr) = listener().await;
    let app = axum::Router::new().route(
        "/peer",
        axum::routing::get(|ConnectInfo(peer): ConnectInfo<std::net::SocketAddr>| async move { peer.to_string() }),
    );
    tokio::spawn(async move { mcp_axum::serve(l, app).await.unwrap() });
    let mut s = TcpStream::connect(&addr).await.unwrap();
    let local = s.local_addr().unwrap();
    s.write_all(b"GET /peer HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n").await.unwrap();
    let answer = one_response(&mut s).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.ends_with(&local.to_string()), "the handler saw the client's address {local}: {answer}");
}
