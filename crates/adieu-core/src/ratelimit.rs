//! A small keyed fixed-window rate limiter for login attempts (per username, per IP).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use crate::UnixMillis;
use crate::policy::millis;

/// Keys kept before expired windows are swept out.
const SWEEP_AT: usize = 10_000;

/// Allows `limit` events per key in each window of `window`.
#[derive(Debug)]
pub struct RateLimiter {
    limit: u32,
    window: i64,
    windows: Mutex<HashMap<String, (UnixMillis, u32)>>,
}

impl RateLimiter {
    /// A limiter of `limit` events per `window`; a `limit` of 0 disables it.
    pub fn new(limit: u32, window: Duration) -> Self {
        Self {
            limit,
            window: millis(window).max(1),
            windows: Mutex::new(HashMap::new()),
        }
    }

    /// Counts one event for `key`; `Err(seconds)` says how long until it is allowed again.
    pub fn check(&self, key: &str, now: UnixMillis) -> Result<(), u64> {
        if self.limit == 0 {
            return Ok(());
        }
        let mut windows = self.windows.lock().unwrap_or_else(|e| e.into_inner());
        if windows.len() >= SWEEP_AT {
            windows.retain(|_, (start, _)| now - *start < self.window);
        }
        let entry = windows.entry(key.to_owned()).or_insert((now, 0));
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
    fn zero_disables_the_limit() {
        let rl = RateLimiter::new(0, Duration::from_secs(60));
        for _ in 0..1000 {
            rl.check("k", 0).unwrap();
        }
    }
}
