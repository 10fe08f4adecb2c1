//! Longest-prefix match for millions of prefixes: the prefixes are flattened into sorted,
//! disjoint address ranges, each naming its most specific prefix; a lookup is one bucket
//! read (by the top 16 bits) and a short binary search. Two flat arrays, no pointers.

/// The address types a [`PrefixMap`] holds: `u32` for IPv4, `u128` for IPv6.
pub trait Bits: Copy + Ord + std::fmt::Debug {
    const BITS: u8;
    const ZERO: Self;
    const MAX: Self;
    /// The top 16 bits, which pick the bucket.
    fn bucket(self) -> usize;
    /// The last address of the prefix `self/len` (`self` is masked).
    fn last(self, len: u8) -> Self;
    fn succ(self) -> Option<Self>;
    fn pred(self) -> Option<Self>;
}

impl Bits for u32 {
    const BITS: u8 = 32;
    const ZERO: Self = 0;
    const MAX: Self = u32::MAX;
    fn bucket(self) -> usize {
        (self >> 16) as usize
    }
    fn last(self, len: u8) -> Self {
        if len == 0 {
            u32::MAX
        } else if len >= 32 {
            self
        } else {
            self | (u32::MAX >> len)
        }
    }
    fn succ(self) -> Option<Self> {
        self.checked_add(1)
    }
    fn pred(self) -> Option<Self> {
        self.checked_sub(1)
    }
}

impl Bits for u128 {
    const BITS: u8 = 128;
    const ZERO: Self = 0;
    const MAX: Self = u128::MAX;
    fn bucket(self) -> usize {
        (self >> 112) as usize
    }
    fn last(self, len: u8) -> Self {
        if len == 0 {
            u128::MAX
        } else if len >= 128 {
            self
        } else {
            self | (u128::MAX >> len)
        }
    }
    fn succ(self) -> Option<Self> {
        self.checked_add(1)
    }
    fn pred(self) -> Option<Self> {
        self.checked_sub(1)
    }
}

/// "No prefix covers this range."
pub const NONE: u32 = u32::MAX;

const BUCKETS: usize = 1 << 16;

/// Prefixes flattened for lookup. Values are prefix numbers given by the caller.
#[derive(Debug, Clone)]
pub struct PrefixMap<A> {
    /// First address of each range, ascending; the first is always zero.
    starts: Vec<A>,
    /// The most specific prefix of each range, or [`NONE`].
    values: Vec<u32>,
    /// `index[b]..index[b + 1]`: the ranges starting in bucket `b`.
    index: Vec<u32>,
    /// For each prefix number, the next less specific prefix containing it, or [`NONE`].
    parents: Vec<u32>,
}

impl<A: Bits> Default for PrefixMap<A> {
    fn default() -> Self {
        Self::build(Vec::new())
    }
}

impl<A: Bits> PrefixMap<A> {
    /// Builds from `(masked address, length, prefix number)`. Prefix numbers must be
    /// distinct and below `u32::MAX`; duplicate prefixes must be merged by the caller.
    pub fn build(mut prefixes: Vec<(A, u8, u32)>) -> Self {
        let n_values = prefixes.iter().map(|p| p.2 as usize + 1).max().unwrap_or(0);
        // Less specific first when two start at the same address, so it is outside.
        prefixes.sort_unstable_by(|a, b| a.0.cmp(&b.0).then(a.1.cmp(&b.1)));
        let mut parents = vec![NONE; n_values];
        let mut starts: Vec<A> = Vec::with_capacity(prefixes.len() * 2 + 1);
        let mut values: Vec<u32> = Vec::with_capacity(prefixes.len() * 2 + 1);
        let mut push = |start: A, value: u32| {
            if values.last() == Some(&value) {
                return;
            }
            if starts.last() == Some(&start) {
                // An empty range before this one: replace it.
                values.pop();
                starts.pop();
                if values.last() == Some(&value) {
                    return;
                }
            }
            starts.push(start);
            values.push(value);
        };
        // Ranges open at the current position, innermost last: (last address, prefix).
        let mut stack: Vec<(A, u32)> = Vec::with_capacity(A::BITS as usize + 1);
        // Where the next range starts; None once the end of the space is passed.
        let mut pos = Some(A::ZERO);
        for &(start, len, id) in &prefixes {
            while let Some(&(last, top)) = stack.last() {
                if last >= start {
                    break;
                }
                // `top` ends before this prefix: the space up to its end belongs to it.
                if let Some(p) = pos {
                    if p <= last {
                        push(p, top);
                    }
                }
                pos = last.succ();
                stack.pop();
            }
            let outer = stack.last().map_or(NONE, |s| s.1);
            if let Some(p) = pos {
                if p < start {
                    push(p, outer);
                }
            }
            parents[id as usize] = outer;
            stack.push((start.last(len), id));
            pos = Some(start);
        }
        while let Some((last, top)) = stack.pop() {
            if let Some(p) = pos {
                if p <= last {
                    push(p, top);
                }
            }
            pos = last.succ();
        }
        if let Some(p) = pos {
            push(p, NONE);
        }
        if starts.is_empty() {
            starts.push(A::ZERO);
            values.push(NONE);
        }
        let mut index = vec![0u32; BUCKETS + 1];
        let mut r = 0usize;
        for (b, slot) in index.iter_mut().enumerate().take(BUCKETS) {
            while r < starts.len() && starts[r].bucket() < b {
                r += 1;
            }
            *slot = r as u32;
        }
        index[BUCKETS] = starts.len() as u32;
        starts.shrink_to_fit();
        values.shrink_to_fit();
        PrefixMap {
            starts,
            values,
            index,
            parents,
        }
    }

    /// The most specific prefix containing `addr`, or [`NONE`].
    #[inline]
    pub fn lookup(&self, addr: A) -> u32 {
        let b = addr.bucket();
        let lo = self.index[b] as usize;
        let hi = self.index[b + 1] as usize;
        // The range holding addr is the last one starting at or before it: inside this
        // bucket, or else the one that began in an earlier bucket and runs into it.
        let within = &self.starts[lo..hi];
        let n = within.partition_point(|s| *s <= addr);
        let i = if n == 0 {
            lo.wrapping_sub(1)
        } else {
            lo + n - 1
        };
        self.values.get(i).copied().unwrap_or(NONE)
    }

    /// The next less specific prefix containing prefix `id`.
    pub fn parent(&self, id: u32) -> u32 {
        self.parents.get(id as usize).copied().unwrap_or(NONE)
    }

    /// Ranges after flattening (for sizing and benchmarks).
    pub fn ranges(&self) -> usize {
        self.starts.len()
    }

    /// Approximate heap bytes.
    pub fn heap_bytes(&self) -> usize {
        self.starts.capacity() * std::mem::size_of::<A>()
            + (self.values.capacity() + self.index.capacity() + self.parents.capacity()) * 4
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn v4(s: &str) -> (u32, u8) {
        let (a, l) = s.split_once('/').unwrap();
        (
            u32::from(a.parse::<Ipv4Addr>().unwrap()),
            l.parse().unwrap(),
        )
    }

    /// The obvious answer: scan every prefix.
    fn naive(prefixes: &[(u32, u8, u32)], addr: u32) -> u32 {
        prefixes
            .iter()
            .filter(|(a, l, _)| addr >= *a && addr <= a.last(*l))
            .max_by_key(|(_, l, _)| *l)
            .map_or(NONE, |p| p.2)
    }

    #[test]
    fn last_address() {
        assert_eq!(0u32.last(0), u32::MAX);
        assert_eq!(0x0a00_0000u32.last(8), 0x0aff_ffff);
        assert_eq!(5u32.last(32), 5);
        assert_eq!(1u128.last(128), 1);
        assert_eq!(0u128.last(64), u64::MAX as u128);
    }

    #[test]
    fn nested_and_adjacent_prefixes() {
        let list = [
            "10.0.0.0/8",
            "10.1.0.0/16",
            "10.1.2.0/24",
            "10.1.2.3/32",
            "10.2.0.0/16",
            "192.0.2.0/24",
            "192.0.3.0/24",
            "0.0.0.0/0",
            "255.255.255.255/32",
        ];
        let prefixes: Vec<_> = list
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let (a, l) = v4(s);
                (a, l, i as u32)
            })
            .collect();
        let m = PrefixMap::build(prefixes.clone());
        for probe in [
            "10.1.2.3",
            "10.1.2.4",
            "10.1.3.0",
            "10.3.0.0",
            "11.0.0.0",
            "192.0.2.255",
            "192.0.3.0",
            "192.0.4.0",
            "0.0.0.0",
            "255.255.255.255",
            "255.255.255.254",
            "10.0.0.0",
        ] {
            let a = u32::from(probe.parse::<Ipv4Addr>().unwrap());
            assert_eq!(m.lookup(a), naive(&prefixes, a), "{probe}");
        }
        assert_eq!(m.parent(3), 2);
        assert_eq!(m.parent(2), 1);
        assert_eq!(m.parent(1), 0);
        assert_eq!(m.parent(0), 7);
        assert_eq!(m.parent(7), NONE);
        let empty = PrefixMap::<u32>::build(vec![]);
        assert_eq!(empty.lookup(12345), NONE);
    }

    #[test]
    fn random_prefixes_agree_with_a_scan() {
        // A small deterministic generator: no dependency, same cases every run.
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for round in 0..20 {
            let mut seen = std::collections::HashSet::new();
            let mut prefixes = Vec::new();
            for _ in 0..(50 + round * 20) {
                let len = (next() % 33) as u8;
                // Cluster addresses so that prefixes nest often.
                let a = if len == 0 {
                    0
                } else {
                    (next() as u32 & 0x0f0f_ffff) & (u32::MAX << (32 - len))
                };
                if seen.insert((a, len)) {
                    prefixes.push((a, len, prefixes.len() as u32));
                }
            }
            let m = PrefixMap::build(prefixes.clone());
            for _ in 0..2_000 {
                let a = (next() as u32) & 0x0f0f_ffff;
                assert_eq!(m.lookup(a), naive(&prefixes, a));
            }
            for &(a, l, _) in &prefixes {
                assert_eq!(m.lookup(a), naive(&prefixes, a));
                assert_eq!(m.lookup(a.last(l)), naive(&prefixes, a.last(l)));
            }
        }
    }

    #[test]
    fn ipv6() {
        let p = |s: &str| -> (u128, u8) {
            let (a, l) = s.split_once('/').unwrap();
            (
                u128::from(a.parse::<std::net::Ipv6Addr>().unwrap()),
                l.parse().unwrap(),
            )
        };
        let (a, l) = p("2001:db8::/32");
        let (b, m) = p("2001:db8:1::/48");
        let (c, n) = p("::/0");
        let (d, o) = p("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128");
        let map = PrefixMap::build(vec![(a, l, 0), (b, m, 1), (c, n, 2), (d, o, 3)]);
        assert_eq!(map.lookup(p("2001:db8:1::5/128").0), 1);
        assert_eq!(map.lookup(p("2001:db8:2::5/128").0), 0);
        assert_eq!(map.lookup(p("2001:db9::/128").0), 2);
        assert_eq!(map.lookup(u128::MAX), 3);
        assert_eq!(map.lookup(u128::MAX - 1), 2);
    }
}
