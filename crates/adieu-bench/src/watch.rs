//! Watches the rest of the machine while the benchmark runs: how much CPU went to processes
//! that are not the benchmark, its nodes or PostgreSQL. A load average cannot tell those
//! apart, and a compiler or a test suite started halfway through a part would otherwise go
//! unnoticed in the figures.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How often the process table is read. Processes that live less than this can be missed.
const SAMPLE_EVERY: Duration = Duration::from_millis(500);

/// Average foreign CPU, in cores, below which a part counts as quiet.
const QUIET_AVG_CORES: f64 = 0.05;
/// Foreign CPU in the busiest sample, in cores, below which a part counts as quiet.
const QUIET_MAX_CORES: f64 = 0.5;

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

    /// Nothing else worth mentioning ran.
    pub(crate) fn is_quiet(&self) -> bool {
        self.avg_cores() < QUIET_AVG_CORES && self.max_cores < QUIET_MAX_CORES
    }
}

#[derive(Default)]
struct Acc {
    part: String,
    started: Option<Instant>,
    ticks: u64,
    max_cores: f64,
    by_name: HashMap<String, u64>,
}

#[derive(Default)]
struct State {
    current: Acc,
    done: Vec<PartLoad>,
}

/// A background task sampling `/proc`.
pub(crate) struct Watcher {
    state: Arc<Mutex<State>>,
    task: tokio::task::JoinHandle<()>,
    ticks_per_sec: u64,
}

impl Watcher {
    /// Starts sampling.
    pub(crate) fn start(ticks_per_sec: u64) -> Self {
        let state = Arc::new(Mutex::new(State::default()));
        let shared = state.clone();
        let task = tokio::spawn(async move {
            let me = std::process::id();
            let mut previous = sample();
            let mut last = Instant::now();
            loop {
                tokio::time::sleep(SAMPLE_EVERY).await;
                let now_sample = sample();
                let elapsed = last.elapsed().as_secs_f64();
                last = Instant::now();
                let mut total = 0;
                let mut by_name: Vec<(String, u64)> = Vec::new();
                for (pid, p) in &now_sample {
                    if *pid == me || p.ppid == me || p.comm == "postgres" {
                        continue;
                    }
                    // A process that appeared since the last sample used all its CPU since.
                    let before = previous.get(pid).map_or(0, |q| q.ticks);
                    let delta = p.ticks.saturating_sub(before);
                    if delta > 0 {
                        total += delta;
                        by_name.push((p.comm.clone(), delta));
                    }
                }
                previous = now_sample;
                let mut s = shared.lock().expect("not poisoned");
                if s.current.started.is_none() {
                    continue;
                }
                s.current.ticks += total;
                let cores = total as f64 / ticks_per_sec as f64 / elapsed.max(1e-3);
                s.current.max_cores = s.current.max_cores.max(cores);
                for (name, t) in by_name {
                    *s.current.by_name.entry(name).or_default() += t;
                }
            }
        });
        Self {
            state,
            task,
            ticks_per_sec,
        }
    }

    /// Ends the current part (if any) and starts accounting to `part`.
    pub(crate) fn part(&self, part: &str) {
        let mut s = self.state.lock().expect("not poisoned");
        let ended = std::mem::take(&mut s.current);
        if let Some(load) = finish(ended, self.ticks_per_sec) {
            s.done.push(load);
        }
        s.current = Acc {
            part: part.to_owned(),
            started: Some(Instant::now()),
            ..Acc::default()
        };
    }

    /// Stops sampling and returns every part.
    pub(crate) fn finish(self) -> Vec<PartLoad> {
        self.task.abort();
        let mut s = self.state.lock().expect("not poisoned");
        let ended = std::mem::take(&mut s.current);
        if let Some(load) = finish(ended, self.ticks_per_sec) {
            s.done.push(load);
        }
        std::mem::take(&mut s.done)
    }
}

fn finish(acc: Acc, ticks_per_sec: u64) -> Option<PartLoad> {
    let started = acc.started?;
    let secs = |t: u64| t as f64 / ticks_per_sec as f64;
    let mut top: Vec<(String, f64)> = acc
        .by_name
        .into_iter()
        .map(|(name, t)| (name, secs(t)))
        .collect();
    top.sort_by(|a, b| b.1.total_cmp(&a.1));
    top.truncate(3);
    Some(PartLoad {
        part: acc.part,
        seconds: started.elapsed().as_secs_f64(),
        foreign_core_secs: secs(acc.ticks),
        max_cores: acc.max_cores,
        top,
    })
}

/// CPU ticks used so far by all PostgreSQL processes: the database's share of a load.
pub(crate) fn postgres_ticks() -> u64 {
    sample()
        .values()
        .filter(|p| p.comm == "postgres")
        .map(|p| p.ticks)
        .sum()
}

struct Proc {
    comm: String,
    ppid: u32,
    ticks: u64,
}

fn sample() -> HashMap<u32, Proc> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return HashMap::new();
    };
    dir.filter_map(Result::ok)
        .filter_map(|e| {
            let pid: u32 = e.file_name().to_str()?.parse().ok()?;
            let stat = std::fs::read_to_string(e.path().join("stat")).ok()?;
            Some((pid, parse_stat(&stat)?))
        })
        .collect()
}

/// Name, parent and CPU ticks (user + system) from a `/proc/PID/stat` line. The name may
/// contain spaces and parentheses, so fields are counted from the last `)`.
fn parse_stat(stat: &str) -> Option<Proc> {
    let open = stat.find('(')?;
    let close = stat.rfind(')')?;
    let comm = stat.get(open + 1..close)?.to_owned();
    let fields: Vec<&str> = stat[close + 1..].split_whitespace().collect();
    // After the name: state, ppid, …; utime and stime are fields 14 and 15 of the line.
    let ppid = fields.get(1)?.parse().ok()?;
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(Proc {
        comm,
        ppid,
        ticks: utime + stime,
    })
}

/// Fraction of all cores busy over `window`, from `/proc/stat`; for waiting until the
/// machine is idle before starting.
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
        let idle = v.get(3)? + v.get(4).copied().unwrap_or(0);
        Some((v.iter().sum(), idle))
    }
    let (t0, i0) = read()?;
    tokio::time::sleep(window).await;
    let (t1, i1) = read()?;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
    let total = t1.saturating_sub(t0).max(1) as f64;
    Some(cores * (1.0 - i1.saturating_sub(i0) as f64 / total))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_name_parent_and_cpu_even_with_odd_names() {
        let p = parse_stat("77 (tokio (rt) x) R 12 77 77 0 -1 0 1 0 0 0 250 50 0 0 20 0").unwrap();
        assert_eq!(
            (p.comm.as_str(), p.ppid, p.ticks),
            ("tokio (rt) x", 12, 300)
        );
        assert!(parse_stat("garbage").is_none());
    }

    #[test]
    fn a_part_is_quiet_only_if_others_used_almost_nothing() {
        let mut load = PartLoad {
            part: "checks".into(),
            seconds: 100.0,
            foreign_core_secs: 1.0,
            max_cores: 0.2,
            top: vec![],
        };
        assert!(load.is_quiet());
        load.foreign_core_secs = 20.0;
        assert!(!load.is_quiet());
        load.foreign_core_secs = 1.0;
        load.max_cores = 1.0;
        assert!(!load.is_quiet());
    }
}
