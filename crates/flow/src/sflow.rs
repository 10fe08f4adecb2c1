//! sFlow v5 datagrams (sflow.org/sflow_version_5.txt): each flow sample is one sampled packet,
//! described by a copy of its first bytes or by the agent's own decode of it, and becomes one
//! record weighted by the sample's sampling rate. Counter samples are counted and skipped.

use crate::error::Be;
use crate::packet::{self, LinkType, PacketSummary};
use crate::{DecodeError, DecodeStats, FlowFormat, FlowRecord, RecordSink, Timestamp};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Interface value meaning "the device itself": the packet came from or went to the agent.
const INTERNAL_INTERFACE: u32 = 0x3fff_ffff;

/// True when `bytes` starts like an sFlow v5 datagram: version 5 as a u32, an IPv4 or IPv6
/// agent address type and the whole datagram header present. Cheap, for recognising exports on
/// any UDP port.
pub fn looks_like(bytes: &[u8]) -> bool {
    let header_len = match bytes.be_u32(4) {
        Some(1) => 28,
        Some(2) => 40,
        _ => return false,
    };
    bytes.be_u32(0) == Some(5) && bytes.len() >= header_len
}

/// What every record of one datagram shares.
struct Datagram {
    exporter: IpAddr,
    sub_agent_id: u32,
    now: Timestamp,
}

/// Decodes one sFlow v5 datagram, handing one record per flow sample (compact or expanded)
/// that has addresses to `sink`. `record` is the caller's scratch buffer. On error, records of
/// the samples before the bad one have been handed on already.
pub fn decode(
    bytes: &[u8],
    exporter: IpAddr,
    now: Timestamp,
    record: &mut FlowRecord,
    stats: &mut DecodeStats,
    sink: &mut impl RecordSink,
) -> Result<(), DecodeError> {
    const HEADER: DecodeError = DecodeError::Truncated("sFlow header");
    let version = bytes.be_u32(0).ok_or(HEADER)?;
    if version != 5 {
        return Err(DecodeError::UnknownVersion(version));
    }
    let address_len = match bytes.be_u32(4).ok_or(HEADER)? {
        1 => 4,
        2 => 16,
        _ => return Err(DecodeError::Malformed("sFlow agent address type")),
    };
    // The agent address is not used: the exporter is where the datagram came from, as for
    // NetFlow. After it: sub-agent id, sequence number, uptime, number of samples.
    let at = 8 + address_len;
    let datagram = Datagram {
        exporter,
        sub_agent_id: bytes.be_u32(at).ok_or(HEADER)?,
        now,
    };
    let num_samples = bytes.be_u32(at + 12).ok_or(HEADER)?;
    let mut at = at + 16;

    // Every sample takes at least 8 bytes or ends the loop with an error, so a hostile count
    // costs no more than the bytes that carry it.
    for _ in 0..num_samples {
        let (format, data, next) =
            opaque(bytes, at).ok_or(DecodeError::Truncated("sFlow sample"))?;
        at = next;
        // Data format: enterprise in the top 20 bits, format in the low 12.
        match (format >> 12, format & 0xfff) {
            (0, 1) => flow_sample(data, false, &datagram, record, stats, sink)?,
            (0, 3) => flow_sample(data, true, &datagram, record, stats, sink)?,
            (0, 2 | 4) => stats.counter_samples += 1,
            // Other enterprises' samples, or formats from a later revision: skipped by length.
            _ => {}
        }
    }
    Ok(())
}

/// Reads the `format, length, data` triple at `at` that both samples and flow records use:
/// (format, data, offset of what follows). The data is XDR opaque, padded to 4 bytes; missing
/// padding at the very end is forgiven.
fn opaque(bytes: &[u8], at: usize) -> Option<(u32, &[u8], usize)> {
    let format = bytes.be_u32(at)?;
    let len = bytes.be_u32(at + 4)? as usize;
    let start = at + 8;
    let data = bytes.get(start..start.checked_add(len)?)?;
    let next = (start + len.next_multiple_of(4)).min(bytes.len());
    Some((format, data, next))
}

/// The agent's own decode of the sampled packet (sampled IPv4 / IPv6 flow records), used
/// when no packet header was exported or it could not be parsed.
#[derive(Clone, Copy)]
struct SampledIp {
    length: u32,
    protocol: u32,
    src: IpAddr,
    dst: IpAddr,
    src_port: u32,
    dst_port: u32,
    tcp_flags: u32,
}

fn flow_sample(
    data: &[u8],
    expanded: bool,
    datagram: &Datagram,
    record: &mut FlowRecord,
    stats: &mut DecodeStats,
    sink: &mut impl RecordSink,
) -> Result<(), DecodeError> {
    // Compact: sequence, source id, rate, pool, drops, input, output, record count.
    // Expanded: the source id and each interface take two words (format, value).
    let (rate_at, records_at, header_len) = if expanded { (12, 40, 44) } else { (8, 28, 32) };
    if data.len() < header_len {
        return Err(DecodeError::Truncated("sFlow flow sample"));
    }
    let word = |at: usize| data.be_u32(at).unwrap_or(0);
    let (in_if, out_if) = if expanded {
        (interface(word(24), word(28)), interface(word(32), word(36)))
    } else {
        let compact = |v: u32| interface(v >> 30, v & 0x3fff_ffff);
        (compact(word(20)), compact(word(24)))
    };
    // A rate of 0 is nonsense; 1 is what the record means by "unsampled or unknown".
    let sampling_rate = word(rate_at).max(1);
    let num_records = word(records_at);

    let mut header: Option<PacketSummary> = None;
    let mut sampled: Option<SampledIp> = None;
    let mut frame_length: Option<u32> = None;
    let mut at = header_len;
    // Bounded like the samples: each record takes at least 8 bytes or ends in an error.
    for _ in 0..num_records {
        let (format, rec, next) =
            opaque(data, at).ok_or(DecodeError::Truncated("sFlow flow record"))?;
        at = next;
        match (format >> 12, format & 0xfff) {
            (0, 1) => {
                // Raw packet header: protocol, frame length, bytes stripped, header length,
                // header bytes.
                let protocol = rec.be_u32(0);
                let length = rec.be_u32(4);
                let header_bytes = rec
                    .be_u32(12)
                    .and_then(|len| rec.get(16..16usize.checked_add(len as usize)?))
                    .ok_or(DecodeError::Malformed("sFlow sampled header length"))?;
                frame_length = frame_length.or(length);
                let link = match protocol {
                    Some(1) => Some(LinkType::Ethernet),
                    Some(11) => Some(LinkType::Ipv4),
                    Some(12) => Some(LinkType::Ipv6),
                    _ => None,
                };
                // A header that does not parse (cut short by the agent, not IP, or garbage)
                // still leaves the sample's other records to go by.
                if let (None, Some(link)) = (header, link) {
                    header = packet::parse_frame(link, header_bytes).ok().flatten();
                }
            }
            (0, 3) => {
                // Sampled IPv4: length, protocol, src, dst, src port, dst port, flags, ToS.
                if rec.len() < 32 {
                    return Err(DecodeError::Truncated("sFlow sampled IPv4"));
                }
                let w = |at: usize| rec.be_u32(at).unwrap_or(0);
                sampled = sampled.or(Some(SampledIp {
                    length: w(0),
                    protocol: w(4),
                    src: IpAddr::V4(Ipv4Addr::from(w(8))),
                    dst: IpAddr::V4(Ipv4Addr::from(w(12))),
                    src_port: w(16),
                    dst_port: w(20),
                    tcp_flags: w(24),
                }));
            }
            (0, 4) => {
                // Sampled IPv6: length, protocol, src, dst, src port, dst port, flags,
                // priority.
                if rec.len() < 56 {
                    return Err(DecodeError::Truncated("sFlow sampled IPv6"));
                }
                let w = |at: usize| rec.be_u32(at).unwrap_or(0);
                let address = |at: usize| {
                    let a: [u8; 16] = rec
                        .get(at..at + 16)
                        .and_then(|a| a.try_into().ok())
                        .unwrap_or([0; 16]);
                    IpAddr::V6(Ipv6Addr::from(a))
                };
                sampled = sampled.or(Some(SampledIp {
                    length: w(0),
                    protocol: w(4),
                    src: address(8),
                    dst: address(24),
                    src_port: w(40),
                    dst_port: w(44),
                    tcp_flags: w(48),
                }));
            }
            // Switch, router, gateway, user, URL ... records: nothing a flow record holds.
            _ => {}
        }
    }

    *record = FlowRecord::empty(FlowFormat::Sflow5);
    record.exporter = Some(datagram.exporter);
    record.observation_domain = datagram.sub_agent_id;
    record.sampling_rate = sampling_rate;
    record.in_if = in_if;
    record.out_if = out_if;
    record.packets = 1;
    record.start = datagram.now;
    record.end = datagram.now;
    if let Some(s) = header {
        s.fill_record(record);
    } else if let Some(s) = sampled {
        record.src_addr = s.src;
        record.dst_addr = s.dst;
        // Protocol numbers are 8 bits; a larger value is not one, and is not invented.
        record.ip_protocol = u8::try_from(s.protocol).unwrap_or(0);
        if matches!(record.ip_protocol, 6 | 17 | 132) {
            record.src_port = u16::try_from(s.src_port).ok();
            record.dst_port = u16::try_from(s.dst_port).ok();
        }
        if record.ip_protocol == 6 {
            record.tcp_flags = Some((s.tcp_flags & 0xff) as u8);
        }
        let length = if s.length != 0 {
            Some(s.length)
        } else {
            frame_length
        };
        record.bytes = u64::from(length.unwrap_or(0));
    } else {
        stats.records_without_addresses += 1;
        sink.unaddressed_record();
        return Ok(());
    }
    stats.records += 1;
    sink.record(record);
    Ok(())
}

/// An interface from its (format, value): an ifIndex for format 0, except the value that means
/// the agent itself; `None` for discarded packets (format 1) and multiple interfaces (2).
fn interface(format: u32, value: u32) -> Option<u32> {
    (format == 0 && value != INTERNAL_INTERFACE).then_some(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXPORTER: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 99));
    const NOW: Timestamp = Timestamp::from_secs(1_700_000_000);

    fn put(b: &mut Vec<u8>, v: u32) {
        b.extend_from_slice(&v.to_be_bytes());
    }

    /// Appends `format, length, data` with the data padded to 4 bytes, as XDR opaque.
    fn opaque_into(b: &mut Vec<u8>, format: u32, data: &[u8]) {
        put(b, format);
        put(b, data.len() as u32);
        b.extend_from_slice(data);
        b.resize(b.len().next_multiple_of(4), 0);
    }

    /// Datagram header: version 5, agent address (IPv4 or IPv6), sub-agent 7, sequence,
    /// uptime, sample count.
    fn datagram(agent_v6: bool, samples: &[(u32, Vec<u8>)]) -> Vec<u8> {
        let mut b = Vec::new();
        put(&mut b, 5); // version
        if agent_v6 {
            put(&mut b, 2); // address type IPv6
            b.extend_from_slice(&[0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9]);
        } else {
            put(&mut b, 1); // address type IPv4
            b.extend_from_slice(&[192, 0, 2, 1]);
        }
        put(&mut b, 7); // sub-agent id
        put(&mut b, 42); // sequence number
        put(&mut b, 3_600_000); // uptime ms
        put(&mut b, samples.len() as u32); // number of samples
        for (format, data) in samples {
            opaque_into(&mut b, *format, data);
        }
        b
    }

    /// Ethernet/IPv4/TCP SYN, 198.51.100.1:40000 -> 203.0.113.10:443, TTL 63, 61 bytes long
    /// so that the sampled header needs padding.
    fn ethernet_tcp() -> Vec<u8> {
        let mut f = vec![0x02, 0, 0, 0, 0, 1, 0x02, 0, 0, 0, 0, 2, 0x08, 0x00]; // MACs, IPv4
        f.extend_from_slice(&[0x45, 0, 0x05, 0xdc]); // v4 IHL 5, total length 1500
        f.extend_from_slice(&[0, 1, 0x40, 0, 63, 6, 0, 0]); // id, DF, TTL 63, TCP, checksum
        f.extend_from_slice(&[198, 51, 100, 1, 203, 0, 113, 10]); // addresses
        f.extend_from_slice(&[0x9c, 0x40, 0x01, 0xbb]); // ports 40000 -> 443
        f.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x02, 0xff, 0xff, 0, 0, 0, 0]);
        f.extend_from_slice(&[0xaa; 7]); // payload start
        assert_eq!(f.len(), 61);
        f
    }

    /// Raw packet header flow record: protocol, frame length, stripped, header length, header.
    fn raw_header(protocol: u32, frame_length: u32, header: &[u8]) -> (u32, Vec<u8>) {
        let mut r = Vec::new();
        put(&mut r, protocol);
        put(&mut r, frame_length);
        put(&mut r, 4); // FCS stripped
        put(&mut r, header.len() as u32);
        r.extend_from_slice(header);
        r.resize(r.len().next_multiple_of(4), 0);
        (1, r)
    }

    /// Compact flow sample: sequence, source id, rate, pool, drops, input, output, records.
    fn flow_sample(
        rate: u32,
        input: u32,
        output: u32,
        records: &[(u32, Vec<u8>)],
    ) -> (u32, Vec<u8>) {
        let mut s = Vec::new();
        for v in [1, 3, rate, 1000, 0, input, output, records.len() as u32] {
            put(&mut s, v);
        }
        for (format, data) in records {
            opaque_into(&mut s, *format, data);
        }
        (1, s)
    }

    /// Expanded flow sample: sequence, source id type and index, rate, pool, drops, input
    /// format and value, output format and value, records.
    fn expanded_sample(
        rate: u32,
        input: (u32, u32),
        output: (u32, u32),
        records: &[(u32, Vec<u8>)],
    ) -> (u32, Vec<u8>) {
        let mut s = Vec::new();
        for v in [
            2,
            0,
            5,
            rate,
            1000,
            0,
            input.0,
            input.1,
            output.0,
            output.1,
            records.len() as u32,
        ] {
            put(&mut s, v);
        }
        for (format, data) in records {
            opaque_into(&mut s, *format, data);
        }
        (3, s)
    }

    /// Sampled IPv6 record: length, protocol, src, dst, src port, dst port, flags, priority.
    fn sampled_ipv6() -> (u32, Vec<u8>) {
        let mut r = Vec::new();
        put(&mut r, 1280); // IP length
        put(&mut r, 17); // UDP
        r.extend_from_slice(&[0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
        r.extend_from_slice(&[0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]);
        put(&mut r, 53); // src port
        put(&mut r, 33000); // dst port
        put(&mut r, 0); // TCP flags
        put(&mut r, 0); // priority
        (4, r)
    }

    /// A counter sample (generic interface counters); its content does not matter.
    fn counter_sample() -> (u32, Vec<u8>) {
        let mut s = Vec::new();
        for v in [9, 3, 1, 1, 88, 0] {
            put(&mut s, v); // sequence, source id, 1 record, generic counters, length 88, ...
        }
        s.extend_from_slice(&[0; 84]);
        (2, s)
    }

    /// One of everything: a flow sample with a raw Ethernet header and an extended switch
    /// record, an expanded flow sample with a sampled IPv6 record, a counter sample, a sample
    /// of another enterprise and a flow sample with no addresses.
    fn mixed() -> Vec<u8> {
        let switch = (1001, vec![0; 16]); // extended switch data: VLANs and priorities
        datagram(
            false,
            &[
                flow_sample(
                    1000,
                    3,
                    4,
                    &[switch.clone(), raw_header(1, 1518, &ethernet_tcp())],
                ),
                expanded_sample(0, (0, 70_000), (0, INTERNAL_INTERFACE), &[sampled_ipv6()]),
                counter_sample(),
                ((4413 << 12) | 1, vec![1, 2, 3, 4]),
                flow_sample(1000, 3, 4, &[switch]),
            ],
        )
    }

    fn run(bytes: &[u8]) -> (Result<(), DecodeError>, Vec<FlowRecord>, DecodeStats) {
        let mut records = Vec::new();
        let mut stats = DecodeStats::default();
        let mut scratch = FlowRecord::empty(FlowFormat::Netflow9);
        let mut sink = |r: &FlowRecord| records.push(r.clone());
        let result = decode(bytes, EXPORTER, NOW, &mut scratch, &mut stats, &mut sink);
        (result, records, stats)
    }

    #[test]
    fn mixed_datagram() {
        let bytes = mixed();
        assert!(looks_like(&bytes));
        let (result, records, stats) = run(&bytes);
        assert_eq!(result, Ok(()));
        assert_eq!(records.len(), 2);
        assert_eq!(stats.records, 2);
        assert_eq!(stats.counter_samples, 1);
        assert_eq!(stats.records_without_addresses, 1);
        assert_eq!((stats.datagrams, stats.errors), (0, 0));

        let r = &records[0];
        assert_eq!(r.format, FlowFormat::Sflow5);
        assert_eq!(r.exporter, Some(EXPORTER));
        assert_eq!(r.observation_domain, 7);
        assert_eq!(r.src_addr, "198.51.100.1".parse::<IpAddr>().unwrap());
        assert_eq!(r.dst_addr, "203.0.113.10".parse::<IpAddr>().unwrap());
        assert_eq!(
            (r.ip_protocol, r.src_port, r.dst_port),
            (6, Some(40000), Some(443))
        );
        assert_eq!(r.tcp_flags, Some(0x02));
        assert_eq!((r.ttl, r.fragment), (Some(63), Some(false)));
        assert_eq!((r.packets, r.bytes, r.sampling_rate), (1, 1500, 1000));
        assert_eq!((r.in_if, r.out_if), (Some(3), Some(4)));
        assert_eq!((r.start, r.end), (NOW, NOW));
        assert_eq!((r.icmp_type, r.icmp_code), (None, None));

        let r = &records[1];
        assert_eq!(r.src_addr, "2001:db8::1".parse::<IpAddr>().unwrap());
        assert_eq!(r.dst_addr, "2001:db8::2".parse::<IpAddr>().unwrap());
        assert_eq!(
            (r.ip_protocol, r.src_port, r.dst_port),
            (17, Some(53), Some(33000))
        );
        assert_eq!((r.tcp_flags, r.ttl, r.fragment), (None, None, None));
        assert_eq!((r.packets, r.bytes, r.sampling_rate), (1, 1280, 1));
        assert_eq!((r.in_if, r.out_if), (Some(70_000), None));
    }

    #[test]
    fn ipv6_agent_and_compact_interface_formats() {
        // Input: format 1 (discarded); output: format 2 (multiple interfaces, 3 of them).
        let sample = flow_sample(
            512,
            (1 << 30) | 5,
            (2 << 30) | 3,
            &[raw_header(1, 64, &ethernet_tcp())],
        );
        let bytes = datagram(true, &[sample]);
        assert!(looks_like(&bytes));
        let (result, records, _) = run(&bytes);
        assert_eq!(result, Ok(()));
        assert_eq!(records.len(), 1);
        assert_eq!((records[0].in_if, records[0].out_if), (None, None));
        assert_eq!(
            (records[0].sampling_rate, records[0].observation_domain),
            (512, 7)
        );
    }

    #[test]
    fn raw_ip_header_protocols() {
        // Header protocol 11: the header starts at IPv4. Protocol 7 (PPP): not parsed.
        let ip_only = ethernet_tcp()[14..].to_vec();
        let bytes = datagram(
            false,
            &[
                flow_sample(10, 1, 2, &[raw_header(11, 1500, &ip_only)]),
                flow_sample(10, 1, 2, &[raw_header(7, 1500, &ip_only)]),
            ],
        );
        let (result, records, stats) = run(&bytes);
        assert_eq!(result, Ok(()));
        assert_eq!(records.len(), 1);
        assert_eq!(records[0].dst_port, Some(443));
        assert_eq!(stats.records_without_addresses, 1);
    }

    #[test]
    fn header_errors() {
        let mut bytes = mixed();
        bytes[3] = 4;
        assert_eq!(run(&bytes).0, Err(DecodeError::UnknownVersion(4)));
        assert!(!looks_like(&bytes));
        let mut bytes = mixed();
        bytes[7] = 3;
        assert_eq!(
            run(&bytes).0,
            Err(DecodeError::Malformed("sFlow agent address type"))
        );
        assert!(!looks_like(&bytes));
        assert_eq!(
            run(&mixed()[..27]).0,
            Err(DecodeError::Truncated("sFlow header"))
        );
        assert!(!looks_like(&mixed()[..27]));
        assert!(looks_like(&mixed()[..28]));
    }

    #[test]
    fn truncated_datagram_keeps_earlier_records() {
        let bytes = mixed();
        // Cut inside the second sample: the first record is out, then the error.
        let first_sample_end = 28
            + 8
            + flow_sample(
                1000,
                3,
                4,
                &[(1001, vec![0; 16]), raw_header(1, 1518, &ethernet_tcp())],
            )
            .1
            .len();
        let (result, records, stats) = run(&bytes[..first_sample_end + 20]);
        assert_eq!(result, Err(DecodeError::Truncated("sFlow sample")));
        assert_eq!(records.len(), 1);
        assert_eq!(stats.records, 1);

        // A sample count beyond the samples present.
        let mut bytes = datagram(false, &[counter_sample()]);
        bytes[27] = 200;
        let (result, _, stats) = run(&bytes);
        assert_eq!(result, Err(DecodeError::Truncated("sFlow sample")));
        assert_eq!(stats.counter_samples, 1);
    }

    #[test]
    fn malformed_samples() {
        // A flow sample too short for its own header.
        let bytes = datagram(false, &[(1, vec![0; 28])]);
        assert_eq!(
            run(&bytes).0,
            Err(DecodeError::Truncated("sFlow flow sample"))
        );
        // A flow record count beyond the records present.
        let (_, mut sample) = flow_sample(1, 1, 2, &[]);
        sample[31] = 3;
        let bytes = datagram(false, &[(1, sample)]);
        assert_eq!(
            run(&bytes).0,
            Err(DecodeError::Truncated("sFlow flow record"))
        );
        // A raw header claiming more bytes than its record holds.
        let (_, mut rec) = raw_header(1, 64, &ethernet_tcp());
        rec[15] = 200;
        let bytes = datagram(false, &[flow_sample(1, 1, 2, &[(1, rec)])]);
        assert_eq!(
            run(&bytes).0,
            Err(DecodeError::Malformed("sFlow sampled header length"))
        );
    }

    #[test]
    fn every_prefix_decodes_without_panicking() {
        let bytes = mixed();
        let mut scratch = FlowRecord::empty(FlowFormat::Sflow5);
        let mut stats = DecodeStats::default();
        for n in 0..=bytes.len() {
            let mut count = 0u64;
            let mut sink = |_: &FlowRecord| count += 1;
            let result = decode(
                &bytes[..n],
                EXPORTER,
                NOW,
                &mut scratch,
                &mut stats,
                &mut sink,
            );
            // And the same bytes shifted, so that every field lands on garbage.
            let _ = decode(
                &bytes[n..],
                EXPORTER,
                NOW,
                &mut scratch,
                &mut stats,
                &mut |_: &FlowRecord| {},
            );
            assert!(count <= 2);
            assert_eq!(result.is_ok(), n == bytes.len(), "prefix of {n} bytes");
        }
    }
}
