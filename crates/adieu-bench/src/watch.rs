//! The one reader of `/proc`: what the machine is, the CPU, memory and threads of a process, how
//! busy the machine is, and a watcher of the other processes. A load average cannot tell the
//! benchmark's own processes from a compiler started halfway through a part; the watcher can,
//! and the report names it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How often the watcher reads the process table; shorter-lived processes can be missed.
const SAMPLE_EVERY: Duration = Duration::from_millis(500);

/// A file under `/proc` (empty if it cannot be read).
pub(crate) fn proc(path: &str) -> String {
    std::fs::read_to_string(format!("/proc/{path}")).unwrap_or_default()
}

/// The cores this process may use.
pub(crate) fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// The machine, as the report describes it.
#[derive(Debug, Clone, Default)]
pub(crate) struct Machine {
    pub(crate) cpu: String,
    pub(crate) cores: usize,
    pub(crate) memory_gib: f64,
    pub(crate) os: String,
    pub(crate) kernel: String,
    /// The compiler that built the benchmark and, in the same build, the server.
    pub(crate) rustc: String,
    /// Filled in by whoever connects to PostgreSQL.
    pub(crate) postgres: Option<String>,
    /// `git describe` of the tree the binaries were built from, when known.
    pub(crate) commit: Option<String>,
}

impl Machine {
    /// From `/proc`, `/etc/os-release` and git.
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
        let memory_kib = field(&proc("meminfo"), "MemTotal")
            .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok());
        let git = std::process::Command::new("git")
            .args(["-C", env!("CARGO_MANIFEST_DIR")])
            .args(["describe", "--always", "--dirty", "--abbrev=12"])
            .output();
        let git = git.ok().filter(|o| o.status.success());
        Self {
            cpu: field(&proc("cpuinfo"), "model name").unwrap_or("unknown".into()),
            cores: cores(),
            memory_gib: memory_kib.unwrap_or(0.0) / (1024.0 * 1024.0),
            os: field(&os, "PRETTY_NAME").map_or("unknown".into(), |v| v.trim_matches('"').into()),
            kernel: proc("sys/kernel/osrelease").trim().to_owned(),
            rustc: env!("ADIEU_BENCH_RUSTC_VERSION").to_owned(),
            postgres: None,
            commit: git.map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned()),
        }
    }
}

/// Name, parent and CPU ticks (user + system) from a `/proc/PID/stat` line. The name may hold
/// spaces and parentheses, so fields are counted from the last `)`.
fn parse_stat(stat: &str) -> Option<(String, u32, u64)> {
    let (open, close) = (stat.find('(')?, stat.rfind(')')?);
    let fields: Vec<&str> = stat[close + 1..].split_whitespace().collect();
    let field = |i: usize| fields.get(i)?.parse::<u64>().ok();
    let name = stat.get(open + 1..close)?.to_owned();
    Some((name, field(1)?.try_into().ok()?, field(11)? + field(12)?))
}

/// CPU ticks used so far by process `pid` (`"self"` for this one).
pub(crate) fn ticks(pid: &str) -> Option<u64> {
    parse_stat(&proc(&format!("{pid}/stat"))).map(|s| s.2)
}

/// The number after `name` in `/proc/PID/status` (`VmRSS:` in KiB, `Threads:`).
pub(crate) fn status(pid: u32, name: &str) -> Option<u64> {
    let status = proc(&format!("{pid}/status"));
    let line = status.lines().find(|l| l.starts_with(name))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Every process now, by pid: its name, parent and CPU ticks.
fn all() -> HashMap<u32, (String, u32, u64)> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return HashMap::new();
    };
    let pid = |e: std::fs::DirEntry| e.file_name().to_str()?.parse::<u32>().ok();
    let stat = |pid: u32| Some((pid, parse_stat(&proc(&format!("{pid}/stat")))?));
    dir.filter_map(|e| stat(pid(e.ok()?)?)).collect()
}

/// CPU ticks used so far by all PostgreSQL processes: the database's share of a load.
pub(crate) fn postgres_ticks() -> u64 {
    all()
        .values()
        .filter(|p| p.0 == "postgres")
        .map(|p| p.2)
        .sum()
}

/// Clock ticks per second of the times in `/proc/*/stat`: the kernel's `USER_HZ`, which is 100
/// on every architecture this runs on (what `getconf CLK_TCK` says).
pub(crate) const TICKS_PER_SEC: f64 = 100.0;

/// How many cores were busy over `window`, from 0 to the number of cores (`/proc/stat`).
pub(crate) async fn busy_cores(window: Duration) -> Option<f64> {
    // All the ticks of all cores, and the idle ones (idle and iowait).
    let read = || {
        let stat = proc("stat");
        let line = stat.lines().find(|l| l.starts_with("cpu "))?;
        let v: Vec<u64> = line
            .split_whitespace()
            .filter_map(|x| x.parse().ok())
            .collect();
        Some((v.iter().sum::<u64>(), v.get(3)? + v.get(4).unwrap_or(&0)))
    };
    let (t0, i0) = read()?;
    tokio::time::sleep(window).await;
    let (t1, i1) = read()?;
    let idle = i1.saturating_sub(i0) as f64 / t1.saturating_sub(t0).max(1) as f64;
    Some(cores() as f64 * (1.0 - idle))
}

/// What other processes used during one part of the benchmark, in cores: on average, in the
/// busiest sample, and the busiest of them by name with their CPU seconds.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct PartLoad {
    pub(crate) part: String,
    pub(crate) avg_cores: f64,
    pub(crate) max_cores: f64,
    pub(crate) top: Vec<(String, f64)>,
}

impl PartLoad {
    /// Nothing else worth mentioning ran: under 0.05 cores on average, 0.5 at the busiest.
    pub(crate) fn is_quiet(&self) -> bool {
        self.avg_cores < 0.05 && self.max_cores < 0.5
    }
}

/// One sample: when it was taken, the seconds it covers, and the CPU seconds that each other
/// process (by name) used in them.
type Sample = (Instant, f64, HashMap<String, f64>);

/// A background task that samples the CPU of processes other than this one, its children and
/// PostgreSQL, and the parts of the benchmark they are charged to.
pub(crate) struct Watcher {
    samples: Arc<Mutex<Vec<Sample>>>,
    parts: Vec<(String, Instant)>,
    task: tokio::task::JoinHandle<()>,
}

impl Watcher {
    pub(crate) fn start() -> Self {
        let samples = Arc::new(Mutex::new(Vec::new()));
        let shared = samples.clone();
        let task = tokio::spawn(async move {
            let me = std::process::id();
            let (mut previous, mut last) = (all(), Instant::now());
            loop {
                tokio::time::sleep(SAMPLE_EVERY).await;
                let (now, mut used) = (all(), HashMap::new());
                for (pid, (name, ppid, ticks)) in &now {
                    if *pid != me && *ppid != me && name != "postgres" {
                        // A process that appeared since the last sample used all its CPU since.
                        let delta = ticks.saturating_sub(previous.get(pid).map_or(0, |p| p.2));
                        *used.entry(name.clone()).or_default() += delta as f64 / TICKS_PER_SEC;
                    }
                }
                let sample = (Instant::now(), last.elapsed().as_secs_f64(), used);
                (previous, last) = (now, sample.0);
                shared.lock().expect("not poisoned").push(sample);
            }
        });
        let parts = Vec::new();
        Self {
            samples,
            parts,
            task,
        }
    }

    /// Charges what follows to `part`, until the next part or the end.
    pub(crate) fn part(&mut self, part: &str) {
        self.parts.push((part.to_owned(), Instant::now()));
    }

    /// Stops sampling; what other processes used in each part.
    pub(crate) fn finish(self) -> Vec<PartLoad> {
        self.task.abort();
        let samples = self.samples.lock().expect("not poisoned");
        let ends: Vec<Instant> = self.parts.iter().skip(1).map(|p| p.1).collect();
        let ends = ends.into_iter().chain([Instant::now()]);
        let load = |((part, start), end): ((String, Instant), Instant)| {
            let (mut by_name, mut max_cores) = (HashMap::<String, f64>::new(), 0.0_f64);
            for (_, secs, used) in samples.iter().filter(|s| s.0 > start && s.0 <= end) {
                max_cores = max_cores.max(used.values().sum::<f64>() / secs.max(1e-3));
                for (name, cpu) in used {
                    *by_name.entry(name.clone()).or_default() += cpu;
                }
            }
            let secs = end.duration_since(start).as_secs_f64().max(1e-3);
            let avg_cores = by_name.values().sum::<f64>() / secs;
            let mut top: Vec<_> = by_name.into_iter().filter(|t| t.1 > 0.0).collect();
            top.sort_by(|a, b| b.1.total_cmp(&a.1));
            top.truncate(3);
            PartLoad {
                part,
                avg_cores,
                max_cores,
                top,
            }
        };
        self.parts.into_iter().zip(ends).map(load).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_lines_give_name_parent_and_cpu_even_with_odd_names() {
        let stat = "77 (tokio (rt) x) R 12 77 77 0 -1 0 1 0 0 0 250 50 0 0 20 0";
        assert_eq!(parse_stat(stat), Some(("tokio (rt) x".into(), 12, 300)));
        assert_eq!(parse_stat("garbage"), None);
        assert!(status(std::process::id(), "Threads:").is_some_and(|n| n >= 1));
    }
}
