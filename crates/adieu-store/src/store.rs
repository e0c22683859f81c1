//! The one implementation of [`Store`], for every SQL [`Backend`]: "go to definition" on a
//! store method lands here.
//!
//! It is a blanket `impl Store for B where B: Backend` rather than a wrapper `SqlStore<B>`:
//! `SqliteStore` and `PostgresStore` stay the public types, each with its [`Backend`] hooks
//! as its only per-backend code, where a wrapper would need the backend types public as well
//! (to name `SqlStore<SqliteBackend>`).
//!
//! `DB` names `B::Db` to keep the bounds short. They repeat [`Backend`]'s `where` clause,
//! which Rust does not yet imply (see there).

use adieu_core::policy::millis;
use adieu_core::{Policy, Session, TokenHash, TokenKind, UnixMillis, new_id};
use async_trait::async_trait;
use sqlx::{Database, Encode, Executor, FromRow, IntoArguments, Type};

use crate::backend::Backend;
use crate::rows::{SessionRow, TokenRow, UserRow, is_unique_violation};
use crate::{
    AuditContext, AuditEvent, AuditKind, Health, Keep, NewToken, RefreshOutcome, Result,
    Revocation, Store, StoreError, TokenRecord, User, sql,
};

#[async_trait]
impl<B, DB> Store for B
where
    B: Backend<Db = DB>,
    DB: Database,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
    for<'q> &'q str: Encode<'q, DB> + Type<DB>,
    for<'q> Option<&'q str>: Encode<'q, DB>,
    for<'q> &'q [u8]: Encode<'q, DB> + Type<DB>,
    for<'q> i64: Encode<'q, DB> + Type<DB>,
    UserRow: for<'r> FromRow<'r, DB::Row>,
    SessionRow: for<'r> FromRow<'r, DB::Row>,
    TokenRow: for<'r> FromRow<'r, DB::Row>,
    (String,): for<'r> FromRow<'r, DB::Row>,
    (i64,): for<'r> FromRow<'r, DB::Row>,
    (String, i64): for<'r> FromRow<'r, DB::Row>,
    (String, String): for<'r> FromRow<'r, DB::Row>,
    (String, Option<String>): for<'r> FromRow<'r, DB::Row>,
{
    fn health(&self) -> Health {
        self.health_of()
    }

    async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(self.reader()).await?;
        Ok(())
    }

    async fn create_user(
        &self,
        username: &str,
        password_hash: &str,
        now: UnixMillis,
        context: &AuditContext,
    ) -> Result<User> {
        let id = new_id();
        let mut tx = self.writer().begin().await?;
        let inserted = sqlx::query(sql::INSERT_USER)
            .bind(id.as_str())
            .bind(username)
            .bind(password_hash)
            .bind(now)
            .execute(&mut *tx)
            .await;
        match inserted {
            Err(e) if is_unique_violation(&e) => {
                return Err(StoreError::UsernameTaken);
            }
            other => other?,
        };
        let event = AuditEvent {
            at: now,
            kind: AuditKind::Register,
            user_id: Some(id.clone()),
            session_id: None,
            context: context.clone(),
        };
        Self::insert_audit(&mut tx, &event).await?;
        tx.commit().await?;
        Ok(User {
            id,
            username: username.to_owned(),
            password_hash: password_hash.to_owned(),
        })
    }

    async fn user_by_name(&self, username: &str) -> Result<Option<User>> {
        let row: Option<UserRow> = sqlx::query_as(sql::USER_BY_NAME)
            .bind(username)
            .fetch_optional(self.reader())
            .await?;
        Ok(row.map(Into::into))
    }

    async fn user_by_id(&self, user_id: &str) -> Result<Option<User>> {
        let row: Option<UserRow> = sqlx::query_as(sql::USER_BY_ID)
            .bind(user_id)
            .fetch_optional(self.reader())
            .await?;
        Ok(row.map(Into::into))
    }

    async fn create_session(
        &self,
        session: &Session,
        tokens: &[NewToken],
        verified_hash: &str,
        max_sessions: u32,
    ) -> Result<Option<Vec<String>>> {
        let mut tx = self.writer().begin().await?;
        // The password may have changed while this login was being checked: lock the
        // user's row and create the session only if it still holds the hash that was
        // verified. A password change then either sees this session and ends it, or
        // this login sees the new hash and fails.
        let current: Option<String> = sqlx::query_scalar(Self::USER_HASH_LOCKED)
            .bind(session.user_id.as_str())
            .fetch_optional(&mut *tx)
            .await?;
        if current.as_deref() != Some(verified_hash) {
            return Ok(None);
        }
        sqlx::query(sql::INSERT_SESSION)
            .bind(session.id.as_str())
            .bind(session.user_id.as_str())
            .bind(session.kind.as_str())
            .bind(session.created_at)
            .bind(session.last_active_at)
            .bind(session.user_agent.as_deref())
            .bind(session.ip.as_deref())
            .execute(&mut *tx)
            .await?;
        Self::insert_tokens(&mut tx, &session.id, tokens, session.created_at).await?;
        let context = AuditContext {
            ip: session.ip.clone(),
            user_agent: session.user_agent.clone(),
        };
        let event = AuditEvent {
            at: session.created_at,
            kind: AuditKind::Login,
            user_id: Some(session.user_id.clone()),
            session_id: Some(session.id.clone()),
            context: context.clone(),
        };
        Self::insert_audit(&mut tx, &event).await?;
        let limit = AuditKind::SessionLimit;
        let ended: Vec<String> = sqlx::query_scalar(sql::END_SESSIONS_OVER_LIMIT)
            .bind(session.user_id.as_str())
            .bind(session.created_at)
            .bind(i64::from(max_sessions.saturating_sub(1)))
            .bind(session.id.as_str())
            .bind(limit.as_str())
            .fetch_all(&mut *tx)
            .await?;
        for id in &ended {
            let event = AuditEvent {
                at: session.created_at,
                kind: limit,
                user_id: Some(session.user_id.clone()),
                session_id: Some(id.clone()),
                context: context.clone(),
            };
            Self::insert_audit(&mut tx, &event).await?;
        }
        let pending = if ended.is_empty() {
            None
        } else {
            Some(self.publish_revoked(&mut tx, &ended).await?)
        };
        tx.commit().await?;
        self.confirm(pending).await?;
        Ok(Some(ended))
    }

    async fn token(&self, hash: &TokenHash) -> Result<Option<TokenRecord>> {
        let row: Option<TokenRow> = sqlx::query_as(&sql::token_by_hash())
            .bind(hash.as_bytes().as_slice())
            .fetch_optional(self.reader())
            .await?;
        row.map(TryInto::try_into).transpose()
    }

    async fn touch_session(&self, session_id: &str, now: UnixMillis) -> Result<()> {
        sqlx::query(sql::TOUCH_SESSION)
            .bind(session_id)
            .bind(now)
            .execute(self.writer())
            .await?;
        Ok(())
    }

    async fn rotate_refresh(
        &self,
        old: &TokenHash,
        new: [TokenHash; 2],
        policy: &Policy,
        now: UnixMillis,
        context: &AuditContext,
    ) -> Result<RefreshOutcome> {
        let mut tx = self.writer().begin().await?;
        let spent: Option<(String, i64)> = sqlx::query_as(sql::SPEND_REFRESH)
            .bind(old.as_bytes().as_slice())
            .bind(now)
            .fetch_optional(&mut *tx)
            .await?;
        let Some((session_id, expires_at)) = spent else {
            // Unknown, or spent before: the latter is theft, and ends the session.
            let owner: Option<(String, String)> = sqlx::query_as(sql::REFRESH_OWNER)
                .bind(old.as_bytes().as_slice())
                .fetch_optional(&mut *tx)
                .await?;
            let Some((session_id, user_id)) = owner else {
                return Ok(RefreshOutcome::Invalid);
            };
            let kind = AuditKind::RefreshReuseDetected;
            let (revoked, pending) = self.revoke_in(&mut tx, &session_id, kind, now).await?;
            if revoked {
                let event = AuditEvent {
                    at: now,
                    kind,
                    user_id: Some(user_id.clone()),
                    session_id: Some(session_id.clone()),
                    context: context.clone(),
                };
                Self::insert_audit(&mut tx, &event).await?;
            }
            tx.commit().await?;
            self.confirm(pending).await?;
            return Ok(RefreshOutcome::Reused {
                session_id,
                user_id,
            });
        };
        let Some(mut session) = Self::load_session(&mut tx, &session_id).await? else {
            return Ok(RefreshOutcome::Invalid);
        };
        if expires_at <= now || !session.is_active(policy, now) {
            // Nothing worth keeping: the token was useless anyway.
            return Ok(RefreshOutcome::Invalid);
        }
        let [access, refresh] = new;
        let expiry = policy.token_pair(now, session.created_at);
        let tokens = [
            NewToken {
                hash: access,
                kind: TokenKind::Access,
                expires_at: expiry.access,
            },
            NewToken {
                hash: refresh,
                kind: TokenKind::Refresh,
                expires_at: expiry.refresh,
            },
        ];
        Self::insert_tokens(&mut tx, &session_id, &tokens, now).await?;
        sqlx::query(sql::TOUCH_FOR_REFRESH)
            .bind(session_id.as_str())
            .bind(now)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        session.last_active_at = now;
        Ok(RefreshOutcome::Rotated(session))
    }

    async fn revoke_session(
        &self,
        session_id: &str,
        kind: AuditKind,
        now: UnixMillis,
        context: &AuditContext,
    ) -> Result<bool> {
        let mut tx = self.writer().begin().await?;
        let Some(session) = Self::load_session(&mut tx, session_id).await? else {
            return Ok(false);
        };
        let (revoked, pending) = self.revoke_in(&mut tx, session_id, kind, now).await?;
        if revoked {
            let event = AuditEvent {
                at: now,
                kind,
                user_id: Some(session.user_id),
                session_id: Some(session.id),
                context: context.clone(),
            };
            Self::insert_audit(&mut tx, &event).await?;
        }
        tx.commit().await?;
        self.confirm(pending).await?;
        Ok(revoked)
    }

    async fn revoke_user_sessions(
        &self,
        user_id: &str,
        keep: &Keep,
        revocation: &Revocation,
    ) -> Result<Vec<String>> {
        let (kind, now) = (revocation.kind, revocation.now);
        let mut tx = self.writer().begin().await?;
        let (ids, pending) = self
            .revoke_user_in(&mut tx, user_id, keep, kind, now)
            .await?;
        let event = AuditEvent {
            at: now,
            kind,
            user_id: Some(user_id.to_owned()),
            session_id: revocation.acting_session.clone(),
            context: revocation.context.clone(),
        };
        Self::insert_audit(&mut tx, &event).await?;
        tx.commit().await?;
        self.confirm(pending).await?;
        Ok(ids)
    }

    async fn change_password(
        &self,
        user_id: &str,
        new_hash: &str,
        keep_session: &str,
        now: UnixMillis,
        context: &AuditContext,
    ) -> Result<Vec<String>> {
        let (kind, keep) = (
            AuditKind::PasswordChanged,
            Keep::One(keep_session.to_owned()),
        );
        let mut tx = self.writer().begin().await?;
        sqlx::query(sql::UPDATE_PASSWORD)
            .bind(user_id)
            .bind(new_hash)
            .execute(&mut *tx)
            .await?;
        let (ids, pending) = self
            .revoke_user_in(&mut tx, user_id, &keep, kind, now)
            .await?;
        let event = AuditEvent {
            at: now,
            kind,
            user_id: Some(user_id.to_owned()),
            session_id: Some(keep_session.to_owned()),
            context: context.clone(),
        };
        Self::insert_audit(&mut tx, &event).await?;
        tx.commit().await?;
        self.confirm(pending).await?;
        Ok(ids)
    }

    async fn user_sessions(&self, user_id: &str) -> Result<Vec<Session>> {
        let rows: Vec<SessionRow> = sqlx::query_as(&sql::user_sessions())
            .bind(user_id)
            .fetch_all(self.reader())
            .await?;
        rows.into_iter().map(TryInto::try_into).collect()
    }

    async fn count_active_sessions(&self, policy: &Policy, now: UnixMillis) -> Result<u64> {
        let (count,): (i64,) = sqlx::query_as(sql::COUNT_ACTIVE_SESSIONS)
            .bind(now - millis(policy.absolute_timeout))
            .bind(now - millis(policy.idle_timeout))
            .fetch_one(self.reader())
            .await?;
        u64::try_from(count).map_err(|_| StoreError::Corrupt("negative count"))
    }

    async fn audit(&self, event: &AuditEvent) -> Result<()> {
        let mut tx = self.writer().begin().await?;
        Self::insert_audit(&mut tx, event).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn audit_log(&self, user_id: &str) -> Result<Vec<(String, Option<String>)>> {
        Ok(sqlx::query_as(sql::AUDIT_LOG)
            .bind(user_id)
            .fetch_all(self.reader())
            .await?)
    }

    async fn close(&self) {
        self.release_lease().await;
    }

    async fn delete_ended_sessions(
        &self,
        policy: &Policy,
        now: UnixMillis,
        batch: u32,
    ) -> Result<u64> {
        let absolute = now - millis(policy.absolute_timeout);
        let idle = now - millis(policy.idle_timeout);
        let done = sqlx::query(sql::DELETE_ENDED_SESSIONS)
            .bind(absolute)
            .bind(idle)
            .bind(i64::from(batch))
            .execute(self.writer())
            .await?;
        Ok(Self::rows_affected(&done))
    }

    async fn delete_audit_before(&self, before: UnixMillis, batch: u32) -> Result<u64> {
        let done = sqlx::query(sql::DELETE_OLD_AUDIT)
            .bind(before)
            .bind(i64::from(batch))
            .execute(self.writer())
            .await?;
        Ok(Self::rows_affected(&done))
    }
}
