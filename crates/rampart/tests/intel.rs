#![allow(clippy::unwrap_used)]
//! Threat intelligence in `rampart serve` end to end on loopback: the real `taxii2-client`
//! (OASIS, PyPI) against /taxii2/ with serve's own tokens; an indicator list feed and
//! indicators POSTed over TAXII matched against NetFlow records → `ioc_match` detections
//! in /api/v1/detections; per-feed status.

#[path = "support/daemon.rs"]
mod daemon;
#[path = "support/netflow5.rs"]
mod netflow5;

use daemon::{request, token, wait_for, Daemon, Scratch};
use netflow5::{send_v5, Rec};
use serde_json::Value;
use std::path::PathBuf;
use std::process::Command;

/// The venv with the PyPI peers (scripts/test makes target/pyenv), or `RAMPART_PYENV`.
fn python() -> PathBuf {
    let dir = std::env::var_os("RAMPART_PYENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../target/pyenv"))
        });
    let p = dir.join("bin/python");
    assert!(
        p.exists(),
        "{} is missing: run scripts/test, which makes the venv with taxii2-client and \
         stix2-validator (or set RAMPART_PYENV)",
        p.display()
    );
    p
}

fn ioc_matches(d: &Daemon, t: &str) -> Vec<Value> {
    let v = d.json("/api/v1/detections?kind=ioc_match&limit=100", t);
    let list = v["detections"].as_array().cloned().unwrap_or_default();
    list.into_iter()
        .filter(|d| d["kind"] == "ioc_match")
        .collect()
}

#[test]
fn taxii2_client_against_serve_and_ioc_matches_from_flows() {
    let dir = Scratch::new("intel");
    let list = dir.path().join("block.txt");
    std::fs::write(&list, "# test list\n192.0.2.66\nevil.example\n").unwrap();
    let analyst = token(dir.path(), "analyst", "a");
    let viewer = token(dir.path(), "viewer", "v");
    let feeds = format!(
        "intel.feeds=[{{name = \"blocklist\", kind = \"list\", path = \"{}\", tlp = \"green\", confidence = 90}}]",
        list.display()
    );
    let d = Daemon::start(
        dir.path(),
        &[
            "--set".into(),
            feeds,
            "--protect".into(),
            "203.0.113.0/24".into(),
        ],
    );

    // 401 without a token, TAXII media type, then the OASIS client's whole walk.
    let r = request(d.api, "GET", "/taxii2/", None, None);
    assert_eq!(r.status, 401, "{}", r.body);
    let r = request(d.api, "GET", "/taxii2/", Some(&viewer), None);
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r
        .headers
        .to_ascii_lowercase()
        .contains("application/taxii+json;version=2.1"));
    let out = Command::new(python())
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../intel/tests/py/taxii2client_check.py"
        ))
        .arg(format!("http://{}/taxii2/", d.api))
        .arg(&analyst)
        .arg(&viewer)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("taxii2-client: all checks passed"),
        "{text}\n{}",
        d.log()
    );

    // The list feed is loaded by the refresh thread.
    wait_for(20, "the list feed", || {
        let s = d.json("/api/v1/status", &viewer);
        (s["intel"]["feeds"]["blocklist"]["refreshes"].as_u64() >= Some(1)
            && s["intel"]["matchers"]["indicators"].as_u64() >= Some(2))
        .then_some(())
    });

    // A listed address talking to one of ours, one of ours reaching an address added over
    // TAXII (198.51.100.3, by the client's walk), and clean traffic.
    let rec = |src: [u8; 4], dst: [u8; 4], sport, dport| Rec {
        src: src.into(),
        dst: dst.into(),
        sport,
        dport,
        proto: 6,
        flags: 0x12,
        packets: 4,
        duration_ms: 100,
    };
    send_v5(
        d.flow,
        &[
            rec([192, 0, 2, 66], [203, 0, 113, 10], 443, 50000),
            rec([203, 0, 113, 11], [198, 51, 100, 3], 50001, 443),
            rec([203, 0, 113, 12], [192, 0, 2, 200], 50002, 443),
        ],
    );
    let found = wait_for(20, "two ioc_match detections", || {
        let m = ioc_matches(&d, &viewer);
        (m.len() >= 2).then_some(m)
    });
    let by_value = |v: &str| {
        found
            .iter()
            .find(|d| d["value"] == v)
            .unwrap_or_else(|| panic!("no ioc_match for {v}: {found:?}"))
            .clone()
    };
    let listed = by_value("192.0.2.66");
    assert_eq!(listed["feed"], "blocklist");
    assert_eq!(listed["matched_in"], "flow_src");
    assert_eq!(listed["internal_host"], "203.0.113.10");
    assert_eq!(listed["tlp"], "green");
    assert_eq!(listed["pattern"], "[ipv4-addr:value = '192.0.2.66']");
    let shared = by_value("198.51.100.3");
    assert_eq!(shared["matched_in"], "flow_dst");
    assert_eq!(shared["internal_host"], "203.0.113.11");
    assert!(shared["indicator_id"]
        .as_str()
        .unwrap()
        .starts_with("indicator--"));
    assert!(shared["feed"].as_str().unwrap().starts_with("taxii:"));
    assert_eq!(found.len(), 2, "{found:?}");
    let s = d.json("/api/v1/status", &viewer);
    assert!(s["intel"]["ioc"]["flows_checked"].is_u64(), "{s}");
    let m = request(d.api, "GET", "/metrics", Some(&viewer), None);
    assert!(
        m.body
            .contains("rampart_intel_feed_refreshes_total{feed=\"blocklist\"}"),
        "{}",
        m.body
    );
    d.stop();
}
