//! Diesel models as MCP tools.
//!
//! This crate is being built (see the project's issue tracker). Available today:
//!
//! - [`filter`]: the filter language agents use — Django-style keys
//!   (`title__icontains`) and Mongo-style operators (`$gt`, `$in`, `$and`, `$or`, `$nor`,
//!   `$not`) — checked against a model's fields and capped before any SQL is built.
//!
//! Coming next: the model tools `#[mcp_toolset]` generates for a Diesel struct (list, get,
//! count, aggregate, create, update, patch, delete, query), executors and backends.

pub mod filter;
