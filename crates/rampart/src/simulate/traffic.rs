//! The simulated network and its normal day: who talks to whom, how often, how much. A
//! small enterprise edge: web servers, a mail server, a DNS resolver that is also the
//! domain's name server, a VPN gateway, a backup server and office clients behind NAT (IPv4)
//! or on their own addresses (IPv6). Rates follow the hour of a compressed day.
//!
//! Addresses outside the network come from ranges reserved for documentation and
//! benchmarking (198.18.0.0/15, 198.51.100.0/24, 2001:db8:f000::/36), so nothing this
//! generates names a real host on the Internet.

use super::flows::{Flags, Flow, FlowCache};
use super::rng::Rng;
use rampart_flow::{FlowFormat, FlowRecord};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

pub const PROTECTED_V4: &str = "203.0.113.0/24";
pub const PROTECTED_V6: &str = "2001:db8:1::/48";

const fn ours(last: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(203, 0, 113, last))
}
const fn ours6(last: u16) -> IpAddr {
    IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, last))
}

pub const WEB: [IpAddr; 3] = [ours(10), ours(11), ours(12)];
pub const WEB6: [IpAddr; 2] = [ours6(0x10), ours6(0x11)];
pub const MAIL: IpAddr = ours(25);
pub const MAIL6: IpAddr = ours6(0x25);
pub const DNS: IpAddr = ours(53);
pub const DNS6: IpAddr = ours6(0x53);
pub const VPN: IpAddr = ours(20);
pub const BACKUP: IpAddr = ours(30);
/// The office's IPv4 clients leave through this NAT address.
pub const NAT: IpAddr = ours(2);
/// Every server of ours, for NTP, pings and what scanners find.
pub const SERVERS: [IpAddr; 7] = [WEB[0], WEB[1], WEB[2], MAIL, DNS, VPN, BACKUP];
/// The offsite backup provider.
pub const BACKUP_PEER: IpAddr = IpAddr::V4(Ipv4Addr::new(198, 51, 100, 200));

/// Router interfaces: 1 faces the Internet, 2 the inside.
const UPLINK: u32 = 1;
const INSIDE: u32 = 2;

/// A random address on the "Internet": IPv4 in 198.18.0.0/15, IPv6 in 2001:db8:f000::/36.
pub fn internet_v4(rng: &mut Rng) -> IpAddr {
    IpAddr::V4(Ipv4Addr::from(0xc612_0000 | rng.below(1 << 17) as u32))
}
fn internet_v6(rng: &mut Rng) -> IpAddr {
    let x = (0x2001_0db8_f000u128 << 80)
        | u128::from(rng.next_u64())
        | (u128::from(rng.below(1 << 16)) << 64);
    IpAddr::V6(Ipv6Addr::from(x))
}

/// One of `n` fixed hosts of a pool (the popular CDNs, name servers, mail servers): index i
/// of pool `pool` is always the same address, and low indexes are picked far more often.
fn pooled(pool: u32, n: u32, v6: bool, rng: &mut Rng) -> IpAddr {
    let i = (f64::from(n) * rng.unit().powi(3)) as u32;
    let h = mix(u64::from(pool) << 32 | u64::from(i));
    if v6 {
        IpAddr::V6(Ipv6Addr::from((0x2001_0db8_f000u128 << 80) | u128::from(h)))
    } else {
        IpAddr::V4(Ipv4Addr::from(0xc612_0000 | (h as u32 & 0x1_ffff)))
    }
}

fn mix(mut x: u64) -> u64 {
    x ^= x >> 33;
    x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
    x ^= x >> 33;
    x
}

/// Client ports: Linux's ephemeral range.
fn ephemeral(rng: &mut Rng) -> u16 {
    rng.range(32_768, 60_999) as u16
}

/// A TTL as seen at our border: a sender's initial TTL less the hops of an Internet path.
fn internet_ttl(rng: &mut Rng) -> u8 {
    let initial = if rng.chance(0.6) { 64 } else { 128 };
    initial - rng.range(8, 22) as u8
}

/// How busy an hour is, 0..1, by linear interpolation between hourly points.
fn shape(points: &[f64; 25], hour: f64) -> f64 {
    let h = hour.rem_euclid(24.0);
    let i = h as usize;
    let f = h - i as f64;
    points[i] * (1.0 - f) + points[i + 1] * f
}

/// People at work: the office, remote workers, mail they send.
const OFFICE: [f64; 25] = [
    0.05, 0.04, 0.04, 0.04, 0.04, 0.06, 0.12, 0.35, 0.75, 0.95, 1.0, 1.0, 0.8, 0.95, 1.0, 0.95,
    0.85, 0.6, 0.35, 0.25, 0.2, 0.15, 0.1, 0.07, 0.05,
];
/// The public reaching our servers: flatter, with an evening peak.
const PUBLIC: [f64; 25] = [
    0.45, 0.35, 0.28, 0.25, 0.25, 0.3, 0.4, 0.55, 0.7, 0.8, 0.85, 0.9, 0.9, 0.9, 0.88, 0.88, 0.9,
    0.95, 1.0, 1.0, 1.0, 0.95, 0.8, 0.6, 0.45,
];
/// Machines: NTP, monitoring, Internet background noise.
const FLAT: [f64; 25] = [1.0; 25];

/// The kinds of normal traffic, with their arrivals per second at the busiest hour.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Service {
    /// The public browsing our web servers.
    WebIn,
    /// The office browsing the web (TCP 443/80).
    BrowseOut,
    /// The office on QUIC (UDP 443).
    QuicOut,
    /// Our resolver asking name servers.
    DnsRecursive,
    /// Resolvers asking our name server about our domain.
    DnsAuthoritative,
    SmtpIn,
    SmtpOut,
    /// Phones and laptops reading mail from outside.
    ImapsIn,
    /// Remote workers on WireGuard.
    Vpn,
    Ntp,
    /// A monitoring service pinging our servers.
    Ping,
    /// Internet background noise: stray SYNs from scanners everywhere, mostly unanswered.
    Noise,
}

const SERVICES: [(Service, f64, &[f64; 25]); 12] = [
    (Service::WebIn, 40.0, &PUBLIC),
    (Service::BrowseOut, 35.0, &OFFICE),
    (Service::QuicOut, 12.0, &OFFICE),
    (Service::DnsRecursive, 30.0, &OFFICE),
    (Service::DnsAuthoritative, 15.0, &PUBLIC),
    (Service::SmtpIn, 1.0, &PUBLIC),
    (Service::SmtpOut, 0.5, &OFFICE),
    (Service::ImapsIn, 2.0, &OFFICE),
    (Service::Vpn, 0.2, &OFFICE),
    (Service::Ntp, 0.3, &FLAT),
    (Service::Ping, 1.0, &FLAT),
    (Service::Noise, 2.0, &FLAT),
];

/// The backup runs from 01:00 to 03:00 of each simulated day, at this rate.
const BACKUP_HOURS: (f64, f64) = (1.0, 3.0);
const BACKUP_PPS: f64 = 6_000.0;

/// The normal traffic of the network, spawned into the flow cache step by step.
#[derive(Debug)]
pub struct Normal {
    scale: f64,
    /// IPv6 addresses of the office clients.
    clients6: Vec<IpAddr>,
    backup_until_ns: u64,
}

/// A flow's template record: the fields that stay the same in all its records.
fn key(
    src: IpAddr,
    dst: IpAddr,
    proto: u8,
    ports: Option<(u16, u16)>,
    inbound: bool,
    ttl: u8,
) -> FlowRecord {
    let mut r = FlowRecord::empty(FlowFormat::Netflow9);
    r.src_addr = src;
    r.dst_addr = dst;
    r.ip_protocol = proto;
    if let Some((s, d)) = ports {
        r.src_port = Some(s);
        r.dst_port = Some(d);
    }
    (r.in_if, r.out_if) = if inbound {
        (Some(UPLINK), Some(INSIDE))
    } else {
        (Some(INSIDE), Some(UPLINK))
    };
    r.ttl = Some(ttl);
    r.fragment = Some(false);
    r
}

/// An exchange between a client and a server: two flows (unless `answered` is false).
struct Exchange {
    client: IpAddr,
    server: IpAddr,
    proto: u8,
    cport: u16,
    sport: u16,
    /// True when the client is on the Internet side.
    client_outside: bool,
    start_ns: u64,
    duration_ns: u64,
    up: (u64, u32),
    down: (u64, u32),
}

impl Exchange {
    fn spawn(self, cache: &mut FlowCache, rng: &mut Rng) {
        let ports = matches!(self.proto, 6 | 17).then_some((self.cport, self.sport));
        let end = self.start_ns + self.duration_ns;
        let outside_ttl = internet_ttl(rng);
        let (cttl, sttl) = if self.client_outside {
            (outside_ttl, 63)
        } else {
            (63, outside_ttl)
        };
        let mut up = key(
            self.client,
            self.server,
            self.proto,
            ports,
            self.client_outside,
            cttl,
        );
        let mut down = key(
            self.server,
            self.client,
            self.proto,
            ports.map(|(c, s)| (s, c)),
            !self.client_outside,
            sttl,
        );
        if matches!(self.proto, 1 | 58) {
            let (req, rep) = if self.proto == 1 { (8, 0) } else { (128, 129) };
            (up.icmp_type, up.icmp_code, down.icmp_type, down.icmp_code) =
                (Some(req), Some(0), Some(rep), Some(0));
        }
        cache.insert(Flow::new(up, self.start_ns, end, self.up.0, self.up.1));
        // The server answers a little after the client starts and stops.
        let lag = self.duration_ns.min(20_000_000);
        cache.insert(Flow::new(
            down,
            self.start_ns + lag,
            end,
            self.down.0,
            self.down.1,
        ));
    }
}

impl Normal {
    pub fn new(scale: f64, rng: &mut Rng) -> Normal {
        let clients6 = (0..80)
            .map(|_| {
                IpAddr::V6(Ipv6Addr::from(
                    (0x2001_0db8_0001_0100u128 << 64) | u128::from(rng.next_u64()),
                ))
            })
            .collect();
        Normal {
            scale,
            clients6,
            backup_until_ns: 0,
        }
    }

    /// Spawns the flows that start in [from_ns, to_ns), at simulated hour `hour`.
    pub fn step(
        &mut self,
        from_ns: u64,
        to_ns: u64,
        hour: f64,
        day_ns: u64,
        cache: &mut FlowCache,
        rng: &mut Rng,
    ) {
        let secs = (to_ns - from_ns) as f64 / 1e9;
        for &(service, peak, points) in &SERVICES {
            let n = rng.poisson(peak * shape(points, hour) * self.scale * secs);
            for _ in 0..n {
                let at = from_ns + rng.below(to_ns - from_ns);
                self.spawn(service, at, cache, rng);
            }
        }
        let h = hour.rem_euclid(24.0);
        if h >= BACKUP_HOURS.0 && h < BACKUP_HOURS.1 && from_ns >= self.backup_until_ns {
            let left = (BACKUP_HOURS.1 - h) / 24.0 * day_ns as f64;
            let end = from_ns + left as u64;
            self.backup_until_ns = end;
            let secs = left / 1e9;
            let pps = BACKUP_PPS * self.scale;
            Exchange {
                client: BACKUP,
                server: BACKUP_PEER,
                proto: 6,
                cport: ephemeral(rng),
                sport: 22,
                client_outside: false,
                start_ns: from_ns,
                duration_ns: end - from_ns,
                up: ((pps * secs) as u64, 1_448),
                down: ((pps * secs / 2.0) as u64, 52),
            }
            .spawn(cache, rng);
        }
    }

    fn client6(&self, rng: &mut Rng) -> IpAddr {
        self.clients6[rng.below(self.clients6.len() as u64) as usize]
    }

    fn spawn(&self, service: Service, at: u64, cache: &mut FlowCache, rng: &mut Rng) {
        let secs = |rng: &mut Rng, median: f64, sigma: f64, cap: f64| -> u64 {
            (rng.lognormal(median, sigma).min(cap) * 1e9) as u64
        };
        let count = |rng: &mut Rng, median: f64, sigma: f64, cap: f64| -> u64 {
            rng.lognormal(median, sigma).clamp(1.0, cap) as u64
        };
        let size = |rng: &mut Rng, lo: u64, hi: u64| rng.range(lo, hi) as u32;
        let v6 = rng.chance(0.3);
        let ex = match service {
            Service::WebIn => {
                let server = if v6 {
                    WEB6[rng.below(2) as usize]
                } else {
                    WEB[[0, 0, 0, 1, 1, 2][rng.below(6) as usize]]
                };
                let down = count(rng, 14.0, 1.2, 20_000.0);
                Exchange {
                    client: if v6 {
                        internet_v6(rng)
                    } else {
                        internet_v4(rng)
                    },
                    server,
                    proto: 6,
                    cport: ephemeral(rng),
                    sport: if rng.chance(0.9) { 443 } else { 80 },
                    client_outside: true,
                    start_ns: at,
                    duration_ns: secs(rng, 2.0, 1.0, 120.0).max(down * 200_000),
                    up: (count(rng, 10.0, 0.8, 10_000.0), size(rng, 60, 120)),
                    down: (down, size(rng, 1_000, 1_400)),
                }
            }
            Service::BrowseOut | Service::QuicOut => {
                let quic = service == Service::QuicOut;
                let v6 = rng.chance(0.35);
                let down = count(rng, if quic { 40.0 } else { 25.0 }, 1.4, 50_000.0);
                Exchange {
                    client: if v6 { self.client6(rng) } else { NAT },
                    server: pooled(1, 3_000, v6, rng),
                    proto: if quic { 17 } else { 6 },
                    cport: ephemeral(rng),
                    sport: if quic || rng.chance(0.95) { 443 } else { 80 },
                    client_outside: false,
                    start_ns: at,
                    // No faster than about 2,000 packets/s (25 Mbit/s) for one download.
                    duration_ns: secs(rng, 3.0, 1.2, 300.0).max(down * 500_000),
                    up: (down / 2 + 2, size(rng, 52, 120)),
                    down: (down, size(rng, 1_200, 1_400)),
                }
            }
            Service::DnsRecursive | Service::DnsAuthoritative => {
                let recursive = service == Service::DnsRecursive;
                let ours = if v6 { DNS6 } else { DNS };
                let other = if recursive {
                    pooled(2, 5_000, v6, rng)
                } else {
                    pooled(3, 2_000, v6, rng)
                };
                let (client, server) = if recursive {
                    (ours, other)
                } else {
                    (other, ours)
                };
                let ex = Exchange {
                    client,
                    server,
                    proto: 17,
                    cport: rng.range(1_024, 65_535) as u16,
                    sport: 53,
                    client_outside: !recursive,
                    start_ns: at,
                    duration_ns: 0,
                    up: (1, size(rng, 60, 90)),
                    down: (1, size(rng, 90, 500)),
                };
                if recursive && rng.chance(0.02) {
                    // A name server that does not answer: the query alone.
                    let k = key(ex.client, ex.server, 17, Some((ex.cport, 53)), false, 63);
                    cache.insert(Flow::new(k, at, at, 1, ex.up.1));
                    return;
                }
                ex
            }
            Service::SmtpIn | Service::SmtpOut => {
                let inbound = service == Service::SmtpIn;
                let ours = if v6 { MAIL6 } else { MAIL };
                let peer = pooled(4, 1_000, v6, rng);
                let (client, server) = if inbound { (peer, ours) } else { (ours, peer) };
                Exchange {
                    client,
                    server,
                    proto: 6,
                    cport: ephemeral(rng),
                    sport: 25,
                    client_outside: inbound,
                    start_ns: at,
                    duration_ns: secs(rng, 2.0, 0.8, 60.0),
                    up: (count(rng, 15.0, 1.0, 5_000.0), size(rng, 400, 1_000)),
                    down: (count(rng, 12.0, 0.5, 1_000.0), size(rng, 52, 100)),
                }
            }
            Service::ImapsIn => Exchange {
                client: if v6 {
                    internet_v6(rng)
                } else {
                    internet_v4(rng)
                },
                server: if v6 { MAIL6 } else { MAIL },
                proto: 6,
                cport: ephemeral(rng),
                sport: 993,
                client_outside: true,
                start_ns: at,
                duration_ns: secs(rng, 20.0, 1.0, 300.0),
                up: (count(rng, 15.0, 0.8, 2_000.0), size(rng, 60, 150)),
                down: (count(rng, 25.0, 1.2, 20_000.0), size(rng, 600, 1_200)),
            },
            Service::Vpn => {
                let d = secs(rng, 120.0, 0.7, 900.0);
                let s = d as f64 / 1e9;
                Exchange {
                    client: internet_v4(rng),
                    server: VPN,
                    proto: 17,
                    cport: rng.range(1_024, 65_535) as u16,
                    sport: 51_820,
                    client_outside: true,
                    start_ns: at,
                    duration_ns: d,
                    up: ((25.0 * s) as u64, size(rng, 150, 400)),
                    down: ((35.0 * s) as u64, size(rng, 700, 1_100)),
                }
            }
            Service::Ntp => Exchange {
                client: SERVERS[rng.below(SERVERS.len() as u64) as usize],
                server: pooled(5, 50, false, rng),
                proto: 17,
                cport: 123,
                sport: 123,
                client_outside: false,
                start_ns: at,
                duration_ns: 0,
                up: (1, 76),
                down: (1, 76),
            },
            Service::Ping => {
                let v6 = rng.chance(0.2);
                Exchange {
                    client: pooled(6, 5, v6, rng),
                    server: if v6 {
                        WEB6[rng.below(2) as usize]
                    } else {
                        SERVERS[rng.below(SERVERS.len() as u64) as usize]
                    },
                    proto: if v6 { 58 } else { 1 },
                    cport: 0,
                    sport: 0,
                    client_outside: true,
                    start_ns: at,
                    duration_ns: 0,
                    up: (1, 84),
                    down: (1, 84),
                }
            }
            Service::Noise => {
                let dst = ours(rng.range(1, 254) as u8);
                let port = [22, 23, 80, 443, 445, 3389, 8080, 5900][rng.below(8) as usize];
                let src = internet_v4(rng);
                let k = key(
                    src,
                    dst,
                    6,
                    Some((ephemeral(rng), port)),
                    true,
                    internet_ttl(rng),
                );
                cache.insert(Flow::new(k, at, at, 1, 44).with_flags(Flags::Fixed(0x02)));
                return;
            }
        };
        ex.spawn(cache, rng);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_are_busy_by_day_and_quiet_by_night() {
        assert!(shape(&OFFICE, 10.5) > 0.9);
        assert!(shape(&OFFICE, 3.0) < 0.1);
        assert!((shape(&OFFICE, 23.5) - 0.06).abs() < 1e-9);
        assert!(shape(&PUBLIC, 20.0) > shape(&PUBLIC, 4.0));
        assert_eq!(shape(&FLAT, 47.9), 1.0);
    }

    #[test]
    fn outside_addresses_are_reserved_ones() {
        let mut rng = Rng::new(3);
        let v4: rampart_model::Cidr = "198.18.0.0/15".parse().unwrap();
        let v6: rampart_model::Cidr = "2001:db8:f000::/36".parse().unwrap();
        for _ in 0..1000 {
            assert!(v4.contains(internet_v4(&mut rng)));
            assert!(v6.contains(internet_v6(&mut rng)));
            assert!(v4.contains(pooled(1, 100, false, &mut rng)));
            assert!(v6.contains(pooled(1, 100, true, &mut rng)));
        }
    }
}
