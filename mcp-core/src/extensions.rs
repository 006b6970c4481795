//! A typed map of request-scoped values (the principal, app state) that transports and
//! auth layers fill and tools read.

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::fmt;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

type Map = HashMap<TypeId, Shared, BuildHasherDefault<TypeIdHasher>>;

/// The hasher of [`TypeId`] keys: a `TypeId` is a hash already (it hashes itself as one
/// `u64`), so SipHash would only add cost. Other input is folded in byte by byte.
#[derive(Default)]
struct TypeIdHasher(u64);

impl Hasher for TypeIdHasher {
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 ^= n;
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// A map from type to value. Cloning is cheap: the values are shared, and so is the map
/// itself until a clone inserts (every request's context holds one). The first value
/// lives beside the map, so a request with one extension (the usual case: the HTTP
/// request's headers) allocates no map.
#[derive(Clone, Default)]
pub struct Extensions {
    first: Option<(TypeId, Shared)>,
    map: Option<Arc<Map>>,
}

type Shared = Arc<dyn Any + Send + Sync>;

impl Extensions {
    /// An empty map.
    pub fn new() -> Self {
        Self::default()
    }

    /// Insert a value, replacing one of the same type.
    pub fn insert<T: Send + Sync + 'static>(&mut self, value: T) {
        let key = TypeId::of::<T>();
        let value: Shared = Arc::new(value);
        match &mut self.first {
            Some((k, v)) if *k == key => *v = value,
            None if !self.map.as_ref().is_some_and(|m| m.contains_key(&key)) => self.first = Some((key, value)),
            _ => {
                Arc::make_mut(self.map.get_or_insert_with(Default::default)).insert(key, value);
            }
        }
    }

    fn value(&self, key: TypeId) -> Option<&Shared> {
        match &self.first {
            Some((k, v)) if *k == key => Some(v),
            _ => self.map.as_ref()?.get(&key),
        }
    }

    /// The value of type `T`.
    pub fn get<T: Send + Sync + 'static>(&self) -> Option<&T> {
        self.value(TypeId::of::<T>()).and_then(|v| v.downcast_ref())
    }

    /// Whether a value of type `T` is present.
    pub fn contains<T: Send + Sync + 'static>(&self) -> bool {
        self.value(TypeId::of::<T>()).is_some()
    }

    /// Number of values.
    pub fn len(&self) -> usize {
        usize::from(self.first.is_some()) + self.map.as_ref().map_or(0, |m| m.len())
    }

    /// Whether empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl fmt::Debug for Extensions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Extensions").field("len", &self.len()).finish()
    }
}

/// Who is calling: put into [`Extensions`] by an authentication layer.
///
/// `subject` identifies the caller (a user id or client id); `scopes` are the OAuth scopes
/// or permissions granted. Legacy sessions and `input_required` request state are bound
/// to the subject.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Principal {
    /// Stable identifier of the caller.
    pub subject: String,
    /// Granted scopes.
    #[serde(default)]
    pub scopes: Vec<String>,
    /// Other claims, as the authenticator found them.
    #[serde(default)]
    pub claims: serde_json::Map<String, serde_json::Value>,
}

impl Principal {
    /// A principal with a subject and no scopes.
    pub fn new(subject: impl Into<String>) -> Self {
        Principal { subject: subject.into(), scopes: Vec::new(), claims: Default::default() }
    }

    /// Add scopes.
    pub fn with_scopes<I: IntoIterator<Item = S>, S: Into<String>>(mut self, scopes: I) -> Self {
        self.scopes.extend(scopes.into_iter().map(Into::into));
        self
    }

    /// Whether `scope` was granted.
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes.iter().any(|s| s == scope)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_values() {
        let mut e = Extensions::new();
        e.insert(Principal::new("alice"));
        e.insert(5u32);
        assert_eq!(e.get::<Principal>().unwrap().subject, "alice");
        assert_eq!(e.get::<u32>(), Some(&5));
        assert!(e.get::<u64>().is_none());
        let mut clone = e.clone();
        assert_eq!(clone.len(), 2);
        // A clone that inserts does not change the original.
        clone.insert(6u32);
        assert_eq!(clone.get::<u32>(), Some(&6));
        assert_eq!(e.get::<u32>(), Some(&5));
        assert!(Extensions::new().is_empty());
    }

    #[test]
    fn a_value_of_a_type_is_kept_once_whichever_slot_holds_it() {
        let mut e = Extensions::new();
        e.insert(1u8);
        e.insert(2u8);
        assert_eq!((e.get::<u8>(), e.len()), (Some(&2), 1), "the first slot is replaced");
        e.insert("x");
        e.insert(3u16);
        e.insert("y");
        assert_eq!((e.get::<&str>(), e.get::<u16>(), e.get::<u8>(), e.len()), (Some(&"y"), Some(&3), Some(&2), 3));
        let shared = e.clone();
        e.insert(4u8);
        assert_eq!((e.get::<u8>(), shared.get::<u8>()), (Some(&4), Some(&2)));
        assert!(e.contains::<u16>() && !e.contains::<u32>());
    }

    #[test]
    fn type_ids_hash_to_distinct_values() {
        use std::hash::{BuildHasher, BuildHasherDefault};
        let h = BuildHasherDefault::<TypeIdHasher>::default();
        let ids = [TypeId::of::<u8>(), TypeId::of::<u16>(), TypeId::of::<Principal>(), TypeId::of::<String>()];
        let hashes: std::collections::HashSet<u64> = ids.iter().map(|id| h.hash_one(id)).collect();
        assert_eq!(hashes.len(), ids.len());
        assert_ne!(h.hash_one("bytes"), h.hash_one("other"), "other input is hashed too");
    }
}
