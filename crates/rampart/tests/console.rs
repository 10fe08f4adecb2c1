#![allow(clippy::unwrap_used)]
//! The web console in a real browser: `rampart serve` on free loopback ports, real flows
//! from softflowd watching a veth whose other end (in a network namespace made here) gets a
//! capture replayed by tcpreplay, and Debian's Chromium driven by Playwright
//! (tests/console/console.test.mjs) logging in, watching the attacks appear live, opening
//! one, following it to its end, and visiting every view. Screenshots go to
//! test-artifacts/console/ at the workspace root.
//!
//! Needs root (network namespaces), chromium, node and npm, softflowd, tcpreplay and ip:
//! scripts/test installs them. Everything made here (namespace, veth, processes, files) is
//! removed by [`Run`]'s Drop, also when the test fails.

#[path = "support/traffic.rs"]
mod traffic;

use std::io::{BufRead, BufReader};
use std::net::{IpAddr, Ipv4Addr, TcpListener, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};
use traffic::{Target, Vector};

const RAMPART: &str = env!("CARGO_BIN_EXE_rampart");
const WORKSPACE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
/// The longest the browser script may run; it takes about two minutes.
const SCRIPT_DEADLINE: Duration = Duration::from_secs(480);

fn program(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/sbin", "/usr/bin"].map(PathBuf::from))
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

fn need(name: &str, package: &str) -> PathBuf {
    program(name).unwrap_or_else(|| {
        panic!(
            "{name} is not installed: the console test needs it (Debian package {package}; \
             scripts/test installs it)"
        )
    })
}

/// Runs a command that must succeed; says which and why not.
fn run(cmd: &mut Command) {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}):\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Everything the test made; Drop ends the processes and removes the rest.
struct Run {
    dir: PathBuf,
    netns: String,
    veth: String,
    children: Vec<(&'static str, Child)>,
}

impl Run {
    fn new() -> Run {
        // Unique per run: interface names are at most 15 bytes.
        let id = std::process::id() % 100_000;
        let dir = std::env::temp_dir().join(format!("rampart-console-{id}"));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Run {
            dir,
            netns: format!("rmpcon{id}"),
            veth: format!("rmpc{id}"),
            children: Vec::new(),
        }
    }

    fn peer(&self) -> String {
        format!("{}p", self.veth)
    }

    /// A veth pair: `veth` here, its peer in the namespace `netns`, both up.
    fn link(&self) {
        run(Command::new("ip").args(["netns", "add", &self.netns]));
        run(Command::new("ip").args([
            "link",
            "add",
            &self.veth,
            "type",
            "veth",
            "peer",
            "name",
            &self.peer(),
        ]));
        run(Command::new("ip").args(["link", "set", &self.peer(), "netns", &self.netns]));
        run(Command::new("ip").args(["link", "set", &self.veth, "up"]));
        run(Command::new("ip").args([
            "netns",
            "exec",
            &self.netns,
            "ip",
            "link",
            "set",
            &self.peer(),
            "up",
        ]));
    }

    fn spawn(&mut self, what: &'static str, cmd: &mut Command) -> &mut Child {
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {what} ({cmd:?}): {e}"));
        self.children.push((what, child));
        &mut self.children.last_mut().unwrap().1
    }

    fn log(&self, name: &str) -> std::fs::File {
        std::fs::File::create(self.dir.join(name)).unwrap()
    }

    fn read_log(&self, name: &str) -> String {
        use std::io::Read;
        let mut bytes = Vec::new();
        if let Ok(f) = std::fs::File::open(self.dir.join(name)) {
            let _ = std::io::copy(&mut f.take(64 << 10), &mut bytes);
        }
        String::from_utf8_lossy(&bytes).into_owned()
    }
}

impl Drop for Run {
    fn drop(&mut self) {
        // Last started first: the replay and the browser before the daemon.
        for (_, c) in self.children.iter_mut().rev() {
            let _ = c.kill();
            let _ = c.wait();
        }
        let _ = Command::new("ip")
            .args(["link", "del", &self.veth])
            .stderr(Stdio::null())
            .status();
        let _ = Command::new("ip")
            .args(["netns", "del", &self.netns])
            .stderr(Stdio::null())
            .status();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// How `rampart serve` is started, so that it can be started again on the same ports and
/// store.
struct Serve {
    args: Vec<String>,
    flow_port: u16,
    api_port: u16,
    store: PathBuf,
}

impl Serve {
    /// Starts it and waits for its API port.
    fn start(&self, r: &mut Run, log: &str) {
        let log_file = r.log(log);
        let dir = r.dir.clone();
        r.spawn(
            "rampart serve",
            Command::new(RAMPART)
                .arg("serve")
                .args([
                    "--set",
                    &format!("listen.flow=[\"127.0.0.1:{}\"]", self.flow_port),
                ])
                .args([
                    "--set",
                    &format!("api.listen=\"127.0.0.1:{}\"", self.api_port),
                ])
                .args(["--set", &format!("store.path=\"{}\"", self.store.display())])
                // Syslog on free ports, so that test runs do not collide on 5514.
                .args(["--set", "logs.syslog_udp=[\"127.0.0.1:0\"]"])
                .args(["--set", "logs.syslog_tcp=[\"127.0.0.1:0\"]"])
                .args(&self.args)
                .current_dir(dir)
                .stdout(Stdio::null())
                .stderr(log_file),
        );
        let start = Instant::now();
        while TcpStream::connect(("127.0.0.1", self.api_port)).is_err() {
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "rampart serve did not open its API port:\n{}",
                r.read_log(log)
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Stops it as a crash would (SIGKILL): the store must keep what it had.
    fn kill(&self, r: &mut Run) {
        if let Some(i) = r.children.iter().position(|(w, _)| *w == "rampart serve") {
            let (_, mut c) = r.children.remove(i);
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn free_tcp_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn free_udp_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `rampart token create` prints the secret as the last word of its last line.
fn token(store: &Path, role: &str) -> String {
    let out = Command::new(RAMPART)
        .args(["token", "--set"])
        .arg(format!("store.path=\"{}\"", store.display()))
        .args(["create", "--role", role])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "token create: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let secret = stdout
        .lines()
        .last()
        .and_then(|l| l.split_whitespace().last())
        .unwrap_or("")
        .to_string();
    assert!(secret.starts_with("rmp_"), "no token in: {stdout}");
    secret
}

/// node_modules of tests/console, installed from package-lock.json when missing.
fn console_dir() -> PathBuf {
    let dir = Path::new(WORKSPACE).join("tests/console");
    if !dir.join("node_modules/playwright-core").is_dir() {
        let npm = need("npm", "npm (with Node.js 20)");
        run(Command::new(npm)
            .args(["ci", "--no-audit", "--no-fund"])
            .current_dir(&dir));
    }
    dir
}

#[test]
fn console_shows_a_live_attack_in_chromium() {
    assert!(
        // Network namespaces and capture need root; CI runs as root.
        Command::new("id")
            .arg("-u")
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
            .unwrap_or(false),
        "the console test needs root (it makes a network namespace and a veth pair)"
    );
    let chromium = need("chromium", "chromium");
    let node = need("node", "nodejs (20 or later)");
    let softflowd = need("softflowd", "softflowd");
    need("tcpreplay", "tcpreplay");
    need("ip", "iproute2");
    let script_dir = console_dir();
    let artifacts = Path::new(WORKSPACE).join("test-artifacts/console");
    let _ = std::fs::remove_dir_all(&artifacts);
    std::fs::create_dir_all(&artifacts).unwrap();

    let mut r = Run::new();
    // Scans from the start, a SYN flood on .100 from 2 s and a DNS reflection on .101 from
    // 4 s, over the benign background: each at three times its threshold.
    let target = |last| Target::Host(IpAddr::V4(Ipv4Addr::new(203, 0, 113, last)));
    let scenario = traffic::scans(7, 14.0)
        .attack(Vector::SynFlood, target(100), 2.0, 10.0, 3.0)
        .attack(Vector::DnsAmplification, target(101), 4.0, 8.0, 3.0);
    let pcap = r.dir.join("attack.pcap");
    scenario.write(&pcap).unwrap();

    let store = r.dir.join("data");
    let secret = token(&store, "analyst");
    let (flow_port, api_port) = (free_udp_port(), free_tcp_port());
    let mut args = scenario.thresholds.args();
    args.extend(traffic::scan_args());
    // sshd failures over syslog, for the intrusions list.
    let syslog_port = free_udp_port();
    args.extend([
        "--set".to_string(),
        format!("logs.syslog_udp=[\"127.0.0.1:{syslog_port}\"]"),
    ]);
    let serve = Serve {
        args,
        flow_port,
        api_port,
        store,
    };
    serve.start(&mut r, "serve.log");
    r.link();
    let softflowd_log = r.log("softflowd.log");
    r.spawn(
        "softflowd",
        Command::new(softflowd)
            .args(["-i", &r.veth, "-n", &format!("127.0.0.1:{flow_port}")])
            .args(["-v", "9", "-d"])
            // Flows are exported within two seconds: the console sees the attack live.
            .args(["-t", "maxlife=2s", "-t", "general=2s", "-t", "expint=1s"])
            .stdout(Stdio::null())
            .stderr(softflowd_log),
    );

    let s = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    for i in 0..8 {
        let line = format!(
            "<38>1 {} bastion sshd {} - - Failed password for root from 198.51.100.23 port 5{i}000 ssh2",
            rampart_model::Timestamp::from_secs(
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .as_secs()
            ),
            4000 + i
        );
        s.send_to(line.as_bytes(), ("127.0.0.1", syslog_port))
            .unwrap();
    }

    let url = format!("http://127.0.0.1:{api_port}/");
    let browser = r.spawn(
        "the browser script",
        Command::new(node)
            .arg("console.test.mjs")
            .args(["--url", &url, "--token", &secret, "--scan", "--intrusion"])
            .arg("--artifacts")
            .arg(&artifacts)
            .arg("--chromium")
            .arg(&chromium)
            .current_dir(&script_dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped()),
    );
    let (tx, lines) = mpsc::channel::<String>();
    let out = browser.stdout.take().unwrap();
    let err = browser.stderr.take().unwrap();
    let tx2 = tx.clone();
    std::thread::spawn(move || {
        for l in BufReader::new(out).lines().map_while(Result::ok) {
            let _ = tx.send(l);
        }
    });
    std::thread::spawn(move || {
        for l in BufReader::new(err).lines().map_while(Result::ok) {
            let _ = tx2.send(format!("stderr: {l}"));
        }
    });

    // The script says READY once logged in with the live chart drawing: then the attack.
    // STOP and START: the daemon is killed, then started again on the same store.
    let mut transcript = Vec::new();
    let mut restarted = false;
    let mut replaying = false;
    let start = Instant::now();
    loop {
        let left = SCRIPT_DEADLINE.saturating_sub(start.elapsed());
        match lines.recv_timeout(left.min(Duration::from_secs(1))) {
            Ok(line) => {
                println!("console: {line}");
                if line == "READY" && !replaying {
                    replaying = true;
                    let replay_log = r.log("tcpreplay.log");
                    let (netns, peer) = (r.netns.clone(), r.peer());
                    r.spawn(
                        "tcpreplay",
                        Command::new("ip")
                            .args(["netns", "exec", &netns, "tcpreplay", "-q", "-i", &peer])
                            .arg(&pcap)
                            .stdout(Stdio::null())
                            .stderr(replay_log),
                    );
                }
                if line == "STOP" {
                    serve.kill(&mut r);
                }
                if line == "START" && !restarted {
                    restarted = true;
                    serve.start(&mut r, "serve-again.log");
                }
                transcript.push(line);
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {
                assert!(
                    !left.is_zero(),
                    "the browser script did not finish within {SCRIPT_DEADLINE:?}:\n{}",
                    transcript.join("\n")
                );
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
    }
    let status = r
        .children
        .iter_mut()
        .find(|(w, _)| *w == "the browser script")
        .map(|(_, c)| c.wait().unwrap())
        .unwrap();
    assert!(
        status.success(),
        "the browser script failed ({status}); screenshots in {}\n--- script\n{}\n--- serve\n{}\n\
         --- serve after the restart\n{}\n--- softflowd\n{}\n--- tcpreplay\n{}",
        artifacts.display(),
        transcript.join("\n"),
        r.read_log("serve.log"),
        r.read_log("serve-again.log"),
        r.read_log("softflowd.log"),
        r.read_log("tcpreplay.log"),
    );
    assert!(replaying, "the script never said READY");
    assert!(restarted, "the script never asked for the restart");
    for shot in [
        "03-overview-attack.png",
        "05-detail-active.png",
        "06-detail-ended.png",
    ] {
        assert!(artifacts.join(shot).is_file(), "no screenshot {shot}");
    }
}

/// The console's pure parts (event-stream parser, formatting) under `node --test`.
#[test]
fn console_units_under_node() {
    let node = need("node", "nodejs (20 or later)");
    let dir = Path::new(WORKSPACE).join("tests/console");
    let out = Command::new(node)
        .args(["--test", "unit.test.mjs"])
        .current_dir(&dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "node --test unit.test.mjs failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
