//! Address prefixes in CIDR form, for the protected address space and for attack targets
//! that are spread over a prefix.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

/// An address prefix such as `203.0.113.0/24`. The address is kept masked to its length, so
/// two spellings of one prefix compare equal. A bare address parses as a full-length prefix
/// and prints without the `/32` or `/128`, which is how a single-host target reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Cidr {
    addr: IpAddr,
    len: u8,
}

/// Why a CIDR string was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CidrError(String);

impl fmt::Display for CidrError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for CidrError {}

impl Cidr {
    /// The prefix of `len` bits containing `addr`; `None` when `len` is longer than the
    /// address.
    pub fn new(addr: IpAddr, len: u8) -> Option<Self> {
        let max = Self::max_len_of(addr);
        (len <= max).then(|| Cidr {
            addr: mask(addr, len),
            len,
        })
    }

    /// The single-address prefix of `addr`.
    pub fn host(addr: IpAddr) -> Self {
        Cidr {
            addr,
            len: Self::max_len_of(addr),
        }
    }

    pub const fn addr(&self) -> IpAddr {
        self.addr
    }

    pub const fn prefix_len(&self) -> u8 {
        self.len
    }

    /// True for a full-length prefix (one address).
    pub fn is_host(&self) -> bool {
        self.len == Self::max_len_of(self.addr)
    }

    pub fn contains(&self, addr: IpAddr) -> bool {
        match (self.addr, addr) {
            (IpAddr::V4(net), IpAddr::V4(a)) => {
                (u32::from(net) ^ u32::from(a)) & v4_mask(self.len) == 0
            }
            (IpAddr::V6(net), IpAddr::V6(a)) => {
                (u128::from(net) ^ u128::from(a)) & v6_mask(self.len) == 0
            }
            _ => false,
        }
    }

    const fn max_len_of(addr: IpAddr) -> u8 {
        match addr {
            IpAddr::V4(_) => 32,
            IpAddr::V6(_) => 128,
        }
    }
}

/// `addr` with every bit after the first `len` cleared.
pub fn mask(addr: IpAddr, len: u8) -> IpAddr {
    match addr {
        IpAddr::V4(a) => IpAddr::V4(Ipv4Addr::from(u32::from(a) & v4_mask(len))),
        IpAddr::V6(a) => IpAddr::V6(Ipv6Addr::from(u128::from(a) & v6_mask(len))),
    }
}

const fn v4_mask(len: u8) -> u32 {
    if len == 0 {
        0
    } else if len >= 32 {
        u32::MAX
    } else {
        u32::MAX << (32 - len)
    }
}

const fn v6_mask(len: u8) -> u128 {
    if len == 0 {
        0
    } else if len >= 128 {
        u128::MAX
    } else {
        u128::MAX << (128 - len)
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_host() {
            write!(f, "{}", self.addr)
        } else {
            write!(f, "{}/{}", self.addr, self.len)
        }
    }
}

impl FromStr for Cidr {
    type Err = CidrError;

    /// Host bits set below the length (`10.0.0.1/8`) are refused rather than masked: such a
    /// line in a protect list is more likely a typo than a wish.
    fn from_str(s: &str) -> Result<Self, CidrError> {
        let (addr, len) = match s.split_once('/') {
            Some((a, l)) => (a, Some(l)),
            None => (s, None),
        };
        let addr: IpAddr = addr
            .parse()
            .map_err(|_| CidrError(format!("`{s}` is not an address or a CIDR prefix")))?;
        let max = Cidr::max_len_of(addr);
        let len = match len {
            None => max,
            Some(l) => l
                .parse::<u8>()
                .ok()
                .filter(|&l| l <= max)
                .ok_or_else(|| CidrError(format!("`{s}`: prefix length must be 0..={max}")))?,
        };
        let cidr = Cidr {
            addr: mask(addr, len),
            len,
        };
        if cidr.addr != addr {
            return Err(CidrError(format!(
                "`{s}` has host bits set; did you mean {cidr}?"
            )));
        }
        Ok(cidr)
    }
}

impl Serialize for Cidr {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Cidr {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_prints_and_contains() {
        let net: Cidr = "203.0.113.0/24".parse().unwrap();
        assert_eq!(net.to_string(), "203.0.113.0/24");
        assert!(net.contains("203.0.113.77".parse().unwrap()));
        assert!(!net.contains("203.0.114.1".parse().unwrap()));
        assert!(!net.contains("2001:db8::1".parse().unwrap()));
        let host: Cidr = "2001:db8::1".parse().unwrap();
        assert!(host.is_host());
        assert_eq!(host.to_string(), "2001:db8::1");
        let all: Cidr = "0.0.0.0/0".parse().unwrap();
        assert!(all.contains("192.0.2.1".parse().unwrap()));
        assert!("10.0.0.1/8".parse::<Cidr>().is_err());
        assert!("10.0.0.0/33".parse::<Cidr>().is_err());
        assert!("nonsense".parse::<Cidr>().is_err());
        let p = Cidr::new("2001:db8:1:2:3::9".parse().unwrap(), 64).unwrap();
        assert_eq!(p.to_string(), "2001:db8:1:2::/64");
    }
}
