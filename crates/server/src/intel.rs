//! Threat intelligence in the daemon: the indicator store (`intel.db` in the data dir), the
//! feed refresh thread (matchers swapped in atomically, so the engine never waits), the
//! TAXII 2.1 router authenticated with serve's own tokens, and per-feed counters for the
//! status and metrics.

use crate::api::AppState;
use anyhow::{Context, Result};
use rampart_config::Config;
use rampart_intel::detector::IocStats;
use rampart_intel::feeds::{FeedError, Intel};
use rampart_intel::matcher::SharedIndicators;
use rampart_intel::store::{IndicatorStore, SqliteIntelStore};
use rampart_intel::taxii::server::{Authenticate, TaxiiState};
use rampart_intel::taxii::Principal;
use rampart_model::Timestamp;
use serde::Serialize;
use std::collections::BTreeMap;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How often the refresh thread looks for due feeds.
const REFRESH_TICK: Duration = Duration::from_secs(5);
/// How often it asks the store whether another process (`rampart intel import`) wrote to
/// it, so that what is imported is matched within this long.
const OUTSIDE_WRITES_TICK: Duration = Duration::from_millis(200);

/// Counters of one feed since the daemon started.
#[derive(Clone, Debug, Default, Serialize)]
pub struct FeedCounters {
    pub refreshes: u64,
    /// Refreshes that failed as a whole (the previous indicators stay).
    pub failures: u64,
    /// Bad lines, objects or event files skipped in refreshes that went through.
    pub item_errors: u64,
    pub last_read: u64,
    pub last_written: u64,
    pub last_expired: u64,
    pub last_error: Option<String>,
}

/// What the rest of the daemon sees of threat intelligence.
pub struct IntelService {
    pub intel: Arc<Intel>,
    pub store: Arc<SqliteIntelStore>,
    feeds: Mutex<BTreeMap<String, FeedCounters>>,
    ioc: Mutex<IocStats>,
    /// Our address space, never exported.
    protect: Mutex<Vec<rampart_model::Cidr>>,
    stop: Arc<AtomicBool>,
    /// The store's data version the matchers were last built from, for outside writes.
    outside_seen: Mutex<Option<i64>>,
}

impl std::fmt::Debug for IntelService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IntelService").finish_non_exhaustive()
    }
}

/// The indicator database of a data directory.
pub fn db_path(data_dir: &Path) -> PathBuf {
    data_dir.join("intel.db")
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl IntelService {
    /// Opens the store and builds the matchers from what it holds (feeds refresh later, on
    /// their own thread, so a slow feed never delays the start).
    pub fn open(config: &Config) -> Result<Arc<Self>> {
        let path = db_path(&config.store.path);
        let store = Arc::new(
            SqliteIntelStore::open(&path)
                .with_context(|| format!("indicator store {}", path.display()))?,
        );
        let intel = Arc::new(Intel::new(
            config.intel.clone(),
            store.clone() as Arc<dyn IndicatorStore>,
        ));
        // Read before the build: a write racing with it is picked up at the first look.
        let outside_seen = store.outside_writes().ok();
        intel
            .rebuild(crate::clock::now())
            .context("building the indicator matchers")?;
        Ok(Arc::new(IntelService {
            intel,
            store,
            feeds: Mutex::new(BTreeMap::new()),
            ioc: Mutex::new(IocStats::default()),
            protect: Mutex::new(config.protect.clone()),
            stop: Arc::new(AtomicBool::new(false)),
            outside_seen: Mutex::new(outside_seen),
        }))
    }

    pub fn indicators(&self) -> Arc<SharedIndicators> {
        self.intel.indicators()
    }

    /// Starts the thread that refreshes due feeds, and rebuilds the matchers after outside
    /// writes to the store, until [`stop`](Self::stop).
    pub fn spawn_refresh(self: &Arc<Self>) -> Result<std::thread::JoinHandle<()>> {
        let me = self.clone();
        std::thread::Builder::new()
            .name("intel-feeds".into())
            .spawn(move || {
                while !me.stop.load(Ordering::Relaxed) {
                    me.refresh_due(crate::clock::now());
                    let mut slept = Duration::ZERO;
                    while slept < REFRESH_TICK && !me.stop.load(Ordering::Relaxed) {
                        std::thread::sleep(OUTSIDE_WRITES_TICK);
                        slept += OUTSIDE_WRITES_TICK;
                        me.pick_up_outside_writes();
                    }
                }
            })
            .context("starting the feed refresh thread")
    }

    /// Rebuilds the matchers when another process wrote to the store since they were last
    /// built from it (our own writes rebuild as they go). The version is read before the
    /// rebuild, so a write racing with it is picked up at the next look.
    fn pick_up_outside_writes(&self) {
        let version = match self.store.outside_writes() {
            Ok(v) => v,
            Err(e) => {
                tracing::debug!(error = %e, "intel: reading the store's data version");
                return;
            }
        };
        {
            let mut seen = lock(&self.outside_seen);
            if *seen == Some(version) {
                return;
            }
            *seen = Some(version);
        }
        match self.intel.rebuild(crate::clock::now()) {
            Ok(stats) => tracing::info!(
                indicators = stats.indicators,
                "intel: matchers rebuilt after another process wrote to the store"
            ),
            Err(e) => tracing::warn!(error = %e, "intel: rebuilding after an outside write"),
        }
    }

    pub fn stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
    }

    /// Refreshes the due feeds (one rebuild and swap for all) and counts the outcome per
    /// feed.
    pub fn refresh_due(&self, now: Timestamp) {
        let due = self.intel.due(now);
        if due.is_empty() {
            return;
        }
        let results = self.intel.refresh_due(now);
        let mut feeds = lock(&self.feeds);
        for (name, r) in due.iter().zip(results) {
            let c = feeds.entry(name.clone()).or_default();
            c.refreshes += 1;
            match r {
                Ok(rep) => {
                    c.item_errors += rep.errors;
                    c.last_read = rep.read;
                    c.last_written = rep.written;
                    c.last_expired = rep.expired;
                    c.last_error = rep.first_errors.first().cloned();
                }
                Err(e) => {
                    c.failures += 1;
                    let feed = match &e {
                        FeedError::Fetch { feed, .. } | FeedError::Parse { feed, .. } => feed,
                        FeedError::Store(_, feed) | FeedError::Unknown(feed) => feed,
                    };
                    tracing::warn!(feed = %feed, error = %e, "feed not refreshed");
                    c.last_error = Some(e.to_string());
                }
            }
        }
    }

    /// Takes a reloaded `[intel]`: feeds no longer listed lose their indicators.
    pub fn reconfigure(&self, config: &Config) {
        *lock(&self.protect) = config.protect.clone();
        if let Err(e) = self
            .intel
            .reconfigure(config.intel.clone(), crate::clock::now())
        {
            tracing::warn!(error = %e, "intel: reconfiguring");
        }
    }

    /// A STIX bundle of one stored detection (its JSON body) under the sharing policy;
    /// `protect` is our space, never exported.
    pub fn export(&self, body: &serde_json::Value) -> rampart_intel::export::Export {
        let protect = lock(&self.protect).clone();
        rampart_intel::export::export_json(
            std::slice::from_ref(body),
            &protect,
            &self.intel.config().share,
            crate::clock::now(),
        )
    }

    /// Publishes what a detection lets out into the default collection (the one titled
    /// `rampart-indicators`, else the first): objects added, and the export.
    pub fn publish(
        &self,
        body: &serde_json::Value,
    ) -> Result<(usize, rampart_intel::export::Export)> {
        let e = self.export(body);
        if e.indicators == 0 {
            return Ok((0, e));
        }
        let config = self.intel.config();
        let cols = &config.taxii.collections;
        let Some(col) = cols
            .iter()
            .find(|c| c.title == "rampart-indicators")
            .or(cols.first())
        else {
            return Ok((0, e));
        };
        let (added, _refused) = rampart_intel::taxii::server::publish(
            self.store.as_ref(),
            &col.id,
            &e.bundle,
            crate::clock::now(),
        )
        .context("publishing into the TAXII collection")?;
        Ok((added.iter().filter(|a| a.new).count(), e))
    }

    /// Publishes a detection's step when it is confident enough (`[intel.share]
    /// publish_min_confidence`); failures are logged, never fatal.
    pub fn publish_if_confident(&self, body: &serde_json::Value) {
        let floor = self.intel.config().share.publish_min_confidence;
        let confidence = body["confidence"].as_f64().unwrap_or(0.0);
        if floor > 1.0 || confidence < floor {
            return;
        }
        match self.publish(body) {
            Ok((n, _)) if n > 0 => tracing::info!(objects = n, "published into TAXII"),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "publishing a detection"),
        }
    }

    pub fn feed_counters(&self) -> BTreeMap<String, FeedCounters> {
        let mut out = lock(&self.feeds).clone();
        for f in &self.intel.config().feeds {
            out.entry(f.name.clone()).or_default();
        }
        out
    }

    pub fn set_ioc_stats(&self, s: IocStats) {
        *lock(&self.ioc) = s;
    }

    pub fn ioc_stats(&self) -> IocStats {
        lock(&self.ioc).clone()
    }

    /// The `intel` part of `/api/v1/status`.
    pub fn status_json(&self) -> serde_json::Value {
        let set = self.indicators().load().stats();
        let states: BTreeMap<String, serde_json::Value> = self
            .intel
            .config()
            .feeds
            .iter()
            .map(|f| {
                let s = self.store.feed_state(&f.name).ok().flatten();
                (
                    f.name.clone(),
                    serde_json::json!({
                        "kind": f.kind,
                        "interval_s": f.interval_s,
                        "last_run": s.as_ref().map(|s| s.last_run),
                        "last_ok": s.as_ref().and_then(|s| s.last_ok),
                        "stored_error": s.as_ref().and_then(|s| s.last_error.clone()),
                        "indicators": s.as_ref().map_or(0, |s| s.indicators),
                    }),
                )
            })
            .collect();
        let counters = self.feed_counters();
        let feeds: BTreeMap<&String, serde_json::Value> = counters
            .iter()
            .map(|(name, c)| {
                let mut v = serde_json::to_value(c).unwrap_or_default();
                if let (Some(o), Some(s)) = (v.as_object_mut(), states.get(name)) {
                    if let Some(s) = s.as_object() {
                        o.extend(s.clone());
                    }
                }
                (name, v)
            })
            .collect();
        serde_json::json!({
            "matchers": set,
            "feeds": feeds,
            "ioc": self.ioc_stats(),
        })
    }
}

/// TAXII callers are serve's own API tokens (Bearer, or Basic with the token as password).
struct ServeTokens(AppState);

impl Authenticate for ServeTokens {
    fn authenticate<'a>(
        &'a self,
        token: &'a str,
    ) -> Pin<Box<dyn Future<Output = Option<Principal>> + Send + 'a>> {
        Box::pin(async move {
            let t = self.0.token(token).await.ok().flatten()?;
            Some(Principal {
                name: t.name,
                role: t.role,
            })
        })
    }
}

/// The TAXII 2.1 routes under `intel.taxii.path`; indicators POSTed go straight into the
/// matchers.
pub fn taxii_router(service: &Arc<IntelService>, state: &AppState) -> axum::Router {
    let config = state.config();
    let intel = service.intel.clone();
    let taxii = TaxiiState::new(
        config.intel.taxii.clone(),
        service.store.clone(),
        Arc::new(ServeTokens(state.clone())),
    )
    .with_on_added(Arc::new(move |collection: &str, inds| {
        if let Err(e) = intel.add_indicators(&inds, crate::clock::now()) {
            tracing::warn!(collection, error = %e, "indicators added over TAXII not matched");
        }
    }));
    rampart_intel::taxii::server::router(taxii)
}
