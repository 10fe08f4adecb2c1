//! Every bundle we export passes stix2-validator (PyPI), strictly (warnings count as
//! errors) and with references enforced; and what the policy withholds never appears.

#![allow(clippy::unwrap_used)] // helpers of the tests fail the test

mod common;

use common::*;
use rampart_intel::export::{export_detections, export_subjects, SharePolicy, Subject};
use rampart_intel::Tlp;
use rampart_model::{
    Cidr, DdosDetection, DdosVector, Detection, Direction, ScanDetection, ScanProtocol, ScanType,
    Timestamp, TopAddr,
};
use std::process::Command;

fn ddos(vector: DdosVector, spoofed: bool, sources: &[&str], end: Option<u64>) -> Detection {
    Detection::Ddos(DdosDetection {
        vector,
        vectors: vec![vector, DdosVector::IpFragmentFlood],
        target: "203.0.113.10".parse().unwrap(),
        direction: Direction::Inbound,
        start: Timestamp::from_secs(1_795_341_600),
        end: end.map(Timestamp::from_secs),
        peak_pps: 250_000,
        peak_bps: 2_000_000_000,
        confidence: 0.93,
        top_sources: sources
            .iter()
            .map(|s| TopAddr {
                addr: s.parse().unwrap(),
                packets: 40_000,
                share: 0.2,
            })
            .collect(),
        top_destinations: vec![],
        top_src_ports: vec![],
        top_dst_ports: vec![],
        spoofed_sources: spoofed,
        packet_size: None,
        ttl: None,
        samples: 1000,
        evidence: "e".into(),
    })
}

fn scan() -> Detection {
    Detection::Scan(ScanDetection {
        source: "198.51.100.66".parse().unwrap(),
        target: "203.0.113.0/24".parse().unwrap(),
        ports: 1,
        hosts: 254,
        scan_type: ScanType::Horizontal,
        direction: Direction::Inbound,
        protocol: ScanProtocol::Tcp,
        top_dst_ports: vec![],
        probes: 254,
        answered: 3,
        start: Timestamp::from_secs(1_795_341_600),
        end: Some(Timestamp::from_secs(1_795_341_660)),
        last_seen: Timestamp::from_secs(1_795_341_660),
        confidence: 0.8,
        evidence: "e".into(),
    })
}

#[test]
fn exported_bundles_pass_stix2_validator() {
    let dir = scratch("export");
    let protected: Vec<Cidr> = vec![
        "203.0.113.0/24".parse().unwrap(),
        "2001:db8:ffff::/48".parse().unwrap(),
    ];
    let now = Timestamp::from_secs(1_795_342_000);
    let reflectors = &[
        "192.0.2.53",
        "198.51.100.53",
        "2001:db8::53",
        "203.0.113.99",
        "2001:db8:ffff::1",
    ];
    let cases: Vec<(&str, Vec<Detection>, SharePolicy)> = vec![
        (
            "dns-amplification",
            vec![ddos(
                DdosVector::DnsAmplification,
                false,
                reflectors,
                Some(1_795_341_900),
            )],
            SharePolicy::default(),
        ),
        (
            "ongoing-ntp-and-scan-green",
            vec![
                ddos(DdosVector::NtpAmplification, false, &["192.0.2.123"], None),
                scan(),
            ],
            SharePolicy {
                tlp: Tlp::Green,
                identity_name: "Example SOC".into(),
                ..SharePolicy::default()
            },
        ),
        (
            "spoofed-syn-flood-only",
            vec![ddos(
                DdosVector::SynFlood,
                true,
                &["192.0.2.1", "192.0.2.2"],
                Some(1_795_341_700),
            )],
            SharePolicy {
                tlp: Tlp::AmberStrict,
                ..SharePolicy::default()
            },
        ),
    ];
    let mut files = Vec::new();
    for tlp in Tlp::ALL {
        let e = export_detections(
            &[scan()],
            &protected,
            &SharePolicy {
                tlp,
                ..SharePolicy::default()
            },
            now,
        );
        let f = dir.join(format!("scan-{tlp}.json"));
        std::fs::write(&f, e.to_json_pretty()).unwrap();
        files.push(f);
    }
    for (name, dets, policy) in &cases {
        let e = export_detections(dets, &protected, policy, now);
        let text = e.to_json_pretty();
        for never in [
            "203.0.113.99",
            "2001:db8:ffff::1",
            "\"192.0.2.1\"",
            "192.0.2.2",
        ] {
            assert!(!text.contains(never), "{name} leaked {never}");
        }
        let f = dir.join(format!("{name}.json"));
        std::fs::write(&f, text).unwrap();
        files.push(f);
    }
    // Login abuse with usernames allowed by the policy.
    let s = Subject {
        addr: "192.0.2.77".parse().unwrap(),
        role: "login-abuse",
        kind: "password_spray".into(),
        first_seen: Timestamp::from_secs(1_795_341_600),
        last_seen: Timestamp::from_secs(1_795_341_600),
        count: 1,
        confidence: 1.0,
        description: "Password spraying against the VPN.".into(),
        users: vec!["alice".into()],
    };
    let open = SharePolicy {
        allow_personal_data: true,
        ..SharePolicy::default()
    };
    let f = dir.join("login-abuse.json");
    std::fs::write(
        &f,
        export_subjects(vec![s], vec![], &protected, &open, now).to_json_pretty(),
    )
    .unwrap();
    files.push(f);

    let out = run(Command::new(py_tool("stix2_validator"))
        .args(["--strict", "--enforce-refs", "-v"])
        .args(&files));
    assert_eq!(
        out.matches("STIX JSON: Valid").count(),
        files.len(),
        "{out}"
    );
    assert!(!out.contains("Invalid"), "{out}");
}
