//! Reading the attributes: `#[mcp_toolset(...)]` on the struct, `#[mcp(...)]` on its
//! fields, and what Diesel's and serde's attributes say (table, key, columns, names).

use darling::util::{Flag, PathList, SpannedValue};
use darling::{FromAttributes, FromMeta};
use proc_macro2::TokenStream;
use quote::ToTokens;
use syn::{Attribute, Ident, LitStr, Path};

/// `#[mcp_toolset(...)]` on a struct.
#[derive(Debug, Default, FromMeta)]
#[darling(default)]
pub(super) struct ModelArgs {
    /// Path of `mcp-diesel`, for renamed dependencies.
    #[darling(rename = "crate")]
    pub(super) krate: Option<Path>,
    /// The tool name prefix (the table's name by default).
    pub(super) name: Option<SpannedValue<String>>,
    /// The tools to generate (list, get and count by default).
    pub(super) actions: Option<PathList>,
    /// The text fields `search` looks in.
    pub(super) search: Option<PathList>,
    /// The fields `aggregate` may group by.
    pub(super) group_by: Option<PathList>,
    pub(super) default_limit: Option<SpannedValue<u32>>,
    pub(super) max_limit: Option<SpannedValue<u32>>,
    /// Description of the model for tool descriptions (the doc comment by default).
    pub(super) description: Option<String>,
    /// The backends to generate queries for (every one `mcp-diesel` was built with, by
    /// default): for column types that exist on some backends only.
    pub(super) backends: Option<PathList>,
    /// Declared relations to other models: `author = belongs_to(Author, author_id)`,
    /// `comments = has_many(Comment, comments::post_id)`.
    pub(super) relations: Option<Relations>,
    /// The model's rules for written values: `validate = Post::validate`, a
    /// `fn(&Map<String, Value>) -> Result<(), mcp_diesel::ValidationErrors>`.
    pub(super) validate: Option<Path>,
}

/// `belongs_to` or `has_many`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum RelKind {
    BelongsTo,
    HasMany,
}

/// One `name = belongs_to(Model, field)` / `name = has_many(Model, table::column)`.
#[derive(Clone, Debug)]
pub(super) struct RelationArg {
    pub(super) name: Ident,
    pub(super) kind: RelKind,
    /// The related model's type.
    pub(super) model: Path,
    /// `belongs_to`: this model's field; `has_many`: the related table's column.
    pub(super) key: Path,
}

/// `relations(...)`.
#[derive(Debug, Default)]
pub(super) struct Relations(pub(super) Vec<RelationArg>);

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

/// `#[mcp(...)]` on a field.
#[derive(Debug, Default, FromAttributes)]
#[darling(attributes(mcp), default)]
pub(super) struct FieldArgs {
    /// Never shown to agents, never filtered or sorted by them.
    pub(super) skip: Flag,
    /// Not settable by agents (create, update, patch); `before_write` hooks may set it.
    pub(super) read_only: Flag,
    /// The field's filter kind, for types the macro does not know.
    pub(super) kind: Option<SpannedValue<String>>,
}

#[derive(Default)]
pub(super) struct DieselStruct {
    pub(super) table: Option<Path>,
    pub(super) primary_key: Vec<Ident>,
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
pub(super) fn diesel_struct_attrs(attrs: &[Attribute], errors: &mut darling::error::Accumulator) -> DieselStruct {
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
pub(super) fn diesel_column_name(attrs: &[Attribute], errors: &mut darling::error::Accumulator) -> Option<Ident> {
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
pub(super) struct SerdeField {
    pub(super) rename: Option<String>,
    pub(super) skip: bool,
    /// `skip_serializing_if = ".."`.
    pub(super) skip_if: bool,
}

/// The last path segment of each trait in the item's `#[derive(...)]` attributes.
pub(super) fn derived_traits(attrs: &[Attribute]) -> Vec<String> {
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
pub(super) fn serde_field_attrs(attrs: &[Attribute], errors: &mut darling::error::Accumulator) -> SerdeField {
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
pub(super) fn serde_rename_all(attrs: &[Attribute], errors: &mut darling::error::Accumulator) -> Option<String> {
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
pub(super) fn apply_rename_all(field: &str, rule: Option<&str>) -> String {
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
pub(super) fn snake_case(s: &str) -> String {
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
pub(super) fn unraw(i: &Ident) -> String {
    let s = i.to_string();
    s.strip_prefix("r#").map(str::to_owned).unwrap_or(s)
}
