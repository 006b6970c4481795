//! The fixture server the official MCP conformance suite runs against: every tool,
//! resource, template and prompt its scenarios call, on one endpoint for both protocol
//! eras.
//!
//! `cargo run -p conformance-server -- --bind 127.0.0.1:3001` serves `/mcp`.

use std::time::Duration;

use mcp_core::prelude::*;
use mcp_core::protocol::{
    CallToolResult, CompleteContext, Content, CreateMessageParams, ElicitParams, Implementation, ResourceContents,
};
use mcp_core::server::{BoxFuture, Toolset};
use mcp_core::{Logger, ServerEvent};
use serde_json::{Map, Value, json};

const PNG: &str = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg==";
const WAV: &str = "UklGRiYAAABXQVZFZm10IBAAAAABAAEAQB8AAAB9AAACABAAZGF0YQIAAAA=";

fn image() -> Content {
    Content::Image(mcp_core::protocol::ImageContent {
        data: PNG.into(),
        mime_type: "image/png".into(),
        annotations: None,
        meta: None,
    })
}

fn decode_b64(s: &str) -> Vec<u8> {
    use std::collections::HashMap;
    let table: HashMap<u8, u8> = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
        .iter()
        .enumerate()
        .map(|(i, c)| (*c, i as u8))
        .collect();
    let mut out = Vec::new();
    let mut buf = 0u32;
    let mut bits = 0;
    for c in s.bytes().filter(|c| *c != b'=') {
        buf = (buf << 6) | u32::from(table[&c]);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((buf >> bits) as u8);
        }
    }
    out
}

/// A form asking for one required field of a JSON type.
fn one_field_form(message: &str, field: &str, json_type: &str) -> ElicitParams {
    ElicitParams::form(
        message,
        json!({ "type": "object", "properties": { field: { "type": json_type } }, "required": [field] }),
    )
}

fn text_of(v: &Option<Map<String, Value>>) -> String {
    v.as_ref().map(|c| Value::Object(c.clone()).to_string()).unwrap_or_else(|| "null".into())
}

#[derive(Clone)]
struct Everything;

#[mcp_toolset]
impl Everything {
    /// A tool that returns simple text.
    #[mcp_tool]
    fn test_simple_text(&self) -> &'static str {
        "This is a simple text response for testing."
    }

    /// Answers for a region; the region is mirrored into the `Mcp-Param-Region` header
    /// (`x-mcp-header`), so proxies can route on it.
    #[mcp_tool]
    fn test_regional(
        &self,
        #[mcp(header = "Region", desc = "Where to run")] region: String,
        #[mcp(header = "Replicas", desc = "How many copies")] replicas: Option<i64>,
    ) -> String {
        format!("ran in {region} with {} replicas", replicas.unwrap_or(1))
    }

    /// A tool that returns an image.
    #[mcp_tool]
    fn test_image_content(&self) -> Content {
        image()
    }

    /// A tool that returns audio.
    #[mcp_tool]
    fn test_audio_content(&self) -> Content {
        Content::Audio(mcp_core::protocol::ImageContent {
            data: WAV.into(),
            mime_type: "audio/wav".into(),
            annotations: None,
            meta: None,
        })
    }

    /// A tool that returns an embedded resource.
    #[mcp_tool]
    fn test_embedded_resource(&self) -> Content {
        Content::embedded(
            ResourceContents::text("test://embedded-resource", "This is an embedded resource content.")
                .with_mime_type("text/plain"),
        )
    }

    /// A tool that returns several content types.
    #[mcp_tool]
    fn test_multiple_content_types(&self) -> Vec<Content> {
        vec![
            Content::text("Multiple content types test:"),
            image(),
            Content::embedded(
                ResourceContents::text("test://mixed-content-resource", r#"{"test":"data","value":123}"#)
                    .with_mime_type("application/json"),
            ),
        ]
    }

    /// A tool that always fails.
    #[mcp_tool]
    fn test_error_handling(&self) -> Result<String, ToolError> {
        Err(ToolError::internal("This tool intentionally returns an error for testing"))
    }

    /// A tool that reports progress.
    #[mcp_tool]
    async fn test_tool_with_progress(&self, ctx: &Context) -> &'static str {
        for step in [0.0, 50.0, 100.0] {
            ctx.progress(step, Some(100.0), Some(&format!("Completed step {step}"))).await;
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        "Progress tool completed"
    }

    /// A tool that logs while it works.
    #[mcp_tool]
    async fn test_tool_with_logging(&self, log: Logger) -> &'static str {
        for message in ["Tool execution started", "Tool processing data", "Tool execution completed"] {
            log.info(message).await;
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        "Tool with logging executed successfully"
    }

    /// A tool that asks the client's model.
    #[mcp_tool]
    async fn test_sampling(
        &self,
        ctx: &Context,
        #[mcp(desc = "The prompt to send")] prompt: String,
    ) -> Result<String, ToolError> {
        let r = ctx.sample(CreateMessageParams::user_text(prompt, 100)).await?;
        Ok(format!("LLM response: {}", r.text()))
    }

    /// A tool that asks the user for information.
    #[mcp_tool]
    async fn test_elicitation(
        &self,
        ctx: &Context,
        #[mcp(desc = "The message to show")] message: String,
    ) -> Result<String, ToolError> {
        let schema = json!({ "type": "object", "properties": {
            "username": { "type": "string", "description": "Your username" },
            "email": { "type": "string", "description": "Your email address" } },
            "required": ["username", "email"] });
        let r = ctx.elicit(ElicitParams::form(message, schema)).await?;
        Ok(format!("User response: action={}, content={}", r.action.as_str(), text_of(&r.content)))
    }

    /// A tool that elicits a form with default values.
    #[mcp_tool]
    async fn test_elicitation_sep1034_defaults(&self, ctx: &Context) -> Result<String, ToolError> {
        let schema = json!({ "type": "object", "properties": {
            "name": { "type": "string", "default": "John Doe" },
            "age": { "type": "integer", "default": 30 },
            "score": { "type": "number", "default": 95.5 },
            "status": { "type": "string", "enum": ["active", "inactive", "pending"], "default": "active" },
            "verified": { "type": "boolean", "default": true } },
            "required": [] });
        let r =
            ctx.elicit(ElicitParams::form("Please review and update the form fields with defaults", schema)).await?;
        Ok(format!("Elicitation completed: action={}, content={}", r.action.as_str(), text_of(&r.content)))
    }

    /// A tool that elicits every kind of enum.
    #[mcp_tool]
    async fn test_elicitation_sep1330_enums(&self, ctx: &Context) -> Result<String, ToolError> {
        let schema = json!({ "type": "object", "properties": {
            "untitledSingle": { "type": "string", "enum": ["option1", "option2", "option3"] },
            "titledSingle": { "type": "string", "oneOf": [
                { "const": "value1", "title": "First Option" },
                { "const": "value2", "title": "Second Option" },
                { "const": "value3", "title": "Third Option" }] },
            "legacyEnum": { "type": "string", "enum": ["opt1", "opt2", "opt3"], "enumNames": ["Option One", "Option Two", "Option Three"] },
            "untitledMulti": { "type": "array", "minItems": 1, "maxItems": 3, "items": { "type": "string", "enum": ["option1", "option2", "option3"] } },
            "titledMulti": { "type": "array", "minItems": 1, "maxItems": 3, "items": { "anyOf": [
                { "const": "value1", "title": "First Choice" },
                { "const": "value2", "title": "Second Choice" },
                { "const": "value3", "title": "Third Choice" }] } } },
            "required": [] });
        let r = ctx.elicit(ElicitParams::form("Please choose", schema)).await?;
        Ok(format!("Elicitation completed: action={}, content={}", r.action.as_str(), text_of(&r.content)))
    }

    /// A tool for SSE reconnection tests; answers at once.
    #[mcp_tool]
    fn test_reconnection(&self) -> &'static str {
        "Reconnection test completed successfully. If you received this, the connection worked."
    }

    /// Needs the sampling capability.
    #[mcp_tool]
    async fn test_missing_capability(&self, ctx: &Context) -> Result<String, ToolError> {
        let r = ctx.sample(CreateMessageParams::user_text("Say hi", 10)).await?;
        Ok(r.text())
    }

    /// Streams nothing but a result.
    #[mcp_tool]
    fn test_streaming_elicitation(&self) -> &'static str {
        "Streaming elicitation completed"
    }

    /// Logs only when the request asks for logs.
    #[mcp_tool]
    async fn test_logging_tool(&self, log: Logger) -> &'static str {
        log.info("Logging tool ran").await;
        "Logging tool completed"
    }

    /// Announces that the tool list changed.
    #[mcp_tool]
    fn test_trigger_tool_change(&self, ctx: &Context) -> &'static str {
        ctx.notify(ServerEvent::ToolsListChanged);
        "Tool list change triggered"
    }

    /// Announces that the prompt list changed.
    #[mcp_tool]
    fn test_trigger_prompt_change(&self, ctx: &Context) -> &'static str {
        ctx.notify(ServerEvent::PromptsListChanged);
        "Prompt list change triggered"
    }

    /// Asks for the user's name (multi round-trip).
    #[mcp_tool]
    async fn test_input_required_result_elicitation(&self, ctx: &Context) -> Result<String, ToolError> {
        let r = ctx.elicit_as("user_name", one_field_form("What is your name?", "name", "string")).await?;
        let name =
            r.content.as_ref().and_then(|c| c.get("name")).and_then(Value::as_str).unwrap_or("stranger").to_owned();
        Ok(format!("Hello, {name}!"))
    }

    /// Asks the client's model (multi round-trip).
    #[mcp_tool]
    async fn test_input_required_result_sampling(&self, ctx: &Context) -> Result<String, ToolError> {
        let r = ctx
            .sample_as("capital_question", CreateMessageParams::user_text("What is the capital of France?", 100))
            .await?;
        Ok(format!("The model said: {}", r.text()))
    }

    /// Asks for the client's roots (multi round-trip).
    #[mcp_tool]
    async fn test_input_required_result_list_roots(&self, ctx: &Context) -> Result<String, ToolError> {
        let r = ctx.list_roots_as("roots_request").await?;
        Ok(format!("The client has {} root(s)", r.roots.len()))
    }

    /// Keeps state across a round trip.
    #[mcp_tool]
    async fn test_input_required_result_request_state(&self, ctx: &Context) -> Result<String, ToolError> {
        let r = ctx.elicit_as("confirm", one_field_form("Please confirm", "ok", "boolean")).await?;
        Ok(format!("state-ok: {}", text_of(&r.content)))
    }

    /// Asks for three inputs at once.
    #[mcp_tool]
    async fn test_input_required_result_multiple_inputs(&self, ctx: &Context) -> Result<String, ToolError> {
        let (name, greeting, roots) = tokio::join!(
            ctx.elicit_as("user_name", one_field_form("What is your name?", "name", "string")),
            ctx.sample_as("greeting", CreateMessageParams::user_text("Generate a greeting", 50)),
            ctx.list_roots_as("client_roots"),
        );
        let (name, greeting, roots) = (name?, greeting?, roots?);
        Ok(format!("{} / {} / {} root(s)", text_of(&name.content), greeting.text(), roots.roots.len()))
    }

    /// Asks twice, one round after the other.
    #[mcp_tool]
    async fn test_input_required_result_multi_round(&self, ctx: &Context) -> Result<String, ToolError> {
        let name = ctx.elicit_as("step1", one_field_form("Step 1: What is your name?", "name", "string")).await?;
        let color =
            ctx.elicit_as("step2", one_field_form("Step 2: What is your favorite color?", "color", "string")).await?;
        Ok(format!("{} likes {}", text_of(&name.content), text_of(&color.content)))
    }

    /// Its request state is integrity-protected.
    #[mcp_tool]
    async fn test_input_required_result_tampered_state(&self, ctx: &Context) -> Result<String, ToolError> {
        let r = ctx.elicit_as("confirm", one_field_form("Please confirm", "ok", "boolean")).await?;
        Ok(format!("confirmed: {}", text_of(&r.content)))
    }

    /// Asks only for what the client supports.
    #[mcp_tool]
    async fn test_input_required_result_capabilities(&self, ctx: &Context) -> Result<String, ToolError> {
        if ctx.client_capabilities().supports_elicitation_form() {
            let r = ctx
                .elicit_as(
                    "user_name",
                    ElicitParams::form(
                        "What is your name?",
                        json!({
                "type": "object", "properties": { "name": { "type": "string" } } }),
                    ),
                )
                .await?;
            return Ok(text_of(&r.content));
        }
        let r = ctx.sample_as("sample_request", CreateMessageParams::user_text("Pick a name", 20)).await?;
        Ok(r.text())
    }

    /// A static text resource for testing.
    #[mcp_resource(
        uri = "test://static-text",
        name = "static-text",
        title = "Static Text Resource",
        mime_type = "text/plain"
    )]
    fn static_text(&self) -> String {
        "This is the content of the static text resource.".into()
    }

    /// A static binary resource (image) for testing.
    #[mcp_resource(
        uri = "test://static-binary",
        name = "static-binary",
        title = "Static Binary Resource",
        mime_type = "image/png"
    )]
    fn static_binary(&self) -> Vec<u8> {
        decode_b64(PNG)
    }

    /// A resource clients can subscribe to.
    #[mcp_resource(uri = "test://watched-resource", name = "watched-resource", mime_type = "text/plain")]
    fn watched(&self) -> String {
        "Watched resource content".into()
    }

    /// A resource template for testing.
    #[mcp_resource(
        uri_template = "test://template/{id}/data",
        name = "template",
        title = "Resource Template",
        mime_type = "application/json"
    )]
    fn template(&self, id: String) -> String {
        json!({ "id": id, "templateTest": true, "data": format!("Data for ID: {id}") }).to_string()
    }

    /// A simple prompt for testing.
    #[mcp_prompt]
    fn test_simple_prompt(&self) -> &'static str {
        "This is a simple prompt for testing."
    }

    /// A prompt with arguments.
    #[mcp_prompt]
    fn test_prompt_with_arguments(
        &self,
        #[mcp(desc = "First test argument")] arg1: String,
        #[mcp(desc = "Second test argument")] arg2: String,
    ) -> String {
        format!("Prompt with arguments: arg1='{arg1}', arg2='{arg2}'")
    }

    /// A prompt with an embedded resource.
    #[mcp_prompt]
    fn test_prompt_with_embedded_resource(
        &self,
        #[mcp(rename = "resourceUri", desc = "URI of the resource to embed")] resource_uri: String,
    ) -> Vec<PromptMessage> {
        vec![
            PromptMessage {
                role: Role::User,
                content: Content::embedded(
                    ResourceContents::text(resource_uri, "Embedded resource content for testing.")
                        .with_mime_type("text/plain"),
                ),
            },
            PromptMessage::user("Please process the embedded resource above."),
        ]
    }

    /// A prompt with an image.
    #[mcp_prompt]
    fn test_prompt_with_image(&self) -> Vec<PromptMessage> {
        vec![
            PromptMessage { role: Role::User, content: image() },
            PromptMessage::user("Please analyze the image above."),
        ]
    }

    /// A prompt that asks for context first.
    #[mcp_prompt]
    async fn test_input_required_result_prompt(&self, ctx: &Context) -> Result<Vec<PromptMessage>, ToolError> {
        let r = ctx
            .elicit_as("user_context", one_field_form("What context should the prompt use?", "context", "string"))
            .await?;
        Ok(vec![PromptMessage::user(format!("Use this context: {}", text_of(&r.content)))])
    }

    #[mcp_complete(prompt = "test_prompt_with_arguments", argument = "arg1")]
    fn complete_arg1(&self, typed: &str, _others: CompleteContext) -> Vec<String> {
        ["paris", "park", "party"].iter().filter(|v| v.starts_with(typed)).map(|v| v.to_string()).collect()
    }
}

/// The one tool whose input schema is written by hand, verbatim (JSON Schema 2020-12
/// keywords the derive would not produce).
struct RawSchema;

impl Toolset for RawSchema {
    fn tools(&self) -> Vec<Tool> {
        vec![
            Tool::new("json_schema_2020_12_tool")
                .description("Tool with JSON Schema 2020-12 features for conformance testing (SEP-1613)")
                .input_schema(json!({
                "$schema": "https://json-schema.org/draft/2020-12/schema",
                "type": "object",
                "$defs": { "address": { "$anchor": "addressDef", "type": "object",
                    "properties": { "street": { "type": "string" }, "city": { "type": "string" } } } },
                "properties": {
                    "name": { "type": "string" },
                    "address": { "$ref": "#/$defs/address" },
                    "contactMethod": { "type": "string", "enum": ["phone", "email"] },
                    "phone": { "type": "string" },
                    "email": { "type": "string" } },
                "allOf": [{ "anyOf": [{ "required": ["phone"] }, { "required": ["email"] }] }],
                "if": { "properties": { "contactMethod": { "const": "phone" } }, "required": ["contactMethod"] },
                "then": { "required": ["phone"] },
                "else": { "required": ["email"] },
                "additionalProperties": false })),
        ]
    }

    fn call_tool<'a>(
        &'a self,
        _: usize,
        args: Map<String, Value>,
        _: &'a Context,
    ) -> BoxFuture<'a, Result<CallToolResult, ToolError>> {
        Box::pin(async move { Ok(CallToolResult::text(format!("Received: {}", Value::Object(args)))) })
    }
}

fn server() -> Result<Server, mcp_core::BuildError> {
    Server::builder()
        .info(Implementation::new("mcp-rs-conformance-server", env!("CARGO_PKG_VERSION")))
        .instructions("Fixture server for the MCP conformance suite.")
        .toolset(Everything)
        .toolset(RawSchema)
        .build()
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut bind = "127.0.0.1:3001".to_owned();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--bind" => bind = args.next().ok_or("--bind needs an address")?,
            "--help" | "-h" => {
                println!("conformance-server [--bind ADDR]   (default 127.0.0.1:3001; serves /mcp)");
                return Ok(());
            }
            other => return Err(format!("unknown argument `{other}`; see --help").into()),
        }
    }
    let server = server()?;
    let app = axum::Router::new().merge(mcp_axum::McpRouter::new(server).into_router());
    let listener = tokio::net::TcpListener::bind(&bind).await?;
    eprintln!("conformance-server: http://{}/mcp", listener.local_addr()?);
    mcp_axum::serve(listener, app).await?;
    Ok(())
}
