//! OpenSSH sshd (and sshd-session, sshd-auth of OpenSSH 9.8+) messages to auth events,
//! one event per attempt however many lines it wrote.
//!
//! An attempt is one credential tried (password, key, keyboard-interactive answer), or, for
//! a user that does not exist and with no credential tried, the user name itself. sshd's
//! pid is per connection, so state per (host, pid) ties the lines of one attempt together:
//! * "Invalid user X from A" counts one attempt; the next "Failed ... for invalid user X"
//!   of that connection is the same attempt, later ones are new.
//! * PAM's "authentication failure" and "PAM: Authentication failure" lines are the same
//!   attempt as the "Failed password" / "Failed keyboard-interactive/pam" line after them;
//!   only PAM failures with no such line (counted at the end of the connection) add some.
//! * A connection's end is one `Disconnect` (or `HandshakeError`, `TooManyAttempts`)
//!   however many of "Received disconnect", "Disconnecting", "Disconnected from" it wrote.

use crate::out::{Ctx, Out, Status};
use crate::state::{key, BoundedMap};
use crate::text;
use crate::LogEvent;
use rampart_model::{AuthEvent, AuthMethod, Outcome, Service, Timestamp};
use std::net::IpAddr;

/// Connections tracked at once (about 80 bytes each).
const MAX_CONNECTIONS: usize = 65_536;
/// A connection quiet this long is forgotten (sshd's LoginGraceTime is 120 s by default).
const CONNECTION_TTL_SECS: u64 = 3_600;

#[derive(Debug, Default)]
struct Conn {
    /// Hash of the invalid user whose "Invalid user" line stands for its next failure.
    credit_user: Option<u64>,
    /// PAM module failures ("pam_unix(sshd:auth): authentication failure") not yet matched
    /// by a "Failed" line, and sshd's own "PAM: Authentication failure" lines likewise.
    pam_module: i32,
    pam_sshd: i32,
    pam_source: Option<IpAddr>,
    /// When the last PAM failure was logged.
    pam_time: Timestamp,
    /// A kex_exchange_identification error waiting for the line that names the peer.
    handshake: Option<String>,
    /// The connection's end was reported.
    closed: bool,
    too_many: bool,
}

/// How a connection ended, for [`Sshd::end`].
struct End<'s> {
    outcome: Outcome,
    user: Option<&'s str>,
    invalid: bool,
    addr: IpAddr,
    port: Option<u16>,
    reason: &'s str,
}

#[derive(Debug)]
pub struct Sshd {
    conns: BoundedMap<Conn>,
}

impl Default for Sshd {
    fn default() -> Self {
        Sshd {
            conns: BoundedMap::new(MAX_CONNECTIONS, CONNECTION_TTL_SECS),
        }
    }
}

fn user_key(user: &str) -> u64 {
    key(&[user.as_bytes()], 0)
}

fn method(m: &str) -> AuthMethod {
    match m.split('/').next().unwrap_or(m) {
        "password" => AuthMethod::Password,
        "publickey" => AuthMethod::Publickey,
        "keyboard-interactive" => AuthMethod::KeyboardInteractive,
        "hostbased" => AuthMethod::Hostbased,
        "gssapi-with-mic" | "gssapi-keyex" | "gssapi" => AuthMethod::Gssapi,
        _ => AuthMethod::Other,
    }
}

/// Where the user and address are in "USER from ADDR port N[ ssh2...]": the rightmost
/// " from " whose tail reads as an address (a user name may hold " from ", the fixed tail
/// cannot).
fn user_from(s: &str) -> Option<(&str, IpAddr, Option<u16>)> {
    let mut end = s.len();
    loop {
        let (user, tail) = match text::FROM_REV.rfind(&s.as_bytes()[..end]) {
            Some(i) => {
                end = i;
                (&s[..i], &s[i + 6..])
            }
            None if end > 0 && s.starts_with("from ") => {
                end = 0;
                ("", &s[5..])
            }
            None => return None,
        };
        let (addr, after) = text::split_space(tail).unwrap_or((tail, ""));
        let Some(addr) = text::ip(addr) else { continue };
        if after.is_empty() {
            return Some((user, addr, None));
        }
        let Some(p) = after.strip_prefix("port ") else {
            continue;
        };
        let n = p.bytes().take_while(u8::is_ascii_digit).count();
        let Some(p) = text::port(&p[..n]) else {
            continue;
        };
        return Some((user, addr, Some(p)));
    }
}

/// "[invalid user |authenticating user |user ]USER ADDR port N" (the end of a connection),
/// read from the right: (user, invalid, address, port).
fn user_addr(s: &str) -> Option<(Option<&str>, bool, IpAddr, u16)> {
    let s = s.strip_suffix(" [preauth]").unwrap_or(s);
    let (left, p) = text::rsplit_at(s, &text::PORT_REV, 6)?;
    let p = text::port(p)?;
    let (head, addr) = match text::rsplit_space(left) {
        Some((h, a)) => (h, a),
        None => ("", left),
    };
    let addr = text::ip(addr)?;
    let (user, invalid) = if let Some(u) = head.strip_prefix("invalid user ") {
        (Some(u), true)
    } else if let Some(u) = head.strip_prefix("authenticating user ") {
        (Some(u), false)
    } else if let Some(u) = head.strip_prefix("user ") {
        (Some(u), false)
    } else {
        (None, false)
    };
    Some((user, invalid, addr, p))
}

/// "ADDR port N" at the start of `s`, then what follows.
fn addr_port_prefix(s: &str) -> Option<(IpAddr, u16, &str)> {
    let (addr, rest) = text::split_at(s, &text::PORT, 6)?;
    let addr = text::ip(addr)?;
    let n = rest.bytes().take_while(u8::is_ascii_digit).count();
    let p = text::port(&rest[..n])?;
    Some((addr, p, &rest[n..]))
}

fn strip_preauth(s: &str) -> &str {
    s.strip_suffix(" [preauth]").unwrap_or(s).trim()
}

/// The failures PAM logged in a connection that no "Failed" line accounted for, as one
/// event (without the host: the state does not keep it).
fn pending_pam(c: &Conn) -> Option<AuthEvent> {
    let n = c.pam_module.max(c.pam_sshd);
    if n <= 0 {
        return None;
    }
    let mut e = AuthEvent::new(c.pam_time, Service::Ssh, Outcome::Failure);
    e.source = c.pam_source;
    e.attempts = n as u32;
    e.reason = Some("PAM authentication failure".into());
    Some(e)
}

impl Sshd {
    pub fn state_len(&self) -> usize {
        self.conns.len()
    }

    fn conn_key(ctx: &Ctx) -> u64 {
        key(
            &[ctx.host.unwrap_or("").as_bytes()],
            u64::from(ctx.pid.unwrap_or(0)),
        )
    }

    fn conn(&mut self, ctx: &Ctx, out: &mut Out) -> &mut Conn {
        let (c, evicted) = self
            .conns
            .entry(Self::conn_key(ctx), ctx.time.as_secs(), Conn::default);
        if let Some(old) = evicted {
            out.stats.state_evictions += 1;
            if let Some(e) = pending_pam(&old) {
                out.push(LogEvent::Auth(e));
            }
        }
        c
    }

    /// End of input: PAM failures of connections still open that no "Failed" line
    /// accounted for.
    pub fn flush(&mut self, out: &mut Out) {
        for c in self.conns.drain() {
            if let Some(e) = pending_pam(&c) {
                out.push(LogEvent::Auth(e));
            }
        }
    }

    pub fn parse(&mut self, ctx: &Ctx, msg: &str, out: &mut Out) -> Status {
        let msg = msg
            .strip_prefix("error: ")
            .or_else(|| msg.strip_prefix("fatal: "))
            .unwrap_or(msg);
        let Some(&first) = msg.as_bytes().first() else {
            return Status::Ignored;
        };
        match first {
            b'F' => {
                if let Some(rest) = msg.strip_prefix("Failed ") {
                    return self.failed(ctx, rest, out);
                }
            }
            b'A' => {
                if let Some(rest) = msg.strip_prefix("Accepted ") {
                    return self.accepted(ctx, rest, out);
                }
            }
            b'I' => {
                if let Some(rest) = msg.strip_prefix("Invalid user ") {
                    return self.invalid_user(ctx, rest, out);
                }
                if let Some(rest) = msg.strip_prefix("Illegal user ") {
                    return self.invalid_user(ctx, rest, out);
                }
            }
            b'p' if msg.starts_with("pam_") => return self.pam_module(ctx, msg, out),
            b'P' => {
                if let Some(rest) = msg.strip_prefix("PAM: Authentication failure for ") {
                    return self.pam_sshd(ctx, rest, out);
                }
                // "PAM 2 more authentication failures; ..." sums up failures already counted.
            }
            b'C' => {
                if let Some(rest) = msg.strip_prefix("Connection closed by ") {
                    return self.closed(ctx, rest, "connection closed", out);
                }
                if let Some(rest) = msg.strip_prefix("Connection reset by ") {
                    return self.closed(ctx, rest, "connection reset", out);
                }
            }
            b'D' => {
                if let Some(rest) = msg.strip_prefix("Disconnected from ") {
                    return self.closed(ctx, rest, "disconnected", out);
                }
                if let Some(rest) = msg.strip_prefix("Disconnecting ") {
                    return self.disconnecting(ctx, rest, out);
                }
                if let Some(rest) = msg.strip_prefix("Did not receive identification string from ")
                {
                    return self.handshake(
                        ctx,
                        rest,
                        Some("did not receive identification string"),
                        out,
                    );
                }
            }
            b'R' => {
                if let Some(rest) = msg.strip_prefix("Received disconnect from ") {
                    return self.received_disconnect(ctx, rest, out);
                }
            }
            b'U' => {
                if let Some(rest) = msg.strip_prefix("Unable to negotiate with ") {
                    return self.handshake(ctx, rest, None, out);
                }
                if let Some(rest) = msg.strip_prefix("User ") {
                    return self.not_allowed(ctx, rest, out);
                }
            }
            b'm' => {
                if let Some(rest) =
                    msg.strip_prefix("maximum authentication attempts exceeded for ")
                {
                    return self.too_many(ctx, rest, out);
                }
            }
            b'k' => {
                if let Some(reason) = msg.strip_prefix("kex_exchange_identification: ") {
                    let r = out.text(reason, text::MAX_REASON);
                    self.conn(ctx, out).handshake = Some(r);
                    return Status::Absorbed;
                }
            }
            b'b' => {
                if let Some(rest) = msg.strip_prefix("banner exchange: Connection from ") {
                    return self.handshake(ctx, rest, None, out);
                }
            }
            b'B' => {
                if let Some(rest) = msg.strip_prefix("Bad protocol version identification ") {
                    let rest = rest.rsplit_once(" from ").map_or(rest, |(_, r)| r);
                    return self.handshake(
                        ctx,
                        rest,
                        Some("bad protocol version identification"),
                        out,
                    );
                }
            }
            b's' => {
                if let Some(rest) = msg.strip_prefix("ssh_dispatch_run_fatal: Connection from ") {
                    return self.dispatch_fatal(ctx, rest, out);
                }
            }
            b'T' => {
                if let Some(rest) = msg.strip_prefix("Timeout before authentication for ") {
                    return self.timeout(ctx, rest, out);
                }
            }
            b'd' => {
                if let Some(rest) = msg.strip_prefix("drop connection #") {
                    return self.dropped(ctx, rest, out);
                }
            }
            _ => {}
        }
        Status::Ignored
    }

    fn failed(&mut self, ctx: &Ctx, rest: &str, out: &mut Out) -> Status {
        let Some((m, rest)) = text::split_at(rest, &text::FOR, 5) else {
            return Status::Malformed;
        };
        let (invalid, rest) = match rest.strip_prefix("invalid user ") {
            Some(r) => (true, r),
            None => (false, rest),
        };
        let Some((user, addr, port)) = user_from(rest) else {
            return Status::Malformed;
        };
        if m == "none" {
            // Probing for allowed methods tries no credential.
            return Status::Ignored;
        }
        let method = method(m);
        let c = self.conn(ctx, out);
        let mut n = ctx.repeat.max(1);
        if matches!(
            method,
            AuthMethod::Password | AuthMethod::KeyboardInteractive
        ) {
            let r = n as i32;
            c.pam_module = c.pam_module.saturating_sub(r);
            c.pam_sshd = c.pam_sshd.saturating_sub(r);
        }
        if invalid && c.credit_user == Some(user_key(user)) {
            c.credit_user = None;
            n -= 1;
        }
        if n == 0 {
            return Status::Absorbed;
        }
        let mut e = out.auth(ctx, Service::Ssh, Outcome::Failure);
        e.user = out.user(user);
        e.invalid_user = invalid;
        e.source = Some(addr);
        e.source_port = port;
        e.method = Some(method);
        e.attempts = n;
        out.push_auth(e)
    }

    fn accepted(&mut self, ctx: &Ctx, rest: &str, out: &mut Out) -> Status {
        let Some((m, rest)) = text::split_at(rest, &text::FOR, 5) else {
            return Status::Malformed;
        };
        let Some((user, addr, port)) = user_from(rest) else {
            return Status::Malformed;
        };
        let c = self.conn(ctx, out);
        c.credit_user = None;
        c.pam_module = 0;
        c.pam_sshd = 0;
        let mut e = out.auth(ctx, Service::Ssh, Outcome::Success);
        e.user = out.user(user);
        e.source = Some(addr);
        e.source_port = port;
        e.method = Some(method(m));
        out.push_auth(e)
    }

    fn invalid_user(&mut self, ctx: &Ctx, rest: &str, out: &mut Out) -> Status {
        let Some((user, addr, port)) = user_from(rest) else {
            return Status::Malformed;
        };
        self.conn(ctx, out).credit_user = Some(user_key(user));
        let mut e = out.auth(ctx, Service::Ssh, Outcome::Failure);
        e.user = out.user(user);
        e.invalid_user = true;
        e.source = Some(addr);
        e.source_port = port;
        out.push_auth(e)
    }

    /// "User root from A not allowed because not listed in AllowUsers": sshd treats the
    /// user as invalid from here on, like "Invalid user".
    fn not_allowed(&mut self, ctx: &Ctx, rest: &str, out: &mut Out) -> Status {
        let Some((who, why)) = rest.split_once(" not allowed because ") else {
            return Status::Ignored;
        };
        let (user, addr) = match who.rsplit_once(" from ") {
            Some((u, a)) => (u, text::ip(a)),
            None => (who, None),
        };
        self.conn(ctx, out).credit_user = Some(user_key(user));
        let mut e = out.auth(ctx, Service::Ssh, Outcome::Failure);
        e.user = out.user(user);
        e.source = addr;
        e.reason = out.reason(&format!("not allowed because {why}"));
        out.push_auth(e)
    }

    fn pam_module(&mut self, ctx: &Ctx, msg: &str, out: &mut Out) -> Status {
        // "pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh
        // ruser= rhost=A  user=X" (pam_sss, pam_ldap, ... write the same).
        let Some((_, rest)) = text::split_at(msg, &text::PAM_AUTH_FAILURE, 36) else {
            return Status::Ignored;
        };
        let rhost = rest
            .split_ascii_whitespace()
            .find_map(|w| w.strip_prefix("rhost="))
            .and_then(text::ip);
        let r = ctx.repeat.max(1) as i32;
        let c = self.conn(ctx, out);
        c.pam_module = c.pam_module.saturating_add(r);
        c.pam_source = rhost.or(c.pam_source);
        c.pam_time = ctx.time;
        Status::Absorbed
    }

    fn pam_sshd(&mut self, ctx: &Ctx, rest: &str, out: &mut Out) -> Status {
        let rest = rest.strip_prefix("illegal user ").unwrap_or(rest);
        let addr = rest.rsplit_once(" from ").and_then(|(_, a)| text::ip(a));
        let r = ctx.repeat.max(1) as i32;
        let c = self.conn(ctx, out);
        c.pam_sshd = c.pam_sshd.saturating_add(r);
        c.pam_source = addr.or(c.pam_source);
        c.pam_time = ctx.time;
        Status::Absorbed
    }

    /// The connection is over: reports its end once, and PAM failures no "Failed" line
    /// accounted for.
    fn end(&mut self, ctx: &Ctx, end: End, out: &mut Out) -> Status {
        let End {
            outcome,
            user,
            invalid,
            addr,
            port,
            reason,
        } = end;
        let k = Self::conn_key(ctx);
        let c = self
            .conns
            .get_mut(k, ctx.time.as_secs())
            .map(std::mem::take);
        self.conns.remove(k);
        let c = c.unwrap_or_default();
        let mut status = Status::Absorbed;
        let pending = c.pam_module.max(c.pam_sshd);
        if pending > 0 {
            let mut e = out.auth(ctx, Service::Ssh, Outcome::Failure);
            e.user = user.and_then(|u| out.user(u));
            e.invalid_user = invalid;
            e.source = Some(addr);
            e.source_port = port;
            e.attempts = pending as u32;
            e.reason = Some("PAM authentication failure".into());
            status = out.push_auth(e);
        }
        if c.closed && outcome == Outcome::Disconnect {
            return status;
        }
        let (outcome, reason) = match (&c.handshake, outcome) {
            (Some(h), Outcome::Disconnect | Outcome::HandshakeError) => {
                (Outcome::HandshakeError, h.as_str())
            }
            _ => (outcome, reason),
        };
        let mut e = out.auth(ctx, Service::Ssh, outcome);
        e.user = user.and_then(|u| out.user(u));
        e.invalid_user = invalid;
        e.source = Some(addr);
        e.source_port = port;
        e.reason = out.reason(reason);
        out.push_auth(e)
    }

    fn closed(&mut self, ctx: &Ctx, rest: &str, reason: &str, out: &mut Out) -> Status {
        let Some((user, invalid, addr, port)) = user_addr(rest) else {
            return Status::Malformed;
        };
        let reason = match (reason, rest.ends_with("[preauth]")) {
            ("connection closed", true) => "connection closed before authentication",
            ("connection reset", true) => "connection reset before authentication",
            ("disconnected", true) => "disconnected before authentication",
            (r, _) => r,
        };
        let end = End {
            outcome: Outcome::Disconnect,
            user,
            invalid,
            addr,
            port: Some(port),
            reason,
        };
        self.end(ctx, end, out)
    }

    /// "Disconnecting invalid user X A port P: Too many authentication failures [preauth]"
    fn disconnecting(&mut self, ctx: &Ctx, rest: &str, out: &mut Out) -> Status {
        let rest = strip_preauth(rest);
        const TOO_MANY: &str = ": Too many authentication failures";
        let (who, reason) = if let Some(who) = rest.strip_suffix(TOO_MANY) {
            (who, &TOO_MANY[2..])
        } else if let Some(i) = rest.find(": ") {
            (&rest[..i], &rest[i + 2..])
        } else {
            (rest, "")
        };
        let Some((user, invalid, addr, port)) = user_addr(who) else {
            return Status::Malformed;
        };
        let too_many = reason.starts_with("Too many authentication failures");
        let c = self.conn(ctx, out);
        if too_many && c.too_many || !too_many && c.closed {
            return Status::Absorbed;
        }
        c.closed = true;
        c.too_many |= too_many;
        let outcome = if too_many {
            Outcome::TooManyAttempts
        } else {
            Outcome::Disconnect
        };
        let mut e = out.auth(ctx, Service::Ssh, outcome);
        e.user = user.and_then(|u| out.user(u));
        e.invalid_user = invalid;
        e.source = Some(addr);
        e.source_port = Some(port);
        e.reason = out.reason(reason);
        out.push_auth(e)
    }

    /// "maximum authentication attempts exceeded for [invalid user ]X from A port P ssh2"
    fn too_many(&mut self, ctx: &Ctx, rest: &str, out: &mut Out) -> Status {
        let rest = strip_preauth(rest);
        let (invalid, rest) = match rest.strip_prefix("invalid user ") {
            Some(r) => (true, r),
            None => (false, rest),
        };
        let Some((user, addr, port)) = user_from(rest) else {
            return Status::Malformed;
        };
        let c = self.conn(ctx, out);
        if c.too_many {
            return Status::Absorbed;
        }
        c.too_many = true;
        c.closed = true;
        let mut e = out.auth(ctx, Service::Ssh, Outcome::TooManyAttempts);
        e.user = out.user(user);
        e.invalid_user = invalid;
        e.source = Some(addr);
        e.source_port = port;
        e.reason = Some("maximum authentication attempts exceeded".into());
        out.push_auth(e)
    }

    /// "Received disconnect from A port P:11: Bye Bye [preauth]": the address comes first,
    /// the client's own words after, so it is read from the left.
    fn received_disconnect(&mut self, ctx: &Ctx, rest: &str, out: &mut Out) -> Status {
        let Some((addr, port, tail)) = addr_port_prefix(rest) else {
            return Status::Malformed;
        };
        let reason = strip_preauth(tail.strip_prefix(':').unwrap_or(tail));
        let c = self.conn(ctx, out);
        if c.closed {
            return Status::Absorbed;
        }
        c.closed = true;
        let mut e = out.auth(ctx, Service::Ssh, Outcome::Disconnect);
        e.source = Some(addr);
        e.source_port = Some(port);
        e.reason = out.reason(&format!("received disconnect {reason}"));
        out.push_auth(e)
    }

    /// A connection that never reached authentication ("A port P: reason").
    fn handshake(&mut self, ctx: &Ctx, rest: &str, fixed: Option<&str>, out: &mut Out) -> Status {
        let Some((addr, port, tail)) = addr_port_prefix(rest) else {
            return Status::Malformed;
        };
        let tail = strip_preauth(tail.strip_prefix(':').unwrap_or(tail));
        // "no matching key exchange method found. Their offer: ..." – the offer is noise.
        let said = tail.split_once(". Their offer").map_or(tail, |(r, _)| r);
        let end = End {
            outcome: Outcome::HandshakeError,
            user: None,
            invalid: false,
            addr,
            port: Some(port),
            reason: fixed.unwrap_or(said),
        };
        self.end(ctx, end, out)
    }

    /// "ssh_dispatch_run_fatal: Connection from [invalid user X ]A port P: reason [preauth]"
    fn dispatch_fatal(&mut self, ctx: &Ctx, rest: &str, out: &mut Out) -> Status {
        let rest = strip_preauth(rest);
        let Some((who, reason)) = rest.rsplit_once(": ") else {
            return Status::Malformed;
        };
        let Some((user, invalid, addr, port)) = user_addr(who) else {
            return Status::Malformed;
        };
        let end = End {
            outcome: Outcome::HandshakeError,
            user,
            invalid,
            addr,
            port: Some(port),
            reason,
        };
        self.end(ctx, end, out)
    }

    /// "Timeout before authentication for A port P", or (OpenSSH 9.8+, from the listener)
    /// "... for connection from A to B, pid = N".
    fn timeout(&mut self, ctx: &Ctx, rest: &str, out: &mut Out) -> Status {
        let (addr, port) = if let Some(r) = rest.strip_prefix("connection from ") {
            (r.split_once(' ').map_or(r, |(a, _)| a), None)
        } else {
            match addr_port_prefix(rest) {
                Some((addr, p, _)) => {
                    let end = End {
                        outcome: Outcome::Disconnect,
                        user: None,
                        invalid: false,
                        addr,
                        port: Some(p),
                        reason: "timeout before authentication",
                    };
                    return self.end(ctx, end, out);
                }
                None => (rest, None),
            }
        };
        let Some(addr) = text::ip(addr) else {
            return Status::Malformed;
        };
        let mut e = out.auth(ctx, Service::Ssh, Outcome::Disconnect);
        e.source = Some(addr);
        e.source_port = port;
        e.reason = Some("timeout before authentication".into());
        out.push_auth(e)
    }

    /// OpenSSH 9.8 PerSourcePenalties / MaxStartups: "drop connection #0 from [A]:P on
    /// [B]:Q penalty: failed authentication".
    fn dropped(&mut self, ctx: &Ctx, rest: &str, out: &mut Out) -> Status {
        let Some((_, rest)) = rest.split_once(" from ") else {
            return Status::Malformed;
        };
        let (peer, rest) = rest.split_once(' ').unwrap_or((rest, ""));
        let Some((addr, port)) = text::addr_port(peer) else {
            return Status::Malformed;
        };
        let reason = rest
            .split_once("] ")
            .or_else(|| rest.split_once(' ').and_then(|(_, r)| r.split_once(' ')))
            .map_or("", |(_, r)| r);
        let mut e = out.auth(ctx, Service::Ssh, Outcome::Disconnect);
        e.source = Some(addr);
        e.source_port = Some(port);
        e.reason = out.reason(&format!("dropped: {reason}"));
        out.push_auth(e)
    }
}
