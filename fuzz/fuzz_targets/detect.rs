#![no_main]
//! Fuzzes the flow detectors (DDoS, scan, exfiltration) with hostile records: any counts and
//! sampling rates, starts after ends, records far late or far ahead of the clock, addresses
//! from a few protected hosts (so that tables, watches and attacks fill and evict) or from
//! anywhere, both families. Each 24-byte chunk is one record; the clock ticks between them as
//! `analyze` ticks it. Checks: no panic or overflow (debug assertions are on), every record
//! counted, tracked state within the configured bounds and memory that does not grow past them,
//! and the scan detector counting the records in batches (`observe_batch`, as `serve` feeds
//! it) exactly as it counts them one by one.
use libfuzzer_sys::fuzz_target;
use rampart_detect::{
    DdosConfig, DdosDetector, ExfilConfig, ExfilDetector, ScanConfig, ScanDetector,
};
use rampart_model::{Cidr, FlowFormat, FlowRecord, Timestamp};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

const TICK_NS: u64 = 100_000_000;
const MAX_HOSTS: usize = 16;
const MAX_PREFIXES: usize = 8;

fn addr(b: u8, c: u8) -> IpAddr {
    match b >> 6 {
        // A protected host, one of few: entries collide, fill and are evicted.
        0 => IpAddr::V4(Ipv4Addr::new(203, 0, 113, c & 0x1f)),
        1 => IpAddr::V6(Ipv6Addr::new(
            0x2001,
            0xdb8,
            1,
            0,
            0,
            0,
            0,
            u16::from(c & 0x1f),
        )),
        // Anywhere else (sources, spoofed or not).
        2 => IpAddr::V4(Ipv4Addr::new(198, 51, b & 0x3f, c)),
        _ => IpAddr::V6(Ipv6Addr::new(
            0x2001,
            0xdb8,
            0xff,
            u16::from(b),
            0,
            0,
            0,
            u16::from(c),
        )),
    }
}

fn u32_at(d: &[u8], i: usize) -> u32 {
    u32::from_le_bytes([d[i], d[i + 1], d[i + 2], d[i + 3]])
}

fn record(d: &[u8], clock_ms: u64) -> FlowRecord {
    let mut r = FlowRecord::empty(if d[0] & 1 == 0 {
        FlowFormat::Netflow9
    } else {
        FlowFormat::Packet
    });
    r.src_addr = addr(d[1], d[2]);
    r.dst_addr = addr(d[3], d[4]);
    r.ip_protocol = [6, 17, 1, 58, 47, d[5]][usize::from(d[5] % 6)];
    r.src_port =
        (d[6] & 1 == 0).then(|| [53, 123, 11211, 1900, 0, u16::from(d[7])][usize::from(d[7] % 6)]);
    r.dst_port = (d[6] & 2 == 0).then_some(u16::from(d[8]));
    r.tcp_flags = (d[6] & 4 == 0).then_some(d[9]);
    r.fragment = [None, Some(false), Some(true)][usize::from(d[6] >> 3) % 3];
    r.ttl = (d[6] & 0x80 == 0).then_some(d[10]);
    // Counts: small ones mostly, and now and then the largest there are.
    r.packets = match d[11] >> 6 {
        0 => u64::from(d[11] & 0x3f),
        1 => u64::from(u32_at(d, 12)),
        2 => u64::from(u32_at(d, 12)) << 24,
        _ => u64::MAX - u64::from(d[12]),
    };
    r.bytes = match d[16] >> 6 {
        0 => r.packets.saturating_mul(u64::from(d[16])),
        1 => u64::from(u32_at(d, 12)),
        _ => u64::MAX - u64::from(d[17]),
    };
    r.sampling_rate = match d[18] >> 6 {
        0 => 1,
        1 => u32::from(d[18] & 0x3f),
        2 => 1 << (d[18] & 0x1f),
        _ => u32::MAX,
    };
    // End: around the clock (a little late or ahead), far late, or far ahead; the start
    // usually before it, sometimes after (a broken exporter).
    let skew = i64::from(i16::from_le_bytes([d[19], d[20]]));
    let end_ms = match d[21] >> 6 {
        0 | 1 => clock_ms.saturating_add_signed(skew),
        2 => clock_ms.saturating_sub(u64::from(d[21]) * 60_000),
        _ => clock_ms.saturating_add(u64::from(d[21]) * 3_600_000),
    };
    let span_ms = match d[22] >> 6 {
        0 => 0,
        1 => u64::from(d[22] & 0x3f) * 20,
        2 => u64::from(d[22]) * 1_000,
        _ => u64::MAX / 2,
    };
    r.end = Timestamp::from_millis(end_ms);
    r.start = if d[23] & 1 == 0 {
        Timestamp::from_millis(end_ms.saturating_sub(span_ms))
    } else {
        Timestamp::from_millis(end_ms.saturating_add(span_ms))
    };
    r
}

fuzz_target!(|data: &[u8]| {
    let protect: Vec<Cidr> = vec![
        "203.0.113.0/24".parse().unwrap(),
        "2001:db8:1::/48".parse().unwrap(),
    ];
    let mut ddos = DdosDetector::new(DdosConfig {
        protect: protect.clone(),
        host_pps: 1_000,
        prefix_pps: 5_000,
        max_hosts: MAX_HOSTS,
        max_prefixes: MAX_PREFIXES,
        max_watched: 4,
        max_attacks: 4,
        ..DdosConfig::default()
    });
    let scan_config = ScanConfig {
        protect: protect.clone(),
        ports: 8,
        hosts: 8,
        max_sources: 16,
        max_pairs: 16,
        max_scans: 4,
        ..ScanConfig::default()
    };
    let mut scan = ScanDetector::new(scan_config.clone());
    // The same records in batches (as `serve` hands them on), between the same ticks.
    let mut scan_batched = ScanDetector::new(scan_config);
    let mut batch = Vec::new();
    let mut exfil = ExfilDetector::new(ExfilConfig {
        protect,
        max_hosts: 8,
        max_open: 4,
        min_bytes: 1_000,
        new_destination_bytes: 1_000,
        learning_s: 1,
        ..ExfilConfig::default()
    });
    // The clock starts at a fixed wall time; each record's first byte may move it on.
    let mut clock_ms: u64 = 1_764_547_200_000;
    let mut next_tick = (clock_ms * 1_000_000 / TICK_NS + 1) * TICK_NS;
    let mut fed = 0u64;
    let mut peak_bytes = None;
    for (n, d) in data.chunks_exact(24).enumerate() {
        clock_ms += u64::from(d[0] >> 1) * 20;
        let now = clock_ms * 1_000_000;
        // At most a few seconds of ticks at once, as `analyze` skips quiet stretches.
        if now >= next_tick + 100 * TICK_NS {
            next_tick = now / TICK_NS * TICK_NS;
        }
        if next_tick <= now {
            scan_batched.observe_batch(&batch);
            batch.clear();
        }
        while next_tick <= now {
            let t = Timestamp::from_nanos(next_tick);
            ddos.tick(t);
            scan.tick(t);
            scan_batched.tick(t);
            exfil.tick(t);
            next_tick += TICK_NS;
            while ddos.poll_event().is_some() {}
            while let Some(e) = scan.poll_event() {
                let b = scan_batched.poll_event();
                assert_eq!(format!("{:?}", Some(e)), format!("{b:?}"));
            }
            assert!(scan_batched.poll_event().is_none());
            assert_eq!(scan.stats(), scan_batched.stats());
            while exfil.poll_event().is_some() {}
        }
        let r = record(d, clock_ms);
        ddos.observe(&r);
        scan.observe(&r);
        exfil.observe(&r);
        batch.push(r);
        fed += 1;
        let (ds, ss, es) = (ddos.stats(), scan.stats(), exfil.stats());
        assert_eq!(ds.records, fed);
        assert_eq!(ss.records, fed);
        assert_eq!(es.records, fed);
        assert!(ds.hosts_tracked <= 2 * MAX_HOSTS, "{ds:?}");
        assert!(ds.prefixes_tracked <= 2 * MAX_PREFIXES, "{ds:?}");
        assert!(ds.attacks_active <= 4 && ds.watched <= 4, "{ds:?}");
        assert!(ss.sources_tracked <= 16 && ss.pairs_tracked <= 16, "{ss:?}");
        assert!(ss.scans_active <= 4, "{ss:?}");
        assert!(es.hosts_tracked <= 8 && es.open <= 4, "{es:?}");
        // Memory: once the first records have sized the tables, it stays within a bound.
        let bytes = ds.state_bytes + ss.state_bytes + es.state_bytes;
        if n == 64 {
            peak_bytes = Some(bytes);
        }
        if let Some(p) = peak_bytes {
            assert!(
                bytes <= p * 4 + 65_536,
                "state grew from {p} to {bytes} bytes"
            );
        }
    }
    scan_batched.observe_batch(&batch);
    assert_eq!(scan.stats(), scan_batched.stats());
});
