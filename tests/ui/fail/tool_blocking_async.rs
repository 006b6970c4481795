use mcp_core::prelude::*;

#[derive(Clone)]
struct Tools;

#[mcp_toolset]
impl Tools {
    #[mcp_tool(blocking)]
    async fn slow(&self) {}
}

fn main() {}
