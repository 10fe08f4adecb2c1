//! The [`Notifier`]: one task per sink on the caller's tokio runtime, each behind a bounded
//! queue, so a slow or dead sink never blocks the daemon or the other sinks. Counts what
//! each sink did, hands back dead letters, and flushes at shutdown within a deadline.

use crate::config::{NotifyConfig, NotifyConfigError};
use crate::notification::Notification;
use crate::{email, syslog, webhook};
use rampart_model::Timestamp;
use serde::Serialize;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

/// Dead letters waiting for the daemon to read them; more are counted as lost.
const DEAD_LETTER_QUEUE: usize = 1_024;
/// After the deadline, sinks get this long to turn what they hold into dead letters.
const ABANDON_GRACE: Duration = Duration::from_millis(500);

/// Why the notifier did not start.
#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    #[error(transparent)]
    Config(#[from] NotifyConfigError),
    #[error("the notifier needs a tokio runtime (call Notifier::start inside one)")]
    NoRuntime,
}

/// A notification a sink gave up on: the endpoint stayed down, refused it, or the daemon
/// shut down first. The daemon stores it; nothing is retried from here.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DeadLetter {
    /// The sink's name (`webhook-0`, `email`...).
    pub sink: String,
    /// Where it was going: scheme, host and port of a webhook (never its path, which may
    /// hold a secret), the SMTP server.
    pub endpoint: String,
    pub notification: Notification,
    pub attempts: u32,
    pub last_error: String,
    /// When the sink gave up (wall clock).
    pub at: Timestamp,
}

/// What one sink has done since the start.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct SinkStats {
    pub name: String,
    /// `webhook`, `email` or `syslog`.
    pub kind: &'static str,
    /// Notifications waiting in its queue now.
    pub queued: usize,
    /// Notifications delivered (a digest mail counts each notification in it).
    pub sent: u64,
    /// Attempts that failed (each failed try of a retried delivery counts).
    pub failed: u64,
    /// Retries made after a failed attempt.
    pub retried: u64,
    /// Notifications not queued because the queue was full.
    pub dropped: u64,
    /// Notifications given up on and handed over as dead letters.
    pub dead_lettered: u64,
}

/// All sinks, and dead letters that could not be handed over.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct NotifyStats {
    pub sinks: Vec<SinkStats>,
    /// Dead letters lost because the daemon did not read them fast enough.
    pub dead_letters_lost: u64,
}

#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub sent: AtomicU64,
    pub failed: AtomicU64,
    pub retried: AtomicU64,
    pub dropped: AtomicU64,
    pub dead_lettered: AtomicU64,
}

impl Counters {
    pub(crate) fn add(c: &AtomicU64, n: u64) {
        c.fetch_add(n, Ordering::Relaxed);
    }
}

/// A notification in a sink's queue.
#[derive(Debug)]
pub(crate) struct Queued {
    pub n: Arc<Notification>,
    /// When `notify` was called: the age limit and the latency count from here.
    pub at: Instant,
}

/// Set once at the shutdown deadline: sinks stop waiting and dead-letter what they hold.
#[derive(Clone, Debug)]
pub(crate) struct Abandon(watch::Receiver<bool>);

impl Abandon {
    pub(crate) fn is_set(&self) -> bool {
        *self.0.borrow()
    }
    /// Returns once abandoned (never, if the notifier is gone without shutdown).
    pub(crate) async fn wait(&mut self) {
        if self.0.wait_for(|v| *v).await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

/// What a sink task needs besides its own settings.
#[derive(Debug)]
pub(crate) struct SinkCtx {
    pub name: String,
    pub endpoint: String,
    pub counters: Arc<Counters>,
    pub abandon: Abandon,
    dead: mpsc::Sender<DeadLetter>,
    dead_lost: Arc<AtomicU64>,
}

impl SinkCtx {
    pub(crate) fn dead_letter(&self, n: &Notification, attempts: u32, error: &str) {
        Counters::add(&self.counters.dead_lettered, 1);
        tracing::warn!(sink = %self.name, endpoint = %self.endpoint, event = %n.event,
                       id = %n.id, attempts, error, "notification given up (dead letter)");
        let letter = DeadLetter {
            sink: self.name.clone(),
            endpoint: self.endpoint.clone(),
            notification: n.clone(),
            attempts,
            last_error: error.to_string(),
            at: wall_clock(),
        };
        if self.dead.try_send(letter).is_err() {
            self.dead_lost.fetch_add(1, Ordering::Relaxed);
        }
    }
}

pub(crate) fn wall_clock() -> Timestamp {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    Timestamp::from_nanos(d.as_nanos() as u64)
}

#[derive(Debug)]
struct Sink {
    name: String,
    kind: &'static str,
    filter: crate::config::Filter,
    tx: mpsc::Sender<Queued>,
    counters: Arc<Counters>,
}

/// The notifier. `notify` never blocks; sinks deliver in their own tasks.
#[derive(Debug)]
pub struct Notifier {
    daemon: String,
    sinks: Vec<Sink>,
    tasks: Vec<JoinHandle<()>>,
    abandon: watch::Sender<bool>,
    dead_lost: Arc<AtomicU64>,
}

impl Notifier {
    /// Starts every sink of `cfg` (validated here) on the current tokio runtime. Returns
    /// the notifier and the receiver of dead letters, which the daemon should read and
    /// store; unread ones past 1,024 are counted in `dead_letters_lost`.
    pub fn start(
        cfg: &NotifyConfig,
    ) -> Result<(Notifier, mpsc::Receiver<DeadLetter>), NotifyError> {
        let rt = tokio::runtime::Handle::try_current().map_err(|_| NotifyError::NoRuntime)?;
        cfg.validate()?;
        let daemon = cfg.name.clone().unwrap_or_else(crate::host_name);
        let (dead_tx, dead_rx) = mpsc::channel(DEAD_LETTER_QUEUE);
        let (abandon_tx, abandon_rx) = watch::channel(false);
        let dead_lost = Arc::new(AtomicU64::new(0));
        let names = cfg.sink_names();
        let mut names = names.into_iter();
        let mut sinks = Vec::new();
        let mut tasks = Vec::new();

        let ctx = |name: String, endpoint: String| SinkCtx {
            name,
            endpoint,
            counters: Arc::new(Counters::default()),
            abandon: Abandon(abandon_rx.clone()),
            dead: dead_tx.clone(),
            dead_lost: dead_lost.clone(),
        };
        let mut add = |kind, filter, queue: usize, ctx: &SinkCtx| {
            let (tx, rx) = mpsc::channel(queue);
            sinks.push(Sink {
                name: ctx.name.clone(),
                kind,
                filter,
                tx,
                counters: ctx.counters.clone(),
            });
            rx
        };

        for (i, w) in cfg.webhooks.iter().enumerate() {
            let key = format!("webhooks[{i}]");
            let sink = webhook::WebhookSink::new(w, &key)?;
            let c = ctx(names.next().unwrap_or_default(), sink.endpoint());
            let rx = add("webhook", w.filter.clone(), w.queue, &c);
            tasks.push(rt.spawn(sink.run(rx, c)));
        }
        if let Some(e) = &cfg.email {
            let sink = email::EmailSink::new(e, "email", &daemon)?;
            let c = ctx(names.next().unwrap_or_default(), sink.endpoint());
            let rx = add("email", e.filter.clone(), e.queue, &c);
            tasks.push(rt.spawn(sink.run(rx, c)));
        }
        for (i, s) in cfg.syslog.iter().enumerate() {
            let sink = syslog::SyslogSink::new(s, &format!("syslog[{i}]"), &daemon)?;
            let c = ctx(names.next().unwrap_or_default(), s.address.clone());
            let rx = add("syslog", s.filter.clone(), s.queue, &c);
            tasks.push(rt.spawn(sink.run(rx, c)));
        }
        Ok((
            Notifier {
                daemon,
                sinks,
                tasks,
                abandon: abandon_tx,
                dead_lost,
            },
            dead_rx,
        ))
    }

    /// The name notifications should carry as `daemon` (`notify.name` or the host name).
    pub fn daemon_name(&self) -> &str {
        &self.daemon
    }

    /// Queues the notification for every sink whose filter takes it. Never waits: a sink
    /// whose queue is full drops it and counts the drop.
    pub fn notify(&self, n: Notification) {
        let n = Arc::new(n);
        let at = Instant::now();
        for s in &self.sinks {
            if !s.filter.accepts(&n) {
                continue;
            }
            let q = Queued { n: n.clone(), at };
            if s.tx.try_send(q).is_err() {
                Counters::add(&s.counters.dropped, 1);
            }
        }
    }

    pub fn stats(&self) -> NotifyStats {
        NotifyStats {
            sinks: self
                .sinks
                .iter()
                .map(|s| s.stats(s.tx.max_capacity() - s.tx.capacity()))
                .collect(),
            dead_letters_lost: self.dead_lost.load(Ordering::Relaxed),
        }
    }

    /// Stops taking notifications and lets every sink deliver what it holds (a held
    /// digest goes at once) until `deadline`; then sinks give up, turning what is left
    /// into dead letters, and are stopped. Returns the final counts.
    pub async fn shutdown(mut self, deadline: Duration) -> NotifyStats {
        // Dropping the senders closes the queues: each task drains its own, then ends.
        let sinks: Vec<(String, &'static str, Arc<Counters>)> = std::mem::take(&mut self.sinks)
            .into_iter()
            .map(|s| (s.name, s.kind, s.counters))
            .collect();
        let mut tasks = std::mem::take(&mut self.tasks);
        if tokio::time::timeout(deadline, join_all(&mut tasks))
            .await
            .is_err()
        {
            let _ = self.abandon.send(true);
            if tokio::time::timeout(ABANDON_GRACE, join_all(&mut tasks))
                .await
                .is_err()
            {
                for t in &tasks {
                    t.abort();
                }
            }
        }
        NotifyStats {
            sinks: sinks
                .into_iter()
                .map(|(name, kind, counters)| Sink::stats_of(name, kind, 0, &counters))
                .collect(),
            dead_letters_lost: self.dead_lost.load(Ordering::Relaxed),
        }
    }
}

impl Sink {
    fn stats(&self, queued: usize) -> SinkStats {
        Sink::stats_of(self.name.clone(), self.kind, queued, &self.counters)
    }

    fn stats_of(name: String, kind: &'static str, queued: usize, c: &Counters) -> SinkStats {
        let load = |c: &AtomicU64| c.load(Ordering::Relaxed);
        SinkStats {
            name,
            kind,
            queued,
            sent: load(&c.sent),
            failed: load(&c.failed),
            retried: load(&c.retried),
            dropped: load(&c.dropped),
            dead_lettered: load(&c.dead_lettered),
        }
    }
}

/// Waits for every task still running, leaving the handles in place so they can still be
/// aborted if this is cut short.
async fn join_all(tasks: &mut [JoinHandle<()>]) {
    for t in tasks.iter_mut() {
        if !t.is_finished() {
            let _ = t.await;
        }
    }
}
