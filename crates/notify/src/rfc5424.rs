//! RFC 5424 syslog messages: `<PRI>1 TIMESTAMP HOSTNAME rampart PROCID MSGID [SD] MSG`,
//! with the notification's fields as structured data `[rampart@32473 ...]` (32473 is the
//! private enterprise number RFC 5612 reserves for examples). Pure formatting.

use crate::notification::{Notification, Severity};

/// The SD-ID of our structured data.
pub const SD_ID: &str = "rampart@32473";

/// Where the message comes from, the same for every message of a sink.
#[derive(Clone, Debug)]
pub struct Origin {
    /// 0-23.
    pub facility: u8,
    /// Printable ASCII without spaces, at most 255 characters ("-" if none).
    pub hostname: String,
    pub procid: u32,
}

impl Origin {
    pub fn new(facility: u8, hostname: &str, procid: u32) -> Origin {
        let mut h: String = hostname
            .chars()
            .filter(|c| c.is_ascii_graphic())
            .take(255)
            .collect();
        if h.is_empty() {
            h.push('-');
        }
        Origin {
            facility: facility.min(23),
            hostname: h,
            procid,
        }
    }
}

/// The syslog severity of a notification's severity.
pub const fn syslog_severity(s: Severity) -> u8 {
    match s {
        Severity::Critical => 2,
        Severity::Warning => 4,
        Severity::Info => 6,
    }
}

/// The whole message, at most `max_len` bytes (the MSG is cut to fit).
pub fn rfc5424(n: &Notification, origin: &Origin, max_len: usize) -> String {
    let msg = format!("{}: {}", n.title, n.text);
    message(n, origin, &structured_data(n), &msg, max_len)
}

/// A message with this structured data (or "-") and MSG, cut to `max_len` bytes.
pub(crate) fn message(
    n: &Notification,
    origin: &Origin,
    sd: &str,
    msg: &str,
    max_len: usize,
) -> String {
    let pri = u32::from(origin.facility) * 8 + u32::from(syslog_severity(n.severity));
    let mut out = format!(
        "<{pri}>1 {} {} rampart {} {} {sd}",
        n.time,
        origin.hostname,
        origin.procid,
        n.event.as_str()
    );
    let msg = one_line(msg);
    if !msg.is_empty() {
        out.push(' ');
        // RFC 5424 §6.4: a UTF-8 MSG starts with a BOM; plain ASCII needs none.
        if !msg.is_ascii() {
            out.push('\u{feff}');
        }
        out.push_str(&msg);
    }
    truncate(&mut out, max_len);
    out
}

/// `[rampart@32473 event="..." ...]` with the fields a SIEM filters on.
pub fn structured_data(n: &Notification) -> String {
    let mut sd = format!("[{SD_ID}");
    let mut param = |name: &str, value: &str| {
        sd.push(' ');
        sd.push_str(name);
        sd.push_str("=\"");
        sd.push_str(&escape_param(value));
        sd.push('"');
    };
    param("event", n.event.as_str());
    param("severity", n.severity.as_str());
    param("id", &n.id);
    param("daemon", &n.daemon);
    if let Some(t) = &n.target {
        param("target", t);
    }
    if let Some(id) = n.detection_id() {
        param("detection_id", &id.to_string());
    }
    if let Some(k) = n.detection_str("kind") {
        param("kind", k);
    }
    if let Some(v) = n.detection_str("vector") {
        param("vector", v);
    }
    if let Some(s) = n.detection_str("source") {
        param("source", s);
    }
    if let Some(id) = n.mitigation_id() {
        param("mitigation_id", &id.to_string());
    }
    if let Some(a) = n.mitigation_str("kind") {
        param("action", a);
    }
    sd.push(']');
    sd
}

/// PARAM-VALUE (RFC 5424 §6.3.3): `"`, `\` and `]` escaped with a backslash; control
/// characters made spaces so that line-based collectors keep one message per line; at
/// most 255 bytes.
pub fn escape_param(v: &str) -> String {
    let mut out = String::with_capacity(v.len().min(255));
    for c in v.chars() {
        let (escape, c) = match c {
            '"' | '\\' | ']' => (true, c),
            c if c.is_control() => (false, ' '),
            c => (false, c),
        };
        // Whole characters and whole escapes only, within the 255 bytes.
        if out.len() + usize::from(escape) + c.len_utf8() > 255 {
            break;
        }
        if escape {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Control characters (newlines above all) as spaces.
pub(crate) fn one_line(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// Cut to at most `max` bytes on a character boundary.
pub(crate) fn truncate(s: &mut String, max: usize) {
    if s.len() > max {
        let mut i = max;
        while !s.is_char_boundary(i) {
            i -= 1;
        }
        s.truncate(i);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notification::EventKind;
    use rampart_model::Timestamp;
    use serde_json::json;

    fn sample() -> Notification {
        let mut n = Notification::new(
            EventKind::MitigationApplied,
            Timestamp::from_millis(1_764_000_000_123),
            "edge-1",
            Some(json!({"id":12,"kind":"ddos","vector":"syn_flood","target":"203.0.113.10"})),
            Some(json!({"id":3,"kind":"blackhole","target":"203.0.113.10"})),
            None,
        );
        n.id = "0123456789abcdef0123456789abcdef".into();
        n
    }

    #[test]
    fn a_whole_line() {
        let n = sample();
        let line = rfc5424(&n, &Origin::new(16, "edge-1.example.org", 4242), 2048);
        assert_eq!(
            line,
            format!(
                "<132>1 2025-11-24T16:00:00.123Z edge-1.example.org rampart 4242 mitigation.applied \
                 [rampart@32473 event=\"mitigation.applied\" severity=\"warning\" \
                 id=\"0123456789abcdef0123456789abcdef\" daemon=\"edge-1\" target=\"203.0.113.10\" \
                 detection_id=\"12\" kind=\"ddos\" vector=\"syn_flood\" mitigation_id=\"3\" \
                 action=\"blackhole\"] {}: {}",
                n.title, n.text
            )
        );
    }

    #[test]
    fn escapes_and_cuts() {
        assert_eq!(escape_param(r#"a"b\c]d"#), r#"a\"b\\c\]d"#);
        assert_eq!(escape_param("x\ny"), "x y");
        assert_eq!(
            escape_param(&"]".repeat(200)).len(),
            254,
            "no half escape at the cut"
        );
        assert_eq!(
            escape_param(&"é".repeat(200)).len(),
            254,
            "no half character"
        );
        let mut n = sample();
        n.text = "é".repeat(3000);
        let line = rfc5424(&n, &Origin::new(3, "h o\nst", 1), 2048);
        assert!(line.len() <= 2048);
        assert!(line.starts_with("<28>1 ") && line.contains(" host rampart "));
        assert!(line.contains(" \u{feff}"), "non-ASCII MSG gets a BOM");
        assert!(!line.contains('\n'));
        assert_eq!(Origin::new(1, "", 1).hostname, "-");
    }
}
