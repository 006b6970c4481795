//! The HTTP adapter: MCP streamable HTTP (2026-07-28 and 2025) as a tower `Service` and an
//! axum `Router` helper. This crate is being built (see the project's issue tracker).
