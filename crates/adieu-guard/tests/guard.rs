//! The guard over real HTTP: a real Adieu (`TestServer`) answering the introspections, and a
//! real axum app behind the layer. A small stub of the introspection endpoint stands in for
//! Adieu only where Adieu cannot be made to misbehave (5xx, nonsense, slowness), and to see
//! exactly what the guard sends.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use adieu_guard::{AdieuGuard, AdieuUser};
use adieu_server::test_support::TestServer;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use reqwest::StatusCode;
use serde_json::{Value, json};

// ---------------------------------------------------------------------------------------
// The protected app.

/// An axum app on a free port whose `GET /whoami` is behind the guard, and `GET /open` is
/// not (yet extracts `AdieuUser`: a programming error the extractor must refuse).
struct Api {
    addr: SocketAddr,
    /// How many times a handler ran.
    calls: Arc<AtomicUsize>,
    client: reqwest::Client,
}

async fn whoami(State(calls): State<Arc<AtomicUsize>>, user: AdieuUser) -> Json<Value> {
    calls.fetch_add(1, Ordering::SeqCst);
    Json(json!({
        "user_id": user.user_id,
        "username": user.username,
        "session_id": user.session_id,
    }))
}

async fn open(State(calls): State<Arc<AtomicUsize>>, user: AdieuUser) -> String {
    calls.fetch_add(1, Ordering::SeqCst);
    user.username
}

impl Api {
    async fn spawn(guard: AdieuGuard) -> Self {
        let calls = Arc::new(AtomicUsize::new(0));
        let app = Router::new()
            .route("/whoami", get(whoami))
            .layer(guard.layer())
            .route("/open", get(open))
            .with_state(calls.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self {
            addr,
            calls,
            client: reqwest::Client::new(),
        }
    }

    fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }

    /// `GET path` with this `Authorization` header, if any.
    async fn get(&self, path: &str, authorization: Option<&str>) -> reqwest::Response {
        let mut request = self.client.get(format!("http://{}{path}", self.addr));
        if let Some(value) = authorization {
            request = request.header(reqwest::header::AUTHORIZATION, value);
        }
        request.send().await.expect("the app answers")
    }

    async fn whoami(&self, token: &str) -> reqwest::Response {
        self.get("/whoami", Some(&format!("Bearer {token}"))).await
    }
}

/// Asserts the guard's refusal: status, challenge (if any) and error code.
async fn assert_refused(
    r: reqwest::Response,
    status: StatusCode,
    challenge: Option<&str>,
    code: &str,
) {
    assert_eq!(r.status(), status);
    let header = r
        .headers()
        .get(reqwest::header::WWW_AUTHENTICATE)
        .map(|v| v.to_str().unwrap().to_owned());
    assert_eq!(header.as_deref(), challenge);
    assert_eq!(r.headers()["cache-control"], "no-store");
    let body: Value = r.json().await.expect("a JSON body");
    assert_eq!(body, json!({"error": code}));
}

async fn assert_invalid_token(r: reqwest::Response) {
    assert_refused(
        r,
        StatusCode::UNAUTHORIZED,
        Some(r#"Bearer error="invalid_token""#),
        "invalid_token",
    )
    .await;
}

async fn assert_unavailable(r: reqwest::Response) {
    assert_refused(
        r,
        StatusCode::SERVICE_UNAVAILABLE,
        None,
        "temporarily_unavailable",
    )
    .await;
}

// ---------------------------------------------------------------------------------------
// Against a real Adieu.

/// A real Adieu with an operators' listener, and a client created on its admin API.
struct Adieu {
    server: TestServer,
    client_id: String,
    client_secret: String,
}

impl Adieu {
    async fn spawn() -> Self {
        let server = TestServer::spawn_with(|c| {
            c.admin_listen = Some("127.0.0.1:0".parse().unwrap());
        })
        .await;
        let admin_key = create_admin_key(&server).await;
        let admin = server.admin_addr.expect("an operators' listener");
        let r = server
            .client
            .post(format!("http://{admin}/admin/clients"))
            .bearer_auth(&admin_key)
            .json(&json!({"name": "resource-api"}))
            .send()
            .await
            .expect("the admin listener answers");
        assert!(r.status().is_success(), "{}", r.status());
        let client: Value = r.json().await.expect("a client answer");
        assert_eq!(client["name"], "resource-api");
        Self {
            client_id: client["client_id"].as_str().unwrap().to_owned(),
            client_secret: client["client_secret"].as_str().unwrap().to_owned(),
            server,
        }
    }

    fn guard_with_secret(&self, secret: &str) -> AdieuGuard {
        AdieuGuard::builder(self.server.url("/oauth2/introspect"))
            .client_credentials(&self.client_id, secret)
            .timeout(Duration::from_secs(2))
            .build()
            .expect("a guard")
    }

    fn guard(&self) -> AdieuGuard {
        self.guard_with_secret(&self.client_secret)
    }
}

/// An admin key, created as `adieu admin keys create` does: straight in the database.
async fn create_admin_key(server: &TestServer) -> String {
    let key = adieu_core::token::issue_admin_key();
    let sessions = &server.state().sessions;
    sessions
        .storage()
        .store()
        .create_admin_key("ops", &key.hash, sessions.now())
        .await
        .expect("the key is stored");
    key.secret.expose().to_owned()
}

#[tokio::test]
async fn a_live_access_token_reaches_the_handler_with_its_user() {
    let adieu = Adieu::spawn().await;
    let api = Api::spawn(adieu.guard()).await;
    let login = adieu.server.user("alice").await;
    let user_id = adieu.server.user_id(&login.access).await;

    let r = api.whoami(&login.access).await;
    assert_eq!(r.status(), StatusCode::OK);
    let seen: Value = r.json().await.unwrap();
    assert_eq!(
        seen,
        json!({"user_id": user_id, "username": "alice", "session_id": login.session_id})
    );
    assert_eq!(api.calls(), 1);
}

#[tokio::test]
async fn after_a_logout_the_very_next_request_with_its_token_is_refused() {
    let adieu = Adieu::spawn().await;
    let api = Api::spawn(adieu.guard()).await;
    let login = adieu.server.user("alice").await;
    assert_eq!(api.whoami(&login.access).await.status(), StatusCode::OK);

    let r = adieu.server.logout(&login.access).await;
    assert_eq!(r.status(), StatusCode::OK);

    assert_invalid_token(api.whoami(&login.access).await).await;
    assert_eq!(api.calls(), 1);
}

#[tokio::test]
async fn a_request_without_a_well_shaped_bearer_token_is_refused_before_adieu_is_asked() {
    let adieu = Adieu::spawn().await;
    let api = Api::spawn(adieu.guard()).await;
    let login = adieu.server.user("alice").await;

    assert_refused(
        api.get("/whoami", None).await,
        StatusCode::UNAUTHORIZED,
        Some("Bearer"),
        "invalid_token",
    )
    .await;
    for malformed in [
        "Bearer".to_owned(),
        "Bearer ".to_owned(),
        format!("Basic {}", login.access),
        format!("Bearer {} extra", login.access),
        format!("Bearer \"{}\"", login.access),
        format!("Token {}", login.access),
    ] {
        assert_invalid_token(api.get("/whoami", Some(&malformed)).await).await;
    }
    assert_eq!(api.calls(), 0);
}

#[tokio::test]
async fn tokens_that_are_not_live_access_tokens_are_refused() {
    let adieu = Adieu::spawn().await;
    let api = Api::spawn(adieu.guard()).await;
    let login = adieu.server.user("alice").await;

    // A refresh token is live, but it is no credential for an API call.
    assert_invalid_token(api.whoami(&login.refresh).await).await;
    // Unknown tokens, well-shaped or not as Adieu's.
    let unknown = format!("adieu_at_{}", "A".repeat(43));
    assert_invalid_token(api.whoami(&unknown).await).await;
    assert_invalid_token(api.whoami("not-an-adieu-token").await).await;
    assert_eq!(api.calls(), 0);
    // The refresh token was not spent by being looked at.
    assert_eq!(
        adieu.server.refresh_status(&login.refresh).await,
        StatusCode::OK
    );
}

#[tokio::test]
async fn an_expired_access_token_is_refused() {
    let adieu = Adieu::spawn().await;
    let api = Api::spawn(adieu.guard()).await;
    let login = adieu.server.user("alice").await;
    adieu.server.advance(Duration::from_secs(16 * 60));

    assert_invalid_token(api.whoami(&login.access).await).await;
    assert_eq!(api.calls(), 0);
}

#[tokio::test]
async fn when_adieu_is_down_nothing_gets_through() {
    let mut adieu = Adieu::spawn().await;
    let api = Api::spawn(adieu.guard()).await;
    let login = adieu.server.user("alice").await;
    assert_eq!(api.whoami(&login.access).await.status(), StatusCode::OK);

    adieu.server.stop().await;

    assert_unavailable(api.whoami(&login.access).await).await;
    assert_eq!(api.calls(), 1, "the handler never ran while Adieu was down");
}

#[tokio::test]
async fn a_guard_with_a_wrong_client_secret_lets_nothing_through() {
    let adieu = Adieu::spawn().await;
    let api = Api::spawn(adieu.guard_with_secret("not-the-secret")).await;
    let login = adieu.server.user("alice").await;

    assert_unavailable(api.whoami(&login.access).await).await;
    assert_eq!(api.calls(), 0);
}

#[tokio::test]
async fn a_guard_with_an_unknown_client_id_lets_nothing_through() {
    let adieu = Adieu::spawn().await;
    let guard = AdieuGuard::builder(adieu.server.url("/oauth2/introspect"))
        .client_credentials("no-such-client", &adieu.client_secret)
        .build()
        .unwrap();
    let api = Api::spawn(guard).await;
    let login = adieu.server.user("alice").await;

    assert_unavailable(api.whoami(&login.access).await).await;
    assert_eq!(api.calls(), 0);
}

#[tokio::test]
async fn introspect_answers_for_one_token_outside_a_tower_stack() {
    let adieu = Adieu::spawn().await;
    let guard = adieu.guard();
    let login = adieu.server.user("alice").await;

    let user = guard.introspect(&login.access).await.unwrap().unwrap();
    assert_eq!(user.username, "alice");
    assert_eq!(guard.introspect(&login.refresh).await.unwrap(), None);

    let wrong = adieu.guard_with_secret("not-the-secret");
    let e = wrong.introspect(&login.access).await.unwrap_err();
    assert!(e.is_misconfigured(), "{e}");
}

// ---------------------------------------------------------------------------------------
// Against a stub, for what a real Adieu does not do.

/// What the stub introspection endpoint answers.
#[derive(Clone)]
enum Answer {
    Json(StatusCode, &'static str),
    Text(&'static str),
    /// Never answers: only the guard's own timeout can end the call.
    Never,
}

/// The request the stub last received: its `Authorization` header and form body.
type Received = Arc<Mutex<Option<(String, String)>>>;

async fn stub(answer: Answer) -> (String, Received) {
    let received: Received = Arc::default();
    let log = received.clone();
    let app = Router::new().route(
        "/oauth2/introspect",
        post(move |headers: HeaderMap, body: String| {
            let answer = answer.clone();
            let log = log.clone();
            async move {
                let authorization = headers
                    .get("authorization")
                    .map(|v| v.to_str().unwrap().to_owned())
                    .unwrap_or_default();
                *log.lock().unwrap() = Some((authorization, body));
                match answer {
                    Answer::Json(status, body) => {
                        (status, [("content-type", "application/json")], body).into_response()
                    }
                    Answer::Text(body) => body.into_response(),
                    Answer::Never => std::future::pending().await,
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}/oauth2/introspect"), received)
}

async fn stubbed_api(answer: Answer) -> (Api, Received) {
    let (url, received) = stub(answer).await;
    let guard = AdieuGuard::builder(url)
        .client_credentials("resource api", "s3cr:t")
        .timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    (Api::spawn(guard).await, received)
}

const ALICE: &str = r#"{"active":true,"token_type":"access_token","sub":"u1",
    "username":"alice","sid":"s1","iat":1,"exp":2,"iss":"http://adieu"}"#;

#[tokio::test]
async fn the_guard_sends_the_token_as_a_form_with_rfc_6749_basic_credentials() {
    let (api, received) = stubbed_api(Answer::Json(StatusCode::OK, ALICE)).await;

    let r = api.whoami("adieu_at_abc-_123").await;
    assert_eq!(r.status(), StatusCode::OK);
    let (authorization, body) = received.lock().unwrap().clone().unwrap();
    // base64("resource+api:s3cr%3At")
    assert_eq!(authorization, "Basic cmVzb3VyY2UrYXBpOnMzY3IlM0F0");
    assert_eq!(body, "token=adieu_at_abc-_123&token_type_hint=access_token");
}

#[tokio::test]
async fn an_active_token_of_another_type_is_refused() {
    let (api, _) = stubbed_api(Answer::Json(
        StatusCode::OK,
        r#"{"active":true,"token_type":"refresh_token","sub":"u1","username":"alice","sid":"s1"}"#,
    ))
    .await;
    assert_invalid_token(api.whoami("adieu_rt_x").await).await;
    assert_eq!(api.calls(), 0);
}

#[tokio::test]
async fn answers_the_guard_cannot_trust_let_nothing_through() {
    for answer in [
        Answer::Json(StatusCode::INTERNAL_SERVER_ERROR, r#"{"error":"internal"}"#),
        Answer::Json(StatusCode::BAD_GATEWAY, ALICE),
        Answer::Json(StatusCode::UNAUTHORIZED, r#"{"error":"invalid_client"}"#),
        Answer::Json(StatusCode::BAD_REQUEST, r#"{"error":"invalid_request"}"#),
        Answer::Json(StatusCode::OK, r#"{"active":"yes"}"#),
        Answer::Json(
            StatusCode::OK,
            r#"{"active":true,"token_type":"access_token"}"#,
        ),
        Answer::Text("<html>hello</html>"),
    ] {
        let (api, _) = stubbed_api(answer).await;
        assert_unavailable(api.whoami("adieu_at_x").await).await;
        assert_eq!(api.calls(), 0);
    }
}

/// The claim is that the guard gives up rather than waits: the stub never answers, so a
/// 503 can only come from the guard's timeout. No duration is asserted; the outer timeout
/// only keeps a guard without one from hanging the suite.
#[tokio::test]
async fn an_adieu_that_never_answers_is_given_up_on_after_the_timeout() {
    let (api, received) = stubbed_api(Answer::Never).await;
    let answer = tokio::time::timeout(Duration::from_secs(60), api.whoami("adieu_at_x"))
        .await
        .unwrap_or_else(|_| {
            panic!("the guard never gave up on an introspection that never answers")
        });
    assert_unavailable(answer).await;
    assert!(received.lock().unwrap().is_some(), "the guard never asked");
    assert_eq!(api.calls(), 0);
}

#[tokio::test]
async fn extracting_the_user_on_a_route_without_the_layer_is_a_500() {
    let (api, _) = stubbed_api(Answer::Json(StatusCode::OK, ALICE)).await;
    let r = api.get("/open", Some("Bearer adieu_at_x")).await;
    assert_eq!(r.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(api.calls(), 0);
}
