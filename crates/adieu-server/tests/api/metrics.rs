//! `GET /metrics` on the operators' listener: what a scrape says after real requests, read
//! as the text format it is, and what it never says.

use std::collections::{BTreeMap, HashMap};

use reqwest::StatusCode;

use crate::helpers::{PASSWORD, TestApp};

/// One scrape, parsed: each sample by its name and labels.
struct Scrape {
    samples: HashMap<(String, BTreeMap<String, String>), f64>,
    text: String,
}

impl Scrape {
    fn parse(text: String) -> Self {
        let mut samples = HashMap::new();
        for line in text.lines() {
            if line.starts_with('#') || line.is_empty() {
                continue;
            }
            let (series, value) = line.rsplit_once(' ').expect("a sample has a value");
            let (name, labels) = match series.split_once('{') {
                Some((name, labels)) => (name, labels.strip_suffix('}').expect("closed labels")),
                None => (series, ""),
            };
            let labels = labels
                .split(',')
                .filter(|pair| !pair.is_empty())
                .map(|pair| {
                    let (key, value) = pair.split_once('=').expect("label=value");
                    let value = value.strip_prefix('"').and_then(|v| v.strip_suffix('"'));
                    (key.to_owned(), value.expect("a quoted value").to_owned())
                })
                .collect();
            let value: f64 = value.parse().expect("a number");
            assert!(
                samples.insert((name.to_owned(), labels), value).is_none(),
                "one sample per series: {line}"
            );
        }
        Self { samples, text }
    }

    /// The sample `name` with exactly these labels.
    fn value(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let labels = labels
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        self.samples.get(&(name.to_owned(), labels)).copied()
    }

    /// Every label value of every sample.
    fn label_values(&self) -> impl Iterator<Item = &str> {
        self.samples
            .keys()
            .flat_map(|(_, labels)| labels.values().map(String::as_str))
    }
}

async fn with_metrics() -> TestApp {
    TestApp::spawn_with(|c| c.admin_listen = Some("127.0.0.1:0".parse().unwrap())).await
}

async fn scrape(app: &TestApp) -> Scrape {
    let admin = app.admin_addr.expect("an admin listener");
    let r = app
        .client
        .get(format!("http://{admin}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        r.headers()["content-type"],
        "application/openmetrics-text; version=1.0.0; charset=utf-8"
    );
    assert_eq!(r.headers()["cache-control"], "no-store");
    let text = r.text().await.unwrap();
    assert!(text.ends_with("# EOF\n"), "{text}");
    Scrape::parse(text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scrape_counts_the_login_the_checks_the_requests_and_the_logout() {
    let app = with_metrics().await;
    let login = app.user("alice").await;
    assert_eq!(app.me_status(&login.access).await, StatusCode::OK);
    assert_eq!(app.logout(&login.access).await.status(), StatusCode::OK);
    assert_eq!(app.me_status(&login.access).await, StatusCode::UNAUTHORIZED);

    let s = scrape(&app).await;
    let logins = |result| s.value("adieu_logins_total", &[("result", result)]);
    assert_eq!(logins("success"), Some(1.0));
    assert_eq!(logins("invalid_credentials"), Some(0.0));
    assert_eq!(logins("rate_limited"), Some(0.0));
    assert_eq!(logins("account_disabled"), Some(0.0));
    assert_eq!(
        s.value("adieu_sessions_ended_total", &[("reason", "logout")]),
        Some(1.0)
    );
    let checks = |result| s.value("adieu_token_checks_total", &[("result", result)]);
    assert!(checks("valid").unwrap() >= 1.0, "{}", s.text);
    assert!(checks("invalid").unwrap() >= 1.0, "{}", s.text);
    assert_eq!(
        s.value(
            "adieu_http_requests_total",
            &[("route", "/api/me"), ("status", "200")]
        ),
        Some(1.0)
    );
    assert_eq!(
        s.value(
            "adieu_http_requests_total",
            &[("route", "/api/me"), ("status", "401")]
        ),
        Some(1.0)
    );
    assert_eq!(
        s.value(
            "adieu_http_request_duration_seconds_count",
            &[("route", "/api/me")]
        ),
        Some(2.0)
    );
    // The logout was one revocation, confirmed once.
    assert_eq!(
        s.value("adieu_revocation_wait_seconds_count", &[]),
        Some(1.0)
    );
    assert_eq!(
        s.value("adieu_refresh_reuse_detected_total", &[]),
        Some(0.0)
    );
    // Read at scrape time from the cache and the hasher.
    assert!(
        s.value("adieu_cache_hits_total", &[]).is_some(),
        "{}",
        s.text
    );
    assert!(s.value("adieu_cache_misses_total", &[]).unwrap() >= 1.0);
    assert_eq!(s.value("adieu_password_hash_queue", &[]), Some(0.0));
    assert!(
        s.value("adieu_active_sessions", &[]).is_some(),
        "{}",
        s.text
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_logins_and_a_reused_refresh_token_are_counted_by_kind() {
    let app = with_metrics().await;
    let login = app.user("alice").await;
    assert_eq!(
        app.try_login("alice", &format!("{PASSWORD}x"))
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );
    let _rotated = app.refreshed(&login.refresh).await;
    assert_eq!(
        app.refresh_status(&login.refresh).await,
        StatusCode::UNAUTHORIZED
    );

    let s = scrape(&app).await;
    assert_eq!(
        s.value("adieu_logins_total", &[("result", "invalid_credentials")]),
        Some(1.0)
    );
    assert_eq!(
        s.value("adieu_refresh_reuse_detected_total", &[]),
        Some(1.0)
    );
    assert_eq!(
        s.value(
            "adieu_sessions_ended_total",
            &[("reason", "refresh_reuse_detected")]
        ),
        Some(1.0)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_are_not_served_on_the_public_listener() {
    let app = with_metrics().await;
    let r = app.client.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let s = scrape(&app).await;
    assert_eq!(
        s.value(
            "adieu_http_requests_total",
            &[("route", "unmatched"), ("status", "404")]
        ),
        Some(1.0)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_are_labelled_by_route_template_never_by_raw_path() {
    let app = with_metrics().await;
    let login = app.user("alice").await;
    let other = app.login("alice").await;
    assert_eq!(
        app.delete_session(&login.access, &other.session_id).await,
        StatusCode::NO_CONTENT
    );
    let probe = "/no-such-page/8f0c2b7e-probe";
    let r = app.client.get(app.url(probe)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);

    let s = scrape(&app).await;
    assert!(!s.text.contains(&other.session_id), "{}", s.text);
    assert!(!s.text.contains("8f0c2b7e"), "{}", s.text);
    assert!(
        s.label_values().all(|v| !v.contains(&login.session_id)),
        "{}",
        s.text
    );
    assert_eq!(
        s.value(
            "adieu_http_requests_total",
            &[("route", "/api/sessions/{id}"), ("status", "204")]
        ),
        Some(1.0),
        "{}",
        s.text
    );
    assert_eq!(
        s.value(
            "adieu_sessions_ended_total",
            &[("reason", "session_revoked")]
        ),
        Some(1.0)
    );
}
