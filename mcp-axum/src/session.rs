//! Legacy (2025) sessions: where their state is kept ([`SessionStore`]), and the live
//! sessions of this process (request bookkeeping, the GET stream and its replay buffer).

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use mcp_core::server::BoxFuture;
use mcp_core::{Session, SessionState};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// Why a session store failed.
#[derive(Debug, Clone)]
pub struct StoreError(pub String);

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "session store: {}", self.0)
    }
}

impl std::error::Error for StoreError {}

/// Where the state of legacy sessions lives. The in-process [`MemoryStore`] is the
/// default; a shared store (Redis) lets several replicas serve the same sessions.
///
/// A store keeps [`SessionState`] (negotiated version, client capabilities, log level,
/// subscriptions, owner), not the in-flight requests of a process.
pub trait SessionStore: Send + Sync + 'static {
    /// The state of session `id`, restarting its idle timer; `None` when it does not
    /// exist (or expired). Called once per request of the session.
    fn load<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<Option<SessionState>, StoreError>>;
    /// Create or replace session `id`, and restart its idle timer.
    fn save<'a>(&'a self, id: &'a str, state: &'a SessionState) -> BoxFuture<'a, Result<(), StoreError>>;
    /// Remove session `id`.
    fn delete<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<(), StoreError>>;

    /// [`SessionStore::load`] for stores that keep the state shared in memory and can
    /// hand it out without copying it; the default wraps `load`.
    fn load_shared<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<Option<Arc<SessionState>>, StoreError>> {
        Box::pin(async move { Ok(self.load(id).await?.map(Arc::new)) })
    }

    /// Hand a message of session `id` that this process could not use (a client's answer
    /// to a request another replica sent, a cancellation of a request another replica
    /// runs) to the other replicas. A store shared by replicas implements it together
    /// with [`SessionStore::forwarded`]; the default drops the message.
    fn forward<'a>(&'a self, id: &'a str, message: &'a [u8]) -> BoxFuture<'a, Result<(), StoreError>> {
        let _ = (id, message);
        Box::pin(async { Ok(()) })
    }

    /// Whether other processes may write this store (the default): then a session's
    /// state is compared with the stored one on every request. A store only this process
    /// writes ([`MemoryStore`]) answers `false`, and the comparison is skipped.
    fn is_shared(&self) -> bool {
        true
    }

    /// The messages other replicas forwarded, as `(session id, JSON-RPC message)`. Called
    /// once per router; `None` when the store is not shared.
    fn forwarded(&self) -> Option<mpsc::Receiver<(String, Bytes)>> {
        None
    }
}

/// Limits of the sessions one process keeps.
#[derive(Clone, Copy, Debug)]
pub struct SessionLimits {
    /// Most sessions kept; when full, the longest idle one is evicted.
    pub max_sessions: usize,
    /// Most sessions one authenticated principal keeps (default 100): a principal at its
    /// cap that opens another ends its own oldest session, never someone else's.
    /// Anonymous sessions are bounded by `max_sessions` only.
    pub max_sessions_per_principal: usize,
    /// Sessions idle longer than this are removed.
    pub idle_timeout: Duration,
}

impl Default for SessionLimits {
    fn default() -> Self {
        SessionLimits {
            max_sessions: 10_000,
            max_sessions_per_principal: 100,
            idle_timeout: Duration::from_secs(30 * 60),
        }
    }
}

/// A value of [`Bounded`]: the value, its last use, the stamp of its newest entry in the
/// queue, and its owner.
type Entry<V> = (V, Instant, u64, Option<Arc<str>>);

/// A bounded map with idle expiry, shared by the memory store and the live registry.
#[derive(Debug)]
struct Bounded<V> {
    /// Value, last use, the stamp of its newest entry in `queue`, and its owner.
    map: HashMap<Arc<str>, Entry<V>>,
    /// The ids of each owner's entries, oldest first.
    owners: HashMap<Arc<str>, VecDeque<Arc<str>>>,
    /// Ids by last use, oldest first; an entry whose stamp is no longer its id's is
    /// stale and skipped. Expiry and eviction pop from the front, so a full store costs
    /// O(1) amortized per new session instead of a scan of every entry, for about 24
    /// bytes per session.
    queue: VecDeque<(u64, Arc<str>)>,
    next: u64,
    limits: SessionLimits,
}

impl<V: Clone> Bounded<V> {
    fn new(limits: SessionLimits) -> Self {
        Bounded { map: HashMap::new(), owners: HashMap::new(), queue: VecDeque::new(), next: 0, limits }
    }

    /// How far apart uses must be to be recorded: a 64th of the idle timeout, at most a
    /// second.
    fn touch_granularity(&self) -> Duration {
        (self.limits.idle_timeout / 64).min(Duration::from_secs(1))
    }

    /// Record a use of `key` now.
    fn touch(&mut self, key: Arc<str>) -> u64 {
        self.next += 1;
        self.queue.push_back((self.next, key));
        // Drop stale entries once they outnumber the live ones.
        if self.queue.len() > 2 * self.map.len() + 16 {
            let map = &self.map;
            self.queue.retain(|(seq, k)| map.get(k).is_some_and(|e| e.2 == *seq));
        }
        self.next
    }

    fn get(&mut self, id: &str, now: Instant) -> Option<V> {
        let (key, (v, last, _, _)) = self.map.get_key_value(id)?;
        let idle = now.duration_since(*last);
        if idle > self.limits.idle_timeout {
            self.remove(id);
            return None;
        }
        // A use shortly after the last one changes neither the expiry nor the eviction
        // order by more than this: skip recording it (most requests of a busy session).
        if idle < self.touch_granularity() {
            return Some(v.clone());
        }
        let key = key.clone();
        let seq = self.touch(key);
        let (v, last, stamp, _) = self.map.get_mut(id)?;
        *last = now;
        *stamp = seq;
        Some(v.clone())
    }

    /// Insert, evicting expired entries and then the longest idle one when full.
    /// Returns what was evicted.
    #[cfg(test)]
    fn insert(&mut self, id: String, v: V, now: Instant) -> Vec<V> {
        self.insert_owned(id, v, None, now).0
    }

    /// Insert an entry of `owner` (an existing entry keeps its owner). A new entry of an
    /// owner at its cap first evicts that owner's oldest; then, when full, expired
    /// entries and the longest idle one go. Returns everything evicted, and the ids
    /// evicted for the owner's cap.
    fn insert_owned(&mut self, id: String, v: V, owner: Option<&str>, now: Instant) -> (Vec<V>, Vec<Arc<str>>) {
        let mut evicted = Vec::new();
        let mut own = Vec::new();
        let mut owner_key = None;
        let key: Arc<str> = match self.map.get_key_value(id.as_str()) {
            Some((k, _)) => k.clone(),
            None => {
                if let Some(o) = owner {
                    let cap = self.limits.max_sessions_per_principal.max(1);
                    while self.owners.get(o).is_some_and(|ids| ids.len() >= cap) {
                        let Some(oldest) = self.owners.get(o).and_then(|ids| ids.front().cloned()) else { break };
                        match self.remove(&oldest) {
                            Some(v) => evicted.push(v),
                            // Not in the map (cannot happen): drop the stale id.
                            None => drop(self.owners.get_mut(o).and_then(VecDeque::pop_front)),
                        }
                        own.push(oldest);
                    }
                    owner_key = Some(self.owners.get_key_value(o).map_or_else(|| Arc::from(o), |(k, _)| k.clone()));
                }
                if self.map.len() >= self.limits.max_sessions {
                    evicted.extend(self.sweep(now));
                    while self.map.len() >= self.limits.max_sessions.max(1) {
                        match self.pop_oldest() {
                            Some(v) => evicted.push(v),
                            None => break,
                        }
                    }
                }
                let key = Arc::from(id);
                if let Some(o) = &owner_key {
                    self.owners.entry(o.clone()).or_default().push_back(Arc::clone(&key));
                }
                key
            }
        };
        let owner_key = owner_key.or_else(|| self.map.get(&key).and_then(|e| e.3.clone()));
        self.map.insert(key.clone(), (v, now, 0, owner_key));
        let seq = self.touch(key.clone());
        if let Some(e) = self.map.get_mut(&key) {
            e.2 = seq;
        }
        (evicted, own)
    }

    fn remove(&mut self, id: &str) -> Option<V> {
        let (v, _, _, owner) = self.map.remove(id)?;
        if let Some(o) = owner
            && let Some(ids) = self.owners.get_mut(&o)
        {
            ids.retain(|i| &**i != id);
            if ids.is_empty() {
                self.owners.remove(&o);
            }
        }
        self.shrink();
        Some(v)
    }

    /// Give the tables' memory back once most entries are gone (after a wave of
    /// sessions expired): a hash map and a queue keep their capacity otherwise. Shrinking
    /// to twice what is left keeps the cost amortized O(1) per removal.
    fn shrink(&mut self) {
        let (len, capacity) = (self.map.len(), self.map.capacity());
        if capacity <= 64 || len >= capacity / 8 {
            return;
        }
        self.map.shrink_to(len * 2);
        let map = &self.map;
        self.queue.retain(|(seq, k)| map.get(k).is_some_and(|e| e.2 == *seq));
        self.queue.shrink_to(self.queue.len() * 2);
    }

    /// The front of the queue that is still current, removed.
    fn pop_oldest(&mut self) -> Option<V> {
        while let Some((seq, k)) = self.queue.pop_front() {
            if self.map.get(&k).is_some_and(|e| e.2 == seq) {
                return self.remove(&k);
            }
        }
        None
    }

    /// Drop the sessions idle for longer than the timeout: the front of the queue.
    fn sweep(&mut self, now: Instant) -> Vec<V> {
        let timeout = self.limits.idle_timeout;
        let mut out = Vec::new();
        while let Some((seq, k)) = self.queue.front() {
            match self.map.get(k) {
                Some(e) if e.2 == *seq => {
                    if now.duration_since(e.1) <= timeout {
                        break;
                    }
                    let k = k.clone();
                    self.queue.pop_front();
                    out.extend(self.remove(&k));
                }
                _ => {
                    self.queue.pop_front();
                }
            }
        }
        out
    }

    fn len(&self) -> usize {
        self.map.len()
    }
}

/// Session state kept in this process: bounded, idle sessions evicted.
#[derive(Debug)]
pub struct MemoryStore {
    inner: Mutex<Bounded<Arc<SessionState>>>,
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self::new(SessionLimits::default())
    }
}

impl MemoryStore {
    /// A store with these limits.
    pub fn new(limits: SessionLimits) -> Self {
        MemoryStore { inner: Mutex::new(Bounded::new(limits)) }
    }

    /// Number of sessions stored.
    pub fn len(&self) -> usize {
        lock(&self.inner).len()
    }

    /// Whether no session is stored.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Remove idle sessions now (also happens when the store is full).
    pub fn sweep(&self) -> usize {
        lock(&self.inner).sweep(Instant::now()).len()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl SessionStore for MemoryStore {
    fn load<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<Option<SessionState>, StoreError>> {
        let v = lock(&self.inner).get(id, Instant::now()).map(|s| (*s).clone());
        Box::pin(async move { Ok(v) })
    }

    fn load_shared<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<Option<Arc<SessionState>>, StoreError>> {
        let v = lock(&self.inner).get(id, Instant::now());
        Box::pin(async move { Ok(v) })
    }

    fn save<'a>(&'a self, id: &'a str, state: &'a SessionState) -> BoxFuture<'a, Result<(), StoreError>> {
        let owner = state.principal.as_deref();
        lock(&self.inner).insert_owned(id.to_owned(), Arc::new(state.clone()), owner, Instant::now());
        Box::pin(async { Ok(()) })
    }

    fn delete<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<(), StoreError>> {
        lock(&self.inner).remove(id);
        Box::pin(async { Ok(()) })
    }

    fn is_shared(&self) -> bool {
        false
    }
}

/// An SSE event of a session's GET stream, kept for `Last-Event-ID` replay.
#[derive(Clone, Debug)]
pub(crate) struct StreamEvent {
    pub(crate) id: u64,
    pub(crate) data: Bytes,
}

/// The server-to-client stream of a legacy session (HTTP GET).
#[derive(Debug, Default)]
pub(crate) struct Stream {
    /// The connected GET response, if any.
    pub(crate) sender: Option<mpsc::Sender<StreamEvent>>,
    /// Recent events, oldest first.
    pub(crate) buffer: VecDeque<StreamEvent>,
    pub(crate) next_id: u64,
    /// Whether the event forwarder of this session runs.
    pub(crate) forwarding: bool,
}

/// A session as this process holds it.
#[derive(Debug)]
pub(crate) struct Live {
    pub(crate) session: Arc<Session>,
    pub(crate) stream: Mutex<Stream>,
    /// Fires when the session ends (deleted or evicted).
    pub(crate) ended: CancellationToken,
    /// Generation of the state last written to the store.
    pub(crate) saved: Mutex<u64>,
}

impl Live {
    pub(crate) fn new(session: Arc<Session>) -> Arc<Self> {
        let saved = session.generation();
        Arc::new(Live {
            session,
            stream: Mutex::new(Stream::default()),
            ended: CancellationToken::new(),
            saved: Mutex::new(saved),
        })
    }

    pub(crate) fn stream(&self) -> std::sync::MutexGuard<'_, Stream> {
        lock(&self.stream)
    }

    pub(crate) fn end(&self) {
        self.ended.cancel();
        self.session.peer().cancel_all();
        lock(&self.stream).sender = None;
    }

    /// Take a state another replica saved, unless this process changed the session since
    /// it last saved it: then that change, which its request is about to save, wins
    /// (taking the store's older state would lose it).
    pub(crate) fn adopt(&self, state: SessionState) {
        let mut saved = lock(&self.saved);
        if let Some(generation) = self.session.replace_state_unless_changed(*saved, state) {
            *saved = generation;
        }
    }

    /// Whether the state changed since it was last saved; marks it saved.
    pub(crate) fn take_dirty(&self) -> bool {
        let now = self.session.generation();
        let mut saved = lock(&self.saved);
        let dirty = *saved != now;
        *saved = now;
        dirty
    }
}

/// The sessions of one router: live ones in this process, state in the store.
pub(crate) struct Sessions {
    live: Mutex<Bounded<Arc<Live>>>,
    pub(crate) store: Arc<dyn SessionStore>,
}

impl Sessions {
    pub(crate) fn new(store: Arc<dyn SessionStore>, limits: SessionLimits) -> Self {
        Sessions { live: Mutex::new(Bounded::new(limits)), store }
    }

    /// A new random session id: 128 bits as 32 hex digits (visible ASCII).
    pub(crate) fn new_id() -> Result<String, StoreError> {
        let mut b = [0u8; 16];
        getrandom::fill(&mut b).map_err(|e| StoreError(format!("no secure random source: {e}")))?;
        Ok(b.iter().map(|x| format!("{x:02x}")).collect())
    }

    /// Register a new session after a successful `initialize`.
    pub(crate) async fn create(&self, id: &str, live: Arc<Live>) -> Result<(), StoreError> {
        self.store.save(id, &live.session.state()).await?;
        live.take_dirty();
        self.insert_live(id, live).await;
        Ok(())
    }

    /// Keep `live` in this process's registry; end what that evicts, and remove from the
    /// store the sessions its principal had beyond its cap.
    async fn insert_live(&self, id: &str, live: Arc<Live>) {
        let owner = live.session.read(|st| st.principal.clone());
        let (evicted, own) = lock(&self.live).insert_owned(id.to_owned(), live, owner.as_deref(), Instant::now());
        for e in evicted {
            e.end();
        }
        for id in own {
            if let Err(e) = self.store.delete(&id).await {
                tracing::warn!(error = %e, "could not remove a session beyond its principal's cap");
            }
        }
    }

    /// The live session `id`: from this process, or restored from the store. The store
    /// is asked every time: it decides whether the session still exists, and another
    /// replica may have changed its state.
    pub(crate) async fn get(&self, id: &str) -> Result<Option<Arc<Live>>, StoreError> {
        let stored = self.store.load_shared(id).await?;
        let cached = lock(&self.live).get(id, Instant::now());
        match (stored, cached) {
            (None, cached) => {
                if cached.is_some()
                    && let Some(l) = lock(&self.live).remove(id)
                {
                    l.end();
                }
                Ok(None)
            }
            (Some(state), Some(live)) => {
                // Only a store that other processes write can hold a newer state than
                // this process's; compared in place: most requests find it unchanged.
                if self.store.is_shared() && !live.session.read(|current| *current == *state) {
                    live.adopt(Arc::unwrap_or_clone(state));
                }
                Ok(Some(live))
            }
            (Some(state), None) => {
                let live = Live::new(Arc::new(Session::from_state(Arc::unwrap_or_clone(state))));
                self.insert_live(id, live.clone()).await;
                Ok(Some(live))
            }
        }
    }

    /// The live session `id` if this process holds it (no store access).
    pub(crate) fn cached(&self, id: &str) -> Option<Arc<Live>> {
        lock(&self.live).get(id, Instant::now())
    }

    /// Write the state back (the caller knows a request changed it: [`Live::take_dirty`]).
    pub(crate) async fn save(&self, id: &str, live: &Live) -> Result<(), StoreError> {
        self.store.save(id, &live.session.state()).await
    }

    /// End session `id`; whether it existed.
    pub(crate) async fn delete(&self, id: &str) -> Result<bool, StoreError> {
        let existed = self.store.load(id).await?.is_some();
        self.store.delete(id).await?;
        if let Some(live) = lock(&self.live).remove(id) {
            live.end();
            return Ok(true);
        }
        Ok(existed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mcp_core::protocol::LoggingLevel;

    #[test]
    fn bounded_evicts_idle_then_oldest() {
        let limits = SessionLimits { max_sessions: 2, idle_timeout: Duration::from_secs(10), ..Default::default() };
        let mut b = Bounded::new(limits);
        let t0 = Instant::now();
        assert!(b.insert("a".into(), 1, t0).is_empty());
        assert!(b.insert("b".into(), 2, t0 + Duration::from_secs(1)).is_empty());
        // Full: the longest idle ("a") goes.
        assert_eq!(b.insert("c".into(), 3, t0 + Duration::from_secs(2)), vec![1]);
        assert_eq!(b.get("a", t0 + Duration::from_secs(2)), None);
        // Expired entries are gone on access.
        assert_eq!(b.get("b", t0 + Duration::from_secs(20)), None);
        assert_eq!(b.get("c", t0 + Duration::from_secs(3)), Some(3));
    }

    #[test]
    fn bounded_is_least_recently_used_and_sweeps_from_the_front() {
        let limits = SessionLimits { max_sessions: 3, idle_timeout: Duration::from_secs(10), ..Default::default() };
        let mut b = Bounded::new(limits);
        let t0 = Instant::now();
        let at = |s| t0 + Duration::from_secs(s);
        b.insert("a".into(), 1, at(0));
        b.insert("b".into(), 2, at(1));
        b.insert("c".into(), 3, at(2));
        // Using "a" makes "b" the longest idle; saving "c" again keeps one entry.
        assert_eq!(b.get("a", at(3)), Some(1));
        assert!(b.insert("c".into(), 30, at(4)).is_empty());
        assert_eq!(b.len(), 3);
        assert_eq!(b.insert("d".into(), 4, at(5)), vec![2]);
        assert!(b.queue.len() <= 2 * b.map.len() + 16);
        // At 13.5 s "a" (used at 3 s) has expired, "c" (4 s) and "d" (5 s) have not.
        assert_eq!(b.sweep(at(13) + Duration::from_millis(500)), vec![1]);
        assert_eq!(b.remove("c"), Some(30));
        assert_eq!(b.sweep(at(16)), vec![4]);
        assert!(b.map.is_empty() && b.queue.is_empty());
        // Many uses of one session do not grow the queue without bound.
        b.insert("e".into(), 5, at(20));
        for i in 0..1000 {
            assert_eq!(b.get("e", at(20) + Duration::from_millis(i)), Some(5));
        }
        assert!(b.queue.len() <= 2 * b.map.len() + 17, "{}", b.queue.len());
    }

    #[test]
    fn tables_give_their_memory_back_when_most_sessions_are_gone() {
        let limits =
            SessionLimits { max_sessions: 10_000, idle_timeout: Duration::from_secs(10), ..Default::default() };
        let mut b = Bounded::new(limits);
        let t0 = Instant::now();
        for i in 0..5000 {
            b.insert(format!("s{i}"), i, t0);
        }
        b.insert("late".into(), 1, t0 + Duration::from_secs(8));
        let (map, queue) = (b.map.capacity(), b.queue.capacity());
        assert!(map >= 5000 && queue >= 5000);
        assert_eq!(b.sweep(t0 + Duration::from_secs(11)).len(), 5000);
        assert_eq!(b.get("late", t0 + Duration::from_secs(12)), Some(1));
        assert!(b.map.capacity() <= 64 && b.queue.capacity() <= 64, "{} {}", b.map.capacity(), b.queue.capacity());
        // And grow again as needed.
        for i in 0..100 {
            b.insert(format!("t{i}"), i, t0 + Duration::from_secs(13));
        }
        assert_eq!(b.len(), 101);
    }

    #[test]
    fn uses_closer_than_the_granularity_are_not_recorded() {
        // 6.4 s idle timeout: uses 100 ms apart or closer are not recorded.
        let limits = SessionLimits { max_sessions: 2, idle_timeout: Duration::from_millis(6400), ..Default::default() };
        let mut b = Bounded::new(limits);
        let t0 = Instant::now();
        let ms = |m| t0 + Duration::from_millis(m);
        b.insert("a".into(), 1, ms(0));
        let queued = b.queue.len();
        assert_eq!(b.get("a", ms(50)), Some(1));
        assert_eq!(b.queue.len(), queued, "a use 50 ms after the last is not recorded");
        // Expiry still counts from the last recorded use, at most 100 ms early.
        assert_eq!(b.get("a", ms(150)), Some(1));
        assert_eq!(b.queue.len(), queued + 1);
        assert_eq!(b.get("a", ms(6500)), Some(1));
        assert_eq!(b.get("a", ms(13_000)), None);
    }

    #[test]
    fn a_principal_at_its_cap_evicts_its_own_oldest_never_another_s() {
        let limits =
            SessionLimits { max_sessions: 5, max_sessions_per_principal: 2, idle_timeout: Duration::from_secs(60) };
        let mut b = Bounded::new(limits);
        let t0 = Instant::now();
        let at = |s| t0 + Duration::from_secs(s);
        b.insert_owned("bob".into(), 0, Some("bob"), at(0));
        b.insert_owned("anon".into(), 9, None, at(0));
        for i in 1..=10 {
            let (evicted, own) = b.insert_owned(format!("alice{i}"), i, Some("alice"), at(i));
            if i > 2 {
                assert_eq!(evicted, vec![i - 2]);
                assert_eq!(own, vec![Arc::<str>::from(format!("alice{}", i - 2))]);
            }
        }
        assert_eq!(b.get("bob", at(11)), Some(0));
        assert_eq!(b.get("anon", at(11)), Some(9));
        assert_eq!(b.len(), 4);
        assert_eq!(b.owners["alice"].len(), 2);
        // Removal keeps the owner's list exact; re-saving an entry keeps its owner.
        assert_eq!(b.remove("alice10"), Some(10));
        assert_eq!(b.owners["alice"].len(), 1);
        b.insert_owned("alice9".into(), 99, None, at(12));
        assert_eq!(b.owners["alice"].len(), 1);
        assert!(b.remove("alice9").is_some() && !b.owners.contains_key("alice"));
    }

    /// A memory store that says other processes write it too.
    struct Shared(MemoryStore);

    impl SessionStore for Shared {
        fn load<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<Option<SessionState>, StoreError>> {
            self.0.load(id)
        }
        fn save<'a>(&'a self, id: &'a str, state: &'a SessionState) -> BoxFuture<'a, Result<(), StoreError>> {
            self.0.save(id, state)
        }
        fn delete<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<(), StoreError>> {
            self.0.delete(id)
        }
    }

    #[tokio::test]
    async fn another_replica_s_state_is_taken_but_never_over_an_unsaved_change() {
        let store = Arc::new(Shared(MemoryStore::default()));
        let sessions = Sessions::new(store.clone(), SessionLimits::default());
        let state = |level| SessionState { log_level: Some(level), ..Default::default() };
        let live = Live::new(Arc::new(Session::from_state(state(LoggingLevel::Info))));
        sessions.create("a", live.clone()).await.unwrap();
        let level = |live: &Live| live.session.read(|st| st.log_level);

        // Another replica changed the session: this process takes its state.
        store.save("a", &state(LoggingLevel::Debug)).await.unwrap();
        let got = sessions.get("a").await.unwrap().unwrap();
        assert_eq!(level(&got), Some(LoggingLevel::Debug));
        assert!(!got.take_dirty(), "a state taken from the store needs no saving");

        // A request here changed it and has not saved yet; a concurrent request reads
        // the session: the store's older state must not undo the change.
        live.session.replace_state(state(LoggingLevel::Error));
        let got = sessions.get("a").await.unwrap().unwrap();
        assert_eq!(level(&got), Some(LoggingLevel::Error));
        assert!(got.take_dirty());
        sessions.save("a", &got).await.unwrap();
        assert_eq!(store.load("a").await.unwrap(), Some(state(LoggingLevel::Error)));
    }

    #[tokio::test]
    async fn memory_store_round_trip() {
        let s = MemoryStore::default();
        let state = SessionState { initialized: true, ..Default::default() };
        s.save("x", &state).await.unwrap();
        assert_eq!(s.load("x").await.unwrap(), Some(state));
        s.delete("x").await.unwrap();
        assert_eq!(s.load("x").await.unwrap(), None);
        assert!(s.is_empty());
        let id = Sessions::new_id().unwrap();
        assert_eq!(id.len(), 32);
        assert_ne!(id, Sessions::new_id().unwrap());
    }
}
