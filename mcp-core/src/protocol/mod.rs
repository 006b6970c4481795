//! Wire types of the Model Context Protocol, versions 2025-03-26, 2025-06-18, 2025-11-25
//! and 2026-07-28, and of JSON-RPC 2.0 underneath.
//!
//! The types are the union of all four versions: fields that a version does not know are
//! optional and left out when the server answers a client of that version (see
//! [`crate::server`] for where results are shaped per version). `_meta` objects are kept
//! and passed through untouched.

mod client;
mod content;
pub mod jsonrpc;
mod lifecycle;
pub mod meta;
mod notifications;
mod prompts;
mod resources;
mod tools;
mod version;

pub use client::*;
pub use content::*;
pub use jsonrpc::{ErrorObject, JsonRpcVersion, Message, Notification, Outcome, Request, RequestId, Response, codes};
pub use lifecycle::*;
pub use meta::Meta;
pub use notifications::*;
pub use prompts::*;
pub use resources::*;
pub use tools::*;
pub use version::{ProtocolVersion, UnknownVersion};

use serde::{Deserialize, Serialize};

/// Method names.
pub mod methods {
    /// `initialize` (legacy).
    pub const INITIALIZE: &str = "initialize";
    /// `ping` (legacy).
    pub const PING: &str = "ping";
    /// `server/discover` (modern).
    pub const SERVER_DISCOVER: &str = "server/discover";
    /// `tools/list`.
    pub const TOOLS_LIST: &str = "tools/list";
    /// `tools/call`.
    pub const TOOLS_CALL: &str = "tools/call";
    /// `resources/list`.
    pub const RESOURCES_LIST: &str = "resources/list";
    /// `resources/templates/list`.
    pub const RESOURCES_TEMPLATES_LIST: &str = "resources/templates/list";
    /// `resources/read`.
    pub const RESOURCES_READ: &str = "resources/read";
    /// `resources/subscribe` (legacy).
    pub const RESOURCES_SUBSCRIBE: &str = "resources/subscribe";
    /// `resources/unsubscribe` (legacy).
    pub const RESOURCES_UNSUBSCRIBE: &str = "resources/unsubscribe";
    /// `subscriptions/listen` (modern).
    pub const SUBSCRIPTIONS_LISTEN: &str = "subscriptions/listen";
    /// `prompts/list`.
    pub const PROMPTS_LIST: &str = "prompts/list";
    /// `prompts/get`.
    pub const PROMPTS_GET: &str = "prompts/get";
    /// `completion/complete`.
    pub const COMPLETION_COMPLETE: &str = "completion/complete";
    /// `logging/setLevel` (legacy).
    pub const LOGGING_SET_LEVEL: &str = "logging/setLevel";
    /// `sampling/createMessage` (server to client).
    pub const SAMPLING_CREATE_MESSAGE: &str = "sampling/createMessage";
    /// `elicitation/create` (server to client).
    pub const ELICITATION_CREATE: &str = "elicitation/create";
    /// `roots/list` (server to client).
    pub const ROOTS_LIST: &str = "roots/list";
    /// `notifications/initialized` (legacy).
    pub const INITIALIZED: &str = "notifications/initialized";
    /// `notifications/cancelled`.
    pub const CANCELLED: &str = "notifications/cancelled";
    /// `notifications/progress`.
    pub const PROGRESS: &str = "notifications/progress";
    /// `notifications/message`.
    pub const MESSAGE: &str = "notifications/message";
    /// `notifications/tools/list_changed`.
    pub const TOOLS_LIST_CHANGED: &str = "notifications/tools/list_changed";
    /// `notifications/prompts/list_changed`.
    pub const PROMPTS_LIST_CHANGED: &str = "notifications/prompts/list_changed";
    /// `notifications/resources/list_changed`.
    pub const RESOURCES_LIST_CHANGED: &str = "notifications/resources/list_changed";
    /// `notifications/resources/updated`.
    pub const RESOURCES_UPDATED: &str = "notifications/resources/updated";
    /// `notifications/roots/list_changed` (legacy, client to server).
    pub const ROOTS_LIST_CHANGED: &str = "notifications/roots/list_changed";
    /// `notifications/subscriptions/acknowledged` (modern).
    pub const SUBSCRIPTIONS_ACKNOWLEDGED: &str = "notifications/subscriptions/acknowledged";
    /// `notifications/elicitation/complete` (2025-11-25 only).
    pub const ELICITATION_COMPLETE: &str = "notifications/elicitation/complete";
}

/// A progress token: string or integer.
pub type ProgressToken = RequestId;

/// The kind of a result (2026-07-28).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResultType {
    /// The request finished.
    Complete,
    /// The server needs input first (multi round-trip requests).
    InputRequired,
    /// A type defined by an extension.
    #[serde(untagged)]
    Other(String),
}

/// Who may cache a result (2026-07-28).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CacheScope {
    /// Same for every caller.
    Public,
    /// Depends on the caller's authorization.
    Private,
}

/// Params of paginated list requests.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PaginatedParams {
    /// The cursor from the previous page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
    /// Metadata.
    #[serde(rename = "_meta", default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<Meta>,
}

/// A result with no data (`ping`, `logging/setLevel`, subscriptions).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EmptyResult {
    /// `"complete"` (2026-07-28).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result_type: Option<ResultType>,
    /// Metadata.
    #[serde(rename = "_meta", default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<Meta>,
}
