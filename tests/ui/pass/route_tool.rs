//! Route tools: every extractor form, outputs, attributes, a `cfg`-gated handler, a
//! renamed runtime path, and generated code that needs no prelude.

use std::collections::HashMap;

use axum::extract::{Extension, Path, Query, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::routing::{get, post};
use axum::{Json, Router};
use mcp_axum::{McpCall, RouteTools};
use mcp_core::prelude::*;
use mcp_core::schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(Deserialize, Serialize, JsonSchema)]
#[schemars(crate = "mcp_core::schemars")]
struct Post {
    id: u32,
    title: String,
}

#[derive(Deserialize, JsonSchema)]
#[schemars(crate = "mcp_core::schemars")]
struct Page {
    limit: Option<u32>,
}

struct ApiError;

impl axum::response::IntoResponse for ApiError {
    fn into_response(self) -> axum::response::Response {
        StatusCode::BAD_REQUEST.into_response()
    }
}

/// Create a post.
#[mcp_tool(name = "create_post", title = "New post", destructive = false, icon = "https://example.com/i.png")]
pub async fn create_post(
    State(_state): State<u8>,
    _headers: HeaderMap,
    _call: Option<Extension<McpCall>>,
    Json(post): Json<Post>,
) -> Result<(StatusCode, Json<Post>), ApiError> {
    Ok((StatusCode::CREATED, Json(post)))
}

#[mcp_tool(read_only, idempotent, open_world = false, meta = serde_json::json!({ "team": "blog" }))]
async fn list_posts(Query(_page): Query<Page>, Path((_a, _b)): Path<(String, u32)>) -> Json<Vec<Post>> {
    Json(Vec::new())
}

#[mcp_tool]
async fn raw(Path(_all): Path<HashMap<String, String>>) -> StatusCode {
    StatusCode::NO_CONTENT
}

#[cfg(any())]
#[mcp_tool]
async fn gone() {}

#[mcp_tool(crate = "::mcp_axum")]
async fn renamed() -> Json<serde_json::Value> {
    Json(serde_json::Value::Null)
}

mod hygiene {
    #![no_implicit_prelude]

    #[::mcp_core::mcp_tool]
    pub async fn clean(::axum::Json(v): ::axum::Json<::std::string::String>) -> ::axum::Json<::std::string::String> {
        ::axum::Json(v)
    }
}

fn main() {
    let app = Router::new()
        .route("/posts", post(create_post))
        .route("/posts/{a}/{b}", get(list_posts))
        .route("/raw/{x}", get(raw))
        .route("/renamed", get(renamed))
        .route("/clean", post(hygiene::clean))
        .with_state(7u8);
    let tools = RouteTools::new(app)
        .post::<create_post>("/posts")
        .get::<list_posts>("/posts/{a}/{b}")
        .route::<raw>(Method::GET, "/raw/{x}")
        .get::<renamed>("/renamed")
        .post::<hygiene::clean>("/clean")
        .write_scopes(["posts:write"]);
    let server = Server::builder().info(server_info!()).toolset(tools).build().unwrap();
    assert_eq!(server.tools().len(), 5);
}
