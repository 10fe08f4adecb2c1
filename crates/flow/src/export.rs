//! NetFlow v9 and IPFIX export: [`FlowRecord`]s packed into datagrams that collectors accept,
//! with templates and sampling options re-sent on a schedule, for `rampart simulate` and for
//! tests that need real-looking exports. Sans-I/O: records and the time in, datagrams out.
//!
//! Every record carries the same fields, one template per address family: addresses, ports,
//! protocol, TCP flags, packets, bytes, start and end (NetFlow v9: router uptime, as
//! FIRST/LAST_SWITCHED; IPFIX: absolute milliseconds), input and output interface, ICMP type
//! and code, minimum TTL and fragment flags. The sampling rate goes out as options data.

use crate::{FlowRecord, Timestamp};
use std::fmt;
use std::net::IpAddr;

/// Which export protocol to write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExportProtocol {
    /// NetFlow v9 (RFC 3954).
    Netflow9,
    /// IPFIX (RFC 7011).
    Ipfix,
}

/// How an [`Exporter`] behaves. `ExportConfig::default()` is NetFlow v9 as a router sends it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExportConfig {
    pub protocol: ExportProtocol,
    /// NetFlow v9 source id, IPFIX observation domain id. 0.
    pub observation_domain: u32,
    /// Largest datagram (UDP payload), in bytes: 1,400 by default, which crosses any path
    /// with an MTU of 1,500 unfragmented, even through a tunnel. 512 to 65,507.
    pub max_datagram: usize,
    /// Templates and the sampling options go out in the first datagram and again after this
    /// many datagrams (Cisco's default refresh is 20 packets)...
    pub template_every: u32,
    /// ...or once this many milliseconds have passed since they last went out, so that a
    /// collector started late learns them soon even from a quiet exporter. 10,000.
    pub template_interval_ms: u64,
    /// One in this many packets was sampled; sent as options data (1: unsampled). The
    /// `sampling_rate` of the records is not read: an exporter samples at one rate.
    pub sampling_rate: u32,
    /// When the exporting system started: NetFlow v9 sysUptime and FIRST/LAST_SWITCHED count
    /// milliseconds from here. Times within 24 days of the export time come out exact.
    pub system_init: Timestamp,
}

impl Default for ExportConfig {
    fn default() -> Self {
        ExportConfig {
            protocol: ExportProtocol::Netflow9,
            observation_domain: 0,
            max_datagram: 1_400,
            template_every: 20,
            template_interval_ms: 10_000,
            sampling_rate: 1,
            system_init: Timestamp::EPOCH,
        }
    }
}

/// A setting an [`Exporter`] cannot work with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExportError {
    /// `max_datagram` outside 512..=65,507: too small for templates and a record, or more
    /// than UDP carries.
    MaxDatagram(usize),
    /// `template_every` or `sampling_rate` is 0.
    Zero(&'static str),
}

impl fmt::Display for ExportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExportError::MaxDatagram(n) => {
                write!(
                    f,
                    "max_datagram {n} is not in {MIN_DATAGRAM}..={MAX_DATAGRAM}"
                )
            }
            ExportError::Zero(key) => write!(f, "{key} must be at least 1"),
        }
    }
}

impl std::error::Error for ExportError {}

const MIN_DATAGRAM: usize = 512;
const MAX_DATAGRAM: usize = 65_507;

/// Counters since the exporter was made.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ExportStats {
    pub datagrams: u64,
    pub records: u64,
    /// Datagrams that carried the templates and sampling options.
    pub template_datagrams: u64,
    /// Records not exported because their addresses are of two families.
    pub records_skipped: u64,
}

/// Template ids: one per address family, and the sampling options.
const TEMPLATE_V4: u16 = 256;
const TEMPLATE_V6: u16 = 257;
const TEMPLATE_OPTIONS: u16 = 258;

/// What a field of a data record holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Field {
    SrcAddr,
    DstAddr,
    SrcPort,
    DstPort,
    Protocol,
    TcpFlags,
    Packets,
    Bytes,
    StartUptime,
    EndUptime,
    StartMillis,
    EndMillis,
    InIf,
    OutIf,
    IcmpTypeCode,
    MinTtl,
    FragmentFlags,
}

/// (information element, length, content). NetFlow v9 and IPFIX share these numbers; the
/// IPFIX-only ones in the v9 templates (139 icmpTypeCodeIPv6, 197 fragmentFlags) are known
/// to v9 collectors too (Wireshark decodes them; see tests/export_tshark.rs).
type Spec = (u16, u16, Field);

const fn fields(v6: bool, ipfix: bool) -> [Spec; 15] {
    use Field::*;
    let (src, dst, icmp, alen) = if v6 {
        (27, 28, 139, 16)
    } else {
        (8, 12, 32, 4)
    };
    let (start, end) = if ipfix {
        ((152, 8, StartMillis), (153, 8, EndMillis))
    } else {
        ((22, 4, StartUptime), (21, 4, EndUptime))
    };
    [
        (src, alen, SrcAddr),
        (dst, alen, DstAddr),
        (7, 2, SrcPort),
        (11, 2, DstPort),
        (4, 1, Protocol),
        (6, 1, TcpFlags),
        (2, 8, Packets),
        (1, 8, Bytes),
        start,
        end,
        (10, 4, InIf),
        (14, 4, OutIf),
        (icmp, 2, IcmpTypeCode),
        (52, 1, MinTtl),
        (197, 1, FragmentFlags),
    ]
}

const fn record_len(specs: &[Spec; 15]) -> usize {
    let mut n = 0;
    let mut i = 0;
    while i < specs.len() {
        n += specs[i].1 as usize;
        i += 1;
    }
    n
}

/// The field layouts, indexed by `[ipfix][v6]`.
const LAYOUTS: [[[Spec; 15]; 2]; 2] = [
    [fields(false, false), fields(true, false)],
    [fields(false, true), fields(true, true)],
];

/// Packs flow records into NetFlow v9 or IPFIX datagrams. One exporter is one observation
/// domain of one exporting process: its sequence numbers count from its start.
#[derive(Debug)]
pub struct Exporter {
    cfg: ExportConfig,
    /// v9: datagrams sent; IPFIX: data records sent (both modulo 2^32, as the RFCs count).
    sequence: u32,
    datagrams_since_templates: u32,
    templates_sent_at: Option<Timestamp>,
    buf: Vec<u8>,
    stats: ExportStats,
}

impl Exporter {
    pub fn new(config: ExportConfig) -> Result<Exporter, ExportError> {
        if !(MIN_DATAGRAM..=MAX_DATAGRAM).contains(&config.max_datagram) {
            return Err(ExportError::MaxDatagram(config.max_datagram));
        }
        if config.template_every == 0 {
            return Err(ExportError::Zero("template_every"));
        }
        if config.sampling_rate == 0 {
            return Err(ExportError::Zero("sampling_rate"));
        }
        Ok(Exporter {
            cfg: config,
            sequence: 0,
            datagrams_since_templates: 0,
            templates_sent_at: None,
            buf: Vec::with_capacity(config.max_datagram),
            stats: ExportStats::default(),
        })
    }

    pub fn config(&self) -> &ExportConfig {
        &self.cfg
    }

    pub fn stats(&self) -> ExportStats {
        self.stats
    }

    /// Bytes of one data record of this exporter's template for IPv4 or IPv6.
    pub fn record_len(&self, v6: bool) -> usize {
        record_len(&LAYOUTS[self.ipfix() as usize][v6 as usize])
    }

    /// The records as datagrams exported at `now`, in order. With no records, a datagram of
    /// templates alone when they are due by time, else nothing.
    pub fn export(&mut self, now: Timestamp, records: &[FlowRecord]) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        self.export_with(now, records, |d| out.push(d.to_vec()));
        out
    }

    /// As [`export`](Self::export), lending each datagram to `emit` from a buffer the
    /// exporter reuses.
    pub fn export_with(
        &mut self,
        now: Timestamp,
        records: &[FlowRecord],
        mut emit: impl FnMut(&[u8]),
    ) {
        let mut rest = records;
        loop {
            let templates = self.templates_due(now);
            if rest.is_empty() && !templates {
                return;
            }
            rest = self.datagram(now, templates, rest);
            emit(&self.buf);
            if rest.is_empty() {
                return;
            }
        }
    }

    fn ipfix(&self) -> bool {
        self.cfg.protocol == ExportProtocol::Ipfix
    }

    fn templates_due(&self, now: Timestamp) -> bool {
        match self.templates_sent_at {
            None => true,
            Some(at) => {
                self.datagrams_since_templates >= self.cfg.template_every
                    || now.as_millis().saturating_sub(at.as_millis())
                        >= self.cfg.template_interval_ms
            }
        }
    }

    /// Writes one datagram into `buf`: templates if asked, then as many records as fit.
    /// Returns the records left over.
    fn datagram<'r>(
        &mut self,
        now: Timestamp,
        templates: bool,
        records: &'r [FlowRecord],
    ) -> &'r [FlowRecord] {
        let ipfix = self.ipfix();
        let header_len = if ipfix { 16 } else { 20 };
        let mut buf = std::mem::take(&mut self.buf);
        buf.clear();
        buf.resize(header_len, 0);
        // v9 counts records of every kind in the header; IPFIX counts data records in its
        // sequence number.
        let mut count = 0u16;
        let mut data_records = 0u32;
        if templates {
            count += self.write_templates(&mut buf);
            data_records += 1;
            self.templates_sent_at = Some(now);
            self.datagrams_since_templates = 0;
            self.stats.template_datagrams += 1;
        } else {
            self.datagrams_since_templates += 1;
        }

        let mut open: Option<(usize, bool)> = None; // (set start, v6)
        let mut taken = 0usize;
        for r in records {
            let v6 = match (r.src_addr, r.dst_addr) {
                (IpAddr::V4(_), IpAddr::V4(_)) => false,
                (IpAddr::V6(_), IpAddr::V6(_)) => true,
                _ => {
                    self.stats.records_skipped += 1;
                    taken += 1;
                    continue;
                }
            };
            let layout = &LAYOUTS[ipfix as usize][v6 as usize];
            let len = record_len(layout);
            let new_set = open.is_none_or(|(_, fam)| fam != v6);
            // Up to 3 bytes of padding for the set the record ends in, and for a new set
            // its header and the padding of the set it closes.
            let need = len + 3 + if new_set { 4 + 3 } else { 0 };
            if buf.len() + need > self.cfg.max_datagram {
                break;
            }
            if new_set {
                if let Some((start, _)) = open {
                    self.close_set(&mut buf, start);
                }
                let id = if v6 { TEMPLATE_V6 } else { TEMPLATE_V4 };
                open = Some((buf.len(), v6));
                put16(&mut buf, id);
                put16(&mut buf, 0);
            }
            self.write_record(&mut buf, layout, r);
            count = count.saturating_add(1);
            data_records = data_records.wrapping_add(1);
            self.stats.records += 1;
            taken += 1;
        }
        if let Some((start, _)) = open {
            self.close_set(&mut buf, start);
        }

        let secs = now.as_secs() as u32;
        if ipfix {
            let len = buf.len() as u16;
            set16(&mut buf, 0, 10);
            set16(&mut buf, 2, len);
            set32(&mut buf, 4, secs);
            set32(&mut buf, 8, self.sequence);
            set32(&mut buf, 12, self.cfg.observation_domain);
            self.sequence = self.sequence.wrapping_add(data_records);
        } else {
            set16(&mut buf, 0, 9);
            set16(&mut buf, 2, count);
            set32(&mut buf, 4, self.uptime_of_second(now));
            set32(&mut buf, 8, secs);
            set32(&mut buf, 12, self.sequence);
            set32(&mut buf, 16, self.cfg.observation_domain);
            self.sequence = self.sequence.wrapping_add(1);
        }
        self.stats.datagrams += 1;
        self.buf = buf;
        &records[taken..]
    }

    /// sysUptime at the whole second of the export time: the header carries seconds only,
    /// and a collector reads record times against (seconds, uptime), so the uptime of that
    /// same instant keeps them exact to the millisecond.
    fn uptime_of_second(&self, now: Timestamp) -> u32 {
        let ms = i128::from(now.as_secs()) * 1000 - i128::from(self.cfg.system_init.as_millis());
        ms as u32
    }

    fn uptime(&self, t: Timestamp) -> u32 {
        (i128::from(t.as_millis()) - i128::from(self.cfg.system_init.as_millis())) as u32
    }

    /// Sets a set's length, padding it to 4 bytes for NetFlow v9 (RFC 3954 §5.3).
    fn close_set(&self, buf: &mut Vec<u8>, start: usize) {
        if !self.ipfix() {
            while !(buf.len() - start).is_multiple_of(4) {
                buf.push(0);
            }
        }
        let len = (buf.len() - start) as u16;
        set16(buf, start + 2, len);
    }

    /// The template set (both families), the options template and the sampling options
    /// record. Returns how many records that is.
    fn write_templates(&self, buf: &mut Vec<u8>) -> u16 {
        let ipfix = self.ipfix();
        let start = buf.len();
        put16(buf, if ipfix { 2 } else { 0 });
        put16(buf, 0);
        for (id, layout) in [(TEMPLATE_V4, false), (TEMPLATE_V6, true)]
            .map(|(id, v6)| (id, &LAYOUTS[ipfix as usize][v6 as usize]))
        {
            put16(buf, id);
            put16(buf, layout.len() as u16);
            for &(ie, len, _) in layout {
                put16(buf, ie);
                put16(buf, len);
            }
        }
        self.close_set(buf, start);

        let rate = self.cfg.sampling_rate;
        let start = buf.len();
        if ipfix {
            // Scope observationDomainId; samplingPacketInterval 1 and samplingPacketSpace
            // rate - 1: one packet taken, rate - 1 skipped (RFC 5477).
            put16(buf, 3);
            put16(buf, 0);
            put16(buf, TEMPLATE_OPTIONS);
            put16(buf, 3); // fields
            put16(buf, 1); // of which scope
            for (ie, len) in [(149, 4), (305, 4), (306, 4)] {
                put16(buf, ie);
                put16(buf, len);
            }
        } else {
            // Scope System (1); SAMPLING_INTERVAL (34) and SAMPLING_ALGORITHM (35), as
            // Cisco's "ip flow-export" of a sampler does.
            put16(buf, 1);
            put16(buf, 0);
            put16(buf, TEMPLATE_OPTIONS);
            put16(buf, 4); // scope bytes
            put16(buf, 8); // option field bytes
            for (ie, len) in [(1, 4), (34, 4), (35, 1)] {
                put16(buf, ie);
                put16(buf, len);
            }
        }
        self.close_set(buf, start);

        let start = buf.len();
        put16(buf, TEMPLATE_OPTIONS);
        put16(buf, 0);
        if ipfix {
            put32(buf, self.cfg.observation_domain);
            put32(buf, 1);
            put32(buf, rate - 1);
        } else {
            put32(buf, self.cfg.observation_domain);
            put32(buf, rate);
            // 1: deterministic (and unsampled), 2: random.
            buf.push(if rate > 1 { 2 } else { 1 });
        }
        self.close_set(buf, start);
        4
    }

    fn write_record(&self, buf: &mut Vec<u8>, layout: &[Spec; 15], r: &FlowRecord) {
        let icmp = matches!(r.ip_protocol, 1 | 58);
        for &(_, _, field) in layout {
            match field {
                Field::SrcAddr => put_addr(buf, r.src_addr),
                Field::DstAddr => put_addr(buf, r.dst_addr),
                Field::SrcPort => put16(buf, if icmp { 0 } else { r.src_port.unwrap_or(0) }),
                Field::DstPort => {
                    // ICMP type and code in the destination port too, as Cisco does, for
                    // collectors that ignore the ICMP field.
                    let p = if icmp {
                        icmp_type_code(r)
                    } else {
                        r.dst_port.unwrap_or(0)
                    };
                    put16(buf, p)
                }
                Field::Protocol => buf.push(r.ip_protocol),
                Field::TcpFlags => buf.push(r.tcp_flags.unwrap_or(0)),
                Field::Packets => put64(buf, r.packets),
                Field::Bytes => put64(buf, r.bytes),
                Field::StartUptime => put32(buf, self.uptime(r.start)),
                Field::EndUptime => put32(buf, self.uptime(r.end)),
                Field::StartMillis => put64(buf, r.start.as_millis()),
                Field::EndMillis => put64(buf, r.end.as_millis()),
                Field::InIf => put32(buf, r.in_if.unwrap_or(0)),
                Field::OutIf => put32(buf, r.out_if.unwrap_or(0)),
                Field::IcmpTypeCode => put16(buf, if icmp { icmp_type_code(r) } else { 0 }),
                Field::MinTtl => buf.push(r.ttl.unwrap_or(0)),
                // fragmentFlags (RFC 5102): 0x20 is "more fragments".
                Field::FragmentFlags => buf.push(if r.fragment == Some(true) { 0x20 } else { 0 }),
            }
        }
    }
}

fn icmp_type_code(r: &FlowRecord) -> u16 {
    u16::from(r.icmp_type.unwrap_or(0)) << 8 | u16::from(r.icmp_code.unwrap_or(0))
}

fn put_addr(buf: &mut Vec<u8>, a: IpAddr) {
    match a {
        IpAddr::V4(a) => buf.extend_from_slice(&a.octets()),
        IpAddr::V6(a) => buf.extend_from_slice(&a.octets()),
    }
}

fn put16(b: &mut Vec<u8>, v: u16) {
    b.extend_from_slice(&v.to_be_bytes());
}
fn put32(b: &mut Vec<u8>, v: u32) {
    b.extend_from_slice(&v.to_be_bytes());
}
fn put64(b: &mut Vec<u8>, v: u64) {
    b.extend_from_slice(&v.to_be_bytes());
}
fn set16(b: &mut [u8], at: usize, v: u16) {
    b[at..at + 2].copy_from_slice(&v.to_be_bytes());
}
fn set32(b: &mut [u8], at: usize, v: u32) {
    b[at..at + 4].copy_from_slice(&v.to_be_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{FlowDecoder, FlowFormat};
    use std::net::{Ipv4Addr, Ipv6Addr};

    const EXPORTER: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));
    /// 2026-11-22T10:00:00.250Z
    const NOW: Timestamp = Timestamp::from_millis(1_795_341_600_250);

    /// A record with every field the exporter carries, varied by `i`.
    fn record(i: u32, v6: bool, protocol: u8) -> FlowRecord {
        let mut r = FlowRecord::empty(FlowFormat::Netflow9);
        if v6 {
            r.src_addr = IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0xf000, 0, 0, 0, 0, i as u16));
            r.dst_addr = "2001:db8:1::10".parse().unwrap();
        } else {
            r.src_addr = IpAddr::V4(Ipv4Addr::from(0xc612_0000 + i));
            r.dst_addr = IpAddr::V4(Ipv4Addr::new(203, 0, 113, 10));
        }
        r.ip_protocol = protocol;
        match protocol {
            6 | 17 => {
                r.src_port = Some(40_000 + i as u16);
                r.dst_port = Some(443);
                if protocol == 6 {
                    r.tcp_flags = Some(0x1b);
                }
            }
            _ => {
                r.icmp_type = Some(8);
                r.icmp_code = Some(0);
            }
        }
        r.packets = 10 + u64::from(i);
        r.bytes = 5_000_000_000 + u64::from(i) * 1500;
        r.start = NOW.saturating_sub_millis(3_000 + u64::from(i));
        r.end = NOW.saturating_sub_millis(7);
        r.in_if = Some(1);
        r.out_if = Some(2 + i);
        r.ttl = Some(50 + (i % 10) as u8);
        r.fragment = Some(i.is_multiple_of(7));
        r
    }

    fn decode_all(datagrams: &[Vec<u8>]) -> (Vec<FlowRecord>, FlowDecoder) {
        let mut d = FlowDecoder::default();
        let mut out = Vec::new();
        for g in datagrams {
            d.decode(g, EXPORTER, NOW, &mut |r: &FlowRecord| out.push(r.clone()))
                .unwrap();
        }
        (out, d)
    }

    fn expected(records: &[FlowRecord], cfg: &ExportConfig) -> Vec<FlowRecord> {
        records
            .iter()
            .map(|r| {
                let mut r = r.clone();
                r.exporter = Some(EXPORTER);
                r.observation_domain = cfg.observation_domain;
                r.format = match cfg.protocol {
                    ExportProtocol::Netflow9 => FlowFormat::Netflow9,
                    ExportProtocol::Ipfix => FlowFormat::Ipfix,
                };
                r.sampling_rate = cfg.sampling_rate;
                r
            })
            .collect()
    }

    #[test]
    fn every_field_survives_the_decoder() {
        for protocol in [ExportProtocol::Netflow9, ExportProtocol::Ipfix] {
            let cfg = ExportConfig {
                protocol,
                observation_domain: 7,
                sampling_rate: 100,
                // Up for 30 days: the 32-bit uptime has wrapped.
                system_init: NOW.saturating_sub_millis(30 * 86_400_000),
                ..ExportConfig::default()
            };
            let mut records = Vec::new();
            for i in 0..200 {
                // Families and protocols mixed, so that sets change within datagrams.
                let v6 = i % 5 == 0 || i % 5 == 1;
                let proto = [6, 17, 1][(i % 3) as usize];
                let proto = if v6 && proto == 1 { 58 } else { proto };
                records.push(record(i, v6, proto));
            }
            let mut e = Exporter::new(cfg).unwrap();
            let datagrams = e.export(NOW, &records);
            assert!(datagrams.len() >= 8, "{protocol:?}: {}", datagrams.len());
            for g in &datagrams {
                assert!(g.len() <= 1_400, "{protocol:?}: a datagram of {}", g.len());
                assert!(crate::sniff(g).is_some());
            }
            let (got, d) = decode_all(&datagrams);
            assert_eq!(got, expected(&records, &cfg), "{protocol:?}");
            let s = d.stats();
            assert_eq!((s.errors, s.template_misses, s.options_records), (0, 0, 1));
            assert_eq!(e.stats().records, 200);
        }
    }

    #[test]
    fn datagrams_are_full_and_templates_come_back_on_schedule() {
        let cfg = ExportConfig {
            template_every: 5,
            ..ExportConfig::default()
        };
        let mut e = Exporter::new(cfg).unwrap();
        let records: Vec<FlowRecord> = (0..27 * 12).map(|i| record(i, false, 6)).collect();
        let datagrams = e.export(NOW, &records);
        // 50-byte IPv4 records: 27 to a datagram, fewer beside the templates.
        assert_eq!(e.record_len(false), 50);
        let counts: Vec<u16> = datagrams
            .iter()
            .map(|g| u16::from_be_bytes([g[2], g[3]]))
            .collect();
        let with_templates: Vec<usize> = datagrams
            .iter()
            .enumerate()
            .filter(|(_, g)| u16::from_be_bytes([g[20], g[21]]) == 0)
            .map(|(i, _)| i)
            .collect();
        assert_eq!(with_templates, [0, 6, 12]);
        assert_eq!(counts[1], 27);
        assert_eq!(counts[0], 4 + 24);
        // v9 sequence numbers count datagrams.
        for (i, g) in datagrams.iter().enumerate() {
            assert_eq!(u32::from_be_bytes([g[12], g[13], g[14], g[15]]), i as u32);
        }
        // Quiet for the template interval: templates go out alone.
        let later = NOW.saturating_add_millis(cfg.template_interval_ms);
        assert!(e.export(NOW.saturating_add_millis(1), &[]).is_empty());
        let alone = e.export(later, &[]);
        assert_eq!(alone.len(), 1);
        assert_eq!(u16::from_be_bytes([alone[0][2], alone[0][3]]), 4);
    }

    #[test]
    fn alternating_families_fit_too() {
        // Every record opens a new set: its header and two paddings must fit. (Found by the
        // export_roundtrip fuzz target.)
        for max in 512..600 {
            let cfg = ExportConfig {
                max_datagram: max,
                ..ExportConfig::default()
            };
            let mut e = Exporter::new(cfg).unwrap();
            let records: Vec<FlowRecord> = (0..60).map(|i| record(i, i % 2 == 0, 17)).collect();
            let datagrams = e.export(NOW, &records);
            assert!(datagrams.iter().all(|g| g.len() <= max), "max {max}");
            assert_eq!(decode_all(&datagrams).0.len(), 60);
        }
    }

    #[test]
    fn ipfix_sequence_counts_data_records_and_header_has_the_length() {
        let cfg = ExportConfig {
            protocol: ExportProtocol::Ipfix,
            ..ExportConfig::default()
        };
        let mut e = Exporter::new(cfg).unwrap();
        let records: Vec<FlowRecord> = (0..100).map(|i| record(i, false, 17)).collect();
        let datagrams = e.export(NOW, &records);
        let mut d = FlowDecoder::default();
        // The first datagram also carries the one options data record.
        let mut sent = 0u32;
        for g in &datagrams {
            assert_eq!(usize::from(u16::from_be_bytes([g[2], g[3]])), g.len());
            assert_eq!(u32::from_be_bytes([g[8], g[9], g[10], g[11]]), sent);
            let before = d.stats().records + d.stats().options_records;
            d.decode(g, EXPORTER, NOW, &mut |_: &FlowRecord| {})
                .unwrap();
            sent += (d.stats().records + d.stats().options_records - before) as u32;
        }
        assert_eq!(sent, 100 + 1);
    }

    #[test]
    fn bad_settings_are_refused_and_mixed_families_skipped() {
        for (cfg, err) in [
            (
                ExportConfig {
                    max_datagram: 100,
                    ..ExportConfig::default()
                },
                ExportError::MaxDatagram(100),
            ),
            (
                ExportConfig {
                    sampling_rate: 0,
                    ..ExportConfig::default()
                },
                ExportError::Zero("sampling_rate"),
            ),
        ] {
            assert_eq!(Exporter::new(cfg).unwrap_err(), err);
        }
        let mut e = Exporter::new(ExportConfig {
            max_datagram: 512,
            ..ExportConfig::default()
        })
        .unwrap();
        let mut odd = record(1, false, 6);
        odd.dst_addr = "2001:db8::1".parse().unwrap();
        let v6 = record(2, true, 6);
        let datagrams = e.export(NOW, &[odd, v6.clone(), v6]);
        let (got, _) = decode_all(&datagrams);
        assert_eq!(got.len(), 2);
        assert_eq!(e.stats().records_skipped, 1);
        assert!(datagrams.iter().all(|g| g.len() <= 512));
    }
}
