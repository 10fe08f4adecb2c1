//! ArcSight Common Event Format:
//! `CEF:0|Rampart|Rampart|VERSION|EVENT|TITLE|SEVERITY|key=value ...`, escaped as the CEF
//! spec asks (`\|` and `\\` in the header; `\=`, `\\`, `\n`, `\r` in extension values).

use crate::notification::{Notification, Severity};
use std::net::IpAddr;

/// CEF severity 0-10: low (0-3), medium (4-6), high (7-8), very high (9-10).
pub const fn cef_severity(s: Severity) -> u8 {
    match s {
        Severity::Info => 3,
        Severity::Warning => 6,
        Severity::Critical => 9,
    }
}

/// One CEF record for a notification, without a syslog header.
pub fn cef(n: &Notification) -> String {
    let mut out = format!(
        "CEF:0|Rampart|Rampart|{}|{}|{}|{}|",
        escape_header(env!("CARGO_PKG_VERSION")),
        escape_header(n.event.as_str()),
        escape_header(&crate::slack::cut(&n.title, 512)),
        cef_severity(n.severity)
    );
    let mut ext: Vec<(&str, String)> = vec![
        ("rt", n.time.as_millis().to_string()),
        ("cat", n.event.as_str().into()),
        ("externalId", n.id.clone()),
        ("dvchost", n.daemon.clone()),
    ];
    if let Some(t) = &n.target {
        // dst takes one IPv4 address; any target also goes in cs2, prefixes included.
        if let Ok(IpAddr::V4(a)) = t.parse::<IpAddr>() {
            ext.push(("dst", a.to_string()));
        }
        ext.push(("cs2Label", "target".into()));
        ext.push(("cs2", t.clone()));
    }
    if let Some(src) = n.detection_str("source") {
        if let Ok(IpAddr::V4(a)) = src.parse::<IpAddr>() {
            ext.push(("src", a.to_string()));
        }
        ext.push(("cs6Label", "source".into()));
        ext.push(("cs6", src.into()));
    }
    if let Some(id) = n.detection_id() {
        ext.push(("cs1Label", "detectionId".into()));
        ext.push(("cs1", id.to_string()));
    }
    if let Some(k) = n.detection_str("kind") {
        ext.push(("cs5Label", "detectionKind".into()));
        ext.push(("cs5", k.into()));
    }
    if let Some(v) = n.detection_str("vector") {
        ext.push(("cs3Label", "vector".into()));
        ext.push(("cs3", v.into()));
    }
    if let Some(id) = n.mitigation_id() {
        ext.push(("cs4Label", "mitigationId".into()));
        ext.push(("cs4", id.to_string()));
    }
    if let Some(a) = n.mitigation_str("kind") {
        ext.push(("act", a.into()));
    }
    let num = |k| n.detection.as_ref()?.get(k)?.as_u64();
    if let Some(p) = num("peak_pps") {
        ext.push(("cn1Label", "peakPps".into()));
        ext.push(("cn1", p.to_string()));
    }
    if let Some(b) = num("peak_bps") {
        ext.push(("cn2Label", "peakBps".into()));
        ext.push(("cn2", b.to_string()));
    }
    ext.push(("msg", n.text.clone()));
    let ext: Vec<String> = ext
        .iter()
        .map(|(k, v)| format!("{k}={}", escape_ext(v)))
        .collect();
    out.push_str(&ext.join(" "));
    out
}

/// A header field: `\` and `|` escaped; the header allows no line breaks, so control
/// characters become spaces.
pub fn escape_header(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' | '|' => {
                out.push('\\');
                out.push(c);
            }
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// An extension value: `\` and `=` escaped, line breaks written `\n` and `\r`, other
/// control characters as spaces.
pub fn escape_ext(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' | '=' => {
                out.push('\\');
                out.push(c);
            }
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notification::EventKind;
    use rampart_model::Timestamp;
    use serde_json::json;

    #[test]
    fn a_whole_record() {
        let mut n = Notification::new(
            EventKind::AttackStarted,
            Timestamp::from_millis(1_764_000_000_123),
            "edge-1",
            Some(
                json!({"id":12,"kind":"ddos","vector":"syn_flood","target":"203.0.113.10",
                        "peak_pps":1000,"peak_bps":8000}),
            ),
            None,
            None,
        );
        n.id = "ab".into();
        n.title = "Flood | on a=b".into();
        n.text = "line one\nline two = \\ done".into();
        assert_eq!(
            cef(&n),
            format!(
                "CEF:0|Rampart|Rampart|{}|attack.started|Flood \\| on a=b|9|rt=1764000000123 \
                 cat=attack.started externalId=ab dvchost=edge-1 dst=203.0.113.10 \
                 cs2Label=target cs2=203.0.113.10 cs1Label=detectionId cs1=12 \
                 cs5Label=detectionKind cs5=ddos cs3Label=vector cs3=syn_flood \
                 cn1Label=peakPps cn1=1000 cn2Label=peakBps cn2=8000 \
                 msg=line one\\nline two \\= \\\\ done",
                env!("CARGO_PKG_VERSION")
            )
        );
    }

    #[test]
    fn escaping() {
        assert_eq!(escape_header("a|b\\c\nd=e"), "a\\|b\\\\c d=e");
        assert_eq!(escape_ext("a=b\\c\r\nd|e\t"), "a\\=b\\\\c\\r\\nd|e ");
    }
}
