//! OpenVPN server messages (from its own log file or from syslog) to auth events: tls-auth
//! and tls-crypt rejections, certificate verification errors, user name and password
//! failures (auth-user-pass-verify, the PAM plugin), handshake failures, connections
//! initiated and client instances ending.

use crate::out::{Ctx, Out, Status};
use crate::state::{ip_bytes, key, BoundedMap};
use crate::text;
use crate::time::{self, TimeContext};
use rampart_model::{AuthMethod, Outcome, Service, Timestamp};
use std::net::IpAddr;

const MAX_PEERS: usize = 16_384;
const PEER_TTL_SECS: u64 = 3_600;
/// How long the PAM plugin's "user 'X' failed" waits for the failure line that names the
/// peer (the plugin answers in the background, a moment before).
const PAM_WAIT_SECS: u64 = 10;

#[derive(Debug, Default)]
struct Peer {
    user: Option<String>,
    /// The peer sent a user name and password (auth-user-pass).
    password: bool,
}

#[derive(Debug)]
pub struct Openvpn {
    peers: BoundedMap<Peer>,
    /// The user of the PAM plugin's last failure, and when.
    pam_failed: Option<(String, u64)>,
}

impl Default for Openvpn {
    fn default() -> Self {
        Openvpn {
            peers: BoundedMap::new(MAX_PEERS, PEER_TTL_SECS),
            pam_failed: None,
        }
    }
}

/// The timestamp OpenVPN writes before each line of its own log: "2024-12-15 14:12:12 "
/// (2.5+) or "Sun Dec 15 14:12:12 2024 " (2.4), local time, optionally "us=123456 ".
pub fn file_prefix<'a>(line: &'a str, ctx: &TimeContext) -> Option<(Timestamp, &'a str)> {
    let b = line.as_bytes();
    let (t, used) = if b.first()?.is_ascii_digit() {
        let (t, used) = time::iso8601(b, ctx)?;
        (t, used)
    } else {
        // "Www Mmm dd hh:mm:ss yyyy"
        if b.len() < 24 || b[3] != b' ' || b[7] != b' ' || b[10] != b' ' || b[19] != b' ' {
            return None;
        }
        let month = time::month_abbr(&b[4..7])?;
        let day = if b[8] == b' ' {
            time::digits(&b[9..], 1)?
        } else {
            time::digits(&b[8..], 2)?
        };
        let (hour, minute, second) = time::hms(&b[11..])?;
        let year = i64::from(time::digits(&b[20..], 4)?);
        let date = time::Civil {
            year,
            month,
            day,
            hour,
            minute,
            second,
        };
        (ctx.local(date, 0)?, 24)
    };
    let rest = line.get(used..)?.strip_prefix(' ')?;
    let rest = match rest.strip_prefix("us=") {
        Some(r) => r.split_once(' ').map_or("", |(_, m)| m),
        None => rest,
    };
    Some((t, rest))
}

/// "ADDR:PORT " or "CN/ADDR:PORT " before a message: the peer and its common name.
fn peer_prefix(msg: &str) -> (Option<(IpAddr, u16)>, Option<&str>, &str) {
    let (first, rest) = msg.split_once(' ').unwrap_or((msg, ""));
    let (cn, addr) = match first.rsplit_once('/') {
        Some((cn, a)) => (Some(cn), a),
        None => (None, first),
    };
    match text::addr_port(addr) {
        Some(p) => (Some(p), cn, rest),
        None => (None, None, msg),
    }
}

/// "... from [AF_INET]A:P" at the end of a TLS error.
fn from_tail(s: &str) -> Option<(IpAddr, u16)> {
    let (_, tail) = s.rsplit_once(" from ")?;
    text::addr_port(tail.trim())
}

/// The CN of a subject ("C=US, O=x, CN=client1" or "/C=US/CN=client1").
fn common_name(subject: &str) -> Option<&str> {
    let i = subject.rfind("CN=")?;
    let cn = &subject[i + 3..];
    Some(cn.split([',', '/']).next().unwrap_or(cn).trim())
}

impl Openvpn {
    pub fn state_len(&self) -> usize {
        self.peers.len()
    }

    fn peer_key(ctx: &Ctx, p: (IpAddr, u16)) -> u64 {
        key(
            &[ctx.host.unwrap_or("").as_bytes(), &ip_bytes(p.0)],
            u64::from(p.1),
        )
    }

    pub fn parse(&mut self, ctx: &Ctx, msg: &str, out: &mut Out) -> Status {
        let (peer, cn, body) = peer_prefix(msg);
        if let Some(rest) = body.strip_prefix("TLS Error: ") {
            let peer = peer.or_else(|| from_tail(rest));
            let (outcome, method, reason) =
                if rest.starts_with("incoming packet authentication failed") {
                    (
                        Outcome::Failure,
                        Some(AuthMethod::Psk),
                        "tls-auth: incoming packet authentication failed",
                    )
                } else if rest.starts_with("tls-crypt unwrapping failed") {
                    (
                        Outcome::Failure,
                        Some(AuthMethod::Psk),
                        "tls-crypt unwrapping failed",
                    )
                } else if rest.starts_with("TLS handshake failed") {
                    (Outcome::HandshakeError, None, "TLS handshake failed")
                } else if rest.starts_with("TLS key negotiation failed") {
                    (Outcome::HandshakeError, None, "TLS key negotiation failed")
                } else {
                    return Status::Ignored;
                };
            return self.emit(ctx, outcome, peer, None, method, Some(reason), out);
        }
        if let Some(rest) = body.strip_prefix("VERIFY ERROR: ") {
            // "depth=0, error=certificate has expired: CN=client1"
            let err = text::between(rest, "error=", ":").unwrap_or(rest);
            let user = rest.split_once(": ").and_then(|(_, s)| common_name(s));
            return self.emit(
                ctx,
                Outcome::Failure,
                peer,
                user,
                Some(AuthMethod::Certificate),
                Some(err),
                out,
            );
        }
        if let Some(rest) = body.strip_prefix("TLS: Username/Password authentication ") {
            let Some(p) = peer else {
                return Status::Ignored;
            };
            let user = text::quoted(rest).and_then(|u| out.user(u));
            let (st, evicted) =
                self.peers
                    .entry(Self::peer_key(ctx, p), ctx.time.as_secs(), Peer::default);
            st.password = true;
            st.user = user.or(st.user.take());
            if evicted.is_some() {
                out.stats.state_evictions += 1;
            }
            return Status::Absorbed;
        }
        if let Some(rest) = body.strip_prefix("TLS Auth Error: ") {
            let mut user: Option<String> = None;
            if let Some(p) = peer {
                if let Some(st) = self
                    .peers
                    .get_mut(Self::peer_key(ctx, p), ctx.time.as_secs())
                {
                    user = st.user.clone();
                }
            }
            if let Some((u, at)) = self.pam_failed.take() {
                if user.is_none() && ctx.time.as_secs().saturating_sub(at) <= PAM_WAIT_SECS {
                    user = Some(u);
                }
            }
            let reason = if rest.starts_with("Auth Username/Password verification failed") {
                "user name/password verification failed"
            } else {
                rest
            };
            return self.emit(
                ctx,
                Outcome::Failure,
                peer,
                user.as_deref(),
                Some(AuthMethod::Password),
                Some(reason),
                out,
            );
        }
        if let Some(rest) = body.strip_prefix("AUTH-PAM: BACKGROUND: user ") {
            if rest.contains("failed to authenticate") {
                if let Some(u) = text::quoted(rest).and_then(|u| out.user(u)) {
                    self.pam_failed = Some((u, ctx.time.as_secs()));
                }
                return Status::Absorbed;
            }
            return Status::Ignored;
        }
        if body.contains("Peer Connection Initiated with ") {
            let user = text::between(body, "[", "]").or(cn);
            let peer = peer.or_else(|| {
                body.rsplit_once(" with ")
                    .and_then(|(_, a)| text::addr_port(a.trim()))
            });
            let mut method = AuthMethod::Certificate;
            if let Some(p) = peer {
                if let Some(st) = self
                    .peers
                    .get_mut(Self::peer_key(ctx, p), ctx.time.as_secs())
                {
                    if st.password {
                        method = AuthMethod::Password;
                    }
                }
            }
            return self.emit(ctx, Outcome::Success, peer, user, Some(method), None, out);
        }
        if body.contains("client-instance exiting")
            || body.starts_with("Connection reset, restarting")
        {
            if let Some(p) = peer {
                self.peers.remove(Self::peer_key(ctx, p));
            }
            let reason = body.split_once(" received").map_or(body, |(r, _)| r);
            return self.emit(ctx, Outcome::Disconnect, peer, cn, None, Some(reason), out);
        }
        Status::Ignored
    }

    #[allow(clippy::too_many_arguments)]
    fn emit(
        &mut self,
        ctx: &Ctx,
        outcome: Outcome,
        peer: Option<(IpAddr, u16)>,
        user: Option<&str>,
        method: Option<AuthMethod>,
        reason: Option<&str>,
        out: &mut Out,
    ) -> Status {
        let mut e = out.auth(ctx, Service::Openvpn, outcome);
        e.source = peer.map(|p| p.0);
        e.source_port = peer.map(|p| p.1);
        e.user = user.and_then(|u| out.user(u));
        e.method = method;
        e.reason = reason.and_then(|r| out.reason(r));
        out.push_auth(e)
    }
}
