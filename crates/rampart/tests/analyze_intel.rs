#![allow(clippy::unwrap_used)]
//! `rampart analyze` with threat intelligence: flows of a capture checked against an
//! indicator list named in `[intel]` (`ioc_match` detections), and `--format stix`: one
//! STIX 2.1 bundle of what the run found and the sharing policy lets out (scanners yes;
//! spoofed flood sources and our own space never), checked by the OASIS `stix2-validator`.

#[path = "support/traffic.rs"]
mod traffic;

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const RAMPART: &str = env!("CARGO_BIN_EXE_rampart");

fn pyenv_tool(name: &str) -> PathBuf {
    let dir = std::env::var_os("RAMPART_PYENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../target/pyenv"))
        });
    let p = dir.join("bin").join(name);
    assert!(
        p.exists(),
        "{} is missing: run scripts/test, which makes the venv with stix2-validator \
         (or set RAMPART_PYENV)",
        p.display()
    );
    p
}

fn analyze(pcap: &Path, args: &[String], format: &str) -> String {
    let out = Command::new(RAMPART)
        .arg("analyze")
        .arg(pcap)
        .args(args)
        .args(["--format", format])
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "analyze failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn analyze_matches_indicator_files_and_exports_a_valid_stix_bundle() {
    let dir = std::env::temp_dir().join(format!("rampart-analyze-intel-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    // Scans and floods: a scanner is shared, spoofed flood sources never.
    let scenario = traffic::scans(5, 7.0).attack(
        traffic::Vector::SynFlood,
        traffic::Target::Host("203.0.113.20".parse().unwrap()),
        2.0,
        3.0,
        2.0,
    );
    let pcap = dir.join("attacks.pcap");
    scenario.write(&pcap).unwrap();
    let mut args = scenario.thresholds.args();
    args.extend(traffic::scan_args());

    // Without indicators: the vertical scan, whose source we will list.
    let report: Value = serde_json::from_str(&analyze(&pcap, &args, "json")).unwrap();
    let dets = report["detections"].as_array().unwrap();
    assert!(dets.iter().all(|d| d["kind"] != "ioc_match"));
    let scanner = traffic::VERTICAL_SCANNER.to_string();
    let scan = dets
        .iter()
        .find(|d| d["kind"] == "scan" && d["source"] == scanner.as_str())
        .unwrap_or_else(|| panic!("no scan from {scanner}: {report}"));

    // With a list holding that scanner: an ioc_match for it, with the host it probed.
    let list = dir.join("block.txt");
    std::fs::write(&list, format!("# scanners\n{scanner}\n")).unwrap();
    let mut with_list = args.clone();
    with_list.push("--set".into());
    with_list.push(format!(
        "intel.feeds=[{{name = \"scanners\", kind = \"list\", path = \"{}\"}}]",
        list.display()
    ));
    let report: Value = serde_json::from_str(&analyze(&pcap, &with_list, "json")).unwrap();
    let hits: Vec<&Value> = report["detections"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["kind"] == "ioc_match")
        .collect();
    assert!(!hits.is_empty(), "{report}");
    assert!(hits.iter().all(|h| h["value"] == scanner.as_str()));
    assert_eq!(hits[0]["feed"], "scanners");
    assert_eq!(hits[0]["matched_in"], "flow_src");
    assert_eq!(hits[0]["internal_host"], scan["target"]);
    let text = analyze(&pcap, &with_list, "text");
    assert!(text.contains("indicator match(es)"), "{text}");

    // --format stix: the scanner is in; no protected address, no spoofed source.
    let bundle_text = analyze(&pcap, &args, "stix");
    let bundle: Value = serde_json::from_str(&bundle_text).unwrap();
    assert_eq!(bundle["type"], "bundle");
    let patterns: Vec<&str> = bundle["objects"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| o["type"] == "indicator")
        .filter_map(|o| o["pattern"].as_str())
        .collect();
    assert!(
        patterns.iter().any(|p| p.contains(&scanner)),
        "{patterns:?}"
    );
    assert!(
        !bundle_text.contains("203.0.113."),
        "protected space exported"
    );
    let syn = report["detections"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["vector"] == "syn_flood" && d["spoofed_sources"] == true);
    if let Some(syn) = syn {
        for s in syn["top_sources"].as_array().unwrap() {
            let a = s["addr"].as_str().unwrap();
            assert!(
                !patterns.iter().any(|p| p.contains(&format!("'{a}'"))),
                "spoofed source {a} exported"
            );
        }
    }
    let file = dir.join("bundle.json");
    std::fs::write(&file, &bundle_text).unwrap();
    let out = Command::new(pyenv_tool("stix2_validator"))
        .args(["--strict", "--enforce-refs", "-v"])
        .arg(&file)
        .output()
        .unwrap();
    let out = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.contains("STIX JSON: Valid"), "{out}");
    assert!(!out.contains("Invalid"), "{out}");
    let _ = std::fs::remove_dir_all(&dir);
}
