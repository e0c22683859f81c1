//! Each node's resident memory and open descriptors over the run, read from `/proc`, and the
//! rule that says whether they stayed flat once warm.
//!
//! The rule: for each node, the level at the end of the run may exceed the level at the end
//! of the warm-up by at most [`RSS_SLACK_PERCENT`] % or [`RSS_SLACK_KIB`], whichever is
//! larger, for memory, and by at most [`FD_SLACK`] descriptors. A level is the median of the
//! last [`LEVEL_SAMPLES`] samples up to that moment, so that one sample taken in the middle
//! of a burst of allocations cannot decide the verdict. The clients hold a bounded number of
//! live sessions, so a node that keeps nothing per ended session has nothing to grow with;
//! a leak of a few hundred bytes per logout shows as megabytes within minutes, and a
//! descriptor leak per request as thousands of descriptors.

use std::time::Duration;

/// Memory may grow by this share of its warm level…
pub(crate) const RSS_SLACK_PERCENT: u64 = 10;
/// …or by this much, whichever is larger. A node's allocator takes memory from the system in
/// steps of 2 MiB and gives part of it back later, so a node with nothing leaking was seen a
/// step or two above its warm level (up to +2.7 MiB in one-minute debug runs); three steps
/// are allowed.
pub(crate) const RSS_SLACK_KIB: u64 = 6 * 1024;
/// Descriptors may grow by this many: connections from the clients and to PostgreSQL come
/// and go, within the clients' and the database pools' sizes.
pub(crate) const FD_SLACK: u64 = 16;
/// How many samples a level is the median of.
pub(crate) const LEVEL_SAMPLES: usize = 5;

/// One reading of one node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Sample {
    /// Since the workload started.
    pub(crate) at: Duration,
    /// `VmRSS`, in KiB.
    pub(crate) rss_kib: u64,
    /// Entries of `/proc/PID/fd`.
    pub(crate) fds: u64,
}

/// Reads `pid` now, or `None` if it is gone.
pub(crate) fn read(pid: u32, at: Duration) -> Option<Sample> {
    let rss_kib = adieu_harness::procfs::status(pid, "VmRSS:")?;
    let fds = adieu_harness::procfs::fds(pid)?;
    Some(Sample { at, rss_kib, fds })
}

/// The level of `figure` at `at`: the median of the last [`LEVEL_SAMPLES`] samples taken at
/// or before it (fewer at the very start), or `None` before the first.
pub(crate) fn level(samples: &[Sample], at: Duration, figure: fn(&Sample) -> u64) -> Option<u64> {
    let upto = samples.partition_point(|s| s.at <= at);
    let mut window: Vec<u64> = samples[upto.saturating_sub(LEVEL_SAMPLES)..upto]
        .iter()
        .map(figure)
        .collect();
    window.sort_unstable();
    window.get(window.len() / 2).copied()
}

/// One figure of one node: its warm and final levels and whether the growth is allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Growth {
    pub(crate) warm: u64,
    pub(crate) end: u64,
    /// The largest growth the rule allows.
    pub(crate) allowed: u64,
}

impl Growth {
    pub(crate) fn is_flat(&self) -> bool {
        self.end <= self.warm + self.allowed
    }
}

/// Both figures of one node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Verdict {
    pub(crate) rss_kib: Growth,
    pub(crate) fds: Growth,
}

/// Judges one node's samples; `None` when fewer than [`LEVEL_SAMPLES`] samples were taken
/// after the warm-up, too few to judge (which the soak reports as a failure).
pub(crate) fn judge(samples: &[Sample], warmup: Duration) -> Option<Verdict> {
    if samples.iter().filter(|s| s.at > warmup).count() < LEVEL_SAMPLES {
        return None;
    }
    let end = samples.last()?.at;
    let growth = |figure: fn(&Sample) -> u64, allowed: fn(u64) -> u64| {
        let warm = level(samples, warmup, figure)?;
        Some(Growth {
            warm,
            end: level(samples, end, figure)?,
            allowed: allowed(warm),
        })
    };
    Some(Verdict {
        rss_kib: growth(
            |s| s.rss_kib,
            |warm| (warm * RSS_SLACK_PERCENT / 100).max(RSS_SLACK_KIB),
        )?,
        fds: growth(|s| s.fds, |_| FD_SLACK)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One sample a second with these RSS figures (in MiB) and 30 descriptors, then `fds`.
    fn run(rss_mib: &[u64], fds: &[u64]) -> Vec<Sample> {
        rss_mib
            .iter()
            .enumerate()
            .map(|(i, &mib)| Sample {
                at: Duration::from_secs(i as u64),
                rss_kib: mib * 1024,
                fds: fds.get(i).copied().unwrap_or(30),
            })
            .collect()
    }

    #[test]
    fn a_level_is_the_median_of_the_last_samples_so_one_spike_does_not_count() {
        let samples = run(&[10, 11, 12, 90, 12, 12, 13], &[]);
        assert_eq!(
            level(&samples, Duration::from_secs(0), |s| s.rss_kib),
            Some(10 * 1024)
        );
        assert_eq!(
            level(&samples, Duration::from_secs(4), |s| s.rss_kib),
            Some(12 * 1024)
        );
        assert_eq!(
            level(&samples, Duration::from_secs(60), |s| s.rss_kib),
            Some(12 * 1024)
        );
        assert_eq!(level(&[], Duration::from_secs(1), |s| s.rss_kib), None);
    }

    #[test]
    fn memory_may_grow_by_ten_percent_or_six_mib_whichever_is_larger() {
        let warmup = Duration::from_secs(4);
        // 20 MiB warm: 6 MiB allowed, so 26 is flat and 27 is not.
        let flat = judge(&run(&[20, 20, 20, 20, 20, 26, 26, 26, 26, 26], &[]), warmup).unwrap();
        assert_eq!(flat.rss_kib.allowed, 6 * 1024);
        assert!(flat.rss_kib.is_flat());
        let grew = judge(&run(&[20, 20, 20, 20, 20, 27, 27, 27, 27, 27], &[]), warmup).unwrap();
        assert!(!grew.rss_kib.is_flat());
        // 100 MiB warm: 10 MiB allowed.
        let big = judge(
            &run(&[100, 100, 100, 100, 100, 110, 110, 110, 110, 111], &[]),
            warmup,
        );
        let big = big.unwrap().rss_kib;
        assert_eq!((big.warm, big.end, big.allowed), (102_400, 112_640, 10_240));
        assert!(big.is_flat());
        let big = judge(
            &run(&[100, 100, 100, 100, 100, 111, 111, 111, 111, 111], &[]),
            warmup,
        );
        assert!(!big.unwrap().rss_kib.is_flat());
    }

    #[test]
    fn descriptors_may_grow_by_a_fixed_few() {
        let warmup = Duration::from_secs(4);
        let rss = [20; 10];
        let ok = judge(
            &run(&rss, &[30, 30, 30, 30, 30, 46, 46, 46, 46, 46]),
            warmup,
        )
        .unwrap();
        assert!(ok.fds.is_flat() && ok.rss_kib.is_flat());
        let leak = judge(
            &run(&rss, &[30, 30, 30, 30, 30, 47, 47, 47, 47, 47]),
            warmup,
        )
        .unwrap();
        assert!(!leak.fds.is_flat());
    }

    #[test]
    fn too_few_samples_after_the_warm_up_cannot_be_judged() {
        let samples = run(&[20; 9], &[]);
        assert!(judge(&samples, Duration::from_secs(4)).is_none());
        assert!(judge(&samples, Duration::from_secs(3)).is_some());
    }
}
