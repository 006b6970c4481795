//! The resolved model of an `#[mcp_toolset]` impl block: every MCP method with its
//! defaults applied, parameters classified as far as syntax allows, and spans kept for
//! diagnostics.

use darling::FromAttributes;
use darling::util::Override;
use proc_macro2::{Span, TokenStream};
use syn::spanned::Spanned;
use syn::visit_mut::VisitMut;
use syn::{FnArg, ImplItemFn, Pat, PathArguments, ReturnType, Type};

use super::attr::{CompleteArgs, ParamArgs, PromptArgs, ResourceArgs, ToolArgs};
use crate::util;

/// How a parameter gets its value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    /// Decided by the type's traits at compile time (context value or argument).
    Probe,
    /// `#[mcp(context)]`, or a parameter that cannot be an argument.
    Context,
    /// `#[mcp(arg)]` or `#[mcp(default)]`.
    Argument,
    /// `#[mcp(flatten)]`: the argument struct.
    Flatten,
}

#[derive(Debug)]
pub(crate) struct Param {
    pub(crate) ty: Type,
    pub(crate) span: Span,
    /// The property name clients use.
    pub(crate) name: String,
    pub(crate) description: Option<String>,
    /// `Option<T>` or with a default.
    pub(crate) optional: bool,
    pub(crate) default: Option<Override<syn::Path>>,
    pub(crate) range: Option<(Option<f64>, Option<f64>, Span)>,
    pub(crate) length: Option<(Option<u64>, Option<u64>, Span)>,
    pub(crate) pattern: Option<(String, Span)>,
    /// `x-mcp-header` name.
    pub(crate) header: Option<(String, Span)>,
    pub(crate) role: Role,
}

impl Param {
    pub(crate) fn has_checks(&self) -> bool {
        self.range.is_some() || self.length.is_some() || self.pattern.is_some()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Receiver {
    /// `&self`.
    Ref,
    /// An associated function.
    None,
}

#[derive(Debug)]
pub(crate) struct Method {
    pub(crate) ident: syn::Ident,
    pub(crate) receiver: Receiver,
    pub(crate) is_async: bool,
    pub(crate) params: Vec<Param>,
    pub(crate) ret: Type,
    pub(crate) ret_span: Span,
    pub(crate) cfg: Vec<TokenStream>,
    pub(crate) docs: Vec<TokenStream>,
}

#[derive(Debug)]
pub(crate) struct Tool {
    pub(crate) method: Method,
    pub(crate) name: String,
    pub(crate) name_span: Span,
    pub(crate) title: Option<String>,
    pub(crate) description: Option<String>,
    pub(crate) read_only: Option<bool>,
    pub(crate) destructive: Option<bool>,
    pub(crate) idempotent: Option<bool>,
    pub(crate) open_world: Option<bool>,
    /// OAuth scopes a caller needs.
    pub(crate) scopes: Vec<String>,
    pub(crate) icons: Vec<String>,
    pub(crate) meta: Option<syn::Expr>,
    pub(crate) blocking: bool,
}

#[derive(Debug)]
pub(crate) struct Resource {
    pub(crate) method: Method,
    /// The URI, or the URI template.
    pub(crate) uri: String,
    pub(crate) uri_span: Span,
    pub(crate) template: bool,
    /// Variables of the template.
    pub(crate) vars: Vec<String>,
    pub(crate) name: String,
    pub(crate) title: Option<String>,
    pub(crate) description: Option<String>,
    pub(crate) mime_type: Option<String>,
    pub(crate) icons: Vec<String>,
    pub(crate) meta: Option<syn::Expr>,
}

#[derive(Debug)]
pub(crate) struct Prompt {
    pub(crate) method: Method,
    pub(crate) name: String,
    pub(crate) name_span: Span,
    pub(crate) title: Option<String>,
    pub(crate) description: Option<String>,
    pub(crate) icons: Vec<String>,
    pub(crate) meta: Option<syn::Expr>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum CompleteTarget {
    Prompt(String),
    Template(String),
}

#[derive(Debug)]
pub(crate) struct Complete {
    pub(crate) method: Method,
    pub(crate) target: CompleteTarget,
    pub(crate) target_span: Span,
    pub(crate) argument: String,
    pub(crate) argument_span: Span,
    /// Index of the parameter that receives the typed value.
    pub(crate) value_param: Option<usize>,
}

/// Everything an impl block declares.
#[derive(Debug, Default)]
pub(crate) struct Model {
    pub(crate) tools: Vec<Tool>,
    pub(crate) resources: Vec<Resource>,
    pub(crate) prompts: Vec<Prompt>,
    pub(crate) completions: Vec<Complete>,
}

/// Which MCP attribute a method carries.
pub(crate) enum Kind {
    Tool(ToolArgs),
    Resource(ResourceArgs),
    Prompt(PromptArgs),
    Complete(CompleteArgs),
}

pub(crate) const MCP_ATTRS: [&str; 4] = ["mcp_tool", "mcp_resource", "mcp_prompt", "mcp_complete"];

/// Parse the MCP attribute of a method, removing it (and `#[mcp(..)]` on parameters)
/// from the method. `Ok(None)` for plain methods.
pub(crate) fn take_kind(f: &mut ImplItemFn, errors: &mut darling::error::Accumulator) -> Option<(Kind, Span)> {
    let mut found: Option<(Kind, Span)> = None;
    let mut keep = Vec::new();
    for attr in std::mem::take(&mut f.attrs) {
        let Some(which) = MCP_ATTRS.iter().find(|n| util::attr_is(&attr, n)) else {
            keep.push(attr);
            continue;
        };
        // The attribute stays, marked as handled, so that its import counts as used; the
        // attribute macro then returns the method unchanged.
        let path = attr.path().clone();
        keep.push(syn::parse_quote!(#[#path(__mcp_expanded)]));
        let span = attr.span();
        if found.is_some() {
            errors.push(
                darling::Error::custom(format!(
                    "a method can carry only one of `#[mcp_tool]`, `#[mcp_resource]`, `#[mcp_prompt]` and `#[mcp_complete]`; this is a second one (`#[{which}]`)"
                ))
                .with_span(&span),
            );
            continue;
        }
        let nested = match &attr.meta {
            syn::Meta::Path(_) => Ok(Vec::new()),
            syn::Meta::List(l) => {
                darling::ast::NestedMeta::parse_meta_list(l.tokens.clone()).map_err(darling::Error::from)
            }
            syn::Meta::NameValue(nv) => {
                Err(darling::Error::custom(format!("expected `#[{which}]` or `#[{which}(...)]`")).with_span(nv))
            }
        };
        let parsed = nested.and_then(|n| {
            Ok(match *which {
                "mcp_tool" => Kind::Tool(darling::FromMeta::from_list(&n)?),
                "mcp_resource" => Kind::Resource(darling::FromMeta::from_list(&n)?),
                "mcp_prompt" => Kind::Prompt(darling::FromMeta::from_list(&n)?),
                _ => Kind::Complete(darling::FromMeta::from_list(&n)?),
            })
        });
        match parsed {
            Ok(k) => found = Some((k, span)),
            Err(e) => {
                errors.push(e.with_span(&span));
                // Strip parameter attributes without reporting them: the attribute
                // itself is the mistake.
                strip_param_attrs(f, errors, true);
                for input in f.sig.inputs.iter_mut() {
                    if let FnArg::Typed(pt) = input {
                        pt.attrs.retain(|a| !a.path().is_ident("mcp"));
                    }
                }
                f.attrs = keep;
                return None;
            }
        }
    }
    f.attrs = keep;
    strip_param_attrs(f, errors, found.is_some());
    found
}

/// Remove `#[mcp(..)]` from parameters; on a method that is not an MCP method they are
/// an error.
fn strip_param_attrs(f: &mut ImplItemFn, errors: &mut darling::error::Accumulator, allowed: bool) {
    for input in f.sig.inputs.iter_mut() {
        if let FnArg::Typed(pt) = input {
            let (ours, theirs): (Vec<_>, Vec<_>) =
                std::mem::take(&mut pt.attrs).into_iter().partition(|a| a.path().is_ident("mcp"));
            pt.attrs = theirs;
            if !allowed {
                for a in ours {
                    errors.push(
                        darling::Error::custom(
                            "`#[mcp(...)]` applies to parameters of methods marked `#[mcp_tool]`, `#[mcp_resource]`, `#[mcp_prompt]` or `#[mcp_complete]`",
                        )
                        .with_span(&a),
                    );
                }
            } else {
                pt.attrs.extend(ours);
            }
        }
    }
}

/// Replace named and elided lifetimes with `'_` so a type can be named in expressions.
struct Anonymize;

impl VisitMut for Anonymize {
    fn visit_lifetime_mut(&mut self, l: &mut syn::Lifetime) {
        if l.ident != "static" {
            *l = syn::Lifetime::new("'_", l.span());
        }
    }
}

/// Whether a type is `Option<..>` (by its last path segment).
pub(crate) fn is_option(ty: &Type) -> bool {
    last_segment(ty).is_some_and(|s| s.ident == "Option" && matches!(s.arguments, PathArguments::AngleBracketed(_)))
}

fn last_segment(ty: &Type) -> Option<&syn::PathSegment> {
    match ty {
        Type::Path(p) if p.qself.is_none() => p.path.segments.last(),
        Type::Group(g) => last_segment(&g.elem),
        Type::Paren(p) => last_segment(&p.elem),
        _ => None,
    }
}

/// Types that never serialize as a JSON object with named fields.
pub(crate) fn never_an_object(ty: &Type) -> bool {
    match ty {
        Type::Array(_) | Type::Slice(_) | Type::Tuple(_) | Type::Reference(_) | Type::Ptr(_) => true,
        _ => last_segment(ty).is_some_and(|s| {
            let name = s.ident.to_string();
            matches!(
                name.as_str(),
                "bool"
                    | "char"
                    | "str"
                    | "String"
                    | "i8"
                    | "i16"
                    | "i32"
                    | "i64"
                    | "i128"
                    | "isize"
                    | "u8"
                    | "u16"
                    | "u32"
                    | "u64"
                    | "u128"
                    | "usize"
                    | "f32"
                    | "f64"
                    | "Vec"
                    | "VecDeque"
                    | "HashSet"
                    | "BTreeSet"
                    | "Option"
                    | "Box"
                    | "Value"
                    | "HashMap"
                    | "BTreeMap"
            )
        }),
    }
}

/// Whether a type is `&str` or `String`.
pub(crate) fn is_text(ty: &Type) -> bool {
    match ty {
        Type::Reference(r) => matches!(&*r.elem, Type::Path(p) if p.path.is_ident("str")),
        _ => last_segment(ty).is_some_and(|s| s.ident == "String"),
    }
}

/// Parse the signature of an MCP method.
pub(crate) fn method(f: &ImplItemFn, what: &str, errors: &mut darling::error::Accumulator) -> Method {
    let sig = &f.sig;
    if !sig.generics.params.is_empty() {
        errors.push(
            darling::Error::custom(format!(
                "{what} methods cannot have generic parameters\n\nhelp: use concrete types; generic impl blocks are supported"
            ))
            .with_span(&sig.generics),
        );
    }
    if let Some(v) = &sig.variadic {
        errors.push(darling::Error::custom("variadic parameters are not supported").with_span(v));
    }
    let mut receiver = Receiver::None;
    let mut params = Vec::new();
    for input in &sig.inputs {
        match input {
            FnArg::Receiver(r) => {
                if r.reference.is_none() {
                    errors.push(
                        darling::Error::custom(format!(
                            "{what} methods cannot take `self` by value: the toolset is shared by concurrent calls\n\nhelp: take `&self`"
                        ))
                        .with_span(r),
                    );
                } else if r.mutability.is_some() {
                    errors.push(
                        darling::Error::custom(format!(
                            "{what} methods cannot take `&mut self`: the toolset is shared by concurrent calls\n\nhelp: take `&self` and use interior mutability (a `Mutex`, an atomic, a pool)"
                        ))
                        .with_span(r),
                    );
                } else if r.colon_token.is_some() {
                    errors.push(darling::Error::custom(format!("{what} methods take `&self`")).with_span(r));
                }
                receiver = Receiver::Ref;
            }
            FnArg::Typed(pt) => params.push(param(pt, errors)),
        }
    }
    let (ret, ret_span) = match &sig.output {
        ReturnType::Default => (syn::parse_quote!(()), sig.ident.span()),
        ReturnType::Type(_, ty) => {
            if let Type::ImplTrait(it) = &**ty {
                errors.push(
                    darling::Error::custom(format!("{what} methods cannot return `impl Trait`\n\nhelp: name the type"))
                        .with_span(it),
                );
            }
            let mut ty = (**ty).clone();
            Anonymize.visit_type_mut(&mut ty);
            (ty, sig.output.span())
        }
    };
    Method {
        ident: sig.ident.clone(),
        receiver,
        is_async: sig.asyncness.is_some(),
        params,
        ret,
        ret_span,
        cfg: util::cfg_predicates(&f.attrs),
        docs: util::doc_pieces(&f.attrs),
    }
}

fn param(pt: &syn::PatType, errors: &mut darling::error::Accumulator) -> Param {
    let args = match ParamArgs::from_attributes(&pt.attrs) {
        Ok(a) => a,
        Err(e) => {
            errors.push(e);
            ParamArgs::default()
        }
    };
    let mut ty = (*pt.ty).clone();
    Anonymize.visit_type_mut(&mut ty);
    let ident = match &*pt.pat {
        Pat::Ident(pi) if pi.subpat.is_none() => Some(pi.ident.to_string()),
        _ => None,
    };
    let ident = ident.map(|i| i.strip_prefix("r#").map(str::to_owned).unwrap_or(i));
    let name = args.rename.as_ref().map(|r| (**r).clone()).or_else(|| ident.clone()).unwrap_or_default();

    let mut role = Role::Probe;
    let forced: Vec<(&str, Span)> = [
        ("context", args.context.span(), args.context.is_present()),
        ("arg", args.arg.span(), args.arg.is_present()),
        ("flatten", args.flatten.span(), args.flatten.is_present()),
    ]
    .into_iter()
    .filter(|(_, _, on)| *on)
    .map(|(n, s, _)| (n, s))
    .collect();
    if forced.len() > 1 {
        errors.push(
            darling::Error::custom(format!(
                "`{}` and `{}` cannot be combined: a parameter is a context value, an argument or the argument struct",
                forced[0].0, forced[1].0
            ))
            .with_span(&forced[1].1),
        );
    }
    match forced.first().map(|f| f.0) {
        Some("context") => role = Role::Context,
        Some("arg") => role = Role::Argument,
        Some("flatten") => role = Role::Flatten,
        _ => {}
    }
    if args.default.is_some() && role == Role::Probe {
        role = Role::Argument;
    }
    if role == Role::Flatten && never_an_object(&ty) {
        errors.push(
            darling::Error::custom(
                "an argument struct must be a struct with named fields, serialized as a JSON object\n\nhelp: use a plain parameter for this type, or wrap it in a struct",
            )
            .with_span(&pt.ty),
        );
    }
    if role == Role::Context || role == Role::Flatten {
        let mut attrs_on_context = Vec::new();
        if args.rename.is_some() {
            attrs_on_context.push("rename");
        }
        if args.range.is_some() || args.length.is_some() || args.pattern.is_some() {
            attrs_on_context.push("range/length/pattern");
        }
        if args.header.is_some() {
            attrs_on_context.push("header");
        }
        if let Some(what) = attrs_on_context.first() {
            let kind = if role == Role::Context { "a context value" } else { "the argument struct" };
            errors.push(darling::Error::custom(format!("`{what}` does not apply to {kind}")).with_span(pt));
        }
    }
    if name.is_empty() && matches!(role, Role::Argument) {
        errors.push(
            darling::Error::custom(
                "an argument needs a name\n\nhelp: bind it to a plain name, or add `#[mcp(rename = \"...\")]`",
            )
            .with_span(&pt.pat),
        );
    }
    if name.is_empty() && role == Role::Probe {
        // A destructuring pattern (`Extension(state)`) can only be a context value.
        role = Role::Context;
    }
    if let Some(r) = &args.rename
        && let Err(e) = util::check_name(r, r.span(), "argument")
    {
        errors.push(e);
    }
    if let Some(h) = &args.header {
        let bad = h.chars().find(|c| !(c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(*c)));
        if h.is_empty() || bad.is_some() {
            let why = match bad {
                Some(c) => format!("contains {c:?}"),
                None => "is empty".to_owned(),
            };
            errors.push(
                darling::Error::custom(format!(
                    "the header name {why}; it becomes `Mcp-Param-<name>` and must be an HTTP token (letters, digits, `-` and ``!#$%&'*+.^_`|~``)\n\nhelp: #[mcp(header = \"Region\")]"
                ))
                .with_span(&h.span()),
            );
        }
    }
    let description = args.description.or(args.desc);
    Param {
        optional: is_option(&ty) || args.default.is_some(),
        ty,
        span: pt.span(),
        name,
        description,
        default: args.default,
        range: args.range.map(|r| (r.min.map(|n| n.0), r.max.map(|n| n.0), r.span())),
        length: args.length.map(|l| (l.min, l.max, l.span())),
        pattern: args.pattern.map(|p| ((*p).clone(), p.span())),
        header: args.header.map(|h| ((*h).clone(), h.span())),
        role,
    }
}

/// Variables of a URI template, or an error message.
pub(crate) fn template_vars(template: &str) -> Result<Vec<String>, String> {
    let mut vars = Vec::new();
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        if rest[..start].contains('}') {
            return Err(format!("unmatched `}}` in URI template `{template}`"));
        }
        let after = &rest[start + 1..];
        let end = after.find('}').ok_or_else(|| format!("unclosed `{{` in URI template `{template}`"))?;
        let body = &after[..end];
        let body = body.strip_prefix(['+', '#', '.', '/', ';', '?', '&']).unwrap_or(body);
        for spec in body.split(',') {
            let name = spec.trim_end_matches('*').split(':').next().unwrap_or_default();
            if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err(format!("invalid variable `{spec}` in URI template `{template}`"));
            }
            vars.push(name.to_owned());
        }
        rest = &after[end + 1..];
    }
    if rest.contains('}') {
        return Err(format!("unmatched `}}` in URI template `{template}`"));
    }
    Ok(vars)
}

/// `scopes = "a b"`: OAuth scope tokens (RFC 6749 §3.3), space-separated.
pub(crate) fn scopes(
    value: &darling::util::SpannedValue<String>,
    errors: &mut darling::error::Accumulator,
) -> Vec<String> {
    let list: Vec<String> = value.split_whitespace().map(str::to_owned).collect();
    if list.is_empty() {
        errors.push(
            darling::Error::custom("`scopes` needs at least one scope\n\nhelp: #[mcp_tool(scopes = \"posts:write\")]")
                .with_span(&value.span()),
        );
    }
    for s in &list {
        if let Some(c) = s.chars().find(|&c| !matches!(c, '\x21' | '\x23'..='\x5B' | '\x5D'..='\x7E')) {
            errors.push(
                darling::Error::custom(format!(
                    "the scope `{s}` contains {c:?}, which OAuth scopes cannot contain (RFC 6749 §3.3)"
                ))
                .with_span(&value.span()),
            );
        }
    }
    list
}

/// Build the model of one MCP method.
pub(crate) fn item(
    model: &mut Model,
    kind: Kind,
    attr_span: Span,
    f: &ImplItemFn,
    errors: &mut darling::error::Accumulator,
) {
    match kind {
        Kind::Tool(args) => {
            let method = method(f, "tool", errors);
            let (name, name_span) = match &args.name {
                Some(n) => ((**n).clone(), n.span()),
                None => (method.ident.to_string().trim_start_matches("r#").to_owned(), method.ident.span()),
            };
            if args.blocking.is_present() && method.is_async {
                errors.push(
                    darling::Error::custom(
                        "`blocking` applies to synchronous methods; an `async fn` already runs without blocking",
                    )
                    .with_span(&args.blocking.span()),
                );
            }
            let scopes = args.scopes.as_ref().map(|s| scopes(s, errors)).unwrap_or_default();
            model.tools.push(Tool {
                method,
                name,
                name_span,
                title: args.title,
                description: args.description,
                read_only: args.read_only,
                destructive: args.destructive,
                idempotent: args.idempotent,
                open_world: args.open_world,
                scopes,
                icons: args.icon,
                meta: args.meta,
                blocking: args.blocking.is_present(),
            });
        }
        Kind::Resource(args) => {
            let method = method(f, "resource", errors);
            let (uri, span, template) = match (&args.uri, &args.uri_template) {
                (Some(u), None) => ((**u).clone(), u.span(), false),
                (None, Some(t)) => ((**t).clone(), t.span(), true),
                (Some(_), Some(t)) => {
                    errors.push(
                        darling::Error::custom("give either `uri` or `uri_template`, not both").with_span(&t.span()),
                    );
                    return;
                }
                (None, None) => {
                    errors.push(
                        darling::Error::custom(
                            "a resource needs `uri = \"...\"` or `uri_template = \"...\"`\n\nhelp: #[mcp_resource(uri_template = \"app://items/{id}\")]",
                        )
                        .with_span(&attr_span),
                    );
                    return;
                }
            };
            let vars = if template {
                match template_vars(&uri) {
                    Ok(v) => v,
                    Err(e) => {
                        errors.push(darling::Error::custom(e).with_span(&span));
                        Vec::new()
                    }
                }
            } else {
                Vec::new()
            };
            let name = args.name.map(|n| (*n).clone()).unwrap_or_else(|| method.ident.to_string());
            model.resources.push(Resource {
                method,
                uri,
                uri_span: span,
                template,
                vars,
                name,
                title: args.title,
                description: args.description,
                mime_type: args.mime_type,
                icons: args.icon,
                meta: args.meta,
            });
        }
        Kind::Prompt(args) => {
            let method = method(f, "prompt", errors);
            let (name, name_span) = match &args.name {
                Some(n) => ((**n).clone(), n.span()),
                None => (method.ident.to_string(), method.ident.span()),
            };
            model.prompts.push(Prompt {
                method,
                name,
                name_span,
                title: args.title,
                description: args.description,
                icons: args.icon,
                meta: args.meta,
            });
        }
        Kind::Complete(args) => {
            let method = method(f, "completion", errors);
            let (target, target_span) = match (&args.prompt, &args.resource) {
                (Some(p), None) => (CompleteTarget::Prompt((**p).clone()), p.span()),
                (None, Some(r)) => (CompleteTarget::Template((**r).clone()), r.span()),
                _ => {
                    errors.push(
                        darling::Error::custom(
                            "a completion names exactly one of `prompt = \"...\"` and `resource = \"<uri template>\"`",
                        )
                        .with_span(&attr_span),
                    );
                    return;
                }
            };
            let value_param = method.params.iter().position(|p| p.role != Role::Context && is_text(&p.ty));
            if value_param.is_none() {
                errors.push(
                    darling::Error::custom(
                        "a completion method takes the text typed so far as a `&str` or `String` parameter",
                    )
                    .with_span(&f.sig),
                );
            }
            model.completions.push(Complete {
                method,
                target,
                target_span,
                argument: (*args.argument).clone(),
                argument_span: args.argument.span(),
                value_param,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model_of(code: &str) -> (Model, Vec<String>) {
        let mut imp: syn::ItemImpl = syn::parse_str(code).unwrap();
        let mut errors = darling::Error::accumulator();
        let mut model = Model::default();
        for it in imp.items.iter_mut() {
            if let syn::ImplItem::Fn(f) = it
                && let Some((k, s)) = take_kind(f, &mut errors)
            {
                item(&mut model, k, s, f, &mut errors);
            }
        }
        let errs = match errors.finish() {
            Ok(()) => Vec::new(),
            Err(e) => e.into_iter().map(|e| e.to_string()).collect(),
        };
        (model, errs)
    }

    #[test]
    fn tools_with_defaults() {
        let (m, errs) = model_of(
            r#"impl X {
                /// Adds.
                /// Two numbers.
                #[mcp_tool(read_only, title = "Add")]
                async fn add(&self, ctx: &Context, #[mcp(desc = "left", range(min = -5, max = 10))] a: i64, b: Option<i64>) -> i64 { 0 }
                #[mcp_tool(name = "renamed", destructive = false, blocking)]
                fn sync_one(&self, #[mcp(flatten)] args: Args) {}
                fn plain(&self) {}
            }"#,
        );
        assert!(errs.is_empty(), "{errs:?}");
        assert_eq!(m.tools.len(), 2);
        let add = &m.tools[0];
        assert_eq!(add.name, "add");
        assert_eq!(add.title.as_deref(), Some("Add"));
        assert_eq!(add.read_only, Some(true));
        assert!(add.method.is_async);
        assert_eq!(add.method.receiver, Receiver::Ref);
        assert_eq!(add.method.docs.len(), 2);
        let names: Vec<&str> = add.method.params.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["ctx", "a", "b"]);
        assert_eq!(add.method.params[1].role, Role::Probe);
        assert_eq!(add.method.params[1].range.map(|r| (r.0, r.1)), Some((Some(-5.0), Some(10.0))));
        assert_eq!(add.method.params[1].description.as_deref(), Some("left"));
        assert!(!add.method.params[1].optional);
        assert!(add.method.params[2].optional);
        let other = &m.tools[1];
        assert_eq!(other.name, "renamed");
        assert_eq!(other.destructive, Some(false));
        assert!(other.blocking);
        assert_eq!(other.method.params[0].role, Role::Flatten);
    }

    #[test]
    fn resources_prompts_completions() {
        let (m, errs) = model_of(
            r#"impl X {
                #[mcp_resource(uri_template = "blog://posts/{id}{?fields}", mime_type = "application/json")]
                fn post(&self, id: i64, fields: Option<String>) -> String { todo!() }
                #[mcp_resource(uri = "blog://about")]
                fn about(&self) -> String { todo!() }
                #[mcp_prompt(title = "Summarize")]
                fn summarize(&self, id: String) -> String { todo!() }
                #[mcp_complete(prompt = "summarize", argument = "id")]
                fn ids(&self, prefix: &str) -> Vec<String> { todo!() }
            }"#,
        );
        assert!(errs.is_empty(), "{errs:?}");
        assert_eq!(m.resources[0].vars, ["id", "fields"]);
        assert!(m.resources[0].template);
        assert!(!m.resources[1].template);
        assert_eq!(m.prompts[0].name, "summarize");
        assert_eq!(m.completions[0].target, CompleteTarget::Prompt("summarize".into()));
        assert_eq!(m.completions[0].value_param, Some(0));
    }

    #[test]
    fn errors_are_accumulated() {
        let (_, errs) = model_of(
            r#"impl X {
                #[mcp_tool(titel = "x")]
                fn a(&self) {}
                #[mcp_tool]
                fn b(self) {}
                #[mcp_tool]
                fn c<T>(&mut self, #[mcp(flatten)] v: Vec<T>) {}
                fn d(&self, #[mcp(desc = "x")] v: u8) {}
                #[mcp_tool(blocking)]
                async fn e(&self) {}
            }"#,
        );
        let all = errs.join("\n");
        assert!(all.contains("Unknown field: `titel`"), "{all}");
        assert!(all.contains("by value"), "{all}");
        assert!(all.contains("generic parameters"), "{all}");
        assert!(all.contains("`&mut self`"), "{all}");
        assert!(all.contains("argument struct must be a struct"), "{all}");
        assert!(all.contains("applies to parameters of methods marked"), "{all}");
        assert!(all.contains("`blocking` applies to synchronous methods"), "{all}");
    }

    #[test]
    fn template_variables() {
        assert_eq!(template_vars("a://{x}/{+y}{?p,q}").unwrap(), ["x", "y", "p", "q"]);
        assert!(template_vars("a://{x").is_err());
        assert!(template_vars("a://x}").is_err());
        assert!(template_vars("a://{a b}").is_err());
    }
}
