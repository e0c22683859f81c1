//! Throwaway PostgreSQL databases: created on a server that must be reachable (an unreachable
//! one is an error, never a reason to measure something else), and all dropped at the end.

use std::sync::{Arc, Mutex};

use anyhow::Context;
use sqlx::{Connection, PgConnection};

/// A PostgreSQL server to borrow databases from.
#[derive(Debug, Clone)]
pub struct Postgres {
    admin_url: String,
    /// The prefix of this run's databases: the caller's, and a random tag, so that two runs
    /// never collide.
    prefix: String,
    made: Arc<Mutex<Vec<String>>>,
}

impl Postgres {
    /// Connects once to check the server; returns it with its version. Databases will be named
    /// `{prefix}_{tag}_{n}`, `prefix` made of `[a-z0-9_]`.
    pub async fn connect(admin_url: &str, prefix: &str) -> anyhow::Result<(Self, String)> {
        let mut conn = PgConnection::connect(admin_url).await?;
        let version = sqlx::query_scalar("SHOW server_version");
        let version = version.fetch_one(&mut conn).await?;
        conn.close().await?;
        let prefix = format!("{prefix}_{}", &adieu_core::new_id()[..8]);
        let (admin_url, made) = (admin_url.to_owned(), Arc::default());
        Ok((
            Self {
                admin_url,
                prefix,
                made,
            },
            version,
        ))
    }

    /// Runs `sql` on the database at `url`.
    pub async fn run(url: &str, sql: &str) -> anyhow::Result<()> {
        let mut conn = PgConnection::connect(url).await?;
        sqlx::query(sql).execute(&mut conn).await?;
        Ok(conn.close().await?)
    }

    /// Creates an empty database; its URL.
    pub async fn create_database(&self) -> anyhow::Result<String> {
        let name = {
            let mut made = self.made.lock().expect("not poisoned");
            let name = format!("{}_{}", self.prefix, made.len() + 1);
            made.push(name.clone());
            name
        };
        // Names are made of [a-z0-9_] only, so quoting is all they need.
        let created = Self::run(&self.admin_url, &format!("CREATE DATABASE \"{name}\"")).await;
        created.with_context(|| format!("creating database {name}"))?;
        Ok(with_database(&self.admin_url, &name))
    }

    /// Drops every database made so far, even those that nodes are still connected to.
    pub async fn drop_all(&self) {
        let made = std::mem::take(&mut *self.made.lock().expect("not poisoned"));
        for name in made {
            let sql = format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)");
            if let Err(e) = Self::run(&self.admin_url, &sql).await {
                eprintln!("warning: could not drop database {name}: {e:#}");
            }
        }
    }
}

/// The same server URL with another database name; the query string is kept.
pub fn with_database(url: &str, database: &str) -> String {
    let (base, query) = url
        .split_once('?')
        .map_or((url, None), |(b, q)| (b, Some(q)));
    let host = base.find("://").map_or(0, |i| i + 3);
    let server = base[host..].find('/').map_or(base, |i| &base[..host + i]);
    let query = query.map(|q| format!("?{q}")).unwrap_or_default();
    format!("{server}/{database}{query}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_urls_swap_only_the_database_name() {
        let swap = |url: &str| with_database(url, "b1");
        let pg = "postgres://postgres@127.0.0.1:5432";
        assert_eq!(swap(&format!("{pg}/postgres")), format!("{pg}/b1"));
        assert_eq!(swap(pg), format!("{pg}/b1"));
        let query = swap("pg://u@h/db?sslmode=disable");
        assert_eq!(query, "pg://u@h/b1?sslmode=disable");
    }
}
