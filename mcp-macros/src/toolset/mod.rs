//! `#[mcp_toolset]` on an impl block: parse (`attr`), resolve (`model`), check (`check`)
//! and generate (`expand`).

mod attr;
mod check;
mod expand;
pub(crate) mod model;

use darling::FromMeta;
use proc_macro2::TokenStream;
use quote::quote;
use syn::{FnArg, ImplItem, ItemImpl};

use self::attr::ToolsetArgs;
use self::model::Model;
use crate::util;

/// Expand `#[mcp_toolset(attr)] item`.
///
/// The impl block is always emitted (without the MCP attributes) so that a mistake in
/// one tool produces its own error and no follow-up errors about the methods.
pub(crate) fn expand(attr: TokenStream, item: TokenStream) -> darling::Result<TokenStream> {
    if let Ok(s) = syn::parse2::<syn::ItemStruct>(item.clone()) {
        return crate::model::expand(attr, s);
    }
    // `model = Post`: the block also holds the model's hooks (see `crate::model`).
    let (attr, hooks_model) = crate::model::take_model_arg(attr)?;
    let nested = darling::ast::NestedMeta::parse_meta_list(attr)?;
    let args = ToolsetArgs::from_list(&nested)?;
    let mut imp: ItemImpl = match syn::parse2(item.clone()) {
        Ok(i) => i,
        Err(_) => {
            let span = item.clone().into_iter().next().map_or_else(proc_macro2::Span::call_site, |t| t.span());
            return Err(darling::Error::custom(
                "`#[mcp_toolset]` goes on an `impl` block whose methods are marked `#[mcp_tool]`, `#[mcp_resource]`, `#[mcp_prompt]` or `#[mcp_complete]`, or on a Diesel model struct",
            )
            .with_span(&span));
        }
    };
    if let Some((_, path, _)) = &imp.trait_ {
        return Err(darling::Error::custom(
            "`#[mcp_toolset]` goes on an inherent impl block (`impl MyTools { ... }`), not on a trait impl",
        )
        .with_span(path));
    }
    let krate = util::runtime_crate(util::Runtime::Core, args.krate.as_ref());
    let mut errors = darling::Error::accumulator();
    let mut model = Model::default();
    for it in imp.items.iter_mut() {
        if let ImplItem::Fn(f) = it
            && let Some((kind, span)) = model::take_kind(f, &mut errors)
        {
            model::item(&mut model, kind, span, f, &mut errors);
        }
    }
    check::check(&mut model, &imp.generics, &mut errors);
    // The user's methods stay as written, minus `#[mcp(...)]` on parameters.
    for it in imp.items.iter_mut() {
        if let ImplItem::Fn(f) = it {
            for input in f.sig.inputs.iter_mut() {
                if let FnArg::Typed(pt) = input {
                    pt.attrs.retain(|a| !a.path().is_ident("mcp"));
                }
            }
        }
    }
    let generated = match errors.finish() {
        Ok(()) => expand::expand(&model, &imp, &krate),
        Err(e) => e.write_errors(),
    };
    let hooks = hooks_model.map(|m| crate::model::hooks_impl(&m, &imp, &krate));
    Ok(quote!(#imp #generated #hooks))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One snapshot of a whole expansion, pretty-printed, so that changes to the
    /// generated code show up in review.
    #[test]
    fn expansion_snapshot() {
        let item = quote! {
            impl Reports {
                /// Count posts per author.
                #[mcp_tool(read_only, title = "Posts per author")]
                pub async fn posts_per_author(
                    &self,
                    ctx: &Context,
                    #[mcp(desc = "How many authors", range(min = 1, max = 100))] top: Option<u32>,
                ) -> Result<Vec<AuthorCount>, ToolError> {
                    todo!()
                }

                #[mcp_resource(uri_template = "blog://posts/{id}", mime_type = "application/json")]
                pub fn post(&self, id: i64) -> String {
                    todo!()
                }

                #[mcp_prompt]
                pub fn summarize(&self, #[mcp(desc = "Post id")] id: String) -> String {
                    todo!()
                }
            }
        };
        let out = expand(quote!(crate = "::mcp_core"), item).unwrap();
        let file: syn::File = syn::parse2(out).unwrap();
        insta::assert_snapshot!(prettyplease::unparse(&file));
    }

    #[test]
    fn not_an_impl_block() {
        let err = expand(
            quote!(),
            quote!(
                enum X {}
            ),
        )
        .unwrap_err();
        assert!(err.to_string().contains("goes on an `impl` block"));
        let err = expand(quote!(), quote!(impl Tr for X {})).unwrap_err();
        assert!(err.to_string().contains("not on a trait impl"));
        let err = expand(quote!(krate = "x"), quote!(impl X {})).unwrap_err();
        assert!(err.to_string().contains("Unknown field"), "{err}");
    }
}
