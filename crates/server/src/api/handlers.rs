//! The API's handlers. Query parameters are parsed here with errors that name the parameter;
//! store calls run on the blocking pool.

use super::views::detection_json;
use super::{ApiError, AppState, Caller};
use crate::metrics;
use crate::shared::{LiveEvent, OTHER_EXPORTER};
use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use futures_util::stream::Stream;
use rampart_model::{Role, Timestamp};
use rampart_store::{AuditQuery, DetectionQuery, DetectionState, Store};
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::atomic::Ordering;
use tokio_stream::wrappers::errors::BroadcastStreamRecvError;
use tokio_stream::wrappers::BroadcastStream;
use tokio_stream::StreamExt;

type Params = Query<HashMap<String, String>>;

/// Listings return this many by default, and at most `MAX_LIMIT`.
const DEFAULT_LIMIT: usize = 100;
const MAX_LIMIT: usize = 1_000;
/// `/api/v1/traffic` covers at most this long a range.
const MAX_TRAFFIC_RANGE_S: u64 = 90 * 86_400;

const OPENAPI: &str = include_str!("openapi.json");

async fn blocking<T: Send + 'static>(
    state: &AppState,
    f: impl FnOnce(&dyn Store) -> rampart_store::Result<T> + Send + 'static,
) -> Result<T, ApiError> {
    let store = state.0.store.clone();
    tokio::task::spawn_blocking(move || f(store.as_ref()))
        .await
        .map_err(|e| ApiError::internal(e.to_string()))?
        .map_err(|e| {
            state.0.shared.store_errors.fetch_add(1, Ordering::Relaxed);
            ApiError::internal(e.to_string())
        })
}

fn time_param(p: &HashMap<String, String>, name: &str) -> Result<Option<Timestamp>, ApiError> {
    p.get(name)
        .map(|v| {
            v.parse::<Timestamp>()
                .map_err(|e| ApiError::bad_request(format!("{name}: {e}")))
        })
        .transpose()
}

fn int_param(p: &HashMap<String, String>, name: &str) -> Result<Option<u64>, ApiError> {
    p.get(name)
        .map(|v| {
            v.parse::<u64>()
                .map_err(|_| ApiError::bad_request(format!("{name}: `{v}` is not a number")))
        })
        .transpose()
}

fn limit_param(p: &HashMap<String, String>) -> Result<usize, ApiError> {
    match int_param(p, "limit")? {
        None => Ok(DEFAULT_LIMIT),
        Some(n) if (1..=MAX_LIMIT as u64).contains(&n) => Ok(n as usize),
        Some(n) => Err(ApiError::bad_request(format!(
            "limit: {n} (must be 1 to {MAX_LIMIT})"
        ))),
    }
}

fn state_param(p: &HashMap<String, String>) -> Result<Option<DetectionState>, ApiError> {
    p.get("state")
        .map(|s| {
            DetectionState::parse(s).ok_or_else(|| {
                ApiError::bad_request(format!("state: `{s}` (must be active or ended)"))
            })
        })
        .transpose()
}

fn id_param(id: &str) -> Result<u64, ApiError> {
    id.parse()
        .map_err(|_| ApiError::not_found(format!("`{id}` is not an id")))
}

fn only(p: &HashMap<String, String>, allowed: &[&str]) -> Result<(), ApiError> {
    match p.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(k) => Err(ApiError::bad_request(format!(
            "unknown parameter `{k}` (this route takes: {})",
            if allowed.is_empty() {
                "none".to_string()
            } else {
                allowed.join(", ")
            }
        ))),
        None => Ok(()),
    }
}

pub async fn status(State(state): State<AppState>) -> Json<Value> {
    let shared = &state.0.shared;
    let load = |a: &std::sync::atomic::AtomicU64| a.load(Ordering::Relaxed);
    let mut detectors = serde_json::Map::new();
    if let Some((d, s)) = shared.detect_stats() {
        for x in metrics::detectors(&d, &s) {
            detectors.insert(x.name.into(), json!(x.value as u64));
        }
    }
    if let Some(f) = shared.finding_stats() {
        for x in crate::findings::metrics(&f) {
            detectors.insert(x.name.into(), json!(x.value as u64));
        }
    }
    let config = state.config();
    Json(json!({
        "version": env!("CARGO_PKG_VERSION"),
        "started": shared.started_at,
        "uptime_s": shared.started.elapsed().as_secs(),
        "now": crate::clock::now(),
        "protect": config.protect,
        "pipeline": {
            "queued_records": load(&shared.queued_records),
            "processed_records": load(&shared.processed_records),
            "dropped_records": load(&shared.dropped_records),
            "refused_datagrams": load(&shared.refused_datagrams),
            "dropped_events": load(&shared.dropped_events),
            "store_errors": load(&shared.store_errors),
            "queue_records": config.listen.queue_records,
        },
        "listeners": shared.listeners(),
        "logs": {
            "listeners": shared.log_listeners(),
            "processed_events": load(&shared.processed_log_events),
            "udp_datagrams": load(&shared.log_stats.udp_datagrams),
            "tcp_connections": load(&shared.log_stats.tcp_connections),
            "tcp_open": shared.log_stats.tcp_open.load(Ordering::Relaxed),
            "tcp_refused": load(&shared.log_stats.tcp_refused),
            "file_lines": load(&shared.log_stats.file_lines),
            "file_rotations": load(&shared.log_stats.file_rotations),
            "lines": load(&shared.log_stats.lines),
            "lines_dropped": load(&shared.log_stats.lines_dropped),
            "lines_skipped": load(&shared.log_stats.lines_skipped),
            "events": load(&shared.log_stats.events),
            "events_dropped": load(&shared.log_stats.events_dropped),
        },
        "captures": shared.captures(),
        "api": { "listen": config.api.listen },
        "notify": shared.notify_stats(),
        "detectors": detectors,
        "store": { "path": config.store.path },
        "intel": shared.intel().map(|i| i.status_json()),
    }))
}

pub async fn whoami(Extension(caller): Extension<Caller>) -> Json<Value> {
    match caller.0 {
        Some(t) => Json(json!({"name": t.name, "role": t.role, "id": t.id})),
        None => Json(json!({"name": null, "role": null})),
    }
}

pub async fn exporters(State(state): State<AppState>) -> Json<Value> {
    let now = crate::clock::now();
    let list: Vec<Value> = state
        .0
        .shared
        .exporters()
        .into_iter()
        .map(|(addr, e)| {
            let silent_s = e
                .last_seen
                .map(|t| now.as_secs().saturating_sub(t.as_secs()));
            // Healthy: heard from in the last minute, few errors and template misses.
            let health = match silent_s {
                Some(s) if s > 60 => "silent",
                _ if e.errors * 100 > e.datagrams.max(1) => "errors",
                _ if e.template_misses * 20 > e.datagrams.max(1) => "template_misses",
                _ => "ok",
            };
            let address = if addr == OTHER_EXPORTER {
                "other".to_string()
            } else {
                addr.to_string()
            };
            json!({
                "address": address,
                "health": health,
                "datagrams": e.datagrams,
                "records": e.records,
                "errors": e.errors,
                "template_misses": e.template_misses,
                "sampling_rate": e.sampling_rate,
                "formats": e.formats,
                "last_seen": e.last_seen,
                "last_error": e.last_error,
                "listen": e.listen,
            })
        })
        .collect();
    let refused: Vec<Value> = state
        .0
        .shared
        .refused()
        .into_iter()
        .map(|(a, n)| json!({"address": a, "datagrams": n}))
        .collect();
    Json(json!({ "exporters": list, "refused": refused }))
}

pub async fn traffic(
    State(state): State<AppState>,
    Query(p): Params,
) -> Result<Json<Value>, ApiError> {
    only(&p, &["from", "to", "top"])?;
    let now = crate::clock::now();
    let to = time_param(&p, "to")?.unwrap_or(now);
    let from = time_param(&p, "from")?.unwrap_or(to.saturating_sub_millis(3_600_000));
    if from > to {
        return Err(ApiError::bad_request("from is after to"));
    }
    if to.as_secs() - from.as_secs() > MAX_TRAFFIC_RANGE_S {
        return Err(ApiError::bad_request("the range is longer than 90 days"));
    }
    let top = match int_param(&p, "top")? {
        None => 10,
        Some(n @ 1..=1000) => n as usize,
        Some(n) => return Err(ApiError::bad_request(format!("top: {n} (1 to 1000)"))),
    };
    let summary = blocking(&state, move |s| s.traffic(from, to, top)).await?;
    Ok(Json(serde_json::to_value(summary).unwrap_or(Value::Null)))
}

pub async fn traffic_live(
    State(state): State<AppState>,
    Query(p): Params,
) -> Result<Json<Value>, ApiError> {
    only(&p, &["seconds"])?;
    let n = match int_param(&p, "seconds")? {
        None => 300,
        Some(n @ 1..=3600) => n as usize,
        Some(n) => return Err(ApiError::bad_request(format!("seconds: {n} (1 to 3600)"))),
    };
    Ok(Json(json!({ "seconds": state.0.shared.live(n) })))
}

fn detection_query(
    p: &HashMap<String, String>,
    kind: Option<String>,
) -> Result<DetectionQuery, ApiError> {
    Ok(DetectionQuery {
        kind,
        state: state_param(p)?,
        since: time_param(p, "since")?,
        until: time_param(p, "until")?,
        before_id: int_param(p, "before")?,
        limit: limit_param(p)?,
        with_timeline: true,
    })
}

/// A page of detections and the `before` value of the next one.
fn page(list: Vec<rampart_store::StoredDetection>, limit: usize, key: &str) -> Value {
    let next = (list.len() == limit)
        .then(|| list.last().map(|d| d.id))
        .flatten();
    let items: Vec<Value> = list.iter().map(detection_json).collect();
    json!({ key: items, "next": next })
}

pub async fn attacks(
    State(state): State<AppState>,
    Query(p): Params,
) -> Result<Json<Value>, ApiError> {
    only(&p, &["state", "since", "until", "before", "limit"])?;
    let q = detection_query(&p, Some("ddos".into()))?;
    let limit = q.limit;
    let list = blocking(&state, move |s| s.detections(&q)).await?;
    Ok(Json(page(list, limit, "attacks")))
}

pub async fn attack(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let id = id_param(&id)?;
    match blocking(&state, move |s| s.detection(id)).await? {
        Some(d) if d.kind == "ddos" => Ok(Json(detection_json(&d))),
        _ => Err(ApiError::not_found(format!("no attack {id}"))),
    }
}

pub async fn detections(
    State(state): State<AppState>,
    Query(p): Params,
) -> Result<Json<Value>, ApiError> {
    only(&p, &["kind", "state", "since", "until", "before", "limit"])?;
    let kind = p.get("kind").cloned();
    if let Some(k) = &kind {
        if k.is_empty() || k.len() > 64 || !k.bytes().all(|b| b.is_ascii_lowercase() || b == b'_') {
            return Err(ApiError::bad_request(format!("kind: `{k}` is not a kind")));
        }
    }
    let q = detection_query(&p, kind)?;
    let limit = q.limit;
    let list = blocking(&state, move |s| s.detections(&q)).await?;
    Ok(Json(page(list, limit, "detections")))
}

pub async fn detection(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let id = id_param(&id)?;
    match blocking(&state, move |s| s.detection(id)).await? {
        Some(d) => Ok(Json(detection_json(&d))),
        None => Err(ApiError::not_found(format!("no detection {id}"))),
    }
}

pub async fn audit(
    State(state): State<AppState>,
    Query(p): Params,
) -> Result<Json<Value>, ApiError> {
    only(&p, &["since", "until", "before", "limit"])?;
    let q = AuditQuery {
        since: time_param(&p, "since")?,
        until: time_param(&p, "until")?,
        before_id: int_param(&p, "before")?,
        limit: limit_param(&p)?,
    };
    let limit = q.limit;
    let list = blocking(&state, move |s| s.audit(&q)).await?;
    let next = (list.len() == limit)
        .then(|| list.last().map(|a| a.id))
        .flatten();
    Ok(Json(json!({ "audit": list, "next": next })))
}

/// Server-sent events: `traffic` each second and `detection` on every change. A client too
/// slow to keep up gets a `lagged` event saying how many it missed.
pub async fn events(
    State(state): State<AppState>,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let rx = state.0.shared.events.subscribe();
    let stream = BroadcastStream::new(rx).map(|item| {
        Ok(match item {
            Ok(e) => {
                let name = match &e {
                    LiveEvent::Traffic(_) => "traffic",
                    LiveEvent::Detection { .. } => "detection",
                    LiveEvent::Mitigation { .. } => "mitigation",
                };
                Event::default()
                    .event(name)
                    .json_data(&e)
                    .unwrap_or_else(|_| Event::default().event("error"))
            }
            Err(BroadcastStreamRecvError::Lagged(n)) => Event::default()
                .event("lagged")
                .data(format!("{{\"missed\":{n}}}")),
        })
    });
    // The stream ends when the daemon stops, so that shutdown does not wait for clients.
    let shared = state.0.shared.clone();
    let stopped = async move {
        while !shared.stopping.load(Ordering::Relaxed) {
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
    };
    let stream = futures_util::StreamExt::take_until(stream, Box::pin(stopped));
    Sse::new(stream).keep_alive(KeepAlive::default())
}

pub async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI).into_response()
}

pub async fn metrics(State(state): State<AppState>) -> Response {
    let shared = &state.0.shared;
    let mut all = vec![
        metrics::Metric {
            name: "up",
            help: "1 while the daemon runs.",
            kind: metrics::Kind::Gauge,
            labels: vec![("version", env!("CARGO_PKG_VERSION").into())],
            value: 1.0,
        },
        metrics::Metric {
            name: "uptime_seconds",
            help: "Seconds since the daemon started.",
            kind: metrics::Kind::Gauge,
            labels: vec![],
            value: shared.started.elapsed().as_secs_f64(),
        },
    ];
    all.extend(metrics::pipeline(shared));
    if let Some((d, s)) = shared.detect_stats() {
        all.extend(metrics::detectors(&d, &s));
    }
    if let Some(f) = shared.finding_stats() {
        all.extend(crate::findings::metrics(&f));
    }
    all.extend(metrics::exporters(shared));
    all.extend(metrics::captures(shared));
    if let Some(i) = shared.intel() {
        all.extend(metrics::intel(&i));
    }
    let ports: Vec<u16> = shared.listeners().iter().map(|l| l.listen.port()).collect();
    all.extend(
        tokio::task::spawn_blocking(move || metrics::socket_drops(&ports))
            .await
            .unwrap_or_default(),
    );
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        metrics::render(&all),
    )
        .into_response()
}

pub async fn tokens(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let list = blocking(&state, |s| s.tokens()).await?;
    Ok(Json(json!({ "tokens": list })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewTokenRequest {
    name: String,
    role: Role,
}

pub async fn create_token(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    body: Result<Json<NewTokenRequest>, axum::extract::rejection::JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(req) = body.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let (name, role) = (req.name.clone(), req.role);
    let made = blocking(&state, move |s| {
        s.create_token(&name, role, crate::clock::now())
    })
    .await
    .map_err(|e| ApiError::bad_request(e.message))?;
    state
        .audit(
            &caller.actor(),
            "token.create",
            &req.name,
            "ok",
            json!({"id": made.info.id, "role": role}),
        )
        .await;
    Ok((
        StatusCode::CREATED,
        Json(json!({ "token": made.info, "secret": made.secret })),
    )
        .into_response())
}

pub async fn revoke_token(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let id = id_param(&id)?;
    let done = blocking(&state, move |s| s.revoke_token(id)).await?;
    state.forget_tokens();
    state
        .audit(
            &caller.actor(),
            "token.revoke",
            &id.to_string(),
            if done { "ok" } else { "not_found" },
            json!({}),
        )
        .await;
    if done {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found(format!("no live token {id}")))
    }
}

pub async fn config(State(state): State<AppState>) -> Json<Value> {
    Json(serde_json::to_value(&*state.config()).unwrap_or(Value::Null))
}

pub async fn reload(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
) -> Result<Json<Value>, ApiError> {
    match state.reload(&caller.actor()).await {
        Ok(changed) => Ok(Json(json!({ "reloaded": true, "changed": changed }))),
        Err(e) => Err(ApiError::new(StatusCode::CONFLICT, e)),
    }
}

fn respond_gone() -> ApiError {
    ApiError::internal("the responder has stopped")
}

/// Seconds from `600`, `90s`, `10m`, `2h` or `1d`.
pub fn parse_duration(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let (num, unit) = match s.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => (&s[..i], &s[i..]),
        None => (s, "s"),
    };
    let n: u64 = num
        .parse()
        .map_err(|_| format!("`{s}` is not a duration (600, 90s, 10m, 2h, 1d)"))?;
    let mult = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3_600,
        "d" => 86_400,
        _ => return Err(format!("`{s}`: unit must be s, m, h or d")),
    };
    n.checked_mul(mult)
        .filter(|&v| (1..=30 * 86_400).contains(&v))
        .ok_or_else(|| format!("`{s}`: a duration is 1 s to 30 days"))
}

pub async fn mitigations(
    State(state): State<AppState>,
    Query(p): Params,
) -> Result<Json<Value>, ApiError> {
    only(&p, &["state", "detection", "before", "limit"])?;
    let st = match p.get("state").map(String::as_str) {
        None => None,
        Some(s @ ("active" | "pending" | "withdrawn")) => Some(s.to_string()),
        Some(s) => {
            return Err(ApiError::bad_request(format!(
                "state: `{s}` (active, pending or withdrawn)"
            )))
        }
    };
    let q = rampart_store::MitigationQuery {
        state: st,
        detection_id: int_param(&p, "detection")?,
        before_id: int_param(&p, "before")?,
        limit: limit_param(&p)?,
    };
    let limit = q.limit;
    let list = blocking(&state, move |s| s.mitigations(&q)).await?;
    let next = (list.len() == limit)
        .then(|| list.last().map(|m| m.id))
        .flatten();
    Ok(Json(json!({ "mitigations": list, "next": next })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MitigationRequest {
    kind: rampart_model::ActionKind,
    target: rampart_model::Cidr,
    /// Seconds, or a duration like "10m".
    #[serde(default)]
    ttl: Option<Value>,
}

/// Refusals say which guard refused, so that scripts and the CLI can tell.
fn refusal_error(r: &rampart_respond::Refusal) -> Response {
    (
        StatusCode::CONFLICT,
        Json(json!({"error": format!("refused by {}: {}", r.guard.as_str(), r.reason), "guard": r.guard})),
    )
        .into_response()
}

pub async fn request_mitigation(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    body: Result<Json<MitigationRequest>, axum::extract::rejection::JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(req) = body.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let ttl_s = match &req.ttl {
        None => 3_600,
        Some(Value::Number(n)) => n
            .as_u64()
            .filter(|&v| (1..=30 * 86_400).contains(&v))
            .ok_or_else(|| ApiError::bad_request("ttl: 1 s to 30 days"))?,
        Some(Value::String(s)) => {
            parse_duration(s).map_err(|e| ApiError::bad_request(format!("ttl: {e}")))?
        }
        Some(_) => {
            return Err(ApiError::bad_request(
                "ttl: seconds or a duration like \"10m\"",
            ))
        }
    };
    let (tx, rx) = tokio::sync::oneshot::channel();
    state
        .respond(crate::responder::Command::Request {
            kind: req.kind,
            target: req.target,
            ttl_s,
            by: caller.actor(),
            reply: tx,
        })
        .await?;
    match rx.await.map_err(|_| respond_gone())? {
        Ok(m) => Ok((StatusCode::CREATED, Json(json!({ "mitigation": m }))).into_response()),
        Err(r) => Ok(refusal_error(&r)),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WithdrawRequest {
    #[serde(default)]
    target: Option<rampart_model::Cidr>,
    #[serde(default)]
    id: Option<u64>,
}

pub async fn withdraw_mitigation(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    body: Result<Json<WithdrawRequest>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    let Json(req) = body.map_err(|e| ApiError::bad_request(e.body_text()))?;
    if req.target.is_none() && req.id.is_none() {
        return Err(ApiError::bad_request("give a target or an id"));
    }
    let (tx, rx) = tokio::sync::oneshot::channel();
    state
        .respond(crate::responder::Command::Withdraw {
            target: req.target,
            id: req.id,
            by: caller.actor(),
            reply: tx,
        })
        .await?;
    let gone = rx.await.map_err(|_| respond_gone())?;
    if gone.is_empty() {
        return Err(ApiError::not_found("no such active mitigation"));
    }
    Ok(Json(json!({ "withdrawn": gone })))
}

async fn decide(
    state: &AppState,
    caller: &Caller,
    id: &str,
    approve: bool,
) -> Result<Json<Value>, ApiError> {
    let id = id_param(id)?;
    let (tx, rx) = tokio::sync::oneshot::channel();
    let by = caller.actor();
    let cmd = if approve {
        crate::responder::Command::Approve { id, by, reply: tx }
    } else {
        crate::responder::Command::Reject { id, by, reply: tx }
    };
    state.respond(cmd).await?;
    match rx.await.map_err(|_| respond_gone())? {
        Ok(()) => Ok(Json(json!({ "id": id, "approved": approve }))),
        Err(e) => Err(ApiError::new(StatusCode::CONFLICT, e)),
    }
}

pub async fn approve_mitigation(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    decide(&state, &caller, &id, true).await
}

pub async fn reject_mitigation(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    decide(&state, &caller, &id, false).await
}

pub async fn bgp(State(state): State<AppState>) -> Json<Value> {
    match state.0.shared.bgp_peers() {
        Some(peers) => Json(json!({ "peers": peers })),
        None => Json(json!({ "peers": [], "note": "no [[respond.bgp.peers]] configured" })),
    }
}

/// The stored detection's JSON body, or 404.
async fn detection_body(state: &AppState, id: &str) -> Result<(u64, Value), ApiError> {
    let id = id_param(id)?;
    match blocking(state, move |s| s.detection(id)).await? {
        Some(d) => Ok((id, d.body)),
        None => Err(ApiError::not_found(format!("no detection {id}"))),
    }
}

fn intel_of(state: &AppState) -> Result<std::sync::Arc<crate::intel::IntelService>, ApiError> {
    state
        .0
        .shared
        .intel()
        .ok_or_else(|| ApiError::internal("threat intelligence is not running"))
}

fn withheld_json(e: &rampart_intel::export::Export) -> Value {
    e.withheld
        .iter()
        .map(|(addr, why)| json!({"addr": addr, "reason": why}))
        .collect()
}

/// One detection as a STIX 2.1 bundle under the sharing policy (what it withheld and why
/// in the `X-Rampart-Withheld` count; the bundle itself holds only what may go out).
pub async fn detection_stix(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let (_, body) = detection_body(&state, &id).await?;
    let intel = intel_of(&state)?;
    let e = tokio::task::spawn_blocking(move || intel.export(&body))
        .await
        .map_err(|e| ApiError::internal(e.to_string()))?;
    Ok((
        [
            (
                header::CONTENT_TYPE,
                "application/stix+json;version=2.1".to_string(),
            ),
            (
                header::HeaderName::from_static("x-rampart-withheld"),
                e.withheld.len().to_string(),
            ),
        ],
        e.to_json_pretty(),
    )
        .into_response())
}

/// Publishes what one detection lets out into the default TAXII collection.
pub async fn publish_detection(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let (id, body) = detection_body(&state, &id).await?;
    let intel = intel_of(&state)?;
    let (added, e) = tokio::task::spawn_blocking(move || intel.publish(&body))
        .await
        .map_err(|e| ApiError::internal(e.to_string()))?
        .map_err(|e| ApiError::internal(format!("{e:#}")))?;
    let out = json!({
        "detection": id,
        "indicators": e.indicators,
        "objects_added": added,
        "withheld": withheld_json(&e),
    });
    state
        .audit(
            &caller.actor(),
            "intel.publish",
            &format!("detection {id}"),
            "ok",
            out.clone(),
        )
        .await;
    Ok(Json(out))
}
