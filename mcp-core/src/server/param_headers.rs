//! Tool parameters mirrored into HTTP headers (`x-mcp-header`, 2026-07-28 streamable HTTP):
//! the annotations of an input schema, checked once when the server is built.

use serde_json::{Map, Value};

/// The JSON type of a mirrored parameter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParamHeaderKind {
    /// `string`: the header carries the value as is.
    String,
    /// `integer`: decimal; compared numerically.
    Integer,
    /// `boolean`: `true` or `false`.
    Boolean,
}

/// One parameter mirrored into the `Mcp-Param-{name}` header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParamHeader {
    /// The header's name after `Mcp-Param-`.
    pub name: String,
    /// The chain of `properties` keys from the schema root to the parameter.
    pub path: Vec<String>,
    /// Its JSON type.
    pub kind: ParamHeaderKind,
}

impl ParamHeader {
    /// The value at [`ParamHeader::path`] in a call's arguments (`None` when absent or
    /// `null`: then no header is sent).
    pub fn value<'a>(&self, arguments: &'a Map<String, Value>) -> Option<&'a Value> {
        let (last, parents) = self.path.split_last()?;
        let mut obj = arguments;
        for key in parents {
            obj = obj.get(key)?.as_object()?;
        }
        obj.get(last).filter(|v| !v.is_null())
    }

    /// Whether a decoded header value matches the body's value (integers numerically).
    pub fn matches(&self, header: &str, body: &Value) -> bool {
        match (self.kind, body) {
            (ParamHeaderKind::String, Value::String(s)) => s == header,
            (ParamHeaderKind::Integer, Value::Number(n)) => {
                header.trim().parse::<f64>().ok().zip(n.as_f64()).is_some_and(|(h, b)| h == b)
            }
            (ParamHeaderKind::Boolean, Value::Bool(b)) => header == if *b { "true" } else { "false" },
            _ => false,
        }
    }
}

/// Keywords whose subschemas are not statically reachable: an annotation below them is
/// invalid.
const NESTED: [&str; 12] = [
    "items",
    "prefixItems",
    "additionalProperties",
    "oneOf",
    "anyOf",
    "allOf",
    "not",
    "if",
    "then",
    "else",
    "contains",
    "unevaluatedProperties",
];
/// Keywords holding maps of subschemas.
const NESTED_MAPS: [&str; 4] = ["$defs", "definitions", "patternProperties", "dependentSchemas"];

/// Every `x-mcp-header` annotation of an input schema, or why the schema's annotations
/// break the rules (empty or non-token names, repeated names, non-primitive types,
/// annotations not reachable through `properties` alone).
pub fn collect(schema: &Map<String, Value>) -> Result<Vec<ParamHeader>, String> {
    let mut out = Vec::new();
    visit(schema, &mut Vec::new(), true, &mut out)?;
    let mut seen: Vec<String> = Vec::new();
    for h in &out {
        let lower = h.name.to_ascii_lowercase();
        if seen.contains(&lower) {
            return Err(format!("two parameters use the header `Mcp-Param-{}`", h.name));
        }
        seen.push(lower);
    }
    Ok(out)
}

fn visit(
    node: &Map<String, Value>,
    path: &mut Vec<String>,
    reachable: bool,
    out: &mut Vec<ParamHeader>,
) -> Result<(), String> {
    if let Some(name) = node.get("x-mcp-header") {
        let at = if path.is_empty() { "the schema root".to_owned() } else { format!("`{}`", path.join(".")) };
        if !reachable || path.is_empty() {
            return Err(format!("`x-mcp-header` at {at} is not reachable from the root through `properties` alone"));
        }
        let Some(name) = name.as_str().filter(|n| !n.is_empty()) else {
            return Err(format!("`x-mcp-header` of {at} must be a non-empty string"));
        };
        if let Some(c) = name.chars().find(|c| !(c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(*c))) {
            return Err(format!("`x-mcp-header` `{name}` of {at} contains {c:?}, which HTTP header names cannot"));
        }
        let kind = primitive_kind(node)
            .ok_or_else(|| format!("`x-mcp-header` `{name}` is on {at}, which is not a string, integer or boolean"))?;
        out.push(ParamHeader { name: name.to_owned(), path: path.clone(), kind });
    }
    if let Some(Value::Object(props)) = node.get("properties") {
        for (k, v) in props {
            if let Value::Object(sub) = v {
                path.push(k.clone());
                visit(sub, path, reachable, out)?;
                path.pop();
            }
        }
    }
    for key in NESTED {
        match node.get(key) {
            Some(Value::Object(sub)) => visit(sub, path, false, out)?,
            Some(Value::Array(list)) => {
                for v in list {
                    if let Value::Object(sub) = v {
                        visit(sub, path, false, out)?;
                    }
                }
            }
            _ => {}
        }
    }
    for key in NESTED_MAPS {
        if let Some(Value::Object(map)) = node.get(key) {
            for v in map.values() {
                if let Value::Object(sub) = v {
                    visit(sub, path, false, out)?;
                }
            }
        }
    }
    Ok(())
}

/// `string`, `integer` or `boolean`, alone or with `null` (an optional argument).
fn primitive_kind(node: &Map<String, Value>) -> Option<ParamHeaderKind> {
    let kind = |t: &str| match t {
        "string" => Some(ParamHeaderKind::String),
        "integer" => Some(ParamHeaderKind::Integer),
        "boolean" => Some(ParamHeaderKind::Boolean),
        _ => None,
    };
    match node.get("type")? {
        Value::String(t) => kind(t),
        Value::Array(types) => {
            let non_null: Vec<&str> = types.iter().filter_map(Value::as_str).filter(|t| *t != "null").collect();
            match non_null.as_slice() {
                [t] => kind(t),
                _ => None,
            }
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn run(v: Value) -> Result<Vec<ParamHeader>, String> {
        collect(v.as_object().unwrap())
    }

    #[test]
    fn reachable_primitives_are_collected() {
        let h = run(json!({ "type": "object", "properties": {
            "region": { "type": "string", "x-mcp-header": "Region" },
            "opts": { "type": "object", "properties": { "n": { "type": ["integer", "null"], "x-mcp-header": "N" } } },
        } }))
        .unwrap();
        assert_eq!(h.len(), 2);
        let region = h.iter().find(|p| p.name == "Region").unwrap();
        let n = h.iter().find(|p| p.name == "N").unwrap();
        assert_eq!(n.path, ["opts", "n"]);
        assert_eq!(n.kind, ParamHeaderKind::Integer);
        let args = json!({ "region": "eu", "opts": { "n": 42 } });
        let args = args.as_object().unwrap();
        assert!(region.matches("eu", region.value(args).unwrap()));
        assert!(n.matches("42.0", n.value(args).unwrap()));
        assert!(!n.matches("41", n.value(args).unwrap()));
        assert!(n.value(json!({ "opts": { "n": null } }).as_object().unwrap()).is_none());
    }

    #[test]
    fn invalid_annotations_are_refused() {
        for (schema, why) in [
            (json!({ "properties": { "a": { "type": "number", "x-mcp-header": "A" } } }), "not a string"),
            (json!({ "properties": { "a": { "type": "string", "x-mcp-header": "" } } }), "non-empty"),
            (json!({ "properties": { "a": { "type": "string", "x-mcp-header": "A B" } } }), "contains ' '"),
            (
                json!({ "properties": { "a": { "type": "string", "x-mcp-header": "A" }, "b": { "type": "string", "x-mcp-header": "a" } } }),
                "two parameters",
            ),
            (
                json!({ "properties": { "a": { "type": "array", "items": { "type": "string", "x-mcp-header": "A" } } } }),
                "not reachable",
            ),
            (
                json!({ "properties": { "a": { "anyOf": [{ "type": "string", "x-mcp-header": "A" }] } } }),
                "not reachable",
            ),
            (json!({ "$defs": { "X": { "type": "string", "x-mcp-header": "A" } } }), "not reachable"),
        ] {
            let err = run(schema).unwrap_err();
            assert!(err.contains(why), "{err}");
        }
    }
}
