//! `rampart analyze`: the detectors of the daemon run offline over captures and access logs,
//! in their own time, reporting attacks, scans, login abuse, exfiltration and HTTP floods as
//! tables a person reads at a glance or as JSON.

use crate::input::{self, AnyInput, Input};
use crate::progress::Progress;
use anyhow::{Context, Result};
use rampart_config::Config;
use rampart_detect::{
    AuthDetector, DdosDetector, DetectionEvent, ExfilDetector, HttpFloodDetector, ScanDetector,
};
use rampart_flow::{CaptureDecoder, FlowDecoder, FlowFormat, FlowRecord, RecordSink, Timestamp};
use rampart_geo::Geo;
use rampart_intel::detector::IocDetector;
use rampart_intel::feeds::Intel;
use rampart_intel::matcher::SharedIndicators;
use rampart_intel::store::SqliteIntelStore;
use rampart_logs::{Format, LogEvent, LogReader, TimeContext};
use rampart_model::{DdosDetection, Detection, Direction, ScanDetection};
use serde::Serialize;
use std::collections::BTreeMap;
use std::io::{self, Read, Write};
use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;
use std::sync::Arc;

/// Per-packet errors logged individually per file before only the total is reported.
const LOGGED_ERRORS: u64 = 10;

/// How far a flow record's end may lie after the capture time of the datagram that carried
/// it (clock skew between exporter and capture) before the capture time is believed instead.
const MAX_EXPORTER_AHEAD_NS: u64 = 5_000_000_000;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum AnalyzeFormat {
    /// Tables of attacks and scans.
    Text,
    /// One JSON document as in INTERFACES.md.
    Json,
    /// One STIX 2.1 bundle of what the run found and `[intel.share]` lets out.
    Stix,
}

/// What one input file held, as `inputs[]` of the JSON.
#[derive(Clone, Debug, Serialize)]
pub struct InputSummary {
    pub file: String,
    /// `packets` (raw packets), `flows` (flow exports) or `log` (a text log).
    pub kind: &'static str,
    /// Records, or for a log the events it gave (auth, HTTP, netfilter packets).
    pub records: u64,
    /// Undecodable packets, or for a log its bad lines (too long, not UTF-8, unreadable).
    pub errors: u64,
    /// A log's lines and format.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lines: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub format: Option<&'static str>,
}

/// The whole report of one run.
#[derive(Debug, Serialize)]
pub struct Report {
    pub inputs: Vec<InputSummary>,
    pub detections: Vec<Detection>,
}

/// The detectors, fed records by the decoders and driven by the capture's clock.
struct Pipeline {
    ddos: DdosDetector,
    /// Driven by the same ticks; it skips every record that is no probe or answer at the
    /// cost of a few comparisons.
    scan: ScanDetector,
    tick_ns: u64,
    /// Gaps in a capture longer than this are skipped after enough ticks for attacks to end.
    max_gap_ticks: u64,
    next_tick: Option<u64>,
    last_seen: Option<Timestamp>,
    /// Capture time of the packet being decoded; `u64::MAX` when there is none.
    captured_ns: u64,
    /// Latest known state of every attack, by id.
    attacks: BTreeMap<u64, DdosDetection>,
    /// Latest known state of every scan, by id.
    scans: BTreeMap<u64, ScanDetection>,
    /// Login abuse, exfiltration and HTTP floods, driven by the same ticks.
    auth: AuthDetector,
    exfil: ExfilDetector,
    http: HttpFloodDetector,
    /// Every flow and log event against the indicators of the `[intel]` feeds read from
    /// files; `None` when no feed has a `path`.
    ioc: Option<IocDetector>,
    /// GeoIP for auth events' sources, when `[geo]` names databases.
    geo: Option<Geo>,
    /// Latest known state of each of their detections, by (detector, id).
    access: BTreeMap<(u8, u64), Detection>,
    records: u64,
}

const AUTH: u8 = 0;
const EXFIL: u8 = 1;
const HTTP: u8 = 2;
const IOC: u8 = 3;

/// The indicators of the feeds in `[intel]` that are local files (lists, CSV, STIX
/// bundles, MISP feed directories), loaded into matchers; `None` when there are none.
/// Feeds given by URL are not fetched: an analysis reads only its own inputs.
fn load_indicators(config: &Config) -> Result<Option<Arc<SharedIndicators>>> {
    let files: Vec<_> = config
        .intel
        .feeds
        .iter()
        .filter(|f| f.path.is_some())
        .collect();
    for f in config.intel.feeds.iter().filter(|f| f.path.is_none()) {
        tracing::info!(feed = %f.name, "intel feed by URL: not read by analyze");
    }
    if files.is_empty() {
        return Ok(None);
    }
    let store = Arc::new(SqliteIntelStore::in_memory().context("an in-memory indicator store")?);
    let intel = Intel::new(config.intel.clone(), store);
    let now = wall_clock();
    for f in files {
        let r = intel
            .refresh(&f.name, now)
            .with_context(|| format!("reading the indicators of feed `{}`", f.name))?;
        if r.errors > 0 {
            tracing::warn!(feed = %f.name, errors = r.errors, first = ?r.first_errors, "bad entries skipped");
        }
        tracing::debug!(feed = %f.name, read = r.read, "indicators loaded");
    }
    Ok(Some(intel.indicators()))
}

fn wall_clock() -> Timestamp {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    Timestamp::from_nanos(u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

/// netfilter logs a TCP packet's flags only when the rule logs the TCP header's options
/// part (the words after RES=); ufw's and many hand-written rules' lines stop at the ports.
/// Such a line is a packet the firewall logged, almost always a dropped connection attempt:
/// it is counted as a SYN, so that the scan detector (which needs flags to tell probes
/// from traffic) sees it. Records with flags are left as they are.
fn netfilter_probe(r: &mut FlowRecord) {
    if r.format == FlowFormat::Packet && r.ip_protocol == 6 && r.tcp_flags.is_none() {
        r.tcp_flags = Some(0x02);
    }
}

impl RecordSink for Pipeline {
    /// Raw packets run the clock by their capture time. Flow records run it by their own
    /// end time: a capture of exports may be made long after the traffic (a router's
    /// backlog, `softflowd -r`), and the exporter's clock is the traffic's. A record ending
    /// after its datagram was captured is believed only within a few seconds of skew.
    #[inline]
    fn record(&mut self, r: &FlowRecord) {
        self.records += 1;
        let t = match r.format {
            FlowFormat::Packet => r.end.as_nanos(),
            _ => r
                .end
                .as_nanos()
                .min(self.captured_ns.saturating_add(MAX_EXPORTER_AHEAD_NS)),
        };
        self.advance(Timestamp::from_nanos(t));
        self.ddos.observe(r);
        self.scan.observe(r);
        self.exfil.observe(r);
        if let Some(ioc) = &mut self.ioc {
            ioc.observe_flow(r);
        }
    }
}

impl Pipeline {
    fn new(config: &Config) -> Result<Self> {
        let ddos = config.detect.ddos.clone();
        let tick_ms = ddos.tick_ms.max(1);
        let geo = if config.geo.city.is_some() || config.geo.asn.is_some() {
            let geo = Geo::open(&config.geo)?;
            tracing::debug!(databases = ?geo.describe(), "GeoIP");
            Some(geo)
        } else {
            None
        };
        Ok(Pipeline {
            tick_ns: tick_ms * 1_000_000,
            max_gap_ticks: (ddos.end_after_s + 2) * 1000 / tick_ms,
            ddos: DdosDetector::new(ddos),
            scan: ScanDetector::new(config.detect.scan.clone()),
            next_tick: None,
            last_seen: None,
            captured_ns: u64::MAX,
            attacks: BTreeMap::new(),
            scans: BTreeMap::new(),
            auth: AuthDetector::new(config.detect.auth.clone()),
            exfil: ExfilDetector::new(config.detect.exfil.clone()),
            http: HttpFloodDetector::new(config.detect.http.clone()),
            ioc: load_indicators(config)?
                .filter(|_| config.detect.ioc.enabled)
                .map(|ind| {
                    IocDetector::new(config.detect.ioc.clone(), ind, config.protect.clone())
                }),
            geo,
            access: BTreeMap::new(),
            records: 0,
        })
    }

    /// One event of a log, in the log's time.
    fn log_event(&mut self, e: LogEvent) {
        match e {
            LogEvent::Auth(a) => {
                self.advance(a.time);
                let geo = match (&mut self.geo, a.source) {
                    (Some(g), Some(src)) => g.lookup(src),
                    _ => None,
                };
                self.auth.observe(&a, geo.as_ref());
                if let Some(ioc) = &mut self.ioc {
                    ioc.observe_auth(&a);
                }
            }
            LogEvent::Http(h) => {
                self.advance(h.time);
                self.http.observe(&h);
                if let Some(ioc) = &mut self.ioc {
                    ioc.observe_http(&h);
                }
            }
            LogEvent::Flow(mut r) => {
                netfilter_probe(&mut r);
                self.captured_ns = u64::MAX;
                self.record(&r);
                // Counted as an event of the log, not as a record of a capture.
                self.records -= 1;
            }
        }
    }

    fn take_access(&mut self) {
        fn keep(map: &mut BTreeMap<(u8, u64), Detection>, which: u8, e: DetectionEvent) {
            map.insert((which, e.id), e.detection);
        }
        while let Some(e) = self.auth.poll_event() {
            keep(&mut self.access, AUTH, e);
        }
        while let Some(e) = self.exfil.poll_event() {
            keep(&mut self.access, EXFIL, e);
        }
        while let Some(e) = self.http.poll_event() {
            keep(&mut self.access, HTTP, e);
        }
        while let Some(e) = self.ioc.as_mut().and_then(IocDetector::poll_event) {
            keep(&mut self.access, IOC, e);
        }
    }

    /// Runs every tick due by `now`, as the daemon's timer would have, before anything
    /// captured at `now` is counted.
    #[inline]
    fn advance(&mut self, now: Timestamp) {
        self.last_seen = Some(self.last_seen.map_or(now, |l| l.max(now)));
        // Nearly every record: no tick is due.
        if self.next_tick.is_none_or(|next| next <= now.as_nanos()) {
            self.tick_until(now);
        }
    }

    #[inline(never)]
    fn tick_until(&mut self, now: Timestamp) {
        let t = now.as_nanos();
        let tick_ns = self.tick_ns;
        let mut next = *self
            .next_tick
            .get_or_insert_with(|| (t / tick_ns + 1) * tick_ns);
        let mut ticks = 0;
        while next <= t {
            if ticks == self.max_gap_ticks {
                // A quiet stretch: every attack has had time to end; skip to the present.
                next = t / self.tick_ns * self.tick_ns;
            }
            let at = Timestamp::from_nanos(next);
            self.ddos.tick(at);
            self.scan.tick(at);
            self.auth.tick(at);
            self.exfil.tick(at);
            self.http.tick(at);
            if let Some(ioc) = &mut self.ioc {
                ioc.tick(at);
            }
            next += self.tick_ns;
            self.next_tick = Some(next);
            ticks += 1;
            while let Some(e) = self.ddos.poll_event() {
                self.attacks.insert(e.id, e.detection);
            }
            while let Some(e) = self.scan.poll_event() {
                self.scans.insert(e.id, e.detection);
            }
            self.take_access();
        }
    }

    /// Evaluates the last partial tick and takes the final state of every attack; those
    /// still open when the input ends keep `end: null`.
    fn finish(mut self) -> Vec<Detection> {
        if let Some(last) = self.last_seen {
            // The tick closing the last slot, and one more for an attack found at that tick
            // to learn its vector.
            let boundary = (last.as_nanos() / self.tick_ns + 2) * self.tick_ns;
            self.advance(Timestamp::from_nanos(boundary));
        }
        for (id, d) in self.ddos.active() {
            self.attacks.insert(id, d);
        }
        self.scan.flush_pending();
        while let Some(e) = self.scan.poll_event() {
            self.scans.insert(e.id, e.detection);
        }
        for (id, d) in self.scan.active() {
            self.scans.insert(id, d);
        }
        self.take_access();
        for (which, active) in [
            (AUTH, self.auth.active()),
            (EXFIL, self.exfil.active()),
            (HTTP, self.http.active()),
            (
                IOC,
                self.ioc
                    .as_ref()
                    .map(IocDetector::active)
                    .unwrap_or_default(),
            ),
        ] {
            for (id, d) in active {
                self.access.insert((which, id), d);
            }
        }
        let mut access: Vec<Detection> = self.access.into_values().collect();
        access.sort_by(|a, b| {
            (a.start(), a.kind(), a.source()).cmp(&(b.start(), b.kind(), b.source()))
        });
        let mut attacks: Vec<DdosDetection> = self.attacks.into_values().collect();
        attacks.sort_by(|a, b| a.start.cmp(&b.start).then(a.target.cmp(&b.target)));
        let mut scans: Vec<ScanDetection> = self.scans.into_values().collect();
        scans.sort_by(|a, b| {
            (a.start, a.source, a.target, a.scan_type).cmp(&(
                b.start,
                b.source,
                b.target,
                b.scan_type,
            ))
        });
        let attacks = attacks.into_iter().map(Detection::Ddos);
        attacks
            .chain(scans.into_iter().map(Detection::Scan))
            .chain(access)
            .collect()
    }
}

pub fn run(
    files: &[std::path::PathBuf],
    config: &Config,
    format: AnalyzeFormat,
    log_format: Option<Format>,
) -> Result<()> {
    let mut pipeline = Pipeline::new(config)?;
    let mut inputs = Vec::with_capacity(files.len());
    for file in files {
        inputs.push(analyze_file(file, &mut pipeline, log_format)?);
    }
    let stats = pipeline.auth.stats();
    tracing::debug!(?stats, "auth detector state");
    let stats = pipeline.ddos.stats();
    tracing::debug!(?stats, "detector state");
    let stats = pipeline.scan.stats();
    tracing::debug!(?stats, "scan detector state");
    let report = Report {
        inputs,
        detections: pipeline.finish(),
    };
    let mut out = io::stdout().lock();
    let written = match format {
        AnalyzeFormat::Json => serde_json::to_writer_pretty(&mut out, &report)
            .map_err(io::Error::from)
            .and_then(|()| writeln!(out)),
        AnalyzeFormat::Text => out.write_all(text(&report).as_bytes()),
        AnalyzeFormat::Stix => {
            let export = rampart_intel::export::export_detections(
                &report.detections,
                &config.protect,
                &config.intel.share,
                wall_clock(),
            );
            for (addr, why) in &export.withheld {
                tracing::info!(%addr, reason = ?why, "withheld from the STIX bundle");
            }
            writeln!(out, "{}", export.to_json_pretty())
        }
    };
    match written.and_then(|()| out.flush()) {
        Err(e) if e.kind() != io::ErrorKind::BrokenPipe => Err(e).context("writing the report"),
        _ => Ok(()),
    }
}

fn analyze_file(
    path: &Path,
    pipeline: &mut Pipeline,
    log_format: Option<Format>,
) -> Result<InputSummary> {
    let name = path.display().to_string();
    let before = pipeline.records;
    let input = match input::open_any(path, log_format)? {
        AnyInput::Log(log) => return analyze_log(path, log, pipeline),
        AnyInput::Flows(input) => input,
    };
    match input {
        Input::Datagram(bytes) => {
            // A lone datagram has no capture time: its own export time is the clock.
            let mut decoder = FlowDecoder::default();
            let mut records = Vec::new();
            let mut collect = |r: &FlowRecord| records.push(r.clone());
            let exporter = IpAddr::V4(Ipv4Addr::UNSPECIFIED);
            decoder
                .decode(&bytes, exporter, Timestamp::EPOCH, &mut collect)
                .with_context(|| format!("{name}: datagram"))?;
            pipeline.captured_ns = u64::MAX;
            for r in &records {
                pipeline.record(r);
            }
            Ok(InputSummary {
                file: name,
                kind: "flows",
                records: pipeline.records - before,
                errors: 0,
                lines: None,
                format: None,
            })
        }
        Input::Capture(mut reader) => {
            let size = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
            let mut progress = Progress::new(&name, size);
            let mut decoder = CaptureDecoder::default();
            let mut index = 0u64;
            let mut cut = 0u64;
            loop {
                let packet = match reader.next_packet() {
                    Ok(Some(p)) => p,
                    Ok(None) => break,
                    Err(e) => {
                        // A capture cut short (a full disk, a killed tcpdump) still has its
                        // first part to tell: analyse that, and say where it stopped.
                        tracing::warn!(file = %name, after_packet = index, error = %e,
                            "capture ends early; the rest is not analysed");
                        cut = 1;
                        break;
                    }
                };
                index += 1;
                pipeline.captured_ns = packet.timestamp.as_nanos();
                if let Err(e) = decoder.packet(&packet, pipeline) {
                    if decoder.stats().errors <= LOGGED_ERRORS {
                        tracing::warn!(file = %name, packet = index, error = %e, "undecodable packet");
                    }
                }
                if index.is_multiple_of(65_536) {
                    progress.update(reader.get_ref().bytes());
                }
            }
            progress.finish();
            let s = decoder.stats();
            let f = decoder.flow_decoder().stats();
            tracing::debug!(
                file = %name,
                packets = s.packets,
                packet_records = s.packet_records,
                flow_datagrams = s.flow_datagrams,
                flow_records = f.records,
                non_ip = s.non_ip,
                errors = s.errors,
                template_misses = f.template_misses,
                "analyzed"
            );
            Ok(InputSummary {
                file: name,
                kind: if s.flow_datagrams > 0 && s.flow_datagrams * 2 >= s.packet_records {
                    "flows"
                } else {
                    "packets"
                },
                records: pipeline.records - before,
                errors: s.errors + cut,
                lines: None,
                format: None,
            })
        }
    }
}

/// Reads a text log in chunks; its events go through the same detectors in its own time.
fn analyze_log(path: &Path, mut log: input::Log, pipeline: &mut Pipeline) -> Result<InputSummary> {
    let name = path.display().to_string();
    let size = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    let mut progress = Progress::new(&name, size);
    let mut reader = LogReader::new(log.format, TimeContext::new(log.reference, 0));
    let mut buf = vec![0u8; 1 << 16];
    let mut events = 0u64;
    let mut chunks = 0u64;
    loop {
        let n = match log.file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e).with_context(|| format!("{name}: cannot read")),
        };
        reader.push(&buf[..n]);
        while let Some(e) = reader.poll_event() {
            events += 1;
            pipeline.log_event(e);
        }
        chunks += 1;
        if chunks.is_multiple_of(64) {
            progress.update(input::Counted::bytes(&log.file));
        }
    }
    reader.finish();
    while let Some(e) = reader.poll_event() {
        events += 1;
        pipeline.log_event(e);
    }
    progress.finish();
    let s = reader.stats();
    tracing::debug!(file = %name, format = log.format.as_str(), stats = ?s, "analyzed");
    Ok(InputSummary {
        file: name,
        kind: "log",
        records: events,
        errors: s.errors(),
        lines: Some(s.lines),
        format: Some(log.format.as_str()),
    })
}

/// The report as tables: inputs, then attacks, then scans.
pub fn text(report: &Report) -> String {
    let mut s = String::new();
    for i in report.inputs.iter().filter(|i| i.kind == "log") {
        s.push_str(&format!(
            "{}: {} log events from {} lines ({}){}\n",
            i.file,
            i.records,
            i.lines.unwrap_or(0),
            i.format.unwrap_or("log"),
            if i.errors > 0 {
                format!(", {} bad lines", i.errors)
            } else {
                String::new()
            }
        ));
    }
    for i in report.inputs.iter().filter(|i| i.kind != "log") {
        s.push_str(&format!(
            "{}: {} {}{}\n",
            i.file,
            i.records,
            if i.kind == "flows" {
                "flow records"
            } else {
                "packets"
            },
            if i.errors > 0 {
                format!(", {} undecodable packets", i.errors)
            } else {
                String::new()
            }
        ));
    }
    let (mut attacks, mut scans): (Vec<&DdosDetection>, Vec<&ScanDetection>) = (vec![], vec![]);
    let (mut logins, mut exfil, mut http, mut iocs) = (vec![], vec![], vec![], vec![]);
    for d in &report.detections {
        match d {
            Detection::Ddos(a) => attacks.push(a),
            Detection::Scan(x) => scans.push(x),
            Detection::Exfiltration(x) => exfil.push(x),
            Detection::HttpFlood(h) => http.push(h),
            Detection::IocMatch(m) => iocs.push(m),
            d => logins.push(d),
        }
    }
    s.push('\n');
    let only_logs = !report.inputs.is_empty() && report.inputs.iter().all(|i| i.kind == "log");
    if !(only_logs && attacks.is_empty()) {
        attack_table(&mut s, &attacks);
    }
    if !scans.is_empty() {
        s.push('\n');
        scan_table(&mut s, &scans);
    }
    if only_logs || !logins.is_empty() {
        if !(only_logs && attacks.is_empty()) {
            s.push('\n');
        }
        login_table(&mut s, &logins);
    }
    if !exfil.is_empty() {
        s.push('\n');
        exfil_table(&mut s, &exfil);
    }
    if !http.is_empty() {
        s.push('\n');
        http_table(&mut s, &http);
    }
    if !iocs.is_empty() {
        s.push('\n');
        ioc_table(&mut s, &iocs);
    }
    s
}

fn ioc_table(s: &mut String, found: &[&rampart_model::IocMatchDetection]) {
    s.push_str(&format!("{} indicator match(es):\n", found.len()));
    let header = [
        "FIRST", "LAST", "VALUE", "WHERE", "HOST", "FEED", "TLP", "MATCHES", "PATTERN",
    ];
    let rows: Vec<[String; 9]> = found
        .iter()
        .map(|m| {
            [
                m.first_seen.to_string(),
                m.last_seen.to_string(),
                m.value.clone(),
                m.matched_in.as_str().to_string(),
                m.internal_host.map_or("-".to_string(), |h| h.to_string()),
                m.feed.clone(),
                m.tlp.clone(),
                m.matches.to_string(),
                m.pattern.clone(),
            ]
        })
        .collect();
    table(s, &header, &rows);
}

/// Login abuse and login anomalies: what, who, as whom, how much.
fn login_table(s: &mut String, found: &[&Detection]) {
    if found.is_empty() {
        s.push_str("No login abuse found.\n");
        return;
    }
    s.push_str(&format!("{} login abuse detection(s):\n", found.len()));
    let header = [
        "START", "DURATION", "KIND", "SOURCE", "USER", "SERVICE", "TARGET", "FAILED", "USERS",
        "CONF", "EVIDENCE",
    ];
    let rows: Vec<[String; 11]> = found
        .iter()
        .map(|d| {
            let (user, service, target, failed, users, conf) = match (d.as_auth(), d.as_login()) {
                (Some(a), _) => (
                    a.user.clone(),
                    a.service.as_str(),
                    a.target.clone(),
                    a.failures.to_string(),
                    a.users.to_string(),
                    a.confidence,
                ),
                (None, Some(l)) => (
                    Some(l.user.clone()),
                    l.service.as_str(),
                    l.target.clone(),
                    "-".to_string(),
                    "-".to_string(),
                    l.confidence,
                ),
                (None, None) => (None, "-", None, "-".into(), "-".into(), 0.0),
            };
            let duration = match (d.as_auth(), d.end()) {
                (Some(a), end) => {
                    let ms = a
                        .last_seen
                        .as_millis()
                        .saturating_sub(a.first_seen.as_millis());
                    let mut t = format!("{:.0} s", ms as f64 / 1000.0);
                    if end.is_none() {
                        t.push_str(" ongoing");
                    }
                    t
                }
                _ => "-".to_string(),
            };
            [
                d.start().to_string(),
                duration,
                d.kind().to_string(),
                d.source().map_or("many".to_string(), |a| a.to_string()),
                user.unwrap_or_else(|| "-".into()),
                service.to_string(),
                target.unwrap_or_else(|| "-".into()),
                failed,
                users,
                format!("{conf:.2}"),
                d.evidence().to_string(),
            ]
        })
        .collect();
    table(s, &header, &rows);
}

fn exfil_table(s: &mut String, found: &[&rampart_model::ExfilDetection]) {
    s.push_str(&format!("{} exfiltration(s):\n", found.len()));
    let header = [
        "START", "END", "HOST", "TO", "REASON", "BYTES", "USUAL", "CONF",
    ];
    let rows: Vec<[String; 8]> = found
        .iter()
        .map(|x| {
            [
                x.start.to_string(),
                x.end.map_or("ongoing".to_string(), |e| e.to_string()),
                x.source.to_string(),
                x.target.to_string(),
                x.reason.as_str().to_string(),
                human(x.bytes as f64, "B"),
                human(x.baseline_bytes as f64, "B"),
                format!("{:.2}", x.confidence),
            ]
        })
        .collect();
    table(s, &header, &rows);
}

fn http_table(s: &mut String, found: &[&rampart_model::HttpFloodDetection]) {
    s.push_str(&format!("{} HTTP flood(s):\n", found.len()));
    let header = [
        "START", "END", "CLIENT", "VHOST", "REQUESTS", "PEAK", "CONF", "PATH",
    ];
    let rows: Vec<[String; 8]> = found
        .iter()
        .map(|h| {
            [
                h.start.to_string(),
                h.end.map_or("ongoing".to_string(), |e| e.to_string()),
                h.source.to_string(),
                h.target.clone().unwrap_or_else(|| "-".into()),
                h.requests.to_string(),
                format!("{:.0}/s", h.peak_rps),
                format!("{:.2}", h.confidence),
                h.top_path.clone().unwrap_or_else(|| "-".into()),
            ]
        })
        .collect();
    table(s, &header, &rows);
}

fn attack_table(s: &mut String, attacks: &[&DdosDetection]) {
    if attacks.is_empty() {
        s.push_str("No attacks found.\n");
        return;
    }
    s.push_str(&format!("{} attack(s):\n", attacks.len()));
    let header = [
        "START", "END", "TARGET", "DIR", "VECTOR", "PEAK", "", "CONF", "SOURCES",
    ];
    let rows: Vec<[String; 9]> = attacks
        .iter()
        .map(|a| {
            let mut vector = a.vector.to_string();
            if a.vectors.len() > 1 {
                vector.push_str(&format!(" +{}", a.vectors.len() - 1));
            }
            let sources = match a.direction {
                Direction::Inbound => &a.top_sources,
                Direction::Outbound => &a.top_destinations,
            };
            let mut who: String = sources
                .iter()
                .take(2)
                .map(|t| format!("{} {:.0}%", t.addr, t.share * 100.0))
                .collect::<Vec<_>>()
                .join(", ");
            if a.spoofed_sources {
                who = "spoofed".to_string();
            } else if who.is_empty() {
                who = "many".to_string();
            }
            [
                a.start.to_string(),
                a.end.map_or("ongoing".to_string(), |e| e.to_string()),
                a.target.to_string(),
                match a.direction {
                    Direction::Inbound => "in".to_string(),
                    Direction::Outbound => "out".to_string(),
                },
                vector,
                human(a.peak_pps as f64, "pps"),
                human(a.peak_bps as f64, "bit/s"),
                format!("{:.2}", a.confidence),
                who,
            ]
        })
        .collect();
    table(s, &header, &rows);
}

/// Scans: who, what, how wide, when and for how long.
fn scan_table(s: &mut String, scans: &[&ScanDetection]) {
    s.push_str(&format!("{} scan(s):\n", scans.len()));
    let header = [
        "START",
        "DURATION",
        "SOURCE",
        "TARGET",
        "DIR",
        "TYPE",
        "PORTS",
        "HOSTS",
        "PROTO",
        "TOP PORTS",
    ];
    let rows: Vec<[String; 10]> = scans
        .iter()
        .map(|x| {
            // To the last probe; a scan not yet over when the input ends is marked so.
            let ms = x.last_seen.as_millis().saturating_sub(x.start.as_millis());
            let mut duration = format!("{:.1} s", ms as f64 / 1000.0);
            if x.end.is_none() {
                duration.push_str(" ongoing");
            }
            let top: Vec<String> = x
                .top_dst_ports
                .iter()
                .take(3)
                .map(|p| p.port.to_string())
                .collect();
            [
                x.start.to_string(),
                duration,
                x.source.to_string(),
                x.target.to_string(),
                match x.direction {
                    Direction::Inbound => "in".to_string(),
                    Direction::Outbound => "out".to_string(),
                },
                x.scan_type.as_str().to_string(),
                x.ports.to_string(),
                x.hosts.to_string(),
                x.protocol.as_str().to_string(),
                if top.is_empty() {
                    "-".to_string()
                } else {
                    top.join(",")
                },
            ]
        })
        .collect();
    table(s, &header, &rows);
}

/// Left-aligned columns two spaces apart; the last column is not padded.
fn table<const N: usize>(out: &mut String, header: &[&str; N], rows: &[[String; N]]) {
    let mut widths = header.map(str::len);
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.len());
        }
    }
    let mut line = |cells: Vec<&str>| {
        let mut l = String::new();
        for (i, (cell, w)) in cells.iter().zip(widths).enumerate() {
            if i + 1 == N {
                l.push_str(cell);
            } else {
                l.push_str(&format!("{cell:<w$}  "));
            }
        }
        out.push_str(l.trim_end());
        out.push('\n');
    };
    line(header.to_vec());
    for row in rows {
        line(row.iter().map(String::as_str).collect());
    }
}

/// 15300 → "15.3 k pps".
fn human(v: f64, unit: &str) -> String {
    let (v, prefix) = if v >= 1e9 {
        (v / 1e9, "G")
    } else if v >= 1e6 {
        (v / 1e6, "M")
    } else if v >= 1e3 {
        (v / 1e3, "k")
    } else {
        return format!("{v:.0} {unit}");
    };
    format!("{v:.1} {prefix}{unit}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_units() {
        assert_eq!(human(950.0, "pps"), "950 pps");
        assert_eq!(human(15_300.0, "pps"), "15.3 kpps");
        assert_eq!(human(2.5e9, "bit/s"), "2.5 Gbit/s");
    }
}
