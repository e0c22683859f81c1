//! `TestApp` for the pages: a real server, a client that follows no redirect and keeps no
//! cookie jar, so every test says exactly which cookie it sends.

use std::ops::Deref;

use adieu_core::TokenKind;
use adieu_server::Config;
use adieu_server::test_support::TestServer;
use reqwest::header::{HeaderMap, SET_COOKIE};
use reqwest::{Response, StatusCode};

pub(crate) use adieu_server::test_support::{PASSWORD, form_token};

/// The workspace's test server, with calls that speak as a browser does.
pub(crate) struct TestApp {
    server: TestServer,
    /// `http://ADDR`: the origin the pages are served at.
    origin: String,
}

impl Deref for TestApp {
    type Target = TestServer;

    fn deref(&self) -> &TestServer {
        &self.server
    }
}

impl TestApp {
    pub(crate) async fn spawn() -> Self {
        Self::spawn_with(|_| {}).await
    }

    pub(crate) async fn spawn_with(adjust: impl FnOnce(&mut Config) + 'static) -> Self {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .user_agent("adieu-web-tests/1")
            .build()
            .unwrap();
        let server = TestServer::builder()
            .configure(adjust)
            .client(client)
            .spawn()
            .await;
        let origin = server.base();
        Self { server, origin }
    }

    /// The session cookie's name under this server's configuration.
    pub(crate) fn cookie_name(&self) -> &'static str {
        adieu_server::session_cookie_name(&self.state().config)
    }

    /// A GET as a browser would send it, with the session cookie if given.
    pub(crate) async fn get(&self, path: &str, cookie: Option<&str>) -> Response {
        let mut request = self.client.get(self.url(path));
        if let Some(cookie) = cookie {
            request = request.header("cookie", format!("{}={cookie}", self.cookie_name()));
        }
        request.send().await.unwrap()
    }

    /// A form POST from one of our own pages: same-origin `Origin` and `Sec-Fetch-Site`.
    pub(crate) async fn post(
        &self,
        path: &str,
        cookie: Option<&str>,
        form: &[(&str, &str)],
    ) -> Response {
        let headers = [
            ("origin", self.origin.as_str()),
            ("sec-fetch-site", "same-origin"),
        ];
        self.post_with(path, cookie, form, &headers).await
    }

    /// A form POST with exactly the given browser headers.
    pub(crate) async fn post_with(
        &self,
        path: &str,
        cookie: Option<&str>,
        form: &[(&str, &str)],
        headers: &[(&str, &str)],
    ) -> Response {
        let mut request = self.client.post(self.url(path)).form(form);
        if let Some(cookie) = cookie {
            request = request.header("cookie", format!("{}={cookie}", self.cookie_name()));
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request.send().await.unwrap()
    }

    /// Registers through the page and returns the session cookie it sets.
    pub(crate) async fn register(&self, username: &str) -> String {
        let r = self
            .post(
                "/register",
                None,
                &[("username", username), ("password", PASSWORD)],
            )
            .await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        session_cookie(r.headers()).expect("registration signs in")
    }

    /// Signs in through the page and returns the new session cookie.
    pub(crate) async fn login(&self, username: &str) -> String {
        let r = self
            .post(
                "/login",
                None,
                &[("username", username), ("password", PASSWORD)],
            )
            .await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        session_cookie(r.headers()).expect("login sets the session cookie")
    }

    /// The synchronizer token rendered into the forms of the home page.
    pub(crate) async fn csrf(&self, cookie: &str) -> String {
        let r = self.get("/", Some(cookie)).await;
        assert_eq!(r.status(), StatusCode::OK);
        form_token(&r.text().await.unwrap()).expect("the home page has forms with a token")
    }

    /// The session id behind a cookie, if it is live.
    pub(crate) async fn session_id(&self, cookie: &str) -> Option<String> {
        self.state()
            .sessions
            .authenticate(TokenKind::Cookie, cookie)
            .await
            .ok()
            .map(|s| s.id.clone())
    }

    /// Whether a cookie still opens the home page.
    pub(crate) async fn is_signed_in(&self, cookie: &str) -> bool {
        let r = self.get("/", Some(cookie)).await;
        match r.status() {
            StatusCode::OK => true,
            StatusCode::SEE_OTHER => false,
            other => panic!("unexpected status {other}"),
        }
    }
}

/// The value of the session cookie a response sets, if any.
pub(crate) fn session_cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        // Whatever its prefix (`__Host-`, `__Secure-` or none) under the test's configuration.
        .filter_map(|v| v.split_once("adieu_session=").map(|(_, rest)| rest))
        .map(|v| v.split(';').next().unwrap_or("").to_owned())
        .find(|v| !v.is_empty())
}

pub(crate) fn location(r: &Response) -> &str {
    r.headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}
