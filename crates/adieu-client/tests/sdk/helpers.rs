//! A real server on port 0, a switchable front for it, and direct HTTP probes.

use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use adieu_client::{Client, CredentialStore, MemoryStore, Secret, StoreContents};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use tokio::sync::Semaphore;

pub(crate) type TestResult = Result<(), Box<dyn std::error::Error>>;

pub(crate) use adieu_server::test_support::PASSWORD;

/// The server's access-token lifetime is 15 minutes by default; this is past it.
pub(crate) const PAST_ACCESS_TTL: Duration = Duration::from_secs(16 * 60);

/// The workspace's test server (it can be stopped and started again on the same address with
/// the same database), with the few probes the SDK tests make directly, as an attacker
/// holding a token would.
pub(crate) struct TestServer(adieu_server::test_support::TestServer);

impl Deref for TestServer {
    type Target = adieu_server::test_support::TestServer;

    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl DerefMut for TestServer {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.0
    }
}

impl TestServer {
    pub(crate) async fn start() -> Self {
        Self(adieu_server::test_support::TestServer::spawn().await)
    }

    /// A server that holds every refresh this long before processing it.
    pub(crate) async fn with_refresh_delay(refresh_delay: Duration) -> Self {
        Self(
            adieu_server::test_support::TestServer::spawn_with(move |c| {
                c.refresh_delay = refresh_delay;
            })
            .await,
        )
    }

    /// The server's URL, as clients are given it.
    pub(crate) fn url(&self) -> String {
        self.0.base()
    }
}

/// A client of `url` keeping its credentials in `store` (a clone; the test keeps the other).
pub(crate) async fn client(url: &str, store: &(impl CredentialStore + Clone)) -> Client {
    Client::builder(url)
        .store(store.clone())
        .timeout(Duration::from_secs(5))
        .build()
        .await
        .unwrap()
}

/// A client over a fresh [`MemoryStore`], logged in as `username`.
pub(crate) async fn logged_in(url: &str, username: &str) -> (Client, MemoryStore) {
    let store = MemoryStore::new();
    let client = client(url, &store).await;
    client.login(username, &password()).await.unwrap();
    (client, store)
}

/// The access and refresh token a store holds, read the way any store implementor could.
pub(crate) fn stored_tokens(store: &impl CredentialStore) -> Option<(String, String)> {
    let json = serde_json::to_value(store.load().unwrap()).unwrap();
    let session = json.get("session")?;
    Some((
        session["access_token"].as_str()?.to_owned(),
        session["refresh_token"].as_str()?.to_owned(),
    ))
}

pub(crate) fn password() -> Secret {
    Secret::new(PASSWORD)
}

/// Polls `condition` every few milliseconds until it holds; panics after five seconds.
pub(crate) async fn wait_until(what: &str, condition: impl Fn() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while !condition() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting: {what}"
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

/// How the front answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Passes every request to the server.
    Forward,
    /// Answers every request with 500, as a broken deployment would.
    Fail500,
    /// Accepts every request and never answers.
    Hang,
    /// Answers every request itself with this status and body, as a proxy, a gateway or a
    /// web app's fallback page in front of the server would.
    Answer(u16, &'static str),
}

/// A small HTTP front for a server: forwards, fails or hangs on demand, counts refreshes,
/// records the tokens that refreshes hand out, and can hold a refresh's answer back after the
/// server has produced it.
pub(crate) struct Front {
    pub(crate) url: String,
    shared: Arc<FrontState>,
}

struct FrontState {
    upstream: String,
    http: reqwest::Client,
    mode: Mutex<Mode>,
    refresh_requests: AtomicUsize,
    hold_refresh_answers: AtomicBool,
    held: AtomicUsize,
    hung: AtomicUsize,
    release: Semaphore,
    issued: Mutex<Vec<(String, String)>>,
}

impl Front {
    pub(crate) async fn start(upstream: &TestServer) -> Self {
        let shared = Arc::new(FrontState {
            upstream: upstream.url(),
            http: reqwest::Client::new(),
            mode: Mutex::new(Mode::Forward),
            refresh_requests: AtomicUsize::new(0),
            hold_refresh_answers: AtomicBool::new(false),
            held: AtomicUsize::new(0),
            hung: AtomicUsize::new(0),
            release: Semaphore::new(0),
            issued: Mutex::new(Vec::new()),
        });
        let app = axum::Router::new()
            .fallback(forward)
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self { url, shared }
    }

    pub(crate) fn set_mode(&self, mode: Mode) {
        *self.shared.mode.lock().unwrap() = mode;
    }

    /// Refresh requests that reached the front so far.
    pub(crate) fn refresh_requests(&self) -> usize {
        self.shared.refresh_requests.load(Ordering::SeqCst)
    }

    /// From now on, hold each successful refresh answer until [`Front::release_one`].
    pub(crate) fn hold_refresh_answers(&self, hold: bool) {
        self.shared
            .hold_refresh_answers
            .store(hold, Ordering::SeqCst);
    }

    /// Refresh answers held back so far.
    pub(crate) fn held(&self) -> usize {
        self.shared.held.load(Ordering::SeqCst)
    }

    /// Requests left hanging so far.
    pub(crate) fn hung(&self) -> usize {
        self.shared.hung.load(Ordering::SeqCst)
    }

    pub(crate) fn release_one(&self) {
        self.shared.release.add_permits(1);
    }

    /// The (access, refresh) pairs that successful refreshes handed out, oldest first.
    pub(crate) fn issued(&self) -> Vec<(String, String)> {
        self.shared.issued.lock().unwrap().clone()
    }
}

async fn forward(
    State(front): State<Arc<FrontState>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mode = *front.mode.lock().unwrap();
    match mode {
        Mode::Forward => {}
        Mode::Fail500 => {
            return (StatusCode::INTERNAL_SERVER_ERROR, "upstream broke").into_response();
        }
        Mode::Hang => {
            front.hung.fetch_add(1, Ordering::SeqCst);
            std::future::pending::<()>().await;
        }
        Mode::Answer(status, body) => {
            let content_type = if body.starts_with('{') {
                "application/json"
            } else {
                "text/html; charset=utf-8"
            };
            let status = StatusCode::from_u16(status).unwrap();
            return (status, [(header::CONTENT_TYPE, content_type)], body).into_response();
        }
    }
    let is_refresh = uri.path() == "/api/token/refresh";
    if is_refresh {
        front.refresh_requests.fetch_add(1, Ordering::SeqCst);
    }
    let mut request = front
        .http
        .request(method, format!("{}{}", front.upstream, uri))
        .body(body);
    for name in [header::AUTHORIZATION, header::CONTENT_TYPE] {
        if let Some(value) = headers.get(&name) {
            request = request.header(name, value);
        }
    }
    let Ok(answer) = request.send().await else {
        return StatusCode::BAD_GATEWAY.into_response();
    };
    let status = answer.status();
    let content_type = answer.headers().get(header::CONTENT_TYPE).cloned();
    let bytes = answer.bytes().await.unwrap_or_default();
    if is_refresh && status.is_success() {
        let json: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        front.issued.lock().unwrap().push((
            json["access_token"].as_str().unwrap().to_owned(),
            json["refresh_token"].as_str().unwrap().to_owned(),
        ));
        if front.hold_refresh_answers.load(Ordering::SeqCst) {
            front.held.fetch_add(1, Ordering::SeqCst);
            front.release.acquire().await.unwrap().forget();
        }
    }
    let mut response = (status, bytes).into_response();
    if let Some(content_type) = content_type {
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, content_type);
    }
    response
}

/// A [`MemoryStore`] whose writes can be made to fail, as on a full disk.
#[derive(Debug, Clone, Default)]
pub(crate) struct FlakyStore {
    inner: MemoryStore,
    failing: Arc<AtomicBool>,
}

impl FlakyStore {
    /// From now on, every write fails (or succeeds again).
    pub(crate) fn fail_writes(&self, fail: bool) {
        self.failing.store(fail, Ordering::SeqCst);
    }
}

impl CredentialStore for FlakyStore {
    fn load(&self) -> adieu_client::Result<StoreContents> {
        self.inner.load()
    }

    fn save(&self, contents: &StoreContents) -> adieu_client::Result<()> {
        if self.failing.load(Ordering::SeqCst) {
            return Err(adieu_client::Error::store(
                "no space left on the device",
                None,
            ));
        }
        self.inner.save(contents)
    }
}

/// Reads a store in one call.
pub(crate) trait Inspect {
    fn load_contents(&self) -> StoreContents;
}

impl<T: CredentialStore> Inspect for T {
    fn load_contents(&self) -> StoreContents {
        self.load().unwrap()
    }
}
