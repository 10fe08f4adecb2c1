//! The one error a decoder returns: small, `Copy`, and never allocating, so that a flood of
//! hostile datagrams costs a counter increment and nothing more.

use std::fmt;

/// Why a datagram, sample or capture could not be decoded. Each variant names the structure
/// being read so that the log line says where the bytes went wrong.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DecodeError {
    /// The bytes end before the named structure does.
    Truncated(&'static str),
    /// The named structure holds a value that cannot be right (a length below its header,
    /// a field count above our limit, a zero-length template, ...).
    Malformed(&'static str),
    /// Not a version of any format we decode.
    UnknownVersion(u32),
    /// A capture file whose magic number is not pcap or pcapng.
    UnknownCapture(u32),
    /// A capture link type we do not decode.
    UnsupportedLinkType(u32),
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::Truncated(what) => write!(f, "truncated {what}"),
            DecodeError::Malformed(what) => write!(f, "malformed {what}"),
            DecodeError::UnknownVersion(v) => {
                write!(
                    f,
                    "not NetFlow v5/v9, IPFIX or sFlow v5 (version field {v})"
                )
            }
            DecodeError::UnknownCapture(m) => {
                write!(f, "not a pcap or pcapng file (magic number {m:#010x})")
            }
            DecodeError::UnsupportedLinkType(l) => write!(f, "unsupported link type {l}"),
        }
    }
}

impl std::error::Error for DecodeError {}

/// Bounds checked big-endian reads over a byte slice. Every decoder reads through these so
/// that no index can go out of range.
pub(crate) trait Be {
    fn be_u8(&self, at: usize) -> Option<u8>;
    fn be_u16(&self, at: usize) -> Option<u16>;
    fn be_u32(&self, at: usize) -> Option<u32>;
    fn be_u64(&self, at: usize) -> Option<u64>;
}

impl Be for [u8] {
    #[inline]
    fn be_u8(&self, at: usize) -> Option<u8> {
        self.get(at).copied()
    }
    #[inline]
    fn be_u16(&self, at: usize) -> Option<u16> {
        let b = self.get(at..at.checked_add(2)?)?;
        Some(u16::from_be_bytes([b[0], b[1]]))
    }
    #[inline]
    fn be_u32(&self, at: usize) -> Option<u32> {
        let b = self.get(at..at.checked_add(4)?)?;
        Some(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }
    #[inline]
    fn be_u64(&self, at: usize) -> Option<u64> {
        let b = self.get(at..at.checked_add(8)?)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Some(u64::from_be_bytes(a))
    }
}
