//! The opaque `requestState` of 2026-07-28 `input_required` results: the answers gathered
//! so far, bound to the caller, the request and an expiry, and protected by HMAC-SHA256
//! so a client can neither forge nor replay it into another request.

use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::protocol::InputResponses;

type HmacSha256 = Hmac<Sha256>;

/// Longest `requestState` accepted or produced.
pub(crate) const MAX_STATE_LEN: usize = 256 * 1024;

#[derive(Serialize, Deserialize)]
struct Payload {
    /// Format version.
    v: u8,
    /// Expiry, Unix seconds.
    exp: u64,
    /// Digest of the request (method, name or URI, arguments).
    d: String,
    /// Subject of the principal, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    p: Option<String>,
    /// Answers gathered in earlier rounds.
    #[serde(default)]
    r: InputResponses,
}

/// The signing key and lifetime.
#[derive(Clone)]
pub(crate) struct StateSigner {
    key: [u8; 32],
    ttl_secs: u64,
}

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

/// What identifies the request a state belongs to (method, name or URI, arguments),
/// hashed only when a state is verified or issued: most requests carry no
/// `requestState` and ask for no input, and hashing every call's arguments showed up as
/// about a tenth of a `tools/call` in the dispatcher's profile.
pub(crate) struct RequestKey {
    bytes: Option<Vec<u8>>,
}

impl RequestKey {
    pub(crate) fn new(method: &str, target: &str, arguments: Option<&Map<String, Value>>) -> Self {
        let mut bytes = Vec::with_capacity(method.len() + target.len() + 64);
        bytes.extend_from_slice(method.as_bytes());
        bytes.push(0);
        bytes.extend_from_slice(target.as_bytes());
        bytes.push(0);
        if let Some(args) = arguments {
            // serde_json maps are ordered by key, so this is canonical.
            let _ = serde_json::to_writer(&mut bytes, args);
        }
        RequestKey { bytes: Some(bytes) }
    }

    /// A key for a request that can neither carry nor produce `requestState` (its
    /// arguments are not worth hashing); its digest is an error.
    pub(crate) fn none() -> Self {
        RequestKey { bytes: None }
    }

    /// The digest carried in the state.
    pub(crate) fn digest(&self) -> Result<String, crate::protocol::ErrorObject> {
        match &self.bytes {
            Some(bytes) => Ok(B64.encode(&Sha256::digest(bytes)[..16])),
            None => Err(crate::protocol::ErrorObject::internal("this request cannot carry `requestState`")),
        }
    }
}

/// A digest identifying the request a state belongs to.
#[cfg(test)]
pub(crate) fn request_digest(method: &str, target: &str, arguments: Option<&Map<String, Value>>) -> String {
    RequestKey::new(method, target, arguments).digest().expect("a key with its arguments has a digest")
}

impl StateSigner {
    pub(crate) fn new(key: [u8; 32], ttl_secs: u64) -> Self {
        StateSigner { key, ttl_secs }
    }

    fn mac(&self) -> HmacSha256 {
        HmacSha256::new_from_slice(&self.key).expect("HMAC takes keys of any length")
    }

    pub(crate) fn issue(
        &self,
        digest: String,
        principal: Option<&str>,
        answers: InputResponses,
    ) -> Result<String, String> {
        let payload = Payload { v: 1, exp: now() + self.ttl_secs, d: digest, p: principal.map(Into::into), r: answers };
        let json = serde_json::to_vec(&payload).map_err(|e| e.to_string())?;
        let mut mac = self.mac();
        mac.update(&json);
        let state = format!("{}.{}", B64.encode(&json), B64.encode(mac.finalize().into_bytes()));
        if state.len() > MAX_STATE_LEN {
            return Err("the answers gathered so far are too large to carry in requestState".into());
        }
        Ok(state)
    }

    pub(crate) fn verify(
        &self,
        state: &str,
        digest: &str,
        principal: Option<&str>,
    ) -> Result<InputResponses, &'static str> {
        if state.len() > MAX_STATE_LEN {
            return Err("requestState is too large");
        }
        let (body, sig) = state.split_once('.').ok_or("requestState is malformed")?;
        let json = B64.decode(body).map_err(|_| "requestState is malformed")?;
        let sig = B64.decode(sig).map_err(|_| "requestState is malformed")?;
        let mut mac = self.mac();
        mac.update(&json);
        mac.verify_slice(&sig).map_err(|_| "requestState failed verification")?;
        let p: Payload = serde_json::from_slice(&json).map_err(|_| "requestState is malformed")?;
        if p.v != 1 {
            return Err("requestState has an unknown format");
        }
        if p.exp < now() {
            return Err("requestState has expired; send the request again without it");
        }
        if p.d != digest {
            return Err("requestState belongs to a different request");
        }
        if p.p.as_deref() != principal {
            return Err("requestState belongs to a different caller");
        }
        Ok(p.r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_tamper() {
        let s = StateSigner::new([7; 32], 60);
        let mut answers = InputResponses::new();
        answers.insert("elicitation-1".into(), serde_json::json!({"action": "accept"}));
        let d = request_digest("tools/call", "x", None);
        let state = s.issue(d.clone(), Some("alice"), answers).unwrap();
        let v = s.verify(&state, &d, Some("alice")).ok().unwrap();
        assert!(v.contains_key("elicitation-1"));
        assert_eq!(s.verify(&state, &d, Some("bob")).err(), Some("requestState belongs to a different caller"));
        let other = request_digest("tools/call", "y", None);
        assert_eq!(s.verify(&state, &other, Some("alice")).err(), Some("requestState belongs to a different request"));
        let mut forged = state.clone();
        forged.replace_range(0..1, if &state[0..1] == "e" { "f" } else { "e" });
        assert!(s.verify(&forged, &d, Some("alice")).is_err());
        let other_key = StateSigner::new([8; 32], 60);
        assert!(other_key.verify(&state, &d, Some("alice")).is_err());
        let expired = StateSigner::new([7; 32], 0);
        let old = expired.issue(d.clone(), None, InputResponses::new()).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(1100));
        assert!(expired.verify(&old, &d, None).is_err());
    }
}
