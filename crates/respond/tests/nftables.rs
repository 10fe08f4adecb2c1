#![allow(clippy::unwrap_used)]
//! The nftables executor against real nftables, inside a network namespace made here: a
//! banned source's pings are dropped and pass again once unbanned, a FlowSpec-like drop rule
//! does the same, bans show their expiry, and another table in the namespace is never
//! touched. Needs root, iproute2 and nftables (scripts/test installs them).

use rampart_model::Timestamp;
use rampart_respond::{
    ActionKind, FlowAction, FlowRule, Mitigation, MitigationState, NftConfig, Nftables,
};
use std::net::IpAddr;
use std::process::Command;

fn sh(args: &[&str]) -> (bool, String) {
    let out = Command::new(args[0]).args(&args[1..]).output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr),
    )
}

fn must(args: &[&str]) -> String {
    let (ok, out) = sh(args);
    assert!(ok, "{}: {out}", args.join(" "));
    out
}

/// A namespace joined to the host by a veth pair: host 10.213.N.1, namespace 10.213.N.2.
struct Netns {
    name: String,
    host_if: String,
    host: String,
    inside: String,
}

impl Netns {
    fn new() -> Netns {
        let n = std::process::id() % 200 + 20;
        let name = format!("rnft{}", std::process::id());
        let host_if = format!("rnh{}", std::process::id() % 100_000);
        let peer = format!("rnp{}", std::process::id() % 100_000);
        let _ = sh(&["ip", "netns", "del", &name]);
        let _ = sh(&["ip", "link", "del", &host_if]);
        let (host, inside) = (format!("10.213.{n}.1"), format!("10.213.{n}.2"));
        must(&["ip", "netns", "add", &name]);
        must(&[
            "ip", "link", "add", &host_if, "type", "veth", "peer", "name", &peer,
        ]);
        must(&["ip", "link", "set", &peer, "netns", &name]);
        must(&["ip", "addr", "add", &format!("{host}/24"), "dev", &host_if]);
        must(&["ip", "link", "set", &host_if, "up"]);
        let x = |a: &[&str]| {
            let mut v = vec!["ip", "netns", "exec", name.as_str()];
            v.extend_from_slice(a);
            must(&v);
        };
        x(&["ip", "addr", "add", &format!("{inside}/24"), "dev", &peer]);
        x(&["ip", "link", "set", &peer, "up"]);
        x(&["ip", "link", "set", "lo", "up"]);
        Netns {
            name,
            host_if,
            host,
            inside,
        }
    }

    fn nft(&self) -> Vec<String> {
        ["ip", "netns", "exec", &self.name, "nft"]
            .iter()
            .map(|s| s.to_string())
            .collect()
    }

    fn ping(&self) -> bool {
        sh(&["ping", "-c", "1", "-W", "1", &self.inside]).0
    }

    fn list(&self, what: &[&str]) -> String {
        let mut v = vec!["ip", "netns", "exec", self.name.as_str(), "nft", "list"];
        v.extend_from_slice(what);
        must(&v)
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = sh(&["ip", "link", "del", &self.host_if]);
        let _ = sh(&["ip", "netns", "del", &self.name]);
    }
}

fn mitigation(id: u64, rules: Vec<FlowRule>) -> Mitigation {
    Mitigation {
        id,
        kind: ActionKind::Flowspec,
        target: rules[0].destination,
        rules,
        detection_id: None,
        reason: "test".into(),
        requested_by: "test".into(),
        approved_by: None,
        created: Timestamp::EPOCH,
        expires: Timestamp::EPOCH,
        state: MitigationState::Active,
        dry_run: false,
    }
}

#[test]
fn bans_and_drop_rules_work_on_real_traffic_and_leave_other_tables_alone() {
    let ns = Netns::new();
    // Someone else's table, with a rule of its own.
    let mut other = vec!["ip", "netns", "exec", ns.name.as_str(), "nft"];
    other.extend_from_slice(&["add", "table", "inet", "theirs"]);
    must(&other);
    must(&[
        "ip", "netns", "exec", &ns.name, "nft", "add", "chain", "inet", "theirs", "c",
    ]);
    must(&[
        "ip", "netns", "exec", &ns.name, "nft", "add", "rule", "inet", "theirs", "c", "counter",
        "accept",
    ]);
    let theirs_before = ns.list(&["table", "inet", "theirs"]);
    assert!(ns.ping(), "the namespace answers pings before any rule");

    let nft = Nftables::new(NftConfig {
        enabled: true,
        command: ns.nft(),
        ..NftConfig::default()
    });
    nft.ensure().unwrap();
    nft.ensure().unwrap(); // idempotent
    let host: IpAddr = ns.host.parse().unwrap();
    nft.ban(host, 120).unwrap();
    let listed = ns.list(&["set", "inet", "rampart", "banned_v4"]);
    assert!(
        listed.contains(&ns.host) && listed.contains("expires"),
        "{listed}"
    );
    let bans = nft.bans().unwrap();
    assert_eq!(bans.len(), 1);
    assert_eq!(bans[0].addr, host);
    assert!(bans[0].expires_s.is_some_and(|s| s <= 120_000), "{bans:?}");
    assert!(!ns.ping(), "a banned source's pings are dropped");
    nft.unban(host).unwrap();
    nft.unban(host).unwrap(); // already gone is fine
    assert!(ns.ping(), "unbanned, it passes again");

    // A FlowSpec-like rule: ICMP toward the namespace's address, discarded.
    let rule = FlowRule {
        destination: ns.inside.parse().unwrap(),
        source: None,
        protocols: vec![1],
        source_ports: vec![],
        destination_ports: vec![],
        packet_length: Some((20, 1500)),
        tcp_flags: None,
        fragments: false,
        action: FlowAction::Discard,
    };
    let m = mitigation(7, vec![rule.clone()]);
    nft.add_rules(&m).unwrap();
    assert_eq!(nft.rule_ids().unwrap(), [7]);
    assert!(!ns.ping(), "the drop rule drops");
    // A rule that matches other traffic (UDP to port 53) leaves pings alone.
    let udp = FlowRule {
        protocols: vec![17],
        destination_ports: vec![53],
        packet_length: None,
        ..rule
    };
    nft.add_rules(&mitigation(8, vec![udp])).unwrap();
    nft.remove_rules(7).unwrap();
    assert_eq!(nft.rule_ids().unwrap(), [8]);
    assert!(ns.ping(), "the rule is gone");
    let chain = ns.list(&["chain", "inet", "rampart", "flowspec"]);
    assert!(
        chain.contains("udp dport 53") || chain.contains("th dport 53"),
        "{chain}"
    );

    assert_eq!(ns.list(&["table", "inet", "theirs"]), theirs_before);
    nft.remove_table().unwrap();
    assert!(!ns.list(&["ruleset"]).contains("rampart"));
    assert_eq!(ns.list(&["table", "inet", "theirs"]), theirs_before);
}

#[test]
fn a_missing_nft_or_a_bad_rule_is_a_clear_error() {
    let nft = Nftables::new(NftConfig {
        command: vec!["/nonexistent/nft".into()],
        ..NftConfig::default()
    });
    let e = nft.ensure().unwrap_err().to_string();
    assert!(e.contains("cannot run"), "{e}");
    assert!(NftConfig {
        table: "bad name".into(),
        ..NftConfig::default()
    }
    .validate()
    .is_err());
}
