//! The indicator as Rampart keeps it: STIX 2.1 meaning (pattern, validity, confidence, TLP
//! 2.0 marking, labels) plus where it came from and how often we saw it. Plain data; the
//! matchers, importers and exporters all speak it.

use crate::pattern::{self, Pattern};
use rampart_model::{Cidr, Timestamp};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// One indicator of compromise.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Indicator {
    /// STIX id, `indicator--UUID`.
    pub id: String,
    /// The pattern as the source wrote it.
    pub pattern: String,
    /// `stix` for STIX patterns; other pattern languages (`snort`, `yara`, `sigma`...) are
    /// kept and listed but never matched.
    pub pattern_type: String,
    /// What the pattern means for matching: simple observables, or kept-only.
    #[serde(skip)]
    pub parsed: Pattern,
    /// STIX `indicator_types` (`malicious-activity`, `anomalous-activity`...).
    pub types: Vec<String>,
    /// STIX `labels` and tags from the source.
    pub labels: Vec<String>,
    pub name: Option<String>,
    pub valid_from: Timestamp,
    pub valid_until: Option<Timestamp>,
    /// 0..=100, STIX confidence; `None` when the source says nothing.
    pub confidence: Option<u8>,
    pub tlp: Tlp,
    /// The feed's name (its `[[intel.feeds]]` name, or `taxii:COLLECTION` for objects
    /// posted to our server).
    pub source: String,
    /// False for context only (a MISP attribute with `to_ids` false): listed, never matched.
    pub detect: bool,
    pub created: Timestamp,
    pub modified: Timestamp,
    /// When a feed first and last listed it (our clock).
    pub first_seen: Timestamp,
    pub last_seen: Timestamp,
    /// How many times our own traffic matched it.
    pub sightings: u64,
}

impl Indicator {
    /// An indicator for one observable, as a plain list or MISP attribute gives it.
    pub fn for_observable(
        id: String,
        observable: Observable,
        source: &str,
        now: Timestamp,
        tlp: Tlp,
    ) -> Self {
        let pattern = observable.to_pattern();
        Indicator {
            id,
            pattern,
            pattern_type: "stix".into(),
            parsed: Pattern::Observables(vec![observable]),
            types: vec!["malicious-activity".into()],
            labels: Vec::new(),
            name: None,
            valid_from: now,
            valid_until: None,
            confidence: None,
            tlp,
            source: source.into(),
            detect: true,
            created: now,
            modified: now,
            first_seen: now,
            last_seen: now,
            sightings: 0,
        }
    }

    /// Parses `pattern` into `parsed` (after deserialising, which skips it).
    pub fn reparse(&mut self) {
        self.parsed = if self.pattern_type == "stix" {
            pattern::parse(&self.pattern).unwrap_or_else(|_| Pattern::Other(self.pattern.clone()))
        } else {
            Pattern::Other(self.pattern.clone())
        };
    }

    /// True when matchers should hold it at `now`: meant for detection, matchable, not
    /// expired by its own `valid_until`.
    pub fn is_active(&self, now: Timestamp) -> bool {
        self.detect
            && matches!(self.parsed, Pattern::Observables(_))
            && self.valid_until.is_none_or(|u| u > now)
    }
}

/// A thing a simple pattern names, in the form the matchers compare.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(tag = "kind", content = "value", rename_all = "snake_case")]
pub enum Observable {
    /// An address (full-length prefix) or a network.
    Ip(Cidr),
    /// A domain, lower case, no trailing dot. `subdomains` also matches names under it
    /// (plain domain lists mean that; STIX `=` does not).
    Domain { name: String, subdomains: bool },
    /// A URL with its scheme and host in lower case.
    Url(String),
    /// A file hash, lower-case hex.
    Hash { algo: HashAlgo, hex: String },
}

impl Observable {
    /// The STIX pattern that says this observable.
    pub fn to_pattern(&self) -> String {
        match self {
            Observable::Ip(c) => {
                let t = if c.addr().is_ipv4() {
                    "ipv4-addr"
                } else {
                    "ipv6-addr"
                };
                if c.is_host() {
                    format!("[{t}:value = '{c}']")
                } else {
                    format!("[{t}:value ISSUBSET '{c}']")
                }
            }
            Observable::Domain { name, .. } => {
                format!("[domain-name:value = '{}']", pattern::quote(name))
            }
            Observable::Url(u) => format!("[url:value = '{}']", pattern::quote(u)),
            Observable::Hash { algo, hex } => {
                format!("[file:hashes.'{}' = '{hex}']", algo.stix_name())
            }
        }
    }
}

impl fmt::Display for Observable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Observable::Ip(c) => write!(f, "{c}"),
            Observable::Domain { name, .. } => f.write_str(name),
            Observable::Url(u) => f.write_str(u),
            Observable::Hash { algo, hex } => write!(f, "{}:{hex}", algo.stix_name()),
        }
    }
}

/// File hash algorithms the matchers know.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum HashAlgo {
    Md5,
    Sha1,
    Sha256,
}

impl HashAlgo {
    /// The key in STIX `hashes` (the hash-algorithm-ov vocabulary).
    pub const fn stix_name(self) -> &'static str {
        match self {
            HashAlgo::Md5 => "MD5",
            HashAlgo::Sha1 => "SHA-1",
            HashAlgo::Sha256 => "SHA-256",
        }
    }

    /// Hex digits in a hash of this kind.
    pub const fn hex_len(self) -> usize {
        match self {
            HashAlgo::Md5 => 32,
            HashAlgo::Sha1 => 40,
            HashAlgo::Sha256 => 64,
        }
    }

    /// From a STIX hashes key or a MISP attribute type, in any case, with or without the
    /// hyphen.
    pub fn from_name(s: &str) -> Option<Self> {
        let mut buf = [0u8; 8];
        let mut n = 0;
        for b in s.bytes().filter(|b| *b != b'-' && *b != b'_') {
            if n == buf.len() {
                return None;
            }
            buf[n] = b.to_ascii_lowercase();
            n += 1;
        }
        match &buf[..n] {
            b"md5" => Some(HashAlgo::Md5),
            b"sha1" => Some(HashAlgo::Sha1),
            b"sha256" => Some(HashAlgo::Sha256),
            _ => None,
        }
    }

    /// `hex` in lower case when it is a well-formed hash of this kind.
    pub fn normalize(self, hex: &str) -> Option<String> {
        let hex = hex.trim();
        (hex.len() == self.hex_len() && hex.bytes().all(|b| b.is_ascii_hexdigit()))
            .then(|| hex.to_ascii_lowercase())
    }
}

/// Traffic Light Protocol 2.0: who may see it. Ordered from least to most restricted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Tlp {
    Clear,
    Green,
    #[default]
    Amber,
    AmberStrict,
    Red,
}

/// The TLP 2.0 extension definition that the marking-definition objects use.
pub const TLP2_EXTENSION_ID: &str = "extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d";

impl Tlp {
    pub const ALL: [Tlp; 5] = [
        Tlp::Clear,
        Tlp::Green,
        Tlp::Amber,
        Tlp::AmberStrict,
        Tlp::Red,
    ];

    /// `clear`, `green`, `amber`, `amber+strict`, `red` (the TLP 2.0 extension's values).
    pub const fn as_str(self) -> &'static str {
        match self {
            Tlp::Clear => "clear",
            Tlp::Green => "green",
            Tlp::Amber => "amber",
            Tlp::AmberStrict => "amber+strict",
            Tlp::Red => "red",
        }
    }

    /// The standard TLP 2.0 marking-definition id (OASIS cti-stix-common-objects).
    pub const fn marking_id(self) -> &'static str {
        match self {
            Tlp::Clear => "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487",
            Tlp::Green => "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb",
            Tlp::Amber => "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421",
            Tlp::AmberStrict => "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003",
            Tlp::Red => "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1",
        }
    }

    /// The level a marking-definition id stands for: TLP 2.0 ids, and the TLP 1.0 ids
    /// STIX 2.1 predefines (white reads as clear).
    pub fn from_marking_id(id: &str) -> Option<Self> {
        const TLP1: [(&str, Tlp); 4] = [
            (
                "marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9",
                Tlp::Clear,
            ),
            (
                "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da",
                Tlp::Green,
            ),
            (
                "marking-definition--f88d31f6-486f-44da-b317-01333bde0b82",
                Tlp::Amber,
            ),
            (
                "marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed",
                Tlp::Red,
            ),
        ];
        Tlp::ALL
            .into_iter()
            .find(|t| t.marking_id() == id)
            .or_else(|| TLP1.iter().find(|(i, _)| *i == id).map(|(_, t)| *t))
    }

    /// The TLP 2.0 marking-definition object itself (STIX 2.1 does not predefine these, so
    /// a bundle that references one carries it).
    pub fn marking_object(self) -> serde_json::Value {
        serde_json::json!({
            "type": "marking-definition",
            "spec_version": "2.1",
            "id": self.marking_id(),
            "created": "2022-10-01T00:00:00.000Z",
            "name": format!("TLP:{}", self.as_str().to_ascii_uppercase()),
            "extensions": {
                TLP2_EXTENSION_ID: {
                    "extension_type": "property-extension",
                    "tlp_2_0": self.as_str(),
                }
            }
        })
    }
}

impl fmt::Display for Tlp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Tlp {
    type Err = String;

    /// `amber`, `TLP:AMBER`, `tlp:amber+strict`, `white` (TLP 1.0, read as clear).
    fn from_str(s: &str) -> Result<Self, String> {
        let l = s.trim().to_ascii_lowercase();
        let l = l.strip_prefix("tlp:").unwrap_or(&l);
        match l {
            "clear" | "white" => Ok(Tlp::Clear),
            "green" => Ok(Tlp::Green),
            "amber" => Ok(Tlp::Amber),
            "amber+strict" | "amber-strict" => Ok(Tlp::AmberStrict),
            "red" => Ok(Tlp::Red),
            _ => Err(format!(
                "unknown TLP `{s}` (clear, green, amber, amber+strict or red)"
            )),
        }
    }
}

impl Serialize for Tlp {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Tlp {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tlp_names_and_ids() {
        for t in Tlp::ALL {
            assert_eq!(t.as_str().parse::<Tlp>(), Ok(t));
            assert_eq!(Tlp::from_marking_id(t.marking_id()), Some(t));
        }
        assert_eq!("TLP:WHITE".parse::<Tlp>(), Ok(Tlp::Clear));
        assert_eq!(
            Tlp::from_marking_id("marking-definition--f88d31f6-486f-44da-b317-01333bde0b82"),
            Some(Tlp::Amber)
        );
        assert!(Tlp::Green < Tlp::Red);
        assert!("purple".parse::<Tlp>().is_err());
    }

    #[test]
    fn hash_names() {
        assert_eq!(HashAlgo::from_name("SHA-256"), Some(HashAlgo::Sha256));
        assert_eq!(HashAlgo::from_name("sha1"), Some(HashAlgo::Sha1));
        assert_eq!(HashAlgo::from_name("md5"), Some(HashAlgo::Md5));
        assert_eq!(HashAlgo::from_name("sha-3-256"), None);
        assert_eq!(HashAlgo::from_name("averyveryverylongname"), None);
        assert!(HashAlgo::Md5
            .normalize("D41D8CD98F00B204E9800998ECF8427E")
            .is_some());
        assert!(HashAlgo::Md5.normalize("xyz").is_none());
    }

    #[test]
    fn observable_patterns() {
        let ip = Observable::Ip("203.0.113.5".parse().unwrap());
        assert_eq!(ip.to_pattern(), "[ipv4-addr:value = '203.0.113.5']");
        let net = Observable::Ip("2001:db8::/32".parse().unwrap());
        assert_eq!(
            net.to_pattern(),
            "[ipv6-addr:value ISSUBSET '2001:db8::/32']"
        );
        let d = Observable::Domain {
            name: "it's.example".into(),
            subdomains: false,
        };
        assert_eq!(d.to_pattern(), r"[domain-name:value = 'it\'s.example']");
    }
}
