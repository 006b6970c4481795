use mcp_core::prelude::*;

struct Tools;

#[mcp_toolset]
impl Tools {
    #[mcp_tool]
    fn text(&self) -> impl std::fmt::Display {
        "hi"
    }
}

fn main() {}
