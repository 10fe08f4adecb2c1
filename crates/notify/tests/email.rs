#![allow(clippy::unwrap_used)] // a test: a panic is the failure report
//! E-mail against a real SMTP server on loopback (aiosmtpd, tests/smtp_server.py) with a
//! certificate from a CA made here by openssl: STARTTLS with login, SMTPS, the headers,
//! a storm turned into a digest, and the refusals (no STARTTLS offered, an untrusted
//! certificate, a wrong password) ending as dead letters.

mod common;

use common::{notification, run, TempDir};
use rampart_notify::{EmailConfig, EventKind, Notifier, NotifyConfig, Severity, SmtpTls};
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A CA and a server certificate for 127.0.0.1 signed by it.
struct Certs {
    dir: TempDir,
}

impl Certs {
    fn new() -> Certs {
        common::require("openssl", "openssl");
        let dir = TempDir::new("smtp-certs");
        let d = &dir.path;
        std::fs::write(
            d.join("server.ext"),
            "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n\
             keyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n",
        )
        .unwrap();
        let ec = [
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
        ];
        openssl(
            d,
            &[
                &["req", "-x509"],
                &ec[..],
                &[
                    "-keyout",
                    "ca.key",
                    "-out",
                    "ca.pem",
                    "-days",
                    "2",
                    "-subj",
                    "/CN=Rampart test CA",
                    "-addext",
                    "basicConstraints=critical,CA:TRUE",
                    "-addext",
                    "keyUsage=critical,keyCertSign,cRLSign",
                ],
            ]
            .concat(),
        );
        openssl(
            d,
            &[
                &["req"],
                &ec[..],
                &[
                    "-keyout",
                    "server.key",
                    "-out",
                    "server.csr",
                    "-subj",
                    "/CN=127.0.0.1",
                ],
            ]
            .concat(),
        );
        openssl(
            d,
            &[
                "x509",
                "-req",
                "-in",
                "server.csr",
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-out",
                "server.pem",
                "-days",
                "2",
                "-extfile",
                "server.ext",
            ],
        );
        Certs { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path.join(name)
    }
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// aiosmtpd on a free loopback port, recording each message as OUT/N.json.
struct SmtpServer {
    port: u16,
    out: TempDir,
    child: Child,
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
        let mut cmd = Command::new(python);
        cmd.arg(common::tests_dir().join("smtp_server.py"))
            .args(["--port", &port.to_string(), "--mode", mode])
            .arg("--cert")
            .arg(certs.path("server.pem"))
            .arg("--key")
            .arg(certs.path("server.key"))
            .arg("--out")
            .arg(&out.path);
        if let Some((user, password)) = login {
            cmd.args(["--user", user, "--password", password]);
        }
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            // Its log (the refused handshakes of the refusal tests) stays beside the mails.
            .stderr(std::fs::File::create(out.path.join("server.log")).unwrap())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert!(line.starts_with("ready"), "smtp_server.py said {line:?}");
        SmtpServer { port, out, child }
    }

    /// Waits for `n` messages and returns them in order.
    fn wait_for(&self, n: usize) -> Vec<Value> {
        common::until(|| self.count() >= n);
        (1..=self.count())
            .map(|i| {
                let text = common::read_text(&self.out.path.join(format!("{i}.json")));
                serde_json::from_str(&text).unwrap()
            })
            .collect()
    }

    fn count(&self) -> usize {
        std::fs::read_dir(&self.out.path)
            .unwrap()
            .filter(|e| {
                let name = e.as_ref().unwrap().file_name();
                let name = name.to_string_lossy();
                name.ends_with(".json") && !name.starts_with('.')
            })
            .count()
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        // Closing its standard input stops it; kill is the fallback.
        drop(self.child.stdin.take());
        for _ in 0..50 {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
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

#[test]
fn starttls_with_login_delivers_with_our_headers() {
    let certs = Certs::new();
    let server = SmtpServer::start(&certs, "starttls", Some(("rampart", "s3cret pass")));
    let secrets = TempDir::new("smtp-password");
    let password = secrets.path.join("password");
    std::fs::write(&password, "s3cret pass\n").unwrap();
    let mut e = email(server.port, SmtpTls::Starttls);
    e.username = Some("rampart".into());
    e.password_file = Some(password);
    e.ca_file = Some(certs.path("ca.pem"));
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
        let letter = tokio::time::timeout(Duration::from_secs(20), dead.recv())
            .await
            .unwrap()
            .unwrap();
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
        let letter = tokio::time::timeout(Duration::from_secs(20), dead.recv())
            .await
            .unwrap()
            .unwrap();
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
    let secrets = TempDir::new("smtp-wrong");
    let password = secrets.path.join("password");
    std::fs::write(&password, "wrong").unwrap();
    let mut e = email(server.port, SmtpTls::Starttls);
    e.username = Some("rampart".into());
    e.password_file = Some(password);
    e.ca_file = Some(certs.path("ca.pem"));
    e.max_attempts = 3;
    run(async move {
        let (notifier, mut dead) = Notifier::start(&config(e)).unwrap();
        notifier.notify(notification(EventKind::AttackStarted));
        let letter = tokio::time::timeout(Duration::from_secs(20), dead.recv())
            .await
            .unwrap()
            .unwrap();
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
