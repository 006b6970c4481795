//! The blog's own JSON API, the kind of REST routes an app already has, with its own
//! bearer-token authentication ([`AuthUser`]) and validation. `#[mcp_tool]` on each
//! handler and [`tools`] serve the same handlers to agents: a tool call becomes a request
//! through this router with the agent's `Authorization` header, so the same checks apply.
//!
//! | route | tool | who |
//! |---|---|---|
//! | `GET /api/posts?author_id=&limit=&offset=` | `get_api_posts` | everyone: published posts |
//! | `GET /api/posts/{id}` | `get_api_posts_id` | everyone: a published post; its author: a draft |
//! | `POST /api/posts` | `create_draft` | signed in with `posts:write`: a draft of their own (422 on invalid input) |
//! | `PATCH /api/posts/{id}` | `patch_api_posts_id` | the post's author, with `posts:write` (403 for others) |
//!
//! Writes need the `posts:write` scope twice over: the MCP endpoint checks it before a
//! tool call (the route tools' write scope), and the handlers check it for every request,
//! REST or MCP.

use axum::extract::{FromRequestParts, OptionalFromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use diesel::prelude::*;
use mcp_axum::RouteTools;
use mcp_core::mcp_tool;
use mcp_core::schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::models::Post;
use crate::schema::posts;
use crate::{AppState, Database, WRITE};
use mcp_axum::auth::AuthError;

/// Run a query on the blocking pool; not found is 404, anything else 500 (logged, not shown).
macro_rules! db {
    ($db:expr, |$conn:ident| $body:expr) => {
        query_result(blocking!($db, |$conn| -> QueryResult<_> { $body }))
    };
}

/// The routes of the JSON API.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/posts", get(list_posts).post(create_post))
        .route("/api/posts/{id}", get(get_post).patch(update_post))
}

/// The JSON API's handlers as MCP tools, called through the API's own router.
pub(crate) fn tools(state: AppState) -> RouteTools {
    RouteTools::new(routes().with_state(state))
        .get::<list_posts>("/api/posts")
        .get::<get_post>("/api/posts/{id}")
        .post::<create_post>("/api/posts")
        .patch::<update_post>("/api/posts/{id}")
        // Every tool that writes needs `posts:write`, like the model tools' writes.
        .write_scopes([WRITE])
}

/// An error of the API: a status and `{"error": message, ...}`.
#[derive(Debug)]
pub(crate) struct ApiError(StatusCode, Value);

impl ApiError {
    fn new(status: StatusCode, message: &str) -> Self {
        ApiError(status, json!({ "error": message }))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut r = (self.0, Json(self.1)).into_response();
        if self.0 == StatusCode::UNAUTHORIZED {
            r.headers_mut().insert(header::WWW_AUTHENTICATE, header::HeaderValue::from_static("Bearer realm=\"blog\""));
        }
        r
    }
}

/// The signed-in user of a REST request: the same authenticators as MCP (bearer tokens,
/// or JWT access tokens in OAuth mode), else 401.
#[derive(Clone, Debug)]
pub(crate) struct AuthUser(pub(crate) Me);

/// Who a request acts as.
#[derive(Clone, Debug)]
pub(crate) struct Me {
    /// Their author id.
    pub(crate) author_id: i32,
    /// The scopes of their token.
    pub(crate) scopes: Vec<String>,
}

impl Me {
    /// 403 unless the token carries `posts:write`.
    fn may_write(&self) -> Result<(), ApiError> {
        if self.scopes.iter().any(|s| s == WRITE) {
            Ok(())
        } else {
            Err(ApiError::new(
                StatusCode::FORBIDDEN,
                &format!("this token may only read: writing needs the `{WRITE}` scope"),
            ))
        }
    }
}

impl FromRequestParts<AppState> for AuthUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let principal = match state.auth.authenticate(parts).await {
            Ok(Some(p)) => p,
            Ok(None) => return Err(ApiError::new(StatusCode::UNAUTHORIZED, &AuthError::Missing.to_string())),
            Err(e) => return Err(ApiError::new(StatusCode::UNAUTHORIZED, &e.to_string())),
        };
        let author_id = principal.claims.get("author_id").and_then(Value::as_i64).and_then(|i| i32::try_from(i).ok());
        match author_id {
            Some(author_id) => Ok(AuthUser(Me { author_id, scopes: principal.scopes })),
            None => Err(ApiError::new(StatusCode::FORBIDDEN, "this user is not an author")),
        }
    }
}

impl OptionalFromRequestParts<AppState> for AuthUser {
    type Rejection = ApiError;

    /// No `Authorization` header: anonymous; a bad token is still 401.
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Option<Self>, ApiError> {
        if parts.headers.contains_key(header::AUTHORIZATION) {
            <AuthUser as FromRequestParts<AppState>>::from_request_parts(parts, state).await.map(Some)
        } else {
            Ok(None)
        }
    }
}

/// Which published posts to list.
#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(crate = "mcp_core::schemars")]
pub(crate) struct ListQuery {
    /// Only posts by this author.
    pub(crate) author_id: Option<i32>,
    /// At most this many (1 to 100, default 20).
    pub(crate) limit: Option<i64>,
    /// Skip this many.
    pub(crate) offset: Option<i64>,
}

/// Published posts, newest first.
#[mcp_tool]
pub(crate) async fn list_posts(
    State(state): State<AppState>,
    Query(q): Query<ListQuery>,
) -> Result<Json<Vec<Post>>, ApiError> {
    let limit = q.limit.unwrap_or(20).clamp(1, 100);
    let offset = q.offset.unwrap_or(0).max(0);
    let posts = db!(state.db, |conn| {
        let mut query = posts::table.filter(posts::published.eq(true)).into_boxed();
        if let Some(a) = q.author_id {
            query = query.filter(posts::author_id.eq(a));
        }
        query
            .order((posts::published_at.desc(), posts::id.desc()))
            .limit(limit)
            .offset(offset)
            .select(Post::as_select())
            .load(conn)
    })?;
    Ok(Json(posts))
}

/// One post: a published one, or a draft of the signed-in author.
#[mcp_tool]
pub(crate) async fn get_post(
    State(state): State<AppState>,
    user: Option<AuthUser>,
    Path(id): Path<i32>,
) -> Result<Json<Post>, ApiError> {
    let post = find(&state.db, id).await?;
    let mine = user.is_some_and(|AuthUser(u)| u.author_id == post.author_id);
    if post.published || mine { Ok(Json(post)) } else { Err(no_such_post()) }
}

/// A new post: a title and a text.
#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(crate = "mcp_core::schemars")]
pub(crate) struct NewPost {
    /// The title: 1 to 200 characters.
    pub(crate) title: String,
    /// The text (Markdown), not empty.
    pub(crate) body: String,
}

/// Changes to a post; absent fields stay.
#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(crate = "mcp_core::schemars")]
pub(crate) struct PostChanges {
    /// A new title: 1 to 200 characters.
    pub(crate) title: Option<String>,
    /// A new text, not empty.
    pub(crate) body: Option<String>,
}

/// Field errors as the API answers them: 422 `{"error": "...", "fields": {...}}`, by the
/// rules the model tools use too ([`Post::validate`]).
fn validate(title: Option<&str>, body: Option<&str>) -> Result<(), ApiError> {
    let mut values = serde_json::Map::new();
    values.extend(title.map(|t| ("title".to_owned(), Value::from(t))));
    values.extend(body.map(|b| ("body".to_owned(), Value::from(b))));
    let Err(errors) = Post::validate(&values) else { return Ok(()) };
    let fields: serde_json::Map<String, Value> = errors.fields().map(|(f, m)| (f.to_owned(), m.into())).collect();
    let names: Vec<String> = fields.iter().map(|(f, m)| format!("{f} {}", m.as_str().unwrap_or_default())).collect();
    Err(ApiError(
        StatusCode::UNPROCESSABLE_ENTITY,
        json!({ "error": format!("invalid post: {}", names.join("; ")), "fields": fields }),
    ))
}

/// Write a draft as the signed-in user.
#[mcp_tool(name = "create_draft", title = "Write a draft", destructive = false, scopes = "posts:write")]
pub(crate) async fn create_post(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    Json(new): Json<NewPost>,
) -> Result<(StatusCode, Json<Post>), ApiError> {
    user.may_write()?;
    validate(Some(&new.title), Some(&new.body))?;
    let post = db!(state.db, |conn| {
        diesel::insert_into(posts::table)
            .values((posts::author_id.eq(user.author_id), posts::title.eq(new.title.trim()), posts::body.eq(new.body)))
            .returning(Post::as_returning())
            .get_result(conn)
    })?;
    Ok((StatusCode::CREATED, Json(post)))
}

/// Change the title or text of one of your posts.
#[mcp_tool(destructive = false, idempotent)]
pub(crate) async fn update_post(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    Path(id): Path<i32>,
    Json(changes): Json<PostChanges>,
) -> Result<Json<Post>, ApiError> {
    user.may_write()?;
    let post = find(&state.db, id).await?;
    if post.author_id != user.author_id {
        return Err(if post.published {
            ApiError::new(StatusCode::FORBIDDEN, "only the author may change this post")
        } else {
            no_such_post()
        });
    }
    validate(changes.title.as_deref(), changes.body.as_deref())?;
    // One transaction: both fields change, or neither (and only while the post is still
    // this author's).
    let me = user.author_id;
    let post = db!(state.db, |conn| {
        conn.transaction(|conn| {
            let target = posts::table.find(id).filter(posts::author_id.eq(me));
            if let Some(t) = &changes.title {
                diesel::update(target).set(posts::title.eq(t.trim())).execute(conn)?;
            }
            if let Some(b) = &changes.body {
                diesel::update(target).set(posts::body.eq(b)).execute(conn)?;
            }
            target.select(Post::as_select()).first(conn)
        })
    })?;
    Ok(Json(post))
}

fn no_such_post() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "no such post")
}

async fn find(db: &Database, id: i32) -> Result<Post, ApiError> {
    db!(db, |conn| posts::table.find(id).select(Post::as_select()).first(conn))
}

/// What [`db!`] answers: not found is 404, anything else 500 (logged, not shown).
fn query_result<T>(
    result: Result<Result<QueryResult<T>, diesel::r2d2::PoolError>, tokio::task::JoinError>,
) -> Result<T, ApiError> {
    match result {
        Ok(Ok(Ok(value))) => Ok(value),
        Ok(Ok(Err(diesel::result::Error::NotFound))) => Err(no_such_post()),
        Ok(Ok(Err(other))) => {
            tracing::error!(error = %other, "database error");
            Err(ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "database error"))
        }
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "no database connection");
            Err(ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "busy"))
        }
        Err(e) => {
            tracing::error!(error = %e, "a database task failed");
            Err(ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "database error"))
        }
    }
}
