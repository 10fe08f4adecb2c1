#![no_main]
//! Fuzzes everything a BGP peer can send us. The first byte chooses a start: raw bytes into
//! a session that has just sent its OPEN, or a valid OPEN and KEEPALIVE first so that the
//! bytes land in an established session (UPDATE, ROUTE-REFRESH, NOTIFICATION parsing).
//! The rest is cut into chunks at arbitrary points, with the clock moving between them.
//! Each chunk also goes straight to the OPEN and UPDATE decoders.
use libfuzzer_sys::fuzz_target;
use rampart_bgp::update::{decode_update, DecodeContext};
use rampart_bgp::wire::frame;
use rampart_bgp::{open::Open, Event, Family, Session, SessionConfig, State};
use std::time::{Duration, Instant};

/// A peer OPEN (AS 65002, hold 90, all four families, 4-octet AS) and a KEEPALIVE.
fn peer_hello() -> Vec<u8> {
    let mut m = vec![0xff; 16];
    #[rustfmt::skip]
    m.extend_from_slice(&[
        0, 61, 1, 4, 0xfd, 0xea, 0, 90, 10, 0, 0, 2, 32, 2, 30,
        1, 4, 0, 1, 0, 1, 1, 4, 0, 2, 0, 1, 1, 4, 0, 1, 0, 133, 1, 4, 0, 2, 0, 133,
        65, 4, 0, 0, 0xfd, 0xea,
    ]);
    m.extend_from_slice(&[0xff; 16]);
    m.extend_from_slice(&[0, 19, 4]);
    m
}

/// Whatever we send must be whole, well-formed messages.
fn check_output(s: &mut Session) {
    while let Some(mut out) = s.poll_transmit() {
        assert!(!out.is_empty());
        while !out.is_empty() {
            let f = frame(&out)
                .expect("our own message is well formed")
                .expect("whole");
            let len = f.len;
            out.drain(..len);
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let mut s = Session::new(SessionConfig {
        local_as: 65001,
        peer_as: 65002,
        router_id: [10, 0, 0, 1].into(),
        hold_time: 9,
        families: Family::ALL.to_vec(),
        graceful_restart: (mode & 2 != 0).then_some(120),
    });
    let mut now = Instant::now();
    s.start(now);
    check_output(&mut s);
    if mode & 1 != 0 {
        s.handle_bytes(now, &peer_hello());
        assert_eq!(s.state(), State::Established);
        assert_eq!(s.poll_event(), Some(Event::Established));
    }
    let mut rest = rest;
    let mut last_in = s.stats().messages_in;
    while let [len, tail @ ..] = rest {
        let n = usize::from(*len).min(tail.len());
        let (chunk, next) = tail.split_at(n);
        rest = next;
        s.handle_bytes(now, chunk);
        let four = len & 1 != 0;
        let _ = decode_update(
            chunk,
            &DecodeContext {
                four_octet_as: four,
            },
        )
        .map(|u| {
            assert!(u.routes().len() <= u.announced.len());
        });
        let _ = Open::decode(chunk);
        now += Duration::from_millis(u64::from(*len) * 20);
        s.handle_timeout(now);
        check_output(&mut s);
        while let Some(ev) = s.poll_event() {
            if let Event::Down(_) = ev {
                assert_eq!(s.state(), State::Idle);
            }
        }
        let stats = *s.stats();
        assert!(stats.messages_in >= last_in);
        last_in = stats.messages_in;
        if let Some(t) = s.poll_timeout() {
            // A deadline is never more than the OPEN hold time (240 s) ahead.
            assert!(t <= now + Duration::from_secs(240));
        }
    }
});
