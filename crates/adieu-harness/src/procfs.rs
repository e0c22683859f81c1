//! The one reader of `/proc`: the CPU, memory, threads and descriptors of a process, every
//! process now, and how busy the machine is.

use std::collections::HashMap;
use std::time::Duration;

/// Clock ticks per second of the times in `/proc/*/stat`: the kernel's `USER_HZ`, which is 100
/// on every architecture this runs on (what `getconf CLK_TCK` says).
pub const TICKS_PER_SEC: f64 = 100.0;

/// A file under `/proc` (empty if it cannot be read).
pub fn read(path: &str) -> String {
    std::fs::read_to_string(format!("/proc/{path}")).unwrap_or_default()
}

/// The cores this process may use.
pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Name, parent and CPU ticks (user + system) from a `/proc/PID/stat` line. The name may hold
/// spaces and parentheses, so fields are counted from the last `)`.
fn parse_stat(stat: &str) -> Option<(String, u32, u64)> {
    let (open, close) = (stat.find('(')?, stat.rfind(')')?);
    let fields: Vec<&str> = stat[close + 1..].split_whitespace().collect();
    let field = |i: usize| fields.get(i)?.parse::<u64>().ok();
    let name = stat.get(open + 1..close)?.to_owned();
    Some((name, field(1)?.try_into().ok()?, field(11)? + field(12)?))
}

/// CPU ticks used so far by process `pid` (`"self"` for this one).
pub fn ticks(pid: &str) -> Option<u64> {
    parse_stat(&read(&format!("{pid}/stat"))).map(|s| s.2)
}

/// The number after `name` in `/proc/PID/status` (`VmRSS:` in KiB, `Threads:`).
pub fn status(pid: u32, name: &str) -> Option<u64> {
    let status = read(&format!("{pid}/status"));
    let line = status.lines().find(|l| l.starts_with(name))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// The descriptors process `pid` has open.
pub fn fds(pid: u32) -> Option<u64> {
    let dir = std::fs::read_dir(format!("/proc/{pid}/fd")).ok()?;
    u64::try_from(dir.count()).ok()
}

/// Every process now, by pid: its name, parent and CPU ticks.
pub fn all() -> HashMap<u32, (String, u32, u64)> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return HashMap::new();
    };
    let pid = |e: std::fs::DirEntry| e.file_name().to_str()?.parse::<u32>().ok();
    let stat = |pid: u32| Some((pid, parse_stat(&read(&format!("{pid}/stat")))?));
    dir.filter_map(|e| stat(pid(e.ok()?)?)).collect()
}

/// CPU ticks used so far by all PostgreSQL processes: the database's share of a load.
pub fn postgres_ticks() -> u64 {
    all()
        .values()
        .filter(|p| p.0 == "postgres")
        .map(|p| p.2)
        .sum()
}

/// How many cores were busy over `window`, from 0 to the number of cores (`/proc/stat`).
pub async fn busy_cores(window: Duration) -> Option<f64> {
    // All the ticks of all cores, and the idle ones (idle and iowait).
    let sample = || {
        let stat = read("stat");
        let line = stat.lines().find(|l| l.starts_with("cpu "))?;
        let v: Vec<u64> = line
            .split_whitespace()
            .filter_map(|x| x.parse().ok())
            .collect();
        Some((v.iter().sum::<u64>(), v.get(3)? + v.get(4).unwrap_or(&0)))
    };
    let (t0, i0) = sample()?;
    tokio::time::sleep(window).await;
    let (t1, i1) = sample()?;
    let idle = i1.saturating_sub(i0) as f64 / t1.saturating_sub(t0).max(1) as f64;
    Some(cores() as f64 * (1.0 - idle))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_lines_give_name_parent_and_cpu_even_with_odd_names() {
        let stat = "77 (tokio (rt) x) R 12 77 77 0 -1 0 1 0 0 0 250 50 0 0 20 0";
        assert_eq!(parse_stat(stat), Some(("tokio (rt) x".into(), 12, 300)));
        assert_eq!(parse_stat("garbage"), None);
        let me = std::process::id();
        assert!(status(me, "Threads:").is_some_and(|n| n >= 1));
        assert!(status(me, "VmRSS:").is_some_and(|kib| kib > 0));
        assert!(fds(me).is_some_and(|n| n >= 3));
    }
}
