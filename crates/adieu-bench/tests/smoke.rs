//! The benchmark end to end, shortened: it starts real nodes, measures, and writes a report
//! into a file that already holds a section of someone else's.

use std::path::PathBuf;
use std::process::Command;

#[test]
#[ignore = "needs the `adieu` binary built next to adieu-bench (cargo build --workspace); \
            uses PostgreSQL when ADIEU_TEST_POSTGRES_URL is set; takes about a minute"]
fn a_quick_run_writes_a_report_of_what_it_measured_and_keeps_foreign_sections() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("BENCHMARKS.md");
    let old = "# Benchmarks\n\nold head\n\n## 2. Logout latency\n\nstale figures\n\n\
               ## Where the time goes\n\nwritten by hand\n\n## Notes\n\n- an old note\n";
    std::fs::write(&out, old).unwrap();
    let bench = PathBuf::from(env!("CARGO_BIN_EXE_adieu-bench"));
    let mut command = Command::new(&bench);
    command
        .args(["--quick", "--only", "checks,logouts", "--out"])
        .arg(&out);
    match std::env::var("ADIEU_TEST_POSTGRES_URL") {
        Ok(url) => command.arg("--postgres-url").arg(url),
        Err(_) => command.arg("--no-postgres"),
    };
    assert!(command.status().unwrap().success());
    let report = std::fs::read_to_string(&out).unwrap();
    assert!(
        report.starts_with("# Benchmarks\n\nWritten by `adieu-bench`"),
        "{report}"
    );
    assert!(
        report.contains("## Machine") && report.contains("| SQLite"),
        "{report}"
    );
    assert!(!report.contains("Not measured:"), "{report}");
    // The promise itself, measured on the way: no token survives its logout.
    let promise: Vec<&str> = report
        .lines()
        .filter(|l| l.starts_with("| token accepted right after logout"))
        .collect();
    assert!(!promise.is_empty(), "{report}");
    assert!(
        promise.iter().all(|l| l.ends_with("| **PASS** |")),
        "{report}"
    );
    // The hand-written section stays where it was, after measurement 2; nothing old is left.
    let (two, by_hand) = (
        report.find("## 2. Logout latency").unwrap(),
        report.find("written by hand"),
    );
    assert!(by_hand.is_some_and(|at| at > two), "{report}");
    for old in ["old head", "stale figures", "an old note"] {
        assert!(!report.contains(old), "{report}");
    }
}
