//! The UDP collectors: several SO_REUSEPORT sockets per address, each read by its own thread
//! that decodes datagrams into record batches for the detection engine. Per-exporter counters
//! are kept by each thread and merged into the shared view once a second.

use crate::engine::Input;
use crate::prefixes::PrefixSet;
use crate::shared::{ExporterStats, Shared};
use anyhow::{Context, Result};
use rampart_flow::{FlowDecoder, FlowRecord, Limits, RecordSink, Timestamp};
use socket2::{Domain, Protocol, Socket, Type};
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::sync::atomic::Ordering;
use std::sync::mpsc::{SyncSender, TrySendError};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Records per batch handed to the engine.
pub const BATCH: usize = 512;
/// A partial batch waits at most this long, so detection latency stays low at low rates.
pub const FLUSH_AFTER: Duration = Duration::from_millis(10);
/// Largest datagram (UDP's limit).
const MAX_DATAGRAM: usize = 65_536;
/// Once datagrams flow, a socket is read without blocking until it is empty and read again
/// after this pause, rather than blocking for each datagram: at high rates a thread then
/// wakes about a thousand times a second, not once per datagram (a context switch each,
/// the dearest part of receiving on a VM), for at most this much delay. A pause after which
/// nothing has come makes the thread block again.
const POLL_PAUSE: Duration = Duration::from_millis(1);

/// A bound socket and what it is for.
#[derive(Debug)]
pub struct BoundSocket {
    pub socket: UdpSocket,
    pub local: SocketAddr,
    pub recv_buffer: usize,
}

/// Binds `sockets` SO_REUSEPORT sockets on `addr` (port 0: a free port, shared by all).
/// `[::]` is dual-stack; where IPv6 is missing it falls back to 0.0.0.0.
pub fn bind(addr: SocketAddr, sockets: usize, recv_buffer: usize) -> Result<Vec<BoundSocket>> {
    let mut out: Vec<BoundSocket> = Vec::with_capacity(sockets);
    let mut at = addr;
    for _ in 0..sockets {
        let s = match open(at, recv_buffer) {
            Ok(s) => s,
            Err(e) if at.is_ipv6() && at.ip().is_unspecified() && out.is_empty() => {
                tracing::warn!(%at, error = %e, "no IPv6 here; collecting on IPv4 only");
                at = SocketAddr::from(([0, 0, 0, 0], at.port()));
                open(at, recv_buffer)?
            }
            Err(e) => return Err(e),
        };
        if at.port() == 0 {
            at = s.local;
        }
        out.push(s);
    }
    Ok(out)
}

fn open(addr: SocketAddr, recv_buffer: usize) -> Result<BoundSocket> {
    let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))
        .with_context(|| format!("{addr}: cannot open a UDP socket"))?;
    if addr.is_ipv6() {
        socket
            .set_only_v6(false)
            .with_context(|| format!("{addr}: cannot make the socket dual-stack"))?;
    }
    socket
        .set_reuse_port(true)
        .with_context(|| format!("{addr}: SO_REUSEPORT"))?;
    // The kernel caps the size at net.core.rmem_max; what it granted is read back below.
    let _ = socket.set_recv_buffer_size(recv_buffer);
    socket.bind(&addr.into()).with_context(|| {
        format!("{addr}: cannot listen (in use by another collector? set listen.flow)")
    })?;
    socket
        .set_read_timeout(Some(FLUSH_AFTER))
        .with_context(|| format!("{addr}: read timeout"))?;
    let granted = socket.recv_buffer_size().unwrap_or(0);
    let socket: UdpSocket = socket.into();
    let local = socket.local_addr().context("reading the bound address")?;
    Ok(BoundSocket {
        socket,
        local,
        recv_buffer: granted,
    })
}

/// Counters one thread keeps for one exporter between merges.
#[derive(Clone, Debug, Default)]
struct Local {
    stats: ExporterStats,
}

/// Collects records decoded from one datagram.
struct Batcher {
    batch: Vec<FlowRecord>,
    records: u64,
    sampling_rate: u32,
}

impl RecordSink for Batcher {
    #[inline]
    fn record(&mut self, r: &FlowRecord) {
        self.batch.push(r.clone());
        self.records += 1;
        self.sampling_rate = r.sampling_rate;
    }
}

/// One collector thread's loop: receive, check the allow-list, decode, batch, hand on.
/// Ends when `shared.stopping` is set.
pub fn run(bound: BoundSocket, shared: Arc<Shared>, queue: SyncSender<Input>) {
    let mut decoder = FlowDecoder::new(Limits::default());
    let mut buf = vec![0u8; MAX_DATAGRAM];
    let mut sink = Batcher {
        batch: Vec::with_capacity(BATCH),
        records: 0,
        sampling_rate: 0,
    };
    let mut exporters: HashMap<IpAddr, Local> = HashMap::new();
    let mut allowed: Arc<PrefixSet> = shared.allowed_exporters();
    let mut generation = shared.config_generation();
    let (mut first_in_batch, mut last_merge) = (None::<Instant>, Instant::now());
    let max_exporters = shared.max_exporters;
    // Polling: reading without blocking; paused: the last read found the socket empty and
    // the thread has slept POLL_PAUSE since.
    let (mut polling, mut paused) = (false, false);
    loop {
        if shared.stopping.load(Ordering::Relaxed) {
            break;
        }
        match bound.socket.recv_from(&mut buf) {
            Ok((len, from)) => {
                paused = false;
                if !polling {
                    polling = bound.socket.set_nonblocking(true).is_ok();
                }
                let exporter = from.ip().to_canonical();
                let now = crate::clock::now();
                if !allowed.is_empty() && !allowed.contains(exporter) {
                    shared.refused_datagrams.fetch_add(1, Ordering::Relaxed);
                    shared.note_refused(exporter);
                } else {
                    let key =
                        if exporters.len() < max_exporters || exporters.contains_key(&exporter) {
                            exporter
                        } else {
                            crate::shared::OTHER_EXPORTER
                        };
                    let entry = exporters.entry(key).or_default();
                    decode(&mut decoder, &buf[..len], exporter, now, &mut sink, entry);
                    first_in_batch.get_or_insert_with(Instant::now);
                }
            }
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                if polling && paused {
                    // Quiet for a whole pause: block again (with the read timeout).
                    polling = bound.socket.set_nonblocking(false).is_err();
                    paused = false;
                } else if polling {
                    std::thread::sleep(POLL_PAUSE);
                    paused = true;
                }
            }
            Err(e) => {
                tracing::warn!(listen = %bound.local, error = %e, "receiving");
                std::thread::sleep(Duration::from_millis(10));
            }
        }
        let due = first_in_batch.is_some_and(|t| t.elapsed() >= FLUSH_AFTER);
        if sink.batch.len() >= BATCH || (due && !sink.batch.is_empty()) {
            hand_on(&mut sink.batch, &queue, &shared);
            first_in_batch = None;
        }
        if last_merge.elapsed() >= Duration::from_secs(1) {
            shared.merge_exporters(bound.local, exporters.drain().map(|(k, v)| (k, v.stats)));
            last_merge = Instant::now();
            let g = shared.config_generation();
            if g != generation {
                allowed = shared.allowed_exporters();
                generation = g;
            }
        }
    }
    if !sink.batch.is_empty() {
        hand_on(&mut sink.batch, &queue, &shared);
    }
    shared.merge_exporters(bound.local, exporters.drain().map(|(k, v)| (k, v.stats)));
}

fn decode(
    decoder: &mut FlowDecoder,
    bytes: &[u8],
    exporter: IpAddr,
    now: Timestamp,
    sink: &mut Batcher,
    entry: &mut Local,
) {
    let before = decoder.stats();
    sink.records = 0;
    let result = decoder.decode(bytes, exporter, now, sink);
    let after = decoder.stats();
    let s = &mut entry.stats;
    s.datagrams += 1;
    s.records += sink.records;
    s.template_misses += after.template_misses - before.template_misses;
    s.last_seen = Some(now);
    if sink.records > 0 {
        s.sampling_rate = sink.sampling_rate;
    }
    match result {
        Ok(format) => {
            s.formats.insert(format.as_str());
        }
        Err(e) => {
            s.errors += 1;
            s.last_error = Some(e.to_string());
        }
    }
}

/// Hands a batch to the engine without waiting; a full queue drops it and counts it.
/// Returns whether it was queued.
pub fn hand_on(batch: &mut Vec<FlowRecord>, queue: &SyncSender<Input>, shared: &Shared) -> bool {
    let full = std::mem::replace(batch, Vec::with_capacity(BATCH));
    let n = full.len() as u64;
    match queue.try_send(Input::Flows(full)) {
        Ok(()) => {
            shared.queued_records.fetch_add(n, Ordering::Relaxed);
            true
        }
        Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => {
            shared.dropped_records.fetch_add(n, Ordering::Relaxed);
            false
        }
    }
}
