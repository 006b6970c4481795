use mcp_core::prelude::*;

struct Tools;

#[mcp_toolset]
impl Tools {
    #[mcp_tool]
    fn tags(&self, #[mcp(flatten)] tags: Vec<String>) -> usize {
        tags.len()
    }
}

fn main() {}
