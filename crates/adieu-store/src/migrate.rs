//! Schema migrations: numbered SQL files embedded in the binary, applied once each, in order,
//! inside the caller's transaction (one for all pending files, so a node starts on either
//! the old schema or the new one).

use adieu_core::UnixMillis;
use sqlx::{Database, Encode, Executor, FromRow, IntoArguments, Transaction, Type};

use crate::Result;

/// A numbered migration.
pub(crate) struct Migration {
    pub(crate) version: i64,
    pub(crate) sql: &'static str,
}

pub(crate) const SQLITE: &[Migration] = &[
    Migration {
        version: 1,
        sql: include_str!("../migrations/sqlite/0001_init.sql"),
    },
    Migration {
        version: 2,
        sql: include_str!("../migrations/sqlite/0002_audit_retention.sql"),
    },
    Migration {
        version: 3,
        sql: include_str!("../migrations/sqlite/0003_operations.sql"),
    },
    Migration {
        version: 4,
        sql: include_str!("../migrations/sqlite/0004_clients.sql"),
    },
    Migration {
        version: 5,
        sql: include_str!("../migrations/sqlite/0005_live_sessions.sql"),
    },
];

pub(crate) const POSTGRES: &[Migration] = &[
    Migration {
        version: 1,
        sql: include_str!("../migrations/postgres/0001_init.sql"),
    },
    Migration {
        version: 2,
        sql: include_str!("../migrations/postgres/0002_audit_retention.sql"),
    },
    Migration {
        version: 3,
        sql: include_str!("../migrations/postgres/0003_operations.sql"),
    },
    Migration {
        version: 4,
        sql: include_str!("../migrations/postgres/0004_clients.sql"),
    },
    Migration {
        version: 5,
        sql: include_str!("../migrations/postgres/0005_live_sessions.sql"),
    },
];

const CREATE_VERSIONS: &str = "CREATE TABLE IF NOT EXISTS schema_migrations \
     (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)";

const CURRENT_VERSION: &str = "SELECT COALESCE(MAX(version), 0) FROM schema_migrations";

const RECORD_VERSION: &str = "INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)";

/// Applies, inside `tx`, every migration newer than the database's version, in order.
///
/// Generic over the backend; the bounds say what sqlx must support for the queries below
/// (both `Sqlite` and `Postgres` do).
pub(crate) async fn run<DB>(
    tx: &mut Transaction<'_, DB>,
    migrations: &[Migration],
    now: UnixMillis,
) -> Result<()>
where
    DB: Database,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
    for<'q> i64: Encode<'q, DB> + Type<DB>,
    (i64,): for<'r> FromRow<'r, DB::Row>,
{
    sqlx::query(CREATE_VERSIONS).execute(&mut **tx).await?;
    let current: i64 = sqlx::query_scalar(CURRENT_VERSION)
        .fetch_one(&mut **tx)
        .await?;
    for migration in migrations.iter().filter(|m| m.version > current) {
        sqlx::raw_sql(migration.sql).execute(&mut **tx).await?;
        sqlx::query(RECORD_VERSION)
            .bind(migration.version)
            .bind(now)
            .execute(&mut **tx)
            .await?;
        tracing::info!(version = migration.version, "applied database migration");
    }
    Ok(())
}
