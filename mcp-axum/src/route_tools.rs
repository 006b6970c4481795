//! [`RouteTools`]: the axum handlers an app already has, served as MCP tools through the
//! app's own [`Router`], with every layer it has.
//!
//! `#[mcp_tool]` on a free `async fn` handler leaves the handler as written and adds a
//! hidden struct of the same name (it lives in the type namespace only) that describes it:
//! its `Path`, `Query` and `Json` extractors, the `Json<T>` it returns, its doc comment and
//! attributes. [`RouteTools`] turns each registered handler into a tool; a call becomes a
//! real HTTP request sent through the router with [`tower::ServiceExt::oneshot`].

use std::fmt::Write as _;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use http::{HeaderMap, HeaderName, HeaderValue, Method, Request, StatusCode, header};
use mcp_core::protocol::{CallToolResult, Content, Tool, ToolAnnotations};
use mcp_core::server::{BoxFuture, Toolset};
use mcp_core::{Context, Principal, ToolError};
use serde_json::{Map, Value};
use tower::ServiceExt as _;

/// The marker extension of a request that [`RouteTools`] sends through the app: a handler
/// or a layer that wants to tell an MCP call from a browser call extracts
/// `Option<Extension<McpCall>>`.
///
/// Only code in the process can put it there (HTTP clients cannot send extensions), so the
/// [`principal`](McpCall::principal) the MCP endpoint authenticated can be trusted.
#[derive(Clone, Debug)]
pub struct McpCall {
    tool: Arc<str>,
    principal: Option<Principal>,
}

impl McpCall {
    /// The name of the tool being called.
    pub fn tool(&self) -> &str {
        &self.tool
    }

    /// The caller the MCP endpoint authenticated, if it did.
    pub fn principal(&self) -> Option<&Principal> {
        self.principal.as_ref()
    }
}

/// The headers of the HTTP request that carried an MCP message, in the
/// [`Context`] of every request served over HTTP (`ctx.get::<RequestHeaders>()`).
#[derive(Clone, Debug, Default)]
pub struct RequestHeaders(HeaderMap);

impl RequestHeaders {
    /// A copy of `headers`.
    pub fn new(headers: &HeaderMap) -> Self {
        RequestHeaders(headers.clone())
    }

    /// The headers.
    pub fn headers(&self) -> &HeaderMap {
        &self.0
    }
}

impl From<HeaderMap> for RequestHeaders {
    fn from(headers: HeaderMap) -> Self {
        RequestHeaders(headers)
    }
}

/// A handler annotated with `#[mcp_tool]`: implemented by the macro on the hidden struct
/// that has the handler's name, and named by [`RouteTools::route`] and friends
/// (`.post::<create_post>("/api/posts")`).
pub trait RouteHandler {
    /// What the handler's signature and attributes say.
    fn route_info() -> RouteInfo;
}

/// A JSON Schema with the definitions its `$ref`s need (recursive types only).
#[derive(Clone, Debug)]
struct Part {
    schema: Value,
    defs: Map<String, Value>,
}

impl Part {
    fn of<T: schemars::JsonSchema>() -> Part {
        let mut s = mcp_core::__private::InputSchema::new();
        s.property::<T>(&mcp_core::__private::ParamSpec { name: "v", required: true, ..Default::default() });
        let mut m = s.finish();
        let schema = m.get_mut("properties").and_then(|p| p.get_mut("v")).map(Value::take).unwrap_or(Value::Bool(true));
        let defs = match m.remove("$defs") {
            Some(Value::Object(d)) => d,
            _ => Map::new(),
        };
        Part { schema, defs }
    }

    /// The properties and required names of an object schema that can be merged into
    /// another object: plain properties, nothing conditional, no extra properties.
    fn object_fields(&self) -> Option<(&Map<String, Value>, Vec<String>)> {
        let m = self.schema.as_object()?;
        if m.get("type") != Some(&Value::String("object".into())) {
            return None;
        }
        let plain = m.iter().all(|(k, v)| match k.as_str() {
            "type" | "properties" | "required" | "description" | "title" => true,
            "additionalProperties" => v == &Value::Bool(false),
            _ => false,
        });
        if !plain {
            return None;
        }
        let props = m.get("properties")?.as_object()?;
        let required = m
            .get("required")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).map(str::to_owned).collect())
            .unwrap_or_default();
        Some((props, required))
    }
}

/// What `#[mcp_tool]` found on a handler. Built by generated code; see [`RouteHandler`].
#[derive(Clone, Debug, Default)]
pub struct RouteInfo {
    handler: &'static str,
    name: Option<&'static str>,
    title: Option<&'static str>,
    description: Option<String>,
    read_only: Option<bool>,
    destructive: Option<bool>,
    idempotent: Option<bool>,
    open_world: Option<bool>,
    scopes: Vec<&'static str>,
    public: bool,
    icons: Vec<&'static str>,
    meta: Option<Value>,
    path: Option<Part>,
    query: Option<Part>,
    body: Option<Part>,
    output: Option<Map<String, Value>>,
}

#[doc(hidden)]
impl RouteInfo {
    /// For the handler named `handler`.
    pub fn new(handler: &'static str) -> Self {
        RouteInfo { handler, ..Default::default() }
    }
    /// `name = "..."`.
    pub fn name(&mut self, name: &'static str) {
        self.name = Some(name);
    }
    /// `title = "..."`.
    pub fn title(&mut self, title: &'static str) {
        self.title = Some(title);
    }
    /// `description = "..."` or the doc comment.
    pub fn description(&mut self, text: &str) {
        self.description = mcp_core::__private::description(text);
    }
    /// The annotation attributes.
    pub fn hints(
        &mut self,
        read_only: Option<bool>,
        destructive: Option<bool>,
        idempotent: Option<bool>,
        open_world: Option<bool>,
    ) {
        (self.read_only, self.destructive, self.idempotent, self.open_world) =
            (read_only, destructive, idempotent, open_world);
    }
    /// `scopes = "..."`.
    pub fn scopes(&mut self, scopes: &[&'static str]) {
        self.scopes.extend_from_slice(scopes);
    }
    /// `public`.
    pub fn public(&mut self) {
        self.public = true;
    }
    /// `icon = "..."`.
    pub fn icon(&mut self, url: &'static str) {
        self.icons.push(url);
    }
    /// `meta = ...`.
    pub fn meta(&mut self, meta: Value) {
        self.meta = Some(meta);
    }
}

/// Who may call a route tool.
#[derive(Clone, Debug, PartialEq)]
enum Access {
    /// `scopes = "..."` on the handler.
    Scopes(Vec<String>),
    /// `public` on the handler, or a read (`GET`, `HEAD`, `read_only`): no scope.
    Open,
    /// A write without an explicit choice: the [`RouteTools::write_scopes`].
    Write,
}

/// One registered route.
#[derive(Clone, Debug)]
struct RouteTool {
    tool: Tool,
    access: Access,
    method: Method,
    /// The path template, split into literal text and parameters.
    segments: Vec<Segment>,
    /// Where each argument goes (flattened schemas), or `None` for `path`/`query`/`body`.
    flat: Option<FlatArgs>,
    has_query: bool,
    has_body: bool,
}

#[derive(Clone, Debug, PartialEq)]
enum Segment {
    Text(String),
    /// `{name}`, or `{*name}` (a wildcard, which keeps its `/`s).
    Param {
        name: String,
        wildcard: bool,
    },
}

#[derive(Clone, Debug, Default)]
struct FlatArgs {
    query: Vec<String>,
    body: Vec<String>,
}

/// Arguments split into path parameters, query and body.
type Split = (Map<String, Value>, Option<Value>, Option<Value>);

/// Parse an axum path template (`/api/posts/{id}`, `/files/{*path}`).
fn parse_template(path: &str) -> Result<Vec<Segment>, String> {
    if !path.starts_with('/') {
        return Err(format!("the route `{path}` must start with `/`"));
    }
    let mut out = Vec::new();
    let mut rest = path;
    while let Some(open) = rest.find('{') {
        let (text, tail) = rest.split_at(open);
        if text.contains('}') {
            return Err(format!("the route `{path}` has an unmatched `}}`"));
        }
        // `{{` is a literal brace in axum templates.
        if let Some(after) = tail.strip_prefix("{{") {
            push_text(&mut out, &format!("{text}{{"));
            rest = after;
            continue;
        }
        let close = tail.find('}').ok_or_else(|| format!("the route `{path}` has an unclosed `{{`"))?;
        let inner = &tail[1..close];
        let (name, wildcard) = match inner.strip_prefix('*') {
            Some(n) => (n, true),
            None => (inner, false),
        };
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(format!("the route `{path}` has a parameter `{{{inner}}}` that is not a name"));
        }
        if out.iter().any(|s| matches!(s, Segment::Param { name: n, .. } if n == name)) {
            return Err(format!("the route `{path}` names the parameter `{name}` twice"));
        }
        push_text(&mut out, text);
        out.push(Segment::Param { name: name.to_owned(), wildcard });
        rest = &tail[close + 1..];
    }
    if rest.contains('}') && !rest.contains("}}") {
        return Err(format!("the route `{path}` has an unmatched `}}`"));
    }
    push_text(&mut out, &rest.replace("}}", "}"));
    Ok(out)
}

fn push_text(out: &mut Vec<Segment>, text: &str) {
    if text.is_empty() {
        return;
    }
    match out.last_mut() {
        Some(Segment::Text(t)) => t.push_str(text),
        _ => out.push(Segment::Text(text.to_owned())),
    }
}

fn params(segments: &[Segment]) -> impl Iterator<Item = &str> {
    segments.iter().filter_map(|s| match s {
        Segment::Param { name, .. } => Some(name.as_str()),
        Segment::Text(_) => None,
    })
}

/// `<method>_<path>` in snake case: `post_api_posts`, `get_api_posts_id`.
fn default_name(method: &Method, path: &str) -> String {
    let mut name = method.as_str().to_ascii_lowercase();
    let mut gap = true;
    for c in path.chars() {
        if c.is_ascii_alphanumeric() {
            if gap {
                name.push('_');
            }
            name.push(c.to_ascii_lowercase());
            gap = false;
        } else {
            gap = true;
        }
    }
    name.truncate(128);
    name
}

/// The schema of each path parameter: the `Path` type's field of that name, the tuple
/// element at its position, the scalar itself for a single parameter, else a string.
fn path_schemas(segments: &[Segment], path: Option<&Part>) -> Vec<(String, Value)> {
    let names: Vec<&str> = params(segments).collect();
    let schema = path.map(|p| &p.schema);
    let props = schema.and_then(|s| s.get("properties")).and_then(Value::as_object);
    let items = schema.and_then(|s| s.get("prefixItems")).and_then(Value::as_array);
    let is_object = schema.and_then(|s| s.get("type")) == Some(&Value::String("object".into()));
    names
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let s = match (props, items, schema) {
                (Some(p), _, _) => p.get(*name).cloned(),
                (None, Some(items), _) => items.get(i).cloned(),
                (None, None, Some(s)) if !is_object && names.len() == 1 => Some(s.clone()),
                _ => None,
            };
            (name.to_string(), s.unwrap_or_else(|| serde_json::json!({ "type": "string" })))
        })
        .collect()
}

/// Whether the handler's `Path<T>` can read what the route captures: every required
/// field of a struct is a parameter, a tuple has one element per parameter, a single
/// value needs exactly one parameter.
fn path_mismatch(segments: &[Segment], part: &Part, path: &str) -> Option<String> {
    let names: Vec<&str> = params(segments).collect();
    let schema = part.schema.as_object()?;
    if let Some((_, required)) = part.object_fields() {
        let missing: Vec<&str> = required.iter().map(String::as_str).filter(|f| !names.contains(f)).collect();
        return (!missing.is_empty()).then(|| {
            format!(
                "the handler's `Path` reads {}, which the route `{path}` does not capture",
                list(missing.into_iter())
            )
        });
    }
    if let Some(items) = schema.get("prefixItems").and_then(Value::as_array) {
        return (items.len() != names.len()).then(|| {
            format!(
                "the handler's `Path` is a tuple of {}, but the route `{path}` captures {} parameters",
                items.len(),
                names.len()
            )
        });
    }
    let scalar = !matches!(schema.get("type"), Some(Value::String(t)) if t == "object" || t == "array");
    (scalar && names.len() != 1).then(|| {
        format!("the handler's `Path` takes one value, but the route `{path}` captures {} parameters", names.len())
    })
}

fn object_schema(props: Map<String, Value>, required: Vec<String>) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("type".into(), "object".into());
    m.insert("properties".into(), Value::Object(props));
    if !required.is_empty() {
        m.insert("required".into(), Value::Array(required.into_iter().map(Value::String).collect()));
    }
    m.insert("additionalProperties".into(), Value::Bool(false));
    m
}

impl RouteTool {
    fn new(info: RouteInfo, method: Method, path: &str) -> RouteTool {
        let name = info.name.map(str::to_owned).unwrap_or_else(|| default_name(&method, path));
        let (segments, problem) = match parse_template(path) {
            Ok(s) => {
                let problem = info.path.as_ref().and_then(|p| path_mismatch(&s, p, path));
                (s, problem)
            }
            Err(e) => (Vec::new(), Some(e)),
        };
        let path_props = path_schemas(&segments, info.path.as_ref());
        let mut defs = Map::new();
        for part in [&info.path, &info.query, &info.body].into_iter().flatten() {
            defs.extend(part.defs.clone());
        }

        // Flatten when every part is a plain object and no name is used twice.
        let query_fields = info.query.as_ref().map(Part::object_fields);
        let body_fields = info.body.as_ref().map(Part::object_fields);
        let mut flat = None;
        if !matches!(query_fields, Some(None)) && !matches!(body_fields, Some(None)) {
            let mut props = Map::new();
            let mut required = Vec::new();
            let mut args = FlatArgs::default();
            let mut clash = false;
            for (n, s) in &path_props {
                props.insert(n.clone(), s.clone());
                required.push(n.clone());
            }
            for (fields, names) in [(&query_fields, &mut args.query), (&body_fields, &mut args.body)] {
                if let Some(Some((p, r))) = fields {
                    for (n, s) in p.iter() {
                        clash |= props.insert(n.clone(), s.clone()).is_some();
                        names.push(n.clone());
                    }
                    required.extend(r.iter().cloned());
                }
            }
            if !clash {
                flat = Some((object_schema(props, required), args));
            }
        }
        let (mut input, flat) = match flat {
            Some((schema, args)) => (schema, Some(args)),
            None => {
                let mut props = Map::new();
                let mut required = Vec::new();
                if !path_props.is_empty() {
                    let names = path_props.iter().map(|(n, _)| n.clone()).collect();
                    props.insert("path".into(), Value::Object(object_schema(path_props.into_iter().collect(), names)));
                    required.push("path".to_owned());
                }
                if let Some(q) = &info.query {
                    props.insert("query".into(), q.schema.clone());
                    if q.schema.get("required").and_then(Value::as_array).is_some_and(|r| !r.is_empty()) {
                        required.push("query".to_owned());
                    }
                }
                if let Some(b) = &info.body {
                    props.insert("body".into(), b.schema.clone());
                    required.push("body".to_owned());
                }
                (object_schema(props, required), None)
            }
        };
        if !defs.is_empty() {
            input.insert("$defs".into(), Value::Object(defs));
        }
        if let Some(p) = problem {
            // The server refuses to build, naming the tool; the log says why.
            tracing::error!(tool = %name, "route tool `{name}` ({method} {path}): {p}");
            input.remove("type");
            input.insert("description".into(), Value::String(p));
        }

        let get = method == Method::GET || method == Method::HEAD;
        let access = if !info.scopes.is_empty() {
            Access::Scopes(info.scopes.iter().map(|s| (*s).to_owned()).collect())
        } else if info.public || info.read_only.unwrap_or(get) {
            Access::Open
        } else {
            Access::Write
        };
        let annotations = ToolAnnotations {
            title: None,
            read_only_hint: info.read_only.or(get.then_some(true)),
            destructive_hint: info.destructive.or((method == Method::DELETE).then_some(true)),
            idempotent_hint: info.idempotent.or((method == Method::PUT || method == Method::DELETE).then_some(true)),
            open_world_hint: info.open_world,
        };
        let description = info.description.clone().unwrap_or_else(|| format!("`{method} {path}`"));
        let mut tool = mcp_core::__private::tool(
            &name,
            info.title,
            &description,
            input,
            info.output.clone(),
            annotations,
            &info.icons,
            info.meta.clone(),
        );
        if tool.description.is_none() {
            tool.description = Some(format!("`{method} {path}` ({})", info.handler));
        }
        RouteTool {
            tool,
            access,
            method,
            segments,
            flat,
            has_query: info.query.is_some(),
            has_body: info.body.is_some(),
        }
    }

    /// Split the arguments into path parameters, query and body.
    fn split(&self, mut args: Map<String, Value>) -> Result<Split, ToolError> {
        let names: Vec<&str> = params(&self.segments).collect();
        let mut path = Map::new();
        let (mut query, mut body) = (None, None);
        match &self.flat {
            Some(flat) => {
                let mut q = Map::new();
                let mut b = Map::new();
                for (k, v) in args {
                    if names.contains(&k.as_str()) {
                        path.insert(k, v);
                    } else if flat.query.contains(&k) {
                        q.insert(k, v);
                    } else if flat.body.contains(&k) {
                        b.insert(k, v);
                    } else {
                        return Err(unknown_argument(&k, &self.tool));
                    }
                }
                if self.has_query {
                    query = Some(Value::Object(q));
                }
                if self.has_body {
                    body = Some(Value::Object(b));
                }
            }
            None => {
                if let Some(p) = args.remove("path") {
                    match p {
                        Value::Object(m) => path = m,
                        _ => return Err(ToolError::invalid_arguments("invalid argument `path`: expected an object")),
                    }
                }
                if self.has_query {
                    query = args.remove("query");
                }
                if self.has_body {
                    body = Some(
                        args.remove("body")
                            .ok_or_else(|| ToolError::invalid_arguments("missing required argument `body`"))?,
                    );
                }
                if let Some(k) = args.keys().next() {
                    return Err(unknown_argument(k, &self.tool));
                }
            }
        }
        Ok((path, query, body))
    }

    /// The request URI: the template with its parameters filled in, and the query string.
    fn uri(&self, path: &Map<String, Value>, query: Option<&Value>) -> Result<String, ToolError> {
        let mut uri = String::new();
        for s in &self.segments {
            match s {
                Segment::Text(t) => uri.push_str(t),
                Segment::Param { name, wildcard } => {
                    let v = path
                        .get(name)
                        .filter(|v| !v.is_null())
                        .ok_or_else(|| ToolError::invalid_arguments(format!("missing required argument `{name}`")))?;
                    let text = scalar_text(v).ok_or_else(|| {
                        ToolError::invalid_arguments(format!(
                            "invalid argument `{name}`: expected a string or a number, got {v}"
                        ))
                    })?;
                    if text.is_empty() {
                        return Err(ToolError::invalid_arguments(format!(
                            "invalid argument `{name}`: must not be empty"
                        )));
                    }
                    percent_encode(&mut uri, &text, *wildcard);
                }
            }
        }
        if let Some(k) = path.keys().find(|k| !params(&self.segments).any(|n| n == k.as_str())) {
            return Err(ToolError::invalid_arguments(format!(
                "unknown path parameter `{k}`; the route has {}",
                list(params(&self.segments))
            )));
        }
        match query {
            None | Some(Value::Null) => {}
            Some(Value::Object(q)) => {
                let mut first = true;
                for (k, v) in q {
                    let values: Vec<&Value> = match v {
                        Value::Array(a) => a.iter().collect(),
                        other => vec![other],
                    };
                    for item in values.into_iter().filter(|v| !v.is_null()) {
                        let text = scalar_text(item).ok_or_else(|| {
                            ToolError::invalid_arguments(format!(
                                "invalid argument `{k}`: a query parameter is a string, number, boolean or a list of them, not {item}"
                            ))
                        })?;
                        uri.push(if first { '?' } else { '&' });
                        first = false;
                        percent_encode(&mut uri, k, false);
                        uri.push('=');
                        percent_encode(&mut uri, &text, false);
                    }
                }
            }
            Some(other) => {
                return Err(ToolError::invalid_arguments(format!(
                    "invalid argument `query`: expected an object, got {other}"
                )));
            }
        }
        Ok(uri)
    }
}

fn unknown_argument(name: &str, tool: &Tool) -> ToolError {
    let known =
        tool.input_schema.get("properties").and_then(Value::as_object).map(|p| list(p.keys().map(String::as_str)));
    ToolError::invalid_arguments(format!(
        "unknown argument `{name}`; `{}` takes {}",
        tool.name,
        known.unwrap_or_else(|| "no arguments".into())
    ))
}

fn list<'a>(names: impl Iterator<Item = &'a str>) -> String {
    let names: Vec<String> = names.map(|n| format!("`{n}`")).collect();
    if names.is_empty() { "no arguments".into() } else { names.join(", ") }
}

fn scalar_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Percent-encode everything but the unreserved characters (and `/` in a wildcard).
fn percent_encode(out: &mut String, text: &str, keep_slash: bool) {
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') || (keep_slash && b == b'/') {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
}

/// Headers of the MCP request that describe that request or its connection, not the
/// caller: they are not forwarded.
fn forwarded(name: &HeaderName, connection: &[String]) -> bool {
    const SKIP: &[&str] = &[
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "host",
        "content-length",
        "content-type",
        "content-encoding",
        "accept",
        "accept-encoding",
        "expect",
        "mcp-session-id",
        "mcp-protocol-version",
        "mcp-method",
        "mcp-name",
        "last-event-id",
    ];
    let n = name.as_str();
    !SKIP.contains(&n) && !connection.iter().any(|c| c == n)
}

/// How an HTTP refusal of the app reads for the agent: the one place where 401 and 403
/// get their meaning (a later version may answer them with the MCP endpoint's own 401/403).
fn refusal(status: StatusCode) -> Option<&'static str> {
    match status {
        StatusCode::UNAUTHORIZED => Some("the app refused authentication"),
        StatusCode::FORBIDDEN => Some("the app refused permission"),
        _ => None,
    }
}

/// The error text of a failed response: the status and the body's message.
fn error_text(status: StatusCode, json: Option<&Value>, text: &str) -> String {
    let status_text = match status.canonical_reason() {
        Some(r) => format!("HTTP {} {r}", status.as_u16()),
        None => format!("HTTP {}", status.as_u16()),
    };
    let head = match refusal(status) {
        Some(r) => format!("{r} ({status_text})"),
        None => status_text,
    };
    let message = match json {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Object(m)) => {
            let main = ["message", "error", "detail", "title"].iter().find_map(|k| m.get(*k).and_then(Value::as_str));
            match main {
                Some(msg) if m.len() == 1 => msg.to_owned(),
                Some(msg) => format!("{msg}\n{}", Value::Object(m.clone())),
                None => Value::Object(m.clone()).to_string(),
            }
        }
        Some(other) => other.to_string(),
        None => {
            let t = text.trim();
            match t.char_indices().nth(2000) {
                Some((i, _)) => format!("{}…", &t[..i]),
                None => t.to_owned(),
            }
        }
    };
    if message.is_empty() { head } else { format!("{head}: {message}") }
}

fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|m| {
            let m = m.trim().to_ascii_lowercase();
            m == "application/json" || m.ends_with("+json")
        })
        .unwrap_or(false)
}

/// Existing axum handlers as MCP tools. See the [crate docs](crate#rest-handlers-as-tools).
///
/// Each tool sends a real request through `app`: give it the router with the layers that
/// must apply (authentication, rate limits, tracing). It implements
/// [`Toolset`], so it goes into a [`Server`](mcp_core::Server) beside `#[mcp_toolset]` and
/// model tools.
#[derive(Clone)]
pub struct RouteTools {
    app: Router,
    routes: Vec<RouteTool>,
    response_limit: usize,
    write_scopes: Vec<String>,
    unscoped_writes: bool,
}

impl std::fmt::Debug for RouteTools {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.routes.iter().map(|r| r.tool.name.as_str()).collect();
        f.debug_struct("RouteTools").field("tools", &names).finish_non_exhaustive()
    }
}

impl RouteTools {
    /// Tools that call `app`.
    pub fn new(app: Router) -> Self {
        RouteTools {
            app,
            routes: Vec::new(),
            response_limit: 16 * 1024 * 1024,
            write_scopes: Vec::new(),
            unscoped_writes: false,
        }
    }

    /// Serve the handler `H` (annotated with `#[mcp_tool]`), routed in the app at
    /// `method` and the path template `path` (as given to [`Router::route`]).
    pub fn route<H: RouteHandler>(mut self, method: Method, path: &str) -> Self {
        self.routes.push(RouteTool::new(H::route_info(), method, path));
        self
    }

    /// [`route`](Self::route) with `GET`.
    pub fn get<H: RouteHandler>(self, path: &str) -> Self {
        self.route::<H>(Method::GET, path)
    }

    /// [`route`](Self::route) with `POST`.
    pub fn post<H: RouteHandler>(self, path: &str) -> Self {
        self.route::<H>(Method::POST, path)
    }

    /// [`route`](Self::route) with `PUT`.
    pub fn put<H: RouteHandler>(self, path: &str) -> Self {
        self.route::<H>(Method::PUT, path)
    }

    /// [`route`](Self::route) with `PATCH`.
    pub fn patch<H: RouteHandler>(self, path: &str) -> Self {
        self.route::<H>(Method::PATCH, path)
    }

    /// [`route`](Self::route) with `DELETE`.
    pub fn delete<H: RouteHandler>(self, path: &str) -> Self {
        self.route::<H>(Method::DELETE, path)
    }

    /// The OAuth scopes every writing route tool needs: those of a method other than
    /// `GET` and `HEAD`, unless the handler says `read_only`, `public` or its own
    /// `scopes = "..."`. Without write scopes (or [`unscoped_writes`](Self::unscoped_writes))
    /// a server with such a tool refuses to build: a tool that changes data is never
    /// open to every signed-in caller by accident.
    pub fn write_scopes<I: IntoIterator<Item = S>, S: Into<String>>(mut self, scopes: I) -> Self {
        self.write_scopes.extend(scopes.into_iter().map(Into::into));
        self
    }

    /// Let writing route tools without their own `scopes` be called without a scope: for
    /// an app whose callers are all trusted alike (no OAuth scopes, a local tool). The
    /// app's own checks still run on every call.
    pub fn unscoped_writes(mut self) -> Self {
        self.unscoped_writes = true;
        self
    }

    /// Largest response body a tool reads from the app (default 16 MiB); a larger one is
    /// an `isError` result.
    pub fn response_limit(mut self, bytes: usize) -> Self {
        self.response_limit = bytes;
        self
    }

    fn request(&self, route: &RouteTool, args: Map<String, Value>, ctx: &Context) -> Result<Request<Body>, ToolError> {
        let (path, query, body) = route.split(args)?;
        let uri = route.uri(&path, query.as_ref())?;
        let body_bytes = match &body {
            Some(b) => serde_json::to_vec(b).map_err(|e| ToolError::internal(e.to_string()))?,
            None => Vec::new(),
        };
        let mut req =
            Request::builder().method(route.method.clone()).uri(&uri).body(Body::from(body_bytes)).map_err(|e| {
                ToolError::invalid_arguments(format!("the arguments do not make a valid request URI `{uri}`: {e}"))
            })?;
        let headers = req.headers_mut();
        if let Some(h) = ctx.get::<RequestHeaders>() {
            let connection: Vec<String> = h
                .headers()
                .get_all(header::CONNECTION)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .flat_map(|v| v.split(','))
                .map(|t| t.trim().to_ascii_lowercase())
                .collect();
            for (name, value) in h.headers().iter().filter(|(n, _)| forwarded(n, &connection)) {
                headers.append(name.clone(), value.clone());
            }
        }
        headers.insert(header::ACCEPT, HeaderValue::from_static("application/json"));
        if body.is_some() {
            headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
        }
        req.extensions_mut()
            .insert(McpCall { tool: Arc::from(route.tool.name.as_str()), principal: ctx.principal().cloned() });
        Ok(req)
    }

    async fn call(
        &self,
        route: &RouteTool,
        args: Map<String, Value>,
        ctx: &Context,
    ) -> Result<CallToolResult, ToolError> {
        let req = self.request(route, args, ctx)?;
        let response = match self.app.clone().oneshot(req).await {
            Ok(r) => r,
            Err(never) => match never {},
        };
        let (parts, body) = response.into_parts();
        let bytes = axum::body::to_bytes(body, self.response_limit).await.map_err(|_| {
            ToolError::internal(format!(
                "the response of `{} {}` could not be read (larger than {} bytes, or broken)",
                route.method, parts.status, self.response_limit
            ))
        })?;
        let json: Option<Value> = if is_json(&parts.headers) { serde_json::from_slice(&bytes).ok() } else { None };
        let text = String::from_utf8_lossy(&bytes);
        let status = parts.status;
        if !status.is_success() {
            let mut message = error_text(status, json.as_ref(), &text);
            if status.is_redirection()
                && let Some(loc) = parts.headers.get(header::LOCATION).and_then(|v| v.to_str().ok())
            {
                let _ = write!(message, " (redirect to `{loc}`, not followed)");
            }
            return Ok(CallToolResult::error(message));
        }
        Ok(match json {
            Some(v) => CallToolResult::structured(v),
            None if bytes.is_empty() => CallToolResult::text(match status.canonical_reason() {
                Some(r) => format!("HTTP {} {r}", status.as_u16()),
                None => format!("HTTP {}", status.as_u16()),
            }),
            None => CallToolResult::success(vec![Content::text(text.into_owned())]),
        })
    }
}

impl Toolset for RouteTools {
    fn tools(&self) -> Vec<Tool> {
        self.routes.iter().map(|r| r.tool.clone()).collect()
    }

    fn tool_scopes(&self, index: usize) -> Vec<String> {
        match self.routes.get(index).map(|r| &r.access) {
            Some(Access::Scopes(s)) => s.clone(),
            Some(Access::Write) => self.write_scopes.clone(),
            Some(Access::Open) | None => Vec::new(),
        }
    }

    fn build_errors(&self) -> Vec<String> {
        if !self.write_scopes.is_empty() || self.unscoped_writes {
            return Vec::new();
        }
        self.routes
            .iter()
            .filter(|r| r.access == Access::Write)
            .map(|r| {
                format!(
                    "route tool `{}` (`{}`) can change data but requires no scope: give the route tools the \
                     scope writes need (`RouteTools::write_scopes([\"app:write\"])`), annotate the handler with \
                     `#[mcp_tool(scopes = \"...\")]` (or `read_only` if it changes nothing, `public` if anyone \
                     may call it), or call `RouteTools::unscoped_writes()` when every caller may write",
                    r.tool.name, r.method
                )
            })
            .collect()
    }

    fn call_tool<'a>(
        &'a self,
        index: usize,
        arguments: Map<String, Value>,
        ctx: &'a Context,
    ) -> BoxFuture<'a, Result<CallToolResult, ToolError>> {
        Box::pin(async move {
            let Some(route) = self.routes.get(index) else {
                return Err(ToolError::not_found(format!("tool #{index} is not implemented")));
            };
            self.call(route, arguments, ctx).await
        })
    }
}

/// Support for the code `#[mcp_tool]` generates on a handler. Not public API.
///
/// Each extractor is classified with autoref specialization: `Path<T>`, `Query<T>` and
/// `Json<T>` describe arguments (and need `T: Deserialize + JsonSchema`); any other body
/// extractor (`FromRequest<()>`: `String`, `Bytes`, `Form<T>`, `Multipart`...) is a
/// compile error; everything else (`State`, headers, the app's own extractors) is not an
/// argument.
#[doc(hidden)]
pub mod __private {
    use std::marker::PhantomData;

    use schemars::JsonSchema;
    use serde::Serialize;
    use serde::de::DeserializeOwned;

    pub use super::{RouteHandler, RouteInfo};
    pub use mcp_core::__private::serde_json;

    use super::Part;

    /// A type-level marker for autoref specialization.
    pub struct Probe<T: ?Sized>(PhantomData<fn() -> PhantomData<T>>);

    impl<T: ?Sized> Probe<T> {
        /// The probe.
        pub const fn new() -> Self {
            Probe(PhantomData)
        }
    }

    impl<T: ?Sized> Default for Probe<T> {
        fn default() -> Self {
            Self::new()
        }
    }

    /// Why a `Path` extractor cannot describe the tool's arguments.
    #[diagnostic::on_unimplemented(
        message = "`Path<{Self}>` cannot describe the arguments of an MCP route tool",
        label = "`{Self}` does not implement `schemars::JsonSchema` and `serde::Deserialize`",
        note = "the path parameters become tool arguments; derive `JsonSchema` (from `mcp_core::schemars`) and `Deserialize` on `{Self}`"
    )]
    pub trait PathArguments: DeserializeOwned + JsonSchema {}
    impl<T: DeserializeOwned + JsonSchema> PathArguments for T {}

    /// Why a `Query` extractor cannot describe the tool's arguments.
    #[diagnostic::on_unimplemented(
        message = "`Query<{Self}>` cannot describe the arguments of an MCP route tool",
        label = "`{Self}` does not implement `schemars::JsonSchema` and `serde::Deserialize`",
        note = "the query parameters become tool arguments; derive `JsonSchema` (from `mcp_core::schemars`) and `Deserialize` on `{Self}`"
    )]
    pub trait QueryArguments: DeserializeOwned + JsonSchema {}
    impl<T: DeserializeOwned + JsonSchema> QueryArguments for T {}

    /// Why a `Json` extractor cannot describe the tool's arguments.
    #[diagnostic::on_unimplemented(
        message = "`Json<{Self}>` cannot describe the arguments of an MCP route tool",
        label = "`{Self}` does not implement `schemars::JsonSchema` and `serde::Deserialize`",
        note = "the JSON body becomes tool arguments; derive `JsonSchema` (from `mcp_core::schemars`) and `Deserialize` on `{Self}`"
    )]
    pub trait BodyArguments: DeserializeOwned + JsonSchema {}
    impl<T: DeserializeOwned + JsonSchema> BodyArguments for T {}

    /// A body extractor other than `Json<T>`: never implemented.
    #[diagnostic::on_unimplemented(
        message = "the body extractor `{Self}` cannot describe the arguments of an MCP route tool",
        label = "an agent cannot know what to send here",
        note = "take the body as `axum::Json<T>` with `T: Deserialize + JsonSchema`, or leave this handler out of the tools"
    )]
    pub trait DescribedBody {}

    /// The extractor's role.
    pub trait ViaDescribed {
        /// What it describes.
        type Kind;
        /// The kind.
        fn __mcp_extractor(&self) -> Self::Kind;
    }

    impl<T> ViaDescribed for &&Probe<axum::extract::Path<T>> {
        type Kind = PathPart<T>;
        fn __mcp_extractor(&self) -> PathPart<T> {
            PathPart(PhantomData)
        }
    }

    impl<T> ViaDescribed for &&Probe<axum::extract::Query<T>> {
        type Kind = QueryPart<T>;
        fn __mcp_extractor(&self) -> QueryPart<T> {
            QueryPart(PhantomData)
        }
    }

    impl<T> ViaDescribed for &&Probe<axum::Json<T>> {
        type Kind = BodyPart<T>;
        fn __mcp_extractor(&self) -> BodyPart<T> {
            BodyPart(PhantomData)
        }
    }

    /// Another body extractor.
    pub trait ViaBody<T> {
        /// The kind.
        fn __mcp_extractor(&self) -> OtherBody<T>;
    }

    impl<T: axum::extract::FromRequest<()>> ViaBody<T> for &Probe<T> {
        fn __mcp_extractor(&self) -> OtherBody<T> {
            OtherBody(PhantomData)
        }
    }

    /// Anything else: not an argument.
    pub trait ViaParts<T> {
        /// The kind.
        fn __mcp_extractor(&self) -> NotArgument<T>;
    }

    impl<T> ViaParts<T> for Probe<T> {
        fn __mcp_extractor(&self) -> NotArgument<T> {
            NotArgument(PhantomData)
        }
    }

    /// `Path<T>`.
    pub struct PathPart<T>(PhantomData<fn() -> T>);
    impl<T> PathPart<T> {
        /// Record `T`'s schema.
        pub fn describe(&self, info: &mut RouteInfo)
        where
            T: PathArguments,
        {
            info.path = Some(Part::of::<T>());
        }
    }

    /// `Query<T>`.
    pub struct QueryPart<T>(PhantomData<fn() -> T>);
    impl<T> QueryPart<T> {
        /// Record `T`'s schema.
        pub fn describe(&self, info: &mut RouteInfo)
        where
            T: QueryArguments,
        {
            info.query = Some(Part::of::<T>());
        }
    }

    /// `Json<T>`.
    pub struct BodyPart<T>(PhantomData<fn() -> T>);
    impl<T> BodyPart<T> {
        /// Record `T`'s schema.
        pub fn describe(&self, info: &mut RouteInfo)
        where
            T: BodyArguments,
        {
            info.body = Some(Part::of::<T>());
        }
    }

    /// A body extractor that cannot be described.
    pub struct OtherBody<T>(PhantomData<fn() -> T>);
    impl<T> OtherBody<T> {
        /// Never compiles.
        pub fn describe(&self, _: &mut RouteInfo)
        where
            T: DescribedBody,
        {
        }
    }

    /// Not an argument.
    pub struct NotArgument<T>(PhantomData<fn() -> T>);
    impl<T> NotArgument<T> {
        /// Nothing to describe.
        pub fn describe(&self, _: &mut RouteInfo) {}
    }

    /// The `T` of a returned `Json<T>`: an output schema when it has one.
    pub trait ViaOutput<T> {
        /// The kind.
        fn __mcp_output(&self) -> Output<T>;
    }

    impl<T: Serialize + JsonSchema> ViaOutput<T> for &Probe<T> {
        fn __mcp_output(&self) -> Output<T> {
            Output(PhantomData)
        }
    }

    /// No schema.
    pub trait ViaNoOutput<T> {
        /// The kind.
        fn __mcp_output(&self) -> NoOutput<T>;
    }

    impl<T> ViaNoOutput<T> for Probe<T> {
        fn __mcp_output(&self) -> NoOutput<T> {
            NoOutput(PhantomData)
        }
    }

    /// A described output.
    pub struct Output<T>(PhantomData<fn() -> T>);
    impl<T: Serialize + JsonSchema> Output<T> {
        /// Record `T`'s schema (none for `serde_json::Value` and other unconstrained types).
        pub fn describe(&self, info: &mut RouteInfo) {
            let schema = mcp_core::__private::output_schema::<T>();
            info.output = (!schema.is_empty()).then_some(schema);
        }
    }

    /// An output without a schema.
    pub struct NoOutput<T>(PhantomData<fn() -> T>);
    impl<T> NoOutput<T> {
        /// Nothing to record.
        pub fn describe(&self, _: &mut RouteInfo) {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_names() {
        assert_eq!(default_name(&Method::POST, "/api/posts"), "post_api_posts");
        assert_eq!(default_name(&Method::GET, "/api/posts/{id}"), "get_api_posts_id");
        assert_eq!(default_name(&Method::DELETE, "/api/v2/user-posts/{*rest}"), "delete_api_v2_user_posts_rest");
        assert_eq!(default_name(&Method::GET, "/"), "get");
    }

    #[test]
    fn templates() {
        assert_eq!(
            parse_template("/a/{id}/b/{*rest}").unwrap(),
            vec![
                Segment::Text("/a/".into()),
                Segment::Param { name: "id".into(), wildcard: false },
                Segment::Text("/b/".into()),
                Segment::Param { name: "rest".into(), wildcard: true },
            ]
        );
        assert_eq!(parse_template("/a/{{x}}").unwrap(), vec![Segment::Text("/a/{x}".into())]);
        assert!(parse_template("a").unwrap_err().contains("must start with `/`"));
        assert!(parse_template("/a/{id").unwrap_err().contains("unclosed"));
        assert!(parse_template("/a/{}").unwrap_err().contains("not a name"));
        assert!(parse_template("/{a}/{a}").unwrap_err().contains("twice"));
    }

    #[derive(serde::Deserialize, schemars::JsonSchema)]
    #[allow(dead_code)]
    struct Key {
        folder: String,
        id: u32,
        page: Option<u32>,
    }

    #[test]
    fn path_types_must_match_the_route() {
        let check = |part: Part, path: &str| path_mismatch(&parse_template(path).unwrap(), &part, path);
        assert_eq!(check(Part::of::<Key>(), "/n/{folder}/{id}"), None);
        assert_eq!(
            check(Part::of::<Key>(), "/n/{folder}").unwrap(),
            "the handler's `Path` reads `id`, which the route `/n/{folder}` does not capture"
        );
        assert_eq!(check(Part::of::<(String, u32)>(), "/n/{a}/{b}"), None);
        assert_eq!(
            check(Part::of::<(String, u32)>(), "/n/{a}").unwrap(),
            "the handler's `Path` is a tuple of 2, but the route `/n/{a}` captures 1 parameters"
        );
        assert_eq!(check(Part::of::<u32>(), "/n/{a}"), None);
        assert_eq!(
            check(Part::of::<u32>(), "/n").unwrap(),
            "the handler's `Path` takes one value, but the route `/n` captures 0 parameters"
        );
        assert_eq!(check(Part::of::<std::collections::HashMap<String, String>>(), "/n"), None);
        assert_eq!(check(Part::of::<Vec<String>>(), "/n/{a}/{b}/{c}"), None);
    }

    #[test]
    fn encoding() {
        let mut s = String::new();
        percent_encode(&mut s, "a b/ü?&=", false);
        assert_eq!(s, "a%20b%2F%C3%BC%3F%26%3D");
        let mut s = String::new();
        percent_encode(&mut s, "dir/file name", true);
        assert_eq!(s, "dir/file%20name");
    }

    #[test]
    fn error_texts() {
        let t = error_text(StatusCode::UNPROCESSABLE_ENTITY, Some(&serde_json::json!({ "error": "bad title" })), "");
        assert_eq!(t, "HTTP 422 Unprocessable Entity: bad title");
        let t = error_text(StatusCode::UNAUTHORIZED, None, "no token\n");
        assert_eq!(t, "the app refused authentication (HTTP 401 Unauthorized): no token");
        let t = error_text(StatusCode::FORBIDDEN, None, "");
        assert_eq!(t, "the app refused permission (HTTP 403 Forbidden)");
        let v = serde_json::json!({ "error": "invalid", "fields": { "title": "empty" } });
        let t = error_text(StatusCode::BAD_REQUEST, Some(&v), "");
        assert!(t.starts_with("HTTP 400 Bad Request: invalid\n{"), "{t}");
        assert!(t.contains("\"title\":\"empty\""), "{t}");
    }
}
