//! Decoding speed on one core, in records (or samples, or packets) per second and in bytes
//! per second beside a memcpy of the same bytes: the physical limit of this machine.
//! Inputs are synthetic but shaped like real exports: NetFlow v9 and IPFIX datagrams of 30
//! records with a common 13-field template, sFlow datagrams of 7 flow samples carrying
//! 128-byte sampled Ethernet headers, and a pcap of 64- to 1500-byte Ethernet frames.
//! A counting allocator shows that decoding allocates nothing per record.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use rampart_flow::pcap::packets;
use rampart_flow::{CaptureDecoder, FlowDecoder, FlowRecord, RecordSink, Timestamp};
use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::atomic::{AtomicU64, Ordering};

#[path = "../tests/support/synth.rs"]
mod synth;

struct CountingAlloc;
static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

// SAFETY-free wrapper: forwards to the system allocator and counts calls.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: CountingAlloc = CountingAlloc;

/// Counts records and touches a field so that the decoding cannot be optimised away.
#[derive(Default)]
struct Sum {
    records: u64,
    bytes: u64,
}

impl RecordSink for Sum {
    #[inline]
    fn record(&mut self, r: &FlowRecord) {
        self.records += 1;
        self.bytes = self.bytes.wrapping_add(r.bytes);
    }
}

const EXPORTER: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));
const NOW: Timestamp = Timestamp::from_secs(1_795_341_600);

fn decode_all(decoder: &mut FlowDecoder, datagrams: &[Vec<u8>], sink: &mut Sum) {
    for d in datagrams {
        let _ = decoder.decode(d, EXPORTER, NOW, sink);
    }
}

fn decode_pcap(bytes: &[u8], sink: &mut Sum) {
    let mut decoder = CaptureDecoder::default();
    for p in packets(bytes).expect("a pcap") {
        let Ok(p) = p else { break };
        let _ = decoder.packet(&p, sink);
    }
}

/// Allocations per record after warm-up, printed for docs/benchmarks.md.
fn report_allocations(name: &str, datagrams: &[Vec<u8>]) {
    let mut decoder = FlowDecoder::default();
    let mut sink = Sum::default();
    decode_all(&mut decoder, datagrams, &mut sink); // learns templates
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    let mut sink = Sum::default();
    decode_all(&mut decoder, datagrams, &mut sink);
    let allocs = ALLOCATIONS.load(Ordering::Relaxed) - before;
    println!("allocations {name}: {allocs} for {} records", sink.records);
}

fn benches(c: &mut Criterion) {
    let inputs = [
        ("netflow9", synth::netflow9_stream(2_000)),
        ("ipfix", synth::ipfix_stream(2_000)),
        ("sflow5", synth::sflow_stream(2_000)),
    ];
    for (name, datagrams) in &inputs {
        report_allocations(name, datagrams);
        let total_bytes: usize = datagrams.iter().map(Vec::len).sum();
        let mut warm = FlowDecoder::default();
        let mut sink = Sum::default();
        decode_all(&mut warm, datagrams, &mut sink);
        let records = sink.records;

        let mut g = c.benchmark_group(*name);
        g.throughput(Throughput::Elements(records));
        g.bench_function(BenchmarkId::new("decode", "records"), |b| {
            b.iter(|| {
                let mut sink = Sum::default();
                decode_all(&mut warm, black_box(datagrams), &mut sink);
                black_box(sink.bytes)
            })
        });
        g.throughput(Throughput::Bytes(total_bytes as u64));
        g.bench_function(BenchmarkId::new("decode", "bytes"), |b| {
            b.iter(|| {
                let mut sink = Sum::default();
                decode_all(&mut warm, black_box(datagrams), &mut sink);
                black_box(sink.bytes)
            })
        });
        let flat: Vec<u8> = datagrams.concat();
        let mut dst = vec![0u8; flat.len()];
        g.bench_function(BenchmarkId::new("memcpy", "bytes"), |b| {
            b.iter(|| {
                dst.copy_from_slice(black_box(&flat));
                black_box(&dst);
            })
        });
        g.finish();
    }

    let pcap = synth::pcap_of_frames(100_000);
    let mut sink = Sum::default();
    decode_pcap(&pcap, &mut sink);
    let mut g = c.benchmark_group("pcap");
    g.throughput(Throughput::Elements(sink.records));
    g.bench_function(BenchmarkId::new("decode", "packets"), |b| {
        b.iter(|| {
            let mut sink = Sum::default();
            decode_pcap(black_box(&pcap), &mut sink);
            black_box(sink.bytes)
        })
    });
    g.throughput(Throughput::Bytes(pcap.len() as u64));
    g.bench_function(BenchmarkId::new("decode", "bytes"), |b| {
        b.iter(|| {
            let mut sink = Sum::default();
            decode_pcap(black_box(&pcap), &mut sink);
            black_box(sink.bytes)
        })
    });
    let mut dst = vec![0u8; pcap.len()];
    g.bench_function(BenchmarkId::new("memcpy", "bytes"), |b| {
        b.iter(|| {
            dst.copy_from_slice(black_box(&pcap));
            black_box(&dst);
        })
    });
    g.finish();
}

criterion_group!(decode, benches);
criterion_main!(decode);
