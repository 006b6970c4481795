//! The per-backend template, instantiated by hand (the way `#[mcp_toolset]` does), on a
//! real SQLite file.

#![allow(missing_docs)]
use diesel::prelude::*;
use mcp_diesel::filter::{FieldInfo, Kind};
use mcp_diesel::{Actions, ModelInfo};
use serde::Serialize;

diesel::table! {
    posts (id) {
        id -> Integer,
        title -> Text,
        summary -> Nullable<Text>,
        views -> BigInt,
        published -> Bool,
        owner -> Integer,
    }
}

#[derive(Queryable, Selectable, Serialize, mcp_core::schemars::JsonSchema)]
#[diesel(table_name = posts)]
#[schemars(crate = "mcp_core::schemars")]
struct Post {
    id: i32,
    title: String,
    summary: Option<String>,
    views: i64,
    published: bool,
    owner: i32,
}

impl ModelInfo for Post {
    type Key = i32;
    const NAME: &'static str = "posts";
    const FIELDS: &'static [FieldInfo] = &[
        FieldInfo::new("id", Kind::Integer),
        FieldInfo::new("title", Kind::Text),
        FieldInfo::nullable("summary", Kind::Text),
        FieldInfo::new("views", Kind::Integer),
        FieldInfo::new("published", Kind::Bool),
        FieldInfo::new("owner", Kind::Integer).hide(),
    ];
    const PRIMARY_KEY: usize = 0;
    const SEARCH: &'static [usize] = &[1, 2];
    const HIDDEN: &'static [&'static str] = &["owner"];
    const ACTIONS: Actions = Actions::READ;
    const DEFAULT_LIMIT: u32 = 20;
    const MAX_LIMIT: u32 = 100;
    const DESCRIPTION: &'static str = "blog posts";

    fn row_schema() -> serde_json::Map<String, serde_json::Value> {
        mcp_diesel::__private::row_schema::<Post>(Self::HIDDEN)
    }
}

mcp_diesel::__mcp_if_sqlite! {
    mcp_diesel::__mcp_model_query! {
        flavor = sqlite,
        conn = diesel::SqliteConnection,
        backend = diesel::sqlite::Sqlite,
        model = Post,
        table = posts::table,
        pk = posts::id : i32,
        fields = [
            0 : posts::id : ordered : notnull : i32,
            1 : posts::title : text : notnull : String,
            2 : posts::summary : text : null : String,
            3 : posts::views : ordered : notnull : i64,
            4 : posts::published : bool : notnull : bool,
            5 : posts::owner : ordered : notnull : i32,
        ],
        writes = [
            [1 : posts::title : notnull : String, 2 : posts::summary : null : String],
            [3 : posts::views : notnull : i64, 4 : posts::published : notnull : bool, 5 : posts::owner : notnull : i32],
        ],
        aggregate = {
            groups = [4 : posts::published : notnull : bool, 2 : posts::summary : null : String],
            sums = [3 : posts::views],
            ords = [1 : posts::title : notnull : String, 3 : posts::views : notnull : i64],
        },
        relations = [],
    }
}

#[test]
fn the_template_compiles_and_queries() {
    use mcp_diesel::filter::{Caps, parse};
    use mcp_diesel::{ListQuery, ModelQuery};
    use serde_json::json;

    let dir = std::env::temp_dir().join(format!("mcp-diesel-template-{}.db", std::process::id()));
    let _ = std::fs::remove_file(&dir);
    let pool = mcp_diesel::sqlite_pool(dir.to_str().unwrap(), 2).unwrap();
    let mut conn = pool.get().unwrap();
    diesel::sql_query(
        "CREATE TABLE posts (id INTEGER PRIMARY KEY, title TEXT NOT NULL, summary TEXT, views BIGINT NOT NULL, published BOOLEAN NOT NULL, owner INTEGER NOT NULL)",
    )
    .execute(&mut conn)
    .unwrap();
    diesel::sql_query(
        "INSERT INTO posts VALUES (1, 'Rust 100%', 'fast', 10, 1, 1), (2, 'rust_async', NULL, 20, 0, 2), (3, 'Go', 'Simple', 30, 1, 1)",
    )
    .execute(&mut conn)
    .unwrap();

    let f = |v| parse(&v, Post::FIELDS, &Caps::default(), false).unwrap();
    let q = |filter| ListQuery { filter, order: vec![(0, false)], limit: 10, offset: 0 };
    let ids = |rows: Vec<Post>| rows.into_iter().map(|p| p.id).collect::<Vec<_>>();
    let all = mcp_diesel::filter::Filter::all();

    assert_eq!(ids(Post::list(&mut conn, &q(f(json!({ "views__gte": 20 }))), &all).unwrap()), [2, 3]);
    // `contains` is case-sensitive and escapes LIKE wildcards; `icontains` is not.
    assert_eq!(ids(Post::list(&mut conn, &q(f(json!({ "title__contains": "Rust" }))), &all).unwrap()), [1]);
    assert_eq!(ids(Post::list(&mut conn, &q(f(json!({ "title__icontains": "RUST" }))), &all).unwrap()), [1, 2]);
    assert_eq!(ids(Post::list(&mut conn, &q(f(json!({ "title__contains": "100%" }))), &all).unwrap()), [1]);
    assert_eq!(ids(Post::list(&mut conn, &q(f(json!({ "title__contains": "t_a" }))), &all).unwrap()), [2]);
    assert_eq!(ids(Post::list(&mut conn, &q(f(json!({ "title__contains": "%" }))), &all).unwrap()), [1]);
    // NULL handling.
    assert_eq!(ids(Post::list(&mut conn, &q(f(json!({ "summary": null }))), &all).unwrap()), [2]);
    assert_eq!(ids(Post::list(&mut conn, &q(f(json!({ "summary__ne": "fast" }))), &all).unwrap()), [2, 3]);
    // Logic and ordering.
    let or = f(json!({ "$or": [{ "id": 1 }, { "published": false }] }));
    assert_eq!(ids(Post::list(&mut conn, &q(or), &all).unwrap()), [1, 2]);
    let not = f(json!({ "$not": { "id__in": [1, 2] } }));
    assert_eq!(ids(Post::list(&mut conn, &q(not), &all).unwrap()), [3]);
    let desc = ListQuery { filter: all.clone(), order: vec![(3, true), (0, false)], limit: 2, offset: 1 };
    assert_eq!(ids(Post::list(&mut conn, &desc, &all).unwrap()), [2, 1]);
    // Scope: an agent's `$or` cannot widen it.
    let scope = mcp_diesel::filter::parse_trusted(&json!({ "owner": 1 }), Post::FIELDS, false).unwrap();
    let wide = f(json!({ "$or": [{ "id": 2 }, { "id__gt": 0 }] }));
    assert_eq!(ids(Post::list(&mut conn, &q(wide), &scope).unwrap()), [1, 3]);
    assert_eq!(Post::count(&mut conn, &all, &scope).unwrap(), 2);
    assert!(Post::get(&mut conn, &json!(2), &scope).unwrap().is_none());
    assert_eq!(Post::get(&mut conn, &json!(3), &scope).unwrap().unwrap().title, "Go");
    // A value that does not fit its column is the agent's error, not the database's.
    let bad = Post::count(&mut conn, &f(json!({ "views__gt": "many" })), &all).unwrap_err();
    assert!(matches!(bad, mcp_diesel::QueryError::Filter(ref e) if e.0.contains("`views`")), "{bad:?}");
    drop(conn);
    let _ = std::fs::remove_file(&dir);
}
