#![no_main]
//! Fuzzes syslog framing (newline and RFC 6587 octet counting) and line parsing as a
//! stream: reading the bytes whole and in small chunks must give the same events and
//! counters; the framer never holds more than a line's limit; every event is bounded.
use libfuzzer_sys::fuzz_target;
use rampart_logs::{Format, Framing, LogEvent, LogReader, ParseStats, TimeContext, Timestamp};

#[path = "log_common.rs"]
mod log_common;

/// A small line limit, so that over-long lines and their resynchronisation run often.
const MAX_LINE: usize = 200;

fn read(format: Format, framing: Framing, data: &[u8], chunk: usize) -> (Vec<LogEvent>, ParseStats) {
    let time = TimeContext::new(Timestamp::from_secs(1_796_126_400), 3600);
    let mut r = LogReader::with_framing(format, time, framing, MAX_LINE);
    let mut out = Vec::new();
    for c in data.chunks(chunk) {
        r.push(c);
        while let Some(e) = r.poll_event() {
            log_common::check(&e);
            out.push(e);
        }
        // A partial line (or octet-counted frame and its count) at most.
        assert!(r.buffered() <= MAX_LINE + 12, "{} bytes held", r.buffered());
    }
    r.finish();
    while let Some(e) = r.poll_event() {
        log_common::check(&e);
        out.push(e);
    }
    assert!(r.parser().state_len() <= 200_000);
    (out, r.stats())
}

fuzz_target!(|data: &[u8]| {
    let Some((&ctl, rest)) = data.split_first() else {
        return;
    };
    let framing = if ctl & 1 == 0 {
        Framing::Newline
    } else {
        Framing::Syslog
    };
    let format = Format::ALL[usize::from(ctl >> 1) % Format::ALL.len()];
    let chunk = 1 + usize::from(ctl >> 3);
    let whole = read(format, framing, rest, rest.len().max(1));
    let pieces = read(format, framing, rest, chunk);
    assert_eq!(whole, pieces);
});
