#![allow(clippy::unwrap_used)]
//! Logs into `rampart serve`: firewall LOG lines of a port sweep sent over UDP syslog become
//! a scan detection; octet-counted TCP syslog and a followed file that is rotated (renamed,
//! then a new one written) are read line by line with nothing lost or read twice.

#[path = "support/daemon.rs"]
mod daemon;

use daemon::{token, wait_for, Daemon, Scratch};
use std::io::Write;
use std::net::{TcpStream, UdpSocket};
use std::time::{SystemTime, UNIX_EPOCH};

/// Now as an RFC 3164 stamp in UTC ("Dec  1 10:00:00").
fn stamp() -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let d = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    // RFC 3339: 2026-12-01T10:00:00.000Z
    let iso = rampart_model::Timestamp::from_secs(d.as_secs()).to_string();
    let month: usize = iso[5..7].parse().unwrap();
    let day: u32 = iso[8..10].parse().unwrap();
    format!("{} {day:>2} {}", MONTHS[month - 1], &iso[11..19])
}

fn netfilter_syn(src: &str, dst_last: u8) -> String {
    format!(
        "<4>{} fw kernel: [123.456] IN=eth0 OUT= MAC=00:00:00:00:00:01:00:00:00:00:00:02:08:00 \
         SRC={src} DST=203.0.113.{dst_last} LEN=60 TOS=0x00 PREC=0x00 TTL=50 ID=4242 DF \
         PROTO=TCP SPT=40000 DPT=22 WINDOW=1024 RES=0x00 SYN URGP=0",
        stamp()
    )
}

fn sshd_fail(pid: u32, user: &str, src: &str) -> String {
    format!(
        "<38>{} bastion sshd[{pid}]: Failed password for invalid user {user} from {src} port 50022 ssh2",
        stamp()
    )
}

#[test]
fn a_sweep_logged_by_a_firewall_over_syslog_is_a_scan() {
    let dir = Scratch::new("syslog-udp");
    let t = token(dir.path(), "viewer", "v");
    let d = Daemon::start(dir.path(), &["--protect".into(), "203.0.113.0/24".into()]);
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    for h in 1..=120u8 {
        s.send_to(netfilter_syn("192.0.2.99", h).as_bytes(), d.syslog_udp)
            .unwrap();
    }
    for i in 0..5 {
        s.send_to(
            sshd_fail(3000 + i, "admin", "198.51.100.23").as_bytes(),
            d.syslog_udp,
        )
        .unwrap();
    }
    s.send_to(b"\x00\x01 not a syslog line at all \xff\xfe", d.syslog_udp)
        .unwrap();
    let scan = wait_for(20, "the scan in /api/v1/detections", || {
        let v = d.json("/api/v1/detections?kind=scan", &t);
        v["detections"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["source"] == "192.0.2.99")
            .cloned()
    });
    assert_eq!(scan["scan_type"], "horizontal");
    assert!(scan["hosts"].as_u64().unwrap() >= 64, "{scan}");
    let status = d.json("/api/v1/status", &t);
    let logs = &status["logs"];
    assert_eq!(logs["udp_datagrams"], 126, "{logs}");
    assert_eq!(logs["lines_dropped"], 0);
    assert!(logs["events"].as_u64().unwrap() >= 125, "{logs}");
    assert!(
        logs["lines_skipped"].as_u64().unwrap() >= 1,
        "the junk is counted: {logs}"
    );
    d.stop();
}

#[test]
fn tcp_syslog_and_a_rotated_file_lose_no_line() {
    let dir = Scratch::new("syslog-tcp");
    let t = token(dir.path(), "viewer", "v");
    let log = dir.path().join("auth.log");
    std::fs::write(&log, "").unwrap();
    let files = format!("logs.files=[{{path=\"{}\"}}]", log.display());
    let d = Daemon::start(dir.path(), &["--set".into(), files]);
    // Octet-counted frames (RFC 6587), one split across two writes.
    let mut c = TcpStream::connect(d.syslog_tcp).unwrap();
    let mut frames = String::new();
    for i in 0..10 {
        let msg = sshd_fail(4000 + i, "root", "198.51.100.24");
        frames.push_str(&format!("{} {msg}", msg.len()));
    }
    let (a, b) = frames.split_at(frames.len() / 2 + 3);
    c.write_all(a.as_bytes()).unwrap();
    c.flush().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(100));
    c.write_all(b.as_bytes()).unwrap();
    drop(c);
    wait_for(20, "ten TCP syslog lines", || {
        let v = d.json("/api/v1/status", &t);
        (v["logs"]["lines"] == 10).then_some(())
    });
    // The followed file: lines, a rotation by rename, and lines in the new file.
    let line = |i: u32| {
        format!(
            "{} bastion sshd[{}]: Invalid user u{i} from 198.51.100.25 port 4{i}\n",
            stamp(),
            5000 + i
        )
    };
    let mut f = std::fs::OpenOptions::new().append(true).open(&log).unwrap();
    for i in 0..5 {
        f.write_all(line(i).as_bytes()).unwrap();
    }
    f.flush().unwrap();
    wait_for(20, "five file lines", || {
        let v = d.json("/api/v1/status", &t);
        (v["logs"]["file_lines"] == 5).then_some(())
    });
    // Written to the old file after the rename, then the new file: both are read.
    std::fs::rename(&log, dir.path().join("auth.log.1")).unwrap();
    f.write_all(line(5).as_bytes()).unwrap();
    drop(f);
    let mut g = std::fs::File::create(&log).unwrap();
    for i in 6..9 {
        g.write_all(line(i).as_bytes()).unwrap();
    }
    drop(g);
    let status = wait_for(20, "the lines around the rotation", || {
        let v = d.json("/api/v1/status", &t);
        (v["logs"]["file_lines"] == 9).then_some(v)
    });
    assert!(status["logs"]["file_rotations"].as_u64().unwrap() >= 1);
    assert_eq!(status["logs"]["lines"], 19);
    d.stop();
}

/// A brute force still going when the daemon restarts is the same detection afterwards:
/// restored from the store, and resumed once the detector sees the source again.
#[test]
fn a_brute_force_survives_a_restart() {
    let dir = Scratch::new("auth-restart");
    let t = token(dir.path(), "viewer", "v");
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    let attack = |d: &Daemon, pid: u32| {
        for i in 0..12 {
            s.send_to(
                sshd_fail(pid + i, "admin", "198.51.100.44").as_bytes(),
                d.syslog_udp,
            )
            .unwrap();
        }
    };
    let find = |d: &Daemon| {
        let v = d.json("/api/v1/detections?kind=brute_force", &t);
        v["detections"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["source"] == "198.51.100.44")
            .cloned()
    };
    let d = Daemon::start(dir.path(), &[]);
    attack(&d, 4000);
    let first = wait_for(20, "the brute force in /api/v1/detections", || find(&d));
    assert_eq!(first["state"], "active", "{first}");
    let id = first["id"].as_u64().unwrap();
    d.stop();

    let d = Daemon::start(dir.path(), &[]);
    wait_for(10, "the restored detections in the log", || {
        d.log().contains("restored active detections").then_some(())
    });
    attack(&d, 5000);
    let events = wait_for(20, "the brute force resumed after the restart", || {
        let v = d.json(&format!("/api/v1/detections/{id}"), &t);
        let events: Vec<String> = v["timeline"]
            .as_array()?
            .iter()
            .filter_map(|e| e["event"].as_str().map(String::from))
            .collect();
        events.contains(&"resumed".to_string()).then_some(events)
    });
    assert!(events.contains(&"restored".to_string()), "{events:?}");
    assert_eq!(find(&d).unwrap()["id"], id, "one detection, not two");
    d.stop();
}
