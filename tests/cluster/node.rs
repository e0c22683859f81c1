//! Starting `adieu serve` processes and talking to them.

use std::process::Stdio;
use std::sync::{Arc, Mutex};
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
    /// The `adieu serve` process: `child` itself, or its child when `child` is a wrapper
    /// (strace).
    server_pid: u32,
    wrapped: bool,
    /// Whether `stop` has seen the process exit (its pid is no longer ours to signal).
    stopped: bool,
    pub(crate) url: String,
    /// The operators' listener, for `/status`.
    pub(crate) admin_url: String,
    host: Host,
    /// What the server has written to stderr so far (its log, at `RUST_LOG` below).
    log: Log,
    database_url: String,
    extra: Vec<String>,
}

type Log = Arc<Mutex<Vec<String>>>;

impl Node {
    pub(crate) async fn start(database_url: &str, extra: &[&str]) -> Self {
        Self::start_wrapped(&[], database_url, extra).await
    }

    /// Starts a node on `host` rather than on this machine's loopback.
    pub(crate) async fn start_on(host: Host, database_url: &str, extra: &[&str]) -> Self {
        Self::start_full(host, &[], database_url, extra).await
    }

    /// Runs `wrapper… adieu serve …`: the wrapper (strace) must run its command as its
    /// only child.
    pub(crate) async fn start_wrapped(
        wrapper: &[&str],
        database_url: &str,
        extra: &[&str],
    ) -> Self {
        Self::start_full(Host::local(), wrapper, database_url, extra).await
    }

    async fn start_full(host: Host, wrapper: &[&str], database_url: &str, extra: &[&str]) -> Self {
        let extra: Vec<String> = extra.iter().map(|s| (*s).to_owned()).collect();
        let (child, url, admin_url, log) = spawn(&host, wrapper, database_url, &extra).await;
        let wrapper_pid = child.id().expect("node is running");
        let server_pid = if wrapper.is_empty() {
            wrapper_pid
        } else {
            // The server has printed its address, so the wrapper has started it.
            let children =
                std::fs::read_to_string(format!("/proc/{wrapper_pid}/task/{wrapper_pid}/children"))
                    .unwrap();
            children.trim().parse().expect("the wrapper runs one child")
        };
        Self {
            child,
            server_pid,
            wrapped: !wrapper.is_empty(),
            stopped: false,
            url,
            admin_url,
            host,
            log,
            database_url: database_url.to_owned(),
            extra,
        }
    }

    /// Waits until the server has logged a line containing `text`. `within` only keeps a
    /// test from hanging; what a caller claims is the order in which it waits.
    pub(crate) async fn wait_for_log(&self, text: &str, within: Duration) {
        let deadline = Instant::now() + within;
        while !self
            .log
            .lock()
            .unwrap()
            .iter()
            .any(|line| line.contains(text))
        {
            assert!(Instant::now() < deadline, "the node never logged {text:?}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// `kill -9`: no shutdown, no flushing.
    pub(crate) async fn kill9(&mut self) {
        assert!(
            !self.wrapped,
            "kill -9 would leave the wrapped server running"
        );
        self.child.start_kill().unwrap();
        self.child.wait().await.unwrap();
    }

    /// Stops the server as an operator would (SIGTERM) and waits for the process (and its
    /// wrapper) to exit.
    pub(crate) async fn stop(&mut self) {
        self.signal("TERM");
        let status = tokio::time::timeout(Duration::from_secs(60), self.child.wait())
            .await
            .expect("adieu serve exits after SIGTERM")
            .unwrap();
        self.stopped = true;
        assert!(
            status.success(),
            "adieu serve (or its wrapper) exited with {status}"
        );
    }

    /// Starts the same node again (same database, same flags, a new port).
    pub(crate) async fn restart(&mut self) {
        assert!(
            !self.wrapped,
            "restart starts the server without its wrapper"
        );
        let (child, url, admin_url, log) =
            spawn(&self.host, &[], &self.database_url, &self.extra).await;
        self.server_pid = child.id().expect("node is running");
        self.child = child;
        self.url = url;
        self.admin_url = admin_url;
        self.log = log;
    }

    /// Sends a signal to the server: STOP freezes it, CONT thaws it, TERM shuts it down.
    pub(crate) fn signal(&self, signal: &str) {
        let status = std::process::Command::new("kill")
            .args([&format!("-{signal}"), &self.server_pid.to_string()])
            .status()
            .unwrap();
        assert!(status.success(), "kill -{signal} failed");
    }
}

impl Drop for Node {
    /// `kill_on_drop` ends the wrapper only; the server it traced would run on.
    fn drop(&mut self) {
        if self.wrapped && !self.stopped {
            let _ = std::process::Command::new("kill")
                .args(["-KILL", &self.server_pid.to_string()])
                .stderr(Stdio::null())
                .status();
        }
    }
}

/// The log level of every node: errors, and the cluster's warnings (a node that did not
/// acknowledge in time).
const RUST_LOG: &str = "error,adieu_store::cluster=warn";

/// Runs `host prefix… wrapper… adieu serve …`: the host's prefix (`ip netns exec <ns>`)
/// execs what follows it, the wrapper (strace) runs it as a child.
async fn spawn(
    host: &Host,
    wrapper: &[&str],
    database_url: &str,
    extra: &[String],
) -> (Child, String, String, Log) {
    let command: Vec<&str> = (host.prefix.iter().map(String::as_str))
        .chain(wrapper.iter().copied())
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
        .args(if extra.iter().any(|a| a == "--lease") {
            vec![]
        } else {
            vec!["--lease".to_owned(), format!("{}ms", LEASE.as_millis())]
        })
        .args(extra)
        .env("RUST_LOG", RUST_LOG)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", command.join(" ")));
    let log = Log::default();
    let mut stderr = BufReader::new(child.stderr.take().unwrap()).lines();
    let lines_seen = log.clone();
    tokio::spawn(async move {
        while let Ok(Some(line)) = stderr.next_line().await {
            eprintln!("{line}");
            lines_seen.lock().unwrap().push(line);
        }
    });
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
    (child, url, admin_url, log)
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
