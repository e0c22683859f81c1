//! Measurement 7: RFC 7662 introspection, what a resource server pays per request, against
//! `/api/me`, the same check for a client of Adieu itself.
//!
//! Both run on one node with the cache on, the same tokens and the same load, one after the
//! other in alternating order. Introspection adds a form body to parse and a client to
//! authenticate (the client's secret hash comes from the node's cache, kept coherent with
//! deletions like a token).

use std::sync::Arc;

use anyhow::{Context, bail};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hyper::Method;
use hyper::body::Bytes;
use hyper::header::HeaderValue;

use super::{Ctx, MakeRequest, Rate, ServerKind, compare, stop_all};
use crate::http::{self, bearer};
use crate::node::Node;
use crate::report::{Section, col, lat, ratio_target, spread, table, verdict};
use crate::stats::Spread;

/// Introspection reaches this fraction of `/api/me`.
pub(crate) const TARGET: f64 = 0.8;

/// On each backend, with the cache on.
pub(crate) async fn run(ctx: &mut Ctx) -> anyhow::Result<Section> {
    let mut rows = Vec::new();
    for kind in ctx.kinds(false) {
        let kind = ServerKind {
            cache: Some(true),
            ..kind
        };
        let label = format!("introspect-{}", kind.slug());
        let db = ctx.fresh_database(kind.backend, &label).await?;
        let nodes = ctx.start_nodes(&db, kind, &label, 1).await?;
        let result = on(ctx, kind, &nodes[0], &db.url).await;
        stop_all(nodes).await;
        match result {
            Ok(runs) => rows.push((kind.label(), runs)),
            Err(e) => ctx.not_measured("introspection", kind, &e),
        }
    }
    Ok(render(&rows))
}

async fn on(
    ctx: &Ctx,
    kind: ServerKind,
    node: &Node,
    database_url: &str,
) -> anyhow::Result<Vec<Vec<Rate>>> {
    let tokens = ctx.real_tokens(node, "bench-introspect", 4).await?;
    // An admin key made by `adieu admin keys create` on the node's own database.
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
    let key = String::from_utf8(out.stdout)?.trim().to_owned();
    let client = ctx.api.create_client(node.admin, &key).await?;
    let answer = ctx.api.introspect(node.addr, &client, &tokens[0]).await?;
    let (client_id, secret) = client;
    if answer["active"] != true {
        bail!("introspection does not say the token is active: {answer}");
    }
    let basic = HeaderValue::from_str(&format!(
        "Basic {}",
        STANDARD.encode(format!("{client_id}:{secret}"))
    ))
    .context("a header-safe client")?;
    let forms: Vec<Bytes> = tokens
        .iter()
        .map(|t| Bytes::from(format!("token={t}&token_type_hint=access_token")))
        .collect();
    let auths: Vec<_> = tokens.iter().map(|t| bearer(t)).collect();
    let targets: [(&str, _, MakeRequest); 2] = [
        (
            "/api/me",
            node.addr,
            Arc::new(move |i| http::get("/api/me", Some(&auths[i % auths.len()]))),
        ),
        (
            "/oauth2/introspect",
            node.addr,
            Arc::new(move |i| {
                http::request(
                    Method::POST,
                    http::NODE_HOST,
                    "/oauth2/introspect",
                    Some(&basic),
                    Some(forms[i % forms.len()].clone()),
                )
            }),
        ),
    ];
    compare(ctx, &kind.label(), &targets, Vec::new).await
}

/// Each run holds the `/api/me` load, then the introspection load.
pub(crate) fn render(rows: &[(String, Vec<Vec<Rate>>)]) -> Section {
    let ratio = |r: &[Vec<Rate>]| Spread::of(r.iter().map(|x| x[1].per_sec / x[0].per_sec));
    let body = table(
        &format!(
            "server | `/api/me` req/s | introspection req/s | ratio (target ≥ {TARGET:.2}) | `/api/me` p50 / p99 ms | introspection p50 / p99 ms | errors | verdict"
        ),
        rows.iter().map(|(label, r)| {
            vec![
                label.clone(),
                col(r, |x| x[0].per_sec, 0),
                col(r, |x| x[1].per_sec, 0),
                spread(ratio(r), 2, ""),
                lat(r, |x| x[0].latency, 2),
                lat(r, |x| x[1].latency, 2),
                r.iter()
                    .flatten()
                    .map(|x| x.errors)
                    .sum::<u64>()
                    .to_string(),
                ratio(r)
                    .map_or("not measured", |s| verdict(s.median >= TARGET))
                    .to_owned(),
            ]
        }),
    );
    Section {
        heading: "## 7. Introspection for resource servers: `/oauth2/introspect` versus `/api/me`"
            .into(),
        body: format!(
            "One node with the cache on, four access tokens of real logins, and one client made \
             on the admin API. *Introspection*: `POST /oauth2/introspect` with the client's HTTP \
             Basic credentials and `token=…` as a form, which a resource server sends for every \
             request it serves. *`/api/me`*: `GET` with the same tokens. Same load as \
             measurement 1, one after the other, alternating which goes first.\n\n{body}\n"
        ),
        targets: rows
            .iter()
            .map(|(label, r)| {
                ratio_target(
                    &format!("`/oauth2/introspect` ÷ `/api/me` req/s, {label}"),
                    TARGET,
                    ratio(r),
                )
            })
            .collect(),
    }
}
