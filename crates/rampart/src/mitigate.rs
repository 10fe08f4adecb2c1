//! `rampart mitigate`: an operator acting by hand, through the running daemon's API, so that
//! every request passes the same guards and lands in the same audit log as the policy's.

use anyhow::{anyhow, bail, Context, Result};
use clap::Subcommand;
use rampart_model::Cidr;
use serde_json::{json, Value};
use std::time::Duration;

/// Exit status when a guard refused the request.
pub const EXIT_REFUSED: u8 = 3;

#[derive(Debug, Subcommand)]
pub enum MitigateAction {
    /// Announce a blackhole, FlowSpec rule, diversion or ban for an address or prefix.
    Announce {
        #[arg(value_parser = ["blackhole", "flowspec", "divert", "ban"])]
        kind: String,
        target: Cidr,
        /// How long: seconds, or 90s, 10m, 2h, 1d.
        #[arg(long, default_value = "1h")]
        ttl: String,
    },
    /// Withdraw every mitigation of a target, or one by its id.
    Withdraw {
        target: Option<Cidr>,
        #[arg(long)]
        id: Option<u64>,
    },
    /// List mitigations.
    List {
        #[arg(long, value_parser = ["active", "pending", "withdrawn"])]
        state: Option<String>,
    },
    /// Approve a mitigation waiting for approval (manual mode).
    Approve { id: u64 },
    /// Reject a mitigation waiting for approval.
    Reject { id: u64 },
}

/// A refusal, told apart so that the exit status can say so.
#[derive(Debug)]
pub struct Refused(pub String);

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Refused {}

struct Api {
    base: String,
    token: String,
    agent: ureq::Agent,
}

impl Api {
    fn call(&self, method: &str, path: &str, body: Option<Value>) -> Result<(u16, Value)> {
        let url = format!("{}{path}", self.base.trim_end_matches('/'));
        let auth = format!("Bearer {}", self.token);
        let result = match (method, body) {
            ("GET", _) => self.agent.get(&url).header("Authorization", &auth).call(),
            (_, Some(b)) => self
                .agent
                .post(&url)
                .header("Authorization", &auth)
                .send_json(b),
            (_, None) => self
                .agent
                .post(&url)
                .header("Authorization", &auth)
                .send_empty(),
        };
        let mut resp = result.with_context(|| format!("cannot reach the daemon at {url}"))?;
        let status = resp.status().as_u16();
        let text = resp
            .body_mut()
            .with_config()
            .limit(16 << 20)
            .read_to_string()
            .with_context(|| format!("{url}: reading the answer"))?;
        let v: Value = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Ok((status, v))
    }
}

fn error_text(v: &Value) -> String {
    v["error"]
        .as_str()
        .map_or_else(|| v.to_string(), String::from)
}

fn line(m: &Value) -> String {
    format!(
        "{:>5}  {:<9} {:<20} {:<9} {}{}  expires {}  {}",
        m["id"],
        m["kind"].as_str().unwrap_or("?"),
        m["target"].as_str().unwrap_or("?"),
        m["state"].as_str().unwrap_or("?"),
        if m["dry_run"] == true { "dry-run " } else { "" },
        m["requested_by"].as_str().unwrap_or(""),
        m["expires"].as_str().unwrap_or("?"),
        m["reason"].as_str().unwrap_or("")
    )
}

pub fn run(action: MitigateAction, api: &str, token: Option<String>) -> Result<()> {
    let token = token
        .or_else(|| std::env::var("RAMPART_TOKEN").ok())
        .filter(|t| !t.is_empty())
        .ok_or_else(|| {
            anyhow!(
                "no token: pass --token or set RAMPART_TOKEN (rampart token create --role analyst)"
            )
        })?;
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into();
    let api = Api {
        base: api.to_string(),
        token,
        agent,
    };
    match action {
        MitigateAction::Announce { kind, target, ttl } => {
            let (status, v) = api.call(
                "POST",
                "/api/v1/mitigations",
                Some(json!({"kind": kind, "target": target, "ttl": ttl})),
            )?;
            match status {
                201 => println!("{}", line(&v["mitigation"])),
                409 => return Err(Refused(error_text(&v)).into()),
                _ => bail!("{} ({status})", error_text(&v)),
            }
        }
        MitigateAction::Withdraw { target, id } => {
            if target.is_none() && id.is_none() {
                bail!("give a target or --id");
            }
            let (status, v) = api.call(
                "POST",
                "/api/v1/mitigations/withdraw",
                Some(json!({"target": target, "id": id})),
            )?;
            if status != 200 {
                bail!("{} ({status})", error_text(&v));
            }
            for m in v["withdrawn"].as_array().into_iter().flatten() {
                println!("withdrawn: {}", line(m));
            }
        }
        MitigateAction::List { state } => {
            let path = match state {
                Some(s) => format!("/api/v1/mitigations?state={s}"),
                None => "/api/v1/mitigations".into(),
            };
            let (status, v) = api.call("GET", &path, None)?;
            if status != 200 {
                bail!("{} ({status})", error_text(&v));
            }
            let list = v["mitigations"].as_array().cloned().unwrap_or_default();
            if list.is_empty() {
                println!("no mitigations");
            }
            for m in &list {
                println!("{}", line(m));
            }
        }
        MitigateAction::Approve { id } | MitigateAction::Reject { id } => {
            let verb = if matches!(action, MitigateAction::Approve { .. }) {
                "approve"
            } else {
                "reject"
            };
            let (status, v) =
                api.call("POST", &format!("/api/v1/mitigations/{id}/{verb}"), None)?;
            match status {
                200 => println!("mitigation {id}: {verb}d"),
                409 => return Err(Refused(error_text(&v)).into()),
                _ => bail!("{} ({status})", error_text(&v)),
            }
        }
    }
    Ok(())
}
