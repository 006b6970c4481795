//! What agents read: tool descriptions, input and output schemas of the read tools.

use super::*;

pub(super) fn field_list<M: ModelInfo>(regex: bool) -> String {
    fields_doc(M::FIELDS, regex)
}

pub(super) fn fields_doc(fields: &[crate::filter::FieldInfo], regex: bool) -> String {
    fields
        .iter()
        .filter(|f| !f.hidden)
        .map(|f| {
            let ops: Vec<&str> = f.operators().iter().filter(|o| **o != Op::Regex || regex).map(|o| o.name()).collect();
            format!(
                "- `{}` ({}{}): {}",
                f.name,
                f.kind.describe(),
                if f.nullable { ", nullable" } else { "" },
                ops.join(", ")
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

pub(super) fn filter_description<M: ModelInfo>(regex: bool) -> String {
    format!(
        "Which rows. Keys are `field` (equals), `field__op` (Django style) or `field: {{\"$op\": value}}` (Mongo \
         style); combine with `$and`, `$or`, `$nor` (lists of filters) and `$not`. Fields and their operators:\n{}\n\
         Examples: {}.",
        field_list::<M>(regex),
        filter_examples::<M>()
    )
}

/// Filter examples with this model's own fields: a text search, a key list, an `$or`.
pub(super) fn filter_examples<M: ModelInfo>() -> String {
    let visible = || M::FIELDS.iter().filter(|f| !f.hidden);
    let key = M::FIELDS[M::PRIMARY_KEY].name;
    let mut out = Vec::new();
    if let Some(text) = visible().find(|f| f.kind == Kind::Text) {
        out.push(format!("{{\"{}__icontains\": \"rust\"}}", text.name));
    }
    if M::FIELDS[M::PRIMARY_KEY].kind == Kind::Integer {
        out.push(format!("{{\"{key}\": {{\"$in\": [1, 2]}}}}"));
        out.push(format!("{{\"$or\": [{{\"{key}__lt\": 10}}, {{\"{key}__gt\": 90}}]}}"));
    }
    if let Some(flag) = visible().find(|f| f.kind == Kind::Bool) {
        out.push(format!("{{\"{}\": true}}", flag.name));
    }
    out.join(", ")
}

pub(super) fn visible_names<M: ModelInfo>() -> Vec<&'static str> {
    M::FIELDS.iter().filter(|f| !f.hidden).map(|f| f.name).collect()
}

impl<M: ModelExec<C>, C: Executor> ModelTools<M, C> {
    /// How to filter through the usable relations, for the `filter` description.
    pub(super) fn relations_doc(&self) -> String {
        if self.related.is_empty() {
            return String::new();
        }
        let mut out = String::from(
            "\nThrough relations (related rows you may see): `relation.field__op`, `relation.field: {\"$op\": value}` \
             or `relation: {filter}`",
        );
        for r in &self.related {
            let rel = &M::RELATIONS[r.index];
            let how = if rel.many { "true when any of its rows matches" } else { "its one row" };
            out.push_str(&format!(
                "\n`{}` ({}, {how}):\n{}",
                rel.name,
                rel.model,
                fields_doc(rel.fields, M::REGEX).replace("- `", &format!("- `{}.", rel.name))
            ));
        }
        out
    }

    /// The `include` argument's schema, when relations are usable.
    pub(super) fn include_prop(&self) -> Option<Value> {
        if self.related.is_empty() {
            return None;
        }
        let names: Vec<&str> = self.related.iter().map(|r| M::RELATIONS[r.index].name).collect();
        let about: Vec<String> = self
            .related
            .iter()
            .map(|r| {
                let rel = &M::RELATIONS[r.index];
                if rel.many {
                    format!("`{}` (a list of {} rows, at most {} per row)", rel.name, rel.model, rel.most)
                } else {
                    format!("`{}` (one {} row, or null)", rel.name, rel.model)
                }
            })
            .collect();
        Some(json!({ "type": "array", "items": { "type": "string", "enum": names }, "uniqueItems": true,
                     "description": format!("Related rows to attach to each row, under the relation's name: {}", about.join(", ")) }))
    }

    /// The row schema with the includable relations as optional properties.
    pub(super) fn row_schema_with_relations(&self) -> Map<String, Value> {
        let mut row = M::row_schema();
        for r in &self.related {
            let rel = &M::RELATIONS[r.index];
            let mut theirs = (r.row_schema)();
            theirs.remove("$schema");
            if let Some(Value::Object(defs)) = theirs.remove("$defs") {
                let ours = row.entry("$defs").or_insert_with(|| json!({}));
                if let Value::Object(ours) = ours {
                    for (k, v) in defs {
                        ours.entry(k).or_insert(v);
                    }
                }
            }
            let schema = if rel.many {
                json!({ "type": "array", "items": theirs })
            } else {
                json!({ "anyOf": [theirs, { "type": "null" }] })
            };
            if let Some(Value::Object(props)) = row.get_mut("properties") {
                props.insert(rel.name.to_owned(), schema);
            }
        }
        row
    }

    /// `filter` and, when the model has search fields, `search`: the arguments of every
    /// reading tool.
    pub(super) fn filter_props(&self) -> Map<String, Value> {
        let mut props = Map::new();
        props.insert(
            "filter".into(),
            json!({ "type": "object", "description": format!("{}{}", filter_description::<M>(M::REGEX), self.relations_doc()) }),
        );
        if !M::SEARCH.is_empty() {
            let searched: Vec<&str> = M::SEARCH.iter().map(|i| M::FIELDS[*i].name).collect();
            props.insert(
                "search".into(),
                json!({ "type": "string", "maxLength": self.caps.max_pattern_len,
                        "description": format!("Words that must all appear (any case) in {}", searched.join(" or ")) }),
            );
        }
        props
    }

    pub(super) fn list_tool(&self) -> Tool {
        let names = visible_names::<M>();
        let order_values: Vec<String> = M::FIELDS
            .iter()
            .filter(|f| !f.hidden && f.kind.is_ordered())
            .flat_map(|f| [f.name.to_owned(), format!("-{}", f.name)])
            .collect();
        let mut props = self.filter_props();
        props.insert(
            "order_by".into(),
            json!({ "type": "array", "items": { "type": "string", "enum": order_values }, "maxItems": 5,
                    "description": "Sort keys, `-` for descending; the primary key is appended as a tie-breaker" }),
        );
        props.insert(
            "fields".into(),
            json!({ "type": "array", "items": { "type": "string", "enum": names }, "description": "Only these fields in each row (default: all)" }),
        );
        props.insert(
            "limit".into(),
            json!({ "type": "integer", "minimum": 1, "maximum": M::MAX_LIMIT, "description": format!("Rows per page (default {})", M::DEFAULT_LIMIT) }),
        );
        props.insert("offset".into(), json!({ "type": "integer", "minimum": 0, "description": "Rows to skip" }));
        props.insert(
            "cursor".into(),
            json!({ "type": "string", "description": "`next_cursor` of the previous page (keep the same `order_by`); pages stay right when rows are added or removed meanwhile" }),
        );
        props.insert(
            "include_total".into(),
            json!({ "type": "boolean", "description": "Also count all matching rows" }),
        );
        if let Some(include) = self.include_prop() {
            props.insert("include".into(), include);
        }
        let input = json!({ "type": "object", "properties": props, "additionalProperties": false });
        // A row of a page: `fields` may leave out any field, so none is required (the rows
        // of `get`, `create` and the writes keep theirs). Its `$defs` move to the root,
        // where its `$ref`s point.
        let mut row = self.row_schema_with_relations();
        let defs = row.remove("$defs");
        row.remove("required");
        row.insert(
            "description".into(),
            json!(format!(
                "A row of {}: every field, or those `fields` names; included relations under their names",
                M::NAME
            )),
        );
        let mut output = json!({
            "type": "object",
            "properties": {
                "items": { "type": "array", "items": Value::Object(row) },
                "returned": { "type": "integer" },
                "total": { "type": "integer" },
                "has_more": { "type": "boolean" },
                "next_cursor": { "type": "string" },
                "truncated": { "type": "boolean" },
            },
            "required": ["items", "returned", "has_more", "truncated"],
        });
        if let Some(defs) = defs {
            output["$defs"] = defs;
        }
        Tool::new(format!("{}_list", M::NAME))
            .title(format!("List {}", M::NAME))
            .description(format!(
                "List {} ({}), filtered, searched, sorted and paginated.",
                M::NAME,
                M::DESCRIPTION.trim()
            ))
            .input_schema(input)
            .output_schema(output)
            .annotations(read_only())
    }

    pub(super) fn get_tool(&self) -> Tool {
        let pk = &M::FIELDS[M::PRIMARY_KEY];
        let row = self.row_schema_with_relations();
        let pk_schema = field_schema(&row, pk.name);
        let mut props = Map::new();
        props.insert(pk.name.into(), pk_schema);
        if let Some(include) = self.include_prop() {
            props.insert("include".into(), include);
        }
        let input =
            json!({ "type": "object", "properties": props, "required": [pk.name], "additionalProperties": false });
        Tool::new(format!("{}_get", M::NAME))
            .title(format!("Get one of {}", M::NAME))
            .description(format!("One row of {} ({}) by `{}`.", M::NAME, M::DESCRIPTION.trim(), pk.name))
            .input_schema(input)
            .output_schema(Value::Object(row))
            .annotations(read_only())
    }

    pub(super) fn count_tool(&self) -> Tool {
        let props = self.filter_props();
        Tool::new(format!("{}_count", M::NAME))
            .title(format!("Count {}", M::NAME))
            .description(format!("How many {} ({}) match a filter.", M::NAME, M::DESCRIPTION.trim()))
            .input_schema(json!({ "type": "object", "properties": props, "additionalProperties": false }))
            .output_schema(
                json!({ "type": "object", "properties": { "count": { "type": "integer" } }, "required": ["count"] }),
            )
            .annotations(read_only())
    }
}

/// The schema of one field of the row schema (`{}` if it has none).
pub(super) fn field_schema(row: &Map<String, Value>, name: &str) -> Value {
    row.get("properties").and_then(|p| p.get(name)).cloned().unwrap_or_else(|| json!({}))
}

pub(super) fn read_only() -> ToolAnnotations {
    ToolAnnotations {
        read_only_hint: Some(true),
        idempotent_hint: Some(true),
        open_world_hint: Some(false),
        ..Default::default()
    }
}
