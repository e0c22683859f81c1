//! What the soak runs against: three `adieu serve` processes on a throwaway PostgreSQL
//! database (both from `adieu-harness`, shared with the benchmark), and the flags they get.

use std::path::Path;

use adieu_harness::Process;

/// The flags each node gets beyond its address and database, as the report states them: no
/// rate limits, which would turn a soak into a rate-limit test, and a cheap argon2id (1 MiB,
/// one pass instead of 19 MiB and two), so that logins exercise sessions rather than the
/// hash on a two-core machine.
pub(crate) const NODE_FLAGS: &[&str] = &[
    "--login-attempts-per-user",
    "0",
    "--login-attempts-per-user-total",
    "0",
    "--login-attempts-per-ip",
    "0",
    "--registrations-per-ip",
    "0",
    "--argon2-memory-kib",
    "1024",
    "--argon2-iterations",
    "1",
];

/// Starts a node of `adieu` on the database at `url`, on port 0; stderr goes to `log`.
pub(crate) async fn node(adieu: &Path, url: &str, log: &Path) -> anyhow::Result<Process> {
    let args: Vec<&str> = ["--database-url", url]
        .into_iter()
        .chain(NODE_FLAGS.iter().copied())
        .collect();
    Process::serve(adieu, &args, log).await
}
