//! Per-address rate counters with a hard size limit. Each entry is a ring of packet and byte
//! counts per `tick_ms` slot. Entries sit densely in fixed-size chunks and are found through
//! an open-addressing index of 4-byte slots, so a tracked address costs its entry plus about
//! five bytes of index; the least recently active unpinned entry is evicted when full.

use foldhash::fast::FixedState;
use std::hash::{BuildHasher, Hash};

/// Ring length in slots: one second at the shortest tick (100 ms).
pub(crate) const SLOTS: usize = 10;
/// `Entry::watch` when the entry has no close watch (so at most 65,535 watches).
pub(crate) const NO_WATCH: u16 = u16::MAX;

/// Bits of `Entry::head` holding the slot number; the two above hold the flags. 2^29 slots
/// either side of the clock is 621 days at 100 ms ticks: a head further from the clock than
/// that (an address silent for longer) aliases, at worst reading one stale second once.
const HEAD_BITS: u32 = 30;
const HEAD_MASK: u32 = (1 << HEAD_BITS) - 1;
/// Touched since the last tick: on the list of entries to evaluate.
pub(crate) const DIRTY: u32 = 1 << 30;
/// Under attack: never evicted.
pub(crate) const ATTACKED: u32 = 1 << 31;

/// What an address is stored as: `u32` for IPv4, four words for IPv6 (not `u128`, whose
/// 16-byte alignment would pad every entry).
pub(crate) trait Key: Copy + Eq + Hash + Default {}
impl Key for u32 {}
impl Key for [u32; 4] {}

/// One tracked address. 92 bytes with an IPv4 key, 104 with an IPv6 one.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Entry<K> {
    pub key: K,
    /// Slot number (time / tick, low `HEAD_BITS` bits) of the newest slot in the ring, and
    /// the `DIRTY` and `ATTACKED` flags above it.
    head: u32,
    /// Index into the watch slab, or `NO_WATCH`.
    pub watch: u16,
    /// Slots the address's data lagged behind the clock when it last arrived. The window
    /// is read that far back, so telemetry that is always late (flow exporters) still adds
    /// up, and it slides on with the clock once data stops coming.
    pub lag: u16,
    pub packets: [u32; SLOTS],
    pub bytes: [u32; SLOTS],
}

impl<K> Entry<K> {
    /// The newest slot, truncated; `unwrap_slot` gives it back in full.
    #[inline]
    pub(crate) fn head(&self) -> u32 {
        self.head & HEAD_MASK
    }
    #[inline]
    pub(crate) fn set_head(&mut self, slot: u64) {
        self.head = (self.head & !HEAD_MASK) | (slot as u32 & HEAD_MASK);
    }
    #[inline]
    pub(crate) fn has(&self, flag: u32) -> bool {
        self.head & flag != 0
    }
    #[inline]
    pub(crate) fn set(&mut self, flag: u32, on: bool) {
        if on {
            self.head |= flag;
        } else {
            self.head &= !flag;
        }
    }
    pub(crate) fn pinned(&self) -> bool {
        self.watch != NO_WATCH || self.has(ATTACKED)
    }
}

/// A truncated slot number back to 64 bits, assuming it is within 2^29 slots of `now`.
#[inline]
pub(crate) fn unwrap_slot(now: u64, s: u32) -> u64 {
    // Sign-extend the HEAD_BITS-bit difference.
    let shift = 32 - HEAD_BITS;
    let d = (((now as u32).wrapping_sub(s)) << shift) as i32 >> shift;
    (now as i64).saturating_sub(i64::from(d)).max(0) as u64
}

/// Entries per chunk. Chunks are never moved (no copy of a big table when it grows) and the
/// last one is the only slack: 23.5 KB at most for IPv4.
const CHUNK_BITS: u32 = 8;
const CHUNK: usize = 1 << CHUNK_BITS;

/// A chunk of empty entries, built on the heap: as a local array it would be 23 KB, and a
/// frame that size (probed page by page) on the per-record path costs every record.
#[cold]
#[inline(never)]
fn new_chunk<K: Key>() -> Box<[Entry<K>; CHUNK]> {
    let v: Box<[Entry<K>]> = vec![Entry::default(); CHUNK].into_boxed_slice();
    match v.try_into() {
        Ok(chunk) => chunk,
        Err(_) => unreachable!("a vector of CHUNK entries"),
    }
}
/// Index slots per entry at the size limit: a load of 4/5, where linear probing still
/// finds a present key in about three slots (one cache line of 4-byte slots).
const INDEX_PER_ENTRY: (usize, usize) = (5, 4);
/// Smallest index; it grows by a quarter when the load passes 4/5, so the index costs at
/// most 6.25 bytes per entry on the way to the limit and 5 at it.
const MIN_INDEX: usize = 32;
/// Largest size limit: entry numbers (27 bits) and the displacement (4) must leave a bit of
/// the 32 for the hash tag. 67 million addresses, 6 GB.
const MAX_LIMIT: usize = 1 << 26;
/// Bits of an index slot holding how far it sits from its key's home slot, so that deletion
/// moves slots without reading their entries. `DISP_UNKNOWN` (15 or more) is looked up.
const DISP_BITS: u32 = 4;
const DISP_UNKNOWN: u32 = (1 << DISP_BITS) - 1;
/// How many occupied index slots past an address's home slot are looked at for a victim.
const EVICTION_SCAN: usize = 16;
/// How far the victim search goes when the first candidates are all pinned before the new
/// address is refused: pinned entries are few (watches and attacks), so this is only
/// reached when the limit is tiny, and it keeps a refused insertion O(1).
const EVICTION_SCAN_MAX: usize = 1024;

/// Bytes per tracked address at the size limit: the entry and its share of the index.
pub(crate) const fn bytes_per_address<K>() -> usize {
    size_of::<Entry<K>>() + size_of::<u32>() * INDEX_PER_ENTRY.0 / INDEX_PER_ENTRY.1
}

/// `Table::recent` when it names no entry.
const NO_ENTRY: u32 = u32::MAX;

#[derive(Debug)]
pub(crate) struct Table<K> {
    chunks: Vec<Box<[Entry<K>; CHUNK]>>,
    len: usize,
    /// The key last found or inserted and its entry number: a flood toward one target
    /// finds it again without hashing or probing.
    recent: (K, u32),
    /// 0 for a free slot; else the entry number plus one in the low `entry_bits` bits, the
    /// slot's distance from its home (`DISP_BITS`) above them, and the rest high bits of
    /// the key's hash (the tag), so that probing past other keys rarely reads their entries.
    index: Vec<u32>,
    entry_mask: u32,
    disp_shift: u32,
    tag_mask: u32,
    limit: usize,
    max_index: usize,
    hasher: FixedState,
    pub(crate) evictions: u64,
    /// New addresses refused because every eviction candidate was pinned.
    pub(crate) refused: u64,
}

impl<K: Key> Table<K> {
    pub(crate) fn new(limit: usize, seed: u64) -> Self {
        let limit = limit.clamp(1, MAX_LIMIT);
        // Capacities need not be powers of two (the home slot is a multiply-shift), so the
        // index at the limit is exactly a quarter larger than the limit.
        let max_index = (limit * INDEX_PER_ENTRY.0 / INDEX_PER_ENTRY.1 + 1).max(MIN_INDEX);
        let entry_bits = usize::BITS - limit.leading_zeros();
        let entry_mask = ((1u64 << entry_bits) - 1) as u32;
        let disp_mask = DISP_UNKNOWN << entry_bits;
        Table {
            chunks: Vec::new(),
            len: 0,
            recent: (K::default(), NO_ENTRY),
            index: vec![0; MIN_INDEX],
            entry_mask,
            disp_shift: entry_bits,
            tag_mask: !(entry_mask | disp_mask),
            limit,
            max_index,
            hasher: FixedState::with_seed(seed),
            evictions: 0,
            refused: 0,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Heap bytes held: whole chunks, the chunk list and the index.
    pub(crate) fn bytes(&self) -> usize {
        self.chunks.len() * CHUNK * size_of::<Entry<K>>()
            + self.chunks.capacity() * size_of::<Box<[Entry<K>; CHUNK]>>()
            + self.index.capacity() * size_of::<u32>()
    }

    #[inline]
    fn next(&self, i: usize) -> usize {
        if i + 1 == self.index.len() {
            0
        } else {
            i + 1
        }
    }

    /// Probe distance from `from` forward to `to`, around the end.
    #[inline]
    fn distance(&self, from: usize, to: usize) -> usize {
        if to >= from {
            to - from
        } else {
            to + self.index.len() - from
        }
    }

    #[inline]
    fn hash(&self, key: &K) -> u64 {
        self.hasher.hash_one(key)
    }

    #[inline]
    fn home(&self, hash: u64) -> usize {
        // Lemire's multiply-shift range reduction: uniform over any capacity. It takes the
        // hash's high bits; the tag takes low ones.
        ((u128::from(hash) * self.index.len() as u128) >> 64) as usize
    }

    #[inline]
    fn tag(&self, hash: u64) -> u32 {
        hash as u32 & self.tag_mask
    }

    #[inline]
    fn entry_of(&self, slot: u32) -> usize {
        (slot & self.entry_mask) as usize - 1
    }

    #[inline]
    pub(crate) fn get(&self, i: usize) -> &Entry<K> {
        &self.chunks[i >> CHUNK_BITS][i & (CHUNK - 1)]
    }

    #[inline]
    pub(crate) fn get_mut(&mut self, i: usize) -> &mut Entry<K> {
        &mut self.chunks[i >> CHUNK_BITS][i & (CHUNK - 1)]
    }

    /// The index slot and entry number of `key`. The index always has a free slot (load
    /// at most 4/5), so the probe ends.
    #[inline]
    fn locate(&self, key: K, hash: u64) -> Option<(usize, usize)> {
        let tag = self.tag(hash);
        let mut i = self.home(hash);
        loop {
            let s = self.index[i];
            if s == 0 {
                return None;
            }
            if s & self.tag_mask == tag {
                let e = self.entry_of(s);
                if self.get(e).key == key {
                    return Some((i, e));
                }
            }
            i = self.next(i);
        }
    }

    #[inline]
    pub(crate) fn find(&self, key: K) -> Option<usize> {
        self.locate(key, self.hash(&key)).map(|(_, e)| e)
    }

    /// The entry for `key`, made (empty, with `head`) when absent; true when made. `None`
    /// only when the table is full of pinned entries around the key's home slot.
    #[inline(always)]
    pub(crate) fn find_or_insert(&mut self, key: K, head: u64, now: u64) -> Option<(usize, bool)> {
        // Inline: most records of a flood are for the key of the record before.
        if self.recent.1 != NO_ENTRY && self.recent.0 == key {
            return Some((self.recent.1 as usize, false));
        }
        self.look_up_or_insert(key, head, now)
    }

    #[inline(never)]
    fn look_up_or_insert(&mut self, key: K, head: u64, now: u64) -> Option<(usize, bool)> {
        let hash = self.hash(&key);
        if let Some((_, e)) = self.locate(key, hash) {
            self.recent = (key, e as u32);
            return Some((e, false));
        }
        if self.len >= self.limit {
            if !self.evict_near(hash, now as u32) {
                self.refused += 1;
                return None;
            }
        } else if (self.len + 1) * INDEX_PER_ENTRY.0 > self.index.len() * INDEX_PER_ENTRY.1
            && self.index.len() < self.max_index
        {
            self.grow_index();
        }
        let e = self.len;
        if e >> CHUNK_BITS == self.chunks.len() {
            self.chunks.push(new_chunk());
        }
        let mut entry = Entry {
            key,
            head: 0,
            watch: NO_WATCH,
            lag: 0,
            packets: [0; SLOTS],
            bytes: [0; SLOTS],
        };
        entry.set_head(head);
        *self.get_mut(e) = entry;
        self.len += 1;
        let slot = self.tag(hash) | (e + 1) as u32;
        self.place(hash, slot);
        self.recent = (key, e as u32);
        Some((e, true))
    }

    /// Puts an index slot in the first free place from the hash's home on.
    #[inline]
    fn place(&mut self, hash: u64, slot: u32) {
        let home = self.home(hash);
        let mut i = home;
        while self.index[i] != 0 {
            i = self.next(i);
        }
        self.index[i] = self.with_disp(slot, self.distance(home, i));
    }

    /// `slot` (entry and tag) with the displacement `d`.
    #[inline]
    fn with_disp(&self, slot: u32, d: usize) -> u32 {
        let d = (d as u32).min(DISP_UNKNOWN);
        (slot & !(DISP_UNKNOWN << self.disp_shift)) | d << self.disp_shift
    }

    /// How far the slot at `i` is from its key's home.
    #[inline]
    fn disp(&self, i: usize) -> usize {
        let s = self.index[i];
        match (s >> self.disp_shift) & DISP_UNKNOWN {
            DISP_UNKNOWN => {
                let home = self.home(self.hash(&self.get(self.entry_of(s)).key));
                self.distance(home, i)
            }
            d => d as usize,
        }
    }

    /// Evicts the least recently active unpinned entry among the first occupied index slots
    /// from the key's home slot on. Looking only nearby keeps insertion O(1); the hash
    /// spreads addresses, so "nearby" is a random sample of the table.
    fn evict_near(&mut self, hash: u64, now: u32) -> bool {
        // Candidates are gathered from the index first and their entries read after, in a
        // loop with no branch between the reads: the (random, uncached) reads then overlap
        // instead of waiting for one another.
        let mut slots = [0usize; EVICTION_SCAN];
        let mut entries = [0usize; EVICTION_SCAN];
        let mut i = self.home(hash);
        let mut victim = None;
        let mut oldest = 0u32;
        let mut seen = 0;
        let mut probed = 0;
        while seen < EVICTION_SCAN_MAX && probed < self.index.len() {
            let mut n = 0;
            while n < EVICTION_SCAN && probed < self.index.len() {
                let s = self.index[i];
                if s != 0 {
                    slots[n] = i;
                    entries[n] = self.entry_of(s);
                    n += 1;
                }
                i = self.next(i);
                probed += 1;
            }
            let mut ages = [0u32; EVICTION_SCAN];
            let mut pinned = [false; EVICTION_SCAN];
            for k in 0..n {
                let entry = self.get(entries[k]);
                ages[k] = now.wrapping_sub(entry.head()) & HEAD_MASK;
                pinned[k] = entry.pinned();
            }
            for k in 0..n {
                if !pinned[k] && (victim.is_none() || ages[k] > oldest) {
                    victim = Some((slots[k], entries[k]));
                    oldest = ages[k];
                }
            }
            seen += n;
            if victim.is_some() || n == 0 {
                break;
            }
        }
        match victim {
            Some((slot, e)) => {
                self.remove(slot, e);
                self.evictions += 1;
                true
            }
            None => false,
        }
    }

    /// Removes entry `e`, whose index slot is `slot`: backward-shift deletion in the index
    /// (later slots of the probe run move up, so lookups never stop early at the hole), then
    /// the last entry moves into the gap and its index slot is pointed there.
    fn remove(&mut self, slot: usize, e: usize) {
        // Entries move below.
        self.recent.1 = NO_ENTRY;
        let mut hole = slot;
        let mut j = slot;
        loop {
            j = self.next(j);
            let s = self.index[j];
            if s == 0 {
                break;
            }
            let d = self.disp(j);
            let shift = self.distance(hole, j);
            if d >= shift {
                self.index[hole] = self.with_disp(s, d - shift);
                hole = j;
            }
        }
        self.index[hole] = 0;

        let last = self.len - 1;
        if e != last {
            let moved = *self.get(last);
            let hash = self.hash(&moved.key);
            if let Some((i, _)) = self.locate(moved.key, hash) {
                self.index[i] = (self.index[i] & !self.entry_mask) | (e + 1) as u32;
            }
            *self.get_mut(e) = moved;
        }
        self.len = last;
    }

    /// A quarter more index slots, filled again from the entries in order (a sequential
    /// read of the chunks).
    fn grow_index(&mut self) {
        let size = (self.index.len() + self.index.len() / 4).min(self.max_index);
        self.index = vec![0; size];
        for e in 0..self.len {
            let hash = self.hash(&self.get(e).key);
            let slot = self.tag(hash) | (e + 1) as u32;
            self.place(hash, slot);
        }
    }

    /// Every invariant of the index, for tests: each entry found at its own number, the
    /// number of used slots equal to `len`, tags matching.
    #[cfg(test)]
    fn check(&self) {
        let used = self.index.iter().filter(|&&s| s != 0).count();
        assert_eq!(used, self.len);
        assert!(self.len <= self.limit);
        assert!(self.index.len() <= self.max_index);
        for e in 0..self.len {
            let key = self.get(e).key;
            let hash = self.hash(&key);
            let (i, found) = self.locate(key, hash).expect("every entry is indexed");
            assert_eq!(found, e);
            assert_eq!(self.index[i] & self.tag_mask, self.tag(hash));
            let d = self.distance(self.home(hash), i);
            let stored = (self.index[i] >> self.disp_shift) & DISP_UNKNOWN;
            assert_eq!(
                stored as usize,
                d.min(DISP_UNKNOWN as usize),
                "displacement"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn sizes() {
        assert_eq!(size_of::<Entry<u32>>(), 92);
        assert_eq!(size_of::<Entry<[u32; 4]>>(), 104);
        assert_eq!(bytes_per_address::<u32>(), 97);
        assert_eq!(bytes_per_address::<[u32; 4]>(), 109);
    }

    #[test]
    fn head_keeps_flags_apart_and_unwraps_near_the_clock() {
        let mut e = Entry::<u32>::default();
        e.set(ATTACKED, true);
        e.set(DIRTY, true);
        let now = (1u64 << 40) + 12_345;
        e.set_head(now - 3);
        assert!(e.has(ATTACKED) && e.has(DIRTY));
        assert_eq!(unwrap_slot(now, e.head()), now - 3);
        e.set_head(now + 1);
        assert_eq!(unwrap_slot(now, e.head()), now + 1);
        e.set(DIRTY, false);
        assert!(e.has(ATTACKED) && !e.has(DIRTY));
        assert_eq!(unwrap_slot(now, e.head()), now + 1);
        // A day ago at 100 ms slots, and the start of time.
        e.set_head(now - 864_000);
        assert_eq!(unwrap_slot(now, e.head()), now - 864_000);
        assert_eq!(unwrap_slot(5, 0), 0);
    }

    #[test]
    fn bounded_with_evictions_and_lookups_stay_right() {
        let mut t = Table::<u32>::new(1000, 1);
        for k in 0..5000u32 {
            let (i, new) = t.find_or_insert(k, u64::from(k), u64::from(k)).unwrap();
            assert!(new);
            assert_eq!(t.get(i).key, k);
            assert!(t.len() <= 1000);
        }
        t.check();
        assert_eq!(t.len(), 1000);
        assert_eq!(t.evictions, 4000);
        // Four chunks of 256 entries, an index of 1251 slots, a chunk list of 4.
        assert_eq!(t.bytes(), 4 * 256 * 92 + 1251 * 4 + 4 * 8);
        // The newest key is always there, and every key present is found where it is.
        assert!(t.find(4999).is_some());
        let present = (0..5000u32).filter(|&k| t.find(k).is_some()).count();
        assert_eq!(present, 1000);
        // Evictions took old entries: most of the survivors are recent.
        let recent = (4000..5000u32).filter(|&k| t.find(k).is_some()).count();
        assert!(recent > 800, "{recent}");
        // Pinned entries survive.
        let (i, _) = t.find_or_insert(4999, 0, 5000).unwrap();
        t.get_mut(i).set(ATTACKED, true);
        let (i, _) = t.find_or_insert(4998, 0, 5000).unwrap();
        t.get_mut(i).watch = 7;
        for k in 10_000..20_000u32 {
            t.find_or_insert(k, u64::from(k), u64::from(k)).unwrap();
        }
        t.check();
        assert!(t.find(4999).is_some());
        assert!(t.find(4998).is_some());
    }

    #[test]
    fn all_pinned_refuses_and_counts() {
        let mut t = Table::<u32>::new(4, 1);
        for k in 0..4u32 {
            let (i, _) = t.find_or_insert(k, 0, 0).unwrap();
            t.get_mut(i).set(ATTACKED, true);
        }
        assert!(t.find_or_insert(99, 0, 0).is_none());
        assert_eq!(t.refused, 1);
        assert_eq!(t.len(), 4);
        t.check();
    }

    /// Bytes per tracked address stay at most 100 (IPv4) from a few hundred thousand
    /// addresses up to the limit, and 97 at it.
    #[test]
    fn bytes_per_address_on_the_way_to_the_limit() {
        let limit = 1_000_000;
        let mut t = Table::<u32>::new(limit, 7);
        let mut worst = 0.0f64;
        for k in 0..limit as u32 {
            t.find_or_insert(k.wrapping_mul(0x9e37_79b9), 0, 0).unwrap();
            let n = k as usize + 1;
            if n >= 100_000 && (n.is_multiple_of(1009) || n == limit) {
                let per = t.bytes() as f64 / n as f64;
                worst = worst.max(per);
                assert!(per <= 100.0, "{per} bytes per address at {n}");
            }
        }
        let at_limit = t.bytes() as f64 / limit as f64;
        eprintln!("worst {worst:.2} bytes/address on the way, {at_limit:.2} at the limit");
        assert!(at_limit < 97.2, "{at_limit}");
        let mut t6 = Table::<[u32; 4]>::new(100_000, 7);
        for k in 0..100_000u32 {
            t6.find_or_insert([0x2001_0db8, 0, k, 1], 0, 0).unwrap();
        }
        let per6 = t6.bytes() as f64 / 100_000.0;
        eprintln!("IPv6: {per6:.2} bytes/address at the limit");
        assert!(per6 < 110.0, "{per6}");
    }

    /// Random inserts, lookups, pins and evictions against a HashMap holding what each
    /// entry should say: after every step the table has exactly the model's keys, each with
    /// its own data, and pinned keys are never evicted.
    #[test]
    fn matches_a_hashmap_model() {
        let mut rng = 0x1234_5678_9abc_def0u64;
        let mut next = move || {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            rng
        };
        // The largest limit leaves a one-bit tag: lookups then read more entries, and
        // must still be right.
        for (limit, keys) in [
            (64usize, 200u64),
            (300, 400),
            (1, 3),
            (1000, 5000),
            (MAX_LIMIT, 3000),
        ] {
            let mut t = Table::<u32>::new(limit, 3);
            let mut model: HashMap<u32, (u32, bool)> = HashMap::new();
            for step in 0..20_000u64 {
                let key = (next() % keys) as u32;
                let now = step;
                match next() % 8 {
                    // Lookup only.
                    0 => {
                        let found = t.find(key).map(|i| t.get(i).packets[0]);
                        assert_eq!(found, model.get(&key).map(|m| m.0), "find {key}");
                    }
                    // Pin or unpin a present key, keeping the pinned few.
                    1 => {
                        if let Some(i) = t.find(key) {
                            let pinned = model.values().filter(|m| m.1).count();
                            let pin = !model[&key].1 && pinned < limit / 4;
                            t.get_mut(i).set(ATTACKED, pin);
                            model.get_mut(&key).unwrap().1 = pin;
                        }
                    }
                    _ => {
                        let before = t.len();
                        match t.find_or_insert(key, now, now) {
                            Some((i, false)) => {
                                assert_eq!(t.get(i).packets[0], model[&key].0);
                                t.get_mut(i).packets[0] += 1;
                                t.get_mut(i).set_head(now);
                                model.get_mut(&key).unwrap().0 += 1;
                            }
                            Some((i, true)) => {
                                assert!(!model.contains_key(&key));
                                if t.len() == before {
                                    // One unpinned key went to make room.
                                    let gone: Vec<u32> = model
                                        .keys()
                                        .copied()
                                        .filter(|&k| t.find(k).is_none())
                                        .collect();
                                    assert_eq!(gone.len(), 1, "{gone:?}");
                                    assert!(!model[&gone[0]].1, "a pinned key was evicted");
                                    model.remove(&gone[0]);
                                }
                                t.get_mut(i).packets[0] = 1000 + key;
                                model.insert(key, (1000 + key, false));
                            }
                            None => panic!("refused with unpinned entries present"),
                        }
                    }
                }
                assert_eq!(t.len(), model.len());
                if step % 997 == 0 {
                    t.check();
                    for (k, m) in &model {
                        let i = t.find(*k).unwrap();
                        assert_eq!(t.get(i).packets[0], m.0);
                        assert_eq!(t.get(i).has(ATTACKED), m.1);
                    }
                }
            }
            t.check();
        }
    }
}
