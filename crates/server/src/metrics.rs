//! Prometheus metrics (`/metrics`, text exposition format 0.0.4), names prefixed `rampart_`.
//! The same numbers appear in `/api/v1/status`; both are built from one list here.

use crate::shared::{Shared, OTHER_EXPORTER};
use rampart_detect::{DdosStats, ScanStats};
use std::fmt::Write;
use std::sync::atomic::Ordering;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Counter,
    Gauge,
}

/// One sample: name (without the prefix), help, kind, labels and value.
#[derive(Clone, Debug)]
pub struct Metric {
    pub name: &'static str,
    pub help: &'static str,
    pub kind: Kind,
    pub labels: Vec<(&'static str, String)>,
    pub value: f64,
}

/// A metric without labels.
pub(crate) fn metric(name: &'static str, help: &'static str, kind: Kind, value: u64) -> Metric {
    Metric {
        name,
        help,
        kind,
        labels: Vec::new(),
        value: value as f64,
    }
}

use Kind::{Counter, Gauge};

/// The pipeline's own counters.
pub fn pipeline(shared: &Shared) -> Vec<Metric> {
    let load = |a: &std::sync::atomic::AtomicU64| a.load(Ordering::Relaxed);
    vec![
        metric(
            "pipeline_queued_records_total",
            "Flow records handed from the collectors to the detection engine.",
            Counter,
            load(&shared.queued_records),
        ),
        metric(
            "pipeline_processed_records_total",
            "Flow records the detection engine has counted.",
            Counter,
            load(&shared.processed_records),
        ),
        metric(
            "pipeline_dropped_records_total",
            "Flow records dropped because the engine's queue was full.",
            Counter,
            load(&shared.dropped_records),
        ),
        metric(
            "refused_datagrams_total",
            "Datagrams from exporters outside listen.exporters.",
            Counter,
            load(&shared.refused_datagrams),
        ),
        metric(
            "dropped_events_total",
            "Detector events not recorded because the recorder was behind.",
            Counter,
            load(&shared.dropped_events),
        ),
        metric(
            "log_lines_total",
            "Log lines received (syslog and followed files).",
            Counter,
            load(&shared.log_stats.lines),
        ),
        metric(
            "log_lines_dropped_total",
            "Log lines dropped because the log parser was behind.",
            Counter,
            load(&shared.log_stats.lines_dropped),
        ),
        metric(
            "log_lines_skipped_total",
            "Log lines the parsers could not read or skipped (too long, junk).",
            Counter,
            load(&shared.log_stats.lines_skipped),
        ),
        metric(
            "log_events_total",
            "Events (logins, requests, firewall packets) parsed from logs.",
            Counter,
            load(&shared.log_stats.events),
        ),
        metric(
            "log_events_dropped_total",
            "Log events dropped because the engine's queue was full.",
            Counter,
            load(&shared.log_stats.events_dropped),
        ),
        metric(
            "store_errors_total",
            "Store operations that failed.",
            Counter,
            load(&shared.store_errors),
        ),
    ]
}

/// The detectors' state and drop counters.
pub fn detectors(d: &DdosStats, s: &ScanStats) -> Vec<Metric> {
    vec![
        metric(
            "ddos_records_total",
            "Records seen by the DDoS detector.",
            Counter,
            d.records,
        ),
        metric(
            "ddos_records_unprotected_total",
            "Records touching no protected address.",
            Counter,
            d.records_unprotected,
        ),
        metric(
            "ddos_records_too_late_total",
            "Records ending more than max_lateness_s before the clock.",
            Counter,
            d.records_too_late,
        ),
        metric(
            "ddos_hosts_tracked",
            "Protected addresses counted now.",
            Gauge,
            d.hosts_tracked as u64,
        ),
        metric(
            "ddos_prefixes_tracked",
            "Protected prefixes counted now.",
            Gauge,
            d.prefixes_tracked as u64,
        ),
        metric(
            "ddos_hosts_evicted_total",
            "Addresses evicted to make room.",
            Counter,
            d.hosts_evicted,
        ),
        metric(
            "ddos_prefixes_evicted_total",
            "Prefixes evicted to make room.",
            Counter,
            d.prefixes_evicted,
        ),
        metric(
            "ddos_tracking_refused_total",
            "New addresses not tracked because every candidate was pinned.",
            Counter,
            d.tracking_refused,
        ),
        metric(
            "ddos_watched",
            "Addresses and prefixes watched closely now.",
            Gauge,
            d.watched as u64,
        ),
        metric(
            "ddos_watch_refused_total",
            "Close watches wanted while all were in use.",
            Counter,
            d.watch_refused,
        ),
        metric(
            "ddos_attacks_active",
            "DDoS attacks open now.",
            Gauge,
            d.attacks_active as u64,
        ),
        metric(
            "ddos_attacks_dropped_total",
            "Attack starts refused while max_attacks were open.",
            Counter,
            d.attacks_dropped,
        ),
        metric(
            "ddos_late_restarts_suppressed_total",
            "Attack restarts not made from records of a period already judged.",
            Counter,
            d.late_restarts_suppressed,
        ),
        metric(
            "ddos_state_bytes",
            "Heap bytes held by the DDoS detector.",
            Gauge,
            d.state_bytes as u64,
        ),
        metric(
            "ddos_baselines",
            "Learned baselines kept.",
            Gauge,
            d.baselines as u64,
        ),
        metric(
            "scan_probes_total",
            "Records that were scan probes.",
            Counter,
            s.probes,
        ),
        metric(
            "scan_sources_tracked",
            "Scan sources counted now.",
            Gauge,
            s.sources_tracked as u64,
        ),
        metric(
            "scan_sources_evicted_total",
            "Scan sources evicted to make room.",
            Counter,
            s.sources_evicted,
        ),
        metric(
            "scan_pairs_tracked",
            "(source, host) pairs counted now.",
            Gauge,
            s.pairs_tracked as u64,
        ),
        metric(
            "scan_pairs_evicted_total",
            "(source, host) pairs evicted to make room.",
            Counter,
            s.pairs_evicted,
        ),
        metric(
            "scan_scans_active",
            "Scans open now.",
            Gauge,
            s.scans_active as u64,
        ),
        metric(
            "scan_scans_dropped_total",
            "Scan starts refused while max_scans were open.",
            Counter,
            s.scans_dropped,
        ),
        metric(
            "scan_state_bytes",
            "Heap bytes held by the scan detector.",
            Gauge,
            s.state_bytes as u64,
        ),
    ]
}

/// Per-exporter counters, labelled by exporter address.
pub fn exporters(shared: &Shared) -> Vec<Metric> {
    let mut out = Vec::new();
    for (addr, e) in shared.exporters() {
        let label = if addr == OTHER_EXPORTER {
            "other".to_string()
        } else {
            addr.to_string()
        };
        let with = |name, help, kind, value: u64| Metric {
            name,
            help,
            kind,
            labels: vec![("exporter", label.clone())],
            value: value as f64,
        };
        out.push(with(
            "exporter_datagrams_total",
            "Datagrams received from the exporter.",
            Counter,
            e.datagrams,
        ));
        out.push(with(
            "exporter_records_total",
            "Flow records decoded from the exporter.",
            Counter,
            e.records,
        ));
        out.push(with(
            "exporter_errors_total",
            "Malformed datagrams or parts from the exporter.",
            Counter,
            e.errors,
        ));
        out.push(with(
            "exporter_template_misses_total",
            "Data sets from the exporter whose template was unknown.",
            Counter,
            e.template_misses,
        ));
        out.push(with(
            "exporter_sampling_rate",
            "Sampling rate of the exporter's latest records.",
            Gauge,
            u64::from(e.sampling_rate),
        ));
    }
    out
}

/// Per capture interface counters, labelled by interface name.
pub fn captures(shared: &Shared) -> Vec<Metric> {
    let mut out = Vec::new();
    for c in shared.captures() {
        let with = |name, help, value: u64| Metric {
            name,
            help,
            kind: Counter,
            labels: vec![("interface", c.interface.clone())],
            value: value as f64,
        };
        out.extend([
            with(
                "capture_packets_total",
                "Frames read from the interface's capture rings.",
                c.packets,
            ),
            with(
                "capture_bytes_total",
                "Wire bytes of the frames read from the interface's capture rings.",
                c.bytes,
            ),
            with(
                "capture_kernel_drops_total",
                "Frames the kernel dropped because a capture ring was full.",
                c.kernel_drops,
            ),
            with(
                "capture_errors_total",
                "Captured frames that could not be decoded.",
                c.errors,
            ),
            with(
                "capture_non_ip_total",
                "Captured frames that carry no IP (ARP, LLDP, ...).",
                c.non_ip,
            ),
            with(
                "capture_records_total",
                "Records from captured frames handed to the detection engine.",
                c.records,
            ),
            with(
                "capture_queue_drops_total",
                "Records from captured frames dropped because the engine's queue was full.",
                c.queue_drops,
            ),
        ]);
    }
    out
}

/// UDP receive-buffer drops per collector port, from /proc/net/udp and udp6 (Linux).
pub fn socket_drops(ports: &[u16]) -> Vec<Metric> {
    let mut drops: std::collections::BTreeMap<u16, u64> = ports.iter().map(|&p| (p, 0)).collect();
    for file in ["/proc/net/udp", "/proc/net/udp6"] {
        let Ok(text) = read_small(file) else {
            continue;
        };
        for line in text.lines().skip(1) {
            let cols: Vec<&str> = line.split_whitespace().collect();
            let (Some(local), Some(d)) = (cols.get(1), cols.last()) else {
                continue;
            };
            let port = local
                .rsplit(':')
                .next()
                .and_then(|p| u16::from_str_radix(p, 16).ok());
            if let (Some(port), Ok(d)) = (port, d.parse::<u64>()) {
                if let Some(total) = drops.get_mut(&port) {
                    *total += d;
                }
            }
        }
    }
    drops
        .into_iter()
        .map(|(port, d)| Metric {
            name: "udp_receive_drops_total",
            help: "Datagrams the kernel dropped because a collector socket's buffer was full.",
            kind: Counter,
            labels: vec![("port", port.to_string())],
            value: d as f64,
        })
        .collect()
}

pub(crate) fn read_small(path: &str) -> std::io::Result<String> {
    use std::io::Read;
    let mut s = String::new();
    #[allow(clippy::disallowed_methods)] // bounded by take()
    std::fs::File::open(path)?
        .take(4 << 20)
        .read_to_string(&mut s)?;
    Ok(s)
}

/// Renders samples in the text format, one HELP and TYPE per name.
pub fn render(metrics: &[Metric]) -> String {
    let mut out = String::new();
    let mut seen = std::collections::HashSet::new();
    for x in metrics {
        if seen.insert(x.name) {
            let kind = match x.kind {
                Counter => "counter",
                Gauge => "gauge",
            };
            let _ = writeln!(out, "# HELP rampart_{} {}", x.name, x.help);
            let _ = writeln!(out, "# TYPE rampart_{} {kind}", x.name);
        }
        let _ = write!(out, "rampart_{}", x.name);
        if !x.labels.is_empty() {
            out.push('{');
            for (i, (k, v)) in x.labels.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                let v = v
                    .replace('\\', "\\\\")
                    .replace('"', "\\\"")
                    .replace('\n', "\\n");
                let _ = write!(out, "{k}=\"{v}\"");
            }
            out.push('}');
        }
        let _ = writeln!(out, " {}", x.value);
    }
    out
}

/// Threat intelligence: indicators in force, per-feed refreshes and errors (labelled by
/// feed), and the IOC detector's lookups and matches.
pub fn intel(i: &crate::intel::IntelService) -> Vec<Metric> {
    let set = i.indicators().load().stats();
    let ioc = i.ioc_stats();
    let mut out = vec![
        metric(
            "intel_indicators",
            "Indicators in the matchers in force.",
            Gauge,
            set.indicators as u64,
        ),
        metric(
            "ioc_lookups_total",
            "Addresses, names and URLs looked up in the indicators.",
            Counter,
            ioc.lookups,
        ),
        metric(
            "ioc_hits_total",
            "Lookups that found an indicator.",
            Counter,
            ioc.hits,
        ),
        metric(
            "ioc_detections_total",
            "ioc_match detections started.",
            Counter,
            ioc.detections_started,
        ),
        metric(
            "ioc_active",
            "ioc_match detections open.",
            Gauge,
            ioc.active as u64,
        ),
        metric(
            "ioc_refused_total",
            "Matches not reported because detect.ioc.max_active were open.",
            Counter,
            ioc.refused,
        ),
    ];
    for (name, c) in i.feed_counters() {
        let labelled = |n: &'static str, h: &'static str, k: Kind, v: u64| Metric {
            labels: vec![("feed", name.clone())],
            ..metric(n, h, k, v)
        };
        out.push(labelled(
            "intel_feed_refreshes_total",
            "Refreshes of a feed.",
            Counter,
            c.refreshes,
        ));
        out.push(labelled(
            "intel_feed_failures_total",
            "Refreshes of a feed that failed (its previous indicators stay).",
            Counter,
            c.failures,
        ));
        out.push(labelled(
            "intel_feed_item_errors_total",
            "Bad lines, objects or event files skipped in a feed.",
            Counter,
            c.item_errors,
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_help_type_labels_and_escapes() {
        let text = render(&[
            Metric {
                name: "exporter_records_total",
                help: "h",
                kind: Counter,
                labels: vec![("exporter", "a\"b".into())],
                value: 3.0,
            },
            Metric {
                name: "exporter_records_total",
                help: "h",
                kind: Counter,
                labels: vec![("exporter", "c".into())],
                value: 4.0,
            },
            metric("ddos_watched", "w", Gauge, 2),
        ]);
        assert_eq!(
            text,
            "# HELP rampart_exporter_records_total h\n# TYPE rampart_exporter_records_total counter\n\
             rampart_exporter_records_total{exporter=\"a\\\"b\"} 3\n\
             rampart_exporter_records_total{exporter=\"c\"} 4\n\
             # HELP rampart_ddos_watched w\n# TYPE rampart_ddos_watched gauge\nrampart_ddos_watched 2\n"
        );
    }
}
