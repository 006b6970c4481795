DROP TABLE mcp_oauth_secret;
DROP TABLE mcp_oauth_signing_keys;
DROP TABLE mcp_oauth_consents;
DROP TABLE mcp_oauth_revoked_families;
DROP TABLE mcp_oauth_refresh_tokens;
DROP TABLE mcp_oauth_codes;
DROP TABLE mcp_oauth_pending;
DROP TABLE mcp_oauth_clients;
