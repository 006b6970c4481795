//! The demo blog driven in-process with `mcp_axum::testing::McpTestClient`: every kind of
//! capability, as alice, as bob and without a token.

mod common;

use common::{ALICE, BOB, Fixture};
use mcp_axum::testing::{McpTestClient, McpTestError};
use serde_json::{Value, json};

struct Blog {
    router: axum::Router,
    _dir: Fixture,
}

fn blog() -> Blog {
    let (router, dir) = common::app("blog-inproc");
    Blog { router, _dir: dir }
}

fn structured(r: &mcp_core::protocol::CallToolResult) -> Value {
    assert_ne!(r.is_error, Some(true), "{:?}", r.content);
    r.structured_value().expect("structured content")
}

#[tokio::test]
async fn without_a_token_the_endpoint_is_closed() {
    let b = blog();
    let err = McpTestClient::new(b.router.clone()).list_tools().await.unwrap_err();
    assert!(matches!(err, McpTestError::Http { status, .. } if status == 401), "{err}");
}

#[tokio::test]
async fn tools_resources_and_prompts() {
    let b = blog();
    let alice = McpTestClient::new(b.router.clone()).bearer(ALICE);
    let tools = alice.list_tools().await.unwrap();
    assert_eq!(tools.len(), 31);
    let publish = tools.iter().find(|t| t.name == "publish_post").unwrap();
    assert_eq!(publish.annotations.as_ref().unwrap().idempotent_hint, Some(true));

    let page = structured(
        &alice.call_tool("posts_list", json!({ "search": "rust", "order_by": ["-views"], "limit": 5 })).await.unwrap(),
    );
    assert_eq!(page["returned"], 5);
    let views: Vec<i64> = page["items"].as_array().unwrap().iter().map(|p| p["views"].as_i64().unwrap()).collect();
    assert!(views.windows(2).all(|w| w[0] >= w[1]), "{views:?}");

    // A pipeline: alice's drafts are counted, nobody else's.
    let drafts = structured(
        &alice
            .call_tool(
                "query",
                json!({ "collection": "posts", "pipeline": [
                    { "$match": { "published": false } },
                    { "$group": { "_id": "$author_id", "drafts": { "$sum": 1 } } }
                ] }),
            )
            .await
            .unwrap(),
    );
    assert_eq!(drafts["items"].as_array().unwrap().len(), 1, "{drafts}");

    let post = alice.read_resource("blog://posts/1").await.unwrap();
    let text = serde_json::to_value(&post.contents[0]).unwrap()["text"].as_str().unwrap().to_owned();
    assert_eq!(serde_json::from_str::<Value>(&text).unwrap()["id"], 1);
    let prompt = alice.get_prompt("review_post", json!({ "id": "1" })).await.unwrap();
    assert!(serde_json::to_string(&prompt.messages).unwrap().contains("editor"));
    let err = alice.get_prompt("review_post", json!({ "id": "999999" })).await.unwrap_err();
    assert!(err.to_string().contains("no post with id 999999"), "{err}");
}

#[tokio::test]
async fn a_draft_is_private_until_published() {
    let b = blog();
    let alice = McpTestClient::new(b.router.clone()).bearer(ALICE);
    let bob = McpTestClient::new(b.router.clone()).bearer(BOB);
    let draft =
        structured(&alice.call_tool("posts_create", json!({ "title": "In progress", "body": "..." })).await.unwrap());
    let id = draft["id"].clone();
    let hidden = bob.call_tool("posts_get", json!({ "id": id })).await.unwrap();
    assert_eq!(hidden.is_error, Some(true));
    let err = bob.read_resource(&format!("blog://posts/{id}")).await.unwrap_err();
    assert!(matches!(&err, McpTestError::Rpc(e) if e.message.contains("not found")), "{err}");
    structured(&alice.call_tool("publish_post", json!({ "id": id })).await.unwrap());
    let seen = structured(&bob.call_tool("posts_get", json!({ "id": id })).await.unwrap());
    assert_eq!(seen["title"], "In progress");
    let deleted = bob.call_tool("posts_delete", json!({ "id": id })).await.unwrap();
    assert_eq!(deleted.is_error, Some(true), "bob cannot delete alice's post");
    let deleted = structured(&alice.call_tool("posts_delete", json!({ "id": id })).await.unwrap());
    assert_eq!(deleted["deleted"], true);
}

#[tokio::test]
async fn comments_follow_their_post() {
    let b = blog();
    let alice = McpTestClient::new(b.router.clone()).bearer(ALICE);
    let bob = McpTestClient::new(b.router.clone()).bearer(BOB);
    // One of alice's drafts that has comments, with its author and comments attached.
    let page = structured(
        &alice
            .call_tool(
                "posts_list",
                json!({ "filter": { "published": false, "comments": {}, "author.name": "alice" },
                        "include": ["author", "comments"], "limit": 1 }),
            )
            .await
            .unwrap(),
    );
    let draft = &page["items"][0];
    let id = draft["id"].as_i64().expect("alice has a draft with comments");
    assert_eq!(draft["author"]["name"], "alice");
    assert!(draft["author"].get("email").is_none(), "hidden fields stay hidden: {draft}");
    let comments = draft["comments"].as_array().unwrap();
    assert!(!comments.is_empty() && comments.iter().all(|c| c["post_id"] == id), "{draft}");
    let first = comments[0]["id"].clone();
    // Alice sees them with `comments_list` too; bob sees none of them, nor the draft
    // through them.
    let mine = structured(&alice.call_tool("comments_list", json!({ "filter": { "post_id": id } })).await.unwrap());
    assert_eq!(mine["returned"].as_u64(), Some(comments.len() as u64));
    let theirs = structured(&bob.call_tool("comments_list", json!({ "filter": { "post_id": id } })).await.unwrap());
    assert_eq!(theirs["returned"], 0);
    let hidden = bob.call_tool("comments_get", json!({ "id": first, "include": ["post"] })).await.unwrap();
    assert_eq!(hidden.is_error, Some(true));
    let via = structured(
        &bob.call_tool("comments_count", json!({ "filter": { "post.title": draft["title"] } })).await.unwrap(),
    );
    assert_eq!(via["count"], 0);
    // A published post's comments are everyone's.
    let public = structured(
        &bob.call_tool(
            "comments_list",
            json!({ "filter": { "post.published": true }, "include": ["post"], "limit": 1 }),
        )
        .await
        .unwrap(),
    );
    assert_eq!(public["items"][0]["post"]["published"], true);
}

#[tokio::test]
async fn tags_file_posts_and_follow_their_scope() {
    let b = blog();
    let alice = McpTestClient::new(b.router.clone()).bearer(ALICE);
    let bob = McpTestClient::new(b.router.clone()).bearer(BOB);
    let tags = structured(&alice.call_tool("tags_list", json!({ "search": "rust" })).await.unwrap());
    assert_eq!(tags["items"][0]["name"], "rust", "{tags}");
    let rust = tags["items"][0]["id"].clone();

    // Posts filed under `rust`, through the relation, with their tags attached.
    let page = structured(
        &bob.call_tool(
            "posts_list",
            json!({ "filter": { "tags.tag_id": rust, "published": true }, "include": ["tags"], "limit": 5 }),
        )
        .await
        .unwrap(),
    );
    let items = page["items"].as_array().unwrap();
    assert!(!items.is_empty(), "{page}");
    for p in items {
        assert!(p["tags"].as_array().unwrap().iter().any(|t| t["tag_id"] == rust), "{p}");
    }
    // Counting links by tag name goes through the tag relation.
    let by_name =
        structured(&bob.call_tool("post_tags_count", json!({ "filter": { "tag.name": "rust" } })).await.unwrap());
    let by_id = structured(&bob.call_tool("post_tags_count", json!({ "filter": { "tag_id": rust } })).await.unwrap());
    assert_eq!(by_name["count"], by_id["count"]);
    assert!(by_name["count"].as_i64().unwrap() > 0);

    // The tags of alice's drafts are hers: bob counts fewer links than she does.
    let drafts = json!({ "filter": { "post.published": false } });
    let hers = structured(&alice.call_tool("post_tags_count", drafts.clone()).await.unwrap());
    let his = structured(&bob.call_tool("post_tags_count", drafts).await.unwrap());
    let alice_id =
        structured(&alice.call_tool("authors_list", json!({ "filter": { "name": "alice" } })).await.unwrap())["items"]
            [0]["id"]
            .clone();
    let alice_drafts = json!({ "filter": { "post.published": false, "post.author_id": alice_id } });
    let seen_by_bob = structured(&bob.call_tool("post_tags_count", alice_drafts.clone()).await.unwrap());
    assert_eq!(seen_by_bob["count"], 0);
    assert!(
        structured(&alice.call_tool("post_tags_count", alice_drafts).await.unwrap())["count"].as_i64().unwrap() > 0
    );
    assert_ne!(hers["count"], his["count"]);
}
