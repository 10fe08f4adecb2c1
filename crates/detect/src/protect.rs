//! The protected address space compiled for the per-record check: each prefix as an
//! integer network and mask of its family, so that a record costs a few integer compares
//! rather than a walk over `Cidr`s matching on address families.

use rampart_model::Cidr;
use std::net::IpAddr;

#[derive(Clone, Debug, Default)]
pub(crate) struct Protected {
    v4: Box<[(u32, u32)]>,
    v6: Box<[(u128, u128)]>,
}

impl Protected {
    pub(crate) fn new(list: &[Cidr]) -> Self {
        let mut v4 = Vec::new();
        let mut v6 = Vec::new();
        for c in list {
            let len = u32::from(c.prefix_len());
            match c.addr() {
                IpAddr::V4(a) => {
                    let mask = u32::MAX.checked_shl(32 - len.min(32)).unwrap_or(0);
                    v4.push((u32::from(a) & mask, mask));
                }
                IpAddr::V6(a) => {
                    let mask = u128::MAX.checked_shl(128 - len.min(128)).unwrap_or(0);
                    v6.push((u128::from(a) & mask, mask));
                }
            }
        }
        Protected {
            v4: v4.into_boxed_slice(),
            v6: v6.into_boxed_slice(),
        }
    }

    /// True when no prefix is listed (everything is protected inbound).
    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.v4.is_empty() && self.v6.is_empty()
    }

    /// Same answer as `Cidr::contains` over the list.
    #[inline]
    pub(crate) fn contains(&self, addr: IpAddr) -> bool {
        match addr {
            IpAddr::V4(a) => {
                let a = u32::from(a);
                self.v4.iter().any(|&(net, mask)| a & mask == net)
            }
            IpAddr::V6(a) => {
                let a = u128::from(a);
                self.v6.iter().any(|&(net, mask)| a & mask == net)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agrees_with_cidr_contains() {
        let list: Vec<Cidr> = [
            "203.0.113.0/24",
            "198.51.100.7",
            "0.0.0.0/0",
            "2001:db8:1::/48",
            "::/0",
            "10.0.0.0/8",
            "2001:db8::1",
        ]
        .iter()
        .map(|s| s.parse().unwrap_or_else(|e| panic!("{s}: {e}")))
        .collect();
        let addrs: Vec<IpAddr> = [
            "203.0.113.9",
            "203.0.114.9",
            "198.51.100.7",
            "198.51.100.8",
            "10.1.2.3",
            "2001:db8:1::5",
            "2001:db8:2::5",
            "2001:db8::1",
            "::ffff:203.0.113.9",
        ]
        .iter()
        .map(|s| s.parse().unwrap_or_else(|e| panic!("{s}: {e}")))
        .collect();
        // Every sub-list, so that the catch-all prefixes do not hide the others.
        for n in 0..1u32 << list.len() {
            let sub: Vec<Cidr> = (0..list.len())
                .filter(|i| n >> i & 1 == 1)
                .map(|i| list[i])
                .collect();
            let p = Protected::new(&sub);
            assert_eq!(p.is_empty(), sub.is_empty());
            for &a in &addrs {
                let want = sub.iter().any(|c| c.contains(a));
                assert_eq!(p.contains(a), want, "{a} in {sub:?}");
            }
        }
    }
}
