//! Which counter a flow record's packets go to: one exclusive class per record (protocol,
//! TCP flag pattern, UDP reflection port), plus a fragment counter on the side.

use crate::config::VectorThresholds;
use rampart_model::{DdosVector, FlowRecord};

/// Exclusive classes, then `FRAGMENT`. Every packet is in exactly one exclusive class, so
/// their sum is the total; fragments are counted again in `FRAGMENT`.
pub(crate) const SYN: usize = 0;
pub(crate) const SYNACK: usize = 1;
pub(crate) const RST: usize = 2;
pub(crate) const ACK: usize = 3;
pub(crate) const TCP_OTHER: usize = 4;
pub(crate) const UDP_OTHER: usize = 5;
pub(crate) const ICMP: usize = 6;
pub(crate) const GRE: usize = 7;
pub(crate) const IP_OTHER: usize = 8;
/// First reflection class; the others follow in `REFLECTION_PORTS` order.
pub(crate) const REFLECTION: usize = 9;
pub(crate) const FRAGMENT: usize = 18;
pub(crate) const EXCLUSIVE: usize = 18;
pub(crate) const CLASSES: usize = 19;

/// (service port, second port of the same service, vector). A reply from the service port
/// to a port other than the service's own is what a reflector sends its victim; peers of
/// the same service (NTP servers, IKE gateways) talk port to port.
const REFLECTION_PORTS: [(u16, u16, DdosVector); 9] = [
    (53, 53, DdosVector::DnsAmplification),
    (123, 123, DdosVector::NtpAmplification),
    (11211, 11211, DdosVector::MemcachedAmplification),
    (1900, 1900, DdosVector::SsdpAmplification),
    (161, 161, DdosVector::SnmpAmplification),
    (389, 389, DdosVector::CldapAmplification),
    (19, 19, DdosVector::ChargenAmplification),
    (500, 4500, DdosVector::IsakmpAmplification),
    (3702, 3702, DdosVector::WsdAmplification),
];

const FIN: u8 = 0x01;
const SYN_FLAG: u8 = 0x02;
const RST_FLAG: u8 = 0x04;
const PSH: u8 = 0x08;
const ACK_FLAG: u8 = 0x10;

/// The exclusive class of a record. Flow records carry the OR of their packets' flags, so a
/// whole normal connection (SYN, data, FIN) lands in `TCP_OTHER`; only records whose every
/// packet fits one pattern count as that pattern.
#[inline]
pub(crate) fn classify(r: &FlowRecord) -> usize {
    match r.ip_protocol {
        6 => match r.tcp_flags {
            None => TCP_OTHER,
            Some(f) if f & SYN_FLAG != 0 && f & ACK_FLAG == 0 => SYN,
            Some(f) if f & SYN_FLAG != 0 => {
                if f & (PSH | FIN | RST_FLAG) == 0 {
                    SYNACK
                } else {
                    TCP_OTHER
                }
            }
            Some(f) if f & RST_FLAG != 0 && f & PSH == 0 => RST,
            Some(f) if f & ACK_FLAG != 0 && f & (RST_FLAG | FIN) == 0 => ACK,
            Some(_) => TCP_OTHER,
        },
        17 => match (r.src_port, r.dst_port) {
            (Some(sp), Some(dp)) => reflection_class(sp, dp).unwrap_or(UDP_OTHER),
            _ => UDP_OTHER,
        },
        1 | 58 => ICMP,
        47 => GRE,
        _ => IP_OTHER,
    }
}

#[inline]
fn reflection_class(sp: u16, dp: u16) -> Option<usize> {
    // Most UDP is from none of the service ports: a few comparisons, no walk of the table.
    if !matches!(
        sp,
        19 | 53 | 123 | 161 | 389 | 500 | 1900 | 3702 | 4500 | 11211
    ) {
        return None;
    }
    REFLECTION_PORTS
        .iter()
        .position(|&(a, b, _)| (sp == a || sp == b) && dp != a && dp != b)
        .map(|i| REFLECTION + i)
}

/// The vector a class stands for.
pub(crate) fn vector(class: usize) -> DdosVector {
    match class {
        SYN => DdosVector::SynFlood,
        SYNACK => DdosVector::SynackReflection,
        RST => DdosVector::RstFlood,
        ACK => DdosVector::AckFlood,
        TCP_OTHER => DdosVector::TcpFlood,
        UDP_OTHER => DdosVector::UdpFlood,
        ICMP => DdosVector::IcmpFlood,
        GRE => DdosVector::GreFlood,
        FRAGMENT => DdosVector::IpFragmentFlood,
        c if (REFLECTION..REFLECTION + REFLECTION_PORTS.len()).contains(&c) => {
            REFLECTION_PORTS[c - REFLECTION].2
        }
        _ => DdosVector::IpFlood,
    }
}

/// True for vectors whose sources are real (reflectors answering forged requests), where a
/// "spoofed sources" hint would mislead.
pub(crate) fn is_reflection(class: usize) -> bool {
    class == SYNACK || (REFLECTION..REFLECTION + REFLECTION_PORTS.len()).contains(&class)
}

/// How much an explanation says: a reflection port or a flag pattern names the attack more
/// precisely than "fragments" or "UDP", so it wins when the evidence is otherwise equal.
pub(crate) fn specificity(class: usize) -> f64 {
    match class {
        SYN | SYNACK | RST => 1.5,
        c if is_reflection(c) => 2.0,
        _ => 1.0,
    }
}

/// Per-class thresholds in class order; 0 = none.
pub(crate) fn thresholds(v: &VectorThresholds) -> [u64; CLASSES] {
    [
        v.syn_flood,
        v.synack_reflection,
        v.rst_flood,
        v.ack_flood,
        v.tcp_flood,
        v.udp_flood,
        v.icmp_flood,
        v.gre_flood,
        v.ip_flood,
        v.dns_amplification,
        v.ntp_amplification,
        v.memcached_amplification,
        v.ssdp_amplification,
        v.snmp_amplification,
        v.cldap_amplification,
        v.chargen_amplification,
        v.isakmp_amplification,
        v.wsd_amplification,
        v.ip_fragment_flood,
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use rampart_model::FlowFormat;

    fn rec(proto: u8, flags: Option<u8>, sp: u16, dp: u16) -> FlowRecord {
        let mut r = FlowRecord::empty(FlowFormat::Packet);
        r.ip_protocol = proto;
        r.tcp_flags = flags;
        r.src_port = Some(sp);
        r.dst_port = Some(dp);
        r
    }

    #[test]
    fn quick_port_check_knows_every_service_port() {
        for &(a, b, _) in &REFLECTION_PORTS {
            for sp in [a, b] {
                assert!(reflection_class(sp, 40_000).is_some(), "{sp}");
            }
        }
        for sp in 0..=u16::MAX {
            let listed = REFLECTION_PORTS.iter().any(|&(a, b, _)| sp == a || sp == b);
            assert_eq!(reflection_class(sp, 40_000).is_some(), listed, "{sp}");
        }
    }

    #[test]
    fn classes() {
        assert_eq!(classify(&rec(6, Some(0x02), 1, 80)), SYN);
        assert_eq!(classify(&rec(6, Some(0x12), 80, 1)), SYNACK);
        assert_eq!(classify(&rec(6, Some(0x1b), 80, 1)), TCP_OTHER);
        assert_eq!(classify(&rec(6, Some(0x14), 80, 1)), RST);
        assert_eq!(classify(&rec(6, Some(0x18), 80, 1)), ACK);
        assert_eq!(classify(&rec(17, None, 53, 40000)), REFLECTION);
        assert_eq!(classify(&rec(17, None, 53, 53)), UDP_OTHER);
        assert_eq!(
            vector(classify(&rec(17, None, 4500, 1234))),
            DdosVector::IsakmpAmplification
        );
        assert_eq!(classify(&rec(17, None, 4500, 500)), UDP_OTHER);
        assert_eq!(
            vector(classify(&rec(17, None, 3702, 9))),
            DdosVector::WsdAmplification
        );
        assert_eq!(classify(&rec(58, None, 0, 0)), ICMP);
        assert_eq!(vector(classify(&rec(50, None, 0, 0))), DdosVector::IpFlood);
        assert_eq!(vector(FRAGMENT), DdosVector::IpFragmentFlood);
    }
}
