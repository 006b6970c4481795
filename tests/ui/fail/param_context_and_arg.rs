use mcp_core::prelude::*;

struct Tools;

#[mcp_toolset]
impl Tools {
    #[mcp_tool]
    fn greet(&self, #[mcp(context, arg)] name: String) -> String {
        name
    }
}

fn main() {}
