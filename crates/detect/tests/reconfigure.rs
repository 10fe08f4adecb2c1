#![allow(clippy::unwrap_used)]
//! Reloading settings keeps what the detectors have counted: a flood under the old threshold
//! is an attack at the very next tick after the threshold is lowered (a new detector would
//! need a full window first), and settings that shape the tables are refused by name.

mod support;

use rampart_detect::ScanDetector;
use support::*;

#[test]
fn a_lowered_threshold_applies_at_once_with_the_counts_kept() {
    let mut cfg = protected();
    cfg.vector_pps.syn_flood = 5_000;
    let mut sim = Sim::new(cfg.clone());
    let mut streams = vec![Stream::new(3_000.0, 0, 10_000, |n, ms| {
        Rec::new("198.51.100.7", "203.0.113.10")
            .tcp(1024 + (n % 50_000) as u16, 80, 0x02)
            .at(ms)
    })];
    sim.run(3_000, &mut streams);
    assert!(sim.started().is_empty(), "3,000 pps is under 5,000");
    cfg.vector_pps.syn_flood = 2_000;
    sim.det.reconfigure(cfg.clone()).unwrap();
    sim.run(3_100, &mut streams);
    let started = sim.started();
    assert_eq!(started.len(), 1, "{:#?}", sim.events);
    assert_eq!(started[0].detection.target.to_string(), "203.0.113.10");
    // The attack, like the counts, survives a further reload.
    cfg.end_after_s = 20;
    sim.det.reconfigure(cfg.clone()).unwrap();
    assert_eq!(sim.det.active().len(), 1);

    let mut sizes = cfg.clone();
    sizes.max_hosts = 10;
    sizes.tick_ms = 200;
    assert_eq!(
        sim.det.reconfigure(sizes).unwrap_err(),
        ["tick_ms", "max_hosts"]
    );
    assert_eq!(sim.det.config().max_hosts, cfg.max_hosts, "nothing applied");
}

#[test]
fn scan_thresholds_reload_and_the_window_does_not() {
    let mut cfg = scan_protected();
    let mut det = ScanDetector::new(cfg.clone());
    cfg.ports = 50;
    det.reconfigure(cfg.clone()).unwrap();
    assert_eq!(det.config().ports, 50);
    cfg.window_s = 10;
    assert_eq!(det.reconfigure(cfg).unwrap_err(), ["window_s"]);
}
