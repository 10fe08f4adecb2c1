//! The address families (AFI/SAFI pairs, RFC 4760) this speaker announces, with the names
//! the configuration uses for them.

use serde::{Deserialize, Serialize};
use std::fmt;

pub(crate) const AFI_IPV4: u16 = 1;
pub(crate) const AFI_IPV6: u16 = 2;
pub(crate) const SAFI_UNICAST: u8 = 1;
pub(crate) const SAFI_FLOWSPEC: u8 = 133;

/// A family we can negotiate and announce in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Family {
    /// IPv4 unicast (AFI 1, SAFI 1), `"ipv4"`.
    #[serde(rename = "ipv4")]
    Ipv4Unicast,
    /// IPv6 unicast (AFI 2, SAFI 1), `"ipv6"`.
    #[serde(rename = "ipv6")]
    Ipv6Unicast,
    /// IPv4 FlowSpec (AFI 1, SAFI 133, RFC 8955), `"flow4"`.
    #[serde(rename = "flow4")]
    Ipv4FlowSpec,
    /// IPv6 FlowSpec (AFI 2, SAFI 133, RFC 8956), `"flow6"`.
    #[serde(rename = "flow6")]
    Ipv6FlowSpec,
}

impl Family {
    pub const ALL: [Family; 4] = [
        Family::Ipv4Unicast,
        Family::Ipv6Unicast,
        Family::Ipv4FlowSpec,
        Family::Ipv6FlowSpec,
    ];

    pub const fn afi(self) -> u16 {
        match self {
            Family::Ipv4Unicast | Family::Ipv4FlowSpec => AFI_IPV4,
            Family::Ipv6Unicast | Family::Ipv6FlowSpec => AFI_IPV6,
        }
    }

    pub const fn safi(self) -> u8 {
        match self {
            Family::Ipv4Unicast | Family::Ipv6Unicast => SAFI_UNICAST,
            Family::Ipv4FlowSpec | Family::Ipv6FlowSpec => SAFI_FLOWSPEC,
        }
    }

    pub fn from_afi_safi(afi: u16, safi: u8) -> Option<Self> {
        Family::ALL
            .into_iter()
            .find(|f| f.afi() == afi && f.safi() == safi)
    }

    /// The configuration name: `ipv4`, `ipv6`, `flow4` or `flow6`.
    pub const fn name(self) -> &'static str {
        match self {
            Family::Ipv4Unicast => "ipv4",
            Family::Ipv6Unicast => "ipv6",
            Family::Ipv4FlowSpec => "flow4",
            Family::Ipv6FlowSpec => "flow6",
        }
    }
}

impl fmt::Display for Family {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn afi_safi_round_trip_and_names() {
        for f in Family::ALL {
            assert_eq!(Family::from_afi_safi(f.afi(), f.safi()), Some(f));
            let json = serde_json::to_string(&f).unwrap();
            assert_eq!(json, format!("\"{}\"", f.name()));
        }
        assert_eq!(Family::from_afi_safi(1, 2), None);
    }
}
