//! `Server::parse_tool_call` + `Server::handle_tool_call` (the one-pass `tools/call` of
//! transports that know the method from a header) against the general way
//! (`Server::handle_bytes`): what it takes, what it leaves to the general way, and that
//! the answers are the same bytes.

use mcp_core::prelude::*;
use mcp_core::{Inbound, MirroredHeaders, Session};
use serde_json::json;

struct Tools;

#[mcp_toolset]
impl Tools {
    /// Repeat a message.
    #[mcp_tool(read_only)]
    fn echo(&self, #[mcp(desc = "What to repeat")] message: String) -> String {
        message
    }

    /// Add two numbers.
    #[mcp_tool]
    fn add(&self, a: i64, b: i64) -> i64 {
        a + b
    }
}

fn server() -> Server {
    Server::builder().info(server_info!()).toolset(Tools).build().unwrap()
}

const META: &str = r#""_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}"#;

fn call(id: &str, name: &str, arguments: &str) -> String {
    format!(
        r#"{{"jsonrpc":"2.0","id":{id},"method":"tools/call","params":{{"name":"{name}","arguments":{arguments},{META}}}}}"#
    )
}

/// The answer of the general way, as bytes.
async fn general(server: &Server, body: &str, inbound: Inbound) -> String {
    let reply = server.handle_bytes(body.as_bytes(), inbound).await.expect("an answer");
    String::from_utf8(reply.to_vec()).unwrap()
}

/// The answer of the one-pass way, as bytes.
async fn fast(server: &Server, body: &str, inbound: Inbound) -> String {
    let call = server.parse_tool_call(body.as_bytes()).expect("read in one pass");
    let response = server.handle_tool_call(call, inbound).await.expect("an answer");
    String::from_utf8(response.to_vec()).unwrap()
}

#[tokio::test]
async fn both_ways_answer_the_same_bytes() {
    let server = server();
    let bodies = [
        call("1", "echo", r#"{"message":"hi"}"#),
        call(r#""s-1""#, "add", r#"{"a":2,"b":40}"#),
        // Errors the dispatcher explains: unknown tool, bad and missing arguments.
        call("3", "nope", "{}"),
        call("4", "add", r#"{"a":"two","b":1}"#),
        call("5", "echo", "{}"),
        call("6", "echo", r#"{"message":"x","extra":1}"#),
        // A protocol error: a version this server does not speak.
        call("7", "echo", r#"{"message":"x"}"#).replace("2026-07-28", "1999-01-01"),
        // Without `_meta`: the request names no version.
        r#"{"jsonrpc":"2.0","id":8,"method":"tools/call","params":{"name":"echo","arguments":{"message":"x"}}}"#
            .to_owned(),
    ];
    for body in &bodies {
        assert_eq!(fast(&server, body, Inbound::new()).await, general(&server, body, Inbound::new()).await, "{body}");
    }
    let answer: serde_json::Value = serde_json::from_str(&fast(&server, &bodies[1], Inbound::new()).await).unwrap();
    assert_eq!(answer["id"], "s-1");
    assert_eq!(answer["result"]["structuredContent"], json!(42));
}

/// A legacy session after `initialize` (and `notifications/initialized` unless not).
async fn session(server: &Server, initialized: bool) -> std::sync::Arc<Session> {
    let session = std::sync::Arc::new(Session::new());
    let init = r#"{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}"#;
    server.handle_bytes(init.as_bytes(), Inbound::new().session(session.clone())).await.expect("initialized");
    if initialized {
        let note = r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#;
        assert!(server.handle_bytes(note.as_bytes(), Inbound::new().session(session.clone())).await.is_none());
    }
    session
}

#[tokio::test]
async fn in_a_legacy_session_both_ways_answer_the_same_bytes_and_the_answer_outlives_the_body() {
    let server = server();
    let legacy = |id: &str, name: &str, arguments: &str| {
        format!(
            r#"{{"jsonrpc":"2.0","id":{id},"method":"tools/call","params":{{"name":"{name}","arguments":{arguments}}}}}"#
        )
    };
    let bodies = [
        legacy("1", "echo", r#"{"message":"hi"}"#),
        legacy("2", "nope", "{}"),
        legacy("3", "add", r#"{"a":"two","b":1}"#),
        // `_meta` members a legacy request may carry.
        legacy("4", "echo", r#"{"message":"p"}"#).replace(r#""name":"#, r#""_meta":{"progressToken":"t-1"},"name":"#),
        // A 2026-07-28 `_meta` inside a session.
        call("5", "echo", r#"{"message":"hi"}"#),
    ];
    for initialized in [true, false] {
        let session = session(&server, initialized).await;
        let inbound = || Inbound::new().session(session.clone());
        for body in &bodies {
            let general = general(&server, body, inbound()).await;
            assert_eq!(fast(&server, body, inbound()).await, general, "{body}");
            // The future borrows neither the bytes nor the server.
            let answer = {
                let bytes = body.clone().into_bytes();
                let server = server.clone();
                let call = server.parse_tool_call(&bytes).expect("read in one pass");
                server.handle_tool_call(call, inbound())
            };
            let answer = tokio::spawn(answer).await.unwrap().expect("an answer");
            assert_eq!(String::from_utf8(answer.to_vec()).unwrap(), general, "{body}");
        }
    }
}

#[tokio::test]
async fn mirrored_headers_are_held_against_the_body_the_same_way() {
    let server = server();
    let body = call("1", "echo", r#"{"message":"hi"}"#);
    let cases = [
        MirroredHeaders { protocol_version: Some("2026-07-28".into()), name: Some("echo".into()) },
        MirroredHeaders { protocol_version: Some("2026-07-28".into()), name: Some("other".into()) },
        MirroredHeaders { protocol_version: Some("2026-07-28".into()), name: None },
        MirroredHeaders { protocol_version: Some("2025-06-18".into()), name: Some("echo".into()) },
    ];
    for headers in cases {
        let inbound = || Inbound::new().mirrored(headers.clone());
        let (a, b) = (fast(&server, &body, inbound()).await, general(&server, &body, inbound()).await);
        assert_eq!(a, b, "{headers:?}");
    }
}

#[test]
fn what_is_left_to_the_general_way() {
    let server = server();
    let takes = |body: &str| server.parse_tool_call(body.as_bytes()).is_some();
    assert!(takes(&call("1", "echo", r#"{"message":"hi"}"#)));
    let nine = call("9", "echo", "{}");
    let read = server.parse_tool_call(nine.as_bytes()).unwrap();
    assert_eq!((read.id().to_string(), read.name()), ("9".to_owned(), "echo"));
    assert!(!read.may_send());
    let progress = call("1", "echo", "{}").replace(r#""_meta":{"#, r#""_meta":{"progressToken":"p","#);
    assert!(server.parse_tool_call(progress.as_bytes()).unwrap().may_send());
    let logging =
        call("1", "echo", "{}").replace(r#""_meta":{"#, r#""_meta":{"io.modelcontextprotocol/logLevel":"info","#);
    assert!(server.parse_tool_call(logging.as_bytes()).unwrap().may_send());

    let other_method = call("1", "echo", "{}").replace("tools/call", "tools/list");
    let no_id = call("1", "echo", "{}").replace(r#""id":1,"#, "");
    let null_id = call("null", "echo", "{}");
    let old_version = call("1", "echo", "{}").replace(r#""jsonrpc":"2.0""#, r#""jsonrpc":"1.0""#);
    let escaped = call("1", "echo", r#"{"message":"\u0041"}"#);
    let input = call("1", "echo", "{}").replace(r#""name":"echo","#, r#""name":"echo","inputResponses":null,"#);
    let response_too = call("1", "echo", "{}").replace(r#""id":1,"#, r#""id":1,"result":{},"#);
    let broken = call("1", "echo", "{}").replace("}}}", "}}");
    let deep = call("1", "echo", &format!(r#"{{"message":"x","deep":{}1{}}}"#, "[".repeat(200), "]".repeat(200)));
    // Members in order, as an array: a batch to the general way, not a call.
    let positional = r#"["2.0", 1, "tools/call", {"name":"echo","arguments":{"message":"x"}}]"#.to_owned();
    for body in [other_method, no_id, null_id, old_version, escaped, input, response_too, broken, deep, positional] {
        assert!(!takes(&body), "{body}");
    }
    // A server without tools has nothing to call.
    let empty = Server::builder().info(server_info!()).build().unwrap();
    assert!(empty.parse_tool_call(call("1", "echo", "{}").as_bytes()).is_none());
}
