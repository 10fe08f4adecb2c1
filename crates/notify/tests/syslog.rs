#![allow(clippy::unwrap_used)] // a test: a panic is the failure report
//! Syslog against a real rsyslogd (Debian rsyslog) in the foreground with its own config,
//! listening on loopback UDP and TCP and writing the fields it parsed to a file: RFC 5424
//! lines (PRI, header, structured data) and CEF records arrive over both transports, a
//! hostile text stays one line, and a TCP sink reconnects after rsyslogd restarts.

mod common;

use common::{notification, run, TempDir};
use rampart_notify::{
    EventKind, Notifier, NotifyConfig, SyslogConfig, SyslogFormat, SyslogProtocol,
};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// Debian puts it in /usr/sbin, which not every PATH has.
const RSYSLOGD: &str = "/usr/sbin/rsyslogd";

struct Rsyslogd {
    dir: TempDir,
    udp: u16,
    tcp: u16,
    child: Option<Child>,
}

impl Rsyslogd {
    fn start() -> Rsyslogd {
        common::require(RSYSLOGD, "rsyslog");
        let dir = TempDir::new("rsyslog");
        let mut r = Rsyslogd {
            dir,
            udp: common::free_port(),
            tcp: common::free_port(),
            child: None,
        };
        r.launch();
        r
    }

    fn out(&self) -> PathBuf {
        self.dir.path.join("out.log")
    }

    /// Starts rsyslogd and waits until both inputs take messages.
    fn launch(&mut self) {
        let d = self.dir.path.display();
        let conf = format!(
            r#"global(workDirectory="{d}")
module(load="imudp")
module(load="imtcp")
template(name="fields" type="string"
  string="%inputname%|%protocol-version%|%pri%|%timereported:::date-rfc3339%|%hostname%|%app-name%|%procid%|%msgid%|%structured-data%|%msg%\n")
ruleset(name="rampart") {{
  action(type="omfile" file="{d}/out.log" template="fields")
}}
input(type="imudp" address="127.0.0.1" port="{}" ruleset="rampart")
input(type="imtcp" address="127.0.0.1" port="{}" ruleset="rampart")
"#,
            self.udp, self.tcp
        );
        let path = self.dir.path.join("rsyslog.conf");
        std::fs::write(&path, conf).unwrap();
        let child = Command::new(RSYSLOGD)
            .arg("-n")
            .arg("-f")
            .arg(&path)
            .arg("-i")
            .arg(self.dir.path.join("rsyslogd.pid"))
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(self.dir.path.join("rsyslogd.log")).unwrap())
            .spawn()
            .unwrap();
        self.child = Some(child);
        common::until(|| std::net::TcpStream::connect(("127.0.0.1", self.tcp)).is_ok());
        // UDP has no handshake: probe until a probe comes out.
        let sock = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        common::until(|| {
            let _ = sock.send_to(
                b"<14>1 2026-01-01T00:00:00Z probe probe - probe - probe",
                ("127.0.0.1", self.udp),
            );
            std::thread::sleep(Duration::from_millis(20));
            self.lines().iter().any(|l| l.starts_with("imudp|"))
        });
    }

    /// Stops it with SIGTERM, by its process id, and waits for it.
    fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = Command::new("kill").arg(c.id().to_string()).status();
            for _ in 0..100 {
                if matches!(c.try_wait(), Ok(Some(_))) {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Lines written, probes left out of `ours`.
    fn lines(&self) -> Vec<String> {
        if !self.out().exists() {
            return Vec::new();
        }
        common::read_text(&self.out())
            .lines()
            .map(str::to_string)
            .collect()
    }

    fn ours(&self) -> Vec<Line> {
        self.lines()
            .iter()
            .filter(|l| !l.contains("|probe|"))
            .map(|l| Line::parse(l))
            .collect()
    }
}

impl Drop for Rsyslogd {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The fields rsyslogd parsed from one message (the template's order).
#[derive(Debug)]
struct Line {
    input: String,
    version: String,
    pri: u32,
    time: String,
    hostname: String,
    app: String,
    procid: String,
    msgid: String,
    sd: String,
    msg: String,
}

impl Line {
    /// The structured data may hold `|` in values, so it is found by its brackets.
    fn parse(l: &str) -> Line {
        let f: Vec<&str> = l.splitn(9, '|').collect();
        let rest = f[8];
        let (sd, msg) = if let Some(r) = rest.strip_prefix("-|") {
            ("-".to_string(), r.to_string())
        } else {
            let end = sd_end(rest);
            (rest[..end].to_string(), rest[end + 1..].to_string())
        };
        Line {
            input: f[0].into(),
            version: f[1].into(),
            pri: f[2].parse().unwrap(),
            time: f[3].into(),
            hostname: f[4].into(),
            app: f[5].into(),
            procid: f[6].into(),
            msgid: f[7].into(),
            sd,
            msg,
        }
    }
}

/// Where the structured data ends: after the last `]` outside quotes.
fn sd_end(s: &str) -> usize {
    let (mut quoted, mut escaped) = (false, false);
    let mut end = 0;
    for (i, c) in s.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            '"' => quoted = !quoted,
            ']' if !quoted => end = i + 1,
            '|' if !quoted && end > 0 => return end,
            _ => {}
        }
    }
    end
}

fn sink(name: &str, port: u16, protocol: SyslogProtocol, format: SyslogFormat) -> SyslogConfig {
    SyslogConfig {
        name: Some(name.into()),
        address: format!("127.0.0.1:{port}"),
        protocol,
        format,
        facility: "local3".into(),
        ..SyslogConfig::default()
    }
}

#[test]
fn rfc5424_and_cef_arrive_over_udp_and_tcp() {
    let rs = Rsyslogd::start();
    let (udp, tcp) = (rs.udp, rs.tcp);
    let cfg = NotifyConfig {
        name: Some("test-daemon".into()),
        syslog: vec![
            sink("udp-5424", udp, SyslogProtocol::Udp, SyslogFormat::Rfc5424),
            sink("tcp-5424", tcp, SyslogProtocol::Tcp, SyslogFormat::Rfc5424),
            sink("udp-cef", udp, SyslogProtocol::Udp, SyslogFormat::Cef),
            sink("tcp-cef", tcp, SyslogProtocol::Tcp, SyslogFormat::Cef),
        ],
        ..NotifyConfig::default()
    };
    run(async move {
        let (notifier, _dead) = Notifier::start(&cfg).unwrap();
        notifier.notify(notification(EventKind::AttackStarted));
        let mut hostile = notification(EventKind::MitigationApplied);
        hostile.text = "line one\nline two | a=b \\ \"q\" ] end".into();
        hostile.target = Some("203.0.113.10\"] [x".into());
        notifier.notify(hostile);
        common::until(|| rs.ours().len() >= 8);
        let lines = rs.ours();
        assert_eq!(lines.len(), 8, "{lines:#?}");
        let pid = std::process::id().to_string();
        let mut combos = Vec::new();
        for l in &lines {
            assert_eq!(l.version, "1", "rsyslogd parsed it as RFC 5424: {l:?}");
            assert_eq!(
                (l.hostname.as_str(), l.app.as_str()),
                ("test-daemon", "rampart")
            );
            assert_eq!(l.procid, pid);
            assert!(l.time.starts_with("2026-11-18T"), "{l:?}");
            // local3 (19) * 8 + critical (2) or warning (4).
            let sev = if l.msgid == "attack.started" { 2 } else { 4 };
            assert_eq!(l.pri, 19 * 8 + sev, "{l:?}");
            let cef = l.msg.starts_with("CEF:0|Rampart|Rampart|");
            combos.push((l.input.clone(), cef));
            if cef {
                assert_eq!(l.sd, "-");
                if l.msgid == "attack.started" {
                    assert!(
                        l.msg
                            .contains("|attack.started|DDoS (syn flood) on 203.0.113.10"),
                        "{}",
                        l.msg
                    );
                    assert!(l.msg.contains(" dst=203.0.113.10 "), "{}", l.msg);
                    assert!(l.msg.contains(" cs1Label=detectionId cs1=12 "), "{}", l.msg);
                } else {
                    assert!(l.msg.contains(" act=blackhole "), "{}", l.msg);
                    assert!(
                        l.msg
                            .ends_with("msg=line one\\nline two | a\\=b \\\\ \"q\" ] end"),
                        "{}",
                        l.msg
                    );
                }
            } else {
                assert!(l.sd.starts_with("[rampart@32473 event=\""), "{l:?}");
                assert!(l.sd.contains(" daemon=\"test-daemon\""));
                if l.msgid == "attack.started" {
                    assert!(l.sd.contains(" target=\"203.0.113.10\" detection_id=\"12\" kind=\"ddos\" vector=\"syn_flood\""), "{}", l.sd);
                    assert!(
                        l.msg.starts_with("DDoS (syn flood) on 203.0.113.10 at "),
                        "{}",
                        l.msg
                    );
                } else {
                    assert!(
                        l.sd.contains(r#" target="203.0.113.10\"\] [x" "#),
                        "{}",
                        l.sd
                    );
                    assert!(
                        l.sd.ends_with(r#" mitigation_id="3" action="blackhole"]"#),
                        "{}",
                        l.sd
                    );
                    assert!(
                        l.msg.ends_with("line one line two | a=b \\ \"q\" ] end"),
                        "{}",
                        l.msg
                    );
                }
            }
        }
        combos.sort();
        combos.dedup();
        assert_eq!(combos.len(), 4, "UDP and TCP, RFC 5424 and CEF: {combos:?}");
        let stats = notifier.shutdown(Duration::from_secs(5)).await;
        for s in &stats.sinks {
            assert_eq!((s.kind, s.sent, s.failed), ("syslog", 2, 0), "{s:?}");
        }
    });
}

#[test]
fn tcp_reconnects_after_the_collector_restarts() {
    let mut rs = Rsyslogd::start();
    let cfg = NotifyConfig {
        name: Some("test-daemon".into()),
        syslog: vec![sink(
            "tcp",
            rs.tcp,
            SyslogProtocol::Tcp,
            SyslogFormat::Rfc5424,
        )],
        ..NotifyConfig::default()
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (notifier, _dead) = rt.block_on(async { Notifier::start(&cfg) }).unwrap();
    notifier.notify(notification(EventKind::AttackStarted));
    common::until(|| rs.ours().len() == 1);

    rs.stop();
    notifier.notify(notification(EventKind::AttackUpdated));
    common::until(|| notifier.stats().sinks[0].failed == 1);

    rs.launch();
    notifier.notify(notification(EventKind::AttackEnded));
    common::until(|| rs.ours().len() == 2);
    let lines = rs.ours();
    assert_eq!(lines[1].msgid, "attack.ended", "{lines:?}");
    let stats = rt.block_on(notifier.shutdown(Duration::from_secs(5)));
    assert_eq!((stats.sinks[0].sent, stats.sinks[0].failed), (2, 1));
}
