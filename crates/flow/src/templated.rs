//! NetFlow v9 and IPFIX: template-driven records. Templates and options templates are kept
//! per exporter and observation domain in a bounded cache, compiled once into decode plans so
//! that each data record is a walk over precomputed field targets. Data that comes before its
//! template is held (bounded) and decoded when the template arrives.

use crate::error::Be;
use crate::netflow5::uptime_to_time;
use crate::{DecodeError, DecodeStats, FlowFormat, FlowRecord, RecordSink, Timestamp};
use foldhash::fast::RandomState;
use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

mod direct;

/// Field length that announces an IPFIX variable-length field (RFC 7011 §7).
const VARLEN: u16 = u16::MAX;

/// Bounds on the state one decoder keeps. Hostile or broken exporters can send endless
/// templates and orphan data; each bound has a counter for what it drops.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Templates kept over all exporters; the least recently used is evicted.
    pub max_templates: usize,
    /// Templates kept per exporter and observation domain, so that one exporter cannot push
    /// everyone else's templates out.
    pub max_templates_per_domain: usize,
    /// Fields in one template; more is rejected as malformed.
    pub max_fields: usize,
    /// Exporter/domain pairs whose sampling state we keep.
    pub max_domains: usize,
    /// Sampler ids remembered per exporter/domain.
    pub max_samplers_per_domain: usize,
    /// Data sets held while their template is missing, and their total size.
    pub max_pending_sets: usize,
    pub max_pending_bytes: usize,
    /// How long a held data set waits for its template.
    pub pending_max_age_ms: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_templates: 8192,
            max_templates_per_domain: 512,
            max_fields: 512,
            max_domains: 4096,
            max_samplers_per_domain: 64,
            max_pending_sets: 1024,
            max_pending_bytes: 4 << 20,
            pending_max_age_ms: 60_000,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Protocol {
    V9,
    Ipfix,
}

impl Protocol {
    fn format(self) -> FlowFormat {
        match self {
            Protocol::V9 => FlowFormat::Netflow9,
            Protocol::Ipfix => FlowFormat::Ipfix,
        }
    }
}

/// What the header of one datagram says; every set in it is read in this context.
#[derive(Clone, Copy, Debug)]
struct Context {
    protocol: Protocol,
    exporter: IpAddr,
    domain: u32,
    export_time: Timestamp,
    /// `export_time` in milliseconds.
    export_ms: u64,
    /// NetFlow v9 only: router uptime at export, the reference for FIRST/LAST_SWITCHED.
    sys_uptime: u32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct DomainKey {
    exporter: IpAddr,
    domain: u32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct TemplateKey {
    exporter: IpAddr,
    domain: u32,
    id: u16,
}

/// Where a field's value goes. Chosen when the template is compiled.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum Target {
    #[default]
    Skip,
    SrcV4,
    DstV4,
    SrcV6,
    DstV6,
    SrcPort,
    DstPort,
    Protocol,
    TcpFlags,
    Bytes,
    Packets,
    /// Egress counters (v9 OUT_BYTES/OUT_PKTS, IPFIX post*DeltaCount): used when the ingress
    /// counters are absent or zero, as in egress-direction records.
    OutBytes,
    OutPackets,
    InIf,
    OutIf,
    StartUptime,
    EndUptime,
    StartSecs,
    EndSecs,
    StartMillis,
    EndMillis,
    StartNtp,
    EndNtp,
    StartDeltaMicros,
    EndDeltaMicros,
    IcmpTypeCode,
    IcmpType,
    IcmpCode,
    Ttl,
    FragmentFlags,
    FragmentOffset,
    SamplingInterval,
    SamplerRandomInterval,
    PacketInterval,
    PacketSpace,
    SamplerId,
    SystemInitMillis,
}

/// Fields that several information elements can fill; the template keeps only the best one
/// (lowest rank) so that, say, octetDeltaCount wins over postOctetDeltaCount.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Class {
    Bytes,
    Packets,
    Start,
    End,
    Ttl,
    SamplerId,
}

/// Maps an information element (IANA IPFIX numbering, which NetFlow v9 shares below 128 and
/// for the fields we use) and its length to a target. Addresses need their exact length;
/// counters take any length from 1 to 8 (reduced-size encoding, RFC 7011 §6.2).
fn target_of(ie: u16, len: u16) -> (Target, Option<(Class, u8)>) {
    use Target::*;
    let uint = (1..=8).contains(&len);
    let t = match ie {
        8 if len == 4 => SrcV4,
        12 if len == 4 => DstV4,
        27 if len == 16 => SrcV6,
        28 if len == 16 => DstV6,
        7 if uint => SrcPort,
        11 if uint => DstPort,
        4 if uint => Protocol,
        6 if uint => TcpFlags,
        1 | 85 | 231 if uint => Bytes,
        2 | 86 | 298 if uint => Packets,
        23 if uint => OutBytes,
        24 if uint => OutPackets,
        10 if uint => InIf,
        14 if uint => OutIf,
        22 if len == 4 => StartUptime,
        21 if len == 4 => EndUptime,
        150 if len == 4 => StartSecs,
        151 if len == 4 => EndSecs,
        152 if len == 8 => StartMillis,
        153 if len == 8 => EndMillis,
        154 | 156 if len == 8 => StartNtp,
        155 | 157 if len == 8 => EndNtp,
        158 if len == 4 => StartDeltaMicros,
        159 if len == 4 => EndDeltaMicros,
        32 | 139 if len == 2 => IcmpTypeCode,
        176 | 178 if len == 1 => IcmpType,
        177 | 179 if len == 1 => IcmpCode,
        52 | 192 if len == 1 => Ttl,
        197 if len == 1 => FragmentFlags,
        88 if uint => FragmentOffset,
        34 if uint => SamplingInterval,
        50 if uint => SamplerRandomInterval,
        305 if uint => PacketInterval,
        306 if uint => PacketSpace,
        48 | 302 if uint => SamplerId,
        160 if len == 8 => SystemInitMillis,
        _ => Skip,
    };
    let rank = |order: &[u16]| order.iter().position(|&x| x == ie).unwrap_or(0) as u8;
    let class = match t {
        Bytes => Some((Class::Bytes, rank(&[1, 85, 231]))),
        Packets => Some((Class::Packets, rank(&[2, 86, 298]))),
        StartUptime | StartSecs | StartMillis | StartNtp | StartDeltaMicros => {
            Some((Class::Start, rank(&[152, 154, 156, 150, 158, 22])))
        }
        EndUptime | EndSecs | EndMillis | EndNtp | EndDeltaMicros => {
            Some((Class::End, rank(&[153, 155, 157, 151, 159, 21])))
        }
        Ttl => Some((Class::Ttl, rank(&[52, 192]))),
        SamplerId => Some((Class::SamplerId, rank(&[48, 302]))),
        _ => None,
    };
    (t, class)
}

#[derive(Clone, Copy, Debug)]
struct Field {
    /// Length on the wire, or VARLEN.
    len: u16,
    target: Target,
}

/// A fixed-length field at its place in the record.
#[derive(Clone, Copy, Debug)]
struct Placed {
    offset: usize,
    len: usize,
    target: Target,
}

/// How a fixed-length field is read, chosen once when the plan is made so that a record
/// costs one load per field rather than a dispatch on its length.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum Width {
    /// The template lacks the field.
    #[default]
    Absent,
    W1,
    W2,
    W4,
    W8,
    /// Reduced-size encodings of 3, 5, 6 or 7 bytes, and 16-byte addresses.
    Other,
}

/// Where a fixed-length field is in the record.
#[derive(Clone, Copy, Debug, Default)]
struct Slot {
    offset: u16,
    len: u16,
    width: Width,
}

impl Slot {
    fn new(offset: u16, len: u16) -> Slot {
        let width = match len {
            1 => Width::W1,
            2 => Width::W2,
            4 => Width::W4,
            8 => Width::W8,
            _ => Width::Other,
        };
        Slot { offset, len, width }
    }

    #[inline]
    fn read(self, rec: &[u8]) -> Option<u64> {
        let at = usize::from(self.offset);
        match self.width {
            Width::Absent => None,
            Width::W1 => rec.get(at).map(|&b| u64::from(b)),
            Width::W2 => rec
                .get(at..at + 2)
                .and_then(|b| <[u8; 2]>::try_from(b).ok())
                .map(|b| u64::from(u16::from_be_bytes(b))),
            Width::W4 => rec
                .get(at..at + 4)
                .and_then(|b| <[u8; 4]>::try_from(b).ok())
                .map(|b| u64::from(u32::from_be_bytes(b))),
            Width::W8 => rec
                .get(at..at + 8)
                .and_then(|b| <[u8; 8]>::try_from(b).ok())
                .map(u64::from_be_bytes),
            Width::Other => rec.get(at..at + usize::from(self.len)).map(uint),
        }
    }

    /// A 16-byte IPv6 address (the plan only places address targets of that length).
    #[inline]
    fn read_v6(self, rec: &[u8]) -> Option<Ipv6Addr> {
        if self.width == Width::Absent {
            return None;
        }
        let at = usize::from(self.offset);
        rec.get(at..at + 16)
            .and_then(|b| <[u8; 16]>::try_from(b).ok())
            .map(Ipv6Addr::from)
    }
}

/// The decode plan of a fixed-length template. The fields of nearly every record are read
/// from known offsets without a dispatch per field; the others go through `apply`.
#[derive(Debug, Default)]
struct Plan {
    src4: Slot,
    dst4: Slot,
    src6: Slot,
    dst6: Slot,
    src_port: Slot,
    dst_port: Slot,
    protocol: Slot,
    tcp_flags: Slot,
    bytes: Slot,
    packets: Slot,
    in_if: Slot,
    out_if: Slot,
    /// The flow's start and end, and which kind of time each is (a `Start*`/`End*` target):
    /// a template keeps one field of each class.
    start: Slot,
    start_kind: Target,
    end: Slot,
    end_kind: Target,
    rest: Box<[Placed]>,
}

impl Plan {
    fn new(fields: &[Field]) -> Plan {
        let mut plan = Plan::default();
        let mut rest = Vec::new();
        let mut offset = 0usize;
        for f in fields {
            let len = usize::from(f.len);
            // Records are at most a datagram long, so offsets fit in 16 bits; a template
            // claiming more is decoded through `rest`, which checks every field.
            let slot = u16::try_from(offset)
                .ok()
                .map(|offset| Slot::new(offset, f.len));
            let direct = match f.target {
                Target::SrcV4 => Some(&mut plan.src4),
                Target::DstV4 => Some(&mut plan.dst4),
                Target::SrcV6 => Some(&mut plan.src6),
                Target::DstV6 => Some(&mut plan.dst6),
                Target::SrcPort => Some(&mut plan.src_port),
                Target::DstPort => Some(&mut plan.dst_port),
                Target::Protocol => Some(&mut plan.protocol),
                Target::TcpFlags => Some(&mut plan.tcp_flags),
                Target::Bytes => Some(&mut plan.bytes),
                Target::Packets => Some(&mut plan.packets),
                Target::InIf => Some(&mut plan.in_if),
                Target::OutIf => Some(&mut plan.out_if),
                t if start_time(t) => {
                    plan.start_kind = t;
                    Some(&mut plan.start)
                }
                t if end_time(t) => {
                    plan.end_kind = t;
                    Some(&mut plan.end)
                }
                _ => None,
            };
            match (direct, slot) {
                (_, _) if matches!(f.target, Target::Skip) => {}
                (Some(d), Some(slot)) => *d = slot,
                _ => rest.push(Placed {
                    offset,
                    len,
                    target: f.target,
                }),
            }
            offset += len;
        }
        plan.rest = rest.into_boxed_slice();
        plan
    }

    /// The values of one record, into `v`. Only `rest` writes the fields the plan does not
    /// place, so they are reset only when it has work: `v` starts as `Values::default()`.
    #[inline]
    fn decode(&self, rec: &[u8], v: &mut Values) {
        if !self.rest.is_empty() {
            *v = Values::default();
        }
        v.src4 = self.src4.read(rec).map(|a| Ipv4Addr::from(a as u32));
        v.dst4 = self.dst4.read(rec).map(|a| Ipv4Addr::from(a as u32));
        v.src6 = self.src6.read_v6(rec);
        v.dst6 = self.dst6.read_v6(rec);
        v.src_port = self.src_port.read(rec).map(|p| p as u16);
        v.dst_port = self.dst_port.read(rec).map(|p| p as u16);
        v.protocol = self.protocol.read(rec).unwrap_or(0) as u8;
        v.tcp_flags = self.tcp_flags.read(rec).map(|f| f as u8);
        v.bytes = self.bytes.read(rec).unwrap_or(0);
        v.packets = self.packets.read(rec).unwrap_or(0);
        v.in_if = self.in_if.read(rec).map(|i| i as u32);
        v.out_if = self.out_if.read(rec).map(|i| i as u32);
        v.start = self.start.read(rec).map(|t| time_value(self.start_kind, t));
        v.end = self.end.read(rec).map(|t| time_value(self.end_kind, t));
        for p in self.rest.iter() {
            if let Some(b) = rec.get(p.offset..p.offset + p.len) {
                apply(v, p.target, b);
            }
        }
    }
}

fn start_time(t: Target) -> bool {
    use Target::*;
    matches!(
        t,
        StartUptime | StartSecs | StartMillis | StartNtp | StartDeltaMicros
    )
}

fn end_time(t: Target) -> bool {
    use Target::*;
    matches!(t, EndUptime | EndSecs | EndMillis | EndNtp | EndDeltaMicros)
}

/// A start or end time field's value (read as one big-endian integer of its length) as
/// `apply` would have made it from the bytes.
#[inline]
fn time_value(kind: Target, x: u64) -> Time {
    use Target::*;
    match kind {
        StartSecs | EndSecs => Time::Absolute(Timestamp::from_secs(x)),
        StartMillis | EndMillis => Time::Absolute(Timestamp::from_millis(x)),
        // Seconds since 1900 in the high word, the fraction in the low one.
        StartNtp | EndNtp => Time::Absolute(Timestamp::from_ntp((x >> 32) as u32, x as u32)),
        StartDeltaMicros | EndDeltaMicros => Time::DeltaMicros(x as u32),
        _ => Time::Uptime(x as u32),
    }
}

#[derive(Debug)]
struct Template {
    options: bool,
    /// The field specifiers as received, to recognise a template re-sent unchanged (most
    /// exporters resend every few seconds) without compiling it again.
    specs: Box<[(u16, u16, bool)]>,
    fields: Box<[Field]>,
    /// For fixed-length templates: where the fields we use are, so a record is decoded
    /// without walking the skipped ones.
    plan: Plan,
    /// For fixed-length flow templates of the usual fields: the faster plan that writes
    /// records without going through `Values` (see `direct`).
    direct: Option<direct::Direct>,
    /// Shortest possible record (a variable-length field counts its one length byte).
    min_len: usize,
    /// True when no field is variable-length, so every record is `min_len` bytes.
    fixed: bool,
    last_used: u64,
}

impl Template {
    /// Compiles field specifiers (IE id, length, enterprise?) into a decode plan.
    fn compile(
        specs: &[(u16, u16, bool)],
        options: bool,
        last_used: u64,
    ) -> Result<Template, DecodeError> {
        let mut best: [Option<(u8, usize)>; 6] = [None; 6];
        let mut fields = Vec::with_capacity(specs.len());
        let mut min_len = 0usize;
        let mut fixed = true;
        for (i, &(ie, len, enterprise)) in specs.iter().enumerate() {
            let (target, class) = if enterprise {
                (Target::Skip, None)
            } else {
                target_of(ie, len)
            };
            if let Some((class, rank)) = class {
                let slot = &mut best[class as usize];
                if slot.is_none_or(|(r, _)| rank < r) {
                    *slot = Some((rank, i));
                }
            }
            if len == VARLEN {
                fixed = false;
                min_len += 1;
            } else {
                min_len += usize::from(len);
            }
            fields.push(Field { len, target });
        }
        // Keep only the best-ranked field of each class.
        for (i, (f, &(ie, len, enterprise))) in fields.iter_mut().zip(specs).enumerate() {
            if enterprise {
                continue;
            }
            if let (_, Some((class, _))) = target_of(ie, len) {
                if best[class as usize].map(|(_, at)| at) != Some(i) {
                    f.target = Target::Skip;
                }
            }
        }
        if min_len == 0 {
            return Err(DecodeError::Malformed("template with zero record length"));
        }
        let plan = if fixed {
            Plan::new(&fields)
        } else {
            Plan::default()
        };
        let direct = if fixed && !options && !direct::general_only() {
            direct::Direct::new(&fields, min_len)
        } else {
            None
        };
        Ok(Template {
            options,
            specs: specs.into(),
            fields: fields.into_boxed_slice(),
            plan,
            direct,
            min_len,
            fixed,
            last_used,
        })
    }
}

/// Per exporter and observation domain: what options data taught us.
#[derive(Clone, Debug, Default)]
struct DomainState {
    /// IPFIX systemInitTimeMilliseconds (as a `Timestamp` would keep it): the zero of
    /// flowStart/EndSysUpTime.
    system_init_ms: Option<u64>,
    /// Sampling rate announced without a sampler id.
    default_rate: Option<u32>,
    /// Sampling rate per sampler (selector) id, bounded.
    samplers: Vec<(u64, u32)>,
    templates: usize,
    last_used: u64,
}

impl DomainState {
    /// The rate options data announced for sampler `id`.
    #[inline]
    fn sampler_rate(&self, id: u64) -> Option<u32> {
        self.samplers
            .iter()
            .find(|(s, _)| *s == id)
            .map(|(_, r)| *r)
    }
}

/// How a data record's fields become a `FlowRecord`, shared by `emit` and the direct plan
/// (`direct`) so that the two paths cannot drift apart.
mod shape {
    use crate::Timestamp;

    /// Protocols whose records carry ports (TCP, UDP, SCTP, DCCP).
    #[inline(always)]
    pub(super) fn ported(protocol: u8) -> bool {
        matches!(protocol, 6 | 17 | 132 | 33)
    }

    /// The flow's start and end: one stands for the other when missing, the export time
    /// for both.
    #[inline(always)]
    pub(super) fn start_end(
        start: Option<Timestamp>,
        end: Option<Timestamp>,
        export: Timestamp,
    ) -> (Timestamp, Timestamp) {
        match (start, end) {
            (Some(s), Some(e)) => (s, e),
            (Some(s), None) => (s, s),
            (None, Some(e)) => (e, e),
            (None, None) => (export, export),
        }
    }

    /// Packets and bytes: the egress counters when the ingress ones are both zero.
    #[inline(always)]
    pub(super) fn counters(
        packets: u64,
        bytes: u64,
        out: impl FnOnce() -> (u64, u64),
    ) -> (u64, u64) {
        if packets == 0 && bytes == 0 {
            out()
        } else {
            (packets, bytes)
        }
    }

    /// ICMP type and code for ICMP and ICMPv6 records, none for others. Exporters without
    /// ICMP fields (softflowd, pmacct) put type << 8 | code in the destination port, as
    /// NetFlow v5 did.
    #[inline(always)]
    pub(super) fn icmp(
        protocol: u8,
        icmp_type: Option<u8>,
        icmp_code: Option<u8>,
        dst_port: Option<u16>,
    ) -> (Option<u8>, Option<u8>) {
        if !matches!(protocol, 1 | 58) {
            return (None, None);
        }
        let from_port = dst_port.filter(|_| icmp_type.is_none());
        (
            icmp_type.or(from_port.map(|p| (p >> 8) as u8)),
            icmp_code.or(from_port.map(|p| p as u8)),
        )
    }

    /// A time given as microseconds before the export.
    #[inline(always)]
    pub(super) fn before_export(export: Timestamp, us: u32) -> Timestamp {
        Timestamp::from_nanos(export.as_nanos().saturating_sub(u64::from(us) * 1_000))
    }
}

/// A data set that came before its template.
#[derive(Debug)]
struct Pending {
    key: TemplateKey,
    context: Context,
    received: Timestamp,
    data: Vec<u8>,
}

/// Values of one record as its fields are walked; turned into a `FlowRecord` at the end.
#[derive(Clone, Copy, Debug, Default)]
struct Values {
    src4: Option<Ipv4Addr>,
    dst4: Option<Ipv4Addr>,
    src6: Option<Ipv6Addr>,
    dst6: Option<Ipv6Addr>,
    src_port: Option<u16>,
    dst_port: Option<u16>,
    protocol: u8,
    tcp_flags: Option<u8>,
    bytes: u64,
    packets: u64,
    out_bytes: u64,
    out_packets: u64,
    in_if: Option<u32>,
    out_if: Option<u32>,
    start: Option<Time>,
    end: Option<Time>,
    icmp_type: Option<u8>,
    icmp_code: Option<u8>,
    ttl: Option<u8>,
    fragment: Option<bool>,
    sampling_interval: u64,
    random_interval: u64,
    packet_interval: u64,
    packet_space: u64,
    sampler_id: Option<u64>,
    system_init_ms: Option<u64>,
}

#[derive(Clone, Copy, Debug)]
enum Time {
    Absolute(Timestamp),
    /// Milliseconds of router uptime (v9: relative to the header; IPFIX: to system init).
    Uptime(u32),
    /// Microseconds before the export time.
    DeltaMicros(u32),
}

impl Values {
    fn sampling_rate(&self) -> Option<u32> {
        let clamp = |v: u64| u32::try_from(v).unwrap_or(u32::MAX).max(1);
        if self.packet_interval > 0 {
            let total = self.packet_interval.saturating_add(self.packet_space);
            Some(clamp(total.div_ceil(self.packet_interval)))
        } else if self.random_interval > 0 {
            Some(clamp(self.random_interval))
        } else if self.sampling_interval > 0 {
            Some(clamp(self.sampling_interval))
        } else {
            None
        }
    }
}

#[inline]
fn uint(b: &[u8]) -> u64 {
    // The common widths first: they compile to one load and a byte swap.
    match *b {
        [x] => u64::from(x),
        [a, b] => u64::from(u16::from_be_bytes([a, b])),
        [a, b, c, d] => u64::from(u32::from_be_bytes([a, b, c, d])),
        [a, b, c, d, e, f, g, h] => u64::from_be_bytes([a, b, c, d, e, f, g, h]),
        _ => {
            let tail = &b[b.len().saturating_sub(8)..];
            tail.iter().fold(0u64, |acc, &x| (acc << 8) | u64::from(x))
        }
    }
}

#[inline]
fn apply(v: &mut Values, target: Target, b: &[u8]) {
    use Target::*;
    match target {
        Skip => {}
        SrcV4 => v.src4 = b.be_u32(0).map(Ipv4Addr::from),
        DstV4 => v.dst4 = b.be_u32(0).map(Ipv4Addr::from),
        SrcV6 => v.src6 = <[u8; 16]>::try_from(b).ok().map(Ipv6Addr::from),
        DstV6 => v.dst6 = <[u8; 16]>::try_from(b).ok().map(Ipv6Addr::from),
        SrcPort => v.src_port = Some(uint(b) as u16),
        DstPort => v.dst_port = Some(uint(b) as u16),
        Protocol => v.protocol = uint(b) as u8,
        TcpFlags => v.tcp_flags = Some(uint(b) as u8),
        Bytes => v.bytes = uint(b),
        Packets => v.packets = uint(b),
        OutBytes => v.out_bytes = uint(b),
        OutPackets => v.out_packets = uint(b),
        InIf => v.in_if = Some(uint(b) as u32),
        OutIf => v.out_if = Some(uint(b) as u32),
        StartUptime => v.start = Some(Time::Uptime(uint(b) as u32)),
        EndUptime => v.end = Some(Time::Uptime(uint(b) as u32)),
        StartSecs => v.start = Some(Time::Absolute(Timestamp::from_secs(uint(b)))),
        EndSecs => v.end = Some(Time::Absolute(Timestamp::from_secs(uint(b)))),
        StartMillis => v.start = Some(Time::Absolute(Timestamp::from_millis(uint(b)))),
        EndMillis => v.end = Some(Time::Absolute(Timestamp::from_millis(uint(b)))),
        StartNtp => v.start = Some(Time::Absolute(ntp(b))),
        EndNtp => v.end = Some(Time::Absolute(ntp(b))),
        StartDeltaMicros => v.start = Some(Time::DeltaMicros(uint(b) as u32)),
        EndDeltaMicros => v.end = Some(Time::DeltaMicros(uint(b) as u32)),
        IcmpTypeCode => {
            let tc = uint(b);
            v.icmp_type = Some((tc >> 8) as u8);
            v.icmp_code = Some(tc as u8);
        }
        IcmpType => v.icmp_type = Some(uint(b) as u8),
        IcmpCode => v.icmp_code = Some(uint(b) as u8),
        Ttl => v.ttl = Some(uint(b) as u8),
        // RFC 5102 fragmentFlags: bit 2 (0x20 counting from the most significant) is MF.
        FragmentFlags => v.fragment = Some(v.fragment == Some(true) || uint(b) & 0x20 != 0),
        FragmentOffset => v.fragment = Some(v.fragment == Some(true) || uint(b) != 0),
        SamplingInterval => v.sampling_interval = uint(b),
        SamplerRandomInterval => v.random_interval = uint(b),
        PacketInterval => v.packet_interval = uint(b),
        PacketSpace => v.packet_space = uint(b),
        SamplerId => v.sampler_id = Some(uint(b)),
        SystemInitMillis => v.system_init_ms = Some(uint(b)),
    }
}

/// An IPFIX sysUpTime value (u32 milliseconds since `init`) as wall-clock time. The counter
/// wraps every 2^32 ms, and some exporters write times before their init as negative
/// offsets; of all the times the value can stand for, the one nearest the export time is meant.
/// `init_ms` and `export_ms` are milliseconds of `Timestamp`s, worked out once per domain
/// and per datagram rather than twice a record.
fn since_init(init_ms: u64, ms: u32, export_ms: u64) -> Timestamp {
    // Milliseconds of a `Timestamp` (u64 nanoseconds) stay under 2^45, so every sum here
    // fits an i64 (twice a record, where i128 arithmetic showed in profiles).
    const WRAP: i64 = 1 << 32;
    const MAX_MS: i64 = (u64::MAX / 1_000_000) as i64;
    let base = init_ms as i64 + i64::from(ms);
    let diff = export_ms as i64 - base;
    // Floor division by 2^32 (`div_euclid` for a positive divisor).
    let wraps = (diff + WRAP / 2) >> 32;
    let t = (base + wraps * WRAP).clamp(0, MAX_MS);
    Timestamp::from_millis(t as u64)
}

fn ntp(b: &[u8]) -> Timestamp {
    Timestamp::from_ntp(b.be_u32(0).unwrap_or(0), b.be_u32(4).unwrap_or(0))
}

/// NetFlow v9 / IPFIX decoding state: templates, sampling knowledge, held data.
#[derive(Debug)]
pub(crate) struct TemplateState {
    limits: Limits,
    templates: HashMap<TemplateKey, Template, RandomState>,
    domains: HashMap<DomainKey, DomainState, RandomState>,
    pending: VecDeque<Pending>,
    pending_bytes: usize,
    /// Logical clock for least-recently-used eviction.
    clock: u64,
    /// Reused buffer of field specifiers while a template is parsed.
    specs: Vec<(u16, u16, bool)>,
}

impl TemplateState {
    pub(crate) fn new(limits: Limits) -> Self {
        TemplateState {
            limits,
            templates: HashMap::default(),
            domains: HashMap::default(),
            pending: VecDeque::new(),
            pending_bytes: 0,
            clock: 0,
            specs: Vec::new(),
        }
    }

    pub(crate) fn template_count(&self) -> usize {
        self.templates.len()
    }

    pub(crate) fn pending_count(&self) -> usize {
        self.pending.len()
    }

    #[allow(clippy::too_many_arguments)]
    pub(crate) fn decode(
        &mut self,
        protocol: Protocol,
        bytes: &[u8],
        exporter: IpAddr,
        now: Timestamp,
        record: &mut FlowRecord,
        stats: &mut DecodeStats,
        sink: &mut impl RecordSink,
    ) -> Result<(), DecodeError> {
        self.clock += 1;
        let (context, mut sets) = match protocol {
            Protocol::V9 => {
                let h = bytes
                    .get(..20)
                    .ok_or(DecodeError::Truncated("NetFlow v9 header"))?;
                let export_time = Timestamp::from_secs(h.be_u32(8).unwrap_or(0).into());
                let context = Context {
                    protocol,
                    exporter,
                    domain: h.be_u32(16).unwrap_or(0),
                    export_time,
                    export_ms: export_time.as_millis(),
                    sys_uptime: h.be_u32(4).unwrap_or(0),
                };
                (context, &bytes[20..])
            }
            Protocol::Ipfix => {
                let h = bytes
                    .get(..16)
                    .ok_or(DecodeError::Truncated("IPFIX header"))?;
                let len = usize::from(h.be_u16(2).unwrap_or(0));
                if len < 16 {
                    return Err(DecodeError::Malformed("IPFIX message length"));
                }
                let body = bytes
                    .get(16..len)
                    .ok_or(DecodeError::Truncated("IPFIX message"))?;
                let export_time = Timestamp::from_secs(h.be_u32(4).unwrap_or(0).into());
                let context = Context {
                    protocol,
                    exporter,
                    domain: h.be_u32(12).unwrap_or(0),
                    export_time,
                    export_ms: export_time.as_millis(),
                    sys_uptime: 0,
                };
                (context, body)
            }
        };
        self.touch_domain(&context, stats);

        while !sets.is_empty() {
            let (Some(set_id), Some(len)) = (sets.be_u16(0), sets.be_u16(2)) else {
                return Err(DecodeError::Truncated("set header"));
            };
            let len = usize::from(len);
            if len < 4 {
                // Some exporters (PAN-OS) pad datagrams with zeros after the last set.
                if sets.iter().all(|&b| b == 0) {
                    return Ok(());
                }
                return Err(DecodeError::Malformed("set length"));
            }
            let set = sets.get(4..len).ok_or(DecodeError::Truncated("set"))?;
            sets = &sets[len..];
            match (protocol, set_id) {
                (Protocol::V9, 0) | (Protocol::Ipfix, 2) => {
                    self.template_set(&context, set, false, now, record, stats, sink)?
                }
                (Protocol::V9, 1) | (Protocol::Ipfix, 3) => {
                    self.template_set(&context, set, true, now, record, stats, sink)?
                }
                (_, id) if id >= 256 => {
                    self.data_set(&context, id, set, now, record, stats, sink)?
                }
                _ => {} // reserved set ids: skipped, as RFC 7011 §3.3.2 asks
            }
        }
        Ok(())
    }

    fn touch_domain(&mut self, c: &Context, stats: &mut DecodeStats) {
        let key = DomainKey {
            exporter: c.exporter,
            domain: c.domain,
        };
        if let Some(d) = self.domains.get_mut(&key) {
            d.last_used = self.clock;
            return;
        }
        if self.domains.len() >= self.limits.max_domains {
            let oldest = self
                .domains
                .iter()
                .min_by_key(|(_, d)| d.last_used)
                .map(|(k, _)| *k);
            if let Some(k) = oldest {
                self.domains.remove(&k);
                self.templates
                    .retain(|t, _| !(t.exporter == k.exporter && t.domain == k.domain));
                stats.domain_evictions += 1;
            }
        }
        self.domains.insert(
            key,
            DomainState {
                last_used: self.clock,
                ..DomainState::default()
            },
        );
    }

    #[allow(clippy::too_many_arguments)]
    fn template_set(
        &mut self,
        c: &Context,
        set: &[u8],
        options: bool,
        now: Timestamp,
        record: &mut FlowRecord,
        stats: &mut DecodeStats,
        sink: &mut impl RecordSink,
    ) -> Result<(), DecodeError> {
        // The field buffer is lent out while templates are parsed, then returned for reuse.
        let mut specs = std::mem::take(&mut self.specs);
        let result = self.template_records(c, set, options, &mut specs, now, record, stats, sink);
        self.specs = specs;
        result
    }

    #[allow(clippy::too_many_arguments)]
    fn template_records(
        &mut self,
        c: &Context,
        mut set: &[u8],
        options: bool,
        specs: &mut Vec<(u16, u16, bool)>,
        now: Timestamp,
        record: &mut FlowRecord,
        stats: &mut DecodeStats,
        sink: &mut impl RecordSink,
    ) -> Result<(), DecodeError> {
        // Each pass reads one template record; a remainder shorter than a header is padding.
        while set.len() >= 4 {
            let id = set.be_u16(0).unwrap_or(0);
            specs.clear();
            match self.parse_template(c, &mut set, options, specs)? {
                None => break,
                Some(0) => self.withdraw(c, id, options),
                Some(_) => {
                    let key = TemplateKey {
                        exporter: c.exporter,
                        domain: c.domain,
                        id,
                    };
                    if let Some(t) = self.templates.get_mut(&key) {
                        if t.options == options && *t.specs == **specs {
                            t.last_used = self.clock;
                            continue;
                        }
                    }
                    let t = Template::compile(specs, options, self.clock)?;
                    self.insert_template(c, id, t, stats);
                    self.release_pending(c, id, now, record, stats, sink);
                }
            }
        }
        Ok(())
    }

    /// Reads one template record from the front of `set` into `specs` and advances `set`.
    /// Ok(None): the rest is padding. Ok(Some(0)): a withdrawal. Ok(Some(n)): n fields.
    fn parse_template(
        &self,
        c: &Context,
        set: &mut &[u8],
        options: bool,
        specs: &mut Vec<(u16, u16, bool)>,
    ) -> Result<Option<usize>, DecodeError> {
        let s = *set;
        let id = s.be_u16(0).unwrap_or(0);
        let (count, mut at) = match (c.protocol, options) {
            (Protocol::V9, false) | (Protocol::Ipfix, false) => {
                (usize::from(s.be_u16(2).unwrap_or(0)), 4)
            }
            (Protocol::Ipfix, true) => {
                let count = usize::from(s.be_u16(2).unwrap_or(0));
                if count == 0 {
                    *set = &s[4..];
                    return Ok(Some(0));
                }
                let scope = s
                    .be_u16(4)
                    .ok_or(DecodeError::Truncated("options template"))?;
                if usize::from(scope) > count {
                    return Err(DecodeError::Malformed("options template scope count"));
                }
                (count, 6)
            }
            (Protocol::V9, true) => {
                let (Some(scope_len), Some(option_len)) = (s.be_u16(2), s.be_u16(4)) else {
                    return Ok(None);
                };
                let bytes = usize::from(scope_len) + usize::from(option_len);
                if bytes % 4 != 0 {
                    return Err(DecodeError::Malformed("options template lengths"));
                }
                (bytes / 4, 6)
            }
        };
        if id == 0 && count == 0 && c.protocol == Protocol::V9 {
            return Ok(None);
        }
        if id < 256 && !(c.protocol == Protocol::Ipfix && count == 0 && (id == 2 || id == 3)) {
            // Template ids below 256 are reserved; what follows is padding or garbage.
            if s.iter().all(|&b| b == 0) {
                *set = &[];
                return Ok(None);
            }
            return Err(DecodeError::Malformed("template id"));
        }
        if count > self.limits.max_fields {
            return Err(DecodeError::Malformed("template field count"));
        }
        for _ in 0..count {
            let (Some(ie), Some(len)) = (s.be_u16(at), s.be_u16(at + 2)) else {
                return Err(DecodeError::Truncated("template"));
            };
            at += 4;
            let enterprise = c.protocol == Protocol::Ipfix && ie & 0x8000 != 0;
            if enterprise {
                s.be_u32(at)
                    .ok_or(DecodeError::Truncated("template enterprise number"))?;
                at += 4;
            }
            specs.push((if enterprise { ie & 0x7fff } else { ie }, len, enterprise));
        }
        *set = &s[at..];
        Ok(Some(count))
    }

    fn withdraw(&mut self, c: &Context, id: u16, options: bool) {
        let (exporter, domain) = (c.exporter, c.domain);
        let before = self.templates.len();
        if id == 2 || id == 3 {
            // "All templates" withdrawal (RFC 7011 §8.1): of the kind the set carries.
            self.templates.retain(|k, t| {
                !(k.exporter == exporter && k.domain == domain && t.options == options)
            });
        } else {
            self.templates.remove(&TemplateKey {
                exporter,
                domain,
                id,
            });
        }
        let removed = before - self.templates.len();
        if let Some(d) = self.domains.get_mut(&DomainKey { exporter, domain }) {
            d.templates = d.templates.saturating_sub(removed);
        }
    }

    fn insert_template(&mut self, c: &Context, id: u16, t: Template, stats: &mut DecodeStats) {
        let key = TemplateKey {
            exporter: c.exporter,
            domain: c.domain,
            id,
        };
        if let Some(slot) = self.templates.get_mut(&key) {
            *slot = t; // redefinition
            return;
        }
        let dkey = DomainKey {
            exporter: c.exporter,
            domain: c.domain,
        };
        let domain_full = self
            .domains
            .get(&dkey)
            .is_some_and(|d| d.templates >= self.limits.max_templates_per_domain);
        if domain_full || self.templates.len() >= self.limits.max_templates {
            let victim = self
                .templates
                .iter()
                .filter(|(k, _)| !domain_full || (k.exporter == c.exporter && k.domain == c.domain))
                .min_by_key(|(_, t)| t.last_used)
                .map(|(k, _)| *k);
            if let Some(v) = victim {
                self.templates.remove(&v);
                if let Some(d) = self.domains.get_mut(&DomainKey {
                    exporter: v.exporter,
                    domain: v.domain,
                }) {
                    d.templates = d.templates.saturating_sub(1);
                }
                stats.template_evictions += 1;
            }
        }
        self.templates.insert(key, t);
        if let Some(d) = self.domains.get_mut(&dkey) {
            d.templates += 1;
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn data_set(
        &mut self,
        c: &Context,
        id: u16,
        set: &[u8],
        now: Timestamp,
        record: &mut FlowRecord,
        stats: &mut DecodeStats,
        sink: &mut impl RecordSink,
    ) -> Result<(), DecodeError> {
        let key = TemplateKey {
            exporter: c.exporter,
            domain: c.domain,
            id,
        };
        let Some(template) = self.templates.get_mut(&key) else {
            stats.template_misses += 1;
            self.hold(key, *c, set, now, stats);
            return Ok(());
        };
        template.last_used = self.clock;
        let domain = self
            .domains
            .entry(DomainKey {
                exporter: c.exporter,
                domain: c.domain,
            })
            .or_default();
        decode_records(template, c, set, domain, self.limits, record, stats, sink)
    }

    fn hold(
        &mut self,
        key: TemplateKey,
        context: Context,
        set: &[u8],
        now: Timestamp,
        stats: &mut DecodeStats,
    ) {
        self.expire_pending(now, stats);
        if set.len() > self.limits.max_pending_bytes {
            stats.pending_dropped += 1;
            return;
        }
        while self.pending.len() >= self.limits.max_pending_sets
            || self.pending_bytes + set.len() > self.limits.max_pending_bytes
        {
            let Some(old) = self.pending.pop_front() else {
                break;
            };
            self.pending_bytes -= old.data.len();
            stats.pending_dropped += 1;
        }
        self.pending_bytes += set.len();
        self.pending.push_back(Pending {
            key,
            context,
            received: now,
            data: set.to_vec(),
        });
    }

    fn expire_pending(&mut self, now: Timestamp, stats: &mut DecodeStats) {
        let max_age = self.limits.pending_max_age_ms;
        while let Some(p) = self.pending.front() {
            if now.saturating_sub_millis(max_age) <= p.received {
                break;
            }
            self.pending_bytes -= p.data.len();
            self.pending.pop_front();
            stats.pending_dropped += 1;
        }
    }

    fn release_pending(
        &mut self,
        c: &Context,
        id: u16,
        now: Timestamp,
        record: &mut FlowRecord,
        stats: &mut DecodeStats,
        sink: &mut impl RecordSink,
    ) {
        self.expire_pending(now, stats);
        let key = TemplateKey {
            exporter: c.exporter,
            domain: c.domain,
            id,
        };
        if !self.pending.iter().any(|p| p.key == key) {
            return;
        }
        let (held, kept): (VecDeque<_>, VecDeque<_>) = std::mem::take(&mut self.pending)
            .into_iter()
            .partition(|p| p.key == key);
        self.pending = kept;
        for p in held {
            self.pending_bytes -= p.data.len();
            stats.pending_decoded += 1;
            let Some(template) = self.templates.get(&key) else {
                break;
            };
            let domain = self
                .domains
                .entry(DomainKey {
                    exporter: c.exporter,
                    domain: c.domain,
                })
                .or_default();
            if decode_records(
                template,
                &p.context,
                &p.data,
                domain,
                self.limits,
                record,
                stats,
                sink,
            )
            .is_err()
            {
                stats.errors += 1;
            }
        }
    }
}

/// The length of the field at `*at` (advanced past an IPFIX variable-length prefix: one byte,
/// or 255 and two bytes, RFC 7011 §7); `None` when the prefix is cut off.
#[inline]
fn field_len(set: &[u8], at: &mut usize, len: u16) -> Option<usize> {
    if len != VARLEN {
        return Some(usize::from(len));
    }
    let first = set.be_u8(*at)?;
    *at += 1;
    if first < 255 {
        return Some(usize::from(first));
    }
    let long = set.be_u16(*at)?;
    *at += 2;
    Some(usize::from(long))
}

/// Walks the records of one data set with its template.
#[allow(clippy::too_many_arguments)]
fn decode_records(
    t: &Template,
    c: &Context,
    mut set: &[u8],
    domain: &mut DomainState,
    limits: Limits,
    record: &mut FlowRecord,
    stats: &mut DecodeStats,
    sink: &mut impl RecordSink,
) -> Result<(), DecodeError> {
    if let Some(d) = &t.direct {
        d.decode_set(set, c, domain, record, &mut stats.records, sink);
        return Ok(());
    }
    if t.fixed {
        // Trailing bytes shorter than a record are padding.
        let mut v = Values::default();
        for rec in set.chunks_exact(t.min_len) {
            t.plan.decode(rec, &mut v);
            record_done(&v, t, c, domain, limits, record, stats, sink);
        }
        return Ok(());
    }
    while set.len() >= t.min_len {
        let mut v = Values::default();
        let mut at = 0usize;
        for f in t.fields.iter() {
            let len = field_len(set, &mut at, f.len)
                .ok_or(DecodeError::Truncated("variable-length field"))?;
            let b = set
                .get(at..at + len)
                .ok_or(DecodeError::Truncated("data record"))?;
            at += len;
            apply(&mut v, f.target, b);
        }
        set = &set[at..];
        record_done(&v, t, c, domain, limits, record, stats, sink);
    }
    Ok(())
}

/// One decoded record: options data teaches the domain, flow data goes to the sink.
#[allow(clippy::too_many_arguments)]
#[inline]
fn record_done(
    v: &Values,
    t: &Template,
    c: &Context,
    domain: &mut DomainState,
    limits: Limits,
    record: &mut FlowRecord,
    stats: &mut DecodeStats,
    sink: &mut impl RecordSink,
) {
    if t.options {
        learn_options(v, domain, limits);
        stats.options_records += 1;
        sink.options_record();
    } else {
        emit(v, c, domain, record, stats, sink);
    }
}

fn learn_options(v: &Values, domain: &mut DomainState, limits: Limits) {
    if let Some(ms) = v.system_init_ms {
        domain.system_init_ms = Some(Timestamp::from_millis(ms).as_millis());
    }
    let Some(rate) = v.sampling_rate() else {
        return;
    };
    match v.sampler_id {
        Some(id) => {
            if let Some(slot) = domain.samplers.iter_mut().find(|(s, _)| *s == id) {
                slot.1 = rate;
            } else {
                if domain.samplers.len() >= limits.max_samplers_per_domain {
                    domain.samplers.remove(0);
                }
                domain.samplers.push((id, rate));
            }
        }
        None => domain.default_rate = Some(rate),
    }
}

fn emit(
    v: &Values,
    c: &Context,
    domain: &DomainState,
    record: &mut FlowRecord,
    stats: &mut DecodeStats,
    sink: &mut impl RecordSink,
) {
    let src = match (v.src4, v.src6) {
        (Some(a), Some(b)) if a.is_unspecified() => Some(IpAddr::V6(b)),
        (Some(a), _) => Some(IpAddr::V4(a)),
        (None, b) => b.map(IpAddr::V6),
    };
    let dst = match (v.dst4, v.dst6) {
        (Some(a), Some(b)) if a.is_unspecified() => Some(IpAddr::V6(b)),
        (Some(a), _) => Some(IpAddr::V4(a)),
        (None, b) => b.map(IpAddr::V6),
    };
    let (Some(src), Some(dst)) = (src, dst) else {
        stats.records_without_addresses += 1;
        sink.unaddressed_record();
        return;
    };
    let time = |t: Option<Time>| -> Option<Timestamp> {
        match t? {
            Time::Absolute(ts) => Some(ts),
            Time::DeltaMicros(us) => Some(shape::before_export(c.export_time, us)),
            Time::Uptime(ms) => match c.protocol {
                Protocol::V9 => Some(uptime_to_time(c.export_time, c.sys_uptime, ms)),
                Protocol::Ipfix => {
                    let init = v
                        .system_init_ms
                        .map(|ms| Timestamp::from_millis(ms).as_millis())
                        .or(domain.system_init_ms)?;
                    Some(since_init(init, ms, c.export_ms))
                }
            },
        }
    };
    let (start, end) = shape::start_end(time(v.start), time(v.end), c.export_time);
    let rate = v
        .sampler_id
        .and_then(|id| domain.sampler_rate(id))
        .or_else(|| v.sampling_rate())
        .or(domain.default_rate)
        .unwrap_or(1);

    let ported = shape::ported(v.protocol);
    let (packets, bytes) = shape::counters(v.packets, v.bytes, || (v.out_packets, v.out_bytes));
    let (icmp_type, icmp_code) = shape::icmp(v.protocol, v.icmp_type, v.icmp_code, v.dst_port);
    // One write of the whole record, not an empty one and then its fields.
    *record = FlowRecord {
        exporter: Some(c.exporter),
        observation_domain: c.domain,
        format: c.protocol.format(),
        src_addr: src,
        dst_addr: dst,
        src_port: v.src_port.filter(|_| ported),
        dst_port: v.dst_port.filter(|_| ported),
        ip_protocol: v.protocol,
        tcp_flags: v.tcp_flags.filter(|_| v.protocol == 6),
        packets,
        bytes,
        sampling_rate: rate,
        start,
        end,
        in_if: v.in_if,
        out_if: v.out_if,
        icmp_type,
        icmp_code,
        ttl: v.ttl,
        fragment: v.fragment,
    };
    stats.records += 1;
    sink.record(record);
}

impl TemplateState {
    /// Shifts every absolute time in the data records of a NetFlow v9 or IPFIX datagram by
    /// `delta_ms` (templates must have been learned, e.g. by decoding the datagram first), so
    /// that a replayed capture looks recent in its records as well as in its header. Times
    /// relative to router uptime need nothing: they follow the header.
    pub(crate) fn shift_times(
        &self,
        protocol: Protocol,
        datagram: &mut [u8],
        exporter: IpAddr,
        delta_ms: i64,
    ) {
        let (domain, first_set, end) = match protocol {
            Protocol::V9 => (datagram.be_u32(16).unwrap_or(0), 20, datagram.len()),
            Protocol::Ipfix => {
                let len = usize::from(datagram.be_u16(2).unwrap_or(0)).min(datagram.len());
                (datagram.be_u32(12).unwrap_or(0), 16, len)
            }
        };
        let mut at = first_set;
        while at + 4 <= end {
            let id = datagram.be_u16(at).unwrap_or(0);
            let len = usize::from(datagram.be_u16(at + 2).unwrap_or(0));
            if len < 4 || at + len > end {
                return;
            }
            if id >= 256 {
                if let Some(t) = self.templates.get(&TemplateKey {
                    exporter,
                    domain,
                    id,
                }) {
                    shift_set(t, &mut datagram[at + 4..at + len], delta_ms);
                }
            }
            at += len;
        }
    }
}

fn shift_set(t: &Template, set: &mut [u8], delta_ms: i64) {
    let shift = |v: u64, unit_ms: i64| -> u64 {
        let d = delta_ms / unit_ms.max(1);
        if d >= 0 {
            v.saturating_add(d as u64)
        } else {
            v.saturating_sub(d.unsigned_abs())
        }
    };
    let mut at = 0usize;
    while set.len().saturating_sub(at) >= t.min_len {
        for f in t.fields.iter() {
            let Some(len) = field_len(set, &mut at, f.len) else {
                return;
            };
            let Some(b) = set.get_mut(at..at + len) else {
                return;
            };
            at += len;
            match f.target {
                Target::StartSecs | Target::EndSecs => {
                    let v = shift(uint(b), 1000) as u32;
                    b.copy_from_slice(&v.to_be_bytes());
                }
                Target::StartMillis | Target::EndMillis | Target::SystemInitMillis => {
                    let v = shift(uint(b), 1);
                    b.copy_from_slice(&v.to_be_bytes());
                }
                Target::StartNtp | Target::EndNtp => {
                    let secs = shift(u64::from(b.be_u32(0).unwrap_or(0)), 1000) as u32;
                    b[..4].copy_from_slice(&secs.to_be_bytes());
                }
                _ => {}
            }
        }
        if t.fixed && set.len() - at < t.min_len {
            break;
        }
    }
}

#[cfg(test)]
mod tests {
    //! Template state behaviour, on hand-built IPFIX and NetFlow v9 messages.
    use super::*;
    use crate::FlowDecoder;

    const A: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));
    const B: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 2));
    const NOW: Timestamp = Timestamp::from_secs(1_795_341_600);

    fn set(id: u16, body: &[u8]) -> Vec<u8> {
        let mut s = id.to_be_bytes().to_vec();
        s.extend_from_slice(&((body.len() + 4) as u16).to_be_bytes());
        s.extend_from_slice(body);
        s
    }

    /// An IPFIX message for observation domain `domain` holding `sets`.
    fn ipfix(domain: u32, sets: &[Vec<u8>]) -> Vec<u8> {
        let body: Vec<u8> = sets.concat();
        let mut m = vec![0, 10];
        m.extend_from_slice(&((16 + body.len()) as u16).to_be_bytes());
        m.extend_from_slice(&(NOW.as_secs() as u32).to_be_bytes());
        m.extend_from_slice(&[0, 0, 0, 1]);
        m.extend_from_slice(&domain.to_be_bytes());
        m.extend_from_slice(&body);
        m
    }

    /// Template record: id, then (ie, len) pairs; enterprise IEs as (ie | 0x8000, len) + PEN.
    fn template(id: u16, fields: &[(u16, u16)]) -> Vec<u8> {
        let mut t = id.to_be_bytes().to_vec();
        t.extend_from_slice(&(fields.len() as u16).to_be_bytes());
        for &(ie, len) in fields {
            t.extend_from_slice(&ie.to_be_bytes());
            t.extend_from_slice(&len.to_be_bytes());
            if ie & 0x8000 != 0 {
                t.extend_from_slice(&29305u32.to_be_bytes());
            }
        }
        t
    }

    fn options_template(id: u16, scope: &[(u16, u16)], fields: &[(u16, u16)]) -> Vec<u8> {
        let mut t = id.to_be_bytes().to_vec();
        t.extend_from_slice(&((scope.len() + fields.len()) as u16).to_be_bytes());
        t.extend_from_slice(&(scope.len() as u16).to_be_bytes());
        for &(ie, len) in scope.iter().chain(fields) {
            t.extend_from_slice(&ie.to_be_bytes());
            t.extend_from_slice(&len.to_be_bytes());
        }
        t
    }

    /// Fields: src v4, dst v4, proto, octets (4), packets (4), sampler id (1).
    const FLOW: [(u16, u16); 6] = [(8, 4), (12, 4), (4, 1), (1, 4), (2, 4), (48, 1)];

    fn flow(src: u8, octets: u32, sampler: u8) -> Vec<u8> {
        let mut r = vec![10, 0, 0, src, 203, 0, 113, 10, 17];
        r.extend_from_slice(&octets.to_be_bytes());
        r.extend_from_slice(&1u32.to_be_bytes());
        r.push(sampler);
        r
    }

    fn run(d: &mut FlowDecoder, exporter: IpAddr, msg: &[u8]) -> Vec<FlowRecord> {
        let mut out = Vec::new();
        d.decode(msg, exporter, NOW, &mut |r: &FlowRecord| {
            out.push(r.clone())
        })
        .unwrap();
        out
    }

    #[test]
    fn data_before_template_is_held_then_decoded() {
        let mut d = FlowDecoder::default();
        let data = ipfix(1, &[set(300, &flow(1, 100, 0))]);
        assert!(run(&mut d, A, &data).is_empty());
        assert_eq!((d.stats().template_misses, d.pending_count()), (1, 1));
        let got = run(&mut d, A, &ipfix(1, &[set(2, &template(300, &FLOW))]));
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].bytes, 100);
        assert_eq!((d.stats().pending_decoded, d.pending_count()), (1, 0));
    }

    #[test]
    fn held_data_is_bounded_and_ages_out() {
        let limits = Limits {
            max_pending_sets: 2,
            pending_max_age_ms: 1_000,
            ..Limits::default()
        };
        let mut d = FlowDecoder::new(limits);
        for id in 300..305 {
            run(&mut d, A, &ipfix(1, &[set(id, &flow(1, 1, 0))]));
        }
        assert_eq!(d.pending_count(), 2);
        assert_eq!(d.stats().pending_dropped, 3);
        // Two seconds later the held sets are too old for a template to revive them.
        let later = NOW.saturating_add_millis(2_000);
        let tpl = ipfix(1, &[set(2, &template(304, &FLOW))]);
        let mut n = 0;
        d.decode(&tpl, A, later, &mut |_: &FlowRecord| n += 1)
            .unwrap();
        assert_eq!((n, d.pending_count(), d.stats().pending_dropped), (0, 0, 5));
    }

    #[test]
    fn templates_are_kept_per_exporter_and_domain() {
        let mut d = FlowDecoder::default();
        run(&mut d, A, &ipfix(1, &[set(2, &template(300, &FLOW))]));
        // Same template id from another exporter or domain: unknown there.
        assert!(run(&mut d, B, &ipfix(1, &[set(300, &flow(1, 1, 0))])).is_empty());
        assert!(run(&mut d, A, &ipfix(2, &[set(300, &flow(1, 1, 0))])).is_empty());
        assert_eq!(
            run(&mut d, A, &ipfix(1, &[set(300, &flow(1, 1, 0))])).len(),
            1
        );
        assert_eq!(d.stats().template_misses, 2);
    }

    #[test]
    fn cache_evicts_least_recently_used_and_counts_it() {
        let limits = Limits {
            max_templates: 3,
            max_templates_per_domain: 2,
            ..Limits::default()
        };
        let mut d = FlowDecoder::new(limits);
        // Domain 1 may hold two: a third evicts its own oldest, not another domain's.
        run(&mut d, B, &ipfix(9, &[set(2, &template(256, &FLOW))]));
        for id in [300, 301, 302] {
            run(&mut d, A, &ipfix(1, &[set(2, &template(id, &FLOW))]));
        }
        assert_eq!(d.stats().template_evictions, 1);
        assert!(run(&mut d, A, &ipfix(1, &[set(300, &flow(1, 1, 0))])).is_empty());
        assert_eq!(
            run(&mut d, B, &ipfix(9, &[set(256, &flow(1, 1, 0))])).len(),
            1
        );
        // The global limit: a new domain evicts the least recently used template anywhere.
        run(&mut d, A, &ipfix(2, &[set(2, &template(400, &FLOW))]));
        assert_eq!(d.stats().template_evictions, 2);
        assert_eq!(d.template_count(), 3);
    }

    #[test]
    fn withdrawal_and_redefinition() {
        let mut d = FlowDecoder::default();
        run(&mut d, A, &ipfix(1, &[set(2, &template(300, &FLOW))]));
        assert_eq!(
            run(&mut d, A, &ipfix(1, &[set(300, &flow(1, 7, 0))]))[0].bytes,
            7
        );
        // Redefined with octets as 8 bytes.
        let wide = [(8, 4), (12, 4), (4, 1), (1, 8), (2, 4), (48, 1)];
        run(&mut d, A, &ipfix(1, &[set(2, &template(300, &wide))]));
        let mut rec = vec![10, 0, 0, 1, 203, 0, 113, 10, 17];
        rec.extend_from_slice(&(1u64 << 40).to_be_bytes());
        rec.extend_from_slice(&[0, 0, 0, 1, 0]);
        assert_eq!(
            run(&mut d, A, &ipfix(1, &[set(300, &rec)]))[0].bytes,
            1 << 40
        );
        // Withdrawn (RFC 7011 §8.1: a template record with no fields).
        run(&mut d, A, &ipfix(1, &[set(2, &[1, 44, 0, 0])]));
        assert_eq!(d.template_count(), 0);
        // "All templates" withdrawal.
        run(
            &mut d,
            A,
            &ipfix(
                1,
                &[set(2, &template(301, &FLOW)), set(2, &template(302, &FLOW))],
            ),
        );
        run(&mut d, A, &ipfix(1, &[set(2, &[0, 2, 0, 0])]));
        assert_eq!(d.template_count(), 0);
    }

    #[test]
    fn sampling_rate_per_sampler_id_and_per_domain() {
        let mut d = FlowDecoder::default();
        // Options: scope samplerId (48) / observationDomainId (149); samplingPacketInterval
        // and samplingPacketSpace (305, 306) or samplerRandomInterval (50).
        let by_sampler = options_template(400, &[(48, 1)], &[(305, 4), (306, 4)]);
        let by_domain = options_template(401, &[(149, 4)], &[(50, 4)]);
        let mut opt_sampler = vec![5];
        opt_sampler.extend_from_slice(&1u32.to_be_bytes());
        opt_sampler.extend_from_slice(&99u32.to_be_bytes()); // 1 in 100
        let mut opt_domain = 1u32.to_be_bytes().to_vec();
        opt_domain.extend_from_slice(&512u32.to_be_bytes());
        run(
            &mut d,
            A,
            &ipfix(
                1,
                &[
                    set(3, &[by_sampler, by_domain].concat()),
                    set(400, &opt_sampler),
                    set(401, &opt_domain),
                    set(2, &template(300, &FLOW)),
                ],
            ),
        );
        assert_eq!(d.stats().options_records, 2);
        let got = run(
            &mut d,
            A,
            &ipfix(1, &[set(300, &[flow(1, 1, 5), flow(2, 1, 7)].concat())]),
        );
        // Sampler 5 is known; sampler 7 is not, so the domain's rate applies.
        assert_eq!([got[0].sampling_rate, got[1].sampling_rate], [100, 512]);
        // Another domain of the same exporter learned nothing.
        run(&mut d, A, &ipfix(2, &[set(2, &template(300, &FLOW))]));
        assert_eq!(
            run(&mut d, A, &ipfix(2, &[set(300, &flow(1, 1, 5))]))[0].sampling_rate,
            1
        );
    }

    #[test]
    fn variable_length_and_enterprise_fields_are_skipped_safely() {
        let mut d = FlowDecoder::default();
        // applicationName (96) variable length, an enterprise field of 3 bytes, then FLOW.
        let mut fields = vec![(96, VARLEN), (0x8000 | 12, 3)];
        fields.extend_from_slice(&FLOW);
        run(&mut d, A, &ipfix(1, &[set(2, &template(300, &fields))]));
        let short = [&[3u8, b'd', b'n', b's', 1, 2, 3][..], &flow(1, 10, 0)].concat();
        let long = [
            &[255u8, 1, 44][..],
            &[b'x'; 300],
            &[1, 2, 3],
            &flow(2, 20, 0),
        ]
        .concat();
        let got = run(&mut d, A, &ipfix(1, &[set(300, &[short, long].concat())]));
        assert_eq!(got.iter().map(|r| r.bytes).collect::<Vec<_>>(), [10, 20]);
        // A variable-length field longer than the set is an error.
        let cut = [&[255u8, 1, 44][..], &[b'x'; 40]].concat();
        assert!(d
            .decode(
                &ipfix(1, &[set(300, &cut)]),
                A,
                NOW,
                &mut |_: &FlowRecord| {}
            )
            .is_err());
    }

    #[test]
    fn ipv6_and_padding() {
        let mut d = FlowDecoder::default();
        let fields = [(27, 16), (28, 16), (4, 1), (1, 4), (2, 4)];
        run(&mut d, A, &ipfix(1, &[set(2, &template(300, &fields))]));
        let mut r = vec![0x20, 0x01, 0x0d, 0xb8];
        r.extend_from_slice(&[0; 11]);
        r.push(1);
        r.extend_from_slice(&[0x20, 0x01, 0x0d, 0xb8]);
        r.extend_from_slice(&[0; 11]);
        r.push(2);
        r.push(6);
        r.extend_from_slice(&[0, 0, 0, 60, 0, 0, 0, 1]);
        // 41-byte record plus 3 bytes of set padding.
        let got = run(&mut d, A, &ipfix(1, &[set(300, &[r, vec![0; 3]].concat())]));
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].src_addr.to_string(), "2001:db8::1");
        assert_eq!(got[0].dst_addr.to_string(), "2001:db8::2");
    }

    /// The i64 arithmetic of `since_init` gives what exact i128 arithmetic gives, over the
    /// whole range of times and around every wrap.
    #[test]
    fn since_init_matches_wide_arithmetic() {
        fn wide(init: Timestamp, ms: u32, export: Timestamp) -> Timestamp {
            const WRAP: i128 = 1 << 32;
            let base = i128::from(init.as_millis()) + i128::from(ms);
            let diff = i128::from(export.as_millis()) - base;
            let wraps = (diff + WRAP / 2).div_euclid(WRAP);
            let t = (base + wraps * WRAP).clamp(0, i128::from(u64::MAX / 1_000_000));
            Timestamp::from_millis(t as u64)
        }
        let max_ms = u64::MAX / 1_000_000;
        let times = [
            0,
            1,
            (1u64 << 31) - 1,
            1 << 31,
            1 << 32,
            (1 << 32) + 1,
            1_795_341_600_000,
            max_ms - (1 << 32),
            max_ms - 1,
            max_ms,
        ];
        let mut rng = 0x9e37_79b9_7f4a_7c15u64;
        for &i in &times {
            for &e in &times {
                for _ in 0..64 {
                    rng ^= rng << 13;
                    rng ^= rng >> 7;
                    rng ^= rng << 17;
                    let init = Timestamp::from_millis(i.saturating_add(rng % 3).min(max_ms));
                    let export = Timestamp::from_millis(e.saturating_sub(rng >> 40 & 7));
                    let ms = (rng >> 11) as u32;
                    for ms in [ms, 0, u32::MAX, 1 << 31] {
                        assert_eq!(
                            since_init(init.as_millis(), ms, export.as_millis()),
                            wide(init, ms, export)
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn ipfix_uptime_takes_the_reading_nearest_export_time() {
        let init = Timestamp::from_millis(NOW.as_millis() - 10_000);
        // 5 s after init.
        assert_eq!(
            since_init(init.as_millis(), 5_000, NOW.as_millis()).as_millis(),
            init.as_millis() + 5_000
        );
        // Written as a negative offset (one hour before init) in an unsigned field.
        let before = (-3_600_000i32) as u32;
        assert_eq!(
            since_init(init.as_millis(), before, NOW.as_millis()).as_millis(),
            init.as_millis() - 3_600_000
        );
        // After a wrap: init 60 days ago, uptime counter past 2^32 ms.
        let old = Timestamp::from_millis(NOW.as_millis() - 60 * 86_400_000);
        let ms = ((60 * 86_400_000u64 - 1_000) % (1 << 32)) as u32;
        assert_eq!(
            since_init(old.as_millis(), ms, NOW.as_millis()).as_millis(),
            NOW.as_millis() - 1_000
        );
    }

    #[test]
    fn zero_length_templates_and_huge_field_counts_are_refused() {
        let mut d = FlowDecoder::default();
        let zero = ipfix(1, &[set(2, &template(300, &[(8, 0)]))]);
        assert_eq!(
            d.decode(&zero, A, NOW, &mut |_: &FlowRecord| {}),
            Err(DecodeError::Malformed("template with zero record length"))
        );
        let mut big = vec![1, 44, 2, 1]; // 513 fields
        big.extend(std::iter::repeat_n([0u8, 8, 0, 4], 513).flatten());
        assert_eq!(
            d.decode(&ipfix(1, &[set(2, &big)]), A, NOW, &mut |_: &FlowRecord| {}),
            Err(DecodeError::Malformed("template field count"))
        );
        assert_eq!(d.stats().errors, 2);
    }
}
