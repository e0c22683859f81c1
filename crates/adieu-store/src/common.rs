//! The body of [`Store`](crate::Store), written once for both backends.
//!
//! sqlx's generic bounds over "any database" grow unreadable quickly, so the shared
//! implementation is a macro instantiated per backend. Each backend type provides:
//! - `fn reader(&self) -> &sqlx::Pool<DB>` and `fn writer(&self) -> &sqlx::Pool<DB>`;
//! - `async fn publish_revoked(&self, tx, ids) -> Result<Option<Pending>>`, called inside every
//!   transaction that revokes sessions, before it commits (PostgreSQL notifies other nodes
//!   there), and `async fn confirm_revoked(&self, pending)`, called after the commit and
//!   before the method returns (PostgreSQL waits for the other nodes there);
//! - `fn health_of(&self) -> Health` and `async fn release_lease(&self)`;
//! - `const USER_HASH_LOCKED: &str`, reading a user's password hash under a lock that a
//!   password change must wait for.

macro_rules! impl_store {
    ($store:ty, $db:ty) => {
        impl $store {
            async fn insert_audit(
                tx: &mut sqlx::Transaction<'_, $db>,
                event: &$crate::AuditEvent,
            ) -> $crate::Result<()> {
                sqlx::query($crate::sql::INSERT_AUDIT)
                    .bind(event.at)
                    .bind(event.kind.as_str())
                    .bind(event.user_id.as_deref())
                    .bind(event.session_id.as_deref())
                    .bind(event.context.ip.as_deref())
                    .bind(event.context.user_agent.as_deref())
                    .execute(&mut **tx)
                    .await?;
                Ok(())
            }

            async fn load_session(
                tx: &mut sqlx::Transaction<'_, $db>,
                session_id: &str,
            ) -> $crate::Result<Option<adieu_core::Session>> {
                let row: Option<$crate::rows::SessionRow> =
                    sqlx::query_as(&$crate::sql::session_by_id())
                        .bind(session_id)
                        .fetch_optional(&mut **tx)
                        .await?;
                row.map(TryInto::try_into).transpose()
            }

            async fn insert_tokens(
                tx: &mut sqlx::Transaction<'_, $db>,
                session_id: &str,
                tokens: &[$crate::NewToken],
                now: adieu_core::UnixMillis,
            ) -> $crate::Result<()> {
                for token in tokens {
                    sqlx::query($crate::sql::INSERT_TOKEN)
                        .bind(token.hash.as_bytes().as_slice())
                        .bind(session_id)
                        .bind(token.kind.as_str())
                        .bind(now)
                        .bind(token.expires_at)
                        .execute(&mut **tx)
                        .await?;
                }
                Ok(())
            }

            async fn revoke_in(
                &self,
                tx: &mut sqlx::Transaction<'_, $db>,
                session_id: &str,
                kind: $crate::AuditKind,
                now: adieu_core::UnixMillis,
            ) -> $crate::Result<(bool, Option<$crate::cluster::Pending>)> {
                let done = sqlx::query($crate::sql::REVOKE_SESSION)
                    .bind(session_id)
                    .bind(now)
                    .bind(kind.as_str())
                    .execute(&mut **tx)
                    .await?
                    .rows_affected()
                    > 0;
                // Published even when someone else ended it first: their answer may still be
                // waiting for the other nodes, and ours must not come sooner.
                let pending = self.publish_revoked(tx, &[session_id.to_owned()]).await?;
                Ok((done, pending))
            }

            async fn revoke_user_in(
                &self,
                tx: &mut sqlx::Transaction<'_, $db>,
                user_id: &str,
                keep: Option<&str>,
                kind: $crate::AuditKind,
                now: adieu_core::UnixMillis,
            ) -> $crate::Result<(Vec<String>, Option<$crate::cluster::Pending>)> {
                let ids: Vec<String> = sqlx::query_scalar($crate::sql::REVOKE_USER_SESSIONS)
                    .bind(user_id)
                    .bind(now)
                    .bind(kind.as_str())
                    .bind(keep.unwrap_or(""))
                    .fetch_all(&mut **tx)
                    .await?;
                // Also announce sessions ended moments ago by a concurrent request, whose
                // answer may still be waiting for the other nodes: ours must not come sooner.
                let recent: Vec<String> = sqlx::query_scalar($crate::sql::RECENTLY_REVOKED)
                    .bind(user_id)
                    .bind(now - $crate::sql::RECENT_REVOCATION_MS)
                    .fetch_all(&mut **tx)
                    .await?;
                let pending = if recent.is_empty() {
                    None
                } else {
                    self.publish_revoked(tx, &recent).await?
                };
                Ok((ids, pending))
            }
        }

        #[async_trait::async_trait]
        impl $crate::Store for $store {
            fn health(&self) -> $crate::Health {
                self.health_of()
            }

            async fn ping(&self) -> $crate::Result<()> {
                sqlx::query("SELECT 1").execute(self.reader()).await?;
                Ok(())
            }

            async fn create_user(
                &self,
                username: &str,
                password_hash: &str,
                now: adieu_core::UnixMillis,
                context: &$crate::AuditContext,
            ) -> $crate::Result<$crate::User> {
                let id = adieu_core::new_id();
                let mut tx = self.writer().begin().await?;
                let inserted = sqlx::query($crate::sql::INSERT_USER)
                    .bind(&id)
                    .bind(username)
                    .bind(password_hash)
                    .bind(now)
                    .execute(&mut *tx)
                    .await;
                match inserted {
                    Err(e) if $crate::rows::is_unique_violation(&e) => {
                        return Err($crate::StoreError::UsernameTaken);
                    }
                    other => other?,
                };
                let event = $crate::AuditEvent {
                    at: now,
                    kind: $crate::AuditKind::Register,
                    user_id: Some(id.clone()),
                    session_id: None,
                    context: context.clone(),
                };
                Self::insert_audit(&mut tx, &event).await?;
                tx.commit().await?;
                Ok($crate::User {
                    id,
                    username: username.to_owned(),
                    password_hash: password_hash.to_owned(),
                })
            }

            async fn user_by_name(&self, username: &str) -> $crate::Result<Option<$crate::User>> {
                let row: Option<$crate::rows::UserRow> = sqlx::query_as($crate::sql::USER_BY_NAME)
                    .bind(username)
                    .fetch_optional(self.reader())
                    .await?;
                Ok(row.map(Into::into))
            }

            async fn user_by_id(&self, user_id: &str) -> $crate::Result<Option<$crate::User>> {
                let row: Option<$crate::rows::UserRow> = sqlx::query_as($crate::sql::USER_BY_ID)
                    .bind(user_id)
                    .fetch_optional(self.reader())
                    .await?;
                Ok(row.map(Into::into))
            }

            async fn create_session(
                &self,
                session: &adieu_core::Session,
                tokens: &[$crate::NewToken],
                verified_hash: &str,
                max_sessions: u32,
            ) -> $crate::Result<Option<Vec<String>>> {
                let mut tx = self.writer().begin().await?;
                // The password may have changed while this login was being checked: lock the
                // user's row and create the session only if it still holds the hash that was
                // verified. A password change then either sees this session and ends it, or
                // this login sees the new hash and fails.
                let current: Option<String> = sqlx::query_scalar(Self::USER_HASH_LOCKED)
                    .bind(&session.user_id)
                    .fetch_optional(&mut *tx)
                    .await?;
                if current.as_deref() != Some(verified_hash) {
                    return Ok(None);
                }
                sqlx::query($crate::sql::INSERT_SESSION)
                    .bind(&session.id)
                    .bind(&session.user_id)
                    .bind(session.kind.as_str())
                    .bind(session.created_at)
                    .bind(session.last_active_at)
                    .bind(session.user_agent.as_deref())
                    .bind(session.ip.as_deref())
                    .execute(&mut *tx)
                    .await?;
                Self::insert_tokens(&mut tx, &session.id, tokens, session.created_at).await?;
                let context = $crate::AuditContext {
                    ip: session.ip.clone(),
                    user_agent: session.user_agent.clone(),
                };
                let event = $crate::AuditEvent {
                    at: session.created_at,
                    kind: $crate::AuditKind::Login,
                    user_id: Some(session.user_id.clone()),
                    session_id: Some(session.id.clone()),
                    context: context.clone(),
                };
                Self::insert_audit(&mut tx, &event).await?;
                let limit = $crate::AuditKind::SessionLimit;
                let ended: Vec<String> = sqlx::query_scalar($crate::sql::END_SESSIONS_OVER_LIMIT)
                    .bind(&session.user_id)
                    .bind(session.created_at)
                    .bind(i64::from(max_sessions.saturating_sub(1)))
                    .bind(&session.id)
                    .bind(limit.as_str())
                    .fetch_all(&mut *tx)
                    .await?;
                for id in &ended {
                    let event = $crate::AuditEvent {
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
                    self.publish_revoked(&mut tx, &ended).await?
                };
                tx.commit().await?;
                self.confirm_revoked(pending).await?;
                Ok(Some(ended))
            }

            async fn token(
                &self,
                hash: &adieu_core::TokenHash,
            ) -> $crate::Result<Option<$crate::TokenRecord>> {
                let row: Option<$crate::rows::TokenRow> =
                    sqlx::query_as(&$crate::sql::token_by_hash())
                        .bind(hash.as_bytes().as_slice())
                        .fetch_optional(self.reader())
                        .await?;
                row.map(TryInto::try_into).transpose()
            }

            async fn touch_session(
                &self,
                session_id: &str,
                now: adieu_core::UnixMillis,
            ) -> $crate::Result<()> {
                sqlx::query($crate::sql::TOUCH_SESSION)
                    .bind(session_id)
                    .bind(now)
                    .execute(self.writer())
                    .await?;
                Ok(())
            }

            async fn rotate_refresh(
                &self,
                old: &adieu_core::TokenHash,
                new: [adieu_core::TokenHash; 2],
                policy: &adieu_core::Policy,
                now: adieu_core::UnixMillis,
                context: &$crate::AuditContext,
            ) -> $crate::Result<$crate::RefreshOutcome> {
                let mut tx = self.writer().begin().await?;
                let spent: Option<(String, i64)> = sqlx::query_as($crate::sql::SPEND_REFRESH)
                    .bind(old.as_bytes().as_slice())
                    .bind(now)
                    .fetch_optional(&mut *tx)
                    .await?;
                let Some((session_id, expires_at)) = spent else {
                    // Unknown, or spent before: the latter is theft, and ends the session.
                    let owner: Option<(String, String)> =
                        sqlx::query_as($crate::sql::REFRESH_OWNER)
                            .bind(old.as_bytes().as_slice())
                            .fetch_optional(&mut *tx)
                            .await?;
                    let Some((session_id, user_id)) = owner else {
                        return Ok($crate::RefreshOutcome::Invalid);
                    };
                    let kind = $crate::AuditKind::RefreshReuseDetected;
                    let (revoked, pending) =
                        self.revoke_in(&mut tx, &session_id, kind, now).await?;
                    if revoked {
                        let event = $crate::AuditEvent {
                            at: now,
                            kind,
                            user_id: Some(user_id.clone()),
                            session_id: Some(session_id.clone()),
                            context: context.clone(),
                        };
                        Self::insert_audit(&mut tx, &event).await?;
                    }
                    tx.commit().await?;
                    self.confirm_revoked(pending).await?;
                    return Ok($crate::RefreshOutcome::Reused {
                        session_id,
                        user_id,
                    });
                };
                let Some(mut session) = Self::load_session(&mut tx, &session_id).await? else {
                    return Ok($crate::RefreshOutcome::Invalid);
                };
                if expires_at <= now || !session.is_active(policy, now) {
                    // Nothing worth keeping: the token was useless anyway.
                    return Ok($crate::RefreshOutcome::Invalid);
                }
                let [access, refresh] = new;
                let expiry = policy.token_pair(now, session.created_at);
                let tokens = [
                    $crate::NewToken {
                        hash: access,
                        kind: adieu_core::TokenKind::Access,
                        expires_at: expiry.access,
                    },
                    $crate::NewToken {
                        hash: refresh,
                        kind: adieu_core::TokenKind::Refresh,
                        expires_at: expiry.refresh,
                    },
                ];
                Self::insert_tokens(&mut tx, &session_id, &tokens, now).await?;
                sqlx::query($crate::sql::TOUCH_FOR_REFRESH)
                    .bind(&session_id)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                session.last_active_at = now;
                Ok($crate::RefreshOutcome::Rotated(session))
            }

            async fn revoke_session(
                &self,
                session_id: &str,
                kind: $crate::AuditKind,
                now: adieu_core::UnixMillis,
                context: &$crate::AuditContext,
            ) -> $crate::Result<bool> {
                let mut tx = self.writer().begin().await?;
                let Some(session) = Self::load_session(&mut tx, session_id).await? else {
                    return Ok(false);
                };
                let (revoked, pending) = self.revoke_in(&mut tx, session_id, kind, now).await?;
                if revoked {
                    let event = $crate::AuditEvent {
                        at: now,
                        kind,
                        user_id: Some(session.user_id),
                        session_id: Some(session.id),
                        context: context.clone(),
                    };
                    Self::insert_audit(&mut tx, &event).await?;
                }
                tx.commit().await?;
                self.confirm_revoked(pending).await?;
                Ok(revoked)
            }

            async fn revoke_user_sessions(
                &self,
                user_id: &str,
                keep: Option<&str>,
                kind: $crate::AuditKind,
                acting_session: Option<&str>,
                now: adieu_core::UnixMillis,
                context: &$crate::AuditContext,
            ) -> $crate::Result<Vec<String>> {
                let mut tx = self.writer().begin().await?;
                let (ids, pending) = self
                    .revoke_user_in(&mut tx, user_id, keep, kind, now)
                    .await?;
                let event = $crate::AuditEvent {
                    at: now,
                    kind,
                    user_id: Some(user_id.to_owned()),
                    session_id: acting_session.map(str::to_owned),
                    context: context.clone(),
                };
                Self::insert_audit(&mut tx, &event).await?;
                tx.commit().await?;
                self.confirm_revoked(pending).await?;
                Ok(ids)
            }

            async fn change_password(
                &self,
                user_id: &str,
                new_hash: &str,
                keep_session: &str,
                now: adieu_core::UnixMillis,
                context: &$crate::AuditContext,
            ) -> $crate::Result<Vec<String>> {
                let kind = $crate::AuditKind::PasswordChanged;
                let mut tx = self.writer().begin().await?;
                sqlx::query($crate::sql::UPDATE_PASSWORD)
                    .bind(user_id)
                    .bind(new_hash)
                    .execute(&mut *tx)
                    .await?;
                let (ids, pending) = self
                    .revoke_user_in(&mut tx, user_id, Some(keep_session), kind, now)
                    .await?;
                let event = $crate::AuditEvent {
                    at: now,
                    kind,
                    user_id: Some(user_id.to_owned()),
                    session_id: Some(keep_session.to_owned()),
                    context: context.clone(),
                };
                Self::insert_audit(&mut tx, &event).await?;
                tx.commit().await?;
                self.confirm_revoked(pending).await?;
                Ok(ids)
            }

            async fn user_sessions(
                &self,
                user_id: &str,
            ) -> $crate::Result<Vec<adieu_core::Session>> {
                let rows: Vec<$crate::rows::SessionRow> =
                    sqlx::query_as(&$crate::sql::user_sessions())
                        .bind(user_id)
                        .fetch_all(self.reader())
                        .await?;
                rows.into_iter().map(TryInto::try_into).collect()
            }

            async fn audit(&self, event: &$crate::AuditEvent) -> $crate::Result<()> {
                let mut tx = self.writer().begin().await?;
                Self::insert_audit(&mut tx, event).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn audit_log(
                &self,
                user_id: &str,
            ) -> $crate::Result<Vec<(String, Option<String>)>> {
                Ok(sqlx::query_as($crate::sql::AUDIT_LOG)
                    .bind(user_id)
                    .fetch_all(self.reader())
                    .await?)
            }

            async fn close(&self) {
                self.release_lease().await;
            }

            async fn delete_ended_sessions(
                &self,
                policy: &adieu_core::Policy,
                now: adieu_core::UnixMillis,
                batch: u32,
            ) -> $crate::Result<u64> {
                let absolute = now - adieu_core::policy::millis(policy.absolute_timeout);
                let idle = now - adieu_core::policy::millis(policy.idle_timeout);
                let done = sqlx::query($crate::sql::DELETE_ENDED_SESSIONS)
                    .bind(absolute)
                    .bind(idle)
                    .bind(i64::from(batch))
                    .execute(self.writer())
                    .await?;
                Ok(done.rows_affected())
            }

            async fn delete_audit_before(
                &self,
                before: adieu_core::UnixMillis,
                batch: u32,
            ) -> $crate::Result<u64> {
                let done = sqlx::query($crate::sql::DELETE_OLD_AUDIT)
                    .bind(before)
                    .bind(i64::from(batch))
                    .execute(self.writer())
                    .await?;
                Ok(done.rows_affected())
            }
        }
    };
}

pub(crate) use impl_store;
