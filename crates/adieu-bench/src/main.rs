//! `adieu-bench`: starts `adieu serve` processes (the `adieu` built next to it) on loopback,
//! loads them from this process, and writes the figures, the machine and the command into
//! `BENCHMARKS.md`.
//!
//! Every node is a child process killed when the benchmark ends, fails or is interrupted;
//! every PostgreSQL database it creates is dropped at the end.

mod db;
mod http;
mod measure;
mod report;
mod stats;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use adieu_core::duration;
use adieu_harness::procfs::busy_cores;
use adieu_harness::{Machine, OtherLoad, Postgres, QUIET_CORES, Watcher, sibling};
use anyhow::Context;
use clap::{Parser, ValueEnum};
use tokio::signal::unix::SignalKind;

use crate::measure::{CONNECTIONS, Ctx, REQUEST_TIMEOUT, logins, logouts, scale};
use crate::report::Report;

/// Measures Adieu's check throughput against a bare hello world, logout latency, login
/// throughput against the argon2id limit, scale, clients hanging up mid-hash, the cost of
/// protecting an app behind nginx and introspection, and writes BENCHMARKS.md, keeping the
/// sections of the file that it does not write.
#[derive(Debug, Clone, Parser)]
#[command(name = "adieu-bench", version)]
pub(crate) struct Opts {
    /// Where to write the report.
    #[arg(long, default_value = "BENCHMARKS.md")]
    out: PathBuf,
    /// PostgreSQL server on which throwaway databases are created (and dropped).
    #[arg(long, env = "ADIEU_BENCH_POSTGRES_URL", hide_env_values = true)]
    #[arg(default_value = "postgres://postgres@127.0.0.1:5432/postgres")]
    postgres_url: String,
    /// Measure SQLite only (without it, an unreachable PostgreSQL is an error).
    #[arg(long)]
    no_postgres: bool,
    /// Parts to run, comma-separated; the report holds those measured. `proxy` needs nginx
    /// (`ADIEU_BENCH_NGINX`, or `nginx` on the PATH).
    #[arg(long, value_enum, value_delimiter = ',')]
    #[arg(default_value = "logins,checks,logouts,scale,hangup,proxy,introspect")]
    only: Vec<Part>,
    /// Smoke run: one run of each part (unless `--runs` says otherwise), short loads, at most
    /// 20,000 seeded sessions. Not for publishing.
    #[arg(long)]
    pub(crate) quick: bool,
    /// Wait up to this long for a quiet machine (less than a tenth of a core busy).
    #[arg(long, value_parser = duration::parse)]
    wait_quiet: Option<Duration>,
    /// Keep the working directory (SQLite files, node logs) instead of deleting it.
    #[arg(long)]
    keep: bool,
    /// Runs of every measurement; the report shows their median and range.
    #[arg(long, default_value_t = 5, default_value_if("quick", "true", "1"))]
    #[arg(value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..))]
    pub(crate) runs: usize,
}

/// A part of the benchmark, in the order it runs; the sections are in the order of their
/// numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Part {
    /// Measurement 3: argon2id limit and HTTP logins.
    Logins,
    /// Measurement 1: /api/me versus /healthz and the ceiling.
    Checks,
    /// Measurement 2: logout latency.
    Logouts,
    /// Measurement 4: 1,000 versus 1,000,000 live sessions.
    Scale,
    /// Measurement 5: clients that hang up mid-hash.
    Hangup,
    /// Measurement 6: an app behind nginx, protected by Adieu versus not.
    Proxy,
    /// Measurement 7: RFC 7662 introspection versus /api/me.
    Introspect,
}

impl Part {
    async fn run(self, ctx: &Ctx) -> anyhow::Result<report::Section> {
        use measure::*;
        match self {
            Self::Logins => logins::run(ctx).await,
            Self::Checks => checks::run(ctx).await,
            Self::Logouts => logouts::run(ctx).await,
            Self::Scale => scale::run(ctx).await,
            Self::Hangup => hangup::run(ctx).await,
            Self::Proxy => proxy::run(ctx).await,
            Self::Introspect => introspect::run(ctx).await,
        }
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    match run_guarded(Opts::parse()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Runs the benchmark until it ends or Ctrl-C or SIGTERM, then cleans up whatever happened:
/// an interrupted benchmark is dropped with its nodes (which kills them), and the databases
/// are dropped here.
async fn run_guarded(opts: Opts) -> anyhow::Result<()> {
    // Before anything is measured: a missing program must not cost a whole run first.
    sibling("adieu")?;
    sibling("adieu-bench-hello")?;
    if opts.only.contains(&Part::Proxy) {
        let why = "the proxy part needs nginx (leave it out with --only if this machine has none)";
        measure::proxy::nginx_version().await.context(why)?;
    }
    // Asked for PostgreSQL, the benchmark measures it or fails: never SQLite alone in silence.
    let pg = match opts.no_postgres {
        true => None,
        false => Some(Postgres::connect(&opts.postgres_url, "adieu_bench").await.context(
            "PostgreSQL is not reachable (start it, point --postgres-url at it, or pass --no-postgres)",
        )?),
    };
    let work = tempfile::Builder::new().prefix("adieu-bench-").tempdir();
    let work = work.context("creating a working directory")?;
    let keep = opts.keep;
    let mut terminate = tokio::signal::unix::signal(SignalKind::terminate()).ok();
    let result = tokio::select! {
        result = run(opts, pg.clone(), work.path().to_owned()) => result,
        _ = tokio::signal::ctrl_c() => Err(anyhow::anyhow!("interrupted")),
        Some(()) = async { terminate.as_mut()?.recv().await } => Err(anyhow::anyhow!("terminated")),
    };
    if let Some((pg, _)) = &pg {
        pg.drop_all().await;
    }
    if keep || result.is_err() {
        eprintln!("working directory kept: {}", work.keep().display());
    }
    result
}

async fn run(opts: Opts, pg: Option<(Postgres, String)>, work: PathBuf) -> anyhow::Result<()> {
    let started = Instant::now();
    let quick = "`--quick` smoke run: short loads and a small database; these figures are not \
                 for comparison.";
    let skipped = "PostgreSQL was skipped (`--no-postgres`).";
    let notes = [(opts.no_postgres, skipped), (opts.quick, quick)];
    let notes: Vec<_> = notes
        .iter()
        .filter(|n| n.0)
        .map(|n| n.1.to_owned())
        .collect();
    let (pg, postgres) = pg.unzip();
    let machine = Machine {
        postgres,
        ..Machine::describe()
    };
    if let Some(limit) = opts.wait_quiet {
        wait_for_quiet(limit).await;
    }
    let before = busy_cores(Duration::from_secs(3)).await;
    let mut watcher = Watcher::start();
    let (cores, notes, made) = (machine.cores, notes.into(), Default::default());
    let ctx = Ctx {
        pg,
        work,
        opts: opts.clone(),
        cores,
        notes,
        made,
    };
    let mut sections = Vec::new();
    for part in &opts.only {
        let name = format!("{part:?}").to_lowercase();
        eprintln!("{name}");
        watcher.part(&name);
        match part.run(&ctx).await {
            Ok(section) => sections.push(section),
            Err(e) => {
                eprintln!("warning: {name} not measured: {e:#}");
                ctx.note(format!("Not measured: {name}: {e:#}."));
            }
        }
    }
    sections.sort_by(|a, b| a.heading.cmp(&b.heading));
    let settings = settings(&ctx);
    let mut notes = ctx.notes.into_inner().expect("not poisoned");
    let took = started.elapsed().as_secs_f64();
    notes.push(format!("The whole benchmark took {took:.0} s."));
    let (date, command) = (adieu_harness::now_utc(), adieu_harness::command_line());
    let others = OtherLoad {
        before,
        parts: watcher.finish(),
    };
    let report = Report {
        date,
        command,
        machine,
        settings,
        others,
        sections,
        notes,
    };
    let existing = std::fs::read_to_string(&opts.out).ok();
    let text = report.to_file(existing.as_deref());
    std::fs::write(&opts.out, text).with_context(|| format!("writing {}", opts.out.display()))?;
    eprintln!("wrote {}", opts.out.display());
    Ok(())
}

/// The settings line of the report.
fn settings(ctx: &Ctx) -> String {
    let d = |d: Duration| duration::format(d);
    let (runs, load, warmup) = (ctx.opts.runs, d(ctx.duration()), d(ctx.warmup()));
    let (samples, logouts) = (scale::samples(ctx), logouts::per_run(ctx));
    let (logins, clients) = (d(logins::duration(ctx)), logins::clients(ctx));
    let (factor, over_runs) = (logins::OVERLOAD_FACTOR, logins::overload_runs(ctx));
    format!(
        "runs {runs}; check load {CONNECTIONS} connections for {load} per endpoint and run; \
         warm-up {warmup}; logouts per run {logouts}; login runs {logins} with {clients} \
         clients; above the limit {factor}× the limit, {over_runs} runs, request timeout {}; \
         scale samples {samples} hot and {samples} cold checks per run; nodes `adieu serve` \
         defaults except `{}`, plus `--admin-listen 127.0.0.1:0` to read their cache state (and \
         `--cache`)",
        d(REQUEST_TIMEOUT),
        measure::LIMITS_OFF
    )
}

/// Waits until other processes use less than a tenth of a core, or until `limit` passes.
async fn wait_for_quiet(limit: Duration) {
    let deadline = Instant::now() + limit;
    loop {
        let busy = busy_cores(Duration::from_secs(5)).await.unwrap_or(0.0);
        if busy < QUIET_CORES {
            return;
        }
        if Instant::now() >= deadline {
            eprintln!("warning: the machine is still busy ({busy:.2} cores); measuring anyway");
            return;
        }
        eprintln!("waiting for a quiet machine ({busy:.2} cores busy)");
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn quick_sets_one_run_unless_runs_are_given_and_none_is_refused() {
        Opts::command().debug_assert();
        let runs = |args: &[&str]| Opts::try_parse_from(args).map(|o| o.runs).ok();
        assert_eq!(runs(&["adieu-bench"]), Some(5));
        assert_eq!(runs(&["adieu-bench", "--quick"]), Some(1));
        assert_eq!(runs(&["adieu-bench", "--quick", "--runs", "3"]), Some(3));
        assert_eq!(runs(&["adieu-bench", "--runs", "0"]), None);
    }
}
