use mcp_core::prelude::*;

struct Tools;

#[mcp_toolset]
impl Tools {
    #[mcp_resource(uri_template = "app://users/{user}/posts/{post}")]
    fn post(&self, user: String) -> String {
        user
    }
}

fn main() {}
