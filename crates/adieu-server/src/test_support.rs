//! The one test server of the workspace's suites (API, web, browser, SDK and CLI): a real
//! server on a free port with a database of its own, a manual clock, and typed calls that use
//! `adieu-types`. Behind the `test-support` feature; never in a production build.
//!
//! ```ignore
//! let app = TestServer::builder().configure(|c| c.max_sessions_per_user = 3).spawn().await;
//! let login = app.user("alice").await;
//! assert_eq!(app.me_status(&login.access).await, StatusCode::OK);
//! ```

use std::future::Future;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use adieu_core::{Argon2Params, ManualClock};
use adieu_store::test_support::TempDatabase;
use adieu_types::{ErrorBody, MeResponse, SessionInfo, SessionsResponse, TokenResponse};
use reqwest::{Response, StatusCode};
use serde_json::{Value, json};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::{AppState, Config, Server};

pub mod proxy;

/// The password of every test user.
pub const PASSWORD: &str = "correct horse battery";

/// Where a test server keeps its data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// A SQLite file in the server's own temporary directory.
    Sqlite,
    /// A fresh PostgreSQL database (`ADIEU_TEST_POSTGRES_URL`), dropped with the server.
    Postgres,
}

tokio::task_local! {
    static BACKEND: Backend;
}

impl Backend {
    /// Runs a test body with every server it spawns on this backend (unless the builder
    /// names another), so that one test body can run on both.
    pub async fn run(self, test: impl Future<Output = ()>) {
        BACKEND.scope(self, test).await;
    }
}

type Adjust = Box<dyn FnOnce(&mut Config)>;

/// How a [`TestServer`] is made.
#[must_use]
pub struct TestServerBuilder {
    backend: Option<Backend>,
    adjustments: Vec<Adjust>,
    client: Option<reqwest::Client>,
}

impl TestServerBuilder {
    /// Changes the configuration after the test defaults (cheap argon2, no rate limits, a
    /// manual clock) are set.
    pub fn configure(mut self, adjust: impl FnOnce(&mut Config) + 'static) -> Self {
        self.adjustments.push(Box::new(adjust));
        self
    }

    /// The backend, instead of the one [`Backend::run`] chose (SQLite outside it).
    pub fn backend(mut self, backend: Backend) -> Self {
        self.backend = Some(backend);
        self
    }

    /// The HTTP client of the typed calls (default: a plain `reqwest::Client`).
    pub fn client(mut self, client: reqwest::Client) -> Self {
        self.client = Some(client);
        self
    }

    /// Starts the server.
    pub async fn spawn(self) -> TestServer {
        let backend = self
            .backend
            .or_else(|| BACKEND.try_with(|b| *b).ok())
            .unwrap_or(Backend::Sqlite);
        let dir = tempfile::tempdir().expect("a temporary directory");
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
            listen: "127.0.0.1:0".parse().expect("an address"),
            database_url,
            argon2: Argon2Params::insecure_for_tests(),
            login_attempts_per_user: 0,
            login_attempts_per_user_total: 0,
            login_attempts_per_ip: 0,
            registrations_per_ip: 0,
            clock: Arc::new(clock.clone()),
            ..Config::default()
        };
        for adjust in self.adjustments {
            adjust(&mut config);
        }
        let mut server = TestServer {
            addr: config.listen,
            admin_addr: None,
            client: self.client.unwrap_or_default(),
            clock,
            state: None,
            config,
            dir,
            running: None,
            _postgres: postgres,
        };
        server.boot().await;
        server
    }
}

/// A running server under test.
pub struct TestServer {
    /// The address it listens on.
    pub addr: SocketAddr,
    /// The operators' listener, when the configuration asked for one.
    pub admin_addr: Option<SocketAddr>,
    /// The client of the typed calls.
    pub client: reqwest::Client,
    /// The server's clock: tests move it instead of sleeping.
    pub clock: ManualClock,
    state: Option<AppState>,
    config: Config,
    dir: tempfile::TempDir,
    running: Option<(oneshot::Sender<()>, JoinHandle<std::io::Result<()>>)>,
    _postgres: Option<TempDatabase>,
}

/// The tokens of one login, as strings for tests to send.
#[derive(Debug, Clone)]
pub struct Login {
    /// The access token.
    pub access: String,
    /// The refresh token.
    pub refresh: String,
    /// The session's id.
    pub session_id: String,
}

impl From<TokenResponse> for Login {
    fn from(tokens: TokenResponse) -> Self {
        Self {
            access: tokens.access_token.expose().to_owned(),
            refresh: tokens.refresh_token.expose().to_owned(),
            session_id: tokens.session_id,
        }
    }
}

impl TestServer {
    /// A server with the test defaults.
    pub async fn spawn() -> Self {
        Self::builder().spawn().await
    }

    /// A server with the test defaults, then `adjust`.
    pub async fn spawn_with(adjust: impl FnOnce(&mut Config) + 'static) -> Self {
        Self::builder().configure(adjust).spawn().await
    }

    /// A server to configure first.
    pub fn builder() -> TestServerBuilder {
        TestServerBuilder {
            backend: None,
            adjustments: Vec::new(),
            client: None,
        }
    }

    async fn boot(&mut self) {
        let config = Config {
            listen: self.addr,
            ..self.config.clone()
        };
        let server = Server::build(config).await.expect("the server starts");
        self.addr = server.local_addr();
        self.admin_addr = server.admin_addr();
        self.state = Some(server.state().clone());
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(server.run(async {
            let _ = stopped.await;
        }));
        self.running = Some((stop, task));
    }

    /// Stops serving and closes every connection: from now on connections are refused.
    pub async fn stop(&mut self) {
        if let Some((stop, task)) = self.running.take() {
            let _ = stop.send(());
            tokio::time::timeout(Duration::from_secs(5), task)
                .await
                .expect("the server stops")
                .expect("the server task")
                .expect("the server ends cleanly");
        }
    }

    /// Starts again on the same address, with the same database.
    pub async fn restart(&mut self) {
        self.stop().await;
        self.boot().await;
    }

    /// The server's shared state, for tests that look at storage directly.
    pub fn state(&self) -> &AppState {
        self.state.as_ref().expect("the server was started")
    }

    /// `http://ADDR`.
    pub fn base(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The URL of `path` on this server.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// The server's own directory (its SQLite file lives there).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Moves the server's clock on.
    pub fn advance(&self, by: Duration) {
        self.clock.advance(by);
    }

    /// A JSON POST.
    pub async fn post_json(&self, path: &str, body: &Value) -> Response {
        self.client
            .post(self.url(path))
            .json(body)
            .send()
            .await
            .expect("the server answers")
    }

    /// `POST /api/register` with [`PASSWORD`]; must succeed.
    pub async fn register(&self, username: &str) {
        let r = self
            .post_json(
                "/api/register",
                &json!({"username": username, "password": PASSWORD}),
            )
            .await;
        let status = r.status();
        assert_eq!(status, StatusCode::CREATED, "{}", r.text().await.unwrap());
    }

    /// `POST /api/login`, whatever it answers.
    pub async fn try_login(&self, username: &str, password: &str) -> Response {
        self.post_json(
            "/api/login",
            &json!({"username": username, "password": password}),
        )
        .await
    }

    /// `POST /api/login` with [`PASSWORD`]; must succeed.
    pub async fn login(&self, username: &str) -> Login {
        let r = self.try_login(username, PASSWORD).await;
        assert_eq!(r.status(), StatusCode::OK);
        Login::from(r.json::<TokenResponse>().await.expect("a token answer"))
    }

    /// Registers `username` and logs in once.
    pub async fn user(&self, username: &str) -> Login {
        self.register(username).await;
        self.login(username).await
    }

    /// `GET /api/me`.
    pub async fn me(&self, access: &str) -> Response {
        self.client
            .get(self.url("/api/me"))
            .bearer_auth(access)
            .send()
            .await
            .expect("the server answers")
    }

    /// The status `GET /api/me` gets.
    pub async fn me_status(&self, access: &str) -> StatusCode {
        self.me(access).await.status()
    }

    /// `POST /api/logout` with a Bearer access token.
    pub async fn logout(&self, access: &str) -> Response {
        self.bearer_post("/api/logout", access).await
    }

    /// `POST /api/logout/all`.
    pub async fn logout_all(&self, access: &str) -> Response {
        self.bearer_post("/api/logout/all", access).await
    }

    async fn bearer_post(&self, path: &str, access: &str) -> Response {
        self.client
            .post(self.url(path))
            .bearer_auth(access)
            .send()
            .await
            .expect("the server answers")
    }

    /// `POST /api/token/refresh`, whatever it answers.
    pub async fn refresh(&self, refresh: &str) -> Response {
        self.post_json("/api/token/refresh", &json!({"refresh_token": refresh}))
            .await
    }

    /// The status `POST /api/token/refresh` gets (spending the token if it is live).
    pub async fn refresh_status(&self, refresh: &str) -> StatusCode {
        self.refresh(refresh).await.status()
    }

    /// `POST /api/token/refresh`; must succeed.
    pub async fn refreshed(&self, refresh: &str) -> Login {
        let r = self.refresh(refresh).await;
        assert_eq!(r.status(), StatusCode::OK);
        Login::from(r.json::<TokenResponse>().await.expect("a token answer"))
    }

    /// `GET /api/sessions`; must succeed.
    pub async fn sessions(&self, access: &str) -> Vec<SessionInfo> {
        let r = self
            .client
            .get(self.url("/api/sessions"))
            .bearer_auth(access)
            .send()
            .await
            .expect("the server answers");
        assert_eq!(r.status(), StatusCode::OK);
        let body: SessionsResponse = r.json().await.expect("a sessions answer");
        body.sessions
    }

    /// `DELETE /api/sessions/{id}`.
    pub async fn delete_session(&self, access: &str, id: &str) -> StatusCode {
        self.client
            .delete(self.url(&format!("/api/sessions/{id}")))
            .bearer_auth(access)
            .send()
            .await
            .expect("the server answers")
            .status()
    }

    /// The user's audit events, oldest first, read from storage.
    pub async fn audit_events(&self, user_id: &str) -> Vec<String> {
        self.state()
            .sessions
            .storage()
            .store()
            .audit_log(user_id)
            .await
            .expect("the audit log")
            .into_iter()
            .map(|(event, _)| event)
            .collect()
    }

    /// The user id `GET /api/me` names for this token.
    pub async fn user_id(&self, access: &str) -> String {
        let me: MeResponse = self.me(access).await.json().await.expect("a me answer");
        me.user_id
    }
}

/// The first synchronizer token (`name="csrf"`) in a page's forms.
pub fn form_token(html: &str) -> Option<String> {
    let marker = r#"name="csrf" value=""#;
    let start = html.find(marker)? + marker.len();
    let end = html[start..].find('"')?;
    Some(html[start..start + end].to_owned())
}

/// Asserts an answer's status and error code, and returns its body.
pub async fn assert_error(r: Response, status: StatusCode, code: &str) -> ErrorBody {
    assert_eq!(r.status(), status);
    let body: ErrorBody = r.json().await.expect("an error body");
    assert_eq!(body.error.as_str(), code, "{}", body.message);
    body
}
