//! Log intake for the daemon: syslog over UDP (a datagram is one message) and TCP (newline
//! or octet-counted framing, one framer per connection), and files followed like `tail -F`
//! (rotation by rename and truncation both survive). Every line goes to one parser thread
//! through a bounded queue (full: the line is dropped and counted); the parser hands events
//! on to the engine in batches.

use crate::engine::Input;
use crate::shared::Shared;
use anyhow::{Context, Result};
use rampart_config::LogsConfig;
use rampart_logs::{detect_format, Format, Framer, Framing, LineParser, LogEvent, TimeContext};
use std::collections::HashMap;
use std::io::{Read, Seek, SeekFrom};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Lines waiting for the parser thread.
const LINE_QUEUE: usize = 65_536;
/// Events per batch handed to the engine.
const EVENT_BATCH: usize = 512;
/// A partial batch waits at most this long.
const FLUSH_AFTER: Duration = Duration::from_millis(20);
/// How often followed files are checked for growth and rotation.
const POLL_FILES: Duration = Duration::from_millis(250);
/// Bytes read from a file per check, so that a huge backlog does not starve the others.
const FILE_CHUNK: usize = 1 << 20;

/// Where a line came from: syslog (any sender) or a followed file (its own parser, since a
/// file has its own format).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Origin {
    Syslog,
    File(usize),
}

struct Line {
    origin: Origin,
    bytes: Vec<u8>,
}

/// Counters of the log intake, for the status page and metrics.
#[derive(Debug, Default)]
pub struct LogStats {
    pub udp_datagrams: AtomicU64,
    pub tcp_connections: AtomicU64,
    pub tcp_open: AtomicUsize,
    pub tcp_refused: AtomicU64,
    pub file_lines: AtomicU64,
    pub file_rotations: AtomicU64,
    pub lines: AtomicU64,
    /// Lines dropped because the parser was behind.
    pub lines_dropped: AtomicU64,
    /// Lines the parsers could not read or skipped (too long, junk, unknown program).
    pub lines_skipped: AtomicU64,
    pub events: AtomicU64,
    /// Events dropped because the engine's queue was full.
    pub events_dropped: AtomicU64,
}

/// A bound log listener, for the status page.
#[derive(Clone, Debug, serde::Serialize)]
pub struct LogListener {
    pub protocol: &'static str,
    pub listen: SocketAddr,
}

/// Binds the syslog sockets and starts the intake threads. Returns what was bound.
pub fn start(
    cfg: &LogsConfig,
    shared: Arc<Shared>,
    engine: SyncSender<Input>,
) -> Result<Vec<LogListener>> {
    let (tx, rx) = std::sync::mpsc::sync_channel::<Line>(LINE_QUEUE);
    let stats = shared.log_stats.clone();
    let mut bound = Vec::new();
    for &addr in &cfg.syslog_udp {
        let s = bind_udp(addr)?;
        let local = s.local_addr().context("reading the syslog address")?;
        tracing::info!(listen = %local, "receiving syslog over UDP");
        bound.push(LogListener {
            protocol: "udp",
            listen: local,
        });
        let (tx, shared, max) = (tx.clone(), shared.clone(), cfg.max_line_bytes);
        std::thread::Builder::new()
            .name("syslog-udp".into())
            .spawn(move || udp_loop(s, tx, shared, max))
            .context("starting the syslog UDP thread")?;
    }
    for &addr in &cfg.syslog_tcp {
        let l = bind_tcp(addr)?;
        let local = l.local_addr().context("reading the syslog address")?;
        tracing::info!(listen = %local, "receiving syslog over TCP");
        bound.push(LogListener {
            protocol: "tcp",
            listen: local,
        });
        let (tx, shared) = (tx.clone(), shared.clone());
        let (max_line, max_conns) = (cfg.max_line_bytes, cfg.max_tcp_connections);
        std::thread::Builder::new()
            .name("syslog-tcp".into())
            .spawn(move || accept_loop(l, tx, shared, max_line, max_conns))
            .context("starting the syslog TCP thread")?;
    }
    let mut files = Vec::new();
    for (i, f) in cfg.files.iter().enumerate() {
        files.push((i, f.path.clone(), f.format.clone()));
    }
    if !files.is_empty() {
        let (tx, shared, max) = (tx.clone(), shared.clone(), cfg.max_line_bytes);
        let start_at_end = !cfg.read_files_from_start;
        let paths: Vec<(usize, PathBuf)> = files.iter().map(|(i, p, _)| (*i, p.clone())).collect();
        std::thread::Builder::new()
            .name("log-files".into())
            .spawn(move || follow_files(paths, tx, shared, max, start_at_end))
            .context("starting the log file thread")?;
    }
    drop(tx);
    let formats: HashMap<usize, Option<String>> =
        files.into_iter().map(|(i, _, f)| (i, f)).collect();
    let offset = cfg.utc_offset_s;
    std::thread::Builder::new()
        .name("log-parser".into())
        .spawn(move || parse_loop(rx, engine, stats, formats, offset))
        .context("starting the log parser thread")?;
    Ok(bound)
}

fn bind_udp(addr: SocketAddr) -> Result<UdpSocket> {
    let s = UdpSocket::bind(addr)
        .or_else(|e| {
            // `[::]` on a host without IPv6: IPv4 only.
            if addr.is_ipv6() && addr.ip().is_unspecified() {
                UdpSocket::bind(SocketAddr::from(([0, 0, 0, 0], addr.port())))
            } else {
                Err(e)
            }
        })
        .with_context(|| format!("{addr}: cannot receive syslog (set logs.syslog_udp)"))?;
    s.set_read_timeout(Some(Duration::from_millis(200)))
        .context("syslog socket timeout")?;
    Ok(s)
}

fn bind_tcp(addr: SocketAddr) -> Result<TcpListener> {
    let l = TcpListener::bind(addr)
        .or_else(|e| {
            if addr.is_ipv6() && addr.ip().is_unspecified() {
                TcpListener::bind(SocketAddr::from(([0, 0, 0, 0], addr.port())))
            } else {
                Err(e)
            }
        })
        .with_context(|| format!("{addr}: cannot receive syslog (set logs.syslog_tcp)"))?;
    l.set_nonblocking(true).context("syslog listener")?;
    Ok(l)
}

fn hand(tx: &SyncSender<Line>, stats: &LogStats, origin: Origin, bytes: &[u8]) {
    stats.lines.fetch_add(1, Ordering::Relaxed);
    match tx.try_send(Line {
        origin,
        bytes: bytes.to_vec(),
    }) {
        Ok(()) => {}
        Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => {
            stats.lines_dropped.fetch_add(1, Ordering::Relaxed);
        }
    }
}

fn udp_loop(s: UdpSocket, tx: SyncSender<Line>, shared: Arc<Shared>, max_line: usize) {
    let mut buf = vec![0u8; 65_536];
    let stats = &shared.log_stats;
    while !shared.stopping.load(Ordering::Relaxed) {
        match s.recv_from(&mut buf) {
            Ok((n, _)) => {
                stats.udp_datagrams.fetch_add(1, Ordering::Relaxed);
                // A datagram is one message; a trailing newline is not part of it.
                let mut msg = &buf[..n.min(max_line)];
                while let [rest @ .., b'\n' | b'\r' | 0] = msg {
                    msg = rest;
                }
                if !msg.is_empty() {
                    hand(&tx, stats, Origin::Syslog, msg);
                }
            }
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => std::thread::sleep(Duration::from_millis(10)),
        }
    }
}

fn accept_loop(
    l: TcpListener,
    tx: SyncSender<Line>,
    shared: Arc<Shared>,
    max_line: usize,
    max_conns: usize,
) {
    while !shared.stopping.load(Ordering::Relaxed) {
        match l.accept() {
            Ok((conn, peer)) => {
                let stats = &shared.log_stats;
                if stats.tcp_open.load(Ordering::Relaxed) >= max_conns {
                    stats.tcp_refused.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(%peer, "syslog: too many TCP connections (logs.max_tcp_connections)");
                    continue;
                }
                stats.tcp_connections.fetch_add(1, Ordering::Relaxed);
                stats.tcp_open.fetch_add(1, Ordering::Relaxed);
                let (tx, conn_shared) = (tx.clone(), shared.clone());
                let spawned = std::thread::Builder::new()
                    .name("syslog-conn".into())
                    .spawn(move || {
                        tcp_conn(conn, &tx, &conn_shared, max_line);
                        conn_shared
                            .log_stats
                            .tcp_open
                            .fetch_sub(1, Ordering::Relaxed);
                    });
                if spawned.is_err() {
                    shared.log_stats.tcp_open.fetch_sub(1, Ordering::Relaxed);
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(50));
            }
            Err(_) => std::thread::sleep(Duration::from_millis(50)),
        }
    }
}

fn tcp_conn(mut conn: TcpStream, tx: &SyncSender<Line>, shared: &Shared, max_line: usize) {
    let _ = conn.set_nonblocking(false);
    let _ = conn.set_read_timeout(Some(Duration::from_millis(500)));
    let mut framer = Framer::new(Framing::Syslog, max_line);
    let mut buf = vec![0u8; 64 << 10];
    let stats = &shared.log_stats;
    loop {
        if shared.stopping.load(Ordering::Relaxed) {
            break;
        }
        match conn.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                framer.push(&buf[..n]);
                while let Some(line) = framer.next_line() {
                    hand(tx, stats, Origin::Syslog, line);
                }
            }
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => break,
        }
    }
    if let Some(line) = framer.finish() {
        hand(tx, stats, Origin::Syslog, line);
    }
}

/// One followed file: where we are in it and which file (inode) that is.
struct Followed {
    index: usize,
    path: PathBuf,
    file: Option<std::fs::File>,
    inode: u64,
    offset: u64,
    framer: Framer,
}

fn follow_files(
    paths: Vec<(usize, PathBuf)>,
    tx: SyncSender<Line>,
    shared: Arc<Shared>,
    max_line: usize,
    start_at_end: bool,
) {
    let mut files: Vec<Followed> = paths
        .into_iter()
        .map(|(index, path)| Followed {
            index,
            path,
            file: None,
            inode: 0,
            offset: 0,
            framer: Framer::new(Framing::Newline, max_line),
        })
        .collect();
    let mut first = true;
    let mut buf = vec![0u8; 64 << 10];
    while !shared.stopping.load(Ordering::Relaxed) {
        for f in &mut files {
            follow_one(f, &tx, &shared, &mut buf, first && start_at_end);
        }
        first = false;
        std::thread::sleep(POLL_FILES);
    }
}

fn follow_one(
    f: &mut Followed,
    tx: &SyncSender<Line>,
    shared: &Shared,
    buf: &mut [u8],
    skip: bool,
) {
    let stats = &shared.log_stats;
    let meta = std::fs::metadata(&f.path).ok();
    let rotated = meta
        .as_ref()
        .is_some_and(|m| f.file.is_some() && m.ino() != f.inode);
    if rotated {
        // Finish the old file (a writer may have added to it before the rename), then
        // start the new one from its beginning.
        drain(f, tx, stats, buf);
        if let Some(line) = f.framer.finish() {
            hand(tx, stats, Origin::File(f.index), line);
        }
        f.file = None;
        stats.file_rotations.fetch_add(1, Ordering::Relaxed);
        tracing::info!(path = %f.path.display(), "log file rotated");
    }
    if f.file.is_none() {
        let Some(m) = meta else {
            return;
        };
        let Ok(mut file) = std::fs::File::open(&f.path) else {
            return;
        };
        f.inode = m.ino();
        f.offset = if skip && !rotated { m.len() } else { 0 };
        if file.seek(SeekFrom::Start(f.offset)).is_err() {
            return;
        }
        f.file = Some(file);
    }
    if let Some(m) = std::fs::metadata(&f.path)
        .ok()
        .filter(|m| m.ino() == f.inode)
    {
        if m.len() < f.offset {
            // Truncated in place (copytruncate): from the start again.
            f.offset = 0;
            if let Some(file) = &mut f.file {
                let _ = file.seek(SeekFrom::Start(0));
            }
            stats.file_rotations.fetch_add(1, Ordering::Relaxed);
        }
    }
    drain(f, tx, stats, buf);
}

fn drain(f: &mut Followed, tx: &SyncSender<Line>, stats: &LogStats, buf: &mut [u8]) {
    let Some(file) = &mut f.file else {
        return;
    };
    let mut read = 0;
    while read < FILE_CHUNK {
        match file.read(buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                read += n;
                f.offset += n as u64;
                f.framer.push(&buf[..n]);
                while let Some(line) = f.framer.next_line() {
                    stats.file_lines.fetch_add(1, Ordering::Relaxed);
                    hand(tx, stats, Origin::File(f.index), line);
                }
            }
        }
    }
}

/// The parser thread: syslog lines through one parser (its per-connection state is keyed
/// by host and pid), each file through its own, whose format is named in the config or
/// found from the file's first lines.
fn parse_loop(
    rx: Receiver<Line>,
    engine: SyncSender<Input>,
    stats: Arc<LogStats>,
    formats: HashMap<usize, Option<String>>,
    utc_offset_s: i32,
) {
    let now = crate::clock::now;
    let ctx = || TimeContext::new(now(), utc_offset_s);
    let mut syslog = LineParser::new(Format::Syslog, ctx());
    let mut files: HashMap<usize, LineParser> = HashMap::new();
    let mut pending_first: HashMap<usize, Vec<Vec<u8>>> = HashMap::new();
    let mut batch: Vec<LogEvent> = Vec::with_capacity(EVENT_BATCH);
    let mut first_at: Option<Instant> = None;
    let mut last_ref = Instant::now();
    let mut skipped_before = 0u64;
    loop {
        let line = rx.recv_timeout(FLUSH_AFTER);
        if last_ref.elapsed() > Duration::from_secs(60) {
            // Year-less stamps are read relative to the present.
            syslog.set_reference(now());
            for p in files.values_mut() {
                p.set_reference(now());
            }
            last_ref = Instant::now();
        }
        match line {
            Ok(Line { origin, bytes }) => {
                let parser = match origin {
                    Origin::Syslog => &mut syslog,
                    Origin::File(i) if files.contains_key(&i) => match files.get_mut(&i) {
                        Some(p) => p,
                        None => continue,
                    },
                    Origin::File(i) => {
                        // A file's first lines wait until its format is known: named in
                        // the config, or told from them (syslog after 20 unclear lines).
                        let held = pending_first.entry(i).or_default();
                        held.push(bytes);
                        let named = formats
                            .get(&i)
                            .and_then(|f| f.as_deref())
                            .and_then(Format::from_name);
                        let texts: Vec<String> = held
                            .iter()
                            .map(|b| String::from_utf8_lossy(b).into_owned())
                            .collect();
                        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
                        let format = named
                            .or_else(|| detect_format(&refs))
                            .or((held.len() >= 20).then_some(Format::Syslog));
                        if let Some(format) = format {
                            let mut p = LineParser::new(format, ctx());
                            for line in pending_first.remove(&i).unwrap_or_default() {
                                p.feed(&line);
                                while let Some(e) = p.poll_event() {
                                    batch.push(e);
                                }
                            }
                            files.insert(i, p);
                            first_at.get_or_insert_with(Instant::now);
                        }
                        continue;
                    }
                };
                parser.feed(&bytes);
                while let Some(e) = parser.poll_event() {
                    batch.push(e);
                }
                first_at.get_or_insert_with(Instant::now);
            }
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => break,
        }
        let skipped: u64 =
            syslog.stats().errors() + files.values().map(|p| p.stats().errors()).sum::<u64>();
        if skipped > skipped_before {
            stats
                .lines_skipped
                .fetch_add(skipped - skipped_before, Ordering::Relaxed);
            skipped_before = skipped;
        }
        let due = first_at.is_some_and(|t| t.elapsed() >= FLUSH_AFTER);
        if batch.len() >= EVENT_BATCH || (due && !batch.is_empty()) {
            send(&engine, &stats, &mut batch);
            first_at = None;
        }
    }
    syslog.finish();
    while let Some(e) = syslog.poll_event() {
        batch.push(e);
    }
    for p in files.values_mut() {
        p.finish();
        while let Some(e) = p.poll_event() {
            batch.push(e);
        }
    }
    if !batch.is_empty() {
        send(&engine, &stats, &mut batch);
    }
}

fn send(engine: &SyncSender<Input>, stats: &LogStats, batch: &mut Vec<LogEvent>) {
    let full = std::mem::replace(batch, Vec::with_capacity(EVENT_BATCH));
    let n = full.len() as u64;
    stats.events.fetch_add(n, Ordering::Relaxed);
    if engine.try_send(Input::Logs(full)).is_err() {
        stats.events_dropped.fetch_add(n, Ordering::Relaxed);
    }
}
