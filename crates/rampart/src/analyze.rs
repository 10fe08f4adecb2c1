//! `rampart analyze`: the detectors of the daemon run offline over captures, in the captures'
//! own time, reporting attacks and scans as a table a person reads at a glance or as JSON.

use crate::input::{self, Input};
use crate::progress::Progress;
use anyhow::{Context, Result};
use rampart_config::Config;
use rampart_detect::{DdosDetector, ScanDetector};
use rampart_flow::{CaptureDecoder, FlowDecoder, FlowFormat, FlowRecord, RecordSink, Timestamp};
use rampart_model::{DdosDetection, Detection, Direction, ScanDetection};
use serde::Serialize;
use std::collections::BTreeMap;
use std::io::{self, Write};
use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;

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
}

/// What one input file held, as `inputs[]` of the JSON.
#[derive(Clone, Debug, Serialize)]
pub struct InputSummary {
    pub file: String,
    /// `packets` (raw packets) or `flows` (flow exports).
    pub kind: &'static str,
    pub records: u64,
    pub errors: u64,
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
    records: u64,
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
    }
}

impl Pipeline {
    fn new(config: &Config) -> Self {
        let ddos = config.detect.ddos.clone();
        let tick_ms = ddos.tick_ms.max(1);
        Pipeline {
            tick_ns: tick_ms * 1_000_000,
            max_gap_ticks: (ddos.end_after_s + 2) * 1000 / tick_ms,
            ddos: DdosDetector::new(ddos),
            scan: ScanDetector::new(config.detect.scan.clone()),
            next_tick: None,
            last_seen: None,
            captured_ns: u64::MAX,
            attacks: BTreeMap::new(),
            scans: BTreeMap::new(),
            records: 0,
        }
    }

    /// Runs every tick due by `now`, as the daemon's timer would have, before anything
    /// captured at `now` is counted.
    fn advance(&mut self, now: Timestamp) {
        let t = now.as_nanos();
        self.last_seen = Some(self.last_seen.map_or(now, |l| l.max(now)));
        let next = self
            .next_tick
            .get_or_insert((t / self.tick_ns + 1) * self.tick_ns);
        let mut ticks = 0;
        while *next <= t {
            if ticks == self.max_gap_ticks {
                // A quiet stretch: every attack has had time to end; skip to the present.
                *next = t / self.tick_ns * self.tick_ns;
            }
            self.ddos.tick(Timestamp::from_nanos(*next));
            self.scan.tick(Timestamp::from_nanos(*next));
            *next += self.tick_ns;
            ticks += 1;
            while let Some(e) = self.ddos.poll_event() {
                self.attacks.insert(e.id, e.detection);
            }
            while let Some(e) = self.scan.poll_event() {
                self.scans.insert(e.id, e.detection);
            }
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
            .collect()
    }
}

pub fn run(files: &[std::path::PathBuf], config: &Config, format: AnalyzeFormat) -> Result<()> {
    let mut pipeline = Pipeline::new(config);
    let mut inputs = Vec::with_capacity(files.len());
    for file in files {
        inputs.push(analyze_file(file, &mut pipeline)?);
    }
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
    };
    match written.and_then(|()| out.flush()) {
        Err(e) if e.kind() != io::ErrorKind::BrokenPipe => Err(e).context("writing the report"),
        _ => Ok(()),
    }
}

fn analyze_file(path: &Path, pipeline: &mut Pipeline) -> Result<InputSummary> {
    let name = path.display().to_string();
    let before = pipeline.records;
    match input::open(path)? {
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
            })
        }
    }
}

/// The report as tables: inputs, then attacks, then scans.
pub fn text(report: &Report) -> String {
    let mut s = String::new();
    for i in &report.inputs {
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
    for d in &report.detections {
        match d {
            Detection::Ddos(a) => attacks.push(a),
            Detection::Scan(x) => scans.push(x),
        }
    }
    s.push('\n');
    attack_table(&mut s, &attacks);
    if !scans.is_empty() {
        s.push('\n');
        scan_table(&mut s, &scans);
    }
    s
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
