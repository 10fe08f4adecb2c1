//! `rampart analyze`: the detectors of the daemon run offline over captures, in the captures'
//! own time, reporting attacks and scans as a table a person reads at a glance or as JSON.

use crate::config::Config;
use crate::input::{self, Input};
use crate::progress::Progress;
use anyhow::{Context, Result};
use rampart_detect::DdosDetector;
use rampart_flow::{CaptureDecoder, FlowDecoder, FlowFormat, FlowRecord, RecordSink, Timestamp};
use rampart_model::{DdosDetection, Detection, Direction};
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
    tick_ns: u64,
    /// Gaps in a capture longer than this are skipped after enough ticks for attacks to end.
    max_gap_ticks: u64,
    next_tick: Option<u64>,
    last_seen: Option<Timestamp>,
    /// Capture time of the packet being decoded; `u64::MAX` when there is none.
    captured_ns: u64,
    /// Latest known state of every attack, by id.
    attacks: BTreeMap<u64, DdosDetection>,
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
            next_tick: None,
            last_seen: None,
            captured_ns: u64::MAX,
            attacks: BTreeMap::new(),
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
            *next += self.tick_ns;
            ticks += 1;
            while let Some(e) = self.ddos.poll_event() {
                self.attacks.insert(e.id, e.detection);
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
        let mut attacks: Vec<DdosDetection> = self.attacks.into_values().collect();
        attacks.sort_by(|a, b| a.start.cmp(&b.start).then(a.target.cmp(&b.target)));
        attacks.into_iter().map(Detection::Ddos).collect()
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
                if index % 65_536 == 0 {
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
    let attacks: Vec<&DdosDetection> = report
        .detections
        .iter()
        .map(|d| match d {
            Detection::Ddos(a) => a,
        })
        .collect();
    s.push('\n');
    if attacks.is_empty() {
        s.push_str("No attacks found.\n");
        return s;
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
    table(&mut s, &header, &rows);
    s
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
