//! The exfiltration detector: flow records from protected (internal) hosts to external
//! addresses, summed per host over a window, against the host's learned baseline (an EWMA of
//! its windows, with a floor) and against the destinations it talked to before (a Bloom
//! filter per host). Time comes only from the records and `tick(now)`; hosts are bounded.

use crate::auth_config::{AccessConfigError, Checks};
use crate::bounded::{
    confidence_over, half_life_weight, hash_of, unchangeable, Bounded, DetectionEvent,
};
use crate::protect::Protected;
use crate::Phase;
use foldhash::fast::FixedState;
use rampart_model::{
    Cidr, DestinationBytes, Detection, ExfilDetection, ExfilReason, FlowRecord, Timestamp,
};
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;

/// The longest window a baseline is learned over (a day).
const MAX_WINDOW_S: u64 = 86_400;

const NS: u64 = 1_000_000_000;
/// Bits of a host's filter of destinations known before the current window (512 bytes):
/// with 3 hashes, 2% false positives at 400 destinations. A busy server saturates it and
/// then sees fewer new destinations, never more: it fails toward silence.
const KNOWN_WORDS: usize = 64;
/// Destinations tallied exactly per window.
const TOP: usize = 4;
const UPDATE_GROWTH: f64 = 1.5;

/// `[detect.exfil]`. Every field has a default; `validate()` after loading.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct ExfilConfig {
    /// The protected address space, copied from the top-level `protect` key: its hosts
    /// are the internal ones. Empty: private addresses (RFC 1918, 100.64.0.0/10,
    /// fc00::/7) are internal.
    #[serde(skip)]
    pub protect: Vec<Cidr>,
    /// Look for exfiltration at all.
    pub enabled: bool,
    /// Counting window in seconds. 300.
    pub window_s: u64,
    /// A window with this many times the host's usual bytes out is an exfiltration...
    pub factor: f64,
    /// ...when it is also at least this many bytes (200 MB in the window).
    pub min_bytes: u64,
    /// Bytes in one window to one external address the host never sent to before that
    /// make an exfiltration (100 MB).
    pub new_destination_bytes: u64,
    /// Seconds a host is watched (from its first outbound record) before either rule
    /// applies: its baseline and destinations must be learned first. 86400.
    pub learning_s: u64,
    /// Half-life in seconds of the baseline (an exponentially weighted mean of windows).
    /// 86400.
    pub baseline_half_life_s: u64,
    /// Internal hosts tracked at once (about 1.2 KB each); the least recently active
    /// is evicted and counted. 16384.
    pub max_hosts: usize,
    /// Detections open at once. 1024.
    pub max_open: usize,
    /// Seed of the hashes; fixed so that runs are reproducible.
    pub hash_seed: u64,
}

impl Default for ExfilConfig {
    fn default() -> Self {
        ExfilConfig {
            protect: Vec::new(),
            enabled: true,
            window_s: 300,
            factor: 10.0,
            min_bytes: 200_000_000,
            new_destination_bytes: 100_000_000,
            learning_s: 86_400,
            baseline_half_life_s: 86_400,
            max_hosts: 16_384,
            max_open: 1024,
            hash_seed: 0x6578_6669_6c74_7261,
        }
    }
}

impl ExfilConfig {
    pub fn validate(&self) -> Result<(), AccessConfigError> {
        let c = Checks { section: "exfil" };
        c.range("window_s", self.window_s, 1..=86_400)?;
        c.range("factor", self.factor, 1.0..=1e6)?;
        c.range("min_bytes", self.min_bytes, 1..=u64::MAX)?;
        c.range(
            "new_destination_bytes",
            self.new_destination_bytes,
            1..=u64::MAX,
        )?;
        c.range("learning_s", self.learning_s, 0..=365 * 86_400)?;
        c.range(
            "baseline_half_life_s",
            self.baseline_half_life_s,
            1..=365 * 86_400,
        )?;
        c.range("max_hosts", self.max_hosts as u64, 1..=1 << 24)?;
        c.range("max_open", self.max_open as u64, 1..=1 << 16)?;
        Ok(())
    }
}

/// Counters for metrics.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExfilStats {
    pub records: u64,
    /// Records from an internal host to an external address.
    pub outbound: u64,
    pub hosts_tracked: usize,
    pub hosts_evicted: u64,
    pub tracking_refused: u64,
    pub open: usize,
    pub open_dropped: u64,
    pub state_bytes: usize,
}

#[derive(Clone, Debug)]
struct HostState {
    first_seen: u64,
    window_start: u64,
    bytes: u64,
    flows: u64,
    top: [Option<DestinationBytes>; TOP],
    baseline: f64,
    learned_windows: u32,
    known: [u64; KNOWN_WORDS],
    /// This window's destinations, the same size and hashes: it joins `known` at the end.
    window_seen: [u64; KNOWN_WORDS],
    open: bool,
}

#[derive(Clone, Debug)]
struct Open {
    id: u64,
    det: ExfilDetection,
    reported: u64,
}

/// Sans-I/O exfiltration detection. Feed every flow record to `observe` (those that are
/// not internal → external cost a few comparisons), call `tick` now and then, take
/// detections from `poll_event`.
#[derive(Debug)]
pub struct ExfilDetector {
    cfg: ExfilConfig,
    hasher: FixedState,
    hosts: Bounded<IpAddr, HostState>,
    open: HashMap<IpAddr, Open, FixedState>,
    alpha: f64,
    next_id: u64,
    clock: u64,
    next_review: u64,
    events: VecDeque<DetectionEvent>,
    stats: ExfilStats,
    /// `cfg.protect` compiled to integer masks: every flow record asks twice.
    protected: Protected,
}

fn private(a: IpAddr) -> bool {
    match a {
        IpAddr::V4(v) => {
            let o = v.octets();
            v.is_private() || (o[0] == 100 && (o[1] & 0xc0) == 64)
        }
        IpAddr::V6(v) => (v.segments()[0] & 0xfe00) == 0xfc00,
    }
}

/// Addresses that are nobody outside: loopback, link-local, multicast, broadcast.
fn special(a: IpAddr) -> bool {
    match a {
        IpAddr::V4(v) => {
            v.is_loopback()
                || v.is_link_local()
                || v.is_multicast()
                || v.is_broadcast()
                || v.is_unspecified()
        }
        IpAddr::V6(v) => {
            v.is_loopback()
                || v.is_multicast()
                || v.is_unspecified()
                || (v.segments()[0] & 0xffc0) == 0xfe80
        }
    }
}

fn bloom_bits(h: u64, bits: usize) -> [usize; 3] {
    let (a, b) = (h, h.rotate_left(21) | 1);
    [0u64, 1, 2].map(|i| (a.wrapping_add(i.wrapping_mul(b)) % bits as u64) as usize)
}

fn bloom_has<const W: usize>(f: &[u64; W], h: u64) -> bool {
    bloom_bits(h, W * 64)
        .iter()
        .all(|&i| f[i / 64] >> (i % 64) & 1 == 1)
}

fn bloom_add<const W: usize>(f: &mut [u64; W], h: u64) {
    for i in bloom_bits(h, W * 64) {
        f[i / 64] |= 1 << (i % 64);
    }
}

impl ExfilDetector {
    pub fn new(config: ExfilConfig) -> Self {
        ExfilDetector {
            hasher: FixedState::with_seed(config.hash_seed),
            hosts: Bounded::new(config.max_hosts.clamp(1, 1 << 24), config.hash_seed),
            open: HashMap::with_hasher(FixedState::with_seed(config.hash_seed)),
            alpha: half_life_weight(config.window_s, config.baseline_half_life_s, MAX_WINDOW_S),
            next_id: 1,
            clock: 0,
            next_review: 0,
            events: VecDeque::new(),
            stats: ExfilStats::default(),
            protected: Protected::new(&config.protect),
            cfg: config,
        }
    }

    pub fn config(&self) -> &ExfilConfig {
        &self.cfg
    }

    /// A reloaded configuration (and protected space): applied at once, keeping baselines
    /// and open detections, except the table size and hash seed, which are named in the
    /// error (and nothing is applied).
    pub fn reconfigure(&mut self, config: ExfilConfig) -> Result<(), Vec<&'static str>> {
        unchangeable(&[
            ("max_hosts", self.cfg.max_hosts != config.max_hosts),
            ("hash_seed", self.cfg.hash_seed != config.hash_seed),
        ])?;
        self.alpha = half_life_weight(config.window_s, config.baseline_half_life_s, MAX_WINDOW_S);
        self.protected = Protected::new(&config.protect);
        self.cfg = config;
        Ok(())
    }

    #[inline]
    fn internal(&self, a: IpAddr) -> bool {
        if self.protected.is_empty() {
            private(a)
        } else {
            self.protected.contains(a)
        }
    }

    /// Counts one flow record if it goes from an internal host to an external address.
    #[inline]
    pub fn observe(&mut self, r: &FlowRecord) {
        self.stats.records += 1;
        if !self.cfg.enabled
            || r.bytes == 0
            || !self.internal(r.src_addr)
            || self.internal(r.dst_addr)
            || special(r.dst_addr)
        {
            return;
        }
        self.stats.outbound += 1;
        let t = r.end.as_nanos();
        self.clock = self.clock.max(t);
        let bytes = r.bytes.saturating_mul(u64::from(r.sampling_rate.max(1)));
        let dst_hash = hash_of(&self.hasher, &r.dst_addr);
        let window = self.cfg.window_s.max(1) * NS;
        let alpha = self.alpha;
        let src = r.src_addr;
        let Some(h) = self.hosts.entry(
            src,
            || HostState {
                first_seen: t,
                window_start: t,
                bytes: 0,
                flows: 0,
                top: [const { None }; TOP],
                baseline: 0.0,
                learned_windows: 0,
                known: [0; KNOWN_WORDS],
                window_seen: [0; KNOWN_WORDS],
                open: false,
            },
            |h| h.open,
        ) else {
            return;
        };
        let mut closed = None;
        if t.saturating_sub(h.window_start) >= window {
            closed = Some(h.bytes);
            close_window(h, t, window, alpha);
        }
        let new = !bloom_has(&h.known, dst_hash);
        bloom_add(&mut h.window_seen, dst_hash);
        h.bytes = h.bytes.saturating_add(bytes);
        h.flows += 1;
        add_top(&mut h.top, r.dst_addr, bytes, new);
        let learned =
            t.saturating_sub(h.first_seen) >= self.cfg.learning_s * NS && h.learned_windows > 0;
        let snapshot = (h.bytes, h.baseline, h.window_start, h.open, h.top);
        let (wbytes, baseline, wstart, open, top) = snapshot;
        if let (Some(prev), true) = (closed, open) {
            // The window before ended: still over the threshold, or the end.
            if prev < self.threshold(baseline) && !self.over_new(&top) {
                self.end(src);
            }
        }
        let open = self.open.contains_key(&src);
        if open {
            if let Some(o) = self.open.get_mut(&src) {
                o.det.bytes = o.det.bytes.max(wbytes);
                o.det.flows += 1;
                o.det.last_seen = Timestamp::from_nanos(t);
                o.det.top_destinations = sorted_top(&top);
                if o.det.bytes as f64 >= o.reported as f64 * UPDATE_GROWTH {
                    o.reported = o.det.bytes;
                    o.det.confidence =
                        confidence_over(o.det.bytes as f64, self_threshold(&self.cfg, baseline));
                    o.det.evidence = evidence(&o.det);
                    self.events.push_back(DetectionEvent {
                        id: o.id,
                        phase: Phase::Updated,
                        detection: Detection::Exfiltration(o.det.clone()),
                    });
                }
            }
            return;
        }
        if !learned {
            return;
        }
        let reason = if wbytes >= self.threshold(baseline) {
            ExfilReason::Volume
        } else if self.over_new(&top) {
            ExfilReason::NewDestination
        } else {
            return;
        };
        if self.open.len() >= self.cfg.max_open {
            self.stats.open_dropped += 1;
            return;
        }
        let tops = sorted_top(&top);
        let target = tops
            .first()
            .map_or(Cidr::host(r.dst_addr), |d| Cidr::host(d.addr));
        let confidence = match reason {
            ExfilReason::Volume => confidence_over(wbytes as f64, self.threshold(baseline) as f64),
            ExfilReason::NewDestination => confidence_over(
                tops.first().map_or(0, |d| d.bytes) as f64,
                self.cfg.new_destination_bytes as f64,
            ),
        };
        let mut det = ExfilDetection {
            source: src,
            target,
            reason,
            bytes: wbytes,
            baseline_bytes: baseline.round() as u64,
            window_s: self.cfg.window_s,
            top_destinations: tops,
            flows: 1,
            start: Timestamp::from_nanos(wstart),
            end: None,
            last_seen: Timestamp::from_nanos(t),
            confidence,
            evidence: String::new(),
        };
        det.evidence = evidence(&det);
        let id = self.next_id;
        self.next_id += 1;
        self.events.push_back(DetectionEvent {
            id,
            phase: Phase::Started,
            detection: Detection::Exfiltration(det.clone()),
        });
        self.open.insert(
            src,
            Open {
                id,
                reported: det.bytes,
                det,
            },
        );
        if let Some(h) = self.hosts.get_mut(&src) {
            h.open = true;
        }
    }

    fn threshold(&self, baseline: f64) -> u64 {
        self_threshold(&self.cfg, baseline) as u64
    }

    fn over_new(&self, top: &[Option<DestinationBytes>; TOP]) -> bool {
        top.iter()
            .flatten()
            .any(|d| d.new && d.bytes >= self.cfg.new_destination_bytes)
    }

    /// Moves the clock; ends detections whose host sent under the threshold for a whole
    /// window.
    pub fn tick(&mut self, now: Timestamp) {
        self.clock = self.clock.max(now.as_nanos());
        if self.clock < self.next_review {
            return;
        }
        self.next_review = self.clock + NS;
        let window = self.cfg.window_s.max(1) * NS;
        let now = self.clock;
        let mut due: Vec<(u64, IpAddr)> = self
            .open
            .iter()
            .filter(|(_, o)| now.saturating_sub(o.det.last_seen.as_nanos()) >= window)
            .map(|(a, o)| (o.id, *a))
            .collect();
        due.sort();
        for (_, a) in due {
            let alpha = self.alpha;
            if let Some(h) = self.hosts.get_mut(&a) {
                close_window(h, now, window, alpha);
            }
            self.end(a);
        }
    }

    fn end(&mut self, src: IpAddr) {
        let Some(mut o) = self.open.remove(&src) else {
            return;
        };
        if let Some(h) = self.hosts.get_mut(&src) {
            h.open = false;
        }
        o.det.end = Some(o.det.last_seen);
        o.det.evidence = evidence(&o.det);
        self.events.push_back(DetectionEvent {
            id: o.id,
            phase: Phase::Ended,
            detection: Detection::Exfiltration(o.det),
        });
    }

    pub fn poll_event(&mut self) -> Option<DetectionEvent> {
        self.events.pop_front()
    }

    pub fn active(&self) -> Vec<(u64, Detection)> {
        let mut v: Vec<(u64, Detection)> = self
            .open
            .values()
            .map(|o| (o.id, Detection::Exfiltration(o.det.clone())))
            .collect();
        v.sort_by_key(|(id, _)| *id);
        v
    }

    pub fn stats(&self) -> ExfilStats {
        let mut s = self.stats.clone();
        s.hosts_tracked = self.hosts.len();
        s.hosts_evicted = self.hosts.evicted;
        s.tracking_refused = self.hosts.refused;
        s.open = self.open.len();
        s.state_bytes = self.hosts.bytes() + self.open.capacity() * size_of::<(IpAddr, Open)>();
        s
    }
}

fn self_threshold(cfg: &ExfilConfig, baseline: f64) -> f64 {
    (baseline * cfg.factor).max(cfg.min_bytes as f64)
}

/// Ends the host's window: learns it (unless it was an exfiltration), decays the baseline
/// over the windows that passed without traffic, and makes this window's destinations known.
fn close_window(h: &mut HostState, t: u64, window: u64, alpha: f64) {
    if !h.open {
        if h.learned_windows == 0 {
            h.baseline = h.bytes as f64;
        } else {
            h.baseline += alpha * (h.bytes as f64 - h.baseline);
        }
        h.learned_windows = h.learned_windows.saturating_add(1);
        let idle = (t.saturating_sub(h.window_start) / window).saturating_sub(1);
        h.baseline *= (1.0 - alpha).powi(idle.min(10_000) as i32);
    }
    for (k, w) in h.known.iter_mut().zip(&h.window_seen) {
        *k |= w;
    }
    h.window_seen = [0; KNOWN_WORDS];
    h.window_start = t;
    h.bytes = 0;
    h.top = [const { None }; TOP];
}

fn add_top(top: &mut [Option<DestinationBytes>; TOP], addr: IpAddr, bytes: u64, new: bool) {
    if let Some(d) = top.iter_mut().flatten().find(|d| d.addr == addr) {
        d.bytes = d.bytes.saturating_add(bytes);
        return;
    }
    if let Some(slot) = top.iter_mut().find(|d| d.is_none()) {
        *slot = Some(DestinationBytes { addr, bytes, new });
        return;
    }
    if let Some(min) = top
        .iter_mut()
        .flatten()
        .min_by_key(|d| d.bytes)
        .filter(|d| d.bytes <= bytes)
    {
        *min = DestinationBytes { addr, bytes, new };
    }
}

fn sorted_top(top: &[Option<DestinationBytes>; TOP]) -> Vec<DestinationBytes> {
    let mut v: Vec<DestinationBytes> = top.iter().flatten().cloned().collect();
    v.sort_by(|a, b| b.bytes.cmp(&a.bytes).then(a.addr.cmp(&b.addr)));
    v
}

fn human_bytes(b: u64) -> String {
    match b {
        b if b >= 1 << 30 => format!("{:.1} GB", b as f64 / f64::from(1u32 << 30)),
        b if b >= 1 << 20 => format!("{:.1} MB", b as f64 / f64::from(1u32 << 20)),
        b if b >= 1 << 10 => format!("{:.1} kB", b as f64 / 1024.0),
        b => format!("{b} B"),
    }
}

fn evidence(d: &ExfilDetection) -> String {
    let to = d
        .top_destinations
        .first()
        .map(|t| {
            format!(
                ", mostly to {}{}",
                t.addr,
                if t.new { " (never seen before)" } else { "" }
            )
        })
        .unwrap_or_default();
    match d.reason {
        ExfilReason::Volume => format!(
            "{} sent {} out in {} s{to}, usually {}",
            d.source,
            human_bytes(d.bytes),
            d.window_s,
            human_bytes(d.baseline_bytes)
        ),
        ExfilReason::NewDestination => format!(
            "{} sent {} out in {} s{to}",
            d.source,
            human_bytes(d.bytes),
            d.window_s
        ),
    }
}
