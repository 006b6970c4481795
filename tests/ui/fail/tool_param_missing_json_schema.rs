use mcp_core::prelude::*;

struct Tools;

#[derive(serde::Deserialize)]
struct Filter {
    text: String,
}

#[mcp_toolset]
impl Tools {
    #[mcp_tool]
    fn search(&self, #[mcp(arg)] filter: Filter) -> String {
        filter.text
    }
}

fn main() {}
