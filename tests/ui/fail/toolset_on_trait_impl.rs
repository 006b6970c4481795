use mcp_core::prelude::*;

struct Tools;

#[mcp_toolset]
impl Clone for Tools {
    fn clone(&self) -> Self {
        Tools
    }
}

fn main() {}
