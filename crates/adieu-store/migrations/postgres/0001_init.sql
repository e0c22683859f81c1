-- Accounts. Usernames are unique regardless of case; only an argon2id PHC string is stored.
CREATE TABLE users (
    id            TEXT PRIMARY KEY,
    username      TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    created_at    BIGINT NOT NULL
);
CREATE UNIQUE INDEX users_username_key ON users (lower(username));

-- One row per login. A session ends when revoked_at is set, or when its idle or absolute
-- deadline (computed from last_active_at and created_at by the policy) has passed.
CREATE TABLE sessions (
    id             TEXT PRIMARY KEY,
    user_id        TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind           TEXT NOT NULL,
    created_at     BIGINT NOT NULL,
    last_active_at BIGINT NOT NULL,
    revoked_at     BIGINT,
    revoked_reason TEXT,
    user_agent     TEXT,
    ip             TEXT
);
CREATE INDEX sessions_user_id ON sessions (user_id);

-- Every token ever issued, by SHA-256 only. Spent refresh tokens stay, so that their reuse
-- can be recognised as theft.
CREATE TABLE tokens (
    hash       BYTEA PRIMARY KEY,
    session_id TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    kind       TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    spent_at   BIGINT
);
CREATE INDEX tokens_session_id ON tokens (session_id);

CREATE TABLE audit_events (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at         BIGINT NOT NULL,
    event      TEXT NOT NULL,
    user_id    TEXT,
    session_id TEXT,
    ip         TEXT,
    user_agent TEXT
);
CREATE INDEX audit_events_user_id ON audit_events (user_id);

-- Nodes that cache token checks, each with a lease it renews while it hears revocations.
-- A revoking node waits for every node whose lease is live (see docs/ARCHITECTURE.md).
CREATE TABLE adieu_nodes (
    id          TEXT PRIMARY KEY,
    lease_until TIMESTAMPTZ NOT NULL,
    started_at  TIMESTAMPTZ NOT NULL
);
