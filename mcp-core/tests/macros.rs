//! Every form of `#[mcp_toolset]` method, called through the real dispatcher.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use mcp_core::prelude::*;
use mcp_core::protocol::{ClientCapabilities, CompleteContext, ElicitParams, InputRequest};
use mcp_core::schemars::JsonSchema;
use mcp_core::testing::TestClient;
use mcp_core::{Extension, Logger};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

#[derive(Clone, Default)]
struct Blog {
    published: Arc<AtomicU32>,
}

#[derive(Serialize, JsonSchema)]
#[schemars(crate = "mcp_core::schemars")]
struct AuthorCount {
    /// The author.
    author: String,
    /// Their posts.
    posts: u32,
}

/// What `publish` takes.
#[derive(Deserialize, JsonSchema)]
#[schemars(crate = "mcp_core::schemars")]
struct PublishArgs {
    /// The post to publish.
    id: u32,
    /// Publish even if already published.
    #[serde(default)]
    force: bool,
}

#[derive(Deserialize, Serialize, JsonSchema, Clone, Copy, Debug, PartialEq)]
#[serde(rename_all = "snake_case")]
#[schemars(crate = "mcp_core::schemars")]
enum Order {
    Newest,
    Oldest,
}

#[derive(Clone)]
struct AppName(&'static str);

/// A category tree (recursive: the one case that keeps `$defs`).
#[derive(Deserialize, Serialize, JsonSchema)]
#[schemars(crate = "mcp_core::schemars")]
struct Category {
    name: String,
    #[serde(default)]
    children: Vec<Category>,
}

/// A search filter.
#[derive(Deserialize, JsonSchema)]
#[schemars(crate = "mcp_core::schemars")]
struct Filter {
    /// Tags to match.
    tags: Vec<Tag>,
    /// Who to notify.
    #[schemars(email)]
    notify: Option<String>,
}

#[derive(Deserialize, JsonSchema)]
#[schemars(crate = "mcp_core::schemars")]
struct Tag {
    label: String,
    weight: u8,
}

#[derive(Debug)]
struct Failure;

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the database is on fire")
    }
}

impl std::error::Error for Failure {}

#[mcp_toolset]
impl Blog {
    /// Count posts per author.
    ///
    /// Most prolific first.
    #[mcp_tool(read_only, title = "Posts per author")]
    async fn posts_per_author(
        &self,
        ctx: &Context,
        #[mcp(desc = "How many authors", range(min = 1, max = 100))] top: Option<u32>,
        #[mcp(desc = "Sort order")] order: Option<Order>,
    ) -> Result<Vec<AuthorCount>, ToolError> {
        let _ = ctx.protocol_version();
        let mut all =
            vec![AuthorCount { author: "alice".into(), posts: 3 }, AuthorCount { author: "bob".into(), posts: 1 }];
        if order == Some(Order::Oldest) {
            all.reverse();
        }
        all.truncate(top.unwrap_or(10) as usize);
        Ok(all)
    }

    /// Publish a draft.
    #[mcp_tool(idempotent)]
    fn publish(&self, #[mcp(flatten)] args: PublishArgs) -> Result<String, ToolError> {
        if args.id == 0 {
            return Err(ToolError::not_found("no post 0"));
        }
        self.published.fetch_add(1, Ordering::SeqCst);
        Ok(format!("published {} (force: {})", args.id, args.force))
    }

    /// Greets.
    #[mcp_tool(name = "say-hello")]
    fn hello(
        #[mcp(length(min = 1, max = 20), pattern = "^[A-Za-z ]+$")] name: String,
        Extension(app): Extension<AppName>,
    ) -> String {
        format!("Hello {name}, from {}", app.0)
    }

    /// Nothing to return.
    #[mcp_tool(destructive)]
    async fn reset(&self) {}

    /// Fails with a library error.
    #[mcp_tool]
    fn explode(&self) -> Result<u32, Failure> {
        Err(Failure)
    }

    /// Computes on the blocking pool.
    #[mcp_tool(blocking)]
    fn crunch(&self, #[mcp(default)] rounds: u32, logger: Logger) -> u64 {
        drop(logger);
        (0..=u64::from(rounds)).sum()
    }

    /// A raw result.
    #[mcp_tool]
    fn raw(&self) -> CallToolResult {
        CallToolResult::success(vec![Content::text("a"), Content::image(&[1, 2, 3], "image/png")])
    }

    /// Asks for confirmation.
    #[mcp_tool]
    async fn confirm(&self, ctx: &Context) -> Result<String, ToolError> {
        let answer = ctx
            .elicit_as(
                "ok",
                ElicitParams::form("Sure?", json!({ "type": "object", "properties": { "ok": { "type": "boolean" } } })),
            )
            .await?;
        Ok(format!("{:?}", answer.action))
    }

    #[cfg(any())]
    #[mcp_tool]
    fn compiled_out(&self) -> String {
        String::new()
    }

    /// After a compiled-out tool.
    #[mcp_tool(icon = "https://example.com/last.png", meta = json!({ "com.example/tier": "gold" }), open_world = false)]
    fn last(&self) -> &'static str {
        "last"
    }

    /// Counts the categories of a tree.
    #[mcp_tool]
    fn count_categories(&self, tree: Category) -> Category {
        fn count(c: &Category) -> usize {
            1 + c.children.iter().map(count).sum::<usize>()
        }
        Category { name: format!("{} categories", count(&tree)), children: Vec::new() }
    }

    #[doc = include_str!("docs/reindex.md")]
    #[mcp_tool]
    fn reindex(&self) {}

    /// Searches.
    #[mcp_tool]
    fn search(&self, filter: Filter) -> String {
        let labels: Vec<String> = filter.tags.iter().map(|t| format!("{}:{}", t.label, t.weight)).collect();
        format!("{} ({})", labels.join(","), filter.notify.unwrap_or_default())
    }

    /// A post as JSON.
    #[mcp_resource(uri_template = "blog://posts/{id}", mime_type = "application/json")]
    fn post(&self, id: u32) -> Result<String, ToolError> {
        if id > 100 {
            return Err(ToolError::not_found("no such post"));
        }
        Ok(json!({ "id": id }).to_string())
    }

    /// About the blog.
    #[mcp_resource(uri = "blog://about", name = "about", mime_type = "text/plain")]
    async fn about(&self, Extension(app): Extension<AppName>) -> String {
        format!("{} is a blog", app.0)
    }

    /// Summarize a post.
    #[mcp_prompt(title = "Summarize")]
    fn summarize(&self, #[mcp(desc = "Post id")] id: u32, style: Option<String>) -> Vec<PromptMessage> {
        vec![PromptMessage::user(format!("Summarize post {id} in a {} style", style.as_deref().unwrap_or("neutral")))]
    }

    #[mcp_complete(prompt = "summarize", argument = "style")]
    fn complete_style(&self, typed: &str, others: CompleteContext) -> Vec<String> {
        let _ = others;
        ["casual", "formal", "funny"].iter().filter(|s| s.starts_with(typed)).map(|s| s.to_string()).collect()
    }

    #[mcp_complete(resource = "blog://posts/{id}", argument = "id")]
    fn complete_id(&self, typed: String) -> Vec<String> {
        (1..=3).map(|i| i.to_string()).filter(|s| s.starts_with(&typed)).collect()
    }
}

fn server() -> Server {
    Server::builder().info(Implementation::new("blog", "1.0.0")).toolset(Blog::default()).build().unwrap()
}

fn client() -> TestClient {
    TestClient::modern(server()).with_extension(AppName("Macro blog"))
}

async fn call(c: &TestClient, name: &str, args: Value) -> CallToolResult {
    c.call_tool(name, args).await.unwrap()
}

#[tokio::test]
async fn plain_parameters_and_structured_output() {
    let c = client();
    let r = call(&c, "posts_per_author", json!({ "top": 1 })).await;
    assert!(!r.is_error(), "{}", r.text_content());
    assert_eq!(r.structured_value(), Some(json!([{ "author": "alice", "posts": 3 }])));
    assert_eq!(r.text_content(), r#"[{"author":"alice","posts":3}]"#);
    let r = call(&c, "posts_per_author", json!({ "order": "oldest" })).await;
    assert_eq!(r.structured_value().unwrap()[0]["author"], "bob");
    let r = call(&c, "posts_per_author", json!({})).await;
    assert_eq!(r.structured_value().unwrap().as_array().unwrap().len(), 2);
    // Legacy clients get the array wrapped in an object, matching the wrapped schema.
    let legacy = TestClient::legacy(server(), ProtocolVersion::V2025_06_18).await.unwrap();
    let r = legacy.call_tool("posts_per_author", json!({ "top": 2 })).await.unwrap();
    assert_eq!(r.structured_value().unwrap()["result"][1]["author"], "bob");
}

#[tokio::test]
async fn argument_errors_name_the_field_and_what_was_expected() {
    let c = client();
    let cases = [
        (json!({ "top": 0 }), "invalid argument `top`: 0 is out of range; expected a value from 1 to 100"),
        (json!({ "top": "many" }), "invalid argument `top`: invalid type: string \"many\", expected u32"),
        (
            json!({ "order": "random" }),
            "invalid argument `order`: unknown variant `random`, expected `newest` or `oldest`",
        ),
        (json!({ "tpo": 3 }), "unknown argument(s) `tpo`; the arguments are `top`, `order`"),
    ];
    for (args, expected) in cases {
        let r = call(&c, "posts_per_author", args.clone()).await;
        assert!(r.is_error(), "{args}");
        assert_eq!(r.text_content(), expected, "{args}");
    }
    let r = call(&c, "say-hello", json!({})).await;
    assert_eq!(r.text_content(), "missing required argument `name`");
    let r = call(&c, "say-hello", json!({ "name": "" })).await;
    assert_eq!(r.text_content(), "invalid argument `name`: length 0 is out of range; expected a length from 1 to 20");
    let r = call(&c, "say-hello", json!({ "name": "R2-D2" })).await;
    assert_eq!(r.text_content(), "invalid argument `name`: the value does not match the pattern `^[A-Za-z ]+$`");
    let r = call(&c, "reset", json!({ "x": 1 })).await;
    assert_eq!(r.text_content(), "unknown argument(s) `x`: this tool takes no arguments");
    // Nested paths.
    let r = call(
        &c,
        "search",
        json!({ "filter": { "tags": [{ "label": "a", "weight": 1 }, { "label": "b", "weight": 300 }] } }),
    )
    .await;
    assert_eq!(r.text_content(), "invalid argument `filter.tags[1].weight`: invalid value: integer `300`, expected u8");
    let r = call(&c, "search", json!({ "filter": { "tags": [{ "label": "a" }] } })).await;
    assert_eq!(r.text_content(), "invalid argument `filter.tags[0]`: missing field `weight`");
    let r =
        call(&c, "search", json!({ "filter": { "tags": [{ "label": "a", "weight": 2 }], "notify": "x@example.com" } }))
            .await;
    assert_eq!(r.text_content(), "a:2 (x@example.com)");
    let r = call(&c, "count_categories", json!({ "tree": { "name": "root", "children": [{ "name": "a" }, { "name": "b", "children": [{ "name": "c" }] }] } })).await;
    assert_eq!(r.structured_value().unwrap()["name"], "4 categories");
}

#[tokio::test]
async fn flattened_argument_struct() {
    let blog = Blog::default();
    let published = blog.published.clone();
    let c = TestClient::modern(Server::builder().info(server_info!()).toolset(blog).build().unwrap());
    let r = call(&c, "publish", json!({ "id": 7 })).await;
    assert_eq!(r.text_content(), "published 7 (force: false)");
    assert!(r.structured_content.is_none(), "a String result is text");
    let r = call(&c, "publish", json!({ "id": 7, "force": true })).await;
    assert_eq!(r.text_content(), "published 7 (force: true)");
    let r = call(&c, "publish", json!({ "id": -1 })).await;
    assert_eq!(r.text_content(), "invalid argument `id`: invalid value: integer `-1`, expected u32");
    let r = call(&c, "publish", json!({ "id": 1, "extra": 1 })).await;
    assert!(r.text_content().contains("unknown argument(s) `extra`"), "{}", r.text_content());
    let r = call(&c, "publish", json!({ "id": 0 })).await;
    assert!(r.is_error());
    assert_eq!(r.text_content(), "no post 0");
    assert_eq!(published.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn context_values_units_errors_blocking_and_raw() {
    let c = client();
    assert_eq!(call(&c, "say-hello", json!({ "name": "Ada" })).await.text_content(), "Hello Ada, from Macro blog");
    let r = call(&c, "reset", json!({})).await;
    assert!(!r.is_error() && r.content.is_empty());
    let r = call(&c, "explode", json!({})).await;
    assert!(r.is_error());
    assert_eq!(r.text_content(), "the database is on fire");
    assert_eq!(call(&c, "crunch", json!({})).await.structured_value(), Some(json!(0)));
    assert_eq!(call(&c, "crunch", json!({ "rounds": 4 })).await.structured_value(), Some(json!(10)));
    let r = call(&c, "raw", json!({})).await;
    assert_eq!(r.content.len(), 2);
    assert_eq!(call(&c, "last", json!({})).await.text_content(), "last");
    // Without the extension the tool fails clearly instead of panicking.
    let bare = TestClient::modern(server());
    let r = call(&bare, "say-hello", json!({ "name": "Ada" })).await;
    assert!(r.is_error());
    assert!(r.text_content().contains("AppName"), "{}", r.text_content());
}

#[tokio::test]
async fn asking_the_user_from_a_macro_tool() {
    let caps = ClientCapabilities { elicitation: Some(Default::default()), ..Default::default() };
    let c = client().with_capabilities(caps).with_input_handler(|r| match r {
        InputRequest::Elicit(_) => Some(json!({ "action": "accept", "content": { "ok": true } })),
        _ => None,
    });
    assert_eq!(call(&c, "confirm", json!({})).await.text_content(), "Accept");
}

#[tokio::test]
async fn resources_prompts_and_completions() {
    let c = client();
    let r = c.read_resource("blog://posts/42").await.unwrap();
    let v = serde_json::to_value(&r.contents[0]).unwrap();
    assert_eq!(v, json!({ "uri": "blog://posts/42", "mimeType": "application/json", "text": "{\"id\":42}" }));
    let e = c.read_resource("blog://posts/abc").await.unwrap_err();
    assert_eq!(e.code, -32602);
    assert!(e.message.contains("`id`"), "{}", e.message);
    let e = c.read_resource("blog://posts/101").await.unwrap_err();
    assert_eq!(e.code, -32602);
    let r = c.read_resource("blog://about").await.unwrap();
    assert_eq!(serde_json::to_value(&r.contents[0]).unwrap()["text"], "Macro blog is a blog");
    let templates = c.list_resource_templates().await.unwrap();
    assert_eq!(templates[0].description.as_deref(), Some("A post as JSON."));
    assert_eq!(c.list_resources().await.unwrap()[0].name, "about");

    let prompts = c.list_prompts().await.unwrap();
    let v = serde_json::to_value(&prompts).unwrap();
    assert_eq!(
        v,
        json!([{ "name": "summarize", "title": "Summarize", "description": "Summarize a post.", "arguments": [
            { "name": "id", "description": "Post id", "required": true },
            { "name": "style", "required": false }] }])
    );
    let p = c.get_prompt("summarize", json!({ "id": "7", "style": "funny" })).await.unwrap();
    assert_eq!(p.messages[0].content.as_text(), Some("Summarize post 7 in a funny style"));
    let e = c.get_prompt("summarize", json!({ "id": "seven" })).await.unwrap_err();
    assert!(e.message.contains("`id`"), "{}", e.message);

    let v: Value = c
        .request("completion/complete", json!({ "ref": { "type": "ref/prompt", "name": "summarize" }, "argument": { "name": "style", "value": "f" } }))
        .await
        .unwrap();
    assert_eq!(v["completion"]["values"], json!(["formal", "funny"]));
    let v: Value = c
        .request("completion/complete", json!({ "ref": { "type": "ref/resource", "uri": "blog://posts/{id}" }, "argument": { "name": "id", "value": "" } }))
        .await
        .unwrap();
    assert_eq!(v["completion"]["values"], json!(["1", "2", "3"]));
    // An argument without a completion handler completes to nothing.
    let v: Value = c
        .request(
            "completion/complete",
            json!({ "ref": { "type": "ref/prompt", "name": "summarize" }, "argument": { "name": "id", "value": "" } }),
        )
        .await
        .unwrap();
    assert_eq!(v["completion"]["values"], json!([]));
}

fn by_name_description(tools: &[Tool], name: &str) -> String {
    tools.iter().find(|t| t.name == name).and_then(|t| t.description.clone()).unwrap_or_default()
}

#[tokio::test]
async fn lists_every_tool_with_schemas() {
    let c = client();
    let tools = c.list_tools().await.unwrap();
    let names: Vec<&str> = tools.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "posts_per_author",
            "publish",
            "say-hello",
            "reset",
            "explode",
            "crunch",
            "raw",
            "confirm",
            "last",
            "count_categories",
            "reindex",
            "search"
        ]
    );
    assert_eq!(by_name_description(&tools, "reindex"), "Reindex the search engine.\n\nTakes a few seconds.");
    let by_name = |n: &str| tools.iter().find(|t| t.name == n).unwrap();
    // Nested types are inlined; only the recursive one keeps `$defs`.
    let search = serde_json::to_value(&by_name("search").input_schema).unwrap();
    assert!(search.get("$defs").is_none(), "{search}");
    assert_eq!(search["properties"]["filter"]["properties"]["tags"]["items"]["properties"]["weight"]["maximum"], 255);
    assert_eq!(search["properties"]["filter"]["properties"]["notify"]["format"], "email");
    let tree = serde_json::to_value(&by_name("count_categories").input_schema).unwrap();
    assert!(tree["$defs"]["Category"].is_object(), "{tree}");
    assert_eq!(tree["properties"]["tree"]["properties"]["children"]["items"]["$ref"], "#/$defs/Category");
    let v: Value = serde_json::to_value(&tools).unwrap();
    insta::assert_json_snapshot!("macro_tools_list", v);
}
