//! `#[mcp_toolset(model = Post)]` on an impl block: the model's hooks (`scope`,
//! `write_scope`, `before_write`) beside its extra tools.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::Path;
use syn::spanned::Spanned;

use crate::util::{Runtime, runtime_crate};

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
    let krate = runtime_crate(Runtime::Diesel, None);
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
