//! Child processes: started with the addresses they print on their first lines, read through
//! `/proc`, and always stopped (a child is killed when dropped, even on an error or a panic).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, bail};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

use crate::procfs;

/// A running child process, and the addresses it said it listens on.
pub struct Process {
    child: tokio::process::Child,
    pid: u32,
    addrs: Vec<SocketAddr>,
}

impl Process {
    /// Starts `cmd`, its stderr into `log`, and waits (at most 60 s) until it has printed a line
    /// starting with each of `prefixes` followed by an address, which it keeps in that order.
    pub async fn start(mut cmd: Command, prefixes: &[&str], log: &Path) -> anyhow::Result<Self> {
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
        let found = found.await;
        found.with_context(|| format!("{name} did not start within 60 s"))??;
        // Keep reading stdout so that the child never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        let addrs = addrs.into_iter().flatten().collect();
        Ok(Self { child, pid, addrs })
    }

    /// `adieu serve --listen 127.0.0.1:0` with `args`, and everything else at its default,
    /// whatever this shell exports. Its addresses: the API's, then, if `args` ask for one, the
    /// operators' listener's.
    pub async fn serve(adieu: &Path, args: &[&str], log: &Path) -> anyhow::Result<Self> {
        let mut cmd = Command::new(adieu);
        cmd.args(["serve", "--listen", "127.0.0.1:0"]).args(args);
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("ADIEU_") || key == "RUST_LOG" {
                cmd.env_remove(&key);
            }
        }
        let admin = args.contains(&"--admin-listen");
        let prefixes = [
            "adieu listening on http://",
            "adieu admin listening on http://",
        ];
        Self::start(cmd, &prefixes[..1 + usize::from(admin)], log).await
    }

    /// Its first listener; for a node, the API's.
    pub fn addr(&self) -> SocketAddr {
        self.addrs[0]
    }

    /// Every listener it announced, in the order asked for.
    pub fn addrs(&self) -> &[SocketAddr] {
        &self.addrs
    }

    /// Its process id, for readings of `/proc`.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// CPU time used so far, in clock ticks (user + system).
    pub fn ticks(&self) -> Option<u64> {
        procfs::ticks(&self.pid.to_string())
    }

    /// Resident memory (`VmRSS`, in KiB) and threads now.
    pub fn rss_and_threads(&self) -> (Option<u64>, Option<u64>) {
        let status = |name| procfs::status(self.pid, name);
        (status("VmRSS:"), status("Threads:"))
    }

    /// Whether it has exited.
    pub fn exited(&mut self) -> bool {
        self.child.try_wait().is_ok_and(|s| s.is_some())
    }

    /// SIGTERM, then SIGKILL if it has not exited within ten seconds.
    pub async fn stop(mut self) {
        let term = Command::new("kill")
            .arg("-TERM")
            .arg(self.pid.to_string())
            .status();
        let wait = Duration::from_secs(10);
        if !term.await.is_ok_and(|s| s.success())
            || tokio::time::timeout(wait, self.child.wait()).await.is_err()
        {
            let _ = self.child.kill().await;
        }
    }
}

/// A program built with this one (by the same `cargo build`, from the same source), next to it.
pub fn sibling(name: &str) -> anyhow::Result<PathBuf> {
    let path = std::env::current_exe()?.with_file_name(name);
    if !path.is_file() {
        bail!(
            "no {} (build it with `cargo build --workspace`)",
            path.display()
        );
    }
    Ok(path)
}
