//! Interop with the official Rust SDK client (rmcp) over real HTTP, in both eras: the
//! legacy `initialize` session and stateless 2026-07-28 with `server/discover`.

use mcp_axum::McpRouter;
use mcp_core::prelude::*;
use mcp_core::protocol::ElicitParams;
use rmcp::model::{
    CallToolRequestParams, ClientCapabilities, ClientConfig, ElicitRequestParams, ElicitResult, ElicitationAction,
    GetPromptRequestParams, ProtocolVersion as RmcpVersion, ReadResourceRequestParams,
};
use rmcp::service::{MaybeSendFuture, RequestContext};
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::{ClientHandler, ClientLifecycleMode, ClientServiceExt, ErrorData, RoleClient, ServiceExt};
use serde_json::{Map, Value, json};

struct Blog;

#[mcp_toolset]
impl Blog {
    /// Adds two numbers.
    #[mcp_tool(read_only)]
    fn add(&self, a: i64, b: i64) -> i64 {
        a + b
    }

    /// Reports progress, then answers.
    #[mcp_tool]
    async fn slow_hello(&self, progress: Progress, name: String) -> String {
        for i in 1..=3 {
            progress.report(f64::from(i), Some(3.0), "working").await;
        }
        format!("Hello, {name}!")
    }

    /// Asks the user for their name.
    #[mcp_tool]
    async fn who_am_i(&self, ctx: &Context) -> Result<String, ToolError> {
        let r = ctx
            .elicit_as(
                "name",
                ElicitParams::form(
                    "Your name?",
                    json!({ "type": "object", "properties": { "name": { "type": "string" } } }),
                ),
            )
            .await?;
        Ok(format!("You are {}", r.content.and_then(|c| c.get("name").cloned()).unwrap_or(Value::Null)))
    }

    /// A post.
    #[mcp_resource(uri_template = "blog://posts/{id}", mime_type = "application/json")]
    fn post(&self, id: u32) -> String {
        json!({ "id": id }).to_string()
    }

    /// Summarize.
    #[mcp_prompt]
    fn summarize(&self, topic: String) -> String {
        format!("Summarize {topic}")
    }
}

#[derive(Clone, Default)]
struct Client;

impl ClientHandler for Client {
    fn get_info(&self) -> ClientConfig {
        let mut caps = ClientCapabilities::default();
        caps.elicitation = Some(Default::default());
        let mut c = ClientConfig::default();
        c.capabilities = caps;
        c
    }

    fn create_elicitation(
        &self,
        _request: ElicitRequestParams,
        _context: RequestContext<RoleClient>,
    ) -> impl Future<Output = Result<ElicitResult, ErrorData>> + MaybeSendFuture + '_ {
        std::future::ready(Ok(ElicitResult::new(ElicitationAction::Accept).with_content(json!({ "name": "Ferris" }))))
    }
}

async fn start() -> String {
    let server = Server::builder().info(server_info!()).toolset(Blog).build().unwrap();
    let app = axum::Router::new().merge(McpRouter::new(server).into_router());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(mcp_axum::serve(listener, app));
    format!("http://{addr}/mcp")
}

fn args(v: Value) -> Map<String, Value> {
    v.as_object().cloned().unwrap_or_default()
}

async fn exercise(client: &rmcp::service::RunningService<RoleClient, Client>) {
    let tools = client.list_all_tools().await.expect("tools/list");
    let names: Vec<&str> = tools.iter().map(|t| t.name.as_ref()).collect();
    assert_eq!(names, ["add", "slow_hello", "who_am_i"]);

    let r = client
        .call_tool(CallToolRequestParams::new("add").with_arguments(args(json!({ "a": 2, "b": 40 }))))
        .await
        .unwrap();
    assert_ne!(r.is_error, Some(true));
    let text = serde_json::to_value(&r.content).unwrap();
    assert_eq!(text[0]["text"], "42");

    let r = client
        .call_tool(CallToolRequestParams::new("slow_hello").with_arguments(args(json!({ "name": "rmcp" }))))
        .await
        .unwrap();
    assert_eq!(serde_json::to_value(&r.content).unwrap()[0]["text"], "Hello, rmcp!");

    let r = client.call_tool(CallToolRequestParams::new("who_am_i")).await.unwrap();
    assert_eq!(serde_json::to_value(&r.content).unwrap()[0]["text"], "You are \"Ferris\"");

    let bad =
        client.call_tool(CallToolRequestParams::new("add").with_arguments(args(json!({ "a": "two" })))).await.unwrap();
    assert_eq!(bad.is_error, Some(true));

    let r = client.read_resource(ReadResourceRequestParams::new("blog://posts/7")).await.unwrap();
    assert_eq!(serde_json::to_value(&r.contents).unwrap()[0]["text"], r#"{"id":7}"#);

    let mut p = Map::new();
    p.insert("topic".into(), json!("rust"));
    let r = client.get_prompt(GetPromptRequestParams::new("summarize").with_arguments(p)).await.unwrap();
    assert_eq!(serde_json::to_value(&r.messages).unwrap()[0]["content"]["text"], "Summarize rust");
}

#[tokio::test]
async fn rmcp_client_in_a_legacy_session() {
    let url = start().await;
    let client = Client.serve(StreamableHttpClientTransport::from_uri(url)).await.expect("initialize");
    let info = client.peer_info().expect("server info");
    assert_eq!(info.protocol_version, RmcpVersion::V_2025_11_25);
    exercise(&client).await;
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn rmcp_client_stateless_2026_07_28() {
    let url = start().await;
    let client = Client
        .serve_with_lifecycle(
            StreamableHttpClientTransport::from_uri(url),
            ClientLifecycleMode::Discover { preferred_versions: vec![RmcpVersion::V_2026_07_28] },
        )
        .await
        .expect("server/discover");
    exercise(&client).await;
    client.cancel().await.unwrap();
}
