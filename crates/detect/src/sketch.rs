//! Space-Saving heavy hitters (Metwally et al., 2005): the top keys of a stream in N fixed
//! slots. Every count overestimates by at most its `err`, so `count - err` is a sure floor.

/// A sketch's counter: `u64` for weights scaled by sampling rates, `u32` where each key
/// adds one at a time and the sketch lives one window (half the bytes, fewer cache lines).
/// Counts saturate.
pub(crate) trait Count: Copy + Ord + Default + std::ops::Sub<Output = Self> {
    fn plus(self, weight: u64) -> Self;
    fn wide(self) -> u64;
}

impl Count for u64 {
    #[inline]
    fn plus(self, weight: u64) -> Self {
        self.saturating_add(weight)
    }
    #[inline]
    fn wide(self) -> u64 {
        self
    }
}

impl Count for u32 {
    #[inline]
    fn plus(self, weight: u64) -> Self {
        self.saturating_add(u32::try_from(weight).unwrap_or(u32::MAX))
    }
    #[inline]
    fn wide(self) -> u64 {
        u64::from(self)
    }
}

/// N counters; a new key takes over the smallest one. Memory never grows, whatever the
/// number of distinct keys (a spoofed-source flood has millions). N is at most 255.
#[derive(Clone, Debug)]
pub(crate) struct SpaceSaving<K, const N: usize, C = u64> {
    keys: [K; N],
    counts: [C; N],
    errs: [C; N],
    total: C,
    len: u8,
}

impl<K: Copy + Eq, const N: usize, C: Count> SpaceSaving<K, N, C> {
    /// An empty sketch; `fill` only initialises unused slots.
    pub(crate) fn new(fill: K) -> Self {
        const { assert!(N <= u8::MAX as usize) };
        SpaceSaving {
            keys: [fill; N],
            counts: [C::default(); N],
            errs: [C::default(); N],
            total: C::default(),
            len: 0,
        }
    }

    /// Counts `weight` for `key`; true when the key already held a slot.
    #[inline]
    pub(crate) fn add(&mut self, key: K, weight: u64) -> bool {
        self.total = self.total.plus(weight);
        let len = usize::from(self.len);
        if let Some(i) = self.keys[..len].iter().position(|&k| k == key) {
            self.counts[i] = self.counts[i].plus(weight);
            return true;
        }
        if len < N {
            self.keys[len] = key;
            self.counts[len] = C::default().plus(weight);
            self.errs[len] = C::default();
            self.len += 1;
            return false;
        }
        // The first of the smallest counts, found in two passes that need no carried index
        // (so they vectorise) rather than one that compares against the running minimum.
        let least = self.counts.iter().copied().min().unwrap_or_default();
        let min = self.counts.iter().position(|&c| c == least).unwrap_or(0);
        self.keys[min] = key;
        self.errs[min] = self.counts[min];
        self.counts[min] = self.counts[min].plus(weight);
        false
    }

    /// Weight added since the sketch was made.
    pub(crate) fn total(&self) -> u64 {
        self.total.wide()
    }

    /// Sum of the sure floors: how much of the stream the tracked keys certainly carry. Near
    /// zero when the stream has far more distinct keys than slots.
    pub(crate) fn guaranteed(&self) -> u64 {
        (0..usize::from(self.len))
            .map(|i| (self.counts[i] - self.errs[i]).wide())
            .fold(0, u64::saturating_add)
    }

    /// Up to `n` keys that certainly carry at least `min_share` of the stream, with their
    /// estimated counts, heaviest first (ties by slot, so runs are reproducible). The floor
    /// keeps the noise of a random-port flood, whose slots hold whatever came last, out.
    pub(crate) fn top(&self, n: usize, min_share: f64) -> Vec<(K, u64)> {
        let floor = (self.total.wide() as f64 * min_share) as u64;
        let mut idx: Vec<usize> = (0..usize::from(self.len))
            .filter(|&i| (self.counts[i] - self.errs[i]).wide() >= floor.max(2))
            .collect();
        idx.sort_by(|&a, &b| self.counts[b].cmp(&self.counts[a]).then(a.cmp(&b)));
        idx.into_iter()
            .take(n)
            .map(|i| (self.keys[i], self.counts[i].wide()))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_heavy_hitters_among_noise() {
        let mut s = SpaceSaving::<u32, 8>::new(0);
        for i in 0..10_000u32 {
            s.add(1_000_000 + i, 1); // noise: all distinct
            if i % 2 == 0 {
                s.add(7, 1);
            }
            if i % 5 == 0 {
                s.add(9, 1);
            }
        }
        let top = s.top(2, 0.01);
        assert_eq!(top.len(), 2, "noise stays out");
        assert_eq!(top[0].0, 7);
        assert_eq!(top[1].0, 9);
        assert!(top[0].1 >= 5_000);
        assert_eq!(s.total(), 10_000 + 5_000 + 2_000);
        assert!(s.guaranteed() < s.total() / 2);
    }
}
