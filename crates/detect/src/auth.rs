//! The login-abuse detector: auth events from access logs in, detections of brute force,
//! user enumeration, password spraying, credential stuffing, slow brute force, logins after
//! failures and login anomalies (impossible travel, new country or network, unusual hours)
//! out. Every count sums `AuthEvent::attempts`, so a folded "message repeated N times" line
//! counts N. Time comes only from the events and `tick(now)`; every table is bounded.
//!
//! State is kept per source address (short-window counts), per source prefix (sprays), per
//! source with a decayed counter (slow brute force), per service and host (stuffing) and per
//! user (`login`: failures, last login, countries, networks, hours).

use crate::auth_config::AuthConfig;
use crate::bounded::{
    confidence_over, hash_of, round2, unchangeable, Bounded, DetectionEvent, Distinct,
};
use crate::login::{Anomaly, Logins};
use crate::Phase;
use foldhash::fast::FixedState;
use rampart_model::{
    mask, AuthDetection, AuthEvent, Detection, GeoInfo, Outcome, Service, SourceAttempts, Timestamp,
};
use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;

const NS: u64 = 1_000_000_000;

/// An open detection is updated when its failures grow by half since last reported.
const UPDATE_GROWTH: f64 = 1.5;

/// Host names interned at most; later ones are reported without a target.
const MAX_HOSTS: usize = 1024;

/// Sources listed in a stuffing or spray detection.
const TOP_SOURCES: usize = 5;

/// Open detections are reviewed for their end at most this often (event time).
const REVIEW_NS: u64 = NS;
/// Failures a source must have made on a user to count in a login after failures spread
/// over several sources: the one that got in, and each of the others.
const MIN_OWN_FAILURES: u64 = 2;

/// Counters for metrics: what was counted, dropped and evicted.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AuthStats {
    pub events: u64,
    /// Failed attempts counted (sums of `attempts`).
    pub failures: u64,
    pub successes: u64,
    /// Events without a source address: counted per user only.
    pub without_source: u64,
    pub sources_tracked: usize,
    pub sources_evicted: u64,
    pub prefixes_tracked: usize,
    pub prefixes_evicted: u64,
    pub slow_tracked: usize,
    pub slow_evicted: u64,
    pub users_tracked: usize,
    pub users_evicted: u64,
    pub services_tracked: usize,
    pub services_evicted: u64,
    /// New keys not tracked because every entry was pinned by an open detection.
    pub tracking_refused: u64,
    pub open: usize,
    /// Detections not opened because `max_open` were open.
    pub open_dropped: u64,
    /// Heap bytes held by the tables.
    pub state_bytes: usize,
}

/// Which open detection of a key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Kind {
    BruteForce,
    Enumeration,
    Spray,
    Stuffing,
    Slow,
}

/// What an open detection is keyed by: a source, a prefix, or a service.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum OpenKey {
    Addr(IpAddr),
    Service(Service, u16),
}

/// Counts of one source in its current window.
#[derive(Clone, Debug)]
struct SourceState {
    window_start: u64,
    failures: u64,
    invalid: u64,
    successes: u64,
    users: Distinct,
    invalid_users: Distinct,
    /// The first user tried in the window, and whether every failure was for it.
    first_user: u64,
    one_user: bool,
    /// Failures of the current episode (failures no more than the lookback apart), for
    /// logins after failures, and the last one's time.
    episode_failures: u64,
    episode_users: Distinct,
    last_failure: u64,
    /// Bits of `Kind`s open for this source.
    open: u8,
}

impl SourceState {
    /// A source first seen, or its window started afresh, at `t`.
    fn new(t: u64) -> Self {
        SourceState {
            window_start: t,
            failures: 0,
            invalid: 0,
            successes: 0,
            users: Distinct::default(),
            invalid_users: Distinct::default(),
            first_user: 0,
            one_user: true,
            episode_failures: 0,
            episode_users: Distinct::default(),
            last_failure: t,
            open: 0,
        }
    }
}

/// Counts of one prefix for sprays.
#[derive(Clone, Debug)]
struct PrefixState {
    window_start: u64,
    failures: u64,
    users: Distinct,
    sources: Distinct,
    top: Top,
    open: bool,
}

impl PrefixState {
    fn new(t: u64) -> Self {
        PrefixState {
            window_start: t,
            failures: 0,
            users: Distinct::default(),
            sources: Distinct::default(),
            top: Top::default(),
            open: false,
        }
    }
}

/// A decayed failure counter of one source.
#[derive(Clone, Copy, Debug)]
struct SlowState {
    count: f64,
    last_s: u64,
    first: u64,
    failures: u64,
    /// A brute force was reported for this source while the counter was up: not slow.
    fast: bool,
    open: bool,
}

impl SlowState {
    /// A counter at rest, starting an episode at `t` (`now_s` in seconds).
    fn new(t: u64, now_s: u64) -> Self {
        SlowState {
            count: 0.0,
            last_s: now_s,
            first: t,
            failures: 0,
            fast: false,
            open: false,
        }
    }
}

/// Counts of one service (and host) for stuffing.
#[derive(Clone, Debug)]
struct ServiceState {
    window_start: u64,
    failures: u64,
    successes: u64,
    sources: Distinct,
    users: Distinct,
    top: Top,
    open: bool,
}

impl ServiceState {
    fn new(t: u64) -> Self {
        ServiceState {
            window_start: t,
            failures: 0,
            successes: 0,
            sources: Distinct::default(),
            users: Distinct::default(),
            top: Top::default(),
            open: false,
        }
    }
}

/// The few busiest sources, exact for the first ones seen and replacing the smallest.
#[derive(Clone, Debug, Default)]
struct Top(Vec<SourceAttempts>);

impl Top {
    fn add(&mut self, addr: IpAddr, n: u64) {
        if let Some(s) = self.0.iter_mut().find(|s| s.addr == addr) {
            s.attempts += n;
            return;
        }
        if self.0.len() < TOP_SOURCES {
            self.0.push(SourceAttempts { addr, attempts: n });
            return;
        }
        if let Some(min) = self.0.iter_mut().min_by_key(|s| s.attempts) {
            if min.attempts <= n {
                *min = SourceAttempts { addr, attempts: n };
            }
        }
    }

    fn sorted(&self) -> Vec<SourceAttempts> {
        let mut v = self.0.clone();
        v.sort_by(|a, b| b.attempts.cmp(&a.attempts).then(a.addr.cmp(&b.addr)));
        v
    }
}

/// An open detection and what was last reported of it.
#[derive(Clone, Debug)]
struct Open {
    id: u64,
    kind: Kind,
    det: AuthDetection,
    reported: u64,
    /// Quiet this long (ns) after `last_seen`, it ends.
    quiet_ns: u64,
}

/// Sans-I/O login-abuse detection. Feed auth events (with their source's GeoIP place when a
/// database is configured) to `observe`, call `tick` now and then (every second of event
/// time is plenty), take detection starts, updates and ends from `poll_event`.
#[derive(Debug)]
pub struct AuthDetector {
    cfg: AuthConfig,
    hasher: FixedState,
    sources: Bounded<IpAddr, SourceState>,
    prefixes: Bounded<IpAddr, PrefixState>,
    slow: Bounded<IpAddr, SlowState>,
    services: Bounded<(Service, u16), ServiceState>,
    logins: Logins,
    hosts: Vec<String>,
    host_index: HashMap<String, u16, FixedState>,
    open: HashMap<(Kind, OpenKey), Open, FixedState>,
    next_id: u64,
    clock: u64,
    next_review: u64,
    events: VecDeque<DetectionEvent>,
    stats: AuthStats,
}

/// Host id 0: unknown.
const NO_HOST: u16 = 0;

impl AuthDetector {
    /// A detector for `config`, which should have passed `validate()`; out-of-range values
    /// are clamped to something that works rather than panicking.
    pub fn new(config: AuthConfig) -> Self {
        let seed = config.hash_seed;
        AuthDetector {
            hasher: FixedState::with_seed(seed),
            sources: Bounded::new(config.max_sources.clamp(1, 1 << 24), seed),
            prefixes: Bounded::new(config.max_prefixes.clamp(1, 1 << 24), seed ^ 1),
            slow: Bounded::new(config.max_slow_sources.clamp(1, 1 << 24), seed ^ 2),
            services: Bounded::new(config.max_services.clamp(1, 1 << 16), seed ^ 3),
            logins: Logins::new(&config),
            hosts: vec![String::new()],
            host_index: HashMap::with_hasher(FixedState::with_seed(seed)),
            open: HashMap::with_hasher(FixedState::with_seed(seed)),
            next_id: 1,
            clock: 0,
            next_review: 0,
            events: VecDeque::new(),
            stats: AuthStats::default(),
            cfg: config,
        }
    }

    pub fn config(&self) -> &AuthConfig {
        &self.cfg
    }

    /// A reloaded configuration: thresholds, windows, lookbacks and exemptions apply at
    /// once, keeping every count and open detection. Settings that shape the tables (their
    /// sizes, the hash seed, the spray prefix lengths) cannot change in place: they are
    /// named in the error and nothing is applied.
    pub fn reconfigure(&mut self, config: AuthConfig) -> Result<(), Vec<&'static str>> {
        let old = &self.cfg;
        unchangeable(&[
            ("max_sources", old.max_sources != config.max_sources),
            ("max_prefixes", old.max_prefixes != config.max_prefixes),
            (
                "max_slow_sources",
                old.max_slow_sources != config.max_slow_sources,
            ),
            ("max_users", old.max_users != config.max_users),
            ("max_services", old.max_services != config.max_services),
            ("hash_seed", old.hash_seed != config.hash_seed),
            (
                "spray_prefix_len_v4",
                old.spray_prefix_len_v4 != config.spray_prefix_len_v4,
            ),
            (
                "spray_prefix_len_v6",
                old.spray_prefix_len_v6 != config.spray_prefix_len_v6,
            ),
        ])?;
        self.logins.set_config(&config);
        self.cfg = config;
        Ok(())
    }

    /// Counts one auth event. `geo` is where its source is (from `rampart-geo`), when a
    /// database is configured; without it, travel, countries and networks are not judged.
    pub fn observe(&mut self, e: &AuthEvent, geo: Option<&GeoInfo>) {
        self.stats.events += 1;
        let t = e.time.as_nanos();
        self.clock = self.clock.max(t);
        let n = u64::from(e.attempts.max(1));
        let host = self.host_id(e.host.as_deref());
        let user_hash = e.user.as_deref().map(|u| hash_of(&self.hasher, u));
        match e.outcome {
            Outcome::Failure => {
                self.stats.failures += n;
                if let Some(u) = e.user.as_deref() {
                    self.logins.failure(u, e.source, t, n);
                }
                let Some(src) = e.source else {
                    self.stats.without_source += 1;
                    return;
                };
                self.source_failure(e, src, t, n, host, user_hash);
                if !e.invalid_user {
                    self.prefix_failure(e, src, t, n, host, user_hash);
                }
                self.slow_failure(e, src, t, n, host);
            }
            Outcome::Success => {
                self.stats.successes += n;
                let Some(src) = e.source else {
                    self.stats.without_source += 1;
                    if let Some(u) = e.user.as_deref() {
                        self.logins.forget_failures(u);
                    }
                    return;
                };
                self.source_success(e, src, t, n, host, geo);
            }
            Outcome::TooManyAttempts | Outcome::Disconnect | Outcome::HandshakeError => {}
        }
        if e.outcome.is_attempt() {
            if let Some(src) = e.source {
                self.service_attempt(e, src, t, n, host, user_hash);
            }
        }
    }

    /// Moves the clock to `now` (never back) and ends detections whose sources have been
    /// quiet long enough.
    pub fn tick(&mut self, now: Timestamp) {
        self.clock = self.clock.max(now.as_nanos());
        if self.clock < self.next_review {
            return;
        }
        self.next_review = self.clock + REVIEW_NS;
        let now = self.clock;
        let mut ended: Vec<(Kind, OpenKey)> = self
            .open
            .iter()
            .filter(|(_, o)| o.det.last_seen.as_nanos().saturating_add(o.quiet_ns) <= now)
            .map(|(k, _)| *k)
            .collect();
        // In the order they were opened, so that runs are reproducible.
        ended.sort_by_key(|k| self.open.get(k).map_or(0, |o| o.id));
        for key in ended {
            self.close(key);
        }
    }

    /// The input has ended (`rampart analyze`): every open detection keeps `end: null`
    /// and stays in `active()`; nothing is pending here, so this is a no-op kept for the
    /// same shape as the scan detector.
    pub fn flush_pending(&mut self) {}

    pub fn poll_event(&mut self) -> Option<DetectionEvent> {
        self.events.pop_front()
    }

    /// The open detections, as they stand.
    pub fn active(&self) -> Vec<(u64, Detection)> {
        let mut v: Vec<(u64, Detection)> = self
            .open
            .values()
            .map(|o| {
                let mut d = o.det.clone();
                d.evidence = evidence(o.kind, &d, &self.cfg);
                (o.id, wrap(o.kind, d))
            })
            .collect();
        v.sort_by_key(|(id, _)| *id);
        v
    }

    pub fn stats(&self) -> AuthStats {
        let mut s = self.stats.clone();
        s.sources_tracked = self.sources.len();
        s.sources_evicted = self.sources.evicted;
        s.prefixes_tracked = self.prefixes.len();
        s.prefixes_evicted = self.prefixes.evicted;
        s.slow_tracked = self.slow.len();
        s.slow_evicted = self.slow.evicted;
        s.users_tracked = self.logins.len();
        s.users_evicted = self.logins.evicted();
        s.services_tracked = self.services.len();
        s.services_evicted = self.services.evicted;
        s.tracking_refused = self.sources.refused
            + self.prefixes.refused
            + self.slow.refused
            + self.services.refused
            + self.logins.refused();
        s.open = self.open.len();
        s.state_bytes = self.sources.bytes()
            + self.prefixes.bytes()
            + self.slow.bytes()
            + self.services.bytes()
            + self.logins.bytes()
            + self.open.capacity() * size_of::<((Kind, OpenKey), Open)>();
        s
    }

    fn host_id(&mut self, host: Option<&str>) -> u16 {
        let Some(h) = host else { return NO_HOST };
        if let Some(&i) = self.host_index.get(h) {
            return i;
        }
        if self.hosts.len() > MAX_HOSTS {
            return NO_HOST;
        }
        let i = self.hosts.len() as u16;
        self.hosts.push(h.to_string());
        self.host_index.insert(h.to_string(), i);
        i
    }

    fn target(&self, host: u16) -> Option<String> {
        (host != NO_HOST).then(|| self.hosts[host as usize].clone())
    }

    fn source_failure(
        &mut self,
        e: &AuthEvent,
        src: IpAddr,
        t: u64,
        n: u64,
        host: u16,
        user: Option<u64>,
    ) {
        let window = self.cfg.window_s * NS;
        let lookback = self.cfg.after_failures_lookback_s * NS;
        let Some(s) = self
            .sources
            .entry(src, || SourceState::new(t), |s| s.open != 0)
        else {
            return;
        };
        if t.saturating_sub(s.window_start) >= window {
            // A new window; the episode and the open detections carry over.
            *s = SourceState {
                episode_failures: s.episode_failures,
                episode_users: s.episode_users,
                last_failure: s.last_failure,
                open: s.open,
                ..SourceState::new(t)
            };
        }
        if t.saturating_sub(s.last_failure) > lookback {
            s.episode_failures = 0;
            s.episode_users = Distinct::default();
        }
        s.failures += n;
        s.episode_failures += n;
        s.last_failure = s.last_failure.max(t);
        if let Some(u) = user {
            if s.users.count() == 0 {
                s.first_user = u;
            } else if s.first_user != u {
                s.one_user = false;
            }
            s.users.insert(u);
            s.episode_users.insert(u);
            if e.invalid_user {
                s.invalid_users.insert(u);
            }
        } else {
            s.one_user = false;
        }
        if e.invalid_user {
            s.invalid += n;
        }
        let snapshot = (
            s.failures,
            s.invalid,
            s.successes,
            s.users.count(),
            s.invalid_users.count(),
            s.one_user && user.is_some(),
            s.window_start,
            s.open,
        );
        let (failures, invalid, successes, users, invalid_users, one_user, start, open) = snapshot;
        let key = OpenKey::Addr(src);
        let quiet = window;
        let make = |me: &Self| AuthDetection {
            source: Some(src),
            user: if one_user { e.user.clone() } else { None },
            service: e.service,
            target: me.target(host),
            failures,
            invalid_users: invalid,
            successes,
            users,
            sources: 1,
            top_sources: Vec::new(),
            first_seen: Timestamp::from_nanos(start),
            last_seen: Timestamp::from_nanos(t),
            end: None,
            confidence: 0.5,
            evidence: String::new(),
        };
        // Brute force.
        if open & bit(Kind::BruteForce) != 0 {
            self.grow(Kind::BruteForce, key, t, n, invalid_users_add(e, n), users);
        } else if failures >= self.cfg.failures {
            let mut d = make(self);
            d.confidence = confidence_over(failures as f64, self.cfg.failures as f64);
            if self.start(Kind::BruteForce, key, d, quiet) {
                self.set_open(src, Kind::BruteForce);
                if let Some(slow) = self.slow.get_mut(&src) {
                    slow.fast = true;
                }
            }
        }
        // User enumeration: distinct non-existent users.
        if e.invalid_user {
            if open & bit(Kind::Enumeration) != 0 {
                self.grow(Kind::Enumeration, key, t, n, n, invalid_users);
            } else if invalid_users >= self.cfg.enumeration_users {
                let mut d = make(self);
                d.user = None;
                d.users = invalid_users;
                d.confidence =
                    confidence_over(invalid_users as f64, self.cfg.enumeration_users as f64);
                if self.start(Kind::Enumeration, key, d, quiet) {
                    self.set_open(src, Kind::Enumeration);
                }
            }
        }
    }

    fn set_open(&mut self, src: IpAddr, kind: Kind) {
        if let Some(s) = self.sources.get_mut(&src) {
            s.open |= bit(kind);
        }
    }

    fn prefix_failure(
        &mut self,
        e: &AuthEvent,
        src: IpAddr,
        t: u64,
        n: u64,
        host: u16,
        user: Option<u64>,
    ) {
        let Some(user) = user else { return };
        let len = match src {
            IpAddr::V4(_) => self.cfg.spray_prefix_len_v4,
            IpAddr::V6(_) => self.cfg.spray_prefix_len_v6,
        };
        let p = mask(src, len);
        let window = self.cfg.spray_window_s * NS;
        let src_hash = hash_of(&self.hasher, &src);
        let Some(s) = self.prefixes.entry(p, || PrefixState::new(t), |s| s.open) else {
            return;
        };
        if !s.open && t.saturating_sub(s.window_start) >= window {
            *s = PrefixState::new(t);
        }
        s.failures += n;
        s.users.insert(user);
        s.sources.insert(src_hash);
        s.top.add(src, n);
        let (failures, users, sources, start, open) = (
            s.failures,
            s.users.count(),
            s.sources.count(),
            s.window_start,
            s.open,
        );
        let top = s.top.sorted();
        let key = OpenKey::Addr(p);
        if open {
            if let Some(o) = self.open.get_mut(&(Kind::Spray, key)) {
                o.det.failures = failures;
                o.det.users = users;
                o.det.sources = sources;
                o.det.last_seen = Timestamp::from_nanos(t);
                o.det.top_sources = if sources > 1 { top } else { Vec::new() };
            }
            self.maybe_update(Kind::Spray, key);
            return;
        }
        let per_user = failures as f64 / users.max(1) as f64;
        if users >= self.cfg.spray_users && per_user <= self.cfg.spray_max_per_user {
            let d = AuthDetection {
                source: Some(top.first().map_or(src, |s| s.addr)),
                user: None,
                service: e.service,
                target: self.target(host),
                failures,
                invalid_users: 0,
                successes: 0,
                users,
                sources,
                top_sources: if sources > 1 { top } else { Vec::new() },
                first_seen: Timestamp::from_nanos(start),
                last_seen: Timestamp::from_nanos(t),
                end: None,
                confidence: confidence_over(users as f64, self.cfg.spray_users as f64),
                evidence: String::new(),
            };
            let quiet = self.cfg.spray_window_s * NS;
            if self.start(Kind::Spray, key, d, quiet) {
                if let Some(s) = self.prefixes.get_mut(&p) {
                    s.open = true;
                }
            }
        }
    }

    fn slow_failure(&mut self, e: &AuthEvent, src: IpAddr, t: u64, n: u64, host: u16) {
        let half = self.cfg.slow_half_life_s.max(1) as f64;
        let now_s = t / NS;
        let Some(s) = self
            .slow
            .entry(src, || SlowState::new(t, now_s), |s| s.open)
        else {
            return;
        };
        let dt = now_s.saturating_sub(s.last_s) as f64;
        s.count *= (-dt / half).exp2();
        if s.count < 0.5 && !s.open {
            // The counter is back at rest: a new episode.
            *s = SlowState::new(t, now_s);
        }
        s.count += n as f64;
        s.failures += n;
        s.last_s = s.last_s.max(now_s);
        if let Some(b) = self.sources.get(&src) {
            if b.open & bit(Kind::BruteForce) != 0 {
                s.fast = true;
            }
        }
        let st = *s;
        let key = OpenKey::Addr(src);
        if st.open {
            if let Some(o) = self.open.get_mut(&(Kind::Slow, key)) {
                o.det.failures = st.failures;
                o.det.last_seen = Timestamp::from_nanos(t);
                if e.invalid_user {
                    o.det.invalid_users += n;
                }
            }
            self.maybe_update(Kind::Slow, key);
            return;
        }
        if !st.fast && st.count >= self.cfg.slow_failures {
            let d = AuthDetection {
                source: Some(src),
                user: None,
                service: e.service,
                target: self.target(host),
                failures: st.failures,
                invalid_users: if e.invalid_user { n } else { 0 },
                successes: 0,
                users: 0,
                sources: 1,
                top_sources: Vec::new(),
                first_seen: Timestamp::from_nanos(st.first),
                last_seen: Timestamp::from_nanos(t),
                end: None,
                confidence: confidence_over(st.count, self.cfg.slow_failures),
                evidence: String::new(),
            };
            // It ends once the counter would have decayed under half the threshold.
            let quiet =
                (half * 1f64.max((2.0 * st.count / self.cfg.slow_failures).log2())) as u64 * NS;
            if self.start(Kind::Slow, key, d, quiet) {
                if let Some(s) = self.slow.get_mut(&src) {
                    s.open = true;
                }
            }
        }
    }

    fn service_attempt(
        &mut self,
        e: &AuthEvent,
        src: IpAddr,
        t: u64,
        n: u64,
        host: u16,
        user: Option<u64>,
    ) {
        // A source failing more than a few times in its window is a brute forcer, counted
        // as such; stuffing is many sources with few attempts each.
        let heavy = self
            .sources
            .get(&src)
            .is_some_and(|s| s.failures > self.cfg.stuffing_max_per_source);
        if heavy {
            return;
        }
        let window = self.cfg.stuffing_window_s * NS;
        let src_hash = hash_of(&self.hasher, &src);
        let Some(s) = self
            .services
            .entry((e.service, host), || ServiceState::new(t), |s| s.open)
        else {
            return;
        };
        if !s.open && t.saturating_sub(s.window_start) >= window {
            *s = ServiceState::new(t);
        }
        if e.outcome == Outcome::Success {
            s.successes += n;
        } else {
            s.failures += n;
            s.sources.insert(src_hash);
            s.top.add(src, n);
        }
        if let Some(u) = user {
            s.users.insert(u);
        }
        let (failures, successes, sources, users, start, open) = (
            s.failures,
            s.successes,
            s.sources.count(),
            s.users.count(),
            s.window_start,
            s.open,
        );
        let top = s.top.sorted();
        let key = OpenKey::Service(e.service, host);
        let success_rate = successes as f64 / (failures + successes).max(1) as f64;
        if open {
            if let Some(o) = self.open.get_mut(&(Kind::Stuffing, key)) {
                o.det.failures = failures;
                o.det.successes = successes;
                o.det.sources = sources;
                o.det.users = users;
                o.det.top_sources = top;
                o.det.last_seen = Timestamp::from_nanos(t);
            }
            self.maybe_update(Kind::Stuffing, key);
            return;
        }
        if sources >= self.cfg.stuffing_sources
            && users >= self.cfg.stuffing_users
            && success_rate <= self.cfg.stuffing_max_success
        {
            let d = AuthDetection {
                source: None,
                user: None,
                service: e.service,
                target: self.target(host),
                failures,
                invalid_users: 0,
                successes,
                users,
                sources,
                top_sources: top,
                first_seen: Timestamp::from_nanos(start),
                last_seen: Timestamp::from_nanos(t),
                end: None,
                confidence: confidence_over(sources as f64, self.cfg.stuffing_sources as f64),
                evidence: String::new(),
            };
            if self.start(Kind::Stuffing, key, d, window) {
                if let Some(s) = self.services.get_mut(&(e.service, host)) {
                    s.open = true;
                }
            }
        }
    }

    fn source_success(
        &mut self,
        e: &AuthEvent,
        src: IpAddr,
        t: u64,
        n: u64,
        host: u16,
        geo: Option<&GeoInfo>,
    ) {
        let lookback = self.cfg.after_failures_lookback_s * NS;
        let mut by_source = None;
        if let Some(s) = self.sources.get_mut(&src) {
            s.successes += n;
            if s.episode_failures > 0 && t.saturating_sub(s.last_failure) <= lookback {
                by_source = Some((s.episode_failures, s.episode_users.count()));
            }
            // A success ends the episode: the next failures are a new story.
            s.episode_failures = 0;
            s.episode_users = Distinct::default();
        }
        let user = e.user.as_deref().unwrap_or("");
        let by_user = if user.is_empty() {
            None
        } else {
            let sources = &self.sources;
            self.logins
                .failures_before_success(user, src, t, MIN_OWN_FAILURES, |s| {
                    sources.get(&s).is_some_and(|s| s.open != 0)
                })
        };
        let want = self.cfg.after_failures;
        // By user: a guess spread over a few addresses that got in from one of them. One
        // mistyped password from the user's own address, while a spray elsewhere tried the
        // same name, is not that: the source must have failed more than once itself.
        let hit = match (by_source, by_user) {
            (Some((f, u)), _) if f >= want => Some((f, u, "this source")),
            (_, Some((f, own))) if f >= want && own >= MIN_OWN_FAILURES => {
                Some((f, 1, "this user, some from this source"))
            }
            _ => None,
        };
        if let Some((failures, users, why)) = hit {
            let time = Timestamp::from_nanos(t);
            let mut d = AuthDetection {
                source: Some(src),
                user: e.user.clone(),
                service: e.service,
                target: self.target(host),
                failures,
                invalid_users: 0,
                successes: n,
                users,
                sources: 1,
                top_sources: Vec::new(),
                first_seen: time,
                last_seen: time,
                end: Some(time),
                confidence: confidence_over(failures as f64, want as f64).max(0.8),
                evidence: String::new(),
            };
            d.evidence = format!(
                "{} logged in to {} as {} from {src} after {failures} failed attempts from {why}: likely compromise",
                e.service.as_str(),
                d.target.as_deref().unwrap_or("a host"),
                e.user.as_deref().unwrap_or("an unnamed user"),
            );
            self.point(Detection::LoginAfterFailures(d));
        }
        if user.is_empty() {
            return;
        }
        let target = self.target(host);
        for a in self.logins.success(user, src, t, geo) {
            let d = self.anomaly(a, e, src, t, geo, target.clone());
            self.point(d);
        }
    }

    fn anomaly(
        &self,
        a: Anomaly,
        e: &AuthEvent,
        src: IpAddr,
        t: u64,
        geo: Option<&GeoInfo>,
        target: Option<String>,
    ) -> Detection {
        let user = e.user.clone().unwrap_or_default();
        let mut l = rampart_model::LoginAnomaly {
            source: src,
            user,
            service: e.service,
            target,
            time: Timestamp::from_nanos(t),
            geo: geo.cloned(),
            previous: None,
            distance_km: None,
            speed_kmh: None,
            hour_of_week: None,
            logins_known: a.logins_known,
            confidence: 0.5,
            evidence: String::new(),
        };
        let place = |g: Option<&GeoInfo>| match g {
            Some(g) => match (&g.city, &g.country) {
                (Some(c), Some(k)) => format!("{c}, {k}"),
                (None, Some(k)) => k.clone(),
                _ => "an unknown place".to_string(),
            },
            None => "an unknown place".to_string(),
        };
        match a.kind {
            crate::login::AnomalyKind::Travel {
                previous,
                distance_km,
                speed_kmh,
            } => {
                l.confidence = confidence_over(speed_kmh, self.cfg.travel_max_kmh).max(0.6);
                l.evidence = format!(
                    "{} logged in from {src} ({}) {} after a login from {} ({}): {:.0} km at {:.0} km/h",
                    l.user,
                    place(geo),
                    human_duration(t.saturating_sub(previous.time.as_nanos()) / NS),
                    previous.source,
                    place(previous.geo.as_ref()),
                    distance_km,
                    speed_kmh
                );
                l.distance_km = Some(round2(distance_km));
                l.speed_kmh = Some(round2(speed_kmh.min(1e9)));
                l.previous = Some(previous);
                Detection::ImpossibleTravel(l)
            }
            crate::login::AnomalyKind::NewCountry => {
                l.confidence = 0.6;
                l.evidence = format!(
                    "{} logged in from {src} in {}, a country not seen in their {} logins",
                    l.user,
                    place(geo),
                    a.logins_known
                );
                Detection::NewCountry(l)
            }
            crate::login::AnomalyKind::NewNetwork => {
                l.confidence = 0.5;
                let asn = geo.and_then(|g| g.asn).unwrap_or(0);
                l.evidence = format!(
                    "{} logged in from {src} in AS{asn} ({}), a network not seen in their {} logins",
                    l.user,
                    geo.and_then(|g| g.org.clone()).unwrap_or_default(),
                    a.logins_known
                );
                Detection::NewNetwork(l)
            }
            crate::login::AnomalyKind::Hours { hour_of_week } => {
                l.confidence = 0.5;
                l.hour_of_week = Some(hour_of_week);
                l.evidence = format!(
                    "{} logged in from {src} on {} at {:02}:xx UTC, an hour they never log in at ({} logins learned)",
                    l.user,
                    ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
                        [(hour_of_week / 24) as usize % 7],
                    hour_of_week % 24,
                    a.logins_known
                );
                Detection::UnusualHours(l)
            }
        }
    }

    /// A detection about one moment: started and ended at once.
    fn point(&mut self, d: Detection) {
        let id = self.next_id;
        self.next_id += 1;
        self.events.push_back(DetectionEvent {
            id,
            phase: Phase::Started,
            detection: d.clone(),
        });
        self.events.push_back(DetectionEvent {
            id,
            phase: Phase::Ended,
            detection: d,
        });
    }

    /// Opens a detection; false when `max_open` are open (counted).
    fn start(&mut self, kind: Kind, key: OpenKey, mut det: AuthDetection, quiet_ns: u64) -> bool {
        if self.open.len() >= self.cfg.max_open {
            self.stats.open_dropped += 1;
            return false;
        }
        let id = self.next_id;
        self.next_id += 1;
        det.evidence = evidence(kind, &det, &self.cfg);
        self.events.push_back(DetectionEvent {
            id,
            phase: Phase::Started,
            detection: wrap(kind, det.clone()),
        });
        self.open.insert(
            (kind, key),
            Open {
                id,
                kind,
                reported: det.failures,
                det,
                quiet_ns,
            },
        );
        true
    }

    /// Adds to an open per-source detection.
    fn grow(&mut self, kind: Kind, key: OpenKey, t: u64, n: u64, invalid: u64, users: u64) {
        if let Some(o) = self.open.get_mut(&(kind, key)) {
            o.det.failures += n;
            o.det.invalid_users += invalid;
            o.det.users = o.det.users.max(users);
            o.det.last_seen = o.det.last_seen.max(Timestamp::from_nanos(t));
        }
        self.maybe_update(kind, key);
    }

    fn maybe_update(&mut self, kind: Kind, key: OpenKey) {
        let Some(o) = self.open.get_mut(&(kind, key)) else {
            return;
        };
        if (o.det.failures as f64) < o.reported as f64 * UPDATE_GROWTH {
            return;
        }
        o.reported = o.det.failures;
        let threshold = match kind {
            Kind::BruteForce => self.cfg.failures as f64,
            Kind::Enumeration => self.cfg.enumeration_users as f64,
            Kind::Spray => self.cfg.spray_users as f64,
            Kind::Stuffing => self.cfg.stuffing_sources as f64,
            Kind::Slow => self.cfg.slow_failures,
        };
        let measure = match kind {
            Kind::Enumeration | Kind::Spray => o.det.users as f64,
            Kind::Stuffing => o.det.sources as f64,
            _ => o.det.failures as f64,
        };
        o.det.confidence = confidence_over(measure, threshold);
        o.det.evidence = evidence(kind, &o.det, &self.cfg);
        self.events.push_back(DetectionEvent {
            id: o.id,
            phase: Phase::Updated,
            detection: wrap(kind, o.det.clone()),
        });
    }

    fn close(&mut self, key: (Kind, OpenKey)) {
        let Some(mut o) = self.open.remove(&key) else {
            return;
        };
        o.det.end = Some(o.det.last_seen);
        o.det.evidence = evidence(o.kind, &o.det, &self.cfg);
        match key.1 {
            OpenKey::Addr(a) => match key.0 {
                Kind::BruteForce | Kind::Enumeration => {
                    if let Some(s) = self.sources.get_mut(&a) {
                        s.open &= !bit(key.0);
                    }
                }
                Kind::Spray => {
                    if let Some(s) = self.prefixes.get_mut(&a) {
                        s.open = false;
                        s.window_start = 0;
                    }
                }
                Kind::Slow => {
                    if let Some(s) = self.slow.get_mut(&a) {
                        s.open = false;
                        s.fast = true;
                    }
                }
                Kind::Stuffing => {}
            },
            OpenKey::Service(svc, host) => {
                if let Some(s) = self.services.get_mut(&(svc, host)) {
                    s.open = false;
                    s.window_start = 0;
                }
            }
        }
        self.events.push_back(DetectionEvent {
            id: o.id,
            phase: Phase::Ended,
            detection: wrap(o.kind, o.det),
        });
    }
}

const fn bit(k: Kind) -> u8 {
    match k {
        Kind::BruteForce => 1,
        Kind::Enumeration => 2,
        Kind::Spray => 4,
        Kind::Stuffing => 8,
        Kind::Slow => 16,
    }
}

fn invalid_users_add(e: &AuthEvent, n: u64) -> u64 {
    if e.invalid_user {
        n
    } else {
        0
    }
}

fn wrap(kind: Kind, d: AuthDetection) -> Detection {
    match kind {
        Kind::BruteForce => Detection::BruteForce(d),
        Kind::Enumeration => Detection::UserEnumeration(d),
        Kind::Spray => Detection::PasswordSpray(d),
        Kind::Stuffing => Detection::CredentialStuffing(d),
        Kind::Slow => Detection::SlowBruteForce(d),
    }
}

fn human_duration(s: u64) -> String {
    match s {
        0..=119 => format!("{s} s"),
        120..=7199 => format!("{} min", s / 60),
        _ => format!("{:.1} h", s as f64 / 3600.0),
    }
}

fn evidence(kind: Kind, d: &AuthDetection, cfg: &AuthConfig) -> String {
    let secs = (d.last_seen.as_nanos() - d.first_seen.as_nanos().min(d.last_seen.as_nanos())) / NS;
    let span = human_duration(secs);
    let on = match &d.target {
        Some(t) => format!("{} on {t}", d.service.as_str()),
        None => d.service.as_str().to_string(),
    };
    let src = d
        .source
        .map_or("many sources".to_string(), |a| a.to_string());
    match kind {
        Kind::BruteForce => format!(
            "{src}: {} failed {on} logins in {span}{} (threshold {} per {} s)",
            d.failures,
            match (&d.user, d.users) {
                (Some(u), _) => format!(", all as {u}"),
                (None, 0) => String::new(),
                (None, 1) => ", 1 user".to_string(),
                (None, n) => format!(", {n} users"),
            },
            cfg.failures,
            cfg.window_s
        ),
        Kind::Enumeration => format!(
            "{src}: {} user names that do not exist tried on {on} in {span} ({} failed attempts)",
            d.users, d.failures
        ),
        Kind::Spray => format!(
            "{src}{}: {} users tried on {on} with {} failed attempts in {span} (a few each)",
            if d.sources > 1 {
                format!(" and {} more sources", d.sources - 1)
            } else {
                String::new()
            },
            d.users,
            d.failures
        ),
        Kind::Stuffing => format!(
            "{} sources with a few attempts each tried {} users on {on} in {span}: {} failed, {} succeeded",
            d.sources, d.users, d.failures, d.successes
        ),
        Kind::Slow => format!(
            "{src}: {} failed {on} logins over {span}, under the brute-force rate",
            d.failures
        ),
    }
}
