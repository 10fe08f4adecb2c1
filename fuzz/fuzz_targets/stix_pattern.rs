#![no_main]
//! Fuzzes the STIX pattern parser: any text either is refused or parses; a pattern that
//! reduces to observables is bounded, and each observable written back as a pattern parses
//! to itself.
use libfuzzer_sys::fuzz_target;
use rampart_intel::pattern::{parse, Pattern, MAX_OBSERVABLES};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok(Pattern::Observables(obs)) = parse(&text) {
        assert!(!obs.is_empty() && obs.len() <= MAX_OBSERVABLES);
        for o in obs {
            let again = o.to_pattern();
            match parse(&again) {
                Ok(Pattern::Observables(v)) => assert_eq!(v, vec![o], "{again}"),
                other => panic!("{again} -> {other:?}"),
            }
        }
    }
});
