use mcp_core::prelude::*;

struct Tools;

#[mcp_toolset]
impl Tools {
    #[mcp_tool(scopes = "posts:write \"admin\"")]
    fn publish(&self) {}
}

fn main() {}
