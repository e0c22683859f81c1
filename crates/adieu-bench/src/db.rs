//! Live sessions seeded into a measurement's database through the store's own bulk method,
//! `Store::seed`, as a million logins through argon2id would take hours; and the size of a
//! PostgreSQL database.
//!
//! Seeded session `i` belongs to seeded user `i / 10` and has one access and one refresh
//! token, like a real login. Token secrets are derived from the session number and a random
//! tag of the database, so the benchmark can present any of them without storing a million
//! strings; they are throwaway credentials in a throwaway database, and the server only ever
//! sees their SHA-256, exactly as for the tokens it mints itself.

use std::time::Duration;

use adieu_core::{Clock, Session, SessionKind, SystemClock, TokenHash, TokenKind};
use adieu_harness::Postgres;
use adieu_store::{NewToken, Storage, StoreOptions, User};
use anyhow::Context;
use sqlx::{Connection, PgConnection};

/// Fresh statistics for a database just seeded, as autovacuum would give a long-lived one;
/// then its size on disk in bytes.
pub(crate) async fn analyze_and_size(url: &str) -> Option<u64> {
    Postgres::run(url, "ANALYZE").await.ok()?;
    let mut conn = PgConnection::connect(url).await.ok()?;
    let size = sqlx::query_scalar("SELECT pg_database_size(current_database())");
    let size: i64 = size.fetch_one(&mut conn).await.ok()?;
    u64::try_from(size).ok()
}

/// Sessions per seeded user.
const SESSIONS_PER_USER: u64 = 10;
/// Sessions per transaction: bounded memory, few commits.
const BATCH: u64 = 10_000;
/// Transactions at once: PostgreSQL spends its time waiting for round trips.
const PARALLEL: usize = 4;

/// The token of kind `letter` (`a`ccess or `r`efresh) of seeded session `i`. It ends in `A`:
/// the last of 43 base64url characters carries two unused bits, which a token spelled as
/// `issue` spells it has clear.
fn token(tag: &str, letter: char, i: u64) -> String {
    format!("adieu_{letter}t_{tag}{letter}{i:033}A")
}

/// Writes seeded sessions (and an admin key) into one database.
pub(crate) struct Seeder {
    storage: Storage,
    /// Eight hex digits that make this database's ids and tokens its own.
    tag: String,
}

impl Seeder {
    /// Opens (and migrates, if need be) a database, without a cache.
    pub(crate) async fn open(url: &str) -> anyhow::Result<Self> {
        let options = StoreOptions {
            cache: false,
            ..StoreOptions::default()
        };
        let storage = adieu_store::connect(url, &options).await;
        let storage = storage.context("opening the database to seed it")?;
        let tag = adieu_core::new_id()[..8].to_owned();
        Ok(Self { storage, tag })
    }

    /// A new admin key, stored; its secret.
    pub(crate) async fn admin_key(&self) -> anyhow::Result<String> {
        let (key, now) = (adieu_core::token::issue_admin_key(), SystemClock.now());
        let created = self
            .storage
            .store()
            .create_admin_key("bench", &key.hash, now)
            .await;
        created.context("creating an admin key")?;
        Ok(key.secret.expose().to_owned())
    }

    /// The access token of seeded session `i`.
    pub(crate) fn access_token(&self, i: u64) -> String {
        token(&self.tag, 'a', i)
    }

    /// Seeds sessions `from..to`, with their users (where `from` has not made them) and tokens.
    pub(crate) async fn seed(&self, from: u64, to: u64) -> anyhow::Result<()> {
        let now = SystemClock.now();
        // Longer than any benchmark run.
        let expires_at = now + Duration::from_secs(6 * 3600).as_millis() as i64;
        let tag = &self.tag;
        let user_id = |u: u64| format!("5ee0{tag}{u:020x}");
        let user = |u| User {
            id: user_id(u),
            username: format!("seed-{tag}-{u}"),
            password_hash: "!".into(),
            created_at: now,
            disabled_at: None,
        };
        let new = |i, kind, letter| NewToken {
            hash: TokenHash::of(&token(tag, letter, i)),
            kind,
            expires_at,
        };
        let session = |i| Session {
            id: format!("5eed{tag}{i:020x}"),
            user_id: user_id(i / SESSIONS_PER_USER),
            username: String::new(),
            kind: SessionKind::Api,
            created_at: now,
            last_active_at: now,
            revoked_at: None,
            user_agent: None,
            ip: None,
        };
        let (mut batches, mut start) = (tokio::task::JoinSet::new(), from);
        while start < to {
            // Boundaries at multiples of `BATCH` (of ten): a batch makes the users of all its
            // sessions but the first, whose user an earlier, committed call may have made.
            let end = ((start / BATCH + 1) * BATCH).min(to);
            let per_user = |s: u64| s.div_ceil(SESSIONS_PER_USER);
            let users: Vec<User> = (per_user(start)..per_user(end)).map(user).collect();
            let tokens = |i| {
                vec![
                    new(i, TokenKind::Access, 'a'),
                    new(i, TokenKind::Refresh, 'r'),
                ]
            };
            let sessions: Vec<_> = (start..end).map(|i| (session(i), tokens(i))).collect();
            if batches.len() == PARALLEL {
                batches.join_next().await.context("no batch")???;
            }
            let store = self.storage.store().clone();
            batches.spawn(async move { store.seed(&users, &sessions).await });
            start = end;
        }
        while let Some(done) = batches.join_next().await {
            done??;
        }
        Ok(())
    }

    /// Closes the connections, so that nothing of ours stays open while a node is measured.
    pub(crate) async fn close(self) {
        self.storage.store().close().await;
    }
}

#[cfg(test)]
mod tests {
    use adieu_core::token::parse;

    use super::*;

    #[test]
    fn seeded_tokens_have_the_shape_of_real_ones() {
        for i in [0, 7, 999_999, u64::from(u32::MAX)] {
            let (at, rt) = (token("0badf00d", 'a', i), token("0badf00d", 'r', i));
            assert_eq!(parse(TokenKind::Access, &at), Ok(TokenHash::of(&at)));
            assert_eq!(parse(TokenKind::Refresh, &rt), Ok(TokenHash::of(&rt)));
        }
        assert_ne!(token("0badf00d", 'a', 1), token("0badf00d", 'a', 2));
    }
}
