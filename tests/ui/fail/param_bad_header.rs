use mcp_core::prelude::*;

struct Tools;

#[mcp_toolset]
impl Tools {
    #[mcp_tool]
    fn run(&self, #[mcp(header = "Region Name")] region: String) -> String {
        region
    }
}

fn main() {}
