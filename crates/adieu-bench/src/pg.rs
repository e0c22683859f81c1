//! A fresh PostgreSQL database for every measurement, dropped when the benchmark ends.

use std::sync::{Arc, Mutex};

use anyhow::Context;
use sqlx::{Connection, PgConnection};

/// The PostgreSQL server the benchmark borrows databases from.
#[derive(Debug, Clone)]
pub(crate) struct Postgres {
    admin_url: String,
    /// Suffix shared by the names of this run's databases, so that two runs never collide.
    run_tag: String,
    created: Arc<Mutex<Vec<String>>>,
}

impl Postgres {
    /// Connects once to check the server and read its version.
    pub(crate) async fn connect(admin_url: &str) -> anyhow::Result<(Self, String)> {
        let mut conn = PgConnection::connect(admin_url)
            .await
            .context("connecting to PostgreSQL")?;
        let version: String = sqlx::query_scalar("SHOW server_version")
            .fetch_one(&mut conn)
            .await?;
        conn.close().await.ok();
        let pg = Self {
            admin_url: admin_url.to_owned(),
            run_tag: hex::encode(adieu_core::random_bytes::<4>()),
            created: Arc::default(),
        };
        Ok((pg, version))
    }

    /// Creates an empty database and returns its URL.
    pub(crate) async fn create_database(&self, label: &str) -> anyhow::Result<String> {
        let name = {
            let mut created = self.created.lock().expect("not poisoned");
            let name = format!("adieu_bench_{}_{}_{}", self.run_tag, created.len(), label);
            created.push(name.clone());
            name
        };
        let mut conn = PgConnection::connect(&self.admin_url).await?;
        // Names are made of [a-z0-9_] only, so quoting is all they need.
        sqlx::query(&format!("CREATE DATABASE \"{name}\""))
            .execute(&mut conn)
            .await
            .with_context(|| format!("creating database {name}"))?;
        conn.close().await.ok();
        Ok(with_database(&self.admin_url, &name))
    }

    /// Fresh statistics for a database just seeded, as autovacuum would give a long-lived
    /// one; then its size on disk in bytes.
    pub(crate) async fn analyze_and_size(&self, url: &str) -> Option<u64> {
        let mut conn = PgConnection::connect(url).await.ok()?;
        sqlx::query("ANALYZE").execute(&mut conn).await.ok()?;
        let size: i64 = sqlx::query_scalar("SELECT pg_database_size(current_database())")
            .fetch_one(&mut conn)
            .await
            .ok()?;
        conn.close().await.ok();
        u64::try_from(size).ok()
    }

    /// Drops every database this run created (also those of nodes still connected).
    pub(crate) async fn drop_all(&self) {
        let names = std::mem::take(&mut *self.created.lock().expect("not poisoned"));
        if names.is_empty() {
            return;
        }
        let Ok(mut conn) = PgConnection::connect(&self.admin_url).await else {
            eprintln!("warning: could not reconnect to drop {names:?}");
            return;
        };
        for name in names {
            let sql = format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)");
            if let Err(e) = sqlx::query(&sql).execute(&mut conn).await {
                eprintln!("warning: could not drop database {name}: {e}");
            }
        }
        conn.close().await.ok();
    }
}

/// The same server URL with another database name; the query string is kept.
pub(crate) fn with_database(url: &str, database: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let authority_start = base.find("://").map_or(0, |i| i + 3);
    let server = match base[authority_start..].find('/') {
        Some(slash) => &base[..authority_start + slash],
        None => base,
    };
    match query {
        Some(q) => format!("{server}/{database}?{q}"),
        None => format!("{server}/{database}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_urls_swap_only_the_database_name() {
        assert_eq!(
            with_database("postgres://postgres@127.0.0.1:5432/postgres", "b1"),
            "postgres://postgres@127.0.0.1:5432/b1"
        );
        assert_eq!(
            with_database("postgres://u@h:5432", "b1"),
            "postgres://u@h:5432/b1"
        );
        assert_eq!(
            with_database("postgres://u@h/db?sslmode=disable", "b1"),
            "postgres://u@h/b1?sslmode=disable"
        );
    }
}
