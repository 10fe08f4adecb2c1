//! Two sessions talking to each other on a virtual clock: no sockets, no sleeps. Each test
//! moves bytes between them by hand, so every message in flight can be dropped, cut up or
//! replaced by a hostile one.

#![allow(clippy::unwrap_used)]

use rampart_bgp::{
    Component, DownReason, Event, Family, FlowAction, FlowPrefix, FlowSpecRule, IpVersion,
    Notification, NumericOp, Route, Session, SessionConfig, State,
};
use std::time::{Duration, Instant};

fn config(
    local_as: u32,
    peer_as: u32,
    id: [u8; 4],
    families: &[Family],
    hold: u16,
) -> SessionConfig {
    SessionConfig {
        local_as,
        peer_as,
        router_id: id.into(),
        hold_time: hold,
        families: families.to_vec(),
        graceful_restart: None,
    }
}

struct Pair {
    a: Session,
    b: Session,
    now: Instant,
}

impl Pair {
    fn new(a: SessionConfig, b: SessionConfig) -> Self {
        Pair {
            a: Session::new(a),
            b: Session::new(b),
            now: Instant::now(),
        }
    }

    /// Both ends connected; deliver until nothing is left to send.
    fn connect(&mut self) {
        self.a.start(self.now);
        self.b.start(self.now);
        self.drive();
    }

    fn drive(&mut self) {
        loop {
            let mut moved = false;
            while let Some(bytes) = self.a.poll_transmit() {
                self.b.handle_bytes(self.now, &bytes);
                moved = true;
            }
            while let Some(bytes) = self.b.poll_transmit() {
                self.a.handle_bytes(self.now, &bytes);
                moved = true;
            }
            if !moved {
                return;
            }
        }
    }

    fn advance(&mut self, d: Duration) {
        self.now += d;
        self.a.handle_timeout(self.now);
        self.b.handle_timeout(self.now);
    }
}

fn events(s: &mut Session) -> Vec<Event> {
    std::iter::from_fn(|| s.poll_event()).collect()
}

fn ebgp_pair() -> Pair {
    Pair::new(
        config(4_200_000_001, 65002, [10, 0, 0, 1], &Family::ALL, 90),
        config(
            65002,
            4_200_000_001,
            [10, 0, 0, 2],
            &[Family::Ipv4Unicast, Family::Ipv4FlowSpec],
            30,
        ),
    )
}

fn rule() -> FlowSpecRule {
    FlowSpecRule::new(
        IpVersion::V4,
        vec![
            Component::DestinationPrefix(FlowPrefix::new("203.0.113.10/32".parse().unwrap())),
            Component::IpProtocol(vec![NumericOp::eq(17)]),
        ],
    )
}

#[test]
fn establishes_and_negotiates() {
    let mut p = ebgp_pair();
    p.connect();
    assert_eq!(p.a.state(), State::Established);
    assert_eq!(p.b.state(), State::Established);
    assert_eq!(events(&mut p.a), vec![Event::Established]);
    assert_eq!(events(&mut p.b), vec![Event::Established]);
    let n = p.a.negotiated().unwrap();
    assert_eq!(n.hold_time, 30);
    assert_eq!(n.families, vec![Family::Ipv4Unicast, Family::Ipv4FlowSpec]);
    assert!(n.four_octet_as && n.route_refresh);
    assert_eq!(n.peer_as, 65002);
    assert_eq!(p.b.negotiated().unwrap().peer_as, 4_200_000_001);
}

#[test]
fn works_with_bytes_one_at_a_time() {
    let mut p = ebgp_pair();
    p.a.start(p.now);
    p.b.start(p.now);
    for _ in 0..4 {
        while let Some(bytes) = p.a.poll_transmit() {
            for b in bytes {
                p.b.handle_bytes(p.now, &[b]);
            }
        }
        while let Some(bytes) = p.b.poll_transmit() {
            for b in bytes {
                p.a.handle_bytes(p.now, &[b]);
            }
        }
    }
    assert_eq!(p.a.state(), State::Established);
    assert_eq!(p.b.state(), State::Established);
}

#[test]
fn routes_are_sent_counted_and_filtered_by_family() {
    let mut p = ebgp_pair();
    p.connect();
    let nh = "192.0.2.1".parse().unwrap();
    let routes = vec![
        Route::blackhole("203.0.113.10".parse().unwrap(), nh),
        Route::blackhole(
            "2001:db8::10".parse().unwrap(),
            "2001:db8::1".parse().unwrap(),
        ),
        Route::flowspec(rule(), vec![FlowAction::DISCARD]),
    ];
    let sent = p.a.announce(p.now, &routes).unwrap();
    assert_eq!(
        (sent.routes, sent.skipped),
        (2, 1),
        "IPv6 was not negotiated"
    );
    p.drive();
    assert_eq!(p.b.stats().routes_received, 2);
    let keys: Vec<_> = routes.iter().map(Route::key).collect();
    let sent = p.a.withdraw(p.now, &keys).unwrap();
    assert_eq!(sent.routes, 2);
    p.drive();
    assert_eq!(p.b.stats().withdrawals_received, 2);
    assert_eq!(p.a.stats().routes_announced, 2);
    assert_eq!(p.a.state(), State::Established);
}

#[test]
fn announcing_before_established_is_refused() {
    let mut p = ebgp_pair();
    let r = Route::blackhole(
        "203.0.113.10".parse().unwrap(),
        "192.0.2.1".parse().unwrap(),
    );
    assert!(p.a.announce(p.now, [&r]).is_err());
    p.a.start(p.now);
    assert!(p.a.announce(p.now, [&r]).is_err());
}

#[test]
fn keepalives_keep_the_session_and_silence_ends_it() {
    let mut p = ebgp_pair();
    p.connect();
    events(&mut p.a);
    // Hold time 30: keepalives every 10 s keep both ends up for minutes.
    for _ in 0..30 {
        let next = p.a.poll_timeout().unwrap().min(p.b.poll_timeout().unwrap());
        p.advance(next - p.now);
        p.drive();
    }
    assert!(p.now >= Instant::now() + Duration::from_secs(100));
    assert_eq!(p.a.state(), State::Established);
    assert!(p.a.stats().keepalives_out >= 10);

    // B goes silent: A's hold timer runs out 30 s after the last message.
    let deadline = p.now + Duration::from_secs(30);
    let mut out = Vec::new();
    while p.a.state() == State::Established {
        let next = p.a.poll_timeout().unwrap();
        assert!(next <= deadline);
        p.now = next;
        p.a.handle_timeout(p.now);
        while let Some(b) = p.a.poll_transmit() {
            out = b;
        }
    }
    assert_eq!(p.now, deadline);
    assert_eq!(
        events(&mut p.a),
        vec![Event::Down(DownReason::HoldTimerExpired)]
    );
    assert_eq!(
        &out[16..],
        &[0, 21, 3, 4, 0],
        "NOTIFICATION hold timer expired"
    );
}

#[test]
fn hold_time_zero_means_no_timers() {
    let mut p = Pair::new(
        config(65001, 65002, [10, 0, 0, 1], &Family::ALL, 0),
        config(65002, 65001, [10, 0, 0, 2], &Family::ALL, 90),
    );
    p.connect();
    assert_eq!(p.a.state(), State::Established);
    assert_eq!(p.a.negotiated().unwrap().hold_time, 0);
    assert_eq!(p.a.poll_timeout(), None);
    assert_eq!(p.b.poll_timeout(), None);
}

#[test]
fn wrong_peer_as_is_refused_with_bad_peer_as() {
    let mut p = Pair::new(
        config(65001, 65099, [10, 0, 0, 1], &Family::ALL, 90),
        config(65002, 65001, [10, 0, 0, 2], &Family::ALL, 90),
    );
    p.connect();
    assert_eq!(
        events(&mut p.a),
        vec![Event::Down(DownReason::NotificationSent(
            Notification::new(2, 2)
        ))]
    );
    assert_eq!(
        events(&mut p.b),
        vec![Event::Down(DownReason::NotificationReceived(
            Notification::new(2, 2)
        ))]
    );
}

#[test]
fn ibgp_with_our_own_identifier_is_refused() {
    let mut p = Pair::new(
        config(65001, 65001, [10, 0, 0, 1], &Family::ALL, 90),
        config(65001, 65001, [10, 0, 0, 1], &Family::ALL, 90),
    );
    p.connect();
    assert!(matches!(
        events(&mut p.a).as_slice(),
        [Event::Down(DownReason::NotificationSent(n))] if (n.code, n.subcode) == (2, 3)
    ));
}

#[test]
fn route_refresh_is_reported_for_negotiated_families_only() {
    let mut p = ebgp_pair();
    p.connect();
    events(&mut p.a);
    let refresh = |afi: u8, safi: u8| {
        let mut m = vec![0xff; 16];
        m.extend_from_slice(&[0, 23, 5, 0, afi, 0, safi]);
        m
    };
    p.a.handle_bytes(p.now, &refresh(1, 133));
    p.a.handle_bytes(p.now, &refresh(2, 1)); // IPv6 not negotiated: ignored
    assert_eq!(
        events(&mut p.a),
        vec![Event::RouteRefreshRequested(Family::Ipv4FlowSpec)]
    );
    assert_eq!(p.a.state(), State::Established);
}

#[test]
fn garbage_and_wrong_order_end_the_session_with_the_right_code() {
    let cases: &[(&[u8], (u8, u8))] = &[
        (&[0u8; 19], (1, 1)),
        // KEEPALIVE before OPEN: FSM error in OpenSent.
        (
            &[
                0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                0xff, 0xff, 0, 19, 4,
            ],
            (5, 1),
        ),
        // UPDATE before OPEN.
        (
            &[
                0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                0xff, 0xff, 0, 23, 2, 0, 0, 0, 0,
            ],
            (5, 1),
        ),
        (
            &[
                0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                0xff, 0xff, 0, 19, 7,
            ],
            (1, 3),
        ),
    ];
    for (bytes, (code, subcode)) in cases {
        let mut s = Session::new(config(65001, 65002, [10, 0, 0, 1], &Family::ALL, 90));
        let now = Instant::now();
        s.start(now);
        s.poll_transmit();
        s.handle_bytes(now, bytes);
        assert_eq!(s.state(), State::Idle);
        let sent = s.poll_transmit().unwrap();
        assert_eq!((sent[19], sent[20]), (*code, *subcode), "{bytes:?}");
        assert!(matches!(
            events(&mut s).as_slice(),
            [Event::Down(DownReason::NotificationSent(_))]
        ));
    }
}

#[test]
fn malformed_update_attribute_is_counted_not_fatal() {
    let mut p = ebgp_pair();
    p.connect();
    let mut m = vec![0xff; 16];
    // UPDATE with ORIGIN 7 and one NLRI: treat-as-withdraw (RFC 7606).
    m.extend_from_slice(&[0, 31, 2, 0, 0, 0, 4, 0x40, 1, 1, 7, 24, 10, 0, 0]);
    p.a.handle_bytes(p.now, &m);
    assert_eq!(p.a.state(), State::Established);
    assert_eq!(p.a.stats().updates_malformed, 1);
    // Withdrawn length past the end: the session is reset with 3/1.
    let mut m = vec![0xff; 16];
    m.extend_from_slice(&[0, 23, 2, 0, 9, 0, 0]);
    p.a.handle_bytes(p.now, &m);
    assert_eq!(p.a.state(), State::Idle);
}

#[test]
fn stop_sends_cease_and_restart_works() {
    let mut p = ebgp_pair();
    p.connect();
    events(&mut p.a);
    events(&mut p.b);
    p.a.stop(p.now);
    p.drive();
    assert_eq!(events(&mut p.a), vec![Event::Down(DownReason::Stopped)]);
    assert_eq!(
        events(&mut p.b),
        vec![Event::Down(DownReason::NotificationReceived(
            Notification::cease(2)
        ))]
    );
    // A new connection: same sessions, counters carry on.
    p.connect();
    assert_eq!(p.a.state(), State::Established);
    assert_eq!(p.a.stats().established, 2);
}
