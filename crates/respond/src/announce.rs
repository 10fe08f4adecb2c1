//! What a mitigation is in BGP: a blackhole host route with the BLACKHOLE community, a
//! diverted prefix with the scrubbing provider's communities, or FlowSpec rules with their
//! action, all as `[respond]` configures them.

use crate::config::RespondConfig;
use rampart_bgp::{
    fragment, AnyCommunity, Attributes, BitmaskOp, Component, FlowAction as BgpAction, FlowPrefix,
    FlowSpecRule, IpVersion, NumericOp, Route, UnicastRoute,
};
use rampart_model::{ActionKind, FlowAction, FlowRule, Mitigation};
use std::net::IpAddr;

/// Standard and large communities from their config strings (validated at load).
fn attributes(communities: &[String]) -> Attributes {
    let mut a = Attributes::default();
    for c in communities {
        match c.parse::<AnyCommunity>() {
            Ok(AnyCommunity::Standard(s)) => a.communities.push(s),
            Ok(AnyCommunity::Large(l)) => a.large_communities.push(l),
            Err(_) => {}
        }
    }
    a
}

fn next_hop(
    v4: Option<IpAddr>,
    v6: Option<IpAddr>,
    for_v6: bool,
    key: &str,
) -> Result<IpAddr, String> {
    let hop = if for_v6 { v6 } else { v4 };
    hop.ok_or_else(|| {
        format!(
            "respond.{key}{} is not set: a route needs a next hop",
            if for_v6 { "_v6" } else { "" }
        )
    })
}

fn action(a: FlowAction) -> BgpAction {
    match a {
        FlowAction::Discard => BgpAction::DISCARD,
        FlowAction::RateLimit { bytes_per_s } => BgpAction::rate_limit(bytes_per_s),
        FlowAction::Redirect { asn, value } => BgpAction::RedirectAs2 { asn, value },
        FlowAction::Mark { dscp } => BgpAction::TrafficMarking { dscp },
    }
}

fn values(v: &[u16]) -> Vec<NumericOp> {
    v.iter().map(|&x| NumericOp::eq(u64::from(x))).collect()
}

/// The FlowSpec rule of one of our filters.
pub fn flowspec_rule(r: &FlowRule) -> FlowSpecRule {
    let v6 = r.destination.addr().is_ipv6();
    let mut c = vec![Component::DestinationPrefix(FlowPrefix::new(r.destination))];
    if let Some(src) = r.source {
        c.push(Component::SourcePrefix(FlowPrefix::new(src)));
    }
    if !r.protocols.is_empty() {
        c.push(Component::IpProtocol(
            r.protocols
                .iter()
                .map(|&p| NumericOp::eq(u64::from(p)))
                .collect(),
        ));
    }
    if !r.source_ports.is_empty() {
        c.push(Component::SourcePort(values(&r.source_ports)));
    }
    if !r.destination_ports.is_empty() {
        c.push(Component::DestinationPort(values(&r.destination_ports)));
    }
    if let Some(f) = r.tcp_flags {
        let mut ops = Vec::new();
        if f.set != 0 {
            ops.push(BitmaskOp::all(u16::from(f.set)));
        }
        if f.unset != 0 {
            let none = BitmaskOp::none(u16::from(f.unset));
            ops.push(if ops.is_empty() { none } else { none.and() });
        }
        c.push(Component::TcpFlags(ops));
    }
    if let Some((lo, hi)) = r.packet_length {
        let [a, b] = NumericOp::range(u64::from(lo), u64::from(hi));
        c.push(Component::PacketLength(vec![a, b]));
    }
    if r.fragments {
        c.push(Component::Fragment(vec![BitmaskOp::any(
            fragment::IS_FRAGMENT,
        )]));
    }
    FlowSpecRule::new(if v6 { IpVersion::V6 } else { IpVersion::V4 }, c)
}

/// The routes that carry a mitigation; an error says what configuration is missing.
/// Bans are not BGP's: none.
pub fn routes_for(m: &Mitigation, cfg: &RespondConfig) -> Result<Vec<Route>, String> {
    let v6 = m.target.addr().is_ipv6();
    let routes = match m.kind {
        ActionKind::Blackhole => {
            let b = &cfg.blackhole;
            let hop = next_hop(b.next_hop, b.next_hop_v6, v6, "blackhole.next_hop")?;
            vec![Route::Unicast(UnicastRoute {
                prefix: m.target,
                next_hop: hop,
                attributes: attributes(&b.communities),
            })]
        }
        ActionKind::Divert => {
            let d = &cfg.divert;
            let hop = next_hop(d.next_hop, d.next_hop_v6, v6, "divert.next_hop")?;
            vec![Route::Unicast(UnicastRoute {
                prefix: m.target,
                next_hop: hop,
                attributes: attributes(&d.communities),
            })]
        }
        ActionKind::Flowspec => m
            .rules
            .iter()
            .map(|r| Route::flowspec(flowspec_rule(r), vec![action(r.action)]))
            .collect(),
        ActionKind::Ban => Vec::new(),
    };
    for r in &routes {
        r.validate().map_err(|e| e.to_string())?;
    }
    Ok(routes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rampart_model::{MitigationState, TcpFlags, Timestamp};

    fn mitigation(kind: ActionKind, target: &str, rules: Vec<FlowRule>) -> Mitigation {
        Mitigation {
            id: 1,
            kind,
            target: target.parse().unwrap(),
            rules,
            detection_id: None,
            reason: String::new(),
            requested_by: "test".into(),
            approved_by: None,
            created: Timestamp::EPOCH,
            expires: Timestamp::EPOCH,
            state: MitigationState::Active,
            dry_run: false,
        }
    }

    #[test]
    fn blackholes_carry_the_configured_communities_and_need_a_next_hop() {
        let mut cfg = RespondConfig::default();
        let m = mitigation(ActionKind::Blackhole, "203.0.113.10", vec![]);
        let e = routes_for(&m, &cfg).unwrap_err();
        assert!(e.contains("respond.blackhole.next_hop"), "{e}");
        cfg.blackhole.next_hop = Some("192.0.2.1".parse().unwrap());
        cfg.blackhole.communities.push("65001:666:1".into());
        let r = routes_for(&m, &cfg).unwrap();
        let Route::Unicast(u) = &r[0] else { panic!() };
        assert_eq!(u.prefix.to_string(), "203.0.113.10");
        assert_eq!(
            u.attributes.communities,
            [rampart_bgp::Community::BLACKHOLE]
        );
        assert_eq!(u.attributes.large_communities.len(), 1);
        let v6 = mitigation(ActionKind::Blackhole, "2001:db8::1", vec![]);
        assert!(routes_for(&v6, &cfg).unwrap_err().contains("next_hop_v6"));
    }

    #[test]
    fn diversions_announce_the_prefix_with_the_scrubbing_communities() {
        let mut cfg = RespondConfig::default();
        cfg.divert.communities = vec!["64500:100".into()];
        cfg.divert.next_hop = Some("192.0.2.9".parse().unwrap());
        let m = mitigation(ActionKind::Divert, "203.0.113.0/24", vec![]);
        let r = routes_for(&m, &cfg).unwrap();
        let Route::Unicast(u) = &r[0] else { panic!() };
        assert_eq!(u.prefix.to_string(), "203.0.113.0/24");
        assert_eq!(u.next_hop.to_string(), "192.0.2.9");
        assert_eq!(u.attributes.communities.len(), 1);
        assert!(!u
            .attributes
            .communities
            .contains(&rampart_bgp::Community::BLACKHOLE));
    }

    #[test]
    fn flowspec_rules_become_valid_flowspec_routes() {
        let mut syn = FlowRule::toward("203.0.113.10".parse().unwrap(), FlowAction::Discard);
        syn.protocols = vec![6];
        syn.tcp_flags = Some(TcpFlags {
            set: 0x02,
            unset: 0x10,
        });
        let mut dns = FlowRule::toward(
            "2001:db8::53".parse().unwrap(),
            FlowAction::RateLimit { bytes_per_s: 1e6 },
        );
        dns.protocols = vec![17];
        dns.source_ports = vec![53];
        dns.packet_length = Some((512, 65_535));
        let mut frag = FlowRule::toward("203.0.113.0/24".parse().unwrap(), FlowAction::Discard);
        frag.fragments = true;
        let m = mitigation(ActionKind::Flowspec, "203.0.113.10", vec![syn, dns, frag]);
        let routes = routes_for(&m, &RespondConfig::default()).unwrap();
        assert_eq!(routes.len(), 3);
        let Route::FlowSpec(f) = &routes[0] else {
            panic!()
        };
        assert_eq!(f.actions, [BgpAction::DISCARD]);
        assert_eq!(f.rule.components().len(), 3);
        let Route::FlowSpec(f) = &routes[1] else {
            panic!()
        };
        assert_eq!(f.rule.version(), IpVersion::V6);
        assert_eq!(f.actions, [BgpAction::rate_limit(1e6)]);
        assert!(routes_for(
            &mitigation(ActionKind::Ban, "192.0.2.1", vec![]),
            &RespondConfig::default()
        )
        .unwrap()
        .is_empty());
    }
}
