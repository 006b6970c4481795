//! The write tools: create, update, patch, delete.

use super::args::*;
use super::describe::*;
use super::*;

/// The JSON schemas of the fields agents may write, and which are required.
pub(super) fn write_schema<M: ModelInfo>(
    include_key: bool,
    all_optional: bool,
) -> (Map<String, Value>, Vec<&'static str>) {
    let row = M::row_schema();
    let props = writable_names::<M>(include_key).into_iter().map(|n| (n.to_owned(), field_schema(&row, n))).collect();
    (props, required_names::<M>(include_key, all_optional))
}

/// The fields a write must give: the key (with `include_key`), then the writable
/// non-nullable fields unless every field is optional (patch).
pub(super) fn required_names<M: ModelInfo>(include_key: bool, all_optional: bool) -> Vec<&'static str> {
    let mut required = Vec::new();
    if include_key {
        required.push(M::FIELDS[M::PRIMARY_KEY].name);
    }
    if !all_optional {
        required.extend(
            M::WRITABLE
                .iter()
                .filter(|&&i| !(include_key && i == M::PRIMARY_KEY))
                .map(|&i| &M::FIELDS[i])
                .filter(|f| !f.nullable)
                .map(|f| f.name),
        );
    }
    required
}

pub(super) fn writable_names<M: ModelInfo>(include_key: bool) -> Vec<&'static str> {
    let mut names: Vec<&'static str> = Vec::new();
    if include_key {
        names.push(M::FIELDS[M::PRIMARY_KEY].name);
    }
    names.extend(M::WRITABLE.iter().filter(|&&i| !(include_key && i == M::PRIMARY_KEY)).map(|&i| M::FIELDS[i].name));
    names
}

pub(super) fn write_annotations(destructive: bool, idempotent: bool) -> ToolAnnotations {
    ToolAnnotations {
        read_only_hint: Some(false),
        destructive_hint: Some(destructive),
        idempotent_hint: Some(idempotent),
        open_world_hint: Some(false),
        ..Default::default()
    }
}

impl<M: ModelExec<C>, C: Executor> ModelTools<M, C> {
    pub(super) fn create_tool(&self) -> Tool {
        let (props, required) = write_schema::<M>(false, false);
        Tool::new(format!("{}_create", M::NAME))
            .title(format!("Create one of {}", M::NAME))
            .description(format!(
                "Create a row of {} ({}) and return it. Required: {}.",
                M::NAME,
                M::DESCRIPTION.trim(),
                if required.is_empty() { "nothing".to_owned() } else { required.join(", ") }
            ))
            .input_schema(
                json!({ "type": "object", "properties": props, "required": required, "additionalProperties": false }),
            )
            .output_schema(Value::Object(M::row_schema()))
            .annotations(write_annotations(false, false))
    }

    pub(super) fn update_tool(&self, patch: bool) -> Tool {
        let pk = M::FIELDS[M::PRIMARY_KEY].name;
        let (props, required) = write_schema::<M>(true, patch);
        let (name, title, description) = if patch {
            (
                format!("{}_patch", M::NAME),
                format!("Change fields of one of {}", M::NAME),
                format!(
                    "Change the given fields of the row of {} ({}) with this `{pk}`; fields not given stay as they \
                     are, `null` clears a nullable field. Returns the row.",
                    M::NAME,
                    M::DESCRIPTION.trim()
                ),
            )
        } else {
            (
                format!("{}_update", M::NAME),
                format!("Replace one of {}", M::NAME),
                format!(
                    "Replace every writable field of the row of {} ({}) with this `{pk}`; nullable fields not given \
                     become null. Returns the row.",
                    M::NAME,
                    M::DESCRIPTION.trim()
                ),
            )
        };
        Tool::new(name)
            .title(title)
            .description(description)
            .input_schema(
                json!({ "type": "object", "properties": props, "required": required, "additionalProperties": false }),
            )
            .output_schema(Value::Object(M::row_schema()))
            .annotations(write_annotations(true, true))
    }

    pub(super) fn delete_tool(&self) -> Tool {
        let pk = &M::FIELDS[M::PRIMARY_KEY];
        let pk_schema = field_schema(&M::row_schema(), pk.name);
        Tool::new(format!("{}_delete", M::NAME))
            .title(format!("Delete one of {}", M::NAME))
            .description(format!("Delete the row of {} ({}) with this `{}`.", M::NAME, M::DESCRIPTION.trim(), pk.name))
            .input_schema(json!({ "type": "object", "properties": { pk.name: pk_schema }, "required": [pk.name], "additionalProperties": false }))
            .output_schema(json!({
                "type": "object",
                "properties": { "deleted": { "type": "boolean" }, pk.name: pk_schema },
                "required": ["deleted", pk.name],
            }))
            .annotations(write_annotations(true, true))
    }

    /// Check an agent's values (unknown fields, required ones), run the hook.
    pub(super) fn prepare_write(
        &self,
        mut args: Map<String, Value>,
        action: WriteAction,
        ctx: &Context,
    ) -> Result<(Option<Value>, Map<String, Value>), ToolError> {
        let with_key = action != WriteAction::Create;
        let allowed = writable_names::<M>(with_key);
        if let Some(k) = args.keys().find(|k| !allowed.contains(&k.as_str())) {
            return Err(ToolError::invalid_arguments(format!(
                "`{k}` cannot be written; the fields are {}",
                allowed.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ")
            )));
        }
        let pk = M::FIELDS[M::PRIMARY_KEY].name;
        let key = if with_key {
            Some(
                args.remove(pk)
                    .ok_or_else(|| ToolError::invalid_arguments(format!("missing required argument `{pk}`")))?,
            )
        } else {
            None
        };
        // From the field table, not the JSON Schema: no schema is generated per write.
        let required = required_names::<M>(false, action == WriteAction::Patch);
        let missing: Vec<String> = required
            .iter()
            .filter(|r| **r != pk || action == WriteAction::Create)
            .filter(|r| !args.contains_key(**r))
            .map(|r| format!("`{r}`"))
            .collect();
        if !missing.is_empty() {
            return Err(ToolError::invalid_arguments(format!("missing required fields: {}", missing.join(", "))));
        }
        if action == WriteAction::Update {
            for &i in M::WRITABLE {
                let f = &M::FIELDS[i];
                if i != M::PRIMARY_KEY && f.nullable {
                    args.entry(f.name).or_insert(Value::Null);
                }
            }
        }
        if with_key && args.is_empty() {
            return Err(ToolError::invalid_arguments(format!(
                "nothing to change: give at least one of {}",
                writable_names::<M>(false).iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ")
            )));
        }
        if let Some(hook) = &self.before_write {
            hook(ctx, action, &mut args)?;
            if let Some(k) = args.keys().find(|k| !M::FIELDS.iter().any(|f| f.name == k.as_str())) {
                return Err(ToolError::internal(format!(
                    "server misconfigured: `before_write` set `{k}`, which is not a field of {}",
                    M::NAME
                )));
            }
        }
        if with_key {
            // The key is never changed.
            args.remove(pk);
            if args.is_empty() {
                return Err(ToolError::invalid_arguments("nothing to change"));
            }
        }
        M::validate(&args).map_err(|errors| {
            ToolError::invalid_arguments(format!("nothing was written: {errors} (the rules of {})", M::NAME))
        })?;
        Ok((key, args))
    }

    pub(super) async fn create(&self, args: Map<String, Value>, ctx: &Context) -> Result<CallToolResult, ToolError> {
        let (_, values) = self.prepare_write(args, WriteAction::Create, ctx)?;
        let scope = self.write_scope_filter(ctx)?;
        let row = M::exec_create(&self.db, values, scope).await?;
        row_result(&row, &[])
    }

    pub(super) async fn update(
        &self,
        args: Map<String, Value>,
        ctx: &Context,
        patch: bool,
    ) -> Result<CallToolResult, ToolError> {
        let action = if patch { WriteAction::Patch } else { WriteAction::Update };
        let (key, values) = self.prepare_write(args, action, ctx)?;
        let key = key.unwrap_or(Value::Null);
        let scope = self.write_scope_filter(ctx)?;
        let shown = key.clone();
        match M::exec_update(&self.db, key, values, scope).await? {
            Some(row) => row_result(&row, &[]),
            None => Err(self.not_writable(shown, ctx).await?),
        }
    }

    /// Why a write found no row: the row is "not found" unless the caller may read it (then
    /// it is outside the write scope: not theirs to change). Rows the caller cannot read
    /// stay "not found", so nothing about them leaks.
    pub(super) async fn not_writable(&self, key: Value, ctx: &Context) -> Result<ToolError, ToolError> {
        if self.write_scope.is_none() {
            return Ok(not_found::<M>(&key));
        }
        let read = self.scope_filter(ctx)?;
        if M::exec_get(&self.db, key.clone(), read, Vec::new()).await?.is_none() {
            return Ok(not_found::<M>(&key));
        }
        Ok(ToolError::forbidden(format!(
            "the {} row with `{}` = {key} is not yours to change: you may read it, but it is outside the rows you may \
             change (the write scope); nothing was written",
            M::NAME,
            M::FIELDS[M::PRIMARY_KEY].name
        )))
    }

    pub(super) async fn delete(&self, args: Map<String, Value>, ctx: &Context) -> Result<CallToolResult, ToolError> {
        let pk = M::FIELDS[M::PRIMARY_KEY].name;
        let key = key_arg::<M>(&args)?;
        let scope = self.write_scope_filter(ctx)?;
        let k = key.clone();
        if M::exec_delete(&self.db, k, scope).await? {
            Ok(CallToolResult::structured(json!({ "deleted": true, pk: key })))
        } else {
            Err(self.not_writable(key, ctx).await?)
        }
    }
}
