//! What the figures were measured on: the machine, the compiler, PostgreSQL and the source.

use std::path::{Path, PathBuf};
use std::process::Command;

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

/// Why the `adieu` binary may not be the source that `git describe` names: a file it is
/// built from was modified after the binary was linked (cargo, too, goes by modification
/// times). The benchmark's own crate, tests, examples and documents do not count.
pub(crate) fn binary_older_than_source(adieu: &Path) -> Option<String> {
    let built = std::fs::metadata(adieu).ok()?.modified().ok()?;
    let repo = env!("CARGO_MANIFEST_DIR");
    let out = Command::new("git")
        .args(["-C", repo, "ls-files", "--full-name", "--", ":/"])
        .args([
            ":(exclude,top)crates/adieu-bench",
            ":(exclude,top,glob)**/tests/**",
            ":(exclude,top,glob)**/examples/**",
            ":(exclude,top,glob)**/*.md",
            ":(exclude,top)docs",
            ":(exclude,top)tests",
            ":(exclude,top).ci",
            ":(exclude,top).gitignore",
        ])
        .output()
        .ok()?;
    let root = Command::new("git")
        .args(["-C", repo, "rev-parse", "--show-toplevel"])
        .output()
        .ok()?;
    let root = PathBuf::from(String::from_utf8_lossy(&root.stdout).trim());
    let newer: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|path| {
            std::fs::metadata(root.join(path))
                .and_then(|m| m.modified())
                .is_ok_and(|t| t > built)
        })
        .map(str::to_owned)
        .collect();
    match newer.len() {
        0 => None,
        n if n <= 5 => Some(format!(
            "modified after the `adieu` binary was built: {}",
            newer.join(", ")
        )),
        n => Some(format!(
            "{n} source files were modified after the `adieu` binary was built, {} among them",
            newer[..3].join(", ")
        )),
    }
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
