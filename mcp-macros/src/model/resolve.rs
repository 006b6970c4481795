//! The resolved model: the struct's fields with their names, columns and kinds, its key,
//! actions, search and group-by fields, relations, backends and limits, each looked up and
//! checked against the struct. Every mistake is reported at its own token; a model is
//! returned only when it is whole.

use proc_macro2::{Span, TokenStream};
use quote::{ToTokens, format_ident, quote};
use syn::{Fields, GenericArgument, Ident, ItemStruct, Path, PathArguments, Type};

use darling::FromAttributes;

use super::attrs::{
    FieldArgs, ModelArgs, RelKind, RelationArg, apply_rename_all, derived_traits, diesel_column_name,
    diesel_struct_attrs, serde_field_attrs, serde_rename_all, snake_case, unraw,
};
use crate::util::{Runtime, runtime_crate};

type Errors = darling::error::Accumulator;

fn error(message: impl std::fmt::Display, span: &impl syn::spanned::Spanned) -> darling::Error {
    darling::Error::custom(message).with_span(span)
}

/// The backends: the name in `backends(...)`, the template's flavor, the feature gate
/// macro, the connection and the backend types (under `diesel::`).
pub(super) const BACKENDS: &[(&str, &str, &str, &str)] = &[
    ("sqlite", "__mcp_if_sqlite", "SqliteConnection", "sqlite::Sqlite"),
    ("postgres", "__mcp_if_postgres", "PgConnection", "pg::Pg"),
    ("mysql", "__mcp_if_mysql", "MysqlConnection", "mysql::Mysql"),
];

/// Filter kinds, as `mcp_diesel::filter::Kind` names them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Kind {
    Text,
    Integer,
    Float,
    Bool,
    DateTime,
    Date,
    Time,
    Uuid,
    Enum,
}

const KIND_NAMES: &[(&str, Kind)] = &[
    ("text", Kind::Text),
    ("integer", Kind::Integer),
    ("float", Kind::Float),
    ("bool", Kind::Bool),
    ("datetime", Kind::DateTime),
    ("date", Kind::Date),
    ("time", Kind::Time),
    ("uuid", Kind::Uuid),
    ("enum", Kind::Enum),
];

impl Kind {
    pub(super) fn variant(self) -> Ident {
        format_ident!("{}", format!("{self:?}"))
    }

    /// The template's kind: which operators the column gets.
    pub(super) fn template(self) -> Ident {
        let name = match self {
            Kind::Text => "text",
            Kind::Integer | Kind::Float | Kind::DateTime | Kind::Date | Kind::Time => "ordered",
            Kind::Bool => "bool",
            Kind::Uuid | Kind::Enum => "eq",
        };
        Ident::new(name, Span::call_site())
    }
}

/// One field the generated code knows about.
pub(super) struct Field {
    pub(super) ident: Ident,
    /// The name agents use (serde's name for it).
    pub(super) name: String,
    pub(super) column: Ident,
    pub(super) kind: Kind,
    pub(super) nullable: bool,
    /// The type without `Option`.
    pub(super) inner: Type,
    pub(super) hidden: bool,
    pub(super) read_only: bool,
}

impl Field {
    /// `null` or `notnull`, as the templates spell a column's nullability.
    pub(super) fn null_ident(&self) -> Ident {
        Ident::new(if self.nullable { "null" } else { "notnull" }, Span::call_site())
    }

    /// `index : table::column : null|notnull : Type`, a column as the write and aggregate
    /// templates take it.
    pub(super) fn column_spec(&self, index: usize, table: &Path) -> TokenStream {
        let (i, col, null, ty) =
            (proc_macro2::Literal::usize_unsuffixed(index), &self.column, self.null_ident(), &self.inner);
        quote!(#i : #table::#col : #null : #ty)
    }
}

/// The filter kind of a Rust type the macro knows (by its last path segment).
fn classify(ty: &Type) -> Option<Kind> {
    let Type::Path(tp) = ty else { return None };
    let last = tp.path.segments.last()?;
    Some(match last.ident.to_string().as_str() {
        "String" => Kind::Text,
        "i8" | "i16" | "i32" | "i64" | "u8" | "u16" | "u32" | "u64" => Kind::Integer,
        "f32" | "f64" => Kind::Float,
        "bool" => Kind::Bool,
        "NaiveDateTime" | "DateTime" | "PrimitiveDateTime" | "OffsetDateTime" => Kind::DateTime,
        "NaiveDate" | "Date" => Kind::Date,
        "NaiveTime" | "Time" => Kind::Time,
        "Uuid" => Kind::Uuid,
        _ => return None,
    })
}

/// `T` of `Option<T>`.
fn option_inner(ty: &Type) -> Option<&Type> {
    let Type::Path(tp) = ty else { return None };
    let last = tp.path.segments.last()?;
    if last.ident != "Option" {
        return None;
    }
    let PathArguments::AngleBracketed(a) = &last.arguments else { return None };
    match a.args.first()? {
        GenericArgument::Type(t) => Some(t),
        _ => None,
    }
}

/// The actions (tools) a model has.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct Actions {
    pub(super) list: bool,
    pub(super) get: bool,
    pub(super) count: bool,
    pub(super) create: bool,
    pub(super) update: bool,
    pub(super) patch: bool,
    pub(super) delete: bool,
    pub(super) aggregate: bool,
}

impl Actions {
    const NAMES: [&'static str; 8] = ["list", "get", "count", "create", "update", "patch", "delete", "aggregate"];

    fn set(&mut self, name: &str) {
        match name {
            "list" => self.list = true,
            "get" => self.get = true,
            "count" => self.count = true,
            "create" => self.create = true,
            "update" => self.update = true,
            "patch" => self.patch = true,
            "delete" => self.delete = true,
            _ => self.aggregate = true,
        }
    }

    /// Whether any tool writes (the write queries are generated only then).
    pub(super) fn writes(&self) -> bool {
        self.create || self.update || self.patch || self.delete
    }
}

/// A declared relation, with the index of the field on this side (`belongs_to`: the
/// foreign key; `has_many`: the primary key).
#[derive(Debug)]
pub(super) struct Relation {
    pub(super) arg: RelationArg,
    pub(super) local: usize,
}

/// Everything the expansion needs, checked.
pub(super) struct Model {
    pub(super) ident: Ident,
    /// The Diesel table module (`posts`, `schema::posts`).
    pub(super) table: Path,
    /// The tool name prefix.
    pub(super) name: String,
    /// The fields with a filter kind, in declaration order; indexes below point here.
    pub(super) fields: Vec<Field>,
    /// Agent-facing names of the fields agents never see.
    pub(super) hidden_names: Vec<String>,
    pub(super) key: usize,
    pub(super) search: Vec<usize>,
    pub(super) actions: Actions,
    pub(super) group_by: Vec<usize>,
    pub(super) relations: Vec<Relation>,
    /// The backends to generate queries for (names as in [`BACKENDS`]).
    pub(super) backends: Vec<&'static str>,
    pub(super) default_limit: u32,
    pub(super) max_limit: u32,
}

impl Model {
    /// Integer keys are generated by the database; other keys are given on create.
    pub(super) fn key_generated(&self) -> bool {
        self.fields[self.key].kind == Kind::Integer
    }
}

/// The fields as read from the struct, before the key and the arguments are resolved.
struct Scanned {
    fields: Vec<Field>,
    /// Every named field (also those without a filter kind) and whether it is hidden.
    all: Vec<(Ident, bool)>,
    hidden_names: Vec<String>,
}

/// Resolve the model. Strips `#[mcp(...)]` from the fields and, for `#[mcp(skip)]` ones,
/// adds the serde and schemars attributes that keep them out of tool results. Reports
/// every mistake into `errors`; `None` when no model can be built.
pub(super) fn resolve(args: &ModelArgs, item: &mut ItemStruct, errors: &mut Errors) -> Option<Model> {
    if !item.generics.params.is_empty() {
        errors.push(error("`#[mcp_toolset]` models cannot be generic", &item.generics.params));
    }
    let diesel = diesel_struct_attrs(&item.attrs, errors);
    let ident = item.ident.clone();
    let table: Path =
        diesel.table.clone().unwrap_or_else(|| format_ident!("{}s", snake_case(&ident.to_string())).into());
    let scanned = scan_fields(args, item, errors)?;
    let key = resolve_key(&diesel.primary_key, &ident, &scanned, errors);
    let fields = &scanned.fields;
    let search = resolve_search(args, &scanned, errors);
    let actions = resolve_actions(args, errors);
    let group_by = resolve_group_by(args, actions, fields, errors);
    let relations = resolve_relations(args, key, &scanned, errors);
    let backends = resolve_backends(args, errors);
    let (default_limit, max_limit) = resolve_limits(args, errors);
    let name = resolve_name(args, &table, errors);
    Some(Model {
        ident,
        table,
        name,
        key: key?,
        search,
        actions,
        group_by,
        relations,
        backends,
        default_limit,
        max_limit,
        hidden_names: scanned.hidden_names,
        fields: scanned.fields,
    })
}

/// The struct's fields: agent-facing names (serde's), columns (Diesel's), kinds, and
/// `#[mcp(...)]`. `None` when the struct has no named fields.
fn scan_fields(args: &ModelArgs, item: &mut ItemStruct, errors: &mut Errors) -> Option<Scanned> {
    let rename_all = serde_rename_all(&item.attrs, errors);
    // `#[mcp(skip)]` fields stay hidden wherever a tool returns the model (the model itself,
    // in a `Vec`, in a struct of the tool's own): the derives that follow this attribute
    // leave them out of the JSON Schema, and out of the JSON while mcp-core serializes a
    // tool result. Hence the order: `#[mcp_toolset]` above `#[derive(Serialize, JsonSchema)]`.
    let derives = derived_traits(&item.attrs);
    let derives_serialize = derives.iter().any(|d| d == "Serialize");
    let derives_schema = derives.iter().any(|d| d == "JsonSchema");
    let hidden_from = {
        let path = runtime_crate(Runtime::Diesel, args.krate.as_ref()).to_string().replace(' ', "");
        format!("{path}::__private::hidden_from_agents")
    };
    let Fields::Named(named) = &mut item.fields else {
        errors.push(error(
            "`#[mcp_toolset]` goes on an `impl` block of tools, or on a Diesel model struct with named fields (`struct Post { id: i32, .. }`)",
            &item.ident,
        ));
        return None;
    };
    let mut out = Scanned { fields: Vec::new(), all: Vec::new(), hidden_names: Vec::new() };
    for f in named.named.iter_mut() {
        let fa = errors.handle(FieldArgs::from_attributes(&f.attrs)).unwrap_or_default();
        f.attrs.retain(|a| !a.path().is_ident("mcp"));
        let Some(ident) = f.ident.clone() else { continue };
        let serde = serde_field_attrs(&f.attrs, errors);
        if fa.skip.is_present() && !serde.skip {
            if !(derives_serialize && derives_schema) {
                errors.push(error(
                    "`#[mcp(skip)]` needs `#[mcp_toolset]` above `#[derive(Serialize, JsonSchema)]`, so that the field stays hidden wherever a tool returns the model (its JSON Schema and its JSON in tool results)\n\nhelp: write `#[mcp_toolset(...)]` first, then `#[derive(Queryable, Selectable, Serialize, JsonSchema)]`; or hide the field from every serialization with `#[serde(skip)]`",
                    &fa.skip.span(),
                ));
            } else if serde.skip_if {
                errors.push(error(
                    "an `#[mcp(skip)]` field cannot have `#[serde(skip_serializing_if = ..)]`: tool results leave it out already\n\nhelp: remove `skip_serializing_if`, or hide the field from every serialization with `#[serde(skip)]`",
                    &ident,
                ));
            } else {
                f.attrs.push(syn::parse_quote!(#[serde(skip_serializing_if = #hidden_from)]));
                f.attrs.push(syn::parse_quote!(#[schemars(skip)]));
            }
        }
        let column = diesel_column_name(&f.attrs, errors).unwrap_or_else(|| ident.clone());
        let name = serde.rename.unwrap_or_else(|| apply_rename_all(&unraw(&ident), rename_all.as_deref()));
        let hidden = fa.skip.is_present() || serde.skip;
        if hidden {
            out.hidden_names.push(name.clone());
        }
        out.all.push((ident.clone(), hidden));
        let (nullable, inner) = match option_inner(&f.ty) {
            Some(t) => (true, t.clone()),
            None => (false, f.ty.clone()),
        };
        let kind = match &fa.kind {
            Some(k) => match KIND_NAMES.iter().find(|(n, _)| *n == k.as_str()) {
                Some((_, kind)) => Some(*kind),
                None => {
                    let list = KIND_NAMES.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", ");
                    errors.push(error(format!("unknown kind `{}`; kinds: {list}", k.as_str()), &k.span()));
                    continue;
                }
            },
            None => classify(&inner),
        };
        match kind {
            Some(kind) => out.fields.push(Field {
                ident,
                name,
                column,
                kind,
                nullable,
                inner,
                hidden,
                read_only: fa.read_only.is_present(),
            }),
            // A skipped field of an unknown type is simply left out: no filter reaches it.
            None if hidden => {}
            None => errors.push(error(
                format!(
                    "`{}` is not a column type `#[mcp_toolset]` can filter on\n\nhelp: keep the field from agents with `#[mcp(skip)]`, or name its kind: `#[mcp(kind = \"text\")]` (text, integer, float, bool, datetime, date, time, uuid, enum)",
                    f.ty.to_token_stream().to_string().replace(' ', "")
                ),
                &f.ty,
            )),
        }
    }
    Some(out)
}

/// The primary key's index in the fields: `#[diesel(primary_key(..))]`, else `id`.
fn resolve_key(primary_key: &[Ident], ident: &Ident, scanned: &Scanned, errors: &mut Errors) -> Option<usize> {
    let fields = &scanned.fields;
    match primary_key {
        [] | [_] => {
            let pk = primary_key.first().cloned().unwrap_or_else(|| Ident::new("id", ident.span()));
            match fields.iter().position(|f| f.column == pk || f.ident == pk) {
                Some(i) if fields[i].hidden => {
                    errors.push(error(
                        format!("the primary key `{pk}` cannot be `#[mcp(skip)]`: agents address rows by it"),
                        &fields[i].ident,
                    ));
                    None
                }
                Some(i) => Some(i),
                None if scanned.all.iter().any(|(n, _)| *n == pk) => None, // its own error was reported
                None => {
                    errors.push(error(
                        format!("no field `{pk}` for the primary key\n\nhelp: name the key with `#[diesel(primary_key(...))]`"),
                        &pk,
                    ));
                    None
                }
            }
        }
        [_, second, ..] => {
            errors.push(error("`#[mcp_toolset]` models need a single-column primary key", second));
            None
        }
    }
}

/// Visible field names, for "fields: ..." in errors.
fn visible(fields: &[Field]) -> String {
    fields.iter().filter(|f| !f.hidden).map(|f| f.ident.to_string()).collect::<Vec<_>>().join(", ")
}

fn resolve_search(args: &ModelArgs, scanned: &Scanned, errors: &mut Errors) -> Vec<usize> {
    let fields = &scanned.fields;
    let mut search = Vec::new();
    for p in args.search.iter().flat_map(|l| l.iter()) {
        let Some(id) = p.get_ident() else {
            errors.push(error("expected a field name", p));
            continue;
        };
        match fields.iter().position(|f| f.ident == *id) {
            Some(i) if fields[i].hidden => {
                errors.push(error(format!("`{id}` is `#[mcp(skip)]`; agents cannot search it"), id))
            }
            Some(i) if fields[i].kind != Kind::Text => {
                errors.push(error(format!("`{id}` is not text; `search` looks in text fields only"), id));
            }
            Some(i) => search.push(i),
            None => errors.push(error(
                format!(
                    "no field `{id}` to search; fields: {}",
                    scanned.all.iter().filter(|(_, h)| !h).map(|(n, _)| n.to_string()).collect::<Vec<_>>().join(", ")
                ),
                id,
            )),
        }
    }
    search
}

/// `actions(...)`, list, get and count by default.
fn resolve_actions(args: &ModelArgs, errors: &mut Errors) -> Actions {
    let mut actions = Actions::default();
    match &args.actions {
        None => ["list", "get", "count"].iter().for_each(|a| actions.set(a)),
        Some(list) => {
            for p in list.iter() {
                match Actions::NAMES.iter().find(|a| p.is_ident(a)) {
                    Some(a) => actions.set(a),
                    None => errors.push(error(
                        format!("unknown action `{}`; actions: {}", quote!(#p), Actions::NAMES.join(", ")),
                        p,
                    )),
                }
            }
        }
    }
    actions
}

fn resolve_group_by(args: &ModelArgs, actions: Actions, fields: &[Field], errors: &mut Errors) -> Vec<usize> {
    let mut group_by = Vec::new();
    for p in args.group_by.iter().flat_map(|l| l.iter()) {
        let Some(id) = p.get_ident() else {
            errors.push(error("expected a field name", p));
            continue;
        };
        if !actions.aggregate {
            errors.push(error("`group_by` needs the `aggregate` action in `actions(...)`", id));
            continue;
        }
        match fields.iter().position(|f| f.ident == *id) {
            Some(i) if fields[i].hidden => {
                errors.push(error(format!("`{id}` is `#[mcp(skip)]`; agents cannot group by it"), id));
            }
            Some(i) => group_by.push(i),
            None => errors.push(error(format!("no field `{id}` to group by; fields: {}", visible(fields)), id)),
        }
    }
    group_by
}

fn resolve_relations(args: &ModelArgs, key: Option<usize>, scanned: &Scanned, errors: &mut Errors) -> Vec<Relation> {
    let fields = &scanned.fields;
    let mut relations: Vec<Relation> = Vec::new();
    for r in args.relations.iter().flat_map(|l| l.0.iter()) {
        let name = unraw(&r.name);
        if relations.iter().any(|o| unraw(&o.arg.name) == name) {
            errors.push(error(format!("duplicate relation `{name}`"), &r.name));
            continue;
        }
        if fields.iter().any(|f| f.name == name) || scanned.all.iter().any(|(n, _)| unraw(n) == name) {
            errors.push(error(
                format!(
                    "relation `{name}` has the name of a field; agents could not tell them apart\n\nhelp: name the relation after what it reaches, such as `author` for `author_id`"
                ),
                &r.name,
            ));
            continue;
        }
        match r.kind {
            RelKind::BelongsTo => {
                let Some(id) = r.key.get_ident() else {
                    errors.push(error(
                        "`belongs_to` takes a field of this model holding the related row's key, such as `author_id`",
                        &r.key,
                    ));
                    continue;
                };
                match fields.iter().position(|f| f.ident == *id) {
                    Some(i) if fields[i].hidden => errors.push(error(
                        format!("`{id}` is `#[mcp(skip)]`; a relation through it would reveal it to agents"),
                        id,
                    )),
                    Some(i) => relations.push(Relation { arg: r.clone(), local: i }),
                    None => {
                        errors.push(error(format!("no field `{id}` for the relation; fields: {}", visible(fields)), id))
                    }
                }
            }
            RelKind::HasMany => {
                if r.key.segments.len() < 2 {
                    errors.push(error(
                        format!(
                            "`has_many` takes the column of the related table that refers to this model\n\nhelp: name it with its table, such as `has_many({}, {}s::{})`",
                            r.model.to_token_stream().to_string().replace(' ', ""),
                            r.model.segments.last().map(|s| snake_case(&unraw(&s.ident))).unwrap_or_default(),
                            r.key.to_token_stream()
                        ),
                        &r.key,
                    ));
                    continue;
                }
                if let Some(pk) = key {
                    relations.push(Relation { arg: r.clone(), local: pk });
                }
            }
        }
    }
    relations
}

/// `backends(...)`, every backend by default.
fn resolve_backends(args: &ModelArgs, errors: &mut Errors) -> Vec<&'static str> {
    let Some(list) = &args.backends else { return BACKENDS.iter().map(|b| b.0).collect() };
    let mut backends = Vec::new();
    for p in list.iter() {
        match BACKENDS.iter().find(|b| p.is_ident(b.0)) {
            Some(b) => backends.push(b.0),
            None => {
                errors.push(error(format!("unknown backend `{}`; backends: sqlite, postgres, mysql", quote!(#p)), p))
            }
        }
    }
    backends
}

/// `(default_limit, max_limit)`: 20 and 100 unless given.
fn resolve_limits(args: &ModelArgs, errors: &mut Errors) -> (u32, u32) {
    let max_limit = args.max_limit.as_ref().map_or(100, |v| **v);
    let default_limit = args.default_limit.as_ref().map_or(20.min(max_limit).max(1), |v| **v);
    if let Some(m) = &args.max_limit
        && **m == 0
    {
        errors.push(error("`max_limit` must be at least 1", &m.span()));
    }
    if let Some(d) = &args.default_limit
        && (**d == 0 || **d > max_limit)
    {
        errors.push(error(format!("`default_limit` must be between 1 and `max_limit` ({max_limit})"), &d.span()));
    }
    (default_limit, max_limit)
}

/// `name = "..."`, else the table's name.
fn resolve_name(args: &ModelArgs, table: &Path, errors: &mut Errors) -> String {
    match &args.name {
        Some(n) => {
            if n.is_empty() || !n.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') || n.len() > 50 {
                errors.push(error("the name must be 1 to 50 letters, digits, `_` or `-`", &n.span()));
            }
            n.as_str().to_owned()
        }
        None => table.segments.last().map(|s| unraw(&s.ident)).unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    use darling::FromMeta;
    use quote::quote;

    use super::*;

    /// Resolve `item` under `#[mcp_toolset(attr)]`: the model, and every error's message.
    fn run(attr: TokenStream, mut item: ItemStruct) -> (Option<Model>, Vec<String>) {
        let nested = darling::ast::NestedMeta::parse_meta_list(attr).unwrap();
        let args = ModelArgs::from_list(&nested).unwrap();
        let mut errors = darling::Error::accumulator();
        let model = resolve(&args, &mut item, &mut errors);
        let messages = match errors.finish() {
            Ok(()) => Vec::new(),
            Err(e) => e.into_iter().map(|e| e.to_string()).collect(),
        };
        (model, messages)
    }

    fn post() -> ItemStruct {
        syn::parse_quote! {
            #[derive(Queryable, Selectable, Serialize, JsonSchema)]
            #[diesel(table_name = schema::posts)]
            #[serde(rename_all = "camelCase")]
            struct Post {
                #[diesel(column_name = post_id)]
                id: i64,
                title: String,
                body: Option<String>,
                #[mcp(read_only)]
                created_at: chrono::NaiveDateTime,
                #[mcp(skip)]
                owner_id: i32,
                #[mcp(skip)]
                secret: Vec<u8>,
                #[serde(rename = "state")]
                #[mcp(kind = "enum")]
                status: Status,
                author_id: Option<i32>,
            }
        }
    }

    #[test]
    fn fields_take_serde_names_diesel_columns_and_kinds() {
        let (m, errors) = run(quote!(), post());
        assert_eq!(errors, Vec::<String>::new());
        let m = m.unwrap();
        let summary: Vec<(String, String, Kind, bool, bool, bool)> = m
            .fields
            .iter()
            .map(|f| (f.name.clone(), f.column.to_string(), f.kind, f.nullable, f.hidden, f.read_only))
            .collect();
        assert_eq!(
            summary,
            [
                ("id".into(), "post_id".into(), Kind::Integer, false, false, false),
                ("title".into(), "title".into(), Kind::Text, false, false, false),
                ("body".into(), "body".into(), Kind::Text, true, false, false),
                ("createdAt".into(), "created_at".into(), Kind::DateTime, false, false, true),
                ("ownerId".into(), "owner_id".into(), Kind::Integer, false, true, false),
                ("state".into(), "status".into(), Kind::Enum, false, false, false),
                ("authorId".into(), "author_id".into(), Kind::Integer, true, false, false),
            ]
        );
        // `secret` has no filter kind and is skipped: left out, but still hidden by name.
        assert_eq!(m.hidden_names, ["ownerId", "secret"]);
        assert_eq!((m.key, m.key_generated()), (0, true));
        assert_eq!(m.name, "posts");
        assert_eq!(m.table.segments.len(), 2);
        assert_eq!((m.default_limit, m.max_limit), (20, 100));
        assert_eq!(m.backends, ["sqlite", "postgres", "mysql"]);
        assert_eq!(m.actions, Actions { list: true, get: true, count: true, ..Actions::default() });
        assert!(!m.actions.writes());
    }

    #[test]
    fn arguments_resolve_to_field_indexes() {
        let (m, errors) = run(
            quote!(
                actions(list, create, aggregate),
                search(title, body),
                group_by(status),
                max_limit = 10,
                backends(sqlite),
                name = "articles",
                relations(author = belongs_to(Author, author_id), comments = has_many(Comment, comments::post_id))
            ),
            post(),
        );
        assert_eq!(errors, Vec::<String>::new());
        let m = m.unwrap();
        assert_eq!(m.search, [1, 2]);
        assert_eq!(m.group_by, [5]);
        assert!(m.actions.list && m.actions.create && m.actions.aggregate && !m.actions.get);
        assert!(m.actions.writes());
        assert_eq!((m.default_limit, m.max_limit), (10, 10), "the default limit is capped by max_limit");
        assert_eq!(m.backends, ["sqlite"]);
        assert_eq!(m.name, "articles");
        let rels: Vec<(String, RelKind, usize)> =
            m.relations.iter().map(|r| (r.arg.name.to_string(), r.arg.kind, r.local)).collect();
        assert_eq!(rels, [("author".into(), RelKind::BelongsTo, 6), ("comments".into(), RelKind::HasMany, 0)]);
    }

    #[test]
    fn every_mistake_is_reported_and_no_model_is_made_without_a_key() {
        let (m, errors) = run(
            quote!(
                actions(list, frobnicate),
                search(owner_id, created_at, nope),
                group_by(title),
                default_limit = 500,
                relations(title = belongs_to(Author, author_id), x = has_many(Comment, post_id))
            ),
            post(),
        );
        assert!(m.is_some(), "the key was found, so a model is made (the errors stop the expansion)");
        let expected = [
            "`owner_id` is `#[mcp(skip)]`; agents cannot search it",
            "`created_at` is not text",
            "no field `nope` to search",
            "unknown action `frobnicate`",
            "`group_by` needs the `aggregate` action",
            "relation `title` has the name of a field",
            "`has_many` takes the column of the related table",
            "`default_limit` must be between 1 and `max_limit` (100)",
        ];
        assert_eq!(errors.len(), expected.len(), "{errors:#?}");
        for (e, want) in errors.iter().zip(expected) {
            assert!(e.contains(want), "`{e}` should say `{want}`");
        }

        let (m, errors) = run(
            quote!(),
            syn::parse_quote!(
                struct Tag {
                    name: String,
                }
            ),
        );
        assert!(m.is_none());
        assert!(errors[0].contains("no field `id` for the primary key"), "{errors:?}");

        let (m, errors) = run(
            quote!(),
            syn::parse_quote!(
                struct Pair(i32, i32);
            ),
        );
        assert!(m.is_none());
        assert_eq!(errors.len(), 1);
        assert!(errors[0].contains("named fields"), "{errors:?}");
    }
}
