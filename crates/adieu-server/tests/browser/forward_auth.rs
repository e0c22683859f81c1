//! Forward auth as a person meets it: an app on app.example.com behind nginx, Adieu's pages on
//! auth.example.com, both host names mapped to this machine inside Chromium.

use adieu_server::test_support::TestServer;
use adieu_server::test_support::proxy::{
    APP_HOST, AUTH_HOST, Proxy, Upstream, auth_origin, free_port,
};

use crate::harness::{Driver, PASSWORD};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs chromium, chromedriver and nginx (set ADIEU_TEST_CHROMEDRIVER and ADIEU_TEST_NGINX)"]
async fn a_browser_signs_in_for_an_app_on_another_host_and_its_logout_link_ends_access() {
    let port = free_port().await;
    let adieu = TestServer::spawn_with(move |c| {
        c.public_origin = Some(auth_origin(port));
        c.cookie_domain = Some("example.com".into());
        c.trusted_proxies = "127.0.0.1".parse().unwrap();
        // Plain HTTP stands in for TLS here, on hosts other than localhost, where Chromium
        // keeps no Secure cookie: the one concession of this test.
        c.secure_cookies = false;
    })
    .await;
    adieu.register("alice").await;
    let app = Upstream::start().await;
    let proxy = Proxy::nginx(port, &[adieu.addr], app.addr).await;
    let driver = Driver::start();
    let browser = driver
        .browser_with(&[format!(
            "--host-resolver-rules=MAP {APP_HOST} 127.0.0.1, MAP {AUTH_HOST} 127.0.0.1"
        )])
        .await;

    // Asking for the app sends the browser to the login page on the other host...
    browser.goto(&proxy.app_url("/private?x=1")).await;
    browser.wait_for_path("/login").await;
    let here = browser.client.current_url().await.unwrap();
    assert_eq!(here.host_str(), Some(AUTH_HOST));
    // ...and signing in there brings it back to what it asked for.
    browser.type_into("#username", "alice").await;
    browser.type_into("#password", PASSWORD).await;
    browser.click("form button[type=submit]").await;
    browser.wait_for_path("/private").await;
    let here = browser.client.current_url().await.unwrap();
    assert_eq!(here.host_str(), Some(APP_HOST));
    assert_eq!(here.query(), Some("x=1"));
    assert!(browser.text().await.contains("hello from the app"));
    assert_eq!(app.last().unwrap()["remote-user"], "alice");

    // The app's "Log out" link: Adieu's confirmation, then back to the app, which is closed.
    let reached = app.requests();
    let link = format!(
        "{}/logout?rd=http%3A%2F%2F{APP_HOST}%3A{port}%2Fprivate",
        proxy.auth_origin()
    );
    browser.goto(&link).await;
    browser.wait_for_path("/logout").await;
    browser
        // The confirmation's own form, which carries rd (the header has a plain one too).
        .click("form[action='/logout']:has(input[name=next]) button[type=submit]")
        .await;
    browser.wait_for_path("/login").await;
    let here = browser.client.current_url().await.unwrap();
    assert_eq!(here.host_str(), Some(AUTH_HOST));
    assert!(
        here.query().is_some_and(|q| q.starts_with("rd=")),
        "back at the app, then sent to sign in: {here}"
    );
    assert_eq!(
        app.requests(),
        reached,
        "nothing reached the app after the logout"
    );
    browser.client.clone().close().await.unwrap();
}
