//! Writes the synthetic exports of the benchmarks into a pcap (Ethernet/IPv4/UDP from
//! 192.0.2.1 to 192.0.2.2), so that whole-run benchmarks can feed the same bytes to rampart
//! and to peer tools: `cargo run --release --example synth_pcap -- netflow9 20000 out.pcap`.

use std::io::{BufWriter, Write};

#[path = "../tests/support/synth.rs"]
mod synth;

fn udp_frame(payload: &[u8], dst_port: u16) -> Vec<u8> {
    let mut f = vec![0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1, 0x08, 0x00];
    let ip_len = (20 + 8 + payload.len()) as u16;
    f.extend_from_slice(&[0x45, 0]);
    f.extend_from_slice(&ip_len.to_be_bytes());
    f.extend_from_slice(&[0, 0, 0x40, 0, 64, 17, 0, 0, 192, 0, 2, 1, 192, 0, 2, 2]);
    f.extend_from_slice(&40_000u16.to_be_bytes());
    f.extend_from_slice(&dst_port.to_be_bytes());
    f.extend_from_slice(&(8 + payload.len() as u16).to_be_bytes());
    f.extend_from_slice(&[0, 0]);
    f.extend_from_slice(payload);
    f
}

fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let [_, kind, count, out] = &args[..] else {
        eprintln!("usage: synth_pcap netflow9|ipfix|sflow5|packets COUNT OUT.pcap");
        std::process::exit(2);
    };
    let count: u32 = count.parse().expect("COUNT is a number");
    let mut w = BufWriter::new(std::fs::File::create(out)?);
    if kind == "packets" {
        return w.write_all(&synth::pcap_of_frames(count));
    }
    let (datagrams, port) = match kind.as_str() {
        "netflow9" => (synth::netflow9_stream(count), 2055),
        "ipfix" => (synth::ipfix_stream(count), 4739),
        "sflow5" => (synth::sflow_stream(count), 6343),
        _ => {
            eprintln!("unknown kind {kind}");
            std::process::exit(2);
        }
    };
    w.write_all(&0xa1b2_c3d4u32.to_le_bytes())?;
    w.write_all(&[2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0])?;
    w.write_all(&65_535u32.to_le_bytes())?;
    w.write_all(&1u32.to_le_bytes())?;
    for (i, d) in datagrams.iter().enumerate() {
        let frame = udp_frame(d, port);
        w.write_all(&1_795_341_600u32.to_le_bytes())?;
        w.write_all(&((i as u32 * 100) % 1_000_000).to_le_bytes())?;
        w.write_all(&(frame.len() as u32).to_le_bytes())?;
        w.write_all(&(frame.len() as u32).to_le_bytes())?;
        w.write_all(&frame)?;
    }
    w.flush()
}
