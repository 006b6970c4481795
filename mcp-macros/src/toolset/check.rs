//! Rules that span several items: unique names, completion targets that exist, template
//! variables that have parameters, generics the generated code can support.

use std::collections::HashMap;

use proc_macro2::Span;
use syn::visit::Visit;
use syn::{GenericParam, Generics, Type};

use super::model::{CompleteTarget, Model, Role};
use crate::util;

pub(crate) fn check(model: &mut Model, generics: &Generics, errors: &mut darling::error::Accumulator) {
    let type_params: Vec<String> = generics
        .params
        .iter()
        .filter_map(|p| match p {
            GenericParam::Type(t) => Some(t.ident.to_string()),
            _ => None,
        })
        .collect();
    for p in &generics.params {
        if let GenericParam::Lifetime(l) = p {
            errors.push(
                darling::Error::custom(format!(
                    "a toolset cannot borrow (`{}`): it is shared by every request and must be `'static`\n\nhelp: own the data, or hold it in an `Arc`",
                    l.lifetime
                ))
                .with_span(&l.lifetime),
            );
        }
    }

    // Tools: valid, unique names; parameters that do not use the impl's type parameters.
    let mut seen: HashMap<String, Span> = HashMap::new();
    for tool in &mut model.tools {
        if let Err(e) = util::check_name(&tool.name, tool.name_span, "tool") {
            errors.push(e);
        }
        if seen.insert(tool.name.clone(), tool.name_span).is_some() {
            errors.push(
                darling::Error::custom(format!(
                    "duplicate tool name `{}`\n\nhelp: rename one with `#[mcp_tool(name = \"...\")]`",
                    tool.name
                ))
                .with_span(&tool.name_span),
            );
        }
        let flattened = tool.method.params.iter().filter(|p| p.role == Role::Flatten).count();
        if flattened > 1 {
            let second = tool.method.params.iter().filter(|p| p.role == Role::Flatten).nth(1).map(|p| p.span);
            errors.push(
                darling::Error::custom("a tool has at most one `#[mcp(flatten)]` argument struct")
                    .with_span(&second.unwrap_or(tool.name_span)),
            );
        }
        if flattened == 1 {
            // With an argument struct, every other parameter comes from the context.
            for p in tool.method.params.iter_mut() {
                match p.role {
                    Role::Probe => p.role = Role::Context,
                    Role::Argument => errors.push(
                        darling::Error::custom(
                            "with a `#[mcp(flatten)]` argument struct, other arguments belong in that struct",
                        )
                        .with_span(&p.span),
                    ),
                    _ => {}
                }
            }
        }
        let mut headers: HashMap<String, Span> = HashMap::new();
        for p in &tool.method.params {
            if let Some((h, span)) = &p.header
                && headers.insert(h.to_ascii_lowercase(), *span).is_some()
            {
                errors.push(
                    darling::Error::custom(format!(
                        "duplicate header `Mcp-Param-{h}` (header names are compared case-insensitively)"
                    ))
                    .with_span(span),
                );
            }
        }
        let mut arg_names: HashMap<&str, Span> = HashMap::new();
        for p in &tool.method.params {
            let is_argument = p.role != Role::Context && p.role != Role::Flatten && !p.name.is_empty();
            if is_argument && arg_names.insert(&p.name, p.span).is_some() {
                errors.push(darling::Error::custom(format!("duplicate argument name `{}`", p.name)).with_span(&p.span));
            }
        }
        check_type_params(
            &tool.method.params.iter().map(|p| (&p.ty, p.span)).collect::<Vec<_>>(),
            &type_params,
            errors,
        );
        check_type_params(&[(&tool.method.ret, tool.method.ret_span)], &type_params, errors);
    }

    // Resources: unique URIs; template variables have parameters; other parameters come
    // from the context.
    let mut uris: HashMap<String, Span> = HashMap::new();
    for r in &mut model.resources {
        if uris.insert(r.uri.clone(), r.uri_span).is_some() {
            errors.push(darling::Error::custom(format!("duplicate resource `{}`", r.uri)).with_span(&r.uri_span));
        }
        for var in &r.vars {
            if !r.method.params.iter().any(|p| &p.name == var && p.role != Role::Context) {
                errors.push(
                    darling::Error::custom(format!(
                        "the URI template variable `{var}` has no parameter\n\nhelp: add a parameter `{var}: String` (or any type that parses from the text)"
                    ))
                    .with_span(&r.uri_span),
                );
            }
        }
        for p in r.method.params.iter_mut() {
            if !r.vars.contains(&p.name) {
                if p.role == Role::Argument || p.role == Role::Flatten {
                    errors.push(
                        darling::Error::custom(format!(
                            "`{}` is not a variable of `{}`; a resource's arguments come from its URI template",
                            p.name, r.uri
                        ))
                        .with_span(&p.span),
                    );
                }
                p.role = Role::Context;
            } else if p.role == Role::Probe || p.role == Role::Flatten {
                p.role = Role::Argument;
            }
            if p.has_checks() {
                errors.push(
                    darling::Error::custom("`range`, `length` and `pattern` apply to tool arguments")
                        .with_span(&p.span),
                );
            }
        }
        check_type_params(&r.method.params.iter().map(|p| (&p.ty, p.span)).collect::<Vec<_>>(), &type_params, errors);
    }

    // Prompts: unique names; no argument structs or constraints.
    let mut prompts: HashMap<String, Span> = HashMap::new();
    for p in &model.prompts {
        if p.name.is_empty() {
            errors.push(darling::Error::custom("a prompt name cannot be empty").with_span(&p.name_span));
        }
        if prompts.insert(p.name.clone(), p.name_span).is_some() {
            errors.push(darling::Error::custom(format!("duplicate prompt name `{}`", p.name)).with_span(&p.name_span));
        }
        for param in &p.method.params {
            if param.role == Role::Flatten || param.has_checks() {
                errors.push(
                    darling::Error::custom(
                        "prompt arguments are plain text values: `flatten`, `range`, `length` and `pattern` apply to tools",
                    )
                    .with_span(&param.span),
                );
            }
        }
        check_type_params(&p.method.params.iter().map(|p| (&p.ty, p.span)).collect::<Vec<_>>(), &type_params, errors);
    }

    // Completions: the target exists in this block and has the argument.
    let mut completions: HashMap<(CompleteTarget, String), Span> = HashMap::new();
    for c in &mut model.completions {
        let known: Option<Vec<String>> =
            match &c.target {
                CompleteTarget::Prompt(name) => model.prompts.iter().find(|p| &p.name == name).map(|p| {
                    p.method.params.iter().filter(|a| a.role != Role::Context).map(|a| a.name.clone()).collect()
                }),
                CompleteTarget::Template(t) => {
                    model.resources.iter().find(|r| r.template && &r.uri == t).map(|r| r.vars.clone())
                }
            };
        match known {
            None => errors.push(
                darling::Error::custom(match &c.target {
                    CompleteTarget::Prompt(n) => format!("no `#[mcp_prompt]` named `{n}` in this impl block"),
                    CompleteTarget::Template(t) => {
                        format!("no `#[mcp_resource(uri_template = \"{t}\")]` in this impl block")
                    }
                })
                .with_span(&c.target_span),
            ),
            Some(args) if !args.contains(&c.argument) => errors.push(
                darling::Error::custom(format!(
                    "`{}` is not an argument of the target; its arguments are {}",
                    c.argument,
                    if args.is_empty() {
                        "none".into()
                    } else {
                        args.iter().map(|a| format!("`{a}`")).collect::<Vec<_>>().join(", ")
                    }
                ))
                .with_span(&c.argument_span),
            ),
            Some(_) => {}
        }
        if completions.insert((c.target.clone(), c.argument.clone()), c.argument_span).is_some() {
            errors.push(
                darling::Error::custom(format!("a completion for `{}` of this target already exists", c.argument))
                    .with_span(&c.argument_span),
            );
        }
        for (i, p) in c.method.params.iter_mut().enumerate() {
            if Some(i) != c.value_param {
                p.role = Role::Context;
            }
        }
    }
}

struct MentionsTypeParam<'a> {
    names: &'a [String],
    found: Option<String>,
}

impl<'ast> Visit<'ast> for MentionsTypeParam<'_> {
    fn visit_path(&mut self, p: &'ast syn::Path) {
        if p.leading_colon.is_none()
            && let Some(first) = p.segments.first()
        {
            let s = first.ident.to_string();
            if self.names.contains(&s) {
                self.found = Some(s);
            }
        }
        syn::visit::visit_path(self, p);
    }
}

fn check_type_params(types: &[(&Type, Span)], names: &[String], errors: &mut darling::error::Accumulator) {
    if names.is_empty() {
        return;
    }
    for (ty, span) in types {
        let mut v = MentionsTypeParam { names, found: None };
        v.visit_type(ty);
        if let Some(n) = v.found {
            errors.push(
                darling::Error::custom(format!(
                    "parameter and return types cannot use the impl's type parameter `{n}`: their schemas are generated at compile time\n\nhelp: use a concrete type here"
                ))
                .with_span(span),
            );
        }
    }
}
