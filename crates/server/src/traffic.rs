//! Traffic accounting for the console and the rollups: per-second rates (in and out, in
//! total and per protected prefix) for the live chart, and per-minute volumes per protected
//! prefix and host for the store. Sans-I/O: records in, `advance(now)` out. Records count in
//! the second they arrive (flow records are not spread here: the detectors do that for
//! detection); volumes are scaled by the sampling rate. Tables are bounded; what does not fit
//! still counts in the totals and is counted as overflow.

use crate::prefixes::PrefixSet;
use foldhash::HashMap;
use rampart_model::{mask, Cidr, DdosVector, Direction, FlowRecord, Timestamp};
use rampart_respond::TrafficMix;
use rampart_store::{Scope, TrafficSample, Volume};
use serde::Serialize;
use std::net::IpAddr;

/// Prefixes (per direction) counted per minute; more go to the totals only.
const MAX_PREFIXES: usize = 4_096;
/// Hosts (per direction) counted per minute.
const MAX_HOSTS: usize = 65_536;
/// Prefixes listed in each live second (the busiest by bits/s).
pub const LIVE_PREFIXES: usize = 16;

/// Packets/s and bits/s.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Rate {
    pub pps: u64,
    pub bps: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PrefixRate {
    pub prefix: Cidr,
    pub direction: Direction,
    #[serde(flatten)]
    pub rate: Rate,
}

/// One second of traffic, for the live chart.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LiveSecond {
    pub t: Timestamp,
    pub inbound: Rate,
    pub outbound: Rate,
    /// The busiest protected prefixes of the second.
    pub prefixes: Vec<PrefixRate>,
}

/// One host's minute: its volume, and its packets per vector class (inbound only).
#[derive(Clone, Copy, Debug, Default)]
struct HostCounts {
    volume: Volume,
    by_vector: [u64; VECTORS],
}

const VECTORS: usize = DdosVector::ALL.len();

#[derive(Clone, Copy, Debug, Default)]
struct Counts {
    second: Volume,
    minute: Volume,
}

fn add(v: &mut Volume, packets: u64, bytes: u64) {
    v.packets = v.packets.saturating_add(packets);
    v.bytes = v.bytes.saturating_add(bytes);
    v.flows += 1;
}

/// What `advance` hands back: closed seconds and, at a minute boundary, its rollup rows.
#[derive(Debug, Default)]
pub struct Closed {
    pub seconds: Vec<LiveSecond>,
    pub rollup: Vec<TrafficSample>,
}

#[derive(Debug)]
pub struct TrafficMeter {
    protect: PrefixSet,
    /// No protected space configured: every destination is ours, nothing is outbound.
    everything: bool,
    prefix_len_v4: u8,
    prefix_len_v6: u8,
    top_hosts: usize,
    second: u64,
    minute: u64,
    totals: [Counts; 2],
    prefixes: HashMap<(IpAddr, Direction), Counts>,
    hosts: HashMap<(IpAddr, Direction), HostCounts>,
    mix: MixProfiles,
    /// Targets under attack now; each minute's list starts from them.
    attacked: Vec<Cidr>,
    /// Targets under attack at any time in the current minute.
    attacked_in_minute: Vec<Cidr>,
    /// The last closed minute's inbound packets per vector of each host not attacked in it,
    /// waiting to teach the profiles until the next minute has passed without an attack on
    /// the host: an attack is seen a moment after it begins, and its first packets may have
    /// fallen in the minute before.
    pending_mix: Vec<(IpAddr, [u64; VECTORS])>,
    pending_minute: u64,
    /// Records whose prefix or host did not fit its table (totals only).
    pub overflow: u64,
}

fn dir_index(d: Direction) -> usize {
    match d {
        Direction::Inbound => 0,
        Direction::Outbound => 1,
    }
}

impl TrafficMeter {
    pub fn new(
        protect: &[Cidr],
        prefix_len_v4: u8,
        prefix_len_v6: u8,
        top_hosts: usize,
        now: Timestamp,
    ) -> Self {
        let s = now.as_secs();
        TrafficMeter {
            protect: PrefixSet::new(protect),
            everything: protect.is_empty(),
            prefix_len_v4,
            prefix_len_v6,
            top_hosts,
            second: s,
            minute: s / 60,
            totals: [Counts::default(); 2],
            prefixes: HashMap::default(),
            hosts: HashMap::default(),
            mix: MixProfiles::default(),
            attacked: Vec::new(),
            attacked_in_minute: Vec::new(),
            pending_mix: Vec::new(),
            pending_minute: 0,
            overflow: 0,
        }
    }

    /// A new protected space (config reload); counts so far are kept.
    pub fn set_protect(&mut self, protect: &[Cidr], prefix_len_v4: u8, prefix_len_v6: u8) {
        self.protect = PrefixSet::new(protect);
        self.everything = protect.is_empty();
        self.prefix_len_v4 = prefix_len_v4;
        self.prefix_len_v6 = prefix_len_v6;
    }

    #[inline]
    pub fn observe(&mut self, r: &FlowRecord) {
        let rate = u64::from(r.sampling_rate.max(1));
        let (packets, bytes) = (r.packets.saturating_mul(rate), r.bytes.saturating_mul(rate));
        if self.everything || self.protect.contains(r.dst_addr) {
            let vector = rampart_detect::vector_of(r) as usize;
            self.count(r.dst_addr, Direction::Inbound, packets, bytes, Some(vector));
        }
        if !self.everything && self.protect.contains(r.src_addr) {
            self.count(r.src_addr, Direction::Outbound, packets, bytes, None);
        }
    }

    fn count(
        &mut self,
        addr: IpAddr,
        direction: Direction,
        packets: u64,
        bytes: u64,
        vector: Option<usize>,
    ) {
        let t = &mut self.totals[dir_index(direction)];
        add(&mut t.second, packets, bytes);
        add(&mut t.minute, packets, bytes);
        let len = if addr.is_ipv4() {
            self.prefix_len_v4
        } else {
            self.prefix_len_v6
        };
        let key = (mask(addr, len), direction);
        let room = self.prefixes.len() < MAX_PREFIXES;
        match self.prefixes.get_mut(&key) {
            Some(c) => {
                add(&mut c.second, packets, bytes);
                add(&mut c.minute, packets, bytes);
            }
            None if room => {
                let mut c = Counts::default();
                add(&mut c.second, packets, bytes);
                add(&mut c.minute, packets, bytes);
                self.prefixes.insert(key, c);
            }
            None => self.overflow += 1,
        }
        let room = self.hosts.len() < MAX_HOSTS;
        let h = match self.hosts.get_mut(&(addr, direction)) {
            Some(h) => h,
            None if room => self.hosts.entry((addr, direction)).or_default(),
            None => {
                self.overflow += 1;
                return;
            }
        };
        add(&mut h.volume, packets, bytes);
        if let Some(v) = vector {
            h.by_vector[v] = h.by_vector[v].saturating_add(packets);
        }
    }

    /// Closes every second (and minute) before `now`. Seconds without traffic are reported
    /// too, as zeros, so that the chart has no gaps; a long pause (the clock jumped) reports
    /// at most a minute of them.
    pub fn advance(&mut self, now: Timestamp) -> Closed {
        let mut closed = Closed::default();
        let s = now.as_secs();
        if s <= self.second {
            return closed;
        }
        let gap = (s - self.second).min(60);
        for i in 0..gap {
            let t = s - gap + i;
            if i == 0 {
                closed.seconds.push(self.close_second(self.second));
            } else {
                closed.seconds.push(LiveSecond {
                    t: Timestamp::from_secs(t),
                    inbound: Rate::default(),
                    outbound: Rate::default(),
                    prefixes: Vec::new(),
                });
            }
        }
        self.second = s;
        if s / 60 > self.minute {
            closed.rollup = self.close_minute();
            self.minute = s / 60;
        }
        closed
    }

    fn close_second(&mut self, t: u64) -> LiveSecond {
        let rate = |v: &Volume| Rate {
            pps: v.packets,
            bps: v.bytes.saturating_mul(8),
        };
        let mut prefixes: Vec<PrefixRate> = self
            .prefixes
            .iter()
            .filter(|(_, c)| c.second.flows > 0)
            .filter_map(|(&(addr, direction), c)| {
                let len = if addr.is_ipv4() {
                    self.prefix_len_v4
                } else {
                    self.prefix_len_v6
                };
                Some(PrefixRate {
                    prefix: Cidr::new(addr, len)?,
                    direction,
                    rate: rate(&c.second),
                })
            })
            .collect();
        prefixes.sort_by(|a, b| b.rate.bps.cmp(&a.rate.bps).then(a.prefix.cmp(&b.prefix)));
        prefixes.truncate(LIVE_PREFIXES);
        let second = LiveSecond {
            t: Timestamp::from_secs(t),
            inbound: rate(&self.totals[0].second),
            outbound: rate(&self.totals[1].second),
            prefixes,
        };
        for c in self.prefixes.values_mut() {
            c.second = Volume::default();
        }
        for t in &mut self.totals {
            t.second = Volume::default();
        }
        second
    }

    fn close_minute(&mut self) -> Vec<TrafficSample> {
        let minute = self.minute;
        let mut rows = Vec::new();
        for (i, direction) in [Direction::Inbound, Direction::Outbound]
            .into_iter()
            .enumerate()
        {
            let v = self.totals[i].minute;
            if v.flows > 0 {
                rows.push(sample(minute, Scope::Total, String::new(), direction, v));
            }
        }
        for (&(addr, direction), c) in &self.prefixes {
            if c.minute.flows == 0 {
                continue;
            }
            let len = if addr.is_ipv4() {
                self.prefix_len_v4
            } else {
                self.prefix_len_v6
            };
            if let Some(p) = Cidr::new(addr, len) {
                rows.push(sample(
                    minute,
                    Scope::Prefix,
                    p.to_string(),
                    direction,
                    c.minute,
                ));
            }
        }
        let mut hosts: Vec<(&(IpAddr, Direction), &HostCounts)> = self.hosts.iter().collect();
        hosts.sort_by(|a, b| b.1.volume.bytes.cmp(&a.1.volume.bytes).then(a.0.cmp(b.0)));
        for (&(addr, direction), h) in hosts.iter().take(self.top_hosts) {
            rows.push(sample(
                minute,
                Scope::Host,
                addr.to_string(),
                direction,
                h.volume,
            ));
        }
        let attacked = &self.attacked_in_minute;
        let clean = |addr: IpAddr| !attacked.iter().any(|c| c.contains(addr));
        for (addr, packets) in self.pending_mix.drain(..) {
            if clean(addr) {
                self.mix.learn(addr, self.pending_minute, &packets);
            }
        }
        self.mix.bound();
        for (&(addr, direction), h) in &self.hosts {
            if direction == Direction::Inbound && clean(addr) {
                self.pending_mix.push((addr, h.by_vector));
            }
        }
        self.pending_minute = minute;
        self.attacked_in_minute.clone_from(&self.attacked);
        self.prefixes.clear();
        self.hosts.clear();
        for t in &mut self.totals {
            t.minute = Volume::default();
        }
        rows
    }

    /// A target is under attack (until `attack_ended`): its traffic does not teach its mix.
    pub fn attack_started(&mut self, target: Cidr) {
        if !self.attacked.contains(&target) {
            self.attacked.push(target);
        }
        if !self.attacked_in_minute.contains(&target) {
            self.attacked_in_minute.push(target);
        }
    }

    pub fn attack_ended(&mut self, target: Cidr) {
        self.attacked.retain(|c| *c != target);
    }

    /// What the target's inbound traffic is usually made of (summed over its hosts for a
    /// prefix); `None` without history. A minute teaches it once the minute after has closed.
    pub fn mix_of(&self, target: Cidr) -> Option<TrafficMix> {
        self.mix.of(target)
    }

    /// The rows of the minute so far (at shutdown, so that nothing counted is lost).
    pub fn flush(&mut self) -> Vec<TrafficSample> {
        self.close_minute()
    }
}

/// Hosts whose usual traffic mix is kept (about 100 bytes each).
const MAX_PROFILES: usize = 65_536;
/// Weight of the newest minute in a profile: about the last twenty minutes count.
const MIX_ALPHA: f32 = 0.05;

/// Per protected host, packets/s per vector class, as an exponentially weighted average of
/// its minutes while it was not under attack.
#[derive(Debug, Default)]
struct MixProfiles {
    hosts: HashMap<IpAddr, ([f32; VECTORS], u64)>,
}

impl MixProfiles {
    fn learn(&mut self, addr: IpAddr, minute: u64, packets: &[u64; VECTORS]) {
        let pps = packets.map(|p| p as f32 / 60.0);
        match self.hosts.get_mut(&addr) {
            Some((mix, last)) => {
                for (m, p) in mix.iter_mut().zip(pps) {
                    *m += MIX_ALPHA * (p - *m);
                }
                *last = minute;
            }
            None => {
                self.hosts.insert(addr, (pps, minute));
            }
        }
    }

    /// Forgets the least recently seen hosts beyond the bound.
    fn bound(&mut self) {
        if self.hosts.len() <= MAX_PROFILES {
            return;
        }
        let mut minutes: Vec<u64> = self.hosts.values().map(|(_, m)| *m).collect();
        minutes.sort_unstable();
        let cut = minutes[self.hosts.len() - MAX_PROFILES];
        self.hosts.retain(|_, (_, m)| *m > cut);
    }

    fn of(&self, target: Cidr) -> Option<TrafficMix> {
        let mut sum = [0f32; VECTORS];
        let mut found = false;
        let hosts: Box<dyn Iterator<Item = &[f32; VECTORS]>> = if target.is_host() {
            Box::new(self.hosts.get(&target.addr()).map(|(m, _)| m).into_iter())
        } else {
            Box::new(
                self.hosts
                    .iter()
                    .filter(|(a, _)| target.contains(**a))
                    .map(|(_, (m, _))| m),
            )
        };
        for m in hosts {
            found = true;
            for (s, x) in sum.iter_mut().zip(m) {
                *s += x;
            }
        }
        found.then(|| TrafficMix {
            pps: DdosVector::ALL
                .iter()
                .zip(sum)
                .filter(|(_, p)| *p > 0.0)
                .map(|(v, p)| (*v, f64::from(p)))
                .collect(),
        })
    }
}

fn sample(
    minute: u64,
    scope: Scope,
    key: String,
    direction: Direction,
    v: Volume,
) -> TrafficSample {
    TrafficSample {
        minute,
        scope,
        key,
        direction,
        packets: v.packets,
        bytes: v.bytes,
        flows: v.flows,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rampart_model::FlowFormat;

    fn rec(src: &str, dst: &str, packets: u64, bytes: u64, sampling: u32) -> FlowRecord {
        let mut r = FlowRecord::empty(FlowFormat::Netflow9);
        r.src_addr = src.parse().unwrap();
        r.dst_addr = dst.parse().unwrap();
        r.packets = packets;
        r.bytes = bytes;
        r.sampling_rate = sampling;
        r
    }

    #[test]
    fn seconds_and_minutes_close_with_inbound_outbound_prefixes_and_hosts() {
        let protect = ["203.0.113.0/24".parse().unwrap()];
        let t0 = Timestamp::from_secs(600); // a minute boundary
        let mut m = TrafficMeter::new(&protect, 24, 64, 1, t0);
        m.observe(&rec("198.51.100.1", "203.0.113.10", 10, 1000, 1));
        m.observe(&rec("198.51.100.1", "203.0.113.11", 1, 100, 100));
        m.observe(&rec("203.0.113.10", "198.51.100.1", 5, 500, 1));
        m.observe(&rec("198.51.100.1", "198.51.100.2", 5, 500, 1)); // not ours
        let c = m.advance(Timestamp::from_secs(601));
        assert_eq!(c.seconds.len(), 1);
        let s = &c.seconds[0];
        assert_eq!(s.t, t0);
        assert_eq!(
            s.inbound,
            Rate {
                pps: 110,
                bps: 88_000
            }
        );
        assert_eq!(s.outbound, Rate { pps: 5, bps: 4000 });
        assert_eq!(s.prefixes.len(), 2);
        assert_eq!(s.prefixes[0].prefix.to_string(), "203.0.113.0/24");
        assert_eq!(s.prefixes[0].direction, Direction::Inbound);
        assert!(c.rollup.is_empty());
        // Three quiet seconds, then the minute closes.
        let c = m.advance(Timestamp::from_secs(660));
        assert_eq!(c.seconds.len(), 59);
        assert!(c.seconds.iter().all(|s| s.inbound.pps == 0));
        let find = |scope, key: &str, d| {
            c.rollup
                .iter()
                .find(|r| r.scope == scope && r.key == key && r.direction == d)
                .cloned()
        };
        let total = find(Scope::Total, "", Direction::Inbound).unwrap();
        assert_eq!((total.packets, total.bytes, total.flows), (110, 11_000, 2));
        assert!(find(Scope::Prefix, "203.0.113.0/24", Direction::Outbound).is_some());
        // One top host: the busiest by bytes (.11: 10,000 bytes scaled).
        let hosts: Vec<_> = c.rollup.iter().filter(|r| r.scope == Scope::Host).collect();
        assert_eq!(hosts.len(), 1);
        assert_eq!(hosts[0].key, "203.0.113.11");
        assert!(m.advance(Timestamp::from_secs(661)).rollup.is_empty());
    }

    #[test]
    fn without_protected_space_everything_is_inbound() {
        let mut m = TrafficMeter::new(&[], 24, 64, 10, Timestamp::from_secs(0));
        m.observe(&rec("2001:db8::1", "2001:db8:1::1", 1, 60, 1));
        let c = m.advance(Timestamp::from_secs(1));
        assert_eq!(c.seconds[0].inbound.pps, 1);
        assert_eq!(c.seconds[0].outbound.pps, 0);
        assert_eq!(
            c.seconds[0].prefixes[0].prefix.to_string(),
            "2001:db8:1::/64"
        );
    }

    #[test]
    fn mix_profiles_learn_outside_attacks_only() {
        let protect = ["203.0.113.0/24".parse().unwrap()];
        let mut m = TrafficMeter::new(&protect, 24, 64, 10, Timestamp::from_secs(0));
        let mut dns = rec("198.51.100.1", "203.0.113.53", 600, 60_000, 1);
        dns.ip_protocol = 17;
        dns.src_port = Some(53);
        dns.dst_port = Some(40_000);
        let mut web = rec("198.51.100.1", "203.0.113.53", 60, 6_000, 1);
        web.ip_protocol = 6;
        web.tcp_flags = Some(0x1b);
        m.observe(&dns);
        m.observe(&web);
        m.advance(Timestamp::from_secs(60));
        // A minute teaches only once the next one has passed without an attack.
        assert!(m.mix_of("203.0.113.53".parse().unwrap()).is_none());
        m.advance(Timestamp::from_secs(120));
        let mix = m.mix_of("203.0.113.53".parse().unwrap()).unwrap();
        assert_eq!(mix.pps[&DdosVector::DnsAmplification], 10.0);
        assert_eq!(mix.pps[&DdosVector::TcpFlood], 1.0);
        // Under attack, a flood of DNS answers does not become the norm, nor does the
        // minute in which the attack ended.
        m.attack_started("203.0.113.53".parse().unwrap());
        for _ in 0..100 {
            m.observe(&dns);
        }
        m.advance(Timestamp::from_secs(180));
        for _ in 0..100 {
            m.observe(&dns);
        }
        m.attack_ended("203.0.113.53".parse().unwrap());
        m.advance(Timestamp::from_secs(240));
        m.advance(Timestamp::from_secs(300));
        let mix = m.mix_of("203.0.113.0/24".parse().unwrap()).unwrap();
        assert_eq!(mix.pps[&DdosVector::DnsAmplification], 10.0);
        assert!(m.mix_of("203.0.113.54".parse().unwrap()).is_none());
    }

    /// A flood seen a moment after it began, its first second in the minute before: that
    /// minute does not become the target's usual mix either.
    #[test]
    fn a_floods_first_packets_before_its_detection_do_not_teach_the_mix() {
        let protect = ["203.0.113.0/24".parse().unwrap()];
        let mut m = TrafficMeter::new(&protect, 24, 64, 10, Timestamp::from_secs(0));
        let mut syn = rec("198.51.100.1", "203.0.113.100", 6_000, 360_000, 1);
        syn.ip_protocol = 6;
        syn.tcp_flags = Some(0x02);
        let mut web = rec("198.51.100.1", "203.0.113.80", 60, 6_000, 1);
        web.ip_protocol = 6;
        web.tcp_flags = Some(0x1b);
        m.observe(&web);
        m.observe(&syn);
        m.advance(Timestamp::from_secs(60));
        m.attack_started("203.0.113.100".parse().unwrap());
        m.advance(Timestamp::from_secs(120));
        assert!(m.mix_of("203.0.113.100".parse().unwrap()).is_none());
        assert!(m.mix_of("203.0.113.80".parse().unwrap()).is_some());
    }

    #[test]
    fn tables_are_bounded() {
        let mut m = TrafficMeter::new(&[], 32, 128, 10, Timestamp::from_secs(0));
        for i in 0..(MAX_HOSTS as u32 + 10) {
            let mut r = rec("10.0.0.1", "10.0.0.1", 1, 60, 1);
            r.dst_addr = IpAddr::V4(std::net::Ipv4Addr::from(0x0b00_0000 + i));
            m.observe(&r);
        }
        assert_eq!(m.hosts.len(), MAX_HOSTS);
        assert_eq!(m.prefixes.len(), MAX_PREFIXES);
        assert!(m.overflow > 0);
        let c = m.advance(Timestamp::from_secs(1));
        assert_eq!(c.seconds[0].inbound.pps, MAX_HOSTS as u64 + 10);
        assert_eq!(c.seconds[0].prefixes.len(), LIVE_PREFIXES);
    }
}
