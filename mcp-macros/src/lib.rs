//! Procedural macros of the MCP framework: `#[mcp_toolset]`, `#[mcp_tool]`,
//! `#[mcp_resource]` and `#[mcp_prompt]`. Use them through `mcp_core`, which re-exports
//! them with their documentation.
//!
//! The macros are being built (see the project's issue tracker); until they land, write
//! a [`Toolset`](../mcp_core/server/trait.Toolset.html) by hand.
