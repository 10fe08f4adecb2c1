//! strongSwan charon messages to auth events: EAP, XAuth, PSK and certificate failures,
//! IKE_SAs established and deleted.
//!
//! charon names the peer's address in its packet lines, not in its failure lines, so
//! state per IKE_SA (its unique id in "<name|id>") keeps the address, the EAP identity and
//! the method. A failure seen before the SA's address is held (bounded) until a line of the
//! same SA names it. One failed exchange is one attempt: the specific failure line counts,
//! the generic AUTH_FAILED notify or "EAP method failed" after it does not.

use crate::out::{Ctx, Out, Status};
use crate::state::{key, BoundedMap};
use crate::text;
use crate::LogEvent;
use rampart_model::{AuthEvent, AuthMethod, Outcome, Service};
use std::net::IpAddr;

const MAX_SAS: usize = 16_384;
const SA_TTL_SECS: u64 = 3_600;
/// Events held per SA for its address; more go out without one.
const MAX_HELD: usize = 16;
/// Lines of an SA after which held events go out without an address.
const MAX_HELD_LINES: u32 = 16;

#[derive(Debug, Default)]
struct Sa {
    peer: Option<(IpAddr, Option<u16>)>,
    user: Option<String>,
    invalid: bool,
    method: Option<AuthMethod>,
    /// A specific failure was counted; the generic one after it is the same attempt.
    credit: bool,
    reason: Option<String>,
    held: Vec<AuthEvent>,
    held_lines: u32,
}

#[derive(Debug)]
pub struct Charon {
    sas: BoundedMap<Sa>,
}

impl Default for Charon {
    fn default() -> Self {
        Charon {
            sas: BoundedMap::new(MAX_SAS, SA_TTL_SECS),
        }
    }
}

/// "06[IKE] " (thread and group) before the message, when present.
fn strip_thread(msg: &str) -> &str {
    let b = msg.as_bytes();
    let digits = b.iter().take(3).take_while(|c| c.is_ascii_digit()).count();
    if digits > 0 && b.get(digits) == Some(&b'[') {
        if let Some(close) = msg[digits..].find("] ") {
            return &msg[digits + close + 2..];
        }
    }
    msg
}

/// "<name|id> " or "<id> ": the SA's unique id and the rest.
fn sa_prefix(msg: &str) -> Option<(u64, &str)> {
    let rest = msg.strip_prefix('<')?;
    let (inner, rest) = rest.split_once("> ")?;
    let id = inner.rsplit('|').next().unwrap_or(inner);
    let id: u64 = id.parse().ok()?;
    Some((id, rest))
}

/// "A[port]" as charon writes endpoints.
fn endpoint(s: &str) -> Option<(IpAddr, Option<u16>)> {
    match s.split_once('[') {
        Some((a, p)) => Some((text::ip(a)?, p.strip_suffix(']').and_then(text::port))),
        None => Some((text::ip(s)?, None)),
    }
}

fn method_of(how: &str) -> Option<AuthMethod> {
    if how.starts_with("pre-shared key") {
        Some(AuthMethod::Psk)
    } else if how.starts_with("EAP") {
        Some(AuthMethod::Eap)
    } else if how.contains("RSA")
        || how.contains("ECDSA")
        || how.contains("ED25519")
        || how.contains("signature")
    {
        Some(AuthMethod::Certificate)
    } else {
        None
    }
}

impl Charon {
    pub fn state_len(&self) -> usize {
        self.sas.len()
    }

    /// Everything still held goes out as it is (end of input).
    pub fn flush(&mut self, out: &mut Out) {
        for sa in self.sas.drain() {
            for e in sa.held {
                out.push(LogEvent::Auth(e));
            }
        }
    }

    pub fn parse(&mut self, ctx: &Ctx, msg: &str, out: &mut Out) -> Status {
        let msg = strip_thread(msg);
        let Some((id, body)) = sa_prefix(msg) else {
            return Status::Ignored;
        };
        let k = key(&[ctx.host.unwrap_or("").as_bytes()], id);
        let (sa, evicted) = self.sas.entry(k, ctx.time.as_secs(), Sa::default);
        if let Some(old) = evicted {
            out.stats.state_evictions += 1;
            for e in old.held {
                out.push(LogEvent::Auth(e));
            }
        }
        let status = Self::message(ctx, sa, body, out);
        // Held events go out once the SA names its peer, or after a while without.
        if !sa.held.is_empty() {
            if let Some((addr, port)) = sa.peer {
                for mut e in sa.held.drain(..) {
                    e.source = Some(addr);
                    e.source_port = port;
                    out.push(LogEvent::Auth(e));
                }
                return Status::Emitted;
            }
            sa.held_lines += 1;
            if sa.held_lines > MAX_HELD_LINES {
                for e in sa.held.drain(..) {
                    out.push(LogEvent::Auth(e));
                }
                return Status::Emitted;
            }
        }
        status
    }

    fn message(ctx: &Ctx, sa: &mut Sa, body: &str, out: &mut Out) -> Status {
        if let Some(rest) = body.strip_prefix("received packet: from ") {
            if let Some(p) = rest.split_once(' ').and_then(|(a, _)| endpoint(a)) {
                sa.peer = Some(p);
            }
            return Status::Absorbed;
        }
        if let Some(rest) = body.strip_prefix("sending packet: from ") {
            if let Some(p) = text::between(rest, " to ", " ").and_then(endpoint) {
                sa.peer = Some(p);
            }
            return Status::Absorbed;
        }
        if let Some((a, _)) = body.split_once(" is initiating ") {
            if let Some(addr) = text::ip(a) {
                if sa.peer.is_none() {
                    sa.peer = Some((addr, None));
                }
            }
            return Status::Absorbed;
        }
        if let Some(rest) = body
            .strip_prefix("EAP-MS-CHAPv2 username: ")
            .or_else(|| body.strip_prefix("received EAP identity "))
        {
            sa.user = text::quoted(rest).and_then(|u| out.user(u));
            sa.method = Some(AuthMethod::Eap);
            return Status::Absorbed;
        }
        if let Some(rest) = body.strip_prefix("no EAP key found for hosts ") {
            // "'server' - 'user'": the user has no secret, so does not exist.
            if let Some((_, u)) = rest.rsplit_once(" - ") {
                sa.user = text::quoted(u).and_then(|u| out.user(u)).or(sa.user.take());
            }
            sa.invalid = true;
            return Status::Absorbed;
        }
        if body.starts_with("EAP-MS-CHAPv2 verification failed") {
            return Self::failure(
                ctx,
                sa,
                AuthMethod::Eap,
                None,
                "EAP-MS-CHAPv2 verification failed",
                out,
            );
        }
        if let Some(rest) = body.strip_prefix("EAP method ") {
            if let Some((m, peer)) = rest.split_once(" failed for peer ") {
                if std::mem::take(&mut sa.credit) {
                    return Status::Absorbed;
                }
                let reason = format!("EAP method {m} failed");
                return Self::failure(
                    ctx,
                    sa,
                    AuthMethod::Eap,
                    Some(peer.trim_matches('\'')),
                    &reason,
                    out,
                );
            }
            if rest.contains(" succeeded") {
                sa.method = Some(AuthMethod::Eap);
            }
            return Status::Absorbed;
        }
        if let Some(rest) = body.strip_prefix("XAuth pam_authenticate for ") {
            if let Some((_, why)) = rest.split_once(" failed: ") {
                sa.reason = out.reason(&format!("XAuth pam_authenticate failed: {why}"));
            }
            return Status::Absorbed;
        }
        if let Some(rest) = body.strip_prefix("XAuth authentication of ") {
            let user = text::quoted(rest);
            if rest.ends_with(" failed") {
                let reason = sa.reason.take();
                let reason = reason.as_deref().unwrap_or("XAuth authentication failed");
                return Self::failure(ctx, sa, AuthMethod::Xauth, user, reason, out);
            }
            if rest.ends_with(" successful") {
                sa.user = user.and_then(|u| out.user(u));
                sa.method = Some(AuthMethod::Xauth);
            }
            return Status::Absorbed;
        }
        if let Some(rest) = body.strip_prefix("tried ") {
            if rest.contains(" but MAC mismatched") {
                let user = rest.split_once(" - ").and_then(|(_, b)| text::quoted(b));
                return Self::failure(
                    ctx,
                    sa,
                    AuthMethod::Psk,
                    user,
                    "pre-shared key MAC mismatched",
                    out,
                );
            }
            return Status::Ignored;
        }
        if let Some(rest) = body.strip_prefix("no shared key found for ") {
            let user = rest.split_once(" - ").and_then(|(_, b)| text::quoted(b));
            return Self::failure(ctx, sa, AuthMethod::Psk, user, "no shared key found", out);
        }
        if body.starts_with("no trusted ") && body.contains(" public key found for ") {
            let user = body
                .rsplit_once(" found for ")
                .and_then(|(_, u)| text::quoted(u));
            return Self::failure(
                ctx,
                sa,
                AuthMethod::Certificate,
                user,
                "no trusted public key found",
                out,
            );
        }
        if let Some(rest) = body.strip_prefix("authentication of ") {
            if !rest.contains("(myself)") {
                if let Some((who, how)) = rest.split_once(" with ") {
                    if how.ends_with(" successful") {
                        sa.method = sa.method.or(method_of(how));
                        if sa.user.is_none() {
                            sa.user = text::quoted(who).and_then(|u| out.user(u));
                        }
                    }
                }
            }
            return Status::Absorbed;
        }
        if body.starts_with("generating ") && body.contains("N(AUTH_FAILED)") {
            if std::mem::take(&mut sa.credit) {
                return Status::Absorbed;
            }
            let method = sa.method.unwrap_or(AuthMethod::Other);
            return Self::failure(ctx, sa, method, None, "AUTH_FAILED notify sent", out);
        }
        if let Some(rest) = body.strip_prefix("IKE_SA ") {
            if let Some((_, ends)) = rest.split_once(" established between ") {
                // "L[lid]...R[rid]"
                let remote = ends.split_once("...").map_or(ends, |(_, r)| r);
                let (addr, rid) = match remote.split_once('[') {
                    Some((a, id)) => (text::ip(a), id.strip_suffix(']')),
                    None => (text::ip(remote), None),
                };
                if let Some(a) = addr {
                    sa.peer = Some((a, sa.peer.and_then(|p| p.1)));
                }
                sa.credit = false;
                let mut e = out.auth(ctx, Service::Ipsec, Outcome::Success);
                e.user = sa.user.clone().or_else(|| rid.and_then(|u| out.user(u)));
                e.method = sa.method;
                e.source = sa.peer.map(|p| p.0);
                e.source_port = sa.peer.and_then(|p| p.1);
                return out.push_auth(e);
            }
            return Status::Ignored;
        }
        if let Some(rest) = body.strip_prefix("deleting half open IKE_SA with ") {
            let addr = rest.split_once(' ').map_or(rest, |(a, _)| a);
            if let Some(a) = text::ip(addr) {
                if sa.peer.is_none() {
                    sa.peer = Some((a, None));
                }
            }
            return Self::info(ctx, sa, "half-open IKE_SA timed out", out);
        }
        if body.starts_with("deleting IKE_SA ") {
            return Self::info(ctx, sa, "IKE_SA deleted", out);
        }
        Status::Ignored
    }

    fn failure(
        ctx: &Ctx,
        sa: &mut Sa,
        method: AuthMethod,
        user: Option<&str>,
        reason: &str,
        out: &mut Out,
    ) -> Status {
        sa.credit = true;
        let mut e = out.auth(ctx, Service::Ipsec, Outcome::Failure);
        e.user = user.and_then(|u| out.user(u)).or_else(|| sa.user.clone());
        e.invalid_user = sa.invalid;
        e.method = Some(method);
        e.reason = out.reason(reason);
        Self::send(sa, e, out)
    }

    fn info(ctx: &Ctx, sa: &mut Sa, reason: &str, out: &mut Out) -> Status {
        let mut e = out.auth(ctx, Service::Ipsec, Outcome::Disconnect);
        e.user = sa.user.clone();
        e.reason = out.reason(reason);
        Self::send(sa, e, out)
    }

    /// Out now with the SA's address, or held until it is known.
    fn send(sa: &mut Sa, mut e: AuthEvent, out: &mut Out) -> Status {
        match sa.peer {
            Some((addr, port)) => {
                e.source = Some(addr);
                e.source_port = port;
                out.push_auth(e)
            }
            None if sa.held.len() < MAX_HELD => {
                sa.held.push(e);
                Status::Absorbed
            }
            None => out.push_auth(e),
        }
    }
}
