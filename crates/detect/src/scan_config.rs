//! Scan detection settings (`[detect.scan]`), with defaults for a mid-size enterprise edge:
//! a few public /24s whose clients browse the web through NAT and whose servers take
//! connections from anywhere.

use rampart_model::Cidr;
use serde::{Deserialize, Serialize};

/// `[detect.scan]`. Every field has a default; `validate()` after loading.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct ScanConfig {
    /// The protected address space, copied from the top-level `protect` key by the binary.
    /// A probe counts when its destination is protected (inbound); when the list is not
    /// empty, probes from a protected source count too (outbound: one of ours scanning).
    /// Empty protects every destination and counts nothing outbound.
    #[serde(skip)]
    pub protect: Vec<Cidr>,
    /// Distinct destination ports of one host, probed by one source without a positive
    /// answer within `window_s`, that make a vertical scan. 100: a client of one server
    /// uses one or a few ports; nmap's default scan probes 1,000.
    pub ports: u64,
    /// Distinct destination hosts probed by one source without a positive answer within
    /// `window_s`, that make a horizontal scan. 64: a browser behind NAT reaches hundreds
    /// of hosts a minute, but they answer; a sweep of a /24 mostly does not.
    pub hosts: u64,
    /// The counting window, in seconds, starting at a source's first probe (a new window
    /// starts with the first probe after it ends). A scan ends once its source has sent no
    /// probe for this long. 60.
    pub window_s: u64,
    /// Sources counted at once (about 250 bytes each). When full, the least recently
    /// active source is evicted and counted. 65,536: 16 MB.
    pub max_sources: usize,
    /// (source, host) pairs whose ports are counted at once (about 200 bytes each); the
    /// least recently active is evicted and counted. 65,536: 13 MB.
    pub max_pairs: usize,
    /// Scans open at once; more are counted (`scans_dropped`) and not reported. 1,024.
    pub max_scans: usize,
    /// Seed of the hashes of the tables and sketches. Fixed so that runs are reproducible.
    pub hash_seed: u64,
}

impl Default for ScanConfig {
    fn default() -> Self {
        ScanConfig {
            protect: Vec::new(),
            ports: 100,
            hosts: 64,
            window_s: 60,
            max_sources: 65_536,
            max_pairs: 65_536,
            max_scans: 1_024,
            hash_seed: 0x7363_616e_7363_616e,
        }
    }
}

/// The largest `ports` and `hosts` thresholds: distinct counts come from 512-bit linear
/// counting sketches, within ±10% up to about 1,500 and saturating near 3,200.
pub const MAX_SCAN_THRESHOLD: u64 = 1_000;

/// A scan setting that cannot work, named by its config key.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("detect.scan.{key}: {problem}")]
pub struct ScanConfigError {
    pub key: &'static str,
    pub problem: String,
}

impl ScanConfig {
    /// Checks what serde cannot: ranges.
    pub fn validate(&self) -> Result<(), ScanConfigError> {
        let bad = |key: &'static str, problem: String| Err(ScanConfigError { key, problem });
        for (key, v) in [("ports", self.ports), ("hosts", self.hosts)] {
            if !(2..=MAX_SCAN_THRESHOLD).contains(&v) {
                return bad(key, format!("{v} is not in 2..={MAX_SCAN_THRESHOLD}"));
            }
        }
        if !(1..=86_400).contains(&self.window_s) {
            return bad("window_s", format!("{} is not in 1..=86400", self.window_s));
        }
        for (key, v, max) in [
            ("max_sources", self.max_sources, 1 << 24),
            ("max_pairs", self.max_pairs, 1 << 24),
            ("max_scans", self.max_scans, 1 << 16),
        ] {
            if v == 0 || v > max {
                return bad(key, format!("{v} is not in 1..={max}"));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_validate_partial_config_keeps_them_and_errors_name_the_key() {
        ScanConfig::default().validate().unwrap();
        let c: ScanConfig = serde_json::from_str(r#"{"ports": 50, "window_s": 10}"#).unwrap();
        assert_eq!((c.ports, c.hosts, c.window_s), (50, 64, 10));
        assert!(serde_json::from_str::<ScanConfig>(r#"{"port": 1}"#).is_err());
        assert!(serde_json::from_str::<ScanConfig>(r#"{"protect": []}"#).is_err());
        for (c, key) in [
            (
                ScanConfig {
                    ports: 1,
                    ..ScanConfig::default()
                },
                "ports",
            ),
            (
                ScanConfig {
                    hosts: 5_000,
                    ..ScanConfig::default()
                },
                "hosts",
            ),
            (
                ScanConfig {
                    window_s: 0,
                    ..ScanConfig::default()
                },
                "window_s",
            ),
            (
                ScanConfig {
                    max_sources: 0,
                    ..ScanConfig::default()
                },
                "max_sources",
            ),
        ] {
            let e = c.validate().unwrap_err();
            assert_eq!(e.key, key);
            assert!(
                e.to_string().starts_with(&format!("detect.scan.{key}: ")),
                "{e}"
            );
        }
    }
}
