//! Attack captures for the end-to-end tests of `rampart analyze` and for benchmarks: Ethernet
//! frames with correct IPv4, TCP, UDP and ICMP checksums, a benign background (web sessions
//! with real handshakes, DNS to an authoritative server, pings, one bulk transfer) and attack
//! streams at a chosen multiple of their threshold, written as microsecond pcap (linktype 1).
//! Everything comes from one xorshift generator, so a seed always gives the same capture.
//!
//! The protected space is 203.0.113.0/24 and 2001:db8:1::/48. Background hosts: web servers
//! 203.0.113.10 (HTTPS) and .20 (HTTP), DNS server .53, bulk receiver .30, web server
//! 2001:db8:1::10. Attack targets are chosen by the caller (the tests use .100 and up).
//!
//! Frames longer than the snap length are stored truncated with their real length, as
//! `tcpdump -s` does: only headers matter to flow accounting, and it keeps captures small.

#![allow(dead_code)]

use std::fmt::Write as _;
use std::io::{self, Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::Path;

/// 2026-11-22T10:00:00Z: scenario time 0, in Unix nanoseconds.
pub const BASE_NS: u64 = 1_795_341_600_000_000_000;
pub const NS: u64 = 1_000_000_000;
pub const PROTECT_V4: &str = "203.0.113.0/24";
pub const PROTECT_V6: &str = "2001:db8:1::/48";
/// Stored bytes per frame by default: Ethernet + IPv6 + TCP with options is 94.
pub const SNAPLEN: usize = 128;
/// Ethernet MTU: IPv4 datagrams longer than this are fragmented.
const MTU: usize = 1500;

pub const WEB_HTTPS: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 10);
pub const WEB_HTTP: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 20);
pub const BULK_RECEIVER: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 30);
pub const DNS_SERVER: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 53);
pub const WEB_V6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 0x10);
const BULK_SENDER: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 200);
const MONITOR: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 9);
const MONITOR_V6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0xffff, 0, 0, 0, 0, 9);

/// Background rates. The bulk transfer is 50 Mbit/s of 1488-byte packets: 4,200 pps of
/// ACK-class packets toward one host, which is why ack_flood's threshold sits above it.
const BULK_BPS: f64 = 50e6;
const WEB_SESSIONS_PER_S: f64 = 10.0;
const WEB_V6_SESSIONS_PER_S: f64 = 2.0;
const DNS_QUERIES_PER_S: f64 = 200.0;

// ---------------------------------------------------------------------------------------
// Randomness

/// xorshift64*: small, fast, and the same sequence everywhere.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1)
    }
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    pub fn u32(&mut self) -> u32 {
        (self.next_u64() >> 32) as u32
    }
    pub fn u16(&mut self) -> u16 {
        (self.next_u64() >> 48) as u16
    }
    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next_u64() % (hi - lo + 1)
    }
    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
    /// Exponentially distributed gap for `rate` events per second, in nanoseconds.
    pub fn exp_gap_ns(&mut self, rate: f64) -> u64 {
        let u = self.unit().max(1e-12);
        (-u.ln() / rate * NS as f64) as u64
    }
    pub fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[(self.next_u64() % items.len() as u64) as usize]
    }
    pub fn ephemeral_port(&mut self) -> u16 {
        self.range(32_768, 60_999) as u16
    }
    /// A public-looking IPv4 address outside the protected space and the documentation
    /// networks the scenario uses for named hosts.
    pub fn public_v4(&mut self) -> IpAddr {
        loop {
            let a = Ipv4Addr::from(self.u32());
            let o = a.octets();
            let bad = matches!(o[0], 0 | 10 | 127 | 169 | 172 | 192 | 198 | 203 | 224..=255);
            if !bad {
                return IpAddr::V4(a);
            }
        }
    }
    /// A global-unicast-looking IPv6 address in 2a00::/12.
    pub fn public_v6(&mut self) -> IpAddr {
        let x = (u128::from(self.next_u64()) << 64) | u128::from(self.next_u64());
        IpAddr::V6(Ipv6Addr::from((0x2a0u128 << 116) | (x >> 12)))
    }
    /// TTL as seen at our border: an initial TTL of 64, 128 or 255 less 4–25 hops.
    pub fn path_ttl(&mut self) -> u8 {
        let initial = self.pick(&[64u8, 64, 128, 255]);
        initial - self.range(4, 25) as u8
    }
}

// ---------------------------------------------------------------------------------------
// Checksums and headers

fn sum16(mut acc: u64, data: &[u8]) -> u64 {
    let mut chunks = data.chunks_exact(2);
    for c in &mut chunks {
        acc += u64::from(u16::from_be_bytes([c[0], c[1]]));
    }
    if let [last] = chunks.remainder() {
        acc += u64::from(*last) << 8;
    }
    acc
}

fn fold(mut acc: u64) -> u16 {
    while acc >> 16 != 0 {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    !(acc as u16)
}

/// The Internet checksum of `parts` laid end to end; every part but the last has even length.
pub fn checksum(parts: &[&[u8]]) -> u16 {
    fold(parts.iter().fold(0, |acc, p| sum16(acc, p)))
}

/// The TCP/UDP/ICMPv6 pseudo-header.
fn pseudo_header(src: IpAddr, dst: IpAddr, proto: u8, len: usize) -> Vec<u8> {
    let mut p = Vec::with_capacity(40);
    match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            p.extend_from_slice(&s.octets());
            p.extend_from_slice(&d.octets());
            p.extend_from_slice(&[0, proto]);
            p.extend_from_slice(&(len as u16).to_be_bytes());
        }
        _ => {
            p.extend_from_slice(&v6_octets(src));
            p.extend_from_slice(&v6_octets(dst));
            p.extend_from_slice(&(len as u32).to_be_bytes());
            p.extend_from_slice(&[0, 0, 0, proto]);
        }
    }
    p
}

fn v6_octets(a: IpAddr) -> [u8; 16] {
    match a {
        IpAddr::V4(a) => a.to_ipv6_mapped().octets(),
        IpAddr::V6(a) => a.octets(),
    }
}

pub const FIN: u8 = 0x01;
pub const SYN: u8 = 0x02;
pub const RST: u8 = 0x04;
pub const PSH: u8 = 0x08;
pub const ACK: u8 = 0x10;
pub const URG: u8 = 0x20;

/// Options of a Linux SYN: MSS 1460, SACK permitted, timestamps, NOP, window scale 7.
pub fn syn_options(tsval: u32) -> Vec<u8> {
    let mut o = vec![2, 4, 0x05, 0xb4, 4, 2, 8, 10];
    o.extend_from_slice(&tsval.to_be_bytes());
    o.extend_from_slice(&[0, 0, 0, 0, 1, 3, 3, 7]);
    o
}

/// Filler bytes that the bulk of every payload is cut from, with running sums of their
/// 16-bit words, so that a checksum over any stretch of them costs two lookups: the tests
/// build a quarter of a million packets in debug builds.
struct Pool {
    bytes: Vec<u8>,
    /// `sums[k]`: the sum of the first `k` big-endian words.
    sums: Vec<u64>,
}

/// Longest stretch of filler one payload takes; payloads here stay under 3 KB.
const POOL_BYTES: usize = 1 << 16;

fn pool() -> &'static Pool {
    static POOL: std::sync::OnceLock<Pool> = std::sync::OnceLock::new();
    POOL.get_or_init(|| {
        let mut rng = Rng::new(0x706f_6f6c);
        let bytes: Vec<u8> = (0..POOL_BYTES)
            .map(|_| (rng.next_u64() >> 56) as u8)
            .collect();
        let mut sums = Vec::with_capacity(POOL_BYTES / 2 + 1);
        let mut acc = 0u64;
        sums.push(acc);
        for w in bytes.chunks_exact(2) {
            acc += u64::from(u16::from_be_bytes([w[0], w[1]]));
            sums.push(acc);
        }
        Pool { bytes, sums }
    })
}

/// A payload: some bytes of its own, then a stretch of filler, with the unfolded sum of
/// its 16-bit words for checksums.
#[derive(Clone, Debug)]
pub struct Body {
    head: Vec<u8>,
    tail: &'static [u8],
    sum: u64,
}

impl Body {
    pub fn empty() -> Body {
        Body::bytes(&[])
    }

    pub fn bytes(b: &[u8]) -> Body {
        Body {
            head: b.to_vec(),
            tail: &[],
            sum: sum16(0, b),
        }
    }

    /// `head`, then filler from a position picked by `pick`, `len` bytes in all (at least
    /// the head).
    pub fn filled(mut head: Vec<u8>, len: usize, pick: u64) -> Body {
        if len <= head.len() {
            return Body::bytes(&head);
        }
        // The filler must start on a word boundary of the payload for the sums to add up.
        if head.len() % 2 == 1 {
            head.push(b' ');
        }
        let n = (len - head.len()).min(POOL_BYTES);
        let p = pool();
        let at = (pick % (POOL_BYTES - n + 1) as u64) as usize & !1;
        let at = at.min(POOL_BYTES - n) & !1;
        let mut tail_sum = p.sums[(at + n) / 2] - p.sums[at / 2];
        if n % 2 == 1 {
            tail_sum += u64::from(p.bytes[at + n - 1]) << 8;
        }
        Body {
            sum: sum16(0, &head) + tail_sum,
            head,
            tail: &p.bytes[at..at + n],
        }
    }

    pub fn len(&self) -> usize {
        self.head.len() + self.tail.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn to_vec(&self) -> Vec<u8> {
        [self.head.as_slice(), self.tail].concat()
    }
}

/// A TCP header with the checksum of it and `body`. `options` must be a multiple of 4
/// bytes long.
#[allow(clippy::too_many_arguments)]
pub fn tcp_header(
    src: IpAddr,
    dst: IpAddr,
    sp: u16,
    dp: u16,
    seq: u32,
    ack: u32,
    flags: u8,
    window: u16,
    options: &[u8],
    body: &Body,
) -> Vec<u8> {
    let header_len = 20 + options.len();
    let mut s = Vec::with_capacity(header_len);
    s.extend_from_slice(&sp.to_be_bytes());
    s.extend_from_slice(&dp.to_be_bytes());
    s.extend_from_slice(&seq.to_be_bytes());
    s.extend_from_slice(&ack.to_be_bytes());
    s.push(((header_len / 4) as u8) << 4);
    s.push(flags);
    s.extend_from_slice(&window.to_be_bytes());
    s.extend_from_slice(&[0, 0, 0, 0]); // checksum, urgent pointer
    s.extend_from_slice(options);
    let pseudo = pseudo_header(src, dst, 6, header_len + body.len());
    let c = fold(sum16(sum16(body.sum, &pseudo), &s));
    s[16..18].copy_from_slice(&c.to_be_bytes());
    s
}

/// A UDP header with the checksum of it and `body`.
pub fn udp_header(src: IpAddr, dst: IpAddr, sp: u16, dp: u16, body: &Body) -> [u8; 8] {
    let len = 8 + body.len();
    let mut h = [0u8; 8];
    h[..2].copy_from_slice(&sp.to_be_bytes());
    h[2..4].copy_from_slice(&dp.to_be_bytes());
    h[4..6].copy_from_slice(&(len as u16).to_be_bytes());
    let pseudo = pseudo_header(src, dst, 17, len);
    let c = match fold(sum16(sum16(body.sum, &pseudo), &h)) {
        0 => 0xffff, // zero means "no checksum" in UDP
        c => c,
    };
    h[6..8].copy_from_slice(&c.to_be_bytes());
    h
}

/// A whole UDP datagram with its checksum.
pub fn udp_datagram(src: IpAddr, dst: IpAddr, sp: u16, dp: u16, payload: &[u8]) -> Vec<u8> {
    let body = Body::bytes(payload);
    [&udp_header(src, dst, sp, dp, &body)[..], payload].concat()
}

/// An ICMP (IPv4) or ICMPv6 echo request or reply header with the checksum of it and `body`.
pub fn icmp_echo_header(
    src: IpAddr,
    dst: IpAddr,
    request: bool,
    ident: u16,
    seq: u16,
    body: &Body,
) -> [u8; 8] {
    let v6 = src.is_ipv6();
    let kind = match (v6, request) {
        (false, true) => 8,
        (false, false) => 0,
        (true, true) => 128,
        (true, false) => 129,
    };
    let mut m = [kind, 0, 0, 0, 0, 0, 0, 0];
    m[4..6].copy_from_slice(&ident.to_be_bytes());
    m[6..8].copy_from_slice(&seq.to_be_bytes());
    let mut acc = sum16(body.sum, &m);
    if v6 {
        acc = sum16(acc, &pseudo_header(src, dst, 58, 8 + body.len()));
    }
    m[2..4].copy_from_slice(&fold(acc).to_be_bytes());
    m
}

/// A 20-byte IPv4 header with its checksum. `frag` holds the flags and the offset field.
fn ipv4_header(
    src: Ipv4Addr,
    dst: Ipv4Addr,
    proto: u8,
    ttl: u8,
    id: u16,
    frag: u16,
    len: usize,
) -> [u8; 20] {
    let mut h = [0u8; 20];
    h[0] = 0x45;
    h[2..4].copy_from_slice(&(len as u16).to_be_bytes());
    h[4..6].copy_from_slice(&id.to_be_bytes());
    h[6..8].copy_from_slice(&frag.to_be_bytes());
    h[8] = ttl;
    h[9] = proto;
    h[12..16].copy_from_slice(&src.octets());
    h[16..20].copy_from_slice(&dst.octets());
    let c = checksum(&[&h]);
    h[10..12].copy_from_slice(&c.to_be_bytes());
    h
}

/// Router-side and host-side MAC addresses: inbound frames go router → host.
const ROUTER_MAC: [u8; 6] = [0x02, 0x00, 0x5e, 0x00, 0x00, 0x01];
const HOST_MAC: [u8; 6] = [0x02, 0x00, 0x5e, 0x00, 0x00, 0x02];

// ---------------------------------------------------------------------------------------
// The capture

#[derive(Clone, Copy, Debug)]
struct Stored {
    t_ns: u64,
    at: usize,
    caplen: u32,
    len: u32,
}

/// Frames in the making, in any order; sorted by time when written.
#[derive(Debug)]
pub struct Capture {
    bytes: Vec<u8>,
    index: Vec<Stored>,
    snaplen: usize,
    /// IP packets stored (every frame is one).
    pub ip_packets: u64,
}

/// IP-layer fields of one packet.
#[derive(Clone, Copy, Debug)]
pub struct Ip {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub ttl: u8,
    pub id: u16,
    /// Don't Fragment (IPv4): set by TCP stacks, usually clear on UDP.
    pub df: bool,
}

impl Ip {
    pub fn new(src: IpAddr, dst: IpAddr, ttl: u8, id: u16) -> Self {
        Ip {
            src,
            dst,
            ttl,
            id,
            df: false,
        }
    }
    pub fn df(mut self) -> Self {
        self.df = true;
        self
    }
}

impl Capture {
    pub fn new(snaplen: usize) -> Self {
        Capture {
            bytes: Vec::new(),
            index: Vec::new(),
            snaplen: snaplen.clamp(64, 65_535),
            ip_packets: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.index.len()
    }

    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    /// Stores one frame made of `parts`, truncated to the snap length.
    pub fn push_frame(&mut self, t_ns: u64, parts: &[&[u8]]) {
        let len: usize = parts.iter().map(|p| p.len()).sum();
        let at = self.bytes.len();
        let mut room = self.snaplen;
        for p in parts {
            let n = p.len().min(room);
            self.bytes.extend_from_slice(&p[..n]);
            room -= n;
        }
        self.index.push(Stored {
            t_ns,
            at,
            caplen: (self.bytes.len() - at) as u32,
            len: len as u32,
        });
    }

    /// One IP packet (or its IPv4 fragments, when longer than the MTU) in Ethernet frames,
    /// router → host toward the protected space and host → router from it. `l4` is the IP
    /// payload in pieces laid end to end.
    pub fn ip(&mut self, t_ns: u64, ip: Ip, proto: u8, l4: &[&[u8]]) {
        let (smac, dmac) = match ip.dst {
            IpAddr::V4(d) if is_protected_v4(d) => (ROUTER_MAC, HOST_MAC),
            IpAddr::V6(d) if is_protected_v6(d) => (ROUTER_MAC, HOST_MAC),
            _ => (HOST_MAC, ROUTER_MAC),
        };
        let mut eth = [0u8; 14];
        eth[..6].copy_from_slice(&dmac);
        eth[6..12].copy_from_slice(&smac);
        let len: usize = l4.iter().map(|p| p.len()).sum();
        match (ip.src, ip.dst) {
            (IpAddr::V4(s), IpAddr::V4(d)) => {
                eth[12..].copy_from_slice(&0x0800u16.to_be_bytes());
                if 20 + len <= MTU {
                    let frag = if ip.df { 0x4000 } else { 0 };
                    let h = ipv4_header(s, d, proto, ip.ttl, ip.id, frag, 20 + len);
                    let mut parts: Vec<&[u8]> = vec![&eth, &h];
                    parts.extend_from_slice(l4);
                    self.push_frame(t_ns, &parts);
                    self.ip_packets += 1;
                } else {
                    // Fragments of 1480 bytes (a multiple of 8), each a µs after the last.
                    let chunk = (MTU - 20) / 8 * 8;
                    let mut from = 0;
                    while from < len {
                        let to = (from + chunk).min(len);
                        let more = if to < len { 0x2000 } else { 0 };
                        let frag = more | ((from / 8) as u16);
                        let h = ipv4_header(s, d, proto, ip.ttl, ip.id, frag, 20 + to - from);
                        let mut parts: Vec<&[u8]> = vec![&eth, &h];
                        parts.extend(cut(l4, from, to));
                        self.push_frame(t_ns + (from / chunk) as u64 * 1_000, &parts);
                        self.ip_packets += 1;
                        from = to;
                    }
                }
            }
            _ => {
                eth[12..].copy_from_slice(&0x86ddu16.to_be_bytes());
                let mut h = [0u8; 40];
                h[0] = 0x60;
                h[1..4].copy_from_slice(&[0, (ip.id >> 8) as u8, ip.id as u8]); // flow label
                h[4..6].copy_from_slice(&(len as u16).to_be_bytes());
                h[6] = proto;
                h[7] = ip.ttl;
                h[8..24].copy_from_slice(&v6_octets(ip.src));
                h[24..40].copy_from_slice(&v6_octets(ip.dst));
                let mut parts: Vec<&[u8]> = vec![&eth, &h];
                parts.extend_from_slice(l4);
                self.push_frame(t_ns, &parts);
                self.ip_packets += 1;
            }
        }
    }

    /// Writes the frames in time order as a microsecond pcap with linktype 1 (Ethernet),
    /// times offset by [`BASE_NS`]. Returns the bytes written.
    pub fn write_pcap(&mut self, w: &mut impl Write) -> io::Result<u64> {
        self.index.sort_by_key(|s| s.t_ns);
        let mut out = io::BufWriter::new(w);
        out.write_all(&0xa1b2_c3d4u32.to_le_bytes())?;
        out.write_all(&2u16.to_le_bytes())?;
        out.write_all(&4u16.to_le_bytes())?;
        out.write_all(&[0; 8])?; // thiszone, sigfigs
        out.write_all(&(self.snaplen as u32).to_le_bytes())?;
        out.write_all(&1u32.to_le_bytes())?;
        let mut written = 24u64;
        for s in &self.index {
            let t = BASE_NS + s.t_ns;
            out.write_all(&((t / NS) as u32).to_le_bytes())?;
            out.write_all(&((t % NS / 1_000) as u32).to_le_bytes())?;
            out.write_all(&s.caplen.to_le_bytes())?;
            out.write_all(&s.len.to_le_bytes())?;
            out.write_all(&self.bytes[s.at..s.at + s.caplen as usize])?;
            written += 16 + u64::from(s.caplen);
        }
        out.flush()?;
        Ok(written)
    }

    pub fn write_file(&mut self, path: &Path) -> io::Result<u64> {
        let mut f = std::fs::File::create(path)?;
        self.write_pcap(&mut f)
    }
}

fn is_protected_v4(a: Ipv4Addr) -> bool {
    a.octets()[..3] == [203, 0, 113]
}

fn is_protected_v6(a: Ipv6Addr) -> bool {
    a.segments()[..3] == [0x2001, 0xdb8, 1]
}

/// Bytes `from..to` of `parts` laid end to end, as slices of them.
fn cut<'a>(parts: &[&'a [u8]], from: usize, to: usize) -> Vec<&'a [u8]> {
    let mut out = Vec::new();
    let mut at = 0;
    for p in parts {
        let (lo, hi) = (from.max(at), to.min(at + p.len()));
        if lo < hi {
            out.push(&p[lo - at..hi - at]);
        }
        at += p.len();
    }
    out
}

// ---------------------------------------------------------------------------------------
// Vectors and thresholds

macro_rules! vectors {
    ($($v:ident = $name:literal,)*) => {
        /// The DDoS vectors of INTERFACES.md, named as `analyze` names them.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Vector { $($v,)* }
        impl Vector {
            pub const ALL: &'static [Vector] = &[$(Vector::$v,)*];
            pub fn name(self) -> &'static str {
                match self { $(Vector::$v => $name,)* }
            }
            pub fn parse(s: &str) -> Option<Vector> {
                match s { $($name => Some(Vector::$v),)* _ => None }
            }
        }
    };
}

vectors! {
    SynFlood = "syn_flood",
    AckFlood = "ack_flood",
    RstFlood = "rst_flood",
    TcpFlood = "tcp_flood",
    SynackReflection = "synack_reflection",
    UdpFlood = "udp_flood",
    IcmpFlood = "icmp_flood",
    IpFragmentFlood = "ip_fragment_flood",
    GreFlood = "gre_flood",
    IpFlood = "ip_flood",
    DnsAmplification = "dns_amplification",
    NtpAmplification = "ntp_amplification",
    MemcachedAmplification = "memcached_amplification",
    SsdpAmplification = "ssdp_amplification",
    SnmpAmplification = "snmp_amplification",
    CldapAmplification = "cldap_amplification",
    ChargenAmplification = "chargen_amplification",
    IsakmpAmplification = "isakmp_amplification",
    WsdAmplification = "wsd_amplification",
    UdpAmplification = "udp_amplification",
}

impl Vector {
    /// The `[detect.ddos.vector_pps]` key whose threshold this vector's packets count
    /// against: `udp_amplification` has none of its own and is UDP to the detector.
    pub fn threshold_key(self) -> &'static str {
        match self {
            Vector::UdpAmplification => "udp_flood",
            v => v.name(),
        }
    }
}

/// The thresholds a scenario is built against and `analyze` is run with (`--set`).
#[derive(Clone, Debug)]
pub struct Thresholds {
    pub host_pps: u64,
    pub host_bps: u64,
    pub prefix_pps: u64,
    pub prefix_bps: u64,
    /// `[detect.ddos.vector_pps]`, by key.
    pub vector_pps: Vec<(&'static str, u64)>,
}

impl Thresholds {
    /// The defaults' vector thresholds divided by four (captures stay small), with
    /// thresholds for the vectors that have none by default, and the prefix thresholds out of
    /// the way (so that many attacks at once on one /24 stay host attacks). The background
    /// stays under half of each: its heaviest host is the bulk receiver, 4,200 pps of
    /// ACK-class packets against ack_flood's 10,000; the DNS server takes 200 queries/s
    /// (UDP) against udp_flood's 800. udp_flood sits above ip_fragment_flood, as at the
    /// defaults (none against 2,000), so that a flood of UDP fragments is named by its
    /// fragments, yet low enough that flows, which cannot tell fragments, still see the
    /// fragment flood as a UDP flood (1,000 pps at 2x).
    pub fn reference() -> Self {
        Thresholds {
            host_pps: 30_000,
            host_bps: 500_000_000,
            prefix_pps: 10_000_000,
            prefix_bps: 100_000_000_000,
            vector_pps: vec![
                ("syn_flood", 1_250),
                ("synack_reflection", 1_250),
                ("rst_flood", 1_250),
                ("ack_flood", 10_000),
                ("tcp_flood", 500),
                ("udp_flood", 800),
                ("icmp_flood", 500),
                ("ip_fragment_flood", 500),
                ("gre_flood", 500),
                ("ip_flood", 500),
                ("dns_amplification", 2_500),
                ("ntp_amplification", 500),
                ("memcached_amplification", 250),
                ("ssdp_amplification", 250),
                ("snmp_amplification", 500),
                ("cldap_amplification", 250),
                ("chargen_amplification", 250),
                ("isakmp_amplification", 500),
                ("wsd_amplification", 250),
            ],
        }
    }

    /// For carpet bombing: the reference host thresholds and a /24 threshold of 12,000 pps,
    /// 2.4 times the background's ~5,000 pps toward the whole /24.
    pub fn carpet() -> Self {
        Thresholds {
            prefix_pps: 12_000,
            prefix_bps: 2_000_000_000,
            ..Thresholds::reference()
        }
    }

    pub fn vector(&self, v: Vector) -> u64 {
        let key = v.threshold_key();
        self.vector_pps
            .iter()
            .find(|(k, _)| *k == key)
            .map_or(self.host_pps, |&(_, t)| t)
    }

    /// `--protect` and `--set` arguments for `rampart analyze`.
    pub fn args(&self) -> Vec<String> {
        let mut a = vec![
            "--protect".to_string(),
            PROTECT_V4.to_string(),
            "--protect".to_string(),
            PROTECT_V6.to_string(),
        ];
        let mut set = |k: String, v: u64| {
            a.push("--set".to_string());
            a.push(format!("{k}={v}"));
        };
        set("detect.ddos.host_pps".into(), self.host_pps);
        set("detect.ddos.host_bps".into(), self.host_bps);
        set("detect.ddos.prefix_pps".into(), self.prefix_pps);
        set("detect.ddos.prefix_bps".into(), self.prefix_bps);
        for &(k, v) in &self.vector_pps {
            set(format!("detect.ddos.vector_pps.{k}"), v);
        }
        a
    }
}

// ---------------------------------------------------------------------------------------
// Scenarios

/// Where an attack goes.
#[derive(Clone, Copy, Debug)]
pub enum Target {
    /// Toward one protected address.
    Host(IpAddr),
    /// From a protected address toward an outside victim (one of ours attacks).
    From { attacker: IpAddr, victim: IpAddr },
    /// Spread over every host .1–.254 of a protected IPv4 /24, at `factor` × prefix_pps
    /// in total.
    Carpet(Ipv4Addr),
}

/// One attack stream: `factor` × the threshold of its vector (of prefix_pps for a carpet),
/// counted in the packets that the vector's threshold counts (answers carrying the source
/// port for reflection: their trailing fragments come on top).
#[derive(Clone, Debug)]
pub struct Attack {
    pub vector: Vector,
    pub target: Target,
    pub start_s: f64,
    pub duration_s: f64,
    pub factor: f64,
}

/// A port scan from one outside source.
#[derive(Clone, Debug)]
pub enum Scan {
    /// `ports` ports of one host, in random order.
    Vertical {
        source: Ipv4Addr,
        target: Ipv4Addr,
        ports: u16,
        start_s: f64,
        per_s: f64,
    },
    /// One port on every host .1–.254 of a /24, in random order.
    Horizontal {
        source: Ipv4Addr,
        net: Ipv4Addr,
        port: u16,
        start_s: f64,
        per_s: f64,
    },
}

/// What was put in the capture for one attack, to compare with what `analyze` finds.
#[derive(Clone, Debug)]
pub struct Truth {
    pub vector: Vector,
    /// As `analyze` prints it: an address, or a CIDR prefix for carpet bombing.
    pub target: String,
    pub direction: &'static str,
    /// Scenario time of the first attack packet, in nanoseconds (add [`BASE_NS`]).
    pub first_ns: u64,
    pub last_ns: u64,
    pub packets: u64,
    /// Packets per second the threshold counts (see [`Attack`]).
    pub rate: f64,
    pub factor: f64,
}

/// Benign background for `seconds`, plus attacks and scans, against `thresholds`.
#[derive(Clone, Debug)]
pub struct Scenario {
    pub seed: u64,
    pub seconds: f64,
    pub background: bool,
    pub snaplen: usize,
    pub thresholds: Thresholds,
    pub attacks: Vec<Attack>,
    pub scans: Vec<Scan>,
}

impl Scenario {
    pub fn new(seed: u64, seconds: f64) -> Self {
        Scenario {
            seed,
            seconds,
            background: true,
            snaplen: SNAPLEN,
            thresholds: Thresholds::reference(),
            attacks: Vec::new(),
            scans: Vec::new(),
        }
    }

    pub fn attack(
        mut self,
        vector: Vector,
        target: Target,
        start_s: f64,
        duration_s: f64,
        factor: f64,
    ) -> Self {
        self.attacks.push(Attack {
            vector,
            target,
            start_s,
            duration_s,
            factor,
        });
        self
    }

    /// Builds the capture and says what each attack put in it.
    pub fn build(&self) -> (Capture, Vec<Truth>) {
        let mut g = Gen {
            rng: Rng::new(self.seed),
            cap: Capture::new(self.snaplen),
            end_ns: secs(self.seconds),
            ip_id: 1,
        };
        if self.background {
            g.background();
        }
        let truths = self
            .attacks
            .iter()
            .map(|a| g.attack(a, &self.thresholds))
            .collect();
        for s in &self.scans {
            g.scan(s);
        }
        (g.cap, truths)
    }

    /// Builds the capture into `path`.
    pub fn write(&self, path: &Path) -> io::Result<Written> {
        let (mut cap, truths) = self.build();
        let bytes = cap.write_file(path)?;
        Ok(Written {
            truths,
            bytes,
            packets: cap.ip_packets,
        })
    }
}

/// What [`Scenario::write`] put in a file.
#[derive(Clone, Debug)]
pub struct Written {
    pub truths: Vec<Truth>,
    pub bytes: u64,
    /// IP packets (every frame is one).
    pub packets: u64,
}

fn secs(s: f64) -> u64 {
    (s.max(0.0) * NS as f64) as u64
}

/// The TCP header fields that change from segment to segment.
#[derive(Clone, Copy, Debug)]
struct Seg {
    sp: u16,
    dp: u16,
    seq: u32,
    ack: u32,
    flags: u8,
}

impl Seg {
    fn new(sp: u16, dp: u16, seq: u32, ack: u32, flags: u8) -> Seg {
        Seg {
            sp,
            dp,
            seq,
            ack,
            flags,
        }
    }
}

/// The generator: one random stream, one capture.
struct Gen {
    rng: Rng,
    cap: Capture,
    end_ns: u64,
    /// IP ID counter shared by our own hosts (Linux uses per-destination counters; one
    /// counter is as good for the tests).
    ip_id: u16,
}

impl Gen {
    fn next_id(&mut self) -> u16 {
        self.ip_id = self.ip_id.wrapping_add(1);
        self.ip_id
    }

    fn tcp(&mut self, t: u64, ip: Ip, seg: Seg, opts: &[u8], body: &Body) {
        let window = match seg.flags {
            f if f & SYN != 0 => 64_240,
            f if f & RST != 0 => 0,
            _ => 502,
        };
        let h = tcp_header(
            ip.src, ip.dst, seg.sp, seg.dp, seg.seq, seg.ack, seg.flags, window, opts, body,
        );
        self.cap.ip(t, ip.df(), 6, &[&h, &body.head, body.tail]);
    }

    fn udp(&mut self, t: u64, ip: Ip, sp: u16, dp: u16, body: &Body) {
        let h = udp_header(ip.src, ip.dst, sp, dp, body);
        self.cap.ip(t, ip, 17, &[&h, &body.head, body.tail]);
    }

    fn icmp_echo(&mut self, t: u64, ip: Ip, request: bool, ident: u16, seq: u16, body: &Body) {
        let h = icmp_echo_header(ip.src, ip.dst, request, ident, seq, body);
        self.cap
            .ip(t, ip, proto_icmp(ip.dst), &[&h, &body.head, body.tail]);
    }

    /// `len` bytes of filler.
    fn fill(&mut self, len: usize) -> Body {
        let pick = self.rng.next_u64();
        Body::filled(Vec::new(), len, pick)
    }

    /// `head` and then filler, `len` bytes in all.
    fn fill_after(&mut self, head: &[u8], len: usize) -> Body {
        let pick = self.rng.next_u64();
        Body::filled(head.to_vec(), len, pick)
    }

    /// Filler whose first byte is never zero: a flood's payload must not happen to start
    /// like a NetFlow or sFlow header, which `analyze` would try to decode.
    fn random_payload(&mut self, len: usize) -> Body {
        let first = (self.rng.next_u64() as u8) | 0x80;
        self.fill_after(&[first], len)
    }

    // ------------------------------------------------------------------ background

    fn background(&mut self) {
        self.bulk_transfer();
        self.web_sessions(IpAddr::V4(WEB_HTTPS), 443, WEB_SESSIONS_PER_S, false);
        self.web_sessions(IpAddr::V4(WEB_HTTP), 80, WEB_SESSIONS_PER_S, false);
        self.web_sessions(IpAddr::V6(WEB_V6), 443, WEB_V6_SESSIONS_PER_S, true);
        self.dns_service();
        self.pings();
    }

    /// A long download already under way when the capture starts and still running at
    /// its end (no SYN or FIN in view): 1448-byte segments at 50 Mbit/s to .30, delayed
    /// ACKs every second segment back.
    fn bulk_transfer(&mut self) {
        let (srv, cli) = (IpAddr::V4(BULK_SENDER), IpAddr::V4(BULK_RECEIVER));
        let (sp, cp) = (443u16, 51_522u16);
        let pps = BULK_BPS / (1488.0 * 8.0);
        let gap = NS as f64 / pps;
        let (mut seq, ack) = (self.rng.u32(), self.rng.u32());
        let srv_ttl = 64 - 11;
        let mut i = 0u64;
        loop {
            let t = (i as f64 * gap) as u64 + self.rng.range(0, gap as u64 / 4);
            if t >= self.end_ns {
                break;
            }
            let flags = if i % 16 == 15 { ACK | PSH } else { ACK };
            let id = self.rng.u16();
            let data = self.fill(1448);
            let ip = Ip::new(srv, cli, srv_ttl, id);
            self.tcp(t, ip, Seg::new(sp, cp, seq, ack, flags), &[], &data);
            seq = seq.wrapping_add(1448);
            if i % 2 == 1 {
                let ip = Ip::new(cli, srv, 64, self.next_id());
                self.tcp(
                    t + 40_000,
                    ip,
                    Seg::new(cp, sp, ack, seq, ACK),
                    &[],
                    &Body::empty(),
                );
            }
            i += 1;
        }
    }

    /// HTTP(S) sessions from outside clients, Poisson arrivals: handshake with options,
    /// a request, a 2–30 KB response in windows of 10 segments per round trip, delayed
    /// ACKs, and a close by the client after some idle time.
    fn web_sessions(&mut self, server: IpAddr, port: u16, per_s: f64, v6: bool) {
        let mut t0 = self.rng.exp_gap_ns(per_s);
        while t0 < self.end_ns {
            let client = if v6 {
                self.rng.public_v6()
            } else {
                self.rng.public_v4()
            };
            self.web_session(t0, client, server, port);
            t0 += self.rng.exp_gap_ns(per_s);
        }
    }

    fn web_session(&mut self, t0: u64, client: IpAddr, server: IpAddr, port: u16) {
        let r = &mut self.rng;
        let rtt = r.range(15_000_000, 120_000_000);
        let cttl = r.path_ttl();
        let cport = r.ephemeral_port();
        let (mut cseq, mut sseq) = (r.u32(), r.u32());
        let mut cid = r.u16();
        let request_len = r.range(250, 700) as usize;
        let response_len = r.range(2_000, 30_000) as usize;
        let idle = r.range(50_000_000, 800_000_000);
        let tsval = r.u32();
        let none = Body::empty();
        let mut c = || {
            cid = cid.wrapping_add(1);
            Ip::new(client, server, cttl, cid)
        };
        // Handshake: SYN in, SYN-ACK out 0.2 ms later, ACK in a round trip after.
        self.tcp(
            t0,
            c(),
            Seg::new(cport, port, cseq, 0, SYN),
            &syn_options(tsval),
            &none,
        );
        cseq = cseq.wrapping_add(1);
        let s = Ip::new(server, client, 64, self.next_id());
        let opts = syn_options(tsval ^ 0x5555);
        self.tcp(
            t0 + 200_000,
            s,
            Seg::new(port, cport, sseq, cseq, SYN | ACK),
            &opts,
            &none,
        );
        sseq = sseq.wrapping_add(1);
        let mut t = t0 + 200_000 + rtt;
        self.tcp(t, c(), Seg::new(cport, port, cseq, sseq, ACK), &[], &none);
        let request = self.fill_after(
            b"GET /index.html HTTP/1.1\r\nHost: www.example.net\r\n",
            request_len,
        );
        self.tcp(
            t + 50_000,
            c(),
            Seg::new(cport, port, cseq, sseq, ACK | PSH),
            &[],
            &request,
        );
        cseq = cseq.wrapping_add(request_len as u32);
        // Response: windows of 10 segments 0.12 ms apart, one round trip between windows.
        t += 50_000 + 2_000_000;
        let segments = response_len.div_ceil(1448);
        let mut last = t;
        for i in 0..segments {
            let ts = t + (i / 10) as u64 * rtt + (i % 10) as u64 * 120_000;
            let len = (response_len - i * 1448).min(1448);
            let data = self.fill(len);
            let flags = if i + 1 == segments { ACK | PSH } else { ACK };
            let s = Ip::new(server, client, 64, self.next_id());
            self.tcp(ts, s, Seg::new(port, cport, sseq, cseq, flags), &[], &data);
            sseq = sseq.wrapping_add(len as u32);
            if i % 2 == 1 || i + 1 == segments {
                self.tcp(
                    ts + rtt,
                    c(),
                    Seg::new(cport, port, cseq, sseq, ACK),
                    &[],
                    &none,
                );
            }
            last = ts + rtt;
        }
        // Close: client FIN after idle time, server FIN-ACK, client ACK.
        let tf = last + idle;
        self.tcp(
            tf,
            c(),
            Seg::new(cport, port, cseq, sseq, FIN | ACK),
            &[],
            &none,
        );
        cseq = cseq.wrapping_add(1);
        let s = Ip::new(server, client, 64, self.next_id());
        self.tcp(
            tf + 200_000,
            s,
            Seg::new(port, cport, sseq, cseq, FIN | ACK),
            &[],
            &none,
        );
        sseq = sseq.wrapping_add(1);
        self.tcp(
            tf + 200_000 + rtt,
            c(),
            Seg::new(cport, port, cseq, sseq, ACK),
            &[],
            &none,
        );
    }

    /// Queries from outside resolvers to our authoritative server, answered in 0.3–5 ms;
    /// most answers are small, one in thirty is a 1.6–3 KB DNSSEC answer in fragments.
    fn dns_service(&mut self) {
        let server = IpAddr::V4(DNS_SERVER);
        let mut t = self.rng.exp_gap_ns(DNS_QUERIES_PER_S);
        while t < self.end_ns {
            let client = self.rng.public_v4();
            let cport = self.rng.ephemeral_port();
            let ttl = self.rng.path_ttl();
            let qid = self.rng.range(0x100, 0xffff) as u16;
            let query = dns_message(qid, false, 0, &mut self.rng);
            let id = self.rng.u16();
            self.udp(t, Ip::new(client, server, ttl, id), cport, 53, &query);
            let size = if self.rng.range(0, 29) == 0 {
                self.rng.range(1_600, 3_000)
            } else {
                self.rng.range(60, 500)
            } as usize;
            let answer = dns_message(qid, true, size, &mut self.rng);
            let at = t + self.rng.range(300_000, 5_000_000);
            let ip = Ip::new(server, client, 64, self.next_id());
            self.udp(at, ip, 53, cport, &answer);
            t += self.rng.exp_gap_ns(DNS_QUERIES_PER_S);
        }
    }

    /// A monitoring station pings each server once a second (IPv4) and the IPv6 web server.
    fn pings(&mut self) {
        let targets = [
            IpAddr::V4(WEB_HTTPS),
            IpAddr::V4(WEB_HTTP),
            IpAddr::V4(BULK_RECEIVER),
            IpAddr::V4(DNS_SERVER),
            IpAddr::V6(WEB_V6),
        ];
        let payload: Vec<u8> = (0..56u8).collect();
        let body = Body::bytes(&payload);
        for (k, &dst) in targets.iter().enumerate() {
            let src = match dst {
                IpAddr::V4(_) => IpAddr::V4(MONITOR),
                IpAddr::V6(_) => IpAddr::V6(MONITOR_V6),
            };
            let ident = 0x4d00 + k as u16;
            let mut seq = 1u16;
            let mut t = self.rng.range(0, NS / 2);
            while t < self.end_ns {
                let ip = Ip::new(src, dst, 58, self.rng.u16()).df();
                self.icmp_echo(t, ip, true, ident, seq, &body);
                let ip = Ip::new(dst, src, 64, self.next_id());
                self.icmp_echo(t + 150_000, ip, false, ident, seq, &body);
                seq += 1;
                t += NS;
            }
        }
    }

    // ------------------------------------------------------------------ attacks

    fn attack(&mut self, a: &Attack, th: &Thresholds) -> Truth {
        let vector_rate = a.factor * th.vector(a.vector) as f64;
        let (rate, target, direction, v6) = match a.target {
            Target::Host(h) => (vector_rate, h.to_string(), "inbound", h.is_ipv6()),
            Target::From { attacker, victim } => (
                vector_rate,
                attacker.to_string(),
                "outbound",
                victim.is_ipv6(),
            ),
            Target::Carpet(net) => {
                let rate = a.factor * th.prefix_pps as f64;
                (rate, format!("{net}/24"), "inbound", false)
            }
        };
        // A fragment flood's threshold counts every fragment: two per datagram.
        let per_event = if a.vector == Vector::IpFragmentFlood {
            2.0
        } else {
            1.0
        };
        let event_gap = NS as f64 * per_event / rate.max(1e-3);
        let start = secs(a.start_s);
        let end = secs(a.start_s + a.duration_s).min(self.end_ns);
        // Reflectors answer from a fixed pool; each keeps its path TTL.
        let reflectors: Vec<(IpAddr, u8)> = (0..300)
            .map(|_| {
                let addr = if v6 {
                    self.rng.public_v6()
                } else {
                    self.rng.public_v4()
                };
                (addr, self.rng.path_ttl())
            })
            .collect();
        let before = self.cap.ip_packets;
        let (mut first, mut last) = (u64::MAX, 0);
        let mut i = 0u64;
        loop {
            // Even spacing with up to a quarter gap of jitter: the rate is exact per second.
            let jitter = self.rng.range(0, (event_gap / 4.0) as u64);
            let t = start + (i as f64 * event_gap) as u64 + jitter;
            if t >= end {
                break;
            }
            let (src, dst, ttl) = match a.target {
                Target::Host(h) => {
                    let (s, ttl) = self.attack_source(a.vector, v6, &reflectors);
                    (s, h, ttl)
                }
                Target::From { attacker, victim } => (attacker, victim, 64),
                Target::Carpet(net) => {
                    let o = net.octets();
                    let host = Ipv4Addr::new(o[0], o[1], o[2], (i % 254 + 1) as u8);
                    let (s, ttl) = self.attack_source(a.vector, false, &reflectors);
                    (s, IpAddr::V4(host), ttl)
                }
            };
            self.attack_packet(t, a.vector, src, dst, ttl);
            first = first.min(t);
            last = last.max(t);
            i += 1;
        }
        Truth {
            vector: a.vector,
            target,
            direction,
            first_ns: first,
            last_ns: last,
            packets: self.cap.ip_packets - before,
            rate,
            factor: a.factor,
        }
    }

    /// Spoofed random sources for floods, a pool of real reflectors for reflection.
    fn attack_source(&mut self, v: Vector, v6: bool, reflectors: &[(IpAddr, u8)]) -> (IpAddr, u8) {
        let reflected = v == Vector::SynackReflection || v.name().ends_with("_amplification");
        if reflected {
            self.rng.pick(reflectors)
        } else {
            let a = if v6 {
                self.rng.public_v6()
            } else {
                self.rng.public_v4()
            };
            // Flooding tools randomise the TTL or leave their host's: a mix of both.
            let ttl = if self.rng.range(0, 1) == 0 {
                self.rng.range(30, 250) as u8
            } else {
                self.rng.path_ttl()
            };
            (a, ttl)
        }
    }

    /// One attack packet (or datagram, fragmented when long) at `t`.
    fn attack_packet(&mut self, t: u64, v: Vector, src: IpAddr, dst: IpAddr, ttl: u8) {
        let id = self.rng.u16();
        let ip = Ip::new(src, dst, ttl, id);
        let r = &mut self.rng;
        let sport = r.range(1024, 65_535) as u16;
        let dport = r.range(1024, 65_535) as u16;
        let (seq, ack) = (r.u32(), r.u32());
        let none = Body::empty();
        match v {
            Vector::SynFlood => {
                // Half with Linux-like options (Mirai-style), half bare (hping-style).
                let opts = if r.range(0, 1) == 0 {
                    syn_options(r.u32())
                } else {
                    Vec::new()
                };
                let dp = r.pick(&[443u16, 443, 80]);
                self.tcp(t, ip, Seg::new(sport, dp, seq, 0, SYN), &opts, &none);
            }
            Vector::SynackReflection => {
                let sp = r.pick(&[80u16, 443, 443, 22, 8080]);
                let mss = [2, 4, 0x05, 0xb4];
                self.tcp(t, ip, Seg::new(sp, dport, seq, ack, SYN | ACK), &mss, &none);
            }
            Vector::RstFlood => {
                let flags = r.pick(&[RST, RST | ACK]);
                self.tcp(t, ip, Seg::new(sport, dport, seq, ack, flags), &[], &none);
            }
            Vector::AckFlood => {
                let len = if r.range(0, 3) == 0 {
                    r.range(1, 512) as usize
                } else {
                    0
                };
                let flags = if len > 0 { ACK | PSH } else { ACK };
                let data = self.fill(len);
                self.tcp(t, ip, Seg::new(sport, 443, seq, ack, flags), &[], &data);
            }
            Vector::TcpFlood => {
                // Christmas-tree, null and FIN scans' flag patterns at flood rates.
                let flags = r.pick(&[FIN | PSH | URG, 0, FIN, FIN | ACK]);
                self.tcp(t, ip, Seg::new(sport, dport, seq, ack, flags), &[], &none);
            }
            Vector::UdpFlood => {
                let len = r.range(18, 1400) as usize;
                let data = self.random_payload(len);
                self.udp(t, ip, sport, dport, &data);
            }
            Vector::UdpAmplification => {
                // Apple Remote Desktop (3283) answers of 1,034 bytes.
                let data = self.fill_after(&[0x00, 0x01, 0x00, 0x03], 1034);
                self.udp(t, ip, 3283, dport, &data);
            }
            Vector::IcmpFlood => {
                let len = r.range(56, 1000) as usize;
                let (ident, s) = (r.u16(), r.u16());
                let data = self.fill(len);
                self.icmp_echo(t, ip, true, ident, s, &data);
            }
            Vector::IpFragmentFlood => {
                // UDP datagrams of 1.5–2.9 KB to random ports: two fragments each.
                let len = r.range(1_500, 2_900) as usize;
                let data = self.random_payload(len);
                self.udp(t, ip, sport, dport, &data);
            }
            Vector::GreFlood => {
                // GRE carrying IPv4/UDP between random inner addresses.
                let len = r.range(64, 1400) as usize;
                let inner_src = Ipv4Addr::from(r.u32());
                let inner_dst = Ipv4Addr::from(r.u32());
                let data = self.fill(len);
                let (is, id) = (IpAddr::V4(inner_src), IpAddr::V4(inner_dst));
                let udp = udp_header(is, id, sport, dport, &data);
                let inner_len = 20 + 8 + data.len();
                let inner = ipv4_header(inner_src, inner_dst, 17, 64, seq as u16, 0, inner_len);
                let gre = [0, 0, 0x08, 0x00];
                self.cap
                    .ip(t, ip, 47, &[&gre, &inner, &udp, &data.head, data.tail]);
            }
            Vector::IpFlood => {
                // Protocols nothing here parses ports of: IGMP, ESP, AH, EIGRP, OSPF, PIM,
                // unassigned and reserved numbers.
                let proto = r.pick(&[2u8, 50, 51, 88, 89, 103, 143, 200, 253, 255]);
                let len = r.range(20, 1000) as usize;
                let data = self.fill(len);
                self.cap.ip(t, ip, proto, &[&data.head, data.tail]);
            }
            Vector::DnsAmplification => {
                // ANY/DNSSEC answers of 500 B to 3 KB, the big ones in fragments.
                let size = r.range(500, 3_000) as usize;
                let qid = r.range(0x100, 0xffff) as u16;
                let m = dns_message(qid, true, size, &mut self.rng);
                self.udp(t, ip, 53, dport, &m);
            }
            Vector::NtpAmplification => {
                // monlist (mode 7, MON_GETLIST_1) answer: 6 entries of 72 bytes, 468 B IP.
                let head = [0xd7, 0x00, 0x03, 0x2a, 0x00, 0x06, 0x00, 0x48];
                let data = self.fill_after(&head, 8 + 6 * 72);
                self.udp(t, ip, 123, dport, &data);
            }
            Vector::MemcachedAmplification => {
                // A `get` answer filling the datagram: 1,400 B IP.
                let mut head = vec![0x12, 0x34, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00];
                head.extend_from_slice(b"VALUE a 0 1048576\r\n");
                let data = self.fill_after(&head, 1400 - 28);
                self.udp(t, ip, 11211, dport, &data);
            }
            Vector::SsdpAmplification => {
                let text = format!(
                    "HTTP/1.1 200 OK\r\nCACHE-CONTROL: max-age=1800\r\nEXT:\r\n\
                     LOCATION: http://{src}:1900/desc.xml\r\n\
                     SERVER: Linux/3.10 UPnP/1.0 miniupnpd/1.9\r\nST: upnp:rootdevice\r\n\
                     USN: uuid:{:08x}-0000-0000-0000-000000000000::upnp:rootdevice\r\n\r\n",
                    r.u32()
                );
                self.udp(t, ip, 1900, dport, &Body::bytes(text.as_bytes()));
            }
            Vector::SnmpAmplification => {
                // GetBulk response (BER SEQUENCE), about 1.2 KB.
                let mut head = vec![0x30, 0x82, 0x04, 0x9c, 0x02, 0x01, 0x01, 0x04, 0x06];
                head.extend_from_slice(b"public");
                let data = self.fill_after(&head, 1_215);
                self.udp(t, ip, 161, dport, &data);
            }
            Vector::CldapAmplification => {
                // searchResEntry of a domain controller's rootDSE: 2.6–3 KB, in fragments.
                let head = [0x30, 0x84, 0x00, 0x00, 0x0b, 0xb0, 0x02, 0x01, 0x01, 0x64];
                let n = r.range(2_600, 3_000) as usize;
                let data = self.fill_after(&head, n);
                self.udp(t, ip, 389, dport, &data);
            }
            Vector::ChargenAmplification => {
                // RFC 864 lines of 72 printable characters.
                let n = r.range(5, 14) as usize;
                let first = r.range(0, 94) as usize;
                let mut p = Vec::with_capacity(n * 74);
                for l in 0..n {
                    p.extend((0..72).map(|c| b' ' + ((first + l + c) % 95) as u8));
                    p.extend_from_slice(b"\r\n");
                }
                self.udp(t, ip, 19, dport, &Body::bytes(&p));
            }
            Vector::IsakmpAmplification => {
                // IKEv1 informational answers from VPN gateways on 500 and 4500.
                let sp = r.pick(&[500u16, 500, 4500]);
                let n = r.range(300, 900) as usize;
                let mut head = r.next_u64().to_be_bytes().to_vec(); // initiator cookie
                head[0] |= 0x80;
                head.extend_from_slice(&r.next_u64().to_be_bytes()); // responder cookie
                head.extend_from_slice(&[0x0b, 0x10, 0x05, 0x00]);
                let data = self.fill_after(&head, n);
                self.udp(t, ip, sp, dport, &data);
            }
            Vector::WsdAmplification => {
                let head = b"<?xml version=\"1.0\" encoding=\"utf-8\"?><soap:Envelope \
                    xmlns:soap=\"http://www.w3.org/2003/05/soap-envelope\"><soap:Body>\
                    <wsd:ProbeMatches>";
                let n = r.range(600, 1_300) as usize;
                let data = self.fill_after(head, n);
                self.udp(t, ip, 3702, dport, &data);
            }
        }
    }

    // ------------------------------------------------------------------ scans

    fn scan(&mut self, s: &Scan) {
        match *s {
            Scan::Vertical {
                source,
                target,
                ports,
                start_s,
                per_s,
            } => {
                let mut order: Vec<u16> = (1..=ports).collect();
                self.shuffle(&mut order);
                let open = [22u16, 80, 443];
                for (k, &port) in order.iter().enumerate() {
                    let t = secs(start_s) + (k as f64 * NS as f64 / per_s) as u64;
                    let answer = if open.contains(&port) {
                        Answer::Open
                    } else {
                        Answer::Closed
                    };
                    self.probe(t, source, target, port, answer);
                }
            }
            Scan::Horizontal {
                source,
                net,
                port,
                start_s,
                per_s,
            } => {
                let mut hosts: Vec<u8> = (1..=254).collect();
                self.shuffle(&mut hosts);
                let o = net.octets();
                for (k, &h) in hosts.iter().enumerate() {
                    let t = secs(start_s) + (k as f64 * NS as f64 / per_s) as u64;
                    let target = Ipv4Addr::new(o[0], o[1], o[2], h);
                    // Only the web servers run SSH; the firewall drops the rest silently.
                    let answer = if [10u8, 20].contains(&h) {
                        Answer::Open
                    } else {
                        Answer::Filtered
                    };
                    self.probe(t, source, target, port, answer);
                }
            }
        }
    }

    /// An nmap SYN probe (window 1024, MSS option only) and what comes back: SYN-ACK and the
    /// scanner's RST for an open port, RST-ACK for a closed one, nothing when filtered.
    fn probe(&mut self, t: u64, source: Ipv4Addr, target: Ipv4Addr, port: u16, answer: Answer) {
        const SCANNER_PORT: u16 = 61_234;
        let (s, d) = (IpAddr::V4(source), IpAddr::V4(target));
        let seq = self.rng.u32();
        let none = Body::empty();
        let mss = [2, 4, 0x05, 0xb4];
        let syn = tcp_header(s, d, SCANNER_PORT, port, seq, 0, SYN, 1024, &mss, &none);
        let ip = Ip::new(s, d, 46, self.rng.u16());
        self.cap.ip(t, ip, 6, &[&syn]);
        match answer {
            Answer::Open => {
                let sseq = self.rng.u32();
                let ack = seq.wrapping_add(1);
                let ip = Ip::new(d, s, 64, self.next_id());
                self.tcp(
                    t + 150_000,
                    ip,
                    Seg::new(port, SCANNER_PORT, sseq, ack, SYN | ACK),
                    &mss,
                    &none,
                );
                let ip = Ip::new(s, d, 46, self.rng.u16());
                self.tcp(
                    t + 30_000_000,
                    ip,
                    Seg::new(SCANNER_PORT, port, ack, 0, RST),
                    &[],
                    &none,
                );
            }
            Answer::Closed => {
                let ip = Ip::new(d, s, 64, self.next_id());
                let ack = seq.wrapping_add(1);
                self.tcp(
                    t + 150_000,
                    ip,
                    Seg::new(port, SCANNER_PORT, 0, ack, RST | ACK),
                    &[],
                    &none,
                );
            }
            Answer::Filtered => {}
        }
    }

    fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = (self.rng.next_u64() % (i as u64 + 1)) as usize;
            items.swap(i, j);
        }
    }
}

/// What a scanned port answers.
#[derive(Clone, Copy, Debug)]
enum Answer {
    Open,
    Closed,
    Filtered,
}

fn proto_icmp(dst: IpAddr) -> u8 {
    if dst.is_ipv6() {
        58
    } else {
        1
    }
}

/// A DNS message: a query for a random name under example.net (with an EDNS OPT record),
/// or an answer of `size` bytes: the question and one big TXT record.
fn dns_message(id: u16, answer: bool, size: usize, rng: &mut Rng) -> Body {
    let mut m = Vec::with_capacity(64);
    m.extend_from_slice(&id.to_be_bytes());
    m.extend_from_slice(if answer { &[0x84, 0x00] } else { &[0x01, 0x00] });
    let (an, ar) = if answer { (1, 0) } else { (0, 1) };
    m.extend_from_slice(&[0, 1, 0, an, 0, 0, 0, ar]);
    // Question: wwwNNNN.example.net, type ANY for big answers, A otherwise, class IN.
    let label = format!("www{:04}", rng.range(0, 9999));
    m.push(label.len() as u8);
    m.extend_from_slice(label.as_bytes());
    m.extend_from_slice(b"\x07example\x03net\x00");
    m.extend_from_slice(if size > 512 {
        &[0, 255, 0, 1]
    } else {
        &[0, 1, 0, 1]
    });
    if !answer {
        // OPT pseudo-record: UDP payload size 4096.
        m.extend_from_slice(&[0, 0, 41, 0x10, 0, 0, 0, 0, 0, 0, 0]);
        return Body::bytes(&m);
    }
    // One TXT record filling the rest: name pointer, type, class, TTL 3600, length.
    let rdlen = size.saturating_sub(m.len() + 12).max(1);
    m.extend_from_slice(&[0xc0, 0x0c, 0x00, 0x10, 0x00, 0x01, 0x00, 0x00, 0x0e, 0x10]);
    m.extend_from_slice(&(rdlen as u16).to_be_bytes());
    let total = m.len() + rdlen;
    Body::filled(m, total, rng.next_u64())
}

// ---------------------------------------------------------------------------------------
// Reading pcaps (the corpus files)

/// One frame of a pcap: capture time in Unix nanoseconds, original length, stored bytes.
#[derive(Clone, Debug)]
pub struct Frame {
    pub t_ns: u64,
    pub len: u32,
    pub data: Vec<u8>,
}

/// Reads a classic pcap (either byte order, µs or ns) of at most `limit` bytes.
pub fn read_pcap(path: &Path, limit: u64) -> io::Result<(u32, Vec<Frame>)> {
    let mut bytes = Vec::new();
    io::copy(&mut std::fs::File::open(path)?.take(limit), &mut bytes)?;
    let bad = |what: &str| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{}: {what}", path.display()),
        )
    };
    let magic = bytes.get(..4).ok_or_else(|| bad("no header"))?;
    let (le, nanos) = match magic {
        [0xd4, 0xc3, 0xb2, 0xa1] => (true, false),
        [0x4d, 0x3c, 0xb2, 0xa1] => (true, true),
        [0xa1, 0xb2, 0xc3, 0xd4] => (false, false),
        [0xa1, 0xb2, 0x3c, 0x4d] => (false, true),
        _ => return Err(bad("not a pcap")),
    };
    let u32_at = |b: &[u8], at: usize| -> Option<u32> {
        let w: [u8; 4] = b.get(at..at + 4)?.try_into().ok()?;
        Some(if le {
            u32::from_le_bytes(w)
        } else {
            u32::from_be_bytes(w)
        })
    };
    let linktype = u32_at(&bytes, 20).ok_or_else(|| bad("short header"))?;
    let mut frames = Vec::new();
    let mut at = 24;
    while at + 16 <= bytes.len() {
        let (s, f, cap, len) = (
            u32_at(&bytes, at).unwrap_or(0),
            u32_at(&bytes, at + 4).unwrap_or(0),
            u32_at(&bytes, at + 8).unwrap_or(0) as usize,
            u32_at(&bytes, at + 12).unwrap_or(0),
        );
        let data = bytes
            .get(at + 16..at + 16 + cap)
            .ok_or_else(|| bad("truncated record"))?;
        let frac = if nanos {
            u64::from(f)
        } else {
            u64::from(f) * 1_000
        };
        frames.push(Frame {
            t_ns: u64::from(s) * NS + frac,
            len,
            data: data.to_vec(),
        });
        at += 16 + cap;
    }
    Ok((linktype, frames))
}

/// Writes frames as a microsecond pcap of `linktype`, times as given (Unix nanoseconds).
pub fn write_frames(path: &Path, linktype: u32, frames: &[Frame]) -> io::Result<()> {
    let mut out = io::BufWriter::new(std::fs::File::create(path)?);
    out.write_all(&0xa1b2_c3d4u32.to_le_bytes())?;
    out.write_all(&[2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0])?;
    out.write_all(&65_535u32.to_le_bytes())?;
    out.write_all(&linktype.to_le_bytes())?;
    for f in frames {
        out.write_all(&((f.t_ns / NS) as u32).to_le_bytes())?;
        out.write_all(&((f.t_ns % NS / 1_000) as u32).to_le_bytes())?;
        out.write_all(&(f.data.len() as u32).to_le_bytes())?;
        out.write_all(&f.len.max(f.data.len() as u32).to_le_bytes())?;
        out.write_all(&f.data)?;
    }
    out.flush()
}

/// UDP datagrams (e.g. flow exports received on a socket) wrapped in Ethernet/IPv4/UDP from
/// `from` to 127.0.0.1:`port`, one every 10 µs from `t_ns` (Unix nanoseconds).
pub fn datagram_frames(from: Ipv4Addr, port: u16, t_ns: u64, datagrams: &[Vec<u8>]) -> Vec<Frame> {
    let (s, d) = (IpAddr::V4(from), IpAddr::V4(Ipv4Addr::LOCALHOST));
    datagrams
        .iter()
        .enumerate()
        .map(|(i, payload)| {
            let udp = udp_datagram(s, d, 40_001, port, payload);
            let h = ipv4_header(
                from,
                Ipv4Addr::LOCALHOST,
                17,
                64,
                i as u16,
                0x4000,
                20 + udp.len(),
            );
            let mut data = vec![0u8; 12];
            data.extend_from_slice(&0x0800u16.to_be_bytes());
            data.extend_from_slice(&h);
            data.extend_from_slice(&udp);
            Frame {
                t_ns: t_ns + i as u64 * 10_000,
                len: data.len() as u32,
                data,
            }
        })
        .collect()
}

/// A one-line summary of a scenario's attacks, for logs and the example's output.
pub fn describe(truths: &[Truth]) -> String {
    let mut s = String::new();
    for t in truths {
        let _ = writeln!(
            s,
            "{} {} {} at {:.0} pps ({:.1}x): first packet {:.6} s, {} packets",
            t.vector.name(),
            t.direction,
            t.target,
            t.rate,
            t.factor,
            t.first_ns as f64 / 1e9,
            t.packets
        );
    }
    s
}

// ---------------------------------------------------------------------------------------
// The scenarios of the tests and the benchmark

/// When attacks begin: after two seconds of background, so that every counter has a full
/// window of benign traffic first.
pub const ATTACK_START_S: f64 = 2.0;
/// How long attacks last: longer than the two seconds detection may take at 1.2x.
pub const ATTACK_S: f64 = 3.0;

/// The target of vector number `i` of [`Vector::ALL`]: 203.0.113.100 and up.
pub fn vector_target(i: usize) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(203, 0, 113, 100 + i as u8))
}
pub const V6_SYN_TARGET: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 0x100);
pub const V6_ICMP_TARGET: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 0x101);
/// The protected host that attacks, and its victim outside.
pub const OUTBOUND_ATTACKER: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 66);
pub const OUTBOUND_VICTIM: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 7);

/// Every vector at once at `factor` × its threshold, each on its own target (so that each
/// detection can be checked alone), starts staggered by 13 ms; plus SYN and ICMPv6 floods
/// over IPv6 and the outbound UDP flood of [`outbound`]. Prefix thresholds are out of the
/// way (see [`Thresholds::reference`]).
pub fn every_vector(seed: u64, seconds: f64, factor: f64) -> Scenario {
    let mut s = Scenario::new(seed, seconds);
    for (i, &v) in Vector::ALL.iter().enumerate() {
        let start = ATTACK_START_S + i as f64 * 0.013;
        s = s.attack(v, Target::Host(vector_target(i)), start, ATTACK_S, factor);
    }
    s.attack(
        Vector::SynFlood,
        Target::Host(IpAddr::V6(V6_SYN_TARGET)),
        ATTACK_START_S + 0.3,
        ATTACK_S,
        factor,
    )
    .attack(
        Vector::IcmpFlood,
        Target::Host(IpAddr::V6(V6_ICMP_TARGET)),
        ATTACK_START_S + 0.31,
        ATTACK_S,
        factor,
    )
    .attack(
        Vector::UdpFlood,
        outbound_target(),
        ATTACK_START_S + 0.32,
        ATTACK_S,
        factor,
    )
}

fn outbound_target() -> Target {
    Target::From {
        attacker: IpAddr::V4(OUTBOUND_ATTACKER),
        victim: IpAddr::V4(OUTBOUND_VICTIM),
    }
}

/// A protected host UDP-flooding an outside victim at `factor` × udp_flood's threshold.
pub fn outbound(seed: u64, seconds: f64, factor: f64) -> Scenario {
    Scenario::new(seed, seconds).attack(
        Vector::UdpFlood,
        outbound_target(),
        ATTACK_START_S,
        ATTACK_S,
        factor,
    )
}

/// NTP reflection spread over all of 203.0.113.0/24 at `factor` × prefix_pps in total: at
/// 2x, 94 answers/s per host, under a fifth of ntp_amplification's threshold and far under
/// host_pps.
pub fn carpet(seed: u64, seconds: f64, factor: f64) -> Scenario {
    let mut s = Scenario::new(seed, seconds);
    s.thresholds = Thresholds::carpet();
    let net = Target::Carpet(Ipv4Addr::new(203, 0, 113, 0));
    s.attack(
        Vector::NtpAmplification,
        net,
        ATTACK_START_S,
        CARPET_S,
        factor,
    )
}

/// How long the carpet bombing lasts: its rate is high, and detection at 2x takes under a
/// second.
pub const CARPET_S: f64 = 2.5;

pub const VERTICAL_SCANNER: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 66);
pub const HORIZONTAL_SCANNER: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 77);

/// A vertical scan of ports 1–1024 of 203.0.113.10 at 250 probes/s and a horizontal scan of
/// port 22 over 203.0.113.0/24 at 100 probes/s, from two outside sources.
pub fn scans(seed: u64, seconds: f64) -> Scenario {
    let mut s = Scenario::new(seed, seconds);
    s.scans = vec![
        Scan::Vertical {
            source: VERTICAL_SCANNER,
            target: WEB_HTTPS,
            ports: 1024,
            start_s: 1.0,
            per_s: 250.0,
        },
        Scan::Horizontal {
            source: HORIZONTAL_SCANNER,
            net: Ipv4Addr::new(203, 0, 113, 0),
            port: 22,
            start_s: 1.5,
            per_s: 100.0,
        },
    ];
    s
}

/// Scan thresholds for `analyze --set`: 100 ports of one host or 50 hosts of a /24 from one
/// source within 60 s. The background's clients touch one port on one host each.
pub fn scan_args() -> Vec<String> {
    [
        "detect.scan.ports=100",
        "detect.scan.hosts=50",
        "detect.scan.window_s=60",
    ]
    .iter()
    .flat_map(|s| ["--set".to_string(), s.to_string()])
    .collect()
}
