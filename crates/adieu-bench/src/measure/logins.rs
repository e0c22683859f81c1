//! Measurement 3: HTTP logins against the machine's in-process argon2id limit, and clean 429s
//! above it.
//!
//! Each run measures the in-process limit and then the HTTP logins, so that the two figures of
//! a run come from the same minute: on a shared or virtual machine the speed of a core drifts
//! by more than the 10 % the target allows.

use std::sync::Mutex;

use adieu_core::{Argon2Params, PasswordHasher};
use adieu_types::Secret;
use anyhow::{Context, anyhow};
use tokio::sync::Semaphore;

use super::REQUEST_TIMEOUT;
use super::prelude::*;
use crate::http::{PASSWORD, Req, closed_loop, credentials, json};

/// HTTP logins reach this fraction of the argon2id limit.
const TARGET: f64 = 0.9;
/// The offered login rate above the limit, as a multiple of the limit.
pub(crate) const OVERLOAD_FACTOR: f64 = 3.0;
/// The load generator's bound on logins in flight above the limit.
const MAX_IN_FLIGHT: usize = 2048;

/// Length of one login run, below and above the limit.
pub(crate) fn duration(ctx: &Ctx) -> Duration {
    ctx.pick(Duration::from_secs(5), Duration::from_secs(2))
}

/// Clients logging in back to back: 4 per core, fewer than the server's hash queue admits.
pub(crate) fn clients(ctx: &Ctx) -> usize {
    4 * ctx.cores
}

/// Runs above the limit, per server.
pub(crate) fn overload_runs(ctx: &Ctx) -> usize {
    ctx.pick(3, 1)
}

/// One run of back-to-back logins: their rate; the in-process argon2id limit measured just
/// before (one thread per core, memory allocated once) and the rate of in-process
/// verifications through the server's own hasher; the cores of the node, PostgreSQL and the
/// load generator; latency and errors.
#[derive(Debug, Clone, Default)]
struct Run {
    per_sec: f64,
    limit: f64,
    hasher: f64,
    cores: Vec<f64>,
    latency: Option<Latency>,
    errors: u64,
}

/// One run of logins arriving at a fixed rate above the limit: the rate, the logins sent and
/// those skipped because the generator's own in-flight bound was reached, the answers (200,
/// 429, 429 with `Retry-After`, other, timeouts, connection errors) and latencies of 200s and
/// 429s.
#[derive(Debug, Clone, Default)]
struct Overload {
    offered: f64,
    sent: u64,
    not_sent: u64,
    answers: [u64; 6],
    ok_latency: Vec<Duration>,
    too_many_latency: Vec<Duration>,
    elapsed: Duration,
}

/// One configuration: its label, runs below the limit and runs above it.
type Row = (String, Vec<Run>, Vec<Overload>);

pub(crate) async fn run(ctx: &Ctx) -> anyhow::Result<Section> {
    let rows = ctx.each("logins", ctx.kinds(false), async |kind, _, nodes| {
        on(ctx, kind, &nodes[0]).await
    });
    Ok(render(&rows.await?, clients(ctx)))
}

/// A login of the benchmark's user.
fn login(_: usize) -> Req {
    json("POST /api/login", None, credentials("bench-login"))
}

async fn on(ctx: &Ctx, kind: Kind, node: &Process) -> anyhow::Result<Row> {
    let o = &ctx.opts;
    ctx.register(node, "bench-login").await?;
    // Unmeasured, like every other warm-up: the first seconds of a burst run slower.
    let logins = |d| closed_loop(node.addr(), clients(ctx), d, login);
    argon2_limits(ctx, o.warmup).await?;
    logins(o.warmup).await?;
    let mut runs = Vec::new();
    for run in 1..=o.runs {
        let (limit, hasher) = argon2_limits(ctx, o.duration).await?;
        let (load, cores) = ctx
            .cores(&node_pg_self(node, kind), logins(duration(ctx)))
            .await;
        let load = load?;
        let (per_sec, errors, latency) = (load.per_sec, load.errors, Latency::of(&load.latencies));
        eprintln!(
            "  {} run {run}: limit {limit:.1}/s, server's hasher {hasher:.1}/s, HTTP logins \
             {per_sec:.1}/s ({:.0} % of the limit), {errors} errors",
            kind.label(),
            100.0 * per_sec / limit
        );
        runs.push(Run {
            per_sec,
            limit,
            hasher,
            cores,
            latency,
            errors,
        });
    }
    let limit = Spread::of(runs.iter().map(|r| r.limit)).context("no limit measured")?;
    let mut over = Vec::new();
    for run in 1..=overload_runs(ctx) {
        let r = overload(ctx, node, OVERLOAD_FACTOR * limit.median).await;
        eprintln!(
            "  {} overload run {run}: answers {:?}",
            kind.label(),
            r.answers
        );
        over.push(r);
        // Let the queue drain, so that each run starts from an idle server.
        for _ in 0..50 {
            if ctx.call(node.addr(), login(0), 200).await.is_ok() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    Ok((kind.label(), runs, over))
}

/// One run of the in-process argon2id limits, both without HTTP: the physical limit (one thread
/// per core, each hashing into memory allocated once), then the rate through the server's own
/// [`PasswordHasher`] as the server runs it (bounded, on the blocking pool).
async fn argon2_limits(ctx: &Ctx, duration: Duration) -> anyhow::Result<(f64, f64)> {
    let threads = ctx.cores;
    let raw = tokio::task::spawn_blocking(move || raw_argon2_rate(threads, duration));
    let raw = raw.await.context("argon2id threads panicked")??;
    let hasher = PasswordHasher::new(Argon2Params::default(), ctx.cores, 4 * ctx.cores)?;
    let password = Secret::new(PASSWORD);
    let phc: Arc<str> = hasher.hash(&password).await?.into();
    let (start, mut workers) = (Instant::now(), tokio::task::JoinSet::new());
    // Twice as many callers as cores, so that a core never waits for the next hash.
    for _ in 0..2 * ctx.cores {
        let (hasher, password, phc) = (hasher.clone(), password.clone(), phc.clone());
        workers.spawn(async move {
            let mut n = 0u64;
            while start.elapsed() < duration {
                n += u64::from(hasher.verify(&password, Some(&phc)).await?);
            }
            Ok::<_, adieu_core::HashError>(n)
        });
    }
    let mut total = 0;
    while let Some(n) = workers.join_next().await {
        total += n??;
    }
    Ok((raw, total as f64 / start.elapsed().as_secs_f64()))
}

/// Hashes per second on `threads` threads at the default parameters, memory allocated once.
fn raw_argon2_rate(threads: usize, duration: Duration) -> anyhow::Result<f64> {
    let p = Argon2Params::default();
    let params = argon2::Params::new(p.memory_kib, p.iterations, p.parallelism, Some(32));
    let params = params.map_err(|e| anyhow!("argon2 parameters: {e}"))?;
    let start = Instant::now();
    let hashes = |t: usize| {
        let (algorithm, version) = (argon2::Algorithm::Argon2id, argon2::Version::V0x13);
        let argon2 = argon2::Argon2::new(algorithm, version, params.clone());
        let mut blocks = vec![argon2::Block::default(); params.block_count()];
        let (mut out, salt, mut n) = ([0u8; 32], [t as u8; 16], 0u64);
        while start.elapsed() < duration {
            argon2.hash_password_into_with_memory(
                PASSWORD.as_bytes(),
                &salt,
                &mut out,
                &mut blocks,
            )?;
            n += 1;
        }
        Ok::<u64, argon2::Error>(n)
    };
    let total = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|t| scope.spawn(move || hashes(t)))
            .collect();
        let joined = workers
            .into_iter()
            .map(|w| w.join().expect("argon2id thread panicked"));
        joined.sum::<Result<u64, _>>()
    });
    let total = total.map_err(|e| anyhow!("argon2id: {e}"))?;
    Ok(total as f64 / start.elapsed().as_secs_f64())
}

/// Logins arriving at `rate` per second for the login duration, answered or not, each on a
/// connection of a pool that grows as needed, each giving up after the request timeout.
async fn overload(ctx: &Ctx, node: &Process, rate: f64) -> Overload {
    let interval = Duration::from_secs_f64(1.0 / rate.max(0.001));
    let in_flight = Arc::new(Semaphore::new(MAX_IN_FLIGHT));
    let pool = Arc::new(Mutex::new(Vec::new()));
    let run = Arc::new(Mutex::new(Overload::default()));
    let (start, mut tasks, addr) = (
        tokio::time::Instant::now(),
        tokio::task::JoinSet::new(),
        node.addr(),
    );
    for k in 0.. {
        let at = start + interval * k;
        if at >= start + duration(ctx) {
            break;
        }
        tokio::time::sleep_until(at).await;
        let Ok(permit) = in_flight.clone().try_acquire_owned() else {
            run.lock().expect("not poisoned").not_sent += 1;
            continue;
        };
        run.lock().expect("not poisoned").sent += 1;
        let (pool, run) = (pool.clone(), run.clone());
        tasks.spawn(async move {
            // A connection the server has closed since is not taken again.
            let idle = pool
                .lock()
                .expect("not poisoned")
                .pop()
                .filter(Conn::is_open);
            let t = Instant::now();
            let answer = tokio::time::timeout(REQUEST_TIMEOUT, async {
                let mut conn = match idle {
                    Some(conn) => conn,
                    None => Conn::open(addr).await?,
                };
                let answer = conn.send(login(0)).await?;
                pool.lock().expect("not poisoned").push(conn);
                anyhow::Ok(answer)
            });
            // The index into the answers by kind; 429s with `Retry-After` count twice.
            let (kind, retry_after) = match answer.await {
                Ok(Ok(a)) if a.status() == 200 => (0, false),
                Ok(Ok(a)) if a.status() == 429 => (1, a.headers().contains_key("retry-after")),
                Ok(Ok(_)) => (3, false),
                Err(_) => (4, false),
                Ok(Err(_)) => (5, false),
            };
            let mut run = run.lock().expect("not poisoned");
            run.answers[kind] += 1;
            run.answers[2] += u64::from(retry_after);
            match kind {
                0 => run.ok_latency.push(t.elapsed()),
                1 => run.too_many_latency.push(t.elapsed()),
                _ => {}
            }
            drop(permit);
        });
    }
    // Ends when every request has finished, each bounded by the timeout.
    while tasks.join_next().await.is_some() {}
    let mut run = run.lock().expect("not poisoned").clone();
    (run.offered, run.elapsed) = (rate, start.elapsed());
    run
}

fn render(rows: &[Row], clients: usize) -> Section {
    let all = |f: fn(&Run) -> f64| Spread::of(rows.iter().flat_map(|r| r.1.iter().map(f)));
    let pct = |r: &[Run], f: fn(&Run) -> f64| {
        spread(
            Spread::of(r.iter().map(|x| 100.0 * x.per_sec / f(x))),
            1,
            " %",
        )
    };
    let below = table(
        "server | clients | limit /s | logins/s | % of the limit | % of the server's hasher | \
         p50 / p99 ms | server CPU (cores) | PostgreSQL CPU (cores) | load generator CPU \
         (cores) | errors",
        rows.iter().map(|(label, r, _)| {
            let mut row = vec![label.clone(), clients.to_string(), col(r, |x| x.limit, 1)];
            row.extend([
                col(r, |x| x.per_sec, 1),
                pct(r, |x| x.limit),
                pct(r, |x| x.hasher),
            ]);
            row.push(lat(r, |x| x.latency, 0));
            row.extend((0..3).map(|i| col(r, |x| x.cores[i], 2)));
            row.push(r.iter().map(|x| x.errors).sum::<u64>().to_string());
            row
        }),
    );
    let shares = match (
        all(|r| 100.0 * r.hasher / r.limit),
        all(|r| 100.0 * r.per_sec / r.hasher),
    ) {
        (Some(h), Some(v)) => format!(
            "\nWithout HTTP, the server's hasher reaches {:.0} % of the limit; HTTP logins reach \
             {:.0} % of the server's hasher (medians of all runs).\n",
            h.median, v.median
        ),
        _ => String::new(),
    };
    let p99 = |l: &[Duration]| Latency::of(l).map_or("–".to_owned(), |l| ms(l.p99));
    let over = rows
        .iter()
        .flat_map(|(label, _, over)| over.iter().map(move |x| (label, x)));
    let above = table(
        "server | offered/s | sent | 200 | 429 (with Retry-After) | other | timeouts | connection \
         errors | 200/s | 200 p99 ms | 429 p99 ms",
        over.map(|(label, x)| {
            let c = x.answers.map(|n| n.to_string());
            let ok_per_sec = x.answers[0] as f64 / x.elapsed.as_secs_f64().max(f64::EPSILON);
            let mut row = vec![
                label.clone(),
                format!("{:.1}", x.offered),
                x.sent.to_string(),
            ];
            row.extend([c[0].clone(), format!("{} ({})", c[1], c[2])]);
            row.extend(c[3..].iter().cloned());
            row.extend([
                format!("{ok_per_sec:.1}"),
                p99(&x.ok_latency),
                p99(&x.too_many_latency),
            ]);
            row
        }),
    );
    let skipped = match rows.iter().any(|r| r.2.iter().any(|x| x.not_sent > 0)) {
        true => {
            "\nSome arrivals were not sent because the load generator's own bound on requests \
                 in flight was reached; they are not counted above.\n"
        }
        false => "",
    };
    let mut targets = Vec::new();
    for (label, r, _) in rows {
        // Each run against the limit measured in the same run.
        let f = Spread::of(r.iter().map(|x| 100.0 * x.per_sec / x.limit));
        let v = f.map_or("not measured".to_owned(), |f| {
            verdict(f.median >= TARGET * 100.0)
        });
        let measure = format!("HTTP logins/s ÷ in-process argon2id limit, {label}");
        targets.push([
            measure,
            format!("≥ {:.0} %", TARGET * 100.0),
            spread(f, 1, " %"),
            v,
        ]);
    }
    for (label, _, over) in rows {
        let [_, too_many, retry, other, timeouts, errors]: [u64; 6] =
            std::array::from_fn(|i| over.iter().map(|x| x.answers[i]).sum());
        let v = match too_many {
            0 => "**NOT REACHED** (no 429 at this load)".into(),
            _ => verdict(other + timeouts + errors == 0 && too_many == retry),
        };
        targets.push([
            format!("logins above the limit, {label}: clean 429s, no timeouts"),
            "every refusal a 429 with Retry-After; 0 timeouts, 0 errors".into(),
            format!(
                "{too_many} × 429 ({retry} with Retry-After), {timeouts} timeouts, {errors} \
                 connection errors, {other} other statuses"
            ),
            v,
        ]);
    }
    let body = format!(
        "**The limit:** argon2id hashes per second at the server's default parameters (m = 19456 \
         KiB, t = 2, p = 1) on all cores, measured in this process with one thread per core and \
         each thread's memory allocated once, no HTTP: **{} /s**. Through the server's own \
         hasher (`PasswordHasher`, bounded and on the blocking pool as in the server), still \
         in-process and without HTTP: {} /s.\n\n**Below the limit:** a fixed number of clients \
         log the same user in back to back (fewer than the hash queue admits, so none is turned \
         away). Each run measures the limit and the server's hasher in-process first, then the \
         HTTP logins, and compares the logins with the limit of the same run: the speed of this \
         machine's cores drifts from minute to minute by more than the 10 % the target \
         allows.\n\n{below}{shares}\n**Above the limit:** logins arrive at a fixed rate above \
         the limit, whether or not earlier ones were answered (each request gives up after its \
         timeout). The server should answer what it can and turn the rest away at once with 429 \
         and `Retry-After`, never leave a request hanging.\n\n{above}{skipped}\n",
        spread(all(|r| r.limit), 1, ""),
        spread(all(|r| r.hasher), 1, ""),
    );
    Section::new(
        "## 3. Login throughput against the argon2id limit",
        body,
        targets,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_miss_is_shown_and_an_overload_without_a_429_is_not_a_pass() {
        let row = |too_many| {
            let (per_sec, limit, hasher, cores) = (30.0, 41.0, 40.0, vec![0.0; 3]);
            let run = Run {
                per_sec,
                limit,
                hasher,
                cores,
                ..Run::default()
            };
            let (answers, elapsed) = ([5, too_many, too_many, 0, 0, 0], Duration::from_secs(1));
            let over = Overload {
                answers,
                elapsed,
                ..Overload::default()
            };
            ("SQLite".to_owned(), vec![run], vec![over])
        };
        let s = render(&[row(100)], 8);
        // 30 of a 41/s limit is 73 %: a miss, and it says so.
        assert_eq!(s.targets[0][1..], ["≥ 90 %", "73.2 %", "**MISS**"]);
        let clean = "100 × 429 (100 with Retry-After), 0 timeouts, 0 connection errors, 0 other \
                     statuses";
        assert_eq!(s.targets[1][2..], [clean, "**PASS**"]);
        let above = "| SQLite | 0.0 | 0 | 5 | 100 (100) | 0 | 0 | 0 | 5.0 | – | – |";
        assert!(s.body.contains(above), "{}", s.body);
        assert!(render(&[row(0)], 8).targets[1][3].contains("**NOT REACHED**"));
    }
}
