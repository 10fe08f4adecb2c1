//! Attacks on the simulated network, sized to pass the default thresholds of rampart's
//! detectors (`[detect.ddos]` host_pps 20,000 and the per-vector ones, prefix_pps 100,000,
//! `[detect.scan]` hosts 64) with room to spare, and shaped like the real ones so that the
//! detector names the right vector: spoofed SYNs, a botnet's UDP, DNS and NTP reflection,
//! reflection spread over a whole /24, an SSH and RDP sweep.

use super::flows::{Flow, FlowCache};
use super::rng::Rng;
use super::traffic::{internet_v4, MAIL, VPN, WEB};
use rampart_flow::{FlowFormat, FlowRecord, Timestamp};
use std::fmt;
use std::net::{IpAddr, Ipv4Addr};

/// What `--scenario` runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Scenario {
    /// Normal traffic only.
    Normal,
    /// Spoofed TCP SYNs to a web server (203.0.113.10), 30,000 packets/s.
    SynFlood,
    /// A botnet's UDP to the VPN gateway (203.0.113.20), 40,000 packets/s.
    UdpFlood,
    /// DNS answers from open resolvers to a web server (203.0.113.11), 30,000 packets/s.
    DnsAmplification,
    /// NTP monlist replies to the mail server (203.0.113.25), 25,000 packets/s.
    NtpAmplification,
    /// DNS reflection spread over all of 203.0.113.0/24, 150,000 packets/s.
    CarpetBombing,
    /// One source sweeping 203.0.113.0/24 on TCP 22, 3389 and 23, 25 probes/s.
    Scan,
    /// Normal traffic, then each attack in turn: 30 s each, 20 s apart.
    Tour,
}

/// One kind of attack.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AttackKind {
    SynFlood,
    UdpFlood,
    DnsAmplification,
    NtpAmplification,
    CarpetBombing,
    Scan,
}

impl AttackKind {
    /// The order of the tour: the floods first, the subtler ones after.
    pub const TOUR: [AttackKind; 6] = [
        AttackKind::SynFlood,
        AttackKind::DnsAmplification,
        AttackKind::UdpFlood,
        AttackKind::NtpAmplification,
        AttackKind::CarpetBombing,
        AttackKind::Scan,
    ];

    /// The target, as the detector reports it.
    pub fn target(self) -> &'static str {
        match self {
            AttackKind::SynFlood => "203.0.113.10",
            AttackKind::UdpFlood => "203.0.113.20",
            AttackKind::DnsAmplification => "203.0.113.11",
            AttackKind::NtpAmplification => "203.0.113.25",
            AttackKind::CarpetBombing | AttackKind::Scan => "203.0.113.0/24",
        }
    }

    /// The DDoS vector name the detector should give, or "scan".
    pub fn vector(self) -> &'static str {
        match self {
            AttackKind::SynFlood => "syn_flood",
            AttackKind::UdpFlood => "udp_flood",
            AttackKind::DnsAmplification | AttackKind::CarpetBombing => "dns_amplification",
            AttackKind::NtpAmplification => "ntp_amplification",
            AttackKind::Scan => "scan",
        }
    }

    /// Packets per second (all of the attack) and mean IP bytes per packet.
    pub fn rate(self) -> (u64, u32) {
        match self {
            // SYNs with options: 60 bytes.
            AttackKind::SynFlood => (30_000, 60),
            AttackKind::UdpFlood => (40_000, 1_200),
            // EDNS answers near the 1,232-byte limit most resolvers keep to: no fragments.
            AttackKind::DnsAmplification => (30_000, 1_300),
            // monlist replies: 468 bytes.
            AttackKind::NtpAmplification => (25_000, 468),
            AttackKind::CarpetBombing => (150_000, 1_300),
            AttackKind::Scan => (SCAN_PROBES_PER_S, 44),
        }
    }

    /// How it is made, for the notice.
    fn how(self) -> &'static str {
        match self {
            AttackKind::SynFlood => "TCP SYN to port 443 from spoofed sources",
            AttackKind::UdpFlood => "UDP from 800 bots to random ports",
            AttackKind::DnsAmplification => "DNS answers from 2,000 open resolvers",
            AttackKind::NtpAmplification => "NTP monlist replies from 1,000 servers",
            AttackKind::CarpetBombing => "DNS answers from 3,000 resolvers to every address",
            AttackKind::Scan => {
                "TCP SYN to ports 22, 3389, 23 of every address, from 198.51.100.66"
            }
        }
    }
}

/// The scanner's address and pace.
pub const SCANNER: IpAddr = IpAddr::V4(Ipv4Addr::new(198, 51, 100, 66));
const SCAN_PROBES_PER_S: u64 = 25;
const SCAN_PORTS: [u16; 3] = [22, 3389, 23];

/// When attacks run: a single scenario attacks from 10 s to 70 s of every 120 s; the tour
/// waits 20 s, then runs each attack for 30 s with 20 s between them, and starts over.
pub fn schedule(scenario: Scenario, elapsed_ns: u64) -> Option<(u64, AttackKind, u64, u64)> {
    const S: u64 = 1_000_000_000;
    let single = |kind| {
        let cycle = elapsed_ns / (120 * S);
        let start = cycle * 120 * S + 10 * S;
        (elapsed_ns >= start && elapsed_ns < start + 60 * S).then_some((
            cycle,
            kind,
            start,
            start + 60 * S,
        ))
    };
    match scenario {
        Scenario::Normal => None,
        Scenario::SynFlood => single(AttackKind::SynFlood),
        Scenario::UdpFlood => single(AttackKind::UdpFlood),
        Scenario::DnsAmplification => single(AttackKind::DnsAmplification),
        Scenario::NtpAmplification => single(AttackKind::NtpAmplification),
        Scenario::CarpetBombing => single(AttackKind::CarpetBombing),
        Scenario::Scan => single(AttackKind::Scan),
        Scenario::Tour => {
            let t = elapsed_ns.checked_sub(20 * S)?;
            let slot = t / (50 * S);
            let start = 20 * S + slot * 50 * S;
            let kind = AttackKind::TOUR[(slot % AttackKind::TOUR.len() as u64) as usize];
            (t % (50 * S) < 30 * S).then_some((slot, kind, start, start + 30 * S))
        }
    }
}

/// An attack starting or stopping, for the person watching.
#[derive(Clone, Debug, PartialEq)]
pub struct Notice {
    pub at: Timestamp,
    pub kind: AttackKind,
    pub started: bool,
}

impl fmt::Display for Notice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let k = self.kind;
        let (pps, size) = k.rate();
        if !self.started {
            return write!(f, "{} attack on {} stops", k.vector(), k.target());
        }
        let mbps = pps as f64 * f64::from(size) * 8.0 / 1e6;
        write!(
            f,
            "{} attack on {} starts: {} packets/s, {:.0} Mbit/s ({})",
            k.vector(),
            k.target(),
            pps,
            mbps,
            k.how()
        )
    }
}

/// An attack under way.
#[derive(Debug)]
pub struct Attack {
    pub instance: u64,
    pub kind: AttackKind,
    pub start_ns: u64,
    pub end_ns: u64,
    /// Fractional packets carried between steps (spoofed floods, scans).
    carry: f64,
    /// The scan's position: probes sent so far.
    probes: u64,
}

fn record(src: IpAddr, dst: IpAddr, proto: u8, sport: u16, dport: u16, ttl: u8) -> FlowRecord {
    let mut r = FlowRecord::empty(FlowFormat::Netflow9);
    r.src_addr = src;
    r.dst_addr = dst;
    r.ip_protocol = proto;
    r.src_port = Some(sport);
    r.dst_port = Some(dport);
    r.in_if = Some(1);
    r.out_if = Some(2);
    r.ttl = Some(ttl);
    r.fragment = Some(false);
    r
}

/// UDP source ports a bot uses: high ones that no reflection vector claims.
fn bot_port(rng: &mut Rng) -> u16 {
    loop {
        let p = rng.range(1_024, 65_535) as u16;
        if !matches!(p, 1900 | 3702 | 4500 | 11211) {
            return p;
        }
    }
}

fn ours(last: u64) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(203, 0, 113, last as u8))
}

impl Attack {
    /// Starts an attack: the flows of its sources go into the cache for its whole length.
    pub fn start(
        instance: u64,
        kind: AttackKind,
        start_ns: u64,
        end_ns: u64,
        cache: &mut FlowCache,
        rng: &mut Rng,
    ) -> Attack {
        let (pps, size) = kind.rate();
        let secs = (end_ns - start_ns) as f64 / 1e9;
        // (sources, target, protocol, fixed source port, size jitter)
        let sources = match kind {
            AttackKind::UdpFlood => 800,
            AttackKind::DnsAmplification => 2_000,
            AttackKind::NtpAmplification => 1_000,
            AttackKind::CarpetBombing => 3_000,
            AttackKind::SynFlood | AttackKind::Scan => 0,
        };
        if sources > 0 {
            // Uneven sources, as real ones are: weights 0.5..1.5, normalised to the rate.
            let weights: Vec<f64> = (0..sources).map(|_| 0.5 + rng.unit()).collect();
            let total: f64 = weights.iter().sum();
            // Every bot or reflector has its own distance, so TTLs spread.
            for w in weights {
                let src = internet_v4(rng);
                let ttl = [64u8, 128, 255][rng.below(3) as usize] - rng.range(6, 24) as u8;
                let (dst, sport, dport, size) = match kind {
                    AttackKind::UdpFlood => (
                        VPN,
                        bot_port(rng),
                        rng.range(1, 65_535) as u16,
                        rng.range(1_000, 1_400) as u32,
                    ),
                    AttackKind::DnsAmplification => {
                        (WEB[1], 53, rng.range(1_024, 65_535) as u16, size)
                    }
                    AttackKind::NtpAmplification => {
                        (MAIL, 123, rng.range(1_024, 65_535) as u16, size)
                    }
                    _ => (
                        ours(rng.range(1, 254)),
                        53,
                        rng.range(1_024, 65_535) as u16,
                        size,
                    ),
                };
                let packets = (pps as f64 * w / total * secs).round() as u64;
                let key = record(src, dst, 17, sport, dport, ttl);
                cache.insert(Flow::new(key, start_ns, end_ns, packets, size));
            }
        }
        Attack {
            instance,
            kind,
            start_ns,
            end_ns,
            carry: 0.0,
            probes: 0,
        }
    }

    /// The packets of [from_ns, to_ns) that are flows of their own: spoofed SYNs and scan
    /// probes (with the resets of the hosts that exist).
    pub fn step(
        &mut self,
        from_ns: u64,
        to_ns: u64,
        cache: &mut FlowCache,
        rng: &mut Rng,
        out: &mut Vec<FlowRecord>,
    ) {
        let from = from_ns.max(self.start_ns);
        let to = to_ns.min(self.end_ns);
        if from >= to {
            return;
        }
        let (pps, size) = self.kind.rate();
        let due = pps as f64 * (to - from) as f64 / 1e9 + self.carry;
        let n = due.floor() as u64;
        self.carry = due - n as f64;
        match self.kind {
            AttackKind::SynFlood => {
                for _ in 0..n {
                    let at = Timestamp::from_nanos(from + rng.below(to - from));
                    // One tool on one host: one initial TTL, one path.
                    let mut r = record(
                        internet_v4(rng),
                        WEB[0],
                        6,
                        rng.range(1_024, 65_535) as u16,
                        443,
                        51,
                    );
                    r.tcp_flags = Some(0x02);
                    r.packets = 1;
                    r.bytes = u64::from(size);
                    (r.start, r.end) = (at, at);
                    cache.export_packet(r, rng, out);
                }
            }
            AttackKind::Scan => {
                for i in 0..n {
                    let at = from + (to - from) * i / n.max(1);
                    let k = self.probes;
                    self.probes += 1;
                    let host = ours(k % 254 + 1);
                    let port = SCAN_PORTS[(k / 254 % SCAN_PORTS.len() as u64) as usize];
                    let sport = 40_000 + (k % 20_000) as u16;
                    let mut probe = record(SCANNER, host, 6, sport, port, 52);
                    probe.tcp_flags = Some(0x02);
                    probe.packets = 1;
                    probe.bytes = u64::from(size);
                    let t = Timestamp::from_nanos(at);
                    (probe.start, probe.end) = (t, t);
                    cache.export_packet(probe, rng, out);
                    if super::traffic::SERVERS.contains(&host) {
                        // A closed port answers with a reset, which is no positive answer.
                        let mut rst = record(host, SCANNER, 6, port, sport, 63);
                        (rst.in_if, rst.out_if) = (Some(2), Some(1));
                        rst.tcp_flags = Some(0x14);
                        rst.packets = 1;
                        rst.bytes = 40;
                        (rst.start, rst.end) = (t, t);
                        cache.export_packet(rst, rng, out);
                    }
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    const S: u64 = 1_000_000_000;

    #[test]
    fn schedules() {
        assert_eq!(schedule(Scenario::Normal, 30 * S), None);
        assert_eq!(schedule(Scenario::SynFlood, 9 * S), None);
        assert_eq!(
            schedule(Scenario::SynFlood, 10 * S),
            Some((0, AttackKind::SynFlood, 10 * S, 70 * S))
        );
        assert_eq!(schedule(Scenario::SynFlood, 70 * S), None);
        assert_eq!(schedule(Scenario::SynFlood, 131 * S).map(|s| s.0), Some(1));
        assert_eq!(schedule(Scenario::Tour, 19 * S), None);
        assert_eq!(
            schedule(Scenario::Tour, 20 * S),
            Some((0, AttackKind::SynFlood, 20 * S, 50 * S))
        );
        assert_eq!(schedule(Scenario::Tour, 55 * S), None);
        assert_eq!(
            schedule(Scenario::Tour, 75 * S).map(|s| s.1),
            Some(AttackKind::DnsAmplification)
        );
        // After the last attack, the tour starts over.
        assert_eq!(
            schedule(Scenario::Tour, (20 + 300) * S).map(|s| s.1),
            Some(AttackKind::SynFlood)
        );
    }

    #[test]
    fn notices_say_what_where_and_how_much() {
        let n = Notice {
            at: Timestamp::EPOCH,
            kind: AttackKind::DnsAmplification,
            started: true,
        };
        assert_eq!(
            n.to_string(),
            "dns_amplification attack on 203.0.113.11 starts: 30000 packets/s, 312 Mbit/s \
             (DNS answers from 2,000 open resolvers)"
        );
    }
}
