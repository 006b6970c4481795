use mcp_core::prelude::*;

struct Tools;

struct Opaque;

#[mcp_toolset]
impl Tools {
    #[mcp_tool]
    fn make(&self) -> Opaque {
        Opaque
    }
}

fn main() {}
