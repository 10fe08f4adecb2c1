//! The `rampart` binary end to end, on exports of a real exporter. softflowd reads the capture
//! of known traffic (crates/flow/tests/fixtures/known-traffic) and exports NetFlow v9 and IPFIX
//! to a UDP socket of ours on 127.0.0.1; we wrap the datagrams in Ethernet/IPv4/UDP (port
//! 40000, not a standard one) and write them to pcaps, which `rampart decode` must turn back
//! into the capture's totals per 5-tuple, and `rampart replay` must resend as they were, with
//! only the export times moved unless `--keep-time` is given.
//!
//! softflowd 1.1.0 reading a file flushes every flow at its end and exits. It must not get `-c`
//! (a control socket makes it block in accept() instead of reading the file), and `-p` keeps
//! the pid file it unlinks on exit in our directory. A missing softflowd fails the test with a
//! message pointing at scripts/test, which installs it.

use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::fs::{self, File};
use std::io::{self, BufReader, Read};
use std::net::{IpAddr, Ipv4Addr, UdpSocket};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

const RAMPART: &str = env!("CARGO_BIN_EXE_rampart");
const FIXTURE_DIR: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../flow/tests/fixtures/known-traffic"
);
/// The longest softflowd or `rampart replay` may run before it is killed and the test fails;
/// they take well under a second. This only guards against a hang.
const DEADLINE: Duration = Duration::from_secs(60);
/// After the sender exits, datagrams still in flight are awaited this long.
const QUIET: Duration = Duration::from_millis(300);
/// The UDP port the exports are written to in our pcaps: not one flow collectors default to.
const EXPORT_PORT: u16 = 40_000;

/// (source, destination, protocol, source port, destination port); ports 0 for ICMP.
type Key = (IpAddr, IpAddr, u8, u16, u16);

/// Per 5-tuple (packets, bytes) from known-traffic.expected.json, written by gen.py.
fn truth() -> BTreeMap<Key, (u64, u64)> {
    let path = Path::new(FIXTURE_DIR).join("known-traffic.expected.json");
    let file = File::open(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let doc: Value = serde_json::from_reader(BufReader::new(file.take(1 << 20)))
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut flows = BTreeMap::new();
    for f in doc["flows"].as_array().expect("flows") {
        let addr =
            |k: &str| -> IpAddr { f[k].as_str().expect("address").parse().expect("address") };
        let n = |k: &str| f[k].as_u64().expect("number");
        let key = (
            addr("src"),
            addr("dst"),
            n("proto") as u8,
            n("sport") as u16,
            n("dport") as u16,
        );
        flows.insert(key, (n("packets"), n("bytes")));
    }
    flows
}

/// Finds an installed program, in PATH or in the sbin directories Debian puts daemons in.
fn program(name: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let sbin = ["/usr/local/sbin", "/usr/sbin", "/sbin"].map(PathBuf::from);
    std::env::split_paths(&path)
        .chain(sbin)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!(
                "{name} is not installed (not in PATH, /usr/sbin or /sbin). Run scripts/test, which \
                 installs what the end-to-end tests need (Debian packages softflowd and pmacct), \
                 or install it yourself."
            )
        })
}

/// A fresh directory for one test's files, under Cargo's scratch directory for integration
/// tests.
fn work_dir(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("cli-{name}"));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    dir
}

fn read_log(path: &Path) -> String {
    let mut bytes = Vec::new();
    if let Ok(f) = File::open(path) {
        let _ = io::copy(&mut f.take(64 << 10), &mut bytes);
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

/// Kills the sender if the test fails while it runs.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        if matches!(self.0.try_wait(), Ok(None)) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// Runs `cmd` and collects what it sends to `socket` until it has exited and nothing more came
/// for [`QUIET`]. Fails the test if it runs past [`DEADLINE`] (it is killed) or fails.
fn collect(name: &str, mut cmd: Command, socket: &UdpSocket, dir: &Path) -> Vec<Vec<u8>> {
    let log_path = dir.join(format!("{name}.log"));
    let log = File::create(&log_path).expect("log file");
    cmd.stdin(Stdio::null())
        .stdout(log.try_clone().expect("log file"))
        .stderr(log);
    let mut child = Running(
        cmd.spawn()
            .unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}")),
    );
    socket
        .set_read_timeout(Some(Duration::from_millis(20)))
        .expect("read timeout");
    let started = Instant::now();
    let mut last_datagram = started;
    let mut exited: Option<(ExitStatus, Instant)> = None;
    let mut datagrams = Vec::new();
    let mut buf = vec![0u8; 65_536];
    loop {
        match socket.recv_from(&mut buf) {
            Ok((n, from)) => {
                assert!(from.ip().is_loopback(), "a datagram from {from}");
                datagrams.push(buf[..n].to_vec());
                last_datagram = Instant::now();
            }
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) => {}
            Err(e) => panic!("receiving from {name}: {e}"),
        }
        if exited.is_none() {
            if let Some(status) = child.0.try_wait().expect("waiting for the sender") {
                exited = Some((status, Instant::now()));
            }
        }
        if let Some((status, at)) = exited {
            if at.max(last_datagram).elapsed() >= QUIET {
                assert!(
                    status.success(),
                    "{name} failed ({status}); its output:\n{}",
                    read_log(&log_path)
                );
                return datagrams;
            }
        }
        if started.elapsed() > DEADLINE {
            drop(child);
            panic!(
                "{name} did not finish within {DEADLINE:?} and was killed; its output:\n{}",
                read_log(&log_path)
            );
        }
    }
}

fn socket() -> UdpSocket {
    UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind a UDP socket on 127.0.0.1")
}

/// softflowd's export of the capture as NetFlow `version` 9 or 10 (IPFIX).
fn softflowd(version: u16) -> Vec<Vec<u8>> {
    let name = format!("softflowd-v{version}");
    let dir = work_dir(&name);
    let socket = socket();
    let port = socket.local_addr().expect("local address").port();
    let mut cmd = Command::new(program("softflowd"));
    cmd.arg("-d")
        .arg("-r")
        .arg(Path::new(FIXTURE_DIR).join("known-traffic.pcap"))
        .args([
            "-n",
            &format!("127.0.0.1:{port}"),
            "-v",
            &version.to_string(),
        ])
        .arg("-p")
        .arg(dir.join("softflowd.pid"));
    let datagrams = collect(&name, cmd, &socket, &dir);
    assert!(!datagrams.is_empty(), "softflowd exported nothing");
    datagrams
}

struct Exports {
    v9: Vec<Vec<u8>>,
    ipfix: Vec<Vec<u8>>,
    v9_pcap: PathBuf,
    ipfix_pcap: PathBuf,
}

/// softflowd runs once per test binary; its exports and their pcaps are shared.
fn exports() -> &'static Exports {
    static EXPORTS: OnceLock<Exports> = OnceLock::new();
    EXPORTS.get_or_init(|| {
        let (v9, ipfix) = (softflowd(9), softflowd(10));
        let dir = work_dir("exports");
        let v9_pcap = dir.join("softflowd-v9.pcap");
        let ipfix_pcap = dir.join("softflowd-ipfix.pcap");
        write_pcap(&v9_pcap, &v9);
        write_pcap(&ipfix_pcap, &ipfix);
        Exports {
            v9,
            ipfix,
            v9_pcap,
            ipfix_pcap,
        }
    })
}

/// RFC 1071 checksum of an IPv4 header.
fn ipv4_checksum(header: &[u8]) -> u16 {
    let mut sum: u32 = header
        .chunks(2)
        .map(|c| u32::from(u16::from_be_bytes([c[0], c.get(1).copied().unwrap_or(0)])))
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// Writes each datagram as an Ethernet/IPv4/UDP frame, 192.0.2.1:50000 -> 192.0.2.2:40000, 1 ms
/// apart, to a pcap (microseconds, link type Ethernet).
fn write_pcap(path: &Path, datagrams: &[Vec<u8>]) {
    let mut out = Vec::new();
    out.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
    out.extend_from_slice(&2u16.to_le_bytes());
    out.extend_from_slice(&4u16.to_le_bytes());
    out.extend_from_slice(&[0; 8]); // time zone, accuracy
    out.extend_from_slice(&65_535u32.to_le_bytes());
    out.extend_from_slice(&1u32.to_le_bytes()); // Ethernet
    let start = 1_795_341_660u32; // 2026-11-22T10:01:00Z
    for (i, d) in datagrams.iter().enumerate() {
        let mut frame = vec![0x02, 0, 0, 0, 0, 0x02, 0x02, 0, 0, 0, 0, 0x01, 0x08, 0x00];
        let ip_len = (20 + 8 + d.len()) as u16;
        let mut ip = vec![0x45, 0];
        ip.extend_from_slice(&ip_len.to_be_bytes());
        ip.extend_from_slice(&(i as u16).to_be_bytes());
        ip.extend_from_slice(&[0x40, 0, 64, 17, 0, 0, 192, 0, 2, 1, 192, 0, 2, 2]);
        let sum = ipv4_checksum(&ip);
        ip[10..12].copy_from_slice(&sum.to_be_bytes());
        frame.extend_from_slice(&ip);
        frame.extend_from_slice(&50_000u16.to_be_bytes());
        frame.extend_from_slice(&EXPORT_PORT.to_be_bytes());
        frame.extend_from_slice(&(ip_len - 20).to_be_bytes());
        frame.extend_from_slice(&[0, 0]); // no UDP checksum
        frame.extend_from_slice(d);
        let (secs, micros) = (start + i as u32 / 1000, (i as u32 % 1000) * 1000);
        for v in [secs, micros, frame.len() as u32, frame.len() as u32] {
            out.extend_from_slice(&v.to_le_bytes());
        }
        out.extend_from_slice(&frame);
    }
    fs::write(path, out).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
}

fn rampart(args: &[&str]) -> Output {
    Command::new(RAMPART)
        .args(args)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .output()
        .expect("run rampart")
}

fn stdout_lines(out: &Output) -> Vec<String> {
    String::from_utf8(out.stdout.clone())
        .expect("UTF-8 output")
        .lines()
        .map(String::from)
        .collect()
}

fn decode_jsonl(pcap: &Path) -> Vec<Value> {
    let out = rampart(&["decode", pcap.to_str().expect("path"), "--format", "jsonl"]);
    assert!(
        out.status.success(),
        "rampart decode {}: {}\n{}",
        pcap.display(),
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout_lines(&out)
        .iter()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

#[test]
fn decode_jsonl_totals_match_the_truth() {
    let truth = truth();
    let e = exports();
    for (pcap, format) in [(&e.v9_pcap, "netflow9"), (&e.ipfix_pcap, "ipfix")] {
        let records = decode_jsonl(pcap);
        // softflowd exports one record per direction of each 5-tuple.
        assert_eq!(records.len(), truth.len(), "{format}: records");
        let mut got: BTreeMap<Key, (u64, u64)> = BTreeMap::new();
        for r in &records {
            assert_eq!(r["format"], format, "{r}");
            assert_eq!(
                r["exporter"], "192.0.2.1",
                "the exporter is the datagram's source: {r}"
            );
            assert_eq!(r["sampling_rate"], 1, "{r}");
            let addr =
                |k: &str| -> IpAddr { r[k].as_str().expect("address").parse().expect("address") };
            let n = |k: &str| r[k].as_u64().unwrap_or_else(|| panic!("no {k} in {r}"));
            let proto = n("ip_protocol") as u8;
            let port = |k: &str| {
                if matches!(proto, 1 | 58) {
                    0
                } else {
                    r[k].as_u64().unwrap_or(0) as u16
                }
            };
            let key = (
                addr("src_addr"),
                addr("dst_addr"),
                proto,
                port("src_port"),
                port("dst_port"),
            );
            let t = got.entry(key).or_default();
            t.0 += n("packets");
            t.1 += n("bytes");
        }
        assert_eq!(
            got, truth,
            "{format}: per-5-tuple (packets, bytes) from `rampart decode`"
        );
    }
}

fn bulk_key() -> Key {
    let (server, client) = (
        IpAddr::V4(Ipv4Addr::new(203, 0, 113, 5)),
        IpAddr::V4(Ipv4Addr::new(192, 0, 2, 11)),
    );
    (server, client, 6, 8080, 40006)
}

#[test]
fn decode_text_prints_one_line_per_record() {
    let e = exports();
    for (pcap, format) in [(&e.v9_pcap, "netflow9"), (&e.ipfix_pcap, "ipfix")] {
        let records = decode_jsonl(pcap).len();
        let out = rampart(&["decode", pcap.to_str().expect("path"), "--format", "text"]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let lines = stdout_lines(&out);
        assert_eq!(lines.len(), records, "{format}: one text line per record");
        for l in &lines {
            assert!(
                l.contains(format)
                    && l.contains(" > ")
                    && l.contains(" pkts ")
                    && l.contains(" bytes"),
                "{format}: {l}"
            );
        }
        // The server's side of the bulk transfer, as a person reads it.
        let (packets, bytes) = truth()[&bulk_key()];
        let bulk = format!("203.0.113.5:8080 > 192.0.2.11:40006 tcp {packets} pkts {bytes} bytes");
        assert!(
            lines.iter().any(|l| l.contains(&bulk)),
            "{format}: no line for the bulk transfer in:\n{}",
            lines.join("\n")
        );
    }
}

#[test]
fn decode_rejects_what_is_not_a_capture() {
    let dir = work_dir("not-a-capture");
    let path = dir.join("notes.txt");
    fs::write(&path, "these are notes, not a capture\n").expect("write");
    let missing = dir.join("missing.pcap");
    for p in [&path, &missing] {
        let p = p.to_str().expect("path");
        let out = rampart(&["decode", p]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(
            out.status.code(),
            Some(2),
            "rampart decode {p}: {}\n{stderr}",
            out.status
        );
        assert!(stderr.contains(p), "the message names the file: {stderr}");
        assert!(
            out.stdout.is_empty(),
            "no records: {}",
            String::from_utf8_lossy(&out.stdout)
        );
    }
}

fn replay(pcap: &Path, keep_time: bool) -> Vec<Vec<u8>> {
    let name = format!(
        "replay-{}{}",
        pcap.file_stem().and_then(|s| s.to_str()).unwrap_or("pcap"),
        if keep_time { "-keep-time" } else { "" }
    );
    let dir = work_dir(&name);
    let socket = socket();
    let to = socket.local_addr().expect("local address").to_string();
    let mut cmd = Command::new(RAMPART);
    cmd.args([
        "replay",
        pcap.to_str().expect("path"),
        "--to",
        &to,
        "--rate",
        "1000",
    ]);
    if keep_time {
        cmd.arg("--keep-time");
    }
    collect(&name, cmd, &socket, &dir)
}

fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes(b[at..at + 4].try_into().expect("4 bytes"))
}
fn be16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes(b[at..at + 2].try_into().expect("2 bytes"))
}

/// Absolute times in an IPFIX message's data records: (range, information element), for IEs
/// 150-157 and 160 (flow start/end in seconds, milliseconds, microseconds, nanoseconds;
/// systemInitTimeMilliseconds). Templates are learned into `templates` as they come.
fn ipfix_times(
    msg: &[u8],
    templates: &mut HashMap<u16, Vec<(u16, usize)>>,
) -> Vec<(Range<usize>, u16)> {
    let mut times = Vec::new();
    let end = usize::from(be16(msg, 2));
    let mut at = 16;
    while at + 4 <= end {
        let (id, len) = (be16(msg, at), usize::from(be16(msg, at + 2)));
        let set = at + 4..at + len;
        at += len;
        match id {
            2 | 3 => {
                let mut p = set.start;
                while p + 4 <= set.end {
                    let (tid, count) = (be16(msg, p), be16(msg, p + 2));
                    p += if id == 3 { 6 } else { 4 };
                    let mut fields = Vec::new();
                    for _ in 0..count {
                        let (ie, flen) = (be16(msg, p), usize::from(be16(msg, p + 2)));
                        p += if ie & 0x8000 != 0 { 8 } else { 4 };
                        assert_ne!(
                            flen, 0xffff,
                            "variable-length fields: not in softflowd's exports"
                        );
                        fields.push((ie, flen));
                    }
                    templates.insert(tid, fields);
                }
            }
            _ => {
                let fields = templates
                    .get(&id)
                    .unwrap_or_else(|| panic!("data set {id} before its template"));
                let record_len: usize = fields.iter().map(|f| f.1).sum();
                let mut p = set.start;
                while p + record_len <= set.end {
                    for &(ie, flen) in fields {
                        if matches!(ie, 150..=157 | 160) {
                            times.push((p..p + flen, ie));
                        }
                        p += flen;
                    }
                }
            }
        }
    }
    times
}

#[test]
fn replay_moves_only_export_times() {
    let e = exports();

    // NetFlow v9: softflowd's records hold times relative to the header's uptime and no
    // absolute time, so only the export time (bytes 8..12) changes.
    let sent = replay(&e.v9_pcap, false);
    assert_eq!(sent.len(), e.v9.len(), "NetFlow v9: datagrams replayed");
    for (i, (new, old)) in sent.iter().zip(&e.v9).enumerate() {
        assert_eq!(new.len(), old.len(), "v9 datagram {i}: length");
        assert_eq!(
            (&new[..8], &new[12..]),
            (&old[..8], &old[12..]),
            "v9 datagram {i}: beyond the export time"
        );
        assert!(
            be32(new, 8) >= be32(old, 8),
            "v9 datagram {i}: export time moved back"
        );
    }

    // IPFIX: the export time is bytes 4..8. softflowd's records hold times relative to
    // systemInitTimeMilliseconds (IE 160, in its options record), an absolute time that
    // replay moves by the same amount, so that the flows move to the present too.
    let sent = replay(&e.ipfix_pcap, false);
    assert_eq!(sent.len(), e.ipfix.len(), "IPFIX: datagrams replayed");
    let mut templates = HashMap::new();
    let mut moved = 0;
    for (i, (new, old)) in sent.iter().zip(&e.ipfix).enumerate() {
        assert_eq!(new.len(), old.len(), "IPFIX message {i}: length");
        let delta_secs = i64::from(be32(new, 4)) - i64::from(be32(old, 4));
        assert!(delta_secs >= 0, "IPFIX message {i}: export time moved back");
        let times = ipfix_times(old, &mut templates);
        let in_time_field =
            |b: usize| (4..8).contains(&b) || times.iter().any(|(r, _)| r.contains(&b));
        let changed: Vec<usize> = (0..new.len()).filter(|&b| new[b] != old[b]).collect();
        let stray: Vec<usize> = changed
            .iter()
            .copied()
            .filter(|&b| !in_time_field(b))
            .collect();
        assert!(
            stray.is_empty(),
            "IPFIX message {i}: bytes {stray:?} changed, outside any time field"
        );
        for (r, ie) in &times {
            let uint = |b: &[u8]| b.iter().fold(0u64, |v, &x| (v << 8) | u64::from(x));
            let delta = uint(&new[r.clone()]) as i64 - uint(&old[r.clone()]) as i64;
            // The header moved to the present's whole second, the millisecond fields to the
            // present's millisecond.
            let slack = match ie {
                150 | 151 => delta - delta_secs,
                152 | 153 | 160 => delta - delta_secs * 1000,
                _ => continue,
            };
            assert!(
                (0..1000).contains(&slack),
                "IPFIX message {i}: IE {ie} moved by {delta}, the header by {delta_secs} s"
            );
            moved += 1;
        }
    }
    assert!(
        moved > 0,
        "softflowd's IPFIX export has a systemInitTimeMilliseconds to move"
    );
}

#[test]
fn replay_keep_time_is_byte_identical() {
    let e = exports();
    for (pcap, original) in [(&e.v9_pcap, &e.v9), (&e.ipfix_pcap, &e.ipfix)] {
        let sent = replay(pcap, true);
        assert_eq!(
            &sent,
            original,
            "{}: replayed with --keep-time",
            pcap.display()
        );
    }
}
