use axum::extract::Query;
use mcp_core::prelude::*;
use serde::Deserialize;

#[derive(Deserialize)]
struct Page {
    limit: Option<u32>,
}

#[mcp_tool]
async fn list_posts(Query(page): Query<Page>) -> String {
    format!("{:?}", page.limit)
}

fn main() {}
