//! BGP message framing (RFC 4271 §4.1): the 19-byte header, message types, and the bounded
//! reader every decoder in this crate uses. A decode error carries the NOTIFICATION that
//! answers it, so the session can tell the peer exactly what was wrong.

use std::fmt;

/// Every message starts with 16 bytes of ones.
pub const MARKER: [u8; 16] = [0xff; 16];
/// Marker, length and type.
pub const HEADER_LEN: usize = 19;
/// RFC 4271 limit; we do not negotiate extended messages (RFC 8654).
pub const MAX_MESSAGE_LEN: usize = 4096;

/// The five message types this speaker knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MessageType {
    Open = 1,
    Update = 2,
    Notification = 3,
    Keepalive = 4,
    RouteRefresh = 5,
}

impl MessageType {
    fn from_u8(v: u8) -> Option<Self> {
        Some(match v {
            1 => MessageType::Open,
            2 => MessageType::Update,
            3 => MessageType::Notification,
            4 => MessageType::Keepalive,
            5 => MessageType::RouteRefresh,
            _ => return None,
        })
    }

    /// Shortest legal length of a whole message of this type (RFC 4271 §6.1, RFC 2918).
    fn min_len(self) -> usize {
        match self {
            MessageType::Open => 29,
            MessageType::Update => 23,
            MessageType::Notification => 21,
            MessageType::Keepalive => 19,
            MessageType::RouteRefresh => 23,
        }
    }
}

/// Why bytes from a peer were refused: what was wrong, and the NOTIFICATION code, subcode
/// and data (at most two bytes here) that say so to the peer. Small and `Copy`: decoding
/// never allocates to report an error.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WireError {
    pub code: u8,
    pub subcode: u8,
    pub what: &'static str,
    data: [u8; 2],
    data_len: u8,
}

impl WireError {
    pub const fn new(code: u8, subcode: u8, what: &'static str) -> Self {
        WireError {
            code,
            subcode,
            what,
            data: [0; 2],
            data_len: 0,
        }
    }

    pub(crate) const fn with_u8(mut self, v: u8) -> Self {
        self.data = [v, 0];
        self.data_len = 1;
        self
    }

    pub(crate) const fn with_u16(mut self, v: u16) -> Self {
        self.data = v.to_be_bytes();
        self.data_len = 2;
        self
    }

    /// The NOTIFICATION data field.
    pub fn data(&self) -> &[u8] {
        &self.data[..usize::from(self.data_len)]
    }
}

impl fmt::Display for WireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} (NOTIFICATION {}/{})",
            self.what, self.code, self.subcode
        )
    }
}

impl std::error::Error for WireError {}

/// Error codes and subcodes (RFC 4271 §4.5, RFC 4486, RFC 6608, RFC 7313).
pub mod code {
    pub const MESSAGE_HEADER: u8 = 1;
    pub const OPEN_MESSAGE: u8 = 2;
    pub const UPDATE_MESSAGE: u8 = 3;
    pub const HOLD_TIMER_EXPIRED: u8 = 4;
    pub const FSM: u8 = 5;
    pub const CEASE: u8 = 6;
    pub const ROUTE_REFRESH: u8 = 7;

    // Message header errors.
    pub const CONNECTION_NOT_SYNCHRONIZED: u8 = 1;
    pub const BAD_MESSAGE_LENGTH: u8 = 2;
    pub const BAD_MESSAGE_TYPE: u8 = 3;
    // OPEN errors.
    pub const UNSUPPORTED_VERSION: u8 = 1;
    pub const BAD_PEER_AS: u8 = 2;
    pub const BAD_BGP_IDENTIFIER: u8 = 3;
    pub const UNSUPPORTED_OPTIONAL_PARAMETER: u8 = 4;
    pub const UNACCEPTABLE_HOLD_TIME: u8 = 6;
    // UPDATE errors.
    pub const MALFORMED_ATTRIBUTE_LIST: u8 = 1;
    pub const ATTRIBUTE_FLAGS_ERROR: u8 = 4;
    pub const ATTRIBUTE_LENGTH_ERROR: u8 = 5;
    pub const INVALID_ORIGIN: u8 = 6;
    pub const INVALID_NEXT_HOP: u8 = 8;
    pub const OPTIONAL_ATTRIBUTE_ERROR: u8 = 9;
    pub const INVALID_NETWORK_FIELD: u8 = 10;
    pub const MALFORMED_AS_PATH: u8 = 11;
    // FSM errors (RFC 6608).
    pub const UNEXPECTED_IN_OPEN_SENT: u8 = 1;
    pub const UNEXPECTED_IN_OPEN_CONFIRM: u8 = 2;
    pub const UNEXPECTED_IN_ESTABLISHED: u8 = 3;
    // Cease (RFC 4486).
    pub const MAX_PREFIXES: u8 = 1;
    pub const ADMINISTRATIVE_SHUTDOWN: u8 = 2;
    pub const PEER_DECONFIGURED: u8 = 3;
    pub const ADMINISTRATIVE_RESET: u8 = 4;
    pub const CONNECTION_REJECTED: u8 = 5;
    pub const OTHER_CONFIGURATION_CHANGE: u8 = 6;
    pub const CONNECTION_COLLISION: u8 = 7;
    pub const OUT_OF_RESOURCES: u8 = 8;
    // Route refresh (RFC 7313).
    pub const INVALID_MESSAGE_LENGTH: u8 = 1;
}

/// One whole message found at the start of a byte stream.
#[derive(Clone, Copy, Debug)]
pub struct Frame<'a> {
    pub kind: MessageType,
    /// The bytes after the header.
    pub body: &'a [u8],
    /// Header plus body: how far to advance the stream.
    pub len: usize,
}

/// Finds the first message in `buf`. `Ok(None)` means more bytes are needed; an error means
/// the stream cannot continue (RFC 4271 §6.1: header errors end the session).
pub fn frame(buf: &[u8]) -> Result<Option<Frame<'_>>, WireError> {
    // Check the marker as soon as it is there, so garbage is refused before we wait for a
    // length that may never come.
    let seen = buf.len().min(MARKER.len());
    if buf[..seen].iter().any(|&b| b != 0xff) {
        return Err(WireError::new(
            code::MESSAGE_HEADER,
            code::CONNECTION_NOT_SYNCHRONIZED,
            "marker is not all ones",
        ));
    }
    if buf.len() < HEADER_LEN {
        return Ok(None);
    }
    let len = usize::from(u16::from_be_bytes([buf[16], buf[17]]));
    let bad_len = WireError::new(
        code::MESSAGE_HEADER,
        code::BAD_MESSAGE_LENGTH,
        "message length out of range for its type",
    )
    .with_u16(len as u16);
    if !(HEADER_LEN..=MAX_MESSAGE_LEN).contains(&len) {
        return Err(bad_len);
    }
    let kind = MessageType::from_u8(buf[18]).ok_or(
        WireError::new(
            code::MESSAGE_HEADER,
            code::BAD_MESSAGE_TYPE,
            "unknown message type",
        )
        .with_u8(buf[18]),
    )?;
    if len < kind.min_len() || (kind == MessageType::Keepalive && len != HEADER_LEN) {
        return Err(bad_len);
    }
    match buf.get(HEADER_LEN..len) {
        Some(body) => Ok(Some(Frame { kind, body, len })),
        None => Ok(None),
    }
}

/// Starts a message of `kind` in `out`; returns where it starts, for [`finish_message`].
pub(crate) fn begin_message(out: &mut Vec<u8>, kind: MessageType) -> usize {
    let start = out.len();
    out.extend_from_slice(&MARKER);
    out.extend_from_slice(&[0, 0, kind as u8]);
    start
}

/// Writes the length of the message begun at `start`. Callers keep messages within
/// [`MAX_MESSAGE_LEN`]; that is checked in debug builds.
pub(crate) fn finish_message(out: &mut [u8], start: usize) {
    let len = out.len() - start;
    debug_assert!(len <= MAX_MESSAGE_LEN, "message of {len} bytes");
    out[start + 16..start + 18].copy_from_slice(&(len as u16).to_be_bytes());
}

/// Appends a path attribute, choosing the extended-length form when the value needs it.
pub(crate) fn put_attribute(out: &mut Vec<u8>, flags: u8, kind: u8, value: &[u8]) {
    if value.len() > 255 {
        out.extend_from_slice(&[flags | ATTR_EXTENDED_LENGTH, kind]);
        out.extend_from_slice(&(value.len() as u16).to_be_bytes());
    } else {
        out.extend_from_slice(&[flags & !ATTR_EXTENDED_LENGTH, kind, value.len() as u8]);
    }
    out.extend_from_slice(value);
}

pub(crate) const ATTR_OPTIONAL: u8 = 0x80;
pub(crate) const ATTR_TRANSITIVE: u8 = 0x40;
pub(crate) const ATTR_PARTIAL: u8 = 0x20;
pub(crate) const ATTR_EXTENDED_LENGTH: u8 = 0x10;

/// A cursor over borrowed bytes. Every read names the error to return when the bytes run
/// out, so a truncated field is reported as what it is.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        Reader { buf }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    pub(crate) fn peek(&self) -> Option<u8> {
        self.buf.first().copied()
    }

    pub(crate) fn take(&mut self, n: usize, e: WireError) -> Result<&'a [u8], WireError> {
        if n > self.buf.len() {
            return Err(e);
        }
        let (head, tail) = self.buf.split_at(n);
        self.buf = tail;
        Ok(head)
    }

    pub(crate) fn u8(&mut self, e: WireError) -> Result<u8, WireError> {
        Ok(self.take(1, e)?[0])
    }

    pub(crate) fn u16(&mut self, e: WireError) -> Result<u16, WireError> {
        let b = self.take(2, e)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    pub(crate) fn u32(&mut self, e: WireError) -> Result<u32, WireError> {
        let b = self.take(4, e)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    pub(crate) fn rest(&mut self) -> &'a [u8] {
        std::mem::take(&mut self.buf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keepalive() -> Vec<u8> {
        let mut v = MARKER.to_vec();
        v.extend_from_slice(&[0, 19, 4]);
        v
    }

    #[test]
    fn frames_whole_messages_only() {
        let k = keepalive();
        for cut in 0..k.len() {
            assert!(frame(&k[..cut]).unwrap().is_none(), "cut at {cut}");
        }
        let f = frame(&k).unwrap().unwrap();
        assert_eq!(f.kind, MessageType::Keepalive);
        assert_eq!(f.len, 19);
        assert!(f.body.is_empty());
    }

    #[test]
    fn refuses_bad_headers_with_the_right_notification() {
        let mut bad_marker = keepalive();
        bad_marker[3] = 0;
        let e = frame(&bad_marker[..5]).unwrap_err();
        assert_eq!((e.code, e.subcode), (1, 1));

        let mut long_keepalive = keepalive();
        long_keepalive[17] = 20;
        long_keepalive.push(0);
        let e = frame(&long_keepalive).unwrap_err();
        assert_eq!((e.code, e.subcode, e.data()), (1, 2, &[0u8, 20][..]));

        let mut too_long = keepalive();
        too_long[16..18].copy_from_slice(&4097u16.to_be_bytes());
        assert_eq!(frame(&too_long).unwrap_err().subcode, 2);

        let mut bad_type = keepalive();
        bad_type[18] = 9;
        let e = frame(&bad_type).unwrap_err();
        assert_eq!((e.code, e.subcode, e.data()), (1, 3, &[9u8][..]));

        let mut short_open = keepalive();
        short_open[18] = 1;
        assert_eq!(frame(&short_open).unwrap_err().subcode, 2);
    }
}
