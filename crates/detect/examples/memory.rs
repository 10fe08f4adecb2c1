//! Memory of the DDoS detector under the two floods the issue names, as the process sees it
//! (resident set from /proc) and as the detector counts it (`state_bytes`):
//!
//! * `destinations`: one packet to each of 1,000,000 random addresses of a protected /8;
//! * `sources`: a SYN flood on one address from 10,000,000 random (spoofed) sources, resident
//!   memory after the first million packets and after all ten. Every such packet is also a
//!   probe to the scan detector, which `rampart analyze` and the daemon run beside it; it is
//!   fed the same packets, and its state is reported apart.
//!
//! cargo run --release -p rampart-detect --example memory -- destinations|sources

use rampart_detect::{DdosConfig, DdosDetector, ScanConfig, ScanDetector};
use rampart_model::{FlowFormat, FlowRecord, Timestamp};
use std::net::{IpAddr, Ipv4Addr};

/// 2026-11-22T10:00:00Z.
const T0_MS: u64 = 1_795_341_600_000;

fn main() {
    let which = std::env::args().nth(1).unwrap_or_default();
    // Only the flooded space is protected: a spoofed source inside it would rightly be
    // counted as a protected host sending.
    let protect = match which.as_str() {
        "destinations" => "10.0.0.0/8",
        _ => "203.0.113.0/24",
    };
    let config = DdosConfig {
        protect: vec![protect.parse().expect("cidr")],
        ..DdosConfig::default()
    };
    let mut det = DdosDetector::new(config);
    let mut scan = ScanDetector::new(ScanConfig {
        protect: vec![protect.parse().expect("cidr")],
        ..ScanConfig::default()
    });
    let rss_before = rss_kib();
    match which.as_str() {
        "destinations" => {
            // 200,000 packets/s for 5 s; an odd multiplier makes the hosts distinct.
            flood(&mut det, None, 1_000_000, 200_000, |n, x| {
                let host = (n as u32).wrapping_mul(0x9e_37b9) & 0x00ff_ffff;
                record(
                    Ipv4Addr::new(192, 0, 2, 1),
                    Ipv4Addr::from(0x0a00_0000 | host),
                    x,
                )
            });
            let s = det.stats();
            println!(
                "destinations: {} tracked, {:.1} bytes per address, state {:.1} MB, \
                 resident {:.1} MB more than at start (peak {:.1} MB)",
                s.hosts_tracked,
                s.hosts_bytes as f64 / s.hosts_tracked.max(1) as f64,
                s.state_bytes as f64 / 1e6,
                (rss_kib().0 - rss_before.0) as f64 * 1024.0 / 1e6,
                rss_kib().1 as f64 * 1024.0 / 1e6,
            );
        }
        "sources" => {
            let victim = Ipv4Addr::new(203, 0, 113, 10);
            let make = |_n: u64, x: u64| record(Ipv4Addr::from(x as u32), victim, x);
            flood(&mut det, Some(&mut scan), 1_000_000, 1_000_000, make);
            let after_1m = rss_kib().0;
            let (state_1m, scan_1m) = (det.stats().state_bytes, scan.stats().state_bytes);
            flood(&mut det, Some(&mut scan), 9_000_000, 1_000_000, make);
            let s = det.stats();
            let sc = scan.stats();
            println!(
                "sources: after 1 M spoofed sources resident {:.1} MB, state {:.2} MB \
                 (scan detector {:.2} MB); after 10 M resident {:.1} MB, state {:.2} MB \
                 (scan detector {:.2} MB, {} sources tracked, {} probes unadmitted); \
                 {} hosts tracked, {} watched",
                after_1m as f64 * 1024.0 / 1e6,
                state_1m as f64 / 1e6,
                scan_1m as f64 / 1e6,
                rss_kib().0 as f64 * 1024.0 / 1e6,
                s.state_bytes as f64 / 1e6,
                sc.state_bytes as f64 / 1e6,
                sc.sources_tracked,
                sc.probes_unadmitted,
                s.hosts_tracked,
                s.watched,
            );
        }
        _ => {
            eprintln!("usage: memory destinations|sources");
            std::process::exit(2);
        }
    }
}

/// Feeds `count` records at `pps`, ticking every 100 ms like the daemon.
fn flood(
    det: &mut DdosDetector,
    mut scan: Option<&mut ScanDetector>,
    count: u64,
    pps: u64,
    mut make: impl FnMut(u64, u64) -> FlowRecord,
) {
    let mut rng = 0x2545_f491_4f6c_dd1du64;
    let start = det.stats().records;
    for n in 0..count {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        let mut r = make(n, rng);
        let ms = T0_MS + (start + n) * 1000 / pps;
        r.start = Timestamp::from_millis(ms);
        r.end = r.start;
        if n % (pps / 10) == 0 {
            det.tick(r.end);
            while det.poll_event().is_some() {}
            if let Some(scan) = scan.as_deref_mut() {
                scan.tick(r.end);
                while scan.poll_event().is_some() {}
            }
        }
        det.observe(&r);
        if let Some(scan) = scan.as_deref_mut() {
            scan.observe(&r);
        }
    }
}

fn record(src: Ipv4Addr, dst: Ipv4Addr, x: u64) -> FlowRecord {
    FlowRecord {
        src_addr: IpAddr::V4(src),
        dst_addr: IpAddr::V4(dst),
        src_port: Some((x >> 32) as u16),
        dst_port: Some(80),
        ip_protocol: 6,
        tcp_flags: Some(0x02),
        packets: 1,
        bytes: 60,
        ttl: Some((x >> 48) as u8),
        ..FlowRecord::empty(FlowFormat::Packet)
    }
}

/// (VmRSS, VmHWM) in KiB.
fn rss_kib() -> (u64, u64) {
    use std::io::Read;
    let mut status = String::new();
    if let Ok(f) = std::fs::File::open("/proc/self/status") {
        // A few KiB in practice; bounded all the same.
        #[allow(clippy::disallowed_methods)] // bounded by take()
        let _ = f.take(1 << 16).read_to_string(&mut status);
    }
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}
