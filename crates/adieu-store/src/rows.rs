//! Rows as the database returns them, and their conversion into domain types.

use adieu_core::{Session, SessionKind, TokenKind};

use crate::{AdminKey, AuditRecord, OAuthClient, StoreError, TokenRecord, User, UserSummary};

#[derive(sqlx::FromRow)]
pub(crate) struct UserRow {
    id: String,
    username: String,
    password_hash: String,
    created_at: i64,
    disabled_at: Option<i64>,
}

impl From<UserRow> for User {
    fn from(row: UserRow) -> Self {
        Self {
            id: row.id,
            username: row.username,
            password_hash: row.password_hash,
            created_at: row.created_at,
            disabled_at: row.disabled_at,
        }
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct UserSummaryRow {
    id: String,
    username: String,
    created_at: i64,
    disabled_at: Option<i64>,
    active_sessions: i64,
}

impl From<UserSummaryRow> for UserSummary {
    fn from(row: UserSummaryRow) -> Self {
        Self {
            id: row.id,
            username: row.username,
            created_at: row.created_at,
            disabled_at: row.disabled_at,
            active_sessions: u64::try_from(row.active_sessions).unwrap_or(0),
        }
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct AuditRow {
    id: i64,
    at: i64,
    event: String,
    user_id: Option<String>,
    session_id: Option<String>,
    ip: Option<String>,
    user_agent: Option<String>,
    actor: Option<String>,
}

impl From<AuditRow> for AuditRecord {
    fn from(row: AuditRow) -> Self {
        Self {
            id: row.id,
            at: row.at,
            kind: row.event,
            user_id: row.user_id,
            session_id: row.session_id,
            ip: row.ip,
            user_agent: row.user_agent,
            actor: row.actor,
        }
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct AdminKeyRow {
    name: String,
    created_at: i64,
    revoked_at: Option<i64>,
}

impl From<AdminKeyRow> for AdminKey {
    fn from(row: AdminKeyRow) -> Self {
        Self {
            name: row.name,
            created_at: row.created_at,
            revoked_at: row.revoked_at,
        }
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct SessionRow {
    id: String,
    user_id: String,
    username: String,
    kind: String,
    created_at: i64,
    last_active_at: i64,
    revoked_at: Option<i64>,
    user_agent: Option<String>,
    ip: Option<String>,
}

impl TryFrom<SessionRow> for Session {
    type Error = StoreError;

    fn try_from(row: SessionRow) -> Result<Self, StoreError> {
        Ok(Self {
            kind: SessionKind::from_db(&row.kind).ok_or(StoreError::Corrupt("session kind"))?,
            id: row.id,
            user_id: row.user_id,
            username: row.username,
            created_at: row.created_at,
            last_active_at: row.last_active_at,
            revoked_at: row.revoked_at,
            user_agent: row.user_agent,
            ip: row.ip,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct TokenRow {
    token_kind: String,
    token_expires_at: i64,
    token_created_at: i64,
    spent_at: Option<i64>,
    #[sqlx(flatten)]
    session: SessionRow,
}

impl TryFrom<TokenRow> for TokenRecord {
    type Error = StoreError;

    fn try_from(row: TokenRow) -> Result<Self, StoreError> {
        Ok(Self {
            kind: TokenKind::from_db(&row.token_kind).ok_or(StoreError::Corrupt("token kind"))?,
            expires_at: row.token_expires_at,
            issued_at: row.token_created_at,
            spent_at: row.spent_at,
            session: row.session.try_into()?,
        })
    }
}

/// Whether a driver error is a unique-constraint violation.
pub(crate) fn is_unique_violation(err: &sqlx::Error) -> bool {
    matches!(err, sqlx::Error::Database(e) if e.is_unique_violation())
}

/// A session the clean-up deleted.
#[derive(sqlx::FromRow)]
pub(crate) struct EndedSessionRow {
    pub(crate) id: String,
    pub(crate) user_id: String,
    pub(crate) created_at: i64,
    pub(crate) last_active_at: i64,
    pub(crate) revoked_at: Option<i64>,
}

#[derive(sqlx::FromRow)]
pub(crate) struct ClientRow {
    id: String,
    name: String,
    created_at: i64,
}

impl From<ClientRow> for OAuthClient {
    fn from(row: ClientRow) -> Self {
        Self {
            id: row.id,
            name: row.name,
            created_at: row.created_at,
        }
    }
}
