//! Protocol versions and what each one allows.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A protocol version this crate speaks.
///
/// Versions up to 2025-11-25 are *legacy*: a client opens a session with `initialize`.
/// 2026-07-28 is *modern*: stateless, every request carries its version in `_meta`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum ProtocolVersion {
    /// 2025-03-26: streamable HTTP, tool annotations, audio, batches.
    V2025_03_26,
    /// 2025-06-18: structured tool output, elicitation, resource links, titles.
    V2025_06_18,
    /// 2025-11-25: icons, URL elicitation, sampling with tools.
    V2025_11_25,
    /// 2026-07-28: stateless, `server/discover`, `resultType`, caching hints, MRTR.
    V2026_07_28,
}

impl ProtocolVersion {
    /// Every supported version, oldest first.
    pub const ALL: [ProtocolVersion; 4] = [
        ProtocolVersion::V2025_03_26,
        ProtocolVersion::V2025_06_18,
        ProtocolVersion::V2025_11_25,
        ProtocolVersion::V2026_07_28,
    ];
    /// The newest version.
    pub const LATEST: ProtocolVersion = ProtocolVersion::V2026_07_28;
    /// The newest session-based version, answered to an `initialize` asking for an
    /// unknown version.
    pub const LATEST_LEGACY: ProtocolVersion = ProtocolVersion::V2025_11_25;
    /// The version assumed when an HTTP client sends no `MCP-Protocol-Version` header.
    pub const DEFAULT_LEGACY: ProtocolVersion = ProtocolVersion::V2025_03_26;

    /// The wire form, for example `"2025-06-18"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            ProtocolVersion::V2025_03_26 => "2025-03-26",
            ProtocolVersion::V2025_06_18 => "2025-06-18",
            ProtocolVersion::V2025_11_25 => "2025-11-25",
            ProtocolVersion::V2026_07_28 => "2026-07-28",
        }
    }

    /// Parse the wire form; `None` for versions we do not speak.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.as_str() == s)
    }

    /// Stateless, per-request `_meta` era (2026-07-28 and later).
    pub const fn is_modern(self) -> bool {
        matches!(self, ProtocolVersion::V2026_07_28)
    }

    /// Session (`initialize`) era.
    pub const fn is_legacy(self) -> bool {
        !self.is_modern()
    }

    /// JSON-RPC batches are allowed (2025-03-26 only).
    pub const fn allows_batches(self) -> bool {
        matches!(self, ProtocolVersion::V2025_03_26)
    }

    /// `structuredContent`, `outputSchema`, `title`, `resource_link` and elicitation
    /// exist (2025-06-18 and later).
    pub const fn has_structured_output(self) -> bool {
        !matches!(self, ProtocolVersion::V2025_03_26)
    }

    /// `icons`, `Implementation.description`/`websiteUrl` exist (2025-11-25 and later).
    pub const fn has_icons(self) -> bool {
        matches!(self, ProtocolVersion::V2025_11_25 | ProtocolVersion::V2026_07_28)
    }

    /// `structuredContent` may be any JSON value rather than an object (2026-07-28).
    pub const fn allows_non_object_structured_content(self) -> bool {
        self.is_modern()
    }

    /// Results carry `resultType`, lists and reads carry `ttlMs`/`cacheScope` (2026-07-28).
    pub const fn has_result_type(self) -> bool {
        self.is_modern()
    }

    /// Resource-not-found is -32602 (2026-07-28) instead of -32002.
    pub const fn resource_not_found_code(self) -> i32 {
        if self.is_modern() { -32602 } else { -32002 }
    }
}

impl fmt::Display for ProtocolVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Error of [`ProtocolVersion::from_str`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownVersion(pub String);

impl fmt::Display for UnknownVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unsupported protocol version {:?}", self.0)
    }
}

impl std::error::Error for UnknownVersion {}

impl FromStr for ProtocolVersion {
    type Err = UnknownVersion;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s).ok_or_else(|| UnknownVersion(s.to_owned()))
    }
}

impl Serialize for ProtocolVersion {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for ProtocolVersion {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Self::parse(&s).ok_or_else(|| serde::de::Error::custom(UnknownVersion(s.into_owned())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_orders() {
        for v in ProtocolVersion::ALL {
            assert_eq!(v.as_str().parse::<ProtocolVersion>().unwrap(), v);
        }
        assert!(ProtocolVersion::V2025_03_26 < ProtocolVersion::V2026_07_28);
        assert!("2024-11-05".parse::<ProtocolVersion>().is_err());
        assert!(ProtocolVersion::LATEST.is_modern());
        assert!(ProtocolVersion::LATEST_LEGACY.is_legacy());
    }
}
