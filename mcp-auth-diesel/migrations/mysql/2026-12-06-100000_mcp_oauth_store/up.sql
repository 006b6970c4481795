-- The OAuth authorization server's state (mcp-auth-diesel), MySQL and MariaDB.
-- Codes, refresh tokens, pending-authorization ids and client secrets are stored as
-- SHA-256 digests (hex) only. JSON columns hold text JSON. Times are Unix seconds.
-- Binary collation: ids compare byte for byte (never case-insensitively). Keys are
-- VARCHAR(255): a longer client id or family is refused with an error.
CREATE TABLE mcp_oauth_clients (
    client_id VARCHAR(255) PRIMARY KEY NOT NULL,
    secret_digest CHAR(64),
    auth VARCHAR(32) NOT NULL,
    redirect_uris TEXT NOT NULL,
    client_name TEXT,
    created_at BIGINT NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE TABLE mcp_oauth_pending (
    digest CHAR(64) PRIMARY KEY NOT NULL,
    client_id TEXT NOT NULL,
    redirect_uri TEXT NOT NULL,
    state TEXT NOT NULL,
    code_challenge TEXT NOT NULL,
    scopes TEXT NOT NULL,
    resource TEXT NOT NULL,
    browser_digest CHAR(64) NOT NULL,
    csrf_digest CHAR(64) NOT NULL,
    principal TEXT,
    expires_at BIGINT NOT NULL,
    INDEX mcp_oauth_pending_expires_at (expires_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE TABLE mcp_oauth_codes (
    digest CHAR(64) PRIMARY KEY NOT NULL,
    client_id TEXT NOT NULL,
    subject TEXT NOT NULL,
    claims TEXT NOT NULL,
    scopes TEXT NOT NULL,
    resource TEXT NOT NULL,
    family VARCHAR(255) NOT NULL,
    redirect_uri TEXT NOT NULL,
    code_challenge TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    spent BOOLEAN NOT NULL DEFAULT FALSE,
    INDEX mcp_oauth_codes_expires_at (expires_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE TABLE mcp_oauth_refresh_tokens (
    digest CHAR(64) PRIMARY KEY NOT NULL,
    client_id TEXT NOT NULL,
    subject TEXT NOT NULL,
    claims TEXT NOT NULL,
    scopes TEXT NOT NULL,
    resource TEXT NOT NULL,
    family VARCHAR(255) NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT,
    INDEX mcp_oauth_refresh_tokens_family (family),
    INDEX mcp_oauth_refresh_tokens_expires_at (expires_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE TABLE mcp_oauth_revoked_families (
    family VARCHAR(255) PRIMARY KEY NOT NULL,
    revoked_at BIGINT NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE TABLE mcp_oauth_consents (
    id CHAR(64) PRIMARY KEY NOT NULL,
    subject TEXT NOT NULL,
    client_id TEXT NOT NULL,
    scopes TEXT NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE TABLE mcp_oauth_signing_keys (
    kid VARCHAR(255) PRIMARY KEY NOT NULL,
    pkcs8 BLOB NOT NULL,
    created_at BIGINT NOT NULL,
    retired_at BIGINT
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE TABLE mcp_oauth_secret (
    id INTEGER PRIMARY KEY NOT NULL,
    secret BLOB NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
