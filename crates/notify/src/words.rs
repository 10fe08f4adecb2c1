//! The words of a notification: a title and one paragraph written from the event and the
//! detection and mitigation JSON. Read defensively: a missing field shortens the sentence,
//! it never fails.

use crate::notification::EventKind;
use rampart_model::Timestamp;
use serde_json::Value;

/// (title, text).
pub(crate) fn describe(
    event: EventKind,
    time: Timestamp,
    detection: Option<&Value>,
    mitigation: Option<&Value>,
    note: Option<&str>,
) -> (String, String) {
    let d = Fields(detection);
    let m = Fields(mitigation);
    let target = m
        .str("target")
        .or_else(|| d.str("target"))
        .unwrap_or("an unknown target");
    let action = m.str("kind").map(action_name).unwrap_or("Mitigation");
    let dry = if m.bool("dry_run") { " (dry run)" } else { "" };
    let what = d.what();

    let title = match event {
        EventKind::AttackStarted => format!("{what} on {target}{}", d.rate(" at ")),
        EventKind::AttackUpdated => format!("{what} on {target} goes on{}", d.rate(", peak ")),
        EventKind::AttackEscalated => {
            format!("{what} on {target} escalated to {}", action.to_lowercase())
        }
        EventKind::AttackEnded => format!("{what} on {target} ended{}", d.duration()),
        EventKind::DetectionStarted => match d.str("source") {
            Some(src) => format!("{what} of {target} from {src}"),
            None => format!("{what} on {target}"),
        },
        EventKind::DetectionEnded => match d.str("source") {
            Some(src) => format!("{what} of {target} from {src} ended"),
            None => format!("{what} on {target} ended"),
        },
        EventKind::MitigationApplied => format!("{action} applied to {target}{dry}"),
        EventKind::MitigationPending => {
            format!("Approval needed: {} for {target}", action.to_lowercase())
        }
        EventKind::MitigationWithdrawn => format!("{action} for {target} withdrawn{dry}"),
        EventKind::MitigationRefused => format!("{action} for {target} refused"),
        EventKind::MitigationFailed => format!("{action} for {target} failed"),
    };

    let mut text = Vec::new();
    if detection.is_some() {
        text.push(d.sentence());
    }
    if mitigation.is_some() {
        text.push(m.mitigation_sentence(action, target));
    }
    if let Some(note) = note.filter(|n| !n.trim().is_empty()) {
        text.push(ensure_stop(note.trim()));
    }
    if text.is_empty() {
        text.push(format!("{} at {time}.", event.as_str()));
    }
    (title, text.join(" "))
}

fn action_name(kind: &str) -> &'static str {
    match kind {
        "flowspec" => "FlowSpec",
        "divert" => "Diversion",
        "blackhole" => "Blackhole",
        "ban" => "Ban",
        _ => "Mitigation",
    }
}

fn ensure_stop(s: &str) -> String {
    if s.ends_with(['.', '!', '?']) {
        s.to_string()
    } else {
        format!("{s}.")
    }
}

/// Field access on an optional JSON object.
struct Fields<'a>(Option<&'a Value>);

impl<'a> Fields<'a> {
    fn get(&self, key: &str) -> Option<&'a Value> {
        self.0?.get(key)
    }
    fn str(&self, key: &str) -> Option<&'a str> {
        self.get(key)?.as_str()
    }
    fn u64(&self, key: &str) -> Option<u64> {
        self.get(key)?.as_u64()
    }
    fn bool(&self, key: &str) -> bool {
        self.get(key).and_then(Value::as_bool).unwrap_or(false)
    }

    /// "DDoS attack (SYN flood)", "Horizontal scan", "Brute force".
    fn what(&self) -> String {
        match self.str("kind") {
            Some("ddos") => match self.str("vector") {
                Some(v) => format!("DDoS ({})", v.replace('_', " ")),
                None => "DDoS attack".into(),
            },
            Some("scan") => match self.str("scan_type") {
                Some(t) => format!("{} scan", capitalise(t)),
                None => "Scan".into(),
            },
            Some(k) => capitalise(&k.replace('_', " ")),
            None => "Attack".into(),
        }
    }

    fn rate(&self, lead: &str) -> String {
        match (self.u64("peak_pps"), self.u64("peak_bps")) {
            (Some(p), Some(b)) => format!("{lead}{} / {}", si(p, "pps"), si(b, "b/s")),
            (Some(p), None) => format!("{lead}{}", si(p, "pps")),
            (None, Some(b)) => format!("{lead}{}", si(b, "b/s")),
            (None, None) => String::new(),
        }
    }

    fn duration(&self) -> String {
        let start = self.str("start").and_then(|s| s.parse::<Timestamp>().ok());
        let end = self.str("end").and_then(|s| s.parse::<Timestamp>().ok());
        match (start, end) {
            (Some(s), Some(e)) if e >= s => {
                format!(" after {}", human_duration(e.as_secs() - s.as_secs()))
            }
            _ => String::new(),
        }
    }

    /// What the detection says, in one or two sentences.
    fn sentence(&self) -> String {
        let mut s = String::new();
        let target = self.str("target").unwrap_or("?");
        match self.str("kind") {
            Some("ddos") => {
                // Inbound: toward one of ours; outbound: one of ours is the attacker.
                let dir = match self.str("direction") {
                    Some("outbound") => "from",
                    _ => "toward",
                };
                let vectors: Vec<&str> = self
                    .get("vectors")
                    .and_then(Value::as_array)
                    .map(|a| a.iter().filter_map(Value::as_str).collect())
                    .unwrap_or_default();
                s.push_str(&format!("{} {dir} {target}", self.what()));
                if vectors.len() > 1 {
                    s.push_str(&format!(" (vectors: {})", vectors.join(", ")));
                }
                if let Some(start) = self.str("start") {
                    s.push_str(&format!(" since {start}"));
                }
                s.push_str(&self.rate(", peak "));
                if let Some(c) = self.get("confidence").and_then(Value::as_f64) {
                    s.push_str(&format!(", confidence {c:.2}"));
                }
                s.push('.');
                let sources: Vec<&str> = self
                    .get("top_sources")
                    .and_then(Value::as_array)
                    .map(|a| {
                        a.iter()
                            .take(3)
                            .filter_map(|t| t.get("addr").and_then(Value::as_str))
                            .collect()
                    })
                    .unwrap_or_default();
                if self.bool("spoofed_sources") {
                    s.push_str(" Sources look spoofed.");
                } else if !sources.is_empty() {
                    s.push_str(&format!(" Top sources: {}.", sources.join(", ")));
                }
            }
            Some("scan") => {
                let src = self.str("source").unwrap_or("?");
                s.push_str(&format!("{} of {target} from {src}", self.what()));
                match (self.u64("ports"), self.u64("hosts")) {
                    (Some(p), Some(h)) => s.push_str(&format!(": {p} ports on {h} hosts")),
                    (Some(p), None) => s.push_str(&format!(": {p} ports")),
                    _ => {}
                }
                if let Some(start) = self.str("start") {
                    s.push_str(&format!(" since {start}"));
                }
                s.push('.');
            }
            _ => {
                s.push_str(&format!("{} on {target}", self.what()));
                if let Some(src) = self.str("source") {
                    s.push_str(&format!(" from {src}"));
                }
                if let Some(user) = self.str("user") {
                    s.push_str(&format!(" (user {user})"));
                }
                s.push('.');
            }
        }
        if let Some(ev) = self.str("evidence").filter(|e| !e.is_empty()) {
            s.push(' ');
            s.push_str(&ensure_stop(ev));
        }
        if let Some(id) = self.u64("id") {
            s.push_str(&format!(" Detection {id}."));
        }
        s
    }

    fn mitigation_sentence(&self, action: &str, target: &str) -> String {
        let mut s = format!("{action} for {target}");
        if let Some(id) = self.u64("id") {
            s.push_str(&format!(" (mitigation {id})"));
        }
        if let Some(state) = self.str("state") {
            s.push_str(&format!(", {state}"));
        }
        if self.bool("dry_run") {
            s.push_str(", dry run: recorded, not announced");
        }
        if let Some(exp) = self.str("expires") {
            s.push_str(&format!(", expires {exp}"));
        }
        s.push('.');
        if let Some(guard) = self.str("guard") {
            s.push_str(&format!(" Refused by guard {guard}."));
        }
        if let Some(reason) = self.str("reason").filter(|r| !r.is_empty()) {
            s.push(' ');
            s.push_str(&ensure_stop(reason));
        }
        match (self.str("requested_by"), self.str("approved_by")) {
            (Some(r), Some(a)) => s.push_str(&format!(" Requested by {r}, approved by {a}.")),
            (Some(r), None) if r != "policy" => s.push_str(&format!(" Requested by {r}.")),
            _ => {}
        }
        s
    }
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

/// 1234567 pps → "1.23 Mpps".
fn si(v: u64, unit: &str) -> String {
    const STEPS: [(f64, &str); 4] = [(1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")];
    let f = v as f64;
    for (scale, prefix) in STEPS {
        if f >= scale {
            let n = format!("{:.3}", f / scale);
            let n = n.trim_end_matches('0').trim_end_matches('.');
            return format!("{n} {prefix}{unit}");
        }
    }
    format!("{v} {unit}")
}

fn human_duration(secs: u64) -> String {
    match secs {
        0..=119 => format!("{secs} s"),
        120..=7_199 => format!("{} min", secs / 60),
        _ => format!("{} h {} min", secs / 3600, (secs / 60) % 60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ddos() -> Value {
        json!({"kind":"ddos","vector":"syn_flood","vectors":["syn_flood","udp_flood"],
               "target":"203.0.113.10","direction":"inbound",
               "start":"2026-11-22T10:00:00.000Z","end":"2026-11-22T10:12:30.000Z",
               "peak_pps":1_234_567,"peak_bps":9_600_000_000u64,"confidence":0.93,
               "top_sources":[{"addr":"198.51.100.1","packets":5,"share":0.5}],
               "spoofed_sources":false,"evidence":"SYN 40x the baseline","id":12,
               "state":"active"})
    }

    #[test]
    fn attack_started_reads_well() {
        let (title, text) = describe(
            EventKind::AttackStarted,
            Timestamp::EPOCH,
            Some(&ddos()),
            None,
            None,
        );
        assert_eq!(
            title,
            "DDoS (syn flood) on 203.0.113.10 at 1.235 Mpps / 9.6 Gb/s"
        );
        assert!(text.starts_with("DDoS (syn flood) toward 203.0.113.10 (vectors: syn_flood, udp_flood) since 2026-11-22T10:00:00.000Z, peak 1.235 Mpps / 9.6 Gb/s, confidence 0.93."), "{text}");
        assert!(text.contains("Top sources: 198.51.100.1."));
        assert!(
            text.ends_with("SYN 40x the baseline. Detection 12."),
            "{text}"
        );
    }

    #[test]
    fn ended_says_how_long() {
        let (title, _) = describe(
            EventKind::AttackEnded,
            Timestamp::EPOCH,
            Some(&ddos()),
            None,
            None,
        );
        assert_eq!(title, "DDoS (syn flood) on 203.0.113.10 ended after 12 min");
    }

    #[test]
    fn mitigations_and_refusals() {
        let m = json!({"id":3,"kind":"blackhole","target":"203.0.113.10","state":"active",
                       "dry_run":true,"expires":"2026-11-22T11:00:00.000Z",
                       "reason":"syn_flood over 1 Mpps","requested_by":"policy"});
        let (title, text) = describe(
            EventKind::MitigationApplied,
            Timestamp::EPOCH,
            Some(&ddos()),
            Some(&m),
            None,
        );
        assert_eq!(title, "Blackhole applied to 203.0.113.10 (dry run)");
        assert!(text.contains("Blackhole for 203.0.113.10 (mitigation 3), active, dry run: recorded, not announced, expires 2026-11-22T11:00:00.000Z. syn_flood over 1 Mpps."), "{text}");
        let r = json!({"kind":"flowspec","target":"203.0.113.53","guard":"never",
                       "reason":"203.0.113.53 is in respond.never","requested_by":"token:alice"});
        let (title, text) = describe(
            EventKind::MitigationRefused,
            Timestamp::EPOCH,
            None,
            Some(&r),
            Some("no other action"),
        );
        assert_eq!(title, "FlowSpec for 203.0.113.53 refused");
        assert!(text.contains("Refused by guard never. 203.0.113.53 is in respond.never. Requested by token:alice. no other action."), "{text}");
    }

    #[test]
    fn scans_and_bare_events() {
        let s = json!({"kind":"scan","source":"198.51.100.7","target":"203.0.113.0/24",
                       "ports":2,"hosts":300,"scan_type":"horizontal"});
        let (title, text) = describe(
            EventKind::DetectionStarted,
            Timestamp::EPOCH,
            Some(&s),
            None,
            None,
        );
        assert_eq!(title, "Horizontal scan of 203.0.113.0/24 from 198.51.100.7");
        assert_eq!(
            text,
            "Horizontal scan of 203.0.113.0/24 from 198.51.100.7: 2 ports on 300 hosts."
        );
        let (title, text) = describe(
            EventKind::MitigationFailed,
            Timestamp::EPOCH,
            None,
            None,
            None,
        );
        assert_eq!(title, "Mitigation for an unknown target failed");
        assert_eq!(text, "mitigation.failed at 1970-01-01T00:00:00.000Z.");
    }

    #[test]
    fn si_units() {
        assert_eq!(si(999, "pps"), "999 pps");
        assert_eq!(si(1000, "pps"), "1 kpps");
        assert_eq!(si(10_000_000_000, "b/s"), "10 Gb/s");
    }
}
