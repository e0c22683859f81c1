//! `adieu-bench`: starts `adieu serve` processes (the `adieu` built next to it) on loopback,
//! loads them from this process, and writes the figures, the machine and the command into
//! `BENCHMARKS.md`.
//!
//! Every node is a child process killed when the benchmark ends, fails or is interrupted;
//! every PostgreSQL database it creates is dropped at the end.

mod db;
mod http;
mod measure;
mod node;
mod report;
mod stats;
mod watch;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use adieu_core::duration;
use anyhow::Context;
use clap::{Parser, ValueEnum};
use tokio::signal::unix::SignalKind;

use crate::db::Postgres;
use crate::measure::{Ctx, REQUEST_TIMEOUT, logins, logouts, scale};
use crate::report::Report;

/// Measures Adieu's check throughput against a bare hello world, logout latency, login
/// throughput against the argon2id limit, scale, clients hanging up mid-hash, the cost of
/// protecting an app behind nginx and introspection, and writes BENCHMARKS.md, keeping the
/// sections of the file that it does not write. `--quick` changes the defaults marked with it.
#[derive(Debug, Clone, Parser)]
#[command(name = "adieu-bench", version)]
pub(crate) struct Opts {
    /// Where to write the report.
    #[arg(long, default_value = "BENCHMARKS.md")]
    out: PathBuf,
    /// PostgreSQL server on which throwaway databases are created (and dropped).
    #[arg(
        long,
        env = "ADIEU_BENCH_POSTGRES_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/postgres",
        hide_env_values = true
    )]
    postgres_url: String,
    /// Measure SQLite only (without it, an unreachable PostgreSQL is an error).
    #[arg(long)]
    no_postgres: bool,
    /// Parts to run, comma-separated; the report holds those measured. `proxy` needs nginx
    /// (`ADIEU_BENCH_NGINX`, or `nginx` on the PATH).
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        default_value = "logins,checks,logouts,scale,hangup,proxy,introspect"
    )]
    only: Vec<Part>,
    /// Smoke run: one run of each part, short durations, at most 20,000 seeded sessions. Flags
    /// given explicitly still win. Not for publishing.
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
    /// Live-session counts to compare (measurement 4).
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "1000,1000000",
        default_value_if("quick", "true", "1000,20000")
    )]
    pub(crate) scale_sessions: Vec<u64>,
}

impl Opts {
    /// Every figure made sane.
    fn settle(mut self) -> Self {
        self.scale_sessions.sort_unstable();
        self.scale_sessions.dedup();
        self.scale_sessions.retain(|&n| n > 0);
        (self.runs, self.connections) = (self.runs.max(1), self.connections.max(1));
        self
    }
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

fn main() -> ExitCode {
    let opts = Opts::parse().settle();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build();
    let result = match runtime {
        Ok(runtime) => runtime.block_on(run_guarded(opts)),
        Err(e) => Err(anyhow::Error::new(e).context("starting the async runtime")),
    };
    if let Err(e) = result {
        eprintln!("error: {e:#}");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

/// Runs the benchmark until it ends or Ctrl-C or SIGTERM, then cleans up whatever happened:
/// an interrupted benchmark is dropped with its nodes (which kills them), and the databases
/// are dropped here.
async fn run_guarded(opts: Opts) -> anyhow::Result<()> {
    // Asked for PostgreSQL, the benchmark measures it or fails: never SQLite alone in silence.
    let pg = match opts.no_postgres {
        true => None,
        false => Some(Postgres::connect(&opts.postgres_url).await.context(
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
    // Before anything is measured: a missing program must not cost a whole run first.
    node::sibling("adieu")?;
    node::sibling("adieu-bench-hello")?;
    if opts.only.contains(&Part::Proxy) {
        let nginx = measure::proxy::nginx_version().await;
        nginx.context(
            "the proxy part needs nginx (leave it out with --only if this machine has none)",
        )?;
    }
    let mut notes = Vec::new();
    if opts.no_postgres {
        notes.push("PostgreSQL was skipped (`--no-postgres`).".to_owned());
    }
    if opts.quick {
        notes.push(
            "`--quick` smoke run: one short run of each measurement and a small database; these \
             figures are not for comparison."
                .to_owned(),
        );
    }
    let (pg, postgres) = pg.unzip();
    let machine = watch::Machine {
        postgres,
        ..watch::Machine::describe()
    };
    if let Some(limit) = opts.wait_quiet {
        wait_for_quiet(limit).await;
    }
    let start_busy_cores = watch::busy_cores(Duration::from_secs(3)).await;
    let ticks_per_sec = watch::clock_ticks_per_sec();
    let mut watcher = watch::Watcher::start(ticks_per_sec);
    let (cores, notes, made) = (machine.cores, notes.into(), Default::default());
    let ctx = Ctx {
        pg,
        work,
        opts: opts.clone(),
        ticks_per_sec,
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
    notes.push(format!(
        "The whole benchmark took {:.0} s.",
        started.elapsed().as_secs_f64()
    ));
    let format = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute] UTC");
    let report = Report {
        date: time::OffsetDateTime::now_utc()
            .format(&format)
            .unwrap_or_default(),
        command: command_line(),
        machine,
        settings,
        start_busy_cores,
        load: watcher.finish(),
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
    let (o, d) = (&ctx.opts, |d: Duration| duration::format(d));
    let (runs, connections, warmup) = (o.runs, o.connections, d(o.warmup));
    let (samples, logouts) = (scale::samples(ctx), logouts::per_run(ctx));
    let (logins, clients) = (d(logins::duration(ctx)), logins::clients(ctx));
    let (factor, over_runs) = (logins::OVERLOAD_FACTOR, logins::overload_runs(ctx));
    format!(
        "runs {runs}; check load {connections} connections for {} per endpoint and run; warm-up \
         {warmup}; logouts per run {logouts}; login runs {logins} with {clients} clients; above \
         the limit {factor}× the limit, {over_runs} runs, request timeout {}; scale samples \
         {samples} hot and {samples} cold checks per run; nodes `adieu serve` defaults except \
         `{}`, plus `--admin-listen 127.0.0.1:0` to read their cache state (and `--cache`)",
        d(o.duration),
        d(REQUEST_TIMEOUT),
        node::LIMITS_OFF
    )
}

/// Waits until other processes use less than a tenth of a core, or until `limit` passes.
async fn wait_for_quiet(limit: Duration) {
    let deadline = Instant::now() + limit;
    loop {
        let busy = watch::busy_cores(Duration::from_secs(5))
            .await
            .unwrap_or(0.0);
        if busy < 0.1 {
            return;
        }
        if Instant::now() >= deadline {
            eprintln!("warning: the machine is still busy ({busy:.2} cores); measuring anyway");
            return;
        }
        eprintln!("waiting for a quiet machine ({busy:.2} cores busy)");
    }
}

/// This program's arguments, quoted where a shell would need it, after its bare name: the
/// directory it was run from says nothing about the figures.
fn command_line() -> String {
    let mut args = std::env::args();
    let program = args.next().map(PathBuf::from);
    let program = program.and_then(|p| Some(p.file_name()?.to_string_lossy().into_owned()));
    let quote = |arg: String| {
        let plain = |b: u8| b.is_ascii_alphanumeric() || b"-_./=:,@".contains(&b);
        match !arg.is_empty() && arg.bytes().all(plain) {
            true => arg,
            false => format!("'{}'", arg.replace('\'', r"'\''")),
        }
    };
    let program = program.unwrap_or_else(|| "adieu-bench".to_owned());
    std::iter::once(program)
        .chain(args.map(quote))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn quick_shortens_only_what_was_not_given_and_the_defaults_are_the_full_ones() {
        Opts::command().debug_assert();
        let quick = Opts::parse_from(["adieu-bench", "--quick", "--runs", "3"]).settle();
        let quick = (quick.runs, quick.duration, quick.scale_sessions);
        assert_eq!(quick, (3, Duration::from_secs(1), vec![1000, 20_000]));
        let full = Opts::parse_from(["adieu-bench"]).settle();
        let full = (full.runs, full.duration, full.scale_sessions);
        assert_eq!(full, (5, Duration::from_secs(3), vec![1000, 1_000_000]));
    }
}
