#![allow(clippy::unwrap_used)]
//! The response end to end: `rampart serve` with its firewall in a network namespace made
//! here. A horizontal scan sent as NetFlow v5 gets its source banned in real nftables; a SYN
//! flood gets FlowSpec rules (no BGP peer here: decided, audited, not announced); an
//! operator's `rampart mitigate` passes the same guards (a never-listed address is refused
//! with exit status 3 and the guard's name), and withdraws what it announced. With BIRD 2 as
//! the daemon's BGP peer, a flood's FlowSpec rule and then (escalated) its blackhole appear in
//! BIRD's tables with their communities, and leave them once the attack is over.

#[path = "support/bouncer.rs"]
mod bouncer;
#[path = "support/daemon.rs"]
mod daemon;
#[path = "support/netflow5.rs"]
mod netflow5;

use bouncer::Bouncer;
use daemon::{program, token, wait_for, Daemon, Scratch, RAMPART};
use netflow5::{send_v5, syn_flood_burst, Rec};
use serde_json::Value;
use std::net::Ipv4Addr;
use std::process::Command;

fn sh(args: &[&str]) -> (bool, String) {
    let out = Command::new(args[0]).args(&args[1..]).output().unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    (out.status.success(), text)
}

/// A namespace to hold the daemon's firewall table.
struct Netns(String);

impl Netns {
    fn new() -> Netns {
        let name = format!("rresp{}", std::process::id());
        let _ = sh(&["ip", "netns", "del", &name]);
        assert!(sh(&["ip", "netns", "add", &name]).0);
        Netns(name)
    }
    fn nft_list(&self) -> String {
        sh(&[
            "ip", "netns", "exec", &self.0, "nft", "list", "table", "inet", "rampart",
        ])
        .1
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = sh(&["ip", "netns", "del", &self.0]);
    }
}

fn mitigate(d: &Daemon, t: &str, args: &[&str]) -> (i32, String) {
    let out = Command::new(RAMPART)
        .arg("mitigate")
        .args(args)
        .args(["--api", &format!("http://{}", d.api), "--token", t])
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    (out.status.code().unwrap_or(-1), text)
}

fn active(d: &Daemon, t: &str) -> Vec<Value> {
    d.json("/api/v1/mitigations?state=active", t)["mitigations"]
        .as_array()
        .unwrap()
        .clone()
}

#[test]
fn scans_are_banned_floods_get_flowspec_and_operators_pass_the_guards() {
    let dir = Scratch::new("respond");
    let ns = Netns::new();
    let t = token(dir.path(), "analyst", "alice");
    let nft_cmd = format!(
        "respond.nftables.command=[\"ip\",\"netns\",\"exec\",\"{}\",\"nft\"]",
        ns.0
    );
    let args: Vec<String> = [
        "--protect",
        "203.0.113.0/24",
        "--set",
        "respond.dry_run=false",
        "--set",
        "respond.nftables.enabled=true",
        "--set",
        &nft_cmd,
        "--set",
        "respond.never=[\"203.0.113.53/32\"]",
        "--set",
        "detect.ddos.vector_pps.syn_flood=1000",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let d = Daemon::start(dir.path(), &args);
    wait_for(10, "our nftables table", || {
        ns.nft_list().contains("banned_v4").then_some(())
    });

    // A horizontal scan: SYNs from one source to port 22 of 200 hosts, unanswered.
    let scanner = Ipv4Addr::new(192, 0, 2, 66);
    let scan: Vec<Rec> = (1..=200u8)
        .map(|h| Rec {
            src: scanner,
            dst: Ipv4Addr::new(203, 0, 113, h),
            sport: 40_000,
            dport: 22,
            proto: 6,
            flags: 0x02,
            packets: 1,
            duration_ms: 0,
        })
        .collect();
    send_v5(d.flow, &scan);
    let ban = wait_for(20, "the scanner's ban", || {
        active(&d, &t)
            .into_iter()
            .find(|m| m["kind"] == "ban" && m["target"] == "192.0.2.66")
    });
    assert_eq!(ban["dry_run"], false);
    assert_eq!(ban["requested_by"], "policy");
    let listed = ns.nft_list();
    assert!(
        listed.contains("192.0.2.66") && listed.contains("expires"),
        "{listed}"
    );
    let det = ban["detection_id"].as_u64().unwrap();
    let scan_det = d.json(&format!("/api/v1/detections/{det}"), &t);
    assert_eq!(scan_det["kind"], "scan");
    assert!(scan_det["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["event"] == "mitigation.apply"));

    // A SYN flood on .100 for four seconds: FlowSpec rules, not announced (no BGP peer).
    for _ in 0..8 {
        syn_flood_burst(d.flow);
        std::thread::sleep(std::time::Duration::from_millis(500));
    }
    let fs = wait_for(20, "the flood's FlowSpec mitigation", || {
        active(&d, &t)
            .into_iter()
            .find(|m| m["kind"] == "flowspec" && m["target"] == "203.0.113.100")
    });
    assert_eq!(fs["rules"][0]["protocols"][0], 6);
    assert_eq!(fs["rules"][0]["tcp_flags"]["set"], 2);
    let audit = d.json("/api/v1/audit?limit=1000", &t);
    let entries = audit["audit"].as_array().unwrap();
    let applied = |target: &str| {
        entries
            .iter()
            .find(|e| e["action"] == "mitigation.apply" && e["subject"] == target)
            .map(|e| e["result"].as_str().unwrap().to_string())
    };
    assert_eq!(applied("192.0.2.66").as_deref(), Some("ok"));
    assert_eq!(applied("203.0.113.100").as_deref(), Some("no_peers"));

    // By hand: the never-listed resolver is refused, naming the guard; another works.
    let (code, out) = mitigate(
        &d,
        &t,
        &["announce", "blackhole", "203.0.113.53", "--ttl", "10m"],
    );
    assert_eq!(code, 3, "{out}");
    assert!(out.contains("never"), "{out}");
    let (code, out) = mitigate(&d, &t, &["announce", "ban", "198.51.100.9", "--ttl", "10m"]);
    assert_eq!(code, 0, "{out}");
    assert!(ns.nft_list().contains("198.51.100.9"));
    let (code, out) = mitigate(&d, &t, &["list", "--state", "active"]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("198.51.100.9") && out.contains("token:alice"),
        "{out}"
    );
    let (code, out) = mitigate(&d, &t, &["withdraw", "198.51.100.9"]);
    assert_eq!(code, 0, "{out}");
    wait_for(10, "the manual ban gone from nftables", || {
        (!ns.nft_list().contains("198.51.100.9")).then_some(())
    });
    let refused = d.json("/api/v1/audit?limit=1000", &t)["audit"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["result"] == "refused" && e["detail"]["guard"] == "never");
    assert!(refused, "the refusal is audited");
    d.stop();
}

/// BIRD 2 as our eBGP peer (AS 65002, passive, on 127.0.0.3), with flow4 and flow6 tables.
struct Bird {
    dir: Scratch,
    child: std::process::Child,
}

impl Bird {
    fn start(port: u16) -> Bird {
        let dir = Scratch::new("bird");
        let conf = dir.path().join("bird.conf");
        std::fs::write(
            &conf,
            format!(
                r#"
router id 127.0.0.3;
flow4 table flowtab4;
flow6 table flowtab6;
protocol device {{ }}
protocol static {{ ipv4; route 192.0.2.1/32 blackhole; }}
protocol bgp rampart {{
  local 127.0.0.3 port {port} as 65002;
  neighbor 127.0.0.1 as 65001;
  passive on;
  multihop;
  ipv4 {{ import all; export none; gateway recursive; }};
  ipv6 {{ import all; export none; }};
  flow4 {{ table flowtab4; import all; export none; }};
  flow6 {{ table flowtab6; import all; export none; }};
}}
"#
            ),
        )
        .unwrap();
        let sock = dir.path().join("bird.ctl");
        let child = Command::new(program("bird"))
            .arg("-c")
            .arg(&conf)
            .arg("-s")
            .arg(&sock)
            .arg("-f")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let b = Bird { dir, child };
        wait_for(10, "BIRD's control socket", || {
            b.birdc("show status")
                .contains("Daemon is up")
                .then_some(())
        });
        b
    }

    fn birdc(&self, cmd: &str) -> String {
        let sock = self.dir.path().join("bird.ctl");
        let out = Command::new(program("birdc"))
            .arg("-s")
            .arg(&sock)
            .args(cmd.split_whitespace())
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).to_string()
    }
}

impl Drop for Bird {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn a_flood_is_announced_to_bird_as_flowspec_then_blackhole_and_withdrawn() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.3:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let bird = Bird::start(port);
    let dir = Scratch::new("bird-serve");
    let t = token(dir.path(), "viewer", "v");
    let peers = format!(
        "respond.bgp.peers=[{{address=\"127.0.0.3\", port={port}, peer_as=65002, local_as=65001, \
         router_id=\"127.0.0.1\", local_address=\"127.0.0.1\", connect_retry_s=1, hold_time_s=30}}]"
    );
    let args: Vec<String> = [
        "--protect",
        "203.0.113.0/24",
        "--set",
        "respond.dry_run=false",
        "--set",
        &peers,
        "--set",
        "respond.blackhole.next_hop=\"192.0.2.1\"",
        "--set",
        "respond.blackhole.communities=[\"65535:666\", \"65001:666:1\"]",
        "--set",
        "respond.escalate_after_s=3",
        "--set",
        "respond.hold_s=2",
        "--set",
        "detect.ddos.end_after_s=2",
        "--set",
        "detect.ddos.vector_pps.syn_flood=1000",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let d = Daemon::start(dir.path(), &args);
    wait_for(20, "the BGP session with BIRD", || {
        let v = d.json("/api/v1/bgp", &t);
        (v["peers"][0]["state"] == "established").then_some(())
    });
    // The flood goes on for about eight seconds: FlowSpec at once, the blackhole 3 s later.
    let flow = std::thread::scope(|s| {
        s.spawn(|| {
            for _ in 0..16 {
                syn_flood_burst(d.flow);
                std::thread::sleep(std::time::Duration::from_millis(500));
            }
        });
        let flow = wait_for(20, "the FlowSpec rule in BIRD", || {
            let out = bird.birdc("show route table flowtab4 all");
            out.contains("203.0.113.100").then_some(out)
        });
        let hole = wait_for(20, "the blackhole in BIRD", || {
            let out = bird.birdc("show route 203.0.113.100/32 all");
            out.contains("(65535,666)").then_some(out)
        });
        assert!(hole.contains("(65001, 666, 1)"), "{hole}");
        flow
    });
    assert!(
        flow.contains("proto 6") || flow.contains("proto = 6"),
        "{flow}"
    );
    assert!(
        flow.contains("0x2/0x12") || flow.contains("tcp flags"),
        "{flow}"
    );
    let audit = d.json("/api/v1/audit?limit=1000", &t);
    let ok: Vec<String> = audit["audit"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "mitigation.apply" && e["result"] == "ok")
        .map(|e| {
            e["detail"]["mitigation"]["kind"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert!(
        ok.contains(&"flowspec".to_string()) && ok.contains(&"blackhole".to_string()),
        "{audit}"
    );
    // The flood is over: end (2 s), hold (2 s), withdrawn from BIRD.
    wait_for(30, "the routes withdrawn from BIRD", || {
        let flows = bird.birdc("show route table flowtab4");
        let hole = bird.birdc("show route 203.0.113.100/32");
        (!flows.contains("203.0.113.100") && !hole.contains("203.0.113.100")).then_some(())
    });
    d.stop();
}

#[test]
fn a_real_crowdsec_bouncer_enforces_our_bans() {
    let dir = Scratch::new("bouncer-serve");
    let analyst = token(dir.path(), "analyst", "alice");
    let bouncer_key = token(dir.path(), "viewer", "edge-bouncer");
    let args: Vec<String> = ["--set", "respond.dry_run=false"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let d = Daemon::start(dir.path(), &args);
    // A ban from before the bouncer starts comes with its startup pull.
    let (code, out) = mitigate(
        &d,
        &analyst,
        &["announce", "ban", "192.0.2.77", "--ttl", "10m"],
    );
    assert_eq!(code, 0, "{out}");
    let b = Bouncer::start(d.api, &bouncer_key);
    wait_for(30, "the bouncer adding 192.0.2.77", || {
        b.decisions().contains("add 192.0.2.77").then_some(())
    });
    // One made while it runs, and the withdrawal of the first.
    let (code, out) = mitigate(
        &d,
        &analyst,
        &["announce", "ban", "198.51.100.0/24", "--ttl", "5m"],
    );
    assert_eq!(code, 0, "{out}");
    let (code, out) = mitigate(&d, &analyst, &["withdraw", "192.0.2.77"]);
    assert_eq!(code, 0, "{out}");
    wait_for(30, "the bouncer's changes", || {
        let log = b.decisions();
        (log.contains("add 198.51.100.0/24") && log.contains("del 192.0.2.77")).then_some(log)
    });
    // The single-address query bouncers in live mode use.
    let r = daemon::request(d.api, "GET", "/v1/decisions?ip=198.51.100.9", None, None);
    assert_eq!(r.status, 401, "the bouncer API needs a key too");
    let v: Value = d.json("/v1/decisions?ip=198.51.100.9", &bouncer_key);
    assert_eq!(v[0]["value"], "198.51.100.0/24");
    assert_eq!(v[0]["scope"], "Range");
    assert!(d.json("/v1/decisions?ip=192.0.2.1", &bouncer_key).is_null());
    d.stop();
}
