//! What a response is: a mitigation (blackhole, FlowSpec rule, diversion, firewall ban) with
//! its target, lifetime, cause and state, independent of how an executor carries it out.

use crate::{Cidr, Timestamp};
use serde::{Deserialize, Serialize};
use std::fmt;

/// The kinds of action, from the most precise to the bluntest.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ActionKind {
    /// FlowSpec rules (RFC 8955/8956) that drop or police only the attack's traffic.
    Flowspec,
    /// A more-specific prefix announced with the scrubbing provider's communities, so the
    /// target's traffic goes through scrubbing.
    Divert,
    /// The target's /32 or /128 with the BLACKHOLE community: the provider drops everything
    /// toward it. Takes the target offline; stops the flood from filling the uplink.
    Blackhole,
    /// Sources banned in the local nftables table (scanners, login abusers).
    Ban,
}

impl ActionKind {
    pub const fn as_str(self) -> &'static str {
        match self {
            ActionKind::Flowspec => "flowspec",
            ActionKind::Divert => "divert",
            ActionKind::Blackhole => "blackhole",
            ActionKind::Ban => "ban",
        }
    }
}

impl fmt::Display for ActionKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for ActionKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "flowspec" => Ok(ActionKind::Flowspec),
            "divert" => Ok(ActionKind::Divert),
            "blackhole" => Ok(ActionKind::Blackhole),
            "ban" => Ok(ActionKind::Ban),
            _ => Err(format!(
                "unknown action `{s}` (flowspec, divert, blackhole or ban)"
            )),
        }
    }
}

/// What a FlowSpec rule (or the nftables rule made from it) does to matching traffic.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum FlowAction {
    Discard,
    /// Police to this many bytes per second.
    RateLimit {
        bytes_per_s: f32,
    },
    /// Redirect into a VRF named by a route target (AS:number).
    Redirect {
        asn: u16,
        value: u32,
    },
    /// Re-mark with this DSCP value.
    Mark {
        dscp: u8,
    },
}

/// TCP flags a rule matches: all of `set` set and none of `unset`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TcpFlags {
    pub set: u8,
    pub unset: u8,
}

/// A traffic filter built from an attack's fingerprint. Empty lists match anything.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FlowRule {
    pub destination: Cidr,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<Cidr>,
    /// IP protocols (IPv6: next header).
    pub protocols: Vec<u8>,
    pub source_ports: Vec<u16>,
    pub destination_ports: Vec<u16>,
    /// Inclusive range of IP packet lengths.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub packet_length: Option<(u16, u16)>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tcp_flags: Option<TcpFlags>,
    /// Only IP fragments.
    pub fragments: bool,
    pub action: FlowAction,
}

impl FlowRule {
    /// Everything toward `destination`; narrow it by setting the other fields.
    pub fn toward(destination: Cidr, action: FlowAction) -> Self {
        FlowRule {
            destination,
            source: None,
            protocols: Vec::new(),
            source_ports: Vec::new(),
            destination_ports: Vec::new(),
            packet_length: None,
            tcp_flags: None,
            fragments: false,
            action,
        }
    }

    /// One line for logs, the audit and notifications.
    pub fn describe(&self) -> String {
        let mut s = format!("to {}", self.destination);
        if let Some(src) = self.source {
            s.push_str(&format!(" from {src}"));
        }
        let list = |v: &[u16]| v.iter().map(u16::to_string).collect::<Vec<_>>().join(",");
        if !self.protocols.is_empty() {
            let p: Vec<String> = self.protocols.iter().map(|p| proto_name(*p)).collect();
            s.push_str(&format!(" proto {}", p.join(",")));
        }
        if !self.source_ports.is_empty() {
            s.push_str(&format!(" src-port {}", list(&self.source_ports)));
        }
        if !self.destination_ports.is_empty() {
            s.push_str(&format!(" dst-port {}", list(&self.destination_ports)));
        }
        if let Some(f) = self.tcp_flags {
            s.push_str(&format!(" tcp-flags {}", flags_name(f)));
        }
        if let Some((lo, hi)) = self.packet_length {
            s.push_str(&format!(" length {lo}-{hi}"));
        }
        if self.fragments {
            s.push_str(" fragments");
        }
        let action = match self.action {
            FlowAction::Discard => "discard".to_string(),
            FlowAction::RateLimit { bytes_per_s } => format!("rate-limit {bytes_per_s} B/s"),
            FlowAction::Redirect { asn, value } => format!("redirect {asn}:{value}"),
            FlowAction::Mark { dscp } => format!("mark dscp {dscp}"),
        };
        format!("{s}: {action}")
    }
}

fn proto_name(p: u8) -> String {
    match p {
        1 => "icmp".into(),
        6 => "tcp".into(),
        17 => "udp".into(),
        47 => "gre".into(),
        58 => "icmpv6".into(),
        p => p.to_string(),
    }
}

fn flags_name(f: TcpFlags) -> String {
    const NAMES: [(u8, &str); 6] = [
        (0x01, "fin"),
        (0x02, "syn"),
        (0x04, "rst"),
        (0x08, "psh"),
        (0x10, "ack"),
        (0x20, "urg"),
    ];
    let mut parts = Vec::new();
    for (bit, name) in NAMES {
        if f.set & bit != 0 {
            parts.push(name.to_string());
        }
        if f.unset & bit != 0 {
            parts.push(format!("!{name}"));
        }
    }
    parts.join(",")
}

/// Where a mitigation is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MitigationState {
    /// Waiting for an analyst's approval (manual mode).
    Pending,
    /// Announced (or, in dry-run, decided and recorded without announcing).
    Active,
    /// Withdrawn: ended, expired, rejected or withdrawn by hand.
    Withdrawn,
}

/// One mitigation decided by the policy or asked for by an operator.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Mitigation {
    pub id: u64,
    pub kind: ActionKind,
    /// The address or prefix announced (blackhole, divert), the rule's destination
    /// (flowspec), or the banned source (ban).
    pub target: Cidr,
    /// FlowSpec rules (one per vector of the attack).
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub rules: Vec<FlowRule>,
    /// The detection that caused it; none when asked for by hand.
    pub detection_id: Option<u64>,
    /// Why, in a sentence.
    pub reason: String,
    /// Who asked: `policy`, `token:NAME`, `cli`.
    pub requested_by: String,
    pub approved_by: Option<String>,
    pub created: Timestamp,
    /// When it is withdrawn at the latest (renewed while its attack lasts).
    pub expires: Timestamp,
    pub state: MitigationState,
    /// Decided and recorded, but not announced.
    pub dry_run: bool,
}
