//! The rules on redirect URIs (RFC 9700 §4.1.3, RFC 8252 §7.3), resource indicators
//! (RFC 8707) and PKCE (RFC 7636, S256 only). Everything is compared as parsed
//! components or exact strings, never by prefix.

use base64::Engine as _;
use sha2::{Digest as _, Sha256};

/// Whether `uri` may be registered as a redirect URI: `https` with a host, or `http` on a
/// loopback host (`127.0.0.1`, `[::1]`, `localhost`); no fragment, no user info.
pub(crate) fn check_redirect_uri(uri: &str) -> Result<(), String> {
    let parsed = url::Url::parse(uri).map_err(|e| format!("`{uri}` is not an absolute URL ({e})"))?;
    if parsed.fragment().is_some() {
        return Err(format!("`{uri}` has a fragment; redirect URIs cannot"));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(format!("`{uri}` has user info; redirect URIs cannot"));
    }
    match parsed.scheme() {
        "https" if parsed.host().is_some() => Ok(()),
        "http" if loopback_parts(uri).is_some() => Ok(()),
        "http" => Err(format!(
            "`{uri}` is plain http on a non-loopback host: use https, or http://127.0.0.1, http://[::1] or http://localhost"
        )),
        scheme => Err(format!("`{uri}`: the `{scheme}` scheme is not allowed; use https, or http on a loopback host")),
    }
}

/// For `http://<loopback>[:port]<rest>`: the host and everything after the port.
fn loopback_parts(uri: &str) -> Option<(&str, &str)> {
    let after = uri.get(..7).filter(|s| s.eq_ignore_ascii_case("http://")).map(|_| &uri[7..])?;
    let end = after.find(['/', '?', '#']).unwrap_or(after.len());
    let (authority, rest) = after.split_at(end);
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (h, tail) = v6.split_once(']')?;
        (&authority[..h.len() + 2], tail)
    } else {
        match authority.split_once(':') {
            Some((h, p)) => (h, &authority[h.len()..][..p.len() + 1]),
            None => (authority, ""),
        }
    };
    if !port.is_empty() {
        let digits = port.strip_prefix(':')?;
        if digits.is_empty() || digits.len() > 5 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        digits.parse::<u16>().ok()?;
    }
    let loopback = host == "127.0.0.1" || host == "[::1]" || host.eq_ignore_ascii_case("localhost");
    loopback.then_some((host, rest))
}

/// Whether the presented redirect URI matches a registered one: the exact string, or for
/// http loopback URIs the same host, path and query with any port (RFC 8252 §7.3).
pub(crate) fn redirect_matches(registered: &str, presented: &str) -> bool {
    if registered == presented {
        return true;
    }
    match (loopback_parts(registered), loopback_parts(presented)) {
        (Some((h1, r1)), Some((h2, r2))) => h1.eq_ignore_ascii_case(h2) && r1 == r2 && !r2.contains('#'),
        _ => false,
    }
}

/// The canonical form of a resource URI (RFC 8707, MCP): lowercase scheme and host,
/// default port dropped, no trailing slash; `None` for a relative URI or one with a
/// fragment.
pub(crate) fn canonical_resource(uri: &str) -> Option<String> {
    let parsed = url::Url::parse(uri).ok()?;
    if parsed.fragment().is_some() || parsed.host().is_none() || !parsed.username().is_empty() {
        return None;
    }
    let mut s = format!("{}://{}", parsed.scheme(), parsed.host_str()?);
    if let Some(port) = parsed.port() {
        s.push_str(&format!(":{port}"));
    }
    s.push_str(parsed.path().trim_end_matches('/'));
    if let Some(q) = parsed.query() {
        s.push('?');
        s.push_str(q);
    }
    Some(s)
}

/// Whether `verifier` is a valid PKCE verifier whose S256 challenge is `challenge`.
pub(crate) fn pkce_s256_matches(verifier: &str, challenge: &str) -> bool {
    if !valid_pkce_string(verifier) {
        return false;
    }
    let computed = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    subtle::ConstantTimeEq::ct_eq(computed.as_bytes(), challenge.as_bytes()).into()
}

/// A well-formed S256 challenge: 43 base64url characters (a SHA-256 digest).
pub(crate) fn valid_challenge(challenge: &str) -> bool {
    challenge.len() == 43 && challenge.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// RFC 7636 §4.1: 43 to 128 characters of `[A-Za-z0-9-._~]`.
fn valid_pkce_string(s: &str) -> bool {
    (43..=128).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
}

/// A client's name as shown on the consent page: control characters dropped, at most 100
/// characters (the page escapes it).
pub(crate) fn display_name(name: &str) -> String {
    name.chars().filter(|c| !c.is_control()).take(100).collect()
}

/// A fresh random token of 32 bytes, base64url (43 characters).
pub(crate) fn random_token() -> String {
    let mut bytes = [0u8; 32];
    fill_random(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// Fill `bytes` from the system's random source (which does not fail on supported systems).
pub(crate) fn fill_random(bytes: &mut [u8]) {
    if let Err(e) = getrandom::fill(bytes) {
        // No randomness means no security at all: refuse to go on.
        panic!("the system's random source failed: {e}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirect_uris_registered() {
        assert!(check_redirect_uri("https://claude.ai/api/mcp/auth_callback").is_ok());
        assert!(check_redirect_uri("http://127.0.0.1:33418/callback").is_ok());
        assert!(check_redirect_uri("http://localhost/callback").is_ok());
        assert!(check_redirect_uri("http://[::1]:9/cb").is_ok());
        assert!(check_redirect_uri("http://example.com/cb").is_err());
        assert!(check_redirect_uri("http://127.0.0.1.evil.com/cb").is_err());
        assert!(check_redirect_uri("http://localhost.evil.com/cb").is_err());
        assert!(check_redirect_uri("https://a.example/cb#x").is_err());
        assert!(check_redirect_uri("https://u:p@a.example/cb").is_err());
        assert!(check_redirect_uri("javascript:alert(1)").is_err());
        assert!(check_redirect_uri("/relative").is_err());
    }

    #[test]
    fn redirect_matching_is_exact_but_for_loopback_ports() {
        let r = "https://claude.ai/api/mcp/auth_callback";
        assert!(redirect_matches(r, r));
        assert!(!redirect_matches(r, "https://claude.ai/api/mcp/auth_callback/evil"));
        assert!(!redirect_matches(r, "https://claude.ai/api/mcp/auth_callback?x=1"));
        assert!(!redirect_matches(r, "https://CLAUDE.ai/api/mcp/auth_callback"));
        assert!(redirect_matches("http://localhost/callback", "http://localhost:5173/callback"));
        assert!(redirect_matches("http://127.0.0.1:1/callback", "http://127.0.0.1:40000/callback"));
        assert!(!redirect_matches("http://127.0.0.1/callback", "http://127.0.0.1:4/callback2"));
        assert!(!redirect_matches("http://127.0.0.1/callback", "http://localhost/callback"));
        assert!(!redirect_matches("http://127.0.0.1/callback", "http://127.0.0.1:4@evil.com/callback"));
        assert!(!redirect_matches("http://127.0.0.1/cb", "http://127.0.0.1:x/cb"));
    }

    #[test]
    fn resources_compare_canonically() {
        assert_eq!(
            canonical_resource("HTTPS://API.Example.com:443/mcp/").as_deref(),
            Some("https://api.example.com/mcp")
        );
        assert_eq!(canonical_resource("http://127.0.0.1:8000/mcp").as_deref(), Some("http://127.0.0.1:8000/mcp"));
        assert_eq!(canonical_resource("https://a.example/mcp#f"), None);
        assert_ne!(canonical_resource("https://a.example/mcp2"), canonical_resource("https://a.example/mcp"));
    }

    #[test]
    fn pkce_s256() {
        // RFC 7636 appendix B.
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        assert!(pkce_s256_matches(verifier, "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"));
        assert!(!pkce_s256_matches(
            "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXl",
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        ));
        assert!(valid_challenge("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"));
        assert!(!valid_challenge("short"));
    }
}
