//! Keyed rate limits for logins and registrations (per IP, per username and IP, per
//! username): `governor`'s GCRA over the configured clock, in a key table that stays bounded.
//!
//! A limit of `n` per window allows a burst of `n`, then one more every `window / n`. The key
//! table holds at most `max_keys` entries. When it is full, the entries closest to a fresh
//! state (the ones that have been left alone longest) make room: a flood of distinct keys can
//! cost the oldest entries their history, but it can never make the limiter refuse a newcomer.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use governor::Quota;
use governor::middleware::NoOpMiddleware;
use governor::nanos::Nanos;
use governor::state::StateStore;
use governor::state::keyed::ShrinkableKeyedStateStore;

use crate::Clock;

/// Keys kept at most by default.
const MAX_KEYS: usize = 200_000;
/// Past this many keys, entries back in a fresh state are swept out, at most once a second.
const SWEEP_AT: usize = 10_000;

type Keyed = governor::RateLimiter<String, BoundedStore, ClockAdapter, NoOpMiddleware<Nanos>>;

/// Allows `limit` events per key in each `window`, on average.
pub struct RateLimiter {
    /// `None` when the limit is 0 (disabled).
    inner: Option<Keyed>,
    clock: Arc<dyn Clock>,
    last_sweep: AtomicI64,
}

impl std::fmt::Debug for RateLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateLimiter")
            .field("enabled", &self.inner.is_some())
            .finish_non_exhaustive()
    }
}

impl RateLimiter {
    /// A limiter of `limit` events per `window` on `clock`; a `limit` of 0 disables it.
    pub fn new(limit: u32, window: Duration, clock: Arc<dyn Clock>) -> Self {
        Self::with_max_keys(limit, window, clock, MAX_KEYS)
    }

    fn with_max_keys(limit: u32, window: Duration, clock: Arc<dyn Clock>, max: usize) -> Self {
        let inner = NonZeroU32::new(limit).map(|burst| {
            let period = (window / burst.get()).max(Duration::from_nanos(1));
            let quota = Quota::with_period(period)
                .expect("a period of at least one nanosecond")
                .allow_burst(burst);
            let store = BoundedStore {
                max_keys: max.max(1),
                map: Mutex::default(),
            };
            governor::RateLimiter::new(quota, store, ClockAdapter(clock.clone()))
        });
        Self {
            inner,
            clock,
            last_sweep: AtomicI64::new(i64::MIN),
        }
    }

    /// Counts one event for `key`; `Err(seconds)` says how long until one is allowed again.
    pub fn check(&self, key: &str) -> Result<(), u64> {
        let Some(inner) = &self.inner else {
            return Ok(());
        };
        let now = self.clock.now();
        if inner.len() >= SWEEP_AT {
            let last = self.last_sweep.load(Ordering::Relaxed);
            if now.saturating_sub(last) >= 1000
                && self
                    .last_sweep
                    .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                    .is_ok()
            {
                inner.retain_recent();
            }
        }
        inner.check_key(&key.to_owned()).map_err(|not_until| {
            let wait = not_until.wait_time_from(ClockAdapter::at(now));
            wait.as_millis()
                .div_ceil(1000)
                .max(1)
                .try_into()
                .unwrap_or(u64::MAX)
        })
    }

    /// Keys held now.
    pub fn len(&self) -> usize {
        self.inner.as_ref().map_or(0, |inner| inner.len())
    }

    /// Whether no key is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Our clock as `governor` reads it: milliseconds, in its nanoseconds.
#[derive(Clone)]
struct ClockAdapter(Arc<dyn Clock>);

impl ClockAdapter {
    fn at(ms: crate::UnixMillis) -> Nanos {
        Nanos::from(u64::try_from(ms).unwrap_or(0).saturating_mul(1_000_000))
    }
}

impl governor::clock::Clock for ClockAdapter {
    type Instant = Nanos;

    fn now(&self) -> Nanos {
        Self::at(self.0.now())
    }
}

/// `governor`'s per-key state (each key's theoretical arrival time) in a map of bounded size.
struct BoundedStore {
    max_keys: usize,
    map: Mutex<HashMap<String, u64>>,
}

impl BoundedStore {
    /// Drops the sixteenth of the entries with the earliest arrival times: those nearest to a
    /// fresh state, whose loss forgives the least. A batch, so that a table under a flood is
    /// scanned once per many new keys rather than once per key.
    fn evict(map: &mut HashMap<String, u64>) {
        let mut times: Vec<u64> = map.values().copied().collect();
        let n = (times.len() / 16).max(1);
        let (_, &mut cutoff, _) = times.select_nth_unstable(n - 1);
        let mut left = n;
        map.retain(|_, t| {
            if left > 0 && *t <= cutoff {
                left -= 1;
                false
            } else {
                true
            }
        });
    }
}

impl StateStore for BoundedStore {
    type Key = String;

    fn measure_and_replace<T, F, E>(&self, key: &String, f: F) -> Result<T, E>
    where
        F: Fn(Option<Nanos>) -> Result<(T, Nanos), E>,
    {
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        let previous = map.get(key).copied();
        let (value, next) = f(previous.map(Nanos::from))?;
        if previous.is_none() && map.len() >= self.max_keys {
            Self::evict(&mut map);
        }
        map.insert(key.clone(), next.into());
        Ok(value)
    }
}

impl ShrinkableKeyedStateStore<String> for BoundedStore {
    fn retain_recent(&self, drop_below: Nanos) {
        let drop_below = u64::from(drop_below);
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        map.retain(|_, t| *t >= drop_below);
    }

    fn len(&self) -> usize {
        self.map.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ManualClock;

    fn limiter(limit: u32, max_keys: usize) -> (RateLimiter, ManualClock) {
        let clock = ManualClock::default();
        let rl = RateLimiter::with_max_keys(
            limit,
            Duration::from_secs(60),
            Arc::new(clock.clone()),
            max_keys,
        );
        (rl, clock)
    }

    #[test]
    fn allows_a_burst_of_the_limit_then_refuses_until_time_passes() {
        let (rl, clock) = limiter(3, MAX_KEYS);
        for _ in 0..3 {
            rl.check("alice").unwrap();
        }
        clock.advance(Duration::from_secs(1));
        // One event comes back every 20 s: 19 s to wait.
        assert_eq!(rl.check("alice"), Err(19));
        assert!(rl.check("bob").is_ok());
        clock.advance(Duration::from_secs(60));
        for _ in 0..3 {
            rl.check("alice").unwrap();
        }
        assert!(rl.check("alice").is_err());
    }

    #[test]
    fn a_full_table_makes_room_for_a_newcomer_by_forgetting_the_oldest() {
        let (rl, clock) = limiter(2, 100);
        for i in 0..100 {
            rl.check(&format!("k{i}")).unwrap();
            rl.check(&format!("k{i}")).unwrap();
            clock.advance(Duration::from_millis(10));
        }
        // Every key is at its limit and the table is full: a newcomer still gets in.
        assert!(rl.check("k99").is_err());
        assert!(rl.check("newcomer").is_ok());
        assert!(rl.len() <= 100, "{}", rl.len());
        // The most recent keys keep their history; the oldest made room.
        assert!(rl.check("k99").is_err());
        assert!(rl.check("k0").is_ok());
    }

    #[test]
    fn a_flood_of_new_keys_never_grows_the_table_past_its_bound() {
        let (rl, _clock) = limiter(5, 1000);
        for i in 0..20_000 {
            assert!(rl.check(&format!("flood{i}")).is_ok());
        }
        assert!(rl.len() <= 1000, "{}", rl.len());
    }

    #[test]
    fn zero_disables_the_limit() {
        let (rl, _clock) = limiter(0, MAX_KEYS);
        for _ in 0..1000 {
            rl.check("k").unwrap();
        }
        assert!(rl.is_empty());
    }
}
