//! `TestApp`: a real server on port 0 with a fresh database, and typed calls against it.

use std::sync::Arc;
use std::time::Duration;

use adieu_core::{Argon2Params, ManualClock};
use adieu_server::{Config, Server};
use adieu_store::test_support::TempDatabase;
use reqwest::{Response, StatusCode};
use serde_json::{Value, json};

pub(crate) const PASSWORD: &str = "correct horse battery";

/// Where a test's server keeps its data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Backend {
    Sqlite,
    Postgres,
}

tokio::task_local! {
    static BACKEND: Backend;
}

impl Backend {
    /// Runs a test body with every `TestApp` it spawns on this backend.
    pub(crate) async fn run(self, test: impl std::future::Future<Output = ()>) {
        BACKEND.scope(self, test).await;
    }
}

pub(crate) struct TestApp {
    pub(crate) addr: String,
    pub(crate) client: reqwest::Client,
    pub(crate) clock: ManualClock,
    pub(crate) state: adieu_server::AppState,
    pub(crate) admin_addr: Option<std::net::SocketAddr>,
    pub(crate) dir: tempfile::TempDir,
    _postgres: Option<TempDatabase>,
}

/// Tokens of one login.
#[derive(Debug, Clone)]
pub(crate) struct Login {
    pub(crate) access: String,
    pub(crate) refresh: String,
    pub(crate) session_id: String,
}

impl TestApp {
    pub(crate) async fn spawn() -> Self {
        Self::spawn_with(|_| {}).await
    }

    pub(crate) async fn spawn_with(adjust: impl FnOnce(&mut Config)) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let backend = BACKEND.try_with(|b| *b).unwrap_or(Backend::Sqlite);
        let postgres = match backend {
            Backend::Sqlite => None,
            Backend::Postgres => Some(TempDatabase::create().await),
        };
        let database_url = match &postgres {
            Some(db) => db.url().to_owned(),
            None => format!("sqlite://{}", dir.path().join("adieu.db").display()),
        };
        let clock = ManualClock::default();
        let mut config = Config {
            listen: "127.0.0.1:0".parse().unwrap(),
            database_url,
            argon2: Argon2Params::insecure_for_tests(),
            login_attempts_per_user: 0,
            login_attempts_per_ip: 0,
            login_attempts_per_user_total: 0,
            registrations_per_ip: 0,
            clock: Arc::new(clock.clone()),
            ..Config::default()
        };
        adjust(&mut config);
        let server = Server::build(config).await.expect("server starts");
        let addr = format!("http://{}", server.local_addr());
        let state = server.state().clone();
        let admin_addr = server.admin_addr();
        tokio::spawn(server.run(std::future::pending()));
        Self {
            addr,
            client: reqwest::Client::new(),
            clock,
            state,
            admin_addr,
            dir,
            _postgres: postgres,
        }
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{}", self.addr, path)
    }

    pub(crate) async fn post_json(&self, path: &str, body: &Value) -> Response {
        self.client
            .post(self.url(path))
            .json(body)
            .send()
            .await
            .unwrap()
    }

    pub(crate) async fn register(&self, username: &str) {
        let r = self
            .post_json(
                "/api/register",
                &json!({"username": username, "password": PASSWORD}),
            )
            .await;
        assert_eq!(
            r.status(),
            StatusCode::CREATED,
            "{}",
            r.text().await.unwrap()
        );
    }

    pub(crate) async fn try_login(&self, username: &str, password: &str) -> Response {
        self.post_json(
            "/api/login",
            &json!({"username": username, "password": password}),
        )
        .await
    }

    pub(crate) async fn login(&self, username: &str) -> Login {
        let r = self.try_login(username, PASSWORD).await;
        assert_eq!(r.status(), StatusCode::OK);
        login_from(r.json().await.unwrap())
    }

    /// Registers `username` and logs in once.
    pub(crate) async fn user(&self, username: &str) -> Login {
        self.register(username).await;
        self.login(username).await
    }

    pub(crate) async fn me(&self, access: &str) -> Response {
        self.client
            .get(self.url("/api/me"))
            .bearer_auth(access)
            .send()
            .await
            .unwrap()
    }

    pub(crate) async fn me_status(&self, access: &str) -> StatusCode {
        self.me(access).await.status()
    }

    pub(crate) async fn logout(&self, access: &str) -> Response {
        self.client
            .post(self.url("/api/logout"))
            .bearer_auth(access)
            .send()
            .await
            .unwrap()
    }

    pub(crate) async fn logout_all(&self, access: &str) -> Response {
        self.client
            .post(self.url("/api/logout/all"))
            .bearer_auth(access)
            .send()
            .await
            .unwrap()
    }

    pub(crate) async fn refresh(&self, refresh: &str) -> Response {
        self.post_json("/api/token/refresh", &json!({"refresh_token": refresh}))
            .await
    }

    pub(crate) async fn refreshed(&self, refresh: &str) -> Login {
        let r = self.refresh(refresh).await;
        assert_eq!(r.status(), StatusCode::OK);
        login_from(r.json().await.unwrap())
    }

    pub(crate) async fn sessions(&self, access: &str) -> Vec<Value> {
        let r = self
            .client
            .get(self.url("/api/sessions"))
            .bearer_auth(access)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        let body: Value = r.json().await.unwrap();
        body["sessions"].as_array().unwrap().clone()
    }

    pub(crate) async fn delete_session(&self, access: &str, id: &str) -> StatusCode {
        self.client
            .delete(self.url(&format!("/api/sessions/{id}")))
            .bearer_auth(access)
            .send()
            .await
            .unwrap()
            .status()
    }

    pub(crate) async fn audit_events(&self, user_id: &str) -> Vec<String> {
        self.state
            .sessions
            .store()
            .audit_log(user_id)
            .await
            .unwrap()
            .into_iter()
            .map(|(event, _)| event)
            .collect()
    }

    pub(crate) async fn user_id(&self, access: &str) -> String {
        let me: Value = self.me(access).await.json().await.unwrap();
        me["user_id"].as_str().unwrap().to_owned()
    }

    pub(crate) fn advance(&self, by: Duration) {
        self.clock.advance(by);
    }
}

pub(crate) fn login_from(body: Value) -> Login {
    Login {
        access: body["access_token"].as_str().unwrap().to_owned(),
        refresh: body["refresh_token"].as_str().unwrap().to_owned(),
        session_id: body["session_id"].as_str().unwrap().to_owned(),
    }
}

/// Asserts the error body's code and returns the body.
pub(crate) async fn assert_error(r: Response, status: StatusCode, code: &str) -> Value {
    assert_eq!(r.status(), status);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"], code, "{body}");
    assert!(body["message"].is_string());
    body
}
