//! The tables, as Diesel sees them (the SQL is in `migrations/<backend>/`).

diesel::table! {
    /// Registered clients.
    mcp_oauth_clients (client_id) {
        /// The client id.
        client_id -> Text,
        /// SHA-256 (hex) of the client secret, for confidential clients.
        secret_digest -> Nullable<Text>,
        /// `none`, `client_secret_post` or `client_secret_basic`.
        auth -> Text,
        /// JSON array of strings.
        redirect_uris -> Text,
        /// The name shown on the consent page.
        client_name -> Nullable<Text>,
        /// Unix seconds.
        created_at -> BigInt,
    }
}

diesel::table! {
    /// Authorizations in progress, under the digest of their id.
    mcp_oauth_pending (digest) {
        /// SHA-256 (hex) of the pending id.
        digest -> Text,
        /// The client.
        client_id -> Text,
        /// The redirect URI, as sent.
        redirect_uri -> Text,
        /// The client's `state`.
        state -> Text,
        /// PKCE S256 challenge.
        code_challenge -> Text,
        /// JSON array of scopes.
        scopes -> Text,
        /// The resource.
        resource -> Text,
        /// SHA-256 (hex) of the browser-binding cookie.
        browser_digest -> Text,
        /// SHA-256 (hex) of the CSRF token.
        csrf_digest -> Text,
        /// The signed-in principal, JSON.
        principal -> Nullable<Text>,
        /// Unix seconds.
        expires_at -> BigInt,
    }
}

diesel::table! {
    /// Authorization codes, under their digest.
    mcp_oauth_codes (digest) {
        /// SHA-256 (hex) of the code.
        digest -> Text,
        /// The client.
        client_id -> Text,
        /// The user.
        subject -> Text,
        /// JSON object.
        claims -> Text,
        /// JSON array.
        scopes -> Text,
        /// The audience.
        resource -> Text,
        /// The refresh-token family.
        family -> Text,
        /// The redirect URI of the authorization request.
        redirect_uri -> Text,
        /// PKCE S256 challenge.
        code_challenge -> Text,
        /// Unix seconds.
        expires_at -> BigInt,
        /// Whether it was redeemed.
        spent -> Bool,
    }
}

diesel::table! {
    /// Refresh tokens, under their digest.
    mcp_oauth_refresh_tokens (digest) {
        /// SHA-256 (hex) of the token.
        digest -> Text,
        /// The client.
        client_id -> Text,
        /// The user.
        subject -> Text,
        /// JSON object.
        claims -> Text,
        /// JSON array.
        scopes -> Text,
        /// The audience.
        resource -> Text,
        /// The family.
        family -> Text,
        /// Unix seconds.
        expires_at -> BigInt,
        /// When it was rotated (Unix seconds).
        used_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    /// Families whose tokens are refused.
    mcp_oauth_revoked_families (family) {
        /// The family.
        family -> Text,
        /// Unix seconds.
        revoked_at -> BigInt,
    }
}

diesel::table! {
    /// Consents, under SHA-256 (hex) of the JSON `[subject, client_id]`.
    mcp_oauth_consents (id) {
        /// The key.
        id -> Text,
        /// The user.
        subject -> Text,
        /// The client.
        client_id -> Text,
        /// JSON array.
        scopes -> Text,
    }
}

diesel::table! {
    /// Signing keys.
    mcp_oauth_signing_keys (kid) {
        /// The key id.
        kid -> Text,
        /// PKCS#8 DER.
        pkcs8 -> Binary,
        /// Unix seconds.
        created_at -> BigInt,
        /// Unix seconds.
        retired_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    /// The one secret deriving refresh-token successors (row 1).
    mcp_oauth_secret (id) {
        /// Always 1.
        id -> Integer,
        /// 32 bytes.
        secret -> Binary,
    }
}

diesel::allow_tables_to_appear_in_same_query!(mcp_oauth_refresh_tokens, mcp_oauth_revoked_families);
