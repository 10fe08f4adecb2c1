//! What the integration tests share: a runtime, sample notifications, temporary
//! directories, free ports, and the real peers' plumbing.

#![allow(dead_code, clippy::unwrap_used)]

pub mod receiver;

use rampart_model::Timestamp;
use rampart_notify::{EventKind, Notification};
use serde_json::json;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Runs a test body on a two-thread runtime, as the daemon runs the notifier.
pub fn run<F: std::future::Future<Output = ()>>(f: F) {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

/// A notification about a SYN flood on 203.0.113.10 and, for mitigation events, its
/// blackhole.
pub fn notification(event: EventKind) -> Notification {
    let detection = json!({
        "kind": "ddos", "vector": "syn_flood", "vectors": ["syn_flood"],
        "target": "203.0.113.10", "direction": "inbound",
        "start": "2026-11-22T10:00:00.000Z", "end": null,
        "peak_pps": 1_200_000, "peak_bps": 9_800_000_000u64, "confidence": 0.97,
        "top_sources": [], "top_src_ports": [], "top_dst_ports": [],
        "spoofed_sources": true, "samples": 5000,
        "evidence": "SYN packets 40x the learned baseline",
        "id": 12, "state": "active", "updated": "2026-11-22T10:00:02.000Z", "timeline": []
    });
    let mitigation = event.as_str().starts_with("mitigation.").then(|| {
        json!({"id": 3, "kind": "blackhole", "target": "203.0.113.10", "detection_id": 12,
               "reason": "syn_flood over 1 Mpps", "requested_by": "policy",
               "approved_by": null, "created": "2026-11-22T10:00:02.000Z",
               "expires": "2026-11-22T11:00:02.000Z", "state": "active", "dry_run": false})
    });
    Notification::new(
        event,
        Timestamp::from_secs(1_795_000_000),
        "test-daemon",
        Some(detection),
        mitigation,
        None,
    )
}

/// Polls `cond` every 10 ms for up to 10 s.
#[track_caller]
pub fn until(mut cond: impl FnMut() -> bool) {
    let end = Instant::now() + Duration::from_secs(10);
    while !cond() {
        assert!(Instant::now() < end, "condition not met within 10 s");
        std::thread::sleep(Duration::from_millis(10));
    }
}

pub struct TempDir {
    pub path: PathBuf,
}

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let path =
            std::env::temp_dir().join(format!("rampart-notify-{tag}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap();
        TempDir { path }
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// A free port on loopback (TCP and UDP), found by binding port 0.
pub fn free_port() -> u16 {
    loop {
        let t = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = t.local_addr().unwrap().port();
        if std::net::UdpSocket::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

/// The directory of these tests' scripts.
pub fn tests_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests")
}

/// Runs tests/verify_webhook.{py,sh}: true when it accepts the delivery.
pub fn verify_script(script: &str, secret: &str, ts: &str, sig: &str, body: &Path) -> bool {
    let path = tests_dir().join(script);
    let mut cmd = if script.ends_with(".py") {
        Command::new(python())
    } else {
        Command::new("sh")
    };
    cmd.arg(path).args([secret, ts, sig]).arg(body);
    let out = cmd.output().unwrap_or_else(|e| panic!("{script}: {e}"));
    out.status.success()
}

/// Debian's python3 (which has python3-aiosmtpd), not one from a version manager.
pub fn python() -> &'static str {
    if Path::new("/usr/bin/python3").exists() {
        "/usr/bin/python3"
    } else {
        "python3"
    }
}

/// Fails the test with a message saying what to install.
pub fn require(tool: &str, package: &str) {
    let found = if tool.starts_with('/') {
        Path::new(tool).exists()
    } else {
        Command::new("sh")
            .args(["-c", &format!("command -v {tool}")])
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false)
    };
    assert!(
        found,
        "{tool} is missing: install the Debian package {package} (scripts/test does)"
    );
}

/// A file of at most 16 MiB as text (the lints forbid unbounded reads, tests included).
pub fn read_text(path: &Path) -> String {
    use std::io::Read;
    let mut s = String::new();
    #[allow(clippy::disallowed_methods)] // bounded by take()
    std::fs::File::open(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .take(16 << 20)
        .read_to_string(&mut s)
        .unwrap();
    s
}

/// A CA and a server certificate for 127.0.0.1 signed by it.
pub struct Certs {
    pub dir: TempDir,
}

impl Certs {
    pub fn new() -> Certs {
        require("openssl", "openssl");
        let dir = TempDir::new("smtp-certs");
        let d = &dir.path;
        std::fs::write(
            d.join("server.ext"),
            "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n\
             keyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n",
        )
        .unwrap();
        let ec = [
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
        ];
        openssl(
            d,
            &[
                &["req", "-x509"],
                &ec[..],
                &[
                    "-keyout",
                    "ca.key",
                    "-out",
                    "ca.pem",
                    "-days",
                    "2",
                    "-subj",
                    "/CN=Rampart test CA",
                    "-addext",
                    "basicConstraints=critical,CA:TRUE",
                    "-addext",
                    "keyUsage=critical,keyCertSign,cRLSign",
                ],
            ]
            .concat(),
        );
        openssl(
            d,
            &[
                &["req"],
                &ec[..],
                &[
                    "-keyout",
                    "server.key",
                    "-out",
                    "server.csr",
                    "-subj",
                    "/CN=127.0.0.1",
                ],
            ]
            .concat(),
        );
        openssl(
            d,
            &[
                "x509",
                "-req",
                "-in",
                "server.csr",
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-out",
                "server.pem",
                "-days",
                "2",
                "-extfile",
                "server.ext",
            ],
        );
        Certs { dir }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path.join(name)
    }
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// One of the tests' Python peers (tests/*.py) with Debian's python3: started, waited
/// for until it prints "ready", and stopped by closing its standard input (killed, by its
/// process id, if it does not stop).
pub struct Script {
    child: Child,
}

impl Script {
    pub fn start(script: &str, args: &[std::ffi::OsString], log: &Path) -> Script {
        let mut child = Command::new(python())
            .arg(tests_dir().join(script))
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(log).unwrap())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert!(
            line.starts_with("ready"),
            "{script} said {line:?}; its log: {}",
            read_text(log)
        );
        Script { child }
    }
}

impl Drop for Script {
    fn drop(&mut self) {
        drop(self.child.stdin.take());
        for _ in 0..50 {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The records (N.json, from 1) a Python peer wrote into `dir`.
pub fn count_records(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .unwrap()
        .filter(|e| {
            let name = e.as_ref().unwrap().file_name();
            let name = name.to_string_lossy();
            name.ends_with(".json") && !name.starts_with('.')
        })
        .count()
}

/// Waits for `n` records and returns them all, in order.
#[track_caller]
pub fn wait_records(dir: &Path, n: usize) -> Vec<serde_json::Value> {
    until(|| count_records(dir) >= n);
    (1..=count_records(dir))
        .map(|i| serde_json::from_str(&read_text(&dir.join(format!("{i}.json")))).unwrap())
        .collect()
}

/// The next dead letter, within 20 s.
pub async fn next_dead_letter(
    dead: &mut tokio::sync::mpsc::Receiver<rampart_notify::DeadLetter>,
) -> rampart_notify::DeadLetter {
    tokio::time::timeout(Duration::from_secs(20), dead.recv())
        .await
        .expect("a dead letter within 20 s")
        .expect("the notifier is running")
}
