//! One entry point for flow-export datagrams: sniffs the version and hands the bytes to the
//! NetFlow v5, NetFlow v9/IPFIX or sFlow v5 decoder, counting what happened.

use crate::error::Be;
use crate::templated::{Limits, Protocol, TemplateState};
use crate::{netflow5, sflow};
use crate::{DecodeError, DecodeStats, FlowFormat, FlowRecord, RecordSink, Timestamp};
use std::net::IpAddr;

/// Recognises a flow-export datagram by its header alone, strictly enough to pick exports out
/// of arbitrary UDP traffic on any port: version, lengths and the first set must agree.
pub fn sniff(bytes: &[u8]) -> Option<FlowFormat> {
    match bytes.be_u16(0)? {
        5 if netflow5::looks_like(bytes) => Some(FlowFormat::Netflow5),
        9 => {
            let count = bytes.be_u16(2)?;
            let set_id = bytes.be_u16(20)?;
            let set_len = usize::from(bytes.be_u16(22)?);
            let ok_set = set_id <= 1 || set_id >= 256;
            (count > 0 && ok_set && set_len >= 4 && set_len <= bytes.len() - 20)
                .then_some(FlowFormat::Netflow9)
        }
        10 => {
            let len = usize::from(bytes.be_u16(2)?);
            let set_id = bytes.be_u16(16)?;
            let set_len = usize::from(bytes.be_u16(18)?);
            let ok_set = set_id == 2 || set_id == 3 || set_id >= 256;
            (len == bytes.len() && ok_set && set_len >= 4 && set_len <= len - 16)
                .then_some(FlowFormat::Ipfix)
        }
        0 if sflow::looks_like(bytes) => Some(FlowFormat::Sflow5),
        _ => None,
    }
}

/// Decodes flow-export datagrams from any number of exporters. Holds the template and
/// sampling state of NetFlow v9 and IPFIX, bounded by [`Limits`].
#[derive(Debug)]
pub struct FlowDecoder {
    templates: TemplateState,
    scratch: FlowRecord,
    stats: DecodeStats,
}

impl Default for FlowDecoder {
    fn default() -> Self {
        FlowDecoder::new(Limits::default())
    }
}

impl FlowDecoder {
    pub fn new(limits: Limits) -> Self {
        FlowDecoder {
            templates: TemplateState::new(limits),
            scratch: FlowRecord::empty(FlowFormat::Netflow9),
            stats: DecodeStats::default(),
        }
    }

    /// Decodes one datagram from `exporter` received at `now`, handing records to `sink`.
    /// On error, records decoded before the bad part have been handed on already; the error
    /// is counted and says what was wrong. The decoder stays usable either way.
    pub fn decode(
        &mut self,
        bytes: &[u8],
        exporter: IpAddr,
        now: Timestamp,
        sink: &mut impl RecordSink,
    ) -> Result<FlowFormat, DecodeError> {
        self.stats.datagrams += 1;
        let result = self.decode_inner(bytes, exporter, now, sink);
        if result.is_err() {
            self.stats.errors += 1;
        }
        result
    }

    fn decode_inner(
        &mut self,
        bytes: &[u8],
        exporter: IpAddr,
        now: Timestamp,
        sink: &mut impl RecordSink,
    ) -> Result<FlowFormat, DecodeError> {
        let (record, stats) = (&mut self.scratch, &mut self.stats);
        match bytes
            .be_u16(0)
            .ok_or(DecodeError::Truncated("datagram header"))?
        {
            5 => netflow5::decode(bytes, exporter, record, stats, sink)
                .map(|()| FlowFormat::Netflow5),
            9 => self
                .templates
                .decode(Protocol::V9, bytes, exporter, now, record, stats, sink)
                .map(|()| FlowFormat::Netflow9),
            10 => self
                .templates
                .decode(Protocol::Ipfix, bytes, exporter, now, record, stats, sink)
                .map(|()| FlowFormat::Ipfix),
            0 => {
                let version = bytes
                    .be_u32(0)
                    .ok_or(DecodeError::Truncated("datagram header"))?;
                if version != 5 {
                    return Err(DecodeError::UnknownVersion(version));
                }
                sflow::decode(bytes, exporter, now, record, stats, sink)
                    .map(|()| FlowFormat::Sflow5)
            }
            v => Err(DecodeError::UnknownVersion(v.into())),
        }
    }

    pub fn stats(&self) -> DecodeStats {
        self.stats
    }

    /// Templates cached now, over all exporters.
    pub fn template_count(&self) -> usize {
        self.templates.template_count()
    }

    /// Data sets held waiting for their template.
    pub fn pending_count(&self) -> usize {
        self.templates.pending_count()
    }
}

impl FlowDecoder {
    /// Moves the times of a datagram to the present for replay: the header's export time to
    /// `to`, and in NetFlow v9/IPFIX data records every absolute time by the same amount
    /// (templates are learned from the datagrams passed here). Router-uptime times follow the
    /// header by themselves; sFlow carries no absolute time. Returns false when the bytes are
    /// not a datagram we know.
    pub fn rewrite_export_time(
        &mut self,
        datagram: &mut [u8],
        exporter: IpAddr,
        to: Timestamp,
    ) -> bool {
        let Some(format) = sniff(datagram) else {
            return false;
        };
        let at = match format {
            FlowFormat::Netflow5 | FlowFormat::Netflow9 => 8,
            FlowFormat::Ipfix => 4,
            _ => return true,
        };
        let Some(old_secs) = datagram.be_u32(at) else {
            return false;
        };
        let delta_ms = (to.as_millis() as i64).saturating_sub(i64::from(old_secs) * 1000);
        let protocol = match format {
            FlowFormat::Netflow9 => Some(Protocol::V9),
            FlowFormat::Ipfix => Some(Protocol::Ipfix),
            _ => None,
        };
        if let Some(protocol) = protocol {
            // Learn templates (and ignore the records) before patching the data sets.
            let mut ignore = |_: &FlowRecord| {};
            let (record, stats) = (&mut self.scratch, &mut self.stats);
            let _ =
                self.templates
                    .decode(protocol, datagram, exporter, to, record, stats, &mut ignore);
            self.templates
                .shift_times(protocol, datagram, exporter, delta_ms);
        }
        let secs = (to.as_secs() as u32).to_be_bytes();
        datagram[at..at + 4].copy_from_slice(&secs);
        if format == FlowFormat::Netflow5 {
            let nanos = ((to.as_nanos() % 1_000_000_000) as u32).to_be_bytes();
            datagram[12..16].copy_from_slice(&nanos);
        }
        true
    }
}
