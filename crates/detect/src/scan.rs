//! The scan detector: one source probing many ports of one host (vertical) or many hosts
//! (horizontal), counted with fixed-size distinct-count sketches per source and per
//! (source, host) pair in bounded tables. Time comes only from the records and `tick(now)`.
//!
//! What is a probe (everything else costs a few comparisons and no lookup):
//! * TCP with SYN and without ACK (a connection attempt; a flow record with only SYN, or
//!   SYN|RST, is an unanswered one), and the stealth patterns NULL, FIN and Xmas, which no
//!   connection sends without ACK. Flow records of real connections carry ACK and are not
//!   probes; pure RSTs (backscatter of floods elsewhere) are not either.
//! * UDP, except from a well-known port (< 1024) to a high one: that is a service answering.
//! * ICMP/ICMPv6 echo and ICMP timestamp requests (host sweeps; no port).
//!
//! Positive answers (TCP SYN-ACK, any UDP back, echo replies) are credited to the prober:
//! ports and hosts that answered are counted apart and subtracted. Clients reach hosts and
//! ports that exist; scanners mostly probe ones that do not. So a NAT gateway opening
//! connections to hundreds of web servers, a resolver querying hundreds of name servers, or
//! RTP to many ports of one media gateway are not scans, while a sweep of a /24 (mostly
//! silent) or of a host's ports (closed ports answer RST, which is no positive answer) is.
//! The cost: a horizontal scan of a port every probed host has open is not seen, and
//! telemetry of one direction only sees no answers. A detection waits `ANSWER_WAIT_NS`
//! after its threshold is crossed, so that answers still in flight are counted.
//!
//! Sources enter the table on their second probe in a while (a doorkeeper bitmap remembers
//! the first), so a spoofed SYN flood from millions of random sources, one probe each,
//! mostly never reaches it; what does is evicted least-recently-active first and counted.

use crate::protect::Protected;
use crate::scan_config::ScanConfig;
use crate::sketch::SpaceSaving;
use crate::Phase;
use foldhash::fast::FixedState;
use rampart_model::{
    Cidr, Direction, FlowRecord, ScanDetection, ScanProtocol, ScanType, Timestamp, TopPort,
};
use std::collections::VecDeque;
use std::hash::{BuildHasher, Hash};
use std::net::IpAddr;

/// Words of a distinct-count sketch: 512 bits of linear counting (Whang et al., 1990),
/// within ±10% (two standard errors) up to about 1,500 distinct values and saturating
/// near 3,200 (512·ln 512), 64 bytes each.
const SKETCH_WORDS: usize = 8;
const SKETCH_BITS: u64 = (SKETCH_WORDS * 64) as u64;

/// Entries per bucket of the set-associative tables: a lookup reads one bucket; a new key
/// evicts the least recently active of its bucket's entries. 8 keeps eviction close to
/// true LRU while a bucket stays within a few cache lines.
const WAYS: usize = 8;

/// Buckets a table starts with; it doubles up to its limit as entries come.
const INITIAL_BUCKETS: usize = 64;

/// Bits of the doorkeeper (128 KiB), or 16 per tracked source when `max_sources` is larger.
/// A source sets two bits of one word; the doorkeeper is cleared once a quarter of its bits
/// are set, so at most one first probe in sixteen from new sources (one in fifty on
/// average over a fill) is mistaken for a second one.
const DOORKEEPER_MIN_BITS: usize = 1 << 20;
const DOORKEEPER_BITS_PER_SOURCE: usize = 16;

/// How long after crossing a threshold a scan is confirmed: answers to the last probes
/// take a round trip (well under a second on the Internet) and flow exporters send both
/// directions of a flow together.
const ANSWER_WAIT_NS: u64 = 2_000_000_000;

/// Entries over threshold waiting for `ANSWER_WAIT_NS`. More are counted
/// (`pending_dropped`) and found again on their next new port or host.
const MAX_PENDING: usize = 4_096;

/// Destination ports listed in a detection carry at least this share of its probes.
const TOP_MIN_SHARE: f64 = 0.1;

/// A detection is updated when its count grows by half since it was last reported.
const UPDATE_GROWTH: f64 = 1.5;

/// Protocol bits of an entry.
const TCP: u8 = 1;
const UDP: u8 = 2;
const ICMP: u8 = 4;

/// What `poll_event` returns: one step of one scan.
#[derive(Clone, Debug, PartialEq)]
pub struct ScanEvent {
    /// Stable for the scan's life, unique within one detector.
    pub id: u64,
    pub phase: Phase,
    pub detection: ScanDetection,
}

/// Counters for metrics: what was counted, dropped and evicted.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ScanStats {
    pub records: u64,
    /// Records that were probes (before the protected-space check).
    pub probes: u64,
    /// Probes neither toward nor (outbound) from the protected space.
    pub probes_unprotected: u64,
    /// First probes of sources not yet tracked, remembered only by the doorkeeper.
    pub probes_unadmitted: u64,
    /// Positive answers credited to a tracked prober.
    pub answers: u64,
    /// Times the doorkeeper was cleared because it filled up (a flood of new sources).
    pub doorkeeper_resets: u64,
    pub sources_tracked: usize,
    pub sources_evicted: u64,
    pub pairs_tracked: usize,
    pub pairs_evicted: u64,
    /// New sources or pairs not tracked because every entry of their bucket was pinned by
    /// an open scan.
    pub tracking_refused: u64,
    /// Threshold crossings not queued for confirmation because `MAX_PENDING` were waiting.
    pub pending_dropped: u64,
    pub scans_active: usize,
    /// Scan starts refused while `max_scans` were open.
    pub scans_dropped: u64,
    /// Heap bytes held by the tables, the doorkeeper and the work lists.
    pub state_bytes: usize,
}

/// A 512-bit linear-counting sketch of distinct values, one cache line.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(align(64))]
struct Distinct([u64; SKETCH_WORDS]);

impl Distinct {
    /// Sets the bit of a hashed value; true when it was not set.
    #[inline]
    fn insert(&mut self, h: u64) -> bool {
        let bit = h % SKETCH_BITS;
        let (w, b) = ((bit / 64) as usize, bit % 64);
        let was = self.0[w] >> b & 1;
        self.0[w] |= 1 << b;
        was == 0
    }

    fn ones(&self) -> u32 {
        self.0.iter().map(|w| w.count_ones()).sum()
    }

    fn estimate(&self) -> f64 {
        linear_count(self.ones(), SKETCH_BITS)
    }

    /// Distinct values of `self` not in `answered`: the estimate of everything minus that
    /// of the values both hold.
    fn unanswered(&self, answered: &Distinct) -> (u64, u64) {
        let mut both = Distinct::default();
        for (b, (x, y)) in both.0.iter_mut().zip(self.0.iter().zip(&answered.0)) {
            *b = x & y;
        }
        let all = self.estimate();
        let ans = both.estimate().min(all);
        ((all - ans).round() as u64, ans.round() as u64)
    }
}

/// m·ln(m / zeros): the expected number of distinct values that leave `zeros` of `m` bits
/// unset. A full sketch says m·ln(m), the most it can tell.
fn linear_count(ones: u32, m: u64) -> f64 {
    let m = m as f64;
    let zeros = (m - f64::from(ones)).max(1.0);
    m * (m / zeros).ln()
}

/// Murmur3's 64-bit finaliser: every input bit flips about half the output bits, which
/// linear counting needs (consecutive ports must not land in consecutive bits).
#[inline]
fn mix(mut x: u64) -> u64 {
    x ^= x >> 33;
    x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
    x ^= x >> 33;
    x = x.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    x ^ x >> 33
}

fn addr_bits(a: IpAddr) -> u128 {
    match a {
        IpAddr::V4(v4) => u128::from(u32::from(v4)),
        IpAddr::V6(v6) => u128::from(v6) ^ 1 << 127,
    }
}

#[inline]
fn hash_addr(a: IpAddr, seed: u64) -> u64 {
    let x = addr_bits(a);
    mix(mix(x as u64 ^ seed) ^ (x >> 64) as u64)
}

#[inline]
fn hash_port(p: u16, seed: u64) -> u64 {
    mix(u64::from(p) ^ seed.rotate_left(17))
}

/// What a record is to the scan detector.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Role {
    Other,
    /// A probe of `dst_port` (none for ICMP), of protocol bit `proto`.
    Probe {
        proto: u8,
        port: Option<u16>,
    },
    /// A positive answer from the source (and its port) to the destination.
    Answer {
        port: Option<u16>,
    },
    /// UDP, which is a probe and an answer to an earlier probe both.
    ProbeAndAnswer {
        port: u16,
        from: u16,
    },
}

const SYN: u8 = 0x02;
const ACK: u8 = 0x10;
const RST: u8 = 0x04;
const FIN: u8 = 0x01;
const PSH: u8 = 0x08;
const URG: u8 = 0x20;

#[inline]
fn role(r: &FlowRecord) -> Role {
    match r.ip_protocol {
        6 => {
            let Some(f) = r.tcp_flags else {
                return Role::Other;
            };
            if f & ACK != 0 {
                if f & (SYN | RST) == SYN {
                    return Role::Answer { port: r.src_port };
                }
                return Role::Other;
            }
            // SYN (with or without RST from the prober's flow record), or a stealth probe.
            let stealth = f == 0 || f == FIN || f == FIN | PSH | URG;
            if f & SYN != 0 || stealth {
                return Role::Probe {
                    proto: TCP,
                    port: r.dst_port,
                };
            }
            Role::Other
        }
        17 => match (r.src_port, r.dst_port) {
            (Some(sp), Some(dp)) if sp < 1024 && dp >= 1024 => Role::Answer { port: Some(sp) },
            (Some(sp), Some(dp)) => Role::ProbeAndAnswer { port: dp, from: sp },
            _ => Role::Other,
        },
        1 | 58 => {
            // NetFlow v5 and some v9 exporters carry ICMP type and code as the destination
            // port (type · 256 + code).
            let Some(t) = r.icmp_type.or(r.dst_port.map(|p| (p >> 8) as u8)) else {
                return Role::Other;
            };
            match (r.ip_protocol, t) {
                (1, 8 | 13) | (58, 128) => Role::Probe {
                    proto: ICMP,
                    port: None,
                },
                (1, 0 | 14) | (58, 129) => Role::Answer { port: None },
                _ => Role::Other,
            }
        }
        _ => Role::Other,
    }
}

/// Counting state of one source in its current window (horizontal scans). Laid out in
/// four cache lines: the two sketches, then everything a probe reads or writes besides its
/// sketch bit in the last two, so a probe touches at most three lines of its entry.
#[derive(Clone, Debug)]
#[repr(C)]
struct SourceEntry {
    hosts: Distinct,
    hosts_answered: Distinct,
    window_start: u64,
    /// First and last probe times (ns) in the window: last also orders eviction.
    first_ns: u64,
    last_ns: u64,
    probes: u64,
    /// Distinct destination ports over all hosts, roughly (64-bit linear counting: enough
    /// to tell one port from many).
    ports: u64,
    top_ports: SpaceSaving<u16, 4, u32>,
    addr: IpAddr,
    /// Some probed host and the length of the prefix all probed hosts share.
    first_host: IpAddr,
    direction: Direction,
    common_len: u8,
    protocols: u8,
    /// An open horizontal scan: not evicted.
    open: bool,
    pending: bool,
}

/// Counting state of one (source, host) pair in its current window (vertical scans), laid
/// out as `SourceEntry` is.
#[derive(Clone, Debug)]
#[repr(C)]
struct PairEntry {
    ports: Distinct,
    answered: Distinct,
    window_start: u64,
    first_ns: u64,
    last_ns: u64,
    probes: u64,
    top_ports: SpaceSaving<u16, 4, u32>,
    key: (IpAddr, IpAddr),
    direction: Direction,
    protocols: u8,
    open: bool,
    pending: bool,
}

trait Slot {
    type Key: Copy + Eq;
    fn key(&self) -> Self::Key;
    fn last_ns(&self) -> u64;
    fn pinned(&self) -> bool;
}

impl Slot for SourceEntry {
    type Key = IpAddr;
    fn key(&self) -> IpAddr {
        self.addr
    }
    fn last_ns(&self) -> u64 {
        self.last_ns
    }
    fn pinned(&self) -> bool {
        self.open
    }
}

impl Slot for PairEntry {
    type Key = (IpAddr, IpAddr);
    fn key(&self) -> (IpAddr, IpAddr) {
        self.key
    }
    fn last_ns(&self) -> u64 {
        self.last_ns
    }
    fn pinned(&self) -> bool {
        self.open
    }
}

/// One bucket of a table: the tags and entry numbers of its ways in one cache line, so that
/// a lookup of a key misses the cache at most twice (its bucket, then its entry).
#[derive(Clone, Copy, Debug, Default)]
#[repr(C, align(64))]
struct Bucket {
    /// A 16-bit tag of each way's hash (0: empty; a key whose tag is 0 is stored as 1), so
    /// that a lookup reads one line of tags, not eight entries of 256 bytes, and a key is
    /// compared only when its tag matches (one time in 8,000 for an absent key).
    tags: [u16; WAYS],
    /// The entry number of each occupied way.
    slots: [u32; WAYS],
}

/// Entries per chunk of `Entries`: 64 KiB of 256-byte entries.
const CHUNK: usize = 256;

/// Where the last two of an entry's four lines begin (after its two sketches).
const LATE_LINES: usize = 2 * size_of::<Distinct>();

/// How many records ahead `observe_batch` asks for a record's buckets (and half as many
/// for its entries): enough to cover a miss to memory with the work of the records
/// between; 16 was no better.
const AHEAD: usize = 8;

/// The hashes a probe looks its source and its pair up by.
#[derive(Clone, Copy, Debug, Default)]
struct ProbeHashes {
    source: u64,
    pair: u64,
}

/// A hint to the CPU to fetch the cache line at `p` into its caches.
#[inline(always)]
fn prefetch<T>(p: *const T) {
    #[cfg(target_arch = "x86_64")]
    #[allow(unsafe_code)]
    // SAFETY: PREFETCHT0 only hints: it never faults, whatever the address, and changes no
    // state the program can see (SSE, which the intrinsic asks for, is in every x86_64).
    unsafe {
        core::arch::x86_64::_mm_prefetch::<{ core::arch::x86_64::_MM_HINT_T0 }>(p.cast());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

/// The entries of a table, in fixed-size chunks: growing allocates a chunk and never
/// moves the entries already there (a `Vec` of cache-line-aligned entries would be copied
/// whole on every doubling, since the allocator cannot remap an over-aligned block).
#[derive(Debug)]
struct Entries<E> {
    chunks: Vec<Vec<E>>,
    len: usize,
}

impl<E> Entries<E> {
    fn new() -> Self {
        Entries {
            chunks: Vec::new(),
            len: 0,
        }
    }

    #[inline]
    fn get(&self, n: usize) -> Option<&E> {
        self.chunks.get(n / CHUNK)?.get(n % CHUNK)
    }

    #[inline]
    fn get_mut(&mut self, n: usize) -> Option<&mut E> {
        self.chunks.get_mut(n / CHUNK)?.get_mut(n % CHUNK)
    }

    /// Appends an entry and returns its number.
    fn push(&mut self, e: E) -> usize {
        if self.len.is_multiple_of(CHUNK) {
            self.chunks.push(Vec::with_capacity(CHUNK));
        }
        if let Some(chunk) = self.chunks.last_mut() {
            chunk.push(e);
        }
        self.len += 1;
        self.len - 1
    }

    fn iter(&self) -> impl Iterator<Item = &E> {
        self.chunks.iter().flatten()
    }

    fn bytes(&self) -> usize {
        self.chunks.capacity() * size_of::<Vec<E>>() + self.chunks.len() * CHUNK * size_of::<E>()
    }
}

/// A set-associative table of at most `max` entries (rounded up to whole buckets), grown
/// by doubling on demand. A full bucket evicts its least recently active unpinned entry.
/// The buckets hold tags and entry numbers; the entries themselves sit densely in the
/// order they came, so memory follows the entries in use (not the buckets' capacity) and
/// growing rebuilds only the small bucket array. Slot `i` is way `i % WAYS` of bucket
/// `i / WAYS`.
#[derive(Debug)]
struct Table<E> {
    buckets: Vec<Bucket>,
    entries: Entries<E>,
    /// Entries no slot names (lost when a bucket of the grown table overflowed), reused by
    /// the next insertions.
    unused: Vec<u32>,
    max_buckets: usize,
    len: usize,
    evicted: u64,
    refused: u64,
}

impl<E: Slot> Table<E> {
    fn new(max: usize) -> Self {
        let max_buckets = max.div_ceil(WAYS).max(1);
        Table {
            buckets: vec![Bucket::default(); INITIAL_BUCKETS.min(max_buckets)],
            entries: Entries::new(),
            unused: Vec::new(),
            max_buckets,
            len: 0,
            evicted: 0,
            refused: 0,
        }
    }

    /// The bucket of a hash takes its high bits (multiply-shift), the tag its low ones.
    #[inline]
    fn bucket(&self, h: u64) -> usize {
        ((u128::from(h) * self.buckets.len() as u128) >> 64) as usize
    }

    #[inline]
    fn tag(h: u64) -> u16 {
        (h as u16).max(1)
    }

    /// Reads the bucket of a hash without using it, so that its cache miss overlaps the
    /// work before the lookup that needs it.
    #[inline]
    fn touch(&self, h: u64) {
        std::hint::black_box(self.buckets.get(self.bucket(h)).map(|b| b.tags[0]));
    }

    /// Asks for the bucket of a hash (a hint: nothing waits for it).
    #[inline]
    fn fetch_bucket(&self, h: u64) {
        prefetch(self.buckets.as_ptr().wrapping_add(self.bucket(h)));
    }

    /// Asks for the last two lines (what a probe and an eviction read besides the
    /// sketches) of the entry a hash's tag names in its bucket, or of every way of a full
    /// bucket the tag is not in.
    #[inline]
    fn fetch_entries(&self, h: u64) {
        let Some(bucket) = self.buckets.get(self.bucket(h)) else {
            return;
        };
        let tag = Self::tag(h);
        match bucket.tags.iter().position(|&t| t == tag) {
            Some(w) => self.fetch_entry(bucket.slots[w]),
            None if !bucket.tags.contains(&0) => {
                bucket.slots.iter().for_each(|&n| self.fetch_entry(n));
            }
            None => {}
        }
    }

    #[inline]
    fn fetch_entry(&self, n: u32) {
        if let Some(e) = self.entries.get(n as usize) {
            let p = (e as *const E).cast::<u8>();
            prefetch(p.wrapping_add(LATE_LINES));
            prefetch(p.wrapping_add(LATE_LINES + 64));
        }
    }

    #[inline]
    fn find(&self, key: E::Key, h: u64) -> Option<usize> {
        let (b, tag) = (self.bucket(h), Self::tag(h));
        let bucket = self.buckets.get(b)?;
        (0..WAYS)
            .find(|&w| {
                bucket.tags[w] == tag
                    && self
                        .entries
                        .get(bucket.slots[w] as usize)
                        .is_some_and(|e| e.key() == key)
            })
            .map(|w| b * WAYS + w)
    }

    /// The entry in slot `i`, if it is occupied.
    #[inline]
    fn get(&self, i: usize) -> Option<&E> {
        let bucket = self.buckets.get(i / WAYS)?;
        if bucket.tags[i % WAYS] == 0 {
            return None;
        }
        self.entries.get(bucket.slots[i % WAYS] as usize)
    }

    #[inline]
    fn get_mut(&mut self, i: usize) -> Option<&mut E> {
        let bucket = self.buckets.get(i / WAYS)?;
        if bucket.tags[i % WAYS] == 0 {
            return None;
        }
        self.entries.get_mut(bucket.slots[i % WAYS] as usize)
    }

    /// Places a new entry (its key is not in the table); `None` when its bucket is pinned
    /// full.
    fn insert(&mut self, e: E, h: u64, hash: impl Fn(E::Key) -> u64) -> Option<usize> {
        if self.len >= self.buckets.len() * WAYS * 3 / 4 && self.buckets.len() < self.max_buckets {
            self.grow(&hash);
        }
        let (b, tag) = (self.bucket(h), Self::tag(h));
        // The first free way, told by its tag without reading the entries.
        if let Some(w) = self.buckets.get(b)?.tags.iter().position(|&t| t == 0) {
            let n = match self.unused.pop() {
                Some(n) => {
                    if let Some(slot) = self.entries.get_mut(n as usize) {
                        *slot = e;
                    }
                    n
                }
                None => self.entries.push(e) as u32,
            };
            let bucket = self.buckets.get_mut(b)?;
            bucket.slots[w] = n;
            bucket.tags[w] = tag;
            self.len += 1;
            return Some(b * WAYS + w);
        }
        let mut victim: Option<(usize, u64)> = None;
        for i in b * WAYS..(b + 1) * WAYS {
            if let Some(o) = self.get(i).filter(|o| !o.pinned()) {
                if victim.is_none_or(|(_, last)| o.last_ns() < last) {
                    victim = Some((i, o.last_ns()));
                }
            }
        }
        match victim {
            Some((i, _)) => {
                if let Some(slot) = self.get_mut(i) {
                    *slot = e;
                }
                self.buckets.get_mut(b)?.tags[i % WAYS] = tag;
                self.evicted += 1;
                Some(i)
            }
            None => {
                self.refused += 1;
                None
            }
        }
    }

    fn grow(&mut self, hash: &impl Fn(E::Key) -> u64) {
        let size = (self.buckets.len() * 2).min(self.max_buckets);
        let old = std::mem::replace(&mut self.buckets, vec![Bucket::default(); size]);
        self.len = 0;
        let ways = old.iter().flat_map(|b| b.tags.iter().zip(b.slots));
        for (_, n) in ways.filter(|(&t, _)| t != 0) {
            let Some(e) = self.entries.get(n as usize) else {
                continue;
            };
            let h = hash(e.key());
            let (b, tag) = (self.bucket(h), Self::tag(h));
            let Some(bucket) = self.buckets.get_mut(b) else {
                continue;
            };
            match bucket.tags.iter().position(|&t| t == 0) {
                Some(w) => {
                    bucket.slots[w] = n;
                    bucket.tags[w] = tag;
                    self.len += 1;
                }
                // More than WAYS keys in one bucket of the larger table: rare; the entry is
                // lost as if evicted, and its place reused.
                None => {
                    self.evicted += 1;
                    self.unused.push(n);
                }
            }
        }
    }

    fn bytes(&self) -> usize {
        self.buckets.capacity() * size_of::<Bucket>()
            + self.unused.capacity() * size_of::<u32>()
            + self.entries.bytes()
    }
}

/// Which counting entry a pending check or an open scan belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum ScanKey {
    Horizontal(IpAddr),
    Vertical(IpAddr, IpAddr),
}

#[derive(Clone, Debug)]
struct Scan {
    id: u64,
    key: ScanKey,
    direction: Direction,
    target: Cidr,
    start: u64,
    last_ns: u64,
    /// Highest per-window estimates, and the answered count of that window.
    ports: u64,
    hosts: u64,
    answered: u64,
    /// Probes in earlier windows, plus those of the current one.
    probes_before: u64,
    probes: u64,
    window_start: u64,
    protocols: u8,
    top_ports: Vec<TopPort>,
    reported: u64,
    reported_target: Cidr,
}

impl Scan {
    /// The count its threshold applies to.
    fn count(&self) -> u64 {
        match self.key {
            ScanKey::Horizontal(_) => self.hosts,
            ScanKey::Vertical(..) => self.ports,
        }
    }
}

/// What one counting entry says now.
#[derive(Clone, Debug)]
struct Reading {
    direction: Direction,
    window_start: u64,
    first_ns: u64,
    last_ns: u64,
    probes: u64,
    ports: u64,
    hosts: u64,
    answered: u64,
    protocols: u8,
    target: Cidr,
    top_ports: Vec<TopPort>,
}

/// Sans-I/O scan detection. Feed records with `observe`, call `tick` regularly (every
/// 100 ms of event time is plenty), take scan starts, updates and ends from `poll_event`.
#[derive(Debug)]
pub struct ScanDetector {
    cfg: ScanConfig,
    /// `cfg.protect`, compiled for the per-record check.
    protected: Protected,
    /// Bits a sketch must have set before its estimate can reach the hosts and ports
    /// thresholds: m·(1 − e^(−threshold/m)), less one for rounding. Below it, a new bit
    /// costs no logarithm.
    min_ones: [u32; 2],
    window_ns: u64,
    hasher: FixedState,
    sources: Table<SourceEntry>,
    pairs: Table<PairEntry>,
    /// First probes of untracked sources, two bits of one word per source hash (a power of
    /// two of words). Every tracked source's bits are set too, so a clear bit means "not
    /// tracked" and most probes of a spoofed flood never search the table.
    doorkeeper: Vec<u64>,
    doorkeeper_ones: u32,
    /// `doorkeeper_ones` at which it is cleared: a quarter of its bits.
    doorkeeper_full: u32,
    doorkeeper_since: u64,
    pending: VecDeque<(ScanKey, u64)>,
    scans: Vec<Scan>,
    next_id: u64,
    clock: u64,
    events: VecDeque<ScanEvent>,
    stats: ScanStats,
}

impl ScanDetector {
    /// A detector for `config`, which should have passed `validate()`; out-of-range values
    /// are clamped to something that works rather than panicking.
    pub fn new(config: ScanConfig) -> Self {
        let m = SKETCH_BITS as f64;
        let ones = |t: u64| (m * (1.0 - (-(t as f64) / m).exp())).floor().max(1.0) as u32 - 1;
        let max_sources = config.max_sources.clamp(1, 1 << 24);
        // Tracked sources keep their bits through a clear, so they may take at most half
        // of the bits allowed before the next one (two bits each, an eighth at most).
        let doorkeeper_bits = (max_sources * DOORKEEPER_BITS_PER_SOURCE)
            .next_power_of_two()
            .max(DOORKEEPER_MIN_BITS);
        ScanDetector {
            protected: Protected::new(&config.protect),
            min_ones: [ones(config.hosts), ones(config.ports)],
            window_ns: config.window_s.clamp(1, 86_400) * 1_000_000_000,
            hasher: FixedState::with_seed(config.hash_seed),
            sources: Table::new(max_sources),
            pairs: Table::new(config.max_pairs.clamp(1, 1 << 24)),
            doorkeeper: vec![0; doorkeeper_bits / 64],
            doorkeeper_ones: 0,
            doorkeeper_full: (doorkeeper_bits / 4) as u32,
            doorkeeper_since: 0,
            pending: VecDeque::new(),
            scans: Vec::new(),
            next_id: 1,
            clock: 0,
            events: VecDeque::new(),
            stats: ScanStats::default(),
            cfg: config,
        }
    }

    /// Applies new settings keeping the counting state and open scans. The window, seed and
    /// table sizes cannot change this way: the error names them and nothing is applied.
    pub fn reconfigure(&mut self, config: ScanConfig) -> Result<(), Vec<&'static str>> {
        let old = &self.cfg;
        let mut fixed = Vec::new();
        for (key, same) in [
            ("window_s", old.window_s == config.window_s),
            ("hash_seed", old.hash_seed == config.hash_seed),
            ("max_sources", old.max_sources == config.max_sources),
            ("max_pairs", old.max_pairs == config.max_pairs),
        ] {
            if !same {
                fixed.push(key);
            }
        }
        if !fixed.is_empty() {
            return Err(fixed);
        }
        let m = SKETCH_BITS as f64;
        let ones = |t: u64| (m * (1.0 - (-(t as f64) / m).exp())).floor().max(1.0) as u32 - 1;
        self.min_ones = [ones(config.hosts), ones(config.ports)];
        self.protected = Protected::new(&config.protect);
        self.cfg = config;
        Ok(())
    }

    pub fn config(&self) -> &ScanConfig {
        &self.cfg
    }

    /// Counts one flow record or packet if it is a probe or an answer to one.
    #[inline]
    pub fn observe(&mut self, r: &FlowRecord) {
        self.observe_hashed(r, None);
    }

    /// Counts a batch of records exactly as `observe` would one by one, but asks for each
    /// record's table lines a few records ahead: its source's doorkeeper word and bucket
    /// and its pair's bucket, then the entries they name (or, for a full bucket, all its
    /// ways, which an insertion reads to evict). Under churn nearly every probe misses the
    /// cache at each of those steps; this way the misses of several records overlap.
    pub fn observe_batch(&mut self, records: &[FlowRecord]) {
        let mut hashes = [ProbeHashes::default(); AHEAD];
        for (slot, r) in hashes.iter_mut().zip(records) {
            *slot = self.fetch_buckets(r);
        }
        for (i, r) in records.iter().enumerate() {
            let own = hashes[i % AHEAD];
            if let Some(n) = records.get(i + AHEAD) {
                hashes[i % AHEAD] = self.fetch_buckets(n);
            }
            if i + AHEAD / 2 < records.len() {
                self.fetch_entries(hashes[(i + AHEAD / 2) % AHEAD]);
            }
            self.observe_hashed(r, Some(own));
        }
    }

    /// `observe`, with the probe's hashes when the caller has them already.
    #[inline]
    fn observe_hashed(&mut self, r: &FlowRecord, hashes: Option<ProbeHashes>) {
        self.stats.records += 1;
        if r.packets == 0 {
            return;
        }
        match role(r) {
            Role::Other => {}
            Role::Probe { proto, port } => self.probe(r, proto, port, hashes),
            Role::Answer { port } => self.answer(r, port),
            Role::ProbeAndAnswer { port, from } => {
                self.answer(r, Some(from));
                self.probe(r, UDP, Some(port), hashes);
            }
        }
    }

    /// The first stage of `observe_batch`: hashes a record's probe keys and fetches the
    /// lines their lookups start with.
    #[inline]
    fn fetch_buckets(&self, r: &FlowRecord) -> ProbeHashes {
        let source = self.hasher.hash_one(r.src_addr);
        let pair = self.hash_pair((r.src_addr, r.dst_addr));
        let (w, _) = doorkeeper_bits(&self.doorkeeper, source);
        prefetch(self.doorkeeper.as_ptr().wrapping_add(w));
        self.sources.fetch_bucket(source);
        self.pairs.fetch_bucket(pair);
        ProbeHashes { source, pair }
    }

    /// The second stage, once the buckets have come.
    #[inline]
    fn fetch_entries(&self, h: ProbeHashes) {
        self.sources.fetch_entries(h.source);
        self.pairs.fetch_entries(h.pair);
    }

    /// Moves the clock to `now` (never back), confirms threshold crossings whose answers
    /// have had time to come, updates open scans and ends those whose source has been
    /// quiet for a window.
    pub fn tick(&mut self, now: Timestamp) {
        self.clock = self.clock.max(now.as_nanos());
        let now = self.clock;
        if self.doorkeeper_since == 0 {
            self.doorkeeper_since = now;
        } else if now.saturating_sub(self.doorkeeper_since) >= self.window_ns {
            // First probes older than a window are forgotten: a source that probes once a
            // window is no scanner.
            self.clear_doorkeeper(now);
        }
        while let Some(&(key, since)) = self.pending.front() {
            if now.saturating_sub(since) < ANSWER_WAIT_NS {
                break;
            }
            self.pending.pop_front();
            self.confirm(key);
        }
        self.review_scans(now);
    }

    /// The input has ended (`rampart analyze` at the end of its files): no answer can come
    /// any more, so every threshold crossing still waiting for answers is judged now.
    pub fn flush_pending(&mut self) {
        while let Some((key, _)) = self.pending.pop_front() {
            self.confirm(key);
        }
    }

    pub fn poll_event(&mut self) -> Option<ScanEvent> {
        self.events.pop_front()
    }

    pub fn stats(&self) -> ScanStats {
        let mut s = self.stats.clone();
        s.sources_tracked = self.sources.len;
        s.pairs_tracked = self.pairs.len;
        s.sources_evicted = self.sources.evicted;
        s.pairs_evicted = self.pairs.evicted;
        s.tracking_refused = self.sources.refused + self.pairs.refused;
        s.scans_active = self.scans.len();
        s.state_bytes = self.sources.bytes()
            + self.pairs.bytes()
            + self.doorkeeper.capacity() * 8
            + self.pending.capacity() * size_of::<(ScanKey, u64)>()
            + self.scans.capacity() * size_of::<Scan>()
            + self
                .scans
                .iter()
                .map(|s| s.top_ports.capacity() * size_of::<TopPort>())
                .sum::<usize>();
        s
    }

    /// The open scans, as they stand.
    pub fn active(&self) -> Vec<(u64, ScanDetection)> {
        self.scans
            .iter()
            .map(|s| (s.id, self.snapshot(s, None)))
            .collect()
    }

    fn hash_pair(&self, key: (IpAddr, IpAddr)) -> u64 {
        self.hasher.hash_one(key)
    }

    fn probe(&mut self, r: &FlowRecord, proto: u8, port: Option<u16>, hashes: Option<ProbeHashes>) {
        self.stats.probes += 1;
        let (src, dst) = (r.src_addr, r.dst_addr);
        let protect_all = self.protected.is_empty();
        let outbound = !protect_all && self.protected.contains(src);
        if !outbound && !protect_all && !self.protected.contains(dst) {
            self.stats.probes_unprotected += 1;
            return;
        }
        let direction = if outbound {
            Direction::Outbound
        } else {
            Direction::Inbound
        };
        let t = r.end.as_nanos();
        self.clock = self.clock.max(t);
        let seed = self.cfg.hash_seed;
        let hs = hashes.map_or_else(|| self.hasher.hash_one(src), |h| h.source);
        if !self.doorkeeper_has(hs) {
            // Not tracked (its bits would be set): a first probe, remembered.
            self.remember(hs);
            self.stats.probes_unadmitted += 1;
            return;
        }
        // The pair's bucket is read now, so that its cache miss overlaps the source's.
        let pair = port.map(|p| {
            let h = hashes.map_or_else(|| self.hash_pair((src, dst)), |h| h.pair);
            self.pairs.touch(h);
            (p, h)
        });
        let i = match self.sources.find(src, hs) {
            Some(i) => i,
            None => {
                let e = SourceEntry {
                    addr: src,
                    direction,
                    window_start: t,
                    first_ns: t,
                    last_ns: t,
                    probes: 0,
                    hosts: Distinct::default(),
                    hosts_answered: Distinct::default(),
                    ports: 0,
                    first_host: dst,
                    common_len: max_len(dst),
                    protocols: 0,
                    top_ports: SpaceSaving::new(0),
                    open: false,
                    pending: false,
                };
                let hasher = self.hasher.clone();
                match self.sources.insert(e, hs, |k| hasher.hash_one(k)) {
                    Some(i) => i,
                    None => return,
                }
            }
        };
        let (window_ns, threshold) = (self.window_ns, self.cfg.hosts);
        let min_ones = self.min_ones[0];
        let Some(s) = self.sources.get_mut(i) else {
            return;
        };
        if t >= s.window_start.saturating_add(window_ns) {
            s.window_start = t;
            s.first_ns = t;
            s.probes = 0;
            s.hosts = Distinct::default();
            s.hosts_answered = Distinct::default();
            s.ports = 0;
            s.first_host = dst;
            s.common_len = max_len(dst);
            s.protocols = 0;
            s.top_ports = SpaceSaving::new(0);
        }
        // Flow records come out of order: the window's first probe is the earliest.
        s.first_ns = s.first_ns.min(t);
        s.last_ns = s.last_ns.max(t);
        s.probes += 1;
        s.protocols |= proto;
        if let Some(p) = port {
            s.ports |= 1 << (hash_port(p, seed) % 64);
            s.top_ports.add(p, 1);
        }
        s.common_len = s.common_len.min(common_prefix(s.first_host, dst));
        let mut due = None;
        // The window's first host is in the sketch already: a flood's repeated probes of
        // one host leave the sketch's cache line alone.
        if dst != s.first_host
            && s.hosts.insert(hash_addr(dst, seed))
            && !s.open
            && !s.pending
            && s.hosts.ones() >= min_ones
        {
            let (unanswered, _) = s.hosts.unanswered(&s.hosts_answered);
            if unanswered >= threshold {
                s.pending = true;
                due = Some(ScanKey::Horizontal(src));
            }
        }
        if let Some(key) = due {
            self.queue(key, t);
        }
        if let Some((p, h)) = pair {
            self.probe_port(src, dst, h, direction, proto, p, t);
        }
    }

    /// Counts a probe of a port of a tracked source; `h` is the hash of `(src, dst)`.
    #[allow(clippy::too_many_arguments)]
    fn probe_port(
        &mut self,
        src: IpAddr,
        dst: IpAddr,
        h: u64,
        direction: Direction,
        proto: u8,
        port: u16,
        t: u64,
    ) {
        let key = (src, dst);
        let i = match self.pairs.find(key, h) {
            Some(i) => i,
            None => {
                let e = PairEntry {
                    key,
                    direction,
                    window_start: t,
                    first_ns: t,
                    last_ns: t,
                    probes: 0,
                    ports: Distinct::default(),
                    answered: Distinct::default(),
                    protocols: 0,
                    top_ports: SpaceSaving::new(0),
                    open: false,
                    pending: false,
                };
                let hasher = self.hasher.clone();
                match self.pairs.insert(e, h, |k| hasher.hash_one(k)) {
                    Some(i) => i,
                    None => return,
                }
            }
        };
        let (window_ns, threshold, seed) = (self.window_ns, self.cfg.ports, self.cfg.hash_seed);
        let min_ones = self.min_ones[1];
        let Some(p) = self.pairs.get_mut(i) else {
            return;
        };
        if t >= p.window_start.saturating_add(window_ns) {
            p.window_start = t;
            p.first_ns = t;
            p.probes = 0;
            p.ports = Distinct::default();
            p.answered = Distinct::default();
            p.protocols = 0;
            p.top_ports = SpaceSaving::new(0);
        }
        p.first_ns = p.first_ns.min(t);
        p.last_ns = p.last_ns.max(t);
        p.probes += 1;
        p.protocols |= proto;
        // A port that holds a top-ports slot was put in the sketch when it came this
        // window, so the sketch's cache line is read only for a port not seen lately.
        let seen = p.top_ports.add(port, 1);
        if !seen
            && p.ports.insert(hash_port(port, seed))
            && !p.open
            && !p.pending
            && p.ports.ones() >= min_ones
        {
            let (unanswered, _) = p.ports.unanswered(&p.answered);
            if unanswered >= threshold {
                p.pending = true;
                self.queue(ScanKey::Vertical(src, dst), t);
            }
        }
    }

    /// Credits a positive answer from `r.src_addr` (and its port) to the prober
    /// `r.dst_addr`, if that is tracked.
    fn answer(&mut self, r: &FlowRecord, port: Option<u16>) {
        if self.sources.len == 0 {
            return;
        }
        let (prober, host) = (r.dst_addr, r.src_addr);
        let seed = self.cfg.hash_seed;
        let h = self.hasher.hash_one(prober);
        if !self.doorkeeper_has(h) {
            return;
        }
        let Some(i) = self.sources.find(prober, h) else {
            return;
        };
        self.stats.answers += 1;
        if let Some(s) = self.sources.get_mut(i) {
            s.hosts_answered.insert(hash_addr(host, seed));
        }
        let Some(port) = port else {
            return;
        };
        let key = (prober, host);
        if let Some(j) = self.pairs.find(key, self.hash_pair(key)) {
            if let Some(p) = self.pairs.get_mut(j) {
                p.answered.insert(hash_port(port, seed));
            }
        }
    }

    /// True when the source's hash has its bits: it probed before (since the doorkeeper
    /// was last cleared) or it is tracked.
    #[inline]
    fn doorkeeper_has(&self, h: u64) -> bool {
        let (w, bits) = doorkeeper_bits(&self.doorkeeper, h);
        self.doorkeeper
            .get(w)
            .is_some_and(|word| word & bits == bits)
    }

    /// Sets the bits of a source's hash; clears the doorkeeper when it has filled up.
    #[inline]
    fn remember(&mut self, h: u64) {
        set_doorkeeper_bits(&mut self.doorkeeper, &mut self.doorkeeper_ones, h);
        if self.doorkeeper_ones >= self.doorkeeper_full {
            self.stats.doorkeeper_resets += 1;
            self.clear_doorkeeper(self.clock);
        }
    }

    /// Forgets first probes; the tracked sources' bits are set again, since a clear bit
    /// tells `probe` and `answer` that a source is not tracked. (The entries are walked in
    /// memory order; the few no slot names any more only cost a spare bit or two.)
    fn clear_doorkeeper(&mut self, now: u64) {
        if self.doorkeeper_ones > 0 {
            self.doorkeeper.fill(0);
            self.doorkeeper_ones = 0;
            for k in self.sources.entries.iter().map(Slot::key) {
                let h = self.hasher.hash_one(k);
                set_doorkeeper_bits(&mut self.doorkeeper, &mut self.doorkeeper_ones, h);
            }
        }
        self.doorkeeper_since = now;
    }

    fn queue(&mut self, key: ScanKey, t: u64) {
        if self.pending.len() >= MAX_PENDING {
            self.stats.pending_dropped += 1;
            self.set_pending(key, false);
            return;
        }
        // Ordered by the clock, not by record time, so that the front is always due first.
        self.pending.push_back((key, self.clock.max(t)));
    }

    fn set_pending(&mut self, key: ScanKey, on: bool) {
        match key {
            ScanKey::Horizontal(src) => {
                if let Some(i) = self.sources.find(src, self.hasher.hash_one(src)) {
                    if let Some(s) = self.sources.get_mut(i) {
                        s.pending = on;
                    }
                }
            }
            ScanKey::Vertical(src, dst) => {
                let h = self.hash_pair((src, dst));
                if let Some(i) = self.pairs.find((src, dst), h) {
                    if let Some(p) = self.pairs.get_mut(i) {
                        p.pending = on;
                    }
                }
            }
        }
    }

    fn set_open(&mut self, key: ScanKey, on: bool) {
        match key {
            ScanKey::Horizontal(src) => {
                if let Some(i) = self.sources.find(src, self.hasher.hash_one(src)) {
                    if let Some(s) = self.sources.get_mut(i) {
                        s.open = on;
                    }
                }
            }
            ScanKey::Vertical(src, dst) => {
                let h = self.hash_pair((src, dst));
                if let Some(i) = self.pairs.find((src, dst), h) {
                    if let Some(p) = self.pairs.get_mut(i) {
                        p.open = on;
                    }
                }
            }
        }
    }

    /// What the counting entry of `key` says now; `None` once it was evicted.
    fn read(&self, key: ScanKey) -> Option<Reading> {
        let top = |sketch: &SpaceSaving<u16, 4, u32>, probes: u64| -> Vec<TopPort> {
            let total = probes.max(1) as f64;
            sketch
                .top(4, TOP_MIN_SHARE)
                .into_iter()
                .map(|(port, n)| TopPort {
                    port,
                    packets: n,
                    share: ((n as f64 / total).min(1.0) * 1000.0).round() / 1000.0,
                })
                .collect()
        };
        match key {
            ScanKey::Horizontal(src) => {
                let i = self.sources.find(src, self.hasher.hash_one(src))?;
                let s = self.sources.get(i)?;
                let (hosts, answered) = s.hosts.unanswered(&s.hosts_answered);
                // The sketch's error cannot make more hosts than probes, or than addresses
                // in the prefix they share.
                let span =
                    u32::from(max_len(s.first_host) - s.common_len.min(max_len(s.first_host)));
                let room = 1u64.checked_shl(span).unwrap_or(u64::MAX);
                let hosts = hosts.min(s.probes).min(room);
                // Never longer than the usual aggregation: a sweep of part of a /24 names
                // the /24, so the target stays put while the sweep goes on.
                let cap = match s.first_host {
                    IpAddr::V4(_) => 24,
                    IpAddr::V6(_) => 64,
                };
                let len = s.common_len.min(cap);
                Some(Reading {
                    direction: s.direction,
                    window_start: s.window_start,
                    first_ns: s.first_ns,
                    last_ns: s.last_ns,
                    probes: s.probes,
                    ports: linear_count(s.ports.count_ones(), 64).round().max(1.0) as u64,
                    hosts,
                    answered,
                    protocols: s.protocols,
                    target: Cidr::new(s.first_host, len).unwrap_or(Cidr::host(s.first_host)),
                    top_ports: top(&s.top_ports, s.probes),
                })
            }
            ScanKey::Vertical(src, dst) => {
                let i = self.pairs.find((src, dst), self.hash_pair((src, dst)))?;
                let p = self.pairs.get(i)?;
                let (ports, answered) = p.ports.unanswered(&p.answered);
                let ports = ports.min(p.probes).min(1 << 16);
                Some(Reading {
                    direction: p.direction,
                    window_start: p.window_start,
                    first_ns: p.first_ns,
                    last_ns: p.last_ns,
                    probes: p.probes,
                    ports,
                    hosts: 1,
                    answered,
                    protocols: p.protocols,
                    target: Cidr::host(dst),
                    top_ports: top(&p.top_ports, p.probes),
                })
            }
        }
    }

    fn threshold(&self, key: ScanKey) -> u64 {
        match key {
            ScanKey::Horizontal(_) => self.cfg.hosts,
            ScanKey::Vertical(..) => self.cfg.ports,
        }
    }

    fn count(key: ScanKey, r: &Reading) -> u64 {
        match key {
            ScanKey::Horizontal(_) => r.hosts,
            ScanKey::Vertical(..) => r.ports,
        }
    }

    /// A crossing whose answers have had time to come: a scan if still over threshold.
    fn confirm(&mut self, key: ScanKey) {
        self.set_pending(key, false);
        let Some(r) = self.read(key) else {
            return;
        };
        if Self::count(key, &r) < self.threshold(key) || self.scans.iter().any(|s| s.key == key) {
            return;
        }
        if self.scans.len() >= self.cfg.max_scans {
            self.stats.scans_dropped += 1;
            return;
        }
        let count = Self::count(key, &r);
        let scan = Scan {
            id: self.next_id,
            key,
            direction: r.direction,
            target: r.target,
            start: r.first_ns,
            last_ns: r.last_ns,
            ports: r.ports,
            hosts: r.hosts,
            answered: r.answered,
            probes_before: 0,
            probes: r.probes,
            window_start: r.window_start,
            protocols: r.protocols,
            top_ports: r.top_ports,
            reported: count,
            reported_target: r.target,
        };
        self.next_id += 1;
        self.set_open(key, true);
        self.events.push_back(ScanEvent {
            id: scan.id,
            phase: Phase::Started,
            detection: self.snapshot(&scan, None),
        });
        self.scans.push(scan);
    }

    fn review_scans(&mut self, now: u64) {
        let mut i = 0;
        while i < self.scans.len() {
            let key = self.scans[i].key;
            let reading = self.read(key);
            let s = &mut self.scans[i];
            if let Some(r) = reading {
                if r.window_start != s.window_start {
                    s.probes_before += s.probes;
                    s.window_start = r.window_start;
                }
                s.probes = r.probes;
                s.last_ns = s.last_ns.max(r.last_ns);
                s.protocols |= r.protocols;
                if Self::count(key, &r) > s.count() {
                    s.ports = r.ports;
                    s.hosts = r.hosts;
                    s.answered = r.answered;
                    s.top_ports = r.top_ports;
                }
                // The prefix of a horizontal scan only widens.
                if r.target.prefix_len() < s.target.prefix_len() {
                    s.target = r.target;
                }
            }
            if now.saturating_sub(s.last_ns) >= self.window_ns {
                let s = self.scans.swap_remove(i);
                self.set_open(s.key, false);
                let end = Timestamp::from_nanos(s.last_ns);
                self.events.push_back(ScanEvent {
                    id: s.id,
                    phase: Phase::Ended,
                    detection: self.snapshot(&s, Some(end)),
                });
                continue;
            }
            let count = s.count();
            if count as f64 >= s.reported as f64 * UPDATE_GROWTH || s.target != s.reported_target {
                s.reported = count;
                s.reported_target = s.target;
                let event = ScanEvent {
                    id: s.id,
                    phase: Phase::Updated,
                    detection: self.snapshot(&self.scans[i], None),
                };
                self.events.push_back(event);
            }
            i += 1;
        }
    }

    fn snapshot(&self, s: &Scan, end: Option<Timestamp>) -> ScanDetection {
        let (scan_type, threshold, count, unit) = match s.key {
            ScanKey::Horizontal(_) => (ScanType::Horizontal, self.cfg.hosts, s.hosts, "hosts"),
            ScanKey::Vertical(..) => (ScanType::Vertical, self.cfg.ports, s.ports, "ports"),
        };
        let source = match s.key {
            ScanKey::Horizontal(a) | ScanKey::Vertical(a, _) => a,
        };
        let protocol = match s.protocols {
            TCP => ScanProtocol::Tcp,
            UDP => ScanProtocol::Udp,
            ICMP => ScanProtocol::Icmp,
            _ => ScanProtocol::Mixed,
        };
        let probes = s.probes_before + s.probes;
        let ratio = count as f64 / threshold.max(1) as f64;
        // Far over threshold is surer than just over; answers to many of the probes (a
        // busy client more than a scanner) make it less sure.
        let from_excess = 1.0 - 0.5 / ratio.max(1.0);
        let silent = count as f64 / (count + s.answered).max(1) as f64;
        let confidence =
            ((from_excess * (0.5 + 0.5 * silent)).clamp(0.0, 1.0) * 100.0).round() / 100.0;
        let secs = s.last_ns.saturating_sub(s.start) as f64 / 1e9;
        let evidence = format!(
            "{} {unit} of {} probed ({}) by {source}{} within {secs:.1} s with no positive \
             answer; {probes} probes, {} {unit} answered; threshold {threshold} {unit} per {} s",
            count,
            s.target,
            protocol.as_str(),
            if s.direction == Direction::Outbound {
                ", a protected source,"
            } else {
                ""
            },
            s.answered,
            self.cfg.window_s,
        );
        ScanDetection {
            source,
            target: s.target,
            ports: s.ports,
            hosts: s.hosts,
            scan_type,
            direction: s.direction,
            protocol,
            top_dst_ports: s.top_ports.clone(),
            probes,
            answered: s.answered,
            start: Timestamp::from_nanos(s.start),
            end,
            last_seen: Timestamp::from_nanos(s.last_ns),
            confidence,
            evidence,
        }
    }
}

fn max_len(a: IpAddr) -> u8 {
    match a {
        IpAddr::V4(_) => 32,
        IpAddr::V6(_) => 128,
    }
}

/// Length of the prefix `a` and `b` share (0 across address families).
fn common_prefix(a: IpAddr, b: IpAddr) -> u8 {
    match (a, b) {
        (IpAddr::V4(x), IpAddr::V4(y)) => (u32::from(x) ^ u32::from(y)).leading_zeros() as u8,
        (IpAddr::V6(x), IpAddr::V6(y)) => (u128::from(x) ^ u128::from(y)).leading_zeros() as u8,
        _ => 0,
    }
}

/// The word of a hash in a doorkeeper of a power of two of words, and its two bits there
/// (one word, so one cache line is read; bits of the hash other than those that pick the
/// word, the table bucket and the tag).
#[inline]
fn doorkeeper_bits(doorkeeper: &[u64], h: u64) -> (usize, u64) {
    let w = (h >> 6) as usize & (doorkeeper.len() - 1);
    (w, 1 << (h >> 32 & 63) | 1 << (h >> 38 & 63))
}

#[inline]
fn set_doorkeeper_bits(doorkeeper: &mut [u64], ones: &mut u32, h: u64) {
    let (w, bits) = doorkeeper_bits(doorkeeper, h);
    if let Some(word) = doorkeeper.get_mut(w) {
        *ones += (bits & !*word).count_ones();
        *word |= bits;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rampart_model::FlowFormat;

    fn rec(src: &str, dst: &str) -> FlowRecord {
        let mut r = FlowRecord::empty(FlowFormat::Packet);
        r.src_addr = src.parse().unwrap();
        r.dst_addr = dst.parse().unwrap();
        r.packets = 1;
        r.bytes = 60;
        r
    }

    fn tcp(src: &str, dst: &str, sp: u16, dp: u16, flags: u8) -> FlowRecord {
        let mut r = rec(src, dst);
        r.ip_protocol = 6;
        r.src_port = Some(sp);
        r.dst_port = Some(dp);
        r.tcp_flags = Some(flags);
        r
    }

    /// A probe touches at most three cache lines of each entry (see `SourceEntry`): the entries
    /// must stay four whole lines.
    #[test]
    fn entries_are_four_cache_lines() {
        assert_eq!(size_of::<SourceEntry>(), 256);
        assert_eq!(size_of::<PairEntry>(), 256);
        assert_eq!(align_of::<SourceEntry>(), 64);
        assert_eq!(std::mem::offset_of!(SourceEntry, window_start), 128);
        assert_eq!(std::mem::offset_of!(PairEntry, window_start), 128);
    }

    fn udp(src: &str, dst: &str, sp: u16, dp: u16) -> FlowRecord {
        let mut r = rec(src, dst);
        r.ip_protocol = 17;
        r.src_port = Some(sp);
        r.dst_port = Some(dp);
        r
    }

    #[test]
    fn what_is_a_probe() {
        let probe = |port| Role::Probe {
            proto: TCP,
            port: Some(port),
        };
        assert_eq!(role(&tcp("1.1.1.1", "2.2.2.2", 40_000, 22, SYN)), probe(22));
        // A flow record of an unanswered probe, and one the prober reset.
        assert_eq!(
            role(&tcp("1.1.1.1", "2.2.2.2", 40_000, 22, SYN | RST)),
            probe(22)
        );
        for stealth in [0, FIN, FIN | PSH | URG] {
            assert_eq!(role(&tcp("1.1.1.1", "2.2.2.2", 1, 22, stealth)), probe(22));
        }
        // Connections in progress, their flow records, resets, flags unknown.
        for other in [ACK, ACK | PSH, RST, RST | ACK, FIN | ACK] {
            assert_eq!(role(&tcp("1.1.1.1", "2.2.2.2", 1, 22, other)), Role::Other);
        }
        // A server's flow record of a whole connection answered the SYN.
        assert_eq!(
            role(&tcp("2.2.2.2", "1.1.1.1", 22, 1, SYN | ACK | PSH | FIN)),
            Role::Answer { port: Some(22) }
        );
        let mut r = tcp("1.1.1.1", "2.2.2.2", 1, 22, 0);
        r.tcp_flags = None;
        assert_eq!(role(&r), Role::Other);
        assert_eq!(
            role(&tcp("2.2.2.2", "1.1.1.1", 443, 40_000, SYN | ACK)),
            Role::Answer { port: Some(443) }
        );
        // A server's UDP answer (DNS, QUIC) is no probe of the client's ephemeral ports.
        assert_eq!(
            role(&udp("9.9.9.9", "1.1.1.1", 53, 40_000)),
            Role::Answer { port: Some(53) }
        );
        assert_eq!(
            role(&udp("1.1.1.1", "9.9.9.9", 40_000, 161)),
            Role::ProbeAndAnswer {
                port: 161,
                from: 40_000
            }
        );
        let mut r = rec("1.1.1.1", "2.2.2.2");
        r.ip_protocol = 1;
        r.icmp_type = Some(8);
        assert_eq!(
            role(&r),
            Role::Probe {
                proto: ICMP,
                port: None
            }
        );
        r.icmp_type = None;
        r.dst_port = Some(0x0000); // NetFlow's type 0 (echo reply) in the port
        assert_eq!(role(&r), Role::Answer { port: None });
        r.dst_port = Some(0x0303); // port unreachable: a negative answer
        assert_eq!(role(&r), Role::Other);
        r.ip_protocol = 58;
        r.icmp_type = Some(128);
        assert!(matches!(role(&r), Role::Probe { proto: ICMP, .. }));
        r.ip_protocol = 47;
        assert_eq!(role(&r), Role::Other);
    }

    #[test]
    fn distinct_counts_within_ten_percent() {
        for n in [10u64, 64, 100, 250, 1_000, 1_500] {
            for seed in [0u64, 1, 0x7363_616e_7363_616e] {
                let mut ports = Distinct::default();
                let mut hosts = Distinct::default();
                for i in 0..n {
                    ports.insert(hash_port(i as u16 + 1, seed));
                    let a = IpAddr::from(std::net::Ipv4Addr::from(0xcb00_7100 + i as u32));
                    hosts.insert(hash_addr(a, seed));
                }
                for (what, d) in [("ports", ports), ("hosts", hosts)] {
                    let e = d.estimate();
                    let err = (e - n as f64).abs() / n as f64;
                    assert!(err <= 0.10, "{what} n={n} seed={seed}: {e:.1}");
                }
            }
        }
        // Answered values are subtracted; a full sketch saturates instead of overflowing.
        let (mut all, mut answered) = (Distinct::default(), Distinct::default());
        for p in 0..200u16 {
            all.insert(hash_port(p, 0));
            if p < 150 {
                answered.insert(hash_port(p, 0));
            }
        }
        let (unanswered, ans) = all.unanswered(&answered);
        assert!((40..=60).contains(&unanswered), "{unanswered}");
        assert!((135..=165).contains(&ans), "{ans}");
        let full = Distinct([u64::MAX; SKETCH_WORDS]);
        assert_eq!(full.estimate().round() as u64, 3194);
    }

    #[derive(Debug)]
    struct E(u32, u64, bool);
    impl Slot for E {
        type Key = u32;
        fn key(&self) -> u32 {
            self.0
        }
        fn last_ns(&self) -> u64 {
            self.1
        }
        fn pinned(&self) -> bool {
            self.2
        }
    }

    #[test]
    fn table_grows_to_its_limit_then_evicts_the_oldest_unpinned() {
        let h = |k: u32| mix(u64::from(k));
        let mut t: Table<E> = Table::new(1_000);
        for k in 0..10_000u32 {
            if t.find(k, h(k)).is_none() {
                t.insert(E(k, u64::from(k), k < 4), h(k), h);
            }
            assert!(t.len <= 1_000);
        }
        assert_eq!(t.buckets.len() * WAYS, 1_000);
        assert_eq!(t.len, 1_000);
        assert_eq!(t.evicted, 9_000);
        // The four pinned entries survived; the newest are there, the oldest are not.
        for k in 0..4 {
            assert!(t.find(k, h(k)).is_some(), "{k}");
        }
        assert!(t.find(9_999, h(9_999)).is_some());
        assert!(t.find(100, h(100)).is_none());
        // A bucket pinned full refuses.
        let mut t: Table<E> = Table::new(8);
        for k in 0..8 {
            t.insert(E(k, 0, true), h(k), h);
        }
        assert!(t.insert(E(99, 1, false), h(99), h).is_none());
        assert_eq!((t.refused, t.len), (1, 8));
    }

    #[test]
    fn doorkeeper_admits_on_the_second_probe_and_clears_when_full() {
        let mut d = ScanDetector::new(ScanConfig::default());
        let admit = |d: &mut ScanDetector, h: u64| {
            let seen = d.doorkeeper_has(h);
            if !seen {
                d.remember(h);
            }
            seen
        };
        assert!(!admit(&mut d, 12_345));
        assert!(admit(&mut d, 12_345));
        for h in 0..u64::from(d.doorkeeper_full) * 2 {
            admit(&mut d, h.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 3);
        }
        assert!(d.stats.doorkeeper_resets >= 1);
        assert!(d.doorkeeper_ones < d.doorkeeper_full);
    }

    #[test]
    fn a_spoofed_flood_of_first_probes_admits_few_sources() {
        // Each spoofed source probes once; only doorkeeper false positives enter the table.
        // Two bits per source keep those near 2 % (one bit would admit about 6 %).
        let mut d = ScanDetector::new(ScanConfig::default());
        let n = 400_000u32;
        for i in 0..n {
            let a = std::net::Ipv4Addr::from(0x0a00_0000 + i);
            d.observe(&tcp(&a.to_string(), "203.0.113.9", 40_000, 80, SYN));
        }
        let s = d.stats();
        let admitted = s.sources_tracked as u64 + s.sources_evicted;
        assert!(s.doorkeeper_resets >= 2, "{s:?}");
        assert!(
            admitted * 100 < u64::from(n) * 3,
            "{admitted} of {n} admitted"
        );
    }

    #[test]
    fn tracked_sources_keep_their_doorkeeper_bit_through_a_clear() {
        // `probe` and `answer` skip the table when a source's bit is clear, so a clear must
        // not lose the bits of the sources it tracks: their probes and answers still count.
        let mut d = ScanDetector::new(ScanConfig::default());
        for port in [1, 2] {
            d.observe(&tcp("198.51.100.7", "203.0.113.5", 40_000, port, SYN));
        }
        assert_eq!(d.stats().sources_tracked, 1);
        let mut n = 0u32;
        while d.stats.doorkeeper_resets == 0 {
            let a = std::net::Ipv4Addr::from(0x0a00_0000 + n);
            d.observe(&tcp(&a.to_string(), "203.0.113.9", 40_000, 80, SYN));
            n += 1;
        }
        // Some spoofed sources were admitted too (a bit shared with an earlier one); a few
        // of those were lost when the table grew.
        let s = d.stats();
        let admitted = s.sources_tracked as u64 - 1 + s.sources_evicted;
        d.observe(&tcp("198.51.100.7", "203.0.113.5", 40_000, 3, SYN));
        d.observe(&tcp("203.0.113.5", "198.51.100.7", 3, 40_000, SYN | ACK));
        let s = d.stats();
        // Our source's own first probe was unadmitted too.
        assert_eq!(s.probes_unadmitted + admitted, u64::from(n) + 1);
        assert_eq!(s.answers, 1);
        let src: IpAddr = "198.51.100.7".parse().unwrap();
        let i = d.sources.find(src, d.hasher.hash_one(src)).unwrap();
        assert_eq!(d.sources.get(i).unwrap().probes, 2);
        // More sources than the default doorkeeper has room for: it grows with them, so
        // the tracked ones' bits never fill it.
        let big = ScanDetector::new(ScanConfig {
            max_sources: 1 << 20,
            ..ScanConfig::default()
        });
        assert_eq!(big.doorkeeper.len() * 64, 16 << 20);
    }

    #[test]
    fn vertical_scan_after_the_answer_wait_with_answered_ports_left_out() {
        let mut d = ScanDetector::new(ScanConfig::default());
        let t0 = 1_000_000_000_000u64;
        for p in 1..=300u16 {
            let mut r = tcp("198.51.100.66", "203.0.113.10", 61_234, p, SYN);
            r.end = Timestamp::from_nanos(t0 + u64::from(p) * 1_000_000);
            d.observe(&r);
            if p <= 250 {
                // The first 250 ports are open: they answer, and are no evidence.
                let mut a = tcp("203.0.113.10", "198.51.100.66", p, 61_234, SYN | ACK);
                a.end = r.end;
                d.observe(&a);
            }
        }
        d.tick(Timestamp::from_nanos(t0 + 400_000_000));
        assert!(d.poll_event().is_none(), "no scan: 50 unanswered ports");
        // 200 more ports, none answering.
        for p in 301..=500u16 {
            let mut r = tcp("198.51.100.66", "203.0.113.10", 61_234, p, SYN);
            r.end = Timestamp::from_nanos(t0 + u64::from(p) * 1_000_000);
            d.observe(&r);
        }
        d.tick(Timestamp::from_nanos(t0 + 600_000_000));
        assert!(d.poll_event().is_none(), "waiting for answers");
        d.tick(Timestamp::from_nanos(t0 + 3_000_000_000));
        let e = d.poll_event().unwrap();
        assert_eq!(e.phase, Phase::Started);
        let s = e.detection;
        assert_eq!(s.scan_type, ScanType::Vertical);
        assert!((225..=275).contains(&s.ports), "{s:?}");
        assert!((225..=275).contains(&s.answered), "{s:?}");
        assert_eq!(s.probes, 499);
        assert_eq!(s.target.to_string(), "203.0.113.10");
        assert!(d.poll_event().is_none());
        // Quiet for a window: it ends, at its last probe.
        d.tick(Timestamp::from_nanos(t0 + 61_000_000_000));
        let e = d.poll_event().unwrap();
        assert_eq!(e.phase, Phase::Ended);
        assert_eq!(
            e.detection.end,
            Some(Timestamp::from_nanos(t0 + 500_000_000))
        );
        assert_eq!(d.stats().scans_active, 0);
    }
}
