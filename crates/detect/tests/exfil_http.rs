//! The exfiltration and HTTP flood detectors on synthetic streams with known truth.

use rampart_detect::{
    DetectionEvent, ExfilConfig, ExfilDetector, HttpFloodConfig, HttpFloodDetector, Phase,
};
use rampart_model::{Detection, ExfilReason, FlowFormat, FlowRecord, HttpEvent, Timestamp};
use std::net::IpAddr;

const T0: u64 = 1_795_996_800;

fn ip(s: &str) -> IpAddr {
    s.parse().expect("address")
}

fn flow(t: u64, src: &str, dst: &str, bytes: u64) -> FlowRecord {
    let mut r = FlowRecord::empty(FlowFormat::Netflow9);
    r.src_addr = ip(src);
    r.dst_addr = ip(dst);
    r.ip_protocol = 6;
    r.packets = bytes.div_ceil(1500);
    r.bytes = bytes;
    r.start = Timestamp::from_secs(t);
    r.end = r.start;
    r
}

fn drain_exfil(d: &mut ExfilDetector, out: &mut Vec<DetectionEvent>) {
    while let Some(e) = d.poll_event() {
        out.push(e);
    }
}

fn cfg() -> ExfilConfig {
    ExfilConfig {
        protect: vec!["10.1.0.0/16".parse().expect("cidr")],
        window_s: 300,
        min_bytes: 50_000_000,
        new_destination_bytes: 20_000_000,
        learning_s: 3600,
        ..ExfilConfig::default()
    }
}

#[test]
fn a_quiet_host_uploading_to_a_new_address_is_exfiltration() {
    let mut d = ExfilDetector::new(cfg());
    let mut out = Vec::new();
    // Two hours of a workstation's usual: 1 MB every minute to its mail and web hosts,
    // and a server that sends a lot every window (its normal).
    for m in 0..120 {
        let t = T0 + m * 60;
        d.observe(&flow(t, "10.1.0.5", "198.51.100.25", 1_000_000));
        d.observe(&flow(t, "10.1.0.9", "198.51.100.80", 40_000_000));
        // Internal to internal and inbound never count.
        d.observe(&flow(t, "10.1.0.5", "10.1.0.9", 900_000_000));
        d.observe(&flow(t, "192.0.2.1", "10.1.0.5", 900_000_000));
        d.tick(Timestamp::from_secs(t));
        drain_exfil(&mut d, &mut out);
    }
    assert!(out.is_empty(), "{out:?}");
    // Then 30 MB in a minute to an address it never talked to.
    let t = T0 + 120 * 60;
    for s in 0..30 {
        d.observe(&flow(t + s, "10.1.0.5", "203.0.113.66", 1_000_000));
    }
    for s in 0..700 {
        d.tick(Timestamp::from_secs(t + 30 + s));
    }
    drain_exfil(&mut d, &mut out);
    let phases: Vec<Phase> = out.iter().map(|e| e.phase).collect();
    assert_eq!(phases.first(), Some(&Phase::Started));
    assert_eq!(phases.last(), Some(&Phase::Ended));
    let Detection::Exfiltration(x) = &out[0].detection else {
        unreachable!()
    };
    assert_eq!(x.source, ip("10.1.0.5"));
    assert_eq!(x.reason, ExfilReason::NewDestination);
    assert_eq!(x.target, "203.0.113.66/32".parse().expect("cidr"));
    assert!(x.top_destinations[0].new);
    assert_eq!(x.bytes, 20_000_000);
    let Detection::Exfiltration(end) = &out.last().expect("end").detection else {
        unreachable!()
    };
    assert_eq!(end.bytes, 30_000_000);
    assert!(end.end.is_some());
    assert!(
        end.evidence.contains("never seen before"),
        "{}",
        end.evidence
    );
}

#[test]
fn far_over_baseline_to_known_places_is_volume_exfiltration() {
    let mut d = ExfilDetector::new(cfg());
    let mut out = Vec::new();
    for m in 0..120 {
        d.observe(&flow(T0 + m * 60, "10.1.0.5", "198.51.100.25", 1_000_000));
    }
    // 60 MB to the usual host in one window: 12x its 5 MB, over the 50 MB floor.
    for s in 0..60 {
        d.observe(&flow(T0 + 7200 + s, "10.1.0.5", "198.51.100.25", 1_000_000));
    }
    drain_exfil(&mut d, &mut out);
    assert_eq!(out.len(), 1, "{out:?}");
    let Detection::Exfiltration(x) = &out[0].detection else {
        unreachable!()
    };
    assert_eq!(x.reason, ExfilReason::Volume);
    assert_eq!(x.bytes, 50_000_000);
    assert!((4_000_000..6_000_000).contains(&x.baseline_bytes), "{x:?}");
    // A host still learning is never reported, however much it sends.
    let mut d = ExfilDetector::new(cfg());
    d.observe(&flow(T0, "10.1.0.7", "203.0.113.1", 900_000_000));
    assert!(d.poll_event().is_none());
}

fn req(t_ms: u64, client: &str, path: &str, status: u16) -> HttpEvent {
    HttpEvent {
        time: Timestamp::from_millis(t_ms),
        client: ip(client),
        method: Some("GET".into()),
        path: path.into(),
        status,
        bytes: 100,
        user_agent: None,
        referer: None,
        vhost: Some("www.example.com".into()),
        user: None,
    }
}

#[test]
fn a_client_far_over_the_rate_is_an_http_flood() {
    let mut d = HttpFloodDetector::new(HttpFloodConfig::default());
    let mut out = Vec::new();
    let start = T0 * 1000;
    // 30 s of a flood at 200/s on the login page, and a browser at 2/s.
    for i in 0..6000u64 {
        let t = start + i * 5;
        d.observe(&req(t, "192.0.2.44", "/login", 429));
        if i % 100 == 0 {
            d.observe(&req(t, "198.51.100.2", &format!("/page{i}"), 200));
        }
        d.tick(Timestamp::from_millis(t));
    }
    for s in 0..120 {
        d.tick(Timestamp::from_millis(start + 30_000 + s * 1000));
    }
    while let Some(e) = d.poll_event() {
        out.push(e);
    }
    assert_eq!(out.first().map(|e| e.phase), Some(Phase::Started));
    assert!(out
        .iter()
        .all(|e| e.detection.source() == Some(ip("192.0.2.44"))));
    let Detection::HttpFlood(end) = &out.last().expect("end").detection else {
        unreachable!()
    };
    assert_eq!(end.requests, 6000);
    assert!(end.peak_rps >= 199.0, "{end:?}");
    assert_eq!(end.top_path.as_deref(), Some("/login"));
    assert_eq!(end.error_share, 1.0);
    assert_eq!(end.target.as_deref(), Some("www.example.com"));
    assert!(end.end.is_some());
}
