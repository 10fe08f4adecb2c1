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

impl Asa {
    pub fn state_len(&self) -> usize {
        self.logins.len()
    }

    pub fn parse(&mut self, ctx: &Ctx, tag: &str, msg: &str, out: &mut Out) -> Status {
        let id = tag.rsplit('-').next().unwrap_or("");
        match id {
            "113005" | "113015" => {
                // "AAA user authentication Rejected : reason = Invalid password : local
                // database : user = admin : user IP = 198.51.100.7"
                let reason = field(msg, "reason = ");
                let user = field(msg, "user = ");
                let ip = field(msg, "user IP = ").and_then(text::ip);
                let invalid = reason.is_some_and(|r| {
                    let r = r.to_ascii_lowercase();
                    r.contains("not found")
                        || r.contains("invalid user")
                        || r.contains("unknown user")
                });
                self.login(
                    ctx,
                    Kind::Aaa,
                    Outcome::Failure,
                    user,
                    invalid,
                    ip,
                    reason,
                    out,
                )
            }
            "716039" => {
                let (user, ip) = group_user_ip(msg);
                self.login(
                    ctx,
                    Kind::Webvpn,
                    Outcome::Failure,
                    user,
                    false,
                    ip,
                    Some("WebVPN authentication rejected"),
                    out,
                )
            }
            "716038" | "722051" => {
                let (user, ip) = group_user_ip(msg);
                let kind = if id == "716038" {
                    Kind::Webvpn
                } else {
                    Kind::Tunnel
                };
                self.login(ctx, kind, Outcome::Success, user, false, ip, None, out)
            }
            "722037" => {
                let (user, ip) = group_user_ip(msg);
                let reason = msg
                    .split_once("closing connection: ")
                    .map(|(_, r)| r.trim_end_matches('.'));
                self.end(ctx, user, ip, reason, out)
            }
            "113019" => {
                // "Group = G, Username = U, IP = A, Session disconnected. ... Reason: R"
                let user = field(msg, "Username = ");
                let ip = field(msg, "IP = ").and_then(text::ip);
                let reason = msg.split_once("Reason: ").map(|(_, r)| r);
                self.end(ctx, user, ip, reason, out)
            }
            "605004" | "605005" => {
                // "Login denied from 198.51.100.7/51234 to outside:192.0.2.1/ssh for user \"admin\""
                let outcome = if id == "605004" {
                    Outcome::Failure
                } else {
                    Outcome::Success
                };
                let from = text::between(msg, "from ", " ");
                let ip = from.and_then(|f| text::ip(f.split('/').next().unwrap_or(f)));
                let svc = text::between(msg, " to ", " ").and_then(|t| t.rsplit('/').next());
                let service = match svc {
                    Some("ssh") => Service::Ssh,
                    Some("https" | "http") => Service::Http,
                    _ => Service::Other,
                };
                let user = text::between(msg, "for user \"", "\"");
                self.emit(ctx, outcome, service, user, false, ip, None, out)
            }
            "611101" | "611102" => {
                // "User authentication failed: IP address: 198.51.100.7, Uname: admin"
                let outcome = if id == "611102" {
                    Outcome::Failure
                } else {
                    Outcome::Success
                };
                let ip = field(msg, "IP address: ").and_then(text::ip);
                let user = msg.split_once("Uname: ").map(|(_, u)| u.trim());
                self.emit(ctx, outcome, Service::Other, user, false, ip, None, out)
            }
            _ => Status::Ignored,
        }
    }

    /// One login seen through several messages: counted at the first.
    #[allow(clippy::too_many_arguments)]
    fn login(
        &mut self,
        ctx: &Ctx,
        kind: Kind,
        outcome: Outcome,
        user: Option<&str>,
        invalid: bool,
        ip: Option<IpAddr>,
        reason: Option<&str>,
        out: &mut Out,
    ) -> Status {
        if let Some(addr) = ip {
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
        self.emit(
            ctx,
            outcome,
            Service::Anyconnect,
            user,
            invalid,
            ip,
            reason,
            out,
        )
    }

    fn end(
        &mut self,
        ctx: &Ctx,
        user: Option<&str>,
        ip: Option<IpAddr>,
        reason: Option<&str>,
        out: &mut Out,
    ) -> Status {
        self.emit(
            ctx,
            Outcome::Disconnect,
            Service::Anyconnect,
            user,
            false,
            ip,
            reason,
            out,
        )
    }

    #[allow(clippy::too_many_arguments)]
    fn emit(
        &mut self,
        ctx: &Ctx,
        outcome: Outcome,
        service: Service,
        user: Option<&str>,
        invalid: bool,
        ip: Option<IpAddr>,
        reason: Option<&str>,
        out: &mut Out,
    ) -> Status {
        let mut e = out.auth(ctx, service, outcome);
        e.user = user.and_then(|u| out.user(u));
        e.invalid_user = invalid;
        e.source = ip;
        e.method = Some(AuthMethod::Password);
        e.reason = reason.and_then(|r| out.reason(r));
        out.push_auth(e)
    }
}
