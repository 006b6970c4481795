//! Errors a tool, resource or prompt handler returns.

use std::fmt;

use serde_json::Value;

use crate::protocol::{ErrorObject, codes};

/// What went wrong in a handler.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ToolErrorKind {
    /// The arguments are wrong; the agent can fix them.
    InvalidArguments,
    /// The thing asked for does not exist (or is outside the caller's scope).
    NotFound,
    /// The caller may not do this.
    Forbidden,
    /// A conflict such as a unique constraint.
    Conflict,
    /// The client lacks a capability the handler needs.
    MissingCapability,
    /// The request was cancelled.
    Cancelled,
    /// The 2026-07-28 handler needs client input first (multi round-trip requests);
    /// produced by [`crate::Context::elicit`] and friends, answered as `input_required`.
    InputRequired,
    /// Anything else.
    Internal,
}

/// An error from a handler. For a tool it becomes an `isError` result whose text the
/// agent reads, unless it wraps a protocol error (see [`ToolError::protocol`]).
///
/// Any `std::error::Error` converts into it, so `?` works on the errors of the libraries
/// a tool calls; the error's `Display` text becomes the message.
pub struct ToolError {
    kind: ToolErrorKind,
    message: String,
    protocol: Option<ErrorObject>,
}

impl ToolError {
    /// An error of `kind` with a message for the agent.
    pub fn new(kind: ToolErrorKind, message: impl Into<String>) -> Self {
        ToolError { kind, message: message.into(), protocol: None }
    }

    /// The arguments are wrong.
    pub fn invalid_arguments(message: impl Into<String>) -> Self {
        Self::new(ToolErrorKind::InvalidArguments, message)
    }

    /// Not found.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ToolErrorKind::NotFound, message)
    }

    /// Forbidden.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(ToolErrorKind::Forbidden, message)
    }

    /// Conflict.
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(ToolErrorKind::Conflict, message)
    }

    /// Anything else.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(ToolErrorKind::Internal, message)
    }

    /// Answer with a JSON-RPC error instead of an `isError` result.
    pub fn protocol(error: ErrorObject) -> Self {
        ToolError { kind: ToolErrorKind::Internal, message: error.message.clone(), protocol: Some(error) }
    }

    /// The client did not declare `capability` (for example `"elicitation"`).
    pub fn missing_capability(capability: &str) -> Self {
        let error = ErrorObject::new(
            codes::MISSING_REQUIRED_CLIENT_CAPABILITY,
            format!("this request needs the client capability `{capability}`, which the client did not declare"),
        )
        .with_data(serde_json::json!({ "requiredCapabilities": { capability: {} } }));
        ToolError { kind: ToolErrorKind::MissingCapability, message: error.message.clone(), protocol: Some(error) }
    }

    pub(crate) fn cancelled() -> Self {
        Self::new(ToolErrorKind::Cancelled, "the request was cancelled")
    }

    pub(crate) fn input_required() -> Self {
        Self::new(ToolErrorKind::InputRequired, "input from the client is required")
    }

    /// The kind.
    pub fn kind(&self) -> ToolErrorKind {
        self.kind
    }

    /// The message.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The protocol error this wraps, if any.
    pub fn protocol_error(&self) -> Option<&ErrorObject> {
        self.protocol.as_ref()
    }

    /// Turn into a JSON-RPC error object (for methods other than `tools/call`).
    pub fn into_error_object(self) -> ErrorObject {
        if let Some(p) = self.protocol {
            return p;
        }
        let code = match self.kind {
            ToolErrorKind::InvalidArguments | ToolErrorKind::NotFound => codes::INVALID_PARAMS,
            _ => codes::INTERNAL_ERROR,
        };
        ErrorObject::new(code, self.message)
    }

    /// Attach structured data to the protocol error this becomes.
    pub fn with_data(self, data: Value) -> Self {
        let error = self.protocol.unwrap_or_else(|| ErrorObject::new(codes::INTERNAL_ERROR, self.message.clone()));
        ToolError { protocol: Some(error.with_data(data)), ..self }
    }
}

impl fmt::Debug for ToolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ToolError").field("kind", &self.kind).field("message", &self.message).finish()
    }
}

impl fmt::Display for ToolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl<E: std::error::Error + Send + Sync + 'static> From<E> for ToolError {
    fn from(e: E) -> Self {
        ToolError::internal(e.to_string())
    }
}
