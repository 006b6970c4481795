//! Every return form a tool accepts.
use mcp_core::prelude::*;
use mcp_core::schemars::JsonSchema;

#[derive(serde::Serialize, JsonSchema)]
#[schemars(crate = "mcp_core::schemars")]
struct Post {
    id: u32,
}

#[derive(Debug)]
struct LibError;

impl std::fmt::Display for LibError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("lib")
    }
}

impl std::error::Error for LibError {}

type ToolResult<T> = Result<T, ToolError>;

struct Tools;

#[mcp_toolset]
impl Tools {
    #[mcp_tool]
    fn unit(&self) {}

    #[mcp_tool]
    fn text(&self) -> String {
        String::new()
    }

    #[mcp_tool]
    fn static_text(&self) -> &'static str {
        "x"
    }

    #[mcp_tool]
    fn structured(&self) -> Post {
        Post { id: 1 }
    }

    #[mcp_tool]
    fn many(&self) -> Vec<Post> {
        Vec::new()
    }

    #[mcp_tool]
    fn number(&self) -> Option<u64> {
        None
    }

    #[mcp_tool]
    fn content(&self) -> Content {
        Content::text("x")
    }

    #[mcp_tool]
    fn contents(&self) -> Vec<Content> {
        vec![Content::image(&[0], "image/png")]
    }

    #[mcp_tool]
    fn raw(&self) -> CallToolResult {
        CallToolResult::text("x")
    }

    #[mcp_tool]
    async fn fallible(&self) -> Result<Post, ToolError> {
        Ok(Post { id: 2 })
    }

    #[mcp_tool]
    fn library_error(&self) -> Result<String, LibError> {
        Err(LibError)
    }

    #[mcp_tool]
    fn aliased(&self) -> ToolResult<()> {
        Ok(())
    }

    #[mcp_tool]
    fn raw_result(&self) -> Result<CallToolResult, ToolError> {
        Ok(CallToolResult::error("no"))
    }
}

fn main() {
    let server = Server::builder().info(server_info!()).toolset(Tools).build().unwrap();
    let with_schema: Vec<&str> =
        server.tools().iter().filter(|t| t.output_schema.is_some()).map(|t| t.name.as_str()).collect();
    assert_eq!(with_schema, ["structured", "many", "number", "fallible"]);
}
