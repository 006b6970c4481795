//! Procedural macros of the MCP framework: `#[mcp_toolset]` and the attributes it reads
//! inside an impl block (`#[mcp_tool]`, `#[mcp_resource]`, `#[mcp_prompt]`,
//! `#[mcp_complete]`, and `#[mcp(...)]` on parameters), and `#[mcp_tool]` on a free
//! `async fn` axum handler for `mcp_axum::RouteTools`.
//!
//! Use them through `mcp_core`, which re-exports them with their documentation.

mod model;
mod route;
mod toolset;
mod util;

use proc_macro::TokenStream;

/// See `mcp_core::mcp_toolset`.
#[proc_macro_attribute]
pub fn mcp_toolset(attr: TokenStream, item: TokenStream) -> TokenStream {
    toolset::expand(attr.into(), item.into()).unwrap_or_else(|e| e.write_errors()).into()
}

/// See `mcp_core::mcp_tool`. On a free `async fn` it describes an axum handler for
/// `mcp_axum::RouteTools`; on a method outside an `#[mcp_toolset]` impl it is an error.
#[proc_macro_attribute]
pub fn mcp_tool(attr: TokenStream, item: TokenStream) -> TokenStream {
    let (attr, item) = (attr.into(), item.into());
    if route::is_route_handler(&attr, &item) {
        route::expand(attr, item).into()
    } else {
        util::inner_attribute("mcp_tool", attr, item).into()
    }
}

/// See `mcp_core::mcp_resource`. Alone, outside an `#[mcp_toolset]` impl, it is an error.
#[proc_macro_attribute]
pub fn mcp_resource(attr: TokenStream, item: TokenStream) -> TokenStream {
    util::inner_attribute("mcp_resource", attr.into(), item.into()).into()
}

/// See `mcp_core::mcp_prompt`. Alone, outside an `#[mcp_toolset]` impl, it is an error.
#[proc_macro_attribute]
pub fn mcp_prompt(attr: TokenStream, item: TokenStream) -> TokenStream {
    util::inner_attribute("mcp_prompt", attr.into(), item.into()).into()
}

/// See `mcp_core::mcp_complete`. Alone, outside an `#[mcp_toolset]` impl, it is an error.
#[proc_macro_attribute]
pub fn mcp_complete(attr: TokenStream, item: TokenStream) -> TokenStream {
    util::inner_attribute("mcp_complete", attr.into(), item.into()).into()
}
