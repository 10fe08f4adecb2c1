//! NetFlow v5 made by hand for the daemon's tests: records stamped with the wall clock, so
//! that `rampart serve` counts them as traffic of now.
#![allow(dead_code, clippy::unwrap_used)]

use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::time::{SystemTime, UNIX_EPOCH};

/// One NetFlow v5 record: source, destination, ports, protocol, flags, packets, and its
/// duration in milliseconds (ending now).
pub struct Rec {
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
    pub sport: u16,
    pub dport: u16,
    pub proto: u8,
    pub flags: u8,
    pub packets: u32,
    pub duration_ms: u32,
}

/// NetFlow v5 datagrams (30 records each) stamped with the wall clock.
pub fn send_v5(to: SocketAddr, recs: &[Rec]) {
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    let uptime: u32 = 3_600_000;
    for chunk in recs.chunks(30) {
        let mut d = Vec::with_capacity(24 + 48 * chunk.len());
        d.extend_from_slice(&5u16.to_be_bytes());
        d.extend_from_slice(&(chunk.len() as u16).to_be_bytes());
        d.extend_from_slice(&uptime.to_be_bytes());
        d.extend_from_slice(&(now.as_secs() as u32).to_be_bytes());
        d.extend_from_slice(&now.subsec_nanos().to_be_bytes());
        d.extend_from_slice(&[0; 8]); // sequence, engine, sampling
        for r in chunk {
            d.extend_from_slice(&r.src.octets());
            d.extend_from_slice(&r.dst.octets());
            d.extend_from_slice(&[0; 4]); // next hop
            d.extend_from_slice(&[0; 4]); // input, output
            d.extend_from_slice(&r.packets.to_be_bytes());
            d.extend_from_slice(&(r.packets * 60).to_be_bytes());
            d.extend_from_slice(&(uptime - r.duration_ms).to_be_bytes());
            d.extend_from_slice(&uptime.to_be_bytes());
            d.extend_from_slice(&r.sport.to_be_bytes());
            d.extend_from_slice(&r.dport.to_be_bytes());
            d.extend_from_slice(&[0, r.flags, r.proto, 0]);
            d.extend_from_slice(&[0; 8]); // AS numbers, masks, padding
        }
        s.send_to(&d, to).unwrap();
    }
}

/// Half a second of a SYN flood toward 203.0.113.100: 30 records of 200 packets.
pub fn syn_flood_burst(to: SocketAddr) {
    let flood: Vec<Rec> = (0..30u32)
        .map(|i| Rec {
            src: Ipv4Addr::from(0xc633_6400 + i),
            dst: Ipv4Addr::new(203, 0, 113, 100),
            sport: 1024 + i as u16,
            dport: 80,
            proto: 6,
            flags: 0x02,
            packets: 200,
            duration_ms: 500,
        })
        .collect();
    send_v5(to, &flood);
}
