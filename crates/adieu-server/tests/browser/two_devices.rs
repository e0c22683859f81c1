//! Two separate browsers, the "two devices", signed in to one account.

use crate::harness::{App, Driver};

#[tokio::test]
#[ignore = "needs chromium and chromedriver (set ADIEU_TEST_CHROMEDRIVER)"]
async fn logging_out_of_all_devices_on_one_sends_the_other_to_login() {
    let app = App::spawn().await;
    let driver = Driver::start();
    let a = driver.browser(1280, 900).await;
    let b = driver.browser(1280, 900).await;
    a.register(&app, "alice").await;
    b.login(&app, "alice").await;
    a.goto(&app.url("/")).await;
    assert_eq!(a.text().await.matches("Sign out this device").count(), 2);

    a.click("main form[action='/logout/all'] button").await;
    a.wait_for_path("/login").await;
    assert!(
        a.text()
            .await
            .contains("You have been logged out of all devices")
    );
    assert!(a.session_cookie().await.is_none());

    // B still holds its cookie (nothing can reach into another browser), but it opens
    // nothing: B's next navigation lands on the sign-in page.
    let kept = b.session_cookie().await.expect("B's cookie is still in B");
    b.click("nav a[href='/account']").await;
    b.wait_for_path("/login").await;
    let page = b.text().await;
    assert!(!page.contains("alice"), "{page}");
    assert_eq!(
        b.client.current_url().await.unwrap().query(),
        Some("next=/account")
    );
    assert!(!app.cookie_opens_home(kept.value()).await);
    a.close().await;
    b.close().await;
}

#[tokio::test]
#[ignore = "needs chromium and chromedriver (set ADIEU_TEST_CHROMEDRIVER)"]
async fn sign_out_this_device_sends_only_the_chosen_device_to_login() {
    let app = App::spawn().await;
    let driver = Driver::start();
    let a = driver.browser(1280, 900).await;
    let b = driver.browser(1280, 900).await;
    let c = driver.browser(1280, 900).await;
    a.register(&app, "alice").await;
    b.login(&app, "alice").await;
    c.login(&app, "alice").await;
    let b_cookie = b.session_cookie().await.unwrap();
    let b_id = app
        .state()
        .sessions
        .authenticate(adieu_core::TokenKind::Cookie, b_cookie.value())
        .await
        .unwrap()
        .id
        .clone();

    a.goto(&app.url("/")).await;
    assert_eq!(a.text().await.matches("Sign out this device").count(), 3);
    a.click(&format!("form[action='/sessions/{b_id}/sign-out'] button"))
        .await;
    a.wait_for_path("/").await;
    let page = a.text().await;
    assert!(page.contains("That device has been signed out."), "{page}");
    assert_eq!(page.matches("Sign out this device").count(), 2);

    b.goto(&app.url("/")).await;
    b.wait_for_path("/login").await;
    assert!(!b.text().await.contains("alice"));
    c.goto(&app.url("/")).await;
    c.wait_for_path("/").await;
    assert!(c.text().await.contains("Hello, alice"));
    a.close().await;
    b.close().await;
    c.close().await;
}
