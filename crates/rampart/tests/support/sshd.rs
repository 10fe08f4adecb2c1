//! A real OpenSSH sshd on loopback (Debian's openssh-server) whose auth lines a real rsyslog
//! forwards over TCP to a syslog receiver (RFC 5424 in octet-counted framing, repeated-line
//! folding on), and real ssh clients that fail or log in from a chosen loopback address.
//! sshd and rsyslogd run in a mount namespace whose /dev/log is rsyslog's socket, so the
//! machine's own logging is untouched. Needs root, /usr/sbin/sshd and /usr/sbin/rsyslogd.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const SSHD: &str = "/usr/sbin/sshd";
const RSYSLOGD: &str = "/usr/sbin/rsyslogd";

pub struct Sshd {
    child: Child,
    dir: PathBuf,
    port: u16,
}

impl Drop for Sshd {
    fn drop(&mut self) {
        // The daemons this helper started, by the pids they wrote.
        for pidfile in ["sshd.pid", "rsyslogd.pid"] {
            if let Ok(pid) = read(&self.dir.join(pidfile)) {
                if let Ok(pid) = pid.trim().parse::<u32>() {
                    let _ = Command::new("kill").arg(pid.to_string()).status();
                }
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A file of ours, read up to 1 MB.
fn read(path: &Path) -> std::io::Result<String> {
    use std::io::Read;
    let mut s = String::new();
    #[allow(clippy::disallowed_methods)] // bounded by take()
    std::fs::File::open(path)?
        .take(1 << 20)
        .read_to_string(&mut s)?;
    Ok(s)
}

fn run(cmd: &mut Command) {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

impl Sshd {
    /// sshd on 127.0.0.1 (MaxAuthTries 3, root may log in with the generated key), its
    /// auth lines forwarded by rsyslog to `syslog_tcp`.
    pub fn start(name: &str, syslog_tcp: SocketAddr) -> Sshd {
        for (tool, pkg) in [(SSHD, "openssh-server"), (RSYSLOGD, "rsyslog")] {
            assert!(
                Path::new(tool).exists(),
                "{tool} is missing: apt-get install {pkg} (scripts/test does)"
            );
        }
        let uid = Command::new("id").arg("-u").output().unwrap();
        assert_eq!(
            String::from_utf8_lossy(&uid.stdout).trim(),
            "0",
            "sshd needs root"
        );
        let dir = std::env::temp_dir().join(format!("rampart-{name}-sshd-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::create_dir_all("/run/sshd").unwrap();
        for key in ["hostkey", "client"] {
            run(Command::new("ssh-keygen")
                .args(["-q", "-t", "ed25519", "-N", "", "-f"])
                .arg(dir.join(key)));
        }
        std::fs::copy(dir.join("client.pub"), dir.join("authorized_keys")).unwrap();
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .unwrap()
            .port();
        let d = dir.display();
        std::fs::write(
            dir.join("sshd_config"),
            format!(
                "Port {port}\nListenAddress 127.0.0.1\nHostKey {d}/hostkey\n\
                 PidFile {d}/sshd.pid\nUsePAM no\nPasswordAuthentication yes\n\
                 KbdInteractiveAuthentication no\nPermitRootLogin yes\nMaxAuthTries 3\n\
                 AuthorizedKeysFile {d}/authorized_keys\nStrictModes no\nLogLevel INFO\n"
            ),
        )
        .unwrap();
        std::fs::write(dir.join("askpass"), "#!/bin/sh\necho wrong-password\n").unwrap();
        run(Command::new("chmod").arg("755").arg(dir.join("askpass")));
        std::fs::write(
            dir.join("rsyslog.conf"),
            format!(
                "global(workDirectory=\"{d}\")\n\
                 module(load=\"imuxsock\" SysSock.Name=\"/dev/log\")\n\
                 $RepeatedMsgReduction on\n\
                 auth,authpriv.* action(type=\"omfwd\" target=\"{}\" port=\"{}\" \
                 protocol=\"tcp\" TCP_Framing=\"octet-counted\" \
                 template=\"RSYSLOG_SyslogProtocol23Format\")\n\
                 auth,authpriv.* action(type=\"omfile\" file=\"{d}/auth.log\" \
                 template=\"RSYSLOG_SyslogProtocol23Format\")\n",
                syslog_tcp.ip(),
                syslog_tcp.port()
            ),
        )
        .unwrap();
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
            .unwrap();
        let s = Sshd { child, dir, port };
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "sshd did not listen");
            std::thread::sleep(Duration::from_millis(50));
        }
        s
    }

    /// ssh from `from` as `user` with `options`, running `true`.
    fn ssh(&self, from: &str, user: &str, options: &[String]) -> Command {
        let mut c = Command::new("ssh");
        c.args(["-o", "StrictHostKeyChecking=no"])
            .args(["-o", "UserKnownHostsFile=/dev/null"])
            .arg("-o")
            .arg(format!("BindAddress={from}"))
            .args(options)
            .arg("-p")
            .arg(self.port.to_string())
            .arg(format!("{user}@127.0.0.1"))
            .arg("true")
            .stdin(Stdio::null());
        c
    }

    /// One connection from `from` trying `prompts` wrong passwords for `user`.
    pub fn wrong_passwords(&self, from: &str, user: &str, prompts: u32) {
        let options = [
            "-o".into(),
            "PreferredAuthentications=password".into(),
            "-o".into(),
            "PubkeyAuthentication=no".into(),
            "-o".into(),
            "BatchMode=no".into(),
            "-o".into(),
            format!("NumberOfPasswordPrompts={prompts}"),
        ];
        let _ = self
            .ssh(from, user, &options)
            .env("SSH_ASKPASS", self.dir.join("askpass"))
            .env("SSH_ASKPASS_REQUIRE", "force")
            .env("DISPLAY", ":0")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        std::thread::sleep(Duration::from_millis(300));
    }

    /// What rsyslog forwarded, as it also wrote it to a file (for a failing test's message).
    pub fn auth_log(&self) -> String {
        read(&self.dir.join("auth.log")).unwrap_or_default()
    }

    /// root logs in from `from` with the key sshd trusts.
    pub fn key_login(&self, from: &str) {
        let options = [
            "-o".into(),
            "BatchMode=yes".into(),
            "-o".into(),
            "IdentitiesOnly=yes".into(),
            "-i".into(),
            self.dir.join("client").display().to_string(),
        ];
        let ok = self.ssh(from, "root", &options).output().unwrap();
        assert!(
            ok.status.success(),
            "key login: {}",
            String::from_utf8_lossy(&ok.stderr)
        );
        std::thread::sleep(Duration::from_millis(300));
    }
}
