//! The JSON event form, for sources no parser knows: one object per line with a `"type"`
//! of `"auth"` or `"http"` and the fields of [`AuthEvent`] or [`HttpEvent`] (docs/logs.md).
//! Strings are cut to the same bounds as parsed ones; unknown fields are ignored.

use crate::out::{Out, Status};
use crate::text::{MAX_HOST, MAX_METHOD, MAX_PATH, MAX_REASON};
use crate::time::{self, TimeContext};
use crate::LogEvent;
use rampart_model::{AuthEvent, AuthMethod, HttpEvent, Outcome, Service, Timestamp};
use serde::Deserialize;
use std::net::IpAddr;

/// Whether a line is meant as a JSON event (a cheap look, not a parse).
pub fn looks_like_event(line: &str) -> bool {
    line.trim_start().starts_with('{') && line.contains("\"type\"")
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Time {
    /// RFC 3339.
    Text(String),
    /// Seconds since the epoch.
    Secs(f64),
}

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Event {
    Auth(Auth),
    Http(Http),
}

#[derive(Deserialize)]
struct Auth {
    time: Time,
    service: Service,
    outcome: Outcome,
    user: Option<String>,
    #[serde(default)]
    invalid_user: bool,
    source: Option<IpAddr>,
    source_port: Option<u16>,
    method: Option<AuthMethod>,
    reason: Option<String>,
    host: Option<String>,
    attempts: Option<u32>,
}

#[derive(Deserialize)]
struct Http {
    time: Time,
    client: IpAddr,
    method: Option<String>,
    path: String,
    status: u16,
    #[serde(default)]
    bytes: u64,
    user_agent: Option<String>,
    referer: Option<String>,
    vhost: Option<String>,
    user: Option<String>,
}

fn timestamp(t: &Time) -> Option<Timestamp> {
    match t {
        Time::Text(s) => {
            let (ts, used) = time::iso8601(s.as_bytes(), &TimeContext::default())?;
            (used == s.len()).then_some(ts)
        }
        Time::Secs(s) if s.is_finite() && *s >= 0.0 && *s < 1e11 => {
            Some(Timestamp::from_nanos((*s * 1e9) as u64))
        }
        Time::Secs(_) => None,
    }
}

pub fn parse(line: &str, out: &mut Out) -> Status {
    let Ok(ev) = serde_json::from_str::<Event>(line) else {
        return Status::Malformed;
    };
    match ev {
        Event::Auth(a) => {
            let Some(time) = timestamp(&a.time) else {
                return Status::Malformed;
            };
            let mut e = AuthEvent::new(time, a.service, a.outcome);
            e.user = a.user.as_deref().and_then(|u| out.user(u));
            e.invalid_user = a.invalid_user;
            e.source = a.source.map(|s| s.to_canonical());
            e.source_port = a.source_port;
            e.method = a.method;
            e.reason = a.reason.as_deref().and_then(|r| out.reason(r));
            e.host = a.host.as_deref().map(|h| out.text(h, MAX_HOST));
            e.attempts = a.attempts.unwrap_or(1).max(1);
            out.push_auth(e)
        }
        Event::Http(h) => {
            let Some(time) = timestamp(&h.time) else {
                return Status::Malformed;
            };
            let e = HttpEvent {
                time,
                client: h.client.to_canonical(),
                method: h.method.as_deref().map(|m| out.text(m, MAX_METHOD)),
                path: out.text(&h.path, MAX_PATH),
                status: h.status,
                bytes: h.bytes,
                user_agent: h.user_agent.as_deref().map(|a| out.text(a, MAX_REASON)),
                referer: h.referer.as_deref().map(|r| out.text(r, MAX_REASON)),
                vhost: h.vhost.as_deref().map(|v| out.text(v, MAX_HOST)),
                user: h.user.as_deref().and_then(|u| out.user(u)),
            };
            out.push(LogEvent::Http(e));
            Status::Emitted
        }
    }
}
