//! Reading a tool's arguments and shaping its results, shared by the read, write and
//! aggregate tools.

use super::*;

pub(super) fn deny_unknown(args: &Map<String, Value>, known: &[&str]) -> Result<(), ToolError> {
    if let Some(k) = args.keys().find(|k| !known.contains(&k.as_str())) {
        return Err(ToolError::invalid_arguments(format!(
            "unknown argument `{k}`; the arguments are {}",
            known.iter().map(|k| format!("`{k}`")).collect::<Vec<_>>().join(", ")
        )));
    }
    Ok(())
}

pub(super) fn int_arg(args: &Map<String, Value>, name: &str, min: i64, max: i64) -> Result<Option<i64>, ToolError> {
    match args.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => match v.as_i64() {
            Some(n) if (min..=max).contains(&n) => Ok(Some(n)),
            _ => Err(ToolError::invalid_arguments(format!("`{name}` must be an integer from {min} to {max}"))),
        },
    }
}

/// The key argument of `get` and `delete`, alone.
pub(super) fn key_arg<M: ModelInfo>(args: &Map<String, Value>) -> Result<Value, ToolError> {
    let pk = M::FIELDS[M::PRIMARY_KEY].name;
    deny_unknown(args, &[pk])?;
    args.get(pk).cloned().ok_or_else(|| ToolError::invalid_arguments(format!("missing required argument `{pk}`")))
}

pub(super) fn not_found<M: ModelInfo>(key: &Value) -> ToolError {
    ToolError::not_found(format!("no {} with `{}` = {key}", M::NAME, M::FIELDS[M::PRIMARY_KEY].name))
}

pub(super) fn row_result<M: ModelInfo>(row: &M, extra: &Extra<'_>) -> Result<CallToolResult, ToolError> {
    row_content(row, extra)
        .map(CallToolResult::from_structured)
        .map_err(|e| ToolError::internal(format!("the row could not be serialized: {e}")))
}

/// Arguments common to `list` and `count`.
pub(super) fn filter_and_search<M: ModelInfo>(
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
