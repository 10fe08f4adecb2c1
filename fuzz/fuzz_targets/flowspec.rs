#![no_main]
//! Fuzzes the FlowSpec NLRI decoder, both families. Whatever decodes must encode to bytes
//! that decode to the same rule again (a fixed point), and validation must not panic.
use libfuzzer_sys::fuzz_target;
use rampart_bgp::{FlowSpecRule, IpVersion};

fuzz_target!(|data: &[u8]| {
    let Some((&v, bytes)) = data.split_first() else {
        return;
    };
    let version = if v & 1 == 0 {
        IpVersion::V4
    } else {
        IpVersion::V6
    };
    let mut rest = bytes;
    while let Ok((rule, used)) = FlowSpecRule::decode_nlri(version, rest) {
        assert!(used > 0 && used <= rest.len());
        rest = &rest[used..];
        let _ = rule.validate();
        let _ = rule.to_string();
        let mut out = Vec::new();
        rule.encode(&mut out);
        // Values re-encode at their shortest, so the rule never grows past what it came in.
        let (again, n) = FlowSpecRule::decode_nlri(version, &out).expect("our encoding decodes");
        assert_eq!(n, out.len());
        assert!(n <= used);
        assert_eq!(again, rule);
        assert_eq!(rule.nlri_len(), out.len());
    }
});
