//! Measurement 1: `GET /api/me` against the ceiling (a bare hello world) and `/healthz`.

use std::sync::Arc;

use super::{Backend, Ctx, MakeRequest, Rate, ServerKind, compare, stop_all};
use crate::http::{bearer, get};
use crate::node::{Node, Process};
use crate::report::{Section, col, lat, ratio_target, table};
use crate::watch;

/// `/api/me` reaches this fraction of the bare hello world with the cache.
pub(crate) const TARGET: f64 = 0.85;

/// One row: a configuration, whether the target applies, and its runs (hello, `/healthz`,
/// `/api/me`; CPU of the node, this process and PostgreSQL).
pub(crate) type Row = (String, bool, Vec<Vec<Rate>>);

pub(crate) async fn run(ctx: &mut Ctx) -> anyhow::Result<Section> {
    let mut rows = Vec::new();
    for kind in ctx.kinds(true) {
        let label = format!("checks-{}", kind.slug());
        let db = ctx.fresh_database(kind.backend, &label).await?;
        let nodes = ctx.start_nodes(&db, kind, &label, 1).await?;
        let result = on(ctx, kind, &nodes[0]).await;
        stop_all(nodes).await;
        match result {
            Ok(row) => rows.push(row),
            Err(e) => ctx.not_measured("check throughput", kind, &e),
        }
    }
    ctx.notes.push(
        "`/healthz` in this build answers from a readiness flag that a background task keeps (no \
         database query per request), so measurement 1 compares token checks with an endpoint \
         that does no storage work at all."
            .to_owned(),
    );
    Ok(render(&rows))
}

async fn on(ctx: &Ctx, kind: ServerKind, node: &Node) -> anyhow::Result<Row> {
    let cache = ctx.api.cache_state(node.admin).await?;
    let auths: Vec<_> = ctx
        .real_tokens(node, "bench-check", 4)
        .await?
        .iter()
        .map(|t| bearer(t))
        .collect();
    let (hello, hello_addr) = Node::hello(&ctx.work.join("hello.log")).await?;
    let plain = |path: &'static str| -> MakeRequest { Arc::new(move |_| get(path, None)) };
    let me: MakeRequest = Arc::new(move |i| get("/api/me", Some(&auths[i % auths.len()])));
    let targets = [
        ("hello", hello_addr, plain("/")),
        ("/healthz", node.addr, plain("/healthz")),
        ("/api/me", node.addr, me),
    ];
    let pg = kind.backend == Backend::Postgres;
    let watched = || {
        vec![
            node.process.ticks(),
            watch::ticks("self"),
            pg.then(watch::postgres_ticks),
        ]
    };
    let runs = compare(ctx, &kind.label(), &targets, watched).await;
    Process::stop(hello).await;
    let label = match kind.cache {
        None => format!("{} (cache: {cache})", kind.label()),
        Some(_) => kind.label(),
    };
    // The target is for a node that answers checks from its cache.
    Ok((label, kind.cache == Some(true) || cache != "off", runs?))
}

pub(crate) fn render(rows: &[Row]) -> Section {
    let per = |i: usize, j: usize| move |r: &Vec<Rate>| r[i].per_sec / r[j].per_sec;
    let body = table(
        "server | hello req/s | `/healthz` req/s | `/api/me` req/s | `/api/me` ÷ hello | `/healthz` ÷ hello | `/api/me` ÷ `/healthz` | `/api/me` p50 / p99 ms | server CPU (cores) | PostgreSQL CPU (cores) | load generator CPU (cores) | errors",
        rows.iter().map(|(label, _, r)| {
            let mut row = vec![label.clone()];
            row.extend((0..3).map(|i| col(r, |x| x[i].per_sec, 0)));
            row.extend([
                col(r, per(2, 0), 2),
                col(r, per(1, 0), 2),
                col(r, per(2, 1), 2),
                lat(r, |x| x[2].latency, 2),
            ]);
            row.extend([0, 2, 1].map(|c| col(r, |x| x[2].cores[c], 2)));
            row.push(
                r.iter()
                    .flatten()
                    .map(|x| x.errors)
                    .sum::<u64>()
                    .to_string(),
            );
            row
        }),
    );
    Section {
        heading: "## 1. Check throughput: `GET /api/me` against the ceiling".into(),
        body: format!(
            "Same load (a fixed number of keep-alive connections, each sending its next request \
             as soon as the answer arrives) on three targets, one after the other, the order \
             rotating from run to run: *hello*, the benchmark's own bare axum hello world in a \
             process of its own, with the server's runtime, HTTP settings and allocator and \
             nothing else (the physical ceiling of this machine for an axum server); Adieu's \
             `/healthz` (every layer, no storage); and `/api/me`, which validates a bearer token \
             of a real login.\n\n{body}\n"
        ),
        targets: rows
            .iter()
            .filter(|(_, target, _)| *target)
            .map(|(label, _, r)| {
                let s = crate::stats::Spread::of(r.iter().map(per(2, 0)));
                ratio_target(
                    &format!("`/api/me` ÷ bare hello world req/s, {label}"),
                    TARGET,
                    s,
                )
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(hello: f64, me: f64) -> Vec<Rate> {
        let rate = |per_sec| Rate {
            per_sec,
            cores: vec![1.0, 0.5, f64::NAN],
            ..Rate::default()
        };
        vec![rate(hello), rate(hello), rate(me)]
    }

    #[test]
    fn only_configurations_with_the_cache_are_judged_on_the_median() {
        let rows = vec![
            (
                "PostgreSQL, cache on".to_owned(),
                true,
                vec![run(1000.0, 850.0), run(1000.0, 700.0), run(1000.0, 900.0)],
            ),
            (
                "PostgreSQL, cache off".to_owned(),
                false,
                vec![run(1000.0, 300.0)],
            ),
        ];
        let s = render(&rows);
        assert_eq!(
            s.targets,
            [
                "| `/api/me` ÷ bare hello world req/s, PostgreSQL, cache on | ≥ 0.85 | 0.85 (0.70–0.90) | **PASS** |"
            ]
        );
        assert!(s.body.contains("| PostgreSQL, cache off | 1000 | 1000 | 300 | 0.30 | 1.00 | 0.30 | – / – | 1.00 | – | 0.50 | 0 |"), "{}", s.body);
    }
}
