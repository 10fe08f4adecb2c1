//! NOTIFICATION messages (RFC 4271 §4.5): what we send when we end a session and what the
//! peer tells us when it ends one, with readable names for the codes and the shutdown
//! message of RFC 9003 when there is one.

use crate::wire::{begin_message, code, finish_message, MessageType, WireError};
use std::fmt;

/// A NOTIFICATION, sent or received. `data` is at most a message's worth of bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Notification {
    pub code: u8,
    pub subcode: u8,
    pub data: Vec<u8>,
}

impl Notification {
    pub fn new(code: u8, subcode: u8) -> Self {
        Notification {
            code,
            subcode,
            data: Vec::new(),
        }
    }

    /// Cease with the given subcode (RFC 4486), e.g. [`code::ADMINISTRATIVE_SHUTDOWN`].
    pub fn cease(subcode: u8) -> Self {
        Notification::new(code::CEASE, subcode)
    }

    /// The NOTIFICATION that answers a decode error.
    pub fn from_error(e: &WireError) -> Self {
        Notification {
            code: e.code,
            subcode: e.subcode,
            data: e.data().to_vec(),
        }
    }

    pub(crate) fn decode(body: &[u8]) -> Self {
        // `frame` guarantees at least code and subcode.
        Notification {
            code: body.first().copied().unwrap_or(0),
            subcode: body.get(1).copied().unwrap_or(0),
            data: body.get(2..).unwrap_or(&[]).to_vec(),
        }
    }

    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        let start = begin_message(out, MessageType::Notification);
        out.extend_from_slice(&[self.code, self.subcode]);
        // Keep within one message whatever the caller put in `data`.
        let room = crate::wire::MAX_MESSAGE_LEN - crate::wire::HEADER_LEN - 2;
        out.extend_from_slice(&self.data[..self.data.len().min(room)]);
        finish_message(out, start);
    }

    /// The name of the error code and subcode.
    pub fn describe(&self) -> (&'static str, &'static str) {
        let c = match self.code {
            code::MESSAGE_HEADER => "message header error",
            code::OPEN_MESSAGE => "OPEN message error",
            code::UPDATE_MESSAGE => "UPDATE message error",
            code::HOLD_TIMER_EXPIRED => "hold timer expired",
            code::FSM => "finite state machine error",
            code::CEASE => "cease",
            code::ROUTE_REFRESH => "ROUTE-REFRESH message error",
            _ => "unknown error code",
        };
        let s = match (self.code, self.subcode) {
            (_, 0) => "",
            (code::MESSAGE_HEADER, 1) => "connection not synchronized",
            (code::MESSAGE_HEADER, 2) => "bad message length",
            (code::MESSAGE_HEADER, 3) => "bad message type",
            (code::OPEN_MESSAGE, 1) => "unsupported version number",
            (code::OPEN_MESSAGE, 2) => "bad peer AS",
            (code::OPEN_MESSAGE, 3) => "bad BGP identifier",
            (code::OPEN_MESSAGE, 4) => "unsupported optional parameter",
            (code::OPEN_MESSAGE, 6) => "unacceptable hold time",
            (code::OPEN_MESSAGE, 7) => "unsupported capability",
            (code::OPEN_MESSAGE, 11) => "role mismatch",
            (code::UPDATE_MESSAGE, 1) => "malformed attribute list",
            (code::UPDATE_MESSAGE, 2) => "unrecognized well-known attribute",
            (code::UPDATE_MESSAGE, 3) => "missing well-known attribute",
            (code::UPDATE_MESSAGE, 4) => "attribute flags error",
            (code::UPDATE_MESSAGE, 5) => "attribute length error",
            (code::UPDATE_MESSAGE, 6) => "invalid ORIGIN attribute",
            (code::UPDATE_MESSAGE, 8) => "invalid NEXT_HOP attribute",
            (code::UPDATE_MESSAGE, 9) => "optional attribute error",
            (code::UPDATE_MESSAGE, 10) => "invalid network field",
            (code::UPDATE_MESSAGE, 11) => "malformed AS_PATH",
            (code::FSM, 1) => "unexpected message in OpenSent",
            (code::FSM, 2) => "unexpected message in OpenConfirm",
            (code::FSM, 3) => "unexpected message in Established",
            (code::CEASE, 1) => "maximum number of prefixes reached",
            (code::CEASE, 2) => "administrative shutdown",
            (code::CEASE, 3) => "peer de-configured",
            (code::CEASE, 4) => "administrative reset",
            (code::CEASE, 5) => "connection rejected",
            (code::CEASE, 6) => "other configuration change",
            (code::CEASE, 7) => "connection collision resolution",
            (code::CEASE, 8) => "out of resources",
            (code::CEASE, 9) => "hard reset",
            (code::ROUTE_REFRESH, 1) => "invalid message length",
            _ => "unknown subcode",
        };
        (c, s)
    }

    /// The shutdown communication of RFC 9003 (Cease 2 or 4), when it is valid UTF-8.
    pub fn shutdown_message(&self) -> Option<&str> {
        if self.code != code::CEASE || !matches!(self.subcode, 2 | 4) {
            return None;
        }
        let (&len, rest) = self.data.split_first()?;
        let text = rest.get(..usize::from(len))?;
        std::str::from_utf8(text).ok().filter(|t| !t.is_empty())
    }
}

impl fmt::Display for Notification {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (c, s) = self.describe();
        write!(f, "{c}")?;
        if !s.is_empty() {
            write!(f, ", {s}")?;
        }
        write!(f, " ({}/{})", self.code, self.subcode)?;
        if let Some(m) = self.shutdown_message() {
            // The peer's text: shown escaped, never trusted as a format or a log line.
            write!(f, ": {m:?}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_and_describes() {
        let mut out = Vec::new();
        Notification::new(code::HOLD_TIMER_EXPIRED, 0).encode(&mut out);
        let mut want = vec![0xff; 16];
        want.extend_from_slice(&[0, 21, 3, 4, 0]);
        assert_eq!(out, want);
        assert_eq!(
            Notification::new(4, 0).to_string(),
            "hold timer expired (4/0)"
        );
        let mut n = Notification::cease(code::ADMINISTRATIVE_SHUTDOWN);
        n.data = b"\x0bmaintenance".to_vec();
        assert_eq!(
            n.to_string(),
            "cease, administrative shutdown (6/2): \"maintenance\""
        );
        assert_eq!(
            Notification::decode(&[6, 2, 3, b'a']).shutdown_message(),
            None
        );
    }
}
