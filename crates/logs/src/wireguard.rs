//! WireGuard's kernel messages to auth events. WireGuard logs nothing by default; with
//! dynamic debug on (`echo 'module wireguard +p' > /sys/kernel/debug/dynamic_debug/control`)
//! the kernel writes "wireguard: wg0: Receiving handshake initiation from peer 5
//! (203.0.113.7:51820)" and the like. Peers are named by the interface's index for them,
//! never by key; a handshake happens every two minutes while a peer sends.

use crate::out::{Ctx, Out, Status};
use crate::text;
use rampart_model::{AuthMethod, Outcome, Service};

/// "(A:P)" at the end of a message.
fn endpoint(s: &str) -> Option<(std::net::IpAddr, u16)> {
    let (_, e) = s.rsplit_once('(')?;
    text::addr_port(e.strip_suffix(')')?)
}

/// "peer N" in a message.
fn peer(s: &str) -> Option<&str> {
    let i = s.find("peer ")?;
    let rest = &s[i..];
    let n = rest[5..].bytes().take_while(u8::is_ascii_digit).count();
    (n > 0).then(|| &rest[..5 + n])
}

pub fn parse(ctx: &Ctx, msg: &str, out: &mut Out) -> Status {
    // "wg0: ..." – the interface, then the message.
    let body = msg.split_once(": ").map_or(msg, |(_, b)| b);
    let (outcome, addr, user, reason) = if let Some(rest) =
        body.strip_prefix("Receiving handshake initiation from ")
    {
        // Decrypting the initiation proved the peer holds a configured static key.
        (Outcome::Success, endpoint(rest), peer(rest), None)
    } else if let Some(rest) = body.strip_prefix("Invalid handshake initiation from ") {
        // The sender knows our public key but is no configured peer (or replayed).
        (
            Outcome::Failure,
            text::addr_port(rest.trim()),
            None,
            Some("invalid handshake initiation"),
        )
    } else if let Some(rest) = body.strip_prefix("Invalid MAC of handshake, dropping packet from ")
    {
        // The sender does not even know our public key.
        (
            Outcome::HandshakeError,
            text::addr_port(rest.trim()),
            None,
            Some("invalid MAC of handshake"),
        )
    } else {
        return Status::Ignored;
    };
    let mut e = out.auth(ctx, Service::Wireguard, outcome);
    e.source = addr.map(|a| a.0);
    e.source_port = addr.map(|a| a.1);
    e.user = user.and_then(|u| out.user(u));
    e.method = Some(AuthMethod::Publickey);
    e.reason = reason.map(str::to_string);
    out.push_auth(e)
}
