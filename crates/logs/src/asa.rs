//! Cisco ASA / FTD messages to auth events: AAA rejections (113005, 113015), WebVPN and
//! AnyConnect logins (716038, 716039, 722051), session ends (722037, 113019), and logins to
//! the box itself (605004, 605005, 611101, 611102).
//!
//! One AnyConnect login writes an AAA line and a WebVPN line (and 722051 once the tunnel
//! has its address); which of them appear depends on the logging level. The first one of
//! a login counts and the others of the same address within a few seconds do not.

use crate::out::{Ctx, Out, Status};
use crate::state::{ip_bytes, key, BoundedMap};
use crate::text;
use rampart_model::{AuthMethod, Outcome, Service};
use std::net::IpAddr;

const MAX_LOGINS: usize = 16_384;
/// The lines of one login come within this many seconds.
const SAME_LOGIN_SECS: u64 = 10;

/// Which message of a login counted it, and when. A message of another kind soon after is
/// the same login; one of the same kind is the next login.
#[derive(Debug, Default)]
struct Login {
    failure: Option<(Kind, u64)>,
    success: Option<(Kind, u64)>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Aaa,
    Webvpn,
    Tunnel,
}

#[derive(Debug)]
pub struct Asa {
    logins: BoundedMap<Login>,
}

impl Default for Asa {
    fn default() -> Self {
        Asa {
            logins: BoundedMap::new(MAX_LOGINS, 120),
        }
    }
}

/// The value after "name = " up to the next " : " or ", " (AAA messages).
fn field<'a>(s: &'a str, name: &str) -> Option<&'a str> {
    let i = s.find(name)? + name.len();
    let v = &s[i..];
    let end = v.find(" : ").or_else(|| v.find(", ")).unwrap_or(v.len());
    Some(v[..end].trim())
}

/// "Group <G> User <U> IP <A> ..." (WebVPN and SVC messages).
fn group_user_ip(s: &str) -> (Option<&str>, Option<IpAddr>) {
    let user = text::between(s, "User <", ">");
    let ip = text::between(s, "IP <", ">").and_then(text::ip);
    (user, ip)
}

/// What one message says about a login.
#[derive(Clone, Copy, Debug, Default)]
struct Said<'a> {
    user: Option<&'a str>,
    invalid: bool,
    ip: Option<IpAddr>,
    reason: Option<&'a str>,
}

impl Asa {
    pub fn state_len(&self) -> usize {
        self.logins.len()
    }

    pub fn parse(&mut self, ctx: &Ctx, tag: &str, msg: &str, out: &mut Out) -> Status {
        let id = tag.rsplit('-').next().unwrap_or("");
        let webvpn = |reason| {
            let (user, ip) = group_user_ip(msg);
            Said {
                user,
                ip,
                reason,
                ..Said::default()
            }
        };
        match id {
            "113005" | "113015" => {
                // "AAA user authentication Rejected : reason = Invalid password : local
                // database : user = admin : user IP = 198.51.100.7"
                let reason = field(msg, "reason = ");
                let invalid = reason.is_some_and(|r| {
                    let r = r.to_ascii_lowercase();
                    r.contains("not found")
                        || r.contains("invalid user")
                        || r.contains("unknown user")
                });
                let said = Said {
                    user: field(msg, "user = "),
                    invalid,
                    ip: field(msg, "user IP = ").and_then(text::ip),
                    reason,
                };
                self.login(ctx, Kind::Aaa, Outcome::Failure, said, out)
            }
            "716039" => {
                let said = webvpn(Some("WebVPN authentication rejected"));
                self.login(ctx, Kind::Webvpn, Outcome::Failure, said, out)
            }
            "716038" => self.login(ctx, Kind::Webvpn, Outcome::Success, webvpn(None), out),
            "722051" => self.login(ctx, Kind::Tunnel, Outcome::Success, webvpn(None), out),
            "722037" => {
                let reason = msg
                    .split_once("closing connection: ")
                    .map(|(_, r)| r.trim_end_matches('.'));
                emit(
                    ctx,
                    Outcome::Disconnect,
                    Service::Anyconnect,
                    webvpn(reason),
                    out,
                )
            }
            "113019" => {
                // "Group = G, Username = U, IP = A, Session disconnected. ... Reason: R"
                let said = Said {
                    user: field(msg, "Username = "),
                    ip: field(msg, "IP = ").and_then(text::ip),
                    reason: msg.split_once("Reason: ").map(|(_, r)| r),
                    ..Said::default()
                };
                emit(ctx, Outcome::Disconnect, Service::Anyconnect, said, out)
            }
            "605004" | "605005" => {
                // "Login denied from 198.51.100.7/51234 to outside:192.0.2.1/ssh for user \"admin\""
                let outcome = if id == "605004" {
                    Outcome::Failure
                } else {
                    Outcome::Success
                };
                let from = text::between(msg, "from ", " ");
                let svc = text::between(msg, " to ", " ").and_then(|t| t.rsplit('/').next());
                let service = match svc {
                    Some("ssh") => Service::Ssh,
                    Some("https" | "http") => Service::Http,
                    _ => Service::Other,
                };
                let said = Said {
                    user: text::between(msg, "for user \"", "\""),
                    ip: from.and_then(|f| text::ip(f.split('/').next().unwrap_or(f))),
                    ..Said::default()
                };
                emit(ctx, outcome, service, said, out)
            }
            "611101" | "611102" => {
                // "User authentication failed: IP address: 198.51.100.7, Uname: admin"
                let outcome = if id == "611102" {
                    Outcome::Failure
                } else {
                    Outcome::Success
                };
                let said = Said {
                    user: msg.split_once("Uname: ").map(|(_, u)| u.trim()),
                    ip: field(msg, "IP address: ").and_then(text::ip),
                    ..Said::default()
                };
                emit(ctx, outcome, Service::Other, said, out)
            }
            _ => Status::Ignored,
        }
    }

    /// One login seen through several messages: counted at the first.
    fn login(
        &mut self,
        ctx: &Ctx,
        kind: Kind,
        outcome: Outcome,
        said: Said,
        out: &mut Out,
    ) -> Status {
        if let Some(addr) = said.ip {
            let now = ctx.time.as_secs();
            let k = key(&[ctx.host.unwrap_or("").as_bytes(), &ip_bytes(addr)], 0);
            let (l, evicted) = self.logins.entry(k, now, Login::default);
            if evicted.is_some() {
                out.stats.state_evictions += 1;
            }
            let slot = if outcome == Outcome::Success {
                &mut l.success
            } else {
                &mut l.failure
            };
            if slot.is_some_and(|(k, t)| k != kind && now.saturating_sub(t) <= SAME_LOGIN_SECS) {
                *slot = None;
                return Status::Absorbed;
            }
            *slot = Some((kind, now));
        }
        emit(ctx, outcome, Service::Anyconnect, said, out)
    }
}

fn emit(ctx: &Ctx, outcome: Outcome, service: Service, said: Said, out: &mut Out) -> Status {
    let mut e = out.auth(ctx, service, outcome);
    e.user = said.user.and_then(|u| out.user(u));
    e.invalid_user = said.invalid;
    e.source = said.ip;
    e.method = Some(AuthMethod::Password);
    e.reason = said.reason.and_then(|r| out.reason(r));
    out.push_auth(e)
}
