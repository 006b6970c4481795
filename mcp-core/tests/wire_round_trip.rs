//! Every wire type reads the specification's message shapes and writes them back
//! unchanged. The inline cases follow the examples of the specification pages; when
//! `MCP_SPEC_SCHEMA_DIR` points at a checkout's `schema/` folder, the specification's own
//! example files are round-tripped as well.

use std::fmt::Debug;
use std::path::Path;

use mcp_core::protocol::*;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

fn rt<T: Serialize + DeserializeOwned + Debug>(v: Value) {
    let t: T = serde_json::from_value(v.clone())
        .unwrap_or_else(|e| panic!("{} does not read {v}: {e}", std::any::type_name::<T>()));
    let back = serde_json::to_value(&t).unwrap();
    assert_eq!(numeric(back), numeric(v), "{} did not round-trip", std::any::type_name::<T>());
}

/// JSON numbers compare by value: `50` and `50.0` are the same number.
fn numeric(v: Value) -> Value {
    match v {
        Value::Number(n) => json!(n.as_f64()),
        Value::Array(a) => Value::Array(a.into_iter().map(numeric).collect()),
        Value::Object(o) => Value::Object(o.into_iter().map(|(k, v)| (k, numeric(v))).collect()),
        other => other,
    }
}

#[test]
fn content_blocks() {
    rt::<Content>(json!({ "type": "text", "text": "Tool result text" }));
    rt::<Content>(json!({ "type": "image", "data": "iVBORw0KGgo=", "mimeType": "image/png",
        "annotations": { "audience": ["user"], "priority": 0.9, "lastModified": "2025-01-12T15:00:58Z" } }));
    rt::<Content>(json!({ "type": "audio", "data": "UklGRiQAAABXQVZF", "mimeType": "audio/wav" }));
    rt::<Content>(json!({ "type": "resource_link", "uri": "file:///project/src/main.rs", "name": "main.rs",
        "description": "Primary entry point", "mimeType": "text/x-rust" }));
    rt::<Content>(
        json!({ "type": "resource", "resource": { "uri": "file:///project/README.md", "mimeType": "text/markdown",
        "text": "# Project" }, "annotations": { "audience": ["user", "assistant"], "priority": 0.7 } }),
    );
    rt::<Content>(
        json!({ "type": "resource", "resource": { "uri": "file:///logo.png", "mimeType": "image/png", "blob": "AAEC" } }),
    );
    rt::<Content>(json!({ "type": "text", "text": "x", "_meta": { "com.example/anything": { "deep": [1, 2] } } }));
}

#[test]
fn tools() {
    rt::<Tool>(json!({
        "name": "get_weather", "title": "Weather Information Provider",
        "description": "Get current weather information for a location",
        "inputSchema": { "type": "object", "properties": { "location": { "type": "string", "description": "City name or zip code" } }, "required": ["location"] },
        "outputSchema": { "type": "object", "properties": { "temperature": { "type": "number" } }, "required": ["temperature"] },
        "icons": [{ "src": "https://example.com/weather-icon.png", "mimeType": "image/png", "sizes": ["48x48"], "theme": "light" }],
        "annotations": { "title": "Weather", "readOnlyHint": true, "destructiveHint": false, "idempotentHint": true, "openWorldHint": true },
        "_meta": { "com.example/version": 2 }
    }));
    rt::<Tool>(json!({ "name": "no_args", "inputSchema": { "type": "object", "additionalProperties": false } }));
    rt::<Tool>(
        json!({ "name": "draft7", "inputSchema": { "$schema": "http://json-schema.org/draft-07/schema#", "type": "object" } }),
    );
    rt::<ListToolsResult>(
        json!({ "resultType": "complete", "tools": [{ "name": "a", "inputSchema": { "type": "object" } }],
        "nextCursor": "next-page-cursor", "ttlMs": 300000, "cacheScope": "public" }),
    );
    rt::<CallToolParams>(json!({ "name": "get_weather", "arguments": { "location": "New York" },
        "_meta": { "progressToken": "abc123", "io.modelcontextprotocol/protocolVersion": "2026-07-28",
                   "io.modelcontextprotocol/clientCapabilities": {} } }));
    rt::<CallToolParams>(
        json!({ "name": "t", "arguments": {}, "inputResponses": { "k": { "action": "decline" } }, "requestState": "opaque" }),
    );
    rt::<CallToolResult>(
        json!({ "resultType": "complete", "content": [{ "type": "text", "text": "{\"temperature\": 22.5}" }],
        "structuredContent": { "temperature": 22.5 } }),
    );
    rt::<CallToolResult>(json!({ "content": [{ "type": "text", "text": "[1,2]" }], "structuredContent": [1, 2] }));
    rt::<CallToolResult>(json!({ "content": [{ "type": "text", "text": "Invalid departure date" }], "isError": true }));
}

#[test]
fn lifecycle() {
    rt::<InitializeParams>(json!({ "protocolVersion": "2025-06-18",
        "capabilities": { "roots": { "listChanged": true }, "sampling": {}, "elicitation": {} },
        "clientInfo": { "name": "ExampleClient", "title": "Example Client Display Name", "version": "1.0.0" } }));
    rt::<InitializeParams>(json!({ "protocolVersion": "2025-11-25",
        "capabilities": { "elicitation": { "form": {}, "url": {} }, "sampling": { "tools": {} }, "tasks": { "list": {} },
                          "experimental": { "x": {} } },
        "clientInfo": { "name": "c", "version": "1", "description": "d", "websiteUrl": "https://example.com",
                        "icons": [{ "src": "data:image/png;base64,AA==", "sizes": ["any"] }] } }));
    rt::<InitializeResult>(json!({ "protocolVersion": "2025-06-18",
        "capabilities": { "logging": {}, "prompts": { "listChanged": true }, "resources": { "subscribe": true, "listChanged": true },
                          "tools": { "listChanged": true }, "completions": {} },
        "serverInfo": { "name": "ExampleServer", "version": "1.0.0" }, "instructions": "Optional instructions" }));
    rt::<DiscoverResult>(json!({ "resultType": "complete", "supportedVersions": ["2026-07-28"],
        "capabilities": { "tools": {}, "resources": {}, "extensions": { "io.modelcontextprotocol/tasks": {} } },
        "_meta": { "io.modelcontextprotocol/serverInfo": { "name": "ExampleServer", "version": "1.0.0" } },
        "instructions": "Use get_weather.", "ttlMs": 3600000, "cacheScope": "public" }));
    rt::<EmptyResult>(json!({}));
    rt::<EmptyResult>(json!({ "resultType": "complete" }));
    rt::<PaginatedParams>(json!({ "cursor": "eyJwYWdlIjogMn0=" }));
}

#[test]
fn resources() {
    rt::<ListResourcesResult>(
        json!({ "resultType": "complete", "resources": [{ "uri": "file:///project/src/main.rs", "name": "main.rs",
        "title": "Rust Software Application Main File", "description": "Primary application entry point", "mimeType": "text/x-rust",
        "size": 1024, "annotations": { "audience": ["user"], "priority": 0.5 }, "icons": [{ "src": "https://example.com/rs.png" }] }],
        "nextCursor": "n", "ttlMs": 60000, "cacheScope": "private" }),
    );
    rt::<ListResourceTemplatesResult>(
        json!({ "resourceTemplates": [{ "uriTemplate": "file:///{path}", "name": "Project Files",
        "title": "📁 Project Files", "description": "Access files", "mimeType": "application/octet-stream" }] }),
    );
    rt::<ReadResourceParams>(json!({ "uri": "file:///project/src/main.rs" }));
    rt::<ReadResourceResult>(json!({ "resultType": "complete", "contents": [
        { "uri": "file:///project/src/main.rs", "mimeType": "text/x-rust", "text": "fn main() {}" },
        { "uri": "file:///logo.png", "mimeType": "image/png", "blob": "iVBORw0KGgo=" }],
        "ttlMs": 0, "cacheScope": "private" }));
    rt::<ResourceUriParams>(json!({ "uri": "file:///project/config.json" }));
    rt::<SubscriptionsListenParams>(json!({ "_meta": { "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientCapabilities": {} },
        "notifications": { "toolsListChanged": true, "resourceSubscriptions": ["file:///project/config.json"] } }));
    rt::<SubscriptionsAcknowledgedParams>(json!({ "_meta": { "io.modelcontextprotocol/subscriptionId": 1 },
        "notifications": { "toolsListChanged": true, "promptsListChanged": false, "resourcesListChanged": true } }));
    rt::<SubscriptionsListenResult>(
        json!({ "resultType": "complete", "_meta": { "io.modelcontextprotocol/subscriptionId": 1 } }),
    );
}

#[test]
fn prompts_and_completion() {
    rt::<ListPromptsResult>(json!({ "prompts": [{ "name": "code_review", "title": "Request Code Review",
        "description": "Asks the LLM to analyze code quality",
        "arguments": [{ "name": "code", "description": "The code to review", "required": true }],
        "icons": [{ "src": "https://example.com/review.svg", "mimeType": "image/svg+xml", "sizes": ["any"] }] }],
        "nextCursor": "next-page-cursor" }));
    rt::<GetPromptParams>(
        json!({ "name": "code_review", "arguments": { "code": "def hello():\n    print('world')" } }),
    );
    rt::<GetPromptResult>(json!({ "description": "Code review prompt", "messages": [
        { "role": "user", "content": { "type": "text", "text": "Please review this Python code" } },
        { "role": "assistant", "content": { "type": "resource", "resource": { "uri": "x://y", "text": "t" } } }] }));
    rt::<CompleteParams>(json!({ "ref": { "type": "ref/prompt", "name": "code_review" },
        "argument": { "name": "language", "value": "py" }, "context": { "arguments": { "framework": "flask" } } }));
    rt::<CompleteParams>(
        json!({ "ref": { "type": "ref/resource", "uri": "file:///{path}" }, "argument": { "name": "path", "value": "src/" } }),
    );
    rt::<CompleteResult>(
        json!({ "completion": { "values": ["python", "pytorch", "pyside"], "total": 10, "hasMore": true } }),
    );
}

#[test]
fn client_requests_and_input_required() {
    rt::<CreateMessageParams>(
        json!({ "messages": [{ "role": "user", "content": { "type": "text", "text": "What is the capital of France?" } }],
        "modelPreferences": { "hints": [{ "name": "claude-3-sonnet" }], "intelligencePriority": 0.8, "speedPriority": 0.5, "costPriority": 0.3 },
        "systemPrompt": "You are a helpful assistant.", "maxTokens": 100, "includeContext": "none", "temperature": 0.2,
        "stopSequences": ["\n\n"], "metadata": { "k": "v" } }),
    );
    rt::<CreateMessageParams>(json!({ "messages": [
            { "role": "user", "content": [{ "type": "text", "text": "Weather in Paris?" }] },
            { "role": "assistant", "content": [{ "type": "tool_use", "id": "call_1", "name": "get_weather", "input": { "city": "Paris" } }] },
            { "role": "user", "content": [{ "type": "tool_result", "toolUseId": "call_1", "content": [{ "type": "text", "text": "18°C" }] }] }],
        "tools": [{ "name": "get_weather", "inputSchema": { "type": "object" } }], "toolChoice": { "mode": "auto" }, "maxTokens": 1000 }));
    rt::<CreateMessageResult>(
        json!({ "role": "assistant", "content": { "type": "text", "text": "The capital of France is Paris." },
        "model": "claude-3-sonnet-20240307", "stopReason": "endTurn" }),
    );
    rt::<ElicitParams>(json!({ "mode": "form", "message": "Please provide your GitHub username",
        "requestedSchema": { "type": "object", "properties": { "name": { "type": "string" } }, "required": ["name"] } }));
    rt::<ElicitParams>(json!({ "mode": "url", "message": "Please sign in", "url": "https://example.com/oauth" }));
    rt::<ElicitResult>(json!({ "action": "accept", "content": { "name": "octocat" } }));
    rt::<ElicitResult>(json!({ "action": "cancel" }));
    rt::<ListRootsResult>(
        json!({ "roots": [{ "uri": "file:///home/user/projects/myproject", "name": "My Project" }] }),
    );
    rt::<InputRequiredResult>(json!({ "resultType": "input_required",
        "inputRequests": {
            "github_login": { "method": "elicitation/create", "params": { "mode": "form", "message": "Login?",
                "requestedSchema": { "type": "object", "properties": { "name": { "type": "string" } } } } },
            "capital": { "method": "sampling/createMessage", "params": { "messages": [{ "role": "user",
                "content": { "type": "text", "text": "Capital of France?" } }], "maxTokens": 100 } },
            "roots": { "method": "roots/list" } },
        "requestState": "AEAD-protected blob" }));
    rt::<InputRequiredResult>(json!({ "resultType": "input_required", "requestState": "eyJwcm9ncmVzcyI6IjUwJSJ9" }));
}

#[test]
fn notifications_and_logging() {
    rt::<ProgressParams>(
        json!({ "progressToken": "abc123", "progress": 50.0, "total": 100.0, "message": "Reticulating splines..." }),
    );
    rt::<ProgressParams>(json!({ "progressToken": 7, "progress": 1.5 }));
    rt::<CancelledParams>(json!({ "requestId": "123", "reason": "User requested cancellation" }));
    rt::<LoggingMessageParams>(json!({ "level": "error", "logger": "database",
        "data": { "error": "Connection failed", "details": { "host": "localhost", "port": 5432 } } }));
    rt::<SetLevelParams>(json!({ "level": "info" }));
    rt::<EmptyParams>(json!({ "_meta": { "io.modelcontextprotocol/subscriptionId": "s" } }));
}

#[test]
fn errors_and_envelopes() {
    rt::<ErrorObject>(json!({ "code": -32022, "message": "Unsupported protocol version",
        "data": { "supported": ["2026-07-28", "2025-11-25"], "requested": "1900-01-01" } }));
    rt::<ErrorObject>(json!({ "code": -32021, "message": "Server requires the elicitation capability",
        "data": { "requiredCapabilities": { "elicitation": {} } } }));
    rt::<ErrorObject>(json!({ "code": -32602, "message": "Unknown tool: invalid_tool_name" }));
    for text in [
        r#"{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{"cursor":"x"}}"#,
        r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#,
    ] {
        let parsed = jsonrpc::parse(text.as_bytes()).unwrap();
        let jsonrpc::Parsed::Single(m) = parsed else { panic!() };
        assert_eq!(serde_json::to_string(&m).unwrap(), text);
    }
    let resp: Response = serde_json::from_str(r#"{"jsonrpc":"2.0","id":"a","result":{"x":1}}"#).unwrap();
    assert_eq!(serde_json::to_string(&resp).unwrap(), r#"{"jsonrpc":"2.0","id":"a","result":{"x":1}}"#);
}

/// Round-trip the specification's own example files for the types we model.
#[test]
fn specification_example_files() {
    let Ok(dir) = std::env::var("MCP_SPEC_SCHEMA_DIR") else {
        eprintln!(
            "skipped: set MCP_SPEC_SCHEMA_DIR to the `schema/` folder of the MCP specification repository to \
             round-trip its example files"
        );
        return;
    };
    let mut checked = 0;
    for version in ["2026-07-28", "draft"] {
        let examples = Path::new(&dir).join(version).join("examples");
        let Ok(types) = std::fs::read_dir(&examples) else { continue };
        for ty in types.flatten() {
            let name = ty.file_name().to_string_lossy().into_owned();
            for file in std::fs::read_dir(ty.path()).unwrap().flatten() {
                let v: Value = serde_json::from_slice(&std::fs::read(file.path()).unwrap()).unwrap();
                if check(&name, v.clone()) {
                    checked += 1;
                }
            }
        }
    }
    assert!(checked > 50, "only {checked} example files matched a modelled type");
    eprintln!("round-tripped {checked} specification example files");
}

fn check(name: &str, v: Value) -> bool {
    // Response envelopes: check their `result`.
    if let Some(inner) = name.strip_suffix("Response").filter(|_| v.get("result").is_some()) {
        return check(inner, v["result"].clone());
    }
    // Request envelopes: check their `params`.
    if v.get("jsonrpc").is_some() && v.get("method").is_some() {
        let params = v.get("params").cloned().unwrap_or(json!({}));
        let inner = name.strip_suffix("Request").or_else(|| name.strip_suffix("Notification"));
        return inner.is_some_and(|i| check(&format!("{i}Params"), params));
    }
    match name {
        "TextContent" | "ImageContent" | "AudioContent" | "ResourceLink" | "EmbeddedResource" | "ContentBlock" => {
            rt::<Content>(v)
        }
        "TextResourceContents" | "BlobResourceContents" => rt::<ResourceContents>(v),
        "Tool" => rt::<Tool>(v),
        "ToolAnnotations" => rt::<ToolAnnotations>(v),
        "CallToolResult" => rt::<CallToolResult>(v),
        "CallToolRequestParams" | "CallToolParams" => rt::<CallToolParams>(v),
        "ListToolsResult" => rt::<ListToolsResult>(v),
        "Resource" => rt::<Resource>(v),
        "ResourceTemplate" => rt::<ResourceTemplate>(v),
        "ListResourcesResult" => rt::<ListResourcesResult>(v),
        "ListResourceTemplatesResult" => rt::<ListResourceTemplatesResult>(v),
        "ReadResourceResult" => rt::<ReadResourceResult>(v),
        "ReadResourceParams" => rt::<ReadResourceParams>(v),
        "Prompt" => rt::<Prompt>(v),
        "ListPromptsResult" => rt::<ListPromptsResult>(v),
        "GetPromptResult" => rt::<GetPromptResult>(v),
        "GetPromptRequestParams" | "GetPromptParams" => rt::<GetPromptParams>(v),
        "CompleteRequestParams" | "CompleteParams" => rt::<CompleteParams>(v),
        "CompleteResult" => rt::<CompleteResult>(v),
        "DiscoverResult" => rt::<DiscoverResult>(v),
        "CreateMessageRequestParams" | "CreateMessageParams" => rt::<CreateMessageParams>(v),
        "CreateMessageResult" => rt::<CreateMessageResult>(v),
        "SamplingMessage" => rt::<SamplingMessage>(v),
        "ModelPreferences" => rt::<ModelPreferences>(v),
        "ElicitRequestFormParams" | "ElicitRequestURLParams" | "ElicitParams" => rt::<ElicitParams>(v),
        "ElicitResult" => rt::<ElicitResult>(v),
        "ListRootsResult" => rt::<ListRootsResult>(v),
        "Root" => rt::<Root>(v),
        "InputRequiredResult" => rt::<InputRequiredResult>(v),
        "InputRequests" => rt::<InputRequests>(v),
        "ClientCapabilities" => rt::<ClientCapabilities>(v),
        "ServerCapabilities" => rt::<ServerCapabilities>(v),
        "ProgressParams" | "ProgressNotificationParams" => rt::<ProgressParams>(v),
        "CancelledParams" | "CancelledNotificationParams" => rt::<CancelledParams>(v),
        "LoggingMessageParams" | "LoggingMessageNotificationParams" => rt::<LoggingMessageParams>(v),
        "ResourceUpdatedParams" | "ResourceUpdatedNotificationParams" => rt::<ResourceUriParams>(v),
        "SubscriptionsListenParams" => rt::<SubscriptionsListenParams>(v),
        "SubscriptionsAcknowledgedParams" => rt::<SubscriptionsAcknowledgedParams>(v),
        "SubscriptionsListenResult" => rt::<SubscriptionsListenResult>(v),
        "DiscoverParams"
        | "ListToolsParams"
        | "ListPromptsParams"
        | "ListResourcesParams"
        | "ListResourceTemplatesParams"
        | "PaginatedRequestParams" => rt::<PaginatedParams>(v),
        "ToolListChangedParams" | "PromptListChangedParams" | "ResourceListChangedParams" => rt::<EmptyParams>(v),
        "ParseError" | "InvalidParamsError" | "MethodNotFoundError" | "InternalError" => rt::<ErrorObject>(v),
        _ => return false,
    }
    true
}
