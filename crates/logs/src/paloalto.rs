//! Palo Alto PAN-OS syslog CSV to auth events: the GLOBALPROTECT log type (PAN-OS 9.1+),
//! and the older SYSTEM log of subtype globalprotect ("GlobalProtect gateway user
//! authentication failed. Login from: A, ..., User name: U, ..."). Fields are read by
//! their position in PAN-OS's documented order.

use crate::out::{Ctx, Out, Status};
use crate::text;
use crate::time::{self, TimeContext};
use rampart_model::{AuthMethod, Outcome, Service, Timestamp};

/// At most this many CSV fields are split (GLOBALPROTECT has about 50; we read up to 37).
const MAX_FIELDS: usize = 40;

// GLOBALPROTECT field positions.
const GP_GENERATED: usize = 6;
const GP_EVENT: usize = 8;
const GP_AUTH_METHOD: usize = 10;
const GP_USER: usize = 12;
const GP_PUBLIC_IP: usize = 15;
const GP_PUBLIC_IP6: usize = 16;
const GP_REPEAT: usize = 24;
const GP_REASON: usize = 25;
const GP_ERROR: usize = 26;
const GP_STATUS: usize = 28;
const GP_HIGH_RES: usize = 36;
// SYSTEM field positions.
const SYS_SUBTYPE: usize = 4;
const SYS_EVENT: usize = 8;
const SYS_DESCRIPTION: usize = 14;

/// "1,2024/12/01 10:00:00,SERIAL,TYPE,..." with a type we read.
pub fn looks_like(msg: &str) -> bool {
    let b = msg.as_bytes();
    let n = b.iter().take(3).take_while(|c| c.is_ascii_digit()).count();
    if n == 0 || b.get(n) != Some(&b',') {
        return false;
    }
    let date = &b[n + 1..];
    date.len() > 10
        && date[4] == b'/'
        && date[7] == b'/'
        && (msg.contains(",GLOBALPROTECT,") || msg.contains(",SYSTEM,globalprotect,"))
}

/// CSV fields; a quoted field may hold commas and "" for a quote.
fn split(msg: &str) -> Vec<std::borrow::Cow<'_, str>> {
    let mut out = Vec::with_capacity(MAX_FIELDS);
    let mut rest = msg;
    while out.len() < MAX_FIELDS {
        if let Some(q) = rest.strip_prefix('"') {
            let mut value = String::new();
            let mut i = 0;
            let b = q.as_bytes();
            let mut end = q.len();
            while i < b.len() {
                if b[i] == b'"' {
                    if b.get(i + 1) == Some(&b'"') {
                        value.push('"');
                        i += 2;
                        continue;
                    }
                    end = i + 1;
                    break;
                }
                let ch_len = q[i..].chars().next().map_or(1, char::len_utf8);
                value.push_str(&q[i..i + ch_len]);
                i += ch_len;
            }
            out.push(std::borrow::Cow::Owned(value));
            rest = q.get(end..).unwrap_or("");
            match rest.strip_prefix(',') {
                Some(r) => rest = r,
                None => break,
            }
        } else {
            match rest.split_once(',') {
                Some((f, r)) => {
                    out.push(std::borrow::Cow::Borrowed(f));
                    rest = r;
                }
                None => {
                    out.push(std::borrow::Cow::Borrowed(rest));
                    break;
                }
            }
        }
    }
    out
}

/// "2024/12/01 10:00:00" in the firewall's local time.
fn pan_time(s: &str, ctx: &TimeContext) -> Option<Timestamp> {
    let iso = s.replacen('/', "-", 2);
    time::iso8601(iso.as_bytes(), ctx).map(|(t, _)| t)
}

pub fn parse(ctx: &Ctx, msg: &str, tctx: &TimeContext, out: &mut Out) -> Status {
    let f = split(msg);
    let get = |i: usize| f.get(i).map(|c| c.as_ref()).unwrap_or("");
    match get(3) {
        "GLOBALPROTECT" => globalprotect(ctx, &get, tctx, out),
        "SYSTEM" if get(SYS_SUBTYPE) == "globalprotect" => system(ctx, &get, tctx, out),
        _ => Status::Ignored,
    }
}

fn globalprotect<'f>(
    ctx: &Ctx,
    get: &dyn Fn(usize) -> &'f str,
    tctx: &TimeContext,
    out: &mut Out,
) -> Status {
    let event = get(GP_EVENT);
    let status = get(GP_STATUS);
    let outcome = if event.ends_with("-auth") {
        match status {
            "success" => Outcome::Success,
            "failure" => Outcome::Failure,
            _ => return Status::Ignored,
        }
    } else if event.ends_with("-logout") {
        Outcome::Disconnect
    } else {
        return Status::Ignored;
    };
    let time = time::iso8601(get(GP_HIGH_RES).as_bytes(), tctx)
        .map(|(t, _)| t)
        .or_else(|| pan_time(get(GP_GENERATED), tctx))
        .unwrap_or(ctx.time);
    let line = Ctx { time, ..*ctx };
    let mut e = out.auth(&line, Service::Globalprotect, outcome);
    e.source = text::ip(get(GP_PUBLIC_IP)).or_else(|| text::ip(get(GP_PUBLIC_IP6)));
    e.user = out.user(get(GP_USER));
    let m = get(GP_AUTH_METHOD).to_ascii_lowercase();
    e.method = Some(if m.contains("saml") {
        AuthMethod::Saml
    } else if m.contains("cert") {
        AuthMethod::Certificate
    } else if m.is_empty() {
        AuthMethod::Other
    } else {
        AuthMethod::Password
    });
    let reason = [get(GP_ERROR), get(GP_REASON)]
        .into_iter()
        .find(|r| !r.is_empty());
    e.reason = reason.and_then(|r| out.reason(r));
    e.attempts = text::number(get(GP_REPEAT))
        .filter(|n| *n > 0 && *n < 1_000_000)
        .unwrap_or(1);
    out.push_auth(e)
}

fn system<'f>(
    ctx: &Ctx,
    get: &dyn Fn(usize) -> &'f str,
    tctx: &TimeContext,
    out: &mut Out,
) -> Status {
    let event = get(SYS_EVENT);
    let outcome = if event.ends_with("-auth-fail") {
        Outcome::Failure
    } else if event.ends_with("-auth-succ") {
        Outcome::Success
    } else if event.ends_with("-logout-succ") {
        Outcome::Disconnect
    } else {
        return Status::Ignored;
    };
    let d = get(SYS_DESCRIPTION);
    let item = |name: &str| {
        let i = d.find(name)? + name.len();
        let v = &d[i..];
        Some(v[..v.find(", ").unwrap_or(v.len())].trim_end_matches('.'))
    };
    let time = pan_time(get(GP_GENERATED), tctx).unwrap_or(ctx.time);
    let line = Ctx { time, ..*ctx };
    let mut e = out.auth(&line, Service::Globalprotect, outcome);
    e.source = item("Login from: ").and_then(text::ip);
    e.user = item("User name: ").and_then(|u| out.user(u));
    e.method = Some(AuthMethod::Password);
    let reason = d.split_once("Reason: ").map(|(_, r)| {
        r.split(", Auth type")
            .next()
            .unwrap_or(r)
            .trim_end_matches('.')
    });
    e.reason = reason.and_then(|r| out.reason(r));
    out.push_auth(e)
}
