use mcp_core::prelude::*;

struct Tools;

#[mcp_toolset]
impl Tools {
    #[mcp_tool]
    fn run(&self, #[mcp(header = "Region")] region: String, #[mcp(header = "region")] zone: String) -> String {
        format!("{region}{zone}")
    }
}

fn main() {}
