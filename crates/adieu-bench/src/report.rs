//! The report: its head (when, how and on what it was measured), the targets, each
//! measurement's section and the notes; the cells and tables every section is made of; and how
//! a report goes into the file it replaces or updates.

use std::fmt::Write as _;
use std::time::Duration;

use crate::machine::Machine;
use crate::stats::{Latency, Spread};
use crate::watch::PartLoad;

/// The headings the benchmark writes besides its numbered sections (`## N. …`); a section
/// under any other heading is someone else's, and kept.
const OURS: [&str; 3] = ["## Machine", "## Targets", "## Notes"];

/// How a measurement's rows of the targets table begin.
pub(crate) type Owns = &'static [&'static str];
/// A row of the targets table: measure, target, result, verdict.
pub(crate) type Target = [String; 4];

/// The head of the targets table.
const TARGETS_HEAD: &str = "| measure | target | result | verdict |\n|---|---|---|---|\n";

/// One measurement as written into the report.
#[derive(Debug, Default)]
pub(crate) struct Section {
    /// `## N. …`: by its number the section is found in, or put into, an existing report.
    pub(crate) heading: String,
    /// Everything after the heading.
    pub(crate) body: String,
    /// How its rows of the targets table begin, to find them in an existing report.
    pub(crate) owns: Owns,
    pub(crate) targets: Vec<Target>,
    /// The part of the benchmark that measured it.
    pub(crate) part: String,
}

impl Section {
    /// A section under `heading`, with its `targets` rows, which begin with one of `owns`.
    pub(crate) fn new(heading: &str, body: String, owns: Owns, targets: Vec<Target>) -> Self {
        let (heading, part) = (heading.to_owned(), String::new());
        Self {
            heading,
            body,
            owns,
            targets,
            part,
        }
    }
}

/// Everything one run measured.
#[derive(Debug, Default)]
pub(crate) struct Report {
    pub(crate) date: String,
    /// This run's command line.
    pub(crate) command: String,
    pub(crate) machine: Machine,
    /// The settings of this run, as one sentence.
    pub(crate) settings: String,
    /// Cores busy in the seconds before the benchmark started.
    pub(crate) start_busy_cores: Option<f64>,
    /// What other processes used during each part.
    pub(crate) load: Vec<PartLoad>,
    /// In the order of their numbers.
    pub(crate) sections: Vec<Section>,
    /// Caveats found while measuring, and what could not be measured.
    pub(crate) notes: Vec<String>,
}

/// PASS or MISS, never rounded in our favour: the raw median is compared.
pub(crate) fn verdict(pass: bool) -> String {
    if pass { "**PASS**" } else { "**MISS**" }.to_owned()
}

/// `median (min–max)`, or the median alone for one run, or `–` for none.
pub(crate) fn spread(s: Option<Spread>, decimals: usize, unit: &str) -> String {
    let d = decimals;
    match s {
        None => "–".to_owned(),
        Some(s) if s.runs == 1 => format!("{:.d$}{unit}", s.median),
        Some(s) => format!("{:.d$}{unit} ({:.d$}–{:.d$})", s.median, s.min, s.max),
    }
}

/// The spread of one figure over the runs.
pub(crate) fn col<T>(runs: &[T], f: impl Fn(&T) -> f64, decimals: usize) -> String {
    spread(Spread::of(runs.iter().map(f)), decimals, "")
}

/// `p50 / p99` in milliseconds, each the spread over the runs.
pub(crate) fn lat<T>(runs: &[T], f: impl Fn(&T) -> Option<Latency>, decimals: usize) -> String {
    let of = |p: fn(Latency) -> Duration| {
        let s = Spread::of_millis(runs.iter().filter_map(&f).map(p));
        spread(s, decimals, "")
    };
    format!("{} / {}", of(|l| l.p50), of(|l| l.p99))
}

/// A row of the targets table for a ratio whose median must reach `target`.
pub(crate) fn ratio_target(measure: String, target: f64, s: Option<Spread>) -> Target {
    let v = s.map_or("not measured".to_owned(), |s| verdict(s.median >= target));
    [measure, format!("≥ {target:.2}"), spread(s, 2, ""), v]
}

/// A Markdown table under `head`, its column names separated by ` | `.
pub(crate) fn table<R: AsRef<[String]>>(head: &str, rows: impl IntoIterator<Item = R>) -> String {
    let columns = head.split(" | ").count();
    let mut out = format!("| {head} |\n|{}\n", "---|".repeat(columns));
    for r in rows {
        out += &row(r.as_ref());
    }
    out
}

fn row(cells: &[String]) -> String {
    format!("| {} |\n", cells.join(" | "))
}

pub(crate) fn ms(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64() * 1000.0)
}

pub(crate) fn mib(kib: Option<u64>) -> String {
    kib.map_or("–".to_owned(), |k| format!("{:.1}", k as f64 / 1024.0))
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

/// A Markdown text cut before each `## ` heading; the first chunk is what precedes the first.
fn chunks(text: &str) -> Vec<String> {
    let mut out = vec![String::new()];
    for line in text.lines() {
        if line.starts_with("## ") {
            out.push(String::new());
        }
        let last = out.last_mut().expect("never empty");
        last.push_str(line);
        last.push('\n');
    }
    out
}

/// The chunks again, one blank line between each.
fn join(chunks: &[String]) -> String {
    let chunks: Vec<&str> = chunks
        .iter()
        .map(|c| c.trim_end())
        .filter(|c| !c.is_empty())
        .collect();
    chunks.join("\n\n") + "\n"
}

/// A chunk's `## ` heading, or `""` for the text before the first.
fn heading(chunk: &str) -> &str {
    chunk
        .lines()
        .next()
        .filter(|l| l.starts_with("## "))
        .unwrap_or("")
}

/// The `N` of `## N. …`.
fn number(heading: &str) -> Option<u32> {
    heading
        .strip_prefix("## ")?
        .split_once(". ")?
        .0
        .parse()
        .ok()
}

impl Report {
    /// The file to write: this report alone, or merged into the `existing` file. A run of
    /// every part replaces all that the benchmark writes, and keeps the sections it does not
    /// write (a profile written by hand, another tool's figures) where they were; a run of
    /// some parts replaces only their sections and their rows of the targets table.
    pub(crate) fn to_file(&self, existing: Option<&str>, every_part: bool) -> String {
        match existing {
            None => self.render(),
            Some(existing) if every_part => keep_foreign(existing, &self.render()),
            Some(existing) => self.splice(existing),
        }
    }

    /// The whole report as Markdown.
    pub(crate) fn render(&self) -> String {
        let mut out = self.head() + "## Targets\n\n" + TARGETS_HEAD;
        for t in self.sections.iter().flat_map(|s| &s.targets) {
            out += &row(t);
        }
        for s in &self.sections {
            let _ = write!(out, "\n{}\n\n{}", s.heading, s.body);
        }
        join(&chunks(&(out + "\n" + &self.notes("## Notes\n\n"))))
    }

    fn notes(&self, heading: &str) -> String {
        let notes = self.notes.iter().map(|n| format!("- {n}\n"));
        if self.notes.is_empty() {
            String::new()
        } else {
            notes.fold(heading.to_owned(), |a, n| a + &n)
        }
    }

    /// This run's sections and target rows put into the report already there, each saying
    /// when and how it was measured, as the file's head does not.
    fn splice(&self, existing: &str) -> String {
        let mut out = chunks(existing);
        for s in &self.sections {
            let n = number(&s.heading);
            let load = self.load.iter().find(|l| l.part == s.part).map_or(
                "an unknown share of the CPU".to_owned(),
                |l| {
                    format!(
                        "{:.2} cores on average, {:.2} in the busiest half-second",
                        l.avg_cores, l.max_cores
                    )
                },
            );
            let commit = self.machine.commit.as_deref().unwrap_or("unknown");
            let text = format!(
                "{}\n\n{}Measured on its own on {}, from source {commit}: `{}`. Other processes \
                 used {load}.\n\n{}",
                s.heading,
                s.body,
                self.date,
                self.command,
                self.notes("Notes of that run:\n\n"),
            );
            if let Some(i) = out.iter().position(|c| number(heading(c)) == n) {
                out[i] = text;
                continue;
            }
            // After the last section numbered lower, else before the first numbered one or the
            // notes.
            let lower = out
                .iter()
                .rposition(|c| number(heading(c)).is_some_and(|m| Some(m) < n));
            let first = out
                .iter()
                .position(|c| number(heading(c)).is_some() || heading(c) == "## Notes");
            let at = lower.map(|i| i + 1).or(first).unwrap_or(out.len());
            out.insert(at, text);
        }
        let targets = match out.iter().position(|c| heading(c) == "## Targets") {
            Some(i) => i,
            None => {
                let at = out
                    .iter()
                    .position(|c| number(heading(c)).is_some())
                    .unwrap_or(out.len());
                out.insert(at, format!("## Targets\n\n{TARGETS_HEAD}"));
                at
            }
        };
        out[targets] = self.targets_into(&out[targets]);
        join(&out)
    }

    /// The targets table `chunk` with the rows of this run's sections in place of their old
    /// rows (or at the end of the table), each saying that it was measured apart.
    fn targets_into(&self, chunk: &str) -> String {
        let mut lines: Vec<String> = chunk.lines().map(str::to_owned).collect();
        for s in &self.sections {
            let owned = |l: &String| s.owns.iter().any(|p| l.starts_with(&format!("| {p}")));
            let at = lines.iter().position(owned);
            lines.retain(|l| !owned(l));
            let end = lines
                .iter()
                .rposition(|l| l.starts_with('|'))
                .map(|i| i + 1);
            let at = at.or(end).unwrap_or(lines.len());
            let alone = format!(
                " (measurement {} alone, see there)",
                number(&s.heading).unwrap_or(0)
            );
            let rows = s.targets.iter().map(|t| {
                let measure = t[0].clone() + &alone;
                row(&[measure, t[1].clone(), t[2].clone(), t[3].clone()])
                    .trim_end()
                    .to_owned()
            });
            lines.splice(at..at, rows);
        }
        lines.join("\n") + "\n"
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
        let busy = self.start_busy_cores;
        let quiet = busy.is_none_or(|c| c < 0.1) && self.load.iter().all(PartLoad::is_quiet);
        let mut seen: Vec<String> = busy
            .map(|c| format!("before the start {c:.2}"))
            .into_iter()
            .collect();
        for l in &self.load {
            let named = l.top.iter().filter(|(_, secs)| *secs >= 1.0);
            let named: Vec<_> = named
                .map(|(name, secs)| format!("{name} {secs:.0} s"))
                .collect();
            let named = if named.is_empty() {
                String::new()
            } else {
                format!(" ({})", named.join(", "))
            };
            seen.push(format!(
                "{} {:.2} / {:.2}{named}",
                l.part, l.avg_cores, l.max_cores
            ));
        }
        let seen = if seen.is_empty() {
            "not measured".to_owned()
        } else {
            seen.join("; ")
        };
        let quiet = format!(
            "{} (CPU used by other processes, in cores, average / busiest half-second of each \
             part; PostgreSQL is not counted, as it serves the benchmark too: {seen})",
            if quiet { "yes" } else { "**no**" }
        );
        let pg = m.postgres.clone().unwrap_or("not measured".into());
        let rows = [
            ("CPU", m.cpu.clone()),
            ("cores", m.cores.to_string()),
            ("memory", format!("{:.1} GiB", m.memory_gib)),
            ("OS", format!("{}, Linux {}", m.os, m.kernel)),
            ("rustc", m.rustc.clone()),
            ("PostgreSQL", pg),
            ("source", commit),
            ("machine quiet", quiet),
        ];
        let machine: String = rows
            .iter()
            .map(|(k, v)| format!("| {k} | {v} |\n"))
            .collect();
        let (date, command, settings) = (&self.date, &self.command, &self.settings);
        format!(
            "# Benchmarks\n\nWritten by `adieu-bench` on {date}. To measure again, from the \
             repository root:\n\n```sh\ncargo build --release --workspace && \
             target/release/adieu-bench --out BENCHMARKS.md\n```\n\nThis run was: \
             `{command}`\n\nEvery figure is the **median of the runs, with the lowest and highest \
             run in brackets**. The load generator is its own process on the same machine, \
             talking to `adieu serve` processes (release build) over 127.0.0.1; with only a few \
             cores, client, server and PostgreSQL share them, so absolute figures are lower than \
             on a dedicated server and ratios are the meaningful part.\n\n## Machine\n\n| | |\n|---|---|\n\
             {machine}\nSettings of this run: {settings}.\n\n"
        )
    }
}

/// `fresh`, with the sections of `existing` that the benchmark does not write, each after the
/// section it followed there.
fn keep_foreign(existing: &str, fresh: &str) -> String {
    let (old, mut out) = (chunks(existing), chunks(fresh));
    for (i, chunk) in old.iter().enumerate().skip(1) {
        let h = heading(chunk);
        if OURS.contains(&h) || number(h).is_some() {
            continue;
        }
        // The text before the first heading is in both, so some earlier chunk always is.
        let before = old[..i]
            .iter()
            .rev()
            .find_map(|b| out.iter().position(|c| heading(c) == heading(b)));
        out.insert(before.map_or(out.len(), |b| b + 1), chunk.clone());
    }
    join(&out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PROFILE: &str = "## Where the time goes: a profile of `/api/me`";

    fn sample() -> Report {
        Report {
            date: "2026-01-01 00:00 UTC".into(),
            command: "adieu-bench --only checks".into(),
            machine: Machine {
                cpu: "Test CPU".into(),
                ..Machine::default()
            },
            load: vec![PartLoad {
                part: "checks".into(),
                avg_cores: 0.5,
                max_cores: 1.5,
                top: vec![("rustc".into(), 25.0), ("cargo".into(), 0.5)],
            }],
            sections: vec![Section {
                heading: "## 1. One".into(),
                body: "new\n\n".into(),
                owns: &["x ÷ y"],
                targets: vec![ratio_target(
                    "x ÷ y, SQLite".into(),
                    0.85,
                    Spread::of([0.7, 0.85, 0.9]),
                )],
                part: "checks".into(),
            }],
            notes: vec!["a note".into()],
            ..Report::default()
        }
    }

    #[test]
    fn a_report_judges_the_median_shows_the_spread_and_flags_a_busy_machine() {
        let md = sample().render();
        assert!(md.contains("| x ÷ y, SQLite | ≥ 0.85 | 0.85 (0.70–0.90) | **PASS** |\n\n## 1. One\n\nnew\n\n## Notes\n\n- a note\n"), "{md}");
        assert!(md.contains("| CPU | Test CPU |\n"), "{md}");
        assert!(md.contains("| machine quiet | **no**"), "{md}");
        assert!(md.contains("checks 0.50 / 1.50 (rustc 25 s)"), "{md}");
        assert_eq!(
            ratio_target("x".into(), 0.85, Spread::of([0.84]))[2..],
            ["0.84", "**MISS**"]
        );
        assert_eq!(
            ratio_target("x".into(), 0.85, None)[2..],
            ["–", "not measured"]
        );
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
        assert_eq!(
            [0, 999, 1_000, 1_000_000].map(thousands),
            ["0", "999", "1,000", "1,000,000"]
        );
    }

    #[test]
    fn a_full_run_replaces_what_it_writes_and_keeps_other_sections_in_place() {
        let existing = format!(
            "# B\n\nold head\n\n## Targets\n\nold\n\n## 1. One\n\nold figures\n\n{PROFILE}\n\nby hand\n\n## 2. Gone\n\ntwo\n\n## Soak\n\nsoaked\n\n## Notes\n\n- old\n"
        );
        let fresh = "# B\n\nnew head\n\n## Targets\n\nnew\n\n## 1. One\n\nnew figures\n\n## Notes\n\n- new\n";
        let kept = keep_foreign(&existing, fresh);
        assert_eq!(
            kept,
            format!(
                "# B\n\nnew head\n\n## Targets\n\nnew\n\n## 1. One\n\nnew figures\n\n{PROFILE}\n\nby hand\n\n## Soak\n\nsoaked\n\n## Notes\n\n- new\n"
            )
        );
        assert_eq!(keep_foreign(fresh, fresh), fresh);
    }

    #[test]
    fn a_run_of_one_part_replaces_its_section_and_target_rows_and_keeps_the_rest() {
        let existing = format!(
            "# B\n\nhead\n\n## Targets\n\n{TARGETS_HEAD}| x ÷ y, SQLite | ≥ 0.85 | 0.10 | **MISS** |\n| x ÷ y, PostgreSQL | ≥ 0.85 | 0.20 | **MISS** |\n| other | 0 | 0 | **PASS** |\n\n## 1. One\n\nold\n\n## 2. Two\n\ntwo\n\n{PROFILE}\n\nby hand\n\n## Notes\n\n- n\n"
        );
        let spliced = sample().splice(&existing);
        let rows = format!(
            "{TARGETS_HEAD}| x ÷ y, SQLite (measurement 1 alone, see there) | ≥ 0.85 | 0.85 (0.70–0.90) | **PASS** |\n| other | 0 | 0 | **PASS** |\n\n"
        );
        assert!(spliced.contains(&rows), "{spliced}");
        assert!(spliced.contains("## 1. One\n\nnew\n\nMeasured on its own on 2026-01-01 00:00 UTC, from source unknown: `adieu-bench --only checks`. Other processes used 0.50 cores on average, 1.50 in the busiest half-second.\n\nNotes of that run:\n\n- a note\n\n## 2. Two\n\ntwo\n\n"), "{spliced}");
        assert!(
            spliced.ends_with(&format!("{PROFILE}\n\nby hand\n\n## Notes\n\n- n\n")),
            "{spliced}"
        );
        // Into a report without that section or any targets: in the order of the numbers.
        let spliced = sample().splice("# B\n\n## 2. Two\n\ntwo\n");
        assert!(spliced.starts_with("# B\n\n## Targets\n\n"), "{spliced}");
        assert!(
            spliced.contains("**PASS** |\n\n## 1. One\n\nnew\n\n"),
            "{spliced}"
        );
        assert!(spliced.ends_with("## 2. Two\n\ntwo\n"), "{spliced}");
    }
}
