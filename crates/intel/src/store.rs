//! Persistence for intelligence: indicators by feed, each feed's polling state, and the
//! TAXII server's collections (objects with their versions, status resources). Two traits,
//! one SQLite implementation in its own database file with its own migrations.

use crate::indicator::{Indicator, Tlp};
use crate::stix::fmt_micros;
use rampart_model::Timestamp;
use rusqlite::{params, params_from_iter, Connection, OptionalExtension};
use std::fmt::Write as _;
use std::path::Path;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

/// The database file inside the store directory.
pub const DB_FILE: &str = "intel.db";

const MIGRATIONS: &[&str] = &[
    // 1: indicators by feed, feed state, TAXII objects and status resources.
    "CREATE TABLE indicators (
        source TEXT NOT NULL,
        id TEXT NOT NULL,
        pattern TEXT NOT NULL,
        pattern_type TEXT NOT NULL,
        types TEXT NOT NULL,
        labels TEXT NOT NULL,
        name TEXT,
        valid_from_ns INTEGER NOT NULL,
        valid_until_ns INTEGER,
        confidence INTEGER,
        tlp TEXT NOT NULL,
        detect INTEGER NOT NULL,
        created_ns INTEGER NOT NULL,
        modified_ns INTEGER NOT NULL,
        first_seen_ns INTEGER NOT NULL,
        last_seen_ns INTEGER NOT NULL,
        sightings INTEGER NOT NULL DEFAULT 0,
        changed_ns INTEGER NOT NULL
    );
    CREATE UNIQUE INDEX indicators_by_id ON indicators (source, id);
    CREATE TABLE feed_state (
        name TEXT PRIMARY KEY,
        cursor TEXT NOT NULL,
        last_run_ns INTEGER NOT NULL,
        last_ok_ns INTEGER,
        last_error TEXT,
        indicators INTEGER NOT NULL
    );
    CREATE TABLE taxii_objects (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        collection TEXT NOT NULL,
        id TEXT NOT NULL,
        type TEXT NOT NULL,
        version TEXT NOT NULL,
        version_ns INTEGER NOT NULL,
        spec_version TEXT NOT NULL,
        date_added_ns INTEGER NOT NULL,
        latest INTEGER NOT NULL,
        first INTEGER NOT NULL,
        body TEXT NOT NULL
    );
    CREATE INDEX taxii_by_collection ON taxii_objects (collection, seq);
    CREATE UNIQUE INDEX taxii_by_id ON taxii_objects (collection, id, version_ns);
    CREATE TABLE taxii_status (
        id TEXT PRIMARY KEY,
        collection TEXT NOT NULL,
        created_ns INTEGER NOT NULL,
        body TEXT NOT NULL
    );
    CREATE INDEX taxii_status_by_time ON taxii_status (created_ns);",
    // 2: indicators clustered by (source, id) without a rowid: one B-tree to write per
    // indicator instead of a table and an index.
    "CREATE TABLE indicators_by_key (
        source TEXT NOT NULL,
        id TEXT NOT NULL,
        pattern TEXT NOT NULL,
        pattern_type TEXT NOT NULL,
        types TEXT NOT NULL,
        labels TEXT NOT NULL,
        name TEXT,
        valid_from_ns INTEGER NOT NULL,
        valid_until_ns INTEGER,
        confidence INTEGER,
        tlp TEXT NOT NULL,
        detect INTEGER NOT NULL,
        created_ns INTEGER NOT NULL,
        modified_ns INTEGER NOT NULL,
        first_seen_ns INTEGER NOT NULL,
        last_seen_ns INTEGER NOT NULL,
        sightings INTEGER NOT NULL DEFAULT 0,
        changed_ns INTEGER NOT NULL,
        PRIMARY KEY (source, id)
    ) WITHOUT ROWID;
    INSERT INTO indicators_by_key SELECT source, id, pattern, pattern_type, types, labels, name,
        valid_from_ns, valid_until_ns, confidence, tlp, detect, created_ns, modified_ns,
        first_seen_ns, last_seen_ns, sightings, changed_ns FROM indicators;
    DROP TABLE indicators;
    ALTER TABLE indicators_by_key RENAME TO indicators;",
];

/// Why a store operation failed. Says what was being done.
#[derive(Debug, thiserror::Error)]
pub enum IntelStoreError {
    #[error("intel store, {what}: {source}")]
    Sqlite {
        what: &'static str,
        #[source]
        source: rusqlite::Error,
    },
    #[error("intel store: {0}")]
    Invalid(String),
}

pub type Result<T> = std::result::Result<T, IntelStoreError>;

fn sql(what: &'static str) -> impl FnOnce(rusqlite::Error) -> IntelStoreError {
    move |source| IntelStoreError::Sqlite { what, source }
}

fn ns(t: Timestamp) -> i64 {
    i64::try_from(t.as_nanos()).unwrap_or(i64::MAX)
}

fn ts(v: i64) -> Timestamp {
    Timestamp::from_nanos(u64::try_from(v).unwrap_or(0))
}

/// Which indicators to list.
#[derive(Clone, Debug, Default)]
pub struct IndicatorQuery {
    pub source: Option<String>,
    /// Only those meant for detection.
    pub detect_only: bool,
    pub limit: usize,
    pub offset: usize,
}

/// An indicator as the matchers take it.
#[derive(Clone, Copy, Debug)]
pub struct Matchable<'a> {
    pub source: &'a str,
    pub id: &'a str,
    pub pattern: &'a str,
    pub valid_until: Option<Timestamp>,
    pub confidence: Option<u8>,
    pub tlp: Tlp,
}

/// What an upsert did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct UpsertStats {
    /// New or changed (a newer `modified`).
    pub written: u64,
    /// Known and unchanged: only `last_seen` moved.
    pub seen: u64,
}

/// A feed's polling state, kept across restarts.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FeedState {
    pub name: String,
    /// Where to resume: a TAXII `added_after`, MISP event timestamps... as JSON.
    pub cursor: String,
    pub last_run: Timestamp,
    pub last_ok: Option<Timestamp>,
    pub last_error: Option<String>,
    pub indicators: u64,
}

/// Indicators and feed state.
pub trait IndicatorStore: Send + Sync {
    /// Inserts or updates (by source and id; an older `modified` does not overwrite a newer
    /// one). Every indicator's `last_seen` becomes `now`.
    fn upsert_indicators(&self, inds: &[Indicator], now: Timestamp) -> Result<UpsertStats>;
    fn remove_indicators(&self, source: &str, ids: &[String]) -> Result<u64>;
    /// Deletes a feed's indicators not listed since `before` (stale ones).
    fn expire(&self, source: &str, before: Timestamp) -> Result<u64>;
    /// Deletes every indicator of a feed (a feed removed from the config).
    fn drop_source(&self, source: &str) -> Result<u64>;
    /// Sets `last_seen` to `now` for a feed's indicators carrying any of these labels (a
    /// MISP event still listed but unchanged).
    fn touch_labelled(&self, source: &str, labels: &[String], now: Timestamp) -> Result<u64>;
    fn indicators(&self, q: &IndicatorQuery) -> Result<Vec<Indicator>>;
    /// Every indicator, patterns parsed.
    fn for_each_indicator(&self, f: &mut dyn FnMut(Indicator)) -> Result<u64>;
    /// What the matchers need of every STIX indicator meant for detection, without the
    /// rest (the rebuild after each refresh reads millions of these).
    fn for_each_matchable(&self, f: &mut dyn FnMut(Matchable<'_>)) -> Result<u64>;
    fn count(&self, source: Option<&str>) -> Result<u64>;
    /// Counts matches of our traffic against an indicator.
    fn add_sightings(&self, source: &str, id: &str, n: u64) -> Result<()>;
    fn feed_state(&self, name: &str) -> Result<Option<FeedState>>;
    fn save_feed_state(&self, s: &FeedState) -> Result<()>;
}

/// An object to add to a TAXII collection.
#[derive(Clone, Debug)]
pub struct NewObject<'a> {
    pub id: &'a str,
    pub kind: &'a str,
    /// `modified`, else `created`; `None` uses the date added.
    pub version: Option<Timestamp>,
    pub spec_version: &'a str,
    pub body: &'a str,
}

/// What became of one added object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Added {
    pub id: String,
    /// The version string (RFC 3339).
    pub version: String,
    /// False when that id and version were already there (not an error in TAXII).
    pub new: bool,
}

/// The `match[version]` filter.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct VersionFilter {
    pub last: bool,
    pub first: bool,
    pub all: bool,
    pub exact: Vec<Timestamp>,
}

/// Which objects of a collection to read, in the order they were added.
#[derive(Clone, Debug, Default)]
pub struct ObjectQuery {
    pub ids: Vec<String>,
    pub types: Vec<String>,
    pub spec_versions: Vec<String>,
    pub versions: VersionFilter,
    pub added_after: Option<Timestamp>,
    /// Continue after this sequence number (the `next` of the last page).
    pub after_seq: Option<i64>,
    pub limit: usize,
    /// Leave bodies out (manifest and versions).
    pub without_bodies: bool,
}

/// One object of a page.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredObject {
    pub seq: i64,
    pub id: String,
    pub version: String,
    pub spec_version: String,
    pub date_added: Timestamp,
    pub body: String,
}

/// A page of objects, and whether more follow.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ObjectPage {
    pub objects: Vec<StoredObject>,
    pub more: bool,
}

/// The TAXII server's data.
pub trait TaxiiStore: Send + Sync {
    fn add_objects(
        &self,
        collection: &str,
        objects: &[NewObject<'_>],
        now: Timestamp,
    ) -> Result<Vec<Added>>;
    fn objects(&self, collection: &str, q: &ObjectQuery) -> Result<ObjectPage>;
    fn save_status(&self, id: &str, collection: &str, body: &str, now: Timestamp) -> Result<()>;
    fn status(&self, id: &str) -> Result<Option<(String, String)>>;
    /// Deletes status resources older than `before`.
    fn prune_status(&self, before: Timestamp) -> Result<u64>;
}

/// SQLite in WAL mode: one writer connection and one reader, so TAXII pages and list
/// queries never wait for an import.
#[derive(Debug)]
pub struct SqliteIntelStore {
    writer: Mutex<Connection>,
    reader: Mutex<Connection>,
    /// The last `date_added` handed out: every added object gets a later one, so that
    /// `added_after` paging never skips or repeats.
    last_added: Mutex<i64>,
}

fn lock(m: &Mutex<Connection>) -> MutexGuard<'_, Connection> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl SqliteIntelStore {
    /// Opens (creating it and its directory if needed) and migrates `path`.
    pub fn open(path: &Path) -> Result<Self> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| {
                IntelStoreError::Invalid(format!("cannot create {}: {e}", dir.display()))
            })?;
        }
        let writer = Connection::open(path).map_err(sql("open"))?;
        Self::setup(&writer)?;
        migrate(&writer)?;
        let reader = Connection::open(path).map_err(sql("open"))?;
        Self::setup(&reader)?;
        let last: i64 = writer
            .query_row(
                "SELECT COALESCE(MAX(date_added_ns), 0) FROM taxii_objects",
                [],
                |r| r.get(0),
            )
            .map_err(sql("read the last date added"))?;
        Ok(SqliteIntelStore {
            writer: Mutex::new(writer),
            reader: Mutex::new(reader),
            last_added: Mutex::new(last),
        })
    }

    /// A store in memory (tests, `rampart analyze`).
    pub fn in_memory() -> Result<Self> {
        // Two connections must share one database: a named shared-cache memory db.
        let name = format!(
            "file:intel-{}?mode=memory&cache=shared",
            uuid::Uuid::new_v4()
        );
        let open = || {
            Connection::open_with_flags(
                &name,
                rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE
                    | rusqlite::OpenFlags::SQLITE_OPEN_CREATE
                    | rusqlite::OpenFlags::SQLITE_OPEN_URI,
            )
            .map_err(sql("open in memory"))
        };
        let writer = open()?;
        migrate(&writer)?;
        let reader = open()?;
        for c in [&writer, &reader] {
            c.busy_timeout(Duration::from_secs(5))
                .map_err(sql("busy timeout"))?;
        }
        Ok(SqliteIntelStore {
            writer: Mutex::new(writer),
            reader: Mutex::new(reader),
            last_added: Mutex::new(0),
        })
    }

    fn setup(c: &Connection) -> Result<()> {
        c.busy_timeout(Duration::from_secs(5))
            .map_err(sql("busy timeout"))?;
        c.pragma_update(None, "journal_mode", "WAL")
            .map_err(sql("WAL mode"))?;
        c.pragma_update(None, "synchronous", "NORMAL")
            .map_err(sql("synchronous"))?;
        // A large feed writes hundreds of MB: read pages through a mapping rather than a
        // syscall each, and checkpoint the WAL every 80 MB rather than every 4 MB, so a
        // page changed by many commits is copied into the database once.
        c.pragma_update(None, "mmap_size", 1i64 << 30)
            .map_err(sql("mmap size"))?;
        c.pragma_update(None, "wal_autocheckpoint", 20_000)
            .map_err(sql("WAL checkpoint interval"))?;
        Ok(())
    }

    /// A number that changes whenever another connection commits to the database, another
    /// process such as `rampart intel import` above all; this store's own writes leave it
    /// alone (SQLite's `PRAGMA data_version`, asked of the connection that makes them), so
    /// a daemon can rebuild its matchers for outside writes only.
    pub fn outside_writes(&self) -> Result<i64> {
        lock(&self.writer)
            .query_row("PRAGMA data_version", [], |r| r.get(0))
            .map_err(sql("read the data version"))
    }
}

fn migrate(c: &Connection) -> Result<()> {
    let v: usize = c
        .query_row("PRAGMA user_version", [], |r| r.get::<_, i64>(0))
        .map_err(sql("read the schema version"))? as usize;
    if v > MIGRATIONS.len() {
        return Err(IntelStoreError::Invalid(format!(
            "the database has schema {v}, newer than this build knows ({})",
            MIGRATIONS.len()
        )));
    }
    for (i, m) in MIGRATIONS.iter().enumerate().skip(v) {
        c.execute_batch(&format!(
            "BEGIN; {m}; PRAGMA user_version = {}; COMMIT;",
            i + 1
        ))
        .map_err(sql("migrate the schema"))?;
    }
    Ok(())
}

const INDICATOR_COLUMNS: &str = "source, id, pattern, pattern_type, types, labels, name, valid_from_ns, valid_until_ns, confidence, tlp, detect, created_ns, modified_ns, first_seen_ns, last_seen_ns, sightings";

fn row_to_indicator(r: &rusqlite::Row<'_>) -> rusqlite::Result<Indicator> {
    let types: String = r.get(4)?;
    let labels: String = r.get(5)?;
    let tlp: String = r.get(10)?;
    let mut i = Indicator {
        source: r.get(0)?,
        id: r.get(1)?,
        pattern: r.get(2)?,
        pattern_type: r.get(3)?,
        parsed: Default::default(),
        types: serde_json::from_str(&types).unwrap_or_default(),
        labels: serde_json::from_str(&labels).unwrap_or_default(),
        name: r.get(6)?,
        valid_from: ts(r.get(7)?),
        valid_until: r.get::<_, Option<i64>>(8)?.map(ts),
        confidence: r.get::<_, Option<i64>>(9)?.map(|c| c.clamp(0, 100) as u8),
        tlp: tlp.parse().unwrap_or(Tlp::Red),
        detect: r.get::<_, i64>(11)? != 0,
        created: ts(r.get(12)?),
        modified: ts(r.get(13)?),
        first_seen: ts(r.get(14)?),
        last_seen: ts(r.get(15)?),
        sightings: r.get::<_, i64>(16)?.max(0) as u64,
    };
    i.reparse();
    Ok(i)
}

impl IndicatorStore for SqliteIntelStore {
    fn upsert_indicators(&self, inds: &[Indicator], now: Timestamp) -> Result<UpsertStats> {
        let mut c = lock(&self.writer);
        let tx = c.transaction().map_err(sql("begin"))?;
        let mut stats = UpsertStats::default();
        {
            // A feed's indicators are mostly new or mostly unchanged, so each case gets its
            // own plain statement: an insert that ignores known ids, then for known ones an
            // update of the content only when the incoming `modified` is newer, else of
            // `last_seen` alone. (One UPSERT with RETURNING cost twice as much per row.)
            let mut insert = tx
                .prepare_cached(&format!(
                    "INSERT INTO indicators ({INDICATOR_COLUMNS}, changed_ns) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?15, 0, ?15)
                     ON CONFLICT (source, id) DO NOTHING"
                ))
                .map_err(sql("prepare"))?;
            let mut newer = tx
                .prepare_cached(
                    "UPDATE indicators SET pattern = ?3, pattern_type = ?4, types = ?5, labels = ?6,
                     name = ?7, valid_from_ns = ?8, valid_until_ns = ?9, confidence = ?10, tlp = ?11,
                     detect = ?12, created_ns = ?13, modified_ns = ?14, last_seen_ns = ?15,
                     changed_ns = ?15
                     WHERE source = ?1 AND id = ?2 AND modified_ns < ?14",
                )
                .map_err(sql("prepare"))?;
            let mut seen = tx
                .prepare_cached(
                    "UPDATE indicators SET last_seen_ns = ?3 WHERE source = ?1 AND id = ?2",
                )
                .map_err(sql("prepare"))?;
            let (mut types, mut labels) = (String::new(), String::new());
            for i in inds {
                json_list(&i.types, &mut types);
                json_list(&i.labels, &mut labels);
                let row = params![
                    i.source,
                    i.id,
                    i.pattern,
                    i.pattern_type,
                    types,
                    labels,
                    i.name,
                    ns(i.valid_from),
                    i.valid_until.map(ns),
                    i.confidence.map(i64::from),
                    i.tlp.as_str(),
                    i.detect as i64,
                    ns(i.created),
                    ns(i.modified),
                    ns(now),
                ];
                let write = sql("write an indicator");
                if insert.execute(row).map_err(write)? == 1
                    || newer.execute(row).map_err(sql("update an indicator"))? == 1
                {
                    stats.written += 1;
                } else {
                    seen.execute(params![i.source, i.id, ns(now)])
                        .map_err(sql("touch an indicator"))?;
                    stats.seen += 1;
                }
            }
        }
        tx.commit().map_err(sql("commit indicators"))?;
        Ok(stats)
    }

    fn remove_indicators(&self, source: &str, ids: &[String]) -> Result<u64> {
        let mut c = lock(&self.writer);
        let tx = c.transaction().map_err(sql("begin"))?;
        let mut n = 0;
        {
            let mut del = tx
                .prepare_cached("DELETE FROM indicators WHERE source = ?1 AND id = ?2")
                .map_err(sql("prepare"))?;
            for id in ids {
                n += del
                    .execute(params![source, id])
                    .map_err(sql("remove an indicator"))? as u64;
            }
        }
        tx.commit().map_err(sql("commit"))?;
        Ok(n)
    }

    fn expire(&self, source: &str, before: Timestamp) -> Result<u64> {
        lock(&self.writer)
            .execute(
                "DELETE FROM indicators WHERE source = ?1 AND last_seen_ns < ?2",
                params![source, ns(before)],
            )
            .map(|n| n as u64)
            .map_err(sql("expire indicators"))
    }

    fn drop_source(&self, source: &str) -> Result<u64> {
        lock(&self.writer)
            .execute("DELETE FROM indicators WHERE source = ?1", params![source])
            .map(|n| n as u64)
            .map_err(sql("drop a feed's indicators"))
    }

    fn touch_labelled(&self, source: &str, labels: &[String], now: Timestamp) -> Result<u64> {
        let c = lock(&self.writer);
        let mut n = 0;
        for chunk in labels.chunks(500) {
            let text = format!(
                "UPDATE indicators SET last_seen_ns = ? WHERE source = ? AND EXISTS
                 (SELECT 1 FROM json_each(indicators.labels) WHERE value IN ({}))",
                vec!["?"; chunk.len()].join(",")
            );
            let mut args: Vec<rusqlite::types::Value> =
                vec![ns(now).into(), source.to_string().into()];
            args.extend(chunk.iter().map(|l| l.clone().into()));
            n += c
                .execute(&text, params_from_iter(args))
                .map_err(sql("touch indicators"))? as u64;
        }
        Ok(n)
    }

    fn indicators(&self, q: &IndicatorQuery) -> Result<Vec<Indicator>> {
        let c = lock(&self.reader);
        let mut s = c
            .prepare_cached(&format!(
                "SELECT {INDICATOR_COLUMNS} FROM indicators
                 WHERE (?1 IS NULL OR source = ?1) AND (?2 = 0 OR detect = 1)
                 ORDER BY source, id LIMIT ?3 OFFSET ?4"
            ))
            .map_err(sql("prepare"))?;
        let limit = if q.limit == 0 {
            1000
        } else {
            q.limit.min(1_000_000)
        };
        let rows = s
            .query_map(
                params![
                    q.source,
                    q.detect_only as i64,
                    limit as i64,
                    q.offset as i64
                ],
                row_to_indicator,
            )
            .map_err(sql("list indicators"))?;
        rows.collect::<rusqlite::Result<Vec<_>>>()
            .map_err(sql("read indicators"))
    }

    fn for_each_indicator(&self, f: &mut dyn FnMut(Indicator)) -> Result<u64> {
        let c = lock(&self.reader);
        let mut s = c
            .prepare(&format!(
                "SELECT {INDICATOR_COLUMNS} FROM indicators WHERE detect = 1"
            ))
            .map_err(sql("prepare"))?;
        let mut rows = s.query([]).map_err(sql("read indicators"))?;
        let mut n = 0;
        while let Some(r) = rows.next().map_err(sql("read indicators"))? {
            f(row_to_indicator(r).map_err(sql("read an indicator"))?);
            n += 1;
        }
        Ok(n)
    }

    fn for_each_matchable(&self, f: &mut dyn FnMut(Matchable<'_>)) -> Result<u64> {
        let c = lock(&self.reader);
        let mut s = c
            .prepare(
                "SELECT source, id, pattern, valid_until_ns, confidence, tlp FROM indicators
                 WHERE detect = 1 AND pattern_type = 'stix'",
            )
            .map_err(sql("prepare"))?;
        let mut rows = s.query([]).map_err(sql("read indicators"))?;
        let mut n = 0;
        while let Some(r) = rows.next().map_err(sql("read indicators"))? {
            let get = |i: usize| r.get_ref(i).and_then(|v| v.as_str().map_err(Into::into));
            let (source, id, pattern, tlp) = match (get(0), get(1), get(2), get(5)) {
                (Ok(a), Ok(b), Ok(c), Ok(d)) => (a, b, c, d),
                _ => continue,
            };
            let valid_until = r
                .get::<_, Option<i64>>(3)
                .map_err(sql("read indicators"))?
                .map(ts);
            let confidence = r
                .get::<_, Option<i64>>(4)
                .map_err(sql("read indicators"))?
                .map(|c| c.clamp(0, 100) as u8);
            f(Matchable {
                source,
                id,
                pattern,
                valid_until,
                confidence,
                tlp: tlp.parse().unwrap_or(Tlp::Red),
            });
            n += 1;
        }
        Ok(n)
    }

    fn count(&self, source: Option<&str>) -> Result<u64> {
        lock(&self.reader)
            .query_row(
                "SELECT COUNT(*) FROM indicators WHERE (?1 IS NULL OR source = ?1)",
                params![source],
                |r| r.get::<_, i64>(0),
            )
            .map(|n| n as u64)
            .map_err(sql("count indicators"))
    }

    fn add_sightings(&self, source: &str, id: &str, n: u64) -> Result<()> {
        lock(&self.writer)
            .execute(
                "UPDATE indicators SET sightings = sightings + ?3 WHERE source = ?1 AND id = ?2",
                params![source, id, n.min(i64::MAX as u64) as i64],
            )
            .map(|_| ())
            .map_err(sql("count a sighting"))
    }

    fn feed_state(&self, name: &str) -> Result<Option<FeedState>> {
        lock(&self.reader)
            .query_row(
                "SELECT name, cursor, last_run_ns, last_ok_ns, last_error, indicators FROM feed_state WHERE name = ?1",
                params![name],
                |r| {
                    Ok(FeedState {
                        name: r.get(0)?,
                        cursor: r.get(1)?,
                        last_run: ts(r.get(2)?),
                        last_ok: r.get::<_, Option<i64>>(3)?.map(ts),
                        last_error: r.get(4)?,
                        indicators: r.get::<_, i64>(5)?.max(0) as u64,
                    })
                },
            )
            .optional()
            .map_err(sql("read feed state"))
    }

    fn save_feed_state(&self, s: &FeedState) -> Result<()> {
        lock(&self.writer)
            .execute(
                "INSERT INTO feed_state (name, cursor, last_run_ns, last_ok_ns, last_error, indicators)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT (name) DO UPDATE SET cursor = excluded.cursor, last_run_ns = excluded.last_run_ns,
                   last_ok_ns = excluded.last_ok_ns, last_error = excluded.last_error, indicators = excluded.indicators",
                params![
                    s.name,
                    s.cursor,
                    ns(s.last_run),
                    s.last_ok.map(ns),
                    s.last_error,
                    s.indicators.min(i64::MAX as u64) as i64
                ],
            )
            .map(|_| ())
            .map_err(sql("save feed state"))
    }
}

impl TaxiiStore for SqliteIntelStore {
    fn add_objects(
        &self,
        collection: &str,
        objects: &[NewObject<'_>],
        now: Timestamp,
    ) -> Result<Vec<Added>> {
        let mut c = lock(&self.writer);
        let mut last = self.last_added.lock().unwrap_or_else(|e| e.into_inner());
        // Microseconds: what date_added shows; one apart so that each object has its own.
        let mut added_us = (ns(now) / 1_000).max(*last / 1_000 + 1);
        let tx = c.transaction().map_err(sql("begin"))?;
        let mut out = Vec::with_capacity(objects.len());
        {
            let mut exists = tx
                .prepare_cached(
                    "SELECT version FROM taxii_objects WHERE collection = ?1 AND id = ?2 AND version_ns = ?3",
                )
                .map_err(sql("prepare"))?;
            let mut bounds = tx
                .prepare_cached(
                    "SELECT MIN(version_ns), MAX(version_ns) FROM taxii_objects WHERE collection = ?1 AND id = ?2",
                )
                .map_err(sql("prepare"))?;
            let mut insert = tx
                .prepare_cached(
                    "INSERT INTO taxii_objects (collection, id, type, version, version_ns, spec_version, date_added_ns, latest, first, body)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                )
                .map_err(sql("prepare"))?;
            let mut unlatest = tx
                .prepare_cached("UPDATE taxii_objects SET latest = 0 WHERE collection = ?1 AND id = ?2 AND latest = 1")
                .map_err(sql("prepare"))?;
            let mut unfirst = tx
                .prepare_cached("UPDATE taxii_objects SET first = 0 WHERE collection = ?1 AND id = ?2 AND first = 1")
                .map_err(sql("prepare"))?;
            for o in objects {
                let date_added = Timestamp::from_micros(added_us as u64);
                let version_t = o.version.unwrap_or(date_added);
                let version = version_t.to_string();
                let vns = ns(version_t);
                let known: Option<String> = exists
                    .query_row(params![collection, o.id, vns], |r| r.get(0))
                    .optional()
                    .map_err(sql("look up an object"))?;
                if let Some(v) = known {
                    out.push(Added {
                        id: o.id.into(),
                        version: v,
                        new: false,
                    });
                    continue;
                }
                let (min, max): (Option<i64>, Option<i64>) = bounds
                    .query_row(params![collection, o.id], |r| Ok((r.get(0)?, r.get(1)?)))
                    .map_err(sql("look up versions"))?;
                let latest = max.is_none_or(|m| vns > m);
                let first = min.is_none_or(|m| vns < m);
                if latest && max.is_some() {
                    unlatest
                        .execute(params![collection, o.id])
                        .map_err(sql("update versions"))?;
                }
                if first && min.is_some() {
                    unfirst
                        .execute(params![collection, o.id])
                        .map_err(sql("update versions"))?;
                }
                insert
                    .execute(params![
                        collection,
                        o.id,
                        o.kind,
                        version,
                        vns,
                        o.spec_version,
                        added_us.saturating_mul(1_000),
                        latest as i64,
                        first as i64,
                        o.body
                    ])
                    .map_err(sql("add an object"))?;
                added_us += 1;
                out.push(Added {
                    id: o.id.into(),
                    version,
                    new: true,
                });
            }
        }
        tx.commit().map_err(sql("commit objects"))?;
        *last = (added_us - 1).saturating_mul(1_000).max(*last);
        Ok(out)
    }

    fn objects(&self, collection: &str, q: &ObjectQuery) -> Result<ObjectPage> {
        let mut where_ = String::from("collection = ?");
        let mut args: Vec<rusqlite::types::Value> = vec![collection.to_string().into()];
        let list = |col: &str,
                    vals: &[String],
                    where_: &mut String,
                    args: &mut Vec<rusqlite::types::Value>| {
            if vals.is_empty() {
                return;
            }
            where_.push_str(&format!(
                " AND {col} IN ({})",
                vec!["?"; vals.len()].join(",")
            ));
            args.extend(vals.iter().map(|v| v.clone().into()));
        };
        list("id", &q.ids, &mut where_, &mut args);
        list("type", &q.types, &mut where_, &mut args);
        list("spec_version", &q.spec_versions, &mut where_, &mut args);
        let v = &q.versions;
        if !v.all {
            let mut alts = Vec::new();
            if v.last || (!v.first && v.exact.is_empty()) {
                alts.push("latest = 1".to_string());
            }
            if v.first {
                alts.push("first = 1".into());
            }
            if !v.exact.is_empty() {
                alts.push(format!(
                    "version_ns IN ({})",
                    vec!["?"; v.exact.len()].join(",")
                ));
                args.extend(v.exact.iter().map(|t| ns(*t).into()));
            }
            where_.push_str(&format!(" AND ({})", alts.join(" OR ")));
        }
        if let Some(t) = q.added_after {
            where_.push_str(" AND date_added_ns > ?");
            args.push(ns(t).into());
        }
        if let Some(s) = q.after_seq {
            where_.push_str(" AND seq > ?");
            args.push(s.into());
        }
        let limit = q.limit.clamp(1, 100_000);
        let body = if q.without_bodies { "''" } else { "body" };
        let text = format!(
            "SELECT seq, id, version, spec_version, date_added_ns, {body} FROM taxii_objects WHERE {where_} ORDER BY seq LIMIT {}",
            limit + 1
        );
        let c = lock(&self.reader);
        let mut s = c.prepare_cached(&text).map_err(sql("prepare"))?;
        let rows = s
            .query_map(params_from_iter(args), |r| {
                Ok(StoredObject {
                    seq: r.get(0)?,
                    id: r.get(1)?,
                    version: r.get(2)?,
                    spec_version: r.get(3)?,
                    date_added: ts(r.get(4)?),
                    body: r.get(5)?,
                })
            })
            .map_err(sql("read objects"))?;
        let mut objects = rows
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(sql("read objects"))?;
        let more = objects.len() > limit;
        objects.truncate(limit);
        Ok(ObjectPage { objects, more })
    }

    fn save_status(&self, id: &str, collection: &str, body: &str, now: Timestamp) -> Result<()> {
        lock(&self.writer)
            .execute(
                "INSERT INTO taxii_status (id, collection, created_ns, body) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (id) DO UPDATE SET body = excluded.body",
                params![id, collection, ns(now), body],
            )
            .map(|_| ())
            .map_err(sql("save a status"))
    }

    fn status(&self, id: &str) -> Result<Option<(String, String)>> {
        lock(&self.reader)
            .query_row(
                "SELECT collection, body FROM taxii_status WHERE id = ?1",
                params![id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .map_err(sql("read a status"))
    }

    fn prune_status(&self, before: Timestamp) -> Result<u64> {
        lock(&self.writer)
            .execute(
                "DELETE FROM taxii_status WHERE created_ns < ?1",
                params![ns(before)],
            )
            .map(|n| n as u64)
            .map_err(sql("prune statuses"))
    }
}

/// A list of strings as JSON into `out` (reused: one buffer for a whole import).
fn json_list(items: &[String], out: &mut String) {
    out.clear();
    out.push('[');
    for (n, item) in items.iter().enumerate() {
        if n > 0 {
            out.push(',');
        }
        // JSON string escaping by hand: one allocation per indicator, not one per label.
        out.push('"');
        for c in item.chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                c if u32::from(c) < 0x20 => {
                    let _ = write!(out, "\\u{:04x}", u32::from(c));
                }
                c => out.push(c),
            }
        }
        out.push('"');
    }
    out.push(']');
}

/// `date_added` as TAXII writes it.
pub fn date_added(o: &StoredObject) -> String {
    fmt_micros(o.date_added)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::indicator::Observable;

    fn ind(id: &str, source: &str, modified: u64) -> Indicator {
        let mut i = Indicator::for_observable(
            id.into(),
            Observable::Ip("192.0.2.1".parse().unwrap()),
            source,
            Timestamp::from_secs(modified),
            Tlp::Green,
        );
        i.modified = Timestamp::from_secs(modified);
        i
    }

    #[test]
    fn indicators_upsert_list_expire() {
        let s = SqliteIntelStore::in_memory().unwrap();
        let t = Timestamp::from_secs;
        let st = s
            .upsert_indicators(
                &[ind("indicator--a", "f", 10), ind("indicator--b", "f", 10)],
                t(100),
            )
            .unwrap();
        assert_eq!(
            st,
            UpsertStats {
                written: 2,
                seen: 0
            }
        );
        let st = s
            .upsert_indicators(
                &[ind("indicator--a", "f", 10), ind("indicator--b", "f", 20)],
                t(200),
            )
            .unwrap();
        assert_eq!(
            st,
            UpsertStats {
                written: 1,
                seen: 1
            }
        );
        s.upsert_indicators(&[ind("indicator--a", "g", 10)], t(300))
            .unwrap();
        assert_eq!(s.count(None).unwrap(), 3);
        assert_eq!(s.count(Some("f")).unwrap(), 2);
        let all = s.indicators(&IndicatorQuery::default()).unwrap();
        assert_eq!(all[0].first_seen, t(100));
        assert_eq!(all[0].last_seen, t(200));
        assert!(matches!(all[0].parsed, crate::Pattern::Observables(_)));
        assert_eq!(s.expire("f", t(150)).unwrap(), 0);
        s.upsert_indicators(&[ind("indicator--a", "f", 10)], t(400))
            .unwrap();
        assert_eq!(s.expire("f", t(300)).unwrap(), 1);
        let mut tagged = ind("indicator--c", "m", 10);
        tagged.labels = vec!["misp-event:e1".into()];
        s.upsert_indicators(&[tagged], t(10)).unwrap();
        assert_eq!(
            s.touch_labelled("m", &["misp-event:e1".into()], t(500))
                .unwrap(),
            1
        );
        assert_eq!(s.expire("m", t(450)).unwrap(), 0);
        s.drop_source("m").unwrap();
        s.add_sightings("f", "indicator--a", 3).unwrap();
        let mut n = 0;
        s.for_each_indicator(&mut |i| {
            if i.source == "f" {
                assert_eq!(i.sightings, 3);
            }
            n += 1;
        })
        .unwrap();
        assert_eq!(n, 2);
        let fs = FeedState {
            name: "f".into(),
            cursor: "{}".into(),
            last_run: t(5),
            last_ok: None,
            last_error: Some("boom".into()),
            indicators: 2,
        };
        s.save_feed_state(&fs).unwrap();
        assert_eq!(s.feed_state("f").unwrap(), Some(fs));
    }

    #[test]
    fn label_lists_are_valid_json() {
        let labels: Vec<String> = vec![
            "plain".into(),
            "q\"uote\\back".into(),
            "tab\tnl\n\u{1}é".into(),
        ];
        let mut out = String::new();
        json_list(&labels, &mut out);
        assert_eq!(serde_json::from_str::<Vec<String>>(&out).unwrap(), labels);
        json_list(&[], &mut out);
        assert_eq!(out, "[]");
    }

    #[test]
    fn only_a_newer_modified_replaces_the_content() {
        let s = SqliteIntelStore::in_memory().unwrap();
        let t = Timestamp::from_secs;
        s.upsert_indicators(&[ind("indicator--a", "f", 20)], t(100))
            .unwrap();
        let mut older = ind("indicator--a", "f", 10);
        older.name = Some("older".into());
        let st = s.upsert_indicators(&[older], t(200)).unwrap();
        assert_eq!((st.written, st.seen), (0, 1));
        let got = &s.indicators(&IndicatorQuery::default()).unwrap()[0];
        assert_ne!(got.name.as_deref(), Some("older"));
        assert_eq!(got.last_seen, t(200));
        let mut newer = ind("indicator--a", "f", 30);
        newer.name = Some("newer".into());
        newer.detect = false;
        let st = s.upsert_indicators(&[newer], t(300)).unwrap();
        assert_eq!((st.written, st.seen), (1, 0));
        let got = &s.indicators(&IndicatorQuery::default()).unwrap()[0];
        assert_eq!(
            (
                got.name.as_deref(),
                got.detect,
                got.modified,
                got.first_seen
            ),
            (Some("newer"), false, t(30), t(100))
        );
    }

    /// A database written by schema 1 (indicators with a rowid and a separate index) keeps
    /// its indicators through the move to the clustered table.
    #[test]
    fn schema_one_indicators_survive_the_migration() {
        let dir = std::env::temp_dir().join(format!("intel-mig-{}", uuid::Uuid::new_v4()));
        let path = dir.join(DB_FILE);
        std::fs::create_dir_all(&dir).unwrap();
        {
            let c = Connection::open(&path).unwrap();
            c.execute_batch(&format!(
                "BEGIN; {}; PRAGMA user_version = 1; COMMIT;",
                MIGRATIONS[0]
            ))
            .unwrap();
            c.execute(
                &format!("INSERT INTO indicators ({INDICATOR_COLUMNS}, changed_ns) VALUES ('f', 'indicator--a', '[ipv4-addr:value = ''192.0.2.1'']', 'stix', '[]', '[\"x\"]', 'n', 1, NULL, 50, 'green', 1, 1, 1, 1, 1, 7, 1)"),
                [],
            )
            .unwrap();
        }
        let s = SqliteIntelStore::open(&path).unwrap();
        let all = s.indicators(&IndicatorQuery::default()).unwrap();
        assert_eq!(all.len(), 1);
        assert_eq!(
            (all[0].id.as_str(), all[0].sightings, all[0].confidence),
            ("indicator--a", 7, Some(50))
        );
        let st = s
            .upsert_indicators(&[ind("indicator--a", "f", 10)], Timestamp::from_secs(9))
            .unwrap();
        assert_eq!(st.written, 1);
        assert_eq!(s.count(None).unwrap(), 1);
        drop(s);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn taxii_versions_and_paging() {
        let s = SqliteIntelStore::in_memory().unwrap();
        let t = Timestamp::from_secs;
        let obj = |id: &'static str, v: u64| NewObject {
            id,
            kind: "indicator",
            version: Some(t(v)),
            spec_version: "2.1",
            body: "{}",
        };
        let added = s
            .add_objects(
                "c",
                &[
                    obj("indicator--1", 10),
                    obj("indicator--1", 30),
                    obj("indicator--2", 5),
                ],
                t(1000),
            )
            .unwrap();
        assert!(added.iter().all(|a| a.new));
        let again = s
            .add_objects(
                "c",
                &[obj("indicator--1", 20), obj("indicator--1", 10)],
                t(1000),
            )
            .unwrap();
        assert_eq!((again[0].new, again[1].new), (true, false));
        let q = |f: &dyn Fn(&mut ObjectQuery)| {
            let mut q = ObjectQuery {
                limit: 10,
                ..Default::default()
            };
            f(&mut q);
            s.objects("c", &q).unwrap()
        };
        let last = q(&|_| {});
        assert_eq!(
            last.objects
                .iter()
                .map(|o| o.version.as_str())
                .collect::<Vec<_>>(),
            ["1970-01-01T00:00:30.000Z", "1970-01-01T00:00:05.000Z"]
        );
        let all = q(&|q| q.versions.all = true);
        assert_eq!(all.objects.len(), 4);
        let first = q(&|q| q.versions.first = true);
        assert_eq!(first.objects.len(), 2);
        assert_eq!(first.objects[0].version, "1970-01-01T00:00:10.000Z");
        let exact = q(&|q| q.versions.exact = vec![t(20)]);
        assert_eq!(exact.objects.len(), 1);
        let page = q(&|q| {
            q.versions.all = true;
            q.limit = 3;
        });
        assert!(page.more);
        let rest = q(&|q| {
            q.versions.all = true;
            q.after_seq = Some(page.objects[2].seq);
        });
        assert_eq!((rest.objects.len(), rest.more), (1, false));
        // Dates added are distinct and ordered.
        let dates: Vec<_> = all.objects.iter().map(|o| o.date_added).collect();
        assert!(dates.windows(2).all(|w| w[0] < w[1]));
        let after = q(&|q| {
            q.versions.all = true;
            q.added_after = Some(dates[1]);
        });
        assert_eq!(after.objects.len(), 2);
        assert!(q(&|q| q.types = vec!["malware".into()]).objects.is_empty());
        assert_eq!(q(&|q| q.ids = vec!["indicator--2".into()]).objects.len(), 1);
        s.save_status("s1", "c", "{\"a\":1}", t(5)).unwrap();
        assert_eq!(s.status("s1").unwrap().unwrap().0, "c");
        assert_eq!(s.prune_status(t(6)).unwrap(), 1);
    }

    #[test]
    fn outside_writes_change_the_data_version_and_own_writes_do_not() {
        let dir = std::env::temp_dir().join(format!("intel-dv-{}", uuid::Uuid::new_v4()));
        let path = dir.join("intel.db");
        let daemon = SqliteIntelStore::open(&path).unwrap();
        let v0 = daemon.outside_writes().unwrap();
        daemon
            .upsert_indicators(&[ind("indicator--1", "own", 1)], Timestamp::from_secs(1))
            .unwrap();
        assert_eq!(daemon.outside_writes().unwrap(), v0);
        let cli = SqliteIntelStore::open(&path).unwrap();
        cli.upsert_indicators(&[ind("indicator--2", "import", 1)], Timestamp::from_secs(2))
            .unwrap();
        let v1 = daemon.outside_writes().unwrap();
        assert_ne!(v1, v0);
        assert_eq!(daemon.outside_writes().unwrap(), v1);
        drop((daemon, cli));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
