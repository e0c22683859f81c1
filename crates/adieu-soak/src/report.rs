//! The soak's section of `BENCHMARKS.md`, and putting it in place of its old self.

use std::fmt::Write as _;
use std::time::Duration;

use adieu_core::duration;

use crate::flat::{self, Sample, Verdict};
use crate::workload::{MIX, Op, Stats};

/// The heading of the soak's section; `adieu-bench` keeps this section when it rewrites the
/// file.
pub(crate) const HEADING: &str = "## Soak: three nodes, mixed workload";

/// Everything the section shows.
pub(crate) struct Soak<'a> {
    /// Date, command, machine, source and PostgreSQL, in one sentence.
    pub(crate) measured: String,
    pub(crate) duration: Duration,
    pub(crate) warmup: Duration,
    pub(crate) workers: u32,
    pub(crate) sessions_per_worker: u32,
    pub(crate) sample_every: Duration,
    pub(crate) stats: &'a Stats,
    /// Per node.
    pub(crate) samples: &'a [Vec<Sample>],
    /// Per node; `None` for too few samples.
    pub(crate) verdicts: &'a [Option<Verdict>],
    /// Why the soak failed; empty when it passed.
    pub(crate) failures: &'a [String],
}

fn mib(kib: u64) -> String {
    format!("{:.1}", kib as f64 / 1024.0)
}

fn ms(v: Option<f64>) -> String {
    v.map_or_else(|| "–".to_owned(), |v| format!("{v:.1}"))
}

fn verdict(pass: bool) -> &'static str {
    if pass { "**PASS**" } else { "**FAIL**" }
}

impl Soak<'_> {
    /// The section, from its heading to the blank line after it.
    pub(crate) fn render(&self) -> String {
        let d = |d: Duration| duration::format(d);
        let mut out = format!("{HEADING}\n\n{}\n\n", self.measured);
        let result = if self.failures.is_empty() {
            "**PASS**".to_owned()
        } else {
            format!("**FAIL**: {}", self.failures.join("; "))
        };
        let _ = writeln!(out, "Result: {result}.\n");
        let mix: Vec<String> = MIX
            .iter()
            .map(|(op, w)| format!("{} {w} %", op.name()))
            .collect();
        let _ = writeln!(
            out,
            "Three `adieu serve` nodes on one fresh PostgreSQL database, with the server's \
             defaults except `{flags}` (no rate limits, and a cheap argon2id so that logins \
             exercise sessions rather than the hash). {workers} clients run for {run}, each \
             with a user of its own registered once and at most {pool} live sessions (a login \
             beyond that logs the oldest out); each picks one operation at a time ({mix}) and \
             sends each request to the next node in turn. After every logout and logout-all \
             that answered 200, and every reused refresh token that answered 401 (which ends \
             its session), every access and refresh token the client holds for that session is \
             presented to all three nodes: any 200 counts as a token accepted after its \
             revocation. Memory and descriptors are read from `/proc` every {every}.\n",
            flags = crate::cluster::NODE_FLAGS.join(" "),
            workers = self.workers,
            run = d(self.duration),
            pool = self.sessions_per_worker,
            mix = mix.join(", "),
            every = d(self.sample_every),
        );
        self.operations(&mut out);
        self.checks(&mut out);
        self.curves(&mut out);
        out
    }

    fn operations(&self, out: &mut String) {
        out.push_str(
            "| operation | requests | 5xx | other unexpected | p50 ms | p99 ms |\n|---|---|---|---|---|---|\n",
        );
        for (op, s) in Op::ALL.iter().zip(&self.stats.ops) {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} |",
                op.label(),
                s.requests,
                s.server_errors,
                s.unexpected,
                ms(s.quantile_ms(0.5)),
                ms(s.quantile_ms(0.99)),
            );
        }
        let _ = writeln!(
            out,
            "| all | {} | {} | {} | | |\n",
            self.stats.requests(),
            self.stats.server_errors(),
            self.stats.unexpected()
        );
    }

    fn checks(&self, out: &mut String) {
        let s = self.stats;
        out.push_str("| must hold | result | bound | verdict |\n|---|---|---|---|\n");
        let _ = writeln!(
            out,
            "| 5xx answers | {} | 0 | {} |",
            s.server_errors(),
            verdict(s.server_errors() == 0)
        );
        let _ = writeln!(
            out,
            "| tokens accepted after their session ended | {} (of {} sessions ended and checked on every node) | 0 | {} |",
            s.accepted_after_revocation,
            s.sessions_ended,
            verdict(s.accepted_after_revocation == 0)
        );
        let _ = writeln!(
            out,
            "| other unexpected answers, and requests without an answer | {} | 0 | {} |",
            s.unexpected(),
            verdict(s.unexpected() == 0)
        );
        let warm = duration::format(self.warmup);
        for (i, v) in self.verdicts.iter().enumerate() {
            let n = i + 1;
            let Some(v) = v else {
                let _ = writeln!(
                    out,
                    "| node {n} memory and descriptors | too few samples after the warm-up | | **FAIL** |"
                );
                continue;
            };
            let (r, f) = (v.rss_kib, v.fds);
            let _ = writeln!(
                out,
                "| node {n} RSS, end of warm-up ({warm}) → end | {} → {} MiB | ≤ +{} MiB | {} |",
                mib(r.warm),
                mib(r.end),
                mib(r.allowed),
                verdict(r.is_flat())
            );
            let _ = writeln!(
                out,
                "| node {n} open descriptors, end of warm-up → end | {} → {} | ≤ +{} | {} |",
                f.warm,
                f.end,
                f.allowed,
                verdict(f.is_flat())
            );
        }
        let _ = writeln!(
            out,
            "\nFlat means: at the end, no node's RSS is more than {pct} % or {slack} MiB \
             (whichever is larger) above its RSS at the end of the warm-up, and no node has \
             more than {fds} descriptors more; each figure is the median of the last {n} \
             samples up to that moment.\n",
            pct = flat::RSS_SLACK_PERCENT,
            slack = flat::RSS_SLACK_KIB / 1024,
            fds = flat::FD_SLACK,
            n = flat::LEVEL_SAMPLES,
        );
    }

    fn curves(&self, out: &mut String) {
        let nodes = self.samples.len();
        let head: Vec<String> = (1..=nodes).map(|n| format!(" node {n} |")).collect();
        let _ = writeln!(
            out,
            "RSS in MiB / open descriptors of each node, every tenth of the run (each the \
             median of the last {} samples):\n\n| elapsed |{}\n|---|{}",
            flat::LEVEL_SAMPLES,
            head.concat(),
            "---|".repeat(nodes)
        );
        for k in 0..=10u32 {
            let at = self.duration * k / 10;
            let mut row = format!("| {} |", duration::format(at));
            for samples in self.samples {
                let rss = flat::level(samples, at, |s| s.rss_kib);
                let fds = flat::level(samples, at, |s| s.fds);
                match (rss, fds) {
                    (Some(r), Some(f)) => {
                        let _ = write!(row, " {} / {f} |", mib(r));
                    }
                    _ => row.push_str(" – |"),
                }
            }
            let _ = writeln!(out, "{row}");
        }
        out.push('\n');
    }
}
