//! Live sessions written into the database through the store's own bulk method: a million
//! logins through the API would take hours of argon2id and measure nothing we want here.
//!
//! Session `i` belongs to seeded user `i / 10` and has one access and one refresh token, like
//! a real login. Token secrets are derived from the session number and a random tag of this
//! database, so the benchmark can present any of them without storing a million strings;
//! they are throwaway credentials in a throwaway database. The server only ever sees their
//! SHA-256, exactly as for the tokens it mints itself.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use adieu_core::{Session, SessionKind, TokenHash, TokenKind};
use adieu_store::{NewToken, Storage, StoreOptions, User};
use anyhow::Context;

/// Sessions per seeded user.
const SESSIONS_PER_USER: u64 = 10;
/// Lifetime of seeded access tokens: longer than any benchmark run.
const TOKEN_TTL: Duration = Duration::from_secs(6 * 3600);
/// Sessions per transaction: bounded memory, few commits.
const BATCH: u64 = 10_000;
/// Transactions at once.
const PARALLEL: usize = 4;

/// The token of kind `letter` (`a`ccess or `r`efresh) of seeded session `i`.
fn token(tag: &str, letter: char, i: u64) -> String {
    let prefix = if letter == 'a' {
        "adieu_at_"
    } else {
        "adieu_rt_"
    };
    format!("{prefix}{tag}{letter}{i:034}")
}

/// Writes seeded sessions into one database.
pub(crate) struct Seeder {
    storage: Storage,
    /// Eight hex digits that make this database's ids and tokens its own.
    tag: String,
}

impl Seeder {
    /// Opens (and migrates, if need be) a database, without a cache.
    pub(crate) async fn open(database_url: &str) -> anyhow::Result<Self> {
        let options = StoreOptions {
            cache: false,
            ..StoreOptions::default()
        };
        // Run to completion in place: the compiler cannot prove the store's connection future
        // `Send` for every lifetime at once (its generic migrations), which a future of the
        // benchmark's spawned task must be.
        let connect = || {
            tokio::runtime::Handle::current().block_on(adieu_store::connect(database_url, &options))
        };
        let storage =
            tokio::task::block_in_place(connect).context("opening the database to seed it")?;
        Ok(Self {
            storage,
            tag: hex::encode(adieu_core::random_bytes::<4>()),
        })
    }

    /// The access token of seeded session `i`.
    pub(crate) fn access_token(&self, i: u64) -> String {
        token(&self.tag, 'a', i)
    }

    /// Seeds sessions `from..to`, with their users (where `from` has not made them) and tokens.
    pub(crate) async fn seed(&self, from: u64, to: u64) -> anyhow::Result<()> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("after 1970")
            .as_millis() as i64;
        let expires_at = now + TOKEN_TTL.as_millis() as i64;
        let tag = &self.tag;
        let user_id = |u: u64| format!("5ee0{tag}{u:020x}");
        let mut batches = tokio::task::JoinSet::new();
        let mut start = from;
        while start < to {
            // Boundaries at multiples of `BATCH` (of ten): a batch makes the users of all its
            // sessions, but the first, whose user an earlier, committed call may have made.
            let end = ((start / BATCH + 1) * BATCH).min(to);
            let users: Vec<User> = (start.div_ceil(SESSIONS_PER_USER)
                ..end.div_ceil(SESSIONS_PER_USER))
                .map(|u| User {
                    id: user_id(u),
                    username: format!("seed-{tag}-{u}"),
                    password_hash: "!".into(),
                    created_at: now,
                    disabled_at: None,
                })
                .collect();
            let sessions: Vec<(Session, Vec<NewToken>)> = (start..end)
                .map(|i| {
                    let session = Session {
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
                    let new = |kind, letter| NewToken {
                        hash: TokenHash::of(&token(tag, letter, i)),
                        kind,
                        expires_at,
                    };
                    (
                        session,
                        vec![new(TokenKind::Access, 'a'), new(TokenKind::Refresh, 'r')],
                    )
                })
                .collect();
            // A few transactions at once: PostgreSQL spends its time waiting for round trips.
            if batches.len() == PARALLEL {
                batches
                    .join_next()
                    .await
                    .context("no batch")?
                    .context("seeding panicked")??;
            }
            let store = self.storage.store().clone();
            batches.spawn(async move {
                store
                    .seed(&users, &sessions)
                    .await
                    .context("seeding sessions")
            });
            start = end;
        }
        while let Some(done) = batches.join_next().await {
            done.context("seeding panicked")??;
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
