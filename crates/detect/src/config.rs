//! DDoS detection settings (`[detect.ddos]`), with defaults sized for a mid-size enterprise
//! edge: 1–10 Gbit/s uplinks, a few public /24s, web, mail, VPN and DNS servers behind them.

use rampart_model::{Cidr, DdosVector};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// `[detect.ddos]`. Every field has a default; `validate()` after loading.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct DdosConfig {
    /// The protected address space. Traffic toward it is counted inbound per destination and
    /// traffic from it outbound per source. Empty (the default) protects every destination
    /// and counts nothing outbound: "every address is ours" would make each reflector and
    /// each busy server on the Internet an outbound attacker. Not a key of its own: every
    /// detector shares the top-level `protect` list, which the binary copies here.
    #[serde(skip)]
    pub protect: Vec<Cidr>,
    /// Packets/s toward (or from) one protected address that make an attack. 20,000 by
    /// default: well above what one enterprise server sees, a tenth of a small flood.
    pub host_pps: u64,
    /// Bits/s toward (or from) one protected address that make an attack. 1 Gbit/s.
    pub host_bps: u64,
    /// Packets/s toward one protected prefix (carpet bombing). 100,000.
    pub prefix_pps: u64,
    /// Bits/s toward one protected prefix. 2 Gbit/s; set it near your uplink's capacity.
    pub prefix_bps: u64,
    /// Length of the IPv4 prefixes traffic is also summed over. 24.
    pub prefix_len_v4: u8,
    /// Length of the IPv6 prefixes traffic is also summed over. 64.
    pub prefix_len_v6: u8,
    /// Per-vector packets/s thresholds toward one address, below `host_pps` for traffic
    /// that is rarely legitimate in bulk. 0 disables a vector's own threshold.
    pub vector_pps: VectorThresholds,
    /// Evaluation period in milliseconds: one of 100, 125, 200, 250, 500, 1000. Rates are
    /// always taken over a sliding 1 s window made of 1000 / `tick_ms` slots. 100.
    pub tick_ms: u64,
    /// An attack ends once every rate is below this fraction of its threshold... 0.5.
    pub end_ratio: f64,
    /// ...for this many seconds in a row. 10.
    pub end_after_s: u64,
    /// Flow records whose end lies further than this before the detector's clock are
    /// dropped and counted (`records_too_late`). Flow exporters send records up to their
    /// inactive and active timeouts late, so this is a minute by default.
    pub max_lateness_s: u64,
    /// Protected addresses tracked at once, per direction and address family. The least
    /// recently active one is evicted (and counted) to make room. 1,000,000: at most 97
    /// bytes each for IPv4 (counters and index), 109 for IPv6, so about 97 MB for a million
    /// IPv4 addresses in one direction. Memory grows with the addresses seen, not ahead.
    pub max_hosts: usize,
    /// Protected prefixes tracked at once, per direction and address family. 65,536.
    pub max_prefixes: usize,
    /// Addresses and prefixes watched closely at once (per-vector counters, top sources
    /// and ports, packet sizes, TTLs: about 2.7 KiB each). 4,096; at most 65,535.
    pub max_watched: usize,
    /// Attacks open at once; more are counted (`attacks_dropped`) and not reported. 1,024.
    pub max_attacks: usize,
    /// An address or prefix is watched closely once its rate passes this fraction of its
    /// lowest threshold, so that the vector is known by the time an attack starts. 0.3.
    pub watch_ratio: f64,
    /// Seed of the hash of the address tables. Fixed so that runs are reproducible; change
    /// it if you fear someone has tuned addresses against the default.
    pub hash_seed: u64,
    /// `[detect.ddos.baseline]`: thresholds learned per host and prefix by time of week.
    pub baseline: BaselineConfig,
    /// `[[detect.ddos.groups]]`: thresholds for host groups, overriding the ones above for
    /// the addresses of their prefixes. The group with the longest prefix containing an
    /// address wins (the first listed, between equal lengths).
    pub groups: Vec<HostGroup>,
}

impl Default for DdosConfig {
    fn default() -> Self {
        DdosConfig {
            protect: Vec::new(),
            host_pps: 20_000,
            host_bps: 1_000_000_000,
            prefix_pps: 100_000,
            prefix_bps: 2_000_000_000,
            prefix_len_v4: 24,
            prefix_len_v6: 64,
            vector_pps: VectorThresholds::default(),
            tick_ms: 100,
            end_ratio: 0.5,
            end_after_s: 10,
            max_lateness_s: 60,
            max_hosts: 1_000_000,
            max_prefixes: 65_536,
            max_watched: 4_096,
            max_attacks: 1_024,
            watch_ratio: 0.3,
            hash_seed: 0x7261_6d70_6172_7400,
            baseline: BaselineConfig::default(),
            groups: Vec::new(),
        }
    }
}

/// `[detect.ddos.baseline]`: learned thresholds. Each host and prefix that carries traffic
/// gets a profile of its usual packets/s and bits/s (a high quantile of its per-second
/// rates) for each of the 168 hours of the week (UTC). Once an hour of the week has enough
/// history, the address is also under attack when a rate passes
/// max(floor, `factor` × usual rate), even far below the static thresholds. Seconds over
/// any threshold and seconds while the address or its prefix is under attack are never
/// learned, so a long attack does not become the norm.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct BaselineConfig {
    /// Learn and apply baselines. true.
    pub enabled: bool,
    /// How many times its usual rate an address must receive (or send) to alarm. 10.
    pub factor: f64,
    /// Floors of a host's learned thresholds: a host that usually sees 0.1 pps does not
    /// alarm at 10. 1,000 pps...
    pub min_pps: u64,
    /// ...and 100 Mbit/s: a software update or a backup is no attack.
    pub min_bps: u64,
    /// Floors of a prefix's learned thresholds. 10,000 pps...
    pub prefix_min_pps: u64,
    /// ...and 500 Mbit/s.
    pub prefix_min_bps: u64,
    /// Seconds of history an address needs (from its first learned second) before its
    /// learned thresholds apply. 604,800: a week, so that every hour of the week was seen.
    pub min_history_s: u64,
    /// Seconds learned in the current hour of the week before that hour's level applies.
    /// 600: ten minutes of traffic in that hour, over the weeks. At most 65,535.
    pub min_samples: u32,
    /// Profiles kept (hosts and prefixes, both directions, 1,048 bytes each). When full, a
    /// new address replaces a stale or barely learned profile, or is refused and counted
    /// (`baselines_refused`). 16,384: 17 MB at most, for every public address of a /18.
    pub max_baselines: usize,
}

impl Default for BaselineConfig {
    fn default() -> Self {
        BaselineConfig {
            enabled: true,
            factor: 10.0,
            min_pps: 1_000,
            min_bps: 100_000_000,
            prefix_min_pps: 10_000,
            prefix_min_bps: 500_000_000,
            min_history_s: 7 * 86_400,
            min_samples: 600,
            max_baselines: 16_384,
        }
    }
}

/// `[[detect.ddos.groups]]`: one host group. Thresholds left out keep the values of
/// `[detect.ddos]`. Those given here apply in both directions; the `inbound` and `outbound`
/// tables override them for one direction:
///
/// ```toml
/// [[detect.ddos.groups]]
/// name = "dns"
/// prefixes = ["203.0.113.53/32", "2001:db8::53/128"]
/// host_pps = 60000
/// vector_pps = { dns_amplification = 0 }
/// [detect.ddos.groups.outbound]
/// host_pps = 5000
/// ```
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct HostGroup {
    /// Named in the evidence of the detections its thresholds make.
    pub name: String,
    /// Addresses and prefixes of the group. A counted prefix (`prefix_len_v4/v6`) belongs to
    /// the group when one of these contains all of it.
    pub prefixes: Vec<Cidr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host_pps: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host_bps: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prefix_pps: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prefix_bps: Option<u64>,
    /// Per-vector packets/s, by vector name; 0 removes that vector's own threshold.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub vector_pps: BTreeMap<DdosVector, u64>,
    /// false: no learned thresholds for the group's addresses (hosts whose traffic jumps
    /// legitimately, such as backup or update servers). Default: `baseline.enabled`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub baseline: Option<bool>,
    /// Overrides for traffic toward the group's addresses.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub inbound: Option<GroupThresholds>,
    /// Overrides for traffic from the group's addresses.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outbound: Option<GroupThresholds>,
}

/// `[detect.ddos.groups.inbound]` or `.outbound`: a group's thresholds for one direction.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct GroupThresholds {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host_pps: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host_bps: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prefix_pps: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prefix_bps: Option<u64>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub vector_pps: BTreeMap<DdosVector, u64>,
}

/// Groups and their prefixes are matched by a scan at each evaluation: these bound it.
const MAX_GROUPS: usize = 256;
const MAX_GROUP_PREFIXES: usize = 1_024;

/// `[detect.ddos.vector_pps]`: packets/s toward one address, per vector; 0 = none (the
/// vector is then found only by `host_pps`/`host_bps` and how much of the traffic it is).
/// `udp_amplification` has none: it is told apart from `udp_flood` by its source ports only
/// once a target is watched.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct VectorThresholds {
    /// SYN without ACK. 5,000: a busy web server takes a few hundred new connections a second.
    pub syn_flood: u64,
    /// SYN-ACK without data: replies to connections the target never opened. 5,000.
    pub synack_reflection: u64,
    /// Resets without SYN or data. 5,000.
    pub rst_flood: u64,
    /// ACK (or PSH-ACK) outside handshakes: most legitimate TCP, so none by default.
    pub ack_flood: u64,
    /// Other TCP. None.
    pub tcp_flood: u64,
    /// UDP not from a reflection port. None.
    pub udp_flood: u64,
    /// ICMP and ICMPv6. 2,000: ping and path-MTU traffic stay far below.
    pub icmp_flood: u64,
    /// IP fragments. 2,000: rare in healthy traffic.
    pub ip_fragment_flood: u64,
    /// GRE: site-to-site tunnels carry real traffic, so none.
    pub gre_flood: u64,
    /// Any other IP protocol. None.
    pub ip_flood: u64,
    /// UDP from port 53 to another port: a busy resolver takes thousands of answers a
    /// second, so 10,000.
    pub dns_amplification: u64,
    /// UDP from port 123 to another port. 2,000.
    pub ntp_amplification: u64,
    /// UDP from port 11211: never legitimate from the Internet. 1,000.
    pub memcached_amplification: u64,
    /// UDP from port 1900. 1,000.
    pub ssdp_amplification: u64,
    /// UDP from port 161 to another port. 2,000.
    pub snmp_amplification: u64,
    /// UDP from port 389. 1,000.
    pub cldap_amplification: u64,
    /// UDP from port 19. 1,000.
    pub chargen_amplification: u64,
    /// UDP from port 500 or 4500 to a port other than 500 and 4500 (IKE and NAT-T between
    /// VPN peers use those on both ends). 2,000.
    pub isakmp_amplification: u64,
    /// UDP from port 3702. 1,000.
    pub wsd_amplification: u64,
}

impl Default for VectorThresholds {
    fn default() -> Self {
        VectorThresholds {
            syn_flood: 5_000,
            synack_reflection: 5_000,
            rst_flood: 5_000,
            ack_flood: 0,
            tcp_flood: 0,
            udp_flood: 0,
            icmp_flood: 2_000,
            ip_fragment_flood: 2_000,
            gre_flood: 0,
            ip_flood: 0,
            dns_amplification: 10_000,
            ntp_amplification: 2_000,
            memcached_amplification: 1_000,
            ssdp_amplification: 1_000,
            snmp_amplification: 2_000,
            cldap_amplification: 1_000,
            chargen_amplification: 1_000,
            isakmp_amplification: 2_000,
            wsd_amplification: 1_000,
        }
    }
}

/// A setting that cannot work, named by its config key.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("detect.ddos.{key}: {problem}")]
pub struct ConfigError {
    pub key: &'static str,
    pub problem: String,
}

fn bad(key: &'static str, problem: impl Into<String>) -> Result<(), ConfigError> {
    Err(ConfigError {
        key,
        problem: problem.into(),
    })
}

impl DdosConfig {
    /// Checks what serde cannot: ranges and combinations.
    pub fn validate(&self) -> Result<(), ConfigError> {
        for (key, v) in [
            ("host_pps", self.host_pps),
            ("host_bps", self.host_bps),
            ("prefix_pps", self.prefix_pps),
            ("prefix_bps", self.prefix_bps),
        ] {
            if v == 0 {
                bad(key, "must be greater than 0")?;
            }
        }
        if !(1..=32).contains(&self.prefix_len_v4) {
            bad(
                "prefix_len_v4",
                format!("{} is not in 1..=32", self.prefix_len_v4),
            )?;
        }
        if !(1..=128).contains(&self.prefix_len_v6) {
            bad(
                "prefix_len_v6",
                format!("{} is not in 1..=128", self.prefix_len_v6),
            )?;
        }
        if !matches!(self.tick_ms, 100 | 125 | 200 | 250 | 500 | 1000) {
            bad(
                "tick_ms",
                format!(
                    "{} must divide a second into at most 10 slots: 100, 125, 200, 250, 500 or 1000",
                    self.tick_ms
                ),
            )?;
        }
        if !(self.end_ratio > 0.0 && self.end_ratio < 1.0) {
            bad(
                "end_ratio",
                format!("{} is not between 0 and 1", self.end_ratio),
            )?;
        }
        if !(1..=3600).contains(&self.end_after_s) {
            bad(
                "end_after_s",
                format!("{} is not in 1..=3600", self.end_after_s),
            )?;
        }
        if self.max_lateness_s > 3600 {
            bad(
                "max_lateness_s",
                format!("{} is over 3600", self.max_lateness_s),
            )?;
        }
        for (key, v, max) in [
            ("max_hosts", self.max_hosts, 1 << 26),
            ("max_prefixes", self.max_prefixes, 1 << 24),
            ("max_watched", self.max_watched, 65_535),
            ("max_attacks", self.max_attacks, 1 << 20),
        ] {
            if v == 0 || v > max {
                bad(key, format!("{v} is not in 1..={max}"))?;
            }
        }
        if !(self.watch_ratio > 0.0 && self.watch_ratio <= 1.0) {
            bad(
                "watch_ratio",
                format!("{} is not in (0, 1]", self.watch_ratio),
            )?;
        }
        self.baseline.validate()?;
        self.validate_groups()
    }

    fn validate_groups(&self) -> Result<(), ConfigError> {
        if self.groups.len() > MAX_GROUPS {
            bad(
                "groups",
                format!("{} groups; at most {MAX_GROUPS}", self.groups.len()),
            )?;
        }
        let prefixes: usize = self.groups.iter().map(|g| g.prefixes.len()).sum();
        if prefixes > MAX_GROUP_PREFIXES {
            bad(
                "groups",
                format!("{prefixes} prefixes in all; at most {MAX_GROUP_PREFIXES}"),
            )?;
        }
        for (i, g) in self.groups.iter().enumerate() {
            let name = if g.name.is_empty() {
                format!("group {}", i + 1)
            } else {
                format!("group {} ({:?})", i + 1, g.name)
            };
            if g.name.is_empty() || g.name.len() > 64 {
                bad("groups", format!("{name}: name must be 1 to 64 characters"))?;
            }
            if self.groups[..i].iter().any(|o| o.name == g.name) {
                bad("groups", format!("{name}: the name is used twice"))?;
            }
            if g.prefixes.is_empty() {
                bad("groups", format!("{name}: no prefixes"))?;
            }
            let both = GroupThresholds {
                host_pps: g.host_pps,
                host_bps: g.host_bps,
                prefix_pps: g.prefix_pps,
                prefix_bps: g.prefix_bps,
                vector_pps: g.vector_pps.clone(),
            };
            for (part, t) in [
                ("", Some(&both)),
                ("inbound.", g.inbound.as_ref()),
                ("outbound.", g.outbound.as_ref()),
            ] {
                let Some(t) = t else { continue };
                for (key, v) in [
                    ("host_pps", t.host_pps),
                    ("host_bps", t.host_bps),
                    ("prefix_pps", t.prefix_pps),
                    ("prefix_bps", t.prefix_bps),
                ] {
                    if v == Some(0) {
                        bad(
                            "groups",
                            format!("{name}: {part}{key} must be greater than 0"),
                        )?;
                    }
                }
                if t.vector_pps.contains_key(&DdosVector::UdpAmplification) {
                    bad(
                        "groups",
                        format!(
                            "{name}: {part}vector_pps.udp_amplification: that vector has no \
                             threshold of its own"
                        ),
                    )?;
                }
            }
        }
        Ok(())
    }
}

impl BaselineConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        if !(self.factor >= 1.5 && self.factor <= 1_000.0) {
            bad(
                "baseline.factor",
                format!("{} is not in 1.5..=1000", self.factor),
            )?;
        }
        for (key, v) in [
            ("baseline.min_pps", self.min_pps),
            ("baseline.min_bps", self.min_bps),
            ("baseline.prefix_min_pps", self.prefix_min_pps),
            ("baseline.prefix_min_bps", self.prefix_min_bps),
        ] {
            if v == 0 {
                bad(key, "must be greater than 0")?;
            }
        }
        if self.min_history_s > 366 * 86_400 {
            bad(
                "baseline.min_history_s",
                format!("{} is over a year (31,622,400)", self.min_history_s),
            )?;
        }
        if !(1..=65_535).contains(&self.min_samples) {
            bad(
                "baseline.min_samples",
                format!("{} is not in 1..=65535", self.min_samples),
            )?;
        }
        if !(1..=1 << 20).contains(&self.max_baselines) {
            bad(
                "baseline.max_baselines",
                format!("{} is not in 1..={}", self.max_baselines, 1 << 20),
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_validate_and_partial_config_keeps_them() {
        DdosConfig::default().validate().unwrap();
        let c: DdosConfig =
            serde_json::from_str(r#"{"host_pps": 1000, "vector_pps": {"syn_flood": 10}}"#).unwrap();
        assert_eq!(c.host_pps, 1000);
        assert_eq!(c.host_bps, DdosConfig::default().host_bps);
        assert_eq!(c.vector_pps.syn_flood, 10);
        assert_eq!(c.vector_pps.icmp_flood, 2_000);
        assert!(serde_json::from_str::<DdosConfig>(r#"{"host_ppz": 1}"#).is_err());
    }

    #[test]
    fn validate_names_the_key() {
        let c = DdosConfig {
            tick_ms: 300,
            ..DdosConfig::default()
        };
        let e = c.validate().unwrap_err();
        assert_eq!(e.key, "tick_ms");
        assert!(e.to_string().starts_with("detect.ddos.tick_ms: 300"), "{e}");
        let c = DdosConfig {
            prefix_len_v4: 0,
            ..DdosConfig::default()
        };
        assert_eq!(c.validate().unwrap_err().key, "prefix_len_v4");
    }

    #[test]
    fn groups_and_baseline_parse_round_trip_and_validate() {
        let c: DdosConfig = serde_json::from_str(
            r#"{"baseline": {"factor": 5, "min_history_s": 60},
                "groups": [{"name": "dns", "prefixes": ["203.0.113.53/32"], "host_pps": 60000,
                            "vector_pps": {"dns_amplification": 0},
                            "outbound": {"host_pps": 5000}}]}"#,
        )
        .unwrap();
        c.validate().unwrap();
        assert_eq!(c.baseline.factor, 5.0);
        assert_eq!(c.baseline.min_pps, 1_000);
        assert!(c.baseline.enabled);
        let g = &c.groups[0];
        assert_eq!(g.vector_pps[&DdosVector::DnsAmplification], 0);
        assert_eq!(g.outbound.as_ref().unwrap().host_pps, Some(5_000));
        assert_eq!(g.inbound, None);
        let json = serde_json::to_string(&c).unwrap();
        assert!(!json.contains("null"), "{json}");
        let back: DdosConfig = serde_json::from_str(&json).unwrap();
        assert_eq!(back, c);

        for (json, key, says) in [
            (r#"{"baseline": {"factor": 1}}"#, "baseline.factor", "1.5"),
            (
                r#"{"baseline": {"min_samples": 0}}"#,
                "baseline.min_samples",
                "0",
            ),
            (r#"{"groups": [{"name": "a"}]}"#, "groups", "no prefixes"),
            (
                r#"{"groups": [{"name": "a", "prefixes": ["10.0.0.0/8"], "outbound": {"host_pps": 0}}]}"#,
                "groups",
                "outbound.host_pps",
            ),
            (
                r#"{"groups": [{"name": "a", "prefixes": ["10.0.0.0/8"]}, {"name": "a", "prefixes": ["10.0.0.0/8"]}]}"#,
                "groups",
                "twice",
            ),
            (
                r#"{"groups": [{"name": "a", "prefixes": ["10.0.0.0/8"], "vector_pps": {"udp_amplification": 5}}]}"#,
                "groups",
                "udp_amplification",
            ),
        ] {
            let c: DdosConfig = serde_json::from_str(json).unwrap();
            let e = c.validate().unwrap_err();
            assert_eq!(e.key, key, "{json}: {e}");
            assert!(e.to_string().contains(says), "{e}");
        }
        assert!(serde_json::from_str::<DdosConfig>(
            r#"{"groups": [{"name": "a", "prefixes": [], "vector_pps": {"syn_floood": 1}}]}"#
        )
        .is_err());
        assert!(serde_json::from_str::<DdosConfig>(r#"{"baseline": {"factr": 1}}"#).is_err());
    }
}
