//! The TAXII 2.1 server as an axum [`Router`]: discovery, the API root, collections,
//! objects (GET with filters and paging, POST with a status resource), one object, its
//! versions, the manifest and status. Every route is listed once in [`ROUTES`] with what it
//! needs; one middleware checks the caller's token (through an [`Authenticate`] the daemon
//! supplies) and the collection's read and write rights against that table.

use super::{CollectionConfig, Principal, TaxiiConfig, MEDIA_TYPE, STIX_MEDIA_TYPE};
use crate::indicator::{Indicator, Tlp};
use crate::stix::{self, BundleLimits, ImportContext, ObjectHead};
use crate::store::{Added, NewObject, ObjectPage, ObjectQuery, StoredObject, TaxiiStore};
use axum::body::{Body, Bytes};
use axum::extract::{MatchedPath, Path, Query, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, MethodRouter};
use axum::{Extension, Router};
use base64::Engine;
use rampart_model::Timestamp;
use serde_json::{json, Value};
use std::fmt::Write as _;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

/// Checks a credential (the bearer token, or the password of HTTP Basic) and names its
/// holder; `None` for unknown or revoked.
pub trait Authenticate: Send + Sync + 'static {
    fn authenticate<'a>(
        &'a self,
        token: &'a str,
    ) -> Pin<Box<dyn Future<Output = Option<Principal>> + Send + 'a>>;
}

/// A fixed token table (tests, standalone use).
#[derive(Clone, Debug, Default)]
pub struct StaticTokens(pub std::collections::HashMap<String, Principal>);

impl Authenticate for StaticTokens {
    fn authenticate<'a>(
        &'a self,
        token: &'a str,
    ) -> Pin<Box<dyn Future<Output = Option<Principal>> + Send + 'a>> {
        let found = self.0.get(token).cloned();
        Box::pin(async move { found })
    }
}

/// Called with a collection's id and the indicators just added to it, so the daemon can
/// put them into its matchers.
pub type OnAdded = Arc<dyn Fn(&str, Vec<Indicator>) + Send + Sync>;

/// What the handlers share.
#[derive(Clone)]
pub struct TaxiiState {
    pub config: Arc<TaxiiConfig>,
    pub store: Arc<dyn TaxiiStore>,
    pub auth: Arc<dyn Authenticate>,
    pub on_added: Option<OnAdded>,
    pub clock: Arc<dyn Fn() -> Timestamp + Send + Sync>,
}

impl std::fmt::Debug for TaxiiState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TaxiiState")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl TaxiiState {
    pub fn new(
        config: TaxiiConfig,
        store: Arc<dyn TaxiiStore>,
        auth: Arc<dyn Authenticate>,
    ) -> Self {
        TaxiiState {
            config: Arc::new(config),
            store,
            auth,
            on_added: None,
            clock: Arc::new(system_now),
        }
    }

    pub fn with_on_added(mut self, f: OnAdded) -> Self {
        self.on_added = Some(f);
        self
    }
}

/// The wall clock, for the I/O shell only.
pub fn system_now() -> Timestamp {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    Timestamp::from_nanos(d.as_nanos().min(u64::MAX as u128) as u64)
}

/// What a route asks of its caller, beyond a TAXII `Accept` header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Need {
    /// Any valid token, that is the viewer role (discovery, the API root, the collection
    /// list and a status, each showing only what the token may see).
    Token,
    /// The read or the write right on `{collection}`; anyone else gets 404, so that
    /// collections one may not use are not revealed.
    See,
    /// The read right on `{collection}`: 403 for a token that may only write to it, 404
    /// for one with neither right.
    Read,
    /// The write right on `{collection}`: 403 for a token that may only read it.
    Write,
}

/// One TAXII route: its method, its path under `intel.taxii.path`, what it needs.
#[derive(Clone)]
pub struct TaxiiRoute {
    pub method: Method,
    pub path: &'static str,
    pub need: Need,
    pub summary: &'static str,
    handler: fn() -> MethodRouter<TaxiiState>,
}

impl std::fmt::Debug for TaxiiRoute {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TaxiiRoute")
            .field("method", &self.method)
            .field("path", &self.path)
            .field("need", &self.need)
            .finish_non_exhaustive()
    }
}

const fn route(
    method: Method,
    path: &'static str,
    need: Need,
    summary: &'static str,
    handler: fn() -> MethodRouter<TaxiiState>,
) -> TaxiiRoute {
    TaxiiRoute {
        method,
        path,
        need,
        summary,
        handler,
    }
}

/// Every TAXII route, under `intel.taxii.path`; [`router`] is built from this table, so a
/// route cannot be served without its access rule.
pub const ROUTES: &[TaxiiRoute] = &[
    route(Method::GET, "/", Need::Token, "discovery", || {
        get(discovery)
    }),
    route(Method::GET, "/api/", Need::Token, "the API root", || {
        get(api_root)
    }),
    route(
        Method::GET,
        "/api/collections/",
        Need::Token,
        "the collections this token may read or write",
        || get(collections),
    ),
    route(
        Method::GET,
        "/api/collections/{collection}/",
        Need::See,
        "one collection, with can_read and can_write for this token",
        || get(collection),
    ),
    route(
        Method::GET,
        "/api/collections/{collection}/objects/",
        Need::Read,
        "objects, with filters and paging",
        || get(get_objects),
    ),
    route(
        Method::POST,
        "/api/collections/{collection}/objects/",
        Need::Write,
        "add an envelope of objects; 202 with a status resource",
        || post(add_objects),
    ),
    route(
        Method::GET,
        "/api/collections/{collection}/objects/{object}/",
        Need::Read,
        "one object (same filters)",
        || get(get_object),
    ),
    route(
        Method::GET,
        "/api/collections/{collection}/objects/{object}/versions/",
        Need::Read,
        "an object's versions",
        || get(versions),
    ),
    route(
        Method::GET,
        "/api/collections/{collection}/manifest/",
        Need::Read,
        "id, date_added, version and media type of each object",
        || get(manifest),
    ),
    route(
        Method::GET,
        "/api/status/{status}/",
        Need::Token,
        "a POST's status, to those who may see its collection",
        || get(status),
    ),
    route(
        Method::GET,
        "/api/status/{status}",
        Need::Token,
        "the same, without the trailing slash some clients drop",
        || get(status),
    ),
];

/// The TAXII routes of [`ROUTES`], each under `config.path` (default `/taxii2`). Merge it
/// into the daemon's router; it checks tokens itself.
pub fn router(state: TaxiiState) -> Router {
    let p = state.config.path.trim_end_matches('/').to_string();
    let max_body = state.config.max_body_bytes;
    let mut r = Router::new();
    for spec in ROUTES {
        // Routes on one path (GET and POST objects) merge into one method router.
        r = r.route(&format!("{p}{}", spec.path), (spec.handler)());
    }
    r.route_layer(middleware::from_fn_with_state(state.clone(), authorize))
        .layer(axum::extract::DefaultBodyLimit::max(max_body))
        .with_state(state)
}

/// What the middleware let through: the caller, and the collection the route names.
#[derive(Clone, Debug)]
struct Granted {
    who: Principal,
    collection: Option<CollectionConfig>,
}

type PathParams = std::result::Result<
    Path<std::collections::HashMap<String, String>>,
    axum::extract::rejection::PathRejection,
>;

/// Checks Accept, the token and the collection right the route's [`Need`] names. Fails
/// closed: a route missing from [`ROUTES`] is refused.
async fn authorize(
    State(state): State<TaxiiState>,
    matched: Option<MatchedPath>,
    params: PathParams,
    mut req: Request,
    next: Next,
) -> Result<Response> {
    let full = matched.as_ref().map_or("", |m| m.as_str());
    let path = full
        .strip_prefix(state.config.path.trim_end_matches('/'))
        .unwrap_or("");
    let method = if req.method() == Method::HEAD {
        Method::GET
    } else {
        req.method().clone()
    };
    let spec = ROUTES
        .iter()
        .find(|r| r.method == method && r.path == path)
        .ok_or_else(|| {
            fail(
                StatusCode::FORBIDDEN,
                "Forbidden",
                "this route has no access rule",
            )
        })?;
    let who = caller(&state, req.headers()).await?;
    let collection = match spec.need {
        Need::Token => None,
        need => {
            let id = params
                .ok()
                .and_then(|Path(p)| p.get("collection").cloned())
                .unwrap_or_default();
            let c = visible(&state, &id, &who)?;
            let refused = match need {
                Need::Read if !c.can_read(&who) => Some("read"),
                Need::Write if !c.can_write(&who) => Some("add to"),
                _ => None,
            };
            if let Some(what) = refused {
                return Err(fail(
                    StatusCode::FORBIDDEN,
                    "Forbidden",
                    format!("token '{}' may not {what} collection `{id}`", who.name),
                ));
            }
            Some(c.clone())
        }
    };
    req.extensions_mut().insert(Granted { who, collection });
    Ok(next.run(req).await)
}

/// A TAXII error message resource with its status.
#[derive(Debug)]
pub struct TaxiiError {
    status: StatusCode,
    title: &'static str,
    description: String,
}

fn fail(status: StatusCode, title: &'static str, description: impl Into<String>) -> TaxiiError {
    TaxiiError {
        status,
        title,
        description: description.into(),
    }
}

impl IntoResponse for TaxiiError {
    fn into_response(self) -> Response {
        let body = json!({
            "title": self.title,
            "description": self.description,
            "http_status": self.status.as_u16().to_string(),
        });
        let mut r = taxii_response(self.status, body.to_string());
        if self.status == StatusCode::UNAUTHORIZED {
            r.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"rampart\", Basic realm=\"rampart\""),
            );
        }
        r
    }
}

fn taxii_response(status: StatusCode, body: String) -> Response {
    let mut r = Response::new(Body::from(body));
    *r.status_mut() = status;
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(MEDIA_TYPE));
    r
}

type Result<T> = std::result::Result<T, TaxiiError>;

/// True when an Accept header admits TAXII 2.1 (absent counts as yes).
pub fn accepts_taxii(accept: Option<&str>) -> bool {
    let Some(accept) = accept else { return true };
    accept.split(',').any(|item| {
        let mut parts = item.split(';').map(str::trim);
        let mt = parts.next().unwrap_or("").to_ascii_lowercase();
        let mut version = None;
        let mut q_zero = false;
        for p in parts {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            match k.trim().to_ascii_lowercase().as_str() {
                "version" => version = Some(v.trim().trim_matches('"').to_string()),
                "q" => q_zero = v.trim().parse::<f32>().is_ok_and(|q| q <= 0.0),
                _ => {}
            }
        }
        !q_zero
            && match mt.as_str() {
                "application/taxii+json" => version.as_deref().is_none_or(|v| v == "2.1"),
                "*/*" | "application/*" => true,
                _ => false,
            }
    })
}

/// The credential in Authorization: a bearer token, or Basic's password.
fn credential(headers: &HeaderMap) -> Option<String> {
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, rest) = v.split_once(' ')?;
    let rest = rest.trim();
    if rest.is_empty() || rest.len() > 1024 {
        return None;
    }
    if scheme.eq_ignore_ascii_case("bearer") {
        return Some(rest.to_string());
    }
    if scheme.eq_ignore_ascii_case("basic") {
        let raw = base64::engine::general_purpose::STANDARD
            .decode(rest)
            .ok()?;
        let text = String::from_utf8(raw).ok()?;
        let (_, password) = text.split_once(':')?;
        return (!password.is_empty()).then(|| password.to_string());
    }
    None
}

/// Checks Accept and the caller's token.
async fn caller(state: &TaxiiState, headers: &HeaderMap) -> Result<Principal> {
    let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok());
    if !accepts_taxii(accept) {
        return Err(fail(
            StatusCode::NOT_ACCEPTABLE,
            "Not Acceptable",
            format!("this server speaks {MEDIA_TYPE}"),
        ));
    }
    let Some(token) = credential(headers) else {
        return Err(fail(
            StatusCode::UNAUTHORIZED,
            "Unauthorized",
            "this needs a token: Authorization: Bearer TOKEN (or Basic with the token as password)",
        ));
    };
    state.auth.authenticate(&token).await.ok_or_else(|| {
        fail(
            StatusCode::UNAUTHORIZED,
            "Unauthorized",
            "unknown or revoked token",
        )
    })
}

/// The collection, if the caller may see it (read or write); 404 otherwise, so that
/// collections one may not use are not revealed.
fn visible<'a>(state: &'a TaxiiState, id: &str, who: &Principal) -> Result<&'a CollectionConfig> {
    state
        .config
        .collections
        .iter()
        .find(|c| c.id == id)
        .filter(|c| c.can_read(who) || c.can_write(who))
        .ok_or_else(|| {
            fail(
                StatusCode::NOT_FOUND,
                "Not Found",
                format!("no collection `{id}`"),
            )
        })
}

fn base_url(state: &TaxiiState, headers: &HeaderMap) -> String {
    let path = state.config.path.trim_end_matches('/');
    if let Some(u) = &state.config.public_url {
        return format!("{}{path}", u.trim_end_matches('/'));
    }
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .filter(|h| {
            h.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b))
        })
        .unwrap_or("localhost");
    format!("http://{host}{path}")
}

async fn discovery(State(state): State<TaxiiState>, headers: HeaderMap) -> Result<Response> {
    let root = format!("{}/api/", base_url(&state, &headers));
    let mut body = json!({
        "title": state.config.title,
        "description": state.config.description,
        "default": root,
        "api_roots": [root],
    });
    if let Some(c) = &state.config.contact {
        body["contact"] = json!(c);
    }
    Ok(taxii_response(StatusCode::OK, body.to_string()))
}

async fn api_root(State(state): State<TaxiiState>) -> Result<Response> {
    let body = json!({
        "title": state.config.title,
        "description": state.config.description,
        "versions": [MEDIA_TYPE],
        "max_content_length": state.config.max_body_bytes,
    });
    Ok(taxii_response(StatusCode::OK, body.to_string()))
}

fn collection_json(c: &CollectionConfig, who: &Principal) -> Value {
    let mut v = json!({
        "id": c.id,
        "title": c.title,
        "description": c.description,
        "can_read": c.can_read(who),
        "can_write": c.can_write(who),
        "media_types": [STIX_MEDIA_TYPE],
    });
    if let Some(a) = &c.alias {
        v["alias"] = json!(a);
    }
    v
}

async fn collections(
    State(state): State<TaxiiState>,
    Extension(Granted { who, .. }): Extension<Granted>,
) -> Result<Response> {
    let list: Vec<Value> = state
        .config
        .collections
        .iter()
        .filter(|c| c.can_read(&who) || c.can_write(&who))
        .map(|c| collection_json(c, &who))
        .collect();
    let body = if list.is_empty() {
        json!({})
    } else {
        json!({ "collections": list })
    };
    Ok(taxii_response(StatusCode::OK, body.to_string()))
}

async fn collection(Extension(g): Extension<Granted>) -> Result<Response> {
    let c = g
        .collection
        .ok_or_else(|| internal("no collection granted".into()))?;
    Ok(taxii_response(
        StatusCode::OK,
        collection_json(&c, &g.who).to_string(),
    ))
}

type Params =
    std::result::Result<Query<Vec<(String, String)>>, axum::extract::rejection::QueryRejection>;

/// Reads the filters and paging parameters of a GET.
fn object_query(state: &TaxiiState, params: Params) -> Result<ObjectQuery> {
    let Query(params) =
        params.map_err(|e| fail(StatusCode::BAD_REQUEST, "Bad Request", e.body_text()))?;
    let mut q = ObjectQuery {
        limit: state.config.max_page,
        ..ObjectQuery::default()
    };
    let bad = |m: String| fail(StatusCode::BAD_REQUEST, "Bad Request", m);
    let list = |v: &str| -> Vec<String> {
        v.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(String::from)
            .take(1000)
            .collect()
    };
    for (k, v) in params {
        match k.as_str() {
            "added_after" => {
                q.added_after = Some(
                    v.parse()
                        .map_err(|e: String| bad(format!("added_after: {e}")))?,
                )
            }
            "limit" => {
                let n: usize = v
                    .parse()
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or_else(|| bad(format!("limit `{v}` is not a positive number")))?;
                q.limit = n.min(state.config.max_page);
            }
            "next" => {
                q.after_seq = Some(
                    v.parse()
                        .map_err(|_| bad(format!("next `{v}` is not one this server gave")))?,
                )
            }
            "match[id]" => q.ids = list(&v),
            "match[type]" => q.types = list(&v),
            "match[spec_version]" => q.spec_versions = list(&v),
            "match[version]" => q.versions = super::parse_versions(&v).map_err(bad)?,
            _ => {} // Filters we do not support are ignored, as the spec allows.
        }
    }
    Ok(q)
}

async fn page(state: &TaxiiState, collection: String, q: ObjectQuery) -> Result<ObjectPage> {
    let store = state.store.clone();
    tokio::task::spawn_blocking(move || store.objects(&collection, &q))
        .await
        .map_err(|e| internal(e.to_string()))?
        .map_err(|e| internal(e.to_string()))
}

fn internal(m: String) -> TaxiiError {
    tracing::warn!(error = %m, "TAXII request failed");
    fail(StatusCode::INTERNAL_SERVER_ERROR, "Internal Error", m)
}

/// An envelope-like page: `{"more":..,"next":..,KEY:[items]}` with the date headers.
fn paged(page: &ObjectPage, key: &str, item: impl Fn(&StoredObject, &mut String)) -> Response {
    let mut body =
        String::with_capacity(64 + page.objects.iter().map(|o| o.body.len() + 2).sum::<usize>());
    let _ = write!(body, "{{\"more\":{}", page.more);
    if page.more {
        if let Some(last) = page.objects.last() {
            let _ = write!(body, ",\"next\":\"{}\"", last.seq);
        }
    }
    if !page.objects.is_empty() {
        let _ = write!(body, ",\"{key}\":[");
        for (i, o) in page.objects.iter().enumerate() {
            if i > 0 {
                body.push(',');
            }
            item(o, &mut body);
        }
        body.push(']');
    }
    body.push('}');
    let mut r = taxii_response(StatusCode::OK, body);
    if let (Some(first), Some(last)) = (
        page.objects.iter().map(|o| o.date_added).min(),
        page.objects.iter().map(|o| o.date_added).max(),
    ) {
        for (name, t) in [
            ("x-taxii-date-added-first", first),
            ("x-taxii-date-added-last", last),
        ] {
            if let Ok(v) = HeaderValue::from_str(&stix::fmt_micros(t)) {
                r.headers_mut().insert(name, v);
            }
        }
    }
    r
}

async fn get_objects(
    State(state): State<TaxiiState>,
    Path(id): Path<String>,
    params: Params,
) -> Result<Response> {
    let q = object_query(&state, params)?;
    let page = page(&state, id, q).await?;
    Ok(paged(&page, "objects", |o, b| b.push_str(&o.body)))
}

async fn get_object(
    State(state): State<TaxiiState>,
    Path((id, object)): Path<(String, String)>,
    params: Params,
) -> Result<Response> {
    let mut q = object_query(&state, params)?;
    q.ids = vec![object.clone()];
    let page = page(&state, id, q).await?;
    if page.objects.is_empty() && !page.more {
        return Err(fail(
            StatusCode::NOT_FOUND,
            "Not Found",
            format!("no object `{object}` matching the filters"),
        ));
    }
    Ok(paged(&page, "objects", |o, b| b.push_str(&o.body)))
}

async fn versions(
    State(state): State<TaxiiState>,
    Path((id, object)): Path<(String, String)>,
    params: Params,
) -> Result<Response> {
    let mut q = object_query(&state, params)?;
    q.ids = vec![object.clone()];
    q.versions = crate::store::VersionFilter {
        all: true,
        ..Default::default()
    };
    q.without_bodies = true;
    let page = page(&state, id, q).await?;
    if page.objects.is_empty() {
        return Err(fail(
            StatusCode::NOT_FOUND,
            "Not Found",
            format!("no object `{object}`"),
        ));
    }
    Ok(paged(&page, "versions", |o, b| {
        let _ = write!(b, "\"{}\"", o.version);
    }))
}

async fn manifest(
    State(state): State<TaxiiState>,
    Path(id): Path<String>,
    params: Params,
) -> Result<Response> {
    let mut q = object_query(&state, params)?;
    q.without_bodies = true;
    let page = page(&state, id, q).await?;
    Ok(paged(&page, "objects", |o, b| {
        let entry = json!({
            "id": o.id,
            "date_added": stix::fmt_micros(o.date_added),
            "version": o.version,
            "media_type": format!("application/stix+json;version={}", o.spec_version),
        });
        b.push_str(&entry.to_string());
    }))
}

/// Checks Content-Type of a POST.
fn check_content_type(headers: &HeaderMap) -> Result<()> {
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let mut parts = ct.split(';').map(str::trim);
    let mt = parts.next().unwrap_or("").to_ascii_lowercase();
    let version_ok = parts
        .filter_map(|p| p.split_once('='))
        .filter(|(k, _)| k.trim().eq_ignore_ascii_case("version"))
        .all(|(_, v)| v.trim().trim_matches('"') == "2.1");
    if mt == "application/taxii+json" && version_ok {
        Ok(())
    } else {
        Err(fail(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Unsupported Media Type",
            format!("send objects as {MEDIA_TYPE}, not `{ct}`"),
        ))
    }
}

async fn add_objects(
    State(state): State<TaxiiState>,
    Extension(g): Extension<Granted>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response> {
    let c = g
        .collection
        .ok_or_else(|| internal("no collection granted".into()))?;
    check_content_type(&headers)?;
    let st = state.clone();
    let status = tokio::task::spawn_blocking(move || ingest(&st, &c, &body))
        .await
        .map_err(|e| internal(e.to_string()))??;
    Ok(taxii_response(StatusCode::ACCEPTED, status.to_string()))
}

/// Stores a POSTed envelope: a status resource first (pending), then the objects, then
/// the final status. Bad objects are failures; the rest succeed.
fn ingest(state: &TaxiiState, c: &CollectionConfig, body: &[u8]) -> Result<Value> {
    let now = (state.clock)();
    let status_id = uuid::Uuid::new_v4().to_string();
    let limits = BundleLimits {
        max_bytes: state.config.max_body_bytes as u64,
        max_objects: 100_000,
        max_object_bytes: 1 << 20,
    };
    let mut raws: Vec<Box<str>> = Vec::new();
    stix::for_each_object_in(body, "envelope", &limits, |raw| {
        raws.push(raw.get().into());
        Ok(())
    })
    .map_err(|e| fail(StatusCode::BAD_REQUEST, "Bad Request", e.to_string()))?;
    let store_err = |e: crate::store::IntelStoreError| internal(e.to_string());
    let pending = status_json(&status_id, now, "pending", raws.len(), &[], &[]);
    state
        .store
        .save_status(&status_id, &c.id, &pending.to_string(), now)
        .map_err(store_err)?;

    let (heads, failures) = read_heads(&raws);
    let objects = new_objects(&heads);
    let added = state
        .store
        .add_objects(&c.id, &objects, now)
        .map_err(store_err)?;
    if let Some(on_added) = &state.on_added {
        let source = format!("taxii:{}", c.title);
        let cx = ImportContext {
            source: &source,
            now,
            default_tlp: Tlp::Amber,
            default_confidence: None,
        };
        let mut got = stix::Imported::default();
        for ((_, _, raw), a) in heads.iter().zip(&added) {
            if a.new {
                stix::take_object(raw, &cx, &mut got);
            }
        }
        if !got.indicators.is_empty() {
            on_added(&c.id, got.indicators);
        }
    }
    let done = status_json(&status_id, now, "complete", raws.len(), &added, &failures);
    state
        .store
        .save_status(&status_id, &c.id, &done.to_string(), now)
        .map_err(store_err)?;
    Ok(done)
}

/// A failed object: its id (if it had one), version, and why.
type Failure = (String, Option<String>, String);
/// An object ready to store: its head, version and raw JSON.
type Ready<'a> = (ObjectHead<'a>, Option<Timestamp>, &'a str);

/// Reads each raw object's type, id and version; those without are failures.
fn read_heads<S: AsRef<str>>(raws: &[S]) -> (Vec<Ready<'_>>, Vec<Failure>) {
    let mut failures = Vec::new();
    let mut heads = Vec::new();
    for raw in raws {
        let raw = raw.as_ref();
        let head = match serde_json::from_str::<ObjectHead<'_>>(raw) {
            Ok(h) => h,
            Err(e) => {
                failures.push(("".into(), None, format!("not a STIX object: {e}")));
                continue;
            }
        };
        if let Err(e) = head.check() {
            failures.push((head.id.to_string(), None, e));
            continue;
        }
        let version = head
            .modified
            .as_deref()
            .or(head.created.as_deref())
            .map(|v| v.parse::<Timestamp>());
        let version = match version {
            Some(Ok(t)) => Some(t),
            Some(Err(e)) => {
                failures.push((head.id.to_string(), None, format!("modified/created: {e}")));
                continue;
            }
            None => None,
        };
        heads.push((head, version, raw));
    }
    (heads, failures)
}

fn new_objects<'a>(heads: &'a [Ready<'a>]) -> Vec<NewObject<'a>> {
    heads
        .iter()
        .map(|(h, v, raw)| NewObject {
            id: &h.id,
            kind: &h.kind,
            version: *v,
            spec_version: h.spec_version.as_deref().unwrap_or("2.1"),
            body: raw,
        })
        .collect()
}

/// Puts the objects of a bundle we made (an export) into one of our collections, so that
/// partners polling it receive them. Returns what was added and the objects refused.
pub fn publish(
    store: &dyn TaxiiStore,
    collection: &str,
    bundle: &Value,
    now: Timestamp,
) -> std::result::Result<(Vec<Added>, usize), crate::store::IntelStoreError> {
    let raws: Vec<String> = bundle
        .get("objects")
        .and_then(Value::as_array)
        .map(|a| a.iter().map(Value::to_string).collect())
        .unwrap_or_default();
    let (heads, failures) = read_heads(&raws);
    let objects = new_objects(&heads);
    Ok((
        store.add_objects(collection, &objects, now)?,
        failures.len(),
    ))
}

fn status_json(
    id: &str,
    at: Timestamp,
    status: &str,
    total: usize,
    added: &[Added],
    failures: &[Failure],
) -> Value {
    let successes: Vec<Value> = added
        .iter()
        .map(|a| {
            let mut v = json!({ "id": a.id, "version": a.version });
            if !a.new {
                v["message"] = json!("already present");
            }
            v
        })
        .collect();
    let fails: Vec<Value> = failures
        .iter()
        .map(|(id, version, message)| {
            let mut v = json!({ "id": id, "message": message });
            if let Some(ver) = version {
                v["version"] = json!(ver);
            }
            v
        })
        .collect();
    let pending = total.saturating_sub(successes.len() + fails.len());
    json!({
        "id": id,
        "status": status,
        "request_timestamp": stix::fmt_micros(at),
        "total_count": total,
        "success_count": successes.len(),
        "successes": successes,
        "failure_count": fails.len(),
        "failures": fails,
        "pending_count": pending,
    })
}

async fn status(
    State(state): State<TaxiiState>,
    Path(id): Path<String>,
    Extension(Granted { who, .. }): Extension<Granted>,
) -> Result<Response> {
    let store = state.store.clone();
    let sid = id.clone();
    let found = tokio::task::spawn_blocking(move || store.status(&sid))
        .await
        .map_err(|e| internal(e.to_string()))?
        .map_err(|e| internal(e.to_string()))?;
    let not_found = || {
        fail(
            StatusCode::NOT_FOUND,
            "Not Found",
            format!("no status `{id}`"),
        )
    };
    let (collection, body) = found.ok_or_else(not_found)?;
    // A status is seen by those who may write or read its collection.
    visible(&state, &collection, &who).map_err(|_| not_found())?;
    Ok(taxii_response(StatusCode::OK, body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_headers() {
        assert!(accepts_taxii(None));
        assert!(accepts_taxii(Some(MEDIA_TYPE)));
        assert!(accepts_taxii(Some("application/taxii+json")));
        assert!(accepts_taxii(Some("application/taxii+json; version=2.1")));
        assert!(accepts_taxii(Some("text/html, */*;q=0.8")));
        assert!(!accepts_taxii(Some("application/json")));
        assert!(!accepts_taxii(Some("application/taxii+json;version=2.0")));
        assert!(!accepts_taxii(Some("application/vnd.oasis.taxii+json")));
        assert!(!accepts_taxii(Some(
            "application/taxii+json;version=2.1;q=0"
        )));
    }

    #[test]
    fn credentials() {
        let mut h = HeaderMap::new();
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Bearer abc"),
        );
        assert_eq!(credential(&h).as_deref(), Some("abc"));
        let b = base64::engine::general_purpose::STANDARD.encode("user:s3cret");
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_str(&format!("Basic {b}")).unwrap(),
        );
        assert_eq!(credential(&h).as_deref(), Some("s3cret"));
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("Basic !!!"));
        assert_eq!(credential(&h), None);
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("Digest x"));
        assert_eq!(credential(&h), None);
    }
}
