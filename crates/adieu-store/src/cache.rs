//! The per-node token cache: answers token checks from memory while that is known to be
//! safe, and never lets a revocation be undone by a read that raced it.
//!
//! Two rules keep it coherent:
//! - **Serving window.** Entries are served only while the node's coherence guarantee holds:
//!   always for a lone SQLite node; for PostgreSQL only while the node's lease is valid, i.e.
//!   while its notification listener is known to be healthy (see `cluster`). When the window
//!   lapses, the whole cache is dropped, and it fills again from the database after the next
//!   proof of health.
//! - **Generations.** Every eviction bumps a generation number. A database read records the
//!   generation before it starts, and its result is cached only if no eviction happened
//!   meanwhile, so a read that saw a session just before its revocation cannot put it back.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use adieu_core::{TokenHash, TokenKind};

use crate::TokenRecord;

/// The hasher of the token map, whose keys are SHA-256 digests already: it folds their
/// bytes instead of running SipHash over them on every check. Only tokens that the database
/// knows are ever inserted, and their digests come from 256 random bits, so nobody can choose
/// keys that collide.
#[derive(Debug, Default, Clone, Copy)]
struct HashOfHash(u64);

impl Hasher for HashOfHash {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.0 = self.0.rotate_left(23) ^ u64::from_le_bytes(word);
        }
    }
}

/// When the cache may answer from memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Serving {
    /// Always (a single node owns every write).
    Always,
    /// Until this instant, unless extended (PostgreSQL lease).
    Until(Instant),
    /// Not now: no lease, or it lapsed and nothing has proved the listener healthy since.
    Never,
}

#[derive(Debug)]
struct State {
    serving: Serving,
    generation: u64,
    /// Shared with the requests that read them: a hit copies a pointer, not the session.
    entries: HashMap<TokenHash, Arc<TokenRecord>, BuildHasherDefault<HashOfHash>>,
    by_session: HashMap<String, Vec<TokenHash>>,
    /// The secret hashes of OAuth clients, by `client_id`. A client's deletion is evicted as
    /// the pseudo-session `client:<id>`, like a revocation.
    clients: HashMap<String, TokenHash>,
}

/// A bounded map from token hash to token record, kept coherent with revocations.
#[derive(Debug)]
pub struct TokenCache {
    state: Mutex<State>,
    capacity: usize,
    hits: AtomicU64,
    misses: AtomicU64,
}

/// What the cache is doing, for health reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheStatus {
    /// Answering from memory.
    Serving,
    /// Reading the database until the node proves it hears revocations again.
    Resyncing,
}

impl TokenCache {
    /// A cache for a lone node: always serving.
    pub fn always(capacity: usize) -> Self {
        Self::with_serving(Serving::Always, capacity)
    }

    /// A cache that serves only while a lease says so; starts not serving.
    pub fn leased(capacity: usize) -> Self {
        Self::with_serving(Serving::Never, capacity)
    }

    fn with_serving(serving: Serving, capacity: usize) -> Self {
        Self {
            state: Mutex::new(State {
                serving,
                generation: 0,
                entries: HashMap::default(),
                by_session: HashMap::new(),
                clients: HashMap::new(),
            }),
            capacity: capacity.max(1),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A cached record, if the cache may serve now.
    pub fn get(&self, hash: &TokenHash) -> Option<Arc<TokenRecord>> {
        let mut state = self.lock();
        if !state.is_serving() {
            if state.serving != Serving::Never {
                // The lease ran out with nobody extending it: forget everything.
                state.serving = Serving::Never;
                state.clear();
            }
            return None;
        }
        let found = state.entries.get(hash).cloned();
        drop(state);
        let counter = if found.is_some() {
            &self.hits
        } else {
            &self.misses
        };
        counter.fetch_add(1, Ordering::Relaxed);
        found
    }

    /// The generation to pass to [`insert`](Self::insert) after a database read.
    pub fn generation(&self) -> u64 {
        self.lock().generation
    }

    /// Caches a record read from the database, unless an eviction happened since
    /// `generation` was taken, the cache is not serving, or the record is not cacheable
    /// (refresh tokens change state on use; ended sessions are never cached).
    pub fn insert(&self, generation: u64, hash: TokenHash, record: &Arc<TokenRecord>) {
        let cacheable = matches!(record.kind, TokenKind::Access | TokenKind::Cookie)
            && record.spent_at.is_none()
            && record.session.revoked_at.is_none();
        if !cacheable {
            return;
        }
        let mut state = self.lock();
        if state.generation != generation || !state.is_serving() {
            return;
        }
        if state.entries.insert(hash, Arc::clone(record)).is_some() {
            // Known already (a token belongs to one session for life): just refreshed.
            return;
        }
        state
            .by_session
            .entry(record.session.id.clone())
            .or_default()
            .push(hash);
        if state.entries.len() > self.capacity {
            state.shed(self.capacity / 10 + 1);
        }
    }

    /// The secret hash of an OAuth client, if cached and the cache may serve now.
    pub fn client(&self, client_id: &str) -> Option<TokenHash> {
        let state = self.lock();
        if !state.is_serving() {
            return None;
        }
        state.clients.get(client_id).copied()
    }

    /// Caches a client's secret hash read from the database, under the same rules as a
    /// token: not if an eviction happened since `generation`, nor while not serving.
    pub fn insert_client(&self, generation: u64, client_id: &str, hash: TokenHash) {
        let mut state = self.lock();
        if state.generation != generation || !state.is_serving() {
            return;
        }
        if state.clients.len() >= self.capacity {
            state.clients.clear();
        }
        state.clients.insert(client_id.to_owned(), hash);
    }

    /// Forgets every token of these sessions (and the clients named `client:<id>`).
    pub fn evict_sessions<S: AsRef<str>>(&self, session_ids: &[S]) {
        let mut state = self.lock();
        state.generation += 1;
        for id in session_ids {
            if let Some(client_id) = id.as_ref().strip_prefix("client:") {
                state.clients.remove(client_id);
            }
            if let Some(hashes) = state.by_session.remove(id.as_ref()) {
                for hash in hashes {
                    state.entries.remove(&hash);
                }
            }
        }
    }

    /// Records activity on a cached session, so the node does not write it again too soon.
    pub fn touch(&self, session_id: &str, now: i64) {
        let mut state = self.lock();
        let State {
            entries,
            by_session,
            ..
        } = &mut *state;
        for hash in by_session.get(session_id).into_iter().flatten() {
            if let Some(record) = entries.get_mut(hash) {
                // A copy only if a request still holds the old record.
                let session = &mut Arc::make_mut(record).session;
                session.last_active_at = session.last_active_at.max(now);
            }
        }
    }

    /// Forgets everything but keeps serving (after a revocation whose ids are unknown).
    pub fn clear(&self) {
        self.lock().clear();
    }

    /// Stops serving and forgets everything (the listener was lost).
    pub fn lapse(&self) {
        let mut state = self.lock();
        state.serving = Serving::Never;
        state.clear();
    }

    /// Serves until `until`. If the previous window had already lapsed, everything cached
    /// before is dropped first: revocations may have been missed in between.
    pub fn extend(&self, until: Instant) {
        let mut state = self.lock();
        let now = Instant::now();
        if !state.is_serving_at(now) {
            state.clear();
        }
        state.serving = match state.serving {
            Serving::Always => Serving::Always,
            Serving::Until(old) if now < old => Serving::Until(old.max(until)),
            _ => Serving::Until(until),
        };
    }

    /// Whether the cache answers from memory now.
    pub fn status(&self) -> CacheStatus {
        if self.lock().is_serving() {
            CacheStatus::Serving
        } else {
            CacheStatus::Resyncing
        }
    }

    /// Lookups answered from memory, and lookups that went to the database while serving.
    pub fn stats(&self) -> (u64, u64) {
        (
            self.hits.load(Ordering::Relaxed),
            self.misses.load(Ordering::Relaxed),
        )
    }

    /// Number of cached tokens.
    pub fn len(&self) -> usize {
        self.lock().entries.len()
    }

    /// Whether nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl State {
    /// Whether the cache may answer now. The clock is read only for a lease: a lone node's
    /// cache always serves, and every token check asks.
    fn is_serving(&self) -> bool {
        match self.serving {
            Serving::Until(_) => self.is_serving_at(Instant::now()),
            serving => serving == Serving::Always,
        }
    }

    fn is_serving_at(&self, now: Instant) -> bool {
        match self.serving {
            Serving::Always => true,
            Serving::Until(until) => now < until,
            Serving::Never => false,
        }
    }

    fn clear(&mut self) {
        self.generation += 1;
        self.entries.clear();
        self.by_session.clear();
        self.clients.clear();
    }

    /// Drops about `n` sessions' entries to make room (which ones does not matter: a miss
    /// only costs a database read).
    fn shed(&mut self, n: usize) {
        let victims: Vec<String> = self.by_session.keys().take(n).cloned().collect();
        for id in victims {
            for hash in self.by_session.remove(&id).unwrap_or_default() {
                self.entries.remove(&hash);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use adieu_core::{Session, SessionKind, token};

    use super::*;

    fn record(session: &str, kind: TokenKind) -> Arc<TokenRecord> {
        Arc::new(TokenRecord {
            issued_at: 0,
            kind,
            expires_at: i64::MAX,
            spent_at: None,
            session: Session {
                id: session.into(),
                user_id: "u".into(),
                username: "alice".into(),
                kind: SessionKind::Api,
                created_at: 0,
                last_active_at: 0,
                revoked_at: None,
                user_agent: None,
                ip: None,
            },
        })
    }

    fn hash() -> TokenHash {
        token::issue(TokenKind::Access).hash
    }

    #[test]
    fn a_read_that_raced_an_eviction_is_not_cached() {
        let cache = TokenCache::always(100);
        let h = hash();
        let generation = cache.generation();
        cache.evict_sessions(&["s1"]); // the revocation lands while the read is in flight
        cache.insert(generation, h, &record("s1", TokenKind::Access));
        assert!(cache.get(&h).is_none());
        let generation = cache.generation();
        cache.insert(generation, h, &record("s1", TokenKind::Access));
        assert!(cache.get(&h).is_some());
    }

    #[test]
    fn evicting_a_session_forgets_all_its_tokens_and_only_those() {
        let cache = TokenCache::always(100);
        let (a, b, c) = (hash(), hash(), hash());
        let g = cache.generation();
        cache.insert(g, a, &record("s1", TokenKind::Access));
        cache.insert(g, b, &record("s1", TokenKind::Cookie));
        cache.insert(g, c, &record("s2", TokenKind::Access));
        cache.evict_sessions(&["s1"]);
        assert!(cache.get(&a).is_none());
        assert!(cache.get(&b).is_none());
        assert!(cache.get(&c).is_some());
    }

    #[test]
    fn refresh_tokens_and_ended_sessions_are_never_cached() {
        let cache = TokenCache::always(100);
        let (a, b) = (hash(), hash());
        let g = cache.generation();
        cache.insert(g, a, &record("s1", TokenKind::Refresh));
        let mut revoked = record("s2", TokenKind::Access);
        Arc::make_mut(&mut revoked).session.revoked_at = Some(1);
        cache.insert(g, b, &revoked);
        assert!(cache.is_empty());
    }

    #[test]
    fn a_leased_cache_serves_only_inside_its_lease_and_forgets_everything_after() {
        let cache = TokenCache::leased(100);
        let h = hash();
        cache.insert(cache.generation(), h, &record("s1", TokenKind::Access));
        assert!(cache.is_empty(), "no lease yet: nothing is cached");
        assert_eq!(cache.status(), CacheStatus::Resyncing);

        cache.extend(Instant::now() + Duration::from_secs(60));
        cache.insert(cache.generation(), h, &record("s1", TokenKind::Access));
        assert!(cache.get(&h).is_some());

        cache.lapse();
        assert!(cache.get(&h).is_none());
        cache.extend(Instant::now() + Duration::from_secs(60));
        assert!(
            cache.get(&h).is_none(),
            "entries from before the lapse are gone"
        );
    }

    #[test]
    fn an_expired_lease_stops_serving_and_clears_on_renewal() {
        let cache = TokenCache::leased(100);
        let h = hash();
        cache.extend(Instant::now() + Duration::from_secs(60));
        cache.insert(cache.generation(), h, &record("s1", TokenKind::Access));
        // A lease that already ended (as after a stall): the next renewal starts empty.
        {
            let mut state = cache.lock();
            state.serving = Serving::Until(Instant::now() - Duration::from_millis(1));
        }
        assert!(cache.get(&h).is_none());
        cache.extend(Instant::now() + Duration::from_secs(60));
        assert!(cache.get(&h).is_none());
    }

    #[test]
    fn the_cache_stays_within_its_capacity() {
        let cache = TokenCache::always(10);
        for i in 0..100 {
            cache.insert(
                cache.generation(),
                hash(),
                &record(&format!("s{i}"), TokenKind::Access),
            );
        }
        assert!(cache.len() <= 10, "{}", cache.len());
    }

    #[test]
    fn reinserting_a_token_does_not_grow_the_session_index() {
        let cache = TokenCache::always(10);
        let h = hash();
        for _ in 0..1000 {
            cache.insert(cache.generation(), h, &record("s1", TokenKind::Access));
        }
        assert_eq!(cache.lock().by_session["s1"].len(), 1);
    }

    #[test]
    fn touch_moves_last_activity_forward_only() {
        let cache = TokenCache::always(10);
        let h = hash();
        cache.insert(cache.generation(), h, &record("s1", TokenKind::Access));
        // A request still holding the record it read keeps that copy; the cache moves on.
        let held = cache.get(&h).unwrap();
        cache.touch("s1", 500);
        cache.touch("s1", 100);
        assert_eq!(cache.get(&h).unwrap().session.last_active_at, 500);
        assert_eq!(held.session.last_active_at, 0);
    }
}
