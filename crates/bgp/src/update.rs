//! UPDATE messages: encoding our announcements and withdrawals, packing every route that
//! shares its attributes into as few 4096-byte messages as possible (10,000 blackholes fit
//! in about a dozen), and decoding what a peer sends (RFC 4271 §4.3, RFC 4760, RFC 7606).

use crate::community::{Community, ExtendedCommunity, LargeCommunity};
use crate::family::{Family, AFI_IPV4, AFI_IPV6, SAFI_FLOWSPEC};
use crate::flowspec::{FlowAction, FlowSpecRule, IpVersion};
use crate::open::AS_TRANS;
use crate::route::{Attributes, FlowSpecRoute, Origin, Route, RouteKey, UnicastRoute};
use crate::wire::{
    begin_message, code, finish_message, put_attribute, MessageType, Reader, WireError,
    ATTR_EXTENDED_LENGTH, ATTR_OPTIONAL, ATTR_PARTIAL, ATTR_TRANSITIVE, HEADER_LEN,
    MAX_MESSAGE_LEN,
};
use rampart_model::Cidr;
use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

const ORIGIN: u8 = 1;
const AS_PATH: u8 = 2;
const NEXT_HOP: u8 = 3;
const MED: u8 = 4;
const LOCAL_PREF: u8 = 5;
const COMMUNITIES: u8 = 8;
const MP_REACH_NLRI: u8 = 14;
const MP_UNREACH_NLRI: u8 = 15;
const EXTENDED_COMMUNITIES: u8 = 16;
const AS4_PATH: u8 = 17;
const LARGE_COMMUNITIES: u8 = 32;

const AS_SET: u8 = 1;
const AS_SEQUENCE: u8 = 2;

/// Header, withdrawn routes length and total path attribute length.
const UPDATE_FIXED: usize = HEADER_LEN + 4;
/// MP_REACH_NLRI attribute header (extended length) plus AFI, SAFI, next hop length and the
/// reserved byte, not counting the next hop itself.
const MP_REACH_FIXED: usize = 4 + 5;
/// MP_UNREACH_NLRI attribute header (extended length) plus AFI and SAFI.
const MP_UNREACH_FIXED: usize = 4 + 3;

/// What the session knows about the peer that changes how an UPDATE is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EncodeContext {
    pub local_as: u32,
    /// iBGP: empty AS_PATH, LOCAL_PREF sent. eBGP: our AS in AS_PATH, no LOCAL_PREF.
    pub ibgp: bool,
    /// Whether the peer speaks 4-octet AS numbers (RFC 6793); without it a large local AS
    /// goes as AS_TRANS with the real one in AS4_PATH.
    pub four_octet_as: bool,
}

impl EncodeContext {
    pub fn new(local_as: u32, peer_as: u32, four_octet_as: bool) -> Self {
        EncodeContext {
            local_as,
            ibgp: local_as == peer_as,
            four_octet_as,
        }
    }
}

/// Encoding failed: one route's attributes and NLRI do not fit in one message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("a route's attributes and NLRI do not fit in one 4096-byte UPDATE")]
pub struct TooLarge;

/// How much was written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Encoded {
    pub messages: usize,
    pub routes: usize,
}

/// Family, attributes before and after MP_REACH_NLRI, next hop.
type GroupKey = (Family, Vec<u8>, Vec<u8>, Vec<u8>);

/// Routes that share family, next hop and attributes, to go in the same messages.
struct Group<'a> {
    family: Family,
    /// Attributes with type codes below MP_REACH_NLRI (all of them for IPv4 unicast).
    head: Vec<u8>,
    /// Attributes with type codes above MP_REACH_NLRI.
    tail: Vec<u8>,
    /// MP_REACH next hop; empty for IPv4 unicast (NEXT_HOP is in `head`) and FlowSpec.
    next_hop: Vec<u8>,
    routes: Vec<&'a Route>,
}

/// Appends UPDATEs announcing `routes` to `out`. Routes are grouped by attributes in the
/// order they first appear; within a group they keep their order. On error nothing is
/// written.
pub fn encode_announcements<'a>(
    ctx: &EncodeContext,
    routes: impl IntoIterator<Item = &'a Route>,
    out: &mut Vec<u8>,
) -> Result<Encoded, TooLarge> {
    let mut groups: Vec<Group<'a>> = Vec::new();
    let mut index: HashMap<GroupKey, usize> = HashMap::new();
    let mut nlri = Vec::new();
    // Routes in a batch mostly share their attributes: reuse the previous route's group
    // rather than encode the same attributes again.
    let mut last: Option<(&Route, usize)> = None;
    for route in routes {
        if let Some((prev, i)) = last {
            if same_attributes(prev, route) {
                nlri.clear();
                encode_route_nlri(route, &mut nlri);
                let g = &groups[i];
                if fixed_len(g.family, &g.head, &g.tail, &g.next_hop) + nlri.len() > MAX_MESSAGE_LEN
                {
                    return Err(TooLarge);
                }
                groups[i].routes.push(route);
                continue;
            }
        }
        let family = route.family();
        let (head, tail) = attributes(ctx, route);
        let next_hop = match route {
            Route::Unicast(u) if family == Family::Ipv6Unicast => match u.next_hop {
                IpAddr::V6(a) => a.octets().to_vec(),
                IpAddr::V4(a) => a.to_ipv6_mapped().octets().to_vec(),
            },
            _ => Vec::new(),
        };
        nlri.clear();
        encode_route_nlri(route, &mut nlri);
        let fixed = fixed_len(family, &head, &tail, &next_hop);
        if fixed + nlri.len() > MAX_MESSAGE_LEN {
            return Err(TooLarge);
        }
        let key = (family, head, tail, next_hop);
        let i = match index.get(&key) {
            Some(&i) => i,
            None => {
                let (family, head, tail, next_hop) = key.clone();
                groups.push(Group {
                    family,
                    head,
                    tail,
                    next_hop,
                    routes: Vec::new(),
                });
                index.insert(key, groups.len() - 1);
                groups.len() - 1
            }
        };
        groups[i].routes.push(route);
        last = Some((route, i));
    }
    let mut done = Encoded::default();
    for g in &groups {
        let fixed = fixed_len(g.family, &g.head, &g.tail, &g.next_hop);
        let mut batch = Vec::new();
        let mut pending = 0;
        for route in &g.routes {
            nlri.clear();
            encode_route_nlri(route, &mut nlri);
            if fixed + batch.len() + nlri.len() > MAX_MESSAGE_LEN {
                write_reach(g, &batch, out);
                done.messages += 1;
                batch.clear();
            }
            batch.extend_from_slice(&nlri);
            pending += 1;
        }
        if !batch.is_empty() {
            write_reach(g, &batch, out);
            done.messages += 1;
        }
        done.routes += pending;
    }
    Ok(done)
}

/// Whether two routes would encode to the same attributes (and so may share messages).
fn same_attributes(a: &Route, b: &Route) -> bool {
    a.family() == b.family()
        && match (a, b) {
            (Route::Unicast(x), Route::Unicast(y)) => {
                x.next_hop == y.next_hop && x.attributes == y.attributes
            }
            (Route::FlowSpec(x), Route::FlowSpec(y)) => {
                x.actions == y.actions && x.attributes == y.attributes
            }
            _ => false,
        }
}

/// Whether `route` fits in one UPDATE for a peer of this kind: what `Route::validate`
/// checks, without writing the message.
pub(crate) fn fits(ctx: &EncodeContext, route: &Route) -> bool {
    let (head, tail) = attributes(ctx, route);
    let next_hop = if route.family() == Family::Ipv6Unicast {
        16
    } else {
        0
    };
    let mp = if route.family() == Family::Ipv4Unicast {
        0
    } else {
        MP_REACH_FIXED + next_hop
    };
    let mut nlri = Vec::new();
    encode_route_nlri(route, &mut nlri);
    UPDATE_FIXED + head.len() + tail.len() + mp + nlri.len() <= MAX_MESSAGE_LEN
        && UPDATE_FIXED + MP_UNREACH_FIXED + nlri.len() <= MAX_MESSAGE_LEN
}

fn fixed_len(family: Family, head: &[u8], tail: &[u8], next_hop: &[u8]) -> usize {
    let mp = if family == Family::Ipv4Unicast {
        0
    } else {
        MP_REACH_FIXED + next_hop.len()
    };
    UPDATE_FIXED + head.len() + tail.len() + mp
}

fn write_reach(g: &Group<'_>, nlri: &[u8], out: &mut Vec<u8>) {
    let start = begin_message(out, MessageType::Update);
    out.extend_from_slice(&[0, 0, 0, 0]);
    let attrs_start = out.len();
    out.extend_from_slice(&g.head);
    if g.family == Family::Ipv4Unicast {
        out.extend_from_slice(&g.tail);
        let attrs_len = out.len() - attrs_start;
        out[attrs_start - 2..attrs_start].copy_from_slice(&(attrs_len as u16).to_be_bytes());
        out.extend_from_slice(nlri);
    } else {
        let len = 5 + g.next_hop.len() + nlri.len();
        out.extend_from_slice(&[ATTR_OPTIONAL | ATTR_EXTENDED_LENGTH, MP_REACH_NLRI]);
        out.extend_from_slice(&(len as u16).to_be_bytes());
        out.extend_from_slice(&g.family.afi().to_be_bytes());
        out.extend_from_slice(&[g.family.safi(), g.next_hop.len() as u8]);
        out.extend_from_slice(&g.next_hop);
        out.push(0);
        out.extend_from_slice(nlri);
        out.extend_from_slice(&g.tail);
        let attrs_len = out.len() - attrs_start;
        out[attrs_start - 2..attrs_start].copy_from_slice(&(attrs_len as u16).to_be_bytes());
    }
    finish_message(out, start);
}

/// The path attributes of one route, split around MP_REACH_NLRI so that every message
/// lists them in type order.
fn attributes(ctx: &EncodeContext, route: &Route) -> (Vec<u8>, Vec<u8>) {
    let a = route.attributes();
    let mut head = Vec::with_capacity(64);
    put_attribute(&mut head, ATTR_TRANSITIVE, ORIGIN, &[a.origin as u8]);
    let mut as4_path = None;
    if ctx.ibgp {
        put_attribute(&mut head, ATTR_TRANSITIVE, AS_PATH, &[]);
    } else if ctx.four_octet_as {
        let mut v = vec![AS_SEQUENCE, 1];
        v.extend_from_slice(&ctx.local_as.to_be_bytes());
        put_attribute(&mut head, ATTR_TRANSITIVE, AS_PATH, &v);
    } else {
        let two = u16::try_from(ctx.local_as).unwrap_or(AS_TRANS);
        let mut v = vec![AS_SEQUENCE, 1];
        v.extend_from_slice(&two.to_be_bytes());
        put_attribute(&mut head, ATTR_TRANSITIVE, AS_PATH, &v);
        if ctx.local_as > u32::from(u16::MAX) {
            let mut v4 = vec![AS_SEQUENCE, 1];
            v4.extend_from_slice(&ctx.local_as.to_be_bytes());
            as4_path = Some(v4);
        }
    }
    if let Route::Unicast(UnicastRoute {
        next_hop: IpAddr::V4(nh),
        prefix,
        ..
    }) = route
    {
        if prefix.addr().is_ipv4() {
            put_attribute(&mut head, ATTR_TRANSITIVE, NEXT_HOP, &nh.octets());
        }
    }
    if let Some(med) = a.med {
        put_attribute(&mut head, ATTR_OPTIONAL, MED, &med.to_be_bytes());
    }
    if ctx.ibgp {
        let lp = a.local_pref.unwrap_or(100);
        put_attribute(&mut head, ATTR_TRANSITIVE, LOCAL_PREF, &lp.to_be_bytes());
    }
    if !a.communities.is_empty() {
        let v: Vec<u8> = a
            .communities
            .iter()
            .flat_map(|c| c.0.to_be_bytes())
            .collect();
        put_attribute(&mut head, ATTR_OPTIONAL | ATTR_TRANSITIVE, COMMUNITIES, &v);
    }
    let mut tail = Vec::new();
    let actions: &[FlowAction] = match route {
        Route::FlowSpec(f) => &f.actions,
        Route::Unicast(_) => &[],
    };
    if !actions.is_empty() || !a.extended_communities.is_empty() {
        let v: Vec<u8> = actions
            .iter()
            .map(FlowAction::to_extended)
            .chain(a.extended_communities.iter().copied())
            .flat_map(|c| c.0)
            .collect();
        put_attribute(
            &mut tail,
            ATTR_OPTIONAL | ATTR_TRANSITIVE,
            EXTENDED_COMMUNITIES,
            &v,
        );
    }
    if let Some(v) = as4_path {
        put_attribute(&mut tail, ATTR_OPTIONAL | ATTR_TRANSITIVE, AS4_PATH, &v);
    }
    if !a.large_communities.is_empty() {
        let v: Vec<u8> = a
            .large_communities
            .iter()
            .flat_map(|c| {
                let mut b = [0u8; 12];
                b[..4].copy_from_slice(&c.global.to_be_bytes());
                b[4..8].copy_from_slice(&c.local1.to_be_bytes());
                b[8..].copy_from_slice(&c.local2.to_be_bytes());
                b
            })
            .collect();
        put_attribute(
            &mut tail,
            ATTR_OPTIONAL | ATTR_TRANSITIVE,
            LARGE_COMMUNITIES,
            &v,
        );
    }
    (head, tail)
}

/// The NLRI of a route, without building its key.
fn encode_route_nlri(route: &Route, out: &mut Vec<u8>) {
    match route {
        Route::Unicast(u) => encode_prefix(&u.prefix, out),
        Route::FlowSpec(f) => f.rule.encode(out),
    }
}

fn encode_prefix(p: &Cidr, out: &mut Vec<u8>) {
    let len = p.prefix_len();
    out.push(len);
    let bytes = usize::from(len).div_ceil(8);
    match p.addr() {
        IpAddr::V4(a) => out.extend_from_slice(&a.octets()[..bytes]),
        IpAddr::V6(a) => out.extend_from_slice(&a.octets()[..bytes]),
    }
}

fn encode_nlri(key: &RouteKey, out: &mut Vec<u8>) {
    match key {
        RouteKey::Unicast(p) => encode_prefix(p, out),
        RouteKey::FlowSpec(r) => r.encode(out),
    }
}

/// Appends UPDATEs withdrawing `keys`, grouped by family.
pub fn encode_withdrawals<'a>(
    keys: impl IntoIterator<Item = &'a RouteKey>,
    out: &mut Vec<u8>,
) -> Result<Encoded, TooLarge> {
    let mut by_family: [Vec<u8>; 4] = Default::default();
    let mut lens: [Vec<usize>; 4] = Default::default();
    let mut done = Encoded::default();
    for key in keys {
        let i = family_index(key.family());
        let before = by_family[i].len();
        encode_nlri(key, &mut by_family[i]);
        let len = by_family[i].len() - before;
        if UPDATE_FIXED + MP_UNREACH_FIXED + len > MAX_MESSAGE_LEN {
            return Err(TooLarge);
        }
        lens[i].push(len);
        done.routes += 1;
    }
    for family in Family::ALL {
        let i = family_index(family);
        let budget = MAX_MESSAGE_LEN
            - UPDATE_FIXED
            - if family == Family::Ipv4Unicast {
                0
            } else {
                MP_UNREACH_FIXED
            };
        let mut from = 0;
        let mut size = 0;
        let mut at = 0;
        for &len in &lens[i] {
            if size + len > budget {
                write_unreach(family, &by_family[i][from..at], out);
                done.messages += 1;
                from = at;
                size = 0;
            }
            size += len;
            at += len;
        }
        if at > from {
            write_unreach(family, &by_family[i][from..at], out);
            done.messages += 1;
        }
    }
    Ok(done)
}

fn family_index(f: Family) -> usize {
    match f {
        Family::Ipv4Unicast => 0,
        Family::Ipv6Unicast => 1,
        Family::Ipv4FlowSpec => 2,
        Family::Ipv6FlowSpec => 3,
    }
}

fn write_unreach(family: Family, nlri: &[u8], out: &mut Vec<u8>) {
    let start = begin_message(out, MessageType::Update);
    if family == Family::Ipv4Unicast {
        out.extend_from_slice(&(nlri.len() as u16).to_be_bytes());
        out.extend_from_slice(nlri);
        out.extend_from_slice(&[0, 0]);
    } else {
        let attr_len = 4 + 3 + nlri.len();
        out.extend_from_slice(&[0, 0]);
        out.extend_from_slice(&(attr_len as u16).to_be_bytes());
        out.extend_from_slice(&[ATTR_OPTIONAL | ATTR_EXTENDED_LENGTH, MP_UNREACH_NLRI]);
        out.extend_from_slice(&((3 + nlri.len()) as u16).to_be_bytes());
        out.extend_from_slice(&family.afi().to_be_bytes());
        out.push(family.safi());
        out.extend_from_slice(nlri);
    }
    finish_message(out, start);
}

/// Appends the End-of-RIB marker for `family` (RFC 4724 §2): an UPDATE with nothing in it
/// (IPv4 unicast) or an empty MP_UNREACH_NLRI.
pub fn encode_end_of_rib(family: Family, out: &mut Vec<u8>) {
    let start = begin_message(out, MessageType::Update);
    if family == Family::Ipv4Unicast {
        out.extend_from_slice(&[0, 0, 0, 0]);
    } else {
        out.extend_from_slice(&[0, 0, 0, 6, ATTR_OPTIONAL, MP_UNREACH_NLRI, 3]);
        out.extend_from_slice(&family.afi().to_be_bytes());
        out.push(family.safi());
    }
    finish_message(out, start);
}

/// What the peer's messages need to be read right.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DecodeContext {
    /// Negotiated 4-octet AS: AS_PATH carries 4-byte numbers.
    pub four_octet_as: bool,
}

/// A decoded UPDATE. Everything is bounded by the 4096-byte message it came from.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Update {
    pub withdrawn: Vec<RouteKey>,
    pub announced: Vec<RouteKey>,
    /// The NEXT_HOP attribute (IPv4 unicast in the NLRI field).
    pub next_hop: Option<IpAddr>,
    /// The MP_REACH_NLRI next hop (the global one when there are two).
    pub mp_next_hop: Option<IpAddr>,
    pub origin: Option<Origin>,
    /// AS numbers in order, sets flattened; AS4_PATH merged in for a 2-byte-only peer.
    pub as_path: Vec<u32>,
    pub med: Option<u32>,
    pub local_pref: Option<u32>,
    pub communities: Vec<Community>,
    pub large_communities: Vec<LargeCommunity>,
    pub extended_communities: Vec<ExtendedCommunity>,
    /// MP_REACH/MP_UNREACH attributes of families we do not speak, skipped.
    pub unknown_families: usize,
    /// An empty UPDATE or empty MP_UNREACH_NLRI: the peer has sent all it has.
    pub end_of_rib: Option<Family>,
}

/// Why a peer's UPDATE was refused, and what RFC 7606 says to do about it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum UpdateError {
    /// The message cannot be split into its parts: end the session with this NOTIFICATION.
    #[error("{0}; the session must be reset")]
    Reset(WireError),
    /// An attribute or FlowSpec NLRI is malformed: the routes in it count as withdrawn and
    /// the session goes on.
    #[error("{0}; treated as withdraw")]
    TreatAsWithdraw(WireError),
}

const fn malformed(what: &'static str) -> WireError {
    WireError::new(code::UPDATE_MESSAGE, code::MALFORMED_ATTRIBUTE_LIST, what)
}

const fn bad_length(what: &'static str) -> WireError {
    WireError::new(code::UPDATE_MESSAGE, code::ATTRIBUTE_LENGTH_ERROR, what)
}

/// Decodes an UPDATE body (after the header).
pub fn decode_update(body: &[u8], ctx: &DecodeContext) -> Result<Update, UpdateError> {
    use UpdateError::{Reset, TreatAsWithdraw};
    let mut r = Reader::new(body);
    let wlen = r
        .u16(malformed("truncated withdrawn routes length"))
        .map_err(Reset)?;
    let withdrawn = r
        .take(
            usize::from(wlen),
            malformed("withdrawn routes length past the end"),
        )
        .map_err(Reset)?;
    let alen = r
        .u16(malformed("truncated path attribute length"))
        .map_err(Reset)?;
    let attrs = r
        .take(
            usize::from(alen),
            malformed("path attribute length past the end"),
        )
        .map_err(Reset)?;
    let nlri = r.rest();

    let mut u = Update::default();
    decode_prefixes(IpVersion::V4, withdrawn, &mut u.withdrawn).map_err(Reset)?;
    decode_prefixes(IpVersion::V4, nlri, &mut u.announced).map_err(Reset)?;

    let mut as4_path = None;
    let mut first_error = None;
    let mut a = Reader::new(attrs);
    while !a.is_empty() {
        let truncated = malformed("truncated path attribute");
        let flags = a.u8(truncated).map_err(Reset)?;
        let kind = a.u8(truncated).map_err(Reset)?;
        let len = if flags & ATTR_EXTENDED_LENGTH != 0 {
            usize::from(a.u16(truncated).map_err(Reset)?)
        } else {
            usize::from(a.u8(truncated).map_err(Reset)?)
        };
        let value = a.take(len, truncated).map_err(Reset)?;
        let _ = ATTR_PARTIAL; // flags beyond the length bit are not policed: we do not relay.
        let result = match kind {
            MP_REACH_NLRI => decode_mp_reach(value, &mut u),
            MP_UNREACH_NLRI => decode_mp_unreach(value, &mut u),
            _ => decode_attribute(kind, value, ctx, &mut u, &mut as4_path).map_err(TreatAsWithdraw),
        };
        if let Err(e) = result {
            match e {
                Reset(_) => return Err(e),
                TreatAsWithdraw(_) => {
                    first_error.get_or_insert(e);
                }
            }
        }
    }
    if let Some(e) = first_error {
        return Err(e);
    }
    if !ctx.four_octet_as {
        if let Some(as4) = as4_path {
            merge_as4_path(&mut u.as_path, as4);
        }
    }
    if body.len() == 4 {
        u.end_of_rib = Some(Family::Ipv4Unicast);
    }
    Ok(u)
}

fn decode_attribute(
    kind: u8,
    v: &[u8],
    ctx: &DecodeContext,
    u: &mut Update,
    as4_path: &mut Option<Vec<u32>>,
) -> Result<(), WireError> {
    let u32_of = |v: &[u8], what| -> Result<u32, WireError> {
        match *v {
            [a, b, c, d] => Ok(u32::from_be_bytes([a, b, c, d])),
            _ => Err(bad_length(what)),
        }
    };
    match kind {
        ORIGIN => {
            u.origin = Some(match v {
                [0] => Origin::Igp,
                [1] => Origin::Egp,
                [2] => Origin::Incomplete,
                [_] => {
                    return Err(WireError::new(
                        code::UPDATE_MESSAGE,
                        code::INVALID_ORIGIN,
                        "ORIGIN value other than 0, 1, 2",
                    ))
                }
                _ => return Err(bad_length("ORIGIN not one byte")),
            })
        }
        AS_PATH => u.as_path = decode_as_path(v, ctx.four_octet_as)?,
        AS4_PATH => *as4_path = Some(decode_as_path(v, true)?),
        NEXT_HOP => {
            u.next_hop = Some(IpAddr::V4(Ipv4Addr::from(u32_of(
                v,
                "NEXT_HOP not 4 bytes",
            )?)))
        }
        MED => u.med = Some(u32_of(v, "MULTI_EXIT_DISC not 4 bytes")?),
        LOCAL_PREF => u.local_pref = Some(u32_of(v, "LOCAL_PREF not 4 bytes")?),
        COMMUNITIES => {
            if !v.len().is_multiple_of(4) {
                return Err(bad_length("COMMUNITIES not a multiple of 4 bytes"));
            }
            u.communities = v
                .chunks_exact(4)
                .map(|c| Community(u32::from_be_bytes([c[0], c[1], c[2], c[3]])))
                .collect();
        }
        EXTENDED_COMMUNITIES => {
            if !v.len().is_multiple_of(8) {
                return Err(bad_length("EXTENDED_COMMUNITIES not a multiple of 8 bytes"));
            }
            u.extended_communities = v
                .chunks_exact(8)
                .map(|c| {
                    let mut b = [0u8; 8];
                    b.copy_from_slice(c);
                    ExtendedCommunity(b)
                })
                .collect();
        }
        LARGE_COMMUNITIES => {
            if !v.len().is_multiple_of(12) {
                return Err(bad_length("LARGE_COMMUNITY not a multiple of 12 bytes"));
            }
            u.large_communities = v
                .chunks_exact(12)
                .map(|c| {
                    let w = |i: usize| u32::from_be_bytes([c[i], c[i + 1], c[i + 2], c[i + 3]]);
                    LargeCommunity::new(w(0), w(4), w(8))
                })
                .collect();
        }
        // Anything else (AGGREGATOR, ATOMIC_AGGREGATE, unknown optional ones) is not ours
        // to judge: we neither keep nor relay the peer's routes.
        _ => {}
    }
    Ok(())
}

fn decode_as_path(v: &[u8], four: bool) -> Result<Vec<u32>, WireError> {
    let bad = WireError::new(
        code::UPDATE_MESSAGE,
        code::MALFORMED_AS_PATH,
        "AS_PATH segment malformed",
    );
    let width = if four { 4 } else { 2 };
    let mut r = Reader::new(v);
    let mut out = Vec::new();
    while !r.is_empty() {
        let kind = r.u8(bad)?;
        let count = usize::from(r.u8(bad)?);
        if !(AS_SET..=4).contains(&kind) || count == 0 {
            return Err(bad);
        }
        let asns = r.take(count * width, bad)?;
        out.extend(asns.chunks_exact(width).map(|c| match *c {
            [a, b] => u32::from(u16::from_be_bytes([a, b])),
            [a, b, c, d] => u32::from_be_bytes([a, b, c, d]),
            _ => 0,
        }));
    }
    Ok(out)
}

/// RFC 6793 §4.2.3, simplified to the flattened path we keep: the AS4_PATH replaces as many
/// trailing ASes of the AS_PATH as it has; an AS4_PATH longer than the AS_PATH is ignored.
fn merge_as4_path(path: &mut Vec<u32>, as4: Vec<u32>) {
    if as4.len() <= path.len() {
        path.truncate(path.len() - as4.len());
        path.extend(as4);
    }
}

fn decode_mp_reach(v: &[u8], u: &mut Update) -> Result<(), UpdateError> {
    let bad = malformed("MP_REACH_NLRI malformed");
    let mut r = Reader::new(v);
    let afi = r.u16(bad).map_err(UpdateError::Reset)?;
    let safi = r.u8(bad).map_err(UpdateError::Reset)?;
    let nh_len = usize::from(r.u8(bad).map_err(UpdateError::Reset)?);
    let nh = r.take(nh_len, bad).map_err(UpdateError::Reset)?;
    r.u8(bad).map_err(UpdateError::Reset)?; // reserved
    let Some(family) = Family::from_afi_safi(afi, safi) else {
        u.unknown_families += 1;
        return Ok(());
    };
    u.mp_next_hop = match (afi, nh.len()) {
        (AFI_IPV4, 4) => Some(IpAddr::V4(Ipv4Addr::new(nh[0], nh[1], nh[2], nh[3]))),
        (AFI_IPV6, 16 | 32) => {
            let mut b = [0u8; 16];
            b.copy_from_slice(&nh[..16]);
            Some(IpAddr::V6(Ipv6Addr::from(b)))
        }
        // FlowSpec carries no next hop (RFC 8955 §4); whatever is there is ignored.
        _ if safi == SAFI_FLOWSPEC => None,
        _ => {
            return Err(UpdateError::Reset(WireError::new(
                code::UPDATE_MESSAGE,
                code::OPTIONAL_ATTRIBUTE_ERROR,
                "MP_REACH_NLRI next hop length does not fit the family",
            )))
        }
    };
    decode_family_nlri(family, r.rest(), &mut u.announced)
}

fn decode_mp_unreach(v: &[u8], u: &mut Update) -> Result<(), UpdateError> {
    let bad = malformed("MP_UNREACH_NLRI malformed");
    let mut r = Reader::new(v);
    let afi = r.u16(bad).map_err(UpdateError::Reset)?;
    let safi = r.u8(bad).map_err(UpdateError::Reset)?;
    let Some(family) = Family::from_afi_safi(afi, safi) else {
        u.unknown_families += 1;
        return Ok(());
    };
    if r.is_empty() {
        u.end_of_rib = Some(family);
    }
    decode_family_nlri(family, r.rest(), &mut u.withdrawn)
}

fn decode_family_nlri(
    family: Family,
    nlri: &[u8],
    out: &mut Vec<RouteKey>,
) -> Result<(), UpdateError> {
    match family {
        Family::Ipv4Unicast => {
            decode_prefixes(IpVersion::V4, nlri, out).map_err(UpdateError::Reset)
        }
        Family::Ipv6Unicast => {
            decode_prefixes(IpVersion::V6, nlri, out).map_err(UpdateError::Reset)
        }
        Family::Ipv4FlowSpec | Family::Ipv6FlowSpec => {
            let version = if family == Family::Ipv4FlowSpec {
                IpVersion::V4
            } else {
                IpVersion::V6
            };
            let mut r = Reader::new(nlri);
            while !r.is_empty() {
                let rule =
                    FlowSpecRule::decode(version, &mut r).map_err(UpdateError::TreatAsWithdraw)?;
                out.push(RouteKey::FlowSpec(rule));
            }
            Ok(())
        }
    }
}

fn decode_prefixes(
    version: IpVersion,
    mut bytes: &[u8],
    out: &mut Vec<RouteKey>,
) -> Result<(), WireError> {
    let bad = WireError::new(
        code::UPDATE_MESSAGE,
        code::INVALID_NETWORK_FIELD,
        "prefix length out of range or past the end",
    );
    let max = match version {
        IpVersion::V4 => 32,
        IpVersion::V6 => 128,
    };
    while let [len, rest @ ..] = bytes {
        if *len > max {
            return Err(bad);
        }
        let n = usize::from(*len).div_ceil(8);
        let addr_bytes = rest.get(..n).ok_or(bad)?;
        let addr = match version {
            IpVersion::V4 => {
                let mut b = [0u8; 4];
                b[..n].copy_from_slice(addr_bytes);
                IpAddr::V4(Ipv4Addr::from(b))
            }
            IpVersion::V6 => {
                let mut b = [0u8; 16];
                b[..n].copy_from_slice(addr_bytes);
                IpAddr::V6(Ipv6Addr::from(b))
            }
        };
        // Stray bits past the length are masked, not refused: RFC 4271 does not call them
        // an error, and the prefix is still clear.
        out.push(RouteKey::Unicast(Cidr::new(addr, *len).ok_or(bad)?));
        bytes = &rest[n..];
    }
    Ok(())
}

impl Update {
    /// The announced routes with the attributes they came with, in our model. Routes with
    /// no next hop for their family are left out.
    pub fn routes(&self) -> Vec<Route> {
        let base = Attributes {
            origin: self.origin.unwrap_or_default(),
            med: self.med,
            local_pref: self.local_pref,
            communities: self.communities.clone(),
            large_communities: self.large_communities.clone(),
            extended_communities: Vec::new(),
        };
        let mut out = Vec::with_capacity(self.announced.len());
        for key in &self.announced {
            match key {
                RouteKey::Unicast(prefix) => {
                    let next_hop = if prefix.addr().is_ipv4() {
                        self.next_hop.or(self.mp_next_hop)
                    } else {
                        self.mp_next_hop
                    };
                    let Some(next_hop) = next_hop else { continue };
                    let mut attributes = base.clone();
                    attributes.extended_communities = self.extended_communities.clone();
                    out.push(Route::Unicast(UnicastRoute {
                        prefix: *prefix,
                        next_hop,
                        attributes,
                    }));
                }
                RouteKey::FlowSpec(rule) => {
                    let mut attributes = base.clone();
                    let mut actions = Vec::new();
                    for c in &self.extended_communities {
                        match FlowAction::from_extended(c) {
                            Some(a) => actions.push(a),
                            None => attributes.extended_communities.push(*c),
                        }
                    }
                    out.push(Route::FlowSpec(FlowSpecRoute {
                        rule: rule.clone(),
                        actions,
                        attributes,
                    }));
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flowspec::{Component, FlowPrefix, NumericOp};

    fn ebgp() -> EncodeContext {
        EncodeContext::new(65001, 65002, true)
    }

    fn split(mut bytes: &[u8]) -> Vec<&[u8]> {
        let mut out = Vec::new();
        while let Some(f) = crate::wire::frame(bytes).unwrap() {
            assert_eq!(f.kind, MessageType::Update);
            out.push(f.body);
            bytes = &bytes[f.len..];
        }
        assert!(bytes.is_empty());
        out
    }

    fn decode_all(bytes: &[u8], four: bool) -> Vec<Update> {
        split(bytes)
            .into_iter()
            .map(|b| {
                decode_update(
                    b,
                    &DecodeContext {
                        four_octet_as: four,
                    },
                )
                .unwrap()
            })
            .collect()
    }

    #[test]
    fn ipv4_blackhole_on_the_wire() {
        let mut r = Route::blackhole(
            "203.0.113.10".parse().unwrap(),
            "192.0.2.1".parse().unwrap(),
        );
        r.attributes_mut()
            .large_communities
            .push(LargeCommunity::new(65001, 666, 1));
        let mut out = Vec::new();
        let done = encode_announcements(&ebgp(), [&r], &mut out).unwrap();
        assert_eq!(
            done,
            Encoded {
                messages: 1,
                routes: 1
            }
        );
        #[rustfmt::skip]
        let want: &[u8] = &[
            0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
            0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
            0, 70, 2,                        // length 70, UPDATE
            0, 0,                            // no withdrawn routes
            0, 42,                           // 42 bytes of attributes
            0x40, 1, 1, 0,                   // ORIGIN IGP
            0x40, 2, 6, 2, 1, 0, 0, 0xfd, 0xe9, // AS_PATH sequence [65001], 4-byte
            0x40, 3, 4, 192, 0, 2, 1,        // NEXT_HOP
            0xc0, 8, 4, 0xff, 0xff, 0x02, 0x9a, // COMMUNITIES 65535:666
            0xc0, 32, 12, 0, 0, 0xfd, 0xe9, 0, 0, 2, 0x9a, 0, 0, 0, 1, // LARGE 65001:666:1
            32, 203, 0, 113, 10,             // NLRI 203.0.113.10/32
        ];
        assert_eq!(out, want);
        let u = &decode_all(&out, true)[0];
        assert_eq!(u.as_path, vec![65001]);
        assert_eq!(u.routes(), vec![r]);
    }

    #[test]
    fn ipv6_blackhole_goes_in_mp_reach() {
        let r = Route::blackhole(
            "2001:db8::10".parse().unwrap(),
            "2001:db8::1".parse().unwrap(),
        );
        let mut out = Vec::new();
        encode_announcements(&EncodeContext::new(65001, 65001, true), [&r], &mut out).unwrap();
        #[rustfmt::skip]
        let want_attrs: &[u8] = &[
            0x40, 1, 1, 0,                   // ORIGIN IGP
            0x40, 2, 0,                      // AS_PATH empty (iBGP)
            0x40, 5, 4, 0, 0, 0, 100,        // LOCAL_PREF 100
            0xc0, 8, 4, 0xff, 0xff, 0x02, 0x9a, // COMMUNITIES 65535:666
            0x90, 14, 0, 38,                 // MP_REACH_NLRI, extended length 38
            0, 2, 1, 16,                     // AFI 2 SAFI 1, next hop 16 bytes
            0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1,
            0,                               // reserved
            128, 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
        ];
        assert_eq!(&out[23..], want_attrs);
        let u = &decode_all(&out, true)[0];
        let mut expect = r.clone();
        expect.attributes_mut().local_pref = Some(100);
        assert_eq!(u.routes(), vec![expect]);
        assert!(u.as_path.is_empty());
    }

    #[test]
    fn two_byte_peer_gets_as_trans_and_as4_path() {
        let r = Route::blackhole("192.0.2.7".parse().unwrap(), "192.0.2.1".parse().unwrap());
        let ctx = EncodeContext::new(4_200_000_001, 65002, false);
        let mut out = Vec::new();
        encode_announcements(&ctx, [&r], &mut out).unwrap();
        let attrs = &out[23..out.len() - 5];
        assert!(attrs
            .windows(7)
            .any(|w| w == [0x40, 2, 4, 2, 1, 0x5b, 0xa0]));
        assert!(attrs
            .windows(9)
            .any(|w| w == [0xc0, 17, 6, 2, 1, 0xfa, 0x56, 0xea, 0x01]));
        assert_eq!(decode_all(&out, false)[0].as_path, vec![4_200_000_001]);
    }

    #[test]
    fn ten_thousand_blackholes_pack_into_few_messages() {
        let nh: IpAddr = "192.0.2.1".parse().unwrap();
        let routes: Vec<Route> = (0..10_000u32)
            .map(|i| Route::blackhole(IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + i)), nh))
            .collect();
        let mut out = Vec::new();
        let done = encode_announcements(&ebgp(), &routes, &mut out).unwrap();
        // 4096 - 23 - 27 bytes of attributes leave room for 809 five-byte NLRI.
        assert_eq!(done.messages, 13);
        assert_eq!(done.routes, 10_000);
        let decoded: Vec<Route> = decode_all(&out, true)
            .iter()
            .flat_map(Update::routes)
            .collect();
        assert_eq!(decoded, routes);

        let keys: Vec<RouteKey> = routes.iter().map(Route::key).collect();
        out.clear();
        let done = encode_withdrawals(&keys, &mut out).unwrap();
        assert_eq!(done.messages, 13);
        let withdrawn: Vec<RouteKey> = decode_all(&out, true)
            .into_iter()
            .flat_map(|u| u.withdrawn)
            .collect();
        assert_eq!(withdrawn, keys);
    }

    #[test]
    fn different_attributes_go_in_different_messages() {
        let nh: IpAddr = "192.0.2.1".parse().unwrap();
        let a = Route::blackhole("10.0.0.1".parse().unwrap(), nh);
        let mut b = Route::blackhole("10.0.0.2".parse().unwrap(), nh);
        b.attributes_mut().med = Some(5);
        let c = Route::blackhole("10.0.0.3".parse().unwrap(), nh);
        let mut out = Vec::new();
        let done = encode_announcements(&ebgp(), [&a, &b, &c], &mut out).unwrap();
        assert_eq!(done.messages, 2);
        let msgs = decode_all(&out, true);
        assert_eq!(msgs[0].announced, vec![a.key(), c.key()]);
        assert_eq!(msgs[1].med, Some(5));
    }

    #[test]
    fn flowspec_with_actions_on_the_wire() {
        let rule = FlowSpecRule::new(
            IpVersion::V4,
            vec![
                Component::DestinationPrefix(FlowPrefix::new("203.0.113.10/32".parse().unwrap())),
                Component::IpProtocol(vec![NumericOp::eq(17)]),
                Component::SourcePort(vec![NumericOp::eq(53)]),
            ],
        );
        let r = Route::flowspec(rule, vec![FlowAction::DISCARD]);
        let mut out = Vec::new();
        encode_announcements(&ebgp(), [&r], &mut out).unwrap();
        #[rustfmt::skip]
        let want_attrs: &[u8] = &[
            0x40, 1, 1, 0,
            0x40, 2, 6, 2, 1, 0, 0, 0xfd, 0xe9,
            0x90, 14, 0, 18,                 // MP_REACH_NLRI
            0, 1, 133, 0,                    // AFI 1 SAFI 133, no next hop
            0,                               // reserved
            12, 1, 32, 203, 0, 113, 10, 3, 0x81, 17, 6, 0x81, 53, // the rule
            0xc0, 16, 8, 0x80, 0x06, 0, 0, 0, 0, 0, 0, // traffic-rate 0
        ];
        assert_eq!(&out[23..], want_attrs);
        assert_eq!(decode_all(&out, true)[0].routes(), vec![r.clone()]);

        out.clear();
        encode_withdrawals([&r.key()], &mut out).unwrap();
        let u = &decode_all(&out, true)[0];
        assert_eq!(u.withdrawn, vec![r.key()]);
    }

    #[test]
    fn routes_too_large_for_one_message_are_refused() {
        let mut r = Route::blackhole("203.0.113.1".parse().unwrap(), "192.0.2.1".parse().unwrap());
        r.attributes_mut().communities = (0..1100).map(Community).collect();
        assert_eq!(r.validate(), Err(crate::route::RouteError::TooLarge));
        let mut out = Vec::new();
        assert_eq!(encode_announcements(&ebgp(), [&r], &mut out), Err(TooLarge));
        assert!(out.is_empty());
        r.attributes_mut().communities.truncate(1000);
        r.validate().unwrap();
        encode_announcements(&ebgp(), [&r], &mut out).unwrap();
        assert!(out.len() <= MAX_MESSAGE_LEN);
        assert_eq!(decode_all(&out, true)[0].communities.len(), 1000);
    }

    #[test]
    fn end_of_rib_markers() {
        for f in Family::ALL {
            let mut out = Vec::new();
            encode_end_of_rib(f, &mut out);
            assert_eq!(decode_all(&out, true)[0].end_of_rib, Some(f));
        }
    }

    #[test]
    fn peer_updates_errors_and_what_they_mean() {
        use UpdateError::{Reset, TreatAsWithdraw};
        let ctx = DecodeContext {
            four_octet_as: true,
        };
        let cases: &[(&[u8], bool)] = &[
            (&[0, 5, 0, 0], true),                             // withdrawn past the end
            (&[0, 0, 0, 9, 0x40, 1, 1, 0], true),              // attributes past the end
            (&[0, 0, 0, 2, 0x40, 1], true),                    // truncated attribute header
            (&[0, 0, 0, 4, 0x40, 1, 1, 7], false),             // bad ORIGIN
            (&[0, 0, 0, 5, 0x40, 3, 2, 1, 2], false),          // NEXT_HOP length
            (&[0, 0, 0, 5, 0x40, 2, 2, 2, 0], false),          // AS_PATH segment of 0
            (&[0, 0, 0, 6, 0xc0, 8, 3, 1, 2, 3], false),       // communities length
            (&[0, 0, 0, 0, 33, 10, 0, 0, 0, 0], true),         // /33 in NLRI
            (&[0, 0, 0, 0, 24, 10, 0], true),                  // NLRI past the end
            (&[0, 0, 0, 8, 0x90, 14, 0, 4, 0, 2, 1, 4], true), // MP_REACH cut short
            // FlowSpec NLRI with an unknown component: treat as withdraw.
            (
                &[0, 0, 0, 12, 0x80, 14, 9, 0, 1, 133, 0, 0, 3, 14, 0x81, 1],
                false,
            ),
        ];
        for (body, reset) in cases {
            match decode_update(body, &ctx) {
                Err(Reset(_)) => assert!(reset, "{body:?} reset"),
                Err(TreatAsWithdraw(_)) => assert!(!reset, "{body:?} treated as withdraw"),
                Ok(u) => panic!("{body:?} decoded: {u:?}"),
            }
        }
        // Unknown families and unknown attributes are skipped, not refused.
        let u = decode_update(
            &[
                0, 0, 0, 16, 0x80, 14, 5, 0, 25, 70, 0, 0, 0xc0, 99, 2, 1, 2, 0x40, 6, 0,
            ],
            &ctx,
        )
        .unwrap();
        assert_eq!(u.unknown_families, 1);
    }
}
