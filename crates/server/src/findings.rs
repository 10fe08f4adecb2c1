//! The detectors of the engine that share the `DetectionEvent` lifecycle: login abuse from
//! auth events (with GeoIP from `[geo]`), exfiltration from flow records, HTTP floods from
//! access logs. The engine feeds and ticks them here; what they report leaves as [`Finding`]s.

use crate::engine::Finding;
use crate::metrics::{metric, Kind, Metric};
use rampart_config::Config;
use rampart_detect::{
    AuthDetector, AuthStats, ExfilDetector, ExfilStats, HttpFloodDetector, HttpFloodStats,
};
use rampart_geo::{Geo, GeoConfig, GeoStats};
use rampart_model::{AuthEvent, FlowRecord, HttpEvent, Timestamp};

/// How often (event-free wall time) the GeoIP files are checked for a new version.
const GEO_RELOAD_CHECK_S: u64 = 60;

/// The detectors' counters, for `/api/v1/status` and `/metrics`.
#[derive(Clone, Debug, Default)]
pub struct FindingStats {
    pub auth: AuthStats,
    pub exfil: ExfilStats,
    pub http: HttpFloodStats,
    /// `None` when no GeoIP database is configured.
    pub geo: Option<GeoStats>,
    /// `[geo]` databases that could not be opened (at start or on a reload).
    pub geo_errors: u64,
}

pub struct Detectors {
    auth: AuthDetector,
    exfil: ExfilDetector,
    http: HttpFloodDetector,
    geo: Option<Geo>,
    geo_cfg: GeoConfig,
    geo_errors: u64,
    next_geo_check: u64,
}

impl std::fmt::Debug for Detectors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Detectors")
            .field("geo", &self.geo.is_some())
            .finish_non_exhaustive()
    }
}

/// The configured GeoIP databases; a database that cannot be opened is logged (naming the
/// file) and counted, and the place-based detections stay silent until it can.
fn open_geo(cfg: &GeoConfig, errors: &mut u64) -> Option<Geo> {
    if cfg.city.is_none() && cfg.asn.is_none() {
        return None;
    }
    match Geo::open(cfg) {
        Ok(g) => {
            tracing::info!(databases = ?g.describe(), "GeoIP databases open");
            Some(g)
        }
        Err(e) => {
            *errors += 1;
            tracing::warn!(error = %e, "GeoIP unavailable: impossible travel, new country \
                           and new network are not judged");
            None
        }
    }
}

impl Detectors {
    pub fn new(config: &Config) -> Self {
        let mut geo_errors = 0;
        Detectors {
            auth: AuthDetector::new(config.detect.auth.clone()),
            exfil: ExfilDetector::new(config.detect.exfil.clone()),
            http: HttpFloodDetector::new(config.detect.http.clone()),
            geo: open_geo(&config.geo, &mut geo_errors),
            geo_cfg: config.geo.clone(),
            geo_errors,
            next_geo_check: 0,
        }
    }

    #[inline]
    pub fn observe_auth(&mut self, e: &AuthEvent) {
        let place = match (&mut self.geo, e.source) {
            (Some(g), Some(src)) => g.lookup(src),
            _ => None,
        };
        self.auth.observe(e, place.as_ref());
    }

    #[inline]
    pub fn observe_http(&mut self, e: &HttpEvent) {
        self.http.observe(e);
    }

    #[inline]
    pub fn observe_flow(&mut self, r: &FlowRecord) {
        self.exfil.observe(r);
    }

    /// Ticks every detector and hands on what they report, in detector order.
    pub fn tick(&mut self, now: Timestamp, mut out: impl FnMut(Finding)) {
        self.auth.tick(now);
        self.exfil.tick(now);
        self.http.tick(now);
        while let Some(event) = self.auth.poll_event() {
            out(Finding {
                detector: "auth",
                event,
            });
        }
        while let Some(event) = self.exfil.poll_event() {
            out(Finding {
                detector: "exfil",
                event,
            });
        }
        while let Some(event) = self.http.poll_event() {
            out(Finding {
                detector: "http",
                event,
            });
        }
        if now.as_secs() >= self.next_geo_check {
            self.next_geo_check = now.as_secs() + GEO_RELOAD_CHECK_S;
            if let Some(g) = &mut self.geo {
                match g.reload_if_changed() {
                    Ok(true) => tracing::info!(databases = ?g.describe(), "GeoIP reloaded"),
                    Ok(false) => {}
                    Err(e) => tracing::warn!(error = %e, "GeoIP reload failed; the old \
                                            database stays in use"),
                }
            }
        }
    }

    /// A reloaded configuration: thresholds apply at once, keeping counts, baselines and
    /// open detections; settings that shape the tables are logged as needing a restart
    /// (and the section's other changes wait for it too). A changed `[geo]` reopens the
    /// databases.
    pub fn reconfigure(&mut self, config: &Config) {
        let warn = |section: &str, keys: Vec<&str>| {
            tracing::warn!(
                keys = %keys.join(", "),
                "detect.{section}: these settings need a restart; the section keeps its \
                 running settings until then"
            );
        };
        if let Err(keys) = self.auth.reconfigure(config.detect.auth.clone()) {
            warn("auth", keys);
        }
        if let Err(keys) = self.exfil.reconfigure(config.detect.exfil.clone()) {
            warn("exfil", keys);
        }
        if let Err(keys) = self.http.reconfigure(config.detect.http.clone()) {
            warn("http", keys);
        }
        if config.geo != self.geo_cfg {
            self.geo = open_geo(&config.geo, &mut self.geo_errors);
            self.geo_cfg = config.geo.clone();
        }
    }

    pub fn stats(&self) -> FindingStats {
        FindingStats {
            auth: self.auth.stats(),
            exfil: self.exfil.stats(),
            http: self.http.stats(),
            geo: self.geo.as_ref().map(Geo::stats),
            geo_errors: self.geo_errors,
        }
    }
}

/// Severity of a finding's start, when it is higher than a detection's usual one: a login
/// that likely succeeded for an attacker is the most urgent thing Rampart reports.
pub fn severity_of(kind: &str) -> Option<rampart_notify::Severity> {
    matches!(kind, "login_after_failures" | "impossible_travel")
        .then_some(rampart_notify::Severity::Critical)
}

/// The detectors' counters as metrics (also the `detectors` of `/api/v1/status`).
pub fn metrics(s: &FindingStats) -> Vec<Metric> {
    use Kind::{Counter, Gauge};
    let (a, x, h) = (&s.auth, &s.exfil, &s.http);
    let mut v = vec![
        metric(
            "auth_events_total",
            "Auth events seen by the login-abuse detector.",
            Counter,
            a.events,
        ),
        metric(
            "auth_failures_total",
            "Failed login attempts counted (folded repeats expanded).",
            Counter,
            a.failures,
        ),
        metric(
            "auth_successes_total",
            "Successful logins counted.",
            Counter,
            a.successes,
        ),
        metric(
            "auth_sources_tracked",
            "Login sources counted now.",
            Gauge,
            a.sources_tracked as u64,
        ),
        metric(
            "auth_sources_evicted_total",
            "Login sources evicted to make room.",
            Counter,
            a.sources_evicted,
        ),
        metric(
            "auth_users_tracked",
            "Users with a login history now.",
            Gauge,
            a.users_tracked as u64,
        ),
        metric(
            "auth_users_evicted_total",
            "Users' login histories evicted to make room.",
            Counter,
            a.users_evicted,
        ),
        metric(
            "auth_tracking_refused_total",
            "New login keys not tracked: every entry was held by an open detection.",
            Counter,
            a.tracking_refused,
        ),
        metric(
            "auth_detections_active",
            "Login-abuse detections open now.",
            Gauge,
            a.open as u64,
        ),
        metric(
            "auth_detections_dropped_total",
            "Login-abuse detections not opened while max_open were open.",
            Counter,
            a.open_dropped,
        ),
        metric(
            "auth_state_bytes",
            "Heap bytes held by the login-abuse detector.",
            Gauge,
            a.state_bytes as u64,
        ),
        metric(
            "exfil_records_total",
            "Flow records seen by the exfiltration detector.",
            Counter,
            x.records,
        ),
        metric(
            "exfil_outbound_records_total",
            "Flow records from an internal host to an external address.",
            Counter,
            x.outbound,
        ),
        metric(
            "exfil_hosts_tracked",
            "Internal hosts with a baseline now.",
            Gauge,
            x.hosts_tracked as u64,
        ),
        metric(
            "exfil_hosts_evicted_total",
            "Internal hosts evicted to make room.",
            Counter,
            x.hosts_evicted,
        ),
        metric(
            "exfil_detections_active",
            "Exfiltrations open now.",
            Gauge,
            x.open as u64,
        ),
        metric(
            "http_requests_total",
            "HTTP requests seen by the HTTP flood detector.",
            Counter,
            h.requests,
        ),
        metric(
            "http_clients_tracked",
            "HTTP clients counted now.",
            Gauge,
            h.clients_tracked as u64,
        ),
        metric(
            "http_clients_evicted_total",
            "HTTP clients evicted to make room.",
            Counter,
            h.clients_evicted,
        ),
        metric(
            "http_floods_active",
            "HTTP floods open now.",
            Gauge,
            h.open as u64,
        ),
        metric(
            "geo_open_errors_total",
            "GeoIP databases that could not be opened.",
            Counter,
            s.geo_errors,
        ),
    ];
    if let Some(g) = &s.geo {
        v.extend([
            metric(
                "geo_lookups_total",
                "GeoIP lookups of login sources.",
                Counter,
                g.lookups,
            ),
            metric(
                "geo_not_found_total",
                "Login sources no GeoIP database knows.",
                Counter,
                g.not_found,
            ),
            metric(
                "geo_reloads_total",
                "GeoIP databases re-read because their file changed.",
                Counter,
                g.reloads,
            ),
        ]);
    }
    v
}
