//! A Diesel model with every kind of column, renamed fields and columns, skipped fields
//! of any type, and the attribute before or after the derives.
use diesel::prelude::*;
use mcp_core::mcp_toolset;
use mcp_core::schemars::JsonSchema;
use serde::Serialize;

diesel::table! {
    posts (id) {
        id -> Integer,
        title -> Text,
        views -> BigInt,
        data -> Binary,
        body_text -> Nullable<Text>,
        score -> Double,
        flag -> Bool,
        status -> Text,
    }
}

/// A status stored as text.
#[derive(Debug, Clone, Copy, Serialize, serde::Deserialize, JsonSchema, diesel::expression::AsExpression, diesel::deserialize::FromSqlRow)]
#[diesel(sql_type = diesel::sql_types::Text)]
#[schemars(crate = "mcp_core::schemars")]
enum Status {
    Draft,
    Published,
}

impl diesel::serialize::ToSql<diesel::sql_types::Text, diesel::sqlite::Sqlite> for Status {
    fn to_sql<'b>(&'b self, out: &mut diesel::serialize::Output<'b, '_, diesel::sqlite::Sqlite>) -> diesel::serialize::Result {
        out.set_value(match self {
            Status::Draft => "draft",
            Status::Published => "published",
        });
        Ok(diesel::serialize::IsNull::No)
    }
}

impl diesel::deserialize::FromSql<diesel::sql_types::Text, diesel::sqlite::Sqlite> for Status {
    fn from_sql(bytes: diesel::sqlite::SqliteValue<'_, '_, '_>) -> diesel::deserialize::Result<Self> {
        match <String as diesel::deserialize::FromSql<diesel::sql_types::Text, diesel::sqlite::Sqlite>>::from_sql(bytes)?.as_str() {
            "draft" => Ok(Status::Draft),
            "published" => Ok(Status::Published),
            other => Err(format!("unknown status {other}").into()),
        }
    }
}

/// Posts.
#[mcp_toolset(name = "articles", search(title, body), actions(list, get, create, patch, delete, aggregate), group_by(flag, status, body), max_limit = 500, default_limit = 50)]
#[derive(Queryable, Selectable, Serialize, JsonSchema)]
#[diesel(table_name = posts)]
#[serde(rename_all = "camelCase")]
#[schemars(crate = "mcp_core::schemars")]
struct Post {
    id: i32,
    title: String,
    #[serde(rename = "views_total")]
    views: i64,
    #[mcp(skip)]
    data: Vec<u8>,
    #[diesel(column_name = body_text)]
    body: Option<String>,
    score: f64,
    flag: bool,
    #[mcp(kind = "enum")]
    status: Status,
}

fn main() {
    use mcp_diesel::ModelInfo;
    assert_eq!(Post::NAME, "articles");
    let names: Vec<&str> = Post::FIELDS.iter().map(|f| f.name).collect();
    assert_eq!(names, ["id", "title", "views_total", "body", "score", "flag", "status"]);
    assert_eq!(Post::HIDDEN, ["data"]);
    assert_eq!(Post::SEARCH, [1, 3]);
    assert_eq!((Post::DEFAULT_LIMIT, Post::MAX_LIMIT), (50, 500));
    assert!(!Post::ACTIONS.count && !Post::ACTIONS.update && Post::ACTIONS.create && Post::ACTIONS.delete);
    // The generated integer key is not writable.
    assert_eq!(Post::WRITABLE, [1, 2, 3, 4, 5, 6]);
    assert!(Post::KEY_GENERATED);
    assert_eq!(Post::DESCRIPTION, "Posts.");
    let pool = mcp_diesel::sqlite_pool(":memory:", 1).unwrap();
    let _tools = mcp_diesel::ModelTools::<Post, diesel::SqliteConnection>::new(pool);
}
