//! The egress policy: which network destinations source connections may reach.
//!
//! The operator gives allow and deny lists of rules; a rule is a CIDR (`10.0.0.0/8`,
//! `fd00::/8`), one address (`192.0.2.7`), a host name (`db.corp.example`) or every
//! name under a domain (`*.corp.example`). A destination is judged twice: its host as
//! written before it is resolved ([`EgressPolicy::check_host`]), and every address it
//! resolves to ([`EgressPolicy::check_resolved`]); the connect then goes to those
//! checked addresses only, so the name cannot resolve elsewhere in between.
//!
//! - A deny rule always wins: a name matching one, or any resolved address inside one,
//!   refuses the destination (not just that address: a name that points at a denied
//!   address is not a source anyone should rely on).
//! - With an empty allow list everything not denied is allowed. Otherwise the host
//!   must match an allow name rule, or every resolved address lie in an allow network.
//! - [`BUILTIN_DENY`] (link-local, cloud metadata, unspecified, multicast, broadcast)
//!   applies unless the operator turns it off. Loopback and private networks are
//!   allowed by default: self-hosted databases live there.
//! - An IPv6 address that embeds an IPv4 one (IPv4-mapped, IPv4-compatible, NAT64
//!   `64:ff9b::/96`, 6to4 `2002::/16`) is also judged by the IPv4 address it embeds.

use crate::sources::error::{SourceError, SourceErrorKind};
use ipnet::IpNet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// The rules denied unless `egress_builtin_deny = false`: link-local networks (where
/// cloud metadata services answer: 169.254.169.254 on AWS, GCP, Azure and others;
/// fd00:ec2::254 on AWS; 100.100.100.200 on Alibaba Cloud), the metadata host names,
/// "this network", unspecified, multicast and broadcast addresses.
pub const BUILTIN_DENY: &[&str] = &[
    "169.254.0.0/16",
    "fe80::/10",
    "fd00:ec2::254/128",
    "100.100.100.200/32",
    "metadata.google.internal",
    "metadata.goog",
    "0.0.0.0/8",
    "::/128",
    "224.0.0.0/4",
    "255.255.255.255/32",
    "ff00::/8",
];

/// One allow or deny rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Rule {
    /// Addresses in a network (one address is a /32 or /128).
    Net(IpNet),
    /// Exactly this host name (lower case, no trailing dot).
    Name(String),
    /// Every host name ending in `.suffix` (written `*.suffix`).
    Domain(String),
}

impl Rule {
    /// Parses a rule: a CIDR, an IP address, a host name, or `*.` and a domain.
    pub fn parse(text: &str) -> Result<Rule, String> {
        let text = text.trim();
        let refused = || {
            format!(
                "egress rule `{text}` is not a CIDR (10.0.0.0/8), an IP address, a host name \
                 (db.example.com) or a domain wildcard (*.example.com)"
            )
        };
        if text.contains('/') {
            return text
                .parse::<IpNet>()
                .map(|net| Rule::Net(net.trunc()))
                .map_err(|_| refused());
        }
        if let Ok(ip) = text.trim_start_matches('[').trim_end_matches(']').parse::<IpAddr>() {
            return Ok(Rule::Net(IpNet::from(canonical(ip))));
        }
        let (wildcard, name) = match text.strip_prefix("*.") {
            Some(domain) => (true, domain),
            None => (false, text),
        };
        let name = normalise_name(name).ok_or_else(refused)?;
        Ok(if wildcard { Rule::Domain(name) } else { Rule::Name(name) })
    }

    fn matches_name(&self, name: &str) -> bool {
        match self {
            Rule::Name(exact) => exact == name,
            Rule::Domain(domain) => name
                .strip_suffix(domain.as_str())
                .is_some_and(|head| head.ends_with('.')),
            Rule::Net(_) => false,
        }
    }

    fn matches_addr(&self, ip: IpAddr) -> bool {
        matches!(self, Rule::Net(net) if net.contains(&ip))
    }
}

/// Lower case without a trailing dot, when `name` is a syntactically valid host name.
fn normalise_name(name: &str) -> Option<String> {
    let name = name.strip_suffix('.').unwrap_or(name).to_ascii_lowercase();
    let label_ok = |label: &str| {
        (1..=63).contains(&label.len())
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            && !label.starts_with('-')
            && !label.ends_with('-')
    };
    (name.len() <= 253 && name.split('.').all(label_ok)).then_some(name)
}

/// IPv4-mapped IPv6 addresses as the IPv4 address they are.
fn canonical(ip: IpAddr) -> IpAddr {
    ip.to_canonical()
}

/// The IPv4 address an IPv6 address carries for transition mechanisms, if any.
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = ip.segments();
    let low = Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
    let compatible = s[..6] == [0; 6] && !matches!(s[6..], [0, 0] | [0, 1]);
    let nat64 = s[..6] == [0x64, 0xff9b, 0, 0, 0, 0];
    if compatible || nat64 {
        return Some(low);
    }
    (s[0] == 0x2002).then(|| Ipv4Addr::new((s[1] >> 8) as u8, s[1] as u8, (s[2] >> 8) as u8, s[2] as u8))
}

/// The operator's allow and deny lists, parsed once at start-up.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EgressPolicy {
    allow: Vec<Rule>,
    deny: Vec<Rule>,
}

/// A destination the policy refuses. Its text is the same whatever the reason and
/// whatever listens there: it names only the host as the user wrote it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "connections to `{host}` are not allowed by this Inlet server's egress policy; \
     ask its operator to allow the database's network (settings egress_allow and egress_deny)"
)]
pub struct Refused {
    /// The host as given in the connection.
    pub host: String,
}

impl From<Refused> for SourceError {
    fn from(refused: Refused) -> SourceError {
        SourceError::new(SourceErrorKind::DestinationRefused, refused.to_string())
    }
}

impl Default for EgressPolicy {
    /// The built-in deny list and no allow list.
    fn default() -> Self {
        EgressPolicy::new(&[], &[], true).expect("the built-in rules parse")
    }
}

impl EgressPolicy {
    /// A policy from the operator's lists; `builtin_deny` adds [`BUILTIN_DENY`].
    pub fn new(allow: &[String], deny: &[String], builtin_deny: bool) -> Result<EgressPolicy, String> {
        let builtin = BUILTIN_DENY.iter().filter(|_| builtin_deny).map(|r| r.to_string());
        let deny: Vec<String> = builtin.chain(deny.iter().cloned()).collect();
        Ok(EgressPolicy {
            allow: allow.iter().map(|r| Rule::parse(r)).collect::<Result<_, _>>()?,
            deny: deny.iter().map(|r| Rule::parse(r)).collect::<Result<_, _>>()?,
        })
    }

    /// Judges `host` before it is resolved: a deny name rule refuses it, and an IP
    /// literal is judged as its own only address.
    pub fn check_host(&self, host: &str) -> Result<(), Refused> {
        let refused = || Refused { host: host.to_string() };
        if let Ok(ip) = host.parse::<IpAddr>() {
            return self.check_resolved(host, &[ip]);
        }
        // A host that is no valid name cannot resolve; the resolver says so.
        let Some(name) = normalise_name(host) else {
            return Ok(());
        };
        if self.deny.iter().any(|rule| rule.matches_name(&name)) {
            return Err(refused());
        }
        Ok(())
    }

    /// Judges `host` with every address it resolved to.
    pub fn check_resolved(&self, host: &str, addrs: &[IpAddr]) -> Result<(), Refused> {
        let refused = || Refused { host: host.to_string() };
        let name = host.parse::<IpAddr>().is_err().then(|| normalise_name(host)).flatten();
        let name_matches = |rules: &[Rule]| name.as_deref().is_some_and(|n| rules.iter().any(|r| r.matches_name(n)));
        if name_matches(&self.deny) || addrs.is_empty() {
            return Err(refused());
        }
        for &ip in addrs {
            if self.denied_addr(ip) {
                return Err(refused());
            }
        }
        let allowed = self.allow.is_empty()
            || name_matches(&self.allow)
            || addrs
                .iter()
                .all(|&ip| self.allow.iter().any(|rule| rule.matches_addr(canonical(ip))));
        if allowed { Ok(()) } else { Err(refused()) }
    }

    fn denied_addr(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        let embedded = match ip {
            IpAddr::V6(v6) => embedded_v4(v6).map(IpAddr::V4),
            IpAddr::V4(_) => None,
        };
        std::iter::once(ip)
            .chain(embedded)
            .any(|ip| self.deny.iter().any(|rule| rule.matches_addr(ip)))
    }
}

#[cfg(test)]
mod tests;
