//! FlowSpec rules (RFC 8955 for IPv4, RFC 8956 for IPv6): the match components and their
//! operators, the actions carried as extended communities, and the NLRI wire encoding in
//! both directions, so that what we send can be checked by decoding it again.

use crate::community::ExtendedCommunity;
use crate::wire::{code, Reader, WireError};
use rampart_model::Cidr;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// The longest NLRI the two-byte length form can carry (RFC 8955 §4.1).
pub const MAX_NLRI_LEN: usize = 0xfff;

/// IPv4 or IPv6: which FlowSpec family a rule belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum IpVersion {
    V4,
    V6,
}

/// One numeric comparison (RFC 8955 §4.2.1.1): `value` compared with lt/gt/eq bits, joined
/// to the previous comparison by AND (`and`) or OR. `lt && gt && !eq` is "not equal";
/// all three clear is "false", all three set "true".
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NumericOp {
    pub and: bool,
    pub lt: bool,
    pub gt: bool,
    pub eq: bool,
    pub value: u64,
}

impl NumericOp {
    const fn cmp(lt: bool, gt: bool, eq: bool, value: u64) -> Self {
        NumericOp {
            and: false,
            lt,
            gt,
            eq,
            value,
        }
    }

    /// `== value`
    pub const fn eq(value: u64) -> Self {
        Self::cmp(false, false, true, value)
    }
    /// `!= value`
    pub const fn ne(value: u64) -> Self {
        Self::cmp(true, true, false, value)
    }
    /// `>= value`
    pub const fn ge(value: u64) -> Self {
        Self::cmp(false, true, true, value)
    }
    /// `<= value`
    pub const fn le(value: u64) -> Self {
        Self::cmp(true, false, true, value)
    }
    /// `> value`
    pub const fn gt(value: u64) -> Self {
        Self::cmp(false, true, false, value)
    }
    /// `< value`
    pub const fn lt(value: u64) -> Self {
        Self::cmp(true, false, false, value)
    }
    /// This comparison ANDed with the one before it.
    pub const fn and(mut self) -> Self {
        self.and = true;
        self
    }
    /// `lo <= x <= hi`, as two ANDed comparisons.
    pub const fn range(lo: u64, hi: u64) -> [NumericOp; 2] {
        [Self::ge(lo), Self::le(hi).and()]
    }
}

/// One bitmask test (RFC 8955 §4.2.1.2): with `matches`, `(data & value) == value`;
/// without, `(data & value) != 0`; `not` negates the result.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BitmaskOp {
    pub and: bool,
    pub not: bool,
    pub matches: bool,
    pub value: u16,
}

impl BitmaskOp {
    /// Any of `bits` set.
    pub const fn any(bits: u16) -> Self {
        BitmaskOp {
            and: false,
            not: false,
            matches: false,
            value: bits,
        }
    }
    /// All of `bits` set.
    pub const fn all(bits: u16) -> Self {
        BitmaskOp {
            and: false,
            not: false,
            matches: true,
            value: bits,
        }
    }
    /// None of `bits` set.
    pub const fn none(bits: u16) -> Self {
        BitmaskOp {
            and: false,
            not: true,
            matches: false,
            value: bits,
        }
    }
    /// This test ANDed with the one before it.
    pub const fn and(mut self) -> Self {
        self.and = true;
        self
    }
}

/// TCP flag bits for [`Component::TcpFlags`].
pub mod tcp_flags {
    pub const FIN: u16 = 0x01;
    pub const SYN: u16 = 0x02;
    pub const RST: u16 = 0x04;
    pub const PSH: u16 = 0x08;
    pub const ACK: u16 = 0x10;
    pub const URG: u16 = 0x20;
    pub const ECE: u16 = 0x40;
    pub const CWR: u16 = 0x80;
}

/// Fragment bits for [`Component::Fragment`] (RFC 8955 §4.2.2.12).
pub mod fragment {
    /// Don't Fragment (IPv4 only).
    pub const DONT_FRAGMENT: u16 = 0x01;
    pub const IS_FRAGMENT: u16 = 0x02;
    pub const FIRST_FRAGMENT: u16 = 0x04;
    pub const LAST_FRAGMENT: u16 = 0x08;
}

/// A prefix to match. IPv6 rules may skip the first `offset` bits (RFC 8956 §3.1); those
/// bits are kept zero so that equal rules compare equal.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FlowPrefix {
    prefix: Cidr,
    offset: u8,
}

impl FlowPrefix {
    /// A whole prefix (offset 0).
    pub fn new(prefix: Cidr) -> Self {
        FlowPrefix { prefix, offset: 0 }
    }

    /// An IPv6 pattern of bits `offset..len`. `None` for IPv4 with an offset, or an offset
    /// past the length.
    pub fn with_offset(prefix: Cidr, offset: u8) -> Option<Self> {
        if offset > prefix.prefix_len() || (offset > 0 && prefix.addr().is_ipv4()) {
            return None;
        }
        let IpAddr::V6(a) = prefix.addr() else {
            return Some(FlowPrefix::new(prefix));
        };
        let kept = u128::from(a) & u128::MAX.checked_shr(u32::from(offset)).unwrap_or(0);
        let prefix = Cidr::new(IpAddr::V6(Ipv6Addr::from(kept)), prefix.prefix_len())?;
        Some(FlowPrefix { prefix, offset })
    }

    pub fn prefix(&self) -> Cidr {
        self.prefix
    }

    pub fn offset(&self) -> u8 {
        self.offset
    }
}

/// A match component. Types 1..=13 of RFC 8955/8956, in that order on the wire.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Component {
    DestinationPrefix(FlowPrefix),
    SourcePrefix(FlowPrefix),
    /// IPv4 protocol or IPv6 upper-layer next header.
    IpProtocol(Vec<NumericOp>),
    /// Source or destination port.
    Port(Vec<NumericOp>),
    DestinationPort(Vec<NumericOp>),
    SourcePort(Vec<NumericOp>),
    IcmpType(Vec<NumericOp>),
    IcmpCode(Vec<NumericOp>),
    TcpFlags(Vec<BitmaskOp>),
    /// Total IP packet length (IPv4) or payload length (IPv6, RFC 8956).
    PacketLength(Vec<NumericOp>),
    Dscp(Vec<NumericOp>),
    Fragment(Vec<BitmaskOp>),
    /// IPv6 only (RFC 8956 type 13).
    FlowLabel(Vec<NumericOp>),
}

impl Component {
    /// The component type code.
    pub fn type_code(&self) -> u8 {
        match self {
            Component::DestinationPrefix(_) => 1,
            Component::SourcePrefix(_) => 2,
            Component::IpProtocol(_) => 3,
            Component::Port(_) => 4,
            Component::DestinationPort(_) => 5,
            Component::SourcePort(_) => 6,
            Component::IcmpType(_) => 7,
            Component::IcmpCode(_) => 8,
            Component::TcpFlags(_) => 9,
            Component::PacketLength(_) => 10,
            Component::Dscp(_) => 11,
            Component::Fragment(_) => 12,
            Component::FlowLabel(_) => 13,
        }
    }

    /// What the component matches on: one prefix, or a list of numeric or bitmask operators.
    pub fn operand(&self) -> Operand<'_> {
        match self {
            Component::DestinationPrefix(p) | Component::SourcePrefix(p) => Operand::Prefix(p),
            Component::TcpFlags(ops) | Component::Fragment(ops) => Operand::Bitmask(ops),
            Component::IpProtocol(ops)
            | Component::Port(ops)
            | Component::DestinationPort(ops)
            | Component::SourcePort(ops)
            | Component::IcmpType(ops)
            | Component::IcmpCode(ops)
            | Component::PacketLength(ops)
            | Component::Dscp(ops)
            | Component::FlowLabel(ops) => Operand::Numeric(ops),
        }
    }

    /// The largest value that makes sense for this component, for validation.
    fn max_value(&self) -> u64 {
        match self {
            Component::IpProtocol(_) | Component::IcmpType(_) | Component::IcmpCode(_) => 0xff,
            Component::Port(_)
            | Component::DestinationPort(_)
            | Component::SourcePort(_)
            | Component::PacketLength(_) => 0xffff,
            Component::Dscp(_) => 0x3f,
            Component::FlowLabel(_) => 0xf_ffff,
            Component::TcpFlags(_) => 0xffff,
            Component::Fragment(_) => 0xff,
            Component::DestinationPrefix(_) | Component::SourcePrefix(_) => 0,
        }
    }
}

/// A component's operand, for code that treats all numeric (or bitmask) types alike.
#[derive(Clone, Copy, Debug)]
pub enum Operand<'a> {
    Prefix(&'a FlowPrefix),
    Numeric(&'a [NumericOp]),
    Bitmask(&'a [BitmaskOp]),
}

impl Operand<'_> {
    /// Each operator's AND bit and value (nothing for a prefix).
    fn values(&self) -> Vec<(bool, u64)> {
        match self {
            Operand::Prefix(_) => Vec::new(),
            Operand::Numeric(ops) => ops.iter().map(|o| (o.and, o.value)).collect(),
            Operand::Bitmask(ops) => ops.iter().map(|o| (o.and, u64::from(o.value))).collect(),
        }
    }
}

/// Why a FlowSpec rule cannot be announced.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RuleError {
    #[error("a FlowSpec rule needs at least one component")]
    Empty,
    #[error("component type {0} appears twice")]
    Duplicate(u8),
    #[error("component type {0} has no operators")]
    NoOperators(u8),
    #[error("component type {0}: the first operator cannot be ANDed with nothing")]
    LeadingAnd(u8),
    #[error("component type {kind}: value {value} is out of range")]
    ValueOutOfRange { kind: u8, value: u64 },
    #[error("prefix {0} is not of the rule's address family")]
    WrongFamily(Cidr),
    #[error("flow label (type 13) exists only in IPv6 rules")]
    FlowLabelInIpv4,
    #[error("rule encodes to {0} bytes, more than the 4095 an NLRI can hold")]
    TooLong(usize),
}

/// A FlowSpec match: components of one address family, kept in type order.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FlowSpecRule {
    version: IpVersion,
    components: Vec<Component>,
}

impl FlowSpecRule {
    /// A rule from components in any order; they are sorted by type as the RFC requires.
    /// Check it with [`FlowSpecRule::validate`] before announcing.
    pub fn new(version: IpVersion, mut components: Vec<Component>) -> Self {
        components.sort_by_key(Component::type_code);
        FlowSpecRule {
            version,
            components,
        }
    }

    pub fn version(&self) -> IpVersion {
        self.version
    }

    pub fn components(&self) -> &[Component] {
        &self.components
    }

    /// Everything a peer would refuse, found before we send it.
    pub fn validate(&self) -> Result<(), RuleError> {
        if self.components.is_empty() {
            return Err(RuleError::Empty);
        }
        let mut last = 0;
        for c in &self.components {
            let kind = c.type_code();
            if kind == last {
                return Err(RuleError::Duplicate(kind));
            }
            last = kind;
            if let Component::FlowLabel(_) = c {
                if self.version == IpVersion::V4 {
                    return Err(RuleError::FlowLabelInIpv4);
                }
            }
            match c.operand() {
                Operand::Prefix(p) => {
                    let v6 = p.prefix.addr().is_ipv6();
                    if v6 != (self.version == IpVersion::V6) {
                        return Err(RuleError::WrongFamily(p.prefix));
                    }
                }
                ops => check_ops(kind, &ops.values(), c.max_value())?,
            }
        }
        let len = self.encoded_len();
        if len > MAX_NLRI_LEN {
            return Err(RuleError::TooLong(len));
        }
        Ok(())
    }

    /// The length of the NLRI body (without its length prefix).
    fn encoded_len(&self) -> usize {
        let mut scratch = Vec::new();
        self.encode_body(&mut scratch);
        scratch.len()
    }

    /// Appends the NLRI: its length (one byte below 240, else two) and the components.
    /// A rule longer than [`MAX_NLRI_LEN`] is cut to an empty NLRI; `validate` refuses those.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let start = out.len();
        out.push(0);
        self.encode_body(out);
        let len = out.len() - start - 1;
        if len < 240 {
            out[start] = len as u8;
        } else if len <= MAX_NLRI_LEN {
            out.insert(start + 1, len as u8);
            out[start] = 0xf0 | (len >> 8) as u8;
        } else {
            out.truncate(start);
            out.push(0);
        }
    }

    /// The encoded NLRI's length including the length prefix.
    pub fn nlri_len(&self) -> usize {
        let len = self.encoded_len();
        if len < 240 {
            len + 1
        } else {
            len + 2
        }
    }

    fn encode_body(&self, out: &mut Vec<u8>) {
        for c in &self.components {
            out.push(c.type_code());
            match c.operand() {
                Operand::Prefix(p) => encode_prefix(p, out),
                Operand::Bitmask(ops) => {
                    for (i, op) in ops.iter().enumerate() {
                        let bits = u8::from(op.not) << 1 | u8::from(op.matches);
                        let value = u64::from(op.value);
                        put_op(out, i + 1 == ops.len(), op.and, bits, value);
                    }
                }
                Operand::Numeric(ops) => {
                    for (i, op) in ops.iter().enumerate() {
                        let bits = u8::from(op.lt) << 2 | u8::from(op.gt) << 1 | u8::from(op.eq);
                        put_op(out, i + 1 == ops.len(), op.and, bits, op.value);
                    }
                }
            }
        }
    }

    /// Decodes one NLRI (length prefix included) from the start of `bytes`; returns the
    /// rule and how many bytes it took.
    pub fn decode_nlri(version: IpVersion, bytes: &[u8]) -> Result<(Self, usize), WireError> {
        let mut r = Reader::new(bytes);
        let rule = Self::decode(version, &mut r)?;
        Ok((rule, bytes.len() - r.rest().len()))
    }

    /// Reads one NLRI (length prefix included) from `r`.
    pub(crate) fn decode(version: IpVersion, r: &mut Reader<'_>) -> Result<Self, WireError> {
        let first = r.u8(bad_nlri("truncated FlowSpec NLRI length"))?;
        let len = if first >= 0xf0 {
            (usize::from(first & 0x0f) << 8)
                | usize::from(r.u8(bad_nlri("truncated FlowSpec NLRI length"))?)
        } else {
            usize::from(first)
        };
        let mut body =
            Reader::new(r.take(len, bad_nlri("FlowSpec NLRI longer than its attribute"))?);
        let mut components = Vec::new();
        let mut last = 0u8;
        while !body.is_empty() {
            let kind = body.u8(bad_nlri("truncated FlowSpec component"))?;
            if kind <= last {
                return Err(bad_nlri("FlowSpec components out of order or repeated"));
            }
            last = kind;
            let c = match kind {
                1 | 2 => {
                    let p = decode_prefix(version, &mut body)?;
                    if kind == 1 {
                        Component::DestinationPrefix(p)
                    } else {
                        Component::SourcePrefix(p)
                    }
                }
                9 => Component::TcpFlags(decode_bitmask_ops(&mut body)?),
                12 => Component::Fragment(decode_bitmask_ops(&mut body)?),
                3..=8 | 10 | 11 => {
                    let ops = decode_numeric_ops(&mut body)?;
                    match kind {
                        3 => Component::IpProtocol(ops),
                        4 => Component::Port(ops),
                        5 => Component::DestinationPort(ops),
                        6 => Component::SourcePort(ops),
                        7 => Component::IcmpType(ops),
                        8 => Component::IcmpCode(ops),
                        10 => Component::PacketLength(ops),
                        _ => Component::Dscp(ops),
                    }
                }
                13 if version == IpVersion::V6 => {
                    Component::FlowLabel(decode_numeric_ops(&mut body)?)
                }
                _ => return Err(bad_nlri("unknown FlowSpec component type")),
            };
            components.push(c);
        }
        Ok(FlowSpecRule {
            version,
            components,
        })
    }
}

/// BIRD-like text, for logs and the API: `flow4 { dst 192.0.2.1/32; proto =17; sport =53; }`.
impl fmt::Display for FlowSpecRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let family = match self.version {
            IpVersion::V4 => "flow4",
            IpVersion::V6 => "flow6",
        };
        write!(f, "{family} {{")?;
        for c in &self.components {
            let name = match c {
                Component::DestinationPrefix(_) => "dst",
                Component::SourcePrefix(_) => "src",
                Component::IpProtocol(_) => "proto",
                Component::Port(_) => "port",
                Component::DestinationPort(_) => "dport",
                Component::SourcePort(_) => "sport",
                Component::IcmpType(_) => "icmp type",
                Component::IcmpCode(_) => "icmp code",
                Component::TcpFlags(_) => "tcp flags",
                Component::PacketLength(_) => "length",
                Component::Dscp(_) => "dscp",
                Component::Fragment(_) => "fragment",
                Component::FlowLabel(_) => "label",
            };
            write!(f, " {name}")?;
            match c.operand() {
                Operand::Prefix(p) => {
                    write!(f, " {}/{}", p.prefix.addr(), p.prefix.prefix_len())?;
                    if p.offset > 0 {
                        write!(f, " offset {}", p.offset)?;
                    }
                }
                Operand::Bitmask(ops) => {
                    for (i, op) in ops.iter().enumerate() {
                        if i > 0 {
                            f.write_str(if op.and { " &&" } else { " ||" })?;
                        }
                        let not = if op.not { "!" } else { "" };
                        let kind = if op.matches { "all" } else { "any" };
                        write!(f, " {not}{kind}(0x{:x})", op.value)?;
                    }
                }
                Operand::Numeric(ops) => {
                    for (i, op) in ops.iter().enumerate() {
                        if i > 0 {
                            f.write_str(if op.and { " &&" } else { " ||" })?;
                        }
                        let cmp = match (op.lt, op.gt, op.eq) {
                            (false, false, false) => "false",
                            (false, false, true) => "=",
                            (false, true, false) => ">",
                            (false, true, true) => ">=",
                            (true, false, false) => "<",
                            (true, false, true) => "<=",
                            (true, true, false) => "!=",
                            (true, true, true) => "true",
                        };
                        write!(f, " {cmp}{}", op.value)?;
                    }
                }
            }
            f.write_str(";")?;
        }
        f.write_str(" }")
    }
}

fn check_ops(kind: u8, ops: &[(bool, u64)], max: u64) -> Result<(), RuleError> {
    match ops.first() {
        None => return Err(RuleError::NoOperators(kind)),
        Some((true, _)) => return Err(RuleError::LeadingAnd(kind)),
        Some(_) => {}
    }
    if let Some(&(_, value)) = ops.iter().find(|(_, v)| *v > max) {
        return Err(RuleError::ValueOutOfRange { kind, value });
    }
    Ok(())
}

/// Appends one operator byte and its value, at the shortest length that holds the value:
/// end-of-list (0x80), AND (0x40), length (0x30), then the type's own low bits.
fn put_op(out: &mut Vec<u8>, last: bool, and: bool, bits: u8, value: u64) {
    let (len_bits, bytes) = match value {
        0..=0xff => (0x00, 1),
        0x100..=0xffff => (0x10, 2),
        0x1_0000..=0xffff_ffff => (0x20, 4),
        _ => (0x30, 8),
    };
    out.push(u8::from(last) << 7 | u8::from(and) << 6 | len_bits | bits);
    out.extend_from_slice(&value.to_be_bytes()[8 - bytes..]);
}

const fn bad_nlri(what: &'static str) -> WireError {
    WireError::new(code::UPDATE_MESSAGE, code::INVALID_NETWORK_FIELD, what)
}

fn encode_prefix(p: &FlowPrefix, out: &mut Vec<u8>) {
    let len = p.prefix.prefix_len();
    match p.prefix.addr() {
        IpAddr::V4(a) => {
            out.push(len);
            out.extend_from_slice(&a.octets()[..usize::from(len).div_ceil(8)]);
        }
        IpAddr::V6(a) => {
            out.extend_from_slice(&[len, p.offset]);
            // The pattern is bits offset..len, left-aligned.
            let pattern = if p.offset >= 128 {
                0
            } else {
                u128::from(a) << p.offset
            };
            let bits = usize::from(len - p.offset.min(len));
            out.extend_from_slice(&pattern.to_be_bytes()[..bits.div_ceil(8)]);
        }
    }
}

fn decode_prefix(version: IpVersion, r: &mut Reader<'_>) -> Result<FlowPrefix, WireError> {
    let truncated = bad_nlri("truncated FlowSpec prefix");
    let len = r.u8(truncated)?;
    match version {
        IpVersion::V4 => {
            if len > 32 {
                return Err(bad_nlri("FlowSpec IPv4 prefix longer than 32 bits"));
            }
            let bytes = r.take(usize::from(len).div_ceil(8), truncated)?;
            let mut octets = [0u8; 4];
            octets[..bytes.len()].copy_from_slice(bytes);
            let cidr = Cidr::new(IpAddr::V4(Ipv4Addr::from(octets)), len)
                .ok_or(bad_nlri("FlowSpec IPv4 prefix longer than 32 bits"))?;
            Ok(FlowPrefix::new(cidr))
        }
        IpVersion::V6 => {
            let offset = r.u8(truncated)?;
            if len > 128 || offset > len {
                return Err(bad_nlri(
                    "FlowSpec IPv6 prefix length or offset out of range",
                ));
            }
            let bits = usize::from(len - offset);
            let bytes = r.take(bits.div_ceil(8), truncated)?;
            let mut octets = [0u8; 16];
            octets[..bytes.len()].copy_from_slice(bytes);
            let pattern = u128::from_be_bytes(octets);
            let addr = if offset >= 128 { 0 } else { pattern >> offset };
            let cidr = Cidr::new(IpAddr::V6(Ipv6Addr::from(addr)), len)
                .ok_or(bad_nlri("FlowSpec IPv6 prefix longer than 128 bits"))?;
            FlowPrefix::with_offset(cidr, offset).ok_or(bad_nlri(
                "FlowSpec IPv6 prefix length or offset out of range",
            ))
        }
    }
}

/// Reads operator/value pairs up to the one with the end-of-list bit.
fn decode_ops(r: &mut Reader<'_>) -> Result<Vec<(u8, u64)>, WireError> {
    let truncated = bad_nlri("FlowSpec operator list without its end bit");
    let mut ops = Vec::new();
    loop {
        let op = r.u8(truncated)?;
        let bytes = 1usize << ((op >> 4) & 0x03);
        let v = r.take(bytes, truncated)?;
        let mut wide = [0u8; 8];
        wide[8 - bytes..].copy_from_slice(v);
        ops.push((op, u64::from_be_bytes(wide)));
        if op & 0x80 != 0 {
            return Ok(ops);
        }
    }
}

fn decode_numeric_ops(r: &mut Reader<'_>) -> Result<Vec<NumericOp>, WireError> {
    Ok(decode_ops(r)?
        .into_iter()
        .map(|(op, value)| NumericOp {
            and: op & 0x40 != 0,
            lt: op & 0x04 != 0,
            gt: op & 0x02 != 0,
            eq: op & 0x01 != 0,
            value,
        })
        .collect())
}

fn decode_bitmask_ops(r: &mut Reader<'_>) -> Result<Vec<BitmaskOp>, WireError> {
    decode_ops(r)?
        .into_iter()
        .map(|(op, value)| {
            Ok(BitmaskOp {
                and: op & 0x40 != 0,
                not: op & 0x02 != 0,
                matches: op & 0x01 != 0,
                value: u16::try_from(value)
                    .map_err(|_| bad_nlri("FlowSpec bitmask value wider than two bytes"))?,
            })
        })
        .collect()
}

/// What to do with matching traffic (RFC 8955 §7), carried as extended communities.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum FlowAction {
    /// Rate limit in bytes per second (type 0x8006); 0.0 discards.
    TrafficRateBytes { asn: u16, bytes_per_s: f32 },
    /// Rate limit in packets per second (type 0x800c).
    TrafficRatePackets { asn: u16, packets_per_s: f32 },
    /// Sample (log) and terminal-action bits (type 0x8007).
    TrafficAction { sample: bool, terminal: bool },
    /// Redirect to the VRF with route target `asn:value`, 2-octet AS (type 0x8008).
    RedirectAs2 { asn: u16, value: u32 },
    /// Redirect to the VRF with route target `addr:value` (type 0x8108).
    RedirectIpv4 { addr: Ipv4Addr, value: u16 },
    /// Redirect to the VRF with route target `asn:value`, 4-octet AS (type 0x8208).
    RedirectAs4 { asn: u32, value: u16 },
    /// Rewrite the DSCP field (type 0x8009).
    TrafficMarking { dscp: u8 },
}

impl FlowAction {
    /// Drop everything that matches: traffic-rate 0.
    pub const DISCARD: FlowAction = FlowAction::TrafficRateBytes {
        asn: 0,
        bytes_per_s: 0.0,
    };

    /// Let at most `bytes_per_s` through.
    pub const fn rate_limit(bytes_per_s: f32) -> Self {
        FlowAction::TrafficRateBytes {
            asn: 0,
            bytes_per_s,
        }
    }

    /// A rate that is negative, infinite or NaN cannot be meant; a DSCP has six bits.
    pub fn is_valid(&self) -> bool {
        match *self {
            FlowAction::TrafficRateBytes { bytes_per_s: r, .. }
            | FlowAction::TrafficRatePackets {
                packets_per_s: r, ..
            } => r.is_finite() && r >= 0.0,
            FlowAction::TrafficMarking { dscp } => dscp <= 0x3f,
            _ => true,
        }
    }

    pub fn to_extended(&self) -> ExtendedCommunity {
        let mut b = [0u8; 8];
        match *self {
            FlowAction::TrafficRateBytes { asn, bytes_per_s } => {
                b[..2].copy_from_slice(&[0x80, 0x06]);
                b[2..4].copy_from_slice(&asn.to_be_bytes());
                b[4..].copy_from_slice(&bytes_per_s.to_be_bytes());
            }
            FlowAction::TrafficRatePackets { asn, packets_per_s } => {
                b[..2].copy_from_slice(&[0x80, 0x0c]);
                b[2..4].copy_from_slice(&asn.to_be_bytes());
                b[4..].copy_from_slice(&packets_per_s.to_be_bytes());
            }
            FlowAction::TrafficAction { sample, terminal } => {
                b[..2].copy_from_slice(&[0x80, 0x07]);
                b[7] = u8::from(sample) << 1 | u8::from(terminal);
            }
            FlowAction::RedirectAs2 { asn, value } => {
                b[..2].copy_from_slice(&[0x80, 0x08]);
                b[2..4].copy_from_slice(&asn.to_be_bytes());
                b[4..].copy_from_slice(&value.to_be_bytes());
            }
            FlowAction::RedirectIpv4 { addr, value } => {
                b[..2].copy_from_slice(&[0x81, 0x08]);
                b[2..6].copy_from_slice(&addr.octets());
                b[6..].copy_from_slice(&value.to_be_bytes());
            }
            FlowAction::RedirectAs4 { asn, value } => {
                b[..2].copy_from_slice(&[0x82, 0x08]);
                b[2..6].copy_from_slice(&asn.to_be_bytes());
                b[6..].copy_from_slice(&value.to_be_bytes());
            }
            FlowAction::TrafficMarking { dscp } => {
                b[..2].copy_from_slice(&[0x80, 0x09]);
                b[7] = dscp & 0x3f;
            }
        }
        ExtendedCommunity(b)
    }

    /// The action an extended community stands for, if it is one of ours.
    pub fn from_extended(c: &ExtendedCommunity) -> Option<Self> {
        let b = &c.0;
        let u16_at = |i: usize| u16::from_be_bytes([b[i], b[i + 1]]);
        let u32_at = |i: usize| u32::from_be_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
        Some(match (b[0], b[1]) {
            (0x80, 0x06) => FlowAction::TrafficRateBytes {
                asn: u16_at(2),
                bytes_per_s: f32::from_bits(u32_at(4)),
            },
            (0x80, 0x0c) => FlowAction::TrafficRatePackets {
                asn: u16_at(2),
                packets_per_s: f32::from_bits(u32_at(4)),
            },
            (0x80, 0x07) => FlowAction::TrafficAction {
                sample: b[7] & 0x02 != 0,
                terminal: b[7] & 0x01 != 0,
            },
            (0x80, 0x08) => FlowAction::RedirectAs2 {
                asn: u16_at(2),
                value: u32_at(4),
            },
            (0x81, 0x08) => FlowAction::RedirectIpv4 {
                addr: Ipv4Addr::new(b[2], b[3], b[4], b[5]),
                value: u16_at(6),
            },
            (0x82, 0x08) => FlowAction::RedirectAs4 {
                asn: u32_at(2),
                value: u16_at(6),
            },
            (0x80, 0x09) => FlowAction::TrafficMarking { dscp: b[7] & 0x3f },
            _ => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cidr(s: &str) -> Cidr {
        s.parse().unwrap()
    }

    fn encoded(rule: &FlowSpecRule) -> Vec<u8> {
        let mut v = Vec::new();
        rule.encode(&mut v);
        let back = FlowSpecRule::decode(rule.version, &mut Reader::new(&v)).unwrap();
        assert_eq!(&back, rule);
        v
    }

    #[test]
    fn rfc8955_example_1() {
        // RFC 8955 §4.3 example 1: packets to 192.0.2.0/24 and TCP port 25.
        let rule = FlowSpecRule::new(
            IpVersion::V4,
            vec![
                Component::Port(vec![NumericOp::eq(25)]),
                Component::IpProtocol(vec![NumericOp::eq(6)]),
                Component::DestinationPrefix(FlowPrefix::new(cidr("192.0.2.0/24"))),
            ],
        );
        rule.validate().unwrap();
        assert_eq!(
            encoded(&rule),
            [0x0b, 0x01, 0x18, 0xc0, 0x00, 0x02, 0x03, 0x81, 0x06, 0x04, 0x81, 0x19]
        );
    }

    #[test]
    fn rfc8955_example_2() {
        // RFC 8955 §4.3 example 2: to 192.0.2.0/24 from 203.0.113.0/24, port {137, 139, 8080}.
        let rule = FlowSpecRule::new(
            IpVersion::V4,
            vec![
                Component::DestinationPrefix(FlowPrefix::new(cidr("192.0.2.0/24"))),
                Component::SourcePrefix(FlowPrefix::new(cidr("203.0.113.0/24"))),
                Component::Port(vec![
                    NumericOp::eq(137),
                    NumericOp::eq(139),
                    NumericOp::eq(8080),
                ]),
            ],
        );
        assert_eq!(
            encoded(&rule),
            [
                0x12, 0x01, 0x18, 0xc0, 0x00, 0x02, 0x02, 0x18, 0xcb, 0x00, 0x71, 0x04, 0x01, 0x89,
                0x01, 0x8b, 0x91, 0x1f, 0x90
            ]
        );
    }

    #[test]
    fn host_and_fragments() {
        // Hand-derived: to 192.0.2.1/32, is-fragment OR last-fragment, both match bits.
        let rule = FlowSpecRule::new(
            IpVersion::V4,
            vec![
                Component::DestinationPrefix(FlowPrefix::new(cidr("192.0.2.1/32"))),
                Component::Fragment(vec![
                    BitmaskOp::all(fragment::IS_FRAGMENT),
                    BitmaskOp::all(fragment::LAST_FRAGMENT),
                ]),
            ],
        );
        assert_eq!(
            encoded(&rule),
            [0x0b, 0x01, 0x20, 0xc0, 0x00, 0x02, 0x01, 0x0c, 0x01, 0x02, 0x81, 0x08]
        );
    }

    #[test]
    fn ipv6_rule() {
        // Hand-derived (RFC 8956 §3): dst 2001:db8::/32 offset 0, next header 17,
        // source port >= 8000 (two-byte value: operator 0x93 = end, len 2, gt, eq).
        let rule = FlowSpecRule::new(
            IpVersion::V6,
            vec![
                Component::DestinationPrefix(FlowPrefix::new(cidr("2001:db8::/32"))),
                Component::IpProtocol(vec![NumericOp::eq(17)]),
                Component::SourcePort(vec![NumericOp::ge(8000)]),
            ],
        );
        assert_eq!(
            encoded(&rule),
            [
                0x0e, 0x01, 0x20, 0x00, 0x20, 0x01, 0x0d, 0xb8, 0x03, 0x81, 0x11, 0x06, 0x93, 0x1f,
                0x40
            ]
        );
    }

    #[test]
    fn ipv6_offset_pattern() {
        // Destination ::1234:5678:9a00:0/104 from bit 64 on (RFC 8956 §3.1): only bits
        // 64..104, five bytes of pattern, are on the wire.
        let p = FlowPrefix::with_offset(cidr("::1234:5678:9a00:0/104"), 64).unwrap();
        let rule = FlowSpecRule::new(IpVersion::V6, vec![Component::DestinationPrefix(p)]);
        assert_eq!(
            encoded(&rule),
            [0x08, 0x01, 0x68, 0x40, 0x12, 0x34, 0x56, 0x78, 0x9a]
        );
        // Bits before the offset are cleared, so they cannot make two equal rules differ.
        let q = FlowPrefix::with_offset(cidr("ffff::1234:5678:9a00:0/104"), 64).unwrap();
        assert_eq!(p, q);
        assert!(FlowPrefix::with_offset(cidr("10.0.0.0/8"), 1).is_none());
        // Offset 128 of a /128: an empty pattern that matches everything.
        let all = FlowPrefix::with_offset(cidr("::1/128"), 128).unwrap();
        let rule = FlowSpecRule::new(IpVersion::V6, vec![Component::SourcePrefix(all)]);
        assert_eq!(encoded(&rule), [0x03, 0x02, 0x80, 0x80]);
        assert!(FlowPrefix::with_offset(cidr("::/8"), 9).is_none());
    }

    #[test]
    fn operator_lengths_and_bits() {
        let rule = FlowSpecRule::new(
            IpVersion::V6,
            vec![
                Component::PacketLength(vec![NumericOp::lt(0x100), NumericOp::gt(0x1_0000).and()]),
                Component::FlowLabel(vec![NumericOp::ne(5)]),
                Component::TcpFlags(vec![
                    BitmaskOp::all(tcp_flags::SYN),
                    BitmaskOp::none(tcp_flags::ACK).and(),
                    BitmaskOp::any(0x100),
                ]),
            ],
        );
        rule.validate().unwrap_err(); // packet length 0x10000 is over 65535
        assert_eq!(
            encoded(&rule),
            [
                0x14, 0x09, 0x01, 0x02, 0x42, 0x10, 0x90, 0x01, 0x00, 0x0a, 0x14, 0x01, 0x00, 0xe2,
                0x00, 0x01, 0x00, 0x00, 0x0d, 0x86, 0x05
            ]
        );
        let big = FlowSpecRule::new(
            IpVersion::V4,
            vec![Component::Port(vec![NumericOp::eq(1 << 40)])],
        );
        assert_eq!(encoded(&big)[2], 0xb1);
    }

    #[test]
    fn long_nlri_uses_two_length_bytes() {
        let ops: Vec<NumericOp> = (0..100).map(|p| NumericOp::eq(1000 + p)).collect();
        let rule = FlowSpecRule::new(IpVersion::V4, vec![Component::Port(ops)]);
        let v = encoded(&rule);
        assert_eq!(v.len(), 2 + 1 + 300);
        assert_eq!(&v[..2], &[0xf1, 0x2d]);
        rule.validate().unwrap();
        let too_long: Vec<NumericOp> = (0..1400).map(|p| NumericOp::eq(1000 + p)).collect();
        let rule = FlowSpecRule::new(IpVersion::V4, vec![Component::Port(too_long)]);
        assert_eq!(rule.validate(), Err(RuleError::TooLong(4201)));
    }

    #[test]
    fn validation() {
        let v4 = |c: Vec<Component>| FlowSpecRule::new(IpVersion::V4, c).validate();
        assert_eq!(v4(vec![]), Err(RuleError::Empty));
        assert_eq!(
            v4(vec![
                Component::IpProtocol(vec![NumericOp::eq(6)]),
                Component::IpProtocol(vec![NumericOp::eq(17)])
            ]),
            Err(RuleError::Duplicate(3))
        );
        assert_eq!(
            v4(vec![Component::Port(vec![])]),
            Err(RuleError::NoOperators(4))
        );
        assert_eq!(
            v4(vec![Component::Port(vec![NumericOp::eq(1).and()])]),
            Err(RuleError::LeadingAnd(4))
        );
        assert_eq!(
            v4(vec![Component::Dscp(vec![NumericOp::eq(64)])]),
            Err(RuleError::ValueOutOfRange {
                kind: 11,
                value: 64
            })
        );
        assert_eq!(
            v4(vec![Component::FlowLabel(vec![NumericOp::eq(1)])]),
            Err(RuleError::FlowLabelInIpv4)
        );
        assert!(matches!(
            v4(vec![Component::SourcePrefix(FlowPrefix::new(cidr("::/0")))]),
            Err(RuleError::WrongFamily(_))
        ));
    }

    #[test]
    fn refuses_malformed_nlri() {
        let bad: &[&[u8]] = &[
            &[],
            &[0x03, 0x03, 0x01], // operator without end bit, then nothing
            &[0x04, 0x03, 0x81, 0x06, 0x03], // trailing component type without ops
            &[0x06, 0x04, 0x81, 0x50, 0x03, 0x81, 0x06], // out of order
            &[0x03, 0x01, 0x21, 0x00], // /33
            &[0x03, 0x0e, 0x81, 0x01], // unknown type 14
            &[0x03, 0x0d, 0x81, 0x01], // flow label in IPv4
            &[0x04, 0x09, 0xa1, 0x00, 0x01], // 4-byte bitmask
            &[0x05, 0x01],       // length past the end
            &[0xf0],             // truncated two-byte length
        ];
        for b in bad {
            let r = FlowSpecRule::decode(IpVersion::V4, &mut Reader::new(b));
            assert!(r.is_err(), "{b:02x?} decoded to {r:?}");
        }
        let bad6: &[&[u8]] = &[&[0x03, 0x01, 0x81, 0x00], &[0x04, 0x01, 0x10, 0x11, 0x00]];
        for b in bad6 {
            assert!(FlowSpecRule::decode(IpVersion::V6, &mut Reader::new(b)).is_err());
        }
    }

    #[test]
    fn actions_as_extended_communities() {
        let cases = [
            (FlowAction::DISCARD, [0x80, 0x06, 0, 0, 0, 0, 0, 0]),
            (
                // 12,500,000 bytes/s = 100 Mbit/s; 0x4b3ebc20 as IEEE 754 single.
                FlowAction::rate_limit(12_500_000.0),
                [0x80, 0x06, 0, 0, 0x4b, 0x3e, 0xbc, 0x20],
            ),
            (
                FlowAction::TrafficRatePackets {
                    asn: 1,
                    packets_per_s: 1000.0,
                },
                [0x80, 0x0c, 0, 1, 0x44, 0x7a, 0, 0],
            ),
            (
                FlowAction::TrafficAction {
                    sample: true,
                    terminal: false,
                },
                [0x80, 0x07, 0, 0, 0, 0, 0, 0x02],
            ),
            (
                FlowAction::RedirectAs2 {
                    asn: 65001,
                    value: 100,
                },
                [0x80, 0x08, 0xfd, 0xe9, 0, 0, 0, 100],
            ),
            (
                FlowAction::RedirectIpv4 {
                    addr: Ipv4Addr::new(192, 0, 2, 1),
                    value: 7,
                },
                [0x81, 0x08, 192, 0, 2, 1, 0, 7],
            ),
            (
                FlowAction::RedirectAs4 {
                    asn: 4_200_000_000,
                    value: 7,
                },
                [0x82, 0x08, 0xfa, 0x56, 0xea, 0x00, 0, 7],
            ),
            (
                FlowAction::TrafficMarking { dscp: 46 },
                [0x80, 0x09, 0, 0, 0, 0, 0, 46],
            ),
        ];
        for (action, bytes) in cases {
            assert_eq!(action.to_extended().0, bytes, "{action:?}");
            assert_eq!(
                FlowAction::from_extended(&ExtendedCommunity(bytes)),
                Some(action)
            );
            assert!(action.is_valid());
        }
        assert_eq!(
            FlowAction::from_extended(&ExtendedCommunity([0, 2, 0, 1, 0, 0, 0, 1])),
            None
        );
        assert!(!FlowAction::rate_limit(f32::NAN).is_valid());
        assert!(!FlowAction::rate_limit(-1.0).is_valid());
        assert!(!FlowAction::TrafficMarking { dscp: 64 }.is_valid());
    }
}
