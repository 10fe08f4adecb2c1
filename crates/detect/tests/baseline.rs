//! Learned baselines and host-group thresholds on synthetic traffic: a host that usually
//! sees 50 pps alarms at 5,000 pps under a 20,000 pps static threshold, but only with
//! history for that hour of the week; attack periods are never learned; host groups override
//! the defaults for their prefixes, per direction.

#![allow(clippy::unwrap_used)]

mod support;

use rampart_detect::{DdosConfig, DdosVector, Direction, GroupThresholds, HostGroup, Phase};
use std::net::{IpAddr, Ipv4Addr};
use support::*;

const HOST: &str = "203.0.113.77";
const NEIGHBOUR: &str = "203.0.113.78";

/// The test config: baselines apply after ten minutes of history with five minutes learned
/// in the hour (a week and ten minutes by default).
fn config() -> DdosConfig {
    let mut c = protected();
    c.baseline.min_history_s = 600;
    c.baseline.min_samples = 300;
    c
}

/// A host's usual traffic: 50 pps of QUIC from a few clients.
fn usual(dst: &'static str, from_ms: u64, to_ms: u64) -> Stream {
    Stream::new(50.0, from_ms, to_ms, move |n, ms| {
        let client = IpAddr::from(Ipv4Addr::new(198, 51, 100, (n % 7) as u8 + 1));
        Rec::addrs(client, ip(dst))
            .udp(50_000, 443)
            .size(900)
            .at(ms)
    })
}

/// A UDP flood from many sources, below every static threshold at 5,000 pps.
fn flood(dst: &'static str, pps: f64, from_ms: u64, to_ms: u64) -> Stream {
    Stream::new(pps, from_ms, to_ms, move |n, ms| {
        let src = IpAddr::from(Ipv4Addr::from(0x0a00_0000u32 + (n % 5_000) as u32));
        Rec::addrs(src, ip(dst))
            .udp(1024 + (n % 50_000) as u16, 80)
            .size(100)
            .at(ms)
    })
}

fn host(s: &str) -> rampart_model::Cidr {
    rampart_model::Cidr::host(ip(s))
}

#[test]
fn learned_baseline_alarms_far_below_the_static_threshold() {
    let mut sim = Sim::new(config());
    let mut streams = vec![
        usual(HOST, 0, 960_000),
        flood(HOST, 5_000.0, 900_000, 910_000),
    ];
    sim.run(899_000, &mut streams);
    assert!(sim.events.is_empty(), "{:#?}", sim.events);
    let b = sim.det.baseline(host(HOST), Direction::Inbound).unwrap();
    assert!((48..=53).contains(&b.usual_pps), "{b:?}");
    assert!(b.seconds >= 850, "{b:?}");
    // 10 x 50 pps is under the 1,000 pps floor.
    assert_eq!(b.threshold_pps, Some(1_000), "{b:?}");
    // Outbound, nothing was learned.
    assert!(sim.det.baseline(host(HOST), Direction::Outbound).is_none());

    sim.run(912_000, &mut streams);
    let started = sim.started();
    assert_eq!(started.len(), 1, "{:#?}", sim.events);
    let d = &started[0].detection;
    assert_eq!(d.target.to_string(), HOST);
    assert_eq!(d.direction, Direction::Inbound);
    assert_eq!(d.vector, DdosVector::UdpFlood);
    assert!(d.evidence.contains("baseline"), "{}", d.evidence);
    assert!(d.evidence.contains("usually 5"), "{}", d.evidence);
    assert!(d.peak_pps < 6_000, "{d:#?}");
    let latency = d.start.as_millis() - T0 - 900_000;
    assert!(latency <= 1_000, "{latency} ms");
    let s = sim.det.stats();
    assert!(s.baselines >= 2, "{s:#?}");
    assert!(
        s.baseline_bytes > 0 && s.baseline_bytes < s.state_bytes,
        "{s:#?}"
    );
}

#[test]
fn no_alarm_without_history() {
    // A host never seen before.
    let mut sim = Sim::new(config());
    let mut streams = vec![flood(HOST, 5_000.0, 1_000, 30_000)];
    sim.run(35_000, &mut streams);
    assert!(sim.events.is_empty(), "{:#?}", sim.events);

    // Learned for less than min_history_s.
    let mut sim = Sim::new(config());
    let mut streams = vec![
        usual(HOST, 0, 400_000),
        flood(HOST, 5_000.0, 400_000, 420_000),
    ];
    sim.run(425_000, &mut streams);
    assert!(sim.events.is_empty(), "{:#?}", sim.events);
    let b = sim.det.baseline(host(HOST), Direction::Inbound).unwrap();
    assert_eq!(b.threshold_pps, None, "{b:?}");

    // Learned from 10:00 to 10:15 only; at 11:05 that hour of the week knows nothing.
    let mut sim = Sim::new(config());
    let mut streams = vec![
        usual(HOST, 0, 900_000),
        usual(HOST, 3_900_000, 3_960_000),
        flood(HOST, 5_000.0, 3_900_000, 3_920_000),
    ];
    sim.run(3_925_000, &mut streams);
    assert!(sim.events.is_empty(), "{:#?}", sim.events);
    let b = sim.det.baseline(host(HOST), Direction::Inbound).unwrap();
    assert!(b.seconds < 30, "{b:?}");
    assert_eq!(b.threshold_pps, None, "{b:?}");
}

#[test]
fn attack_periods_are_not_learned() {
    let mut sim = Sim::new(config());
    let mut streams = vec![
        usual(HOST, 0, 1_300_000),
        usual(NEIGHBOUR, 0, 1_300_000),
        // Four minutes of flood: learned, it would lift the usual rate to 5,000 pps.
        flood(HOST, 5_000.0, 900_000, 1_140_000),
        flood(HOST, 5_000.0, 1_200_000, 1_210_000),
    ];
    sim.run(900_000, &mut streams);
    let neighbour_before = sim
        .det
        .baseline(host(NEIGHBOUR), Direction::Inbound)
        .unwrap();
    sim.run(1_139_000, &mut streams);
    // The attack is on; the target learned nothing, nor did its /24 neighbour.
    assert_eq!(sim.det.active().len(), 1, "{:#?}", sim.events);
    let during = sim.det.baseline(host(HOST), Direction::Inbound).unwrap();
    assert!(during.usual_pps <= 55, "{during:?}");
    let neighbour = sim
        .det
        .baseline(host(NEIGHBOUR), Direction::Inbound)
        .unwrap();
    assert!(
        neighbour.seconds <= neighbour_before.seconds + 2,
        "{neighbour_before:?} {neighbour:?}"
    );

    // It ends; learning resumes for the neighbour.
    sim.run(1_190_000, &mut streams);
    assert!(sim.det.active().is_empty(), "{:#?}", sim.events);
    let ended = sim
        .events
        .iter()
        .filter(|e| e.phase == Phase::Ended)
        .count();
    assert_eq!(ended, 1, "{:#?}", sim.events);
    let neighbour_after = sim
        .det
        .baseline(host(NEIGHBOUR), Direction::Inbound)
        .unwrap();
    assert!(
        neighbour_after.seconds > neighbour.seconds + 20,
        "{neighbour:?} {neighbour_after:?}"
    );

    // The baseline still says 50 pps, and the next flood alarms again.
    let after = sim.det.baseline(host(HOST), Direction::Inbound).unwrap();
    assert!(after.usual_pps <= 55, "{after:?}");
    assert_eq!(after.threshold_pps, Some(1_000));
    sim.run(1_215_000, &mut streams);
    let started = sim.started();
    assert_eq!(started.len(), 2, "{:#?}", sim.events);
    assert!(started[1].detection.evidence.contains("baseline"));
}

#[test]
fn baselines_can_be_turned_off() {
    let mut cfg = config();
    cfg.baseline.enabled = false;
    let mut sim = Sim::new(cfg);
    let mut streams = vec![
        usual(HOST, 0, 960_000),
        flood(HOST, 5_000.0, 900_000, 910_000),
    ];
    sim.run(912_000, &mut streams);
    assert!(sim.events.is_empty(), "{:#?}", sim.events);
    assert!(sim.det.baseline(host(HOST), Direction::Inbound).is_none());
    // Or for one host group.
    let mut cfg = config();
    cfg.groups = vec![HostGroup {
        name: "backup".into(),
        prefixes: vec!["203.0.113.64/26".parse().unwrap()],
        baseline: Some(false),
        ..HostGroup::default()
    }];
    let mut sim = Sim::new(cfg);
    let mut streams = vec![
        usual(HOST, 0, 960_000),
        flood(HOST, 5_000.0, 900_000, 910_000),
    ];
    sim.run(912_000, &mut streams);
    assert!(sim.events.is_empty(), "{:#?}", sim.events);
}

#[test]
fn group_thresholds_override_the_defaults_for_their_prefixes() {
    let mut cfg = protected();
    cfg.groups = vec![
        HostGroup {
            name: "voip".into(),
            prefixes: vec!["203.0.113.64/26".parse().unwrap()],
            host_pps: Some(2_000),
            vector_pps: [(DdosVector::SynFlood, 500)].into_iter().collect(),
            ..HostGroup::default()
        },
        // More specific: wins over "voip" for its one address.
        HostGroup {
            name: "sbc".into(),
            prefixes: vec!["203.0.113.70/32".parse().unwrap()],
            host_pps: Some(50_000),
            ..HostGroup::default()
        },
    ];
    let mut sim = Sim::new(cfg);
    let mut streams = vec![
        flood("203.0.113.77", 4_000.0, 1_000, 5_000),
        flood("203.0.113.70", 4_000.0, 1_000, 5_000),
        flood("203.0.113.10", 4_000.0, 1_000, 5_000),
        Stream::new(1_000.0, 1_000, 5_000, |n, ms| {
            let src = IpAddr::from(Ipv4Addr::from(0x0a00_0000u32 + n as u32));
            Rec::addrs(src, ip("203.0.113.71"))
                .tcp(1024 + (n % 60_000) as u16, 5060, 0x02)
                .at(ms)
        }),
    ];
    sim.run(6_000, &mut streams);
    let mut started: Vec<_> = sim.started().iter().map(|e| e.detection.clone()).collect();
    started.sort_by_key(|d| d.target.to_string());
    let targets: Vec<String> = started.iter().map(|d| d.target.to_string()).collect();
    assert_eq!(targets, ["203.0.113.71", "203.0.113.77"], "{started:#?}");
    assert_eq!(started[0].vector, DdosVector::SynFlood);
    assert!(
        started[0]
            .evidence
            .contains("syn_flood threshold of host group voip (500 pps)"),
        "{}",
        started[0].evidence
    );
    assert!(
        started[1]
            .evidence
            .contains("host_pps threshold of host group voip (2000 pps)"),
        "{}",
        started[1].evidence
    );
}

#[test]
fn group_thresholds_per_direction() {
    let mut cfg = protected();
    cfg.groups = vec![HostGroup {
        name: "servers".into(),
        prefixes: vec!["203.0.113.0/24".parse().unwrap()],
        outbound: Some(GroupThresholds {
            host_pps: Some(1_000),
            ..GroupThresholds::default()
        }),
        ..HostGroup::default()
    }];
    let mut sim = Sim::new(cfg);
    let mut streams = vec![
        // From one of ours at 3,000 pps: over the group's outbound threshold.
        Stream::new(3_000.0, 1_000, 5_000, |n, ms| {
            Rec::new("203.0.113.20", "198.51.100.7")
                .udp(1024 + (n % 60_000) as u16, 80)
                .at(ms)
        }),
        // Toward one of ours at 3,000 pps: the inbound default (20,000) still holds.
        flood("203.0.113.21", 3_000.0, 1_000, 5_000),
    ];
    sim.run(6_000, &mut streams);
    let started = sim.started();
    assert_eq!(started.len(), 1, "{:#?}", sim.events);
    let d = &started[0].detection;
    assert_eq!(d.direction, Direction::Outbound);
    assert_eq!(d.target.to_string(), "203.0.113.20");
    assert!(
        d.evidence
            .contains("host_pps threshold of host group servers (1000 pps)"),
        "{}",
        d.evidence
    );
}
