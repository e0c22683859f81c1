//! Sessions in use: checking a token, ending sessions, refreshing a pair, and deleting what
//! has ended.

use std::ops::Deref;
use std::sync::Arc;

use adieu_core::policy;
use adieu_core::token;
use adieu_core::{Session, TokenHash, TokenKind};
use adieu_store::{AuditKind, Keep, RefreshOutcome, Revocation, TokenRecord};

use crate::{ApiTokens, ClientInfo, Error, Result, Sessions};

/// The live session a token check found, shared with the node's token cache rather than
/// copied out of it: a check answered from memory allocates nothing for the session.
#[derive(Debug, Clone)]
pub struct LiveSession(Arc<TokenRecord>);

impl Deref for LiveSession {
    type Target = Session;

    fn deref(&self) -> &Session {
        &self.0.session
    }
}

impl Sessions {
    /// Resolves a presented token to its live session, or fails with `InvalidToken`.
    ///
    /// Answers from the node's coherent cache or the database: once a revocation has
    /// answered, no node accepts the session, so the very next request is refused.
    pub async fn authenticate(&self, kind: TokenKind, presented: &str) -> Result<LiveSession> {
        Ok(LiveSession(self.live_token(kind, presented).await?))
    }

    /// Like [`authenticate`](Self::authenticate), with the token's own record (its kind,
    /// issue and expiry times), for introspection.
    pub async fn live_token(&self, kind: TokenKind, presented: &str) -> Result<Arc<TokenRecord>> {
        let checked = self.check(kind, presented).await;
        match &checked {
            Ok(_) => self.metrics.token_check(true),
            Err(Error::InvalidToken) => self.metrics.token_check(false),
            // A storage failure says nothing about the token.
            Err(_) => {}
        }
        checked
    }

    async fn check(&self, kind: TokenKind, presented: &str) -> Result<Arc<TokenRecord>> {
        let hash = token::parse(kind, presented).map_err(|_| Error::InvalidToken)?;
        let now = self.now();
        let mut record = self.storage.token(&hash).await?;
        if !record.as_ref().is_some_and(|r| self.is_live(r, kind, now)) && record.is_some() {
            // A cached copy may know an older `last_active_at` than another node wrote:
            // a refusal is always confirmed by the database.
            record = self.storage.token_from_database(&hash).await?;
        }
        let record = record
            .filter(|r| self.is_live(r, kind, now))
            .ok_or(Error::InvalidToken)?;
        if record.session.activity_due(&self.policy, now) {
            self.storage.touch_session(&record.session.id, now).await?;
        }
        Ok(record)
    }

    fn is_live(&self, record: &TokenRecord, kind: TokenKind, now: i64) -> bool {
        record.kind == kind
            && now < record.expires_at
            && record.spent_at.is_none()
            && record.session.is_active(&self.policy, now)
    }

    /// Finds the session a well-formed token names, whatever its state: logout must work with
    /// an expired access token too.
    async fn session_of(&self, hash: &TokenHash) -> Result<Option<Arc<TokenRecord>>> {
        Ok(self.storage.token(hash).await?)
    }

    /// Ends the session a token belongs to. Unknown, expired and already-ended tokens succeed
    /// silently, so the answer tells nothing about the token.
    pub async fn logout(
        &self,
        kind: TokenKind,
        presented: &str,
        client: &ClientInfo,
    ) -> Result<()> {
        let hash = token::parse(kind, presented).map_err(|_| Error::InvalidToken)?;
        if let Some(record) = self.session_of(&hash).await? {
            if record.kind == kind {
                self.end_session(&record.session.id, AuditKind::Logout, client)
                    .await?;
            }
        }
        Ok(())
    }

    /// Ends one session by id; the caller has checked that it may.
    async fn end_session(
        &self,
        session_id: &str,
        kind: AuditKind,
        client: &ClientInfo,
    ) -> Result<bool> {
        let revoked = self
            .storage
            .revoke_session(session_id, kind, self.now(), &client.audit())
            .await?;
        if revoked {
            self.metrics.sessions_ended(kind, 1);
            tracing::info!(session.id = %session_id, reason = kind.as_str(), "session ended");
        }
        Ok(revoked)
    }

    /// Ends every session of the caller's user, the caller's included.
    pub async fn logout_all(&self, current: &Session, client: &ClientInfo) -> Result<u64> {
        let ids = self
            .storage
            .revoke_user_sessions(
                &current.user_id,
                &Keep::None,
                &Revocation {
                    kind: AuditKind::LogoutAll,
                    acting_session: Some(current.id.clone()),
                    now: self.now(),
                    context: client.audit(),
                },
            )
            .await?;
        self.metrics.sessions_ended(AuditKind::LogoutAll, ids.len());
        tracing::info!(user.id = %current.user_id, count = ids.len(), "all sessions ended");
        Ok(ids.len() as u64)
    }

    /// Ends one of the caller's own sessions; another user's looks the same as a missing one.
    pub async fn revoke_own(
        &self,
        current: &Session,
        target: &str,
        client: &ClientInfo,
    ) -> Result<()> {
        let owned = self
            .sessions(&current.user_id)
            .await?
            .into_iter()
            .any(|s| s.id == target);
        if !owned {
            return Err(Error::NotFound);
        }
        self.end_session(target, AuditKind::SessionRevoked, client)
            .await?;
        Ok(())
    }

    /// The user's live sessions, newest first.
    pub async fn sessions(&self, user_id: &str) -> Result<Vec<Session>> {
        let now = self.now();
        let mut sessions = self.storage.store().user_sessions(user_id).await?;
        sessions.retain(|s| s.is_active(&self.policy, now));
        Ok(sessions)
    }

    /// Exchanges a refresh token for a new pair. A token spent before is theft: the session
    /// ends and every token of it, the thief's and the owner's, stops working.
    pub async fn refresh(&self, presented: &str, client: &ClientInfo) -> Result<ApiTokens> {
        let hash = token::parse(TokenKind::Refresh, presented).map_err(|_| Error::InvalidToken)?;
        if !self.refresh_delay.is_zero() {
            tokio::time::sleep(self.refresh_delay).await;
        }
        let now = self.now();
        let access = token::issue(TokenKind::Access);
        let refresh = token::issue(TokenKind::Refresh);
        // One transaction reads the session, spends the old token and stores the new pair
        // with expiries derived from the session's age (`Policy::token_pair`).
        match self
            .storage
            .rotate_refresh(
                &hash,
                [access.hash, refresh.hash],
                &self.policy,
                now,
                &client.audit(),
            )
            .await?
        {
            RefreshOutcome::Rotated(session) => Ok(ApiTokens {
                expires_in: self.expires_in(&session, now),
                session,
                access,
                refresh,
            }),
            RefreshOutcome::Reused {
                session_id,
                user_id,
            } => {
                self.metrics.refresh_reuse();
                self.metrics
                    .sessions_ended(AuditKind::RefreshReuseDetected, 1);
                tracing::warn!(session.id = %session_id, user.id = %user_id, "refresh token reused: session revoked");
                Err(Error::InvalidToken)
            }
            RefreshOutcome::Invalid => Err(Error::InvalidToken),
        }
    }

    /// Counts the live sessions of all users (one query) and records the count.
    pub async fn count_active_sessions(&self) -> Result<u64> {
        let count = self
            .storage
            .store()
            .count_active_sessions(&self.policy, self.now())
            .await?;
        self.metrics.set_active_sessions(count);
        Ok(count)
    }

    /// Deletes audit events older than the retention, in batches; returns how many went.
    pub async fn delete_old_audit(&self, batch: u32) -> Result<u64> {
        let before = self.now() - policy::millis(self.audit_retention);
        let mut total = 0;
        loop {
            let n = self
                .storage
                .store()
                .delete_audit_before(before, batch)
                .await?;
            total += n;
            if n < u64::from(batch) {
                return Ok(total);
            }
        }
    }

    /// Deletes sessions that have ended, in batches; returns how many went.
    pub async fn delete_ended(&self, batch: u32) -> Result<u64> {
        let mut total = 0;
        loop {
            let n = self
                .storage
                .store()
                .delete_ended_sessions(&self.policy, self.now(), batch)
                .await?;
            total += n;
            if n < u64::from(batch) {
                return Ok(total);
            }
        }
    }
}
