//! The admin API on the operators' listener, and what a user does to their own account as a
//! whole: its activity, and deleting it.

use adieu_core::token;
use adieu_types::{
    ActivityResponse, AdminUserDetail, AdminUsersResponse, AuditResponse, UserActionResponse,
};
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{PASSWORD, TestApp, assert_error};

/// A server with an operators' listener, and a live admin key named `ops` for it.
pub(crate) struct AdminApp {
    pub(crate) app: TestApp,
    pub(crate) key: String,
}

impl AdminApp {
    pub(crate) async fn spawn() -> Self {
        Self::spawn_with(|_| {}).await
    }

    pub(crate) async fn spawn_with(
        adjust: impl FnOnce(&mut adieu_server::Config) + 'static,
    ) -> Self {
        let app = TestApp::spawn_with(|c| {
            c.admin_listen = Some("127.0.0.1:0".parse().unwrap());
            adjust(c);
        })
        .await;
        let key = create_key(&app, "ops").await;
        Self { app, key }
    }

    pub(crate) fn admin_url(&self, path: &str) -> String {
        format!(
            "http://{}{path}",
            self.app.admin_addr.expect("an admin listener")
        )
    }

    /// An admin call with the key.
    pub(crate) async fn call(&self, method: Method, path: &str) -> reqwest::Response {
        self.app
            .client
            .request(method, self.admin_url(path))
            .bearer_auth(&self.key)
            .send()
            .await
            .expect("the admin listener answers")
    }

    pub(crate) async fn ok<T: serde::de::DeserializeOwned>(&self, method: Method, path: &str) -> T {
        let r = self.call(method, path).await;
        assert_eq!(r.status(), StatusCode::OK, "{path}");
        r.json().await.expect("a JSON answer")
    }

    async fn action(&self, path: &str) -> UserActionResponse {
        self.ok(Method::POST, path).await
    }
}

/// Creates an admin key as `adieu admin keys create` does: straight in the database.
pub(crate) async fn create_key(app: &TestApp, name: &str) -> String {
    let key = token::issue_admin_key();
    app.state()
        .sessions
        .storage()
        .store()
        .create_admin_key(name, &key.hash, app.state().sessions.now())
        .await
        .expect("the key is stored");
    key.secret.expose().to_owned()
}

/// Every admin route, with a real id where it takes one.
fn routes(user_id: &str, session_id: &str) -> Vec<(Method, String)> {
    vec![
        (Method::GET, "/admin/users".into()),
        (Method::GET, format!("/admin/users/{user_id}")),
        (Method::POST, format!("/admin/users/{user_id}/logout")),
        (Method::POST, format!("/admin/users/{user_id}/disable")),
        (Method::POST, format!("/admin/users/{user_id}/enable")),
        (Method::DELETE, format!("/admin/users/{user_id}")),
        (Method::DELETE, format!("/admin/sessions/{session_id}")),
        (Method::GET, "/admin/audit".into()),
    ]
}

pub(crate) async fn admin_calls_need_a_live_key_and_exist_only_on_the_operators_listener() {
    // Many refusals from one address follow: the limit on them has a test of its own.
    let admin = AdminApp::spawn_with(|c| c.admin_failures_per_ip = 0).await;
    let app = &admin.app;
    let alice = app.user("alice").await;
    let alice_id = app.user_id(&alice.access).await;
    let revoked = create_key(app, "old").await;
    assert!(
        app.state()
            .sessions
            .storage()
            .store()
            .revoke_admin_key("old", app.state().sessions.now())
            .await
            .unwrap()
    );
    let wrong = token::issue_admin_key().secret.expose().to_owned();
    for (method, path) in routes(&alice_id, &alice.session_id) {
        // No key, a well-formed unknown key, a revoked key, a user's own access token.
        for credential in [None, Some(&wrong), Some(&revoked), Some(&alice.access)] {
            let mut request = app.client.request(method.clone(), admin.admin_url(&path));
            if let Some(credential) = credential {
                request = request.bearer_auth(credential);
            }
            let r = request.send().await.unwrap();
            assert_error(r, StatusCode::UNAUTHORIZED, "invalid_token").await;
        }
        // Not on the public listener, even with the key.
        let r = app
            .client
            .request(method.clone(), app.url(&path))
            .bearer_auth(&admin.key)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "{method} {path}");
    }
    // Nothing was done by all those refused calls.
    assert_eq!(app.me_status(&alice.access).await, StatusCode::OK);
    // The metrics of the operators' listener are not on the public one either.
    let r = app.client.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
}

pub(crate) async fn failed_admin_keys_are_rate_limited_per_ip() {
    let admin = AdminApp::spawn().await;
    let wrong = token::issue_admin_key().secret.expose().to_owned();
    let mut statuses = Vec::new();
    for _ in 0..12 {
        let r = admin
            .app
            .client
            .get(admin.admin_url("/admin/users"))
            .bearer_auth(&wrong)
            .send()
            .await
            .unwrap();
        statuses.push(r.status());
        if r.status() == StatusCode::TOO_MANY_REQUESTS {
            assert!(r.headers().contains_key("retry-after"));
        }
    }
    assert!(
        statuses[..10]
            .iter()
            .all(|s| *s == StatusCode::UNAUTHORIZED),
        "{statuses:?}"
    );
    assert_eq!(statuses[10], StatusCode::TOO_MANY_REQUESTS, "{statuses:?}");
    // The right key still works: only failures count.
    let list: AdminUsersResponse = admin.ok(Method::GET, "/admin/users").await;
    assert!(list.users.is_empty());
}

pub(crate) async fn users_are_listed_in_pages_and_shown_with_their_sessions() {
    let admin = AdminApp::spawn().await;
    let app = &admin.app;
    for name in ["carol", "alice", "bob", "alina"] {
        app.register(name).await;
    }
    let a1 = app.login("alice").await;
    let _a2 = app.login("alice").await;
    app.logout(&a1.access).await;
    // Name order, a page at a time.
    let first: AdminUsersResponse = admin.ok(Method::GET, "/admin/users?limit=2").await;
    let names: Vec<_> = first.users.iter().map(|u| u.username.as_str()).collect();
    assert_eq!(names, ["alice", "alina"]);
    let next = first.next.expect("a next page");
    let second: AdminUsersResponse = admin
        .ok(Method::GET, &format!("/admin/users?limit=2&after={next}"))
        .await;
    let names: Vec<_> = second.users.iter().map(|u| u.username.as_str()).collect();
    assert_eq!(names, ["bob", "carol"]);
    // A query matches part of the name, in any case, and `_` is no wildcard.
    let found: AdminUsersResponse = admin.ok(Method::GET, "/admin/users?query=AL").await;
    let names: Vec<_> = found.users.iter().map(|u| u.username.as_str()).collect();
    assert_eq!(names, ["alice", "alina"]);
    let none: AdminUsersResponse = admin.ok(Method::GET, "/admin/users?query=a_i").await;
    assert!(none.users.is_empty());
    let alice = &found.users[0];
    assert_eq!(
        alice.active_sessions, 1,
        "the logged-out session is not active"
    );
    assert!(!alice.disabled);
    let detail: AdminUserDetail = admin
        .ok(Method::GET, &format!("/admin/users/{}", alice.id))
        .await;
    assert_eq!(detail.user, *alice);
    assert_eq!(detail.sessions.len(), 1);
    // Bad input is a clear 400; an unknown id a 404.
    for bad in [
        "/admin/users?limit=0",
        "/admin/users?limit=x",
        "/admin/users?page=2",
    ] {
        assert_error(
            admin.call(Method::GET, bad).await,
            StatusCode::BAD_REQUEST,
            "invalid_request",
        )
        .await;
    }
    assert_error(
        admin.call(Method::GET, "/admin/users/nobody").await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
}

pub(crate) async fn an_admin_logout_ends_every_session_of_the_user_and_is_audited_with_the_key() {
    let admin = AdminApp::spawn().await;
    let app = &admin.app;
    let a1 = app.user("alice").await;
    let a2 = app.login("alice").await;
    let bob = app.user("bob").await;
    let alice_id = app.user_id(&a1.access).await;
    let done = admin
        .action(&format!("/admin/users/{alice_id}/logout"))
        .await;
    assert_eq!(done.status, "logged_out");
    assert_eq!(done.revoked_sessions, 2);
    for login in [&a1, &a2] {
        assert_eq!(app.me_status(&login.access).await, StatusCode::UNAUTHORIZED);
        assert_eq!(
            app.refresh_status(&login.refresh).await,
            StatusCode::UNAUTHORIZED
        );
    }
    assert_eq!(app.me_status(&bob.access).await, StatusCode::OK);
    // She can log in again: a logout is not a ban.
    app.login("alice").await;
    let audit: AuditResponse = admin
        .ok(
            Method::GET,
            &format!("/admin/audit?user_id={alice_id}&kind=admin_revoked"),
        )
        .await;
    assert_eq!(audit.events.len(), 1);
    assert_eq!(audit.events[0].actor.as_deref(), Some("ops"));
    assert_error(
        admin.call(Method::POST, "/admin/users/nobody/logout").await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
}

pub(crate) async fn an_admin_ends_one_session_of_anyone() {
    let admin = AdminApp::spawn().await;
    let app = &admin.app;
    let a1 = app.user("alice").await;
    let a2 = app.login("alice").await;
    let r = admin
        .call(
            Method::DELETE,
            &format!("/admin/sessions/{}", a1.session_id),
        )
        .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_eq!(app.me_status(&a1.access).await, StatusCode::UNAUTHORIZED);
    assert_eq!(app.me_status(&a2.access).await, StatusCode::OK);
    // Ended already, or never there: 404.
    for id in [a1.session_id.as_str(), "nosuchsession"] {
        assert_error(
            admin
                .call(Method::DELETE, &format!("/admin/sessions/{id}"))
                .await,
            StatusCode::NOT_FOUND,
            "not_found",
        )
        .await;
    }
}

pub(crate) async fn a_disabled_account_refuses_its_tokens_its_cookie_and_new_logins() {
    let admin = AdminApp::spawn().await;
    let app = &admin.app;
    let api = app.user("alice").await;
    let alice_id = app.user_id(&api.access).await;
    let cookie = web_login(app, "alice").await;
    assert_eq!(page_status(app, &cookie).await, StatusCode::OK);
    let done = admin
        .action(&format!("/admin/users/{alice_id}/disable"))
        .await;
    assert_eq!(
        (done.status.as_str(), done.revoked_sessions),
        ("disabled", 2)
    );
    assert_eq!(app.me_status(&api.access).await, StatusCode::UNAUTHORIZED);
    assert_eq!(
        app.refresh_status(&api.refresh).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        page_status(app, &cookie).await,
        StatusCode::SEE_OTHER,
        "sent to sign in"
    );
    // The right password learns that the account is disabled; a wrong one learns nothing.
    assert_error(
        app.try_login("alice", PASSWORD).await,
        StatusCode::FORBIDDEN,
        "account_disabled",
    )
    .await;
    assert_error(
        app.try_login("alice", "not-the-password").await,
        StatusCode::UNAUTHORIZED,
        "invalid_credentials",
    )
    .await;
    let listed: AdminUserDetail = admin
        .ok(Method::GET, &format!("/admin/users/{alice_id}"))
        .await;
    assert!(listed.user.disabled);
    assert_eq!(listed.user.active_sessions, 0);
    let again = admin
        .action(&format!("/admin/users/{alice_id}/enable"))
        .await;
    assert_eq!(
        (again.status.as_str(), again.revoked_sessions),
        ("enabled", 0)
    );
    let back = app.login("alice").await;
    assert_eq!(app.me_status(&back.access).await, StatusCode::OK);
    let events = app.audit_events(&alice_id).await;
    for kind in ["user_disabled", "user_enabled"] {
        assert!(events.iter().any(|e| e == kind), "{events:?}");
    }
}

/// Signs in through the login form; returns the `Cookie` header to send.
async fn web_login(app: &TestApp, username: &str) -> String {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let r = client
        .post(app.url("/login"))
        .header("origin", app.base())
        .form(&[("username", username), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let set = r.headers()["set-cookie"].to_str().unwrap();
    set.split(';').next().unwrap().to_owned()
}

/// The status of `GET /` with that cookie, redirects not followed.
async fn page_status(app: &TestApp, cookie: &str) -> StatusCode {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    client
        .get(app.url("/"))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap()
        .status()
}

pub(crate) async fn an_admin_deletes_a_user_and_only_one_event_remains() {
    let admin = AdminApp::spawn().await;
    let app = &admin.app;
    let alice = app.user("alice").await;
    let alice_id = app.user_id(&alice.access).await;
    let second = app.login("alice").await;
    let rotated = app.refreshed(&second.refresh).await;
    let _failed = app.try_login("alice", "not-the-password").await;
    let bob = app.user("bob").await;
    let done: UserActionResponse = admin
        .ok(Method::DELETE, &format!("/admin/users/{alice_id}"))
        .await;
    assert_eq!(
        (done.status.as_str(), done.revoked_sessions),
        ("deleted", 2)
    );
    for login in [&alice, &second, &rotated] {
        assert_eq!(app.me_status(&login.access).await, StatusCode::UNAUTHORIZED);
        assert_eq!(
            app.refresh_status(&login.refresh).await,
            StatusCode::UNAUTHORIZED
        );
    }
    assert_error(
        app.try_login("alice", PASSWORD).await,
        StatusCode::UNAUTHORIZED,
        "invalid_credentials",
    )
    .await;
    assert_eq!(app.me_status(&bob.access).await, StatusCode::OK);
    // What is left of her: one event, with her id and the key, and nothing personal.
    let audit: AuditResponse = admin
        .ok(Method::GET, &format!("/admin/audit?user_id={alice_id}"))
        .await;
    assert_eq!(audit.events.len(), 1, "{:?}", audit.events);
    let event = &audit.events[0];
    assert_eq!(event.event, "user_deleted");
    assert_eq!(event.actor.as_deref(), Some("ops"));
    assert_eq!((event.ip.as_ref(), event.user_agent.as_ref()), (None, None));
    assert!(event.session_id.is_none());
    assert_no_trace(app, &alice_id, &[&alice.session_id, &second.session_id]).await;
    assert_error(
        admin
            .call(Method::DELETE, &format!("/admin/users/{alice_id}"))
            .await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    // The name is free again.
    app.register("alice").await;
}

/// Asserts that no table row but the one `user_deleted` event names the user or their
/// sessions, and (SQLite) that the database files hold neither the name nor the ids.
async fn assert_no_trace(app: &TestApp, user_id: &str, session_ids: &[&str]) {
    let events = app.audit_events(user_id).await;
    assert_eq!(events, ["user_deleted"]);
    let store = app.state().sessions.storage().store();
    assert!(store.user_by_id(user_id).await.unwrap().is_none());
    assert!(store.user_sessions(user_id).await.unwrap().is_empty());
    if app.state().sessions.storage().health().backend == "sqlite" {
        let mut bytes = Vec::new();
        for entry in std::fs::read_dir(app.dir()).unwrap() {
            bytes.extend(std::fs::read(entry.unwrap().path()).unwrap());
        }
        let has = |needle: &str| bytes.windows(needle.len()).any(|w| w == needle.as_bytes());
        assert!(has("bob"), "the scan must see the database contents");
        assert!(
            !has("alice"),
            "the deleted user's name is still in the files"
        );
        for id in session_ids {
            assert!(!has(id), "a deleted session id is still in the files");
        }
    }
}

pub(crate) async fn the_audit_log_is_filtered_by_user_kind_and_time() {
    let admin = AdminApp::spawn().await;
    let app = &admin.app;
    let alice = app.user("alice").await;
    let alice_id = app.user_id(&alice.access).await;
    app.user("bob").await;
    app.logout(&alice.access).await;
    let all: AuditResponse = admin.ok(Method::GET, "/admin/audit").await;
    let kinds: Vec<_> = all.events.iter().map(|e| e.event.as_str()).collect();
    // Newest first.
    assert_eq!(kinds.first(), Some(&"logout"), "{kinds:?}");
    assert!(all.events.windows(2).all(|w| w[0].id > w[1].id));
    let hers: AuditResponse = admin
        .ok(Method::GET, &format!("/admin/audit?user_id={alice_id}"))
        .await;
    assert!(
        hers.events
            .iter()
            .all(|e| e.user_id.as_deref() == Some(&alice_id))
    );
    let kinds: Vec<_> = hers.events.iter().map(|e| e.event.as_str()).collect();
    assert_eq!(kinds, ["logout", "login", "register"]);
    let logins: AuditResponse = admin.ok(Method::GET, "/admin/audit?kind=login").await;
    assert_eq!(logins.events.len(), 2);
    let one: AuditResponse = admin.ok(Method::GET, "/admin/audit?limit=1").await;
    assert_eq!(one.events.len(), 1);
    app.advance(std::time::Duration::from_secs(3600));
    let since = (time::OffsetDateTime::from_unix_timestamp_nanos(
        i128::from(app.state().sessions.now()) * 1_000_000,
    )
    .unwrap())
    .format(&time::format_description::well_known::Rfc3339)
    .unwrap();
    let none: AuditResponse = admin
        .ok(Method::GET, &format!("/admin/audit?since={since}"))
        .await;
    assert!(none.events.is_empty(), "{:?}", none.events);
    for bad in [
        "/admin/audit?kind=nonsense",
        "/admin/audit?since=yesterday",
        "/admin/audit?limit=100000",
    ] {
        assert_error(
            admin.call(Method::GET, bad).await,
            StatusCode::BAD_REQUEST,
            "invalid_request",
        )
        .await;
    }
}

pub(crate) async fn a_user_deletes_their_own_account_with_their_password() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;
    let other = app.login("alice").await;
    let alice_id = app.user_id(&alice.access).await;
    let delete = |password: &'static str| {
        app.client
            .delete(app.url("/api/account"))
            .bearer_auth(&alice.access)
            .json(&json!({ "password": password }))
            .send()
    };
    assert_error(
        delete("not-the-password").await.unwrap(),
        StatusCode::UNAUTHORIZED,
        "invalid_credentials",
    )
    .await;
    assert_eq!(
        app.me_status(&alice.access).await,
        StatusCode::OK,
        "nothing changed"
    );
    let r = app
        .client
        .delete(app.url("/api/account"))
        .bearer_auth(&alice.access)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_error(r, StatusCode::UNPROCESSABLE_ENTITY, "invalid_request").await;
    let done: UserActionResponse = delete(PASSWORD).await.unwrap().json().await.unwrap();
    assert_eq!(
        (done.status.as_str(), done.revoked_sessions),
        ("deleted", 2)
    );
    for login in [&alice, &other] {
        assert_eq!(app.me_status(&login.access).await, StatusCode::UNAUTHORIZED);
        assert_eq!(
            app.refresh_status(&login.refresh).await,
            StatusCode::UNAUTHORIZED
        );
    }
    // The token of a deleted account deletes nothing more.
    assert_error(
        delete(PASSWORD).await.unwrap(),
        StatusCode::UNAUTHORIZED,
        "invalid_token",
    )
    .await;
    app.register("bob").await;
    assert_no_trace(&app, &alice_id, &[&alice.session_id, &other.session_id]).await;
}

pub(crate) async fn each_user_sees_only_their_own_activity() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let _ = app.try_login("alice", "not-the-password").await;
    let second = app.login("alice").await;
    app.logout(&second.access).await;
    let _ = app.try_login("bob", "not-the-password").await;
    let hers = activity(&app, &alice.access).await;
    let kinds: Vec<_> = hers.iter().map(|e| e.event.as_str()).collect();
    assert_eq!(
        kinds,
        ["logout", "login", "login_failed", "login", "register"]
    );
    assert!(
        hers.iter()
            .all(|e| !e.by_administrator && !e.description.is_empty())
    );
    assert!(
        hers.iter().all(|e| e.ip.as_deref() == Some("127.0.0.1")),
        "{hers:?}"
    );
    let his = activity(&app, &bob.access).await;
    let kinds: Vec<_> = his.iter().map(|e| e.event.as_str()).collect();
    assert_eq!(kinds, ["login_failed", "login", "register"]);
    let her_sessions = [&alice.session_id, &second.session_id];
    assert!(his.iter().all(|e| {
        e.session_id
            .as_ref()
            .is_none_or(|s| !her_sessions.contains(&s))
    }));
    let r = app
        .client
        .get(app.url("/api/activity"))
        .send()
        .await
        .unwrap();
    assert_error(r, StatusCode::UNAUTHORIZED, "invalid_token").await;
}

async fn activity(app: &TestApp, access: &str) -> Vec<adieu_types::ActivityEvent> {
    let r = app
        .client
        .get(app.url("/api/activity"))
        .bearer_auth(access)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    r.json::<ActivityResponse>().await.unwrap().events
}

pub(crate) async fn a_session_that_times_out_shows_in_its_owners_activity() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;
    let fresh = app.login("alice").await;
    let idle = app.state().sessions.policy().idle_timeout;
    app.advance(idle + std::time::Duration::from_secs(1));
    let deleted = app.state().sessions.delete_ended(1000).await.unwrap();
    assert_eq!(deleted, 2);
    let events = app.audit_events(&app_user_id(&app, "alice").await).await;
    assert_eq!(
        events.iter().filter(|e| *e == "session_expired").count(),
        2,
        "{events:?}"
    );
    let _ = (alice, fresh);
}

async fn app_user_id(app: &TestApp, name: &str) -> String {
    app.state()
        .sessions
        .storage()
        .store()
        .user_by_name(name)
        .await
        .unwrap()
        .unwrap()
        .id
}
