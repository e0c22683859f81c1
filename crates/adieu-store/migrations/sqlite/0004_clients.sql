-- Confidential clients of the OAuth endpoints (resource servers that introspect tokens), by
-- SHA-256 of their secret only.
CREATE TABLE oauth_clients (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    secret_hash BLOB NOT NULL,
    created_at  INTEGER NOT NULL
);
