//! `crate = "..."` points the generated code at a renamed or re-exported runtime.
mod runtime {
    pub use ::mcp_core::*;
}

use runtime::prelude::*;

struct Tools;

#[mcp_toolset(crate = "crate::runtime")]
impl Tools {
    #[mcp_tool]
    fn ping(&self) -> &'static str {
        "pong"
    }
}

fn main() {
    let server = Server::builder().info(server_info!()).toolset(Tools).build().unwrap();
    assert_eq!(server.tools()[0].name, "ping");
}
