//! The client's address behind reverse proxies that the operator trusts.
//!
//! Behind a proxy every request comes from the proxy's address, so per-IP limits would become
//! one global limit and the session list would show the proxy. Only when the peer itself is a
//! trusted proxy is `X-Forwarded-For` read, and then from the right: each trusted proxy
//! appends the address it received the request from, so the rightmost address that is not a
//! trusted proxy is the first one that no proxy of ours can vouch for: the client. Anything
//! left of it was written by the client and is ignored.

use std::net::IpAddr;
use std::str::FromStr;

use axum::http::HeaderMap;
use ipnet::IpNet;

/// Networks whose peers may tell the client's address (`--trusted-proxies`); empty by
/// default, so that forwarded headers are ignored.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<IpNet>);

impl FromStr for TrustedProxies {
    type Err = String;

    /// A comma-separated list of networks (`10.0.0.0/8`) or addresses (`127.0.0.1`, `::1`).
    fn from_str(list: &str) -> Result<Self, String> {
        list.split(',')
            .map(str::trim)
            .filter(|item| !item.is_empty())
            .map(|item| {
                item.parse::<IpNet>()
                    .or_else(|_| item.parse::<IpAddr>().map(IpNet::from))
                    .map(|net| net.trunc())
                    .map_err(|_| format!("{item:?} is not an address or a network (a.b.c.d/n)"))
            })
            .collect::<Result<_, _>>()
            .map(Self)
    }
}

impl TrustedProxies {
    /// Whether no proxy is trusted.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn trusts(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|net| net.contains(&ip))
    }

    /// The client's address: the peer's, unless the peer is a trusted proxy, in which case
    /// the rightmost address of `X-Forwarded-For` that is not a trusted proxy. A header that
    /// is missing, malformed, or names only trusted proxies leaves the peer's address (or the
    /// leftmost trusted one) as the answer. Addresses come back canonical.
    pub fn client_ip(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let peer = peer.to_canonical();
        if !self.trusts(peer) {
            return peer;
        }
        let mut client = peer;
        // Every X-Forwarded-For header, in order, read as one list from the right.
        let hops: Vec<&str> = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .collect();
        for hop in hops.iter().rev() {
            let Ok(ip) = hop.trim().parse::<IpAddr>().map(|ip| ip.to_canonical()) else {
                // Not an address: nothing to its left can be trusted either.
                break;
            };
            client = ip;
            if !self.trusts(ip) {
                break;
            }
        }
        client
    }
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn forwarded(values: &[&'static str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append("x-forwarded-for", HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn lists_of_networks_and_addresses_parse() {
        let t: TrustedProxies = "10.0.0.0/8, 127.0.0.1,::1, 2001:db8::/32".parse().unwrap();
        assert!(t.trusts(ip("10.1.2.3")) && t.trusts(ip("127.0.0.1")) && t.trusts(ip("::1")));
        assert!(t.trusts(ip("2001:db8::5")) && !t.trusts(ip("127.0.0.2")));
        assert!("".parse::<TrustedProxies>().unwrap().is_empty());
        for bad in ["10.0.0.0/33", "localhost", "10.0.0.0/8;", "1.2.3"] {
            assert!(bad.parse::<TrustedProxies>().is_err(), "{bad}");
        }
    }

    #[test]
    fn without_trusted_proxies_the_header_is_ignored() {
        let none = TrustedProxies::default();
        let h = forwarded(&["203.0.113.7"]);
        assert_eq!(none.client_ip(ip("198.51.100.1"), &h), ip("198.51.100.1"));
    }

    #[test]
    fn from_an_untrusted_peer_the_header_is_ignored() {
        let t: TrustedProxies = "10.0.0.1".parse().unwrap();
        let h = forwarded(&["203.0.113.7"]);
        assert_eq!(t.client_ip(ip("198.51.100.1"), &h), ip("198.51.100.1"));
    }

    #[test]
    fn the_rightmost_untrusted_address_is_the_client() {
        let t: TrustedProxies = "10.0.0.0/8".parse().unwrap();
        // The client claimed 1.1.1.1; the edge proxy saw 203.0.113.7; an inner proxy saw
        // the edge at 10.0.0.2.
        let h = forwarded(&["1.1.1.1, 203.0.113.7", "10.0.0.2"]);
        assert_eq!(t.client_ip(ip("10.0.0.1"), &h), ip("203.0.113.7"));
        // Mapped addresses are canonical, on the peer and in the header.
        let h = forwarded(&["::ffff:203.0.113.9"]);
        assert_eq!(t.client_ip(ip("::ffff:10.0.0.1"), &h), ip("203.0.113.9"));
    }

    #[test]
    fn garbage_or_only_proxies_leave_the_nearest_address_known() {
        let t: TrustedProxies = "10.0.0.0/8".parse().unwrap();
        let peer = ip("10.0.0.1");
        assert_eq!(t.client_ip(peer, &HeaderMap::new()), peer);
        assert_eq!(t.client_ip(peer, &forwarded(&["not-an-ip"])), peer);
        assert_eq!(
            t.client_ip(peer, &forwarded(&["1.1.1.1, junk, 10.0.0.3"])),
            ip("10.0.0.3")
        );
        assert_eq!(t.client_ip(peer, &forwarded(&["10.0.0.9"])), ip("10.0.0.9"));
    }
}
