//! Human durations on the command line: `30s`, `15m`, `90d`, `1h30m`.

use std::time::Duration;

/// Parses a human duration; zero is refused because every lifetime must be positive.
pub fn parse(text: &str) -> Result<Duration, String> {
    let duration = humantime::parse_duration(text.trim())
        .map_err(|e| format!("invalid duration {text:?}: {e} (examples: 30s, 15m, 14d)"))?;
    if duration.is_zero() {
        return Err(format!(
            "invalid duration {text:?}: must be greater than zero"
        ));
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
}
