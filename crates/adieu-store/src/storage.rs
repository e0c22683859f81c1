//! [`Storage`]: the service's view of storage, a [`Store`] with this node's [`TokenCache`].
//!
//! Token lookups answer from the cache when they may. Every method that ends sessions goes to
//! the store first (which, for PostgreSQL, returns only once the other nodes have dropped
//! them) and then evicts them here, so by the time the caller answers, no cache anywhere holds
//! them. Everything else goes to the store itself, through [`Storage::store`].

use std::future::Future;
use std::sync::Arc;

use adieu_core::{Policy, Session, TokenHash, UnixMillis};

use crate::cache::TokenCache;
use crate::{
    AuditContext, AuditKind, Health, Keep, NewToken, RefreshOutcome, Result, Revocation, Store,
    TokenRecord,
};

/// A store and, when caching is on, the token cache in front of its lookups.
///
/// Token lookups, activity updates and every method that ends sessions or rotates tokens
/// (`create_session`, `rotate_refresh`, `revoke_session`, `revoke_user_sessions`,
/// `change_password`, `set_user_disabled`, `delete_user`), and client lookups and deletions
/// (`client_secret`, `delete_client`), must be called on this type, not on [`store`](Self::store): only here
/// do they keep the cache coherent.
#[derive(Clone)]
pub struct Storage {
    store: Arc<dyn Store>,
    cache: Option<Arc<TokenCache>>,
}

impl std::fmt::Debug for Storage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Storage")
            .field("backend", &self.store.health().backend)
            .field("cache", &self.cache.is_some())
            .finish()
    }
}

/// Runs a revocation and the eviction that must follow it as one task of its own, so that a
/// request dropped halfway (client gone, timeout) cannot leave a committed revocation in the
/// cache. The eviction happens whatever the result: a commit may have succeeded even when a
/// later step (waiting for other nodes) failed. With no cache there is nothing to evict, and
/// the revocation runs in the caller's task.
async fn revoke_then_evict<T: Send + 'static>(
    cache: Option<Arc<TokenCache>>,
    revocation: impl Future<Output = Result<T>> + Send + 'static,
    evict: impl FnOnce(&TokenCache, &Result<T>) + Send + 'static,
) -> Result<T> {
    let Some(cache) = cache else {
        return revocation.await;
    };
    tokio::spawn(async move {
        let result = revocation.await;
        evict(&cache, &result);
        result
    })
    .await
    .map_err(|e| crate::StoreError::Task(e.to_string()))?
}

impl Storage {
    /// Puts `cache`, if any, in front of `store`. For PostgreSQL, `store` must have been
    /// given the same cache, so that its listener can evict what other nodes revoke.
    pub fn new(store: Arc<dyn Store>, cache: Option<Arc<TokenCache>>) -> Self {
        Self { store, cache }
    }

    /// The store underneath, for everything that neither reads tokens nor ends sessions.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// Backend, notification channel and cache state, for logs and `/healthz`.
    pub fn health(&self) -> Health {
        match &self.cache {
            Some(cache) => {
                let (hits, misses) = cache.stats();
                Health {
                    cache: Some((cache.status(), hits, misses)),
                    ..self.store.health()
                }
            }
            None => self.store.health(),
        }
    }

    /// Resolves a token hash, whatever its state; the caller applies the policy. Answers
    /// from the cache when it may.
    pub async fn token(&self, hash: &TokenHash) -> Result<Option<Arc<TokenRecord>>> {
        if let Some(record) = self.cache.as_ref().and_then(|cache| cache.get(hash)) {
            return Ok(Some(record));
        }
        self.token_from_database(hash).await
    }

    /// Like [`token`](Self::token), but always from the database: for confirming a refusal
    /// that a cached copy (with an older `last_active_at`) suggested. What it reads is
    /// cached, unless an eviction happened meanwhile.
    pub async fn token_from_database(&self, hash: &TokenHash) -> Result<Option<Arc<TokenRecord>>> {
        // Taken before the read: an eviction during it must keep the record out.
        let generation = self.cache.as_ref().map(|cache| cache.generation());
        let record = self.store.token(hash).await?.map(Arc::new);
        if let (Some(cache), Some(generation), Some(record)) = (&self.cache, generation, &record) {
            cache.insert(generation, *hash, record);
        }
        Ok(record)
    }

    /// Records activity on a session, unless a newer time is recorded already.
    pub async fn touch_session(&self, session_id: &str, now: UnixMillis) -> Result<()> {
        self.store.touch_session(session_id, now).await?;
        if let Some(cache) = &self.cache {
            cache.touch(session_id, now);
        }
        Ok(())
    }

    /// [`Store::create_session`], evicting the sessions it ended over the per-user cap.
    pub async fn create_session(
        &self,
        session: &Session,
        tokens: &[NewToken],
        verified_hash: &str,
        max_sessions: u32,
    ) -> Result<Option<Vec<String>>> {
        let (store, session) = (self.store.clone(), session.clone());
        let (tokens, verified_hash) = (tokens.to_vec(), verified_hash.to_owned());
        revoke_then_evict(
            self.cache.clone(),
            async move {
                store
                    .create_session(&session, &tokens, &verified_hash, max_sessions)
                    .await
            },
            |cache, result| match result {
                Ok(ended) => cache.evict_sessions(ended.as_deref().unwrap_or_default()),
                Err(_) => cache.clear(),
            },
        )
        .await
    }

    /// [`Store::rotate_refresh`], evicting a session that a reused token ended.
    pub async fn rotate_refresh(
        &self,
        old: &TokenHash,
        new: [TokenHash; 2],
        policy: &Policy,
        now: UnixMillis,
        context: &AuditContext,
    ) -> Result<RefreshOutcome> {
        let (store, old, policy, context) = (self.store.clone(), *old, *policy, context.clone());
        revoke_then_evict(
            self.cache.clone(),
            async move {
                store
                    .rotate_refresh(&old, new, &policy, now, &context)
                    .await
            },
            move |cache, outcome| match outcome {
                Ok(RefreshOutcome::Reused { session_id, .. }) => {
                    cache.evict_sessions(&[session_id]);
                }
                Ok(RefreshOutcome::Rotated(session)) => cache.touch(&session.id, now),
                Ok(RefreshOutcome::Invalid) => {}
                Err(_) => cache.clear(),
            },
        )
        .await
    }

    /// [`Store::revoke_session`], then evicts the session.
    pub async fn revoke_session(
        &self,
        session_id: &str,
        kind: AuditKind,
        now: UnixMillis,
        context: &AuditContext,
    ) -> Result<bool> {
        let (store, id, context) = (self.store.clone(), session_id.to_owned(), context.clone());
        let evicted = id.clone();
        revoke_then_evict(
            self.cache.clone(),
            async move { store.revoke_session(&id, kind, now, &context).await },
            move |cache, _| cache.evict_sessions(&[evicted]),
        )
        .await
    }

    /// [`Store::revoke_user_sessions`], then evicts the sessions it ended.
    pub async fn revoke_user_sessions(
        &self,
        user_id: &str,
        keep: &Keep,
        revocation: &Revocation,
    ) -> Result<Vec<String>> {
        let (store, user_id) = (self.store.clone(), user_id.to_owned());
        let (keep, revocation) = (keep.clone(), revocation.clone());
        revoke_then_evict(
            self.cache.clone(),
            async move {
                store
                    .revoke_user_sessions(&user_id, &keep, &revocation)
                    .await
            },
            evict_ids,
        )
        .await
    }

    /// [`Store::change_password`], then evicts the sessions it ended.
    pub async fn change_password(
        &self,
        user_id: &str,
        new_hash: &str,
        keep_session: &str,
        now: UnixMillis,
        context: &AuditContext,
    ) -> Result<Vec<String>> {
        let store = self.store.clone();
        let (user_id, new_hash) = (user_id.to_owned(), new_hash.to_owned());
        let (keep, context) = (keep_session.to_owned(), context.clone());
        revoke_then_evict(
            self.cache.clone(),
            async move {
                store
                    .change_password(&user_id, &new_hash, &keep, now, &context)
                    .await
            },
            evict_ids,
        )
        .await
    }

    /// [`Store::set_user_disabled`], then evicts the sessions it ended.
    pub async fn set_user_disabled(
        &self,
        user_id: &str,
        disabled: bool,
        revocation: &Revocation,
    ) -> Result<Option<Vec<String>>> {
        let (store, user_id, revocation) =
            (self.store.clone(), user_id.to_owned(), revocation.clone());
        revoke_then_evict(
            self.cache.clone(),
            async move {
                store
                    .set_user_disabled(&user_id, disabled, &revocation)
                    .await
            },
            evict_some_ids,
        )
        .await
    }

    /// The hash of an OAuth client's secret: from the cache when it may, else the database
    /// (and cached, unless an eviction raced the read).
    pub async fn client_secret(&self, client_id: &str) -> Result<Option<TokenHash>> {
        let Some(cache) = &self.cache else {
            return self.store.client_secret(client_id).await;
        };
        if let Some(hash) = cache.client(client_id) {
            return Ok(Some(hash));
        }
        let generation = cache.generation();
        let hash = self.store.client_secret(client_id).await?;
        if let Some(hash) = hash {
            cache.insert_client(generation, client_id, hash);
        }
        Ok(hash)
    }

    /// [`Store::delete_client`] (which, with PostgreSQL, returns once every node has evicted
    /// the client), then evicts it here.
    pub async fn delete_client(
        &self,
        client_id: &str,
        now: UnixMillis,
        context: &AuditContext,
    ) -> Result<bool> {
        let (store, id, context) = (self.store.clone(), client_id.to_owned(), context.clone());
        let evicted = crate::sql::client_key(client_id);
        revoke_then_evict(
            self.cache.clone(),
            async move { store.delete_client(&id, now, &context).await },
            move |cache, _| cache.evict_sessions(&[evicted]),
        )
        .await
    }

    /// [`Store::delete_user`], then evicts the sessions it ended.
    pub async fn delete_user(
        &self,
        user_id: &str,
        revocation: &Revocation,
    ) -> Result<Option<Vec<String>>> {
        let (store, user_id, revocation) =
            (self.store.clone(), user_id.to_owned(), revocation.clone());
        revoke_then_evict(
            self.cache.clone(),
            async move { store.delete_user(&user_id, &revocation).await },
            evict_some_ids,
        )
        .await
    }
}

/// [`evict_ids`] for the calls that answer `None` for an unknown user.
fn evict_some_ids(cache: &TokenCache, result: &Result<Option<Vec<String>>>) {
    match result {
        Ok(Some(ids)) => cache.evict_sessions(ids),
        Ok(None) => {}
        Err(_) => cache.clear(),
    }
}

/// Evicts the sessions a user-wide revocation ended; if it failed, which ones is unknown, so
/// everything goes.
fn evict_ids(cache: &TokenCache, result: &Result<Vec<String>>) {
    match result {
        Ok(ids) => cache.evict_sessions(ids),
        Err(_) => cache.clear(),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use adieu_core::policy::millis;
    use adieu_core::token::{self, IssuedToken};
    use adieu_core::{SessionKind, TokenKind};

    use super::*;
    use crate::SqliteStore;

    struct Fixture {
        store: Storage,
        cache: Arc<TokenCache>,
        session: Session,
        access: IssuedToken,
        refresh: IssuedToken,
        _dir: tempfile::TempDir,
    }

    const NOW: i64 = 1_000_000;

    async fn fixture() -> Fixture {
        observed_fixture(None).await
    }

    async fn observed_fixture(observer: Option<Arc<dyn crate::StoreObserver>>) -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("t.db").display());
        let cache = Arc::new(TokenCache::always(100));
        let sqlite = SqliteStore::connect(&url)
            .await
            .unwrap()
            .observed_by(observer);
        let store = Storage::new(Arc::new(sqlite), Some(cache.clone()));
        let ctx = AuditContext::default();
        let user = store
            .store()
            .create_user("alice", "$hash1", NOW, &ctx)
            .await
            .unwrap();
        let session = Session {
            id: adieu_core::new_id(),
            user_id: user.id,
            username: user.username,
            kind: SessionKind::Api,
            created_at: NOW,
            last_active_at: NOW,
            revoked_at: None,
            user_agent: None,
            ip: None,
        };
        let (access, refresh) = (
            token::issue(TokenKind::Access),
            token::issue(TokenKind::Refresh),
        );
        let tokens = [
            NewToken {
                hash: access.hash,
                kind: TokenKind::Access,
                expires_at: NOW + 60_000,
            },
            NewToken {
                hash: refresh.hash,
                kind: TokenKind::Refresh,
                expires_at: NOW + 120_000,
            },
        ];
        assert!(
            store
                .create_session(&session, &tokens, "$hash1", 100)
                .await
                .unwrap()
                .is_some()
        );
        Fixture {
            store,
            cache,
            session,
            access,
            refresh,
            _dir: dir,
        }
    }

    #[tokio::test]
    async fn a_revocation_dropped_mid_flight_still_evicts_the_cache() {
        let f = fixture().await;
        assert!(f.store.token(&f.access.hash).await.unwrap().is_some());
        assert!(
            f.cache.get(&f.access.hash).is_some(),
            "cached before the revocation"
        );
        // The caller goes away at the first await (client gone, request timed out).
        let ctx = AuditContext::default();
        let revocation = f
            .store
            .revoke_session(&f.session.id, AuditKind::Logout, NOW, &ctx);
        let _ = tokio::time::timeout(Duration::ZERO, revocation).await;
        // The revocation still completes, and the cache must not keep the session.
        for _ in 0..200 {
            let record = f.store.token(&f.access.hash).await.unwrap().unwrap();
            if record.session.revoked_at.is_some() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("the cache still answers with the unrevoked session");
    }

    #[tokio::test]
    async fn only_live_sessions_are_counted_as_active() {
        let f = fixture().await;
        let policy = Policy::default();
        let count = |now| {
            let store = f.store.store().clone();
            async move { store.count_active_sessions(&policy, now).await.unwrap() }
        };
        assert_eq!(count(NOW).await, 1);
        assert_eq!(count(NOW + millis(policy.idle_timeout)).await, 0, "idle");
        f.store
            .revoke_session(
                &f.session.id,
                AuditKind::Logout,
                NOW,
                &AuditContext::default(),
            )
            .await
            .unwrap();
        assert_eq!(count(NOW).await, 0, "revoked");
    }

    #[derive(Debug, Default)]
    struct Confirmations(std::sync::atomic::AtomicUsize);

    impl crate::StoreObserver for Confirmations {
        fn revocation_confirmed(&self, _waited: Duration) {
            self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
    }

    #[tokio::test]
    async fn the_observer_hears_of_every_confirmed_revocation() {
        let confirmations = Arc::new(Confirmations::default());
        let f = observed_fixture(Some(confirmations.clone())).await;
        let ctx = AuditContext::default();
        f.store
            .revoke_session(&f.session.id, AuditKind::Logout, NOW, &ctx)
            .await
            .unwrap();
        assert_eq!(confirmations.0.load(std::sync::atomic::Ordering::SeqCst), 1);
        // A session ended before is announced and confirmed again.
        f.store
            .revoke_session(&f.session.id, AuditKind::Logout, NOW, &ctx)
            .await
            .unwrap();
        assert_eq!(confirmations.0.load(std::sync::atomic::Ordering::SeqCst), 2);
        // Reads confirm nothing.
        f.store.store().user_by_name("alice").await.unwrap();
        assert_eq!(confirmations.0.load(std::sync::atomic::Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn a_login_checked_against_an_old_password_creates_no_session() {
        let f = fixture().await;
        let ids = f
            .store
            .change_password(
                &f.session.user_id,
                "$hash2",
                &f.session.id,
                NOW,
                &AuditContext::default(),
            )
            .await
            .unwrap();
        assert!(ids.is_empty());
        let late = Session {
            id: adieu_core::new_id(),
            ..f.session.clone()
        };
        let t = token::issue(TokenKind::Access);
        let tokens = [NewToken {
            hash: t.hash,
            kind: TokenKind::Access,
            expires_at: NOW + 60_000,
        }];
        assert!(
            f.store
                .create_session(&late, &tokens, "$hash1", 100)
                .await
                .unwrap()
                .is_none()
        );
        assert!(f.store.token(&t.hash).await.unwrap().is_none());
        assert!(
            f.store
                .create_session(&late, &tokens, "$hash2", 100)
                .await
                .unwrap()
                .is_some()
        );
    }

    #[tokio::test]
    async fn a_refresh_token_past_its_own_expiry_is_refused_even_if_the_policy_grew() {
        let f = fixture().await;
        // A policy far longer than the one the token was issued under.
        let policy = Policy {
            absolute_timeout: Duration::from_secs(86_400),
            idle_timeout: Duration::from_secs(86_400),
            ..Policy::default()
        };
        let new = [
            token::issue(TokenKind::Access).hash,
            token::issue(TokenKind::Refresh).hash,
        ];
        let late = NOW + 120_001;
        let outcome = f
            .store
            .rotate_refresh(
                &f.refresh.hash,
                new,
                &policy,
                late,
                &AuditContext::default(),
            )
            .await
            .unwrap();
        assert!(matches!(outcome, RefreshOutcome::Invalid), "{outcome:?}");
    }
}
