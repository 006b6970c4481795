//! `x-mcp-header` (2026-07-28): tool arguments mirrored into `Mcp-Param-*` headers are
//! checked against the body over real HTTP.

use mcp_axum::McpRouter;
use mcp_core::prelude::*;
use serde_json::{Value, json};

struct Regional;

#[mcp_toolset]
impl Regional {
    /// Runs somewhere.
    #[mcp_tool]
    fn run(
        &self,
        #[mcp(header = "Region")] region: String,
        #[mcp(header = "Replicas")] replicas: Option<i64>,
        #[mcp(header = "Dry-Run")] dry_run: Option<bool>,
        query: String,
    ) -> String {
        format!("{region}/{}/{}/{query}", replicas.unwrap_or(1), dry_run.unwrap_or(false))
    }
}

async fn start() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}/mcp", listener.local_addr().unwrap());
    let server = Server::builder().info(server_info!()).toolset(Regional).build().unwrap();
    let app = McpRouter::new(server).into_router();
    tokio::spawn(async move { mcp_axum::serve(listener, app).await.unwrap() });
    base
}

async fn call(url: &str, arguments: Value, headers: &[(&str, &str)]) -> (u16, Value) {
    let mut req = reqwest::Client::new()
        .post(url)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2026-07-28")
        .header("mcp-method", "tools/call")
        .header("mcp-name", "run");
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let body = json!({ "jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": {
        "_meta": { "io.modelcontextprotocol/protocolVersion": "2026-07-28", "io.modelcontextprotocol/clientCapabilities": {},
            "io.modelcontextprotocol/clientInfo": { "name": "t", "version": "1" } },
        "name": "run", "arguments": arguments } });
    let resp = req.json(&body).send().await.unwrap();
    (resp.status().as_u16(), resp.json().await.unwrap())
}

#[tokio::test]
async fn mirrored_arguments_must_match_their_headers() {
    let url = start().await;

    // The schema carries the annotations.
    let server = Server::builder().info(server_info!()).toolset(Regional).build().unwrap();
    let schema = &server.tools()[0].input_schema;
    assert_eq!(schema["properties"]["region"]["x-mcp-header"], "Region");
    assert_eq!(schema["properties"]["dry_run"]["x-mcp-header"], "Dry-Run");
    assert!(schema["properties"]["query"].get("x-mcp-header").is_none());

    let ok = |r: &(u16, Value)| {
        assert_eq!(r.0, 200, "{}", r.1);
        r.1["result"]["content"][0]["text"].as_str().unwrap().to_owned()
    };
    let mismatch = |r: &(u16, Value), says: &str| {
        assert_eq!(r.0, 400, "{}", r.1);
        assert_eq!(r.1["error"]["code"], -32020);
        assert_eq!(r.1["id"], 7);
        let m = r.1["error"]["message"].as_str().unwrap();
        assert!(m.contains(says), "{m}");
    };

    let args = json!({ "region": "us-west1", "query": "q" });
    assert_eq!(ok(&call(&url, args.clone(), &[("Mcp-Param-Region", "us-west1")]).await), "us-west1/1/false/q");
    // Header names are case-insensitive; integers compare numerically; booleans as text.
    let args2 = json!({ "region": "eu", "replicas": 42, "dry_run": true, "query": "q" });
    let h = [("mcp-param-region", "eu"), ("Mcp-Param-Replicas", "42.0"), ("Mcp-Param-Dry-Run", "true")];
    assert_eq!(ok(&call(&url, args2.clone(), &h).await), "eu/42/true/q");
    // Base64 for values that are not plain ASCII.
    let args3 = json!({ "region": "Hello, 世界", "query": "q" });
    assert!(
        ok(&call(&url, args3, &[("Mcp-Param-Region", "=?base64?SGVsbG8sIOS4lueVjA==?=")]).await)
            .starts_with("Hello, 世界")
    );
    // Without the wrapper a Base64-looking value is literal.
    let args4 = json!({ "region": "SGVsbG8=", "query": "q" });
    ok(&call(&url, args4, &[("Mcp-Param-Region", "SGVsbG8=")]).await);

    mismatch(&call(&url, args.clone(), &[]).await, "Mcp-Param-Region header is required");
    mismatch(&call(&url, args.clone(), &[("Mcp-Param-Region", "eu-central1")]).await, "does not match body value");
    mismatch(&call(&url, args.clone(), &[("Mcp-Param-Region", "=?base64?dXMtd2VzdDE?=")]).await, "not valid Base64");
    mismatch(
        &call(&url, args.clone(), &[("Mcp-Param-Region", "=?base64?dXMt!!!d2VzdDE=?=")]).await,
        "not valid Base64",
    );
    mismatch(
        &call(&url, args.clone(), &[("Mcp-Param-Region", "us-west1"), ("Mcp-Param-Replicas", "3")]).await,
        "argument has no value",
    );
    let h = [("Mcp-Param-Region", "eu"), ("Mcp-Param-Replicas", "41"), ("Mcp-Param-Dry-Run", "true")];
    mismatch(&call(&url, args2.clone(), &h).await, "'41' does not match body value '42'");
    let h = [("Mcp-Param-Region", "us-west1"), ("Mcp-Param-Region", "us-west1")];
    mismatch(&call(&url, args, &h).await, "more than once");
}

#[test]
fn invalid_annotations_fail_the_build() {
    struct Bad;
    impl mcp_core::server::Toolset for Bad {
        fn tools(&self) -> Vec<Tool> {
            vec![Tool::new("bad").input_schema(json!({ "type": "object", "properties": {
                "ratio": { "type": "number", "x-mcp-header": "Ratio" } } }))]
        }
    }
    let err = Server::builder().info(server_info!()).toolset(Bad).build().unwrap_err().to_string();
    assert!(
        err.contains("tool `bad`: `x-mcp-header` `Ratio` is on `ratio`, which is not a string, integer or boolean"),
        "{err}"
    );
}
