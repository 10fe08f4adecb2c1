//! `[respond]`: which detections get which actions, the guards around them, and what each
//! kind of announcement carries. Safe by default: dry-run, host routes only, bounded.

use rampart_model::{ActionKind, FlowAction};
use rampart_model::{Cidr, Direction};
use serde::{Deserialize, Serialize};

/// `[respond]`. Every field has a default; `validate()` after loading.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct RespondConfig {
    /// Decide, record and audit every action, announce nothing. true until you set it
    /// false: a blackhole takes its target offline.
    pub dry_run: bool,
    /// `auto`: actions are taken at once. `manual`: each waits for an analyst's approval
    /// (`POST /api/v1/mitigations/{id}/approve`).
    pub mode: Mode,
    /// Addresses and prefixes never blackholed, never FlowSpec'd, never banned (name
    /// servers, the VPN gateway, the monitoring system...).
    pub never: Vec<Cidr>,
    /// The protected address space, copied from the top-level `protect` key: a source in
    /// it is one of ours, and is never banned (a compromised or misconfigured host of ours
    /// is a case for a person, not for the firewall).
    #[serde(skip)]
    pub protect: Vec<Cidr>,
    /// Mitigations stay this many seconds after their attack ends, in case it comes back.
    pub hold_s: u64,
    /// An attack still going this many seconds after its last action moves to the next
    /// action of its rule (FlowSpec → diversion → blackhole). 0: never escalate.
    pub escalate_after_s: u64,
    /// Mitigations active at once (announcements and bans); more are refused.
    pub max_active: usize,
    /// New mitigations per minute; more are refused.
    pub max_new_per_minute: usize,
    /// A FlowSpec rule is refused when the target's traffic before the attack shows it
    /// would drop more than this share of its normal traffic (a resolver's DNS answers).
    pub flowspec_max_collateral: f64,
    /// What to do when the target has no traffic history to judge collateral by:
    /// true allows the rule (the audit says it was not judged), false refuses it.
    pub flowspec_allow_unknown_collateral: bool,
    /// Rules, in order: the first that matches a detection decides its actions.
    pub rules: Vec<Rule>,
    pub blackhole: BlackholeConfig,
    pub flowspec: FlowspecConfig,
    pub divert: DivertConfig,
    /// `[respond.nftables]`: bans (and optionally FlowSpec rules) in the local firewall.
    pub nftables: crate::nft::NftConfig,
    /// `[respond.bgp]` and `[[respond.bgp.peers]]`: the routers blackholes, diversions and
    /// FlowSpec rules are announced to.
    pub bgp: rampart_bgp::BgpConfig,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    Auto,
    Manual,
}

impl Default for RespondConfig {
    fn default() -> Self {
        RespondConfig {
            dry_run: true,
            mode: Mode::Auto,
            never: Vec::new(),
            protect: Vec::new(),
            hold_s: 300,
            escalate_after_s: 300,
            max_active: 100,
            max_new_per_minute: 20,
            flowspec_max_collateral: 0.05,
            flowspec_allow_unknown_collateral: true,
            rules: vec![
                Rule {
                    name: "floods".into(),
                    kinds: vec!["ddos".into()],
                    directions: vec![Direction::Inbound],
                    actions: vec![ActionKind::Flowspec, ActionKind::Blackhole],
                    ttl_s: 3_600,
                    ..Rule::default()
                },
                Rule {
                    name: "scanners".into(),
                    kinds: vec!["scan".into()],
                    directions: vec![Direction::Inbound],
                    actions: vec![ActionKind::Ban],
                    ttl_s: 3_600,
                    ..Rule::default()
                },
                // Guessing from one address: ban it. Logins that succeeded (after
                // failures, impossible travel) are not here: the address may be the
                // user's own, and a ban would lock them out while the attacker, who
                // has the password, moves on; those are told at critical severity.
                Rule {
                    name: "login_abuse".into(),
                    kinds: vec![
                        "brute_force".into(),
                        "user_enumeration".into(),
                        "password_spray".into(),
                        "slow_brute_force".into(),
                        "http_flood".into(),
                    ],
                    directions: vec![Direction::Inbound],
                    actions: vec![ActionKind::Ban],
                    ttl_s: 3_600,
                    ..Rule::default()
                },
            ],
            blackhole: BlackholeConfig::default(),
            flowspec: FlowspecConfig::default(),
            divert: DivertConfig::default(),
            nftables: crate::nft::NftConfig::default(),
            bgp: rampart_bgp::BgpConfig::default(),
        }
    }
}

/// `[[respond.rules]]`: which detections, and their escalation ladder.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Rule {
    /// Named in the audit log.
    pub name: String,
    /// Detection kinds (`ddos`, `scan`, ...); empty: any.
    pub kinds: Vec<String>,
    /// DDoS vectors (`syn_flood`, ...); empty: any.
    pub vectors: Vec<String>,
    /// Targets inside these prefixes only; empty: any.
    pub targets: Vec<Cidr>,
    /// Directions; empty: any.
    pub directions: Vec<Direction>,
    /// The first is taken at once, the next ones on escalation. Empty: record only.
    pub actions: Vec<ActionKind>,
    /// Seconds a mitigation lives at most without its attack being seen (renewed while
    /// the attack lasts).
    pub ttl_s: u64,
}

impl Default for Rule {
    fn default() -> Self {
        Rule {
            name: String::new(),
            kinds: Vec::new(),
            vectors: Vec::new(),
            targets: Vec::new(),
            directions: Vec::new(),
            actions: Vec::new(),
            ttl_s: 3_600,
        }
    }
}

/// `[respond.blackhole]`: remotely triggered blackhole routes (RFC 7999).
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct BlackholeConfig {
    /// Standard communities ("65535:666" is BLACKHOLE) and large ones ("a:b:c").
    pub communities: Vec<String>,
    /// Next hop of the routes (your provider's blackhole next hop, or a discard address).
    pub next_hop: Option<std::net::IpAddr>,
    pub next_hop_v6: Option<std::net::IpAddr>,
    /// Blackhole whole prefixes (a carpet bombing target) too; false: host routes only.
    pub allow_prefixes: bool,
}

impl Default for BlackholeConfig {
    fn default() -> Self {
        BlackholeConfig {
            communities: vec!["65535:666".into()],
            next_hop: None,
            next_hop_v6: None,
            allow_prefixes: false,
        }
    }
}

/// `[respond.flowspec]`: what FlowSpec rules do.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct FlowspecConfig {
    /// `{ type = "discard" }`, `{ type = "rate_limit", bytes_per_s = 1e6 }`,
    /// `{ type = "redirect", asn = 65000, value = 100 }` or `{ type = "mark", dscp = 8 }`.
    pub action: FlowAction,
    /// Rules per attack (one per vector, the strongest first).
    pub max_rules: usize,
}

impl Default for FlowspecConfig {
    fn default() -> Self {
        FlowspecConfig {
            action: FlowAction::Discard,
            max_rules: 4,
        }
    }
}

/// `[respond.divert]`: announcing a more-specific prefix toward a scrubbing provider.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct DivertConfig {
    /// Communities that tell the provider to scrub.
    pub communities: Vec<String>,
    pub next_hop: Option<std::net::IpAddr>,
    pub next_hop_v6: Option<std::net::IpAddr>,
    /// Length of the prefix announced around the target (the most specific your
    /// providers accept: 24 for IPv4, 48 for IPv6).
    pub prefix_len_v4: u8,
    pub prefix_len_v6: u8,
}

impl Default for DivertConfig {
    fn default() -> Self {
        DivertConfig {
            communities: Vec::new(),
            next_hop: None,
            next_hop_v6: None,
            prefix_len_v4: 24,
            prefix_len_v6: 48,
        }
    }
}

/// A setting that cannot work, named by its key.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("respond.{key}: {problem}")]
pub struct RespondConfigError {
    pub key: String,
    pub problem: String,
}

fn bad(key: impl Into<String>, problem: impl Into<String>) -> Result<(), RespondConfigError> {
    Err(RespondConfigError {
        key: key.into(),
        problem: problem.into(),
    })
}

/// Is this a standard ("a:b", each ≤ 65535) or large ("a:b:c", each ≤ 2^32-1) community?
pub fn valid_community(s: &str) -> bool {
    let parts: Vec<&str> = s.split(':').collect();
    match parts.len() {
        2 => parts.iter().all(|p| p.parse::<u16>().is_ok()),
        3 => parts.iter().all(|p| p.parse::<u32>().is_ok()),
        _ => false,
    }
}

impl RespondConfig {
    pub fn validate(&self) -> Result<(), RespondConfigError> {
        if !(0.0..=1.0).contains(&self.flowspec_max_collateral) {
            return bad("flowspec_max_collateral", "must be 0 to 1");
        }
        if self.max_active == 0 || self.max_active > 100_000 {
            return bad("max_active", "must be 1 to 100000");
        }
        if self.max_new_per_minute == 0 || self.max_new_per_minute > 100_000 {
            return bad("max_new_per_minute", "must be 1 to 100000");
        }
        if self.rules.len() > 256 {
            return bad("rules", "at most 256");
        }
        for (i, r) in self.rules.iter().enumerate() {
            if r.ttl_s == 0 || r.ttl_s > 30 * 86_400 {
                return bad(format!("rules[{i}].ttl_s"), "must be 1 s to 30 days");
            }
            for v in &r.vectors {
                if !rampart_model::DdosVector::ALL
                    .iter()
                    .any(|x| x.as_str() == v)
                {
                    return bad(
                        format!("rules[{i}].vectors"),
                        format!("unknown vector `{v}`"),
                    );
                }
            }
        }
        for (key, list) in [
            ("blackhole.communities", &self.blackhole.communities),
            ("divert.communities", &self.divert.communities),
        ] {
            if let Some(c) = list.iter().find(|c| !valid_community(c)) {
                return bad(key, format!("`{c}` is not a community (a:b or a:b:c)"));
            }
        }
        if !(8..=32).contains(&self.divert.prefix_len_v4) {
            return bad("divert.prefix_len_v4", "must be 8 to 32");
        }
        if !(16..=128).contains(&self.divert.prefix_len_v6) {
            return bad("divert.prefix_len_v6", "must be 16 to 128");
        }
        if self.flowspec.max_rules == 0 || self.flowspec.max_rules > 16 {
            return bad("flowspec.max_rules", "must be 1 to 16");
        }
        if let Err(e) = self.nftables.validate() {
            return bad("nftables", e);
        }
        if let Err(e) = self.bgp.validate() {
            // The bgp crate's errors already name their key (respond.bgp...).
            let text = e.to_string();
            let (key, problem) = text
                .strip_prefix("respond.")
                .and_then(|t| t.split_once(": "))
                .unwrap_or(("bgp", text.as_str()));
            return bad(key, problem);
        }
        Ok(())
    }
}
