use mcp_core::prelude::*;

struct Tools;

#[mcp_toolset]
impl Tools {
    #[mcp_tool(titel = "Typo")]
    fn typo(&self) {}
}

fn main() {}
