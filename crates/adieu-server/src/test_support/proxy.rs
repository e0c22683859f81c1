//! Real reverse proxies for the forward-auth tests: nginx and Caddy run the very files in
//! `examples/` with only the ports changed, in front of an upstream app of the test's own
//! that answers with the headers it received.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::any;
use tokio::net::{TcpListener, TcpStream};
use tokio::process::{Child, Command};

/// The variable that names the nginx binary.
pub const NGINX_VAR: &str = "ADIEU_TEST_NGINX";
/// The variable that names the caddy binary.
pub const CADDY_VAR: &str = "ADIEU_TEST_CADDY";

/// The host the examples protect, and the one Adieu's pages are published at.
pub const APP_HOST: &str = "app.example.com";
/// See [`APP_HOST`].
pub const AUTH_HOST: &str = "auth.example.com";

/// The app behind the proxy: answers every request with 200 and remembers its headers.
pub struct Upstream {
    /// Where it listens.
    pub addr: SocketAddr,
    seen: Arc<Mutex<Vec<HeaderMap>>>,
}

impl Upstream {
    /// Starts it on a free port.
    pub async fn start() -> Self {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let app = Router::new()
            .fallback(any(remember))
            .with_state(seen.clone());
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("a port");
        let addr = listener.local_addr().expect("an address");
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self { addr, seen }
    }

    /// How many requests reached it.
    pub fn requests(&self) -> usize {
        self.seen.lock().expect("the upstream's log").len()
    }

    /// The headers of the last request that reached it.
    pub fn last(&self) -> Option<HeaderMap> {
        self.seen
            .lock()
            .expect("the upstream's log")
            .last()
            .cloned()
    }
}

async fn remember(
    State(seen): State<Arc<Mutex<Vec<HeaderMap>>>>,
    headers: HeaderMap,
) -> &'static str {
    seen.lock().expect("the upstream's log").push(headers);
    "hello from the app"
}

/// A proxy process, ended when dropped.
pub struct Proxy {
    /// The port it listens on, for both hosts.
    pub port: u16,
    child: Child,
    _dir: tempfile::TempDir,
}

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}

impl Proxy {
    /// A client that reaches both example hosts at this proxy, follows no redirect and keeps
    /// no cookie jar.
    pub fn client(&self) -> reqwest::Client {
        let at = SocketAddr::from(([127, 0, 0, 1], self.port));
        reqwest::Client::builder()
            .resolve(APP_HOST, at)
            .resolve(AUTH_HOST, at)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("a client")
    }

    /// `http://app.example.com:PORT{path}`.
    pub fn app_url(&self, path: &str) -> String {
        format!("http://{APP_HOST}:{}{path}", self.port)
    }

    /// `http://auth.example.com:PORT`: where Adieu's pages are published through the proxy.
    pub fn auth_origin(&self) -> String {
        auth_origin(self.port)
    }

    /// nginx on `port` running `examples/nginx/adieu.conf` in front of `adieu` (one or more
    /// nodes, round robin) and `upstream`.
    pub async fn nginx(port: u16, adieu: &[SocketAddr], upstream: SocketAddr) -> Self {
        let binary = std::env::var(NGINX_VAR).expect("set ADIEU_TEST_NGINX to the nginx binary");
        let example = std::fs::read_to_string(examples().join("nginx/adieu.conf"))
            .expect("examples/nginx/adieu.conf");
        let servers: String = adieu
            .iter()
            .map(|a| format!("server {a};"))
            .collect::<Vec<_>>()
            .join(" ");
        let conf = example
            .replace("server 127.0.0.1:8080;", &servers)
            .replace("127.0.0.1:3000", &upstream.to_string())
            .replace("listen 80;", &format!("listen 127.0.0.1:{port};"));
        assert!(conf.contains(&upstream.to_string()) && conf.contains(&servers));
        let dir = tempfile::tempdir().expect("a directory");
        let d = dir.path().display();
        std::fs::write(dir.path().join("adieu.conf"), conf).expect("write the config");
        // The outer file only puts nginx's own files in the test's directory.
        let main = format!(
            "pid {d}/nginx.pid;\nerror_log {d}/error.log;\nevents {{}}\nhttp {{\n  \
             access_log off;\n  client_body_temp_path {d}/body;\n  proxy_temp_path {d}/proxy;\n  \
             fastcgi_temp_path {d}/fastcgi;\n  uwsgi_temp_path {d}/uwsgi;\n  \
             scgi_temp_path {d}/scgi;\n  include {d}/adieu.conf;\n}}\n"
        );
        std::fs::write(dir.path().join("nginx.conf"), main).expect("write the config");
        let child = Command::new(binary)
            .arg("-p")
            .arg(dir.path())
            .arg("-c")
            .arg(dir.path().join("nginx.conf"))
            // One process, so that ending it on drop leaves no worker behind.
            .args(["-g", "daemon off; master_process off;"])
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .expect("nginx starts");
        Self::ready(port, child, dir).await
    }

    /// Caddy on `port` running `examples/caddy/Caddyfile` in front of `adieu` and `upstream`.
    pub async fn caddy(port: u16, adieu: SocketAddr, upstream: SocketAddr) -> Self {
        let binary = std::env::var(CADDY_VAR).expect("set ADIEU_TEST_CADDY to the caddy binary");
        let example = std::fs::read_to_string(examples().join("caddy/Caddyfile"))
            .expect("examples/caddy/Caddyfile");
        let conf = example
            .replace("127.0.0.1:8080", &adieu.to_string())
            .replace("127.0.0.1:3000", &upstream.to_string())
            .replace(".example.com:80 {", &format!(".example.com:{port} {{"));
        assert!(conf.contains(&upstream.to_string()) && conf.contains(&format!(":{port} {{")));
        let dir = tempfile::tempdir().expect("a directory");
        let file = dir.path().join("Caddyfile");
        std::fs::write(&file, conf).expect("write the config");
        let child = Command::new(binary)
            .args(["run", "--adapter", "caddyfile", "--config"])
            .arg(&file)
            // Caddy keeps its state under these; keep it in the test's directory.
            .env("HOME", dir.path())
            .env("XDG_DATA_HOME", dir.path().join("data"))
            .env("XDG_CONFIG_HOME", dir.path().join("config"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("caddy starts");
        Self::ready(port, child, dir).await
    }

    async fn ready(port: u16, mut child: Child, dir: tempfile::TempDir) -> Self {
        for _ in 0..200 {
            if TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
                return Self {
                    port,
                    child,
                    _dir: dir,
                };
            }
            if let Ok(Some(status)) = child.try_wait() {
                panic!("the proxy exited at start: {status}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the proxy never listened on {port}");
    }
}

/// `http://auth.example.com:PORT`, for a proxy on `port`.
pub fn auth_origin(port: u16) -> String {
    format!("http://{AUTH_HOST}:{port}")
}

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples")
}

/// A port free now, for a proxy whose address must be known before it starts (Adieu's
/// `--public-url` names it).
pub async fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("a port");
    listener.local_addr().expect("an address").port()
}
