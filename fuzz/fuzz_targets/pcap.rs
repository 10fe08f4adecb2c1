#![no_main]
//! Fuzzes the pcap/pcapng reader and the capture decoder: the streaming reader and the
//! in-memory iterator must agree packet for packet, and decoding never panics.
use libfuzzer_sys::fuzz_target;
use rampart_flow::pcap::{packets, CaptureReader};
use rampart_flow::{CaptureDecoder, FlowRecord};

fuzz_target!(|data: &[u8]| {
    let mut decoder = CaptureDecoder::default();
    let mut sink = |_: &FlowRecord| {};
    let mut from_slice = Vec::new();
    if let Ok(iter) = packets(data) {
        for p in iter {
            let Ok(p) = p else { break };
            let _ = decoder.packet(&p, &mut sink);
            from_slice.push((p.timestamp, p.linktype, p.data.to_vec()));
        }
    }
    let mut from_reader = Vec::new();
    if let Ok(mut reader) = CaptureReader::new(data) {
        while let Ok(Some(p)) = reader.next_packet() {
            from_reader.push((p.timestamp, p.linktype, p.data.to_vec()));
        }
    }
    assert_eq!(from_slice, from_reader);
});
