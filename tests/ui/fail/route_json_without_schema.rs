use axum::Json;
use mcp_core::prelude::*;
use serde::Deserialize;

#[derive(Deserialize)]
struct NewPost {
    title: String,
}

#[mcp_tool]
async fn create_post(Json(post): Json<NewPost>) -> String {
    post.title
}

fn main() {}
