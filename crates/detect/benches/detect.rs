//! Detection speed on one core, in records per second through `observe` (with a `tick` at
//! every 100 ms of event time, as a capture reader calls it). Three shapes: traffic spread
//! over 65,536 protected addresses; a SYN flood from random sources at one target, which
//! takes the watched path (per-vector counters and heavy-hitter sketches); and a million
//! destinations through a table of 100,000, each record evicting an entry.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use rampart_detect::{DdosConfig, DdosDetector, ScanConfig, ScanDetector};
use rampart_model::{FlowRecord, Timestamp};
use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr};

#[path = "../tests/support/mod.rs"]
mod support;
use support::{Rec, Rng, T0};

const RECORDS: u64 = 1_000_000;

/// One second of event time per 100,000 records.
fn at(n: u64) -> u64 {
    n / 100
}

fn spread_over_hosts() -> Vec<FlowRecord> {
    let mut rng = Rng(1);
    (0..RECORDS)
        .map(|n| {
            let x = rng.next();
            let dst = IpAddr::from(Ipv4Addr::from(0xcb00_0000u32 | (x as u32 & 0xffff)));
            let src = IpAddr::from(Ipv4Addr::from((x >> 32) as u32));
            let r = Rec::addrs(src, dst);
            match x % 4 {
                0 => r.udp(53, 40_000).size(200),
                1 => r.tcp(51_000, 443, 0x18).size(800),
                2 => r.tcp(443, 51_000, 0x10).size(1500),
                _ => r.icmp().size(84),
            }
            .at(at(n))
        })
        .collect()
}

fn syn_flood() -> Vec<FlowRecord> {
    let mut rng = Rng(2);
    (0..RECORDS)
        .map(|n| {
            let x = rng.next();
            Rec::addrs(
                IpAddr::from(Ipv4Addr::from(x as u32)),
                "203.0.0.10"
                    .parse()
                    .unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST)),
            )
            .tcp((x >> 32) as u16, 80, 0x02)
            .ttl((x >> 48) as u8)
            .at(at(n))
        })
        .collect()
}

/// One packet to each of a million distinct addresses: with `max_hosts` at 100,000, nearly
/// every record evicts an entry (the table's worst case: a sweep or random-destination flood).
fn churn() -> Vec<FlowRecord> {
    (0..RECORDS)
        .map(|n| {
            let dst = 0x0a00_0000u32 | ((n as u32).wrapping_mul(0x9e_37b9) & 0x00ff_ffff);
            Rec::addrs(
                IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)),
                IpAddr::from(Ipv4Addr::from(dst)),
            )
            .udp(1234, 80)
            .at(at(n))
        })
        .collect()
}

fn run(records: &[FlowRecord]) -> u64 {
    run_with(
        records,
        DdosConfig {
            protect: vec!["203.0.0.0/16".parse().expect("a CIDR")],
            ..DdosConfig::default()
        },
    )
}

fn run_with(records: &[FlowRecord], config: DdosConfig) -> u64 {
    let mut det = DdosDetector::new(config);
    let mut next_tick = T0 + 100;
    let mut events = 0;
    for r in records {
        while r.end.as_millis() >= next_tick {
            det.tick(Timestamp::from_millis(next_tick));
            while det.poll_event().is_some() {
                events += 1;
            }
            next_tick += 100;
        }
        det.observe(r);
    }
    events
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("observe");
    g.throughput(Throughput::Elements(RECORDS));
    g.sample_size(10);
    let hosts = spread_over_hosts();
    g.bench_function("65536_hosts", |b| {
        b.iter(|| black_box(run(black_box(&hosts))))
    });
    let flood = syn_flood();
    g.bench_function("syn_flood_random_sources", |b| {
        b.iter(|| black_box(run(black_box(&flood))))
    });
    let sweep = churn();
    let config = DdosConfig {
        protect: vec!["10.0.0.0/8".parse().expect("a CIDR")],
        max_hosts: 100_000,
        ..DdosConfig::default()
    };
    g.bench_function("1m_hosts_evicting", |b| {
        b.iter(|| black_box(run_with(black_box(&sweep), config.clone())))
    });
    g.finish();
}

/// The scan detector's `observe` (ticks as above) on the same shapes: mixed traffic (a
/// quarter of it answers from port 53 and a quarter echo requests from random sources, the
/// rest established TCP, skipped without a lookup), and a SYN flood from random sources
/// (every record a probe, nearly all stopped by the doorkeeper).
fn bench_scan(c: &mut Criterion) {
    fn run_scan(records: &[FlowRecord]) -> u64 {
        let mut det = ScanDetector::new(ScanConfig {
            protect: vec!["203.0.0.0/16".parse().expect("a CIDR")],
            ..ScanConfig::default()
        });
        let mut next_tick = T0 + 100;
        let mut events = 0;
        for r in records {
            while r.end.as_millis() >= next_tick {
                det.tick(Timestamp::from_millis(next_tick));
                while det.poll_event().is_some() {
                    events += 1;
                }
                next_tick += 100;
            }
            det.observe(r);
        }
        events
    }
    let mut g = c.benchmark_group("scan_observe");
    g.throughput(Throughput::Elements(RECORDS));
    g.sample_size(10);
    let hosts = spread_over_hosts();
    g.bench_function("mixed_traffic", |b| {
        b.iter(|| black_box(run_scan(black_box(&hosts))))
    });
    let flood = syn_flood();
    g.bench_function("syn_flood_random_sources", |b| {
        b.iter(|| black_box(run_scan(black_box(&flood))))
    });
    g.finish();
}

criterion_group!(benches, bench, bench_scan);
criterion_main!(benches);
