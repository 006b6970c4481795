//! The database schema (what `diesel print-schema` would write for the migrations).
#![allow(missing_docs)] // `diesel::table!` generates undocumented column types.

diesel::table! {
    /// People who write posts.
    authors (id) {
        id -> Integer,
        name -> Text,
        email -> Text,
        bio -> Nullable<Text>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    /// Blog posts, drafts until published.
    posts (id) {
        id -> Integer,
        author_id -> Integer,
        title -> Text,
        body -> Text,
        published -> Bool,
        views -> BigInt,
        created_at -> Timestamp,
        published_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    /// Readers' comments on posts.
    comments (id) {
        id -> Integer,
        post_id -> Integer,
        author_name -> Text,
        body -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    /// Who changed what, written by the custom tools.
    audit_log (id) {
        id -> Integer,
        actor -> Text,
        action -> Text,
        detail -> Text,
        at -> Timestamp,
    }
}

diesel::table! {
    /// Topics posts are filed under.
    tags (id) {
        id -> Integer,
        name -> Text,
    }
}

diesel::table! {
    /// Which post has which tag.
    post_tags (id) {
        id -> Integer,
        post_id -> Integer,
        tag_id -> Integer,
    }
}

diesel::table! {
    /// OAuth identities (issuer and subject) and the author each writes as.
    identities (id) {
        id -> Integer,
        issuer -> Text,
        subject -> Text,
        author_id -> Integer,
        created_at -> Timestamp,
    }
}

diesel::joinable!(posts -> authors (author_id));
diesel::joinable!(identities -> authors (author_id));
diesel::joinable!(comments -> posts (post_id));
diesel::joinable!(post_tags -> posts (post_id));
diesel::joinable!(post_tags -> tags (tag_id));
diesel::allow_tables_to_appear_in_same_query!(authors, posts, comments, audit_log, tags, post_tags, identities);
