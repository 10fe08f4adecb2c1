//! Rampart's notifications. A [`Notification`] (an attack started, a mitigation failed...)
//! goes to every sink whose filter takes it: signed webhooks (our JSON or Slack's), e-mail
//! over SMTP with STARTTLS (rate-limited, storms become digests), syslog RFC 5424 and CEF
//! for a SIEM. The [`Notifier`] runs each sink behind a bounded queue on the daemon's
//! tokio runtime: a slow or dead sink never blocks the daemon or the others. Formatting is
//! pure (`cef`, `rfc5424`, `slack`, `mail`, `digest`, `retry`); the sinks are thin shells.

pub mod cef;
mod config;
mod digest;
mod email;
mod http;
mod mail;
mod notification;
mod notifier;
mod retry;
pub mod rfc5424;
pub mod sign;
pub mod slack;
mod syslog;
mod webhook;
mod words;

pub use config::{
    facility_code, EmailConfig, Filter, NotifyConfig, NotifyConfigError, SmtpTls, SyslogConfig,
    SyslogFormat, SyslogProtocol, WebhookConfig, WebhookFormat,
};
pub use digest::{Digest, Mail, MailLimiter, DIGEST_LIST_MAX};
pub use notification::{EventKind, Notification, Severity, SCHEMA_VERSION};
pub use notifier::{DeadLetter, Notifier, NotifyError, NotifyStats, SinkStats};
pub use retry::parse_retry_after;

/// The host name, for `notify.name`'s default: the kernel's, else `rampart`.
pub fn host_name() -> String {
    let read = config::read_bounded(
        std::path::Path::new("/proc/sys/kernel/hostname"),
        256,
        "name",
    );
    read.ok()
        .and_then(|b| String::from_utf8(b).ok())
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "rampart".into())
}
