//! The access tokens this server already verified, so that a client calling many times
//! with one token pays for the ES256 signature check once, not on every request.
//!
//! An entry is keyed by the SHA-256 digest of the whole token (no prefix, no parsing: a
//! token that differs in any byte is another key) and remembers what the full check
//! found: the principal, the signing key's `kid`, and the last second the check would
//! still accept the token (`exp` plus the validator's leeway, on the validator's own
//! clock). A hit is accepted only up to that second and only while the key is still
//! loaded, so a cached token expires, and dies with its key, exactly as an uncached one.
//! Only accepted tokens are stored (a rejected token is checked in full each time, so
//! junk cannot fill the cache), and the cache holds at most `capacity` entries: when it
//! is full, expired entries go first, then the one that expires soonest.

use std::collections::HashMap;
use std::sync::RwLock;

use mcp_core::Principal;
use sha2::{Digest as _, Sha256};

/// Entries kept at most by the server's cache (a few KB each at worst: the principal
/// carries the token's claims).
pub(crate) const CAPACITY: usize = 4096;

struct Entry {
    /// The last Unix second at which the full check accepts the token.
    valid_until: u64,
    kid: String,
    principal: Principal,
}

/// A bounded map from token digests to what their verification found.
pub(crate) struct VerifiedTokens {
    capacity: usize,
    entries: RwLock<HashMap<[u8; 32], Entry>>,
}

/// The key of `token`.
pub(crate) fn digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

impl VerifiedTokens {
    /// An empty cache of at most `capacity` entries (at least one).
    pub(crate) fn new(capacity: usize) -> Self {
        VerifiedTokens { capacity: capacity.max(1), entries: RwLock::new(HashMap::new()) }
    }

    /// The principal and key id of a token verified before that is still valid at `now`.
    pub(crate) fn get(&self, key: &[u8; 32], now: u64) -> Option<(Principal, String)> {
        let entries = self.entries.read().ok()?;
        let e = entries.get(key).filter(|e| now <= e.valid_until)?;
        Some((e.principal.clone(), e.kid.clone()))
    }

    /// Remember a token the full check accepted at `now`, valid until `valid_until`
    /// (inclusive).
    pub(crate) fn insert(&self, key: [u8; 32], valid_until: u64, kid: String, principal: Principal, now: u64) {
        if valid_until < now {
            return;
        }
        let Ok(mut entries) = self.entries.write() else { return };
        if entries.len() >= self.capacity && !entries.contains_key(&key) {
            entries.retain(|_, e| now <= e.valid_until);
            if entries.len() >= self.capacity
                && let Some(soonest) = entries.iter().min_by_key(|(_, e)| e.valid_until).map(|(k, _)| *k)
            {
                entries.remove(&soonest);
            }
        }
        entries.insert(key, Entry { valid_until, kid, principal });
    }

    /// Entries held (expired ones included until they are swept).
    #[cfg(test)]
    fn len(&self) -> usize {
        self.entries.read().map_or(0, |e| e.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn who(s: &str) -> Principal {
        Principal::new(s)
    }

    #[test]
    fn a_hit_lasts_exactly_until_the_last_accepted_second() {
        let c = VerifiedTokens::new(8);
        let k = digest("a.b.c");
        c.insert(k, 1_000, "kid-1".into(), who("alice"), 900);
        let (p, kid) = c.get(&k, 1_000).expect("valid in its last second");
        assert_eq!((p.subject.as_str(), kid.as_str()), ("alice", "kid-1"));
        assert!(c.get(&k, 1_001).is_none(), "a second later it must be checked again");
        assert!(c.get(&digest("a.b.d"), 950).is_none(), "another token is another key");
        assert!(c.get(&digest("a.b.c "), 950).is_none(), "no prefix matching");
    }

    #[test]
    fn an_already_expired_token_is_not_stored() {
        let c = VerifiedTokens::new(8);
        c.insert(digest("t"), 99, "k".into(), who("x"), 100);
        assert_eq!(c.len(), 0);
    }

    #[test]
    fn the_size_is_bounded_expired_first_then_the_soonest_to_expire() {
        let c = VerifiedTokens::new(3);
        c.insert(digest("old"), 10, "k".into(), who("old"), 5);
        c.insert(digest("late"), 500, "k".into(), who("late"), 5);
        c.insert(digest("soon"), 200, "k".into(), who("soon"), 5);
        // Full at 20: the expired one goes.
        c.insert(digest("new"), 300, "k".into(), who("new"), 20);
        assert_eq!(c.len(), 3);
        assert!(c.get(&digest("old"), 5).is_none());
        // Full of live ones: the soonest to expire goes.
        c.insert(digest("newer"), 400, "k".into(), who("newer"), 20);
        assert_eq!(c.len(), 3);
        assert!(c.get(&digest("soon"), 20).is_none());
        for t in ["late", "new", "newer"] {
            assert!(c.get(&digest(t), 20).is_some(), "{t} was dropped");
        }
        // Replacing an entry does not evict another.
        c.insert(digest("late"), 600, "k".into(), who("late"), 20);
        assert_eq!(c.len(), 3);
        assert!(c.get(&digest("late"), 600).is_some());
        assert!(c.get(&digest("new"), 20).is_some());
    }
}
