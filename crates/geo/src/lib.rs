//! GeoIP and ASN lookups for the enrich stage: an address in, its country, city,
//! coordinates, accuracy radius, ASN and organisation out ([`GeoInfo`]), from
//! MaxMind-format `.mmdb` databases (GeoLite2/GeoIP2 City, Country and ASN, and DB-IP's
//! compatible "lite" ones) read with the `maxminddb` crate.
//!
//! [`Geo`] holds up to one location database (`[geo] city`, a City or Country one) and one
//! ASN database (`[geo] asn`), answers from a bounded cache, and re-reads a file when it
//! changed, checked when asked (`reload_if_changed`), never by a thread of its own.

use maxminddb::Reader;
pub use rampart_model::GeoInfo;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::fs::File;
use std::io::Read;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// `[geo]`. No database configured: no lookups, and the detectors that need places
/// (impossible travel, new country, new network) stay silent.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct GeoConfig {
    /// A City or Country database (GeoLite2-City.mmdb, dbip-city-lite.mmdb, ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub city: Option<PathBuf>,
    /// An ASN database (GeoLite2-ASN.mmdb, dbip-asn-lite.mmdb).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub asn: Option<PathBuf>,
    /// Addresses whose answers are cached (about 150 bytes each); when full, the cache
    /// starts over (counted).
    pub cache_entries: usize,
    /// Largest database file read, in bytes: GeoLite2-City is about 60 MB, DB-IP's city
    /// lite about 130 MB.
    pub max_file_bytes: u64,
}

impl Default for GeoConfig {
    fn default() -> Self {
        GeoConfig {
            city: None,
            asn: None,
            cache_entries: 65_536,
            max_file_bytes: 1 << 30,
        }
    }
}

impl GeoConfig {
    pub fn validate(&self) -> Result<(), GeoError> {
        if !(1..=1 << 24).contains(&self.cache_entries) {
            return Err(GeoError::Config(format!(
                "geo.cache_entries: {} is not in 1..=16777216",
                self.cache_entries
            )));
        }
        if self.max_file_bytes < 1024 {
            return Err(GeoError::Config(format!(
                "geo.max_file_bytes: {} is under 1024",
                self.max_file_bytes
            )));
        }
        Ok(())
    }
}

/// What went wrong, naming the file.
#[derive(Debug, thiserror::Error)]
pub enum GeoError {
    #[error("{path}: cannot read: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: larger than {limit} bytes (geo.max_file_bytes)")]
    TooLarge { path: PathBuf, limit: u64 },
    #[error("{path}: not a MaxMind database: {reason}")]
    Invalid { path: PathBuf, reason: String },
    #[error("{0}")]
    Config(String),
}

/// Counters for metrics.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GeoStats {
    pub lookups: u64,
    pub cache_hits: u64,
    /// Times the cache was full and started over.
    pub cache_resets: u64,
    /// Addresses found in no database.
    pub not_found: u64,
    /// Lookups the database could not answer (a corrupt record): counted, answered empty.
    pub errors: u64,
    /// Databases re-read because their file changed.
    pub reloads: u64,
    /// Changed files that could not be read: the old database stays in use.
    pub reload_errors: u64,
}

/// One open database and what its file looked like when read.
struct Db {
    path: PathBuf,
    reader: Reader<Vec<u8>>,
    stamp: Option<(SystemTime, u64)>,
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db")
            .field("path", &self.path)
            .field("type", &self.reader.metadata().database_type)
            .finish()
    }
}

/// The fields of City, Country and ASN records (MaxMind's and DB-IP's) that we use, borrowed
/// from the database. Everything else in a record is skipped.
#[derive(Deserialize, Default)]
struct Record<'a> {
    #[serde(borrow)]
    country: Option<Country<'a>>,
    #[serde(borrow)]
    registered_country: Option<Country<'a>>,
    #[serde(borrow)]
    city: Option<Named<'a>>,
    location: Option<Location>,
    autonomous_system_number: Option<u32>,
    #[serde(borrow)]
    autonomous_system_organization: Option<&'a str>,
}

#[derive(Deserialize)]
struct Country<'a> {
    #[serde(borrow)]
    iso_code: Option<&'a str>,
}

#[derive(Deserialize)]
struct Named<'a> {
    #[serde(borrow)]
    names: Option<Names<'a>>,
}

#[derive(Deserialize)]
struct Names<'a> {
    #[serde(borrow)]
    en: Option<&'a str>,
}

#[derive(Deserialize)]
struct Location {
    latitude: Option<f64>,
    longitude: Option<f64>,
    /// uint16 in the format: the decoder is strict about integer widths.
    accuracy_radius: Option<u16>,
}

fn stamp(path: &Path) -> Option<(SystemTime, u64)> {
    let m = std::fs::metadata(path).ok()?;
    Some((m.modified().ok()?, m.len()))
}

fn read_db(path: &Path, limit: u64) -> Result<Db, GeoError> {
    let io = |source| GeoError::Io {
        path: path.to_path_buf(),
        source,
    };
    let stamp = stamp(path);
    let file = File::open(path).map_err(io)?;
    let mut bytes = Vec::new();
    #[allow(clippy::disallowed_methods)] // bounded by take()
    file.take(limit + 1).read_to_end(&mut bytes).map_err(io)?;
    if bytes.len() as u64 > limit {
        return Err(GeoError::TooLarge {
            path: path.to_path_buf(),
            limit,
        });
    }
    let reader = Reader::from_source(bytes).map_err(|e| GeoError::Invalid {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    Ok(Db {
        path: path.to_path_buf(),
        reader,
        stamp,
    })
}

/// Fills `info` from one database's record of `addr`; Ok(false) when it has none.
fn fill(reader: &Reader<Vec<u8>>, addr: IpAddr, info: &mut GeoInfo) -> Result<bool, String> {
    let found = reader.lookup(addr).map_err(|e| e.to_string())?;
    let Some(r) = found.decode::<Record<'_>>().map_err(|e| e.to_string())? else {
        return Ok(false);
    };
    let country = r
        .country
        .and_then(|c| c.iso_code)
        .or(r.registered_country.and_then(|c| c.iso_code));
    if let Some(c) = country.filter(|c| c.len() <= 3) {
        info.country = Some(c.to_string());
    }
    if let Some(name) = r.city.and_then(|c| c.names).and_then(|n| n.en) {
        info.city = Some(name.chars().take(128).collect());
    }
    if let Some(l) = r.location {
        let valid =
            |lat: f64, lon: f64| (-90.0..=90.0).contains(&lat) && (-180.0..=180.0).contains(&lon);
        if let (Some(lat), Some(lon)) = (l.latitude, l.longitude) {
            if valid(lat, lon) {
                info.latitude = Some(lat);
                info.longitude = Some(lon);
            }
        }
        info.accuracy_km = l.accuracy_radius.map(u32::from).or(info.accuracy_km);
    }
    if let Some(asn) = r.autonomous_system_number {
        info.asn = Some(asn);
    }
    if let Some(org) = r.autonomous_system_organization {
        info.org = Some(org.chars().take(128).collect());
    }
    Ok(true)
}

/// GeoIP lookups with a bounded cache. Not shared between threads: give each pipeline its
/// own, or put one behind a lock.
#[derive(Debug)]
pub struct Geo {
    city: Option<Db>,
    asn: Option<Db>,
    cache: HashMap<IpAddr, Option<GeoInfo>>,
    cache_entries: usize,
    max_file_bytes: u64,
    stats: GeoStats,
}

impl Geo {
    /// Opens the configured databases; an error names the file. With none configured,
    /// every lookup answers `None`.
    pub fn open(cfg: &GeoConfig) -> Result<Geo, GeoError> {
        cfg.validate()?;
        let open = |p: &Option<PathBuf>| {
            p.as_deref()
                .map(|p| read_db(p, cfg.max_file_bytes))
                .transpose()
        };
        Ok(Geo {
            city: open(&cfg.city)?,
            asn: open(&cfg.asn)?,
            cache: HashMap::new(),
            cache_entries: cfg.cache_entries.max(1),
            max_file_bytes: cfg.max_file_bytes,
            stats: GeoStats::default(),
        })
    }

    /// Databases from bytes already in memory (tests, fuzzing); an error says why they are
    /// no MaxMind databases.
    pub fn from_bytes(city: Option<Vec<u8>>, asn: Option<Vec<u8>>) -> Result<Geo, GeoError> {
        let db = |bytes: Option<Vec<u8>>, name: &str| {
            bytes
                .map(|b| {
                    Reader::from_source(b)
                        .map(|reader| Db {
                            path: PathBuf::from(name),
                            reader,
                            stamp: None,
                        })
                        .map_err(|e| GeoError::Invalid {
                            path: PathBuf::from(name),
                            reason: e.to_string(),
                        })
                })
                .transpose()
        };
        Ok(Geo {
            city: db(city, "(city bytes)")?,
            asn: db(asn, "(asn bytes)")?,
            cache: HashMap::new(),
            cache_entries: GeoConfig::default().cache_entries,
            max_file_bytes: GeoConfig::default().max_file_bytes,
            stats: GeoStats::default(),
        })
    }

    /// True when at least one database is open.
    pub fn is_enabled(&self) -> bool {
        self.city.is_some() || self.asn.is_some()
    }

    /// The database types open (e.g. "GeoLite2-City", "GeoLite2-ASN"), for logs.
    pub fn describe(&self) -> Vec<String> {
        [&self.city, &self.asn]
            .into_iter()
            .flatten()
            .map(|d| {
                format!(
                    "{} ({})",
                    d.path.display(),
                    d.reader.metadata().database_type
                )
            })
            .collect()
    }

    /// Where `addr` is, from the cache or the databases; `None` when no database knows it.
    pub fn lookup(&mut self, addr: IpAddr) -> Option<GeoInfo> {
        self.stats.lookups += 1;
        if let Some(hit) = self.cache.get(&addr) {
            self.stats.cache_hits += 1;
            return hit.clone();
        }
        let info = self.lookup_uncached(addr);
        if self.cache.len() >= self.cache_entries {
            self.cache.clear();
            self.stats.cache_resets += 1;
        }
        self.cache.insert(addr, info.clone());
        info
    }

    fn lookup_uncached(&mut self, addr: IpAddr) -> Option<GeoInfo> {
        let mut info = GeoInfo::default();
        let mut found = false;
        for db in [&self.city, &self.asn].into_iter().flatten() {
            match fill(&db.reader, addr, &mut info) {
                Ok(f) => found |= f,
                Err(_) => self.stats.errors += 1,
            }
        }
        if !found {
            self.stats.not_found += 1;
        }
        found.then_some(info)
    }

    /// Re-reads each database whose file changed (modification time or size) since it was
    /// read; a file that cannot be read now keeps the old database in use (counted). True
    /// when one was reloaded. Call it now and then (a minute apart is plenty): it reads
    /// two files' metadata.
    pub fn reload_if_changed(&mut self) -> Result<bool, GeoError> {
        let mut reloaded = false;
        let mut first_error = None;
        let limit = self.max_file_bytes;
        for slot in [&mut self.city, &mut self.asn] {
            let Some(db) = slot.as_mut() else { continue };
            let now = stamp(&db.path);
            if now.is_none() || now == db.stamp {
                continue;
            }
            match read_db(&db.path, limit) {
                Ok(new) => {
                    *db = new;
                    reloaded = true;
                    self.stats.reloads += 1;
                }
                Err(e) => {
                    // Keep the old one, and do not try this version of the file again.
                    db.stamp = now;
                    self.stats.reload_errors += 1;
                    first_error.get_or_insert(e);
                }
            }
        }
        if reloaded {
            self.cache.clear();
        }
        match first_error {
            Some(e) => Err(e),
            None => Ok(reloaded),
        }
    }

    pub fn stats(&self) -> GeoStats {
        self.stats.clone()
    }
}
