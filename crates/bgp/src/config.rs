//! Configuration of the speaker: `[respond.bgp]` and its `[[respond.bgp.peers]]`, read with
//! serde (unknown keys refused) and checked by `validate` before anything connects.

use crate::family::Family;
use crate::session::SessionConfig;
use serde::{Deserialize, Serialize};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

/// `[respond.bgp]`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BgpConfig {
    /// Where passive peers connect to us, e.g. `"0.0.0.0:179"`. Needed only when a peer
    /// has `passive = true`.
    #[serde(default)]
    pub listen: Option<SocketAddr>,
    /// What happens to our routes when the daemon stops: `"withdraw"` (default) sends a
    /// withdrawal for every active route and closes with Cease; `"keep"` advertises
    /// graceful restart (RFC 4724) and closes without a NOTIFICATION, so peers that help
    /// with graceful restart keep the routes for `graceful_restart_s` until we are back.
    #[serde(default)]
    pub on_shutdown: ShutdownPolicy,
    /// Restart time advertised with `on_shutdown = "keep"`, in seconds (1..=4095).
    #[serde(default = "default_restart")]
    pub graceful_restart_s: u16,
    /// The routers we announce to.
    #[serde(default)]
    pub peers: Vec<PeerConfig>,
}

impl Default for BgpConfig {
    fn default() -> Self {
        BgpConfig {
            listen: None,
            on_shutdown: ShutdownPolicy::default(),
            graceful_restart_s: default_restart(),
            peers: Vec::new(),
        }
    }
}

/// See [`BgpConfig::on_shutdown`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ShutdownPolicy {
    #[default]
    Withdraw,
    Keep,
}

/// One `[[respond.bgp.peers]]` entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PeerConfig {
    /// The peer's address.
    pub address: IpAddr,
    /// The peer's TCP port (when we connect).
    #[serde(default = "default_port")]
    pub port: u16,
    pub peer_as: u32,
    pub local_as: u32,
    /// Our BGP identifier.
    pub router_id: Ipv4Addr,
    /// `"ipv4"`, `"ipv6"`, `"flow4"`, `"flow6"`; all four by default.
    #[serde(default = "default_families")]
    pub families: Vec<Family>,
    /// Hold time we propose, in seconds: 0 (none) or 3..=65535. The lower of ours and the
    /// peer's is used; keepalives go every third of it.
    #[serde(default = "default_hold")]
    pub hold_time_s: u16,
    /// Wait for the peer to connect to `listen` instead of connecting to it.
    #[serde(default)]
    pub passive: bool,
    /// First wait before reconnecting, in seconds; doubled after each failure up to 60 s
    /// (or this value, if larger), back to the start once a session is up.
    #[serde(default = "default_retry")]
    pub connect_retry_s: u32,
    /// Local address to connect from (bind), when the peer expects a particular one.
    #[serde(default)]
    pub local_address: Option<IpAddr>,
}

fn default_port() -> u16 {
    179
}
fn default_families() -> Vec<Family> {
    Family::ALL.to_vec()
}
fn default_hold() -> u16 {
    90
}
fn default_retry() -> u32 {
    5
}
fn default_restart() -> u16 {
    120
}

/// A configuration that cannot work, with the peer and key it is about.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("respond.bgp{where_}: {problem}")]
pub struct ConfigError {
    where_: String,
    problem: String,
}

impl ConfigError {
    fn peer(p: &PeerConfig, key: &str, problem: impl Into<String>) -> Self {
        ConfigError {
            where_: format!(".peers[{}:{}].{key}", p.address, p.port),
            problem: problem.into(),
        }
    }
    fn top(key: &str, problem: impl Into<String>) -> Self {
        ConfigError {
            where_: format!(".{key}"),
            problem: problem.into(),
        }
    }
}

impl BgpConfig {
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.on_shutdown == ShutdownPolicy::Keep
            && !(1..=4095).contains(&self.graceful_restart_s)
        {
            return Err(ConfigError::top(
                "graceful_restart_s",
                "must be 1..=4095 with on_shutdown = \"keep\"",
            ));
        }
        for (i, p) in self.peers.iter().enumerate() {
            p.validate()?;
            if p.passive && self.listen.is_none() {
                return Err(ConfigError::peer(
                    p,
                    "passive",
                    "a passive peer needs respond.bgp.listen",
                ));
            }
            let same = |q: &&PeerConfig| q.address == p.address && (q.port == p.port || p.passive);
            if self.peers[..i].iter().any(|q| same(&q)) {
                return Err(ConfigError::peer(p, "address", "peer listed twice"));
            }
        }
        Ok(())
    }

    /// The session settings for peer `p` under this configuration.
    pub fn session_config(&self, p: &PeerConfig) -> SessionConfig {
        SessionConfig {
            local_as: p.local_as,
            peer_as: p.peer_as,
            router_id: p.router_id,
            hold_time: p.hold_time_s,
            families: p.families.clone(),
            graceful_restart: (self.on_shutdown == ShutdownPolicy::Keep)
                .then_some(self.graceful_restart_s),
        }
    }
}

impl PeerConfig {
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.hold_time_s == 1 || self.hold_time_s == 2 {
            return Err(ConfigError::peer(
                self,
                "hold_time_s",
                "must be 0 or at least 3 (RFC 4271)",
            ));
        }
        if self.local_as == 0 || self.peer_as == 0 {
            return Err(ConfigError::peer(
                self,
                "local_as",
                "AS numbers must not be 0",
            ));
        }
        if self.router_id.is_unspecified() {
            return Err(ConfigError::peer(self, "router_id", "must not be 0.0.0.0"));
        }
        if self.families.is_empty() {
            return Err(ConfigError::peer(
                self,
                "families",
                "name at least one of ipv4, ipv6, flow4, flow6",
            ));
        }
        if self.connect_retry_s == 0 {
            return Err(ConfigError::peer(
                self,
                "connect_retry_s",
                "must be at least 1",
            ));
        }
        if let Some(l) = self.local_address {
            if l.is_ipv4() != self.address.is_ipv4() {
                return Err(ConfigError::peer(
                    self,
                    "local_address",
                    "not of the peer address's family",
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interfaces_md_example_parses_with_defaults() {
        let c: BgpConfig = toml::from_str(
            r#"
            [[peers]]
            address = "127.0.0.2"
            port = 179
            peer_as = 65002
            local_as = 65001
            router_id = "127.0.0.1"
            families = ["ipv4", "ipv6", "flow4", "flow6"]
            "#,
        )
        .unwrap();
        c.validate().unwrap();
        let p = &c.peers[0];
        assert_eq!(p.hold_time_s, 90);
        assert!(!p.passive);
        assert_eq!(p.connect_retry_s, 5);
        assert_eq!(p.families, Family::ALL.to_vec());
        assert_eq!(c.on_shutdown, ShutdownPolicy::Withdraw);
        assert_eq!(c.session_config(p).graceful_restart, None);
    }

    #[test]
    fn refuses_unknown_keys_and_bad_values() {
        let base = r#"address = "127.0.0.2"
            peer_as = 65002
            local_as = 65001
            router_id = "127.0.0.1""#;
        let parse =
            |extra: &str| toml::from_str::<BgpConfig>(&format!("[[peers]]\n{base}\n{extra}"));
        assert!(parse("colour = 1").is_err());
        assert!(parse("families = [\"ipv5\"]").is_err());
        let e = parse("hold_time_s = 2").unwrap().validate().unwrap_err();
        assert_eq!(
            e.to_string(),
            "respond.bgp.peers[127.0.0.2:179].hold_time_s: must be 0 or at least 3 (RFC 4271)"
        );
        assert!(parse("passive = true").unwrap().validate().is_err());
        assert!(parse("families = []").unwrap().validate().is_err());
        assert!(parse("local_address = \"::1\"")
            .unwrap()
            .validate()
            .is_err());
        let keep: BgpConfig = toml::from_str(&format!(
            "on_shutdown = \"keep\"\ngraceful_restart_s = 0\n[[peers]]\n{base}"
        ))
        .unwrap();
        assert!(keep.validate().is_err());
    }
}
