//! BGP communities: standard (RFC 1997) with the well-known values, large (RFC 8092) and
//! extended (RFC 4360, kept as raw bytes; FlowSpec actions are typed in `flowspec`).

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::str::FromStr;

/// A standard community, `asn:value` in two 16-bit halves.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Community(pub u32);

impl Community {
    /// RFC 7999 BLACKHOLE, 65535:666: the receiving network drops traffic to the prefix.
    pub const BLACKHOLE: Community = Community(0xFFFF_029A);
    /// RFC 1997 NO_EXPORT, 65535:65281: not to be sent beyond the receiving AS.
    pub const NO_EXPORT: Community = Community(0xFFFF_FF01);
    /// RFC 1997 NO_ADVERTISE, 65535:65282: not to be sent to any other peer.
    pub const NO_ADVERTISE: Community = Community(0xFFFF_FF02);

    pub const fn new(asn: u16, value: u16) -> Self {
        Community(((asn as u32) << 16) | value as u32)
    }

    pub const fn asn(self) -> u16 {
        (self.0 >> 16) as u16
    }

    pub const fn value(self) -> u16 {
        self.0 as u16
    }
}

impl fmt::Display for Community {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.asn(), self.value())
    }
}

/// A large community, `global:local1:local2`, three 32-bit numbers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LargeCommunity {
    pub global: u32,
    pub local1: u32,
    pub local2: u32,
}

impl LargeCommunity {
    pub const fn new(global: u32, local1: u32, local2: u32) -> Self {
        LargeCommunity {
            global,
            local1,
            local2,
        }
    }
}

impl fmt::Display for LargeCommunity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.global, self.local1, self.local2)
    }
}

/// An extended community as its eight wire bytes (type, subtype, value).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ExtendedCommunity(pub [u8; 8]);

/// A standard or a large community, as written in configuration: `"65535:666"` or
/// `"65001:1:2"`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AnyCommunity {
    Standard(Community),
    Large(LargeCommunity),
}

/// Why a community string was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a community: write asn:value (16-bit each) or a:b:c (32-bit each)")]
pub struct CommunityError(String);

impl FromStr for AnyCommunity {
    type Err = CommunityError;

    fn from_str(s: &str) -> Result<Self, CommunityError> {
        let err = || CommunityError(s.to_owned());
        let parts: Vec<&str> = s.trim().split(':').collect();
        match parts.as_slice() {
            [a, v] => Ok(AnyCommunity::Standard(Community::new(
                a.parse().map_err(|_| err())?,
                v.parse().map_err(|_| err())?,
            ))),
            [g, l1, l2] => Ok(AnyCommunity::Large(LargeCommunity::new(
                g.parse().map_err(|_| err())?,
                l1.parse().map_err(|_| err())?,
                l2.parse().map_err(|_| err())?,
            ))),
            _ => Err(err()),
        }
    }
}

impl fmt::Display for AnyCommunity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AnyCommunity::Standard(c) => c.fmt(f),
            AnyCommunity::Large(c) => c.fmt(f),
        }
    }
}

impl Serialize for AnyCommunity {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for AnyCommunity {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn well_known_values() {
        assert_eq!(Community::BLACKHOLE, Community::new(65535, 666));
        assert_eq!(Community::BLACKHOLE.to_string(), "65535:666");
        assert_eq!(Community::NO_EXPORT.to_string(), "65535:65281");
    }

    #[test]
    fn parses_standard_and_large() {
        assert_eq!(
            "65535:666".parse::<AnyCommunity>().unwrap(),
            AnyCommunity::Standard(Community::BLACKHOLE)
        );
        assert_eq!(
            "4200000001:1:2".parse::<AnyCommunity>().unwrap(),
            AnyCommunity::Large(LargeCommunity::new(4_200_000_001, 1, 2))
        );
        for bad in ["", "65536:1", "1", "1:2:3:4", "a:b", "1:-2"] {
            assert!(bad.parse::<AnyCommunity>().is_err(), "{bad}");
        }
        let v: Vec<AnyCommunity> = serde_json::from_str(r#"["65535:666","1:2:3"]"#).unwrap();
        assert_eq!(
            serde_json::to_string(&v).unwrap(),
            r#"["65535:666","1:2:3"]"#
        );
    }
}
