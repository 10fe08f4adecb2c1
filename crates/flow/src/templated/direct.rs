//! The direct decoder of fixed-length flow templates: every field we use is one 8-byte load
//! at a place worked out when the template is compiled, and the record is written straight
//! into the `FlowRecord`, without the `Values` the general path fills first. Templates it
//! cannot take (options, fields that combine or repeat, records under 8 bytes) keep that path.

use super::{shape, since_init, Context, DomainState, Field, Protocol as Wire, Target};
use crate::netflow5::uptime_to_time;
use crate::{FlowRecord, RecordSink, Timestamp};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

#[cfg(test)]
thread_local! {
    /// Tests set this to decode everything by the general path, to compare the two.
    static GENERAL_ONLY: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Whether templates compiled now get no direct plan (only ever in tests).
pub(super) fn general_only() -> bool {
    #[cfg(test)]
    return GENERAL_ONLY.get();
    #[cfg(not(test))]
    false
}

/// A field of 1 to 8 bytes read as the 8 bytes at its offset in a window of `W` bytes from
/// the record's start, shifted down to the field and masked. Offsets are below `W - 8`, a
/// power of two, so masking the offset proves the load in bounds: no check per field.
/// A field the template lacks has mask 0 and reads 0, what the general path defaults to.
#[derive(Clone, Copy, Debug, Default)]
struct Load {
    at: u16,
    shr: u8,
    mask: u64,
}

impl Load {
    /// `len` is 1 to 8.
    fn new(offset: usize, len: usize) -> Load {
        Load {
            at: offset as u16,
            shr: (64 - 8 * len) as u8,
            mask: u64::MAX >> (64 - 8 * len),
        }
    }

    #[inline(always)]
    fn read<const W: usize>(self, win: &[u8; W]) -> u64 {
        self.present(win) & self.mask
    }

    /// The field of a template known to have it: the shift alone leaves only its bytes.
    #[inline(always)]
    fn present<const W: usize>(self, win: &[u8; W]) -> u64 {
        word(win, self.at) >> self.shr
    }
}

/// The 8 bytes at `at` (below `W - 8`) of a window, big-endian.
#[inline(always)]
fn word<const W: usize>(win: &[u8; W], at: u16) -> u64 {
    let at = usize::from(at) & (W - 9);
    let mut b = [0u8; 8];
    b.copy_from_slice(&win[at..at + 8]);
    u64::from_be_bytes(b)
}

/// Where a record's source or destination address comes from.
#[derive(Clone, Copy, Debug)]
enum Addr {
    V4(Load),
    /// The two halves of an IPv6 address.
    V6(u16, u16),
    /// Both fields: the IPv6 one when the IPv4 one is 0.0.0.0, as the general path decides.
    Either(Load, u16, u16),
}

impl Addr {
    fn new(v4: Option<Load>, v6: Option<usize>) -> Option<Addr> {
        let halves = |o: usize| (o as u16, (o + 8) as u16);
        match (v4, v6.map(halves)) {
            (Some(a), Some((h, l))) => Some(Addr::Either(a, h, l)),
            (Some(a), None) => Some(Addr::V4(a)),
            (None, Some((h, l))) => Some(Addr::V6(h, l)),
            (None, None) => None,
        }
    }

    #[inline(always)]
    fn read<const W: usize>(self, win: &[u8; W]) -> IpAddr {
        let v6 = |h, l| {
            let a = u128::from(word(win, h)) << 64 | u128::from(word(win, l));
            IpAddr::V6(Ipv6Addr::from(a))
        };
        match self {
            Addr::V4(a) => IpAddr::V4(Ipv4Addr::from(a.present(win) as u32)),
            Addr::V6(h, l) => v6(h, l),
            Addr::Either(a, h, l) => match a.present(win) as u32 {
                0 => v6(h, l),
                a => IpAddr::V4(Ipv4Addr::from(a)),
            },
        }
    }
}

/// How a start or end time field becomes a timestamp in one datagram's context.
#[derive(Clone, Copy, Debug)]
enum Clock {
    /// The template has no such field, or (IPFIX uptime) the system init time is unknown.
    None,
    Secs,
    Millis,
    Ntp,
    /// Microseconds before this export time.
    DeltaMicros(Timestamp),
    /// NetFlow v9: router uptime, against this export time and header uptime.
    V9Uptime(Timestamp, u32),
    /// IPFIX: milliseconds since this system init time (ms), near this export time (ms).
    SinceInit(u64, u64),
}

impl Clock {
    /// The clock of a field of `kind` (a `Start*`/`End*` target, or `Skip` when absent).
    fn new(kind: Target, c: &Context, domain: &DomainState) -> Clock {
        use Target::*;
        match kind {
            StartSecs | EndSecs => Clock::Secs,
            StartMillis | EndMillis => Clock::Millis,
            StartNtp | EndNtp => Clock::Ntp,
            StartDeltaMicros | EndDeltaMicros => Clock::DeltaMicros(c.export_time),
            StartUptime | EndUptime => match c.protocol {
                Wire::V9 => Clock::V9Uptime(c.export_time, c.sys_uptime),
                Wire::Ipfix => domain
                    .system_init_ms
                    .map_or(Clock::None, |init| Clock::SinceInit(init, c.export_ms)),
            },
            _ => Clock::None,
        }
    }

    #[inline(always)]
    fn time(self, x: u64) -> Option<Timestamp> {
        Some(match self {
            Clock::None => return None,
            Clock::Secs => Timestamp::from_secs(x),
            Clock::Millis => Timestamp::from_millis(x),
            // Seconds since 1900 in the high word, the fraction in the low one.
            Clock::Ntp => Timestamp::from_ntp((x >> 32) as u32, x as u32),
            Clock::DeltaMicros(export) => shape::before_export(export, x as u32),
            Clock::V9Uptime(export, uptime) => uptime_to_time(export, uptime, x as u32),
            Clock::SinceInit(init, export) => since_init(init, x as u32, export),
        })
    }
}

/// What one data set's records share: worked out once per set, not per record.
#[derive(Clone, Copy, Debug)]
struct SetContext {
    export_time: Timestamp,
    start: Clock,
    end: Clock,
    /// The domain's sampling rate without a sampler id, or 1.
    rate: u32,
}

/// The window the records of a template are read through: 8 bytes more than a power of two
/// above every field offset.
#[derive(Clone, Copy, Debug)]
enum Window {
    W72,
    W136,
    W264,
}

/// The direct decode plan of a fixed-length, non-options template with addresses.
#[derive(Debug)]
pub(super) struct Direct {
    rec_len: usize,
    window: Window,
    src: Addr,
    dst: Addr,
    src_port: Load,
    dst_port: Load,
    protocol: Load,
    tcp_flags: Load,
    bytes: Load,
    packets: Load,
    out_bytes: Load,
    out_packets: Load,
    in_if: Load,
    out_if: Load,
    start: Load,
    start_kind: Target,
    end: Load,
    end_kind: Target,
    icmp_type_code: Load,
    icmp_type: Load,
    icmp_code: Load,
    ttl: Load,
    fragment_flags: Load,
    fragment_offset: Load,
    sampler_id: Load,
    /// Which of the optional fields the template has.
    has: Has,
}

#[derive(Clone, Copy, Debug, Default)]
struct Has {
    src_port: bool,
    dst_port: bool,
    tcp_flags: bool,
    in_if: bool,
    out_if: bool,
    icmp_type_code: bool,
    icmp_type: bool,
    icmp_code: bool,
    ttl: bool,
    fragment: bool,
    sampler_id: bool,
}

/// Offset and length of each target's field, by the target's discriminant.
type Places = [Option<(usize, usize)>; 64];

impl Direct {
    /// The plan of a fixed-length template of `rec_len` bytes, or `None` when its records
    /// need the general path: a field repeated (the last one wins there) or combined with
    /// another (ICMP type/code and their pair), sampling or system-init fields in flow data,
    /// no source or destination address, or a field we use at an offset past 255.
    pub(super) fn new(fields: &[Field], rec_len: usize) -> Option<Direct> {
        use Target::*;
        let mut at: Places = [None; 64];
        let mut offset = 0usize;
        for f in fields {
            let len = usize::from(f.len);
            if f.target != Skip {
                let slot = at.get_mut(f.target as usize)?;
                if slot.is_some() {
                    return None;
                }
                *slot = Some((offset, len));
            }
            offset += len;
        }
        if offset != rec_len {
            return None;
        }
        let get = |t: Target| at[t as usize];
        for t in [
            SamplingInterval,
            SamplerRandomInterval,
            PacketInterval,
            PacketSpace,
            SystemInitMillis,
        ] {
            if get(t).is_some() {
                return None;
            }
        }
        if get(IcmpTypeCode).is_some() && (get(IcmpType).is_some() || get(IcmpCode).is_some()) {
            return None;
        }
        // The last 8-byte load: the second half of an IPv6 address, or a field's start.
        let last = at
            .iter()
            .flatten()
            .map(|&(o, len)| if len == 16 { o + 8 } else { o })
            .max()
            .unwrap_or(0);
        let window = match last {
            0..64 => Window::W72,
            64..128 => Window::W136,
            128..256 => Window::W264,
            _ => return None,
        };
        let load = |t: Target| {
            get(t)
                .filter(|&(_, len)| (1..=8).contains(&len))
                .map(|(o, len)| Load::new(o, len))
        };
        let v6 = |t: Target| get(t).filter(|&(_, len)| len == 16).map(|(o, _)| o);
        let src = Addr::new(load(SrcV4), v6(SrcV6))?;
        let dst = Addr::new(load(DstV4), v6(DstV6))?;
        let or0 = |t: Target| load(t).unwrap_or_default();
        let start_kind = time_field(&at, true)?;
        let end_kind = time_field(&at, false)?;
        let has = |t: Target| get(t).is_some();
        Some(Direct {
            rec_len,
            window,
            src,
            dst,
            src_port: or0(SrcPort),
            dst_port: or0(DstPort),
            protocol: or0(Protocol),
            tcp_flags: or0(TcpFlags),
            bytes: or0(Bytes),
            packets: or0(Packets),
            out_bytes: or0(OutBytes),
            out_packets: or0(OutPackets),
            in_if: or0(InIf),
            out_if: or0(OutIf),
            start: or0(start_kind),
            start_kind,
            end: or0(end_kind),
            end_kind,
            icmp_type_code: or0(IcmpTypeCode),
            icmp_type: or0(IcmpType),
            icmp_code: or0(IcmpCode),
            ttl: or0(Ttl),
            fragment_flags: or0(FragmentFlags),
            fragment_offset: or0(FragmentOffset),
            sampler_id: or0(SamplerId),
            has: Has {
                src_port: has(SrcPort),
                dst_port: has(DstPort),
                tcp_flags: has(TcpFlags),
                in_if: has(InIf),
                out_if: has(OutIf),
                icmp_type_code: has(IcmpTypeCode),
                icmp_type: has(IcmpType),
                icmp_code: has(IcmpCode),
                ttl: has(Ttl),
                fragment: has(FragmentFlags) || has(FragmentOffset),
                sampler_id: has(SamplerId),
            },
        })
    }

    /// The records of one data set (trailing bytes shorter than a record are padding), each
    /// written into `record` as the general path's `Plan::decode` and `emit` would write it,
    /// then handed to the sink.
    pub(super) fn decode_set(
        &self,
        set: &[u8],
        c: &Context,
        domain: &DomainState,
        record: &mut FlowRecord,
        records: &mut u64,
        sink: &mut impl RecordSink,
    ) {
        let s = SetContext {
            export_time: c.export_time,
            start: Clock::new(self.start_kind, c, domain),
            end: Clock::new(self.end_kind, c, domain),
            rate: domain.default_rate.unwrap_or(1),
        };
        // What every record of the set shares is written once; the rest, record by record.
        record.exporter = Some(c.exporter);
        record.observation_domain = c.domain;
        record.format = c.protocol.format();
        match self.window {
            Window::W72 => self.records::<72>(set, &s, domain, record, records, sink),
            Window::W136 => self.records::<136>(set, &s, domain, record, records, sink),
            Window::W264 => self.records::<264>(set, &s, domain, record, records, sink),
        }
    }

    #[inline(never)]
    fn records<const W: usize>(
        &self,
        set: &[u8],
        s: &SetContext,
        domain: &DomainState,
        record: &mut FlowRecord,
        records: &mut u64,
        sink: &mut impl RecordSink,
    ) {
        // For the last records of a set the window runs past its end: those are copied into
        // `tail` first. Bytes past the record in the window are shifted out by every load.
        let mut tail = [0u8; W];
        let mut start = 0;
        while let Some(rec) = set.get(start..start + self.rec_len) {
            let win = match set.get(start..start + W) {
                Some(w) => <&[u8; W]>::try_from(w).ok(),
                None => None,
            };
            let win = match win {
                Some(w) => w,
                None => {
                    let n = rec.len().min(W);
                    tail[..n].copy_from_slice(&rec[..n]);
                    &tail
                }
            };
            self.record(win, s, domain, record);
            *records += 1;
            sink.record(record);
            start += self.rec_len;
        }
    }

    #[inline(always)]
    fn record<const W: usize>(
        &self,
        win: &[u8; W],
        s: &SetContext,
        domain: &DomainState,
        record: &mut FlowRecord,
    ) {
        let has = self.has;
        let protocol = self.protocol.read(win) as u8;
        let ported = shape::ported(protocol);
        let dst_port = has.dst_port.then(|| self.dst_port.present(win) as u16);
        // Without a time field the clock is `None` and ignores what the load read.
        let start = s.start.time(self.start.present(win));
        let end = s.end.time(self.end.present(win));
        let (start, end) = shape::start_end(start, end, s.export_time);
        record.sampling_rate = if has.sampler_id {
            domain
                .sampler_rate(self.sampler_id.present(win))
                .unwrap_or(s.rate)
        } else {
            s.rate
        };
        (record.packets, record.bytes) =
            shape::counters(self.packets.read(win), self.bytes.read(win), || {
                (self.out_packets.read(win), self.out_bytes.read(win))
            });
        (record.icmp_type, record.icmp_code) = if matches!(protocol, 1 | 58) {
            let (t, c) = if has.icmp_type_code {
                let tc = self.icmp_type_code.present(win);
                (Some((tc >> 8) as u8), Some(tc as u8))
            } else {
                (
                    has.icmp_type.then(|| self.icmp_type.present(win) as u8),
                    has.icmp_code.then(|| self.icmp_code.present(win) as u8),
                )
            };
            shape::icmp(protocol, t, c, dst_port)
        } else {
            (None, None)
        };
        record.src_addr = self.src.read(win);
        record.dst_addr = self.dst.read(win);
        record.src_port = (has.src_port && ported).then(|| self.src_port.present(win) as u16);
        record.dst_port = dst_port.filter(|_| ported);
        record.ip_protocol = protocol;
        record.tcp_flags =
            (has.tcp_flags && protocol == 6).then(|| self.tcp_flags.present(win) as u8);
        record.start = start;
        record.end = end;
        record.in_if = has.in_if.then(|| self.in_if.present(win) as u32);
        record.out_if = has.out_if.then(|| self.out_if.present(win) as u32);
        record.ttl = has.ttl.then(|| self.ttl.present(win) as u8);
        record.fragment = has.fragment.then(|| {
            self.fragment_flags.read(win) & 0x20 != 0 || self.fragment_offset.read(win) != 0
        });
    }
}

/// The kind of a template's start (or end) time field, `Skip` when it has none; `None` when
/// it has several, which compiling keeps from happening.
fn time_field(at: &Places, start: bool) -> Option<Target> {
    use Target::*;
    let kinds = if start {
        [
            StartUptime,
            StartSecs,
            StartMillis,
            StartNtp,
            StartDeltaMicros,
        ]
    } else {
        [EndUptime, EndSecs, EndMillis, EndNtp, EndDeltaMicros]
    };
    let mut found = kinds.iter().filter(|&&k| at[k as usize].is_some());
    let first = found.next();
    match found.next() {
        Some(_) => None,
        None => Some(first.copied().unwrap_or(Skip)),
    }
}

#[cfg(test)]
mod tests {
    //! The direct path against the general one (`Plan::decode` and `emit`) on the same sets:
    //! a change that breaks either makes them differ.
    use super::super::{decode_records, Limits, Template, VARLEN};
    use super::*;
    use crate::{DecodeStats, FlowFormat};

    const EXPORTER: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));

    #[derive(Default)]
    struct Sink {
        records: Vec<FlowRecord>,
        unaddressed: u64,
        options: u64,
    }

    impl RecordSink for Sink {
        fn record(&mut self, r: &FlowRecord) {
            self.records.push(r.clone());
        }
        fn options_record(&mut self) {
            self.options += 1;
        }
        fn unaddressed_record(&mut self) {
            self.unaddressed += 1;
        }
    }

    /// A record buffer full of values no decoder writes, so that a field one path forgets
    /// to set shows.
    fn stale() -> FlowRecord {
        FlowRecord {
            exporter: Some(IpAddr::V4(Ipv4Addr::BROADCAST)),
            observation_domain: 77,
            src_port: Some(1),
            dst_port: Some(2),
            ip_protocol: 99,
            tcp_flags: Some(3),
            packets: 4,
            bytes: 5,
            sampling_rate: 6,
            in_if: Some(7),
            out_if: Some(8),
            icmp_type: Some(9),
            icmp_code: Some(10),
            ttl: Some(11),
            fragment: Some(true),
            ..FlowRecord::empty(FlowFormat::Sflow5)
        }
    }

    fn context(protocol: Wire, export_secs: u64, sys_uptime: u32) -> Context {
        let export_time = Timestamp::from_secs(export_secs);
        Context {
            protocol,
            exporter: EXPORTER,
            domain: 5,
            export_time,
            export_ms: export_time.as_millis(),
            sys_uptime,
        }
    }

    /// Decodes `set` with the template of `fields` ((IE | 0x8000 for enterprise, length)) by
    /// both paths; returns whether the direct one applied. Panics when they differ.
    fn both(fields: &[(u16, u16)], c: &Context, domain: &DomainState, set: &[u8]) -> bool {
        let specs: Vec<_> = fields
            .iter()
            .map(|&(ie, len)| (ie & 0x7fff, len, ie & 0x8000 != 0))
            .collect();
        let Ok(direct) = Template::compile(&specs, false, 0) else {
            return false;
        };
        let mut general = Template::compile(&specs, false, 0).unwrap();
        general.direct = None;
        let run = |t: &Template| {
            let (mut sink, mut stats, mut record) =
                (Sink::default(), DecodeStats::default(), stale());
            let mut domain = domain.clone();
            let limits = Limits::default();
            let r = decode_records(
                t,
                c,
                set,
                &mut domain,
                limits,
                &mut record,
                &mut stats,
                &mut sink,
            );
            (r, sink.records, sink.unaddressed, sink.options, stats)
        };
        let (a, b) = (run(&direct), run(&general));
        assert_eq!(a.0, b.0, "result, template {fields:?}");
        assert_eq!(a.1, b.1, "records, template {fields:?}, set {set:?}");
        assert_eq!(
            (a.2, a.3, a.4),
            (b.2, b.3, b.4),
            "counts, template {fields:?}"
        );
        direct.direct.is_some()
    }

    fn bytes(parts: &[&[u8]]) -> Vec<u8> {
        parts.concat()
    }

    /// NetFlow v9 as Rampart's exporter writes it: the last record ends the set exactly, so
    /// its window is copied; then with padding after it.
    #[test]
    fn v9_records_up_to_the_end_of_the_set() {
        let fields = [
            (8, 4),
            (12, 4),
            (7, 2),
            (11, 2),
            (4, 1),
            (6, 1),
            (2, 8),
            (1, 8),
            (22, 4),
            (21, 4),
            (10, 4),
            (14, 4),
            (32, 2),
            (52, 1),
            (197, 1),
        ];
        let rec = |proto: u8, src: u8| {
            bytes(&[
                &[
                    10, 0, 0, src, 203, 0, 113, 7, 0x30, 0x39, 0, 53, proto, 0x12,
                ],
                &9u64.to_be_bytes(),
                &9000u64.to_be_bytes(),
                &[0, 0, 0x27, 0x10, 0, 0, 0x4e, 0x20, 0, 0, 0, 3, 0, 0, 0, 4],
                &[3, 1, 64, 0x20],
            ])
        };
        let c = context(Wire::V9, 1_795_341_600, 30_000);
        let domain = DomainState {
            default_rate: Some(100),
            ..DomainState::default()
        };
        let set = bytes(&[&rec(6, 1), &rec(1, 2), &rec(17, 3)]);
        assert!(both(&fields, &c, &domain, &set));
        let padded = bytes(&[&set, &[0; 3]]);
        assert!(both(&fields, &c, &domain, &padded));
        assert!(both(&fields, &c, &domain, &set[..set.len() - 1]));
        assert!(both(&fields, &c, &domain, &[]));
    }

    /// IPv6 and IPv4 fields together, reduced-size counters of 3 and 6 bytes, a skipped
    /// enterprise field, and IPFIX uptimes with and without a known system init time.
    #[test]
    fn v6_odd_widths_and_ipfix_uptimes() {
        let fields = [
            (8, 4),
            (27, 16),
            (12, 4),
            (28, 16),
            (1, 3),
            (2, 6),
            (0x8000 | 7, 5),
            (4, 1),
            (22, 4),
            (21, 4),
            (11, 2),
        ];
        let rec = |v4: [u8; 4], proto: u8| {
            let mut v6 = [0u8; 16];
            v6[..2].copy_from_slice(&[0x20, 0x01]);
            v6[15] = proto;
            bytes(&[
                &v4,
                &v6,
                &v4,
                &v6,
                &[1, 2, 3],
                &[0, 0, 0, 0, 0, 5],
                &[0xee; 5],
                &[proto],
                &[0xff, 0xff, 0xff, 0x00, 0, 0, 0, 10],
                &[3, 0],
            ])
        };
        let set = bytes(&[&rec([0; 4], 58), &rec([10, 0, 0, 1], 17), &rec([0; 4], 6)]);
        for init in [None, Some(1_795_341_000_000)] {
            let domain = DomainState {
                system_init_ms: init,
                ..DomainState::default()
            };
            assert!(both(
                &fields,
                &context(Wire::Ipfix, 1_795_341_600, 0),
                &domain,
                &set
            ));
        }
    }

    /// Sampler ids looked up in what options data taught the domain; fields past offset 64
    /// and 128 (the wider windows) and past 255 (the general path).
    #[test]
    fn samplers_and_wide_records() {
        let domain = DomainState {
            default_rate: Some(512),
            samplers: vec![(5, 100), (6, 1000)],
            ..DomainState::default()
        };
        let c = context(Wire::V9, 1_795_341_600, 10);
        for pad in [0u16, 70, 130, 300] {
            let fields = [(0x8000 | 1, pad), (8, 4), (12, 4), (48, 1), (4, 1)];
            let rec = |id: u8| {
                bytes(&[
                    &vec![0xab; usize::from(pad)],
                    &[1, 2, 3, 4, 5, 6, 7, 8, id, 17],
                ])
            };
            let set = bytes(&[&rec(5), &rec(7), &rec(6)]);
            assert_eq!(both(&fields, &c, &domain, &set), pad < 250, "pad {pad}");
        }
    }

    /// Templates the direct path leaves to the general one still decode the same.
    #[test]
    fn templates_left_to_the_general_path() {
        let c = context(Wire::Ipfix, 1_795_341_600, 0);
        let domain = DomainState::default();
        let set = [1u8; 64];
        for fields in [
            &[(8, 4), (12, 4), (8, 4)][..],        // repeated field
            &[(8, 4), (12, 4), (32, 2), (176, 1)], // ICMP type/code twice
            &[(8, 4), (12, 4), (305, 4)],          // sampling in flow data
            &[(8, 4), (12, 4), (160, 8)],          // system init in flow data
            &[(4, 1), (1, 4)],                     // no addresses
            &[(8, 4), (12, 4), (96, VARLEN)],      // variable length
        ] {
            assert!(!both(fields, &c, &domain, &set), "{fields:?}");
        }
    }

    /// Options templates never get a direct plan: their records teach the domain.
    #[test]
    fn options_templates_stay_general() {
        let specs = [(149, 4, false), (305, 4, false), (306, 4, false)];
        let t = Template::compile(&specs, true, 0).unwrap();
        assert!(t.direct.is_none());
        let flow = [(8, 4, false), (12, 4, false), (4, 1, false)];
        assert!(Template::compile(&flow, false, 0).unwrap().direct.is_some());
        assert!(Template::compile(&flow, true, 0).unwrap().direct.is_none());
    }

    /// Every vendor vector (tests/fixtures/netflow-vectors) through a whole decoder, in name
    /// order (data mostly before its template, so held and released) and in reverse, gives
    /// the same records, counters and errors by either path.
    #[test]
    #[allow(clippy::disallowed_methods)] // fixtures are small and read with a bound
    fn vendor_vectors_decode_alike() {
        use crate::FlowDecoder;
        use std::io::Read;
        let dir =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/netflow-vectors");
        let mut names: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "dat"))
            .collect();
        names.sort();
        let files: Vec<Vec<u8>> = names
            .iter()
            .map(|p| {
                let mut b = Vec::new();
                std::fs::File::open(p)
                    .unwrap()
                    .take(1 << 20)
                    .read_to_end(&mut b)
                    .unwrap();
                b
            })
            .collect();
        assert!(files.len() > 50);
        let run = |general: bool, reverse: bool| {
            GENERAL_ONLY.set(general);
            let mut d = FlowDecoder::default();
            let mut sink = Sink::default();
            let mut results = Vec::new();
            let order: Vec<&Vec<u8>> = if reverse {
                files.iter().rev().collect()
            } else {
                files.iter().collect()
            };
            for f in order {
                results.push(d.decode(f, EXPORTER, Timestamp::from_secs(1_795_341_600), &mut sink));
            }
            GENERAL_ONLY.set(false);
            (
                results,
                sink.records,
                sink.unaddressed,
                sink.options,
                d.stats(),
            )
        };
        for reverse in [false, true] {
            let (a, b) = (run(false, reverse), run(true, reverse));
            assert!(a.1.len() > 100, "{} records", a.1.len());
            assert_eq!(a.0, b.0);
            assert_eq!(a.1, b.1);
            assert_eq!((a.2, a.3, a.4), (b.2, b.3, b.4));
        }
    }

    /// Random templates over the fields both paths know, and random records with bytes
    /// drawn so that zero addresses and the port-carrying and ICMP protocols come up often.
    #[test]
    fn random_templates_and_records_decode_alike() {
        const POOL: [(u16, u16); 52] = [
            (8, 4),
            (12, 4),
            (27, 16),
            (28, 16),
            (8, 4),
            (12, 4),
            (7, 2),
            (11, 2),
            (7, 3),
            (4, 1),
            (6, 1),
            (6, 2),
            (1, 4),
            (1, 8),
            (1, 3),
            (85, 8),
            (2, 4),
            (2, 8),
            (2, 6),
            (23, 4),
            (24, 8),
            (10, 4),
            (10, 2),
            (14, 4),
            (14, 7),
            (22, 4),
            (21, 4),
            (150, 4),
            (151, 4),
            (152, 8),
            (153, 8),
            (154, 8),
            (155, 8),
            (158, 4),
            (159, 4),
            (32, 2),
            (139, 2),
            (176, 1),
            (177, 1),
            (52, 1),
            (192, 1),
            (197, 1),
            (88, 2),
            (48, 1),
            (302, 4),
            (34, 4),
            (60, 1),
            (0x8000 | 3, 6),
            (96, 5),
            (8, 16),
            (27, 4),
            (5, 1),
        ];
        const ALPHABET: [u8; 12] = [0, 0, 0, 1, 6, 17, 58, 132, 33, 0x20, 0xff, 0x80];
        let mut rng = 0x2545_f491_4f6c_dd1du64;
        let mut next = move |n: usize| {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            (rng % n as u64) as usize
        };
        let mut direct = 0;
        for _ in 0..3_000 {
            let mut fields: Vec<_> = (0..1 + next(16)).map(|_| POOL[next(POOL.len())]).collect();
            if next(2) == 0 {
                // Mostly what the direct path takes: addresses first, each IE once.
                let addresses = [[(8, 4), (12, 4)], [(27, 16), (28, 16)]][next(2)];
                fields.splice(0..0, addresses);
                let mut seen = Vec::new();
                fields.retain(|f| {
                    !seen.contains(&f.0) && {
                        seen.push(f.0);
                        true
                    }
                });
            }
            let len: usize = fields.iter().map(|f| usize::from(f.1)).sum();
            let mut set = Vec::new();
            for _ in 0..next(6) {
                match next(3) {
                    0 => set.extend((0..len).map(|_| next(256) as u8)),
                    1 => set.extend((0..len).map(|_| ALPHABET[next(ALPHABET.len())])),
                    _ => set.extend(std::iter::repeat_n(0, len)),
                }
            }
            set.extend((0..next(len.max(1))).map(|_| next(256) as u8));
            let protocol = if next(2) == 0 { Wire::V9 } else { Wire::Ipfix };
            let c = context(
                protocol,
                1_700_000_000 + next(1 << 30) as u64,
                next(1 << 31) as u32,
            );
            let domain = DomainState {
                system_init_ms: (next(2) == 0).then(|| 1_600_000_000_000 + next(1 << 40) as u64),
                default_rate: (next(2) == 0).then(|| next(2000) as u32),
                samplers: (0..next(3)).map(|i| (i as u64, 10 + i as u32)).collect(),
                ..DomainState::default()
            };
            direct += usize::from(both(&fields, &c, &domain, &set));
        }
        // Most random templates repeat a field or lack an address; enough do not.
        assert!(direct > 1_000, "direct path taken {direct} times");
    }
}
