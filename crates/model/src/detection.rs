//! What detectors report: the detections of `rampart analyze --format json` and of the API's
//! attacks, in the shape INTERFACES.md promises. Serialised with serde, built by `detect`.

use crate::{Cidr, Timestamp};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::net::IpAddr;

/// One detection. The JSON carries the variant as `"kind"`, so every kind can add its own
/// fields beside the ones detections share.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Detection {
    Ddos(DdosDetection),
    Scan(ScanDetection),
}

/// Which way traffic goes relative to the protected address space.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// Toward a protected address (the target is the destination).
    Inbound,
    /// From a protected address (the target is the source: one of ours is attacking).
    Outbound,
}

impl Direction {
    pub const fn as_str(self) -> &'static str {
        match self {
            Direction::Inbound => "inbound",
            Direction::Outbound => "outbound",
        }
    }
}

macro_rules! vectors {
    ($($(#[$doc:meta])* $variant:ident = $name:literal,)*) => {
        /// A DDoS attack vector, named as in INTERFACES.md.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum DdosVector {
            $($(#[$doc])* $variant,)*
        }

        impl DdosVector {
            /// Every vector, in the order INTERFACES.md lists them.
            pub const ALL: &'static [DdosVector] = &[$(DdosVector::$variant,)*];

            pub const fn as_str(self) -> &'static str {
                match self {
                    $(DdosVector::$variant => $name,)*
                }
            }
        }
    };
}

vectors! {
    /// TCP packets with SYN and without ACK.
    SynFlood = "syn_flood",
    /// TCP packets with only ACK (and perhaps PSH) set, outside any handshake.
    AckFlood = "ack_flood",
    /// TCP resets.
    RstFlood = "rst_flood",
    /// Other TCP traffic.
    TcpFlood = "tcp_flood",
    /// SYN-ACKs toward a target that did not open the connections (reflected SYNs).
    SynackReflection = "synack_reflection",
    /// UDP not from a reflection port, with spread source ports.
    UdpFlood = "udp_flood",
    /// ICMP and ICMPv6.
    IcmpFlood = "icmp_flood",
    /// IP fragments.
    IpFragmentFlood = "ip_fragment_flood",
    /// GRE (IP protocol 47).
    GreFlood = "gre_flood",
    /// Any other IP protocol.
    IpFlood = "ip_flood",
    /// UDP from source port 53.
    DnsAmplification = "dns_amplification",
    /// UDP from source port 123.
    NtpAmplification = "ntp_amplification",
    /// UDP from source port 11211.
    MemcachedAmplification = "memcached_amplification",
    /// UDP from source port 1900.
    SsdpAmplification = "ssdp_amplification",
    /// UDP from source port 161.
    SnmpAmplification = "snmp_amplification",
    /// UDP from source port 389.
    CldapAmplification = "cldap_amplification",
    /// UDP from source port 19.
    ChargenAmplification = "chargen_amplification",
    /// UDP from source port 500 or 4500.
    IsakmpAmplification = "isakmp_amplification",
    /// UDP from source port 3702.
    WsdAmplification = "wsd_amplification",
    /// UDP dominated by one other source port.
    UdpAmplification = "udp_amplification",
}

impl fmt::Display for DdosVector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A DDoS attack on one protected address or prefix, as known at one moment.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DdosDetection {
    /// The vector that dominates the attack.
    pub vector: DdosVector,
    /// Every vector seen during the attack, the dominant one first.
    pub vectors: Vec<DdosVector>,
    /// One address, or a prefix when the attack is spread over it (carpet bombing).
    pub target: Cidr,
    pub direction: Direction,
    /// When the detector decided the target was under attack (event time).
    pub start: Timestamp,
    /// When the traffic fell back under the hysteresis level; `null` while it lasts.
    pub end: Option<Timestamp>,
    /// Highest packets per second over a 1 s window, scaled by sampling rates.
    pub peak_pps: u64,
    pub peak_bps: u64,
    /// 0..1: how sure, from the number of samples behind the claim and how far over
    /// threshold the traffic went.
    pub confidence: f64,
    /// Heaviest sources of inbound attack traffic (empty for outbound attacks).
    pub top_sources: Vec<TopAddr>,
    /// Heaviest destinations of outbound attack traffic; omitted for inbound attacks.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub top_destinations: Vec<TopAddr>,
    pub top_src_ports: Vec<TopPort>,
    pub top_dst_ports: Vec<TopPort>,
    /// Sources look forged (many of them, with TTLs one sender or a randomiser would give).
    pub spoofed_sources: bool,
    /// Packet sizes (IP bytes) seen toward the target while it was watched closely.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub packet_size: Option<Range>,
    /// TTLs (hop limits) seen, when the telemetry carries them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ttl: Option<Range>,
    /// Packets (or sampled packets) actually observed, before scaling by sampling rates.
    pub samples: u64,
    /// A short sentence a person reads at a glance.
    pub evidence: String,
}

/// A scan: one source probing many ports of one host (vertical) or one or a few ports
/// across many hosts (horizontal), as known at one moment.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ScanDetection {
    pub source: IpAddr,
    /// The host of a vertical scan; for a horizontal one the smallest prefix covering the
    /// probed hosts, never longer than a /24 (IPv4) or /64 (IPv6).
    pub target: Cidr,
    /// Distinct destination ports probed (estimated) in the busiest window: of the host for
    /// a vertical scan, over all hosts for a horizontal one.
    pub ports: u64,
    /// Distinct destination hosts probed (estimated) in the busiest window; 1 for a
    /// vertical scan.
    pub hosts: u64,
    pub scan_type: ScanType,
    /// Inbound: toward the protected space. Outbound: a protected source scanning.
    pub direction: Direction,
    pub protocol: ScanProtocol,
    /// Ports that carry a tenth or more of the probes (empty when spread evenly).
    pub top_dst_ports: Vec<TopPort>,
    /// Probe records (packets, or flow records of unanswered probes) seen.
    pub probes: u64,
    /// Distinct ports (vertical) or hosts (horizontal) that answered positively (SYN-ACK,
    /// UDP back, echo reply), in the busiest window; not counted in `ports` or `hosts`.
    pub answered: u64,
    /// Time of the first probe of the window in which the scan was found.
    pub start: Timestamp,
    /// Time of the last probe, once the source has been quiet for a window; `null` before.
    pub end: Option<Timestamp>,
    /// Time of the last probe seen so far.
    pub last_seen: Timestamp,
    /// 0..1: how far over threshold, and how few probes were answered.
    pub confidence: f64,
    /// A short sentence a person reads at a glance.
    pub evidence: String,
}

/// Which shape of scan.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ScanType {
    /// Many ports of one host.
    Vertical,
    /// Many hosts, usually on one or a few ports.
    Horizontal,
}

impl ScanType {
    pub const fn as_str(self) -> &'static str {
        match self {
            ScanType::Vertical => "vertical",
            ScanType::Horizontal => "horizontal",
        }
    }
}

/// The protocol of a scan's probes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ScanProtocol {
    Tcp,
    Udp,
    /// ICMP or ICMPv6 echo (or timestamp) requests: a host sweep.
    Icmp,
    /// Probes of more than one of these.
    Mixed,
}

impl ScanProtocol {
    pub const fn as_str(self) -> &'static str {
        match self {
            ScanProtocol::Tcp => "tcp",
            ScanProtocol::Udp => "udp",
            ScanProtocol::Icmp => "icmp",
            ScanProtocol::Mixed => "mixed",
        }
    }
}

/// An address and its estimated share of the attack.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TopAddr {
    pub addr: IpAddr,
    /// Estimated packets (scaled by sampling), counted while the target was watched closely.
    pub packets: u64,
    /// Fraction of the attack's packets.
    pub share: f64,
}

/// A port and its estimated share of the attack.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TopPort {
    pub port: u16,
    pub packets: u64,
    pub share: f64,
}

/// Smallest, largest and mean of a quantity.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Range {
    pub min: u32,
    pub max: u32,
    pub avg: u32,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_has_kind_and_names() {
        let d = Detection::Ddos(DdosDetection {
            vector: DdosVector::SynFlood,
            vectors: vec![DdosVector::SynFlood, DdosVector::IpFragmentFlood],
            target: "203.0.113.10".parse().unwrap(),
            direction: Direction::Inbound,
            start: Timestamp::from_secs(1),
            end: None,
            peak_pps: 10,
            peak_bps: 4800,
            confidence: 0.5,
            top_sources: vec![],
            top_destinations: vec![],
            top_src_ports: vec![TopPort {
                port: 53,
                packets: 10,
                share: 1.0,
            }],
            top_dst_ports: vec![],
            spoofed_sources: false,
            packet_size: None,
            ttl: None,
            samples: 10,
            evidence: "e".into(),
        });
        let json = serde_json::to_string(&d).unwrap();
        assert!(json.starts_with(
            r#"{"kind":"ddos","vector":"syn_flood","vectors":["syn_flood","ip_fragment_flood"],"target":"203.0.113.10","direction":"inbound","start":"1970-01-01T00:00:01.000Z","end":null,"#
        ), "{json}");
        assert!(json.contains(r#""top_src_ports":[{"port":53,"packets":10,"share":1.0}]"#));
        for v in DdosVector::ALL {
            assert_eq!(serde_json::to_string(v).unwrap(), format!("\"{v}\""));
        }
        assert_eq!(DdosVector::ALL.len(), 20);
    }

    #[test]
    fn scan_json_has_kind_and_interface_fields_first() {
        let d = Detection::Scan(ScanDetection {
            source: "198.51.100.66".parse().unwrap(),
            target: "203.0.113.0/24".parse().unwrap(),
            ports: 1,
            hosts: 250,
            scan_type: ScanType::Horizontal,
            direction: Direction::Inbound,
            protocol: ScanProtocol::Tcp,
            top_dst_ports: vec![TopPort {
                port: 22,
                packets: 254,
                share: 1.0,
            }],
            probes: 254,
            answered: 2,
            start: Timestamp::from_secs(1),
            end: None,
            last_seen: Timestamp::from_secs(3),
            confidence: 0.9,
            evidence: "e".into(),
        });
        let json = serde_json::to_string(&d).unwrap();
        assert_eq!(
            json,
            r#"{"kind":"scan","source":"198.51.100.66","target":"203.0.113.0/24","ports":1,"hosts":250,"scan_type":"horizontal","direction":"inbound","protocol":"tcp","top_dst_ports":[{"port":22,"packets":254,"share":1.0}],"probes":254,"answered":2,"start":"1970-01-01T00:00:01.000Z","end":null,"last_seen":"1970-01-01T00:00:03.000Z","confidence":0.9,"evidence":"e"}"#
        );
    }
}
