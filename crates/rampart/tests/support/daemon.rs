//! Running `rampart serve` in a test: a daemon in its own directory on free ports, a tiny
//! HTTP/1.1 client for its API, tokens made with `rampart token create`, a veth pair into a
//! network namespace that tcpreplay feeds, and a live exporter (softflowd capturing the veth).
#![allow(dead_code, clippy::unwrap_used)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub const RAMPART: &str = env!("CARGO_BIN_EXE_rampart");

/// A directory removed when dropped.
pub struct Scratch(pub PathBuf);

impl Scratch {
    pub fn new(name: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("rampart-serve-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A running daemon. Stopped (SIGTERM, then kill) when dropped.
pub struct Daemon {
    child: Option<Child>,
    pub api: SocketAddr,
    pub flow: SocketAddr,
    /// Syslog over UDP and TCP.
    pub syslog_udp: SocketAddr,
    pub syslog_tcp: SocketAddr,
    log: Arc<Mutex<String>>,
}

/// Finds a `key=value` or `http://ADDR/` address in a log line.
fn addr_after(line: &str, key: &str) -> Option<SocketAddr> {
    let at = line.find(key)? + key.len();
    let rest = &line[at..];
    let end = rest
        .find(|c: char| c.is_whitespace() || c == '/')
        .unwrap_or(rest.len());
    rest[..end].parse().ok()
}

impl Daemon {
    /// Starts `rampart serve` in `dir` with collectors and API on free loopback ports.
    pub fn start(dir: &Path, args: &[String]) -> Daemon {
        let mut cmd = Command::new(RAMPART);
        cmd.current_dir(dir)
            .arg("serve")
            .args(["--set", "listen.flow=[\"127.0.0.1:0\"]"])
            .args(["--set", "api.listen=\"127.0.0.1:0\""])
            .args(["--set", "logs.syslog_udp=[\"127.0.0.1:0\"]"])
            .args(["--set", "logs.syslog_tcp=[\"127.0.0.1:0\"]"])
            .args(args)
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().unwrap();
        let stderr = child.stderr.take().unwrap();
        let log = Arc::new(Mutex::new(String::new()));
        let sink = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let mut l = sink.lock().unwrap();
                l.push_str(&line);
                l.push('\n');
            }
        });
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let text = log.lock().unwrap().clone();
            let flow = text
                .lines()
                .find(|l| l.contains("collecting flows"))
                .and_then(|l| addr_after(l, "listen="));
            let api = text
                .lines()
                .find(|l| l.contains("API and console at"))
                .and_then(|l| addr_after(l, "http://"));
            let syslog = |proto: &str| {
                text.lines()
                    .find(|l| l.contains(&format!("receiving syslog over {proto}")))
                    .and_then(|l| addr_after(l, "listen="))
            };
            if let (Some(flow), Some(api), Some(udp), Some(tcp)) =
                (flow, api, syslog("UDP"), syslog("TCP"))
            {
                return Daemon {
                    child: Some(child),
                    api,
                    flow,
                    syslog_udp: udp,
                    syslog_tcp: tcp,
                    log,
                };
            }
            if let Ok(Some(status)) = child.try_wait() {
                panic!("rampart serve exited ({status}):\n{text}");
            }
            assert!(
                Instant::now() < deadline,
                "rampart serve did not start:\n{text}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().unwrap().id()
    }

    /// Sends a signal by name (HUP, TERM) with kill(1).
    pub fn signal(&self, name: &str) {
        let ok = Command::new("kill")
            .args([format!("-{name}"), self.pid().to_string()])
            .status()
            .unwrap()
            .success();
        assert!(ok, "kill -{name}");
    }

    /// SIGTERM and wait for a clean exit; returns the log.
    pub fn stop(mut self) -> String {
        self.signal("TERM");
        let mut child = self.child.take().unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                assert!(
                    status.success(),
                    "serve exited with {status}:\n{}",
                    self.log()
                );
                break;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!("serve did not stop on SIGTERM:\n{}", self.log());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        std::thread::sleep(Duration::from_millis(100));
        self.log()
    }

    pub fn get(&self, path: &str, token: Option<&str>) -> Response {
        request(self.api, "GET", path, token, None)
    }

    /// GET that must answer 200 with JSON.
    pub fn json(&self, path: &str, token: &str) -> serde_json::Value {
        let r = self.get(path, Some(token));
        assert_eq!(r.status, 200, "GET {path}: {}", r.body);
        serde_json::from_str(&r.body).unwrap_or_else(|e| panic!("GET {path}: {e}: {}", r.body))
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-TERM", &c.id().to_string()])
                .status();
            let deadline = Instant::now() + Duration::from_secs(5);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = c.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: String,
    pub body: String,
}

/// One HTTP/1.1 request with `Connection: close`; the body is read to the end.
pub fn request(
    api: SocketAddr,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&str>,
) -> Response {
    let body = body.unwrap_or("");
    let content_type = (!body.is_empty() || method != "GET").then_some("application/json");
    send(api, method, path, token, None, content_type, body)
}

/// A TAXII 2.1 request: `accept` as its Accept header, a POST's body sent as TAXII.
pub fn taxii_request(
    api: SocketAddr,
    method: &str,
    path: &str,
    token: Option<&str>,
    accept: &str,
    body: Option<&str>,
) -> Response {
    let content_type = (method == "POST").then_some("application/taxii+json;version=2.1");
    let body = body.unwrap_or("");
    send(api, method, path, token, Some(accept), content_type, body)
}

fn send(
    api: SocketAddr,
    method: &str,
    path: &str,
    token: Option<&str>,
    accept: Option<&str>,
    content_type: Option<&str>,
    body: &str,
) -> Response {
    let mut s = TcpStream::connect_timeout(&api, Duration::from_secs(5)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {api}\r\nConnection: close\r\n");
    if let Some(t) = token {
        req.push_str(&format!("Authorization: Bearer {t}\r\n"));
    }
    if let Some(a) = accept {
        req.push_str(&format!("Accept: {a}\r\n"));
    }
    if let Some(ct) = content_type {
        req.push_str(&format!(
            "Content-Type: {ct}\r\nContent-Length: {}\r\n",
            body.len()
        ));
    }
    req.push_str("\r\n");
    req.push_str(body);
    s.write_all(req.as_bytes()).unwrap();
    let mut raw = Vec::new();
    let mut buf = [0u8; 8192];
    // An event stream never ends: stop at its headers.
    loop {
        let n = s.read(&mut buf).unwrap();
        if n == 0 || raw.len() > 16 << 20 {
            break;
        }
        raw.extend_from_slice(&buf[..n]);
        let head_end = raw.windows(4).position(|w| w == b"\r\n\r\n");
        if head_end.is_some_and(|e| {
            String::from_utf8_lossy(&raw[..e])
                .to_ascii_lowercase()
                .contains("text/event-stream")
        }) {
            break;
        }
    }
    let text = String::from_utf8_lossy(&raw).to_string();
    let (head, rest) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let chunked = head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked");
    let body = if chunked {
        dechunk(rest)
    } else {
        rest.to_string()
    };
    Response {
        status,
        headers: head.to_string(),
        body,
    }
}

fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = s.split_once("\r\n") {
        let Ok(n) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        s = rest[n..].trim_start_matches("\r\n");
    }
    out
}

/// Makes a token with the CLI in `dir`'s store; returns its secret.
pub fn token(dir: &Path, role: &str, name: &str) -> String {
    let out = Command::new(RAMPART)
        .current_dir(dir)
        .args(["token", "create", "--role", role, "--name", name])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .last()
        .unwrap()
        .split_whitespace()
        .last()
        .unwrap()
        .to_string()
}

/// Polls `f` every 200 ms until it returns Some, or panics with `what` after `secs`.
pub fn wait_for<T>(secs: u64, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Finds an installed program, in PATH or in the sbin directories Debian puts daemons in.
pub fn program(name: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let sbin = ["/usr/local/sbin", "/usr/sbin", "/sbin"].map(PathBuf::from);
    std::env::split_paths(&path)
        .chain(sbin)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
        .unwrap_or_else(|| panic!("{name} is not installed (scripts/test installs it)"))
}

fn run(cmd: &[&str]) {
    let out = Command::new(cmd[0]).args(&cmd[1..]).output().unwrap();
    assert!(
        out.status.success(),
        "{}: {}",
        cmd.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A veth pair whose far end sits in a network namespace, for tcpreplay to send captures
/// into the far end and something on the near end to see them. IPv6 is off on both ends, so
/// that nothing but the replayed frames crosses (no router solicitations). Torn down on drop.
pub struct Veth {
    pub netns: String,
    pub near: String,
    pub far: String,
}

impl Veth {
    pub fn start(name: &str) -> Veth {
        let id = std::process::id() % 100_000;
        let netns = format!("rp{name}{id}");
        let (near, far) = (format!("rpa{id}{name}"), format!("rpb{id}{name}"));
        let (near, far) = (
            near[..near.len().min(15)].to_string(),
            far[..far.len().min(15)].to_string(),
        );
        let _ = Command::new("ip").args(["netns", "del", &netns]).output();
        let _ = Command::new("ip").args(["link", "del", &near]).output();
        run(&["ip", "netns", "add", &netns]);
        // From here on, a failure still removes what was made.
        let veth = Veth { netns, near, far };
        let (netns, near, far) = (&veth.netns, &veth.near, &veth.far);
        run(&[
            "ip", "link", "add", near, "type", "veth", "peer", "name", far,
        ]);
        run(&["ip", "link", "set", far, "netns", netns]);
        let _ = Command::new("sysctl")
            .args(["-qw", &format!("net.ipv6.conf.{near}.disable_ipv6=1")])
            .output();
        let _ = Command::new("ip")
            .args(["netns", "exec", netns, "sysctl", "-qw"])
            .arg(format!("net.ipv6.conf.{far}.disable_ipv6=1"))
            .output();
        run(&["ip", "link", "set", near, "up"]);
        run(&["ip", "netns", "exec", netns, "ip", "link", "set", far, "up"]);
        veth
    }

    fn tcpreplay(&self, pcap: &Path, args: &[&str]) -> Command {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &self.netns])
            .arg(program("tcpreplay"))
            .args(["-i", &self.far])
            .args(args)
            .arg(pcap);
        cmd
    }

    /// Starts tcpreplay of `pcap` at its own pace into the namespace's end.
    pub fn replay(&self, pcap: &Path) -> Replay {
        let child = self
            .tcpreplay(pcap, &["-q"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        Replay(child)
    }

    /// Runs tcpreplay of `pcap` with `args` to its end; returns what it says it sent.
    pub fn replay_counted(&self, pcap: &Path, args: &[&str]) -> Sent {
        let out = self.tcpreplay(pcap, args).output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout).to_string()
            + &String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "tcpreplay failed:\n{text}");
        Sent::parse(&text).unwrap_or_else(|| panic!("no count in tcpreplay's output:\n{text}"))
    }
}

impl Drop for Veth {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["link", "del", &self.near])
            .output();
        let _ = Command::new("ip")
            .args(["netns", "del", &self.netns])
            .output();
    }
}

/// What tcpreplay reported: "Actual: N packets (B bytes) sent in ..." and its failures.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sent {
    pub packets: u64,
    pub bytes: u64,
    pub failed: u64,
}

impl Sent {
    pub fn parse(text: &str) -> Option<Sent> {
        let number_after = |key: &str| -> Option<u64> {
            let at = text.find(key)? + key.len();
            let rest = text[at..].trim_start_matches([' ', '\t', '(']);
            rest.split(|c: char| !c.is_ascii_digit())
                .next()?
                .parse()
                .ok()
        };
        Some(Sent {
            packets: number_after("Actual:")?,
            bytes: number_after("packets")?,
            failed: number_after("Failed packets:").unwrap_or(0),
        })
    }
}

/// A live exporter: softflowd on the near end of a [`Veth`] exports what tcpreplay sends into
/// the far end as NetFlow v9 to a collector on loopback, with flow times from the live clock.
/// Torn down on drop.
pub struct LiveExporter {
    pub veth: Veth,
    softflowd: Child,
}

impl LiveExporter {
    pub fn start(name: &str, collector: SocketAddr) -> LiveExporter {
        let veth = Veth::start(name);
        let softflowd = Command::new(program("softflowd"))
            .args([
                "-i",
                &veth.near,
                "-n",
                &collector.to_string(),
                "-v",
                "9",
                "-d",
            ])
            .args(["-t", "maxlife=2s", "-t", "general=2s", "-t", "expint=1s"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // softflowd opens its capture asynchronously.
        std::thread::sleep(Duration::from_millis(800));
        LiveExporter { veth, softflowd }
    }

    /// Starts tcpreplay of `pcap` at its own pace into the namespace's end of the veth.
    pub fn replay(&self, pcap: &Path) -> Replay {
        self.veth.replay(pcap)
    }
}

/// A tcpreplay run, killed when dropped.
pub struct Replay(Child);

impl Replay {
    pub fn wait(&mut self) {
        let _ = self.0.wait();
    }
}

impl Drop for Replay {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for LiveExporter {
    fn drop(&mut self) {
        // Before the veth goes (the field drops after this).
        let _ = self.softflowd.kill();
        let _ = self.softflowd.wait();
    }
}
