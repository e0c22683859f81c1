//! Forward auth's reading of the proxied request: `X-Original-URL` (nginx), `X-Forwarded-*`
//! (Caddy, Traefik), the `rd` redirect target it builds and the login page follows, and
//! `X-Forwarded-For` behind trusted proxies.
//!
//! The input is an HTTP head (`Name: value` lines); `X-Fuzz-Config: N` picks one of a few
//! configurations and `X-Fuzz-Peer: N` the proxy's address.
//! - A refusal is a 401, or for Caddy a 302/303, and a `Location` it carries goes to the
//!   login page; the `rd` there, read back as the login page reads its query, is the URL the
//!   proxy described, and is accepted.
//! - **An accepted redirect target never leaves the allowed origins**: a local path stays on
//!   Adieu, an absolute URL goes to the cookie domain, a subdomain of it or a listed host,
//!   as a browser resolves it; and it is accepted again as itself.
//! - The client address from `X-Forwarded-For` is the peer's unless the peer is trusted, and
//!   otherwise an address of the header with only trusted proxies to its right.
#![no_main]

use std::net::IpAddr;

use adieu_fuzz::{PUBLIC_ORIGIN, assert_stays_on_allowed_origins, head_and_body};
use adieu_server::Config;
use adieu_server::forwarded::TrustedProxies;
use adieu_server::fuzzing::{forward_auth_refusal, nginx_refusal, redirect_target};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (headers, _) = head_and_body(data);
    let config = config(pick(&headers, "x-fuzz-config"));
    let domain = config.cookie_domain.as_deref();
    let hosts = &config.redirect_hosts;

    // Every header value as a target of its own: the login page reads `rd` from anywhere.
    for value in headers.values().filter_map(|v| v.to_str().ok()) {
        if let Some(target) = redirect_target(&config, value) {
            assert_stays_on_allowed_origins(&target, domain, hosts);
            assert_eq!(
                redirect_target(&config, &target).as_deref(),
                Some(target.as_str()),
                "{target:?}, accepted for {value:?}, is not accepted as itself"
            );
        }
    }

    let nginx = nginx_refusal(&config, &headers);
    assert_eq!(nginx.status(), StatusCode::UNAUTHORIZED);
    let described = text(&headers, "x-original-url").map(str::to_owned);
    check_location(&config, &nginx, described.as_deref());

    let caddy = forward_auth_refusal(&config, &headers);
    let status = caddy.status();
    assert!(
        [
            StatusCode::UNAUTHORIZED,
            StatusCode::FOUND,
            StatusCode::SEE_OTHER
        ]
        .contains(&status),
        "{status}"
    );
    assert_eq!(
        status != StatusCode::UNAUTHORIZED,
        caddy.headers().contains_key(header::LOCATION)
    );
    let described = text(&headers, "x-forwarded-host").and_then(|host| {
        let scheme = text(&headers, "x-forwarded-proto").unwrap_or("https");
        let uri = text(&headers, "x-forwarded-uri").unwrap_or("/");
        uri.starts_with('/')
            .then(|| format!("{scheme}://{host}{uri}"))
    });
    check_location(&config, &caddy, described.as_deref());

    check_client_ip(pick(&headers, "x-fuzz-peer"), &headers);
});

/// A choice the input makes in a header of its own: its first byte, 0 without it.
fn pick(headers: &HeaderMap, name: &str) -> usize {
    headers
        .get(name)
        .and_then(|v| v.as_bytes().first())
        .map_or(0, |b| usize::from(*b))
}

/// One of a few configurations.
fn config(pick: usize) -> Config {
    let (domain, hosts): (Option<&str>, &[&str]) = match pick % 4 {
        0 => (Some("example.com"), &["partner.example.org", "10.0.0.1"]),
        1 => (None, &["app.example.net", "::1", "192.0.2.1"]),
        2 => (Some("example.com"), &[]),
        _ => (None, &[]),
    };
    Config {
        public_origin: Some(PUBLIC_ORIGIN.to_owned()),
        cookie_domain: domain.map(str::to_owned),
        redirect_hosts: hosts
            .iter()
            .map(|h| adieu_server::config::parse_host(h).expect("a valid host"))
            .collect(),
        ..Config::default()
    }
}

fn text<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

/// A refusal's `Location` goes to the login page, and its `rd` is the described URL, one
/// that is accepted and stays on the allowed origins.
fn check_location(config: &Config, refusal: &Response, described: Option<&str>) {
    let Some(location) = refusal.headers().get(header::LOCATION) else {
        return;
    };
    let location = location.to_str().expect("a Location of visible ASCII");
    let login = format!("{PUBLIC_ORIGIN}/login");
    let Some(rest) = location.strip_prefix(&login) else {
        panic!("{location:?} is not the login page");
    };
    if rest.is_empty() {
        return;
    }
    let query = rest
        .strip_prefix('?')
        .expect("only a query after the login page");
    // As the login page's `Query` reads it.
    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect();
    let [(name, rd)] = pairs.as_slice() else {
        panic!("{location:?} carries more than rd");
    };
    assert_eq!(name, "rd");
    assert_eq!(Some(rd.as_str()), described, "{location:?}");
    let target = redirect_target(config, rd).expect("rd is a target the login page accepts");
    assert_stays_on_allowed_origins(
        &target,
        config.cookie_domain.as_deref(),
        &config.redirect_hosts,
    );
}

fn check_client_ip(pick: usize, headers: &HeaderMap) {
    let trusted: TrustedProxies = "10.0.0.0/8, 127.0.0.1, ::1".parse().expect("valid");
    let untrusted = TrustedProxies::default();
    // The peer: a trusted proxy or not.
    let peers: [IpAddr; 4] = [
        "10.0.0.1".parse().unwrap(),
        "::ffff:127.0.0.1".parse().unwrap(),
        "198.51.100.7".parse().unwrap(),
        "2001:db8::7".parse().unwrap(),
    ];
    let peer = peers[pick % peers.len()];
    assert_eq!(untrusted.client_ip(peer, headers), peer.to_canonical());
    let client = trusted.client_ip(peer, headers);
    let canonical = peer.to_canonical();
    let is_trusted = |ip: IpAddr| match ip {
        IpAddr::V4(v4) => v4.octets()[0] == 10 || v4 == std::net::Ipv4Addr::LOCALHOST,
        IpAddr::V6(v6) => v6 == std::net::Ipv6Addr::LOCALHOST,
    };
    if !is_trusted(canonical) {
        assert_eq!(client, canonical);
        return;
    }
    if client == canonical {
        return;
    }
    // Otherwise an address of the header, every hop right of it a trusted proxy.
    let hops: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .collect();
    let at = hops
        .iter()
        .rposition(|hop| hop.trim().parse::<IpAddr>().map(|ip| ip.to_canonical()) == Ok(client))
        .unwrap_or_else(|| panic!("{client} is neither the peer nor in {hops:?}"));
    for hop in &hops[at + 1..] {
        let ip = hop
            .trim()
            .parse::<IpAddr>()
            .expect("right of the client, every hop parses");
        assert!(
            is_trusted(ip.to_canonical()),
            "{client} taken from left of the untrusted {ip}"
        );
    }
}
