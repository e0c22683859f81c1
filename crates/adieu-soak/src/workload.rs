//! The mixed workload. Each worker registers a user of its own once, then until the deadline
//! picks one operation at a time by weight ([`MIX`]) over a bounded pool of live sessions,
//! sending each request to the next node in turn. Whenever a session ends with the answer
//! that promises it (a logout's or logout-all's 200; a reused refresh token's 401, which
//! revokes its session), every credential of that session is presented to every node right
//! away, and any 200 is a token accepted after its revocation.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use reqwest::{RequestBuilder, StatusCode};
use serde_json::{Value, json};

/// The password of every soak user.
const PASSWORD: &str = "soak password, long enough";

/// What a request was for; the rows of the report's table, in this order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
    Register,
    Login,
    Me,
    Refresh,
    Logout,
    LogoutAll,
    /// A spent refresh token presented again, which must revoke its session.
    RefreshReuse,
    /// An ended session's credential presented to a node: must be refused.
    Check,
}

impl Op {
    pub(crate) const ALL: [Op; 8] = [
        Op::Register,
        Op::Login,
        Op::Me,
        Op::Refresh,
        Op::Logout,
        Op::LogoutAll,
        Op::RefreshReuse,
        Op::Check,
    ];

    /// Its short name, for the mix.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Op::Register => "register",
            Op::Login => "login",
            Op::Me => "check",
            Op::Refresh => "refresh",
            Op::Logout => "logout",
            Op::LogoutAll => "logout-all",
            Op::RefreshReuse => "refresh then reuse",
            Op::Check => "ended-credential check",
        }
    }

    /// How the report's table names it.
    pub(crate) fn label(self) -> &'static str {
        match self {
            Op::Register => "register `POST /api/register`",
            Op::Login => "login `POST /api/login`",
            Op::Me => "check `GET /api/me`",
            Op::Refresh => "refresh `POST /api/token/refresh`",
            Op::Logout => "logout `POST /api/logout`",
            Op::LogoutAll => "logout-all `POST /api/logout/all`",
            Op::RefreshReuse => "refresh-token reuse (expects 401)",
            Op::Check => "ended credential on every node (expects 401)",
        }
    }
}

/// The operations a worker chooses from, with their weights (out of 100). A login with a full
/// pool logs the oldest session out first; an operation that needs a session when the pool is
/// empty is a login instead.
pub(crate) const MIX: [(Op, u64); 6] = [
    (Op::Me, 44),
    (Op::Login, 22),
    (Op::Refresh, 14),
    (Op::Logout, 10),
    (Op::RefreshReuse, 6),
    (Op::LogoutAll, 4),
];

/// Counts shared with the progress lines while the workload runs.
#[derive(Debug, Default)]
pub(crate) struct Progress {
    pub(crate) requests: AtomicU64,
    pub(crate) server_errors: AtomicU64,
    pub(crate) accepted_after_revocation: AtomicU64,
    pub(crate) unexpected: AtomicU64,
}

/// One operation's figures.
#[derive(Debug, Clone, Default)]
pub(crate) struct OpStats {
    pub(crate) requests: u64,
    /// Answers 500 to 599.
    pub(crate) server_errors: u64,
    /// Any other answer than the one expected, and requests that got no answer.
    pub(crate) unexpected: u64,
    /// Latency of every answered request, in microseconds.
    pub(crate) micros: Vec<u32>,
}

impl OpStats {
    /// The latency below which `q` (0 to 1) of the requests were answered, in milliseconds.
    pub(crate) fn quantile_ms(&self, q: f64) -> Option<f64> {
        let mut sorted = self.micros.clone();
        sorted.sort_unstable();
        let last = sorted.len().checked_sub(1)?;
        let i = ((last as f64) * q).round() as usize;
        Some(f64::from(sorted[i.min(last)]) / 1000.0)
    }
}

/// Everything the workers saw.
#[derive(Debug, Clone, Default)]
pub(crate) struct Stats {
    /// By [`Op::ALL`]'s order.
    pub(crate) ops: [OpStats; 8],
    /// Credentials of ended sessions that some node answered 200.
    pub(crate) accepted_after_revocation: u64,
    /// Sessions ended and then checked on every node.
    pub(crate) sessions_ended: u64,
    /// The first few problems, word for word, for the error message.
    pub(crate) problems: Vec<String>,
}

const MAX_PROBLEMS: usize = 10;

impl Stats {
    fn op(&mut self, op: Op) -> &mut OpStats {
        let i = Op::ALL.iter().position(|o| *o == op).expect("in ALL");
        &mut self.ops[i]
    }

    fn problem(&mut self, text: String) {
        if self.problems.len() < MAX_PROBLEMS {
            self.problems.push(text);
        }
    }

    /// Adds another worker's figures.
    pub(crate) fn merge(&mut self, other: Stats) {
        for (mine, theirs) in self.ops.iter_mut().zip(other.ops) {
            mine.requests += theirs.requests;
            mine.server_errors += theirs.server_errors;
            mine.unexpected += theirs.unexpected;
            mine.micros.extend(theirs.micros);
        }
        self.accepted_after_revocation += other.accepted_after_revocation;
        self.sessions_ended += other.sessions_ended;
        for p in other.problems {
            self.problem(p);
        }
    }

    pub(crate) fn requests(&self) -> u64 {
        self.ops.iter().map(|o| o.requests).sum()
    }

    pub(crate) fn server_errors(&self) -> u64 {
        self.ops.iter().map(|o| o.server_errors).sum()
    }

    pub(crate) fn unexpected(&self) -> u64 {
        self.ops.iter().map(|o| o.unexpected).sum()
    }
}

/// The two credentials of a session as the client holds them.
#[derive(Clone)]
struct Tokens {
    access: String,
    refresh: String,
}

/// Credentials: `Debug` says only that they are there.
impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tokens")
            .field("access", &"[redacted]")
            .field("refresh", &"[redacted]")
            .finish()
    }
}

/// A small deterministic generator (xorshift64*): the same mix on every run, no dependency.
#[derive(Debug, Clone)]
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    /// A number below `n` (which must not be 0).
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) % n
    }

    /// An operation drawn from [`MIX`].
    pub(crate) fn op(&mut self) -> Op {
        let total: u64 = MIX.iter().map(|(_, w)| w).sum();
        let mut pick = self.below(total);
        for (op, weight) in MIX {
            if pick < weight {
                return op;
            }
            pick -= weight;
        }
        unreachable!("pick is below the total of the weights")
    }
}

/// One client of the soak.
pub(crate) struct Worker {
    http: reqwest::Client,
    nodes: Arc<[SocketAddr]>,
    username: String,
    pool_size: usize,
    pool: VecDeque<Tokens>,
    rng: Rng,
    turn: usize,
    progress: Arc<Progress>,
    stats: Stats,
}

/// What a request answered, for the caller to look at.
enum Answer {
    Expected(Value),
    Other(StatusCode),
    Failed,
}

impl Worker {
    pub(crate) fn new(
        index: usize,
        tag: &str,
        http: reqwest::Client,
        nodes: Arc<[SocketAddr]>,
        pool_size: usize,
        progress: Arc<Progress>,
    ) -> Self {
        Self {
            http,
            nodes,
            username: format!("soak-{tag}-{index}"),
            pool_size,
            pool: VecDeque::new(),
            rng: Rng::new(index as u64 + 1),
            turn: index,
            progress,
            stats: Stats::default(),
        }
    }

    /// Registers, then runs the mix until `deadline`.
    pub(crate) async fn run(mut self, deadline: Instant) -> anyhow::Result<Stats> {
        let node = self.next_node();
        let body = self.credentials();
        let register = self.http.post(format!("http://{node}/api/register"));
        match self
            .send(Op::Register, register.json(&body), StatusCode::CREATED)
            .await
        {
            Answer::Expected(_) => {}
            _ => {
                let problems = self.stats.problems.join("; ");
                return Err(anyhow::anyhow!("{problems}"))
                    .with_context(|| format!("registering {}", self.username));
            }
        }
        while Instant::now() < deadline {
            let op = if self.pool.is_empty() {
                Op::Login
            } else {
                self.rng.op()
            };
            match op {
                Op::Login => self.login().await,
                Op::Me => self.me().await,
                Op::Refresh => self.refresh(false).await,
                Op::RefreshReuse => self.refresh(true).await,
                Op::Logout => {
                    let i = self.rng.below(self.pool.len() as u64) as usize;
                    if let Some(session) = self.pool.remove(i) {
                        self.logout(session).await;
                    }
                }
                Op::LogoutAll => self.logout_all().await,
                Op::Register | Op::Check => unreachable!("not in the mix"),
            }
        }
        // What is left logs out too, so that the run ends as it ran: with sessions ended.
        while let Some(session) = self.pool.pop_front() {
            self.logout(session).await;
        }
        Ok(self.stats)
    }

    fn next_node(&mut self) -> SocketAddr {
        self.turn += 1;
        self.nodes[self.turn % self.nodes.len()]
    }

    fn credentials(&self) -> Value {
        json!({ "username": self.username, "password": PASSWORD })
    }

    /// Sends `request`, counting it under `op`.
    async fn send(&mut self, op: Op, request: RequestBuilder, expected: StatusCode) -> Answer {
        self.progress.requests.fetch_add(1, Ordering::Relaxed);
        let started = Instant::now();
        let sent = request.send().await;
        let elapsed = started.elapsed();
        let stats = self.stats.op(op);
        stats.requests += 1;
        let response = match sent {
            Ok(response) => response,
            Err(e) => {
                stats.unexpected += 1;
                self.progress.unexpected.fetch_add(1, Ordering::Relaxed);
                // Without the URL: it is enough to say which operation failed and how.
                self.stats
                    .problem(format!("{}: no answer: {}", op.label(), e.without_url()));
                return Answer::Failed;
            }
        };
        stats
            .micros
            .push(u32::try_from(elapsed.as_micros()).unwrap_or(u32::MAX));
        let status = response.status();
        let body = response.text().await.unwrap_or_default();
        if status == expected {
            return Answer::Expected(serde_json::from_str(&body).unwrap_or_default());
        }
        if status.is_server_error() {
            stats.server_errors += 1;
            self.progress.server_errors.fetch_add(1, Ordering::Relaxed);
        } else if !(op == Op::Check && status == StatusCode::OK) {
            stats.unexpected += 1;
            self.progress.unexpected.fetch_add(1, Ordering::Relaxed);
        }
        if !(op == Op::Check && status == StatusCode::OK) {
            self.stats.problem(format!(
                "{} answered {status} instead of {expected}: {body}",
                op.label()
            ));
        }
        Answer::Other(status)
    }

    async fn login(&mut self) {
        if self.pool.len() >= self.pool_size {
            if let Some(oldest) = self.pool.pop_front() {
                self.logout(oldest).await;
            }
        }
        let node = self.next_node();
        let request = self.http.post(format!("http://{node}/api/login"));
        let body = self.credentials();
        if let Answer::Expected(answer) = self
            .send(Op::Login, request.json(&body), StatusCode::OK)
            .await
        {
            if let Some(tokens) = tokens(&answer) {
                self.pool.push_back(tokens);
            }
        }
    }

    fn pick(&mut self) -> usize {
        self.rng.below(self.pool.len() as u64) as usize
    }

    async fn me(&mut self) {
        let i = self.pick();
        let access = self.pool[i].access.clone();
        let node = self.next_node();
        let request = self
            .http
            .get(format!("http://{node}/api/me"))
            .bearer_auth(access);
        self.send(Op::Me, request, StatusCode::OK).await;
    }

    /// A refresh; with `reuse`, the spent token is then presented again (to another node),
    /// which must answer 401 and end the session, so the session is checked as ended.
    async fn refresh(&mut self, reuse: bool) {
        let i = self.pick();
        let old = self.pool[i].clone();
        let node = self.next_node();
        let request = self.http.post(format!("http://{node}/api/token/refresh"));
        let body = json!({ "refresh_token": old.refresh });
        let Answer::Expected(answer) = self
            .send(Op::Refresh, request.json(&body), StatusCode::OK)
            .await
        else {
            // The session is in an unknown state: leave it out of the pool.
            self.pool.remove(i);
            return;
        };
        let Some(new) = tokens(&answer) else {
            self.pool.remove(i);
            return;
        };
        if !reuse {
            self.pool[i] = new;
            return;
        }
        self.pool.remove(i);
        let node = self.next_node();
        let request = self.http.post(format!("http://{node}/api/token/refresh"));
        match self
            .send(
                Op::RefreshReuse,
                request.json(&body),
                StatusCode::UNAUTHORIZED,
            )
            .await
        {
            Answer::Expected(_) => self.check_ended(&[old, new], Op::RefreshReuse).await,
            Answer::Other(StatusCode::OK) => {
                self.stats.accepted_after_revocation += 1;
                self.progress
                    .accepted_after_revocation
                    .fetch_add(1, Ordering::Relaxed);
            }
            Answer::Other(_) | Answer::Failed => {}
        }
    }

    /// Ends a session by its access token (as `Authorization`) or its refresh token (in the
    /// body), in turn.
    async fn logout(&mut self, session: Tokens) {
        let node = self.next_node();
        let request = self.http.post(format!("http://{node}/api/logout"));
        let request = if self.rng.below(2) == 0 {
            request.bearer_auth(&session.access)
        } else {
            request.json(&json!({ "refresh_token": session.refresh }))
        };
        if let Answer::Expected(_) = self.send(Op::Logout, request, StatusCode::OK).await {
            self.check_ended(&[session], Op::Logout).await;
        }
    }

    /// Ends every session of the user, through one of them.
    async fn logout_all(&mut self) {
        let i = self.pick();
        let access = self.pool[i].access.clone();
        let node = self.next_node();
        let request = self
            .http
            .post(format!("http://{node}/api/logout/all"))
            .bearer_auth(access);
        let ended: Vec<Tokens> = self.pool.drain(..).collect();
        if let Answer::Expected(_) = self.send(Op::LogoutAll, request, StatusCode::OK).await {
            self.check_ended(&ended, Op::LogoutAll).await;
        }
    }

    /// Presents every credential of `sessions`, ended by `why`, to every node: each must be
    /// refused.
    async fn check_ended(&mut self, sessions: &[Tokens], why: Op) {
        self.stats.sessions_ended += sessions.len() as u64;
        let mut checks = Vec::new();
        for session in sessions {
            for &node in self.nodes.iter() {
                let me = self.http.get(format!("http://{node}/api/me"));
                checks.push((node, "access", me.bearer_auth(&session.access)));
                let refresh = self.http.post(format!("http://{node}/api/token/refresh"));
                let body = json!({ "refresh_token": session.refresh });
                checks.push((node, "refresh", refresh.json(&body)));
            }
        }
        for (node, kind, request) in checks {
            if let Answer::Other(StatusCode::OK) = self
                .send(Op::Check, request, StatusCode::UNAUTHORIZED)
                .await
            {
                self.stats.accepted_after_revocation += 1;
                self.progress
                    .accepted_after_revocation
                    .fetch_add(1, Ordering::Relaxed);
                self.stats.problem(format!(
                    "node {node} accepted the {kind} token of a session ended by {}",
                    why.label()
                ));
            }
        }
    }
}

/// The pair of tokens in a login's or refresh's answer.
fn tokens(answer: &Value) -> Option<Tokens> {
    Some(Tokens {
        access: answer["access_token"].as_str()?.to_owned(),
        refresh: answer["refresh_token"].as_str()?.to_owned(),
    })
}

/// Builds the one HTTP client every worker shares; `timeout` bounds each request.
pub(crate) fn client(timeout: Duration) -> anyhow::Result<reqwest::Client> {
    reqwest::Client::builder()
        .timeout(timeout)
        .build()
        .context("building the HTTP client")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mix_draws_every_operation_near_its_weight() {
        let mut rng = Rng::new(1);
        let mut seen = [0u64; 8];
        for _ in 0..100_000 {
            let op = rng.op();
            seen[Op::ALL.iter().position(|o| *o == op).unwrap()] += 1;
        }
        for (op, weight) in MIX {
            let got = seen[Op::ALL.iter().position(|o| *o == op).unwrap()];
            assert!(got.abs_diff(weight * 1000) < 1000, "{op:?}: {got}");
        }
        assert_eq!(seen[0] + seen[7], 0, "register and check are not drawn");
    }

    #[test]
    fn quantiles_come_from_the_sorted_latencies() {
        let stats = OpStats {
            micros: vec![5000, 1000, 3000, 2000, 4000],
            ..OpStats::default()
        };
        assert_eq!(stats.quantile_ms(0.5), Some(3.0));
        assert_eq!(stats.quantile_ms(1.0), Some(5.0));
        assert_eq!(OpStats::default().quantile_ms(0.5), None);
    }
}
