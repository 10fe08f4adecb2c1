//! The DDoS detector: counts flow records per protected address and prefix, in both
//! directions, over a sliding one-second window, and turns sustained excess into attacks
//! with a start, updates and an end. Time comes only from the records and from `tick(now)`.
//! Thresholds are the static ones, a host group's (`limits`), or learned per address and hour
//! of the week (`baseline`), whichever is lowest; baselines learn at tick time.

use crate::baseline::Baselines;
use crate::class::{self, CLASSES, EXCLUSIVE, FRAGMENT, UDP_OTHER};
use crate::config::DdosConfig;
use crate::limits::{Limits, DEFAULT_SET};
use crate::protect::Protected;
use crate::sketch::SpaceSaving;
use crate::table::{unwrap_slot, Entry, Key, Table, ATTACKED, DIRTY, NO_WATCH, SLOTS};
use foldhash::fast::FixedState;
use rampart_model::{
    mask, Cidr, DdosDetection, DdosVector, Direction, FlowFormat, FlowRecord, Range, Timestamp,
    TopAddr, TopPort,
};
use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Sources and ports listed in a detection carry at least this share of its packets for sure
/// (and at least two packets): below that, the sketch's slots hold whatever came last.
const TOP_MIN_SHARE: f64 = 0.02;

/// Where an attack is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    Started,
    /// The peak grew by a tenth or more, or a vector was added.
    Updated,
    /// Traffic stayed under the hysteresis level for `end_after_s`; `detection.end` is set.
    Ended,
}

/// What `poll_event` returns: one step of one attack, with everything known about it.
#[derive(Clone, Debug, PartialEq)]
pub struct AttackEvent {
    /// Stable for the attack's life, unique within one detector.
    pub id: u64,
    pub phase: Phase,
    pub detection: DdosDetection,
}

/// Counters for metrics: what was counted, dropped and evicted.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DdosStats {
    pub records: u64,
    /// Records touching no protected address.
    pub records_unprotected: u64,
    /// Records ending more than `max_lateness_s` before the clock.
    pub records_too_late: u64,
    pub hosts_tracked: usize,
    pub prefixes_tracked: usize,
    pub hosts_evicted: u64,
    pub prefixes_evicted: u64,
    /// New addresses or prefixes not tracked because every eviction candidate was pinned.
    pub tracking_refused: u64,
    pub watched: usize,
    /// Watches wanted while all `max_watched` were in use.
    pub watch_refused: u64,
    pub attacks_active: usize,
    /// Attack starts refused (per tick) while `max_attacks` were open.
    pub attacks_dropped: u64,
    /// Attack starts not made because the data over threshold was from a period already
    /// judged when the target's last attack ended: records exported late (a router's flow
    /// cache flushing after the flood) re-describe that attack, they are not a new one.
    pub late_restarts_suppressed: u64,
    /// Heap bytes held: counting tables, watches, work lists and baselines.
    pub state_bytes: usize,
    /// Heap bytes of the per-address counting tables (part of `state_bytes`): divided by
    /// `hosts_tracked`, the cost of one tracked address.
    pub hosts_bytes: usize,
    /// Learned baselines kept (hosts and prefixes, both directions).
    pub baselines: usize,
    /// Baselines dropped, stale or barely learned, to make room for a new address.
    pub baselines_evicted: u64,
    /// Seconds not learned because the address had no baseline and the store was full: a
    /// new address gets in one time in 16, and only by evicting a stale or barely learned
    /// baseline.
    pub baselines_refused: u64,
    /// Heap bytes of the baselines (part of `state_bytes`).
    pub baseline_bytes: usize,
}

/// What an address's learned baseline says now (see `DdosDetector::baseline`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LearnedBaseline {
    /// Usual packets/s and bits/s in this hour of the week (a high quantile of the
    /// per-second rates learned in it).
    pub usual_pps: u64,
    pub usual_bps: u64,
    /// Seconds learned in this hour of the week.
    pub seconds: u32,
    /// Seconds since the first learned second.
    pub history_s: u64,
    /// The learned thresholds, once the history is long enough (`min_history_s`,
    /// `min_samples`); `None` before.
    pub threshold_pps: Option<u64>,
    pub threshold_bps: Option<u64>,
}

/// The counting scopes. Host scopes key by address, prefix scopes by masked address.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Scope {
    HostIn = 0,
    HostOut = 1,
    PrefixIn = 2,
    PrefixOut = 3,
}

impl Scope {
    fn direction(self) -> Direction {
        match self {
            Scope::HostIn | Scope::PrefixIn => Direction::Inbound,
            Scope::HostOut | Scope::PrefixOut => Direction::Outbound,
        }
    }
    fn is_prefix(self) -> bool {
        matches!(self, Scope::PrefixIn | Scope::PrefixOut)
    }
}

#[derive(Debug)]
struct ScopeTables {
    v4: Table<u32>,
    v6: Table<[u32; 4]>,
}

fn v6_key(a: Ipv6Addr) -> [u32; 4] {
    let x = u128::from(a);
    [
        (x >> 96) as u32,
        (x >> 64) as u32,
        (x >> 32) as u32,
        x as u32,
    ]
}

/// A record's scaled packets and bytes and the slots they are spread over.
#[derive(Clone, Copy, Debug)]
struct Spread {
    first: u64,
    last: u64,
    packets: u64,
    bytes: u64,
}

impl Spread {
    /// The shares of `total` for the slots from `lo` (within `first..=last`) on, splitting
    /// exactly: slot `x` gets floor(t(i+1)/n) - floor(ti/n) for its index i, so no remainder
    /// piles up in one slot and a long flow of few packets adds a trickle, not a spike.
    #[inline]
    fn shares(&self, total: u64, lo: u64) -> Shares {
        let n = self.last - self.first + 1;
        let (q, r) = (total / n, total % n);
        let i = lo - self.first;
        // (t·i) mod n = (r·i) mod n; in 64 bits when it fits, as it nearly always does.
        let acc = match r.checked_mul(i) {
            Some(ri) => ri % n,
            None => ((u128::from(r) * u128::from(i)) % u128::from(n)) as u64,
        };
        Shares { q, r, n, acc }
    }
}

/// Successive exact shares of a total over slots, with no division per slot: each share is
/// the quotient, plus one whenever the running remainder wraps.
#[derive(Clone, Copy, Debug)]
struct Shares {
    q: u64,
    r: u64,
    n: u64,
    /// (r · i) mod n for the next slot's index i.
    acc: u64,
}

impl Shares {
    #[inline]
    fn next_share(&mut self) -> u64 {
        // acc < n and r < n, so the sum cannot overflow (n ≤ 2^63 slots).
        let s = self.acc + self.r;
        if s >= self.n {
            self.acc = s - self.n;
            self.q + 1
        } else {
            self.acc = s;
            self.q
        }
    }
}

/// A record spread over several slots, as shares of the ring: the share of slot `x` at
/// position `ring(x)`, for the slots from `from` (the record's newest `SLOTS` at most) to
/// its last; zero at the other positions. Worked out once per record, then added to its
/// host's and its prefix's rings lane by lane.
#[derive(Clone, Copy, Debug)]
struct RingShares {
    from: u64,
    packets: [u32; SLOTS],
    bytes: [u32; SLOTS],
}

impl RingShares {
    #[inline(never)]
    fn new(sp: &Spread) -> Self {
        let from = sp.first.max((sp.last + 1).saturating_sub(SLOTS as u64));
        let (mut p, mut b) = (sp.shares(sp.packets, from), sp.shares(sp.bytes, from));
        let mut shares = RingShares {
            from,
            packets: [0; SLOTS],
            bytes: [0; SLOTS],
        };
        let mut k = ring(from);
        for _ in from..=sp.last {
            shares.packets[k] = clamp32(p.next_share());
            shares.bytes[k] = clamp32(b.next_share());
            k = if k + 1 == SLOTS { 0 } else { k + 1 };
        }
        shares
    }
}

#[inline]
fn clamp32(x: u64) -> u32 {
    x.min(u64::from(u32::MAX)) as u32
}

/// Close watch on one address or prefix: counters per class and the fingerprint. Kept only
/// for the few that come near a threshold, in a fixed-size slab.
#[derive(Clone, Debug)]
struct Watch {
    scope: Scope,
    addr: IpAddr,
    in_use: bool,
    classes: [[u32; CLASSES]; SLOTS],
    /// Sources of inbound traffic, destinations of outbound.
    peers: SpaceSaving<IpAddr, 32>,
    src_ports: SpaceSaving<u16, 16>,
    dst_ports: SpaceSaving<u16, 16>,
    /// Source ports of UDP from no named reflection port: one of them carrying most of it
    /// is `udp_amplification`, many are `udp_flood`.
    udp_src_ports: SpaceSaving<u16, 8>,
    packets: u64,
    samples: u64,
    size_min: u32,
    size_max: u32,
    bytes: u64,
    ttl_min: u8,
    ttl_max: u8,
    /// Which TTL values were seen, one bit each.
    ttls: [u64; 4],
    /// Sum and count of record TTLs, for the mean (records, not packets: a TTL is a
    /// property of the sender's path, not of its volume).
    ttl_sum: u64,
    ttl_records: u64,
    calm_ticks: u32,
    /// Records observed since the last tick, and the state of the sampling decision.
    records_tick: u32,
    rng: u64,
    /// The detector's `now_slot` when the watch began.
    started_slot: u64,
}

/// Records per tick that update a watch's sketches one by one; past it, one in
/// `SKETCH_STRIDE` does.
const SKETCH_FULL_PER_TICK: u32 = 64;
const SKETCH_STRIDE: u64 = 16;

impl Watch {
    fn new(scope: Scope, addr: IpAddr) -> Self {
        const ZERO: IpAddr = IpAddr::V4(Ipv4Addr::UNSPECIFIED);
        Watch {
            scope,
            addr,
            in_use: true,
            classes: [[0; CLASSES]; SLOTS],
            peers: SpaceSaving::new(ZERO),
            src_ports: SpaceSaving::new(0),
            dst_ports: SpaceSaving::new(0),
            udp_src_ports: SpaceSaving::new(0),
            packets: 0,
            samples: 0,
            size_min: u32::MAX,
            size_max: 0,
            bytes: 0,
            ttl_min: u8::MAX,
            ttl_max: 0,
            ttls: [0; 4],
            ttl_sum: 0,
            ttl_records: 0,
            calm_ticks: 0,
            records_tick: 0,
            rng: 0x9e37_79b9_7f4a_7c15,
            started_slot: 0,
        }
    }

    #[inline]
    fn observe(&mut self, r: &FlowRecord, class: usize, peer: IpAddr, packets: u64, bytes: u64) {
        // Past the first records of each tick, one in SKETCH_STRIDE (chosen at random, so
        // that no periodic pattern in the traffic is aliased) updates the heavy-hitter
        // sketches, weighted to match: a flood of millions of packets per second costs a
        // few thousand sketch updates per second, and the top sources stay as clear.
        self.records_tick = self.records_tick.saturating_add(1);
        let weight = if self.records_tick <= SKETCH_FULL_PER_TICK {
            packets
        } else {
            self.rng ^= self.rng << 13;
            self.rng ^= self.rng >> 7;
            self.rng ^= self.rng << 17;
            if !self.rng.is_multiple_of(SKETCH_STRIDE) {
                0
            } else {
                packets.saturating_mul(SKETCH_STRIDE)
            }
        };
        if weight > 0 {
            self.sketch(r, class, peer, weight);
        }
        self.packets = self.packets.saturating_add(packets);
        self.bytes = self.bytes.saturating_add(bytes);
        self.samples = self.samples.saturating_add(r.packets);
        // Most flood records are one packet: no division then.
        let size = match r.packets {
            0 | 1 => r.bytes,
            n => r.bytes / n,
        }
        .min(u64::from(u32::MAX)) as u32;
        self.size_min = self.size_min.min(size);
        self.size_max = self.size_max.max(size);
        if let Some(t) = r.ttl {
            self.ttl_min = self.ttl_min.min(t);
            self.ttl_max = self.ttl_max.max(t);
            self.ttls[usize::from(t >> 6)] |= 1 << (t & 63);
            self.ttl_sum += u64::from(t);
            self.ttl_records += 1;
        }
    }

    /// The heavy-hitter part of `observe`, out of line: most records skip it.
    #[inline(never)]
    fn sketch(&mut self, r: &FlowRecord, class: usize, peer: IpAddr, weight: u64) {
        self.peers.add(peer, weight);
        if let Some(p) = r.src_port {
            self.src_ports.add(p, weight);
            // Port 0 is what flow exporters give trailing fragments: not a reflector.
            if class == UDP_OTHER && p != 0 {
                self.udp_src_ports.add(p, weight);
            }
        }
        if let Some(p) = r.dst_port {
            self.dst_ports.add(p, weight);
        }
    }

    fn distinct_ttls(&self) -> u32 {
        self.ttls.iter().map(|w| w.count_ones()).sum()
    }
}

/// Rates over the window ending at an entry's effective head.
#[derive(Clone, Copy, Debug, Default)]
struct Sample {
    pps: u64,
    bps: u64,
    classes: [u64; CLASSES],
    watch: Option<u16>,
    /// The last slot of the window.
    end: u64,
}

impl Sample {
    fn class_total(&self) -> u64 {
        self.classes[..EXCLUSIVE].iter().sum()
    }
}

/// Which threshold an attack is furthest over.
#[derive(Clone, Copy, Debug)]
struct Trigger {
    ratio: f64,
    name: &'static str,
    threshold: u64,
    unit: &'static str,
    source: Source,
}

/// Where a threshold comes from, for the evidence.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Source {
    /// `[detect.ddos]`.
    Static,
    /// A host group, by its index in `groups`.
    Group(usize),
    /// The address's learned baseline: its usual rate at this hour of the week.
    Baseline { usual: u64 },
}

/// The thresholds in force for one address at one evaluation.
#[derive(Clone, Copy, Debug)]
struct Bounds {
    /// The static or host-group threshold set (`Limits::set`).
    set: u16,
    /// Thresholds from the learned baseline, when it has enough history and the rates are
    /// high enough for it to matter.
    learned: Option<Learned>,
}

/// Learned thresholds and the usual rates they come from.
#[derive(Clone, Copy, Debug)]
struct Learned {
    pps: u64,
    bps: u64,
    usual_pps: u64,
    usual_bps: u64,
}

#[derive(Clone, Debug)]
struct Attack {
    id: u64,
    scope: Scope,
    addr: IpAddr,
    target: Cidr,
    start: Timestamp,
    quiet_since: Option<Timestamp>,
    peak_pps: u64,
    peak_bps: u64,
    last_pps: u64,
    last_bps: u64,
    trigger: Trigger,
    primary: DdosVector,
    primary_share: f64,
    vectors: Vec<DdosVector>,
    reported_pps: u64,
    reported_bps: u64,
    reported_vectors: usize,
    /// The threshold set of the target (host groups do not change while running).
    set: u16,
}

/// Sans-I/O DDoS detection. Feed records with `observe`, call `tick` at least every
/// `tick_ms` of event time, take attack starts, updates and ends from `poll_event`.
#[derive(Debug)]
pub struct DdosDetector {
    cfg: DdosConfig,
    /// `cfg.protect`, compiled for the per-record check.
    protected: Protected,
    /// The masks of the counted prefixes (`prefix_len_v4`, `prefix_len_v6`) as integers.
    prefix_mask: (u32, u128),
    limits: Limits,
    baselines: Baselines,
    /// This tick is the first of a new second: touched entries feed their baselines.
    learning: bool,
    /// The last second learned from.
    learned_second: Option<u64>,
    /// Packets/s and bits/s (hosts, prefixes) under which baselines are not consulted:
    /// learned thresholds are never below their floors, so under the smallest fraction of
    /// a threshold that matters (to be watched, to stay attacked) they cannot matter.
    consult_below: [(u64, u64); 2],
    /// Open attacks per (direction, prefix), hosts and the prefix itself alike: nothing in
    /// such a prefix learns its baseline meanwhile. At most `max_attacks` keys.
    attacked_prefixes: HashMap<(Direction, IpAddr), u32, FixedState>,
    /// Per target of an attack that ended within `max_lateness_s`: the last slot judged when
    /// it ended. At most `max_attacks` targets.
    ended: HashMap<(Scope, IpAddr), u64, FixedState>,
    tick_ns: u64,
    /// Slots in the 1 s window.
    window: u64,
    future_slots: u64,
    late_slots: u64,
    clock: Option<Timestamp>,
    now_slot: u64,
    scopes: [ScopeTables; 4],
    watches: Vec<Watch>,
    free_watches: Vec<u16>,
    dirty: Vec<(Scope, IpAddr)>,
    candidates: Vec<(Scope, IpAddr, Sample, Bounds)>,
    attacks: Vec<Attack>,
    next_id: u64,
    events: VecDeque<AttackEvent>,
    stats: DdosStats,
}

impl DdosDetector {
    /// A detector for `config`, which should have passed `validate()`; out-of-range values
    /// are clamped to something that works rather than panicking.
    pub fn new(config: DdosConfig) -> Self {
        let tick_ms = config.tick_ms.clamp(100, 1000);
        let window = (1000 / tick_ms).clamp(1, SLOTS as u64);
        let table = |limit: usize| ScopeTables {
            v4: Table::new(limit.max(1), config.hash_seed),
            v6: Table::new(limit.max(1), config.hash_seed),
        };
        let low = config.watch_ratio.min(config.end_ratio).clamp(0.0, 1.0);
        let below = |floor: u64| (low * floor as f64).ceil() as u64;
        let b = &config.baseline;
        let consult_below = [
            (below(b.min_pps), below(b.min_bps)),
            (below(b.prefix_min_pps), below(b.prefix_min_bps)),
        ];
        let ones = |a: IpAddr| mask(a, prefix_len(&config, a));
        let prefix_mask = match (
            ones(IpAddr::V4(Ipv4Addr::BROADCAST)),
            ones(IpAddr::V6(Ipv6Addr::from(u128::MAX))),
        ) {
            (IpAddr::V4(m4), IpAddr::V6(m6)) => (u32::from(m4), u128::from(m6)),
            // `mask` keeps the family.
            _ => (u32::MAX, u128::MAX),
        };
        DdosDetector {
            protected: Protected::new(&config.protect),
            prefix_mask,
            consult_below,
            limits: Limits::new(&config),
            baselines: Baselines::new(config.baseline.max_baselines, config.hash_seed),
            learning: false,
            learned_second: None,
            attacked_prefixes: HashMap::with_hasher(FixedState::with_seed(config.hash_seed)),
            ended: HashMap::with_hasher(FixedState::with_seed(config.hash_seed)),
            tick_ns: tick_ms * 1_000_000,
            window,
            future_slots: 1,
            late_slots: config.max_lateness_s * 1000 / tick_ms,
            clock: None,
            now_slot: 0,
            scopes: [
                table(config.max_hosts),
                table(config.max_hosts),
                table(config.max_prefixes),
                table(config.max_prefixes),
            ],
            watches: Vec::new(),
            free_watches: Vec::new(),
            dirty: Vec::new(),
            candidates: Vec::new(),
            attacks: Vec::new(),
            next_id: 1,
            events: VecDeque::new(),
            stats: DdosStats::default(),
            cfg: config,
        }
    }

    pub fn config(&self) -> &DdosConfig {
        &self.cfg
    }

    /// Applies new settings (a configuration reload) keeping counters, baselines, watches and
    /// open attacks. Settings that shape the tables cannot change this way: the error names
    /// them and nothing is applied; a new detector is needed for those.
    pub fn reconfigure(&mut self, config: DdosConfig) -> Result<(), Vec<&'static str>> {
        let old = &self.cfg;
        let mut fixed = Vec::new();
        for (key, same) in [
            ("tick_ms", old.tick_ms == config.tick_ms),
            ("hash_seed", old.hash_seed == config.hash_seed),
            ("max_hosts", old.max_hosts == config.max_hosts),
            ("max_prefixes", old.max_prefixes == config.max_prefixes),
            ("prefix_len_v4", old.prefix_len_v4 == config.prefix_len_v4),
            ("prefix_len_v6", old.prefix_len_v6 == config.prefix_len_v6),
            (
                "baseline.max_baselines",
                old.baseline.max_baselines == config.baseline.max_baselines,
            ),
        ] {
            if !same {
                fixed.push(key);
            }
        }
        if !fixed.is_empty() {
            return Err(fixed);
        }
        let fresh = DdosDetector::new(config);
        self.protected = fresh.protected;
        self.consult_below = fresh.consult_below;
        self.limits = fresh.limits;
        self.late_slots = fresh.late_slots;
        self.cfg = fresh.cfg;
        Ok(())
    }

    /// Counts one flow record or packet. Its packets and bytes are scaled by its sampling
    /// rate and spread evenly over the slots from its start to its end.
    pub fn observe(&mut self, r: &FlowRecord) {
        self.stats.records += 1;
        if r.packets == 0 {
            return;
        }
        if self.clock.is_none() {
            self.set_clock(r.end);
        }
        let Some(spread) = self.spread(r) else {
            self.stats.records_too_late += 1;
            return;
        };
        let protect_all = self.protected.is_empty();
        let inbound = protect_all || self.protected.contains(r.dst_addr);
        let outbound = !protect_all && self.protected.contains(r.src_addr);
        if !inbound && !outbound {
            self.stats.records_unprotected += 1;
            return;
        }
        let shares;
        let c = Counting {
            now_slot: self.now_slot,
            spread: &spread,
            last_ring: ring(spread.last),
            shares: if spread.first == spread.last {
                None
            } else {
                shares = RingShares::new(&spread);
                Some(&shares)
            },
            class: class::classify(r),
            fragment: r.fragment == Some(true),
            record: r,
        };
        if inbound {
            self.count(Scope::HostIn, Scope::PrefixIn, r.dst_addr, r.src_addr, &c);
        }
        if outbound {
            self.count(Scope::HostOut, Scope::PrefixOut, r.src_addr, r.dst_addr, &c);
        }
    }

    /// Moves the clock to `now` (never back) and evaluates, over the second before `now`,
    /// every address and prefix touched since the last tick and every open attack. Call it
    /// at every `tick_ms` boundary of event time, before observing records from after the
    /// boundary: records ahead of the clock are counted in the slot after it.
    pub fn tick(&mut self, now: Timestamp) {
        self.set_clock(now);
        let now = self.clock.unwrap_or(now);
        // The first tick of each second learns: the entries it evaluates feed their
        // baselines the rates of the second that just ended, once a second at most.
        let second = self.completed_second();
        self.learning = self.cfg.baseline.enabled && self.learned_second.is_none_or(|s| second > s);
        if self.learning {
            self.learned_second = Some(second);
        }

        let mut dirty = std::mem::take(&mut self.dirty);
        for &(scope, addr) in &dirty {
            self.evaluate_touched(scope, addr);
        }
        dirty.clear();
        // Entries deferred during the loop were pushed onto the fresh list; keep them.
        dirty.append(&mut self.dirty);
        self.dirty = dirty;

        self.update_attacks(now);

        // Host attacks first, then prefixes: a prefix attack is reported only for what its
        // attacked hosts do not explain.
        let mut candidates = std::mem::take(&mut self.candidates);
        for (scope, addr, sample, bounds) in candidates.drain(..) {
            let host_scope = match scope {
                Scope::PrefixIn => Scope::HostIn,
                _ => Scope::HostOut,
            };
            let Some(net) = Cidr::new(addr, self.prefix_len(addr)) else {
                continue;
            };
            let (mut pps, mut bps) = (0u64, 0u64);
            for a in self.attacks.iter().filter(|a| a.scope == host_scope) {
                if net.contains(a.addr) {
                    pps = pps.saturating_add(a.last_pps);
                    bps = bps.saturating_add(a.last_bps);
                }
            }
            let residual = Sample {
                pps: sample.pps.saturating_sub(pps),
                bps: sample.bps.saturating_sub(bps),
                ..sample
            };
            if self.trigger(scope, &residual, bounds).is_some() {
                self.start_attack(scope, addr, &sample, bounds, now);
            }
        }
        self.candidates = candidates;

        self.review_watches();
    }

    pub fn poll_event(&mut self) -> Option<AttackEvent> {
        self.events.pop_front()
    }

    pub fn stats(&self) -> DdosStats {
        let mut s = self.stats.clone();
        s.hosts_tracked = self.scopes[..2]
            .iter()
            .map(|t| t.v4.len() + t.v6.len())
            .sum();
        s.prefixes_tracked = self.scopes[2..]
            .iter()
            .map(|t| t.v4.len() + t.v6.len())
            .sum();
        let (mut evicted_h, mut evicted_p, mut refused) = (0, 0, 0);
        for (i, t) in self.scopes.iter().enumerate() {
            let e = t.v4.evictions + t.v6.evictions;
            if i < 2 {
                evicted_h += e;
            } else {
                evicted_p += e;
            }
            refused += t.v4.refused + t.v6.refused;
        }
        s.hosts_evicted = evicted_h;
        s.prefixes_evicted = evicted_p;
        s.tracking_refused = refused;
        s.watched = self.watches.iter().filter(|w| w.in_use).count();
        s.attacks_active = self.attacks.len();
        let table_bytes = |t: &ScopeTables| t.v4.bytes() + t.v6.bytes();
        s.hosts_bytes = self.scopes[..2].iter().map(table_bytes).sum();
        s.state_bytes = self.scopes.iter().map(table_bytes).sum::<usize>()
            + self.watches.capacity() * size_of::<Watch>()
            + self.free_watches.capacity() * size_of::<u16>()
            + self.dirty.capacity() * size_of::<(Scope, IpAddr)>()
            + self.candidates.capacity() * size_of::<(Scope, IpAddr, Sample, Bounds)>()
            + self.attacks.capacity() * size_of::<Attack>()
            + self.attacked_prefixes.capacity() * (size_of::<((Direction, IpAddr), u32)>() + 1)
            + self.ended.capacity() * (size_of::<((Scope, IpAddr), u64)>() + 1)
            + self.baselines.bytes();
        s.baselines = self.baselines.len();
        s.baselines_evicted = self.baselines.evicted;
        s.baselines_refused = self.baselines.refused;
        s.baseline_bytes = self.baselines.bytes();
        s
    }

    /// The open attacks, as they stand.
    pub fn active(&self) -> Vec<(u64, DdosDetection)> {
        self.attacks
            .iter()
            .map(|a| (a.id, self.snapshot(a, None)))
            .collect()
    }

    fn set_clock(&mut self, now: Timestamp) {
        if self.clock.is_none_or(|c| now > c) {
            self.clock = Some(now);
            // The last slot that has ended by `now`: a tick at 10.0 s evaluates
            // [9.0 s, 10.0 s), and records from 10.0 s on count at the next tick.
            self.now_slot = now.as_nanos().saturating_sub(1) / self.tick_ns;
        }
    }

    /// The slot of a time: `t / tick_ns`, computed as milliseconds over `tick_ms` (the same
    /// number, floor of a floor), so that the default 100 ms tick divides by a constant (a
    /// multiplication) instead of a 64-bit division on every record.
    #[inline]
    fn slot_of(&self, t: Timestamp) -> u64 {
        let ms = t.as_nanos() / 1_000_000;
        match self.tick_ns {
            100_000_000 => ms / 100,
            tick_ns => ms / (tick_ns / 1_000_000),
        }
    }

    fn spread(&self, r: &FlowRecord) -> Option<Spread> {
        let limit = self.now_slot + self.future_slots;
        let mut last = self.slot_of(r.end).min(limit);
        let mut first = match r.format {
            FlowFormat::Packet => last,
            _ => self.slot_of(r.start).min(limit),
        };
        if first > last {
            std::mem::swap(&mut first, &mut last);
        }
        if last + self.late_slots < self.now_slot {
            return None;
        }
        let rate = u64::from(r.sampling_rate.max(1));
        Some(Spread {
            first,
            last,
            packets: r.packets.saturating_mul(rate),
            bytes: r.bytes.saturating_mul(rate),
        })
    }

    fn prefix_len(&self, addr: IpAddr) -> u8 {
        prefix_len(&self.cfg, addr)
    }

    #[inline]
    fn prefix_of(&self, addr: IpAddr) -> IpAddr {
        mask(addr, self.prefix_len(addr))
    }

    /// Counts a record for `addr` and for its prefix (host scope first, as the dirty list
    /// records them), with one match on the address family for both.
    #[inline]
    fn count(&mut self, host: Scope, prefix: Scope, addr: IpAddr, peer: IpAddr, c: &Counting) {
        // Host scopes are the first two, prefix scopes the last two.
        let (hosts, prefixes) = self.scopes.split_at_mut(2);
        let (h, p) = (
            &mut hosts[host as usize],
            &mut prefixes[prefix as usize - 2],
        );
        match addr {
            IpAddr::V4(a) => {
                let key = u32::from(a);
                let net = key & self.prefix_mask.0;
                if c.apply(&mut h.v4, key, peer, &mut self.watches) {
                    self.dirty.push((host, addr));
                }
                if c.apply(&mut p.v4, net, peer, &mut self.watches) {
                    self.dirty.push((prefix, IpAddr::V4(Ipv4Addr::from(net))));
                }
            }
            IpAddr::V6(a) => {
                let bits = u128::from(a);
                let net = bits & self.prefix_mask.1;
                if c.apply(&mut h.v6, v6_key(a), peer, &mut self.watches) {
                    self.dirty.push((host, addr));
                }
                let net = Ipv6Addr::from(net);
                if c.apply(&mut p.v6, v6_key(net), peer, &mut self.watches) {
                    self.dirty.push((prefix, IpAddr::V6(net)));
                }
            }
        }
    }

    /// Reads the window of an entry; with `clear_dirty`, also takes it off the dirty list.
    fn read(&mut self, scope: Scope, addr: IpAddr, clear_dirty: bool) -> Option<(Sample, bool)> {
        let (now, window) = (self.now_slot, self.window);
        let tables = &mut self.scopes[scope as usize];
        match addr {
            IpAddr::V4(a) => read_entry(
                &mut tables.v4,
                u32::from(a),
                now,
                window,
                &self.watches,
                clear_dirty,
            ),
            IpAddr::V6(a) => read_entry(
                &mut tables.v6,
                v6_key(a),
                now,
                window,
                &self.watches,
                clear_dirty,
            ),
        }
    }

    /// Changes a flag or the watch of the entry for `addr`, if it is tracked.
    fn mark(&mut self, scope: Scope, addr: IpAddr, mark: Mark) {
        fn apply<K>(e: &mut Entry<K>, mark: Mark) {
            match mark {
                Mark::Attacked(on) => e.set(ATTACKED, on),
                Mark::Dirty => e.set(DIRTY, true),
                Mark::Watch(w) => e.watch = w,
            }
        }
        let tables = &mut self.scopes[scope as usize];
        match addr {
            IpAddr::V4(a) => {
                if let Some(i) = tables.v4.find(u32::from(a)) {
                    apply(tables.v4.get_mut(i), mark);
                }
            }
            IpAddr::V6(a) => {
                if let Some(i) = tables.v6.find(v6_key(a)) {
                    apply(tables.v6.get_mut(i), mark);
                }
            }
        }
    }

    fn evaluate_touched(&mut self, scope: Scope, addr: IpAddr) {
        let Some((mut sample, attacked)) = self.read(scope, addr, true) else {
            return;
        };
        let bounds = self.bounds(scope, addr, &sample);
        if sample.watch.is_none() && self.wants_watch(scope, &sample, bounds) {
            self.start_watch(scope, addr);
            // So that an attack found now waits a tick for its vector instead of being
            // named blind.
            sample.watch = self.entry_watch(scope, addr);
        }
        if self.trigger(scope, &sample, bounds).is_none() {
            // Only calm seconds of addresses not under attack teach the baseline.
            if self.learning && !attacked && self.limits.set(bounds.set).baseline {
                self.learn(scope, addr, &sample);
            }
            return;
        }
        if attacked {
            return;
        }
        if scope.is_prefix() {
            self.candidates.push((scope, addr, sample, bounds));
        } else {
            let now = self.clock.unwrap_or_default();
            self.start_attack(scope, addr, &sample, bounds, now);
        }
    }

    /// The last whole Unix second before the clock: the one a tick on a second boundary has
    /// just read, the one learned from, and the one whose hour of the week applies.
    fn completed_second(&self) -> u64 {
        let tick_ms = self.tick_ns / 1_000_000;
        ((self.now_slot + 1) * tick_ms / 1000).saturating_sub(1)
    }

    /// The key of `attacked_prefixes` for an address or prefix.
    fn prefix_key(&self, scope: Scope, addr: IpAddr) -> (Direction, IpAddr) {
        let prefix = if scope.is_prefix() {
            addr
        } else {
            self.prefix_of(addr)
        };
        (scope.direction(), prefix)
    }

    fn learn(&mut self, scope: Scope, addr: IpAddr, s: &Sample) {
        if !self.attacked_prefixes.is_empty()
            && self
                .attacked_prefixes
                .contains_key(&self.prefix_key(scope, addr))
        {
            return;
        }
        let second = self.completed_second();
        // A full store refuses and counts; nothing else to do about it here.
        let _ = self
            .baselines
            .learn((scope as u8, addr), second, s.pps, s.bps);
    }

    /// The thresholds in force for `addr`, given its current rates.
    fn bounds(&self, scope: Scope, addr: IpAddr, s: &Sample) -> Bounds {
        let set = if self.limits.has_groups() {
            let len = scope.is_prefix().then(|| self.prefix_len(addr));
            self.limits.select(addr, len, scope.direction())
        } else {
            DEFAULT_SET
        };
        Bounds {
            set,
            learned: self.learned(scope, addr, set, s),
        }
    }

    /// Learned thresholds: max(floor, factor × usual rate) for the current hour of the week,
    /// once that hour and the address have enough history.
    fn learned(&self, scope: Scope, addr: IpAddr, set: u16, s: &Sample) -> Option<Learned> {
        let b = &self.cfg.baseline;
        if !self.limits.set(set).baseline {
            return None;
        }
        let (below_pps, below_bps) = self.consult_below[usize::from(scope.is_prefix())];
        if s.pps < below_pps && s.bps < below_bps {
            return None;
        }
        let (floor_pps, floor_bps) = self.floors(scope);
        let level = self
            .baselines
            .level((scope as u8, addr), self.completed_second())?;
        if level.seconds < b.min_samples || level.history_s < b.min_history_s {
            return None;
        }
        Some(Learned {
            pps: self.scale(level.pps, floor_pps),
            bps: self.scale(level.bps, floor_bps),
            usual_pps: level.pps,
            usual_bps: level.bps,
        })
    }

    fn floors(&self, scope: Scope) -> (u64, u64) {
        let b = &self.cfg.baseline;
        if scope.is_prefix() {
            (b.prefix_min_pps.max(1), b.prefix_min_bps.max(1))
        } else {
            (b.min_pps.max(1), b.min_bps.max(1))
        }
    }

    fn scale(&self, usual: u64, floor: u64) -> u64 {
        ((usual as f64 * self.cfg.baseline.factor).min(u64::MAX as f64) as u64).max(floor)
    }

    /// The learned baseline of a host (a single-address `target`) or of a counted prefix
    /// (`prefix_len_v4`/`_v6` long) for the hour of the week of the detector's clock.
    pub fn baseline(&self, target: Cidr, direction: Direction) -> Option<LearnedBaseline> {
        let addr = target.addr();
        let scope = match (target.is_host(), direction) {
            (true, Direction::Inbound) => Scope::HostIn,
            (true, Direction::Outbound) => Scope::HostOut,
            (false, _) if target.prefix_len() != self.prefix_len(addr) => return None,
            (false, Direction::Inbound) => Scope::PrefixIn,
            (false, Direction::Outbound) => Scope::PrefixOut,
        };
        let level = self
            .baselines
            .level((scope as u8, addr), self.completed_second())?;
        let b = &self.cfg.baseline;
        let ready = level.seconds >= b.min_samples && level.history_s >= b.min_history_s;
        let (floor_pps, floor_bps) = self.floors(scope);
        Some(LearnedBaseline {
            usual_pps: level.pps,
            usual_bps: level.bps,
            seconds: level.seconds,
            history_s: level.history_s,
            threshold_pps: ready.then(|| self.scale(level.pps, floor_pps)),
            threshold_bps: ready.then(|| self.scale(level.bps, floor_bps)),
        })
    }

    /// The lowest packets/s and bits/s that can make an attack: every vector's packets are
    /// part of the total, so under these nothing is exceeded.
    fn lowest(&self, scope: Scope, b: Bounds) -> (u64, u64) {
        let set = self.limits.set(b.set);
        let (mut pps, mut bps) = if scope.is_prefix() {
            (set.prefix_pps, set.prefix_bps)
        } else {
            (set.host_min_pps, set.host_bps)
        };
        if let Some(l) = b.learned {
            pps = pps.min(l.pps);
            bps = bps.min(l.bps);
        }
        (pps, bps)
    }

    fn wants_watch(&self, scope: Scope, s: &Sample, b: Bounds) -> bool {
        let (pps, bps) = self.lowest(scope, b);
        let r = self.cfg.watch_ratio;
        s.pps as f64 >= r * pps as f64 || s.bps as f64 >= r * bps as f64
    }

    /// The threshold furthest exceeded, if any.
    fn trigger(&self, scope: Scope, s: &Sample, b: Bounds) -> Option<Trigger> {
        // Under the lowest thresholds (the common case) without computing ratios.
        let (pps, bps) = self.lowest(scope, b);
        if s.pps < pps && s.bps < bps {
            return None;
        }
        self.ratios(scope, s, b)
            .filter(|t| t.ratio >= 1.0)
            .max_by(|a, b| a.ratio.total_cmp(&b.ratio))
    }

    fn ratios<'a>(
        &'a self,
        scope: Scope,
        s: &'a Sample,
        b: Bounds,
    ) -> impl Iterator<Item = Trigger> + 'a {
        let set = self.limits.set(b.set);
        let source = set.group.map_or(Source::Static, Source::Group);
        let (pps_name, pps, bps_name, bps) = if scope.is_prefix() {
            ("prefix_pps", set.prefix_pps, "prefix_bps", set.prefix_bps)
        } else {
            ("host_pps", set.host_pps, "host_bps", set.host_bps)
        };
        let totals = [
            Some(Trigger {
                ratio: s.pps as f64 / pps.max(1) as f64,
                name: pps_name,
                threshold: pps,
                unit: "pps",
                source,
            }),
            Some(Trigger {
                ratio: s.bps as f64 / bps.max(1) as f64,
                name: bps_name,
                threshold: bps,
                unit: "bit/s",
                source,
            }),
            b.learned.map(|l| Trigger {
                ratio: s.pps as f64 / l.pps.max(1) as f64,
                name: "baseline",
                threshold: l.pps,
                unit: "pps",
                source: Source::Baseline { usual: l.usual_pps },
            }),
            b.learned.map(|l| Trigger {
                ratio: s.bps as f64 / l.bps.max(1) as f64,
                name: "baseline",
                threshold: l.bps,
                unit: "bit/s",
                source: Source::Baseline { usual: l.usual_bps },
            }),
        ];
        let vectors = (0..CLASSES)
            .filter(move |&c| !scope.is_prefix() && set.vectors[c] > 0)
            .map(move |c| Trigger {
                ratio: s.classes[c] as f64 / set.vectors[c] as f64,
                name: class::vector(c).as_str(),
                threshold: set.vectors[c],
                unit: "pps",
                source,
            });
        totals.into_iter().flatten().chain(vectors)
    }

    fn start_watch(&mut self, scope: Scope, addr: IpAddr) {
        let index = if let Some(i) = self.free_watches.pop() {
            self.watches[i as usize] = Watch::new(scope, addr);
            i
        } else if self.watches.len() < self.cfg.max_watched.min(usize::from(NO_WATCH)) {
            self.watches.push(Watch::new(scope, addr));
            (self.watches.len() - 1) as u16
        } else {
            self.stats.watch_refused += 1;
            return;
        };
        self.watches[index as usize].started_slot = self.now_slot;
        self.mark(scope, addr, Mark::Watch(index));
    }

    fn start_attack(
        &mut self,
        scope: Scope,
        addr: IpAddr,
        s: &Sample,
        bounds: Bounds,
        now: Timestamp,
    ) {
        if self.attacks.len() >= self.cfg.max_attacks {
            self.stats.attacks_dropped += 1;
            return;
        }
        if self.ended.get(&(scope, addr)).is_some_and(|&e| s.end <= e) {
            self.stats.late_restarts_suppressed += 1;
            return;
        }
        // A watch made on this very tick has counted nothing yet: wait one tick to learn
        // the vector rather than report a blind one (once: if nothing more comes, the
        // attack is reported with what is known).
        let fresh = s
            .watch
            .and_then(|w| self.watches.get(w as usize))
            .is_some_and(|w| w.started_slot == self.now_slot);
        if fresh && s.class_total() == 0 {
            self.mark(scope, addr, Mark::Dirty);
            self.dirty.push((scope, addr));
            return;
        }
        let Some(trigger) = self.trigger(scope, s, bounds) else {
            return;
        };
        let target = if scope.is_prefix() {
            Cidr::new(addr, self.prefix_len(addr)).unwrap_or(Cidr::host(addr))
        } else {
            Cidr::host(addr)
        };
        self.mark(scope, addr, Mark::Attacked(true));
        *self
            .attacked_prefixes
            .entry(self.prefix_key(scope, addr))
            .or_default() += 1;
        let (primary, primary_share, vectors) = self.classify(scope, s, bounds.set);
        let attack = Attack {
            id: self.next_id,
            scope,
            addr,
            target,
            start: now,
            quiet_since: None,
            peak_pps: s.pps,
            peak_bps: s.bps,
            last_pps: s.pps,
            last_bps: s.bps,
            trigger,
            primary,
            primary_share,
            reported_pps: s.pps,
            reported_bps: s.bps,
            reported_vectors: vectors.len(),
            vectors,
            set: bounds.set,
        };
        self.next_id += 1;
        self.events.push_back(AttackEvent {
            id: attack.id,
            phase: Phase::Started,
            detection: self.snapshot(&attack, None),
        });
        self.attacks.push(attack);
    }

    /// The dominant vector, its share of the window's packets, and every vector that
    /// matters: over its own threshold, or a fifth of the packets or more. Ranking is by
    /// how far over threshold a vector is (by its share when it has none), weighted toward
    /// specific explanations (a reflection port, a flag pattern) over generic ones.
    fn classify(&self, scope: Scope, s: &Sample, set: u16) -> (DdosVector, f64, Vec<DdosVector>) {
        let thresholds = &self.limits.set(set).vectors;
        let total = s.class_total();
        let Some(w) = s.watch.filter(|_| total > 0) else {
            return (DdosVector::IpFlood, 0.0, vec![DdosVector::IpFlood]);
        };
        let watch = &self.watches[w as usize];
        let mut ranked: Vec<(f64, usize)> = Vec::new();
        for (c, &t) in thresholds.iter().enumerate() {
            let share = s.classes[c] as f64 / total as f64;
            let over = !scope.is_prefix() && t > 0 && s.classes[c] >= t;
            if over || share >= 0.2 {
                let strength = if over {
                    1.0 + s.classes[c] as f64 / t as f64
                } else {
                    share
                };
                ranked.push((strength * class::specificity(c), c));
            }
        }
        if ranked.is_empty() {
            let c = (0..EXCLUSIVE)
                .max_by_key(|&c| s.classes[c])
                .unwrap_or(UDP_OTHER);
            ranked.push((1.0, c));
        }
        ranked.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        let name = |c: usize| {
            // One source port carrying most of the UDP is a reflector on a port we have no
            // name for.
            if c == UDP_OTHER && !watch.udp_src_ports.top(1, 0.5).is_empty() {
                return DdosVector::UdpAmplification;
            }
            class::vector(c)
        };
        // Large reflected answers (DNS, CLDAP) arrive fragmented: the fragments are the
        // reflection's, so the reflection names the attack when it is there too.
        let primary = match ranked[0].1 {
            FRAGMENT => ranked
                .iter()
                .map(|&(_, c)| c)
                .find(|&c| class::is_reflection(c))
                .unwrap_or(FRAGMENT),
            c => c,
        };
        let mut vectors: Vec<DdosVector> = Vec::with_capacity(ranked.len());
        for &(_, c) in &ranked {
            let v = name(c);
            if !vectors.contains(&v) {
                vectors.push(v);
            }
        }
        let share = s.classes[primary] as f64 / total as f64;
        (name(primary), share.min(1.0), vectors)
    }

    fn update_attacks(&mut self, now: Timestamp) {
        let end_after_ns = self.cfg.end_after_s.saturating_mul(1_000_000_000);
        let mut i = 0;
        while i < self.attacks.len() {
            let (scope, addr) = (self.attacks[i].scope, self.attacks[i].addr);
            let sample = self
                .read(scope, addr, false)
                .map(|(s, _)| s)
                .unwrap_or_default();
            let set = self.attacks[i].set;
            let bounds = Bounds {
                set,
                learned: self.learned(scope, addr, set, &sample),
            };
            let calm = self
                .ratios(scope, &sample, bounds)
                .all(|t| t.ratio < self.cfg.end_ratio);
            let trigger = self.trigger(scope, &sample, bounds);
            // Slots counted before the watch began have no classes: nothing to name then.
            let classified =
                (!calm && sample.class_total() > 0).then(|| self.classify(scope, &sample, set));
            let a = &mut self.attacks[i];
            a.last_pps = sample.pps;
            a.last_bps = sample.bps;
            if calm {
                let since = *a.quiet_since.get_or_insert(now);
                if now.as_nanos().saturating_sub(since.as_nanos()) >= end_after_ns {
                    let a = self.attacks.remove(i);
                    self.remember_end(a.scope, a.addr, sample.end);
                    self.mark(a.scope, a.addr, Mark::Attacked(false));
                    let key = self.prefix_key(a.scope, a.addr);
                    if let Some(n) = self.attacked_prefixes.get_mut(&key) {
                        *n = n.saturating_sub(1);
                        if *n == 0 {
                            self.attacked_prefixes.remove(&key);
                        }
                    }
                    self.events.push_back(AttackEvent {
                        id: a.id,
                        phase: Phase::Ended,
                        detection: self.snapshot(&a, Some(since)),
                    });
                    continue;
                }
            } else {
                a.quiet_since = None;
            }
            a.peak_pps = a.peak_pps.max(sample.pps);
            a.peak_bps = a.peak_bps.max(sample.bps);
            if let Some(t) = trigger {
                if t.ratio > a.trigger.ratio {
                    a.trigger = t;
                }
            }
            if let Some((primary, share, vectors)) = classified {
                if sample.pps >= a.peak_pps {
                    a.primary = primary;
                    a.primary_share = share;
                }
                for v in vectors {
                    if !a.vectors.contains(&v) {
                        a.vectors.push(v);
                    }
                }
            }
            let grew = a.peak_pps * 10 >= a.reported_pps * 11 && a.peak_pps > a.reported_pps
                || a.peak_bps * 10 >= a.reported_bps * 11 && a.peak_bps > a.reported_bps
                || a.vectors.len() > a.reported_vectors;
            if grew {
                a.reported_pps = a.peak_pps;
                a.reported_bps = a.peak_bps;
                a.reported_vectors = a.vectors.len();
                let event = AttackEvent {
                    id: a.id,
                    phase: Phase::Updated,
                    detection: self.snapshot(&self.attacks[i], None),
                };
                self.events.push_back(event);
            }
            i += 1;
        }
    }

    /// Keeps the last judged slot of an ended attack's target for `max_lateness_s`, the
    /// longest records may come late, so that late data does not start it again.
    fn remember_end(&mut self, scope: Scope, addr: IpAddr, end: u64) {
        let oldest = self.now_slot.saturating_sub(self.late_slots);
        self.ended.retain(|_, e| *e >= oldest);
        if self.ended.len() >= self.cfg.max_attacks {
            if let Some(k) = self.ended.iter().min_by_key(|(_, e)| **e).map(|(k, _)| *k) {
                self.ended.remove(&k);
            }
        }
        self.ended.insert((scope, addr), end);
    }

    /// Frees watches on entries that have been calm for ten seconds and are not attacked.
    fn review_watches(&mut self) {
        let calm_limit = (self.window * 10) as u32;
        for w in 0..self.watches.len() {
            if !self.watches[w].in_use {
                continue;
            }
            self.watches[w].records_tick = 0;
            let (scope, addr) = (self.watches[w].scope, self.watches[w].addr);
            let read = self.read(scope, addr, false);
            let keep = match read {
                Some((_, true)) => true,
                Some((s, false)) => {
                    // Released below half the level that made it: no flapping at the edge.
                    let half = Sample {
                        pps: s.pps.saturating_mul(2),
                        bps: s.bps.saturating_mul(2),
                        ..Sample::default()
                    };
                    if self.wants_watch(scope, &half, self.bounds(scope, addr, &half)) {
                        self.watches[w].calm_ticks = 0;
                        true
                    } else {
                        self.watches[w].calm_ticks += 1;
                        self.watches[w].calm_ticks < calm_limit
                    }
                }
                None => false,
            };
            if !keep {
                self.watches[w].in_use = false;
                self.free_watches.push(w as u16);
                self.mark(scope, addr, Mark::Watch(NO_WATCH));
            }
        }
    }

    fn snapshot(&self, a: &Attack, end: Option<Timestamp>) -> DdosDetection {
        let watch = self
            .entry_watch(a.scope, a.addr)
            .map(|w| &self.watches[w as usize]);
        let direction = a.scope.direction();
        let mut vectors = vec![a.primary];
        vectors.extend(a.vectors.iter().copied().filter(|&v| v != a.primary));
        let (mut top_peers, mut top_src_ports, mut top_dst_ports) = (vec![], vec![], vec![]);
        let (mut packet_size, mut ttl, mut samples, mut spoofed) = (None, None, 0, false);
        if let Some(w) = watch {
            let total = w.packets.max(1) as f64;
            let share = |n: u64| ((n as f64 / total).min(1.0) * 1000.0).round() / 1000.0;
            top_peers = w
                .peers
                .top(10, TOP_MIN_SHARE)
                .into_iter()
                .map(|(addr, packets)| TopAddr {
                    addr,
                    packets,
                    share: share(packets),
                })
                .collect();
            let ports = |s: &SpaceSaving<u16, 16>| {
                s.top(10, TOP_MIN_SHARE)
                    .into_iter()
                    .map(|(port, packets)| TopPort {
                        port,
                        packets,
                        share: share(packets),
                    })
                    .collect::<Vec<_>>()
            };
            top_src_ports = ports(&w.src_ports);
            top_dst_ports = ports(&w.dst_ports);
            packet_size = w.bytes.checked_div(w.packets).map(|avg| Range {
                min: w.size_min,
                max: w.size_max,
                avg: avg.min(u64::from(u32::MAX)) as u32,
            });
            ttl = w.ttl_sum.checked_div(w.ttl_records).map(|avg| Range {
                min: u32::from(w.ttl_min),
                max: u32::from(w.ttl_max),
                avg: avg as u32,
            });
            samples = w.samples;
            spoofed = direction == Direction::Inbound && spoofed_sources(a, w);
        }
        // Poisson counting error is 1/sqrt(n): three samples say little, thousands a lot.
        // At the threshold itself the verdict is a coin toss; it firms up as the excess grows.
        let from_samples = if samples > 0 {
            1.0 - 1.0 / (samples as f64).sqrt()
        } else {
            0.5
        };
        let from_excess = 1.0 - 0.5 / a.trigger.ratio.max(1.0);
        let confidence = ((from_samples * from_excess).clamp(0.0, 1.0) * 100.0).round() / 100.0;
        let (top_sources, top_destinations) = match direction {
            Direction::Inbound => (top_peers, vec![]),
            Direction::Outbound => (vec![], top_peers),
        };
        let t = &a.trigger;
        let threshold = match t.source {
            Source::Static => format!("the {} threshold of {} {}", t.name, t.threshold, t.unit),
            Source::Group(g) => format!(
                "the {} threshold of host group {} ({} {})",
                t.name,
                self.cfg.groups.get(g).map_or("?", |g| g.name.as_str()),
                t.threshold,
                t.unit
            ),
            Source::Baseline { usual } => format!(
                "the learned baseline threshold of {} {} (usually {} {} at this hour of the week)",
                t.threshold, t.unit, usual, t.unit
            ),
        };
        let evidence =
            format!(
            "{} pps, {:.1} Mbit/s at peak {} {}; {:.1}x {}; {}% of packets {}; {} packets observed",
            a.peak_pps,
            a.peak_bps as f64 / 1e6,
            if direction == Direction::Inbound { "toward" } else { "from" },
            a.target,
            t.ratio,
            threshold,
            (a.primary_share * 100.0).round(),
            a.primary,
            samples,
        );
        DdosDetection {
            vector: a.primary,
            vectors,
            target: a.target,
            direction,
            start: a.start,
            end,
            peak_pps: a.peak_pps,
            peak_bps: a.peak_bps,
            confidence,
            top_sources,
            top_destinations,
            top_src_ports,
            top_dst_ports,
            spoofed_sources: spoofed,
            packet_size,
            ttl,
            samples,
            evidence,
        }
    }

    fn entry_watch(&self, scope: Scope, addr: IpAddr) -> Option<u16> {
        let tables = &self.scopes[scope as usize];
        let w = match addr {
            IpAddr::V4(a) => tables.v4.find(u32::from(a)).map(|i| tables.v4.get(i).watch),
            IpAddr::V6(a) => tables.v6.find(v6_key(a)).map(|i| tables.v6.get(i).watch),
        };
        w.filter(|&w| w != NO_WATCH)
    }
}

/// The length of the counted prefix of an address's family.
fn prefix_len(cfg: &DdosConfig, addr: IpAddr) -> u8 {
    match addr {
        IpAddr::V4(_) => cfg.prefix_len_v4.min(32),
        IpAddr::V6(_) => cfg.prefix_len_v6.min(128),
    }
}

/// Forged sources: a thousand samples or more, spread so thin over sources that the 32
/// heaviest certainly carry under a quarter of them, and TTLs that real senders spread that
/// wide would not give: at most two values (one machine behind all the "sources") or a
/// hundred or more (a randomised header field). Never for reflection vectors, whose
/// sources are real reflectors; never without TTLs in the telemetry.
fn spoofed_sources(a: &Attack, w: &Watch) -> bool {
    let reflection = a.vectors.iter().any(|v| {
        matches!(
            v,
            DdosVector::SynackReflection | DdosVector::UdpAmplification
        ) || v.as_str().ends_with("_amplification")
    });
    if reflection || w.samples < 1000 || w.ttl_min > w.ttl_max {
        return false;
    }
    let many = w.peers.guaranteed().saturating_mul(4) < w.peers.total();
    let ttls = w.distinct_ttls();
    many && (ttls <= 2 || ttls >= 100)
}

/// A change to one entry's flags or watch.
#[derive(Clone, Copy, Debug)]
enum Mark {
    Attacked(bool),
    Dirty,
    Watch(u16),
}

/// What one record does to one entry.
struct Counting<'a> {
    now_slot: u64,
    spread: &'a Spread,
    /// Where `spread.last` sits in the rings, worked out once for the host and the prefix.
    last_ring: usize,
    /// The shares of a record over several slots (`None` for one slot).
    shares: Option<&'a RingShares>,
    class: usize,
    fragment: bool,
    record: &'a FlowRecord,
}

impl Counting<'_> {
    /// Adds the record to the entry for `key`; true when the entry just became dirty.
    #[inline(always)]
    fn apply<K: Key>(
        &self,
        table: &mut Table<K>,
        key: K,
        peer: IpAddr,
        watches: &mut [Watch],
    ) -> bool {
        let sp = self.spread;
        let Some((i, _)) = table.find_or_insert(key, sp.last, self.now_slot) else {
            return false;
        };
        let e: &mut Entry<K> = table.get_mut(i);
        let mut watch = match e.watch {
            NO_WATCH => None,
            w => watches.get_mut(usize::from(w)),
        };
        let mut head = unwrap_slot(self.now_slot, e.head());
        if sp.last > head {
            let d = (sp.last - head).min(SLOTS as u64);
            for k in 1..=d {
                let x = ring(head + k);
                e.packets[x] = 0;
                e.bytes[x] = 0;
                if let Some(w) = watch.as_deref_mut() {
                    w.classes[x] = [0; CLASSES];
                }
            }
            head = sp.last;
            e.set_head(head);
        }
        e.lag = self.now_slot.saturating_sub(head).min(u64::from(u16::MAX)) as u16;
        match self.shares {
            // A packet, or a flow record within one slot (nearly all packets and most
            // records): the whole of it goes to that slot if the ring still holds it.
            None => {
                if sp.last + SLOTS as u64 > head {
                    self.add(
                        e,
                        watch.as_deref_mut(),
                        self.last_ring,
                        sp.packets,
                        sp.bytes,
                    );
                }
            }
            Some(shares) => self.spread_over(e, head, watch.as_deref_mut(), shares),
        }
        if let Some(w) = watch {
            w.observe(self.record, self.class, peer, sp.packets, sp.bytes);
        }
        if !e.has(DIRTY) {
            e.set(DIRTY, true);
            true
        } else {
            false
        }
    }

    /// Adds a record spanning several slots to those of them the ring holds, in exact shares.
    /// `head` is at least the record's last slot.
    fn spread_over<K>(
        &self,
        e: &mut Entry<K>,
        head: u64,
        mut watch: Option<&mut Watch>,
        shares: &RingShares,
    ) {
        let last = self.spread.last;
        if head == last {
            // The entry's newest slot is the record's (nearly always): every lane of the
            // shares is a slot the ring holds, the others add zero.
            add_lanes(&mut e.packets, &shares.packets);
            add_lanes(&mut e.bytes, &shares.bytes);
            if let Some(w) = watch {
                for (s, &p) in shares.packets.iter().enumerate() {
                    self.add_classes(w, s, p);
                }
            }
            return;
        }
        // Newer slots have taken the places of the record's oldest ones.
        let lo = shares.from.max((head + 1).saturating_sub(SLOTS as u64));
        for x in lo..=last {
            let k = ring(x);
            let (p, b) = (shares.packets[k], shares.bytes[k]);
            self.add(e, watch.as_deref_mut(), k, u64::from(p), u64::from(b));
        }
    }

    /// Adds packets and bytes to ring position `s` of the entry, and to its watch's class
    /// counters.
    #[inline]
    fn add<K>(&self, e: &mut Entry<K>, watch: Option<&mut Watch>, s: usize, p: u64, b: u64) {
        let p32 = clamp32(p);
        e.packets[s] = e.packets[s].saturating_add(p32);
        e.bytes[s] = e.bytes[s].saturating_add(clamp32(b));
        if let Some(w) = watch {
            self.add_classes(w, s, p32);
        }
    }

    /// Adds packets to the record's class (and to fragments, for a fragment) at ring
    /// position `s` of a watch.
    #[inline]
    fn add_classes(&self, w: &mut Watch, s: usize, p: u32) {
        let row = &mut w.classes[s];
        row[self.class] = row[self.class].saturating_add(p);
        if self.fragment {
            row[FRAGMENT] = row[FRAGMENT].saturating_add(p);
        }
    }
}

/// Where slot `x` sits in an entry's rings.
#[inline]
fn ring(x: u64) -> usize {
    (x % SLOTS as u64) as usize
}

/// Adds a ring of shares to a ring of counters, saturating.
#[inline]
fn add_lanes(counters: &mut [u32; SLOTS], shares: &[u32; SLOTS]) {
    for (c, s) in counters.iter_mut().zip(shares) {
        *c = c.saturating_add(*s);
    }
}

/// The window of the entry for `key`: the `window` slots ending at the clock less the lag
/// its data usually has (its newest data while it keeps coming late, the clock less that lag
/// once it stops), never past the clock.
fn read_entry<K: Key>(
    table: &mut Table<K>,
    key: K,
    now: u64,
    window: u64,
    watches: &[Watch],
    clear_dirty: bool,
) -> Option<(Sample, bool)> {
    let i = table.find(key)?;
    let e = table.get_mut(i);
    if clear_dirty {
        e.set(DIRTY, false);
    }
    let head = unwrap_slot(now, e.head());
    let end = now.min(head.max(now.saturating_sub(u64::from(e.lag))));
    let lo = (end + 1)
        .saturating_sub(window)
        .max((head + 1).saturating_sub(SLOTS as u64));
    let mut s = Sample {
        end,
        ..Sample::default()
    };
    let watch = (e.watch != NO_WATCH).then_some(e.watch);
    s.watch = watch;
    let classes = watch.and_then(|w| watches.get(usize::from(w)));
    // Slots after the head have not been written since the ring last went round: they
    // hold old data, and read as zero.
    for x in lo..=end.min(head) {
        let k = ring(x);
        s.pps += u64::from(e.packets[k]);
        s.bps += u64::from(e.bytes[k]) * 8;
        if let Some(w) = classes {
            for (c, n) in s.classes.iter_mut().zip(w.classes[k]) {
                *c += u64::from(n);
            }
        }
    }
    // The window covers one second whatever the tick, so sums are per-second rates.
    Some((s, e.has(ATTACKED)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_sizes() {
        // Close watches are few (max_watched) and fixed in size, whatever the sources.
        let watch = size_of::<Watch>();
        eprintln!(
            "watch: {watch} bytes; host entries: {:?}",
            crate::HOST_ENTRY_BYTES
        );
        assert!(watch <= 3_000, "{watch}");
    }

    /// A record over several slots adds to an entry's ring (and its watch's class row)
    /// exactly what the formula gives the slots the ring still holds, whether the record
    /// is the entry's newest or newer slots have taken its oldest ones' places.
    #[test]
    fn ring_shares_add_the_exact_share_of_every_slot_the_ring_holds() {
        let mut rng = 0x2545_f491_4f6c_dd1du64;
        let mut next = |m: u64| {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            rng % m
        };
        let record = FlowRecord::empty(FlowFormat::Netflow9);
        let mut watches = vec![Watch::new(Scope::HostIn, IpAddr::V4(Ipv4Addr::LOCALHOST))];
        for case in 0..2_000 {
            let first = 20 + next(40);
            let last = first + 1 + next(30);
            // Half the cases: the entry has newer data than the record (a late record).
            let head = if case % 2 == 0 { last } else { last + next(15) };
            let big = case % 7 == 0;
            let (packets, bytes) = if big {
                (u64::from(u32::MAX) * 40 + next(1_000), u64::MAX / 3)
            } else {
                (next(200), next(100_000))
            };
            let sp = Spread {
                first,
                last,
                packets,
                bytes,
            };
            let mut table = Table::<u32>::new(16, 1);
            let (i, _) = table.find_or_insert(7, head, head).unwrap();
            table.get_mut(i).watch = 0;
            table.get_mut(i).set_head(head);
            let c = Counting {
                now_slot: head,
                spread: &sp,
                last_ring: ring(last),
                shares: Some(&RingShares::new(&sp)),
                class: UDP_OTHER,
                fragment: true,
                record: &record,
            };
            watches[0].classes = [[0; CLASSES]; SLOTS];
            c.apply(&mut table, 7, IpAddr::V4(Ipv4Addr::LOCALHOST), &mut watches);
            let share = |total: u64, x: u64| -> u32 {
                let (t, n, i) = (
                    u128::from(total),
                    u128::from(last - first + 1),
                    u128::from(x - first),
                );
                ((t * (i + 1)) / n - (t * i) / n).min(u128::from(u32::MAX)) as u32
            };
            let (mut want_p, mut want_b) = ([0u32; SLOTS], [0u32; SLOTS]);
            for x in first.max((head + 1).saturating_sub(SLOTS as u64))..=last {
                want_p[ring(x)] = share(packets, x);
                want_b[ring(x)] = share(bytes, x);
            }
            let e = table.get(i);
            let what =
                format!("case {case}: slots {first}..={last}, head {head}, {packets} packets");
            assert_eq!(e.packets, want_p, "{what}");
            assert_eq!(e.bytes, want_b, "{what}");
            let class = |c: usize| watches[0].classes.map(|row| row[c]);
            assert_eq!(class(UDP_OTHER), want_p, "{what}");
            assert_eq!(class(FRAGMENT), want_p, "{what}");
        }
    }

    #[test]
    fn exact_spread_has_no_remainder_spike() {
        let s = Spread {
            first: 0,
            last: 599,
            packets: 599,
            bytes: 0,
        };
        let parts = |total: u64, lo: u64| {
            let mut shares = s.shares(total, lo);
            (lo..600).map(|_| shares.next_share()).collect::<Vec<u64>>()
        };
        let all = parts(599, 0);
        assert_eq!(all.iter().sum::<u64>(), 599);
        assert!(all.iter().all(|&p| p <= 1));
        // Starting part-way gives the same shares as the exact formula.
        for (total, lo) in [(599, 17), (1_000_003, 599), (u64::MAX / 3, 250), (7, 0)] {
            let exact = |x: u64| -> u64 {
                let (t, n, i) = (u128::from(total), 600u128, u128::from(x));
                ((t * (i + 1)) / n - (t * i) / n) as u64
            };
            let got = parts(total, lo);
            let want: Vec<u64> = (lo..600).map(exact).collect();
            assert_eq!(got, want, "total {total} from {lo}");
        }
    }
}
