//! CORS for browser-based clients (MCP Inspector in direct mode): preflights answered
//! before authentication, and the MCP response headers exposed, for the origins the
//! [`Policy`](crate::security::Policy) allows. Refused origins get no CORS headers.

use axum::body::Body;
use http::header::{
    ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS, ACCESS_CONTROL_ALLOW_ORIGIN,
    ACCESS_CONTROL_EXPOSE_HEADERS, ACCESS_CONTROL_MAX_AGE, ACCESS_CONTROL_REQUEST_HEADERS,
    ACCESS_CONTROL_REQUEST_METHOD, ORIGIN, VARY,
};
use http::{HeaderMap, HeaderValue, Method, Response, StatusCode};

/// The request headers of MCP a browser may send (plus any `Mcp-Param-*`).
const REQUEST_HEADERS: [&str; 8] = [
    "authorization",
    "content-type",
    "accept",
    "mcp-session-id",
    "mcp-protocol-version",
    "mcp-method",
    "mcp-name",
    "last-event-id",
];

/// What the protected-resource metadata endpoint allows (it needs no credentials).
const ALLOW_HEADERS_PUBLIC: &str = "accept, mcp-protocol-version";

/// The MCP response headers a browser client must be able to read.
const EXPOSE: &str = "Mcp-Session-Id, MCP-Protocol-Version, WWW-Authenticate";

fn allowed_request_header(name: &str) -> bool {
    REQUEST_HEADERS.iter().any(|h| h.eq_ignore_ascii_case(name))
        || name.get(..10).is_some_and(|p| p.eq_ignore_ascii_case("mcp-param-")) && name.len() > 10
}

/// A CORS preflight (`OPTIONS` with `Origin` and `Access-Control-Request-Method`) from an
/// origin the policy allowed: `204` with what the endpoint accepts. `None` for anything
/// else.
pub(crate) fn preflight(method: &Method, headers: &HeaderMap) -> Option<Response<Body>> {
    if method != Method::OPTIONS || !headers.contains_key(ACCESS_CONTROL_REQUEST_METHOD) {
        return None;
    }
    let origin = headers.get(ORIGIN)?.clone();
    let mut r = Response::new(Body::empty());
    *r.status_mut() = StatusCode::NO_CONTENT;
    // Echo the requested headers the endpoint knows (`Mcp-Param-*` cannot be a pattern).
    let requested = headers.get_all(ACCESS_CONTROL_REQUEST_HEADERS).iter().filter_map(|v| v.to_str().ok());
    let mut allow: Vec<&str> =
        requested.flat_map(|v| v.split(',')).map(str::trim).filter(|h| allowed_request_header(h)).collect();
    if allow.is_empty() {
        allow.extend(REQUEST_HEADERS);
    }
    let h = r.headers_mut();
    h.insert(ACCESS_CONTROL_ALLOW_ORIGIN, origin);
    h.insert(ACCESS_CONTROL_ALLOW_METHODS, HeaderValue::from_static("POST, GET, DELETE"));
    if let Ok(v) = HeaderValue::from_str(&allow.join(", ")) {
        h.insert(ACCESS_CONTROL_ALLOW_HEADERS, v);
    }
    h.insert(ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static("600"));
    h.append(VARY, HeaderValue::from_static("Origin, Access-Control-Request-Method, Access-Control-Request-Headers"));
    Some(r)
}

/// A preflight of the protected-resource metadata (public, read-only, no credentials):
/// `204` allowing `GET`/`HEAD`; the caller adds `Access-Control-Allow-Origin: *`.
pub(crate) fn metadata_preflight() -> Response<Body> {
    let mut r = Response::new(Body::empty());
    *r.status_mut() = StatusCode::NO_CONTENT;
    let h = r.headers_mut();
    h.insert(ACCESS_CONTROL_ALLOW_METHODS, HeaderValue::from_static("GET, HEAD"));
    h.insert(ACCESS_CONTROL_ALLOW_HEADERS, HeaderValue::from_static(ALLOW_HEADERS_PUBLIC));
    h.insert(ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static("600"));
    r
}

/// Let the (allowed) `origin` read `r` and its MCP headers.
pub(crate) fn expose(r: &mut Response<Body>, origin: HeaderValue) {
    let h = r.headers_mut();
    h.insert(ACCESS_CONTROL_ALLOW_ORIGIN, origin);
    h.insert(ACCESS_CONTROL_EXPOSE_HEADERS, HeaderValue::from_static(EXPOSE));
    h.append(VARY, HeaderValue::from_static("Origin"));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_headers() {
        for h in ["Authorization", "mcp-session-id", "Mcp-Param-Region", "LAST-EVENT-ID"] {
            assert!(allowed_request_header(h), "{h}");
        }
        for h in ["mcp-param-", "cookie", "x-api-key", "mcp-paramx"] {
            assert!(!allowed_request_header(h), "{h}");
        }
    }
}
