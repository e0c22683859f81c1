//! A watcher of the other processes on the machine. A load average cannot tell a program's
//! own processes from a compiler started halfway through a part; the watcher can, and the
//! report names it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::procfs::{self, TICKS_PER_SEC};

/// How often the watcher reads the process table; shorter-lived processes can be missed.
const SAMPLE_EVERY: Duration = Duration::from_millis(500);

/// What other processes used during one part of the benchmark, in cores: on average, in the
/// busiest sample, and the busiest of them by name with their CPU seconds.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PartLoad {
    pub part: String,
    pub avg_cores: f64,
    pub max_cores: f64,
    pub top: Vec<(String, f64)>,
}

impl PartLoad {
    /// Nothing else worth mentioning ran: under 0.05 cores on average, 0.5 at the busiest.
    pub fn is_quiet(&self) -> bool {
        self.avg_cores < 0.05 && self.max_cores < 0.5
    }
}

/// A part being watched: its load so far (the CPU seconds of each other process by name, and
/// the busiest sample), and when it started.
type Watched = (PartLoad, HashMap<String, f64>, Instant);

/// A background task that samples the CPU of processes other than this one, its children and
/// PostgreSQL, charging each sample to the part of the program running when it is taken.
pub struct Watcher {
    parts: Arc<Mutex<Vec<Watched>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Watcher {
    /// Starts sampling; nothing is charged before the first [`part`](Self::part).
    pub fn start() -> Self {
        let parts = Arc::new(Mutex::new(Vec::<Watched>::new()));
        let shared = parts.clone();
        let task = tokio::spawn(async move {
            let me = std::process::id();
            let (mut previous, mut last) = (procfs::all(), Instant::now());
            loop {
                tokio::time::sleep(SAMPLE_EVERY).await;
                let (now, secs) = (procfs::all(), last.elapsed().as_secs_f64().max(1e-3));
                let mut parts = shared.lock().expect("not poisoned");
                let Some((load, by_name, _)) = parts.last_mut() else {
                    continue;
                };
                let mut total = 0.0;
                for (pid, (name, ppid, ticks)) in &now {
                    if *pid != me && *ppid != me && name != "postgres" {
                        // A process that appeared since the last sample used all its CPU since.
                        let delta = ticks.saturating_sub(previous.get(pid).map_or(0, |p| p.2));
                        let cpu = delta as f64 / TICKS_PER_SEC;
                        *by_name.entry(name.clone()).or_default() += cpu;
                        total += cpu;
                    }
                }
                load.max_cores = load.max_cores.max(total / secs);
                (previous, last) = (now, Instant::now());
            }
        });
        Self { parts, task }
    }

    /// Charges what follows to `part`, until the next part or the end.
    pub fn part(&mut self, part: &str) {
        let load = PartLoad {
            part: part.to_owned(),
            ..PartLoad::default()
        };
        let mut parts = self.parts.lock().expect("not poisoned");
        parts.push((load, HashMap::new(), Instant::now()));
    }

    /// Stops sampling; what other processes used in each part.
    pub fn finish(self) -> Vec<PartLoad> {
        self.task.abort();
        let parts = std::mem::take(&mut *self.parts.lock().expect("not poisoned"));
        let ends: Vec<Instant> = parts
            .iter()
            .skip(1)
            .map(|p| p.2)
            .chain([Instant::now()])
            .collect();
        let load = |((mut load, by_name, start), end): (Watched, Instant)| {
            let secs = end.duration_since(start).as_secs_f64().max(1e-3);
            load.avg_cores = by_name.values().sum::<f64>() / secs;
            let mut top: Vec<_> = by_name.into_iter().filter(|t| t.1 > 0.0).collect();
            top.sort_by(|a, b| b.1.total_cmp(&a.1));
            top.truncate(3);
            PartLoad { top, ..load }
        };
        parts.into_iter().zip(ends).map(load).collect()
    }
}

/// Cores that other processes may keep busy on a machine still called quiet.
pub const QUIET_CORES: f64 = 0.1;

/// What other processes used while a program measured: before it started (cores busy over a
/// few seconds), and during each part.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OtherLoad {
    pub before: Option<f64>,
    pub parts: Vec<PartLoad>,
}

impl OtherLoad {
    /// Whether the machine was quiet: under a tenth of a core before, and every part quiet.
    pub fn is_quiet(&self) -> bool {
        self.before.is_none_or(|c| c < QUIET_CORES) && self.parts.iter().all(PartLoad::is_quiet)
    }

    /// `yes` or `**no**`, then what was seen, for a report.
    pub fn describe(&self) -> String {
        let mut seen: Vec<String> = self
            .before
            .iter()
            .map(|c| format!("before the start {c:.2}"))
            .collect();
        for l in &self.parts {
            let named = l.top.iter().filter(|(_, secs)| *secs >= 1.0);
            let named: Vec<_> = named
                .map(|(name, secs)| format!("{name} {secs:.0} s"))
                .collect();
            let named = match named.is_empty() {
                true => String::new(),
                false => format!(" ({})", named.join(", ")),
            };
            seen.push(format!(
                "{} {:.2} / {:.2}{named}",
                l.part, l.avg_cores, l.max_cores
            ));
        }
        let seen = if seen.is_empty() {
            "not measured".to_owned()
        } else {
            seen.join("; ")
        };
        format!(
            "{} (CPU used by other processes, in cores, average / busiest half-second of each \
             part; PostgreSQL is not counted, as it serves the measurement too: {seen})",
            if self.is_quiet() { "yes" } else { "**no**" },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_busy_part_or_start_is_not_quiet_and_names_only_real_users() {
        let part = |avg_cores, max_cores| PartLoad {
            part: "checks".into(),
            avg_cores,
            max_cores,
            top: vec![("rustc".into(), 25.0), ("cargo".into(), 0.5)],
        };
        let busy = OtherLoad {
            before: Some(0.0),
            parts: vec![part(0.5, 1.5)],
        };
        let text = busy.describe();
        assert!(text.starts_with("**no** ("), "{text}");
        assert!(
            text.ends_with(": before the start 0.00; checks 0.50 / 1.50 (rustc 25 s))"),
            "{text}"
        );
        let quiet = OtherLoad {
            before: Some(0.05),
            parts: vec![part(0.01, 0.2)],
        };
        assert!(quiet.is_quiet() && quiet.describe().starts_with("yes ("));
        let before = OtherLoad {
            before: Some(0.2),
            ..quiet.clone()
        };
        assert!(!before.is_quiet());
        assert!(OtherLoad::default().describe().ends_with(": not measured)"));
    }
}
