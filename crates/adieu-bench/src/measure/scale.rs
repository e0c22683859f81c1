//! Measurement 4: check latency and memory with 1,000 versus 1,000,000 live sessions.

use std::collections::HashSet;
use std::path::PathBuf;

use anyhow::bail;
use hyper::header::HeaderValue;

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

/// One backend at one database size: its label and size, the hot and the cold latencies of
/// each run, the refused checks, the node's memory before and after the checks (KiB), and the
/// database's size (bytes).
struct Row {
    label: String,
    size: u64,
    hot: Vec<Latency>,
    cold: Vec<Latency>,
    errors: u64,
    rss: [Option<u64>; 2],
    bytes: Option<u64>,
}

pub(crate) async fn run(ctx: &Ctx) -> anyhow::Result<Section> {
    // No nodes from the driver: each size gets a node of its own on the same database.
    let setups = ctx
        .kinds(false)
        .into_iter()
        .map(|(kind, _)| (kind, 0))
        .collect();
    let rows = ctx.each("scale", setups, async |kind, db, _| {
        on_database(ctx, kind, db).await
    });
    Ok(render(
        &rows.await?.into_iter().flatten().collect::<Vec<_>>(),
    ))
}

/// Every size (ascending) on one database, the node restarted after each bulk load so that its
/// memory is measured from a fresh start.
async fn on_database(
    ctx: &Ctx,
    kind: Kind,
    (url, file): &(String, Option<PathBuf>),
) -> anyhow::Result<Vec<Row>> {
    let seeder = Seeder::open(url).await?;
    let (mut rows, mut seeded) = (Vec::new(), 0);
    let mut rng = u64::from_le_bytes(adieu_core::random_bytes::<8>());
    for size in sizes(ctx) {
        let started = Instant::now();
        seeder.seed(seeded, size).await?;
        let (label, secs) = (kind.label(), started.elapsed().as_secs_f64());
        eprintln!("  {label}: seeded sessions {seeded}..{size} in {secs:.0} s");
        seeded = size;
        let bytes = match file {
            Some(file) => {
                let len = |p| std::fs::metadata(p).map_or(0, |m| m.len());
                Some(len(file) + len(&file.with_extension("db-wal")))
            }
            None => analyze_and_size(url).await,
        };
        let measured = ctx.with_nodes(url, kind, 1, async |nodes| {
            on(ctx, &nodes[0], &seeder, size, &mut rng).await
        });
        let (hot, cold, errors, rss) = measured.await?;
        rows.push(Row {
            label,
            size,
            hot,
            cold,
            errors,
            rss,
            bytes,
        });
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
    rng: &mut u64,
) -> anyhow::Result<(Vec<Latency>, Vec<Latency>, u64, [Option<u64>; 2])> {
    let (runs, samples) = (ctx.opts.runs, samples(ctx));
    let tokens = ctx
        .real_tokens(node, &format!("bench-scale-{size}"), 4)
        .await?;
    let hot: Vec<_> = tokens.iter().map(|t| bearer(t)).collect();
    // Read after the logins: their argon2id memory (19 MiB each, which the allocator keeps)
    // would otherwise dwarf everything the sessions themselves cost.
    let rss_before = node.rss_and_threads().0;
    let mut conn = Conn::open(node.addr()).await?;
    // The last seeded session proves the seeding right, and is never a cold sample.
    if check(&mut conn, &bearer(&seeder.access_token(size - 1)))
        .await?
        .is_none()
    {
        bail!("the node refused a seeded session: seeding is broken");
    }
    for auth in &hot {
        check(&mut conn, auth).await?;
    }
    let wanted = (runs * samples).min(size as usize - 1);
    let cold = pick_distinct(rng, size - 1, wanted);
    let (mut hot_runs, mut cold_runs, mut errors) = (Vec::new(), Vec::new(), 0);
    for cold in cold.chunks((wanted / runs).max(1)).take(runs) {
        let (mut h, mut c) = (Vec::new(), Vec::new());
        for i in 0..samples {
            h.extend(check(&mut conn, &hot[i % hot.len()]).await?);
        }
        for &i in cold {
            c.extend(check(&mut conn, &bearer(&seeder.access_token(i))).await?);
        }
        errors += (samples + cold.len() - h.len() - c.len()) as u64;
        let p50 = |l: &[Duration]| Latency::of(l).map_or("–".to_owned(), |l| ms(l.p50));
        eprintln!(
            "  at {size}: hot p50 {} ms, cold p50 {} ms",
            p50(&h),
            p50(&c)
        );
        hot_runs.extend(Latency::of(&h));
        cold_runs.extend(Latency::of(&c));
    }
    Ok((
        hot_runs,
        cold_runs,
        errors,
        [rss_before, node.rss_and_threads().0],
    ))
}

/// One check, timed if it was accepted.
async fn check(conn: &mut Conn, auth: &HeaderValue) -> anyhow::Result<Option<Duration>> {
    let t = Instant::now();
    Ok(conn.me(auth).await?.then(|| t.elapsed()))
}

/// `n` distinct numbers below `bound` (or all of them when `n >= bound`), in random order, from
/// SplitMix64: enough to pick samples, no cryptography needed.
fn pick_distinct(state: &mut u64, bound: u64, n: usize) -> Vec<u64> {
    if n as u64 >= bound {
        return (0..bound).collect();
    }
    let (mut seen, mut out) = (HashSet::with_capacity(n), Vec::with_capacity(n));
    while out.len() < n {
        *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let z = (*state ^ (*state >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        let z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        let x = (z ^ (z >> 31)) % bound;
        if seen.insert(x) {
            out.push(x);
        }
    }
    out
}

fn render(rows: &[Row]) -> Section {
    let lat = |v: &[Latency]| lat(v, |l| Some(*l), 2);
    let body = table(
        "server | live sessions | hot p50 / p99 ms | cold p50 / p99 ms | RSS before checks MiB | \
         RSS after checks MiB | database MiB | errors",
        rows.iter().map(|r| {
            [
                r.label.clone(),
                thousands(r.size),
                lat(&r.hot),
                lat(&r.cold),
                mib(r.rss[0]),
                mib(r.rss[1]),
                mib(r.bytes.map(|b| b / 1024)),
                r.errors.to_string(),
            ]
        }),
    );
    let body = format!(
        "Sessions (each with an access and a refresh token, ten per user) are written into the \
         database through the store's own bulk method, then the node is started afresh and a few \
         real users log in. *Hot*: the same few real tokens checked over and over. *Cold*: \
         tokens of seeded sessions picked at random, each checked for the first time. One \
         request at a time, so these are latencies without queueing. Memory is the node's \
         resident set (`VmRSS`) before the checks (after start and the few logins, whose \
         argon2id memory the allocator keeps) and after them.\n\n{body}\n"
    );
    Section::new(
        "## 4. Scale: 1,000 versus 1,000,000 live sessions",
        body,
        Vec::new(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picked_samples_are_distinct_and_in_range() {
        let picks = pick_distinct(&mut 42, 1000, 500);
        assert_eq!(picks.iter().collect::<HashSet<_>>().len(), 500);
        assert!(picks.iter().all(|&x| x < 1000));
        assert_eq!(pick_distinct(&mut 42, 3, 10), vec![0, 1, 2]);
    }
}
