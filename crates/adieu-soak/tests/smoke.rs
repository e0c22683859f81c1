//! A few seconds of the real soak: three nodes of the `adieu` built next to this test, on
//! the PostgreSQL that `ADIEU_TEST_POSTGRES_URL` names, writing into a report of its own.

use std::process::Command;

#[test]
#[ignore = "needs PostgreSQL: set ADIEU_TEST_POSTGRES_URL"]
fn a_short_soak_passes_and_splices_its_section_into_the_report() {
    let url = std::env::var("ADIEU_TEST_POSTGRES_URL").expect("ADIEU_TEST_POSTGRES_URL");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("BENCHMARKS.md");
    let before = "# Benchmarks\n\n## 1. One\n\nfigures\n\n## Notes\n\n- a note\n";
    std::fs::write(&out, before).unwrap();
    // `--adieu` is left at its default, `adieu` next to `adieu-soak`, which `cargo test
    // --workspace` builds.
    let run = Command::new(env!("CARGO_BIN_EXE_adieu-soak"))
        .args(["--duration", "8s", "--warmup", "2s", "--workers", "3"])
        .arg("--postgres-url")
        .arg(&url)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "{stderr}");
    let after = std::fs::read_to_string(&out).unwrap();
    let section = after
        .split_once("## Soak: three nodes, mixed workload\n")
        .map(|(_, s)| s)
        .unwrap_or_else(|| panic!("no soak section: {after}"));
    assert!(section.contains("Result: **PASS**."), "{after}");
    // Whatever else ran on the machine meanwhile is stated, not left to guess.
    assert!(section.contains(". Machine quiet: "), "{after}");
    assert!(
        section.contains("part; PostgreSQL is not counted"),
        "{after}"
    );
    assert!(
        section.contains("| tokens accepted after their session ended | 0 "),
        "{after}"
    );
    assert!(
        after.starts_with("# Benchmarks\n\n## 1. One\n\nfigures\n\n## Soak"),
        "{after}"
    );
    assert!(after.ends_with("## Notes\n\n- a note\n"), "{after}");
}

#[test]
fn an_unreachable_postgresql_is_an_error_not_a_fallback() {
    // Port 1 on loopback: nothing listens there, so the connection is refused at once.
    let run = Command::new(env!("CARGO_BIN_EXE_adieu-soak"))
        .args(["--duration", "10s", "--no-write"])
        .args(["--postgres-url", "postgres://postgres@127.0.0.1:1/test"])
        .args(["--adieu", env!("CARGO_BIN_EXE_adieu-soak")])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("PostgreSQL is not reachable"), "{stderr}");
}
