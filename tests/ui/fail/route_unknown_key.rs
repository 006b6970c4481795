use mcp_core::prelude::*;

#[mcp_tool(blocking)]
async fn health() -> &'static str {
    "ok"
}

fn main() {}
