//! The demo blog. Today it serves a small in-memory blog over MCP stdio with a
//! hand-written toolset; the HTTP server on embedded SQLite replaces it as the macros,
//! `mcp-axum` and `mcp-diesel` land.

use mcp_core::prelude::*;
use mcp_core::server::{BoxFuture, ResourceTarget, Toolset};
use serde_json::{Map, Value, json};

struct Post {
    id: u64,
    title: &'static str,
    body: &'static str,
}

const POSTS: &[Post] = &[
    Post { id: 1, title: "Hello, agents", body: "This blog is served to AI agents over MCP." },
    Post { id: 2, title: "Stateless MCP", body: "Protocol 2026-07-28 carries its version in every request." },
    Post { id: 3, title: "Sessions", body: "Older clients open a session with initialize." },
];

struct Blog;

impl Blog {
    fn post(id: u64) -> Result<&'static Post, ToolError> {
        POSTS.iter().find(|p| p.id == id).ok_or_else(|| ToolError::not_found(format!("no post with id {id}")))
    }
}

fn post_json(p: &Post) -> Value {
    json!({ "id": p.id, "title": p.title, "body": p.body })
}

impl Toolset for Blog {
    fn tools(&self) -> Vec<Tool> {
        vec![
            Tool::new("list_posts")
                .title("List posts")
                .description("Every post with its id and title.")
                .annotations(ToolAnnotations { read_only_hint: Some(true), ..Default::default() }),
            Tool::new("get_post")
                .title("Get a post")
                .description("One post by id.")
                .input_schema(json!({
                    "type": "object",
                    "properties": { "id": { "type": "integer", "minimum": 1 } },
                    "required": ["id"],
                    "additionalProperties": false,
                }))
                .annotations(ToolAnnotations { read_only_hint: Some(true), ..Default::default() }),
        ]
    }

    fn call_tool<'a>(
        &'a self,
        index: usize,
        args: Map<String, Value>,
        _ctx: &'a Context,
    ) -> BoxFuture<'a, Result<CallToolResult, ToolError>> {
        Box::pin(async move {
            match index {
                0 => {
                    let items: Vec<Value> = POSTS.iter().map(|p| json!({ "id": p.id, "title": p.title })).collect();
                    Ok(CallToolResult::structured(json!({ "items": items })))
                }
                1 => {
                    let id = args
                        .get("id")
                        .and_then(Value::as_u64)
                        .ok_or_else(|| ToolError::invalid_arguments("`id` must be a positive integer"))?;
                    Ok(CallToolResult::structured(post_json(Self::post(id)?)))
                }
                _ => Err(ToolError::not_found("no such tool")),
            }
        })
    }

    fn resource_templates(&self) -> Vec<ResourceTemplate> {
        vec![
            ResourceTemplate::new("blog://posts/{id}", "post")
                .mime_type("application/json")
                .description("A post as JSON"),
        ]
    }

    fn read_resource<'a>(
        &'a self,
        target: ResourceTarget,
        uri: &'a str,
        _ctx: &'a Context,
    ) -> BoxFuture<'a, Result<ReadResourceResult, ToolError>> {
        Box::pin(async move {
            let ResourceTarget::Template(_, vars) = target else { return Err(ToolError::not_found(uri)) };
            let id = vars.get("id").and_then(Value::as_str).and_then(|s| s.parse().ok()).unwrap_or(0);
            let post = Self::post(id)?;
            let contents = ResourceContents::text(uri, post_json(post).to_string()).with_mime_type("application/json");
            Ok(ReadResourceResult {
                result_type: None,
                contents: vec![contents],
                ttl_ms: None,
                cache_scope: None,
                meta: None,
            })
        })
    }

    fn prompts(&self) -> Vec<Prompt> {
        vec![Prompt::new("summarize_post").description("Ask for a summary of a post").argument(
            "id",
            Some("Post id"),
            true,
        )]
    }

    fn get_prompt<'a>(
        &'a self,
        _index: usize,
        args: Map<String, Value>,
        _ctx: &'a Context,
    ) -> BoxFuture<'a, Result<GetPromptResult, ToolError>> {
        Box::pin(async move {
            let id = args.get("id").and_then(Value::as_str).and_then(|s| s.parse().ok()).unwrap_or(0);
            let post = Self::post(id)?;
            Ok(GetPromptResult::new(vec![PromptMessage::user(format!(
                "Summarize this post in one sentence.\n\n# {}\n\n{}",
                post.title, post.body
            ))]))
        })
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
