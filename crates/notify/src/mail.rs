//! The words of a mail: subject and plain-text body (and an HTML part) for one
//! notification or a digest of many. Pure formatting; `email` sends them.

use crate::digest::{Digest, Mail, DIGEST_LIST_MAX};
use crate::notification::Notification;
use std::fmt::Write;

#[derive(Clone, Debug, PartialEq)]
pub struct Rendered {
    pub subject: String,
    pub text: String,
    pub html: String,
    /// For the X-Rampart-Event header: the event, or `digest`.
    pub event: String,
    pub severity: String,
}

pub fn render(mail: &Mail, daemon: &str, per_minute: u32) -> Rendered {
    match mail {
        Mail::Single(n) => single(n, daemon),
        Mail::Digest(d) => digest(d, daemon, per_minute),
    }
}

fn single(n: &Notification, daemon: &str) -> Rendered {
    let subject = subject_line(&format!(
        "[Rampart {daemon}] {}: {}",
        n.severity.as_str().to_uppercase(),
        n.title
    ));
    let mut facts = vec![
        ("Event", n.event.as_str().to_string()),
        ("Severity", n.severity.as_str().to_string()),
        ("Time", n.time.to_string()),
    ];
    if let Some(t) = &n.target {
        facts.push(("Target", t.clone()));
    }
    if let Some(id) = n.detection_id() {
        facts.push(("Detection", id.to_string()));
    }
    if let Some(id) = n.mitigation_id() {
        facts.push(("Mitigation", id.to_string()));
    }
    facts.push(("Daemon", n.daemon.clone()));
    facts.push(("Id", n.id.clone()));

    let mut text = format!("{}\n\n{}\n\n", n.title, n.text);
    for (k, v) in &facts {
        let _ = writeln!(text, "{:<11} {v}", format!("{k}:"));
    }
    let mut html = format!(
        "<html><body><h2>{}</h2><p>{}</p><table>",
        esc(&n.title),
        esc(&n.text)
    );
    for (k, v) in &facts {
        let _ = write!(
            html,
            "<tr><th align=\"left\">{k}</th><td>{}</td></tr>",
            esc(v)
        );
    }
    html.push_str("</table></body></html>");
    Rendered {
        subject,
        text,
        html,
        event: n.event.as_str().into(),
        severity: n.severity.as_str().into(),
    }
}

fn digest(d: &Digest, daemon: &str, per_minute: u32) -> Rendered {
    let kinds: Vec<String> = d.by_event.iter().map(|(k, c)| format!("{k} {c}")).collect();
    let subject = subject_line(&format!(
        "[Rampart {daemon}] {}: digest of {} notifications ({})",
        d.highest.as_str().to_uppercase(),
        d.total,
        kinds.join(", ")
    ));
    let intro = format!(
        "More than {per_minute} notifications a minute came (notify.email.max_per_minute), \
         so these {} are gathered in one mail. The API and the other sinks have each of them.",
        d.total
    );
    let mut text = format!("{intro}\n\nBy event: {}\n\n", kinds.join(", "));
    let mut html = format!(
        "<html><body><p>{}</p><p>By event: {}</p><table>",
        esc(&intro),
        esc(&kinds.join(", "))
    );
    for n in &d.listed {
        let _ = writeln!(
            text,
            "{}  {:<8}  {:<20}  {}",
            n.time, n.severity, n.event, n.title
        );
        let _ = write!(
            html,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            n.time,
            n.severity,
            n.event,
            esc(&n.title)
        );
    }
    html.push_str("</table>");
    if d.total > d.listed.len() {
        let more = d.total - d.listed.len();
        let _ = writeln!(
            text,
            "\n... and {more} more (only the first {DIGEST_LIST_MAX} are listed)."
        );
        let _ = write!(html, "<p>... and {more} more.</p>");
    }
    html.push_str("</body></html>");
    Rendered {
        subject,
        text,
        html,
        event: "digest".into(),
        severity: d.highest.as_str().into(),
    }
}

/// One line of at most 200 characters: mail clients cut long subjects anyway.
fn subject_line(s: &str) -> String {
    crate::slack::cut(&crate::rfc5424::one_line(s), 200)
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::digest::MailLimiter;
    use crate::notification::EventKind;
    use rampart_model::Timestamp;
    use std::sync::Arc;
    use std::time::Instant;

    #[test]
    fn single_and_digest() {
        let n = Arc::new(Notification::new(
            EventKind::AttackStarted,
            Timestamp::EPOCH,
            "edge-1",
            Some(serde_json::json!({"kind":"ddos","target":"203.0.113.10","id":7})),
            None,
            None,
        ));
        let r = render(&Mail::Single(n.clone()), "edge-1", 10);
        assert_eq!(
            r.subject,
            "[Rampart edge-1] CRITICAL: DDoS attack on 203.0.113.10"
        );
        assert!(
            r.text.contains("\nTarget:     203.0.113.10\n"),
            "{}",
            r.text
        );
        assert!(r.text.contains("\nDetection:  7\n"));
        assert!(r.html.contains("<h2>DDoS attack on 203.0.113.10</h2>"));

        let t = Instant::now();
        let mut l = MailLimiter::new(1);
        l.offer(t, n.clone());
        for _ in 0..150 {
            l.offer(t, n.clone());
        }
        let d = l.flush().unwrap();
        let r = render(&d, "edge-1", 1);
        assert_eq!(
            r.subject,
            "[Rampart edge-1] CRITICAL: digest of 150 notifications (attack.started 150)"
        );
        assert!(r.text.contains("... and 50 more"));
        assert_eq!(r.text.matches("attack.started  DDoS").count(), 100);
        assert_eq!(r.event, "digest");
    }
}
