//! Captures to records: each captured packet is either a flow-export datagram (recognised by
//! its header on any UDP port) decoded into the records it carries, or a raw packet that
//! becomes one `packet` record.

use crate::packet::{self, LinkType, PacketSummary};
use crate::pcap::CapturedPacket;
use crate::{sniff, DecodeError, FlowDecoder, FlowFormat, FlowRecord, Limits, RecordSink};

/// What a capture held, counted per packet.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CaptureStats {
    pub packets: u64,
    /// Raw IP packets turned into `packet` records.
    pub packet_records: u64,
    /// UDP datagrams recognised as flow exports.
    pub flow_datagrams: u64,
    /// Frames that carry no IP (ARP, LLDP, ...), skipped.
    pub non_ip: u64,
    /// Frames or flow datagrams that could not be decoded.
    pub errors: u64,
}

/// Decodes captured packets. Flow exports inside the capture go through one [`FlowDecoder`]
/// so that templates learned from one datagram apply to the next, as in a live collector.
#[derive(Debug)]
pub struct CaptureDecoder {
    flows: FlowDecoder,
    scratch: FlowRecord,
    stats: CaptureStats,
}

impl Default for CaptureDecoder {
    fn default() -> Self {
        CaptureDecoder::new(Limits::default())
    }
}

impl CaptureDecoder {
    pub fn new(limits: Limits) -> Self {
        CaptureDecoder {
            flows: FlowDecoder::new(limits),
            scratch: FlowRecord::empty(FlowFormat::Packet),
            stats: CaptureStats::default(),
        }
    }

    /// Decodes one captured packet. The packet's timestamp is "now" for the flow decoder, and
    /// the datagram's source address is the exporter.
    pub fn packet(
        &mut self,
        packet: &CapturedPacket<'_>,
        sink: &mut impl RecordSink,
    ) -> Result<(), DecodeError> {
        self.stats.packets += 1;
        let result = self.packet_inner(packet, sink);
        if result.is_err() {
            self.stats.errors += 1;
        }
        result
    }

    fn packet_inner(
        &mut self,
        packet: &CapturedPacket<'_>,
        sink: &mut impl RecordSink,
    ) -> Result<(), DecodeError> {
        let link = LinkType::from_linktype(packet.linktype)
            .ok_or(DecodeError::UnsupportedLinkType(packet.linktype))?;
        let Some(summary) = packet::parse_frame(link, packet.data)? else {
            self.stats.non_ip += 1;
            return Ok(());
        };
        if let Some(payload) = summary
            .udp_payload
            .and_then(|(from, to)| packet.data.get(from..to))
            .filter(|p| sniff(p).is_some())
        {
            self.stats.flow_datagrams += 1;
            self.flows
                .decode(payload, summary.src_addr, packet.timestamp, sink)?;
            return Ok(());
        }
        fill_packet_record(&mut self.scratch, &summary, packet);
        self.stats.packet_records += 1;
        sink.record(&self.scratch);
        Ok(())
    }

    pub fn stats(&self) -> CaptureStats {
        self.stats
    }

    /// Counters of the flow decoder that handled the exports inside the capture.
    pub fn flow_decoder(&self) -> &FlowDecoder {
        &self.flows
    }
}

fn fill_packet_record(r: &mut FlowRecord, s: &PacketSummary, packet: &CapturedPacket<'_>) {
    *r = FlowRecord::empty(FlowFormat::Packet);
    s.fill_record(r);
    r.packets = 1;
    r.start = packet.timestamp;
    r.end = packet.timestamp;
}
