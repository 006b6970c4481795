//! [`ModelTools`]: a model's tools over a connection pool.

use std::marker::PhantomData;
use std::sync::Arc;

use base64::Engine as _;
use mcp_core::protocol::{CallToolResult, StructuredContent, Tool, ToolAnnotations};
use mcp_core::server::{BoxFuture, Toolset};
use mcp_core::{Context, ToolError};
use serde_json::value::RawValue;
use serde_json::{Map, Value, json};

use crate::aggregate::{AggOp, AggQuery, Metric};
use crate::exec::{Db, Executor, ModelExec};
use crate::filter::{Caps, Condition, Filter, Kind, Op, RelatedFields, parse_related, parse_trusted_related};
use crate::model::{ListQuery, ModelInfo, QueryError};
use crate::row_json::{Extra, agent_value, row_content, write_row};

type ScopeFn = dyn Fn(&Context) -> Result<Value, ToolError> + Send + Sync;
type FilterFn = dyn Fn(&Context) -> Result<Filter, ToolError> + Send + Sync;

/// A declared relation made usable by [`ModelTools::related`]: the related model's
/// scope (relations resolved) and row schema.
#[derive(Clone)]
struct Related {
    /// Index in `M::RELATIONS`.
    index: usize,
    scope: Arc<FilterFn>,
    row_schema: fn() -> Map<String, Value>,
}
type WriteHook = dyn Fn(&Context, WriteAction, &mut Map<String, Value>) -> Result<(), ToolError> + Send + Sync;

/// Which write a [`ModelTools::before_write`] hook is looking at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum WriteAction {
    /// `<name>_create`.
    Create,
    /// `<name>_update` (every writable field given; absent nullable ones become null).
    Update,
    /// `<name>_patch` (only the fields given).
    Patch,
}

/// A model's server-side hooks written as methods of a toolset:
/// `#[mcp_toolset(model = Post)] impl PostTools { fn scope(&self, ctx: &Context) -> ... }`
/// implements it (the methods it finds: `scope`, `write_scope`, `before_write`, with the
/// signatures of [`ModelTools::scope`], [`ModelTools::write_scope`] and
/// [`ModelTools::before_write`]); [`ModelTools::hooks`] installs them.
pub trait ModelHooks: Send + Sync + 'static {
    /// The model the hooks are for.
    type Model: ModelInfo;
    /// Whether [`ModelHooks::scope`] is defined.
    const SCOPE: bool = false;
    /// Whether [`ModelHooks::write_scope`] is defined.
    const WRITE_SCOPE: bool = false;
    /// Whether [`ModelHooks::before_write`] is defined.
    const BEFORE_WRITE: bool = false;

    /// The read scope, as for [`ModelTools::scope`].
    fn scope(&self, ctx: &Context) -> Result<Value, ToolError> {
        let _ = ctx;
        Ok(Value::Null)
    }
    /// The write scope, as for [`ModelTools::write_scope`].
    fn write_scope(&self, ctx: &Context) -> Result<Value, ToolError> {
        let _ = ctx;
        Ok(Value::Null)
    }
    /// The write hook, as for [`ModelTools::before_write`].
    fn before_write(
        &self,
        ctx: &Context,
        action: WriteAction,
        values: &mut Map<String, Value>,
    ) -> Result<(), ToolError> {
        let _ = (ctx, action, values);
        Ok(())
    }
}

/// The tools of model `M` (`<name>_list`, `<name>_get`, `<name>_count`) over a pool of
/// the [`Executor`] `C`: a Diesel connection type (`SqliteConnection`, `PgConnection`,
/// `MysqlConnection`), whose queries run on the blocking thread pool, at most as many at
/// once as the r2d2 pool has connections; or, with the `diesel-async` feature,
/// `Async<AsyncPgConnection>` / `Async<AsyncMysqlConnection>` on a deadpool pool.
///
/// ```no_run
/// # fn doc<M: mcp_diesel::ModelQuery<diesel::SqliteConnection>>(pool: mcp_diesel::SqlitePool) {
/// use serde_json::json;
/// let tools = mcp_diesel::ModelTools::<M, _>::new(pool)
///     // Every query of every tool is limited to what the caller may see.
///     .scope(|ctx| Ok(json!({ "$or": [
///         { "published": true },
///         { "author_id": ctx.principal().map(|p| p.subject.clone()) },
///     ] })));
/// # }
/// ```
pub struct ModelTools<M, C: Executor> {
    db: Db<C>,
    scope: Option<Arc<ScopeFn>>,
    write_scope: Option<Arc<ScopeFn>>,
    before_write: Option<Arc<WriteHook>>,
    related: Vec<Related>,
    caps: Caps,
    budget: usize,
    actions: Vec<Action>,
    /// OAuth scopes per action.
    scopes: Vec<(Action, String)>,
    _model: PhantomData<fn() -> M>,
}

impl<M, C: Executor> Clone for ModelTools<M, C> {
    /// Another handle on the same pool, limits and hooks (for [`crate::QueryTool`]).
    fn clone(&self) -> Self {
        ModelTools {
            db: self.db.clone(),
            scope: self.scope.clone(),
            write_scope: self.write_scope.clone(),
            before_write: self.before_write.clone(),
            related: self.related.clone(),
            caps: self.caps,
            budget: self.budget,
            actions: self.actions.clone(),
            scopes: self.scopes.clone(),
            _model: PhantomData,
        }
    }
}

impl<M: ModelExec<C>, C: Executor> crate::query::Collection for ModelTools<M, C> {
    fn name(&self) -> &'static str {
        M::NAME
    }

    fn describe(&self) -> String {
        field_list::<M>(M::REGEX)
    }

    fn can_group(&self) -> bool {
        M::ACTIONS.aggregate
    }

    fn relations(&self) -> Vec<crate::Relation> {
        self.related.iter().map(|r| M::RELATIONS[r.index]).collect()
    }

    fn list<'a>(
        &'a self,
        args: Map<String, Value>,
        ctx: &'a Context,
    ) -> BoxFuture<'a, Result<CallToolResult, ToolError>> {
        Box::pin(async move {
            self.check_read_scopes(ctx)?;
            ModelTools::list(self, args, ctx).await
        })
    }

    fn count<'a>(
        &'a self,
        args: Map<String, Value>,
        ctx: &'a Context,
    ) -> BoxFuture<'a, Result<CallToolResult, ToolError>> {
        Box::pin(async move {
            self.check_read_scopes(ctx)?;
            ModelTools::count(self, args, ctx).await
        })
    }

    fn aggregate<'a>(
        &'a self,
        args: Map<String, Value>,
        ctx: &'a Context,
    ) -> BoxFuture<'a, Result<CallToolResult, ToolError>> {
        Box::pin(async move {
            self.check_read_scopes(ctx)?;
            ModelTools::aggregate(self, args, ctx).await
        })
    }
}

impl<M, C: Executor> std::fmt::Debug for ModelTools<M, C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ModelTools")
            .field("actions", &self.actions)
            .field("budget", &self.budget)
            .finish_non_exhaustive()
    }
}

/// One generated tool of a model, for [`ModelTools::scopes`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Action {
    /// `<name>_list`.
    List,
    /// `<name>_get`.
    Get,
    /// `<name>_count`.
    Count,
    /// `<name>_create`.
    Create,
    /// `<name>_update`.
    Update,
    /// `<name>_patch`.
    Patch,
    /// `<name>_delete`.
    Delete,
    /// `<name>_aggregate`.
    Aggregate,
}

impl<M: ModelExec<C>, C: Executor> ModelTools<M, C> {
    /// The model's tools over `pool` (an r2d2 pool of Diesel connections, or with the
    /// `diesel-async` feature a deadpool pool of async ones: the pool's type decides `C`,
    /// so `ModelTools::<Post, _>::new(pool)` is enough).
    pub fn new<P: crate::exec::ModelPool<Executor = C>>(pool: P) -> Self {
        Self::with_pool(pool.into_executor_pool())
    }

    /// [`ModelTools::new`] for code generic over the executor `C`.
    pub fn with_pool(pool: C::Pool) -> Self {
        let a = M::ACTIONS;
        let actions = [
            (a.list, Action::List),
            (a.get, Action::Get),
            (a.count, Action::Count),
            (a.create, Action::Create),
            (a.update, Action::Update),
            (a.patch, Action::Patch),
            (a.delete, Action::Delete),
            (a.aggregate, Action::Aggregate),
        ]
        .into_iter()
        .filter_map(|(on, action)| on.then_some(action))
        .collect();
        ModelTools {
            db: Db::new(pool),
            scope: None,
            write_scope: None,
            before_write: None,
            related: Vec::new(),
            caps: Caps::default(),
            budget: 32 * 1024,
            actions,
            scopes: Vec::new(),
            _model: PhantomData,
        }
    }

    /// Require OAuth `scopes` for the tool of `action`: callers whose token lacks them do
    /// not see the tool, and calling it gets `403` with a scope challenge over HTTP.
    pub fn scopes<I: IntoIterator<Item = S>, S: Into<String>>(mut self, action: Action, scopes: I) -> Self {
        self.scopes.extend(scopes.into_iter().map(|s| (action, s.into())));
        self
    }

    /// Require `scopes` for every reading tool (list, get, count, aggregate) and for this
    /// model's collection in [`crate::QueryTool`] pipelines.
    pub fn read_scopes<I: IntoIterator<Item = S>, S: Into<String>>(mut self, scopes: I) -> Self {
        let scopes: Vec<String> = scopes.into_iter().map(Into::into).collect();
        for a in [Action::List, Action::Get, Action::Count, Action::Aggregate] {
            self = self.scopes(a, scopes.iter().cloned());
        }
        self
    }

    /// Require `scopes` for every writing tool (create, update, patch, delete).
    pub fn write_scopes<I: IntoIterator<Item = S>, S: Into<String>>(mut self, scopes: I) -> Self {
        let scopes: Vec<String> = scopes.into_iter().map(Into::into).collect();
        for a in [Action::Create, Action::Update, Action::Patch, Action::Delete] {
            self = self.scopes(a, scopes.iter().cloned());
        }
        self
    }

    /// In a pipeline of [`crate::QueryTool`], reading this model needs the list tool's scopes.
    fn check_read_scopes(&self, ctx: &Context) -> Result<(), ToolError> {
        let missing: Vec<&str> = self
            .scopes
            .iter()
            .filter(|(a, s)| *a == Action::List && !ctx.principal().is_some_and(|p| p.has_scope(s)))
            .map(|(_, s)| s.as_str())
            .collect();
        if missing.is_empty() {
            return Ok(());
        }
        Err(ToolError::forbidden(format!(
            "reading `{}` needs the scope(s) {}, which the access token was not granted",
            M::NAME,
            missing.iter().map(|s| format!("`{s}`")).collect::<Vec<_>>().join(", ")
        )))
    }

    /// Limit every query of every tool to the rows the caller may see: `scope` returns a
    /// filter in the same language agents use (hidden fields allowed), which is combined
    /// with the agent's filter by `AND` — an agent's `$or` cannot widen it. Rows outside
    /// it do not exist for the caller ("not found", never "forbidden").
    pub fn scope(mut self, scope: impl Fn(&Context) -> Result<Value, ToolError> + Send + Sync + 'static) -> Self {
        self.scope = Some(Arc::new(scope));
        self
    }

    /// A narrower scope for writes (update, patch, delete, and the re-read of a created
    /// row), ANDed with [`ModelTools::scope`]: for example everyone reads published posts
    /// but changes only their own. A write to a row the caller may read but not change is
    /// refused as "not yours to change"; rows outside the read scope stay "not found".
    pub fn write_scope(mut self, scope: impl Fn(&Context) -> Result<Value, ToolError> + Send + Sync + 'static) -> Self {
        self.write_scope = Some(Arc::new(scope));
        self
    }

    /// Look at (and change) the values of a create, update or patch before they are
    /// written: set fields agents may not (hidden or `read_only` ones, such as the owner),
    /// or refuse the write with an error the agent sees. Values are keyed by field name;
    /// they are checked against the columns after the hook.
    ///
    /// ```no_run
    /// # fn doc<M: mcp_diesel::ModelQuery<diesel::SqliteConnection>>(pool: mcp_diesel::SqlitePool) {
    /// use mcp_core::ToolError;
    /// use mcp_diesel::WriteAction;
    /// let tools = mcp_diesel::ModelTools::<M, _>::new(pool).before_write(|ctx, action, values| {
    ///     if action == WriteAction::Create {
    ///         let user = ctx.principal().ok_or_else(|| ToolError::forbidden("sign in first"))?;
    ///         values.insert("author_id".into(), user.subject.clone().into());
    ///     }
    ///     Ok(())
    /// });
    /// # }
    /// ```
    pub fn before_write(
        mut self,
        hook: impl Fn(&Context, WriteAction, &mut Map<String, Value>) -> Result<(), ToolError> + Send + Sync + 'static,
    ) -> Self {
        self.before_write = Some(Arc::new(hook));
        self
    }

    /// Install the hooks an `#[mcp_toolset(model = ...)]` impl block defines (its `scope`,
    /// `write_scope` and `before_write` methods); serve the block itself as a toolset for
    /// its `#[mcp_tool]` methods.
    pub fn hooks<H: ModelHooks<Model = M>>(mut self, hooks: H) -> Self {
        let hooks = Arc::new(hooks);
        if H::SCOPE {
            let h = hooks.clone();
            self = self.scope(move |ctx| h.scope(ctx));
        }
        if H::WRITE_SCOPE {
            let h = hooks.clone();
            self = self.write_scope(move |ctx| h.write_scope(ctx));
        }
        if H::BEFORE_WRITE {
            self = self.before_write(move |ctx, action, values| hooks.before_write(ctx, action, values));
        }
        self
    }

    /// Limits on agents' filters.
    pub fn caps(mut self, caps: Caps) -> Self {
        self.caps = caps;
        self
    }

    /// Most bytes of rows in one answer (default 32 KiB); a page stops early when full and
    /// says so (`truncated`, `has_more`, `next_cursor`).
    pub fn byte_budget(mut self, bytes: usize) -> Self {
        self.budget = bytes.max(256);
        self
    }

    /// How long a statement may take (default [`crate::STATEMENT_TIMEOUT`]), timed from
    /// when it has a connection. A read past it is abandoned and the tool says so (on
    /// SQLite, which cannot interrupt a statement, the statement runs on to its end while
    /// its connection and its share of the pool stay taken; see [`crate::sqlite_pool`]).
    /// A write is never abandoned: the database enforces the limit (PostgreSQL
    /// `statement_timeout` and `lock_timeout`, MySQL/MariaDB lock wait timeouts and
    /// `max_statement_time`, SQLite `busy_timeout`) and rolls the write back, and the tool
    /// answers once the database has decided, with what happened.
    pub fn statement_timeout(mut self, timeout: std::time::Duration) -> Self {
        self.db.wait = timeout;
        self
    }

    /// How long a tool waits for a free connection (default [`crate::POOL_TIMEOUT`]). Past
    /// it nothing was sent to the database: the tool says the server is busy and the call
    /// may be retried.
    pub fn pool_timeout(mut self, timeout: std::time::Duration) -> Self {
        self.db.pool_wait = timeout;
        self
    }

    /// Make the declared relations of `M` to `R` usable (in filters, `include` and the
    /// `query` tool's `$lookup`), through the scope of `tools`, the tools of `R` you serve:
    /// related rows outside that scope do not exist through the relation (an include gives
    /// `null` or leaves them out of the list; a filter does not match them). Relations to
    /// models not given here are unknown to agents.
    ///
    /// ```no_run
    /// # fn doc<P, A>(pool: mcp_diesel::SqlitePool)
    /// # where P: mcp_diesel::ModelQuery<diesel::SqliteConnection>, A: mcp_diesel::ModelQuery<diesel::SqliteConnection> {
    /// use serde_json::json;
    /// let authors = mcp_diesel::ModelTools::<A, _>::new(pool.clone()).scope(|_| Ok(json!({ "active": true })));
    /// let posts = mcp_diesel::ModelTools::<P, _>::new(pool).related(&authors);
    /// # }
    /// ```
    ///
    /// # Panics
    ///
    /// When `M` declares no relation to `R` (a mistake in the server's setup).
    pub fn related<R: ModelExec<C>>(mut self, tools: &ModelTools<R, C>) -> Self {
        let mut found = false;
        for (index, rel) in M::RELATIONS.iter().enumerate() {
            if rel.model != R::NAME {
                continue;
            }
            found = true;
            let other = tools.clone();
            let related = Related {
                index,
                scope: Arc::new(move |ctx: &Context| other.scope_filter(ctx)),
                row_schema: R::row_schema,
            };
            self.related.retain(|r| r.index != index);
            self.related.push(related);
        }
        assert!(found, "{} declares no relation to {}; see `relations(...)` on its `#[mcp_toolset]`", M::NAME, R::NAME);
        self.related.sort_by_key(|r| r.index);
        self
    }

    /// The relations agents may use, for the filter parser.
    fn related_fields(&self) -> Vec<RelatedFields<'static>> {
        self.related
            .iter()
            .map(|r| {
                let rel = &M::RELATIONS[r.index];
                RelatedFields { name: rel.name, index: r.index, fields: rel.fields }
            })
            .collect()
    }

    /// The scope of the related model of relation `index` (only usable ones are parsed).
    fn related_scope(&self, index: usize, ctx: &Context) -> Result<Filter, ToolError> {
        match self.related.iter().find(|r| r.index == index) {
            Some(r) => (r.scope)(ctx),
            None => Err(ToolError::internal(format!(
                "server misconfigured: relation #{index} of {} is not set up",
                M::NAME
            ))),
        }
    }

    /// `f` with the related model's scope ANDed into every condition on related rows.
    fn resolve(&self, f: Filter, ctx: &Context) -> Result<Filter, ToolError> {
        Ok(match f {
            Filter::And(v) => Filter::And(v.into_iter().map(|p| self.resolve(p, ctx)).collect::<Result<_, _>>()?),
            Filter::Or(v) => Filter::Or(v.into_iter().map(|p| self.resolve(p, ctx)).collect::<Result<_, _>>()?),
            Filter::Not(inner) => Filter::Not(Box::new(self.resolve(*inner, ctx)?)),
            Filter::Related { relation, filter } => Filter::Related {
                relation,
                filter: Box::new(Filter::And(vec![*filter, self.related_scope(relation, ctx)?])),
            },
            leaf @ Filter::Leaf(_) => leaf,
        })
    }

    /// The agent's `filter` and `search`, with related scopes applied.
    fn agent_filter(&self, args: &Map<String, Value>, ctx: &Context) -> Result<Filter, ToolError> {
        let f = filter_and_search::<M>(args, &self.related_fields(), &self.caps, M::REGEX)?;
        self.resolve(f, ctx)
    }

    fn scope_filter(&self, ctx: &Context) -> Result<Filter, ToolError> {
        self.apply(self.scope.as_deref(), ctx)
    }

    /// The scope of writes: the read scope AND the write scope.
    fn write_scope_filter(&self, ctx: &Context) -> Result<Filter, ToolError> {
        let read = self.scope_filter(ctx)?;
        match self.write_scope.as_deref() {
            None => Ok(read),
            Some(w) => Ok(Filter::And(vec![read, self.apply(Some(w), ctx)?])),
        }
    }

    fn apply(&self, scope: Option<&ScopeFn>, ctx: &Context) -> Result<Filter, ToolError> {
        match scope {
            None => Ok(Filter::all()),
            Some(f) => {
                let v = f(ctx)?;
                let parsed = parse_trusted_related(&v, M::FIELDS, &self.related_fields(), false).map_err(|e| {
                    let idle: Vec<String> = M::RELATIONS
                        .iter()
                        .enumerate()
                        .filter(|(i, _)| !self.related.iter().any(|r| r.index == *i))
                        .map(|(_, r)| format!("`{}`", r.name))
                        .collect();
                    let hint = if idle.is_empty() {
                        String::new()
                    } else {
                        format!(" (relations not set up with `ModelTools::related`: {})", idle.join(", "))
                    };
                    ToolError::internal(format!("server misconfigured: invalid scope: {e}{hint}"))
                })?;
                self.resolve(parsed, ctx)
            }
        }
    }

    /// The `include` argument: usable relation indices, with their scopes.
    fn includes(&self, args: &Map<String, Value>, ctx: &Context) -> Result<Vec<(usize, Filter)>, ToolError> {
        let names = || {
            let list: Vec<String> = self.related.iter().map(|r| format!("`{}`", M::RELATIONS[r.index].name)).collect();
            if list.is_empty() {
                "this model has no relations to include".to_owned()
            } else {
                format!("the relations are {}", list.join(", "))
            }
        };
        let items = match args.get("include") {
            None | Some(Value::Null) => return Ok(Vec::new()),
            Some(Value::Array(a)) => a,
            Some(_) => {
                return Err(ToolError::invalid_arguments(format!(
                    "`include` must be a list of relation names; {}",
                    names()
                )));
            }
        };
        let mut out: Vec<(usize, Filter)> = Vec::new();
        for item in items {
            let found = item
                .as_str()
                .and_then(|n| self.related.iter().find(|r| M::RELATIONS[r.index].name == n))
                .ok_or_else(|| ToolError::invalid_arguments(format!("cannot include {item}; {}", names())))?;
            if !out.iter().any(|(i, _)| *i == found.index) {
                out.push((found.index, (found.scope)(ctx)?));
            }
        }
        Ok(out)
    }
}

/// The database's own message may contain SQL: it goes to the log for operators, never to
/// the agent.
pub(crate) fn log_failure(e: &dyn std::fmt::Display) {
    tracing::warn!(error = %e, "mcp-diesel query failed");
}

pub(crate) fn query_error<M: ModelInfo>(e: QueryError) -> ToolError {
    use diesel::result::{DatabaseErrorKind as Kind, Error};
    match e {
        QueryError::Filter(f) => ToolError::invalid_arguments(f.0),
        QueryError::OutsideScope => ToolError::invalid_arguments(format!(
            "the {} row would be outside what you may see and change; nothing was written",
            M::NAME
        )),
        QueryError::Unsupported(action) => ToolError::internal(format!("{} has no {action} action", M::NAME)),
        QueryError::Database(Error::DatabaseError(kind, info)) => {
            log_failure(&info.message());
            let what = constraint_subject::<M>(&*info);
            match kind {
                Kind::UniqueViolation => ToolError::conflict(format!(
                    "another {} row already has this {what}; choose a different value",
                    M::NAME
                )),
                Kind::ForeignKeyViolation => ToolError::invalid_arguments(format!(
                    "the {what} refers to a row that does not exist (or is still referred to by other rows)"
                )),
                Kind::NotNullViolation => ToolError::invalid_arguments(format!("a value is required ({what})")),
                Kind::CheckViolation => ToolError::invalid_arguments(format!("the {what} breaks a rule of the table")),
                _ => ToolError::internal("the database could not run the query; try again or simplify the filter"),
            }
        }
        QueryError::Database(d) => {
            log_failure(&d);
            ToolError::internal("the database could not run the query; try again or simplify the filter")
        }
    }
}

/// What a constraint is about, in words an agent can use: a visible field's name when the
/// database names its column, else the constraint's name, never a hidden field.
fn constraint_subject<M: ModelInfo>(info: &dyn diesel::result::DatabaseErrorInformation) -> String {
    let message = info.message();
    // PostgreSQL names the column or constraint; SQLite says
    // "UNIQUE constraint failed: posts.title"; MySQL "Duplicate entry '..' for key 'title'".
    let mut candidates: Vec<String> = Vec::new();
    candidates.extend(info.column_name().map(str::to_owned));
    candidates.extend(info.constraint_name().map(str::to_owned));
    if let Some(rest) = message.split("failed: ").nth(1) {
        candidates.extend(rest.split(", ").map(|c| c.rsplit('.').next().unwrap_or(c).trim().to_owned()));
    }
    if let Some(rest) = message.split("for key '").nth(1) {
        candidates.extend(rest.split('\'').next().map(|k| k.rsplit('.').next().unwrap_or(k).to_owned()));
    }
    if let Some(rest) = message.split("column '").nth(1) {
        candidates.extend(rest.split('\'').next().map(str::to_owned));
    }
    let visible: Vec<&str> = M::FIELDS.iter().filter(|f| !f.hidden).map(|f| f.name).collect();
    let hidden: Vec<&str> = M::FIELDS.iter().filter(|f| f.hidden).map(|f| f.name).collect();
    let mut named: Vec<&str> = Vec::new();
    for c in &candidates {
        for v in &visible {
            if (c == v || c.contains(&format!("_{v}_")) || c.ends_with(&format!("_{v}"))) && !named.contains(v) {
                named.push(v);
            }
        }
    }
    if !named.is_empty() {
        let list: Vec<String> = named.iter().map(|n| format!("`{n}`")).collect();
        return format!("value of {}", list.join(" and "));
    }
    match candidates.first() {
        Some(c) if !hidden.iter().any(|h| c.contains(h)) && !c.contains(' ') => format!("value (constraint `{c}`)"),
        _ => "value".to_owned(),
    }
}

fn field_list<M: ModelInfo>(regex: bool) -> String {
    fields_doc(M::FIELDS, regex)
}

fn fields_doc(fields: &[crate::filter::FieldInfo], regex: bool) -> String {
    fields
        .iter()
        .filter(|f| !f.hidden)
        .map(|f| {
            let ops: Vec<&str> = f.operators().iter().filter(|o| **o != Op::Regex || regex).map(|o| o.name()).collect();
            format!(
                "- `{}` ({}{}): {}",
                f.name,
                f.kind.describe(),
                if f.nullable { ", nullable" } else { "" },
                ops.join(", ")
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn filter_description<M: ModelInfo>(regex: bool) -> String {
    format!(
        "Which rows. Keys are `field` (equals), `field__op` (Django style) or `field: {{\"$op\": value}}` (Mongo \
         style); combine with `$and`, `$or`, `$nor` (lists of filters) and `$not`. Fields and their operators:\n{}\n\
         Examples: {}.",
        field_list::<M>(regex),
        filter_examples::<M>()
    )
}

/// Filter examples with this model's own fields: a text search, a key list, an `$or`.
fn filter_examples<M: ModelInfo>() -> String {
    let visible = || M::FIELDS.iter().filter(|f| !f.hidden);
    let key = M::FIELDS[M::PRIMARY_KEY].name;
    let mut out = Vec::new();
    if let Some(text) = visible().find(|f| f.kind == Kind::Text) {
        out.push(format!("{{\"{}__icontains\": \"rust\"}}", text.name));
    }
    if M::FIELDS[M::PRIMARY_KEY].kind == Kind::Integer {
        out.push(format!("{{\"{key}\": {{\"$in\": [1, 2]}}}}"));
        out.push(format!("{{\"$or\": [{{\"{key}__lt\": 10}}, {{\"{key}__gt\": 90}}]}}"));
    }
    if let Some(flag) = visible().find(|f| f.kind == Kind::Bool) {
        out.push(format!("{{\"{}\": true}}", flag.name));
    }
    out.join(", ")
}

fn visible_names<M: ModelInfo>() -> Vec<&'static str> {
    M::FIELDS.iter().filter(|f| !f.hidden).map(|f| f.name).collect()
}

impl<M: ModelExec<C>, C: Executor> ModelTools<M, C> {
    /// How to filter through the usable relations, for the `filter` description.
    fn relations_doc(&self) -> String {
        if self.related.is_empty() {
            return String::new();
        }
        let mut out = String::from(
            "\nThrough relations (related rows you may see): `relation.field__op`, `relation.field: {\"$op\": value}` \
             or `relation: {filter}`",
        );
        for r in &self.related {
            let rel = &M::RELATIONS[r.index];
            let how = if rel.many { "true when any of its rows matches" } else { "its one row" };
            out.push_str(&format!(
                "\n`{}` ({}, {how}):\n{}",
                rel.name,
                rel.model,
                fields_doc(rel.fields, M::REGEX).replace("- `", &format!("- `{}.", rel.name))
            ));
        }
        out
    }

    /// The `include` argument's schema, when relations are usable.
    fn include_prop(&self) -> Option<Value> {
        if self.related.is_empty() {
            return None;
        }
        let names: Vec<&str> = self.related.iter().map(|r| M::RELATIONS[r.index].name).collect();
        let about: Vec<String> = self
            .related
            .iter()
            .map(|r| {
                let rel = &M::RELATIONS[r.index];
                if rel.many {
                    format!("`{}` (a list of {} rows, at most {} per row)", rel.name, rel.model, rel.most)
                } else {
                    format!("`{}` (one {} row, or null)", rel.name, rel.model)
                }
            })
            .collect();
        Some(json!({ "type": "array", "items": { "type": "string", "enum": names }, "uniqueItems": true,
                     "description": format!("Related rows to attach to each row, under the relation's name: {}", about.join(", ")) }))
    }

    /// The row schema with the includable relations as optional properties.
    fn row_schema_with_relations(&self) -> Map<String, Value> {
        let mut row = M::row_schema();
        for r in &self.related {
            let rel = &M::RELATIONS[r.index];
            let mut theirs = (r.row_schema)();
            theirs.remove("$schema");
            if let Some(Value::Object(defs)) = theirs.remove("$defs") {
                let ours = row.entry("$defs").or_insert_with(|| json!({}));
                if let Value::Object(ours) = ours {
                    for (k, v) in defs {
                        ours.entry(k).or_insert(v);
                    }
                }
            }
            let schema = if rel.many {
                json!({ "type": "array", "items": theirs })
            } else {
                json!({ "anyOf": [theirs, { "type": "null" }] })
            };
            if let Some(Value::Object(props)) = row.get_mut("properties") {
                props.insert(rel.name.to_owned(), schema);
            }
        }
        row
    }

    /// `filter` and, when the model has search fields, `search`: the arguments of every
    /// reading tool.
    fn filter_props(&self) -> Map<String, Value> {
        let mut props = Map::new();
        props.insert(
            "filter".into(),
            json!({ "type": "object", "description": format!("{}{}", filter_description::<M>(M::REGEX), self.relations_doc()) }),
        );
        if !M::SEARCH.is_empty() {
            let searched: Vec<&str> = M::SEARCH.iter().map(|i| M::FIELDS[*i].name).collect();
            props.insert(
                "search".into(),
                json!({ "type": "string", "maxLength": self.caps.max_pattern_len,
                        "description": format!("Words that must all appear (any case) in {}", searched.join(" or ")) }),
            );
        }
        props
    }

    fn list_tool(&self) -> Tool {
        let names = visible_names::<M>();
        let order_values: Vec<String> = M::FIELDS
            .iter()
            .filter(|f| !f.hidden && f.kind.is_ordered())
            .flat_map(|f| [f.name.to_owned(), format!("-{}", f.name)])
            .collect();
        let mut props = self.filter_props();
        props.insert(
            "order_by".into(),
            json!({ "type": "array", "items": { "type": "string", "enum": order_values }, "maxItems": 5,
                    "description": "Sort keys, `-` for descending; the primary key is appended as a tie-breaker" }),
        );
        props.insert(
            "fields".into(),
            json!({ "type": "array", "items": { "type": "string", "enum": names }, "description": "Only these fields in each row (default: all)" }),
        );
        props.insert(
            "limit".into(),
            json!({ "type": "integer", "minimum": 1, "maximum": M::MAX_LIMIT, "description": format!("Rows per page (default {})", M::DEFAULT_LIMIT) }),
        );
        props.insert("offset".into(), json!({ "type": "integer", "minimum": 0, "description": "Rows to skip" }));
        props.insert(
            "cursor".into(),
            json!({ "type": "string", "description": "`next_cursor` of the previous page (keep the same `order_by`); pages stay right when rows are added or removed meanwhile" }),
        );
        props.insert(
            "include_total".into(),
            json!({ "type": "boolean", "description": "Also count all matching rows" }),
        );
        if let Some(include) = self.include_prop() {
            props.insert("include".into(), include);
        }
        let input = json!({ "type": "object", "properties": props, "additionalProperties": false });
        // A row of a page: `fields` may leave out any field, so none is required (the rows
        // of `get`, `create` and the writes keep theirs). Its `$defs` move to the root,
        // where its `$ref`s point.
        let mut row = self.row_schema_with_relations();
        let defs = row.remove("$defs");
        row.remove("required");
        row.insert(
            "description".into(),
            json!(format!(
                "A row of {}: every field, or those `fields` names; included relations under their names",
                M::NAME
            )),
        );
        let mut output = json!({
            "type": "object",
            "properties": {
                "items": { "type": "array", "items": Value::Object(row) },
                "returned": { "type": "integer" },
                "total": { "type": "integer" },
                "has_more": { "type": "boolean" },
                "next_cursor": { "type": "string" },
                "truncated": { "type": "boolean" },
            },
            "required": ["items", "returned", "has_more", "truncated"],
        });
        if let Some(defs) = defs {
            output["$defs"] = defs;
        }
        Tool::new(format!("{}_list", M::NAME))
            .title(format!("List {}", M::NAME))
            .description(format!(
                "List {} ({}), filtered, searched, sorted and paginated.",
                M::NAME,
                M::DESCRIPTION.trim()
            ))
            .input_schema(input)
            .output_schema(output)
            .annotations(read_only())
    }

    fn get_tool(&self) -> Tool {
        let pk = &M::FIELDS[M::PRIMARY_KEY];
        let row = self.row_schema_with_relations();
        let pk_schema = field_schema(&row, pk.name);
        let mut props = Map::new();
        props.insert(pk.name.into(), pk_schema);
        if let Some(include) = self.include_prop() {
            props.insert("include".into(), include);
        }
        let input =
            json!({ "type": "object", "properties": props, "required": [pk.name], "additionalProperties": false });
        Tool::new(format!("{}_get", M::NAME))
            .title(format!("Get one of {}", M::NAME))
            .description(format!("One row of {} ({}) by `{}`.", M::NAME, M::DESCRIPTION.trim(), pk.name))
            .input_schema(input)
            .output_schema(Value::Object(row))
            .annotations(read_only())
    }

    fn count_tool(&self) -> Tool {
        let props = self.filter_props();
        Tool::new(format!("{}_count", M::NAME))
            .title(format!("Count {}", M::NAME))
            .description(format!("How many {} ({}) match a filter.", M::NAME, M::DESCRIPTION.trim()))
            .input_schema(json!({ "type": "object", "properties": props, "additionalProperties": false }))
            .output_schema(
                json!({ "type": "object", "properties": { "count": { "type": "integer" } }, "required": ["count"] }),
            )
            .annotations(read_only())
    }
}

/// The JSON schemas of the fields agents may write, and which are required.
fn write_schema<M: ModelInfo>(include_key: bool, all_optional: bool) -> (Map<String, Value>, Vec<&'static str>) {
    let row = M::row_schema();
    let props = writable_names::<M>(include_key).into_iter().map(|n| (n.to_owned(), field_schema(&row, n))).collect();
    (props, required_names::<M>(include_key, all_optional))
}

/// The fields a write must give: the key (with `include_key`), then the writable
/// non-nullable fields unless every field is optional (patch).
fn required_names<M: ModelInfo>(include_key: bool, all_optional: bool) -> Vec<&'static str> {
    let mut required = Vec::new();
    if include_key {
        required.push(M::FIELDS[M::PRIMARY_KEY].name);
    }
    if !all_optional {
        required.extend(
            M::WRITABLE
                .iter()
                .filter(|&&i| !(include_key && i == M::PRIMARY_KEY))
                .map(|&i| &M::FIELDS[i])
                .filter(|f| !f.nullable)
                .map(|f| f.name),
        );
    }
    required
}

fn writable_names<M: ModelInfo>(include_key: bool) -> Vec<&'static str> {
    let mut names: Vec<&'static str> = Vec::new();
    if include_key {
        names.push(M::FIELDS[M::PRIMARY_KEY].name);
    }
    names.extend(M::WRITABLE.iter().filter(|&&i| !(include_key && i == M::PRIMARY_KEY)).map(|&i| M::FIELDS[i].name));
    names
}

fn write_annotations(destructive: bool, idempotent: bool) -> ToolAnnotations {
    ToolAnnotations {
        read_only_hint: Some(false),
        destructive_hint: Some(destructive),
        idempotent_hint: Some(idempotent),
        open_world_hint: Some(false),
        ..Default::default()
    }
}

impl<M: ModelExec<C>, C: Executor> ModelTools<M, C> {
    fn create_tool(&self) -> Tool {
        let (props, required) = write_schema::<M>(false, false);
        Tool::new(format!("{}_create", M::NAME))
            .title(format!("Create one of {}", M::NAME))
            .description(format!(
                "Create a row of {} ({}) and return it. Required: {}.",
                M::NAME,
                M::DESCRIPTION.trim(),
                if required.is_empty() { "nothing".to_owned() } else { required.join(", ") }
            ))
            .input_schema(
                json!({ "type": "object", "properties": props, "required": required, "additionalProperties": false }),
            )
            .output_schema(Value::Object(M::row_schema()))
            .annotations(write_annotations(false, false))
    }

    fn update_tool(&self, patch: bool) -> Tool {
        let pk = M::FIELDS[M::PRIMARY_KEY].name;
        let (props, required) = write_schema::<M>(true, patch);
        let (name, title, description) = if patch {
            (
                format!("{}_patch", M::NAME),
                format!("Change fields of one of {}", M::NAME),
                format!(
                    "Change the given fields of the row of {} ({}) with this `{pk}`; fields not given stay as they \
                     are, `null` clears a nullable field. Returns the row.",
                    M::NAME,
                    M::DESCRIPTION.trim()
                ),
            )
        } else {
            (
                format!("{}_update", M::NAME),
                format!("Replace one of {}", M::NAME),
                format!(
                    "Replace every writable field of the row of {} ({}) with this `{pk}`; nullable fields not given \
                     become null. Returns the row.",
                    M::NAME,
                    M::DESCRIPTION.trim()
                ),
            )
        };
        Tool::new(name)
            .title(title)
            .description(description)
            .input_schema(
                json!({ "type": "object", "properties": props, "required": required, "additionalProperties": false }),
            )
            .output_schema(Value::Object(M::row_schema()))
            .annotations(write_annotations(true, true))
    }

    fn delete_tool(&self) -> Tool {
        let pk = &M::FIELDS[M::PRIMARY_KEY];
        let pk_schema = field_schema(&M::row_schema(), pk.name);
        Tool::new(format!("{}_delete", M::NAME))
            .title(format!("Delete one of {}", M::NAME))
            .description(format!("Delete the row of {} ({}) with this `{}`.", M::NAME, M::DESCRIPTION.trim(), pk.name))
            .input_schema(json!({ "type": "object", "properties": { pk.name: pk_schema }, "required": [pk.name], "additionalProperties": false }))
            .output_schema(json!({
                "type": "object",
                "properties": { "deleted": { "type": "boolean" }, pk.name: pk_schema },
                "required": ["deleted", pk.name],
            }))
            .annotations(write_annotations(true, true))
    }

    /// Check an agent's values (unknown fields, required ones), run the hook.
    fn prepare_write(
        &self,
        mut args: Map<String, Value>,
        action: WriteAction,
        ctx: &Context,
    ) -> Result<(Option<Value>, Map<String, Value>), ToolError> {
        let with_key = action != WriteAction::Create;
        let allowed = writable_names::<M>(with_key);
        if let Some(k) = args.keys().find(|k| !allowed.contains(&k.as_str())) {
            return Err(ToolError::invalid_arguments(format!(
                "`{k}` cannot be written; the fields are {}",
                allowed.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ")
            )));
        }
        let pk = M::FIELDS[M::PRIMARY_KEY].name;
        let key = if with_key {
            Some(
                args.remove(pk)
                    .ok_or_else(|| ToolError::invalid_arguments(format!("missing required argument `{pk}`")))?,
            )
        } else {
            None
        };
        // From the field table, not the JSON Schema: no schema is generated per write.
        let required = required_names::<M>(false, action == WriteAction::Patch);
        let missing: Vec<String> = required
            .iter()
            .filter(|r| **r != pk || action == WriteAction::Create)
            .filter(|r| !args.contains_key(**r))
            .map(|r| format!("`{r}`"))
            .collect();
        if !missing.is_empty() {
            return Err(ToolError::invalid_arguments(format!("missing required fields: {}", missing.join(", "))));
        }
        if action == WriteAction::Update {
            for &i in M::WRITABLE {
                let f = &M::FIELDS[i];
                if i != M::PRIMARY_KEY && f.nullable {
                    args.entry(f.name).or_insert(Value::Null);
                }
            }
        }
        if with_key && args.is_empty() {
            return Err(ToolError::invalid_arguments(format!(
                "nothing to change: give at least one of {}",
                writable_names::<M>(false).iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ")
            )));
        }
        if let Some(hook) = &self.before_write {
            hook(ctx, action, &mut args)?;
            if let Some(k) = args.keys().find(|k| !M::FIELDS.iter().any(|f| f.name == k.as_str())) {
                return Err(ToolError::internal(format!(
                    "server misconfigured: `before_write` set `{k}`, which is not a field of {}",
                    M::NAME
                )));
            }
        }
        if with_key {
            // The key is never changed.
            args.remove(pk);
            if args.is_empty() {
                return Err(ToolError::invalid_arguments("nothing to change"));
            }
        }
        M::validate(&args).map_err(|errors| {
            ToolError::invalid_arguments(format!("nothing was written: {errors} (the rules of {})", M::NAME))
        })?;
        Ok((key, args))
    }

    async fn create(&self, args: Map<String, Value>, ctx: &Context) -> Result<CallToolResult, ToolError> {
        let (_, values) = self.prepare_write(args, WriteAction::Create, ctx)?;
        let scope = self.write_scope_filter(ctx)?;
        let row = M::exec_create(&self.db, values, scope).await?;
        row_result(&row, &[])
    }

    async fn update(&self, args: Map<String, Value>, ctx: &Context, patch: bool) -> Result<CallToolResult, ToolError> {
        let action = if patch { WriteAction::Patch } else { WriteAction::Update };
        let (key, values) = self.prepare_write(args, action, ctx)?;
        let key = key.unwrap_or(Value::Null);
        let scope = self.write_scope_filter(ctx)?;
        let shown = key.clone();
        match M::exec_update(&self.db, key, values, scope).await? {
            Some(row) => row_result(&row, &[]),
            None => Err(self.not_writable(shown, ctx).await?),
        }
    }

    /// Why a write found no row: the row is "not found" unless the caller may read it (then
    /// it is outside the write scope: not theirs to change). Rows the caller cannot read
    /// stay "not found", so nothing about them leaks.
    async fn not_writable(&self, key: Value, ctx: &Context) -> Result<ToolError, ToolError> {
        if self.write_scope.is_none() {
            return Ok(not_found::<M>(&key));
        }
        let read = self.scope_filter(ctx)?;
        if M::exec_get(&self.db, key.clone(), read, Vec::new()).await?.is_none() {
            return Ok(not_found::<M>(&key));
        }
        Ok(ToolError::forbidden(format!(
            "the {} row with `{}` = {key} is not yours to change: you may read it, but it is outside the rows you may \
             change (the write scope); nothing was written",
            M::NAME,
            M::FIELDS[M::PRIMARY_KEY].name
        )))
    }

    async fn delete(&self, args: Map<String, Value>, ctx: &Context) -> Result<CallToolResult, ToolError> {
        let pk = M::FIELDS[M::PRIMARY_KEY].name;
        let key = key_arg::<M>(&args)?;
        let scope = self.write_scope_filter(ctx)?;
        let k = key.clone();
        if M::exec_delete(&self.db, k, scope).await? {
            Ok(CallToolResult::structured(json!({ "deleted": true, pk: key })))
        } else {
            Err(self.not_writable(key, ctx).await?)
        }
    }
}

/// The metrics `aggregate` offers: `count`, `sum:`/`avg:` of number fields, `min:`/`max:`
/// of ordered ones.
fn metric_specs<M: ModelInfo>() -> Vec<(String, Metric)> {
    let mut out = vec![("count".to_owned(), Metric { op: AggOp::Count, field: None })];
    for (i, f) in M::FIELDS.iter().enumerate().filter(|(_, f)| !f.hidden) {
        if matches!(f.kind, Kind::Integer | Kind::Float) {
            for op in [AggOp::Sum, AggOp::Avg] {
                out.push((format!("{}:{}", op.name(), f.name), Metric { op, field: Some(i) }));
            }
        }
        if matches!(f.kind, Kind::Text | Kind::Integer | Kind::Float | Kind::DateTime | Kind::Date | Kind::Time) {
            for op in [AggOp::Min, AggOp::Max] {
                out.push((format!("{}:{}", op.name(), f.name), Metric { op, field: Some(i) }));
            }
        }
    }
    out
}

impl<M: ModelExec<C>, C: Executor> ModelTools<M, C> {
    fn aggregate_tool(&self) -> Tool {
        let specs: Vec<String> = metric_specs::<M>().into_iter().map(|(s, _)| s).collect();
        let groups: Vec<&str> = M::GROUP_BY.iter().map(|&i| M::FIELDS[i].name).collect();
        let mut props = self.filter_props();
        if !groups.is_empty() {
            props.insert(
                "group_by".into(),
                json!({ "type": "string", "enum": groups, "description": "One group per value of this field (default: one group of all rows)" }),
            );
        }
        props.insert(
            "metrics".into(),
            json!({ "type": "array", "items": { "type": "string", "enum": specs }, "minItems": 1, "maxItems": 5,
                    "description": "What to compute per group: `count`, `sum:<field>`, `avg:<field>`, `min:<field>`, `max:<field>` (default [\"count\"])" }),
        );
        props.insert(
            "limit".into(),
            json!({ "type": "integer", "minimum": 1, "maximum": 500, "description": "Most groups, in the order of the group field (default 100)" }),
        );
        Tool::new(format!("{}_aggregate", M::NAME))
            .title(format!("Aggregate {}", M::NAME))
            .description(format!(
                "Count, sum, average, minimum and maximum of {} ({}), optionally per value of {}.",
                M::NAME,
                M::DESCRIPTION.trim(),
                if groups.is_empty() { "nothing (totals only)".to_owned() } else { groups.join(" or ") }
            ))
            .input_schema(json!({ "type": "object", "properties": props, "additionalProperties": false }))
            .output_schema(json!({
                "type": "object",
                "properties": {
                    "groups": { "type": "array", "items": { "type": "object" } },
                    "returned": { "type": "integer" },
                    "has_more": { "type": "boolean" },
                },
                "required": ["groups", "returned", "has_more"],
            }))
            .annotations(read_only())
    }

    async fn aggregate(&self, args: Map<String, Value>, ctx: &Context) -> Result<CallToolResult, ToolError> {
        deny_unknown(&args, &["filter", "search", "group_by", "metrics", "limit"])?;
        let filter = self.agent_filter(&args, ctx)?;
        let scope = self.scope_filter(ctx)?;
        let limit = int_arg(&args, "limit", 1, 500)?.unwrap_or(100);
        let group = match args.get("group_by") {
            None | Some(Value::Null) => None,
            Some(v) => {
                let name = v.as_str().unwrap_or_default();
                let found = M::GROUP_BY.iter().copied().find(|&i| M::FIELDS[i].name == name);
                Some(found.ok_or_else(|| {
                    ToolError::invalid_arguments(format!(
                        "cannot group by {v}; the fields are {}",
                        M::GROUP_BY.iter().map(|&i| format!("`{}`", M::FIELDS[i].name)).collect::<Vec<_>>().join(", ")
                    ))
                })?)
            }
        };
        let specs = metric_specs::<M>();
        let wanted: Vec<Value> = match args.get("metrics") {
            None | Some(Value::Null) => vec![json!("count")],
            Some(Value::Array(a)) if !a.is_empty() && a.len() <= 5 => a.clone(),
            Some(_) => return Err(ToolError::invalid_arguments("`metrics` must be a list of 1 to 5 metrics")),
        };
        let mut metrics = Vec::new();
        for w in &wanted {
            let name = w.as_str().unwrap_or_default();
            match specs.iter().find(|(s, _)| s == name) {
                Some((s, m)) => metrics.push((s.clone(), *m)),
                None => {
                    return Err(ToolError::invalid_arguments(format!(
                        "unknown metric {w}; the metrics are {}",
                        specs.iter().map(|(s, _)| format!("`{s}`")).collect::<Vec<_>>().join(", ")
                    )));
                }
            }
        }
        let group_name = group.map(|g| M::FIELDS[g].name);
        let queries = metrics
            .iter()
            .map(|(name, metric)| {
                (name.clone(), AggQuery { filter: filter.clone(), group, metric: *metric, limit: limit + 1 })
            })
            .collect();
        let rows = M::exec_aggregate(&self.db, queries, scope).await?;
        // The first metric's groups, in order; the others joined by group key.
        let mut groups: Vec<Map<String, Value>> = Vec::new();
        let mut keys: Vec<Value> = Vec::new();
        for (i, (name, values)) in rows.iter().enumerate() {
            if i == 0 {
                for (k, v) in values {
                    let mut g = Map::new();
                    if let Some(gn) = group_name {
                        g.insert(gn.into(), k.clone());
                    }
                    g.insert(name.clone(), v.clone());
                    groups.push(g);
                    keys.push(k.clone());
                }
            } else {
                let by_key: std::collections::HashMap<String, &Value> =
                    values.iter().map(|(k, v)| (k.to_string(), v)).collect();
                for (g, k) in groups.iter_mut().zip(&keys) {
                    g.insert(name.clone(), by_key.get(&k.to_string()).map_or(Value::Null, |v| (*v).clone()));
                }
            }
        }
        let has_more = groups.len() as i64 > limit;
        groups.truncate(limit as usize);
        Ok(CallToolResult::structured(json!({
            "groups": groups,
            "returned": groups.len(),
            "has_more": has_more,
        })))
    }
}

fn not_found<M: ModelInfo>(key: &Value) -> ToolError {
    ToolError::not_found(format!("no {} with `{}` = {key}", M::NAME, M::FIELDS[M::PRIMARY_KEY].name))
}

fn row_result<M: ModelInfo>(row: &M, extra: &Extra<'_>) -> Result<CallToolResult, ToolError> {
    row_content(row, extra)
        .map(CallToolResult::from_structured)
        .map_err(|e| ToolError::internal(format!("the row could not be serialized: {e}")))
}

/// The schema of one field of the row schema (`{}` if it has none).
fn field_schema(row: &Map<String, Value>, name: &str) -> Value {
    row.get("properties").and_then(|p| p.get(name)).cloned().unwrap_or_else(|| json!({}))
}

/// The key argument of `get` and `delete`, alone.
fn key_arg<M: ModelInfo>(args: &Map<String, Value>) -> Result<Value, ToolError> {
    let pk = M::FIELDS[M::PRIMARY_KEY].name;
    deny_unknown(args, &[pk])?;
    args.get(pk).cloned().ok_or_else(|| ToolError::invalid_arguments(format!("missing required argument `{pk}`")))
}

fn read_only() -> ToolAnnotations {
    ToolAnnotations {
        read_only_hint: Some(true),
        idempotent_hint: Some(true),
        open_world_hint: Some(false),
        ..Default::default()
    }
}

/// Arguments common to `list` and `count`.
fn filter_and_search<M: ModelInfo>(
    args: &Map<String, Value>,
    relations: &[RelatedFields<'_>],
    caps: &Caps,
    regex: bool,
) -> Result<Filter, ToolError> {
    let mut filter = parse_related(args.get("filter").unwrap_or(&Value::Null), M::FIELDS, relations, caps, regex)
        .map_err(|e| ToolError::invalid_arguments(e.0))?;
    match args.get("search") {
        None | Some(Value::Null) => {}
        Some(Value::String(s)) if M::SEARCH.is_empty() => {
            let _ = s;
            return Err(ToolError::invalid_arguments("this model has no searchable fields"));
        }
        Some(Value::String(s)) => {
            crate::filter::refuse_nul(s, "search").map_err(|e| ToolError::invalid_arguments(e.0))?;
            if s.chars().count() > caps.max_pattern_len {
                return Err(ToolError::invalid_arguments(format!(
                    "`search` is longer than {} characters",
                    caps.max_pattern_len
                )));
            }
            let terms: Vec<Filter> = s
                .split_whitespace()
                .take(10)
                .map(|term| {
                    Filter::Or(
                        M::SEARCH
                            .iter()
                            .map(|&field| {
                                Filter::Leaf(Condition { field, op: Op::IContains, value: Value::String(term.into()) })
                            })
                            .collect(),
                    )
                })
                .collect();
            if !terms.is_empty() {
                filter = Filter::And(vec![filter, Filter::And(terms)]);
            }
        }
        Some(_) => return Err(ToolError::invalid_arguments("`search` must be a string")),
    }
    Ok(filter)
}

fn deny_unknown(args: &Map<String, Value>, known: &[&str]) -> Result<(), ToolError> {
    if let Some(k) = args.keys().find(|k| !known.contains(&k.as_str())) {
        return Err(ToolError::invalid_arguments(format!(
            "unknown argument `{k}`; the arguments are {}",
            known.iter().map(|k| format!("`{k}`")).collect::<Vec<_>>().join(", ")
        )));
    }
    Ok(())
}

/// Where the next page starts: after a row (keyset: the values of the ordering fields of
/// the last row shown, which stays right when rows are added or removed meanwhile), or at
/// an offset (when an ordering field is nullable, or the agent paged with `offset`).
#[derive(Debug, Clone, PartialEq)]
enum Cursor {
    Offset(i64),
    After(Vec<Value>),
}

fn encode_cursor(cursor: &Cursor, order: &[(usize, bool)]) -> String {
    let text = match cursor {
        Cursor::Offset(n) => format!("o:{n}"),
        Cursor::After(values) => {
            let spec: Vec<Value> =
                order.iter().zip(values).map(|((f, desc), v)| json!([f, if *desc { 1 } else { 0 }, v])).collect();
            format!("k:{}", Value::Array(spec))
        }
    };
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(text)
}

fn decode_cursor(c: &str, order: &[(usize, bool)]) -> Result<Cursor, ToolError> {
    let bad = || ToolError::invalid_arguments("`cursor` is not a cursor this tool returned; start again without it");
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(c).map_err(|_| bad())?;
    let text = std::str::from_utf8(&raw).map_err(|_| bad())?;
    if let Some(n) = text.strip_prefix("o:") {
        return n.parse().ok().filter(|o: &i64| *o >= 0).map(Cursor::Offset).ok_or_else(bad);
    }
    let spec: Vec<(usize, u8, Value)> =
        serde_json::from_str(text.strip_prefix("k:").ok_or_else(bad)?).map_err(|_| bad())?;
    let same_order =
        spec.len() == order.len() && spec.iter().zip(order).all(|((f, d, _), (of, od))| f == of && (*d == 1) == *od);
    if !same_order {
        return Err(ToolError::invalid_arguments(
            "this `cursor` belongs to a different `order_by`; keep the same `order_by` or start again without `cursor`",
        ));
    }
    Ok(Cursor::After(spec.into_iter().map(|(_, _, v)| v).collect()))
}

/// Rows after `values` in `order`, as a filter using only `>`/`>=` (or `<`/`<=`), so that
/// comparisons use the same collation as `ORDER BY`:
/// `c1 >= v1 AND (c1 > v1 OR (c2 >= v2 AND (c2 > v2 OR ... cn > vn)))`.
fn after_filter(order: &[(usize, bool)], values: &[Value]) -> Filter {
    let leaf = |i: usize, strict: bool| {
        let (field, desc) = order[i];
        let op = match (desc, strict) {
            (false, true) => Op::Gt,
            (false, false) => Op::Gte,
            (true, true) => Op::Lt,
            (true, false) => Op::Lte,
        };
        Filter::Leaf(Condition { field, op, value: values[i].clone() })
    };
    let last = order.len() - 1;
    let mut acc = leaf(last, true);
    for i in (0..last).rev() {
        acc = Filter::And(vec![leaf(i, false), Filter::Or(vec![leaf(i, true), acc])]);
    }
    acc
}

fn int_arg(args: &Map<String, Value>, name: &str, min: i64, max: i64) -> Result<Option<i64>, ToolError> {
    match args.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => match v.as_i64() {
            Some(n) if (min..=max).contains(&n) => Ok(Some(n)),
            _ => Err(ToolError::invalid_arguments(format!("`{name}` must be an integer from {min} to {max}"))),
        },
    }
}

impl<M: ModelExec<C>, C: Executor> ModelTools<M, C> {
    async fn list(&self, args: Map<String, Value>, ctx: &Context) -> Result<CallToolResult, ToolError> {
        deny_unknown(
            &args,
            &["filter", "search", "order_by", "fields", "limit", "offset", "cursor", "include_total", "include"],
        )?;
        let filter = self.agent_filter(&args, ctx)?;
        let scope = self.scope_filter(ctx)?;
        let includes = self.includes(&args, ctx)?;
        let limit = int_arg(&args, "limit", 1, i64::from(M::MAX_LIMIT))?.unwrap_or(i64::from(M::DEFAULT_LIMIT));
        let explicit_offset = int_arg(&args, "offset", 0, i64::MAX / 2)?;
        let cursor_arg = args.get("cursor").filter(|c| !c.is_null());
        if explicit_offset.is_some() && cursor_arg.is_some() {
            return Err(ToolError::invalid_arguments("give either `offset` or `cursor`, not both"));
        }
        let mut order = Vec::new();
        if let Some(v) = args.get("order_by").filter(|v| !v.is_null()) {
            let Some(items) = v.as_array().filter(|a| a.len() <= 5) else {
                return Err(ToolError::invalid_arguments("`order_by` must be a list of up to 5 field names"));
            };
            for item in items {
                let key =
                    item.as_str().ok_or_else(|| ToolError::invalid_arguments("`order_by` entries are field names"))?;
                let (name, desc) = key.strip_prefix('-').map_or((key, false), |n| (n, true));
                let idx = M::FIELDS
                    .iter()
                    .position(|f| f.name == name && !f.hidden && f.kind.is_ordered())
                    .ok_or_else(|| {
                        ToolError::invalid_arguments(format!(
                            "cannot sort by `{name}`; sortable fields are {}",
                            M::FIELDS
                                .iter()
                                .filter(|f| !f.hidden && f.kind.is_ordered())
                                .map(|f| format!("`{}`", f.name))
                                .collect::<Vec<_>>()
                                .join(", ")
                        ))
                    })?;
                order.push((idx, desc));
            }
        }
        if !order.iter().any(|(i, _)| *i == M::PRIMARY_KEY) {
            order.push((M::PRIMARY_KEY, false));
        }
        let fields: Option<Vec<String>> = match args.get("fields") {
            None | Some(Value::Null) => None,
            Some(Value::Array(a)) => {
                let visible = visible_names::<M>();
                let mut out = Vec::new();
                for f in a {
                    match f.as_str() {
                        Some(n) if visible.contains(&n) => out.push(n.to_owned()),
                        _ => {
                            return Err(ToolError::invalid_arguments(format!(
                                "unknown field {f} in `fields`; the fields are {}",
                                visible.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ")
                            )));
                        }
                    }
                }
                Some(out)
            }
            Some(_) => return Err(ToolError::invalid_arguments("`fields` must be a list of field names")),
        };
        let include_total = args.get("include_total").and_then(Value::as_bool).unwrap_or(false);
        let cursor = match cursor_arg {
            None => Cursor::Offset(explicit_offset.unwrap_or(0)),
            Some(c) => decode_cursor(c.as_str().unwrap_or_default(), &order)?,
        };
        // Keyset pages need non-null ordering fields (backends disagree on where NULLs sort).
        let keyset = explicit_offset.is_none() && order.iter().all(|(f, _)| !M::FIELDS[*f].nullable);
        let (offset, page_filter) = match &cursor {
            Cursor::Offset(n) => (*n, filter.clone()),
            Cursor::After(values) => (0, Filter::And(vec![filter.clone(), after_filter(&order, values)])),
        };
        let order_for_cursor = order.clone();
        let query = ListQuery { filter: page_filter, order, limit: limit + 1, offset };
        let total = include_total.then_some(filter);
        let (rows, total, included) = M::exec_page(&self.db, query, scope, total, includes).await?;
        let fetched_more = rows.len() as i64 > limit;
        let page = &rows[..rows.len().min(limit as usize)];
        // The page's JSON, written once: each row straight from the model's `Serialize`,
        // measured as it is written.
        let mut text = br#"{"items":["#.to_vec();
        let mut used = 0usize;
        let mut truncated = false;
        let mut returned = 0usize;
        let serialize_error = |e: serde_json::Error| ToolError::internal(format!("a row could not be serialized: {e}"));
        for (i, row) in page.iter().enumerate() {
            let extra: Vec<(&str, &Value)> =
                included.iter().map(|(name, values)| (*name, values.get(i).unwrap_or(&Value::Null))).collect();
            let start = text.len();
            if returned > 0 {
                text.push(b',');
            }
            let row_start = text.len();
            write_row(&mut text, row, fields.as_deref(), &extra).map_err(serialize_error)?;
            let mut len = text.len() - row_start;
            if len > self.budget && returned == 0 {
                // A row too long on its own is shown cut, rather than not at all.
                text.truncate(row_start);
                let mut obj = agent_value(row, fields.as_deref(), &extra).map_err(serialize_error)?;
                shorten(&mut obj, self.budget);
                serde_json::to_writer(&mut text, &obj).map_err(serialize_error)?;
                len = text.len() - row_start;
                truncated = true;
            } else if used + len > self.budget {
                text.truncate(start);
                truncated = true;
                break;
            }
            used += len;
            returned += 1;
        }
        let has_more = fetched_more || (truncated && (returned as i64) < limit);
        text.push(b']');
        member(&mut text, "returned", &returned);
        if let Some(t) = total {
            member(&mut text, "total", &t);
        }
        member(&mut text, "has_more", &has_more);
        if has_more {
            let next = match page.get(returned.wrapping_sub(1)) {
                Some(last) if keyset => {
                    let obj = last.to_agent_json().map_err(serialize_error)?;
                    Cursor::After(
                        order_for_cursor
                            .iter()
                            .map(|(f, _)| obj.get(M::FIELDS[*f].name).cloned().unwrap_or(Value::Null))
                            .collect(),
                    )
                }
                _ => Cursor::Offset(offset + returned as i64),
            };
            member(&mut text, "next_cursor", &encode_cursor(&next, &order_for_cursor));
        }
        member(&mut text, "truncated", &truncated);
        text.push(b'}');
        let text = String::from_utf8(text).map_err(|e| ToolError::internal(format!("a page is not UTF-8: {e}")))?;
        let structured =
            RawValue::from_string(text).map_err(|e| ToolError::internal(format!("a page is not JSON: {e}")))?;
        Ok(CallToolResult::from_structured(StructuredContent::from(structured)))
    }

    async fn get(&self, mut args: Map<String, Value>, ctx: &Context) -> Result<CallToolResult, ToolError> {
        let includes = self.includes(&args, ctx)?;
        args.remove("include");
        let key = key_arg::<M>(&args)?;
        let scope = self.scope_filter(ctx)?;
        let shown = key.clone();
        let found = M::exec_get(&self.db, key, scope, includes).await?;
        match found {
            Some((row, included)) => {
                let extra: Vec<(&str, &Value)> = included.iter().map(|(name, value)| (*name, value)).collect();
                row_result(&row, &extra)
            }
            None => Err(not_found::<M>(&shown)),
        }
    }

    async fn count(&self, args: Map<String, Value>, ctx: &Context) -> Result<CallToolResult, ToolError> {
        deny_unknown(&args, &["filter", "search"])?;
        let filter = self.agent_filter(&args, ctx)?;
        let scope = self.scope_filter(ctx)?;
        let n = M::exec_count(&self.db, filter, scope).await?;
        Ok(CallToolResult::structured(json!({ "count": n })))
    }
}

/// Append `,"key":value` to an object's JSON text (`key` needs no escaping; numbers,
/// booleans and strings always serialize).
fn member(text: &mut Vec<u8>, key: &str, value: &impl serde::Serialize) {
    text.extend_from_slice(b",\"");
    text.extend_from_slice(key.as_bytes());
    text.extend_from_slice(b"\":");
    if serde_json::to_writer(&mut *text, value).is_err() {
        text.extend_from_slice(b"null");
    }
}

/// Cut long strings of a row that alone exceeds the byte budget, marking each cut.
fn shorten(obj: &mut Map<String, Value>, budget: usize) {
    let per_value = (budget / obj.len().max(1)).max(32);
    for v in obj.values_mut() {
        if let Value::String(s) = v
            && s.len() > per_value
        {
            let mut cut = per_value;
            while !s.is_char_boundary(cut) {
                cut -= 1;
            }
            let total = s.chars().count();
            s.truncate(cut);
            s.push_str(&format!("… [truncated: {total} characters in all]"));
        }
    }
}

impl<M: ModelExec<C>, C: Executor> Toolset for ModelTools<M, C> {
    fn tools(&self) -> Vec<Tool> {
        self.actions
            .iter()
            .map(|a| match a {
                Action::List => self.list_tool(),
                Action::Get => self.get_tool(),
                Action::Count => self.count_tool(),
                Action::Create => self.create_tool(),
                Action::Update => self.update_tool(false),
                Action::Patch => self.update_tool(true),
                Action::Delete => self.delete_tool(),
                Action::Aggregate => self.aggregate_tool(),
            })
            .collect()
    }

    fn tool_scopes(&self, index: usize) -> Vec<String> {
        let Some(action) = self.actions.get(index) else { return Vec::new() };
        self.scopes.iter().filter(|(a, _)| a == action).map(|(_, s)| s.clone()).collect()
    }

    fn call_tool<'a>(
        &'a self,
        index: usize,
        args: Map<String, Value>,
        ctx: &'a Context,
    ) -> BoxFuture<'a, Result<CallToolResult, ToolError>> {
        Box::pin(async move {
            match self.actions.get(index) {
                Some(Action::List) => self.list(args, ctx).await,
                Some(Action::Get) => self.get(args, ctx).await,
                Some(Action::Count) => self.count(args, ctx).await,
                Some(Action::Create) => self.create(args, ctx).await,
                Some(Action::Update) => self.update(args, ctx, false).await,
                Some(Action::Patch) => self.update(args, ctx, true).await,
                Some(Action::Delete) => self.delete(args, ctx).await,
                Some(Action::Aggregate) => self.aggregate(args, ctx).await,
                None => Err(ToolError::not_found(format!("{} has no tool #{index}", M::NAME))),
            }
        })
    }
}
