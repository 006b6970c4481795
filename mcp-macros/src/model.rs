//! `#[mcp_toolset]` on a Diesel model struct: reads the struct, its `#[diesel(...)]`,
//! `#[serde(...)]` and `#[mcp(...)]` attributes, checks them, and generates the model's
//! description (`mcp_diesel::ModelInfo`) and its queries, once per backend `mcp-diesel`
//! was built with (through `mcp_diesel::__mcp_model_query!`).

use darling::util::{Flag, PathList, SpannedValue};
use darling::{FromAttributes, FromMeta};
use proc_macro2::{Span, TokenStream};
use quote::{ToTokens, format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Attribute, Fields, GenericArgument, Ident, ItemStruct, LitStr, Path, PathArguments, Type};

use crate::util;

/// `#[mcp_toolset(...)]` on a struct.
#[derive(Debug, Default, FromMeta)]
#[darling(default)]
struct ModelArgs {
    /// Path of `mcp-diesel`, for renamed dependencies.
    #[darling(rename = "crate")]
    krate: Option<Path>,
    /// The tool name prefix (the table's name by default).
    name: Option<SpannedValue<String>>,
    /// The tools to generate (list, get and count by default).
    actions: Option<PathList>,
    /// The text fields `search` looks in.
    search: Option<PathList>,
    /// The fields `aggregate` may group by.
    group_by: Option<PathList>,
    default_limit: Option<SpannedValue<u32>>,
    max_limit: Option<SpannedValue<u32>>,
    /// Description of the model for tool descriptions (the doc comment by default).
    description: Option<String>,
    /// The backends to generate queries for (every one `mcp-diesel` was built with, by
    /// default): for column types that exist on some backends only.
    backends: Option<PathList>,
    /// Declared relations to other models: `author = belongs_to(Author, author_id)`,
    /// `comments = has_many(Comment, comments::post_id)`.
    relations: Option<Relations>,
    /// The model's rules for written values: `validate = Post::validate`, a
    /// `fn(&Map<String, Value>) -> Result<(), mcp_diesel::ValidationErrors>`.
    validate: Option<Path>,
}

/// `belongs_to` or `has_many`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum RelKind {
    BelongsTo,
    HasMany,
}

/// One `name = belongs_to(Model, field)` / `name = has_many(Model, table::column)`.
#[derive(Debug)]
struct RelationArg {
    name: Ident,
    kind: RelKind,
    /// The related model's type.
    model: Path,
    /// `belongs_to`: this model's field; `has_many`: the related table's column.
    key: Path,
}

/// `relations(...)`.
#[derive(Debug, Default)]
struct Relations(Vec<RelationArg>);

const RELATION_HELP: &str = "help: declare relations as `relations(author = belongs_to(Author, author_id), comments = has_many(Comment, comments::post_id))`";

impl FromMeta for Relations {
    fn from_list(items: &[darling::ast::NestedMeta]) -> darling::Result<Self> {
        let mut errors = darling::Error::accumulator();
        let mut out = Vec::new();
        for item in items {
            let parsed = (|| {
                let bad = |span: &dyn ToTokens| {
                    darling::Error::custom(format!(
                        "expected `name = belongs_to(Model, field)` or `name = has_many(Model, table::column)`\n\n{RELATION_HELP}"
                    ))
                    .with_span(&span.to_token_stream())
                };
                let darling::ast::NestedMeta::Meta(syn::Meta::NameValue(nv)) = item else {
                    return Err(bad(item));
                };
                let name = nv.path.get_ident().cloned().ok_or_else(|| bad(&nv.path))?;
                let syn::Expr::Call(call) = &nv.value else { return Err(bad(&nv.value)) };
                let syn::Expr::Path(func) = &*call.func else { return Err(bad(&call.func)) };
                let kind = if func.path.is_ident("belongs_to") {
                    RelKind::BelongsTo
                } else if func.path.is_ident("has_many") {
                    RelKind::HasMany
                } else {
                    return Err(darling::Error::custom(format!(
                        "unknown relation kind `{}`; kinds: belongs_to, has_many",
                        func.path.to_token_stream().to_string().replace(' ', "")
                    ))
                    .with_span(&func.path));
                };
                let args: Vec<&syn::Expr> = call.args.iter().collect();
                let path_of = |e: &syn::Expr| match e {
                    syn::Expr::Path(p) if p.qself.is_none() => Ok(p.path.clone()),
                    other => Err(bad(other)),
                };
                match args.as_slice() {
                    [model, key] => Ok(RelationArg { name, kind, model: path_of(model)?, key: path_of(key)? }),
                    _ => Err(darling::Error::custom(format!(
                        "`{}` takes the related model and the key: `{}`",
                        func.path.to_token_stream(),
                        if kind == RelKind::BelongsTo {
                            "belongs_to(Author, author_id)"
                        } else {
                            "has_many(Comment, comments::post_id)"
                        }
                    ))
                    .with_span(&func.path)),
                }
            })();
            if let Some(r) = errors.handle(parsed) {
                out.push(r);
            }
        }
        errors.finish_with(Relations(out))
    }
}

/// The backends: the name in `backends(...)`, the template's flavor, the feature gate
/// macro, the connection and the backend types (under `diesel::`).
const BACKENDS: &[(&str, &str, &str, &str)] = &[
    ("sqlite", "__mcp_if_sqlite", "SqliteConnection", "sqlite::Sqlite"),
    ("postgres", "__mcp_if_postgres", "PgConnection", "pg::Pg"),
    ("mysql", "__mcp_if_mysql", "MysqlConnection", "mysql::Mysql"),
];

/// `#[mcp(...)]` on a field.
#[derive(Debug, Default, FromAttributes)]
#[darling(attributes(mcp), default)]
struct FieldArgs {
    /// Never shown to agents, never filtered or sorted by them.
    skip: Flag,
    /// Not settable by agents (create, update, patch); `before_write` hooks may set it.
    read_only: Flag,
    /// The field's filter kind, for types the macro does not know.
    kind: Option<SpannedValue<String>>,
}

/// Filter kinds, as `mcp_diesel::filter::Kind` names them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
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
    fn variant(self) -> Ident {
        format_ident!("{}", format!("{self:?}"))
    }

    /// The template's kind: which operators the column gets.
    fn template(self) -> Ident {
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
struct Field {
    ident: Ident,
    /// The name agents use (serde's name for it).
    name: String,
    column: Ident,
    kind: Kind,
    nullable: bool,
    /// The type without `Option`.
    inner: Type,
    hidden: bool,
    read_only: bool,
}

impl Field {
    /// `null` or `notnull`, as the templates spell a column's nullability.
    fn null_ident(&self) -> Ident {
        Ident::new(if self.nullable { "null" } else { "notnull" }, Span::call_site())
    }

    /// `index : table::column : null|notnull : Type`, a column as the write and aggregate
    /// templates take it.
    fn column_spec(&self, index: usize, table: &Path) -> TokenStream {
        let (i, col, null, ty) =
            (proc_macro2::Literal::usize_unsuffixed(index), &self.column, self.null_ident(), &self.inner);
        quote!(#i : #table::#col : #null : #ty)
    }
}

/// Expand `#[mcp_toolset(attr)]` on a struct.
pub(crate) fn expand(attr: TokenStream, mut item: ItemStruct) -> darling::Result<TokenStream> {
    let nested = darling::ast::NestedMeta::parse_meta_list(attr)?;
    let args = ModelArgs::from_list(&nested)?;
    let mut errors = darling::Error::accumulator();

    if !item.generics.params.is_empty() {
        errors
            .push(darling::Error::custom("`#[mcp_toolset]` models cannot be generic").with_span(&item.generics.params));
    }
    let diesel = diesel_struct_attrs(&item.attrs, &mut errors);
    let rename_all = serde_rename_all(&item.attrs, &mut errors);
    let struct_ident = item.ident.clone();
    let table: Path = diesel.table.clone().unwrap_or_else(|| {
        let name = format_ident!("{}s", snake_case(&struct_ident.to_string()));
        name.into()
    });

    let named = match &mut item.fields {
        Fields::Named(n) => Some(n),
        _ => {
            errors.push(
                darling::Error::custom(
                    "`#[mcp_toolset]` goes on an `impl` block of tools, or on a Diesel model struct with named fields (`struct Post { id: i32, .. }`)",
                )
                .with_span(&item.ident),
            );
            let e = errors.finish().err().map(darling::Error::write_errors);
            return Ok(quote!(#item #e));
        }
    };

    let mut fields: Vec<Field> = Vec::new();
    let mut all_names: Vec<(Ident, bool)> = Vec::new();
    let mut hidden_names: Vec<String> = Vec::new();
    // `#[mcp(skip)]` fields stay hidden wherever a tool returns the model (the model itself,
    // in a `Vec`, in a struct of the tool's own): the derives that follow this attribute
    // leave them out of the JSON Schema, and out of the JSON while mcp-core serializes a
    // tool result. Hence the order: `#[mcp_toolset]` above `#[derive(Serialize, JsonSchema)]`.
    let derives = derived_traits(&item.attrs);
    let derives_serialize = derives.iter().any(|d| d == "Serialize");
    let derives_schema = derives.iter().any(|d| d == "JsonSchema");
    let hidden_from = {
        let path = runtime_crate(args.krate.as_ref()).to_string().replace(' ', "");
        format!("{path}::__private::hidden_from_agents")
    };
    if let Some(named) = named {
        for f in named.named.iter_mut() {
            let fa = errors.handle(FieldArgs::from_attributes(&f.attrs)).unwrap_or_default();
            f.attrs.retain(|a| !a.path().is_ident("mcp"));
            let Some(ident) = f.ident.clone() else { continue };
            let serde = serde_field_attrs(&f.attrs, &mut errors);
            if fa.skip.is_present() && !serde.skip {
                if !(derives_serialize && derives_schema) {
                    errors.push(
                        darling::Error::custom(
                            "`#[mcp(skip)]` needs `#[mcp_toolset]` above `#[derive(Serialize, JsonSchema)]`, so that the field stays hidden wherever a tool returns the model (its JSON Schema and its JSON in tool results)\n\nhelp: write `#[mcp_toolset(...)]` first, then `#[derive(Queryable, Selectable, Serialize, JsonSchema)]`; or hide the field from every serialization with `#[serde(skip)]`",
                        )
                        .with_span(&fa.skip.span()),
                    );
                } else if serde.skip_if {
                    errors.push(
                        darling::Error::custom(
                            "an `#[mcp(skip)]` field cannot have `#[serde(skip_serializing_if = ..)]`: tool results leave it out already\n\nhelp: remove `skip_serializing_if`, or hide the field from every serialization with `#[serde(skip)]`",
                        )
                        .with_span(&ident),
                    );
                } else {
                    f.attrs.push(syn::parse_quote!(#[serde(skip_serializing_if = #hidden_from)]));
                    f.attrs.push(syn::parse_quote!(#[schemars(skip)]));
                }
            }
            let column = diesel_column_name(&f.attrs, &mut errors).unwrap_or_else(|| ident.clone());
            let name = serde.rename.unwrap_or_else(|| apply_rename_all(&unraw(&ident), rename_all.as_deref()));
            let hidden = fa.skip.is_present() || serde.skip;
            if hidden {
                hidden_names.push(name.clone());
            }
            all_names.push((ident.clone(), hidden));
            let (nullable, inner) = match option_inner(&f.ty) {
                Some(t) => (true, t.clone()),
                None => (false, f.ty.clone()),
            };
            let kind = match &fa.kind {
                Some(k) => match KIND_NAMES.iter().find(|(n, _)| *n == k.as_str()) {
                    Some((_, kind)) => Some(*kind),
                    None => {
                        let list = KIND_NAMES.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", ");
                        errors.push(
                            darling::Error::custom(format!("unknown kind `{}`; kinds: {list}", k.as_str()))
                                .with_span(&k.span()),
                        );
                        continue;
                    }
                },
                None => classify(&inner),
            };
            match kind {
                Some(kind) => fields.push(Field {
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
                None => errors.push(
                    darling::Error::custom(format!(
                        "`{}` is not a column type `#[mcp_toolset]` can filter on\n\nhelp: keep the field from agents with `#[mcp(skip)]`, or name its kind: `#[mcp(kind = \"text\")]` (text, integer, float, bool, datetime, date, time, uuid, enum)",
                        f.ty.to_token_stream().to_string().replace(' ', "")
                    ))
                    .with_span(&f.ty),
                ),
            }
        }
    }

    // Primary key.
    let pk_index = match diesel.primary_key.as_slice() {
        [] | [_] => {
            let pk = diesel.primary_key.first().cloned().unwrap_or_else(|| Ident::new("id", struct_ident.span()));
            match fields.iter().position(|f| f.column == pk || f.ident == pk) {
                Some(i) if fields[i].hidden => {
                    errors.push(
                        darling::Error::custom(format!(
                            "the primary key `{pk}` cannot be `#[mcp(skip)]`: agents address rows by it"
                        ))
                        .with_span(&fields[i].ident),
                    );
                    None
                }
                Some(i) => Some(i),
                None if all_names.iter().any(|(n, _)| *n == pk) => None, // its own error was reported
                None => {
                    errors.push(
                        darling::Error::custom(format!(
                            "no field `{pk}` for the primary key\n\nhelp: name the key with `#[diesel(primary_key(...))]`"
                        ))
                        .with_span(&pk),
                    );
                    None
                }
            }
        }
        [_, second, ..] => {
            errors.push(
                darling::Error::custom("`#[mcp_toolset]` models need a single-column primary key").with_span(second),
            );
            None
        }
    };

    // Search fields.
    let mut search = Vec::new();
    for p in args.search.iter().flat_map(|l| l.iter()) {
        let Some(id) = p.get_ident() else {
            errors.push(darling::Error::custom("expected a field name").with_span(p));
            continue;
        };
        match fields.iter().position(|f| f.ident == *id) {
            Some(i) if fields[i].hidden => errors.push(
                darling::Error::custom(format!("`{id}` is `#[mcp(skip)]`; agents cannot search it")).with_span(id),
            ),
            Some(i) if fields[i].kind != Kind::Text => errors.push(
                darling::Error::custom(format!("`{id}` is not text; `search` looks in text fields only")).with_span(id),
            ),
            Some(i) => search.push(i),
            None => errors.push(
                darling::Error::custom(format!(
                    "no field `{id}` to search; fields: {}",
                    all_names.iter().filter(|(_, h)| !h).map(|(n, _)| n.to_string()).collect::<Vec<_>>().join(", ")
                ))
                .with_span(id),
            ),
        }
    }

    // Actions.
    const ACTIONS: &[&str] = &["list", "get", "count", "create", "update", "patch", "delete", "aggregate"];
    let mut actions: Vec<&str> = Vec::new();
    match &args.actions {
        None => actions.extend(["list", "get", "count"]),
        Some(list) => {
            for p in list.iter() {
                match ACTIONS.iter().find(|a| p.is_ident(a)) {
                    Some(a) => actions.push(a),
                    None => errors.push(
                        darling::Error::custom(format!(
                            "unknown action `{}`; actions: {}",
                            quote!(#p),
                            ACTIONS.join(", ")
                        ))
                        .with_span(p),
                    ),
                }
            }
        }
    }
    let [list, get, count, create, update, patch, delete, aggregate_action] =
        [0, 1, 2, 3, 4, 5, 6, 7].map(|i| actions.contains(&ACTIONS[i]));
    let writes_any = create || update || patch || delete;

    // Group-by fields.
    let mut group_by = Vec::new();
    for p in args.group_by.iter().flat_map(|l| l.iter()) {
        let Some(id) = p.get_ident() else {
            errors.push(darling::Error::custom("expected a field name").with_span(p));
            continue;
        };
        if !aggregate_action {
            errors.push(
                darling::Error::custom("`group_by` needs the `aggregate` action in `actions(...)`").with_span(id),
            );
            continue;
        }
        match fields.iter().position(|f| f.ident == *id) {
            Some(i) if fields[i].hidden => errors.push(
                darling::Error::custom(format!("`{id}` is `#[mcp(skip)]`; agents cannot group by it")).with_span(id),
            ),
            Some(i) => group_by.push(i),
            None => errors.push(
                darling::Error::custom(format!(
                    "no field `{id}` to group by; fields: {}",
                    fields.iter().filter(|f| !f.hidden).map(|f| f.ident.to_string()).collect::<Vec<_>>().join(", ")
                ))
                .with_span(id),
            ),
        }
    }

    // Relations.
    let mut relations: Vec<(&RelationArg, usize)> = Vec::new();
    for r in args.relations.iter().flat_map(|l| l.0.iter()) {
        let name = unraw(&r.name);
        if relations.iter().any(|(o, _)| unraw(&o.name) == name) {
            errors.push(darling::Error::custom(format!("duplicate relation `{name}`")).with_span(&r.name));
            continue;
        }
        if fields.iter().any(|f| f.name == name) || all_names.iter().any(|(n, _)| unraw(n) == name) {
            errors.push(
                darling::Error::custom(format!(
                    "relation `{name}` has the name of a field; agents could not tell them apart\n\nhelp: name the relation after what it reaches, such as `author` for `author_id`"
                ))
                .with_span(&r.name),
            );
            continue;
        }
        match r.kind {
            RelKind::BelongsTo => {
                let Some(id) = r.key.get_ident() else {
                    errors.push(
                        darling::Error::custom(
                            "`belongs_to` takes a field of this model holding the related row's key, such as `author_id`",
                        )
                        .with_span(&r.key),
                    );
                    continue;
                };
                match fields.iter().position(|f| f.ident == *id) {
                    Some(i) if fields[i].hidden => errors.push(
                        darling::Error::custom(format!(
                            "`{id}` is `#[mcp(skip)]`; a relation through it would reveal it to agents"
                        ))
                        .with_span(id),
                    ),
                    Some(i) => relations.push((r, i)),
                    None => errors.push(
                        darling::Error::custom(format!(
                            "no field `{id}` for the relation; fields: {}",
                            fields
                                .iter()
                                .filter(|f| !f.hidden)
                                .map(|f| f.ident.to_string())
                                .collect::<Vec<_>>()
                                .join(", ")
                        ))
                        .with_span(id),
                    ),
                }
            }
            RelKind::HasMany => {
                if r.key.segments.len() < 2 {
                    errors.push(
                        darling::Error::custom(format!(
                            "`has_many` takes the column of the related table that refers to this model\n\nhelp: name it with its table, such as `has_many({}, {}s::{})`",
                            r.model.to_token_stream().to_string().replace(' ', ""),
                            r.model.segments.last().map(|s| snake_case(&unraw(&s.ident))).unwrap_or_default(),
                            r.key.to_token_stream()
                        ))
                        .with_span(&r.key),
                    );
                    continue;
                }
                if let Some(pk) = pk_index {
                    relations.push((r, pk));
                }
            }
        }
    }

    // Backends.
    let mut backends: Vec<&str> = Vec::new();
    match &args.backends {
        None => backends.extend(BACKENDS.iter().map(|b| b.0)),
        Some(list) => {
            for p in list.iter() {
                match BACKENDS.iter().find(|b| p.is_ident(b.0)) {
                    Some(b) => backends.push(b.0),
                    None => errors.push(
                        darling::Error::custom(format!(
                            "unknown backend `{}`; backends: sqlite, postgres, mysql",
                            quote!(#p)
                        ))
                        .with_span(p),
                    ),
                }
            }
        }
    }

    // Limits.
    let max_limit = args.max_limit.as_ref().map_or(100, |v| **v);
    let default_limit = args.default_limit.as_ref().map_or(20.min(max_limit).max(1), |v| **v);
    if let Some(m) = &args.max_limit
        && **m == 0
    {
        errors.push(darling::Error::custom("`max_limit` must be at least 1").with_span(&m.span()));
    }
    if let Some(d) = &args.default_limit
        && (**d == 0 || **d > max_limit)
    {
        errors.push(
            darling::Error::custom(format!("`default_limit` must be between 1 and `max_limit` ({max_limit})"))
                .with_span(&d.span()),
        );
    }
    let name = match &args.name {
        Some(n) => {
            if n.is_empty() || !n.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') || n.len() > 50 {
                errors.push(
                    darling::Error::custom("the name must be 1 to 50 letters, digits, `_` or `-`").with_span(&n.span()),
                );
            }
            n.as_str().to_owned()
        }
        None => table.segments.last().map(|s| unraw(&s.ident)).unwrap_or_default(),
    };

    // The struct is kept (without `#[mcp]`) so that a mistake produces only its own error.
    if let Err(e) = errors.finish() {
        let e = e.write_errors();
        return Ok(quote!(#item #e));
    }
    let Some(pk_index) = pk_index else {
        let e = darling::Error::custom("no primary key").with_span(&struct_ident).write_errors();
        return Ok(quote!(#item #e));
    };

    let krate = runtime_crate(args.krate.as_ref());
    let description = match &args.description {
        Some(d) => quote!(#d),
        None => util::concat_doc(&util::doc_pieces(&item.attrs)),
    };
    let field_infos = fields.iter().map(|f| {
        let n = &f.name;
        let kind = f.kind.variant();
        let mut e = if f.nullable {
            quote!(#krate::filter::FieldInfo::nullable(#n, #krate::filter::Kind::#kind))
        } else {
            quote!(#krate::filter::FieldInfo::new(#n, #krate::filter::Kind::#kind))
        };
        if f.hidden {
            e = quote!(#e.hide());
        }
        e
    });
    let template_fields = fields.iter().enumerate().map(|(i, f)| {
        let i = proc_macro2::Literal::usize_unsuffixed(i);
        let col = &f.column;
        let kind = f.kind.template();
        let null = f.null_ident();
        let ty = &f.inner;
        quote!(#i : #table::#col : #kind : #null : #ty)
    });
    let pk_col = &fields[pk_index].column;
    let pk_ty = &fields[pk_index].inner;
    let search = search.iter().map(|i| proc_macro2::Literal::usize_unsuffixed(*i));
    let pk_lit = proc_macro2::Literal::usize_unsuffixed(pk_index);

    let template_fields: Vec<TokenStream> = template_fields.collect();
    // Integer keys are generated by the database; other keys are given on create.
    let key_generated = fields[pk_index].kind == Kind::Integer;
    let writable = fields
        .iter()
        .enumerate()
        .filter(|(i, f)| !(f.hidden || f.read_only || (*i == pk_index && key_generated)))
        .map(|(i, _)| proc_macro2::Literal::usize_unsuffixed(i));
    // Every column a write may set (hooks may set hidden and read-only ones), in groups of
    // eight: Diesel's tuples have a bounded size, nested tuples do not.
    let writes = if writes_any {
        let cols: Vec<TokenStream> = fields
            .iter()
            .enumerate()
            .filter(|(i, _)| !(*i == pk_index && key_generated))
            .map(|(i, f)| f.column_spec(i, &table))
            .collect();
        let groups = cols.chunks(8).map(|g| quote!([#(#g),*]));
        quote!([#(#groups),*])
    } else {
        quote!(none)
    };
    let aggregate = if aggregate_action {
        let lit = proc_macro2::Literal::usize_unsuffixed;
        let groups = group_by.iter().map(|&i| fields[i].column_spec(i, &table));
        let sums =
            fields.iter().enumerate().filter(|(_, f)| !f.hidden && matches!(f.kind, Kind::Integer | Kind::Float)).map(
                |(i, f)| {
                    let (col, i) = (&f.column, lit(i));
                    quote!(#i : #table::#col)
                },
            );
        let ords = fields
            .iter()
            .enumerate()
            .filter(|(_, f)| {
                !f.hidden
                    && matches!(
                        f.kind,
                        Kind::Text | Kind::Integer | Kind::Float | Kind::DateTime | Kind::Date | Kind::Time
                    )
            })
            .map(|(i, f)| f.column_spec(i, &table));
        quote!({ groups = [#(#groups),*], sums = [#(#sums),*], ords = [#(#ords),*] })
    } else {
        quote!(none)
    };
    let group_by_lits = group_by.iter().map(|i| proc_macro2::Literal::usize_unsuffixed(*i));
    let relation_infos = relations.iter().map(|(r, local)| {
        let (name, model) = (unraw(&r.name), &r.model);
        let local_name = &fields[*local].name;
        let many = r.kind == RelKind::HasMany;
        let foreign = match r.kind {
            RelKind::BelongsTo => quote! {
                <#model as #krate::ModelInfo>::FIELDS[<#model as #krate::ModelInfo>::PRIMARY_KEY].name
            },
            RelKind::HasMany => {
                let col = r.key.segments.last().map(|s| unraw(&s.ident)).unwrap_or_default();
                quote!(#col)
            }
        };
        quote! {
            #krate::Relation {
                name: #name,
                model: <#model as #krate::ModelInfo>::NAME,
                fields: <#model as #krate::ModelInfo>::FIELDS,
                many: #many,
                local: #local_name,
                foreign: #foreign,
                most: <#model as #krate::ModelInfo>::MAX_LIMIT,
            }
        }
    });
    // A `belongs_to` key has the related model's key type, checked by rustc at the user's
    // token. (That the related type is a model is checked by `RELATIONS` above, at the
    // model's name.)
    let key_checks: Vec<TokenStream> = relations
        .iter()
        .filter(|(r, _)| r.kind == RelKind::BelongsTo)
        .map(|(r, local)| {
            let (model, inner) = (&r.model, &fields[*local].inner);
            quote_spanned! {r.key.span()=>
                #krate::__private::same_type(
                    ::core::marker::PhantomData::<<#model as #krate::ModelInfo>::Key>,
                    ::core::marker::PhantomData::<#inner>,
                );
            }
        })
        .collect();
    let relation_checks = if key_checks.is_empty() {
        quote!()
    } else {
        quote! {
            const _: () = {
                #[allow(dead_code)]
                fn __mcp_check_relations() {
                    #(#key_checks)*
                }
            };
        }
    };
    let queries = BACKENDS.iter().filter(|b| backends.contains(&b.0)).map(|(flavor, gate, conn, backend)| {
        let flavor = Ident::new(flavor, Span::call_site());
        let gate = Ident::new(gate, Span::call_site());
        let conn = Ident::new(conn, Span::call_site());
        let backend: Path = syn::parse_str(backend).unwrap_or_else(|_| conn.clone().into());
        let rels = relations.iter().enumerate().map(|(i, (r, local))| {
            let i = proc_macro2::Literal::usize_unsuffixed(i);
            let model = &r.model;
            let f = &fields[*local];
            let (ofield, ocol, onull, oty) = (&f.ident, &f.column, f.null_ident(), &f.inner);
            let (shape, theirs) = match r.kind {
                RelKind::BelongsTo => (
                    quote!(belongs_to),
                    quote!(<#model as #krate::ModelFilter<#krate::__private::diesel::#backend>>::key_column()),
                ),
                RelKind::HasMany => {
                    let key = &r.key;
                    (quote!(has_many), quote!(#key))
                }
            };
            quote!(#i : #shape ( #model, ours = #ofield : #table::#ocol : #onull : #oty, theirs = #theirs ))
        });
        quote! {
            #krate::#gate! {
                #krate::__mcp_model_query! {
                    flavor = #flavor,
                    conn = #krate::__private::diesel::#conn,
                    backend = #krate::__private::diesel::#backend,
                    model = #struct_ident,
                    table = #table::table,
                    pk = #table::#pk_col : #pk_ty,
                    fields = [#(#template_fields),*],
                    writes = #writes,
                    aggregate = #aggregate,
                    relations = [#(#rels),*],
                }
            }
        }
    });

    let validate_fn = args.validate.as_ref().map(|path| {
        quote_spanned! {path.span()=>
            fn validate(
                values: &#krate::__private::serde_json::Map<::std::string::String, #krate::__private::serde_json::Value>,
            ) -> ::core::result::Result<(), #krate::ValidationErrors> {
                #path(values)
            }
        }
    });

    Ok(quote! {
        #item

        impl #krate::ModelInfo for #struct_ident {
            type Key = #pk_ty;
            const NAME: &'static str = #name;
            const FIELDS: &'static [#krate::filter::FieldInfo] = &[#(#field_infos),*];
            const PRIMARY_KEY: usize = #pk_lit;
            const SEARCH: &'static [usize] = &[#(#search),*];
            const HIDDEN: &'static [&'static str] = &[#(#hidden_names),*];
            const WRITABLE: &'static [usize] = &[#(#writable),*];
            const KEY_GENERATED: bool = #key_generated;
            const GROUP_BY: &'static [usize] = &[#(#group_by_lits),*];
            const ACTIONS: #krate::Actions = #krate::Actions {
                list: #list, get: #get, count: #count, create: #create, update: #update, patch: #patch, delete: #delete,
                aggregate: #aggregate_action,
            };
            const DEFAULT_LIMIT: u32 = #default_limit;
            const MAX_LIMIT: u32 = #max_limit;
            const DESCRIPTION: &'static str = #description;
            const RELATIONS: &'static [#krate::Relation] = &[#(#relation_infos),*];

            fn row_schema() -> #krate::__private::serde_json::Map<::std::string::String, #krate::__private::serde_json::Value> {
                #krate::__private::row_schema::<Self>(<Self as #krate::ModelInfo>::HIDDEN)
            }

            #validate_fn
        }

        #relation_checks

        #(#queries)*
    })
}

/// Take `model = Type` out of the arguments of `#[mcp_toolset]` on an impl block: such a
/// block holds the model's hooks (`scope`, `write_scope`, `before_write`) next to its
/// extra tools. Returns the other arguments and the model.
pub(crate) fn take_model_arg(attr: TokenStream) -> darling::Result<(TokenStream, Option<Path>)> {
    let nested = darling::ast::NestedMeta::parse_meta_list(attr)?;
    let mut model = None;
    let mut rest = Vec::new();
    for n in nested {
        match &n {
            darling::ast::NestedMeta::Meta(syn::Meta::NameValue(nv)) if nv.path.is_ident("model") => match &nv.value {
                syn::Expr::Path(p) if p.qself.is_none() => model = Some(p.path.clone()),
                other => {
                    return Err(darling::Error::custom("expected the model's type: `#[mcp_toolset(model = Post)]`")
                        .with_span(other));
                }
            },
            _ => rest.push(n),
        }
    }
    Ok((quote!(#(#rest),*), model))
}

/// The hooks an `#[mcp_toolset(model = ...)]` impl block may define, by method name.
const HOOKS: &[&str] = &["scope", "write_scope", "before_write"];

/// `impl mcp_diesel::ModelHooks` for an `#[mcp_toolset(model = Model)]` impl block,
/// delegating to the block's own `scope`, `write_scope` and `before_write` methods (rustc
/// checks their signatures at the user's method).
pub(crate) fn hooks_impl(model: &Path, imp: &syn::ItemImpl, core: &TokenStream) -> TokenStream {
    let krate = runtime_crate(None);
    let self_ty = &imp.self_ty;
    let (impl_generics, _, where_clause) = imp.generics.split_for_impl();
    let found: Vec<&syn::ImplItemFn> = imp
        .items
        .iter()
        .filter_map(|i| match i {
            syn::ImplItem::Fn(f) if HOOKS.iter().any(|h| f.sig.ident == h) => Some(f),
            _ => None,
        })
        .collect();
    let has = |name: &str| found.iter().find(|f| f.sig.ident == name);
    let value = quote!(#krate::__private::serde_json::Value);
    let mut items = Vec::new();
    if let Some(f) = has("scope") {
        let id = &f.sig.ident;
        items.push(quote_spanned! {id.span()=>
            const SCOPE: bool = true;
            fn scope(&self, ctx: &#core::Context) -> ::core::result::Result<#value, #core::ToolError> {
                let hook: fn(&Self, &#core::Context) -> ::core::result::Result<#value, #core::ToolError> = <#self_ty>::#id;
                hook(self, ctx)
            }
        });
    }
    if let Some(f) = has("write_scope") {
        let id = &f.sig.ident;
        items.push(quote_spanned! {id.span()=>
            const WRITE_SCOPE: bool = true;
            fn write_scope(&self, ctx: &#core::Context) -> ::core::result::Result<#value, #core::ToolError> {
                let hook: fn(&Self, &#core::Context) -> ::core::result::Result<#value, #core::ToolError> = <#self_ty>::#id;
                hook(self, ctx)
            }
        });
    }
    if let Some(f) = has("before_write") {
        let id = &f.sig.ident;
        items.push(quote_spanned! {id.span()=>
            const BEFORE_WRITE: bool = true;
            #[allow(clippy::type_complexity)]
            fn before_write(
                &self,
                ctx: &#core::Context,
                action: #krate::WriteAction,
                values: &mut #krate::__private::serde_json::Map<::std::string::String, #value>,
            ) -> ::core::result::Result<(), #core::ToolError> {
                let hook: fn(
                    &Self,
                    &#core::Context,
                    #krate::WriteAction,
                    &mut #krate::__private::serde_json::Map<::std::string::String, #value>,
                ) -> ::core::result::Result<(), #core::ToolError> = <#self_ty>::#id;
                hook(self, ctx, action, values)
            }
        });
    }
    let model_ty = quote_spanned! {model.span()=> #model};
    quote! {
        #[automatically_derived]
        impl #impl_generics #krate::ModelHooks for #self_ty #where_clause {
            type Model = #model_ty;
            #(#items)*
        }
    }
}

/// `crate = "..."`, else the name `mcp-diesel` has in the user's Cargo.toml.
fn runtime_crate(explicit: Option<&Path>) -> TokenStream {
    if let Some(p) = explicit {
        return p.to_token_stream();
    }
    match proc_macro_crate::crate_name("mcp-diesel") {
        Ok(proc_macro_crate::FoundCrate::Name(name)) => {
            let ident = Ident::new(&name, Span::call_site());
            quote!(::#ident)
        }
        Ok(proc_macro_crate::FoundCrate::Itself) | Err(_) => quote!(::mcp_diesel),
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

#[derive(Default)]
struct DieselStruct {
    table: Option<Path>,
    primary_key: Vec<Ident>,
}

/// Skip the value of a nested meta item we do not read (`= value` or `(...)`).
fn skip_meta(meta: &syn::meta::ParseNestedMeta<'_>) -> syn::Result<()> {
    if meta.input.peek(syn::Token![=]) {
        meta.value()?.parse::<syn::Expr>()?;
    } else if meta.input.peek(syn::token::Paren) {
        let content;
        syn::parenthesized!(content in meta.input);
        content.parse::<TokenStream>()?;
    }
    Ok(())
}

/// Call `f` on each item of every `#[name(...)]` attribute, collecting parse errors.
fn each_meta(
    attrs: &[Attribute],
    name: &str,
    errors: &mut darling::error::Accumulator,
    mut f: impl FnMut(&syn::meta::ParseNestedMeta<'_>) -> syn::Result<()>,
) {
    for a in attrs.iter().filter(|a| a.path().is_ident(name)) {
        if let Err(e) = a.parse_nested_meta(|meta| f(&meta)) {
            errors.push(e.into());
        }
    }
}

/// `#[diesel(table_name = ..., primary_key(...))]` on the struct.
fn diesel_struct_attrs(attrs: &[Attribute], errors: &mut darling::error::Accumulator) -> DieselStruct {
    let mut out = DieselStruct::default();
    each_meta(attrs, "diesel", errors, |meta| {
        if meta.path.is_ident("table_name") {
            out.table = Some(meta.value()?.parse()?);
        } else if meta.path.is_ident("primary_key") {
            meta.parse_nested_meta(|m| {
                out.primary_key.push(m.path.require_ident()?.clone());
                Ok(())
            })?;
        } else {
            skip_meta(meta)?;
        }
        Ok(())
    });
    out
}

/// `#[diesel(column_name = ...)]` on a field.
fn diesel_column_name(attrs: &[Attribute], errors: &mut darling::error::Accumulator) -> Option<Ident> {
    let mut out = None;
    each_meta(attrs, "diesel", errors, |meta| {
        if meta.path.is_ident("column_name") {
            out = Some(meta.value()?.parse()?);
        } else {
            skip_meta(meta)?;
        }
        Ok(())
    });
    out
}

#[derive(Default)]
struct SerdeField {
    rename: Option<String>,
    skip: bool,
    /// `skip_serializing_if = ".."`.
    skip_if: bool,
}

/// The last path segment of each trait in the item's `#[derive(...)]` attributes.
fn derived_traits(attrs: &[Attribute]) -> Vec<String> {
    let mut out = Vec::new();
    for a in attrs.iter().filter(|a| a.path().is_ident("derive")) {
        let parsed = a.parse_args_with(syn::punctuated::Punctuated::<Path, syn::Token![,]>::parse_terminated);
        for p in parsed.into_iter().flatten() {
            if let Some(last) = p.segments.last() {
                out.push(last.ident.to_string());
            }
        }
    }
    out
}

/// `#[serde(rename = "..", skip, skip_serializing)]` on a field.
fn serde_field_attrs(attrs: &[Attribute], errors: &mut darling::error::Accumulator) -> SerdeField {
    let mut out = SerdeField::default();
    each_meta(attrs, "serde", errors, |meta| {
        if meta.path.is_ident("rename") {
            if meta.input.peek(syn::Token![=]) {
                out.rename = Some(meta.value()?.parse::<LitStr>()?.value());
            } else {
                meta.parse_nested_meta(|m| {
                    let v = m.value()?.parse::<LitStr>()?.value();
                    if m.path.is_ident("serialize") {
                        out.rename = Some(v);
                    }
                    Ok(())
                })?;
            }
        } else if meta.path.is_ident("skip") || meta.path.is_ident("skip_serializing") {
            out.skip = true;
        } else if meta.path.is_ident("skip_serializing_if") {
            out.skip_if = true;
            skip_meta(meta)?;
        } else {
            skip_meta(meta)?;
        }
        Ok(())
    });
    out
}

/// `#[serde(rename_all = "..")]` on the struct (its serialize side).
fn serde_rename_all(attrs: &[Attribute], errors: &mut darling::error::Accumulator) -> Option<String> {
    let mut out = None;
    each_meta(attrs, "serde", errors, |meta| {
        if meta.path.is_ident("rename_all") {
            let lit = if meta.input.peek(syn::Token![=]) {
                Some(meta.value()?.parse::<LitStr>()?)
            } else {
                let mut s = None;
                meta.parse_nested_meta(|m| {
                    let v = m.value()?.parse::<LitStr>()?;
                    if m.path.is_ident("serialize") {
                        s = Some(v);
                    }
                    Ok(())
                })?;
                s
            };
            if let Some(lit) = lit {
                if !RENAME_RULES.contains(&lit.value().as_str()) {
                    return Err(syn::Error::new(lit.span(), "unknown serde `rename_all` rule"));
                }
                out = Some(lit.value());
            }
        } else {
            skip_meta(meta)?;
        }
        Ok(())
    });
    out
}

const RENAME_RULES: &[&str] = &[
    "lowercase",
    "UPPERCASE",
    "PascalCase",
    "camelCase",
    "snake_case",
    "SCREAMING_SNAKE_CASE",
    "kebab-case",
    "SCREAMING-KEBAB-CASE",
];

/// A snake_case field name under a serde `rename_all` rule.
fn apply_rename_all(field: &str, rule: Option<&str>) -> String {
    let pascal = || {
        field
            .split('_')
            .map(|w| {
                let mut c = w.chars();
                c.next().map(|f| f.to_uppercase().chain(c).collect::<String>()).unwrap_or_default()
            })
            .collect::<String>()
    };
    match rule {
        Some("lowercase") => field.to_lowercase(),
        Some("UPPERCASE") => field.to_uppercase(),
        Some("PascalCase") => pascal(),
        Some("camelCase") => {
            let p = pascal();
            let mut c = p.chars();
            c.next().map(|f| f.to_lowercase().chain(c).collect()).unwrap_or_default()
        }
        Some("SCREAMING_SNAKE_CASE") => field.to_uppercase(),
        Some("kebab-case") => field.replace('_', "-"),
        Some("SCREAMING-KEBAB-CASE") => field.replace('_', "-").to_uppercase(),
        _ => field.to_owned(),
    }
}

/// `Post` → `post`, `BlogPost` → `blog_post` (Diesel's default table name, without the `s`).
fn snake_case(s: &str) -> String {
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if c.is_uppercase() {
            if i > 0 {
                out.push('_');
            }
            out.extend(c.to_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// An identifier without its `r#`.
fn unraw(i: &Ident) -> String {
    let s = i.to_string();
    s.strip_prefix("r#").map(str::to_owned).unwrap_or(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renames() {
        assert_eq!(apply_rename_all("created_at", Some("camelCase")), "createdAt");
        assert_eq!(apply_rename_all("created_at", Some("PascalCase")), "CreatedAt");
        assert_eq!(apply_rename_all("created_at", Some("kebab-case")), "created-at");
        assert_eq!(apply_rename_all("created_at", Some("SCREAMING-KEBAB-CASE")), "CREATED-AT");
        assert_eq!(apply_rename_all("created_at", None), "created_at");
        assert_eq!(snake_case("BlogPost"), "blog_post");
    }

    #[test]
    fn hooks_expansion_snapshot() {
        let (rest, model) = take_model_arg(quote!(model = Post, crate = "::mcp_core")).unwrap();
        assert_eq!(rest.to_string(), quote!(crate = "::mcp_core").to_string());
        let imp: syn::ItemImpl = syn::parse_quote! {
            impl PostTools {
                fn scope(&self, ctx: &Context) -> Result<Value, ToolError> { todo!() }
                fn before_write(&self, ctx: &Context, action: WriteAction, values: &mut Map<String, Value>) -> Result<(), ToolError> { todo!() }
                #[mcp_tool]
                fn publish(&self, id: i32) -> String { todo!() }
            }
        };
        let out = hooks_impl(&model.unwrap(), &imp, &quote!(::mcp_core));
        let file: syn::File = syn::parse2(out).unwrap();
        insta::assert_snapshot!(prettyplease::unparse(&file));
        assert!(take_model_arg(quote!(model = "Post")).is_err());
    }

    #[test]
    fn model_expansion_snapshot() {
        let item: ItemStruct = syn::parse_quote! {
            /// Blog posts.
            #[derive(Queryable, Selectable, Serialize, JsonSchema)]
            #[diesel(table_name = schema::posts, check_for_backend(diesel::sqlite::Sqlite))]
            #[serde(rename_all = "camelCase")]
            pub struct Post {
                pub id: i32,
                pub title: String,
                #[diesel(column_name = body_text)]
                pub body: Option<String>,
                #[mcp(read_only)]
                pub created_at: chrono::NaiveDateTime,
                #[mcp(skip)]
                pub owner_id: i32,
                #[mcp(skip)]
                pub blob: Vec<u8>,
                #[mcp(kind = "enum")]
                pub status: Status,
                pub author_id: Option<i32>,
            }
        };
        let out = expand(
            quote!(
                search(title, body),
                max_limit = 50,
                crate = "::mcp_diesel",
                relations(
                    author = belongs_to(Author, author_id),
                    comments = has_many(Comment, schema::comments::post_id)
                )
            ),
            item,
        )
        .unwrap();
        let file: syn::File = syn::parse2(out).unwrap();
        insta::assert_snapshot!(prettyplease::unparse(&file));
    }
}
