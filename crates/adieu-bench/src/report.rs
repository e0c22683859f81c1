//! The figures of one benchmark run, and how they are written into `BENCHMARKS.md`.
//!
//! Long, because each measurement's table and verdict are written here; giving each
//! measurement a file of its own, with its table beside it, is the planned split.

use std::fmt::Write as _;
use std::time::Duration;

use crate::machine::Machine;
use crate::stats::{Latency, Spread};
use crate::watch::PartLoad;

/// Target of measurement 1: `/api/me` reaches this fraction of `/healthz` with the cache.
pub(crate) const CHECK_RATIO_TARGET: f64 = 0.85;
/// Target of measurement 3: HTTP logins reach this fraction of the argon2id limit.
pub(crate) const LOGIN_FRACTION_TARGET: f64 = 0.9;
/// Target of measurement 6: the app behind nginx and Adieu reaches this fraction of the same
/// app behind nginx alone.
pub(crate) const PROXY_RATIO_TARGET: f64 = 0.6;

/// Everything one run measured.
#[derive(Debug, Default)]
pub(crate) struct Report {
    pub(crate) date: String,
    /// This run's command line, as typed.
    pub(crate) command: String,
    pub(crate) machine: Machine,
    /// Settings of this run, in the order they are shown.
    pub(crate) settings: Vec<(String, String)>,
    /// Cores busy in the seconds before the benchmark started.
    pub(crate) start_busy_cores: Option<f64>,
    /// What other processes used during each part.
    pub(crate) load: Vec<PartLoad>,
    pub(crate) checks: Vec<CheckRow>,
    pub(crate) logouts: Vec<LogoutRow>,
    pub(crate) logins: Vec<LoginRow>,
    pub(crate) overload: Vec<OverloadRow>,
    pub(crate) scale: Vec<ScaleRow>,
    pub(crate) hangup: Option<HangupRow>,
    pub(crate) proxy: Option<ProxyRow>,
    /// Measurement 7, one row per backend.
    pub(crate) introspection: Vec<IntrospectRow>,
    /// Caveats found while measuring, and parts that could not be measured.
    pub(crate) notes: Vec<String>,
}

/// Measurement 1 for one server configuration.
#[derive(Debug, Clone, Default)]
pub(crate) struct CheckRow {
    pub(crate) label: String,
    /// The 0.8 target applies (a configuration with the cache).
    pub(crate) target: bool,
    pub(crate) runs: Vec<CheckRun>,
}

/// `/healthz` then `/api/me` (or the other way round), same load.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct CheckRun {
    /// The bare hello-world server of the benchmark: the ceiling.
    pub(crate) hello_per_sec: f64,
    pub(crate) healthz_per_sec: f64,
    pub(crate) me_per_sec: f64,
    pub(crate) me_latency: Option<Latency>,
    /// Non-2xx answers and transport errors, both endpoints.
    pub(crate) errors: u64,
    /// CPU used by the node during the `/api/me` load, in cores.
    pub(crate) server_cores: f64,
    /// CPU used by the load generator during the `/api/me` load, in cores.
    pub(crate) generator_cores: f64,
    /// CPU used by PostgreSQL during the `/api/me` load, in cores (NaN for SQLite).
    pub(crate) postgres_cores: f64,
}

impl CheckRun {
    /// `/api/me` ÷ `/healthz`.
    pub(crate) fn ratio(&self) -> f64 {
        self.me_per_sec / self.healthz_per_sec
    }

    /// `/api/me` ÷ the bare hello world: what Adieu's check leaves of the ceiling.
    pub(crate) fn me_of_hello(&self) -> f64 {
        self.me_per_sec / self.hello_per_sec
    }

    /// `/healthz` ÷ the bare hello world: Adieu's fixed cost per request.
    pub(crate) fn healthz_of_hello(&self) -> f64 {
        self.healthz_per_sec / self.hello_per_sec
    }
}

/// Measurement 2 for one set-up.
#[derive(Debug, Clone, Default)]
pub(crate) struct LogoutRow {
    pub(crate) label: String,
    pub(crate) runs: Vec<LogoutRun>,
}

/// One run of sequential logouts.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LogoutRun {
    pub(crate) latency: Latency,
    pub(crate) max: Duration,
    pub(crate) samples: usize,
    /// Checks of a logged-out token, on any node, made right after the 200, that were
    /// accepted. The promise is that this is zero.
    pub(crate) accepted_after_logout: u64,
    /// Checks made right after the 200.
    pub(crate) checks_after_logout: u64,
}

/// Measurement 3, steady load below the queue bound, for one server configuration.
#[derive(Debug, Clone, Default)]
pub(crate) struct LoginRow {
    pub(crate) label: String,
    pub(crate) concurrency: usize,
    pub(crate) runs: Vec<LoginRun>,
}

/// One run of back-to-back logins.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct LoginRun {
    /// HTTP logins per second.
    pub(crate) per_sec: f64,
    /// In-process argon2id hashes per second, one thread per core, memory allocated once:
    /// the physical limit, measured just before this run's logins.
    pub(crate) limit: f64,
    /// In-process verifications per second through the server's own hasher, likewise.
    pub(crate) hasher: f64,
    /// CPU used by the node during the logins, in cores.
    pub(crate) server_cores: f64,
    /// CPU used by the load generator during the logins, in cores.
    pub(crate) generator_cores: f64,
    /// CPU used by PostgreSQL during the logins, in cores (NaN for SQLite).
    pub(crate) postgres_cores: f64,
    pub(crate) latency: Option<Latency>,
    /// Non-200 answers and transport errors.
    pub(crate) errors: u64,
}

/// Measurement 3, above the limit.
#[derive(Debug, Clone, Default)]
pub(crate) struct OverloadRow {
    pub(crate) label: String,
    pub(crate) runs: Vec<OverloadRun>,
}

/// One run of logins arriving at a fixed rate above the limit.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct OverloadRun {
    pub(crate) offered_per_sec: f64,
    pub(crate) sent: u64,
    pub(crate) ok: u64,
    pub(crate) too_many: u64,
    /// 429s that carried `Retry-After`.
    pub(crate) with_retry_after: u64,
    pub(crate) other_status: u64,
    pub(crate) timeouts: u64,
    pub(crate) transport_errors: u64,
    /// Arrivals the generator skipped because its own in-flight bound was reached.
    pub(crate) not_sent: u64,
    pub(crate) ok_per_sec: f64,
    pub(crate) ok_latency: Option<Latency>,
    pub(crate) too_many_latency: Option<Latency>,
}

/// Measurement 4 for one backend and one database size.
#[derive(Debug, Clone, Default)]
pub(crate) struct ScaleRow {
    pub(crate) label: String,
    pub(crate) sessions: u64,
    pub(crate) seed_secs: f64,
    /// Repeated checks of a few real logins' tokens, one request at a time.
    pub(crate) hot: Vec<Latency>,
    /// First checks of seeded tokens picked at random, one request at a time.
    pub(crate) cold: Vec<Latency>,
    pub(crate) errors: u64,
    pub(crate) rss_start_kib: Option<u64>,
    pub(crate) rss_end_kib: Option<u64>,
    pub(crate) db_bytes: Option<u64>,
}

/// Measurement 5: one node under a flood of registrations whose clients hang up mid-hash.
#[derive(Debug, Clone, Default)]
pub(crate) struct HangupRow {
    pub(crate) label: String,
    /// The node's `--hash-concurrency` (its default: one per core).
    pub(crate) hash_concurrency: usize,
    /// Working memory of that many hashes at once, the bound above idle.
    pub(crate) bound_kib: u64,
    /// Registrations sent, each hung up on.
    pub(crate) sent: u64,
    /// Connections that could not be opened or written to.
    pub(crate) connection_errors: u64,
    pub(crate) idle_rss_kib: Option<u64>,
    pub(crate) idle_threads: Option<u64>,
    /// Highest reading during the flood and the pause after it.
    pub(crate) peak_rss_kib: Option<u64>,
    pub(crate) peak_threads: Option<u64>,
    /// At the end of the pause after the flood.
    pub(crate) after_rss_kib: Option<u64>,
    /// One login of a registered user before the flood, and after the pause.
    pub(crate) login_before: Option<Duration>,
    /// `None` when it failed (a note says why).
    pub(crate) login_after: Option<Duration>,
}

/// Measurement 6: one node behind nginx.
#[derive(Debug, Clone, Default)]
pub(crate) struct ProxyRow {
    pub(crate) label: String,
    /// `nginx -v`, when it answered.
    pub(crate) nginx: Option<String>,
    pub(crate) runs: Vec<ProxyRun>,
}

/// The unprotected server block then the protected one (or the other way round), same load.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct ProxyRun {
    pub(crate) protected_per_sec: f64,
    pub(crate) plain_per_sec: f64,
    pub(crate) protected_latency: Option<Latency>,
    pub(crate) plain_latency: Option<Latency>,
    /// Non-2xx answers and transport errors, both server blocks.
    pub(crate) errors: u64,
    /// CPU of each process during the unprotected load.
    pub(crate) plain_cpu: ProxyCpu,
    /// CPU of each process during the protected load.
    pub(crate) protected_cpu: ProxyCpu,
}

impl ProxyRun {
    pub(crate) fn ratio(&self) -> f64 {
        self.protected_per_sec / self.plain_per_sec
    }
}

/// Cores used by each process of the proxied stack during one load (NaN when unread).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct ProxyCpu {
    pub(crate) nginx: f64,
    pub(crate) adieu: f64,
    /// The app and the load generator, which share the benchmark's process.
    pub(crate) generator: f64,
}

impl ProxyCpu {
    /// CPU per answered request of each process, in microseconds, at `per_sec` requests.
    fn per_request_us(self, per_sec: f64) -> [f64; 3] {
        [self.nginx, self.adieu, self.generator].map(|cores| cores / per_sec * 1e6)
    }
}

/// Measurement 7 for one backend.
#[derive(Debug, Clone, Default)]
pub(crate) struct IntrospectRow {
    pub(crate) label: String,
    pub(crate) runs: Vec<IntrospectRun>,
}

/// `/api/me` then `/oauth2/introspect` (or the other way round), same tokens, same load.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct IntrospectRun {
    pub(crate) me_per_sec: f64,
    pub(crate) introspect_per_sec: f64,
    pub(crate) me_latency: Option<Latency>,
    pub(crate) introspect_latency: Option<Latency>,
    /// Non-2xx answers and transport errors, both endpoints.
    pub(crate) errors: u64,
}

impl IntrospectRun {
    pub(crate) fn ratio(&self) -> f64 {
        self.introspect_per_sec / self.me_per_sec
    }
}

/// PASS or MISS, never rounded in our favour: the raw median is compared.
fn verdict(pass: bool) -> &'static str {
    if pass { "**PASS**" } else { "**MISS**" }
}

fn spread(s: Option<Spread>, decimals: usize, unit: &str) -> String {
    match s {
        None => "–".to_owned(),
        Some(s) if s.runs == 1 => format!("{:.*}{unit}", decimals, s.median),
        Some(s) => format!(
            "{:.*}{unit} ({:.*}–{:.*})",
            decimals, s.median, decimals, s.min, decimals, s.max
        ),
    }
}

fn ms(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64() * 1000.0)
}

fn mib(kib: Option<u64>) -> String {
    kib.map_or_else(|| "–".to_owned(), |k| format!("{:.1}", k as f64 / 1024.0))
}

impl Report {
    /// One figure of every login run, all servers together.
    fn login_runs(&self, f: impl Fn(&LoginRun) -> f64) -> Option<Spread> {
        Spread::of(self.logins.iter().flat_map(|row| row.runs.iter().map(&f)))
    }

    /// The report as Markdown.
    pub(crate) fn render(&self) -> String {
        let mut out = String::new();
        self.render_head(&mut out);
        self.render_summary(&mut out);
        self.render_checks(&mut out);
        self.render_logouts(&mut out);
        self.render_logins(&mut out);
        self.render_scale(&mut out);
        self.render_hangup(&mut out);
        self.render_proxy(&mut out);
        if !self.introspection.is_empty() {
            self.render_introspection(&mut out);
        }
        self.render_notes(&mut out, "## Notes\n\n");
        out
    }

    /// Measurement 5 alone, for a run of that part only, spliced into the report that is
    /// already there: it says when and how it was measured, as the file's head does not.
    pub(crate) fn splice_hangup(&self, existing: &str) -> String {
        self.splice_alone(existing, HANGUP_HEADING, Self::render_hangup)
    }

    /// Measurement 6 alone, spliced likewise.
    pub(crate) fn splice_proxy(&self, existing: &str) -> String {
        self.splice_alone(existing, PROXY_HEADING, Self::render_proxy)
    }

    /// Measurement 7 alone, spliced likewise.
    pub(crate) fn splice_introspection(&self, existing: &str) -> String {
        self.splice_alone(existing, INTROSPECT_HEADING, Self::render_introspection)
    }

    fn render_introspection(&self, out: &mut String) {
        let _ = write!(
            out,
            "{INTROSPECT_HEADING}

             One node with the cache on, four access tokens of real logins, and one client made              on the admin API. *Introspection*: `POST /oauth2/introspect` with the client's              HTTP Basic credentials and `token=…` as a form, which a resource server sends for              every request it serves. *`/api/me`*: `GET` with the same tokens. Same load as              measurement 1, one after the other, alternating which goes first.\n\n\
             | server | `/api/me` req/s | introspection req/s | ratio (target ≥ {INTROSPECT_RATIO_TARGET:.2}) | `/api/me` p50 / p99 ms | introspection p50 / p99 ms | errors | verdict |\n\
             |---|---|---|---|---|---|---|---|\n"
        );
        for row in &self.introspection {
            let r = &row.runs;
            let ratio = Spread::of(r.iter().map(IntrospectRun::ratio));
            let lat = |f: fn(&IntrospectRun) -> Option<Latency>, p99: bool| {
                spread(
                    Spread::of_millis(
                        r.iter()
                            .filter_map(f)
                            .map(|l| if p99 { l.p99 } else { l.p50 }),
                    ),
                    2,
                    "",
                )
            };
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} / {} | {} / {} | {} | {} |",
                row.label,
                spread(Spread::of(r.iter().map(|x| x.me_per_sec)), 0, ""),
                spread(Spread::of(r.iter().map(|x| x.introspect_per_sec)), 0, ""),
                spread(ratio, 2, ""),
                lat(|x| x.me_latency, false),
                lat(|x| x.me_latency, true),
                lat(|x| x.introspect_latency, false),
                lat(|x| x.introspect_latency, true),
                r.iter().map(|x| x.errors).sum::<u64>(),
                ratio.map_or("not measured", |s| verdict(
                    s.median >= INTROSPECT_RATIO_TARGET
                )),
            );
        }
        out.push('\n');
    }

    fn splice_alone(
        &self,
        existing: &str,
        heading: &str,
        render: fn(&Self, &mut String),
    ) -> String {
        let mut section = String::new();
        render(self, &mut section);
        let _ = writeln!(
            section,
            "Measured on its own on {}, from source {}: `{}`. Other processes used {}.\n",
            self.date,
            self.machine.commit.as_deref().unwrap_or("unknown"),
            self.command,
            self.load
                .first()
                .map_or("an unknown share of the CPU".to_owned(), |l| format!(
                    "{:.2} cores on average, {:.2} in the busiest half-second",
                    l.avg_cores(),
                    l.max_cores
                )),
        );
        self.render_notes(&mut section, "Notes of that run:\n\n");
        splice_section(existing, heading, &section)
    }

    fn render_notes(&self, out: &mut String, heading: &str) {
        if !self.notes.is_empty() {
            out.push_str(heading);
            for note in &self.notes {
                let _ = writeln!(out, "- {note}");
            }
            out.push('\n');
        }
    }

    fn render_head(&self, out: &mut String) {
        let m = &self.machine;
        let _ = write!(
            out,
            "# Benchmarks\n\n\
             Written by `adieu-bench` on {date}. To measure again, from the repository root:\n\n\
             ```sh\n\
             cargo build --release --workspace && target/release/adieu-bench --out BENCHMARKS.md\n\
             ```\n\n\
             This run was: `{command}`\n\n\
             Every figure is the **median of the runs, with the lowest and highest run in \
             brackets**. The load generator is its own process on the same machine, talking \
             to `adieu serve` processes (release build) over 127.0.0.1; with only a few \
             cores, client, server and PostgreSQL share them, so absolute figures are lower \
             than on a dedicated server and ratios are the meaningful part.\n\n\
             ## Machine\n\n\
             | | |\n|---|---|\n\
             | CPU | {cpu} |\n\
             | cores | {cores} |\n\
             | memory | {mem:.1} GiB |\n\
             | OS | {os}, Linux {kernel} |\n\
             | rustc | {rustc} |\n\
             | PostgreSQL | {pg} |\n\
             | source | {commit} |\n",
            date = self.date,
            command = self.command,
            cpu = m.cpu,
            cores = m.cores,
            mem = m.memory_gib,
            os = m.os,
            kernel = m.kernel,
            rustc = m.rustc,
            pg = m.postgres.as_deref().unwrap_or("not available"),
            commit = match m.commit.as_deref() {
                None => "unknown".to_owned(),
                Some(c) if c.ends_with("-dirty") => {
                    format!("{c} (the working tree had uncommitted changes)")
                }
                Some(c) => c.to_owned(),
            },
        );
        let quiet = self.start_busy_cores.is_none_or(|c| c < 0.1)
            && self.load.iter().all(PartLoad::is_quiet);
        let mut seen = Vec::new();
        if let Some(c) = self.start_busy_cores {
            seen.push(format!("before the start {c:.2}"));
        }
        for l in &self.load {
            let mut entry = format!("{} {:.2} / {:.2}", l.part, l.avg_cores(), l.max_cores);
            let named: Vec<String> = l
                .top
                .iter()
                .filter(|(_, secs)| *secs >= 1.0)
                .map(|(name, secs)| format!("{name} {secs:.0} s"))
                .collect();
            if !named.is_empty() {
                entry.push_str(&format!(" ({})", named.join(", ")));
            }
            seen.push(entry);
        }
        let _ = writeln!(
            out,
            "| machine quiet | {} (CPU used by other processes, in cores, average / busiest \
             half-second of each part; PostgreSQL is not counted, as it serves the benchmark \
             too: {}) |\n",
            if quiet { "yes" } else { "**no**" },
            if seen.is_empty() {
                "not measured".to_owned()
            } else {
                seen.join("; ")
            },
        );
        out.push_str("Settings of this run: ");
        let settings: Vec<String> = self
            .settings
            .iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect();
        out.push_str(&settings.join("; "));
        out.push_str(".\n\n");
    }

    fn render_summary(&self, out: &mut String) {
        out.push_str("## Targets\n\n| measure | target | result | verdict |\n|---|---|---|---|\n");
        for row in self.checks.iter().filter(|r| r.target) {
            let s = Spread::of(row.runs.iter().map(CheckRun::me_of_hello));
            let _ = writeln!(
                out,
                "| `/api/me` ÷ bare hello world req/s, {} | ≥ {CHECK_RATIO_TARGET:.2} | {} | {} |",
                row.label,
                spread(s, 2, ""),
                s.map_or("not measured", |s| verdict(s.median >= CHECK_RATIO_TARGET)),
            );
        }
        for row in &self.logins {
            // Each run against the limit measured in the same run.
            let fraction = Spread::of(row.runs.iter().map(|r| 100.0 * r.per_sec / r.limit));
            let _ = writeln!(
                out,
                "| HTTP logins/s ÷ in-process argon2id limit, {} | ≥ {:.0} % | {} | {} |",
                row.label,
                LOGIN_FRACTION_TARGET * 100.0,
                spread(fraction, 1, " %"),
                fraction.map_or("not measured", |f| {
                    verdict(f.median >= LOGIN_FRACTION_TARGET * 100.0)
                }),
            );
        }
        for row in &self.overload {
            let total = row
                .runs
                .iter()
                .fold(OverloadRun::default(), |a, r| OverloadRun {
                    too_many: a.too_many + r.too_many,
                    with_retry_after: a.with_retry_after + r.with_retry_after,
                    timeouts: a.timeouts + r.timeouts,
                    transport_errors: a.transport_errors + r.transport_errors,
                    other_status: a.other_status + r.other_status,
                    ..a
                });
            let clean = total.timeouts + total.transport_errors + total.other_status == 0
                && total.with_retry_after == total.too_many;
            let result = format!(
                "{} × 429 ({} with Retry-After), {} timeouts, {} connection errors, {} other statuses",
                total.too_many,
                total.with_retry_after,
                total.timeouts,
                total.transport_errors,
                total.other_status
            );
            let v = if total.too_many == 0 {
                "**NOT REACHED** (no 429 at this load)"
            } else {
                verdict(clean)
            };
            let _ = writeln!(
                out,
                "| logins above the limit, {}: clean 429s, no timeouts | every refusal a 429 with Retry-After; 0 timeouts, 0 errors | {result} | {v} |",
                row.label
            );
        }
        if let Some(row) = &self.proxy {
            let s = Spread::of(row.runs.iter().map(ProxyRun::ratio));
            let _ = writeln!(
                out,
                "| app behind nginx and Adieu ÷ behind nginx alone, req/s, {} | ≥ {PROXY_RATIO_TARGET:.2} | {} | {} |",
                row.label,
                spread(s, 2, ""),
                s.map_or("not measured", |s| verdict(s.median >= PROXY_RATIO_TARGET)),
            );
        }
        for row in &self.introspection {
            let s = Spread::of(row.runs.iter().map(IntrospectRun::ratio));
            let _ = writeln!(
                out,
                "| `/oauth2/introspect` ÷ `/api/me` req/s, {} | ≥ {INTROSPECT_RATIO_TARGET:.2} | {} | {} |",
                row.label,
                spread(s, 2, ""),
                s.map_or("not measured", |s| verdict(
                    s.median >= INTROSPECT_RATIO_TARGET
                )),
            );
        }
        for row in &self.logouts {
            let accepted: u64 = row.runs.iter().map(|r| r.accepted_after_logout).sum();
            let checks: u64 = row.runs.iter().map(|r| r.checks_after_logout).sum();
            if checks == 0 {
                continue;
            }
            let _ = writeln!(
                out,
                "| token accepted right after logout's 200, {} | 0 | {accepted} of {checks} checks | {} |",
                row.label,
                verdict(accepted == 0)
            );
        }
        out.push('\n');
    }

    fn render_checks(&self, out: &mut String) {
        out.push_str(
            "## 1. Check throughput: `GET /api/me` against the ceiling\n\n\
             Same load (a fixed number of keep-alive connections, each sending its next \
             request as soon as the answer arrives) on three targets, one after the other, \
             the order rotating from run to run: *hello*, the benchmark's own bare axum hello \
             world in a process of its own, with the server's runtime, HTTP settings and \
             allocator and nothing else (the physical ceiling of this machine for an axum \
             server); Adieu's `/healthz` (every layer, no storage); and `/api/me`, which \
             validates a bearer token of a real login.\n\n\
             | server | hello req/s | `/healthz` req/s | `/api/me` req/s | `/api/me` ÷ hello | `/healthz` ÷ hello | `/api/me` ÷ `/healthz` | `/api/me` p50 / p99 ms | server CPU (cores) | PostgreSQL CPU (cores) | load generator CPU (cores) | errors |\n\
             |---|---|---|---|---|---|---|---|---|---|---|---|\n",
        );
        for row in &self.checks {
            let r = &row.runs;
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} | {} | {} / {} | {} | {} | {} | {} |",
                row.label,
                spread(Spread::of(r.iter().map(|x| x.hello_per_sec)), 0, ""),
                spread(Spread::of(r.iter().map(|x| x.healthz_per_sec)), 0, ""),
                spread(Spread::of(r.iter().map(|x| x.me_per_sec)), 0, ""),
                spread(Spread::of(r.iter().map(CheckRun::me_of_hello)), 2, ""),
                spread(Spread::of(r.iter().map(CheckRun::healthz_of_hello)), 2, ""),
                spread(Spread::of(r.iter().map(CheckRun::ratio)), 2, ""),
                spread(
                    Spread::of_millis(r.iter().filter_map(|x| x.me_latency.map(|l| l.p50))),
                    2,
                    ""
                ),
                spread(
                    Spread::of_millis(r.iter().filter_map(|x| x.me_latency.map(|l| l.p99))),
                    2,
                    ""
                ),
                spread(Spread::of(r.iter().map(|x| x.server_cores)), 2, ""),
                spread(Spread::of(r.iter().map(|x| x.postgres_cores)), 2, ""),
                spread(Spread::of(r.iter().map(|x| x.generator_cores)), 2, ""),
                r.iter().map(|x| x.errors).sum::<u64>(),
            );
        }
        out.push('\n');
    }

    fn render_logouts(&self, out: &mut String) {
        out.push_str(
            "## 2. Logout latency\n\n\
             One logout at a time, no other load. Before each logout the token is checked on \
             every node (so that nodes with a cache hold it); the logout goes to the first \
             node; the moment its 200 arrives, the token is checked again on every node.\n\n\
             | set-up | p50 ms | p99 ms | slowest ms | logouts | accepted after the 200 |\n\
             |---|---|---|---|---|---|\n",
        );
        for row in &self.logouts {
            let r = &row.runs;
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} of {} |",
                row.label,
                spread(Spread::of_millis(r.iter().map(|x| x.latency.p50)), 2, ""),
                spread(Spread::of_millis(r.iter().map(|x| x.latency.p99)), 2, ""),
                spread(Spread::of_millis(r.iter().map(|x| x.max)), 2, ""),
                r.iter().map(|x| x.samples).sum::<usize>(),
                r.iter().map(|x| x.accepted_after_logout).sum::<u64>(),
                r.iter().map(|x| x.checks_after_logout).sum::<u64>(),
            );
        }
        out.push('\n');
    }

    fn render_logins(&self, out: &mut String) {
        let _ = write!(
            out,
            "## 3. Login throughput against the argon2id limit\n\n\
             **The limit:** argon2id hashes per second at the server's default parameters \
             (m = 19456 KiB, t = 2, p = 1) on all cores, measured in this process with one \
             thread per core and each thread's memory allocated once, no HTTP: **{} /s**. \
             Through the server's own hasher (`PasswordHasher`, bounded and on the blocking \
             pool as in the server), still in-process and without HTTP: {} /s.\n\n\
             **Below the limit:** a fixed number of clients log the same user in back to back \
             (fewer than the hash queue admits, so none is turned away). Each run measures \
             the limit and the server's hasher in-process first, then the HTTP logins, and \
             compares the logins with the limit of the same run: the speed of this machine's \
             cores drifts from minute to minute by more than the 10 % the target allows.\n\n\
             | server | clients | limit /s | logins/s | % of the limit | % of the server's hasher | p50 / p99 ms | server CPU (cores) | PostgreSQL CPU (cores) | load generator CPU (cores) | errors |\n\
             |---|---|---|---|---|---|---|---|---|---|---|\n",
            spread(self.login_runs(|r| r.limit), 1, ""),
            spread(self.login_runs(|r| r.hasher), 1, ""),
        );
        for row in &self.logins {
            let r = &row.runs;
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} | {} / {} | {} | {} | {} | {} |",
                row.label,
                row.concurrency,
                spread(Spread::of(r.iter().map(|x| x.limit)), 1, ""),
                spread(Spread::of(r.iter().map(|x| x.per_sec)), 1, ""),
                spread(
                    Spread::of(r.iter().map(|x| 100.0 * x.per_sec / x.limit)),
                    1,
                    " %"
                ),
                spread(
                    Spread::of(r.iter().map(|x| 100.0 * x.per_sec / x.hasher)),
                    1,
                    " %"
                ),
                spread(
                    Spread::of_millis(r.iter().filter_map(|x| x.latency.map(|l| l.p50))),
                    0,
                    ""
                ),
                spread(
                    Spread::of_millis(r.iter().filter_map(|x| x.latency.map(|l| l.p99))),
                    0,
                    ""
                ),
                spread(Spread::of(r.iter().map(|x| x.server_cores)), 2, ""),
                spread(Spread::of(r.iter().map(|x| x.postgres_cores)), 2, ""),
                spread(Spread::of(r.iter().map(|x| x.generator_cores)), 2, ""),
                r.iter().map(|x| x.errors).sum::<u64>(),
            );
        }
        if let (Some(h), Some(v)) = (
            self.login_runs(|r| 100.0 * r.hasher / r.limit),
            self.login_runs(|r| 100.0 * r.per_sec / r.hasher),
        ) {
            let _ = writeln!(
                out,
                "\nWithout HTTP, the server's hasher reaches {:.0} % of the limit; HTTP logins \
                 reach {:.0} % of the server's hasher (medians of all runs).",
                h.median, v.median
            );
        }
        out.push_str(
            "\n**Above the limit:** logins arrive at a fixed rate above the limit, whether or \
             not earlier ones were answered (each request gives up after its timeout). The \
             server should answer what it can and turn the rest away at once with 429 and \
             `Retry-After`, never leave a request hanging.\n\n\
             | server | offered/s | sent | 200 | 429 (with Retry-After) | other | timeouts | connection errors | 200/s | 200 p99 ms | 429 p99 ms |\n\
             |---|---|---|---|---|---|---|---|---|---|---|\n",
        );
        for row in &self.overload {
            for run in &row.runs {
                let _ = writeln!(
                    out,
                    "| {} | {:.1} | {} | {} | {} ({}) | {} | {} | {} | {:.1} | {} | {} |",
                    row.label,
                    run.offered_per_sec,
                    run.sent,
                    run.ok,
                    run.too_many,
                    run.with_retry_after,
                    run.other_status,
                    run.timeouts,
                    run.transport_errors,
                    run.ok_per_sec,
                    run.ok_latency.map_or("–".to_owned(), |l| ms(l.p99)),
                    run.too_many_latency.map_or("–".to_owned(), |l| ms(l.p99)),
                );
            }
        }
        if self
            .overload
            .iter()
            .any(|r| r.runs.iter().any(|x| x.not_sent > 0))
        {
            out.push_str(
                "\nSome arrivals were not sent because the load generator's own bound on \
                 requests in flight was reached; they are not counted above.\n",
            );
        }
        out.push('\n');
    }

    fn render_scale(&self, out: &mut String) {
        out.push_str(
            "## 4. Scale: 1,000 versus 1,000,000 live sessions\n\n\
             Sessions (each with an access and a refresh token, ten per user) are written \
             straight into the database, then the node is started afresh and a few real users \
             log in. *Hot*: the same few real tokens checked over and over. *Cold*: tokens of \
             seeded sessions picked at random, each checked for the first time. One request \
             at a time, so these are latencies without queueing. Memory is the node's resident \
             set (`VmRSS`) before the checks (after start and the few logins, whose argon2id \
             memory the allocator keeps) and after them.\n\n\
             | server | live sessions | hot p50 / p99 ms | cold p50 / p99 ms | RSS before checks MiB | RSS after checks MiB | database MiB | errors |\n\
             |---|---|---|---|---|---|---|---|\n",
        );
        for row in &self.scale {
            let lat = |v: &[Latency], f: fn(&Latency) -> Duration| {
                spread(Spread::of_millis(v.iter().map(f)), 2, "")
            };
            let _ = writeln!(
                out,
                "| {} | {} | {} / {} | {} / {} | {} | {} | {} | {} |",
                row.label,
                thousands(row.sessions),
                lat(&row.hot, |l| l.p50),
                lat(&row.hot, |l| l.p99),
                lat(&row.cold, |l| l.p50),
                lat(&row.cold, |l| l.p99),
                mib(row.rss_start_kib),
                mib(row.rss_end_kib),
                row.db_bytes
                    .map_or("–".to_owned(), |b| format!("{:.0}", b as f64 / 1048576.0)),
                row.errors,
            );
        }
        out.push('\n');
    }

    fn render_hangup(&self, out: &mut String) {
        use crate::measure::hangup::{AFTER, CLIENTS, FLOOD, HANG_UP_AFTER};
        let _ = write!(
            out,
            "{HANGUP_HEADING}\n\n\
             One node with the server's defaults (argon2id m = 19456 KiB, t = 2; default hash \
             concurrency and queue; only the rate limits off). {CLIENTS} clients, for {} s, \
             each in a loop: connect, send `POST /api/register` with a fresh name and a valid \
             password, hang up {} ms later, long before the hash is done. The node's resident \
             memory (`VmRSS`) and threads are read every 50 ms during the flood and for {} s \
             after it. A hang-up must not free the client's place in the hasher before \
             argon2 has finished with its memory, so the peak must stay within hash \
             concurrency × 19 MiB of idle (idle: after one registration and one login). \
             Then one login of a user registered before the flood, timed alone.\n\n\
             | server | hash concurrency | registrations sent (connection errors) | RSS idle MiB | RSS peak MiB | peak above idle MiB | bound above idle MiB | RSS {} s after MiB | threads idle / peak | one login before / after ms | within the bound |\n\
             |---|---|---|---|---|---|---|---|---|---|---|\n",
            FLOOD.as_secs(),
            HANG_UP_AFTER.as_millis(),
            AFTER.as_secs(),
            AFTER.as_secs(),
        );
        if let Some(h) = &self.hangup {
            let above = h
                .peak_rss_kib
                .zip(h.idle_rss_kib)
                .map(|(p, i)| p.saturating_sub(i));
            let opt = |n: Option<u64>| n.map_or("–".to_owned(), |n| n.to_string());
            let _ = writeln!(
                out,
                "| {} | {} | {} ({}) | {} | {} | {} | {} | {} | {} / {} | {} / {} | {} |",
                h.label,
                h.hash_concurrency,
                thousands(h.sent),
                h.connection_errors,
                mib(h.idle_rss_kib),
                mib(h.peak_rss_kib),
                mib(above),
                mib(Some(h.bound_kib)),
                mib(h.after_rss_kib),
                opt(h.idle_threads),
                opt(h.peak_threads),
                h.login_before.map_or("–".to_owned(), ms),
                h.login_after.map_or("**failed**".to_owned(), ms),
                above.map_or("not measured", |a| verdict(a <= h.bound_kib)),
            );
        }
        out.push('\n');
    }

    fn render_proxy(&self, out: &mut String) {
        let _ = write!(
            out,
            "{PROXY_HEADING}\n\n\
             One node (SQLite, cache on), a tiny app of the benchmark's own that answers 200 \
             \"ok\" to everything, and nginx ({}) in one process running \
             `examples/nginx/adieu.conf` with only its ports changed. *Protected*: `GET /` with \
             `Host: app.example.com` and a bearer token of a real login, through the example's \
             server, which asks Adieu (`auth_request`) before every request. *Unprotected*: the \
             same request without the token through a server block the benchmark adds beside \
             the example, which proxies to the same app with no `auth_request`. Same load as \
             measurement 1, one after the other, alternating which goes first. The app and the \
             load generator share this process; nginx, the node and the generator share the \
             machine's cores.\n\n\
             | server | unprotected req/s | protected req/s | ratio (target ≥ {PROXY_RATIO_TARGET:.2}) | unprotected p50 / p99 ms | protected p50 / p99 ms | errors | verdict |\n\
             |---|---|---|---|---|---|---|---|\n",
            self.proxy
                .as_ref()
                .and_then(|p| p.nginx.as_deref())
                .unwrap_or("version unknown"),
        );
        if let Some(row) = &self.proxy {
            let r = &row.runs;
            let ratio = Spread::of(r.iter().map(ProxyRun::ratio));
            let lat = |f: fn(&ProxyRun) -> Option<Latency>, p99: bool| {
                spread(
                    Spread::of_millis(
                        r.iter()
                            .filter_map(f)
                            .map(|l| if p99 { l.p99 } else { l.p50 }),
                    ),
                    2,
                    "",
                )
            };
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} / {} | {} / {} | {} | {} |",
                row.label,
                spread(Spread::of(r.iter().map(|x| x.plain_per_sec)), 0, ""),
                spread(Spread::of(r.iter().map(|x| x.protected_per_sec)), 0, ""),
                spread(ratio, 2, ""),
                lat(|x| x.plain_latency, false),
                lat(|x| x.plain_latency, true),
                lat(|x| x.protected_latency, false),
                lat(|x| x.protected_latency, true),
                r.iter().map(|x| x.errors).sum::<u64>(),
                ratio.map_or("not measured", |s| verdict(s.median >= PROXY_RATIO_TARGET)),
            );
        }
        self.render_proxy_cpu(out);
    }

    /// What a request costs each process, with and without protection: what the difference
    /// between the two rates is made of.
    fn render_proxy_cpu(&self, out: &mut String) {
        let Some(row) = &self.proxy else {
            return;
        };
        let r = &row.runs;
        let median_us = |protected: bool| -> [Option<f64>; 3] {
            std::array::from_fn(|i| {
                Spread::of(r.iter().map(|x| {
                    let (cpu, rate) = if protected {
                        (x.protected_cpu, x.protected_per_sec)
                    } else {
                        (x.plain_cpu, x.plain_per_sec)
                    };
                    cpu.per_request_us(rate)[i]
                }))
                .map(|s| s.median)
            })
        };
        let (plain, protected) = (median_us(false), median_us(true));
        let us = |v: Option<f64>| v.map_or("–".to_owned(), |v| format!("{v:.1}"));
        let total = |v: [Option<f64>; 3]| v.iter().copied().sum::<Option<f64>>();
        let _ = writeln!(
            out,
            "\nCPU per answered request, in microseconds (median of the runs; the three \
             processes' user and system time over the load, divided by the requests answered):\n\n\
             | load | nginx | Adieu | app and load generator | all | cores busy |\n\
             |---|---|---|---|---|---|"
        );
        for (name, v, protected) in [
            ("unprotected", plain, false),
            ("protected", protected, true),
        ] {
            let busy = Spread::of(r.iter().map(|x| {
                let c = if protected {
                    x.protected_cpu
                } else {
                    x.plain_cpu
                };
                c.nginx + c.adieu + c.generator
            }));
            let _ = writeln!(
                out,
                "| {name} | {} | {} | {} | {} | {} |",
                us(v[0]),
                us(v[1]),
                us(v[2]),
                us(total(v)),
                spread(busy, 2, ""),
            );
        }
        let (Some(all_plain), Some(all_protected), Some(nginx_plain), Some(nginx_protected)) =
            (total(plain), total(protected), plain[0], protected[0])
        else {
            out.push('\n');
            return;
        };
        let extra = all_protected - all_plain;
        let nginx_extra = nginx_protected - nginx_plain;
        let adieu = protected[1].unwrap_or(f64::NAN);
        let _ = writeln!(
            out,
            "\nWhat the difference is made of: a protected request costs the machine {extra:.1} µs \
             more CPU than an unprotected one ({all_protected:.1} against {all_plain:.1}). Of \
             that, nginx's `auth_request` subrequest (a second HTTP hop, over a kept-alive \
             connection) is {nginx_extra:.1} µs and Adieu's whole answer (HTTP, the token's \
             hash, the cache lookup) is {adieu:.1} µs; the rest is the app and generator \
             process, whose work is the same in both loads. The rate of a closed loop that keeps \
             the cores nearly busy follows the CPU per request, so the ratio comes out near the \
             CPU figures' {all_plain:.1} ÷ {all_protected:.1} = {:.2}. Even a check that cost \
             Adieu nothing would leave nginx's second hop, so protection behind nginx cannot be \
             free.\n",
            all_plain / all_protected
        );
    }
}

const HANGUP_HEADING: &str = "## 5. Clients that hang up in the middle of a hash";
const INTROSPECT_HEADING: &str =
    "## 7. Introspection for resource servers: `/oauth2/introspect` versus `/api/me`";
/// Introspection ÷ `/api/me`.
const INTROSPECT_RATIO_TARGET: f64 = 0.8;
const PROXY_HEADING: &str = "## 6. Protecting an app behind nginx: with Adieu versus without";

/// `existing` with its `heading` section (up to the next `## `) replaced by `section`, or
/// with `section` put before the notes (or at the end) when it has none.
fn splice_section(existing: &str, heading: &str, section: &str) -> String {
    let next_after = |from: usize| {
        existing[from..]
            .find("\n## ")
            .map_or(existing.len(), |i| from + i + 1)
    };
    let (start, end) = match existing.find(&format!("\n{heading}\n")) {
        Some(i) => (i + 1, next_after(i + 1)),
        None => {
            let at = existing
                .find("\n## Notes\n")
                .map_or(existing.len(), |i| i + 1);
            (at, at)
        }
    };
    let mut out = existing[..start].to_owned();
    if !out.is_empty() && !out.ends_with("\n\n") {
        out.push('\n');
    }
    out.push_str(section);
    out.push_str(&existing[end..]);
    out
}

/// `1000000` → `1,000,000`.
pub(crate) fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A run whose hello ceiling is the `/healthz` figure.
    fn check(healthz: f64, me: f64) -> CheckRun {
        CheckRun {
            hello_per_sec: healthz,
            healthz_per_sec: healthz,
            me_per_sec: me,
            ..CheckRun::default()
        }
    }

    fn sample_report() -> Report {
        Report {
            date: "2026-01-01 00:00 UTC".into(),
            command: "adieu-bench --out BENCHMARKS.md".into(),
            machine: Machine {
                cpu: "Test CPU".into(),
                cores: 2,
                ..Machine::default()
            },
            checks: vec![
                CheckRow {
                    label: "PostgreSQL, cache on".into(),
                    target: true,
                    runs: vec![
                        check(1000.0, 850.0),
                        check(1000.0, 700.0),
                        check(1000.0, 900.0),
                    ],
                },
                CheckRow {
                    label: "PostgreSQL, cache off".into(),
                    target: false,
                    runs: vec![check(1000.0, 300.0)],
                },
            ],
            logins: vec![LoginRow {
                label: "SQLite".into(),
                concurrency: 8,
                runs: vec![LoginRun {
                    per_sec: 30.0,
                    limit: 41.0,
                    hasher: 40.0,
                    ..LoginRun::default()
                }],
            }],
            overload: vec![OverloadRow {
                label: "SQLite".into(),
                runs: vec![OverloadRun {
                    too_many: 100,
                    with_retry_after: 100,
                    timeouts: 0,
                    ..OverloadRun::default()
                }],
            }],
            ..Report::default()
        }
    }

    #[test]
    fn the_summary_judges_medians_against_the_targets_and_shows_misses() {
        let md = sample_report().render();
        // Ratios 0.70, 0.85, 0.90: median 0.85 passes, the spread shows the weak run.
        assert!(
            md.contains(
                "| `/api/me` ÷ bare hello world req/s, PostgreSQL, cache on | ≥ 0.85 | 0.85 (0.70–0.90) | **PASS** |"
            ),
            "{md}"
        );
        // No target for the configuration without the cache.
        assert!(!md.contains("req/s, PostgreSQL, cache off |"), "{md}");
        // 30 of a 41/s limit is 73 %: a miss, and it says so.
        assert!(
            md.contains(
                "| HTTP logins/s ÷ in-process argon2id limit, SQLite | ≥ 90 % | 73.2 % | **MISS** |"
            ),
            "{md}"
        );
        assert!(
            md.contains("100 × 429 (100 with Retry-After), 0 timeouts"),
            "{md}"
        );
        assert!(md.contains("| CPU | Test CPU |"), "{md}");
    }

    #[test]
    fn an_overload_that_never_saw_a_429_is_not_reported_as_a_pass() {
        let mut report = sample_report();
        report.overload[0].runs[0].too_many = 0;
        let md = report.render();
        assert!(md.contains("**NOT REACHED**"), "{md}");
    }

    #[test]
    fn a_machine_seen_busy_is_flagged() {
        let mut report = sample_report();
        report.start_busy_cores = Some(0.01);
        report.load = vec![PartLoad {
            part: "checks".into(),
            seconds: 60.0,
            foreign_core_secs: 30.0,
            max_cores: 1.5,
            top: vec![("rustc".into(), 25.0), ("cargo".into(), 0.5)],
        }];
        let md = report.render();
        assert!(md.contains("| machine quiet | **no**"), "{md}");
        assert!(md.contains("checks 0.50 / 1.50 (rustc 25 s)"), "{md}");
    }

    #[test]
    fn a_spliced_section_replaces_its_old_self_and_keeps_the_rest() {
        let h = HANGUP_HEADING;
        let old = "# B\n\n## 4. Scale\n\nfour\n\n## Notes\n\n- n\n";
        let new = format!("{h}\n\nnew\n\n");
        let once = splice_section(old, h, &new);
        assert_eq!(
            once,
            format!("# B\n\n## 4. Scale\n\nfour\n\n{new}## Notes\n\n- n\n")
        );
        let newer = format!("{h}\n\nnewer\n\n");
        let twice = splice_section(&once, h, &newer);
        assert_eq!(twice, once.replace(&new, &newer));
        assert_eq!(splice_section("# B\n", h, &new), format!("# B\n\n{new}"));
    }

    #[test]
    fn the_proxy_section_judges_the_median_ratio_and_splices_alone() {
        let run = |plain: f64, protected: f64| ProxyRun {
            plain_per_sec: plain,
            protected_per_sec: protected,
            ..ProxyRun::default()
        };
        let report = Report {
            proxy: Some(ProxyRow {
                label: "SQLite, cache on".into(),
                nginx: Some("nginx/1.22.1".into()),
                runs: vec![run(1000.0, 500.0), run(1000.0, 700.0), run(1000.0, 650.0)],
            }),
            ..Report::default()
        };
        let mut section = String::new();
        report.render_proxy(&mut section);
        assert!(section.contains("| 0.65 (0.50–0.70) |"), "{section}");
        assert!(section.contains("**PASS**"), "{section}");
        let existing = "# B\n\n## 5. Five\n\nfive\n\n## Notes\n\n- n\n";
        let spliced = report.splice_proxy(existing);
        assert!(spliced.starts_with("# B\n\n## 5. Five\n\nfive\n\n## 6. "));
        assert!(spliced.ends_with("## Notes\n\n- n\n"));
    }

    #[test]
    fn large_counts_get_thousands_separators() {
        assert_eq!(thousands(1_000_000), "1,000,000");
        assert_eq!(thousands(1_000), "1,000");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(0), "0");
    }
}
