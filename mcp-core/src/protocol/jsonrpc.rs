//! JSON-RPC 2.0 framing: ids, requests, notifications, responses, errors, and a parser
//! that classifies untrusted bytes without ever panicking.

use std::fmt;
use std::sync::Arc;

use serde::de::{self, Deserializer};
use serde::ser::Serializer;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use serde_json::value::RawValue;

/// The `"jsonrpc": "2.0"` marker. Serializes as `"2.0"` and refuses anything else.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct JsonRpcVersion;

impl Serialize for JsonRpcVersion {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str("2.0")
    }
}

impl<'de> Deserialize<'de> for JsonRpcVersion {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        if v == "2.0" {
            Ok(JsonRpcVersion)
        } else {
            Err(de::Error::custom(format_args!("`jsonrpc` must be \"2.0\", got {v:?}")))
        }
    }
}

/// A request id: a string or an integer. MCP forbids `null`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(untagged)]
pub enum RequestId {
    /// An integer id.
    Number(i64),
    /// A string id.
    String(Arc<str>),
}

impl<'de> Deserialize<'de> for RequestId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl de::Visitor<'_> for Visitor {
            type Value = RequestId;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string or an integer")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<RequestId, E> {
                Ok(RequestId::Number(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<RequestId, E> {
                i64::try_from(v)
                    .map(RequestId::Number)
                    .map_err(|_| E::invalid_value(de::Unexpected::Unsigned(v), &"an integer that fits in 64 bits"))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<RequestId, E> {
                Ok(RequestId::String(v.into()))
            }
        }
        // Not `untagged`: that buffers every id before trying each variant.
        d.deserialize_any(Visitor)
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RequestId::Number(n) => write!(f, "{n}"),
            RequestId::String(s) => write!(f, "{s:?}"),
        }
    }
}

impl From<i64> for RequestId {
    fn from(v: i64) -> Self {
        RequestId::Number(v)
    }
}

impl From<&str> for RequestId {
    fn from(v: &str) -> Self {
        RequestId::String(v.into())
    }
}

impl From<String> for RequestId {
    fn from(v: String) -> Self {
        RequestId::String(v.into())
    }
}

/// Standard JSON-RPC and MCP error codes.
pub mod codes {
    /// Invalid JSON was received.
    pub const PARSE_ERROR: i32 = -32700;
    /// The JSON sent is not a valid request object.
    pub const INVALID_REQUEST: i32 = -32600;
    /// The method does not exist or is not available.
    pub const METHOD_NOT_FOUND: i32 = -32601;
    /// Invalid method parameters.
    pub const INVALID_PARAMS: i32 = -32602;
    /// Internal error.
    pub const INTERNAL_ERROR: i32 = -32603;
    /// Resource not found (2025-11-25 and earlier; 2026-07-28 uses `INVALID_PARAMS`).
    pub const RESOURCE_NOT_FOUND_LEGACY: i32 = -32002;
    /// HTTP headers disagree with the body (2026-07-28).
    pub const HEADER_MISMATCH: i32 = -32020;
    /// The request needs a client capability the client did not declare (2026-07-28).
    pub const MISSING_REQUIRED_CLIENT_CAPABILITY: i32 = -32021;
    /// The requested protocol version is not supported (2026-07-28).
    pub const UNSUPPORTED_PROTOCOL_VERSION: i32 = -32022;
}

/// The `error` member of an error response.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ErrorObject {
    /// The error code.
    pub code: i32,
    /// A short, readable description.
    pub message: String,
    /// Additional information.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<Value>,
}

impl ErrorObject {
    /// An error with a code and message.
    pub fn new(code: i32, message: impl Into<String>) -> Self {
        ErrorObject { code, message: message.into(), data: None }
    }

    /// Attach `data`.
    pub fn with_data(mut self, data: Value) -> Self {
        self.data = Some(data);
        self
    }

    /// -32700.
    pub fn parse_error(message: impl Into<String>) -> Self {
        Self::new(codes::PARSE_ERROR, message)
    }

    /// -32600.
    pub fn invalid_request(message: impl Into<String>) -> Self {
        Self::new(codes::INVALID_REQUEST, message)
    }

    /// -32601 naming the method.
    pub fn method_not_found(method: &str) -> Self {
        Self::new(codes::METHOD_NOT_FOUND, format!("method not found: {method}"))
    }

    /// -32602.
    pub fn invalid_params(message: impl Into<String>) -> Self {
        Self::new(codes::INVALID_PARAMS, message)
    }

    /// -32603.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(codes::INTERNAL_ERROR, message)
    }
}

impl fmt::Display for ErrorObject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "JSON-RPC error {}: {}", self.code, self.message)
    }
}

impl std::error::Error for ErrorObject {}

/// A request: has an id and expects a response.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Request {
    /// Always `"2.0"`.
    pub jsonrpc: JsonRpcVersion,
    /// The id the response must echo.
    pub id: RequestId,
    /// The method name.
    pub method: String,
    /// Parameters, kept as raw JSON until the method is known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub params: Option<Box<RawValue>>,
}

impl Request {
    /// A request with parameters serialized from `params`.
    pub fn new<P: Serialize>(id: impl Into<RequestId>, method: impl Into<String>, params: &P) -> Self {
        Request { jsonrpc: JsonRpcVersion, id: id.into(), method: method.into(), params: Some(to_raw(params)) }
    }
}

/// A notification: no id, no response.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Notification {
    /// Always `"2.0"`.
    pub jsonrpc: JsonRpcVersion,
    /// The method name.
    pub method: String,
    /// Parameters, kept as raw JSON.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub params: Option<Box<RawValue>>,
}

impl Notification {
    /// A notification with parameters serialized from `params`.
    pub fn new<P: Serialize>(method: impl Into<String>, params: &P) -> Self {
        Notification { jsonrpc: JsonRpcVersion, method: method.into(), params: Some(to_raw(params)) }
    }
}

/// The result or error carried by a response.
#[derive(Clone, Debug)]
pub enum Outcome {
    /// A successful result, already serialized (results such as `tools/list` pages are
    /// serialized once and shared).
    Result(Arc<RawValue>),
    /// An error.
    Error(ErrorObject),
}

/// A response to a request.
#[derive(Clone, Debug)]
pub struct Response {
    /// The id of the request; `None` only when it could not be read.
    pub id: Option<RequestId>,
    /// What happened.
    pub outcome: Outcome,
}

impl Response {
    /// A successful response from a serializable result.
    pub fn result<T: Serialize>(id: RequestId, result: &T) -> Self {
        Response { id: Some(id), outcome: Outcome::Result(Arc::from(to_raw(result))) }
    }

    /// A successful response from pre-serialized JSON.
    pub fn raw(id: RequestId, result: Arc<RawValue>) -> Self {
        Response { id: Some(id), outcome: Outcome::Result(result) }
    }

    /// An error response.
    pub fn error(id: Option<RequestId>, error: ErrorObject) -> Self {
        Response { id, outcome: Outcome::Error(error) }
    }

    /// The error, if this is an error response.
    pub fn as_error(&self) -> Option<&ErrorObject> {
        match &self.outcome {
            Outcome::Error(e) => Some(e),
            Outcome::Result(_) => None,
        }
    }

    /// Serialize to bytes.
    pub fn to_vec(&self) -> Vec<u8> {
        let size = match &self.outcome {
            Outcome::Result(r) => r.get().len() + 64,
            Outcome::Error(e) => e.message.len() + 128,
        };
        let mut out = Vec::with_capacity(size);
        if let Outcome::Result(r) = &self.outcome {
            // Every answer goes this way: the envelope written as it is (what serializing
            // `self` writes, without serde's machinery for a raw value inside a struct).
            if write_result_head(&mut out, self.id.as_ref()) {
                out.extend_from_slice(r.get().as_bytes());
                out.push(b'}');
                return out;
            }
            out.clear();
        }
        match serde_json::to_writer(&mut out, self) {
            Ok(()) => out,
            Err(_) => {
                br#"{"jsonrpc":"2.0","id":null,"error":{"code":-32603,"message":"unserializable response"}}"#.to_vec()
            }
        }
    }
}

/// `{"jsonrpc":"2.0","id":…,"result":`, as serializing a [`Response`] writes it; `false`
/// (with `out` partly written) if the id would not serialize.
fn write_result_head(out: &mut Vec<u8>, id: Option<&RequestId>) -> bool {
    out.extend_from_slice(br#"{"jsonrpc":"2.0","id":"#);
    let id = match id {
        Some(RequestId::Number(n)) => serde_json::to_writer(&mut *out, n),
        Some(RequestId::String(s)) => serde_json::to_writer(&mut *out, &**s),
        None => serde_json::to_writer(&mut *out, &()),
    };
    out.extend_from_slice(br#","result":"#);
    id.is_ok()
}

/// The bytes of a successful response with `result` serialized straight into them: what
/// [`Response::result`] followed by [`Response::to_vec`] writes, without the copy between.
pub(crate) fn encode_result<T: Serialize>(id: &RequestId, result: &T) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    if write_result_head(&mut out, Some(id)) {
        let start = out.len();
        match serde_json::to_writer(&mut out, result) {
            Ok(()) => {
                out.push(b'}');
                return out;
            }
            Err(_) => out.truncate(start),
        }
    }
    Response::result(id.clone(), result).to_vec()
}

#[derive(Serialize)]
struct ResponseOut<'a> {
    jsonrpc: JsonRpcVersion,
    id: &'a Option<RequestId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    result: Option<&'a RawValue>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'a ErrorObject>,
}

impl Serialize for Response {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let (result, error) = match &self.outcome {
            Outcome::Result(r) => (Some(&**r), None),
            Outcome::Error(e) => (None, Some(e)),
        };
        ResponseOut { jsonrpc: JsonRpcVersion, id: &self.id, result, error }.serialize(s)
    }
}

impl<'de> Deserialize<'de> for Response {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        struct ResponseIn {
            #[allow(dead_code)]
            jsonrpc: JsonRpcVersion,
            #[serde(default)]
            id: Option<RequestId>,
            #[serde(default)]
            result: Option<Box<RawValue>>,
            #[serde(default)]
            error: Option<ErrorObject>,
        }
        let r = ResponseIn::deserialize(d)?;
        let outcome = match (r.result, r.error) {
            (Some(res), None) => Outcome::Result(Arc::from(res)),
            (None, Some(err)) => Outcome::Error(err),
            _ => return Err(de::Error::custom("a response has exactly one of `result` and `error`")),
        };
        Ok(Response { id: r.id, outcome })
    }
}

/// Any JSON-RPC message.
#[derive(Clone, Debug)]
pub enum Message {
    /// A request.
    Request(Request),
    /// A notification.
    Notification(Notification),
    /// A response (to a request this side sent).
    Response(Response),
}

impl Serialize for Message {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Message::Request(r) => r.serialize(s),
            Message::Notification(n) => n.serialize(s),
            Message::Response(r) => r.serialize(s),
        }
    }
}

/// What [`parse`] found in a body: one message or a batch.
#[derive(Debug)]
pub enum Parsed {
    /// A single message.
    Single(Message),
    /// A JSON array of messages (allowed by protocol 2025-03-26 only). Each element parsed
    /// on its own; invalid elements carry the error response to send back.
    Batch(Vec<Result<Message, Response>>),
}

/// Serialize to a raw JSON value. Our protocol types cannot fail to serialize; if a
/// user type does, the error text is carried instead of panicking.
pub fn to_raw<T: Serialize + ?Sized>(value: &T) -> Box<RawValue> {
    serde_json::value::to_raw_value(value).unwrap_or_else(|e| {
        serde_json::value::to_raw_value(&format!("<serialization failed: {e}>")).expect("a string always serializes")
    })
}

/// Parse untrusted bytes into a message or a batch. Errors are ready-made JSON-RPC error
/// responses: invalid JSON gives -32700 with id `null`, a well-formed value that is not a
/// JSON-RPC message gives -32600 (with the id when it could be read).
///
/// Nesting deeper than 128 levels and numbers that do not fit are reported as errors by
/// serde_json's limits; nothing here recurses on input depth.
///
/// A well-formed message is read in one pass that borrows from `bytes` (only the method
/// and the params are copied out); only input that fails it is read again, to tell a
/// syntax error from a JSON value that is not a message.
pub fn parse(bytes: &[u8]) -> Result<Parsed, Response> {
    if nesting_exceeds(bytes, MAX_DEPTH) {
        let msg = format!("parse error: JSON nested deeper than {MAX_DEPTH} levels");
        return Err(Response::error(None, ErrorObject::parse_error(msg)));
    }
    let first = bytes.iter().copied().find(|b| !b.is_ascii_whitespace());
    if first == Some(b'[') {
        let items: Vec<&RawValue> = serde_json::from_slice(bytes).map_err(|e| not_json(bytes, &e))?;
        if items.is_empty() {
            return Err(Response::error(None, ErrorObject::invalid_request("empty batch")));
        }
        return Ok(Parsed::Batch(items.iter().map(|raw| parse_one(raw.get().as_bytes())).collect()));
    }
    parse_one(bytes).map(Parsed::Single)
}

/// -32700 for bytes that are not JSON: text that is not UTF-8 (at which byte), or a
/// syntax error (where).
#[cold]
fn not_json(bytes: &[u8], e: &serde_json::Error) -> Response {
    let msg = match std::str::from_utf8(bytes) {
        Err(u) => format!(
            "parse error: the message is not valid UTF-8 (invalid byte at offset {}); JSON must be sent as UTF-8",
            u.valid_up_to()
        ),
        Ok(_) => format!("parse error: {e}"),
    };
    Response::error(None, ErrorObject::parse_error(msg))
}

/// The first member name repeated in the JSON object `bytes`, if any (a message with two
/// `id`s or two `method`s is ambiguous: it is refused, naming the key).
#[cold]
fn duplicate_key(bytes: &[u8]) -> Option<String> {
    struct Keys;
    impl<'de> de::Visitor<'de> for Keys {
        type Value = Option<String>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a JSON object")
        }
        fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<Option<String>, A::Error> {
            // Read to the end: the deserializer expects the whole object consumed.
            let (mut seen, mut first) = (std::collections::HashSet::new(), None);
            while let Some(key) = map.next_key::<String>()? {
                map.next_value::<de::IgnoredAny>()?;
                if first.is_none() {
                    first = seen.replace(key);
                }
            }
            Ok(first)
        }
    }
    serde_json::Deserializer::from_slice(bytes).deserialize_map(Keys).ok().flatten()
}

/// The text of a JSON string value; `None` for any other value. Borrowed when the string
/// has no escapes (the usual case: nothing is copied), decoded otherwise.
///
/// ```
/// use mcp_core::protocol::jsonrpc::str_value;
/// use serde_json::value::RawValue;
///
/// let plain: &RawValue = serde_json::from_str(r#""2026-07-28""#).unwrap();
/// assert!(matches!(str_value(plain), Some(std::borrow::Cow::Borrowed("2026-07-28"))));
/// let escaped: &RawValue = serde_json::from_str(r#""a\u0062""#).unwrap();
/// assert_eq!(str_value(escaped).as_deref(), Some("ab"));
/// let number: &RawValue = serde_json::from_str("7").unwrap();
/// assert_eq!(str_value(number), None);
/// ```
pub fn str_value(raw: &RawValue) -> Option<std::borrow::Cow<'_, str>> {
    let text = raw.get();
    // A raw value is valid JSON: a string without a backslash is its own text.
    if let Some(inner) = text.strip_prefix('"').and_then(|t| t.strip_suffix('"'))
        && !inner.contains('\\')
    {
        return Some(std::borrow::Cow::Borrowed(inner));
    }
    serde_json::from_str::<String>(text).ok().map(std::borrow::Cow::Owned)
}

/// Whether `bytes` nest arrays and objects deeper than [`MAX_DEPTH`] (what [`parse`]
/// refuses as a parse error).
pub fn nests_too_deep(bytes: &[u8]) -> bool {
    nesting_exceeds(bytes, MAX_DEPTH)
}

/// Deepest nesting of arrays and objects accepted in a message (serde_json's own limit
/// for typed values; raw values would otherwise pass unchecked).
pub const MAX_DEPTH: usize = 128;

/// Whether `bytes` nests arrays/objects deeper than `max`, ignoring brackets in strings.
/// One pass, no allocation.
fn nesting_exceeds(bytes: &[u8], max: usize) -> bool {
    // Fewer brackets than the limit cannot nest deeper than it: one cheap count first.
    // (`b | 0x20` maps `[` to `{` and nothing else to it; byte-sized sums vectorize.)
    let openers: usize =
        bytes.chunks(255).map(|c| usize::from(c.iter().map(|&b| u8::from(b | 0x20 == b'{')).sum::<u8>())).sum();
    if openers <= max {
        return false;
    }
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    for &b in bytes {
        if in_string {
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > max {
                    return true;
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    false
}

/// The members of a message, borrowed from the input.
#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(default, borrow)]
    jsonrpc: Option<&'a RawValue>,
    #[serde(default, borrow, deserialize_with = "present")]
    id: Option<&'a RawValue>,
    #[serde(default, borrow)]
    method: Option<&'a RawValue>,
    #[serde(default, borrow)]
    params: Option<&'a RawValue>,
    #[serde(default, borrow)]
    result: Option<&'a RawValue>,
    #[serde(default, borrow)]
    error: Option<&'a RawValue>,
}

/// `null` for `id` must be distinguishable from a missing id.
fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<&'de RawValue>, D::Error> {
    <&'de RawValue>::deserialize(d).map(Some)
}

/// Parse one message.
fn parse_one(bytes: &[u8]) -> Result<Message, Response> {
    let env: Envelope<'_> = match serde_json::from_slice(bytes) {
        Ok(env) => env,
        // Not a message: a syntax error (-32700), or valid JSON of another shape (-32600).
        Err(e) => {
            // (Skipping a value does not check that its strings are UTF-8: checked first.)
            if std::str::from_utf8(bytes).is_err() {
                return Err(not_json(bytes, &e));
            }
            return Err(match serde_json::from_slice::<de::IgnoredAny>(bytes) {
                Err(e) => not_json(bytes, &e),
                Ok(_) => match duplicate_key(bytes) {
                    Some(key) => Response::error(
                        None,
                        ErrorObject::invalid_request(format!(
                            "invalid JSON-RPC message: duplicate key `{key}`; each member may appear only once"
                        )),
                    ),
                    None => Response::error(
                        None,
                        ErrorObject::invalid_request("not a JSON-RPC message: expected a JSON object"),
                    ),
                },
            });
        }
    };
    let id = match env.id {
        None => None,
        Some(raw) => match serde_json::from_str::<RequestId>(raw.get()) {
            Ok(id) => Some(id),
            Err(_) => {
                let msg =
                    if raw.get() == "null" { "`id` must not be null" } else { "`id` must be a string or an integer" };
                return Err(Response::error(None, ErrorObject::invalid_request(msg)));
            }
        },
    };
    let invalid = |msg: &str| Response::error(id.clone(), ErrorObject::invalid_request(msg));
    match env.jsonrpc.map(RawValue::get) {
        Some("\"2.0\"") => {}
        Some(_) => return Err(invalid("`jsonrpc` must be \"2.0\"")),
        None => return Err(invalid("missing `jsonrpc`: \"2.0\"")),
    }
    if let Some(params) = env.params {
        let p = params.get().as_bytes().first();
        if p != Some(&b'{') && p != Some(&b'[') {
            return Err(invalid("`params` must be an object or an array"));
        }
    }
    let params = env.params.map(ToOwned::to_owned);
    match (env.method, env.result, env.error) {
        (Some(method), None, None) => {
            let method: String =
                serde_json::from_str(method.get()).map_err(|_| invalid("`method` must be a string"))?;
            Ok(match id {
                Some(id) => Message::Request(Request { jsonrpc: JsonRpcVersion, id, method, params }),
                None => Message::Notification(Notification { jsonrpc: JsonRpcVersion, method, params }),
            })
        }
        (None, Some(result), None) => match id {
            Some(id) => {
                Ok(Message::Response(Response { id: Some(id), outcome: Outcome::Result(Arc::from(result.to_owned())) }))
            }
            None => Err(invalid("a response needs an `id`")),
        },
        (None, None, Some(error)) => {
            let error: ErrorObject = serde_json::from_str(error.get())
                .map_err(|_| invalid("`error` must be an object with `code` and `message`"))?;
            Ok(Message::Response(Response { id, outcome: Outcome::Error(error) }))
        }
        _ => Err(invalid("not a JSON-RPC message: expected exactly one of `method`, `result` or `error`")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err_code(bytes: &[u8]) -> (i32, Option<RequestId>) {
        let resp = parse(bytes).expect_err("should fail");
        (resp.as_error().unwrap().code, resp.id)
    }

    #[test]
    fn invalid_json_is_parse_error_with_null_id() {
        let resp = parse(b"{\"jsonrpc\":\"2.0\",").unwrap_err();
        assert_eq!(resp.as_error().unwrap().code, codes::PARSE_ERROR);
        let text = String::from_utf8(resp.to_vec()).unwrap();
        assert!(text.contains("\"id\":null"), "{text}");
    }

    #[test]
    fn answers_are_written_as_serde_writes_them() {
        let result: Arc<RawValue> = Arc::from(to_raw(&serde_json::json!({ "content": [], "x": "\"q\"" })));
        let ids = [Some(RequestId::Number(-7)), Some(RequestId::String("a\"b\\c\u{1}é".into())), None];
        for id in ids {
            let r = Response { id: id.clone(), outcome: Outcome::Result(result.clone()) };
            assert_eq!(r.to_vec(), serde_json::to_vec(&r).unwrap(), "{id:?}");
            let back: Response = serde_json::from_slice(&r.to_vec()).unwrap();
            assert_eq!(back.id, id);
        }
        let e = Response::error(Some(RequestId::Number(1)), ErrorObject::internal("x"));
        assert_eq!(e.to_vec(), serde_json::to_vec(&e).unwrap());
        // Serialized straight into the response: the same bytes, failures included.
        struct Fails;
        impl Serialize for Fails {
            fn serialize<S: serde::Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
                Err(serde::ser::Error::custom("no"))
            }
        }
        let value = serde_json::json!({ "content": [], "x": "\"q\"" });
        for id in [RequestId::Number(-7), RequestId::String("a\"b\\c\u{1}é".into())] {
            assert_eq!(encode_result(&id, &value), Response::result(id.clone(), &value).to_vec(), "{id:?}");
            assert_eq!(encode_result(&id, &Fails), Response::result(id.clone(), &Fails).to_vec(), "{id:?}");
        }
    }

    #[test]
    fn non_objects_are_invalid_requests() {
        assert_eq!(err_code(b"42").0, codes::INVALID_REQUEST);
        assert_eq!(err_code(b"\"hello\"").0, codes::INVALID_REQUEST);
        assert_eq!(err_code(b"null").0, codes::INVALID_REQUEST);
        assert_eq!(err_code(b"[]").0, codes::INVALID_REQUEST);
    }

    #[test]
    fn invalid_utf8_is_a_parse_error_naming_the_offset() {
        for body in [
            &b"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"p\xffng\"}"[..],
            b"[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"p\xffng\"}]",
        ] {
            let resp = parse(body).unwrap_err();
            let e = resp.as_error().unwrap();
            assert_eq!(e.code, codes::PARSE_ERROR);
            let offset = body.iter().position(|&b| b == 0xff).unwrap();
            assert!(e.message.contains(&format!("not valid UTF-8 (invalid byte at offset {offset})")), "{}", e.message);
        }
    }

    #[test]
    fn duplicate_keys_are_named() {
        for (body, key) in [
            (&br#"{"jsonrpc":"2.0","id":1,"id":2,"method":"ping"}"#[..], "id"),
            (br#"{"jsonrpc":"2.0","id":1,"method":"ping","method":"tools/call"}"#, "method"),
            (br#"{"jsonrpc":"2.0","jsonrpc":"2.0","id":1,"method":"ping"}"#, "jsonrpc"),
        ] {
            let resp = parse(body).unwrap_err();
            let e = resp.as_error().unwrap();
            assert_eq!(e.code, codes::INVALID_REQUEST);
            assert!(e.message.contains(&format!("duplicate key `{key}`")), "{}", e.message);
        }
    }

    #[test]
    fn wrong_version_keeps_the_id() {
        let (code, id) = err_code(br#"{"jsonrpc":"1.0","id":7,"method":"ping"}"#);
        assert_eq!(code, codes::INVALID_REQUEST);
        assert_eq!(id, Some(RequestId::Number(7)));
        assert_eq!(err_code(br#"{"id":7,"method":"ping"}"#).0, codes::INVALID_REQUEST);
    }

    #[test]
    fn null_or_fractional_ids_are_rejected() {
        assert_eq!(err_code(br#"{"jsonrpc":"2.0","id":null,"method":"ping"}"#).0, codes::INVALID_REQUEST);
        assert_eq!(err_code(br#"{"jsonrpc":"2.0","id":1.5,"method":"ping"}"#).0, codes::INVALID_REQUEST);
        assert_eq!(err_code(br#"{"jsonrpc":"2.0","id":{},"method":"ping"}"#).0, codes::INVALID_REQUEST);
    }

    #[test]
    fn params_must_be_structured() {
        assert_eq!(err_code(br#"{"jsonrpc":"2.0","id":1,"method":"ping","params":3}"#).0, codes::INVALID_REQUEST);
    }

    #[test]
    fn classifies_messages() {
        let req = parse(br#"{"jsonrpc":"2.0","id":"a","method":"tools/list","params":{}}"#).unwrap();
        assert!(matches!(req, Parsed::Single(Message::Request(ref r)) if r.id == RequestId::from("a")));
        let note = parse(br#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#).unwrap();
        assert!(matches!(note, Parsed::Single(Message::Notification(_))));
        let resp = parse(br#"{"jsonrpc":"2.0","id":3,"result":{"roots":[]}}"#).unwrap();
        assert!(matches!(resp, Parsed::Single(Message::Response(_))));
        let err = parse(br#"{"jsonrpc":"2.0","id":3,"error":{"code":-1,"message":"no"}}"#).unwrap();
        assert!(matches!(err, Parsed::Single(Message::Response(Response { outcome: Outcome::Error(_), .. }))));
        let both = parse(br#"{"jsonrpc":"2.0","id":3,"result":{},"error":{"code":1,"message":""}}"#);
        assert!(both.is_err());
    }

    #[test]
    fn batches_parse_each_element() {
        let Parsed::Batch(items) =
            parse(br#"[{"jsonrpc":"2.0","id":1,"method":"ping"}, 5, {"jsonrpc":"2.0","method":"x"}]"#).unwrap()
        else {
            panic!("expected a batch")
        };
        assert_eq!(items.len(), 3);
        assert!(items[0].is_ok());
        assert!(items[1].is_err());
        assert!(items[2].is_ok());
    }

    #[test]
    fn absurd_nesting_is_a_clean_error() {
        let mut deep = String::from(r#"{"jsonrpc":"2.0","id":1,"method":"x","params":{"a":"#);
        deep.push_str(&"[".repeat(100_000));
        deep.push_str(&"]".repeat(100_000));
        deep.push_str("}}");
        assert_eq!(err_code(deep.as_bytes()).0, codes::PARSE_ERROR);
        let batch = "[".repeat(1_000_000);
        assert_eq!(err_code(batch.as_bytes()).0, codes::PARSE_ERROR);
        // Brackets inside strings do not count.
        let text = format!(
            r#"{{"jsonrpc":"2.0","id":1,"method":"x","params":{{"s":"{}\\\"{}"}}}}"#,
            "[".repeat(500),
            "{".repeat(500)
        );
        assert!(parse(text.as_bytes()).is_ok());
        let ok = format!(
            r#"{{"jsonrpc":"2.0","id":1,"method":"x","params":{{"a":{}{}}}}}"#,
            "[".repeat(120),
            "]".repeat(120)
        );
        assert!(parse(ok.as_bytes()).is_ok());
    }

    #[test]
    fn huge_numbers_are_clean_errors() {
        assert_eq!(err_code(br#"{"jsonrpc":"2.0","id":1e999,"method":"x"}"#).0, codes::INVALID_REQUEST);
        let (code, _) = err_code(br#"{"jsonrpc":"2.0","id":123456789012345678901234567890,"method":"x"}"#);
        assert_eq!(code, codes::INVALID_REQUEST);
    }

    #[test]
    fn responses_serialize_compactly() {
        let r = Response::result(RequestId::Number(1), &serde_json::json!({"a": 1}));
        assert_eq!(String::from_utf8(r.to_vec()).unwrap(), r#"{"jsonrpc":"2.0","id":1,"result":{"a":1}}"#);
        let e = Response::error(None, ErrorObject::parse_error("bad"));
        assert_eq!(
            String::from_utf8(e.to_vec()).unwrap(),
            r#"{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"bad"}}"#
        );
    }
}
