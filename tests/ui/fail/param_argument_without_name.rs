use mcp_core::prelude::*;

struct Tools;

#[mcp_toolset]
impl Tools {
    #[mcp_tool]
    fn add(&self, #[mcp(arg)] (a, b): (u32, u32)) -> u32 {
        a + b
    }
}

fn main() {}
