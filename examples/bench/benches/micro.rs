//! Criterion micro-benchmarks of the hot paths inside one process, no HTTP:
//! the dispatcher (`Server::handle_bytes`), argument deserialization of generated tools,
//! and the filter language (parsing, and a whole list query on SQLite).
//!
//! `cargo bench -p mcp-bench` (`-- dispatch` for one group).

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use mcp_bench::servers::{self, Echo, ManyTools, Post};
use mcp_core::prelude::*;
use mcp_core::schemars::JsonSchema;
use mcp_core::{Inbound, Reply};
use mcp_diesel::filter::{Caps, Filter, parse};
use mcp_diesel::{ListQuery, ModelInfo, ModelQuery};
use serde::Deserialize;
use serde_json::json;

const META: &str = r#""_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{},"io.modelcontextprotocol/clientInfo":{"name":"bench","version":"1"}}"#;

fn call(name: &str, arguments: &str) -> Vec<u8> {
    format!(r#"{{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{{"name":"{name}","arguments":{arguments},{META}}}}}"#)
        .into_bytes()
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime")
}

/// The answer's bytes; it must be a result (an error has `error` where `result` is).
fn answered(reply: Option<Reply>) -> Vec<u8> {
    let bytes = reply.expect("an answer").to_vec();
    assert!(bytes.starts_with(br#"{"jsonrpc":"2.0","id":7,"result":"#), "{}", String::from_utf8_lossy(&bytes));
    bytes
}

fn dispatch(c: &mut Criterion) {
    let rt = runtime();
    let echo = Server::builder().info(server_info!()).toolset(Echo).build().expect("a server");
    let body = call("echo", r#"{"message":"hello"}"#);
    let mut g = c.benchmark_group("dispatch");
    g.bench_function("echo_modern", |b| {
        b.iter(|| answered(rt.block_on(echo.handle_bytes(black_box(&body), Inbound::new()))))
    });
    let many = Server::builder().info(server_info!()).page_size(200).toolset(ManyTools(200)).build().expect("a server");
    let list = format!(r#"{{"jsonrpc":"2.0","id":7,"method":"tools/list","params":{{{META}}}}}"#).into_bytes();
    g.bench_function("tools_list_200", |b| {
        b.iter(|| answered(rt.block_on(many.handle_bytes(black_box(&list), Inbound::new()))))
    });
    let parse_only =
        br#"{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"echo","arguments":{"message":"hello"}}}"#;
    g.bench_function("jsonrpc_parse", |b| b.iter(|| mcp_core::protocol::jsonrpc::parse(black_box(parse_only)).is_ok()));
    g.finish();
}

/// A nested argument.
#[derive(Deserialize, JsonSchema)]
#[schemars(crate = "mcp_core::schemars")]
struct Window {
    /// From.
    from: i64,
    /// To.
    to: i64,
    /// Time zone.
    tz: Option<String>,
}

struct Args;

#[mcp_toolset]
impl Args {
    /// No arguments.
    #[mcp_tool]
    fn none(&self) -> u32 {
        1
    }

    /// Six arguments of several kinds.
    #[mcp_tool]
    fn six(
        &self,
        query: String,
        #[mcp(range(min = 1, max = 100))] limit: Option<u32>,
        tags: Vec<String>,
        window: Window,
        verbose: bool,
        score: f64,
    ) -> u32 {
        let _ = (query, limit, tags, window.from, window.to, window.tz, verbose, score);
        1
    }
}

fn arguments(c: &mut Criterion) {
    let rt = runtime();
    let server = Server::builder().info(server_info!()).toolset(Args).build().expect("a server");
    let none = call("none", "{}");
    let six = call(
        "six",
        r#"{"query":"rust web","limit":20,"tags":["a","b","c"],"window":{"from":1,"to":2,"tz":"UTC"},"verbose":true,"score":0.5}"#,
    );
    let wrong = call("six", r#"{"query":"x","tags":[],"window":{"from":"yesterday","to":2},"verbose":true,"score":1}"#);
    let mut g = c.benchmark_group("arguments");
    g.bench_function("none", |b| {
        b.iter(|| answered(rt.block_on(server.handle_bytes(black_box(&none), Inbound::new()))))
    });
    g.bench_function("six", |b| b.iter(|| answered(rt.block_on(server.handle_bytes(black_box(&six), Inbound::new())))));
    g.bench_function("six_invalid", |b| {
        b.iter(|| {
            let out = answered(rt.block_on(server.handle_bytes(black_box(&wrong), Inbound::new())));
            assert!(out.windows(14).any(|w| w == br#""isError":true"#), "{}", String::from_utf8_lossy(&out));
        })
    });
    g.finish();
}

fn filters(c: &mut Criterion) {
    let caps = Caps::default();
    let simple = json!({ "published": true });
    let list = json!({ "published": true, "views__gte": 50_000 });
    let complex = json!({
        "$or": [
            { "title__icontains": "rust", "views": { "$gt": 10, "$lt": 90_000 } },
            { "author_id": { "$in": [1, 2, 3, 4, 5, 6, 7, 8] } },
            { "$not": { "body__startswith": "draft" } },
        ],
        "published": true,
    });
    let mut g = c.benchmark_group("filter");
    for (name, f) in [("parse_simple", &simple), ("parse_list_scenario", &list), ("parse_complex", &complex)] {
        g.bench_function(name, |b| b.iter(|| parse(black_box(f), Post::FIELDS, &caps, false).expect("a valid filter")));
    }
    // A whole list query: the filter built into Diesel's boxed query, run against an
    // in-memory copy of the benchmark's table (index on `views`), 21 rows loaded.
    let pool = servers::database(":memory:", 1).expect("a database");
    let mut conn = pool.get().expect("a connection");
    let filter = parse(&list, Post::FIELDS, &caps, false).expect("a valid filter");
    let query = ListQuery { filter, order: vec![(5, true), (0, false)], limit: 21, offset: 0 };
    let scope = Filter::all();
    g.bench_function("list_query_sqlite", |b| {
        b.iter(|| {
            let rows = <Post as ModelQuery<diesel::SqliteConnection>>::list(&mut *conn, black_box(&query), &scope)
                .expect("rows");
            assert_eq!(rows.len(), 21);
        })
    });
    g.finish();
}

criterion_group!(benches, dispatch, arguments, filters);
criterion_main!(benches);
