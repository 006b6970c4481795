//! `#[cfg]` on a method removes its tool, prompt or resource and keeps dispatch right.
use mcp_core::prelude::*;

struct Tools;

#[mcp_toolset]
impl Tools {
    #[mcp_tool]
    fn first(&self) -> &'static str {
        "first"
    }

    #[cfg(any())]
    #[mcp_tool]
    fn never(&self) -> &'static str {
        "never"
    }

    #[cfg(all())]
    #[mcp_tool]
    fn always(&self) -> &'static str {
        "always"
    }

    #[cfg(any())]
    #[mcp_prompt]
    fn hidden(&self) -> String {
        String::new()
    }

    #[mcp_prompt]
    fn shown(&self) -> String {
        String::new()
    }
}

#[tokio::main]
async fn main() {
    let server = Server::builder().info(server_info!()).toolset(Tools).build().unwrap();
    let names: Vec<&str> = server.tools().iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["first", "always"]);
    let client = mcp_core::testing::TestClient::modern(server);
    let r = client.call_tool("always", serde_json::json!({})).await.unwrap();
    assert_eq!(r.text_content(), "always");
    let p = client.get_prompt("shown", serde_json::json!({})).await.unwrap();
    assert_eq!(p.messages.len(), 1);
}
