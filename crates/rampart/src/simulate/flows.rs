//! The simulated router's flow cache: flows live for their duration and are exported as a
//! router does, once a second while they last (a one-second active timeout, as a router
//! tuned for DDoS detection is configured) and when they end. Packets are taken one in
//! `sampling` on the way out, as a sampling router takes them.

use super::rng::Rng;
use rampart_flow::{FlowRecord, Timestamp};

/// Active timeout: a long flow is exported in pieces this long.
pub const ACTIVE_TIMEOUT_NS: u64 = 1_000_000_000;

/// Flows held at once; new ones are refused (and counted) beyond this, so that a large
/// `--rate` cannot grow memory without end.
pub const MAX_FLOWS: usize = 200_000;

const FIN: u8 = 0x01;
const SYN: u8 = 0x02;
const PSH: u8 = 0x08;
const ACK: u8 = 0x10;

/// How a flow's TCP flags look in its records.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flags {
    /// Not TCP.
    None,
    /// A whole connection, either side: SYN in its first record, FIN in its last.
    Session,
    /// The same flags in every record (an unanswered SYN, a reset, a flood).
    Fixed(u8),
}

/// One unidirectional flow: the record it exports (addresses, ports, protocol, TTL,
/// interfaces), its span and its packets.
#[derive(Clone, Debug)]
pub struct Flow {
    pub key: FlowRecord,
    pub start_ns: u64,
    pub end_ns: u64,
    pub packets: u64,
    /// Mean IP bytes per packet.
    pub size: u32,
    pub flags: Flags,
    /// Exported up to here, and how many packets so far.
    done_ns: u64,
    done_packets: u64,
}

impl Flow {
    pub fn new(key: FlowRecord, start_ns: u64, end_ns: u64, packets: u64, size: u32) -> Flow {
        let flags = match key.ip_protocol {
            6 => Flags::Session,
            _ => Flags::None,
        };
        Flow {
            key,
            start_ns,
            end_ns: end_ns.max(start_ns),
            packets: packets.max(1),
            size,
            flags,
            done_ns: start_ns,
            done_packets: 0,
        }
    }

    pub fn with_flags(mut self, flags: Flags) -> Flow {
        self.flags = flags;
        self
    }
}

/// Counters of the cache.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// Records exported (after sampling).
    pub records: u64,
    /// Packets represented, before sampling.
    pub packets: u64,
    /// Flows refused because `MAX_FLOWS` were live.
    pub flows_refused: u64,
}

#[derive(Debug)]
pub struct FlowCache {
    flows: Vec<Flow>,
    sampling: u32,
    pub stats: CacheStats,
}

impl FlowCache {
    pub fn new(sampling: u32) -> FlowCache {
        FlowCache {
            flows: Vec::new(),
            sampling: sampling.max(1),
            stats: CacheStats::default(),
        }
    }

    pub fn insert(&mut self, flow: Flow) {
        if self.flows.len() >= MAX_FLOWS {
            self.stats.flows_refused += 1;
            return;
        }
        self.flows.push(flow);
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.flows.len()
    }

    /// Exports every piece of every flow that has ended by `until_ns`, into `out`.
    pub fn export(&mut self, until_ns: u64, rng: &mut Rng, out: &mut Vec<FlowRecord>) {
        let mut i = 0;
        while i < self.flows.len() {
            let finished = self.export_flow(i, until_ns, rng, out);
            if finished {
                self.flows.swap_remove(i);
            } else {
                i += 1;
            }
        }
    }

    /// Exports the pieces of flow `i` due by `until_ns`; true when the flow is over.
    fn export_flow(
        &mut self,
        i: usize,
        until_ns: u64,
        rng: &mut Rng,
        out: &mut Vec<FlowRecord>,
    ) -> bool {
        let sampling = self.sampling;
        let f = &mut self.flows[i];
        loop {
            let from = f.done_ns;
            let to = (from + ACTIVE_TIMEOUT_NS).min(f.end_ns);
            if to > until_ns {
                return false;
            }
            let span = f.end_ns - f.start_ns;
            let by_then = if span == 0 {
                f.packets
            } else {
                (u128::from(f.packets) * u128::from(to - f.start_ns) / u128::from(span)) as u64
            };
            let packets = by_then - f.done_packets;
            let first = from == f.start_ns;
            let last = to == f.end_ns;
            f.done_ns = to;
            f.done_packets = by_then;
            if packets > 0 {
                self.stats.packets += packets;
                let sampled = sample(packets, sampling, rng);
                if sampled > 0 {
                    let mut r = f.key.clone();
                    r.packets = sampled;
                    r.bytes = sampled * u64::from(f.size);
                    r.start = Timestamp::from_nanos(from);
                    r.end = Timestamp::from_nanos(to);
                    r.sampling_rate = sampling;
                    r.tcp_flags = match f.flags {
                        Flags::None => None,
                        Flags::Fixed(x) => Some(x),
                        Flags::Session => Some(
                            ACK | PSH | if first { SYN } else { 0 } | if last { FIN } else { 0 },
                        ),
                    };
                    out.push(r);
                    self.stats.records += 1;
                }
            }
            if last {
                return true;
            }
        }
    }

    /// A single-packet flow exported at once (spoofed floods: every packet is a flow of its
    /// own, flushed by the cache's aggressive ageing).
    pub fn export_packet(&mut self, mut r: FlowRecord, rng: &mut Rng, out: &mut Vec<FlowRecord>) {
        self.stats.packets += r.packets;
        let sampled = sample(r.packets, self.sampling, rng);
        if sampled == 0 {
            return;
        }
        r.bytes = r.bytes / r.packets.max(1) * sampled;
        r.packets = sampled;
        r.sampling_rate = self.sampling;
        out.push(r);
        self.stats.records += 1;
    }
}

/// Packets of `packets` that one-in-`rate` sampling takes: the expected share, with the
/// fraction taken at random, so that small flows are sampled now and then, as they are.
fn sample(packets: u64, rate: u32, rng: &mut Rng) -> u64 {
    if rate <= 1 {
        return packets;
    }
    let rate = u64::from(rate);
    let whole = packets / rate;
    let part = (packets % rate) as f64 / rate as f64;
    whole + u64::from(rng.chance(part))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rampart_flow::FlowFormat;

    fn key(proto: u8) -> FlowRecord {
        let mut r = FlowRecord::empty(FlowFormat::Netflow9);
        r.ip_protocol = proto;
        r
    }

    #[test]
    fn long_flows_come_out_each_second_with_every_packet() {
        let mut cache = FlowCache::new(1);
        let mut rng = Rng::new(1);
        let s = 1_000_000_000;
        cache.insert(Flow::new(key(6), s / 2, 3 * s + s / 4, 1000, 100));
        let mut out = Vec::new();
        cache.export(s, &mut rng, &mut out);
        assert!(out.is_empty(), "nothing has a full second yet");
        cache.export(4 * s, &mut rng, &mut out);
        assert_eq!(out.len(), 3);
        assert_eq!(out.iter().map(|r| r.packets).sum::<u64>(), 1000);
        let flags: Vec<u8> = out.iter().map(|r| r.tcp_flags.unwrap()).collect();
        assert_eq!(flags, [0x1a, 0x18, 0x19]);
        assert_eq!(out[0].start, Timestamp::from_nanos(s / 2));
        assert_eq!(out[2].end, Timestamp::from_nanos(3 * s + s / 4));
        assert_eq!(cache.len(), 0);
    }

    #[test]
    fn sampling_keeps_about_one_in_n() {
        let mut cache = FlowCache::new(100);
        let mut rng = Rng::new(2);
        let mut out = Vec::new();
        for i in 0..10_000 {
            cache.insert(Flow::new(key(17), i, i, 7, 100));
        }
        cache.export(20_000, &mut rng, &mut out);
        let kept: u64 = out.iter().map(|r| r.packets).sum();
        assert!(
            (600..800).contains(&kept),
            "{kept} of 70,000 packets at 1:100"
        );
        assert!(out
            .iter()
            .all(|r| r.sampling_rate == 100 && r.bytes == r.packets * 100));
    }
}
