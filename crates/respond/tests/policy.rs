#![allow(clippy::unwrap_used)]
//! The response policy on a virtual clock: a flood gets its FlowSpec rules, escalates to a
//! blackhole, is withdrawn after the hold time; every guard refuses what it must; manual
//! mode waits for approval; operators' requests pass the same guards.

use rampart_model::{
    Cidr, DdosDetection, DdosVector, Detection, Direction, Range, ScanDetection, ScanProtocol,
    ScanType, Timestamp, TopPort,
};
use rampart_respond::{
    ActionKind, Decision, Guard, Mitigation, MitigationState, Mode, Phase, Policy, RespondConfig,
    TrafficMix,
};

fn t(s: u64) -> Timestamp {
    Timestamp::from_secs(1_800_000_000 + s)
}

fn flood(target: &str, vector: DdosVector) -> Detection {
    Detection::Ddos(DdosDetection {
        vector,
        vectors: vec![vector],
        target: target.parse().unwrap(),
        direction: Direction::Inbound,
        start: t(0),
        end: None,
        peak_pps: 200_000,
        peak_bps: 2_000_000_000,
        confidence: 0.95,
        top_sources: vec![],
        top_destinations: vec![],
        top_src_ports: vec![],
        top_dst_ports: vec![TopPort {
            port: 80,
            packets: 10,
            share: 0.5,
        }],
        spoofed_sources: true,
        packet_size: Some(Range {
            min: 60,
            max: 60,
            avg: 60,
        }),
        ttl: None,
        samples: 100_000,
        evidence: "flood".into(),
    })
}

fn scan(source: &str) -> Detection {
    Detection::Scan(ScanDetection {
        source: source.parse().unwrap(),
        target: "203.0.113.0/24".parse().unwrap(),
        ports: 1,
        hosts: 200,
        scan_type: ScanType::Horizontal,
        direction: Direction::Inbound,
        protocol: ScanProtocol::Tcp,
        top_dst_ports: vec![],
        probes: 200,
        answered: 0,
        start: t(0),
        end: None,
        last_seen: t(5),
        confidence: 0.9,
        evidence: "scan".into(),
    })
}

fn drain(p: &mut Policy) -> Vec<Decision> {
    std::iter::from_fn(|| p.poll_decision()).collect()
}

fn applied(ds: &[Decision]) -> Vec<&Mitigation> {
    ds.iter()
        .filter_map(|d| match d {
            Decision::Apply(m) => Some(m),
            _ => None,
        })
        .collect()
}

fn refused(ds: &[Decision]) -> Vec<Guard> {
    ds.iter()
        .filter_map(|d| match d {
            Decision::Refused(r) => Some(r.guard),
            _ => None,
        })
        .collect()
}

fn withdrawn(ds: &[Decision]) -> Vec<u64> {
    ds.iter()
        .filter_map(|d| match d {
            Decision::Withdraw { mitigation, .. } => Some(mitigation.id),
            _ => None,
        })
        .collect()
}

#[test]
fn a_flood_gets_flowspec_escalates_to_blackhole_and_is_withdrawn_after_the_hold() {
    let mut p = Policy::new(RespondConfig {
        escalate_after_s: 60,
        hold_s: 120,
        ..RespondConfig::default()
    });
    let d = flood("203.0.113.10", DdosVector::SynFlood);
    p.on_detection(t(0), 1, &d, Phase::Started, None);
    let ds = drain(&mut p);
    let fs = applied(&ds);
    assert_eq!(fs.len(), 1, "{ds:?}");
    assert_eq!(fs[0].kind, ActionKind::Flowspec);
    assert!(fs[0].dry_run, "dry-run is the default");
    assert_eq!(fs[0].rules[0].protocols, [6]);
    assert!(fs[0].reason.contains("rule 'floods'"), "{}", fs[0].reason);
    assert!(
        fs[0].reason.contains("collateral not judged"),
        "{}",
        fs[0].reason
    );
    let fs_id = fs[0].id;
    p.on_detection(t(30), 1, &d, Phase::Updated, None);
    p.tick(t(30));
    assert!(drain(&mut p).is_empty(), "nothing before escalate_after_s");
    p.tick(t(61));
    let ds = drain(&mut p);
    let bh = applied(&ds);
    assert_eq!(bh.len(), 1, "{ds:?}");
    assert_eq!(bh[0].kind, ActionKind::Blackhole);
    assert_eq!(bh[0].target.to_string(), "203.0.113.10");
    assert!(bh[0].reason.contains("escalated"), "{}", bh[0].reason);
    let bh_id = bh[0].id;
    // The ladder has no third rung.
    p.tick(t(200));
    assert!(applied(&drain(&mut p)).is_empty());
    p.on_detection(t(300), 1, &d, Phase::Ended, None);
    p.tick(t(419));
    assert!(withdrawn(&drain(&mut p)).is_empty(), "held for hold_s");
    p.tick(t(420));
    let mut w = withdrawn(&drain(&mut p));
    w.sort();
    assert_eq!(w, [fs_id, bh_id]);
    assert_eq!(p.mitigations().count(), 0);
}

#[test]
fn never_listed_and_prefix_targets_are_refused() {
    let mut p = Policy::new(RespondConfig {
        never: vec!["203.0.113.53/32".parse().unwrap()],
        escalate_after_s: 10,
        ..RespondConfig::default()
    });
    p.on_detection(
        t(0),
        1,
        &flood("203.0.113.53", DdosVector::DnsAmplification),
        Phase::Started,
        None,
    );
    assert_eq!(refused(&drain(&mut p)), [Guard::Never]);
    p.tick(t(10));
    assert_eq!(refused(&drain(&mut p)), [Guard::Never], "nor blackholed");
    // A carpet bombing of the /24 that holds a never-listed address: no FlowSpec on it.
    p.on_detection(
        t(20),
        2,
        &flood("203.0.113.0/24", DdosVector::UdpFlood),
        Phase::Started,
        None,
    );
    assert_eq!(refused(&drain(&mut p)), [Guard::Never]);
    // Another /24: FlowSpec yes, but the blackhole of a whole prefix is refused.
    p.on_detection(
        t(20),
        3,
        &flood("198.51.100.0/24", DdosVector::UdpFlood),
        Phase::Started,
        None,
    );
    assert_eq!(applied(&drain(&mut p)).len(), 1);
    p.tick(t(31));
    let g = refused(&drain(&mut p));
    assert!(g.contains(&Guard::HostRoutesOnly), "{g:?}");
    // Operators pass the same guards.
    let r = p
        .request(
            t(40),
            ActionKind::Blackhole,
            "203.0.113.53".parse().unwrap(),
            600,
            "cli",
        )
        .unwrap_err();
    assert_eq!(r.guard, Guard::Never);
}

#[test]
fn limits_on_active_and_new_per_minute() {
    let mut p = Policy::new(RespondConfig {
        max_active: 3,
        max_new_per_minute: 2,
        ..RespondConfig::default()
    });
    for i in 0..3u64 {
        p.on_detection(
            t(0),
            i,
            &flood(&format!("203.0.113.{i}"), DdosVector::SynFlood),
            Phase::Started,
            None,
        );
    }
    let ds = drain(&mut p);
    assert_eq!(applied(&ds).len(), 2);
    assert_eq!(refused(&ds), [Guard::RateLimit]);
    for i in 3..6u64 {
        p.on_detection(
            t(61),
            i,
            &flood(&format!("203.0.113.{i}"), DdosVector::SynFlood),
            Phase::Started,
            None,
        );
    }
    let ds = drain(&mut p);
    assert_eq!(applied(&ds).len(), 1);
    assert_eq!(refused(&ds), [Guard::MaxActive, Guard::MaxActive]);
}

#[test]
fn flowspec_that_would_drop_normal_traffic_is_refused() {
    let mut p = Policy::new(RespondConfig::default());
    let resolver = TrafficMix {
        pps: [
            (DdosVector::DnsAmplification, 5_000.0),
            (DdosVector::TcpFlood, 200.0),
        ]
        .into(),
    };
    let web = TrafficMix {
        pps: [
            (DdosVector::TcpFlood, 9_000.0),
            (DdosVector::DnsAmplification, 10.0),
        ]
        .into(),
    };
    let dns = flood("203.0.113.53", DdosVector::DnsAmplification);
    p.on_detection(t(0), 1, &dns, Phase::Started, Some(&resolver));
    let ds = drain(&mut p);
    assert_eq!(refused(&ds), [Guard::Collateral]);
    let Decision::Refused(r) = &ds[0] else {
        unreachable!()
    };
    assert!(r.reason.contains("96%"), "{}", r.reason);
    p.on_detection(
        t(0),
        2,
        &flood("203.0.113.80", DdosVector::DnsAmplification),
        Phase::Started,
        Some(&web),
    );
    let ds = drain(&mut p);
    let m = applied(&ds);
    assert_eq!(m.len(), 1);
    assert!(
        m[0].reason.contains("0.1% of the target's normal traffic"),
        "{}",
        m[0].reason
    );
    // Refusing unknown collateral when configured so.
    let mut strict = Policy::new(RespondConfig {
        flowspec_allow_unknown_collateral: false,
        ..RespondConfig::default()
    });
    strict.on_detection(t(0), 1, &dns, Phase::Started, None);
    assert_eq!(refused(&drain(&mut strict)), [Guard::Collateral]);
}

#[test]
fn manual_mode_waits_for_approval_and_pending_ones_expire() {
    let mut p = Policy::new(RespondConfig {
        mode: Mode::Manual,
        ..RespondConfig::default()
    });
    let d = flood("203.0.113.10", DdosVector::SynFlood);
    p.on_detection(t(0), 1, &d, Phase::Started, None);
    let ds = drain(&mut p);
    let Decision::AwaitApproval(m) = &ds[0] else {
        panic!("{ds:?}")
    };
    assert_eq!(m.state, MitigationState::Pending);
    let id = m.id;
    assert!(p.approve(t(5), 999, "token:alice").is_err());
    p.approve(t(5), id, "token:alice").unwrap();
    let ds = drain(&mut p);
    let a = applied(&ds);
    assert_eq!(a[0].approved_by.as_deref(), Some("token:alice"));
    assert!(
        p.approve(t(6), id, "token:alice").is_err(),
        "not pending any more"
    );
    // A second attack's mitigation is never approved: it expires.
    p.on_detection(
        t(10),
        2,
        &flood("203.0.113.11", DdosVector::SynFlood),
        Phase::Started,
        None,
    );
    let pending = match &drain(&mut p)[0] {
        Decision::AwaitApproval(m) => m.id,
        d => panic!("{d:?}"),
    };
    p.tick(t(10 + 3600));
    let ds = drain(&mut p);
    assert!(withdrawn(&ds).contains(&pending), "{ds:?}");
}

#[test]
fn mitigations_renew_while_the_attack_lasts_and_expire_otherwise() {
    let mut p = Policy::new(RespondConfig {
        escalate_after_s: 0,
        ..RespondConfig::default()
    });
    let d = flood("203.0.113.10", DdosVector::SynFlood);
    p.on_detection(t(0), 1, &d, Phase::Started, None);
    drain(&mut p);
    p.tick(t(3600));
    let ds = drain(&mut p);
    assert!(
        matches!(&ds[..], [Decision::Renew(m)] if m.expires == t(7200)),
        "{ds:?}"
    );
    // By hand, for 60 s, with no attack behind it: it expires.
    let m = p
        .request(
            t(0),
            ActionKind::Blackhole,
            "198.51.100.9".parse().unwrap(),
            60,
            "cli",
        )
        .unwrap();
    drain(&mut p);
    p.tick(t(60));
    assert_eq!(withdrawn(&drain(&mut p)), [m.id]);
}

#[test]
fn operators_announce_and_withdraw_by_hand() {
    let mut p = Policy::new(RespondConfig::default());
    let target: Cidr = "198.51.100.9".parse().unwrap();
    let m = p
        .request(t(0), ActionKind::Flowspec, target, 600, "token:bob")
        .unwrap();
    assert_eq!(
        m.rules.len(),
        1,
        "a hand-made FlowSpec rule drops all toward the target"
    );
    // Asking twice gives the same one.
    let again = p
        .request(t(1), ActionKind::Flowspec, target, 600, "token:bob")
        .unwrap();
    assert_eq!(again.id, m.id);
    assert_eq!(applied(&drain(&mut p)).len(), 1);
    let gone = p.withdraw(Some(target), None, "token:bob");
    assert_eq!(gone.len(), 1);
    let ds = drain(&mut p);
    assert!(matches!(&ds[..], [Decision::Withdraw { reason, .. }] if reason.contains("token:bob")));
}

#[test]
fn scanners_are_banned_and_floods_are_not() {
    let mut p = Policy::new(RespondConfig {
        escalate_after_s: 0,
        rules: vec![rampart_respond::Rule {
            name: "all".into(),
            actions: vec![ActionKind::Ban],
            ..Default::default()
        }],
        ..RespondConfig::default()
    });
    p.on_detection(t(0), 1, &scan("192.0.2.66"), Phase::Started, None);
    let ds = drain(&mut p);
    let m = applied(&ds);
    assert_eq!(m[0].kind, ActionKind::Ban);
    assert_eq!(m[0].target.to_string(), "192.0.2.66");
    p.on_detection(
        t(0),
        2,
        &flood("203.0.113.1", DdosVector::SynFlood),
        Phase::Started,
        None,
    );
    assert_eq!(refused(&drain(&mut p)), [Guard::NoRule]);
}

#[test]
fn restored_mitigations_keep_their_ids_and_expire() {
    let mut p = Policy::new(RespondConfig::default());
    let mut m = p
        .request(
            t(0),
            ActionKind::Blackhole,
            "198.51.100.9".parse().unwrap(),
            60,
            "cli",
        )
        .unwrap();
    m.id = 41;
    let mut q = Policy::new(RespondConfig::default());
    q.restore(m);
    let next = q
        .request(
            t(1),
            ActionKind::Blackhole,
            "198.51.100.10".parse().unwrap(),
            60,
            "cli",
        )
        .unwrap();
    assert_eq!(next.id, 42);
    drain(&mut q);
    q.tick(t(61));
    assert_eq!(withdrawn(&drain(&mut q)), [41, 42]);
}

fn login(kind: fn(rampart_model::AuthDetection) -> Detection, source: &str) -> Detection {
    kind(rampart_model::AuthDetection {
        source: Some(source.parse().unwrap()),
        user: Some("root".into()),
        service: rampart_model::Service::Ssh,
        target: None,
        failures: 40,
        invalid_users: 0,
        successes: 0,
        users: 1,
        sources: 1,
        top_sources: vec![],
        first_seen: t(0),
        last_seen: t(30),
        end: None,
        confidence: 0.9,
        evidence: "40 failed logins".into(),
    })
}

#[test]
fn login_guessing_bans_its_source_but_not_ours_and_compromises_are_not_banned() {
    let mut p = Policy::new(RespondConfig {
        protect: vec!["10.0.0.0/8".parse().unwrap()],
        ..RespondConfig::default()
    });
    p.on_detection(
        t(0),
        1,
        &login(Detection::BruteForce, "198.51.100.7"),
        Phase::Started,
        None,
    );
    let ds = drain(&mut p);
    let a = applied(&ds);
    assert_eq!(a.len(), 1, "{ds:?}");
    assert_eq!(
        (a[0].kind, a[0].target, a[0].dry_run),
        (ActionKind::Ban, "198.51.100.7".parse().unwrap(), true)
    );
    assert_eq!(a[0].expires, t(3_600));
    // One of ours guessing: refused by its own guard, whatever the rule says.
    p.on_detection(
        t(1),
        2,
        &login(Detection::PasswordSpray, "10.1.2.3"),
        Phase::Started,
        None,
    );
    assert_eq!(refused(&drain(&mut p)), [Guard::Protected]);
    // A login that worked after failures: no rule bans it (it is told, not blocked).
    p.on_detection(
        t(2),
        3,
        &login(Detection::LoginAfterFailures, "198.51.100.8"),
        Phase::Started,
        None,
    );
    assert!(drain(&mut p).is_empty());
}
