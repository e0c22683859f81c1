//! Measurement 1: `GET /api/me` against the ceiling (a bare hello world) and `/healthz`.

use super::prelude::*;

/// `/api/me` reaches this fraction of the bare hello world with the cache.
const TARGET: f64 = 0.85;
/// How its rows of the targets table begin.
const ROW: &str = "`/api/me` ÷ bare hello world req/s";

/// A configuration, whether the target applies to it, and its runs: hello, `/healthz` and
/// `/api/me`, each with the cores of the node, PostgreSQL and the load generator.
type Row = (String, bool, Vec<Vec<Rate>>);

pub(crate) async fn run(ctx: &Ctx) -> anyhow::Result<Section> {
    let rows = ctx.each(ctx.kinds(true), async |kind, _, nodes| {
        on(ctx, kind, &nodes[0]).await
    });
    let rows = rows.await?;
    ctx.note(
        "`/healthz` in this build answers from a readiness flag that a background task keeps (no \
         database query per request), so measurement 1 compares token checks with an endpoint \
         that does no storage work at all."
            .into(),
    );
    Ok(render(&rows))
}

async fn on(ctx: &Ctx, kind: Kind, node: &Process) -> anyhow::Result<Row> {
    let cache = ctx.cache_state(node).await?;
    let tokens = ctx.real_tokens(node, "bench-check", 4).await?;
    let auths: Vec<_> = tokens.iter().map(|t| bearer(t)).collect();
    let me: MakeRequest = Arc::new(move |i| request("GET /api/me", Some(&auths[i % 4]), None));
    let plain =
        |line: &'static str| -> MakeRequest { Arc::new(move |_| request(line, None, None)) };
    let hello = super::hello(&ctx.file("-hello.log")).await?;
    let targets = [
        ("hello", hello.addr(), plain("GET /")),
        ("/healthz", node.addr(), plain("GET /healthz")),
        ("/api/me", node.addr(), me),
    ];
    let runs = compare(ctx, &kind.label(), &targets, node_pg_self(node, kind)).await;
    hello.stop().await;
    // The target is for a node that answers checks from its cache.
    let judged = kind.1 == Some(true) || cache != "off";
    let label = kind.label()
        + &kind
            .1
            .map_or(format!(" (cache: {cache})"), |_| String::new());
    Ok((label, judged, runs?))
}

fn render(rows: &[Row]) -> Section {
    let per = |i: usize, j: usize| move |r: &Vec<Rate>| r[i].per_sec / r[j].per_sec;
    let body = table(
        "server | hello req/s | `/healthz` req/s | `/api/me` req/s | `/api/me` ÷ hello | \
         `/healthz` ÷ hello | `/api/me` ÷ `/healthz` | `/api/me` p50 / p99 ms | server CPU \
         (cores) | PostgreSQL CPU (cores) | load generator CPU (cores) | errors",
        rows.iter().map(|(label, _, r)| {
            let mut row = vec![label.clone()];
            row.extend((0..3).map(|i| col(r, |x| x[i].per_sec, 0)));
            row.extend([(2, 0), (1, 0), (2, 1)].map(|(i, j)| col(r, per(i, j), 2)));
            row.push(lat(r, |x| x[2].latency, 2));
            row.extend((0..3).map(|c| col(r, |x| x[2].cores[c], 2)));
            row.push(errors(r));
            row
        }),
    );
    let judged = rows.iter().filter(|(_, judged, _)| *judged);
    let targets = judged.map(|(label, _, r)| {
        let ratio = Spread::of(r.iter().map(per(2, 0)));
        ratio_target(format!("{ROW}, {label}"), TARGET, ratio)
    });
    let body = format!(
        "Same load (a fixed number of keep-alive connections, each sending its next request as \
         soon as the answer arrives) on three targets, one after the other, the order rotating \
         from run to run: *hello*, the benchmark's own bare axum hello world in a process of its \
         own, with the server's runtime, HTTP settings and allocator and nothing else (the \
         physical ceiling of this machine for an axum server); Adieu's `/healthz` (every layer, \
         no storage); and `/api/me`, which validates a bearer token of a real login.\n\n{body}\n"
    );
    let heading = "## 1. Check throughput: `GET /api/me` against the ceiling";
    Section::new(heading, body, targets.collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_configurations_with_the_cache_are_judged_on_the_median() {
        let rate = |per_sec| Rate {
            per_sec,
            cores: vec![1.0, f64::NAN, 0.5],
            ..Rate::default()
        };
        let run = |me| vec![rate(1000.0), rate(1000.0), rate(me)];
        let on = (
            "PostgreSQL, cache on".into(),
            true,
            [850.0, 700.0, 900.0].map(run).into(),
        );
        let off = ("PostgreSQL, cache off".into(), false, vec![run(300.0)]);
        let s = render(&[on, off]);
        let judged = format!("{ROW}, PostgreSQL, cache on");
        assert_eq!(
            s.targets,
            [[&judged, "≥ 0.85", "0.85 (0.70–0.90)", "**PASS**"].map(String::from)]
        );
        let row = "| PostgreSQL, cache off | 1000 | 1000 | 300 | 0.30 | 1.00 | 0.30 | – / – | 1.00 | – \
                   | 0.50 | 0 |";
        assert!(s.body.contains(row), "{}", s.body);
    }
}
