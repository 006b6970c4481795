use mcp_core::prelude::*;

struct Tools;

#[mcp_toolset]
impl Tools {
    #[mcp_tool]
    fn search(&self) {}

    #[mcp_tool(name = "search")]
    fn search_again(&self) {}
}

fn main() {}
