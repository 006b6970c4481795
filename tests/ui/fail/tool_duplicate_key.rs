use mcp_core::prelude::*;

struct Tools;

#[mcp_toolset]
impl Tools {
    #[mcp_tool(title = "One", title = "Two")]
    fn twice(&self) {}
}

fn main() {}
