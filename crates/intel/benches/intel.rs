//! Matcher and import speed: IPv4 longest-prefix lookups among 1 million prefixes, IPv6
//! among 100,000, domain lookups among 1 million names, and loading a 100,000-line list
//! and a 100,000-indicator STIX bundle into a set (the 1-million runs are in
//! `examples/import_bench.rs`, too slow for criterion's repetitions), and the IOC detector
//! on flow records.
#![allow(clippy::unwrap_used)] // a benchmark that fails should stop

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use rampart_intel::lists::read_list;
use rampart_intel::stix::{import_bundle_bytes, BundleLimits, ImportContext};
use rampart_intel::{Observable, SetBuilder, Tlp};
use rampart_model::{Cidr, Timestamp};
use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

#[path = "support/gen.rs"]
mod gen;
use gen::{bundle_text, v4_prefixes, Rng};

fn lookups(c: &mut Criterion) {
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    let mut b = SetBuilder::new();
    b.add_list("v4", None, Tlp::Clear, &v4_prefixes(1_000_000, &mut rng));
    let v6: Vec<Observable> = (0..100_000)
        .map(|_| {
            let a = (0x2001_0db8u128 << 96) | (rng.next_u64() as u128) << 32;
            Observable::Ip(
                Cidr::new(
                    IpAddr::V6(Ipv6Addr::from(a)),
                    [48, 56, 64, 128][(rng.next_u64() % 4) as usize],
                )
                .unwrap(),
            )
        })
        .collect();
    b.add_list("v6", None, Tlp::Clear, &v6);
    let domains: Vec<Observable> = (0..1_000_000)
        .map(|i| Observable::Domain {
            name: format!("host{i}.example{}.com", i % 5000),
            subdomains: true,
        })
        .collect();
    b.add_list("domains", None, Tlp::Clear, &domains);
    let set = b.build();
    eprintln!("set: {:?}", set.stats());

    let probes_v4: Vec<IpAddr> = (0..4096)
        .map(|_| IpAddr::V4(Ipv4Addr::from(rng.next_u64() as u32)))
        .collect();
    let probes_v6: Vec<IpAddr> = (0..4096)
        .map(|_| {
            IpAddr::V6(Ipv6Addr::from(
                (0x2001_0db8u128 << 96) | (rng.next_u64() as u128) << 32,
            ))
        })
        .collect();
    let probes_dom: Vec<String> = (0..4096)
        .map(|i| {
            if i % 2 == 0 {
                format!("www.host{}.example{}.com", i * 7, (i * 7) % 5000)
            } else {
                format!("cdn{i}.other{}.net", i % 77)
            }
        })
        .collect();

    let mut g = c.benchmark_group("lookup");
    g.throughput(Throughput::Elements(4096));
    g.bench_function("ipv4_contains_1M_prefixes", |bench| {
        bench.iter(|| probes_v4.iter().filter(|a| set.contains_ip(**a)).count())
    });
    g.bench_function("ipv4_lookup_1M_prefixes", |bench| {
        bench.iter(|| {
            probes_v4
                .iter()
                .map(|a| set.lookup_ip(*a).len())
                .sum::<usize>()
        })
    });
    g.bench_function("ipv6_lookup_100k_prefixes", |bench| {
        bench.iter(|| {
            probes_v6
                .iter()
                .map(|a| set.lookup_ip(*a).len())
                .sum::<usize>()
        })
    });
    g.bench_function("domain_lookup_1M_names", |bench| {
        bench.iter(|| {
            probes_dom
                .iter()
                .map(|d| set.lookup_domain(d).len())
                .sum::<usize>()
        })
    });
    g.finish();

    // The IOC detector on flow records (source and destination both looked up), with the
    // same 1 million prefixes and random source addresses (matches included).
    let shared = std::sync::Arc::new(rampart_intel::SharedIndicators::new(set));
    let mut det = rampart_intel::detector::IocDetector::new(
        rampart_intel::detector::IocConfig::default(),
        shared,
        vec!["203.0.113.0/24".parse().unwrap()],
    );
    let flows: Vec<rampart_model::FlowRecord> = probes_v4
        .iter()
        .map(|&a| {
            let mut r = rampart_model::FlowRecord::empty(rampart_model::FlowFormat::Netflow5);
            r.src_addr = a;
            r.dst_addr = IpAddr::V4(Ipv4Addr::new(203, 0, 113, (rng.next_u64() % 256) as u8));
            r.packets = 1;
            r.bytes = 60;
            r
        })
        .collect();
    let mut g = c.benchmark_group("ioc");
    g.throughput(Throughput::Elements(flows.len() as u64));
    g.bench_function("flows_1M_prefixes", |bench| {
        bench.iter(|| {
            for r in &flows {
                det.observe_flow(r);
            }
            while det.poll_event().is_some() {}
        })
    });
    g.finish();
}

fn imports(c: &mut Criterion) {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let n = 100_000;
    let list: String = v4_prefixes(n, &mut rng)
        .iter()
        .map(|o| format!("{o}\n"))
        .collect();
    let bundle = bundle_text(n, &mut rng);
    let cx = ImportContext {
        source: "bench",
        now: Timestamp::from_secs(1_800_000_000),
        default_tlp: Tlp::Amber,
        default_confidence: None,
    };
    let mut g = c.benchmark_group("import");
    g.sample_size(10);
    g.throughput(Throughput::Elements(n as u64));
    g.bench_with_input(BenchmarkId::new("list_to_set", n), &list, |bench, list| {
        bench.iter(|| {
            let l = read_list(list.as_bytes()).unwrap();
            let mut b = SetBuilder::new();
            b.add_list("l", None, Tlp::Clear, &l.observables);
            black_box(b.build().stats())
        })
    });
    g.bench_with_input(
        BenchmarkId::new("stix_bundle_to_set", n),
        &bundle,
        |bench, bundle| {
            bench.iter(|| {
                let got =
                    import_bundle_bytes(bundle.as_bytes(), &cx, &BundleLimits::default()).unwrap();
                let mut b = SetBuilder::new();
                for i in &got.indicators {
                    b.add_indicator(i, cx.now);
                }
                black_box(b.build().stats())
            })
        },
    );
    g.finish();
}

criterion_group!(benches, lookups, imports);
criterion_main!(benches);
