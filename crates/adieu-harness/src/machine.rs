//! The machine and the run, as a report states them.

use std::path::Path;

use crate::procfs;

/// The machine, as a report describes it.
#[derive(Debug, Clone, Default)]
pub struct Machine {
    /// The CPU's model name.
    pub cpu: String,
    /// The cores this process may use.
    pub cores: usize,
    pub memory_gib: f64,
    /// The distribution's name and version.
    pub os: String,
    /// The kernel's release.
    pub kernel: String,
    /// The compiler that built this program and, in the same build, the server.
    pub rustc: String,
    /// Filled in by whoever connects to PostgreSQL.
    pub postgres: Option<String>,
    /// `git describe` of the tree the binaries were built from, when known.
    pub commit: Option<String>,
}

impl Machine {
    /// From `/proc`, `/etc/os-release` and git.
    pub fn describe() -> Self {
        let field = |text: &str, name: &str| {
            let line = text.lines().find_map(|l| l.strip_prefix(name))?;
            Some(
                line.trim_start_matches([' ', '\t', ':', '='])
                    .trim()
                    .to_owned(),
            )
        };
        let os = std::fs::read_to_string("/etc/os-release").unwrap_or_default();
        let memory_kib = field(&procfs::read("meminfo"), "MemTotal")
            .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok());
        let git = std::process::Command::new("git")
            .args(["-C", env!("CARGO_MANIFEST_DIR")])
            .args(["describe", "--always", "--dirty", "--abbrev=12"])
            .output();
        let git = git.ok().filter(|o| o.status.success());
        Self {
            cpu: field(&procfs::read("cpuinfo"), "model name").unwrap_or("unknown".into()),
            cores: procfs::cores(),
            memory_gib: memory_kib.unwrap_or(0.0) / (1024.0 * 1024.0),
            os: field(&os, "PRETTY_NAME").map_or("unknown".into(), |v| v.trim_matches('"').into()),
            kernel: procfs::read("sys/kernel/osrelease").trim().to_owned(),
            rustc: env!("ADIEU_HARNESS_RUSTC_VERSION").to_owned(),
            postgres: None,
            commit: git.map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned()),
        }
    }
}

/// This program's bare name (the directory it was run from says nothing about the figures)
/// and its arguments, each quoted where a shell would need it.
pub fn command_line() -> String {
    let quote = |arg: String| {
        let plain = |b: u8| b.is_ascii_alphanumeric() || b"-_./=:,@".contains(&b);
        match !arg.is_empty() && arg.bytes().all(plain) {
            true => arg,
            false => format!("'{}'", arg.replace('\'', r"'\''")),
        }
    };
    let mut args = std::env::args();
    let program = args.next().unwrap_or_default();
    let program = Path::new(&program)
        .file_name()
        .map(|p| p.to_string_lossy().into_owned());
    let program = program.unwrap_or_default();
    std::iter::once(program)
        .chain(args.map(quote))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The time now, to the minute, in UTC.
pub fn now_utc() -> String {
    let format = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute] UTC");
    let now = time::OffsetDateTime::now_utc().format(&format);
    now.unwrap_or_else(|_| "an unknown date".to_owned())
}
