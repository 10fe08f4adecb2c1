//! The e-mail sink: lettre over SMTP with STARTTLS (required by default), SMTPS or plain,
//! rustls with the Mozilla roots plus an optional private CA, optional login. Mails go
//! through the [`MailLimiter`]; a mail that cannot be sent leaves dead letters.

use crate::config::{EmailConfig, NotifyConfigError, SmtpTls};
use crate::digest::{Mail, MailLimiter};
use crate::mail::{render, Rendered};
use crate::notifier::{Counters, Queued, SinkCtx};
use lettre::message::header::{HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

#[derive(Debug)]
pub(crate) struct EmailSink {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    endpoint: String,
    from: Mailbox,
    to: Vec<Mailbox>,
    html: bool,
    daemon: String,
    per_minute: u32,
    max_attempts: u32,
}

impl EmailSink {
    pub(crate) fn new(
        cfg: &EmailConfig,
        key: &str,
        daemon: &str,
    ) -> Result<EmailSink, NotifyConfigError> {
        let err = |k: &str, problem: String| NotifyConfigError {
            key: format!("{key}.{k}"),
            problem,
        };
        let mut params = TlsParameters::builder(cfg.server.clone());
        if let Some(p) = &cfg.ca_file {
            let pem = crate::config::read_bounded(p, 1 << 20, &format!("{key}.ca_file"))?;
            let cert = Certificate::from_pem(&pem).map_err(|e| err("ca_file", e.to_string()))?;
            params = params.add_root_certificate(cert);
        }
        let tls = match cfg.tls {
            SmtpTls::None => Tls::None,
            mode => {
                let p = params
                    .build_rustls()
                    .map_err(|e| err("tls", e.to_string()))?;
                if mode == SmtpTls::Tls {
                    Tls::Wrapper(p)
                } else {
                    Tls::Required(p)
                }
            }
        };
        let mut b = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(cfg.server.as_str())
            .port(cfg.port())
            .tls(tls)
            .timeout(Some(Duration::from_millis(cfg.timeout_ms)));
        if let (Some(user), Some(password)) = (&cfg.username, cfg.load_password(key)?) {
            b = b.credentials(Credentials::new(user.clone(), password));
        }
        let parse = |k: &str, s: &str| {
            s.parse::<Mailbox>()
                .map_err(|e| err(k, format!("`{s}`: {e}")))
        };
        Ok(EmailSink {
            transport: b.build(),
            endpoint: format!("smtp://{}:{}", cfg.server, cfg.port()),
            from: parse("from", &cfg.from)?,
            to: cfg
                .to
                .iter()
                .map(|t| parse("to", t))
                .collect::<Result<_, _>>()?,
            html: cfg.html,
            daemon: daemon.to_string(),
            per_minute: cfg.max_per_minute,
            max_attempts: cfg.max_attempts,
        })
    }

    pub(crate) fn endpoint(&self) -> String {
        self.endpoint.clone()
    }

    pub(crate) async fn run(self, mut rx: mpsc::Receiver<Queued>, mut ctx: SinkCtx) {
        let mut limiter = MailLimiter::new(self.per_minute);
        loop {
            let wake = limiter.next_wake();
            let mail = tokio::select! {
                q = rx.recv() => match q {
                    Some(q) => limiter.offer(Instant::now(), q.n),
                    None => {
                        // Shutting down: what is held goes now, past the limit.
                        if let Some(m) = limiter.flush() {
                            self.send(m, &mut ctx).await;
                        }
                        return;
                    }
                },
                _ = sleep_until(wake) => limiter.poll(Instant::now()),
            };
            if let Some(m) = mail {
                self.send(m, &mut ctx).await;
            }
        }
    }

    async fn send(&self, mail: Mail, ctx: &mut SinkCtx) {
        let r = render(&mail, &self.daemon, self.per_minute);
        let count = mail.count() as u64;
        let message = match self.message(&r) {
            Ok(m) => m,
            Err(e) => {
                Counters::add(&ctx.counters.failed, 1);
                for n in mail.notifications() {
                    ctx.dead_letter(&n, 0, &e);
                }
                return;
            }
        };
        let mut attempts = 0;
        let error = loop {
            if ctx.abandon.is_set() {
                break "the daemon shut down before the mail was sent".to_string();
            }
            attempts += 1;
            let result = tokio::select! {
                r = self.transport.send(message.clone()) => r,
                _ = ctx.abandon.wait() => {
                    break "the daemon shut down while sending".to_string();
                }
            };
            match result {
                Ok(_) => {
                    Counters::add(&ctx.counters.sent, count);
                    return;
                }
                Err(e) => {
                    Counters::add(&ctx.counters.failed, 1);
                    // A permanent refusal (5xx: bad recipient, auth) will not change.
                    if e.is_permanent() || attempts >= self.max_attempts {
                        break describe(&e);
                    }
                    Counters::add(&ctx.counters.retried, 1);
                    let wait = Duration::from_secs(1 << (attempts - 1).min(6))
                        .mul_f64(0.5 + 0.5 * fastrand::f64());
                    tokio::select! {
                        _ = tokio::time::sleep(wait) => {}
                        _ = ctx.abandon.wait() => break describe(&e),
                    }
                }
            }
        };
        for n in mail.notifications() {
            ctx.dead_letter(&n, attempts, &error);
        }
        // A digest also stood for notifications it only counted.
        let unlisted = count.saturating_sub(mail.notifications().len() as u64);
        Counters::add(&ctx.counters.dead_lettered, unlisted);
    }

    fn message(&self, r: &Rendered) -> Result<Message, String> {
        let mut b = Message::builder()
            .from(self.from.clone())
            .subject(r.subject.clone())
            // A fresh Message-ID from the host name: threads and dedupe rely on it.
            .message_id(None)
            .raw_header(HeaderValue::new(
                HeaderName::new_from_ascii_str("X-Rampart-Event"),
                r.event.clone(),
            ))
            .raw_header(HeaderValue::new(
                HeaderName::new_from_ascii_str("X-Rampart-Severity"),
                r.severity.clone(),
            ))
            .raw_header(HeaderValue::new(
                HeaderName::new_from_ascii_str("X-Rampart-Daemon"),
                self.daemon.clone(),
            ));
        for to in &self.to {
            b = b.to(to.clone());
        }
        let built = if self.html {
            b.multipart(MultiPart::alternative_plain_html(
                r.text.clone(),
                r.html.clone(),
            ))
        } else {
            b.singlepart(SinglePart::plain(r.text.clone()))
        };
        built.map_err(|e| format!("building the mail: {e}"))
    }
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}

fn describe(e: &lettre::transport::smtp::Error) -> String {
    use std::error::Error;
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(cause) = src {
        s.push_str(": ");
        s.push_str(&cause.to_string());
        src = cause.source();
    }
    s
}
