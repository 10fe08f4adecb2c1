// Shared by the flow-datagram targets: splits the input into several datagrams (so template
// state carries across them, as from a live exporter), forces the version under test, and
// checks invariants that must hold for any bytes.
use rampart_flow::{FlowDecoder, FlowRecord, Limits, RecordSink, Timestamp};
use std::net::{IpAddr, Ipv4Addr};

struct Counting {
    records: u64,
    options: u64,
}

impl RecordSink for Counting {
    fn record(&mut self, r: &FlowRecord) {
        self.records += 1;
        // A record always has addresses of one family or another and a sane sampling rate.
        assert!(r.sampling_rate >= 1);
    }
    fn options_record(&mut self) {
        self.options += 1;
    }
}

/// Small limits so that eviction and dropping paths run too.
fn limits() -> Limits {
    Limits {
        max_templates: 8,
        max_templates_per_domain: 4,
        max_fields: 64,
        max_domains: 3,
        max_samplers_per_domain: 2,
        max_pending_sets: 4,
        max_pending_bytes: 4096,
        pending_max_age_ms: 1_000,
    }
}

pub fn run(data: &[u8], version: &[u8]) {
    let mut decoder = FlowDecoder::new(limits());
    let mut sink = Counting { records: 0, options: 0 };
    let mut buf = Vec::with_capacity(2048);
    // Each datagram is prefixed by a two-byte length, so that any byte value can occur inside.
    let mut rest = data;
    let mut i = 0usize;
    while let [a, b, tail @ ..] = rest {
        let len = usize::from(u16::from_le_bytes([*a, *b])).min(tail.len());
        let (chunk, next) = tail.split_at(len);
        rest = next;
        i += 1;
        buf.clear();
        buf.extend_from_slice(version);
        buf.extend_from_slice(chunk.get(version.len().min(chunk.len())..).unwrap_or(&[]));
        // Two exporters, so that per-exporter state is exercised.
        let exporter = IpAddr::V4(Ipv4Addr::new(192, 0, 2, (i % 2) as u8));
        let now = Timestamp::from_millis(1_700_000_000_000 + 500 * i as u64);
        let _ = decoder.decode(&buf, exporter, now, &mut sink);
    }
    let s = decoder.stats();
    assert_eq!(s.records, sink.records);
    assert_eq!(s.options_records, sink.options);
    assert!(decoder.template_count() <= limits().max_templates);
    assert!(decoder.pending_count() <= limits().max_pending_sets);
}
