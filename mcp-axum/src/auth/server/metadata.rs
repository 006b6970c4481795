//! RFC 8414 authorization-server metadata and the JWKS.

use axum::body::Body;
use http::{HeaderValue, Response, StatusCode};
use serde_json::json;

use super::Inner;

/// The metadata document. It advertises only what this server does.
pub(super) fn document(inner: &Inner) -> Vec<u8> {
    let issuer = &inner.issuer;
    let mut doc = json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}/authorize"),
        "token_endpoint": format!("{issuer}/token"),
        "jwks_uri": format!("{issuer}/jwks.json"),
        "scopes_supported": inner.scope_names(),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "token_endpoint_auth_methods_supported": ["none", "client_secret_post", "client_secret_basic"],
        "revocation_endpoint": format!("{issuer}/revoke"),
        "revocation_endpoint_auth_methods_supported": ["none", "client_secret_post", "client_secret_basic"],
        "code_challenge_methods_supported": ["S256"],
        "authorization_response_iss_parameter_supported": true,
    });
    if inner.documents.is_some() {
        doc["client_id_metadata_document_supported"] = json!(true);
    }
    if inner.registration {
        doc["registration_endpoint"] = json!(format!("{issuer}/register"));
    }
    serde_json::to_vec(&doc).unwrap_or_default()
}

fn public_json(body: Vec<u8>, max_age: &'static str) -> Response<Body> {
    let mut r = Response::new(Body::from(body));
    let h = r.headers_mut();
    h.insert(http::header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    h.insert(http::header::CACHE_CONTROL, HeaderValue::from_static(max_age));
    h.insert("access-control-allow-origin", HeaderValue::from_static("*"));
    r
}

/// `GET /.well-known/oauth-authorization-server` and its aliases.
pub(super) fn serve(inner: &Inner) -> Response<Body> {
    public_json(inner.metadata.get().cloned().unwrap_or_default(), "max-age=3600")
}

/// `GET /jwks.json`: the public keys, retired ones included while their tokens live.
pub(super) async fn jwks(inner: &Inner) -> Response<Body> {
    match inner.keys.jwks().await {
        Ok(set) => public_json(serde_json::to_vec(&set).unwrap_or_default(), "max-age=300"),
        Err(e) => {
            tracing::warn!(error = %e, "could not load the signing keys");
            super::oauth_error(StatusCode::SERVICE_UNAVAILABLE, "temporarily_unavailable", "the keys are unavailable")
        }
    }
}
