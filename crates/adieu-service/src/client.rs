//! Who is calling, and the keys its rate limits are counted under.

use std::net::IpAddr;

use adieu_store::AuditContext;

/// Who is calling and from where, for sessions and the audit log.
#[derive(Debug, Clone, Default)]
pub struct ClientInfo {
    /// Peer IP address.
    pub ip: Option<String>,
    /// `User-Agent`, truncated.
    pub user_agent: Option<String>,
}

impl ClientInfo {
    pub(crate) fn audit(&self) -> AuditContext {
        AuditContext {
            ip: self.ip.clone(),
            user_agent: self.user_agent.clone(),
            actor: None,
        }
    }
}

/// The per-IP rate-limit key: the address itself for IPv4, its /64 network for IPv6 (one
/// host commonly holds a whole /64, so single addresses are free to rotate). An IPv4 client
/// of a dual-stack listener (`::ffff:a.b.c.d`) is keyed as the IPv4 address it is.
pub(crate) fn rate_limit_key(ip: &str) -> String {
    match ip.parse::<IpAddr>().map(|ip| ip.to_canonical()) {
        Ok(IpAddr::V6(v6)) => {
            let s = v6.segments();
            format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
        Ok(IpAddr::V4(v4)) => v4.to_string(),
        Err(_) => ip.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::rate_limit_key;

    #[test]
    fn ipv6_clients_are_limited_per_64_network() {
        assert_eq!(rate_limit_key("2001:db8:1:2:aaaa::1"), "2001:db8:1:2::/64");
        assert_eq!(
            rate_limit_key("2001:db8:1:2:ffff::9"),
            rate_limit_key("2001:db8:1:2::1")
        );
        assert_eq!(rate_limit_key("192.0.2.7"), "192.0.2.7");
    }

    #[test]
    fn ipv4_mapped_clients_are_limited_per_ipv4_address() {
        assert_eq!(rate_limit_key("::ffff:192.0.2.7"), "192.0.2.7");
        assert_ne!(
            rate_limit_key("::ffff:127.0.0.1"),
            rate_limit_key("::ffff:127.0.0.2")
        );
    }
}
