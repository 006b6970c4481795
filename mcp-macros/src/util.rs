//! Helpers shared by the expanders.

use proc_macro2::{Span, TokenStream};
use quote::{ToTokens, quote, quote_spanned};
use syn::{Attribute, Expr, ExprLit, Lit, Meta, Path};

/// The marker `#[mcp_toolset]` leaves in the attributes it handled.
pub(crate) const HANDLED: &str = "__mcp_expanded";

/// `#[mcp_tool]` (and friends): left by `#[mcp_toolset]` as `#[mcp_tool(__mcp_expanded)]`,
/// they return the method unchanged; used on their own they are an error on the item,
/// which is kept so that no follow-up errors appear.
pub(crate) fn inner_attribute(name: &str, attr: TokenStream, item: TokenStream) -> TokenStream {
    let handled = matches!(
        &attr.clone().into_iter().collect::<Vec<_>>()[..],
        [proc_macro2::TokenTree::Ident(i)] if i == HANDLED
    );
    if handled { item } else { outside_toolset(name, item) }
}

fn outside_toolset(name: &str, item: TokenStream) -> TokenStream {
    let msg = format!(
        "`#[{name}]` must be inside an `#[mcp_toolset]` impl\n\nhelp: put `#[mcp_toolset]` on the impl block that contains this method"
    );
    // An attribute macro's call site is the attribute itself.
    let err = quote_spanned!(Span::call_site()=> ::core::compile_error!(#msg););
    quote!(#err #item)
}

/// Whether an attribute's path ends in `name` (`#[mcp_tool]`, `#[mcp_core::mcp_tool]`).
pub(crate) fn attr_is(attr: &Attribute, name: &str) -> bool {
    attr.path().segments.last().is_some_and(|s| s.ident == name)
}

/// The crates the generated code refers to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Runtime {
    /// `mcp-core`: toolsets.
    Core,
    /// `mcp-diesel`: models and their hooks.
    Diesel,
    /// `mcp-axum`: route tools.
    Axum,
}

/// A runtime crate's path: `crate = "..."`, else the name the package has in the user's
/// Cargo.toml (renamed dependencies), else its own name. Inside the crate itself (its tests
/// and doctests) the own name works through `extern crate self as ...`.
pub(crate) fn runtime_crate(runtime: Runtime, explicit: Option<&Path>) -> TokenStream {
    if let Some(p) = explicit {
        return p.to_token_stream();
    }
    let (package, own) = match runtime {
        Runtime::Core => ("mcp-core", "mcp_core"),
        Runtime::Diesel => ("mcp-diesel", "mcp_diesel"),
        Runtime::Axum => ("mcp-axum", "mcp_axum"),
    };
    let name = match proc_macro_crate::crate_name(package) {
        Ok(proc_macro_crate::FoundCrate::Name(name)) => name,
        Ok(proc_macro_crate::FoundCrate::Itself) | Err(_) => own.to_owned(),
    };
    let ident = syn::Ident::new(&name, Span::call_site());
    quote!(::#ident)
}

/// The pieces of a doc comment: literal lines (one leading space removed) and other
/// expressions such as `include_str!(..)`, to be joined with newlines by `concat!`.
pub(crate) fn doc_pieces(attrs: &[Attribute]) -> Vec<TokenStream> {
    let mut pieces = Vec::new();
    for attr in attrs.iter().filter(|a| a.path().is_ident("doc")) {
        let Meta::NameValue(nv) = &attr.meta else { continue };
        match &nv.value {
            Expr::Lit(ExprLit { lit: Lit::Str(s), .. }) => {
                let text = s.value();
                let line = text.strip_prefix(' ').unwrap_or(&text).to_owned();
                pieces.push(quote!(#line));
            }
            other => pieces.push(other.to_token_stream()),
        }
    }
    pieces
}

/// `::core::concat!(piece, "\n", piece, ...)` or `""`.
pub(crate) fn concat_doc(pieces: &[TokenStream]) -> TokenStream {
    if pieces.is_empty() {
        return quote!("");
    }
    let mut out = Vec::new();
    for (i, p) in pieces.iter().enumerate() {
        if i > 0 {
            out.push(quote!("\n"));
        }
        out.push(p.clone());
    }
    quote!(::core::concat!(#(#out),*))
}

/// The `#[cfg(...)]` predicates on an item.
pub(crate) fn cfg_predicates(attrs: &[Attribute]) -> Vec<TokenStream> {
    attrs
        .iter()
        .filter(|a| a.path().is_ident("cfg"))
        .filter_map(|a| a.meta.require_list().ok().map(|l| l.tokens.clone()))
        .collect()
}

/// An expression that is `true` when every predicate holds.
pub(crate) fn cfg_enabled(preds: &[TokenStream]) -> TokenStream {
    if preds.is_empty() { quote!(true) } else { quote!(::core::cfg!(all(#(#preds),*))) }
}

/// The `#[cfg(...)]` attributes to repeat on generated items.
pub(crate) fn cfg_attrs(preds: &[TokenStream]) -> TokenStream {
    quote!(#(#[cfg(#preds)])*)
}

/// A tool, prompt or argument name a client can use: 1 to 128 of `[A-Za-z0-9_.-]`.
pub(crate) fn check_name(name: &str, span: Span, what: &str) -> Result<(), darling::Error> {
    if name.is_empty() || name.len() > 128 {
        return Err(darling::Error::custom(format!(
            "{what} name `{name}` must be 1 to 128 characters long, it has {}",
            name.len()
        ))
        .with_span(&span));
    }
    if let Some(c) = name.chars().find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))) {
        return Err(darling::Error::custom(format!(
            "{what} name `{name}` contains `{c}`\n\nhelp: names may use only A-Z, a-z, 0-9, `_`, `.` and `-`"
        ))
        .with_span(&span));
    }
    Ok(())
}
