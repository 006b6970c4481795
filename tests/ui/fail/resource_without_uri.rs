use mcp_core::prelude::*;

struct Tools;

#[mcp_toolset]
impl Tools {
    #[mcp_resource(mime_type = "text/plain")]
    fn about(&self) -> String {
        String::new()
    }
}

fn main() {}
