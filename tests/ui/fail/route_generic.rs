use axum::extract::State;
use mcp_core::prelude::*;

#[mcp_tool]
async fn count<S: Clone + Send + Sync + 'static>(State(_state): State<S>) -> String {
    String::new()
}

fn main() {}
