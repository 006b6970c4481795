//! Who may talk to the endpoint: `Host` (DNS rebinding) and `Origin` (browsers) policy.

use http::HeaderMap;
use http::header::{HOST, ORIGIN};

/// Host and Origin policy. By default only loopback hosts and origins are accepted, plus
/// those of the configured public URL.
#[derive(Clone, Debug)]
pub(crate) struct Policy {
    pub(crate) hosts: Vec<String>,
    pub(crate) any_host: bool,
    pub(crate) origins: Vec<String>,
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

fn strip_port(host: &str) -> &str {
    if let Some(rest) = host.strip_prefix('[') {
        // [::1]:8080
        return rest.split(']').next().map_or(host, |h| &host[..h.len() + 2]);
    }
    match host.rsplit_once(':') {
        Some((h, port)) if port.chars().all(|c| c.is_ascii_digit()) => h,
        _ => host,
    }
}

fn is_loopback(host: &str) -> bool {
    let h = strip_port(host).as_bytes();
    let suffix = b".localhost";
    h.eq_ignore_ascii_case(b"localhost")
        || h == b"[::1]"
        || h == b"::1"
        || h.starts_with(b"127.")
        || (h.len() > suffix.len() && h[h.len() - suffix.len()..].eq_ignore_ascii_case(suffix))
}

impl Policy {
    /// The host the client addressed: `Host`, or `X-Forwarded-Host` when trusted.
    pub(crate) fn request_host<'a>(&self, headers: &'a HeaderMap) -> Option<&'a str> {
        if self.trust_forwarded
            && let Some(h) = headers.get("x-forwarded-host").and_then(|v| v.to_str().ok())
        {
            return h.split(',').next().map(str::trim);
        }
        headers.get(HOST).and_then(|v| v.to_str().ok())
    }

    pub(crate) fn check(&self, headers: &HeaderMap, authority: Option<&str>) -> Result<(), Refusal> {
        if !self.any_host {
            let host = self.request_host(headers).or(authority).unwrap_or_default();
            let ok = (self.loopback && is_loopback(host)) || {
                let name = strip_port(host);
                self.hosts.iter().any(|h| h.eq_ignore_ascii_case(host) || h.eq_ignore_ascii_case(name))
            };
            if !ok {
                return Err(Refusal::Host(host.to_owned()));
            }
        }
        if let Some(origin) = headers.get(ORIGIN) {
            let origin = origin.to_str().unwrap_or_default();
            if self.any_origin {
                return Ok(());
            }
            let host = origin.split_once("://").map(|(_, h)| h).unwrap_or_default();
            let scheme_ok = origin.starts_with("http://") || origin.starts_with("https://");
            let ok = (self.loopback && scheme_ok && is_loopback(host))
                || self.origins.iter().any(|o| o.trim_end_matches('/').eq_ignore_ascii_case(origin));
            if !ok {
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
            hosts: vec!["api.example.com".into()],
            origins: vec!["https://app.example.com".into()],
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
        let p = Policy { hosts: vec!["api.example.com".into()], loopback: false, ..Default::default() };
        assert!(p.check(&h, None).is_err());
        let p = Policy { trust_forwarded: true, ..p };
        assert_eq!(p.check(&h, None), Ok(()));
    }
}
