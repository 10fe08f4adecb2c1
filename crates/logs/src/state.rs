//! A bounded map for per-connection state (an sshd pid, an IKE SA, a VPN peer): a capacity,
//! a time to live in event time, and oldest-first eviction, so that no input grows memory.

use foldhash::fast::FixedState;
use std::collections::{HashMap, VecDeque};

#[derive(Debug)]
struct Slot<V> {
    value: V,
    /// Insertion number, to tell a live FIFO entry from a stale one.
    seq: u64,
    /// Event time (seconds) of the last touch.
    last: u64,
}

/// Keys are 64-bit hashes the caller makes of what identifies a connection.
#[derive(Debug)]
pub struct BoundedMap<V> {
    map: HashMap<u64, Slot<V>, FixedState>,
    order: VecDeque<(u64, u64)>,
    next_seq: u64,
    capacity: usize,
    ttl_secs: u64,
    /// Entries dropped because the map was full (expired ones are not counted).
    pub evicted: u64,
}

impl<V> BoundedMap<V> {
    pub fn new(capacity: usize, ttl_secs: u64) -> Self {
        BoundedMap {
            map: HashMap::with_hasher(FixedState::default()),
            order: VecDeque::new(),
            next_seq: 0,
            capacity: capacity.max(1),
            ttl_secs,
            evicted: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// The live entry for `key`, touched at `now`; an expired entry is dropped.
    pub fn get_mut(&mut self, key: u64, now: u64) -> Option<&mut V> {
        let ttl = self.ttl_secs;
        let expired = match self.map.get(&key) {
            None => return None,
            Some(s) => now.saturating_sub(s.last) > ttl,
        };
        if expired {
            self.map.remove(&key);
            return None;
        }
        let slot = self.map.get_mut(&key)?;
        slot.last = slot.last.max(now);
        Some(&mut slot.value)
    }

    /// The entry for `key`, made with `make` when absent or expired (evicting the oldest
    /// entry when full; the evicted value is handed back so its pending output can go out).
    pub fn entry(&mut self, key: u64, now: u64, make: impl FnOnce() -> V) -> (&mut V, Option<V>) {
        let mut evicted = None;
        if self.get_mut(key, now).is_none() {
            if self.map.len() >= self.capacity {
                evicted = self.evict_oldest();
            }
            let seq = self.next_seq;
            self.next_seq += 1;
            self.map.insert(
                key,
                Slot {
                    value: make(),
                    seq,
                    last: now,
                },
            );
            self.order.push_back((key, seq));
            self.compact();
        }
        let slot = self.map.get_mut(&key);
        // The key was inserted just above when absent.
        match slot {
            Some(s) => (&mut s.value, evicted),
            None => unreachable_entry(),
        }
    }

    pub fn remove(&mut self, key: u64) -> Option<V> {
        self.map.remove(&key).map(|s| s.value)
    }

    /// Every value, oldest first, leaving the map empty.
    pub fn drain(&mut self) -> Vec<V> {
        let mut out = Vec::with_capacity(self.map.len());
        while let Some((key, seq)) = self.order.pop_front() {
            if self.map.get(&key).is_some_and(|s| s.seq == seq) {
                if let Some(s) = self.map.remove(&key) {
                    out.push(s.value);
                }
            }
        }
        out.extend(self.map.drain().map(|(_, s)| s.value));
        out
    }

    fn evict_oldest(&mut self) -> Option<V> {
        while let Some((key, seq)) = self.order.pop_front() {
            if self.map.get(&key).is_some_and(|s| s.seq == seq) {
                self.evicted += 1;
                return self.map.remove(&key).map(|s| s.value);
            }
        }
        None
    }

    /// Removed and expired keys leave stale FIFO entries; rebuild when they dominate.
    fn compact(&mut self) {
        if self.order.len() > 2 * self.capacity + 64 {
            let map = &self.map;
            self.order
                .retain(|(k, seq)| map.get(k).is_some_and(|s| s.seq == *seq));
        }
    }
}

#[cold]
fn unreachable_entry() -> ! {
    // `entry` inserts the key before looking it up again; this cannot be reached.
    panic!("BoundedMap::entry lost the key it just inserted")
}

/// An address as 16 bytes (IPv4 mapped), for keys.
pub fn ip_bytes(a: std::net::IpAddr) -> [u8; 16] {
    match a {
        std::net::IpAddr::V4(a) => a.to_ipv6_mapped().octets(),
        std::net::IpAddr::V6(a) => a.octets(),
    }
}

/// A 64-bit hash of connection-identifying parts.
pub fn key(parts: &[&[u8]], n: u64) -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = FixedState::with_seed(0x5eed_1095).build_hasher();
    for p in parts {
        h.write(p);
        h.write_u8(0xff);
    }
    h.write_u64(n);
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stays_within_capacity_and_evicts_oldest() {
        let mut m = BoundedMap::new(3, 100);
        for k in 0..10u64 {
            let (v, ev) = m.entry(k, 0, || k);
            assert_eq!(*v, k);
            if k >= 3 {
                assert_eq!(ev, Some(k - 3));
            }
        }
        assert_eq!(m.len(), 3);
        assert_eq!(m.evicted, 7);
    }

    #[test]
    fn expires_and_compacts() {
        let mut m = BoundedMap::new(4, 10);
        m.entry(1, 0, || 1u32);
        assert!(m.get_mut(1, 5).is_some());
        assert!(m.get_mut(1, 16).is_none());
        for k in 0..10_000u64 {
            m.entry(k, k, || 0u32);
            m.remove(k);
        }
        assert!(m.order.len() <= 2 * 4 + 64 + 1);
        assert_eq!(m.evicted, 0);
    }
}
