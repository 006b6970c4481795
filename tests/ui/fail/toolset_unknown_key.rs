use mcp_core::prelude::*;

struct Tools;

#[mcp_toolset(crat = "mcp_core")]
impl Tools {}

fn main() {}
