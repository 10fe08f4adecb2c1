//! One flow record: what a router, a probe or a single captured packet says about traffic
//! between two endpoints over an interval.

use crate::Timestamp;
use serde::Serialize;
use std::net::{IpAddr, Ipv4Addr};

/// Where a record came from. `Packet` is one raw packet read from a capture or a tap.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FlowFormat {
    Netflow5,
    Netflow9,
    Ipfix,
    Sflow5,
    Packet,
}

impl FlowFormat {
    pub const fn as_str(self) -> &'static str {
        match self {
            FlowFormat::Netflow5 => "netflow5",
            FlowFormat::Netflow9 => "netflow9",
            FlowFormat::Ipfix => "ipfix",
            FlowFormat::Sflow5 => "sflow5",
            FlowFormat::Packet => "packet",
        }
    }
}

/// A flow record. `packets` and `bytes` are as exported: multiply by `sampling_rate` for an
/// estimate of the real traffic. Optional fields are `None` when the source does not carry
/// them; they are never invented.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FlowRecord {
    /// The exporter's address (the datagram's source); absent for raw packets.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exporter: Option<IpAddr>,
    /// NetFlow v9 source id, IPFIX observation domain, sFlow agent sub-id; 0 otherwise.
    pub observation_domain: u32,
    pub format: FlowFormat,
    pub src_addr: IpAddr,
    pub dst_addr: IpAddr,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub src_port: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dst_port: Option<u16>,
    pub ip_protocol: u8,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tcp_flags: Option<u8>,
    pub packets: u64,
    pub bytes: u64,
    /// One in `sampling_rate` packets was seen; 1 when unsampled or unknown.
    pub sampling_rate: u32,
    pub start: Timestamp,
    pub end: Timestamp,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub in_if: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub out_if: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub icmp_type: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub icmp_code: Option<u8>,
    /// Minimum TTL / hop limit seen, when carried.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ttl: Option<u8>,
    /// True when the packet (or some packet of the flow) was an IP fragment.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fragment: Option<bool>,
}

impl FlowRecord {
    /// An empty record of the given format, to be filled field by field by a decoder.
    pub const fn empty(format: FlowFormat) -> Self {
        const ZERO: IpAddr = IpAddr::V4(Ipv4Addr::UNSPECIFIED);
        FlowRecord {
            exporter: None,
            observation_domain: 0,
            format,
            src_addr: ZERO,
            dst_addr: ZERO,
            src_port: None,
            dst_port: None,
            ip_protocol: 0,
            tcp_flags: None,
            packets: 0,
            bytes: 0,
            sampling_rate: 1,
            start: Timestamp::EPOCH,
            end: Timestamp::EPOCH,
            in_if: None,
            out_if: None,
            icmp_type: None,
            icmp_code: None,
            ttl: None,
            fragment: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_omits_absent_fields() {
        let mut r = FlowRecord::empty(FlowFormat::Netflow9);
        r.exporter = Some("192.0.2.1".parse().unwrap());
        r.src_addr = "10.0.0.1".parse().unwrap();
        r.dst_addr = "10.0.0.2".parse().unwrap();
        r.ip_protocol = 1;
        r.packets = 1;
        r.bytes = 84;
        let json = serde_json::to_string(&r).unwrap();
        assert_eq!(
            json,
            r#"{"exporter":"192.0.2.1","observation_domain":0,"format":"netflow9","src_addr":"10.0.0.1","dst_addr":"10.0.0.2","ip_protocol":1,"packets":1,"bytes":84,"sampling_rate":1,"start":"1970-01-01T00:00:00.000Z","end":"1970-01-01T00:00:00.000Z"}"#
        );
    }
}
