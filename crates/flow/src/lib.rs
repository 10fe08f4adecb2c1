//! Decoders that turn what routers and taps send into [`FlowRecord`]s: NetFlow v5, NetFlow v9,
//! IPFIX, sFlow v5, and pcap/pcapng captures of raw packets or of flow exports.
//!
//! Every decoder is sans-I/O: it takes bytes, the exporter's address and the current time, and
//! hands records to a [`RecordSink`]. State (templates, sampling rates) is bounded, and what is
//! dropped to keep it bounded is counted in [`DecodeStats`].

mod capture;
mod decoder;
mod error;
pub mod export;
mod netflow5;
pub mod packet;
pub mod pcap;
pub mod sflow;
mod templated;

pub use capture::{CaptureDecoder, CaptureStats};
pub use decoder::{sniff, FlowDecoder};
pub use error::DecodeError;
pub use rampart_model::{FlowFormat, FlowRecord, Timestamp};
pub use templated::Limits;

/// Where decoders put what they find. Records are lent, not given: the decoder reuses one
/// buffer, so the hot path allocates nothing per record.
pub trait RecordSink {
    /// A flow (or packet) record.
    fn record(&mut self, record: &FlowRecord);
    /// An options data record (NetFlow v9 / IPFIX) was decoded; its content (sampling rates,
    /// system init time) went into the decoder's state.
    fn options_record(&mut self) {}
    /// A data record was decoded but carried no source and destination address (NAT events,
    /// application statistics), so it cannot be a flow record. Counted, not passed on.
    fn unaddressed_record(&mut self) {}
}

impl<F: FnMut(&FlowRecord)> RecordSink for F {
    #[inline]
    fn record(&mut self, record: &FlowRecord) {
        self(record)
    }
}

/// Counters a decoder keeps. All are totals since the decoder was made.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DecodeStats {
    /// Datagrams (or sFlow datagrams, or capture packets) seen.
    pub datagrams: u64,
    /// Flow records handed to the sink.
    pub records: u64,
    /// Options data records decoded into state.
    pub options_records: u64,
    /// Datagrams, sets or samples rejected as malformed.
    pub errors: u64,
    /// Data records without source and destination addresses (e.g. NAT events, application
    /// statistics), which cannot become flow records.
    pub records_without_addresses: u64,
    /// Data sets whose template was not (yet) known.
    pub template_misses: u64,
    /// Templates evicted because the cache was full.
    pub template_evictions: u64,
    /// Data sets held for a template dropped because the holding area was full or they aged out.
    pub pending_dropped: u64,
    /// Held data sets decoded once their template arrived.
    pub pending_decoded: u64,
    /// Exporter/domain states (sampling rates, templates) evicted because too many exporters
    /// were seen.
    pub domain_evictions: u64,
    /// sFlow counter samples seen (accepted and skipped).
    pub counter_samples: u64,
}
