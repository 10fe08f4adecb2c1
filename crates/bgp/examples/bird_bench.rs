//! Whole-run speed against a real BIRD 2 on loopback (run by bench/bgp.sh):
//! * 10,000 /32 blackholes in one announce call, from the call to BIRD counting them all;
//! * the same 10,000 as 10,000 separate calls (one route each), one after the other and
//!   all at once;
//! * announce → route in BIRD's table, for 100 single announcements, each timed from the
//!   call until `birdc show route` lists it (birdc is polled, so this is an upper bound).
//!
//! cargo run --release -p rampart-bgp --example bird_bench

#![allow(clippy::unwrap_used)]

#[path = "../tests/common/mod.rs"]
mod common;

use common::{free_port, wait_for, Bird};
use rampart_bgp::{BgpConfig, Family, PeerConfig, PeerState, Route, RouteKey, Speaker};
use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

const LIMIT: Duration = Duration::from_secs(60);

fn bird_config(addr: IpAddr, port: u16) -> String {
    format!(
        r#"
log "@DIR@/bird.log" {{ warning, error, fatal }};
router id {addr};
protocol device {{ }}
protocol static {{ ipv4; route 192.0.2.1/32 blackhole; }}
protocol bgp rampart {{
  local {addr} port {port} as 65002;
  neighbor 127.0.0.1 as 65001;
  passive on;
  multihop;
  ipv4 {{ import all; export none; gateway recursive; }};
}}
"#
    )
}

/// `show route count` says "N of N routes for N networks in table master4"; N includes the
/// static next-hop route.
fn bird_count(bird: &Bird) -> usize {
    let out = bird.try_birdc("show route count").unwrap_or_default();
    out.lines()
        .find(|l| l.contains("master4"))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn main() {
    let addr: IpAddr = "127.0.0.9".parse().unwrap();
    let port = free_port(addr);
    let bird = Bird::start("bench", &bird_config(addr, port));
    let rt = tokio::runtime::Runtime::new().unwrap();
    let config = BgpConfig {
        peers: vec![PeerConfig {
            address: addr,
            port,
            peer_as: 65002,
            local_as: 65001,
            router_id: "127.0.0.1".parse().unwrap(),
            families: vec![Family::Ipv4Unicast],
            hold_time_s: 90,
            passive: false,
            connect_retry_s: 1,
            local_address: Some("127.0.0.1".parse().unwrap()),
        }],
        ..BgpConfig::default()
    };
    let speaker = rt.block_on(Speaker::start(config)).unwrap();
    wait_for("session", LIMIT, || {
        (speaker.peers()[0].state == PeerState::Established).then_some(())
    });
    let nh: IpAddr = "192.0.2.1".parse().unwrap();
    let base = bird_count(&bird);
    let routes = |from: u32| -> Vec<Route> {
        (0..10_000u32)
            .map(|i| Route::blackhole(IpAddr::V4(Ipv4Addr::from(from + i)), nh))
            .collect()
    };

    // Baseline: how long one birdc call takes, the resolution of everything below.
    let t = Instant::now();
    for _ in 0..20 {
        bird.birdc("show route count");
    }
    let birdc_ms = t.elapsed().as_secs_f64() * 1000.0 / 20.0;

    // 1. One call, 10,000 routes.
    let batch = routes(0x0a00_0000);
    let t = Instant::now();
    rt.block_on(speaker.announce(batch.clone())).unwrap();
    let queued = t.elapsed();
    wait_for("10000 routes", LIMIT, || {
        (bird_count(&bird) >= base + 10_000).then_some(())
    });
    let batch_total = t.elapsed();
    let updates = speaker.peers()[0].stats.updates_out;
    let keys: Vec<RouteKey> = batch.iter().map(Route::key).collect();
    rt.block_on(speaker.withdraw(keys));
    wait_for("withdrawal", LIMIT, || {
        (bird_count(&bird) <= base).then_some(())
    });

    // 2. 10,000 calls of one route each.
    let singles = routes(0x0b00_0000);
    let t = Instant::now();
    rt.block_on(async {
        for r in &singles {
            speaker.announce(vec![r.clone()]).await.unwrap();
        }
    });
    let singles_queued = t.elapsed();
    wait_for("10000 routes", LIMIT, || {
        (bird_count(&bird) >= base + 10_000).then_some(())
    });
    let singles_total = t.elapsed();
    let keys: Vec<RouteKey> = singles.iter().map(Route::key).collect();
    rt.block_on(speaker.withdraw(keys));
    wait_for("withdrawal", LIMIT, || {
        (bird_count(&bird) <= base).then_some(())
    });

    // 3. 10,000 calls of one route each, all at once (as concurrent detections would).
    let speaker = std::sync::Arc::new(speaker);
    let concurrent = routes(0x0d00_0000);
    let t = Instant::now();
    rt.block_on(async {
        let mut set = tokio::task::JoinSet::new();
        for r in concurrent.iter().cloned() {
            let s = speaker.clone();
            set.spawn(async move { s.announce(vec![r]).await.unwrap() });
        }
        while set.join_next().await.is_some() {}
    });
    let concurrent_queued = t.elapsed();
    wait_for("10000 routes", LIMIT, || {
        (bird_count(&bird) >= base + 10_000).then_some(())
    });
    let concurrent_total = t.elapsed();
    let keys: Vec<RouteKey> = concurrent.iter().map(Route::key).collect();
    rt.block_on(speaker.withdraw(keys));
    wait_for("withdrawal", LIMIT, || {
        (bird_count(&bird) <= base).then_some(())
    });

    // 4. Latency of single announcements.
    let mut call_ms = Vec::new();
    let mut seen_ms = Vec::new();
    for i in 0..100u32 {
        let addr = Ipv4Addr::from(0x0c00_0000 + i);
        let r = Route::blackhole(IpAddr::V4(addr), nh);
        let t = Instant::now();
        rt.block_on(speaker.announce(vec![r])).unwrap();
        call_ms.push(t.elapsed().as_secs_f64() * 1000.0);
        let cmd = format!("show route {addr}/32");
        let needle = format!("{addr}/32");
        wait_for("route", LIMIT, || {
            bird.try_birdc(&cmd)
                .filter(|s| s.contains(&needle))
                .map(|_| ())
        });
        seen_ms.push(t.elapsed().as_secs_f64() * 1000.0);
    }

    println!("birdc call: {birdc_ms:.1} ms");
    println!(
        "10k in one call: queued to socket {:.1} ms, all in BIRD {:.0} ms, {updates} UPDATEs",
        queued.as_secs_f64() * 1000.0,
        batch_total.as_secs_f64() * 1000.0
    );
    println!(
        "10k in 10k calls: queued {:.0} ms, all in BIRD {:.0} ms",
        singles_queued.as_secs_f64() * 1000.0,
        singles_total.as_secs_f64() * 1000.0
    );
    println!(
        "10k in 10k concurrent calls: queued {:.0} ms, all in BIRD {:.0} ms",
        concurrent_queued.as_secs_f64() * 1000.0,
        concurrent_total.as_secs_f64() * 1000.0
    );
    println!(
        "single announce: call returns {:.2} ms (median), in BIRD's table {:.1} ms (median), max {:.1} ms",
        median(&mut call_ms),
        median(&mut seen_ms),
        seen_ms.iter().copied().fold(0.0, f64::max)
    );
    rt.block_on(speaker.shutdown());
}
