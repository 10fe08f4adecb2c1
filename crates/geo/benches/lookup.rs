//! Lookups per second in the test City and ASN databases, cached and not.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use rampart_geo::{Geo, GeoConfig};
use std::hint::black_box;
use std::net::IpAddr;
use std::path::Path;

fn config(cache_entries: usize) -> GeoConfig {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    GeoConfig {
        city: Some(dir.join("test-city.mmdb")),
        asn: Some(dir.join("test-asn.mmdb")),
        cache_entries,
        ..GeoConfig::default()
    }
}

fn lookups(c: &mut Criterion) {
    // Four ranges (three known, one not), 1,024 addresses each.
    let bases: [u32; 4] = [0x0102_0300, 0xc000_0200, 0x0a00_0000, 0xcb00_7100];
    let addrs: Vec<IpAddr> = (0..4096u32)
        .map(|i| {
            IpAddr::from(std::net::Ipv4Addr::from(
                bases[i as usize % 4] + i / 4 % 256,
            ))
        })
        .collect();
    let mut g = c.benchmark_group("geo");
    g.throughput(Throughput::Elements(addrs.len() as u64));
    for (name, entries) in [("cached", 65_536), ("uncached", 1)] {
        let mut geo = Geo::open(&config(entries)).expect("test databases");
        g.bench_function(name, |b| {
            b.iter(|| {
                for a in &addrs {
                    black_box(geo.lookup(*a));
                }
            })
        });
    }
    g.finish();
}

criterion_group!(benches, lookups);
criterion_main!(benches);
