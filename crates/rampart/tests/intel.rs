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

fn rampart(dir: &std::path::Path, args: &[&str]) -> String {
    let out = Command::new(daemon::RAMPART)
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "rampart {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn assert_valid_stix(dir: &std::path::Path, name: &str, bundle: &str) {
    let file = dir.join(name);
    std::fs::write(&file, bundle).unwrap();
    let validator = python().with_file_name("stix2_validator");
    let out = Command::new(validator)
        .args(["--strict", "--enforce-refs", "-v"])
        .arg(&file)
        .output()
        .unwrap();
    let out = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.contains("STIX JSON: Valid") && !out.contains("Invalid"),
        "{out}"
    );
}

#[test]
fn detection_export_publish_and_the_intel_cli() {
    let dir = Scratch::new("intel-cli");
    let analyst = token(dir.path(), "analyst", "a");
    let viewer = token(dir.path(), "viewer", "v");
    let d = Daemon::start(dir.path(), &["--protect".into(), "203.0.113.0/24".into()]);
    // A vertical scan of 203.0.113.10 from 198.51.100.66 (150 ports, SYN only).
    let probes: Vec<Rec> = (1..=150)
        .map(|p| Rec {
            src: [198, 51, 100, 66].into(),
            dst: [203, 0, 113, 10].into(),
            sport: 40000,
            dport: p,
            proto: 6,
            flags: 0x02,
            packets: 1,
            duration_ms: 0,
        })
        .collect();
    send_v5(d.flow, &probes);
    let scan = wait_for(20, "a scan detection", || {
        let v = d.json("/api/v1/detections?kind=scan", &viewer);
        v["detections"].as_array().and_then(|a| a.first().cloned())
    });
    let id = scan["id"].as_u64().unwrap();

    // The detection as STIX: the scanner, nothing of ours; valid for the OASIS validator.
    let r = request(
        d.api,
        "GET",
        &format!("/api/v1/detections/{id}/stix"),
        Some(&viewer),
        None,
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(
        r.body.contains("[ipv4-addr:value = '198.51.100.66']"),
        "{}",
        r.body
    );
    assert!(!r.body.contains("203.0.113."), "{}", r.body);
    assert_valid_stix(dir.path(), "detection.json", &r.body);
    let r = request(
        d.api,
        "GET",
        "/api/v1/detections/999999/stix",
        Some(&viewer),
        None,
    );
    assert_eq!(r.status, 404);

    // Publishing: viewers may not; analysts put it into the TAXII collection.
    let path = format!("/api/v1/detections/{id}/publish");
    let r = request(d.api, "POST", &path, Some(&viewer), None);
    assert_eq!(r.status, 403, "{}", r.body);
    let r = request(d.api, "POST", &path, Some(&analyst), None);
    assert_eq!(r.status, 200, "{}", r.body);
    let v: Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(v["indicators"], 1, "{v}");
    let col = rampart_intel::taxii::default_collection_id();
    let r = request(
        d.api,
        "GET",
        &format!("/taxii2/api/collections/{col}/objects/?match[type]=indicator"),
        Some(&viewer),
        None,
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.contains("198.51.100.66"), "{}", r.body);
    d.stop();

    // The CLI, on the same data directory: import a list and a STIX bundle, list, export.
    std::fs::write(dir.path().join("block.txt"), "192.0.2.99\nbad.example\n").unwrap();
    let out = rampart(
        dir.path(),
        &["intel", "import", "block.txt", "--name", "mine"],
    );
    assert!(out.contains("\"read\": 2"), "{out}");
    let bundle = r#"{"type":"bundle","id":"bundle--5d0092c5-5f74-4287-9642-33f4c354e56d","objects":[{"type":"indicator","spec_version":"2.1","id":"indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f","created":"2026-01-01T00:00:00.000Z","modified":"2026-01-01T00:00:00.000Z","pattern":"[ipv4-addr:value = '198.51.100.200']","pattern_type":"stix","valid_from":"2026-01-01T00:00:00Z"}]}"#;
    std::fs::write(dir.path().join("b.json"), bundle).unwrap();
    rampart(
        dir.path(),
        &["intel", "import", "b.json", "--name", "partner"],
    );
    let list = rampart(dir.path(), &["intel", "list"]);
    assert!(list.contains("mine\t"), "{list}");
    assert!(list.contains("[ipv4-addr:value = '192.0.2.99']"), "{list}");
    assert!(
        list.contains("indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f"),
        "{list}"
    );
    let only = rampart(dir.path(), &["intel", "list", "--source", "partner"]);
    assert_eq!(only.lines().count(), 1, "{only}");

    let stix = rampart(dir.path(), &["intel", "export", "--since", "1h"]);
    assert!(stix.contains("198.51.100.66"), "{stix}");
    assert!(!stix.contains("203.0.113."), "{stix}");
    assert_valid_stix(dir.path(), "export.json", &stix);
    let misp: Value = serde_json::from_str(&rampart(
        dir.path(),
        &["intel", "export", "--format", "misp"],
    ))
    .unwrap();
    let attrs = misp["Event"]["Attribute"].as_array().unwrap();
    assert!(attrs
        .iter()
        .any(|a| a["value"] == "198.51.100.66" && a["type"] == "ip-src" && a["to_ids"] == true));
    assert_eq!(misp["Event"]["Tag"][0]["name"], "tlp:amber");
    // Our own MISP reader takes it back: the scanner, to be matched, amber.
    let cx = rampart_intel::stix::ImportContext {
        source: "back",
        now: rampart_model::Timestamp::from_secs(1_800_000_000),
        default_tlp: rampart_intel::Tlp::Clear,
        default_confidence: None,
    };
    let back =
        rampart_intel::misp::parse_event(misp.to_string().as_bytes(), "export", &cx).unwrap();
    assert_eq!(back.errors, 0);
    let scanner = back
        .indicators
        .iter()
        .find(|i| i.pattern == "[ipv4-addr:value = '198.51.100.66']")
        .unwrap();
    assert!(scanner.detect);
    assert_eq!(scanner.tlp, rampart_intel::Tlp::Amber);
}

#[test]
fn a_running_serve_matches_what_intel_import_writes() {
    let dir = Scratch::new("intel-live-import");
    let viewer = token(dir.path(), "viewer", "v");
    let d = Daemon::start(dir.path(), &["--protect".into(), "203.0.113.0/24".into()]);
    let indicators = || {
        d.json("/api/v1/status", &viewer)["intel"]["matchers"]["indicators"]
            .as_u64()
            .unwrap()
    };
    let before = indicators();

    // Another process writes a STIX bundle into serve's intel.db while serve runs.
    let bundle = r#"{"type":"bundle","id":"bundle--0c8a7f3e-61d2-4b7e-9a55-2f0d9e4c1b6a","objects":[{"type":"indicator","spec_version":"2.1","id":"indicator--7b1e4c2a-9d3f-4e6b-8a1c-5f2e9d7c3b40","created":"2026-01-01T00:00:00.000Z","modified":"2026-01-01T00:00:00.000Z","pattern":"[ipv4-addr:value = '198.51.100.201']","pattern_type":"stix","valid_from":"2026-01-01T00:00:00Z"}]}"#;
    std::fs::write(dir.path().join("partner.json"), bundle).unwrap();
    rampart(
        dir.path(),
        &["intel", "import", "partner.json", "--name", "partner"],
    );
    wait_for(30, "the imported indicator in the matchers", || {
        (indicators() > before).then_some(())
    });
    send_v5(
        d.flow,
        &[Rec {
            src: [198, 51, 100, 201].into(),
            dst: [203, 0, 113, 10].into(),
            sport: 443,
            dport: 50000,
            proto: 6,
            flags: 0x12,
            packets: 4,
            duration_ms: 100,
        }],
    );
    let hit = wait_for(30, "an ioc_match for the imported indicator", || {
        ioc_matches(&d, &viewer)
            .into_iter()
            .find(|m| m["value"] == "198.51.100.201")
    });
    assert_eq!(hit["feed"], "partner");
    assert_eq!(
        hit["indicator_id"],
        "indicator--7b1e4c2a-9d3f-4e6b-8a1c-5f2e9d7c3b40"
    );
    assert_eq!(hit["internal_host"], "203.0.113.10");

    // A second import (a list) is picked up as well.
    let after_first = indicators();
    std::fs::write(dir.path().join("more.txt"), "192.0.2.77\nworse.example\n").unwrap();
    rampart(
        dir.path(),
        &["intel", "import", "more.txt", "--name", "more"],
    );
    wait_for(30, "the listed indicators in the matchers", || {
        (indicators() >= after_first + 2).then_some(())
    });
    assert!(
        d.log()
            .contains("matchers rebuilt after another process wrote to the store"),
        "{}",
        d.log()
    );
    d.stop();
}
