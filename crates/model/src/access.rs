//! Who may do what through the API: the roles a bearer token carries.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// A token's role. Each role may do everything the ones before it may.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Reads status, traffic, attacks, detections and the audit log.
    Viewer,
    /// Also acts: approves or withdraws mitigations, writes indicators.
    Analyst,
    /// Also manages tokens and configuration.
    Admin,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Viewer, Role::Analyst, Role::Admin];

    pub const fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Analyst => "analyst",
            Role::Admin => "admin",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| format!("unknown role `{s}` (viewer, analyst or admin)"))
    }
}
