//! SQL shared by both backends. `$n` placeholders work in SQLite and PostgreSQL alike.

const SESSION_COLUMNS: &str = "s.id, s.user_id, u.username, s.kind, s.created_at, \
     s.last_active_at, s.revoked_at, s.user_agent, s.ip";

pub(crate) const INSERT_USER: &str =
    "INSERT INTO users (id, username, password_hash, created_at) VALUES ($1, $2, $3, $4)";

pub(crate) const USER_BY_NAME: &str = "SELECT id, username, password_hash, created_at, \
     disabled_at FROM users WHERE lower(username) = lower($1)";

pub(crate) const USER_BY_ID: &str =
    "SELECT id, username, password_hash, created_at, disabled_at FROM users WHERE id = $1";

/// A page of users, each with the sessions neither revoked (nor idle since `$4`, nor created
/// before `$5`). `$1` is a LIKE pattern on the lowercased name, `$2` the last name of the
/// previous page (or empty), `$3` the page size.
pub(crate) const LIST_USERS: &str = "SELECT u.id, u.username, u.created_at, u.disabled_at, \
     (SELECT COUNT(*) FROM sessions s WHERE s.user_id = u.id AND s.revoked_at IS NULL \
      AND s.last_active_at >= $4 AND s.created_at >= $5) AS active_sessions \
     FROM users u WHERE lower(u.username) LIKE $1 ESCAPE '\\' AND lower(u.username) > lower($2) \
     ORDER BY lower(u.username) LIMIT $3";

pub(crate) const SET_DISABLED: &str = "UPDATE users SET disabled_at = $2 WHERE id = $1";

/// Audit events, newest first; every filter is optional (NULL).
pub(crate) const AUDIT_EVENTS: &str = "SELECT id, at, event, user_id, session_id, ip, \
     user_agent, actor FROM audit_events \
     WHERE ($1 IS NULL OR user_id = $1) AND ($2 IS NULL OR event = $2) \
     AND ($3 IS NULL OR at >= $3) ORDER BY id DESC LIMIT $4";

pub(crate) const DELETE_USER_AUDIT: &str = "DELETE FROM audit_events WHERE user_id = $1";
pub(crate) const DELETE_USER_TOKENS: &str =
    "DELETE FROM tokens WHERE session_id IN (SELECT id FROM sessions WHERE user_id = $1)";
pub(crate) const DELETE_USER_SESSIONS: &str = "DELETE FROM sessions WHERE user_id = $1";
pub(crate) const DELETE_USER: &str = "DELETE FROM users WHERE id = $1";

pub(crate) const INSERT_ADMIN_KEY: &str =
    "INSERT INTO admin_keys (name, hash, created_at) VALUES ($1, $2, $3)";
pub(crate) const ADMIN_KEYS: &str =
    "SELECT name, created_at, revoked_at FROM admin_keys ORDER BY name";
pub(crate) const REVOKE_ADMIN_KEY: &str =
    "UPDATE admin_keys SET revoked_at = $2 WHERE name = $1 AND revoked_at IS NULL";
pub(crate) const ADMIN_KEY_BY_HASH: &str =
    "SELECT name FROM admin_keys WHERE hash = $1 AND revoked_at IS NULL";

/// Followed by `VALUES` rows of `$1`–`$7`, as [`insert_rows`] writes them.
pub(crate) const INSERT_SESSIONS: &str = "INSERT INTO sessions \
     (id, user_id, kind, created_at, last_active_at, user_agent, ip)";

/// The session of `$1`–`$7`, as in [`INSERT_SESSIONS`], stored only while user `$2` is
/// enabled and holds password hash `$8`; `lock` is the backend's locking clause.
pub(crate) fn insert_verified_session(lock: &str) -> String {
    format!(
        "{INSERT_SESSIONS} SELECT $1, id, $3, $4, $5, $6, $7 FROM users \
         WHERE id = $2 AND password_hash = $8 AND disabled_at IS NULL{lock}"
    )
}

pub(crate) const INSERT_TOKENS: &str =
    "INSERT INTO tokens (hash, session_id, kind, created_at, expires_at)";

pub(crate) const INSERT_AUDITS: &str =
    "INSERT INTO audit_events (at, event, user_id, session_id, ip, user_agent, actor)";

/// `insert` followed by `rows` rows of `columns` placeholders each, numbered on from `$1`:
/// `insert_rows("INSERT INTO t (a, b)", 2, 2)` is `INSERT INTO t (a, b) VALUES ($1, $2),
/// ($3, $4)`.
pub(crate) fn insert_rows(insert: &str, rows: usize, columns: usize) -> String {
    use std::fmt::Write as _;
    let mut sql = format!("{insert} VALUES ");
    for row in 0..rows {
        sql.push_str(if row == 0 { "(" } else { ", (" });
        for column in 0..columns {
            let sep = if column == 0 { "" } else { ", " };
            // Writing to a String cannot fail.
            let _ = write!(sql, "{sep}${}", row * columns + column + 1);
        }
        sql.push(')');
    }
    sql
}

pub(crate) const AUDIT_LOG: &str =
    "SELECT event, session_id FROM audit_events WHERE user_id = $1 ORDER BY id";

pub(crate) fn token_by_hash() -> String {
    format!(
        "SELECT t.kind AS token_kind, t.expires_at AS token_expires_at, \
         t.created_at AS token_created_at, t.spent_at, \
         {SESSION_COLUMNS} FROM tokens t \
         JOIN sessions s ON s.id = t.session_id JOIN users u ON u.id = s.user_id \
         WHERE t.hash = $1"
    )
}

pub(crate) fn session_by_id() -> String {
    format!(
        "SELECT {SESSION_COLUMNS} FROM sessions s JOIN users u ON u.id = s.user_id \
         WHERE s.id = $1"
    )
}

pub(crate) fn user_sessions() -> String {
    format!(
        "SELECT {SESSION_COLUMNS} FROM sessions s JOIN users u ON u.id = s.user_id \
         WHERE s.user_id = $1 AND s.revoked_at IS NULL ORDER BY s.created_at DESC, s.id DESC"
    )
}

pub(crate) const TOUCH_SESSION: &str = "UPDATE sessions SET last_active_at = $2 \
     WHERE id = $1 AND last_active_at < $2 AND revoked_at IS NULL";

/// Spends a refresh token only if nobody spent it before: the one atomic step that makes
/// concurrent exchanges of the same token detectable.
pub(crate) const SPEND_REFRESH: &str = "UPDATE tokens SET spent_at = $2 \
     WHERE hash = $1 AND kind = 'refresh' AND spent_at IS NULL RETURNING session_id, expires_at";

pub(crate) const REFRESH_OWNER: &str = "SELECT t.session_id, s.user_id FROM tokens t \
     JOIN sessions s ON s.id = t.session_id WHERE t.hash = $1 AND t.kind = 'refresh'";

pub(crate) const TOUCH_FOR_REFRESH: &str =
    "UPDATE sessions SET last_active_at = $2 WHERE id = $1 AND last_active_at < $2";

/// Sessions of a user revoked since `$2` (including by this transaction).
pub(crate) const RECENTLY_REVOKED: &str =
    "SELECT id FROM sessions WHERE user_id = $1 AND revoked_at >= $2";

/// How far back a user-wide revocation re-announces sessions that others just ended: far
/// longer than any sensible lease, which bounds how long those announcements are awaited.
pub(crate) const RECENT_REVOCATION_MS: i64 = 5 * 60 * 1000;

pub(crate) const REVOKE_SESSION: &str = "UPDATE sessions SET revoked_at = $2, \
     revoked_reason = $3 WHERE id = $1 AND revoked_at IS NULL";

/// Ends every live session of user `$1`.
pub(crate) const REVOKE_USER_SESSIONS: &str = "UPDATE sessions SET revoked_at = $2, \
     revoked_reason = $3 WHERE user_id = $1 AND revoked_at IS NULL RETURNING id";

/// Ends every live session of user `$1` but session `$4`.
pub(crate) const REVOKE_OTHER_USER_SESSIONS: &str = "UPDATE sessions SET revoked_at = $2, \
     revoked_reason = $3 WHERE user_id = $1 AND revoked_at IS NULL AND id <> $4 RETURNING id";

pub(crate) const UPDATE_PASSWORD: &str = "UPDATE users SET password_hash = $2 WHERE id = $1";

/// `$1`: sessions created before this are past their absolute lifetime; `$2`: sessions
/// last active before this are idle.
/// Deletes a batch of ended sessions (their tokens go by cascade), and says which of them
/// ended by a timeout rather than a revocation.
pub(crate) const DELETE_ENDED_SESSIONS: &str = "DELETE FROM sessions WHERE id IN \
     (SELECT id FROM sessions WHERE revoked_at IS NOT NULL OR created_at < $1 \
      OR last_active_at < $2 LIMIT $3) \
     RETURNING id, user_id, created_at, last_active_at, revoked_at";

/// Ends the user's live sessions beyond the `$3` newest others than `$4` (the one just
/// created, always kept).
pub(crate) const END_SESSIONS_OVER_LIMIT: &str = "UPDATE sessions SET revoked_at = $2, \
     revoked_reason = $5 WHERE user_id = $1 AND revoked_at IS NULL AND id <> $4 AND id NOT IN \
     (SELECT id FROM sessions WHERE user_id = $1 AND revoked_at IS NULL AND id <> $4 \
      ORDER BY created_at DESC, id DESC LIMIT $3) RETURNING id";

/// Live sessions: unrevoked, created after `$1` (the absolute cut-off) and last active after
/// `$2` (the idle cut-off), as `Session::is_active` decides.
pub(crate) const COUNT_ACTIVE_SESSIONS: &str = "SELECT COUNT(*) FROM sessions \
     WHERE revoked_at IS NULL AND created_at > $1 AND last_active_at > $2";

/// `$1`: events older than this go; at most `$2` at a time.
pub(crate) const DELETE_OLD_AUDIT: &str = "DELETE FROM audit_events WHERE id IN \
     (SELECT id FROM audit_events WHERE at < $1 LIMIT $2)";

pub(crate) const INSERT_CLIENT: &str =
    "INSERT INTO oauth_clients (id, name, secret_hash, created_at) VALUES ($1, $2, $3, $4)";
pub(crate) const CLIENTS: &str =
    "SELECT id, name, created_at FROM oauth_clients ORDER BY created_at, id";
pub(crate) const DELETE_CLIENT: &str = "DELETE FROM oauth_clients WHERE id = $1";
pub(crate) const CLIENT_SECRET: &str = "SELECT secret_hash FROM oauth_clients WHERE id = $1";

/// What a client's deletion is announced as to the other nodes: a revocation of this
/// pseudo-session, which their caches evict like any other, and acknowledge.
pub(crate) fn client_key(client_id: &str) -> String {
    format!("client:{client_id}")
}

#[cfg(test)]
mod tests {
    use super::insert_rows;

    #[test]
    fn insert_rows_numbers_placeholders_row_by_row() {
        assert_eq!(
            insert_rows("INSERT INTO t (a)", 1, 1),
            "INSERT INTO t (a) VALUES ($1)"
        );
        assert_eq!(
            insert_rows("INSERT INTO t (a, b, c)", 2, 3),
            "INSERT INTO t (a, b, c) VALUES ($1, $2, $3), ($4, $5, $6)"
        );
    }
}
