//! A [`Store`] that answers token lookups from a coherent [`TokenCache`].
//!
//! Every method that ends sessions goes to the inner store first (which, for PostgreSQL,
//! returns only once the other nodes have dropped them) and then evicts them here, so by the
//! time the caller answers, no cache anywhere holds them.

use std::sync::Arc;

use adieu_core::{Policy, Session, TokenHash, UnixMillis};
use async_trait::async_trait;

use crate::cache::TokenCache;
use crate::{
    AuditContext, AuditEvent, AuditKind, Health, NewToken, RefreshOutcome, Result, Store,
    TokenRecord, User,
};

/// A store with a token cache in front.
#[derive(Debug)]
pub struct CachedStore<S> {
    inner: S,
    cache: Arc<TokenCache>,
}

impl<S: Store> CachedStore<S> {
    /// Puts `cache` in front of `inner`. For PostgreSQL, `inner` must have been given the
    /// same cache, so that its listener can evict what other nodes revoke.
    pub fn new(inner: S, cache: Arc<TokenCache>) -> Self {
        Self { inner, cache }
    }

    /// The store behind the cache.
    pub fn inner(&self) -> &S {
        &self.inner
    }

    async fn load(&self, hash: &TokenHash) -> Result<Option<TokenRecord>> {
        let generation = self.cache.generation();
        let record = self.inner.token(hash).await?;
        if let Some(record) = &record {
            self.cache.insert(generation, *hash, record);
        }
        Ok(record)
    }
}

#[async_trait]
impl<S: Store> Store for CachedStore<S> {
    fn health(&self) -> Health {
        let (hits, misses) = self.cache.stats();
        Health {
            cache: Some((self.cache.status(), hits, misses)),
            ..self.inner.health()
        }
    }

    async fn ping(&self) -> Result<()> {
        self.inner.ping().await
    }

    async fn create_user(
        &self,
        username: &str,
        password_hash: &str,
        now: UnixMillis,
        context: &AuditContext,
    ) -> Result<User> {
        self.inner
            .create_user(username, password_hash, now, context)
            .await
    }

    async fn user_by_name(&self, username: &str) -> Result<Option<User>> {
        self.inner.user_by_name(username).await
    }

    async fn user_by_id(&self, user_id: &str) -> Result<Option<User>> {
        self.inner.user_by_id(user_id).await
    }

    async fn create_session(&self, session: &Session, tokens: &[NewToken]) -> Result<()> {
        self.inner.create_session(session, tokens).await
    }

    async fn token(&self, hash: &TokenHash) -> Result<Option<TokenRecord>> {
        match self.cache.get(hash) {
            Some(record) => Ok(Some(record)),
            None => self.load(hash).await,
        }
    }

    async fn token_from_storage(&self, hash: &TokenHash) -> Result<Option<TokenRecord>> {
        self.load(hash).await
    }

    async fn touch_session(&self, session_id: &str, now: UnixMillis) -> Result<()> {
        self.inner.touch_session(session_id, now).await?;
        self.cache.touch(session_id, now);
        Ok(())
    }

    async fn rotate_refresh(
        &self,
        old: &TokenHash,
        new: [NewToken; 2],
        policy: &Policy,
        now: UnixMillis,
        context: &AuditContext,
    ) -> Result<RefreshOutcome> {
        let outcome = self
            .inner
            .rotate_refresh(old, new, policy, now, context)
            .await?;
        match &outcome {
            RefreshOutcome::Reused { session_id, .. } => self.cache.evict_sessions(&[session_id]),
            RefreshOutcome::Rotated(session) => self.cache.touch(&session.id, now),
            RefreshOutcome::Invalid => {}
        }
        Ok(outcome)
    }

    async fn revoke_session(
        &self,
        session_id: &str,
        kind: AuditKind,
        now: UnixMillis,
        context: &AuditContext,
    ) -> Result<bool> {
        let revoked = self
            .inner
            .revoke_session(session_id, kind, now, context)
            .await?;
        self.cache.evict_sessions(&[session_id]);
        Ok(revoked)
    }

    async fn revoke_user_sessions(
        &self,
        user_id: &str,
        keep: Option<&str>,
        kind: AuditKind,
        acting_session: Option<&str>,
        now: UnixMillis,
        context: &AuditContext,
    ) -> Result<Vec<String>> {
        let ids = self
            .inner
            .revoke_user_sessions(user_id, keep, kind, acting_session, now, context)
            .await?;
        self.cache.evict_sessions(&ids);
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
        let ids = self
            .inner
            .change_password(user_id, new_hash, keep_session, now, context)
            .await?;
        self.cache.evict_sessions(&ids);
        Ok(ids)
    }

    async fn user_sessions(&self, user_id: &str) -> Result<Vec<Session>> {
        self.inner.user_sessions(user_id).await
    }

    async fn audit(&self, event: &AuditEvent) -> Result<()> {
        self.inner.audit(event).await
    }

    async fn audit_log(&self, user_id: &str) -> Result<Vec<(String, Option<String>)>> {
        self.inner.audit_log(user_id).await
    }

    async fn delete_ended_sessions(
        &self,
        policy: &Policy,
        now: UnixMillis,
        batch: u32,
    ) -> Result<u64> {
        self.inner.delete_ended_sessions(policy, now, batch).await
    }
}
