use mcp_core::prelude::*;

struct Tools;

#[mcp_toolset]
impl Tools {
    #[mcp_prompt]
    fn review(&self, language: String) -> String {
        language
    }

    #[mcp_complete(prompt = "review", argument = "lang")]
    fn complete(&self, typed: &str) -> Vec<String> {
        vec![typed.to_owned()]
    }
}

fn main() {}
