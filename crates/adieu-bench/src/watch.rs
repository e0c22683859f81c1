//! The one reader of `/proc`: CPU, memory and threads of a process, and a watcher of the
//! rest of the machine. A load average cannot tell the benchmark's own processes from a
//! compiler started halfway through a part; the watcher can, and the report names it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How often the watcher reads the process table; shorter-lived processes can be missed.
const SAMPLE_EVERY: Duration = Duration::from_millis(500);

/// One line of `/proc/PID/stat`: name, parent and CPU ticks (user + system).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Stat {
    pub(crate) comm: String,
    pub(crate) ppid: u32,
    pub(crate) ticks: u64,
}

/// Parses a `/proc/PID/stat` line. The name may contain spaces and parentheses, so fields
/// are counted from the last `)`: then state, ppid, …, utime and stime (fields 14 and 15).
pub(crate) fn parse_stat(stat: &str) -> Option<Stat> {
    let (open, close) = (stat.find('(')?, stat.rfind(')')?);
    let fields: Vec<&str> = stat[close + 1..].split_whitespace().collect();
    let field = |i: usize| fields.get(i)?.parse::<u64>().ok();
    Some(Stat {
        comm: stat.get(open + 1..close)?.to_owned(),
        ppid: u32::try_from(field(1)?).ok()?,
        ticks: field(11)? + field(12)?,
    })
}

/// `/proc/PID/stat` of a process (`"self"` for this one).
pub(crate) fn stat(pid: &str) -> Option<Stat> {
    parse_stat(&std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
}

/// CPU ticks used so far by process `pid`.
pub(crate) fn ticks(pid: &str) -> Option<u64> {
    stat(pid).map(|s| s.ticks)
}

/// The number after `name` in `/proc/PID/status` (`VmRSS:` in KiB, `Threads:`).
pub(crate) fn parse_status(status: &str, name: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with(name))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// A field of `/proc/PID/status` now.
pub(crate) fn status(pid: u32, name: &str) -> Option<u64> {
    parse_status(
        &std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?,
        name,
    )
}

/// Every process now, by pid.
fn all() -> HashMap<u32, Stat> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return HashMap::new();
    };
    dir.filter_map(|e| {
        let pid: u32 = e.ok()?.file_name().to_str()?.parse().ok()?;
        Some((pid, stat(&pid.to_string())?))
    })
    .collect()
}

/// CPU ticks used so far by all PostgreSQL processes: the database's share of a load.
pub(crate) fn postgres_ticks() -> u64 {
    all()
        .values()
        .filter(|p| p.comm == "postgres")
        .map(|p| p.ticks)
        .sum()
}

/// Clock ticks per second, for reading `/proc/*/stat`.
pub(crate) async fn clock_ticks_per_sec() -> u64 {
    // `sysconf` would need unsafe code; `getconf` answers the same question.
    let out = tokio::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .await;
    out.ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100)
}

/// How many cores were busy over `window` (0 to the number of cores), from `/proc/stat`.
pub(crate) async fn busy_cores(window: Duration) -> Option<f64> {
    fn read() -> Option<(u64, u64)> {
        let stat = std::fs::read_to_string("/proc/stat").ok()?;
        let line = stat.lines().find(|l| l.starts_with("cpu "))?;
        let v: Vec<u64> = line
            .split_whitespace()
            .skip(1)
            .filter_map(|x| x.parse().ok())
            .collect();
        // idle + iowait count as idle.
        Some((v.iter().sum(), v.get(3)? + v.get(4).copied().unwrap_or(0)))
    }
    let (t0, i0) = read()?;
    tokio::time::sleep(window).await;
    let (t1, i1) = read()?;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
    let total = t1.saturating_sub(t0).max(1) as f64;
    Some(cores * (1.0 - i1.saturating_sub(i0) as f64 / total))
}

/// What other processes used during one part of the benchmark.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct PartLoad {
    pub(crate) part: String,
    pub(crate) seconds: f64,
    /// CPU time of other processes, in core-seconds.
    pub(crate) foreign_core_secs: f64,
    /// Foreign CPU in the busiest sample interval, in cores.
    pub(crate) max_cores: f64,
    /// The busiest other processes by name, with their core-seconds, busiest first.
    pub(crate) top: Vec<(String, f64)>,
}

impl PartLoad {
    /// Average foreign CPU over the part, in cores.
    pub(crate) fn avg_cores(&self) -> f64 {
        if self.seconds > 0.0 {
            self.foreign_core_secs / self.seconds
        } else {
            0.0
        }
    }

    /// Nothing else worth mentioning ran: under 0.05 cores on average, 0.5 at the busiest.
    pub(crate) fn is_quiet(&self) -> bool {
        self.avg_cores() < 0.05 && self.max_cores < 0.5
    }
}

#[derive(Default)]
struct Acc {
    load: PartLoad,
    started: Option<Instant>,
    by_name: HashMap<String, u64>,
}

/// A background task that charges the CPU of processes other than this one, its children
/// and PostgreSQL to the part of the benchmark running.
pub(crate) struct Watcher {
    state: Arc<Mutex<(Acc, Vec<PartLoad>)>>,
    task: tokio::task::JoinHandle<()>,
    ticks_per_sec: f64,
}

impl Watcher {
    /// Starts sampling.
    pub(crate) fn start(ticks_per_sec: u64) -> Self {
        let state = Arc::new(Mutex::new((Acc::default(), Vec::new())));
        let (shared, tps) = (state.clone(), ticks_per_sec as f64);
        let task = tokio::spawn(async move {
            let me = std::process::id();
            let (mut previous, mut last) = (all(), Instant::now());
            loop {
                tokio::time::sleep(SAMPLE_EVERY).await;
                let now = all();
                let elapsed = last.elapsed().as_secs_f64().max(1e-3);
                last = Instant::now();
                let mut s = shared.lock().expect("not poisoned");
                let acc = &mut s.0;
                let mut total = 0;
                for (pid, p) in &now {
                    if *pid == me || p.ppid == me || p.comm == "postgres" || acc.started.is_none() {
                        continue;
                    }
                    // A process that appeared since the last sample used all its CPU since.
                    let delta = p
                        .ticks
                        .saturating_sub(previous.get(pid).map_or(0, |q| q.ticks));
                    total += delta;
                    *acc.by_name.entry(p.comm.clone()).or_default() += delta;
                }
                acc.load.foreign_core_secs += total as f64 / tps;
                acc.load.max_cores = acc.load.max_cores.max(total as f64 / tps / elapsed);
                previous = now;
            }
        });
        Self {
            state,
            task,
            ticks_per_sec: tps,
        }
    }

    /// Ends the current part (if any) and starts charging `part`.
    pub(crate) fn part(&self, part: &str) {
        let mut s = self.state.lock().expect("not poisoned");
        let acc = std::mem::take(&mut s.0);
        s.1.extend(self.close(acc));
        s.0.started = Some(Instant::now());
        s.0.load.part = part.to_owned();
    }

    fn close(&self, acc: Acc) -> Option<PartLoad> {
        let mut top: Vec<(String, f64)> = acc
            .by_name
            .into_iter()
            .filter(|(_, t)| *t > 0)
            .map(|(n, t)| (n, t as f64 / self.ticks_per_sec))
            .collect();
        top.sort_by(|a, b| b.1.total_cmp(&a.1));
        top.truncate(3);
        Some(PartLoad {
            seconds: acc.started?.elapsed().as_secs_f64(),
            top,
            ..acc.load
        })
    }

    /// Stops sampling and returns every part.
    pub(crate) fn finish(self) -> Vec<PartLoad> {
        self.task.abort();
        let mut s = self.state.lock().expect("not poisoned");
        let acc = std::mem::take(&mut s.0);
        let mut done = std::mem::take(&mut s.1);
        done.extend(self.close(acc));
        done
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_lines_give_name_parent_and_cpu_even_with_odd_names() {
        let p = parse_stat("77 (tokio (rt) x) R 12 77 77 0 -1 0 1 0 0 0 250 50 0 0 20 0").unwrap();
        assert_eq!(
            (p.comm.as_str(), p.ppid, p.ticks),
            ("tokio (rt) x", 12, 300)
        );
        assert!(parse_stat("garbage").is_none());
        let status = "Name:\tadieu\nVmPeak:\t  9000 kB\nVmRSS:\t   12345 kB\nThreads:\t3\n";
        assert_eq!(parse_status(status, "VmRSS:"), Some(12345));
        assert_eq!(parse_status(status, "Threads:"), Some(3));
    }

    #[test]
    fn a_part_is_quiet_only_if_others_used_almost_nothing() {
        let mut load = PartLoad {
            seconds: 100.0,
            foreign_core_secs: 1.0,
            max_cores: 0.2,
            ..PartLoad::default()
        };
        assert!(load.is_quiet());
        load.foreign_core_secs = 20.0;
        assert!(!load.is_quiet());
        load.foreign_core_secs = 1.0;
        load.max_cores = 1.0;
        assert!(!load.is_quiet());
    }
}
