#![no_main]
//! Fuzzes the bounded STIX bundle reader and the indicator importer: every object read is
//! sorted into exactly one of indicator, revoked, other or error, and indicators' patterns
//! agree with what they were parsed to.
use libfuzzer_sys::fuzz_target;
use rampart_intel::stix::{for_each_object_in, take_object, BundleLimits, ImportContext, Imported};
use rampart_intel::{Pattern, Tlp};
use rampart_model::Timestamp;

fuzz_target!(|data: &[u8]| {
    let limits = BundleLimits { max_bytes: 64 * 1024, max_objects: 64, max_object_bytes: 8 * 1024 };
    let cx = ImportContext {
        source: "fuzz",
        now: Timestamp::from_secs(1_800_000_000),
        default_tlp: Tlp::Amber,
        default_confidence: None,
    };
    let mut got = Imported::default();
    let mut seen = 0u64;
    let r = for_each_object_in(data, "fuzz", &limits, |raw| {
        seen += 1;
        take_object(raw.get(), &cx, &mut got);
        Ok(())
    });
    let sorted = got.indicators.len() as u64 + got.revoked.len() as u64 + got.other_objects + got.errors;
    assert_eq!(sorted, seen);
    if let Ok(c) = r {
        assert_eq!(c.objects, seen);
        assert!(seen <= limits.max_objects);
    }
    for i in &got.indicators {
        assert!(i.id.starts_with("indicator--"));
        if i.pattern_type != "stix" {
            assert!(matches!(i.parsed, Pattern::Other(_)));
        }
    }
});
