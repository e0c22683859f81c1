//! Human durations on the command line: `30s`, `15m`, `90d`, `1h30m`.

use std::time::Duration;

/// The longest duration accepted: 100 years (of 365.25 days, as `humantime` counts them).
///
/// Every lifetime and timeout of the server is added to a clock reading somewhere (a lease to
/// an `Instant`, a deadline to the time of day), and `Instant + Duration` panics past the
/// clock's range, which `humantime` reaches (`300000000000y`). A century is longer than any
/// setting means while far inside that range.
pub const MAX: Duration = Duration::from_secs(100 * 31_557_600);

/// Parses a human duration; zero is refused because every lifetime must be positive, and
/// anything beyond [`MAX`].
pub fn parse(text: &str) -> Result<Duration, String> {
    let duration = humantime::parse_duration(text.trim())
        .map_err(|e| format!("invalid duration {text:?}: {e} (examples: 30s, 15m, 14d)"))?;
    if duration.is_zero() {
        return Err(format!(
            "invalid duration {text:?}: must be greater than zero"
        ));
    }
    if duration > MAX {
        return Err(format!("invalid duration {text:?}: must be at most 100y"));
    }
    Ok(duration)
}

/// Renders a duration the way [`parse`] reads it.
pub fn format(duration: Duration) -> String {
    humantime::format_duration(duration).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_documented_examples() {
        assert_eq!(parse("30s").unwrap(), Duration::from_secs(30));
        assert_eq!(parse("15m").unwrap(), Duration::from_secs(15 * 60));
        assert_eq!(parse("90d").unwrap(), Duration::from_secs(90 * 86_400));
        assert_eq!(parse("1h30m").unwrap(), Duration::from_secs(5_400));
    }

    #[test]
    fn refuses_garbage_and_zero() {
        assert!(parse("soon").is_err());
        assert!(parse("").is_err());
        assert!(parse("0s").is_err());
        assert!(parse("-5m").is_err());
    }

    #[test]
    fn durations_past_a_century_are_refused_so_that_a_clock_can_take_any_accepted_one() {
        // Found by the `duration` fuzz target: `--lease 300000000000y` was accepted, and
        // adding it to an `Instant` panics.
        assert_eq!(parse("100y"), Ok(MAX));
        assert!(parse("100y 1s").is_err());
        assert!(parse("300000000000y").is_err());
        assert!(parse("10938373682013726952s").is_err());
        assert!(std::time::Instant::now().checked_add(MAX).is_some());
        assert_eq!(parse(&format(MAX)), Ok(MAX));
    }
}
