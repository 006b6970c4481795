//! [`ModelTools`]: a model's tools over a connection pool.

mod aggregate;
mod args;
mod describe;
mod read;
mod write;

use std::marker::PhantomData;
use std::sync::Arc;

use base64::Engine as _;
use mcp_core::protocol::{CallToolResult, StructuredContent, Tool, ToolAnnotations};
use mcp_core::server::{BoxFuture, Toolset};
use mcp_core::{Context, ToolError};
use serde_json::value::RawValue;
use serde_json::{Map, Value, json};

use self::args::filter_and_search;
use self::describe::field_list;
use crate::aggregate::{AggOp, AggQuery, Metric};
use crate::exec::{Db, Executor, ModelExec};
use crate::filter::{Caps, Condition, Filter, Kind, Op, RelatedFields, parse_related, parse_trusted_related};
use crate::model::{ListQuery, ModelInfo};
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
