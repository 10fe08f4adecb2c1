//! `rampart replay`: resend the flow-export datagrams found in a capture to a collector, at
//! the capture's own pace or a fixed rate, with export times moved to the present so that a
//! live collector treats them as fresh.

use crate::input::{self, Input};
use anyhow::{bail, Context, Result};
use rampart_flow::packet::{parse_frame, LinkType};
use rampart_flow::{sniff, FlowDecoder, Timestamp};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
use std::path::Path;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

fn wall_clock() -> Timestamp {
    let d = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    Timestamp::from_secs_nanos(d.as_secs(), d.subsec_nanos())
}

pub fn run(
    path: &Path,
    to: SocketAddr,
    rate: Option<f64>,
    loops: u64,
    rewrite: bool,
) -> Result<()> {
    if let Some(r) = rate {
        if !(r.is_finite() && r > 0.0) {
            bail!("--rate must be a positive number of datagrams per second, not {r}");
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
    let mut sent = 0u64;
    let mut skipped = 0u64;
    let mut buf = Vec::with_capacity(65_536);
    let mut round = 0u64;
    loop {
        round += 1;
        let started = Instant::now();
        let mut first_ts: Option<Timestamp> = None;
        let mut in_round = 0u64;
        // Learns templates from the datagrams it rewrites, to move times inside records too.
        let mut rewriter = FlowDecoder::default();
        let mut send = |buf: &mut Vec<u8>, exporter: IpAddr, ts: Timestamp| -> Result<()> {
            let due = match rate {
                Some(r) => Duration::from_secs_f64(in_round as f64 / r),
                None => {
                    let first = *first_ts.get_or_insert(ts);
                    Duration::from_nanos(ts.as_nanos().saturating_sub(first.as_nanos()))
                }
            };
            if let Some(wait) = due.checked_sub(started.elapsed()) {
                std::thread::sleep(wait);
            }
            if rewrite {
                rewriter.rewrite_export_time(buf, exporter, wall_clock());
            }
            socket
                .send(buf)
                .with_context(|| format!("sending to {to}"))?;
            in_round += 1;
            Ok(())
        };
        match input::open(path)? {
            Input::Datagram(bytes) => {
                buf.clear();
                buf.extend_from_slice(&bytes);
                send(
                    &mut buf,
                    IpAddr::V4(Ipv4Addr::UNSPECIFIED),
                    Timestamp::EPOCH,
                )?;
            }
            Input::Capture(mut reader) => {
                while let Some(p) = reader
                    .next_packet()
                    .with_context(|| format!("{name}: reading"))?
                {
                    let summary = LinkType::from_linktype(p.linktype)
                        .and_then(|link| parse_frame(link, p.data).ok().flatten());
                    let payload = summary
                        .and_then(|s| s.udp_payload)
                        .and_then(|(from, to)| p.data.get(from..to))
                        .filter(|payload| sniff(payload).is_some());
                    let (Some(payload), Some(summary)) = (payload, summary) else {
                        skipped += 1;
                        continue;
                    };
                    buf.clear();
                    buf.extend_from_slice(payload);
                    let ts = p.timestamp;
                    send(&mut buf, summary.src_addr, ts)?;
                }
            }
        }
        sent += in_round;
        if in_round == 0 {
            bail!("{name}: no NetFlow, IPFIX or sFlow datagrams to replay");
        }
        if loops != 0 && round >= loops {
            break;
        }
    }
    tracing::info!(file = %name, to = %to, datagrams = sent, other_packets = skipped, "replayed");
    Ok(())
}
