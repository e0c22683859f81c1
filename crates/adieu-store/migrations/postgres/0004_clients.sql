-- Confidential clients of the OAuth endpoints (resource servers that introspect tokens), by
-- SHA-256 of their secret only.
CREATE TABLE oauth_clients (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    secret_hash BYTEA NOT NULL,
    created_at  BIGINT NOT NULL
);
