//! Schema migrations: numbered SQL files embedded in the binary, applied once each, in order,
//! inside one transaction per file.

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
];

pub(crate) const CREATE_VERSIONS: &str = "CREATE TABLE IF NOT EXISTS schema_migrations \
     (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)";

pub(crate) const CURRENT_VERSION: &str = "SELECT COALESCE(MAX(version), 0) FROM schema_migrations";

pub(crate) const RECORD_VERSION: &str =
    "INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)";

macro_rules! run_migrations {
    ($tx:expr, $migrations:expr, $now:expr) => {{
        let tx = $tx;
        sqlx::query($crate::migrate::CREATE_VERSIONS)
            .execute(&mut **tx)
            .await?;
        let current: i64 = sqlx::query_scalar($crate::migrate::CURRENT_VERSION)
            .fetch_one(&mut **tx)
            .await?;
        for migration in $migrations.iter().filter(|m| m.version > current) {
            sqlx::raw_sql(migration.sql).execute(&mut **tx).await?;
            sqlx::query($crate::migrate::RECORD_VERSION)
                .bind(migration.version)
                .bind($now)
                .execute(&mut **tx)
                .await?;
            tracing::info!(version = migration.version, "applied database migration");
        }
        Ok::<(), $crate::StoreError>(())
    }};
}

pub(crate) use run_migrations;
