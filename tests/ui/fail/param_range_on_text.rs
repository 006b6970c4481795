use mcp_core::prelude::*;

struct Tools;

#[mcp_toolset]
impl Tools {
    #[mcp_tool]
    fn greet(&self, #[mcp(range(min = 1, max = 3))] name: String) -> String {
        name
    }
}

fn main() {}
