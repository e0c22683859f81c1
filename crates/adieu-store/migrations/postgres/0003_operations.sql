-- Operating Adieu: disabled accounts, admin keys, and who (which admin key) did what.

-- Set while an administrator has disabled the account: logins are refused.
ALTER TABLE users ADD COLUMN disabled_at BIGINT;

-- Keys of the admin API, by SHA-256 only; a revoked key stays so that its name is not reused.
CREATE TABLE admin_keys (
    name       TEXT PRIMARY KEY,
    hash       BYTEA NOT NULL UNIQUE,
    created_at BIGINT NOT NULL,
    revoked_at BIGINT
);

-- The admin key an event was done with (its name), when an administrator did it.
ALTER TABLE audit_events ADD COLUMN actor TEXT;
