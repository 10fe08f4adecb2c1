//! What detectors report: the detections of `rampart analyze --format json` and of the API's
//! attacks, in the shape INTERFACES.md promises. Serialised with serde, built by `detect`.

use crate::{Cidr, Service, Timestamp};
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
    /// Many failed logins from one source in a short window.
    BruteForce(AuthDetection),
    /// Many user names that do not exist, tried from one source.
    UserEnumeration(AuthDetection),
    /// A few tries on each of many existing users, from one source or a few in one prefix.
    PasswordSpray(AuthDetection),
    /// Many sources against one service, each with few attempts, on many users, with a
    /// low success rate.
    CredentialStuffing(AuthDetection),
    /// Failed logins from one source spread over hours, under the brute-force rate.
    SlowBruteForce(AuthDetection),
    /// A successful login from a source that failed before, or of a user whose failures
    /// came from that source: a likely compromise, the highest severity.
    LoginAfterFailures(AuthDetection),
    /// Two successful logins of one user too far apart for the time between them.
    ImpossibleTravel(LoginAnomaly),
    /// A user's first successful login from a country, after their learning period.
    NewCountry(LoginAnomaly),
    /// A user's first successful login from a network (ASN), after their learning period.
    NewNetwork(LoginAnomaly),
    /// A successful login at an hour of the day the user never logs in at.
    UnusualHours(LoginAnomaly),
    /// A protected host sending far more out than it usually does, or much to a new place.
    Exfiltration(ExfilDetection),
    /// One client sending HTTP requests far faster than a client should.
    HttpFlood(HttpFloodDetection),
    /// Traffic or a log event touching an indicator of compromise from a feed.
    IocMatch(IocMatchDetection),
}

impl Detection {
    /// Every `kind` there is, for reading stored detections back.
    pub const KINDS: &'static [&'static str] = &[
        "ddos",
        "scan",
        "brute_force",
        "user_enumeration",
        "password_spray",
        "credential_stuffing",
        "slow_brute_force",
        "login_after_failures",
        "impossible_travel",
        "new_country",
        "new_network",
        "unusual_hours",
        "exfiltration",
        "http_flood",
        "ioc_match",
    ];

    /// The `kind` of the JSON.
    pub const fn kind(&self) -> &'static str {
        match self {
            Detection::Ddos(_) => "ddos",
            Detection::Scan(_) => "scan",
            Detection::BruteForce(_) => "brute_force",
            Detection::UserEnumeration(_) => "user_enumeration",
            Detection::PasswordSpray(_) => "password_spray",
            Detection::CredentialStuffing(_) => "credential_stuffing",
            Detection::SlowBruteForce(_) => "slow_brute_force",
            Detection::LoginAfterFailures(_) => "login_after_failures",
            Detection::ImpossibleTravel(_) => "impossible_travel",
            Detection::NewCountry(_) => "new_country",
            Detection::NewNetwork(_) => "new_network",
            Detection::UnusualHours(_) => "unusual_hours",
            Detection::Exfiltration(_) => "exfiltration",
            Detection::HttpFlood(_) => "http_flood",
            Detection::IocMatch(_) => "ioc_match",
        }
    }

    /// The login-abuse detection, for the kinds that carry one.
    pub const fn as_auth(&self) -> Option<&AuthDetection> {
        match self {
            Detection::BruteForce(a)
            | Detection::UserEnumeration(a)
            | Detection::PasswordSpray(a)
            | Detection::CredentialStuffing(a)
            | Detection::SlowBruteForce(a)
            | Detection::LoginAfterFailures(a) => Some(a),
            _ => None,
        }
    }

    /// The login anomaly, for the kinds that carry one.
    pub const fn as_login(&self) -> Option<&LoginAnomaly> {
        match self {
            Detection::ImpossibleTravel(l)
            | Detection::NewCountry(l)
            | Detection::NewNetwork(l)
            | Detection::UnusualHours(l) => Some(l),
            _ => None,
        }
    }

    /// The one address acting: a scan's, abuse's or flood's source, the protected host of
    /// an exfiltration. `None` for DDoS (many sources) and credential stuffing.
    pub fn source(&self) -> Option<IpAddr> {
        match self {
            Detection::Ddos(_) => None,
            Detection::Scan(s) => Some(s.source),
            Detection::Exfiltration(x) => Some(x.source),
            Detection::HttpFlood(h) => Some(h.source),
            Detection::IocMatch(m) => m.source.or(m.internal_host),
            d => d
                .as_auth()
                .and_then(|a| a.source)
                .or(d.as_login().map(|l| l.source)),
        }
    }

    /// The address or prefix acted on, for policy and the store: a flood's or scan's
    /// target; the source for login abuse and HTTP floods (whose target is a service, not
    /// an address we know); the protected host for an exfiltration. `None` only for
    /// credential stuffing, which has many sources.
    pub fn address(&self) -> Option<Cidr> {
        match self {
            Detection::Ddos(a) => Some(a.target),
            Detection::Scan(s) => Some(s.target),
            d => d.source().map(Cidr::host),
        }
    }

    /// Inbound for everything aimed at us; outbound for DDoS or scans from our space and
    /// for exfiltration.
    pub const fn direction(&self) -> Direction {
        match self {
            Detection::Ddos(a) => a.direction,
            Detection::Scan(s) => s.direction,
            Detection::Exfiltration(_) => Direction::Outbound,
            Detection::IocMatch(IocMatchDetection {
                matched_in: IocWhere::FlowDst,
                ..
            }) => Direction::Outbound,
            _ => Direction::Inbound,
        }
    }

    /// When it started (a login anomaly: the login's time).
    pub fn start(&self) -> Timestamp {
        match self {
            Detection::Ddos(a) => a.start,
            Detection::Scan(s) => s.start,
            Detection::Exfiltration(x) => x.start,
            Detection::HttpFlood(h) => h.start,
            Detection::IocMatch(m) => m.first_seen,
            d => d
                .as_auth()
                .map(|a| a.first_seen)
                .or(d.as_login().map(|l| l.time))
                .unwrap_or(Timestamp::EPOCH),
        }
    }

    /// When it ended; `None` while it lasts. A login anomaly is over when it happens.
    pub fn end(&self) -> Option<Timestamp> {
        match self {
            Detection::Ddos(a) => a.end,
            Detection::Scan(s) => s.end,
            Detection::Exfiltration(x) => x.end,
            Detection::HttpFlood(h) => h.end,
            Detection::IocMatch(m) => m.end,
            d => match (d.as_auth(), d.as_login()) {
                (Some(a), _) => a.end,
                (None, Some(l)) => Some(l.time),
                (None, None) => None,
            },
        }
    }

    /// The sentence a person reads.
    pub fn evidence(&self) -> &str {
        match self {
            Detection::Ddos(a) => &a.evidence,
            Detection::Scan(s) => &s.evidence,
            Detection::Exfiltration(x) => &x.evidence,
            Detection::HttpFlood(h) => &h.evidence,
            Detection::IocMatch(m) => &m.evidence,
            d => match (d.as_auth(), d.as_login()) {
                (Some(a), _) => &a.evidence,
                (None, Some(l)) => &l.evidence,
                (None, None) => "",
            },
        }
    }
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

/// Login abuse seen in access logs: brute force, user enumeration, password spraying,
/// credential stuffing, slow brute force, a login after failures. Counts are attempts (a
/// folded "message repeated N times" line is N), not lines.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AuthDetection {
    /// The source address; absent for credential stuffing (see `top_sources`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<IpAddr>,
    /// The user concerned, when there is one: the user logged in as (login after
    /// failures), the only user tried (brute force of one account).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    pub service: Service,
    /// The host whose service was attacked (the logging host), when the log names it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// Failed attempts counted (in the detection's window, or in all for slow brute force).
    pub failures: u64,
    /// Of them, attempts on user names the service said do not exist.
    pub invalid_users: u64,
    /// Successful logins seen from the same source(s) in the same time.
    pub successes: u64,
    /// Distinct user names tried (estimated beyond a few dozen).
    pub users: u64,
    /// Distinct sources (1 unless credential stuffing or a spray from one prefix).
    pub sources: u64,
    /// The busiest sources, for credential stuffing and sprays from several addresses.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub top_sources: Vec<SourceAttempts>,
    /// First and last attempt counted.
    pub first_seen: Timestamp,
    pub last_seen: Timestamp,
    /// Set once the source has been quiet for the detection's window; `null` before.
    pub end: Option<Timestamp>,
    /// 0..1: how far over threshold, how sure the counts are.
    pub confidence: f64,
    /// A short sentence a person reads at a glance.
    pub evidence: String,
}

/// A source and its attempts.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SourceAttempts {
    pub addr: IpAddr,
    pub attempts: u64,
}

/// Where an address is, from a GeoIP database: what the `geo` crate finds and the login
/// detectors compare. Fields the database does not carry are `None`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct GeoInfo {
    /// ISO 3166-1 alpha-2 country code ("DE").
    #[serde(skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
    /// City name in English.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub city: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latitude: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub longitude: Option<f64>,
    /// How far from the coordinates the address may be, in km (GeoIP's accuracy radius).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub accuracy_km: Option<u32>,
    /// Autonomous system number and its organisation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub asn: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub org: Option<String>,
}

impl GeoInfo {
    /// Latitude and longitude, when both are known.
    pub fn coordinates(&self) -> Option<(f64, f64)> {
        self.latitude.zip(self.longitude)
    }
}

/// One successful login that does not fit its user: impossible travel, a new country or
/// network, an unusual hour. About one login, so it starts and ends at `time`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LoginAnomaly {
    pub source: IpAddr,
    pub user: String,
    pub service: Service,
    /// The host logged in to (the logging host), when the log names it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// When the login happened.
    pub time: Timestamp,
    /// Where the source is, when a GeoIP database is configured.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub geo: Option<GeoInfo>,
    /// The login it is compared with (impossible travel: the one before).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub previous: Option<PreviousLogin>,
    /// Impossible travel: great-circle distance between the two places, less both
    /// accuracy radii, and the speed it takes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub distance_km: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub speed_kmh: Option<f64>,
    /// Unusual hours: the hour of the week (UTC, Monday 00:00 is 0) of the login, and the
    /// user's logins learned so far.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hour_of_week: Option<u8>,
    /// Successful logins of this user learned before this one.
    pub logins_known: u64,
    /// 0..1.
    pub confidence: f64,
    /// A short sentence a person reads at a glance.
    pub evidence: String,
}

/// The login an anomaly is compared with.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PreviousLogin {
    pub source: IpAddr,
    pub time: Timestamp,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub geo: Option<GeoInfo>,
}

/// A protected host sending out far more than its baseline, or a large volume to an
/// external address it never talked to, in one counting window.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ExfilDetection {
    /// The protected (internal) host sending.
    pub source: IpAddr,
    /// The destination that took most of the bytes, or the smallest prefix covering the
    /// top destinations.
    pub target: Cidr,
    /// `volume` (over baseline) or `new_destination` (much to a never-seen address).
    pub reason: ExfilReason,
    /// Bytes sent to external addresses in the busiest window (scaled by sampling).
    pub bytes: u64,
    /// What the host usually sends in a window (learned); 0 while learning.
    pub baseline_bytes: u64,
    /// Seconds of the counting window.
    pub window_s: u64,
    /// The destinations that took most of the bytes.
    pub top_destinations: Vec<DestinationBytes>,
    /// Flow records counted toward it.
    pub flows: u64,
    pub start: Timestamp,
    /// Set once a window passed under the threshold; `null` before.
    pub end: Option<Timestamp>,
    pub last_seen: Timestamp,
    /// 0..1.
    pub confidence: f64,
    /// A short sentence a person reads at a glance.
    pub evidence: String,
}

/// Why an exfiltration was reported.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExfilReason {
    /// Far more than the host's learned baseline (and more than the floor).
    Volume,
    /// Much to an external address the host never talked to before.
    NewDestination,
}

impl ExfilReason {
    pub const fn as_str(self) -> &'static str {
        match self {
            ExfilReason::Volume => "volume",
            ExfilReason::NewDestination => "new_destination",
        }
    }
}

/// A destination and the bytes sent to it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct DestinationBytes {
    pub addr: IpAddr,
    pub bytes: u64,
    /// Never seen from this host before the window.
    pub new: bool,
}

/// An HTTP flood from one client, from access logs.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct HttpFloodDetection {
    /// The client.
    pub source: IpAddr,
    /// The virtual host most requested, when the log names it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// Requests counted while the flood lasted.
    pub requests: u64,
    /// Highest requests per second over the counting window.
    pub peak_rps: f64,
    /// The client's usual rate (learned), 0 when new.
    pub baseline_rps: f64,
    /// Share of the requests answered with an error status (4xx, 5xx).
    pub error_share: f64,
    /// The most requested path, when one path has a tenth or more.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub top_path: Option<String>,
    pub start: Timestamp,
    pub end: Option<Timestamp>,
    pub last_seen: Timestamp,
    /// 0..1.
    pub confidence: f64,
    /// A short sentence a person reads at a glance.
    pub evidence: String,
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

    #[test]
    fn auth_kinds_serialise_with_their_names_and_accessors_agree() {
        let a = AuthDetection {
            source: Some("35.188.49.176".parse().unwrap()),
            user: None,
            service: Service::Ssh,
            target: Some("sd-126005".into()),
            failures: 6,
            invalid_users: 6,
            successes: 0,
            users: 6,
            sources: 1,
            top_sources: vec![],
            first_seen: Timestamp::from_secs(1),
            last_seen: Timestamp::from_secs(4),
            end: None,
            confidence: 0.6,
            evidence: "e".into(),
        };
        let d = Detection::BruteForce(a.clone());
        assert_eq!(
            serde_json::to_string(&d).unwrap(),
            r#"{"kind":"brute_force","source":"35.188.49.176","service":"ssh","target":"sd-126005","failures":6,"invalid_users":6,"successes":0,"users":6,"sources":1,"first_seen":"1970-01-01T00:00:01.000Z","last_seen":"1970-01-01T00:00:04.000Z","end":null,"confidence":0.6,"evidence":"e"}"#
        );
        for d in [
            Detection::BruteForce(a.clone()),
            Detection::UserEnumeration(a.clone()),
            Detection::PasswordSpray(a.clone()),
            Detection::CredentialStuffing(a.clone()),
            Detection::SlowBruteForce(a.clone()),
            Detection::LoginAfterFailures(a.clone()),
        ] {
            let json = serde_json::to_string(&d).unwrap();
            assert!(json.starts_with(&format!(r#"{{"kind":"{}","#, d.kind())));
            assert_eq!(d.source(), a.source);
            assert_eq!(d.address(), Some(Cidr::host(a.source.unwrap())));
            assert_eq!(d.direction(), Direction::Inbound);
            assert_eq!((d.start(), d.end()), (a.first_seen, None));
        }
        let l = LoginAnomaly {
            source: "9.8.8.8".parse().unwrap(),
            user: "vagrant".into(),
            service: Service::Ssh,
            target: None,
            time: Timestamp::from_secs(3),
            geo: Some(GeoInfo {
                country: Some("US".into()),
                ..GeoInfo::default()
            }),
            previous: None,
            distance_km: Some(12000.0),
            speed_kmh: None,
            hour_of_week: None,
            logins_known: 1,
            confidence: 0.9,
            evidence: "e".into(),
        };
        let d = Detection::ImpossibleTravel(l);
        assert_eq!(
            serde_json::to_string(&d).unwrap(),
            r#"{"kind":"impossible_travel","source":"9.8.8.8","user":"vagrant","service":"ssh","time":"1970-01-01T00:00:03.000Z","geo":{"country":"US"},"distance_km":12000.0,"logins_known":1,"confidence":0.9,"evidence":"e"}"#
        );
        assert_eq!(d.end(), Some(Timestamp::from_secs(3)));
    }
}

/// An indicator of compromise seen in our traffic or logs: one per indicator and internal
/// host, open while matches keep coming.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct IocMatchDetection {
    /// What was seen that matched: the address, domain or URL.
    pub value: String,
    /// The external address involved when the value is an address (flow or log source).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<IpAddr>,
    /// The indicator's STIX id; absent for a plain list line.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub indicator_id: Option<String>,
    /// The indicator's STIX pattern, or what the list line matched (`203.0.113.0/24`).
    pub pattern: String,
    /// The feed (source) the indicator came from.
    pub feed: String,
    /// Where it matched.
    pub matched_in: IocWhere,
    /// Our host on the other side of the flow, or the host that logged the event.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub internal_host: Option<IpAddr>,
    /// The TLP marking of the indicator (`clear`, `green`, `amber`, `amber+strict`, `red`).
    pub tlp: String,
    /// Flow records and log events that matched.
    pub matches: u64,
    /// Packets and bytes of the matching flows (scaled by sampling).
    pub packets: u64,
    pub bytes: u64,
    pub first_seen: Timestamp,
    pub last_seen: Timestamp,
    /// Set once nothing matched for the detector's quiet time.
    pub end: Option<Timestamp>,
    /// The indicator's confidence, 0..1.
    pub confidence: f64,
    pub evidence: String,
}

/// Where an indicator matched.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IocWhere {
    /// A flow's source address (someone listed talking to us).
    FlowSrc,
    /// A flow's destination address (one of ours talking to something listed).
    FlowDst,
    /// The client address of a log event (login attempt, HTTP request).
    LogSource,
    /// The host name of an HTTP request.
    Domain,
    /// The URL of an HTTP request.
    Url,
}

impl IocWhere {
    pub const fn as_str(self) -> &'static str {
        match self {
            IocWhere::FlowSrc => "flow_src",
            IocWhere::FlowDst => "flow_dst",
            IocWhere::LogSource => "log_source",
            IocWhere::Domain => "domain",
            IocWhere::Url => "url",
        }
    }
}
