//! The nftables executor: one table of our own (`inet rampart` by default) with timed sets
//! of banned sources and a chain of FlowSpec-like drop rules, driven through `nft -j` JSON.
//! It only ever names its own table, so other tables and their rules are never touched.

use rampart_model::Cidr;
use rampart_model::{FlowAction, FlowRule, Mitigation};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::io::Write;
use std::net::IpAddr;
use std::process::{Command, Stdio};

/// `[respond.nftables]`.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct NftConfig {
    /// Install bans (and, with `flowspec`, drop rules) in the local firewall.
    pub enabled: bool,
    /// Our table, in the `inet` family; made if missing.
    pub table: String,
    /// Also install each FlowSpec mitigation as a local drop rule (for a host or a Linux
    /// router that protects itself).
    pub flowspec: bool,
    /// How to run nft (a wrapper such as `["ip", "netns", "exec", "fw", "nft"]` works).
    pub command: Vec<String>,
    /// Priority of our chains on the input and forward hooks: before the usual filter (0).
    pub priority: i32,
}

impl Default for NftConfig {
    fn default() -> Self {
        NftConfig {
            enabled: false,
            table: "rampart".into(),
            flowspec: false,
            command: vec!["nft".into()],
            priority: -10,
        }
    }
}

impl NftConfig {
    pub fn validate(&self) -> Result<(), String> {
        let ok = |s: &str| {
            !s.is_empty()
                && s.len() <= 64
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        };
        if !ok(&self.table) {
            return Err(format!(
                "table `{}` (letters, digits, _ and -, at most 64)",
                self.table
            ));
        }
        if self.command.is_empty() {
            return Err("command is empty".into());
        }
        Ok(())
    }
}

/// Why an nft call failed: the command and what nft said.
#[derive(Debug, thiserror::Error)]
#[error("nft ({command}): {message}")]
pub struct NftError {
    pub command: String,
    pub message: String,
}

/// A ban as listed from the kernel.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Ban {
    pub addr: IpAddr,
    /// Seconds left before the kernel drops it.
    pub expires_s: Option<u64>,
}

#[derive(Debug)]
pub struct Nftables {
    cfg: NftConfig,
}

const SET_V4: &str = "banned_v4";
const SET_V6: &str = "banned_v6";
const DROP_CHAIN: &str = "flowspec";

fn comment(id: u64) -> String {
    format!("rampart mitigation {id}")
}

impl Nftables {
    pub fn new(cfg: NftConfig) -> Self {
        Nftables { cfg }
    }

    fn obj(&self, kind: &str, mut fields: Value) -> Value {
        if let Value::Object(m) = &mut fields {
            m.insert("family".into(), json!("inet"));
            m.insert("table".into(), json!(self.cfg.table));
        }
        json!({ kind: fields })
    }

    /// Runs one batch of commands (atomic in the kernel: all or nothing).
    fn run(&self, commands: Vec<Value>) -> Result<Value, NftError> {
        let doc = json!({ "nftables": commands }).to_string();
        self.exec(&["-j", "-f", "-"], Some(&doc))
    }

    fn exec(&self, args: &[&str], stdin: Option<&str>) -> Result<Value, NftError> {
        let (prog, pre) = self.cfg.command.split_first().ok_or_else(|| NftError {
            command: String::new(),
            message: "no command".into(),
        })?;
        let shown = format!("{} {}", self.cfg.command.join(" "), args.join(" "));
        let err = |message: String| NftError {
            command: shown.clone(),
            message,
        };
        let mut child = Command::new(prog)
            .args(pre)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| err(format!("cannot run: {e}")))?;
        if let (Some(text), Some(mut w)) = (stdin, child.stdin.take()) {
            w.write_all(text.as_bytes())
                .map_err(|e| err(format!("writing the batch: {e}")))?;
        }
        let out = child
            .wait_with_output()
            .map_err(|e| err(format!("waiting: {e}")))?;
        if !out.status.success() {
            return Err(err(String::from_utf8_lossy(&out.stderr).trim().to_string()));
        }
        let text = String::from_utf8_lossy(&out.stdout);
        if text.trim().is_empty() {
            return Ok(Value::Null);
        }
        serde_json::from_str(&text).map_err(|e| err(format!("unreadable answer: {e}")))
    }

    /// Makes our table, sets and chains (idempotent). Drop rules are flushed: the caller
    /// re-installs the active ones.
    pub fn ensure(&self) -> Result<(), NftError> {
        let prio = self.cfg.priority;
        let mut cmds = vec![
            json!({"add": {"table": {"family": "inet", "name": self.cfg.table}}}),
            json!({"add": self.obj("set", json!({"name": SET_V4, "type": "ipv4_addr", "flags": ["timeout"]}))}),
            json!({"add": self.obj("set", json!({"name": SET_V6, "type": "ipv6_addr", "flags": ["timeout"]}))}),
            json!({"add": self.obj("chain", json!({"name": DROP_CHAIN}))}),
        ];
        for hook in ["input", "forward"] {
            cmds.push(json!({"add": self.obj("chain", json!({
                "name": hook, "type": "filter", "hook": hook, "prio": prio, "policy": "accept"
            }))}));
            cmds.push(json!({"flush": self.obj("chain", json!({"name": hook}))}));
            for (proto, set) in [("ip", SET_V4), ("ip6", SET_V6)] {
                cmds.push(json!({"add": self.obj("rule", json!({"chain": hook, "expr": [
                    {"match": {"op": "==", "left": {"payload": {"protocol": proto, "field": "saddr"}}, "right": format!("@{set}")}},
                    {"counter": null},
                    {"drop": null}
                ]}))}));
            }
            cmds.push(
                json!({"add": self.obj("rule", json!({"chain": hook, "expr": [
                    {"jump": {"target": DROP_CHAIN}}
                ]}))}),
            );
        }
        cmds.push(json!({"flush": self.obj("chain", json!({"name": DROP_CHAIN}))}));
        self.run(cmds).map(|_| ())
    }

    fn set_of(addr: IpAddr) -> &'static str {
        if addr.is_ipv4() {
            SET_V4
        } else {
            SET_V6
        }
    }

    /// Bans a source for `timeout_s` seconds (the kernel forgets it after).
    pub fn ban(&self, addr: IpAddr, timeout_s: u64) -> Result<(), NftError> {
        let addr = addr.to_canonical();
        self.run(vec![json!({"add": self.obj("element", json!({
            "name": Self::set_of(addr),
            "elem": [{"elem": {"val": addr.to_string(), "timeout": timeout_s.max(1)}}]
        }))})])
        .map(|_| ())
    }

    pub fn unban(&self, addr: IpAddr) -> Result<(), NftError> {
        let addr = addr.to_canonical();
        match self.run(vec![json!({"delete": self.obj("element", json!({
            "name": Self::set_of(addr), "elem": [addr.to_string()]
        }))})]) {
            Ok(_) => Ok(()),
            // Already gone (expired): that is what was wanted.
            Err(e) if e.message.contains("No such file") => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Banned sources, from the kernel's sets.
    pub fn bans(&self) -> Result<Vec<Ban>, NftError> {
        let mut out = Vec::new();
        for set in [SET_V4, SET_V6] {
            let v = self.exec(&["-j", "list", "set", "inet", &self.cfg.table, set], None)?;
            for item in v["nftables"].as_array().into_iter().flatten() {
                for e in item["set"]["elem"].as_array().into_iter().flatten() {
                    let (val, expires) = match e.get("elem") {
                        Some(inner) => (&inner["val"], inner["expires"].as_u64()),
                        None => (e, None),
                    };
                    if let Some(addr) = val.as_str().and_then(|s| s.parse().ok()) {
                        out.push(Ban {
                            addr,
                            expires_s: expires,
                        });
                    }
                }
            }
        }
        Ok(out)
    }

    /// Installs a mitigation's FlowSpec rules as drop rules, tagged with its id.
    pub fn add_rules(&self, m: &Mitigation) -> Result<(), NftError> {
        let cmds: Vec<Value> = m
            .rules
            .iter()
            .filter_map(|r| rule_expr(r).map(|expr| (r, expr)))
            .map(|(_, expr)| {
                json!({"add": self.obj("rule", json!({
                    "chain": DROP_CHAIN, "comment": comment(m.id), "expr": expr
                }))})
            })
            .collect();
        if cmds.is_empty() {
            return Ok(());
        }
        self.run(cmds).map(|_| ())
    }

    /// Removes the drop rules of a mitigation (found by their comment).
    pub fn remove_rules(&self, id: u64) -> Result<(), NftError> {
        let v = self.exec(
            &["-j", "list", "chain", "inet", &self.cfg.table, DROP_CHAIN],
            None,
        )?;
        let want = comment(id);
        let cmds: Vec<Value> = v["nftables"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|item| item.get("rule"))
            .filter(|r| r["comment"].as_str() == Some(want.as_str()))
            .filter_map(|r| r["handle"].as_u64())
            .map(|h| json!({"delete": self.obj("rule", json!({"chain": DROP_CHAIN, "handle": h}))}))
            .collect();
        if cmds.is_empty() {
            return Ok(());
        }
        self.run(cmds).map(|_| ())
    }

    /// Drop rules installed now: (mitigation id, rule count).
    pub fn rule_ids(&self) -> Result<Vec<u64>, NftError> {
        let v = self.exec(
            &["-j", "list", "chain", "inet", &self.cfg.table, DROP_CHAIN],
            None,
        )?;
        Ok(v["nftables"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|item| item.get("rule"))
            .filter_map(|r| {
                r["comment"]
                    .as_str()?
                    .strip_prefix("rampart mitigation ")?
                    .parse()
                    .ok()
            })
            .collect())
    }

    /// Removes our table and everything in it.
    pub fn remove_table(&self) -> Result<(), NftError> {
        self.run(vec![
            json!({"delete": {"table": {"family": "inet", "name": self.cfg.table}}}),
        ])
        .map(|_| ())
    }
}

fn addr_match(field: &str, c: &Cidr) -> Value {
    let proto = if c.addr().is_ipv4() { "ip" } else { "ip6" };
    let right = if c.is_host() {
        json!(c.addr().to_string())
    } else {
        json!({"prefix": {"addr": c.addr().to_string(), "len": c.prefix_len()}})
    };
    json!({"match": {"op": "==", "left": {"payload": {"protocol": proto, "field": field}}, "right": right}})
}

fn one_or_set(v: &[u16]) -> Value {
    match v {
        [one] => json!(one),
        many => json!({"set": many}),
    }
}

/// The nft expression of a rule; `None` for actions a local firewall cannot take (a VRF
/// redirect).
pub fn rule_expr(r: &FlowRule) -> Option<Vec<Value>> {
    let mut e = vec![addr_match("daddr", &r.destination)];
    if let Some(src) = &r.source {
        e.push(addr_match("saddr", src));
    }
    match r.protocols.as_slice() {
        [] => {}
        [p] => e.push(json!({"match": {"op": "==", "left": {"meta": {"key": "l4proto"}}, "right": p}})),
        ps => e.push(json!({"match": {"op": "==", "left": {"meta": {"key": "l4proto"}}, "right": {"set": ps}}})),
    }
    if !r.source_ports.is_empty() {
        e.push(json!({"match": {"op": "==", "left": {"payload": {"protocol": "th", "field": "sport"}}, "right": one_or_set(&r.source_ports)}}));
    }
    if !r.destination_ports.is_empty() {
        e.push(json!({"match": {"op": "==", "left": {"payload": {"protocol": "th", "field": "dport"}}, "right": one_or_set(&r.destination_ports)}}));
    }
    if let Some(f) = r.tcp_flags {
        e.push(json!({"match": {"op": "==",
            "left": {"&": [{"payload": {"protocol": "tcp", "field": "flags"}}, f.set | f.unset]},
            "right": f.set}}));
    }
    if let Some((lo, hi)) = r.packet_length {
        e.push(json!({"match": {"op": "==", "left": {"meta": {"key": "length"}}, "right": {"range": [lo, hi]}}}));
    }
    if r.fragments {
        e.push(json!({"match": {"op": "!=",
            "left": {"&": [{"payload": {"protocol": "ip", "field": "frag-off"}}, 0x3fff]},
            "right": 0}}));
    }
    e.push(json!({"counter": null}));
    match r.action {
        FlowAction::Discard => e.push(json!({"drop": null})),
        FlowAction::RateLimit { bytes_per_s } => {
            e.push(json!({"limit": {"rate": bytes_per_s.max(1.0) as u64, "rate_unit": "bytes", "per": "second", "inv": true}}));
            e.push(json!({"drop": null}));
        }
        FlowAction::Mark { dscp } => {
            let proto = if r.destination.addr().is_ipv4() {
                "ip"
            } else {
                "ip6"
            };
            e.push(json!({"mangle": {"key": {"payload": {"protocol": proto, "field": "dscp"}}, "value": dscp}}));
        }
        FlowAction::Redirect { .. } => return None,
    }
    Some(e)
}
