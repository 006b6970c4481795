use mcp_core::prelude::*;

struct Tools;

#[mcp_toolset]
impl Tools {
    fn helper(&self, #[mcp(desc = "Not a tool")] name: String) -> String {
        name
    }
}

fn main() {}
