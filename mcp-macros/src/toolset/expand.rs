//! Code generation: one `Toolset` impl per block, with static metadata built once and
//! `match`-based dispatch. Every path is absolute; hidden names start with `__mcp`.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::{Ident, ItemImpl};

use super::model::{CompleteTarget, Method, Model, Param, Receiver, Role, is_text};
use crate::util;

fn opt_str(v: Option<&str>) -> TokenStream {
    match v {
        Some(s) => quote!(::core::option::Option::Some(#s)),
        None => quote!(::core::option::Option::None),
    }
}

fn opt_bool(v: Option<bool>) -> TokenStream {
    match v {
        Some(b) => quote!(::core::option::Option::Some(#b)),
        None => quote!(::core::option::Option::None),
    }
}

fn opt_f64(v: Option<f64>) -> TokenStream {
    match v {
        Some(x) => quote!(::core::option::Option::Some(#x)),
        None => quote!(::core::option::Option::None),
    }
}

fn opt_u64(v: Option<u64>) -> TokenStream {
    match v {
        Some(x) => quote!(::core::option::Option::Some(#x)),
        None => quote!(::core::option::Option::None),
    }
}

fn opt_meta(p: &TokenStream, meta: Option<&syn::Expr>) -> TokenStream {
    match meta {
        Some(e) => quote!(::core::option::Option::Some(::core::convert::Into::<#p::serde_json::Value>::into(#e))),
        None => quote!(::core::option::Option::None),
    }
}

/// The `ParamSpec` constant of a parameter.
fn spec(p: &TokenStream, param: &Param) -> TokenStream {
    let name = &param.name;
    let desc = opt_str(param.description.as_deref());
    let required = !param.optional;
    let (min, max) = param.range.map_or((None, None), |r| (r.0, r.1));
    let (min_len, max_len) = param.length.map_or((None, None), |l| (l.0, l.1));
    let (min, max, min_len, max_len) = (opt_f64(min), opt_f64(max), opt_u64(min_len), opt_u64(max_len));
    let pattern = opt_str(param.pattern.as_ref().map(|p| p.0.as_str()));
    let header = opt_str(param.header.as_ref().map(|h| h.0.as_str()));
    quote!(#p::ParamSpec {
        name: #name,
        description: #desc,
        required: #required,
        min: #min,
        max: #max,
        min_len: #min_len,
        max_len: #max_len,
        pattern: #pattern,
        header: #header,
    })
}

/// Index constants: the position of each item among the enabled ones, so that `#[cfg]`
/// on a method removes it without shifting the others.
fn index_consts(prefix: &str, cfgs: &[&[TokenStream]]) -> (Vec<Ident>, TokenStream) {
    let idents: Vec<Ident> = (0..cfgs.len()).map(|i| format_ident!("__MCP_{}_{}", prefix, i)).collect();
    let mut out = TokenStream::new();
    for (i, id) in idents.iter().enumerate() {
        if i == 0 {
            out.extend(quote!(const #id: usize = 0;));
        } else {
            let prev = &idents[i - 1];
            let enabled = util::cfg_enabled(cfgs[i - 1]);
            out.extend(quote!(const #id: usize = #prev + (#enabled as usize);));
        }
    }
    (idents, out)
}

/// The kind of a parameter whose role its type decides: `ContextParam`, `ArgumentParam`
/// or (a compile error at the parameter) `InvalidParam`.
fn param_kind(p: &TokenStream, param: &Param) -> TokenStream {
    let ty = &param.ty;
    quote_spanned!(param.span=> {
        #[allow(unused_imports)]
        use #p::{ViaArgument as _, ViaContext as _, ViaInvalidParam as _};
        (&&&#p::Probe::<#ty>::new()).__mcp_param()
    })
}

fn param_var(i: usize) -> Ident {
    format_ident!("__mcp_p{}", i)
}

fn spec_ident(kind: &str, item: usize, param: usize) -> Ident {
    format_ident!("__MCP_SPEC_{}_{}_{}", kind, item, param)
}

/// The call of the user's method with the extracted values.
fn call(method: &Method) -> TokenStream {
    let ident = &method.ident;
    let args = (0..method.params.len()).map(param_var);
    let call = match method.receiver {
        Receiver::Ref => quote!(self.#ident(#(#args),*)),
        Receiver::None => quote!(Self::#ident(#(#args),*)),
    };
    if method.is_async { quote!(#call.await) } else { call }
}

/// Statements that take every parameter's value, for tools (`text == false`: arguments
/// are JSON) and prompts (`text == true`: arguments are strings).
fn extraction(p: &TokenStream, kind: &str, item: usize, method: &Method, text: bool) -> TokenStream {
    let mut out = TokenStream::new();
    for (i, param) in method.params.iter().enumerate() {
        let var = param_var(i);
        let ty = &param.ty;
        let spec = spec_ident(kind, item, i);
        let span = param.span;
        let take = match (param.role, text) {
            (Role::Probe, false) => {
                let kind = param_kind(p, param);
                quote!(#kind.extract(__mcp_ctx, &mut __mcp_args, &#spec)?)
            }
            (Role::Probe, true) => {
                let kind = param_kind(p, param);
                quote!(#kind.extract_text(__mcp_ctx, &mut __mcp_args, &#spec)?)
            }
            (Role::Context, _) => quote_spanned!(span=> <#ty as #p::FromContext<'_>>::from_context(__mcp_ctx)?),
            (Role::Argument, _) => match &param.default {
                Some(d) => {
                    let default = match d {
                        darling::util::Override::Inherit => quote!(::core::default::Default::default()),
                        darling::util::Override::Explicit(path) => quote!(#path()),
                    };
                    let name = &param.name;
                    let read = if text {
                        quote_spanned!(span=> #p::from_text::<#ty>(::core::option::Option::Some(&__mcp_v), #name, true)?)
                    } else {
                        quote_spanned!(span=> #p::deserialize_value::<#ty>(__mcp_v, #name)?)
                    };
                    quote_spanned!(span=> match __mcp_args.take(#name) {
                        ::core::option::Option::Some(__mcp_v) => #read,
                        ::core::option::Option::None => #default,
                    })
                }
                None if text => quote_spanned!(span=> #p::extract_text::<#ty>(&mut __mcp_args, &#spec)?),
                None => quote_spanned!(span=> #p::extract_argument::<#ty>(&mut __mcp_args, &#spec)?),
            },
            (Role::Flatten, _) => quote_spanned!(span=> #p::extract_flattened::<#ty>(&mut __mcp_args)?),
        };
        out.extend(quote!(let #var: #ty = #take;));
        // Checks are spanned on the parameter's type, so a check that does not apply to
        // the type is reported there.
        let ty_span = syn::spanned::Spanned::span(ty);
        let checked = Ident::new(&var.to_string(), ty_span);
        if param.range.is_some() {
            out.extend(quote_spanned!(ty_span=> #p::check_range(&#checked, &#spec)?;));
        }
        if param.length.is_some() {
            out.extend(quote_spanned!(ty_span=> #p::check_length(&#checked, &#spec)?;));
        }
        if param.pattern.is_some() {
            out.extend(quote_spanned!(ty_span=> {
                static __MCP_PATTERN: #p::PatternCache = #p::PatternCache::new();
                #p::check_pattern(&#checked, &#spec, &__MCP_PATTERN)?;
            }));
        }
    }
    out
}

/// The names clients may send, for rejecting unknown arguments.
fn known_arguments(p: &TokenStream, method: &Method) -> TokenStream {
    let names = method.params.iter().filter_map(|param| {
        let name = &param.name;
        match param.role {
            Role::Argument => Some(quote!(#name)),
            Role::Probe => {
                let kind = param_kind(p, param);
                Some(quote!(if #kind.is_argument() { #name } else { "" }))
            }
            _ => None,
        }
    });
    quote!([#(#names),*])
}

pub(crate) fn expand(model: &Model, imp: &ItemImpl, krate: &TokenStream) -> TokenStream {
    let p = quote!(#krate::__private);
    let self_ty = &imp.self_ty;
    let (impl_generics, _, where_clause) = imp.generics.split_for_impl();

    let mut consts = TokenStream::new();

    // ------------------------------------------------------------------ tools
    let tool_cfgs: Vec<&[TokenStream]> = model.tools.iter().map(|t| t.method.cfg.as_slice()).collect();
    let (tool_idx, c) = index_consts("T", &tool_cfgs);
    consts.extend(c);
    let mut tool_defs = Vec::new();
    let mut tool_arms = Vec::new();
    let mut scope_arms = Vec::new();
    for (k, tool) in model.tools.iter().enumerate() {
        let m = &tool.method;
        let cfg = util::cfg_attrs(&m.cfg);
        let mut schema = TokenStream::new();
        for (i, param) in m.params.iter().enumerate() {
            let sid = spec_ident("T", k, i);
            let spec = spec(&p, param);
            consts.extend(quote!(#[allow(non_upper_case_globals)] const #sid: #p::ParamSpec = #spec;));
            let ty = &param.ty;
            schema.extend(match param.role {
                Role::Probe => {
                    let kind = param_kind(&p, param);
                    quote!(#kind.schema(&mut __mcp_schema, &#sid);)
                }
                Role::Argument => quote_spanned!(param.span=> __mcp_schema.property::<#ty>(&#sid);),
                Role::Flatten => quote_spanned!(param.span=> __mcp_schema.flatten::<#ty>();),
                Role::Context => TokenStream::new(),
            });
        }
        let ret = &m.ret;
        let output = quote_spanned!(m.ret_span=> {
            #[allow(unused_imports)]
            use #p::{ViaPlainReturn as _, ViaResultReturn as _};
            #[allow(unused_imports)]
            use #p::{ViaInvalidReturn as _, ViaOutputReturn as _, ViaStructuredReturn as _};
            let __mcp_kind = (&&#p::Probe::<#ret>::new()).__mcp_split_kind();
            let __mcp_probe = __mcp_kind.ok_probe();
            (&&&__mcp_probe).__mcp_output().output_schema()
        });
        let name = &tool.name;
        let title = opt_str(tool.title.as_deref());
        let description = match &tool.description {
            Some(d) => quote!(#d),
            None => util::concat_doc(&m.docs),
        };
        let (ro, de, id, ow) = (
            opt_bool(tool.read_only),
            opt_bool(tool.destructive),
            opt_bool(tool.idempotent),
            opt_bool(tool.open_world),
        );
        let icons = &tool.icons;
        let meta = opt_meta(&p, tool.meta.as_ref());
        tool_defs.push(quote! {
            #cfg
            __mcp_tools.push({
                let mut __mcp_schema = #p::InputSchema::new();
                #schema
                let __mcp_output = #output;
                #p::tool(
                    #name,
                    #title,
                    #description,
                    __mcp_schema.finish(),
                    __mcp_output,
                    #p::ToolAnnotations {
                        title: ::core::option::Option::None,
                        read_only_hint: #ro,
                        destructive_hint: #de,
                        idempotent_hint: #id,
                        open_world_hint: #ow,
                    },
                    &[#(#icons),*],
                    #meta,
                )
            });
        });

        let has_flatten = m.params.iter().any(|x| x.role == Role::Flatten);
        let deny = if has_flatten {
            let ty = &m.params.iter().find(|x| x.role == Role::Flatten).map(|x| &x.ty);
            quote! {
                static __MCP_FIELDS: #p::FieldNames = #p::FieldNames::new();
                __mcp_args.deny_unknown(#p::flattened_names::<#ty>(&__MCP_FIELDS))?;
            }
        } else {
            let known = known_arguments(&p, m);
            quote! {
                let __mcp_known: &[&str] = &#known;
                __mcp_args.deny_unknown(__mcp_known)?;
            }
        };
        let extract = extraction(&p, "T", k, m, false);
        let conversion = quote_spanned!(m.ret_span=> {
            #[allow(unused_imports)]
            use #p::{ViaPlainReturn as _, ViaResultReturn as _};
            #[allow(unused_imports)]
            use #p::{ViaInvalidReturn as _, ViaOutputReturn as _, ViaStructuredReturn as _};
            let __mcp_kind = (&&#p::Probe::<#ret>::new()).__mcp_split_kind();
            let __mcp_probe = __mcp_kind.ok_probe();
            let __mcp_value = __mcp_kind.split(__mcp_ret)?;
            (&&&__mcp_probe).__mcp_output().into_result(__mcp_value)
        });
        let idx = &tool_idx[k];
        let body = if tool.blocking {
            let call = call(m);
            let this = match m.receiver {
                Receiver::Ref => quote_spanned!(m.ident.span()=> let __mcp_this = ::core::clone::Clone::clone(self);),
                Receiver::None => TokenStream::new(),
            };
            let call = match m.receiver {
                Receiver::Ref => {
                    let ident = &m.ident;
                    let args = (0..m.params.len()).map(param_var);
                    quote!(__mcp_this.#ident(#(#args),*))
                }
                Receiver::None => call,
            };
            quote! {
                #this
                let __mcp_ctx_owned = ::core::clone::Clone::clone(__mcp_ctx);
                let __mcp_ret = #p::run_blocking(move || -> ::core::result::Result<#ret, #p::ToolError> {
                    let __mcp_ctx = &__mcp_ctx_owned;
                    let mut __mcp_args = __mcp_args;
                    #deny
                    #extract
                    ::core::result::Result::Ok(#call)
                })
                .await??;
                #conversion
            }
        } else {
            let call = call(m);
            quote! {
                #deny
                #extract
                let __mcp_ret = #call;
                #conversion
            }
        };
        if !tool.scopes.is_empty() {
            let scopes = &tool.scopes;
            scope_arms.push(quote! {
                #cfg
                #idx => ::std::vec![#(::std::string::String::from(#scopes)),*],
            });
        }
        tool_arms.push(quote! {
            #cfg
            #idx => ::std::boxed::Box::pin(async move {
                #[allow(unused_mut)]
                let mut __mcp_args = #p::Args::new(__mcp_arguments);
                #body
            }),
        });
    }

    // ------------------------------------------------------------------ resources
    let statics: Vec<(usize, &super::model::Resource)> =
        model.resources.iter().enumerate().filter(|(_, r)| !r.template).collect();
    let templates: Vec<(usize, &super::model::Resource)> =
        model.resources.iter().enumerate().filter(|(_, r)| r.template).collect();
    let (static_idx, c) = index_consts("RS", &statics.iter().map(|(_, r)| r.method.cfg.as_slice()).collect::<Vec<_>>());
    consts.extend(c);
    let (template_idx, c) =
        index_consts("RT", &templates.iter().map(|(_, r)| r.method.cfg.as_slice()).collect::<Vec<_>>());
    consts.extend(c);
    let resource_def = |r: &super::model::Resource| {
        let cfg = util::cfg_attrs(&r.method.cfg);
        let (uri, name) = (&r.uri, &r.name);
        let title = opt_str(r.title.as_deref());
        let description = match &r.description {
            Some(d) => quote!(#d),
            None => util::concat_doc(&r.method.docs),
        };
        let mime = opt_str(r.mime_type.as_deref());
        let icons = &r.icons;
        let meta = opt_meta(&p, r.meta.as_ref());
        let f = if r.template { quote!(resource_template) } else { quote!(resource) };
        quote!(#cfg __mcp_list.push(#p::#f(#uri, #name, #title, #description, #mime, &[#(#icons),*], #meta));)
    };
    let static_defs: Vec<TokenStream> = statics.iter().map(|(_, r)| resource_def(r)).collect();
    let template_defs: Vec<TokenStream> = templates.iter().map(|(_, r)| resource_def(r)).collect();
    let mut read_arms = Vec::new();
    for (list, idents, is_template) in [(&statics, &static_idx, false), (&templates, &template_idx, true)] {
        for ((k, r), idx) in list.iter().zip(idents.iter()) {
            let m = &r.method;
            let cfg = util::cfg_attrs(&m.cfg);
            let mut extract = TokenStream::new();
            for (i, param) in m.params.iter().enumerate() {
                let var = param_var(i);
                let ty = &param.ty;
                let take = if param.role == Role::Context {
                    quote_spanned!(param.span=> <#ty as #p::FromContext<'_>>::from_context(__mcp_ctx)?)
                } else {
                    let name = &param.name;
                    let required = !param.optional;
                    quote_spanned!(param.span=> #p::from_text::<#ty>(__mcp_vars.get(#name), #name, #required)?)
                };
                extract.extend(quote!(let #var: #ty = #take;));
            }
            let _ = k;
            let call = call(m);
            let mime = opt_str(r.mime_type.as_deref());
            let convert = quote_spanned!(m.ret_span=>
                #p::IntoReadResourceResult::into_read_resource_result(__mcp_ret, __mcp_uri, #mime));
            let pattern = if is_template {
                quote!(#p::ResourceTarget::Template(#idx, __mcp_vars))
            } else {
                quote!(#p::ResourceTarget::Static(#idx))
            };
            let vars_unused =
                if is_template { TokenStream::new() } else { quote!(let __mcp_vars = #p::UriVariables::new();) };
            read_arms.push(quote! {
                #cfg
                #pattern => ::std::boxed::Box::pin(async move {
                    #[allow(unused_variables)]
                    #vars_unused
                    #extract
                    let __mcp_ret = #call;
                    #convert
                }),
            });
        }
    }

    // ------------------------------------------------------------------ prompts
    let (prompt_idx, c) = index_consts("P", &model.prompts.iter().map(|x| x.method.cfg.as_slice()).collect::<Vec<_>>());
    consts.extend(c);
    let mut prompt_defs = Vec::new();
    let mut prompt_arms = Vec::new();
    for (k, prompt) in model.prompts.iter().enumerate() {
        let m = &prompt.method;
        let cfg = util::cfg_attrs(&m.cfg);
        let mut args = TokenStream::new();
        for (i, param) in m.params.iter().enumerate() {
            let sid = spec_ident("P", k, i);
            let spec = spec(&p, param);
            consts.extend(quote!(#[allow(non_upper_case_globals)] const #sid: #p::ParamSpec = #spec;));
            args.extend(match param.role {
                Role::Probe => {
                    let kind = param_kind(&p, param);
                    quote! {
                        if let ::core::option::Option::Some(a) = #kind.prompt_argument(&#sid) {
                            __mcp_args.push(a);
                        }
                    }
                }
                Role::Argument | Role::Flatten => quote!(__mcp_args.push(#p::prompt_argument(&#sid));),
                Role::Context => TokenStream::new(),
            });
        }
        let name = &prompt.name;
        let title = opt_str(prompt.title.as_deref());
        let description = match &prompt.description {
            Some(d) => quote!(#d),
            None => util::concat_doc(&m.docs),
        };
        let icons = &prompt.icons;
        let meta = opt_meta(&p, prompt.meta.as_ref());
        prompt_defs.push(quote! {
            #cfg
            __mcp_prompts.push({
                let mut __mcp_args = ::std::vec::Vec::new();
                #args
                #p::prompt(#name, #title, #description, __mcp_args, &[#(#icons),*], #meta)
            });
        });
        let extract = extraction(&p, "P", k, m, true);
        let call = call(m);
        let idx = &prompt_idx[k];
        let convert = quote_spanned!(m.ret_span=> #p::IntoGetPromptResult::into_get_prompt_result(__mcp_ret));
        prompt_arms.push(quote! {
            #cfg
            #idx => ::std::boxed::Box::pin(async move {
                #[allow(unused_mut)]
                let mut __mcp_args = #p::Args::new(__mcp_arguments);
                #extract
                let __mcp_ret = #call;
                #convert
            }),
        });
    }

    // ------------------------------------------------------------------ completions
    let mut complete_arms = Vec::new();
    for c in &model.completions {
        let m = &c.method;
        let (target, target_cfg) = match &c.target {
            CompleteTarget::Prompt(name) => {
                let Some(i) = model.prompts.iter().position(|x| &x.name == name) else { continue };
                let idx = &prompt_idx[i];
                (quote!(#p::CompletionTarget::Prompt(#idx)), &model.prompts[i].method.cfg)
            }
            CompleteTarget::Template(t) => {
                let Some(i) = templates.iter().position(|(_, r)| &r.uri == t) else { continue };
                let idx = &template_idx[i];
                (quote!(#p::CompletionTarget::Template(#idx)), &templates[i].1.method.cfg)
            }
        };
        let mut preds = m.cfg.clone();
        preds.extend(target_cfg.iter().cloned());
        let cfg = util::cfg_attrs(&preds);
        let mut extract = TokenStream::new();
        for (i, param) in m.params.iter().enumerate() {
            let var = param_var(i);
            let ty = &param.ty;
            let take = if Some(i) == c.value_param {
                if matches!(ty, syn::Type::Reference(_)) {
                    quote!(__mcp_argument.value.as_str())
                } else {
                    quote!(::core::clone::Clone::clone(&__mcp_argument.value))
                }
            } else {
                quote_spanned!(param.span=> <#ty as #p::FromContext<'_>>::from_context(__mcp_ctx)?)
            };
            debug_assert!(Some(i) != c.value_param || is_text(ty));
            extract.extend(quote!(let #var: #ty = #take;));
        }
        let argument = &c.argument;
        let call = call(m);
        let convert = quote_spanned!(m.ret_span=> #p::IntoCompletion::into_completion(__mcp_ret));
        complete_arms.push(quote! {
            #cfg
            (#target, #argument) => ::std::boxed::Box::pin(async move {
                #extract
                let __mcp_ret = #call;
                #convert
            }),
        });
    }

    let map = quote!(#p::serde_json::Map<::std::string::String, #p::serde_json::Value>);
    let fut = |t: TokenStream| quote!(#p::BoxFuture<'__mcp, ::core::result::Result<#t, #p::ToolError>>);
    let tool_scopes = if scope_arms.is_empty() {
        TokenStream::new()
    } else {
        quote! {
            fn tool_scopes(&self, __mcp_index: usize) -> ::std::vec::Vec<::std::string::String> {
                match __mcp_index {
                    #(#scope_arms)*
                    _ => ::std::vec::Vec::new(),
                }
            }
        }
    };
    let tool_fut = fut(quote!(#p::CallToolResult));
    let read_fut = fut(quote!(#p::ReadResourceResult));
    let prompt_fut = fut(quote!(#p::GetPromptResult));
    let complete_fut = fut(quote!(#p::Completion));
    let span = Span::call_site();
    let ty_name = quote!(#self_ty).to_string();

    quote_spanned! {span=>
        #[allow(non_upper_case_globals, clippy::all, clippy::pedantic)]
        const _: () = {
            #consts

            #[automatically_derived]
            #[allow(unused_variables, unused_mut, unreachable_code, clippy::all, clippy::pedantic)]
            impl #impl_generics #p::Toolset for #self_ty #where_clause {
                fn tools(&self) -> ::std::vec::Vec<#p::Tool> {
                    let mut __mcp_tools = ::std::vec::Vec::new();
                    #(#tool_defs)*
                    __mcp_tools
                }

                fn call_tool<'__mcp>(
                    &'__mcp self,
                    __mcp_index: usize,
                    __mcp_arguments: #map,
                    __mcp_ctx: &'__mcp #p::Context,
                ) -> #tool_fut {
                    match __mcp_index {
                        #(#tool_arms)*
                        _ => ::std::boxed::Box::pin(async move {
                            ::core::result::Result::Err(#p::ToolError::not_found(
                                ::std::format!("{} has no tool #{}", #ty_name, __mcp_index),
                            ))
                        }),
                    }
                }

                #tool_scopes

                fn resources(&self) -> ::std::vec::Vec<#p::Resource> {
                    let mut __mcp_list = ::std::vec::Vec::new();
                    #(#static_defs)*
                    __mcp_list
                }

                fn resource_templates(&self) -> ::std::vec::Vec<#p::ResourceTemplate> {
                    let mut __mcp_list = ::std::vec::Vec::new();
                    #(#template_defs)*
                    __mcp_list
                }

                fn read_resource<'__mcp>(
                    &'__mcp self,
                    __mcp_target: #p::ResourceTarget,
                    __mcp_uri: &'__mcp str,
                    __mcp_ctx: &'__mcp #p::Context,
                ) -> #read_fut {
                    match __mcp_target {
                        #(#read_arms)*
                        _ => ::std::boxed::Box::pin(async move {
                            ::core::result::Result::Err(#p::ToolError::not_found(
                                ::std::format!("{} has no resource {}", #ty_name, __mcp_uri),
                            ))
                        }),
                    }
                }

                fn prompts(&self) -> ::std::vec::Vec<#p::Prompt> {
                    let mut __mcp_prompts = ::std::vec::Vec::new();
                    #(#prompt_defs)*
                    __mcp_prompts
                }

                fn get_prompt<'__mcp>(
                    &'__mcp self,
                    __mcp_index: usize,
                    __mcp_arguments: #map,
                    __mcp_ctx: &'__mcp #p::Context,
                ) -> #prompt_fut {
                    match __mcp_index {
                        #(#prompt_arms)*
                        _ => ::std::boxed::Box::pin(async move {
                            ::core::result::Result::Err(#p::ToolError::not_found(
                                ::std::format!("{} has no prompt #{}", #ty_name, __mcp_index),
                            ))
                        }),
                    }
                }

                fn complete<'__mcp>(
                    &'__mcp self,
                    __mcp_target: #p::CompletionTarget,
                    __mcp_argument: &'__mcp #p::CompleteArgument,
                    __mcp_context: &'__mcp #p::CompleteContext,
                    __mcp_ctx: &'__mcp #p::Context,
                ) -> #complete_fut {
                    match (__mcp_target, __mcp_argument.name.as_str()) {
                        #(#complete_arms)*
                        _ => ::std::boxed::Box::pin(async move {
                            ::core::result::Result::Ok(::core::default::Default::default())
                        }),
                    }
                }
            }
        };
    }
}
