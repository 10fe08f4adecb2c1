//! The webhook sink: each notification POSTed in order, signed, as our JSON or as a Slack
//! message; retried on connection errors, timeouts, 5xx and 429 (Retry-After honoured)
//! with backoff and jitter, then handed over as a dead letter.

use crate::config::{WebhookConfig, WebhookFormat};
use crate::http::{redacted, HttpClient};
use crate::notification::Notification;
use crate::notifier::{Counters, Queued, SinkCtx};
use crate::retry::{Outcome, Schedule};
use crate::{config::NotifyConfigError, sign};
use bytes::Bytes;
use hyper::header::{HeaderName, HeaderValue};
use std::time::{Duration, SystemTime};
use tokio::sync::mpsc;

pub(crate) const EVENT: HeaderName = HeaderName::from_static("x-rampart-event");
pub(crate) const TIMESTAMP: HeaderName = HeaderName::from_static("x-rampart-timestamp");
pub(crate) const SIGNATURE: HeaderName = HeaderName::from_static("x-rampart-signature");
pub(crate) const ID: HeaderName = HeaderName::from_static("x-rampart-id");
pub(crate) const ATTEMPT: HeaderName = HeaderName::from_static("x-rampart-attempt");

#[derive(Debug)]
pub(crate) struct WebhookSink {
    url: String,
    format: WebhookFormat,
    secret: Option<Vec<u8>>,
    client: HttpClient,
    timeout: Duration,
    schedule: Schedule,
}

impl WebhookSink {
    pub(crate) fn new(cfg: &WebhookConfig, key: &str) -> Result<WebhookSink, NotifyConfigError> {
        let secret = cfg.load_secret(key)?;
        let ca = match &cfg.ca_file {
            Some(p) => Some(crate::config::read_bounded(
                p,
                1 << 20,
                &format!("{key}.ca_file"),
            )?),
            None => None,
        };
        let client = HttpClient::new(
            &cfg.url,
            ca.as_deref(),
            Duration::from_millis(cfg.connect_timeout_ms),
        )
        .map_err(|problem| NotifyConfigError {
            key: format!("{key}.url"),
            problem,
        })?;
        Ok(WebhookSink {
            url: cfg.url.clone(),
            format: cfg.format,
            secret,
            client,
            timeout: Duration::from_millis(cfg.timeout_ms),
            schedule: Schedule {
                max_attempts: cfg.max_attempts,
                max_age: Duration::from_secs(cfg.max_age_s),
                backoff: Duration::from_millis(cfg.backoff_ms),
                backoff_max: Duration::from_millis(cfg.backoff_max_ms),
            },
        })
    }

    pub(crate) fn endpoint(&self) -> String {
        redacted(&self.url)
    }

    pub(crate) async fn run(mut self, mut rx: mpsc::Receiver<Queued>, mut ctx: SinkCtx) {
        while let Some(q) = rx.recv().await {
            if ctx.abandon.is_set() {
                ctx.dead_letter(&q.n, 0, "the daemon shut down before delivery");
                continue;
            }
            self.deliver(&q, &mut ctx).await;
        }
    }

    /// One notification, tried until delivered, refused, too old or abandoned.
    async fn deliver(&mut self, q: &Queued, ctx: &mut SinkCtx) {
        let body = Bytes::from(match self.format {
            WebhookFormat::Json => q.n.to_json(),
            WebhookFormat::Slack => crate::slack::slack_body(&q.n),
        });
        let mut attempts = 0u32;
        let mut last_error = String::from("queued longer than max_age_s");
        loop {
            if q.at.elapsed() > self.schedule.max_age {
                ctx.dead_letter(&q.n, attempts, &last_error);
                return;
            }
            attempts += 1;
            let headers = self.headers(&q.n, &body, attempts);
            let result = tokio::select! {
                r = self.client.post(&headers, body.clone(), self.timeout) => r,
                _ = ctx.abandon.wait() => {
                    ctx.dead_letter(&q.n, attempts, "the daemon shut down during delivery");
                    return;
                }
            };
            let outcome = match result {
                Ok(resp) => match Outcome::of_status(
                    resp.status,
                    resp.retry_after.as_deref(),
                    SystemTime::now(),
                ) {
                    Outcome::Delivered => Outcome::Delivered,
                    Outcome::Retry { error, retry_after } => Outcome::Retry {
                        error: with_snippet(error, &resp.snippet),
                        retry_after,
                    },
                    Outcome::Reject { error } => Outcome::Reject {
                        error: with_snippet(error, &resp.snippet),
                    },
                },
                Err(error) => Outcome::Retry {
                    error,
                    retry_after: None,
                },
            };
            match outcome {
                Outcome::Delivered => {
                    Counters::add(&ctx.counters.sent, 1);
                    return;
                }
                Outcome::Reject { error } => {
                    Counters::add(&ctx.counters.failed, 1);
                    ctx.dead_letter(&q.n, attempts, &error);
                    return;
                }
                Outcome::Retry { error, retry_after } => {
                    Counters::add(&ctx.counters.failed, 1);
                    let wait = self.schedule.next_wait(
                        attempts,
                        q.at.elapsed(),
                        retry_after,
                        fastrand::f64(),
                    );
                    let Some(wait) = wait else {
                        ctx.dead_letter(&q.n, attempts, &error);
                        return;
                    };
                    tracing::debug!(sink = %ctx.name, attempts, error, wait_ms = wait.as_millis() as u64,
                                    "webhook delivery failed; retrying");
                    Counters::add(&ctx.counters.retried, 1);
                    last_error = error;
                    tokio::select! {
                        _ = tokio::time::sleep(wait) => {}
                        _ = ctx.abandon.wait() => {
                            ctx.dead_letter(&q.n, attempts, &last_error);
                            return;
                        }
                    }
                }
            }
        }
    }

    /// Signed afresh for each attempt, so that the timestamp is the attempt's own and a
    /// receiver's replay window holds for retries too.
    fn headers(
        &self,
        n: &Notification,
        body: &[u8],
        attempt: u32,
    ) -> Vec<(HeaderName, HeaderValue)> {
        let ts = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let mut h = vec![
            (EVENT, HeaderValue::from_static(n.event.as_str())),
            (TIMESTAMP, HeaderValue::from(ts)),
            (ATTEMPT, HeaderValue::from(attempt)),
        ];
        if let Ok(id) = HeaderValue::from_str(&n.id) {
            h.push((ID, id));
        }
        if let Some(secret) = &self.secret {
            if let Ok(sig) = HeaderValue::from_str(&sign::sign(secret, ts, body)) {
                h.push((SIGNATURE, sig));
            }
        }
        h
    }
}

fn with_snippet(error: String, snippet: &str) -> String {
    if snippet.is_empty() {
        error
    } else {
        format!("{error}: {snippet}")
    }
}
