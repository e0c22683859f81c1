//! `adieu-bench`: starts `adieu serve` processes on loopback, loads them from this process,
//! and writes the figures, the machine and the command into `BENCHMARKS.md`.
//!
//! Every node is a child process killed when the benchmark ends, fails or is interrupted;
//! every PostgreSQL database it creates is dropped at the end.

mod api;
mod http;
mod machine;
mod measure;
mod node;
mod pg;
mod report;
mod seed;
mod stats;
mod watch;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use adieu_core::duration;
use anyhow::{Context, bail};
use clap::{Parser, ValueEnum};
use tokio::signal::unix::SignalKind;

use crate::machine::Machine;
use crate::measure::{Ctx, Options};
use crate::pg::Postgres;
use crate::report::{Report, Section};

/// Measures Adieu's check throughput, logout latency, login throughput, scale, clients
/// hanging up mid-hash and the cost of protecting an app behind nginx, and writes
/// BENCHMARKS.md.
#[derive(Debug, Parser)]
#[command(name = "adieu-bench", version)]
struct Cli {
    /// Where to write the report.
    #[arg(long, default_value = "BENCHMARKS.md")]
    out: PathBuf,
    /// The `adieu` binary to measure [default: `adieu` next to this program].
    #[arg(long)]
    adieu: Option<PathBuf>,
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
    /// Parts to run, comma-separated. A part alone updates its section of an existing report
    /// and keeps the rest. `proxy` needs nginx (`ADIEU_BENCH_NGINX`, or `nginx` on the PATH).
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        default_value = "logins,checks,logouts,scale,hangup,proxy,introspect"
    )]
    only: Vec<Part>,
    /// Smoke run: one run of each part, short durations, at most 20,000 seeded sessions.
    /// Flags given explicitly still win. Not for publishing.
    #[arg(long)]
    quick: bool,
    #[command(flatten)]
    opts: Options,
    /// Wait up to this long for a quiet machine (less than a tenth of a core busy).
    #[arg(long, value_parser = duration::parse)]
    wait_quiet: Option<Duration>,
    /// Keep the working directory (SQLite files, node logs) instead of deleting it.
    #[arg(long)]
    keep: bool,
}

/// A part of the benchmark.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Part {
    /// Measurement 3: argon2id limit and HTTP logins.
    Logins,
    /// Measurement 1: /api/me versus /healthz.
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
    /// Runs this part: its section of the report.
    async fn run(self, ctx: &mut Ctx) -> anyhow::Result<Section> {
        match self {
            Self::Logins => measure::logins::run(ctx).await,
            Self::Checks => measure::checks::run(ctx).await,
            Self::Logouts => measure::logouts::run(ctx).await,
            Self::Scale => measure::scale::run(ctx).await,
            Self::Hangup => measure::hangup::run(ctx).await,
            Self::Proxy => measure::proxy::run(ctx).await,
            Self::Introspect => measure::introspect::run(ctx).await,
        }
    }
}

impl Cli {
    /// Every figure made sane.
    fn settle(&mut self) {
        let o = &mut self.opts;
        o.scale_sessions.sort_unstable();
        o.scale_sessions.dedup();
        o.scale_sessions.retain(|&n| n > 0);
        for n in [
            &mut o.runs,
            &mut o.connections,
            &mut o.logouts,
            &mut o.max_in_flight,
            &mut o.scale_samples,
        ] {
            *n = (*n).max(1);
        }
    }
}

fn main() -> ExitCode {
    let mut cli = Cli::parse();
    cli.settle();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: starting the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run_guarded(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Runs the benchmark as a task that Ctrl-C or SIGTERM aborts, then cleans up whatever
/// happened: aborting drops the task's nodes (which kills them), and the databases are
/// dropped here.
async fn run_guarded(cli: Cli) -> anyhow::Result<()> {
    // Asked for PostgreSQL, the benchmark measures it or fails: never SQLite alone in silence.
    let pg = if cli.no_postgres {
        None
    } else {
        let connected = Postgres::connect(&cli.postgres_url).await;
        Some(connected.context("PostgreSQL is not reachable (start it, point --postgres-url at it, or pass --no-postgres)")?)
    };
    let work = tempfile::Builder::new()
        .prefix("adieu-bench-")
        .tempdir()
        .context("creating a working directory")?;
    let keep = cli.keep;
    let mut task = tokio::spawn(run(cli, pg.clone(), work.path().to_owned()));
    let result = tokio::select! {
        joined = &mut task => joined.unwrap_or_else(|e| Err(anyhow::anyhow!("the benchmark panicked: {e}"))),
        () = interrupted() => {
            task.abort();
            let _ = task.await;
            Err(anyhow::anyhow!("interrupted"))
        }
    };
    if let Some((pg, _)) = &pg {
        pg.drop_all().await;
    }
    if keep || result.is_err() {
        eprintln!("working directory kept: {}", work.keep().display());
    }
    result
}

/// Ctrl-C or SIGTERM.
async fn interrupted() {
    let mut terminate = tokio::signal::unix::signal(SignalKind::terminate()).ok();
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {},
        Some(()) = async { terminate.as_mut()?.recv().await } => {},
    }
}

async fn run(cli: Cli, pg: Option<(Postgres, String)>, work: PathBuf) -> anyhow::Result<()> {
    let started = Instant::now();
    let mut machine = Machine::describe();
    let adieu = match &cli.adieu {
        Some(path) => path.clone(),
        None => std::env::current_exe()
            .context("locating this program")?
            .with_file_name("adieu"),
    };
    if !adieu.is_file() {
        bail!(
            "no adieu binary at {} (build it with `cargo build --release --workspace`, or pass --adieu)",
            adieu.display()
        );
    }
    // Before anything is measured: a missing nginx must not cost a whole run first.
    if cli.only.contains(&Part::Proxy) {
        measure::proxy::nginx_version().await.context(
            "the proxy part needs nginx (leave it out with --only if this machine has none)",
        )?;
    }
    let mut notes = Vec::new();
    if let Some(why) = machine::binary_older_than_source(&adieu) {
        eprintln!("warning: {why}; rebuild with `cargo build --release --workspace`");
        notes.push(format!(
            "**The measured binary may not match the source named above:** {why}."
        ));
    }
    if cli.no_postgres {
        notes.push("PostgreSQL was skipped (`--no-postgres`).".to_owned());
    }
    if cli.quick {
        notes.push("`--quick` smoke run: one short run of each measurement and a small database; these figures are not for comparison.".to_owned());
    }
    let (pg, version) = pg.unzip();
    machine.postgres = version;
    if let Some(limit) = cli.wait_quiet {
        wait_for_quiet(limit).await;
    }
    let opts = cli.opts.clone();
    let ticks_per_sec = watch::clock_ticks_per_sec().await;
    let mut report = Report {
        date: now_utc(),
        command: command_line(),
        settings: settings(&opts, machine.cores),
        ..Report::default()
    };
    report.start_busy_cores = watch::busy_cores(Duration::from_secs(3)).await;
    let watcher = watch::Watcher::start(ticks_per_sec);
    let api = api::Api::new(opts.request_timeout)?;
    let mut ctx = Ctx {
        adieu,
        pg,
        work,
        api,
        opts,
        ticks_per_sec,
        cores: machine.cores,
        notes,
        databases: 0,
    };
    for part in cli.only.clone() {
        let name = format!("{part:?}").to_lowercase();
        eprintln!("{name}");
        watcher.part(&name);
        match part.run(&mut ctx).await {
            Ok(section) => report.sections.push(section),
            Err(e) => {
                eprintln!("warning: {name} not measured: {e:#}");
                ctx.notes.push(format!("Not measured: {name}: {e:#}."));
            }
        }
    }
    report.sections.sort_by(|a, b| a.heading.cmp(&b.heading));
    report.load = watcher.finish();
    report.notes = ctx.notes;
    report.notes.push(format!(
        "The whole benchmark took {:.0} s.",
        started.elapsed().as_secs_f64()
    ));
    report.machine = machine;
    // A run of one part alone keeps the other figures already in the file.
    let existing = std::fs::read_to_string(&cli.out).ok();
    let text = match &existing {
        Some(existing) if cli.only.len() == 1 => report.splice_into(existing),
        Some(existing) => report::keep_by_hand(existing, &report.render()),
        None => report.render(),
    };
    std::fs::write(&cli.out, text).with_context(|| format!("writing {}", cli.out.display()))?;
    eprintln!("wrote {}", cli.out.display());
    Ok(())
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

fn now_utc() -> String {
    let format = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute] UTC");
    time::OffsetDateTime::now_utc()
        .format(&format)
        .unwrap_or_else(|_| "unknown date".to_owned())
}

/// This program's arguments, quoted where a shell would need it, after its bare name: the
/// directory it was run from says nothing about the figures.
fn command_line() -> String {
    let mut args = std::env::args();
    let program = args
        .next()
        .and_then(|p| {
            PathBuf::from(p)
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
        })
        .unwrap_or_else(|| "adieu-bench".to_owned());
    std::iter::once(program)
        .chain(args)
        .map(|a| shell_quote(&a))
        .collect::<Vec<_>>()
        .join(" ")
}

fn shell_quote(arg: &str) -> String {
    let plain = !arg.is_empty()
        && arg
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./=:,@".contains(&b));
    if plain {
        arg.to_owned()
    } else {
        format!("'{}'", arg.replace('\'', r"'\''"))
    }
}

fn settings(o: &Options, cores: usize) -> Vec<(String, String)> {
    let d = |d: Duration| duration::format(d);
    vec![
        ("runs".into(), o.runs.to_string()),
        ("check load".into(), format!("{} connections for {} per endpoint and run", o.connections, d(o.duration))),
        ("warm-up".into(), d(o.warmup)),
        ("logouts per run".into(), o.logouts.to_string()),
        ("login runs".into(), format!("{} with {} clients", d(o.login_duration), o.login_clients(cores))),
        ("above the limit".into(), format!("{}× the limit, {} runs, request timeout {}", o.overload_factor, o.overload_runs, d(o.request_timeout))),
        ("scale samples".into(), format!("{} hot and {} cold checks per run", o.scale_samples, o.scale_samples)),
        ("nodes".into(), "`adieu serve` defaults except `--login-attempts-per-user 0 --login-attempts-per-user-total 0 --login-attempts-per-ip 0 --registrations-per-ip 0`, plus `--admin-listen 127.0.0.1:0` to read their cache state (and `--cache`)".into()),
    ]
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn arguments_are_quoted_only_when_a_shell_needs_it() {
        assert_eq!(shell_quote("--out"), "--out");
        assert_eq!(shell_quote("BENCHMARKS.md"), "BENCHMARKS.md");
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(shell_quote(""), "''");
    }

    #[test]
    fn quick_shortens_only_what_was_not_given() {
        let mut cli = Cli::try_parse_from(["adieu-bench", "--quick", "--runs", "3"]).unwrap();
        cli.settle();
        assert_eq!(cli.opts.runs, 3);
        assert_eq!(cli.opts.duration, Duration::from_secs(1));
        assert_eq!(cli.opts.scale_sessions, vec![1000, 20_000]);
    }

    #[test]
    fn without_quick_the_defaults_are_the_full_ones() {
        let mut cli = Cli::try_parse_from(["adieu-bench"]).unwrap();
        cli.settle();
        assert_eq!(cli.opts.runs, 5);
        assert_eq!(cli.opts.duration, Duration::from_secs(3));
        assert_eq!(cli.opts.scale_sessions, vec![1000, 1_000_000]);
    }

    #[test]
    fn the_cli_is_well_formed() {
        Cli::command().debug_assert();
    }
}
