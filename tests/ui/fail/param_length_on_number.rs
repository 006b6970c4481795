use mcp_core::prelude::*;

struct Tools;

#[mcp_toolset]
impl Tools {
    #[mcp_tool]
    fn count(&self, #[mcp(length(max = 3), pattern = "^1")] n: u32) -> u32 {
        n
    }
}

fn main() {}
