//! `POST /revoke` (RFC 7009).

use axum::body::Body;
use http::{Request, Response, StatusCode};

use super::store::Digest;
use super::token::authenticate_client;
use super::{Inner, json, oauth_error, read_form, single};

/// Revoke a refresh token (and its whole family). Unknown tokens and other clients'
/// tokens answer `200` with nothing revoked, as RFC 7009 §2.2 asks. Access tokens are
/// self-contained JWTs that live until they expire (keep their lifetime short):
/// `unsupported_token_type`.
pub(super) async fn handle(inner: &Inner, req: Request<Body>) -> Response<Body> {
    let (parts, body) = req.into_parts();
    let form = match read_form(body).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    let client = match authenticate_client(inner, &parts, &form).await {
        Ok(c) => c,
        Err(r) => return r.response(),
    };
    let token = match single(&form, "token") {
        Ok(Some(t)) => t,
        Ok(None) => return oauth_error(StatusCode::BAD_REQUEST, "invalid_request", "`token` is required"),
        Err(e) => return oauth_error(StatusCode::BAD_REQUEST, "invalid_request", &e),
    };
    match inner.store.refresh(&Digest::of(token), inner.now()).await {
        Ok(Some(r)) if r.grant.client_id == client.client_id => {
            if let Err(e) = inner.store.revoke_family(&r.grant.family).await {
                tracing::warn!(error = %e, "could not revoke a refresh token");
                return oauth_error(StatusCode::SERVICE_UNAVAILABLE, "temporarily_unavailable", "try again");
            }
        }
        Ok(_) if token.split('.').count() == 3 => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "unsupported_token_type",
                "access tokens cannot be revoked; they expire on their own (revoke the refresh token)",
            );
        }
        Ok(_) => {}
        Err(e) => {
            tracing::warn!(error = %e, "the authorization store failed");
            return oauth_error(StatusCode::SERVICE_UNAVAILABLE, "temporarily_unavailable", "try again");
        }
    }
    json(StatusCode::OK, &serde_json::json!({}))
}
