//! Feeds end to end through the engine: a MISP feed in MISP's layout (served by Python's
//! http.server on loopback, and from a directory), incremental refresh and expiry; plain
//! and CSV lists; STIX bundle files; hostile inputs refused with errors that name them.

#![allow(clippy::unwrap_used)] // helpers of the tests fail the test

mod common;

use common::*;
use rampart_intel::feeds::{FeedConfig, FeedError, FeedKind, Intel, IntelConfig};
use rampart_intel::store::{IndicatorQuery, IndicatorStore, SqliteIntelStore};
use rampart_intel::{HashAlgo, Tlp};
use rampart_model::Timestamp;
use serde_json::json;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

const EV1: &str = "5f1b9c5e-0d3c-4a0e-9b0e-0a0b0c0d0e01";
const EV2: &str = "5f1b9c5e-0d3c-4a0e-9b0e-0a0b0c0d0e02";

fn event(uuid: &str, ts: u64, attrs: serde_json::Value) -> serde_json::Value {
    json!({"Event": {
        "uuid": uuid, "info": format!("event {uuid}"), "date": "2026-11-01",
        "timestamp": ts.to_string(), "publish_timestamp": ts.to_string(),
        "analysis": "2", "threat_level_id": "1",
        "Orgc": {"name": "CIRCL", "uuid": "55f6ea5e-2c60-40e5-964f-47a8950d210f"},
        "Tag": [{"name": "tlp:green", "colour": "#33FF00"}],
        "Attribute": attrs,
        "Object": [],
    }})
}

fn attr(uuid: &str, kind: &str, value: &str, to_ids: bool) -> serde_json::Value {
    json!({"uuid": uuid, "type": kind, "category": "Network activity", "value": value,
           "to_ids": to_ids, "timestamp": "1790000000", "comment": "", "deleted": false})
}

fn write_feed(dir: &Path, events: &[(&str, u64, serde_json::Value)]) {
    let mut manifest = serde_json::Map::new();
    for (uuid, ts, attrs) in events {
        std::fs::write(
            dir.join(format!("{uuid}.json")),
            event(uuid, *ts, attrs.clone()).to_string(),
        )
        .unwrap();
        manifest.insert(
            uuid.to_string(),
            json!({"info": format!("event {uuid}"), "timestamp": ts.to_string(), "Orgc": {"name": "CIRCL"},
                   "Tag": [{"name": "tlp:green"}], "date": "2026-11-01", "analysis": 2, "threat_level_id": 1}),
        );
    }
    std::fs::write(
        dir.join("manifest.json"),
        serde_json::Value::Object(manifest).to_string(),
    )
    .unwrap();
}

struct HttpServer(Child);
impl Drop for HttpServer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn engine(feeds: Vec<FeedConfig>) -> (Intel, Arc<SqliteIntelStore>) {
    let store = Arc::new(SqliteIntelStore::open(&scratch("store").join("intel.db")).unwrap());
    let intel = Intel::new(
        IntelConfig {
            feeds,
            ..IntelConfig::default()
        },
        store.clone(),
    );
    (intel, store)
}

#[test]
fn misp_feed_over_http_end_to_end() {
    let dir = scratch("misp");
    write_feed(
        &dir,
        &[
            (
                EV1,
                1_790_000_000,
                json!([
                    attr(
                        "11111111-1111-4111-8111-111111111111",
                        "ip-dst",
                        "203.0.113.5",
                        true
                    ),
                    attr(
                        "22222222-2222-4222-8222-222222222222",
                        "domain",
                        "c2.example",
                        true
                    ),
                    attr(
                        "33333333-3333-4333-8333-333333333333",
                        "ip-src",
                        "198.51.100.9",
                        false
                    ),
                    attr(
                        "44444444-4444-4444-8444-444444444444",
                        "sha256",
                        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
                        true
                    ),
                    attr(
                        "55555555-5555-4555-8555-555555555555",
                        "email-src",
                        "x@y.example",
                        true
                    ),
                ]),
            ),
            (
                EV2,
                1_790_000_100,
                json!([attr(
                    "66666666-6666-4666-8666-666666666666",
                    "url",
                    "http://evil.example/gate.php",
                    true
                )]),
            ),
        ],
    );
    let port = free_port();
    let _http = HttpServer(
        Command::new("python3")
            .args([
                "-m",
                "http.server",
                "--bind",
                "127.0.0.1",
                &port.to_string(),
                "--directory",
            ])
            .arg(&dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3 -m http.server"),
    );
    assert!(wait_port(port, Duration::from_secs(20)));
    let mut feed = FeedConfig::new("circl", FeedKind::Misp);
    feed.url = Some(format!("http://127.0.0.1:{port}/"));
    feed.expire_after_s = 3600;
    let (intel, store) = engine(vec![feed]);
    let t0 = Timestamp::from_secs(1_800_000_000);
    let r = intel.refresh("circl", t0).unwrap();
    assert_eq!((r.read, r.errors, r.other), (5, 0, 1), "{r:?}");
    let set = intel.indicators().load();
    let hit = set.lookup_ip("203.0.113.5".parse().unwrap());
    assert_eq!(
        hit[0].indicator_id,
        Some("indicator--11111111-1111-4111-8111-111111111111")
    );
    assert_eq!((hit[0].source, hit[0].tlp), ("circl", Tlp::Green));
    assert_eq!(set.lookup_domain("C2.example").len(), 1);
    assert_eq!(set.lookup_url("http://EVIL.example/gate.php").len(), 1);
    assert_eq!(
        set.lookup_hash(
            HashAlgo::Sha256,
            "E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855"
        )
        .len(),
        1
    );
    // to_ids false: kept as context, listed, never matched.
    assert!(set.lookup_ip("198.51.100.9".parse().unwrap()).is_empty());
    let all = store
        .indicators(&IndicatorQuery {
            source: Some("circl".into()),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(all.len(), 5);
    assert!(all
        .iter()
        .any(|i| !i.detect && i.pattern.contains("198.51.100.9")));

    // Unchanged events are not fetched again but stay fresh; a changed one is re-read; a
    // removed one expires after expire_after_s.
    write_feed(
        &dir,
        &[(
            EV1,
            1_790_000_000,
            json!([attr(
                "11111111-1111-4111-8111-111111111111",
                "ip-dst",
                "203.0.113.5",
                true
            )]),
        )],
    );
    std::fs::write(
        dir.join(format!("{EV1}.json")),
        "this would fail if fetched",
    )
    .unwrap();
    let r = intel
        .refresh("circl", t0.saturating_add_millis(1_800_000))
        .unwrap();
    assert_eq!((r.errors, r.expired), (0, 0), "{r:?}");
    let r = intel
        .refresh("circl", t0.saturating_add_millis(4_000_000))
        .unwrap();
    assert_eq!(r.expired, 1, "the url of the removed event expires: {r:?}");
    assert!(intel
        .indicators()
        .load()
        .lookup_url("http://evil.example/gate.php")
        .is_empty());
    assert!(intel
        .indicators()
        .load()
        .contains_ip("203.0.113.5".parse().unwrap()));
    // A broken event file is counted and named; the feed goes on.
    write_feed(&dir, &[(EV2, 1_790_000_200, json!([]))]);
    std::fs::write(dir.join(format!("{EV2}.json")), "{\"Event\": [").unwrap();
    let r = intel
        .refresh("circl", t0.saturating_add_millis(5_000_000))
        .unwrap();
    assert_eq!(r.errors, 1);
    assert!(r.first_errors[0].contains(EV2), "{r:?}");
}

#[test]
fn misp_feed_from_a_directory_and_unsafe_manifest_keys() {
    let dir = scratch("misp-dir");
    write_feed(
        &dir,
        &[(
            EV1,
            1,
            json!([attr(
                "11111111-1111-4111-8111-111111111111",
                "ip-dst|port",
                "192.0.2.44|443",
                true
            )]),
        )],
    );
    let text = serde_json::to_string(
        &serde_json::from_reader::<_, serde_json::Value>(
            std::fs::File::open(dir.join("manifest.json")).unwrap(),
        )
        .unwrap(),
    )
    .unwrap();
    let text = text.replacen('{', "{\"../../etc/passwd\":{\"timestamp\":\"1\"},", 1);
    std::fs::write(dir.join("manifest.json"), text).unwrap();
    let mut feed = FeedConfig::new("local", FeedKind::Misp);
    feed.path = Some(dir.clone());
    let (intel, _) = engine(vec![feed]);
    let r = intel
        .refresh("local", Timestamp::from_secs(1_800_000_000))
        .unwrap();
    assert_eq!((r.read, r.errors), (1, 1), "{r:?}");
    assert!(intel
        .indicators()
        .load()
        .contains_ip("192.0.2.44".parse().unwrap()));
}

#[test]
fn lists_csv_and_bundles() {
    let dir = scratch("lists");
    std::fs::write(
        dir.join("block.txt"),
        "# drop list\n192.0.2.0/24\n2001:db8:bad::/48\nbad.example\nnot/valid\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("urls.csv"),
        "# id,dateadded,url,url_status\n1,2026-01-01,\"http://a.example/x\",online\n",
    )
    .unwrap();
    let bundle = json!({"type": "bundle", "id": "bundle--5d0092c5-5f74-4287-9642-33f4c354e56d", "objects": [
        {"type": "indicator", "spec_version": "2.1", "id": "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",
         "created": "2026-01-01T00:00:00.000Z", "modified": "2026-01-01T00:00:00.000Z",
         "pattern": "[ipv4-addr:value = '198.51.100.1'] OR [domain-name:value = 'x.example']", "pattern_type": "stix",
         "valid_from": "2026-01-01T00:00:00Z", "confidence": 85},
        {"type": "indicator", "spec_version": "2.1", "id": "indicator--9e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",
         "created": "2026-01-01T00:00:00.000Z", "modified": "2026-01-01T00:00:00.000Z",
         "pattern": "[file:name = 'a.exe'] FOLLOWEDBY [ipv4-addr:value = '198.51.100.2']", "pattern_type": "stix",
         "valid_from": "2026-01-01T00:00:00Z"}
    ]});
    std::fs::write(dir.join("bundle.json"), bundle.to_string()).unwrap();
    let mut list = FeedConfig::new("drop", FeedKind::List);
    list.path = Some(dir.join("block.txt"));
    list.tlp = Tlp::Clear;
    let mut csv = FeedConfig::new("urlhaus", FeedKind::Csv);
    csv.path = Some(dir.join("urls.csv"));
    csv.column = Some("url".into());
    let mut stix = FeedConfig::new("bundle", FeedKind::Stix);
    stix.path = Some(dir.join("bundle.json"));
    let (intel, store) = engine(vec![list, csv, stix]);
    let now = Timestamp::from_secs(1_800_000_000);
    assert_eq!(intel.due(now).len(), 3);
    let reports = intel.refresh_due(now);
    let reports: Vec<_> = reports.into_iter().map(Result::unwrap).collect();
    assert_eq!(reports[0].errors, 1, "{reports:?}");
    assert!(intel.due(now.saturating_add_millis(1000)).is_empty());
    let set = intel.indicators().load();
    assert_eq!(
        set.lookup_ip("192.0.2.77".parse().unwrap())[0].source,
        "drop"
    );
    assert_eq!(set.lookup_ip("2001:db8:bad::1".parse().unwrap()).len(), 1);
    assert_eq!(set.lookup_domain("www.bad.example").len(), 1);
    assert_eq!(set.lookup_url("http://a.example/x")[0].source, "urlhaus");
    let m = set.lookup_domain("x.example");
    assert_eq!((m[0].confidence, m[0].tlp), (Some(85), Tlp::Amber));
    // The FOLLOWEDBY pattern is kept and listed, never matched.
    assert!(!set.contains_ip("198.51.100.2".parse().unwrap()));
    assert_eq!(store.count(Some("bundle")).unwrap(), 2);
    // The list is replaced whole at the next load.
    std::fs::write(dir.join("block.txt"), "198.51.100.200\n").unwrap();
    intel
        .refresh("drop", now.saturating_add_millis(5_000_000))
        .unwrap();
    let set = intel.indicators().load();
    assert!(!set.contains_ip("192.0.2.77".parse().unwrap()));
    assert!(set.contains_ip("198.51.100.200".parse().unwrap()));
    // Removing a feed from the config drops its indicators.
    let mut c = (*intel.config()).clone();
    c.feeds.retain(|f| f.name != "bundle");
    intel.reconfigure(c, now).unwrap();
    assert_eq!(store.count(Some("bundle")).unwrap(), 0);
    assert!(intel
        .indicators()
        .load()
        .lookup_domain("x.example")
        .is_empty());
}

#[test]
fn hostile_inputs_are_refused_with_clear_errors() {
    let dir = scratch("hostile");
    let big = dir.join("big.json");
    std::fs::write(
        &big,
        format!(
            "{{\"type\":\"bundle\",\"objects\":[{}]}}",
            "{}, ".repeat(100_000) + "{}"
        ),
    )
    .unwrap();
    std::fs::write(
        dir.join("broken.json"),
        "{\"type\":\"bundle\",\"objects\":[{\"type\":",
    )
    .unwrap();
    std::fs::write(dir.join("deep.json"), "[".repeat(1_000_000)).unwrap();
    std::fs::write(
        dir.join("report.json"),
        "{\"type\":\"report\",\"objects\":[]}",
    )
    .unwrap();
    let feed = |name: &str, file: &str, max: u64| {
        let mut f = FeedConfig::new(name, FeedKind::Stix);
        f.path = Some(dir.join(file));
        f.max_bytes = max;
        f
    };
    let mut missing = FeedConfig::new("missing", FeedKind::List);
    missing.path = Some(dir.join("nope.txt"));
    let mut unreachable = FeedConfig::new("unreachable", FeedKind::List);
    unreachable.url = Some(format!("http://127.0.0.1:{}/list.txt", free_port()));
    let (intel, store) = engine(vec![
        feed("big", "big.json", 100_000),
        feed("broken", "broken.json", 1 << 20),
        feed("deep", "deep.json", 10 << 20),
        feed("report", "report.json", 1 << 20),
        missing,
        unreachable,
    ]);
    let now = Timestamp::from_secs(1_800_000_000);
    let expect = |name: &str, words: &[&str]| {
        let e = intel.refresh(name, now).unwrap_err();
        let text = e.to_string();
        assert!(
            matches!(e, FeedError::Fetch { .. } | FeedError::Parse { .. }),
            "{text}"
        );
        assert!(text.starts_with(&format!("feed `{name}`")), "{text}");
        for w in words {
            assert!(text.contains(w), "{name}: `{text}` lacks `{w}`");
        }
        let st = store.feed_state(name).unwrap().unwrap();
        assert_eq!(st.last_error.as_deref(), Some(text.as_str()));
    };
    expect("big", &["larger than 100000 bytes"]);
    expect("broken", &["not a STIX bundle", "EOF"]);
    expect("deep", &["not a STIX bundle"]);
    expect("report", &["not `bundle`"]);
    expect("missing", &["nope.txt"]);
    expect("unreachable", &["127.0.0.1"]);
    assert_eq!(store.count(None).unwrap(), 0);
}
