//! The shell without a peer: what callers see while a router is unreachable, and refusals
//! before anything is sent.

#![allow(clippy::unwrap_used)]

use rampart_bgp::{
    BgpConfig, Family, FlowSpecRule, IpVersion, PeerConfig, PeerResult, PeerState, Route,
    RouteError, RuleError, Speaker,
};
use std::net::{IpAddr, TcpListener};
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
