//! The embedded store: one SQLite file in WAL mode (readers never wait for the writer),
//! its schema brought up to date by numbered migrations at open.

use crate::token::{hash_secret, new_secret};
use crate::{
    AuditEntry, AuditQuery, AuditRecord, DetectionQuery, DetectionState, DetectionUpdate,
    MinutePoint, MitigationQuery, NewToken, PruneStats, Result, Retention, Scope, Store,
    StoreError, StoredDetection, TimelineEntry, TokenInfo, TopEntry, TrafficSample, TrafficSummary,
    Volume,
};
use rampart_model::{Detection, Direction, Mitigation, Role, Timestamp};
use rusqlite::{params, Connection, OptionalExtension, Row};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

/// The database file inside the store directory.
pub const DB_FILE: &str = "rampart.db";

/// Schema versions, in order: migration `i` brings `user_version` from `i` to `i + 1`.
/// Never edit a released one; append.
const MIGRATIONS: &[&str] = &[
    // 1: detections and timelines, audit, traffic rollups, tokens.
    "CREATE TABLE detections (
        id INTEGER PRIMARY KEY,
        kind TEXT NOT NULL,
        state TEXT NOT NULL,
        target TEXT NOT NULL,
        source TEXT,
        direction TEXT,
        start_ns INTEGER NOT NULL,
        end_ns INTEGER,
        updated_ns INTEGER NOT NULL,
        body TEXT NOT NULL
    );
    CREATE INDEX detections_by_state ON detections (state, id);
    CREATE INDEX detections_by_kind ON detections (kind, id);
    CREATE INDEX detections_by_end ON detections (end_ns);
    CREATE TABLE timeline (
        id INTEGER PRIMARY KEY,
        detection_id INTEGER NOT NULL REFERENCES detections (id) ON DELETE CASCADE,
        at_ns INTEGER NOT NULL,
        event TEXT NOT NULL,
        summary TEXT NOT NULL,
        detail TEXT NOT NULL
    );
    CREATE INDEX timeline_by_detection ON timeline (detection_id, id);
    CREATE TABLE audit (
        id INTEGER PRIMARY KEY,
        at_ns INTEGER NOT NULL,
        actor TEXT NOT NULL,
        action TEXT NOT NULL,
        subject TEXT NOT NULL,
        detection_id INTEGER,
        result TEXT NOT NULL,
        detail TEXT NOT NULL
    );
    CREATE INDEX audit_by_time ON audit (at_ns);
    CREATE TABLE traffic (
        minute INTEGER NOT NULL,
        scope INTEGER NOT NULL,
        key TEXT NOT NULL,
        direction INTEGER NOT NULL,
        packets INTEGER NOT NULL,
        bytes INTEGER NOT NULL,
        flows INTEGER NOT NULL,
        PRIMARY KEY (minute, scope, key, direction)
    ) WITHOUT ROWID;
    CREATE TABLE tokens (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL,
        role TEXT NOT NULL,
        hash BLOB NOT NULL UNIQUE,
        created_ns INTEGER NOT NULL,
        last_used_ns INTEGER,
        revoked INTEGER NOT NULL DEFAULT 0
    );",
    // 2: mitigations (blackholes, FlowSpec rules, diversions, bans) with their state.
    "CREATE TABLE mitigations (
        id INTEGER PRIMARY KEY,
        kind TEXT NOT NULL,
        target TEXT NOT NULL,
        state TEXT NOT NULL,
        detection_id INTEGER,
        dry_run INTEGER NOT NULL,
        created_ns INTEGER NOT NULL,
        expires_ns INTEGER NOT NULL,
        updated_ns INTEGER NOT NULL,
        body TEXT NOT NULL
    );
    CREATE INDEX mitigations_by_state ON mitigations (state, id);
    CREATE INDEX mitigations_by_detection ON mitigations (detection_id);",
];

/// Listings return at most this many rows, whatever the query asks.
const MAX_LIMIT: usize = 10_000;

/// `last_used` of a token is written at most this often.
const LAST_USED_EVERY_NS: u64 = 60_000_000_000;

/// SQLite, embedded. Opening it creates the directory and the file if needed and migrates
/// the schema; several processes (the daemon, `rampart token create`) may open one file.
#[derive(Debug)]
pub struct SqliteStore {
    conn: Mutex<Connection>,
    path: PathBuf,
}

fn sql(what: &'static str) -> impl FnOnce(rusqlite::Error) -> StoreError {
    move |source| StoreError::Sqlite { what, source }
}

fn ns(t: Timestamp) -> i64 {
    i64::try_from(t.as_nanos()).unwrap_or(i64::MAX)
}

fn ts(v: i64) -> Timestamp {
    Timestamp::from_nanos(u64::try_from(v).unwrap_or(0))
}

fn dir_code(d: Direction) -> i64 {
    match d {
        Direction::Inbound => 0,
        Direction::Outbound => 1,
    }
}

fn dir_from_code(c: i64) -> Direction {
    if c == 1 {
        Direction::Outbound
    } else {
        Direction::Inbound
    }
}

fn dir_from_str(s: &str) -> Option<Direction> {
    match s {
        "inbound" => Some(Direction::Inbound),
        "outbound" => Some(Direction::Outbound),
        _ => None,
    }
}

fn limit(n: usize) -> i64 {
    n.clamp(1, MAX_LIMIT) as i64
}

/// The columns the API filters on, taken from the detection itself.
struct Indexed {
    kind: &'static str,
    target: String,
    source: Option<String>,
    direction: Direction,
    start: Timestamp,
    end: Option<Timestamp>,
}

fn indexed(d: &Detection) -> Indexed {
    match d {
        Detection::Ddos(a) => Indexed {
            kind: "ddos",
            target: a.target.to_string(),
            source: None,
            direction: a.direction,
            start: a.start,
            end: a.end,
        },
        Detection::Scan(s) => Indexed {
            kind: "scan",
            target: s.target.to_string(),
            source: Some(s.source.to_string()),
            direction: s.direction,
            start: s.start,
            end: s.end,
        },
        d => Indexed {
            kind: d.kind(),
            target: d.address().map(|c| c.to_string()).unwrap_or_default(),
            source: d.source().map(|a| a.to_string()),
            direction: d.direction(),
            start: d.start(),
            end: d.end(),
        },
    }
}

impl SqliteStore {
    /// Opens (or makes) `dir/rampart.db`.
    pub fn open(dir: &Path) -> Result<Self> {
        std::fs::create_dir_all(dir).map_err(|e| {
            StoreError::Invalid(format!("{}: cannot make the directory: {e}", dir.display()))
        })?;
        let path = dir.join(DB_FILE);
        let conn = Connection::open(&path).map_err(sql("opening the database"))?;
        Self::setup(conn, path)
    }

    /// A private database in memory, for tests.
    pub fn in_memory() -> Result<Self> {
        let conn = Connection::open_in_memory().map_err(sql("opening the database"))?;
        Self::setup(conn, PathBuf::from(":memory:"))
    }

    fn setup(mut conn: Connection, path: PathBuf) -> Result<Self> {
        conn.busy_timeout(Duration::from_secs(10))
            .map_err(sql("setting the busy timeout"))?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(sql("turning on WAL"))?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(sql("setting synchronous"))?;
        conn.pragma_update(None, "foreign_keys", "ON")
            .map_err(sql("turning on foreign keys"))?;
        migrate(&mut conn)?;
        Ok(SqliteStore {
            conn: Mutex::new(conn),
            path,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The schema version in force.
    pub fn schema_version(&self) -> Result<u32> {
        self.conn()
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(sql("reading the schema version"))
    }

    fn conn(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock leaves SQLite consistent (statements are atomic).
        self.conn.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn timeline_of(conn: &Connection, id: u64) -> Result<Vec<TimelineEntry>> {
        let mut st = conn
            .prepare_cached(
                "SELECT at_ns, event, summary, detail FROM timeline
                 WHERE detection_id = ?1 ORDER BY id",
            )
            .map_err(sql("reading a timeline"))?;
        let rows = st
            .query_map([id as i64], |r| {
                Ok(TimelineEntry {
                    at: ts(r.get(0)?),
                    event: r.get(1)?,
                    summary: r.get(2)?,
                    detail: json(&r.get::<_, String>(3)?),
                })
            })
            .map_err(sql("reading a timeline"))?;
        rows.collect::<rusqlite::Result<_>>()
            .map_err(sql("reading a timeline"))
    }
}

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or(Value::Null)
}

fn migrate(conn: &mut Connection) -> Result<()> {
    let version: u32 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(sql("reading the schema version"))?;
    if version as usize > MIGRATIONS.len() {
        return Err(StoreError::Invalid(format!(
            "the database has schema version {version}, newer than this rampart knows ({}); \
             use a newer rampart or another store.path",
            MIGRATIONS.len()
        )));
    }
    for (i, step) in MIGRATIONS.iter().enumerate().skip(version as usize) {
        let tx = conn.transaction().map_err(sql("starting a migration"))?;
        tx.execute_batch(step)
            .map_err(sql("migrating the schema"))?;
        tx.pragma_update(None, "user_version", (i + 1) as u32)
            .map_err(sql("recording the schema version"))?;
        tx.commit().map_err(sql("committing a migration"))?;
    }
    Ok(())
}

fn detection_row(r: &Row<'_>) -> rusqlite::Result<StoredDetection> {
    let state: String = r.get(2)?;
    let direction: Option<String> = r.get(5)?;
    Ok(StoredDetection {
        id: r.get::<_, i64>(0)? as u64,
        kind: r.get(1)?,
        state: DetectionState::parse(&state).unwrap_or(DetectionState::Ended),
        target: r.get(3)?,
        source: r.get(4)?,
        direction: direction.as_deref().and_then(dir_from_str),
        start: ts(r.get(6)?),
        end: r.get::<_, Option<i64>>(7)?.map(ts),
        updated: ts(r.get(8)?),
        body: json(&r.get::<_, String>(9)?),
        timeline: Vec::new(),
    })
}

const DETECTION_COLUMNS: &str =
    "id, kind, state, target, source, direction, start_ns, end_ns, updated_ns, body";

fn token_row(r: &Row<'_>) -> rusqlite::Result<TokenInfo> {
    let role: String = r.get(2)?;
    Ok(TokenInfo {
        id: r.get::<_, i64>(0)? as u64,
        name: r.get(1)?,
        role: role.parse().unwrap_or(Role::Viewer),
        created: ts(r.get(3)?),
        last_used: r.get::<_, Option<i64>>(4)?.map(ts),
    })
}

impl Store for SqliteStore {
    fn save_detection(&self, u: &DetectionUpdate<'_>) -> Result<u64> {
        let ix = indexed(u.detection);
        let body = serde_json::to_string(u.detection)
            .map_err(|e| StoreError::Invalid(format!("detection to JSON: {e}")))?;
        let mut conn = self.conn();
        let tx = conn.transaction().map_err(sql("saving a detection"))?;
        let values = (
            ix.kind,
            u.state.as_str(),
            ix.target,
            ix.source,
            ix.direction.as_str(),
            ns(ix.start),
            ix.end.map(ns),
            ns(u.entry.at),
            body,
        );
        let id = match u.id {
            Some(id) => {
                let n = tx
                    .execute(
                        "UPDATE detections SET kind = ?1, state = ?2, target = ?3, source = ?4,
                         direction = ?5, start_ns = ?6, end_ns = ?7, updated_ns = ?8, body = ?9
                         WHERE id = ?10",
                        params![
                            values.0, values.1, values.2, values.3, values.4, values.5, values.6,
                            values.7, values.8, id as i64
                        ],
                    )
                    .map_err(sql("updating a detection"))?;
                if n == 0 {
                    return Err(StoreError::Invalid(format!("no detection {id} to update")));
                }
                id
            }
            None => {
                tx.execute(
                    "INSERT INTO detections
                     (kind, state, target, source, direction, start_ns, end_ns, updated_ns, body)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                    values,
                )
                .map_err(sql("inserting a detection"))?;
                tx.last_insert_rowid() as u64
            }
        };
        insert_timeline(&tx, id, &u.entry)?;
        tx.commit().map_err(sql("saving a detection"))?;
        Ok(id)
    }

    fn end_detection(&self, id: u64, end: Timestamp, entry: &TimelineEntry) -> Result<bool> {
        let mut conn = self.conn();
        let tx = conn.transaction().map_err(sql("ending a detection"))?;
        let n = tx
            .execute(
                "UPDATE detections SET state = 'ended', end_ns = ?1, updated_ns = ?2,
                 body = json_set(body, '$.end', ?3)
                 WHERE id = ?4 AND state = 'active'",
                params![ns(end), ns(entry.at), end.to_string(), id as i64],
            )
            .map_err(sql("ending a detection"))?;
        if n > 0 {
            insert_timeline(&tx, id, entry)?;
        }
        tx.commit().map_err(sql("ending a detection"))?;
        Ok(n > 0)
    }

    fn add_timeline(&self, id: u64, entry: &TimelineEntry) -> Result<()> {
        let conn = self.conn();
        insert_timeline(&conn, id, entry)
    }

    fn detection(&self, id: u64) -> Result<Option<StoredDetection>> {
        let conn = self.conn();
        let found = conn
            .query_row(
                &format!("SELECT {DETECTION_COLUMNS} FROM detections WHERE id = ?1"),
                [id as i64],
                detection_row,
            )
            .optional()
            .map_err(sql("reading a detection"))?;
        match found {
            Some(mut d) => {
                d.timeline = Self::timeline_of(&conn, d.id)?;
                Ok(Some(d))
            }
            None => Ok(None),
        }
    }

    fn detections(&self, q: &DetectionQuery) -> Result<Vec<StoredDetection>> {
        let conn = self.conn();
        let mut st = conn
            .prepare_cached(&format!(
                "SELECT {DETECTION_COLUMNS} FROM detections
                 WHERE (?1 IS NULL OR kind = ?1) AND (?2 IS NULL OR state = ?2)
                   AND (?3 IS NULL OR end_ns IS NULL OR end_ns >= ?3)
                   AND (?4 IS NULL OR start_ns <= ?4)
                   AND (?5 IS NULL OR id < ?5)
                 ORDER BY id DESC LIMIT ?6"
            ))
            .map_err(sql("listing detections"))?;
        let rows = st
            .query_map(
                params![
                    q.kind,
                    q.state.map(DetectionState::as_str),
                    q.since.map(ns),
                    q.until.map(ns),
                    q.before_id.map(|i| i as i64),
                    limit(q.limit)
                ],
                detection_row,
            )
            .map_err(sql("listing detections"))?;
        let mut out: Vec<StoredDetection> = rows
            .collect::<rusqlite::Result<_>>()
            .map_err(sql("listing detections"))?;
        if q.with_timeline {
            for d in &mut out {
                d.timeline = Self::timeline_of(&conn, d.id)?;
            }
        }
        Ok(out)
    }

    fn append_audit(&self, e: &AuditEntry) -> Result<u64> {
        let conn = self.conn();
        conn.execute(
            "INSERT INTO audit (at_ns, actor, action, subject, detection_id, result, detail)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                ns(e.at),
                e.actor,
                e.action,
                e.subject,
                e.detection_id.map(|i| i as i64),
                e.result,
                e.detail.to_string()
            ],
        )
        .map_err(sql("appending to the audit log"))?;
        Ok(conn.last_insert_rowid() as u64)
    }

    fn audit(&self, q: &AuditQuery) -> Result<Vec<AuditRecord>> {
        let conn = self.conn();
        let mut st = conn
            .prepare_cached(
                "SELECT id, at_ns, actor, action, subject, detection_id, result, detail
                 FROM audit
                 WHERE (?1 IS NULL OR at_ns >= ?1) AND (?2 IS NULL OR at_ns <= ?2)
                   AND (?3 IS NULL OR id < ?3)
                 ORDER BY id DESC LIMIT ?4",
            )
            .map_err(sql("reading the audit log"))?;
        let rows = st
            .query_map(
                params![
                    q.since.map(ns),
                    q.until.map(ns),
                    q.before_id.map(|i| i as i64),
                    limit(q.limit)
                ],
                |r| {
                    Ok(AuditRecord {
                        id: r.get::<_, i64>(0)? as u64,
                        entry: AuditEntry {
                            at: ts(r.get(1)?),
                            actor: r.get(2)?,
                            action: r.get(3)?,
                            subject: r.get(4)?,
                            detection_id: r.get::<_, Option<i64>>(5)?.map(|i| i as u64),
                            result: r.get(6)?,
                            detail: json(&r.get::<_, String>(7)?),
                        },
                    })
                },
            )
            .map_err(sql("reading the audit log"))?;
        rows.collect::<rusqlite::Result<_>>()
            .map_err(sql("reading the audit log"))
    }

    fn add_traffic(&self, rows: &[TrafficSample]) -> Result<()> {
        let mut conn = self.conn();
        let tx = conn.transaction().map_err(sql("adding traffic"))?;
        {
            let mut st = tx
                .prepare_cached(
                    "INSERT INTO traffic (minute, scope, key, direction, packets, bytes, flows)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                     ON CONFLICT (minute, scope, key, direction) DO UPDATE SET
                       packets = packets + excluded.packets, bytes = bytes + excluded.bytes,
                       flows = flows + excluded.flows",
                )
                .map_err(sql("adding traffic"))?;
            for r in rows {
                st.execute(params![
                    r.minute as i64,
                    r.scope.code(),
                    r.key,
                    dir_code(r.direction),
                    r.packets.min(i64::MAX as u64) as i64,
                    r.bytes.min(i64::MAX as u64) as i64,
                    r.flows.min(i64::MAX as u64) as i64
                ])
                .map_err(sql("adding traffic"))?;
            }
        }
        tx.commit().map_err(sql("adding traffic"))
    }

    fn traffic(&self, from: Timestamp, to: Timestamp, top: usize) -> Result<TrafficSummary> {
        let (m0, m1) = ((from.as_secs() / 60) as i64, (to.as_secs() / 60) as i64);
        let conn = self.conn();
        let volume = |r: &Row<'_>, at: usize| -> rusqlite::Result<Volume> {
            Ok(Volume {
                packets: r.get::<_, i64>(at)? as u64,
                bytes: r.get::<_, i64>(at + 1)? as u64,
                flows: r.get::<_, i64>(at + 2)? as u64,
            })
        };
        let mut series: BTreeMap<i64, MinutePoint> = BTreeMap::new();
        let (mut inbound, mut outbound) = (Volume::default(), Volume::default());
        {
            let mut st = conn
                .prepare_cached(
                    "SELECT minute, direction, packets, bytes, flows FROM traffic
                     WHERE scope = 0 AND minute BETWEEN ?1 AND ?2 ORDER BY minute",
                )
                .map_err(sql("reading traffic"))?;
            let mut rows = st.query([m0, m1]).map_err(sql("reading traffic"))?;
            while let Some(r) = rows.next().map_err(sql("reading traffic"))? {
                let minute: i64 = r.get(0).map_err(sql("reading traffic"))?;
                let v = volume(r, 2).map_err(sql("reading traffic"))?;
                let p = series.entry(minute).or_insert_with(|| MinutePoint {
                    minute: Timestamp::from_secs(minute as u64 * 60),
                    inbound: Volume::default(),
                    outbound: Volume::default(),
                });
                let (slot, total) = match dir_from_code(r.get(1).map_err(sql("reading traffic"))?) {
                    Direction::Inbound => (&mut p.inbound, &mut inbound),
                    Direction::Outbound => (&mut p.outbound, &mut outbound),
                };
                *slot = v;
                total.packets += v.packets;
                total.bytes += v.bytes;
                total.flows += v.flows;
            }
        }
        let top_of = |scope: Scope| -> Result<Vec<TopEntry>> {
            let mut st = conn
                .prepare_cached(
                    "SELECT key, direction, SUM(packets), SUM(bytes), SUM(flows) FROM traffic
                     WHERE scope = ?1 AND minute BETWEEN ?2 AND ?3
                     GROUP BY key, direction ORDER BY SUM(bytes) DESC LIMIT ?4",
                )
                .map_err(sql("reading top traffic"))?;
            let rows = st
                .query_map(params![scope.code(), m0, m1, limit(top)], |r| {
                    Ok(TopEntry {
                        key: r.get(0)?,
                        direction: dir_from_code(r.get(1)?),
                        volume: volume(r, 2)?,
                    })
                })
                .map_err(sql("reading top traffic"))?;
            rows.collect::<rusqlite::Result<_>>()
                .map_err(sql("reading top traffic"))
        };
        Ok(TrafficSummary {
            from,
            to,
            inbound,
            outbound,
            series: series.into_values().collect(),
            top_hosts: top_of(Scope::Host)?,
            top_prefixes: top_of(Scope::Prefix)?,
        })
    }

    fn create_token(&self, name: &str, role: Role, now: Timestamp) -> Result<NewToken> {
        if name.is_empty() || name.len() > 128 || name.chars().any(char::is_control) {
            return Err(StoreError::Invalid(
                "a token name is 1 to 128 printable characters".into(),
            ));
        }
        let secret = new_secret()
            .map_err(|e| StoreError::Invalid(format!("no randomness from the OS: {e}")))?;
        let conn = self.conn();
        conn.execute(
            "INSERT INTO tokens (name, role, hash, created_ns) VALUES (?1, ?2, ?3, ?4)",
            params![name, role.as_str(), &hash_secret(&secret)[..], ns(now)],
        )
        .map_err(sql("creating a token"))?;
        Ok(NewToken {
            info: TokenInfo {
                id: conn.last_insert_rowid() as u64,
                name: name.to_string(),
                role,
                created: now,
                last_used: None,
            },
            secret,
        })
    }

    fn authenticate(&self, secret: &str, now: Timestamp) -> Result<Option<TokenInfo>> {
        let conn = self.conn();
        let found = conn
            .query_row(
                "SELECT id, name, role, created_ns, last_used_ns FROM tokens
                 WHERE hash = ?1 AND revoked = 0",
                [&hash_secret(secret)[..]],
                token_row,
            )
            .optional()
            .map_err(sql("checking a token"))?;
        if let Some(t) = &found {
            let stale = t
                .last_used
                .is_none_or(|u| now.as_nanos().saturating_sub(u.as_nanos()) >= LAST_USED_EVERY_NS);
            if stale {
                conn.execute(
                    "UPDATE tokens SET last_used_ns = ?1 WHERE id = ?2",
                    params![ns(now), t.id as i64],
                )
                .map_err(sql("noting a token's use"))?;
            }
        }
        Ok(found)
    }

    fn tokens(&self) -> Result<Vec<TokenInfo>> {
        let conn = self.conn();
        let mut st = conn
            .prepare_cached(
                "SELECT id, name, role, created_ns, last_used_ns FROM tokens
                 WHERE revoked = 0 ORDER BY id",
            )
            .map_err(sql("listing tokens"))?;
        let rows = st.query_map([], token_row).map_err(sql("listing tokens"))?;
        rows.collect::<rusqlite::Result<_>>()
            .map_err(sql("listing tokens"))
    }

    fn revoke_token(&self, id: u64) -> Result<bool> {
        let n = self
            .conn()
            .execute(
                "UPDATE tokens SET revoked = 1 WHERE id = ?1 AND revoked = 0",
                [id as i64],
            )
            .map_err(sql("revoking a token"))?;
        Ok(n > 0)
    }

    fn save_mitigation(&self, m: &Mitigation, now: Timestamp) -> Result<()> {
        let body = serde_json::to_string(m)
            .map_err(|e| StoreError::Invalid(format!("mitigation to JSON: {e}")))?;
        let state = serde_json::to_value(m.state)
            .ok()
            .and_then(|v| v.as_str().map(String::from))
            .unwrap_or_default();
        self.conn()
            .execute(
                "INSERT INTO mitigations
                 (id, kind, target, state, detection_id, dry_run, created_ns, expires_ns,
                  updated_ns, body)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
                 ON CONFLICT (id) DO UPDATE SET state = excluded.state,
                   expires_ns = excluded.expires_ns, updated_ns = excluded.updated_ns,
                   body = excluded.body",
                params![
                    m.id as i64,
                    m.kind.as_str(),
                    m.target.to_string(),
                    state,
                    m.detection_id.map(|i| i as i64),
                    m.dry_run,
                    ns(m.created),
                    ns(m.expires),
                    ns(now),
                    body
                ],
            )
            .map_err(sql("saving a mitigation"))?;
        Ok(())
    }

    fn mitigations(&self, q: &MitigationQuery) -> Result<Vec<Mitigation>> {
        let conn = self.conn();
        let mut st = conn
            .prepare_cached(
                "SELECT body FROM mitigations
                 WHERE (?1 IS NULL OR state = ?1) AND (?2 IS NULL OR detection_id = ?2)
                   AND (?3 IS NULL OR id < ?3)
                 ORDER BY id DESC LIMIT ?4",
            )
            .map_err(sql("listing mitigations"))?;
        let rows = st
            .query_map(
                params![
                    q.state,
                    q.detection_id.map(|i| i as i64),
                    q.before_id.map(|i| i as i64),
                    limit(q.limit)
                ],
                |r| r.get::<_, String>(0),
            )
            .map_err(sql("listing mitigations"))?;
        let mut out = Vec::new();
        for body in rows {
            let body = body.map_err(sql("listing mitigations"))?;
            let m = serde_json::from_str(&body)
                .map_err(|e| StoreError::Invalid(format!("a stored mitigation: {e}")))?;
            out.push(m);
        }
        Ok(out)
    }

    fn max_mitigation_id(&self) -> Result<u64> {
        self.conn()
            .query_row("SELECT COALESCE(MAX(id), 0) FROM mitigations", [], |r| {
                r.get::<_, i64>(0)
            })
            .map(|n| n as u64)
            .map_err(sql("reading mitigation ids"))
    }

    fn prune(&self, now: Timestamp, r: &Retention) -> Result<PruneStats> {
        let before = |days: u32| now.saturating_sub_millis(u64::from(days) * 86_400_000);
        let conn = self.conn();
        let detections = conn
            .execute(
                "DELETE FROM detections WHERE state = 'ended' AND end_ns < ?1",
                [ns(before(r.detections_days))],
            )
            .map_err(sql("pruning detections"))? as u64;
        let traffic_rows = conn
            .execute(
                "DELETE FROM traffic WHERE minute < ?1",
                [(before(r.traffic_days).as_secs() / 60) as i64],
            )
            .map_err(sql("pruning traffic"))? as u64;
        conn.execute(
            "DELETE FROM mitigations WHERE state = 'withdrawn' AND updated_ns < ?1",
            [ns(before(r.detections_days))],
        )
        .map_err(sql("pruning mitigations"))?;
        let audit_entries = conn
            .execute(
                "DELETE FROM audit WHERE at_ns < ?1",
                [ns(before(r.audit_days))],
            )
            .map_err(sql("pruning the audit log"))? as u64;
        Ok(PruneStats {
            detections,
            traffic_rows,
            audit_entries,
        })
    }
}

fn insert_timeline(conn: &Connection, id: u64, e: &TimelineEntry) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO timeline (detection_id, at_ns, event, summary, detail)
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )
    .and_then(|mut st| {
        st.execute(params![
            id as i64,
            ns(e.at),
            e.event,
            e.summary,
            e.detail.to_string()
        ])
    })
    .map_err(sql("adding to a timeline"))?;
    Ok(())
}
