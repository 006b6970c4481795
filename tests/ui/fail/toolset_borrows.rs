use mcp_core::prelude::*;

struct Tools<'a>(&'a str);

#[mcp_toolset]
impl<'a> Tools<'a> {
    #[mcp_tool]
    fn name(&self) -> String {
        self.0.to_owned()
    }
}

fn main() {}
