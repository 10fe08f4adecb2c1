#![cfg(feature = "capture")]
#![allow(clippy::unwrap_used)]
//! Live packet capture in `rampart serve` (feature `capture`), as root: a veth pair with one
//! end in a network namespace made here; tcpreplay sends a SYN flood (and a capture of junk
//! frames) into that end, and the daemon captures the other end with an AF_PACKET ring. The
//! attack appears in the API, every packet tcpreplay sent is counted with none lost, and bad
//! frames are counted, not fatal. Without CAP_NET_RAW the start fails and says what to do.

#[path = "support/daemon.rs"]
mod daemon;
#[path = "support/traffic.rs"]
mod traffic;

use daemon::{token, wait_for, Daemon, Scratch, Veth, RAMPART};
use serde_json::Value;
use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;
use std::process::Command;
use traffic::{Frame, Scenario, Target, Vector};

fn require_root() {
    assert!(
        Command::new("id")
            .arg("-u")
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
            .unwrap_or(false),
        "the capture tests need root (network namespaces, veth pairs, AF_PACKET sockets); \
         scripts/test runs as root in CI"
    );
}

/// The status entry of the capture on `interface`.
fn capture(d: &Daemon, t: &str, interface: &str) -> Value {
    let status = d.json("/api/v1/status", t);
    status["captures"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["interface"] == interface)
        .cloned()
        .unwrap_or_else(|| panic!("no capture of {interface} in {status}"))
}

fn count(c: &Value, key: &str) -> u64 {
    c[key].as_u64().unwrap_or_else(|| panic!("{key} in {c}"))
}

/// Frames that are not well-formed IP, each after a valid Ethernet header, and the number
/// of them the decoder must reject (the rest carry no IP and are skipped). No cut VLAN tag:
/// the kernel drops those itself (untagging) before any packet socket sees them.
fn junk_frames() -> (Vec<Frame>, u64) {
    let eth = |ethertype: u16, rest: &[u8]| {
        let mut f = vec![0x02, 0, 0, 0, 0, 1, 0x02, 0, 0, 0, 0, 2];
        f.extend_from_slice(&ethertype.to_be_bytes());
        f.extend_from_slice(rest);
        f
    };
    let mut ipv4 = [0u8; 20];
    ipv4[0] = 0x45;
    ipv4[2..4].copy_from_slice(&20u16.to_be_bytes());
    let with = |at: usize, b: u8| {
        let mut h = ipv4;
        h[at] = b;
        h
    };
    let bad = vec![
        eth(0x0800, &ipv4[..10]),    // IPv4 header cut at 10 bytes
        eth(0x0800, &with(0, 0x4f)), // header length 60, only 20 captured
        eth(0x0800, &with(0, 0x42)), // header length 8
        eth(0x0800, &with(3, 4)),    // total length 4
        eth(0x0800, &with(0, 0x75)), // IP version 7
        eth(0x86dd, &[0x60; 24]),    // IPv6 header cut at 24 bytes
    ];
    let n = bad.len() as u64;
    let arp = eth(0x0806, &[0u8; 28]);
    let frames = bad
        .into_iter()
        .chain([arp])
        .enumerate()
        .map(|(i, data)| Frame {
            t_ns: traffic::BASE_NS + i as u64 * 1_000_000,
            len: data.len() as u32,
            data,
        })
        .collect();
    (frames, n)
}

/// A SYN flood on 203.0.113.100 at six times its threshold over the benign background:
/// even if tcpreplay gets a third of the pace it asks for on a loaded machine, the flood
/// stays above the threshold (the ring's timestamps, not the file's, are what the
/// detectors see).
fn flood(dir: &Path) -> (std::path::PathBuf, Vec<String>) {
    let target = IpAddr::V4(Ipv4Addr::new(203, 0, 113, 100));
    let scenario =
        Scenario::new(11, 10.0).attack(Vector::SynFlood, Target::Host(target), 1.0, 8.0, 6.0);
    let pcap = dir.join("syn.pcap");
    scenario.write(&pcap).unwrap();
    (pcap, scenario.thresholds.args())
}

#[test]
fn a_replayed_flood_is_captured_counted_and_detected_and_junk_is_counted() {
    require_root();
    let dir = Scratch::new("capture");
    let t = token(dir.path(), "viewer", "v");
    let veth = Veth::start("cap");
    let (pcap, mut args) = flood(dir.path());
    args.extend([
        "--set".to_string(),
        format!("listen.interfaces=[\"{}\"]", veth.near),
    ]);
    let d = Daemon::start(dir.path(), &args);
    assert!(d.log().contains("capturing packets"), "{}", d.log());
    let c = capture(&d, &t, &veth.near);
    assert_eq!(c["sockets"], 1, "{c}");
    assert_eq!(c["promiscuous"], true, "{c}");
    assert!(count(&c, "ring_bytes") >= 1 << 20, "{c}");

    // Junk first: counted as errors, and the daemon goes on.
    let (junk, bad) = junk_frames();
    let junk_pcap = dir.path().join("junk.pcap");
    traffic::write_frames(&junk_pcap, 1, &junk).unwrap();
    let junk_sent = veth.replay_counted(&junk_pcap, &["--topspeed"]);
    assert_eq!(junk_sent.packets, junk.len() as u64, "{junk_sent:?}");
    assert_eq!(junk_sent.failed, 0, "{junk_sent:?}");
    let c = wait_for(10, "the junk frames counted", || {
        let c = capture(&d, &t, &veth.near);
        (count(&c, "packets") >= junk_sent.packets).then_some(c)
    });
    assert_eq!(count(&c, "packets"), junk_sent.packets, "{c}");
    assert_eq!(count(&c, "errors"), bad, "{c}");
    assert_eq!(count(&c, "non_ip"), 1, "{c}");
    assert_eq!(count(&c, "records"), 0, "{c}");
    assert!(c["last_error"].is_string(), "{c}");

    // The flood, at the capture's own pace: the attack appears while it runs.
    let before = d.json("/api/v1/status", &t)["now"]
        .as_str()
        .unwrap()
        .to_string();
    let (sent, attack) = std::thread::scope(|s| {
        let replay = s.spawn(|| veth.replay_counted(&pcap, &[]));
        let attack = wait_for(60, "the flood in /api/v1/attacks", || {
            let v = d.json("/api/v1/attacks?state=active", &t);
            v["attacks"]
                .as_array()
                .unwrap()
                .iter()
                .find(|a| a["target"] == "203.0.113.100")
                .cloned()
        });
        (replay.join().unwrap(), attack)
    });
    assert_eq!(attack["kind"], "ddos", "{attack}");
    assert_eq!(attack["vector"], "syn_flood", "{attack}");
    assert_eq!(attack["direction"], "inbound", "{attack}");
    // Records carry the ring's kernel time (now), not the file's (2026-11-22).
    let start = attack["start"].as_str().unwrap();
    assert!(
        start >= before.as_str(),
        "start {start} before the replay ({before})"
    );
    assert_eq!(sent.failed, 0, "{sent:?}");

    // Every packet tcpreplay sent was captured and handed on; none was lost at this rate.
    let total = junk_sent.packets + sent.packets;
    // Packets are counted as each ring block is read, records when their batch is handed
    // on (a partial one up to 10 ms later): wait for both.
    let c = wait_for(10, "the flood counted", || {
        let c = capture(&d, &t, &veth.near);
        let handed = count(&c, "records") + count(&c, "queue_drops");
        (count(&c, "packets") >= total && handed >= sent.packets).then_some(c)
    });
    assert_eq!(count(&c, "packets"), total, "{c}");
    assert_eq!(count(&c, "bytes"), junk_sent.bytes + sent.bytes, "{c}");
    assert_eq!(count(&c, "kernel_drops"), 0, "{c}");
    assert_eq!(count(&c, "queue_drops"), 0, "{c}");
    assert_eq!(count(&c, "records"), sent.packets, "{c}");
    assert_eq!(count(&c, "errors"), bad, "{c}");
    let m = d.get("/metrics", Some(&t)).body;
    let line = format!(
        "rampart_capture_packets_total{{interface=\"{}\"}} {total}\n",
        veth.near
    );
    assert!(m.contains(&line), "{line} not in\n{m}");
    assert!(m.contains("rampart_capture_kernel_drops_total{"), "{m}");
    let log = d.stop();
    assert!(log.contains("stopped"), "{log}");
}

#[test]
fn capture_without_cap_net_raw_fails_the_start_and_says_what_to_do() {
    require_root();
    let dir = Scratch::new("capture-unprivileged");
    // nobody must be able to make the store.
    Command::new("chmod")
        .args(["0777"])
        .arg(dir.path())
        .status()
        .unwrap();
    let out = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(RAMPART)
        .args(["serve", "--set", "listen.flow=[\"127.0.0.1:0\"]"])
        .args(["--set", "api.listen=\"127.0.0.1:0\""])
        .args(["--set", "listen.interfaces=[\"lo\"]"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "serve started without CAP_NET_RAW:\n{stderr}"
    );
    assert!(
        stderr.contains("capturing on lo is not permitted"),
        "{stderr}"
    );
    assert!(stderr.contains("CAP_NET_RAW"), "{stderr}");
}
