use mcp_core::prelude::*;

struct Tools;

#[mcp_toolset]
impl Tools {
    #[mcp_resource(uri = "app://count")]
    fn count(&self) -> u32 {
        1
    }
}

fn main() {}
