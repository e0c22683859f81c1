//! The arithmetic of the report: percentiles of one run, and the median and range of several.

use std::time::Duration;

/// p50 and p99 of one run, by nearest rank: never a value between two samples, so a p99 is a
/// latency that some request really had.
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
        let rank = |p: f64| sorted.get(((p * sorted.len() as f64).ceil() as usize).max(1) - 1);
        Some(Self {
            p50: *rank(0.5)?,
            p99: *rank(0.99)?,
        })
    }
}

/// One figure measured in several runs: the median, and the lowest and highest run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Spread {
    pub(crate) median: f64,
    pub(crate) min: f64,
    pub(crate) max: f64,
    pub(crate) runs: usize,
}

impl Spread {
    /// `None` when there are no runs (non-finite values do not count). The median of an even
    /// count is the mean of the middle two, as usual.
    pub(crate) fn of(values: impl IntoIterator<Item = f64>) -> Option<Self> {
        let mut v: Vec<f64> = values.into_iter().filter(|x| x.is_finite()).collect();
        v.sort_by(f64::total_cmp);
        let n = v.len();
        let median = match n {
            0 => return None,
            _ if n % 2 == 1 => v[n / 2],
            _ => (v[n / 2 - 1] + v[n / 2]) / 2.0,
        };
        let (min, max, runs) = (v[0], v[n - 1], n);
        Some(Self {
            median,
            min,
            max,
            runs,
        })
    }

    /// Of durations, in milliseconds.
    pub(crate) fn of_millis(values: impl IntoIterator<Item = Duration>) -> Option<Self> {
        Self::of(values.into_iter().map(|d| d.as_secs_f64() * 1000.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_pick_real_samples_and_medians_take_the_middle() {
        let us = |v: &[u64]| {
            v.iter()
                .map(|&x| Duration::from_micros(x))
                .collect::<Vec<_>>()
        };
        let l = Latency::of(&us(&(1..=1000).rev().collect::<Vec<_>>())).unwrap();
        assert_eq!((l.p50, l.p99), (us(&[500])[0], us(&[990])[0]));
        assert_eq!(Latency::of(&us(&[5, 1, 4, 2, 3])).unwrap().p50, us(&[3])[0]);
        assert_eq!(Latency::of(&[]), None);
        let odd = Spread::of([3.0, 1.0, 2.0, 10.0, 4.0]).unwrap();
        assert_eq!(
            (odd.median, odd.min, odd.max, odd.runs),
            (3.0, 1.0, 10.0, 5)
        );
        assert_eq!(Spread::of([4.0, 1.0, 2.0, 3.0]).unwrap().median, 2.5);
        assert_eq!(Spread::of([f64::NAN]), None);
    }
}
