//! The stdio transport: newline-delimited JSON-RPC on stdin and stdout.

use std::io;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::Extensions;
use crate::protocol::jsonrpc::{Parsed, parse};
use crate::protocol::{ErrorObject, Message, Response, methods};
use crate::server::{Inbound, Server};
use crate::session::Session;

/// Longest message accepted on stdin (bytes).
const MAX_MESSAGE: usize = 16 * 1024 * 1024;

/// After stdin closes, requests still running get this long to finish and answer.
const DRAIN: Duration = Duration::from_secs(5);

impl Server {
    /// Serve MCP on this process's stdin and stdout until stdin closes.
    ///
    /// When stdin closes, requests still running get a few seconds to finish and answer;
    /// then they are cancelled and the function returns.
    ///
    /// Only JSON-RPC goes to stdout; log with `tracing` (or anything else) to stderr. One
    /// process is one connection: a legacy client opens its session with `initialize`, a
    /// 2026-07-28 client sends `_meta` with every request, and both may be served.
    pub async fn serve_stdio(&self) -> io::Result<()> {
        self.serve_io(tokio::io::stdin(), tokio::io::stdout()).await
    }

    /// [`Server::serve_stdio`] with request values every request sees, such as the
    /// [`Principal`](crate::Principal) of the local user (stdio has no authentication: the
    /// process that launched the server is the user).
    pub async fn serve_stdio_with(&self, extensions: Extensions) -> io::Result<()> {
        self.serve_io_with(tokio::io::stdin(), tokio::io::stdout(), extensions).await
    }

    /// [`Server::serve_stdio`] over any reader and writer (pipes, sockets, tests).
    pub async fn serve_io<R, W>(&self, reader: R, writer: W) -> io::Result<()>
    where
        R: AsyncRead + Unpin,
        W: AsyncWrite + Unpin + Send + 'static,
    {
        self.serve_io_with(reader, writer, Extensions::default()).await
    }

    /// [`Server::serve_io`] with request values every request sees.
    pub async fn serve_io_with<R, W>(&self, reader: R, writer: W, extensions: Extensions) -> io::Result<()>
    where
        R: AsyncRead + Unpin,
        W: AsyncWrite + Unpin + Send + 'static,
    {
        let session = Arc::new(Session::new());
        let connection = CancellationToken::new();
        let (sink, mut outgoing) = mpsc::channel::<Message>(256);
        let (reply_tx, mut replies) = mpsc::channel::<Vec<u8>>(256);

        let writer_task = tokio::spawn(async move {
            let mut writer = writer;
            loop {
                let line = tokio::select! {
                    Some(m) = outgoing.recv() => serde_json::to_vec(&m).unwrap_or_default(),
                    Some(bytes) = replies.recv() => bytes,
                    else => break,
                };
                if writer.write_all(&line).await.is_err() || writer.write_all(b"\n").await.is_err() {
                    break;
                }
                if writer.flush().await.is_err() {
                    break;
                }
            }
        });

        let events_task = {
            let server = self.clone();
            let session = session.clone();
            let sink = sink.clone();
            let mut events = self.subscribe_events();
            let stop = connection.clone();
            tokio::spawn(async move {
                loop {
                    tokio::select! {
                        _ = stop.cancelled() => break,
                        ev = events.recv() => match ev {
                            Ok(ev) => {
                                if let Some(n) = server.legacy_notification(&ev, &session)
                                    && sink.send(Message::Notification(n)).await.is_err() { break; }
                            }
                            Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                            Err(_) => break,
                        }
                    }
                }
            })
        };

        let mut running = tokio::task::JoinSet::new();
        let mut reader = BufReader::new(reader);
        let mut buf = Vec::new();
        let result = loop {
            buf.clear();
            match read_line(&mut reader, &mut buf).await {
                Ok(0) => break Ok(()),
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::InvalidData => {
                    let resp = Response::error(None, ErrorObject::invalid_request(e.to_string()));
                    let _ = reply_tx.send(resp.to_vec()).await;
                    continue;
                }
                Err(e) => break Err(e),
            }
            let line = buf.trim_ascii();
            if line.is_empty() {
                continue;
            }
            let parsed = match parse(line) {
                Ok(p) => p,
                Err(resp) => {
                    let _ = reply_tx.send(resp.to_vec()).await;
                    continue;
                }
            };
            let inbound = Inbound::new()
                .session(session.clone())
                .sink(sink.clone())
                .request_cancel(connection.child_token())
                .extensions(extensions.clone());
            // `initialize`, notifications and the client's answers change what later
            // messages see, so they are handled in arrival order. Other requests run on
            // their own tasks, so that an answer to a server request, or a cancellation,
            // can arrive while a tool is running.
            let in_order = match &parsed {
                Parsed::Single(Message::Request(r)) => r.method == methods::INITIALIZE,
                Parsed::Single(_) => true,
                Parsed::Batch(_) => false,
            };
            if in_order {
                if let Some(reply) = self.handle_parsed(parsed, inbound).await {
                    let _ = reply_tx.send(reply.to_vec()).await;
                }
                continue;
            }
            while running.try_join_next().is_some() {}
            let server = self.clone();
            let reply_tx = reply_tx.clone();
            running.spawn(async move {
                if let Some(reply) = server.handle_parsed(parsed, inbound).await {
                    let _ = reply_tx.send(reply.to_vec()).await;
                }
            });
        };
        let _ = tokio::time::timeout(DRAIN, async { while running.join_next().await.is_some() {} }).await;
        connection.cancel();
        session.peer().cancel_all();
        running.shutdown().await;
        let _ = events_task.await;
        drop(sink);
        drop(reply_tx);
        // In-flight tasks hold senders until they see the cancellation; the writer ends
        // once they are gone.
        let _ = writer_task.await;
        result
    }
}

/// Read one line, refusing lines longer than [`MAX_MESSAGE`] (the rest of such a line is
/// skipped and an `InvalidData` error returned).
async fn read_line<R: AsyncBufRead + Unpin>(reader: &mut R, buf: &mut Vec<u8>) -> io::Result<usize> {
    let mut total = 0;
    let mut too_long = false;
    loop {
        let available = reader.fill_buf().await?;
        if available.is_empty() {
            return Ok(total);
        }
        let (chunk, done) = match available.iter().position(|&b| b == b'\n') {
            Some(i) => (&available[..=i], true),
            None => (available, false),
        };
        let n = chunk.len();
        if !too_long {
            if buf.len() + n > MAX_MESSAGE {
                too_long = true;
                buf.clear();
            } else {
                buf.extend_from_slice(chunk);
            }
        }
        reader.consume(n);
        total += n;
        if done {
            if too_long {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("message larger than {MAX_MESSAGE} bytes"),
                ));
            }
            return Ok(total);
        }
    }
}
