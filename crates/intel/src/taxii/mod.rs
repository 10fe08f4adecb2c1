//! TAXII 2.1: the media type, the server's configuration (collections with read and write
//! rights per role or token), filters shared by server and client, and both sides: an axum
//! [`server::router`] the daemon mounts, and a polling [`client`].

pub mod client;
pub mod server;

use rampart_model::{Role, Timestamp};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// The media type of every TAXII 2.1 resource.
pub const MEDIA_TYPE: &str = "application/taxii+json;version=2.1";
/// The media type of STIX 2.1 objects in manifests.
pub const STIX_MEDIA_TYPE: &str = "application/stix+json;version=2.1";

/// Who may read or write a collection: everyone with at least a role, or one token by name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Access {
    Role(Role),
    Token(String),
}

impl Access {
    pub fn allows(&self, p: &Principal) -> bool {
        match self {
            Access::Role(r) => p.role >= *r,
            Access::Token(n) => *n == p.name,
        }
    }
}

impl FromStr for Access {
    type Err = String;
    /// `viewer`, `role:analyst`, `token:partner-a`.
    fn from_str(s: &str) -> Result<Self, String> {
        if let Some(name) = s.strip_prefix("token:") {
            if name.is_empty() {
                return Err("`token:` needs a token name".into());
            }
            return Ok(Access::Token(name.into()));
        }
        s.strip_prefix("role:")
            .unwrap_or(s)
            .parse()
            .map(Access::Role)
    }
}

impl fmt::Display for Access {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Access::Role(r) => write!(f, "role:{r}"),
            Access::Token(n) => write!(f, "token:{n}"),
        }
    }
}

impl Serialize for Access {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Access {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// A caller, as the daemon's token check names it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Principal {
    pub name: String,
    pub role: Role,
}

/// One collection the server offers.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CollectionConfig {
    /// Its id in URLs (a UUID is customary).
    pub id: String,
    pub title: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub alias: Option<String>,
    /// Who may read (GET objects, manifest, versions).
    #[serde(default = "default_readers")]
    pub readers: Vec<Access>,
    /// Who may add objects.
    #[serde(default = "default_writers")]
    pub writers: Vec<Access>,
}

fn default_readers() -> Vec<Access> {
    vec![Access::Role(Role::Viewer)]
}

fn default_writers() -> Vec<Access> {
    vec![Access::Role(Role::Analyst)]
}

/// The id of the default collection, "rampart-indicators".
pub fn default_collection_id() -> String {
    crate::stix::derived_id("collection", "rampart-indicators")
        .trim_start_matches("collection--")
        .to_string()
}

impl CollectionConfig {
    pub fn can_read(&self, p: &Principal) -> bool {
        self.readers.iter().any(|a| a.allows(p))
    }
    pub fn can_write(&self, p: &Principal) -> bool {
        self.writers.iter().any(|a| a.allows(p))
    }
}

/// The TAXII server's settings (`[intel.taxii]`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TaxiiConfig {
    pub title: String,
    pub description: String,
    pub contact: Option<String>,
    /// Where the router is mounted: every route starts with it.
    pub path: String,
    /// The URL peers reach us at (`https://rampart.example`), for the absolute URLs in
    /// discovery; without it they are built from the request's Host header.
    pub public_url: Option<String>,
    /// Largest page; a client asking for more gets this many.
    pub max_page: usize,
    /// Largest POST body.
    pub max_body_bytes: usize,
    pub collections: Vec<CollectionConfig>,
}

impl Default for TaxiiConfig {
    fn default() -> Self {
        TaxiiConfig {
            title: "Rampart TAXII".into(),
            description: "Indicators shared by Rampart".into(),
            contact: None,
            path: "/taxii2".into(),
            public_url: None,
            max_page: 1000,
            max_body_bytes: 16 << 20,
            collections: vec![CollectionConfig {
                id: default_collection_id(),
                title: "rampart-indicators".into(),
                description: "Indicators Rampart found and shares, and those partners add".into(),
                alias: Some("rampart-indicators".into()),
                readers: default_readers(),
                writers: default_writers(),
            }],
        }
    }
}

impl TaxiiConfig {
    /// Checks ids and paths.
    pub fn validate(&self) -> Result<(), String> {
        if !self.path.starts_with('/') || self.path.ends_with('/') && self.path.len() > 1 {
            return Err(format!(
                "intel.taxii.path `{}` must start with / and not end with one",
                self.path
            ));
        }
        let mut seen = std::collections::HashSet::new();
        for c in &self.collections {
            if c.id.is_empty()
                || !c
                    .id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            {
                return Err(format!(
                    "collection id `{}` must be letters, digits, - or _",
                    c.id
                ));
            }
            if !seen.insert(&c.id) {
                return Err(format!("collection id `{}` is listed twice", c.id));
            }
        }
        if self.max_page == 0 {
            return Err("intel.taxii.max_page must be at least 1".into());
        }
        Ok(())
    }
}

/// `match[version]` values: `last`, `first`, `all`, or timestamps.
pub fn parse_versions(v: &str) -> Result<crate::store::VersionFilter, String> {
    let mut f = crate::store::VersionFilter::default();
    for part in v.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        match part {
            "last" => f.last = true,
            "first" => f.first = true,
            "all" => f.all = true,
            t => f.exact.push(
                t.parse::<Timestamp>()
                    .map_err(|e| format!("match[version]: {e}"))?,
            ),
        }
    }
    Ok(f)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn access_rules() {
        let analyst = Principal {
            name: "a".into(),
            role: Role::Analyst,
        };
        assert!("viewer".parse::<Access>().unwrap().allows(&analyst));
        assert!(!"role:admin".parse::<Access>().unwrap().allows(&analyst));
        assert!("token:a".parse::<Access>().unwrap().allows(&analyst));
        assert!(!"token:b".parse::<Access>().unwrap().allows(&analyst));
        assert!("token:".parse::<Access>().is_err());
        assert!("boss".parse::<Access>().is_err());
        let c = TaxiiConfig::default();
        c.validate().unwrap();
        assert_eq!(c.collections[0].id, default_collection_id());
        assert!(parse_versions("first,2026-01-01T00:00:00Z").unwrap().first);
        assert!(parse_versions("yesterday").is_err());
    }
}
