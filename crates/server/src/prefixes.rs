//! A set of address prefixes answering "is this address in it?" in O(log n): the protected
//! space and the exporter allow-list, asked for every record and datagram.

use rampart_model::Cidr;
use std::net::IpAddr;

/// Merged, sorted, non-overlapping ranges per address family.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PrefixSet {
    v4: Vec<(u128, u128)>,
    v6: Vec<(u128, u128)>,
}

fn merge(mut ranges: Vec<(u128, u128)>) -> Vec<(u128, u128)> {
    ranges.sort_unstable();
    let mut out: Vec<(u128, u128)> = Vec::with_capacity(ranges.len());
    for (lo, hi) in ranges {
        match out.last_mut() {
            Some(last) if lo <= last.1.saturating_add(1) => last.1 = last.1.max(hi),
            _ => out.push((lo, hi)),
        }
    }
    out
}

fn contains(ranges: &[(u128, u128)], x: u128) -> bool {
    let i = ranges.partition_point(|&(lo, _)| lo <= x);
    i > 0 && x <= ranges[i - 1].1
}

impl PrefixSet {
    pub fn new(prefixes: &[Cidr]) -> Self {
        let (mut v4, mut v6) = (Vec::new(), Vec::new());
        for p in prefixes {
            let len = u32::from(p.prefix_len());
            match p.addr() {
                IpAddr::V4(a) => {
                    let lo = u32::from(a);
                    let span = u32::MAX.checked_shr(len).unwrap_or(0);
                    v4.push((u128::from(lo), u128::from(lo | span)));
                }
                IpAddr::V6(a) => {
                    let lo = u128::from(a);
                    let span = u128::MAX.checked_shr(len).unwrap_or(0);
                    v6.push((lo, lo | span));
                }
            }
        }
        PrefixSet {
            v4: merge(v4),
            v6: merge(v6),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.v4.is_empty() && self.v6.is_empty()
    }

    #[inline]
    pub fn contains(&self, addr: IpAddr) -> bool {
        match addr {
            IpAddr::V4(a) => contains(&self.v4, u128::from(u32::from(a))),
            IpAddr::V6(a) => match a.to_ipv4_mapped() {
                Some(v4) => contains(&self.v4, u128::from(u32::from(v4))),
                None => contains(&self.v6, u128::from(a)),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(p: &[&str]) -> PrefixSet {
        PrefixSet::new(&p.iter().map(|s| s.parse().unwrap()).collect::<Vec<_>>())
    }

    #[test]
    fn contains_what_its_prefixes_cover() {
        let s = set(&[
            "203.0.113.0/24",
            "198.51.100.7",
            "203.0.113.128/25",
            "2001:db8:1::/48",
            "0.0.0.0/0",
        ]);
        assert!(
            s.contains("8.8.8.8".parse().unwrap()),
            "0/0 covers all IPv4"
        );
        let s = set(&["203.0.113.0/24", "198.51.100.7", "2001:db8:1::/48"]);
        for (a, want) in [
            ("203.0.113.0", true),
            ("203.0.113.255", true),
            ("203.0.114.0", false),
            ("198.51.100.7", true),
            ("198.51.100.8", false),
            ("::ffff:203.0.113.9", true),
            ("2001:db8:1:ffff::1", true),
            ("2001:db8:2::1", false),
        ] {
            assert_eq!(s.contains(a.parse().unwrap()), want, "{a}");
        }
        assert!(set(&[]).is_empty());
        assert!(!set(&[]).contains("1.2.3.4".parse().unwrap()));
        let all6 = set(&["::/0"]);
        assert!(all6.contains("2001:db8::1".parse().unwrap()));
    }

    #[test]
    fn adjacent_and_nested_ranges_merge() {
        let s = set(&[
            "10.0.0.0/25",
            "10.0.0.128/25",
            "10.0.0.64/26",
            "10.0.2.0/24",
        ]);
        assert_eq!(s.v4.len(), 2);
    }
}
