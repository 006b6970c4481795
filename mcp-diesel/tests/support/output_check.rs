//! Calls every tool a server lists, with and without `fields`, `include`, aggregates and
//! writes, and checks every structured result against the tool's `outputSchema` with a
//! JSON Schema validator, as the official clients do (the Python SDK raises "Invalid
//! structured content" on a mismatch). Shared by mcp-diesel's model set and the blog
//! (which includes this file by path); the transport is the caller's.

use std::future::Future;
use std::pin::Pin;

use serde_json::{Map, Value, json};

/// One `tools/call`: the tool's name and arguments in, the result's JSON out.
pub(crate) type Call<'a> = dyn Fn(String, Value) -> Pin<Box<dyn Future<Output = Value> + 'a>> + 'a;

/// What a check saw: tool name → how many calls succeeded and failed.
#[derive(Debug, Default)]
pub(crate) struct Seen {
    pub(crate) calls: Vec<(String, Value, bool)>,
}

/// Check every tool of `tools` (the `tools/list` answer's `tools`). Panics naming the tool,
/// the arguments and the validator's complaints on the first result that does not fit.
pub(crate) async fn check_all(tools: &[Value], call: &Call<'_>) -> Seen {
    let mut seen = Seen::default();
    assert!(!tools.is_empty(), "the server lists no tools");
    // Reads first, then writes (create before update, patch and delete).
    let rank = |name: &str| match name.rsplit('_').next() {
        Some("create") => 1,
        Some("update") | Some("patch") => 2,
        Some("delete") => 3,
        _ => 0,
    };
    let mut ordered: Vec<&Value> = tools.iter().collect();
    ordered.sort_by_key(|t| rank(t["name"].as_str().unwrap_or_default()));
    let mut created: Map<String, Value> = Map::new();
    for tool in ordered {
        let name = tool["name"].as_str().expect("a tool has a name").to_owned();
        let input = &tool["inputSchema"];
        let output = tool.get("outputSchema").filter(|o| !o.is_null());
        // (2026-07-28 allows any JSON value; older versions see non-objects wrapped.)
        let validator = output.map(|schema| {
            jsonschema::options()
                .should_validate_formats(true)
                .build(schema)
                .unwrap_or_else(|e| panic!("{name}: the outputSchema is not a valid JSON Schema: {e}\n{schema:#}"))
        });
        let variants = arguments(&name, input, tools, call, &created).await;
        let mut ok = 0;
        for args in variants {
            let result = call(name.clone(), args.clone()).await;
            let is_error = result["isError"] == json!(true);
            let structured = result.get("structuredContent").filter(|s| !s.is_null());
            match (&validator, structured) {
                (Some(v), Some(s)) => {
                    let errors: Vec<String> =
                        v.iter_errors(s).map(|e| format!("{} at {}", e, e.instance_path())).collect();
                    assert!(
                        errors.is_empty(),
                        "{name} {args}: structuredContent does not fit the outputSchema:\n{}\ncontent: {s}\nschema: {:#}",
                        errors.join("\n"),
                        output.unwrap()
                    );
                }
                (Some(_), None) => {
                    assert!(
                        is_error,
                        "{name} {args}: a tool with an outputSchema succeeded without structuredContent: {result}"
                    )
                }
                (None, _) => {}
            }
            if !is_error {
                ok += 1;
                if name.ends_with("_create")
                    && let Some(s) = structured
                {
                    created.insert(name.trim_end_matches("_create").to_owned(), s.clone());
                }
            }
            seen.calls.push((name.clone(), args, !is_error));
        }
        assert!(ok > 0, "{name}: no call succeeded, so nothing was checked: {:?}", seen.calls.last());
    }
    seen
}

/// The key argument's name: the one required property of `get`/`delete`.
fn key_name(input: &Value) -> String {
    input["required"][0].as_str().expect("a keyed tool requires its key").to_owned()
}

fn enum_of(schema: &Value) -> Vec<Value> {
    schema["items"]["enum"].as_array().or(schema["enum"].as_array()).cloned().unwrap_or_default()
}

/// A value of a property's schema, different for each `n`.
fn sample(name: &str, schema: &Value, n: usize) -> Value {
    if let Some(e) = schema["enum"].as_array() {
        return e[0].clone();
    }
    let types: Vec<&str> = match &schema["type"] {
        Value::String(t) => vec![t.as_str()],
        Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
        _ => schema["anyOf"]
            .as_array()
            .map(|a| a.iter().filter_map(|s| s["type"].as_str()).collect())
            .unwrap_or_default(),
    };
    let format = schema["format"].as_str().unwrap_or_default();
    match types.iter().find(|t| **t != "null").copied().unwrap_or("string") {
        "integer" => json!(1),
        "number" => json!(1.5),
        "boolean" => json!(true),
        "string" if format.contains("date-time") => json!("2026-01-02T03:04:05"),
        "string" if format == "date" => json!("2026-01-02"),
        "string" => json!(format!("checked {name} {n} {}", std::process::id())),
        other => panic!("no sample for `{name}` of type {other}"),
    }
}

/// The writable values a write tool takes: every property but the key.
fn values(input: &Value, key: Option<&str>, only_required: bool, n: usize) -> Map<String, Value> {
    let required: Vec<&str> =
        input["required"].as_array().map(|r| r.iter().filter_map(Value::as_str).collect()).unwrap_or_default();
    let mut out = Map::new();
    for (prop, schema) in input["properties"].as_object().into_iter().flatten() {
        if Some(prop.as_str()) == key || (only_required && !required.contains(&prop.as_str())) {
            continue;
        }
        out.insert(prop.clone(), sample(prop, schema, n));
    }
    out
}

/// A key of a row the caller may see (the first of `<prefix>_list`), and may change when
/// `writable` (the row `<prefix>_create` made).
async fn some_key(prefix: &str, key: &str, call: &Call<'_>, created: &Map<String, Value>, writable: bool) -> Value {
    if writable && let Some(row) = created.get(prefix) {
        return row[key].clone();
    }
    let page = call(format!("{prefix}_list"), json!({ "limit": 1 })).await;
    page["structuredContent"]["items"][0][key].clone()
}

/// The argument sets to call `name` with.
async fn arguments(
    name: &str,
    input: &Value,
    tools: &[Value],
    call: &Call<'_>,
    created: &Map<String, Value>,
) -> Vec<Value> {
    let props = &input["properties"];
    let (prefix, action) = name.rsplit_once('_').unwrap_or((name, ""));
    let is_model = tools.iter().any(|t| t["name"] == format!("{prefix}_list"));
    match (is_model, action) {
        (true, "list") => {
            let fields = enum_of(&props["fields"]);
            let include = enum_of(&props["include"]);
            let mut out = vec![json!({}), json!({ "limit": 1 }), json!({ "limit": 1, "include_total": true })];
            for f in &fields {
                out.push(json!({ "fields": [f] }));
            }
            if let Some(last) = fields.last() {
                out.push(json!({ "fields": [last], "limit": 2, "include_total": true }));
            }
            if !include.is_empty() {
                out.push(json!({ "include": include }));
                for i in &include {
                    out.push(json!({ "include": [i], "fields": [fields[0]] }));
                }
            }
            out
        }
        (true, "get") => {
            let key = key_name(input);
            let k = some_key(prefix, &key, call, created, false).await;
            let mut out = vec![json!({ key.clone(): k.clone() }), json!({ key.clone(): 987_654 })];
            let include = enum_of(&props["include"]);
            if !include.is_empty() {
                out.push(json!({ key.clone(): k.clone(), "include": include }));
            }
            out
        }
        (true, "count") => {
            let mut out = vec![json!({})];
            if props.get("search").is_some() {
                out.push(json!({ "search": "a" }));
            }
            out
        }
        (true, "aggregate") => {
            let metrics = enum_of(&props["metrics"]);
            let mut out = vec![json!({})];
            for chunk in metrics.chunks(5) {
                out.push(json!({ "metrics": chunk }));
                for g in enum_of(&props["group_by"]) {
                    out.push(json!({ "metrics": chunk, "group_by": g }));
                }
            }
            out
        }
        (true, "create") => {
            vec![Value::Object(values(input, None, false, 1)), Value::Object(values(input, None, true, 2))]
        }
        (true, "update") | (true, "patch") => {
            let key = key_name(input);
            let k = some_key(prefix, &key, call, created, true).await;
            let mut all = values(input, Some(&key), action == "update", 3);
            all.insert(key.clone(), k.clone());
            let mut out = vec![Value::Object(all)];
            if action == "patch" {
                let mut one = values(input, Some(&key), false, 4);
                let first = one.keys().next().cloned();
                one.retain(|k, _| Some(k) == first.as_ref());
                one.insert(key.clone(), k);
                out.push(Value::Object(one));
            }
            out
        }
        (true, "delete") => {
            let key = key_name(input);
            let k = some_key(prefix, &key, call, created, true).await;
            vec![json!({ key.clone(): 987_654 }), json!({ key: k })]
        }
        _ if name == "query" => {
            let mut out = Vec::new();
            for c in enum_of(&props["collection"]) {
                out.push(json!({ "collection": c }));
                out.push(json!({ "collection": c, "pipeline": [{ "$limit": 2 }] }));
                out.push(json!({ "collection": c, "pipeline": [{ "$count": "n" }] }));
            }
            out
        }
        _ => {
            // A hand-written tool: its required arguments, sampled.
            vec![Value::Object(values(input, None, true, 5))]
        }
    }
}
