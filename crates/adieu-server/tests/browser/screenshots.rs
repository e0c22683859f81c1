//! Screenshots of the sign-in, home and logged-out pages at phone and desktop widths, saved
//! under `target/test-artifacts/browser/` for people to look at.

use crate::harness::{App, Browser, Driver, artifacts_dir};

/// (name, width, height): an iPhone-sized phone and a laptop. The height is generous so a
/// whole page fits in one picture.
const PHONE: (&str, u32, u32) = ("phone", 390, 1400);
const DESKTOP: (&str, u32, u32) = ("desktop", 1280, 1200);

#[tokio::test]
#[ignore = "needs chromium and chromedriver (set ADIEU_TEST_CHROMEDRIVER)"]
async fn screenshots_of_login_home_and_logged_out_pages_at_phone_and_desktop_widths() {
    let app = App::spawn().await;
    let driver = Driver::start();
    let desktop = driver.browser(DESKTOP.1, DESKTOP.2).await;
    let phone = driver.phone(PHONE.1, PHONE.2).await;
    let devices: [(&Browser, &str); 2] = [(&desktop, DESKTOP.0), (&phone, PHONE.0)];

    for (browser, size) in devices {
        browser.goto(&app.url("/login")).await;
        browser.wait_for_path("/login").await;
        // The page's viewport settings make a phone lay it out at the phone's own width.
        let width = browser
            .client
            .execute("return window.innerWidth", vec![])
            .await
            .unwrap();
        let expected = if size == PHONE.0 { PHONE.1 } else { DESKTOP.1 };
        assert_eq!(width, expected, "{size} viewport");
        browser.screenshot(&format!("login-{size}")).await;
    }
    desktop.register(&app, "alice").await;
    phone.login(&app, "alice").await;
    for (browser, size) in devices {
        browser.goto(&app.url("/")).await;
        browser.wait_for_path("/").await;
        let page = browser.text().await;
        assert!(page.contains("Log out of all devices"), "{page}");
        browser.screenshot(&format!("home-{size}")).await;
    }
    for (browser, size) in devices {
        browser.click("header form[action='/logout'] button").await;
        browser.wait_for_path("/login").await;
        assert!(browser.text().await.contains("You have been logged out"));
        browser.screenshot(&format!("logged-out-{size}")).await;
    }
    for page in ["login", "home", "logged-out"] {
        for size in [PHONE.0, DESKTOP.0] {
            let file = artifacts_dir().join(format!("{page}-{size}.png"));
            let png = std::fs::read(&file).unwrap();
            assert!(png.starts_with(b"\x89PNG"), "{}", file.display());
        }
    }
    desktop.close().await;
    phone.close().await;
}
