//! Forward auth through real nginx and Caddy, running the shipped example configurations in
//! front of an app of the test's own: who gets through, what the app is told, and that every
//! way of ending a session refuses the very next proxied request.

use adieu_server::test_support::proxy::{Proxy, Upstream, auth_origin, free_port};
use adieu_server::test_support::{Login, PASSWORD, TestServer, form_token};
use reqwest::StatusCode;
use serde_json::json;

#[derive(Debug, Clone, Copy)]
enum Kind {
    Nginx,
    Caddy,
}

/// Adieu, the app, and a proxy of `kind` in front of both.
struct Stack {
    adieu: TestServer,
    app: Upstream,
    proxy: Proxy,
    client: reqwest::Client,
}

impl Stack {
    /// Deployed as the examples describe: pages published at auth.example.com through the
    /// proxy, the cookie shared with example.com, the proxy trusted for client addresses.
    async fn start(kind: Kind) -> Self {
        let port = free_port().await;
        let adieu = TestServer::spawn_with(move |c| {
            c.public_origin = Some(auth_origin(port));
            c.cookie_domain = Some("example.com".into());
            c.trusted_proxies = "127.0.0.1".parse().unwrap();
        })
        .await;
        let app = Upstream::start().await;
        let proxy = match kind {
            Kind::Nginx => Proxy::nginx(port, &[adieu.addr], app.addr).await,
            Kind::Caddy => Proxy::caddy(port, adieu.addr, app.addr).await,
        };
        let client = proxy.client();
        Self {
            adieu,
            app,
            proxy,
            client,
        }
    }

    /// A GET of the protected app with this Bearer token.
    async fn with_bearer(&self, access: &str) -> reqwest::Response {
        self.client
            .get(self.proxy.app_url("/private"))
            .bearer_auth(access)
            .send()
            .await
            .unwrap()
    }

    /// A GET of the protected app with this session cookie.
    async fn with_cookie(&self, cookie: &str) -> reqwest::Response {
        self.client
            .get(self.proxy.app_url("/private"))
            .header("cookie", format!("__Secure-adieu_session={cookie}"))
            .send()
            .await
            .unwrap()
    }

    /// Signs in through Adieu's own login page, published through the proxy, and returns the
    /// session cookie.
    async fn web_login(&self, username: &str) -> String {
        let r = self
            .page_post(
                "/login",
                None,
                &[("username", username), ("password", PASSWORD)],
            )
            .await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        cookie_of(&r).expect("a session cookie")
    }

    async fn page_post(
        &self,
        path: &str,
        cookie: Option<&str>,
        form: &[(&str, &str)],
    ) -> reqwest::Response {
        let origin = self.proxy.auth_origin();
        let mut request = self
            .client
            .post(format!("{origin}{path}"))
            .header("origin", &origin)
            .header("sec-fetch-site", "same-origin")
            .form(form);
        if let Some(cookie) = cookie {
            request = request.header("cookie", format!("__Secure-adieu_session={cookie}"));
        }
        request.send().await.unwrap()
    }

    /// Logs out through the page, with the form's synchronizer token.
    async fn web_logout(&self, cookie: &str) {
        let home = self
            .client
            .get(format!("{}/", self.proxy.auth_origin()))
            .header("cookie", format!("__Secure-adieu_session={cookie}"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let token = form_token(&home).expect("a form token");
        let r = self
            .page_post("/logout", Some(cookie), &[("csrf", &token)])
            .await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
    }
}

fn cookie_of(r: &reqwest::Response) -> Option<String> {
    r.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| v.strip_prefix("__Secure-adieu_session="))
        .map(|v| v.split(';').next().unwrap_or("").to_owned())
        .find(|v| !v.is_empty())
}

async fn a_bearer_token_is_allowed_and_the_app_learns_who_it_is(kind: Kind) {
    let s = Stack::start(kind).await;
    let login = s.adieu.user("alice").await;
    let r = s.with_bearer(&login.access).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.text().await.unwrap(), "hello from the app");
    let seen = s.app.last().unwrap();
    assert_eq!(seen["remote-user"], "alice");
    assert_eq!(
        seen["remote-user-id"],
        s.adieu.user_id(&login.access).await.as_str()
    );
    assert_eq!(seen["remote-session-id"], login.session_id.as_str());
}

async fn a_session_cookie_is_allowed(kind: Kind) {
    let s = Stack::start(kind).await;
    s.adieu.register("alice").await;
    let cookie = s.web_login("alice").await;
    let r = s.with_cookie(&cookie).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(s.app.last().unwrap()["remote-user"], "alice");
}

async fn without_a_credential_nothing_reaches_the_app(kind: Kind) {
    let s = Stack::start(kind).await;
    let r = s
        .client
        .get(s.proxy.app_url("/private"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let r = s.with_bearer("adieu_at_not-a-real-token").await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(s.app.requests(), 0);
}

async fn a_forged_remote_user_never_reaches_the_app(kind: Kind) {
    let s = Stack::start(kind).await;
    let login = s.adieu.user("alice").await;
    let r = s
        .client
        .get(s.proxy.app_url("/private"))
        .bearer_auth(&login.access)
        .header("remote-user", "admin")
        .header("remote-user-id", "0")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let seen = s.app.last().unwrap();
    let users: Vec<_> = seen.get_all("remote-user").iter().collect();
    assert_eq!(users, ["alice"], "{seen:?}");
    assert_eq!(seen.get_all("remote-user-id").iter().count(), 1);
    // Without a credential the forgery goes nowhere at all.
    let r = s
        .client
        .get(s.proxy.app_url("/private"))
        .header("remote-user", "admin")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(s.app.requests(), 1);
}

/// Every way a session ends, each followed at once by a proxied request.
async fn after_every_kind_of_revocation_the_next_proxied_request_is_refused(kind: Kind) {
    let s = Stack::start(kind).await;
    s.adieu.register("alice").await;
    let fresh = || async {
        let login: Login = s.adieu.login("alice").await;
        assert_eq!(s.with_bearer(&login.access).await.status(), StatusCode::OK);
        login
    };
    // Logout with the access token.
    let l = fresh().await;
    assert_eq!(s.adieu.logout(&l.access).await.status(), StatusCode::OK);
    assert_eq!(
        s.with_bearer(&l.access).await.status(),
        StatusCode::UNAUTHORIZED
    );
    // Logout with the refresh token.
    let l = fresh().await;
    let r = s
        .adieu
        .post_json("/api/logout", &json!({"refresh_token": l.refresh}))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        s.with_bearer(&l.access).await.status(),
        StatusCode::UNAUTHORIZED
    );
    // Logout everywhere, seen from another device.
    let (a, b) = (fresh().await, fresh().await);
    assert_eq!(s.adieu.logout_all(&a.access).await.status(), StatusCode::OK);
    assert_eq!(
        s.with_bearer(&b.access).await.status(),
        StatusCode::UNAUTHORIZED
    );
    // One session revoked from another.
    let (a, b) = (fresh().await, fresh().await);
    assert_eq!(
        s.adieu.delete_session(&a.access, &b.session_id).await,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        s.with_bearer(&b.access).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(s.with_bearer(&a.access).await.status(), StatusCode::OK);
    // A refresh token spent twice: the rotated pair dies with the session.
    let l = fresh().await;
    let rotated = s.adieu.refreshed(&l.refresh).await;
    assert_eq!(
        s.with_bearer(&rotated.access).await.status(),
        StatusCode::OK
    );
    assert_eq!(
        s.adieu.refresh_status(&l.refresh).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        s.with_bearer(&rotated.access).await.status(),
        StatusCode::UNAUTHORIZED
    );
    // A password change ends the other sessions.
    let (a, b) = (fresh().await, fresh().await);
    let r = s
        .adieu
        .client
        .post(s.adieu.url("/api/password"))
        .bearer_auth(&a.access)
        .json(&json!({"current_password": PASSWORD, "new_password": "a new password 2"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        s.with_bearer(&b.access).await.status(),
        StatusCode::UNAUTHORIZED
    );
    // Web logout: the cookie is refused by the proxy at once.
    s.adieu.register("bob").await;
    let cookie = s.web_login("bob").await;
    assert_eq!(s.with_cookie(&cookie).await.status(), StatusCode::OK);
    s.web_logout(&cookie).await;
    assert_eq!(
        s.with_cookie(&cookie).await.status(),
        StatusCode::UNAUTHORIZED
    );
}

async fn a_browser_without_a_session_goes_to_the_login_page_and_comes_back(kind: Kind) {
    let s = Stack::start(kind).await;
    s.adieu.register("alice").await;
    let wanted = s.proxy.app_url("/private?x=1");
    let navigate = |cookie: Option<String>| {
        let mut request = s
            .client
            .get(&wanted)
            .header("accept", "text/html,application/xhtml+xml,*/*;q=0.8");
        if let Some(cookie) = cookie {
            request = request.header("cookie", format!("__Secure-adieu_session={cookie}"));
        }
        request.send()
    };
    let r = navigate(None).await.unwrap();
    assert_eq!(r.status(), StatusCode::FOUND);
    let login = r.headers()["location"].to_str().unwrap().to_owned();
    let expected = format!(
        "{}/login?rd={}",
        s.proxy.auth_origin(),
        wanted
            .replace(':', "%3A")
            .replace('?', "%3F")
            .replace('=', "%3D")
    );
    assert_eq!(login, expected);
    assert_eq!(s.app.requests(), 0);
    // The login page, through the proxy, carries rd into its form; signing in goes back.
    let page = s
        .client
        .get(&login)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains(&format!(r#"name="next" value="{wanted}""#)),
        "{page}"
    );
    let r = s
        .page_post(
            "/login",
            None,
            &[
                ("username", "alice"),
                ("password", PASSWORD),
                ("next", &wanted),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()["location"], wanted.as_str());
    let set = r.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(set.contains("Domain=example.com"), "{set}");
    let cookie = cookie_of(&r).unwrap();
    let r = navigate(Some(cookie)).await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(s.app.last().unwrap()["remote-user"], "alice");
    // A script's request is not redirected: it gets the 401.
    let r = s
        .client
        .get(&wanted)
        .header("accept", "text/html")
        .header("x-requested-with", "XMLHttpRequest")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
}

macro_rules! through_both_proxies {
    ($($test:ident),* $(,)?) => {
        mod nginx {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                #[ignore = "needs nginx and caddy: set ADIEU_TEST_NGINX and ADIEU_TEST_CADDY"]
                async fn $test() {
                    super::$test(super::Kind::Nginx).await;
                }
            )*
        }
        mod caddy {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                #[ignore = "needs nginx and caddy: set ADIEU_TEST_NGINX and ADIEU_TEST_CADDY"]
                async fn $test() {
                    super::$test(super::Kind::Caddy).await;
                }
            )*
        }
    };
}

through_both_proxies! {
    a_bearer_token_is_allowed_and_the_app_learns_who_it_is,
    a_session_cookie_is_allowed,
    without_a_credential_nothing_reaches_the_app,
    a_forged_remote_user_never_reaches_the_app,
    after_every_kind_of_revocation_the_next_proxied_request_is_refused,
    a_browser_without_a_session_goes_to_the_login_page_and_comes_back,
}
