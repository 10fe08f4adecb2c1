#![allow(clippy::unwrap_used)]
//! `rampart serve` end to end on loopback: every route of the API and of its TAXII server
//! refuses a missing, wrong or too-low token (or collection right); bad datagrams are counted, not fatal; a SYN flood exported live by
//! softflowd appears in the API and the metrics, and survives a restart of the daemon; the
//! configuration reloads on SIGHUP.

#[path = "support/daemon.rs"]
mod daemon;
#[path = "support/traffic.rs"]
mod traffic;

use daemon::{request, taxii_request, token, wait_for, Daemon, LiveExporter, Scratch};
use rampart_intel::taxii::{default_collection_id, TaxiiConfig, MEDIA_TYPE};
use rampart_model::Role;
use rampart_server::TaxiiNeed;
use serde_json::Value;
use std::net::{IpAddr, Ipv4Addr, UdpSocket};
use std::time::Duration;
use traffic::{Scenario, Target, Vector};

fn strings(a: &[&str]) -> Vec<String> {
    a.iter().map(|s| s.to_string()).collect()
}

/// A concrete path for a route pattern.
fn concrete(path: &str) -> String {
    // Token 999 does not exist: revoking it must not revoke the walk's own tokens.
    let id = if path.starts_with("/api/v1/tokens") {
        "999"
    } else {
        "1"
    };
    path.replace("{id}", id).replace("{file}", "app.js")
}

fn body_for(method: &str, path: &str) -> Option<&'static str> {
    match (method, path) {
        ("POST", "/api/v1/tokens") => Some(r#"{"name":"walk","role":"viewer"}"#),
        ("POST", "/api/v1/mitigations") => {
            Some(r#"{"kind":"blackhole","target":"198.51.100.77","ttl":"1m"}"#)
        }
        ("POST", "/api/v1/mitigations/withdraw") => Some(r#"{"target":"198.51.100.77"}"#),
        _ => None,
    }
}

/// The walk's TAXII collections: the default one (viewers read, analysts write) and an
/// inbox analysts write to and only admins read. Returns the `--set` and, per collection,
/// the least role that may read and that may write.
fn walk_collections() -> (String, Vec<(String, Role, Role)>) {
    let cols = vec![
        (default_collection_id(), Role::Viewer, Role::Analyst),
        ("inbox".to_string(), Role::Admin, Role::Analyst),
    ];
    let toml: Vec<String> = cols
        .iter()
        .map(|(id, read, write)| {
            let title = if *id == default_collection_id() {
                "rampart-indicators"
            } else {
                id
            };
            format!("{{id = \"{id}\", title = \"{title}\", readers = [\"role:{read}\"], writers = [\"role:{write}\"]}}")
        })
        .collect();
    (
        format!("intel.taxii.collections=[{}]", toml.join(", ")),
        cols,
    )
}

const WALK_OBJECT: &str = "indicator--2f4a7c1e-93b5-4d8e-a6f0-5c3b9d1e7a42";

fn walk_envelope() -> String {
    format!(
        r#"{{"objects":[{{"type":"indicator","spec_version":"2.1","id":"{WALK_OBJECT}","created":"2026-01-01T00:00:00.000Z","modified":"2026-01-01T00:00:00.000Z","pattern":"[ipv4-addr:value = '198.51.100.250']","pattern_type":"stix","valid_from":"2026-01-01T00:00:00Z"}}]}}"#
    )
}

/// Walks every TAXII route of [`rampart_server::TAXII_ROUTES`] for each collection: 406 for
/// a wrong Accept, 401 without or with a wrong token, 403 for a token that may see the
/// collection but lacks the right, 404 for one with no right to it, and neither 401 nor
/// 403 for one with the right. Returns how many 403s it saw.
fn walk_taxii(d: &Daemon, tokens: &[(Role, String)]) -> usize {
    let (_, cols) = walk_collections();
    let base = TaxiiConfig::default().path;
    let envelope = walk_envelope();
    // One object and one status in the default collection, for the routes that name them.
    let admin = &tokens[2].1;
    let default = default_collection_id();
    let posted = taxii_request(
        d.api,
        "POST",
        &format!("{base}/api/collections/{default}/objects/"),
        Some(admin),
        MEDIA_TYPE,
        Some(&envelope),
    );
    assert_eq!(posted.status, 202, "{}", posted.body);
    let status_id = serde_json::from_str::<Value>(&posted.body).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let mut forbidden = 0;
    assert!(rampart_server::TAXII_ROUTES.len() >= 11);
    for r in rampart_server::TAXII_ROUTES {
        let method = r.method.as_str();
        // The rights, said again here so that a weakened table fails the walk.
        let need = match (method, r.path.contains("{collection}")) {
            (_, false) => TaxiiNeed::Token,
            ("POST", true) => TaxiiNeed::Write,
            _ if r.path.ends_with("{collection}/") => TaxiiNeed::See,
            _ => TaxiiNeed::Read,
        };
        assert_eq!(r.need, need, "{method} {}", r.path);
        let on: Vec<Option<&(String, Role, Role)>> = if r.path.contains("{collection}") {
            cols.iter().map(Some).collect()
        } else {
            vec![None]
        };
        for col in on {
            let path = format!(
                "{base}{}",
                r.path
                    .replace("{collection}", col.map_or("", |c| &c.0))
                    .replace("{object}", WALK_OBJECT)
                    .replace("{status}", &status_id)
            );
            let body = (method == "POST").then_some(envelope.as_str());
            let call = |t: Option<&str>, accept: &str| {
                taxii_request(d.api, method, &path, t, accept, body)
            };
            let wrong_type = call(Some(admin), "application/json");
            assert_eq!(
                wrong_type.status, 406,
                "{method} {path}: {}",
                wrong_type.body
            );
            let none = call(None, MEDIA_TYPE);
            assert_eq!(none.status, 401, "{method} {path} without a token");
            assert!(none.body.contains("\"title\""), "{}", none.body);
            assert!(none
                .headers
                .to_ascii_lowercase()
                .contains("www-authenticate: bearer"));
            let wrong = call(
                Some("rmp_0000000000000000000000000000000000000000000000000000000000000000"),
                MEDIA_TYPE,
            );
            assert_eq!(wrong.status, 401, "{method} {path} with a wrong token");
            for (role, secret) in tokens {
                let (read, write) = col.map_or((true, true), |c| (*role >= c.1, *role >= c.2));
                let expect = match r.need {
                    TaxiiNeed::Token => None,
                    _ if !read && !write => Some(404),
                    TaxiiNeed::Read if !read => Some(403),
                    TaxiiNeed::Write if !write => Some(403),
                    _ => None,
                };
                let resp = call(Some(secret), MEDIA_TYPE);
                match expect {
                    Some(code) => {
                        assert_eq!(
                            resp.status, code,
                            "{method} {path} as {role}: {}",
                            resp.body
                        );
                        forbidden += usize::from(code == 403);
                    }
                    None => assert!(
                        ![401, 403, 406].contains(&resp.status)
                            && !resp.body.contains("no collection"),
                        "{method} {path} as {role}: {} {}",
                        resp.status,
                        resp.body
                    ),
                }
            }
        }
    }
    forbidden
}

#[test]
fn every_route_refuses_missing_wrong_and_too_low_tokens() {
    let dir = Scratch::new("routes");
    let tokens: Vec<(Role, String)> = Role::ALL
        .iter()
        .map(|&r| (r, token(dir.path(), r.as_str(), &format!("t-{r}"))))
        .collect();
    let (collections, _) = walk_collections();
    let d = Daemon::start(dir.path(), &["--set".into(), collections]);
    let mut checked = 0;
    for r in rampart_server::ROUTES {
        let (method, path) = (r.method.as_str(), concrete(r.path));
        let body = body_for(method, r.path);
        let call = |t: Option<&str>| request(d.api, method, &path, t, body);
        let Some(need) = r.role else {
            let resp = call(None);
            assert_eq!(resp.status, 200, "{method} {path} is open: {}", resp.body);
            continue;
        };
        let none = call(None);
        assert_eq!(
            none.status, 401,
            "{method} {path} without a token: {}",
            none.body
        );
        assert!(
            none.body.contains("\"error\""),
            "{method} {path}: {}",
            none.body
        );
        assert!(none
            .headers
            .to_ascii_lowercase()
            .contains("www-authenticate: bearer"));
        let wrong = call(Some(
            "rmp_0000000000000000000000000000000000000000000000000000000000000000",
        ));
        assert_eq!(wrong.status, 401, "{method} {path} with a wrong token");
        for (role, secret) in &tokens {
            let resp = call(Some(secret));
            if *role < need {
                assert_eq!(resp.status, 403, "{method} {path} as {role}: {}", resp.body);
                assert!(resp.body.contains(need.as_str()), "{}", resp.body);
            } else {
                assert!(
                    ![401, 403].contains(&resp.status),
                    "{method} {path} as {role}: {} {}",
                    resp.status,
                    resp.body
                );
            }
        }
        checked += 1;
    }
    assert!(checked >= 15, "only {checked} protected routes");
    // Every read route is refused to the inbox's writers, every write to viewers.
    let forbidden = walk_taxii(&d, &tokens);
    assert!(
        forbidden >= 5,
        "only {forbidden} TAXII refusals for too few rights"
    );
    // Unknown routes answer JSON 404s; the OpenAPI document lists every API route.
    let admin = &tokens[2].1;
    let nope = d.get("/api/v1/nope", Some(admin));
    assert_eq!(nope.status, 404);
    assert!(nope.body.contains("\"error\""));
    let doc = d.json("/api/v1/openapi.json", admin);
    for r in rampart_server::ROUTES
        .iter()
        .filter(|r| r.path.starts_with("/api/"))
    {
        let p = &doc["paths"][r.path][r.method.as_str().to_ascii_lowercase()];
        assert!(p.is_object(), "openapi.json lacks {} {}", r.method, r.path);
    }
    // Bad query parameters name themselves.
    let bad = d.get("/api/v1/attacks?state=gone", Some(admin));
    assert_eq!(bad.status, 400);
    assert!(bad.body.contains("state"), "{}", bad.body);
    let bad = d.get("/api/v1/traffic?from=yesterday", Some(admin));
    assert_eq!(bad.status, 400);
    assert!(bad.body.contains("from"), "{}", bad.body);
    // What the walk did is in the audit log, by token name.
    let audit = d.json("/api/v1/audit", admin);
    assert!(audit["audit"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["action"] == "token.create" && e["actor"] == "token:t-admin"));
    d.stop();
}

#[test]
fn bad_datagrams_are_counted_and_good_ones_still_decoded() {
    let dir = Scratch::new("bad");
    let t = token(dir.path(), "viewer", "v");
    let d = Daemon::start(dir.path(), &[]);
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    for junk in [
        &b""[..],
        &[0xff; 3][..],
        &[0, 9, 0, 1, 0xde, 0xad][..],
        &[0, 10, 0, 200, 1, 2, 3, 4][..],
        &[0u8; 1400][..],
    ] {
        s.send_to(junk, d.flow).unwrap();
    }
    // A valid NetFlow v5 datagram with one record.
    let mut v5 = vec![0u8; 24 + 48];
    v5[0..2].copy_from_slice(&5u16.to_be_bytes());
    v5[2..4].copy_from_slice(&1u16.to_be_bytes());
    v5[24..28].copy_from_slice(&[198, 51, 100, 1]);
    v5[28..32].copy_from_slice(&[203, 0, 113, 9]);
    v5[40..44].copy_from_slice(&10u32.to_be_bytes());
    v5[44..48].copy_from_slice(&1000u32.to_be_bytes());
    v5[62] = 17;
    s.send_to(&v5, d.flow).unwrap();
    let e = wait_for(10, "the exporter's counters", || {
        let v = d.json("/api/v1/exporters", &t);
        let e = v["exporters"][0].clone();
        (e["datagrams"].as_u64() == Some(6)).then_some(e)
    });
    assert_eq!(e["address"], "127.0.0.1");
    assert_eq!(e["records"], 1);
    assert!(e["errors"].as_u64().unwrap() >= 4, "{e}");
    assert!(e["last_error"].is_string(), "{e}");
    let status = d.json("/api/v1/status", &t);
    assert_eq!(status["pipeline"]["processed_records"], 1);
    // After a quiet spell (the collector blocks again) and in a run of datagrams a few
    // milliseconds apart (it reads them between pauses), every datagram is still read.
    std::thread::sleep(Duration::from_millis(50));
    for _ in 0..3 {
        s.send_to(&v5, d.flow).unwrap();
        std::thread::sleep(Duration::from_millis(3));
    }
    wait_for(10, "the later datagrams", || {
        let v = d.json("/api/v1/status", &t);
        (v["pipeline"]["processed_records"] == 4).then_some(())
    });
    let m = d.get("/metrics", Some(&t));
    assert!(
        m.body
            .contains("rampart_exporter_errors_total{exporter=\"127.0.0.1\"}"),
        "{}",
        m.body
    );
    d.stop();
}

#[test]
fn exporters_outside_the_allow_list_are_refused_and_sighup_reloads() {
    let dir = Scratch::new("allow");
    let t = token(dir.path(), "admin", "a");
    let conf = dir.path().join("rampart.toml");
    std::fs::write(&conf, "[listen]\nexporters = [\"192.0.2.0/24\"]\n").unwrap();
    let d = Daemon::start(dir.path(), &strings(&["--config", "rampart.toml"]));
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    s.send_to(&[0, 5, 0, 0], d.flow).unwrap();
    wait_for(10, "a refused datagram", || {
        let v = d.json("/api/v1/status", &t);
        (v["pipeline"]["refused_datagrams"] == 1).then_some(())
    });
    let v = d.json("/api/v1/exporters", &t);
    assert_eq!(v["refused"][0]["address"], "127.0.0.1");
    // Allow loopback and lower a threshold; SIGHUP applies both.
    std::fs::write(
        &conf,
        "protect = [\"203.0.113.0/24\"]\n[listen]\nexporters = [\"127.0.0.0/8\"]\n[detect.ddos]\nhost_pps = 777\n",
    )
    .unwrap();
    d.signal("HUP");
    wait_for(10, "the reload", || {
        let c = d.json("/api/v1/config", &t);
        (c["detect"]["ddos"]["host_pps"] == 777).then_some(())
    });
    std::thread::sleep(std::time::Duration::from_millis(1200));
    s.send_to(&[0, 5, 0, 0], d.flow).unwrap();
    wait_for(10, "an accepted datagram", || {
        let v = d.json("/api/v1/exporters", &t);
        (v["exporters"][0]["datagrams"] == 1).then_some(())
    });
    // The lowered threshold reached the detector, which kept its state.
    let status = d.json("/api/v1/status", &t);
    assert!(status["detectors"]["ddos_state_bytes"].as_u64().unwrap() > 0);
    // Table sizes cannot change while running.
    std::fs::write(&conf, "[detect.ddos]\nmax_hosts = 5\n").unwrap();
    let r = request(d.api, "POST", "/api/v1/config/reload", Some(&t), None);
    assert_eq!(r.status, 409, "{}", r.body);
    assert!(r.body.contains("detect.ddos table settings"), "{}", r.body);
    // A change that needs a restart is refused, said so, and audited.
    std::fs::write(&conf, "[store]\npath = \"elsewhere\"\n").unwrap();
    let r = request(d.api, "POST", "/api/v1/config/reload", Some(&t), None);
    assert_eq!(r.status, 409, "{}", r.body);
    assert!(r.body.contains("restart"), "{}", r.body);
    let audit = d.json("/api/v1/audit", &t);
    let results: Vec<&str> = audit["audit"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "config.reload")
        .map(|e| e["result"].as_str().unwrap())
        .collect();
    assert_eq!(results, ["refused", "refused", "ok"], "{audit}");
    d.stop();
}

/// The SYN flood of the scenario: target, first packet and thresholds.
fn flood(dir: &std::path::Path, seconds: f64) -> (std::path::PathBuf, Vec<String>) {
    let target = IpAddr::V4(Ipv4Addr::new(203, 0, 113, 100));
    let scenario = Scenario::new(7, seconds).attack(
        Vector::SynFlood,
        Target::Host(target),
        2.0,
        seconds - 3.0,
        3.0,
    );
    let pcap = dir.join("syn.pcap");
    scenario.write(&pcap).unwrap();
    let mut args = scenario.thresholds.args();
    // Short hysteresis and lateness, so that the test sees the end within seconds.
    args.extend(strings(&[
        "--set",
        "detect.ddos.end_after_s=3",
        "--set",
        "detect.ddos.max_lateness_s=5",
    ]));
    (pcap, args)
}

/// The collector address softflowd sends to, from the first daemon's log.
fn exporter_collector(log: &str) -> String {
    let line = log
        .lines()
        .find(|l| l.contains("collecting flows"))
        .unwrap();
    let at = line.find("listen=").unwrap() + "listen=".len();
    line[at..].split_whitespace().next().unwrap().to_string()
}

fn active_attack(d: &Daemon, t: &str) -> Option<Value> {
    let v = d.json("/api/v1/attacks?state=active", t);
    v["attacks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["target"] == "203.0.113.100")
        .cloned()
}

#[test]
fn a_live_flood_appears_and_survives_a_restart() {
    let dir = Scratch::new("live");
    let t = token(dir.path(), "viewer", "v");
    let (pcap, args) = flood(dir.path(), 24.0);
    let d = Daemon::start(dir.path(), &args);
    let exporter = LiveExporter::start("live", d.flow);
    let mut replay = exporter.replay(&pcap);
    let attack = wait_for(40, "the flood in /api/v1/attacks", || active_attack(&d, &t));
    assert_eq!(attack["kind"], "ddos");
    assert_eq!(attack["vector"], "syn_flood");
    assert_eq!(attack["direction"], "inbound");
    assert_eq!(attack["state"], "active");
    assert_eq!(attack["timeline"][0]["event"], "started");
    let id = attack["id"].as_u64().unwrap();
    let one = d.json(&format!("/api/v1/attacks/{id}"), &t);
    assert_eq!(one["target"], "203.0.113.100");
    // The detectors' state reaches the metrics within a second.
    let m = wait_for(5, "the attack in the metrics", || {
        let m = d.get("/metrics", Some(&t)).body;
        m.contains("rampart_ddos_attacks_active 1").then_some(m)
    });
    assert!(m.contains("rampart_exporter_records_total{exporter=\"127.0.0.1\"}"));
    // Stop and start again while the flood goes on: the same attack, restored and resumed.
    let log = d.stop();
    assert!(log.contains("stopped"), "{log}");
    let same_port = format!("listen.flow=[\"{}\"]", exporter_collector(&log));
    let d = Daemon::start(
        dir.path(),
        &[args.clone(), strings(&["--set", &same_port])].concat(),
    );
    wait_for(10, "the restored detections in the log", || {
        d.log().contains("restored active detections").then_some(())
    });
    let resumed = wait_for(20, "the attack resumed after the restart", || {
        let a = d.json(&format!("/api/v1/attacks/{id}"), &t);
        let events: Vec<String> = a["timeline"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["event"].as_str().unwrap().to_string())
            .collect();
        events.contains(&"resumed".to_string()).then_some(events)
    });
    assert!(resumed.contains(&"restored".to_string()), "{resumed:?}");
    // The resumed attack keeps its first start and its highest peak.
    let now = d.json(&format!("/api/v1/attacks/{id}"), &t);
    assert_eq!(now["start"], attack["start"], "{now}");
    assert!(
        now["peak_pps"].as_u64() >= attack["peak_pps"].as_u64(),
        "{now}"
    );
    replay.wait();
    // The flood stops; the attack ends after the hysteresis.
    let ended = wait_for(30, "the attack's end", || {
        let a = d.json(&format!("/api/v1/attacks/{id}"), &t);
        (a["state"] == "ended").then_some(a)
    });
    assert!(ended["end"].is_string(), "{ended}");
    let past = d.json("/api/v1/attacks?state=ended", &t);
    assert_eq!(past["attacks"][0]["id"], id);
    drop(exporter);
    d.stop();
}

#[test]
fn stops_on_sigterm_while_a_console_listens_to_events() {
    let dir = Scratch::new("sse");
    let t = token(dir.path(), "viewer", "v");
    let d = Daemon::start(dir.path(), &[]);
    // An event stream held open, as the console does all day.
    let mut s = std::net::TcpStream::connect(d.api).unwrap();
    use std::io::{Read, Write};
    write!(
        s,
        "GET /api/v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {t}\r\n\r\n"
    )
    .unwrap();
    s.set_read_timeout(Some(std::time::Duration::from_secs(5)))
        .unwrap();
    let mut buf = [0u8; 4096];
    let n = s.read(&mut buf).unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).contains("text/event-stream"));
    let started = std::time::Instant::now();
    let log = d.stop();
    assert!(log.contains("stopped"), "{log}");
    assert!(started.elapsed() < std::time::Duration::from_secs(15));
}
