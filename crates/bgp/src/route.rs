//! The routes we announce: unicast prefixes (blackholes and diversions) and FlowSpec rules
//! with their actions, the path attributes the caller chooses, and the key that names a
//! route for withdrawal and replacement.

use crate::community::{Community, ExtendedCommunity, LargeCommunity};
use crate::family::Family;
use crate::flowspec::{FlowAction, FlowSpecRule, IpVersion, RuleError};
use rampart_model::Cidr;
use std::fmt;
use std::net::IpAddr;

/// ORIGIN (RFC 4271 §5.1.1). Routes we make up are IGP by convention.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Origin {
    #[default]
    Igp = 0,
    Egp = 1,
    Incomplete = 2,
}

/// Attributes a caller chooses. ORIGIN and AS_PATH are set by the session (our own AS for
/// eBGP, empty for iBGP); LOCAL_PREF goes to iBGP peers only (RFC 4271 §5.1.5), 100 when
/// not given.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Attributes {
    pub origin: Origin,
    pub med: Option<u32>,
    pub local_pref: Option<u32>,
    pub communities: Vec<Community>,
    pub large_communities: Vec<LargeCommunity>,
    /// Extended communities other than FlowSpec actions (those go in `FlowSpecRoute`).
    pub extended_communities: Vec<ExtendedCommunity>,
}

/// A unicast prefix with its next hop: a /32 or /128 blackhole, or a more-specific prefix
/// diverted to a scrubbing provider.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct UnicastRoute {
    pub prefix: Cidr,
    pub next_hop: IpAddr,
    pub attributes: Attributes,
}

/// A FlowSpec rule and what to do with the traffic it matches.
#[derive(Clone, Debug, PartialEq)]
pub struct FlowSpecRoute {
    pub rule: FlowSpecRule,
    pub actions: Vec<FlowAction>,
    pub attributes: Attributes,
}

/// One route we announce.
#[derive(Clone, Debug, PartialEq)]
pub enum Route {
    Unicast(UnicastRoute),
    FlowSpec(FlowSpecRoute),
}

/// What names a route: announcing a route with the same key replaces it, and withdrawing
/// takes only the key.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RouteKey {
    Unicast(Cidr),
    FlowSpec(FlowSpecRule),
}

/// Why a route cannot be announced.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RouteError {
    #[error("next hop {next_hop} is not of the family of {prefix}")]
    NextHopFamily { prefix: Cidr, next_hop: IpAddr },
    #[error("next hop {0} cannot be used (unspecified or multicast)")]
    BadNextHop(IpAddr),
    #[error("FlowSpec rule: {0}")]
    Rule(#[from] RuleError),
    #[error("FlowSpec action {0} is out of range (rate negative or not finite, DSCP over 63)")]
    Action(String),
    #[error("the route's attributes do not fit in one 4096-byte UPDATE")]
    TooLarge,
}

impl UnicastRoute {
    /// A route with no communities; add what the receiving network expects.
    pub fn new(prefix: Cidr, next_hop: IpAddr) -> Self {
        UnicastRoute {
            prefix,
            next_hop,
            attributes: Attributes::default(),
        }
    }
}

impl Route {
    /// A host route (/32 or /128) to `addr` carrying the RFC 7999 BLACKHOLE community.
    pub fn blackhole(addr: IpAddr, next_hop: IpAddr) -> Route {
        let mut r = UnicastRoute::new(Cidr::host(addr), next_hop);
        r.attributes.communities.push(Community::BLACKHOLE);
        Route::Unicast(r)
    }

    /// A FlowSpec rule with actions and no other attributes.
    pub fn flowspec(rule: FlowSpecRule, actions: Vec<FlowAction>) -> Route {
        Route::FlowSpec(FlowSpecRoute {
            rule,
            actions,
            attributes: Attributes::default(),
        })
    }

    pub fn key(&self) -> RouteKey {
        match self {
            Route::Unicast(u) => RouteKey::Unicast(u.prefix),
            Route::FlowSpec(f) => RouteKey::FlowSpec(f.rule.clone()),
        }
    }

    pub fn family(&self) -> Family {
        match self {
            Route::Unicast(u) => unicast_family(&u.prefix),
            Route::FlowSpec(f) => flowspec_family(&f.rule),
        }
    }

    pub fn attributes(&self) -> &Attributes {
        match self {
            Route::Unicast(u) => &u.attributes,
            Route::FlowSpec(f) => &f.attributes,
        }
    }

    pub fn attributes_mut(&mut self) -> &mut Attributes {
        match self {
            Route::Unicast(u) => &mut u.attributes,
            Route::FlowSpec(f) => &mut f.attributes,
        }
    }

    /// Everything a peer would refuse, or that cannot be encoded, found before sending.
    pub fn validate(&self) -> Result<(), RouteError> {
        match self {
            Route::Unicast(u) => {
                if u.prefix.addr().is_ipv4() != u.next_hop.is_ipv4() {
                    return Err(RouteError::NextHopFamily {
                        prefix: u.prefix,
                        next_hop: u.next_hop,
                    });
                }
                if u.next_hop.is_unspecified() || u.next_hop.is_multicast() {
                    return Err(RouteError::BadNextHop(u.next_hop));
                }
            }
            Route::FlowSpec(f) => {
                f.rule.validate()?;
                if let Some(a) = f.actions.iter().find(|a| !a.is_valid()) {
                    return Err(RouteError::Action(format!("{a:?}")));
                }
            }
        }
        // The largest context: eBGP with a 2-byte-only peer and a 4-byte local AS adds
        // AS4_PATH; iBGP adds LOCAL_PREF. Checking both covers every session.
        for ctx in [
            crate::update::EncodeContext::new(4_200_000_000, 1, false),
            crate::update::EncodeContext::new(1, 1, true),
        ] {
            if !crate::update::fits(&ctx, self) {
                return Err(RouteError::TooLarge);
            }
        }
        Ok(())
    }
}

impl RouteKey {
    pub fn family(&self) -> Family {
        match self {
            RouteKey::Unicast(p) => unicast_family(p),
            RouteKey::FlowSpec(r) => flowspec_family(r),
        }
    }
}

fn unicast_family(p: &Cidr) -> Family {
    if p.addr().is_ipv4() {
        Family::Ipv4Unicast
    } else {
        Family::Ipv6Unicast
    }
}

fn flowspec_family(r: &FlowSpecRule) -> Family {
    match r.version() {
        IpVersion::V4 => Family::Ipv4FlowSpec,
        IpVersion::V6 => Family::Ipv6FlowSpec,
    }
}

impl fmt::Display for RouteKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RouteKey::Unicast(p) => write!(f, "{p}"),
            RouteKey::FlowSpec(r) => write!(f, "{r}"),
        }
    }
}
