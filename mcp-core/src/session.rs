//! Sessions: the negotiated state of a legacy (2025) session or a stdio connection, and
//! the bookkeeping of its requests ([`Peer`]).

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, RwLock};

use serde::{Deserialize, Serialize};
use tokio::sync::oneshot;
use tokio_util::sync::CancellationToken;

use crate::protocol::{ClientCapabilities, Implementation, LoggingLevel, Outcome, ProtocolVersion, RequestId};

/// Request bookkeeping shared by the requests of one connection (stdio) or one legacy
/// session (HTTP): requests in flight (so `notifications/cancelled` can reach them) and
/// requests this server sent to the client and awaits answers for.
#[derive(Debug, Default)]
pub struct Peer {
    inflight: Mutex<HashMap<RequestId, CancellationToken>>,
    pending: Mutex<HashMap<RequestId, oneshot::Sender<Outcome>>>,
    next_id: AtomicU64,
}

impl Peer {
    /// New, empty bookkeeping.
    pub fn new() -> Self {
        Self::default()
    }

    pub(crate) fn track(&self, id: &RequestId, token: CancellationToken) {
        lock(&self.inflight).insert(id.clone(), token);
    }

    pub(crate) fn untrack(&self, id: &RequestId) {
        lock(&self.inflight).remove(id);
    }

    /// Cancel the in-flight request `id`; returns whether it was found.
    pub fn cancel(&self, id: &RequestId) -> bool {
        match lock(&self.inflight).remove(id) {
            Some(t) => {
                t.cancel();
                true
            }
            None => false,
        }
    }

    /// Cancel every in-flight request (the connection or session ended).
    pub fn cancel_all(&self) {
        for (_, t) in lock(&self.inflight).drain() {
            t.cancel();
        }
        lock(&self.pending).clear();
    }

    /// Number of requests in flight.
    pub fn in_flight(&self) -> usize {
        lock(&self.inflight).len()
    }

    pub(crate) fn register(&self) -> (RequestId, oneshot::Receiver<Outcome>) {
        let n = self.next_id.fetch_add(1, Ordering::Relaxed);
        let id = RequestId::String(format!("srv-{n}").into());
        let (tx, rx) = oneshot::channel();
        lock(&self.pending).insert(id.clone(), tx);
        (id, rx)
    }

    pub(crate) fn forget(&self, id: &RequestId) {
        lock(&self.pending).remove(id);
    }

    /// Deliver the client's answer to a request this server sent. Returns `false` when
    /// nothing waits for that id.
    pub fn resolve(&self, id: &RequestId, outcome: Outcome) -> bool {
        match lock(&self.pending).remove(id) {
            Some(tx) => tx.send(outcome).is_ok(),
            None => false,
        }
    }
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The negotiated state of a legacy (2025) session. Serializable so that session stores
/// can keep it outside the process.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionState {
    /// The negotiated version; `None` until `initialize` succeeded.
    pub protocol_version: Option<ProtocolVersion>,
    /// The client's identity (shared with the contexts of the session's requests).
    pub client_info: Option<Arc<Implementation>>,
    /// The client's capabilities (shared with the contexts of the session's requests).
    #[serde(default)]
    pub client_capabilities: Arc<ClientCapabilities>,
    /// Whether `notifications/initialized` arrived.
    #[serde(default)]
    pub initialized: bool,
    /// Level set with `logging/setLevel`.
    pub log_level: Option<LoggingLevel>,
    /// URIs subscribed with `resources/subscribe`.
    #[serde(default)]
    pub subscriptions: BTreeSet<String>,
    /// The subject of the principal that created the session, if any.
    pub principal: Option<String>,
}

/// A legacy session (or, on stdio, the connection). Holds the negotiated state and the
/// request bookkeeping; transports keep it between requests.
#[derive(Debug, Default)]
pub struct Session {
    state: RwLock<SessionState>,
    generation: AtomicU64,
    peer: Peer,
}

impl Session {
    /// A new session that has not been initialized.
    pub fn new() -> Self {
        Self::default()
    }

    /// A session restored from stored state.
    pub fn from_state(state: SessionState) -> Self {
        Session { state: RwLock::new(state), generation: AtomicU64::new(0), peer: Peer::new() }
    }

    /// A copy of the state.
    pub fn state(&self) -> SessionState {
        self.state.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Replace the state with one read from a shared store (another replica changed it).
    pub fn replace_state(&self, state: SessionState) {
        self.update(|st| *st = state);
    }

    /// [`Session::replace_state`], unless the state changed here since generation `seen`
    /// (a change this process has not saved yet wins: the request that made it saves
    /// it). The new generation when replaced.
    pub fn replace_state_unless_changed(&self, seen: u64, state: SessionState) -> Option<u64> {
        let mut st = self.state.write().unwrap_or_else(|e| e.into_inner());
        if self.generation.load(Ordering::Acquire) != seen {
            return None;
        }
        *st = state;
        Some(self.generation.fetch_add(1, Ordering::AcqRel) + 1)
    }

    /// The negotiated version, once initialized.
    pub fn protocol_version(&self) -> Option<ProtocolVersion> {
        self.state.read().unwrap_or_else(|e| e.into_inner()).protocol_version
    }

    /// Changes every time the state changes; stores persist when it moved.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Read the state in place (no copy, unlike [`Session::state`]); `f` must not touch
    /// this session again.
    pub fn read<R>(&self, f: impl FnOnce(&SessionState) -> R) -> R {
        f(&self.state.read().unwrap_or_else(|e| e.into_inner()))
    }

    pub(crate) fn update<R>(&self, f: impl FnOnce(&mut SessionState) -> R) -> R {
        // The generation moves while the state is locked, so that a replacement that
        // checks it sees every change (`replace_state_unless_changed`).
        let mut st = self.state.write().unwrap_or_else(|e| e.into_inner());
        let r = f(&mut st);
        self.generation.fetch_add(1, Ordering::AcqRel);
        r
    }

    /// The request bookkeeping.
    pub fn peer(&self) -> &Peer {
        &self.peer
    }
}
