//! `adieu-soak`: three `adieu serve` nodes on a fresh PostgreSQL database under a mixed
//! workload for a set time (10 minutes by default). It watches each node's resident memory
//! and open descriptors, every 5xx, and every token that a node accepts after its session
//! ended; writes its section of `BENCHMARKS.md`; and exits non-zero, saying why, when any of
//! them fails.
//!
//! The nodes are child processes killed when the soak ends, fails or is interrupted; the
//! database is dropped at the end.

mod cluster;
mod flat;
mod report;
mod workload;

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use adieu_core::duration;
use adieu_harness::procfs::busy_cores;
use adieu_harness::{Machine, OtherLoad, Postgres, Process, Watcher, command_line, now_utc};
use anyhow::{Context, bail};
use clap::Parser;
use tokio::signal::unix::SignalKind;

use crate::flat::Sample;
use crate::report::Soak;
use crate::workload::{Progress, Stats, Worker};

/// Runs a mixed workload against three `adieu serve` nodes on PostgreSQL and checks that no
/// answer is a 5xx, no ended session's token is accepted by any node, and every node's memory
/// and descriptors stay flat once warm.
#[derive(Debug, Parser)]
#[command(name = "adieu-soak", version)]
struct Cli {
    /// How long the workload runs.
    #[arg(long, default_value = "10m", value_parser = duration::parse)]
    duration: Duration,
    /// After this, memory and descriptors must stay flat [default: a fifth of --duration].
    #[arg(long, value_parser = duration::parse)]
    warmup: Option<Duration>,
    /// The `adieu` binary to soak [default: `adieu` next to this program].
    #[arg(long)]
    adieu: Option<PathBuf>,
    /// PostgreSQL server on which a throwaway database is created (and dropped).
    #[arg(
        long,
        env = "ADIEU_SOAK_POSTGRES_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/test",
        hide_env_values = true
    )]
    postgres_url: String,
    /// Clients running at once, each with a user of its own.
    #[arg(long, default_value_t = 6, value_parser = clap::value_parser!(u32).range(1..=64))]
    workers: u32,
    /// Live sessions a client holds at most (below the server's 100 per user).
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=50))]
    sessions_per_worker: u32,
    /// How often each node's memory and descriptors are read.
    #[arg(long, default_value = "1s", value_parser = duration::parse)]
    sample_every: Duration,
    /// The report to put the soak's section into (the rest of it is kept).
    #[arg(long, default_value = "BENCHMARKS.md")]
    out: PathBuf,
    /// Print the section only, without writing --out (for CI).
    #[arg(long)]
    no_write: bool,
    /// Keep the working directory (the nodes' logs) even when the soak passes.
    #[arg(long)]
    keep: bool,
}

impl Cli {
    /// The warm-up, checked against the run: enough samples must follow it to judge.
    fn warmup(&self) -> anyhow::Result<Duration> {
        let warmup = self.warmup.unwrap_or(self.duration / 5);
        let after = self.duration.saturating_sub(warmup);
        if after < self.sample_every * flat::LEVEL_SAMPLES as u32 {
            bail!(
                "the run after the warm-up ({}) is too short for {} samples every {}: lengthen --duration, or shorten --warmup or --sample-every",
                duration::format(after),
                flat::LEVEL_SAMPLES,
                duration::format(self.sample_every)
            );
        }
        Ok(warmup)
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match run_guarded(cli).await {
        Ok(failures) if failures.is_empty() => {
            eprintln!("adieu-soak: passed");
            ExitCode::SUCCESS
        }
        Ok(failures) => {
            for f in &failures {
                eprintln!("adieu-soak: FAILED: {f}");
            }
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("adieu-soak: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Runs the soak as a task that Ctrl-C or SIGTERM aborts (which kills the nodes), and drops
/// the database whatever happened. Returns why the soak failed, if it did.
async fn run_guarded(cli: Cli) -> anyhow::Result<Vec<String>> {
    let warmup = cli.warmup()?;
    let adieu = match &cli.adieu {
        Some(path) => path.clone(),
        None => std::env::current_exe()
            .context("locating this program")?
            .with_file_name("adieu"),
    };
    if !adieu.is_file() {
        bail!(
            "no adieu binary at {} (build it with `cargo build --release -p adieu -p adieu-soak`, or pass --adieu)",
            adieu.display()
        );
    }
    // An unreachable server is an error, never a reason to soak something else.
    let (postgres, version) = Postgres::connect(&cli.postgres_url, "adieu_soak").await.context(
        "PostgreSQL is not reachable (start it, or point --postgres-url or ADIEU_SOAK_POSTGRES_URL at it)",
    )?;
    let work = std::env::temp_dir().join(format!("adieu-soak-{}", std::process::id()));
    let made = async {
        std::fs::create_dir_all(&work).with_context(|| format!("creating {}", work.display()))?;
        postgres.create_database().await
    };
    let result = match made.await {
        Err(e) => Err(e),
        Ok(url) => {
            let mut task = tokio::spawn(run(cli, adieu, warmup, url, version, work.clone()));
            tokio::select! {
                joined = &mut task => joined.unwrap_or_else(|e| Err(anyhow::anyhow!("the soak panicked: {e}"))),
                () = interrupted() => {
                    task.abort();
                    let _ = task.await;
                    Err(anyhow::anyhow!("interrupted"))
                }
            }
        }
    };
    postgres.drop_all().await;
    match &result {
        Ok((failures, keep)) if failures.is_empty() && !keep => {
            let _ = std::fs::remove_dir_all(&work);
        }
        _ => eprintln!(
            "adieu-soak: the nodes' logs and every sample are in {}",
            work.display()
        ),
    }
    result.map(|(failures, _)| failures)
}

/// Ctrl-C or SIGTERM.
async fn interrupted() {
    let mut terminate = tokio::signal::unix::signal(SignalKind::terminate()).ok();
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {},
        Some(()) = async { terminate.as_mut()?.recv().await } => {},
    }
}

/// Starts the nodes, runs the workload while sampling, stops the nodes, judges, and writes
/// the section. Returns the failures and whether to keep the working directory.
async fn run(
    cli: Cli,
    adieu: PathBuf,
    warmup: Duration,
    database_url: String,
    postgres_version: String,
    work: PathBuf,
) -> anyhow::Result<(Vec<String>, bool)> {
    let date = now_utc();
    let before = busy_cores(Duration::from_secs(3)).await;
    let mut watcher = Watcher::start();
    watcher.part("soak");
    // One after the other: the first applies the migrations.
    let mut nodes = Vec::new();
    for n in 1..=3 {
        let log = work.join(format!("node-{n}.log"));
        let node = cluster::node(&adieu, &database_url, &log)
            .await
            .with_context(|| format!("starting node {n}"))?;
        nodes.push(node);
    }
    let addrs: Arc<[SocketAddr]> = nodes.iter().map(Process::addr).collect();
    let pids: Vec<u32> = nodes.iter().map(Process::pid).collect();
    eprintln!(
        "adieu-soak: 3 nodes ({}) for {}, warm-up {}",
        addrs
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", "),
        duration::format(cli.duration),
        duration::format(warmup),
    );

    let progress = Arc::new(Progress::default());
    let http = workload::client(Duration::from_secs(30))?;
    let tag = adieu_core::new_id();
    let start = Instant::now();
    let deadline = start + cli.duration;
    let mut workers = tokio::task::JoinSet::new();
    for i in 0..cli.workers as usize {
        let worker = Worker::new(
            i,
            &tag[..8],
            http.clone(),
            addrs.clone(),
            cli.sessions_per_worker as usize,
            progress.clone(),
        );
        workers.spawn(worker.run(deadline));
    }
    let sampling = sample(&pids, start, cli.duration, cli.sample_every, &progress);
    let (samples, joined) = tokio::join!(sampling, workers.join_all());
    let others = OtherLoad {
        before,
        parts: watcher.finish(),
    };
    let mut stats = Stats::default();
    for result in joined {
        stats.merge(result?);
    }

    let mut failures = Vec::new();
    for (n, node) in nodes.iter_mut().enumerate() {
        if node.exited() {
            failures.push(format!("node {} exited during the soak", n + 1));
        }
    }
    for node in nodes {
        node.stop().await;
    }
    write_samples(&work.join("samples.csv"), &samples)?;
    let verdicts: Vec<_> = samples.iter().map(|s| flat::judge(s, warmup)).collect();
    failures.extend(judge(&stats, &verdicts));

    let soak = Soak {
        measured: measured(&date, &postgres_version, &adieu, &others),
        duration: cli.duration,
        warmup,
        workers: cli.workers,
        sessions_per_worker: cli.sessions_per_worker,
        sample_every: cli.sample_every,
        stats: &stats,
        samples: &samples,
        verdicts: &verdicts,
        failures: &failures,
    };
    let section = soak.render();
    print!("{section}");
    if !cli.no_write {
        write_section(&cli.out, &section)?;
        eprintln!("adieu-soak: wrote its section of {}", cli.out.display());
    }
    Ok((failures, cli.keep))
}

/// Reads every node every `every` from the start of the workload to its end, and says how it
/// goes every tenth of the run.
async fn sample(
    pids: &[u32],
    start: Instant,
    run: Duration,
    every: Duration,
    progress: &Progress,
) -> Vec<Vec<Sample>> {
    let mut samples = vec![Vec::new(); pids.len()];
    let mut next_line = run / 10;
    for k in 0.. {
        let at = (every * k).min(run);
        tokio::time::sleep_until((start + at).into()).await;
        for (pid, samples) in pids.iter().zip(&mut samples) {
            samples.extend(flat::read(*pid, at));
        }
        if at >= next_line {
            next_line += run / 10;
            let rss: Vec<String> = samples
                .iter()
                .map(|s| {
                    s.last().map_or("–".into(), |s| {
                        format!("{:.1}", s.rss_kib as f64 / 1024.0)
                    })
                })
                .collect();
            eprintln!(
                "adieu-soak: {} of {}: {} requests, {} 5xx, {} accepted after revocation, {} unexpected; RSS MiB {}",
                duration::format(at),
                duration::format(run),
                progress.requests.load(Ordering::Relaxed),
                progress.server_errors.load(Ordering::Relaxed),
                progress.accepted_after_revocation.load(Ordering::Relaxed),
                progress.unexpected.load(Ordering::Relaxed),
                rss.join(" / "),
            );
        }
        if at >= run {
            break;
        }
    }
    samples
}

/// Why the soak failed, in words; empty when it passed.
fn judge(stats: &Stats, verdicts: &[Option<flat::Verdict>]) -> Vec<String> {
    let mut failures = Vec::new();
    let mut count = |n: u64, what: &str| {
        if n > 0 {
            failures.push(format!("{n} {what}"));
        }
    };
    count(stats.server_errors(), "5xx answers");
    count(
        stats.accepted_after_revocation,
        "tokens accepted after their session ended",
    );
    count(
        stats.unexpected(),
        "other unexpected answers or requests without an answer",
    );
    for (i, v) in verdicts.iter().enumerate() {
        let n = i + 1;
        match v {
            None => failures.push(format!("node {n}: too few samples after the warm-up")),
            Some(v) => {
                let (r, f) = (v.rss_kib, v.fds);
                if !r.is_flat() {
                    failures.push(format!(
                        "node {n}'s memory grew after the warm-up: {} → {} KiB, more than the {} KiB allowed",
                        r.warm, r.end, r.allowed
                    ));
                }
                if !f.is_flat() {
                    failures.push(format!(
                        "node {n}'s open descriptors grew after the warm-up: {} → {}, more than the {} allowed",
                        f.warm, f.end, f.allowed
                    ));
                }
            }
        }
    }
    if !failures.is_empty() && !stats.problems.is_empty() {
        failures.push(format!(
            "first problems seen: {}",
            stats.problems.join(" | ")
        ));
    }
    failures
}

/// Every sample, for a closer look at a failed soak: `node,seconds,rss_kib,fds` lines.
fn write_samples(path: &Path, samples: &[Vec<Sample>]) -> anyhow::Result<()> {
    let mut csv = String::from("node,seconds,rss_kib,fds\n");
    for (n, samples) in samples.iter().enumerate() {
        for s in samples {
            let _ = writeln!(
                csv,
                "{},{:.1},{},{}",
                n + 1,
                s.at.as_secs_f64(),
                s.rss_kib,
                s.fds
            );
        }
    }
    std::fs::write(path, csv).with_context(|| format!("writing {}", path.display()))
}

/// Puts `section` in place of the soak's section of `out` (or into a new file).
fn write_section(out: &Path, section: &str) -> anyhow::Result<()> {
    let existing = match std::fs::read_to_string(out) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(e).with_context(|| format!("reading {}", out.display())),
    };
    let text = adieu_harness::markdown::merge(Some(&existing), section, |h| h == report::HEADING);
    std::fs::write(out, text).with_context(|| format!("writing {}", out.display()))
}

/// Date, command, machine, source, PostgreSQL and binary, as one sentence; then whether the
/// machine was quiet.
fn measured(date: &str, postgres: &str, adieu: &Path, others: &OtherLoad) -> String {
    let m = Machine::describe();
    let (cpu, cores, memory, kernel) = (&m.cpu, m.cores, m.memory_gib, &m.kernel);
    let source = m.commit.as_deref().unwrap_or("unknown");
    // Relative to where it ran (the repository root), so that no machine's paths go into the
    // report.
    let here = std::env::current_dir().ok();
    let relative = here.as_deref().and_then(|dir| adieu.strip_prefix(dir).ok());
    let adieu = relative.unwrap_or(adieu);
    format!(
        "Measured on {date} with `{}` on {cpu} ({cores} cores, {memory:.1} GiB, Linux {kernel}), PostgreSQL {postgres}, from source {source}, `adieu` binary {}. Machine quiet: {}.",
        command_line(),
        adieu.display(),
        others.describe(),
    )
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn the_run_lasts_ten_minutes_unless_told_and_warms_up_for_a_fifth() {
        let cli = Cli::try_parse_from(["adieu-soak"]).unwrap();
        assert_eq!(cli.duration, Duration::from_secs(600));
        assert_eq!(cli.warmup().unwrap(), Duration::from_secs(120));
        let cli = Cli::try_parse_from(["adieu-soak", "--duration", "60s"]).unwrap();
        assert_eq!(cli.duration, Duration::from_secs(60));
        assert_eq!(cli.warmup().unwrap(), Duration::from_secs(12));
        let cli = Cli::try_parse_from(["adieu-soak", "--duration", "1h30m", "--warmup", "10m"]);
        let cli = cli.unwrap();
        assert_eq!(cli.duration, Duration::from_secs(5400));
        assert_eq!(cli.warmup().unwrap(), Duration::from_secs(600));
    }

    #[test]
    fn durations_that_cannot_be_judged_are_refused() {
        for bad in ["0s", "soon", "-1m", ""] {
            assert!(
                Cli::try_parse_from(["adieu-soak", "--duration", bad]).is_err(),
                "{bad}"
            );
        }
        // Four samples after the warm-up are too few to judge; five are enough.
        let cli = Cli::try_parse_from(["adieu-soak", "--duration", "10s", "--warmup", "6s"]);
        assert!(cli.unwrap().warmup().is_err());
        let cli = Cli::try_parse_from(["adieu-soak", "--duration", "10s", "--warmup", "5s"]);
        assert!(cli.unwrap().warmup().is_ok());
        let cli = Cli::try_parse_from(["adieu-soak", "--duration", "1m", "--warmup", "2m"]);
        assert!(cli.unwrap().warmup().is_err());
    }

    #[test]
    fn every_count_above_zero_and_every_growth_fails_the_soak() {
        let flat = flat::Growth {
            warm: 100,
            end: 100,
            allowed: 10,
        };
        let grown = flat::Growth { end: 111, ..flat };
        let ok = Some(flat::Verdict {
            rss_kib: flat,
            fds: flat,
        });
        assert!(judge(&Stats::default(), &[ok, ok, ok]).is_empty());
        let leaky = Some(flat::Verdict {
            rss_kib: grown,
            fds: flat,
        });
        let failures = judge(&Stats::default(), &[ok, leaky, None]);
        assert_eq!(failures.len(), 2, "{failures:?}");
        assert!(
            failures[0].starts_with("node 2's memory grew"),
            "{failures:?}"
        );
        assert!(
            failures[1].starts_with("node 3: too few samples"),
            "{failures:?}"
        );
        let stats = Stats {
            accepted_after_revocation: 1,
            problems: vec!["node x accepted".into()],
            ..Stats::default()
        };
        let failures = judge(&stats, &[ok]);
        assert_eq!(failures[0], "1 tokens accepted after their session ended");
        assert!(failures[1].contains("node x accepted"), "{failures:?}");
    }

    #[test]
    fn the_cli_is_well_formed() {
        Cli::command().debug_assert();
    }
}
