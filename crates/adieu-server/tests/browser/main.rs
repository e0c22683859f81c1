//! Tests in real Chromium, driven over WebDriver (chromedriver started by each test on a
//! free port, each browser with a fresh profile).
//!
//! They need `ADIEU_TEST_CHROMEDRIVER` (the chromedriver binary) and are ignored without
//! it; `ADIEU_TEST_CHROMIUM` names the browser binary when chromedriver should not guess.
//! Screenshots go to `target/test-artifacts/browser/`.
//!
//! The back/forward cache stays on: chromedriver does not turn it off, and the tests that
//! depend on it check that a restore from it really happened.

mod harness;

mod back_button;
mod forgery;
mod forward_auth;
mod logout;
mod screenshots;
mod two_devices;
