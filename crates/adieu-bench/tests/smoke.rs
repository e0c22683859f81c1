//! The benchmark end to end, shortened: it starts real nodes, measures, and writes a report.

use std::path::PathBuf;
use std::process::Command;

#[test]
#[ignore = "needs the `adieu` binary built next to adieu-bench (cargo build --workspace); \
            uses PostgreSQL when ADIEU_TEST_POSTGRES_URL is set; takes about a minute"]
fn a_quick_run_writes_a_report_with_every_measured_part() {
    let bench = PathBuf::from(env!("CARGO_BIN_EXE_adieu-bench"));
    let adieu = bench.with_file_name("adieu");
    assert!(adieu.is_file(), "build it first: {}", adieu.display());
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("BENCHMARKS.md");

    let mut command = Command::new(&bench);
    command
        .args([
            "--quick",
            "--only",
            "checks,logouts",
            "--scale-sessions",
            "100",
        ])
        .arg("--adieu")
        .arg(&adieu)
        .arg("--out")
        .arg(&out);
    match std::env::var("ADIEU_TEST_POSTGRES_URL") {
        Ok(url) => command.arg("--postgres-url").arg(url),
        Err(_) => command.arg("--no-postgres"),
    };
    let status = command.status().unwrap();
    assert!(status.success());

    let report = std::fs::read_to_string(&out).unwrap();
    assert!(report.starts_with("# Benchmarks"), "{report}");
    assert!(report.contains("## Machine"), "{report}");
    assert!(report.contains("| SQLite"), "{report}");
    // The promise itself, measured on the way: no token survives its logout.
    let promise: Vec<&str> = report
        .lines()
        .filter(|l| l.starts_with("| token accepted right after logout"))
        .collect();
    assert!(!promise.is_empty(), "{report}");
    for line in promise {
        assert!(line.ends_with("| **PASS** |"), "{line}");
    }
    assert!(!report.contains("Not measured:"), "{report}");
}
