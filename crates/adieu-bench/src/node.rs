//! Child processes of the benchmark (`adieu serve`, the ceiling's hello world, nginx): started
//! with their addresses read from their first lines, measured through `/proc`, and always
//! stopped (a child is killed when dropped, even on an error or a panic).

use std::net::SocketAddr;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, bail};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

use crate::watch;

/// The flags that turn the server's rate limits off, which would turn a load test into a
/// rate-limit test. Everything else stays at the server's defaults.
pub(crate) const LIMITS_OFF: &str = "--login-attempts-per-user 0 \
    --login-attempts-per-user-total 0 --login-attempts-per-ip 0 --registrations-per-ip 0";

/// A running child process, and the addresses it said it listens on.
pub(crate) struct Process {
    child: tokio::process::Child,
    pid: u32,
    addrs: Vec<SocketAddr>,
}

impl Process {
    /// Starts `cmd`, its stderr into `log`, and waits (at most 60 s) until it has printed a line
    /// starting with each of `prefixes` followed by an address, which it keeps in that order.
    pub(crate) async fn start(
        mut cmd: Command,
        prefixes: &[&str],
        log: &Path,
    ) -> anyhow::Result<Self> {
        let name = cmd.as_std().get_program().to_string_lossy().into_owned();
        let stderr = std::fs::File::create(log).context(log.display().to_string())?;
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr);
        let mut child = cmd.kill_on_drop(true).spawn().context(name.clone())?;
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
                        *addr = Some(a.trim().parse()?);
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
        let addrs = addrs.into_iter().flatten().collect();
        Ok(Self { child, pid, addrs })
    }

    /// A node: the `adieu` next to this program (the same build), serving on port 0 with the
    /// server's defaults except the rate limits, and `cache` if given.
    pub(crate) async fn node(url: &str, cache: Option<bool>, log: &Path) -> anyhow::Result<Self> {
        let mut cmd = Command::new(sibling("adieu")?);
        let args = "serve --listen 127.0.0.1:0 --admin-listen 127.0.0.1:0 --database-url";
        cmd.args(
            args.split(' ')
                .chain([url])
                .chain(LIMITS_OFF.split_whitespace()),
        );
        if let Some(on) = cache {
            cmd.args(["--cache", if on { "on" } else { "off" }]);
        }
        // Everything else at its default, whatever this shell exports.
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("ADIEU_") || key == "RUST_LOG" {
                cmd.env_remove(&key);
            }
        }
        let prefixes = [
            "adieu listening on http://",
            "adieu admin listening on http://",
        ];
        Self::start(cmd, &prefixes, log).await
    }

    /// The ceiling: `adieu-bench-hello`, a bare axum hello world with the server's runtime,
    /// HTTP settings and allocator, as a process of its own.
    pub(crate) async fn hello(log: &Path) -> anyhow::Result<Self> {
        let cmd = Command::new(sibling("adieu-bench-hello")?);
        Self::start(cmd, &["hello listening on http://"], log).await
    }

    /// Its (first) listener; for a node, the API's.
    pub(crate) fn addr(&self) -> SocketAddr {
        self.addrs[0]
    }

    /// A node's operators' listener (`GET /status`, the admin API).
    pub(crate) fn admin(&self) -> SocketAddr {
        self.addrs[1]
    }

    /// CPU time used so far, in clock ticks (user + system).
    pub(crate) fn ticks(&self) -> Option<u64> {
        watch::ticks(&self.pid.to_string())
    }

    /// Resident memory (`VmRSS`, in KiB) and threads now.
    pub(crate) fn rss_and_threads(&self) -> (Option<u64>, Option<u64>) {
        let status = |name| watch::status(self.pid, name);
        (status("VmRSS:"), status("Threads:"))
    }

    pub(crate) fn exited(&mut self) -> bool {
        self.child.try_wait().is_ok_and(|s| s.is_some())
    }

    /// SIGTERM, then SIGKILL if it has not exited within five seconds.
    pub(crate) async fn stop(mut self) {
        let mut kill = Command::new("kill");
        let term = kill.arg("-TERM").arg(self.pid.to_string()).status().await;
        let wait = Duration::from_secs(5);
        if !term.is_ok_and(|s| s.success())
            || tokio::time::timeout(wait, self.child.wait()).await.is_err()
        {
            let _ = self.child.kill().await;
        }
    }
}

/// A program built with this one (by the same `cargo build`, from the same source), next to it.
pub(crate) fn sibling(name: &str) -> anyhow::Result<std::path::PathBuf> {
    let path = std::env::current_exe()?.with_file_name(name);
    if !path.is_file() {
        bail!(
            "no {} (build it with `cargo build --release --workspace`)",
            path.display()
        );
    }
    Ok(path)
}
