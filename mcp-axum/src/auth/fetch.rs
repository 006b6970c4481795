//! Fetching JSON documents from an authorization server (JWKS, metadata, introspection).

use std::fmt;
use std::time::Duration;

use serde_json::Value;

/// Largest accepted document (1 MiB).
const MAX_BODY: usize = 1024 * 1024;

/// Setting up an authenticator failed (an unreachable or invalid authorization server,
/// a URL that is not HTTPS).
#[derive(Debug)]
pub struct SetupError(pub(crate) String);

impl fmt::Display for SetupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for SetupError {}

/// An HTTP client for authorization-server documents.
#[derive(Clone, Debug)]
pub(crate) struct Fetcher {
    client: reqwest::Client,
}

impl Fetcher {
    pub(crate) fn new(timeout: Duration) -> Self {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap_or_default();
        Fetcher { client }
    }

    pub(crate) async fn get_json(&self, url: &str) -> Result<Value, String> {
        let resp = self.client.get(url).header("accept", "application/json").send().await.map_err(|e| e.to_string())?;
        read_json(resp).await
    }

    pub(crate) async fn post_form(
        &self,
        url: &str,
        form: &[(&str, &str)],
        basic: Option<(&str, &str)>,
    ) -> Result<Value, String> {
        let body = form.iter().map(|(k, v)| format!("{}={}", urlencode(k), urlencode(v))).collect::<Vec<_>>().join("&");
        let mut req = self
            .client
            .post(url)
            .header("content-type", "application/x-www-form-urlencoded")
            .header("accept", "application/json")
            .body(body);
        if let Some((user, pass)) = basic {
            // RFC 6749 §2.3.1: the client id and secret are form-encoded before Base64.
            req = req.basic_auth(urlencode(user), Some(urlencode(pass)));
        }
        read_json(req.send().await.map_err(|e| e.to_string())?).await
    }
}

async fn read_json(resp: reqwest::Response) -> Result<Value, String> {
    let status = resp.status();
    if !status.is_success() {
        return Err(format!("HTTP {status}"));
    }
    let bytes = read_limited(resp, MAX_BODY).await?;
    serde_json::from_slice(&bytes).map_err(|e| format!("not JSON: {e}"))
}

/// The body of `resp`, read chunk by chunk and refused as soon as it passes `max` bytes (a
/// `Content-Length` is not trusted, nor needed).
pub(crate) async fn read_limited(mut resp: reqwest::Response, max: usize) -> Result<Vec<u8>, String> {
    let too_large = || format!("the document is larger than {max} bytes");
    if resp.content_length().is_some_and(|n| n > max as u64) {
        return Err(too_large());
    }
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(|e| format!("reading the document failed: {e}"))? {
        if body.len() + chunk.len() > max {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// `application/x-www-form-urlencoded` encoding of one value.
pub(crate) fn urlencode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'*' => out.push(b as char),
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// HTTPS is required, except for loopback hosts (local development and tests) or when
/// explicitly allowed. The URL is parsed: `http://127.attacker.example` is not loopback.
pub(crate) fn check_url(url: &str, allow_http: bool) -> Result<(), SetupError> {
    let parsed = reqwest::Url::parse(url).map_err(|e| SetupError(format!("`{url}` is not an absolute URL ({e})")))?;
    let host = parsed.host_str().unwrap_or_default();
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let loopback =
        host.eq_ignore_ascii_case("localhost") || bare.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback());
    match parsed.scheme() {
        "https" if !host.is_empty() => Ok(()),
        "http" if allow_http || loopback => Ok(()),
        _ => Err(SetupError(format!(
            "`{url}` must use https (plain http is accepted for loopback hosts, or when allowed explicitly)"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::check_url;

    #[test]
    fn only_real_loopback_hosts_may_use_http() {
        for ok in [
            "https://as.example/jwks",
            "http://127.0.0.1:8080/jwks",
            "http://127.1.2.3/jwks",
            "http://[::1]:9/jwks",
            "http://localhost/jwks",
            "http://LOCALHOST:80/",
        ] {
            assert!(check_url(ok, false).is_ok(), "{ok}");
        }
        for bad in [
            "http://127.attacker.example/jwks",
            "http://127.0.0.1.attacker.example/jwks",
            "http://localhost.attacker.example/jwks",
            "http://attacker.example/?127.0.0.1",
            "http://user@attacker.example/jwks",
            "http://[::2]/jwks",
            "ftp://127.0.0.1/jwks",
            "127.0.0.1/jwks",
        ] {
            assert!(check_url(bad, false).is_err(), "{bad}");
        }
        assert!(check_url("http://as.internal/jwks", true).is_ok());
    }
}
