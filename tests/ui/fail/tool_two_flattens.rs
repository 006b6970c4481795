use mcp_core::prelude::*;
use mcp_core::schemars::JsonSchema;

struct Tools;

#[derive(serde::Deserialize, JsonSchema)]
#[schemars(crate = "mcp_core::schemars")]
struct A {
    a: u32,
}

#[derive(serde::Deserialize, JsonSchema)]
#[schemars(crate = "mcp_core::schemars")]
struct B {
    b: u32,
}

#[mcp_toolset]
impl Tools {
    #[mcp_tool]
    fn both(&self, #[mcp(flatten)] a: A, #[mcp(flatten)] b: B) -> u32 {
        a.a + b.b
    }
}

fn main() {}
