//! Feeds in the config (`[[intel.feeds]]`) and the engine that refreshes them: fetch (file
//! or HTTP, bounded), parse, store, expire stale indicators, rebuild the matchers and swap
//! them in. Blocking; the daemon runs it on a thread of its own.

use crate::export::SharePolicy;
use crate::indicator::{Indicator, Observable, Tlp};
use crate::lists::{self, ListLoad};
use crate::matcher::{IndicatorSet, SetBuilder, SetStats, SharedIndicators};
use crate::misp;
use crate::stix::{self, BundleLimits, ImportContext, Imported};
use crate::store::{FeedState, IndicatorStore};
use crate::taxii::client::TaxiiClient;
use crate::taxii::TaxiiConfig;
use rampart_model::Timestamp;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::io::Read;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Everything under `[intel]`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IntelConfig {
    pub feeds: Vec<FeedConfig>,
    /// What exports may contain (`[intel.share]`).
    pub share: SharePolicy,
    /// The TAXII server (`[intel.taxii]`).
    pub taxii: TaxiiConfig,
}

impl IntelConfig {
    pub fn validate(&self) -> Result<(), String> {
        let mut names = std::collections::HashSet::new();
        for f in &self.feeds {
            f.validate()?;
            if !names.insert(&f.name) {
                return Err(format!("intel.feeds: `{}` is listed twice", f.name));
            }
        }
        self.taxii.validate()
    }
}

/// What a feed is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FeedKind {
    /// A STIX 2.1 bundle (file or URL), read whole each time.
    Stix,
    /// A MISP feed: `manifest.json` and event files under a URL or directory.
    Misp,
    /// A TAXII 2.1 collection, polled with `added_after`.
    Taxii,
    /// One address, network, domain, URL or hash per line.
    List,
    /// CSV with a named column.
    Csv,
}

/// How to authenticate to a feed.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum FeedAuth {
    Bearer { token: String },
    Basic { user: String, password: String },
}

impl std::fmt::Debug for FeedAuth {
    /// Never prints the secret.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FeedAuth::Bearer { .. } => f.write_str("Bearer(…)"),
            FeedAuth::Basic { user, .. } => write!(f, "Basic({user}, …)"),
        }
    }
}

/// One `[[intel.feeds]]` entry.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeedConfig {
    /// Names the source of its indicators.
    pub name: String,
    pub kind: FeedKind,
    /// `http(s)://...`: the file, the MISP feed's base, or the TAXII collection's URL
    /// (`.../api/collections/ID/`).
    #[serde(default)]
    pub url: Option<String>,
    /// A local file (or, for MISP, a directory).
    #[serde(default)]
    pub path: Option<PathBuf>,
    /// Seconds between refreshes.
    #[serde(default = "default_interval")]
    pub interval_s: u64,
    /// Indicators of the feed not listed (STIX, MISP) or not added again (TAXII) for this
    /// long are dropped. Lists are replaced whole at each refresh.
    #[serde(default = "default_expire")]
    pub expire_after_s: u64,
    #[serde(default)]
    pub auth: Option<FeedAuth>,
    /// The marking when the feed's objects carry none.
    #[serde(default)]
    pub tlp: Tlp,
    /// Confidence (0..100) when the feed gives none.
    #[serde(default)]
    pub confidence: Option<u8>,
    /// CSV: the column holding the value.
    #[serde(default)]
    pub column: Option<String>,
    /// TAXII: objects per page asked for.
    #[serde(default = "default_page")]
    pub page_size: usize,
    /// Largest download (bytes).
    #[serde(default = "default_max_bytes")]
    pub max_bytes: u64,
}

fn default_interval() -> u64 {
    3600
}
fn default_expire() -> u64 {
    30 * 86_400
}
fn default_page() -> usize {
    1000
}
fn default_max_bytes() -> u64 {
    1 << 30
}

impl FeedConfig {
    /// A feed with defaults, for code and tests.
    pub fn new(name: &str, kind: FeedKind) -> Self {
        FeedConfig {
            name: name.into(),
            kind,
            url: None,
            path: None,
            interval_s: default_interval(),
            expire_after_s: default_expire(),
            auth: None,
            tlp: Tlp::default(),
            confidence: None,
            column: None,
            page_size: default_page(),
            max_bytes: default_max_bytes(),
        }
    }

    pub fn validate(&self) -> Result<(), String> {
        let who = format!("intel.feeds `{}`", self.name);
        if self.name.is_empty() || self.name.starts_with("taxii:") {
            return Err(format!(
                "{who}: a feed needs a name (not starting with taxii:)"
            ));
        }
        match (&self.url, &self.path) {
            (Some(_), Some(_)) => return Err(format!("{who}: give url or path, not both")),
            (None, None) => return Err(format!("{who}: needs url or path")),
            (Some(u), None) if !(u.starts_with("http://") || u.starts_with("https://")) => {
                return Err(format!("{who}: url must be http:// or https://"))
            }
            _ => {}
        }
        if self.kind == FeedKind::Taxii && self.url.is_none() {
            return Err(format!("{who}: a TAXII feed needs the collection's url"));
        }
        if self.kind == FeedKind::Csv && self.column.is_none() {
            return Err(format!("{who}: a CSV feed needs `column`"));
        }
        if self.interval_s == 0 {
            return Err(format!("{who}: interval_s must be at least 1"));
        }
        if self.confidence.is_some_and(|c| c > 100) {
            return Err(format!("{who}: confidence is 0..100"));
        }
        Ok(())
    }

    fn cx(&self, now: Timestamp) -> ImportContext<'_> {
        ImportContext {
            source: &self.name,
            now,
            default_tlp: self.tlp,
            default_confidence: self.confidence,
        }
    }
}

/// Why a feed could not be refreshed.
#[derive(Debug, thiserror::Error)]
pub enum FeedError {
    #[error("feed `{feed}`: {message}")]
    Fetch { feed: String, message: String },
    #[error("feed `{feed}`: {message}")]
    Parse { feed: String, message: String },
    #[error("feed `{feed}`: {0}", feed = .1)]
    Store(#[source] crate::store::IntelStoreError, String),
    #[error("no feed named `{0}`")]
    Unknown(String),
}

/// What one refresh did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct FeedReport {
    pub feed: String,
    /// Indicators (or list lines) read.
    pub read: u64,
    /// Stored as new or changed.
    pub written: u64,
    pub expired: u64,
    pub errors: u64,
    pub first_errors: Vec<String>,
    /// Objects that are not indicators, or attributes of types we do not match.
    pub other: u64,
}

/// A list feed's lines, held in memory (they are re-read at each refresh, never stored).
#[derive(Debug)]
struct ListPart {
    tlp: Tlp,
    confidence: Option<u8>,
    observables: Vec<Observable>,
}

/// Reads a local file or an HTTP(S) URL, at most `max` bytes.
pub fn fetch(
    url: Option<&str>,
    path: Option<&std::path::Path>,
    auth: Option<&FeedAuth>,
    max: u64,
) -> Result<Vec<u8>, String> {
    if let Some(p) = path {
        let f = std::fs::File::open(p).map_err(|e| format!("{}: {e}", p.display()))?;
        let mut buf = Vec::new();
        #[allow(clippy::disallowed_methods)] // bounded by take()
        f.take(max + 1)
            .read_to_end(&mut buf)
            .map_err(|e| format!("{}: {e}", p.display()))?;
        if buf.len() as u64 > max {
            return Err(format!("{}: larger than {max} bytes", p.display()));
        }
        return Ok(buf);
    }
    let Some(url) = url else {
        return Err("no url or path".into());
    };
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(120)))
        .http_status_as_error(false)
        .build()
        .into();
    let mut req = agent.get(url);
    if let Some(a) = auth {
        req = req.header("Authorization", crate::taxii::client::authorization(a));
    }
    let mut resp = req.call().map_err(|e| format!("{url}: {e}"))?;
    let status = resp.status().as_u16();
    if !(200..300).contains(&status) {
        return Err(format!("{url}: HTTP {status}"));
    }
    resp.body_mut()
        .with_config()
        .limit(max)
        .read_to_vec()
        .map_err(|e| format!("{url}: {e}"))
}

/// Feeds, their store and the matchers built from them.
pub struct Intel {
    config: Mutex<Arc<IntelConfig>>,
    store: Arc<dyn IndicatorStore>,
    lists: Mutex<HashMap<String, Arc<ListPart>>>,
    /// Indicators POSTed to our TAXII server or imported by hand: stored under their
    /// source like feeds.
    shared: Arc<SharedIndicators>,
}

impl std::fmt::Debug for Intel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Intel").finish_non_exhaustive()
    }
}

impl Intel {
    pub fn new(config: IntelConfig, store: Arc<dyn IndicatorStore>) -> Self {
        Intel {
            config: Mutex::new(Arc::new(config)),
            store,
            lists: Mutex::new(HashMap::new()),
            shared: Arc::new(SharedIndicators::default()),
        }
    }

    /// The matchers in force; lookups go through this.
    pub fn indicators(&self) -> Arc<SharedIndicators> {
        self.shared.clone()
    }

    pub fn store(&self) -> Arc<dyn IndicatorStore> {
        self.store.clone()
    }

    pub fn config(&self) -> Arc<IntelConfig> {
        self.config
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Takes a new configuration (SIGHUP): feeds no longer listed lose their indicators.
    pub fn reconfigure(&self, config: IntelConfig, now: Timestamp) -> Result<(), FeedError> {
        let old = self.config();
        for f in &old.feeds {
            if !config.feeds.iter().any(|n| n.name == f.name) {
                self.store
                    .drop_source(&f.name)
                    .map_err(|e| FeedError::Store(e, f.name.clone()))?;
                self.lists
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .remove(&f.name);
            }
        }
        *self.config.lock().unwrap_or_else(|e| e.into_inner()) = Arc::new(config);
        self.rebuild(now).map(|_| ())
    }

    /// Names of the feeds due at `now` (never refreshed, or their interval passed).
    pub fn due(&self, now: Timestamp) -> Vec<String> {
        let config = self.config();
        let lists = self.lists.lock().unwrap_or_else(|e| e.into_inner());
        config
            .feeds
            .iter()
            .filter(|f| {
                let in_memory = matches!(f.kind, FeedKind::List | FeedKind::Csv);
                if in_memory && !lists.contains_key(&f.name) {
                    return true;
                }
                match self.store.feed_state(&f.name) {
                    Ok(Some(s)) => s.last_run.saturating_add_millis(f.interval_s * 1000) <= now,
                    _ => true,
                }
            })
            .map(|f| f.name.clone())
            .collect()
    }

    /// Refreshes every due feed, then rebuilds the matchers once if any changed.
    pub fn refresh_due(&self, now: Timestamp) -> Vec<Result<FeedReport, FeedError>> {
        let due = self.due(now);
        let out: Vec<_> = due.iter().map(|n| self.refresh_one(n, now)).collect();
        if !due.is_empty() {
            if let Err(e) = self.rebuild(now) {
                tracing::warn!(error = %e, "could not rebuild the indicator matchers");
            }
        }
        out
    }

    /// Refreshes one feed and rebuilds the matchers.
    pub fn refresh(&self, name: &str, now: Timestamp) -> Result<FeedReport, FeedError> {
        let r = self.refresh_one(name, now);
        self.rebuild(now)?;
        r
    }

    fn refresh_one(&self, name: &str, now: Timestamp) -> Result<FeedReport, FeedError> {
        let config = self.config();
        let feed = config
            .feeds
            .iter()
            .find(|f| f.name == name)
            .ok_or_else(|| FeedError::Unknown(name.into()))?;
        let mut state = self
            .store
            .feed_state(name)
            .ok()
            .flatten()
            .unwrap_or_else(|| FeedState {
                name: name.into(),
                cursor: String::new(),
                ..FeedState::default()
            });
        state.last_run = now;
        let result = self.run_feed(feed, &mut state, now);
        match &result {
            Ok(r) => {
                state.last_ok = Some(now);
                state.last_error = None;
                state.indicators = self.store.count(Some(name)).unwrap_or(r.read);
                tracing::info!(
                    feed = name,
                    read = r.read,
                    written = r.written,
                    expired = r.expired,
                    errors = r.errors,
                    "feed refreshed"
                );
            }
            Err(e) => {
                state.last_error = Some(e.to_string());
                tracing::warn!(feed = name, error = %e, "feed refresh failed");
            }
        }
        self.store
            .save_feed_state(&state)
            .map_err(|e| FeedError::Store(e, name.into()))?;
        result
    }

    fn run_feed(
        &self,
        feed: &FeedConfig,
        state: &mut FeedState,
        now: Timestamp,
    ) -> Result<FeedReport, FeedError> {
        let name = &feed.name;
        let fetch_err = |message: String| FeedError::Fetch {
            feed: name.clone(),
            message,
        };
        let parse_err = |message: String| FeedError::Parse {
            feed: name.clone(),
            message,
        };
        let mut report = FeedReport {
            feed: name.clone(),
            ..FeedReport::default()
        };
        match feed.kind {
            FeedKind::List | FeedKind::Csv => {
                let bytes = fetch(
                    feed.url.as_deref(),
                    feed.path.as_deref(),
                    feed.auth.as_ref(),
                    feed.max_bytes,
                )
                .map_err(fetch_err)?;
                let load: ListLoad = if feed.kind == FeedKind::Csv {
                    lists::read_csv(&bytes[..], feed.column.as_deref().unwrap_or("value"))
                } else {
                    lists::read_list(&bytes[..])
                }
                .map_err(|e| parse_err(e.to_string()))?;
                report.read = load.observables.len() as u64;
                report.written = report.read;
                report.errors = load.errors;
                report.first_errors = load.first_errors;
                self.lists.lock().unwrap_or_else(|e| e.into_inner()).insert(
                    name.clone(),
                    Arc::new(ListPart {
                        tlp: feed.tlp,
                        confidence: feed.confidence,
                        observables: load.observables,
                    }),
                );
                return Ok(report);
            }
            FeedKind::Stix => {
                let bytes = fetch(
                    feed.url.as_deref(),
                    feed.path.as_deref(),
                    feed.auth.as_ref(),
                    feed.max_bytes,
                )
                .map_err(fetch_err)?;
                let limits = BundleLimits {
                    max_bytes: feed.max_bytes,
                    ..BundleLimits::default()
                };
                let got = stix::import_bundle_bytes(&bytes, &feed.cx(now), &limits)
                    .map_err(|e| parse_err(e.to_string()))?;
                self.take(&got, name, now, &mut report)?;
            }
            FeedKind::Misp => self.run_misp(feed, state, now, &mut report)?,
            FeedKind::Taxii => {
                let url = feed.url.as_deref().unwrap_or_default();
                let client = TaxiiClient::new(feed.auth.as_ref(), Duration::from_secs(120));
                let cx = feed.cx(now);
                let mut got = Imported::default();
                let after = (!state.cursor.is_empty()).then_some(state.cursor.as_str());
                let poll = client
                    .poll(url, after, feed.page_size, |raw| {
                        stix::take_object(raw.get(), &cx, &mut got)
                    })
                    .map_err(|e| fetch_err(e.to_string()))?;
                self.take(&got, name, now, &mut report)?;
                if let Some(last) = poll.added_last {
                    state.cursor = last;
                }
            }
        }
        report.expired = self
            .store
            .expire(
                name,
                now.saturating_sub_millis(feed.expire_after_s.saturating_mul(1000)),
            )
            .map_err(|e| FeedError::Store(e, name.clone()))?;
        Ok(report)
    }

    /// Stores what an import found.
    fn take(
        &self,
        got: &Imported,
        name: &str,
        now: Timestamp,
        report: &mut FeedReport,
    ) -> Result<(), FeedError> {
        let st = self
            .store
            .upsert_indicators(&got.indicators, now)
            .map_err(|e| FeedError::Store(e, name.into()))?;
        if !got.revoked.is_empty() {
            self.store
                .remove_indicators(name, &got.revoked)
                .map_err(|e| FeedError::Store(e, name.into()))?;
        }
        report.read += got.indicators.len() as u64;
        report.written += st.written;
        report.errors += got.errors;
        report.other += got.other_objects;
        for e in &got.first_errors {
            if report.first_errors.len() < 10 {
                report.first_errors.push(e.clone());
            }
        }
        Ok(())
    }

    /// A MISP feed: the manifest, then only the events whose timestamp changed. The
    /// cursor keeps each event's timestamp; indicators of events still listed stay fresh,
    /// those of events gone from the manifest expire.
    fn run_misp(
        &self,
        feed: &FeedConfig,
        state: &mut FeedState,
        now: Timestamp,
        report: &mut FeedReport,
    ) -> Result<(), FeedError> {
        let name = &feed.name;
        let fetch_err = |message: String| FeedError::Fetch {
            feed: name.clone(),
            message,
        };
        let (base_url, base_path) = (
            feed.url.as_deref().map(|u| u.trim_end_matches('/')),
            feed.path.as_deref(),
        );
        let get = |file: &str| -> Result<Vec<u8>, String> {
            let url = base_url.map(|b| format!("{b}/{file}"));
            let path = base_path.map(|p| p.join(file));
            fetch(
                url.as_deref(),
                path.as_deref(),
                feed.auth.as_ref(),
                feed.max_bytes,
            )
        };
        let manifest = get("manifest.json").map_err(fetch_err)?;
        let (entries, bad) =
            misp::parse_manifest(&manifest, "manifest.json").map_err(|e| FeedError::Parse {
                feed: name.clone(),
                message: e.to_string(),
            })?;
        if bad > 0 {
            report.errors += bad;
            report.first_errors.push(format!(
                "manifest.json: {bad} entries whose key is not an event UUID"
            ));
        }
        let seen: BTreeMap<String, u64> = serde_json::from_str(&state.cursor).unwrap_or_default();
        let mut next = BTreeMap::new();
        let cx = feed.cx(now);
        let (changed, unchanged): (Vec<_>, Vec<_>) = entries
            .iter()
            .partition(|e| seen.get(&e.uuid) != Some(&e.timestamp) || e.timestamp == 0);
        for e in &unchanged {
            next.insert(e.uuid.clone(), e.timestamp);
        }
        // Events are fetched and parsed on a second thread while this one stores the
        // previous event: on a large feed the two take about as long as each other.
        let stored = std::thread::scope(|scope| -> Result<(), FeedError> {
            let (tx, rx) = std::sync::mpsc::sync_channel(2);
            scope.spawn(move || {
                for e in changed {
                    let file = format!("{}.json", e.uuid);
                    let got = get(&file).and_then(|b| {
                        let mut got =
                            misp::parse_event(&b, &file, &cx).map_err(|e| e.to_string())?;
                        let label = format!("misp-event:{}", e.uuid);
                        for i in &mut got.indicators {
                            i.labels.push(label.clone());
                        }
                        Ok(got)
                    });
                    if tx.send((e, got)).is_err() {
                        return; // the store failed: stop reading
                    }
                }
            });
            for (e, got) in rx {
                match got {
                    Ok(got) => {
                        self.take(&got, name, now, report)?;
                        next.insert(e.uuid.clone(), e.timestamp);
                    }
                    Err(m) => {
                        report.errors += 1;
                        if report.first_errors.len() < 10 {
                            report.first_errors.push(m);
                        }
                    }
                }
            }
            Ok(())
        });
        stored?;
        // Events that did not change are still listed: keep their indicators fresh.
        let touched = self
            .store
            .touch_labelled(
                name,
                &unchanged
                    .iter()
                    .map(|e| format!("misp-event:{}", e.uuid))
                    .collect::<Vec<_>>(),
                now,
            )
            .map_err(|e| FeedError::Store(e, name.clone()))?;
        report.read += touched;
        state.cursor = serde_json::to_string(&next).unwrap_or_default();
        Ok(())
    }

    /// Stores indicators from elsewhere (our TAXII server, `rampart intel import`) and
    /// rebuilds the matchers.
    pub fn add_indicators(
        &self,
        inds: &[Indicator],
        now: Timestamp,
    ) -> Result<SetStats, FeedError> {
        self.store
            .upsert_indicators(inds, now)
            .map_err(|e| FeedError::Store(e, "import".into()))?;
        self.rebuild(now)
    }

    /// Builds new matchers from the store and the lists in memory and puts them in force.
    pub fn rebuild(&self, now: Timestamp) -> Result<SetStats, FeedError> {
        let set = self.build(now)?;
        let stats = set.stats();
        self.shared.replace(set);
        Ok(stats)
    }

    fn build(&self, now: Timestamp) -> Result<IndicatorSet, FeedError> {
        let mut b = SetBuilder::new();
        self.store
            .for_each_matchable(&mut |m| {
                b.add_matchable(&m, now);
            })
            .map_err(|e| FeedError::Store(e, "rebuild".into()))?;
        let lists: Vec<(String, Arc<ListPart>)> = self
            .lists
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        for (name, part) in lists {
            b.add_list(&name, part.confidence, part.tlp, &part.observables);
        }
        Ok(b.build())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_parses_and_validates() {
        let text = r#"
            [[feeds]]
            name = "abuse"
            kind = "csv"
            url = "https://example.invalid/urls.csv"
            column = "url"
            interval_s = 600
            tlp = "clear"

            [[feeds]]
            name = "partner"
            kind = "taxii"
            url = "https://taxii.example.invalid/api/collections/abc/"
            auth = { kind = "basic", user = "u", password = "p" }

            [share]
            identity_name = "Example SOC"
            tlp = "green"
            never = ["192.0.2.0/24"]

            [taxii]
            max_page = 500
        "#;
        let c: IntelConfig = toml_like(text);
        c.validate().unwrap();
        assert_eq!(c.feeds[0].tlp, Tlp::Clear);
        assert_eq!(c.feeds[1].expire_after_s, 30 * 86_400);
        assert_eq!(format!("{:?}", c.feeds[1].auth), "Some(Basic(u, …))");
        assert_eq!(c.share.tlp, Tlp::Green);
        assert_eq!(c.taxii.max_page, 500);
        let mut bad = c.clone();
        bad.feeds[0].column = None;
        assert!(bad.validate().unwrap_err().contains("column"));
        let mut bad = c.clone();
        bad.feeds[1].name = "abuse".into();
        assert!(bad.validate().unwrap_err().contains("twice"));
    }

    /// The config crate reads `[intel]` from TOML.
    fn toml_like(text: &str) -> IntelConfig {
        toml::from_str(text).unwrap()
    }
}
