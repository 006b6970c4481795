use axum::extract::Path;
use mcp_core::prelude::*;
use serde::Deserialize;

#[derive(Deserialize)]
struct Key {
    id: u32,
}

#[mcp_tool]
async fn get_post(Path(key): Path<Key>) -> String {
    key.id.to_string()
}

fn main() {}
