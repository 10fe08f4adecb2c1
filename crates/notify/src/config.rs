//! `[notify]`: the sinks (`[[notify.webhooks]]`, `[notify.email]`, `[[notify.syslog]]`),
//! each with its filter, limits and timeouts. Every field has a default; `validate()` after
//! loading names the key that cannot work.

use crate::notification::{EventKind, Notification, Severity};
use serde::{Deserialize, Serialize, Serializer};
use std::io::Read;
use std::path::{Path, PathBuf};

/// `[notify]`.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct NotifyConfig {
    /// How this daemon names itself in notifications (`daemon`, the syslog HOSTNAME, the
    /// mail subject). Default: the host name.
    pub name: Option<String>,
    pub webhooks: Vec<WebhookConfig>,
    pub email: Option<EmailConfig>,
    pub syslog: Vec<SyslogConfig>,
}

/// Which notifications a sink takes.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Filter {
    /// Event kinds (`attack.started`) or groups (`attack.*`, `mitigation.*`); empty: all.
    pub events: Vec<String>,
    /// Notifications below this severity are left out.
    pub min_severity: Severity,
}

impl Filter {
    pub fn accepts(&self, n: &Notification) -> bool {
        n.severity >= self.min_severity
            && (self.events.is_empty() || self.events.iter().any(|p| matches(p, n.event)))
    }

    fn validate(&self, key: &str) -> Result<(), NotifyConfigError> {
        for p in &self.events {
            if !EventKind::ALL.iter().any(|k| matches(p, *k)) {
                return bad(
                    format!("{key}.events"),
                    format!(
                        "`{p}` names no event (attack.started, attack.*, mitigation.failed...)"
                    ),
                );
            }
        }
        Ok(())
    }
}

fn matches(pattern: &str, kind: EventKind) -> bool {
    match pattern.strip_suffix(".*") {
        Some(group) => kind.as_str().split('.').next() == Some(group),
        None => pattern == "*" || pattern == kind.as_str(),
    }
}

/// The body a webhook receives.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum WebhookFormat {
    /// The notification's own JSON (docs/notify.md).
    #[default]
    Json,
    /// A Slack incoming-webhook message: `text` and `blocks` (Mattermost and Rocket.Chat
    /// take it too).
    Slack,
}

/// `[[notify.webhooks]]`: an HTTP(S) endpoint that gets a signed POST per notification.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct WebhookConfig {
    /// Named in stats, logs and dead letters. Default: `webhook-N` (N from 0, in order).
    pub name: Option<String>,
    /// `http://` or `https://`. Its path may hold a secret (Slack's does): logs and dead
    /// letters show only scheme, host and port.
    pub url: String,
    pub format: WebhookFormat,
    /// The HMAC key of `X-Rampart-Signature`. No secret: no signature header.
    #[serde(serialize_with = "redact")]
    pub secret: Option<String>,
    /// Read the secret from this file instead (trailing newline dropped).
    pub secret_file: Option<PathBuf>,
    #[serde(flatten)]
    pub filter: Filter,
    /// Connecting (TCP and TLS handshake) may take this long.
    pub connect_timeout_ms: u64,
    /// One attempt, connection included, may take this long.
    pub timeout_ms: u64,
    /// Attempts in all (the first and its retries) before the dead letter.
    pub max_attempts: u32,
    /// No attempt starts later than this after the notification was queued.
    pub max_age_s: u64,
    /// Wait before the first retry; doubled each time up to `backoff_max_ms`, with jitter
    /// (each wait is drawn from half to all of its step).
    pub backoff_ms: u64,
    pub backoff_max_ms: u64,
    /// A PEM file of CAs trusted besides the built-in Mozilla roots (a private CA).
    pub ca_file: Option<PathBuf>,
    /// Notifications waiting for this endpoint; more are dropped and counted.
    pub queue: usize,
}

impl Default for WebhookConfig {
    fn default() -> Self {
        WebhookConfig {
            name: None,
            url: String::new(),
            format: WebhookFormat::Json,
            secret: None,
            secret_file: None,
            filter: Filter::default(),
            connect_timeout_ms: 2_000,
            timeout_ms: 5_000,
            max_attempts: 6,
            max_age_s: 600,
            backoff_ms: 500,
            backoff_max_ms: 60_000,
            ca_file: None,
            queue: 1_024,
        }
    }
}

/// How the SMTP connection is protected.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpTls {
    /// Plain connection upgraded with STARTTLS, which the server must offer (port 587).
    #[default]
    Starttls,
    /// TLS from the first byte (SMTPS, port 465).
    Tls,
    /// No encryption (a relay on localhost). Not allowed with a username.
    None,
}

/// `[notify.email]`: mail through one SMTP server.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct EmailConfig {
    pub name: Option<String>,
    /// Host name (checked against its certificate) or address of the SMTP server.
    pub server: String,
    /// Default: 587 for `starttls`, 465 for `tls`, 25 for `none`.
    pub port: Option<u16>,
    pub tls: SmtpTls,
    pub username: Option<String>,
    /// The password, in a file of its own (trailing newline dropped).
    pub password_file: Option<PathBuf>,
    /// `Rampart <rampart@example.org>` or a bare address.
    pub from: String,
    /// One or more recipients.
    pub to: Vec<String>,
    #[serde(flatten)]
    pub filter: Filter,
    /// Mails per rolling minute, digests included. Past it, notifications wait and go
    /// out together in one digest mail as soon as the limit allows.
    pub max_per_minute: u32,
    /// A PEM file of CAs trusted besides the built-in Mozilla roots.
    pub ca_file: Option<PathBuf>,
    /// Send an HTML part beside the plain text.
    pub html: bool,
    /// One SMTP conversation may take this long.
    pub timeout_ms: u64,
    /// Attempts per mail before its notifications become dead letters.
    pub max_attempts: u32,
    pub queue: usize,
}

impl Default for EmailConfig {
    fn default() -> Self {
        EmailConfig {
            name: None,
            server: String::new(),
            port: None,
            tls: SmtpTls::Starttls,
            username: None,
            password_file: None,
            from: String::new(),
            to: Vec::new(),
            filter: Filter {
                events: Vec::new(),
                min_severity: Severity::Warning,
            },
            max_per_minute: 10,
            ca_file: None,
            html: false,
            timeout_ms: 30_000,
            max_attempts: 3,
            queue: 1_024,
        }
    }
}

impl EmailConfig {
    pub fn port(&self) -> u16 {
        self.port.unwrap_or(match self.tls {
            SmtpTls::Starttls => 587,
            SmtpTls::Tls => 465,
            SmtpTls::None => 25,
        })
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SyslogProtocol {
    /// One datagram per message (RFC 5426), cut at 2,048 bytes.
    #[default]
    Udp,
    /// Octet-counted framing (RFC 6587), reconnected when the collector goes away.
    Tcp,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SyslogFormat {
    /// RFC 5424 with structured data `[rampart@32473 ...]`.
    #[default]
    Rfc5424,
    /// ArcSight Common Event Format as the message of an RFC 5424 line.
    Cef,
}

/// `[[notify.syslog]]`: a syslog collector or SIEM.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct SyslogConfig {
    pub name: Option<String>,
    /// `host:port` or `[v6]:port`.
    pub address: String,
    pub protocol: SyslogProtocol,
    pub format: SyslogFormat,
    /// `kern`, `user`, `daemon`, `auth`, `authpriv`, `local0` ... `local7`, or 0-23.
    pub facility: String,
    #[serde(flatten)]
    pub filter: Filter,
    /// Connecting over TCP may take this long.
    pub connect_timeout_ms: u64,
    pub queue: usize,
}

impl Default for SyslogConfig {
    fn default() -> Self {
        SyslogConfig {
            name: None,
            address: String::new(),
            protocol: SyslogProtocol::Udp,
            format: SyslogFormat::Rfc5424,
            facility: "local0".into(),
            filter: Filter::default(),
            connect_timeout_ms: 2_000,
            queue: 4_096,
        }
    }
}

/// The facility code of a name or number.
pub fn facility_code(s: &str) -> Option<u8> {
    const NAMES: [&str; 24] = [
        "kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp", "cron",
        "authpriv", "ftp", "ntp", "audit", "alert", "clock", "local0", "local1", "local2",
        "local3", "local4", "local5", "local6", "local7",
    ];
    if let Ok(n) = s.parse::<u8>() {
        return (n < 24).then_some(n);
    }
    let s = match s {
        "security" => "auth",
        other => other,
    };
    NAMES.iter().position(|n| *n == s).map(|i| i as u8)
}

/// A setting that cannot work, named by its key.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("notify.{key}: {problem}")]
pub struct NotifyConfigError {
    pub key: String,
    pub problem: String,
}

fn bad<T>(key: impl Into<String>, problem: impl Into<String>) -> Result<T, NotifyConfigError> {
    Err(NotifyConfigError {
        key: key.into(),
        problem: problem.into(),
    })
}

fn redact<S: Serializer>(v: &Option<String>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(_) => s.serialize_some("(set)"),
        None => s.serialize_none(),
    }
}

/// `{section}.{name}` must be within lo..=hi.
fn range(section: &str, name: &str, v: u64, lo: u64, hi: u64) -> Result<(), NotifyConfigError> {
    if (lo..=hi).contains(&v) {
        Ok(())
    } else {
        bad(format!("{section}.{name}"), format!("must be {lo} to {hi}"))
    }
}

/// `host:port` with a port, or `[v6]:port`. Not resolved here: that is the sink's job.
fn valid_address(s: &str) -> bool {
    let Some((host, port)) = s.rsplit_once(':') else {
        return false;
    };
    let host_ok = match host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        Some(v6) => v6.parse::<std::net::Ipv6Addr>().is_ok(),
        None => !host.is_empty() && !host.contains([':', ' ', '/', '[', ']']),
    };
    host_ok && port.parse::<u16>().is_ok_and(|p| p > 0)
}

/// An e-mail address, bare or as `Name <addr>`.
fn valid_mailbox(s: &str) -> bool {
    s.parse::<lettre::message::Mailbox>().is_ok()
}

impl NotifyConfig {
    pub fn validate(&self) -> Result<(), NotifyConfigError> {
        if let Some(n) = &self.name {
            if n.is_empty() || n.len() > 64 || n.chars().any(|c| !c.is_ascii_graphic()) {
                return bad("name", "1 to 64 printable ASCII characters, no spaces");
            }
        }
        if self.webhooks.len() > 32 || self.syslog.len() > 32 {
            return bad("webhooks", "at most 32 webhooks and 32 syslog sinks");
        }
        for (i, w) in self.webhooks.iter().enumerate() {
            w.validate(&format!("webhooks[{i}]"))?;
        }
        if let Some(e) = &self.email {
            e.validate("email")?;
        }
        for (i, s) in self.syslog.iter().enumerate() {
            s.validate(&format!("syslog[{i}]"))?;
        }
        let mut names = std::collections::HashSet::new();
        for name in self.sink_names() {
            if !names.insert(name.clone()) {
                return bad("name", format!("two sinks are named `{name}`"));
            }
        }
        Ok(())
    }

    /// Each sink's name, in the order the notifier starts them: webhooks, e-mail, syslog.
    pub fn sink_names(&self) -> Vec<String> {
        let mut out = Vec::new();
        for (i, w) in self.webhooks.iter().enumerate() {
            out.push(w.name.clone().unwrap_or_else(|| format!("webhook-{i}")));
        }
        if let Some(e) = &self.email {
            out.push(e.name.clone().unwrap_or_else(|| "email".into()));
        }
        for (i, s) in self.syslog.iter().enumerate() {
            out.push(s.name.clone().unwrap_or_else(|| format!("syslog-{i}")));
        }
        out
    }
}

impl WebhookConfig {
    fn validate(&self, key: &str) -> Result<(), NotifyConfigError> {
        if self.url.is_empty() {
            return bad(format!("{key}.url"), "required");
        }
        match self.url.parse::<hyper::Uri>() {
            Ok(u) if matches!(u.scheme_str(), Some("http" | "https")) && u.host().is_some() => {}
            _ => return bad(format!("{key}.url"), "must be an http:// or https:// URL"),
        }
        if self.secret.is_some() && self.secret_file.is_some() {
            return bad(
                format!("{key}.secret"),
                "give secret or secret_file, not both",
            );
        }
        if self.secret.as_deref() == Some("") {
            return bad(format!("{key}.secret"), "empty");
        }
        self.filter.validate(key)?;
        range(
            key,
            "connect_timeout_ms",
            self.connect_timeout_ms,
            1,
            60_000,
        )?;
        range(key, "timeout_ms", self.timeout_ms, 1, 300_000)?;
        range(key, "max_attempts", self.max_attempts.into(), 1, 100)?;
        range(key, "max_age_s", self.max_age_s, 1, 7 * 86_400)?;
        range(key, "backoff_ms", self.backoff_ms, 1, 3_600_000)?;
        range(
            key,
            "backoff_max_ms",
            self.backoff_max_ms,
            self.backoff_ms,
            3_600_000,
        )?;
        range(key, "queue", self.queue as u64, 1, 1_000_000)
    }

    /// The HMAC key, from `secret` or `secret_file`; `None` when neither is set.
    pub fn load_secret(&self, key: &str) -> Result<Option<Vec<u8>>, NotifyConfigError> {
        if let Some(s) = &self.secret {
            return Ok(Some(s.as_bytes().to_vec()));
        }
        match &self.secret_file {
            Some(p) => read_secret(p, &format!("{key}.secret_file")).map(Some),
            None => Ok(None),
        }
    }
}

impl EmailConfig {
    fn validate(&self, key: &str) -> Result<(), NotifyConfigError> {
        if self.server.is_empty() {
            return bad(format!("{key}.server"), "required");
        }
        if self.port == Some(0) {
            return bad(format!("{key}.port"), "must be 1 to 65535");
        }
        if !valid_mailbox(&self.from) {
            return bad(
                format!("{key}.from"),
                format!("`{}` is not an e-mail address", self.from),
            );
        }
        if self.to.is_empty() {
            return bad(format!("{key}.to"), "at least one recipient");
        }
        if let Some(t) = self.to.iter().find(|t| !valid_mailbox(t)) {
            return bad(
                format!("{key}.to"),
                format!("`{t}` is not an e-mail address"),
            );
        }
        if self.to.len() > 100 {
            return bad(format!("{key}.to"), "at most 100 recipients");
        }
        match (&self.username, &self.password_file) {
            (Some(_), None) => {
                return bad(format!("{key}.password_file"), "required with username")
            }
            (None, Some(_)) => {
                return bad(format!("{key}.username"), "required with password_file")
            }
            (Some(_), Some(_)) if self.tls == SmtpTls::None => {
                return bad(
                    format!("{key}.tls"),
                    "`none` would send the password in the clear; use starttls or tls",
                )
            }
            _ => {}
        }
        self.filter.validate(key)?;
        range(key, "max_per_minute", self.max_per_minute.into(), 1, 1_000)?;
        range(key, "timeout_ms", self.timeout_ms, 1, 300_000)?;
        range(key, "max_attempts", self.max_attempts.into(), 1, 20)?;
        range(key, "queue", self.queue as u64, 1, 1_000_000)
    }

    pub fn load_password(&self, key: &str) -> Result<Option<String>, NotifyConfigError> {
        let Some(p) = &self.password_file else {
            return Ok(None);
        };
        let k = format!("{key}.password_file");
        let bytes = read_secret(p, &k)?;
        String::from_utf8(bytes)
            .map(Some)
            .or_else(|_| bad(k, "not UTF-8"))
    }
}

impl SyslogConfig {
    fn validate(&self, key: &str) -> Result<(), NotifyConfigError> {
        if !valid_address(&self.address) {
            return bad(
                format!("{key}.address"),
                format!("`{}` is not host:port", self.address),
            );
        }
        if facility_code(&self.facility).is_none() {
            return bad(
                format!("{key}.facility"),
                format!(
                    "unknown facility `{}` (daemon, auth, local0 ... local7, 0-23)",
                    self.facility
                ),
            );
        }
        self.filter.validate(key)?;
        range(
            key,
            "connect_timeout_ms",
            self.connect_timeout_ms,
            1,
            60_000,
        )?;
        range(key, "queue", self.queue as u64, 1, 1_000_000)
    }
}

/// A secret file: at most 4 KiB, trailing whitespace dropped.
fn read_secret(path: &Path, key: &str) -> Result<Vec<u8>, NotifyConfigError> {
    let mut bytes = read_bounded(path, 4_096, key)?;
    while bytes.last().is_some_and(|b| b.is_ascii_whitespace()) {
        bytes.pop();
    }
    if bytes.is_empty() {
        return bad(key, format!("{} is empty", path.display()));
    }
    Ok(bytes)
}

/// A whole file of at most `limit` bytes; a longer one is refused, not cut.
pub(crate) fn read_bounded(
    path: &Path,
    limit: u64,
    key: &str,
) -> Result<Vec<u8>, NotifyConfigError> {
    let file =
        std::fs::File::open(path).or_else(|e| bad(key, format!("{}: {e}", path.display())))?;
    let mut bytes = Vec::new();
    #[allow(clippy::disallowed_methods)] // bounded by take()
    file.take(limit + 1)
        .read_to_end(&mut bytes)
        .or_else(|e| bad(key, format!("{}: {e}", path.display())))?;
    if bytes.len() as u64 > limit {
        return bad(key, format!("{} is over {limit} bytes", path.display()));
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rampart_model::Timestamp;

    fn parse(s: &str) -> Result<NotifyConfig, String> {
        let v: toml::Value = toml::from_str(s).map_err(|e| e.to_string())?;
        let c: NotifyConfig = v
            .get("notify")
            .cloned()
            .unwrap_or(toml::Value::Table(Default::default()))
            .try_into()
            .map_err(|e: toml::de::Error| e.to_string())?;
        c.validate().map_err(|e| e.to_string())?;
        Ok(c)
    }

    #[test]
    fn a_full_config_parses() {
        let c = parse(
            r#"
            [notify]
            name = "edge-1"
            [[notify.webhooks]]
            url = "https://hooks.example.org/rampart"
            secret = "s3cret"
            events = ["attack.*", "mitigation.failed"]
            min_severity = "warning"
            [[notify.webhooks]]
            name = "slack"
            url = "https://hooks.slack.com/services/T0/B0/X"
            format = "slack"
            [notify.email]
            server = "smtp.example.org"
            username = "rampart"
            password_file = "/etc/rampart/smtp-password"
            from = "Rampart <rampart@example.org>"
            to = ["soc@example.org", "noc@example.org"]
            max_per_minute = 5
            [[notify.syslog]]
            address = "siem.example.org:514"
            protocol = "tcp"
            format = "cef"
            facility = "authpriv"
            "#,
        )
        .unwrap();
        assert_eq!(c.webhooks.len(), 2);
        assert_eq!(c.webhooks[1].format, WebhookFormat::Slack);
        assert_eq!(c.email.as_ref().unwrap().port(), 587);
        assert_eq!(c.syslog[0].protocol, SyslogProtocol::Tcp);
        assert_eq!(
            c.sink_names(),
            ["webhook-0", "slack", "email", "syslog-0"].map(String::from)
        );
        let shown = toml::to_string(&c).unwrap();
        assert!(
            shown.contains("(set)") && !shown.contains("s3cret"),
            "{shown}"
        );
    }

    #[test]
    fn errors_name_the_key() {
        let cases = [
            ("[[notify.webhooks]]\nurl = \"ftp://x\"", "notify.webhooks[0].url"),
            ("[[notify.webhooks]]\nurl = \"http://x\"\nevents = [\"attack.begun\"]", "notify.webhooks[0].events"),
            ("[[notify.webhooks]]\nurl = \"http://x\"\nsecret = \"a\"\nsecret_file = \"/f\"", "notify.webhooks[0].secret"),
            ("[[notify.webhooks]]\nurl = \"http://x\"\nmax_attempts = 0", "notify.webhooks[0].max_attempts"),
            ("[notify.email]\nserver = \"s\"\nfrom = \"nobody\"\nto = [\"a@b.c\"]", "notify.email.from"),
            ("[notify.email]\nserver = \"s\"\nfrom = \"r@b.c\"", "notify.email.to"),
            ("[notify.email]\nserver = \"s\"\nfrom = \"r@b.c\"\nto = [\"a@b.c\"]\ntls = \"none\"\nusername = \"u\"\npassword_file = \"/p\"", "notify.email.tls"),
            ("[[notify.syslog]]\naddress = \"siem\"", "notify.syslog[0].address"),
            ("[[notify.syslog]]\naddress = \"siem:514\"\nfacility = \"local9\"", "notify.syslog[0].facility"),
        ];
        for (toml, key) in cases {
            let e = parse(toml).unwrap_err();
            assert!(e.starts_with(key), "{toml}: {e}");
        }
        // Unknown keys are refused, beside the flattened filter keys too.
        for toml in [
            "[[notify.webhooks]]\nurl = \"http://x\"\nretries = 3",
            "[notify.email]\nserver = \"s\"\nretries = 3",
            "[[notify.syslog]]\naddress = \"s:1\"\nretries = 3",
            "[notify]\nretries = 3",
        ] {
            let e = parse(toml).unwrap_err();
            assert!(e.contains("unknown field `retries`"), "{toml}: {e}");
        }
    }

    #[test]
    fn filters_take_groups_and_severity() {
        let f = Filter {
            events: vec!["attack.*".into(), "mitigation.failed".into()],
            min_severity: Severity::Warning,
        };
        let n = |e| Notification::new(e, Timestamp::EPOCH, "d", None, None, None);
        assert!(f.accepts(&n(EventKind::AttackStarted)));
        assert!(
            !f.accepts(&n(EventKind::AttackEnded)),
            "info is below warning"
        );
        assert!(f.accepts(&n(EventKind::MitigationFailed)));
        assert!(!f.accepts(&n(EventKind::MitigationApplied)));
        assert!(Filter::default().accepts(&n(EventKind::DetectionEnded)));
    }

    #[test]
    fn addresses_and_facilities() {
        for ok in ["127.0.0.1:514", "siem.example.org:6514", "[::1]:514"] {
            assert!(valid_address(ok), "{ok}");
        }
        for no in ["siem", "127.0.0.1:", ":514", "::1:514", "a b:514", "h:0"] {
            assert!(!valid_address(no), "{no}");
        }
        assert_eq!(facility_code("local0"), Some(16));
        assert_eq!(facility_code("security"), Some(4));
        assert_eq!(facility_code("23"), Some(23));
        assert_eq!(facility_code("24"), None);
    }

    #[test]
    fn secret_files_are_bounded_and_trimmed() {
        let dir = std::env::temp_dir().join(format!("rampart-notify-cfg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("secret");
        std::fs::write(&p, "abc\n").unwrap();
        let w = WebhookConfig {
            url: "http://x".into(),
            secret_file: Some(p.clone()),
            ..WebhookConfig::default()
        };
        assert_eq!(w.load_secret("w").unwrap(), Some(b"abc".to_vec()));
        std::fs::write(&p, vec![b'a'; 5000]).unwrap();
        assert!(w
            .load_secret("w")
            .unwrap_err()
            .problem
            .contains("over 4096"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
