use axum::http::HeaderMap;
use mcp_core::prelude::*;

#[mcp_tool]
async fn upload(_headers: HeaderMap, body: String) -> String {
    body
}

fn main() {}
