//! The measurements, one file each, each rendering its own section; and what they share: the
//! set-ups they compare, the nodes started for each (and always stopped again), the few set-up
//! calls, and the closed-loop comparison of measurements 1, 6 and 7.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use adieu_harness::procfs::{self, TICKS_PER_SEC};
use adieu_harness::{Postgres, Process, sibling};
use anyhow::{Context, bail};
use serde_json::Value;

pub(crate) mod checks;
pub(crate) mod hangup;
pub(crate) mod introspect;
pub(crate) mod logins;
pub(crate) mod logouts;
pub(crate) mod proxy;
pub(crate) mod scale;

/// What most measurements use.
mod prelude {
    pub(crate) use super::{Ctx, Kind, compare, errors, node_pg_self};
    pub(crate) use crate::http::{Conn, MakeRequest, Rate, bearer, request};
    pub(crate) use crate::report::{Section, col, lat, ms, ratio_target, spread, table, verdict};
    pub(crate) use crate::stats::{Latency, Spread};
    pub(crate) use adieu_harness::Process;
    pub(crate) use std::sync::Arc;
    pub(crate) use std::time::{Duration, Instant};
}

use crate::Opts;
use crate::http::{Conn, MakeRequest, Rate, Req, closed_loop, credentials, json, request};
use crate::report::{Target, col, lat, ratio_target, spread, table, verdict};
use crate::stats::Spread;

/// A login or set-up request that takes longer counts as a timeout.
pub(crate) const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// Keep-alive connections of a closed-loop load (measurements 1, 6 and 7).
pub(crate) const CONNECTIONS: usize = 32;

/// The flags that turn the server's rate limits off, which would turn a load test into a
/// rate-limit test. Everything else stays at the server's defaults.
pub(crate) const LIMITS_OFF: &str = "--login-attempts-per-user 0 \
    --login-attempts-per-user-total 0 --login-attempts-per-ip 0 --registrations-per-ip 0";

/// A node: the `adieu` next to this program (the same build), serving on port 0 with the
/// server's defaults except the rate limits, an operators' listener, and `cache` if given.
async fn node(url: &str, cache: Option<bool>, log: &Path) -> anyhow::Result<Process> {
    let mut args = vec!["--admin-listen", "127.0.0.1:0", "--database-url", url];
    args.extend(LIMITS_OFF.split_whitespace());
    if let Some(on) = cache {
        args.extend(["--cache", if on { "on" } else { "off" }]);
    }
    Process::serve(&sibling("adieu")?, &args, log).await
}

/// A node's operators' listener (`GET /status`, the admin API).
pub(crate) fn admin(node: &Process) -> SocketAddr {
    node.addrs()[1]
}

/// The ceiling: `adieu-bench-hello`, a bare axum hello world with the server's runtime, HTTP
/// settings and allocator, as a process of its own.
pub(crate) async fn hello(log: &Path) -> anyhow::Result<Process> {
    let cmd = tokio::process::Command::new(sibling("adieu-bench-hello")?);
    Process::start(cmd, &["hello listening on http://"], log).await
}

/// A backend (`true`: PostgreSQL) and a cache setting (`None`: the server's default).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Kind(pub(crate) bool, pub(crate) Option<bool>);

impl Kind {
    pub(crate) const SQLITE: Self = Self(false, None);

    /// How the report names this configuration.
    pub(crate) fn label(self) -> String {
        let backend = if self.0 { "PostgreSQL" } else { "SQLite" };
        match self.1 {
            None => backend.to_owned(),
            Some(on) => format!("{backend}, cache {}", if on { "on" } else { "off" }),
        }
    }
}

/// What every measurement needs.
pub(crate) struct Ctx {
    pub(crate) pg: Option<Postgres>,
    pub(crate) work: PathBuf,
    pub(crate) opts: Opts,
    pub(crate) cores: usize,
    pub(crate) notes: Mutex<Vec<String>>,
    /// Databases and node logs made so far, for their names.
    pub(crate) made: AtomicUsize,
}

impl Ctx {
    /// `full`, or `quick` in a `--quick` run.
    pub(crate) fn pick<T>(&self, full: T, quick: T) -> T {
        if self.opts.quick { quick } else { full }
    }

    /// Length of one closed-loop load of a comparison.
    pub(crate) fn duration(&self) -> Duration {
        self.pick(Duration::from_secs(3), Duration::from_secs(1))
    }

    /// Unmeasured load before measuring.
    pub(crate) fn warmup(&self) -> Duration {
        self.pick(Duration::from_secs(1), Duration::from_millis(300))
    }

    /// The set-ups to compare, one node each: SQLite, and PostgreSQL with the cache (and
    /// without).
    pub(crate) fn kinds(&self, with_cache_off: bool) -> Vec<(Kind, usize)> {
        let mut kinds = vec![(Kind::SQLITE, 1)];
        if self.pg.is_some() {
            kinds.push((Kind(true, Some(true)), 1));
            if with_cache_off {
                kinds.push((Kind(true, Some(false)), 1));
            }
        }
        kinds
    }

    /// A caveat for the report's notes.
    pub(crate) fn note(&self, note: String) {
        self.notes.lock().expect("not poisoned").push(note);
    }

    /// A new file name in the working directory.
    pub(crate) fn file(&self, suffix: &str) -> PathBuf {
        let n = self.made.fetch_add(1, Ordering::Relaxed);
        self.work.join(format!("{n}{suffix}"))
    }

    /// The one driver of the measurements: for each set-up (a kind and a number of nodes), a
    /// fresh database (its URL, and for SQLite its file), its nodes started, `f` run on them,
    /// and the nodes stopped again. The first set-up that fails fails the measurement.
    pub(crate) async fn each<T>(
        &self,
        setups: Vec<(Kind, usize)>,
        f: impl AsyncFn(Kind, &(String, Option<PathBuf>), &[Process]) -> anyhow::Result<T>,
    ) -> anyhow::Result<Vec<T>> {
        let mut rows = Vec::new();
        for (kind, n) in setups {
            let db = match &self.pg {
                _ if !kind.0 => {
                    let file = self.file(".db");
                    (format!("sqlite://{}", file.display()), Some(file))
                }
                Some(pg) => (pg.create_database().await?, None),
                None => bail!("PostgreSQL is not available"),
            };
            let row = self.with_nodes(&db.0, kind, n, async |nodes| f(kind, &db, nodes).await);
            rows.push(row.await.with_context(|| format!("on {}", kind.label()))?);
        }
        Ok(rows)
    }

    /// Starts `n` nodes on the database at `url`, one after the other (so that only the first
    /// migrates), waits (at most 30 s) until each is ready and its cache, if any, serves (figures
    /// of a node still resyncing would measure start-up), runs `f` and stops them, whatever `f`
    /// returned.
    pub(crate) async fn with_nodes<T>(
        &self,
        url: &str,
        kind: Kind,
        n: usize,
        f: impl AsyncFnOnce(&[Process]) -> anyhow::Result<T>,
    ) -> anyhow::Result<T> {
        let mut nodes = Vec::with_capacity(n);
        // A node that fails to start is killed with the others as `nodes` is dropped.
        for _ in 0..n {
            nodes.push(node(url, kind.1, &self.file("-node.log")).await?);
        }
        for node in &nodes {
            let deadline = Instant::now() + Duration::from_secs(30);
            loop {
                let cache = self.cache_state(node).await;
                if cache.as_ref().is_ok_and(|c| c != "resyncing") {
                    break;
                }
                if Instant::now() >= deadline {
                    let why = cache.map_or_else(|e| format!("{e:#}"), |c| format!("cache {c}"));
                    bail!("node {} not ready after 30 s ({why})", node.addr());
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        let result = f(&nodes).await;
        for node in nodes {
            node.stop().await;
        }
        result
    }

    /// Sends one set-up request on a connection of its own, expecting `expected` within the
    /// request timeout; the JSON answer (`null` if it has none).
    pub(crate) async fn call(
        &self,
        addr: SocketAddr,
        req: Req,
        expected: u16,
    ) -> anyhow::Result<Value> {
        let path = req.uri().path().to_owned();
        let answer = async { Conn::open(addr).await?.send(req).await };
        let answer = tokio::time::timeout(REQUEST_TIMEOUT, answer).await;
        let answer = answer.context("timed out")?.context(path.clone())?;
        if answer.status() != expected {
            let body = String::from_utf8_lossy(answer.body());
            bail!("{path} answered {}: {body}", answer.status());
        }
        Ok(serde_json::from_slice(answer.body()).unwrap_or_default())
    }

    /// The cache state (`off`, `serving` or `resyncing`) from `GET /status` on a node's
    /// operators' listener, which answers 503 while the node is not ready.
    pub(crate) async fn cache_state(&self, node: &Process) -> anyhow::Result<String> {
        let status = self.call(admin(node), request("GET /status", None, None), 200);
        text(&status.await?, "cache")
    }

    /// Registers `user`.
    pub(crate) async fn register(&self, node: &Process, user: &str) -> anyhow::Result<()> {
        let req = json("POST /api/register", None, credentials(user));
        self.call(node.addr(), req, 201).await.map(drop)
    }

    /// Logs `user` in: the access token.
    pub(crate) async fn login(&self, node: &Process, user: &str) -> anyhow::Result<String> {
        let req = json("POST /api/login", None, credentials(user));
        text(&self.call(node.addr(), req, 200).await?, "access_token")
    }

    /// Registers `user` and logs it in `n` times: access tokens of real logins.
    pub(crate) async fn real_tokens(
        &self,
        node: &Process,
        user: &str,
        n: usize,
    ) -> anyhow::Result<Vec<String>> {
        self.register(node, user).await?;
        let mut tokens = Vec::with_capacity(n);
        for _ in 0..n {
            tokens.push(self.login(node, user).await?);
        }
        Ok(tokens)
    }

    /// A closed loop of `connections` sending `make(i)` to `addr` for `duration`, charged the
    /// cores that each process `ticks` reads used meanwhile (NaN when unread).
    pub(crate) async fn load(
        &self,
        (addr, connections, duration): (SocketAddr, usize, Duration),
        make: MakeRequest,
        ticks: &impl Fn() -> Vec<Option<u64>>,
    ) -> anyhow::Result<Rate> {
        let (before, started) = (ticks(), Instant::now());
        let mut rate = closed_loop(addr, connections, duration, make).await?;
        let secs = started.elapsed().as_secs_f64() * TICKS_PER_SEC;
        let used = before.iter().zip(ticks()).map(|(b, a)| match (b, a) {
            (Some(b), Some(a)) => a.saturating_sub(*b) as f64 / secs,
            _ => f64::NAN,
        });
        rate.cores = used.collect();
        Ok(rate)
    }
}

/// A string field of a JSON answer.
pub(crate) fn text(answer: &Value, field: &str) -> anyhow::Result<String> {
    let text = answer[field].as_str().map(str::to_owned);
    text.with_context(|| format!("no {field} in the answer {answer}"))
}

/// The CPU ticks of a node, of PostgreSQL (if `kind` runs on it) and of this process.
pub(crate) fn node_pg_self(node: &Process, kind: Kind) -> impl Fn() -> Vec<Option<u64>> {
    move || {
        vec![
            node.ticks(),
            kind.0.then(procfs::postgres_ticks),
            procfs::ticks("self"),
        ]
    }
}

/// The errors of every load of every run.
pub(crate) fn errors(runs: &[Vec<Rate>]) -> String {
    let errors: u64 = runs.iter().flatten().map(|r| r.errors).sum();
    errors.to_string()
}

/// Measurements 1, 6 and 7: the same closed-loop load on several targets, one after the other,
/// the order rotating from run to run so that a slow drift of the machine favours none; each
/// load is charged the cores of the processes that `ticks` reads. One `Rate` per target, per
/// run.
pub(crate) async fn compare(
    ctx: &Ctx,
    label: &str,
    targets: &[(&str, SocketAddr, MakeRequest)],
    ticks: impl Fn() -> Vec<Option<u64>>,
) -> anyhow::Result<Vec<Vec<Rate>>> {
    // Warm-up: connections, caches, the database's buffers.
    for (_, addr, make) in targets {
        closed_loop(*addr, CONNECTIONS, ctx.warmup(), make.clone()).await?;
    }
    let mut runs = Vec::with_capacity(ctx.opts.runs);
    for run in 0..ctx.opts.runs {
        let mut rates = vec![Rate::default(); targets.len()];
        for k in 0..targets.len() {
            let i = (k + run) % targets.len();
            let (_, addr, make) = &targets[i];
            let how = (*addr, CONNECTIONS, ctx.duration());
            rates[i] = ctx.load(how, make.clone(), &ticks).await?;
        }
        let said = targets.iter().zip(&rates);
        let said: Vec<_> = said
            .map(|((name, ..), r)| format!("{name} {:.0}/s", r.per_sec))
            .collect();
        eprintln!("  {label} run {}: {}", run + 1, said.join(", "));
        runs.push(rates);
    }
    Ok(runs)
}

/// Measurements 6 and 7: per set-up, two loads compared by the ratio of their rates (the second
/// over the first), whose median must reach `target`. The table, and the rows of the targets
/// (`row`, then the set-up).
pub(crate) fn ratio_table(
    names: [&str; 2],
    target: f64,
    row: &str,
    rows: &[(String, Vec<Vec<Rate>>)],
) -> (String, Vec<Target>) {
    let ratio = |r: &[Vec<Rate>]| Spread::of(r.iter().map(|x| x[1].per_sec / x[0].per_sec));
    let [a, b] = names;
    let head = format!(
        "server | {a} req/s | {b} req/s | ratio (target ≥ {target:.2}) | {a} p50 / p99 ms | {b} \
         p50 / p99 ms | errors | verdict"
    );
    let table = table(
        &head,
        rows.iter().map(|(label, r)| {
            [
                label.clone(),
                col(r, |x| x[0].per_sec, 0),
                col(r, |x| x[1].per_sec, 0),
                spread(ratio(r), 2, ""),
                lat(r, |x| x[0].latency, 2),
                lat(r, |x| x[1].latency, 2),
                errors(r),
                ratio(r).map_or("not measured".into(), |s| verdict(s.median >= target)),
            ]
        }),
    );
    let targets = rows
        .iter()
        .map(|(label, r)| ratio_target(format!("{row}, {label}"), target, ratio(r)));
    (table, targets.collect())
}
