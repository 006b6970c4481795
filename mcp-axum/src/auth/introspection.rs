//! RFC 7662 token introspection, with a short cache.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use http::request::Parts;
use mcp_core::Principal;
use mcp_core::server::BoxFuture;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::fetch::{Fetcher, SetupError, check_url};
use super::jwt::principal_from_claims;
use super::{Authenticator, Verdict};

/// Most cached answers; beyond it the oldest are dropped.
const MAX_CACHED: usize = 10_000;

/// Asks the authorization server about each token (RFC 7662) and caches the answer for a
/// short time (default 30 s, never past the token's `exp`). An inactive token, or one
/// whose `aud` does not contain this resource, is refused.
#[derive(Clone)]
pub struct Introspection {
    inner: Inner,
}

#[derive(Clone)]
struct Inner {
    endpoint: String,
    client_id: String,
    client_secret: String,
    audience: String,
    cache_for: Duration,
    fetcher: Fetcher,
    cache: Arc<Mutex<Cache>>,
}

type Cache = HashMap<[u8; 32], (Instant, Result<Principal, String>)>;

impl fmt::Debug for Introspection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Introspection").field("endpoint", &self.inner.endpoint).finish_non_exhaustive()
    }
}

impl Introspection {
    /// Introspect at `endpoint`, authenticating as the client `client_id`/`client_secret`
    /// (HTTP Basic), accepting tokens whose `aud` (when present) contains `audience`.
    pub fn new(
        endpoint: impl Into<String>,
        client_id: impl Into<String>,
        client_secret: impl Into<String>,
        audience: impl Into<String>,
    ) -> Result<Self, SetupError> {
        let endpoint = endpoint.into();
        check_url(&endpoint, false)?;
        Ok(Introspection {
            inner: Inner {
                endpoint,
                client_id: client_id.into(),
                client_secret: client_secret.into(),
                audience: audience.into(),
                cache_for: Duration::from_secs(30),
                fetcher: Fetcher::new(Duration::from_secs(5)),
                cache: Arc::default(),
            },
        })
    }

    /// How long an answer is kept (default 30 s; `0` asks every time).
    pub fn cache_for(mut self, ttl: Duration) -> Self {
        self.inner.cache_for = ttl;
        self
    }

    async fn introspect(&self, token: &str) -> Result<(Result<Principal, String>, Option<u64>), String> {
        let doc = self
            .inner
            .fetcher
            .post_form(
                &self.inner.endpoint,
                &[("token", token), ("token_type_hint", "access_token")],
                Some((&self.inner.client_id, &self.inner.client_secret)),
            )
            .await?;
        let Value::Object(claims) = doc else { return Err("the answer is not a JSON object".into()) };
        let exp = claims.get("exp").and_then(Value::as_u64);
        Ok((self.judge(claims), exp))
    }

    fn judge(&self, claims: Map<String, Value>) -> Result<Principal, String> {
        if claims.get("active") != Some(&Value::Bool(true)) {
            return Err("the access token is not active".into());
        }
        let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        if claims.get("exp").and_then(Value::as_u64).is_some_and(|exp| exp <= now) {
            return Err("the access token has expired".into());
        }
        let aud_ok = match claims.get("aud") {
            None => true,
            Some(Value::String(a)) => *a == self.inner.audience,
            Some(Value::Array(a)) => a.iter().any(|x| x.as_str() == Some(&self.inner.audience)),
            Some(_) => false,
        };
        if !aud_ok {
            return Err(format!(
                "the access token was not issued for this resource (`aud` must contain `{}`)",
                self.inner.audience
            ));
        }
        let mut claims = claims;
        if !claims.contains_key("sub")
            && let Some(u) = claims.get("username").or_else(|| claims.get("client_id")).cloned()
        {
            claims.insert("sub".into(), u);
        }
        Ok(principal_from_claims(claims))
    }

    async fn check(&self, token: &str) -> Verdict {
        let key: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        if let Ok(cache) = self.inner.cache.lock()
            && let Some((until, answer)) = cache.get(&key)
            && Instant::now() < *until
        {
            return to_verdict(answer.clone());
        }
        let (answer, exp) = match self.introspect(token).await {
            Ok(a) => a,
            Err(e) => {
                tracing::warn!(endpoint = %self.inner.endpoint, error = %e, "token introspection failed");
                return Verdict::Reject("the authorization server could not be asked about the token".into());
            }
        };
        let mut ttl = self.inner.cache_for;
        if let Some(exp) = exp {
            let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
            ttl = ttl.min(Duration::from_secs(exp.saturating_sub(now)));
        }
        if !ttl.is_zero()
            && let Ok(mut cache) = self.inner.cache.lock()
        {
            if cache.len() >= MAX_CACHED {
                let now = Instant::now();
                cache.retain(|_, (until, _)| *until > now);
                if cache.len() >= MAX_CACHED {
                    cache.clear();
                }
            }
            cache.insert(key, (Instant::now() + ttl, answer.clone()));
        }
        to_verdict(answer)
    }
}

fn to_verdict(answer: Result<Principal, String>) -> Verdict {
    match answer {
        Ok(p) => Verdict::Accept(p),
        Err(why) => Verdict::Reject(why),
    }
}

impl Authenticator for Introspection {
    fn authenticate<'a>(&'a self, _request: &'a Parts, token: Option<&'a str>) -> BoxFuture<'a, Verdict> {
        super::with_token(token, |t| self.check(t))
    }
}
