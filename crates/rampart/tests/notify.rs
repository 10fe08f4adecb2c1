#![allow(clippy::unwrap_used)]
//! Notifications from `rampart serve`: a SYN flood sent as NetFlow v5 reaches a webhook
//! receiver on loopback as `attack.started` and `mitigation.applied`, signed with the shared
//! secret (checked here with the receiver's own verification); a webhook that is down ends
//! as a dead letter in the audit log.

#[path = "support/daemon.rs"]
mod daemon;
#[path = "support/netflow5.rs"]
mod netflow5;

use daemon::{token, wait_for, Daemon, Scratch};
use netflow5::syn_flood_burst;
use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

/// A delivery: its headers (lower-cased names) and body.
#[derive(Clone, Debug)]
struct Delivery {
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Delivery {
    fn header(&self, name: &str) -> &str {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map_or("", |(_, v)| v.as_str())
    }
}

/// An HTTP/1.1 receiver keeping every POST, answering 200 (keep-alive honoured).
fn receiver() -> (String, Arc<Mutex<Vec<Delivery>>>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hook", l.local_addr().unwrap());
    let got = Arc::new(Mutex::new(Vec::new()));
    let sink = got.clone();
    std::thread::spawn(move || {
        for conn in l.incoming().flatten() {
            let sink = sink.clone();
            std::thread::spawn(move || serve_conn(conn, &sink));
        }
    });
    (url, got)
}

fn serve_conn(conn: TcpStream, sink: &Mutex<Vec<Delivery>>) {
    let mut w = conn.try_clone().unwrap();
    let mut r = BufReader::new(conn);
    loop {
        let mut line = String::new();
        if r.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let mut headers = Vec::new();
        loop {
            let mut h = String::new();
            if r.read_line(&mut h).unwrap_or(0) == 0 {
                return;
            }
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':') {
                headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
            }
        }
        let len: usize = headers
            .iter()
            .find(|(k, _)| k == "content-length")
            .and_then(|(_, v)| v.parse().ok())
            .unwrap_or(0);
        let mut body = vec![0u8; len.min(1 << 20)];
        if r.read_exact(&mut body).is_err() {
            return;
        }
        sink.lock().unwrap().push(Delivery { headers, body });
        if w.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
            .is_err()
        {
            return;
        }
    }
}

#[test]
fn a_flood_is_told_to_a_signed_webhook_and_a_dead_one_is_audited() {
    let (url, got) = receiver();
    let closed = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}/gone", l.local_addr().unwrap())
    };
    let dir = Scratch::new("notify");
    let t = token(dir.path(), "viewer", "v");
    let hooks = format!(
        "notify.webhooks=[{{url=\"{url}\", secret=\"s3cret\"}}, \
         {{url=\"{closed}\", max_attempts=2, backoff_ms=100, connect_timeout_ms=200, \
           events=[\"attack.started\"]}}]"
    );
    let args: Vec<String> = [
        "--protect",
        "203.0.113.0/24",
        "--set",
        &hooks,
        "--set",
        "detect.ddos.vector_pps.syn_flood=1000",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let d = Daemon::start(dir.path(), &args);
    for _ in 0..8 {
        syn_flood_burst(d.flow);
        std::thread::sleep(std::time::Duration::from_millis(500));
    }
    let started = wait_for(20, "attack.started at the webhook", || {
        got.lock()
            .unwrap()
            .iter()
            .find(|x| x.header("x-rampart-event") == "attack.started")
            .cloned()
    });
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    rampart_notify::sign::verify(
        b"s3cret",
        started.header("x-rampart-timestamp"),
        &started.body,
        started.header("x-rampart-signature"),
        now,
        300,
    )
    .unwrap();
    let n: Value = serde_json::from_slice(&started.body).unwrap();
    assert_eq!(n["event"], "attack.started");
    assert_eq!(n["detection"]["target"], "203.0.113.100");
    assert_eq!(n["detection"]["vector"], "syn_flood");
    assert!(
        n["title"].as_str().unwrap().contains("203.0.113.100"),
        "{n}"
    );
    // The policy's FlowSpec decision (dry run) is told too.
    wait_for(20, "mitigation.applied at the webhook", || {
        got.lock()
            .unwrap()
            .iter()
            .any(|x| x.header("x-rampart-event") == "mitigation.applied")
            .then_some(())
    });
    // The dead endpoint's attack.started ends in the audit log.
    let dead = wait_for(30, "the dead letter in the audit log", || {
        let v = d.json("/api/v1/audit?limit=1000", &t);
        v["audit"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["action"] == "notify.dead_letter")
            .cloned()
    });
    assert_eq!(dead["detail"]["attempts"], 2, "{dead}");
    assert_eq!(dead["detail"]["notification"]["event"], "attack.started");
    let status = d.json("/api/v1/status", &t);
    assert!(
        status["notify"]["sinks"][0]["sent"].as_u64().unwrap() >= 2,
        "{status}"
    );
    d.stop();
}
