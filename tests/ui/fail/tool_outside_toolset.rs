use mcp_core::prelude::*;

struct Tools;

impl Tools {
    #[mcp_tool]
    fn lonely(&self) -> String {
        String::new()
    }
}

fn main() {}
