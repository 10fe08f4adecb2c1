//! Bounded state shared by the access detectors (auth, exfiltration, HTTP floods): a table
//! that never holds more than its limit (CLOCK eviction, counted), a small distinct counter
//! that is exact for a few values and estimated beyond, and the events they all return.

use crate::Phase;
use foldhash::fast::FixedState;
use rampart_model::Detection;
use std::collections::HashMap;
use std::hash::{BuildHasher, Hash};

/// For `reconfigure`: the keys that cannot change while the detector runs (table sizes,
/// hash seeds) and did, or nothing when none did.
pub(crate) fn unchangeable(keys: &[(&'static str, bool)]) -> Result<(), Vec<&'static str>> {
    let changed: Vec<&'static str> = keys
        .iter()
        .filter_map(|&(k, changed)| changed.then_some(k))
        .collect();
    if changed.is_empty() {
        Ok(())
    } else {
        Err(changed)
    }
}

/// A learned rate's weight of one window of `window_s` (at most `max_window_s`), for its
/// half-life: exponential smoothing that halves an old value's share every half-life.
pub(crate) fn half_life_weight(window_s: u64, half_life_s: u64, max_window_s: u64) -> f64 {
    let window = window_s.clamp(1, max_window_s) as f64;
    let half = half_life_s.max(1) as f64;
    1.0 - (-window / half).exp2()
}

/// What `poll_event` of the access detectors returns: one step of one detection.
#[derive(Clone, Debug, PartialEq)]
pub struct DetectionEvent {
    /// Stable for the detection's life, unique within one detector.
    pub id: u64,
    pub phase: Phase,
    pub detection: Detection,
}

#[derive(Debug)]
struct Slot<K, V> {
    key: K,
    value: V,
    /// Touched since the clock hand last passed: spared once.
    referenced: bool,
}

/// A map of at most `max` entries. A new key, when full, takes the slot of the first entry
/// the CLOCK hand finds neither recently touched nor pinned (second-chance LRU, O(1)
/// amortised, deterministic); when every entry is pinned the new key is refused.
#[derive(Debug)]
pub(crate) struct Bounded<K, V> {
    index: HashMap<K, u32, FixedState>,
    slots: Vec<Slot<K, V>>,
    hand: usize,
    max: usize,
    pub(crate) evicted: u64,
    pub(crate) refused: u64,
}

impl<K: Copy + Eq + Hash, V> Bounded<K, V> {
    pub(crate) fn new(max: usize, seed: u64) -> Self {
        Bounded {
            index: HashMap::with_hasher(FixedState::with_seed(seed)),
            slots: Vec::new(),
            hand: 0,
            max: max.max(1),
            evicted: 0,
            refused: 0,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.slots.len()
    }

    /// Heap bytes, roughly: the slots and the index.
    pub(crate) fn bytes(&self) -> usize {
        self.slots.capacity() * size_of::<Slot<K, V>>()
            + self.index.capacity() * (size_of::<(K, u32)>() + 1)
    }

    #[inline]
    pub(crate) fn get_mut(&mut self, key: &K) -> Option<&mut V> {
        let i = *self.index.get(key)? as usize;
        let s = &mut self.slots[i];
        s.referenced = true;
        Some(&mut s.value)
    }

    pub(crate) fn get(&self, key: &K) -> Option<&V> {
        self.index.get(key).map(|&i| &self.slots[i as usize].value)
    }

    /// The entry of `key`, made by `make` when absent (evicting one when full, called with
    /// the evicted entry); `None` when full and every entry is pinned.
    #[inline]
    pub(crate) fn entry(
        &mut self,
        key: K,
        make: impl FnOnce() -> V,
        pinned: impl Fn(&V) -> bool,
    ) -> Option<&mut V> {
        if let Some(&i) = self.index.get(&key) {
            let s = &mut self.slots[i as usize];
            s.referenced = true;
            return Some(&mut s.value);
        }
        if self.slots.len() < self.max {
            self.index.insert(key, self.slots.len() as u32);
            self.slots.push(Slot {
                key,
                value: make(),
                referenced: false,
            });
            return self.slots.last_mut().map(|s| &mut s.value);
        }
        let n = self.slots.len();
        // Two turns: the first clears every reference bit, the second must find a victim
        // unless all are pinned.
        for _ in 0..2 * n {
            let i = self.hand;
            self.hand = (self.hand + 1) % n;
            let s = &mut self.slots[i];
            if pinned(&s.value) {
                continue;
            }
            if s.referenced {
                s.referenced = false;
                continue;
            }
            self.index.remove(&s.key);
            self.index.insert(key, i as u32);
            *s = Slot {
                key,
                value: make(),
                referenced: false,
            };
            self.evicted += 1;
            return Some(&mut self.slots[i].value);
        }
        self.refused += 1;
        None
    }
}

/// Values counted exactly.
const EXACT: usize = 8;
/// Bits of linear counting beyond: within ±10% up to a few hundred distinct values.
const SKETCH_WORDS: usize = 4;
const SKETCH_BITS: f64 = (SKETCH_WORDS * 64) as f64;

/// Distinct values of a stream of 64-bit hashes: exact up to 8, then estimated by 256-bit
/// linear counting (Whang et al., 1990). 72 bytes, whatever the number of values.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Distinct {
    exact: [u32; EXACT],
    n: u8,
    bits: [u64; SKETCH_WORDS],
}

impl Distinct {
    /// Counts a value; true when it was new (for sure while exact, likely beyond).
    #[inline]
    pub(crate) fn insert(&mut self, h: u64) -> bool {
        let bit = (h & 0xff) as usize;
        let (w, b) = (bit / 64, bit % 64);
        let was_set = self.bits[w] >> b & 1 == 1;
        self.bits[w] |= 1 << b;
        let tag = (h >> 32) as u32;
        let n = self.n as usize;
        if n <= EXACT {
            if self.exact[..n.min(EXACT)].contains(&tag) {
                return false;
            }
            if n < EXACT {
                self.exact[n] = tag;
            }
            self.n += 1;
            return true;
        }
        !was_set
    }

    /// Distinct values so far.
    pub(crate) fn count(&self) -> u64 {
        if (self.n as usize) <= EXACT {
            return u64::from(self.n);
        }
        let ones: u32 = self.bits.iter().map(|w| w.count_ones()).sum();
        let zeros = (SKETCH_BITS - f64::from(ones)).max(1.0);
        let estimate = SKETCH_BITS * (SKETCH_BITS / zeros).ln();
        (estimate.round() as u64).max(EXACT as u64 + 1)
    }
}

/// Murmur3's 64-bit finaliser, for hashes whose low bits index sketches.
#[inline]
pub(crate) fn mix(mut x: u64) -> u64 {
    x ^= x >> 33;
    x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
    x ^= x >> 33;
    x = x.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    x ^ x >> 33
}

/// A seeded hash of anything hashable, mixed.
#[inline]
pub(crate) fn hash_of<T: Hash + ?Sized>(hasher: &FixedState, v: &T) -> u64 {
    mix(hasher.hash_one(v))
}

/// 0.5 at the threshold, rising to 1.0 at eight times it.
pub(crate) fn confidence_over(count: f64, threshold: f64) -> f64 {
    if threshold <= 0.0 {
        return 1.0;
    }
    let ratio = (count / threshold).max(1.0);
    (0.5 + ratio.log2() / 6.0).clamp(0.5, 1.0)
}

/// Rounded to two decimals, so that JSON stays readable.
pub(crate) fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_evicts_unreferenced_first_and_refuses_when_all_pinned() {
        let mut t: Bounded<u32, u32> = Bounded::new(3, 1);
        for k in 0..3 {
            *t.entry(k, || k * 10, |_| false).unwrap() += 1;
        }
        // New entries start unreferenced; a touch spares one once.
        t.get_mut(&0);
        t.get_mut(&2);
        t.entry(3, || 30, |_| false).unwrap();
        assert!(t.get(&1).is_none(), "the one not touched goes");
        assert_eq!(t.evicted, 1);
        assert_eq!(t.len(), 3);
        assert!(t.entry(4, || 40, |_| true).is_none());
        assert_eq!(t.refused, 1);
        assert_eq!(t.get(&3), Some(&30));
        assert_eq!(t.get(&2), Some(&21));
    }

    #[test]
    fn distinct_is_exact_for_few_and_close_for_many() {
        let h = FixedState::with_seed(7);
        let mut d = Distinct::default();
        for i in 0..8u32 {
            assert!(d.insert(hash_of(&h, &i)));
            assert!(!d.insert(hash_of(&h, &i)));
        }
        assert_eq!(d.count(), 8);
        for i in 8..100u32 {
            d.insert(hash_of(&h, &i));
        }
        let c = d.count() as f64;
        assert!((85.0..=115.0).contains(&c), "{c}");
    }

    #[test]
    fn confidence_grows_with_excess() {
        assert_eq!(confidence_over(5.0, 5.0), 0.5);
        assert_eq!(confidence_over(40.0, 5.0), 1.0);
        assert!(confidence_over(10.0, 5.0) > 0.6);
    }
}
