//! The storage trait of the authorization server and its in-memory implementation.
//!
//! One trait, [`AuthStore`], keeps everything the server must remember between requests:
//! clients, pending authorizations, codes, refresh-token families, consents, signing keys
//! and the secret that derives refresh-token successors. Every operation that must be
//! atomic across replicas (spending a code, rotating a refresh token, installing the first
//! key) is one method, so a SQL store implements it as one statement or transaction and a
//! Redis store as one script. Codes, refresh tokens, pending-authorization ids and client
//! secrets reach the store only as SHA-256 digests ([`Digest`]).
//!
//! Where the other stores are: the Redis store, `RedisAuthStore`, is in mcp-axum
//! (`src/auth/server/redis_store.rs`, features `redis` + `oauth-server`), beside the
//! session store `RedisStore` whose connection handling it shares; each atomic method is
//! one Lua script there. The Diesel store cannot live in mcp-axum (which must not depend
//! on mcp-diesel) nor in mcp-diesel (which must not depend on mcp-axum), so it is the
//! crate `mcp-auth-diesel` (depending on both): `DieselAuthStore`, in `mcp_oauth_*` tables
//! on SQLite, PostgreSQL and MySQL, with its migrations shipped. Any store can check
//! itself against this trait's contract with
//! `mcp_axum::testing::check_auth_store`.

use std::collections::HashMap;
use std::fmt;
use std::sync::Mutex;

use mcp_core::server::BoxFuture;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest as _, Sha256};

/// A SHA-256 digest of a secret (code, refresh token, client secret, pending id), hex.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Digest(pub String);

impl Digest {
    /// The digest of `secret`.
    pub fn of(secret: &str) -> Self {
        let d = Sha256::digest(secret.as_bytes());
        Digest(d.iter().map(|b| format!("{b:02x}")).collect())
    }

    /// Whether `secret` has this digest, compared in constant time.
    pub fn matches(&self, secret: &str) -> bool {
        subtle::ConstantTimeEq::ct_eq(self.0.as_bytes(), Digest::of(secret).0.as_bytes()).into()
    }
}

/// How a client authenticates at the token endpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClientAuth {
    /// A public client: no secret, PKCE only.
    None,
    /// `client_id` and `client_secret` in the form body.
    ClientSecretPost,
    /// HTTP Basic with the URL-encoded id and secret.
    ClientSecretBasic,
}

impl ClientAuth {
    /// The RFC 7591 name.
    pub fn as_str(self) -> &'static str {
        match self {
            ClientAuth::None => "none",
            ClientAuth::ClientSecretPost => "client_secret_post",
            ClientAuth::ClientSecretBasic => "client_secret_basic",
        }
    }
}

/// A registered client.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Client {
    /// Its id (random for registered clients).
    pub client_id: String,
    /// The digest of its secret, for confidential clients.
    pub secret: Option<Digest>,
    /// How it authenticates at the token endpoint.
    pub auth: ClientAuth,
    /// Its redirect URIs, compared exactly (the port of a loopback one may vary).
    pub redirect_uris: Vec<String>,
    /// Its name, shown on the consent page.
    pub client_name: Option<String>,
    /// When it was registered (Unix seconds).
    pub created_at: u64,
}

/// What the user granted: carried from the code to every refresh token of its family.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Grant {
    /// The client.
    pub client_id: String,
    /// The user's principal id (the tokens' `sub`).
    pub subject: String,
    /// Claims of the principal carried into the access tokens.
    pub claims: Map<String, Value>,
    /// The granted scopes.
    pub scopes: Vec<String>,
    /// The resource (audience) the tokens are for.
    pub resource: String,
    /// The refresh-token family this grant starts.
    pub family: String,
}

/// An authorization code, stored under its digest.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Code {
    /// What it grants.
    pub grant: Grant,
    /// The redirect URI of the authorization request, exactly as sent.
    pub redirect_uri: String,
    /// The PKCE S256 challenge.
    pub code_challenge: String,
    /// When it expires (Unix seconds).
    pub expires_at: u64,
}

/// What spending a code found.
#[derive(Debug)]
pub enum CodeUse {
    /// First use: the code, now spent.
    Fresh(Code),
    /// The code was spent before: its grant's family must be revoked.
    Replayed(Code),
    /// No such code.
    Unknown,
}

/// A refresh token, stored under its digest.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Refresh {
    /// What it grants.
    pub grant: Grant,
    /// When it expires (Unix seconds).
    pub expires_at: u64,
    /// When it was spent (rotated), if it was.
    pub used_at: Option<u64>,
}

/// What presenting a refresh token found.
#[derive(Debug)]
pub enum RefreshUse {
    /// First use: rotate it (the store marked it spent).
    Rotated(Refresh),
    /// Spent, but within the grace window: answer with the same successor.
    Grace(Refresh),
    /// Spent before the grace window: the store revoked the whole family.
    Reused(Refresh),
    /// Unknown, expired, or of a revoked family.
    Unknown,
}

/// An authorization in progress (between `GET /authorize` and the redirect back).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Pending {
    /// The client.
    pub client_id: String,
    /// The validated redirect URI, as sent.
    pub redirect_uri: String,
    /// The client's `state`.
    pub state: String,
    /// The PKCE S256 challenge.
    pub code_challenge: String,
    /// The scopes asked for (known ones only).
    pub scopes: Vec<String>,
    /// The resource (canonical).
    pub resource: String,
    /// The digest of the browser-binding cookie.
    pub browser: Digest,
    /// The digest of the form's CSRF token.
    pub csrf: Digest,
    /// The user, once signed in.
    pub principal: Option<mcp_core::Principal>,
    /// When it expires (Unix seconds).
    pub expires_at: u64,
}

/// A signing key: PKCS#8 DER of a P-256 key (ES256).
#[derive(Clone, Serialize, Deserialize)]
pub struct SigningKey {
    /// The key id (`kid`).
    pub kid: String,
    /// The private key, PKCS#8 DER.
    pub pkcs8: Vec<u8>,
    /// When it was created (Unix seconds); the newest active key signs.
    pub created_at: u64,
    /// When it stopped signing; it is still published until its tokens expire.
    pub retired_at: Option<u64>,
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .field("created_at", &self.created_at)
            .field("retired_at", &self.retired_at)
            .finish_non_exhaustive()
    }
}

/// Why the store failed (a connection, a serialisation...).
#[derive(Clone, Debug)]
pub struct StoreError(pub String);

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "authorization store: {}", self.0)
    }
}

impl std::error::Error for StoreError {}

/// The result of a store operation.
pub type StoreFuture<'a, T> = BoxFuture<'a, Result<T, StoreError>>;

/// Where the authorization server keeps its state. See the [module docs](self).
///
/// `now` arguments are Unix seconds from the server's clock (injectable in tests), so
/// stores never read a clock of their own.
pub trait AuthStore: Send + Sync + 'static {
    /// Add or replace a client.
    fn put_client<'a>(&'a self, client: &'a Client) -> StoreFuture<'a, ()>;
    /// A client by id.
    fn client<'a>(&'a self, client_id: &'a str) -> StoreFuture<'a, Option<Client>>;

    /// Keep a pending authorization under the digest of its id.
    fn put_pending<'a>(&'a self, id: &'a Digest, pending: &'a Pending) -> StoreFuture<'a, ()>;
    /// A pending authorization, unless expired.
    fn pending<'a>(&'a self, id: &'a Digest, now: u64) -> StoreFuture<'a, Option<Pending>>;
    /// Forget a pending authorization.
    fn remove_pending<'a>(&'a self, id: &'a Digest) -> StoreFuture<'a, ()>;

    /// Keep a new code under its digest.
    fn put_code<'a>(&'a self, code: &'a Digest, record: &'a Code) -> StoreFuture<'a, ()>;
    /// Spend a code, atomically: the first caller gets [`CodeUse::Fresh`], every later one
    /// [`CodeUse::Replayed`] (keep spent codes at least until they expire).
    fn take_code<'a>(&'a self, code: &'a Digest, now: u64) -> StoreFuture<'a, CodeUse>;

    /// Keep a new refresh token under its digest (first of a family, or a successor).
    fn put_refresh<'a>(&'a self, token: &'a Digest, record: &'a Refresh) -> StoreFuture<'a, ()>;
    /// Present a refresh token, atomically: unspent → mark spent at `now`, [`RefreshUse::Rotated`];
    /// spent at most `grace` seconds ago → [`RefreshUse::Grace`]; spent earlier → revoke its
    /// family, [`RefreshUse::Reused`]; expired, unknown or revoked family → [`RefreshUse::Unknown`].
    fn use_refresh<'a>(&'a self, token: &'a Digest, now: u64, grace: u64) -> StoreFuture<'a, RefreshUse>;
    /// The client of a live refresh token (for revocation), without spending it.
    fn refresh<'a>(&'a self, token: &'a Digest, now: u64) -> StoreFuture<'a, Option<Refresh>>;
    /// Revoke every refresh token of a family (and refuse codes and tokens of it later).
    fn revoke_family<'a>(&'a self, family: &'a str) -> StoreFuture<'a, ()>;

    /// The scopes `subject` consented to for `client_id`, if it did.
    fn consent<'a>(&'a self, subject: &'a str, client_id: &'a str) -> StoreFuture<'a, Option<Vec<String>>>;
    /// Remember a consent.
    fn put_consent<'a>(&'a self, subject: &'a str, client_id: &'a str, scopes: &'a [String]) -> StoreFuture<'a, ()>;
    /// Forget a consent: the user is asked again next time.
    fn revoke_consent<'a>(&'a self, subject: &'a str, client_id: &'a str) -> StoreFuture<'a, ()>;

    /// Every signing key, retired ones included.
    fn signing_keys(&self) -> StoreFuture<'_, Vec<SigningKey>>;
    /// Add a key; with `retire_others`, mark every other active key retired at `key.created_at`.
    fn add_signing_key<'a>(&'a self, key: &'a SigningKey, retire_others: bool) -> StoreFuture<'a, ()>;
    /// The secret deriving refresh-token successors: the stored one, or `candidate` stored
    /// now if there is none yet (set-if-absent, so replicas agree).
    fn secret<'a>(&'a self, candidate: &'a [u8; 32]) -> StoreFuture<'a, [u8; 32]>;
}

/// Authorizations in progress the memory store keeps at most (each `GET /authorize`
/// starts one; they expire after 10 minutes).
const MAX_PENDING: usize = 50_000;

/// How long spent codes are remembered past their expiry, to recognise replays.
const SPENT_CODE_MEMORY: u64 = 600;

/// The default [`AuthStore`]: process memory. Everything is lost on restart (users sign in
/// again; clients register again) and replicas do not share it.
#[derive(Default)]
pub struct MemoryAuthStore {
    inner: Mutex<Memory>,
}

impl fmt::Debug for MemoryAuthStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryAuthStore").finish_non_exhaustive()
    }
}

#[derive(Default)]
struct Memory {
    clients: HashMap<String, Client>,
    pending: HashMap<Digest, Pending>,
    codes: HashMap<Digest, (Code, bool)>,
    refresh: HashMap<Digest, Refresh>,
    revoked_families: HashMap<String, ()>,
    consents: HashMap<(String, String), Vec<String>>,
    keys: Vec<SigningKey>,
    secret: Option<[u8; 32]>,
    writes: u64,
}

impl MemoryAuthStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn with<T>(&self, f: impl FnOnce(&mut Memory) -> T) -> Result<T, StoreError> {
        let mut m = self.inner.lock().map_err(|_| StoreError("a thread panicked holding the store".into()))?;
        Ok(f(&mut m))
    }
}

impl Memory {
    /// Drop expired entries now and then, so memory stays bounded by the live ones.
    fn prune(&mut self, now: u64) {
        self.writes += 1;
        if !self.writes.is_multiple_of(256) {
            return;
        }
        self.pending.retain(|_, p| p.expires_at > now);
        self.codes.retain(|_, (c, _)| c.expires_at + SPENT_CODE_MEMORY > now);
        self.refresh.retain(|_, r| r.expires_at > now);
    }
}

fn ready<'a, T: Send + 'a>(v: Result<T, StoreError>) -> StoreFuture<'a, T> {
    Box::pin(std::future::ready(v))
}

fn unix_now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

impl AuthStore for MemoryAuthStore {
    fn put_client<'a>(&'a self, client: &'a Client) -> StoreFuture<'a, ()> {
        ready(self.with(|m| {
            m.clients.insert(client.client_id.clone(), client.clone());
        }))
    }

    fn client<'a>(&'a self, client_id: &'a str) -> StoreFuture<'a, Option<Client>> {
        ready(self.with(|m| m.clients.get(client_id).cloned()))
    }

    fn put_pending<'a>(&'a self, id: &'a Digest, pending: &'a Pending) -> StoreFuture<'a, ()> {
        ready(
            self.with(|m| {
                m.prune(unix_now());
                if m.pending.len() >= MAX_PENDING && !m.pending.contains_key(id) {
                    let now = unix_now();
                    m.pending.retain(|_, p| p.expires_at > now);
                    if m.pending.len() >= MAX_PENDING {
                        return Err(StoreError(format!("{MAX_PENDING} sign-ins are in progress; try again later")));
                    }
                }
                m.pending.insert(id.clone(), pending.clone());
                Ok(())
            })
            .and_then(|r| r),
        )
    }

    fn pending<'a>(&'a self, id: &'a Digest, now: u64) -> StoreFuture<'a, Option<Pending>> {
        ready(self.with(|m| m.pending.get(id).filter(|p| p.expires_at > now).cloned()))
    }

    fn remove_pending<'a>(&'a self, id: &'a Digest) -> StoreFuture<'a, ()> {
        ready(self.with(|m| {
            m.pending.remove(id);
        }))
    }

    fn put_code<'a>(&'a self, code: &'a Digest, record: &'a Code) -> StoreFuture<'a, ()> {
        ready(self.with(|m| {
            m.prune(unix_now());
            m.codes.insert(code.clone(), (record.clone(), false));
        }))
    }

    fn take_code<'a>(&'a self, code: &'a Digest, _now: u64) -> StoreFuture<'a, CodeUse> {
        ready(self.with(|m| match m.codes.get_mut(code) {
            None => CodeUse::Unknown,
            Some((c, spent)) if *spent => CodeUse::Replayed(c.clone()),
            Some((c, spent)) => {
                *spent = true;
                CodeUse::Fresh(c.clone())
            }
        }))
    }

    fn put_refresh<'a>(&'a self, token: &'a Digest, record: &'a Refresh) -> StoreFuture<'a, ()> {
        ready(self.with(|m| {
            m.prune(unix_now());
            if !m.revoked_families.contains_key(&record.grant.family) {
                m.refresh.entry(token.clone()).or_insert_with(|| record.clone());
            }
        }))
    }

    fn use_refresh<'a>(&'a self, token: &'a Digest, now: u64, grace: u64) -> StoreFuture<'a, RefreshUse> {
        ready(self.with(|m| {
            let Some(r) = m.refresh.get_mut(token) else { return RefreshUse::Unknown };
            if r.expires_at <= now || m.revoked_families.contains_key(&r.grant.family) {
                return RefreshUse::Unknown;
            }
            match r.used_at {
                None => {
                    r.used_at = Some(now);
                    RefreshUse::Rotated(r.clone())
                }
                Some(t) if now.saturating_sub(t) <= grace => RefreshUse::Grace(r.clone()),
                Some(_) => {
                    let r = r.clone();
                    let family = r.grant.family.clone();
                    m.refresh.retain(|_, x| x.grant.family != family);
                    m.revoked_families.insert(family, ());
                    RefreshUse::Reused(r)
                }
            }
        }))
    }

    fn refresh<'a>(&'a self, token: &'a Digest, now: u64) -> StoreFuture<'a, Option<Refresh>> {
        ready(self.with(|m| {
            m.refresh
                .get(token)
                .filter(|r| r.expires_at > now && !m.revoked_families.contains_key(&r.grant.family))
                .cloned()
        }))
    }

    fn revoke_family<'a>(&'a self, family: &'a str) -> StoreFuture<'a, ()> {
        ready(self.with(|m| {
            m.refresh.retain(|_, x| x.grant.family != family);
            m.revoked_families.insert(family.to_owned(), ());
        }))
    }

    fn consent<'a>(&'a self, subject: &'a str, client_id: &'a str) -> StoreFuture<'a, Option<Vec<String>>> {
        ready(self.with(|m| m.consents.get(&(subject.to_owned(), client_id.to_owned())).cloned()))
    }

    fn put_consent<'a>(&'a self, subject: &'a str, client_id: &'a str, scopes: &'a [String]) -> StoreFuture<'a, ()> {
        ready(self.with(|m| {
            m.consents.insert((subject.to_owned(), client_id.to_owned()), scopes.to_vec());
        }))
    }

    fn revoke_consent<'a>(&'a self, subject: &'a str, client_id: &'a str) -> StoreFuture<'a, ()> {
        ready(self.with(|m| {
            m.consents.remove(&(subject.to_owned(), client_id.to_owned()));
        }))
    }

    fn signing_keys(&self) -> StoreFuture<'_, Vec<SigningKey>> {
        ready(self.with(|m| m.keys.clone()))
    }

    fn add_signing_key<'a>(&'a self, key: &'a SigningKey, retire_others: bool) -> StoreFuture<'a, ()> {
        ready(self.with(|m| {
            if retire_others {
                for k in m.keys.iter_mut().filter(|k| k.retired_at.is_none()) {
                    k.retired_at = Some(key.created_at);
                }
            }
            m.keys.push(key.clone());
        }))
    }

    fn secret<'a>(&'a self, candidate: &'a [u8; 32]) -> StoreFuture<'a, [u8; 32]> {
        ready(self.with(|m| *m.secret.get_or_insert(*candidate)))
    }
}
