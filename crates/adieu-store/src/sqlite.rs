//! SQLite backend: the embedded default for a single node.
//!
//! Writes go through a pool of exactly one connection, so they are serialised in the process
//! and never fail with `SQLITE_BUSY`; reads use their own pool and, in WAL mode, never wait
//! for writes. `synchronous=FULL` makes every commit durable before it returns, so a
//! logout's 200 survives a crash. `tests/cluster/durability.rs` shows it from the system
//! calls, and shows that it would notice `synchronous=OFF` (the `durability-mutant` feature).

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use adieu_core::{Clock, SystemClock};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteQueryResult,
    SqliteSynchronous,
};
use sqlx::{Sqlite, SqlitePool, Transaction};

use crate::backend::Backend;
use crate::migrate::{self, SQLITE};
use crate::{Result, StoreObserver};

/// Every commit is on disk (the WAL synced) before it returns.
#[cfg(not(feature = "durability-mutant"))]
const SYNCHRONOUS: SqliteSynchronous = SqliteSynchronous::Full;
/// The test-only mutant: commits return before anything is synced. Never a production
/// setting; it exists so that the durability test can be seen to fail.
#[cfg(feature = "durability-mutant")]
const SYNCHRONOUS: SqliteSynchronous = SqliteSynchronous::Off;

/// Store on a SQLite file.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    read: SqlitePool,
    write: SqlitePool,
    observer: Option<Arc<dyn StoreObserver>>,
}

impl SqliteStore {
    /// Opens (creating if needed) and migrates the database at a `sqlite:` URL.
    pub async fn connect(url: &str) -> Result<Self> {
        #[cfg(feature = "durability-mutant")]
        tracing::error!(
            "built with the test-only durability-mutant feature: SQLite commits are not \
             synced, and a logout's 200 may be lost with the machine"
        );
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SYNCHRONOUS)
            .foreign_keys(true)
            // Deleted rows are overwritten, not left in free pages: a deleted account must
            // not be readable from the file afterwards.
            .pragma("secure_delete", "ON")
            .busy_timeout(Duration::from_secs(5));
        let in_memory = url.contains(":memory:") || url.contains("mode=memory");
        let write = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options.clone())
            .await?;
        // An in-memory database exists once per connection: share the single one.
        let read = if in_memory {
            write.clone()
        } else {
            SqlitePoolOptions::new()
                .max_connections(4)
                .connect_with(options.read_only(true))
                .await?
        };
        let store = Self {
            read,
            write,
            observer: None,
        };
        store.migrate().await?;
        Ok(store)
    }

    /// The same store, telling `observer` how long its revocations took to confirm.
    pub fn observed_by(self, observer: Option<Arc<dyn StoreObserver>>) -> Self {
        Self { observer, ..self }
    }

    async fn migrate(&self) -> Result<()> {
        let mut tx = self.write.begin().await?;
        migrate::run(&mut tx, SQLITE, SystemClock.now()).await?;
        tx.commit().await?;
        Ok(())
    }
}

impl Backend for SqliteStore {
    type Db = Sqlite;

    /// A single node has no one else to tell, so nothing to wait for.
    type Pending = ();

    /// None: the single writer connection already serialises every write transaction.
    const LOCK_USER: &'static str = "";

    fn reader(&self) -> &SqlitePool {
        &self.read
    }

    fn writer(&self) -> &SqlitePool {
        &self.write
    }

    fn rows_affected(done: &SqliteQueryResult) -> u64 {
        done.rows_affected()
    }

    fn health_of(&self) -> crate::Health {
        crate::Health {
            backend: "sqlite",
            notifications_up: true,
            node_id: None,
            cache: None,
        }
    }

    async fn publish_revoked(
        &self,
        _tx: &mut Transaction<'_, Sqlite>,
        _ids: &[String],
    ) -> Result<()> {
        Ok(())
    }

    async fn confirm_revoked(&self, (): ()) -> Result<()> {
        Ok(())
    }

    /// No lease to give up.
    fn observer(&self) -> Option<&dyn StoreObserver> {
        self.observer.as_deref()
    }

    async fn release_lease(&self) {}

    /// Copies the WAL into the main file and truncates it: the WAL still holds the pages as
    /// they were before the deletion, which `secure_delete` does not reach.
    async fn forget_deleted(&self) -> Result<()> {
        sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
            .execute(&self.write)
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sql;

    /// Every login runs the session cap's query, so it must read the user's live sessions
    /// straight from the index, newest first: not every session the user ever had, and
    /// without a sort. The session list reads the same rows.
    #[tokio::test]
    async fn live_sessions_are_read_from_the_index_without_a_sort() {
        let store = SqliteStore::connect("sqlite::memory:").await.unwrap();
        for query in [
            sql::END_SESSIONS_OVER_LIMIT.to_owned(),
            sql::user_sessions(),
        ] {
            let plan: Vec<(i64, i64, i64, String)> =
                sqlx::query_as(&format!("EXPLAIN QUERY PLAN {query}"))
                    .fetch_all(&store.write)
                    .await
                    .unwrap();
            let steps: Vec<&str> = plan.iter().map(|step| step.3.as_str()).collect();
            let of_sessions =
                |step: &str| step.starts_with("SEARCH sessions ") || step.starts_with("SEARCH s ");
            assert!(
                steps.iter().any(|step| of_sessions(step)),
                "{query}: {steps:?}"
            );
            for step in &steps {
                assert!(!step.starts_with("SCAN"), "{query}: {steps:?}");
                assert!(!step.contains("TEMP B-TREE"), "{query}: {steps:?}");
                if of_sessions(step) {
                    let index = "INDEX sessions_user_live (user_id=? AND revoked_at=?)";
                    assert!(step.contains(index), "{query}: {steps:?}");
                }
            }
        }
    }
}
