//! Pages on other origins that auto-submit forms to Adieu: nothing happens.

use axum::Router;
use axum::extract::{Path, State};
use axum::response::Html;
use axum::routing::get;

use crate::harness::{App, Browser, Driver, PASSWORD};

/// Serves `/{target}` pages that post a form to Adieu as soon as they load.
async fn attacker(host: &str, app_base: String) -> String {
    let listener = tokio::net::TcpListener::bind((host, 0)).await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let router = Router::new()
        .route("/{target}", get(forged_form))
        .with_state(app_base);
    tokio::spawn(async move { axum::serve(listener, router).await });
    format!("http://{host}:{port}")
}

async fn forged_form(State(app): State<String>, Path(target): Path<String>) -> Html<String> {
    let (action, fields) = match target.as_str() {
        "logout" => (
            "/logout",
            r#"<input name="csrf" value="guessed">"#.to_owned(),
        ),
        "logout-all" => (
            "/logout/all",
            r#"<input name="csrf" value="guessed">"#.to_owned(),
        ),
        "login" => (
            "/login",
            format!(
                r#"<input name="username" value="mallory"><input name="password" value="{PASSWORD}">"#
            ),
        ),
        _ => ("/", String::new()),
    };
    Html(format!(
        r#"<!doctype html><title>Win a prize</title>
<form method="post" action="{app}{action}">{fields}</form>
<script>document.forms[0].submit()</script>"#
    ))
}

async fn still_alice(app: &App, browser: &Browser, cookie: &str) {
    let held = browser.session_cookie().await.expect("the cookie survived");
    assert_eq!(held.value(), cookie, "the cookie was replaced");
    assert!(app.cookie_opens_home(cookie).await);
    browser.goto(&app.url("/")).await;
    browser.wait_for_path("/").await;
    assert!(browser.text().await.contains("Hello, alice"));
}

#[tokio::test]
#[ignore = "needs chromium and chromedriver (set ADIEU_TEST_CHROMEDRIVER)"]
async fn pages_on_other_origins_that_auto_submit_forms_log_nobody_out_or_in() {
    let app = App::spawn().await;
    let driver = Driver::start();
    let browser = driver.browser(1280, 900).await;
    browser.register(&app, "alice").await;
    let cookie = browser.session_cookie().await.unwrap().value().to_owned();
    app.state()
        .sessions
        .register(
            "mallory",
            &adieu_types::Secret::new(PASSWORD),
            &adieu_server::ClientInfo::default(),
        )
        .await
        .unwrap();

    // 127.0.0.1 is another site than localhost: the browser sends no Lax cookie with the
    // POST. localhost on another port is the same site, so the cookie does go along and only
    // the server's checks stand in the way.
    let cross_site = attacker("127.0.0.1", app.base.clone()).await;
    let same_site = attacker("localhost", app.base.clone()).await;
    for origin in [&cross_site, &same_site] {
        for (target, lands_on) in [
            ("logout", "/logout"),
            ("logout-all", "/logout/all"),
            ("login", "/login"),
        ] {
            browser.goto(&format!("{origin}/{target}")).await;
            browser.wait_for_path(lands_on).await;
            let page = browser.text().await;
            assert!(
                page.contains("Request refused"),
                "{origin}/{target} was not refused: {page}"
            );
            still_alice(&app, &browser, &cookie).await;
        }
    }
    browser.close().await;
}
