//! The decisions API of CrowdSec's local API, so that the bouncers people already run
//! (crowdsec-firewall-bouncer, crowdsec-custom-bouncer, the nginx and HAProxy ones) enforce
//! Rampart's bans. A bouncer authenticates with `X-Api-Key: TOKEN` (a Rampart token).

use crate::api::{ApiError, AppState, Caller};
use axum::extract::{Query, State};
use axum::{Extension, Json};
use rampart_model::{ActionKind, Cidr, Mitigation};
use rampart_store::MitigationQuery;
use serde::Serialize;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;

/// Bouncers remembered at once; the least recently seen is forgotten (its next poll is
/// answered as a startup).
const MAX_BOUNCERS: usize = 1_024;

/// One decision, shaped as CrowdSec's `models.Decision`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Decision {
    pub id: u64,
    pub origin: &'static str,
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// `Ip` or `Range`.
    pub scope: &'static str,
    pub value: String,
    /// Time left, in Go's duration syntax ("3h59m12s").
    pub duration: String,
    pub scenario: String,
    pub until: String,
}

/// What each bouncer (by token id) was last sent, with when it last polled.
#[derive(Debug, Default)]
pub struct Bouncers {
    known: HashMap<u64, (BTreeMap<u64, Decision>, u64)>,
    polls: u64,
}

fn go_duration(secs: u64) -> String {
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    if h > 0 {
        format!("{h}h{m}m{s}s")
    } else if m > 0 {
        format!("{m}m{s}s")
    } else {
        format!("{s}s")
    }
}

fn decision(m: &Mitigation, now_s: u64) -> Decision {
    Decision {
        id: m.id,
        origin: "rampart",
        kind: "ban",
        scope: if m.target.is_host() { "Ip" } else { "Range" },
        value: if m.target.is_host() {
            m.target.addr().to_string()
        } else {
            m.target.to_string()
        },
        duration: go_duration(m.expires.as_secs().saturating_sub(now_s).max(1)),
        scenario: format!("rampart: {}", m.reason),
        until: m.expires.to_string(),
    }
}

/// Bans in force now (announced ones: a dry run bans nothing).
async fn active_bans(state: &AppState) -> Result<BTreeMap<u64, Decision>, ApiError> {
    let store = state.0.store.clone();
    let list = tokio::task::spawn_blocking(move || {
        store.mitigations(&MitigationQuery {
            state: Some("active".into()),
            limit: 10_000,
            ..Default::default()
        })
    })
    .await
    .map_err(|e| ApiError::internal(e.to_string()))?
    .map_err(|e| ApiError::internal(e.to_string()))?;
    let now = crate::clock::now().as_secs();
    Ok(list
        .iter()
        .filter(|m| m.kind == ActionKind::Ban && !m.dry_run)
        .map(|m| (m.id, decision(m, now)))
        .collect())
}

fn wants(p: &HashMap<String, String>, d: &Decision) -> bool {
    // Bouncers ask for the scopes they enforce ("ip", "range"), case-insensitively.
    p.get("scopes")
        .is_none_or(|s| s.split(',').any(|x| x.trim().eq_ignore_ascii_case(d.scope)))
}

/// `GET /v1/decisions/stream?startup=true|false`: on startup every ban in force as new; then
/// what was added and what went away since this bouncer's last poll.
pub async fn stream(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Query(p): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let id = caller.0.as_ref().map_or(0, |t| t.id);
    let startup = p.get("startup").is_some_and(|v| v == "true");
    let now: BTreeMap<u64, Decision> = active_bans(&state)
        .await?
        .into_iter()
        .filter(|(_, d)| wants(&p, d))
        .collect();
    let mut b = state.0.bouncers.lock().unwrap_or_else(|e| e.into_inner());
    b.polls += 1;
    let polls = b.polls;
    let known = match b.known.remove(&id) {
        Some((k, _)) if !startup => k,
        _ => BTreeMap::new(),
    };
    let new: Vec<&Decision> = now
        .values()
        .filter(|d| !known.contains_key(&d.id))
        .collect();
    let deleted: Vec<&Decision> = known
        .values()
        .filter(|d| !now.contains_key(&d.id))
        .collect();
    let body = serde_json::json!({
        "new": if new.is_empty() { Value::Null } else { serde_json::to_value(&new).unwrap_or_default() },
        "deleted": if deleted.is_empty() { Value::Null } else { serde_json::to_value(&deleted).unwrap_or_default() },
    });
    if b.known.len() >= MAX_BOUNCERS {
        if let Some(oldest) = b
            .known
            .iter()
            .min_by_key(|(_, (_, at))| *at)
            .map(|(k, _)| *k)
        {
            b.known.remove(&oldest);
        }
    }
    b.known.insert(id, (now, polls));
    Ok(Json(body))
}

/// `GET /v1/decisions?ip=|range=|value=&scope=&type=`: bans in force matching; `null` when
/// none, as CrowdSec answers.
pub async fn list(
    State(state): State<AppState>,
    Query(p): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let addr: Option<IpAddr> = p
        .get("ip")
        .map(|v| {
            v.parse()
                .map_err(|_| ApiError::bad_request(format!("ip: `{v}` is not an address")))
        })
        .transpose()?;
    let range: Option<Cidr> = p
        .get("range")
        .map(|v| {
            v.parse()
                .map_err(|_| ApiError::bad_request(format!("range: `{v}` is not a CIDR")))
        })
        .transpose()?;
    if p.get("type").is_some_and(|t| t != "ban") {
        return Ok(Json(Value::Null));
    }
    let matches = |d: &Decision| {
        let target: Option<Cidr> = d.value.parse().ok();
        let by_ip = addr.is_none_or(|a| target.is_some_and(|t| t.contains(a)));
        let by_range = range.is_none_or(|r| target.is_some_and(|t| r.contains(t.addr())));
        let by_value = p.get("value").is_none_or(|v| *v == d.value);
        by_ip && by_range && by_value && wants(&p, d)
    };
    let found: Vec<Decision> = active_bans(&state)
        .await?
        .into_values()
        .filter(|d| matches(d))
        .collect();
    Ok(Json(if found.is_empty() {
        Value::Null
    } else {
        serde_json::to_value(found).unwrap_or_default()
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_go_writes_them() {
        assert_eq!(go_duration(5), "5s");
        assert_eq!(go_duration(65), "1m5s");
        assert_eq!(go_duration(3 * 3600 + 59 * 60 + 12), "3h59m12s");
    }
}
