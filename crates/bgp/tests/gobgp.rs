//! Our speaker against a real GoBGP on loopback. Here we are the passive side: gobgpd
//! connects to our listening socket, so the accept path is what gets tested. What
//! `gobgp global rib` shows is what GoBGP took from us.

#![allow(clippy::unwrap_used)]

mod common;

use common::{free_port, Gobgp};
use rampart_bgp::{
    BgpConfig, Community, Component, Family, FlowAction, FlowPrefix, FlowSpecRule, IpVersion,
    LargeCommunity, NumericOp, PeerConfig, PeerResult, PeerState, Route, Speaker,
};
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

const LIMIT: Duration = Duration::from_secs(30);

fn gobgp_config(addr: IpAddr, us: SocketAddr) -> String {
    let families = ["ipv4-unicast", "ipv6-unicast", "ipv4-flowspec", "ipv6-flowspec"]
        .iter()
        .map(|f| format!("  [[neighbors.afi-safis]]\n    [neighbors.afi-safis.config]\n      afi-safi-name = \"{f}\"\n"))
        .collect::<String>();
    format!(
        r#"
[global.config]
  as = 65003
  router-id = "{addr}"
  port = -1

[[neighbors]]
  [neighbors.config]
    neighbor-address = "{}"
    peer-as = 65001
  [neighbors.transport.config]
    local-address = "{addr}"
    remote-port = {}
  [neighbors.timers.config]
    connect-retry = 1
    hold-time = 9
    keepalive-interval = 3
{families}
"#,
        us.ip(),
        us.port()
    )
}

fn wait_cli(g: &Gobgp, args: &str, needle: &str, present: bool) -> String {
    let start = Instant::now();
    loop {
        let out = g.try_cli(args).unwrap_or_default();
        if out.contains(needle) == present {
            return out;
        }
        if start.elapsed() > LIMIT {
            panic!(
                "`{needle}` still {} in gobgp {args}:\n{out}\ngobgpd log:\n{}",
                if present { "absent" } else { "present" },
                g.log()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn gobgp_takes_unicast_and_flowspec_from_a_passive_speaker() {
    let gobgp_addr: IpAddr = "127.0.0.5".parse().unwrap();
    let us = SocketAddr::new(
        "127.0.0.1".parse().unwrap(),
        free_port("127.0.0.1".parse().unwrap()),
    );
    let api_port = free_port("127.0.0.1".parse().unwrap());

    let rt = tokio::runtime::Runtime::new().unwrap();
    let config = BgpConfig {
        listen: Some(us),
        peers: vec![PeerConfig {
            address: gobgp_addr,
            port: 179,
            peer_as: 65003,
            local_as: 65001,
            router_id: "127.0.0.1".parse().unwrap(),
            families: Family::ALL.to_vec(),
            hold_time_s: 90,
            passive: true,
            connect_retry_s: 1,
            local_address: None,
        }],
        ..BgpConfig::default()
    };
    let speaker = rt.block_on(Speaker::start(config)).unwrap();
    assert_eq!(speaker.listen_addr(), Some(us));
    let g = Gobgp::start("gobgp", &gobgp_config(gobgp_addr, us), api_port);
    let start = Instant::now();
    while speaker.peers()[0].state != PeerState::Established {
        assert!(
            start.elapsed() < LIMIT,
            "no session: {:?}\n{}",
            speaker.peers(),
            g.log()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    // gobgp proposed 9 s, lower than our 90: keepalives every 3 s.
    let status = &speaker.peers()[0];
    assert_eq!(status.families, Family::ALL.to_vec());

    let mut blackhole = Route::blackhole(
        "203.0.113.20".parse().unwrap(),
        "192.0.2.1".parse().unwrap(),
    );
    blackhole
        .attributes_mut()
        .communities
        .push(Community::NO_EXPORT);
    blackhole
        .attributes_mut()
        .large_communities
        .push(LargeCommunity::new(65001, 666, 2));
    blackhole.attributes_mut().med = Some(10);
    let blackhole6 = Route::blackhole(
        "2001:db8::20".parse().unwrap(),
        "2001:db8::1".parse().unwrap(),
    );
    let rule = FlowSpecRule::new(
        IpVersion::V4,
        vec![
            Component::DestinationPrefix(FlowPrefix::new("203.0.113.20/32".parse().unwrap())),
            Component::IpProtocol(vec![NumericOp::eq(17)]),
            Component::SourcePort(vec![NumericOp::eq(123)]),
        ],
    );
    let flow = Route::flowspec(
        rule,
        vec![
            FlowAction::RedirectAs2 {
                asn: 65001,
                value: 100,
            },
            FlowAction::TrafficMarking { dscp: 10 },
        ],
    );
    let rule6 = FlowSpecRule::new(
        IpVersion::V6,
        vec![
            Component::DestinationPrefix(FlowPrefix::new("2001:db8::20/128".parse().unwrap())),
            Component::DestinationPort(vec![NumericOp::eq(443)]),
        ],
    );
    let flow6 = Route::flowspec(rule6, vec![FlowAction::rate_limit(125_000.0)]);
    let report = rt
        .block_on(speaker.announce(vec![blackhole.clone(), blackhole6, flow.clone(), flow6]))
        .unwrap();
    assert_eq!(
        report.peers[0].result,
        PeerResult::Sent {
            routes: 4,
            skipped: 0
        }
    );

    let v4 = wait_cli(&g, "global rib 203.0.113.20/32", "203.0.113.20/32", true);
    assert!(v4.contains("192.0.2.1"), "{v4}");
    assert!(v4.contains("Communities: blackhole, no-export"), "{v4}");
    assert!(v4.contains("65001:666:2"), "{v4}");
    assert!(v4.contains("Med: 10"), "{v4}");
    let v6 = wait_cli(&g, "global rib -a ipv6", "2001:db8::20/128", true);
    assert!(v6.contains("2001:db8::1"), "{v6}");
    let f4 = wait_cli(&g, "global rib -a ipv4-flowspec", "203.0.113.20/32", true);
    assert!(
        f4.contains("[protocol: ==udp]") || f4.contains("==17"),
        "{f4}"
    );
    assert!(f4.contains("123"), "{f4}");
    assert!(f4.contains("redirect: 65001:100"), "{f4}");
    assert!(f4.contains("remark: 10"), "{f4}");
    let f6 = wait_cli(&g, "global rib -a ipv6-flowspec", "2001:db8::20/128", true);
    assert!(f6.contains("rate: 125000"), "{f6}");

    // GoBGP announces a route to us: counted, not kept.
    g.cli("global rib add 198.51.100.0/24 -a ipv4");
    let start = Instant::now();
    while speaker.peers()[0].stats.routes_received < 1 {
        assert!(
            start.elapsed() < LIMIT,
            "route from GoBGP not counted: {:?}",
            speaker.peers()
        );
        std::thread::sleep(Duration::from_millis(20));
    }

    rt.block_on(speaker.withdraw(vec![blackhole.key(), flow.key()]));
    wait_cli(&g, "global rib 203.0.113.20/32", "203.0.113.20/32", false);
    wait_cli(&g, "global rib -a ipv4-flowspec", "203.0.113.20/32", false);
    assert!(g.cli("global rib -a ipv6").contains("2001:db8::20/128"));
    rt.block_on(speaker.shutdown());
    wait_cli(&g, "global rib -a ipv6", "2001:db8::20/128", false);
}
