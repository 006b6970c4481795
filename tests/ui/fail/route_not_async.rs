use mcp_core::prelude::*;

#[mcp_tool]
fn health() -> &'static str {
    "ok"
}

fn main() {}
