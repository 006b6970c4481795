use mcp_core::prelude::*;

struct Tools;

#[mcp_toolset]
impl Tools {
    #[mcp_tool]
    fn consume(self) {}
}

fn main() {}
