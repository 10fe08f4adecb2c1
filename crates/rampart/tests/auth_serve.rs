#![allow(clippy::unwrap_used)]
//! Login abuse end to end in `rampart serve`: a real sshd on loopback, its auth lines
//! forwarded by a real rsyslog over TCP syslog (RFC 5424, octet counting) to serve; wrong
//! passwords from 127.0.0.7 become a brute_force detection (API and live event stream) and a
//! ban that the real crowdsec-custom-bouncer receives from /v1/decisions/stream; a key login
//! from the same address afterwards is a login_after_failures, told but not banned.
//! Needs root, sshd, rsyslogd and crowdsec-custom-bouncer (scripts/test installs them).

#[path = "support/bouncer.rs"]
mod bouncer;
#[path = "support/daemon.rs"]
mod daemon;
#[path = "support/sshd.rs"]
mod sshd;

use bouncer::Bouncer;
use daemon::{token, wait_for, Daemon, Scratch};
use serde_json::Value;
use std::io::{Read, Write};
use std::sync::{Arc, Mutex};

const ATTACKER: &str = "127.0.0.7";

/// What `/api/v1/events` sends, collected by a thread for the test to read.
fn listen_events(d: &Daemon, token: &str) -> Arc<Mutex<String>> {
    let mut s = std::net::TcpStream::connect(d.api).unwrap();
    write!(
        s,
        "GET /api/v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n\r\n"
    )
    .unwrap();
    let seen = Arc::new(Mutex::new(String::new()));
    let sink = seen.clone();
    std::thread::spawn(move || {
        let mut buf = [0u8; 16384];
        while let Ok(n) = s.read(&mut buf) {
            if n == 0 {
                break;
            }
            let mut t = sink.lock().unwrap();
            if t.len() < 8 << 20 {
                t.push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        }
    });
    seen
}

/// `wait_for`, saying what rsyslog forwarded when it times out.
fn wait_for_or<T>(secs: u64, what: &str, sshd: &sshd::Sshd, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for {what}; rsyslog forwarded:\n{}",
            sshd.auth_log()
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
}

fn detection(d: &Daemon, t: &str, kind: &str) -> Option<Value> {
    let v = d.json(&format!("/api/v1/detections?kind={kind}"), t);
    v["detections"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["source"] == ATTACKER)
        .cloned()
}

#[test]
fn sshd_failures_over_syslog_are_banned_through_a_real_bouncer() {
    let dir = Scratch::new("auth-serve");
    let viewer = token(dir.path(), "viewer", "v");
    let bouncer_key = token(dir.path(), "viewer", "edge-bouncer");
    let args: Vec<String> = ["--set", "respond.dry_run=false"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let d = Daemon::start(dir.path(), &args);
    let events = listen_events(&d, &viewer);
    let b = Bouncer::start(d.api, &bouncer_key);
    let sshd = sshd::Sshd::start("auth-serve", d.syslog_tcp);

    // Three connections of three wrong passwords for root: nine attempts in seconds.
    for _ in 0..3 {
        sshd.wrong_passwords(ATTACKER, "root", 3);
    }
    let brute = wait_for_or(30, "a brute_force from 127.0.0.7", &sshd, || {
        detection(&d, &viewer, "brute_force")
    });
    assert_eq!(brute["service"], "ssh", "{brute}");
    assert!(brute["failures"].as_u64().unwrap() >= 5, "{brute}");
    wait_for(10, "the detection on the live stream", || {
        let t = events.lock().unwrap();
        (t.contains("event: detection") && t.contains("\"brute_force\"")).then_some(())
    });

    // The default policy's login_abuse rule bans the source; the bouncer is handed it.
    let ban = wait_for(30, "the bouncer adding 127.0.0.7", || {
        let log = b.decisions();
        log.lines()
            .find(|l| l.starts_with(&format!("add {ATTACKER}")))
            .map(str::to_string)
    });
    assert!(ban.contains("ban"), "{ban}");
    let m = d.json("/api/v1/mitigations", &viewer);
    let bans: Vec<&Value> = m["mitigations"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|x| x["target"] == format!("{ATTACKER}/32") || x["target"] == ATTACKER)
        .collect();
    assert_eq!(bans.len(), 1, "{m}");
    assert_eq!(bans[0]["kind"], "ban");
    assert_eq!(bans[0]["detection_id"], brute["id"]);
    assert!(bans[0]["reason"].as_str().unwrap().contains("login_abuse"));

    // Then the right key from the same address: a likely compromise, told, not banned.
    sshd.key_login(ATTACKER);
    let after = wait_for_or(30, "a login_after_failures from 127.0.0.7", &sshd, || {
        detection(&d, &viewer, "login_after_failures")
    });
    assert_eq!(after["user"], "root", "{after}");
    let m = d.json("/api/v1/mitigations", &viewer);
    let for_it = m["mitigations"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|x| x["detection_id"] == after["id"])
        .count();
    assert_eq!(
        for_it, 0,
        "a successful login is not banned by default: {m}"
    );
    // The counters are published once a second.
    wait_for(10, "the login counters in the status", || {
        let status = d.json("/api/v1/status", &viewer);
        let det = &status["detectors"];
        (det["auth_failures_total"].as_u64() >= Some(9)
            && det["auth_successes_total"].as_u64() >= Some(1))
        .then_some(())
    });
    drop(sshd);
    drop(b);
    d.stop();
}
