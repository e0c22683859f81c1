//! Measurement 7: RFC 7662 introspection, what a resource server pays per request, against
//! `/api/me`, the same check for a client of Adieu itself.
//!
//! Both run on one node with the cache on, the same tokens and the same load, one after the
//! other in alternating order. Introspection adds a form body to parse and a client to
//! authenticate (the client's secret hash comes from the node's cache, kept coherent with
//! deletions like a token).

use std::time::Duration;

use anyhow::{Context, bail};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hyper::body::Bytes;
use hyper::header::HeaderValue;

use super::{Ctx, ServerKind, slug, stop_all};
use crate::http::{self, closed_loop, closed_loop_get};
use crate::node::Node;
use crate::report::{IntrospectRow, IntrospectRun};
use crate::stats::Latency;

/// Measurement 7 on each backend, with the cache on.
pub(crate) async fn introspection(ctx: &mut Ctx) -> anyhow::Result<Vec<IntrospectRow>> {
    let mut rows = Vec::new();
    for kind in ctx.kinds(false) {
        let kind = ServerKind {
            cache: ctx.caps.cache_flag.then_some(true),
            ..kind
        };
        if rows.iter().any(|r: &IntrospectRow| r.label == kind.label()) {
            continue;
        }
        let label = format!("introspect-{}", slug(kind));
        let db = ctx.fresh_database(kind.backend, &label).await?;
        let nodes = ctx.start_nodes(&db, kind, &label, 1).await?;
        let result = introspection_on(ctx, kind, &nodes[0], &db.url).await;
        stop_all(nodes).await;
        rows.push(result?);
    }
    Ok(rows)
}

async fn introspection_on(
    ctx: &mut Ctx,
    kind: ServerKind,
    node: &Node,
    database_url: &str,
) -> anyhow::Result<IntrospectRow> {
    let o = ctx.opts.clone();
    let tokens = ctx.real_tokens(node, "bench-introspect", 4).await?;
    let key = admin_key(ctx, database_url).await?;
    let (client_id, secret) = ctx.api.create_client(node.admin, &key).await?;
    let basic = HeaderValue::from_str(&format!(
        "Basic {}",
        STANDARD.encode(format!("{client_id}:{secret}"))
    ))
    .context("a header-safe client")?;
    let forms: Vec<Bytes> = tokens
        .iter()
        .map(|t| Bytes::from(format!("token={t}&token_type_hint=access_token")))
        .collect();
    let answer = ctx
        .api
        .introspect(node.addr, &client_id, &secret, &tokens[0])
        .await?;
    if answer["active"] != true {
        bail!("introspection does not say the token is active: {answer}");
    }
    let introspect = |duration: Duration| {
        let (basic, forms) = (basic.clone(), forms.clone());
        closed_loop(node.addr, o.connections, duration, move |i| {
            http::post_form("/oauth2/introspect", &basic, forms[i % forms.len()].clone())
        })
    };
    // Warm-up: connections, the cache (tokens and the client).
    closed_loop_get(node.addr, "/api/me", &tokens, o.connections, o.warmup).await?;
    introspect(o.warmup).await?;
    let mut runs = Vec::with_capacity(o.runs);
    for run in 0..o.runs {
        let mut r = IntrospectRun::default();
        let order = if run % 2 == 0 {
            [false, true]
        } else {
            [true, false]
        };
        for introspecting in order {
            let res = if introspecting {
                introspect(o.duration).await?
            } else {
                closed_loop_get(node.addr, "/api/me", &tokens, o.connections, o.duration).await?
            };
            r.errors += res.not_ok + res.transport_errors;
            if introspecting {
                r.introspect_per_sec = res.ok_per_sec();
                r.introspect_latency = Latency::of(&res.latencies);
            } else {
                r.me_per_sec = res.ok_per_sec();
                r.me_latency = Latency::of(&res.latencies);
            }
        }
        eprintln!(
            "  {} run {}: /api/me {:.0}/s, /oauth2/introspect {:.0}/s, ratio {:.2}",
            kind.label(),
            run + 1,
            r.me_per_sec,
            r.introspect_per_sec,
            r.ratio()
        );
        runs.push(r);
    }
    Ok(IntrospectRow {
        label: kind.label(),
        runs,
    })
}

/// An admin key made by `adieu admin keys create` on the node's own database.
async fn admin_key(ctx: &Ctx, database_url: &str) -> anyhow::Result<String> {
    let out = tokio::process::Command::new(&ctx.adieu)
        .args([
            "admin",
            "keys",
            "create",
            "--name",
            "bench",
            "--database-url",
            database_url,
        ])
        .output()
        .await
        .context("running adieu admin keys create")?;
    if !out.status.success() {
        bail!(
            "adieu admin keys create failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8(out.stdout)?.trim().to_owned())
}
