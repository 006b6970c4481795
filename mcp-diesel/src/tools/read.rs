//! The read tools: list (filters, search, order, keyset cursors, includes), get, count.

use super::args::*;
use super::describe::*;
use super::*;

/// Where the next page starts: after a row (keyset: the values of the ordering fields of
/// the last row shown, which stays right when rows are added or removed meanwhile), or at
/// an offset (when an ordering field is nullable, or the agent paged with `offset`).
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Cursor {
    Offset(i64),
    After(Vec<Value>),
}

pub(super) fn encode_cursor(cursor: &Cursor, order: &[(usize, bool)]) -> String {
    let text = match cursor {
        Cursor::Offset(n) => format!("o:{n}"),
        Cursor::After(values) => {
            let spec: Vec<Value> =
                order.iter().zip(values).map(|((f, desc), v)| json!([f, if *desc { 1 } else { 0 }, v])).collect();
            format!("k:{}", Value::Array(spec))
        }
    };
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(text)
}

pub(super) fn decode_cursor(c: &str, order: &[(usize, bool)]) -> Result<Cursor, ToolError> {
    let bad = || ToolError::invalid_arguments("`cursor` is not a cursor this tool returned; start again without it");
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(c).map_err(|_| bad())?;
    let text = std::str::from_utf8(&raw).map_err(|_| bad())?;
    if let Some(n) = text.strip_prefix("o:") {
        return n.parse().ok().filter(|o: &i64| *o >= 0).map(Cursor::Offset).ok_or_else(bad);
    }
    let spec: Vec<(usize, u8, Value)> =
        serde_json::from_str(text.strip_prefix("k:").ok_or_else(bad)?).map_err(|_| bad())?;
    let same_order =
        spec.len() == order.len() && spec.iter().zip(order).all(|((f, d, _), (of, od))| f == of && (*d == 1) == *od);
    if !same_order {
        return Err(ToolError::invalid_arguments(
            "this `cursor` belongs to a different `order_by`; keep the same `order_by` or start again without `cursor`",
        ));
    }
    Ok(Cursor::After(spec.into_iter().map(|(_, _, v)| v).collect()))
}

/// Rows after `values` in `order`, as a filter using only `>`/`>=` (or `<`/`<=`), so that
/// comparisons use the same collation as `ORDER BY`:
/// `c1 >= v1 AND (c1 > v1 OR (c2 >= v2 AND (c2 > v2 OR ... cn > vn)))`.
pub(super) fn after_filter(order: &[(usize, bool)], values: &[Value]) -> Filter {
    let leaf = |i: usize, strict: bool| {
        let (field, desc) = order[i];
        let op = match (desc, strict) {
            (false, true) => Op::Gt,
            (false, false) => Op::Gte,
            (true, true) => Op::Lt,
            (true, false) => Op::Lte,
        };
        Filter::Leaf(Condition { field, op, value: values[i].clone() })
    };
    let last = order.len() - 1;
    let mut acc = leaf(last, true);
    for i in (0..last).rev() {
        acc = Filter::And(vec![leaf(i, false), Filter::Or(vec![leaf(i, true), acc])]);
    }
    acc
}

impl<M: ModelExec<C>, C: Executor> ModelTools<M, C> {
    pub(super) async fn list(&self, args: Map<String, Value>, ctx: &Context) -> Result<CallToolResult, ToolError> {
        deny_unknown(
            &args,
            &["filter", "search", "order_by", "fields", "limit", "offset", "cursor", "include_total", "include"],
        )?;
        let filter = self.agent_filter(&args, ctx)?;
        let scope = self.scope_filter(ctx)?;
        let includes = self.includes(&args, ctx)?;
        let limit = int_arg(&args, "limit", 1, i64::from(M::MAX_LIMIT))?.unwrap_or(i64::from(M::DEFAULT_LIMIT));
        let explicit_offset = int_arg(&args, "offset", 0, i64::MAX / 2)?;
        let cursor_arg = args.get("cursor").filter(|c| !c.is_null());
        if explicit_offset.is_some() && cursor_arg.is_some() {
            return Err(ToolError::invalid_arguments("give either `offset` or `cursor`, not both"));
        }
        let mut order = Vec::new();
        if let Some(v) = args.get("order_by").filter(|v| !v.is_null()) {
            let Some(items) = v.as_array().filter(|a| a.len() <= 5) else {
                return Err(ToolError::invalid_arguments("`order_by` must be a list of up to 5 field names"));
            };
            for item in items {
                let key =
                    item.as_str().ok_or_else(|| ToolError::invalid_arguments("`order_by` entries are field names"))?;
                let (name, desc) = key.strip_prefix('-').map_or((key, false), |n| (n, true));
                let idx = M::FIELDS
                    .iter()
                    .position(|f| f.name == name && !f.hidden && f.kind.is_ordered())
                    .ok_or_else(|| {
                        ToolError::invalid_arguments(format!(
                            "cannot sort by `{name}`; sortable fields are {}",
                            M::FIELDS
                                .iter()
                                .filter(|f| !f.hidden && f.kind.is_ordered())
                                .map(|f| format!("`{}`", f.name))
                                .collect::<Vec<_>>()
                                .join(", ")
                        ))
                    })?;
                order.push((idx, desc));
            }
        }
        if !order.iter().any(|(i, _)| *i == M::PRIMARY_KEY) {
            order.push((M::PRIMARY_KEY, false));
        }
        let fields: Option<Vec<String>> = match args.get("fields") {
            None | Some(Value::Null) => None,
            Some(Value::Array(a)) => {
                let visible = visible_names::<M>();
                let mut out = Vec::new();
                for f in a {
                    match f.as_str() {
                        Some(n) if visible.contains(&n) => out.push(n.to_owned()),
                        _ => {
                            return Err(ToolError::invalid_arguments(format!(
                                "unknown field {f} in `fields`; the fields are {}",
                                visible.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ")
                            )));
                        }
                    }
                }
                Some(out)
            }
            Some(_) => return Err(ToolError::invalid_arguments("`fields` must be a list of field names")),
        };
        let include_total = args.get("include_total").and_then(Value::as_bool).unwrap_or(false);
        let cursor = match cursor_arg {
            None => Cursor::Offset(explicit_offset.unwrap_or(0)),
            Some(c) => decode_cursor(c.as_str().unwrap_or_default(), &order)?,
        };
        // Keyset pages need non-null ordering fields (backends disagree on where NULLs sort).
        let keyset = explicit_offset.is_none() && order.iter().all(|(f, _)| !M::FIELDS[*f].nullable);
        let (offset, page_filter) = match &cursor {
            Cursor::Offset(n) => (*n, filter.clone()),
            Cursor::After(values) => (0, Filter::And(vec![filter.clone(), after_filter(&order, values)])),
        };
        let order_for_cursor = order.clone();
        let query = ListQuery { filter: page_filter, order, limit: limit + 1, offset };
        let total = include_total.then_some(filter);
        let (rows, total, included) = M::exec_page(&self.db, query, scope, total, includes).await?;
        let fetched_more = rows.len() as i64 > limit;
        let page = &rows[..rows.len().min(limit as usize)];
        // The page's JSON, written once: each row straight from the model's `Serialize`,
        // measured as it is written.
        let mut text = br#"{"items":["#.to_vec();
        let mut used = 0usize;
        let mut truncated = false;
        let mut returned = 0usize;
        let serialize_error = |e: serde_json::Error| ToolError::internal(format!("a row could not be serialized: {e}"));
        for (i, row) in page.iter().enumerate() {
            let extra: Vec<(&str, &Value)> =
                included.iter().map(|(name, values)| (*name, values.get(i).unwrap_or(&Value::Null))).collect();
            let start = text.len();
            if returned > 0 {
                text.push(b',');
            }
            let row_start = text.len();
            write_row(&mut text, row, fields.as_deref(), &extra).map_err(serialize_error)?;
            let mut len = text.len() - row_start;
            if len > self.budget && returned == 0 {
                // A row too long on its own is shown cut, rather than not at all.
                text.truncate(row_start);
                let mut obj = agent_value(row, fields.as_deref(), &extra).map_err(serialize_error)?;
                shorten(&mut obj, self.budget);
                serde_json::to_writer(&mut text, &obj).map_err(serialize_error)?;
                len = text.len() - row_start;
                truncated = true;
            } else if used + len > self.budget {
                text.truncate(start);
                truncated = true;
                break;
            }
            used += len;
            returned += 1;
        }
        let has_more = fetched_more || (truncated && (returned as i64) < limit);
        text.push(b']');
        member(&mut text, "returned", &returned);
        if let Some(t) = total {
            member(&mut text, "total", &t);
        }
        member(&mut text, "has_more", &has_more);
        if has_more {
            let next = match page.get(returned.wrapping_sub(1)) {
                Some(last) if keyset => {
                    let obj = last.to_agent_json().map_err(serialize_error)?;
                    Cursor::After(
                        order_for_cursor
                            .iter()
                            .map(|(f, _)| obj.get(M::FIELDS[*f].name).cloned().unwrap_or(Value::Null))
                            .collect(),
                    )
                }
                _ => Cursor::Offset(offset + returned as i64),
            };
            member(&mut text, "next_cursor", &encode_cursor(&next, &order_for_cursor));
        }
        member(&mut text, "truncated", &truncated);
        text.push(b'}');
        let text = String::from_utf8(text).map_err(|e| ToolError::internal(format!("a page is not UTF-8: {e}")))?;
        let structured =
            RawValue::from_string(text).map_err(|e| ToolError::internal(format!("a page is not JSON: {e}")))?;
        Ok(CallToolResult::from_structured(StructuredContent::from(structured)))
    }

    pub(super) async fn get(&self, mut args: Map<String, Value>, ctx: &Context) -> Result<CallToolResult, ToolError> {
        let includes = self.includes(&args, ctx)?;
        args.remove("include");
        let key = key_arg::<M>(&args)?;
        let scope = self.scope_filter(ctx)?;
        let shown = key.clone();
        let found = M::exec_get(&self.db, key, scope, includes).await?;
        match found {
            Some((row, included)) => {
                let extra: Vec<(&str, &Value)> = included.iter().map(|(name, value)| (*name, value)).collect();
                row_result(&row, &extra)
            }
            None => Err(not_found::<M>(&shown)),
        }
    }

    pub(super) async fn count(&self, args: Map<String, Value>, ctx: &Context) -> Result<CallToolResult, ToolError> {
        deny_unknown(&args, &["filter", "search"])?;
        let filter = self.agent_filter(&args, ctx)?;
        let scope = self.scope_filter(ctx)?;
        let n = M::exec_count(&self.db, filter, scope).await?;
        Ok(CallToolResult::structured(json!({ "count": n })))
    }
}

/// Append `,"key":value` to an object's JSON text (`key` needs no escaping; numbers,
/// booleans and strings always serialize).
pub(super) fn member(text: &mut Vec<u8>, key: &str, value: &impl serde::Serialize) {
    text.extend_from_slice(b",\"");
    text.extend_from_slice(key.as_bytes());
    text.extend_from_slice(b"\":");
    if serde_json::to_writer(&mut *text, value).is_err() {
        text.extend_from_slice(b"null");
    }
}

/// Cut long strings of a row that alone exceeds the byte budget, marking each cut.
pub(super) fn shorten(obj: &mut Map<String, Value>, budget: usize) {
    let per_value = (budget / obj.len().max(1)).max(32);
    for v in obj.values_mut() {
        if let Value::String(s) = v
            && s.len() > per_value
        {
            let mut cut = per_value;
            while !s.is_char_boundary(cut) {
                cut -= 1;
            }
            let total = s.chars().count();
            s.truncate(cut);
            s.push_str(&format!("… [truncated: {total} characters in all]"));
        }
    }
}
