//! What the figures were measured on, and how busy the machine was meanwhile.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, UNIX_EPOCH};

/// The machine, as the report describes it.
#[derive(Debug, Clone, Default)]
pub(crate) struct Machine {
    pub(crate) cpu: String,
    pub(crate) cores: usize,
    pub(crate) memory_gib: f64,
    pub(crate) os: String,
    pub(crate) kernel: String,
    pub(crate) rustc: String,
    pub(crate) postgres: Option<String>,
    /// `git describe` of the tree the binaries were built from, when known.
    pub(crate) commit: Option<String>,
}

impl Machine {
    /// Reads `/proc` and `/etc/os-release`.
    pub(crate) fn describe() -> Self {
        let read = |p: &str| std::fs::read_to_string(p).unwrap_or_default();
        let cpuinfo = read("/proc/cpuinfo");
        let cpu = cpuinfo
            .lines()
            .find_map(|l| l.strip_prefix("model name"))
            .and_then(|rest| rest.split_once(':'))
            .map_or_else(|| "unknown".to_owned(), |(_, v)| v.trim().to_owned());
        let memory_gib = read("/proc/meminfo")
            .lines()
            .find_map(|l| l.strip_prefix("MemTotal:"))
            .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
            .map_or(0.0, |kib| kib / (1024.0 * 1024.0));
        let os = read("/etc/os-release")
            .lines()
            .find_map(|l| l.strip_prefix("PRETTY_NAME="))
            .map_or_else(|| "unknown".to_owned(), |v| v.trim_matches('"').to_owned());
        Self {
            cpu,
            cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
            memory_gib,
            os,
            kernel: read("/proc/sys/kernel/osrelease").trim().to_owned(),
            rustc: env!("ADIEU_BENCH_RUSTC_VERSION").to_owned(),
            postgres: None,
            commit: git_describe(),
        }
    }
}

/// Why the `adieu` binary may not be the source that `git describe` names: the last commit,
/// or an uncommitted edit of a tracked file, is newer than the binary.
pub(crate) fn binary_older_than_source(adieu: &Path) -> Option<String> {
    let built = std::fs::metadata(adieu).ok()?.modified().ok()?;
    let repo = env!("CARGO_MANIFEST_DIR");
    let git = |args: &[&str]| {
        let out = Command::new("git")
            .args(["-C", repo])
            .args(args)
            .output()
            .ok()?;
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
    };
    let committed: u64 = git(&["log", "-1", "--format=%ct"])?.trim().parse().ok()?;
    if UNIX_EPOCH + Duration::from_secs(committed) > built {
        return Some("the last commit is newer than the `adieu` binary".to_owned());
    }
    let root = PathBuf::from(git(&["rev-parse", "--show-toplevel"])?.trim());
    let status = git(&["status", "--porcelain", "--untracked-files=no"])?;
    let newer: Vec<&str> = status
        .lines()
        .filter_map(|l| l.get(3..))
        .filter(|path| {
            std::fs::metadata(root.join(path))
                .and_then(|m| m.modified())
                .is_ok_and(|t| t > built)
        })
        .collect();
    (!newer.is_empty()).then(|| {
        format!(
            "uncommitted edits newer than the `adieu` binary: {}",
            newer.join(", ")
        )
    })
}

/// The commit of the tree this benchmark was built from (the same workspace as `adieu`).
fn git_describe() -> Option<String> {
    let out = Command::new("git")
        .args(["-C", env!("CARGO_MANIFEST_DIR")])
        .args(["describe", "--always", "--dirty", "--abbrev=12"])
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}
