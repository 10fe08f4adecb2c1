//! A real OpenSSH sshd on loopback (Debian's openssh-server) logging through a real rsyslog
//! (with its repeated-message folding on) to an auth.log, tried with known numbers of wrong
//! passwords, a key login and a scanner: the log must give exactly those attempts. sshd
//! and rsyslogd run in a mount namespace of their own whose /dev/log is rsyslog's socket,
//! so nothing of the machine's logging is touched. Needs root (sshd's privilege separation,
//! the namespace), /usr/sbin/sshd and /usr/sbin/rsyslogd (scripts/test installs them).

use rampart_logs::{AuthMethod, Format, LogReader, Outcome, TimeContext, Timestamp};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const SSHD: &str = "/usr/sbin/sshd";
const RSYSLOGD: &str = "/usr/sbin/rsyslogd";

struct Server {
    child: Child,
    dir: PathBuf,
    port: u16,
}

impl Drop for Server {
    fn drop(&mut self) {
        // The daemons this test started, by the pids they wrote.
        for pidfile in ["sshd.pid", "rsyslogd.pid"] {
            let pid = read_log(&self.dir.join(pidfile));
            if let Ok(pid) = pid.trim().parse::<u32>() {
                let _ = Command::new("kill").arg(pid.to_string()).status();
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn run(cmd: &mut Command) {
    let out = cmd.output().expect("runs");
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn start(use_pam: bool) -> Server {
    for (tool, pkg) in [(SSHD, "openssh-server"), (RSYSLOGD, "rsyslog")] {
        assert!(
            Path::new(tool).exists(),
            "{tool} is missing: apt-get install {pkg} (scripts/test does)"
        );
    }
    let uid = Command::new("id").arg("-u").output().expect("id");
    assert_eq!(
        String::from_utf8_lossy(&uid.stdout).trim(),
        "0",
        "sshd needs root"
    );
    let dir = std::env::temp_dir().join(format!("rampart-sshd-{}-{use_pam}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    std::fs::create_dir_all("/run/sshd").expect("privilege separation dir");
    for (key, kind) in [("hostkey", "ed25519"), ("client", "ed25519")] {
        run(Command::new("ssh-keygen")
            .args(["-q", "-t", kind, "-N", "", "-f"])
            .arg(dir.join(key)));
    }
    std::fs::copy(dir.join("client.pub"), dir.join("authorized_keys")).expect("authorized key");
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let config = format!(
        "Port {port}\nListenAddress 127.0.0.1\nHostKey {d}/hostkey\nPidFile {d}/sshd.pid\n\
         UsePAM {pam}\nPasswordAuthentication yes\nKbdInteractiveAuthentication no\n\
         PermitRootLogin yes\nMaxAuthTries 3\nAuthorizedKeysFile {d}/authorized_keys\n\
         StrictModes no\nLogLevel INFO\n",
        d = dir.display(),
        pam = if use_pam { "yes" } else { "no" },
    );
    std::fs::write(dir.join("sshd_config"), config).expect("config");
    std::fs::write(dir.join("askpass"), "#!/bin/sh\necho wrong-password\n").expect("askpass");
    run(Command::new("chmod").arg("755").arg(dir.join("askpass")));
    let d = dir.display();
    std::fs::write(
        dir.join("rsyslog.conf"),
        format!(
            "module(load=\"imuxsock\" SysSock.Name=\"/dev/log\")\n\
             $RepeatedMsgReduction on\n\
             $ActionFileDefaultTemplate RSYSLOG_TraditionalFileFormat\n\
             auth,authpriv.* {d}/auth.log\n"
        ),
    )
    .expect("rsyslog config");
    // A private /dev with the few nodes sshd uses and rsyslog's socket as /dev/log.
    let script = format!(
        "set -e\n\
         mkdir -p {d}/dev\n\
         for n in null zero random urandom tty; do touch {d}/dev/$n; mount --bind /dev/$n {d}/dev/$n; done\n\
         mount --bind {d}/dev /dev\n\
         {RSYSLOGD} -f {d}/rsyslog.conf -i {d}/rsyslogd.pid\n\
         while [ ! -S /dev/log ]; do sleep 0.05; done\n\
         exec {SSHD} -D -f {d}/sshd_config\n"
    );
    let child = Command::new("unshare")
        .args(["-m", "--propagation", "private", "sh", "-c"])
        .arg(script)
        .spawn()
        .expect("unshare starts");
    let s = Server { child, dir, port };
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "sshd did not listen");
        std::thread::sleep(Duration::from_millis(50));
    }
    s
}

impl Server {
    /// One client connection trying `prompts` wrong passwords (askpass answers them).
    fn passwords(&self, user: &str, prompts: u32) {
        let _ = Command::new("ssh")
            .args([
                "-o",
                "StrictHostKeyChecking=no",
                "-o",
                "UserKnownHostsFile=/dev/null",
            ])
            .args([
                "-o",
                "PreferredAuthentications=password",
                "-o",
                "PubkeyAuthentication=no",
            ])
            .arg("-o")
            .arg(format!("NumberOfPasswordPrompts={prompts}"))
            .args(["-o", "BatchMode=no", "-p"])
            .arg(self.port.to_string())
            .arg(format!("{user}@127.0.0.1"))
            .arg("true")
            .env("SSH_ASKPASS", self.dir.join("askpass"))
            .env("SSH_ASKPASS_REQUIRE", "force")
            .env("DISPLAY", ":0")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        self.settle();
    }

    fn key_login(&self) {
        let ok = Command::new("ssh")
            .args([
                "-o",
                "StrictHostKeyChecking=no",
                "-o",
                "UserKnownHostsFile=/dev/null",
            ])
            .args(["-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes", "-i"])
            .arg(self.dir.join("client"))
            .arg("-p")
            .arg(self.port.to_string())
            .args(["root@127.0.0.1", "true"])
            .stdin(Stdio::null())
            .output()
            .expect("ssh runs");
        assert!(
            ok.status.success(),
            "key login: {}",
            String::from_utf8_lossy(&ok.stderr)
        );
        self.settle();
    }

    /// A web client at the ssh port.
    fn scanner(&self) {
        let mut s = TcpStream::connect(("127.0.0.1", self.port)).expect("connect");
        let _ = s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
        let mut buf = [0u8; 256];
        let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
        let _ = s.read(&mut buf);
        drop(s);
        self.settle();
    }

    /// Lets sshd write the connection's last lines before the next one starts.
    fn settle(&self) {
        std::thread::sleep(Duration::from_millis(300));
    }

    /// The auth.log rsyslog wrote.
    fn auth_log(&self) -> String {
        // rsyslog writes a folded repeat when the next different message comes.
        std::thread::sleep(Duration::from_millis(500));
        read_log(&self.dir.join("auth.log"))
    }
}

/// The test's own sshd log, read with a bound (clippy forbids unbounded reads).
fn read_log(path: &Path) -> String {
    let mut s = String::new();
    #[allow(clippy::disallowed_methods)] // bounded by take()
    std::fs::File::open(path)
        .expect("sshd log")
        .take(1 << 20)
        .read_to_string(&mut s)
        .expect("UTF-8 log");
    s
}

fn check(use_pam: bool) {
    let s = start(use_pam);
    s.passwords("nosuchuser", 1); // one attempt, a user that does not exist
    s.passwords("root", 1);
    s.passwords("root", 1);
    s.passwords("root", 3); // three in one connection: MaxAuthTries
    s.key_login();
    s.scanner();
    let text = s.auth_log();
    // rsyslog's year-less stamps are read against the clock, as a live reader would.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs();
    let ctx = TimeContext::new(Timestamp::from_secs(now), 0);
    let (events, stats) = LogReader::read_all(Format::Syslog, ctx, text.as_bytes());
    assert_eq!(stats.errors(), 0, "{stats:?}\n{text}");
    let ev: Vec<_> = events.iter().filter_map(|e| e.as_auth()).collect();
    let sum = |o: Outcome| -> u32 {
        ev.iter()
            .filter(|e| e.outcome == o)
            .map(|e| e.attempts)
            .sum()
    };
    assert_eq!(sum(Outcome::Failure), 1 + 1 + 1 + 3, "{text}");
    let invalid: u32 = ev
        .iter()
        .filter(|e| e.outcome == Outcome::Failure && e.invalid_user)
        .map(|e| e.attempts)
        .sum();
    assert_eq!(invalid, 1, "{text}");
    assert_eq!(sum(Outcome::TooManyAttempts), 1, "{text}");
    // The scanner, and the connection that waited for sshd to listen (it left without a
    // banner).
    assert_eq!(sum(Outcome::HandshakeError), 2, "{text}");
    let ok: Vec<_> = ev
        .iter()
        .filter(|e| e.outcome == Outcome::Success)
        .collect();
    assert_eq!(ok.len(), 1, "{text}");
    assert_eq!(ok[0].method, Some(AuthMethod::Publickey));
    assert_eq!(ok[0].user.as_deref(), Some("root"));
    assert!(
        ev.iter()
            .all(|e| e.source == Some("127.0.0.1".parse().expect("address"))),
        "{text}"
    );
}

#[test]
fn real_sshd_without_pam() {
    check(false);
}

#[test]
fn real_sshd_with_pam() {
    check(true);
}
