//! What a SQL backend provides so that one generic [`Store`](crate::Store) implementation
//! (in `store`) serves it, and the transaction steps built on that.
//!
//! Both backends run the same SQL (`$n` placeholders work in SQLite and PostgreSQL alike);
//! what differs is small: the pools, how a login locks its user's row, and whether a
//! revocation must be announced to other nodes. A backend implements the required items of
//! [`Backend`]; the provided methods are the steps that several `Store` methods share, each
//! inside the caller's write transaction, and no backend overrides them.
//!
//! The `where` clause lists what sqlx must support for our queries: an executor for a
//! connection, argument buffers, the column types we bind, and the rows we read. `Sqlite`
//! and `Postgres` satisfy it, so a backend never spells it out. Rust does not yet imply a
//! trait's `where` clause at its uses (rust-lang/rust#20671), so the generic `Store` impl
//! repeats it; nothing else needs to.

use std::future::Future;
use std::time::Instant;

use adieu_core::{Session, UnixMillis};
use sqlx::query::Query;
use sqlx::{Database, Encode, Executor, FromRow, IntoArguments, Pool, Transaction, Type};

use crate::rows::{SessionRow, TokenRow, UserRow};
use crate::sql;
use crate::{AuditEvent, AuditKind, Health, Keep, NewToken, Result, StoreObserver};

/// A database backend for the generic [`Store`](crate::Store) implementation.
///
/// Methods that return `impl Future + Send` are `async fn` in the implementations; the
/// explicit `Send` lets the generic code run them inside `Store`'s (boxed, `Send`) futures.
pub(crate) trait Backend: Send + Sync + 'static
where
    for<'c> &'c mut <Self::Db as Database>::Connection: Executor<'c, Database = Self::Db>,
    for<'q> <Self::Db as Database>::Arguments<'q>: IntoArguments<'q, Self::Db>,
    for<'q> &'q str: Encode<'q, Self::Db> + Type<Self::Db>,
    for<'q> Option<&'q str>: Encode<'q, Self::Db>,
    for<'q> &'q [u8]: Encode<'q, Self::Db> + Type<Self::Db>,
    for<'q> i64: Encode<'q, Self::Db> + Type<Self::Db>,
    UserRow: for<'r> FromRow<'r, <Self::Db as Database>::Row>,
    SessionRow: for<'r> FromRow<'r, <Self::Db as Database>::Row>,
    TokenRow: for<'r> FromRow<'r, <Self::Db as Database>::Row>,
    (String,): for<'r> FromRow<'r, <Self::Db as Database>::Row>,
    (i64,): for<'r> FromRow<'r, <Self::Db as Database>::Row>,
    (String, i64): for<'r> FromRow<'r, <Self::Db as Database>::Row>,
    (String, String): for<'r> FromRow<'r, <Self::Db as Database>::Row>,
    (String, Option<String>): for<'r> FromRow<'r, <Self::Db as Database>::Row>,
{
    /// The sqlx database type.
    type Db: Database;

    /// A published revocation still to be confirmed after the commit (with PostgreSQL, the
    /// other nodes' acknowledgements to wait for).
    type Pending: Send;

    /// The locking clause with which a login reads its user's row, so that a password
    /// change waits for the login's session (or the login sees the new hash).
    const LOCK_USER: &'static str;

    /// The pool for reads.
    fn reader(&self) -> &Pool<Self::Db>;

    /// The pool for writes (and every transaction).
    fn writer(&self) -> &Pool<Self::Db>;

    /// How many rows a statement changed.
    fn rows_affected(done: &<Self::Db as Database>::QueryResult) -> u64;

    /// Called inside every transaction that ends sessions, before it commits: announces
    /// `ids` as ended.
    fn publish_revoked(
        &self,
        tx: &mut Transaction<'_, Self::Db>,
        ids: &[String],
    ) -> impl Future<Output = Result<Self::Pending>> + Send;

    /// Called after the commit and before the `Store` method returns: waits until the
    /// announcement has been heard.
    fn confirm_revoked(&self, pending: Self::Pending) -> impl Future<Output = Result<()>> + Send;

    /// Backend and notification state (no cache: `Storage` adds that).
    fn health_of(&self) -> Health;

    /// Gives up this node's lease on shutdown, if it holds one.
    fn release_lease(&self) -> impl Future<Output = ()> + Send;

    /// After a user's data was deleted: makes sure no copy of it stays readable where the
    /// backend keeps old pages (SQLite's WAL). Nothing to do by default.
    fn forget_deleted(&self) -> impl Future<Output = Result<()>> + Send {
        async { Ok(()) }
    }

    /// Who is told how long confirmations took, if anyone.
    fn observer(&self) -> Option<&dyn StoreObserver>;

    /// After the commit: confirms what the transaction published, if anything, and tells
    /// the observer how long that took.
    fn confirm(&self, pending: Option<Self::Pending>) -> impl Future<Output = Result<()>> + Send {
        async move {
            let Some(pending) = pending else {
                return Ok(());
            };
            let committed = Instant::now();
            let confirmed = self.confirm_revoked(pending).await;
            if let (Ok(()), Some(observer)) = (&confirmed, self.observer()) {
                observer.revocation_confirmed(committed.elapsed());
            }
            confirmed
        }
    }

    /// Appends `events` to the audit log, in their order, with one statement per thousand.
    fn insert_audits(
        tx: &mut Transaction<'_, Self::Db>,
        events: &[AuditEvent],
    ) -> impl Future<Output = Result<()>> + Send {
        async move {
            for events in events.chunks(1000) {
                let sql = sql::insert_rows(sql::INSERT_AUDITS, events.len(), 7);
                let mut query = sqlx::query(&sql);
                for event in events {
                    query = query
                        .bind(event.at)
                        .bind(event.kind.as_str())
                        .bind(event.user_id.as_deref())
                        .bind(event.session_id.as_deref())
                        .bind(event.context.ip.as_deref())
                        .bind(event.context.user_agent.as_deref())
                        .bind(event.context.actor.as_deref());
                }
                query.execute(&mut **tx).await?;
            }
            Ok(())
        }
    }

    /// A session with its owner's name, whatever its state.
    fn load_session(
        tx: &mut Transaction<'_, Self::Db>,
        session_id: &str,
    ) -> impl Future<Output = Result<Option<Session>>> + Send {
        async move {
            let row: Option<SessionRow> = sqlx::query_as(&sql::session_by_id())
                .bind(session_id)
                .fetch_optional(&mut **tx)
                .await?;
            row.map(TryInto::try_into).transpose()
        }
    }

    /// Stores a new session with its first tokens, unchecked (for seeding).
    #[cfg(feature = "bench")]
    fn insert_session(
        tx: &mut Transaction<'_, Self::Db>,
        session: &Session,
        tokens: &[NewToken],
    ) -> impl Future<Output = Result<()>> + Send {
        async move {
            let sql = sql::insert_rows(sql::INSERT_SESSIONS, 1, 7);
            Self::bind_session(sqlx::query(&sql), session)
                .execute(&mut **tx)
                .await?;
            Self::insert_tokens(tx, &session.id, tokens, session.created_at).await
        }
    }

    /// Stores a new session with its first tokens if its user is enabled and still holds
    /// `verified_hash`, checked under the lock of [`Backend::LOCK_USER`]; returns whether
    /// it did.
    fn insert_verified_session(
        tx: &mut Transaction<'_, Self::Db>,
        session: &Session,
        tokens: &[NewToken],
        verified_hash: &str,
    ) -> impl Future<Output = Result<bool>> + Send {
        async move {
            let sql = sql::insert_verified_session(Self::LOCK_USER);
            let done = Self::bind_session(sqlx::query(&sql), session)
                .bind(verified_hash)
                .execute(&mut **tx)
                .await?;
            if Self::rows_affected(&done) == 0 {
                return Ok(false);
            }
            Self::insert_tokens(tx, &session.id, tokens, session.created_at).await?;
            Ok(true)
        }
    }

    /// Binds `$1`–`$7` of [`sql::INSERT_SESSIONS`] and [`sql::insert_verified_session`].
    fn bind_session<'q>(
        query: Query<'q, Self::Db, <Self::Db as Database>::Arguments<'q>>,
        session: &'q Session,
    ) -> Query<'q, Self::Db, <Self::Db as Database>::Arguments<'q>> {
        query
            .bind(session.id.as_str())
            .bind(session.user_id.as_str())
            .bind(session.kind.as_str())
            .bind(session.created_at)
            .bind(session.last_active_at)
            .bind(session.user_agent.as_deref())
            .bind(session.ip.as_deref())
    }

    /// Stores token hashes of a session, in one statement.
    fn insert_tokens(
        tx: &mut Transaction<'_, Self::Db>,
        session_id: &str,
        tokens: &[NewToken],
        now: UnixMillis,
    ) -> impl Future<Output = Result<()>> + Send {
        async move {
            if tokens.is_empty() {
                return Ok(());
            }
            let sql = sql::insert_rows(sql::INSERT_TOKENS, tokens.len(), 5);
            let mut query = sqlx::query(&sql);
            for token in tokens {
                query = query
                    .bind(token.hash.as_bytes().as_slice())
                    .bind(session_id)
                    .bind(token.kind.as_str())
                    .bind(now)
                    .bind(token.expires_at);
            }
            query.execute(&mut **tx).await?;
            Ok(())
        }
    }

    /// Ends one session; returns whether it was still unrevoked, and what to confirm.
    fn revoke_in(
        &self,
        tx: &mut Transaction<'_, Self::Db>,
        session_id: &str,
        kind: AuditKind,
        now: UnixMillis,
    ) -> impl Future<Output = Result<(bool, Option<Self::Pending>)>> + Send {
        async move {
            let done = sqlx::query(sql::REVOKE_SESSION)
                .bind(session_id)
                .bind(now)
                .bind(kind.as_str())
                .execute(&mut **tx)
                .await?;
            let done = Self::rows_affected(&done) > 0;
            // Published even when someone else ended it first: their answer may still be
            // waiting for the other nodes, and ours must not come sooner.
            let pending = self.publish_revoked(tx, &[session_id.to_owned()]).await?;
            Ok((done, Some(pending)))
        }
    }

    /// Ends every live session of a user but the one `keep` names; returns the ids ended,
    /// and what to confirm.
    fn revoke_user_in(
        &self,
        tx: &mut Transaction<'_, Self::Db>,
        user_id: &str,
        keep: &Keep,
        kind: AuditKind,
        now: UnixMillis,
    ) -> impl Future<Output = Result<(Vec<String>, Option<Self::Pending>)>> + Send {
        async move {
            let query = match keep {
                Keep::None => sqlx::query_scalar(sql::REVOKE_USER_SESSIONS),
                Keep::One(_) => sqlx::query_scalar(sql::REVOKE_OTHER_USER_SESSIONS),
            };
            let mut query = query.bind(user_id).bind(now).bind(kind.as_str());
            if let Keep::One(session_id) = keep {
                query = query.bind(session_id.as_str());
            }
            let ids: Vec<String> = query.fetch_all(&mut **tx).await?;
            // Also announce sessions ended moments ago by a concurrent request, whose
            // answer may still be waiting for the other nodes: ours must not come sooner.
            let recent: Vec<String> = sqlx::query_scalar(sql::RECENTLY_REVOKED)
                .bind(user_id)
                .bind(now - sql::RECENT_REVOCATION_MS)
                .fetch_all(&mut **tx)
                .await?;
            let pending = if recent.is_empty() {
                None
            } else {
                Some(self.publish_revoked(tx, &recent).await?)
            };
            Ok((ids, pending))
        }
    }
}
