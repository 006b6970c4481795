//! The aggregate tool.

use super::args::*;
use super::describe::*;
use super::*;

/// The metrics `aggregate` offers: `count`, `sum:`/`avg:` of number fields, `min:`/`max:`
/// of ordered ones.
pub(super) fn metric_specs<M: ModelInfo>() -> Vec<(String, Metric)> {
    let mut out = vec![("count".to_owned(), Metric { op: AggOp::Count, field: None })];
    for (i, f) in M::FIELDS.iter().enumerate().filter(|(_, f)| !f.hidden) {
        if matches!(f.kind, Kind::Integer | Kind::Float) {
            for op in [AggOp::Sum, AggOp::Avg] {
                out.push((format!("{}:{}", op.name(), f.name), Metric { op, field: Some(i) }));
            }
        }
        if matches!(f.kind, Kind::Text | Kind::Integer | Kind::Float | Kind::DateTime | Kind::Date | Kind::Time) {
            for op in [AggOp::Min, AggOp::Max] {
                out.push((format!("{}:{}", op.name(), f.name), Metric { op, field: Some(i) }));
            }
        }
    }
    out
}

impl<M: ModelExec<C>, C: Executor> ModelTools<M, C> {
    pub(super) fn aggregate_tool(&self) -> Tool {
        let specs: Vec<String> = metric_specs::<M>().into_iter().map(|(s, _)| s).collect();
        let groups: Vec<&str> = M::GROUP_BY.iter().map(|&i| M::FIELDS[i].name).collect();
        let mut props = self.filter_props();
        if !groups.is_empty() {
            props.insert(
                "group_by".into(),
                json!({ "type": "string", "enum": groups, "description": "One group per value of this field (default: one group of all rows)" }),
            );
        }
        props.insert(
            "metrics".into(),
            json!({ "type": "array", "items": { "type": "string", "enum": specs }, "minItems": 1, "maxItems": 5,
                    "description": "What to compute per group: `count`, `sum:<field>`, `avg:<field>`, `min:<field>`, `max:<field>` (default [\"count\"])" }),
        );
        props.insert(
            "limit".into(),
            json!({ "type": "integer", "minimum": 1, "maximum": 500, "description": "Most groups, in the order of the group field (default 100)" }),
        );
        Tool::new(format!("{}_aggregate", M::NAME))
            .title(format!("Aggregate {}", M::NAME))
            .description(format!(
                "Count, sum, average, minimum and maximum of {} ({}), optionally per value of {}.",
                M::NAME,
                M::DESCRIPTION.trim(),
                if groups.is_empty() { "nothing (totals only)".to_owned() } else { groups.join(" or ") }
            ))
            .input_schema(json!({ "type": "object", "properties": props, "additionalProperties": false }))
            .output_schema(json!({
                "type": "object",
                "properties": {
                    "groups": { "type": "array", "items": { "type": "object" } },
                    "returned": { "type": "integer" },
                    "has_more": { "type": "boolean" },
                },
                "required": ["groups", "returned", "has_more"],
            }))
            .annotations(read_only())
    }

    pub(super) async fn aggregate(&self, args: Map<String, Value>, ctx: &Context) -> Result<CallToolResult, ToolError> {
        deny_unknown(&args, &["filter", "search", "group_by", "metrics", "limit"])?;
        let filter = self.agent_filter(&args, ctx)?;
        let scope = self.scope_filter(ctx)?;
        let limit = int_arg(&args, "limit", 1, 500)?.unwrap_or(100);
        let group = match args.get("group_by") {
            None | Some(Value::Null) => None,
            Some(v) => {
                let name = v.as_str().unwrap_or_default();
                let found = M::GROUP_BY.iter().copied().find(|&i| M::FIELDS[i].name == name);
                Some(found.ok_or_else(|| {
                    ToolError::invalid_arguments(format!(
                        "cannot group by {v}; the fields are {}",
                        M::GROUP_BY.iter().map(|&i| format!("`{}`", M::FIELDS[i].name)).collect::<Vec<_>>().join(", ")
                    ))
                })?)
            }
        };
        let specs = metric_specs::<M>();
        let wanted: Vec<Value> = match args.get("metrics") {
            None | Some(Value::Null) => vec![json!("count")],
            Some(Value::Array(a)) if !a.is_empty() && a.len() <= 5 => a.clone(),
            Some(_) => return Err(ToolError::invalid_arguments("`metrics` must be a list of 1 to 5 metrics")),
        };
        let mut metrics = Vec::new();
        for w in &wanted {
            let name = w.as_str().unwrap_or_default();
            match specs.iter().find(|(s, _)| s == name) {
                Some((s, m)) => metrics.push((s.clone(), *m)),
                None => {
                    return Err(ToolError::invalid_arguments(format!(
                        "unknown metric {w}; the metrics are {}",
                        specs.iter().map(|(s, _)| format!("`{s}`")).collect::<Vec<_>>().join(", ")
                    )));
                }
            }
        }
        let group_name = group.map(|g| M::FIELDS[g].name);
        let queries = metrics
            .iter()
            .map(|(name, metric)| {
                (name.clone(), AggQuery { filter: filter.clone(), group, metric: *metric, limit: limit + 1 })
            })
            .collect();
        let rows = M::exec_aggregate(&self.db, queries, scope).await?;
        // The first metric's groups, in order; the others joined by group key.
        let mut groups: Vec<Map<String, Value>> = Vec::new();
        let mut keys: Vec<Value> = Vec::new();
        for (i, (name, values)) in rows.iter().enumerate() {
            if i == 0 {
                for (k, v) in values {
                    let mut g = Map::new();
                    if let Some(gn) = group_name {
                        g.insert(gn.into(), k.clone());
                    }
                    g.insert(name.clone(), v.clone());
                    groups.push(g);
                    keys.push(k.clone());
                }
            } else {
                let by_key: std::collections::HashMap<String, &Value> =
                    values.iter().map(|(k, v)| (k.to_string(), v)).collect();
                for (g, k) in groups.iter_mut().zip(&keys) {
                    g.insert(name.clone(), by_key.get(&k.to_string()).map_or(Value::Null, |v| (*v).clone()));
                }
            }
        }
        let has_more = groups.len() as i64 > limit;
        groups.truncate(limit as usize);
        Ok(CallToolResult::structured(json!({
            "groups": groups,
            "returned": groups.len(),
            "has_more": has_more,
        })))
    }
}
