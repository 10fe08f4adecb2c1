//! The sharing side: a STIX 2.1 bundle of what we are sure of from our detections
//! (reflectors of an amplification attack, scanners, abusing login sources), with our
//! identity, sightings and a TLP marking. The policy decides what never leaves: spoofed
//! sources, our own address space, non-global addresses, and personal data unless allowed.

use crate::indicator::Tlp;
use crate::stix::{derived_id, new_id};
use rampart_model::{Cidr, DdosVector, Detection, Timestamp};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::net::IpAddr;

/// What may be shared, and how it is marked.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SharePolicy {
    /// Our identity's name in exported bundles.
    pub identity_name: String,
    /// The marking on everything exported.
    pub tlp: Tlp,
    /// Never exported: our own address space (the `protect` list is added by the caller).
    pub never: Vec<Cidr>,
    /// Usernames and other personal data go out only when this is true.
    pub allow_personal_data: bool,
    /// How long an exported indicator stays valid after we last saw its source.
    pub valid_for_s: u64,
    /// Detections below this confidence (0..1) are not exported.
    pub min_confidence: f64,
    /// `rampart serve` publishes what detections of at least this confidence (0..1) let
    /// out into its default TAXII collection as they start and end; above 1: never.
    pub publish_min_confidence: f64,
}

impl Default for SharePolicy {
    fn default() -> Self {
        SharePolicy {
            identity_name: "Rampart".into(),
            tlp: Tlp::Amber,
            never: Vec::new(),
            allow_personal_data: false,
            valid_for_s: 7 * 86_400,
            min_confidence: 0.0,
            publish_min_confidence: 0.8,
        }
    }
}

/// Why a source was kept in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Withheld {
    /// The attack's sources look forged: they are victims, not attackers.
    Spoofed,
    /// Inside our own address space.
    Protected,
    /// Private, loopback, link-local, multicast: meaningless or revealing outside.
    NotGlobal,
    /// An outbound attack: its addresses are the victims of one of ours.
    Outbound,
    /// A flood vector whose sources are not reflectors (SYN flood, UDP flood...).
    NotReflection,
    /// Under the policy's confidence floor.
    LowConfidence,
}

/// Something we saw and are sure of: one address in one role.
#[derive(Clone, Debug, PartialEq)]
pub struct Subject {
    pub addr: IpAddr,
    /// `reflector`, `scanner`, `login-abuse`...
    pub role: &'static str,
    /// A label for the kind of attack (`dns_amplification`, `vertical-scan`...).
    pub kind: String,
    pub first_seen: Timestamp,
    pub last_seen: Timestamp,
    /// Packets, probes or attempts seen from it (at least 1).
    pub count: u64,
    /// 0..1.
    pub confidence: f64,
    /// A sentence for people.
    pub description: String,
    /// Usernames tried or abused: personal data, left out unless the policy allows.
    pub users: Vec<String>,
}

/// A bundle and what the policy left out of it.
#[derive(Debug, Clone)]
pub struct Export {
    pub bundle: Value,
    pub indicators: usize,
    pub withheld: Vec<(String, Withheld)>,
}

impl Export {
    pub fn to_json_pretty(&self) -> String {
        serde_json::to_string_pretty(&self.bundle).unwrap_or_default()
    }
}

/// True for vectors whose sources are reflectors answering forged requests.
pub fn is_reflection(v: DdosVector) -> bool {
    v == DdosVector::SynackReflection || v.as_str().ends_with("_amplification")
}

/// Addresses that mean nothing (or too much) outside our network.
pub fn is_global(addr: IpAddr) -> bool {
    match addr {
        IpAddr::V4(a) => {
            let o = a.octets();
            !(a.is_private()
                || a.is_loopback()
                || a.is_link_local()
                || a.is_multicast()
                || a.is_broadcast()
                || a.is_unspecified()
                || o[0] == 0
                || (o[0] == 100 && (64..128).contains(&o[1]))
                || o[0] >= 240)
        }
        IpAddr::V6(a) => {
            let s = a.segments();
            !(a.is_loopback()
                || a.is_unspecified()
                || a.is_multicast()
                || (s[0] & 0xfe00) == 0xfc00
                || (s[0] & 0xffc0) == 0xfe80)
        }
    }
}

/// The subjects one detection offers, and what it withholds by its nature.
pub fn subjects_of(d: &Detection, out: &mut Vec<Subject>, withheld: &mut Vec<(String, Withheld)>) {
    // One reading of detections, the JSON one, serves typed and stored detections alike.
    if let Ok(v) = serde_json::to_value(d) {
        subjects_of_json(&v, out, withheld);
    }
}

/// The subjects of a detection as JSON (`rampart analyze --format json`, or a stored
/// detection's body), so that stored detections export without their types. Kinds other
/// than `ddos` and `scan` that carry a `source` (the access-abuse detectors) give it as
/// `login-abuse`, with `users`/`user` as personal data; `ioc_match` gives nothing (the
/// indicator came from someone else).
pub fn subjects_of_json(v: &Value, out: &mut Vec<Subject>, withheld: &mut Vec<(String, Withheld)>) {
    let time = |k: &str| {
        v.get(k)
            .and_then(Value::as_str)
            .and_then(|s| s.parse::<Timestamp>().ok())
    };
    let inbound = v.get("direction").and_then(Value::as_str) != Some("outbound");
    let confidence = v.get("confidence").and_then(Value::as_f64).unwrap_or(0.0);
    let start = time("start").unwrap_or(Timestamp::EPOCH);
    let end = time("end").or_else(|| time("last_seen")).unwrap_or(start);
    let kind = v.get("kind").and_then(Value::as_str).unwrap_or("");
    if kind == "ddos" {
        let parse = |x: &Value| serde_json::from_value::<DdosVector>(x.clone()).ok();
        let mut vectors: Vec<DdosVector> = v
            .get("vectors")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(parse).collect())
            .unwrap_or_default();
        vectors.extend(v.get("vector").and_then(parse));
        let spoofed = v
            .get("spoofed_sources")
            .and_then(Value::as_bool)
            .unwrap_or(true);
        let reflection = vectors.iter().copied().find(|x| is_reflection(*x));
        let why = if !inbound {
            Some(Withheld::Outbound)
        } else if spoofed {
            Some(Withheld::Spoofed)
        } else if reflection.is_none() {
            Some(Withheld::NotReflection)
        } else {
            None
        };
        let sources = v.get("top_sources").and_then(Value::as_array);
        for s in sources.into_iter().flatten() {
            let Some(addr) = s
                .get("addr")
                .and_then(Value::as_str)
                .and_then(|a| a.parse::<IpAddr>().ok())
            else {
                continue;
            };
            match (why, reflection) {
                (None, Some(r)) => out.push(Subject {
                    addr,
                    role: "reflector",
                    kind: r.as_str().into(),
                    first_seen: start,
                    last_seen: end,
                    count: s.get("packets").and_then(Value::as_u64).unwrap_or(1).max(1),
                    confidence,
                    description: format!(
                        "Reflector in a {} attack on a protected network ({:.0} % of its packets).",
                        r.as_str().replace('_', " "),
                        s.get("share").and_then(Value::as_f64).unwrap_or(0.0) * 100.0
                    ),
                    users: Vec::new(),
                }),
                (w, _) => withheld.push((addr.to_string(), w.unwrap_or(Withheld::NotReflection))),
            }
        }
        return;
    }
    if kind == "ioc_match" {
        return;
    }
    let Some(addr) = v
        .get("source")
        .and_then(Value::as_str)
        .and_then(|a| a.parse::<IpAddr>().ok())
    else {
        return;
    };
    if !inbound {
        withheld.push((addr.to_string(), Withheld::Outbound));
        return;
    }
    let mut users: Vec<String> = v
        .get("users")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|u| u.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default();
    users.extend(v.get("user").and_then(Value::as_str).map(String::from));
    let scan = kind == "scan";
    let count = v
        .get(if scan { "probes" } else { "attempts" })
        .and_then(Value::as_u64)
        .unwrap_or(1);
    out.push(Subject {
        addr,
        role: if scan { "scanner" } else { "login-abuse" },
        kind: if scan {
            format!(
                "{}-scan",
                v.get("scan_type").and_then(Value::as_str).unwrap_or("port")
            )
        } else {
            kind.to_string()
        },
        first_seen: start,
        last_seen: end,
        count: count.max(1),
        confidence,
        description: format!(
            "{} from this address against a protected network.",
            capitalise(&if scan {
                "scan".to_string()
            } else {
                kind.replace('_', " ")
            })
        ),
        users,
    });
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

/// A bundle for these detections under the policy; `protected` is our address space.
pub fn export_detections(
    detections: &[Detection],
    protected: &[Cidr],
    policy: &SharePolicy,
    now: Timestamp,
) -> Export {
    let mut subjects = Vec::new();
    let mut withheld = Vec::new();
    for d in detections {
        subjects_of(d, &mut subjects, &mut withheld);
    }
    export_subjects(subjects, withheld, protected, policy, now)
}

/// A bundle for detections given as JSON (stored detections' bodies, `analyze` output).
pub fn export_json(
    detections: &[Value],
    protected: &[Cidr],
    policy: &SharePolicy,
    now: Timestamp,
) -> Export {
    let mut subjects = Vec::new();
    let mut withheld = Vec::new();
    for d in detections {
        subjects_of_json(d, &mut subjects, &mut withheld);
    }
    export_subjects(subjects, withheld, protected, policy, now)
}

/// A bundle for subjects (from [`subjects_of`] or other detectors) under the policy.
pub fn export_subjects(
    subjects: Vec<Subject>,
    mut withheld: Vec<(String, Withheld)>,
    protected: &[Cidr],
    policy: &SharePolicy,
    now: Timestamp,
) -> Export {
    let identity_id = derived_id("identity", &policy.identity_name);
    let marking = policy.tlp.marking_id();
    let ts = |t: Timestamp| t.to_string();
    let mut objects = vec![
        json!({
            "type": "identity",
            "spec_version": "2.1",
            "id": identity_id,
            "created": "2026-01-01T00:00:00.000Z",
            "modified": "2026-01-01T00:00:00.000Z",
            "name": policy.identity_name,
            "identity_class": "organization",
            "object_marking_refs": [marking],
        }),
        policy.tlp.marking_object(),
    ];
    // One indicator per address and role: several detections of one reflector merge.
    let mut merged: BTreeMap<(IpAddr, &'static str), Subject> = BTreeMap::new();
    for s in subjects {
        let never = protected
            .iter()
            .chain(&policy.never)
            .any(|c| c.contains(s.addr));
        if never {
            withheld.push((s.addr.to_string(), Withheld::Protected));
            continue;
        }
        if !is_global(s.addr) {
            withheld.push((s.addr.to_string(), Withheld::NotGlobal));
            continue;
        }
        if s.confidence < policy.min_confidence {
            withheld.push((s.addr.to_string(), Withheld::LowConfidence));
            continue;
        }
        merged
            .entry((s.addr, s.role))
            .and_modify(|m| {
                m.first_seen = m.first_seen.min(s.first_seen);
                m.last_seen = m.last_seen.max(s.last_seen);
                m.count = m.count.saturating_add(s.count);
                m.confidence = m.confidence.max(s.confidence);
                for u in &s.users {
                    if !m.users.contains(u) {
                        m.users.push(u.clone());
                    }
                }
            })
            .or_insert(s);
    }
    withheld.sort();
    withheld.dedup();
    let n = merged.len();
    for ((addr, role), s) in merged {
        let key = format!("{role}|{addr}|{}", s.first_seen.as_nanos());
        let indicator_id = derived_id("indicator", &key);
        let last = s.last_seen.max(s.first_seen);
        let valid_until = last.saturating_add_millis(policy.valid_for_s.max(1) * 1000);
        let modified = now.max(s.first_seen);
        let obs_type = if addr.is_ipv4() {
            "ipv4-addr"
        } else {
            "ipv6-addr"
        };
        let mut description = s.description.clone();
        if policy.allow_personal_data && !s.users.is_empty() {
            description.push_str(&format!(" Users: {}.", s.users.join(", ")));
        }
        let confidence = (s.confidence.clamp(0.0, 1.0) * 100.0).round() as u8;
        objects.push(json!({
            "type": "indicator",
            "spec_version": "2.1",
            "id": indicator_id,
            "created": ts(s.first_seen),
            "modified": ts(modified),
            "created_by_ref": identity_id,
            "name": format!("{} {addr}", capitalise(role)),
            "description": description,
            "indicator_types": ["malicious-activity"],
            "pattern": format!("[{obs_type}:value = '{addr}']"),
            "pattern_type": "stix",
            "pattern_version": "2.1",
            "valid_from": ts(s.first_seen),
            "valid_until": ts(valid_until),
            "confidence": confidence,
            "labels": [role, s.kind],
            "object_marking_refs": [marking],
        }));
        objects.push(json!({
            "type": "sighting",
            "spec_version": "2.1",
            "id": derived_id("sighting", &key),
            "created": ts(s.first_seen),
            "modified": ts(modified),
            "created_by_ref": identity_id,
            "sighting_of_ref": indicator_id,
            "count": s.count.min(999_999_999),
            "first_seen": ts(s.first_seen),
            "last_seen": ts(if last > s.first_seen { last } else { s.first_seen.saturating_add_millis(1) }),
            "where_sighted_refs": [identity_id],
            "object_marking_refs": [marking],
        }));
    }
    Export {
        bundle: json!({
            "type": "bundle",
            "id": new_id("bundle"),
            "objects": objects,
        }),
        indicators: n,
        withheld,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rampart_model::{DdosDetection, Direction, ScanDetection, ScanProtocol, ScanType, TopAddr};

    fn ddos(vector: DdosVector, spoofed: bool, sources: &[&str]) -> Detection {
        Detection::Ddos(DdosDetection {
            vector,
            vectors: vec![vector],
            target: "203.0.113.10".parse().unwrap(),
            direction: Direction::Inbound,
            start: Timestamp::from_secs(1_795_341_600),
            end: Some(Timestamp::from_secs(1_795_341_700)),
            peak_pps: 100_000,
            peak_bps: 1_000_000_000,
            confidence: 0.9,
            top_sources: sources
                .iter()
                .map(|s| TopAddr {
                    addr: s.parse().unwrap(),
                    packets: 1000,
                    share: 0.25,
                })
                .collect(),
            top_destinations: vec![],
            top_src_ports: vec![],
            top_dst_ports: vec![],
            spoofed_sources: spoofed,
            packet_size: None,
            ttl: None,
            samples: 100,
            evidence: "e".into(),
        })
    }

    fn patterns(e: &Export) -> Vec<String> {
        e.bundle["objects"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|o| o["pattern"].as_str().map(String::from))
            .collect()
    }

    #[test]
    fn reflectors_yes_spoofed_and_protected_never() {
        let protected: Vec<Cidr> = vec!["203.0.113.0/24".parse().unwrap()];
        let dets = vec![
            ddos(
                DdosVector::DnsAmplification,
                false,
                &["192.0.2.53", "203.0.113.77", "10.1.2.3", "2001:db8::53"],
            ),
            ddos(DdosVector::SynFlood, true, &["198.51.100.1"]),
            ddos(DdosVector::UdpFlood, false, &["198.51.100.2"]),
            Detection::Scan(ScanDetection {
                source: "198.51.100.66".parse().unwrap(),
                target: "203.0.113.0/24".parse().unwrap(),
                ports: 1,
                hosts: 250,
                scan_type: ScanType::Horizontal,
                direction: Direction::Inbound,
                protocol: ScanProtocol::Tcp,
                top_dst_ports: vec![],
                probes: 254,
                answered: 0,
                start: Timestamp::from_secs(1_795_341_600),
                end: None,
                last_seen: Timestamp::from_secs(1_795_341_660),
                confidence: 0.8,
                evidence: "e".into(),
            }),
        ];
        let e = export_detections(
            &dets,
            &protected,
            &SharePolicy::default(),
            Timestamp::from_secs(1_795_342_000),
        );
        assert_eq!(
            patterns(&e),
            [
                "[ipv4-addr:value = '192.0.2.53']",
                "[ipv4-addr:value = '198.51.100.66']",
                "[ipv6-addr:value = '2001:db8::53']",
            ]
        );
        let w: Vec<_> = e.withheld.iter().map(|(a, w)| (a.as_str(), *w)).collect();
        assert!(w.contains(&("203.0.113.77", Withheld::Protected)));
        assert!(w.contains(&("10.1.2.3", Withheld::NotGlobal)));
        assert!(w.contains(&("198.51.100.1", Withheld::Spoofed)));
        assert!(w.contains(&("198.51.100.2", Withheld::NotReflection)));
        let text = e.to_json_pretty();
        assert!(!text.contains("203.0.113.77") && !text.contains("198.51.100.1\""));
        assert!(text.contains(Tlp::Amber.marking_id()));
        // Same detection, same indicator id.
        let again = export_detections(
            &dets,
            &protected,
            &SharePolicy::default(),
            Timestamp::from_secs(1_795_342_500),
        );
        assert_eq!(
            e.bundle["objects"][2]["id"],
            again.bundle["objects"][2]["id"]
        );
    }

    #[test]
    fn json_detections_give_the_same_subjects() {
        let dets = vec![
            ddos(
                DdosVector::NtpAmplification,
                false,
                &["192.0.2.123", "198.51.100.7"],
            ),
            ddos(DdosVector::SynFlood, true, &["198.51.100.1"]),
        ];
        let (mut a, mut wa) = (Vec::new(), Vec::new());
        let (mut b, mut wb) = (Vec::new(), Vec::new());
        for d in &dets {
            subjects_of(d, &mut a, &mut wa);
            subjects_of_json(&serde_json::to_value(d).unwrap(), &mut b, &mut wb);
        }
        let addrs = |v: &[Subject]| {
            v.iter()
                .map(|s| (s.addr, s.role, s.kind.clone()))
                .collect::<Vec<_>>()
        };
        assert_eq!(addrs(&a), addrs(&b));
        assert_eq!(wa, wb);
        let login = serde_json::json!({"kind": "password_spray", "source": "192.0.2.9", "users": ["alice"],
            "start": "2026-11-22T10:00:00.000Z", "confidence": 0.9});
        subjects_of_json(&login, &mut b, &mut wb);
        assert_eq!(b.last().unwrap().users, ["alice"]);
        assert_eq!(b.last().unwrap().role, "login-abuse");
    }

    #[test]
    fn usernames_only_when_allowed() {
        let s = Subject {
            addr: "192.0.2.9".parse().unwrap(),
            role: "login-abuse",
            kind: "password_spray".into(),
            first_seen: Timestamp::from_secs(1_795_341_600),
            last_seen: Timestamp::from_secs(1_795_341_900),
            count: 40,
            confidence: 0.9,
            description: "Password spraying against SSH.".into(),
            users: vec!["alice".into(), "bob".into()],
        };
        let now = Timestamp::from_secs(1_795_342_000);
        let closed = export_subjects(vec![s.clone()], vec![], &[], &SharePolicy::default(), now);
        assert!(!closed.to_json_pretty().contains("alice"));
        let open = SharePolicy {
            allow_personal_data: true,
            ..SharePolicy::default()
        };
        let e = export_subjects(vec![s], vec![], &[], &open, now);
        assert!(e.to_json_pretty().contains("Users: alice, bob."));
    }
}
