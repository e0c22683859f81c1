//! Starting `adieu serve` processes and talking to them.

use std::process::Stdio;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

pub(crate) use adieu_server::test_support::{Login, PASSWORD};
/// Short lease so that fault tests finish quickly; production uses 2 s.
pub(crate) const LEASE: Duration = Duration::from_secs(1);

/// Where a node runs: the command its `adieu serve` runs under (`ip netns exec <ns>`, say)
/// and the address both its listeners bind.
#[derive(Debug, Clone)]
pub(crate) struct Host {
    pub(crate) prefix: Vec<String>,
    pub(crate) address: String,
}

impl Host {
    /// This machine's loopback, with nothing in front of the binary.
    fn local() -> Self {
        Self {
            prefix: Vec::new(),
            address: "127.0.0.1".to_owned(),
        }
    }
}

/// One `adieu serve` process.
pub(crate) struct Node {
    child: Child,
    pub(crate) url: String,
    /// The operators' listener, for `/status`.
    pub(crate) admin_url: String,
    host: Host,
    database_url: String,
    extra: Vec<String>,
}

impl Node {
    pub(crate) async fn start(database_url: &str, extra: &[&str]) -> Self {
        Self::start_on(Host::local(), database_url, extra).await
    }

    /// Starts a node on `host` rather than on this machine's loopback.
    pub(crate) async fn start_on(host: Host, database_url: &str, extra: &[&str]) -> Self {
        let extra: Vec<String> = extra.iter().map(|s| (*s).to_owned()).collect();
        let (child, url, admin_url) = spawn(&host, database_url, &extra).await;
        Self {
            child,
            url,
            admin_url,
            host,
            database_url: database_url.to_owned(),
            extra,
        }
    }

    pub(crate) fn pid(&self) -> u32 {
        self.child.id().expect("node is running")
    }

    /// `kill -9`: no shutdown, no flushing.
    pub(crate) async fn kill9(&mut self) {
        self.child.start_kill().unwrap();
        self.child.wait().await.unwrap();
    }

    /// Starts the same node again (same database, same flags, a new port).
    pub(crate) async fn restart(&mut self) {
        let (child, url, admin_url) = spawn(&self.host, &self.database_url, &self.extra).await;
        self.child = child;
        self.url = url;
        self.admin_url = admin_url;
    }

    /// Freezes the process (SIGSTOP) or thaws it (SIGCONT).
    pub(crate) fn signal(&self, signal: &str) {
        let status = std::process::Command::new("kill")
            .args([&format!("-{signal}"), &self.pid().to_string()])
            .status()
            .unwrap();
        assert!(status.success(), "kill -{signal} failed");
    }
}

async fn spawn(host: &Host, database_url: &str, extra: &[String]) -> (Child, String, String) {
    let command: Vec<&str> = (host.prefix.iter().map(String::as_str))
        .chain([env!("CARGO_BIN_EXE_adieu")])
        .collect();
    let listen = format!("{}:0", host.address);
    let mut child = Command::new(command[0])
        .args(&command[1..])
        .args([
            "serve",
            "--listen",
            &listen,
            "--database-url",
            database_url,
            "--admin-listen",
            &listen,
        ])
        .args(["--argon2-memory-kib", "64", "--argon2-iterations", "1"])
        .args([
            "--login-attempts-per-user",
            "0",
            "--login-attempts-per-ip",
            "0",
            "--login-attempts-per-user-total",
            "0",
            "--registrations-per-ip",
            "0",
        ])
        .args(["--lease", &format!("{}ms", LEASE.as_millis())])
        .args(extra)
        .env("RUST_LOG", "error")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", command.join(" ")));
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let (url, admin_url) = tokio::time::timeout(Duration::from_secs(30), async {
        let mut url = None;
        while let Some(line) = lines.next_line().await.unwrap() {
            if let Some(found) = line.strip_prefix("adieu listening on ") {
                url = Some(found.trim().to_owned());
            } else if let Some(admin) = line.strip_prefix("adieu admin listening on ") {
                let url = url.expect("the public address is printed first");
                return (url, admin.trim().to_owned());
            }
        }
        panic!("adieu serve exited before listening");
    })
    .await
    .expect("adieu serve starts within 30 s");
    // Keep draining stdout so the process never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    (child, url, admin_url)
}

/// One HTTP client for all nodes.
#[derive(Clone)]
pub(crate) struct Api {
    client: reqwest::Client,
}

impl Api {
    pub(crate) fn new() -> Self {
        Self {
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(20))
                .build()
                .unwrap(),
        }
    }

    pub(crate) async fn register(&self, node: &Node, username: &str) {
        let r = self
            .client
            .post(format!("{}/api/register", node.url))
            .json(&json!({"username": username, "password": PASSWORD}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::CREATED);
    }

    pub(crate) async fn login(&self, node: &Node, username: &str) -> Login {
        match self.try_login(node, username).await {
            Ok(login) => login,
            Err(status) => panic!("login answered {status}"),
        }
    }

    /// A login that may fail (while the database is away, say): the status if it did.
    pub(crate) async fn try_login(&self, node: &Node, username: &str) -> Result<Login, StatusCode> {
        let r = self
            .client
            .post(format!("{}/api/login", node.url))
            .json(&json!({"username": username, "password": PASSWORD}))
            .send()
            .await
            .unwrap();
        if r.status() != StatusCode::OK {
            return Err(r.status());
        }
        Ok(Login::from(
            r.json::<adieu_types::TokenResponse>().await.unwrap(),
        ))
    }

    pub(crate) async fn me(&self, node: &Node, access: &str) -> StatusCode {
        self.client
            .get(format!("{}/api/me", node.url))
            .bearer_auth(access)
            .send()
            .await
            .unwrap()
            .status()
    }

    pub(crate) async fn post(&self, node: &Node, path: &str, access: &str) -> StatusCode {
        self.client
            .post(format!("{}{path}", node.url))
            .bearer_auth(access)
            .send()
            .await
            .unwrap()
            .status()
    }

    pub(crate) async fn refresh(&self, node: &Node, refresh: &str) -> reqwest::Response {
        self.client
            .post(format!("{}/api/token/refresh", node.url))
            .json(&json!({"refresh_token": refresh}))
            .send()
            .await
            .unwrap()
    }

    pub(crate) async fn delete_session(&self, node: &Node, access: &str, id: &str) -> StatusCode {
        self.client
            .delete(format!("{}/api/sessions/{id}", node.url))
            .bearer_auth(access)
            .send()
            .await
            .unwrap()
            .status()
    }

    /// The node's own report on the operators' listener: readiness, cache and node id.
    pub(crate) async fn health(&self, node: &Node) -> (StatusCode, Value) {
        let r = self
            .client
            .get(format!("{}/status", node.admin_url))
            .send()
            .await
            .unwrap();
        (r.status(), r.json().await.unwrap())
    }

    /// What the public is told: `/healthz`'s status.
    pub(crate) async fn healthz(&self, node: &Node) -> StatusCode {
        self.client
            .get(format!("{}/healthz", node.url))
            .send()
            .await
            .unwrap()
            .status()
    }

    /// Polls `/status` until `check` holds, for at most `within`.
    pub(crate) async fn wait_for_health(
        &self,
        node: &Node,
        within: Duration,
        check: impl Fn(StatusCode, &Value) -> bool,
    ) -> Value {
        let deadline = Instant::now() + within;
        loop {
            let (status, body) = self.health(node).await;
            if check(status, &body) {
                return body;
            }
            assert!(
                Instant::now() < deadline,
                "health never became as expected: {status} {body}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// Cache hits a node has served from memory so far.
pub(crate) fn cache_hits(health: &Value) -> u64 {
    health["cache_hits"].as_u64().unwrap_or(0)
}

/// Three nodes on one database, each with its cache serving (so that checks are answered
/// from memory and a revocation has something to evict).
pub(crate) async fn three_serving_nodes(database_url: &str, api: &Api) -> [Node; 3] {
    let (a, b, c) = tokio::join!(
        Node::start(database_url, &[]),
        Node::start(database_url, &[]),
        Node::start(database_url, &[])
    );
    for node in [&a, &b, &c] {
        api.wait_for_health(node, Duration::from_secs(10), |s, h| {
            s == StatusCode::OK && h["cache"] == "serving"
        })
        .await;
    }
    [a, b, c]
}
