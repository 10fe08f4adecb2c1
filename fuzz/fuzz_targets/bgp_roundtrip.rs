#![no_main]
//! Round trip: arbitrary routes (unicast and FlowSpec, both families, any attributes) are
//! validated, encoded into UPDATEs for an arbitrary session (iBGP or eBGP, 2- or 4-octet
//! AS), and decoded again by our decoder: every valid route must come back equal, every
//! message must be well formed and within 4096 bytes, and withdrawals must name the same
//! routes.
use libfuzzer_sys::arbitrary::{Result, Unstructured};
use libfuzzer_sys::fuzz_target;
use rampart_bgp::update::{
    decode_update, encode_announcements, encode_withdrawals, DecodeContext, EncodeContext,
};
use rampart_bgp::wire::{frame, MessageType, MAX_MESSAGE_LEN};
use rampart_bgp::{
    Attributes, BitmaskOp, Community, Component, ExtendedCommunity, FlowAction, FlowPrefix,
    FlowSpecRoute, FlowSpecRule, IpVersion, LargeCommunity, NumericOp, Origin, Route, RouteKey,
    UnicastRoute,
};
use rampart_model::Cidr;
use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

fn addr(u: &mut Unstructured, v6: bool) -> Result<IpAddr> {
    Ok(if v6 {
        IpAddr::V6(Ipv6Addr::from(u.arbitrary::<u128>()?))
    } else {
        IpAddr::V4(Ipv4Addr::from(u.arbitrary::<u32>()?))
    })
}

fn cidr(u: &mut Unstructured, v6: bool) -> Result<Cidr> {
    let a = addr(u, v6)?;
    let len = u.int_in_range(0..=if v6 { 128 } else { 32 })?;
    Ok(Cidr::new(a, len).expect("length in range"))
}

fn attributes(u: &mut Unstructured, flowspec: bool) -> Result<Attributes> {
    let origin = match u.int_in_range(0..=2)? {
        0 => Origin::Igp,
        1 => Origin::Egp,
        _ => Origin::Incomplete,
    };
    let mut extended = Vec::new();
    for _ in 0..u.int_in_range(0..=3)? {
        let c = ExtendedCommunity(u.arbitrary()?);
        // On a FlowSpec route, an extended community that reads as an action is one.
        if !flowspec || FlowAction::from_extended(&c).is_none() {
            extended.push(c);
        }
    }
    Ok(Attributes {
        origin,
        med: u.arbitrary()?,
        local_pref: u.arbitrary()?,
        communities: (0..u.int_in_range(0..=4)?)
            .map(|_| u.arbitrary().map(Community))
            .collect::<Result<_>>()?,
        large_communities: (0..u.int_in_range(0..=3)?)
            .map(|_| {
                Ok(LargeCommunity::new(
                    u.arbitrary()?,
                    u.arbitrary()?,
                    u.arbitrary()?,
                ))
            })
            .collect::<Result<_>>()?,
        extended_communities: extended,
    })
}

fn numeric(u: &mut Unstructured, max: u64) -> Result<Vec<NumericOp>> {
    let n = u.int_in_range(1..=4)?;
    (0..n)
        .map(|i| {
            Ok(NumericOp {
                and: i > 0 && u.arbitrary()?,
                lt: u.arbitrary()?,
                gt: u.arbitrary()?,
                eq: u.arbitrary()?,
                value: u.int_in_range(0..=max)?,
            })
        })
        .collect()
}

fn bitmask(u: &mut Unstructured, max: u16) -> Result<Vec<BitmaskOp>> {
    let n = u.int_in_range(1..=3)?;
    (0..n)
        .map(|i| {
            Ok(BitmaskOp {
                and: i > 0 && u.arbitrary()?,
                not: u.arbitrary()?,
                matches: u.arbitrary()?,
                value: u.int_in_range(0..=max)?,
            })
        })
        .collect()
}

fn rule(u: &mut Unstructured) -> Result<FlowSpecRule> {
    let v6: bool = u.arbitrary()?;
    let version = if v6 { IpVersion::V6 } else { IpVersion::V4 };
    let mut components = Vec::new();
    let prefix = |u: &mut Unstructured| -> Result<FlowPrefix> {
        let c = cidr(u, v6)?;
        let offset = if v6 {
            u.int_in_range(0..=c.prefix_len())?
        } else {
            0
        };
        Ok(FlowPrefix::with_offset(c, offset).expect("offset within length"))
    };
    let wanted: u16 = u.arbitrary()?;
    for kind in 1..=13u8 {
        if wanted & (1 << kind) == 0 {
            continue;
        }
        components.push(match kind {
            1 => Component::DestinationPrefix(prefix(u)?),
            2 => Component::SourcePrefix(prefix(u)?),
            3 => Component::IpProtocol(numeric(u, 255)?),
            4 => Component::Port(numeric(u, 65535)?),
            5 => Component::DestinationPort(numeric(u, 65535)?),
            6 => Component::SourcePort(numeric(u, 65535)?),
            7 => Component::IcmpType(numeric(u, 255)?),
            8 => Component::IcmpCode(numeric(u, 255)?),
            9 => Component::TcpFlags(bitmask(u, 0xffff)?),
            10 => Component::PacketLength(numeric(u, 65535)?),
            11 => Component::Dscp(numeric(u, 63)?),
            12 => Component::Fragment(bitmask(u, 0xff)?),
            _ => Component::FlowLabel(numeric(u, 0xf_ffff)?),
        });
    }
    Ok(FlowSpecRule::new(version, components))
}

fn action(u: &mut Unstructured) -> Result<FlowAction> {
    Ok(match u.int_in_range(0..=6)? {
        0 => FlowAction::TrafficRateBytes {
            asn: u.arbitrary()?,
            bytes_per_s: f32::from_bits(u.arbitrary()?),
        },
        1 => FlowAction::TrafficRatePackets {
            asn: u.arbitrary()?,
            packets_per_s: f32::from_bits(u.arbitrary()?),
        },
        2 => FlowAction::TrafficAction {
            sample: u.arbitrary()?,
            terminal: u.arbitrary()?,
        },
        3 => FlowAction::RedirectAs2 {
            asn: u.arbitrary()?,
            value: u.arbitrary()?,
        },
        4 => FlowAction::RedirectIpv4 {
            addr: Ipv4Addr::from(u.arbitrary::<u32>()?),
            value: u.arbitrary()?,
        },
        5 => FlowAction::RedirectAs4 {
            asn: u.arbitrary()?,
            value: u.arbitrary()?,
        },
        _ => FlowAction::TrafficMarking {
            dscp: u.int_in_range(0..=63)?,
        },
    })
}

fn route(u: &mut Unstructured) -> Result<Route> {
    if u.arbitrary()? {
        let v6: bool = u.arbitrary()?;
        Ok(Route::Unicast(UnicastRoute {
            prefix: cidr(u, v6)?,
            next_hop: addr(u, v6)?,
            attributes: attributes(u, false)?,
        }))
    } else {
        Ok(Route::FlowSpec(FlowSpecRoute {
            rule: rule(u)?,
            actions: (0..u.int_in_range(0..=3)?)
                .map(|_| action(u))
                .collect::<Result<_>>()?,
            attributes: attributes(u, true)?,
        }))
    }
}

fn messages(mut bytes: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    while !bytes.is_empty() {
        let f = frame(bytes).expect("well formed").expect("whole message");
        assert_eq!(f.kind, MessageType::Update);
        assert!(f.len <= MAX_MESSAGE_LEN);
        out.push(f.body);
        bytes = &bytes[f.len..];
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let Ok(local_as) = u.arbitrary::<u32>() else {
        return;
    };
    let Ok(ibgp) = u.arbitrary::<bool>() else {
        return;
    };
    let Ok(four_octet_as) = u.arbitrary::<bool>() else {
        return;
    };
    let local_as = local_as.max(1);
    let peer_as = if ibgp {
        local_as
    } else {
        local_as.wrapping_add(1).max(1)
    };
    let ctx = EncodeContext::new(local_as, peer_as, four_octet_as);

    // One route per key, as the speaker's table keeps them.
    let mut wanted: Vec<Route> = Vec::new();
    // Exhausted input yields defaults, not errors: stop when it is used up.
    while !u.is_empty() && wanted.len() < 64 {
        let Ok(r) = route(&mut u) else { break };
        if r.validate().is_ok() && !wanted.iter().any(|w| w.key() == r.key()) {
            wanted.push(r);
        }
    }

    let mut out = Vec::new();
    let done = encode_announcements(&ctx, &wanted, &mut out).expect("validated routes encode");
    assert_eq!(done.routes, wanted.len());
    let dctx = DecodeContext { four_octet_as };
    let mut got: HashMap<RouteKey, Route> = HashMap::new();
    let msgs = messages(&out);
    assert_eq!(msgs.len(), done.messages);
    for body in msgs {
        let upd = decode_update(body, &dctx).expect("our UPDATE decodes");
        let want_path: Vec<u32> = if ctx.ibgp { vec![] } else { vec![local_as] };
        assert_eq!(upd.as_path, want_path);
        for r in upd.routes() {
            assert!(got.insert(r.key(), r).is_none(), "route sent twice");
        }
    }
    assert_eq!(got.len(), wanted.len());
    for w in &wanted {
        let mut expect = w.clone();
        // LOCAL_PREF goes to iBGP peers only, 100 unless set.
        let a = expect.attributes_mut();
        a.local_pref = if ctx.ibgp {
            Some(a.local_pref.unwrap_or(100))
        } else {
            None
        };
        assert_eq!(got.get(&w.key()), Some(&expect));
    }

    let keys: Vec<RouteKey> = wanted.iter().map(Route::key).collect();
    out.clear();
    encode_withdrawals(&keys, &mut out).expect("validated routes withdraw");
    let mut withdrawn = Vec::new();
    for body in messages(&out) {
        let upd = decode_update(body, &dctx).expect("our withdrawal decodes");
        assert!(upd.announced.is_empty());
        withdrawn.extend(upd.withdrawn);
    }
    withdrawn.sort();
    let mut keys = keys;
    keys.sort();
    assert_eq!(withdrawn, keys);
});
