//! Measurement 4: check latency and memory with 1,000 versus 1,000,000 live sessions.

use std::collections::HashSet;

use anyhow::bail;
use hyper::header::HeaderValue;

use super::prelude::*;
use crate::db::{Postgres, Seeder};
use crate::report::{mib, thousands};

/// One backend at one database size: its label and size, the hot and the cold latencies of
/// each run, the refused checks, the node's memory before and after the checks (KiB), and the
/// database's size (bytes).
type Row = (
    String,
    u64,
    Vec<Latency>,
    Vec<Latency>,
    u64,
    [Option<u64>; 2],
    Option<u64>,
);

pub(crate) async fn run(ctx: &Ctx) -> anyhow::Result<Section> {
    // No nodes from the driver: each size gets a node of its own on the same database.
    let setups = ctx
        .kinds(false)
        .into_iter()
        .map(|(kind, _)| (kind, 0))
        .collect();
    let rows = ctx.each("scale", setups, async |kind, db, _| {
        sizes(ctx, kind, db).await
    });
    Ok(render(&rows.await?.concat()))
}

/// Every size (ascending) on one database, the node restarted after each bulk load so that its
/// memory is measured from a fresh start.
async fn sizes(ctx: &Ctx, kind: Kind, db: &Db) -> anyhow::Result<Vec<Row>> {
    let seeder = Seeder::open(&db.0).await?;
    let (mut rows, mut seeded) = (Vec::new(), 0);
    let mut rng = u64::from_le_bytes(adieu_core::random_bytes::<8>());
    for &size in &ctx.opts.scale_sessions {
        let started = Instant::now();
        seeder.seed(seeded, size).await?;
        let secs = started.elapsed().as_secs_f64();
        eprintln!(
            "  {}: seeded sessions {seeded}..{size} in {secs:.0} s",
            kind.label()
        );
        seeded = size;
        let bytes = match &db.1 {
            Some(file) => {
                let size = |p| std::fs::metadata(p).map_or(0, |m| m.len());
                Some(size(file) + size(&file.with_extension("db-wal")))
            }
            None => Postgres::analyze_and_size(&db.0).await,
        };
        let row = ctx.with_nodes(&db.0, kind, 1, async |nodes| {
            on(ctx, kind, &nodes[0], &seeder, size, &mut rng).await
        });
        let (label, size, hot, cold, errors, rss, _) = row.await?;
        rows.push((label, size, hot, cold, errors, rss, bytes));
    }
    seeder.close().await;
    Ok(rows)
}

async fn on(
    ctx: &Ctx,
    kind: Kind,
    node: &Process,
    seeder: &Seeder,
    size: u64,
    rng: &mut u64,
) -> anyhow::Result<Row> {
    let o = &ctx.opts;
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
    let wanted = (o.runs * o.scale_samples).min(size as usize - 1);
    let cold = pick_distinct(rng, size - 1, wanted);
    let (mut hot_runs, mut cold_runs, mut errors) = (Vec::new(), Vec::new(), 0);
    for (run, cold) in cold
        .chunks((wanted / o.runs).max(1))
        .take(o.runs)
        .enumerate()
    {
        let (mut h, mut c) = (Vec::new(), Vec::new());
        for i in 0..o.scale_samples {
            h.extend(check(&mut conn, &hot[i % hot.len()]).await?);
        }
        for &i in cold {
            c.extend(check(&mut conn, &bearer(&seeder.access_token(i))).await?);
        }
        errors += (o.scale_samples + cold.len() - h.len() - c.len()) as u64;
        let (h, c) = (Latency::of(&h), Latency::of(&c));
        let p50 = |l: Option<Latency>| l.map_or("–".to_owned(), |l| ms(l.p50));
        let (label, run, h50, c50) = (kind.label(), run + 1, p50(h), p50(c));
        eprintln!("  {label} at {size} run {run}: hot p50 {h50} ms, cold p50 {c50} ms");
        hot_runs.extend(h);
        cold_runs.extend(c);
    }
    let rss = [rss_before, node.rss_and_threads().0];
    Ok((kind.label(), size, hot_runs, cold_runs, errors, rss, None))
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
        rows.iter()
            .map(|(label, size, hot, cold, errors, rss, bytes)| {
                [
                    label.clone(),
                    thousands(*size),
                    lat(hot),
                    lat(cold),
                    mib(rss[0]),
                    mib(rss[1]),
                    bytes.map_or("–".to_owned(), |b| format!("{:.0}", b as f64 / 1048576.0)),
                    errors.to_string(),
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
        &[],
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
