//! Measurement 3: HTTP logins against the machine's in-process argon2id limit, and clean 429s
//! above it.
//!
//! Each run measures the bare argon2id limit, the server's own hasher in-process and the HTTP
//! logins, in an order that rotates from run to run, so that the figures of a run come from the
//! same minute and a slow drift of the machine (on a shared or virtual machine the speed of a
//! core drifts by more than the 10 % the target allows) favours none of them.

use std::sync::Mutex;

use adieu_core::{Argon2Params, PasswordHasher};
use adieu_types::Secret;
use anyhow::{Context, anyhow};

use super::REQUEST_TIMEOUT;
use super::prelude::*;
use crate::http::{PASSWORD, Req, credentials, json};

/// HTTP logins reach this fraction of the argon2id limit.
const TARGET: f64 = 0.9;
/// The offered login rate above the limit, as a multiple of the limit.
pub(crate) const OVERLOAD_FACTOR: f64 = 3.0;

/// Length of one login run, below and above the limit, and of one in-process argon2id run.
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

/// One run below the limit: the HTTP logins (charged the cores of the node, PostgreSQL and the
/// load generator), the bare argon2id limit and the rate through the server's own hasher.
#[derive(Debug, Clone, Default)]
struct Run {
    http: Rate,
    limit: f64,
    hasher: f64,
}

/// One run of logins arriving at a fixed rate above the limit: the rate, the logins sent, the
/// answers (200, 429, 429 with `Retry-After`, other, timeouts, connection errors) and
/// latencies of 200s and 429s.
#[derive(Debug, Clone, Default)]
struct Overload {
    offered: f64,
    sent: u64,
    answers: [u64; 6],
    ok_latency: Vec<Duration>,
    too_many_latency: Vec<Duration>,
    elapsed: Duration,
}

/// One configuration: its label, runs below the limit and runs above it.
type Row = (String, Vec<Run>, Vec<Overload>);

pub(crate) async fn run(ctx: &Ctx) -> anyhow::Result<Section> {
    let rows = ctx.each(ctx.kinds(false), async |kind, _, nodes| {
        on(ctx, kind, &nodes[0]).await
    });
    Ok(render(&rows.await?, clients(ctx)))
}

/// A login of the benchmark's user.
fn login(_: usize) -> Req {
    json("POST /api/login", None, credentials("bench-login"))
}

async fn on(ctx: &Ctx, kind: Kind, node: &Process) -> anyhow::Result<Row> {
    ctx.register(node, "bench-login").await?;
    let logins = |d| (node.addr(), clients(ctx), d);
    let ticks = node_pg_self(node, kind);
    // Unmeasured, like every other warm-up: the first seconds of a burst run slower.
    let warmup = ctx.warmup();
    bare_rate(ctx.cores, warmup).await?;
    hasher_rate(ctx, warmup).await?;
    ctx.load(logins(warmup), Arc::new(login), &Vec::new).await?;
    let mut runs = Vec::new();
    for run in 0..ctx.opts.runs {
        let mut r = Run::default();
        for k in 0..3 {
            match (k + run) % 3 {
                0 => r.limit = bare_rate(ctx.cores, duration(ctx)).await?,
                1 => r.hasher = hasher_rate(ctx, duration(ctx)).await?,
                _ => {
                    r.http = ctx
                        .load(logins(duration(ctx)), Arc::new(login), &ticks)
                        .await?
                }
            }
        }
        let (label, limit, hasher, http) = (kind.label(), r.limit, r.hasher, r.http.per_sec);
        eprintln!(
            "  {label} run {}: limit {limit:.1}/s, hasher {hasher:.1}/s, HTTP {http:.1}/s",
            run + 1
        );
        runs.push(r);
    }
    let limit = Spread::of(runs.iter().map(|r| r.limit)).context("no limit measured")?;
    let mut over = Vec::new();
    for run in 1..=overload_runs(ctx) {
        let r = overload(ctx, node, OVERLOAD_FACTOR * limit.median).await;
        eprintln!("  overload run {run}: {:?}", r.answers);
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

/// The physical limit: hashes per second at the default parameters, one thread per core, each
/// hashing into memory allocated once, no HTTP and no runtime.
async fn bare_rate(threads: usize, duration: Duration) -> anyhow::Result<f64> {
    let p = Argon2Params::default();
    let params = argon2::Params::new(p.memory_kib, p.iterations, p.parallelism, Some(32));
    let params = params.map_err(|e| anyhow!("argon2 parameters: {e}"))?;
    let (algorithm, version) = (argon2::Algorithm::Argon2id, argon2::Version::V0x13);
    let argon2 = argon2::Argon2::new(algorithm, version, params.clone());
    let rate = tokio::task::spawn_blocking(move || {
        let start = Instant::now();
        let hashes = |t: u8| {
            let mut blocks = vec![argon2::Block::default(); params.block_count()];
            let (mut out, mut n) = ([0u8; 32], 0u64);
            while start.elapsed() < duration {
                let (password, salt) = (PASSWORD.as_bytes(), &[t; 16]);
                argon2.hash_password_into_with_memory(password, salt, &mut out, &mut blocks)?;
                n += 1;
            }
            Ok::<u64, argon2::Error>(n)
        };
        let total = std::thread::scope(|scope| {
            let workers: Vec<_> = (0..threads as u8)
                .map(|t| scope.spawn(move || hashes(t)))
                .collect();
            let joined = workers.into_iter().map(|w| w.join().expect("no panic"));
            joined.sum::<Result<u64, _>>()
        });
        Ok::<_, argon2::Error>(total? as f64 / start.elapsed().as_secs_f64())
    });
    rate.await?.map_err(|e| anyhow!("argon2id: {e}"))
}

/// Verifications per second through the server's own [`PasswordHasher`] as the server runs it
/// (bounded, on its hashing threads), by twice as many callers as cores so that a core never
/// waits for the next hash; no HTTP.
async fn hasher_rate(ctx: &Ctx, duration: Duration) -> anyhow::Result<f64> {
    let hasher = PasswordHasher::new(Argon2Params::default(), ctx.cores, 4 * ctx.cores)?;
    let password = Secret::new(PASSWORD);
    let phc: Arc<str> = hasher.hash(&password).await?.into();
    let (start, mut workers) = (Instant::now(), tokio::task::JoinSet::new());
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
    Ok(total as f64 / start.elapsed().as_secs_f64())
}

/// Logins arriving at `rate` per second for the login duration, answered or not, each on a
/// connection of a pool that grows as needed, each giving up after the request timeout.
async fn overload(ctx: &Ctx, node: &Process, rate: f64) -> Overload {
    let interval = Duration::from_secs_f64(1.0 / rate.max(0.001));
    let (start, addr) = (tokio::time::Instant::now(), node.addr());
    let (pool, mut tasks) = (
        Arc::new(Mutex::new(Vec::new())),
        tokio::task::JoinSet::new(),
    );
    let mut run = Overload::default();
    // Unbounded on purpose: the server must answer or refuse every arrival at once, so that
    // what is in flight stays near the hash queue's size; each request gives up after the
    // request timeout.
    for k in 0.. {
        let at = start + interval * k;
        if at >= start + duration(ctx) {
            break;
        }
        tokio::time::sleep_until(at).await;
        run.sent += 1;
        let pool = pool.clone();
        tasks.spawn(async move {
            let (t, idle) = (Instant::now(), pool.lock().expect("not poisoned").pop());
            let answer = tokio::time::timeout(REQUEST_TIMEOUT, async {
                // A connection the server has closed since is not taken again.
                let mut conn = match idle.filter(Conn::is_open) {
                    Some(conn) => conn,
                    None => Conn::open(addr).await?,
                };
                let answer = conn.send(login(0)).await?;
                pool.lock().expect("not poisoned").push(conn);
                anyhow::Ok(answer)
            });
            // The index into the answers by kind, and whether a 429 had `Retry-After`.
            let kind = match answer.await {
                Ok(Ok(a)) if a.status() == 200 => (0, false),
                Ok(Ok(a)) if a.status() == 429 => (1, a.headers().contains_key("retry-after")),
                Ok(Ok(_)) => (3, false),
                Err(_) => (4, false),
                Ok(Err(_)) => (5, false),
            };
            (kind, t.elapsed())
        });
    }
    // Ends when every request has finished, each bounded by the timeout.
    while let Some(joined) = tasks.join_next().await {
        let ((kind, retry_after), took) = joined.expect("a login task panicked");
        run.answers[kind] += 1;
        run.answers[2] += u64::from(retry_after);
        match kind {
            0 => run.ok_latency.push(took),
            1 => run.too_many_latency.push(took),
            _ => {}
        }
    }
    (run.offered, run.elapsed) = (rate, start.elapsed());
    run
}

fn render(rows: &[Row], clients: usize) -> Section {
    let all = |f: fn(&Run) -> f64| Spread::of(rows.iter().flat_map(|r| r.1.iter().map(f)));
    let pct = |r: &[Run], f: fn(&Run) -> f64| {
        spread(
            Spread::of(r.iter().map(|x| 100.0 * x.http.per_sec / f(x))),
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
                col(r, |x| x.http.per_sec, 1),
                pct(r, |x| x.limit),
                pct(r, |x| x.hasher),
            ]);
            row.push(lat(r, |x| x.http.latency, 0));
            row.extend((0..3).map(|i| col(r, |x| x.http.cores[i], 2)));
            row.push(r.iter().map(|x| x.http.errors).sum::<u64>().to_string());
            row
        }),
    );
    let shares = match (
        all(|r| r.hasher / r.limit),
        all(|r| r.http.per_sec / r.hasher),
    ) {
        (Some(h), Some(v)) => format!(
            "\nWithout HTTP, the server's hasher reaches {:.0} % of the limit; HTTP logins reach \
             {:.0} % of the server's hasher (medians of all runs).\n",
            100.0 * h.median,
            100.0 * v.median
        ),
        _ => String::new(),
    };
    let p99 = |l: &[Duration]| Latency::of(l).map_or("–".to_owned(), |l| ms(l.p99));
    let over = rows
        .iter()
        .flat_map(|(label, _, o)| o.iter().map(move |x| (label, x)));
    let above = table(
        "server | offered/s | sent | 200 | 429 (with Retry-After) | other | timeouts | connection \
         errors | 200/s | 200 p99 ms | 429 p99 ms",
        over.map(|(label, x)| {
            let [ok, too_many, retry, other, timeouts, errors] = x.answers;
            let ok_per_sec = ok as f64 / x.elapsed.as_secs_f64().max(f64::EPSILON);
            let (offered, sent) = (format!("{:.1}", x.offered), x.sent.to_string());
            let counts = [ok, other, timeouts, errors].map(|n| n.to_string());
            let mut row = vec![label.clone(), offered, sent, counts[0].clone()];
            row.push(format!("{too_many} ({retry})"));
            row.extend(
                counts[1..]
                    .iter()
                    .cloned()
                    .chain([format!("{ok_per_sec:.1}")]),
            );
            row.extend([p99(&x.ok_latency), p99(&x.too_many_latency)]);
            row
        }),
    );
    let mut targets = Vec::new();
    for (label, r, _) in rows {
        // Each run against the limit measured in the same run.
        let f = Spread::of(r.iter().map(|x| 100.0 * x.http.per_sec / x.limit));
        let v = f.map_or("not measured".into(), |f| {
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
        let measure = format!("logins above the limit, {label}: clean 429s, no timeouts");
        let target = "every refusal a 429 with Retry-After; 0 timeouts, 0 errors".to_owned();
        let result = format!(
            "{too_many} × 429 ({retry} with Retry-After), {timeouts} timeouts, {errors} \
             connection errors, {other} other statuses"
        );
        targets.push([measure, target, result, v]);
    }
    let body = format!(
        "**The limit:** argon2id hashes per second at the server's default parameters (m = 19456 \
         KiB, t = 2, p = 1) on all cores, measured in this process with one thread per core and \
         each thread's memory allocated once, no HTTP: **{} /s**. Through the server's own \
         hasher (`PasswordHasher`, bounded and on its own threads as in the server), still \
         in-process and without HTTP: {} /s.\n\n**Below the limit:** a fixed number of clients \
         log the same user in back to back (fewer than the hash queue admits, so none is turned \
         away). Each run measures the limit, the server's hasher and the HTTP logins, one after \
         the other in an order that rotates from run to run, and compares the logins with the \
         limit of the same run: the speed of this machine's cores drifts from minute to minute \
         by more than the 10 % the target allows.\n\n{below}{shares}\n**Above the limit:** \
         logins arrive at a fixed rate above the limit, whether or not earlier ones were \
         answered (each request gives up after its timeout). The server should answer what it \
         can and turn the rest away at once with 429 and `Retry-After`, never leave a request \
         hanging.\n\n{above}\n",
        spread(all(|r| r.limit), 1, ""),
        spread(all(|r| r.hasher), 1, ""),
    );
    let heading = "## 3. Login throughput against the argon2id limit";
    Section::new(heading, body, targets)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_miss_is_shown_and_an_overload_without_a_429_is_not_a_pass() {
        let row = |too_many| {
            let http = Rate {
                per_sec: 30.0,
                cores: vec![0.0; 3],
                ..Rate::default()
            };
            let (limit, hasher) = (41.0, 40.0);
            let run = Run {
                http,
                limit,
                hasher,
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
