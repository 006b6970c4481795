//! Who may talk to the endpoint: `Host` (DNS rebinding) and `Origin` (browsers) policy.
//!
//! Hosts and origins are parsed, never prefix-matched: `127.0.0.1.attacker.example` is a
//! name, not a loopback address, and `http://127.0.0.1:80@evil.example` is not an origin.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use http::HeaderMap;
use http::header::{HOST, ORIGIN};

/// A host as a request or the configuration names it: an IP address or a DNS name
/// (lowercase, without a trailing dot).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Host {
    Ip(IpAddr),
    Name(String),
}

impl Host {
    /// `127.0.0.0/8`, `::1` (also IPv4-mapped), `localhost` and `*.localhost`.
    fn is_loopback(&self) -> bool {
        match self {
            Host::Ip(ip) => ip.to_canonical().is_loopback(),
            Host::Name(n) => n == "localhost" || n.ends_with(".localhost"),
        }
    }
}

impl std::fmt::Display for Host {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Host::Ip(IpAddr::V6(ip)) => write!(f, "[{ip}]"),
            Host::Ip(IpAddr::V4(ip)) => write!(f, "{ip}"),
            Host::Name(n) => f.write_str(n),
        }
    }
}

/// `host [":" port]` (RFC 9110 `Host`, RFC 3986 authority without userinfo): an IPv6
/// literal in brackets, a dotted-quad IPv4 address, or a DNS name of letters, digits,
/// `-` and `_` in non-empty labels. Anything else (userinfo, paths, percent-encoding,
/// zone ids, empty labels) is refused.
pub(crate) fn parse_authority(s: &str) -> Option<(Host, Option<u16>)> {
    let (host, port) = if let Some(rest) = s.strip_prefix('[') {
        let (literal, after) = rest.split_once(']')?;
        let ip: Ipv6Addr = literal.parse().ok()?;
        let port = match after {
            "" => None,
            p => Some(parse_port(p.strip_prefix(':')?)?),
        };
        (Host::Ip(IpAddr::V6(ip)), port)
    } else {
        let (name, port) = match s.split_once(':') {
            Some((name, p)) => (name, Some(parse_port(p)?)),
            None => (s, None),
        };
        (parse_host_name(name)?, port)
    };
    Some((host, port))
}

fn parse_port(p: &str) -> Option<u16> {
    if p.is_empty() || p.len() > 5 || !p.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    p.parse().ok()
}

fn parse_host_name(name: &str) -> Option<Host> {
    if let Ok(ip) = name.parse::<Ipv4Addr>() {
        return Some(Host::Ip(IpAddr::V4(ip)));
    }
    let name = name.strip_suffix('.').unwrap_or(name);
    let valid_label = |l: &str| {
        !l.is_empty() && l.len() <= 63 && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    };
    if name.is_empty() || name.len() > 253 || !name.split('.').all(valid_label) {
        return None;
    }
    // All-numeric names that are not dotted quads (`127.1`, `2130706433`) are read as
    // IPv4 addresses by some resolvers: neither a name nor an address here.
    if name.split('.').next_back().is_some_and(|l| l.bytes().all(|b| b.is_ascii_digit())) {
        return None;
    }
    Some(Host::Name(name.to_ascii_lowercase()))
}

/// A browser origin (RFC 6454): `http` or `https`, a host and the port (the scheme's
/// default when not written).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Origin {
    https: bool,
    host: Host,
    port: u16,
}

impl Origin {
    /// `scheme "://" host [":" port]`, nothing more (a configured origin may end in `/`).
    pub(crate) fn parse(s: &str) -> Option<Origin> {
        let (scheme, rest) = s.split_once("://")?;
        let https = if scheme.eq_ignore_ascii_case("https") {
            true
        } else if scheme.eq_ignore_ascii_case("http") {
            false
        } else {
            return None;
        };
        let (host, port) = parse_authority(rest)?;
        Some(Origin { https, host, port: port.unwrap_or(if https { 443 } else { 80 }) })
    }
}

/// A configured host: any port unless one is given.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct HostRule {
    host: Host,
    port: Option<u16>,
}

impl HostRule {
    pub(crate) fn parse(s: &str) -> Option<HostRule> {
        parse_authority(s).map(|(host, port)| HostRule { host, port })
    }

    fn matches(&self, host: &Host, port: Option<u16>) -> bool {
        self.host == *host && (self.port.is_none() || self.port == port)
    }
}

/// Host and Origin policy. By default only loopback hosts and origins are accepted, plus
/// those of the configured public URL.
#[derive(Clone, Debug)]
pub(crate) struct Policy {
    pub(crate) hosts: Vec<HostRule>,
    pub(crate) any_host: bool,
    pub(crate) origins: Vec<Origin>,
    pub(crate) any_origin: bool,
    pub(crate) loopback: bool,
    pub(crate) trust_forwarded: bool,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            hosts: Vec::new(),
            any_host: false,
            origins: Vec::new(),
            any_origin: false,
            loopback: true,
            trust_forwarded: false,
        }
    }
}

/// Why a request was refused.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Refusal {
    Host(String),
    Origin(String),
}

impl Policy {
    /// The host the client addressed, as sent: `X-Forwarded-Host` when trusted, else
    /// `Host`, else the request target's authority (HTTP/2 `:authority`).
    fn raw_host<'a>(&self, headers: &'a HeaderMap, authority: Option<&'a str>) -> Option<&'a str> {
        if self.trust_forwarded
            && let Some(h) = headers.get("x-forwarded-host")
        {
            return h.to_str().ok().and_then(|h| h.split(',').next()).map(str::trim);
        }
        match headers.get(HOST) {
            Some(h) => h.to_str().ok(),
            None => authority,
        }
    }

    /// The host the client addressed, parsed, if this policy accepts it (as `host[:port]`,
    /// safe to put in a URL).
    pub(crate) fn accepted_host(&self, headers: &HeaderMap, authority: Option<&str>) -> Result<String, Refusal> {
        let raw = self.raw_host(headers, authority);
        let refused = || Refusal::Host(raw.unwrap_or_default().to_owned());
        let (host, port) = raw.and_then(parse_authority).ok_or_else(refused)?;
        let ok = self.any_host
            || (self.loopback && host.is_loopback())
            || self.hosts.iter().any(|rule| rule.matches(&host, port));
        if !ok {
            return Err(refused());
        }
        Ok(match port {
            Some(p) => format!("{host}:{p}"),
            None => host.to_string(),
        })
    }

    /// Whether a request's `Origin`, if it sends one, is allowed.
    pub(crate) fn origin_allowed(&self, origin: &str) -> bool {
        if self.any_origin {
            return true;
        }
        let Some(o) = Origin::parse(origin) else { return false };
        (self.loopback && o.host.is_loopback()) || self.origins.contains(&o)
    }

    pub(crate) fn check(&self, headers: &HeaderMap, authority: Option<&str>) -> Result<(), Refusal> {
        self.accepted_host(headers, authority)?;
        if let Some(origin) = headers.get(ORIGIN) {
            let origin = origin.to_str().unwrap_or_default();
            if !self.origin_allowed(origin) {
                return Err(Refusal::Origin(origin.to_owned()));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn headers(host: &str, origin: Option<&str>) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(HOST, HeaderValue::from_str(host).unwrap());
        if let Some(o) = origin {
            h.insert(ORIGIN, HeaderValue::from_str(o).unwrap());
        }
        h
    }

    #[test]
    fn loopback_by_default() {
        let p = Policy::default();
        for host in ["localhost:8000", "127.0.0.1:3000", "[::1]:80", "localhost"] {
            assert_eq!(p.check(&headers(host, None), None), Ok(()), "{host}");
        }
        assert!(p.check(&headers("evil.example.com", None), None).is_err());
        assert!(p.check(&headers("localhost.evil.com", None), None).is_err());
        assert_eq!(p.check(&headers("localhost:8000", Some("http://localhost:5173")), None), Ok(()));
        assert!(p.check(&headers("localhost:8000", Some("https://evil.example.com")), None).is_err());
        assert!(p.check(&headers("localhost:8000", Some("null")), None).is_err());
    }

    #[test]
    fn configured_hosts_and_origins() {
        let p = Policy {
            hosts: vec![HostRule::parse("api.example.com").unwrap()],
            origins: vec![Origin::parse("https://app.example.com").unwrap()],
            loopback: false,
            ..Default::default()
        };
        assert_eq!(p.check(&headers("api.example.com", Some("https://app.example.com")), None), Ok(()));
        assert_eq!(p.check(&headers("api.example.com:443", None), None), Ok(()));
        assert!(p.check(&headers("localhost", None), None).is_err());
        assert!(p.check(&headers("api.example.com", Some("https://other.example.com")), None).is_err());
    }

    #[test]
    fn forwarded_host_only_when_trusted() {
        let mut h = headers("10.0.0.5:8080", None);
        h.insert("x-forwarded-host", HeaderValue::from_static("api.example.com"));
        let p =
            Policy { hosts: vec![HostRule::parse("api.example.com").unwrap()], loopback: false, ..Default::default() };
        assert!(p.check(&h, None).is_err());
        let p = Policy { trust_forwarded: true, ..p };
        assert_eq!(p.check(&h, None), Ok(()));
    }

    #[test]
    fn lookalikes_of_loopback_are_refused() {
        let p = Policy::default();
        for host in [
            "127.0.0.1.attacker.example",
            "127.0.0.1.attacker.example:8000",
            "127.evil.com",
            "127.0.0.1:8000@evil.com",
            "evil.com@127.0.0.1",
            "127.0.0.1/evil",
            "127.1",
            "2130706433",
            "[::1].evil.com",
            "[::1]evil",
            "localhost:80:80",
            "localhost:99999",
            "localhost.evil.com",
            "evillocalhost",
            ".localhost",
            "a..localhost",
            "",
        ] {
            assert!(p.check(&headers(host, None), None).is_err(), "host {host:?}");
        }
        for host in ["127.0.0.1", "127.8.9.10:1", "[::1]", "[::ffff:127.0.0.1]:80", "app.localhost", "LOCALHOST."] {
            assert_eq!(p.check(&headers(host, None), None), Ok(()), "host {host:?}");
        }
        for origin in [
            "http://127.evil.com",
            "http://127.0.0.1.attacker.example",
            "http://127.0.0.1:8000@evil.com",
            "http://user@localhost",
            "http://localhost/path",
            "http://localhost:3000?x",
            "ftp://localhost",
            "localhost:3000",
            "http://localhost:",
            "null",
        ] {
            assert!(p.check(&headers("localhost", Some(origin)), None).is_err(), "origin {origin:?}");
        }
        for origin in ["http://localhost:5173", "https://127.0.0.1", "http://[::1]:8080", "HTTP://App.Localhost"] {
            assert_eq!(p.check(&headers("localhost", Some(origin)), None), Ok(()), "origin {origin:?}");
        }
    }

    #[test]
    fn origins_compare_by_scheme_host_and_port() {
        let p = Policy {
            origins: vec![Origin::parse("https://app.example.com").unwrap()],
            loopback: false,
            any_host: true,
            ..Default::default()
        };
        assert_eq!(p.check(&headers("x.example", Some("https://APP.example.com:443")), None), Ok(()));
        assert!(p.check(&headers("x.example", Some("http://app.example.com")), None).is_err());
        assert!(p.check(&headers("x.example", Some("https://app.example.com:8443")), None).is_err());
        assert!(p.check(&headers("x.example", Some("https://app.example.com.evil.com")), None).is_err());
        // Any host, but still a host: nothing that could break out of a URL.
        assert!(p.check(&headers("x.example\"evil", None), None).is_err());
        assert_eq!(p.accepted_host(&headers("X.Example:8080", None), None), Ok("x.example:8080".into()));
    }
}
