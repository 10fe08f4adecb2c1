//! `rampart decode`: print the flow records of a capture or a datagram, as JSON lines for
//! scripts or as text for people. Bad packets are counted and reported, never fatal.

use crate::input::{self, Input};
use crate::DecodeFormat;
use anyhow::{Context, Result};
use rampart_flow::{CaptureDecoder, FlowDecoder, FlowRecord, RecordSink, Timestamp};
use std::io::{self, BufWriter, Write};
use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;

/// Per-packet errors logged individually before only the total is reported.
const LOGGED_ERRORS: u64 = 10;

struct Printer<W: Write> {
    out: W,
    format: DecodeFormat,
    /// The first write error (a closed pipe, a full disk); later records are dropped.
    failed: Option<io::Error>,
}

impl<W: Write> RecordSink for Printer<W> {
    fn record(&mut self, r: &FlowRecord) {
        if self.failed.is_some() {
            return;
        }
        let res = match self.format {
            DecodeFormat::Jsonl => serde_json::to_writer(&mut self.out, r)
                .map_err(io::Error::from)
                .and_then(|()| self.out.write_all(b"\n")),
            DecodeFormat::Text => writeln!(self.out, "{}", text(r)),
        };
        if let Err(e) = res {
            self.failed = Some(e);
        }
    }
}

pub fn text(r: &FlowRecord) -> String {
    let endpoint = |a: IpAddr, p: Option<u16>| match (a, p) {
        (IpAddr::V6(a), Some(p)) => format!("[{a}]:{p}"),
        (a, Some(p)) => format!("{a}:{p}"),
        (a, None) => a.to_string(),
    };
    let proto = match r.ip_protocol {
        1 => "icmp".to_string(),
        6 => "tcp".to_string(),
        17 => "udp".to_string(),
        58 => "icmp6".to_string(),
        p => format!("proto {p}"),
    };
    let mut line = format!(
        "{} {:<8} {} > {} {proto} {} pkts {} bytes",
        r.start,
        r.format.as_str(),
        endpoint(r.src_addr, r.src_port),
        endpoint(r.dst_addr, r.dst_port),
        r.packets,
        r.bytes,
    );
    if let Some(flags) = r.tcp_flags {
        line.push_str(&format!(" flags {}", tcp_flags(flags)));
    }
    if r.sampling_rate > 1 {
        line.push_str(&format!(" sampled 1:{}", r.sampling_rate));
    }
    if let Some(e) = r.exporter {
        line.push_str(&format!(" from {e}/{}", r.observation_domain));
    }
    line
}

fn tcp_flags(f: u8) -> String {
    const NAMES: [(u8, char); 8] = [
        (0x80, 'C'),
        (0x40, 'E'),
        (0x20, 'U'),
        (0x10, '.'),
        (0x08, 'P'),
        (0x04, 'R'),
        (0x02, 'S'),
        (0x01, 'F'),
    ];
    NAMES
        .iter()
        .filter(|(bit, _)| f & bit != 0)
        .map(|(_, c)| *c)
        .collect()
}

pub fn run(path: &Path, format: DecodeFormat) -> Result<()> {
    let stdout = io::stdout().lock();
    let mut printer = Printer {
        out: BufWriter::with_capacity(1 << 16, stdout),
        format,
        failed: None,
    };
    let name = path.display();
    match input::open(path)? {
        Input::Datagram(bytes) => {
            let mut decoder = FlowDecoder::default();
            // A lone datagram carries no receive time; its own export time is used instead.
            let exporter = IpAddr::V4(Ipv4Addr::UNSPECIFIED);
            decoder
                .decode(&bytes, exporter, Timestamp::EPOCH, &mut printer)
                .with_context(|| format!("{name}: datagram"))?;
        }
        Input::Capture(mut reader) => {
            let mut decoder = CaptureDecoder::default();
            let mut index = 0u64;
            while let Some(packet) = reader
                .next_packet()
                .with_context(|| format!("{name}: after packet {index}"))?
            {
                index += 1;
                if let Err(e) = decoder.packet(&packet, &mut printer) {
                    if decoder.stats().errors <= LOGGED_ERRORS {
                        tracing::warn!(file = %name, packet = index, error = %e, "undecodable packet");
                    }
                }
                if printer.failed.is_some() {
                    break;
                }
            }
            let s = decoder.stats();
            let f = decoder.flow_decoder().stats();
            tracing::info!(
                file = %name,
                packets = s.packets,
                packet_records = s.packet_records,
                flow_datagrams = s.flow_datagrams,
                flow_records = f.records,
                non_ip = s.non_ip,
                errors = s.errors,
                template_misses = f.template_misses,
                "decoded"
            );
        }
    }
    if let Some(e) = printer.failed.take() {
        // A reader that went away (`| head`) is not an error of ours.
        if e.kind() != io::ErrorKind::BrokenPipe {
            return Err(e).context("writing records");
        }
        return Ok(());
    }
    match printer.out.flush() {
        Err(e) if e.kind() != io::ErrorKind::BrokenPipe => Err(e).context("writing records"),
        _ => Ok(()),
    }
}
