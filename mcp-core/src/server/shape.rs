//! Version-specific shaping of results: the one place that knows what each protocol
//! version allows. Handlers build the richest form; this trims it for older clients.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::protocol::{
    CacheScope, CallToolResult, CompleteResult, Content, DiscoverResult, EmptyResult, GetPromptResult, Implementation,
    ListPromptsResult, ListResourceTemplatesResult, ListResourcesResult, ListToolsResult, Meta, Prompt,
    ProtocolVersion, ReadResourceResult, Resource, ResourceTemplate, ResultType, StructuredContent,
    SubscriptionsListenResult, Tool,
};

/// Access to the fields every 2026-07-28 result carries.
pub(crate) trait ResultFields {
    fn result_type(&mut self) -> &mut Option<ResultType>;
    fn meta(&mut self) -> &mut Option<Meta>;
    fn cache(&mut self) -> Option<(&mut Option<u64>, &mut Option<CacheScope>)> {
        None
    }
}

macro_rules! result_fields {
    ($($t:ty),*) => {$(
        impl ResultFields for $t {
            fn result_type(&mut self) -> &mut Option<ResultType> { &mut self.result_type }
            fn meta(&mut self) -> &mut Option<Meta> { &mut self.meta }
        }
    )*};
    (cacheable $($t:ty),*) => {$(
        impl ResultFields for $t {
            fn result_type(&mut self) -> &mut Option<ResultType> { &mut self.result_type }
            fn meta(&mut self) -> &mut Option<Meta> { &mut self.meta }
            fn cache(&mut self) -> Option<(&mut Option<u64>, &mut Option<CacheScope>)> {
                Some((&mut self.ttl_ms, &mut self.cache_scope))
            }
        }
    )*};
}

result_fields!(CallToolResult, GetPromptResult, CompleteResult, EmptyResult, SubscriptionsListenResult);
result_fields!(cacheable ListToolsResult, ListResourcesResult, ListResourceTemplatesResult, ListPromptsResult,
    ReadResourceResult, DiscoverResult);

/// Fill the 2026-07-28 fields (`resultType`, caching hints, `serverInfo`), or clear them
/// for legacy versions.
pub(crate) fn finish<R: ResultFields>(
    r: &mut R,
    version: ProtocolVersion,
    server_info: &Value,
    cache: Option<(u64, CacheScope)>,
) {
    if version.has_result_type() {
        r.meta().get_or_insert_with(Meta::new).insert(crate::protocol::meta::SERVER_INFO, server_info.clone());
    }
    finish_fields(r, version, cache);
}

/// [`finish`] without `serverInfo`, for callers that add it themselves.
pub(crate) fn finish_fields<R: ResultFields>(r: &mut R, version: ProtocolVersion, cache: Option<(u64, CacheScope)>) {
    if version.has_result_type() {
        if r.result_type().is_none() {
            *r.result_type() = Some(ResultType::Complete);
        }
        if let (Some((ttl, scope)), Some((t, s))) = (cache, r.cache()) {
            t.get_or_insert(ttl);
            s.get_or_insert(scope);
        }
    } else {
        *r.result_type() = None;
        if let Some((t, s)) = r.cache() {
            *t = None;
            *s = None;
        }
    }
}

/// An implementation as a client of `version` knows it.
pub(crate) fn implementation(i: &Implementation, version: ProtocolVersion) -> Implementation {
    let mut i = i.clone();
    if !version.has_structured_output() {
        i.title = None;
    }
    if !version.has_icons() {
        i.icons = None;
        i.description = None;
        i.website_url = None;
    }
    i
}

/// Whether a tool's output schema has to be wrapped in an object for versions that
/// require `structuredContent` to be an object.
pub(crate) fn output_needs_wrapping(tool: &Tool) -> bool {
    tool.output_schema.as_ref().is_some_and(|s| s.get("type") != Some(&Value::String("object".into())))
}

/// The property name a non-object value is wrapped in.
pub(crate) const WRAP_KEY: &str = "result";

fn wrap_schema(schema: &Map<String, Value>) -> Map<String, Value> {
    let mut props = Map::new();
    props.insert(WRAP_KEY.into(), Value::Object(schema.clone()));
    let mut m = Map::new();
    m.insert("type".into(), "object".into());
    m.insert("properties".into(), Value::Object(props));
    m.insert("required".into(), Value::Array(vec![WRAP_KEY.into()]));
    m
}

/// A tool as a client of `version` knows it.
pub(crate) fn tool(t: &Tool, version: ProtocolVersion) -> Tool {
    let mut t = t.clone();
    if !version.has_structured_output() {
        t.title = None;
        t.output_schema = None;
        t.meta = None;
    } else if !version.allows_non_object_structured_content() && output_needs_wrapping(&t) {
        t.output_schema = t.output_schema.as_ref().map(wrap_schema);
    }
    if !version.has_icons() {
        t.icons = None;
        t.execution = None;
    }
    t
}

/// A resource as a client of `version` knows it.
pub(crate) fn resource(r: &Resource, version: ProtocolVersion) -> Resource {
    let mut r = r.clone();
    if !version.has_structured_output() {
        r.title = None;
        r.meta = None;
    }
    if !version.has_icons() {
        r.icons = None;
    }
    r
}

/// A resource template as a client of `version` knows it.
pub(crate) fn template(r: &ResourceTemplate, version: ProtocolVersion) -> ResourceTemplate {
    let mut r = r.clone();
    if !version.has_structured_output() {
        r.title = None;
        r.meta = None;
    }
    if !version.has_icons() {
        r.icons = None;
    }
    r
}

/// A prompt as a client of `version` knows it.
pub(crate) fn prompt(p: &Prompt, version: ProtocolVersion) -> Prompt {
    let mut p = p.clone();
    if !version.has_structured_output() {
        p.title = None;
        p.meta = None;
        if let Some(args) = &mut p.arguments {
            args.iter_mut().for_each(|a| a.title = None);
        }
    }
    if !version.has_icons() {
        p.icons = None;
    }
    p
}

/// Content blocks for `version`: resource links become text before 2025-06-18.
pub(crate) fn content(blocks: &mut [Content], version: ProtocolVersion) {
    for block in blocks.iter_mut() {
        if let Content::ResourceLink(link) = block {
            if !version.has_structured_output() {
                let mut text = format!("Resource: {}", link.uri);
                if let Some(d) = &link.description {
                    text.push_str(" — ");
                    text.push_str(d);
                }
                *block = Content::text(text);
            } else {
                *link = resource(link, version);
            }
        }
    }
}

/// A tool result for `version`.
pub(crate) fn call_result(r: &mut CallToolResult, version: ProtocolVersion, wrap: bool) {
    content(&mut r.content, version);
    if !version.has_structured_output() {
        r.structured_content = None;
    } else if !version.allows_non_object_structured_content()
        && let Some(v) = r.structured_content.take()
    {
        r.structured_content = Some(if wrap || !v.is_object() { wrapped(v) } else { v });
    }
}

/// `{"result": content}`, without reading text content back into a tree.
fn wrapped(content: StructuredContent) -> StructuredContent {
    if let Some(raw) = content.as_raw()
        && let Ok(w) = StructuredContent::from_serialize(&BTreeMap::from([(WRAP_KEY, raw)]))
    {
        return w;
    }
    // A tree (reading it back cannot fail), or text that failed to serialize (it cannot).
    let mut m = Map::new();
    m.insert(WRAP_KEY.into(), content.into_value().unwrap_or_default());
    StructuredContent::from(Value::Object(m))
}
