//! `rampart serve`: the always-on daemon. Collector threads decode what exporters send, one
//! engine thread runs the detectors on the wall clock, and a tokio runtime records what they
//! find, serves the API, the console and the metrics, and handles signals (SIGHUP reloads the
//! configuration, SIGINT and SIGTERM stop cleanly).
//!
//! ```text
//! UDP sockets ─► collector threads ─► bounded queue ─► engine thread ─► recorder ─► store
//!  (SO_REUSEPORT)  decode, batch        (drops counted)  detect, meter     │         │
//! AF_PACKET rings ─► capture threads ─┘                                   └► live events ─► API
//!  (feature `capture`, fanout)
//! ```

pub mod api;
mod capture;
mod clock;
mod collector;
mod console;
mod decisions;
mod engine;
mod findings;
mod intel;
mod loglisten;
mod metrics;
mod prefixes;
mod recorder;
mod responder;
mod shared;
mod traffic;

pub use api::{ReloadFn, RouteSpec, ROUTES};
pub use prefixes::PrefixSet;
/// The TAXII 2.1 routes serve also answers, under `intel.taxii.path`, each with the token
/// or collection right it needs (checked by the TAXII router against serve's tokens).
pub use rampart_intel::taxii::server::{Need as TaxiiNeed, TaxiiRoute, ROUTES as TAXII_ROUTES};

use anyhow::{Context, Result};
use rampart_config::Config;
use rampart_store::{Retention, SqliteStore, Store};
use shared::{ListenerInfo, Shared};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

/// How long open API requests may run on after a stop signal.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// How often old data is pruned.
const PRUNE_EVERY: Duration = Duration::from_secs(3_600);

/// Runs the daemon until SIGINT or SIGTERM. `reload` re-reads the configuration for SIGHUP
/// and `POST /api/v1/config/reload`.
pub fn serve(config: Config, reload: Option<ReloadFn>) -> Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .thread_name("rampart-rt")
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(run(config, reload))
}

async fn run(config: Config, reload: Option<ReloadFn>) -> Result<()> {
    let store: Arc<dyn Store> = Arc::new(
        SqliteStore::open(&config.store.path)
            .with_context(|| format!("store {}", config.store.path.display()))?,
    );
    tracing::info!(path = %config.store.path.display(), "store open");
    if store.tokens().map(|t| t.is_empty()).unwrap_or(false) {
        eprintln!(
            "rampart: no API tokens yet. Make one for yourself with\n    \
             rampart token create --role admin{}\nand paste it into the console.",
            if config.store.path.as_os_str() == "rampart-data" {
                String::new()
            } else {
                format!(" --set store.path={}", config.store.path.display())
            }
        );
    }
    let shared = Arc::new(Shared::new(
        clock::now(),
        config.listen.max_exporters,
        PrefixSet::new(&config.listen.exporters),
    ));

    // Bind everything first, so that a port in use fails the start, not a thread later.
    let mut sockets = Vec::new();
    for &addr in &config.listen.flow {
        let bound = collector::bind(
            addr,
            config.listen.sockets_per_port,
            config.listen.recv_buffer_bytes,
        )?;
        let local = bound[0].local;
        let granted = bound[0].recv_buffer;
        tracing::info!(listen = %local, sockets = bound.len(), recv_buffer = granted, "collecting flows");
        if granted < config.listen.recv_buffer_bytes {
            tracing::warn!(
                listen = %local,
                asked = config.listen.recv_buffer_bytes,
                granted,
                "the kernel granted a smaller receive buffer: raise net.core.rmem_max \
                 (sysctl -w net.core.rmem_max={}) to absorb bursts",
                config.listen.recv_buffer_bytes
            );
        }
        shared.add_listener(ListenerInfo {
            listen: local,
            sockets: bound.len(),
            recv_buffer_bytes: granted,
        });
        sockets.extend(bound);
    }
    let rings = capture::open(&config.listen, &shared)?;
    let api_listener = tokio::net::TcpListener::bind(config.api.listen)
        .await
        .with_context(|| {
            format!(
                "{}: cannot serve the API (set api.listen)",
                config.api.listen
            )
        })?;
    let api_addr = api_listener
        .local_addr()
        .context("reading the API address")?;
    tracing::info!(listen = %api_addr, "API and console at http://{api_addr}/");

    let batches = (config.listen.queue_records / collector::BATCH).max(2);
    let (record_tx, record_rx) = std::sync::mpsc::sync_channel(batches);
    let (control_tx, control_rx) = std::sync::mpsc::channel();
    let (event_tx, event_rx) = tokio::sync::mpsc::channel(16_384);

    let mut collectors = Vec::new();
    for (i, s) in sockets.into_iter().enumerate() {
        let (shared, tx) = (shared.clone(), record_tx.clone());
        collectors.push(
            std::thread::Builder::new()
                .name(format!("collector-{i}"))
                .spawn(move || collector::run(s, shared, tx))
                .context("starting a collector thread")?,
        );
    }
    for (i, ring) in rings.into_iter().enumerate() {
        let (shared, tx) = (shared.clone(), record_tx.clone());
        collectors.push(
            std::thread::Builder::new()
                .name(format!("capture-{i}"))
                .spawn(move || capture::run(ring, shared, tx))
                .context("starting a capture thread")?,
        );
    }
    let intel = intel::IntelService::open(&config)?;
    shared.set_intel(Some(intel.clone()));
    let intel_refresh = intel.spawn_refresh()?;
    let logs = loglisten::start(&config.logs, shared.clone(), record_tx.clone())?;
    shared.set_log_listeners(logs);
    drop(record_tx);
    let engine = engine::Engine::new(&config, shared.clone(), event_tx);
    let engine = std::thread::Builder::new()
        .name("engine".into())
        .spawn(move || engine.run(record_rx, control_rx))
        .context("starting the engine thread")?;

    // Restored attacks end if not seen again within the hysteresis time, plus the lateness
    // allowed to flow records (exporters' timeouts).
    let grace =
        Duration::from_secs(config.detect.ddos.end_after_s + config.detect.ddos.max_lateness_s);
    let (notifier, dead_letters) = rampart_notify::Notifier::start(&config.notify)
        .map_err(|e| anyhow::anyhow!("{e}"))
        .context("starting notifications")?;
    let notifier = Arc::new(notifier);
    shared.set_notifier(Some(notifier.clone()));
    let dead = tokio::spawn(record_dead_letters(
        store.clone(),
        shared.clone(),
        dead_letters,
    ));
    let (respond_in, respond_rx) = tokio::sync::mpsc::channel(4_096);
    let (command_tx, command_rx) = tokio::sync::mpsc::channel(256);
    let responder = responder::Responder::new(
        config.respond.clone(),
        store.clone(),
        shared.clone(),
        notifier.clone(),
    )
    .await;
    if config.respond.dry_run {
        tracing::info!("respond.dry_run: mitigations are decided and audited, not announced");
    }
    let responder = tokio::spawn(responder.run(respond_rx, command_rx));
    let recorder = recorder::Recorder::new(
        store.clone(),
        shared.clone(),
        grace,
        respond_in,
        notifier.clone(),
    )
    .await;
    let recorder = tokio::spawn(recorder.run(event_rx));

    let retention = Retention {
        detections_days: config.store.retention_days,
        traffic_days: config.store.traffic_retention_days,
        audit_days: config.store.audit_retention_days,
    };
    let state = api::AppState::new(
        store.clone(),
        shared.clone(),
        config,
        reload,
        control_tx,
        command_tx,
    );
    let pruner = tokio::spawn(prune(store.clone(), state.clone(), retention));
    let signals = tokio::spawn(handle_signals(state.clone()));

    let app = api::router(state.clone()).merge(intel::taxii_router(&intel, &state));
    let stop = shared.clone();
    let server = tokio::spawn(async move {
        axum::serve(api_listener, app)
            .with_graceful_shutdown(async move {
                while !stop.stopping.load(Ordering::Relaxed) {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            })
            .await
    });
    while !shared.stopping.load(Ordering::Relaxed) && !server.is_finished() {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Clients get a few seconds to finish their requests; then the daemon stops anyway.
    match tokio::time::timeout(SHUTDOWN_GRACE, server).await {
        Ok(Ok(Ok(()))) => {}
        Ok(Ok(Err(e))) => return Err(e).context("serving the API"),
        Ok(Err(e)) => return Err(e).context("the API task"),
        Err(_) => {
            tracing::warn!("API clients still connected after the grace time; stopping anyway")
        }
    }
    tracing::info!("stopping");
    signals.abort();
    pruner.abort();
    intel.stop();
    tokio::task::spawn_blocking(move || {
        for c in collectors {
            let _ = c.join();
        }
        let _ = engine.join();
        let _ = intel_refresh.join();
    })
    .await
    .context("stopping the pipeline")?;
    let _ = recorder.await;
    drop(state);
    let _ = responder.await;
    shared.set_notifier(None);
    // What is still queued gets a few seconds to go out; the rest becomes dead letters.
    if let Ok(n) = Arc::try_unwrap(notifier) {
        n.shutdown(SHUTDOWN_GRACE).await;
    }
    let _ = tokio::time::timeout(Duration::from_secs(2), dead).await;
    tracing::info!("stopped");
    Ok(())
}

/// Notifications a sink gave up on are kept in the audit log, with the notification.
async fn record_dead_letters(
    store: Arc<dyn Store>,
    shared: Arc<Shared>,
    mut dead: tokio::sync::mpsc::Receiver<rampart_notify::DeadLetter>,
) {
    while let Some(d) = dead.recv().await {
        tracing::warn!(sink = %d.sink, endpoint = %d.endpoint, error = %d.last_error, "notification not delivered");
        let entry = rampart_store::AuditEntry {
            at: d.at,
            actor: "system".into(),
            action: "notify.dead_letter".into(),
            subject: format!("{} ({})", d.sink, d.endpoint),
            detection_id: None,
            result: "failed".into(),
            detail: serde_json::to_value(&d).unwrap_or_default(),
        };
        let s = store.clone();
        if !matches!(
            tokio::task::spawn_blocking(move || s.append_audit(&entry)).await,
            Ok(Ok(_))
        ) {
            shared.store_errors.fetch_add(1, Ordering::Relaxed);
        }
    }
}

async fn handle_signals(state: api::AppState) {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut hup), Ok(mut int), Ok(mut term)) = (
        signal(SignalKind::hangup()),
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) else {
        tracing::warn!("cannot install signal handlers");
        return;
    };
    loop {
        tokio::select! {
            _ = hup.recv() => match state.reload("signal:SIGHUP").await {
                Ok(changed) => tracing::info!(?changed, "configuration reloaded"),
                Err(e) => tracing::warn!(error = %e, "configuration not reloaded"),
            },
            _ = int.recv() => break,
            _ = term.recv() => break,
        }
    }
    state.0.shared.stopping.store(true, Ordering::Relaxed);
}

async fn prune(store: Arc<dyn Store>, state: api::AppState, retention: Retention) {
    loop {
        let s = store.clone();
        let r = tokio::task::spawn_blocking(move || s.prune(clock::now(), &retention)).await;
        match r {
            Ok(Ok(stats)) if stats != Default::default() => {
                tracing::info!(?stats, "pruned old data");
                state
                    .audit(
                        "system",
                        "store.prune",
                        "retention",
                        "ok",
                        serde_json::to_value(stats).unwrap_or_default(),
                    )
                    .await;
            }
            Ok(Ok(_)) => {}
            _ => tracing::warn!("pruning old data failed"),
        }
        tokio::time::sleep(PRUNE_EVERY).await;
    }
}
