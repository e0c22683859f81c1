//! What the figures were measured on: the machine, the compiler and the source (PostgreSQL's
//! version is filled in by whoever connects to it).

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::watch;

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
        let field = |text: &str, name: &str| {
            let line = text.lines().find_map(|l| l.strip_prefix(name))?;
            Some(
                line.trim_start_matches([' ', '\t', ':', '='])
                    .trim()
                    .to_owned(),
            )
        };
        let os = std::fs::read_to_string("/etc/os-release").unwrap_or_default();
        let memory_kib = field(&watch::proc("meminfo"), "MemTotal")
            .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok());
        let git = Command::new("git")
            .args(["-C", env!("CARGO_MANIFEST_DIR")])
            .args(["describe", "--always", "--dirty", "--abbrev=12"])
            .output()
            .ok()
            .filter(|o| o.status.success());
        Self {
            cpu: field(&watch::proc("cpuinfo"), "model name").unwrap_or("unknown".into()),
            cores: watch::cores(),
            memory_gib: memory_kib.unwrap_or(0.0) / (1024.0 * 1024.0),
            os: field(&os, "PRETTY_NAME").map_or("unknown".into(), |v| v.trim_matches('"').into()),
            kernel: watch::proc("sys/kernel/osrelease").trim().to_owned(),
            rustc: env!("ADIEU_BENCH_RUSTC_VERSION").to_owned(),
            postgres: None,
            commit: git.map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned()),
        }
    }
}

/// Why the `adieu` binary may not be the source that `git describe` names: a file it is built
/// from was modified after the binary was linked (cargo, too, goes by modification times).
/// The benchmark's own crate, tests, examples and documents do not count.
pub(crate) fn binary_older_than_source(adieu: &Path) -> Option<String> {
    let built = std::fs::metadata(adieu).ok()?.modified().ok()?;
    let git = |args: &[&str]| {
        let out = Command::new("git")
            .args(["-C", env!("CARGO_MANIFEST_DIR")])
            .args(args)
            .output();
        out.ok()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
    };
    let root = PathBuf::from(git(&["rev-parse", "--show-toplevel"])?.trim());
    let files = git(&[
        "ls-files",
        "--full-name",
        "--",
        ":/",
        ":(exclude,top)crates/adieu-bench",
        ":(exclude,top,glob)**/tests/**",
        ":(exclude,top,glob)**/examples/**",
        ":(exclude,top,glob)**/*.md",
        ":(exclude,top)docs",
        ":(exclude,top)tests",
        ":(exclude,top).ci",
        ":(exclude,top).gitignore",
    ])?;
    let newer: Vec<&str> = files
        .lines()
        .filter(|path| {
            let modified = std::fs::metadata(root.join(path)).and_then(|m| m.modified());
            modified.is_ok_and(|t| t > built)
        })
        .collect();
    match newer.len() {
        0 => None,
        1..=5 => Some(format!(
            "modified after the `adieu` binary was built: {}",
            newer.join(", ")
        )),
        n => Some(format!(
            "{n} source files were modified after the `adieu` binary was built, {} among them",
            newer[..3].join(", ")
        )),
    }
}
