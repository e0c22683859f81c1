//! The report: its head (when, how and on what it was measured), the targets, each
//! measurement's section and the notes; the cells and tables the sections are made of; and the
//! sections of the file it replaces that the benchmark does not write, which it keeps.

use std::time::Duration;

use adieu_harness::{Machine, OtherLoad};

use crate::stats::{Latency, Spread};

/// A row of the targets table: measure, target, result, verdict.
pub(crate) type Target = [String; 4];

/// One measurement as written into the report.
#[derive(Debug, Default)]
pub(crate) struct Section {
    /// `## N. …`: the sections are in the order of their numbers.
    pub(crate) heading: String,
    /// Everything after the heading.
    pub(crate) body: String,
    pub(crate) targets: Vec<Target>,
}

impl Section {
    pub(crate) fn new(heading: &str, body: String, targets: Vec<Target>) -> Self {
        let heading = heading.to_owned();
        Self {
            heading,
            body,
            targets,
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
    /// What other processes used before the benchmark started and during each part.
    pub(crate) others: OtherLoad,
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
        spread(
            Spread::of_millis(runs.iter().filter_map(&f).map(p)),
            decimals,
            "",
        )
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
    let rows = rows
        .into_iter()
        .map(|r| format!("| {} |\n", r.as_ref().join(" | ")));
    format!("| {head} |\n|{}\n", "---|".repeat(columns)) + &rows.collect::<String>()
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

/// Whether the benchmark writes the chunk under `heading`: the head, `## Machine`, `## Targets`,
/// `## Notes` and the numbered sections (`## N. …`).
fn ours(heading: &str) -> bool {
    let numbered = heading.strip_prefix("## ").and_then(|h| h.split_once(". "));
    heading.is_empty()
        || ["## Machine", "## Targets", "## Notes"].contains(&heading)
        || numbered.is_some_and(|(n, _)| n.parse::<u32>().is_ok())
}

impl Report {
    /// The file to write: this report, with the sections of the `existing` file that the
    /// benchmark does not write (a profile written by hand, another tool's figures), each after
    /// the section it followed there.
    pub(crate) fn to_file(&self, existing: Option<&str>) -> String {
        adieu_harness::markdown::merge(existing, &self.render(), ours)
    }

    /// The report alone, as Markdown.
    fn render(&self) -> String {
        let mut out = self.head() + "## Targets\n\n";
        let targets = self.sections.iter().flat_map(|s| &s.targets);
        out += &table("measure | target | result | verdict", targets);
        for s in &self.sections {
            out += &format!("\n{}\n\n{}", s.heading, s.body);
        }
        if !self.notes.is_empty() {
            out += "\n## Notes\n\n";
            out.extend(self.notes.iter().map(|n| format!("- {n}\n")));
        }
        out
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
        let machine = [
            ["CPU", &m.cpu],
            ["cores", &m.cores.to_string()],
            ["memory", &format!("{:.1} GiB", m.memory_gib)],
            ["OS", &format!("{}, Linux {}", m.os, m.kernel)],
            ["rustc", &m.rustc],
            [
                "PostgreSQL",
                m.postgres.as_deref().unwrap_or("not measured"),
            ],
            ["source", &commit],
            ["machine quiet", &self.others.describe()],
        ];
        let machine = table("item | value", machine.map(|r| r.map(str::to_owned)));
        let (date, command, settings) = (&self.date, &self.command, &self.settings);
        format!(
            "# Benchmarks\n\nWritten by `adieu-bench` on {date}. To measure again, from the \
             repository root:\n\n```sh\ncargo build --release --workspace && \
             target/release/adieu-bench --out BENCHMARKS.md\n```\n\nThis run was: \
             `{command}`\n\nEvery figure is the **median of the runs, with the lowest and highest \
             run in brackets**. The load generator is its own process on the same machine, \
             talking to `adieu serve` processes (release build) over 127.0.0.1; with only a few \
             cores, client, server and PostgreSQL share them, so absolute figures are lower than \
             on a dedicated server and ratios are the meaningful part.\n\n## Machine\n\n\
             {machine}\nSettings of this run: {settings}.\n\n"
        )
    }
}

#[cfg(test)]
mod tests {
    use adieu_harness::PartLoad;

    use super::*;

    fn sample() -> Report {
        let machine = Machine {
            cpu: "Test CPU".into(),
            ..Machine::default()
        };
        let parts = vec![PartLoad {
            part: "checks".into(),
            avg_cores: 0.5,
            max_cores: 1.5,
            top: vec![("rustc".into(), 25.0)],
        }];
        let target = ratio_target("x ÷ y, SQLite".into(), 0.85, Spread::of([0.7, 0.85, 0.9]));
        let sections = vec![Section::new("## 1. One", "new\n".into(), vec![target])];
        let notes = vec!["a note".into()];
        Report {
            machine,
            others: OtherLoad {
                before: None,
                parts,
            },
            sections,
            notes,
            ..Report::default()
        }
    }

    #[test]
    fn a_report_judges_the_median_shows_the_spread_and_flags_a_busy_machine() {
        let md = sample().to_file(None);
        let end = "| x ÷ y, SQLite | ≥ 0.85 | 0.85 (0.70–0.90) | **PASS** |\n\n## 1. One\n\nnew\n\n\
                   ## Notes\n\n- a note\n";
        assert!(md.ends_with(end), "{md}");
        assert!(md.contains("| CPU | Test CPU |\n"), "{md}");
        assert!(md.contains("| machine quiet | **no**"), "{md}");
        assert!(md.contains("checks 0.50 / 1.50 (rustc 25 s)"), "{md}");
        let miss = ratio_target("x".into(), 0.85, Spread::of([0.84]));
        assert_eq!(miss[2..], ["0.84", "**MISS**"]);
        assert_eq!(
            ratio_target("x".into(), 0.85, None)[2..],
            ["–", "not measured"]
        );
    }

    #[test]
    fn a_new_report_replaces_what_it_writes_and_keeps_other_sections_in_place() {
        let old = "# B\n\nold head\n\n## Targets\n\nold\n\n## 1. One\n\nold figures\n\n## \
                   Where the time goes\n\nby hand\n\n## 2. Gone\n\ntwo\n\n## Soak\n\nsoaked\n\n\
                   ## Notes\n\n- old\n";
        let new = sample().to_file(Some(old));
        let kept = "## 1. One\n\nnew\n\n## Where the time goes\n\nby hand\n\n## Soak\n\nsoaked\n\n\
                    ## Notes\n\n- a note\n";
        assert!(new.ends_with(kept), "{new}");
        assert!(!new.contains("old") && !new.contains("## 2. Gone"), "{new}");
        assert_eq!(sample().to_file(Some(&new)), new);
    }

    #[test]
    fn tables_show_spreads_and_latencies_per_column() {
        let runs = [(1.0, 2), (3.0, 4)].map(|(x, ms)| (x, Duration::from_millis(ms)));
        let l = |r: &(f64, Duration)| {
            Some(Latency {
                p50: r.1,
                p99: r.1 * 2,
            })
        };
        let t = table("a | b", [vec![col(&runs, |r| r.0, 1), lat(&runs, l, 2)]]);
        let cells = "| 2.0 (1.0–3.0) | 3.00 (2.00–4.00) / 6.00 (4.00–8.00) |\n";
        assert_eq!(t, format!("| a | b |\n|---|---|\n{cells}"));
        assert_eq!(
            [0, 999, 1_000, 1_000_000].map(thousands),
            ["0", "999", "1,000", "1,000,000"]
        );
    }
}
