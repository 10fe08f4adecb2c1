//! The detection engine: one thread owning the detectors (the same code `rampart analyze`
//! runs) and the traffic meter. It takes record batches from the collectors, ticks the
//! detectors on the wall clock, and hands what they find to the recorder.

use crate::shared::Shared;
use crate::traffic::TrafficMeter;
use rampart_config::Config;
use rampart_detect::{AttackEvent, DdosDetector, Phase, ScanDetector, ScanEvent};
use rampart_logs::LogEvent;
use rampart_model::{FlowRecord, Timestamp};
use rampart_respond::TrafficMix;
use rampart_store::TrafficSample;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc::{error::TrySendError, Sender};

/// What the engine hands to the recorder.
#[derive(Debug)]
pub enum EngineEvent {
    /// With the target's usual traffic mix when it starts, for the FlowSpec collateral guard.
    Attack(AttackEvent, Option<TrafficMix>),
    Scan(ScanEvent),
    Traffic(Vec<TrafficSample>),
    /// A detection from the detectors that share the `DetectionEvent` lifecycle (logins,
    /// exfiltration, HTTP floods, indicator matches); `detector` keeps their ids apart.
    Finding(Finding),
}

/// One step of one detection of a `DetectionEvent` detector, named by that detector
/// ("auth", "exfil", "http", "intel"): its ids are unique only within it.
#[derive(Debug)]
pub struct Finding {
    pub detector: &'static str,
    pub event: rampart_detect::DetectionEvent,
}

/// What the engine is fed: flow records and packets, or events from access logs.
#[derive(Debug)]
pub enum Input {
    Flows(Vec<FlowRecord>),
    Logs(Vec<LogEvent>),
}

/// Orders for the engine from the rest of the daemon.
#[derive(Debug)]
pub enum Control {
    /// Apply a reloaded configuration.
    Reconfigure(Box<Config>),
}

/// Never blocks the detectors: a full queue drops the event and counts it.
fn send(out: &Sender<EngineEvent>, shared: &Shared, e: EngineEvent) {
    match out.try_send(e) {
        Ok(()) => {}
        Err(TrySendError::Full(_)) | Err(TrySendError::Closed(_)) => {
            shared.dropped_events.fetch_add(1, Ordering::Relaxed);
        }
    }
}

pub struct Engine {
    ddos: DdosDetector,
    scan: ScanDetector,
    /// Every flow and log event against the indicators in force (`None` without intel).
    ioc: Option<rampart_intel::detector::IocDetector>,
    /// Login abuse, exfiltration and HTTP floods.
    findings: crate::findings::Detectors,
    meter: TrafficMeter,
    tick_ns: u64,
    next_tick: u64,
    shared: Arc<Shared>,
    out: Sender<EngineEvent>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("next_tick", &self.next_tick)
            .finish_non_exhaustive()
    }
}

impl Engine {
    pub fn new(config: &Config, shared: Arc<Shared>, out: Sender<EngineEvent>) -> Self {
        let now = crate::clock::now();
        let ddos = &config.detect.ddos;
        let tick_ns = ddos.tick_ms.clamp(100, 1000) * 1_000_000;
        Engine {
            meter: TrafficMeter::new(
                &config.protect,
                ddos.prefix_len_v4,
                ddos.prefix_len_v6,
                config.store.rollup_top_hosts,
                now,
            ),
            ddos: DdosDetector::new(ddos.clone()),
            scan: ScanDetector::new(config.detect.scan.clone()),
            ioc: shared.intel().map(|i| {
                rampart_intel::detector::IocDetector::new(
                    config.detect.ioc.clone(),
                    i.indicators(),
                    config.protect.clone(),
                )
            }),
            findings: crate::findings::Detectors::new(config),
            tick_ns,
            next_tick: (now.as_nanos() / tick_ns + 1) * tick_ns,
            shared,
            out,
        }
    }

    /// Runs until the collectors are gone (their senders dropped) or the daemon stops.
    pub fn run(mut self, records: Receiver<Input>, control: Receiver<Control>) {
        let mut last_stats = 0u64;
        loop {
            let now = crate::clock::now().as_nanos();
            let wait = Duration::from_nanos(self.next_tick.saturating_sub(now));
            match records.recv_timeout(wait) {
                Ok(batch) => self.observe(&batch),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => break,
            }
            // Take whatever else is queued before ticking, without waiting.
            while let Ok(batch) = records.try_recv() {
                self.observe(&batch);
                if crate::clock::now().as_nanos() >= self.next_tick {
                    break;
                }
            }
            let now = crate::clock::now();
            self.tick_until(now);
            if let Ok(Control::Reconfigure(config)) = control.try_recv() {
                self.reconfigure(&config);
            }
            if now.as_secs() > last_stats {
                last_stats = now.as_secs();
                self.shared
                    .set_detect_stats(self.ddos.stats(), self.scan.stats());
                if let (Some(ioc), Some(i)) = (&self.ioc, self.shared.intel()) {
                    i.set_ioc_stats(ioc.stats());
                }
                self.shared.set_finding_stats(self.findings.stats());
            }
            if self.shared.stopping.load(Ordering::Relaxed) {
                break;
            }
        }
        // Drain what the collectors handed on before they stopped.
        while let Ok(batch) = records.try_recv() {
            self.observe(&batch);
        }
        self.tick_until(crate::clock::now());
        let rows = self.meter.flush();
        if !rows.is_empty() {
            self.send(EngineEvent::Traffic(rows));
        }
    }

    fn observe(&mut self, input: &Input) {
        match input {
            Input::Flows(batch) => {
                self.observe_flows(batch);
                self.shared
                    .processed_records
                    .fetch_add(batch.len() as u64, Ordering::Relaxed);
            }
            Input::Logs(events) => {
                for e in events {
                    match e {
                        // Firewall log lines are packets, for the scan and flood detectors.
                        LogEvent::Flow(r) => self.observe_flows(std::slice::from_ref(r)),
                        LogEvent::Auth(a) => {
                            self.findings.observe_auth(a);
                            if let Some(ioc) = &mut self.ioc {
                                ioc.observe_auth(a);
                            }
                        }
                        LogEvent::Http(h) => {
                            self.findings.observe_http(h);
                            if let Some(ioc) = &mut self.ioc {
                                ioc.observe_http(h);
                            }
                        }
                    }
                }
                self.shared
                    .processed_log_events
                    .fetch_add(events.len() as u64, Ordering::Relaxed);
            }
        }
    }

    /// Flow records (a collector's batch, or a firewall log line's one) through every
    /// detector. The detectors keep separate state, so each takes the batch in its own pass;
    /// the scan detector fetches its table lines a few records ahead.
    fn observe_flows(&mut self, batch: &[FlowRecord]) {
        for r in batch {
            self.ddos.observe(r);
            self.findings.observe_flow(r);
            self.meter.observe(r);
        }
        self.scan.observe_batch(batch);
        if let Some(ioc) = &mut self.ioc {
            ioc.observe_flows(batch);
        }
    }

    fn tick_until(&mut self, now: Timestamp) {
        // After a long stall (the machine slept), skip ahead rather than replay every tick.
        let behind = now.as_nanos().saturating_sub(self.next_tick) / self.tick_ns;
        if behind > 600 {
            self.next_tick += (behind - 600) * self.tick_ns;
        }
        while self.next_tick <= now.as_nanos() {
            let t = Timestamp::from_nanos(self.next_tick);
            self.ddos.tick(t);
            self.scan.tick(t);
            self.next_tick += self.tick_ns;
            while let Some(e) = self.ddos.poll_event() {
                let target = e.detection.target;
                let mix = match e.phase {
                    Phase::Started => {
                        let mix = self.meter.mix_of(target);
                        self.meter.attack_started(target);
                        mix
                    }
                    Phase::Updated => None,
                    Phase::Ended => {
                        self.meter.attack_ended(target);
                        None
                    }
                };
                self.send(EngineEvent::Attack(e, mix));
            }
            while let Some(e) = self.scan.poll_event() {
                self.send(EngineEvent::Scan(e));
            }
            if let Some(ioc) = &mut self.ioc {
                ioc.tick(t);
            }
            while let Some(event) = self.ioc.as_mut().and_then(|i| i.poll_event()) {
                self.send(EngineEvent::Finding(Finding {
                    detector: "intel",
                    event,
                }));
            }
            let (out, shared) = (&self.out, &self.shared);
            self.findings
                .tick(t, |f| send(out, shared, EngineEvent::Finding(f)));
        }
        let closed = self.meter.advance(now);
        for s in closed.seconds {
            self.shared.push_live(s);
        }
        if !closed.rollup.is_empty() {
            self.send(EngineEvent::Traffic(closed.rollup));
        }
    }

    fn send(&self, e: EngineEvent) {
        send(&self.out, &self.shared, e);
    }

    /// A reloaded configuration: thresholds and the protected space apply at once, keeping
    /// counters, baselines and open attacks. Changes to what shapes the tables (sizes, seeds,
    /// prefix lengths, the tick) need a restart and are logged as ignored.
    fn reconfigure(&mut self, config: &Config) {
        let d = &config.detect.ddos;
        if let Err(keys) = self.ddos.reconfigure(d.clone()) {
            tracing::warn!(
                keys = %keys.join(", "),
                "detect.ddos: these settings need a restart; the others are applied"
            );
            let mut keep = d.clone();
            let old = self.ddos.config();
            keep.tick_ms = old.tick_ms;
            keep.hash_seed = old.hash_seed;
            keep.max_hosts = old.max_hosts;
            keep.max_prefixes = old.max_prefixes;
            keep.prefix_len_v4 = old.prefix_len_v4;
            keep.prefix_len_v6 = old.prefix_len_v6;
            keep.baseline.max_baselines = old.baseline.max_baselines;
            let _ = self.ddos.reconfigure(keep);
        }
        if let Err(keys) = self.scan.reconfigure(config.detect.scan.clone()) {
            tracing::warn!(
                keys = %keys.join(", "),
                "detect.scan: these settings need a restart; the others are applied"
            );
            let mut keep = config.detect.scan.clone();
            let old = self.scan.config();
            keep.window_s = old.window_s;
            keep.hash_seed = old.hash_seed;
            keep.max_sources = old.max_sources;
            keep.max_pairs = old.max_pairs;
            let _ = self.scan.reconfigure(keep);
        }
        if let Some(ioc) = &mut self.ioc {
            ioc.reconfigure(config.detect.ioc.clone(), config.protect.clone());
        }
        self.findings.reconfigure(config);
        let d = self.ddos.config();
        self.meter
            .set_protect(&config.protect, d.prefix_len_v4, d.prefix_len_v6);
    }
}
