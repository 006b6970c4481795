//! `#[mcp_toolset(model = ...)]` on an impl block names a type that is not a model.
use mcp_core::{Context, ToolError, mcp_toolset};
use serde_json::Value;

struct Post;

struct PostRules;

#[mcp_toolset(model = Post)]
impl PostRules {
    fn scope(&self, _ctx: &Context) -> Result<Value, ToolError> {
        Ok(Value::Null)
    }
}

fn main() {}
