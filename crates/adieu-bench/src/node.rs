//! `adieu serve` child processes: started on port 0, measured through `/proc`, and always
//! stopped (the child is killed when its [`Node`] is dropped, even on an error or a panic).

use std::fs::OpenOptions;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, bail};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// What the `adieu` binary under test supports, read from `adieu serve --help`.
#[derive(Debug, Clone, Default)]
pub(crate) struct Capabilities {
    /// `--cache on|off` exists.
    pub(crate) cache_flag: bool,
}

impl Capabilities {
    /// Asks the binary.
    pub(crate) async fn probe(adieu: &Path) -> anyhow::Result<Self> {
        let out = Command::new(adieu)
            .args(["serve", "--help"])
            .output()
            .await
            .with_context(|| format!("running {} serve --help", adieu.display()))?;
        if !out.status.success() {
            bail!("{} serve --help failed", adieu.display());
        }
        Ok(Self::from_help(&String::from_utf8_lossy(&out.stdout)))
    }

    fn from_help(help: &str) -> Self {
        Self {
            cache_flag: help.contains("--cache"),
        }
    }
}

/// How to start one node.
#[derive(Debug, Clone)]
pub(crate) struct NodeSpec {
    /// The `adieu` binary.
    pub(crate) adieu: PathBuf,
    /// `sqlite://…` or `postgres://…`.
    pub(crate) database_url: String,
    /// `Some(on)` passes `--cache on|off`; `None` leaves the server's default.
    pub(crate) cache: Option<bool>,
    /// Where the node's log (stderr) is appended.
    pub(crate) log: PathBuf,
}

/// A running `adieu serve`.
pub(crate) struct Node {
    child: Child,
    pid: u32,
    /// Where it listens.
    pub(crate) addr: SocketAddr,
    /// Its operators' listener (`GET /status`).
    pub(crate) admin: SocketAddr,
}

impl Node {
    /// Starts a node and waits until it prints its two addresses.
    pub(crate) async fn start(spec: &NodeSpec) -> anyhow::Result<Self> {
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&spec.log)
            .with_context(|| format!("opening {}", spec.log.display()))?;
        let mut command = Command::new(&spec.adieu);
        command
            .args([
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--admin-listen",
                "127.0.0.1:0",
            ])
            .arg("--database-url")
            .arg(&spec.database_url)
            // Rate limits would turn a load test into a rate-limit test.
            .args([
                "--login-attempts-per-user",
                "0",
                "--login-attempts-per-ip",
                "0",
                "--login-attempts-per-user-total",
                "0",
                "--registrations-per-ip",
                "0",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log))
            .kill_on_drop(true);
        if let Some(on) = spec.cache {
            command.args(["--cache", if on { "on" } else { "off" }]);
        }
        // Everything else at its default, whatever this shell exports.
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("ADIEU_") {
                command.env_remove(&key);
            }
        }
        command.env_remove("RUST_LOG");
        let mut child = command
            .spawn()
            .with_context(|| format!("starting {}", spec.adieu.display()))?;
        let pid = child.id().context("the node exited at once")?;
        let stdout = child.stdout.take().context("no stdout")?;
        let mut lines = BufReader::new(stdout).lines();
        let (addr, admin) = tokio::time::timeout(Duration::from_secs(60), async {
            let (mut addr, mut admin) = (None, None);
            while let Some(line) = lines.next_line().await? {
                let parse = |a: &str| a.trim().parse::<SocketAddr>().context("parsing an address");
                if let Some(a) = line.strip_prefix("adieu listening on http://") {
                    addr = Some(parse(a)?);
                } else if let Some(a) = line.strip_prefix("adieu admin listening on http://") {
                    admin = Some(parse(a)?);
                }
                if let (Some(addr), Some(admin)) = (addr, admin) {
                    return Ok((addr, admin));
                }
            }
            bail!(
                "the node exited before listening on both addresses; see {}",
                spec.log.display()
            )
        })
        .await
        .context("the node did not start within 60 s")??;
        // Keep reading stdout so that the node never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Ok(Self {
            child,
            pid,
            addr,
            admin,
        })
    }

    /// Resident memory of the node now, in KiB (`VmRSS`).
    pub(crate) fn rss_kib(&self) -> Option<u64> {
        self.status_field("VmRSS:")
    }

    /// Threads of the node now.
    pub(crate) fn threads(&self) -> Option<u64> {
        self.status_field("Threads:")
    }

    fn status_field(&self, name: &str) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid)).ok()?;
        parse_status_field(&status, name)
    }

    /// CPU time used by the node so far, in clock ticks (user + system).
    pub(crate) fn cpu_ticks(&self) -> Option<u64> {
        cpu_ticks_of(self.pid)
    }

    /// Stops the node: SIGTERM, then SIGKILL if it has not exited within five seconds.
    pub(crate) async fn stop(mut self) {
        let terminated = Command::new("kill")
            .args(["-TERM", &self.pid.to_string()])
            .status()
            .await
            .is_ok_and(|s| s.success());
        if terminated
            && tokio::time::timeout(Duration::from_secs(5), self.child.wait())
                .await
                .is_ok()
        {
            return;
        }
        let _ = self.child.kill().await;
    }
}

/// CPU time used by process `pid` so far, in clock ticks (user + system).
pub(crate) fn cpu_ticks_of(pid: u32) -> Option<u64> {
    parse_stat_cpu_ticks(&std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
}

/// CPU time of this process so far, in clock ticks.
pub(crate) fn own_cpu_ticks() -> Option<u64> {
    parse_stat_cpu_ticks(&std::fs::read_to_string("/proc/self/stat").ok()?)
}

/// Clock ticks per second, for reading `/proc/*/stat`.
pub(crate) async fn clock_ticks_per_sec() -> u64 {
    // `sysconf` would need unsafe code; `getconf` answers the same question.
    let out = Command::new("getconf").arg("CLK_TCK").output().await;
    out.ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100)
}

/// The number after `name` in `/proc/PID/status` (`VmRSS:` in KiB, `Threads:`).
fn parse_status_field(status: &str, name: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with(name))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// `utime + stime` from a `/proc/PID/stat` line. The command name may contain spaces and
/// parentheses, so fields are counted from the last `)`.
fn parse_stat_cpu_ticks(stat: &str) -> Option<u64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After the name: state is field 3 of the man page, utime 14 and stime 15.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_rss_threads_and_cpu_from_proc_formats() {
        let status = "Name:\tadieu\nVmPeak:\t  9000 kB\nVmRSS:\t   12345 kB\nThreads:\t3\n";
        assert_eq!(parse_status_field(status, "VmRSS:"), Some(12345));
        assert_eq!(parse_status_field(status, "Threads:"), Some(3));
        let stat = "4242 (adieu serve) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 3 0";
        assert_eq!(parse_stat_cpu_ticks(stat), Some(300));
    }

    #[test]
    fn the_help_text_tells_which_flags_exist() {
        let caps = Capabilities::from_help("  --cache <CACHE>  per-node cache [on|off]\n");
        assert!(caps.cache_flag);
        assert!(!Capabilities::from_help("  --listen <LISTEN>\n").cache_flag);
    }
}
