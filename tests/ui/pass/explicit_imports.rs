//! Importing the attributes by name (not through the prelude) leaves no unused import.
#![deny(unused_imports)]

use mcp_core::{Server, mcp_prompt, mcp_tool, mcp_toolset, server_info};

struct Tools;

#[mcp_toolset]
impl Tools {
    #[mcp_tool]
    fn ping(&self) -> &'static str {
        "pong"
    }

    #[mcp_prompt]
    fn hello(&self) -> String {
        String::from("hello")
    }
}

fn main() {
    let server = Server::builder().info(server_info!()).toolset(Tools).build().unwrap();
    assert_eq!(server.tools().len(), 1);
}
