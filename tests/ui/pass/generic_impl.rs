//! Generic impl blocks are supported when parameter types do not depend on the generics.
use mcp_core::prelude::*;

struct Store<T, const N: usize> {
    items: std::sync::Mutex<Vec<T>>,
}

#[mcp_toolset]
impl<T, const N: usize> Store<T, N>
where
    T: ToString + Send + Sync + 'static,
{
    #[mcp_tool]
    fn count(&self) -> usize {
        self.items.lock().unwrap().len().min(N)
    }

    #[mcp_tool]
    fn first(&self) -> Option<String> {
        self.items.lock().unwrap().first().map(ToString::to_string)
    }
}

fn main() {
    let store = Store::<u8, 10> { items: std::sync::Mutex::new(vec![1, 2]) };
    let server = Server::builder().info(server_info!()).toolset(store).build().unwrap();
    assert_eq!(server.tools().len(), 2);
}
