//! Real peers for the integration tests: BIRD 2 and GoBGP run as child processes with their
//! own config, socket and ports in a temporary directory, on loopback. Never the system
//! services.

#![allow(dead_code, clippy::unwrap_used)]

use std::net::{IpAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A directory under the system temp dir, removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> Self {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        let p =
            std::env::temp_dir().join(format!("rampart-bgp-{tag}-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The first MiB of a peer's log, for failure messages.
#[allow(clippy::disallowed_methods)] // bounded by `take`
pub fn read_log(path: &Path) -> String {
    use std::io::Read;
    let mut s = String::new();
    if let Ok(f) = std::fs::File::open(path) {
        let _ = f.take(1 << 20).read_to_string(&mut s);
    }
    s
}

/// A port free on `addr` right now.
pub fn free_port(addr: IpAddr) -> u16 {
    TcpListener::bind((addr, 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Fails the test with a clear message when a tool is missing (CI installs them all).
pub fn need(tool: &str, package: &str) {
    let found = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join(tool).is_file()))
        .unwrap_or(false)
        || Path::new("/usr/sbin").join(tool).is_file();
    assert!(
        found,
        "`{tool}` not found: install the Debian package `{package}` (scripts/test does)"
    );
}

fn which(tool: &str) -> PathBuf {
    for d in std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
        .chain([PathBuf::from("/usr/sbin")])
    {
        if d.join(tool).is_file() {
            return d.join(tool);
        }
    }
    PathBuf::from(tool)
}

/// Runs a peer's command-line client; its output, or `None` when it failed.
fn run_cli(tool: &str, leading: &[&str], words: &str) -> Option<String> {
    let out = Command::new(which(tool))
        .args(leading)
        .args(words.split(' '))
        .stdin(Stdio::null())
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Polls `f` every 50 ms until it returns `Some`, or fails the test after `limit`.
pub fn wait_for<T>(what: &str, limit: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(
            start.elapsed() < limit,
            "timed out after {limit:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A BIRD 2 daemon in the foreground with its own control socket.
pub struct Bird {
    pub dir: TempDir,
    pub conf: PathBuf,
    pub sock: PathBuf,
    child: Option<Child>,
}

impl Bird {
    pub fn start(tag: &str, config: &str) -> Bird {
        need("bird", "bird2");
        need("birdc", "bird2");
        let dir = TempDir::new(tag);
        let conf = dir.0.join("bird.conf");
        let sock = dir.0.join("bird.ctl");
        std::fs::write(&conf, config.replace("@DIR@", &dir.0.display().to_string())).unwrap();
        let mut b = Bird {
            dir,
            conf,
            sock,
            child: None,
        };
        b.spawn();
        b
    }

    fn spawn(&mut self) {
        let child = Command::new(which("bird"))
            .arg("-c")
            .arg(&self.conf)
            .arg("-s")
            .arg(&self.sock)
            .arg("-f")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start bird");
        self.child = Some(child);
        wait_for("BIRD's control socket", Duration::from_secs(10), || {
            self.try_birdc("show status")
                .filter(|s| s.contains("Daemon is up"))
        });
    }

    /// Runs one birdc command; `None` when BIRD does not answer.
    pub fn try_birdc(&self, cmd: &str) -> Option<String> {
        let sock = self.sock.display().to_string();
        run_cli("birdc", &["-s", &sock], cmd)
    }

    pub fn birdc(&self, cmd: &str) -> String {
        self.try_birdc(cmd)
            .unwrap_or_else(|| panic!("birdc {cmd} failed"))
    }

    /// Kills BIRD (as a crash would: no NOTIFICATION) and waits for it.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        let _ = std::fs::remove_file(&self.sock);
    }

    pub fn restart(&mut self) {
        self.kill();
        self.spawn();
    }

    pub fn log(&self) -> String {
        read_log(&self.dir.0.join("bird.log"))
    }
}

impl Drop for Bird {
    fn drop(&mut self) {
        self.kill();
    }
}

/// gobgpd in the foreground with its config and gRPC port.
pub struct Gobgp {
    pub dir: TempDir,
    pub api_port: u16,
    child: Child,
}

impl Gobgp {
    pub fn start(tag: &str, config: &str, api_port: u16) -> Gobgp {
        need("gobgpd", "gobgpd");
        need("gobgp", "gobgpd");
        let dir = TempDir::new(tag);
        let conf = dir.0.join("gobgpd.toml");
        std::fs::write(&conf, config).unwrap();
        let log = std::fs::File::create(dir.0.join("gobgpd.log")).unwrap();
        let child = Command::new(which("gobgpd"))
            .arg("-f")
            .arg(&conf)
            .arg("-t")
            .arg("toml")
            .arg("--api-hosts")
            .arg(format!("127.0.0.1:{api_port}"))
            .arg("--disable-stdlog")
            .arg("-l")
            .arg("info")
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("start gobgpd");
        let g = Gobgp {
            dir,
            api_port,
            child,
        };
        wait_for("gobgpd's API", Duration::from_secs(15), || {
            g.try_cli("global").filter(|s| s.contains("AS"))
        });
        g
    }

    pub fn try_cli(&self, args: &str) -> Option<String> {
        run_cli("gobgp", &["-p", &self.api_port.to_string()], args)
    }

    pub fn cli(&self, args: &str) -> String {
        self.try_cli(args)
            .unwrap_or_else(|| panic!("gobgp {args} failed"))
    }

    pub fn log(&self) -> String {
        read_log(&self.dir.0.join("gobgpd.log"))
    }
}

impl Drop for Gobgp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
