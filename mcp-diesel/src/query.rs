//! [`QueryTool`]: one `query` tool over many models, taking a pipeline of stages in the
//! style of django-mcp-server (`$match`, `$search`, `$sort`, `$skip`, `$limit`,
//! `$project`, `$group`, `$count`, and `$lookup` over declared relations), translated into
//! the models' own list, count and aggregate queries — with their scopes, caps and byte
//! budgets.
//!
//! Accepted as django-mcp-server accepts them: `{"$match": {"$text": {"$search": "words"}}}`
//! and `{"$search": {"text": {"query": "words"}}}` (every word must appear in one of the
//! search fields); `$lookup` with `_id`/`pk` for a key and the relation's name as
//! `localField`; a `$lookup`'s `as` name in `$match` (`loc.name`, `{"loc": {...}}`) from
//! anywhere in the pipeline; `$project` with `"_id": 0`, renames (`"heading": "$title"`)
//! and looked-up fields (`"writer": "$loc.name"`: the value for a belongs-to, a list for a
//! has-many, null when none); `$group` with `{"$count": 1}`.
//!
//! Refused, with an error saying so: `$match`, `$search`, `$sort`, `$group` or `$count`
//! after `$skip`/`$limit`; anything after `$group`/`$count`; `$group` after `$project`; a `$lookup`
//! through another one (`loc.city`: relations are followed one level deep); grouping by a
//! looked-up field or by several fields; `{"$count": "$field"}`; `$search`'s `path`.

use std::sync::Arc;

use mcp_core::protocol::{CallToolResult, Tool, ToolAnnotations};
use mcp_core::server::{BoxFuture, Toolset};
use mcp_core::{Context, ToolError};
use serde_json::{Map, Value, json};

/// A model the `query` tool can reach: what [`crate::ModelTools`] offers it.
pub trait Collection: Send + Sync + 'static {
    /// The model's name (`posts`).
    fn name(&self) -> &'static str;
    /// The agent-visible fields, with kinds, for the tool's description.
    fn describe(&self) -> String;
    /// Whether the model has the `aggregate` action (for `$group`).
    fn can_group(&self) -> bool;
    /// `<name>_list` with these arguments.
    fn list<'a>(
        &'a self,
        args: Map<String, Value>,
        ctx: &'a Context,
    ) -> BoxFuture<'a, Result<CallToolResult, ToolError>>;
    /// `<name>_count` with these arguments.
    fn count<'a>(
        &'a self,
        args: Map<String, Value>,
        ctx: &'a Context,
    ) -> BoxFuture<'a, Result<CallToolResult, ToolError>>;
    /// `<name>_aggregate` with these arguments.
    fn aggregate<'a>(
        &'a self,
        args: Map<String, Value>,
        ctx: &'a Context,
    ) -> BoxFuture<'a, Result<CallToolResult, ToolError>>;
    /// The declared relations agents may use here (for `$lookup`).
    fn relations(&self) -> Vec<crate::Relation> {
        Vec::new()
    }
}

/// The `query` tool over some models.
///
/// ```no_run
/// # fn doc<M: mcp_diesel::ModelQuery<diesel::SqliteConnection>>(pool: mcp_diesel::SqlitePool) {
/// let posts = mcp_diesel::ModelTools::<M, _>::new(pool);
/// let query = mcp_diesel::QueryTool::new().collection(posts.clone());
/// let server = mcp_core::Server::builder().toolset(posts).toolset(query);
/// # }
/// ```
#[derive(Clone, Default)]
pub struct QueryTool {
    collections: Vec<Arc<dyn Collection>>,
}

impl std::fmt::Debug for QueryTool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QueryTool")
            .field("collections", &self.collections.iter().map(|c| c.name()).collect::<Vec<_>>())
            .finish()
    }
}

impl QueryTool {
    /// No models yet.
    pub fn new() -> Self {
        QueryTool::default()
    }

    /// Make a model reachable (with its scope: pass the same `ModelTools` you serve).
    pub fn collection(mut self, c: impl Collection) -> Self {
        self.collections.push(Arc::new(c));
        self
    }
}

fn bad(msg: impl Into<String>) -> ToolError {
    ToolError::invalid_arguments(msg)
}

/// What a pipeline asks for, in one query.
#[derive(Default)]
struct Plan {
    filter: Vec<Value>,
    search: Option<Value>,
    order_by: Option<Value>,
    skip: i64,
    limit: Option<i64>,
    /// `$project`: each output name and where its value comes from.
    project: Option<Vec<(String, Proj)>>,
    group: Option<Map<String, Value>>,
    count: Option<String>,
    /// `$lookup`s: the relation, and the name its rows get.
    lookups: Vec<(crate::Relation, String)>,
}

/// Where a `$project`ed value comes from.
enum Proj {
    /// A field of the row (or a `$lookup`'s rows, by their `as` name).
    Field(String),
    /// `"$alias.field"`: a field of the rows a `$lookup` attached.
    Looked(String, String),
}

/// `$search`'s argument: `"words"`, `{"text": "words"}` or `{"text": {"query": "words"}}`.
fn search_text(i: usize, arg: &Value) -> Result<String, ToolError> {
    let text = match arg {
        Value::String(s) => Some(s.as_str()),
        Value::Object(o) => match o.get("text") {
            Some(Value::String(s)) if o.len() == 1 => Some(s.as_str()),
            Some(Value::Object(t)) if o.len() == 1 => {
                if t.contains_key("path") {
                    return Err(bad(format!(
                        "stage {i}: `$search` looks in all of the collection's search fields; `path` is not supported"
                    )));
                }
                t.get("query").and_then(Value::as_str).filter(|_| t.len() == 1)
            }
            _ => None,
        },
        _ => None,
    };
    text.map(str::to_owned)
        .ok_or_else(|| bad(format!("stage {i}: `$search` takes a string, or {{\"text\": {{\"query\": \"words\"}}}}")))
}

/// Add words to the search: every word of every `$search` must appear.
fn add_search(p: &mut Plan, text: String) {
    p.search = Some(match p.search.take() {
        Some(Value::String(before)) => json!(format!("{before} {text}")),
        _ => json!(text),
    });
}

/// A `$match` with `$lookup` aliases (`writer.name`, `{"writer": {...}}`) renamed to the
/// relations they stand for, at any depth of `$and`/`$or`/`$nor`/`$not`.
fn unalias(filter: &Value, aliases: &[(String, &'static str)]) -> Value {
    let Value::Object(m) = filter else { return filter.clone() };
    let mut out = Map::new();
    for (k, v) in m {
        let v = match (k.as_str(), v) {
            ("$and" | "$or" | "$nor", Value::Array(items)) => {
                Value::Array(items.iter().map(|f| unalias(f, aliases)).collect())
            }
            ("$not", f) => unalias(f, aliases),
            _ => v.clone(),
        };
        let (head, rest) = k.split_once('.').map_or((k.as_str(), None), |(h, r)| (h, Some(r)));
        let key = match aliases.iter().find(|(a, _)| a == head) {
            Some((_, rel)) => rest.map_or_else(|| (*rel).to_owned(), |r| format!("{rel}.{r}")),
            None => k.clone(),
        };
        out.insert(key, v);
    }
    Value::Object(out)
}

/// A relation in `$lookup`'s words.
fn lookup_words(r: &crate::Relation) -> String {
    format!(
        "{{\"from\": \"{}\", \"localField\": \"{}\", \"foreignField\": \"{}\", \"as\": \"{}\"}}",
        r.model, r.local, r.foreign, r.name
    )
}

/// A `$lookup` stage: the declared relation it names.
fn lookup(i: usize, arg: &Value, relations: &[crate::Relation]) -> Result<(crate::Relation, String), ToolError> {
    let declared = || {
        if relations.is_empty() {
            "this collection has no declared relations".to_owned()
        } else {
            format!("the declared relations are {}", relations.iter().map(lookup_words).collect::<Vec<_>>().join(", "))
        }
    };
    let spec = arg.as_object().ok_or_else(|| {
        bad(format!(
            "stage {i}: `$lookup` takes {{\"from\", \"localField\", \"foreignField\", \"as\"}}; {}",
            declared()
        ))
    })?;
    if let Some(k) = spec.keys().find(|k| !["from", "localField", "foreignField", "as"].contains(&k.as_str())) {
        return Err(bad(format!(
            "stage {i}: `$lookup` takes `from`, `localField`, `foreignField` and `as`, not `{k}` (no pipelines); {}",
            declared()
        )));
    }
    let text = |k: &str| spec.get(k).and_then(Value::as_str);
    let (Some(from), Some(local), Some(foreign)) = (text("from"), text("localField"), text("foreignField")) else {
        return Err(bad(format!("stage {i}: `$lookup` needs `from`, `localField` and `foreignField`; {}", declared())));
    };
    if local.contains('.') {
        return Err(bad(format!(
            "stage {i}: `$lookup` follows this collection's own relations, one level deep; `{local}` goes through another lookup; {}",
            declared()
        )));
    }
    // As in django-mcp-server, the key of either side may be called `_id` (or `pk`), and a
    // belongs-to's local side may be named by the relation (`author` for `author_id`).
    let is_key = |f: &str| f == "_id" || f == "pk";
    let rel = relations
        .iter()
        .find(|r| {
            r.model == from
                && (r.local == local || (!r.many && local == r.name) || (r.many && is_key(local)))
                && (r.foreign == foreign || (!r.many && is_key(foreign)))
        })
        .ok_or_else(|| {
            bad(format!(
                "stage {i}: `$lookup` from `{from}` on `{local}` = `{foreign}` is not a declared relation; {}",
                declared()
            ))
        })?;
    let name = match spec.get("as") {
        None | Some(Value::Null) => rel.name.to_owned(),
        Some(Value::String(s)) if relations.iter().any(|o| o.name == s && o.name != rel.name) => {
            return Err(bad(format!("stage {i}: `$lookup.as` `{s}` is the name of another relation; choose another")));
        }
        Some(Value::String(s)) if !s.is_empty() && !s.starts_with('$') && !s.contains('.') => s.clone(),
        Some(other) => return Err(bad(format!("stage {i}: `$lookup.as` must be a field name, not {other}"))),
    };
    Ok((*rel, name))
}

fn plan(stages: &[Value], relations: &[crate::Relation]) -> Result<Plan, ToolError> {
    let mut p = Plan::default();
    for (i, stage) in stages.iter().enumerate() {
        let obj = stage.as_object().filter(|o| o.len() == 1).ok_or_else(|| {
            bad(format!("stage {i} must be an object with one operator, such as {{\"$match\": {{...}}}}"))
        })?;
        let (op, arg) = obj.iter().next().map(|(k, v)| (k.as_str(), v)).unwrap_or(("", &Value::Null));
        let windowed = p.limit.is_some() || p.skip > 0;
        let done = p.group.is_some() || p.count.is_some();
        if done {
            return Err(bad(format!("stage {i} (`{op}`) comes after `$group`/`$count`, which end the pipeline")));
        }
        match op {
            "$match" | "$search" | "$sort" if windowed => {
                return Err(bad(format!(
                    "stage {i}: `{op}` after `$skip`/`$limit` is not supported; put `$match`, `$search` and `$sort` first"
                )));
            }
            "$match" => {
                let Some(m) = arg.as_object() else {
                    return Err(bad(format!("stage {i}: `$match` takes a filter object")));
                };
                let mut m = m.clone();
                // `{"$text": {"$search": "words"}}` is a `$search`.
                if let Some(t) = m.remove("$text") {
                    let text = t
                        .get("$search")
                        .and_then(Value::as_str)
                        .filter(|_| t.as_object().is_some_and(|o| o.len() == 1));
                    let text =
                        text.ok_or_else(|| bad(format!("stage {i}: `$text` takes {{\"$search\": \"words\"}}")))?;
                    add_search(&mut p, text.to_owned());
                    if m.is_empty() {
                        continue;
                    }
                }
                p.filter.push(Value::Object(m));
            }
            "$search" => {
                let text = search_text(i, arg)?;
                add_search(&mut p, text);
            }
            "$sort" => {
                // JSON objects do not keep their key order here, so several keys come as a
                // list: [{"views": -1}, {"id": 1}].
                let specs: Vec<&Map<String, Value>> = match arg {
                    Value::Object(o) if o.len() == 1 => vec![o],
                    Value::Object(_) => {
                        return Err(bad(format!(
                            "stage {i}: for several sort keys give a list, such as {{\"$sort\": [{{\"views\": -1}}, {{\"id\": 1}}]}}"
                        )));
                    }
                    Value::Array(items) => items
                        .iter()
                        .map(|v| v.as_object().filter(|o| o.len() == 1))
                        .collect::<Option<Vec<_>>>()
                        .ok_or_else(|| bad(format!("stage {i}: each `$sort` key is {{\"field\": 1 or -1}}")))?,
                    _ => return Err(bad(format!("stage {i}: `$sort` takes {{\"field\": 1 or -1}}"))),
                };
                let mut keys = Vec::new();
                for (field, dir) in specs.into_iter().flatten() {
                    match dir.as_i64() {
                        Some(1) => keys.push(json!(field)),
                        Some(-1) => keys.push(json!(format!("-{field}"))),
                        _ => return Err(bad(format!("stage {i}: `$sort` directions are 1 or -1, not {dir}"))),
                    }
                }
                p.order_by = Some(Value::Array(keys));
            }
            "$skip" => {
                let n =
                    arg.as_i64().filter(|n| *n >= 0).ok_or_else(|| bad(format!("stage {i}: `$skip` takes a count")))?;
                // Skipping inside a window shrinks it.
                p.skip = p.skip.saturating_add(n);
                p.limit = p.limit.map(|l| (l - n).max(0));
            }
            "$limit" => {
                let n = arg
                    .as_i64()
                    .filter(|n| *n >= 1)
                    .ok_or_else(|| bad(format!("stage {i}: `$limit` takes a positive count")))?;
                p.limit = Some(p.limit.map_or(n, |l| l.min(n)));
            }
            "$project" => {
                let how = || {
                    bad(format!(
                        "stage {i}: `$project` keeps a field with 1, renames one with \"$field\" and takes a looked-up field with \"$alias.field\" (and `\"_id\": 0` changes nothing: rows have no `_id`)"
                    ))
                };
                let spec = arg.as_object().ok_or_else(how)?;
                let mut out = Vec::new();
                for (k, v) in spec {
                    let on = v.as_i64() == Some(1) || v.as_bool() == Some(true);
                    let off = v.as_i64() == Some(0) || v.as_bool() == Some(false);
                    match v {
                        _ if on => out.push((k.clone(), Proj::Field(k.clone()))),
                        _ if off && k == "_id" => {}
                        Value::String(s) if s.len() > 1 && s.starts_with('$') => out.push((
                            k.clone(),
                            match s[1..].split_once('.') {
                                Some((alias, f)) => Proj::Looked(alias.to_owned(), f.to_owned()),
                                None => Proj::Field(s[1..].to_owned()),
                            },
                        )),
                        _ => return Err(how()),
                    }
                }
                if out.is_empty() {
                    return Err(bad(format!("stage {i}: `$project` keeps no field")));
                }
                p.project = Some(out);
            }
            "$group" => {
                if windowed {
                    return Err(bad(format!("stage {i}: `$group` after `$skip`/`$limit` is not supported")));
                }
                if p.project.is_some() {
                    return Err(bad(format!(
                        "stage {i}: `$group` cannot follow `$project`; `$group` names its own output"
                    )));
                }
                p.group =
                    Some(arg.as_object().cloned().ok_or_else(|| bad(format!("stage {i}: `$group` takes an object")))?);
            }
            "$count" => {
                if windowed {
                    return Err(bad(format!("stage {i}: `$count` after `$skip`/`$limit` is not supported")));
                }
                p.count = Some(arg.as_str().unwrap_or("count").to_owned());
            }
            "$lookup" => {
                let (rel, name) = lookup(i, arg, relations)?;
                if p.lookups.iter().any(|(_, n)| *n == name) {
                    return Err(bad(format!("stage {i}: `$lookup` repeats `as` name `{name}`")));
                }
                p.lookups.push((rel, name));
            }
            other => {
                return Err(bad(format!(
                    "stage {i}: unknown stage `{other}`; stages are $match, $search, $sort, $skip, $limit, $project, $lookup, $group, $count"
                )));
            }
        }
    }
    // `$lookup` aliases may be used anywhere in the pipeline, as in django-mcp-server.
    let aliases: Vec<(String, &'static str)> =
        p.lookups.iter().filter(|(r, n)| r.name != n).map(|(r, n)| (n.clone(), r.name)).collect();
    p.filter = p.filter.iter().map(|f| unalias(f, &aliases)).collect();
    for (_, src) in p.project.iter().flatten() {
        let Proj::Looked(alias, f) = src else { continue };
        let Some((rel, _)) = p.lookups.iter().find(|(_, n)| n == alias) else {
            return Err(bad(format!("`$project`: `${alias}` is not the `as` name of a `$lookup` stage")));
        };
        let visible = || rel.fields.iter().filter(|x| !x.hidden);
        if !visible().any(|x| x.name == f) {
            return Err(bad(format!(
                "`$project`: unknown field `{f}` of `{alias}`; the fields are {}",
                visible().map(|x| format!("`{}`", x.name)).collect::<Vec<_>>().join(", ")
            )));
        }
    }
    Ok(p)
}

/// A `$group` as the aggregate sees it: the field to group by, and each output name
/// with its metric (`count`, `sum:views`, ...).
struct GroupArgs {
    group: Option<String>,
    metrics: Vec<(String, String)>,
}

/// `{"_id": "$field" | null, "out": {"$sum": 1 | "$field"}, ...}` → [`GroupArgs`].
fn group_args(spec: &Map<String, Value>) -> Result<GroupArgs, ToolError> {
    let group = match spec.get("_id") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.starts_with('$') && s.contains('.') => {
            return Err(bad(format!(
                "`$group._id` groups by one of the collection's own fields; grouping by a looked-up field ({s}) is not supported"
            )));
        }
        Some(Value::String(s)) if s.starts_with('$') => Some(s[1..].to_owned()),
        Some(other) => {
            return Err(bad(format!("`$group._id` is null or \"$field\" (one field), not {other}")));
        }
    };
    let mut metrics = Vec::new();
    for (out, acc) in spec.iter().filter(|(k, _)| *k != "_id") {
        let (op, arg) = acc
            .as_object()
            .filter(|o| o.len() == 1)
            .and_then(|o| o.iter().next())
            .ok_or_else(|| bad(format!("`$group.{out}` takes one accumulator such as {{\"$sum\": 1}}")))?;
        let metric = match (op.as_str(), arg) {
            ("$sum", Value::Number(n)) if n.as_i64() == Some(1) => "count".to_owned(),
            ("$count", Value::Object(o)) if o.is_empty() => "count".to_owned(),
            ("$count", Value::Number(n)) if n.as_i64() == Some(1) => "count".to_owned(),
            ("$count", _) => {
                return Err(bad(format!(
                    "`$group.{out}`: `$count` counts rows ({{\"$count\": 1}}); counting the values of a field is not supported"
                )));
            }
            ("$sum" | "$avg" | "$min" | "$max", Value::String(f)) if f.starts_with('$') => {
                format!("{}:{}", &op[1..], &f[1..])
            }
            _ => {
                return Err(bad(format!(
                    "`$group.{out}`: accumulators are $sum (1 or \"$field\"), $avg, $min, $max of \"$field\", and $count"
                )));
            }
        };
        metrics.push((out.clone(), metric));
    }
    if metrics.is_empty() {
        metrics.push(("count".to_owned(), "count".to_owned()));
    }
    Ok(GroupArgs { group, metrics })
}

impl QueryTool {
    async fn run(&self, args: Map<String, Value>, ctx: &Context) -> Result<CallToolResult, ToolError> {
        if let Some(k) = args.keys().find(|k| !["collection", "pipeline"].contains(&k.as_str())) {
            return Err(bad(format!("unknown argument `{k}`; the arguments are `collection` and `pipeline`")));
        }
        let name = args.get("collection").and_then(Value::as_str).ok_or_else(|| bad("missing `collection`"))?;
        let c = self.collections.iter().find(|c| c.name() == name).ok_or_else(|| {
            bad(format!(
                "unknown collection `{name}`; the collections are {}",
                self.collections.iter().map(|c| format!("`{}`", c.name())).collect::<Vec<_>>().join(", ")
            ))
        })?;
        let stages = match args.get("pipeline") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(a)) if a.len() <= 20 => a.clone(),
            Some(_) => return Err(bad("`pipeline` is a list of at most 20 stages")),
        };
        let p = plan(&stages, &c.relations())?;
        let mut query = Map::new();
        match p.filter.len() {
            0 => {}
            1 => {
                query.insert("filter".into(), p.filter[0].clone());
            }
            _ => {
                query.insert("filter".into(), json!({ "$and": p.filter }));
            }
        }
        if let Some(s) = p.search {
            query.insert("search".into(), s);
        }
        if let Some(spec) = &p.group {
            if !c.can_group() {
                return Err(bad(format!("`$group` is not available on `{name}`")));
            }
            let GroupArgs { group, metrics } = group_args(spec)?;
            if let Some(g) = &group {
                query.insert("group_by".into(), json!(g));
            }
            let mut specs: Vec<&str> = metrics.iter().map(|(_, m)| m.as_str()).collect();
            specs.dedup();
            query.insert("metrics".into(), json!(specs));
            let out = c.aggregate(query, ctx).await?;
            let result = out.structured_value().unwrap_or_default();
            // Rename to the pipeline's names, with the group key as `_id`.
            let groups: Vec<Value> = result["groups"]
                .as_array()
                .map(Vec::as_slice)
                .unwrap_or_default()
                .iter()
                .map(|g| {
                    let mut row = Map::new();
                    row.insert("_id".into(), group.as_ref().map_or(Value::Null, |k| g[k].clone()));
                    for (out, metric) in &metrics {
                        row.insert(out.clone(), g[metric].clone());
                    }
                    Value::Object(row)
                })
                .collect();
            return Ok(CallToolResult::structured(
                json!({ "items": groups, "returned": groups.len(), "has_more": result["has_more"] }),
            ));
        }
        if let Some(out) = &p.count {
            let n = c.count(query, ctx).await?.structured_value().unwrap_or_default();
            return Ok(CallToolResult::structured(
                json!({ "items": [{ out: n["count"] }], "returned": 1, "has_more": false }),
            ));
        }
        if let Some(o) = p.order_by {
            query.insert("order_by".into(), o);
        }
        if let Some(project) = &p.project {
            // Looked-up rows are kept; `fields` names the collection's own fields.
            let mut own: Vec<Value> = Vec::new();
            for (_, src) in project {
                if let Proj::Field(f) = src
                    && !p.lookups.iter().any(|(_, n)| n == f)
                    && !own.contains(&json!(f))
                {
                    own.push(json!(f));
                }
            }
            if !own.is_empty() {
                query.insert("fields".into(), Value::Array(own));
            }
        }
        if !p.lookups.is_empty() {
            let mut names: Vec<&str> = p.lookups.iter().map(|(r, _)| r.name).collect();
            names.dedup();
            query.insert("include".into(), json!(names));
        }
        if p.skip > 0 {
            query.insert("offset".into(), json!(p.skip));
        }
        match p.limit {
            Some(0) => {
                return Ok(CallToolResult::structured(
                    json!({ "items": [], "returned": 0, "has_more": false, "truncated": false }),
                ));
            }
            Some(l) => {
                query.insert("limit".into(), json!(l));
            }
            None => {}
        }
        let out = c.list(query, ctx).await?;
        let reshaped =
            p.project.as_ref().is_some_and(|pr| pr.iter().any(|(k, src)| !matches!(src, Proj::Field(f) if f == k)));
        if p.lookups.is_empty() && !reshaped {
            return Ok(out);
        }
        let mut page = out.structured_value().unwrap_or_default();
        let Some(Value::Array(items)) = page.get_mut("items") else {
            return Ok(out);
        };
        // As `$lookup` gives them: a list of related rows under the `as` name.
        for item in items.iter_mut().filter_map(Value::as_object_mut) {
            let found: Vec<Option<Value>> = p.lookups.iter().map(|(r, _)| item.get(r.name).cloned()).collect();
            for (r, _) in &p.lookups {
                item.remove(r.name);
            }
            for ((r, name), v) in p.lookups.iter().zip(found) {
                let v = match v {
                    Some(Value::Array(a)) => Value::Array(a),
                    Some(Value::Null) | None => Value::Array(Vec::new()),
                    Some(one) if !r.many => Value::Array(vec![one]),
                    Some(other) => other,
                };
                item.insert(name.clone(), v);
            }
            // Renamed and looked-up fields, in the `$project`'s names.
            if let Some(project) = p.project.as_ref().filter(|_| reshaped) {
                let mut row = Map::new();
                for (k, src) in project {
                    let v = match src {
                        Proj::Field(f) => item.get(f).cloned().unwrap_or(Value::Null),
                        Proj::Looked(alias, f) => {
                            let found =
                                item.get(alias).and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
                            let many = p.lookups.iter().any(|(r, n)| n == alias && r.many);
                            let values = found.iter().map(|r| r.get(f).cloned().unwrap_or(Value::Null));
                            if many {
                                Value::Array(values.collect())
                            } else {
                                values.into_iter().next().unwrap_or(Value::Null)
                            }
                        }
                    };
                    row.insert(k.clone(), v);
                }
                *item = row;
            }
        }
        Ok(CallToolResult::structured(page))
    }
}

impl Toolset for QueryTool {
    fn tools(&self) -> Vec<Tool> {
        let names: Vec<&str> = self.collections.iter().map(|c| c.name()).collect();
        let about: Vec<String> = self
            .collections
            .iter()
            .map(|c| {
                let rels = c.relations();
                let lookups = if rels.is_empty() {
                    String::new()
                } else {
                    format!("\n$lookup: {}", rels.iter().map(lookup_words).collect::<Vec<_>>().join(", "))
                };
                format!("`{}`:\n{}{lookups}", c.name(), c.describe())
            })
            .collect();
        vec![
            Tool::new("query")
            .title("Query a collection")
            .description(format!(
                "Run a pipeline of stages over one collection: `$match` (a filter, as in the `_list` tools; `{{\"$text\": {{\"$search\": \"words\"}}}}` searches), \
                 `$search` (\"words\" or {{\"text\": {{\"query\": \"words\"}}}}: every word must appear), `$sort` ({{\"field\": 1 | -1}}, or a list of those for several keys), `$skip`, `$limit`, \
                 `$project` ({{\"field\": 1, \"name\": \"$field\", \"name\": \"$alias.field\"}}), \
                 `$lookup` ({{\"from\", \"localField\", \"foreignField\", \"as\"}}: the rows of a declared relation, as a list; `_id` names a key; \
                 `alias.field` then works in `$match`), \
                 then optionally `$group` ({{\"_id\": \"$field\" | null, \"n\": {{\"$sum\": 1}}, \"total\": {{\"$sum\": \"$views\"}}}}) \
                 or `$count` (\"name\"). `$match`, `$search` and `$sort` come before `$skip`/`$limit`.\n\nCollections and fields:\n{}",
                about.join("\n")
            ))
            .input_schema(json!({
                "type": "object",
                "properties": {
                    "collection": { "type": "string", "enum": names },
                    "pipeline": { "type": "array", "items": { "type": "object" }, "maxItems": 20 },
                },
                "required": ["collection"],
                "additionalProperties": false,
            }))
            .annotations(ToolAnnotations {
                read_only_hint: Some(true),
                idempotent_hint: Some(true),
                open_world_hint: Some(false),
                ..Default::default()
            }),
        ]
    }

    fn call_tool<'a>(
        &'a self,
        _index: usize,
        args: Map<String, Value>,
        ctx: &'a Context,
    ) -> BoxFuture<'a, Result<CallToolResult, ToolError>> {
        Box::pin(self.run(args, ctx))
    }
}
