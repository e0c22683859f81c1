//! Durations of the command line and the environment (`--idle-timeout 30m`):
//! `adieu_core::duration`.
//!
//! - An accepted duration is positive, and `format` writes it so that `parse` reads it back
//!   exactly (the benchmark prints its settings that way).
//! - An accepted duration is usable wherever the server puts one: added to a clock reading
//!   (`Instant`, `SystemTime`: leases, deadlines, timers), in milliseconds for the policy.
//! - Any duration `format` writes, from a nanosecond to `duration::MAX`, is accepted as
//!   itself.
#![no_main]

use std::time::{Duration, Instant, SystemTime};

use adieu_core::{Policy, duration};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(d) = duration::parse(text) {
            check_accepted(d);
        }
    }
    // The structured direction: seconds and nanoseconds from the input.
    let mut secs = [0u8; 8];
    let mut nanos = [0u8; 4];
    let n = data.len().min(8);
    secs[..n].copy_from_slice(&data[..n]);
    if data.len() > 8 {
        let m = (data.len() - 8).min(4);
        nanos[..m].copy_from_slice(&data[8..8 + m]);
    }
    let d = Duration::new(
        u64::from_le_bytes(secs),
        u32::from_le_bytes(nanos) % 1_000_000_000,
    );
    match duration::parse(&duration::format(d)) {
        Ok(read) => {
            assert_eq!(read, d);
            check_accepted(read);
        }
        Err(_) => assert!(d.is_zero() || d > duration::MAX, "{d:?} refused"),
    }
});

fn check_accepted(d: Duration) {
    assert!(!d.is_zero());
    assert_eq!(duration::parse(&duration::format(d)), Ok(d), "{d:?}");
    assert!(
        Instant::now().checked_add(d).is_some(),
        "{d:?} cannot be added to an Instant"
    );
    assert!(
        SystemTime::now().checked_add(d).is_some(),
        "{d:?} cannot be added to the system time"
    );
    // Every lifetime of the policy at once; none of its arithmetic may panic.
    let policy = Policy {
        access_token_ttl: d,
        idle_timeout: d,
        absolute_timeout: d,
    };
    assert_eq!(policy.validate(), Ok(()));
    let now = 1_780_000_000_000;
    let pair = policy.token_pair(now, now);
    assert!(pair.access >= now && pair.access <= pair.refresh);
    assert!(policy.activity_granularity() <= d);
}
