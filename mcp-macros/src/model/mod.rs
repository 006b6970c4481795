//! `#[mcp_toolset]` on a Diesel model struct, in phases like the toolset macro: read the
//! attributes ([`attrs`]), resolve and check the model against the struct ([`resolve`]),
//! then generate its description and queries ([`expand`]). [`hooks`] serves
//! `#[mcp_toolset(model = ...)]` impl blocks.

mod attrs;
mod expand;
mod hooks;
mod resolve;

pub(crate) use self::expand::expand;
pub(crate) use self::hooks::{hooks_impl, take_model_arg};

#[cfg(test)]
mod tests {
    use quote::quote;
    use syn::ItemStruct;

    use super::attrs::{apply_rename_all, snake_case};
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
