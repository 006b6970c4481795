//! The filter language agents use: Django-style keys (`title__icontains`) and
//! Mongo-style operators (`{"$gt": 5}`, `$and`, `$or`, `$nor`, `$not`), parsed into one
//! tree and checked against the model's fields before any SQL exists.
//!
//! ```
//! use mcp_diesel::filter::{Caps, FieldInfo, Filter, Kind, Op, parse};
//! use serde_json::json;
//!
//! const FIELDS: &[FieldInfo] = &[
//!     FieldInfo::new("id", Kind::Integer),
//!     FieldInfo::new("title", Kind::Text),
//!     FieldInfo::new("published", Kind::Bool),
//! ];
//! let f = parse(&json!({ "title__icontains": "rust", "$or": [{ "id": { "$lt": 10 } }, { "published": true }] }),
//!               FIELDS, &Caps::default(), false).unwrap();
//! let Filter::And(parts) = f else { panic!() };
//! assert_eq!(parts.len(), 2);
//! ```

use std::fmt;

use serde_json::{Map, Value};

/// What kind of values a column holds; decides the operators it supports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Strings.
    Text,
    /// Integers.
    Integer,
    /// Floating-point numbers.
    Float,
    /// Booleans.
    Bool,
    /// Timestamps (ISO 8601 text on the wire).
    DateTime,
    /// Dates (`YYYY-MM-DD`).
    Date,
    /// Times of day (`HH:MM:SS`).
    Time,
    /// UUIDs.
    Uuid,
    /// A closed set of values (a Rust enum).
    Enum,
}

impl Kind {
    /// A readable name for messages.
    pub fn describe(self) -> &'static str {
        match self {
            Kind::Text => "text",
            Kind::Integer => "integer",
            Kind::Float => "number",
            Kind::Bool => "boolean",
            Kind::DateTime => "date-time",
            Kind::Date => "date",
            Kind::Time => "time",
            Kind::Uuid => "uuid",
            Kind::Enum => "enum",
        }
    }

    /// The operators values of this kind support (`isnull` is added for nullable fields).
    pub fn operators(self) -> &'static [Op] {
        use Op::*;
        match self {
            Kind::Text => &[Eq, Ne, In, NotIn, Contains, IContains, StartsWith, EndsWith, Regex],
            Kind::Integer | Kind::Float | Kind::DateTime | Kind::Date | Kind::Time => {
                &[Eq, Ne, Gt, Gte, Lt, Lte, In, NotIn, Between]
            }
            Kind::Bool => &[Eq, Ne],
            Kind::Uuid | Kind::Enum => &[Eq, Ne, In, NotIn],
        }
    }

    /// Whether the values are ordered (usable for sorting and keyset pagination).
    pub fn is_ordered(self) -> bool {
        !matches!(self, Kind::Bool)
    }
}

/// A column as agents see it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FieldInfo {
    /// The name agents use (the struct field's name).
    pub name: &'static str,
    /// Its kind.
    pub kind: Kind,
    /// Whether it may be null.
    pub nullable: bool,
    /// Hidden from agents (`#[mcp(skip)]`): only server-side scopes may use it.
    pub hidden: bool,
}

impl FieldInfo {
    /// A non-null field.
    pub const fn new(name: &'static str, kind: Kind) -> Self {
        FieldInfo { name, kind, nullable: false, hidden: false }
    }

    /// A nullable field.
    pub const fn nullable(name: &'static str, kind: Kind) -> Self {
        FieldInfo { name, kind, nullable: true, hidden: false }
    }

    /// The same field, hidden from agents.
    pub const fn hide(self) -> Self {
        FieldInfo { hidden: true, ..self }
    }

    /// The operators this field supports.
    pub fn operators(&self) -> Vec<Op> {
        let mut ops = self.kind.operators().to_vec();
        if self.nullable {
            ops.push(Op::IsNull);
        }
        ops
    }
}

/// A comparison.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Op {
    /// Equal (NULL-safe for nullable fields: `null` matches null).
    Eq,
    /// Not equal (NULL-safe: null rows are "not equal" to any value).
    Ne,
    /// Greater than.
    Gt,
    /// Greater than or equal.
    Gte,
    /// Less than.
    Lt,
    /// Less than or equal.
    Lte,
    /// One of a list.
    In,
    /// None of a list.
    NotIn,
    /// Contains a substring (case-sensitive).
    Contains,
    /// Contains a substring, ignoring case.
    IContains,
    /// Starts with (case-sensitive).
    StartsWith,
    /// Ends with (case-sensitive).
    EndsWith,
    /// Is (or with `false`: is not) null.
    IsNull,
    /// Between two values, inclusive.
    Between,
    /// Matches a regular expression (backends that have one).
    Regex,
}

impl Op {
    /// The Django-style suffix.
    pub fn name(self) -> &'static str {
        match self {
            Op::Eq => "eq",
            Op::Ne => "ne",
            Op::Gt => "gt",
            Op::Gte => "gte",
            Op::Lt => "lt",
            Op::Lte => "lte",
            Op::In => "in",
            Op::NotIn => "nin",
            Op::Contains => "contains",
            Op::IContains => "icontains",
            Op::StartsWith => "startswith",
            Op::EndsWith => "endswith",
            Op::IsNull => "isnull",
            Op::Between => "between",
            Op::Regex => "regex",
        }
    }

    fn from_suffix(s: &str) -> Option<Op> {
        Some(match s {
            "eq" | "exact" => Op::Eq,
            "ne" | "neq" => Op::Ne,
            "gt" => Op::Gt,
            "gte" => Op::Gte,
            "lt" => Op::Lt,
            "lte" => Op::Lte,
            "in" => Op::In,
            "nin" | "not_in" => Op::NotIn,
            "contains" => Op::Contains,
            "icontains" => Op::IContains,
            "startswith" => Op::StartsWith,
            "endswith" => Op::EndsWith,
            "isnull" => Op::IsNull,
            "between" | "range" => Op::Between,
            "regex" => Op::Regex,
            _ => return None,
        })
    }

    fn from_mongo(s: &str) -> Option<Op> {
        s.strip_prefix('$').and_then(Op::from_suffix)
    }
}

/// One condition on one field. `value` is JSON as the agent sent it: a single value, a
/// list (`in`, `nin`), a pair (`between`), a boolean (`isnull`) or a string pattern.
#[derive(Clone, Debug, PartialEq)]
pub struct Condition {
    /// Index of the field in the model's field list.
    pub field: usize,
    /// The comparison.
    pub op: Op,
    /// The operand.
    pub value: Value,
}

/// A filter tree.
#[derive(Clone, Debug, PartialEq)]
pub enum Filter {
    /// All must hold (an empty `And` is always true).
    And(Vec<Filter>),
    /// At least one must hold (an empty `Or` is always false).
    Or(Vec<Filter>),
    /// Must not hold.
    Not(Box<Filter>),
    /// A condition.
    Leaf(Condition),
    /// A condition on the rows a declared relation reaches: `relation` is the index in the
    /// model's `RELATIONS`, `filter` is over the related model's fields. Holds when a
    /// related row matches (for `has_many`: any of them).
    Related {
        /// Index of the relation in `ModelInfo::RELATIONS`.
        relation: usize,
        /// The condition on the related rows (their scope is ANDed in before any SQL).
        filter: Box<Filter>,
    },
}

impl Filter {
    /// A filter that matches everything.
    pub fn all() -> Self {
        Filter::And(Vec::new())
    }

    /// Number of conditions.
    pub fn conditions(&self) -> usize {
        match self {
            Filter::And(v) | Filter::Or(v) => v.iter().map(Filter::conditions).sum(),
            Filter::Not(f) | Filter::Related { filter: f, .. } => f.conditions(),
            Filter::Leaf(_) => 1,
        }
    }
}

/// Limits on what a filter may ask for.
#[derive(Clone, Copy, Debug)]
pub struct Caps {
    /// Deepest nesting of `$and`/`$or`/`$nor`/`$not`.
    pub max_depth: usize,
    /// Most conditions in one filter.
    pub max_conditions: usize,
    /// Longest `in`/`nin` list.
    pub max_in_list: usize,
    /// Longest text operand of `contains`-like operators and `regex`.
    pub max_pattern_len: usize,
}

impl Default for Caps {
    fn default() -> Self {
        Caps { max_depth: 5, max_conditions: 50, max_in_list: 100, max_pattern_len: 200 }
    }
}

/// Why a filter was refused; the message tells the agent how to fix it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FilterError(pub String);

impl fmt::Display for FilterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for FilterError {}

fn list(items: impl IntoIterator<Item = impl AsRef<str>>) -> String {
    items.into_iter().map(|s| format!("`{}`", s.as_ref())).collect::<Vec<_>>().join(", ")
}

/// A declared relation a filter may go through: its name, its index in the model's
/// `RELATIONS`, and the related model's fields.
#[derive(Clone, Copy, Debug)]
pub struct RelatedFields<'a> {
    /// The relation's name (`author`).
    pub name: &'a str,
    /// Its index in `ModelInfo::RELATIONS`.
    pub index: usize,
    /// The related model's fields.
    pub fields: &'a [FieldInfo],
}

struct Parser<'a> {
    fields: &'a [FieldInfo],
    relations: &'a [RelatedFields<'a>],
    caps: &'a Caps,
    regex: bool,
    conditions: usize,
    trusted: bool,
}

/// Parse an agent's filter object. Hidden fields do not exist for it. `regex` says
/// whether the backend supports `regex`.
pub fn parse(value: &Value, fields: &[FieldInfo], caps: &Caps, regex: bool) -> Result<Filter, FilterError> {
    parse_related(value, fields, &[], caps, regex)
}

/// [`parse`], with declared relations the filter may go through: `author.name__icontains`,
/// `{"author.name": {"$icontains": ...}}` or `{"author": {"name__icontains": ...}}` (the
/// related model's visible fields only, one level deep).
pub fn parse_related(
    value: &Value,
    fields: &[FieldInfo],
    relations: &[RelatedFields<'_>],
    caps: &Caps,
    regex: bool,
) -> Result<Filter, FilterError> {
    let mut p = Parser { fields, relations, caps, regex, conditions: 0, trusted: false };
    p.top(value)
}

/// Parse a filter written by the server (a scope): hidden fields may be used and no caps
/// apply.
pub fn parse_trusted(value: &Value, fields: &[FieldInfo], regex: bool) -> Result<Filter, FilterError> {
    parse_trusted_related(value, fields, &[], regex)
}

/// [`parse_trusted`], with declared relations (hidden fields of related models allowed).
pub fn parse_trusted_related(
    value: &Value,
    fields: &[FieldInfo],
    relations: &[RelatedFields<'_>],
    regex: bool,
) -> Result<Filter, FilterError> {
    let caps = Caps { max_depth: 64, max_conditions: usize::MAX, max_in_list: usize::MAX, max_pattern_len: usize::MAX };
    let mut p = Parser { fields, relations, caps: &caps, regex, conditions: 0, trusted: true };
    p.top(value)
}

impl Parser<'_> {
    fn top(&mut self, value: &Value) -> Result<Filter, FilterError> {
        match value {
            Value::Null => Ok(Filter::all()),
            Value::Object(m) => self.object(m, "filter", 0),
            _ => Err(FilterError(
                "`filter` must be an object such as {\"title__icontains\": \"rust\", \"id\": {\"$gt\": 10}}".into(),
            )),
        }
    }

    fn object(&mut self, m: &Map<String, Value>, path: &str, depth: usize) -> Result<Filter, FilterError> {
        if depth > self.caps.max_depth {
            return Err(FilterError(format!(
                "`{path}` is nested deeper than {} levels of `$and`/`$or`/`$nor`/`$not`",
                self.caps.max_depth
            )));
        }
        let mut parts = Vec::with_capacity(m.len());
        for (key, value) in m {
            let here = format!("{path}.{key}");
            let part = match key.as_str() {
                "$and" | "$or" | "$nor" => {
                    let Value::Array(items) = value else {
                        return Err(FilterError(format!("`{here}` must be a list of filter objects")));
                    };
                    let mut children = Vec::with_capacity(items.len());
                    for (i, item) in items.iter().enumerate() {
                        let Value::Object(o) = item else {
                            return Err(FilterError(format!("`{here}[{i}]` must be a filter object")));
                        };
                        children.push(self.object(o, &format!("{here}[{i}]"), depth + 1)?);
                    }
                    match key.as_str() {
                        "$and" => Filter::And(children),
                        "$or" => Filter::Or(children),
                        _ => Filter::Not(Box::new(Filter::Or(children))),
                    }
                }
                "$not" => {
                    let Value::Object(o) = value else {
                        return Err(FilterError(format!("`{here}` must be a filter object")));
                    };
                    Filter::Not(Box::new(self.object(o, &here, depth + 1)?))
                }
                k if k.starts_with('$') => {
                    return Err(FilterError(format!(
                        "unknown operator `{k}` at `{path}`; combine filters with `$and`, `$or`, `$nor` or `$not`"
                    )));
                }
                k if !k.contains('.') && self.relations.iter().any(|r| r.name == k) => {
                    let Value::Object(o) = value else {
                        return Err(FilterError(format!(
                            "`{here}` must be a filter object on the related rows, such as {{\"{k}\": {{\"id__gt\": 1}}}}"
                        )));
                    };
                    self.related(k, &here, |p| p.object(o, &here, depth + 1))?
                }
                _ => self.field_entry(key, value, &here)?,
            };
            parts.push(part);
        }
        Ok(if parts.len() == 1 { parts.pop().unwrap_or_else(Filter::all) } else { Filter::And(parts) })
    }

    fn field(&self, name: &str, path: &str) -> Result<usize, FilterError> {
        self.fields.iter().position(|f| f.name == name && (self.trusted || !f.hidden)).ok_or_else(|| {
            let through = if self.relations.is_empty() {
                String::new()
            } else {
                format!(
                    ", and through relations {}",
                    list(self.relations.iter().map(|r| format!("{}.<field>", r.name)))
                )
            };
            FilterError(format!(
                "unknown field `{name}` at `{path}`; the fields you can filter on are {}{through}",
                list(self.fields.iter().filter(|f| !f.hidden).map(|f| f.name))
            ))
        })
    }

    /// Parse a condition on the rows of relation `name` with a parser over its fields.
    fn related(
        &mut self,
        name: &str,
        path: &str,
        inner: impl FnOnce(&mut Parser<'_>) -> Result<Filter, FilterError>,
    ) -> Result<Filter, FilterError> {
        let Some(rel) = self.relations.iter().find(|r| r.name == name) else {
            let known = if self.relations.is_empty() {
                "this model has no relations to filter through".to_owned()
            } else {
                format!("the relations are {}", list(self.relations.iter().map(|r| r.name)))
            };
            return Err(FilterError(format!("unknown relation `{name}` at `{path}`; {known}")));
        };
        let mut p = Parser {
            fields: rel.fields,
            relations: &[],
            caps: self.caps,
            regex: self.regex,
            conditions: self.conditions,
            trusted: self.trusted,
        };
        let filter = inner(&mut p)?;
        self.conditions = p.conditions;
        Ok(Filter::Related { relation: rel.index, filter: Box::new(filter) })
    }

    fn field_entry(&mut self, key: &str, value: &Value, path: &str) -> Result<Filter, FilterError> {
        // `relation.field__op` or `relation.field: {"$op": ...}`: a field of a related model.
        if let Some((rel, rest)) = key.split_once('.').filter(|_| !self.relations.is_empty()) {
            return self.related(rel, path, |p| p.field_entry(rest, value, path));
        }
        // `field__op` (Django style) or `field` with a value or an operator object.
        let (name, suffix) = match key.rsplit_once("__") {
            Some((n, s)) => (n, Some(s)),
            None => (key, None),
        };
        let field = self.field(name, path)?;
        if let Some(s) = suffix {
            let op = Op::from_suffix(s).ok_or_else(|| {
                FilterError(format!(
                    "unknown operator `{s}` in `{key}`; `{name}` supports {}",
                    list(self.fields[field].operators().iter().map(|o| o.name()))
                ))
            })?;
            return self.condition(field, op, value, path);
        }
        match value {
            Value::Object(ops) if ops.keys().any(|k| k.starts_with('$')) => {
                let mut parts = Vec::with_capacity(ops.len());
                for (k, v) in ops {
                    let op = Op::from_mongo(k).ok_or_else(|| {
                        FilterError(format!(
                            "unknown operator `{k}` at `{path}`; `{name}` supports {}",
                            list(self.fields[field].operators().iter().map(|o| format!("${}", o.name())))
                        ))
                    })?;
                    parts.push(self.condition(field, op, v, &format!("{path}.{k}"))?);
                }
                Ok(if parts.len() == 1 { parts.pop().unwrap_or_else(Filter::all) } else { Filter::And(parts) })
            }
            Value::Object(_) => Err(FilterError(format!(
                "`{path}` is an object; compare with an operator such as {{\"$gt\": …}} or a plain value"
            ))),
            // A plain value is equality; `null` asks for null rows.
            Value::Null => self.condition(field, Op::IsNull, &Value::Bool(true), path),
            v => self.condition(field, Op::Eq, v, path),
        }
    }

    fn condition(&mut self, field: usize, op: Op, value: &Value, path: &str) -> Result<Filter, FilterError> {
        let info = &self.fields[field];
        self.conditions += 1;
        if self.conditions > self.caps.max_conditions {
            return Err(FilterError(format!(
                "the filter has more than {} conditions; narrow it down",
                self.caps.max_conditions
            )));
        }
        if !info.operators().contains(&op) || (op == Op::Regex && !self.regex) {
            let why = if op == Op::Regex && info.kind == Kind::Text {
                "this database has no regular expressions".to_owned()
            } else {
                let kind = info.kind.describe();
                let article = if info.nullable || !kind.starts_with(['a', 'e', 'i', 'o', 'u']) { "a" } else { "an" };
                format!("`{}` is {article} {}{kind}", info.name, if info.nullable { "nullable " } else { "" })
            };
            let ops = info.operators().into_iter().filter(|o| *o != Op::Regex || self.regex).map(|o| o.name());
            return Err(FilterError(format!(
                "operator `{}` does not apply at `{path}`: {why}; use one of {}",
                op.name(),
                list(ops)
            )));
        }
        let bad = |expected: &str| {
            Err(FilterError(format!("`{path}` must be {expected} (for {} `{}`)", info.kind.describe(), info.name)))
        };
        // No backend compares such text as written (PostgreSQL refuses it, SQLite's `LIKE`
        // stops at it): refused here, whatever the backend.
        match value {
            Value::String(s) => refuse_nul(s, path)?,
            Value::Array(items) => {
                for item in items {
                    if let Value::String(s) = item {
                        refuse_nul(s, path)?;
                    }
                }
            }
            _ => {}
        }
        match op {
            Op::In | Op::NotIn => match value {
                Value::Array(items) if items.len() > self.caps.max_in_list => {
                    return Err(FilterError(format!(
                        "`{path}` has {} values; lists are limited to {}",
                        items.len(),
                        self.caps.max_in_list
                    )));
                }
                Value::Array(items) if items.iter().any(Value::is_null) => return bad("a list without null"),
                Value::Array(_) => {}
                _ => return bad("a list of values"),
            },
            Op::Between => match value {
                Value::Array(pair) if pair.len() == 2 && !pair.iter().any(Value::is_null) => {}
                _ => return bad("a list of two values [low, high]"),
            },
            Op::IsNull => {
                if !value.is_boolean() {
                    return bad("true or false");
                }
            }
            Op::Contains | Op::IContains | Op::StartsWith | Op::EndsWith | Op::Regex => match value {
                Value::String(s) if s.chars().count() > self.caps.max_pattern_len => {
                    return Err(FilterError(format!(
                        "`{path}` is longer than {} characters",
                        self.caps.max_pattern_len
                    )));
                }
                Value::String(_) => {}
                _ => return bad("a string"),
            },
            Op::Eq | Op::Ne => {
                if value.is_null() {
                    // `{"$eq": null}` / `{"$ne": null}` mean "is null" / "is not null".
                    return if info.nullable {
                        Ok(Filter::Leaf(Condition { field, op: Op::IsNull, value: Value::Bool(op == Op::Eq) }))
                    } else {
                        bad("a value (the field is never null)")
                    };
                }
                if value.is_array() || value.is_object() {
                    return bad("a single value");
                }
            }
            Op::Gt | Op::Gte | Op::Lt | Op::Lte => {
                if value.is_null() || value.is_array() || value.is_object() {
                    return bad("a single value");
                }
            }
        }
        Ok(Filter::Leaf(Condition { field, op, value: value.clone() }))
    }
}

/// Refuse text with a NUL character (`\u0000`) in `what` (a field or argument): PostgreSQL
/// cannot store or compare it, SQLite's `LIKE` patterns end at it (so `contains` would
/// match every row), and no agent means it.
pub fn refuse_nul(text: &str, what: &str) -> Result<(), FilterError> {
    if text.contains('\0') {
        return Err(FilterError(format!(
            "`{what}` contains a NUL character (\\u0000), which text values cannot hold; remove it"
        )));
    }
    Ok(())
}

/// The escape character of `LIKE` patterns. Not a backslash: `ESCAPE '\'` is not a
/// valid string on MySQL, whose strings treat the backslash as an escape.
pub const LIKE_ESCAPE: char = '!';

/// Escape `%`, `_` and [`LIKE_ESCAPE`] for a `LIKE … ESCAPE '!'` pattern.
pub fn escape_like(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 4);
    for c in text.chars() {
        if matches!(c, '%' | '_' | LIKE_ESCAPE) {
            out.push(LIKE_ESCAPE);
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const FIELDS: &[FieldInfo] = &[
        FieldInfo::new("id", Kind::Integer),
        FieldInfo::new("title", Kind::Text),
        FieldInfo::new("published", Kind::Bool),
        FieldInfo::nullable("summary", Kind::Text),
        FieldInfo::new("created_at", Kind::DateTime),
        FieldInfo::new("owner", Kind::Integer).hide(),
    ];

    fn ok(v: Value) -> Filter {
        parse(&v, FIELDS, &Caps::default(), false).unwrap_or_else(|e| panic!("{v}: {e}"))
    }

    fn err(v: Value) -> String {
        parse(&v, FIELDS, &Caps::default(), false).unwrap_err().0
    }

    fn leaf(field: usize, op: Op, value: Value) -> Filter {
        Filter::Leaf(Condition { field, op, value })
    }

    #[test]
    fn django_and_mongo_styles_agree() {
        assert_eq!(ok(json!({ "id__gt": 5 })), ok(json!({ "id": { "$gt": 5 } })));
        assert_eq!(ok(json!({ "title__icontains": "Rust" })), leaf(1, Op::IContains, json!("Rust")));
        assert_eq!(ok(json!({ "published": true })), leaf(2, Op::Eq, json!(true)));
        assert_eq!(ok(json!({ "id__in": [1, 2] })), ok(json!({ "id": { "$in": [1, 2] } })));
        assert_eq!(
            ok(json!({ "id": { "$gte": 1, "$lte": 9 } })),
            Filter::And(vec![leaf(0, Op::Gte, json!(1)), leaf(0, Op::Lte, json!(9))])
        );
        assert_eq!(ok(json!({})), Filter::all());
        assert_eq!(ok(Value::Null), Filter::all());
    }

    #[test]
    fn logical_operators_nest() {
        let f = ok(
            json!({ "$or": [{ "id": 1 }, { "$and": [{ "published": true }, { "$not": { "title__startswith": "Draft" } }] }] }),
        );
        assert_eq!(
            f,
            Filter::Or(vec![
                leaf(0, Op::Eq, json!(1)),
                Filter::And(vec![
                    leaf(2, Op::Eq, json!(true)),
                    Filter::Not(Box::new(leaf(1, Op::StartsWith, json!("Draft"))))
                ]),
            ])
        );
        assert_eq!(
            ok(json!({ "$nor": [{ "id": 1 }] })),
            Filter::Not(Box::new(Filter::Or(vec![leaf(0, Op::Eq, json!(1))])))
        );
        assert_eq!(f.conditions(), 3);
    }

    #[test]
    fn nulls_are_explicit() {
        assert_eq!(ok(json!({ "summary": null })), leaf(3, Op::IsNull, json!(true)));
        assert_eq!(ok(json!({ "summary__isnull": false })), leaf(3, Op::IsNull, json!(false)));
        assert_eq!(ok(json!({ "summary": { "$ne": null } })), leaf(3, Op::IsNull, json!(false)));
        assert!(err(json!({ "id": null })).contains("isnull"), "{}", err(json!({ "id": null })));
        assert!(err(json!({ "id__isnull": true })).contains("does not apply"));
    }

    #[test]
    fn errors_name_the_field_and_the_alternatives() {
        assert_eq!(
            err(json!({ "titel": "x" })),
            "unknown field `titel` at `filter.titel`; the fields you can filter on are `id`, `title`, `published`, `summary`, `created_at`"
        );
        assert_eq!(
            err(json!({ "id__icontains": "1" })),
            "operator `icontains` does not apply at `filter.id__icontains`: `id` is an integer; use one of `eq`, `ne`, `gt`, `gte`, `lt`, `lte`, `in`, `nin`, `between`"
        );
        assert!(err(json!({ "title__like": "x" })).contains("unknown operator `like`"));
        assert!(err(json!({ "title": { "$like": "x" } })).contains("unknown operator `$like`"));
        assert!(err(json!({ "$xor": [] })).contains("unknown operator `$xor`"));
        assert!(err(json!({ "$or": {} })).contains("must be a list"));
        assert!(err(json!({ "id__in": 3 })).contains("a list of values"));
        assert!(err(json!({ "id__between": [1] })).contains("[low, high]"));
        assert!(err(json!({ "title__contains": 3 })).contains("a string"));
        assert!(err(json!({ "title": { "nested": 1 } })).contains("is an object"));
        assert!(err(json!({ "title__regex": "^a" })).contains("no regular expressions"));
        assert!(parse(&json!({ "title__regex": "^a" }), FIELDS, &Caps::default(), true).is_ok());
        assert!(err(json!([1])).contains("must be an object"));
    }

    #[test]
    fn caps_are_enforced() {
        let mut deep = json!({ "id": 1 });
        for _ in 0..10 {
            deep = json!({ "$not": deep });
        }
        assert!(err(deep).contains("nested deeper than 5"));
        let wide = json!({ "$or": (0..60).map(|i| json!({ "id": i })).collect::<Vec<_>>() });
        assert!(err(wide).contains("more than 50 conditions"));
        assert!(err(json!({ "id__in": (0..101).collect::<Vec<_>>() })).contains("limited to 100"));
        assert!(err(json!({ "title__contains": "x".repeat(201) })).contains("longer than 200"));
    }

    #[test]
    fn hidden_fields_exist_only_for_the_server() {
        let e = err(json!({ "owner": 1 }));
        assert!(e.starts_with("unknown field `owner`"), "{e}");
        assert!(!e.contains("`owner`,") && !e.ends_with("`owner`"), "hidden fields are not listed: {e}");
        assert_eq!(parse_trusted(&json!({ "owner": 1 }), FIELDS, false).unwrap(), leaf(5, Op::Eq, json!(1)));
    }

    const AUTHOR: &[FieldInfo] = &[
        FieldInfo::new("id", Kind::Integer),
        FieldInfo::new("name", Kind::Text),
        FieldInfo::new("email", Kind::Text).hide(),
    ];

    #[test]
    fn relations_in_three_spellings() {
        let rels = [RelatedFields { name: "author", index: 0, fields: AUTHOR }];
        let p = |v: Value| parse_related(&v, FIELDS, &rels, &Caps::default(), false);
        let want = Filter::Related { relation: 0, filter: Box::new(leaf(1, Op::IContains, json!("ada"))) };
        assert_eq!(p(json!({ "author.name__icontains": "ada" })).unwrap(), want);
        assert_eq!(p(json!({ "author.name": { "$icontains": "ada" } })).unwrap(), want);
        assert_eq!(p(json!({ "author": { "name__icontains": "ada" } })).unwrap(), want);
        assert_eq!(
            p(json!({ "author": {} })).unwrap(),
            Filter::Related { relation: 0, filter: Box::new(Filter::all()) }
        );
        assert!(p(json!({ "author.email": "x" })).unwrap_err().0.starts_with("unknown field `email`"));
        assert!(p(json!({ "author.author.name": "x" })).unwrap_err().0.starts_with("unknown field `author.name`"));
        assert!(p(json!({ "writer.name": "x" })).unwrap_err().0.contains("the relations are `author`"));
        assert!(parse(&json!({ "author.name": "x" }), FIELDS, &Caps::default(), false).is_err());
        // The server's own scope may use the related model's hidden fields.
        assert_eq!(
            parse_trusted_related(&json!({ "author.email": "x" }), FIELDS, &rels, false).unwrap(),
            Filter::Related { relation: 0, filter: Box::new(leaf(2, Op::Eq, json!("x"))) }
        );
        assert_eq!(p(json!({ "$or": [{ "author.id": 1 }, { "id": 2 }] })).unwrap().conditions(), 2);
    }

    #[test]
    fn nul_characters_are_refused_in_text_operands() {
        for v in [
            json!({ "title": "a\u{0}b" }),
            json!({ "title__contains": "\u{0}" }),
            json!({ "title__icontains": "x\u{0}" }),
            json!({ "title__in": ["ok", "\u{0}"] }),
            json!({ "$or": [{ "summary": { "$startswith": "\u{0}" } }] }),
        ] {
            let e = err(v.clone());
            assert!(e.contains("NUL character") && e.contains("remove it"), "{v}: {e}");
        }
        assert_eq!(err(json!({ "title__contains": "\u{0}" })).split(' ').next(), Some("`filter.title__contains`"));
        assert!(parse_trusted(&json!({ "title": "\u{0}" }), FIELDS, false).is_err());
        ok(json!({ "title__contains": "no nul here" }));
    }

    #[test]
    fn like_escaping() {
        assert_eq!(escape_like(r"50%_off!now\"), r"50!%!_off!!now\");
    }
}
