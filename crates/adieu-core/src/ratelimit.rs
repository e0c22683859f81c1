//! A small keyed fixed-window rate limiter for login attempts (per username, per IP).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use crate::UnixMillis;
use crate::policy::millis;

/// Keys kept before expired windows are swept out (at most once a second).
const SWEEP_AT: usize = 10_000;
/// Keys kept at most. Past that, new keys are refused until windows expire: under a flood
/// of distinct names the limiter fails closed instead of growing without bound.
const MAX_KEYS: usize = 200_000;

/// Allows `limit` events per key in each window of `window`.
#[derive(Debug)]
pub struct RateLimiter {
    limit: u32,
    window: i64,
    max_keys: usize,
    state: Mutex<Windows>,
}

#[derive(Debug, Default)]
struct Windows {
    by_key: HashMap<String, (UnixMillis, u32)>,
    last_sweep: UnixMillis,
}

impl RateLimiter {
    /// A limiter of `limit` events per `window`; a `limit` of 0 disables it.
    pub fn new(limit: u32, window: Duration) -> Self {
        Self::with_max_keys(limit, window, MAX_KEYS)
    }

    fn with_max_keys(limit: u32, window: Duration, max_keys: usize) -> Self {
        Self {
            limit,
            window: millis(window).max(1),
            max_keys,
            state: Mutex::new(Windows::default()),
        }
    }

    /// Counts one event for `key`; `Err(seconds)` says how long until it is allowed again.
    pub fn check(&self, key: &str, now: UnixMillis) -> Result<(), u64> {
        if self.limit == 0 {
            return Ok(());
        }
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let Windows { by_key, last_sweep } = &mut *state;
        if by_key.len() >= SWEEP_AT.min(self.max_keys) && now - *last_sweep >= 1000 {
            by_key.retain(|_, (start, _)| now - *start < self.window);
            *last_sweep = now;
        }
        if by_key.len() >= self.max_keys && !by_key.contains_key(key) {
            let retry_after = u64::try_from(self.window / 1000).unwrap_or(1).max(1);
            return Err(retry_after);
        }
        let entry = by_key.entry(key.to_owned()).or_insert((now, 0));
        if now - entry.0 >= self.window {
            *entry = (now, 0);
        }
        if entry.1 >= self.limit {
            let wait_ms = entry.0 + self.window - now;
            return Err(u64::try_from(wait_ms).unwrap_or(0).div_ceil(1000).max(1));
        }
        entry.1 += 1;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allows_the_limit_then_refuses_until_the_window_passes() {
        let rl = RateLimiter::new(3, Duration::from_secs(60));
        for _ in 0..3 {
            rl.check("alice", 0).unwrap();
        }
        assert_eq!(rl.check("alice", 1_000), Err(59));
        assert!(rl.check("bob", 1_000).is_ok());
        assert!(rl.check("alice", 60_000).is_ok());
    }

    #[test]
    fn the_key_map_is_bounded_and_swept() {
        let rl = RateLimiter::with_max_keys(5, Duration::from_secs(60), 100);
        for i in 0..100 {
            rl.check(&format!("k{i}"), 0).unwrap();
        }
        // Full: a new key is refused, a known one still counts normally.
        assert!(rl.check("new", 1_000).is_err());
        assert!(rl.check("k1", 1_000).is_ok());
        // Once the windows have passed, a sweep makes room again.
        assert!(rl.check("new", 61_000).is_ok());
        assert!(rl.state.lock().unwrap().by_key.len() <= 2);
    }

    #[test]
    fn zero_disables_the_limit() {
        let rl = RateLimiter::new(0, Duration::from_secs(60));
        for _ in 0..1000 {
            rl.check("k", 0).unwrap();
        }
    }
}
