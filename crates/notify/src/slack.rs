//! The Slack incoming-webhook body: `text` (what phones and Mattermost show) and `blocks`
//! (a header, the paragraph, a context line), within Slack's length limits.

use crate::notification::{Notification, Severity};
use serde_json::json;

/// Slack's limits: header text 150 characters, section text 3,000.
const HEADER_MAX: usize = 150;
const SECTION_MAX: usize = 3_000;

pub fn slack_body(n: &Notification) -> Vec<u8> {
    let icon = match n.severity {
        Severity::Critical => ":rotating_light:",
        Severity::Warning => ":warning:",
        Severity::Info => ":information_source:",
    };
    let context = format!(
        "*{}* · `{}` · {} · {}",
        n.severity,
        n.event,
        escape(&n.daemon),
        n.time
    );
    let body = json!({
        "text": format!("{icon} [{}] {}: {}", n.severity.as_str().to_uppercase(),
                        escape(&n.title), escape(&n.text)),
        "blocks": [
            {"type": "header",
             "text": {"type": "plain_text", "emoji": true,
                      "text": cut(&format!("{icon} {}", n.title), HEADER_MAX)}},
            {"type": "section",
             "text": {"type": "mrkdwn", "text": cut(&escape(&n.text), SECTION_MAX)}},
            {"type": "context",
             "elements": [{"type": "mrkdwn", "text": context}]},
        ],
    });
    serde_json::to_vec(&body).unwrap_or_default()
}

/// Slack's three control characters in mrkdwn; everything else goes through as is.
fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// At most `max` characters, with an ellipsis when cut.
pub(crate) fn cut(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notification::EventKind;
    use rampart_model::Timestamp;
    use serde_json::Value;

    #[test]
    fn shape_and_limits() {
        let mut n = Notification::new(
            EventKind::AttackStarted,
            Timestamp::EPOCH,
            "edge-1",
            None,
            None,
            None,
        );
        n.title = "x".repeat(200);
        n.text = "a <b> & c ".repeat(500);
        let v: Value = serde_json::from_slice(&slack_body(&n)).unwrap();
        assert!(v["text"]
            .as_str()
            .unwrap()
            .starts_with(":rotating_light: [CRITICAL] xxx"));
        let blocks = v["blocks"].as_array().unwrap();
        assert_eq!(blocks.len(), 3);
        assert_eq!(blocks[0]["type"], "header");
        let header = blocks[0]["text"]["text"].as_str().unwrap();
        assert_eq!(header.chars().count(), 150);
        assert!(header.ends_with('…'));
        let section = blocks[1]["text"]["text"].as_str().unwrap();
        assert!(section.chars().count() <= 3000);
        assert!(section.starts_with("a &lt;b&gt; &amp; c"));
        assert!(!section.contains('<'));
        assert_eq!(
            blocks[2]["elements"][0]["text"],
            "*critical* · `attack.started` · edge-1 · 1970-01-01T00:00:00.000Z"
        );
    }
}
