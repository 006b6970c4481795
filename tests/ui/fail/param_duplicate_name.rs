use mcp_core::prelude::*;

struct Tools;

#[mcp_toolset]
impl Tools {
    #[mcp_tool]
    fn pair(&self, first: u32, #[mcp(rename = "first")] second: u32) -> u32 {
        first + second
    }
}

fn main() {}
