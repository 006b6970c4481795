use mcp_core::prelude::*;

struct Tools;

struct NotSerializable;

#[mcp_toolset]
impl Tools {
    #[mcp_tool]
    fn take(&self, value: NotSerializable) {
        let _ = value;
    }
}

fn main() {}
