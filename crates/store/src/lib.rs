//! What `rampart serve` keeps: detections (attacks, scans) with their timelines, the audit
//! log, per-minute traffic rollups per protected host and prefix, and API tokens. One trait,
//! [`Store`], so that the daemon does not care where it goes; [`SqliteStore`] (embedded, the
//! default) implements it.

mod sqlite;
mod token;

pub use sqlite::SqliteStore;
pub use token::{hash_secret, new_secret, TOKEN_PREFIX};

use rampart_model::{Detection, Direction, Mitigation, Role, Timestamp};
use serde::Serialize;
use serde_json::Value;

/// Why a store operation failed. Says what was being done.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{what}: {source}")]
    Sqlite {
        what: &'static str,
        #[source]
        source: rusqlite::Error,
    },
    #[error("{0}")]
    Invalid(String),
}

pub type Result<T> = std::result::Result<T, StoreError>;

/// Where a detection is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DetectionState {
    Active,
    Ended,
}

impl DetectionState {
    pub const fn as_str(self) -> &'static str {
        match self {
            DetectionState::Active => "active",
            DetectionState::Ended => "ended",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "active" => Some(DetectionState::Active),
            "ended" => Some(DetectionState::Ended),
            _ => None,
        }
    }
}

/// One step in a detection's timeline: started, updated, ended, restored after a restart,
/// an action taken.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TimelineEntry {
    pub at: Timestamp,
    pub event: String,
    /// A sentence a person reads at a glance.
    pub summary: String,
    /// Numbers behind the summary (peak, vectors, action id...).
    pub detail: Value,
}

/// A new state of a detection, saved with one timeline entry.
#[derive(Clone, Debug)]
pub struct DetectionUpdate<'a> {
    /// `None` for a new detection: the store assigns its id.
    pub id: Option<u64>,
    pub detection: &'a Detection,
    pub state: DetectionState,
    pub entry: TimelineEntry,
}

/// A detection as kept: its latest state, with the fields the API filters on.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct StoredDetection {
    pub id: u64,
    pub kind: String,
    pub state: DetectionState,
    pub target: String,
    pub source: Option<String>,
    pub direction: Option<Direction>,
    pub start: Timestamp,
    pub end: Option<Timestamp>,
    pub updated: Timestamp,
    /// The detection as `rampart analyze --format json` writes it.
    pub body: Value,
    /// Oldest first. Empty in listings that do not ask for it.
    pub timeline: Vec<TimelineEntry>,
}

/// Which detections to list, newest first.
#[derive(Clone, Debug, Default)]
pub struct DetectionQuery {
    /// `ddos`, `scan`, ...; all kinds when `None`.
    pub kind: Option<String>,
    pub state: Option<DetectionState>,
    /// Detections active at any moment in [since, until].
    pub since: Option<Timestamp>,
    pub until: Option<Timestamp>,
    /// Only ids below this one (paging).
    pub before_id: Option<u64>,
    pub limit: usize,
    pub with_timeline: bool,
}

/// An entry of the audit log: who did what, to what, why, with what result.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AuditEntry {
    pub at: Timestamp,
    /// `system`, `token:NAME`, `cli`...
    pub actor: String,
    /// `token.create`, `mitigation.announce`, `config.reload`...
    pub action: String,
    /// What it was done to: an address, a token name, a file.
    pub subject: String,
    /// The detection that caused it, if any.
    pub detection_id: Option<u64>,
    /// `ok`, `refused`, `failed`, `dry_run`...
    pub result: String,
    pub detail: Value,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AuditRecord {
    pub id: u64,
    #[serde(flatten)]
    pub entry: AuditEntry,
}

#[derive(Clone, Debug, Default)]
pub struct AuditQuery {
    pub since: Option<Timestamp>,
    pub until: Option<Timestamp>,
    pub before_id: Option<u64>,
    pub limit: usize,
}

/// What a traffic rollup row counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// Everything toward (or from) the protected space; `key` is empty.
    Total,
    /// One protected prefix (`prefix_len_v4/v6`); `key` is the CIDR.
    Prefix,
    /// One protected address; `key` is the address.
    Host,
}

impl Scope {
    const fn code(self) -> i64 {
        match self {
            Scope::Total => 0,
            Scope::Prefix => 1,
            Scope::Host => 2,
        }
    }
}

/// Traffic of one minute in one scope and direction, scaled by sampling rates.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TrafficSample {
    /// Unix minute: seconds / 60.
    pub minute: u64,
    pub scope: Scope,
    pub key: String,
    pub direction: Direction,
    pub packets: u64,
    pub bytes: u64,
    pub flows: u64,
}

/// Packets, bytes and flows, summed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Volume {
    pub packets: u64,
    pub bytes: u64,
    pub flows: u64,
}

/// One minute of totals, for charts.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct MinutePoint {
    pub minute: Timestamp,
    pub inbound: Volume,
    pub outbound: Volume,
}

/// A protected host or prefix and its volume over the range.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TopEntry {
    pub key: String,
    pub direction: Direction,
    #[serde(flatten)]
    pub volume: Volume,
}

/// Traffic over a time range: totals, the per-minute series, the busiest hosts and prefixes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TrafficSummary {
    pub from: Timestamp,
    pub to: Timestamp,
    pub inbound: Volume,
    pub outbound: Volume,
    pub series: Vec<MinutePoint>,
    pub top_hosts: Vec<TopEntry>,
    pub top_prefixes: Vec<TopEntry>,
}

/// An API token as listed: never its secret.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TokenInfo {
    pub id: u64,
    pub name: String,
    pub role: Role,
    pub created: Timestamp,
    pub last_used: Option<Timestamp>,
}

/// A token just made: the only time its secret is known.
#[derive(Clone, Debug)]
pub struct NewToken {
    pub info: TokenInfo,
    pub secret: String,
}

/// Which mitigations to list, newest first.
#[derive(Clone, Debug, Default)]
pub struct MitigationQuery {
    /// `pending`, `active` or `withdrawn`; all when `None`.
    pub state: Option<String>,
    pub detection_id: Option<u64>,
    pub before_id: Option<u64>,
    pub limit: usize,
}

/// How long things are kept, in days.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Retention {
    pub detections_days: u32,
    pub traffic_days: u32,
    pub audit_days: u32,
}

/// What a prune deleted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct PruneStats {
    pub detections: u64,
    pub traffic_rows: u64,
    pub audit_entries: u64,
}

/// Persistence for the daemon. Methods block (run them off the async executor); every
/// implementation is safe to share between threads.
pub trait Store: Send + Sync {
    /// Saves a detection's new state and appends its timeline entry; returns its id.
    fn save_detection(&self, update: &DetectionUpdate<'_>) -> Result<u64>;
    /// Ends an active detection that its detector no longer knows (a restart lost it): sets
    /// its end time and state, and appends the entry. False when it was not active.
    fn end_detection(&self, id: u64, end: Timestamp, entry: &TimelineEntry) -> Result<bool>;
    /// Appends a timeline entry (an action, a note) to a detection.
    fn add_timeline(&self, id: u64, entry: &TimelineEntry) -> Result<()>;
    /// One detection with its whole timeline.
    fn detection(&self, id: u64) -> Result<Option<StoredDetection>>;
    fn detections(&self, query: &DetectionQuery) -> Result<Vec<StoredDetection>>;

    fn append_audit(&self, entry: &AuditEntry) -> Result<u64>;
    fn audit(&self, query: &AuditQuery) -> Result<Vec<AuditRecord>>;

    /// Adds to the rollups (rows of the same minute, scope, key and direction sum up).
    fn add_traffic(&self, rows: &[TrafficSample]) -> Result<()>;
    fn traffic(&self, from: Timestamp, to: Timestamp, top: usize) -> Result<TrafficSummary>;

    fn create_token(&self, name: &str, role: Role, now: Timestamp) -> Result<NewToken>;
    /// The token whose secret this is, unless unknown or revoked. Notes when it was used
    /// (at most once a minute, so reads stay reads).
    fn authenticate(&self, secret: &str, now: Timestamp) -> Result<Option<TokenInfo>>;
    fn tokens(&self) -> Result<Vec<TokenInfo>>;
    /// Revokes by id; false when there was no such live token.
    fn revoke_token(&self, id: u64) -> Result<bool>;

    /// Saves a mitigation's current state (insert or update by its id).
    fn save_mitigation(&self, m: &Mitigation, now: Timestamp) -> Result<()>;
    fn mitigations(&self, query: &MitigationQuery) -> Result<Vec<Mitigation>>;
    /// The highest mitigation id ever saved (0 for none), so that ids never repeat.
    fn max_mitigation_id(&self) -> Result<u64>;

    /// Deletes what is older than the retention allows.
    fn prune(&self, now: Timestamp, retention: &Retention) -> Result<PruneStats>;
}
