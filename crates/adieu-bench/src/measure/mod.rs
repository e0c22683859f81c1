//! The measurements, one file each, each rendering its own section. Every measurement
//! starts its own nodes on a fresh database and stops them before it returns, whether it
//! succeeded or not.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use adieu_core::duration;
use anyhow::{Context, bail};
use http_body_util::Full;
use hyper::Request;
use hyper::body::Bytes;

pub(crate) mod checks;
pub(crate) mod hangup;
pub(crate) mod introspect;
pub(crate) mod logins;
pub(crate) mod logouts;
pub(crate) mod proxy;
pub(crate) mod scale;

use crate::api::Api;
use crate::http::closed_loop;
use crate::node::Node;
use crate::pg::Postgres;
use crate::stats::Latency;

/// How long and how hard to measure; `--quick` changes the defaults marked with it.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct Options {
    /// Runs of every measurement; the report shows their median and range.
    #[arg(long, default_value_t = 5, default_value_if("quick", "true", "1"))]
    pub(crate) runs: usize,
    /// Length of one throughput run (measurement 1) and of one in-process argon2id run.
    #[arg(long, default_value = "3s", value_parser = duration::parse, default_value_if("quick", "true", "1s"))]
    pub(crate) duration: Duration,
    /// Unmeasured load before measuring.
    #[arg(long, default_value = "1s", value_parser = duration::parse, default_value_if("quick", "true", "300ms"))]
    pub(crate) warmup: Duration,
    /// Keep-alive connections of the check load.
    #[arg(long, default_value_t = 32)]
    pub(crate) connections: usize,
    /// Logouts per run (measurement 2).
    #[arg(long, default_value_t = 200, default_value_if("quick", "true", "30"))]
    pub(crate) logouts: usize,
    /// Length of one login run, below and above the limit (measurement 3).
    #[arg(long, default_value = "5s", value_parser = duration::parse, default_value_if("quick", "true", "2s"))]
    pub(crate) login_duration: Duration,
    /// Clients logging in back to back [default: 4 per core, below the server's hash queue].
    #[arg(long)]
    pub(crate) login_clients: Option<usize>,
    /// Offered login rate above the limit, as a multiple of the limit.
    #[arg(long, default_value_t = 3.0)]
    pub(crate) overload_factor: f64,
    /// Runs above the limit, per server.
    #[arg(long, default_value_t = 3, default_value_if("quick", "true", "1"))]
    pub(crate) overload_runs: usize,
    /// Bound on requests in flight above the limit.
    #[arg(long, default_value_t = 2048)]
    pub(crate) max_in_flight: usize,
    /// A login or set-up request that takes longer counts as a timeout.
    #[arg(long, default_value = "10s", value_parser = duration::parse)]
    pub(crate) request_timeout: Duration,
    /// Live-session counts to compare (measurement 4), ascending.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "1000,1000000",
        default_value_if("quick", "true", "1000,20000")
    )]
    pub(crate) scale_sessions: Vec<u64>,
    /// Checks per run and kind (hot, cold) in measurement 4.
    #[arg(long, default_value_t = 500, default_value_if("quick", "true", "100"))]
    pub(crate) scale_samples: usize,
}

impl Options {
    /// Clients logging in back to back: 4 per core unless given.
    pub(crate) fn login_clients(&self, cores: usize) -> usize {
        self.login_clients.unwrap_or(4 * cores).max(1)
    }
}

/// The storage a node runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Backend {
    Sqlite,
    Postgres,
}

/// A backend and a cache setting (`None`: the server's default).
#[derive(Debug, Clone, Copy)]
pub(crate) struct ServerKind {
    pub(crate) backend: Backend,
    pub(crate) cache: Option<bool>,
}

impl ServerKind {
    pub(crate) const SQLITE: Self = Self {
        backend: Backend::Sqlite,
        cache: None,
    };

    /// How the report names this configuration.
    pub(crate) fn label(&self) -> String {
        let backend = if self.backend == Backend::Sqlite {
            "SQLite"
        } else {
            "PostgreSQL"
        };
        match self.cache {
            None => backend.to_owned(),
            Some(on) => format!("{backend}, cache {}", if on { "on" } else { "off" }),
        }
    }

    /// For file and database names.
    pub(crate) fn slug(&self) -> String {
        let backend = if self.backend == Backend::Sqlite {
            "sqlite"
        } else {
            "pg"
        };
        match self.cache {
            None => backend.to_owned(),
            Some(on) => format!("{backend}_{}", if on { "cache" } else { "nocache" }),
        }
    }
}

/// A database for one measurement.
pub(crate) struct Database {
    pub(crate) url: String,
    pub(crate) sqlite_file: Option<PathBuf>,
}

/// What every measurement needs.
pub(crate) struct Ctx {
    pub(crate) adieu: PathBuf,
    pub(crate) pg: Option<Postgres>,
    pub(crate) work: PathBuf,
    pub(crate) api: Api,
    pub(crate) opts: Options,
    pub(crate) ticks_per_sec: u64,
    pub(crate) cores: usize,
    pub(crate) notes: Vec<String>,
    pub(crate) databases: usize,
}

impl Ctx {
    /// The configurations to compare: SQLite, and PostgreSQL with the cache (and without).
    pub(crate) fn kinds(&self, with_cache_off: bool) -> Vec<ServerKind> {
        let pg = |on| ServerKind {
            backend: Backend::Postgres,
            cache: Some(on),
        };
        let mut kinds = vec![ServerKind::SQLITE];
        if self.pg.is_some() {
            kinds.push(pg(true));
            if with_cache_off {
                kinds.push(pg(false));
            }
        }
        kinds
    }

    /// Notes that `what` could not be measured on `kind`, and why.
    pub(crate) fn not_measured(&mut self, what: &str, kind: ServerKind, e: &anyhow::Error) {
        eprintln!("warning: {what} on {} not measured: {e:#}", kind.label());
        self.notes
            .push(format!("Not measured: {what} on {}: {e:#}.", kind.label()));
    }

    pub(crate) async fn fresh_database(
        &mut self,
        backend: Backend,
        label: &str,
    ) -> anyhow::Result<Database> {
        self.databases += 1;
        if backend == Backend::Sqlite {
            let file = self.work.join(format!("{}-{label}.db", self.databases));
            return Ok(Database {
                url: format!("sqlite://{}", file.display()),
                sqlite_file: Some(file),
            });
        }
        let pg = self.pg.as_ref().context("PostgreSQL is not available")?;
        Ok(Database {
            url: pg.create_database(label).await?,
            sqlite_file: None,
        })
    }

    /// Starts `n` nodes, one after the other (so that only the first migrates), and waits
    /// until they are ready.
    pub(crate) async fn start_nodes(
        &self,
        db: &Database,
        kind: ServerKind,
        label: &str,
        n: usize,
    ) -> anyhow::Result<Vec<Node>> {
        let mut nodes = Vec::with_capacity(n);
        for i in 0..n {
            let log = self.work.join(format!("{label}-node{i}.log"));
            match Node::start(&self.adieu, &db.url, kind.cache, &log).await {
                Ok(node) => nodes.push(node),
                Err(e) => {
                    stop_all(nodes).await;
                    return Err(e);
                }
            }
        }
        if let Err(e) = self.wait_ready(&nodes).await {
            stop_all(nodes).await;
            return Err(e);
        }
        Ok(nodes)
    }

    /// Waits (at most 30 s) until every node's `/status` answers 200 and its cache, if any,
    /// serves: figures of a node still resyncing would measure start-up.
    async fn wait_ready(&self, nodes: &[Node]) -> anyhow::Result<()> {
        let deadline = Instant::now() + Duration::from_secs(30);
        for node in nodes {
            loop {
                let cache = self.api.cache_state(node.admin).await;
                if cache.as_ref().is_ok_and(|c| c != "resyncing") {
                    break;
                }
                if Instant::now() >= deadline {
                    bail!(
                        "node {} not ready after 30 s ({})",
                        node.addr,
                        cache.map_or_else(|e| format!("{e:#}"), |c| format!("cache {c}"))
                    );
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        Ok(())
    }

    /// Registers `user` and logs it in `n` times: access tokens of real logins.
    pub(crate) async fn real_tokens(
        &self,
        node: &Node,
        user: &str,
        n: usize,
    ) -> anyhow::Result<Vec<String>> {
        self.api.register(node.addr, user).await?;
        let mut tokens = Vec::with_capacity(n);
        for _ in 0..n {
            tokens.push(self.api.login(node.addr, user).await?);
        }
        Ok(tokens)
    }

    /// CPU used between two readings, in cores.
    pub(crate) fn cores(&self, before: Option<u64>, after: Option<u64>, elapsed: Duration) -> f64 {
        match (before, after) {
            (Some(b), Some(a)) => {
                a.saturating_sub(b) as f64 / self.ticks_per_sec as f64 / elapsed.as_secs_f64()
            }
            _ => f64::NAN,
        }
    }
}

pub(crate) async fn stop_all(nodes: Vec<Node>) {
    for node in nodes {
        node.process.stop().await;
    }
}

/// A request to send over and over: connection `i` sends `make(i)`.
pub(crate) type MakeRequest = Arc<dyn Fn(usize) -> Request<Full<Bytes>> + Send + Sync>;

/// One load of one run of a comparison.
#[derive(Debug, Clone, Default)]
pub(crate) struct Rate {
    pub(crate) per_sec: f64,
    pub(crate) latency: Option<Latency>,
    /// Non-2xx answers and transport errors.
    pub(crate) errors: u64,
    /// Cores used by each watched process during this load (NaN when unread).
    pub(crate) cores: Vec<f64>,
}

/// Measurements 1, 6 and 7: the same closed-loop load on several targets, one after the
/// other, the order rotating from run to run so that a slow drift of the machine favours
/// none. `watch` reads the CPU ticks of the processes whose cores each load is charged.
/// Returns one `Rate` per target, per run.
pub(crate) async fn compare(
    ctx: &Ctx,
    label: &str,
    targets: &[(&str, SocketAddr, MakeRequest)],
    watch: impl Fn() -> Vec<Option<u64>>,
) -> anyhow::Result<Vec<Vec<Rate>>> {
    let o = &ctx.opts;
    let load = |i: usize, duration| {
        let (_, addr, make) = &targets[i];
        let make = make.clone();
        closed_loop(*addr, o.connections, duration, move |c| make(c))
    };
    // Warm-up: connections, caches, the database's buffers.
    for i in 0..targets.len() {
        load(i, o.warmup).await?;
    }
    let mut runs = Vec::with_capacity(o.runs);
    for run in 0..o.runs {
        let mut rates = vec![Rate::default(); targets.len()];
        for k in 0..targets.len() {
            let i = (k + run) % targets.len();
            let (before, started) = (watch(), Instant::now());
            let res = load(i, o.duration).await?;
            let after = watch();
            let cores = before
                .iter()
                .zip(&after)
                .map(|(b, a)| ctx.cores(*b, *a, started.elapsed()))
                .collect();
            rates[i] = Rate {
                per_sec: res.ok_per_sec(),
                latency: Latency::of(&res.latencies),
                errors: res.not_ok + res.transport_errors,
                cores,
            };
        }
        let said: Vec<String> = targets
            .iter()
            .zip(&rates)
            .map(|((name, ..), r)| format!("{name} {:.0}/s", r.per_sec))
            .collect();
        eprintln!("  {label} run {}: {}", run + 1, said.join(", "));
        runs.push(rates);
    }
    Ok(runs)
}
