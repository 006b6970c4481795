//! Every parameter form a tool accepts.
use mcp_core::prelude::*;
use mcp_core::protocol::{ClientCapabilities, ProtocolVersion};
use mcp_core::schemars::JsonSchema;
use mcp_core::{CancellationToken, Extension, Logger, Principal, Progress};

#[derive(Clone)]
struct State;

#[derive(serde::Deserialize, JsonSchema)]
#[schemars(crate = "mcp_core::schemars")]
struct Args {
    a: u32,
}

struct Tools;

fn seven() -> u32 {
    7
}

#[mcp_toolset]
impl Tools {
    #[mcp_tool]
    async fn plain(&self, a: u32, b: Option<String>, #[mcp(rename = "c_renamed", desc = "C")] c: Vec<i64>) {
        let _ = (a, b, c);
    }

    #[mcp_tool]
    fn defaults(&self, #[mcp(default)] a: u32, #[mcp(default = seven)] b: u32, #[mcp(arg)] c: bool) {
        let _ = (a, b, c);
    }

    #[mcp_tool]
    fn flattened(&self, ctx: &Context, #[mcp(flatten)] args: Args) -> u32 {
        let _ = ctx;
        args.a
    }

    #[mcp_tool]
    async fn context_values(
        &self,
        a: &Context,
        b: Context,
        c: Progress,
        d: Logger,
        e: CancellationToken,
        f: Option<Principal>,
        Extension(state): Extension<State>,
        g: ProtocolVersion,
        h: &ClientCapabilities,
        #[mcp(context)] i: Principal,
    ) {
        let _ = (a, b, c, d, e, f, state, g, h, i);
    }

    #[mcp_tool]
    fn checked(
        &self,
        #[mcp(range(min = -1.5, max = 10))] a: f64,
        #[mcp(length(max = 3))] b: Vec<String>,
        #[mcp(pattern = "^[a-z]+$", length(min = 1))] c: Option<String>,
    ) {
        let _ = (a, b, c);
    }

    #[mcp_tool]
    fn associated(r#type: String) -> String {
        r#type
    }
}

fn main() {
    let server = Server::builder().info(server_info!()).toolset(Tools).build().unwrap();
    assert_eq!(server.tools().len(), 6);
}
