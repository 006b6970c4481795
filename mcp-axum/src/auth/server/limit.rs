//! A small keyed rate limiter (fixed one-minute windows) for registration, sign-in and
//! client metadata fetches.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Allowed events per minute.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Limits {
    pub(crate) register: u32,
    pub(crate) sign_in_user: u32,
    pub(crate) sign_in_address: u32,
    pub(crate) document_fetch: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { register: 20, sign_in_user: 5, sign_in_address: 20, document_fetch: 20 }
    }
}

/// Counts per key in the current window; keys from past windows are dropped.
pub(crate) struct Limiter {
    pub(crate) limits: Limits,
    windows: Mutex<HashMap<String, (Instant, u32)>>,
}

const WINDOW: Duration = Duration::from_secs(60);

impl Limiter {
    pub(crate) fn new(limits: Limits) -> Self {
        Limiter { limits, windows: Mutex::new(HashMap::new()) }
    }

    /// Count one event for `key`; `false` when it is over `limit` this window.
    pub(crate) fn allow(&self, key: &str, limit: u32) -> bool {
        let Ok(mut w) = self.windows.lock() else { return false };
        let now = Instant::now();
        if w.len() > 10_000 {
            w.retain(|_, (start, _)| now.duration_since(*start) < WINDOW);
        }
        let entry = w.entry(key.to_owned()).or_insert((now, 0));
        if now.duration_since(entry.0) >= WINDOW {
            *entry = (now, 0);
        }
        entry.1 = entry.1.saturating_add(1);
        entry.1 <= limit
    }
}
