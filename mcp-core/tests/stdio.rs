//! The stdio transport, driven over in-memory pipes exactly as a client process would.

mod common;

use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, DuplexStream, Lines};

struct Pipe {
    to_server: DuplexStream,
    from_server: Lines<BufReader<DuplexStream>>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

fn start() -> Pipe {
    let (client_out, server_in) = tokio::io::duplex(1 << 20);
    let (server_out, client_in) = tokio::io::duplex(1 << 20);
    let server = common::server();
    let task = tokio::spawn(async move { server.serve_io(server_in, server_out).await });
    Pipe { to_server: client_out, from_server: BufReader::new(client_in).lines(), task }
}

impl Pipe {
    async fn send(&mut self, v: Value) {
        self.send_raw(&format!("{v}\n")).await;
    }

    async fn send_raw(&mut self, s: &str) {
        self.to_server.write_all(s.as_bytes()).await.unwrap();
    }

    async fn recv(&mut self) -> Value {
        let line = tokio::time::timeout(Duration::from_secs(5), self.from_server.next_line())
            .await
            .expect("an answer in time")
            .unwrap()
            .expect("a line");
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"))
    }
}

#[tokio::test]
async fn legacy_session_over_stdio() {
    let mut p = start();
    p.send(json!({ "jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": { "elicitation": {} }, "clientInfo": { "name": "t", "version": "1" } } }))
        .await;
    let init = p.recv().await;
    assert_eq!(init["result"]["protocolVersion"], "2025-06-18");
    p.send(json!({ "jsonrpc": "2.0", "method": "notifications/initialized" })).await;
    p.send(json!({ "jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": { "name": "echo", "arguments": { "message": "hi" } } }))
        .await;
    let r = p.recv().await;
    assert_eq!(r["id"], 2);
    assert_eq!(r["result"]["structuredContent"], json!({ "echo": "hi" }));

    // A server-to-client request goes out on stdout and the answer comes back on stdin.
    p.send(
        json!({ "jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": { "name": "ask_name", "arguments": {} } }),
    )
    .await;
    let ask = p.recv().await;
    assert_eq!(ask["method"], "elicitation/create");
    p.send(
        json!({ "jsonrpc": "2.0", "id": ask["id"], "result": { "action": "accept", "content": { "name": "Stdio" } } }),
    )
    .await;
    let r = p.recv().await;
    assert_eq!(r["id"], 3);
    assert_eq!(r["result"]["content"][0]["text"], "Hello, Stdio!");

    // Cancellation by notification: no response for the cancelled request.
    p.send(json!({ "jsonrpc": "2.0", "id": 4, "method": "tools/call", "params": { "name": "slow", "arguments": {} } }))
        .await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    p.send(json!({ "jsonrpc": "2.0", "method": "notifications/cancelled", "params": { "requestId": 4 } })).await;
    p.send(json!({ "jsonrpc": "2.0", "id": 5, "method": "ping" })).await;
    assert_eq!(p.recv().await["id"], 5);

    drop(p.to_server);
    tokio::time::timeout(Duration::from_secs(5), p.task).await.unwrap().unwrap().unwrap();
}

#[tokio::test]
async fn modern_requests_and_garbage_over_stdio() {
    let mut p = start();
    p.send(json!({ "jsonrpc": "2.0", "id": "d", "method": "server/discover", "params": { "_meta": {
        "io.modelcontextprotocol/protocolVersion": "2026-07-28", "io.modelcontextprotocol/clientCapabilities": {} } } }))
        .await;
    let d = p.recv().await;
    assert_eq!(d["result"]["resultType"], "complete");
    p.send_raw("this is not json\n\n").await;
    let e = p.recv().await;
    assert_eq!(e["error"]["code"], -32700);
    assert_eq!(e["id"], Value::Null);
    // Without _meta and before initialize: a clear error, the connection stays up.
    p.send(json!({ "jsonrpc": "2.0", "id": 7, "method": "tools/list" })).await;
    let e = p.recv().await;
    assert_eq!(e["error"]["code"], -32600);
    p.send(json!({ "jsonrpc": "2.0", "id": 8, "method": "ping" })).await;
    assert_eq!(p.recv().await["result"], json!({}));
}

#[tokio::test]
async fn oversized_messages_are_refused_without_dropping_the_connection() {
    let mut p = start();
    let mut to_server = std::mem::replace(&mut p.to_server, tokio::io::duplex(1).0);
    let writer = tokio::spawn(async move {
        let huge = format!(
            "{{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\",\"params\":{{\"x\":\"{}\"}}}}\n",
            "a".repeat(17 << 20)
        );
        to_server.write_all(huge.as_bytes()).await.unwrap();
        to_server
            .write_all(b"{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"initialize\",\"params\":{\"protocolVersion\":\"2025-03-26\",\"capabilities\":{},\"clientInfo\":{\"name\":\"t\",\"version\":\"1\"}}}\n")
            .await
            .unwrap();
        to_server
    });
    let e = p.recv().await;
    assert_eq!(e["error"]["code"], -32600);
    assert!(e["error"]["message"].as_str().unwrap().contains("larger than"));
    assert_eq!(p.recv().await["result"]["protocolVersion"], "2025-03-26");
    drop(writer.await.unwrap());
}

#[tokio::test]
async fn requests_pipelined_after_initialize_see_the_session() {
    let mut p = start();
    let init = json!({ "jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": { "name": "t", "version": "1" } } });
    let list = json!({ "jsonrpc": "2.0", "id": 2, "method": "tools/list" });
    p.send_raw(&format!("{init}\n{}\n{list}\n", json!({ "jsonrpc": "2.0", "method": "notifications/initialized" })))
        .await;
    let mut got = [p.recv().await, p.recv().await];
    got.sort_by_key(|v| v["id"].as_i64());
    assert_eq!(got[0]["result"]["protocolVersion"], "2025-11-25");
    assert!(got[1]["result"]["tools"].is_array(), "{}", got[1]);
}

#[tokio::test]
async fn closing_stdin_lets_running_requests_answer() {
    let mut p = start();
    let init = json!({ "jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": { "name": "t", "version": "1" } } });
    let call =
        json!({ "jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": { "name": "progress", "arguments": {} } });
    p.send_raw(&format!("{init}\n{call}\n")).await;
    drop(std::mem::replace(&mut p.to_server, tokio::io::duplex(1).0));
    let mut ids = [p.recv().await["id"].clone(), p.recv().await["id"].clone()];
    ids.sort_by_key(|v| v.as_i64());
    assert_eq!(ids, [json!(1), json!(2)]);
    tokio::time::timeout(Duration::from_secs(5), p.task).await.unwrap().unwrap().unwrap();
}
