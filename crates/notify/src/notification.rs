//! What a notification is: one event (an attack started, a mitigation failed...) with the
//! words a person reads on a phone and the detection and mitigation as the API shows them.
//! Its JSON (schema version [`SCHEMA_VERSION`]) is what webhooks receive; docs/notify.md.

use rampart_model::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::fmt;

/// The `version` of the JSON. Raised only when a field changes meaning or goes away; new
/// fields may appear at any version.
pub const SCHEMA_VERSION: u32 = 1;

/// What happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum EventKind {
    /// A DDoS attack was detected.
    #[serde(rename = "attack.started")]
    AttackStarted,
    /// An attack goes on with new numbers (a higher peak, a new vector).
    #[serde(rename = "attack.updated")]
    AttackUpdated,
    /// An attack outlasted its first action and the next, blunter one was taken.
    #[serde(rename = "attack.escalated")]
    AttackEscalated,
    #[serde(rename = "attack.ended")]
    AttackEnded,
    /// A detection of another kind (a scan, login abuse) started.
    #[serde(rename = "detection.started")]
    DetectionStarted,
    #[serde(rename = "detection.ended")]
    DetectionEnded,
    /// A mitigation was announced or installed (or recorded, in dry-run).
    #[serde(rename = "mitigation.applied")]
    MitigationApplied,
    /// A mitigation waits for an analyst's approval (manual mode).
    #[serde(rename = "mitigation.pending")]
    MitigationPending,
    #[serde(rename = "mitigation.withdrawn")]
    MitigationWithdrawn,
    /// A guard refused a mitigation.
    #[serde(rename = "mitigation.refused")]
    MitigationRefused,
    /// An executor could not carry a mitigation out (BGP session down, nft failed).
    #[serde(rename = "mitigation.failed")]
    MitigationFailed,
}

impl EventKind {
    pub const ALL: &'static [EventKind] = &[
        EventKind::AttackStarted,
        EventKind::AttackUpdated,
        EventKind::AttackEscalated,
        EventKind::AttackEnded,
        EventKind::DetectionStarted,
        EventKind::DetectionEnded,
        EventKind::MitigationApplied,
        EventKind::MitigationPending,
        EventKind::MitigationWithdrawn,
        EventKind::MitigationRefused,
        EventKind::MitigationFailed,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            EventKind::AttackStarted => "attack.started",
            EventKind::AttackUpdated => "attack.updated",
            EventKind::AttackEscalated => "attack.escalated",
            EventKind::AttackEnded => "attack.ended",
            EventKind::DetectionStarted => "detection.started",
            EventKind::DetectionEnded => "detection.ended",
            EventKind::MitigationApplied => "mitigation.applied",
            EventKind::MitigationPending => "mitigation.pending",
            EventKind::MitigationWithdrawn => "mitigation.withdrawn",
            EventKind::MitigationRefused => "mitigation.refused",
            EventKind::MitigationFailed => "mitigation.failed",
        }
    }

    pub fn parse(s: &str) -> Option<EventKind> {
        EventKind::ALL.iter().copied().find(|k| k.as_str() == s)
    }

    /// The severity an event has unless its sender says otherwise.
    pub const fn default_severity(self) -> Severity {
        match self {
            EventKind::AttackStarted
            | EventKind::AttackEscalated
            | EventKind::MitigationPending
            | EventKind::MitigationFailed => Severity::Critical,
            EventKind::AttackUpdated
            | EventKind::DetectionStarted
            | EventKind::MitigationApplied
            | EventKind::MitigationRefused => Severity::Warning,
            EventKind::AttackEnded | EventKind::DetectionEnded | EventKind::MitigationWithdrawn => {
                Severity::Info
            }
        }
    }
}

impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How urgently a person should look. Ordered: `info < warning < critical`.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    #[default]
    Info,
    Warning,
    Critical,
}

impl Severity {
    pub const fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Critical => "critical",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One notification, as every sink receives it. Build it with [`Notification::new`] (words
/// written from the detection and mitigation) and adjust fields as needed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Notification {
    /// [`SCHEMA_VERSION`].
    pub version: u32,
    /// Unique per notification (32 hex digits); receivers drop duplicates by it.
    pub id: String,
    pub event: EventKind,
    /// When the event happened (RFC 3339, UTC, milliseconds).
    pub time: Timestamp,
    pub severity: Severity,
    /// The daemon that sent it (`notify.name`, by default the host name).
    pub daemon: String,
    /// One line, at most about 100 characters: the subject of a mail, a Slack header.
    pub title: String,
    /// One paragraph a person reads on a phone: what, where, how big, what was done.
    pub text: String,
    /// The address or prefix concerned (from the mitigation, else the detection).
    pub target: Option<String>,
    /// The detection as `GET /api/v1/detections/{id}` shows it; `null` when none.
    pub detection: Option<Value>,
    /// The mitigation as the API shows it; `null` when none.
    pub mitigation: Option<Value>,
}

impl Notification {
    /// A notification with its severity, title and text written from the event, the
    /// detection and the mitigation (both as the API's JSON). `note` is added to the text:
    /// the reason a mitigation was refused or failed, who approved it.
    pub fn new(
        event: EventKind,
        time: Timestamp,
        daemon: &str,
        detection: Option<Value>,
        mitigation: Option<Value>,
        note: Option<&str>,
    ) -> Notification {
        let (title, text) =
            crate::words::describe(event, time, detection.as_ref(), mitigation.as_ref(), note);
        let target = [mitigation.as_ref(), detection.as_ref()]
            .into_iter()
            .flatten()
            .find_map(|v| v.get("target").and_then(Value::as_str))
            .map(str::to_string);
        Notification {
            version: SCHEMA_VERSION,
            id: new_id(),
            event,
            time,
            severity: event.default_severity(),
            daemon: daemon.to_string(),
            title,
            text,
            target,
            detection,
            mitigation,
        }
    }

    /// The detection's id, when it has one.
    pub fn detection_id(&self) -> Option<u64> {
        self.detection.as_ref()?.get("id")?.as_u64()
    }

    pub fn mitigation_id(&self) -> Option<u64> {
        self.mitigation.as_ref()?.get("id")?.as_u64()
    }

    /// A string field of the detection (`kind`, `vector`, `source`...).
    pub fn detection_str(&self, key: &str) -> Option<&str> {
        self.detection.as_ref()?.get(key)?.as_str()
    }

    pub fn mitigation_str(&self, key: &str) -> Option<&str> {
        self.mitigation.as_ref()?.get(key)?.as_str()
    }

    /// The JSON webhooks receive.
    pub fn to_json(&self) -> Vec<u8> {
        // A struct of strings, numbers and JSON values always serialises.
        serde_json::to_vec(self).unwrap_or_default()
    }
}

/// 128 random bits in hex. Falls back to a clock-and-counter id if the OS has no entropy
/// to give, which still keeps ids unique within one daemon.
fn new_id() -> String {
    let mut b = [0u8; 16];
    if getrandom::fill(&mut b).is_err() {
        use std::sync::atomic::{AtomicU64, Ordering};
        static SEQ: AtomicU64 = AtomicU64::new(0);
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0);
        b[..8].copy_from_slice(&now.to_be_bytes());
        b[8..].copy_from_slice(&SEQ.fetch_add(1, Ordering::Relaxed).to_be_bytes());
    }
    crate::sign::hex(&b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn event_names_round_trip() {
        for k in EventKind::ALL {
            assert_eq!(EventKind::parse(k.as_str()), Some(*k));
            let j = serde_json::to_string(k).unwrap();
            assert_eq!(j, format!("\"{}\"", k.as_str()));
        }
        assert_eq!(EventKind::parse("attack.begun"), None);
    }

    #[test]
    fn severities_are_ordered() {
        assert!(Severity::Info < Severity::Warning && Severity::Warning < Severity::Critical);
    }

    #[test]
    fn json_has_every_field_with_nulls() {
        let n = Notification::new(
            EventKind::MitigationFailed,
            Timestamp::from_secs(1_800_000_000),
            "edge-1",
            None,
            None,
            Some("BGP session to 192.0.2.1 is down"),
        );
        let v: Value = serde_json::from_slice(&n.to_json()).unwrap();
        for key in [
            "version",
            "id",
            "event",
            "time",
            "severity",
            "daemon",
            "title",
            "text",
            "target",
            "detection",
            "mitigation",
        ] {
            assert!(v.get(key).is_some(), "{key} missing in {v}");
        }
        assert_eq!(v["version"], json!(1));
        assert_eq!(v["event"], json!("mitigation.failed"));
        assert_eq!(v["severity"], json!("critical"));
        assert_eq!(v["time"], json!("2027-01-15T08:00:00.000Z"));
        assert!(v["detection"].is_null() && v["target"].is_null());
        assert_eq!(n.id.len(), 32);
        let back: Notification = serde_json::from_value(v).unwrap();
        assert_eq!(back, n);
    }

    #[test]
    fn target_comes_from_the_mitigation_first() {
        let n = Notification::new(
            EventKind::MitigationApplied,
            Timestamp::from_secs(1),
            "d",
            Some(json!({"kind":"ddos","target":"203.0.113.0/24","id":4})),
            Some(json!({"kind":"blackhole","target":"203.0.113.10/32","id":9})),
            None,
        );
        assert_eq!(n.target.as_deref(), Some("203.0.113.10/32"));
        assert_eq!(n.detection_id(), Some(4));
        assert_eq!(n.mitigation_id(), Some(9));
        assert_ne!(
            n.id,
            Notification::new(
                EventKind::AttackEnded,
                Timestamp::EPOCH,
                "d",
                None,
                None,
                None
            )
            .id
        );
    }
}
