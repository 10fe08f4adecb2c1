//! The recorder: takes what the engine finds, keeps it in the store (detections with their
//! timelines, traffic rollups) and tells the console. It also carries attacks across a
//! restart: detections the store holds as active are resumed when the detector finds the same
//! target again, and ended if it does not within the hysteresis time.

use crate::api::views::detection_json;
use crate::engine::EngineEvent;
use crate::shared::{LiveEvent, Shared};
use rampart_detect::Phase;
use rampart_model::{Detection, Direction, Timestamp};
use rampart_notify::{EventKind, Notification, Notifier};
use rampart_store::{
    DetectionQuery, DetectionState, DetectionUpdate, Store, StoredDetection, TimelineEntry,
};
use serde_json::json;
use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc::Receiver;

/// What makes two detections the same case across a restart.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct CaseKey {
    kind: &'static str,
    target: String,
    direction: Option<Direction>,
    source: Option<String>,
}

fn key_of(d: &Detection) -> CaseKey {
    match d {
        Detection::Ddos(a) => CaseKey {
            kind: "ddos",
            target: a.target.to_string(),
            direction: Some(a.direction),
            source: None,
        },
        Detection::Scan(s) => CaseKey {
            kind: "scan",
            target: s.target.to_string(),
            direction: Some(s.direction),
            source: Some(s.source.to_string()),
        },
        d => CaseKey {
            kind: d.kind(),
            target: d.address().map(|c| c.to_string()).unwrap_or_default(),
            direction: Some(d.direction()),
            source: d.source().map(|a| a.to_string()),
        },
    }
}

fn key_of_stored(d: &StoredDetection) -> Option<CaseKey> {
    let kind = *Detection::KINDS.iter().find(|k| **k == d.kind)?;
    Some(CaseKey {
        kind,
        target: d.target.clone(),
        direction: d.direction,
        source: d.source.clone(),
    })
}

/// Runs a blocking store call off the async executor.
async fn blocking<T: Send + 'static>(
    store: &Arc<dyn Store>,
    f: impl FnOnce(&dyn Store) -> rampart_store::Result<T> + Send + 'static,
) -> Result<T, String> {
    let store = store.clone();
    tokio::task::spawn_blocking(move || f(store.as_ref()))
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())
}

/// What a detection resumed after a restart keeps from before it: its first start and its
/// highest peak, which the new detector does not know.
#[derive(Clone, Copy, Debug)]
struct Carry {
    start: Timestamp,
    peak_pps: u64,
    peak_bps: u64,
}

impl Carry {
    fn of(d: &StoredDetection) -> Carry {
        Carry {
            start: d.start,
            peak_pps: d.body["peak_pps"].as_u64().unwrap_or(0),
            peak_bps: d.body["peak_bps"].as_u64().unwrap_or(0),
        }
    }

    fn apply(&self, d: &mut Detection) {
        match d {
            Detection::Ddos(a) => {
                a.start = a.start.min(self.start);
                a.peak_pps = a.peak_pps.max(self.peak_pps);
                a.peak_bps = a.peak_bps.max(self.peak_bps);
            }
            Detection::Scan(s) => s.start = s.start.min(self.start),
            _ => {}
        }
    }
}

/// An open detection: where it is kept, and what it carries from before a restart.
#[derive(Clone, Copy, Debug)]
struct Open {
    id: u64,
    carry: Option<Carry>,
}

pub struct Recorder {
    store: Arc<dyn Store>,
    shared: Arc<Shared>,
    /// Detector ids (per detector) to store ids, while the detection is open.
    open: HashMap<(&'static str, u64), Open>,
    /// Active in the store at start and not yet found again.
    restored: HashMap<CaseKey, Open>,
    /// When the restored ones that were not found again are ended.
    restore_deadline: tokio::time::Instant,
    /// Saved detections go on to the responder.
    respond: tokio::sync::mpsc::Sender<crate::responder::Input>,
    notifier: Arc<Notifier>,
    /// Per stored attack: the peak and vector count last told, so that updates are told
    /// only when they matter (a doubled peak, a new vector).
    told: HashMap<u64, (u64, usize)>,
}

impl std::fmt::Debug for Recorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recorder")
            .field("open", &self.open.len())
            .field("restored", &self.restored.len())
            .finish_non_exhaustive()
    }
}

fn pps(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn bps(n: u64) -> String {
    match n {
        n if n >= 1_000_000_000 => format!("{:.1} Gbit/s", n as f64 / 1e9),
        n if n >= 1_000_000 => format!("{:.1} Mbit/s", n as f64 / 1e6),
        n => format!("{:.0} kbit/s", n as f64 / 1e3),
    }
}

/// The timeline entry of a detector event.
fn entry(phase: Phase, d: &Detection, at: Timestamp) -> TimelineEntry {
    let event = match phase {
        Phase::Started => "started",
        Phase::Updated => "updated",
        Phase::Ended => "ended",
    };
    let (summary, detail) = match d {
        Detection::Ddos(a) => {
            let vectors: Vec<&str> = a.vectors.iter().map(|v| v.as_str()).collect();
            let summary = match phase {
                Phase::Started => a.evidence.clone(),
                Phase::Updated => format!(
                    "peak {} pps, {}; vectors {}",
                    pps(a.peak_pps),
                    bps(a.peak_bps),
                    vectors.join(", ")
                ),
                Phase::Ended => format!(
                    "ended; peak was {} pps, {}",
                    pps(a.peak_pps),
                    bps(a.peak_bps)
                ),
            };
            (
                summary,
                json!({"peak_pps": a.peak_pps, "peak_bps": a.peak_bps, "vectors": vectors,
                       "confidence": a.confidence}),
            )
        }
        Detection::Scan(s) => {
            let summary = match phase {
                Phase::Started => s.evidence.clone(),
                Phase::Updated => format!("{} ports, {} hosts probed", s.ports, s.hosts),
                Phase::Ended => format!("ended; {} probes in all", s.probes),
            };
            (
                summary,
                json!({"ports": s.ports, "hosts": s.hosts, "probes": s.probes}),
            )
        }
        d => (d.evidence().to_string(), json!({})),
    };
    TimelineEntry {
        at,
        event: event.into(),
        summary,
        detail,
    }
}

impl Recorder {
    /// Loads the detections left active by the previous run. They are ended if not found
    /// again within `grace`.
    pub async fn new(
        store: Arc<dyn Store>,
        shared: Arc<Shared>,
        grace: Duration,
        respond: tokio::sync::mpsc::Sender<crate::responder::Input>,
        notifier: Arc<Notifier>,
    ) -> Self {
        let mut restored = HashMap::new();
        let active = blocking(&store, |s| {
            s.detections(&DetectionQuery {
                state: Some(DetectionState::Active),
                limit: 10_000,
                ..Default::default()
            })
        })
        .await;
        match active {
            Ok(list) => {
                let now = crate::clock::now();
                for d in list {
                    let Some(key) = key_of_stored(&d) else {
                        continue;
                    };
                    let id = d.id;
                    restored.insert(
                        key,
                        Open {
                            id,
                            carry: Some(Carry::of(&d)),
                        },
                    );
                    let e = TimelineEntry {
                        at: now,
                        event: "restored".into(),
                        summary: "rampart restarted; the attack stays open until it is seen \
                                  again or the hysteresis time passes"
                            .into(),
                        detail: json!({}),
                    };
                    if let Err(err) = blocking(&store, move |s| s.add_timeline(id, &e)).await {
                        tracing::warn!(id, error = %err, "noting a restored detection");
                    }
                }
                if !restored.is_empty() {
                    tracing::info!(
                        detections = restored.len(),
                        "restored active detections from the store"
                    );
                }
            }
            Err(e) => tracing::warn!(error = %e, "reading active detections"),
        }
        Recorder {
            store,
            shared,
            open: HashMap::new(),
            restored,
            restore_deadline: tokio::time::Instant::now() + grace,
            respond,
            notifier,
            told: HashMap::new(),
        }
    }

    pub async fn run(mut self, mut events: Receiver<EngineEvent>) {
        loop {
            let deadline = self.restore_deadline;
            let pending_restore = !self.restored.is_empty();
            tokio::select! {
                e = events.recv() => match e {
                    Some(e) => self.handle(e).await,
                    None => break,
                },
                () = tokio::time::sleep_until(deadline), if pending_restore => {
                    self.end_restored().await;
                }
            }
        }
    }

    async fn handle(&mut self, e: EngineEvent) {
        match e {
            EngineEvent::Attack(a, mix) => {
                self.detection("ddos", a.id, a.phase, Detection::Ddos(a.detection), mix)
                    .await
            }
            EngineEvent::Scan(s) => {
                self.detection("scan", s.id, s.phase, Detection::Scan(s.detection), None)
                    .await
            }
            EngineEvent::Finding(f) => {
                let e = f.event;
                self.detection(f.detector, e.id, e.phase, e.detection, None)
                    .await
            }
            EngineEvent::Traffic(rows) => {
                if let Err(e) = blocking(&self.store, move |s| s.add_traffic(&rows)).await {
                    self.store_error("saving traffic", &e);
                }
            }
        }
    }

    async fn detection(
        &mut self,
        kind: &'static str,
        det_id: u64,
        phase: Phase,
        mut d: Detection,
        mix: Option<rampart_respond::TrafficMix>,
    ) {
        let now = crate::clock::now();
        let known = self.open.get(&(kind, det_id)).copied();
        let mut resumed = false;
        let open = match (known, phase) {
            (Some(o), _) => Some(o),
            (None, Phase::Started) => {
                let r = self.restored.remove(&key_of(&d));
                resumed = r.is_some();
                r
            }
            // An update or end of a detection we never saw start (the engine dropped it):
            // keep it as a new one rather than lose it.
            (None, _) => None,
        };
        if let Some(carry) = open.and_then(|o| o.carry) {
            carry.apply(&mut d);
        }
        let mut e = entry(phase, &d, now);
        if resumed {
            e.event = "resumed".into();
            e.summary = format!("seen again after the restart: {}", e.summary);
        }
        let id = open.map(|o| o.id);
        let state = if phase == Phase::Ended {
            DetectionState::Ended
        } else {
            DetectionState::Active
        };
        // Saved and read back in one call, so that the console sees what is kept.
        let saved = d.clone();
        let result = blocking(&self.store, move |s| {
            let id = s.save_detection(&DetectionUpdate {
                id,
                detection: &saved,
                state,
                entry: e,
            })?;
            s.detection(id)
        })
        .await;
        match result {
            Ok(Some(stored)) => {
                if phase == Phase::Ended {
                    self.open.remove(&(kind, det_id));
                } else {
                    let carry = open.and_then(|o| o.carry);
                    self.open.insert(
                        (kind, det_id),
                        Open {
                            id: stored.id,
                            carry,
                        },
                    );
                }
                let policy_phase = match phase {
                    // A resumed attack is already in the policy's hands from before.
                    Phase::Started => rampart_respond::Phase::Started,
                    Phase::Updated => rampart_respond::Phase::Updated,
                    Phase::Ended => rampart_respond::Phase::Ended,
                };
                let input = crate::responder::Input {
                    id: stored.id,
                    detection: d,
                    phase: policy_phase,
                    mix,
                };
                if self.respond.try_send(input).is_err() {
                    self.shared.dropped_events.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(
                        id = stored.id,
                        "the responder is behind: detection not judged"
                    );
                }
                let json = detection_json(&stored);
                if phase != Phase::Updated {
                    if let Some(intel) = self.shared.intel() {
                        let body = stored.body.clone();
                        tokio::task::spawn_blocking(move || intel.publish_if_confident(&body));
                    }
                }
                self.tell(kind, phase, resumed, &stored, &json);
                let phase = match phase {
                    Phase::Started => "started",
                    Phase::Updated => "updated",
                    Phase::Ended => "ended",
                };
                let _ = self.shared.events.send(LiveEvent::Detection {
                    phase: phase.into(),
                    detection: json,
                });
            }
            Ok(None) => {}
            Err(err) => self.store_error("saving a detection", &err),
        }
    }

    /// Notifications for a detection's step: every start and end, and the updates that
    /// matter (a peak doubled since last told, or a new vector).
    fn tell(
        &mut self,
        kind: &str,
        phase: Phase,
        resumed: bool,
        stored: &StoredDetection,
        json: &serde_json::Value,
    ) {
        let ddos = kind == "ddos";
        let peak = stored.body["peak_pps"].as_u64().unwrap_or(0);
        let vectors = stored.body["vectors"].as_array().map_or(0, Vec::len);
        let event = match (phase, ddos) {
            (Phase::Started, true) if !resumed => Some(EventKind::AttackStarted),
            (Phase::Started, true) => Some(EventKind::AttackUpdated),
            (Phase::Started, false) if !resumed => Some(EventKind::DetectionStarted),
            (Phase::Updated, true) => {
                let (p, v) = self.told.get(&stored.id).copied().unwrap_or((0, 0));
                (peak >= p.saturating_mul(2) || vectors > v).then_some(EventKind::AttackUpdated)
            }
            (Phase::Ended, true) => Some(EventKind::AttackEnded),
            (Phase::Ended, false) => Some(EventKind::DetectionEnded),
            _ => None,
        };
        match phase {
            Phase::Ended => {
                self.told.remove(&stored.id);
            }
            _ if event.is_some() => {
                self.told.insert(stored.id, (peak, vectors));
            }
            _ => {}
        }
        if let Some(event) = event {
            let note = resumed.then_some("seen again after a restart of rampart");
            let mut n = Notification::new(
                event,
                crate::clock::now(),
                self.notifier.daemon_name(),
                Some(json.clone()),
                None,
                note,
            );
            if event == EventKind::DetectionStarted {
                let kind = stored.kind.as_str();
                n.severity = crate::findings::severity_of(kind).unwrap_or(n.severity);
            }
            self.notifier.notify(n);
        }
    }

    async fn end_restored(&mut self) {
        let now = crate::clock::now();
        let ids: Vec<u64> = self.restored.drain().map(|(_, o)| o.id).collect();
        for id in ids {
            let e = TimelineEntry {
                at: now,
                event: "ended".into(),
                summary: "not seen again after the restart".into(),
                detail: json!({}),
            };
            let r = blocking(&self.store, move |s| {
                let end = s.detection(id)?.map_or(now, |d| d.updated.min(now));
                s.end_detection(id, end, &e)?;
                s.detection(id)
            })
            .await;
            match r {
                Ok(Some(stored)) => {
                    let _ = self.shared.events.send(LiveEvent::Detection {
                        phase: "ended".into(),
                        detection: detection_json(&stored),
                    });
                }
                Ok(None) => {}
                Err(err) => self.store_error("ending a restored detection", &err),
            }
        }
    }

    fn store_error(&self, what: &str, e: &str) {
        self.shared.store_errors.fetch_add(1, Ordering::Relaxed);
        tracing::warn!(error = %e, "{what}");
    }
}
