//! What the attributes say, as written (darling structs). Defaults are applied in
//! `model.rs`, cross-item rules are checked in `check.rs`.

use darling::util::{Flag, Override, SpannedValue};
use darling::{FromAttributes, FromMeta};
use syn::{Expr, ExprLit, ExprUnary, Lit, UnOp};

/// `#[mcp_toolset(...)]`.
#[derive(Debug, Default, FromMeta)]
#[darling(default)]
pub(crate) struct ToolsetArgs {
    /// Path of the runtime crate, for renamed dependencies.
    #[darling(rename = "crate")]
    pub(crate) krate: Option<syn::Path>,
}

/// `#[mcp_tool(...)]`.
#[derive(Debug, Default, FromMeta)]
#[darling(default)]
pub(crate) struct ToolArgs {
    pub(crate) name: Option<SpannedValue<String>>,
    pub(crate) title: Option<String>,
    pub(crate) description: Option<String>,
    pub(crate) read_only: Option<bool>,
    pub(crate) destructive: Option<bool>,
    pub(crate) idempotent: Option<bool>,
    pub(crate) open_world: Option<bool>,
    #[darling(multiple)]
    pub(crate) icon: Vec<String>,
    pub(crate) meta: Option<Expr>,
    pub(crate) blocking: Flag,
    /// OAuth scopes, space-separated.
    pub(crate) scopes: Option<SpannedValue<String>>,
}

/// `#[mcp_resource(...)]`.
#[derive(Debug, Default, FromMeta)]
#[darling(default)]
pub(crate) struct ResourceArgs {
    pub(crate) uri: Option<SpannedValue<String>>,
    pub(crate) uri_template: Option<SpannedValue<String>>,
    pub(crate) name: Option<SpannedValue<String>>,
    pub(crate) title: Option<String>,
    pub(crate) description: Option<String>,
    pub(crate) mime_type: Option<String>,
    #[darling(multiple)]
    pub(crate) icon: Vec<String>,
    pub(crate) meta: Option<Expr>,
}

/// `#[mcp_prompt(...)]`.
#[derive(Debug, Default, FromMeta)]
#[darling(default)]
pub(crate) struct PromptArgs {
    pub(crate) name: Option<SpannedValue<String>>,
    pub(crate) title: Option<String>,
    pub(crate) description: Option<String>,
    #[darling(multiple)]
    pub(crate) icon: Vec<String>,
    pub(crate) meta: Option<Expr>,
}

/// `#[mcp_complete(...)]`.
#[derive(Debug, FromMeta)]
pub(crate) struct CompleteArgs {
    #[darling(default)]
    pub(crate) prompt: Option<SpannedValue<String>>,
    #[darling(default)]
    pub(crate) resource: Option<SpannedValue<String>>,
    pub(crate) argument: SpannedValue<String>,
}

/// `#[mcp(...)]` on a parameter.
#[derive(Debug, Default, FromAttributes)]
#[darling(attributes(mcp))]
pub(crate) struct ParamArgs {
    pub(crate) rename: Option<SpannedValue<String>>,
    pub(crate) desc: Option<String>,
    pub(crate) description: Option<String>,
    pub(crate) default: Option<Override<syn::Path>>,
    pub(crate) range: Option<SpannedValue<Range>>,
    pub(crate) length: Option<SpannedValue<Length>>,
    pub(crate) pattern: Option<SpannedValue<String>>,
    /// `x-mcp-header`: mirror the argument into `Mcp-Param-{name}` over HTTP.
    pub(crate) header: Option<SpannedValue<String>>,
    pub(crate) flatten: Flag,
    pub(crate) context: Flag,
    pub(crate) arg: Flag,
}

/// `range(min = .., max = ..)`.
#[derive(Debug, Default, FromMeta)]
#[darling(default)]
pub(crate) struct Range {
    pub(crate) min: Option<Number>,
    pub(crate) max: Option<Number>,
}

/// `length(min = .., max = ..)`.
#[derive(Debug, Default, FromMeta)]
#[darling(default)]
pub(crate) struct Length {
    pub(crate) min: Option<u64>,
    pub(crate) max: Option<u64>,
}

/// A numeric literal, possibly negative.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Number(pub(crate) f64);

impl FromMeta for Number {
    fn from_expr(expr: &Expr) -> darling::Result<Self> {
        let (negative, lit) = match expr {
            Expr::Lit(ExprLit { lit, .. }) => (false, lit),
            Expr::Unary(ExprUnary { op: UnOp::Neg(_), expr, .. }) => match &**expr {
                Expr::Lit(ExprLit { lit, .. }) => (true, lit),
                _ => return Err(darling::Error::unexpected_expr_type(expr)),
            },
            Expr::Group(g) => return Self::from_expr(&g.expr),
            _ => return Err(darling::Error::unexpected_expr_type(expr)),
        };
        let v = match lit {
            Lit::Int(i) => i.base10_parse::<f64>()?,
            Lit::Float(f) => f.base10_parse::<f64>()?,
            _ => return Err(darling::Error::unexpected_lit_type(lit)),
        };
        Ok(Number(if negative { -v } else { v }))
    }
}
