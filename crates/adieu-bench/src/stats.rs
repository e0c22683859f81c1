//! The arithmetic of the report: percentiles of one run, and the median and spread of
//! several runs.

use std::time::Duration;

/// Nearest-rank percentile (`p` in 0..=100) of samples sorted ascending, not empty.
///
/// Nearest-rank never invents a value between two samples, so a p99 is always a latency
/// that some request really had.
pub(crate) fn percentile_sorted(sorted: &[Duration], p: f64) -> Duration {
    let p = p.clamp(0.0, 100.0);
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// p50 and p99 of one run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Latency {
    pub(crate) p50: Duration,
    pub(crate) p99: Duration,
}

impl Latency {
    /// `None` when there are no samples.
    pub(crate) fn of(samples: &[Duration]) -> Option<Self> {
        let mut sorted = samples.to_vec();
        sorted.sort_unstable();
        if sorted.is_empty() {
            return None;
        }
        Some(Self {
            p50: percentile_sorted(&sorted, 50.0),
            p99: percentile_sorted(&sorted, 99.0),
        })
    }
}

/// One figure measured in several runs: the median, and the smallest and largest run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Spread {
    pub(crate) median: f64,
    pub(crate) min: f64,
    pub(crate) max: f64,
    pub(crate) runs: usize,
}

impl Spread {
    /// `None` when there are no runs (or only non-finite values).
    pub(crate) fn of(values: impl IntoIterator<Item = f64>) -> Option<Self> {
        let mut v: Vec<f64> = values.into_iter().filter(|x| x.is_finite()).collect();
        if v.is_empty() {
            return None;
        }
        v.sort_by(f64::total_cmp);
        let n = v.len();
        // The median of an even count is the mean of the middle two, as usual.
        let median = if n % 2 == 1 {
            v[n / 2]
        } else {
            (v[n / 2 - 1] + v[n / 2]) / 2.0
        };
        Some(Self {
            median,
            min: v[0],
            max: v[n - 1],
            runs: n,
        })
    }

    /// Spread of durations, in milliseconds.
    pub(crate) fn of_millis(values: impl IntoIterator<Item = Duration>) -> Option<Self> {
        Self::of(values.into_iter().map(|d| d.as_secs_f64() * 1000.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(v: &[u64]) -> Vec<Duration> {
        v.iter().map(|&x| Duration::from_millis(x)).collect()
    }

    #[test]
    fn nearest_rank_percentiles_pick_real_samples() {
        let sorted = ms(&[1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
        let p = |x| percentile_sorted(&sorted, x);
        assert_eq!(p(50.0), Duration::from_millis(5));
        assert_eq!(p(90.0), Duration::from_millis(9));
        assert_eq!(p(99.0), Duration::from_millis(10));
        assert_eq!(p(0.0), Duration::from_millis(1));
        assert_eq!(p(100.0), Duration::from_millis(10));
        assert_eq!(Latency::of(&[]), None);
        // Order of the input does not matter to `Latency`.
        let shuffled = ms(&[5, 1, 4, 2, 3]);
        assert_eq!(
            Latency::of(&shuffled).unwrap().p50,
            Duration::from_millis(3)
        );
    }

    #[test]
    fn p99_of_a_thousand_samples_is_the_990th() {
        let samples: Vec<Duration> = (1..=1000).map(Duration::from_micros).collect();
        let l = Latency::of(&samples).unwrap();
        assert_eq!(l.p50, Duration::from_micros(500));
        assert_eq!(l.p99, Duration::from_micros(990));
    }

    #[test]
    fn the_median_of_runs_is_the_middle_one_or_the_mean_of_the_middle_two() {
        let odd = Spread::of([3.0, 1.0, 2.0, 10.0, 4.0]).unwrap();
        assert_eq!(
            (odd.median, odd.min, odd.max, odd.runs),
            (3.0, 1.0, 10.0, 5)
        );
        let even = Spread::of([4.0, 1.0, 2.0, 3.0]).unwrap();
        assert_eq!(even.median, 2.5);
        assert_eq!(Spread::of([f64::NAN]), None);
        assert_eq!(Spread::of(std::iter::empty()), None);
    }

    #[test]
    fn spreads_of_durations_are_in_milliseconds() {
        let s = Spread::of_millis(ms(&[2, 4, 3])).unwrap();
        assert_eq!((s.median, s.min, s.max), (3.0, 2.0, 4.0));
    }
}
