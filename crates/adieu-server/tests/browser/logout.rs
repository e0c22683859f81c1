//! Register, sign in, log out: in the browser, and the cookie replayed afterwards.

use crate::harness::{App, Driver};

#[tokio::test]
#[ignore = "needs chromium and chromedriver (set ADIEU_TEST_CHROMEDRIVER)"]
async fn logging_out_lands_on_login_with_the_message_and_the_cookie_is_gone_for_good() {
    let app = App::spawn().await;
    let driver = Driver::start();
    let browser = driver.browser(1280, 900).await;

    browser.register(&app, "alice").await;
    assert!(browser.text().await.contains("Hello, alice"));
    // Start again as a visitor, and sign in through the form.
    browser.client.delete_all_cookies().await.unwrap();
    browser.goto(&app.url("/")).await;
    browser.wait_for_path("/login").await;
    browser.login(&app, "alice").await;
    let home = browser.text().await;
    assert!(home.contains("Hello, alice"), "{home}");
    assert!(home.contains("Log out of all devices"));

    let cookie = browser
        .session_cookie()
        .await
        .expect("the browser holds the cookie");
    assert_eq!(cookie.http_only(), Some(true));
    assert_eq!(cookie.secure(), Some(true));
    assert_eq!(cookie.path(), Some("/"));
    assert_eq!(
        cookie.same_site().map(|s| s.to_string()).as_deref(),
        Some("Lax")
    );
    let document_cookie = browser
        .client
        .execute("return document.cookie", vec![])
        .await
        .unwrap();
    assert_eq!(
        document_cookie, "",
        "scripts must not see the session cookie"
    );
    let copied = cookie.value().to_owned();
    assert!(app.cookie_opens_home(&copied).await);

    browser.click("header form[action='/logout'] button").await;
    browser.wait_for_path("/login").await;
    let page = browser.text().await;
    assert!(page.contains("You have been logged out"), "{page}");
    assert!(
        browser.session_cookie().await.is_none(),
        "the cookie survived logout"
    );

    // The copy taken before logout is worth nothing now.
    assert!(!app.cookie_opens_home(&copied).await);
    browser.goto(&app.url("/")).await;
    browser.wait_for_path("/login").await;
    browser.close().await;
}

#[tokio::test]
#[ignore = "needs chromium and chromedriver (set ADIEU_TEST_CHROMEDRIVER)"]
async fn get_logout_only_asks_and_the_form_on_it_logs_out() {
    let app = App::spawn().await;
    let driver = Driver::start();
    let browser = driver.browser(1280, 900).await;
    browser.register(&app, "alice").await;

    browser.goto(&app.url("/logout")).await;
    browser.wait_for_path("/logout").await;
    assert!(browser.text().await.contains("Log out?"));
    let cookie = browser.session_cookie().await.expect("still signed in");
    assert!(app.cookie_opens_home(cookie.value()).await);

    browser.click("main form[action='/logout'] button").await;
    browser.wait_for_path("/login").await;
    assert!(browser.text().await.contains("You have been logged out"));
    assert!(!app.cookie_opens_home(cookie.value()).await);
    browser.close().await;
}
