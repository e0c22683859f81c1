-- A user's live sessions (revoked_at IS NULL), newest first, straight from the index: the
-- session cap that every login enforces, and the session list, then read only the live
-- sessions, where the index on user_id alone visited every session the user ever had.
-- The user_id prefix still serves deleting a user's sessions.
DROP INDEX sessions_user_id;
CREATE INDEX sessions_user_live ON sessions (user_id, revoked_at, created_at, id);
