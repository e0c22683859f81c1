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
use crate::rows::{
    AdminKeyRow, AuditRow, ClientRow, EndedSessionRow, SessionRow, TokenRow, UserRow,
    UserSummaryRow, is_unique_violation,
};
use crate::{
    AdminKey, AuditContext, AuditEvent, AuditKind, AuditQuery, AuditRecord, Health, Keep, NewToken,
    OAuthClient, RefreshOutcome, Result, Revocation, Store, StoreError, TokenRecord, User,
    UserQuery, UserSummary, sql,
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
    for<'q> Option<i64>: Encode<'q, DB>,
    UserRow: for<'r> FromRow<'r, DB::Row>,
    UserSummaryRow: for<'r> FromRow<'r, DB::Row>,
    AuditRow: for<'r> FromRow<'r, DB::Row>,
    AdminKeyRow: for<'r> FromRow<'r, DB::Row>,
    EndedSessionRow: for<'r> FromRow<'r, DB::Row>,
    ClientRow: for<'r> FromRow<'r, DB::Row>,
    (Vec<u8>,): for<'r> FromRow<'r, DB::Row>,
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
        Self::insert_audits(&mut tx, &[event]).await?;
        tx.commit().await?;
        Ok(User {
            id,
            username: username.to_owned(),
            password_hash: password_hash.to_owned(),
            created_at: now,
            disabled_at: None,
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
        // The password may have changed while this login was being checked: the session
        // is stored only if the user's row, read under the backend's lock, still holds the
        // hash that was verified. A password change then either sees this session and ends
        // it, or this login sees the new hash and fails.
        if !Self::insert_verified_session(&mut tx, session, tokens, verified_hash).await? {
            return Ok(None);
        }
        let limit = AuditKind::SessionLimit;
        let ended: Vec<String> = sqlx::query_scalar(sql::END_SESSIONS_OVER_LIMIT)
            .bind(session.user_id.as_str())
            .bind(session.created_at)
            .bind(i64::from(max_sessions.saturating_sub(1)))
            .bind(session.id.as_str())
            .bind(limit.as_str())
            .fetch_all(&mut *tx)
            .await?;
        let context = AuditContext {
            ip: session.ip.clone(),
            user_agent: session.user_agent.clone(),
            actor: None,
        };
        let event = |kind, session_id: &str| AuditEvent {
            at: session.created_at,
            kind,
            user_id: Some(session.user_id.clone()),
            session_id: Some(session_id.to_owned()),
            context: context.clone(),
        };
        let events: Vec<AuditEvent> = std::iter::once(event(AuditKind::Login, &session.id))
            .chain(ended.iter().map(|id| event(limit, id)))
            .collect();
        Self::insert_audits(&mut tx, &events).await?;
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
                Self::insert_audits(&mut tx, &[event]).await?;
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
            Self::insert_audits(&mut tx, &[event]).await?;
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
        Self::insert_audits(&mut tx, &[event]).await?;
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
        Self::insert_audits(&mut tx, &[event]).await?;
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
        Self::insert_audits(&mut tx, std::slice::from_ref(event)).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn audit_log(&self, user_id: &str) -> Result<Vec<(String, Option<String>)>> {
        Ok(sqlx::query_as(sql::AUDIT_LOG)
            .bind(user_id)
            .fetch_all(self.reader())
            .await?)
    }

    async fn set_user_disabled(
        &self,
        user_id: &str,
        disabled: bool,
        revocation: &Revocation,
    ) -> Result<Option<Vec<String>>> {
        let (kind, now) = (revocation.kind, revocation.now);
        let mut tx = self.writer().begin().await?;
        // The update locks the user's row: a login waiting to create a session sees the mark
        // once this commits, and creates none.
        let done = sqlx::query(sql::SET_DISABLED)
            .bind(user_id)
            .bind(disabled.then_some(now))
            .execute(&mut *tx)
            .await?;
        if Self::rows_affected(&done) == 0 {
            return Ok(None);
        }
        let (ids, pending) = if disabled {
            self.revoke_user_in(&mut tx, user_id, &Keep::None, kind, now)
                .await?
        } else {
            (Vec::new(), None)
        };
        let event = AuditEvent {
            at: now,
            kind,
            user_id: Some(user_id.to_owned()),
            session_id: None,
            context: revocation.context.clone(),
        };
        Self::insert_audits(&mut tx, &[event]).await?;
        tx.commit().await?;
        self.confirm(pending).await?;
        Ok(Some(ids))
    }

    async fn delete_user(
        &self,
        user_id: &str,
        revocation: &Revocation,
    ) -> Result<Option<Vec<String>>> {
        let (kind, now) = (revocation.kind, revocation.now);
        let mut tx = self.writer().begin().await?;
        // Marking the account disabled first locks its row for the rest of the transaction,
        // so no login creates a session that the deletion would miss.
        let done = sqlx::query(sql::SET_DISABLED)
            .bind(user_id)
            .bind(Some(now))
            .execute(&mut *tx)
            .await?;
        if Self::rows_affected(&done) == 0 {
            return Ok(None);
        }
        let (ids, pending) = self
            .revoke_user_in(&mut tx, user_id, &Keep::None, kind, now)
            .await?;
        for statement in [
            sql::DELETE_USER_AUDIT,
            sql::DELETE_USER_TOKENS,
            sql::DELETE_USER_SESSIONS,
            sql::DELETE_USER,
        ] {
            sqlx::query(statement)
                .bind(user_id)
                .execute(&mut *tx)
                .await?;
        }
        // The one trace kept: that this id was deleted, and by which admin key if any. No
        // name, address or device.
        let event = AuditEvent {
            at: now,
            kind: AuditKind::UserDeleted,
            user_id: Some(user_id.to_owned()),
            session_id: None,
            context: AuditContext {
                actor: revocation.context.actor.clone(),
                ..AuditContext::default()
            },
        };
        Self::insert_audits(&mut tx, &[event]).await?;
        tx.commit().await?;
        self.confirm(pending).await?;
        self.forget_deleted().await?;
        Ok(Some(ids))
    }

    async fn list_users(&self, query: &UserQuery) -> Result<Vec<UserSummary>> {
        // A LIKE pattern that matches the query literally, wherever it is in the name.
        let mut pattern = String::from("%");
        for c in query.query.to_lowercase().chars() {
            if matches!(c, '%' | '_' | '\\') {
                pattern.push('\\');
            }
            pattern.push(c);
        }
        pattern.push('%');
        let rows: Vec<UserSummaryRow> = sqlx::query_as(sql::LIST_USERS)
            .bind(pattern.as_str())
            .bind(query.after.as_deref().unwrap_or(""))
            .bind(i64::from(query.limit))
            .bind(query.idle_before)
            .bind(query.created_before)
            .fetch_all(self.reader())
            .await?;
        Ok(rows.into_iter().map(Into::into).collect())
    }

    async fn audit_events(&self, query: &AuditQuery) -> Result<Vec<AuditRecord>> {
        let rows: Vec<AuditRow> = sqlx::query_as(sql::AUDIT_EVENTS)
            .bind(query.user_id.as_deref())
            .bind(query.kind.map(AuditKind::as_str))
            .bind(query.since)
            .bind(i64::from(query.limit))
            .fetch_all(self.reader())
            .await?;
        Ok(rows.into_iter().map(Into::into).collect())
    }

    async fn create_admin_key(&self, name: &str, hash: &TokenHash, now: UnixMillis) -> Result<()> {
        let inserted = sqlx::query(sql::INSERT_ADMIN_KEY)
            .bind(name)
            .bind(hash.as_bytes().as_slice())
            .bind(now)
            .execute(self.writer())
            .await;
        match inserted {
            Err(e) if is_unique_violation(&e) => Err(StoreError::KeyNameTaken),
            other => other.map(|_| ()).map_err(Into::into),
        }
    }

    async fn admin_keys(&self) -> Result<Vec<AdminKey>> {
        let rows: Vec<AdminKeyRow> = sqlx::query_as(sql::ADMIN_KEYS)
            .fetch_all(self.reader())
            .await?;
        Ok(rows.into_iter().map(Into::into).collect())
    }

    async fn revoke_admin_key(&self, name: &str, now: UnixMillis) -> Result<bool> {
        let done = sqlx::query(sql::REVOKE_ADMIN_KEY)
            .bind(name)
            .bind(now)
            .execute(self.writer())
            .await?;
        Ok(Self::rows_affected(&done) > 0)
    }

    async fn admin_key(&self, hash: &TokenHash) -> Result<Option<String>> {
        // A key revoked on another node must stop at once here too: always the database.
        Ok(sqlx::query_scalar(sql::ADMIN_KEY_BY_HASH)
            .bind(hash.as_bytes().as_slice())
            .fetch_optional(self.reader())
            .await?)
    }

    async fn create_client(
        &self,
        client: &OAuthClient,
        secret_hash: &TokenHash,
        context: &AuditContext,
    ) -> Result<()> {
        let mut tx = self.writer().begin().await?;
        sqlx::query(sql::INSERT_CLIENT)
            .bind(client.id.as_str())
            .bind(client.name.as_str())
            .bind(secret_hash.as_bytes().as_slice())
            .bind(client.created_at)
            .execute(&mut *tx)
            .await?;
        let event = AuditEvent {
            at: client.created_at,
            kind: AuditKind::ClientCreated,
            user_id: None,
            session_id: None,
            context: context.clone(),
        };
        Self::insert_audits(&mut tx, &[event]).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn clients(&self) -> Result<Vec<OAuthClient>> {
        let rows: Vec<ClientRow> = sqlx::query_as(sql::CLIENTS)
            .fetch_all(self.reader())
            .await?;
        Ok(rows.into_iter().map(Into::into).collect())
    }

    async fn delete_client(
        &self,
        client_id: &str,
        now: UnixMillis,
        context: &AuditContext,
    ) -> Result<bool> {
        let mut tx = self.writer().begin().await?;
        let done = sqlx::query(sql::DELETE_CLIENT)
            .bind(client_id)
            .execute(&mut *tx)
            .await?;
        if Self::rows_affected(&done) == 0 {
            return Ok(false);
        }
        let event = AuditEvent {
            at: now,
            kind: AuditKind::ClientDeleted,
            user_id: None,
            session_id: None,
            context: context.clone(),
        };
        Self::insert_audits(&mut tx, &[event]).await?;
        let pending = self
            .publish_revoked(&mut tx, &[sql::client_key(client_id)])
            .await?;
        tx.commit().await?;
        self.confirm(Some(pending)).await?;
        Ok(true)
    }

    async fn client_secret(&self, client_id: &str) -> Result<Option<TokenHash>> {
        let row: Option<(Vec<u8>,)> = sqlx::query_as(sql::CLIENT_SECRET)
            .bind(client_id)
            .fetch_optional(self.reader())
            .await?;
        row.map(|(bytes,)| {
            TokenHash::from_slice(&bytes).ok_or(StoreError::Corrupt("client secret hash"))
        })
        .transpose()
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
        let mut tx = self.writer().begin().await?;
        let deleted: Vec<EndedSessionRow> = sqlx::query_as(sql::DELETE_ENDED_SESSIONS)
            .bind(absolute)
            .bind(idle)
            .bind(i64::from(batch))
            .fetch_all(&mut *tx)
            .await?;
        // A session nobody revoked ended by a timeout: its owner's activity says so, at the
        // moment it ended.
        for row in deleted.iter().filter(|r| r.revoked_at.is_none()) {
            let ended_at = (row.last_active_at + millis(policy.idle_timeout))
                .min(policy.absolute_expiry(row.created_at));
            let event = AuditEvent {
                at: ended_at.min(now),
                kind: AuditKind::SessionExpired,
                user_id: Some(row.user_id.clone()),
                session_id: Some(row.id.clone()),
                context: AuditContext::default(),
            };
            Self::insert_audits(&mut tx, &[event]).await?;
        }
        tx.commit().await?;
        Ok(deleted.len() as u64)
    }

    async fn delete_audit_before(&self, before: UnixMillis, batch: u32) -> Result<u64> {
        let done = sqlx::query(sql::DELETE_OLD_AUDIT)
            .bind(before)
            .bind(i64::from(batch))
            .execute(self.writer())
            .await?;
        Ok(Self::rows_affected(&done))
    }

    #[cfg(feature = "bench")]
    async fn seed(&self, users: &[User], sessions: &[(Session, Vec<NewToken>)]) -> Result<()> {
        let mut tx = self.writer().begin().await?;
        for user in users {
            sqlx::query(sql::INSERT_USER)
                .bind(user.id.as_str())
                .bind(user.username.as_str())
                .bind(user.password_hash.as_str())
                .bind(user.created_at)
                .execute(&mut *tx)
                .await?;
        }
        for (session, tokens) in sessions {
            Self::insert_session(&mut tx, session, tokens).await?;
        }
        tx.commit().await?;
        Ok(())
    }
}
