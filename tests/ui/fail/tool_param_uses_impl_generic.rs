use mcp_core::prelude::*;

struct Store<T>(T);

#[mcp_toolset]
impl<T: Clone + Send + Sync + 'static> Store<T> {
    #[mcp_tool]
    fn put(&self, value: T) {
        let _ = value;
    }
}

fn main() {}
