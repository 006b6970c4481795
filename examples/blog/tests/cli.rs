//! The `blog` binary: `--help`, `--list-tools` and `--stdio`.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

use serde_json::{Value, json};

mod common;

use common::TempDir;

#[test]
fn help_and_bad_options() {
    let out = Command::new(env!("CARGO_BIN_EXE_blog")).arg("--help").output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    for flag in ["--bind", "--database-url", "--user", "--oauth-issuer", "--public-url", "--stdio", "--list-tools"] {
        assert!(text.contains(flag), "{text}");
    }
    let out = Command::new(env!("CARGO_BIN_EXE_blog")).arg("--frobnicate").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown option `--frobnicate`"));
    let out = Command::new(env!("CARGO_BIN_EXE_blog")).args(["--user", "eve:short"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn list_tools_prints_json() {
    let dir = TempDir::new("blog-cli-list");
    let db = dir.db();
    let out = Command::new(env!("CARGO_BIN_EXE_blog"))
        .args(["--list-tools", "--database-url", db.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let tools: Value = serde_json::from_slice(&out.stdout).expect("valid JSON");
    let tools = tools.as_array().unwrap();
    assert_eq!(tools.len(), 31);
    assert!(tools.iter().all(|t| t["inputSchema"]["type"] == "object"));
}

#[test]
fn stdio_answers_a_client() {
    let dir = TempDir::new("blog-cli-stdio");
    let db = dir.db();
    let mut child = Command::new(env!("CARGO_BIN_EXE_blog"))
        .args(["--stdio", "--database-url", db.to_str().unwrap()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut send = |v: Value| {
        writeln!(stdin, "{v}").unwrap();
        stdin.flush().unwrap();
    };
    let mut read = || {
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        serde_json::from_str::<Value>(&line).unwrap()
    };
    send(json!({ "jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": { "name": "t", "version": "1" } } }));
    assert_eq!(read()["result"]["protocolVersion"], "2025-11-25");
    send(json!({ "jsonrpc": "2.0", "method": "notifications/initialized" }));
    // The first user (alice) is signed in: her drafts count.
    send(json!({ "jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {
        "name": "posts_count", "arguments": { "filter": { "published": false } } } }));
    let answer = read();
    assert!(answer["result"]["structuredContent"]["count"].as_i64().unwrap() > 0, "{answer}");
    child.kill().ok();
    child.wait().unwrap();
}

#[cfg(not(feature = "postgres"))]
#[test]
fn a_postgres_url_needs_the_postgres_feature() {
    let out = Command::new(env!("CARGO_BIN_EXE_blog"))
        .args(["--list-tools", "--database-url", "postgres://postgres@127.0.0.1:5432/blog_demo"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("built without PostgreSQL support") && err.contains("--features postgres"), "{err}");
    assert!(out.stdout.is_empty());
}

#[test]
fn other_database_urls_are_refused() {
    let out = Command::new(env!("CARGO_BIN_EXE_blog"))
        .args(["--list-tools", "--database-url", "mysql://root:secret@127.0.0.1:3306/blog"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("`mysql://` databases are not supported"), "{err}");
    assert!(!err.contains("secret"), "the password stays out of the log: {err}");
}

/// Logs go to stderr through a `tracing` subscriber filtered by `RUST_LOG` (before, the blog
/// installed none and every log vanished), stdout stays pure JSON-RPC in `--stdio` mode, and
/// the first start on a new database logs no error (the pool's connections used to fail with
/// "database is locked" while the first one switched the new file to WAL).
#[test]
fn logs_go_to_stderr_and_stdout_stays_clean() {
    let run = |db: &std::path::Path, rust_log: Option<&str>| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_blog"));
        command
            .args(["--stdio", "--database-url", db.to_str().unwrap()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .env_remove("RUST_LOG");
        if let Some(filter) = rust_log {
            command.env("RUST_LOG", filter);
        }
        let mut child = command.spawn().unwrap();
        let mut stdin = child.stdin.take().unwrap();
        for message in [
            json!({ "jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
                "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": { "name": "t", "version": "1" } } }),
            json!({ "jsonrpc": "2.0", "method": "notifications/initialized" }),
            json!({ "jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {
                "name": "posts_count", "arguments": {} } }),
        ] {
            writeln!(stdin, "{message}").unwrap();
        }
        drop(stdin);
        let out = child.wait_with_output().unwrap();
        let stdout = String::from_utf8(out.stdout).unwrap();
        let stderr = String::from_utf8(out.stderr).unwrap();
        let answers: Vec<Value> = stdout
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("stdout line is not JSON ({e}): {l}")))
            .collect();
        assert!(
            answers.iter().any(|a| a["id"] == 2 && a["result"]["structuredContent"]["count"].is_number()),
            "{stdout}"
        );
        stderr
    };
    let dir = TempDir::new("blog-cli-logs");
    let stderr = run(&dir.db(), None);
    assert!(!stderr.contains("ERROR"), "a first start on a new database logged errors:\n{stderr}");
    let stderr = run(&dir.db(), Some("blog=["));
    assert!(stderr.contains("WARN") && stderr.contains("RUST_LOG=`blog=[` is not a filter"), "{stderr}");
}
