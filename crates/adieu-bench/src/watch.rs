//! A watcher of the other processes on the machine. A load average cannot tell the benchmark's
//! own processes from a compiler started halfway through a part; the watcher can, and the
//! report names it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use adieu_harness::procfs::{self, TICKS_PER_SEC};

/// How often the watcher reads the process table; shorter-lived processes can be missed.
const SAMPLE_EVERY: Duration = Duration::from_millis(500);

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
            let (mut previous, mut last) = (procfs::all(), Instant::now());
            loop {
                tokio::time::sleep(SAMPLE_EVERY).await;
                let (now, mut used) = (procfs::all(), HashMap::new());
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
