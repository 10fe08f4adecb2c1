//! nginx and Apache access logs to HTTP events: the common and combined formats, with an
//! optional leading virtual host ("www.example.com:443 203.0.113.9 - - [...] ..."), as
//! Apache's vhost_combined and many nginx setups write them.

use crate::out::{Out, Status};
use crate::text::{self, MAX_HOST, MAX_METHOD, MAX_PATH, MAX_REASON};
use crate::time::{self, Civil};
use crate::LogEvent;
use rampart_model::{HttpEvent, Timestamp};
use std::net::IpAddr;

/// Whether a line reads as an access log line.
pub fn looks_like(line: &str) -> bool {
    split(line).is_some()
}

/// The parts of one line, borrowed.
struct Parts<'a> {
    vhost: Option<&'a str>,
    client: IpAddr,
    user: &'a str,
    time: Timestamp,
    request: &'a str,
    status: u16,
    bytes: Option<u64>,
    referer: Option<&'a str>,
    agent: Option<&'a str>,
}

/// "[10/Oct/2000:13:55:36 -0700]" without its brackets.
fn clf_time(s: &str) -> Option<Timestamp> {
    let b = s.as_bytes();
    if b.len() < 26 || b[2] != b'/' || b[6] != b'/' || b[11] != b':' || b[20] != b' ' {
        return None;
    }
    let date = Civil {
        year: i64::from(time::digits(&b[7..], 4)?),
        month: time::month_abbr(&b[3..6])?,
        day: time::digits(b, 2)?,
        hour: time::digits(&b[12..], 2)?,
        minute: time::digits(&b[15..], 2)?,
        second: time::digits(&b[18..], 2)?,
    };
    let (offset, _) = time::zone(&b[21..])?;
    let secs = date.unix_secs()? - i64::from(offset);
    Some(Timestamp::from_secs(secs.max(0) as u64))
}

/// A quoted field at the start of `s` (after spaces), with \" escapes: the inside and the
/// rest after the closing quote.
fn quoted(s: &str) -> Option<(&str, &str)> {
    let s = s.trim_start_matches(' ');
    let inner = s.strip_prefix('"')?;
    let b = inner.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'\\' => i += 2,
            b'"' => return Some((&inner[..i], &inner[i + 1..])),
            _ => i += 1,
        }
    }
    None
}

fn word(s: &str) -> Option<(&str, &str)> {
    let s = s.trim_start_matches(' ');
    if s.is_empty() {
        return None;
    }
    Some(s.split_once(' ').unwrap_or((s, "")))
}

fn split(line: &str) -> Option<Parts<'_>> {
    let (first, rest) = word(line)?;
    let (vhost, client, rest) = match text::ip(first) {
        Some(ip) => (None, ip, rest),
        None => {
            let (second, rest) = word(rest)?;
            let host = first.rsplit_once(':').map_or(first, |(h, p)| {
                if text::port(p).is_some() {
                    h
                } else {
                    first
                }
            });
            (Some(host), text::ip(second)?, rest)
        }
    };
    let (_ident, rest) = word(rest)?;
    let (user, rest) = word(rest)?;
    let rest = rest.trim_start_matches(' ').strip_prefix('[')?;
    let (stamp, rest) = rest.split_once(']')?;
    let time = clf_time(stamp)?;
    let (request, rest) = quoted(rest)?;
    let (status, rest) = word(rest)?;
    if status.len() != 3 {
        return None;
    }
    let status: u16 = status.parse().ok()?;
    let (bytes, rest) = word(rest).unwrap_or(("-", ""));
    let bytes = if bytes == "-" {
        None
    } else {
        Some(bytes.parse().ok()?)
    };
    let (referer, rest) = match quoted(rest) {
        Some((r, rest)) => (Some(r), rest),
        None => (None, rest),
    };
    let agent = quoted(rest).map(|(a, _)| a);
    Some(Parts {
        vhost,
        client,
        user,
        time,
        request,
        status,
        bytes,
        referer,
        agent,
    })
}

/// One access-log line (from a file, or the message of an nginx syslog line).
pub fn parse(line: &str, out: &mut Out) -> Status {
    let Some(p) = split(line) else {
        return Status::Malformed;
    };
    // "GET /path HTTP/1.1"; anything else (a TLS hello sent to the plain port, "-") is
    // kept whole as the path, without a method.
    let mut words = p.request.splitn(3, ' ');
    let (method, path) = match (words.next(), words.next()) {
        (Some(m), Some(path)) if !m.is_empty() && m.bytes().all(|c| c.is_ascii_uppercase()) => {
            (Some(m), path)
        }
        _ => (None, p.request),
    };
    fn opt(s: Option<&str>) -> Option<&str> {
        s.filter(|s| !s.is_empty() && *s != "-")
    }
    let e = HttpEvent {
        time: p.time,
        client: p.client,
        method: method.map(|m| out.text(m, MAX_METHOD)),
        path: out.text(path, MAX_PATH),
        status: p.status,
        bytes: p.bytes.unwrap_or(0),
        user_agent: opt(p.agent).map(|a| out.text(a, MAX_REASON)),
        referer: opt(p.referer).map(|r| out.text(r, MAX_REASON)),
        vhost: opt(p.vhost).map(|v| out.text(v, MAX_HOST)),
        user: opt(Some(p.user)).and_then(|u| out.user(u)),
    };
    out.push(LogEvent::Http(e));
    Status::Emitted
}
