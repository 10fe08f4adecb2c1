//! Learned baselines: for each host and prefix that carries traffic, its usual packet and bit
//! rates for each hour of the week, so that a threshold can follow what is normal for that
//! address ("50 pps on a Tuesday morning") instead of one number for every host.
//!
//! Kept apart from the counting tables, in a store of its own with its own limit, so that the
//! per-address cost of counting stays small. Fed once per second per address at tick time,
//! never per record.

use foldhash::fast::FixedState;
use std::collections::HashMap;
use std::net::IpAddr;

/// Buckets of a profile: the hours of the week (UTC), Monday 00:00 first.
pub(crate) const BUCKETS: usize = 168;
const SECONDS_PER_BUCKET: u64 = 3600;
/// 1970-01-01 was a Thursday: three days after the Monday that starts bucket 0.
const EPOCH_HOUR_OF_WEEK: u64 = 3 * 24;

/// Levels are stored as log2(rate + 1) in 1/512 octaves: 0.14 % steps, rates up to 2^127.
const UNITS_PER_OCTAVE: f64 = 512.0;
/// The level is a running estimate of the 94th percentile of the per-second rates (the
/// "frugal" streaming quantile, in log space): each second above the level raises it by
/// `STEP_UP` (never past the rate seen), each below lowers it by `STEP_DOWN`, so it settles
/// where STEP_DOWN / (STEP_UP + STEP_DOWN) = 1/16 of the seconds lie above it. A high
/// quantile rather than a mean: the usual busy second, so that normal bursts do not alarm,
/// while a rare spike does not move it. Up by 2 % a second, down by 0.14 %: a quiet
/// stretch lowers a busy host's level only slowly.
const STEP_UP: u16 = 15;
const STEP_DOWN: u16 = 1;

/// A profile not fed for this long is stale: the address is gone, its slot may be reused.
const STALE_S: u64 = 28 * 86_400;
/// Profiles with at least this many observed seconds (an hour) are not evicted for a new
/// address unless stale: a sweep over many addresses must not wipe out learned baselines.
const ESTABLISHED_SECONDS: u32 = 3_600;
/// Profiles looked at, at random, to find one to evict when the store is full.
const EVICTION_SAMPLE: usize = 8;
/// When the store is full, a new address is let in (evicting another) one learning second
/// in this many, at random: a sweep of one-off addresses mostly passes by without churning
/// the store, while an address that keeps sending gets in within a minute or so.
const ADMIT_ODDS: u64 = 16;

/// (scope, address): the detector's counting scope (host or prefix, in or out) and the
/// address or masked prefix address.
pub(crate) type BaselineKey = (u8, IpAddr);

/// One hour of the week: the level of packets/s and bits/s and how many seconds back them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Bucket {
    pps: u16,
    bps: u16,
    seconds: u16,
}

/// 1,048 bytes: 168 buckets of 6 bytes and the key and times.
#[derive(Clone, Debug)]
struct Profile {
    key: BaselineKey,
    /// Unix seconds of the first and the latest learned second.
    first_s: u64,
    last_s: u64,
    /// Seconds learned in all buckets, saturating.
    seconds: u32,
    buckets: [Bucket; BUCKETS],
}

/// What a profile says about one hour of the week.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Level {
    pub pps: u64,
    pub bps: u64,
    /// Seconds learned in this hour of the week.
    pub seconds: u32,
    /// Seconds from the profile's first learned second to `now`.
    pub history_s: u64,
}

/// The hour of the week of a Unix second.
pub(crate) fn bucket_of(unix_s: u64) -> usize {
    ((unix_s / SECONDS_PER_BUCKET + EPOCH_HOUR_OF_WEEK) % BUCKETS as u64) as usize
}

fn encode(rate: u64) -> u16 {
    let units = ((rate as f64 + 1.0).log2() * UNITS_PER_OCTAVE).round();
    units.clamp(0.0, f64::from(u16::MAX)) as u16
}

fn decode(units: u16) -> u64 {
    let rate = (f64::from(units) / UNITS_PER_OCTAVE).exp2() - 1.0;
    rate.round().clamp(0.0, u64::MAX as f64) as u64
}

/// One frugal-quantile step of a level toward the observed rate.
fn step(level: u16, observed: u16) -> u16 {
    match observed.cmp(&level) {
        std::cmp::Ordering::Greater => level.saturating_add(STEP_UP).min(observed),
        std::cmp::Ordering::Less => level.saturating_sub(STEP_DOWN),
        std::cmp::Ordering::Equal => level,
    }
}

/// Bounded store of profiles: dense, with a hash index; full, it evicts a stale or barely
/// learned profile for a new address, or refuses the new one (counted).
#[derive(Debug)]
pub(crate) struct Baselines {
    /// Boxed: growing or evicting moves pointers, not kilobytes.
    #[allow(clippy::vec_box)]
    profiles: Vec<Box<Profile>>,
    index: HashMap<BaselineKey, u32, FixedState>,
    limit: usize,
    rng: u64,
    pub(crate) evicted: u64,
    pub(crate) refused: u64,
}

impl Baselines {
    pub(crate) fn new(limit: usize, seed: u64) -> Self {
        Baselines {
            profiles: Vec::new(),
            index: HashMap::with_hasher(FixedState::with_seed(seed)),
            limit: limit.max(1),
            rng: seed | 1,
            evicted: 0,
            refused: 0,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.profiles.len()
    }

    /// Heap bytes: the profiles (and the allocator's header of each), the list of them
    /// and the hash index (its slots and control bytes).
    pub(crate) fn bytes(&self) -> usize {
        self.profiles.len() * (size_of::<Profile>() + 16)
            + self.profiles.capacity() * size_of::<Box<Profile>>()
            + self.index.capacity() * (size_of::<(BaselineKey, u32)>() + 1)
    }

    /// The level for the hour of the week of `unix_s`, if the key has a profile.
    pub(crate) fn level(&self, key: BaselineKey, unix_s: u64) -> Option<Level> {
        let p = &self.profiles[*self.index.get(&key)? as usize];
        let b = p.buckets[bucket_of(unix_s)];
        Some(Level {
            pps: decode(b.pps),
            bps: decode(b.bps),
            seconds: u32::from(b.seconds),
            history_s: unix_s.saturating_sub(p.first_s),
        })
    }

    /// Learns the rates of the second starting at `unix_s`; a second already learned for
    /// this key (or an earlier one) is ignored. False when the store had no room.
    pub(crate) fn learn(&mut self, key: BaselineKey, unix_s: u64, pps: u64, bps: u64) -> bool {
        let i = match self.index.get(&key) {
            Some(&i) => i as usize,
            None => match self.admit(key, unix_s) {
                Some(i) => i,
                None => return false,
            },
        };
        let p = &mut self.profiles[i];
        if p.seconds > 0 && unix_s <= p.last_s {
            return true;
        }
        let b = &mut p.buckets[bucket_of(unix_s)];
        let (pps, bps) = (encode(pps), encode(bps));
        if b.seconds == 0 {
            (b.pps, b.bps) = (pps, bps);
        } else {
            b.pps = step(b.pps, pps);
            b.bps = step(b.bps, bps);
        }
        b.seconds = b.seconds.saturating_add(1);
        if p.seconds == 0 {
            p.first_s = unix_s;
        }
        p.seconds = p.seconds.saturating_add(1);
        p.last_s = unix_s;
        true
    }

    /// A fresh profile for `key`, evicting one if the store is full.
    fn admit(&mut self, key: BaselineKey, unix_s: u64) -> Option<usize> {
        if self.profiles.len() >= self.limit
            && (!self.random().is_multiple_of(ADMIT_ODDS) || !self.evict(unix_s))
        {
            self.refused += 1;
            return None;
        }
        if self.profiles.len() == self.profiles.capacity() {
            // Grow by doubling but never past the limit: no slack beyond it.
            let more = self
                .profiles
                .len()
                .max(16)
                .min(self.limit - self.profiles.len());
            self.profiles.reserve_exact(more);
        }
        let i = self.profiles.len();
        self.profiles.push(Box::new(Profile {
            key,
            first_s: unix_s,
            last_s: 0,
            seconds: 0,
            buckets: [Bucket::default(); BUCKETS],
        }));
        self.index.insert(key, i as u32);
        Some(i)
    }

    /// xorshift64: deterministic, so runs over the same input learn the same.
    fn random(&mut self) -> u64 {
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        self.rng
    }

    /// Evicts the least learned of a few profiles taken at random (stale ones count as
    /// unlearned), unless even that one is established.
    fn evict(&mut self, unix_s: u64) -> bool {
        let worth = |p: &Profile| {
            if unix_s.saturating_sub(p.last_s) > STALE_S {
                0
            } else {
                p.seconds
            }
        };
        let mut victim: Option<(usize, u32)> = None;
        for _ in 0..EVICTION_SAMPLE {
            let i = (self.random() % self.profiles.len() as u64) as usize;
            let w = worth(&self.profiles[i]);
            if victim.is_none_or(|(_, best)| w < best) {
                victim = Some((i, w));
            }
        }
        let Some((i, _)) = victim.filter(|&(_, w)| w < ESTABLISHED_SECONDS) else {
            return false;
        };
        let gone = self.profiles.swap_remove(i);
        self.index.remove(&gone.key);
        if let Some(moved) = self.profiles.get(i) {
            self.index.insert(moved.key, i as u32);
        }
        self.evicted += 1;
        true
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::net::Ipv4Addr;

    fn key(n: u32) -> BaselineKey {
        (0, IpAddr::V4(Ipv4Addr::from(n)))
    }

    /// 2026-11-23 (a Monday) 00:00:00 UTC.
    const MONDAY: u64 = 1_795_392_000;

    #[test]
    fn hours_of_the_week_start_on_monday() {
        assert_eq!(bucket_of(MONDAY), 0);
        assert_eq!(bucket_of(MONDAY + 3599), 0);
        assert_eq!(bucket_of(MONDAY + 3600), 1);
        assert_eq!(bucket_of(MONDAY - 1), 167);
        assert_eq!(bucket_of(MONDAY + 7 * 86_400 + 10 * 3600), 10);
        assert_eq!(size_of::<Profile>(), 1_048);
    }

    #[test]
    fn encoding_is_close() {
        for rate in [
            0u64,
            1,
            2,
            50,
            999,
            1_000,
            123_456,
            10_000_000_000,
            u64::MAX / 2,
        ] {
            let back = decode(encode(rate)) as f64;
            let err = (back - rate as f64).abs() / (rate as f64 + 1.0);
            assert!(err < 0.002, "{rate} -> {back}");
        }
    }

    #[test]
    fn level_settles_near_a_high_quantile_and_once_per_second() {
        let mut b = Baselines::new(10, 1);
        // 50 pps with one second in twenty at 100: a rare burst does not move the level.
        // One second in five at 100: that is the usual busy second, and the level.
        for s in 0..3_000u64 {
            let rare = if s % 20 == 0 { 100 } else { 50 };
            assert!(b.learn(key(1), MONDAY + s, rare, rare * 4_000));
            // The same second again changes nothing.
            b.learn(key(1), MONDAY + s, 1_000_000, 1);
            let often = if s % 5 == 0 { 100 } else { 50 };
            b.learn(key(4), MONDAY + s, often, 1);
        }
        let l = b.level(key(1), MONDAY + 3_000).unwrap();
        assert!((49..=56).contains(&l.pps), "{l:?}");
        assert_eq!(l.seconds, 3_000);
        assert_eq!(l.history_s, 3_000);
        let l = b.level(key(4), MONDAY + 3_000).unwrap();
        assert!((90..=100).contains(&l.pps), "{l:?}");
        // A steady rate is learned as itself.
        for s in 0..600u64 {
            b.learn(key(2), MONDAY + s, 50, 200_000);
        }
        let l = b.level(key(2), MONDAY + 600).unwrap();
        assert!((49..=52).contains(&l.pps), "{l:?}");
        assert!((196_000..=206_000).contains(&l.bps), "{l:?}");
        // Another hour of the week knows nothing yet.
        let other = b.level(key(2), MONDAY + 7_200).unwrap();
        assert_eq!(other.seconds, 0);
        assert!(b.level(key(3), MONDAY).is_none());
    }

    #[test]
    fn a_sweep_of_new_addresses_keeps_learned_profiles() {
        let mut b = Baselines::new(100, 7);
        // 50 established addresses, two hours of seconds each.
        for s in 0..7_200u64 {
            for k in 0..50 {
                b.learn(key(k), MONDAY + s, 50, 1);
            }
        }
        // A million new addresses, one second each.
        for k in 1_000..1_001_000u32 {
            b.learn(key(k), MONDAY + 7_200, 1, 1);
        }
        assert_eq!(b.len(), 100);
        assert!((0..50).all(|k| b.level(key(k), MONDAY).is_some()));
        // One in ADMIT_ODDS got in, each evicting a newcomer before it.
        assert!(b.evicted > 50_000 && b.evicted < 75_000, "{}", b.evicted);
        assert_eq!(b.evicted + b.refused + 100, 1_000_000 + 50);
        let bytes = b.bytes();
        assert!(bytes < 100 * 1_200 + 8_192, "{bytes}");
        // A month later, stale profiles give way.
        b.learn(key(7), MONDAY + 7_200 + STALE_S + 10, 1, 1);
        for k in 2_000_000..2_000_500u32 {
            b.learn(key(k), MONDAY + 7_200 + STALE_S + 10, 1, 1);
        }
        let kept = (0..50)
            .filter(|&k| b.level(key(k), MONDAY).is_some())
            .count();
        assert!(kept < 50, "{kept}");
        // Index and storage agree.
        for (i, p) in b.profiles.iter().enumerate() {
            assert_eq!(b.index[&p.key] as usize, i);
        }
        assert_eq!(b.index.len(), b.len());
    }

    #[test]
    fn full_of_established_profiles_refuses_and_counts() {
        let mut b = Baselines::new(4, 3);
        for s in 0..4_000u64 {
            for k in 0..4 {
                b.learn(key(k), MONDAY + s, 10, 1);
            }
        }
        assert!(!b.learn(key(99), MONDAY + 4_000, 10, 1));
        assert_eq!(b.refused, 1);
        assert!(b.level(key(99), MONDAY).is_none());
    }
}
