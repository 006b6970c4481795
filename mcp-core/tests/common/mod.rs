//! A hand-written toolset that exercises every path of the dispatcher.
#![allow(dead_code, unreachable_pub, missing_docs)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use mcp_core::prelude::*;
use mcp_core::protocol::{
    CompleteArgument, CompleteContext, Completion, CreateMessageParams, ElicitAction, ElicitParams,
};
use mcp_core::server::{BoxFuture, CompletionTarget, ResourceTarget, Toolset};
use serde_json::{Map, Value, json};

/// Counts side effects, to prove tools do not run when they must not.
#[derive(Default)]
pub struct Kitchen {
    pub calls: Arc<AtomicUsize>,
}

pub const TOOLS: &[&str] = &[
    "echo",
    "numbers",
    "failing",
    "panicking",
    "slow",
    "progress",
    "logging",
    "ask_name",
    "ask_model",
    "ask_roots",
    "ask_everything",
    "two_rounds",
    "links",
];

fn schema(props: Value, required: &[&str]) -> Value {
    json!({ "type": "object", "properties": props, "required": required })
}

impl Toolset for Kitchen {
    fn tools(&self) -> Vec<Tool> {
        vec![
            Tool::new("echo")
                .title("Echo")
                .description("Repeat a message")
                .input_schema(schema(json!({ "message": { "type": "string" } }), &["message"]))
                .output_schema(json!({ "type": "object", "properties": { "echo": { "type": "string" } } })),
            Tool::new("numbers")
                .description("A list of numbers (non-object output)")
                .output_schema(json!({ "type": "array", "items": { "type": "integer" } })),
            Tool::new("failing").description("Always fails"),
            Tool::new("panicking").description("Panics"),
            Tool::new("slow").description("Sleeps until cancelled"),
            Tool::new("progress").description("Reports progress"),
            Tool::new("logging").description("Logs at several levels"),
            Tool::new("ask_name").description("Elicits a name"),
            Tool::new("ask_model").description("Samples the client's model"),
            Tool::new("ask_roots").description("Lists the client's roots"),
            Tool::new("ask_everything").description("Asks for three inputs at once"),
            Tool::new("two_rounds").description("Asks twice, one after the other"),
            Tool::new("links").description("Returns a resource link"),
        ]
    }

    fn call_tool<'a>(
        &'a self,
        index: usize,
        args: Map<String, Value>,
        ctx: &'a Context,
    ) -> BoxFuture<'a, Result<CallToolResult, ToolError>> {
        Box::pin(async move {
            match TOOLS[index] {
                "echo" => {
                    let m = args
                        .get("message")
                        .and_then(Value::as_str)
                        .ok_or_else(|| ToolError::invalid_arguments("`message` must be a string"))?;
                    Ok(CallToolResult::structured(json!({ "echo": m })))
                }
                "numbers" => Ok(CallToolResult::structured(json!([1, 2, 3]))),
                "failing" => Err(ToolError::conflict("the post is already published")),
                "panicking" => panic!("boom"),
                "slow" => {
                    tokio::time::sleep(Duration::from_secs(30)).await;
                    self.calls.fetch_add(1, Ordering::SeqCst);
                    Ok(CallToolResult::text("finished"))
                }
                "progress" => {
                    for i in 1..=3 {
                        ctx.progress(i as f64, Some(3.0), Some(&format!("step {i}"))).await;
                    }
                    ctx.progress(2.0, Some(3.0), None).await; // not increasing: skipped
                    Ok(CallToolResult::text("done"))
                }
                "logging" => {
                    ctx.debug("debug detail").await;
                    ctx.info("working").await;
                    ctx.warn("careful").await;
                    Ok(CallToolResult::text("logged"))
                }
                "ask_name" => {
                    let r = ctx
                        .elicit_as(
                            "user_name",
                            ElicitParams::form(
                                "What is your name?",
                                json!({ "type": "object", "properties": { "name": { "type": "string" } }, "required": ["name"] }),
                            ),
                        )
                        .await?;
                    self.calls.fetch_add(1, Ordering::SeqCst);
                    match r.action {
                        ElicitAction::Accept => {
                            let name = r.content.and_then(|c| c.get("name").cloned()).unwrap_or(Value::Null);
                            Ok(CallToolResult::text(format!("Hello, {}!", name.as_str().unwrap_or("?"))))
                        }
                        _ => Ok(CallToolResult::text("No name given")),
                    }
                }
                "ask_model" => {
                    let r = ctx.sample(CreateMessageParams::user_text("What is the capital of France?", 100)).await?;
                    Ok(CallToolResult::text(format!("The model said: {}", r.text())))
                }
                "ask_roots" => {
                    let r = ctx.list_roots().await?;
                    Ok(CallToolResult::text(format!("{} roots", r.roots.len())))
                }
                "ask_everything" => {
                    let (a, b, c) = tokio::join!(
                        ctx.elicit_as(
                            "user_name",
                            ElicitParams::form(
                                "Name?",
                                json!({ "type": "object", "properties": { "name": { "type": "string" } } })
                            )
                        ),
                        ctx.sample_as("greeting", CreateMessageParams::user_text("Generate a greeting", 50)),
                        ctx.list_roots_as("client_roots"),
                    );
                    let (a, b, c) = (a?, b?, c?);
                    Ok(CallToolResult::text(format!("{:?} / {} / {} roots", a.action, b.text(), c.roots.len())))
                }
                "two_rounds" => {
                    let first = ctx
                        .elicit_as(
                            "step1",
                            ElicitParams::form(
                                "Step 1: name?",
                                json!({ "type": "object", "properties": { "name": { "type": "string" } } }),
                            ),
                        )
                        .await?;
                    let second = ctx
                        .elicit_as(
                            "step2",
                            ElicitParams::form(
                                "Step 2: color?",
                                json!({ "type": "object", "properties": { "color": { "type": "string" } } }),
                            ),
                        )
                        .await?;
                    let get = |r: &mcp_core::protocol::ElicitResult, k: &str| {
                        r.content.as_ref().and_then(|c| c.get(k)).and_then(Value::as_str).unwrap_or("?").to_owned()
                    };
                    Ok(CallToolResult::text(format!("{} likes {}", get(&first, "name"), get(&second, "color"))))
                }
                "links" => Ok(CallToolResult::success(vec![
                    Content::text("see the link"),
                    Content::resource_link(
                        Resource::new("kitchen://static", "static").description("the static resource"),
                    ),
                ])),
                other => Err(ToolError::not_found(format!("no tool {other}"))),
            }
        })
    }

    fn resources(&self) -> Vec<Resource> {
        vec![Resource::new("kitchen://static", "static").mime_type("text/plain").description("A fixed text")]
    }

    fn resource_templates(&self) -> Vec<ResourceTemplate> {
        vec![ResourceTemplate::new("kitchen://items/{id}", "item").mime_type("application/json")]
    }

    fn read_resource<'a>(
        &'a self,
        target: ResourceTarget,
        uri: &'a str,
        _ctx: &'a Context,
    ) -> BoxFuture<'a, Result<ReadResourceResult, ToolError>> {
        Box::pin(async move {
            let contents = match target {
                ResourceTarget::Static(0) => ResourceContents::text(uri, "static text").with_mime_type("text/plain"),
                ResourceTarget::Template(0, vars) => {
                    let id = vars.get("id").and_then(Value::as_str).unwrap_or_default().to_owned();
                    if id == "missing" {
                        return Err(ToolError::not_found("no such item"));
                    }
                    ResourceContents::text(uri, json!({ "id": id }).to_string()).with_mime_type("application/json")
                }
                _ => return Err(ToolError::not_found("unknown")),
            };
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
        vec![
            Prompt::new("greet").description("Greets someone").argument("name", Some("Who"), true).argument(
                "style",
                Some("formal or casual"),
                false,
            ),
            Prompt::new("ask_context").description("Asks for context first"),
        ]
    }

    fn get_prompt<'a>(
        &'a self,
        index: usize,
        args: Map<String, Value>,
        ctx: &'a Context,
    ) -> BoxFuture<'a, Result<GetPromptResult, ToolError>> {
        Box::pin(async move {
            match index {
                0 => {
                    let name = args.get("name").and_then(Value::as_str).unwrap_or_default();
                    Ok(GetPromptResult::new(vec![PromptMessage::user(format!("Say hello to {name}"))]))
                }
                _ => {
                    let r = ctx
                        .elicit_as(
                            "user_context",
                            ElicitParams::form(
                                "What context?",
                                json!({ "type": "object", "properties": { "context": { "type": "string" } } }),
                            ),
                        )
                        .await?;
                    let c = r.content.and_then(|c| c.get("context").cloned()).unwrap_or(Value::Null);
                    Ok(GetPromptResult::new(vec![PromptMessage::user(format!("Context: {c}"))]))
                }
            }
        })
    }

    fn complete<'a>(
        &'a self,
        target: CompletionTarget,
        argument: &'a CompleteArgument,
        _context: &'a CompleteContext,
        _ctx: &'a Context,
    ) -> BoxFuture<'a, Result<Completion, ToolError>> {
        Box::pin(async move {
            let options: Vec<String> = match target {
                CompletionTarget::Prompt(0) if argument.name == "style" => vec!["formal".into(), "casual".into()],
                CompletionTarget::Template(0) => (1..=150).map(|i| i.to_string()).collect(),
                _ => vec![],
            };
            Ok(Completion::from_values(options.into_iter().filter(|o| o.starts_with(&argument.value)).collect()))
        })
    }
}

/// A server with the kitchen toolset and small pages.
pub fn server() -> Server {
    server_with(Kitchen::default())
}

pub fn server_with(k: Kitchen) -> Server {
    Server::builder()
        .info(server_info!())
        .title("Kitchen")
        .instructions("Test fixture")
        .page_size(5)
        .request_state_key([42; 32])
        .toolset(k)
        .build()
        .expect("the fixture builds")
}
