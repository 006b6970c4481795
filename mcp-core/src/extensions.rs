//! A typed map of request-scoped values (the principal, app state) that transports and
//! auth layers fill and tools read.

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

type Map = HashMap<TypeId, Arc<dyn Any + Send + Sync>>;

/// A map from type to value. Cloning is cheap: the map itself is shared until a clone
/// inserts (every request's context holds one).
#[derive(Clone, Default)]
pub struct Extensions {
    map: Option<Arc<Map>>,
}

impl Extensions {
    /// An empty map.
    pub fn new() -> Self {
        Self::default()
    }

    /// Insert a value, replacing one of the same type.
    pub fn insert<T: Send + Sync + 'static>(&mut self, value: T) {
        let map = Arc::make_mut(self.map.get_or_insert_with(Default::default));
        map.insert(TypeId::of::<T>(), Arc::new(value));
    }

    /// The value of type `T`.
    pub fn get<T: Send + Sync + 'static>(&self) -> Option<&T> {
        self.map.as_ref()?.get(&TypeId::of::<T>()).and_then(|v| v.downcast_ref())
    }

    /// Whether a value of type `T` is present.
    pub fn contains<T: Send + Sync + 'static>(&self) -> bool {
        self.map.as_ref().is_some_and(|m| m.contains_key(&TypeId::of::<T>()))
    }

    /// Number of values.
    pub fn len(&self) -> usize {
        self.map.as_ref().map_or(0, |m| m.len())
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
}
