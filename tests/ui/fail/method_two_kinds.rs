use mcp_core::prelude::*;

struct Tools;

#[mcp_toolset]
impl Tools {
    #[mcp_tool]
    #[mcp_prompt]
    fn both(&self) -> String {
        String::new()
    }
}

fn main() {}
