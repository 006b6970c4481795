//! `#[mcp_tool]` on a free `async fn`: an axum handler served as a route tool by
//! `mcp_axum::RouteTools`.
//!
//! The handler stays as written. Next to it goes a braced struct of the same name (it
//! lives in the type namespace only, so it never clashes with the function) implementing
//! `mcp_axum::RouteHandler`: the attributes, the doc comment, and one autoref-specialized
//! probe per parameter and for the returned `Json<T>`, spanned at the user's types so that
//! rustc's errors point there.

use darling::FromMeta;
use darling::util::SpannedValue;
use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{FnArg, GenericArgument, ItemFn, PathArguments, ReturnType, Type};

use crate::util;

/// `#[mcp_tool(...)]` on a handler.
#[derive(Debug, Default, FromMeta)]
#[darling(default)]
pub(crate) struct RouteArgs {
    pub(crate) name: Option<SpannedValue<String>>,
    pub(crate) title: Option<String>,
    pub(crate) description: Option<String>,
    pub(crate) read_only: Option<bool>,
    pub(crate) destructive: Option<bool>,
    pub(crate) idempotent: Option<bool>,
    pub(crate) open_world: Option<bool>,
    /// OAuth scopes a caller needs, space-separated.
    pub(crate) scopes: Option<SpannedValue<String>>,
    /// Anyone may call it, even when it writes.
    pub(crate) public: darling::util::Flag,
    #[darling(multiple)]
    pub(crate) icon: Vec<String>,
    pub(crate) meta: Option<syn::Expr>,
    /// Path of `mcp-axum`, for renamed dependencies.
    #[darling(rename = "crate")]
    pub(crate) krate: Option<syn::Path>,
}

/// What the macro knows about a handler.
#[derive(Debug)]
pub(crate) struct Route {
    pub(crate) args: RouteArgs,
    pub(crate) ident: syn::Ident,
    /// The extractor types, in order.
    pub(crate) params: Vec<Type>,
    /// The `T` of a returned `Json<T>`.
    pub(crate) output: Option<Type>,
    /// The scopes of `scopes = "..."`.
    pub(crate) scopes: Vec<String>,
}

/// Whether `#[mcp_tool]` sits on a free function (not left by `#[mcp_toolset]`, no
/// `self`): then it describes an axum handler.
pub(crate) fn is_route_handler(attr: &TokenStream, item: &TokenStream) -> bool {
    let handled = matches!(
        &attr.clone().into_iter().collect::<Vec<_>>()[..],
        [proc_macro2::TokenTree::Ident(i)] if i == util::HANDLED
    );
    !handled && syn::parse2::<ItemFn>(item.clone()).is_ok_and(|f| f.sig.receiver().is_none())
}

/// Expand `#[mcp_tool(attr)] async fn handler(..)`. The handler is always emitted, so a
/// mistake in the attribute gives its own error and no follow-up errors.
pub(crate) fn expand(attr: TokenStream, item: TokenStream) -> TokenStream {
    let f: ItemFn = match syn::parse2(item.clone()) {
        Ok(f) => f,
        Err(e) => return e.to_compile_error(),
    };
    match model(attr, &f).map(|route| generate(&route, &f)) {
        Ok(generated) => quote!(#f #generated),
        Err(e) => {
            let errors = e.write_errors();
            quote!(#errors #f)
        }
    }
}

/// Read and check the attribute and the signature; every problem at once.
pub(crate) fn model(attr: TokenStream, f: &ItemFn) -> darling::Result<Route> {
    let mut errors = darling::Error::accumulator();
    let args = errors
        .handle(
            darling::ast::NestedMeta::parse_meta_list(attr)
                .map_err(darling::Error::from)
                .and_then(|n| RouteArgs::from_list(&n)),
        )
        .unwrap_or_default();
    if let Some(name) = &args.name {
        errors.handle(util::check_name(name, name.span(), "tool"));
    }
    let scopes = args.scopes.as_ref().map(|s| crate::toolset::model::scopes(s, &mut errors)).unwrap_or_default();
    if args.public.is_present() && args.scopes.is_some() {
        errors.push(
            darling::Error::custom(
                "a route tool is either `public` or needs `scopes`, not both\n\n\
                 help: keep `scopes = \"...\"` to require them, or `public` to let anyone call it",
            )
            .with_span(&args.public.span()),
        );
    }
    let sig = &f.sig;
    if sig.asyncness.is_none() {
        errors.push(
            darling::Error::custom(
                "`#[mcp_tool]` on a free function makes an axum handler a route tool, so it must be an `async fn`\n\n\
                 help: for a tool method, put `#[mcp_toolset]` on the impl block that contains it",
            )
            .with_span(&sig.fn_token),
        );
    }
    if !sig.generics.params.is_empty() || sig.generics.where_clause.is_some() {
        errors.push(
            darling::Error::custom(
                "a route tool's handler cannot be generic\n\n\
                 help: give the extractors concrete types; the tool describes them at compile time",
            )
            .with_span(&sig.generics),
        );
    }
    let params = sig
        .inputs
        .iter()
        .filter_map(|a| match a {
            FnArg::Typed(pt) => Some((*pt.ty).clone()),
            FnArg::Receiver(_) => None,
        })
        .collect();
    let output = match &sig.output {
        ReturnType::Default => None,
        ReturnType::Type(_, ty) => json_output(ty).cloned(),
    };
    errors.finish_with(Route { args, ident: sig.ident.clone(), params, output, scopes })
}

/// The `T` of `Json<T>` in a return type: bare, in a `Result`'s success, or in a tuple
/// (`(StatusCode, Json<T>)`).
pub(crate) fn json_output(ty: &Type) -> Option<&Type> {
    match ty {
        Type::Paren(p) => json_output(&p.elem),
        Type::Group(g) => json_output(&g.elem),
        Type::Tuple(t) => t.elems.iter().find_map(json_output),
        Type::Path(p) if p.qself.is_none() => {
            let last = p.path.segments.last()?;
            let PathArguments::AngleBracketed(a) = &last.arguments else { return None };
            let first = a.args.iter().find_map(|g| match g {
                GenericArgument::Type(t) => Some(t),
                _ => None,
            })?;
            match last.ident.to_string().as_str() {
                "Json" => Some(first),
                "Result" => json_output(first),
                _ => None,
            }
        }
        _ => None,
    }
}

/// Where rustc reports an extractor that cannot be described: at the `T` of `Path<T>`,
/// `Query<T>` and `Json<T>` (the type that lacks `JsonSchema`), else at the type.
fn probe_span(ty: &Type) -> Span {
    if let Type::Path(p) = ty
        && let Some(last) = p.path.segments.last()
        && matches!(last.ident.to_string().as_str(), "Path" | "Query" | "Json")
        && let PathArguments::AngleBracketed(a) = &last.arguments
        && let Some(GenericArgument::Type(inner)) = a.args.first()
    {
        return inner.span();
    }
    ty.span()
}

fn generate(route: &Route, f: &ItemFn) -> TokenStream {
    let p = util::runtime_crate(util::Runtime::Axum, route.args.krate.as_ref());
    let p = quote!(#p::__private);
    let ident = &route.ident;
    let vis = &f.vis;
    let cfg = util::cfg_attrs(&util::cfg_predicates(&f.attrs));
    let a = &route.args;

    let mut setup = Vec::new();
    if let Some(name) = &a.name {
        let name = name.as_str();
        setup.push(quote!(__mcp_info.name(#name);));
    }
    if let Some(title) = &a.title {
        setup.push(quote!(__mcp_info.title(#title);));
    }
    let description = match &a.description {
        Some(d) => quote!(#d),
        None => util::concat_doc(&util::doc_pieces(&f.attrs)),
    };
    setup.push(quote!(__mcp_info.description(#description);));
    let hint = |v: Option<bool>| match v {
        Some(b) => quote!(::core::option::Option::Some(#b)),
        None => quote!(::core::option::Option::None),
    };
    let (ro, de, id, ow) = (hint(a.read_only), hint(a.destructive), hint(a.idempotent), hint(a.open_world));
    setup.push(quote!(__mcp_info.hints(#ro, #de, #id, #ow);));
    if !route.scopes.is_empty() {
        let scopes = &route.scopes;
        setup.push(quote!(__mcp_info.scopes(&[#(#scopes),*]);));
    }
    if a.public.is_present() {
        setup.push(quote!(__mcp_info.public();));
    }
    for icon in &a.icon {
        setup.push(quote!(__mcp_info.icon(#icon);));
    }
    if let Some(meta) = &a.meta {
        setup.push(quote!(__mcp_info.meta(::core::convert::Into::<#p::serde_json::Value>::into(#meta));));
    }
    for ty in &route.params {
        setup.push(quote_spanned! {probe_span(ty)=>
            (&&&#p::Probe::<#ty>::new()).__mcp_extractor().describe(&mut __mcp_info);
        });
    }
    if let Some(ty) = &route.output {
        setup.push(quote_spanned! {ty.span()=>
            (&&#p::Probe::<#ty>::new()).__mcp_output().describe(&mut __mcp_info);
        });
    }

    quote! {
        #[doc(hidden)]
        #[allow(non_camel_case_types, dead_code, missing_docs, unreachable_pub)]
        #cfg
        #vis struct #ident {}

        #cfg
        const _: () = {
            #[automatically_derived]
            impl #p::RouteHandler for #ident {
                fn route_info() -> #p::RouteInfo {
                    #[allow(unused_imports)]
                    use #p::{ViaBody as _, ViaDescribed as _, ViaNoOutput as _, ViaOutput as _, ViaParts as _};
                    let mut __mcp_info = #p::RouteInfo::new(::core::stringify!(#ident));
                    #(#setup)*
                    __mcp_info
                }
            }
        };
    }
}

#[cfg(test)]
mod tests {
    use quote::ToTokens;

    use super::*;

    fn route(attr: TokenStream, item: TokenStream) -> darling::Result<Route> {
        model(attr, &syn::parse2(item).unwrap())
    }

    #[test]
    fn reads_handler() {
        let r = route(
            quote!(name = "create_post", read_only = false),
            quote! {
                async fn create_post(State(db): State<Db>, user: AuthUser, Json(body): Json<NewPost>)
                    -> Result<(StatusCode, Json<Post>), ApiError> { todo!() }
            },
        )
        .unwrap();
        assert_eq!(r.ident, "create_post");
        assert_eq!(r.params.len(), 3);
        assert_eq!(r.args.read_only, Some(false));
        assert_eq!(r.output.unwrap().to_token_stream().to_string(), "Post");
    }

    #[test]
    fn finds_json_outputs() {
        let out = |t: TokenStream| json_output(&syn::parse2(t).unwrap()).map(|t| t.to_token_stream().to_string());
        assert_eq!(out(quote!(Json<Vec<Post>>)).as_deref(), Some("Vec < Post >"));
        assert_eq!(out(quote!(axum::Json<Post>)).as_deref(), Some("Post"));
        assert_eq!(out(quote!(Result<Json<Post>, E>)).as_deref(), Some("Post"));
        assert_eq!(out(quote!((StatusCode, Json<Post>))).as_deref(), Some("Post"));
        assert_eq!(out(quote!(Result<(StatusCode, HeaderMap, Json<Post>), E>)).as_deref(), Some("Post"));
        assert_eq!(out(quote!(Response)), None);
        assert_eq!(out(quote!(impl IntoResponse)), None);
        assert_eq!(out(quote!(Result<String, Json<Problem>>)), None);
    }

    #[test]
    fn all_problems_at_once() {
        let e = route(
            quote!(colour = 1),
            quote!(
                fn h<T>(x: T) {}
            ),
        )
        .unwrap_err();
        assert_eq!(e.len(), 3, "{e}");
        let e = route(
            quote!(name = "a b"),
            quote!(
                async fn h() {}
            ),
        )
        .unwrap_err();
        assert!(e.to_string().contains("contains ` `"), "{e}");
    }

    #[test]
    fn scopes_or_public() {
        let r = route(
            quote!(scopes = "posts:write posts:admin"),
            quote!(
                async fn h() {}
            ),
        )
        .unwrap();
        assert_eq!(r.scopes, ["posts:write", "posts:admin"]);
        let r = route(
            quote!(public),
            quote!(
                async fn h() {}
            ),
        )
        .unwrap();
        assert!(r.args.public.is_present() && r.scopes.is_empty());
        let e = route(
            quote!(public, scopes = "a"),
            quote!(
                async fn h() {}
            ),
        )
        .unwrap_err();
        assert!(e.to_string().contains("either `public` or needs `scopes`"), "{e}");
        let e = route(
            quote!(scopes = ""),
            quote!(
                async fn h() {}
            ),
        )
        .unwrap_err();
        assert!(e.to_string().contains("at least one scope"), "{e}");
    }

    #[test]
    fn free_functions_only() {
        assert!(is_route_handler(
            &quote!(),
            &quote!(
                async fn h() {}
            )
        ));
        assert!(!is_route_handler(
            &quote!(),
            &quote!(
                fn m(&self) {}
            )
        ));
        assert!(!is_route_handler(
            &quote!(__mcp_expanded),
            &quote!(
                async fn h() {}
            )
        ));
        assert!(!is_route_handler(
            &quote!(),
            &quote!(
                struct S;
            )
        ));
    }

    #[test]
    fn expansion_snapshot() {
        let out = expand(
            quote!(name = "create_post"),
            quote! {
                /// Create a draft.
                pub async fn create_post(user: AuthUser, Path(id): Path<i32>, Json(b): Json<NewPost>)
                    -> (StatusCode, Json<Post>) { todo!() }
            },
        );
        let file: syn::File = syn::parse2(out).unwrap();
        insta::assert_snapshot!(prettyplease::unparse(&file));
    }
}
