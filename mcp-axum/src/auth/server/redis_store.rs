//! [`RedisAuthStore`]: the authorization server's state in Redis, shared by replicas
//! (features `redis` + `oauth-server`).

use std::collections::HashMap;
use std::fmt;
use std::sync::LazyLock;

use redis::aio::ConnectionManager;
use redis::{AsyncCommands, Script};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::store::{
    AuthStore, Client, Code, CodeUse, Digest, Pending, Refresh, RefreshUse, SigningKey, StoreError, StoreFuture,
};

/// How long past its expiry a pending authorization or a refresh token is kept (so
/// replicas whose clocks differ a little still agree), in seconds.
const MARGIN: u64 = 60;

/// How long spent codes are remembered past their expiry, to recognise replays (as the
/// memory store does), in seconds.
const SPENT_CODE_MEMORY: u64 = 600;

/// The shortest life of a revoked-family marker, in seconds: it outlives every token of
/// the family anyway, and a family revoked before its first token (a replayed code) keeps
/// refusing a token stored late for this long.
const REVOKED_FAMILY_MEMORY: u64 = 24 * 3600;

/// The authorization server's state in Redis, so that several replicas behind a load
/// balancer share clients, sign-ins in progress, codes, refresh tokens, consents, signing
/// keys and the refresh secret. A code issued by one replica is redeemed at another, a
/// refresh token spent at one is refused at the others, and every replica signs and
/// verifies with the same keys.
///
/// ```no_run
/// use mcp_axum::auth::server::{AuthServer, RedisAuthStore, SignIn};
/// # async fn run(server: mcp_core::Server, users: impl SignIn) -> Result<(), Box<dyn std::error::Error>> {
/// let store = RedisAuthStore::connect("redis://127.0.0.1:6379").await?.prefix("blog:auth:");
/// let auth = AuthServer::builder()
///     .issuer("https://blog.example.com")
///     .sign_in(users)
///     .scopes([("posts:read", "Read your posts")])
///     .store(store)
///     .build()?;
/// let app = mcp_axum::McpRouter::new(server)
///     .public_url("https://blog.example.com")
///     .auth_server(auth)
///     .into_router::<()>();
/// # Ok(()) }
/// ```
///
/// An app that also keeps its legacy sessions in Redis can share that connection:
/// `RedisAuthStore::from_session_store(&session_store)`.
///
/// # What is stored
///
/// Everything lives under one key prefix (default `mcp:auth:`). Records are JSON: a string
/// per key, or, where a script reads a field (a code's `spent`, a refresh token's `used`,
/// `family` and `expires`) or several records share a key, a hash of them:
///
/// | key | holds | expires |
/// |-----|-------|---------|
/// | `client:<id>` | a registered client (its secret as a digest) | never |
/// | `pending:<digest>` | a sign-in in progress | at its expiry + 60 s |
/// | `pending-index` | the sign-ins in progress, to cap them ([`max_pending`](Self::max_pending)) | with the last of them |
/// | `code:<digest>` | a code, and whether it was spent | at its expiry + 10 min, so replays are recognised |
/// | `refresh:<digest>` | a refresh token, and when it was spent | at its expiry + 60 s |
/// | `family:<family>` | the digests of a family's refresh tokens | with its longest-lived token |
/// | `revoked:<family>` | a revoked family | with its longest-lived token, at least a day |
/// | `consent:<subject>` | the scopes the user granted, per client (a hash) | never (revoked by the app) |
/// | `keys`, `keys:retired` | the signing keys (PKCS#8), and when each was retired | never |
/// | `secret` | the secret refresh-token successors are derived with | never |
///
/// Codes, refresh tokens, pending ids and client secrets are stored only as SHA-256
/// digests. The private signing keys and the refresh secret are stored as they are: protect
/// this Redis like the keys themselves (a password, TLS with `rediss://`, no public port).
///
/// Each rule that must hold across replicas is one Lua script, run atomically by Redis:
/// spending a code, rotating a refresh token (with its grace window, and revoking the
/// whole family on reuse), storing a refresh token unless its family is revoked, adding a
/// signing key while retiring the others, and setting the secret only if there is none.
///
/// Expiry itself is decided with the server's clock (`now` of each call); the Redis TTLs
/// only clear records away, measured from this host's clock with the margins above. Keys
/// built from a record (`revoked:<family>`...) are reached from inside the scripts, so use
/// one Redis server, not Redis Cluster.
#[derive(Clone)]
pub struct RedisAuthStore {
    conn: ConnectionManager,
    prefix: String,
    max_pending: u64,
}

impl fmt::Debug for RedisAuthStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisAuthStore").field("prefix", &self.prefix).finish_non_exhaustive()
    }
}

fn err(e: impl fmt::Display) -> StoreError {
    StoreError(format!("redis: {e}"))
}

fn unix_now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// The longest TTL given (100 years, in seconds): Redis refuses larger ones.
const MAX_TTL: u64 = 100 * 365 * 24 * 3600;

/// The TTL (ms) of a record expiring at `expires_at` (Unix seconds), kept `margin` longer.
fn ttl_ms(expires_at: u64, margin: u64) -> u64 {
    expires_at.saturating_sub(unix_now()).saturating_add(margin).clamp(1, MAX_TTL) * 1000
}

fn to_json<T: Serialize>(v: &T) -> Result<String, StoreError> {
    serde_json::to_string(v).map_err(|e| StoreError(format!("cannot serialize a record: {e}")))
}

fn from_json<T: DeserializeOwned>(key: &str, json: &str) -> Result<T, StoreError> {
    serde_json::from_str(json).map_err(|e| {
        StoreError(format!("the record at `{key}` is not what this version reads ({e}); delete it or fix the prefix"))
    })
}

/// Revokes a family: deletes its tokens and leaves a marker that outlives the longest of
/// them (at least `floor` ms), so tokens stored later are refused.
const REVOKE: &str = r"
local function revoke(prefix, family, floor)
  local set = prefix .. 'family:' .. family
  local marker = prefix .. 'revoked:' .. family
  for _, d in ipairs(redis.call('SMEMBERS', set)) do
    redis.call('DEL', prefix .. 'refresh:' .. d)
  end
  local ttl = math.max(redis.call('PTTL', set), redis.call('PTTL', marker), floor)
  redis.call('DEL', set)
  redis.call('SET', marker, '1', 'PX', ttl)
end
";

/// KEYS[1] the pending authorization, KEYS[2] the index of them all (by expiry, ms).
/// ARGV: record, ttl ms, now ms, the most allowed. 0 when that many are in progress.
static PUT_PENDING: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local now = tonumber(ARGV[3])
local ttl = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
if not redis.call('ZSCORE', KEYS[2], KEYS[1]) and redis.call('ZCARD', KEYS[2]) >= tonumber(ARGV[4]) then
  return 0
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ttl)
redis.call('ZADD', KEYS[2], now + ttl, KEYS[1])
if redis.call('PTTL', KEYS[2]) < ttl then redis.call('PEXPIRE', KEYS[2], ttl) end
return 1
",
    )
});

/// KEYS[1] the code. Nil when unknown, else {1 if this call spent it, its record}.
static TAKE_CODE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
local first = redis.call('HSETNX', KEYS[1], 'spent', '1')
return {first, redis.call('HGET', KEYS[1], 'record')}
",
    )
});

/// KEYS[1] the token, KEYS[2] its family's set, KEYS[3] its family's revoked marker.
/// ARGV: record, family, expires_at, ttl ms, digest, used_at or ''. Stores the token unless
/// its family is revoked or it exists already.
static PUT_REFRESH: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
if redis.call('EXISTS', KEYS[3]) == 1 then return 0 end
if redis.call('HSETNX', KEYS[1], 'record', ARGV[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'family', ARGV[2], 'expires', ARGV[3])
if ARGV[6] ~= '' then redis.call('HSET', KEYS[1], 'used', ARGV[6]) end
local ttl = tonumber(ARGV[4])
redis.call('PEXPIRE', KEYS[1], ttl)
redis.call('SADD', KEYS[2], ARGV[5])
if redis.call('PTTL', KEYS[2]) < ttl then redis.call('PEXPIRE', KEYS[2], ttl) end
return 1
",
    )
});

/// KEYS[1] the token. ARGV: prefix, now, grace, floor ms. Nil when unknown, expired or of
/// a revoked family; else {outcome, record, used_at}.
static USE_REFRESH: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        &[
            REVOKE,
            r"
local h = redis.call('HMGET', KEYS[1], 'record', 'family', 'expires', 'used')
if not h[1] then return false end
local now = tonumber(ARGV[2])
if tonumber(h[3]) <= now or redis.call('EXISTS', ARGV[1] .. 'revoked:' .. h[2]) == 1 then return false end
if not h[4] then
  redis.call('HSET', KEYS[1], 'used', ARGV[2])
  return {'rotated', h[1], ARGV[2]}
end
if now - tonumber(h[4]) <= tonumber(ARGV[3]) then return {'grace', h[1], h[4]} end
revoke(ARGV[1], h[2], tonumber(ARGV[4]))
return {'reused', h[1], h[4]}
",
        ]
        .concat(),
    )
});

/// KEYS[1] the token. ARGV: prefix, now. Nil unless live; else {record, used_at or ''}.
static PEEK_REFRESH: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local h = redis.call('HMGET', KEYS[1], 'record', 'family', 'expires', 'used')
if not h[1] then return false end
if tonumber(h[3]) <= tonumber(ARGV[2]) or redis.call('EXISTS', ARGV[1] .. 'revoked:' .. h[2]) == 1 then
  return false
end
return {h[1], h[4] or ''}
",
    )
});

/// ARGV: prefix, family, floor ms.
static REVOKE_FAMILY: LazyLock<Script> =
    LazyLock::new(|| Script::new(&[REVOKE, "revoke(ARGV[1], ARGV[2], tonumber(ARGV[3]))\nreturn 1\n"].concat()));

/// KEYS[1] the keys, KEYS[2] the retirement times. ARGV: kid, record, created_at,
/// '1' to retire the others.
static ADD_KEY: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
if ARGV[4] == '1' then
  for _, kid in ipairs(redis.call('HKEYS', KEYS[1])) do
    if kid ~= ARGV[1] then redis.call('HSETNX', KEYS[2], kid, ARGV[3]) end
  end
end
redis.call('HDEL', KEYS[2], ARGV[1])
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return 1
",
    )
});

/// KEYS[1] the secret. ARGV[1] the candidate. Set if absent, then read.
static SECRET: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
redis.call('SET', KEYS[1], ARGV[1], 'NX')
return redis.call('GET', KEYS[1])
",
    )
});

impl RedisAuthStore {
    /// Connect (and reconnect as needed) to the Redis at `url` (`redis://` or, with the
    /// redis crate's TLS features, `rediss://`).
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let (_, conn) = crate::redis_store::connect(url).await.map_err(StoreError)?;
        Ok(Self::with_connection(conn))
    }

    /// Share the connection of the session store [`RedisStore`](crate::RedisStore).
    pub fn from_session_store(sessions: &crate::RedisStore) -> Self {
        Self::with_connection(sessions.connection())
    }

    fn with_connection(conn: ConnectionManager) -> Self {
        RedisAuthStore { conn, prefix: "mcp:auth:".into(), max_pending: 50_000 }
    }

    /// Key prefix (default `mcp:auth:`), to share one Redis between apps. Every replica
    /// of one app must use the same.
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// How many sign-ins may be in progress at once, across replicas (default 50,000; each
    /// `GET /authorize` starts one, kept 10 minutes), so strangers cannot fill the Redis.
    pub fn max_pending(mut self, n: u64) -> Self {
        self.max_pending = n.max(1);
        self
    }

    fn key(&self, kind: &str, id: &str) -> String {
        format!("{}{kind}:{id}", self.prefix)
    }

    fn conn(&self) -> ConnectionManager {
        self.conn.clone()
    }

    async fn get_json<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>, StoreError> {
        let raw: Option<String> = self.conn().get(key).await.map_err(err)?;
        raw.map(|json| from_json(key, &json)).transpose()
    }

    /// A refresh record from a script's answer: its JSON and when it was spent.
    fn refresh_record(&self, token: &Digest, json: &str, used: &str) -> Result<Refresh, StoreError> {
        let key = self.key("refresh", &token.0);
        let mut record: Refresh = from_json(&key, json)?;
        record.used_at = match used {
            "" => None,
            t => Some(t.parse().map_err(|_| StoreError(format!("`{key}` has a bad `used` field `{t}`")))?),
        };
        Ok(record)
    }
}

impl AuthStore for RedisAuthStore {
    fn put_client<'a>(&'a self, client: &'a Client) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let json = to_json(client)?;
            let _: () = self.conn().set(self.key("client", &client.client_id), json).await.map_err(err)?;
            Ok(())
        })
    }

    fn client<'a>(&'a self, client_id: &'a str) -> StoreFuture<'a, Option<Client>> {
        Box::pin(async move { self.get_json(&self.key("client", client_id)).await })
    }

    fn put_pending<'a>(&'a self, id: &'a Digest, pending: &'a Pending) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let now_ms = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
            let stored: i64 = PUT_PENDING
                .key(self.key("pending", &id.0))
                .key(format!("{}pending-index", self.prefix))
                .arg(to_json(pending)?)
                .arg(ttl_ms(pending.expires_at, MARGIN))
                .arg(now_ms)
                .arg(self.max_pending)
                .invoke_async(&mut self.conn())
                .await
                .map_err(err)?;
            if stored == 0 {
                return Err(StoreError(format!("{} sign-ins are in progress; try again later", self.max_pending)));
            }
            Ok(())
        })
    }

    fn pending<'a>(&'a self, id: &'a Digest, now: u64) -> StoreFuture<'a, Option<Pending>> {
        Box::pin(async move {
            let p: Option<Pending> = self.get_json(&self.key("pending", &id.0)).await?;
            Ok(p.filter(|p| p.expires_at > now))
        })
    }

    fn remove_pending<'a>(&'a self, id: &'a Digest) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let key = self.key("pending", &id.0);
            let _: () = redis::pipe()
                .atomic()
                .del(&key)
                .ignore()
                .zrem(format!("{}pending-index", self.prefix), &key)
                .ignore()
                .query_async(&mut self.conn())
                .await
                .map_err(err)?;
            Ok(())
        })
    }

    fn put_code<'a>(&'a self, code: &'a Digest, record: &'a Code) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let key = self.key("code", &code.0);
            let json = to_json(record)?;
            let ttl = i64::try_from(ttl_ms(record.expires_at, SPENT_CODE_MEMORY)).unwrap_or(i64::MAX);
            let _: () = redis::pipe()
                .atomic()
                .del(&key)
                .ignore()
                .hset(&key, "record", json)
                .ignore()
                .pexpire(&key, ttl)
                .ignore()
                .query_async(&mut self.conn())
                .await
                .map_err(err)?;
            Ok(())
        })
    }

    fn take_code<'a>(&'a self, code: &'a Digest, _now: u64) -> StoreFuture<'a, CodeUse> {
        Box::pin(async move {
            let key = self.key("code", &code.0);
            let found: Option<(i64, String)> = TAKE_CODE.key(&key).invoke_async(&mut self.conn()).await.map_err(err)?;
            Ok(match found {
                None => CodeUse::Unknown,
                Some((1, json)) => CodeUse::Fresh(from_json(&key, &json)?),
                Some((_, json)) => CodeUse::Replayed(from_json(&key, &json)?),
            })
        })
    }

    fn put_refresh<'a>(&'a self, token: &'a Digest, record: &'a Refresh) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let family = &record.grant.family;
            let stored = Refresh { used_at: None, ..record.clone() };
            let _: i64 = PUT_REFRESH
                .key(self.key("refresh", &token.0))
                .key(self.key("family", family))
                .key(self.key("revoked", family))
                .arg(to_json(&stored)?)
                .arg(family)
                .arg(record.expires_at)
                .arg(ttl_ms(record.expires_at, MARGIN))
                .arg(&token.0)
                .arg(record.used_at.map_or_else(String::new, |t| t.to_string()))
                .invoke_async(&mut self.conn())
                .await
                .map_err(err)?;
            Ok(())
        })
    }

    fn use_refresh<'a>(&'a self, token: &'a Digest, now: u64, grace: u64) -> StoreFuture<'a, RefreshUse> {
        Box::pin(async move {
            let found: Option<(String, String, String)> = USE_REFRESH
                .key(self.key("refresh", &token.0))
                .arg(&self.prefix)
                .arg(now)
                .arg(grace)
                .arg(REVOKED_FAMILY_MEMORY * 1000)
                .invoke_async(&mut self.conn())
                .await
                .map_err(err)?;
            let Some((outcome, json, used)) = found else { return Ok(RefreshUse::Unknown) };
            let record = self.refresh_record(token, &json, &used)?;
            Ok(match outcome.as_str() {
                "rotated" => RefreshUse::Rotated(record),
                "grace" => RefreshUse::Grace(record),
                _ => RefreshUse::Reused(record),
            })
        })
    }

    fn refresh<'a>(&'a self, token: &'a Digest, now: u64) -> StoreFuture<'a, Option<Refresh>> {
        Box::pin(async move {
            let found: Option<(String, String)> = PEEK_REFRESH
                .key(self.key("refresh", &token.0))
                .arg(&self.prefix)
                .arg(now)
                .invoke_async(&mut self.conn())
                .await
                .map_err(err)?;
            found.map(|(json, used)| self.refresh_record(token, &json, &used)).transpose()
        })
    }

    fn revoke_family<'a>(&'a self, family: &'a str) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let _: i64 = REVOKE_FAMILY
                .arg(&self.prefix)
                .arg(family)
                .arg(REVOKED_FAMILY_MEMORY * 1000)
                .invoke_async(&mut self.conn())
                .await
                .map_err(err)?;
            Ok(())
        })
    }

    fn consent<'a>(&'a self, subject: &'a str, client_id: &'a str) -> StoreFuture<'a, Option<Vec<String>>> {
        Box::pin(async move {
            let key = self.key("consent", subject);
            let raw: Option<String> = self.conn().hget(&key, client_id).await.map_err(err)?;
            raw.map(|json| from_json(&key, &json)).transpose()
        })
    }

    fn put_consent<'a>(&'a self, subject: &'a str, client_id: &'a str, scopes: &'a [String]) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let json = to_json(&scopes)?;
            let _: () = self.conn().hset(self.key("consent", subject), client_id, json).await.map_err(err)?;
            Ok(())
        })
    }

    fn revoke_consent<'a>(&'a self, subject: &'a str, client_id: &'a str) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let _: () = self.conn().hdel(self.key("consent", subject), client_id).await.map_err(err)?;
            Ok(())
        })
    }

    fn signing_keys(&self) -> StoreFuture<'_, Vec<SigningKey>> {
        Box::pin(async move {
            let keys_key = format!("{}keys", self.prefix);
            let (records, retired): (HashMap<String, String>, HashMap<String, u64>) = redis::pipe()
                .atomic()
                .hgetall(&keys_key)
                .hgetall(format!("{}keys:retired", self.prefix))
                .query_async(&mut self.conn())
                .await
                .map_err(err)?;
            let mut keys = records
                .into_iter()
                .map(|(kid, json)| {
                    let mut key: SigningKey = from_json(&format!("{keys_key} {kid}"), &json)?;
                    key.retired_at = key.retired_at.or_else(|| retired.get(&kid).copied());
                    Ok(key)
                })
                .collect::<Result<Vec<_>, StoreError>>()?;
            keys.sort_by(|a, b| (a.created_at, &a.kid).cmp(&(b.created_at, &b.kid)));
            Ok(keys)
        })
    }

    fn add_signing_key<'a>(&'a self, key: &'a SigningKey, retire_others: bool) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let _: i64 = ADD_KEY
                .key(format!("{}keys", self.prefix))
                .key(format!("{}keys:retired", self.prefix))
                .arg(&key.kid)
                .arg(to_json(key)?)
                .arg(key.created_at)
                .arg(if retire_others { "1" } else { "0" })
                .invoke_async(&mut self.conn())
                .await
                .map_err(err)?;
            Ok(())
        })
    }

    fn secret<'a>(&'a self, candidate: &'a [u8; 32]) -> StoreFuture<'a, [u8; 32]> {
        Box::pin(async move {
            let key = format!("{}secret", self.prefix);
            let hex: String = candidate.iter().map(|b| format!("{b:02x}")).collect();
            let stored: String = SECRET.key(&key).arg(hex).invoke_async(&mut self.conn()).await.map_err(err)?;
            let bad = || StoreError(format!("`{key}` does not hold 32 bytes in hex; delete it to make a new one"));
            if stored.len() != 64 || !stored.is_ascii() {
                return Err(bad());
            }
            let mut secret = [0u8; 32];
            for (i, byte) in secret.iter_mut().enumerate() {
                *byte = u8::from_str_radix(&stored[2 * i..2 * i + 2], 16).map_err(|_| bad())?;
            }
            Ok(secret)
        })
    }
}
