//! Every tool of a model set (all actions, hidden fields, both kinds of relation, the
//! `query` tool and hand-written tools returning models) answers structured content that
//! fits its advertised `outputSchema`, with and without `fields`, `include` and
//! aggregates; and a hand-written tool returning a model shows only its visible fields.

#![allow(missing_docs)]

#[path = "support/output_check.rs"]
mod output_check;

use chrono::NaiveDateTime;
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use mcp_core::schemars::JsonSchema;
use mcp_core::testing::TestClient;
use mcp_core::{Principal, Server, ToolError, mcp_tool, mcp_toolset};
use mcp_diesel::{ModelTools, QueryTool, SqlitePool, WriteAction};
use serde::Serialize;
use serde_json::{Value, json};

mod schema {
    diesel::table! {
        posts (id) {
            id -> Integer,
            title -> Text,
            body -> Nullable<Text>,
            views -> BigInt,
            published -> Bool,
            created_at -> Timestamp,
            owner_id -> Integer,
            author_id -> Nullable<Integer>,
        }
    }

    diesel::table! {
        authors (id) {
            id -> Integer,
            name -> Text,
            email -> Text,
            bio -> Nullable<Text>,
        }
    }

    diesel::table! {
        comments (id) {
            id -> Integer,
            post_id -> Integer,
            body -> Text,
        }
    }

    diesel::allow_tables_to_appear_in_same_query!(posts, authors, comments);
}

/// Blog posts.
#[mcp_toolset(
    actions(list, get, count, create, update, patch, delete, aggregate),
    search(title, body),
    group_by(published, author_id),
    relations(author = belongs_to(Author, author_id), comments = has_many(Comment, schema::comments::post_id))
)]
#[derive(Queryable, Selectable, Serialize, JsonSchema)]
#[diesel(table_name = schema::posts)]
#[schemars(crate = "mcp_core::schemars")]
pub struct Post {
    pub id: i32,
    pub title: String,
    pub body: Option<String>,
    pub views: i64,
    pub published: bool,
    #[mcp(read_only)]
    pub created_at: NaiveDateTime,
    #[mcp(skip)]
    pub owner_id: i32,
    #[mcp(read_only)]
    pub author_id: Option<i32>,
}

/// People who write posts; their email is never shown to agents.
#[mcp_toolset(actions(list, get, count, create, patch, delete), relations(posts = has_many(Post, schema::posts::author_id)))]
#[derive(Queryable, Selectable, Serialize, JsonSchema, Clone)]
#[diesel(table_name = schema::authors)]
#[schemars(crate = "mcp_core::schemars")]
pub struct Author {
    pub id: i32,
    pub name: String,
    #[mcp(skip)]
    pub email: String,
    pub bio: Option<String>,
}

/// Readers' comments.
#[derive(Queryable, Selectable, Serialize, JsonSchema)]
#[diesel(table_name = schema::comments)]
#[schemars(crate = "mcp_core::schemars")]
#[mcp_toolset(relations(post = belongs_to(Post, post_id)))]
pub struct Comment {
    pub id: i32,
    pub post_id: i32,
    pub body: String,
}

/// An author with what the tool adds to it.
#[derive(Serialize, JsonSchema)]
#[schemars(crate = "mcp_core::schemars")]
pub struct Profile {
    pub author: Author,
    pub posts: i64,
}

/// Hand-written tools returning models.
pub struct People {
    pool: SqlitePool,
}

impl People {
    fn all(&self) -> Result<Vec<Author>, ToolError> {
        let mut conn = self.pool.get().map_err(|e| ToolError::internal(e.to_string()))?;
        schema::authors::table
            .select(Author::as_select())
            .order(schema::authors::id)
            .load(&mut conn)
            .map_err(|e| ToolError::internal(e.to_string()))
    }
}

#[mcp_toolset]
impl People {
    /// The first author.
    #[mcp_tool(read_only)]
    fn first_author(&self) -> Result<Author, ToolError> {
        self.all()?.into_iter().next().ok_or_else(|| ToolError::not_found("no authors"))
    }

    /// Every author.
    #[mcp_tool(read_only)]
    fn every_author(&self) -> Result<Vec<Author>, ToolError> {
        self.all()
    }

    /// An author, maybe.
    #[mcp_tool(read_only)]
    fn maybe_author(&self) -> Result<Option<Author>, ToolError> {
        Ok(self.all()?.into_iter().next())
    }

    /// An author inside a struct of the tool's own.
    #[mcp_tool(read_only)]
    fn profile(&self) -> Result<Profile, ToolError> {
        let author = self.all()?.into_iter().next().ok_or_else(|| ToolError::not_found("no authors"))?;
        Ok(Profile { author, posts: 2 })
    }
}

fn pool() -> (SqlitePool, std::path::PathBuf) {
    let dir = std::env::temp_dir().join(format!(
        "mcp-output-schemas-{}-{}",
        std::process::id(),
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let pool = mcp_diesel::sqlite_pool(dir.join("db.sqlite").to_str().unwrap(), 2).unwrap();
    pool.get()
        .unwrap()
        .batch_execute(
            "CREATE TABLE authors (id INTEGER PRIMARY KEY NOT NULL, name TEXT NOT NULL, email TEXT NOT NULL DEFAULT 'new@example.org', bio TEXT);
             CREATE TABLE posts (id INTEGER PRIMARY KEY NOT NULL, title TEXT NOT NULL, body TEXT, views BIGINT NOT NULL,
                 published BOOLEAN NOT NULL, created_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
                 owner_id INTEGER NOT NULL, author_id INTEGER);
             CREATE TABLE comments (id INTEGER PRIMARY KEY NOT NULL, post_id INTEGER NOT NULL, body TEXT NOT NULL);
             INSERT INTO authors VALUES (1, 'Ada', 'ada@example.org', 'maths'), (2, 'Brian', 'brian@example.org', NULL);
             INSERT INTO posts VALUES (1, 'Hello', 'first', 3, TRUE, '2026-01-01 10:00:00', 1, 1),
                 (2, 'Draft', NULL, 0, FALSE, '2026-01-02 10:00:00', 1, NULL),
                 (3, 'Other', 'text', 7, TRUE, '2026-01-03 10:00:00', 2, 2);
             INSERT INTO comments VALUES (1, 1, 'nice'), (2, 1, 'good'), (3, 3, 'ok');",
        )
        .unwrap();
    (pool, dir)
}

fn server(pool: SqlitePool) -> Server {
    let authors = ModelTools::<Author, _>::new(pool.clone());
    let comments = ModelTools::<Comment, _>::new(pool.clone());
    let posts = ModelTools::<Post, _>::new(pool.clone()).scope(|_| Ok(json!({ "owner_id": 1 }))).before_write(
        |_, action, values| {
            if action == WriteAction::Create {
                values.insert("owner_id".into(), json!(1));
                values.insert("views".into(), json!(0));
            }
            Ok(())
        },
    );
    let comments = comments.related(&posts);
    let posts = posts.related(&authors).related(&comments);
    let authors = authors.related(&posts);
    Server::builder()
        .info(mcp_core::server_info!())
        .toolset(posts.clone())
        .toolset(authors.clone())
        .toolset(comments.clone())
        .toolset(QueryTool::new().collection(posts).collection(authors).collection(comments))
        .toolset(People { pool })
        .build()
        .unwrap()
}

#[tokio::test]
async fn every_structured_result_fits_its_output_schema() {
    let (pool, dir) = pool();
    let client = TestClient::modern(server(pool.clone())).with_principal(Principal::new("1"));
    check(&client).await;
    // The version the Python SDK speaks: non-object results come wrapped, schema and value.
    let legacy = TestClient::legacy(server(pool), mcp_core::protocol::ProtocolVersion::V2025_06_18)
        .await
        .unwrap()
        .with_principal(Principal::new("1"));
    check(&legacy).await;
    let _ = std::fs::remove_dir_all(dir);
}

async fn check(client: &TestClient) {
    let tools = client.list_tools().await.unwrap();
    let tools: Vec<Value> = tools.iter().map(|t| serde_json::to_value(t).unwrap()).collect();
    let call = move |name: String, args: Value| {
        Box::pin(async move {
            let r = client.call_tool(&name, args).await.unwrap_or_else(|e| panic!("{name}: JSON-RPC error {e:?}"));
            serde_json::to_value(r).unwrap()
        }) as std::pin::Pin<Box<dyn std::future::Future<Output = Value> + '_>>
    };
    let seen = output_check::check_all(&tools, &call).await;
    // Every kind of call happened and succeeded at least once.
    for (tool, arg) in [
        ("posts_list", "fields"),
        ("posts_list", "include"),
        ("authors_list", "include"),
        ("posts_aggregate", "group_by"),
    ] {
        assert!(
            seen.calls.iter().any(|(n, a, ok)| n == tool && a.get(arg).is_some() && *ok),
            "{tool} was never called successfully with `{arg}`"
        );
    }
}

#[tokio::test]
async fn hand_written_tools_returning_a_model_hide_its_skipped_fields() {
    let (pool, dir) = pool();
    let client = TestClient::modern(server(pool));
    let tools = client.list_tools().await.unwrap();
    for name in ["first_author", "every_author", "maybe_author", "profile"] {
        let tool = tools.iter().find(|t| t.name == name).unwrap();
        let schema = serde_json::to_string(&tool.output_schema).unwrap();
        assert!(schema.contains("\"bio\""), "{name}: the schema shows the visible fields: {schema}");
        assert!(!schema.contains("\"email\""), "{name}: the outputSchema shows a skipped field: {schema}");
        let r = client.call_tool(name, json!({})).await.unwrap();
        assert!(!r.is_error(), "{name}: {}", r.text_content());
        let structured = r.structured_value().unwrap().to_string();
        assert!(structured.contains("Ada"), "{name}: {structured}");
        assert!(
            !structured.contains("\"email\"") && !structured.contains("ada@"),
            "{name}: structuredContent leaks: {structured}"
        );
        let text = r.text_content();
        assert!(!text.contains("\"email\"") && !text.contains("ada@"), "{name}: the text leaks: {text}");
    }
    // The model's own `Serialize` is unchanged outside tool results (REST answers, logs).
    let ada = Author { id: 1, name: "Ada".into(), email: "ada@example.org".into(), bio: None };
    assert_eq!(serde_json::to_value(&ada).unwrap()["email"], "ada@example.org");
    let _ = std::fs::remove_dir_all(dir);
}
