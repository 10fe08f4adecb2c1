//! The shell without a peer: what callers see while a router is unreachable, and refusals
//! before anything is sent.

#![allow(clippy::unwrap_used)]

use rampart_bgp::{
    BgpConfig, Family, FlowSpecRule, IpVersion, PeerConfig, PeerResult, PeerState, Route,
    RouteError, RuleError, Session, SessionConfig, Speaker, State,
};
use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, TcpListener};
use std::time::{Duration, Instant};

fn unreachable_peer() -> BgpConfig {
    // A port that was free a moment ago: connections are refused.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    BgpConfig {
        peers: vec![PeerConfig {
            address: "127.0.0.1".parse().unwrap(),
            port,
            peer_as: 65002,
            local_as: 65001,
            router_id: "127.0.0.1".parse().unwrap(),
            families: Family::ALL.to_vec(),
            hold_time_s: 90,
            passive: false,
            connect_retry_s: 1,
            local_address: None,
        }],
        ..BgpConfig::default()
    }
}

#[tokio::test]
async fn routes_wait_for_a_session_and_errors_are_reported() {
    let speaker = Speaker::start(unreachable_peer()).await.unwrap();
    let nh: IpAddr = "192.0.2.1".parse().unwrap();
    let r = Route::blackhole("203.0.113.10".parse().unwrap(), nh);
    let report = speaker.announce(vec![r.clone()]).await.unwrap();
    assert_eq!(report.peers[0].result, PeerResult::NotEstablished);
    assert_eq!(report.sent_to(), 0);
    // Kept for when the session comes up.
    assert_eq!(speaker.routes(), vec![r.clone()]);

    let start = Instant::now();
    loop {
        let s = &speaker.peers()[0];
        if s.connect_attempts >= 2 {
            assert!(matches!(s.state, PeerState::Active | PeerState::Connect));
            assert!(
                s.last_error.as_deref().unwrap_or("").contains("connect"),
                "{s:?}"
            );
            assert_eq!(s.uptime_s, None);
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(10), "{s:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let report = speaker.withdraw(vec![r.key()]).await;
    assert_eq!(report.peers[0].result, PeerResult::NotEstablished);
    assert!(speaker.routes().is_empty());
    speaker.shutdown().await;
    assert_eq!(speaker.peers()[0].state, PeerState::Idle);
}

#[tokio::test]
async fn invalid_routes_are_refused_before_anything_changes() {
    let speaker = Speaker::start(unreachable_peer()).await.unwrap();
    let good = Route::blackhole(
        "203.0.113.10".parse().unwrap(),
        "192.0.2.1".parse().unwrap(),
    );
    let wrong_family =
        Route::blackhole("2001:db8::1".parse().unwrap(), "192.0.2.1".parse().unwrap());
    let empty_rule = Route::flowspec(FlowSpecRule::new(IpVersion::V4, vec![]), vec![]);
    assert!(matches!(
        speaker.announce(vec![good.clone(), wrong_family]).await,
        Err(RouteError::NextHopFamily { .. })
    ));
    assert_eq!(
        speaker.announce(vec![empty_rule]).await,
        Err(RouteError::Rule(RuleError::Empty))
    );
    assert!(speaker.routes().is_empty());
    speaker.shutdown().await;
}

#[tokio::test]
async fn bad_config_is_refused_with_its_key() {
    let mut c = unreachable_peer();
    c.peers[0].passive = true;
    let e = Speaker::start(c).await.unwrap_err();
    assert!(e.to_string().contains("respond.bgp.listen"), "{e}");
}

/// A peer (our own Session on a blocking socket) that establishes the session and then
/// stops reading, keeping the connection open: the TCP window fills up.
fn peer_that_stops_reading() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        let mut peer = Session::new(SessionConfig {
            local_as: 65002,
            peer_as: 65001,
            router_id: [127, 0, 0, 2].into(),
            hold_time: 90,
            families: Family::ALL.to_vec(),
            graceful_restart: None,
        });
        let now = Instant::now();
        peer.start(now);
        let mut buf = [0u8; 4096];
        loop {
            while let Some(b) = peer.poll_transmit() {
                s.write_all(&b).unwrap();
            }
            if peer.state() == State::Established {
                break;
            }
            let n = s.read(&mut buf).unwrap();
            assert!(n > 0, "speaker closed during the handshake");
            peer.handle_bytes(now, &buf[..n]);
        }
        std::thread::sleep(Duration::from_secs(60));
        drop(s);
    });
    port
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_that_stops_reading_does_not_hold_up_announce() {
    let mut config = unreachable_peer();
    config.peers[0].port = peer_that_stops_reading();
    let speaker = Speaker::start(config).await.unwrap();
    let start = Instant::now();
    while speaker.peers()[0].state != PeerState::Established {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "{:?}",
            speaker.peers()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let nh: IpAddr = "192.0.2.1".parse().unwrap();
    let routes: Vec<Route> = (0..10_000u32)
        .map(|i| Route::blackhole(IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + i)), nh))
        .collect();
    // Each call writes ~70 KB; once the socket buffers are full, a call gets a failure for
    // that peer instead of waiting for ever.
    let mut failed = None;
    for _ in 0..2_000 {
        let report = speaker.announce(routes.clone()).await.unwrap();
        if let PeerResult::Failed(why) = &report.peers[0].result {
            failed = Some(why.clone());
            break;
        }
    }
    let why = failed.expect("the socket never filled up");
    assert!(why.contains("no answer"), "{why}");
    assert_eq!(speaker.peers()[0].state, PeerState::Established);
    speaker.shutdown().await;
}
