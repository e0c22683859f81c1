//! Measurement 7: RFC 7662 introspection, what a resource server pays per request, against
//! `/api/me`, the same check for a client of Adieu itself.
//!
//! Both run on one node with the cache on, the same tokens and the same load, one after the
//! other in alternating order. Introspection adds a form body to parse and a client to
//! authenticate (the client's secret hash comes from the node's cache, kept coherent with
//! deletions like a token).

use anyhow::{Context, bail};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hyper::header::HeaderValue;
use serde_json::json;

use super::prelude::*;
use super::{ratio_table, text};
use crate::http::json;

/// How its rows of the targets table begin.
const ROW: &str = "`/oauth2/introspect` ÷ `/api/me` req/s";

/// On each backend, with the cache on.
pub(crate) async fn run(ctx: &Ctx) -> anyhow::Result<Section> {
    let cache_on = |(kind, n): (Kind, _)| (Kind(kind.0, Some(true)), n);
    let setups = ctx.kinds(false).into_iter().map(cache_on).collect();
    let rows = ctx.each(setups, async |kind, db, nodes| {
        Ok((kind.label(), on(ctx, kind, &nodes[0], &db.0).await?))
    });
    let (body, targets) = ratio_table(["`/api/me`", "introspection"], 0.8, ROW, &rows.await?);
    let body = format!(
        "One node with the cache on, four access tokens of real logins, and one client made on \
         the admin API. *Introspection*: `POST /oauth2/introspect` with the client's HTTP Basic \
         credentials and `token=…` as a form, which a resource server sends for every request it \
         serves. *`/api/me`*: `GET` with the same tokens. Same load as measurement 1, one after \
         the other, alternating which goes first.\n\n{body}\n"
    );
    let heading = "## 7. Introspection for resource servers: `/oauth2/introspect` versus `/api/me`";
    Ok(Section::new(heading, body, targets))
}

async fn on(ctx: &Ctx, kind: Kind, node: &Process, url: &str) -> anyhow::Result<Vec<Vec<Rate>>> {
    let tokens = ctx.real_tokens(node, "bench-introspect", 4).await?;
    // An admin key written into the node's database as `adieu admin keys create` writes it.
    let seeder = crate::db::Seeder::open(url).await?;
    let key = bearer(&seeder.admin_key().await?);
    seeder.close().await;
    let made = json(
        "POST /admin/clients",
        Some(&key),
        json!({ "name": "bench" }),
    );
    let client = ctx.call(super::admin(node), made, 201).await?;
    let (id, secret) = (text(&client, "client_id")?, text(&client, "client_secret")?);
    let basic = format!("Basic {}", STANDARD.encode(format!("{id}:{secret}")));
    let basic = HeaderValue::from_str(&basic).context("a header-safe client")?;
    let forms: Vec<_> = tokens
        .iter()
        .map(|t| format!("token={t}&token_type_hint=access_token"))
        .collect();
    let form = move |i: usize| Some(("application/x-www-form-urlencoded", forms[i % 4].clone()));
    let introspect = move |i| request("POST /oauth2/introspect", Some(&basic), form(i));
    if ctx.call(node.addr(), introspect(0), 200).await?["active"] != true {
        bail!("introspection does not say the token of a real login is active");
    }
    let auths: Vec<_> = tokens.iter().map(|t| bearer(t)).collect();
    let me: MakeRequest = Arc::new(move |i| request("GET /api/me", Some(&auths[i % 4]), None));
    let targets = [
        ("/api/me", node.addr(), me),
        ("/oauth2/introspect", node.addr(), Arc::new(introspect) as _),
    ];
    compare(ctx, &kind.label(), &targets, Vec::new).await
}
