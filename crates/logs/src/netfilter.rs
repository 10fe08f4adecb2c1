//! Kernel netfilter LOG lines (iptables, nftables, ufw: "IN=eth0 OUT= SRC=.. DST=.. LEN=..
//! PROTO=TCP SPT=.. DPT=.. WINDOW=.. RES=0x00 SYN URGP=0") to one-packet flow records of
//! format `packet`, so that the scan detector counts logged probes like captured ones.

use crate::out::{Ctx, Out, Status};
use crate::text;
use crate::LogEvent;
use rampart_model::{FlowFormat, FlowRecord};

const FIN: u8 = 0x01;
const SYN: u8 = 0x02;
const RST: u8 = 0x04;
const PSH: u8 = 0x08;
const ACK: u8 = 0x10;
const URG: u8 = 0x20;
const ECE: u8 = 0x40;
const CWR: u8 = 0x80;

/// The kernel's "[19955416.516358] " uptime stamp, when syslog kept it.
pub fn strip_kernel_time(msg: &str) -> &str {
    if let Some(rest) = msg.strip_prefix('[') {
        if let Some((stamp, after)) = rest.split_once("] ") {
            if stamp
                .trim_start()
                .bytes()
                .all(|c| c.is_ascii_digit() || c == b'.')
            {
                return after;
            }
        }
    }
    msg
}

fn protocol(p: &str) -> Option<u8> {
    Some(match p {
        "TCP" => 6,
        "UDP" => 17,
        "ICMP" => 1,
        "ICMPv6" => 58,
        "UDPLITE" => 136,
        "SCTP" => 132,
        "GRE" => 47,
        "ESP" => 50,
        "AH" => 51,
        n => return n.parse().ok(),
    })
}

pub fn parse(ctx: &Ctx, msg: &str, out: &mut Out) -> Status {
    // What comes before IN= is the rule's log prefix ("[UFW BLOCK] ").
    let Some(i) = msg.find("IN=") else {
        return Status::Ignored;
    };
    let mut r = FlowRecord::empty(FlowFormat::Packet);
    let (mut src, mut dst, mut proto) = (None, None, None);
    let mut flags = 0u8;
    let mut tcp_header = false;
    let mut len = None;
    for w in msg[i..].split(' ') {
        // An ICMP error quotes the offending packet in brackets: its fields are not ours.
        if w.starts_with('[') {
            break;
        }
        match w.split_once('=') {
            Some(("SRC", v)) => src = text::ip(v),
            Some(("DST", v)) => dst = text::ip(v),
            Some(("LEN", v)) if len.is_none() => len = v.parse::<u64>().ok(),
            Some(("TTL" | "HOPLIMIT", v)) => r.ttl = v.parse().ok(),
            Some(("PROTO", v)) => proto = protocol(v),
            Some(("SPT", v)) => r.src_port = text::port(v),
            Some(("DPT", v)) => r.dst_port = text::port(v),
            Some(("TYPE", v)) if r.icmp_type.is_none() => r.icmp_type = v.parse().ok(),
            Some(("CODE", v)) if r.icmp_code.is_none() => r.icmp_code = v.parse().ok(),
            Some(("RES", _)) => tcp_header = true,
            Some(_) => {}
            None => match w {
                "FIN" => flags |= FIN,
                "SYN" => flags |= SYN,
                "RST" => flags |= RST,
                "PSH" => flags |= PSH,
                "ACK" => flags |= ACK,
                "URG" => flags |= URG,
                "ECE" => flags |= ECE,
                "CWR" => flags |= CWR,
                "MF" => r.fragment = Some(true),
                w if w.starts_with("FRAG:") => r.fragment = Some(true),
                _ => {}
            },
        }
    }
    let (Some(src), Some(dst)) = (src, dst) else {
        return Status::Malformed;
    };
    r.src_addr = src;
    r.dst_addr = dst;
    r.ip_protocol = proto.unwrap_or(0);
    // The kernel prints the TCP flags after RES=; a line without it carries none (a
    // fragment, or a line cut short), and none are invented.
    if r.ip_protocol == 6 && tcp_header {
        r.tcp_flags = Some(flags);
    }
    if !matches!(r.ip_protocol, 1 | 58) {
        r.icmp_type = None;
        r.icmp_code = None;
    }
    r.packets = u64::from(ctx.repeat.max(1));
    r.bytes = len.unwrap_or(0);
    r.start = ctx.time;
    r.end = ctx.time;
    out.push(LogEvent::Flow(r));
    Status::Emitted
}
