//! Child processes of the benchmark (`adieu serve`, the ceiling's hello world, nginx):
//! started with their addresses read from their first lines, measured through `/proc`, and
//! always stopped (a child is killed when dropped, even on an error or a panic).

use std::net::SocketAddr;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, bail};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

use crate::watch;

/// A running child process.
pub(crate) struct Process {
    child: tokio::process::Child,
    pub(crate) pid: u32,
}

impl Process {
    /// Starts `command` and waits (at most 60 s) until it has printed a line starting with
    /// each of `prefixes` followed by an address; returns those addresses in that order.
    pub(crate) async fn start(
        mut command: Command,
        prefixes: &[&str],
        log: &Path,
    ) -> anyhow::Result<(Self, Vec<SocketAddr>)> {
        let name = command
            .as_std()
            .get_program()
            .to_string_lossy()
            .into_owned();
        let stderr = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .with_context(|| format!("opening {}", log.display()))?;
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("starting {name}"))?;
        let pid = child.id().context("the child exited at once")?;
        let mut lines = BufReader::new(child.stdout.take().context("no stdout")?).lines();
        let mut addrs = vec![None; prefixes.len()];
        let found = tokio::time::timeout(Duration::from_secs(60), async {
            while addrs.iter().any(Option::is_none) {
                let Some(line) = lines.next_line().await? else {
                    bail!("{name} exited before listening; see {}", log.display());
                };
                for (prefix, addr) in prefixes.iter().zip(&mut addrs) {
                    if let Some(a) = line.strip_prefix(prefix) {
                        *addr = Some(
                            a.trim()
                                .parse::<SocketAddr>()
                                .context("parsing an address")?,
                        );
                    }
                }
            }
            Ok(())
        });
        found
            .await
            .with_context(|| format!("{name} did not start within 60 s"))??;
        // Keep reading stdout so that the child never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Ok((Self { child, pid }, addrs.into_iter().flatten().collect()))
    }

    /// CPU time used so far, in clock ticks (user + system).
    pub(crate) fn ticks(&self) -> Option<u64> {
        watch::ticks(&self.pid.to_string())
    }

    /// Resident memory now, in KiB (`VmRSS`).
    pub(crate) fn rss_kib(&self) -> Option<u64> {
        watch::status(self.pid, "VmRSS:")
    }

    /// Threads now.
    pub(crate) fn threads(&self) -> Option<u64> {
        watch::status(self.pid, "Threads:")
    }

    /// Whether it has exited.
    pub(crate) fn exited(&mut self) -> bool {
        self.child.try_wait().is_ok_and(|s| s.is_some())
    }

    /// SIGTERM, then SIGKILL if it has not exited within five seconds.
    pub(crate) async fn stop(mut self) {
        let terminated = Command::new("kill")
            .args(["-TERM", &self.pid.to_string()])
            .status()
            .await;
        if terminated.is_ok_and(|s| s.success())
            && tokio::time::timeout(Duration::from_secs(5), self.child.wait())
                .await
                .is_ok()
        {
            return;
        }
        let _ = self.child.kill().await;
    }
}

/// A running `adieu serve`.
pub(crate) struct Node {
    pub(crate) process: Process,
    /// Where it listens.
    pub(crate) addr: SocketAddr,
    /// Its operators' listener (`GET /status`).
    pub(crate) admin: SocketAddr,
}

impl Node {
    /// Starts a node on port 0 with the server's defaults except the rate limits, which would
    /// turn a load test into a rate-limit test, and `cache` if given; stderr goes to `log`.
    pub(crate) async fn start(
        adieu: &Path,
        database_url: &str,
        cache: Option<bool>,
        log: &Path,
    ) -> anyhow::Result<Self> {
        let mut command = Command::new(adieu);
        command
            .args([
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--admin-listen",
                "127.0.0.1:0",
                "--database-url",
                database_url,
            ])
            .args([
                "--login-attempts-per-user",
                "0",
                "--login-attempts-per-ip",
                "0",
            ])
            .args([
                "--login-attempts-per-user-total",
                "0",
                "--registrations-per-ip",
                "0",
            ]);
        if let Some(on) = cache {
            command.args(["--cache", if on { "on" } else { "off" }]);
        }
        // Everything else at its default, whatever this shell exports.
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("ADIEU_") {
                command.env_remove(&key);
            }
        }
        command.env_remove("RUST_LOG");
        let prefixes = [
            "adieu listening on http://",
            "adieu admin listening on http://",
        ];
        let (process, addrs) = Process::start(command, &prefixes, log).await?;
        Ok(Self {
            process,
            addr: addrs[0],
            admin: addrs[1],
        })
    }

    /// The ceiling: `adieu-bench-hello` (next to this program), a bare axum hello world with
    /// the server's runtime, HTTP settings and allocator, as a process of its own.
    pub(crate) async fn hello(log: &Path) -> anyhow::Result<(Process, SocketAddr)> {
        let binary = std::env::current_exe()
            .context("finding this program")?
            .with_file_name("adieu-bench-hello");
        if !binary.is_file() {
            bail!(
                "no {} (build it with `cargo build --release -p adieu-bench`)",
                binary.display()
            );
        }
        let (process, addrs) =
            Process::start(Command::new(&binary), &["hello listening on http://"], log).await?;
        Ok((process, addrs[0]))
    }
}
