//! The behaviour suite of model tools: a Diesel model with `#[mcp_toolset]`, served by
//! `ModelTools` and driven through the MCP dispatcher, on a real SQLite file, and on
//! PostgreSQL and MySQL/MariaDB when `MCP_TEST_POSTGRES_URL` / `MCP_TEST_MYSQL_URL` are
//! set (with `--features postgres,mysql`).

#![allow(missing_docs)]

use chrono::NaiveDateTime;
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::r2d2::{ConnectionManager, Pool, R2D2Connection};
use mcp_core::schemars::JsonSchema;
use mcp_core::testing::TestClient;
use mcp_core::{Principal, Server, ToolError};
use mcp_diesel::{ModelQuery, ModelTools, QueryTool, WriteAction};
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
            secret -> Text,
            author_id -> Nullable<Integer>,
        }
    }

    diesel::table! {
        authors (id) {
            id -> Integer,
            name -> Text,
            email -> Text,
            karma -> BigInt,
            verified -> Bool,
            role -> Text,
            bio -> Nullable<Text>,
            active -> Bool,
        }
    }

    diesel::table! {
        comments (id) {
            id -> Integer,
            post_id -> Integer,
            author_name -> Text,
            body -> Text,
            flagged -> Bool,
        }
    }

    diesel::allow_tables_to_appear_in_same_query!(posts, authors, comments);
}

/// Blog posts, newest first.
#[mcp_core::mcp_toolset(
    actions(list, get, count, create, update, patch, delete, aggregate),
    search(title, body),
    group_by(published, body),
    max_limit = 5,
    default_limit = 3,
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
    #[mcp(skip)]
    pub secret: String,
    #[mcp(read_only)]
    pub author_id: Option<i32>,
}

/// People who write posts; inactive ones are out of everyone's scope.
#[mcp_core::mcp_toolset]
#[derive(Queryable, Selectable, Serialize, JsonSchema)]
#[diesel(table_name = schema::authors)]
#[schemars(crate = "mcp_core::schemars")]
pub struct Author {
    pub id: i32,
    pub name: String,
    #[mcp(skip)]
    pub email: String,
    pub karma: i64,
    pub verified: bool,
    #[mcp(kind = "enum")]
    pub role: String,
    pub bio: Option<String>,
    #[mcp(skip)]
    pub active: bool,
}

/// Readers' comments; flagged ones are out of everyone's scope.
#[mcp_core::mcp_toolset(relations(post = belongs_to(Post, post_id)))]
#[derive(Queryable, Selectable, Serialize, JsonSchema)]
#[diesel(table_name = schema::comments)]
#[schemars(crate = "mcp_core::schemars")]
pub struct Comment {
    pub id: i32,
    pub post_id: i32,
    pub author_name: String,
    pub body: String,
    #[mcp(skip)]
    pub flagged: bool,
}

const COLUMNS: &str = "id {pk}, title VARCHAR(200) NOT NULL UNIQUE, body TEXT, \
    views BIGINT NOT NULL, published BOOLEAN NOT NULL, created_at {ts} NOT NULL DEFAULT CURRENT_TIMESTAMP, \
    owner_id INTEGER NOT NULL, secret TEXT NOT NULL, author_id INTEGER";

/// Ada and Brian are active, Carol is not (out of scope). Bio is null for Brian.
const AUTHORS: &str = "INSERT INTO authors (id, name, email, karma, verified, role, bio, active) VALUES \
    (1, 'Ada', 'ada@example.org', 50, TRUE, 'admin', 'Rust and maths', TRUE), \
    (2, 'Brian', 'brian@example.org', 10, FALSE, 'writer', NULL, TRUE), \
    (3, 'Carol', 'carol@example.org', 99, TRUE, 'writer', 'Gone', FALSE)";

/// Comments 3 and 6 are flagged (out of scope); comment 5 is on another owner's post.
const COMMENTS: &str = "INSERT INTO comments (id, post_id, author_name, body, flagged) VALUES \
    (1, 1, 'x', 'Great post', FALSE), (2, 1, 'y', 'Rust rocks', FALSE), (3, 1, 'z', 'spam', TRUE), \
    (4, 2, 'x', 'Nice sale', FALSE), (5, 9, 'x', 'Not yours', FALSE), (6, 3, 'z', 'flagged only', TRUE)";

/// The author of each post: 1, 2, 3, 1, 2, 3, ...; post 12 has none.
fn author_of(id: i32) -> String {
    if id == 12 { "NULL".to_owned() } else { ((id - 1) % 3 + 1).to_string() }
}

/// Owner 1 has posts 1..=8, owner 2 has posts 9..=12.
fn seed(conn: &mut impl SimpleConnection, pk: &str, timestamp_type: &str, table_options: &str) {
    let columns = COLUMNS.replace("{pk}", pk).replace("{ts}", timestamp_type);
    conn.batch_execute(&format!("CREATE TABLE posts ({columns}){table_options}")).unwrap();
    conn.batch_execute(&format!(
        "CREATE TABLE authors (id {pk}, name VARCHAR(100) NOT NULL, email TEXT NOT NULL, karma BIGINT NOT NULL, \
         verified BOOLEAN NOT NULL, role VARCHAR(20) NOT NULL, bio TEXT, active BOOLEAN NOT NULL){table_options}"
    ))
    .unwrap();
    conn.batch_execute(&format!(
        "CREATE TABLE comments (id {pk}, post_id INTEGER NOT NULL, author_name TEXT NOT NULL, body TEXT NOT NULL, \
         flagged BOOLEAN NOT NULL){table_options}"
    ))
    .unwrap();
    conn.batch_execute(AUTHORS).unwrap();
    conn.batch_execute(COMMENTS).unwrap();
    for id in 1..=12 {
        let owner = if id <= 8 { 1 } else { 2 };
        let body = if id % 4 == 0 { "NULL".to_owned() } else { format!("'body of post {id}, about Rust'") };
        let title = match id {
            1 => "Hello Rust".to_owned(),
            2 => "50% off_sale!".to_owned(),
            3 => "hello world".to_owned(),
            _ => format!("Post {id}"),
        };
        conn.batch_execute(&format!(
            "INSERT INTO posts (id, title, body, views, published, created_at, owner_id, secret, author_id) \
             VALUES ({id}, '{title}', {body}, {views}, {published}, '2026-01-{day:02} 10:00:00', {owner}, 'secret {id}', {author})",
            views = (id * 37) % 11,
            published = if id % 2 == 1 { "TRUE" } else { "FALSE" },
            day = id,
            author = author_of(id),
        ))
        .unwrap();
    }
}

fn unique() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let nanos =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
    format!("mcp_t{}_{}_{}", std::process::id(), nanos, N.fetch_add(1, Ordering::Relaxed))
}

/// How a test's server is set up.
#[derive(Clone, Copy, Default)]
struct Opts {
    /// Each caller sees only their own posts.
    scoped: bool,
    budget: Option<usize>,
    /// A faulty hook that writes rows for this owner instead of the caller.
    wrong_owner: Option<i32>,
    /// Everyone reads published posts; writes stay limited to one's own.
    read_published: bool,
    /// The scope and write hook from `PostRules` (an `#[mcp_toolset(model = Post)]` block).
    hooks: bool,
    /// `ModelTools::statement_timeout` of the posts' tools.
    statement_timeout: Option<std::time::Duration>,
    /// `ModelTools::pool_timeout` of the posts' tools.
    pool_timeout: Option<std::time::Duration>,
}

/// The signed-in user's id.
fn caller(ctx: &mcp_core::Context) -> Result<i32, ToolError> {
    let user = ctx.principal().ok_or_else(|| ToolError::forbidden("sign in first"))?;
    user.subject.parse().map_err(|_| ToolError::forbidden("unknown user"))
}

/// The scoped setup's rules, written as an impl block with one extra tool.
#[derive(Clone)]
struct PostRules {
    banned: &'static str,
}

#[mcp_core::mcp_toolset(model = Post)]
impl PostRules {
    fn scope(&self, ctx: &mcp_core::Context) -> Result<Value, ToolError> {
        Ok(json!({ "owner_id": caller(ctx)? }))
    }

    fn before_write(
        &self,
        ctx: &mcp_core::Context,
        action: WriteAction,
        values: &mut serde_json::Map<String, Value>,
    ) -> Result<(), ToolError> {
        if action == WriteAction::Create {
            values.insert("owner_id".into(), json!(caller(ctx)?));
            values.insert("secret".into(), json!("set by the rules"));
        }
        if values.get("title").and_then(Value::as_str) == Some(self.banned) {
            return Err(ToolError::invalid_arguments("that title is banned"));
        }
        Ok(())
    }

    /// The title nobody may use.
    #[mcp_core::mcp_tool(read_only)]
    fn banned_title(&self) -> String {
        self.banned.to_owned()
    }
}

/// The server over one backend's pool.
fn server<C>(pool: Pool<ConnectionManager<C>>, opts: Opts) -> Server
where
    C: R2D2Connection + 'static,
    Post: ModelQuery<C>,
    Author: ModelQuery<C>,
    Comment: ModelQuery<C>,
{
    server_on::<C>(pool, opts)
}

/// The server over one executor's pool (sync Diesel or diesel-async).
fn server_on<C>(pool: C::Pool, opts: Opts) -> Server
where
    C: mcp_diesel::Executor,
    Post: mcp_diesel::ModelExec<C>,
    Author: mcp_diesel::ModelExec<C>,
    Comment: mcp_diesel::ModelExec<C>,
{
    let authors = ModelTools::<Author, C>::with_pool(pool.clone()).scope(|_| Ok(json!({ "active": true })));
    let comments_of = ModelTools::<Comment, C>::with_pool(pool.clone());
    let mut tools = ModelTools::<Post, C>::with_pool(pool.clone()).before_write(move |ctx, action, values| {
        let user: i32 = ctx.principal().and_then(|p| p.subject.parse().ok()).unwrap_or(0);
        if action == WriteAction::Create {
            values.insert("owner_id".into(), json!(opts.wrong_owner.unwrap_or(user)));
            values.insert("secret".into(), json!("set by the server"));
        } else if let Some(owner) = opts.wrong_owner {
            values.insert("owner_id".into(), json!(owner));
        }
        if values.get("title").and_then(Value::as_str) == Some("forbidden") {
            return Err(ToolError::invalid_arguments("that title is not allowed"));
        }
        Ok(())
    });
    fn user(ctx: &mcp_core::Context) -> Result<i32, ToolError> {
        let user = ctx.principal().ok_or_else(|| ToolError::forbidden("sign in first"))?;
        user.subject.parse().map_err(|_| ToolError::forbidden("unknown user"))
    }
    if opts.hooks {
        tools = ModelTools::<Post, C>::with_pool(pool).hooks(PostRules { banned: "forbidden" });
    }
    if opts.read_published {
        tools = tools
            .scope(|ctx| Ok(json!({ "$or": [{ "owner_id": user(ctx)? }, { "published": true }] })))
            .write_scope(|ctx| Ok(json!({ "owner_id": user(ctx)? })));
    } else if opts.scoped {
        tools = tools.scope(|ctx| Ok(json!({ "owner_id": user(ctx)? })));
    }
    if let Some(b) = opts.budget {
        tools = tools.byte_budget(b);
    }
    if let Some(t) = opts.statement_timeout {
        tools = tools.statement_timeout(t);
    }
    if let Some(t) = opts.pool_timeout {
        tools = tools.pool_timeout(t);
    }
    // A comment is visible when it is not flagged and its post is visible (the posts'
    // scope, through the relation).
    let comments = comments_of.scope(|_| Ok(json!({ "flagged": false, "post": {} }))).related(&tools);
    let tools = tools.related(&authors).related(&comments);
    let query = QueryTool::new().collection(tools.clone()).collection(comments.clone());
    let mut builder = Server::builder()
        .info(mcp_core::server_info!())
        .toolset(tools)
        .toolset(authors)
        .toolset(comments)
        .toolset(query);
    if opts.hooks {
        // The block's own tools.
        builder = builder.toolset(PostRules { banned: "forbidden" });
    }
    builder.build().unwrap()
}

/// One database with the fixture data, in its own namespace, dropped afterwards.
struct Fixture {
    name: &'static str,
    /// Where the fixture's tables are: a file path (SQLite) or a URL selecting its schema
    /// or database.
    url: String,
    make: Box<dyn Fn(Opts) -> Server>,
    cleanup: Option<Box<dyn FnOnce()>>,
}

impl Fixture {
    /// A client of the scoped server, signed in as `user`.
    fn client(&self, user: &str) -> TestClient {
        self.client_with(user, Opts { scoped: true, ..Opts::default() })
    }

    fn client_with(&self, user: &str, opts: Opts) -> TestClient {
        TestClient::modern((self.make)(opts)).with_principal(Principal::new(user))
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        if let Some(f) = self.cleanup.take() {
            f();
        }
    }
}

fn sqlite() -> Fixture {
    let dir = std::env::temp_dir().join(unique());
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("db.sqlite").to_str().unwrap().to_owned();
    let pool = mcp_diesel::sqlite_pool(&path, 4).unwrap();
    seed(&mut *pool.get().unwrap(), "INTEGER PRIMARY KEY NOT NULL", "TIMESTAMP", "");
    Fixture {
        name: "SQLite",
        url: path,
        make: Box::new(move |opts| server(pool.clone(), opts)),
        cleanup: Some(Box::new(move || {
            let _ = std::fs::remove_dir_all(dir);
        })),
    }
}

#[cfg(feature = "postgres")]
fn postgres(url: &str) -> Fixture {
    let schema = unique();
    let mut admin = diesel::PgConnection::establish(url).expect("MCP_TEST_POSTGRES_URL: cannot connect");
    admin.batch_execute(&format!("CREATE SCHEMA {schema}")).unwrap();
    let sep = if url.contains('?') { '&' } else { '?' };
    let url = format!("{url}{sep}options=-csearch_path%3D{schema}");
    let pool = mcp_diesel::postgres_pool(&url, 4).unwrap();
    seed(&mut *pool.get().unwrap(), "SERIAL PRIMARY KEY", "TIMESTAMP", "");
    // The rows above were given their ids: move the sequence past them.
    pool.get().unwrap().batch_execute("SELECT setval('posts_id_seq', 12)").unwrap();
    Fixture {
        name: "PostgreSQL",
        url,
        make: Box::new(move |opts| server(pool.clone(), opts)),
        cleanup: Some(Box::new(move || {
            let _ = admin.batch_execute(&format!("DROP SCHEMA {schema} CASCADE"));
        })),
    }
}

#[cfg(feature = "mysql")]
fn mysql(url: &str) -> Fixture {
    let db = unique();
    let mut admin = diesel::MysqlConnection::establish(url).expect("MCP_TEST_MYSQL_URL: cannot connect");
    admin.batch_execute(&format!("CREATE DATABASE {db} CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci")).unwrap();
    let base = url.rsplit_once('/').map_or(url, |(b, _)| b);
    let url = format!("{base}/{db}");
    let pool = mcp_diesel::mysql_pool(&url, 4).unwrap();
    seed(&mut *pool.get().unwrap(), "INTEGER AUTO_INCREMENT PRIMARY KEY", "DATETIME", " ENGINE=InnoDB");
    Fixture {
        name: "MySQL",
        url,
        make: Box::new(move |opts| server(pool.clone(), opts)),
        cleanup: Some(Box::new(move || {
            let _ = admin.batch_execute(&format!("DROP DATABASE {db}"));
        })),
    }
}

/// SQLite always; PostgreSQL and MySQL when their URLs are set (and their features on).
/// With `MCP_TEST_REQUIRE_ALL_BACKENDS` set (CI), a skipped backend is a failure.
fn fixtures() -> Vec<Fixture> {
    let skipped = |why: &str| {
        assert!(std::env::var_os("MCP_TEST_REQUIRE_ALL_BACKENDS").is_none(), "{why}");
        eprintln!("{why}");
    };
    let mut out = Vec::new();
    out.push(sqlite());
    #[cfg(feature = "diesel-async")]
    out.extend(async_backends::fixtures());
    match std::env::var("MCP_TEST_POSTGRES_URL") {
        #[cfg(feature = "postgres")]
        Ok(url) => out.push(postgres(&url)),
        #[cfg(not(feature = "postgres"))]
        Ok(_) => skipped("PostgreSQL skipped: MCP_TEST_POSTGRES_URL is set but the `postgres` feature is off"),
        Err(_) => skipped("PostgreSQL skipped: set MCP_TEST_POSTGRES_URL (and --features postgres) to run it"),
    }
    match std::env::var("MCP_TEST_MYSQL_URL") {
        #[cfg(feature = "mysql")]
        Ok(url) => out.push(mysql(&url)),
        #[cfg(not(feature = "mysql"))]
        Ok(_) => skipped("MySQL skipped: MCP_TEST_MYSQL_URL is set but the `mysql` feature is off"),
        Err(_) => skipped("MySQL skipped: set MCP_TEST_MYSQL_URL (and --features mysql) to run it"),
    }
    out
}

async fn call(c: &TestClient, tool: &str, args: Value) -> Value {
    let r = c.call_tool(tool, args).await.expect("protocol error");
    assert_ne!(r.is_error, Some(true), "{tool} failed: {:?}", r.content);
    // The text block carries the same JSON, for clients that read only text.
    let text: Value = serde_json::from_str(&r.text_content()).expect("the text is JSON");
    let structured = r.structured_value().expect("structured content");
    assert_eq!(text, structured, "{tool}: text and structured content differ");
    structured
}

async fn call_err(c: &TestClient, tool: &str, args: Value) -> String {
    let r = c.call_tool(tool, args.clone()).await.expect("protocol error");
    assert_eq!(r.is_error, Some(true), "{tool} {args} should fail: {:?}", r.structured_content);
    serde_json::to_string(&r.content).unwrap()
}

fn ids(v: &Value) -> Vec<i64> {
    v["items"].as_array().unwrap().iter().map(|r| r["id"].as_i64().unwrap()).collect()
}

#[tokio::test]
async fn tools_are_described_without_hidden_fields() {
    for fx in fixtures() {
        eprintln!("tools_are_described_without_hidden_fields on {}", fx.name);
        tools_are_described_without_hidden_fields_on(&fx).await;
    }
}

async fn tools_are_described_without_hidden_fields_on(fx: &Fixture) {
    let c = fx.client("1");
    let tools = c.list_tools().await.unwrap();
    let names: Vec<&str> = tools.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "posts_list",
            "posts_get",
            "posts_count",
            "posts_create",
            "posts_update",
            "posts_patch",
            "posts_delete",
            "posts_aggregate",
            "authors_list",
            "authors_get",
            "authors_count",
            "comments_list",
            "comments_get",
            "comments_count",
            "query"
        ]
    );
    for t in &tools[..3] {
        let text = serde_json::to_string(t).unwrap();
        assert!(!text.contains("owner_id") && !text.contains("secret"), "{text}");
        let ann = t.annotations.as_ref().unwrap();
        assert_eq!(ann.read_only_hint, Some(true));
        assert!(t.output_schema.is_some());
    }
    let list = serde_json::to_value(&tools[0]).unwrap();
    assert!(list["description"].as_str().unwrap().contains("Blog posts, newest first."));
    let filter_doc = list["inputSchema"]["properties"]["filter"]["description"].as_str().unwrap();
    assert!(filter_doc.contains("`created_at` (date-time)"), "{filter_doc}");
    assert!(filter_doc.contains("`body` (text, nullable)"), "{filter_doc}");
    // Examples use this model's own fields.
    assert!(filter_doc.contains(r#"{"title__icontains": "rust"}"#) && filter_doc.contains(r#"{"published": true}"#));
    assert_eq!(list["inputSchema"]["properties"]["limit"]["maximum"], 5);
    let get = serde_json::to_value(&tools[1]).unwrap();
    assert_eq!(get["inputSchema"]["required"], json!(["id"]));
}

#[tokio::test]
async fn list_pages_within_the_scope() {
    for fx in fixtures() {
        eprintln!("list_pages_within_the_scope on {}", fx.name);
        list_pages_within_the_scope_on(&fx).await;
    }
}

async fn list_pages_within_the_scope_on(fx: &Fixture) {
    let c = fx.client("1");
    let first = call(&c, "posts_list", json!({})).await;
    assert_eq!(ids(&first), [1, 2, 3], "default limit 3, primary key order");
    assert_eq!(first["has_more"], true);
    assert_eq!(first["truncated"], false);
    for row in first["items"].as_array().unwrap() {
        assert!(row.get("owner_id").is_none() && row.get("secret").is_none(), "{row}");
    }
    assert_eq!(first["items"][0]["created_at"], "2026-01-01T10:00:00");

    // Following cursors visits every row of the scope once.
    let mut seen = Vec::new();
    let mut page = call(&c, "posts_list", json!({ "limit": 5, "include_total": true })).await;
    assert_eq!(page["total"], 8);
    loop {
        seen.extend(ids(&page));
        let Some(cursor) = page.get("next_cursor").and_then(Value::as_str) else { break };
        page = call(&c, "posts_list", json!({ "limit": 5, "cursor": cursor })).await;
    }
    assert_eq!(seen, (1..=8).collect::<Vec<_>>());

    // Offset pagination agrees.
    let page2 = call(&c, "posts_list", json!({ "limit": 3, "offset": 3 })).await;
    assert_eq!(ids(&page2), [4, 5, 6]);

    // The other user sees only their own rows.
    let other = fx.client("2");
    let all = call(&other, "posts_list", json!({ "limit": 5 })).await;
    assert_eq!(ids(&all), [9, 10, 11, 12]);
    assert_eq!(all["has_more"], false);
    assert!(all.get("next_cursor").is_none());
}

#[tokio::test]
async fn filters_search_and_order() {
    for fx in fixtures() {
        eprintln!("filters_search_and_order on {}", fx.name);
        filters_search_and_order_on(&fx).await;
    }
}

async fn filters_search_and_order_on(fx: &Fixture) {
    let c = fx.client("1");
    let cases = [
        (json!({ "title__icontains": "hello" }), vec![1, 3]),
        (json!({ "title__contains": "Hello" }), vec![1]),
        (json!({ "title__contains": "%" }), vec![2]),
        (json!({ "title__contains": "_" }), vec![2]),
        (json!({ "title__endswith": "sale!" }), vec![2]),
        // `eq` and `contains` are case-sensitive on every backend (MySQL included).
        (json!({ "title": "hello rust" }), vec![]),
        (json!({ "title__ne": "hello rust" }), (1..=8).collect()),
        (json!({ "title__startswith": "hello" }), vec![3]),
        (json!({ "title__startswith": "Post" }), vec![4, 5, 6, 7, 8]),
        (json!({ "title": { "$in": ["Post 4", "Post 6"] } }), vec![4, 6]),
        (json!({ "id": { "$gte": 3, "$lt": 5 } }), vec![3, 4]),
        (json!({ "id__between": [6, 7] }), vec![6, 7]),
        (json!({ "published": true }), vec![1, 3, 5, 7]),
        (json!({ "published__ne": true }), vec![2, 4, 6, 8]),
        (json!({ "body__isnull": true }), vec![4, 8]),
        (json!({ "body": null }), vec![4, 8]),
        (json!({ "body__ne": "body of post 1, about Rust" }), vec![2, 3, 4, 5, 6, 7, 8]),
        (json!({ "created_at__gt": "2026-01-06T00:00:00" }), vec![6, 7, 8]),
        (json!({ "$or": [{ "id": 1 }, { "id": 8 }] }), vec![1, 8]),
        (json!({ "$not": { "id__lte": 5 } }), vec![6, 7, 8]),
        (json!({ "$nor": [{ "id__lte": 6 }] }), vec![7, 8]),
        // An agent's `$or` cannot reach other users' rows.
        (json!({ "$or": [{ "id__gt": 0 }, { "id": 10 }] }), (1..=8).collect()),
        (json!({ "id": 10 }), vec![]),
    ];
    for (filter, want) in cases {
        let got = call(&c, "posts_list", json!({ "filter": filter, "limit": 5 })).await;
        assert_eq!(ids(&got), want.iter().copied().take(5).collect::<Vec<i64>>(), "filter {filter}");
        assert_eq!(got["has_more"], want.len() > 5, "filter {filter}");
        let count = call(&c, "posts_count", json!({ "filter": filter })).await;
        assert_eq!(count["count"], want.len(), "count of {filter}");
    }
    // Every word somewhere (any case) in the title or the body.
    let found = call(&c, "posts_list", json!({ "search": "RUST hello" })).await;
    assert_eq!(ids(&found), [1, 3]);
    let found = call(&c, "posts_list", json!({ "search": "world post" })).await;
    assert_eq!(ids(&found), [3]);
    let ordered = call(&c, "posts_list", json!({ "order_by": ["-views"], "limit": 5 })).await;
    let views: Vec<i64> = ordered["items"].as_array().unwrap().iter().map(|r| r["views"].as_i64().unwrap()).collect();
    assert!(views.windows(2).all(|w| w[0] >= w[1]), "{views:?}");
    let fields = call(&c, "posts_list", json!({ "fields": ["title"], "limit": 1 })).await;
    assert_eq!(fields["items"], json!([{ "title": "Hello Rust" }]));
}

#[tokio::test]
async fn get_and_count_respect_the_scope() {
    for fx in fixtures() {
        eprintln!("get_and_count_respect_the_scope on {}", fx.name);
        get_and_count_respect_the_scope_on(&fx).await;
    }
}

async fn get_and_count_respect_the_scope_on(fx: &Fixture) {
    let c = fx.client("1");
    let post = call(&c, "posts_get", json!({ "id": 3 })).await;
    assert_eq!(post["title"], "hello world");
    assert!(post.get("secret").is_none());
    // Another user's row does not exist for this caller.
    let err = call_err(&c, "posts_get", json!({ "id": 10 })).await;
    assert!(err.contains("no posts with `id` = 10"), "{err}");
    assert_eq!(call(&c, "posts_count", json!({})).await["count"], 8);
    assert_eq!(call(&fx.client("2"), "posts_count", json!({})).await["count"], 4);
    assert_eq!(call(&c, "posts_count", json!({ "search": "rust" })).await["count"], 6);
}

#[tokio::test]
async fn agents_get_errors_they_can_fix() {
    for fx in fixtures() {
        eprintln!("agents_get_errors_they_can_fix on {}", fx.name);
        agents_get_errors_they_can_fix_on(&fx).await;
    }
}

async fn agents_get_errors_they_can_fix_on(fx: &Fixture) {
    let c = fx.client("1");
    let cases = [
        (json!({ "filter": { "secret": "secret 1" } }), "unknown field `secret`"),
        (json!({ "filter": { "owner_id": 2 } }), "unknown field `owner_id`"),
        (json!({ "filter": { "published__gt": true } }), "published"),
        (json!({ "filter": { "views": "many" } }), "views"),
        (json!({ "filter": { "created_at__gt": "yesterday" } }), "created_at"),
        (json!({ "limit": 6 }), "`limit` must be an integer from 1 to 5"),
        (json!({ "order_by": ["secret"] }), "cannot sort by `secret`"),
        (json!({ "fields": ["owner_id"] }), "unknown field \\\"owner_id\\\" in `fields`"),
        (json!({ "cursor": "forged" }), "`cursor` is not a cursor"),
        (json!({ "bogus": 1 }), "unknown argument `bogus`"),
    ];
    for (args, want) in cases {
        let err = call_err(&c, "posts_list", args.clone()).await;
        assert!(err.contains(want), "{args}: {err}");
        assert!(!err.contains("SELECT") && !err.contains("secret 1"), "{err}");
    }
    let err = call_err(&c, "posts_get", json!({ "id": "three" })).await;
    assert!(err.contains("invalid key"), "{err}");
    // Without a principal the scope refuses.
    let err =
        call_err(&TestClient::modern((fx.make)(Opts { scoped: true, ..Opts::default() })), "posts_count", json!({}))
            .await;
    assert!(err.contains("sign in first"), "{err}");
}

#[tokio::test]
async fn the_byte_budget_stops_a_page_early() {
    for fx in fixtures() {
        eprintln!("the_byte_budget_stops_a_page_early on {}", fx.name);
        the_byte_budget_stops_a_page_early_on(&fx).await;
    }
}

async fn the_byte_budget_stops_a_page_early_on(fx: &Fixture) {
    let c = TestClient::modern((fx.make)(Opts { budget: Some(300), ..Opts::default() }));
    let page = call(&c, "posts_list", json!({ "limit": 5 })).await;
    let n = page["returned"].as_i64().unwrap();
    assert!((1..5).contains(&n), "{page}");
    assert_eq!(page["truncated"], true);
    assert_eq!(page["has_more"], true);
    let next = call(&c, "posts_list", json!({ "limit": 5, "cursor": page["next_cursor"] })).await;
    assert_eq!(ids(&next)[0], n + 1);
}

#[tokio::test]
async fn writes_round_trip_within_the_scope() {
    for fx in fixtures() {
        eprintln!("writes_round_trip_within_the_scope on {}", fx.name);
        writes_round_trip_within_the_scope_on(&fx).await;
    }
}

async fn writes_round_trip_within_the_scope_on(fx: &Fixture) {
    let c = fx.client("1");
    let tools = serde_json::to_value(c.list_tools().await.unwrap()).unwrap();
    let create = &tools[3];
    assert_eq!(create["inputSchema"]["required"], json!(["title", "views", "published"]), "{create}");
    let props = create["inputSchema"]["properties"].as_object().unwrap();
    let mut keys: Vec<&str> = props.keys().map(String::as_str).collect();
    keys.sort();
    assert_eq!(keys, ["body", "published", "title", "views"], "no key, hidden or read-only fields");
    assert_eq!(create["annotations"]["readOnlyHint"], false);
    assert_eq!(tools[6]["annotations"]["destructiveHint"], true);
    assert_eq!(tools[5]["inputSchema"]["required"], json!(["id"]), "patch needs only the key");

    // Create: the database makes the key and the timestamp; the hook sets the owner.
    let new = call(&c, "posts_create", json!({ "title": "Fresh", "views": 3, "published": false })).await;
    assert_eq!(new["id"], 13, "{new}");
    assert_eq!(new["body"], Value::Null);
    assert!(new["created_at"].as_str().is_some_and(|t| t.len() >= 19), "{new}");
    assert!(new.get("secret").is_none() && new.get("owner_id").is_none());
    assert_eq!(call(&c, "posts_get", json!({ "id": 13 })).await["title"], "Fresh");
    assert_eq!(call(&c, "posts_count", json!({})).await["count"], 9);
    assert_eq!(call(&fx.client("2"), "posts_count", json!({})).await["count"], 4);

    // Patch: only the given fields; `null` clears; the same values again still succeed.
    let p = call(&c, "posts_patch", json!({ "id": 1, "title": "Hello again" })).await;
    assert_eq!((p["title"].as_str(), p["views"].as_i64()), (Some("Hello again"), Some(4)));
    assert_eq!(p["body"], "body of post 1, about Rust");
    let p = call(&c, "posts_patch", json!({ "id": 1, "body": null })).await;
    assert_eq!(p["body"], Value::Null);
    assert_eq!(call(&c, "posts_patch", json!({ "id": 1, "body": null })).await["id"], 1);

    // Update: every writable field; nullable ones not given become null.
    let u = call(&c, "posts_update", json!({ "id": 2, "title": "Replaced", "views": 0, "published": true })).await;
    assert_eq!(
        (u["title"].as_str(), u["body"].is_null(), u["published"].as_bool()),
        (Some("Replaced"), true, Some(true))
    );

    // Delete.
    assert_eq!(call(&c, "posts_delete", json!({ "id": 3 })).await, json!({ "deleted": true, "id": 3 }));
    let err = call_err(&c, "posts_get", json!({ "id": 3 })).await;
    assert!(err.contains("no posts with `id` = 3"), "{err}");
    let err = call_err(&c, "posts_delete", json!({ "id": 3 })).await;
    assert!(err.contains("no posts with `id` = 3"), "{err}");

    // Another user's rows do not exist for writes either, and stay untouched.
    for (tool, args) in [
        ("posts_patch", json!({ "id": 10, "title": "Mine now" })),
        ("posts_update", json!({ "id": 10, "title": "Mine now", "views": 1, "published": true })),
        ("posts_delete", json!({ "id": 10 })),
    ] {
        let err = call_err(&c, tool, args).await;
        assert!(err.contains("no posts with `id` = 10"), "{tool}: {err}");
    }
    assert_eq!(call(&fx.client("2"), "posts_get", json!({ "id": 10 })).await["title"], "Post 10");
}

#[tokio::test]
async fn bad_writes_are_refused_and_leave_nothing_behind() {
    for fx in fixtures() {
        eprintln!("bad_writes_are_refused_and_leave_nothing_behind on {}", fx.name);
        bad_writes_are_refused_and_leave_nothing_behind_on(&fx).await;
    }
}

async fn bad_writes_are_refused_and_leave_nothing_behind_on(fx: &Fixture) {
    let c = fx.client("1");
    let cases = [
        ("posts_create", json!({ "views": 1, "published": true }), "missing required fields: `title`"),
        (
            "posts_create",
            json!({ "title": "x", "views": 1, "published": true, "owner_id": 2 }),
            "`owner_id` cannot be written",
        ),
        ("posts_create", json!({ "title": "x", "views": 1, "published": true, "id": 99 }), "`id` cannot be written"),
        (
            "posts_create",
            json!({ "title": "x", "views": 1, "published": true, "created_at": "2020-01-01T00:00:00" }),
            "`created_at` cannot be written",
        ),
        ("posts_create", json!({ "title": null, "views": 1, "published": true }), "`title` cannot be null"),
        ("posts_create", json!({ "title": "x", "views": "lots", "published": true }), "`views` (integer) cannot take"),
        ("posts_create", json!({ "title": "forbidden", "views": 1, "published": true }), "that title is not allowed"),
        // A unique constraint, in words and without SQL.
        (
            "posts_create",
            json!({ "title": "Post 5", "views": 1, "published": true }),
            "another posts row already has this value of `title`",
        ),
        ("posts_patch", json!({ "id": 4 }), "nothing to change"),
        ("posts_patch", json!({ "title": "x" }), "missing required argument `id`"),
        ("posts_patch", json!({ "id": 4, "title": "Post 5" }), "already has this value of `title`"),
        ("posts_update", json!({ "id": 4, "title": "x" }), "missing required fields: `views`, `published`"),
        ("posts_delete", json!({ "id": "four" }), "invalid key"),
    ];
    for (tool, args, want) in cases {
        let err = call_err(&c, tool, args.clone()).await;
        assert!(err.contains(want), "{tool} {args}: {err}");
        assert!(!err.to_uppercase().contains("INSERT") && !err.contains("UPDATE posts"), "{err}");
    }
    // A hook that puts the row outside the caller's scope: rolled back.
    let wrong = fx.client_with("1", Opts { scoped: true, wrong_owner: Some(2), ..Opts::default() });
    let err = call_err(&wrong, "posts_create", json!({ "title": "Escapee", "views": 1, "published": true })).await;
    assert!(err.contains("outside what you may see"), "{err}");
    let err = call_err(&wrong, "posts_patch", json!({ "id": 4, "title": "Moved" })).await;
    assert!(err.contains("outside what you may see"), "{err}");
    assert_eq!(call(&c, "posts_count", json!({})).await["count"], 8, "nothing was written");
    assert_eq!(call(&fx.client("2"), "posts_count", json!({})).await["count"], 4, "nothing was written");
    assert_eq!(call(&c, "posts_get", json!({ "id": 4 })).await["title"], "Post 4", "the patch was rolled back");
}

#[tokio::test]
async fn cursors_keep_their_place() {
    for fx in fixtures() {
        eprintln!("cursors_keep_their_place on {}", fx.name);
        cursors_keep_their_place_on(&fx).await;
    }
}

/// Every id of a walk through all pages, following `next_cursor`.
async fn walk(c: &TestClient, args: Value, mut between: impl AsyncFnMut(usize, &Value)) -> Vec<i64> {
    let mut seen = Vec::new();
    let mut page = call(c, "posts_list", args.clone()).await;
    let mut n = 0;
    loop {
        seen.extend(ids(&page));
        between(n, &page).await;
        n += 1;
        let Some(cursor) = page.get("next_cursor").and_then(Value::as_str) else { break };
        let mut next = args.clone();
        next["cursor"] = json!(cursor);
        page = call(c, "posts_list", next).await;
    }
    seen
}

async fn cursors_keep_their_place_on(fx: &Fixture) {
    let c = fx.client("1");
    for order in [json!(["-views"]), json!(["title"]), json!(["-created_at", "views"]), json!(["body"])] {
        let args = json!({ "order_by": order, "limit": 3 });
        let all = walk(&c, args.clone(), async |_, _| {}).await;
        let mut sorted = all.clone();
        sorted.sort();
        assert_eq!(sorted, (1..=8).collect::<Vec<_>>(), "{order}: every row once");
    }
    // A row of the first page deleted while paging: nothing after it is skipped (an
    // offset would now point one row too far).
    let args = json!({ "order_by": ["-views", "title"], "limit": 3 });
    let all = walk(&c, args.clone(), async |_, _| {}).await;
    let victim = all[0];
    let during = walk(&c, args.clone(), async |n, _| {
        if n == 0 {
            call(&c, "posts_delete", json!({ "id": victim })).await;
        }
    })
    .await;
    assert_eq!(during, all, "keyset pages do not shift");
    // The first page of `-views`, then a cursor used with another ordering.
    let page = call(&c, "posts_list", json!({ "order_by": ["-views"], "limit": 2 })).await;
    let cursor = page["next_cursor"].clone();
    let err = call_err(&c, "posts_list", json!({ "order_by": ["views"], "cursor": cursor })).await;
    assert!(err.contains("belongs to a different `order_by`"), "{err}");
    let err = call_err(&c, "posts_list", json!({ "order_by": ["-views"], "cursor": cursor, "offset": 2 })).await;
    assert!(err.contains("either `offset` or `cursor`"), "{err}");
}

#[tokio::test]
async fn write_scope_is_narrower_than_read_scope() {
    for fx in fixtures() {
        eprintln!("write_scope_is_narrower_than_read_scope on {}", fx.name);
        let c = fx.client_with("1", Opts { read_published: true, ..Opts::default() });
        // Own rows and others' published ones (9 and 11) are visible.
        assert_eq!(call(&c, "posts_count", json!({})).await["count"], 10);
        assert_eq!(call(&c, "posts_get", json!({ "id": 9 })).await["title"], "Post 9");
        // But others' rows cannot be changed: the caller, who sees them, is told they are
        // not theirs; others' drafts (10) do not exist for the caller, as ever.
        for (tool, args) in [
            ("posts_patch", json!({ "id": 9, "title": "Mine now" })),
            ("posts_update", json!({ "id": 9, "title": "Mine now", "views": 1, "published": true })),
            ("posts_delete", json!({ "id": 9 })),
        ] {
            let err = call_err(&c, tool, args).await;
            assert!(err.contains("posts row with `id` = 9 is not yours to change"), "{tool}: {err}");
        }
        for (tool, args) in
            [("posts_patch", json!({ "id": 10, "title": "Mine now" })), ("posts_delete", json!({ "id": 10 }))]
        {
            let err = call_err(&c, tool, args).await;
            assert_eq!(
                err,
                call_err(
                    &c,
                    tool,
                    json!({ "id": 99, "title": "Mine now" })
                        .as_object()
                        .map(|o| {
                            let mut o = o.clone();
                            o.retain(|k, _| tool != "posts_delete" || k == "id");
                            Value::Object(o)
                        })
                        .unwrap()
                )
                .await
                .replace("99", "10"),
                "{tool}: a draft of another owner answers as a missing row"
            );
            assert!(err.contains("no posts with `id` = 10"), "{tool}: {err}");
        }
        assert_eq!(call(&c, "posts_patch", json!({ "id": 2, "title": "Still mine" })).await["title"], "Still mine");
        assert_eq!(call(&c, "posts_get", json!({ "id": 9 })).await["title"], "Post 9");
    }
}

#[tokio::test]
async fn aggregates_per_group_within_the_scope() {
    for fx in fixtures() {
        eprintln!("aggregates_per_group_within_the_scope on {}", fx.name);
        let c = fx.client("1");
        assert_eq!(call(&c, "posts_aggregate", json!({})).await["groups"], json!([{ "count": 8 }]));
        assert_eq!(call(&fx.client("2"), "posts_aggregate", json!({})).await["groups"], json!([{ "count": 4 }]));
        // views = id * 37 % 11: published (odd ids) 4, 1, 9, 6; drafts 8, 5, 2, 10.
        let by_published = call(
            &c,
            "posts_aggregate",
            json!({ "group_by": "published", "metrics": ["count", "sum:views", "avg:views", "min:created_at", "max:views"] }),
        )
        .await;
        assert_eq!(
            by_published["groups"],
            json!([
                { "published": false, "count": 4, "sum:views": 25.0, "avg:views": 6.25,
                  "min:created_at": "2026-01-02T10:00:00", "max:views": 10 },
                { "published": true, "count": 4, "sum:views": 20.0, "avg:views": 5.0,
                  "min:created_at": "2026-01-01T10:00:00", "max:views": 9 },
            ]),
            "{by_published}"
        );
        assert_eq!(by_published["has_more"], false);
        // Filters apply before grouping; a nullable group field has a `null` group.
        let by_body = call(&c, "posts_aggregate", json!({ "group_by": "body", "filter": { "id__lte": 8 } })).await;
        let groups = by_body["groups"].as_array().unwrap();
        assert_eq!(groups.len(), 7, "{by_body}");
        assert!(groups.contains(&json!({ "body": null, "count": 2 })), "{by_body}");
        let limited = call(&c, "posts_aggregate", json!({ "group_by": "body", "limit": 3 })).await;
        assert_eq!((limited["returned"].as_i64(), limited["has_more"].as_bool()), (Some(3), Some(true)));
        let empty =
            call(&c, "posts_aggregate", json!({ "metrics": ["sum:views", "max:created_at"], "filter": { "id": 10 } }))
                .await;
        assert_eq!(
            empty["groups"],
            json!([{ "sum:views": null, "max:created_at": null }]),
            "other users' rows do not count"
        );
        for (args, want) in [
            (json!({ "metrics": ["sum:title"] }), "unknown metric \\\"sum:title\\\""),
            (json!({ "group_by": "secret" }), "cannot group by"),
            (json!({ "group_by": "views" }), "cannot group by"),
            (json!({ "metrics": [] }), "1 to 5 metrics"),
            (json!({ "filter": { "owner_id": 2 } }), "unknown field `owner_id`"),
        ] {
            let err = call_err(&c, "posts_aggregate", args.clone()).await;
            assert!(err.contains(want), "{args}: {err}");
        }
    }
}

#[tokio::test]
async fn regex_where_the_backend_has_it() {
    for fx in fixtures() {
        eprintln!("regex_where_the_backend_has_it on {}", fx.name);
        let c = fx.client("1");
        let tools = serde_json::to_value(c.list_tools().await.unwrap()).unwrap();
        let doc = tools[0]["inputSchema"]["properties"]["filter"]["description"].as_str().unwrap().to_owned();
        if fx.name == "SQLite" {
            assert!(!doc.contains("regex"), "{doc}");
            let err = call_err(&c, "posts_list", json!({ "filter": { "title__regex": "^Post" } })).await;
            assert!(err.contains("no regular expressions"), "{err}");
            continue;
        }
        assert!(doc.contains("regex"), "{doc}");
        let got = call(&c, "posts_list", json!({ "filter": { "title__regex": "^Post [5-7]$" } })).await;
        assert_eq!(ids(&got), [5, 6, 7]);
        // Case-sensitive, like `contains`, and combinable with `$or`.
        let got =
            call(&c, "posts_list", json!({ "filter": { "$or": [{ "title": { "$regex": "^hello" } }, { "id": 8 }] } }))
                .await;
        assert_eq!(ids(&got), [3, 8]);
        let err = call_err(&c, "posts_list", json!({ "filter": { "views__regex": "1" } })).await;
        assert!(err.contains("operator `regex` does not apply"), "{err}");
    }
}

#[tokio::test]
async fn the_query_pipeline() {
    for fx in fixtures() {
        eprintln!("the_query_pipeline on {}", fx.name);
        let c = fx.client("1");
        let q = |pipeline: Value| json!({ "collection": "posts", "pipeline": pipeline });
        // views = id * 37 % 11: ids 1..8 have 4, 8, 1, 5, 9, 2, 6, 10.
        let top = call(
            &c,
            "query",
            q(json!([{ "$match": { "published": true } }, { "$sort": { "views": -1 } }, { "$limit": 2 }])),
        )
        .await;
        assert_eq!(ids(&top), [5, 7]);
        let views_first =
            call(&c, "query", q(json!([{ "$sort": [{ "views": -1 }, { "id": 1 }] }, { "$limit": 3 }]))).await;
        assert_eq!(ids(&views_first), [8, 5, 2], "sort keys keep their order");
        let id_first =
            call(&c, "query", q(json!([{ "$sort": [{ "id": 1 }, { "views": -1 }] }, { "$limit": 3 }]))).await;
        assert_eq!(ids(&id_first), [1, 2, 3]);
        let page = call(&c, "query", q(json!([{ "$sort": { "id": 1 } }, { "$skip": 2 }, { "$limit": 3 }]))).await;
        assert_eq!(ids(&page), [3, 4, 5], "$skip then $limit pages");
        let window = call(&c, "query", q(json!([{ "$sort": { "id": 1 } }, { "$limit": 4 }, { "$skip": 2 }]))).await;
        assert_eq!(ids(&window), [3, 4], "$limit then $skip stays inside the window");
        let grouped = call(
            &c,
            "query",
            q(json!([
                { "$match": { "id__lte": 8 } },
                { "$group": { "_id": "$published", "n": { "$sum": 1 }, "total": { "$sum": "$views" } } }
            ])),
        )
        .await;
        assert_eq!(
            grouped["items"],
            json!([{ "_id": false, "n": 4, "total": 25.0 }, { "_id": true, "n": 4, "total": 20.0 }])
        );
        let counted = call(&c, "query", q(json!([{ "$match": { "published": false } }, { "$count": "drafts" }]))).await;
        assert_eq!(counted["items"], json!([{ "drafts": 4 }]));
        let projected = call(&c, "query", q(json!([{ "$project": { "title": 1 } }, { "$limit": 1 }]))).await;
        assert_eq!(projected["items"], json!([{ "title": "Hello Rust" }]));
        let scoped = call(&c, "query", q(json!([{ "$match": { "$or": [{ "id": 10 }, { "id": 11 }] } }]))).await;
        assert_eq!(scoped["returned"], 0, "the scope holds in pipelines");
        for (args, want) in [
            (q(json!([{ "$limit": 2 }, { "$match": { "id": 1 } }])), "after `$skip`/`$limit` is not supported"),
            (q(json!([{ "$unwind": "$tags" }])), "unknown stage `$unwind`"),
            (q(json!([{ "$sort": { "views": -1, "id": 1 } }])), "give a list"),
            (q(json!([{ "$skip": i64::MAX }, { "$skip": i64::MAX }])), "`offset` must be"),
            (q(json!([{ "$match": { "secret": "x" } }])), "unknown field `secret`"),
            (q(json!([{ "$group": { "_id": "$owner_id" } }])), "cannot group by"),
            (json!({ "collection": "users" }), "unknown collection `users`"),
        ] {
            let err = call_err(&c, "query", args.clone()).await;
            assert!(err.contains(want), "{args}: {err}");
        }
    }
}

#[tokio::test]
async fn filters_through_relations() {
    for fx in fixtures() {
        eprintln!("filters_through_relations on {}", fx.name);
        filters_through_relations_on(&fx).await;
    }
}

async fn filters_through_relations_on(fx: &Fixture) {
    let c = fx.client("1");
    // Owner 1 has posts 1..=8 by authors 1, 2, 3, 1, 2, 3, 1, 2; author 3 (Carol) is out of
    // the authors' scope, so nothing reaches her through the relation.
    let cases = [
        // text
        (json!({ "author.name": "Ada" }), vec![1, 4, 7]),
        (json!({ "author.name__icontains": "A" }), vec![1, 2, 4, 5, 7, 8]),
        (json!({ "author.name": { "$startswith": "Br" } }), vec![2, 5, 8]),
        (json!({ "author.name": "Carol" }), vec![]),
        // ordered
        (json!({ "author.karma": { "$gt": 20 } }), vec![1, 4, 7]),
        (json!({ "author.karma__between": [0, 100] }), vec![1, 2, 4, 5, 7, 8]),
        (json!({ "author.id__in": [3] }), vec![]),
        // bool, in the nested form
        (json!({ "author": { "verified": false } }), vec![2, 5, 8]),
        (json!({ "author": {} }), vec![1, 2, 4, 5, 7, 8]),
        // eq kind (an enum), and a nullable field
        (json!({ "author.role__in": ["writer"] }), vec![2, 5, 8]),
        (json!({ "author.role__ne": "admin" }), vec![2, 5, 8]),
        (json!({ "author.bio__isnull": true }), vec![2, 5, 8]),
        // combined with the model's own fields and logic
        (json!({ "author.name": "Ada", "published": true }), vec![1, 7]),
        (json!({ "$or": [{ "author.name": "Brian" }, { "id": 3 }] }), vec![2, 3, 5, 8]),
        (json!({ "$not": { "author.name": "Ada" } }), vec![2, 3, 5, 6, 8]),
        // An agent's `$or` cannot reach out-of-scope authors nor other users' posts.
        (json!({ "$or": [{ "author.name": "Carol" }, { "id": 10 }] }), vec![]),
        // has_many: any comment matching (flagged comments 3 and 6 are out of scope).
        (json!({ "comments.body__icontains": "RUST" }), vec![1]),
        (json!({ "comments": { "author_name": "x" } }), vec![1, 2]),
        (json!({ "comments.author_name": "z" }), vec![]),
        (json!({ "comments.id__gte": 1 }), vec![1, 2]),
    ];
    for (filter, want) in cases {
        let got = call(&c, "posts_list", json!({ "filter": filter, "limit": 5 })).await;
        assert_eq!(ids(&got), want.iter().copied().take(5).collect::<Vec<i64>>(), "filter {filter}");
        let count = call(&c, "posts_count", json!({ "filter": filter })).await;
        assert_eq!(count["count"], want.len(), "count of {filter}");
    }
    // Aggregates and the query tool filter through relations too.
    let agg = call(&c, "posts_aggregate", json!({ "filter": { "author.name": "Ada" } })).await;
    assert_eq!(agg["groups"], json!([{ "count": 3 }]));
    let q = call(
        &c,
        "query",
        json!({ "collection": "posts", "pipeline": [{ "$match": { "author.verified": false } }, { "$count": "n" }] }),
    )
    .await;
    assert_eq!(q["items"], json!([{ "n": 3 }]));
    // Hidden fields of the related model do not exist; operators are typed per kind.
    for (filter, want) in [
        (json!({ "author.email": "ada@example.org" }), "unknown field `email`"),
        (json!({ "author.active": false }), "unknown field `active`"),
        (json!({ "author": { "active": false } }), "unknown field `active`"),
        (json!({ "comments.flagged": true }), "unknown field `flagged`"),
        (
            json!({ "author.nope": 1 }),
            "the fields you can filter on are `id`, `name`, `karma`, `verified`, `role`, `bio`",
        ),
        (json!({ "writer.name": "Ada" }), "unknown relation `writer`"),
        (json!({ "author.name__gt": "A" }), "operator `gt` does not apply"),
        (json!({ "author.verified__in": [true] }), "operator `in` does not apply"),
        (json!({ "author.karma": "lots" }), "`karma` (integer) cannot take"),
        (json!({ "author": 1 }), "must be a filter object on the related rows"),
        (json!({ "author.name.first": "A" }), "unknown field `name.first`"),
        (json!({ "nope": 1 }), "and through relations `author.<field>`, `comments.<field>`"),
    ] {
        let err = call_err(&c, "posts_list", json!({ "filter": filter })).await;
        assert!(err.contains(want), "{filter}: {err}");
        assert!(!err.contains("SELECT"), "{err}");
    }
    // Conditions through relations count against the caps.
    let wide = json!({ "$or": (0..60).map(|i| json!({ "author.id": i })).collect::<Vec<_>>() });
    let err = call_err(&c, "posts_list", json!({ "filter": wide })).await;
    assert!(err.contains("more than 50 conditions"), "{err}");
}

#[tokio::test]
async fn include_attaches_related_rows_within_their_scope() {
    for fx in fixtures() {
        eprintln!("include_attaches_related_rows_within_their_scope on {}", fx.name);
        include_attaches_related_rows_within_their_scope_on(&fx).await;
    }
}

async fn include_attaches_related_rows_within_their_scope_on(fx: &Fixture) {
    let c = fx.client("1");
    let page = call(&c, "posts_list", json!({ "include": ["author", "comments"], "limit": 3 })).await;
    let items = page["items"].as_array().unwrap();
    assert_eq!(ids(&page), [1, 2, 3]);
    // The related row as agents see it: no hidden fields.
    assert_eq!(
        items[0]["author"],
        json!({ "id": 1, "name": "Ada", "karma": 50, "verified": true, "role": "admin", "bio": "Rust and maths" })
    );
    assert_eq!(items[1]["author"]["name"], "Brian");
    // Carol is out of the authors' scope: absent, not an error.
    assert_eq!(items[2]["author"], Value::Null);
    assert_eq!(items[2]["author_id"], 3);
    // Comments: in the comments' scope only (3 and 6 are flagged), without hidden fields.
    assert_eq!(
        items[0]["comments"],
        json!([{ "id": 1, "post_id": 1, "author_name": "x", "body": "Great post" },
               { "id": 2, "post_id": 1, "author_name": "y", "body": "Rust rocks" }])
    );
    assert_eq!(items[1]["comments"].as_array().unwrap().len(), 1);
    assert_eq!(items[2]["comments"], json!([]));
    // With `fields`, paging and a null key.
    let page = call(&c, "posts_list", json!({ "include": ["author"], "fields": ["title"], "limit": 2 })).await;
    assert_eq!(page["items"][0], json!({ "title": "Hello Rust", "author": page["items"][0]["author"] }));
    assert_eq!(page["items"][0]["author"]["name"], "Ada");
    let next =
        call(&c, "posts_list", json!({ "include": ["author"], "limit": 2, "cursor": page["next_cursor"] })).await;
    assert_eq!(ids(&next), [3, 4]);
    assert_eq!(next["items"][1]["author"]["name"], "Ada");
    let other = call(&fx.client("2"), "posts_list", json!({ "include": ["author"], "filter": { "id": 12 } })).await;
    assert_eq!(other["items"][0]["author"], Value::Null, "a null key includes null");
    // `get` too.
    let one = call(&c, "posts_get", json!({ "id": 1, "include": ["comments", "author"] })).await;
    assert_eq!((one["author"]["name"].as_str(), one["comments"].as_array().map(Vec::len)), (Some("Ada"), Some(2)));
    let plain = call(&c, "posts_get", json!({ "id": 1 })).await;
    assert!(plain.get("author").is_none() && plain.get("comments").is_none(), "{plain}");
    // The other direction: a comment's post, through the posts' scope.
    let mine = call(&c, "comments_list", json!({ "include": ["post"] })).await;
    assert_eq!(ids(&mine), [1, 2, 4], "comments of other users' posts and flagged ones are out of scope");
    assert_eq!(mine["items"][0]["post"]["title"], "Hello Rust");
    assert!(mine["items"][0]["post"].get("secret").is_none() && mine["items"][0]["post"].get("owner_id").is_none());
    let theirs = call(&fx.client("2"), "comments_list", json!({ "include": ["post"] })).await;
    assert_eq!(ids(&theirs), [5]);
    let err = call_err(&c, "comments_get", json!({ "id": 5 })).await;
    assert!(err.contains("no comments with `id` = 5"), "{err}");
    // Bad includes.
    for (args, want) in [
        (json!({ "include": ["writer"] }), "cannot include \\\"writer\\\"; the relations are `author`, `comments`"),
        (json!({ "include": "author" }), "`include` must be a list of relation names"),
        (json!({ "include": [1] }), "cannot include 1"),
    ] {
        let err = call_err(&c, "posts_list", args.clone()).await;
        assert!(err.contains(want), "{args}: {err}");
    }
    let err = call_err(&c, "posts_get", json!({ "id": 1, "include": ["owner"] })).await;
    assert!(err.contains("cannot include"), "{err}");
    let err = call_err(&c, "authors_list", json!({ "include": ["posts"] })).await;
    assert!(err.contains("this model has no relations to include"), "{err}");
    // The schemas show the relations.
    let tools = serde_json::to_value(c.list_tools().await.unwrap()).unwrap();
    let list = &tools[0];
    assert_eq!(list["inputSchema"]["properties"]["include"]["items"]["enum"], json!(["author", "comments"]));
    let about = list["inputSchema"]["properties"]["include"]["description"].as_str().unwrap();
    assert!(
        about
            .contains("`author` (one authors row, or null), `comments` (a list of comments rows, at most 100 per row)"),
        "{about}"
    );
    let row = &list["outputSchema"]["properties"]["items"]["items"]["properties"];
    assert!(row["author"]["anyOf"][0]["properties"]["name"].is_object(), "{row}");
    assert!(row["author"]["anyOf"][0]["properties"].get("email").is_none(), "{row}");
    assert!(row["comments"]["items"]["properties"]["body"].is_object(), "{row}");
    let doc = list["inputSchema"]["properties"]["filter"]["description"].as_str().unwrap();
    assert!(doc.contains("- `author.name` (text)") && !doc.contains("email") && !doc.contains("flagged"), "{doc}");
    assert!(tools[1]["inputSchema"]["properties"]["include"].is_object());
}

#[tokio::test]
async fn lookup_stages_follow_declared_relations() {
    for fx in fixtures() {
        eprintln!("lookup_stages_follow_declared_relations on {}", fx.name);
        let c = fx.client("1");
        let q = |pipeline: Value| json!({ "collection": "posts", "pipeline": pipeline });
        let got = call(
            &c,
            "query",
            q(json!([
                { "$match": { "id__lte": 3 } },
                { "$lookup": { "from": "authors", "localField": "author_id", "foreignField": "id", "as": "writer" } },
                { "$lookup": { "from": "comments", "localField": "id", "foreignField": "post_id", "as": "comments" } },
                { "$project": { "title": 1, "writer": 1 } }
            ])),
        )
        .await;
        let items = got["items"].as_array().unwrap();
        assert_eq!(items.len(), 3, "{got}");
        assert_eq!(items[0]["title"], "Hello Rust");
        assert_eq!(items[0]["writer"][0]["name"], "Ada");
        assert!(items[0].get("author").is_none());
        assert_eq!(items[0]["comments"].as_array().unwrap().len(), 2);
        assert_eq!(items[2]["writer"], json!([]), "an out-of-scope author is absent");
        assert!(items[0]["writer"][0].get("email").is_none());
        // From comments back to their posts, with a limit.
        let back = call(
            &c,
            "query",
            json!({ "collection": "comments", "pipeline": [
                { "$lookup": { "from": "posts", "localField": "post_id", "foreignField": "id", "as": "post" } },
                { "$limit": 1 }
            ] }),
        )
        .await;
        assert_eq!(back["items"][0]["post"][0]["title"], "Hello Rust");
        for (pipeline, want) in [
            (
                json!([{ "$lookup": { "from": "authors", "localField": "owner_id", "foreignField": "id", "as": "o" } }]),
                r#"not a declared relation; the declared relations are {\"from\": \"authors\", \"localField\": \"author_id\", \"foreignField\": \"id\", \"as\": \"author\"}, {\"from\": \"comments\""#,
            ),
            (json!([{ "$lookup": { "from": "users" } }]), "`$lookup` needs `from`, `localField` and `foreignField`"),
            (
                json!([{ "$lookup": { "from": "authors", "localField": "author_id", "foreignField": "id", "as": "a", "pipeline": [] } }]),
                "not `pipeline`",
            ),
            (
                json!([{ "$lookup": { "from": "authors", "localField": "author_id", "foreignField": "id", "as": "$x" } }]),
                "`$lookup.as` must be a field name",
            ),
        ] {
            let err = call_err(&c, "query", q(pipeline.clone())).await;
            assert!(err.contains(want), "{pipeline}: {err}");
        }
        let tools = serde_json::to_value(c.list_tools().await.unwrap()).unwrap();
        let query = tools.as_array().unwrap().iter().find(|t| t["name"] == "query").unwrap();
        assert!(query["description"].as_str().unwrap().contains("$lookup: {\"from\": \"authors\""), "{query}");
    }
}

/// Counts the statements a connection runs (not the pool's health checks).
#[derive(Clone, Debug, Default)]
struct Statements(std::sync::Arc<std::sync::atomic::AtomicUsize>);

impl diesel::r2d2::CustomizeConnection<SqliteConnection, diesel::r2d2::Error> for Statements {
    fn on_acquire(&self, conn: &mut SqliteConnection) -> Result<(), diesel::r2d2::Error> {
        conn.batch_execute("PRAGMA busy_timeout = 5000; PRAGMA case_sensitive_like = ON;")
            .map_err(diesel::r2d2::Error::QueryError)?;
        let n = self.0.clone();
        conn.set_instrumentation(move |event: diesel::connection::InstrumentationEvent<'_>| {
            if let diesel::connection::InstrumentationEvent::StartQuery { query, .. } = event
                && query.to_string().contains("FROM")
            {
                n.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            }
        });
        Ok(())
    }
}

#[tokio::test]
async fn include_runs_one_query_per_relation_per_page() {
    let dir = std::env::temp_dir().join(unique());
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("db.sqlite");
    let counter = Statements::default();
    let pool = Pool::builder()
        .max_size(1)
        .connection_customizer(Box::new(counter.clone()))
        .build(ConnectionManager::<SqliteConnection>::new(path.to_str().unwrap()))
        .unwrap();
    seed(&mut *pool.get().unwrap(), "INTEGER PRIMARY KEY NOT NULL", "TIMESTAMP", "");
    let c = TestClient::modern(server(pool, Opts::default())).with_principal(Principal::new("1"));
    let mut runs = Vec::new();
    for limit in [1, 3, 5] {
        let before = counter.0.load(std::sync::atomic::Ordering::SeqCst);
        let page = call(&c, "posts_list", json!({ "limit": limit, "include": ["author", "comments"] })).await;
        assert_eq!(page["returned"], limit);
        runs.push(counter.0.load(std::sync::atomic::Ordering::SeqCst) - before);
    }
    // The page, then one query per relation, whatever the page size.
    assert_eq!(runs, [3, 3, 3]);
    let before = counter.0.load(std::sync::atomic::Ordering::SeqCst);
    call(&c, "posts_list", json!({ "limit": 5 })).await;
    assert_eq!(counter.0.load(std::sync::atomic::Ordering::SeqCst) - before, 1, "no include, no extra query");
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn hooks_from_an_impl_block() {
    for fx in fixtures() {
        eprintln!("hooks_from_an_impl_block on {}", fx.name);
        let opts = Opts { hooks: true, ..Opts::default() };
        let c = fx.client_with("1", opts);
        // The block's scope holds on every tool.
        assert_eq!(call(&c, "posts_count", json!({})).await["count"], 8);
        let err = call_err(&c, "posts_get", json!({ "id": 10 })).await;
        assert!(err.contains("no posts with `id` = 10"), "{err}");
        // Its write hook sets the owner and refuses the banned title.
        let new = call(&c, "posts_create", json!({ "title": "Ruled", "views": 1, "published": false })).await;
        assert_eq!(call(&c, "posts_count", json!({})).await["count"], 9);
        let other = fx.client_with("2", opts);
        let err = call_err(&other, "posts_get", json!({ "id": new["id"] })).await;
        assert!(err.contains("no posts with"), "{err}");
        let err = call_err(&c, "posts_patch", json!({ "id": 1, "title": "forbidden" })).await;
        assert!(err.contains("that title is banned"), "{err}");
        // And its `#[mcp_tool]` methods are tools.
        let r = c.call_tool("banned_title", json!({})).await.unwrap();
        assert_eq!(serde_json::to_value(&r.content).unwrap()[0]["text"], "forbidden");
        let err = call_err(&TestClient::modern((fx.make)(opts)), "posts_count", json!({})).await;
        assert!(err.contains("sign in first"), "{err}");
    }
}

#[tokio::test]
async fn relations_are_unknown_until_their_tools_are_given() {
    let dir = std::env::temp_dir().join(unique());
    std::fs::create_dir_all(&dir).unwrap();
    let pool = mcp_diesel::sqlite_pool(dir.join("db.sqlite").to_str().unwrap(), 2).unwrap();
    seed(&mut *pool.get().unwrap(), "INTEGER PRIMARY KEY NOT NULL", "TIMESTAMP", "");
    // Posts without `.related(...)`: their relations do not exist for agents.
    let posts = ModelTools::<Post, _>::new(pool.clone());
    // Comments whose scope goes through a relation that was not set up: a server error,
    // never rows from outside the intended scope.
    let comments = ModelTools::<Comment, _>::new(pool).scope(|_| Ok(json!({ "post": {} })));
    let server =
        Server::builder().info(mcp_core::server_info!()).toolset(posts.clone()).toolset(comments).build().unwrap();
    let c = TestClient::modern(server);
    let err = call_err(&c, "posts_list", json!({ "filter": { "author.name": "Ada" } })).await;
    assert!(err.contains("unknown field `author.name`"), "{err}");
    let err = call_err(&c, "posts_list", json!({ "include": ["author"] })).await;
    assert!(err.contains("this model has no relations to include"), "{err}");
    let tools = serde_json::to_value(c.list_tools().await.unwrap()).unwrap();
    assert!(tools[0]["inputSchema"]["properties"].get("include").is_none());
    let err = call_err(&c, "comments_list", json!({})).await;
    assert!(err.contains("server misconfigured: invalid scope: unknown field `post`"), "{err}");
    assert!(err.contains("(relations not set up with `ModelTools::related`: `post`)"), "{err}");
    // Naming tools of a model the relations do not reach is a setup mistake.
    let authors = ModelTools::<Author, _>::new(mcp_diesel::sqlite_pool(":memory:", 1).unwrap());
    let wrong = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| authors.clone().related(&posts)));
    let message = wrong.err().and_then(|e| e.downcast_ref::<String>().cloned()).unwrap_or_default();
    assert!(message.contains("authors declares no relation to posts"), "{message}");
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn has_many_includes_are_bounded() {
    let dir = std::env::temp_dir().join(unique());
    std::fs::create_dir_all(&dir).unwrap();
    let pool = mcp_diesel::sqlite_pool(dir.join("db.sqlite").to_str().unwrap(), 2).unwrap();
    seed(&mut *pool.get().unwrap(), "INTEGER PRIMARY KEY NOT NULL", "TIMESTAMP", "");
    let add = |post: i32, first: i32, n: i32| {
        let rows: Vec<String> =
            (first..first + n).map(|id| format!("({id}, {post}, 'bot', 'comment {id}', FALSE)")).collect();
        pool.get()
            .unwrap()
            .batch_execute(&format!(
                "INSERT INTO comments (id, post_id, author_name, body, flagged) VALUES {}",
                rows.join(", ")
            ))
            .unwrap();
    };
    let c = TestClient::modern(server(pool.clone(), Opts::default()));
    // At most the related model's `max_limit` (100) per row, the first ones by key.
    add(2, 100, 150);
    let page = call(&c, "posts_list", json!({ "filter": { "id": 2 }, "include": ["comments"] })).await;
    let list = page["items"][0]["comments"].as_array().unwrap();
    assert_eq!(list.len(), 100);
    assert_eq!((list[0]["id"].as_i64(), list[99]["id"].as_i64()), (Some(4), Some(198)));
    // More than 1,000 related rows for one page: refused, with what to do.
    add(3, 1000, 900);
    let err = call_err(&c, "posts_list", json!({ "limit": 5, "include": ["comments"] })).await;
    assert!(err.contains("more than 1000 related comments rows; ask for fewer rows (`limit`)"), "{err}");
    let fine = call(&c, "posts_list", json!({ "filter": { "id": 3 }, "include": ["comments"] })).await;
    assert_eq!(fine["items"][0]["comments"].as_array().unwrap().len(), 100);
    let _ = std::fs::remove_dir_all(dir);
}

/// (id, title, body, views, published, author name if in scope).
type PostRow = (i64, String, Option<String>, i64, bool, Option<&'static str>);

/// Owner 1's posts as the seed writes them, kept here by hand so that expected results are
/// computed without our code.
fn owner_one_posts() -> Vec<PostRow> {
    (1..=8)
        .map(|id: i64| {
            let title = match id {
                1 => "Hello Rust".to_owned(),
                2 => "50% off_sale!".to_owned(),
                3 => "hello world".to_owned(),
                _ => format!("Post {id}"),
            };
            let body = (id % 4 != 0).then(|| format!("body of post {id}, about Rust"));
            // Authors 1, 2, 3 in turn; Carol (3) is out of the authors' scope.
            let author = [Some("Ada"), Some("Brian"), None][((id - 1) % 3) as usize];
            (id, title, body, (id * 37) % 11, id % 2 == 1, author)
        })
        .collect()
}

fn as_f64(v: &Value) -> f64 {
    v.as_f64().or_else(|| v.as_str().and_then(|s| s.parse().ok())).unwrap_or_else(|| panic!("not a number: {v}"))
}

/// The pipeline examples of django-mcp-server's own tests (its bird counter: birds with a
/// species and a count, at a location in a city), replayed on our posts (title, views) and
/// their authors; each case names the example it mirrors.
#[tokio::test]
async fn django_mcp_server_pipeline_examples() {
    let rows = owner_one_posts();
    let expect = |keep: &dyn Fn(&PostRow) -> bool| rows.iter().filter(|r| keep(r)).map(|r| r.0).collect::<Vec<i64>>();
    for fx in fixtures() {
        eprintln!("django_mcp_server_pipeline_examples on {}", fx.name);
        let c = fx.client("1");
        let q = |pipeline: Value| json!({ "collection": "posts", "pipeline": pipeline });
        let count = async |pipeline: Value| {
            let mut p = pipeline.as_array().unwrap().clone();
            p.push(json!({ "$count": "n" }));
            call(&c, "query", q(Value::Array(p))).await["items"][0]["n"].as_i64().unwrap()
        };

        // test_query, an empty pipeline: every row (here, a first page of the default size).
        let all = call(&c, "query", q(json!([]))).await;
        assert_eq!(ids(&all), expect(&|_| true)[..3]);
        assert_eq!(all["has_more"], true);
        assert_eq!(count(json!([])).await, 8);

        // test_query: `$regex` alone, with `$gte`, and in an `$or` with `$lt`.
        let regex_cases = [
            (json!({ "title": { "$regex": ".*l.*" } }), expect(&|r| r.1.contains('l'))),
            (
                json!({ "title": { "$regex": ".*l.*" }, "views": { "$gte": 5 } }),
                expect(&|r| r.1.contains('l') && r.3 >= 5),
            ),
            (
                json!({ "$or": [{ "title": { "$regex": ".*l.*" } }, { "views": { "$lt": 3 } }] }),
                expect(&|r| r.1.contains('l') || r.3 < 3),
            ),
        ];
        for (m, want) in regex_cases {
            let pipeline = json!([{ "$match": m }, { "$sort": { "id": 1 } }, { "$limit": 5 }]);
            if fx.name == "SQLite" {
                // Our documented difference: SQLite has no regular expressions.
                let err = call_err(&c, "query", q(pipeline)).await;
                assert!(err.contains("no regular expressions"), "{err}");
                continue;
            }
            assert!(!want.is_empty() && want.len() <= 5);
            assert_eq!(ids(&call(&c, "query", q(pipeline.clone())).await), want, "{m}");
            assert_eq!(count(json!([{ "$match": m }])).await, want.len() as i64, "{m}");
        }

        // test_query_with_lookup: `$lookup` named the Django way (the relation as
        // `localField`, `_id` as `foreignField`), then `$match` through its alias in an `$or`.
        let loc =
            json!({ "$lookup": { "from": "authors", "localField": "author", "foreignField": "_id", "as": "loc" } });
        let want = expect(&|r| r.3 < 3 || r.5 == Some("Ada"));
        let got = call(
            &c,
            "query",
            q(json!([loc, { "$match": { "$or": [{ "views": { "$lt": 3 } }, { "loc.name": "Ada" }] } }, { "$limit": 5 }])),
        )
        .await;
        assert_eq!(ids(&got), want);
        assert!(got["items"].as_array().unwrap().iter().all(|i| i["loc"].is_array()), "{got}");
        // The alias works in the nested form and under `$not` too, and before its `$lookup`.
        let got =
            call(&c, "query", q(json!([{ "$match": { "loc": { "name": "Brian" } } }, loc, { "$limit": 5 }]))).await;
        assert_eq!(ids(&got), expect(&|r| r.5 == Some("Brian")));
        let not_ada = json!([loc, { "$match": { "$not": { "loc.name": "Ada" } } }]);
        assert_eq!(count(not_ada).await, expect(&|r| r.5 != Some("Ada")).len() as i64);
        // test_query_with_lookup, second part: a lookup chained through another one
        // (`loc.city`) is our documented difference: relations are followed one level deep.
        let chained = json!({ "collection": "comments", "pipeline": [
            { "$lookup": { "from": "posts", "localField": "post", "foreignField": "_id", "as": "p" } },
            { "$lookup": { "from": "authors", "localField": "p.author_id", "foreignField": "_id", "as": "a" } },
        ] });
        let err = call_err(&c, "query", chained).await;
        assert!(err.contains("one level deep"), "{err}");

        // test_projection: `"_id": 0`, a kept field and a field of a looked-up row.
        for (title, writer) in [("Post 5", json!("Brian")), ("hello world", Value::Null)] {
            let got = call(
                &c,
                "query",
                q(json!([
                    loc,
                    { "$match": { "title": title } },
                    { "$project": { "_id": 0, "title": 1, "writer": "$loc.name", "heading": "$title" } }
                ])),
            )
            .await;
            // An out-of-scope author projects as null, like a missing one.
            assert_eq!(got["items"], json!([{ "title": title, "writer": writer, "heading": title }]));
        }

        // The same over a has-many relation (our addition): `_id` as the local key, and a
        // looked-up field projects as the list of its values (flagged comments stay hidden).
        let got = call(
            &c,
            "query",
            q(json!([
                { "$lookup": { "from": "comments", "localField": "_id", "foreignField": "post_id", "as": "c" } },
                { "$match": { "c.author_name": "x" } },
                { "$project": { "id": 1, "said": "$c.body" } }
            ])),
        )
        .await;
        assert_eq!(
            got["items"],
            json!([{ "id": 1, "said": ["Great post", "Rust rocks"] }, { "id": 2, "said": ["Nice sale"] }])
        );
        let err = call_err(
            &c,
            "query",
            q(json!([{ "$lookup": { "from": "comments", "localField": "id", "foreignField": "_id", "as": "c" } }])),
        )
        .await;
        assert!(err.contains("is not a declared relation"), "{err}");

        // test_fulltext_search_stage and test_fulltext_search_match_text_op: every word must
        // appear, in any case, in one of the search fields (title, body).
        let words = ["RUST", "hello"];
        let want = expect(&|r| {
            words.iter().all(|w| {
                let w = w.to_lowercase();
                r.1.to_lowercase().contains(&w) || r.2.as_deref().is_some_and(|b| b.to_lowercase().contains(&w))
            })
        });
        assert_eq!(want.len(), 2);
        let stage = call(&c, "query", q(json!([{ "$search": { "text": { "query": "RUST hello" } } }]))).await;
        assert_eq!(ids(&stage), want);
        let text_op = call(&c, "query", q(json!([{ "$match": { "$text": { "$search": "RUST hello" } } }]))).await;
        assert_eq!(ids(&text_op), want);
        let with_more = call(
            &c,
            "query",
            q(json!([{ "$match": { "$text": { "$search": "hello" }, "views": { "$gt": 1 } } }, { "$search": "rust" }])),
        )
        .await;
        assert_eq!(ids(&with_more), expect(&|r| want.contains(&r.0) && r.3 > 1));

        // test_group_aggregations with `_id: null`: one group of all rows.
        let views: Vec<i64> = rows.iter().map(|r| r.3).collect();
        let got = call(
            &c,
            "query",
            q(json!([loc, { "$group": {
                "_id": null, "total": { "$sum": "$views" }, "average": { "$avg": "$views" },
                "max_count": { "$max": "$views" }, "min_count": { "$min": "$views" }, "count": { "$count": 1 }
            } }])),
        )
        .await;
        let g = &got["items"][0];
        assert_eq!(got["returned"], 1, "{got}");
        assert_eq!(as_f64(&g["total"]), views.iter().sum::<i64>() as f64);
        assert!((as_f64(&g["average"]) - views.iter().sum::<i64>() as f64 / views.len() as f64).abs() < 1e-9, "{g}");
        assert_eq!(as_f64(&g["max_count"]), *views.iter().max().unwrap() as f64);
        assert_eq!(as_f64(&g["min_count"]), *views.iter().min().unwrap() as f64);
        assert_eq!(g["count"], views.len());
        // test_group_aggregations by a key: by one of the model's own fields here.
        let got = call(
            &c,
            "query",
            q(json!([{ "$group": {
                "_id": "$published", "total": { "$sum": "$views" }, "max_count": { "$max": "$views" }, "n": { "$count": {} }
            } }])),
        )
        .await;
        for g in got["items"].as_array().unwrap() {
            let p = g["_id"].as_bool().unwrap();
            let mine: Vec<i64> = rows.iter().filter(|r| r.4 == p).map(|r| r.3).collect();
            assert_eq!(as_f64(&g["total"]), mine.iter().sum::<i64>() as f64, "{g}");
            assert_eq!(as_f64(&g["max_count"]), *mine.iter().max().unwrap() as f64, "{g}");
            assert_eq!(g["n"], mine.len(), "{g}");
        }
        assert_eq!(got["returned"], 2);

        // Our documented differences, each with the error an agent gets.
        for (pipeline, want) in [
            // test_group_aggregations by `$city.country`: no grouping by a looked-up field.
            (json!([loc, { "$group": { "_id": "$loc.name" } }]), "grouping by a looked-up field"),
            // test_group_multi_aggregations: `_id` as an object of several keys.
            (json!([{ "$group": { "_id": { "p": "$published", "b": "$body" } } }]), "(one field)"),
            // Their rules: `$group` ends the pipeline and does not follow `$project`.
            (json!([{ "$group": { "_id": null } }, { "$limit": 1 }]), "which end the pipeline"),
            (json!([{ "$project": { "views": 1 } }, { "$group": { "_id": null } }]), "cannot follow `$project`"),
            // `$count` of a field's values.
            (json!([{ "$group": { "_id": null, "n": { "$count": "$body" } } }]), "counting the values of a field"),
            // `$search` limited to some fields.
            (json!([{ "$search": { "text": { "query": "rust", "path": "title" } } }]), "`path` is not supported"),
            (json!([{ "$match": { "$text": "rust" } }]), "`$text` takes"),
            // Projecting from a `$lookup` that is not there, or a hidden related field.
            (json!([{ "$project": { "n": "$loc.name" } }]), "not the `as` name of a `$lookup`"),
            (json!([loc, { "$project": { "e": "$loc.email" } }]), "unknown field `email` of `loc`"),
            (json!([{ "$project": { "title": 0 } }]), "`$project` keeps a field with 1"),
            (
                json!([{ "$lookup": { "from": "authors", "localField": "author", "foreignField": "_id", "as": "comments" } }]),
                "is the name of another relation",
            ),
            // Their `$match` after `$limit` filters the window; we refuse it.
            (json!([{ "$limit": 2 }, { "$match": { "id": 1 } }]), "after `$skip`/`$limit` is not supported"),
        ] {
            let err = call_err(&c, "query", q(pipeline.clone())).await;
            assert!(err.contains(want), "{pipeline}: {err}");
        }
    }
}

/// A connection of its own to the fixture's database, and the SQL that locks the posts
/// table against writers and the SQL that releases it.
fn locker(name: &str, url: &str) -> (Box<dyn SimpleConnection + Send>, &'static str, &'static str) {
    #[cfg(feature = "postgres")]
    if name.starts_with("PostgreSQL") {
        let conn = diesel::PgConnection::establish(url).unwrap();
        return (Box::new(conn), "BEGIN; LOCK TABLE posts IN ACCESS EXCLUSIVE MODE", "COMMIT");
    }
    #[cfg(feature = "mysql")]
    if name.starts_with("MySQL") {
        let conn = diesel::MysqlConnection::establish(url).unwrap();
        return (Box::new(conn), "LOCK TABLES posts WRITE", "UNLOCK TABLES");
    }
    assert_eq!(name, "SQLite");
    (Box::new(SqliteConnection::establish(url).unwrap()), "BEGIN IMMEDIATE", "COMMIT")
}

/// A write is never reported as failed while it can still commit: creates sent while
/// another transaction locks the table either fail and wrote nothing, or succeed and wrote
/// exactly one row; the failures say what happened and that a retry is safe.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_under_a_lock_report_what_happened() {
    for fx in fixtures() {
        eprintln!("writes_under_a_lock_report_what_happened on {}", fx.name);
        writes_under_a_lock_report_what_happened_on(&fx).await;
    }
}

async fn writes_under_a_lock_report_what_happened_on(fx: &Fixture) {
    use std::time::Duration;
    let opts = Opts {
        scoped: true,
        statement_timeout: Some(Duration::from_millis(300)),
        pool_timeout: Some(Duration::from_millis(150)),
        ..Opts::default()
    };
    let c = std::sync::Arc::new(fx.client_with("1", opts));
    let (mut conn, lock, unlock) = locker(fx.name, &fx.url);
    conn.batch_execute(lock).unwrap();
    let start = tokio::time::Instant::now();
    let release = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(2000));
        conn.batch_execute(unlock).unwrap();
        conn
    });
    // A burst larger than the pool (4), then one create every 150 ms until well past the
    // release.
    let schedule: Vec<u64> = std::iter::repeat_n(0, 6).chain((1..=20).map(|i| i * 150)).collect();
    let mut calls = tokio::task::JoinSet::new();
    for (i, at) in schedule.into_iter().enumerate() {
        let c = c.clone();
        calls.spawn(async move {
            tokio::time::sleep_until(start + Duration::from_millis(at)).await;
            let title = format!("locked write {i}");
            let r = c
                .call_tool("posts_create", json!({ "title": title, "views": 1, "published": false }))
                .await
                .expect("protocol error");
            (title, r)
        });
    }
    let mut results = Vec::new();
    while let Some(r) = calls.join_next().await {
        results.push(r.unwrap());
    }
    let _conn = release.join().unwrap();
    // Anything the database still runs ends (and would commit) meanwhile.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (mut failed, mut done, mut pool_waits) = (0, 0, 0);
    for (title, r) in &results {
        let rows = call(&c, "posts_count", json!({ "filter": { "title": title } })).await["count"].as_i64().unwrap();
        let text = serde_json::to_string(&r.content).unwrap();
        if r.is_error == Some(true) {
            failed += 1;
            assert_eq!(rows, 0, "{title} was reported as failed but wrote {rows} row(s): {text}");
            assert!(text.contains("nothing was written") && text.contains("etry"), "{title}: {text}");
            assert!(!text.contains("narrow the filter") && !text.contains("abandoned"), "{title}: {text}");
            pool_waits += usize::from(text.contains("no database connection became free"));
        } else {
            done += 1;
            assert_eq!(rows, 1, "{title} was reported as created but wrote {rows} row(s)");
        }
    }
    eprintln!("  {failed} failed ({pool_waits} waiting for the pool), {done} created");
    assert!(failed > 0 && done > 0, "{failed} failed, {done} created: the lock did not bite");
}

/// Text that can never match or be stored is refused before any SQL, with the field and
/// the fix; a pattern the database rejects is bad input, never "try again".
#[tokio::test]
async fn impossible_text_is_refused_up_front() {
    for fx in fixtures() {
        eprintln!("impossible_text_is_refused_up_front on {}", fx.name);
        let c = fx.client("1");
        for args in [
            json!({ "filter": { "title__contains": "\u{0}" } }),
            json!({ "filter": { "title__icontains": "a\u{0}" } }),
            json!({ "filter": { "title": "Post 5\u{0}" } }),
            json!({ "filter": { "title__in": ["Post 5", "\u{0}"] } }),
            json!({ "search": "Rust\u{0}" }),
        ] {
            let err = call_err(&c, "posts_list", args.clone()).await;
            assert!(err.contains("NUL character") && err.contains("remove it"), "{args}: {err}");
            assert!(!err.contains("try again"), "{args}: {err}");
        }
        let err = call_err(&c, "posts_count", json!({ "filter": { "body__contains": "\u{0}" } })).await;
        assert!(err.contains("`filter.body__contains` contains a NUL character"), "{err}");
        let err =
            call_err(&c, "posts_create", json!({ "title": "nul\u{0}title", "views": 1, "published": true })).await;
        assert!(err.contains("`title` contains a NUL character"), "{err}");
        let err = call_err(&c, "posts_patch", json!({ "id": 1, "body": "x\u{0}" })).await;
        assert!(err.contains("`body` contains a NUL character"), "{err}");
        assert_eq!(call(&c, "posts_count", json!({ "search": "nul" })).await["count"], 0);
        assert_eq!(call(&c, "posts_get", json!({ "id": 1 })).await["body"], "body of post 1, about Rust");
        if fx.name == "SQLite" {
            continue;
        }
        for pattern in ["(", "[a-", "a{2,1}"] {
            let err = call_err(&c, "posts_list", json!({ "filter": { "title__regex": pattern } })).await;
            assert!(err.contains("`regex` pattern") && err.contains("fix the pattern"), "{pattern}: {err}");
            assert!(!err.contains("try again") && !err.contains("SELECT"), "{pattern}: {err}");
        }
    }
}

/// `icontains` and `search` ignore case beyond ASCII on every backend.
#[tokio::test]
async fn icontains_and_search_fold_unicode() {
    for fx in fixtures() {
        eprintln!("icontains_and_search_fold_unicode on {}", fx.name);
        let c = fx.client("1");
        let a = call(&c, "posts_create", json!({ "title": "Une école d'été", "views": 1, "published": true })).await;
        let b = call(&c, "posts_create", json!({ "title": "ÜBER ÇA", "body": "ΣΟΦΊΑ", "views": 1, "published": true }))
            .await;
        let (a, b) = (a["id"].as_i64().unwrap(), b["id"].as_i64().unwrap());
        for (args, want) in [
            (json!({ "filter": { "title__icontains": "ÉCOLE" } }), vec![a]),
            (json!({ "filter": { "title__icontains": "ÉTÉ" } }), vec![a]),
            (json!({ "filter": { "title": { "$icontains": "über ça" } } }), vec![b]),
            (json!({ "search": "ÉCOLE D'ÉTÉ" }), vec![a]),
            (json!({ "search": "σοφία" }), vec![b]),
            // `contains` stays case-sensitive.
            (json!({ "filter": { "title__contains": "ÉCOLE" } }), vec![]),
        ] {
            let got = call(&c, "posts_list", args.clone()).await;
            assert_eq!(ids(&got), want, "{args}");
        }
    }
}

/// The same suite on the diesel-async executor (`--features diesel-async`), on PostgreSQL
/// and MySQL when their URLs are set.
#[cfg(feature = "diesel-async")]
mod async_backends {
    use super::*;

    pub(super) fn fixtures() -> Vec<Fixture> {
        #[allow(unused_mut)] // without `postgres` and `mysql`: none
        let mut out = Vec::new();
        #[cfg(feature = "postgres")]
        if let Ok(url) = std::env::var("MCP_TEST_POSTGRES_URL") {
            out.push(postgres(&url));
        }
        #[cfg(feature = "mysql")]
        if let Ok(url) = std::env::var("MCP_TEST_MYSQL_URL") {
            out.push(mysql(&url));
        }
        out
    }

    #[cfg(feature = "postgres")]
    fn postgres(url: &str) -> Fixture {
        let schema = unique();
        let mut admin = diesel::PgConnection::establish(url).expect("MCP_TEST_POSTGRES_URL: cannot connect");
        admin.batch_execute(&format!("CREATE SCHEMA {schema}")).unwrap();
        let sep = if url.contains('?') { '&' } else { '?' };
        let url = format!("{url}{sep}options=-csearch_path%3D{schema}");
        let mut setup = diesel::PgConnection::establish(&url).unwrap();
        seed(&mut setup, "SERIAL PRIMARY KEY", "TIMESTAMP", "");
        setup.batch_execute("SELECT setval('posts_id_seq', 12)").unwrap();
        let pool = mcp_diesel::async_postgres_pool(&url, 4).unwrap();
        Fixture {
            name: "PostgreSQL (diesel-async)",
            url,
            make: Box::new(move |opts| {
                server_on::<mcp_diesel::Async<diesel_async::AsyncPgConnection>>(pool.clone(), opts)
            }),
            cleanup: Some(Box::new(move || {
                let _ = admin.batch_execute(&format!("DROP SCHEMA {schema} CASCADE"));
            })),
        }
    }

    #[cfg(feature = "mysql")]
    fn mysql(url: &str) -> Fixture {
        let db = unique();
        let mut admin = diesel::MysqlConnection::establish(url).expect("MCP_TEST_MYSQL_URL: cannot connect");
        admin.batch_execute(&format!("CREATE DATABASE {db} CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci")).unwrap();
        let base = url.rsplit_once('/').map_or(url, |(b, _)| b);
        let url = format!("{base}/{db}");
        let mut setup = diesel::MysqlConnection::establish(&url).unwrap();
        seed(&mut setup, "INTEGER AUTO_INCREMENT PRIMARY KEY", "DATETIME", " ENGINE=InnoDB");
        let pool = mcp_diesel::async_mysql_pool(&url, 4).unwrap();
        Fixture {
            name: "MySQL (diesel-async)",
            url,
            make: Box::new(move |opts| {
                server_on::<mcp_diesel::Async<diesel_async::AsyncMysqlConnection>>(pool.clone(), opts)
            }),
            cleanup: Some(Box::new(move || {
                let _ = admin.batch_execute(&format!("DROP DATABASE {db}"));
            })),
        }
    }
}
