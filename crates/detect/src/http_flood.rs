//! The HTTP flood detector: requests from access logs counted per client over a short
//! window, against a fixed rate and the client's own learned rate (an EWMA of its windows),
//! whichever is higher. Time comes only from the events and `tick(now)`; clients are bounded.

use crate::auth_config::{AccessConfigError, Checks};
use crate::bounded::{
    confidence_over, half_life_weight, hash_of, round2, unchangeable, Bounded, DetectionEvent,
};
use crate::Phase;
use foldhash::fast::FixedState;
use rampart_model::{Detection, HttpEvent, HttpFloodDetection, Timestamp};
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;

/// The longest window a client's rate is learned over (an hour).
const MAX_WINDOW_S: u64 = 3600;

const NS: u64 = 1_000_000_000;
const UPDATE_GROWTH: f64 = 1.5;
/// A path is named in the detection when it has this share of the requests or more.
const TOP_PATH_SHARE: f64 = 0.1;

/// `[detect.http]`. Every field has a default; `validate()` after loading.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct HttpFloodConfig {
    /// Look for HTTP floods at all.
    pub enabled: bool,
    /// Requests per second from one client, averaged over `window_s`, that make a flood.
    /// 50: a browser loading a heavy page makes 100 requests in a few seconds, then
    /// stops; a flood keeps going.
    pub rps: f64,
    /// Counting window in seconds. 10.
    pub window_s: u64,
    /// A client whose usual rate (learned) times this is higher than `rps` must exceed
    /// that instead: an API client polling hard all day is its normal. 10.
    pub factor: f64,
    /// A flood ends after this many seconds under the threshold. 60.
    pub end_after_s: u64,
    /// Half-life in seconds of a client's learned rate. 3600.
    pub baseline_half_life_s: u64,
    /// Clients tracked at once (about 100 bytes each); the least recently active is
    /// evicted and counted. 65536.
    pub max_clients: usize,
    /// Floods open at once. 1024.
    pub max_open: usize,
    /// Seed of the hashes; fixed so that runs are reproducible.
    pub hash_seed: u64,
}

impl Default for HttpFloodConfig {
    fn default() -> Self {
        HttpFloodConfig {
            enabled: true,
            rps: 50.0,
            window_s: 10,
            factor: 10.0,
            end_after_s: 60,
            baseline_half_life_s: 3600,
            max_clients: 65_536,
            max_open: 1024,
            hash_seed: 0x6874_7470_666c_6f6f,
        }
    }
}

impl HttpFloodConfig {
    pub fn validate(&self) -> Result<(), AccessConfigError> {
        let c = Checks { section: "http" };
        c.range("rps", self.rps, 0.1..=1e9)?;
        c.range("window_s", self.window_s, 1..=3600)?;
        c.range("factor", self.factor, 1.0..=1e6)?;
        c.range("end_after_s", self.end_after_s, 1..=86_400)?;
        c.range(
            "baseline_half_life_s",
            self.baseline_half_life_s,
            1..=30 * 86_400,
        )?;
        c.range("max_clients", self.max_clients as u64, 1..=1 << 24)?;
        c.range("max_open", self.max_open as u64, 1..=1 << 16)?;
        Ok(())
    }
}

/// Counters for metrics.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HttpFloodStats {
    pub requests: u64,
    pub clients_tracked: usize,
    pub clients_evicted: u64,
    pub tracking_refused: u64,
    pub open: usize,
    pub open_dropped: u64,
    pub state_bytes: usize,
}

#[derive(Clone, Debug)]
struct ClientState {
    window_start: u64,
    requests: u64,
    /// Requests of the window answered with 4xx or 5xx.
    errors: u64,
    /// Learned requests/s (EWMA of closed windows outside floods).
    baseline: f64,
    learned: bool,
    /// One heavy path by the majority vote (Boyer-Moore): its hash and margin.
    path: u64,
    path_votes: u64,
    open: bool,
}

#[derive(Clone, Debug)]
struct Open {
    id: u64,
    det: HttpFloodDetection,
    errors: u64,
    path_hits: u64,
    reported: f64,
    /// Last time the client was over the threshold.
    last_over: u64,
}

/// Sans-I/O HTTP flood detection. Feed HTTP events to `observe`, call `tick` now and then,
/// take detections from `poll_event`.
#[derive(Debug)]
pub struct HttpFloodDetector {
    cfg: HttpFloodConfig,
    hasher: FixedState,
    clients: Bounded<IpAddr, ClientState>,
    open: HashMap<IpAddr, Open, FixedState>,
    alpha: f64,
    next_id: u64,
    clock: u64,
    next_review: u64,
    events: VecDeque<DetectionEvent>,
    stats: HttpFloodStats,
}

impl HttpFloodDetector {
    pub fn new(config: HttpFloodConfig) -> Self {
        HttpFloodDetector {
            hasher: FixedState::with_seed(config.hash_seed),
            clients: Bounded::new(config.max_clients.clamp(1, 1 << 24), config.hash_seed),
            open: HashMap::with_hasher(FixedState::with_seed(config.hash_seed)),
            alpha: half_life_weight(config.window_s, config.baseline_half_life_s, MAX_WINDOW_S),
            next_id: 1,
            clock: 0,
            next_review: 0,
            events: VecDeque::new(),
            stats: HttpFloodStats::default(),
            cfg: config,
        }
    }

    pub fn config(&self) -> &HttpFloodConfig {
        &self.cfg
    }

    /// A reloaded configuration: applied at once, keeping learned rates and open floods,
    /// except the table size and hash seed, which are named in the error (and nothing is
    /// applied).
    pub fn reconfigure(&mut self, config: HttpFloodConfig) -> Result<(), Vec<&'static str>> {
        unchangeable(&[
            ("max_clients", self.cfg.max_clients != config.max_clients),
            ("hash_seed", self.cfg.hash_seed != config.hash_seed),
        ])?;
        self.alpha = half_life_weight(config.window_s, config.baseline_half_life_s, MAX_WINDOW_S);
        self.cfg = config;
        Ok(())
    }

    fn threshold(&self, baseline: f64) -> f64 {
        (baseline * self.cfg.factor).max(self.cfg.rps)
    }

    /// Counts one request.
    pub fn observe(&mut self, e: &HttpEvent) {
        self.stats.requests += 1;
        if !self.cfg.enabled {
            return;
        }
        let t = e.time.as_nanos();
        self.clock = self.clock.max(t);
        let window_s = self.cfg.window_s.max(1);
        let window = window_s * NS;
        let alpha = self.alpha;
        let path = hash_of(&self.hasher, e.path.as_str());
        let Some(c) = self.clients.entry(
            e.client,
            || ClientState {
                window_start: t,
                requests: 0,
                errors: 0,
                baseline: 0.0,
                learned: false,
                path,
                path_votes: 0,
                open: false,
            },
            |c| c.open,
        ) else {
            return;
        };
        let mut closed_rate = None;
        if t.saturating_sub(c.window_start) >= window {
            let rate = c.requests as f64 / window_s as f64;
            closed_rate = Some(rate);
            if !c.open {
                let idle = (t - c.window_start) / window - 1;
                if c.learned {
                    c.baseline += alpha * (rate - c.baseline);
                } else {
                    c.baseline = rate;
                    c.learned = true;
                }
                c.baseline *= (1.0 - alpha).powi(idle.min(10_000) as i32);
            }
            c.window_start = t;
            c.requests = 0;
            c.errors = 0;
        }
        c.requests += 1;
        c.errors += u64::from(e.status >= 400);
        if c.path == path {
            c.path_votes += 1;
        } else if c.path_votes == 0 {
            c.path = path;
            c.path_votes = 1;
        } else {
            c.path_votes -= 1;
        }
        let (requests, errors, baseline, start, heavy_path, votes) = (
            c.requests,
            c.errors,
            c.baseline,
            c.window_start,
            c.path,
            c.path_votes,
        );
        // Rate so far in this window, over the whole window length: a window is judged
        // as soon as it has enough requests.
        let rate = requests as f64 / window_s as f64;
        let threshold = self.threshold(baseline);
        if let Some(o) = self.open.get_mut(&e.client) {
            o.det.requests += 1;
            o.det.last_seen = Timestamp::from_nanos(t);
            if e.status >= 400 {
                o.errors += 1;
            }
            if path == heavy_path {
                o.path_hits += 1;
                if o.det.top_path.is_none() {
                    o.det.top_path = Some(e.path.clone());
                }
            }
            if let Some(r) = closed_rate {
                o.det.peak_rps = o.det.peak_rps.max(round2(r));
            }
            if rate >= threshold || closed_rate.is_some_and(|r| r >= threshold) {
                o.last_over = t;
            }
            o.det.peak_rps = o.det.peak_rps.max(round2(rate));
            if o.det.peak_rps >= o.reported * UPDATE_GROWTH {
                o.reported = o.det.peak_rps;
                finish(o, threshold);
                self.events.push_back(DetectionEvent {
                    id: o.id,
                    phase: Phase::Updated,
                    detection: Detection::HttpFlood(o.det.clone()),
                });
            }
            return;
        }
        if rate < threshold {
            return;
        }
        if self.open.len() >= self.cfg.max_open {
            self.stats.open_dropped += 1;
            return;
        }
        let id = self.next_id;
        self.next_id += 1;
        let mut o = Open {
            id,
            det: HttpFloodDetection {
                source: e.client,
                target: e.vhost.clone(),
                requests,
                peak_rps: round2(rate),
                baseline_rps: round2(baseline),
                error_share: 0.0,
                top_path: (path == heavy_path).then(|| e.path.clone()),
                start: Timestamp::from_nanos(start),
                end: None,
                last_seen: Timestamp::from_nanos(t),
                confidence: 0.5,
                evidence: String::new(),
            },
            errors,
            // The vote's margin: a floor of the heavy path's count.
            path_hits: votes,
            reported: round2(rate),
            last_over: t,
        };
        finish(&mut o, threshold);
        self.events.push_back(DetectionEvent {
            id,
            phase: Phase::Started,
            detection: Detection::HttpFlood(o.det.clone()),
        });
        self.open.insert(e.client, o);
        if let Some(c) = self.clients.get_mut(&e.client) {
            c.open = true;
        }
    }

    /// Moves the clock; ends floods under the threshold for `end_after_s`.
    pub fn tick(&mut self, now: Timestamp) {
        self.clock = self.clock.max(now.as_nanos());
        if self.clock < self.next_review {
            return;
        }
        self.next_review = self.clock + NS;
        let quiet = self.cfg.end_after_s * NS;
        let now = self.clock;
        let mut due: Vec<(u64, IpAddr)> = self
            .open
            .iter()
            .filter(|(_, o)| now.saturating_sub(o.last_over) >= quiet)
            .map(|(a, o)| (o.id, *a))
            .collect();
        due.sort();
        for (_, a) in due {
            let Some(mut o) = self.open.remove(&a) else {
                continue;
            };
            if let Some(c) = self.clients.get_mut(&a) {
                c.open = false;
            }
            o.det.end = Some(o.det.last_seen);
            let threshold = self.threshold(o.det.baseline_rps);
            finish(&mut o, threshold);
            self.events.push_back(DetectionEvent {
                id: o.id,
                phase: Phase::Ended,
                detection: Detection::HttpFlood(o.det),
            });
        }
    }

    pub fn poll_event(&mut self) -> Option<DetectionEvent> {
        self.events.pop_front()
    }

    pub fn active(&self) -> Vec<(u64, Detection)> {
        let mut v: Vec<(u64, Detection)> = self
            .open
            .values()
            .map(|o| (o.id, Detection::HttpFlood(o.det.clone())))
            .collect();
        v.sort_by_key(|(id, _)| *id);
        v
    }

    pub fn stats(&self) -> HttpFloodStats {
        let mut s = self.stats.clone();
        s.clients_tracked = self.clients.len();
        s.clients_evicted = self.clients.evicted;
        s.tracking_refused = self.clients.refused;
        s.open = self.open.len();
        s.state_bytes = self.clients.bytes() + self.open.capacity() * size_of::<(IpAddr, Open)>();
        s
    }
}

/// Fills the derived fields: error share, top path, confidence, evidence.
fn finish(o: &mut Open, threshold: f64) {
    let d = &mut o.det;
    d.error_share = round2(o.errors as f64 / d.requests.max(1) as f64);
    if (o.path_hits as f64) < d.requests as f64 * TOP_PATH_SHARE {
        d.top_path = None;
    }
    d.confidence = round2(confidence_over(d.peak_rps, threshold));
    d.evidence = format!(
        "{}: {} HTTP requests{}, up to {:.0}/s (threshold {:.0}/s){}{}",
        d.source,
        d.requests,
        d.target
            .as_deref()
            .map(|h| format!(" to {h}"))
            .unwrap_or_default(),
        d.peak_rps,
        threshold,
        d.top_path
            .as_deref()
            .map(|p| format!(", mostly {p}"))
            .unwrap_or_default(),
        if d.error_share >= 0.5 {
            format!(", {:.0}% errors", d.error_share * 100.0)
        } else {
            String::new()
        }
    );
}
