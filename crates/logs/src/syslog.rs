//! Syslog headers: RFC 5424 (with structured data), RFC 3164 as senders really write it
//! (with or without priority, year, hostname or tag; Cisco's "Dec 01 2024 10:00:00 host :"),
//! and the ISO-stamped file lines of rsyslog and journald's short-iso. Only the header is
//! read here; the message goes to the parser its tag names.

use crate::time::{self, Clock, TimeContext};
use rampart_model::Timestamp;

/// A line's syslog header and the message after it, borrowed from the line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header<'a> {
    /// `None` when the line has no timestamp (some devices send only a priority).
    pub time: Option<Timestamp>,
    pub host: Option<&'a str>,
    /// Program name (APP-NAME or TAG); empty when the line has none.
    pub tag: &'a str,
    pub pid: Option<u32>,
    pub msg: &'a str,
}

/// Reads the header of one line; `None` when it has neither a priority nor a timestamp.
pub fn parse<'a>(line: &'a str, clock: &mut Clock) -> Option<Header<'a>> {
    let b = line.as_bytes();
    let mut i = 0;
    let mut had_pri = false;
    if b.first() == Some(&b'<') {
        let n = b[1..]
            .iter()
            .take(4)
            .take_while(|c| c.is_ascii_digit())
            .count();
        if (1..=3).contains(&n) && b.get(1 + n) == Some(&b'>') {
            i = n + 2;
            had_pri = true;
        }
    }
    if b.get(i..i + 2) == Some(b"1 ") {
        if let Some(h) = rfc5424(line, i + 2, &clock.ctx) {
            return Some(h);
        }
    }
    let (time, used) = match timestamp(&b[i..], clock) {
        Some((t, used)) => (Some(t), used),
        None if had_pri => (None, 0),
        None => return None,
    };
    i += used;
    // Cisco writes "timestamp: %ASA-..." without a host.
    if b.get(i) == Some(&b':') {
        i += 1;
    }
    while b.get(i) == Some(&b' ') {
        i += 1;
    }
    let rest = &line[i..];
    if time.is_none() {
        // RFC 3164 4.3.2: without a timestamp there is no hostname either.
        let (tag, pid, msg) = tag(rest);
        return Some(Header {
            time,
            host: None,
            tag,
            pid,
            msg,
        });
    }
    let (first, after) = crate::text::split_space(rest).unwrap_or((rest, ""));
    let host_first =
        !first.is_empty() && !first.ends_with(':') && !first.contains('[') && !after.is_empty();
    let (host, rest) = if host_first {
        (Some(first), after.trim_start_matches(' '))
    } else {
        (None, rest)
    };
    // "host : %ASA-6-...": a lone colon where the tag would be.
    let rest = rest.strip_prefix(": ").unwrap_or(rest);
    let (tag, pid, msg) = tag(rest);
    Some(Header {
        time,
        host,
        tag,
        pid,
        msg,
    })
}

/// Bytes a program tag is made of.
const TAG_CHAR: [bool; 256] = {
    let mut t = [false; 256];
    let mut c = 0;
    while c < 256 {
        let b = c as u8;
        t[c] = b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b'/' | b'%' | b'@');
        c += 1;
    }
    t
};

/// "TAG[PID]: MSG" or "TAG: MSG"; no tag when the first word is not followed by one of
/// those (then the whole text is the message).
fn tag(s: &str) -> (&str, Option<u32>, &str) {
    let b = s.as_bytes();
    let n = b
        .iter()
        .take(64)
        .take_while(|&&c| TAG_CHAR[usize::from(c)])
        .count();
    if n == 0 {
        return ("", None, s);
    }
    let name = &s[..n];
    match b.get(n) {
        Some(b':') => (name, None, skip_space(&s[n + 1..])),
        Some(b'[') => {
            let Some(close) = memchr::memchr(b']', &b[n + 1..]) else {
                return ("", None, s);
            };
            let pid = crate::text::number(&s[n + 1..n + 1 + close]);
            let after = &s[n + 2 + close..];
            let after = after.strip_prefix(':').unwrap_or(after);
            (name, pid, skip_space(after))
        }
        _ => ("", None, s),
    }
}

fn skip_space(s: &str) -> &str {
    s.strip_prefix(' ').unwrap_or(s)
}

/// The timestamp at the start of `b` and the bytes it used, in the forms syslog senders
/// and files use.
fn timestamp(b: &[u8], clock: &mut Clock) -> Option<(Timestamp, usize)> {
    let first = *b.first()?;
    if first.is_ascii_digit() {
        // Only the 'T' form: "2024-12-15 14:12:12 ..." is OpenVPN's own file, not syslog.
        if b.get(10) != Some(&b'T') {
            return None;
        }
        return time::iso8601(b, &clock.ctx);
    }
    // "Mmm dd hh:mm:ss", "Mmm  d hh:mm:ss", optional fraction, optional year before the
    // time (Cisco) or after it.
    let month = time::month_abbr(b.get(..3)?)?;
    if b.get(3) != Some(&b' ') {
        return None;
    }
    let mut i = 4;
    if b.get(i) == Some(&b' ') {
        i += 1;
    }
    let day_len = if b.get(i + 1).is_some_and(u8::is_ascii_digit) {
        2
    } else {
        1
    };
    let day = time::digits(&b[i..], day_len)?;
    i += day_len;
    if b.get(i) != Some(&b' ') {
        return None;
    }
    i += 1;
    let mut year = None;
    if b.len() >= i + 5 && b[i + 4] == b' ' {
        if let Some(y) = time::digits(&b[i..], 4) {
            year = Some(y);
            i += 5;
        }
    }
    let hms = time::hms(&b[i..])?;
    i += 8;
    let (nanos, f) = time::fraction(&b[i..]);
    i += f;
    if year.is_none() && b.len() >= i + 5 && b[i] == b' ' && b.get(i + 5).is_none_or(|&c| c == b' ')
    {
        if let Some(y) = time::digits(&b[i + 1..], 4) {
            year = Some(y);
            i += 5;
        }
    }
    let t = match year {
        Some(y) => clock.ctx.local(
            time::Civil {
                year: i64::from(y),
                month,
                day,
                hour: hms.0,
                minute: hms.1,
                second: hms.2,
            },
            nanos,
        )?,
        None => clock.yearless(month, day, hms, nanos)?,
    };
    Some((t, i))
}

/// "TIMESTAMP HOST APP PROCID MSGID SD [MSG]" after "<PRI>1 ".
fn rfc5424<'a>(line: &'a str, mut i: usize, ctx: &TimeContext) -> Option<Header<'a>> {
    let b = line.as_bytes();
    let time = if b.get(i) == Some(&b'-') {
        i += 1;
        None
    } else {
        let (t, used) = time::iso8601(&b[i..], ctx)?;
        i += used;
        Some(t)
    };
    let field = |i: &mut usize| -> Option<&'a str> {
        if b.get(*i) != Some(&b' ') {
            return None;
        }
        *i += 1;
        let end = line[*i..].find(' ').map_or(line.len(), |n| *i + n);
        let f = &line[*i..end];
        *i = end;
        Some(f)
    };
    let host = field(&mut i)?;
    let app = field(&mut i)?;
    let procid = field(&mut i)?;
    let _msgid = field(&mut i)?;
    if b.get(i) != Some(&b' ') {
        return None;
    }
    i += 1;
    i = structured_data_end(b, i)?;
    let msg = line.get(i..).unwrap_or("");
    let msg = msg.strip_prefix(' ').unwrap_or(msg);
    let msg = msg.strip_prefix('\u{feff}').unwrap_or(msg);
    // rsyslog's forwarding templates (RSYSLOG_SyslogProtocol23Format) keep the space that
    // followed the RFC 3164 tag's colon: "- -  Failed password ...".
    let msg = msg.trim_start_matches(' ');
    let nil = |s: &'a str| (s != "-").then_some(s);
    Some(Header {
        time,
        host: nil(host),
        tag: nil(app).unwrap_or(""),
        pid: crate::text::number(procid),
        msg,
    })
}

/// The end of "-" or of one or more "[id k="v" ...]" elements (with \" \\ \] escapes).
fn structured_data_end(b: &[u8], mut i: usize) -> Option<usize> {
    if b.get(i) == Some(&b'-') {
        return Some(i + 1);
    }
    while b.get(i) == Some(&b'[') {
        i += 1;
        let mut quoted = false;
        loop {
            match *b.get(i)? {
                b'\\' if quoted => i += 1,
                b'"' => quoted = !quoted,
                b']' if !quoted => break,
                _ => {}
            }
            i += 1;
        }
        i += 1;
    }
    Some(i)
}

/// rsyslog's "message repeated N times: [ MSG]": N and the inner message.
pub fn repeated(msg: &str) -> Option<(u32, &str)> {
    let rest = msg.strip_prefix("message repeated ")?;
    let (n, rest) = rest.split_once(' ')?;
    let inner = rest.strip_prefix("times: [")?;
    let inner = inner.strip_suffix(']').unwrap_or(inner);
    Some((
        crate::text::number(n)?,
        inner.strip_prefix(' ').unwrap_or(inner),
    ))
}

/// sysklogd's and syslog-ng's "last message repeated N times": N.
pub fn last_repeated(msg: &str) -> Option<u32> {
    let rest = msg.strip_prefix("last message repeated ")?;
    let (n, rest) = rest.split_once(' ')?;
    rest.starts_with("time").then_some(())?;
    crate::text::number(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> Clock {
        // 2026-06-01T00:00:00Z
        Clock::new(TimeContext::new(Timestamp::from_secs(1_780_272_000), 0))
    }

    fn h(line: &str) -> (String, Option<&str>, &str, Option<u32>, &str) {
        let h = parse(line, &mut ctx()).unwrap();
        (
            h.time.map(|t| t.to_string()).unwrap_or_default(),
            h.host,
            h.tag,
            h.pid,
            h.msg,
        )
    }

    #[test]
    fn bsd_file_line() {
        assert_eq!(
            h("Feb 12 14:10:21 sd-126005 sshd[16378]: Invalid user pascal from 35.188.49.176 port 53502"),
            (
                "2026-02-12T14:10:21.000Z".into(),
                Some("sd-126005"),
                "sshd",
                Some(16378),
                "Invalid user pascal from 35.188.49.176 port 53502"
            )
        );
        assert_eq!(
            h("Sep  6 09:57:21 bullseye sshd-session[581]: Accepted"),
            (
                "2025-09-06T09:57:21.000Z".into(),
                Some("bullseye"),
                "sshd-session",
                Some(581),
                "Accepted"
            )
        );
    }

    #[test]
    fn bsd_with_priority_without_host() {
        assert_eq!(
            h("<38>Nov 30 10:00:01 sshd[123]: msg"),
            (
                "2025-11-30T10:00:01.000Z".into(),
                None,
                "sshd",
                Some(123),
                "msg"
            )
        );
        assert_eq!(
            h("<4>Nov 30 10:00:01 kernel: [1.5] IN=eth0"),
            (
                "2025-11-30T10:00:01.000Z".into(),
                None,
                "kernel",
                None,
                "[1.5] IN=eth0"
            )
        );
    }

    #[test]
    fn cisco_forms() {
        assert_eq!(
            h("<166>Dec 01 2025 10:00:00 asa01 : %ASA-6-113015: AAA user authentication Rejected"),
            (
                "2025-12-01T10:00:00.000Z".into(),
                Some("asa01"),
                "%ASA-6-113015",
                None,
                "AAA user authentication Rejected"
            )
        );
        assert_eq!(
            h("<166>Dec 01 2025 10:00:00: %ASA-4-722051: Group"),
            (
                "2025-12-01T10:00:00.000Z".into(),
                None,
                "%ASA-4-722051",
                None,
                "Group"
            )
        );
        assert_eq!(
            h("<166>%ASA-6-113004: AAA user"),
            (String::new(), None, "%ASA-6-113004", None, "AAA user")
        );
    }

    #[test]
    fn iso_file_lines() {
        assert_eq!(
            h("2026-11-30T10:00:01+0000 host sshd[123]: Failed"),
            (
                "2026-11-30T10:00:01.000Z".into(),
                Some("host"),
                "sshd",
                Some(123),
                "Failed"
            )
        );
        assert_eq!(
            h("2026-11-30T10:00:01.123456+01:00 gw charon: 06[IKE] x"),
            (
                "2026-11-30T09:00:01.123Z".into(),
                Some("gw"),
                "charon",
                None,
                "06[IKE] x"
            )
        );
    }

    #[test]
    fn rfc5424_with_structured_data() {
        assert_eq!(
            h(
                r#"<30>1 2024-02-18T02:29:57+08:00 exmaple.com charon 15894 - [meta sequenceId="31"] 06[NET] <x|83> sending"#
            ),
            (
                "2024-02-17T18:29:57.000Z".into(),
                Some("exmaple.com"),
                "charon",
                Some(15894),
                "06[NET] <x|83> sending"
            )
        );
        assert_eq!(
            h(r#"<13>1 - - app - - [a b="\"]"][c] hi"#),
            (String::new(), None, "app", None, "hi")
        );
        // As rsyslog forwards a local sshd line: the tag's space kept.
        assert_eq!(
            h("<38>1 2026-12-01T11:39:09.361700+00:00 vm sshd 20496 - -  Failed password"),
            (
                "2026-12-01T11:39:09.361Z".into(),
                Some("vm"),
                "sshd",
                Some(20496),
                "Failed password"
            )
        );
        assert_eq!(
            h("<13>1 2024-02-18T02:29:57Z h a - - -"),
            ("2024-02-18T02:29:57.000Z".into(), Some("h"), "a", None, "")
        );
    }

    #[test]
    fn priority_then_key_values() {
        let hd = parse("<189>date=2024-10-14 time=13:46:40 logid=1", &mut ctx()).unwrap();
        assert_eq!((hd.time, hd.host, hd.tag), (None, None, ""));
        assert_eq!(hd.msg, "date=2024-10-14 time=13:46:40 logid=1");
    }

    #[test]
    fn not_syslog() {
        assert_eq!(parse("hello world", &mut ctx()), None);
        assert_eq!(parse("", &mut ctx()), None);
        assert_eq!(parse("<999999>x", &mut ctx()), None);
    }

    #[test]
    fn repeats() {
        assert_eq!(
            repeated(
                "message repeated 3 times: [ Failed password for root from 1.2.3.4 port 22 ssh2]"
            ),
            Some((3, "Failed password for root from 1.2.3.4 port 22 ssh2"))
        );
        assert_eq!(last_repeated("last message repeated 12 times"), Some(12));
        assert_eq!(last_repeated("last message repeated x times"), None);
    }
}
