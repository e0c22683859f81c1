//! The six measurements of the benchmark. Each starts its own nodes on a fresh database and
//! stops them before it returns, whether it succeeded or not.
//!
//! Long, because it holds four of the measurements (the fifth and sixth are in
//! `measure/hangup.rs` and `measure/proxy.rs`);
//! one file per measurement is the planned split.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use adieu_core::{Argon2Params, PasswordHasher};
use adieu_types::Secret;
use anyhow::{Context, bail};
use hyper::body::Bytes;
use tokio::sync::{Semaphore, mpsc};

pub(crate) mod hangup;
pub(crate) mod introspect;
pub(crate) mod proxy;

use crate::api::{self, Api};
use crate::http::{self, Conn, closed_loop_get};
use crate::node::{self, Capabilities, Node, NodeSpec};
use crate::pg::Postgres;
use crate::report::{
    CheckRow, CheckRun, LoginRow, LoginRun, LogoutRow, LogoutRun, OverloadRow, OverloadRun,
    ScaleRow,
};
use crate::seed::Seeder;
use crate::stats::Latency;
use crate::watch;

/// How long and how hard to measure.
#[derive(Debug, Clone)]
pub(crate) struct Options {
    pub(crate) runs: usize,
    pub(crate) duration: Duration,
    pub(crate) warmup: Duration,
    pub(crate) connections: usize,
    pub(crate) logouts: usize,
    pub(crate) login_duration: Duration,
    pub(crate) login_clients: usize,
    pub(crate) overload_factor: f64,
    pub(crate) overload_runs: usize,
    pub(crate) max_in_flight: usize,
    pub(crate) scale_sizes: Vec<u64>,
    pub(crate) scale_samples: usize,
}

/// The storage a node runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Backend {
    Sqlite,
    Postgres,
}

/// A backend and a cache setting.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ServerKind {
    pub(crate) backend: Backend,
    /// `Some` when the binary has `--cache`; `None` leaves the server's default.
    pub(crate) cache: Option<bool>,
}

impl ServerKind {
    /// How the report names this configuration.
    pub(crate) fn label(&self) -> String {
        match (self.backend, self.cache) {
            (Backend::Sqlite, None) => "SQLite".to_owned(),
            (Backend::Sqlite, Some(true)) => "SQLite, cache on".to_owned(),
            (Backend::Sqlite, Some(false)) => "SQLite, cache off".to_owned(),
            (Backend::Postgres, None) => "PostgreSQL".to_owned(),
            (Backend::Postgres, Some(true)) => "PostgreSQL, cache on".to_owned(),
            (Backend::Postgres, Some(false)) => "PostgreSQL, cache off".to_owned(),
        }
    }
}

struct Database {
    url: String,
    sqlite_file: Option<PathBuf>,
}

/// What every measurement needs.
pub(crate) struct Ctx {
    pub(crate) adieu: PathBuf,
    pub(crate) caps: Capabilities,
    pub(crate) pg: Option<Postgres>,
    pub(crate) work: PathBuf,
    pub(crate) api: Api,
    pub(crate) opts: Options,
    pub(crate) ticks_per_sec: u64,
    pub(crate) cores: usize,
    pub(crate) notes: Vec<String>,
    databases: AtomicUsize,
}

impl Ctx {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        adieu: PathBuf,
        caps: Capabilities,
        pg: Option<Postgres>,
        work: PathBuf,
        api: Api,
        opts: Options,
        ticks_per_sec: u64,
        cores: usize,
    ) -> Self {
        Self {
            adieu,
            caps,
            pg,
            work,
            api,
            opts,
            ticks_per_sec,
            cores,
            notes: Vec::new(),
            databases: AtomicUsize::new(0),
        }
    }

    /// The configurations to compare: SQLite, and PostgreSQL with and without the cache
    /// when the binary can do both.
    pub(crate) fn kinds(&self, with_cache_off: bool) -> Vec<ServerKind> {
        let mut kinds = vec![ServerKind {
            backend: Backend::Sqlite,
            cache: None,
        }];
        if self.pg.is_some() {
            if self.caps.cache_flag {
                kinds.push(ServerKind {
                    backend: Backend::Postgres,
                    cache: Some(true),
                });
                if with_cache_off {
                    kinds.push(ServerKind {
                        backend: Backend::Postgres,
                        cache: Some(false),
                    });
                }
            } else {
                kinds.push(ServerKind {
                    backend: Backend::Postgres,
                    cache: None,
                });
            }
        }
        kinds
    }

    async fn fresh_database(&self, backend: Backend, label: &str) -> anyhow::Result<Database> {
        let n = self.databases.fetch_add(1, Ordering::Relaxed);
        match backend {
            Backend::Sqlite => {
                let file = self.work.join(format!("{n}-{label}.db"));
                Ok(Database {
                    url: format!("sqlite://{}", file.display()),
                    sqlite_file: Some(file),
                })
            }
            Backend::Postgres => {
                let pg = self.pg.as_ref().context("PostgreSQL is not available")?;
                Ok(Database {
                    url: pg.create_database(label).await?,
                    sqlite_file: None,
                })
            }
        }
    }

    fn spec(&self, db: &Database, kind: ServerKind, label: &str) -> NodeSpec {
        NodeSpec {
            adieu: self.adieu.clone(),
            database_url: db.url.clone(),
            cache: kind.cache,
            log: self.work.join(format!("{label}.log")),
        }
    }

    async fn start_nodes(
        &self,
        db: &Database,
        kind: ServerKind,
        label: &str,
        n: usize,
    ) -> anyhow::Result<Vec<Node>> {
        let mut nodes = Vec::with_capacity(n);
        // One after the other, so that only the first applies the migrations.
        for i in 0..n {
            let spec = self.spec(db, kind, &format!("{label}-node{i}"));
            nodes.push(Node::start(&spec).await?);
        }
        if let Err(e) = self.wait_ready(&nodes).await {
            stop_all(nodes).await;
            return Err(e);
        }
        Ok(nodes)
    }

    /// Waits (at most 30 s) until every node's `/status` answers 200 and, if it has a cache,
    /// serves from it: figures of a node still resyncing would measure start-up.
    async fn wait_ready(&self, nodes: &[Node]) -> anyhow::Result<()> {
        let deadline = Instant::now() + Duration::from_secs(30);
        for node in nodes {
            loop {
                let cache = self.api.cache_state(node.admin).await;
                if cache.as_ref().is_ok_and(|c| c != "resyncing") {
                    break;
                }
                if Instant::now() >= deadline {
                    let state = match cache {
                        Ok(c) => format!("cache {c}"),
                        Err(e) => format!("{e:#}"),
                    };
                    bail!("node {} not ready after 30 s ({state})", node.addr);
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        Ok(())
    }

    async fn real_tokens(&self, node: &Node, user: &str, n: usize) -> anyhow::Result<Vec<String>> {
        self.api.register(node.addr, user).await?;
        let mut tokens = Vec::with_capacity(n);
        for _ in 0..n {
            let t = self.api.login(node.addr, user).await?;
            tokens.push(t.access_token.expose().to_owned());
        }
        Ok(tokens)
    }
}

async fn stop_all(nodes: Vec<Node>) {
    for node in nodes {
        node.stop().await;
    }
}

/// CPU used by PostgreSQL since `before`, in cores; NaN for SQLite, where it plays no part.
fn pg_cores(ctx: &Ctx, kind: ServerKind, before: u64, elapsed: Duration) -> f64 {
    if kind.backend == Backend::Sqlite {
        return f64::NAN;
    }
    cores_used(
        Some(before),
        Some(watch::postgres_ticks()),
        ctx.ticks_per_sec,
        elapsed,
    )
}

/// CPU used between two readings, in cores.
fn cores_used(before: Option<u64>, after: Option<u64>, ticks: u64, elapsed: Duration) -> f64 {
    match (before, after) {
        (Some(b), Some(a)) => (a - b) as f64 / ticks as f64 / elapsed.as_secs_f64(),
        _ => f64::NAN,
    }
}

// ---------------------------------------------------------------------------------------
// 1. Check throughput

/// Measurement 1 for one configuration.
pub(crate) async fn checks(ctx: &mut Ctx, kind: ServerKind) -> anyhow::Result<CheckRow> {
    let label = format!("checks-{}", slug(kind));
    let db = ctx.fresh_database(kind.backend, &slug(kind)).await?;
    let nodes = ctx.start_nodes(&db, kind, &label, 1).await?;
    let result = checks_on(ctx, kind, &nodes[0]).await;
    stop_all(nodes).await;
    result
}

async fn checks_on(ctx: &mut Ctx, kind: ServerKind, node: &Node) -> anyhow::Result<CheckRow> {
    let o = ctx.opts.clone();
    let cache = ctx.api.cache_state(node.admin).await?;
    // Every build with an operators' listener answers `/healthz` this way.
    note_once(
        ctx,
        "`/healthz` in this build answers from a readiness flag that a background task \
         keeps (no database query per request), so measurement 1 compares token checks \
         with an endpoint that does no storage work at all.",
    );
    let tokens = ctx.real_tokens(node, "bench-check", 4).await?;
    let hello = Hello::start().await?;
    // Warm-up: connections, caches, the database's buffers.
    closed_loop_get(hello.addr, "/", &[], o.connections, o.warmup).await?;
    closed_loop_get(node.addr, "/healthz", &[], o.connections, o.warmup).await?;
    closed_loop_get(node.addr, "/api/me", &tokens, o.connections, o.warmup).await?;
    let mut runs = Vec::with_capacity(o.runs);
    for run in 0..o.runs {
        let mut r = CheckRun::default();
        // Rotate the order, so that a slow drift of the machine favours none of the three.
        let mut order = [Target::Hello, Target::Healthz, Target::Me];
        order.rotate_left(run % 3);
        for target in order {
            let (addr, path, toks): (_, &str, &[String]) = match target {
                Target::Hello => (hello.addr, "/", &[]),
                Target::Healthz => (node.addr, "/healthz", &[]),
                Target::Me => (node.addr, "/api/me", &tokens),
            };
            let server_before = node.cpu_ticks();
            let own_before = node::own_cpu_ticks();
            let pg_before = watch::postgres_ticks();
            let res = closed_loop_get(addr, path, toks, o.connections, o.duration).await?;
            r.errors += res.not_ok + res.transport_errors;
            match target {
                Target::Me => {
                    r.me_per_sec = res.ok_per_sec();
                    r.me_latency = Latency::of(&res.latencies);
                    r.server_cores = cores_used(
                        server_before,
                        node.cpu_ticks(),
                        ctx.ticks_per_sec,
                        res.elapsed,
                    );
                    r.generator_cores = cores_used(
                        own_before,
                        node::own_cpu_ticks(),
                        ctx.ticks_per_sec,
                        res.elapsed,
                    );
                    r.postgres_cores = pg_cores(ctx, kind, pg_before, res.elapsed);
                }
                Target::Healthz => r.healthz_per_sec = res.ok_per_sec(),
                Target::Hello => r.hello_per_sec = res.ok_per_sec(),
            }
        }
        eprintln!(
            "  {} run {}: hello {:.0}/s, /healthz {:.0}/s, /api/me {:.0}/s, /api/me ÷ hello {:.2}",
            kind.label(),
            run + 1,
            r.hello_per_sec,
            r.healthz_per_sec,
            r.me_per_sec,
            r.me_of_hello()
        );
        runs.push(r);
    }
    let label = match kind.cache {
        None => format!("{} (cache: {cache})", kind.label()),
        Some(_) => kind.label(),
    };
    Ok(CheckRow {
        label,
        // The target is for a node that answers checks from its cache.
        target: kind.cache == Some(true) || cache != "off",
        runs,
    })
}

/// What one load of measurement 1 is aimed at.
#[derive(Debug, Clone, Copy)]
enum Target {
    Hello,
    Healthz,
    Me,
}

/// The ceiling: `adieu-bench-hello` (next to this program), a bare axum hello world with the
/// server's runtime and HTTP settings, as a process of its own; stopped when dropped.
struct Hello {
    addr: std::net::SocketAddr,
    _child: tokio::process::Child,
}

impl Hello {
    async fn start() -> anyhow::Result<Self> {
        use tokio::io::AsyncBufReadExt;
        let binary = std::env::current_exe()
            .context("finding this program")?
            .with_file_name("adieu-bench-hello");
        let mut child = tokio::process::Command::new(&binary)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| {
                format!(
                    "starting {} (build it with `cargo build --release -p adieu-bench`)",
                    binary.display()
                )
            })?;
        let stdout = child.stdout.take().context("no stdout")?;
        let mut lines = tokio::io::BufReader::new(stdout).lines();
        let line = tokio::time::timeout(Duration::from_secs(10), lines.next_line())
            .await
            .context("the hello server did not start within 10 s")??
            .context("the hello server exited at once")?;
        let addr = line
            .strip_prefix("hello listening on http://")
            .and_then(|a| a.trim().parse().ok())
            .with_context(|| format!("unexpected first line of the hello server: {line:?}"))?;
        Ok(Self {
            addr,
            _child: child,
        })
    }
}

// ---------------------------------------------------------------------------------------
// 2. Logout latency

/// Measurement 2 for one configuration and number of nodes.
pub(crate) async fn logouts(
    ctx: &mut Ctx,
    kind: ServerKind,
    nodes_n: usize,
) -> anyhow::Result<LogoutRow> {
    let label = format!("logout-{}-{nodes_n}", slug(kind));
    let db = ctx.fresh_database(kind.backend, &label).await?;
    let nodes = ctx.start_nodes(&db, kind, &label, nodes_n).await?;
    let result = logouts_on(ctx, kind, &db, &nodes).await;
    stop_all(nodes).await;
    result
}

async fn logouts_on(
    ctx: &Ctx,
    kind: ServerKind,
    db: &Database,
    nodes: &[Node],
) -> anyhow::Result<LogoutRow> {
    let o = &ctx.opts;
    let seeder = Seeder::open(&db.url).await?;
    let needed = (o.runs * o.logouts) as u64;
    seeder.seed(0, needed).await?;
    let tokens: Vec<String> = (0..needed).map(|i| seeder.access_token(i)).collect();
    seeder.close().await;
    let mut conns = Vec::with_capacity(nodes.len());
    for node in nodes {
        conns.push(Conn::connect(node.addr).await?);
    }
    let mut next = tokens.iter();
    let mut runs = Vec::with_capacity(o.runs);
    for run in 0..o.runs {
        let mut latencies = Vec::with_capacity(o.logouts);
        let (mut accepted, mut checks) = (0, 0);
        for _ in 0..o.logouts {
            let auth = http::bearer(next.next().context("ran out of seeded sessions")?);
            for (i, conn) in conns.iter_mut().enumerate() {
                let a = conn.send(http::get("/api/me", Some(&auth))).await?;
                if !a.status.is_success() {
                    bail!(
                        "node {i} refused a live seeded session before logout: {}",
                        a.status
                    );
                }
            }
            let started = Instant::now();
            let a = conns[0]
                .send(http::post("/api/logout", Some(&auth), Bytes::new()))
                .await?;
            let took = started.elapsed();
            if !a.status.is_success() {
                bail!("logout answered {}", a.status);
            }
            latencies.push(took);
            for conn in &mut conns {
                let a = conn.send(http::get("/api/me", Some(&auth))).await?;
                checks += 1;
                if a.status.is_success() {
                    accepted += 1;
                }
            }
        }
        let latency = Latency::of(&latencies).context("no logouts")?;
        let max = latencies.iter().copied().max().unwrap_or_default();
        eprintln!(
            "  {} × {} run {}: p50 {:.2} ms, p99 {:.2} ms, accepted after logout {accepted}",
            kind.label(),
            nodes.len(),
            run + 1,
            latency.p50.as_secs_f64() * 1e3,
            latency.p99.as_secs_f64() * 1e3,
        );
        runs.push(LogoutRun {
            latency,
            max,
            samples: latencies.len(),
            accepted_after_logout: accepted,
            checks_after_logout: checks,
        });
    }
    let label = if nodes.len() == 1 {
        format!("{}, 1 node", kind.label())
    } else {
        format!("{}, {} nodes", kind.label(), nodes.len())
    };
    Ok(LogoutRow { label, runs })
}

// ---------------------------------------------------------------------------------------
// 3. Logins

/// One run of the in-process argon2id limits: the physical limit (one thread per core,
/// each hashing into memory allocated once), then the rate through the server's own
/// [`PasswordHasher`] as the server runs it (bounded, on the blocking pool), both without HTTP.
async fn argon2_limits(ctx: &Ctx, duration: Duration) -> anyhow::Result<(f64, f64)> {
    let threads = ctx.cores;
    let raw = tokio::task::spawn_blocking(move || raw_argon2_rate(threads, duration))
        .await
        .context("argon2id threads panicked")??;
    let through_hasher = hasher_rate(ctx.cores, duration).await?;
    Ok((raw, through_hasher))
}

/// Hashes per second on `threads` threads at the default parameters, memory allocated once.
fn raw_argon2_rate(threads: usize, duration: Duration) -> anyhow::Result<f64> {
    let p = Argon2Params::default();
    let params = argon2::Params::new(p.memory_kib, p.iterations, p.parallelism, Some(32))
        .map_err(|e| anyhow::anyhow!("argon2 parameters: {e}"))?;
    let start = Instant::now();
    let deadline = start + duration;
    let total = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|t| {
                let params = params.clone();
                scope.spawn(move || {
                    let argon2 = argon2::Argon2::new(
                        argon2::Algorithm::Argon2id,
                        argon2::Version::V0x13,
                        params.clone(),
                    );
                    let mut blocks = vec![argon2::Block::default(); params.block_count()];
                    let (mut out, salt) = ([0u8; 32], [t as u8; 16]);
                    let mut n = 0u64;
                    while Instant::now() < deadline {
                        argon2.hash_password_into_with_memory(
                            api::PASSWORD.as_bytes(),
                            &salt,
                            &mut out,
                            &mut blocks,
                        )?;
                        n += 1;
                    }
                    Ok::<u64, argon2::Error>(n)
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| w.join().expect("argon2id thread panicked"))
            .sum::<Result<u64, _>>()
    })
    .map_err(|e| anyhow::anyhow!("argon2id: {e}"))?;
    Ok(total as f64 / start.elapsed().as_secs_f64())
}

/// Verifications per second through the server's hasher, one hash per core at once.
async fn hasher_rate(cores: usize, duration: Duration) -> anyhow::Result<f64> {
    let hasher = PasswordHasher::new(Argon2Params::default(), cores, 4 * cores)
        .context("building the hasher")?;
    let password = Secret::new(api::PASSWORD);
    let phc: Arc<str> = hasher.hash(&password).await?.into();
    let start = Instant::now();
    let deadline = start + duration;
    let mut workers = tokio::task::JoinSet::new();
    // Twice as many callers as cores, so that a core never waits for the next hash.
    for _ in 0..2 * cores {
        let (hasher, password, phc) = (hasher.clone(), password.clone(), phc.clone());
        workers.spawn(async move {
            let mut n = 0u64;
            while Instant::now() < deadline {
                if hasher.verify(&password, Some(&phc)).await? {
                    n += 1;
                }
            }
            Ok::<_, adieu_core::HashError>(n)
        });
    }
    let mut total = 0;
    while let Some(n) = workers.join_next().await {
        total += n??;
    }
    Ok(total as f64 / start.elapsed().as_secs_f64())
}

/// Measurement 3 below the limit, then above it, for one configuration.
///
/// Each run measures the in-process limit and then the HTTP logins, so that the two figures
/// of a run come from the same minute: on a shared or virtual machine the speed of a core
/// drifts by more than the 10 % the target allows.
pub(crate) async fn logins(
    ctx: &mut Ctx,
    kind: ServerKind,
) -> anyhow::Result<(LoginRow, OverloadRow)> {
    let label = format!("logins-{}", slug(kind));
    let db = ctx.fresh_database(kind.backend, &label).await?;
    let nodes = ctx.start_nodes(&db, kind, &label, 1).await?;
    let result = logins_on(ctx, kind, &nodes[0]).await;
    stop_all(nodes).await;
    result
}

async fn logins_on(
    ctx: &Ctx,
    kind: ServerKind,
    node: &Node,
) -> anyhow::Result<(LoginRow, OverloadRow)> {
    let o = &ctx.opts;
    let user = "bench-login";
    ctx.api.register(node.addr, user).await?;
    // Unmeasured, like every other warm-up: the first seconds of a burst run slower.
    argon2_limits(ctx, o.warmup).await?;
    login_loop(ctx, node, user, o.warmup).await;
    let mut row = LoginRow {
        label: kind.label(),
        concurrency: o.login_clients,
        runs: Vec::new(),
    };
    for run in 0..o.runs {
        let (limit, hasher) = argon2_limits(ctx, o.duration).await?;
        let (server_before, own_before) = (node.cpu_ticks(), node::own_cpu_ticks());
        let pg_before = watch::postgres_ticks();
        let started = Instant::now();
        let mut r = login_loop(ctx, node, user, o.login_duration).await;
        let elapsed = started.elapsed();
        r.server_cores = cores_used(server_before, node.cpu_ticks(), ctx.ticks_per_sec, elapsed);
        r.generator_cores = cores_used(
            own_before,
            node::own_cpu_ticks(),
            ctx.ticks_per_sec,
            elapsed,
        );
        r.postgres_cores = pg_cores(ctx, kind, pg_before, elapsed);
        r.limit = limit;
        r.hasher = hasher;
        eprintln!(
            "  {} run {}: limit {limit:.1}/s, server's hasher {hasher:.1}/s, HTTP logins {:.1}/s \
             ({:.0} % of the limit), {} errors",
            kind.label(),
            run + 1,
            r.per_sec,
            100.0 * r.per_sec / limit,
            r.errors
        );
        row.runs.push(r);
    }
    let limit = crate::stats::Spread::of(row.runs.iter().map(|r| r.limit))
        .context("no limit measured")?
        .median;
    let mut over = OverloadRow {
        label: kind.label(),
        runs: Vec::new(),
    };
    for run in 0..o.overload_runs {
        let r = overload(ctx, node, user, o.overload_factor * limit).await?;
        eprintln!(
            "  {} overload run {}: offered {:.1}/s, 200: {}, 429: {}, timeouts: {}, errors: {}",
            kind.label(),
            run + 1,
            r.offered_per_sec,
            r.ok,
            r.too_many,
            r.timeouts,
            r.transport_errors + r.other_status
        );
        over.runs.push(r);
        // Let the queue drain, so that each run starts from an idle server.
        wait_idle(ctx, node, user).await;
    }
    Ok((row, over))
}

/// `login_clients` clients log in back to back for `duration`.
async fn login_loop(ctx: &Ctx, node: &Node, user: &str, duration: Duration) -> LoginRun {
    let start = Instant::now();
    let deadline = start + duration;
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..ctx.opts.login_clients {
        let (api, addr, user) = (ctx.api.clone(), node.addr, user.to_owned());
        workers.spawn(async move {
            let (mut lat, mut errors) = (Vec::new(), 0u64);
            while Instant::now() < deadline {
                let t = Instant::now();
                match api.login_raw(addr, &user).await {
                    Ok(r) if r.status() == reqwest::StatusCode::OK => {
                        let _ = r.bytes().await;
                        lat.push(t.elapsed());
                    }
                    _ => errors += 1,
                }
            }
            (lat, errors)
        });
    }
    let (mut lat, mut errors) = (Vec::new(), 0);
    while let Some(Ok((l, e))) = workers.join_next().await {
        lat.extend(l);
        errors += e;
    }
    LoginRun {
        per_sec: lat.len() as f64 / start.elapsed().as_secs_f64(),
        latency: Latency::of(&lat),
        errors,
        ..LoginRun::default()
    }
}

enum Outcome {
    Ok(Duration),
    TooMany {
        latency: Duration,
        retry_after: bool,
    },
    Other,
    Timeout,
    Transport,
}

/// Logins arriving at `rate` per second for the login duration, answered or not.
async fn overload(ctx: &Ctx, node: &Node, user: &str, rate: f64) -> anyhow::Result<OverloadRun> {
    let o = &ctx.opts;
    let interval = Duration::from_secs_f64(1.0 / rate.max(0.001));
    let in_flight = Arc::new(Semaphore::new(o.max_in_flight));
    let (tx, mut rx) = mpsc::unbounded_channel();
    let mut run = OverloadRun {
        offered_per_sec: rate,
        ..OverloadRun::default()
    };
    let start = tokio::time::Instant::now();
    let mut k: u32 = 0;
    loop {
        let at = start + interval * k;
        if at >= start + o.login_duration {
            break;
        }
        k += 1;
        tokio::time::sleep_until(at).await;
        let Ok(permit) = in_flight.clone().try_acquire_owned() else {
            run.not_sent += 1;
            continue;
        };
        run.sent += 1;
        let (api, addr, user, tx) = (ctx.api.clone(), node.addr, user.to_owned(), tx.clone());
        tokio::spawn(async move {
            let t = Instant::now();
            let outcome = match api.login_raw(addr, &user).await {
                Ok(r) => {
                    let status = r.status();
                    let retry_after = r.headers().contains_key(reqwest::header::RETRY_AFTER);
                    let body = r.bytes().await;
                    match (status.as_u16(), body) {
                        (200, Ok(_)) => Outcome::Ok(t.elapsed()),
                        (429, Ok(_)) => Outcome::TooMany {
                            latency: t.elapsed(),
                            retry_after,
                        },
                        (_, Err(e)) if e.is_timeout() => Outcome::Timeout,
                        (_, Err(_)) => Outcome::Transport,
                        _ => Outcome::Other,
                    }
                }
                Err(e) if e.is_timeout() => Outcome::Timeout,
                Err(_) => Outcome::Transport,
            };
            let _ = tx.send(outcome);
            drop(permit);
        });
    }
    drop(tx);
    let (mut ok_lat, mut too_many_lat) = (Vec::new(), Vec::new());
    // Ends when every request has finished, each bounded by the client's timeout.
    while let Some(outcome) = rx.recv().await {
        match outcome {
            Outcome::Ok(d) => ok_lat.push(d),
            Outcome::TooMany {
                latency,
                retry_after,
            } => {
                too_many_lat.push(latency);
                run.with_retry_after += u64::from(retry_after);
            }
            Outcome::Other => run.other_status += 1,
            Outcome::Timeout => run.timeouts += 1,
            Outcome::Transport => run.transport_errors += 1,
        }
    }
    run.ok = ok_lat.len() as u64;
    run.too_many = too_many_lat.len() as u64;
    run.ok_per_sec = run.ok as f64 / start.elapsed().as_secs_f64();
    run.ok_latency = Latency::of(&ok_lat);
    run.too_many_latency = Latency::of(&too_many_lat);
    Ok(run)
}

/// Waits (bounded) until a login is admitted again.
async fn wait_idle(ctx: &Ctx, node: &Node, user: &str) {
    for _ in 0..50 {
        let admitted = ctx.api.login_raw(node.addr, user).await;
        if admitted.is_ok_and(|r| r.status() == reqwest::StatusCode::OK) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

// ---------------------------------------------------------------------------------------
// 4. Scale

/// Measurement 4 for one configuration, at every size in `scale_sizes` (ascending).
pub(crate) async fn scale(ctx: &mut Ctx, kind: ServerKind) -> anyhow::Result<Vec<ScaleRow>> {
    let label = format!("scale-{}", slug(kind));
    let db = ctx.fresh_database(kind.backend, &label).await?;
    // A first start creates the schema; the node is restarted after each bulk load so that
    // its memory is measured from a fresh start.
    let nodes = ctx.start_nodes(&db, kind, &label, 1).await?;
    stop_all(nodes).await;
    let seeder = Seeder::open(&db.url).await?;
    let mut rows = Vec::new();
    let mut seeded = 0;
    let mut rng = SplitMix64(u64::from_le_bytes(adieu_core::random_bytes::<8>()));
    for &size in &ctx.opts.scale_sizes {
        let started = Instant::now();
        eprintln!("  {}: seeding sessions {seeded}..{size}", kind.label());
        seeder.seed(seeded, size).await?;
        seeded = size;
        let seed_secs = started.elapsed().as_secs_f64();
        let db_bytes = seeder.size_bytes(db.sqlite_file.as_deref()).await;
        let nodes = ctx.start_nodes(&db, kind, &label, 1).await?;
        let result = scale_on(ctx, kind, &nodes[0], &seeder, size, &mut rng).await;
        stop_all(nodes).await;
        let mut row = result?;
        row.seed_secs = seed_secs;
        row.db_bytes = db_bytes;
        rows.push(row);
    }
    seeder.close().await;
    Ok(rows)
}

async fn scale_on(
    ctx: &Ctx,
    kind: ServerKind,
    node: &Node,
    seeder: &Seeder,
    size: u64,
    rng: &mut SplitMix64,
) -> anyhow::Result<ScaleRow> {
    let o = &ctx.opts;
    let hot = ctx
        .real_tokens(node, &format!("bench-scale-{size}"), 4)
        .await?;
    // Taken after the logins: their argon2id memory (19 MiB each, which the allocator keeps)
    // would otherwise dwarf everything the sessions themselves cost.
    let mut row = ScaleRow {
        label: kind.label(),
        sessions: size,
        rss_start_kib: node.rss_kib(),
        ..ScaleRow::default()
    };
    let hot_auth: Vec<_> = hot.iter().map(|t| http::bearer(t)).collect();
    let mut conn = Conn::connect(node.addr).await?;
    // The last seeded session proves the seeding right, and is never a cold sample.
    let probe = seeder.access_token(size - 1);
    let a = conn
        .send(http::get("/api/me", Some(&http::bearer(&probe))))
        .await?;
    if !a.status.is_success() {
        bail!(
            "the node refused a seeded session ({}): seeding is broken",
            a.status
        );
    }
    for auth in &hot_auth {
        conn.send(http::get("/api/me", Some(auth))).await?;
    }
    let wanted = (o.runs * o.scale_samples).min(size.saturating_sub(1) as usize);
    let cold = pick_distinct(rng, size - 1, wanted);
    let per_run = (wanted / o.runs.max(1)).max(1);
    for (run, cold_run) in cold.chunks(per_run).take(o.runs).enumerate() {
        let mut hot_lat = Vec::with_capacity(o.scale_samples);
        for i in 0..o.scale_samples {
            let t = Instant::now();
            let a = conn
                .send(http::get("/api/me", Some(&hot_auth[i % hot_auth.len()])))
                .await?;
            if a.status.is_success() {
                hot_lat.push(t.elapsed());
            } else {
                row.errors += 1;
            }
        }
        let mut cold_lat = Vec::with_capacity(cold_run.len());
        for &i in cold_run {
            let auth = http::bearer(&seeder.access_token(i));
            let t = Instant::now();
            let a = conn.send(http::get("/api/me", Some(&auth))).await?;
            if a.status.is_success() {
                cold_lat.push(t.elapsed());
            } else {
                row.errors += 1;
            }
        }
        let (h, c) = (Latency::of(&hot_lat), Latency::of(&cold_lat));
        eprintln!(
            "  {} at {size} run {}: hot p50 {:.2} ms, cold p50 {:.2} ms",
            kind.label(),
            run + 1,
            h.map_or(f64::NAN, |l| l.p50.as_secs_f64() * 1e3),
            c.map_or(f64::NAN, |l| l.p50.as_secs_f64() * 1e3),
        );
        row.hot.extend(h);
        row.cold.extend(c);
    }
    row.rss_end_kib = node.rss_kib();
    Ok(row)
}

/// A small, seedable generator: enough to pick sample indices, no cryptography needed.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

/// `n` distinct numbers below `bound` (or all of them when `n >= bound`), in random order.
fn pick_distinct(rng: &mut SplitMix64, bound: u64, n: usize) -> Vec<u64> {
    if n as u64 >= bound {
        return (0..bound).collect();
    }
    let mut seen = HashSet::with_capacity(n);
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        let x = rng.next() % bound;
        if seen.insert(x) {
            out.push(x);
        }
    }
    out
}

fn slug(kind: ServerKind) -> String {
    let backend = match kind.backend {
        Backend::Sqlite => "sqlite",
        Backend::Postgres => "pg",
    };
    match kind.cache {
        None => backend.to_owned(),
        Some(true) => format!("{backend}_cache"),
        Some(false) => format!("{backend}_nocache"),
    }
}

fn note_once(ctx: &mut Ctx, note: &str) {
    if !ctx.notes.iter().any(|n| n == note) {
        ctx.notes.push(note.to_owned());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picked_samples_are_distinct_and_in_range() {
        let mut rng = SplitMix64(42);
        let picks = pick_distinct(&mut rng, 1000, 500);
        assert_eq!(picks.len(), 500);
        assert_eq!(picks.iter().collect::<HashSet<_>>().len(), 500);
        assert!(picks.iter().all(|&x| x < 1000));
        assert_eq!(pick_distinct(&mut rng, 3, 10), vec![0, 1, 2]);
    }
}
