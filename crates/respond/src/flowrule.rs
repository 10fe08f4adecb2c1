//! FlowSpec rules from an attack's fingerprint, and how much of the target's normal traffic
//! each would also drop (the collateral guard's question).

use rampart_model::{DdosDetection, DdosVector};
use rampart_model::{FlowAction, FlowRule, TcpFlags};
use std::collections::BTreeMap;

const SYN: u8 = 0x02;
const RST: u8 = 0x04;
const ACK: u8 = 0x10;

/// What a protected host's traffic is usually made of: packets/s per vector class, learned
/// while it was not under attack.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct TrafficMix {
    pub pps: BTreeMap<DdosVector, f64>,
}

impl TrafficMix {
    pub fn total(&self) -> f64 {
        self.pps
            .iter()
            .filter(|(v, _)| **v != DdosVector::IpFragmentFlood)
            .map(|(_, p)| p)
            .sum()
    }
}

/// The reflection source ports of a vector (both ports of IKE).
fn reflection_ports(v: DdosVector) -> &'static [u16] {
    match v {
        DdosVector::DnsAmplification => &[53],
        DdosVector::NtpAmplification => &[123],
        DdosVector::MemcachedAmplification => &[11211],
        DdosVector::SsdpAmplification => &[1900],
        DdosVector::SnmpAmplification => &[161],
        DdosVector::CldapAmplification => &[389],
        DdosVector::ChargenAmplification => &[19],
        DdosVector::IsakmpAmplification => &[500, 4500],
        DdosVector::WsdAmplification => &[3702],
        _ => &[],
    }
}

const UDP_CLASSES: [DdosVector; 11] = [
    DdosVector::UdpFlood,
    DdosVector::UdpAmplification,
    DdosVector::DnsAmplification,
    DdosVector::NtpAmplification,
    DdosVector::MemcachedAmplification,
    DdosVector::SsdpAmplification,
    DdosVector::SnmpAmplification,
    DdosVector::CldapAmplification,
    DdosVector::ChargenAmplification,
    DdosVector::IsakmpAmplification,
    DdosVector::WsdAmplification,
];

/// Ports carrying at least this share of an attack are named in its rule.
const PORT_SHARE: f64 = 0.9;

/// One rule for one vector of the attack; `None` when no precise rule exists (an unknown
/// IP protocol).
pub fn rule_for(d: &DdosDetection, v: DdosVector, action: FlowAction) -> Option<FlowRule> {
    let mut r = FlowRule::toward(d.target, action);
    let v6 = d.target.addr().is_ipv6();
    let dominant_dst = || {
        let ports: Vec<u16> = d.top_dst_ports.iter().map(|p| p.port).collect();
        let share: f64 = d.top_dst_ports.iter().map(|p| p.share).sum();
        if share >= PORT_SHARE && ports.len() <= 4 {
            ports
        } else {
            Vec::new()
        }
    };
    match v {
        DdosVector::SynFlood => {
            r.protocols = vec![6];
            r.tcp_flags = Some(TcpFlags {
                set: SYN,
                unset: ACK,
            });
        }
        DdosVector::SynackReflection => {
            r.protocols = vec![6];
            r.tcp_flags = Some(TcpFlags {
                set: SYN | ACK,
                unset: 0,
            });
        }
        DdosVector::RstFlood => {
            r.protocols = vec![6];
            r.tcp_flags = Some(TcpFlags {
                set: RST,
                unset: SYN,
            });
        }
        DdosVector::AckFlood | DdosVector::TcpFlood => {
            r.protocols = vec![6];
            r.destination_ports = dominant_dst();
            if v == DdosVector::AckFlood {
                r.tcp_flags = Some(TcpFlags {
                    set: ACK,
                    unset: SYN,
                });
            }
        }
        DdosVector::UdpFlood | DdosVector::UdpAmplification => {
            r.protocols = vec![17];
            r.destination_ports = dominant_dst();
            if v == DdosVector::UdpAmplification {
                let src: f64 = d.top_src_ports.iter().map(|p| p.share).sum();
                if src >= PORT_SHARE && d.top_src_ports.len() <= 4 {
                    r.source_ports = d.top_src_ports.iter().map(|p| p.port).collect();
                }
            }
        }
        DdosVector::IcmpFlood => r.protocols = vec![if v6 { 58 } else { 1 }],
        DdosVector::IpFragmentFlood => r.fragments = true,
        DdosVector::GreFlood => r.protocols = vec![47],
        DdosVector::IpFlood => return None,
        reflection => {
            r.protocols = vec![17];
            r.source_ports = reflection_ports(reflection).to_vec();
            // Amplified answers are large: matching on length spares small legitimate ones.
            if let Some(size) = d.packet_size {
                if size.min >= 200 {
                    r.packet_length = Some((size.min.min(65_535) as u16, 65_535));
                }
            }
        }
    }
    Some(r)
}

/// The rules for an attack: one per vector, the named vector first, at most `max`.
pub fn rules_for(d: &DdosDetection, action: FlowAction, max: usize) -> Vec<FlowRule> {
    let mut vectors = vec![d.vector];
    vectors.extend(d.vectors.iter().copied().filter(|v| *v != d.vector));
    vectors
        .into_iter()
        .filter_map(|v| rule_for(d, v, action))
        .take(max)
        .collect()
}

/// The vector classes a rule's traffic falls in (an over-estimate: a rule on ports is
/// judged as if it matched its whole protocol).
fn classes_of(r: &FlowRule) -> Vec<DdosVector> {
    if r.fragments {
        return vec![DdosVector::IpFragmentFlood];
    }
    let mut out = Vec::new();
    for &p in &r.protocols {
        match p {
            6 => match r.tcp_flags {
                Some(TcpFlags { set, .. }) if set == SYN => out.push(DdosVector::SynFlood),
                Some(TcpFlags { set, .. }) if set == SYN | ACK => {
                    out.push(DdosVector::SynackReflection)
                }
                Some(TcpFlags { set, .. }) if set == RST => out.push(DdosVector::RstFlood),
                Some(TcpFlags { set, .. }) if set == ACK => out.push(DdosVector::AckFlood),
                _ => out.extend([
                    DdosVector::SynFlood,
                    DdosVector::SynackReflection,
                    DdosVector::RstFlood,
                    DdosVector::AckFlood,
                    DdosVector::TcpFlood,
                ]),
            },
            17 => {
                let named: Vec<DdosVector> = UDP_CLASSES
                    .iter()
                    .copied()
                    .filter(|v| {
                        let ports = reflection_ports(*v);
                        !ports.is_empty() && r.source_ports.iter().any(|p| ports.contains(p))
                    })
                    .collect();
                if r.source_ports.is_empty() || named.is_empty() {
                    out.extend(UDP_CLASSES);
                } else {
                    out.extend(named);
                }
            }
            1 | 58 => out.push(DdosVector::IcmpFlood),
            47 => out.push(DdosVector::GreFlood),
            _ => out.push(DdosVector::IpFlood),
        }
    }
    out
}

/// The share (0..1) of the target's normal traffic the rules would drop; `None` when the
/// target has no history.
pub fn collateral(rules: &[FlowRule], mix: &TrafficMix) -> Option<f64> {
    let total = mix.total();
    if total <= 0.0 {
        return None;
    }
    let mut classes: Vec<DdosVector> = rules.iter().flat_map(classes_of).collect();
    classes.sort();
    classes.dedup();
    let hit: f64 = classes
        .iter()
        .map(|v| mix.pps.get(v).copied().unwrap_or(0.0))
        .sum();
    Some((hit / total).min(1.0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rampart_model::{Direction, Range, Timestamp, TopPort};

    fn attack(vector: DdosVector, vectors: &[DdosVector]) -> DdosDetection {
        DdosDetection {
            vector,
            vectors: vectors.to_vec(),
            target: "203.0.113.53".parse().unwrap(),
            direction: Direction::Inbound,
            start: Timestamp::EPOCH,
            end: None,
            peak_pps: 100_000,
            peak_bps: 1_000_000_000,
            confidence: 0.9,
            top_sources: vec![],
            top_destinations: vec![],
            top_src_ports: vec![],
            top_dst_ports: vec![TopPort {
                port: 443,
                packets: 100,
                share: 0.95,
            }],
            spoofed_sources: false,
            packet_size: Some(Range {
                min: 900,
                max: 1500,
                avg: 1200,
            }),
            ttl: None,
            samples: 1000,
            evidence: String::new(),
        }
    }

    #[test]
    fn rules_match_the_vectors() {
        let d = attack(
            DdosVector::DnsAmplification,
            &[DdosVector::SynFlood, DdosVector::IpFlood],
        );
        let rules = rules_for(&d, FlowAction::Discard, 4);
        assert_eq!(rules.len(), 2, "ip_flood has no precise rule");
        assert_eq!(rules[0].protocols, [17]);
        assert_eq!(rules[0].source_ports, [53]);
        assert_eq!(rules[0].packet_length, Some((900, 65_535)));
        assert_eq!(
            rules[1].tcp_flags,
            Some(TcpFlags {
                set: SYN,
                unset: ACK
            })
        );
        assert_eq!(
            rules[0].describe(),
            "to 203.0.113.53 proto udp src-port 53 length 900-65535: discard"
        );
        let u = rule_for(&d, DdosVector::UdpFlood, FlowAction::Discard).unwrap();
        assert_eq!(u.destination_ports, [443], "a dominant port is named");
        let i = rule_for(
            &DdosDetection {
                target: "2001:db8::1".parse().unwrap(),
                ..d.clone()
            },
            DdosVector::IcmpFlood,
            FlowAction::Discard,
        )
        .unwrap();
        assert_eq!(i.protocols, [58]);
        assert_eq!(rules_for(&d, FlowAction::Discard, 1).len(), 1);
    }

    #[test]
    fn collateral_is_the_share_of_normal_traffic_matched() {
        let d = attack(DdosVector::DnsAmplification, &[]);
        let rules = rules_for(&d, FlowAction::Discard, 4);
        let resolver = TrafficMix {
            pps: [
                (DdosVector::DnsAmplification, 900.0),
                (DdosVector::TcpFlood, 100.0),
            ]
            .into(),
        };
        assert_eq!(collateral(&rules, &resolver), Some(0.9));
        let web = TrafficMix {
            pps: [
                (DdosVector::DnsAmplification, 1.0),
                (DdosVector::TcpFlood, 999.0),
            ]
            .into(),
        };
        assert!(collateral(&rules, &web).unwrap() < 0.01);
        assert_eq!(collateral(&rules, &TrafficMix::default()), None);
        // A rule on UDP ports is judged as all of UDP.
        let u = rule_for(&d, DdosVector::UdpFlood, FlowAction::Discard).unwrap();
        assert_eq!(collateral(&[u], &resolver), Some(0.9));
    }
}
