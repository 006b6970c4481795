//! Generated code names everything by absolute path.
#![no_implicit_prelude]

mod tools {
    use ::mcp_core::{mcp_complete, mcp_prompt, mcp_resource, mcp_tool, mcp_toolset};

    pub struct Tools;

    #[mcp_toolset]
    impl Tools {
        /// Adds.
        #[mcp_tool]
        async fn add(&self, ctx: &::mcp_core::Context, a: i64, #[mcp(range(min = 0))] b: ::std::option::Option<i64>) -> i64 {
            let _ = ctx;
            a + b.unwrap_or(0)
        }

        #[mcp_tool(blocking)]
        fn blocking(&self, #[mcp(default, pattern = "^x")] s: ::std::string::String) -> ::std::string::String {
            s
        }

        #[mcp_resource(uri_template = "x://{id}")]
        fn item(&self, id: ::std::string::String) -> ::std::string::String {
            id
        }

        #[mcp_prompt]
        fn prompt(&self, topic: ::std::string::String) -> ::std::string::String {
            topic
        }

        #[mcp_complete(prompt = "prompt", argument = "topic")]
        fn topics(&self, typed: &str) -> ::std::vec::Vec<::std::string::String> {
            let _ = typed;
            ::std::vec::Vec::new()
        }
    }

    impl ::core::clone::Clone for Tools {
        fn clone(&self) -> Self {
            Tools
        }
    }
}

fn main() {
    let server = ::mcp_core::Server::builder()
        .info(::mcp_core::server_info!())
        .toolset(tools::Tools)
        .build()
        .unwrap();
    ::std::assert_eq!(server.tools().len(), 2);
}
