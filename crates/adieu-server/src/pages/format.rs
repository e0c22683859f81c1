//! Human-friendly renderings of what the session list shows: devices and times.

use adieu_core::UnixMillis;
use maud::{Markup, html};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;

/// A short name for the device behind a `User-Agent`, such as "Chrome on Linux".
pub(crate) fn device(user_agent: Option<&str>) -> String {
    let Some(ua) = user_agent.filter(|ua| !ua.trim().is_empty()) else {
        return "Unknown device".to_owned();
    };
    let browser = browser(ua);
    match os(ua) {
        Some(os) => format!("{browser} on {os}"),
        None => browser.to_owned(),
    }
}

fn browser(ua: &str) -> &str {
    // Order matters: Edge and Opera also say "Chrome", Chrome also says "Safari".
    const KNOWN: [(&str, &str); 10] = [
        ("Edg/", "Edge"),
        ("OPR/", "Opera"),
        ("Firefox/", "Firefox"),
        ("HeadlessChrome/", "Headless Chrome"),
        ("Chromium/", "Chromium"),
        ("Chrome/", "Chrome"),
        ("CriOS/", "Chrome"),
        ("Safari/", "Safari"),
        ("curl/", "curl"),
        ("adieu", "Adieu CLI"),
    ];
    KNOWN
        .iter()
        .find(|(marker, _)| ua.contains(marker))
        .map(|(_, name)| *name)
        .unwrap_or_else(|| {
            // Programs usually send "name/version": show the name.
            let product = ua.split(['/', ' ']).next().unwrap_or(ua);
            if product.is_empty() {
                "Unknown client"
            } else {
                product
            }
        })
}

fn os(ua: &str) -> Option<&'static str> {
    // iOS says "like Mac OS X" and Android says "Linux", so they go first.
    const KNOWN: [(&str, &str); 8] = [
        ("iPhone", "iPhone"),
        ("iPad", "iPad"),
        ("Android", "Android"),
        ("CrOS", "ChromeOS"),
        ("Windows", "Windows"),
        ("Mac OS X", "macOS"),
        ("Macintosh", "macOS"),
        ("Linux", "Linux"),
    ];
    KNOWN
        .iter()
        .find(|(marker, _)| ua.contains(marker))
        .map(|(_, name)| *name)
}

/// How long ago `then` was, in words ("just now", "5 minutes ago").
pub(crate) fn ago(now: UnixMillis, then: UnixMillis) -> String {
    let minutes = (now - then).max(0) / 60_000;
    match minutes {
        0 => "just now".to_owned(),
        1 => "1 minute ago".to_owned(),
        m if m < 60 => format!("{m} minutes ago"),
        m if m < 120 => "1 hour ago".to_owned(),
        m if m < 24 * 60 => format!("{} hours ago", m / 60),
        m if m < 48 * 60 => "yesterday".to_owned(),
        m => format!("{} days ago", m / (24 * 60)),
    }
}

/// How long until `then`, in words ("in 3 days").
pub(crate) fn until(now: UnixMillis, then: UnixMillis) -> String {
    // Rounded to the nearest minute: "14 days" ahead reads better than "13 days" and a
    // fraction.
    let minutes = ((then - now).max(0) + 30_000) / 60_000;
    match minutes {
        0 => "in under a minute".to_owned(),
        1 => "in 1 minute".to_owned(),
        m if m < 60 => format!("in {m} minutes"),
        m if m < 120 => "in 1 hour".to_owned(),
        m if m < 48 * 60 => format!("in {} hours", m / 60),
        m => format!("in {} days", (m + 12 * 60) / (24 * 60)),
    }
}

/// A `<time>` element: the given words, with the exact UTC time as its value and tooltip.
pub(crate) fn time(at: UnixMillis, words: &str) -> Markup {
    let exact = OffsetDateTime::from_unix_timestamp(at / 1000).ok();
    let machine = exact.and_then(|t| t.format(&Rfc3339).ok());
    let human = exact.and_then(|t| {
        t.format(format_description!(
            "[year]-[month]-[day] [hour]:[minute] UTC"
        ))
        .ok()
    });
    html! { time datetime=[machine] title=[human] { (words) } }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_browsers_are_named_with_their_system() {
        let cases = [
            (
                "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/156.0.0.0 Safari/537.36",
                "Headless Chrome on Linux",
            ),
            (
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36 Edg/126.0.0.0",
                "Edge on Windows",
            ),
            (
                "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
                "Safari on iPhone",
            ),
            (
                "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Mobile Safari/537.36",
                "Chrome on Android",
            ),
            (
                "Mozilla/5.0 (Macintosh; Intel Mac OS X 14.5; rv:127.0) Gecko/20100101 Firefox/127.0",
                "Firefox on macOS",
            ),
            ("curl/8.5.0", "curl"),
            ("reqwest/0.12", "reqwest"),
        ];
        for (ua, want) in cases {
            assert_eq!(device(Some(ua)), want, "{ua}");
        }
        assert_eq!(device(None), "Unknown device");
        assert_eq!(device(Some("  ")), "Unknown device");
    }

    #[test]
    fn durations_read_as_words() {
        let min = 60_000;
        assert_eq!(ago(10 * min, 10 * min), "just now");
        assert_eq!(ago(10 * min, 5 * min), "5 minutes ago");
        assert_eq!(ago(200 * min, 0), "3 hours ago");
        assert_eq!(ago(30 * 60 * min, 0), "yesterday");
        assert_eq!(ago(5 * 24 * 60 * min, 0), "5 days ago");
        assert_eq!(until(0, 14 * 24 * 60 * min), "in 14 days");
        assert_eq!(until(1, 14 * 24 * 60 * min), "in 14 days");
        assert_eq!(until(0, 90 * min), "in 1 hour");
    }

    #[test]
    fn times_carry_the_exact_moment() {
        let html = time(0, "long ago").into_string();
        assert!(
            html.contains(r#"datetime="1970-01-01T00:00:00Z""#),
            "{html}"
        );
        assert!(html.contains("1970-01-01 00:00 UTC"), "{html}");
    }
}
