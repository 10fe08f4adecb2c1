//! What the pipeline's threads and the API share: counters, the exporters' view, the live
//! traffic series, the detectors' statistics, and the broadcast of live events.

use crate::prefixes::PrefixSet;
use crate::traffic::LiveSecond;
use rampart_detect::{DdosStats, ScanStats};
use rampart_model::Timestamp;
use serde::Serialize;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::Instant;
use tokio::sync::broadcast;

/// Datagrams from exporters beyond `listen.max_exporters` are counted under this address.
pub const OTHER_EXPORTER: IpAddr = IpAddr::V4(Ipv4Addr::UNSPECIFIED);

/// Seconds of live traffic kept for the chart.
pub const LIVE_SECONDS: usize = 3_600;

/// Refused exporters remembered (by address) for the status page.
const MAX_REFUSED: usize = 1_024;

/// One exporter's counters since the daemon started.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct ExporterStats {
    pub datagrams: u64,
    pub records: u64,
    /// Datagrams (or parts) rejected as malformed.
    pub errors: u64,
    /// Data sets whose template was not known yet.
    pub template_misses: u64,
    /// The sampling rate of its latest records (1: unsampled).
    pub sampling_rate: u32,
    pub formats: BTreeSet<&'static str>,
    pub last_seen: Option<Timestamp>,
    pub last_error: Option<String>,
    /// The collector addresses it sends to.
    pub listen: BTreeSet<SocketAddr>,
}

impl ExporterStats {
    fn merge(&mut self, o: ExporterStats) {
        self.datagrams += o.datagrams;
        self.records += o.records;
        self.errors += o.errors;
        self.template_misses += o.template_misses;
        if o.sampling_rate != 0 {
            self.sampling_rate = o.sampling_rate;
        }
        self.formats.extend(o.formats);
        self.last_seen = self.last_seen.max(o.last_seen);
        if o.last_error.is_some() {
            self.last_error = o.last_error;
        }
        self.listen.extend(o.listen);
    }
}

/// A collector socket, for the status page.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ListenerInfo {
    pub listen: SocketAddr,
    pub sockets: usize,
    /// SO_RCVBUF as granted by the kernel (it reports twice what it uses for data).
    pub recv_buffer_bytes: usize,
}

/// One capture interface's counters, added to by its capture threads.
#[derive(Debug, Default)]
pub struct CaptureCounters {
    /// Frames read from the rings.
    pub packets: AtomicU64,
    /// Their lengths on the wire.
    pub bytes: AtomicU64,
    /// Frames the kernel dropped because a ring was full (PACKET_STATISTICS tp_drops).
    pub kernel_drops: AtomicU64,
    /// Frames (or flow datagrams inside them) that could not be decoded.
    pub errors: AtomicU64,
    /// Frames that carry no IP (ARP, LLDP, ...), skipped.
    pub non_ip: AtomicU64,
    /// Records handed to the engine's queue.
    pub records: AtomicU64,
    /// Records dropped because the engine's queue was full.
    pub queue_drops: AtomicU64,
    last_error: Mutex<Option<String>>,
}

impl CaptureCounters {
    pub fn set_last_error(&self, e: String) {
        *lock(&self.last_error) = Some(e);
    }
}

/// A capture interface: how it was opened and its counters.
#[derive(Debug)]
pub struct CaptureInfo {
    pub interface: String,
    pub sockets: usize,
    /// Ring bytes per socket.
    pub ring_bytes: usize,
    pub promiscuous: bool,
    pub counters: Arc<CaptureCounters>,
}

/// A capture interface as `/api/v1/status` shows it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CaptureView {
    pub interface: String,
    pub sockets: usize,
    pub ring_bytes: usize,
    pub promiscuous: bool,
    pub packets: u64,
    pub bytes: u64,
    pub kernel_drops: u64,
    pub errors: u64,
    pub non_ip: u64,
    pub records: u64,
    pub queue_drops: u64,
    pub last_error: Option<String>,
}

/// Something that happened, for the console's live stream (`/api/v1/events`).
#[derive(Clone, Debug, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum LiveEvent {
    /// One second of traffic.
    Traffic(LiveSecond),
    /// A detection started, changed or ended: `detection` is shaped as in the API.
    Detection { phase: String, detection: Value },
    /// A mitigation was applied, renewed, withdrawn, is pending, or was refused.
    Mitigation {
        action: String,
        result: String,
        mitigation: Value,
    },
}

#[derive(Debug)]
pub struct Shared {
    pub started: Instant,
    pub started_at: Timestamp,
    pub stopping: AtomicBool,
    /// Records handed from the collectors to the engine's queue.
    pub queued_records: AtomicU64,
    /// Records dropped because the engine's queue was full.
    pub dropped_records: AtomicU64,
    /// Records the engine has processed.
    pub processed_records: AtomicU64,
    /// Log events (logins, requests, firewall packets) the engine has processed.
    pub processed_log_events: AtomicU64,
    /// The log intake's counters.
    pub log_stats: Arc<crate::loglisten::LogStats>,
    log_listeners: Mutex<Vec<crate::loglisten::LogListener>>,
    /// Datagrams from exporters outside the allow-list.
    pub refused_datagrams: AtomicU64,
    /// Live events not delivered because the recorder was behind.
    pub dropped_events: AtomicU64,
    /// Store operations that failed.
    pub store_errors: AtomicU64,
    pub max_exporters: usize,
    exporters: Mutex<BTreeMap<IpAddr, ExporterStats>>,
    refused: Mutex<BTreeMap<IpAddr, u64>>,
    allowed: RwLock<Arc<PrefixSet>>,
    generation: AtomicU64,
    listeners: Mutex<Vec<ListenerInfo>>,
    captures: Mutex<Vec<CaptureInfo>>,
    live: Mutex<VecDeque<LiveSecond>>,
    detect_stats: Mutex<Option<(DdosStats, ScanStats)>>,
    finding_stats: Mutex<Option<crate::findings::FindingStats>>,
    bgp: Mutex<Option<Arc<rampart_bgp::Speaker>>>,
    notifier: Mutex<Option<Arc<rampart_notify::Notifier>>>,
    intel: Mutex<Option<Arc<crate::intel::IntelService>>>,
    pub events: broadcast::Sender<LiveEvent>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Shared {
    pub fn new(started_at: Timestamp, max_exporters: usize, allowed: PrefixSet) -> Self {
        Shared {
            started: Instant::now(),
            started_at,
            stopping: AtomicBool::new(false),
            queued_records: AtomicU64::new(0),
            dropped_records: AtomicU64::new(0),
            processed_records: AtomicU64::new(0),
            processed_log_events: AtomicU64::new(0),
            log_stats: Arc::default(),
            log_listeners: Mutex::new(Vec::new()),
            refused_datagrams: AtomicU64::new(0),
            dropped_events: AtomicU64::new(0),
            store_errors: AtomicU64::new(0),
            max_exporters,
            exporters: Mutex::new(BTreeMap::new()),
            refused: Mutex::new(BTreeMap::new()),
            allowed: RwLock::new(Arc::new(allowed)),
            generation: AtomicU64::new(0),
            listeners: Mutex::new(Vec::new()),
            captures: Mutex::new(Vec::new()),
            live: Mutex::new(VecDeque::with_capacity(LIVE_SECONDS)),
            detect_stats: Mutex::new(None),
            finding_stats: Mutex::new(None),
            bgp: Mutex::new(None),
            notifier: Mutex::new(None),
            intel: Mutex::new(None),
            events: broadcast::channel(4_096).0,
        }
    }

    pub fn allowed_exporters(&self) -> Arc<PrefixSet> {
        self.allowed
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// A new allow-list; collectors pick it up within a second.
    pub fn set_allowed_exporters(&self, set: PrefixSet) {
        *self.allowed.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(set);
        self.generation.fetch_add(1, Ordering::Relaxed);
    }

    pub fn config_generation(&self) -> u64 {
        self.generation.load(Ordering::Relaxed)
    }

    pub fn merge_exporters(
        &self,
        listen: SocketAddr,
        counts: impl Iterator<Item = (IpAddr, ExporterStats)>,
    ) {
        let mut all = lock(&self.exporters);
        for (addr, mut s) in counts {
            s.listen.insert(listen);
            let room = all.len() < self.max_exporters + 1;
            match all.get_mut(&addr) {
                Some(e) => e.merge(s),
                None if room => {
                    all.insert(addr, s);
                }
                None => all.entry(OTHER_EXPORTER).or_default().merge(s),
            }
        }
    }

    pub fn exporters(&self) -> BTreeMap<IpAddr, ExporterStats> {
        lock(&self.exporters).clone()
    }

    pub fn note_refused(&self, addr: IpAddr) {
        let mut r = lock(&self.refused);
        if r.len() < MAX_REFUSED || r.contains_key(&addr) {
            *r.entry(addr).or_default() += 1;
        }
    }

    pub fn refused(&self) -> BTreeMap<IpAddr, u64> {
        lock(&self.refused).clone()
    }

    pub fn add_listener(&self, info: ListenerInfo) {
        lock(&self.listeners).push(info);
    }

    pub fn set_log_listeners(&self, l: Vec<crate::loglisten::LogListener>) {
        *lock(&self.log_listeners) = l;
    }

    pub fn log_listeners(&self) -> Vec<crate::loglisten::LogListener> {
        lock(&self.log_listeners).clone()
    }

    pub fn listeners(&self) -> Vec<ListenerInfo> {
        lock(&self.listeners).clone()
    }

    pub fn add_capture(&self, info: CaptureInfo) {
        lock(&self.captures).push(info);
    }

    pub fn captures(&self) -> Vec<CaptureView> {
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
        lock(&self.captures)
            .iter()
            .map(|c| {
                let n = &c.counters;
                CaptureView {
                    interface: c.interface.clone(),
                    sockets: c.sockets,
                    ring_bytes: c.ring_bytes,
                    promiscuous: c.promiscuous,
                    packets: load(&n.packets),
                    bytes: load(&n.bytes),
                    kernel_drops: load(&n.kernel_drops),
                    errors: load(&n.errors),
                    non_ip: load(&n.non_ip),
                    records: load(&n.records),
                    queue_drops: load(&n.queue_drops),
                    last_error: lock(&n.last_error).clone(),
                }
            })
            .collect()
    }

    pub fn push_live(&self, second: LiveSecond) {
        {
            let mut live = lock(&self.live);
            if live.len() == LIVE_SECONDS {
                live.pop_front();
            }
            live.push_back(second.clone());
        }
        // No subscriber is no error.
        let _ = self.events.send(LiveEvent::Traffic(second));
    }

    /// The last `n` seconds of traffic, oldest first.
    pub fn live(&self, n: usize) -> Vec<LiveSecond> {
        let live = lock(&self.live);
        live.iter()
            .skip(live.len().saturating_sub(n))
            .cloned()
            .collect()
    }

    pub fn set_detect_stats(&self, ddos: DdosStats, scan: ScanStats) {
        *lock(&self.detect_stats) = Some((ddos, scan));
    }

    pub fn set_intel(&self, i: Option<Arc<crate::intel::IntelService>>) {
        *lock(&self.intel) = i;
    }

    /// Feeds, matchers and the IOC detector's counters.
    pub fn intel(&self) -> Option<Arc<crate::intel::IntelService>> {
        lock(&self.intel).clone()
    }

    pub fn set_finding_stats(&self, s: crate::findings::FindingStats) {
        *lock(&self.finding_stats) = Some(s);
    }

    pub fn finding_stats(&self) -> Option<crate::findings::FindingStats> {
        lock(&self.finding_stats).clone()
    }

    pub fn set_notifier(&self, n: Option<Arc<rampart_notify::Notifier>>) {
        *lock(&self.notifier) = n;
    }

    /// Per-sink notification counters; `None` once stopped.
    pub fn notify_stats(&self) -> Option<rampart_notify::NotifyStats> {
        lock(&self.notifier).as_ref().map(|n| n.stats())
    }

    pub fn set_bgp(&self, speaker: Option<Arc<rampart_bgp::Speaker>>) {
        *lock(&self.bgp) = speaker;
    }

    /// The BGP peers and their sessions; `None` without configured peers.
    pub fn bgp_peers(&self) -> Option<Vec<rampart_bgp::PeerStatus>> {
        lock(&self.bgp).as_ref().map(|s| s.peers())
    }

    pub fn detect_stats(&self) -> Option<(DdosStats, ScanStats)> {
        lock(&self.detect_stats).clone()
    }
}
