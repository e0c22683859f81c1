//! Measurement 4: check latency and memory with 1,000 versus 1,000,000 live sessions.

use std::path::PathBuf;

use anyhow::bail;

use super::prelude::*;
use crate::db::{Seeder, analyze_and_size};
use crate::report::{mib, thousands};

/// Checks per run and kind (hot, cold).
pub(crate) fn samples(ctx: &Ctx) -> usize {
    ctx.pick(500, 100)
}

/// The live-session counts compared, ascending.
fn sizes(ctx: &Ctx) -> [u64; 2] {
    ctx.pick([1000, 1_000_000], [1000, 20_000])
}

pub(crate) async fn run(ctx: &Ctx) -> anyhow::Result<Section> {
    // No nodes from the driver: each size gets a node of its own on the same database.
    let setups = ctx
        .kinds(false)
        .into_iter()
        .map(|(kind, _)| (kind, 0))
        .collect();
    let rows = ctx.each(setups, async |kind, db, _| on_database(ctx, kind, db).await);
    let body = table(
        "server | live sessions | hot p50 / p99 ms | cold p50 / p99 ms | RSS before checks MiB | \
         RSS after checks MiB | database MiB | errors",
        rows.await?.into_iter().flatten(),
    );
    let body = format!(
        "Sessions (each with an access and a refresh token, ten per user) are written into the \
         database through the store's own bulk method, then the node is started afresh and a few \
         real users log in. *Hot*: the same few real tokens checked over and over. *Cold*: \
         tokens of seeded sessions spread over the whole database, each checked for the first \
         time. One request at a time, so these are latencies without queueing. Memory is the \
         node's resident set (`VmRSS`) before the checks (after start and the few logins, whose \
         argon2id memory the allocator keeps) and after them.\n\n{body}\n"
    );
    let heading = "## 4. Scale: 1,000 versus 1,000,000 live sessions";
    Ok(Section::new(heading, body, Vec::new()))
}

/// The rows of every size (ascending) on one database, the node restarted after each bulk load
/// so that its memory is measured from a fresh start.
async fn on_database(
    ctx: &Ctx,
    kind: Kind,
    (url, file): &(String, Option<PathBuf>),
) -> anyhow::Result<Vec<[String; 8]>> {
    let (seeder, mut rows, mut seeded) = (Seeder::open(url).await?, Vec::new(), 0);
    for size in sizes(ctx) {
        let started = Instant::now();
        seeder.seed(seeded, size).await?;
        let (label, secs) = (kind.label(), started.elapsed().as_secs_f64());
        eprintln!("  {label}: seeded sessions {seeded}..{size} in {secs:.0} s");
        seeded = size;
        let len = |p: &PathBuf| std::fs::metadata(p).map_or(0, |m| m.len());
        let bytes = match file {
            Some(f) => Some(len(f) + len(&f.with_extension("db-wal"))),
            None => analyze_and_size(url).await,
        };
        let measured = ctx.with_nodes(url, kind, 1, async |nodes| {
            on(ctx, &nodes[0], &seeder, size).await
        });
        let (hot, cold, errors, rss) = measured.await?;
        let lat = |v: &[Latency]| lat(v, |l| Some(*l), 2);
        let (rss, bytes) = ([mib(rss[0]), mib(rss[1])], mib(bytes.map(|b| b / 1024)));
        let [before, after] = rss;
        rows.push([
            label,
            thousands(size),
            lat(&hot),
            lat(&cold),
            before,
            after,
            bytes,
            errors,
        ]);
    }
    seeder.close().await;
    Ok(rows)
}

/// Hot and cold latencies of each run, the refused checks, and the memory before and after.
async fn on(
    ctx: &Ctx,
    node: &Process,
    seeder: &Seeder,
    size: u64,
) -> anyhow::Result<(Vec<Latency>, Vec<Latency>, String, [Option<u64>; 2])> {
    let (runs, samples) = (ctx.opts.runs, samples(ctx));
    let user = format!("bench-scale-{size}");
    let hot: Vec<_> = ctx
        .real_tokens(node, &user, 4)
        .await?
        .iter()
        .map(|t| bearer(t))
        .collect();
    // Read after the logins: their argon2id memory (19 MiB each, which the allocator keeps)
    // would otherwise dwarf everything the sessions themselves cost.
    let rss_before = node.rss_and_threads().0;
    let mut conn = Conn::open(node.addr()).await?;
    // One check, timed if it was accepted.
    let mut check = async |auth| {
        let t = Instant::now();
        anyhow::Ok(conn.me(&auth).await?.then(|| t.elapsed()))
    };
    // The last seeded session proves the seeding right, and is never a cold sample.
    if check(bearer(&seeder.access_token(size - 1)))
        .await?
        .is_none()
    {
        bail!("the node refused a seeded session: seeding is broken");
    }
    for auth in &hot {
        check(auth.clone()).await?;
    }
    let cold = spread_over(size - 1, runs * samples);
    let (mut hot_runs, mut cold_runs, mut errors) = (Vec::new(), Vec::new(), 0);
    for cold in cold.chunks(cold.len().div_ceil(runs).max(1)) {
        let (mut h, mut c) = (Vec::new(), Vec::new());
        for i in 0..samples {
            h.extend(check(hot[i % hot.len()].clone()).await?);
        }
        for &i in cold {
            c.extend(check(bearer(&seeder.access_token(i))).await?);
        }
        errors += samples + cold.len() - h.len() - c.len();
        let p50 = |l: &[Duration]| Latency::of(l).map_or("–".to_owned(), |l| ms(l.p50));
        eprintln!(
            "  at {size}: hot p50 {} ms, cold p50 {} ms",
            p50(&h),
            p50(&c)
        );
        hot_runs.extend(Latency::of(&h));
        cold_runs.extend(Latency::of(&c));
    }
    let rss = [rss_before, node.rss_and_threads().0];
    Ok((hot_runs, cold_runs, errors.to_string(), rss))
}

/// `n` distinct session numbers below `bound` (all of them when `n >= bound`), spread over the
/// whole range from a random start, so that no two are near each other in the database.
fn spread_over(bound: u64, n: usize) -> Vec<u64> {
    // A prime step larger than any bound visits every number below it once before repeating.
    const STEP: u64 = 1_000_003;
    let start = u64::from_le_bytes(adieu_core::random_bytes::<8>()) % bound.max(1);
    let n = n.min(bound as usize) as u64;
    (0..n).map(|k| (start + k * STEP) % bound).collect()
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn samples_are_distinct_and_in_range() {
        for (bound, n) in [(999_999, 2500), (19_999, 500), (1000, 500), (3, 10)] {
            let picks = spread_over(bound, n);
            assert_eq!(picks.len(), n.min(bound as usize));
            assert_eq!(picks.iter().collect::<HashSet<_>>().len(), picks.len());
            assert!(picks.iter().all(|&x| x < bound));
        }
    }
}
