//! Operating Adieu: what an administrator does to accounts (through the admin API, with an
//! admin key), and what a user sees and does to their own account as a whole (their
//! activity, deleting it).
//!
//! Every call that ends sessions answers only once no node accepts them, as a logout does:
//! they go through the same [`Storage`](adieu_store::Storage) revocations.

use adieu_core::policy::millis;
use adieu_core::{Session, token};
use adieu_store::{
    AuditContext, AuditKind, AuditQuery, AuditRecord, Keep, Revocation, User, UserQuery,
    UserSummary,
};
use adieu_types::Secret;

use crate::client::rate_limit_key;
use crate::{ClientInfo, Error, Result, Sessions};

/// The most events or users one call answers.
pub const MAX_PAGE: u32 = 500;

/// An administrator: the admin key's name, and where the request came from.
#[derive(Debug, Clone)]
pub struct Admin {
    /// The key's name, recorded as the actor of every event.
    pub key_name: String,
    /// Where the request came from.
    pub client: ClientInfo,
}

impl Admin {
    pub(crate) fn audit(&self) -> AuditContext {
        AuditContext {
            actor: Some(self.key_name.clone()),
            ..self.client.audit()
        }
    }
}

/// One user and their active sessions, for the admin API.
#[derive(Debug, Clone)]
pub struct UserDetail {
    /// The user, with the count of `sessions`.
    pub user: UserSummary,
    /// Active sessions, newest first.
    pub sessions: Vec<Session>,
}

impl Sessions {
    /// Checks an admin key (`Bearer adieu_ak_…`) and answers who holds it. Failed attempts
    /// count per client IP; past the limit they get `RateLimited` instead of `InvalidToken`.
    /// (A key is 256 random bits, so the limit is against noise rather than guessing.)
    pub async fn admin(&self, presented: Option<&str>, client: &ClientInfo) -> Result<Admin> {
        let hash = presented.and_then(|p| token::parse_admin_key(p).ok());
        let name = match hash {
            Some(hash) => self.storage.store().admin_key(&hash).await?,
            None => None,
        };
        match name {
            Some(key_name) => Ok(Admin {
                key_name,
                client: client.clone(),
            }),
            None => {
                let ip = client.ip.as_deref().map(rate_limit_key).unwrap_or_default();
                self.admin_failures
                    .check(&ip)
                    .map_err(|retry_after| Error::RateLimited { retry_after })?;
                Err(Error::InvalidToken)
            }
        }
    }

    /// A page of users whose names contain `query`, after the name `after`.
    pub async fn list_users(
        &self,
        query: &str,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<UserSummary>> {
        let now = self.now();
        Ok(self
            .storage
            .store()
            .list_users(&UserQuery {
                query: query.to_owned(),
                after: after.map(str::to_owned),
                limit: limit.clamp(1, MAX_PAGE),
                idle_before: now - millis(self.policy.idle_timeout),
                created_before: now - millis(self.policy.absolute_timeout),
            })
            .await?)
    }

    /// One user with their active sessions.
    pub async fn user_detail(&self, user_id: &str) -> Result<UserDetail> {
        let user = self.user(user_id).await?;
        let sessions = self.sessions(&user.id).await?;
        Ok(UserDetail {
            user: UserSummary {
                id: user.id,
                username: user.username,
                created_at: user.created_at,
                disabled_at: user.disabled_at,
                active_sessions: sessions.len() as u64,
            },
            sessions,
        })
    }

    async fn user(&self, user_id: &str) -> Result<User> {
        self.storage
            .store()
            .user_by_id(user_id)
            .await?
            .ok_or(Error::NotFound)
    }

    /// Ends every session of a user; answers how many ended.
    pub async fn admin_logout_user(&self, admin: &Admin, user_id: &str) -> Result<u64> {
        let user = self.user(user_id).await?;
        let ids = self
            .storage
            .revoke_user_sessions(
                &user.id,
                &Keep::None,
                &self.by(admin, AuditKind::AdminRevoked),
            )
            .await?;
        self.metrics
            .sessions_ended(AuditKind::AdminRevoked, ids.len());
        tracing::info!(user.id = %user.id, admin = %admin.key_name, count = ids.len(), "admin ended every session of a user");
        Ok(ids.len() as u64)
    }

    /// Disables an account (ending every session; logins are refused from now on) or enables
    /// it again; answers how many sessions ended.
    pub async fn set_disabled(&self, admin: &Admin, user_id: &str, disabled: bool) -> Result<u64> {
        let kind = if disabled {
            AuditKind::UserDisabled
        } else {
            AuditKind::UserEnabled
        };
        let ids = self
            .storage
            .set_user_disabled(user_id, disabled, &self.by(admin, kind))
            .await?
            .ok_or(Error::NotFound)?;
        self.metrics.sessions_ended(kind, ids.len());
        tracing::info!(user.id = %user_id, admin = %admin.key_name, disabled, count = ids.len(), "account disabled or enabled");
        Ok(ids.len() as u64)
    }

    /// Deletes an account: every session ends everywhere, then the user and everything of
    /// theirs goes but one `user_deleted` event.
    pub async fn admin_delete_user(&self, admin: &Admin, user_id: &str) -> Result<u64> {
        let ids = self
            .storage
            .delete_user(user_id, &self.by(admin, AuditKind::UserDeleted))
            .await?
            .ok_or(Error::NotFound)?;
        self.metrics
            .sessions_ended(AuditKind::UserDeleted, ids.len());
        tracing::info!(user.id = %user_id, admin = %admin.key_name, count = ids.len(), "account deleted by an administrator");
        Ok(ids.len() as u64)
    }

    /// Ends one session, whoever's it is; `NotFound` unless it was live.
    pub async fn admin_revoke_session(&self, admin: &Admin, session_id: &str) -> Result<()> {
        let revoked = self
            .storage
            .revoke_session(
                session_id,
                AuditKind::AdminRevoked,
                self.now(),
                &admin.audit(),
            )
            .await?;
        if !revoked {
            return Err(Error::NotFound);
        }
        self.metrics.sessions_ended(AuditKind::AdminRevoked, 1);
        tracing::info!(session.id = %session_id, admin = %admin.key_name, "admin ended a session");
        Ok(())
    }

    /// Audit events, newest first.
    pub async fn audit_events(&self, mut query: AuditQuery) -> Result<Vec<AuditRecord>> {
        query.limit = query.limit.clamp(1, MAX_PAGE);
        Ok(self.storage.store().audit_events(&query).await?)
    }

    /// The caller's own account events, newest first: never another user's.
    pub async fn activity(&self, current: &Session, limit: u32) -> Result<Vec<AuditRecord>> {
        self.audit_events(AuditQuery {
            user_id: Some(current.user_id.clone()),
            limit,
            ..AuditQuery::default()
        })
        .await
    }

    /// Deletes the caller's own account after checking the password, rate-limited like a
    /// password change: every session ends everywhere, then the data goes.
    pub async fn delete_account(
        &self,
        current: &Session,
        password: &Secret,
        client: &ClientInfo,
    ) -> Result<u64> {
        let user = self
            .check_current_password(current, password, client)
            .await?;
        let revocation = Revocation {
            kind: AuditKind::UserDeleted,
            acting_session: Some(current.id.clone()),
            now: self.now(),
            context: client.audit(),
        };
        // Gone meanwhile (an administrator deleted it): the token is no longer valid.
        let ids = self
            .storage
            .delete_user(&user.id, &revocation)
            .await?
            .ok_or(Error::InvalidToken)?;
        self.metrics
            .sessions_ended(AuditKind::UserDeleted, ids.len());
        tracing::info!(user.id = %user.id, count = ids.len(), "account deleted by its owner");
        Ok(ids.len() as u64)
    }

    fn by(&self, admin: &Admin, kind: AuditKind) -> Revocation {
        Revocation {
            kind,
            acting_session: None,
            now: self.now(),
            context: admin.audit(),
        }
    }
}
