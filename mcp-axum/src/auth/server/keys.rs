//! Signing keys (ES256 through jsonwebtoken and p256), the JWKS, and the in-process
//! authenticator of this server's access tokens.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use http::request::Parts;
use jsonwebtoken::jwk::{Jwk, JwkSet, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use mcp_core::server::BoxFuture;
use p256::pkcs8::EncodePrivateKey as _;
use serde_json::{Map, Value};
use tokio::sync::RwLock;

use super::store::{AuthStore, SigningKey, StoreError};
use super::verified::{self, VerifiedTokens};
use super::{Clock, rules};
use crate::auth::{Authenticator, Verdict};

/// A usable key: its record, its signing key and its public JWK.
struct Loaded {
    record: SigningKey,
    encoding: EncodingKey,
    decoding: DecodingKey,
    jwk: Jwk,
}

/// The keys of the server, loaded from the store (and created there when it has none).
pub(crate) struct Keys {
    store: Arc<dyn AuthStore>,
    clock: Clock,
    /// How long a retired key stays published and accepted (the access-token lifetime
    /// plus leeway).
    keep_retired: u64,
    /// The app's own key, installed as the signing key on first use.
    app_key: Option<SigningKey>,
    loaded: RwLock<(Vec<Loaded>, Option<Instant>)>,
    /// When the keys were last read from the store (the server's clock).
    loaded_at: AtomicU64,
}

/// How long (seconds) a new key is published before it signs; longer than the 10 s
/// between two unknown-`kid` reloads of a verifier, so no replica refuses its tokens.
pub(crate) const PUBLISH_DELAY: u64 = 20;

/// How often (seconds) the signing side rereads the keys, so a key another replica
/// rotated in is signed with here too.
const RELOAD_EVERY: u64 = 60;

fn load(record: SigningKey) -> Option<Loaded> {
    let encoding = EncodingKey::from_ec_der(&record.pkcs8);
    let mut jwk = Jwk::from_encoding_key(&encoding, Algorithm::ES256).ok()?;
    jwk.common.key_id = Some(record.kid.clone());
    jwk.common.public_key_use = Some(PublicKeyUse::Signature);
    jwk.common.key_algorithm = Some(KeyAlgorithm::ES256);
    let decoding = DecodingKey::from_jwk(&jwk).ok()?;
    Some(Loaded { record, encoding, decoding, jwk })
}

/// A new P-256 key from the system's random source, as a store record.
pub(crate) fn generate(now: u64) -> SigningKey {
    let secret = loop {
        let mut bytes = [0u8; 32];
        rules::fill_random(&mut bytes);
        // Out-of-range scalars (probability about 2^-32) are drawn again.
        if let Ok(k) = p256::SecretKey::from_slice(&bytes) {
            break k;
        }
    };
    let der = secret.to_pkcs8_der().map(|d| d.as_bytes().to_vec()).unwrap_or_default();
    SigningKey { kid: rules::random_token()[..16].to_owned(), pkcs8: der, created_at: now, retired_at: None }
}

/// An app-supplied PKCS#8 DER P-256 key, checked.
pub(crate) fn from_pkcs8(kid: String, der: Vec<u8>, now: u64) -> Result<SigningKey, String> {
    use p256::pkcs8::DecodePrivateKey as _;
    p256::SecretKey::from_pkcs8_der(&der).map_err(|e| format!("the signing key is not a PKCS#8 P-256 key: {e}"))?;
    Ok(SigningKey { kid, pkcs8: der, created_at: now, retired_at: None })
}

impl Keys {
    pub(crate) fn new(store: Arc<dyn AuthStore>, clock: Clock, keep_retired: u64, app_key: Option<SigningKey>) -> Self {
        Keys {
            store,
            clock,
            keep_retired,
            app_key,
            loaded: RwLock::new((Vec::new(), None)),
            loaded_at: AtomicU64::new(0),
        }
    }

    /// Load the keys from the store; install the app's key, or create the first one if
    /// there is none.
    async fn reload(&self) -> Result<(), StoreError> {
        self.loaded_at.store(self.clock.now(), Ordering::Relaxed);
        let mut records = self.store.signing_keys().await?;
        if let Some(key) = &self.app_key {
            if !records.iter().any(|k| k.kid == key.kid) {
                self.store.add_signing_key(key, true).await?;
                records = self.store.signing_keys().await?;
            }
        } else if !records.iter().any(|k| k.retired_at.is_none()) {
            let key = generate(self.clock.now());
            self.store.add_signing_key(&key, false).await?;
            records = self.store.signing_keys().await?;
        }
        let now = self.clock.now();
        let mut loaded: Vec<Loaded> = records
            .into_iter()
            .filter(|k| k.retired_at.is_none_or(|r| r + self.keep_retired > now))
            .filter_map(load)
            .collect();
        // Newest active key first: replicas that each created one converge on the same.
        loaded.sort_by(|a, b| {
            (a.record.retired_at.is_some(), std::cmp::Reverse(a.record.created_at), &a.record.kid).cmp(&(
                b.record.retired_at.is_some(),
                std::cmp::Reverse(b.record.created_at),
                &b.record.kid,
            ))
        });
        *self.loaded.write().await = (loaded, Some(Instant::now()));
        Ok(())
    }

    /// Load the keys if they never were; reread them every [`RELOAD_EVERY`] seconds (one
    /// caller does, the others sign with the keys at hand; so does it if the store fails).
    async fn ensure(&self) -> Result<(), StoreError> {
        if self.loaded.read().await.1.is_none() {
            return self.reload().await;
        }
        let (now, at) = (self.clock.now(), self.loaded_at.load(Ordering::Relaxed));
        if now >= at.saturating_add(RELOAD_EVERY)
            && self.loaded_at.compare_exchange(at, now, Ordering::Relaxed, Ordering::Relaxed).is_ok()
            && let Err(e) = self.reload().await
        {
            tracing::warn!(error = %e, "could not reread the signing keys; signing with the ones at hand");
        }
        Ok(())
    }

    /// Sign `claims` with the newest active key.
    pub(crate) async fn sign(&self, claims: &Map<String, Value>) -> Result<String, String> {
        self.ensure().await.map_err(|e| e.to_string())?;
        let keys = self.loaded.read().await;
        // The key that was active `PUBLISH_DELAY` ago: a rotated-in key signs only once every
        // replica that meets one of its tokens may reread the keys (their unknown-`kid`
        // reload runs at most every 10 s). The first key of all signs at once.
        let then = self.clock.now().saturating_sub(PUBLISH_DELAY);
        let key = keys
            .0
            .iter()
            .find(|k| k.record.created_at <= then && k.record.retired_at.is_none_or(|r| r > then))
            .or_else(|| keys.0.first())
            .ok_or("no signing key")?;
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some(key.record.kid.clone());
        header.typ = Some("at+jwt".into());
        jsonwebtoken::encode(&header, claims, &key.encoding).map_err(|e| format!("signing failed: {e}"))
    }

    /// The public keys: active ones and retired ones whose tokens may still be live.
    pub(crate) async fn jwks(&self) -> Result<JwkSet, StoreError> {
        self.reload().await?;
        Ok(JwkSet { keys: self.loaded.read().await.0.iter().map(|k| k.jwk.clone()).collect() })
    }

    /// Start signing with a new key; the old ones stay published until their tokens expire.
    pub(crate) async fn rotate(&self) -> Result<(), StoreError> {
        let key = generate(self.clock.now());
        self.store.add_signing_key(&key, true).await?;
        self.reload().await
    }

    /// Whether the key `kid` is loaded (active, or retired with tokens that may be live),
    /// without reloading.
    async fn is_loaded(&self, kid: &str) -> bool {
        self.loaded.read().await.0.iter().any(|k| k.record.kid == kid)
    }

    /// The verification key of `kid`; reloads (at most every 10 s) for a key another
    /// replica created.
    async fn decoding_key(&self, kid: &str) -> Option<DecodingKey> {
        let find = |keys: &Vec<Loaded>| keys.iter().find(|k| k.record.kid == kid).map(|k| k.decoding.clone());
        {
            let keys = self.loaded.read().await;
            if let Some(k) = find(&keys.0) {
                return Some(k);
            }
            if keys.1.is_some_and(|t| t.elapsed() < Duration::from_secs(10)) {
                return None;
            }
        }
        self.reload().await.ok()?;
        find(&self.loaded.read().await.0)
    }
}

/// The in-process authenticator of this server's JWT access tokens: ES256 with one of its
/// keys, `iss` = the issuer, `aud` = the MCP resource, `exp`. Tokens of other issuers pass.
/// Tokens it accepted are remembered ([`VerifiedTokens`]) until they expire or their key
/// is dropped, so a repeated token costs a digest and a lookup, not a signature check.
pub(crate) struct OwnTokens {
    pub(crate) keys: Arc<Keys>,
    pub(crate) issuer: String,
    pub(crate) audience: String,
    pub(crate) verified: VerifiedTokens,
}

/// The validator's leeway on `exp`, in seconds.
const LEEWAY: u64 = 5;

impl OwnTokens {
    async fn check(&self, token: &str) -> Verdict {
        let key = verified::digest(token);
        // The validator's own clock, so a cached token expires exactly when a checked one would.
        let now = jsonwebtoken::get_current_timestamp();
        if let Some((principal, kid)) = self.verified.get(&key, now)
            && self.keys.is_loaded(&kid).await
        {
            return Verdict::Accept(principal);
        }
        self.verify(token, key, now).await
    }

    /// The full check (header, issuer, key, signature, claims); an accepted token is
    /// remembered under `key`.
    async fn verify(&self, token: &str, key: [u8; 32], now: u64) -> Verdict {
        let Ok(header) = jsonwebtoken::decode_header(token) else { return Verdict::Pass };
        if unverified_issuer(token).as_deref() != Some(self.issuer.as_str()) {
            return Verdict::Pass;
        }
        if header.alg != Algorithm::ES256 {
            return Verdict::Reject("the access token is not signed with ES256".into());
        }
        let Some(kid) = header.kid else { return Verdict::Reject("the access token names no key (`kid`)".into()) };
        let Some(decoding) = self.keys.decoding_key(&kid).await else {
            return Verdict::Reject(format!("the token is signed with an unknown or retired key (kid `{kid}`)"));
        };
        let mut v = Validation::new(Algorithm::ES256);
        v.leeway = LEEWAY;
        v.set_issuer(&[&self.issuer]);
        v.set_audience(&[&self.audience]);
        v.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        match jsonwebtoken::decode::<Map<String, Value>>(token, &decoding, &v) {
            Ok(data) => {
                // `exp` is required above; only a whole number of seconds is cached.
                let exp = data.claims.get("exp").and_then(Value::as_u64);
                let principal = crate::auth::jwt::principal_from_claims(data.claims);
                if let Some(exp) = exp {
                    self.verified.insert(key, exp.saturating_add(LEEWAY), kid, principal.clone(), now);
                }
                Verdict::Accept(principal)
            }
            Err(e) => Verdict::Reject(match e.kind() {
                jsonwebtoken::errors::ErrorKind::ExpiredSignature => "the access token has expired".into(),
                jsonwebtoken::errors::ErrorKind::InvalidAudience => {
                    format!("the access token was not issued for this resource (`aud` must be `{}`)", self.audience)
                }
                jsonwebtoken::errors::ErrorKind::InvalidSignature => "the access token's signature is invalid".into(),
                _ => "the access token is malformed".into(),
            }),
        }
    }
}

impl Authenticator for OwnTokens {
    fn authenticate<'a>(&'a self, _request: &'a Parts, token: Option<&'a str>) -> BoxFuture<'a, Verdict> {
        match token {
            Some(t) => Box::pin(self.check(t)),
            None => Box::pin(std::future::ready(Verdict::Pass)),
        }
    }
}

fn unverified_issuer(token: &str) -> Option<String> {
    use base64::Engine as _;
    let payload = token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).ok()?;
    let claims: Map<String, Value> = serde_json::from_slice(&bytes).ok()?;
    claims.get("iss")?.as_str().map(str::to_owned)
}
