//! Tests of the web pages over plain HTTP: cookies, CSRF refusals, logout responses,
//! redirects and headers. A real server on port 0 with its own SQLite file each.
//!
//! What only a browser can show (the back button, the back/forward cache, cookie deletion in
//! the cookie jar) is in the `browser` test binary.

mod helpers;

mod account;
mod cookies;
mod csrf;
mod logout;
mod pages;
mod redirects;
