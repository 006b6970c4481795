//! The demo blog. Today it serves a small in-memory blog over MCP stdio; the HTTP server
//! on embedded SQLite replaces it as `mcp-axum` and `mcp-diesel` land.

use mcp_core::prelude::*;
use mcp_core::schemars::JsonSchema;
use serde::Serialize;

#[derive(Clone, Serialize, JsonSchema)]
#[schemars(crate = "mcp_core::schemars")]
struct Post {
    /// The post's id.
    id: u64,
    /// Its title.
    title: &'static str,
    /// Its text.
    body: &'static str,
}

const POSTS: &[Post] = &[
    Post { id: 1, title: "Hello, agents", body: "This blog is served to AI agents over MCP." },
    Post { id: 2, title: "Stateless MCP", body: "Protocol 2026-07-28 carries its version in every request." },
    Post { id: 3, title: "Sessions", body: "Older clients open a session with initialize." },
];

#[derive(Serialize, JsonSchema)]
#[schemars(crate = "mcp_core::schemars")]
struct PostSummary {
    id: u64,
    title: &'static str,
}

#[derive(Clone)]
struct Blog;

impl Blog {
    fn find(id: u64) -> Result<&'static Post, ToolError> {
        POSTS.iter().find(|p| p.id == id).ok_or_else(|| ToolError::not_found(format!("no post with id {id}")))
    }
}

#[mcp_toolset]
impl Blog {
    /// Every post with its id and title.
    #[mcp_tool(read_only, title = "List posts")]
    fn list_posts(&self) -> Vec<PostSummary> {
        POSTS.iter().map(|p| PostSummary { id: p.id, title: p.title }).collect()
    }

    /// One post by id.
    #[mcp_tool(read_only, title = "Get a post")]
    fn get_post(&self, #[mcp(desc = "The post's id", range(min = 1))] id: u64) -> Result<Post, ToolError> {
        Self::find(id).cloned()
    }

    /// A post as JSON.
    #[mcp_resource(uri_template = "blog://posts/{id}", mime_type = "application/json")]
    fn post(&self, id: u64) -> Result<String, ToolError> {
        let post = Self::find(id)?;
        serde_json::to_string(post).map_err(|e| ToolError::internal(e.to_string()))
    }

    /// Ask for a one-sentence summary of a post.
    #[mcp_prompt(title = "Summarize a post")]
    fn summarize_post(&self, #[mcp(desc = "Post id")] id: u64) -> Result<String, ToolError> {
        let post = Self::find(id)?;
        Ok(format!("Summarize this post in one sentence.\n\n# {}\n\n{}", post.title, post.body))
    }

    #[mcp_complete(prompt = "summarize_post", argument = "id")]
    fn post_ids(&self, typed: &str) -> Vec<String> {
        POSTS.iter().map(|p| p.id.to_string()).filter(|id| id.starts_with(typed)).collect()
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let server = Server::builder()
        .info(server_info!())
        .title("Demo blog")
        .instructions("A small blog. Use `list_posts` to find posts and `get_post` to read one.")
        .toolset(Blog)
        .build()?;
    eprintln!(
        "blog: serving MCP over stdio ({} tools). Connect an MCP client that launches `cargo run -p blog`; \
         the HTTP server on embedded SQLite is on its way (see the README).",
        server.tools().len()
    );
    server.serve_stdio().await?;
    Ok(())
}
