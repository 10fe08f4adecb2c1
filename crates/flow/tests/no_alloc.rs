//! The hot path allocates nothing per record: after templates are learned, decoding a stream
//! of NetFlow v9, IPFIX and sFlow datagrams, and reading a pcap, makes no allocation at all.

#![allow(clippy::unwrap_used)] // a test: a panic is the failure report

use rampart_flow::pcap::packets;
use rampart_flow::{CaptureDecoder, FlowDecoder, FlowRecord, Timestamp};
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::net::{IpAddr, Ipv4Addr};

mod support {
    pub mod synth;
}
use support::synth;

struct CountingAlloc;

thread_local! {
    // Per thread, so that the test harness's own threads do not disturb the count.
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

#[allow(unsafe_code)]
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|c| c.set(c.get() + 1));
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|c| c.set(c.get() + 1));
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: CountingAlloc = CountingAlloc;

fn allocations() -> u64 {
    ALLOCATIONS.with(Cell::get)
}

const EXPORTER: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));
const NOW: Timestamp = Timestamp::from_secs(1_795_341_600);

fn assert_no_alloc_per_record(name: &str, datagrams: &[Vec<u8>]) {
    let mut decoder = FlowDecoder::default();
    let mut records = 0u64;
    let mut count = |_: &FlowRecord| records += 1;
    for d in datagrams {
        decoder.decode(d, EXPORTER, NOW, &mut count).unwrap();
    }
    let before = allocations();
    for d in datagrams {
        decoder.decode(d, EXPORTER, NOW, &mut count).unwrap();
    }
    let made = allocations() - before;
    assert!(records > 1000, "{name}: only {records} records");
    assert_eq!(
        made, 0,
        "{name}: {made} allocations while decoding {records} records"
    );
}

#[test]
fn netflow9_decodes_without_allocating() {
    assert_no_alloc_per_record("netflow9", &synth::netflow9_stream(100));
}

#[test]
fn ipfix_decodes_without_allocating() {
    assert_no_alloc_per_record("ipfix", &synth::ipfix_stream(100));
}

#[test]
fn sflow_decodes_without_allocating() {
    assert_no_alloc_per_record("sflow5", &synth::sflow_stream(100));
}

#[test]
fn pcap_decodes_without_allocating() {
    let pcap = synth::pcap_of_frames(5_000);
    let mut decoder = CaptureDecoder::default();
    let mut records = 0u64;
    let mut count = |_: &FlowRecord| records += 1;
    let before = allocations();
    for p in packets(&pcap).unwrap() {
        decoder.packet(&p.unwrap(), &mut count).unwrap();
    }
    let made = allocations() - before;
    assert_eq!(records, 5_000);
    assert_eq!(
        made, 0,
        "{made} allocations while reading {records} packets"
    );
}
