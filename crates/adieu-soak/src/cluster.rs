//! What the soak runs against: a throwaway PostgreSQL database and three `adieu serve`
//! processes on it. Nodes are killed when dropped (an error or Ctrl-C included); the
//! database is dropped by [`Database::drop_now`].

use std::net::SocketAddr;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, bail};
use sqlx::{Connection, PgConnection};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// The flags each node gets beyond its address and database, as the report states them: no
/// rate limits, which would turn a soak into a rate-limit test, and a cheap argon2id (1 MiB,
/// one pass instead of 19 MiB and two), so that logins exercise sessions rather than the
/// hash on a two-core machine.
pub(crate) const NODE_FLAGS: &[&str] = &[
    "--login-attempts-per-user",
    "0",
    "--login-attempts-per-user-total",
    "0",
    "--login-attempts-per-ip",
    "0",
    "--registrations-per-ip",
    "0",
    "--argon2-memory-kib",
    "1024",
    "--argon2-iterations",
    "1",
];

/// A running `adieu serve`.
pub(crate) struct Node {
    child: Child,
    pub(crate) pid: u32,
    pub(crate) addr: SocketAddr,
}

impl Node {
    /// Starts a node on port 0 and waits (at most 60 s) for its "listening" line; stderr
    /// goes to `log`.
    pub(crate) async fn start(
        adieu: &Path,
        database_url: &str,
        log: &Path,
    ) -> anyhow::Result<Self> {
        let stderr =
            std::fs::File::create(log).with_context(|| format!("creating {}", log.display()))?;
        let mut command = Command::new(adieu);
        command
            .args(["serve", "--listen", "127.0.0.1:0", "--database-url"])
            .arg(database_url)
            .args(NODE_FLAGS);
        // Everything else at its default, whatever this shell exports.
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("ADIEU_") {
                command.env_remove(&key);
            }
        }
        let mut child = command
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("starting {}", adieu.display()))?;
        let pid = child.id().context("the node exited at once")?;
        let mut lines = BufReader::new(child.stdout.take().context("no stdout")?).lines();
        let listening = async {
            loop {
                let Some(line) = lines.next_line().await? else {
                    bail!("the node exited before listening; see {}", log.display());
                };
                if let Some(addr) = line.strip_prefix("adieu listening on http://") {
                    return addr
                        .trim()
                        .parse::<SocketAddr>()
                        .context("parsing its address");
                }
            }
        };
        let addr = tokio::time::timeout(Duration::from_secs(60), listening)
            .await
            .context("the node did not start within 60 s")??;
        // Keep reading stdout so that the node never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Ok(Self { child, pid, addr })
    }

    /// Whether it has exited (it never should during a soak).
    pub(crate) fn exited(&mut self) -> bool {
        self.child.try_wait().is_ok_and(|s| s.is_some())
    }

    /// SIGTERM, then SIGKILL if it has not exited within ten seconds.
    pub(crate) async fn stop(mut self) {
        let terminated = Command::new("kill")
            .args(["-TERM", &self.pid.to_string()])
            .status()
            .await;
        if terminated.is_ok_and(|s| s.success())
            && tokio::time::timeout(Duration::from_secs(10), self.child.wait())
                .await
                .is_ok()
        {
            return;
        }
        let _ = self.child.kill().await;
    }
}

/// A database of its own for one soak, on the server of `admin_url`.
#[derive(Debug)]
pub(crate) struct Database {
    admin_url: String,
    name: String,
    /// Where the nodes connect.
    pub(crate) url: String,
    /// `SHOW server_version`.
    pub(crate) version: String,
}

impl Database {
    /// Connects to `admin_url` and creates an empty database; an unreachable server is an
    /// error, never a reason to soak something else.
    pub(crate) async fn create(admin_url: &str) -> anyhow::Result<Self> {
        let mut conn = PgConnection::connect(admin_url).await.context(
            "PostgreSQL is not reachable (start it, or point --postgres-url or ADIEU_SOAK_POSTGRES_URL at it)",
        )?;
        let version: String = sqlx::query_scalar("SHOW server_version")
            .fetch_one(&mut conn)
            .await
            .context("asking PostgreSQL its version")?;
        // Names are made of [a-z0-9_] only, so quoting is all they need.
        let name = format!("adieu_soak_{}", adieu_core::new_id());
        sqlx::query(&format!("CREATE DATABASE \"{name}\""))
            .execute(&mut conn)
            .await
            .with_context(|| format!("creating database {name}"))?;
        conn.close().await.ok();
        Ok(Self {
            url: with_database(admin_url, &name),
            admin_url: admin_url.to_owned(),
            name,
            version,
        })
    }

    /// Drops the database, even while nodes are still connected to it.
    pub(crate) async fn drop_now(self) {
        let sql = format!("DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)", self.name);
        let dropped = async {
            let mut conn = PgConnection::connect(&self.admin_url).await?;
            sqlx::query(&sql).execute(&mut conn).await?;
            conn.close().await
        };
        if let Err(e) = dropped.await {
            eprintln!(
                "adieu-soak: warning: could not drop database {}: {e}",
                self.name
            );
        }
    }
}

/// The same server URL with another database name; the query string is kept.
pub(crate) fn with_database(url: &str, database: &str) -> String {
    let (base, query) = url
        .split_once('?')
        .map_or((url, None), |(b, q)| (b, Some(q)));
    let authority = base.find("://").map_or(0, |i| i + 3);
    let server = base[authority..]
        .find('/')
        .map_or(base, |slash| &base[..authority + slash]);
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
            with_database("postgres://postgres@127.0.0.1:5432/test", "s1"),
            "postgres://postgres@127.0.0.1:5432/s1"
        );
        assert_eq!(
            with_database("postgres://u@h:5432", "s1"),
            "postgres://u@h:5432/s1"
        );
        assert_eq!(
            with_database("postgres://u@h/db?sslmode=disable", "s1"),
            "postgres://u@h/s1?sslmode=disable"
        );
    }
}
