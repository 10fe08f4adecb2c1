//! NetFlow v5: a 24-byte header and up to 30 fixed 48-byte IPv4 records. Times are router
//! uptime in milliseconds, turned into wall-clock time with the header's export time.

use crate::error::Be;
use crate::{DecodeError, DecodeStats, FlowFormat, FlowRecord, RecordSink, Timestamp};
use std::net::{IpAddr, Ipv4Addr};

const HEADER_LEN: usize = 24;
const RECORD_LEN: usize = 48;
/// Cisco's limit; a larger count is a corrupt or hostile header.
const MAX_RECORDS: usize = 30;

/// True when `bytes` is exactly a NetFlow v5 datagram: version 5, a count within the limit
/// and a length that matches it. Strict, because it is used to find exports on any UDP port.
pub fn looks_like(bytes: &[u8]) -> bool {
    let count = bytes.be_u16(2).unwrap_or(0) as usize;
    bytes.be_u16(0) == Some(5)
        && (1..=MAX_RECORDS).contains(&count)
        && bytes.len() == HEADER_LEN + count * RECORD_LEN
}

/// The time `uptime_ms` (router uptime of an event) refers to, given the header's uptime and
/// export time. Uptime is a u32 that wraps after 49.7 days; the difference is taken as signed
/// so that a wrap between the event and the export, or an event stamped slightly after the
/// header, both land next to the export time.
pub(crate) fn uptime_to_time(export: Timestamp, header_uptime: u32, uptime_ms: u32) -> Timestamp {
    let ago = header_uptime.wrapping_sub(uptime_ms) as i32;
    if ago >= 0 {
        export.saturating_sub_millis(ago as u64)
    } else {
        export.saturating_add_millis(ago.unsigned_abs() as u64)
    }
}

pub(crate) fn decode(
    bytes: &[u8],
    exporter: IpAddr,
    record: &mut FlowRecord,
    stats: &mut DecodeStats,
    sink: &mut impl RecordSink,
) -> Result<(), DecodeError> {
    let header = bytes
        .get(..HEADER_LEN)
        .ok_or(DecodeError::Truncated("NetFlow v5 header"))?;
    let count = header.be_u16(2).unwrap_or(0) as usize;
    if count > MAX_RECORDS {
        return Err(DecodeError::Malformed("NetFlow v5 record count"));
    }
    let uptime = header.be_u32(4).unwrap_or(0);
    let export = Timestamp::from_secs_nanos(
        header.be_u32(8).unwrap_or(0).into(),
        header.be_u32(12).unwrap_or(0).min(999_999_999),
    );
    let domain = u32::from(header.be_u16(20).unwrap_or(0));
    let sampling = header.be_u16(22).unwrap_or(0) & 0x3fff;
    let body = bytes
        .get(HEADER_LEN..HEADER_LEN + count * RECORD_LEN)
        .ok_or(DecodeError::Truncated("NetFlow v5 records"))?;

    for r in body.chunks_exact(RECORD_LEN) {
        let (Some(src), Some(dst)) = (r.be_u32(0), r.be_u32(4)) else {
            continue;
        };
        *record = FlowRecord::empty(FlowFormat::Netflow5);
        record.exporter = Some(exporter);
        record.observation_domain = domain;
        record.src_addr = IpAddr::V4(Ipv4Addr::from(src));
        record.dst_addr = IpAddr::V4(Ipv4Addr::from(dst));
        record.in_if = r.be_u16(12).map(u32::from);
        record.out_if = r.be_u16(14).map(u32::from);
        record.packets = r.be_u32(16).unwrap_or(0).into();
        record.bytes = r.be_u32(20).unwrap_or(0).into();
        record.start = uptime_to_time(export, uptime, r.be_u32(24).unwrap_or(0));
        record.end = uptime_to_time(export, uptime, r.be_u32(28).unwrap_or(0));
        record.ip_protocol = r.be_u8(38).unwrap_or(0);
        if matches!(record.ip_protocol, 6 | 17 | 132) {
            record.src_port = r.be_u16(32);
            record.dst_port = r.be_u16(34);
        }
        if record.ip_protocol == 6 {
            record.tcp_flags = r.be_u8(37);
        }
        if record.ip_protocol == 1 {
            // v5 has no ICMP fields; exporters put type << 8 | code in the destination port.
            let tc = r.be_u16(34).unwrap_or(0);
            record.icmp_type = Some((tc >> 8) as u8);
            record.icmp_code = Some(tc as u8);
        }
        record.sampling_rate = u32::from(sampling.max(1));
        stats.records += 1;
        sink.record(record);
    }
    Ok(())
}
