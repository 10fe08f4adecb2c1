#![no_main]
//! Fuzzes every parser family through the dispatcher: each input line's first byte picks
//! a header that routes it to one family (sshd, OpenVPN, charon, WireGuard, netfilter,
//! ASA, GlobalProtect, FortiGate, nginx, the repeat forms), the rest is the message; the
//! bare line also goes through the OpenVPN-file, access-log and JSON formats. Every event
//! is bounded, and its JSON form reads back as the same event.
use libfuzzer_sys::fuzz_target;
use rampart_logs::{Format, LineParser, LogEvent, TimeContext, Timestamp};

#[path = "log_common.rs"]
mod log_common;

const HEADERS: &[&str] = &[
    "Nov 30 10:00:00 h sshd[1]: ",
    "Nov 30 10:00:01 h sshd[2]: ",
    "<38>1 2026-11-30T10:00:00Z h sshd-session 3 - - ",
    "Nov 30 10:00:00 h sshd[1]: message repeated 3 times: [ ",
    "Nov 30 10:00:02 h last message repeated ",
    "Dec  1 09:00:00 vpn openvpn[900]: ",
    "Dec  1 09:00:00 vpn openvpn[900]: 203.0.113.20:50001 ",
    "Dec  1 08:00:00 gw charon: 10[IKE] <c|5> ",
    "Dec  1 08:00:00 gw charon: 10[NET] <7> ",
    "Dec  1 10:00:00 vpn kernel: [1.5] wireguard: wg0: ",
    "Dec  1 10:00:00 fw kernel: [1.5] IN=eth0 OUT= ",
    "<166>Dec 01 2026 10:00:00 asa01 : %ASA-6-113015: ",
    "<166>Dec 01 2026 10:00:00 asa01 : %ASA-6-716039: ",
    "<166>Dec 01 2026 10:00:00 asa01 : %ASA-4-722051: ",
    "<166>%ASA-6-605004: ",
    "<14>Dec  1 10:00:00 PA-VM 1,2026/12/01 10:00:00,0,GLOBALPROTECT,",
    "<14>Dec  1 10:00:00 PA-VM 1,2026/12/01 10:00:00,0,SYSTEM,globalprotect,",
    "date=2026-11-30 time=10:00:00 logid=1 ",
    "<189>date=2026-11-30 time=10:00:00 logid=1 subtype=vpn ",
    "Oct 10 13:55:36 web nginx: ",
    "",
];

fuzz_target!(|data: &[u8]| {
    let time = TimeContext::new(Timestamp::from_secs(1_796_126_400), -7200);
    let mut syslog = LineParser::new(Format::Syslog, time);
    let mut bare: Vec<LineParser> = [Format::Openvpn, Format::Access, Format::Json]
        .into_iter()
        .map(|f| LineParser::new(f, time))
        .collect();
    let mut line = Vec::new();
    for raw in data.split(|&b| b == b'\n') {
        let Some((&pick, msg)) = raw.split_first() else {
            continue;
        };
        line.clear();
        line.extend_from_slice(HEADERS[usize::from(pick) % HEADERS.len()].as_bytes());
        line.extend_from_slice(msg);
        syslog.feed(&line);
        for p in &mut bare {
            p.feed(msg);
        }
    }
    syslog.finish();
    let mut json = LineParser::new(Format::Json, time);
    for p in std::iter::once(&mut syslog).chain(bare.iter_mut()) {
        while let Some(e) = p.poll_event() {
            log_common::check(&e);
            if matches!(e, LogEvent::Flow(_)) {
                continue;
            }
            // What we write, we read back (times in JSON have milliseconds).
            let text = serde_json::to_string(&e).expect("serialises");
            json.feed_str(&text);
            let back = json.poll_event().expect("reads back");
            assert_eq!(back, log_common::to_millis(e), "{text}");
        }
    }
});
