//! Chromedriver, browsers and the server under test.

use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use adieu_server::test_support::TestServer;
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{Value, json};

pub(crate) use adieu_server::test_support::PASSWORD;
pub(crate) const COOKIE: &str = "__Host-adieu_session";
/// How long a page may take to reach the state a test waits for.
const PATIENCE: Duration = Duration::from_secs(15);

/// The headless flags known to work on the CI machines.
const CHROMIUM_FLAGS: [&str; 8] = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
];

/// A server under test, reached by browsers as `http://localhost:PORT`: Chromium treats
/// localhost as a secure context, so the `Secure`, `__Host-` cookie works over plain HTTP.
pub(crate) struct App {
    pub(crate) base: String,
    pub(crate) port: u16,
    pub(crate) server: TestServer,
}

impl App {
    pub(crate) async fn spawn() -> Self {
        let server = TestServer::spawn().await;
        let port = server.addr.port();
        Self {
            base: format!("http://localhost:{port}"),
            port,
            server,
        }
    }

    /// The server's shared state.
    pub(crate) fn state(&self) -> &adieu_server::AppState {
        self.server.state()
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Whether a cookie value still opens the home page, asked with a plain HTTP client.
    pub(crate) async fn cookie_opens_home(&self, cookie: &str) -> bool {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let r = client
            .get(format!("http://127.0.0.1:{}/", self.port))
            .header("cookie", format!("{COOKIE}={cookie}"))
            .send()
            .await
            .unwrap();
        match r.status().as_u16() {
            200 => true,
            303 => {
                assert!(
                    r.headers()["location"]
                        .to_str()
                        .unwrap()
                        .starts_with("/login")
                );
                false
            }
            other => panic!("unexpected status {other}"),
        }
    }
}

/// A chromedriver process of our own, on a port it picked itself.
pub(crate) struct Driver {
    child: Child,
    url: String,
}

impl Driver {
    pub(crate) fn start() -> Self {
        let binary = std::env::var("ADIEU_TEST_CHROMEDRIVER")
            .expect("set ADIEU_TEST_CHROMEDRIVER to the chromedriver binary");
        let mut child = Command::new(binary)
            .arg("--port=0")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            // Its own process group, so that Drop can end the browsers it started too.
            .process_group(0)
            .spawn()
            .expect("chromedriver starts");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let port = loop {
            let line = lines
                .next()
                .expect("chromedriver says which port it listens on")
                .unwrap();
            if let Some(rest) = line.split("started successfully on port ").nth(1) {
                break rest.trim_end_matches('.').trim().parse::<u16>().unwrap();
            }
        };
        // Keep reading, so chromedriver never blocks on a full pipe.
        std::thread::spawn(move || lines.for_each(drop));
        Self {
            child,
            url: format!("http://127.0.0.1:{port}"),
        }
    }

    /// A new desktop browser with a fresh profile, its window `width` × `height`.
    pub(crate) async fn browser(&self, width: u32, height: u32) -> Browser {
        self.start_browser(width, height, false, &[]).await
    }

    /// A desktop browser started with these flags as well (host mappings, say).
    pub(crate) async fn browser_with(&self, flags: &[String]) -> Browser {
        self.start_browser(1280, 800, false, flags).await
    }

    /// A new browser that lays pages out as a phone `width` CSS pixels wide would (headless
    /// windows cannot be narrower than 500 pixels). The user agent stays Chromium's own.
    pub(crate) async fn phone(&self, width: u32, height: u32) -> Browser {
        self.start_browser(width, height, true, &[]).await
    }

    async fn start_browser(
        &self,
        width: u32,
        height: u32,
        phone: bool,
        flags: &[String],
    ) -> Browser {
        let profile = tempfile::tempdir().unwrap();
        let mut args: Vec<String> = CHROMIUM_FLAGS.iter().map(|f| (*f).to_owned()).collect();
        args.extend_from_slice(flags);
        args.push(format!("--user-data-dir={}", profile.path().display()));
        args.push(format!("--window-size={width},{height}"));
        let mut options = json!({ "args": args });
        if phone {
            options["mobileEmulation"] = json!({
                "deviceMetrics": { "width": width, "height": height, "pixelRatio": 1.0, "touch": true }
            });
        }
        if let Ok(binary) = std::env::var("ADIEU_TEST_CHROMIUM") {
            options["binary"] = Value::String(binary);
        }
        let mut capabilities = serde_json::Map::new();
        capabilities.insert("goog:chromeOptions".into(), options);
        let client = ClientBuilder::new(HttpConnector::new())
            .capabilities(capabilities)
            .connect(&self.url)
            .await
            .expect("chromedriver starts a browser session");
        Browser {
            client,
            _profile: Arc::new(profile),
        }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        // Ends chromedriver and every browser it started, even when a test failed before it
        // could close them.
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
        let _ = self.child.wait();
    }
}

/// One browser (one "device"): its own profile, cookies and history.
pub(crate) struct Browser {
    pub(crate) client: Client,
    _profile: Arc<tempfile::TempDir>,
}

impl Browser {
    pub(crate) async fn goto(&self, url: &str) {
        self.client.goto(url).await.unwrap();
    }

    /// The visible text of the page.
    pub(crate) async fn text(&self) -> String {
        self.client
            .find(Locator::Css("body"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    /// Waits until the page is at `path` and fully loaded.
    pub(crate) async fn wait_for_path(&self, path: &str) {
        let started = Instant::now();
        loop {
            let here = self
                .client
                .current_url()
                .await
                .ok()
                .map(|u| u.path().to_owned());
            let loaded = self
                .client
                .execute("return document.readyState", vec![])
                .await
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned));
            if here.as_deref() == Some(path) && loaded.as_deref() == Some("complete") {
                return;
            }
            assert!(
                started.elapsed() < PATIENCE,
                "still at {here:?} ({loaded:?}), waiting for {path}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub(crate) async fn click(&self, css: &str) {
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("no {css}: {e}"))
            .click()
            .await
            .unwrap();
    }

    pub(crate) async fn type_into(&self, css: &str, text: &str) {
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("no {css}: {e}"))
            .send_keys(text)
            .await
            .unwrap();
    }

    /// Fills the sign-in or registration form on the current page and submits it.
    async fn submit_credentials(&self, username: &str) {
        self.type_into("#username", username).await;
        self.type_into("#password", PASSWORD).await;
        self.click("form button[type=submit]").await;
        self.wait_for_path("/").await;
    }

    pub(crate) async fn register(&self, app: &App, username: &str) {
        self.goto(&app.url("/register")).await;
        self.submit_credentials(username).await;
    }

    pub(crate) async fn login(&self, app: &App, username: &str) {
        self.goto(&app.url("/login")).await;
        self.submit_credentials(username).await;
    }

    /// The session cookie as the browser holds it, if it holds one.
    pub(crate) async fn session_cookie(&self) -> Option<fantoccini::cookies::Cookie<'static>> {
        self.client
            .get_all_cookies()
            .await
            .unwrap()
            .into_iter()
            .find(|c| c.name() == COOKIE)
    }

    /// Records, from now on, every restore of this page from the back/forward cache and what
    /// the page showed at that moment, in `sessionStorage` (which belongs to the tab and so
    /// survives the reload and the redirect that follow).
    pub(crate) async fn record_bfcache_restores(&self) {
        self.client
            .execute(
                "sessionStorage.removeItem('bfcache-restore');
                 addEventListener('pageshow', function (e) {
                   if (e.persisted) {
                     sessionStorage.setItem('bfcache-restore', JSON.stringify({
                       path: location.pathname,
                       text: document.body ? document.body.innerText : '',
                       elements: document.body ? document.body.getElementsByTagName('*').length : 0
                     }));
                   }
                 });",
                vec![],
            )
            .await
            .unwrap();
    }

    /// What [`Browser::record_bfcache_restores`] recorded, if a restore happened.
    pub(crate) async fn recorded_restore(&self) -> Option<Value> {
        let recorded = self
            .client
            .execute("return sessionStorage.getItem('bfcache-restore')", vec![])
            .await
            .unwrap();
        recorded
            .as_str()
            .map(|json| serde_json::from_str(json).unwrap())
    }

    /// How the current document was reached: `navigate`, `reload` or `back_forward`.
    pub(crate) async fn navigation_type(&self) -> String {
        let kind = self
            .client
            .execute(
                "return performance.getEntriesByType('navigation')[0].type",
                vec![],
            )
            .await
            .unwrap();
        kind.as_str().unwrap_or_default().to_owned()
    }

    pub(crate) async fn screenshot(&self, name: &str) {
        let png = self.client.screenshot().await.unwrap();
        let dir = artifacts_dir();
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
    }

    pub(crate) async fn close(self) {
        self.client.close().await.unwrap();
    }
}

/// `target/test-artifacts/browser` of the workspace.
pub(crate) fn artifacts_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/test-artifacts/browser")
}
