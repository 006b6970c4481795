//! The `Toolset` trait: what `#[mcp_toolset]` implements, and what hand-written code can
//! implement too.

use std::future::Future;
use std::pin::Pin;

use serde_json::{Map, Value};

use crate::context::Context;
use crate::error::ToolError;
use crate::protocol::{
    CallToolResult, CompleteArgument, CompleteContext, Completion, GetPromptResult, Prompt, ReadResourceResult,
    Resource, ResourceTemplate, Tool,
};

/// A boxed, sendable future.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Variables extracted from a URI by a resource template, by name.
pub type UriVariables = Map<String, Value>;

/// Which resource a read is for.
#[derive(Clone, Debug, PartialEq)]
pub enum ResourceTarget {
    /// The static resource at this index of [`Toolset::resources`].
    Static(usize),
    /// The template at this index of [`Toolset::resource_templates`], with the variables
    /// matched in the URI.
    Template(usize, UriVariables),
}

/// What a completion is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CompletionTarget {
    /// The prompt at this index of [`Toolset::prompts`].
    Prompt(usize),
    /// The template at this index of [`Toolset::resource_templates`].
    Template(usize),
}

/// A group of tools, resources, resource templates and prompts served together.
///
/// The listing methods are called once, when the [`Server`](crate::Server) is built; their
/// order is the order clients see. Calls name an item by its index in that listing, so an
/// implementation dispatches with a `match` and never compares names at run time.
///
/// Every method has a default, so an implementation provides only what it serves.
///
/// ```
/// use mcp_core::prelude::*;
/// use mcp_core::server::{BoxFuture, Toolset};
/// use serde_json::{Map, Value};
///
/// struct Clock;
///
/// impl Toolset for Clock {
///     fn tools(&self) -> Vec<Tool> {
///         vec![Tool::new("now").description("The current Unix time in seconds")]
///     }
///     fn call_tool<'a>(
///         &'a self,
///         index: usize,
///         _args: Map<String, Value>,
///         _ctx: &'a Context,
///     ) -> BoxFuture<'a, Result<CallToolResult, ToolError>> {
///         Box::pin(async move {
///             match index {
///                 0 => {
///                     let secs = std::time::SystemTime::now()
///                         .duration_since(std::time::UNIX_EPOCH)
///                         .map_err(|e| ToolError::internal(e.to_string()))?
///                         .as_secs();
///                     Ok(CallToolResult::text(secs.to_string()))
///                 }
///                 _ => Err(ToolError::not_found("no such tool")),
///             }
///         })
///     }
/// }
///
/// let server = Server::builder().info(server_info!()).toolset(Clock).build().unwrap();
/// assert_eq!(server.tools().len(), 1);
/// ```
pub trait Toolset: Send + Sync + 'static {
    /// The tools, in the order clients see them.
    fn tools(&self) -> Vec<Tool> {
        Vec::new()
    }

    /// Call the tool at `index` of [`Toolset::tools`].
    fn call_tool<'a>(
        &'a self,
        index: usize,
        arguments: Map<String, Value>,
        ctx: &'a Context,
    ) -> BoxFuture<'a, Result<CallToolResult, ToolError>> {
        let _ = (arguments, ctx);
        Box::pin(async move { Err(ToolError::not_found(format!("tool #{index} is not implemented"))) })
    }

    /// The OAuth scopes a caller needs to see and call the tool at `index` of
    /// [`Toolset::tools`] (`#[mcp_tool(scopes = "...")]` generates this). The default needs none.
    fn tool_scopes(&self, index: usize) -> Vec<String> {
        let _ = index;
        Vec::new()
    }

    /// Why this toolset cannot be served as configured, one sentence per problem naming
    /// the item and the fix: [`ServerBuilder::build`](crate::ServerBuilder::build) refuses
    /// to build with them. The default has none.
    fn build_errors(&self) -> Vec<String> {
        Vec::new()
    }

    /// Static resources.
    fn resources(&self) -> Vec<Resource> {
        Vec::new()
    }

    /// Resource templates (RFC 6570).
    fn resource_templates(&self) -> Vec<ResourceTemplate> {
        Vec::new()
    }

    /// Read a resource. `uri` is what the client asked for.
    fn read_resource<'a>(
        &'a self,
        target: ResourceTarget,
        uri: &'a str,
        ctx: &'a Context,
    ) -> BoxFuture<'a, Result<ReadResourceResult, ToolError>> {
        let _ = (target, ctx);
        Box::pin(async move { Err(ToolError::not_found(format!("resource {uri} is not implemented"))) })
    }

    /// Prompts.
    fn prompts(&self) -> Vec<Prompt> {
        Vec::new()
    }

    /// Render the prompt at `index` of [`Toolset::prompts`].
    fn get_prompt<'a>(
        &'a self,
        index: usize,
        arguments: Map<String, Value>,
        ctx: &'a Context,
    ) -> BoxFuture<'a, Result<GetPromptResult, ToolError>> {
        let _ = (arguments, ctx);
        Box::pin(async move { Err(ToolError::not_found(format!("prompt #{index} is not implemented"))) })
    }

    /// Suggest values for an argument of a prompt or a variable of a template. The default
    /// suggests nothing.
    fn complete<'a>(
        &'a self,
        target: CompletionTarget,
        argument: &'a CompleteArgument,
        context: &'a CompleteContext,
        ctx: &'a Context,
    ) -> BoxFuture<'a, Result<Completion, ToolError>> {
        let _ = (target, argument, context, ctx);
        Box::pin(async move { Ok(Completion::default()) })
    }
}
