//! The HTTP side of the daemon: the API under `/api/v1/`, `/metrics` and the web console.
//! Every route is listed once in [`ROUTES`] with the role it needs; one middleware enforces
//! that table on every request and refuses any route missing from it. The TAXII routes
//! merged beside these have their own table, `rampart_intel::taxii::server::ROUTES`.

mod handlers;
pub mod views;

use crate::engine::Control;
use crate::shared::Shared;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use rampart_config::Config;
use rampart_model::Role;
use rampart_store::{hash_secret, AuditEntry, Store, TokenInfo};
use serde_json::json;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

/// One route and the least role that may use it. `None`: open to anyone (the console's
/// static files, which hold no data).
#[derive(Clone, Debug)]
pub struct RouteSpec {
    pub method: Method,
    pub path: &'static str,
    pub role: Option<Role>,
    pub summary: &'static str,
}

const fn route(
    method: Method,
    path: &'static str,
    role: Option<Role>,
    summary: &'static str,
) -> RouteSpec {
    RouteSpec {
        method,
        path,
        role,
        summary,
    }
}

const VIEWER: Option<Role> = Some(Role::Viewer);
const ANALYST: Option<Role> = Some(Role::Analyst);
const ADMIN: Option<Role> = Some(Role::Admin);

/// Every route the daemon serves. `/metrics` is listed as viewer; `api.open_metrics` opens it.
pub const ROUTES: &[RouteSpec] = &[
    route(Method::GET, "/", None, "the web console"),
    route(
        Method::GET,
        "/assets/{file}",
        None,
        "the console's scripts and styles",
    ),
    route(Method::GET, "/metrics", VIEWER, "Prometheus metrics"),
    route(
        Method::GET,
        "/api/v1/status",
        VIEWER,
        "version, uptime, pipeline counters",
    ),
    route(
        Method::GET,
        "/api/v1/whoami",
        VIEWER,
        "the token's name and role",
    ),
    route(
        Method::GET,
        "/api/v1/exporters",
        VIEWER,
        "each exporter with its counters",
    ),
    route(
        Method::GET,
        "/api/v1/traffic",
        VIEWER,
        "totals, per-minute series and top protected hosts over ?from=&to=",
    ),
    route(
        Method::GET,
        "/api/v1/traffic/live",
        VIEWER,
        "per-second traffic of the last ?seconds=",
    ),
    route(
        Method::GET,
        "/api/v1/attacks",
        VIEWER,
        "active and recent attacks",
    ),
    route(
        Method::GET,
        "/api/v1/attacks/{id}",
        VIEWER,
        "one attack with its timeline",
    ),
    route(
        Method::GET,
        "/api/v1/detections",
        VIEWER,
        "detections of every kind",
    ),
    route(
        Method::GET,
        "/api/v1/detections/{id}",
        VIEWER,
        "one detection with its timeline",
    ),
    route(
        Method::GET,
        "/api/v1/detections/{id}/stix",
        VIEWER,
        "one detection as a STIX 2.1 bundle under the sharing policy",
    ),
    route(
        Method::POST,
        "/api/v1/detections/{id}/publish",
        ANALYST,
        "publish what one detection lets out into the default TAXII collection",
    ),
    route(Method::GET, "/api/v1/audit", VIEWER, "the audit log"),
    route(
        Method::GET,
        "/api/v1/events",
        VIEWER,
        "server-sent events: traffic each second, detections as they change",
    ),
    route(
        Method::GET,
        "/api/v1/openapi.json",
        VIEWER,
        "this API's OpenAPI document",
    ),
    route(
        Method::GET,
        "/api/v1/bgp",
        VIEWER,
        "BGP peers: session state, uptime, counters, last error",
    ),
    route(
        Method::GET,
        "/api/v1/mitigations",
        VIEWER,
        "mitigations: active, pending approval, withdrawn",
    ),
    route(
        Method::POST,
        "/api/v1/mitigations",
        ANALYST,
        "announce a mitigation by hand (same guards as the policy)",
    ),
    route(
        Method::POST,
        "/api/v1/mitigations/withdraw",
        ANALYST,
        "withdraw a mitigation by id or target",
    ),
    route(
        Method::POST,
        "/api/v1/mitigations/{id}/approve",
        ANALYST,
        "approve a pending mitigation (manual mode)",
    ),
    route(
        Method::POST,
        "/api/v1/mitigations/{id}/reject",
        ANALYST,
        "reject a pending mitigation",
    ),
    route(
        Method::GET,
        "/v1/decisions/stream",
        VIEWER,
        "CrowdSec bouncer API: bans to enforce, as changes since the bouncer's last poll",
    ),
    route(
        Method::GET,
        "/v1/decisions",
        VIEWER,
        "CrowdSec bouncer API: bans in force, for an address or range",
    ),
    route(
        Method::GET,
        "/api/v1/tokens",
        ADMIN,
        "API tokens (no secrets)",
    ),
    route(Method::POST, "/api/v1/tokens", ADMIN, "make a token"),
    route(
        Method::DELETE,
        "/api/v1/tokens/{id}",
        ADMIN,
        "revoke a token",
    ),
    route(
        Method::GET,
        "/api/v1/config",
        ADMIN,
        "the configuration in force",
    ),
    route(
        Method::POST,
        "/api/v1/config/reload",
        ADMIN,
        "re-read the configuration (as SIGHUP does)",
    ),
];

/// Reads the configuration again from where it first came from (file, --set, --protect).
pub type ReloadFn = Box<dyn Fn() -> anyhow::Result<Config> + Send + Sync>;

/// How long a checked token is believed before the store is asked again (revocation takes
/// at most this long).
const TOKEN_CACHE_TTL: Duration = Duration::from_secs(5);
const TOKEN_CACHE_MAX: usize = 1_024;

pub struct AppInner {
    pub store: Arc<dyn Store>,
    pub shared: Arc<Shared>,
    pub config: RwLock<Arc<Config>>,
    reload: Option<ReloadFn>,
    control: Mutex<std::sync::mpsc::Sender<Control>>,
    respond: tokio::sync::mpsc::Sender<crate::responder::Command>,
    /// What each bouncer (by token id) was last told, for the decision stream's changes.
    pub bouncers: Mutex<crate::decisions::Bouncers>,
    tokens: Mutex<HashMap<[u8; 32], (TokenInfo, Instant)>>,
}

impl std::fmt::Debug for AppInner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppInner").finish_non_exhaustive()
    }
}

/// What every handler gets.
#[derive(Clone, Debug)]
pub struct AppState(pub Arc<AppInner>);

impl AppState {
    pub fn new(
        store: Arc<dyn Store>,
        shared: Arc<Shared>,
        config: Config,
        reload: Option<ReloadFn>,
        control: std::sync::mpsc::Sender<Control>,
        respond: tokio::sync::mpsc::Sender<crate::responder::Command>,
    ) -> Self {
        AppState(Arc::new(AppInner {
            store,
            shared,
            config: RwLock::new(Arc::new(config)),
            reload,
            control: Mutex::new(control),
            respond,
            bouncers: Mutex::new(Default::default()),
            tokens: Mutex::new(HashMap::new()),
        }))
    }

    pub fn config(&self) -> Arc<Config> {
        self.0
            .config
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Re-reads the configuration and applies what can change while running. Keys that
    /// need a restart are named in the error, and nothing is applied then.
    pub async fn reload(&self, actor: &str) -> Result<Vec<&'static str>, String> {
        let inner = self.0.clone();
        let result = tokio::task::spawn_blocking(move || -> Result<Vec<&'static str>, String> {
            let reload = inner
                .reload
                .as_ref()
                .ok_or("this daemon was started without a configuration source")?;
            let new = reload().map_err(|e| format!("{e:#}"))?;
            let old = inner
                .config
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .clone();
            let mut restart = Vec::new();
            if new.listen.flow != old.listen.flow
                || new.listen.sockets_per_port != old.listen.sockets_per_port
                || new.listen.recv_buffer_bytes != old.listen.recv_buffer_bytes
                || new.listen.queue_records != old.listen.queue_records
                || new.listen.max_exporters != old.listen.max_exporters
                || new.listen.interfaces != old.listen.interfaces
                || new.listen.capture_threads != old.listen.capture_threads
                || new.listen.capture_block_bytes != old.listen.capture_block_bytes
                || new.listen.capture_blocks != old.listen.capture_blocks
                || new.listen.capture_promiscuous != old.listen.capture_promiscuous
            {
                restart.push("listen");
            }
            if new.api != old.api {
                restart.push("api");
            }
            if new.store.path != old.store.path {
                restart.push("store.path");
            }
            let (nd, od) = (&new.detect.ddos, &old.detect.ddos);
            if nd.tick_ms != od.tick_ms
                || nd.hash_seed != od.hash_seed
                || nd.max_hosts != od.max_hosts
                || nd.max_prefixes != od.max_prefixes
                || nd.prefix_len_v4 != od.prefix_len_v4
                || nd.prefix_len_v6 != od.prefix_len_v6
                || nd.baseline.max_baselines != od.baseline.max_baselines
            {
                restart.push("detect.ddos table settings (tick_ms, sizes, seed, prefix lengths)");
            }
            let (ns, os) = (&new.detect.scan, &old.detect.scan);
            if ns.window_s != os.window_s
                || ns.hash_seed != os.hash_seed
                || ns.max_sources != os.max_sources
                || ns.max_pairs != os.max_pairs
            {
                restart.push("detect.scan table settings (window_s, sizes, seed)");
            }
            if !restart.is_empty() {
                return Err(format!(
                    "not reloaded: {} changed, which needs a restart",
                    restart.join(", ")
                ));
            }
            let mut changed = Vec::new();
            if new.protect != old.protect {
                changed.push("protect");
            }
            if new.detect != old.detect {
                changed.push("detect");
            }
            if new.listen.exporters != old.listen.exporters {
                changed.push("listen.exporters");
            }
            if new.store != old.store {
                changed.push("store");
            }
            if new.respond != old.respond {
                changed.push("respond");
            }
            if new.intel.taxii != old.intel.taxii {
                return Err("not reloaded: intel.taxii changed, which needs a restart".into());
            }
            if new.intel != old.intel {
                changed.push("intel");
                if let Some(i) = inner.shared.intel() {
                    i.reconfigure(&new);
                }
            }
            inner
                .shared
                .set_allowed_exporters(crate::prefixes::PrefixSet::new(&new.listen.exporters));
            inner
                .control
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .send(Control::Reconfigure(Box::new(new.clone())))
                .map_err(|_| "the detection engine has stopped".to_string())?;
            inner
                .respond
                .try_send(crate::responder::Command::Reconfigure(Box::new(
                    new.respond.clone(),
                )))
                .map_err(|_| "the responder is busy or has stopped; try again".to_string())?;
            *inner.config.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(new);
            Ok(changed)
        })
        .await
        .map_err(|e| e.to_string())?;
        let (outcome, detail) = match &result {
            Ok(changed) => ("ok", json!({ "changed": changed })),
            Err(e) => ("refused", json!({ "error": e })),
        };
        self.audit(actor, "config.reload", "configuration", outcome, detail)
            .await;
        result
    }

    /// Hands a command to the responder.
    pub async fn respond(&self, c: crate::responder::Command) -> Result<(), ApiError> {
        self.0
            .respond
            .send(c)
            .await
            .map_err(|_| ApiError::internal("the responder has stopped"))
    }

    /// Appends to the audit log; a failure is logged and counted, never fatal.
    pub async fn audit(
        &self,
        actor: &str,
        action: &str,
        subject: &str,
        result: &str,
        detail: serde_json::Value,
    ) {
        let entry = AuditEntry {
            at: crate::clock::now(),
            actor: actor.into(),
            action: action.into(),
            subject: subject.into(),
            detection_id: None,
            result: result.into(),
            detail,
        };
        let store = self.0.store.clone();
        let r = tokio::task::spawn_blocking(move || store.append_audit(&entry)).await;
        if !matches!(r, Ok(Ok(_))) {
            self.0
                .shared
                .store_errors
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            tracing::warn!(action, "could not write the audit log");
        }
    }

    /// The token behind a bearer secret, from the cache or the store.
    pub(crate) async fn token(&self, secret: &str) -> Result<Option<TokenInfo>, ApiError> {
        let hash = hash_secret(secret);
        {
            let cache = self.0.tokens.lock().unwrap_or_else(|e| e.into_inner());
            if let Some((t, at)) = cache.get(&hash) {
                if at.elapsed() < TOKEN_CACHE_TTL {
                    return Ok(Some(t.clone()));
                }
            }
        }
        let store = self.0.store.clone();
        let secret = secret.to_string();
        let found =
            tokio::task::spawn_blocking(move || store.authenticate(&secret, crate::clock::now()))
                .await
                .map_err(|e| ApiError::internal(e.to_string()))?
                .map_err(|e| ApiError::internal(e.to_string()))?;
        let mut cache = self.0.tokens.lock().unwrap_or_else(|e| e.into_inner());
        match &found {
            Some(t) => {
                if cache.len() >= TOKEN_CACHE_MAX {
                    cache.clear();
                }
                cache.insert(hash, (t.clone(), Instant::now()));
            }
            None => {
                cache.remove(&hash);
            }
        }
        Ok(found)
    }

    /// Forgets cached tokens (after a revocation through the API).
    pub fn forget_tokens(&self) {
        self.0
            .tokens
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }
}

/// An error as the API returns it: a status and `{"error": "..."}`.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError {
            status,
            message: message.into(),
        }
    }
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, message)
    }
    pub fn internal(message: impl Into<String>) -> Self {
        let message = message.into();
        tracing::warn!(error = %message, "API request failed");
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut r = (self.status, Json(json!({ "error": self.message }))).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            r.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"rampart\""),
            );
        }
        r
    }
}

/// Who made a request: set by the auth middleware for the handlers.
#[derive(Clone, Debug)]
pub struct Caller(pub Option<TokenInfo>);

impl Caller {
    /// How the audit log names this caller.
    pub fn actor(&self) -> String {
        match &self.0 {
            Some(t) => format!("token:{}", t.name),
            None => "anonymous".into(),
        }
    }
}

fn spec_for(method: &Method, path: &str) -> Option<&'static RouteSpec> {
    ROUTES
        .iter()
        .find(|r| r.method == *method && r.path == path)
}

/// Checks the bearer token against the route's role. Fails closed: a route missing from
/// [`ROUTES`] is refused.
async fn authorize(
    State(state): State<AppState>,
    matched: Option<MatchedPath>,
    mut req: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let path = matched.as_ref().map_or("", |m| m.as_str());
    let spec = spec_for(req.method(), path)
        .ok_or_else(|| ApiError::new(StatusCode::FORBIDDEN, "this route has no access rule"))?;
    let open_metrics = path == "/metrics" && state.config().api.open_metrics;
    let need = if open_metrics { None } else { spec.role };
    let bearer = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim)
        // CrowdSec bouncers send their key as X-Api-Key.
        .or_else(|| {
            req.headers()
                .get("x-api-key")
                .and_then(|v| v.to_str().ok())
                .map(str::trim)
        })
        .filter(|t| !t.is_empty() && t.len() <= 256);
    let token = match bearer {
        Some(secret) => state.token(secret).await?,
        None => None,
    };
    if let Some(need) = need {
        let Some(t) = &token else {
            let msg = if bearer.is_some() {
                "unknown or revoked token"
            } else {
                "this needs a token: Authorization: Bearer TOKEN (make one with `rampart token \
                 create --role viewer`)"
            };
            return Err(ApiError::new(StatusCode::UNAUTHORIZED, msg));
        };
        if t.role < need {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                format!(
                    "this needs the {need} role; token '{}' is {}",
                    t.name, t.role
                ),
            ));
        }
    }
    req.extensions_mut().insert(Caller(token));
    Ok(next.run(req).await)
}

async fn no_route() -> ApiError {
    ApiError::not_found("no such route (see /api/v1/openapi.json)")
}

/// The whole HTTP application.
pub fn router(state: AppState) -> Router {
    use handlers as h;
    let max_body = state.config().api.max_body_bytes;
    Router::new()
        .route("/", get(crate::console::index))
        .route("/assets/{file}", get(crate::console::asset))
        .route("/metrics", get(h::metrics))
        .route("/api/v1/status", get(h::status))
        .route("/api/v1/whoami", get(h::whoami))
        .route("/api/v1/exporters", get(h::exporters))
        .route("/api/v1/traffic", get(h::traffic))
        .route("/api/v1/traffic/live", get(h::traffic_live))
        .route("/api/v1/attacks", get(h::attacks))
        .route("/api/v1/attacks/{id}", get(h::attack))
        .route("/api/v1/detections", get(h::detections))
        .route("/api/v1/detections/{id}", get(h::detection))
        .route("/api/v1/detections/{id}/stix", get(h::detection_stix))
        .route(
            "/api/v1/detections/{id}/publish",
            post(h::publish_detection),
        )
        .route("/api/v1/audit", get(h::audit))
        .route("/api/v1/events", get(h::events))
        .route("/api/v1/openapi.json", get(h::openapi))
        .route("/api/v1/bgp", get(h::bgp))
        .route(
            "/api/v1/mitigations",
            get(h::mitigations).post(h::request_mitigation),
        )
        .route("/api/v1/mitigations/withdraw", post(h::withdraw_mitigation))
        .route(
            "/api/v1/mitigations/{id}/approve",
            post(h::approve_mitigation),
        )
        .route(
            "/api/v1/mitigations/{id}/reject",
            post(h::reject_mitigation),
        )
        .route("/v1/decisions/stream", get(crate::decisions::stream))
        .route("/v1/decisions", get(crate::decisions::list))
        .route("/api/v1/tokens", get(h::tokens).post(h::create_token))
        .route("/api/v1/tokens/{id}", delete(h::revoke_token))
        .route("/api/v1/config", get(h::config))
        .route("/api/v1/config/reload", post(h::reload))
        .route_layer(middleware::from_fn_with_state(state.clone(), authorize))
        .fallback(no_route)
        .layer(axum::extract::DefaultBodyLimit::max(max_body))
        .with_state(state)
}
