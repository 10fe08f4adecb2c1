//! Capture files, pcap and pcapng, recognised by their magic number rather than their name: a
//! sans-I/O parser over bytes, a zero-copy iterator over a capture held in memory, and a reader
//! that streams a file of any size through one bounded, reused buffer.

use crate::error::{Be, DecodeError};
use crate::Timestamp;
use std::fmt;
use std::io::{self, Read};

/// The largest captured length of a pcap record we accept. It is Wireshark's limit for all but
/// a few link types (USB, D-Bus); a larger length means a corrupt or hostile file, and taking it
/// at its word would have us buffer gigabytes.
pub const MAX_RECORD: usize = 256 * 1024;

/// The largest pcapng block we accept, whatever its type. A packet of [`MAX_RECORD`] bytes fits
/// with room to spare, as do name resolution blocks of some ten thousand names. (Wireshark goes
/// up to 128 MiB, for D-Bus captures, which we do not decode.) It is also what
/// [`CaptureReader`]'s buffer may grow to, so a hostile length costs at most this much memory.
pub const MAX_BLOCK: usize = 1024 * 1024;

/// Interfaces a pcapng section may describe. Real captures have a handful; the bound keeps
/// the interface table of a hostile file small.
pub const MAX_INTERFACES: usize = 1024;

const PCAP_HEADER: usize = 24;
const PCAP_RECORD: usize = 16;
const BLOCK_MIN: usize = 12;
/// A section header block must hold its byte-order magic, version and section length.
const SHB_MIN: usize = 28;
/// Type, length, interface id, timestamp, captured and original lengths, trailing length.
const PACKET_BLOCK_MIN: usize = 32;
const PACKET_BLOCK_DATA: usize = 28;
const SIMPLE_BLOCK_MIN: usize = 16;
const SIMPLE_BLOCK_DATA: usize = 12;
const IDB_MIN: usize = 20;
const IDB_OPTIONS: usize = 16;

const SHB: u32 = 0x0A0D_0D0A;
const IDB: u32 = 1;
const PACKET_BLOCK: u32 = 2;
const SIMPLE_BLOCK: u32 = 3;
const ENHANCED_BLOCK: u32 = 6;
const BYTE_ORDER_MAGIC: u32 = 0x1A2B_3C4D;
const OPT_END: u16 = 0;
const IF_TSRESOL: u16 = 9;
const IF_TSOFFSET: u16 = 14;

const START_BUFFER: usize = 64 * 1024;
/// One whole record or block must fit, wherever it starts: the buffer is compacted first.
const MAX_BUFFER: usize = MAX_BLOCK;
const _: () = assert!(MAX_BUFFER >= PCAP_RECORD + MAX_RECORD && START_BUFFER <= MAX_BUFFER);

/// One packet of a capture, borrowed from the bytes it was read from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CapturedPacket<'a> {
    /// When it was captured. Simple packet blocks carry no time: theirs is the epoch.
    pub timestamp: Timestamp,
    /// The link type of its interface, as the file states it (`LINKTYPE_*` numbers).
    pub linktype: u32,
    /// The bytes captured, possibly fewer than were on the wire.
    pub data: &'a [u8],
    /// The length of the packet on the wire.
    pub original_len: u32,
}

/// What [`CaptureParser::next`] found at the start of the bytes it was given.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step<'a> {
    /// A packet, taking `consumed` bytes of the buffer.
    Packet {
        packet: CapturedPacket<'a>,
        consumed: usize,
    },
    /// A record or block that is not a packet (interface description, statistics, name
    /// resolution, a new section, a block type we do not know), taking `consumed` bytes.
    Skip { consumed: usize },
    /// The buffer ends inside a record: call again with at least `at_least` bytes from the same
    /// start. Only returned when the caller says more bytes may come.
    NeedMore { at_least: usize },
    /// The buffer is empty and the caller says no more bytes will come.
    End,
}

/// The state needed to read a capture record by record: the format and byte order, and for
/// pcapng the interfaces of the current section. Holds no bytes: give it the file from the end
/// of what it last consumed.
#[derive(Debug)]
pub struct CaptureParser {
    format: Format,
}

#[derive(Debug)]
enum Format {
    Pcap {
        big_endian: bool,
        nanos: bool,
        linktype: u32,
    },
    Pcapng {
        /// The byte order of the current section.
        big_endian: bool,
        /// The interfaces of the current section, in the order their description blocks came:
        /// packet blocks refer to them by index.
        interfaces: Vec<Interface>,
    },
}

#[derive(Clone, Copy, Debug)]
struct Interface {
    linktype: u32,
    snaplen: u32,
    scale: Scale,
    /// `if_tsoffset`: seconds to add to every timestamp of the interface.
    offset_secs: i64,
}

/// How timestamp ticks become nanoseconds, worked out once per interface from `if_tsresol`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Scale {
    /// 10^-n s with n ≤ 9: multiply (microseconds by 1000). Also `Mul(0)` for n > 28, where
    /// no tick count reaches a nanosecond.
    Mul(u64),
    /// 10^-n s with n > 9: divide by 10^(n-9).
    Div(u64),
    /// 2^-n s.
    Pow2(u32),
}

impl Scale {
    /// The default resolution when an interface states none.
    const MICROS: Scale = Scale::Mul(1_000);

    fn from_tsresol(tsresol: u8) -> Scale {
        let n = u32::from(tsresol & 0x7f);
        if tsresol & 0x80 != 0 {
            Scale::Pow2(n)
        } else if n <= 9 {
            Scale::Mul(10u64.pow(9 - n))
        } else {
            // Beyond 10^-28 s no u64 tick count is a nanosecond long.
            10u64.checked_pow(n - 9).map_or(Scale::Mul(0), Scale::Div)
        }
    }

    #[inline]
    fn nanos(self, ticks: u64) -> u64 {
        match self {
            Scale::Mul(m) => ticks.saturating_mul(m),
            Scale::Div(d) => ticks.checked_div(d).unwrap_or(0),
            // ticks × 10^9 < 2^94: exact in u128, and the shift loses only sub-nanoseconds.
            Scale::Pow2(n) => {
                let nanos = (u128::from(ticks) * 1_000_000_000)
                    .checked_shr(n)
                    .unwrap_or(0);
                u64::try_from(nanos).unwrap_or(u64::MAX)
            }
        }
    }
}

impl Interface {
    #[inline]
    fn timestamp(&self, ticks: u64) -> Timestamp {
        let nanos = self.scale.nanos(ticks);
        if self.offset_secs == 0 {
            return Timestamp::from_nanos(nanos);
        }
        // |offset| × 10^9 < 2^93, so i128 cannot overflow; before the epoch clamps to it.
        let shifted = i128::from(nanos) + i128::from(self.offset_secs) * 1_000_000_000;
        Timestamp::from_nanos(u64::try_from(shifted.max(0)).unwrap_or(u64::MAX))
    }
}

/// A packet found by the parser, with its data as a range of the buffer rather than a borrow,
/// so that the streaming reader can refill its buffer in the same loop that parses it.
#[derive(Clone, Copy)]
struct FoundPacket {
    timestamp: Timestamp,
    linktype: u32,
    data_start: usize,
    data_len: usize,
    original_len: u32,
}

impl FoundPacket {
    #[inline]
    fn lend(self, buf: &[u8]) -> Result<CapturedPacket<'_>, DecodeError> {
        // The parser checked the range against the record, so this never fails.
        let data = buf
            .get(self.data_start..self.data_start + self.data_len)
            .ok_or(DecodeError::Truncated("capture packet data"))?;
        Ok(CapturedPacket {
            timestamp: self.timestamp,
            linktype: self.linktype,
            data,
            original_len: self.original_len,
        })
    }
}

enum RawStep {
    Packet(FoundPacket, usize),
    Skip(usize),
    NeedMore(usize),
    End,
}

impl CaptureParser {
    /// Reads the file header at the start of `buf`: the 24-byte pcap header, or the whole first
    /// pcapng section header block. Returns the parser and the bytes the header took, or
    /// `Ok(None)` if `buf` is too short to hold it (read more and call again).
    ///
    /// Fails with [`DecodeError::UnknownCapture`] (the first four bytes, read big-endian) when
    /// the file is neither pcap (`a1b2c3d4`, or `a1b23c4d` for nanoseconds, in either byte
    /// order) nor pcapng (`0a0d0d0a`), and with [`DecodeError::Malformed`] when a pcapng section
    /// header is impossible.
    pub fn new(buf: &[u8]) -> Result<Option<(CaptureParser, usize)>, DecodeError> {
        let Some(magic) = buf.be_u32(0) else {
            return Ok(None);
        };
        let (big_endian, nanos) = match magic {
            0xA1B2_C3D4 => (true, false),
            0xD4C3_B2A1 => (false, false),
            0xA1B2_3C4D => (true, true),
            0x4D3C_B2A1 => (false, true),
            SHB => {
                let Some((big_endian, len)) = section_header(buf)? else {
                    return Ok(None);
                };
                if buf.len() < len {
                    return Ok(None);
                }
                let format = Format::Pcapng {
                    big_endian,
                    interfaces: Vec::new(),
                };
                return Ok(Some((CaptureParser { format }, len)));
            }
            other => return Err(DecodeError::UnknownCapture(other)),
        };
        // The link type is the last field; the snap length before it is a hint we do not need,
        // since every record states its own length.
        let Some(linktype) = read_u32(buf, 20, big_endian) else {
            return Ok(None);
        };
        let format = Format::Pcap {
            big_endian,
            nanos,
            linktype,
        };
        Ok(Some((CaptureParser { format }, PCAP_HEADER)))
    }

    /// Parses the record or block at the start of `buf`, which must begin where the previous
    /// step (or [`CaptureParser::new`]) left off. `at_eof` says whether `buf` runs to the end of
    /// the file: if so, a partial record is [`DecodeError::Truncated`] and an empty buffer is
    /// [`Step::End`]; if not, both are [`Step::NeedMore`].
    ///
    /// After an error the parser's state is unchanged: the same bytes give the same error.
    #[inline]
    pub fn next<'a>(&mut self, buf: &'a [u8], at_eof: bool) -> Result<Step<'a>, DecodeError> {
        Ok(match self.next_raw(buf, at_eof)? {
            RawStep::Packet(found, consumed) => Step::Packet {
                packet: found.lend(buf)?,
                consumed,
            },
            RawStep::Skip(consumed) => Step::Skip { consumed },
            RawStep::NeedMore(at_least) => Step::NeedMore { at_least },
            RawStep::End => Step::End,
        })
    }

    #[inline]
    fn next_raw(&mut self, buf: &[u8], at_eof: bool) -> Result<RawStep, DecodeError> {
        match &mut self.format {
            Format::Pcap {
                big_endian,
                nanos,
                linktype,
            } => pcap_record(buf, at_eof, *big_endian, *nanos, *linktype),
            Format::Pcapng {
                big_endian,
                interfaces,
            } => pcapng_block(buf, at_eof, big_endian, interfaces),
        }
    }
}

/// What to return when `buf` ends inside a record of `at_least` bytes (or is empty).
fn incomplete(
    buf: &[u8],
    at_eof: bool,
    at_least: usize,
    what: &'static str,
) -> Result<RawStep, DecodeError> {
    if !at_eof {
        Ok(RawStep::NeedMore(at_least))
    } else if buf.is_empty() {
        Ok(RawStep::End)
    } else {
        Err(DecodeError::Truncated(what))
    }
}

#[inline]
fn pcap_record(
    buf: &[u8],
    at_eof: bool,
    big_endian: bool,
    nanos: bool,
    linktype: u32,
) -> Result<RawStep, DecodeError> {
    let Some(header) = buf.get(..PCAP_RECORD) else {
        return incomplete(buf, at_eof, PCAP_RECORD, "pcap record");
    };
    let (Some(secs), Some(frac), Some(incl_len), Some(orig_len)) = (
        read_u32(header, 0, big_endian),
        read_u32(header, 4, big_endian),
        read_u32(header, 8, big_endian),
        read_u32(header, 12, big_endian),
    ) else {
        return incomplete(buf, at_eof, PCAP_RECORD, "pcap record");
    };
    let incl_len = incl_len as usize;
    if incl_len > MAX_RECORD {
        return Err(DecodeError::Malformed("pcap record length"));
    }
    let consumed = PCAP_RECORD + incl_len;
    if buf.len() < consumed {
        return incomplete(buf, at_eof, consumed, "pcap record");
    }
    // A hostile fraction may exceed one second; u64 arithmetic keeps it from wrapping.
    let frac_nanos = if nanos {
        u64::from(frac)
    } else {
        u64::from(frac) * 1_000
    };
    let timestamp = Timestamp::from_nanos(
        u64::from(secs)
            .saturating_mul(1_000_000_000)
            .saturating_add(frac_nanos),
    );
    let found = FoundPacket {
        timestamp,
        linktype,
        data_start: PCAP_RECORD,
        data_len: incl_len,
        original_len: orig_len,
    };
    Ok(RawStep::Packet(found, consumed))
}

/// The byte order and total length of the section header block at the start of `buf`, checked
/// for sanity; `None` if `buf` is shorter than the 12 bytes needed to tell.
fn section_header(buf: &[u8]) -> Result<Option<(bool, usize)>, DecodeError> {
    let Some(order) = buf.be_u32(8) else {
        return Ok(None);
    };
    let big_endian = match order {
        BYTE_ORDER_MAGIC => true,
        o if o == BYTE_ORDER_MAGIC.swap_bytes() => false,
        _ => return Err(DecodeError::Malformed("pcapng byte-order magic")),
    };
    let len = block_len(read_u32(buf, 4, big_endian))?;
    if len < SHB_MIN {
        return Err(DecodeError::Malformed("pcapng section header length"));
    }
    if let Some(block) = buf.get(..len) {
        check_trailer(block, len, big_endian)?;
        // Another major version may lay blocks out differently: the spec says not to guess.
        if read_u16(block, 12, big_endian) != Some(1) {
            return Err(DecodeError::Malformed("pcapng version"));
        }
    }
    Ok(Some((big_endian, len)))
}

/// A block's total length, if it is one a well-formed file can have.
fn block_len(total: Option<u32>) -> Result<usize, DecodeError> {
    match total {
        Some(t) if (t as usize) >= BLOCK_MIN && t % 4 == 0 && (t as usize) <= MAX_BLOCK => {
            Ok(t as usize)
        }
        _ => Err(DecodeError::Malformed("pcapng block length")),
    }
}

/// A block ends with a copy of its length, so that a file can be read backwards; a mismatch
/// means we have lost track of where blocks start.
fn check_trailer(block: &[u8], len: usize, big_endian: bool) -> Result<(), DecodeError> {
    let trailer = read_u32(block, len - 4, big_endian);
    if trailer.map(|t| t as usize) == Some(len) {
        Ok(())
    } else {
        Err(DecodeError::Malformed("pcapng block trailing length"))
    }
}

#[inline]
fn pcapng_block(
    buf: &[u8],
    at_eof: bool,
    big_endian: &mut bool,
    interfaces: &mut Vec<Interface>,
) -> Result<RawStep, DecodeError> {
    if buf.len() < BLOCK_MIN {
        return incomplete(buf, at_eof, BLOCK_MIN, "pcapng block");
    }
    let block_type = read_u32(buf, 0, *big_endian);
    if block_type == Some(SHB) {
        // A new section: its own byte order, and no interfaces until it describes them.
        let Some((new_order, len)) = section_header(buf)? else {
            return incomplete(buf, at_eof, BLOCK_MIN, "pcapng block");
        };
        if buf.len() < len {
            return incomplete(buf, at_eof, len, "pcapng block");
        }
        *big_endian = new_order;
        interfaces.clear();
        return Ok(RawStep::Skip(len));
    }
    let big_endian = *big_endian;
    let len = block_len(read_u32(buf, 4, big_endian))?;
    let Some(block) = buf.get(..len) else {
        return incomplete(buf, at_eof, len, "pcapng block");
    };
    check_trailer(block, len, big_endian)?;
    match block_type {
        Some(ENHANCED_BLOCK) => packet_block(block, big_endian, interfaces, false),
        Some(PACKET_BLOCK) => packet_block(block, big_endian, interfaces, true),
        Some(SIMPLE_BLOCK) => simple_block(block, big_endian, interfaces),
        Some(IDB) => {
            interface_block(block, big_endian, interfaces)?;
            Ok(RawStep::Skip(len))
        }
        // Name resolution, interface statistics, decryption secrets, custom blocks...
        _ => Ok(RawStep::Skip(len)),
    }
}

/// An enhanced packet block, or the obsolete packet block (whose interface id is 16 bits,
/// followed by a drop count).
#[inline]
fn packet_block(
    block: &[u8],
    big_endian: bool,
    interfaces: &[Interface],
    obsolete: bool,
) -> Result<RawStep, DecodeError> {
    const SHORT: DecodeError = DecodeError::Malformed("pcapng packet block length");
    let len = block.len();
    if len < PACKET_BLOCK_MIN {
        return Err(SHORT);
    }
    let interface_id = if obsolete {
        read_u16(block, 8, big_endian).map(u32::from)
    } else {
        read_u32(block, 8, big_endian)
    };
    let (Some(interface_id), Some(high), Some(low), Some(cap_len), Some(orig_len)) = (
        interface_id,
        read_u32(block, 12, big_endian),
        read_u32(block, 16, big_endian),
        read_u32(block, 20, big_endian),
        read_u32(block, 24, big_endian),
    ) else {
        return Err(SHORT);
    };
    let data_len = cap_len as usize;
    if data_len > len - PACKET_BLOCK_DATA - 4 {
        return Err(DecodeError::Malformed("pcapng captured length"));
    }
    let interface = interfaces
        .get(interface_id as usize)
        .ok_or(DecodeError::Malformed("pcapng interface id"))?;
    let found = FoundPacket {
        timestamp: interface.timestamp(u64::from(high) << 32 | u64::from(low)),
        linktype: interface.linktype,
        data_start: PACKET_BLOCK_DATA,
        data_len,
        original_len: orig_len,
    };
    Ok(RawStep::Packet(found, len))
}

/// A simple packet block: interface 0, no timestamp, and a captured length that is not stored
/// but follows from the original length, the snap length and the block's length.
fn simple_block(
    block: &[u8],
    big_endian: bool,
    interfaces: &[Interface],
) -> Result<RawStep, DecodeError> {
    let len = block.len();
    let orig_len = match read_u32(block, 8, big_endian) {
        Some(l) if len >= SIMPLE_BLOCK_MIN => l,
        _ => return Err(DecodeError::Malformed("pcapng simple packet block length")),
    };
    let interface = interfaces
        .first()
        .ok_or(DecodeError::Malformed("pcapng interface id"))?;
    let mut data_len = (orig_len as usize).min(len - SIMPLE_BLOCK_MIN);
    if interface.snaplen != 0 {
        data_len = data_len.min(interface.snaplen as usize);
    }
    let found = FoundPacket {
        timestamp: Timestamp::EPOCH,
        linktype: interface.linktype,
        data_start: SIMPLE_BLOCK_DATA,
        data_len,
        original_len: orig_len,
    };
    Ok(RawStep::Packet(found, len))
}

/// An interface description block: its link type, snap length, and the options that say how
/// to read its timestamps.
fn interface_block(
    block: &[u8],
    big_endian: bool,
    interfaces: &mut Vec<Interface>,
) -> Result<(), DecodeError> {
    const SHORT: DecodeError = DecodeError::Malformed("pcapng interface block length");
    let len = block.len();
    if len < IDB_MIN {
        return Err(SHORT);
    }
    let (Some(linktype), Some(snaplen)) = (
        read_u16(block, 8, big_endian),
        read_u32(block, 12, big_endian),
    ) else {
        return Err(SHORT);
    };
    if interfaces.len() >= MAX_INTERFACES {
        return Err(DecodeError::Malformed("pcapng interface count"));
    }
    let mut interface = Interface {
        linktype: u32::from(linktype),
        snaplen,
        scale: Scale::MICROS,
        offset_secs: 0,
    };
    let options_end = len - 4;
    let mut at = IDB_OPTIONS;
    while at + 4 <= options_end {
        let (Some(code), Some(opt_len)) = (
            read_u16(block, at, big_endian),
            read_u16(block, at + 2, big_endian),
        ) else {
            break;
        };
        let value_start = at + 4;
        let value_end = value_start + usize::from(opt_len);
        let Some(value) = block
            .get(value_start..value_end)
            .filter(|_| value_end <= options_end)
        else {
            return Err(DecodeError::Malformed("pcapng option length"));
        };
        match code {
            OPT_END => break,
            IF_TSRESOL => {
                if let Some(&r) = value.first() {
                    interface.scale = Scale::from_tsresol(r);
                }
            }
            IF_TSOFFSET => {
                if let Some(secs) = read_u64(value, 0, big_endian) {
                    interface.offset_secs = secs as i64;
                }
            }
            _ => {}
        }
        // Option values are padded to 32 bits.
        at = value_start + usize::from(opt_len).div_ceil(4) * 4;
    }
    interfaces.push(interface);
    Ok(())
}

#[inline]
fn read_u16(buf: &[u8], at: usize, big_endian: bool) -> Option<u16> {
    let v = buf.be_u16(at)?;
    Some(if big_endian { v } else { v.swap_bytes() })
}

#[inline]
fn read_u32(buf: &[u8], at: usize, big_endian: bool) -> Option<u32> {
    let v = buf.be_u32(at)?;
    Some(if big_endian { v } else { v.swap_bytes() })
}

#[inline]
fn read_u64(buf: &[u8], at: usize, big_endian: bool) -> Option<u64> {
    let v = buf.be_u64(at)?;
    Some(if big_endian { v } else { v.swap_bytes() })
}

/// The error for a file that ends before its header does.
fn header_truncated(buf: &[u8]) -> DecodeError {
    match buf.be_u32(0) {
        None => DecodeError::Truncated("capture magic number"),
        Some(SHB) => DecodeError::Truncated("pcapng section header block"),
        Some(_) => DecodeError::Truncated("pcap file header"),
    }
}

/// The packets of a capture held in memory, borrowed from it. Yields `Err` once, at the first
/// record that cannot be read, and then stops.
pub fn packets(bytes: &[u8]) -> Result<PacketIter<'_>, DecodeError> {
    match CaptureParser::new(bytes)? {
        Some((parser, used)) => Ok(PacketIter {
            parser,
            rest: bytes.get(used..).unwrap_or_default(),
            done: false,
        }),
        None => Err(header_truncated(bytes)),
    }
}

/// Iterator returned by [`packets`].
#[derive(Debug)]
pub struct PacketIter<'a> {
    parser: CaptureParser,
    rest: &'a [u8],
    done: bool,
}

impl<'a> Iterator for PacketIter<'a> {
    type Item = Result<CapturedPacket<'a>, DecodeError>;

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        // Each pass consumes at least a record header, so this ends.
        loop {
            let rest = self.rest;
            let failed = match self.parser.next_raw(rest, true) {
                Ok(RawStep::Packet(found, consumed)) => {
                    self.rest = rest.get(consumed..).unwrap_or_default();
                    match found.lend(rest) {
                        Ok(packet) => return Some(Ok(packet)),
                        Err(e) => e,
                    }
                }
                Ok(RawStep::Skip(consumed)) => {
                    self.rest = rest.get(consumed..).unwrap_or_default();
                    continue;
                }
                Ok(RawStep::End) => {
                    self.done = true;
                    return None;
                }
                // The parser never asks for more once told it has the whole file.
                Ok(RawStep::NeedMore(_)) => DecodeError::Truncated("capture"),
                Err(e) => e,
            };
            self.done = true;
            return Some(Err(failed));
        }
    }
}

/// Why a [`CaptureReader`] stopped.
#[derive(Debug)]
pub enum CaptureReadError {
    /// Reading the underlying file or stream failed.
    Io(io::Error),
    /// The bytes are not a capture we can read, or are cut short or corrupt.
    Decode(DecodeError),
}

impl fmt::Display for CaptureReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Transparent: the wrapped error says it all, and callers add the file name.
        match self {
            CaptureReadError::Io(e) => e.fmt(f),
            CaptureReadError::Decode(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for CaptureReadError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            CaptureReadError::Io(e) => e.source(),
            CaptureReadError::Decode(_) => None,
        }
    }
}

impl From<io::Error> for CaptureReadError {
    fn from(e: io::Error) -> Self {
        CaptureReadError::Io(e)
    }
}

impl From<DecodeError> for CaptureReadError {
    fn from(e: DecodeError) -> Self {
        CaptureReadError::Decode(e)
    }
}

/// Streams the packets of a pcap or pcapng file of any size from any [`Read`]. One buffer,
/// 64 KiB to start, is reused for the whole file: it grows only when a single record or block
/// is larger (never beyond [`MAX_BLOCK`]), and bytes already consumed are moved out of the way
/// before each read.
pub struct CaptureReader<R> {
    reader: R,
    parser: CaptureParser,
    buf: Vec<u8>,
    /// `buf[start..end]` holds bytes read but not yet parsed.
    start: usize,
    end: usize,
    eof: bool,
}

impl<R> fmt::Debug for CaptureReader<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CaptureReader")
            .field("parser", &self.parser)
            .field("buffer_len", &self.buf.len())
            .field("buffered", &(self.end - self.start))
            .field("eof", &self.eof)
            .finish_non_exhaustive()
    }
}

impl<R: Read> CaptureReader<R> {
    /// Reads the file header. A file that is not a capture fails with
    /// [`DecodeError::UnknownCapture`]; one shorter than its header, with
    /// [`DecodeError::Truncated`].
    pub fn new(mut reader: R) -> Result<Self, CaptureReadError> {
        let mut buf = vec![0; START_BUFFER];
        let mut end = 0;
        let mut eof = false;
        loop {
            let have = buf.get(..end).unwrap_or_default();
            if let Some((parser, used)) = CaptureParser::new(have)? {
                return Ok(CaptureReader {
                    reader,
                    parser,
                    buf,
                    start: used,
                    end,
                    eof,
                });
            }
            if eof {
                return Err(header_truncated(have).into());
            }
            if end == buf.len() {
                // The parser has checked the section header's length against MAX_BLOCK.
                if buf.len() >= MAX_BUFFER {
                    return Err(DecodeError::Malformed("pcapng section header length").into());
                }
                buf.resize((buf.len() * 2).min(MAX_BUFFER), 0);
            }
            let n = read_some(&mut reader, buf.get_mut(end..).unwrap_or_default())?;
            if n == 0 {
                eof = true;
            }
            end = (end + n).min(buf.len());
        }
    }

    /// The underlying reader, e.g. to see how far into a file reading has got.
    pub fn get_ref(&self) -> &R {
        &self.reader
    }

    /// The next packet, borrowed from the reader's buffer until the next call. `Ok(None)` at
    /// the end of a file that ends between records; a file cut inside one gives
    /// [`DecodeError::Truncated`]. After a decode error every call gives the same error.
    pub fn next_packet(&mut self) -> Result<Option<CapturedPacket<'_>>, CaptureReadError> {
        loop {
            let available = self.buf.get(self.start..self.end).unwrap_or_default();
            match self.parser.next_raw(available, self.eof)? {
                RawStep::Packet(found, consumed) => {
                    let record_start = self.start;
                    self.start = (self.start + consumed).min(self.end);
                    let record = self.buf.get(record_start..self.end).unwrap_or_default();
                    return Ok(Some(found.lend(record)?));
                }
                RawStep::Skip(consumed) => self.start = (self.start + consumed).min(self.end),
                RawStep::NeedMore(at_least) => self.fill(at_least)?,
                RawStep::End => return Ok(None),
            }
        }
    }

    /// Reads until the buffer holds `at_least` unparsed bytes, or the file ends.
    fn fill(&mut self, at_least: usize) -> Result<(), CaptureReadError> {
        // The parser bounds every record by MAX_BLOCK and asks only for what it lacks; this
        // guards the loop below against spinning if that ever changed.
        if at_least > MAX_BUFFER || at_least <= self.end - self.start {
            return Err(DecodeError::Malformed("capture record length").into());
        }
        // What is left is less than one record: cheap to move to the front.
        if self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        if at_least > self.buf.len() {
            let grown = at_least.max(self.buf.len() * 2).min(MAX_BUFFER);
            self.buf.resize(grown, 0);
        }
        while self.end < at_least {
            let n = read_some(
                &mut self.reader,
                self.buf.get_mut(self.end..).unwrap_or_default(),
            )?;
            if n == 0 {
                self.eof = true;
                break;
            }
            self.end = (self.end + n).min(self.buf.len());
        }
        Ok(())
    }
}

/// One `read`, retried when a signal interrupts it.
fn read_some(reader: &mut impl Read, into: &mut [u8]) -> io::Result<usize> {
    loop {
        match reader.read(into) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            result => return result,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs::File;

    const LINKTYPE_ETHERNET: u32 = 1;
    const LINKTYPE_LINUX_SLL2: u32 = 276;

    /// A packet as owned values, to compare what two readers yield.
    type Owned = (Timestamp, u32, Vec<u8>, u32);

    fn owned(p: &CapturedPacket<'_>) -> Owned {
        (p.timestamp, p.linktype, p.data.to_vec(), p.original_len)
    }

    fn fixture_path(name: &str) -> String {
        format!("{}/tests/fixtures/pcaps/{name}", env!("CARGO_MANIFEST_DIR"))
    }

    fn load(name: &str) -> Vec<u8> {
        let file = File::open(fixture_path(name)).unwrap();
        let mut bytes = Vec::new();
        io::copy(&mut file.take(1 << 20), &mut bytes).unwrap();
        bytes
    }

    /// Every packet of an in-memory capture, and the error that stopped it, if any.
    fn from_slice(bytes: &[u8]) -> (Vec<Owned>, Option<DecodeError>) {
        let mut out = Vec::new();
        let iter = match packets(bytes) {
            Ok(iter) => iter,
            Err(e) => return (out, Some(e)),
        };
        for p in iter {
            match p {
                Ok(p) => out.push(owned(&p)),
                Err(e) => return (out, Some(e)),
            }
        }
        (out, None)
    }

    /// Every packet a `CaptureReader` gives, and the decode error that stopped it, if any.
    fn from_reader(reader: impl Read) -> (Vec<Owned>, Option<DecodeError>) {
        let mut out = Vec::new();
        let mut reader = match CaptureReader::new(reader) {
            Ok(r) => r,
            Err(CaptureReadError::Decode(e)) => return (out, Some(e)),
            Err(e) => panic!("{e}"),
        };
        loop {
            match reader.next_packet() {
                Ok(Some(p)) => out.push(owned(&p)),
                Ok(None) => return (out, None),
                Err(CaptureReadError::Decode(e)) => return (out, Some(e)),
                Err(e) => panic!("{e}"),
            }
        }
    }

    /// A reader that hands out at most `chunk` bytes per read, and is interrupted now and then,
    /// as pipes and sockets are.
    struct Trickle<'a> {
        bytes: &'a [u8],
        chunk: usize,
        reads: usize,
    }

    impl Read for Trickle<'_> {
        fn read(&mut self, into: &mut [u8]) -> io::Result<usize> {
            self.reads += 1;
            if self.reads.is_multiple_of(5) {
                return Err(io::ErrorKind::Interrupted.into());
            }
            let n = self.chunk.min(into.len()).min(self.bytes.len());
            into[..n].copy_from_slice(&self.bytes[..n]);
            self.bytes = &self.bytes[n..];
            Ok(n)
        }
    }

    fn trickle(bytes: &[u8], chunk: usize) -> Trickle<'_> {
        Trickle {
            bytes,
            chunk,
            reads: 0,
        }
    }

    /// Reads a fixture every way we can, checks that all ways agree, and returns the packets.
    fn read_fixture(name: &str) -> Vec<Owned> {
        let bytes = load(name);
        let (slice, err) = from_slice(&bytes);
        assert_eq!(err, None, "{name}");
        let (streamed, err) = from_reader(File::open(fixture_path(name)).unwrap());
        assert_eq!(err, None, "{name}");
        assert_eq!(slice, streamed, "{name}: slice and file reader differ");
        for chunk in [1, 3, 16, 100, 4096] {
            let (trickled, err) = from_reader(trickle(&bytes, chunk));
            assert_eq!(err, None, "{name}");
            assert_eq!(slice, trickled, "{name}: reads of {chunk} bytes");
        }
        slice
    }

    fn ts(secs: u64, nanos: u32) -> Timestamp {
        Timestamp::from_secs_nanos(secs, nanos)
    }

    // Counts below are those of `capinfos -c` and `tcpdump -r FILE | wc -l`; timestamps those of
    // `tcpdump --time-stamp-precision=nano -tt -r FILE`.

    #[test]
    fn pcap_fixtures_read() {
        let syn = read_fixture("syn-flood-200.pcap");
        assert_eq!(syn.len(), 200);
        assert!(syn
            .iter()
            .all(|p| p.1 == LINKTYPE_ETHERNET && p.2.len() == 54 && p.3 == 54));
        assert_eq!(syn[0].0, ts(1_700_000_000, 0));
        assert_eq!(syn[199].0, ts(1_700_000_000, 199_000_000));

        let cldap = read_fixture("cldap.pcap");
        assert_eq!(cldap.len(), 2);
        assert_eq!(cldap[0].0, ts(1_347_446_027, 384_429_000));
        assert_eq!(cldap[0].2.len(), 179);
        assert_eq!(cldap[1].0, ts(1_347_446_027, 399_157_000));

        let ntp = read_fixture("ntp.pcap");
        assert_eq!(ntp.len(), 4);
        assert_eq!(ntp[0].0, ts(1_776_288_565, 592_867_000));
        assert_eq!(ntp[3].0, ts(1_776_288_565, 593_432_000));
    }

    #[test]
    fn ntp_reads_the_same_in_every_format() {
        let ntp = read_fixture("ntp.pcap");
        for name in ["ntp-nsec.pcap", "ntp.pcapng", "ntp-nsec.pcapng"] {
            assert_eq!(read_fixture(name), ntp, "{name}");
        }
    }

    #[test]
    fn nanosecond_linux_sll2_capture_reads() {
        let sll2 = read_fixture("sll2-nsec.pcap");
        assert_eq!(sll2.len(), 4);
        assert!(sll2.iter().all(|p| p.1 == LINKTYPE_LINUX_SLL2));
        assert_eq!(sll2[0].0, ts(1_795_376_671, 581_185_711));
        assert_eq!(sll2[3].0, ts(1_795_376_671, 581_515_146));
        // 20-byte SLL2 header, then IPv4 carrying UDP with 15 bytes of payload.
        assert_eq!(sll2[0].2.len(), 20 + 20 + 8 + 15);
        assert_eq!(&sll2[0].2[..2], &[0x08, 0x00]);
    }

    #[test]
    fn pcapng_with_interfaces_of_two_link_types_reads() {
        let merged = read_fixture("cldap-sll2.pcapng");
        assert_eq!(merged.len(), 6);
        let linktypes: Vec<u32> = merged.iter().map(|p| p.1).collect();
        assert_eq!(linktypes, [1, 1, 276, 276, 276, 276]);
        let mut expected = read_fixture("cldap.pcap");
        expected.extend(read_fixture("sll2-nsec.pcap"));
        assert_eq!(merged, expected);
    }

    /// Where each record of a whole file ends, and whether it is a packet.
    fn record_ends(bytes: &[u8]) -> (usize, Vec<(usize, bool)>) {
        let (mut parser, mut at) = CaptureParser::new(bytes).unwrap().unwrap();
        let header = at;
        let mut ends = Vec::new();
        loop {
            match parser.next(&bytes[at..], true).unwrap() {
                Step::Packet { consumed, .. } => {
                    at += consumed;
                    ends.push((at, true));
                }
                Step::Skip { consumed } => {
                    at += consumed;
                    ends.push((at, false));
                }
                Step::End => return (header, ends),
                Step::NeedMore { .. } => panic!("asked for more at end of file"),
            }
        }
    }

    fn check_every_prefix(bytes: &[u8], full: &[Owned]) {
        let (header, ends) = record_ends(bytes);
        for cut in 0..bytes.len() {
            let prefix = &bytes[..cut];
            let whole = ends
                .iter()
                .filter(|&&(end, packet)| packet && end <= cut)
                .count();
            let clean = cut == header || ends.iter().any(|&(end, _)| end == cut);
            for (how, (got, err)) in [
                ("slice", from_slice(prefix)),
                ("reader", from_reader(trickle(prefix, 61))),
            ] {
                assert_eq!(got, full[..got.len()], "{how}, cut at {cut}");
                if cut < header {
                    assert!(got.is_empty());
                } else {
                    assert_eq!(got.len(), whole, "{how}, cut at {cut}");
                }
                match err {
                    None => assert!(clean, "{how}, cut at {cut}: no error"),
                    Some(DecodeError::Truncated(_)) => assert!(!clean, "{how}, cut at {cut}"),
                    Some(e) => panic!("{how}, cut at {cut}: {e}"),
                }
            }
        }
    }

    #[test]
    fn every_prefix_of_a_fixture_is_truncated_or_clean() {
        for name in [
            "ntp.pcap",
            "ntp-nsec.pcapng",
            "cldap-sll2.pcapng",
            "syn-flood-200.pcap",
        ] {
            let bytes = load(name);
            check_every_prefix(&bytes, &read_fixture(name));
        }
    }

    // Hand-built captures.

    fn put16(out: &mut Vec<u8>, big: bool, v: u16) {
        out.extend_from_slice(&if big {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        });
    }
    fn put32(out: &mut Vec<u8>, big: bool, v: u32) {
        out.extend_from_slice(&if big {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        });
    }
    fn put64(out: &mut Vec<u8>, big: bool, v: u64) {
        out.extend_from_slice(&if big {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        });
    }

    /// A pcap file; records are (seconds, fraction, data, original length).
    fn pcap(big: bool, nanos: bool, linktype: u32, records: &[(u32, u32, &[u8], u32)]) -> Vec<u8> {
        let mut out = Vec::new();
        put32(&mut out, big, if nanos { 0xA1B2_3C4D } else { 0xA1B2_C3D4 });
        put16(&mut out, big, 2);
        put16(&mut out, big, 4);
        put64(&mut out, big, 0);
        put32(&mut out, big, 65_535);
        put32(&mut out, big, linktype);
        for &(secs, frac, data, orig) in records {
            put32(&mut out, big, secs);
            put32(&mut out, big, frac);
            put32(&mut out, big, data.len() as u32);
            put32(&mut out, big, orig);
            out.extend_from_slice(data);
        }
        out
    }

    /// A pcapng writer, one block at a time, in the byte order of the current section.
    struct Ng {
        big: bool,
        out: Vec<u8>,
    }

    impl Ng {
        fn new(big: bool) -> Ng {
            let mut ng = Ng {
                big,
                out: Vec::new(),
            };
            ng.section(big);
            ng
        }

        fn block(&mut self, block_type: u32, body: &[u8]) -> &mut Ng {
            let padded = body.len().div_ceil(4) * 4;
            let total = (12 + padded) as u32;
            put32(&mut self.out, self.big, block_type);
            put32(&mut self.out, self.big, total);
            self.out.extend_from_slice(body);
            self.out.resize(self.out.len() + padded - body.len(), 0);
            put32(&mut self.out, self.big, total);
            self
        }

        fn section(&mut self, big: bool) -> &mut Ng {
            self.big = big;
            let mut body = Vec::new();
            put32(&mut body, big, BYTE_ORDER_MAGIC);
            put16(&mut body, big, 1);
            put16(&mut body, big, 0);
            put64(&mut body, big, u64::MAX);
            self.block(SHB, &body)
        }

        fn interface(&mut self, linktype: u16, snaplen: u32, options: &[(u16, &[u8])]) -> &mut Ng {
            let big = self.big;
            let mut body = Vec::new();
            put16(&mut body, big, linktype);
            put16(&mut body, big, 0);
            put32(&mut body, big, snaplen);
            for &(code, value) in options {
                put16(&mut body, big, code);
                put16(&mut body, big, value.len() as u16);
                body.extend_from_slice(value);
                body.resize(body.len().div_ceil(4) * 4, 0);
            }
            if !options.is_empty() {
                put32(&mut body, big, 0);
            }
            self.block(IDB, &body)
        }

        fn enhanced(&mut self, interface: u32, ticks: u64, data: &[u8], orig: u32) -> &mut Ng {
            let big = self.big;
            let mut body = Vec::new();
            put32(&mut body, big, interface);
            put32(&mut body, big, (ticks >> 32) as u32);
            put32(&mut body, big, ticks as u32);
            put32(&mut body, big, data.len() as u32);
            put32(&mut body, big, orig);
            body.extend_from_slice(data);
            self.block(ENHANCED_BLOCK, &body)
        }

        fn obsolete(&mut self, interface: u16, ticks: u64, data: &[u8]) -> &mut Ng {
            let big = self.big;
            let mut body = Vec::new();
            put16(&mut body, big, interface);
            put16(&mut body, big, 0);
            put32(&mut body, big, (ticks >> 32) as u32);
            put32(&mut body, big, ticks as u32);
            put32(&mut body, big, data.len() as u32);
            put32(&mut body, big, data.len() as u32);
            body.extend_from_slice(data);
            self.block(PACKET_BLOCK, &body)
        }

        fn simple(&mut self, data: &[u8], orig: u32) -> &mut Ng {
            let mut body = Vec::new();
            put32(&mut body, self.big, orig);
            body.extend_from_slice(data);
            self.block(SIMPLE_BLOCK, &body)
        }
    }

    /// Reads in memory and streamed, checks they agree, and returns the outcome.
    fn read_both(bytes: &[u8]) -> (Vec<Owned>, Option<DecodeError>) {
        let slice = from_slice(bytes);
        assert_eq!(from_reader(trickle(bytes, 7)), slice);
        assert_eq!(from_reader(bytes), slice);
        slice
    }

    fn packet(timestamp: Timestamp, linktype: u32, data: &[u8], orig: u32) -> Owned {
        (timestamp, linktype, data.to_vec(), orig)
    }

    #[test]
    fn pcap_in_both_byte_orders_and_resolutions() {
        let records: &[(u32, u32, &[u8], u32)] = &[
            (1_700_000_000, 123_456, b"abc", 60),
            (1_700_000_001, 999_999, b"", 0),
        ];
        for big in [false, true] {
            let micros = read_both(&pcap(big, false, 228, records));
            assert_eq!(
                micros,
                (
                    vec![
                        packet(ts(1_700_000_000, 123_456_000), 228, b"abc", 60),
                        packet(ts(1_700_000_001, 999_999_000), 228, b"", 0),
                    ],
                    None
                )
            );
            let nanos = read_both(&pcap(big, true, 1, records));
            assert_eq!(nanos.0[0].0, ts(1_700_000_000, 123_456));
            assert_eq!(nanos.0[1].0, ts(1_700_000_001, 999_999));
        }
    }

    #[test]
    fn pcap_timestamps_saturate() {
        let got = read_both(&pcap(false, false, 1, &[(u32::MAX, u32::MAX, b"x", 1)]));
        let expected = u64::from(u32::MAX) * 1_000_000_000 + u64::from(u32::MAX) * 1_000;
        assert_eq!(got.0[0].0, Timestamp::from_nanos(expected));
    }

    #[test]
    fn pcapng_in_both_byte_orders() {
        for big in [false, true] {
            let mut ng = Ng::new(big);
            ng.interface(1, 0, &[])
                .enhanced(0, 1_700_000_000_123_456, b"frame", 1514)
                .obsolete(0, 1_700_000_001_000_000, b"old")
                .simple(b"simple", 6);
            let got = read_both(&ng.out);
            assert_eq!(
                got,
                (
                    vec![
                        packet(ts(1_700_000_000, 123_456_000), 1, b"frame", 1514),
                        packet(ts(1_700_000_001, 0), 1, b"old", 3),
                        packet(Timestamp::EPOCH, 1, b"simple", 6),
                    ],
                    None
                ),
                "big endian: {big}"
            );
        }
    }

    #[test]
    fn pcapng_timestamp_resolutions_and_offset() {
        let mut ng = Ng::new(false);
        ng.interface(1, 0, &[(IF_TSRESOL, &[9])])
            .interface(101, 0, &[(IF_TSRESOL, &[0x80 | 10])])
            .interface(
                1,
                0,
                &[(IF_TSRESOL, &[3]), (IF_TSOFFSET, &1_000u64.to_le_bytes())],
            )
            .interface(1, 0, &[(IF_TSRESOL, &[12])])
            .interface(1, 0, &[(IF_TSOFFSET, &(-5i64).to_le_bytes())])
            .interface(1, 0, &[(IF_TSRESOL, &[0x80 | 127])])
            .interface(1, 0, &[(IF_TSRESOL, &[0])])
            .enhanced(0, 1_700_000_000_123_456_789, b"ns", 2)
            // 1024 ticks a second: 1.5 s and a 1/1024 s.
            .enhanced(1, 1536 + 1, b"2^-10", 5)
            .enhanced(2, 1_500, b"ms+1000s", 8)
            .enhanced(3, 2_000_000_000_000_123, b"ps", 2)
            .enhanced(4, 3_000_000, b"before epoch", 12)
            .enhanced(5, u64::MAX, b"2^-127", 6)
            .enhanced(6, u64::MAX, b"seconds", 7);
        let (got, err) = read_both(&ng.out);
        assert_eq!(err, None);
        let times: Vec<Timestamp> = got.iter().map(|p| p.0).collect();
        assert_eq!(
            times,
            [
                ts(1_700_000_000, 123_456_789),
                ts(1, 500_000_000 + 976_562),
                ts(1_001, 500_000_000),
                ts(2_000, 0),
                Timestamp::EPOCH,
                Timestamp::from_nanos(0),
                Timestamp::from_nanos(u64::MAX),
            ]
        );
        assert_eq!(got[1].1, 101);
    }

    #[test]
    fn scale_covers_every_tsresol() {
        for r in 0..=255u8 {
            for ticks in [0, 1, 1_000, u64::MAX] {
                let _ = Scale::from_tsresol(r).nanos(ticks);
            }
        }
        assert_eq!(Scale::from_tsresol(6), Scale::MICROS);
        // u64::MAX ticks of 10^-28 s are 1.8 ns; of 10^-29 s, less than one.
        assert_eq!(Scale::from_tsresol(28).nanos(u64::MAX), 1);
        assert_eq!(Scale::from_tsresol(29).nanos(u64::MAX), 0);
        assert_eq!(Scale::from_tsresol(0x80).nanos(3), 3_000_000_000);
        assert_eq!(Scale::from_tsresol(0x80 | 30).nanos(1 << 30), 1_000_000_000);
    }

    #[test]
    fn unknown_blocks_are_skipped() {
        let mut ng = Ng::new(true);
        ng.block(0x0BAD_F00D, b"whatever this is")
            .interface(1, 0, &[])
            .block(4, b"name resolution")
            .block(5, &[0; 20])
            .block(0x0000_0BAD, &[])
            .enhanced(0, 7, b"p", 1)
            .block(10, b"decryption secrets");
        assert_eq!(
            read_both(&ng.out),
            (vec![packet(ts(0, 7_000), 1, b"p", 1)], None)
        );
    }

    #[test]
    fn new_section_resets_interfaces_and_byte_order() {
        let mut ng = Ng::new(false);
        ng.interface(1, 0, &[])
            .enhanced(0, 1, b"a", 1)
            .section(true)
            .interface(276, 0, &[(IF_TSRESOL, &[9])])
            .enhanced(0, 2, b"b", 1);
        let (got, err) = read_both(&ng.out);
        assert_eq!(err, None);
        assert_eq!(
            got,
            [
                packet(ts(0, 1_000), 1, b"a", 1),
                packet(ts(0, 2), 276, b"b", 1)
            ]
        );

        // Interface 1 belonged to the first section only.
        ng.section(false)
            .interface(1, 0, &[])
            .enhanced(1, 3, b"c", 1);
        let (got, err) = read_both(&ng.out);
        assert_eq!(got.len(), 2);
        assert_eq!(err, Some(DecodeError::Malformed("pcapng interface id")));
    }

    #[test]
    fn packet_before_any_interface_is_malformed() {
        let mut ng = Ng::new(false);
        ng.enhanced(0, 1, b"a", 1);
        assert_eq!(
            read_both(&ng.out),
            (vec![], Some(DecodeError::Malformed("pcapng interface id")))
        );
        let mut ng = Ng::new(false);
        ng.simple(b"a", 1);
        assert_eq!(
            read_both(&ng.out),
            (vec![], Some(DecodeError::Malformed("pcapng interface id")))
        );
    }

    #[test]
    fn simple_packet_is_cut_to_snaplen_and_block() {
        let mut ng = Ng::new(false);
        ng.interface(1, 4, &[]).simple(b"abcdefgh", 100);
        ng.section(false).interface(1, 0, &[]).simple(b"abc", 100);
        let (got, err) = read_both(&ng.out);
        assert_eq!(err, None);
        // Padding to 32 bits lets the second one read one byte of padding: the spec's formula.
        assert_eq!(
            got,
            [
                packet(Timestamp::EPOCH, 1, b"abcd", 100),
                packet(Timestamp::EPOCH, 1, b"abc\0", 100)
            ]
        );
    }

    #[test]
    fn too_many_interfaces_are_malformed() {
        let mut ng = Ng::new(false);
        for _ in 0..MAX_INTERFACES {
            ng.interface(1, 0, &[]);
        }
        ng.enhanced(MAX_INTERFACES as u32 - 1, 1, b"last", 4);
        assert_eq!(read_both(&ng.out).0.len(), 1);
        ng.interface(1, 0, &[]);
        let (got, err) = read_both(&ng.out);
        assert_eq!(got.len(), 1);
        assert_eq!(err, Some(DecodeError::Malformed("pcapng interface count")));
    }

    fn with_block_length(total: u32, trailer: u32) -> Vec<u8> {
        let mut ng = Ng::new(false);
        ng.interface(1, 0, &[]);
        put32(&mut ng.out, false, ENHANCED_BLOCK);
        put32(&mut ng.out, false, total);
        ng.out.resize(
            ng.out.len() + (total as usize).saturating_sub(12).min(64),
            0,
        );
        put32(&mut ng.out, false, trailer);
        ng.out
    }

    #[test]
    fn impossible_block_lengths_are_malformed() {
        let bad_length = Some(DecodeError::Malformed("pcapng block length"));
        for total in [0, 8, 14, 33, MAX_BLOCK as u32 + 4, u32::MAX - 3] {
            assert_eq!(
                read_both(&with_block_length(total, total)).1,
                bad_length,
                "{total}"
            );
        }
        let mismatch = Some(DecodeError::Malformed("pcapng block trailing length"));
        assert_eq!(read_both(&with_block_length(36, 40)).1, mismatch);

        // A captured length that runs past the block.
        let mut ng = Ng::new(false);
        ng.interface(1, 0, &[]).enhanced(0, 1, b"abcd", 4);
        // The captured length is the fourth word from the end: trailer, data, original length.
        let at = ng.out.len() - 16;
        ng.out[at..at + 4].copy_from_slice(&5u32.to_le_bytes());
        assert_eq!(
            read_both(&ng.out).1,
            Some(DecodeError::Malformed("pcapng captured length"))
        );

        // An option that runs past the block.
        let mut ng = Ng::new(false);
        ng.interface(1, 0, &[(IF_TSRESOL, &[9])]);
        // The option's length: before its padded value, the end-of-options and the trailer.
        let at = ng.out.len() - 14;
        ng.out[at..at + 2].copy_from_slice(&200u16.to_le_bytes());
        assert_eq!(
            read_both(&ng.out).1,
            Some(DecodeError::Malformed("pcapng option length"))
        );
    }

    #[test]
    fn bad_section_headers_are_malformed() {
        let mut bad_order = Ng::new(false).out;
        bad_order[8] = 0x4E;
        assert_eq!(
            read_both(&bad_order).1,
            Some(DecodeError::Malformed("pcapng byte-order magic"))
        );
        let mut version_two = Ng::new(false).out;
        version_two[12] = 2;
        assert_eq!(
            read_both(&version_two).1,
            Some(DecodeError::Malformed("pcapng version"))
        );
        let mut short = Ng::new(false).out;
        short[4] = 24;
        assert_eq!(
            read_both(&short).1,
            Some(DecodeError::Malformed("pcapng section header length"))
        );
    }

    #[test]
    fn oversized_pcap_record_is_malformed_and_the_largest_reads() {
        let big = vec![0xAB; MAX_RECORD];
        let file = pcap(
            false,
            false,
            1,
            &[
                (1, 0, b"small", 5),
                (2, 0, &big, 1_000_000),
                (3, 0, b"x", 1),
            ],
        );
        let (got, err) = read_both(&file);
        assert_eq!(err, None);
        assert_eq!(got.len(), 3);
        assert_eq!(got[1].2.len(), MAX_RECORD);

        let mut file = pcap(true, false, 1, &[(1, 0, b"small", 5)]);
        put32(&mut file, true, 2);
        put32(&mut file, true, 0);
        put32(&mut file, true, MAX_RECORD as u32 + 1);
        put32(&mut file, true, MAX_RECORD as u32 + 1);
        let (got, err) = read_both(&file);
        assert_eq!(got.len(), 1);
        assert_eq!(err, Some(DecodeError::Malformed("pcap record length")));
    }

    #[test]
    fn large_pcapng_block_grows_the_reader_buffer() {
        let data = vec![7u8; 200_000];
        let mut ng = Ng::new(true);
        ng.interface(1, 0, &[])
            .enhanced(0, 1, b"a", 1)
            .enhanced(0, 2, &data, 200_000);
        ng.block(99, &vec![0; MAX_BLOCK - 12])
            .enhanced(0, 3, b"b", 1);
        let (got, err) = read_both(&ng.out);
        assert_eq!(err, None);
        assert_eq!(
            got.iter().map(|p| p.2.len()).collect::<Vec<_>>(),
            [1, 200_000, 1]
        );
    }

    #[test]
    fn unknown_magic_is_not_a_capture() {
        let netflow5 = [0, 5, 0, 1, 0, 0, 0, 0];
        assert_eq!(
            packets(&netflow5).err(),
            Some(DecodeError::UnknownCapture(0x0005_0001))
        );
        assert!(matches!(
            CaptureReader::new(&netflow5[..]),
            Err(CaptureReadError::Decode(DecodeError::UnknownCapture(
                0x0005_0001
            )))
        ));
        // Modified ("Kuznetzov") pcap has longer record headers: not ours.
        let modified = 0xA1B2_CD34u32.to_le_bytes();
        assert_eq!(
            packets(&modified).err(),
            Some(DecodeError::UnknownCapture(0x34CD_B2A1))
        );
    }

    #[test]
    fn short_files_are_truncated() {
        assert_eq!(
            packets(&[]).err(),
            Some(DecodeError::Truncated("capture magic number"))
        );
        let file = pcap(false, false, 1, &[]);
        assert_eq!(
            packets(&file[..23]).err(),
            Some(DecodeError::Truncated("pcap file header"))
        );
        assert_eq!(read_both(&file), (vec![], None));
        let ng = Ng::new(false).out;
        assert_eq!(
            packets(&ng[..27]).err(),
            Some(DecodeError::Truncated("pcapng section header block"))
        );
        assert_eq!(read_both(&ng), (vec![], None));
    }

    #[test]
    fn every_prefix_of_hand_built_captures() {
        let file = pcap(
            true,
            true,
            1,
            &[(1, 2, b"abc", 3), (4, 5, b"", 0), (6, 7, b"defgh", 9)],
        );
        let full = read_both(&file).0;
        check_every_prefix(&file, &full);
        let mut ng = Ng::new(true);
        ng.interface(1, 0, &[(IF_TSRESOL, &[9])])
            .enhanced(0, 1, b"abcde", 5)
            .block(77, b"skip me")
            .section(false)
            .interface(276, 0, &[])
            .obsolete(0, 2, b"xy")
            .simple(b"z", 1);
        let full = read_both(&ng.out).0;
        assert_eq!(full.len(), 3);
        check_every_prefix(&ng.out, &full);
    }

    #[test]
    fn parser_asks_for_whole_records() {
        let file = pcap(false, false, 1, &[(1, 0, b"abcdef", 6)]);
        let (mut parser, used) = CaptureParser::new(&file).unwrap().unwrap();
        assert_eq!(used, 24);
        assert_eq!(
            CaptureParser::new(&file[..10]).unwrap().map(|(_, n)| n),
            None
        );
        let rest = &file[used..];
        assert_eq!(
            parser.next(&rest[..0], false),
            Ok(Step::NeedMore { at_least: 16 })
        );
        assert_eq!(parser.next(&rest[..0], true), Ok(Step::End));
        assert_eq!(
            parser.next(&rest[..5], false),
            Ok(Step::NeedMore { at_least: 16 })
        );
        assert_eq!(
            parser.next(&rest[..17], false),
            Ok(Step::NeedMore { at_least: 22 })
        );
        assert_eq!(
            parser.next(&rest[..17], true),
            Err(DecodeError::Truncated("pcap record"))
        );
        let Ok(Step::Packet { packet, consumed }) = parser.next(rest, false) else {
            panic!("no packet");
        };
        assert_eq!((packet.data, consumed), (&b"abcdef"[..], 22));
    }

    #[test]
    fn io_errors_are_passed_on() {
        struct Broken;
        impl Read for Broken {
            fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
                Err(io::Error::other("disk on fire"))
            }
        }
        let err = CaptureReader::new(Broken).unwrap_err();
        assert!(matches!(err, CaptureReadError::Io(_)));
        assert_eq!(err.to_string(), "disk on fire");
        let err = CaptureReadError::from(DecodeError::Truncated("pcap record"));
        assert_eq!(err.to_string(), "truncated pcap record");
    }
}
