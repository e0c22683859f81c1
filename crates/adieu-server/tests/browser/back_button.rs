//! The back button after a logout, here or on another device: no private data, not even
//! for a frame out of the back/forward cache.

use fantoccini::Locator;

use crate::harness::{App, Browser, Driver, PASSWORD};

#[tokio::test]
#[ignore = "needs chromium and chromedriver (set ADIEU_TEST_CHROMEDRIVER)"]
async fn pressing_back_after_logout_shows_no_private_data() {
    let app = App::spawn().await;
    let driver = Driver::start();
    let browser = driver.browser(1280, 900).await;
    browser.register(&app, "alice").await;
    assert!(browser.text().await.contains("Hello, alice"));
    browser.record_bfcache_restores().await;

    browser.click("header form[action='/logout'] button").await;
    browser.wait_for_path("/login").await;
    browser.client.back().await.unwrap();

    // Either the home page is fetched again and redirects, or it comes back from the cache
    // empty and reloads, which redirects too.
    browser.wait_for_path("/login").await;
    let page = browser.text().await;
    assert!(!page.contains("alice"), "{page}");
    // Whether Chromium restores the page here depends on a race between the cookie change
    // and the eviction (it often does restore it); when it does, the page must come back
    // empty.
    if let Some(restore) = browser.recorded_restore().await {
        assert_eq!(restore["text"], "", "{restore}");
        assert_eq!(restore["elements"], 0, "{restore}");
    }
    browser.close().await;
}

/// How device A ends device B's session.
#[derive(Debug, Clone, Copy)]
enum Ending {
    LogoutOfAllDevices,
    SignOutThatDevice,
    PasswordChange,
}

/// Device B leaves its home page for another page; device A ends B's session; B presses
/// back. The home page must come back from the back/forward cache (else the test would
/// prove nothing) and show nothing at that moment, then land on `/login`.
async fn back_on_the_other_device_shows_nothing_private(ending: Ending) {
    let app = App::spawn().await;
    let driver = Driver::start();
    let a = driver.browser(1280, 900).await;
    let b = driver.browser(1280, 900).await;
    a.register(&app, "alice").await;
    b.login(&app, "alice").await;
    assert!(b.text().await.contains("Hello, alice"));
    b.record_bfcache_restores().await;
    b.click("nav a[href='/account']").await;
    b.wait_for_path("/account").await;

    end_the_other_session(&app, &a, &b, ending).await;

    b.client.back().await.unwrap();
    b.wait_for_path("/login").await;
    let page = b.text().await;
    assert!(!page.contains("alice"), "{ending:?}: {page}");
    let restore = b.recorded_restore().await.unwrap_or_else(|| {
        panic!("{ending:?}: the home page did not come back from the back/forward cache")
    });
    assert_eq!(restore["path"], "/");
    // The guard's reload, not a fresh fetch by the back navigation, brought `/login`.
    assert_eq!(b.navigation_type().await, "reload");
    assert_eq!(
        restore["text"], "",
        "{ending:?}: the restored page showed {restore}"
    );
    assert_eq!(restore["elements"], 0, "{ending:?}: {restore}");
    a.close().await;
    b.close().await;
}

async fn end_the_other_session(app: &App, a: &Browser, b: &Browser, ending: Ending) {
    match ending {
        Ending::LogoutOfAllDevices => {
            a.click("main form[action='/logout/all'] button").await;
            a.wait_for_path("/login").await;
        }
        Ending::SignOutThatDevice => {
            let cookie = b.session_cookie().await.unwrap();
            let id = app
                .state()
                .sessions
                .authenticate(adieu_core::TokenKind::Cookie, cookie.value())
                .await
                .unwrap()
                .id
                .clone();
            a.goto(&app.url("/")).await;
            a.click(&format!("form[action='/sessions/{id}/sign-out'] button"))
                .await;
            a.wait_for_path("/").await;
            assert!(a.text().await.contains("That device has been signed out."));
        }
        Ending::PasswordChange => {
            a.goto(&app.url("/account")).await;
            a.type_into("#current_password", PASSWORD).await;
            a.type_into("#new_password", "a brand new password").await;
            a.click("form[action='/account/password'] button").await;
            a.wait_for_path("/account").await;
            let page = a.text().await;
            assert!(page.contains("Your password has been changed"), "{page}");
        }
    }
    // A itself is still fine where it should be.
    if !matches!(ending, Ending::LogoutOfAllDevices) {
        assert!(
            a.client
                .find(Locator::Css("header form[action='/logout']"))
                .await
                .is_ok()
        );
    }
}

#[tokio::test]
#[ignore = "needs chromium and chromedriver (set ADIEU_TEST_CHROMEDRIVER)"]
async fn back_after_a_logout_of_all_devices_elsewhere_shows_nothing_even_from_the_cache() {
    back_on_the_other_device_shows_nothing_private(Ending::LogoutOfAllDevices).await;
}

#[tokio::test]
#[ignore = "needs chromium and chromedriver (set ADIEU_TEST_CHROMEDRIVER)"]
async fn back_after_being_signed_out_from_another_device_shows_nothing_even_from_the_cache() {
    back_on_the_other_device_shows_nothing_private(Ending::SignOutThatDevice).await;
}

#[tokio::test]
#[ignore = "needs chromium and chromedriver (set ADIEU_TEST_CHROMEDRIVER)"]
async fn back_after_a_password_change_elsewhere_shows_nothing_even_from_the_cache() {
    back_on_the_other_device_shows_nothing_private(Ending::PasswordChange).await;
}
