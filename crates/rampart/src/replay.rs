//! `rampart replay`: resend the flow-export datagrams found in a capture to a collector, at
//! the capture's own pace or a fixed rate, with export times moved to the present so that a
//! live collector treats them as fresh.
//!
//! Built to be the load generator of ingest benchmarks: the capture is read and analysed
//! once, into memory; each send then only patches a few known bytes of each datagram (the
//! export time, the absolute times inside records, the sequence number on later loops) and
//! hands batches of datagrams to the kernel with `sendmmsg`, paced against a clock by batch.

use crate::input::{self, Input};
use anyhow::{bail, Context, Result};
use nix::sys::socket::{sendmmsg, MsgFlags, MultiHeaders, SockaddrStorage};
use rampart_flow::packet::{parse_frame, LinkType};
use rampart_flow::{sniff, FlowDecoder, FlowFormat, FlowRecord, Timestamp};
use std::collections::HashMap;
use std::io::IoSlice;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;
use std::path::Path;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Datagram bytes held in memory at most: a capture of 700,000 full NetFlow datagrams.
const MAX_BYTES: usize = 1 << 30;
/// Datagrams handed to one `sendmmsg`.
const BATCH: usize = 64;
/// Whole seconds by which a copy of each datagram is moved when the capture is loaded:
/// the bytes that change are the absolute times. Chosen so that the lowest byte of every
/// time changes, in seconds (0x0f4241) and in milliseconds (0x3b9acde8).
const PROBE_SECS: u32 = 1_000_001;

/// How fast to send.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Pace {
    /// As the capture was recorded.
    Capture,
    /// Datagrams per second.
    Datagrams(f64),
    /// Flow records per second (each datagram weighs the records it carries).
    Records(f64),
}

/// A time field inside a datagram, by its absolute offset in `Capture::bytes`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Patch {
    Secs32(usize),
    Millis64(usize),
}

#[derive(Clone, Debug)]
struct Datagram {
    start: usize,
    len: usize,
    captured_ns: u64,
    /// Records (and options records) it carries, as our decoder counts them.
    records: u32,
    format: FlowFormat,
    /// The export time as captured, in seconds.
    export_secs: u32,
    /// The shift (seconds) its record times carry now.
    shifted_s: i64,
    patches: std::ops::Range<usize>,
    /// Its exporter's stream (exporter, format, domain), for sequence numbers.
    stream: usize,
    sequence: u32,
}

/// A capture's datagrams, ready to send again and again.
#[derive(Debug, Default)]
struct Capture {
    bytes: Vec<u8>,
    datagrams: Vec<Datagram>,
    patches: Vec<Patch>,
    /// Per stream: how far its sequence numbers advance in one loop of the capture.
    stream_advance: Vec<u32>,
    /// Packets that were no flow export.
    skipped: u64,
    /// v9/IPFIX datagrams whose record times could not be located (sent with only the
    /// header moved).
    unlocated: u64,
}

/// Where a format keeps its export time (seconds) and its sequence number.
fn header_fields(format: FlowFormat) -> Option<(usize, usize)> {
    match format {
        FlowFormat::Netflow5 => Some((8, 16)),
        FlowFormat::Netflow9 => Some((8, 12)),
        FlowFormat::Ipfix => Some((4, 8)),
        _ => None,
    }
}

fn be32(b: &[u8], at: usize) -> u32 {
    b.get(at..at + 4)
        .map_or(0, |b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
}

fn be64(b: &[u8], at: usize) -> u64 {
    b.get(at..at + 8).map_or(0, |b| {
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        u64::from_be_bytes(a)
    })
}

/// The time fields of `original`, found by comparing it with `moved`, a copy whose times
/// [`FlowDecoder::rewrite_export_time`] moved by `PROBE_SECS`. Walking back from the end,
/// each changed byte is the lowest of a field (every byte of the probe's shift is non-zero,
/// so a field's changed bytes run up to its lowest one); the shift tells its width. None
/// when a change fits neither width.
fn locate_times(original: &[u8], moved: &[u8], from: usize) -> Option<Vec<(usize, bool)>> {
    let secs = PROBE_SECS;
    let millis = u64::from(PROBE_SECS) * 1000;
    let mut found = Vec::new();
    let mut i = original.len().min(moved.len());
    while i > from {
        i -= 1;
        if original[i] == moved[i] {
            continue;
        }
        let last = i + 1;
        if last >= from + 4 && be32(moved, last - 4).wrapping_sub(be32(original, last - 4)) == secs
        {
            found.push((last - 4, false));
            i = last - 4;
        } else if last >= from + 8
            && be64(moved, last - 8).wrapping_sub(be64(original, last - 8)) == millis
        {
            found.push((last - 8, true));
            i = last - 8;
        } else {
            return None;
        }
    }
    Some(found)
}

fn load(path: &Path, rewrite: bool) -> Result<Capture> {
    let name = path.display();
    let mut c = Capture::default();
    let mut decoder = FlowDecoder::default();
    let mut streams: HashMap<(IpAddr, FlowFormat, u32), usize> = HashMap::new();
    let mut probe = Vec::new();
    let mut add =
        |c: &mut Capture, payload: &[u8], exporter: IpAddr, captured_ns: u64| -> Result<()> {
            let Some(format) = sniff(payload) else {
                c.skipped += 1;
                return Ok(());
            };
            if c.bytes.len() + payload.len() > MAX_BYTES {
                bail!(
                    "{name}: more than {} MiB of flow datagrams; replay holds them in memory, so \
                 split the capture (editcap -c)",
                    MAX_BYTES >> 20
                );
            }
            let before = decoder.stats();
            let header = header_fields(format);
            let export_secs = header.map_or(0, |(t, _)| be32(payload, t));
            let start = c.bytes.len();
            c.bytes.extend_from_slice(payload);
            let first_patch = c.patches.len();
            let templated = matches!(format, FlowFormat::Netflow9 | FlowFormat::Ipfix);
            if rewrite && templated {
                probe.clear();
                probe.extend_from_slice(payload);
                let to = Timestamp::from_secs(u64::from(export_secs) + u64::from(PROBE_SECS));
                decoder.rewrite_export_time(&mut probe, exporter, to);
                let header_len = if format == FlowFormat::Ipfix { 16 } else { 20 };
                match locate_times(payload, &probe, header_len) {
                    Some(times) => c.patches.extend(times.into_iter().map(|(at, ms)| {
                        if ms {
                            Patch::Millis64(start + at)
                        } else {
                            Patch::Secs32(start + at)
                        }
                    })),
                    None => c.unlocated += 1,
                }
            } else {
                let _ = decoder.decode(
                    payload,
                    exporter,
                    Timestamp::from_nanos(captured_ns),
                    &mut |_: &FlowRecord| {},
                );
            }
            let after = decoder.stats();
            let records = (after.records + after.options_records + after.records_without_addresses)
                .saturating_sub(
                    before.records + before.options_records + before.records_without_addresses,
                );
            let domain = match format {
                FlowFormat::Netflow9 => be32(payload, 16),
                FlowFormat::Ipfix => be32(payload, 12),
                FlowFormat::Netflow5 => u32::from(
                    payload
                        .get(20..22)
                        .map_or(0, |b| u16::from_be_bytes([b[0], b[1]])),
                ),
                _ => 0,
            };
            let next = streams.len();
            let stream = *streams.entry((exporter, format, domain)).or_insert(next);
            if stream == c.stream_advance.len() {
                c.stream_advance.push(0);
            }
            // v9 counts datagrams; IPFIX and v5 count records.
            c.stream_advance[stream] = c.stream_advance[stream].wrapping_add(match format {
                FlowFormat::Netflow9 => 1,
                _ => records as u32,
            });
            c.datagrams.push(Datagram {
                start,
                len: payload.len(),
                captured_ns,
                records: records as u32,
                format,
                export_secs,
                shifted_s: 0,
                patches: first_patch..c.patches.len(),
                stream,
                sequence: header.map_or(0, |(_, s)| be32(payload, s)),
            });
            Ok(())
        };
    match input::open(path)? {
        Input::Datagram(bytes) => add(&mut c, &bytes, IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0)?,
        Input::Capture(mut reader) => {
            while let Some(p) = reader
                .next_packet()
                .with_context(|| format!("{name}: reading"))?
            {
                let summary = LinkType::from_linktype(p.linktype)
                    .and_then(|link| parse_frame(link, p.data).ok().flatten());
                let payload = summary
                    .and_then(|s| s.udp_payload.map(|(from, to)| (s.src_addr, from, to)))
                    .and_then(|(src, from, to)| p.data.get(from..to).map(|d| (src, d)));
                match payload {
                    Some((src, d)) => add(&mut c, d, src, p.timestamp.as_nanos())?,
                    None => c.skipped += 1,
                }
            }
        }
    }
    if c.datagrams.is_empty() {
        bail!("{name}: no NetFlow, IPFIX or sFlow datagrams to replay");
    }
    Ok(c)
}

impl Capture {
    /// Moves datagram `i` to `now` for loop `round` (0 first): its export time, the times in
    /// its records by as much, and its sequence number by the loops before.
    fn retime(&mut self, i: usize, now: Timestamp, round: u64) {
        let d = &mut self.datagrams[i];
        let Some((time_at, seq_at)) = header_fields(d.format) else {
            return;
        };
        let b = &mut self.bytes[d.start..d.start + d.len];
        let secs = now.as_secs() as u32;
        b[time_at..time_at + 4].copy_from_slice(&secs.to_be_bytes());
        if d.format == FlowFormat::Netflow5 {
            let nanos = (now.as_nanos() % 1_000_000_000) as u32;
            b[12..16].copy_from_slice(&nanos.to_be_bytes());
        }
        let advance = self.stream_advance[d.stream].wrapping_mul(round as u32);
        b[seq_at..seq_at + 4].copy_from_slice(&d.sequence.wrapping_add(advance).to_be_bytes());
        let shift = i64::from(secs) - i64::from(d.export_secs);
        let by = shift - d.shifted_s;
        d.shifted_s = shift;
        if by == 0 {
            return;
        }
        for p in &self.patches[d.patches.clone()] {
            match *p {
                Patch::Secs32(at) => {
                    let v = be32(&self.bytes, at).wrapping_add(by as u32);
                    self.bytes[at..at + 4].copy_from_slice(&v.to_be_bytes());
                }
                Patch::Millis64(at) => {
                    let v = be64(&self.bytes, at).wrapping_add((by * 1000) as u64);
                    self.bytes[at..at + 8].copy_from_slice(&v.to_be_bytes());
                }
            }
        }
    }

    fn bytes_of(&self, i: usize) -> &[u8] {
        let d = &self.datagrams[i];
        &self.bytes[d.start..d.start + d.len]
    }
}

fn wall_clock() -> Timestamp {
    let d = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    Timestamp::from_secs_nanos(d.as_secs(), d.subsec_nanos())
}

/// What a run sent.
#[derive(Clone, Copy, Debug, Default)]
struct Sent {
    datagrams: u64,
    records: u64,
    /// Datagrams the kernel refused because nobody listened (ICMP port unreachable).
    refused: u64,
}

/// Sends `batch` (indexes into the capture) in one `sendmmsg`; returns how many went.
fn send_batch(
    socket: &UdpSocket,
    headers: &mut MultiHeaders<SockaddrStorage>,
    capture: &Capture,
    batch: std::ops::Range<usize>,
    addrs: &[Option<SockaddrStorage>],
) -> nix::Result<usize> {
    let iovs: Vec<[IoSlice<'_>; 1]> = batch.map(|i| [IoSlice::new(capture.bytes_of(i))]).collect();
    let results = sendmmsg(
        socket.as_raw_fd(),
        headers,
        &iovs,
        addrs,
        [] as [nix::sys::socket::ControlMessage<'_>; 0],
        MsgFlags::empty(),
    )?;
    Ok(results.count())
}

pub fn run(path: &Path, to: SocketAddr, pace: Pace, loops: u64, rewrite: bool) -> Result<()> {
    if let Pace::Datagrams(r) | Pace::Records(r) = pace {
        if !(r.is_finite() && r > 0.0) {
            bail!("--rate and --rate-records must be positive numbers per second, not {r}");
        }
    }
    let bind: SocketAddr = if to.is_ipv4() {
        ([0, 0, 0, 0], 0).into()
    } else {
        ([0u16; 8], 0).into()
    };
    let socket = UdpSocket::bind(bind).context("cannot open a UDP socket")?;
    socket
        .connect(to)
        .with_context(|| format!("cannot send to {to}"))?;
    let name = path.display();
    let mut capture = load(path, rewrite)?;
    if capture.unlocated > 0 {
        tracing::warn!(file = %name, datagrams = capture.unlocated,
            "record times not found in some datagrams: only their export time is moved");
    }
    let n = capture.datagrams.len();
    let weight = |d: &Datagram| match pace {
        Pace::Records(_) => f64::from(d.records),
        _ => 1.0,
    };
    let per_s = match pace {
        Pace::Datagrams(r) | Pace::Records(r) => r,
        Pace::Capture => 0.0,
    };
    let mut headers = MultiHeaders::<SockaddrStorage>::preallocate(BATCH, None);
    let addrs = [None; BATCH];
    let mut sent = Sent::default();
    let began = Instant::now();
    // Units (datagrams or records) sent so far, which the clock must have allowed.
    let mut units = 0.0f64;
    let mut round = 0u64;
    while loops == 0 || round < loops {
        let round_start = Instant::now();
        let first_ns = capture.datagrams[0].captured_ns;
        let due = |capture: &Capture, i: usize, units: f64| -> Duration {
            match pace {
                Pace::Capture => {
                    (round_start - began)
                        + Duration::from_nanos(
                            capture.datagrams[i].captured_ns.saturating_sub(first_ns),
                        )
                }
                _ => Duration::from_secs_f64(units / per_s),
            }
        };
        let mut i = 0;
        while i < n {
            let elapsed = began.elapsed();
            let first_due = due(&capture, i, units);
            if first_due > elapsed {
                std::thread::sleep(first_due - elapsed);
                continue;
            }
            // Everything due by now, up to a batch.
            let mut j = i;
            let mut batch_units = 0.0;
            while j < n && j - i < BATCH && due(&capture, j, units + batch_units) <= elapsed {
                batch_units += weight(&capture.datagrams[j]);
                j += 1;
            }
            let j = j.max(i + 1);
            if rewrite {
                let now = wall_clock();
                for k in i..j {
                    capture.retime(k, now, round);
                }
            }
            let went = match send_batch(&socket, &mut headers, &capture, i..j, &addrs) {
                Ok(m) => m,
                Err(nix::errno::Errno::ECONNREFUSED) => {
                    // The error of an earlier datagram; this one was not sent. Lost, as a
                    // real exporter's would be.
                    sent.refused += 1;
                    1
                }
                Err(nix::errno::Errno::ENOBUFS | nix::errno::Errno::EAGAIN) => {
                    std::thread::yield_now();
                    0
                }
                Err(e) => return Err(e).with_context(|| format!("sending to {to}")),
            };
            for d in &capture.datagrams[i..i + went] {
                units += weight(d);
                sent.records += u64::from(d.records);
            }
            sent.datagrams += went as u64;
            i += went;
        }
        round += 1;
    }
    let secs = began.elapsed().as_secs_f64().max(1e-9);
    eprintln!(
        "replay: {name} to {to}: {} datagrams, {} records in {:.3} s ({} loops): {:.0} \
         datagrams/s, {:.0} records/s{}{}",
        sent.datagrams,
        sent.records,
        secs,
        round,
        sent.datagrams as f64 / secs,
        sent.records as f64 / secs,
        if sent.refused > 0 {
            format!("; {} refused (nobody listening)", sent.refused)
        } else {
            String::new()
        },
        if capture.skipped > 0 {
            format!(
                "; {} packets of the capture were no flow export",
                capture.skipped
            )
        } else {
            String::new()
        },
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_fields_are_located_by_their_shift() {
        // A header of 4 bytes, then a u32 of seconds, a u64 of milliseconds right after
        // it, a byte that does not change and another u32 of seconds.
        let mut original = vec![0u8; 4];
        original.extend_from_slice(&1_795_341_600u32.to_be_bytes());
        original.extend_from_slice(&1_795_341_600_250u64.to_be_bytes());
        original.push(7);
        original.extend_from_slice(&0xffff_fff0u32.to_be_bytes()); // wraps when moved
        let mut moved = original.clone();
        let put32 =
            |b: &mut Vec<u8>, at: usize, v: u32| b[at..at + 4].copy_from_slice(&v.to_be_bytes());
        put32(&mut moved, 4, 1_795_341_600 + PROBE_SECS);
        moved[8..16]
            .copy_from_slice(&(1_795_341_600_250u64 + u64::from(PROBE_SECS) * 1000).to_be_bytes());
        put32(&mut moved, 17, 0xffff_fff0u32.wrapping_add(PROBE_SECS));
        assert_eq!(
            locate_times(&original, &moved, 4),
            Some(vec![(17, false), (8, true), (4, false)])
        );
        // A change that is no time.
        moved[16] = 8;
        assert_eq!(locate_times(&original, &moved, 4), None);
    }

    /// One IPFIX message of our exporter (templates and two records with absolute
    /// millisecond times), loaded from a file holding just it, moved to two later times.
    #[test]
    fn retiming_moves_record_times_with_the_header_and_sequence_by_loop() {
        use rampart_flow::export::{ExportConfig, ExportProtocol, Exporter};
        let t0 = Timestamp::from_millis(1_795_341_600_250);
        let mut records = Vec::new();
        for i in 0..2u8 {
            let mut r = FlowRecord::empty(FlowFormat::Ipfix);
            r.src_addr = IpAddr::V4(Ipv4Addr::new(198, 18, 0, i));
            r.dst_addr = IpAddr::V4(Ipv4Addr::new(203, 0, 113, 10));
            r.ip_protocol = 17;
            r.packets = 1;
            r.bytes = 100;
            r.start = t0.saturating_sub_millis(1_500);
            r.end = t0.saturating_sub_millis(10);
            records.push(r);
        }
        let mut e = Exporter::new(ExportConfig {
            protocol: ExportProtocol::Ipfix,
            ..ExportConfig::default()
        })
        .unwrap();
        let datagram = e.export(t0, &records).remove(0);
        let path =
            std::env::temp_dir().join(format!("rampart-replay-{}.ipfix", std::process::id()));
        std::fs::write(&path, &datagram).unwrap();
        let mut c = load(&path, true).unwrap();
        std::fs::remove_file(&path).unwrap();
        // Two flow records and the sampling options record: 2 times located per record.
        assert_eq!(
            (c.datagrams[0].records, c.patches.len(), c.unlocated),
            (3, 4, 0)
        );
        let decode = |c: &Capture| {
            let mut got = Vec::new();
            FlowDecoder::default()
                .decode(
                    c.bytes_of(0),
                    IpAddr::V4(Ipv4Addr::UNSPECIFIED),
                    t0,
                    &mut |r: &FlowRecord| got.push(r.clone()),
                )
                .unwrap();
            got
        };
        for (round, later_s) in [(0u64, 3_600u64), (1, 7_200), (5, 100)] {
            let now = Timestamp::from_secs(t0.as_secs() + later_s);
            c.retime(0, now, round);
            let got = decode(&c);
            for (g, r) in got.iter().zip(&records) {
                assert_eq!(g.start, r.start.saturating_add_millis(later_s * 1000));
                assert_eq!(g.end, r.end.saturating_add_millis(later_s * 1000));
            }
            assert_eq!(be32(c.bytes_of(0), 4), now.as_secs() as u32);
            // IPFIX sequence numbers count data records: 3 per loop of this capture.
            assert_eq!(be32(c.bytes_of(0), 8), 3 * round as u32);
        }
    }
}
