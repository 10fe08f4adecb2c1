//! FortiGate key=value logs to auth events: SSL-VPN login failures, tunnels up and down,
//! and administrator logins. Time is `eventtime` when the release writes it (exact), else
//! `date` and `time` in the zone `tz` names (else the caller's).

use crate::out::{Ctx, Out, Status};
use crate::time::{self, TimeContext};
use rampart_model::{AuthMethod, Outcome, Service, Timestamp};

/// Whether a message is FortiGate's key=value form.
pub fn looks_like(msg: &str) -> bool {
    (msg.starts_with("date=")
        || msg.starts_with("logver=")
        || msg.starts_with("devname=")
        || msg.starts_with("timestamp="))
        && msg.contains("logid=")
}

/// The fields this parser reads; the rest are skipped.
#[derive(Debug, Default)]
struct Fields<'a> {
    date: Option<&'a str>,
    time: Option<&'a str>,
    eventtime: Option<&'a str>,
    tz: Option<&'a str>,
    devname: Option<&'a str>,
    subtype: Option<&'a str>,
    logdesc: Option<&'a str>,
    action: Option<&'a str>,
    status: Option<&'a str>,
    user: Option<&'a str>,
    remip: Option<&'a str>,
    srcip: Option<&'a str>,
    reason: Option<&'a str>,
    msg: Option<&'a str>,
    tunneltype: Option<&'a str>,
}

/// Splits `k=v k="v w" ...`; a quoted value may hold spaces and \" escapes.
fn fields(s: &str) -> Fields<'_> {
    let mut f = Fields::default();
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        while i < b.len() && b[i] == b' ' {
            i += 1;
        }
        let k0 = i;
        while i < b.len() && b[i] != b'=' && b[i] != b' ' {
            i += 1;
        }
        if i >= b.len() || b[i] != b'=' {
            continue;
        }
        let k = &s[k0..i];
        i += 1;
        let v = if b.get(i) == Some(&b'"') {
            i += 1;
            let v0 = i;
            while i < b.len() && b[i] != b'"' {
                if b[i] == b'\\' {
                    i += 1;
                }
                i += 1;
            }
            let v = s.get(v0..i.min(b.len())).unwrap_or("");
            i += 1;
            v
        } else {
            let v0 = i;
            while i < b.len() && b[i] != b' ' {
                i += 1;
            }
            &s[v0..i]
        };
        let slot = match k {
            "date" => &mut f.date,
            "time" => &mut f.time,
            "eventtime" => &mut f.eventtime,
            "tz" => &mut f.tz,
            "devname" => &mut f.devname,
            "subtype" => &mut f.subtype,
            "logdesc" => &mut f.logdesc,
            "action" => &mut f.action,
            "status" => &mut f.status,
            "user" => &mut f.user,
            "remip" => &mut f.remip,
            "srcip" => &mut f.srcip,
            "reason" => &mut f.reason,
            "msg" => &mut f.msg,
            "tunneltype" => &mut f.tunneltype,
            _ => continue,
        };
        if slot.is_none() {
            *slot = Some(v);
        }
    }
    f
}

fn event_time(f: &Fields, fallback: Timestamp, ctx: &TimeContext) -> Timestamp {
    if let Some(t) = f.eventtime.and_then(time::epoch_any) {
        return t;
    }
    let (Some(d), Some(t)) = (f.date, f.time) else {
        return fallback;
    };
    let offset =
        f.tz.and_then(|z| time::zone(z.as_bytes()))
            .map_or(ctx.utc_offset_secs, |(o, _)| o);
    let local = TimeContext {
        utc_offset_secs: offset,
        ..*ctx
    };
    let stamp = format!("{d}T{t}");
    time::iso8601(stamp.as_bytes(), &local).map_or(fallback, |(t, _)| t)
}

pub fn parse(ctx: &Ctx, msg: &str, tctx: &TimeContext, out: &mut Out) -> Status {
    let f = fields(msg);
    let action = f.action.unwrap_or("");
    let logdesc = f.logdesc.unwrap_or("");
    let (service, outcome) = match (f.subtype, action) {
        (Some("vpn"), "ssl-login-fail") => (Service::FortigateSslvpn, Outcome::Failure),
        (Some("vpn"), "tunnel-up") if f.tunneltype.is_some_and(|t| t.starts_with("ssl")) => {
            (Service::FortigateSslvpn, Outcome::Success)
        }
        (Some("vpn"), "tunnel-down") if f.tunneltype.is_some_and(|t| t.starts_with("ssl")) => {
            (Service::FortigateSslvpn, Outcome::Disconnect)
        }
        (Some("system"), "login") if logdesc.starts_with("Admin login") => match f.status {
            Some("failed") => (Service::Other, Outcome::Failure),
            Some("success") => (Service::Other, Outcome::Success),
            _ => return Status::Ignored,
        },
        _ => return Status::Ignored,
    };
    let src = f.remip.or(f.srcip);
    let Some(source) = src.map(crate::text::ip) else {
        return Status::Malformed;
    };
    let time = event_time(&f, ctx.time, tctx);
    let host = f.devname.or(ctx.host);
    let line = Ctx { time, host, ..*ctx };
    let mut e = out.auth(&line, service, outcome);
    e.source = source;
    e.user = f.user.and_then(|u| out.user(u));
    e.method = Some(AuthMethod::Password);
    let reason = f.reason.filter(|r| *r != "N/A").or(f.msg);
    e.invalid_user = f.reason.is_some_and(|r| r.contains("unknown_user"));
    e.reason = reason.and_then(|r| out.reason(r));
    out.push_auth(e)
}
