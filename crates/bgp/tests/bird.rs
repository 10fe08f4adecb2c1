//! Our speaker against a real BIRD 2 on loopback: eBGP with ipv4, ipv6, flow4 and flow6
//! channels. What BIRD shows in `birdc show route` is what a router would have taken.

#![allow(clippy::unwrap_used)]

mod common;

use common::{free_port, wait_for, Bird};

use rampart_bgp::{
    tcp_flags, BgpConfig, BitmaskOp, Component, Family, FlowAction, FlowPrefix, FlowSpecRule,
    IpVersion, LargeCommunity, NumericOp, PeerConfig, PeerResult, PeerState, Route, RouteKey,
    ShutdownPolicy, Speaker,
};
use std::net::IpAddr;
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(30);

/// BIRD listening (passive) on `addr:port` as AS 65002, taking everything from us.
/// Next hops resolve recursively through static blackhole routes, as an RTBH edge router
/// is set up: 192.0.2.1 and 100::1 lead to discard.
fn bird_config(addr: IpAddr, port: u16, ours: IpAddr, extra: &str) -> String {
    format!(
        r#"
log "@DIR@/bird.log" all;
router id {addr};
flow4 table flowtab4;
flow6 table flowtab6;
protocol device {{ }}
protocol static {{ ipv4; route 192.0.2.1/32 blackhole; }}
protocol static {{ ipv6; route 100::1/128 blackhole; }}
protocol bgp rampart {{
  local {addr} port {port} as 65002;
  neighbor {ours} as 65001;
  passive on;
  multihop;  # loopback addresses are not a "directly connected" network to BIRD
  {extra}
  ipv4 {{ import all; export none; gateway recursive; }};
  ipv6 {{ import all; export none; gateway recursive; next hop address 2001:db8:ffff::2; }};
  flow4 {{ table flowtab4; import all; export none; }};
  flow6 {{ table flowtab6; import all; export none; }};
}}
"#
    )
}

fn speaker_config(addr: IpAddr, port: u16, ours: IpAddr) -> BgpConfig {
    BgpConfig {
        peers: vec![PeerConfig {
            address: addr,
            port,
            peer_as: 65002,
            local_as: 65001,
            router_id: "127.0.0.1".parse().unwrap(),
            families: Family::ALL.to_vec(),
            hold_time_s: 30,
            passive: false,
            connect_retry_s: 1,
            local_address: Some(ours),
        }],
        ..BgpConfig::default()
    }
}

fn blackhole_v4() -> Route {
    let mut r = Route::blackhole(
        "203.0.113.10".parse().unwrap(),
        "192.0.2.1".parse().unwrap(),
    );
    r.attributes_mut()
        .large_communities
        .push(LargeCommunity::new(65001, 666, 1));
    r
}

fn blackhole_v6() -> Route {
    Route::blackhole("2001:db8::10".parse().unwrap(), "100::1".parse().unwrap())
}

fn dns_reflection_rule() -> Route {
    let rule = FlowSpecRule::new(
        IpVersion::V4,
        vec![
            Component::DestinationPrefix(FlowPrefix::new("203.0.113.10/32".parse().unwrap())),
            Component::IpProtocol(vec![NumericOp::eq(17)]),
            Component::SourcePort(vec![NumericOp::eq(53)]),
            Component::PacketLength(NumericOp::range(512, 65535).to_vec()),
        ],
    );
    Route::flowspec(rule, vec![FlowAction::DISCARD])
}

fn syn_flood_rule() -> Route {
    let rule = FlowSpecRule::new(
        IpVersion::V4,
        vec![
            Component::DestinationPrefix(FlowPrefix::new("203.0.113.11/32".parse().unwrap())),
            Component::IpProtocol(vec![NumericOp::eq(6)]),
            Component::TcpFlags(vec![
                BitmaskOp::all(tcp_flags::SYN),
                BitmaskOp::none(tcp_flags::ACK).and(),
            ]),
        ],
    );
    // 1,250,000 bytes/s = 10 Mbit/s.
    Route::flowspec(rule, vec![FlowAction::rate_limit(1_250_000.0)])
}

fn v6_rule() -> Route {
    let rule = FlowSpecRule::new(
        IpVersion::V6,
        vec![
            Component::DestinationPrefix(FlowPrefix::new("2001:db8::10/128".parse().unwrap())),
            Component::IpProtocol(vec![NumericOp::eq(17)]),
            Component::Fragment(vec![BitmaskOp::any(rampart_bgp::fragment::IS_FRAGMENT)]),
        ],
    );
    Route::flowspec(
        rule,
        vec![FlowAction::DISCARD, FlowAction::TrafficMarking { dscp: 8 }],
    )
}

fn all_routes() -> Vec<Route> {
    vec![
        blackhole_v4(),
        blackhole_v6(),
        dns_reflection_rule(),
        syn_flood_rule(),
        v6_rule(),
    ]
}

fn established(speaker: &Speaker) -> bool {
    speaker.peers()[0].state == PeerState::Established
}

/// Waits for the session to be up `times` times in all; on failure shows both sides.
fn wait_established(speaker: &Speaker, bird: &Bird, times: u64) {
    let start = std::time::Instant::now();
    while !(established(speaker) && speaker.peers()[0].stats.established >= times) {
        if start.elapsed() > LIMIT {
            panic!(
                "no session with BIRD: {:?}\n{}\n{}",
                speaker.peers(),
                bird.try_birdc("show protocols all rampart")
                    .unwrap_or_default(),
                bird.log()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Waits until BIRD shows `needle` in the output of `cmd` (or, with `present` false, until
/// it no longer does) and returns that output.
fn bird_shows(bird: &Bird, cmd: &str, needle: &str, present: bool) -> String {
    let start = std::time::Instant::now();
    loop {
        let out = bird.try_birdc(cmd).unwrap_or_default();
        if out.contains(needle) == present {
            return out;
        }
        if start.elapsed() > LIMIT {
            panic!(
                "`{needle}` still {} in birdc {cmd}:\n{out}\nBIRD log:\n{}",
                if present { "absent" } else { "present" },
                bird.log()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn bird_takes_blackholes_and_flowspec_then_withdrawals_and_comes_back() {
    let addr: IpAddr = "127.0.0.2".parse().unwrap();
    let ours: IpAddr = "127.0.0.1".parse().unwrap();
    let port = free_port(addr);
    let mut bird = Bird::start("bird", &bird_config(addr, port, ours, ""));
    let rt = tokio::runtime::Runtime::new().unwrap();
    let speaker = rt
        .block_on(Speaker::start(speaker_config(addr, port, ours)))
        .unwrap();
    wait_established(&speaker, &bird, 1);
    let status = &speaker.peers()[0];
    assert_eq!(status.families, Family::ALL.to_vec(), "{status:?}");

    let report = rt.block_on(speaker.announce(all_routes())).unwrap();
    assert_eq!(
        report.peers[0].result,
        PeerResult::Sent {
            routes: 5,
            skipped: 0
        }
    );

    // Unicast blackholes with their communities.
    let v4 = bird_shows(
        &bird,
        "show route 203.0.113.10/32 all",
        "203.0.113.10/32",
        true,
    );
    assert!(v4.contains("BGP.community: (65535,666)"), "{v4}");
    assert!(v4.contains("BGP.large_community: (65001, 666, 1)"), "{v4}");
    assert!(v4.contains("BGP.as_path: 65001"), "{v4}");
    assert!(v4.contains("BGP.next_hop: 192.0.2.1"), "{v4}");
    let v6 = bird_shows(
        &bird,
        "show route 2001:db8::10/128 all",
        "2001:db8::10/128",
        true,
    );
    assert!(v6.contains("BGP.community: (65535,666)"), "{v6}");
    assert!(v6.contains("100::1"), "{v6}");

    // FlowSpec rules with their actions.
    let flow4 = bird_shows(
        &bird,
        "show route table flowtab4 all",
        "203.0.113.11/32",
        true,
    );
    assert!(
        flow4.contains("flow4 { dst 203.0.113.10/32; proto 17; sport 53; length 512..65535; }"),
        "{flow4}"
    );
    assert!(
        flow4.contains("(generic, 0x80060000, 0x0)"),
        "discard: {flow4}"
    );
    // 1,250,000 as an IEEE single is 0x4998968 0.
    assert!(
        flow4.contains("(generic, 0x80060000, 0x49989680)"),
        "rate limit: {flow4}"
    );
    assert!(flow4.contains("tcp flags 0x2/0x2 && 0x0/0x10"), "{flow4}");
    let flow6 = bird_shows(
        &bird,
        "show route table flowtab6 all",
        "2001:db8::10/128",
        true,
    );
    assert!(flow6.contains("next header 17"), "{flow6}");
    assert!(
        flow6.contains("(generic, 0x80090000, 0x8)"),
        "marking: {flow6}"
    );

    // BIRD asks for a route refresh (`reload in`): every active route is sent again.
    let before = speaker.peers()[0].stats.routes_announced;
    bird.birdc("reload in rampart");
    wait_for("routes resent after ROUTE-REFRESH", LIMIT, || {
        (speaker.peers()[0].stats.routes_announced >= before + 5).then_some(())
    });

    // Withdrawal of one blackhole and one rule.
    let report =
        rt.block_on(speaker.withdraw(vec![blackhole_v4().key(), dns_reflection_rule().key()]));
    assert!(matches!(
        report.peers[0].result,
        PeerResult::Sent { routes: 2, .. }
    ));
    bird_shows(
        &bird,
        "show route 203.0.113.10/32",
        "203.0.113.10/32",
        false,
    );
    bird_shows(&bird, "show route table flowtab4", "sport 53", false);
    assert!(bird
        .birdc("show route table flowtab4")
        .contains("203.0.113.11/32"));

    // BIRD dies and comes back: the session is re-established and the three active routes
    // are sent again without anyone asking.
    let active: Vec<RouteKey> = speaker.routes().iter().map(Route::key).collect();
    assert_eq!(active.len(), 3);
    bird.restart();
    wait_established(&speaker, &bird, 2);
    bird_shows(
        &bird,
        "show route 2001:db8::10/128",
        "2001:db8::10/128",
        true,
    );
    bird_shows(&bird, "show route table flowtab4", "203.0.113.11/32", true);
    bird_shows(&bird, "show route table flowtab6", "2001:db8::10/128", true);
    assert!(!bird.birdc("show route table flowtab4").contains("sport 53"));

    // Shutdown withdraws everything and closes with Cease.
    rt.block_on(speaker.shutdown());
    bird_shows(
        &bird,
        "show route table flowtab6",
        "2001:db8::10/128",
        false,
    );
    let log = bird.log();
    assert!(
        log.contains("Administrative shutdown") || log.contains("administrative shutdown"),
        "{log}"
    );
    drop(bird);
}

#[test]
fn ten_thousand_blackholes_reach_bird() {
    let addr: IpAddr = "127.0.0.3".parse().unwrap();
    let ours: IpAddr = "127.0.0.1".parse().unwrap();
    let port = free_port(addr);
    let bird = Bird::start("bird10k", &bird_config(addr, port, ours, ""));
    let rt = tokio::runtime::Runtime::new().unwrap();
    let speaker = rt
        .block_on(Speaker::start(speaker_config(addr, port, ours)))
        .unwrap();
    wait_established(&speaker, &bird, 1);
    let nh: IpAddr = "192.0.2.1".parse().unwrap();
    let routes: Vec<Route> = (0..10_000u32)
        .map(|i| Route::blackhole(IpAddr::V4((0x0a00_0000 + i).into()), nh))
        .collect();
    rt.block_on(speaker.announce(routes)).unwrap();
    wait_for("10000 routes in BIRD", LIMIT, || {
        bird.try_birdc("show route count")
            .filter(|s| s.contains("10001 of 10001 routes") || s.contains("10002 of 10002"))
    });
    let sent = speaker.peers()[0].stats.updates_out;
    assert!(
        sent < 30,
        "10,000 routes should pack into a few UPDATEs, took {sent}"
    );
}

#[test]
fn keep_on_shutdown_leaves_routes_with_a_graceful_restart_helper() {
    let addr: IpAddr = "127.0.0.4".parse().unwrap();
    let ours: IpAddr = "127.0.0.1".parse().unwrap();
    let port = free_port(addr);
    let bird = Bird::start(
        "birdgr",
        &bird_config(addr, port, ours, "graceful restart on;"),
    );
    let rt = tokio::runtime::Runtime::new().unwrap();
    let mut config = speaker_config(addr, port, ours);
    config.on_shutdown = ShutdownPolicy::Keep;
    config.graceful_restart_s = 120;
    let speaker = rt.block_on(Speaker::start(config.clone())).unwrap();
    wait_established(&speaker, &bird, 1);
    rt.block_on(speaker.announce(vec![blackhole_v4(), syn_flood_rule()]))
        .unwrap();
    bird_shows(&bird, "show route 203.0.113.10/32", "203.0.113.10/32", true);
    rt.block_on(speaker.shutdown());
    drop(speaker);
    // The session is down but BIRD keeps our routes, marked stale.
    wait_for("BIRD to see the session drop", LIMIT, || {
        bird.try_birdc("show protocols rampart")
            .filter(|s| !s.contains("Established"))
    });
    let kept = bird.birdc("show route 203.0.113.10/32 all");
    assert!(kept.contains("203.0.113.10/32"), "route kept: {kept}");

    // A new speaker (the daemon restarted) still wants only the rule; after its End-of-RIB,
    // BIRD drops the stale blackhole and keeps the rule.
    let speaker = rt
        .block_on(Speaker::start_with_routes(config, vec![syn_flood_rule()]))
        .unwrap();
    wait_established(&speaker, &bird, 1);
    bird_shows(
        &bird,
        "show route 203.0.113.10/32",
        "203.0.113.10/32",
        false,
    );
    bird_shows(&bird, "show route table flowtab4", "203.0.113.11/32", true);
}
