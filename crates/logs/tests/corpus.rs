//! CrowdSec's hub test logs (tests/fixtures/crowdsec, MIT): every line CrowdSec's parsers
//! and scenarios count gives the event it should (address, user, outcome), and the per-source
//! counts a detector will see. Where we read a line differently from CrowdSec, the test says
//! why.

use rampart_detect::{ScanConfig, ScanDetector};
use rampart_logs::{
    detect_format, tally_by_source, AuthEvent, AuthMethod, Format, LogEvent, LogReader, Outcome,
    Service, TimeContext, Timestamp,
};
use std::net::IpAddr;

/// 2026-12-01T12:00:00Z, as a file's modification time.
fn ctx() -> TimeContext {
    TimeContext::new(Timestamp::from_secs(1_796_126_400), 0)
}

fn ip(s: &str) -> IpAddr {
    s.parse().expect("address")
}

/// Format detected from the first lines, then the whole file read.
fn read(text: &[u8]) -> (Format, Vec<LogEvent>) {
    let s = std::str::from_utf8(text).expect("UTF-8 fixture");
    let first: Vec<&str> = s.lines().take(10).collect();
    let format = detect_format(&first).expect("format detected");
    let (events, stats) = LogReader::read_all(format, ctx(), text);
    assert_eq!(stats.errors(), 0, "{stats:?}");
    (format, events)
}

fn auth(events: &[LogEvent]) -> Vec<&AuthEvent> {
    events.iter().filter_map(LogEvent::as_auth).collect()
}

#[test]
fn ssh_bf_user_enumeration() {
    let (format, events) = read(include_bytes!("fixtures/crowdsec/ssh-bf.log"));
    assert_eq!(format, Format::Syslog);
    let ev = auth(&events);
    let users: Vec<&str> = ev.iter().map(|e| e.user.as_deref().unwrap()).collect();
    assert_eq!(
        users,
        ["pascal", "pascal1", "pascal2", "pascal3", "pascal4", "pascal5"]
    );
    for e in &ev {
        assert_eq!(e.service, Service::Ssh);
        assert_eq!(e.outcome, Outcome::Failure);
        assert!(e.invalid_user);
        assert_eq!(e.source, Some(ip("35.188.49.176")));
        assert_eq!(e.host.as_deref(), Some("sd-126005"));
    }
    // CrowdSec reads these year-less stamps in its current year, as we do from the
    // reference.
    assert_eq!(ev[0].time.to_string(), "2026-02-12T14:10:21.000Z");
    assert_eq!(ev[5].time.to_string(), "2026-02-12T14:10:24.000Z");
    let t = tally_by_source(ev.iter().copied());
    let s = &t[&ip("35.188.49.176")];
    assert_eq!(
        (s.failures, s.invalid_user_failures, s.users.len()),
        (6, 6, 6)
    );
}

#[test]
fn openvpn_bf_tls_auth_failures() {
    let (format, events) = read(include_bytes!("fixtures/crowdsec/openvpn.log"));
    assert_eq!(format, Format::Openvpn);
    let ev = auth(&events);
    assert_eq!(ev.len(), 4);
    let times: Vec<String> = ev.iter().map(|e| e.time.to_string()).collect();
    assert_eq!(
        times,
        [
            "2024-12-15T14:12:12.000Z",
            "2024-12-15T14:12:13.000Z",
            "2024-12-15T14:12:14.000Z",
            "2024-12-15T14:12:15.000Z"
        ]
    );
    for e in ev {
        assert_eq!(e.service, Service::Openvpn);
        assert_eq!(e.outcome, Outcome::Failure);
        assert_eq!(e.method, Some(AuthMethod::Psk));
        assert_eq!(e.source, Some(ip("192.168.1.31")));
        assert_eq!(e.source_port, Some(45321));
    }
}

#[test]
fn sshd_successes_from_two_places() {
    let (_, events) = read(include_bytes!("fixtures/crowdsec/sshd-success-logs.log"));
    let ev = auth(&events);
    let got: Vec<(Outcome, Option<&str>, Option<IpAddr>, String)> = ev
        .iter()
        .map(|e| (e.outcome, e.user.as_deref(), e.source, e.time.to_string()))
        .collect();
    assert_eq!(
        got,
        [
            (
                Outcome::Success,
                Some("vagrant"),
                Some(ip("1.2.3.4")),
                "2026-09-06T09:57:21.000Z".to_string()
            ),
            (
                Outcome::Success,
                Some("vagrant"),
                Some(ip("9.8.8.8")),
                "2026-09-06T09:57:24.000Z".to_string()
            ),
        ]
    );
    assert!(ev.iter().all(|e| e.host.as_deref() == Some("bullseye")));
}

#[test]
fn fortinet_ssl_vpn_login_failures() {
    let (format, events) = read(include_bytes!("fixtures/crowdsec/fortinet-vpn-bf.log"));
    assert_eq!(format, Format::Syslog);
    let ev = auth(&events);
    assert_eq!(ev.len(), 9);
    for e in &ev {
        assert_eq!(e.service, Service::FortigateSslvpn);
        assert_eq!(e.outcome, Outcome::Failure);
        assert_eq!(e.source, Some(ip("192.168.0.1")));
        // "N/A" is FortiGate's way of naming no user.
        assert_eq!(e.invalid_user, e.user.is_none());
    }
    let users: Vec<Option<&str>> = ev.iter().map(|e| e.user.as_deref()).collect();
    assert_eq!(
        users,
        [
            None,
            Some("sapservicecq1"),
            Some("gxdadmin"),
            Some("ithomas"),
            Some("Veeam2021"),
            None,
            None,
            Some("andrew"),
            None
        ]
    );
    assert_eq!(ev[0].reason.as_deref(), Some("sslvpn_login_unknown_user"));
    assert_eq!(
        ev[1].reason.as_deref(),
        Some("sslvpn_login_no_matching_policy")
    );
    // CrowdSec reads "date=2024-10-14 time=13:46:40" as UTC and drops tz="-0700"; the
    // exact eventtime (and date/time in tz -0700) say 20:46:40Z.
    assert_eq!(ev[0].time.to_string(), "2024-10-14T20:46:40.841Z");
    let t = tally_by_source(ev.iter().copied());
    assert_eq!(t[&ip("192.168.0.1")].failures, 9);
}

#[test]
fn charon_eap_and_xauth_failures() {
    let (format, events) = read(include_bytes!("fixtures/crowdsec/charon-ipsec-bf.log"));
    assert_eq!(format, Format::Syslog);
    let ev = auth(&events);
    let failures: Vec<&&AuthEvent> = ev
        .iter()
        .filter(|e| e.outcome == Outcome::Failure)
        .collect();
    // 9 "EAP-MS-CHAPv2 verification failed" of exmaple.com, 11 of pfSense, 11 XAuth
    // failures: each an attempt, every one from the peer its SA named.
    assert_eq!(failures.len(), 31);
    for e in &failures {
        assert_eq!(e.service, Service::Ipsec);
        assert_eq!(e.source, Some(ip("116.178.2.170")), "{e:?}");
    }
    let by = |host: &str, m: AuthMethod| {
        failures
            .iter()
            .filter(|e| e.host.as_deref() == Some(host) && e.method == Some(m))
            .count()
    };
    assert_eq!(by("exmaple.com", AuthMethod::Eap), 9);
    assert_eq!(by("exmaple.com", AuthMethod::Xauth), 11);
    assert_eq!(by("pfSense", AuthMethod::Eap), 11);
    // The EAP identity named before the failure, and "no EAP key found" for it: no such
    // user.
    let first = failures[0];
    assert_eq!(first.user.as_deref(), Some("hll"));
    assert!(first.invalid_user);
    assert_eq!(first.time.to_string(), "2024-02-17T18:29:58.000Z");
    let second = failures[1];
    assert_eq!(second.user.as_deref(), Some("hl"));
    assert!(!second.invalid_user);
    let xauth = failures
        .iter()
        .find(|e| e.method == Some(AuthMethod::Xauth))
        .unwrap();
    assert_eq!(xauth.user.as_deref(), Some("lyb"));
    assert_eq!(
        xauth.reason.as_deref(),
        Some("XAuth pam_authenticate failed: System error")
    );
    assert_eq!(xauth.time.to_string(), "2024-02-19T09:55:20.000Z");
    // pfSense's failure comes before its SA names the peer: held, then sent with it.
    let pf = failures
        .iter()
        .find(|e| e.host.as_deref() == Some("pfSense"))
        .unwrap();
    assert_eq!(pf.time.to_string(), "2026-02-22T20:23:03.000Z");
    let t = tally_by_source(ev.iter().copied());
    assert_eq!(t[&ip("116.178.2.170")].failures, 31);
}

#[test]
fn iptables_scan_gives_packet_records() {
    let (format, events) = read(include_bytes!(
        "fixtures/crowdsec/iptables-scan-multi-port.log"
    ));
    assert_eq!(format, Format::Syslog);
    let flows: Vec<_> = events.iter().filter_map(LogEvent::as_flow).collect();
    assert_eq!(flows.len(), 49);
    let from = |a: &str| flows.iter().filter(|r| r.src_addr == ip(a)).count();
    assert_eq!(
        (from("62.34.17.168"), from("127.0.0.1"), from("127.0.0.2")),
        (17, 16, 16)
    );
    let r = flows[0];
    assert_eq!(
        serde_json::to_string(r).unwrap(),
        r#"{"observation_domain":0,"format":"packet","src_addr":"62.34.17.168","dst_addr":"10.73.140.49","src_port":52220,"dst_port":80,"ip_protocol":6,"tcp_flags":2,"packets":1,"bytes":44,"sampling_rate":1,"start":"2026-09-30T10:09:23.000Z","end":"2026-09-30T10:09:23.000Z","ttl":43}"#
    );
    // The ufw lines of this file are cut short after their ports (the kernel always
    // writes WINDOW, RES and the flag words for TCP): they carry no flags, and none are
    // made up.
    assert!(flows
        .iter()
        .filter(|r| r.src_addr == ip("127.0.0.2"))
        .all(|r| r.tcp_flags.is_none()));

    // The scan detector takes them as it takes packets from a capture.
    let mut det = ScanDetector::new(ScanConfig {
        ports: 10,
        ..Default::default()
    });
    for r in &flows {
        det.observe(r);
    }
    let end = flows.iter().map(|r| r.start).max().unwrap();
    det.tick(end.saturating_add_millis(5_000));
    det.flush_pending();
    let mut sources = Vec::new();
    while let Some(e) = det.poll_event() {
        sources.push(e.detection.source);
    }
    sources.dedup();
    assert_eq!(sources, [ip("62.34.17.168")]);
}
