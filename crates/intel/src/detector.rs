//! `ioc_match` detections: every flow record (source and destination) and every log event
//! (client address; host name and URL of HTTP requests) is looked up in the matchers in
//! force, and each (indicator, internal host) pair that matches becomes one detection with
//! start, update and end, like the other detectors. Sans-I/O: time comes from the events.

use crate::indicator::Observable;
use crate::matcher::{IndicatorSet, Match, Matched, SharedIndicators};
use rampart_detect::{DetectionEvent, Phase};
use rampart_model::{
    AuthEvent, Cidr, Detection, FlowRecord, HttpEvent, IocMatchDetection, IocWhere, Timestamp,
};
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::Arc;

/// `[detect.ioc]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IocConfig {
    /// Check flows and log events against the indicators at all.
    pub enabled: bool,
    /// A match ends after this many seconds without another one.
    pub end_after_s: u64,
    /// An open match is reported again at most this often while it grows.
    pub update_every_s: u64,
    /// Open matches kept at once; more are counted and not reported.
    pub max_active: usize,
    /// Indicators under this confidence (0..100) are not reported.
    pub min_confidence: u8,
}

impl Default for IocConfig {
    fn default() -> Self {
        IocConfig {
            enabled: true,
            end_after_s: 300,
            update_every_s: 60,
            max_active: 100_000,
            min_confidence: 0,
        }
    }
}

/// Counters for status and metrics.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct IocStats {
    pub flows_checked: u64,
    pub log_events_checked: u64,
    /// Lookups (addresses, names, URLs) made.
    pub lookups: u64,
    /// Lookups that found an indicator.
    pub hits: u64,
    pub detections_started: u64,
    pub active: usize,
    /// Matches not reported because `max_active` were open.
    pub refused: u64,
}

/// One open detection's key: the indicator and our host.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Key {
    indicator: String,
    feed: String,
    internal: Option<IpAddr>,
}

#[derive(Debug)]
struct Open {
    id: u64,
    det: IocMatchDetection,
    reported_matches: u64,
    reported_at: u64,
}

/// The detector. Holds the shared matchers and reads the snapshot in force per event, so
/// a feed refresh swaps indicators in without pausing it.
#[derive(Debug)]
pub struct IocDetector {
    cfg: IocConfig,
    indicators: Arc<SharedIndicators>,
    protect: Vec<Cidr>,
    open: HashMap<Key, Open>,
    events: VecDeque<DetectionEvent>,
    next_id: u64,
    clock: u64,
    stats: IocStats,
}

/// Seconds to nanoseconds.
const S: u64 = 1_000_000_000;

impl IocDetector {
    /// `protect` is our address space, to tell the internal side of a flow; empty: the
    /// other end of the flow counts as ours.
    pub fn new(cfg: IocConfig, indicators: Arc<SharedIndicators>, protect: Vec<Cidr>) -> Self {
        IocDetector {
            cfg,
            indicators,
            protect,
            open: HashMap::new(),
            events: VecDeque::new(),
            next_id: 1,
            clock: 0,
            stats: IocStats::default(),
        }
    }

    pub fn config(&self) -> &IocConfig {
        &self.cfg
    }

    /// Takes a reloaded configuration and protected space; open matches stay.
    pub fn reconfigure(&mut self, cfg: IocConfig, protect: Vec<Cidr>) {
        self.cfg = cfg;
        self.protect = protect;
    }

    fn is_ours(&self, a: IpAddr) -> bool {
        self.protect.iter().any(|c| c.contains(a))
    }

    /// Checks both addresses of a flow record.
    pub fn observe_flow(&mut self, r: &FlowRecord) {
        self.observe_flows(std::slice::from_ref(r));
    }

    /// Checks both addresses of every flow record of a batch, against one snapshot of the
    /// indicators (taking it is an atomic operation or two: once a batch, not per record).
    pub fn observe_flows(&mut self, records: &[FlowRecord]) {
        if !self.cfg.enabled {
            return;
        }
        let set = self.indicators.load();
        for r in records {
            self.check_flow(&set, r);
        }
    }

    fn check_flow(&mut self, set: &IndicatorSet, r: &FlowRecord) {
        self.stats.flows_checked += 1;
        self.stats.lookups += 2;
        if set.is_empty() {
            return;
        }
        let rate = u64::from(r.sampling_rate.max(1));
        let (packets, bytes) = (r.packets.saturating_mul(rate), r.bytes.saturating_mul(rate));
        let t = r.end.max(r.start);
        for (addr, other, place) in [
            (r.src_addr, r.dst_addr, IocWhere::FlowSrc),
            (r.dst_addr, r.src_addr, IocWhere::FlowDst),
        ] {
            // The yes/no test is the fast path (most traffic matches nothing); the full
            // lookup, which lists every enclosing indicator, only on a hit.
            if !set.contains_ip(addr) {
                continue;
            }
            let hits = set.lookup_ip(addr);
            if hits.is_empty() {
                continue;
            }
            // A listed address inside our own space is not "external": the internal host
            // is then the listed one itself only when the other end is not ours either.
            let internal = if self.protect.is_empty() || self.is_ours(other) {
                Some(other)
            } else if self.is_ours(addr) {
                Some(addr)
            } else {
                Some(other)
            };
            let m = hits[0].clone();
            self.hit(
                &m,
                addr.to_string(),
                Some(addr),
                internal,
                place,
                t,
                packets,
                bytes,
            );
        }
    }

    /// Checks a login event's source address.
    pub fn observe_auth(&mut self, e: &AuthEvent) {
        if !self.cfg.enabled {
            return;
        }
        self.stats.log_events_checked += 1;
        let Some(src) = e.source else { return };
        self.check_log_addr(src, e.time);
    }

    /// Checks an HTTP request's client, host name (virtual host, or the host of an absolute
    /// URL) and URL.
    pub fn observe_http(&mut self, e: &HttpEvent) {
        if !self.cfg.enabled {
            return;
        }
        self.stats.log_events_checked += 1;
        self.check_log_addr(e.client, e.time);
        let set = self.indicators.load();
        if set.is_empty() {
            return;
        }
        let (host, url) = request_host_and_url(e);
        if let Some(h) = host.as_deref() {
            self.stats.lookups += 1;
            if let Some(m) = set.lookup_domain(h).first().cloned() {
                self.hit(
                    &m,
                    h.to_string(),
                    Some(e.client),
                    None,
                    IocWhere::Domain,
                    e.time,
                    0,
                    e.bytes,
                );
            }
        }
        if let Some(u) = url.as_deref() {
            self.stats.lookups += 1;
            if let Some(m) = set.lookup_url(u).first().cloned() {
                self.hit(
                    &m,
                    u.to_string(),
                    Some(e.client),
                    None,
                    IocWhere::Url,
                    e.time,
                    0,
                    e.bytes,
                );
            }
        }
    }

    fn check_log_addr(&mut self, addr: IpAddr, t: Timestamp) {
        self.stats.lookups += 1;
        let set = self.indicators.load();
        if let Some(m) = set.lookup_ip(addr).first().cloned() {
            self.hit(
                &m,
                addr.to_string(),
                Some(addr),
                None,
                IocWhere::LogSource,
                t,
                0,
                0,
            );
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn hit(
        &mut self,
        m: &Match<'_>,
        value: String,
        source: Option<IpAddr>,
        internal: Option<IpAddr>,
        place: IocWhere,
        t: Timestamp,
        packets: u64,
        bytes: u64,
    ) {
        self.stats.hits += 1;
        let confidence = m.confidence.unwrap_or(50);
        if confidence < self.cfg.min_confidence {
            return;
        }
        let pattern = pattern_of(&m.matched);
        let key = Key {
            indicator: m
                .indicator_id
                .map(str::to_string)
                .unwrap_or_else(|| pattern.clone()),
            feed: m.source.to_string(),
            internal,
        };
        self.clock = self.clock.max(t.as_nanos());
        if let Some(o) = self.open.get_mut(&key) {
            let d = &mut o.det;
            d.matches += 1;
            d.packets += packets;
            d.bytes += bytes;
            d.first_seen = d.first_seen.min(t);
            d.last_seen = d.last_seen.max(t);
            return;
        }
        if self.open.len() >= self.cfg.max_active.max(1) {
            self.stats.refused += 1;
            return;
        }
        let det = IocMatchDetection {
            value,
            source,
            indicator_id: m.indicator_id.map(str::to_string),
            pattern,
            feed: m.source.to_string(),
            matched_in: place,
            internal_host: internal,
            tlp: m.tlp.as_str().to_string(),
            matches: 1,
            packets,
            bytes,
            first_seen: t,
            last_seen: t,
            end: None,
            confidence: f64::from(confidence.min(100)) / 100.0,
            evidence: String::new(),
        };
        let id = self.next_id;
        self.next_id += 1;
        self.stats.detections_started += 1;
        let mut o = Open {
            id,
            det,
            reported_matches: 1,
            reported_at: t.as_nanos(),
        };
        o.det.evidence = evidence(&o.det);
        self.events.push_back(DetectionEvent {
            id,
            phase: Phase::Started,
            detection: Detection::IocMatch(o.det.clone()),
        });
        self.open.insert(key, o);
    }

    /// Moves the clock to `now` (never back): reports grown matches at most every
    /// `update_every_s`, and ends those quiet for `end_after_s`.
    pub fn tick(&mut self, now: Timestamp) {
        self.clock = self.clock.max(now.as_nanos());
        let now = self.clock;
        let quiet = self.cfg.end_after_s.max(1).saturating_mul(S);
        let every = self.cfg.update_every_s.max(1).saturating_mul(S);
        let mut ended: Vec<(u64, Key)> = Vec::new();
        let mut updated: Vec<u64> = Vec::new();
        for (k, o) in self.open.iter_mut() {
            if o.det.last_seen.as_nanos().saturating_add(quiet) <= now {
                ended.push((o.id, k.clone()));
            } else if o.det.matches > o.reported_matches
                && o.reported_at.saturating_add(every) <= now
            {
                o.reported_matches = o.det.matches;
                o.reported_at = now;
                o.det.evidence = evidence(&o.det);
                updated.push(o.id);
                self.events.push_back(DetectionEvent {
                    id: o.id,
                    phase: Phase::Updated,
                    detection: Detection::IocMatch(o.det.clone()),
                });
            }
        }
        ended.sort_by_key(|(id, _)| *id);
        for (_, k) in ended {
            if let Some(mut o) = self.open.remove(&k) {
                o.det.end = Some(o.det.last_seen);
                o.det.evidence = evidence(&o.det);
                self.events.push_back(DetectionEvent {
                    id: o.id,
                    phase: Phase::Ended,
                    detection: Detection::IocMatch(o.det),
                });
            }
        }
    }

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
                d.evidence = evidence(&d);
                (o.id, Detection::IocMatch(d))
            })
            .collect();
        v.sort_by_key(|(id, _)| *id);
        v
    }

    pub fn stats(&self) -> IocStats {
        let mut s = self.stats.clone();
        s.active = self.open.len();
        s
    }
}

/// What the matched part of an indicator says, as a STIX pattern.
fn pattern_of(m: &Matched<'_>) -> String {
    match m {
        Matched::Prefix(c) => Observable::Ip(*c).to_pattern(),
        Matched::Domain(d) => Observable::Domain {
            name: (*d).to_string(),
            subdomains: false,
        }
        .to_pattern(),
        Matched::Url(u) => Observable::Url((*u).to_string()).to_pattern(),
        Matched::Hash(a) => format!("[file:hashes.'{}' = '…']", a.stix_name()),
    }
}

/// The host name and the full URL of a request, when the log tells them: an absolute URL
/// in the request line, or the virtual host with the path.
fn request_host_and_url(e: &HttpEvent) -> (Option<String>, Option<String>) {
    if let Some(rest) = e
        .path
        .strip_prefix("http://")
        .or_else(|| e.path.strip_prefix("https://"))
    {
        let host = rest.split(['/', '?', ':']).next().unwrap_or("");
        return (
            (!host.is_empty()).then(|| host.to_ascii_lowercase()),
            Some(e.path.clone()),
        );
    }
    let Some(vhost) = e.vhost.as_deref() else {
        return (None, None);
    };
    let host = vhost.split(':').next().unwrap_or("").to_ascii_lowercase();
    if host.is_empty() {
        return (None, None);
    }
    let url = format!("http://{vhost}{}", e.path);
    (Some(host), Some(url))
}

fn evidence(d: &IocMatchDetection) -> String {
    let place = match d.matched_in {
        IocWhere::FlowSrc => "as a flow source",
        IocWhere::FlowDst => "as a flow destination",
        IocWhere::LogSource => "as a log event's client",
        IocWhere::Domain => "as a requested host name",
        IocWhere::Url => "as a requested URL",
    };
    let host = d
        .internal_host
        .map(|h| format!(", with {h}"))
        .unwrap_or_default();
    format!(
        "{} (indicator {} from feed {}, TLP:{}) seen {place}{host}: {} match{}",
        d.value,
        d.pattern,
        d.feed,
        d.tlp.to_ascii_uppercase(),
        d.matches,
        if d.matches == 1 { "" } else { "es" }
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::indicator::Tlp;
    use crate::matcher::SetBuilder;
    use rampart_model::FlowFormat;

    fn flow(src: &str, dst: &str, t_s: u64) -> FlowRecord {
        FlowRecord {
            src_addr: src.parse().unwrap(),
            dst_addr: dst.parse().unwrap(),
            src_port: Some(443),
            dst_port: Some(50000),
            ip_protocol: 6,
            packets: 3,
            bytes: 300,
            start: Timestamp::from_secs(t_s),
            end: Timestamp::from_secs(t_s),
            ..FlowRecord::empty(FlowFormat::Netflow5)
        }
    }

    fn shared(values: &[&str]) -> Arc<SharedIndicators> {
        let mut b = SetBuilder::new();
        let obs: Vec<Observable> = values
            .iter()
            .map(|v| crate::lists::parse_value(v).unwrap())
            .collect();
        b.add_list("blocklist", Some(80), Tlp::Green, &obs);
        Arc::new(SharedIndicators::new(b.build()))
    }

    #[test]
    fn one_detection_per_indicator_and_host_with_start_update_end() {
        let ind = shared(&["198.51.100.0/24", "evil.example"]);
        let mut d = IocDetector::new(
            IocConfig::default(),
            ind.clone(),
            vec!["203.0.113.0/24".parse().unwrap()],
        );
        d.observe_flow(&flow("198.51.100.7", "203.0.113.10", 100));
        d.observe_flow(&flow("203.0.113.10", "198.51.100.7", 101));
        d.observe_flow(&flow("198.51.100.9", "203.0.113.11", 102));
        d.observe_flow(&flow("192.0.2.1", "203.0.113.11", 102));
        let e = d.poll_event().unwrap();
        assert_eq!(e.phase, Phase::Started);
        let Detection::IocMatch(m) = &e.detection else {
            panic!()
        };
        assert_eq!(m.value, "198.51.100.7");
        assert_eq!(m.internal_host, Some("203.0.113.10".parse().unwrap()));
        assert_eq!(m.pattern, "[ipv4-addr:value ISSUBSET '198.51.100.0/24']");
        assert_eq!(m.feed, "blocklist");
        assert_eq!(m.tlp, "green");
        assert_eq!(m.matched_in, IocWhere::FlowSrc);
        let e2 = d.poll_event().unwrap();
        let Detection::IocMatch(m2) = &e2.detection else {
            panic!()
        };
        assert_eq!(m2.internal_host, Some("203.0.113.11".parse().unwrap()));
        assert!(d.poll_event().is_none());
        assert_eq!(d.active().len(), 2);
        d.tick(Timestamp::from_secs(200));
        let u = d.poll_event().unwrap();
        assert_eq!(u.phase, Phase::Updated);
        assert_eq!(u.id, e.id);
        let Detection::IocMatch(m) = &u.detection else {
            panic!()
        };
        assert_eq!(m.matches, 2);
        d.tick(Timestamp::from_secs(1000));
        let ends: Vec<_> = std::iter::from_fn(|| d.poll_event()).collect();
        assert_eq!(ends.len(), 2);
        assert!(ends.iter().all(|e| e.phase == Phase::Ended));
        assert_eq!(ends[0].detection.end(), Some(Timestamp::from_secs(101)));
        assert_eq!(d.stats().detections_started, 2);
        assert_eq!(d.stats().flows_checked, 4);
    }

    #[test]
    fn log_sources_host_names_and_urls_match_and_the_swap_applies_at_once() {
        let ind = shared(&["192.0.2.0/24"]);
        let mut d = IocDetector::new(IocConfig::default(), ind.clone(), Vec::new());
        let http = HttpEvent {
            time: Timestamp::from_secs(10),
            client: "198.51.100.1".parse().unwrap(),
            method: Some("GET".into()),
            path: "http://a.evil.example/x".into(),
            status: 200,
            bytes: 10,
            user_agent: None,
            referer: None,
            vhost: None,
            user: None,
        };
        d.observe_http(&http);
        assert!(d.poll_event().is_none());
        let mut b = SetBuilder::new();
        b.add_list(
            "names",
            None,
            Tlp::Amber,
            &[crate::lists::parse_value("evil.example").unwrap()],
        );
        ind.replace(b.build());
        d.observe_http(&http);
        let e = d.poll_event().unwrap();
        let Detection::IocMatch(m) = &e.detection else {
            panic!()
        };
        assert_eq!(m.matched_in, IocWhere::Domain);
        assert_eq!(m.value, "a.evil.example");
        assert_eq!(m.source, Some("198.51.100.1".parse().unwrap()));
        let json = serde_json::to_value(&e.detection).unwrap();
        assert_eq!(json["kind"], "ioc_match");
        assert_eq!(json["matched_in"], "domain");
    }
}
