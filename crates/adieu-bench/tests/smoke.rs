//! The benchmark end to end, shortened: it starts real nodes, measures, and writes a report.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Runs a `--quick` run of `parts` writing into `out`; panics unless it succeeds.
fn quick_run(parts: &str, out: &Path) {
    let bench = PathBuf::from(env!("CARGO_BIN_EXE_adieu-bench"));
    let adieu = bench.with_file_name("adieu");
    assert!(adieu.is_file(), "build it first: {}", adieu.display());
    let mut command = Command::new(&bench);
    command
        .args(["--quick", "--only", parts, "--adieu"])
        .arg(&adieu);
    command.arg("--out").arg(out);
    match std::env::var("ADIEU_TEST_POSTGRES_URL") {
        Ok(url) => command.arg("--postgres-url").arg(url),
        Err(_) => command.arg("--no-postgres"),
    };
    assert!(command.status().unwrap().success());
}

#[test]
#[ignore = "needs the `adieu` binary built next to adieu-bench (cargo build --workspace); \
            uses PostgreSQL when ADIEU_TEST_POSTGRES_URL is set; takes about a minute"]
fn a_quick_run_writes_a_report_with_every_measured_part() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("BENCHMARKS.md");
    quick_run("checks,logouts", &out);
    let report = std::fs::read_to_string(&out).unwrap();
    assert!(report.starts_with("# Benchmarks"), "{report}");
    assert!(report.contains("## Machine"), "{report}");
    assert!(report.contains("| SQLite"), "{report}");
    // The promise itself, measured on the way: no token survives its logout.
    let promise = report
        .lines()
        .filter(|l| l.starts_with("| token accepted right after logout"));
    let promise: Vec<&str> = promise.collect();
    assert!(!promise.is_empty(), "{report}");
    for line in promise {
        assert!(line.ends_with("| **PASS** |"), "{line}");
    }
    assert!(!report.contains("Not measured:"), "{report}");
}

#[test]
#[ignore = "needs the `adieu` binary built next to adieu-bench (cargo build --workspace)"]
fn a_run_of_one_part_replaces_its_target_rows_and_section_and_keeps_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("BENCHMARKS.md");
    let fixture = "# Benchmarks\n\nThe head of an earlier run.\n\n## Targets\n\n\
                   | measure | target | result | verdict |\n|---|---|---|---|\n\
                   | `/api/me` ÷ bare hello world req/s, SQLite | ≥ 0.85 | 0.90 | **PASS** |\n\
                   | token accepted right after logout's 200, SQLite, 1 node | 0 | 9 of 9 checks | **MISS** |\n\
                   | token accepted right after logout's 200, PostgreSQL, cache on, 3 nodes | 0 | 3 of 9 checks | **MISS** |\n\
                   | HTTP logins/s ÷ in-process argon2id limit, SQLite | ≥ 90 % | 83.1 % | **MISS** |\n\n\
                   ## 1. Check throughput\n\nfigures of measurement 1\n\n\
                   ## 2. Logout latency\n\nstale figures\n\n\
                   ## Where the time goes: a profile of `/api/me`\n\nwritten by hand\n\n\
                   ## Soak: a day of load\n\nanother tool's figures\n\n## Notes\n\n- an old note\n";
    std::fs::write(&out, fixture).unwrap();
    quick_run("logouts", &out);
    let report = std::fs::read_to_string(&out).unwrap();
    // Exactly this part's rows are new, where the old ones were; the others are untouched.
    let rows: Vec<&str> = report
        .lines()
        .filter(|l| l.starts_with("| ") && l.contains("**"))
        .collect();
    assert_eq!(
        rows.first(),
        Some(&"| `/api/me` ÷ bare hello world req/s, SQLite | ≥ 0.85 | 0.90 | **PASS** |"),
        "{report}"
    );
    assert_eq!(
        rows.last(),
        Some(&"| HTTP logins/s ÷ in-process argon2id limit, SQLite | ≥ 90 % | 83.1 % | **MISS** |"),
        "{report}"
    );
    let new = "| token accepted right after logout's 200, SQLite, 1 node (measurement 2 alone, see there) | 0 | 0 of 30 checks | **PASS** |";
    assert!(rows.contains(&new), "{report}");
    assert!(
        !report.contains("of 9 checks") && !report.contains("stale figures"),
        "{report}"
    );
    // Everything else stays, in place.
    let kept = [
        "The head of an earlier run.",
        "figures of measurement 1",
        "## 2. Logout latency",
        "written by hand",
        "another tool's figures",
        "- an old note",
    ];
    let at: Vec<usize> = kept
        .iter()
        .map(|k| report.find(k).unwrap_or_else(|| panic!("{k}: {report}")))
        .collect();
    assert!(at.is_sorted(), "{report}");
}
