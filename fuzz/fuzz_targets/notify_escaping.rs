#![no_main]
//! Fuzzes what the notifier reads from the network (a webhook endpoint's Retry-After) and
//! the escaping of what it writes (CEF header and extension values, RFC 5424 SD-PARAM
//! values), asserting the escaping invariants on arbitrary text.
use libfuzzer_sys::fuzz_target;
use rampart_notify::cef::{escape_ext, escape_header};
use rampart_notify::parse_retry_after;
use rampart_notify::rfc5424::escape_param;
use std::time::{Duration, SystemTime};

/// Every backslash escapes one of `escapable`; no `forbidden` or control character is raw.
fn well_escaped(s: &str, escapable: &[char], forbidden: &[char]) -> bool {
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some(n) if escapable.contains(&n) => {}
                _ => return false,
            }
        } else if forbidden.contains(&c) || c.is_control() {
            return false;
        }
    }
    true
}

fuzz_target!(|data: &[u8]| {
    let s = String::from_utf8_lossy(data);
    let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_000_000);
    if let Some(d) = parse_retry_after(&s, now) {
        assert!(d <= Duration::from_secs(86_400));
    }
    assert!(well_escaped(&escape_header(&s), &['\\', '|'], &['|']));
    assert!(well_escaped(&escape_ext(&s), &['\\', '=', 'n', 'r'], &['=']));
    let p = escape_param(&s);
    assert!(p.len() <= 255);
    assert!(well_escaped(&p, &['\\', '"', ']'], &['"', ']']));
});
