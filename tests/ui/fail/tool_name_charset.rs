use mcp_core::prelude::*;

struct Tools;

#[mcp_toolset]
impl Tools {
    #[mcp_tool(name = "list posts")]
    fn list(&self) {}
}

fn main() {}
