use mcp_core::prelude::*;

#[mcp_toolset]
struct Tools;

fn main() {}
