use mcp_core::prelude::*;

struct Tools;

#[mcp_toolset]
impl Tools {
    #[mcp_prompt]
    fn review(&self) -> String {
        String::new()
    }

    #[mcp_prompt(name = "review")]
    fn review_again(&self) -> String {
        String::new()
    }
}

fn main() {}
