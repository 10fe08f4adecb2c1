#![no_main]
//! Fuzzes the MISP event and manifest parsers: whatever an event holds, its indicators have
//! patterns that parse back to the observables they were made from, and only to_ids ones
//! are meant for detection; manifest entries are always safe file names.
use libfuzzer_sys::fuzz_target;
use rampart_intel::misp::{parse_event, parse_manifest};
use rampart_intel::stix::ImportContext;
use rampart_intel::{pattern, Pattern, Tlp};
use rampart_model::Timestamp;

fuzz_target!(|data: &[u8]| {
    let cx = ImportContext {
        source: "fuzz",
        now: Timestamp::from_secs(1_800_000_000),
        default_tlp: Tlp::Amber,
        default_confidence: Some(50),
    };
    if let Ok(got) = parse_event(data, "fuzz.json", &cx) {
        for i in &got.indicators {
            let Pattern::Observables(obs) = &i.parsed else { panic!("MISP indicator without observables") };
            match pattern::parse(&i.pattern) {
                Ok(Pattern::Observables(mut again)) => {
                    let mut want = obs.clone();
                    want.sort();
                    want.dedup();
                    again.sort();
                    assert_eq!(again, want, "{}", i.pattern);
                }
                other => panic!("{} -> {other:?}", i.pattern),
            }
        }
    }
    if let Ok((entries, _)) = parse_manifest(data, "manifest.json") {
        for e in entries {
            assert!(e.uuid.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-'), "{}", e.uuid);
        }
    }
});
