//! Encoding and decoding speed: 10,000 /32 blackholes into packed UPDATEs (the burst the
//! speaker sends to a router that comes back), 1,000 FlowSpec rules with actions, and our
//! decoder reading the blackhole UPDATEs back.
//!
//! cargo bench -p rampart-bgp --bench encode

#![allow(clippy::unwrap_used)]

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use rampart_bgp::update::{
    decode_update, encode_announcements, encode_withdrawals, DecodeContext, EncodeContext,
};
use rampart_bgp::wire::frame;
use rampart_bgp::{
    tcp_flags, BitmaskOp, Component, FlowAction, FlowPrefix, FlowSpecRule, IpVersion,
    LargeCommunity, NumericOp, Route, RouteKey,
};
use rampart_model::Cidr;
use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr};

fn blackholes(n: u32) -> Vec<Route> {
    let nh: IpAddr = "192.0.2.1".parse().unwrap();
    (0..n)
        .map(|i| {
            let mut r = Route::blackhole(IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + i)), nh);
            r.attributes_mut()
                .large_communities
                .push(LargeCommunity::new(65001, 666, 1));
            r
        })
        .collect()
}

fn rules(n: u32) -> Vec<Route> {
    (0..n)
        .map(|i| {
            let dst = Cidr::host(IpAddr::V4(Ipv4Addr::from(0xcb00_7100 + i)));
            let rule = FlowSpecRule::new(
                IpVersion::V4,
                vec![
                    Component::DestinationPrefix(FlowPrefix::new(dst)),
                    Component::IpProtocol(vec![NumericOp::eq(6)]),
                    Component::DestinationPort(vec![NumericOp::eq(443)]),
                    Component::TcpFlags(vec![
                        BitmaskOp::all(tcp_flags::SYN),
                        BitmaskOp::none(tcp_flags::ACK).and(),
                    ]),
                    Component::PacketLength(NumericOp::range(40, 60).to_vec()),
                ],
            );
            Route::flowspec(rule, vec![FlowAction::rate_limit(1_250_000.0)])
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let ctx = EncodeContext::new(65001, 65002, true);
    let mut g = c.benchmark_group("bgp");

    let routes = blackholes(10_000);
    g.throughput(Throughput::Elements(routes.len() as u64));
    let mut out = Vec::with_capacity(64 * 1024);
    g.bench_function("encode 10k blackholes", |b| {
        b.iter(|| {
            out.clear();
            encode_announcements(&ctx, black_box(&routes), &mut out).unwrap()
        })
    });
    let keys: Vec<RouteKey> = routes.iter().map(Route::key).collect();
    g.bench_function("encode 10k withdrawals", |b| {
        b.iter(|| {
            out.clear();
            encode_withdrawals(black_box(&keys), &mut out).unwrap()
        })
    });

    out.clear();
    encode_announcements(&ctx, &routes, &mut out).unwrap();
    let encoded = out.clone();
    g.bench_function("decode 10k blackholes", |b| {
        b.iter(|| {
            let mut bytes = black_box(&encoded[..]);
            let mut n = 0;
            while let Ok(Some(f)) = frame(bytes) {
                n += decode_update(
                    f.body,
                    &DecodeContext {
                        four_octet_as: true,
                    },
                )
                .unwrap()
                .announced
                .len();
                bytes = &bytes[f.len..];
            }
            n
        })
    });

    let rules = rules(1_000);
    g.throughput(Throughput::Elements(rules.len() as u64));
    g.bench_function("encode 1k flowspec rules", |b| {
        b.iter(|| {
            out.clear();
            encode_announcements(&ctx, black_box(&rules), &mut out).unwrap()
        })
    });
    g.bench_function("validate 1k flowspec rules", |b| {
        b.iter(|| black_box(&rules).iter().all(|r| r.validate().is_ok()))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
