//! The OAuth endpoints for resource servers: clients on the admin API, RFC 7662
//! introspection, RFC 7009 revocation, RFC 8414 metadata.

use std::time::Duration;

use adieu_types::{ClientsResponse, NewClientResponse};
use reqwest::{Response, StatusCode};
use serde_json::{Value, json};

use crate::admin::AdminApp;
use crate::helpers::{Login, TestApp};

/// A server with an admin key and one client, `rs`.
pub(crate) struct OAuthApp {
    pub(crate) admin: AdminApp,
    pub(crate) client_id: String,
    pub(crate) client_secret: String,
}

impl OAuthApp {
    pub(crate) async fn spawn() -> Self {
        Self::spawn_with(|_| {}).await
    }

    pub(crate) async fn spawn_with(
        adjust: impl FnOnce(&mut adieu_server::Config) + 'static,
    ) -> Self {
        let admin = AdminApp::spawn_with(adjust).await;
        let created = create_client(&admin, "rs").await;
        Self {
            admin,
            client_id: created.client_id,
            client_secret: created.client_secret.expose().to_owned(),
        }
    }

    pub(crate) fn app(&self) -> &TestApp {
        &self.admin.app
    }

    /// `POST /oauth2/introspect` with the client's Basic credentials.
    async fn introspect(&self, token: &str) -> Value {
        let r = self
            .app()
            .client
            .post(self.app().url("/oauth2/introspect"))
            .basic_auth(&self.client_id, Some(&self.client_secret))
            .form(&[("token", token)])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(r.headers()["cache-control"], "no-store");
        r.json().await.unwrap()
    }

    async fn post_form(&self, path: &str, form: &[(&str, &str)]) -> Response {
        self.app()
            .client
            .post(self.app().url(path))
            .form(form)
            .send()
            .await
            .unwrap()
    }
}

async fn create_client(admin: &AdminApp, name: &str) -> NewClientResponse {
    let r = admin
        .app
        .client
        .post(admin.admin_url("/admin/clients"))
        .bearer_auth(&admin.key)
        .json(&json!({ "name": name }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    r.json().await.unwrap()
}

async fn assert_oauth_error(r: Response, status: StatusCode, code: &str) {
    assert_eq!(r.status(), status);
    assert_eq!(r.headers()["cache-control"], "no-store");
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"], code, "{body}");
}

pub(crate) async fn clients_are_created_listed_and_deleted_with_only_a_hash_stored() {
    let admin = AdminApp::spawn().await;
    let created = create_client(&admin, "billing api").await;
    assert!(created.client_secret.expose().starts_with("adieu_cs_"));
    assert_eq!(created.name, "billing api");
    let list: ClientsResponse = admin.ok(reqwest::Method::GET, "/admin/clients").await;
    assert_eq!(list.clients.len(), 1);
    assert_eq!(list.clients[0].client_id, created.client_id);
    let text = serde_json::to_string(&list).unwrap();
    assert!(!text.contains("adieu_cs_"), "the secret is shown once only");
    for bad in [
        json!({"name": ""}),
        json!({"name": "x".repeat(101)}),
        json!({"name": "a\nb"}),
    ] {
        let r = admin
            .app
            .client
            .post(admin.admin_url("/admin/clients"))
            .bearer_auth(&admin.key)
            .json(&bad)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{bad}");
    }
    let store = admin.app.state().sessions.storage().store();
    let events: Vec<_> = store
        .audit_events(&adieu_store::AuditQuery {
            kind: Some(adieu_store::AuditKind::ClientCreated),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].actor.as_deref(), Some("ops"));
    let path = format!("/admin/clients/{}", created.client_id);
    assert_eq!(
        admin.call(reqwest::Method::DELETE, &path).await.status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        admin.call(reqwest::Method::DELETE, &path).await.status(),
        StatusCode::NOT_FOUND
    );
    let list: ClientsResponse = admin.ok(reqwest::Method::GET, "/admin/clients").await;
    assert!(list.clients.is_empty());
}

pub(crate) async fn a_live_token_is_active_with_its_identity_and_anything_else_is_only_inactive() {
    let oauth = OAuthApp::spawn().await;
    let app = oauth.app();
    let login = app.user("alice").await;
    let user_id = app.user_id(&login.access).await;
    let access = oauth.introspect(&login.access).await;
    assert_eq!(access["active"], true);
    assert_eq!(access["token_type"], "access_token");
    assert_eq!(access["sub"], user_id.as_str());
    assert_eq!(access["username"], "alice");
    assert_eq!(access["sid"], login.session_id.as_str());
    assert_eq!(access["iss"], app.base().as_str());
    let (iat, exp) = (
        access["iat"].as_i64().unwrap(),
        access["exp"].as_i64().unwrap(),
    );
    let now = app.state().sessions.now() / 1000;
    assert!(iat <= now && now < exp, "{access}");
    let refresh = oauth.introspect(&login.refresh).await;
    assert_eq!(refresh["active"], true);
    assert_eq!(refresh["token_type"], "refresh_token");
    assert!(
        refresh["exp"].as_i64().unwrap() > exp,
        "the refresh token lives longer"
    );
    let inactive = json!({ "active": false });
    // Garbage, another kind of credential, a client secret: inactive, and nothing more.
    for junk in [
        "",
        "nonsense",
        "adieu_at_short",
        &oauth.client_secret,
        &oauth.admin.key,
    ] {
        if junk.is_empty() {
            continue;
        }
        assert_eq!(oauth.introspect(junk).await, inactive, "{junk}");
    }
    // A spent refresh token.
    let rotated = app.refreshed(&login.refresh).await;
    assert_eq!(oauth.introspect(&login.refresh).await, inactive);
    assert_eq!(oauth.introspect(&rotated.access).await["active"], true);
    // An expired access token, while its session lives on.
    app.advance(app.state().sessions.policy().access_token_ttl + Duration::from_secs(1));
    assert_eq!(oauth.introspect(&rotated.access).await, inactive);
    assert_eq!(oauth.introspect(&rotated.refresh).await["active"], true);
    // After a logout: inactive, every token of the session.
    app.logout(&app.refreshed(&rotated.refresh).await.access)
        .await;
    assert_eq!(oauth.introspect(&rotated.refresh).await, inactive);
}

pub(crate) async fn a_disabled_users_tokens_are_inactive() {
    let oauth = OAuthApp::spawn().await;
    let login = oauth.app().user("alice").await;
    let user_id = oauth.app().user_id(&login.access).await;
    oauth
        .admin
        .call(
            reqwest::Method::POST,
            &format!("/admin/users/{user_id}/disable"),
        )
        .await;
    for token in [&login.access, &login.refresh] {
        assert_eq!(oauth.introspect(token).await, json!({ "active": false }));
    }
}

pub(crate) async fn introspection_needs_client_credentials_by_exactly_one_method() {
    let oauth = OAuthApp::spawn_with(|c| c.client_failures_per_ip = 0).await;
    let app = oauth.app();
    let login = app.user("alice").await;
    // client_secret_post works as Basic does.
    let posted = oauth
        .post_form(
            "/oauth2/introspect",
            &[
                ("token", &login.access),
                ("client_id", &oauth.client_id),
                ("client_secret", &oauth.client_secret),
            ],
        )
        .await;
    assert_eq!(posted.status(), StatusCode::OK);
    assert_eq!(posted.json::<Value>().await.unwrap()["active"], true);
    // None at all, a wrong secret, an unknown id, half of the form pair, a Bearer token.
    let r = oauth
        .post_form("/oauth2/introspect", &[("token", &login.access)])
        .await;
    assert_eq!(r.headers()["www-authenticate"], r#"Basic realm="adieu""#);
    assert_oauth_error(r, StatusCode::UNAUTHORIZED, "invalid_client").await;
    let wrong = adieu_core::token::issue_client_secret();
    for (id, secret) in [
        (oauth.client_id.as_str(), wrong.secret.expose()),
        ("nosuchclient", oauth.client_secret.as_str()),
    ] {
        let r = app
            .client
            .post(app.url("/oauth2/introspect"))
            .basic_auth(id, Some(secret))
            .form(&[("token", &login.access)])
            .send()
            .await
            .unwrap();
        assert_oauth_error(r, StatusCode::UNAUTHORIZED, "invalid_client").await;
    }
    let half = oauth
        .post_form(
            "/oauth2/introspect",
            &[("token", &login.access), ("client_id", &oauth.client_id)],
        )
        .await;
    assert_oauth_error(half, StatusCode::UNAUTHORIZED, "invalid_client").await;
    let r = app
        .client
        .post(app.url("/oauth2/introspect"))
        .bearer_auth(&login.access)
        .form(&[("token", &login.access)])
        .send()
        .await
        .unwrap();
    assert_oauth_error(r, StatusCode::UNAUTHORIZED, "invalid_client").await;
    // Both methods at once.
    let r = app
        .client
        .post(app.url("/oauth2/introspect"))
        .basic_auth(&oauth.client_id, Some(&oauth.client_secret))
        .form(&[
            ("token", login.access.as_str()),
            ("client_id", &oauth.client_id),
            ("client_secret", &oauth.client_secret),
        ])
        .send()
        .await
        .unwrap();
    assert_oauth_error(r, StatusCode::BAD_REQUEST, "invalid_request").await;
    // Well authenticated, but no token, a repeated one, or JSON instead of a form.
    let r = app
        .client
        .post(app.url("/oauth2/introspect"))
        .basic_auth(&oauth.client_id, Some(&oauth.client_secret))
        .form(&[("token_type_hint", "access_token")])
        .send()
        .await
        .unwrap();
    assert_oauth_error(r, StatusCode::BAD_REQUEST, "invalid_request").await;
    let r = app
        .client
        .post(app.url("/oauth2/introspect"))
        .basic_auth(&oauth.client_id, Some(&oauth.client_secret))
        .form(&[("token", "a"), ("token", "b")])
        .send()
        .await
        .unwrap();
    assert_oauth_error(r, StatusCode::BAD_REQUEST, "invalid_request").await;
    let r = app
        .client
        .post(app.url("/oauth2/introspect"))
        .basic_auth(&oauth.client_id, Some(&oauth.client_secret))
        .json(&json!({ "token": login.access }))
        .send()
        .await
        .unwrap();
    assert_oauth_error(r, StatusCode::BAD_REQUEST, "invalid_request").await;
    // A deleted client is refused at once.
    oauth
        .admin
        .call(
            reqwest::Method::DELETE,
            &format!("/admin/clients/{}", oauth.client_id),
        )
        .await;
    let r = app
        .client
        .post(app.url("/oauth2/introspect"))
        .basic_auth(&oauth.client_id, Some(&oauth.client_secret))
        .form(&[("token", &login.access)])
        .send()
        .await
        .unwrap();
    assert_oauth_error(r, StatusCode::UNAUTHORIZED, "invalid_client").await;
}

pub(crate) async fn failed_client_authentications_are_rate_limited() {
    let oauth = OAuthApp::spawn().await;
    let app = oauth.app();
    let mut statuses = Vec::new();
    for _ in 0..11 {
        let r = app
            .client
            .post(app.url("/oauth2/introspect"))
            .basic_auth(&oauth.client_id, Some("adieu_cs_wrong"))
            .form(&[("token", "x")])
            .send()
            .await
            .unwrap();
        statuses.push(r.status());
    }
    assert!(
        statuses[..10]
            .iter()
            .all(|s| *s == StatusCode::UNAUTHORIZED),
        "{statuses:?}"
    );
    assert_eq!(statuses[10], StatusCode::TOO_MANY_REQUESTS);
}

pub(crate) async fn revoking_either_token_ends_the_whole_session_and_unknown_tokens_get_200() {
    let oauth = OAuthApp::spawn().await;
    let app = oauth.app();
    let check = |login: Login| async move {
        (
            app.me_status(&login.access).await,
            app.refresh_status(&login.refresh).await,
        )
    };
    // The access token, with no client credentials: holding it is enough.
    let first = app.user("alice").await;
    let r = oauth
        .post_form("/oauth2/revoke", &[("token", &first.access)])
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["cache-control"], "no-store");
    assert_eq!(
        check(first).await,
        (StatusCode::UNAUTHORIZED, StatusCode::UNAUTHORIZED)
    );
    // The refresh token, with a wrong hint (ignored) and the client's credentials.
    let second = app.login("alice").await;
    let r = app
        .client
        .post(app.url("/oauth2/revoke"))
        .basic_auth(&oauth.client_id, Some(&oauth.client_secret))
        .form(&[
            ("token", second.refresh.as_str()),
            ("token_type_hint", "access_token"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        check(second).await,
        (StatusCode::UNAUTHORIZED, StatusCode::UNAUTHORIZED)
    );
    // Unknown, malformed, never issued, or an unknown hint: 200 all the same.
    let third = app.login("alice").await;
    for (token, hint) in [
        ("nonsense", "x"),
        ("adieu_at_short", "refresh_token"),
        (UNKNOWN_REFRESH, ""),
    ] {
        let r = oauth
            .post_form(
                "/oauth2/revoke",
                &[("token", token), ("token_type_hint", hint)],
            )
            .await;
        assert_eq!(r.status(), StatusCode::OK, "{token}");
    }
    assert_eq!(
        app.me_status(&third.access).await,
        StatusCode::OK,
        "nothing else ended"
    );
    // Wrong credentials are refused even though none are needed; no token is a 400.
    let r = app
        .client
        .post(app.url("/oauth2/revoke"))
        .basic_auth(&oauth.client_id, Some("adieu_cs_wrong"))
        .form(&[("token", &third.access)])
        .send()
        .await
        .unwrap();
    assert_oauth_error(r, StatusCode::UNAUTHORIZED, "invalid_client").await;
    assert_eq!(app.me_status(&third.access).await, StatusCode::OK);
    let r = oauth
        .post_form("/oauth2/revoke", &[("token_type_hint", "access_token")])
        .await;
    assert_oauth_error(r, StatusCode::BAD_REQUEST, "invalid_request").await;
    let events = app.audit_events(&app.user_id(&third.access).await).await;
    assert_eq!(
        events.iter().filter(|e| *e == "logout").count(),
        2,
        "{events:?}"
    );
}

/// A well-formed refresh token that was never issued.
const UNKNOWN_REFRESH: &str = "adieu_rt_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";

pub(crate) async fn the_metadata_says_where_the_endpoints_are() {
    let app =
        TestApp::spawn_with(|c| c.public_origin = Some("https://auth.example.com".into())).await;
    let r = app
        .client
        .get(app.url("/.well-known/oauth-authorization-server"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let m: Value = r.json().await.unwrap();
    assert_eq!(m["issuer"], "https://auth.example.com");
    assert_eq!(
        m["introspection_endpoint"],
        "https://auth.example.com/oauth2/introspect"
    );
    assert_eq!(
        m["revocation_endpoint"],
        "https://auth.example.com/oauth2/revoke"
    );
    let methods = m["introspection_endpoint_auth_methods_supported"]
        .as_array()
        .unwrap();
    assert!(methods.contains(&json!("client_secret_basic")));
    assert!(methods.contains(&json!("client_secret_post")));
    assert!(
        m["revocation_endpoint_auth_methods_supported"]
            .as_array()
            .unwrap()
            .contains(&json!("none"))
    );
}
