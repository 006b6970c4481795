use mcp_core::prelude::*;

struct Tools;

struct MyError;

#[mcp_toolset]
impl Tools {
    #[mcp_tool]
    fn fallible(&self) -> Result<String, MyError> {
        Err(MyError)
    }
}

fn main() {}
