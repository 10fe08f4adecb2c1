#![allow(clippy::unwrap_used)] // a test: a panic is the failure report
//! E-mail against a real SMTP server on loopback (aiosmtpd, tests/smtp_server.py) with a
//! certificate from a CA made here by openssl: STARTTLS with login, SMTPS, the headers,
//! a storm turned into a digest, and the refusals (no STARTTLS offered, an untrusted
//! certificate, a wrong password) ending as dead letters.

mod common;

use common::{notification, run, Certs, Script, TempDir};
use rampart_notify::{EmailConfig, EventKind, Notifier, NotifyConfig, Severity, SmtpTls};
use serde_json::Value;
use std::ffi::OsString;
use std::process::Command;
use std::time::Duration;

/// aiosmtpd on a free loopback port, recording each message as OUT/N.json.
struct SmtpServer {
    port: u16,
    out: TempDir,
    _script: Script,
}

impl SmtpServer {
    fn start(certs: &Certs, mode: &str, login: Option<(&str, &str)>) -> SmtpServer {
        let python = common::python();
        let probe = Command::new(python)
            .args(["-c", "import aiosmtpd"])
            .output();
        assert!(
            probe.map(|o| o.status.success()).unwrap_or(false),
            "{python} cannot import aiosmtpd: install the Debian package python3-aiosmtpd \
             (scripts/test does)"
        );
        let out = TempDir::new("smtp-out");
        let port = common::free_port();
        let mut args: Vec<OsString> = vec![
            "--port".into(),
            port.to_string().into(),
            "--mode".into(),
            mode.into(),
            "--cert".into(),
            certs.path("server.pem").into(),
            "--key".into(),
            certs.path("server.key").into(),
            "--out".into(),
            out.path.clone().into(),
        ];
        if let Some((user, password)) = login {
            args.extend([
                "--user".into(),
                user.into(),
                "--password".into(),
                password.into(),
            ]);
        }
        let script = Script::start("smtp_server.py", &args, &out.path.join("server.log"));
        SmtpServer {
            port,
            out,
            _script: script,
        }
    }

    /// Waits for `n` messages and returns them in order.
    fn wait_for(&self, n: usize) -> Vec<Value> {
        common::wait_records(&self.out.path, n)
    }

    fn count(&self) -> usize {
        common::count_records(&self.out.path)
    }
}

fn email(port: u16, tls: SmtpTls) -> EmailConfig {
    EmailConfig {
        server: "127.0.0.1".into(),
        port: Some(port),
        tls,
        from: "Rampart <rampart@example.org>".into(),
        to: vec![
            "soc@example.org".into(),
            "Night Shift <noc@example.org>".into(),
        ],
        timeout_ms: 10_000,
        max_attempts: 1,
        ..EmailConfig::default()
    }
}

fn config(e: EmailConfig) -> NotifyConfig {
    NotifyConfig {
        name: Some("test-daemon".into()),
        email: Some(e),
        ..NotifyConfig::default()
    }
}

/// A header's value, unfolded (RFC 5322 §2.2.3: continuation lines start with white space).
fn header(content: &str, name: &str) -> Option<String> {
    let content = content.replace("\r\n", "\n");
    let head = content.split("\n\n").next()?;
    let unfolded = head.replace("\n ", " ").replace("\n\t", " ");
    unfolded
        .lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(": "))
        .map(str::to_string)
}

/// STARTTLS with the test CA and login as `rampart` with `password` (from a file, with
/// the newline editors leave).
fn with_login(server: &SmtpServer, certs: &Certs, password: &str) -> (EmailConfig, TempDir) {
    let secrets = TempDir::new("smtp-password");
    let file = secrets.path.join("password");
    std::fs::write(&file, format!("{password}\n")).unwrap();
    let mut e = email(server.port, SmtpTls::Starttls);
    e.username = Some("rampart".into());
    e.password_file = Some(file);
    e.ca_file = Some(certs.path("ca.pem"));
    (e, secrets)
}

#[test]
fn starttls_with_login_delivers_with_our_headers() {
    let certs = Certs::new();
    let server = SmtpServer::start(&certs, "starttls", Some(("rampart", "s3cret pass")));
    let (mut e, _secrets) = with_login(&server, &certs, "s3cret pass");
    e.html = true;
    run(async move {
        let (notifier, _dead) = Notifier::start(&config(e)).unwrap();
        let n = notification(EventKind::AttackStarted);
        notifier.notify(n.clone());
        let got = server.wait_for(1);
        let m = &got[0];
        assert_eq!(m["starttls"], true, "{m}");
        assert!(
            m["tls_version"].as_str().unwrap().starts_with("TLSv1."),
            "{m}"
        );
        assert_eq!(
            (m["authenticated"].clone(), m["login"].clone()),
            (true.into(), "rampart".into())
        );
        assert_eq!(m["mail_from"], "rampart@example.org");
        assert_eq!(
            m["rcpt_tos"],
            serde_json::json!(["soc@example.org", "noc@example.org"])
        );
        let content = m["content"].as_str().unwrap();
        assert_eq!(
            header(content, "Subject"),
            Some(format!("[Rampart test-daemon] CRITICAL: {}", n.title))
        );
        assert_eq!(
            header(content, "From"),
            Some("Rampart <rampart@example.org>".into())
        );
        assert!(header(content, "To")
            .unwrap()
            .contains("\"Night Shift\" <noc@example.org>"));
        assert_eq!(
            header(content, "X-Rampart-Event"),
            Some("attack.started".into())
        );
        assert_eq!(
            header(content, "X-Rampart-Severity"),
            Some("critical".into())
        );
        assert_eq!(
            header(content, "X-Rampart-Daemon"),
            Some("test-daemon".into())
        );
        assert!(header(content, "Date").is_some() && header(content, "Message-ID").is_some());
        assert!(header(content, "Content-Type")
            .unwrap()
            .starts_with("multipart/alternative"));
        assert!(content.contains("Target:     203.0.113.10"), "{content}");
        assert!(content.contains("<h2>"));
        let stats = notifier.shutdown(Duration::from_secs(5)).await;
        assert_eq!(stats.sinks[0].sent, 1);
        assert_eq!(stats.sinks[0].kind, "email");
    });
}

#[test]
fn smtps_delivers() {
    let certs = Certs::new();
    let server = SmtpServer::start(&certs, "tls", None);
    let mut e = email(server.port, SmtpTls::Tls);
    e.ca_file = Some(certs.path("ca.pem"));
    run(async move {
        let (notifier, _dead) = Notifier::start(&config(e)).unwrap();
        notifier.notify(notification(EventKind::MitigationFailed));
        let m = &server.wait_for(1)[0];
        assert_eq!(m["starttls"], false);
        assert!(
            m["tls_version"].as_str().unwrap().starts_with("TLSv1."),
            "{m}"
        );
        notifier.shutdown(Duration::from_secs(5)).await;
    });
}

#[test]
fn a_storm_becomes_a_digest() {
    let certs = Certs::new();
    let server = SmtpServer::start(&certs, "starttls", None);
    let mut e = email(server.port, SmtpTls::Starttls);
    e.ca_file = Some(certs.path("ca.pem"));
    e.max_per_minute = 2;
    e.filter.min_severity = Severity::Info;
    run(async move {
        let (notifier, _dead) = Notifier::start(&config(e)).unwrap();
        notifier.notify(notification(EventKind::AttackStarted));
        notifier.notify(notification(EventKind::MitigationApplied));
        for _ in 0..30 {
            notifier.notify(notification(EventKind::AttackUpdated));
        }
        notifier.notify(notification(EventKind::AttackEnded));
        assert_eq!(server.wait_for(2).len(), 2);
        common::until(|| notifier.stats().sinks[0].sent == 2);
        // The other 31 wait for the minute to pass; at shutdown they go out at once.
        let stats = notifier.shutdown(Duration::from_secs(10)).await;
        let got = server.wait_for(3);
        assert_eq!(got.len(), 3);
        let digest = got[2]["content"].as_str().unwrap();
        assert_eq!(
            header(digest, "Subject"),
            Some(
                "[Rampart test-daemon] WARNING: digest of 31 notifications \
                 (attack.updated 30, attack.ended 1)"
                    .into()
            )
        );
        assert_eq!(header(digest, "X-Rampart-Event"), Some("digest".into()));
        // In the subject, the "By event" line, and 30 times listed one by one.
        assert_eq!(digest.matches("attack.updated").count(), 32);
        assert_eq!(stats.sinks[0].sent, 33);
    });
}

#[test]
fn starttls_is_required_unless_turned_off() {
    let certs = Certs::new();
    let server = SmtpServer::start(&certs, "plain", None);
    let port = server.port;
    run(async move {
        let mut e = email(port, SmtpTls::Starttls);
        e.ca_file = Some(certs.path("ca.pem"));
        let (notifier, mut dead) = Notifier::start(&config(e)).unwrap();
        notifier.notify(notification(EventKind::AttackStarted));
        let letter = common::next_dead_letter(&mut dead).await;
        assert_eq!(letter.sink, "email");
        assert_eq!(letter.endpoint, format!("smtp://127.0.0.1:{port}"));
        assert!(
            letter.last_error.to_lowercase().contains("tls"),
            "{}",
            letter.last_error
        );
        notifier.shutdown(Duration::from_secs(1)).await;
        assert_eq!(server.count(), 0);

        let (notifier, _dead) = Notifier::start(&config(email(port, SmtpTls::None))).unwrap();
        notifier.notify(notification(EventKind::AttackStarted));
        let m = &server.wait_for(1)[0];
        assert_eq!(
            (m["starttls"].clone(), m["tls_version"].clone()),
            (false.into(), Value::Null)
        );
        notifier.shutdown(Duration::from_secs(5)).await;
    });
}

#[test]
fn an_untrusted_certificate_is_refused() {
    let certs = Certs::new();
    let server = SmtpServer::start(&certs, "starttls", None);
    run(async move {
        // No ca_file: the test CA is not among the built-in roots.
        let (notifier, mut dead) =
            Notifier::start(&config(email(server.port, SmtpTls::Starttls))).unwrap();
        notifier.notify(notification(EventKind::AttackStarted));
        let letter = common::next_dead_letter(&mut dead).await;
        assert!(
            letter.last_error.contains("certificate"),
            "{}",
            letter.last_error
        );
        notifier.shutdown(Duration::from_secs(1)).await;
        assert_eq!(server.count(), 0);
    });
}

#[test]
fn a_wrong_password_is_not_retried() {
    let certs = Certs::new();
    let server = SmtpServer::start(&certs, "starttls", Some(("rampart", "right")));
    let (mut e, _secrets) = with_login(&server, &certs, "wrong");
    e.max_attempts = 3;
    run(async move {
        let (notifier, mut dead) = Notifier::start(&config(e)).unwrap();
        notifier.notify(notification(EventKind::AttackStarted));
        let letter = common::next_dead_letter(&mut dead).await;
        assert_eq!(
            letter.attempts, 1,
            "a 535 is permanent: {}",
            letter.last_error
        );
        assert!(letter.last_error.contains("535"), "{}", letter.last_error);
        let stats = notifier.shutdown(Duration::from_secs(1)).await;
        assert_eq!(
            (stats.sinks[0].failed, stats.sinks[0].dead_lettered),
            (1, 1)
        );
    });
}
