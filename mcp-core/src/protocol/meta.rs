//! `_meta`: metadata carried next to params and results, passed through untouched,
//! plus the reserved keys of the 2026-07-28 per-request protocol fields.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// `progressToken`.
pub const PROGRESS_TOKEN: &str = "progressToken";
/// `io.modelcontextprotocol/protocolVersion`.
pub const PROTOCOL_VERSION: &str = "io.modelcontextprotocol/protocolVersion";
/// `io.modelcontextprotocol/clientInfo`.
pub const CLIENT_INFO: &str = "io.modelcontextprotocol/clientInfo";
/// `io.modelcontextprotocol/clientCapabilities`.
pub const CLIENT_CAPABILITIES: &str = "io.modelcontextprotocol/clientCapabilities";
/// `io.modelcontextprotocol/logLevel`.
pub const LOG_LEVEL: &str = "io.modelcontextprotocol/logLevel";
/// `io.modelcontextprotocol/subscriptionId`.
pub const SUBSCRIPTION_ID: &str = "io.modelcontextprotocol/subscriptionId";
/// `io.modelcontextprotocol/serverInfo`.
pub const SERVER_INFO: &str = "io.modelcontextprotocol/serverInfo";

/// A `_meta` object. Unknown keys are kept as they came.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Meta(pub Map<String, Value>);

impl Meta {
    /// An empty `_meta`.
    pub fn new() -> Self {
        Meta(Map::new())
    }

    /// The value at `key`.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.0.get(key)
    }

    /// Set `key`, returning the previous value.
    pub fn insert(&mut self, key: impl Into<String>, value: Value) -> Option<Value> {
        self.0.insert(key.into(), value)
    }

    /// Builder form of [`Meta::insert`].
    pub fn with(mut self, key: impl Into<String>, value: Value) -> Self {
        self.0.insert(key.into(), value);
        self
    }

    /// Whether there are no keys.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The progress token, if the request opted into progress notifications.
    pub fn progress_token(&self) -> Option<super::ProgressToken> {
        self.0.get(PROGRESS_TOKEN).and_then(|v| serde_json::from_value(v.clone()).ok())
    }
}

impl From<Map<String, Value>> for Meta {
    fn from(m: Map<String, Value>) -> Self {
        Meta(m)
    }
}
