#![allow(clippy::unwrap_used)]
//! Scan detection on synthetic traffic: vertical (TCP SYN, UDP) and horizontal (TCP, ICMP
//! sweeps, IPv6) scans over the benign background, an outbound scan from a protected host,
//! what is not a scan (the background, busy clients behind NAT, a resolver, a slow scan, a
//! spoofed SYN flood), the life of a detection, and the bounds with their counters.

mod support;

use rampart_detect::{Direction, Phase, ScanConfig, ScanDetector, ScanProtocol, ScanType};
use rampart_model::{FlowFormat, FlowRecord, Timestamp};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use support::*;

const SCANNER: &str = "192.0.2.66";
const HOST: &str = "203.0.113.10";
const SYN: u8 = 0x02;
const SYN_ACK: u8 = 0x12;
const RST_ACK: u8 = 0x14;

fn v4(base: &str, last: u64) -> IpAddr {
    let IpAddr::V4(b) = ip(base) else {
        unreachable!("an IPv4 base")
    };
    IpAddr::from(Ipv4Addr::from(
        u32::from(b) & 0xffff_ff00 | (last as u32 & 0xff),
    ))
}

/// The background of 20 s, and `extra` streams on top.
fn run(config: ScanConfig, extra: Vec<Stream>) -> ScanSim {
    let mut sim = ScanSim::new(config);
    let mut streams = background(0, 20_000);
    streams.extend(extra);
    sim.run(20_000, &mut streams);
    sim
}

#[test]
fn vertical_syn_scan_of_1000_ports() {
    // nmap -sS -p1-1000 at 200 probes/s; closed ports answer RST-ACK, which is no answer.
    let probes = Stream::new(200.0, 2_000, 6_999, |n, ms| {
        Rec::new(SCANNER, HOST)
            .tcp(61_234, 1 + n as u16, SYN)
            .at(ms)
    });
    let resets = Stream::new(200.0, 2_000, 6_999, |n, ms| {
        Rec::new(HOST, SCANNER)
            .tcp(1 + n as u16, 61_234, RST_ACK)
            .at(ms)
    });
    let sim = run(scan_protected(), vec![probes, resets]);
    let started = sim.started();
    assert_eq!(started.len(), 1, "{:#?}", sim.events);
    let d = &started[0].detection;
    assert_eq!(d.scan_type, ScanType::Vertical);
    assert_eq!(d.source, ip(SCANNER));
    assert_eq!(d.target.to_string(), HOST);
    assert_eq!(d.direction, Direction::Inbound);
    assert_eq!(d.protocol, ScanProtocol::Tcp);
    assert_eq!(d.hosts, 1);
    // Starts at its first counted probe; found 2 s (the answer wait) after it passed 100
    // ports, not at the end of the scan.
    assert!(d.start.as_millis() - T0 >= 2_000 && d.start.as_millis() - T0 < 2_010);
    assert!((450..650).contains(&d.ports), "{d:#?}");
    assert!(d.confidence >= 0.5, "{d:#?}");
    // Its state now counts the whole scan within ±10%.
    let active = sim.det.active();
    let last = &active[0].1;
    assert!((900..=1100).contains(&last.ports), "{last:#?}");
    assert_eq!(
        last.probes, 999,
        "the first probe only teaches the doorkeeper"
    );
    assert!(last.top_dst_ports.is_empty(), "{last:#?}");
    assert!(
        last.evidence.contains("ports of 203.0.113.10"),
        "{}",
        last.evidence
    );
    assert!(
        sim.events.iter().all(|e| e.id == started[0].id),
        "one detection, started and updated: {:#?}",
        sim.events
    );
    assert!(sim.events.iter().any(|e| e.phase == Phase::Updated));
}

#[test]
fn horizontal_scan_of_port_22_over_a_24() {
    // Port 22 on .1 to .254 in a shuffled order at 100 probes/s; two hosts answer.
    let mut order: Vec<u64> = (1..=254).collect();
    let mut rng = Rng(3);
    for i in (1..order.len()).rev() {
        order.swap(i, (rng.next() % (i as u64 + 1)) as usize);
    }
    let probes = Stream::new(100.0, 3_000, 5_539, move |n, ms| {
        Rec::addrs(ip("192.0.2.77"), v4(HOST, order[n as usize % 254]))
            .tcp(50_000, 22, SYN)
            .at(ms)
    });
    let answers = Stream::new(1.0, 3_000, 4_999, |n, ms| {
        Rec::addrs(v4(HOST, 10 + n * 10), ip("192.0.2.77"))
            .tcp(22, 50_000, SYN_ACK)
            .at(ms)
    });
    let sim = run(scan_protected(), vec![probes, answers]);
    let started = sim.started();
    assert_eq!(started.len(), 1, "{:#?}", sim.events);
    let d = &started[0].detection;
    assert_eq!(d.scan_type, ScanType::Horizontal);
    assert_eq!(d.source, ip("192.0.2.77"));
    assert_eq!(d.target.to_string(), "203.0.113.0/24");
    assert_eq!(d.ports, 1);
    assert_eq!(d.top_dst_ports[0].port, 22);
    let active = sim.det.active();
    let last = &active[0].1;
    assert!((229..=280).contains(&last.hosts), "{last:#?}");
    assert!((1..=3).contains(&last.answered), "{last:#?}");
    assert_eq!(last.target.to_string(), "203.0.113.0/24");
}

#[test]
fn udp_scan_of_a_host() {
    let probes = Stream::new(300.0, 1_000, 2_999, |n, ms| {
        Rec::new(SCANNER, HOST).udp(53_123, 1 + n as u16).at(ms)
    });
    let sim = run(scan_protected(), vec![probes]);
    let started = sim.started();
    assert_eq!(started.len(), 1, "{:#?}", sim.events);
    let active = sim.det.active();
    let d = &active[0].1;
    assert_eq!(d.scan_type, ScanType::Vertical);
    assert_eq!(d.protocol, ScanProtocol::Udp);
    assert!((540..=660).contains(&d.ports), "{d:#?}");
}

#[test]
fn icmp_sweeps_v4_and_v6() {
    let sweep4 = Stream::new(50.0, 1_000, 6_079, |n, ms| {
        Rec::addrs(ip("192.0.2.9"), v4(HOST, 1 + n)).icmp().at(ms)
    });
    let sweep6 = Stream::new(50.0, 1_000, 6_079, |n, ms| {
        let dst = Ipv6Addr::from(0x2001_0db8_0000_0000_0000_0000_0000_0000u128 | u128::from(n));
        let mut r = Rec::addrs(ip("2001:db8:ffff::9"), IpAddr::V6(dst)).icmp();
        r.0.ip_protocol = 58;
        r.0.icmp_type = Some(128);
        r.at(ms)
    });
    let sim = run(scan_protected(), vec![sweep4, sweep6]);
    let started = sim.started();
    assert_eq!(started.len(), 2, "{:#?}", sim.events);
    for e in started {
        let d = &e.detection;
        assert_eq!(d.scan_type, ScanType::Horizontal);
        assert_eq!(d.protocol, ScanProtocol::Icmp);
        assert!(d.top_dst_ports.is_empty());
        let want = if d.source.is_ipv4() {
            "203.0.113.0/24"
        } else {
            "2001:db8::/64"
        };
        assert_eq!(d.target.to_string(), want, "{d:#?}");
    }
}

#[test]
fn background_and_busy_clients_are_no_scans() {
    for config in [ScanConfig::default(), scan_protected()] {
        // A protected NAT gateway opening connections to 2,000 web servers in 20 s, every
        // one answering, and a protected resolver asking 2,000 name servers, answered.
        let nat = Stream::new(100.0, 0, 19_999, |n, ms| {
            let server = IpAddr::from(Ipv4Addr::from(0xc612_0000 + n as u32));
            Rec::addrs(ip("203.0.113.2"), server)
                .tcp(30_000 + n as u16, 443, SYN)
                .at(ms)
        });
        let nat_answers = Stream::new(100.0, 50, 20_049, |n, ms| {
            let server = IpAddr::from(Ipv4Addr::from(0xc612_0000 + n as u32));
            Rec::addrs(server, ip("203.0.113.2"))
                .tcp(443, 30_000 + n as u16, SYN_ACK)
                .at(ms)
        });
        let queries = Stream::new(100.0, 0, 19_999, |n, ms| {
            let ns = IpAddr::from(Ipv4Addr::from(0xc000_0000 + (n as u32) * 256));
            Rec::addrs(ip("203.0.113.53"), ns)
                .udp(10_000 + n as u16, 53)
                .at(ms)
        });
        let replies = Stream::new(100.0, 30, 20_029, |n, ms| {
            let ns = IpAddr::from(Ipv4Addr::from(0xc000_0000 + (n as u32) * 256));
            Rec::addrs(ns, ip("203.0.113.53"))
                .udp(53, 10_000 + n as u16)
                .at(ms)
        });
        // A web client with 500 connections to one server, and a server answering 2,000
        // clients from port 443.
        let client = Stream::new(25.0, 0, 19_999, |n, ms| {
            Rec::new("198.51.100.7", HOST)
                .tcp(20_000 + n as u16, 443, SYN)
                .at(ms)
        });
        let server = Stream::new(100.0, 0, 19_999, |n, ms| {
            let c = IpAddr::from(Ipv4Addr::from(0xc633_6400 + (n as u32 % 250)));
            Rec::addrs(ip(HOST), c)
                .tcp(443, 1_024 + n as u16, SYN_ACK)
                .at(ms)
        });
        let sim = run(
            config,
            vec![nat, nat_answers, queries, replies, client, server],
        );
        assert!(sim.events.is_empty(), "{:#?}", sim.events);
        let s = sim.det.stats();
        assert!(s.answers > 3_000, "{s:?}");
    }
}

#[test]
fn spoofed_syn_flood_is_no_scan_and_memory_stays_bounded() {
    let config = ScanConfig {
        max_sources: 4_096,
        max_pairs: 4_096,
        ..ScanConfig::default()
    };
    let mut det = ScanDetector::new(config);
    let mut rng = Rng(11);
    let mut bytes = Vec::new();
    let mut events = 0;
    // A million SYNs from random sources toward one host's port 80, 100,000 a second.
    for n in 0..1_000_000u64 {
        if n % 10_000 == 0 {
            det.tick(Timestamp::from_millis(T0 + n / 100));
            while det.poll_event().is_some() {
                events += 1;
            }
        }
        if n % 250_000 == 0 {
            bytes.push(det.stats().state_bytes);
        }
        let x = rng.next();
        let r = Rec::addrs(IpAddr::from(Ipv4Addr::from(x as u32)), ip(HOST))
            .tcp((x >> 32) as u16, 80, SYN)
            .at(n / 100);
        det.observe(&r);
    }
    det.tick(Timestamp::from_millis(T0 + 20_000));
    while det.poll_event().is_some() {
        events += 1;
    }
    let s = det.stats();
    assert_eq!(events, 0, "{s:?}");
    assert!(
        s.sources_tracked <= 4_096 && s.pairs_tracked <= 4_096,
        "{s:?}"
    );
    assert!(s.probes_unadmitted > 800_000, "{s:?}");
    assert!(s.doorkeeper_resets > 0, "{s:?}");
    assert!(s.sources_evicted > 0, "{s:?}");
    // Full size by the first quarter, then no growth.
    assert!(bytes[1..].windows(2).all(|w| w[0] == w[1]), "{bytes:?}");
    assert!(s.state_bytes < 3_000_000, "{s:?}");
}

#[test]
fn outbound_scan_from_a_protected_host() {
    let probes = Stream::new(200.0, 1_000, 2_999, |n, ms| {
        Rec::addrs(ip("203.0.113.77"), v4("198.51.100.0", 1 + n % 254))
            .tcp(40_000, 445, SYN)
            .at(ms)
    });
    // Outside sources scanning outside hosts are none of our business.
    let transit = Stream::new(200.0, 1_000, 2_999, |n, ms| {
        Rec::addrs(ip("192.0.2.1"), v4("198.51.100.0", 1 + n % 254))
            .tcp(40_000, 445, SYN)
            .at(ms)
    });
    let sim = run(scan_protected(), vec![probes, transit]);
    let started = sim.started();
    assert_eq!(started.len(), 1, "{:#?}", sim.events);
    let d = &started[0].detection;
    assert_eq!(d.source, ip("203.0.113.77"));
    assert_eq!(d.direction, Direction::Outbound);
    assert_eq!(d.scan_type, ScanType::Horizontal);
    assert_eq!(d.target.to_string(), "198.51.100.0/24");
    assert!(sim.det.stats().probes_unprotected >= 400);
    // With no protected space nothing is outbound: the same scan is inbound.
    let probes = Stream::new(200.0, 1_000, 2_999, |n, ms| {
        Rec::addrs(ip("203.0.113.77"), v4("198.51.100.0", 1 + n % 254))
            .tcp(40_000, 445, SYN)
            .at(ms)
    });
    let sim = run(ScanConfig::default(), vec![probes]);
    assert_eq!(sim.started().len(), 1);
    assert_eq!(sim.started()[0].detection.direction, Direction::Inbound);
}

#[test]
fn slow_scan_below_the_threshold_per_window_is_not_detected() {
    // 1,000 ports at one a second: 60 per 60 s window, under 100.
    let slow = |pps: f64| {
        Stream::new(pps, 0, 299_999, |n, ms| {
            Rec::new(SCANNER, HOST)
                .tcp(61_234, 1 + n as u16, SYN)
                .at(ms)
        })
    };
    let mut sim = ScanSim::new(scan_protected());
    sim.run(300_000, &mut [slow(1.0)]);
    assert!(sim.events.is_empty(), "{:#?}", sim.events);
    // The same at two a second is a scan.
    let mut sim = ScanSim::new(scan_protected());
    sim.run(300_000, &mut [slow(2.0)]);
    assert_eq!(sim.started().len(), 1, "{:#?}", sim.events);
}

#[test]
fn a_scan_grows_then_ends_after_a_quiet_window() {
    // A sweep of port 23 over 203.0.112.0/23 at 20 hosts/s: found in the first /24, then
    // its target widens to the /23.
    let probes = Stream::new(20.0, 1_000, 26_599, |n, ms| {
        let h = 0xcb00_7000u32 + n as u32; // 203.0.112.0 on
        Rec::addrs(ip("192.0.2.23"), IpAddr::from(Ipv4Addr::from(h)))
            .tcp(40_000, 23, SYN)
            .at(ms)
    });
    let mut sim = ScanSim::new(ScanConfig::default());
    let mut streams = vec![probes];
    sim.run(80_000, &mut streams);
    assert_eq!(sim.started().len(), 1, "{:#?}", sim.events);
    assert_eq!(
        sim.started()[0].detection.target.to_string(),
        "203.0.112.0/24"
    );
    let updates: Vec<_> = sim
        .events
        .iter()
        .filter(|e| e.phase == Phase::Updated)
        .collect();
    assert!(!updates.is_empty());
    assert_eq!(
        updates.last().unwrap().detection.target.to_string(),
        "203.0.112.0/23"
    );
    assert!(sim.events.iter().all(|e| e.phase != Phase::Ended));
    // Quiet since 26.6 s: ended a window after the last probe, at it.
    sim.run(87_000, &mut streams);
    let end = sim.events.last().unwrap();
    assert_eq!(end.phase, Phase::Ended, "{:#?}", sim.events);
    let d = &end.detection;
    assert_eq!(d.end.unwrap().as_millis() - T0, 26_599);
    assert!((460..=560).contains(&d.hosts), "{d:#?}");
    assert_eq!(sim.det.stats().scans_active, 0);
}

#[test]
fn bounds_and_their_counters() {
    let config = ScanConfig {
        max_sources: 64,
        max_pairs: 64,
        max_scans: 1,
        ..ScanConfig::default()
    };
    let mut sim = ScanSim::new(config);
    // 1,000 sources probing twice each, then two vertical scanners: one scan is open at
    // most, the other is counted.
    let many = Stream::new(2_000.0, 0, 999, |n, ms| {
        let src = IpAddr::from(Ipv4Addr::from(0x0a00_0000 + (n / 2) as u32));
        Rec::addrs(src, ip(HOST)).tcp(1_000, 80, SYN).at(ms)
    });
    let a = Stream::new(200.0, 1_000, 2_999, |n, ms| {
        Rec::new("192.0.2.1", HOST).tcp(1, 1 + n as u16, SYN).at(ms)
    });
    let b = Stream::new(200.0, 1_000, 2_999, |n, ms| {
        Rec::new("192.0.2.2", HOST).tcp(1, 1 + n as u16, SYN).at(ms)
    });
    sim.run(10_000, &mut [many, a, b]);
    let s = sim.det.stats();
    assert_eq!(sim.started().len(), 1, "{:#?}", sim.events);
    assert_eq!(s.scans_dropped, 1, "{s:?}");
    assert_eq!(s.scans_active, 1, "{s:?}");
    assert!(s.sources_tracked <= 64 && s.pairs_tracked <= 64, "{s:?}");
    assert!(s.sources_evicted >= 900 && s.pairs_evicted >= 900, "{s:?}");
    assert_eq!(s.records, 2_000 + 800);
}

/// Flow records (softflowd's view of an nmap scan): one per probe, flags SYN, or SYN|RST
/// when the port was open and the scanner reset it; the open ports' answers carry
/// SYN|ACK.
#[test]
fn vertical_scan_from_flow_records() {
    let mut sim = ScanSim::new(scan_protected());
    let flows = Stream::new(250.0, 1_000, 4_999, |n, ms| {
        let port = 1 + n as u16;
        let flags = if port.is_multiple_of(100) {
            SYN | 0x04
        } else {
            SYN
        };
        Rec::new(SCANNER, HOST)
            .tcp(61_234, port, flags)
            .flow(FlowFormat::Netflow9, 0, 0, 1, 44)
            .at(ms)
    });
    let open = Stream::new(2.5, 1_000, 4_999, |n, ms| {
        Rec::new(HOST, SCANNER)
            .tcp(100 * (1 + n as u16), 61_234, SYN_ACK)
            .flow(FlowFormat::Netflow9, 0, 0, 1, 44)
            .at(ms)
    });
    sim.run(10_000, &mut [flows, open]);
    assert_eq!(sim.started().len(), 1, "{:#?}", sim.events);
    let active = sim.det.active();
    let d = &active[0].1;
    assert!((900..=1100).contains(&d.ports), "{d:#?}");
    assert!((8..=12).contains(&d.answered), "{d:#?}");
}

/// Probes with no packets, flows ending at time 0 or far ahead, and addresses of both
/// families in one record never panic.
#[test]
fn odd_records_do_not_panic() {
    let mut det = ScanDetector::new(scan_protected());
    let mut r: FlowRecord = Rec::new(SCANNER, HOST).tcp(1, 2, SYN).at(0);
    for (packets, end) in [(0, 0), (1, 0), (1, u64::MAX), (1, 5)] {
        r.packets = packets;
        r.end = Timestamp::from_nanos(end);
        det.observe(&r);
        det.observe(&r);
        det.tick(Timestamp::from_nanos(end));
    }
    r.dst_addr = ip("2001:db8::1");
    det.observe(&r);
    r.src_addr = ip("2001:db8::2");
    r.dst_addr = ip(HOST);
    det.observe(&r);
    det.tick(Timestamp::from_nanos(u64::MAX));
    while det.poll_event().is_some() {}
}

/// `observe_batch`, which `serve` feeds each batch of records to, counts exactly as
/// `observe` one by one: the same events and counters whatever the batch sizes, with both
/// tables full and evicting, scans opening, answers credited, and records of no interest.
#[test]
fn a_batch_counts_as_its_records_one_by_one() {
    let config = ScanConfig {
        max_sources: 64,
        max_pairs: 64,
        ..ScanConfig::default()
    };
    let (mut one, mut batched) = (ScanDetector::new(config.clone()), ScanDetector::new(config));
    let mut rng = Rng(5);
    // 10 records a millisecond for 6 s.
    let records: Vec<FlowRecord> = (0..60_000u64)
        .map(|n| {
            let x = rng.next();
            let ms = n / 10;
            match x % 5 {
                0 => Rec::new(SCANNER, HOST)
                    .tcp(40_000, (n % 2_000) as u16, SYN)
                    .at(ms),
                1 => Rec::addrs(ip("192.0.2.77"), v4(HOST, n))
                    .tcp(40_001, 22, SYN)
                    .at(ms),
                2 => Rec::addrs(v4(HOST, x >> 8), ip(SCANNER))
                    .tcp((x >> 16) as u16 % 2_000, 40_000, SYN_ACK)
                    .at(ms),
                // Churn: 256 sources probing random hosts and ports.
                3 => Rec::addrs(v4("198.51.100.0", x >> 8), v4(HOST, x >> 16))
                    .tcp(1_024, (x >> 24) as u16, SYN)
                    .at(ms),
                _ => Rec::new("192.0.2.9", HOST).udp(53, 40_000).at(ms),
            }
        })
        .collect();
    let (mut events_one, mut events_batched) = (Vec::new(), Vec::new());
    let sizes = [1, 3, 7, 8, 9, 64, 200, 1_000];
    // A tick every 100 ms, batches of varying sizes between ticks.
    for (k, tick) in records.chunks(1_000).enumerate() {
        for r in tick {
            one.observe(r);
        }
        let mut rest = tick;
        for size in sizes.iter().cycle().skip(k) {
            let (batch, after) = rest.split_at((*size).min(rest.len()));
            batched.observe_batch(batch);
            rest = after;
            if rest.is_empty() {
                break;
            }
        }
        let now = Timestamp::from_millis(T0 + (k as u64 + 1) * 100);
        one.tick(now);
        batched.tick(now);
        events_one.extend(std::iter::from_fn(|| one.poll_event()));
        events_batched.extend(std::iter::from_fn(|| batched.poll_event()));
        assert_eq!(one.stats(), batched.stats(), "after tick {k}");
    }
    let s = one.stats();
    assert!(s.sources_evicted > 0 && s.pairs_evicted > 0, "{s:?}");
    assert!(s.answers > 0, "{s:?}");
    assert!(events_one.len() >= 2, "{events_one:#?}");
    assert_eq!(events_one, events_batched);
}
