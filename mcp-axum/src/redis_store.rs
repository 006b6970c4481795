//! Legacy session state in Redis, so that several replicas behind a load balancer serve
//! the same sessions (feature `redis`).

use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use mcp_core::SessionState;
use mcp_core::server::BoxFuture;
use redis::AsyncCommands;
use redis::aio::ConnectionManager;
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

use crate::session::{SessionStore, StoreError};

/// Session state in Redis: one JSON value per session under `<prefix><id>`, expiring
/// after the idle timeout (every request restarts it).
///
/// ```no_run
/// # async fn run(server: mcp_core::Server) -> Result<(), Box<dyn std::error::Error>> {
/// let store = mcp_axum::RedisStore::connect("redis://127.0.0.1:6379").await?;
/// let router = mcp_axum::McpRouter::new(server).session_store(store).into_router::<()>();
/// # Ok(()) }
/// ```
///
/// Messages one replica cannot use (a client's answer to an elicitation another replica
/// sent) travel to the others over the `<prefix>forward` pub/sub channel.
#[derive(Clone)]
pub struct RedisStore {
    client: redis::Client,
    conn: ConnectionManager,
    prefix: String,
    idle_timeout: Duration,
}

#[derive(Serialize, Deserialize)]
struct Forwarded {
    session: String,
    message: String,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStore").field("prefix", &self.prefix).field("idle_timeout", &self.idle_timeout).finish()
    }
}

fn err(e: impl std::fmt::Display) -> StoreError {
    StoreError(e.to_string())
}

/// Open `url` and a connection that reconnects as needed: how every Redis store of this
/// crate connects. Errors never repeat the URL (it may hold a password).
pub(crate) async fn connect(url: &str) -> Result<(redis::Client, ConnectionManager), String> {
    let client = redis::Client::open(url).map_err(|e| format!("the Redis URL is not usable: {e}"))?;
    let conn = ConnectionManager::new(client.clone()).await.map_err(|e| format!("cannot connect to Redis: {e}"))?;
    Ok((client, conn))
}

impl RedisStore {
    /// Connect (and reconnect as needed) to the Redis at `url`.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let (client, conn) = connect(url).await.map_err(StoreError)?;
        Ok(RedisStore { client, conn, prefix: "mcp:session:".into(), idle_timeout: Duration::from_secs(30 * 60) })
    }

    /// The connection, for another store sharing it.
    #[cfg(feature = "oauth-server")]
    pub(crate) fn connection(&self) -> ConnectionManager {
        self.conn.clone()
    }

    /// Key prefix (default `mcp:session:`), to share one Redis between apps.
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// How long an idle session lives (default 30 minutes).
    pub fn idle_timeout(mut self, timeout: Duration) -> Self {
        self.idle_timeout = timeout.max(Duration::from_millis(1));
        self
    }

    fn key(&self, id: &str) -> String {
        format!("{}{id}", self.prefix)
    }

    fn channel(&self) -> String {
        format!("{}forward", self.prefix)
    }

    fn ttl_ms(&self) -> u64 {
        u64::try_from(self.idle_timeout.as_millis()).unwrap_or(u64::MAX)
    }
}

impl SessionStore for RedisStore {
    fn load<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<Option<SessionState>, StoreError>> {
        Box::pin(async move {
            let mut conn = self.conn.clone();
            // One round trip: read and restart the idle timer (GETEX, Redis 6.2+).
            let raw: Option<String> = conn.get_ex(self.key(id), redis::Expiry::PX(self.ttl_ms())).await.map_err(err)?;
            match raw {
                None => Ok(None),
                Some(json) => serde_json::from_str(&json).map(Some).map_err(err),
            }
        })
    }

    fn save<'a>(&'a self, id: &'a str, state: &'a SessionState) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            let json = serde_json::to_string(state).map_err(err)?;
            let mut conn = self.conn.clone();
            let _: () = conn.pset_ex(self.key(id), json, self.ttl_ms()).await.map_err(err)?;
            Ok(())
        })
    }

    fn delete<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            let mut conn = self.conn.clone();
            let _: () = conn.del(self.key(id)).await.map_err(err)?;
            Ok(())
        })
    }

    fn forward<'a>(&'a self, id: &'a str, message: &'a [u8]) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            let payload = Forwarded { session: id.to_owned(), message: String::from_utf8_lossy(message).into_owned() };
            let json = serde_json::to_string(&payload).map_err(err)?;
            let mut conn = self.conn.clone();
            let _: i64 = conn.publish(self.channel(), json).await.map_err(err)?;
            Ok(())
        })
    }

    fn forwarded(&self) -> Option<mpsc::Receiver<(String, Bytes)>> {
        let (tx, rx) = mpsc::channel(256);
        let client = self.client.clone();
        let channel = self.channel();
        tokio::spawn(async move {
            // Reconnect until the router goes away (its receiver is dropped).
            while !tx.is_closed() {
                let mut pubsub = match client.get_async_pubsub().await {
                    Ok(p) => p,
                    Err(e) => {
                        tracing::warn!(error = %e, "redis pub/sub unavailable; retrying");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                        continue;
                    }
                };
                if let Err(e) = pubsub.subscribe(&channel).await {
                    tracing::warn!(error = %e, "redis subscribe failed; retrying");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
                let mut messages = pubsub.into_on_message();
                while let Some(msg) = messages.next().await {
                    let Ok(payload) = msg.get_payload::<String>() else { continue };
                    let Ok(f) = serde_json::from_str::<Forwarded>(&payload) else { continue };
                    if tx.send((f.session, Bytes::from(f.message))).await.is_err() {
                        return;
                    }
                }
            }
        });
        Some(rx)
    }
}
