//! The report: the head (machine, settings, how quiet the machine was), the targets, each
//! measurement's section as it rendered itself, and the notes; and the table helpers that
//! every section uses.

use std::fmt::Write as _;
use std::time::Duration;

use crate::machine::Machine;
use crate::stats::{Latency, Spread};
use crate::watch::PartLoad;

/// One measurement as written into the report.
#[derive(Debug, Clone, Default)]
pub(crate) struct Section {
    /// `## N. …`, the line that [`splice`] looks for.
    pub(crate) heading: String,
    /// Everything after the heading.
    pub(crate) body: String,
    /// Its rows of the targets table.
    pub(crate) targets: Vec<String>,
}

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
    /// In the order of their numbers.
    pub(crate) sections: Vec<Section>,
    /// Caveats found while measuring, and parts that could not be measured.
    pub(crate) notes: Vec<String>,
}

/// PASS or MISS, never rounded in our favour: the raw median is compared.
pub(crate) fn verdict(pass: bool) -> &'static str {
    if pass { "**PASS**" } else { "**MISS**" }
}

/// `median (min–max)`, or the median alone for one run, or `–` for none.
pub(crate) fn spread(s: Option<Spread>, decimals: usize, unit: &str) -> String {
    match s {
        None => "–".to_owned(),
        Some(s) if s.runs == 1 => format!("{:.*}{unit}", decimals, s.median),
        Some(s) => format!(
            "{:.*}{unit} ({:.*}–{:.*})",
            decimals, s.median, decimals, s.min, decimals, s.max
        ),
    }
}

/// The spread of one figure over the runs.
pub(crate) fn col<T>(runs: &[T], f: impl Fn(&T) -> f64, decimals: usize) -> String {
    spread(Spread::of(runs.iter().map(f)), decimals, "")
}

/// `p50 / p99` in milliseconds, each the spread over the runs.
pub(crate) fn lat<T>(runs: &[T], f: impl Fn(&T) -> Option<Latency>, decimals: usize) -> String {
    let of = |p99: bool| {
        Spread::of_millis(
            runs.iter()
                .filter_map(&f)
                .map(|l| if p99 { l.p99 } else { l.p50 }),
        )
    };
    format!(
        "{} / {}",
        spread(of(false), decimals, ""),
        spread(of(true), decimals, "")
    )
}

/// A row of the targets table for a ratio whose median must reach `target`.
pub(crate) fn ratio_target(measure: &str, target: f64, s: Option<Spread>) -> String {
    let v = s.map_or("not measured", |s| verdict(s.median >= target));
    format!("| {measure} | ≥ {target:.2} | {} | {v} |", spread(s, 2, ""))
}

/// A Markdown table under `head`, its column names separated by ` | `.
pub(crate) fn table(head: &str, rows: impl IntoIterator<Item = Vec<String>>) -> String {
    let columns = head.split(" | ").count();
    let mut out = format!("| {head} |\n|{}\n", "---|".repeat(columns));
    for row in rows {
        let _ = writeln!(out, "| {} |", row.join(" | "));
    }
    out
}

pub(crate) fn ms(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64() * 1000.0)
}

pub(crate) fn mib(kib: Option<u64>) -> String {
    kib.map_or_else(|| "–".to_owned(), |k| format!("{:.1}", k as f64 / 1024.0))
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

impl Report {
    /// The whole report as Markdown.
    pub(crate) fn render(&self) -> String {
        let mut out = self.head();
        out.push_str("## Targets\n\n| measure | target | result | verdict |\n|---|---|---|---|\n");
        for t in self.sections.iter().flat_map(|s| &s.targets) {
            let _ = writeln!(out, "{t}");
        }
        out.push('\n');
        for s in &self.sections {
            let _ = write!(out, "{}\n\n{}", s.heading, s.body);
        }
        self.notes_into(&mut out, "## Notes\n\n");
        out
    }

    /// The sections of this run (of one part alone) put into the report already there, each
    /// saying when and how it was measured, as the file's head does not.
    pub(crate) fn splice_into(&self, existing: &str) -> String {
        let mut text = existing.to_owned();
        for s in &self.sections {
            let load = self
                .load
                .first()
                .map_or("an unknown share of the CPU".to_owned(), |l| {
                    format!(
                        "{:.2} cores on average, {:.2} in the busiest half-second",
                        l.avg_cores(),
                        l.max_cores
                    )
                });
            let mut section = format!(
                "{}\n\n{}Measured on its own on {}, from source {}: `{}`. Other processes used {load}.\n\n",
                s.heading,
                s.body,
                self.date,
                self.machine.commit.as_deref().unwrap_or("unknown"),
                self.command,
            );
            self.notes_into(&mut section, "Notes of that run:\n\n");
            text = splice(&text, &s.heading, &section);
        }
        text
    }

    fn notes_into(&self, out: &mut String, heading: &str) {
        if !self.notes.is_empty() {
            out.push_str(heading);
            for note in &self.notes {
                let _ = writeln!(out, "- {note}");
            }
            out.push('\n');
        }
    }

    fn head(&self) -> String {
        let m = &self.machine;
        let commit = match m.commit.as_deref() {
            None => "unknown".to_owned(),
            Some(c) if c.ends_with("-dirty") => {
                format!("{c} (the working tree had uncommitted changes)")
            }
            Some(c) => c.to_owned(),
        };
        let quiet = self.start_busy_cores.is_none_or(|c| c < 0.1)
            && self.load.iter().all(PartLoad::is_quiet);
        let mut seen: Vec<String> = self
            .start_busy_cores
            .map(|c| format!("before the start {c:.2}"))
            .into_iter()
            .collect();
        for l in &self.load {
            let named: Vec<String> = l
                .top
                .iter()
                .filter(|(_, secs)| *secs >= 1.0)
                .map(|(name, secs)| format!("{name} {secs:.0} s"))
                .collect();
            let named = if named.is_empty() {
                String::new()
            } else {
                format!(" ({})", named.join(", "))
            };
            seen.push(format!(
                "{} {:.2} / {:.2}{named}",
                l.part,
                l.avg_cores(),
                l.max_cores
            ));
        }
        let settings: Vec<String> = self
            .settings
            .iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect();
        format!(
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
             ## Machine\n\n| | |\n|---|---|\n| CPU | {cpu} |\n| cores | {cores} |\n\
             | memory | {mem:.1} GiB |\n| OS | {os}, Linux {kernel} |\n| rustc | {rustc} |\n\
             | PostgreSQL | {pg} |\n| source | {commit} |\n\
             | machine quiet | {quiet} (CPU used by other processes, in cores, average / busiest \
             half-second of each part; PostgreSQL is not counted, as it serves the benchmark \
             too: {seen}) |\n\nSettings of this run: {settings}.\n\n",
            date = self.date,
            command = self.command,
            cpu = m.cpu,
            cores = m.cores,
            mem = m.memory_gib,
            os = m.os,
            kernel = m.kernel,
            rustc = m.rustc,
            pg = m.postgres.as_deref().unwrap_or("not measured"),
            quiet = if quiet { "yes" } else { "**no**" },
            seen = if seen.is_empty() {
                "not measured".to_owned()
            } else {
                seen.join("; ")
            },
            settings = settings.join("; "),
        )
    }
}

/// The headings of the sections that a full run does not write but keeps from the file it
/// replaces: the one people write (a profile, and what each change bought), and the soak's,
/// which `adieu-soak` writes.
pub(crate) const KEPT: &[&str] = &[
    "## Where the time goes: a profile of `/api/me`",
    "## Soak: three nodes, mixed workload",
];

/// `fresh`, with the sections of `existing` that [`KEPT`] names carried over.
pub(crate) fn keep_by_hand(existing: &str, fresh: &str) -> String {
    let mut text = fresh.to_owned();
    for heading in KEPT {
        let Some(at) = existing.find(&format!("\n{heading}\n")) else {
            continue;
        };
        let rest = &existing[at + 1..];
        let end = rest[heading.len()..]
            .find("\n## ")
            .map_or(rest.len(), |i| heading.len() + i + 1);
        let section = rest[..end].trim_end().to_owned() + "\n\n";
        text = splice(&text, heading, &section);
    }
    text
}

/// `existing` with its `heading` section (up to the next `## `) replaced by `section`, or
/// with `section` put before the notes (or at the end) when it has none.
pub(crate) fn splice(existing: &str, heading: &str, section: &str) -> String {
    let (start, end) = match existing.find(&format!("\n{heading}\n")) {
        Some(i) => (
            i + 1,
            existing[i + 1..]
                .find("\n## ")
                .map_or(existing.len(), |j| i + j + 2),
        ),
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
    out + section + &existing[end..]
}

#[cfg(test)]
mod by_hand_tests {
    use super::*;

    #[test]
    fn a_full_run_keeps_the_hand_written_and_soak_sections_and_replaces_the_rest() {
        let [by_hand, soak] = [KEPT[0], KEPT[1]];
        let existing = format!(
            "# B\n\n## 1. One\n\nold figures\n\n{by_hand}\n\nwhat we found\n\n{soak}\n\nsoaked\n\n## Notes\n\n- old\n"
        );
        let fresh = "# B\n\n## 1. One\n\nnew figures\n\n## Notes\n\n- new\n";
        let kept = keep_by_hand(&existing, fresh);
        assert_eq!(
            kept,
            format!(
                "# B\n\n## 1. One\n\nnew figures\n\n{by_hand}\n\nwhat we found\n\n{soak}\n\nsoaked\n\n## Notes\n\n- new\n"
            )
        );
        assert_eq!(keep_by_hand(fresh, fresh), fresh);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Report {
        Report {
            date: "2026-01-01 00:00 UTC".into(),
            command: "adieu-bench --only hangup".into(),
            machine: Machine {
                cpu: "Test CPU".into(),
                cores: 2,
                ..Machine::default()
            },
            sections: vec![Section {
                heading: "## 5. Five".into(),
                body: "new\n\n".into(),
                targets: vec![ratio_target("x ÷ y", 0.85, Spread::of([0.7, 0.85, 0.9]))],
            }],
            ..Report::default()
        }
    }

    #[test]
    fn targets_judge_the_median_and_show_the_spread() {
        let md = sample().render();
        assert!(
            md.contains("| x ÷ y | ≥ 0.85 | 0.85 (0.70–0.90) | **PASS** |"),
            "{md}"
        );
        assert!(md.contains("| CPU | Test CPU |\n"), "{md}");
        assert!(md.contains("## 5. Five\n\nnew\n\n"), "{md}");
        assert!(ratio_target("x", 0.85, Spread::of([0.84])).ends_with("| 0.84 | **MISS** |"));
        assert!(ratio_target("x", 0.85, None).ends_with("| – | not measured |"));
    }

    #[test]
    fn tables_show_spreads_and_latencies_per_column() {
        let runs = [
            (1.0, Duration::from_millis(2)),
            (3.0, Duration::from_millis(4)),
        ];
        let l = |r: &(f64, Duration)| {
            Some(Latency {
                p50: r.1,
                p99: r.1 * 2,
            })
        };
        let t = table("a | b", [vec![col(&runs, |r| r.0, 1), lat(&runs, l, 2)]]);
        assert_eq!(
            t,
            "| a | b |\n|---|---|\n| 2.0 (1.0–3.0) | 3.00 (2.00–4.00) / 6.00 (4.00–8.00) |\n"
        );
    }

    #[test]
    fn a_machine_seen_busy_is_flagged() {
        let mut report = sample();
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
        let h = "## 5. Five";
        let old = "# B\n\n## 4. Scale\n\nfour\n\n## Notes\n\n- n\n";
        let new = format!("{h}\n\nnew\n\n");
        let once = splice(old, h, &new);
        assert_eq!(
            once,
            format!("# B\n\n## 4. Scale\n\nfour\n\n{new}## Notes\n\n- n\n")
        );
        let newer = format!("{h}\n\nnewer\n\n");
        assert_eq!(splice(&once, h, &newer), once.replace(&new, &newer));
        assert_eq!(splice("# B\n", h, &new), format!("# B\n\n{new}"));
        let spliced = sample().splice_into(old);
        assert!(
            spliced.contains("new\n\nMeasured on its own on 2026-01-01 00:00 UTC"),
            "{spliced}"
        );
        assert!(spliced.ends_with("## Notes\n\n- n\n"), "{spliced}");
    }

    #[test]
    fn large_counts_get_thousands_separators() {
        assert_eq!(thousands(1_000_000), "1,000,000");
        assert_eq!(thousands(1_000), "1,000");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(0), "0");
    }
}
