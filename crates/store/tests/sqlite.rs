#![allow(clippy::unwrap_used)]
//! The SQLite store end to end on real files: detections and timelines, audit, traffic
//! rollups, tokens, retention, migrations and two processes' handles on one file.

use rampart_model::{
    ActionKind, Cidr, DdosDetection, DdosVector, Detection, Direction, Mitigation, MitigationState,
    Role, ScanDetection, ScanProtocol, ScanType, Timestamp,
};
use rampart_store::{
    AuditEntry, AuditQuery, DetectionQuery, DetectionState, DetectionUpdate, MitigationQuery,
    Retention, Scope, SqliteStore, Store, TimelineEntry, TrafficSample,
};
use serde_json::json;
use std::path::PathBuf;

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("rampart-store-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn attack(target: &str, start_s: u64, end_s: Option<u64>, peak: u64) -> Detection {
    Detection::Ddos(DdosDetection {
        vector: DdosVector::SynFlood,
        vectors: vec![DdosVector::SynFlood],
        target: target.parse().unwrap(),
        direction: Direction::Inbound,
        start: Timestamp::from_secs(start_s),
        end: end_s.map(Timestamp::from_secs),
        peak_pps: peak,
        peak_bps: peak * 480,
        confidence: 0.9,
        top_sources: vec![],
        top_destinations: vec![],
        top_src_ports: vec![],
        top_dst_ports: vec![],
        spoofed_sources: true,
        packet_size: None,
        ttl: None,
        samples: peak,
        evidence: "syn".into(),
    })
}

fn entry(at_s: u64, event: &str) -> TimelineEntry {
    TimelineEntry {
        at: Timestamp::from_secs(at_s),
        event: event.into(),
        summary: format!("{event} at {at_s}"),
        detail: json!({"at": at_s}),
    }
}

#[test]
fn a_detection_lives_updates_and_ends_with_its_timeline() {
    let store = SqliteStore::in_memory().unwrap();
    let d = attack("203.0.113.10", 100, None, 30_000);
    let id = store
        .save_detection(&DetectionUpdate {
            id: None,
            detection: &d,
            state: DetectionState::Active,
            entry: entry(100, "started"),
        })
        .unwrap();
    let d2 = attack("203.0.113.10", 100, None, 90_000);
    store
        .save_detection(&DetectionUpdate {
            id: Some(id),
            detection: &d2,
            state: DetectionState::Active,
            entry: entry(103, "updated"),
        })
        .unwrap();
    store.add_timeline(id, &entry(104, "action")).unwrap();
    // A detection lost by a restart is ended by the store; an ended one is left alone.
    let lost = store
        .save_detection(&DetectionUpdate {
            id: None,
            detection: &d,
            state: DetectionState::Active,
            entry: entry(100, "started"),
        })
        .unwrap();
    assert!(store
        .end_detection(lost, Timestamp::from_secs(120), &entry(150, "ended"))
        .unwrap());
    let got = store.detection(lost).unwrap().unwrap();
    assert_eq!(got.state, DetectionState::Ended);
    assert_eq!(got.body["end"], "1970-01-01T00:02:00.000Z");
    assert_eq!(got.end, Some(Timestamp::from_secs(120)));
    assert!(!store
        .end_detection(lost, Timestamp::from_secs(130), &entry(160, "ended"))
        .unwrap());
    assert_eq!(store.detection(lost).unwrap().unwrap().timeline.len(), 2);
    let d3 = attack("203.0.113.10", 100, Some(130), 90_000);
    store
        .save_detection(&DetectionUpdate {
            id: Some(id),
            detection: &d3,
            state: DetectionState::Ended,
            entry: entry(140, "ended"),
        })
        .unwrap();
    let got = store.detection(id).unwrap().unwrap();
    assert_eq!(got.kind, "ddos");
    assert_eq!(got.state, DetectionState::Ended);
    assert_eq!(got.target, "203.0.113.10");
    assert_eq!(got.direction, Some(Direction::Inbound));
    assert_eq!(got.end, Some(Timestamp::from_secs(130)));
    assert_eq!(got.updated, Timestamp::from_secs(140));
    assert_eq!(got.body["peak_pps"], 90_000);
    assert_eq!(got.body["kind"], "ddos");
    let events: Vec<&str> = got.timeline.iter().map(|e| e.event.as_str()).collect();
    assert_eq!(events, ["started", "updated", "action", "ended"]);
    assert_eq!(got.timeline[1].detail["at"], 103);
    assert!(store.detection(lost + 1).unwrap().is_none());
    // Updating what does not exist is an error, not a silent insert.
    assert!(store
        .save_detection(&DetectionUpdate {
            id: Some(lost + 7),
            detection: &d3,
            state: DetectionState::Ended,
            entry: entry(141, "ended"),
        })
        .is_err());
}

#[test]
fn listings_filter_by_kind_state_time_and_page() {
    let store = SqliteStore::in_memory().unwrap();
    let mut ids = vec![];
    for i in 0..5u64 {
        let end = (i % 2 == 0).then_some(i * 100 + 50);
        let d = attack(&format!("203.0.113.{i}"), i * 100, end, 1000);
        ids.push(
            store
                .save_detection(&DetectionUpdate {
                    id: None,
                    detection: &d,
                    state: if end.is_some() {
                        DetectionState::Ended
                    } else {
                        DetectionState::Active
                    },
                    entry: entry(i * 100, "started"),
                })
                .unwrap(),
        );
    }
    let scan = Detection::Scan(ScanDetection {
        source: "198.51.100.7".parse().unwrap(),
        target: "203.0.113.0/24".parse::<Cidr>().unwrap(),
        ports: 1,
        hosts: 200,
        scan_type: ScanType::Horizontal,
        direction: Direction::Inbound,
        protocol: ScanProtocol::Tcp,
        top_dst_ports: vec![],
        probes: 200,
        answered: 0,
        start: Timestamp::from_secs(10),
        end: None,
        last_seen: Timestamp::from_secs(20),
        confidence: 0.8,
        evidence: "scan".into(),
    });
    let scan_id = store
        .save_detection(&DetectionUpdate {
            id: None,
            detection: &scan,
            state: DetectionState::Active,
            entry: entry(20, "started"),
        })
        .unwrap();
    let q = |kind: Option<&str>, state: Option<DetectionState>| DetectionQuery {
        kind: kind.map(String::from),
        state,
        limit: 100,
        ..Default::default()
    };
    let all = store.detections(&q(None, None)).unwrap();
    assert_eq!(all.len(), 6);
    assert_eq!(all[0].id, scan_id, "newest first");
    assert!(all.iter().all(|d| d.timeline.is_empty()));
    let ddos_active = store
        .detections(&q(Some("ddos"), Some(DetectionState::Active)))
        .unwrap();
    assert_eq!(
        ddos_active.iter().map(|d| d.id).collect::<Vec<_>>(),
        [ids[3], ids[1]]
    );
    let scans = store.detections(&q(Some("scan"), None)).unwrap();
    assert_eq!(scans[0].source.as_deref(), Some("198.51.100.7"));
    // Active at some moment in [220, 260]: ended at 250 (i = 2), and the open ones from
    // before 260 (i = 1), not the one that started at 300 or ended at 50.
    let window = store
        .detections(&DetectionQuery {
            kind: Some("ddos".into()),
            since: Some(Timestamp::from_secs(220)),
            until: Some(Timestamp::from_secs(260)),
            limit: 100,
            with_timeline: true,
            ..Default::default()
        })
        .unwrap();
    assert_eq!(
        window.iter().map(|d| d.id).collect::<Vec<_>>(),
        [ids[2], ids[1]]
    );
    assert_eq!(window[0].timeline.len(), 1);
    let page = store
        .detections(&DetectionQuery {
            before_id: Some(ids[3]),
            limit: 2,
            ..Default::default()
        })
        .unwrap();
    assert_eq!(
        page.iter().map(|d| d.id).collect::<Vec<_>>(),
        [ids[2], ids[1]]
    );
}

#[test]
fn audit_log_appends_and_lists_newest_first() {
    let store = SqliteStore::in_memory().unwrap();
    for i in 0..3u64 {
        store
            .append_audit(&AuditEntry {
                at: Timestamp::from_secs(i),
                actor: "token:alice".into(),
                action: "mitigation.announce".into(),
                subject: format!("203.0.113.{i}/32"),
                detection_id: Some(i),
                result: "dry_run".into(),
                detail: json!({"ttl_s": 600}),
            })
            .unwrap();
    }
    let got = store
        .audit(&AuditQuery {
            since: Some(Timestamp::from_secs(1)),
            limit: 10,
            ..Default::default()
        })
        .unwrap();
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].entry.subject, "203.0.113.2/32");
    assert_eq!(got[0].entry.detail["ttl_s"], 600);
    let json = serde_json::to_value(&got[0]).unwrap();
    assert_eq!(
        json["actor"], "token:alice",
        "entry fields are flat: {json}"
    );
    assert!(json["id"].is_u64());
}

#[test]
fn traffic_rollups_sum_and_rank() {
    let store = SqliteStore::in_memory().unwrap();
    let row = |minute, scope, key: &str, direction, packets| TrafficSample {
        minute,
        scope,
        key: key.into(),
        direction,
        packets,
        bytes: packets * 100,
        flows: 1,
    };
    let m = 29_000_000u64; // a minute in 2025
    store
        .add_traffic(&[
            row(m, Scope::Total, "", Direction::Inbound, 1000),
            row(m, Scope::Total, "", Direction::Outbound, 200),
            row(m, Scope::Host, "203.0.113.10", Direction::Inbound, 700),
            row(m, Scope::Host, "203.0.113.11", Direction::Inbound, 300),
            row(m, Scope::Prefix, "203.0.113.0/24", Direction::Inbound, 1000),
        ])
        .unwrap();
    // The same minute again (two flushes of one minute) sums up.
    store
        .add_traffic(&[
            row(m, Scope::Total, "", Direction::Inbound, 500),
            row(m, Scope::Host, "203.0.113.11", Direction::Inbound, 900),
            row(m + 1, Scope::Total, "", Direction::Inbound, 10),
        ])
        .unwrap();
    let s = store
        .traffic(
            Timestamp::from_secs(m * 60),
            Timestamp::from_secs(m * 60 + 119),
            1,
        )
        .unwrap();
    assert_eq!(s.inbound.packets, 1510);
    assert_eq!(s.outbound.packets, 200);
    assert_eq!(s.series.len(), 2);
    assert_eq!(s.series[0].inbound.packets, 1500);
    assert_eq!(s.series[0].outbound.bytes, 20_000);
    assert_eq!(s.top_hosts.len(), 1);
    assert_eq!(s.top_hosts[0].key, "203.0.113.11");
    assert_eq!(s.top_hosts[0].volume.packets, 1200);
    assert_eq!(s.top_prefixes[0].key, "203.0.113.0/24");
    let later = store
        .traffic(
            Timestamp::from_secs((m + 1) * 60),
            Timestamp::from_secs((m + 5) * 60),
            10,
        )
        .unwrap();
    assert_eq!(later.inbound.packets, 10);
    assert!(later.top_hosts.is_empty());
}

#[test]
fn tokens_authenticate_until_revoked_and_keep_no_secret() {
    let dir = temp_dir("tokens");
    let store = SqliteStore::open(&dir).unwrap();
    let t = store
        .create_token("alice", Role::Analyst, Timestamp::from_secs(5))
        .unwrap();
    assert!(t.secret.starts_with("rmp_"));
    let who = store
        .authenticate(&t.secret, Timestamp::from_secs(6))
        .unwrap()
        .unwrap();
    assert_eq!((who.name.as_str(), who.role), ("alice", Role::Analyst));
    assert!(store
        .authenticate("rmp_wrong", Timestamp::from_secs(6))
        .unwrap()
        .is_none());
    assert_eq!(
        store.tokens().unwrap()[0].last_used,
        Some(Timestamp::from_secs(6))
    );
    // The file holds the hash only.
    drop(store);
    let mut raw = Vec::new();
    use std::io::Read;
    #[allow(clippy::disallowed_methods)] // bounded by take()
    std::fs::File::open(dir.join("rampart.db"))
        .unwrap()
        .take(1 << 24)
        .read_to_end(&mut raw)
        .unwrap();
    let needle = &t.secret.as_bytes()[4..20];
    assert!(!raw.windows(needle.len()).any(|w| w == needle));
    let store = SqliteStore::open(&dir).unwrap();
    assert!(store.revoke_token(t.info.id).unwrap());
    assert!(!store.revoke_token(t.info.id).unwrap());
    assert!(store
        .authenticate(&t.secret, Timestamp::from_secs(7))
        .unwrap()
        .is_none());
    assert!(store.tokens().unwrap().is_empty());
    assert!(store
        .create_token("", Role::Admin, Timestamp::EPOCH)
        .is_err());
}

#[test]
fn prune_keeps_what_retention_allows() {
    let store = SqliteStore::in_memory().unwrap();
    let day = 86_400u64;
    let now = 1000 * day;
    for (start, end, state) in [
        (
            now - 400 * day,
            Some(now - 399 * day),
            DetectionState::Ended,
        ),
        (now - 10 * day, Some(now - 9 * day), DetectionState::Ended),
        (now - 500 * day, None, DetectionState::Active),
    ] {
        let d = attack("203.0.113.1", start, end, 10);
        store
            .save_detection(&DetectionUpdate {
                id: None,
                detection: &d,
                state,
                entry: entry(start, "started"),
            })
            .unwrap();
    }
    store
        .add_traffic(&[TrafficSample {
            minute: (now - 40 * day) / 60,
            scope: Scope::Total,
            key: String::new(),
            direction: Direction::Inbound,
            packets: 1,
            bytes: 1,
            flows: 1,
        }])
        .unwrap();
    let stats = store
        .prune(
            Timestamp::from_secs(now),
            &Retention {
                detections_days: 365,
                traffic_days: 30,
                audit_days: 730,
            },
        )
        .unwrap();
    assert_eq!((stats.detections, stats.traffic_rows), (1, 1));
    // Active detections are never pruned, however old.
    let left = store
        .detections(&DetectionQuery {
            limit: 10,
            ..Default::default()
        })
        .unwrap();
    assert_eq!(left.len(), 2);
}

#[test]
fn reopening_keeps_data_and_a_newer_schema_is_refused() {
    let dir = temp_dir("reopen");
    let store = SqliteStore::open(&dir).unwrap();
    assert_eq!(store.schema_version().unwrap(), 2);
    let d = attack("2001:db8::1", 1, None, 5);
    let id = store
        .save_detection(&DetectionUpdate {
            id: None,
            detection: &d,
            state: DetectionState::Active,
            entry: entry(1, "started"),
        })
        .unwrap();
    // A second handle (the CLI while the daemon runs) sees the same data.
    let other = SqliteStore::open(&dir).unwrap();
    assert_eq!(other.detection(id).unwrap().unwrap().target, "2001:db8::1");
    drop((store, other));
    let conn = rusqlite::Connection::open(dir.join("rampart.db")).unwrap();
    conn.pragma_update(None, "user_version", 99).unwrap();
    drop(conn);
    let e = SqliteStore::open(&dir).unwrap_err().to_string();
    assert!(e.contains("schema version 99"), "{e}");
}

#[test]
fn mitigations_are_saved_updated_and_listed() {
    let store = SqliteStore::in_memory().unwrap();
    assert_eq!(store.max_mitigation_id().unwrap(), 0);
    let mut m = Mitigation {
        id: 5,
        kind: ActionKind::Blackhole,
        target: "203.0.113.10".parse().unwrap(),
        rules: vec![],
        detection_id: Some(2),
        reason: "rule 'floods'".into(),
        requested_by: "policy".into(),
        approved_by: None,
        created: Timestamp::from_secs(10),
        expires: Timestamp::from_secs(3610),
        state: MitigationState::Active,
        dry_run: true,
    };
    store.save_mitigation(&m, Timestamp::from_secs(10)).unwrap();
    m.state = MitigationState::Withdrawn;
    store.save_mitigation(&m, Timestamp::from_secs(20)).unwrap();
    let mut n = m.clone();
    n.id = 6;
    n.state = MitigationState::Active;
    store.save_mitigation(&n, Timestamp::from_secs(30)).unwrap();
    assert_eq!(store.max_mitigation_id().unwrap(), 6);
    let active = store
        .mitigations(&MitigationQuery {
            state: Some("active".into()),
            limit: 10,
            ..Default::default()
        })
        .unwrap();
    assert_eq!(active, [n.clone()]);
    let of_detection = store
        .mitigations(&MitigationQuery {
            detection_id: Some(2),
            limit: 10,
            ..Default::default()
        })
        .unwrap();
    assert_eq!(of_detection, [n, m]);
}
