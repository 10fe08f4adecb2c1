//! Synthetic traffic for detector tests and benches: a record builder and a simulator that
//! interleaves constant-rate streams on a virtual clock and ticks every 100 ms.

#![allow(dead_code)]

use rampart_detect::{AttackEvent, DdosConfig, DdosDetector, Phase};
use rampart_model::{FlowFormat, FlowRecord, Timestamp};
use std::net::IpAddr;

/// 2026-11-22T10:00:00Z in milliseconds: tests run at a realistic wall-clock time.
pub const T0: u64 = 1_795_341_600_000;

pub fn ip(s: &str) -> IpAddr {
    s.parse().expect("test address")
}

/// A FlowRecord under construction; starts as one 64-byte packet at T0.
#[derive(Clone, Debug)]
pub struct Rec(pub FlowRecord);

impl Rec {
    pub fn new(src: &str, dst: &str) -> Self {
        Rec::addrs(ip(src), ip(dst))
    }
    pub fn addrs(src: IpAddr, dst: IpAddr) -> Self {
        let mut r = FlowRecord::empty(FlowFormat::Packet);
        r.src_addr = src;
        r.dst_addr = dst;
        r.packets = 1;
        r.bytes = 64;
        r.ttl = Some(57);
        r.start = Timestamp::from_millis(T0);
        r.end = r.start;
        Rec(r)
    }
    pub fn tcp(mut self, sp: u16, dp: u16, flags: u8) -> Self {
        self.0.ip_protocol = 6;
        self.0.src_port = Some(sp);
        self.0.dst_port = Some(dp);
        self.0.tcp_flags = Some(flags);
        self
    }
    pub fn udp(mut self, sp: u16, dp: u16) -> Self {
        self.0.ip_protocol = 17;
        self.0.src_port = Some(sp);
        self.0.dst_port = Some(dp);
        self
    }
    pub fn icmp(mut self) -> Self {
        self.0.ip_protocol = 1;
        self.0.icmp_type = Some(8);
        self
    }
    pub fn proto(mut self, p: u8) -> Self {
        self.0.ip_protocol = p;
        self
    }
    /// A non-first fragment: no ports.
    pub fn fragment(mut self) -> Self {
        self.0.fragment = Some(true);
        self.0.src_port = None;
        self.0.dst_port = None;
        self
    }
    pub fn size(mut self, bytes: u64) -> Self {
        self.0.bytes = bytes * self.0.packets;
        self
    }
    pub fn ttl(mut self, ttl: u8) -> Self {
        self.0.ttl = Some(ttl);
        self
    }
    /// A flow record of `format` from `start_ms` to `end_ms` (offsets from T0).
    pub fn flow(
        mut self,
        format: FlowFormat,
        start_ms: u64,
        end_ms: u64,
        packets: u64,
        bytes: u64,
    ) -> Self {
        self.0.format = format;
        self.0.start = Timestamp::from_millis(T0 + start_ms);
        self.0.end = Timestamp::from_millis(T0 + end_ms);
        self.0.packets = packets;
        self.0.bytes = bytes;
        self
    }
    pub fn sampled(mut self, rate: u32) -> Self {
        self.0.sampling_rate = rate;
        self
    }
    /// Moves a packet (or the end of a record, keeping its duration) to `ms` after T0.
    pub fn at(mut self, ms: u64) -> FlowRecord {
        let d = self.0.end.as_millis() - self.0.start.as_millis();
        self.0.end = Timestamp::from_millis(T0 + ms);
        self.0.start = Timestamp::from_millis(T0 + ms - d);
        self.0
    }
}

/// A constant-rate stream: `make(n, ms)` builds its n-th packet, sent at `ms` after T0.
pub struct Stream {
    pub pps: f64,
    pub from_ms: u64,
    pub to_ms: u64,
    pub make: Box<dyn FnMut(u64, u64) -> FlowRecord>,
    sent: u64,
}

impl Stream {
    pub fn new(
        pps: f64,
        from_ms: u64,
        to_ms: u64,
        make: impl FnMut(u64, u64) -> FlowRecord + 'static,
    ) -> Self {
        Stream {
            pps,
            from_ms,
            to_ms,
            make: Box::new(make),
            sent: 0,
        }
    }
}

/// A tiny deterministic PRNG (xorshift64*), so tests need no crate and never flake.
#[derive(Clone, Debug)]
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

/// The detector on a virtual clock, with every event it produced.
pub struct Sim {
    pub det: DdosDetector,
    pub now_ms: u64,
    pub events: Vec<AttackEvent>,
}

impl Sim {
    pub fn new(config: DdosConfig) -> Self {
        config.validate().expect("valid test config");
        Sim {
            det: DdosDetector::new(config),
            now_ms: 0,
            events: Vec::new(),
        }
    }

    pub fn observe(&mut self, r: &FlowRecord) {
        self.det.observe(r);
    }

    pub fn tick(&mut self) {
        self.det.tick(Timestamp::from_millis(T0 + self.now_ms));
        while let Some(e) = self.det.poll_event() {
            self.events.push(e);
        }
    }

    /// Runs the streams, millisecond by millisecond, until `to_ms`, ticking every 100 ms.
    pub fn run(&mut self, to_ms: u64, streams: &mut [Stream]) {
        while self.now_ms < to_ms {
            self.now_ms += 1;
            let t = self.now_ms;
            // Time first, then the packets of that millisecond, as a capture reader does.
            if t.is_multiple_of(100) {
                self.tick();
            }
            for s in streams.iter_mut() {
                if t < s.from_ms || t > s.to_ms {
                    continue;
                }
                let due = ((t - s.from_ms + 1) as f64 * s.pps / 1000.0) as u64;
                while s.sent < due {
                    let r = (s.make)(s.sent, t);
                    s.sent += 1;
                    self.det.observe(&r);
                }
            }
        }
    }

    pub fn started(&self) -> Vec<&AttackEvent> {
        self.events
            .iter()
            .filter(|e| e.phase == Phase::Started)
            .collect()
    }
}

/// Benign traffic of a small enterprise edge toward 203.0.113.0/24, from `from_ms` to `to_ms`:
/// web sessions, DNS answers to the resolver, pings, and one bulk download at about 96 Mbit/s.
pub fn background(from_ms: u64, to_ms: u64) -> Vec<Stream> {
    let mut rng = Rng(7);
    let web = Stream::new(3_000.0, from_ms, to_ms, move |n, ms| {
        let client = 0xc633_6400u32 + (rng.next() % 200) as u32; // 198.51.100.0/24
        let server = if n % 3 == 0 {
            "203.0.113.10"
        } else {
            "203.0.113.11"
        };
        let flags = match n % 10 {
            0 => 0x02,
            9 => 0x11,
            _ => 0x18,
        };
        Rec::addrs(IpAddr::from(client.to_be_bytes()), ip(server))
            .tcp(40_000 + (n % 20_000) as u16, 443, flags)
            .size(if flags == 0x18 { 400 } else { 60 })
            .at(ms)
    });
    let dns = Stream::new(300.0, from_ms, to_ms, move |n, ms| {
        let upstream = if n % 2 == 0 { "9.9.9.9" } else { "1.1.1.1" };
        Rec::new(upstream, "203.0.113.53")
            .udp(53, 30_000 + (n % 30_000) as u16)
            .size(180)
            .at(ms)
    });
    let ping = Stream::new(10.0, from_ms, to_ms, |_, ms| {
        Rec::new("192.0.2.99", "203.0.113.1").icmp().size(84).at(ms)
    });
    let bulk = Stream::new(8_000.0, from_ms, to_ms, |_, ms| {
        Rec::new("192.0.2.200", "203.0.113.30")
            .tcp(443, 51_000, 0x10)
            .size(1500)
            .at(ms)
    });
    vec![web, dns, ping, bulk]
}

pub fn protected() -> DdosConfig {
    DdosConfig {
        protect: vec![
            "203.0.113.0/24".parse().expect("cidr"),
            "2001:db8::/48".parse().expect("cidr"),
        ],
        ..DdosConfig::default()
    }
}

use rampart_detect::{ScanConfig, ScanDetector, ScanEvent};

/// The scan detector on a virtual clock, with every event it produced.
pub struct ScanSim {
    pub det: ScanDetector,
    pub now_ms: u64,
    pub events: Vec<ScanEvent>,
}

impl ScanSim {
    pub fn new(config: ScanConfig) -> Self {
        config.validate().expect("valid test config");
        ScanSim {
            det: ScanDetector::new(config),
            now_ms: 0,
            events: Vec::new(),
        }
    }

    pub fn tick(&mut self) {
        self.det.tick(Timestamp::from_millis(T0 + self.now_ms));
        while let Some(e) = self.det.poll_event() {
            self.events.push(e);
        }
    }

    /// Runs the streams, millisecond by millisecond, until `to_ms`, ticking every 100 ms.
    pub fn run(&mut self, to_ms: u64, streams: &mut [Stream]) {
        while self.now_ms < to_ms {
            self.now_ms += 1;
            let t = self.now_ms;
            if t.is_multiple_of(100) {
                self.tick();
            }
            for s in streams.iter_mut() {
                if t < s.from_ms || t > s.to_ms {
                    continue;
                }
                let due = ((t - s.from_ms + 1) as f64 * s.pps / 1000.0) as u64;
                while s.sent < due {
                    let r = (s.make)(s.sent, t);
                    s.sent += 1;
                    self.det.observe(&r);
                }
            }
        }
    }

    pub fn started(&self) -> Vec<&ScanEvent> {
        self.events
            .iter()
            .filter(|e| e.phase == Phase::Started)
            .collect()
    }
}

/// Scan settings with the protected space of `protected()`.
pub fn scan_protected() -> ScanConfig {
    ScanConfig {
        protect: protected().protect,
        ..ScanConfig::default()
    }
}
