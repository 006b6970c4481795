-- The OAuth authorization server's state (mcp-auth-diesel), SQLite.
-- Codes, refresh tokens, pending-authorization ids and client secrets are stored as
-- SHA-256 digests (hex) only. JSON columns hold text JSON. Times are Unix seconds.
CREATE TABLE mcp_oauth_clients (
    client_id TEXT PRIMARY KEY NOT NULL,
    secret_digest TEXT,
    auth TEXT NOT NULL,
    redirect_uris TEXT NOT NULL,
    client_name TEXT,
    created_at BIGINT NOT NULL
);
CREATE TABLE mcp_oauth_pending (
    digest TEXT PRIMARY KEY NOT NULL,
    client_id TEXT NOT NULL,
    redirect_uri TEXT NOT NULL,
    state TEXT NOT NULL,
    code_challenge TEXT NOT NULL,
    scopes TEXT NOT NULL,
    resource TEXT NOT NULL,
    browser_digest TEXT NOT NULL,
    csrf_digest TEXT NOT NULL,
    principal TEXT,
    expires_at BIGINT NOT NULL
);
CREATE INDEX mcp_oauth_pending_expires_at ON mcp_oauth_pending (expires_at);
CREATE TABLE mcp_oauth_codes (
    digest TEXT PRIMARY KEY NOT NULL,
    client_id TEXT NOT NULL,
    subject TEXT NOT NULL,
    claims TEXT NOT NULL,
    scopes TEXT NOT NULL,
    resource TEXT NOT NULL,
    family TEXT NOT NULL,
    redirect_uri TEXT NOT NULL,
    code_challenge TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    spent BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE INDEX mcp_oauth_codes_expires_at ON mcp_oauth_codes (expires_at);
CREATE TABLE mcp_oauth_refresh_tokens (
    digest TEXT PRIMARY KEY NOT NULL,
    client_id TEXT NOT NULL,
    subject TEXT NOT NULL,
    claims TEXT NOT NULL,
    scopes TEXT NOT NULL,
    resource TEXT NOT NULL,
    family TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT
);
CREATE INDEX mcp_oauth_refresh_tokens_family ON mcp_oauth_refresh_tokens (family);
CREATE INDEX mcp_oauth_refresh_tokens_expires_at ON mcp_oauth_refresh_tokens (expires_at);
CREATE TABLE mcp_oauth_revoked_families (
    family TEXT PRIMARY KEY NOT NULL,
    revoked_at BIGINT NOT NULL
);
CREATE TABLE mcp_oauth_consents (
    id TEXT PRIMARY KEY NOT NULL,
    subject TEXT NOT NULL,
    client_id TEXT NOT NULL,
    scopes TEXT NOT NULL
);
CREATE TABLE mcp_oauth_signing_keys (
    kid TEXT PRIMARY KEY NOT NULL,
    pkcs8 BLOB NOT NULL,
    created_at BIGINT NOT NULL,
    retired_at BIGINT
);
CREATE TABLE mcp_oauth_secret (
    id INTEGER PRIMARY KEY NOT NULL,
    secret BLOB NOT NULL
);
