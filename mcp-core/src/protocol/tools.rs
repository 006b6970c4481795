//! Tools: `tools/list` and `tools/call`.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use super::{CacheScope, Content, Icon, InputResponses, Meta, ResultType};

/// Hints about a tool's behaviour. Untrusted unless the server is trusted.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ToolAnnotations {
    /// Display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// The tool does not change its environment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_only_hint: Option<bool>,
    /// The tool may destroy data (meaningful when not read-only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destructive_hint: Option<bool>,
    /// Repeating a call with the same arguments has no further effect.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idempotent_hint: Option<bool>,
    /// The tool talks to an open world (the internet) rather than a closed domain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub open_world_hint: Option<bool>,
}

impl ToolAnnotations {
    /// Whether no hint is set.
    pub fn is_empty(&self) -> bool {
        *self == ToolAnnotations::default()
    }
}

/// A tool definition as listed by `tools/list`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Tool {
    /// Unique name (`[A-Za-z0-9_.-]`, 1 to 128 characters).
    pub name: String,
    /// Display name (2025-06-18 and later).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// What the tool does, for the model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// JSON Schema of the arguments; its root is `type: object`.
    pub input_schema: Map<String, Value>,
    /// JSON Schema of `structuredContent` (2025-06-18 and later).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_schema: Option<Map<String, Value>>,
    /// Behaviour hints.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<ToolAnnotations>,
    /// Icons (2025-11-25 and later).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub icons: Option<Vec<Icon>>,
    /// Execution properties such as task support (2025-11-25).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub execution: Option<Map<String, Value>>,
    /// Metadata.
    #[serde(rename = "_meta", default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<Meta>,
}

impl Tool {
    /// A tool that takes no arguments: `{"type":"object","properties":{},"additionalProperties":false}`.
    pub fn new(name: impl Into<String>) -> Self {
        Tool {
            name: name.into(),
            title: None,
            description: None,
            input_schema: empty_object_schema(),
            output_schema: None,
            annotations: None,
            icons: None,
            execution: None,
            meta: None,
        }
    }

    /// Set the description.
    pub fn description(mut self, d: impl Into<String>) -> Self {
        self.description = Some(d.into());
        self
    }

    /// Set the title.
    pub fn title(mut self, t: impl Into<String>) -> Self {
        self.title = Some(t.into());
        self
    }

    /// Set the input schema (must be an object schema).
    pub fn input_schema(mut self, schema: Value) -> Self {
        if let Value::Object(m) = schema {
            self.input_schema = m;
        }
        self
    }

    /// Set the output schema.
    pub fn output_schema(mut self, schema: Value) -> Self {
        if let Value::Object(m) = schema {
            self.output_schema = Some(m);
        }
        self
    }

    /// Set the annotations.
    pub fn annotations(mut self, a: ToolAnnotations) -> Self {
        self.annotations = Some(a);
        self
    }
}

/// The schema of a tool without arguments.
pub fn empty_object_schema() -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("type".into(), Value::String("object".into()));
    m.insert("properties".into(), Value::Object(Map::new()));
    m.insert("additionalProperties".into(), Value::Bool(false));
    m
}

/// `tools/list` result.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListToolsResult {
    /// `"complete"` (2026-07-28).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result_type: Option<ResultType>,
    /// The tools of this page.
    pub tools: Vec<Tool>,
    /// Cursor of the next page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
    /// Freshness hint (2026-07-28).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl_ms: Option<u64>,
    /// Cache scope (2026-07-28).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_scope: Option<CacheScope>,
    /// Metadata.
    #[serde(rename = "_meta", default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<Meta>,
}

/// `tools/call` params.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CallToolParams {
    /// The tool name.
    pub name: String,
    /// The arguments.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arguments: Option<Map<String, Value>>,
    /// Answers to the input requests of a previous `input_required` result (2026-07-28).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_responses: Option<InputResponses>,
    /// Opaque state echoed from a previous `input_required` result (2026-07-28).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_state: Option<String>,
    /// Task augmentation (2025-11-25, experimental).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task: Option<Map<String, Value>>,
    /// Metadata.
    #[serde(rename = "_meta", default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<Meta>,
}

/// `tools/call` result.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CallToolResult {
    /// `"complete"` (2026-07-28).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result_type: Option<ResultType>,
    /// Unstructured content.
    #[serde(default)]
    pub content: Vec<Content>,
    /// Structured content matching the tool's `outputSchema`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub structured_content: Option<StructuredContent>,
    /// Whether the tool failed (an error the model can see and act on).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_error: Option<bool>,
    /// Metadata.
    #[serde(rename = "_meta", default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<Meta>,
}

impl CallToolResult {
    /// A successful result with content blocks.
    pub fn success(content: Vec<Content>) -> Self {
        CallToolResult { content, ..Default::default() }
    }

    /// A successful result with one text block.
    pub fn text(text: impl Into<String>) -> Self {
        Self::success(vec![Content::text(text)])
    }

    /// A successful structured result with a text copy of the value.
    pub fn structured(value: Value) -> Self {
        Self::from_structured(StructuredContent::from(value))
    }

    /// A successful structured result from any serializable value, with a text copy:
    /// `value` is serialized once, straight to JSON text, without building a [`Value`]
    /// on the way. Fails only where `serde_json` would (a map with non-string keys, a
    /// `Serialize` impl that reports an error). Fields a Diesel model hides from agents
    /// (`#[mcp(skip)]`) are left out wherever the model appears in `value`.
    ///
    /// ```
    /// # use mcp_core::protocol::CallToolResult;
    /// #[derive(serde::Serialize)]
    /// struct Sum { total: i64 }
    ///
    /// let r = CallToolResult::serialized(&Sum { total: 5 }).unwrap();
    /// assert_eq!(r.text_content(), r#"{"total":5}"#);
    /// assert_eq!(r.structured_value(), Some(serde_json::json!({ "total": 5 })));
    /// ```
    pub fn serialized<T: Serialize + ?Sized>(value: &T) -> Result<Self, serde_json::Error> {
        StructuredContent::from_serialize(value).map(Self::from_structured)
    }

    /// A successful structured result whose text block is a copy of the content's JSON.
    pub fn from_structured(content: StructuredContent) -> Self {
        let text = content.json().into_owned();
        CallToolResult { content: vec![Content::text(text)], structured_content: Some(content), ..Default::default() }
    }

    /// The structured content as a [`Value`]: `None` when there is none, or when it is
    /// JSON text `serde_json` cannot read back into a tree (nested deeper than its
    /// recursion limit of 128). Meant for tests and for code that edits a result.
    pub fn structured_value(&self) -> Option<Value> {
        self.structured_content.as_ref().and_then(|s| s.to_value().ok())
    }

    /// A failed result (`isError: true`) with a message the model can act on.
    pub fn error(message: impl Into<String>) -> Self {
        CallToolResult { content: vec![Content::text(message)], is_error: Some(true), ..Default::default() }
    }

    /// Whether `isError` is true.
    pub fn is_error(&self) -> bool {
        self.is_error == Some(true)
    }

    /// The concatenated text of all text blocks.
    pub fn text_content(&self) -> String {
        self.content.iter().filter_map(Content::as_text).collect::<Vec<_>>().join("\n")
    }
}

/// A tool result's `structuredContent`: a JSON value, held either as a tree ([`Value`],
/// to build or edit) or as the compact JSON text it was serialized to (written into the
/// response as it is, without a tree in between).
///
/// Results read off the wire (a client, [`crate::testing`]) hold a tree. Two contents are
/// equal when they hold the same JSON value, whichever way each holds it; a content also
/// compares with a [`Value`].
#[derive(Clone)]
pub struct StructuredContent(Repr);

#[derive(Clone)]
enum Repr {
    Tree(Value),
    Text(Box<RawValue>),
}

impl StructuredContent {
    /// Serialize `value` straight to JSON text (no [`Value`] is built), as agents see it:
    /// without the fields models hide from them (`#[mcp(skip)]`).
    pub fn from_serialize<T: Serialize + ?Sized>(value: &T) -> Result<Self, serde_json::Error> {
        // Fields of models hidden from agents (`#[mcp(skip)]`) stay out, however deep.
        crate::macro_support::for_agents(|| serde_json::value::to_raw_value(value)).map(Self::from)
    }

    /// The tree, when the content holds one (not when it holds text).
    pub fn as_value(&self) -> Option<&Value> {
        match &self.0 {
            Repr::Tree(v) => Some(v),
            Repr::Text(_) => None,
        }
    }

    /// The JSON text, when the content holds text (not when it holds a tree).
    pub fn as_raw(&self) -> Option<&RawValue> {
        match &self.0 {
            Repr::Tree(_) => None,
            Repr::Text(raw) => Some(raw),
        }
    }

    /// The value as a tree: a clone, or the text read back. Reading back fails only for
    /// text nested deeper than `serde_json`'s recursion limit (128).
    pub fn to_value(&self) -> Result<Value, serde_json::Error> {
        match &self.0 {
            Repr::Tree(v) => Ok(v.clone()),
            Repr::Text(raw) => serde_json::from_str(raw.get()),
        }
    }

    /// [`StructuredContent::to_value`], without the clone when the content is a tree.
    pub fn into_value(self) -> Result<Value, serde_json::Error> {
        match self.0 {
            Repr::Tree(v) => Ok(v),
            Repr::Text(raw) => serde_json::from_str(raw.get()),
        }
    }

    /// The compact JSON text (borrowed when the content holds text).
    pub fn json(&self) -> std::borrow::Cow<'_, str> {
        match &self.0 {
            Repr::Tree(v) => serde_json::to_string(v).unwrap_or_default().into(),
            Repr::Text(raw) => raw.get().into(),
        }
    }

    /// Whether the value is a JSON object.
    pub fn is_object(&self) -> bool {
        match &self.0 {
            Repr::Tree(v) => v.is_object(),
            Repr::Text(raw) => raw.get().trim_start().starts_with('{'),
        }
    }
}

impl From<Value> for StructuredContent {
    fn from(value: Value) -> Self {
        StructuredContent(Repr::Tree(value))
    }
}

impl From<Box<RawValue>> for StructuredContent {
    fn from(raw: Box<RawValue>) -> Self {
        StructuredContent(Repr::Text(raw))
    }
}

impl fmt::Debug for StructuredContent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Repr::Tree(v) => fmt::Debug::fmt(v, f),
            Repr::Text(raw) => f.write_str(raw.get()),
        }
    }
}

impl PartialEq for StructuredContent {
    fn eq(&self, other: &Self) -> bool {
        match (&self.0, &other.0) {
            (Repr::Tree(a), Repr::Tree(b)) => a == b,
            (Repr::Text(a), Repr::Text(b)) if a.get() == b.get() => true,
            _ => match (self.to_value(), other.to_value()) {
                (Ok(a), Ok(b)) => a == b,
                _ => false,
            },
        }
    }
}

impl PartialEq<Value> for StructuredContent {
    fn eq(&self, other: &Value) -> bool {
        match &self.0 {
            Repr::Tree(v) => v == other,
            Repr::Text(_) => self.to_value().is_ok_and(|v| v == *other),
        }
    }
}

impl Serialize for StructuredContent {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match &self.0 {
            Repr::Tree(v) => v.serialize(serializer),
            Repr::Text(raw) => raw.serialize(serializer),
        }
    }
}

impl<'de> Deserialize<'de> for StructuredContent {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Value::deserialize(deserializer).map(Self::from)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use serde_json::value::RawValue;

    use super::{CallToolResult, StructuredContent};

    fn text(json: &str) -> StructuredContent {
        StructuredContent::from(RawValue::from_string(json.to_owned()).unwrap())
    }

    #[test]
    fn text_and_tree_are_equal_when_they_hold_the_same_value() {
        let tree = StructuredContent::from(json!({ "a": 1, "b": [true] }));
        assert_eq!(text(r#"{"b":[true],"a":1}"#), tree);
        assert_eq!(tree, text(r#"{ "a": 1, "b": [true] }"#));
        assert_eq!(text(r#"{"a":1}"#), json!({ "a": 1 }));
        assert_ne!(text(r#"{"a":1}"#), json!({ "a": 2 }));
        assert_ne!(text("[1]"), tree);
    }

    #[test]
    fn text_is_written_as_it_is_and_read_back_as_a_tree() {
        #[derive(serde::Serialize)]
        struct Row<'a> {
            z: &'a str,
            a: u8,
        }
        let r = CallToolResult::serialized(&Row { z: "\"quoted\"", a: 1 }).unwrap();
        let content = r.structured_content.as_ref().unwrap();
        assert_eq!(content.as_raw().map(RawValue::get), Some(r#"{"z":"\"quoted\"","a":1}"#), "fields in order, once");
        assert!(content.as_value().is_none());
        assert_eq!(r.text_content(), r#"{"z":"\"quoted\"","a":1}"#, "the text block is the same JSON");
        assert_eq!(r.structured_value(), Some(json!({ "z": "\"quoted\"", "a": 1 })));
        let wire = serde_json::to_value(&r).unwrap();
        assert_eq!(wire["structuredContent"], json!({ "z": "\"quoted\"", "a": 1 }));
        // Read off the wire, a result holds a tree.
        let back: CallToolResult = serde_json::from_value(wire).unwrap();
        assert!(back.structured_content.as_ref().unwrap().as_value().is_some());
        assert_eq!(back, r);
    }

    #[test]
    fn objects_are_told_apart_without_reading_the_text() {
        assert!(text(r#"{"a":1}"#).is_object());
        assert!(!text("[1]").is_object());
        assert!(!text(r#""{""#).is_object());
        assert!(StructuredContent::from(json!({})).is_object());
        assert!(!StructuredContent::from(json!(1)).is_object());
    }

    #[test]
    fn text_nested_too_deep_to_read_back_is_no_value_but_still_serializes() {
        let deep = format!("{}{}", "[".repeat(200), "]".repeat(200));
        let content = StructuredContent::from_serialize(&RawValue::from_string(deep.clone()).unwrap()).unwrap();
        assert!(content.to_value().is_err());
        let r = CallToolResult::from_structured(content);
        assert_eq!(r.structured_value(), None);
        assert!(serde_json::to_string(&r).unwrap().contains(&deep));
    }
}
