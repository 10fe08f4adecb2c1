#![allow(clippy::unwrap_used)]
//! `rampart analyze` end to end, on captures built here (tests/support/traffic.rs): every
//! DDoS vector of INTERFACES.md mixed into a benign background (web sessions with real
//! handshakes, DNS, pings, a 50 Mbit/s bulk transfer), each attack on its own target at 2x
//! its threshold (and four at 1.2x); the background alone; carpet bombing of a /24; an
//! outbound attack from a protected host; port scans; the same captures exported by
//! softflowd as NetFlow v9 and IPFIX; the public captures in tests/fixtures/pcaps; bad input.
//!
//! Every run sets its thresholds with `--set` (traffic::Thresholds) and the protected space
//! with `--protect` (203.0.113.0/24, 2001:db8:1::/48). Latency is measured in event time:
//! from the first attack packet to the detection's `start`. Nothing here reads the wall
//! clock except the bounded waits for softflowd.
//!
//! Captures are written under `std::env::temp_dir()` and removed when each test ends.

#[path = "support/traffic.rs"]
mod traffic;

use serde_json::Value;
use std::collections::BTreeSet;
use std::fs::{self, File};
use std::io::{self, Read};
use std::net::{IpAddr, Ipv4Addr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use traffic::{Scenario, Target, Truth, Vector, BASE_NS, NS};

const RAMPART: &str = env!("CARGO_BIN_EXE_rampart");
const CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/pcaps");
/// Length of the attack captures: two seconds of background, three of attack, one after.
const SECONDS: f64 = 6.0;

// ---------------------------------------------------------------------------------------
// Running analyze

/// A directory under the system's temporary directory, removed when dropped (also when the
/// test fails).
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        let dir =
            std::env::temp_dir().join(format!("rampart-analyze-{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        Scratch(dir)
    }

    fn file(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn analyze(files: &[&Path], args: &[String], format: &str) -> Output {
    Command::new(RAMPART)
        .arg("analyze")
        .args(files)
        .args(args)
        .args(["--format", format])
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .output()
        .expect("run rampart")
}

/// Runs `analyze --format json`, which must succeed, and returns its report.
fn analyze_json(files: &[&Path], args: &[String]) -> Value {
    let out = analyze(files, args, "json");
    assert!(
        out.status.success(),
        "rampart analyze {files:?} {args:?} failed ({}):\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "rampart analyze wrote no JSON ({e}):\n{}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

fn strings(args: &[&str]) -> Vec<String> {
    args.iter().map(|s| s.to_string()).collect()
}

/// Checks `inputs[0]` of a report: kind, record count (when known) and no errors.
fn assert_input(report: &Value, kind: &str, records: Option<u64>) {
    let input = &report["inputs"][0];
    assert_eq!(input["kind"], kind, "{input}");
    assert_eq!(input["errors"], 0, "{input}");
    match records {
        Some(n) => assert_eq!(input["records"], n, "{input}"),
        None => assert!(input["records"].as_u64().unwrap() > 0, "{input}"),
    }
}

/// One DDoS detection of a report, with the fields the tests check.
#[derive(Debug)]
struct Found {
    vector: String,
    vectors: Vec<String>,
    target: String,
    direction: String,
    start_ns: u64,
    json: Value,
}

fn ddos(report: &Value) -> Vec<Found> {
    let text = |v: &Value| v.as_str().unwrap_or_default().to_string();
    report["detections"]
        .as_array()
        .expect("detections")
        .iter()
        .filter(|d| d["kind"] == "ddos")
        .map(|d| Found {
            vector: text(&d["vector"]),
            vectors: d["vectors"]
                .as_array()
                .map(|a| a.iter().map(text).collect())
                .unwrap_or_default(),
            target: text(&d["target"]),
            direction: text(&d["direction"]),
            start_ns: rfc3339_ns(d["start"].as_str().expect("start")),
            json: d.clone(),
        })
        .collect()
}

/// `2026-11-22T10:00:02.600Z` (any number of fraction digits, UTC) to Unix nanoseconds.
fn rfc3339_ns(s: &str) -> u64 {
    fn not_rfc3339(s: &str) -> ! {
        panic!("not an RFC 3339 UTC time: {s:?}")
    }
    let bad = || not_rfc3339(s);
    let num = |r: std::ops::Range<usize>| -> i64 {
        s.get(r).and_then(|d| d.parse().ok()).unwrap_or_else(bad)
    };
    if s.len() < 20 || !s.ends_with('Z') || &s[4..5] != "-" || &s[10..11] != "T" {
        bad();
    }
    let (y, m, d) = (num(0..4), num(5..7), num(8..10));
    let secs_of_day = num(11..13) * 3600 + num(14..16) * 60 + num(17..19);
    let fraction = &s[19..s.len() - 1];
    let nanos = match fraction.strip_prefix('.') {
        None if fraction.is_empty() => 0,
        Some(f) if !f.is_empty() && f.len() <= 9 && f.bytes().all(|b| b.is_ascii_digit()) => {
            f.parse::<u64>().unwrap() * 10u64.pow(9 - f.len() as u32)
        }
        _ => not_rfc3339(s),
    };
    // Days from the civil date (Howard Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * ((m + 9) % 12) + 2) / 5 + d - 1;
    let days = era * 146_097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719_468;
    (days * 86_400 + secs_of_day) as u64 * NS + nanos
}

#[test]
fn rfc3339_parses_what_analyze_writes() {
    assert_eq!(rfc3339_ns("1970-01-01T00:00:00.000Z"), 0);
    assert_eq!(rfc3339_ns("2026-11-22T10:00:00.000Z"), BASE_NS);
    assert_eq!(
        rfc3339_ns("2026-11-22T10:00:02.6Z"),
        BASE_NS + 2_600_000_000
    );
    assert_eq!(rfc3339_ns("2000-03-01T00:00:01Z"), 951_868_801 * NS);
}

/// The most event time detection may take, from the first attack packet: 1 s at 2x the
/// threshold, 2 s at 1.2x (the issue's promise).
fn latency_limit(factor: f64) -> Option<u64> {
    if factor >= 2.0 {
        Some(NS)
    } else if factor >= 1.2 {
        Some(2 * NS)
    } else {
        None
    }
}

/// Compares detections with what was put in the capture: one detection per attack, on its
/// target, in its direction, naming one of `vectors(truth)`, within the latency limit when
/// `latency` is set; and nothing else. Returns the problems and a line per attack.
fn compare(
    found: &[Found],
    truths: &[Truth],
    vectors: impl Fn(&Truth) -> Vec<&'static str>,
    latency: bool,
) -> (Vec<String>, String) {
    let mut problems = Vec::new();
    let mut table = String::new();
    for t in truths {
        let want = vectors(t);
        let label = format!(
            "{} {} {} at {:.1}x",
            t.vector.name(),
            t.direction,
            t.target,
            t.factor
        );
        let hits: Vec<&Found> = found.iter().filter(|d| d.target == t.target).collect();
        let [d] = hits[..] else {
            problems.push(format!(
                "{label}: {} detections on the target (want one): {:?}",
                hits.len(),
                hits.iter()
                    .map(|d| (&d.vector, &d.direction))
                    .collect::<Vec<_>>()
            ));
            continue;
        };
        if !want.contains(&d.vector.as_str()) {
            problems.push(format!(
                "{label}: named {} (vectors {:?}), want {}; evidence: {}",
                d.vector,
                d.vectors,
                want.join(" or "),
                d.json["evidence"]
            ));
        }
        if d.direction != t.direction {
            problems.push(format!("{label}: direction {}", d.direction));
        }
        let first = BASE_NS + t.first_ns;
        let took = d.start_ns as i64 - first as i64;
        table.push_str(&format!(
            "  {label}: named {}, found {} the first packet, peak {} pps\n",
            d.vector,
            if took >= 0 {
                format!("{:.3} s after", took as f64 / 1e9)
            } else {
                format!("{:.3} s BEFORE", -took as f64 / 1e9)
            },
            d.json["peak_pps"]
        ));
        if latency {
            if took < 0 {
                problems.push(format!("{label}: starts before its first packet"));
            }
            if let Some(limit) = latency_limit(t.factor) {
                if took > limit as i64 {
                    problems.push(format!(
                        "{label}: found {:.3} s after its first packet, limit {} s",
                        took as f64 / 1e9,
                        limit / NS
                    ));
                }
            }
        }
    }
    let targets: BTreeSet<&str> = truths.iter().map(|t| t.target.as_str()).collect();
    for d in found
        .iter()
        .filter(|d| !targets.contains(d.target.as_str()))
    {
        problems.push(format!(
            "unexpected detection: {} {} {}; evidence: {}",
            d.vector, d.direction, d.target, d.json["evidence"]
        ));
    }
    (problems, table)
}

fn assert_no_problems(what: &str, problems: &[String], table: &str) {
    eprintln!("{what}:\n{table}");
    assert!(
        problems.is_empty(),
        "{what}: {} problem(s):\n  {}\nall attacks:\n{table}",
        problems.len(),
        problems.join("\n  ")
    );
}

// ---------------------------------------------------------------------------------------
// Scenarios

/// Every vector at 2x on its own target (traffic::every_vector, with IPv6 and the outbound
/// flood), and four vectors at 1.2x on 203.0.113.131–.134.
fn attack_scenario() -> Scenario {
    let mut s = traffic::every_vector(1, SECONDS, 2.0);
    let slow = [
        Vector::SynFlood,
        Vector::NtpAmplification,
        Vector::UdpFlood,
        Vector::IcmpFlood,
    ];
    for (k, v) in slow.into_iter().enumerate() {
        let target = IpAddr::V4(Ipv4Addr::new(203, 0, 113, 131 + k as u8));
        let start = traffic::ATTACK_START_S + 0.5 + k as f64 * 0.017;
        s = s.attack(v, Target::Host(target), start, traffic::ATTACK_S, 1.2);
    }
    s
}

fn carpet_scenario() -> Scenario {
    traffic::carpet(3, traffic::ATTACK_START_S + traffic::CARPET_S + 0.5, 2.0)
}

// ---------------------------------------------------------------------------------------
// Packets

#[test]
fn every_vector_with_background() {
    let dir = Scratch::new("every-vector");
    let scenario = attack_scenario();
    let pcap = dir.file("attacks.pcap");
    let w = scenario.write(&pcap).unwrap();
    assert_eq!(w.truths.len(), Vector::ALL.len() + 3 + 4);
    let report = analyze_json(&[&pcap], &scenario.thresholds.args());
    assert_input(&report, "packets", Some(w.packets));
    let (problems, table) = compare(&ddos(&report), &w.truths, |t| vec![t.vector.name()], true);
    assert_no_problems("every vector, from packets", &problems, &table);
}

#[test]
fn benign_background_alone_finds_nothing() {
    let dir = Scratch::new("benign");
    let scenario = Scenario::new(2, SECONDS);
    let pcap = dir.file("benign.pcap");
    let w = scenario.write(&pcap).unwrap();
    let args = scenario.thresholds.args();
    let report = analyze_json(&[&pcap], &args);
    assert_input(&report, "packets", Some(w.packets));
    assert_eq!(report["detections"], Value::Array(vec![]), "{report:#}");

    let out = analyze(&[&pcap], &args, "text");
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("No attacks found."), "{text}");
    assert!(!text.contains("attack(s)"), "{text}");
    let packets = format!("{}: {} packets", pcap.display(), w.packets);
    assert!(text.contains(&packets), "want {packets:?} in:\n{text}");

    // At the built-in defaults too, with and without a protected space.
    for args in [
        strings(&[
            "--protect",
            traffic::PROTECT_V4,
            "--protect",
            traffic::PROTECT_V6,
        ]),
        vec![],
    ] {
        let report = analyze_json(&[&pcap], &args);
        assert_eq!(
            report["detections"],
            Value::Array(vec![]),
            "{args:?}: {report:#}"
        );
    }
}

#[test]
fn carpet_bombing_over_a_slash_24() {
    let dir = Scratch::new("carpet");
    let scenario = carpet_scenario();
    let th = &scenario.thresholds;
    let pcap = dir.file("carpet.pcap");
    let w = scenario.write(&pcap).unwrap();
    // Each host gets a 254th of the attack: far below every host threshold.
    let per_host = w.truths[0].rate / 254.0;
    assert!(per_host * 2.0 < th.vector(Vector::NtpAmplification) as f64);
    assert!(per_host * 10.0 < th.host_pps as f64);
    let report = analyze_json(&[&pcap], &th.args());
    assert_input(&report, "packets", Some(w.packets));
    let found = ddos(&report);
    let (problems, table) = compare(&found, &w.truths, |t| vec![t.vector.name()], true);
    assert_eq!(w.truths[0].target, "203.0.113.0/24");
    assert_no_problems("carpet bombing", &problems, &table);
}

#[test]
fn outbound_attack_from_a_protected_host() {
    let dir = Scratch::new("outbound");
    let scenario = traffic::outbound(4, SECONDS, 2.0);
    let pcap = dir.file("outbound.pcap");
    let w = scenario.write(&pcap).unwrap();
    let report = analyze_json(&[&pcap], &scenario.thresholds.args());
    let found = ddos(&report);
    let (problems, table) = compare(&found, &w.truths, |t| vec![t.vector.name()], true);
    assert_no_problems("outbound UDP flood", &problems, &table);
    let d = &found[0].json;
    let victim = traffic::OUTBOUND_VICTIM.to_string();
    assert_eq!(d["top_destinations"][0]["addr"], victim, "{d:#}");
    assert_eq!(d["top_sources"], Value::Array(vec![]), "{d:#}");

    // With no protected space every destination is ours: the same flood is then an
    // inbound attack on the victim, and nothing is outbound.
    let mut args = scenario.thresholds.args();
    args.drain(..4); // the two --protect options
    assert!(!args.iter().any(|a| a == "--protect"));
    let found = ddos(&analyze_json(&[&pcap], &args));
    let on_victim: Vec<_> = found.iter().filter(|d| d.target == victim).collect();
    assert_eq!(on_victim.len(), 1, "{found:#?}");
    assert_eq!(on_victim[0].direction, "inbound");
    assert_eq!(on_victim[0].vector, "udp_flood");
    assert!(found.iter().all(|d| d.direction == "inbound"), "{found:#?}");
}

/// Scans: a vertical and a horizontal one over the benign background.
#[test]
fn scans_vertical_and_horizontal() {
    let dir = Scratch::new("scans");
    let scenario = traffic::scans(5, 7.0);
    let pcap = dir.file("scans.pcap");
    scenario.write(&pcap).unwrap();
    let mut args = scenario.thresholds.args();
    args.extend(traffic::scan_args());
    let out = analyze(&[&pcap], &args, "json");
    assert!(
        out.status.success(),
        "scan detection: rampart analyze with {:?} failed:\n{}",
        traffic::scan_args(),
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let detections = report["detections"].as_array().unwrap();
    let scans: Vec<&Value> = detections.iter().filter(|d| d["kind"] == "scan").collect();
    let by = |source: Ipv4Addr| -> Vec<&Value> {
        let s = source.to_string();
        scans.iter().copied().filter(|d| d["source"] == s).collect()
    };
    // Vertical: 1,024 ports of 203.0.113.10 from one source.
    let vertical = by(traffic::VERTICAL_SCANNER);
    assert_eq!(vertical.len(), 1, "vertical scan: {report:#}");
    assert_eq!(vertical[0]["target"], traffic::WEB_HTTPS.to_string());
    let ports = vertical[0]["ports"].as_u64().unwrap_or(0);
    assert!((100..=1024).contains(&ports), "{:#}", vertical[0]);
    // Horizontal: port 22 on every host of the /24 from one source.
    let horizontal = by(traffic::HORIZONTAL_SCANNER);
    assert_eq!(horizontal.len(), 1, "horizontal scan: {report:#}");
    assert_eq!(horizontal[0]["target"], traffic::PROTECT_V4);
    let hosts = horizontal[0]["hosts"].as_u64().unwrap_or(0);
    assert!((50..=254).contains(&hosts), "{:#}", horizontal[0]);
    // Nothing else: the background's clients each touch one port of one host, and scans
    // are far below every flood threshold.
    assert_eq!(scans.len(), 2, "{report:#}");
    assert!(ddos(&report).is_empty(), "{report:#}");
}

// ---------------------------------------------------------------------------------------
// Flows: the same captures exported by softflowd

/// The longest softflowd may run before it is killed and the test fails; it takes about a
/// second. This only guards against a hang.
const DEADLINE: Duration = Duration::from_secs(60);
/// The UDP port the exports are written to in our pcaps: not one collectors default to,
/// since `analyze` recognises exports by their headers on any port.
const EXPORT_PORT: u16 = 40_000;

/// Finds an installed program, in PATH or in the sbin directories Debian puts daemons in.
fn program(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let sbin = ["/usr/local/sbin", "/usr/sbin", "/sbin"].map(PathBuf::from);
    std::env::split_paths(&path)
        .chain(sbin)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

/// Up to 64 KiB of a log, for failure messages.
fn read_log(path: &Path) -> String {
    let mut bytes = Vec::new();
    if let Ok(f) = File::open(path) {
        let _ = io::copy(&mut f.take(64 << 10), &mut bytes);
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

/// Kills softflowd if the test fails while it runs.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        if matches!(self.0.try_wait(), Ok(None)) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// How many export messages softflowd says it sent: "Flows exported: F (R records) in N
/// packets (0 failures)" in what it prints on exit.
fn messages_sent(log: &str) -> Option<usize> {
    let line = log.lines().find(|l| l.starts_with("Flows exported:"))?;
    let (_, rest) = line.split_once(" in ")?;
    rest.split_whitespace().next()?.parse().ok()
}

/// Splits a stream of NetFlow v9 or IPFIX messages. IPFIX headers carry the message length.
/// NetFlow v9 headers do not: a message is its 20-byte header and the flowsets after it,
/// each with its length, up to the next header, whose version (9) no flowset id can be
/// (0 and 1 are templates, 256 and up data, the rest reserved).
fn split_messages(stream: &[u8], version: &str) -> Vec<Vec<u8>> {
    let u16_at = |at: usize| -> Option<usize> {
        Some(usize::from(u16::from_be_bytes([
            *stream.get(at)?,
            *stream.get(at + 1)?,
        ])))
    };
    let mut messages = Vec::new();
    let mut at = 0;
    while at < stream.len() {
        let end = if version == "10" {
            at + u16_at(at + 2).expect("IPFIX header")
        } else {
            let mut end = at + 20;
            while end < stream.len() && u16_at(end) != Some(9) {
                let len = u16_at(end + 2).expect("flowset header");
                assert!(len >= 4, "flowset of {len} bytes at {end}");
                end += len;
            }
            end
        };
        assert!(
            end > at && end <= stream.len(),
            "message at {at} runs past the stream"
        );
        messages.push(stream[at..end].to_vec());
        at = end;
    }
    messages
}

/// softflowd reads `pcap` (`-r`: every flow is flushed at the end of the file, or earlier
/// when its table of 8,192 flows is full) and exports NetFlow `version` (9, or 10 for
/// IPFIX) to 127.0.0.1; returns every message it sent, each as the datagram it would have
/// sent over UDP.
///
/// Over TCP (`-P tcp`), not UDP: softflowd sends as fast as it reads, thousands of messages
/// in a second, and on a busy machine the loopback socket buffer overflowed and lost one
/// datagram in ten (measured here with three test threads running). The messages are the
/// same either way; TCP only adds back-pressure.
fn softflowd_export(softflowd: &Path, pcap: &Path, version: &str, dir: &Path) -> Vec<Vec<u8>> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("listen on 127.0.0.1");
    let port = listener.local_addr().unwrap().port();
    listener.set_nonblocking(true).unwrap();
    // A thread of its own takes the connection and reads it while softflowd runs.
    let exited = Arc::new(AtomicBool::new(false));
    let receiver = {
        let exited = Arc::clone(&exited);
        std::thread::spawn(move || -> Vec<u8> {
            let mut stream = loop {
                match listener.accept() {
                    Ok((stream, _)) => break stream,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        if exited.load(Ordering::Acquire) {
                            return Vec::new(); // it never connected
                        }
                        std::thread::sleep(Duration::from_millis(5));
                    }
                    Err(e) => panic!("accepting softflowd's connection: {e}"),
                }
            };
            stream.set_nonblocking(false).unwrap();
            stream.set_read_timeout(Some(DEADLINE)).unwrap();
            let mut bytes = Vec::new();
            // Bounded: a few MB are expected; a runaway sender stops at 1 GiB.
            io::copy(&mut (&mut stream).take(1 << 30), &mut bytes).expect("reading exports");
            bytes
        })
    };
    let log_path = dir.join(format!("softflowd-v{version}.log"));
    let log = File::create(&log_path).unwrap();
    // No -c: a control socket makes softflowd 1.1.0 block instead of reading the file;
    // -p keeps the pid file it unlinks on exit in our directory.
    let child = Command::new(softflowd)
        .arg("-d")
        .arg("-r")
        .arg(pcap)
        .args([
            "-n",
            &format!("127.0.0.1:{port}"),
            "-v",
            version,
            "-P",
            "tcp",
        ])
        .arg("-p")
        .arg(dir.join("softflowd.pid"))
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", softflowd.display()));
    let mut child = Running(child);
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.0.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > DEADLINE {
            drop(child);
            exited.store(true, Ordering::Release);
            panic!(
                "softflowd did not finish within {DEADLINE:?} and was killed; its output:\n{}",
                read_log(&log_path)
            );
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    exited.store(true, Ordering::Release);
    let stream = receiver.join().expect("receiver thread");
    let log = read_log(&log_path);
    assert!(status.success(), "softflowd failed ({status}):\n{log}");
    let messages = split_messages(&stream, version);
    let sent = messages_sent(&log)
        .unwrap_or_else(|| panic!("softflowd did not say how much it sent:\n{log}"));
    assert_eq!(
        messages.len(),
        sent,
        "messages received vs sent; softflowd said:\n{log}"
    );
    messages
}

/// What flows can name for each attack. Flow records carry no fragment flag (softflowd
/// exports none), so a flood of UDP fragments is, to flows, UDP: a UDP flood, or (as the
/// trailing fragments all come with source port 0) "amplification" from port 0. Every other
/// vector is the same as from packets: the attacks vary addresses and ports per packet, so
/// each flow record is one packet and the OR of a flow's TCP flags is that packet's flags;
/// and the background's bulk transfer is in progress (no SYN or FIN) for the same reason.
fn flow_vectors(t: &Truth) -> Vec<&'static str> {
    match t.vector {
        Vector::IpFragmentFlood => vec!["udp_flood", "udp_amplification"],
        v => vec![v.name()],
    }
}

fn flows_give_the_same_detections(version: &str) {
    let Some(softflowd) = program("softflowd") else {
        eprintln!(
            "SKIPPED: softflowd is not installed (not in PATH, /usr/sbin or /sbin); \
             scripts/test installs it (Debian package softflowd)"
        );
        return;
    };
    let dir = Scratch::new(&format!("softflowd-v{version}"));
    let mut problems = Vec::new();
    let mut tables = String::new();
    for (name, scenario) in [
        ("attacks", attack_scenario()),
        ("carpet", carpet_scenario()),
    ] {
        let pcap = dir.file(&format!("{name}.pcap"));
        let w = scenario.write(&pcap).unwrap();
        let datagrams = softflowd_export(&softflowd, &pcap, version, &dir.0);
        // Captured a second after the traffic ended, as a collector would have seen them.
        let at = BASE_NS + (scenario.seconds * 1e9) as u64 + NS;
        let frames = traffic::datagram_frames(Ipv4Addr::LOCALHOST, EXPORT_PORT, at, &datagrams);
        let exports = dir.file(&format!("{name}-exports.pcap"));
        traffic::write_frames(&exports, 1, &frames).unwrap();
        let report = analyze_json(&[&exports], &scenario.thresholds.args());
        assert_input(&report, "flows", None);
        let (p, table) = compare(&ddos(&report), &w.truths, flow_vectors, false);
        problems.extend(p.into_iter().map(|p| format!("{name}: {p}")));
        tables.push_str(&table);
    }
    let what = format!("softflowd -v {version}, from flows");
    assert_no_problems(&what, &problems, &tables);
}

/// The scans capture exported by softflowd (NetFlow v9): one flow per probe, flags SYN
/// (SYN|RST when the scanner reset an open port), the open ports' answers SYN|ACK. The
/// same two scans, and nothing else.
#[test]
fn softflowd_flows_give_the_same_scans() {
    let Some(softflowd) = program("softflowd") else {
        eprintln!(
            "SKIPPED: softflowd is not installed (not in PATH, /usr/sbin or /sbin); \
             scripts/test installs it (Debian package softflowd)"
        );
        return;
    };
    let dir = Scratch::new("softflowd-scans");
    let scenario = traffic::scans(5, 7.0);
    let pcap = dir.file("scans.pcap");
    scenario.write(&pcap).unwrap();
    let datagrams = softflowd_export(&softflowd, &pcap, "9", &dir.0);
    let at = BASE_NS + (scenario.seconds * 1e9) as u64 + NS;
    let frames = traffic::datagram_frames(Ipv4Addr::LOCALHOST, EXPORT_PORT, at, &datagrams);
    let exports = dir.file("scans-exports.pcap");
    traffic::write_frames(&exports, 1, &frames).unwrap();
    let mut args = scenario.thresholds.args();
    args.extend(traffic::scan_args());
    let report = analyze_json(&[&exports], &args);
    assert_input(&report, "flows", None);
    let scans: Vec<&Value> = report["detections"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["kind"] == "scan")
        .collect();
    assert_eq!(scans.len(), 2, "{report:#}");
    let vertical = scans
        .iter()
        .find(|d| d["source"] == traffic::VERTICAL_SCANNER.to_string())
        .unwrap_or_else(|| panic!("no vertical scan: {report:#}"));
    assert_eq!(vertical["scan_type"], "vertical");
    assert_eq!(vertical["target"], traffic::WEB_HTTPS.to_string());
    let ports = vertical["ports"].as_u64().unwrap_or(0);
    assert!((900..=1024).contains(&ports), "{vertical:#}");
    let horizontal = scans
        .iter()
        .find(|d| d["source"] == traffic::HORIZONTAL_SCANNER.to_string())
        .unwrap_or_else(|| panic!("no horizontal scan: {report:#}"));
    assert_eq!(horizontal["scan_type"], "horizontal");
    assert_eq!(horizontal["target"], traffic::PROTECT_V4);
    let hosts = horizontal["hosts"].as_u64().unwrap_or(0);
    assert!((229..=254).contains(&hosts), "{horizontal:#}");
    assert!(ddos(&report).is_empty(), "{report:#}");
}

#[test]
fn softflowd_netflow9_gives_the_same_detections() {
    flows_give_the_same_detections("9");
}

#[test]
fn softflowd_ipfix_gives_the_same_detections() {
    flows_give_the_same_detections("10");
}

// ---------------------------------------------------------------------------------------
// Public captures

fn corpus(name: &str) -> PathBuf {
    Path::new(CORPUS).join(name)
}

/// The UDP source port of an Ethernet/IPv4 frame.
fn udp_source_port(frame: &[u8]) -> Option<u16> {
    let ip = frame.get(14..)?;
    if frame.get(12..14)? != [0x08, 0x00] || ip.get(9)? != &17 {
        return None;
    }
    let ihl = usize::from(ip[0] & 0x0f) * 4;
    Some(u16::from_be_bytes([*ip.get(ihl)?, *ip.get(ihl + 1)?]))
}

/// The frames of `name` that come from UDP port `port`, each repeated at `pps` for
/// `seconds` from the first one's time: real servers' answers at flood rate. Returns the
/// time of the first.
fn repeat_answers(name: &str, port: u16, pps: u64, seconds: u64, out: &Path) -> u64 {
    let (linktype, frames) = traffic::read_pcap(&corpus(name), 1 << 20).unwrap();
    let answers: Vec<&traffic::Frame> = frames
        .iter()
        .filter(|f| udp_source_port(&f.data) == Some(port))
        .collect();
    assert!(!answers.is_empty(), "{name}: no UDP from port {port}");
    let t0 = answers[0].t_ns;
    let n = answers.len() as u64;
    let repeated: Vec<traffic::Frame> = (0..pps * seconds * n)
        .map(|i| traffic::Frame {
            t_ns: t0 + i * NS / (pps * n),
            ..answers[(i % n) as usize].clone()
        })
        .collect();
    traffic::write_frames(out, linktype, &repeated).unwrap();
    t0
}

#[test]
fn corpus_captures() {
    let dir = Scratch::new("corpus");
    // 200 SYNs in 0.2 s from one source: 200 per second at most, nothing at the defaults.
    let syn = corpus("syn-flood-200.pcap");
    let report = analyze_json(&[&syn], &[]);
    assert_input(&report, "packets", Some(200));
    assert!(ddos(&report).is_empty(), "{report:#}");
    // At syn_flood = 100 the burst is 2x: a SYN flood on 198.51.100.5:443 from 192.0.2.10,
    // found within a second of its first packet (2023-11-14T22:13:20Z).
    let report = analyze_json(
        &[&syn],
        &strings(&["--set", "detect.ddos.vector_pps.syn_flood=100"]),
    );
    let found = ddos(&report);
    assert_eq!(found.len(), 1, "{report:#}");
    let d = &found[0];
    assert_eq!(
        (d.target.as_str(), d.vector.as_str(), d.direction.as_str()),
        ("198.51.100.5", "syn_flood", "inbound")
    );
    assert_eq!(
        d.json["top_sources"][0]["addr"], "192.0.2.10",
        "{:#}",
        d.json
    );
    assert_eq!(d.json["top_dst_ports"][0]["port"], 443, "{:#}", d.json);
    let first = 1_700_000_000 * NS;
    assert!(
        d.start_ns >= first && d.start_ns - first <= NS,
        "{:#}",
        d.json
    );

    // One CLDAP exchange and two NTP exchanges are no attack, whatever the thresholds
    // (one answer is one packet per second).
    for (name, records) in [("cldap.pcap", 2), ("ntp.pcap", 4)] {
        let report = analyze_json(&[&corpus(name)], &[]);
        assert_input(&report, "packets", Some(records));
        assert!(ddos(&report).is_empty(), "{name}: {report:#}");
    }

    // The real answers at flood rate: a domain controller's CLDAP answer at 2x
    // cldap_amplification's threshold, and the two NTP servers' answers at 2x
    // ntp_amplification's, toward the clients that asked.
    let cases = [
        (
            "cldap.pcap",
            389,
            "cldap_amplification",
            250,
            "192.168.122.145",
            "192.168.122.3",
        ),
        (
            "ntp.pcap",
            123,
            "ntp_amplification",
            500,
            "192.0.2.1",
            "192.0.2.123",
        ),
    ];
    for (name, port, vector, threshold, victim, reflector) in cases {
        let out = dir.file(&format!("repeated-{name}"));
        let t0 = repeat_answers(name, port, 2 * threshold, 3, &out);
        let args = strings(&[
            "--set",
            &format!("detect.ddos.vector_pps.{vector}={threshold}"),
        ]);
        let report = analyze_json(&[&out], &args);
        let found = ddos(&report);
        let d = found
            .iter()
            .find(|d| d.target == victim)
            .unwrap_or_else(|| panic!("{name} repeated: no detection on {victim}: {report:#}"));
        assert_eq!(d.vector, vector, "{name}: {:#}", d.json);
        assert_eq!(d.direction, "inbound");
        assert_eq!(d.json["top_sources"][0]["addr"], reflector, "{:#}", d.json);
        assert!(d.start_ns - t0 <= NS, "{name}: {:#}", d.json);
        // ntp.pcap holds two servers answering two clients: both are flooded alike.
        assert!(found.iter().all(|d| d.vector == vector), "{report:#}");
    }
}

// ---------------------------------------------------------------------------------------
// Bad input

#[test]
fn bad_input() {
    let dir = Scratch::new("bad-input");
    let args = strings(&["--protect", traffic::PROTECT_V4]);

    // Not a capture: exit 2, naming the file and what is wrong with it.
    let text = dir.file("notes.txt");
    fs::write(&text, "these are notes, not packets\n").unwrap();
    let out = analyze(&[&text], &args, "json");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("notes.txt") && err.contains("not a pcap"),
        "{err}"
    );
    assert!(out.stdout.is_empty());

    // A missing file, and a good capture followed by a bad file: exit 2, no report.
    let missing = dir.file("missing.pcap");
    let out = analyze(&[&missing], &args, "json");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("missing.pcap"));
    let good = dir.file("good.pcap");
    let w = Scenario::new(6, 1.0).write(&good).unwrap();
    let out = analyze(&[&good, &text], &args, "json");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("notes.txt"));

    // A capture cut off in the middle of a packet (a full disk, a killed tcpdump): exit 2,
    // naming the file and where the cut is. (Reporting what came before the cut, with the
    // damage counted, would also do; this is what analyze does today.)
    let mut bytes = Vec::new();
    io::copy(&mut File::open(&good).unwrap().take(1 << 30), &mut bytes).unwrap();
    let cut = dir.file("cut.pcap");
    fs::write(&cut, &bytes[..bytes.len() * 2 / 3 + 7]).unwrap();
    // A capture cut short: what came before the cut is analysed, the cut is counted as an
    // error and named on standard error.
    let out = analyze(&[&cut], &args, "json");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(
        err.contains("cut.pcap") && err.contains("truncated"),
        "{err}"
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["inputs"][0]["errors"], 1, "{report}");
    assert!(
        report["inputs"][0]["records"].as_u64().unwrap() > 0,
        "{report}"
    );

    // Undecodable packets inside a good capture are counted, and the rest is analysed.
    let (linktype, mut frames) = traffic::read_pcap(&good, 1 << 30).unwrap();
    let mut broken = frames[0].clone();
    broken.data[14] = 0x41; // IPv4 with a header length of 4 bytes
    frames.insert(1, broken.clone());
    frames.insert(2, broken);
    let damaged = dir.file("damaged.pcap");
    traffic::write_frames(&damaged, linktype, &frames).unwrap();
    let report = analyze_json(&[&damaged], &args);
    let input = &report["inputs"][0];
    assert_eq!(input["errors"], 2, "{input}");
    assert_eq!(input["records"], w.packets, "{input}");
}

/// Exfiltration from flows made by softflowd from a capture: a protected host talks a little
/// to one address each second, then sends 30 MB in ten seconds to an address it never
/// talked to. softflowd (NetFlow v9) turns the capture into flows; `analyze` on the exports
/// reports one exfiltration, from that host, naming the new destination.
#[test]
fn softflowd_flows_show_an_exfiltration_to_a_new_destination() {
    let Some(softflowd) = program("softflowd") else {
        eprintln!(
            "SKIPPED: softflowd is not installed (not in PATH, /usr/sbin or /sbin); \
             scripts/test installs it (Debian package softflowd)"
        );
        return;
    };
    let dir = Scratch::new("softflowd-exfil");
    let host: IpAddr = "203.0.113.5".parse().unwrap();
    let usual: IpAddr = "198.51.100.1".parse().unwrap();
    let new: IpAddr = "192.0.2.200".parse().unwrap();
    let mut cap = traffic::Capture::new(128);
    let payload = vec![0u8; 1372];
    // A request a second to the usual place, each from its own port (a flow each).
    for s in 0..80u64 {
        let udp = traffic::udp_datagram(host, usual, 40_000 + s as u16, 443, &payload[..500]);
        cap.ip(
            s * NS,
            traffic::Ip::new(host, usual, 64, s as u16),
            17,
            &[&udp],
        );
    }
    // 30 MB to a new address between 40 s and 50 s.
    for i in 0..21_000u64 {
        let udp = traffic::udp_datagram(host, new, 50_000, 443, &payload);
        cap.ip(
            40 * NS + i * (10 * NS / 21_000),
            traffic::Ip::new(host, new, 64, i as u16),
            17,
            &[&udp],
        );
    }
    let pcap = dir.file("exfil.pcap");
    cap.write_file(&pcap).unwrap();
    let datagrams = softflowd_export(&softflowd, &pcap, "9", &dir.0);
    let frames = traffic::datagram_frames(
        Ipv4Addr::LOCALHOST,
        EXPORT_PORT,
        BASE_NS + 81 * NS,
        &datagrams,
    );
    let exports = dir.file("exfil-exports.pcap");
    traffic::write_frames(&exports, 1, &frames).unwrap();
    let args: Vec<String> = [
        "--protect",
        "203.0.113.0/24",
        "--set",
        "detect.exfil.window_s=10",
        "--set",
        "detect.exfil.learning_s=20",
        "--set",
        "detect.exfil.min_bytes=10000000",
        "--set",
        "detect.exfil.new_destination_bytes=10000000",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let report = analyze_json(&[&exports], &args);
    assert_input(&report, "flows", None);
    let exfil: Vec<&Value> = report["detections"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["kind"] == "exfiltration")
        .collect();
    assert_eq!(exfil.len(), 1, "{report:#}");
    let x = exfil[0];
    assert_eq!(x["source"], "203.0.113.5", "{x:#}");
    assert!(x["bytes"].as_u64().unwrap() >= 28_000_000, "{x:#}");
    assert!(x.to_string().contains("192.0.2.200"), "{x:#}");
}
