#![no_main]
//! Fuzzes the NetFlow v9 / IPFIX exporter with arbitrary settings and records shaped as a
//! router exports them: every datagram must fit the size limit and decode, and every record
//! must come back from our decoder exactly as it went in.
use libfuzzer_sys::arbitrary::{Result, Unstructured};
use libfuzzer_sys::fuzz_target;
use rampart_flow::export::{ExportConfig, ExportProtocol, Exporter};
use rampart_flow::{FlowDecoder, FlowFormat, FlowRecord, Timestamp};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

const DAY_MS: u64 = 86_400_000;

fn record(u: &mut Unstructured, now_ms: u64, format: FlowFormat) -> Result<FlowRecord> {
    let mut r = FlowRecord::empty(format);
    let v6: bool = u.arbitrary()?;
    (r.src_addr, r.dst_addr) = if v6 {
        (
            IpAddr::V6(Ipv6Addr::from(u.arbitrary::<u128>()?)),
            IpAddr::V6(Ipv6Addr::from(u.arbitrary::<u128>()?)),
        )
    } else {
        (
            IpAddr::V4(Ipv4Addr::from(u.arbitrary::<u32>()?)),
            IpAddr::V4(Ipv4Addr::from(u.arbitrary::<u32>()?)),
        )
    };
    r.ip_protocol = u.arbitrary()?;
    if matches!(r.ip_protocol, 6 | 17 | 132 | 33) {
        r.src_port = Some(u.arbitrary()?);
        r.dst_port = Some(u.arbitrary()?);
    }
    if r.ip_protocol == 6 {
        r.tcp_flags = Some(u.arbitrary()?);
    }
    if matches!(r.ip_protocol, 1 | 58) {
        r.icmp_type = Some(u.arbitrary()?);
        r.icmp_code = Some(u.arbitrary()?);
    }
    r.packets = u.arbitrary()?;
    r.bytes = u.arbitrary()?;
    // Within 20 days of the export time: NetFlow v9's 32-bit uptimes say which 49.7 days.
    let start = now_ms - u.int_in_range(0..=20 * DAY_MS)?;
    let end = (start + u.int_in_range(0..=DAY_MS)?).min(now_ms + DAY_MS);
    r.start = Timestamp::from_millis(start);
    r.end = Timestamp::from_millis(end);
    r.in_if = Some(u.arbitrary()?);
    r.out_if = Some(u.arbitrary()?);
    r.ttl = Some(u.arbitrary()?);
    r.fragment = Some(u.arbitrary()?);
    Ok(r)
}

fn run(data: &[u8]) -> Result<()> {
    let mut u = Unstructured::new(data);
    let ipfix: bool = u.arbitrary()?;
    let now_ms = u.int_in_range(30 * DAY_MS..=4_000_000 * DAY_MS / 1000)?;
    let cfg = ExportConfig {
        protocol: if ipfix {
            ExportProtocol::Ipfix
        } else {
            ExportProtocol::Netflow9
        },
        observation_domain: u.arbitrary()?,
        max_datagram: u.int_in_range(512..=9_000)?,
        template_every: u.int_in_range(1..=30)?,
        template_interval_ms: u.int_in_range(0..=60_000)?,
        sampling_rate: u.int_in_range(1..=u32::MAX)?,
        system_init: Timestamp::from_millis(now_ms - u.int_in_range(0..=30 * DAY_MS)?),
    };
    let format = if ipfix {
        FlowFormat::Ipfix
    } else {
        FlowFormat::Netflow9
    };
    let mut records = Vec::new();
    while !u.is_empty() && records.len() < 300 {
        match record(&mut u, now_ms, format) {
            Ok(r) => records.push(r),
            Err(_) => break,
        }
    }
    let now = Timestamp::from_millis(now_ms);
    let mut exporter = Exporter::new(cfg).expect("settings in range");
    let datagrams = exporter.export(now, &records);
    let exporter_addr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));
    let mut decoder = FlowDecoder::default();
    let mut got = Vec::new();
    for d in &datagrams {
        assert!(d.len() <= cfg.max_datagram);
        decoder
            .decode(d, exporter_addr, now, &mut |r: &FlowRecord| got.push(r.clone()))
            .expect("our datagrams decode");
    }
    let want: Vec<FlowRecord> = records
        .iter()
        .filter(|r| r.src_addr.is_ipv4() == r.dst_addr.is_ipv4())
        .map(|r| {
            let mut r = r.clone();
            r.exporter = Some(exporter_addr);
            r.observation_domain = cfg.observation_domain;
            r.sampling_rate = cfg.sampling_rate;
            r
        })
        .collect();
    assert_eq!(got, want);
    Ok(())
}

fuzz_target!(|data: &[u8]| {
    let _ = run(data);
});
