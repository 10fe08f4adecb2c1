//! Synthetic exports and captures shaped like real ones, for benchmarks and allocation tests:
//! NetFlow v9 and IPFIX datagrams of 30 records with a 13-field template re-sent every 20
//! datagrams, sFlow v5 datagrams of 7 flow samples with 128-byte Ethernet headers, and a
//! pcap of Ethernet frames in an IMIX size mix.
#![allow(dead_code)]

const RECORDS_PER_DATAGRAM: u32 = 30;
const EXPORT_SECS: u32 = 1_795_341_600;

fn put16(b: &mut Vec<u8>, v: u16) {
    b.extend_from_slice(&v.to_be_bytes());
}
fn put32(b: &mut Vec<u8>, v: u32) {
    b.extend_from_slice(&v.to_be_bytes());
}
fn put64(b: &mut Vec<u8>, v: u64) {
    b.extend_from_slice(&v.to_be_bytes());
}

/// (information element, length) of the NetFlow v9 template.
const V9_FIELDS: [(u16, u16); 13] = [
    (8, 4),
    (12, 4),
    (7, 2),
    (11, 2),
    (4, 1),
    (6, 1),
    (5, 1),
    (1, 4),
    (2, 4),
    (22, 4),
    (21, 4),
    (10, 2),
    (14, 2),
];
/// The IPFIX template: 64-bit counters and absolute millisecond times.
const IPFIX_FIELDS: [(u16, u16); 13] = [
    (8, 4),
    (12, 4),
    (7, 2),
    (11, 2),
    (4, 1),
    (6, 1),
    (5, 1),
    (1, 8),
    (2, 8),
    (152, 8),
    (153, 8),
    (10, 4),
    (14, 4),
];

fn flow_fields(b: &mut Vec<u8>, i: u32, ipfix: bool) {
    put32(b, 0x0a00_0000 | (i & 0xffff)); // 10.0.x.y
    put32(b, 0xcb00_7100 | (i % 200)); // 203.0.113.z
    put16(b, 1024 + (i % 60_000) as u16);
    put16(b, [80, 443, 53, 22][i as usize % 4]);
    b.push(if i % 4 == 2 { 17 } else { 6 });
    b.push(0x18);
    b.push(0);
    if ipfix {
        put64(b, 1500 * u64::from(i % 50 + 1));
        put64(b, u64::from(i % 50 + 1));
        put64(b, u64::from(EXPORT_SECS) * 1000 - 5_000);
        put64(b, u64::from(EXPORT_SECS) * 1000 - 1_000);
        put32(b, 1);
        put32(b, 2);
    } else {
        put32(b, 1500 * (i % 50 + 1));
        put32(b, i % 50 + 1);
        put32(b, 995_000);
        put32(b, 999_000);
        put16(b, 1);
        put16(b, 2);
    }
}

fn template_set(b: &mut Vec<u8>, set_id: u16, fields: &[(u16, u16)]) {
    put16(b, set_id);
    put16(b, (4 + 4 + 4 * fields.len()) as u16);
    put16(b, 256);
    put16(b, fields.len() as u16);
    for &(ie, len) in fields {
        put16(b, ie);
        put16(b, len);
    }
}

fn data_set(b: &mut Vec<u8>, first: u32, ipfix: bool) {
    let at = b.len();
    put16(b, 256);
    put16(b, 0);
    for i in first..first + RECORDS_PER_DATAGRAM {
        flow_fields(b, i, ipfix);
    }
    while !(b.len() - at).is_multiple_of(4) {
        b.push(0);
    }
    let len = (b.len() - at) as u16;
    b[at + 2..at + 4].copy_from_slice(&len.to_be_bytes());
}

pub fn netflow9_stream(datagrams: u32) -> Vec<Vec<u8>> {
    (0..datagrams)
        .map(|n| {
            let mut b = Vec::with_capacity(1500);
            put16(&mut b, 9);
            put16(
                &mut b,
                (RECORDS_PER_DATAGRAM + u32::from(n % 20 == 0)) as u16,
            );
            put32(&mut b, 1_000_000); // uptime ms
            put32(&mut b, EXPORT_SECS);
            put32(&mut b, n);
            put32(&mut b, 0);
            if n % 20 == 0 {
                template_set(&mut b, 0, &V9_FIELDS);
            }
            data_set(&mut b, n * RECORDS_PER_DATAGRAM, false);
            b
        })
        .collect()
}

pub fn ipfix_stream(datagrams: u32) -> Vec<Vec<u8>> {
    (0..datagrams)
        .map(|n| {
            let mut b = Vec::with_capacity(2000);
            put16(&mut b, 10);
            put16(&mut b, 0);
            put32(&mut b, EXPORT_SECS);
            put32(&mut b, n);
            put32(&mut b, 0);
            if n % 20 == 0 {
                template_set(&mut b, 2, &IPFIX_FIELDS);
            }
            data_set(&mut b, n * RECORDS_PER_DATAGRAM, true);
            let len = b.len() as u16;
            b[2..4].copy_from_slice(&len.to_be_bytes());
            b
        })
        .collect()
}

/// An Ethernet/IPv4/TCP frame of `len` bytes (at least 54).
pub fn ethernet_frame(i: u32, len: usize) -> Vec<u8> {
    let mut f = Vec::with_capacity(len);
    f.extend_from_slice(&[0x02, 0, 0, 0, 0, 1, 0x02, 0, 0, 0, 0, 2, 0x08, 0x00]);
    let ip_len = (len - 14) as u16;
    f.extend_from_slice(&[0x45, 0]);
    put16(&mut f, ip_len);
    f.extend_from_slice(&[0, 0, 0x40, 0, 64, 6, 0, 0]);
    put32(&mut f, 0xc633_6400 | (i & 0xff)); // 198.51.100.x
    put32(&mut f, 0xcb00_710a); // 203.0.113.10
    put16(&mut f, 1024 + (i % 60_000) as u16);
    put16(&mut f, 443);
    put32(&mut f, i);
    put32(&mut f, 0);
    f.extend_from_slice(&[0x50, 0x02, 0xff, 0xff, 0, 0, 0, 0]);
    f.resize(len, 0);
    f
}

pub fn sflow_stream(datagrams: u32) -> Vec<Vec<u8>> {
    const SAMPLES: u32 = 7;
    (0..datagrams)
        .map(|n| {
            let mut b = Vec::with_capacity(1400);
            put32(&mut b, 5);
            put32(&mut b, 1);
            put32(&mut b, 0xc000_0201); // agent 192.0.2.1
            put32(&mut b, 0);
            put32(&mut b, n);
            put32(&mut b, 1_000_000);
            put32(&mut b, SAMPLES);
            for s in 0..SAMPLES {
                let header = ethernet_frame(n * SAMPLES + s, 128);
                put32(&mut b, 1); // flow sample
                let sample_len_at = b.len();
                put32(&mut b, 0);
                let start = b.len();
                put32(&mut b, n * SAMPLES + s); // sequence
                put32(&mut b, 3); // source id
                put32(&mut b, 1000); // sampling rate
                put32(&mut b, 1000 * (n * SAMPLES + s)); // pool
                put32(&mut b, 0); // drops
                put32(&mut b, 3); // input
                put32(&mut b, 4); // output
                put32(&mut b, 1); // one flow record
                put32(&mut b, 1); // raw packet header
                put32(&mut b, 16 + header.len() as u32);
                put32(&mut b, 1); // Ethernet
                put32(&mut b, 1518); // frame length
                put32(&mut b, 4); // stripped (FCS)
                put32(&mut b, header.len() as u32);
                b.extend_from_slice(&header);
                let len = (b.len() - start) as u32;
                b[sample_len_at..sample_len_at + 4].copy_from_slice(&len.to_be_bytes());
            }
            b
        })
        .collect()
}

/// A microsecond pcap of `count` Ethernet frames in the simple IMIX mix (7:4:1 of 64, 594
/// and 1518 bytes on the wire, captured without the 4-byte FCS).
pub fn pcap_of_frames(count: u32) -> Vec<u8> {
    let mut b = Vec::new();
    b.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
    b.extend_from_slice(&2u16.to_le_bytes());
    b.extend_from_slice(&4u16.to_le_bytes());
    b.extend_from_slice(&[0; 8]);
    b.extend_from_slice(&65_535u32.to_le_bytes());
    b.extend_from_slice(&1u32.to_le_bytes());
    for i in 0..count {
        let len = [60, 60, 60, 60, 60, 60, 60, 590, 590, 590, 590, 1514][i as usize % 12];
        let frame = ethernet_frame(i, len);
        b.extend_from_slice(&EXPORT_SECS.to_le_bytes());
        b.extend_from_slice(&(i % 1_000_000).to_le_bytes());
        b.extend_from_slice(&(frame.len() as u32).to_le_bytes());
        b.extend_from_slice(&(frame.len() as u32).to_le_bytes());
        b.extend_from_slice(&frame);
    }
    b
}
