//! `Server::parse_list_request` + `Server::handle_list` (the one-pass `*/list` of
//! transports that know the method from a header) against the general way
//! (`Server::handle_bytes`): the same bytes for pages, cursors, errors, sessions and
//! per-caller tool lists, and what is left to the general way.

use mcp_core::prelude::*;
use mcp_core::{Extensions, Inbound, MirroredHeaders, Principal, Session};

struct Tools;

#[mcp_toolset]
impl Tools {
    /// Repeat a message.
    #[mcp_tool(read_only)]
    fn echo(&self, message: String) -> String {
        message
    }

    /// Add two numbers.
    #[mcp_tool]
    fn add(&self, a: i64, b: i64) -> i64 {
        a + b
    }

    /// Needs a scope.
    #[mcp_tool(scopes = "admin")]
    fn purge(&self) -> String {
        "purged".into()
    }

    /// A greeting.
    #[mcp_prompt]
    fn greet(&self, name: String) -> String {
        format!("Hello {name}")
    }
}

fn server() -> Server {
    Server::builder().info(server_info!()).page_size(2).toolset(Tools).build().unwrap()
}

const META: &str = r#""_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}"#;

fn list(id: &str, method: &str, extra: &str) -> String {
    format!(r#"{{"jsonrpc":"2.0","id":{id},"method":"{method}","params":{{{extra}{META}}}}}"#)
}

async fn general(server: &Server, body: &str, inbound: Inbound) -> String {
    let reply = server.handle_bytes(body.as_bytes(), inbound).await.expect("an answer");
    String::from_utf8(reply.to_vec()).unwrap()
}

fn fast(server: &Server, body: &str, inbound: &Inbound) -> String {
    let read = server.parse_list_request(body.as_bytes()).expect("read in one pass");
    let response = server.handle_list(read, inbound).expect("an answer");
    String::from_utf8(response.to_vec()).unwrap()
}

fn admin() -> Extensions {
    let mut ext = Extensions::new();
    ext.insert(Principal::new("root").with_scopes(["admin"]));
    ext
}

#[tokio::test]
async fn both_ways_answer_the_same_bytes() {
    let server = server();
    let first = fast(&server, &list("1", "tools/list", ""), &Inbound::new().extensions(admin()));
    let page: serde_json::Value = serde_json::from_str(&first).unwrap();
    let cursor = page["result"]["nextCursor"].as_str().expect("a second page").to_owned();
    assert_eq!(page["result"]["tools"].as_array().map(Vec::len), Some(2));
    let bodies = [
        list("1", "tools/list", ""),
        list(r#""s-2""#, "tools/list", &format!(r#""cursor":"{cursor}","#)),
        list("3", "tools/list", r#""cursor":null,"#),
        list("4", "tools/list", r#""cursor":"bm90IG91cnM=","#),
        list("5", "prompts/list", ""),
        // Protocol errors: a version this server does not speak, missing capabilities,
        // a malformed client info.
        list("6", "tools/list", "").replace("2026-07-28", "1999-01-01"),
        list("7", "tools/list", "").replace(r#","io.modelcontextprotocol/clientCapabilities":{}"#, ""),
        list("8", "tools/list", "").replace(
            r#""io.modelcontextprotocol/clientCapabilities":{}"#,
            r#""io.modelcontextprotocol/clientCapabilities":{},"io.modelcontextprotocol/clientInfo":7"#,
        ),
        // Without `_meta`: no version named.
        r#"{"jsonrpc":"2.0","id":9,"method":"tools/list","params":{}}"#.to_owned(),
        r#"{"jsonrpc":"2.0","id":10,"method":"tools/list"}"#.to_owned(),
    ];
    let callers = [Inbound::new, || Inbound::new().extensions(admin())];
    for caller in callers {
        for body in &bodies {
            assert_eq!(fast(&server, body, &caller()), general(&server, body, caller()).await, "{body}");
        }
    }
    // The caller with the scope sees the third tool.
    let admin_page = fast(&server, &bodies[1], &Inbound::new().extensions(admin()));
    assert!(admin_page.contains(r#""name":"purge""#), "{admin_page}");
    let anonymous_page = fast(&server, &bodies[1], &Inbound::new());
    assert!(!anonymous_page.contains("purge"), "{anonymous_page}");
}

#[tokio::test]
async fn mirrored_headers_and_sessions_are_held_the_same_way() {
    let server = server();
    let body = list("1", "tools/list", "");
    for version in ["2026-07-28", "2025-06-18"] {
        let headers = MirroredHeaders { protocol_version: Some(version.into()), name: None };
        let inbound = || Inbound::new().mirrored(headers.clone());
        assert_eq!(fast(&server, &body, &inbound()), general(&server, &body, inbound()).await, "{version}");
    }
    let session = std::sync::Arc::new(Session::new());
    let init = r#"{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}"#;
    server.handle_bytes(init.as_bytes(), Inbound::new().session(session.clone())).await.expect("initialized");
    let legacy = r#"{"jsonrpc":"2.0","id":2,"method":"tools/list","params":{}}"#;
    for body in [legacy, body.as_str()] {
        let inbound = || Inbound::new().session(session.clone());
        assert_eq!(fast(&server, body, &inbound()), general(&server, body, inbound()).await, "{body}");
    }
}

#[test]
fn what_is_left_to_the_general_way() {
    let server = server();
    let three = list("3", "tools/list", "");
    let read = server.parse_list_request(three.as_bytes()).expect("read");
    assert_eq!((read.id().to_string(), read.method()), ("3".to_owned(), "tools/list"));
    assert_eq!(read.protocol_version().as_deref(), Some("2026-07-28"));
    assert!(!read.may_send());
    assert_eq!(mcp_core::ListRequest::method_of("prompts/list"), Some("prompts/list"));
    assert_eq!(mcp_core::ListRequest::method_of("tools/call"), None);
    let progress =
        list("1", "tools/list", r#""cursor":null,"#).replace(r#""_meta":{"#, r#""_meta":{"progressToken":1,"#);
    assert!(server.parse_list_request(progress.as_bytes()).unwrap().may_send());

    let takes = |body: &str| server.parse_list_request(body.as_bytes()).is_some();
    // Lists this server does not offer, other methods, and anything unusual.
    let resources = list("1", "resources/list", "");
    let templates = list("1", "resources/templates/list", "");
    let call = list("1", "tools/call", r#""name":"echo","#);
    let escaped = list("1", "tools/list", r#""cursor":"\u0041","#);
    let bad_cursor = list("1", "tools/list", r#""cursor":5,"#);
    let notification = list("1", "tools/list", "").replace(r#""id":1,"#, "");
    let batch = format!("[{}]", list("1", "tools/list", ""));
    for body in [resources, templates, call, escaped, bad_cursor, notification, batch] {
        assert!(!takes(&body), "{body}");
    }
}
