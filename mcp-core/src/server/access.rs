//! Who may call which tool: the OAuth scopes a tool requires, and an optional permission
//! hook of the application.
//!
//! A tool's scopes come from `#[mcp_tool(scopes = "...")]`, from
//! [`Toolset::tool_scopes`](super::Toolset::tool_scopes) or from
//! [`ServerBuilder::tool_scopes`](super::ServerBuilder::tool_scopes). A caller may call a tool
//! when its [`Principal`] was granted every one of them and the permission hook (if any)
//! agrees; `tools/list` shows each caller only those tools.

use std::fmt;
use std::sync::Arc;

use crate::extensions::Principal;
use crate::protocol::Tool;

/// The application's own rule on top of scopes: `true` lets `principal` (`None` for an
/// anonymous caller) see and call `tool`.
pub type PermissionFn = dyn Fn(&Tool, Option<&Principal>) -> bool + Send + Sync;

/// Why a caller may not call a tool.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum AccessDenied {
    /// The caller's token lacks scopes. `required` is every scope the tool needs (what a
    /// client must ask the authorization server for), `missing` those it lacks.
    Scopes {
        /// The tool's name.
        tool: String,
        /// Every scope the tool requires.
        required: Vec<String>,
        /// The required scopes the caller was not granted.
        missing: Vec<String>,
    },
    /// The application's permission hook refused.
    NotPermitted {
        /// The tool's name.
        tool: String,
    },
}

impl AccessDenied {
    /// The scopes to request for this call (empty when no scope would help).
    pub fn required_scopes(&self) -> &[String] {
        match self {
            AccessDenied::Scopes { required, .. } => required,
            AccessDenied::NotPermitted { .. } => &[],
        }
    }
}

impl fmt::Display for AccessDenied {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AccessDenied::Scopes { tool, missing, .. } => {
                let list = missing.iter().map(|s| format!("`{s}`")).collect::<Vec<_>>().join(", ");
                write!(f, "the tool `{tool}` needs the scope(s) {list}, which the access token was not granted")
            }
            AccessDenied::NotPermitted { tool } => write!(f, "you are not permitted to call the tool `{tool}`"),
        }
    }
}

impl std::error::Error for AccessDenied {}

/// The server's access rules.
#[derive(Clone, Default)]
pub(crate) struct Access {
    pub(crate) hook: Option<Arc<PermissionFn>>,
    /// Whether any tool has scopes or a hook exists: then lists depend on the caller.
    pub(crate) active: bool,
}

impl Access {
    pub(crate) fn check(
        &self,
        tool: &Tool,
        scopes: &[String],
        principal: Option<&Principal>,
    ) -> Result<(), AccessDenied> {
        let missing: Vec<String> =
            scopes.iter().filter(|s| !principal.is_some_and(|p| p.has_scope(s))).cloned().collect();
        if !missing.is_empty() {
            return Err(AccessDenied::Scopes { tool: tool.name.clone(), required: scopes.to_vec(), missing });
        }
        if let Some(hook) = &self.hook
            && !hook(tool, principal)
        {
            return Err(AccessDenied::NotPermitted { tool: tool.name.clone() });
        }
        Ok(())
    }
}

/// Check an OAuth scope token (RFC 6749 §3.3): one or more of `%x21 / %x23-5B / %x5D-7E`.
pub fn validate_scope(scope: &str) -> Result<(), String> {
    if scope.is_empty() {
        return Err("a scope cannot be empty".into());
    }
    match scope.chars().find(|&c| !matches!(c, '\x21' | '\x23'..='\x5B' | '\x5D'..='\x7E')) {
        Some(c) => Err(format!("the scope `{scope}` contains {c:?}, which OAuth scopes cannot contain")),
        None => Ok(()),
    }
}
