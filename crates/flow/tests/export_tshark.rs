//! The exporter checked by a decoder that is not ours: Wireshark's (tshark, Debian package
//! `tshark`). NetFlow v9 and IPFIX datagrams of known records are written into a pcap as
//! UDP to 127.0.0.1:2055 / 4739; tshark must decode every datagram without a malformed or
//! expert error, find every record, and read the same addresses, ports, counters and
//! sampling interval as we wrote.
//!
//! A missing tshark fails the test with a message pointing at scripts/test, which installs it.

#![allow(clippy::unwrap_used)] // a test: a panic is the failure report

use rampart_flow::export::{ExportConfig, ExportProtocol, Exporter};
use rampart_flow::{FlowFormat, FlowRecord, Timestamp};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::Path;
use std::process::Command;

const NOW: Timestamp = Timestamp::from_millis(1_795_341_600_250);

fn records() -> Vec<FlowRecord> {
    (0..100u32)
        .map(|i| {
            let mut r = FlowRecord::empty(FlowFormat::Netflow9);
            let v6 = i % 4 == 3;
            if v6 {
                r.src_addr = IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0xf000, 0, 0, 0, 0, i as u16));
                r.dst_addr = "2001:db8:1::10".parse().unwrap();
            } else {
                r.src_addr = IpAddr::V4(Ipv4Addr::from(0xc612_0000 + i));
                r.dst_addr = IpAddr::V4(Ipv4Addr::new(203, 0, 113, 10));
            }
            r.ip_protocol = [6, 17, 6, if v6 { 58 } else { 1 }][(i % 4) as usize];
            r.ip_protocol = if i % 10 == 9 {
                if v6 {
                    58
                } else {
                    1
                }
            } else {
                r.ip_protocol
            };
            if matches!(r.ip_protocol, 6 | 17) {
                r.src_port = Some(40_000 + i as u16);
                r.dst_port = Some(443);
            } else {
                r.icmp_type = Some(if v6 { 128 } else { 8 });
                r.icmp_code = Some(0);
            }
            if r.ip_protocol == 6 {
                r.tcp_flags = Some(0x1b);
            }
            r.packets = 1 + u64::from(i);
            r.bytes = 1_000 * (1 + u64::from(i));
            r.start = NOW.saturating_sub_millis(2_000);
            r.end = NOW.saturating_sub_millis(10);
            r.in_if = Some(1);
            r.out_if = Some(2);
            r.ttl = Some(60);
            r.fragment = Some(false);
            r
        })
        .collect()
}

/// A pcap (link type RAW: IPv4 packets) of the datagrams as UDP from 192.0.2.1 to
/// 127.0.0.1:`port`.
fn write_pcap(path: &Path, datagrams: &[Vec<u8>], port: u16) {
    let mut f = Vec::new();
    f.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
    f.extend_from_slice(&2u16.to_le_bytes());
    f.extend_from_slice(&4u16.to_le_bytes());
    f.extend_from_slice(&0u32.to_le_bytes());
    f.extend_from_slice(&0u32.to_le_bytes());
    f.extend_from_slice(&65_535u32.to_le_bytes());
    f.extend_from_slice(&101u32.to_le_bytes());
    for (i, d) in datagrams.iter().enumerate() {
        let len = 28 + d.len();
        let mut ip = vec![
            0x45, 0, 0, 0, 0, 0, 0x40, 0, 64, 17, 0, 0, 192, 0, 2, 1, 127, 0, 0, 1,
        ];
        ip[2..4].copy_from_slice(&(len as u16).to_be_bytes());
        ip[4..6].copy_from_slice(&(i as u16).to_be_bytes());
        let sum = ip
            .chunks(2)
            .map(|c| u32::from(u16::from_be_bytes([c[0], c[1]])))
            .sum::<u32>();
        let sum = (sum & 0xffff) + (sum >> 16);
        let sum = !((sum & 0xffff) + (sum >> 16)) as u16;
        ip[10..12].copy_from_slice(&sum.to_be_bytes());
        ip.extend_from_slice(&40_000u16.to_be_bytes());
        ip.extend_from_slice(&port.to_be_bytes());
        ip.extend_from_slice(&((8 + d.len()) as u16).to_be_bytes());
        ip.extend_from_slice(&[0, 0]); // no UDP checksum (allowed over IPv4)
        ip.extend_from_slice(d);
        let ts = NOW.as_nanos() + i as u64 * 1_000;
        f.extend_from_slice(&((ts / 1_000_000_000) as u32).to_le_bytes());
        f.extend_from_slice(&((ts / 1_000 % 1_000_000) as u32).to_le_bytes());
        f.extend_from_slice(&(len as u32).to_le_bytes());
        f.extend_from_slice(&(len as u32).to_le_bytes());
        f.extend_from_slice(&ip);
    }
    std::fs::write(path, f).unwrap();
}

fn tshark(path: &Path, port: u16, fields: &[&str], filter: Option<&str>) -> String {
    let mut cmd = Command::new("tshark");
    cmd.arg("-n")
        .arg("-r")
        .arg(path)
        .arg("-d")
        .arg(format!("udp.port=={port},cflow"))
        .args(["-T", "fields", "-E", "occurrence=a", "-E", "aggregator=,"]);
    for f in fields {
        cmd.args(["-e", f]);
    }
    if let Some(filter) = filter {
        cmd.args(["-Y", filter]);
    }
    let out = cmd.output().unwrap_or_else(|e| {
        panic!(
            "cannot run tshark ({e}): install it with `apt-get install tshark` (scripts/test does)"
        )
    });
    assert!(
        out.status.success(),
        "tshark failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn work_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("rampart-export-tshark-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The values of one field over a whole run: tshark prints one line per datagram, the
/// occurrences of a field in it joined by commas, fields separated by tabs.
fn column(out: &str, index: usize) -> Vec<String> {
    out.lines()
        .filter_map(|l| l.split('\t').nth(index))
        .flat_map(|c| c.split(','))
        .filter(|v| !v.is_empty())
        .map(str::to_string)
        .collect()
}

#[test]
fn tshark_reads_every_record_as_written() {
    let dir = work_dir();
    let records = records();
    let strings = |f: &dyn Fn(&FlowRecord) -> Option<String>| -> Vec<String> {
        records.iter().filter_map(f).collect()
    };
    let v4 = strings(&|r| r.src_addr.is_ipv4().then(|| r.src_addr.to_string()));
    let v6 = strings(&|r| r.src_addr.is_ipv6().then(|| r.src_addr.to_string()));
    let packets = strings(&|r| Some(r.packets.to_string()));
    let octets = strings(&|r| Some(r.bytes.to_string()));
    let ports = strings(&|r| r.dst_port.map(|p| p.to_string()));
    for (protocol, port, sampling_field, sampling_value) in [
        (
            ExportProtocol::Netflow9,
            2055,
            "cflow.sampling_interval",
            "10",
        ),
        (
            ExportProtocol::Ipfix,
            4739,
            "cflow.sampling_packet_space",
            "9",
        ),
    ] {
        let cfg = ExportConfig {
            protocol,
            sampling_rate: 10,
            template_every: 2,
            system_init: NOW.saturating_sub_millis(86_400_000),
            ..ExportConfig::default()
        };
        let mut e = Exporter::new(cfg).unwrap();
        let datagrams = e.export(NOW, &records);
        let path = dir.join(format!("{port}.pcap"));
        write_pcap(&path, &datagrams, port);

        let name = format!("{protocol:?}");
        let bad = tshark(
            &path,
            port,
            &["frame.number"],
            Some("_ws.malformed || _ws.expert"),
        );
        assert_eq!(bad.trim(), "", "{name}: tshark flags these frames");
        let out = tshark(
            &path,
            port,
            &[
                "cflow.srcaddr",
                "cflow.srcaddrv6",
                "cflow.packets",
                "cflow.octets",
                "cflow.dstport",
                sampling_field,
                "cflow.sequence",
            ],
            None,
        );
        assert_eq!(out.lines().count(), datagrams.len(), "{name}");
        assert_eq!(column(&out, 0), v4, "{name}: IPv4 sources");
        assert_eq!(column(&out, 1), v6, "{name}: IPv6 sources");
        assert_eq!(column(&out, 0).len() + column(&out, 1).len(), records.len());
        assert_eq!(column(&out, 2), packets, "{name}: packets");
        assert_eq!(column(&out, 3), octets, "{name}: octets");
        // ICMP records carry type and code as their destination port too.
        let dst_ports: Vec<String> = column(&out, 4)
            .into_iter()
            .enumerate()
            .filter(|(i, _)| records[*i].dst_port.is_some())
            .map(|(_, p)| p)
            .collect();
        assert_eq!(dst_ports, ports, "{name}: destination ports");
        // Templates and options every third datagram (at the start, then after 2 more).
        let sampling = column(&out, 5);
        assert_eq!(sampling.len(), datagrams.len().div_ceil(3), "{name}");
        assert!(
            sampling.iter().all(|v| v == sampling_value),
            "{name}: {sampling:?}"
        );
        let seq: Vec<u64> = column(&out, 6).iter().map(|s| s.parse().unwrap()).collect();
        assert!(
            seq.windows(2).all(|w| w[0] < w[1]),
            "{name}: sequence {seq:?}"
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
