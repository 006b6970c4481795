//! Dynamic client registration (RFC 7591).

use axum::body::Body;
use http::{Request, Response, StatusCode};
use serde::Deserialize;
use serde_json::{Value, json};

use super::store::{Client, ClientAuth, Digest};
use super::{Inner, client_address, json as json_response, oauth_error, rules};

/// The fields of a registration request this server reads; others are ignored.
#[derive(Deserialize)]
struct Request7591 {
    #[serde(default)]
    redirect_uris: Vec<String>,
    token_endpoint_auth_method: Option<String>,
    grant_types: Option<Vec<String>>,
    response_types: Option<Vec<String>>,
    client_name: Option<String>,
}

fn refuse(error: &str, description: String) -> Response<Body> {
    oauth_error(StatusCode::BAD_REQUEST, error, &description)
}

/// `POST /register`.
pub(super) async fn handle(inner: &Inner, req: Request<Body>) -> Response<Body> {
    let (parts, body) = req.into_parts();
    if !inner.limiter.allow(&format!("register:{}", client_address(&parts)), inner.limiter.limits.register) {
        return oauth_error(
            StatusCode::TOO_MANY_REQUESTS,
            "slow_down",
            "too many registrations from this address; wait a minute",
        );
    }
    let Ok(bytes) = axum::body::to_bytes(body, 64 * 1024).await else {
        return refuse("invalid_client_metadata", "the registration request is larger than 64 KiB".into());
    };
    let request: Request7591 = match serde_json::from_slice(&bytes) {
        Ok(r) => r,
        Err(e) => return refuse("invalid_client_metadata", format!("the body is not client metadata JSON: {e}")),
    };
    if request.redirect_uris.is_empty() {
        return refuse("invalid_redirect_uri", "`redirect_uris` must list at least one URI".into());
    }
    for uri in &request.redirect_uris {
        if let Err(e) = rules::check_redirect_uri(uri) {
            return refuse("invalid_redirect_uri", e);
        }
    }
    // RFC 7591 defaults an omitted method to `client_secret_basic`; MCP clients that omit
    // it are public clients, so register them as `none` and say so.
    let auth = match request.token_endpoint_auth_method.as_deref() {
        None | Some("none") => ClientAuth::None,
        Some("client_secret_post") => ClientAuth::ClientSecretPost,
        Some("client_secret_basic") => ClientAuth::ClientSecretBasic,
        Some(other) => {
            return refuse(
                "invalid_client_metadata",
                format!(
                    "`token_endpoint_auth_method` `{other}` is not supported; use `none`, `client_secret_post` or \
                     `client_secret_basic`"
                ),
            );
        }
    };
    let grant_types = request.grant_types.unwrap_or_else(|| vec!["authorization_code".into()]);
    if let Some(g) = grant_types.iter().find(|g| !matches!(g.as_str(), "authorization_code" | "refresh_token")) {
        return refuse(
            "invalid_client_metadata",
            format!("grant type `{g}` is not supported; use `authorization_code` and `refresh_token`"),
        );
    }
    if let Some(r) = request.response_types.as_ref().and_then(|r| r.iter().find(|r| *r != "code")) {
        return refuse("invalid_client_metadata", format!("response type `{r}` is not supported; use `code`"));
    }
    let name = request.client_name.as_deref().map(rules::display_name);
    let now = inner.now();
    let secret = (auth != ClientAuth::None).then(rules::random_token);
    let client = Client {
        client_id: rules::random_token(),
        secret: secret.as_deref().map(Digest::of),
        auth,
        redirect_uris: request.redirect_uris,
        client_name: name,
        created_at: now,
    };
    if let Err(e) = inner.store.put_client(&client).await {
        tracing::warn!(error = %e, "could not store a registered client");
        return oauth_error(StatusCode::SERVICE_UNAVAILABLE, "temporarily_unavailable", "try again later");
    }
    let mut answer = json!({
        "client_id": client.client_id,
        "client_id_issued_at": now,
        "redirect_uris": client.redirect_uris,
        "token_endpoint_auth_method": auth.as_str(),
        "grant_types": grant_types,
        "response_types": ["code"],
    });
    if let Some(n) = &client.client_name {
        answer["client_name"] = Value::String(n.clone());
    }
    if let Some(s) = secret {
        answer["client_secret"] = Value::String(s);
        answer["client_secret_expires_at"] = json!(0);
    }
    json_response(StatusCode::CREATED, &answer)
}
