//! Rows of the tables and their conversion from and to the records of the `AuthStore`.

use diesel::prelude::*;
use mcp_axum::auth::server::store::{
    Client, ClientAuth, Code, Digest, Grant, Pending, Refresh, SigningKey, StoreError,
};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::schema::*;

/// A time of the store's API (Unix seconds) as a column value.
pub(crate) fn time(t: u64) -> Result<i64, StoreError> {
    i64::try_from(t).map_err(|_| StoreError(format!("the time {t} does not fit a BIGINT column")))
}

/// A column value as a time of the store's API.
fn unix(t: i64, what: &str) -> Result<u64, StoreError> {
    u64::try_from(t).map_err(|_| StoreError(format!("a stored {what} ({t}) is negative")))
}

fn to_json<T: Serialize + ?Sized>(v: &T) -> Result<String, StoreError> {
    serde_json::to_string(v).map_err(|e| StoreError(format!("a record does not serialize to JSON: {e}")))
}

fn from_json<T: DeserializeOwned>(text: &str, what: &str) -> Result<T, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError(format!("the stored {what} is not the JSON expected: {e}")))
}

/// The key of a consent row: SHA-256 of the JSON `[subject, client_id]`, so any subject and
/// client id (of any length) make a fixed-size, unambiguous key.
pub(crate) fn consent_id(subject: &str, client_id: &str) -> Result<String, StoreError> {
    Ok(Digest::of(&to_json(&[subject, client_id])?).0)
}

#[derive(Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = mcp_oauth_clients, primary_key(client_id), treat_none_as_null = true)]
pub(crate) struct ClientRow {
    pub(crate) client_id: String,
    secret_digest: Option<String>,
    auth: String,
    redirect_uris: String,
    client_name: Option<String>,
    created_at: i64,
}

impl ClientRow {
    pub(crate) fn new(c: &Client) -> Result<Self, StoreError> {
        Ok(ClientRow {
            client_id: c.client_id.clone(),
            secret_digest: c.secret.as_ref().map(|d| d.0.clone()),
            auth: c.auth.as_str().to_owned(),
            redirect_uris: to_json(&c.redirect_uris)?,
            client_name: c.client_name.clone(),
            created_at: time(c.created_at)?,
        })
    }

    pub(crate) fn into_client(self) -> Result<Client, StoreError> {
        let auth: ClientAuth = serde_json::from_value(serde_json::Value::String(self.auth.clone()))
            .map_err(|_| StoreError(format!("the stored client auth method `{}` is unknown", self.auth)))?;
        Ok(Client {
            redirect_uris: from_json(&self.redirect_uris, "client redirect_uris")?,
            created_at: unix(self.created_at, "client created_at")?,
            client_id: self.client_id,
            secret: self.secret_digest.map(Digest),
            auth,
            client_name: self.client_name,
        })
    }
}

#[derive(Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = mcp_oauth_pending, primary_key(digest), treat_none_as_null = true)]
pub(crate) struct PendingRow {
    pub(crate) digest: String,
    client_id: String,
    redirect_uri: String,
    state: String,
    code_challenge: String,
    scopes: String,
    resource: String,
    browser_digest: String,
    csrf_digest: String,
    principal: Option<String>,
    expires_at: i64,
}

impl PendingRow {
    pub(crate) fn new(id: &Digest, p: &Pending) -> Result<Self, StoreError> {
        Ok(PendingRow {
            digest: id.0.clone(),
            client_id: p.client_id.clone(),
            redirect_uri: p.redirect_uri.clone(),
            state: p.state.clone(),
            code_challenge: p.code_challenge.clone(),
            scopes: to_json(&p.scopes)?,
            resource: p.resource.clone(),
            browser_digest: p.browser.0.clone(),
            csrf_digest: p.csrf.0.clone(),
            principal: p.principal.as_ref().map(to_json).transpose()?,
            expires_at: time(p.expires_at)?,
        })
    }

    pub(crate) fn into_pending(self) -> Result<Pending, StoreError> {
        Ok(Pending {
            scopes: from_json(&self.scopes, "pending scopes")?,
            principal: self.principal.as_deref().map(|p| from_json(p, "pending principal")).transpose()?,
            expires_at: unix(self.expires_at, "pending expires_at")?,
            client_id: self.client_id,
            redirect_uri: self.redirect_uri,
            state: self.state,
            code_challenge: self.code_challenge,
            resource: self.resource,
            browser: Digest(self.browser_digest),
            csrf: Digest(self.csrf_digest),
        })
    }
}

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = mcp_oauth_codes)]
pub(crate) struct CodeRow {
    digest: String,
    client_id: String,
    subject: String,
    claims: String,
    scopes: String,
    resource: String,
    family: String,
    redirect_uri: String,
    code_challenge: String,
    expires_at: i64,
    spent: bool,
}

impl CodeRow {
    pub(crate) fn new(digest: &Digest, c: &Code) -> Result<Self, StoreError> {
        let g = &c.grant;
        Ok(CodeRow {
            digest: digest.0.clone(),
            client_id: g.client_id.clone(),
            subject: g.subject.clone(),
            claims: to_json(&g.claims)?,
            scopes: to_json(&g.scopes)?,
            resource: g.resource.clone(),
            family: g.family.clone(),
            redirect_uri: c.redirect_uri.clone(),
            code_challenge: c.code_challenge.clone(),
            expires_at: time(c.expires_at)?,
            spent: false,
        })
    }

    pub(crate) fn into_code(self) -> Result<Code, StoreError> {
        Ok(Code {
            grant: Grant {
                claims: from_json(&self.claims, "code claims")?,
                scopes: from_json(&self.scopes, "code scopes")?,
                client_id: self.client_id,
                subject: self.subject,
                resource: self.resource,
                family: self.family,
            },
            redirect_uri: self.redirect_uri,
            code_challenge: self.code_challenge,
            expires_at: unix(self.expires_at, "code expires_at")?,
        })
    }
}

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = mcp_oauth_refresh_tokens)]
pub(crate) struct RefreshRow {
    digest: String,
    client_id: String,
    subject: String,
    claims: String,
    scopes: String,
    resource: String,
    pub(crate) family: String,
    pub(crate) expires_at: i64,
    pub(crate) used_at: Option<i64>,
}

impl RefreshRow {
    pub(crate) fn new(digest: &Digest, r: &Refresh) -> Result<Self, StoreError> {
        let g = &r.grant;
        Ok(RefreshRow {
            digest: digest.0.clone(),
            client_id: g.client_id.clone(),
            subject: g.subject.clone(),
            claims: to_json(&g.claims)?,
            scopes: to_json(&g.scopes)?,
            resource: g.resource.clone(),
            family: g.family.clone(),
            expires_at: time(r.expires_at)?,
            used_at: r.used_at.map(time).transpose()?,
        })
    }

    pub(crate) fn into_refresh(self) -> Result<Refresh, StoreError> {
        Ok(Refresh {
            grant: Grant {
                claims: from_json(&self.claims, "refresh token claims")?,
                scopes: from_json(&self.scopes, "refresh token scopes")?,
                client_id: self.client_id,
                subject: self.subject,
                resource: self.resource,
                family: self.family,
            },
            expires_at: unix(self.expires_at, "refresh token expires_at")?,
            used_at: self.used_at.map(|t| unix(t, "refresh token used_at")).transpose()?,
        })
    }
}

#[derive(Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = mcp_oauth_consents, primary_key(id))]
pub(crate) struct ConsentRow {
    pub(crate) id: String,
    pub(crate) subject: String,
    pub(crate) client_id: String,
    pub(crate) scopes: String,
}

impl ConsentRow {
    pub(crate) fn new(subject: &str, client_id: &str, scopes: &[String]) -> Result<Self, StoreError> {
        Ok(ConsentRow {
            id: consent_id(subject, client_id)?,
            subject: subject.to_owned(),
            client_id: client_id.to_owned(),
            scopes: to_json(scopes)?,
        })
    }

    pub(crate) fn scopes(&self) -> Result<Vec<String>, StoreError> {
        from_json(&self.scopes, "consent scopes")
    }
}

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = mcp_oauth_signing_keys)]
pub(crate) struct KeyRow {
    pub(crate) kid: String,
    pkcs8: Vec<u8>,
    pub(crate) created_at: i64,
    retired_at: Option<i64>,
}

impl KeyRow {
    pub(crate) fn new(k: &SigningKey) -> Result<Self, StoreError> {
        Ok(KeyRow {
            kid: k.kid.clone(),
            pkcs8: k.pkcs8.clone(),
            created_at: time(k.created_at)?,
            retired_at: k.retired_at.map(time).transpose()?,
        })
    }

    pub(crate) fn into_key(self) -> Result<SigningKey, StoreError> {
        Ok(SigningKey {
            created_at: unix(self.created_at, "signing key created_at")?,
            retired_at: self.retired_at.map(|t| unix(t, "signing key retired_at")).transpose()?,
            kid: self.kid,
            pkcs8: self.pkcs8,
        })
    }
}
