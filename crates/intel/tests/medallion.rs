//! Our TAXII client against medallion, the OASIS reference TAXII 2.1 server (PyPI), on
//! loopback: discovery, collections, polling with paging (medallion pages by 2 here) and
//! `added_after`, basic auth; then a `taxii` feed refreshed through the engine, twice.

#![allow(clippy::unwrap_used)] // helpers of the tests fail the test

mod common;

use common::*;
use rampart_intel::feeds::{FeedAuth, FeedConfig, FeedKind, Intel, IntelConfig};
use rampart_intel::store::{IndicatorStore, SqliteIntelStore};
use rampart_intel::taxii::client::{ClientError, TaxiiClient};
use rampart_model::Timestamp;
use serde_json::json;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

const COLLECTION: &str = "91a7b528-80eb-42ed-a74d-c6fbd5a26116";

struct Medallion(Child);

impl Drop for Medallion {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn indicator(i: u32) -> serde_json::Value {
    json!({
        "type": "indicator",
        "spec_version": "2.1",
        "id": format!("indicator--{:08x}-1111-4111-8111-111111111111", i),
        "created": "2026-01-01T00:00:00.000Z",
        "modified": "2026-01-01T00:00:00.000Z",
        "pattern": format!("[ipv4-addr:value = '198.51.100.{i}']"),
        "pattern_type": "stix",
        "valid_from": "2026-01-01T00:00:00Z",
        "object_marking_refs": ["marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb"],
    })
}

fn start_medallion() -> (Medallion, String) {
    let dir = scratch("medallion");
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let objects: Vec<_> = (1..=5).map(indicator).collect();
    let manifest: Vec<_> = (1..=5)
        .map(|i| {
            json!({
                "id": format!("indicator--{:08x}-1111-4111-8111-111111111111", i),
                "date_added": format!("2026-01-0{i}T00:00:00.000000Z"),
                "version": "2026-01-01T00:00:00.000Z",
                "media_type": "application/stix+json;version=2.1",
            })
        })
        .collect();
    let data = json!({
        "/discovery": {
            "title": "medallion for rampart's tests",
            "description": "",
            "default": format!("{base}/trustgroup1/"),
            "api_roots": [format!("{base}/trustgroup1/")],
        },
        "trustgroup1": {
            "information": {
                "title": "trust group 1",
                "description": "",
                "versions": ["application/taxii+json;version=2.1"],
                "max_content_length": 9765625,
            },
            "status": [],
            "collections": [{
                "id": COLLECTION,
                "title": "High Value Indicator Collection",
                "description": "",
                "can_read": true,
                "can_write": true,
                "media_types": ["application/stix+json;version=2.1"],
                "objects": objects,
                "manifest": manifest,
            }],
        },
    });
    std::fs::write(dir.join("data.json"), data.to_string()).unwrap();
    let config = json!({
        "backend": {
            "module": "medallion.backends.memory_backend",
            "module_class": "MemoryBackend",
            "filename": dir.join("data.json"),
        },
        "users": { "rampart": "s3cret" },
        "taxii": { "max_page_size": 2 },
    });
    std::fs::write(dir.join("config.json"), config.to_string()).unwrap();
    let child = Command::new(py_tool("medallion"))
        .args(["--host", "127.0.0.1", "--port", &port.to_string()])
        .arg(dir.join("config.json"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start medallion");
    let m = Medallion(child);
    assert!(
        wait_port(port, Duration::from_secs(20)),
        "medallion did not listen on {port}"
    );
    (m, base)
}

fn auth() -> FeedAuth {
    FeedAuth::Basic {
        user: "rampart".into(),
        password: "s3cret".into(),
    }
}

#[test]
fn our_client_against_medallion() {
    let (_m, base) = start_medallion();
    let client = TaxiiClient::new(Some(&auth()), Duration::from_secs(10));
    let d = client.discover(&format!("{base}/taxii2/")).unwrap();
    assert_eq!(d.api_roots, [format!("{base}/trustgroup1/")]);
    let cols = client.collections(&d.api_roots[0]).unwrap();
    assert_eq!(cols[0].id, COLLECTION);
    assert!(cols[0].can_read);
    let col_url = format!("{}collections/{COLLECTION}/", d.api_roots[0]);

    let mut ids = Vec::new();
    let poll = client
        .poll(&col_url, None, 2, |raw| {
            let v: serde_json::Value = serde_json::from_str(raw.get()).unwrap();
            ids.push(v["id"].as_str().unwrap().to_string());
        })
        .unwrap();
    assert_eq!((poll.objects, poll.pages), (5, 3), "{ids:?}");
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 5);
    let last = poll
        .added_last
        .expect("medallion sends X-TAXII-Date-Added-Last");
    assert!(last.starts_with("2026-01-05"), "{last}");
    let again = client.poll(&col_url, Some(&last), 2, |_| {}).unwrap();
    assert_eq!(again.objects, 0);

    // Wrong password: a clear error naming the URL and status.
    let bad = TaxiiClient::new(
        Some(&FeedAuth::Basic {
            user: "rampart".into(),
            password: "wrong".into(),
        }),
        Duration::from_secs(10),
    );
    match bad.poll(&col_url, None, 2, |_| {}) {
        Err(ClientError::Status {
            status: 401, url, ..
        }) => assert!(url.contains(COLLECTION)),
        other => panic!("{other:?}"),
    }

    // A taxii feed through the engine: five indicators matched; a new object added to
    // medallion arrives on the next refresh, and only it.
    let store = Arc::new(SqliteIntelStore::open(&scratch("feed").join("intel.db")).unwrap());
    let mut feed = FeedConfig::new("partner", FeedKind::Taxii);
    feed.url = Some(col_url.clone());
    feed.auth = Some(auth());
    feed.page_size = 2;
    let intel = Intel::new(
        IntelConfig {
            feeds: vec![feed],
            ..IntelConfig::default()
        },
        store.clone(),
    );
    let now = Timestamp::from_secs(1_800_000_000);
    let r = intel.refresh("partner", now).unwrap();
    assert_eq!((r.read, r.written, r.errors), (5, 5, 0), "{r:?}");
    let set = intel.indicators().load();
    let m = set.lookup_ip("198.51.100.3".parse().unwrap());
    assert_eq!(m.len(), 1);
    assert_eq!(m[0].source, "partner");
    assert_eq!(m[0].tlp, rampart_intel::Tlp::Green);
    let status = client
        .add(&col_url, &json!({ "objects": [indicator(6)] }))
        .unwrap();
    assert_eq!(status["success_count"], 1, "{status}");
    let r = intel
        .refresh("partner", now.saturating_add_millis(1000))
        .unwrap();
    assert_eq!(r.read, 1, "{r:?}");
    assert_eq!(store.count(Some("partner")).unwrap(), 6);
    assert!(intel
        .indicators()
        .load()
        .contains_ip("198.51.100.6".parse().unwrap()));
    let state = store.feed_state("partner").unwrap().unwrap();
    assert!(state.last_error.is_none() && !state.cursor.is_empty());
}
