//! Lookups in small real MaxMind databases written by libmaxmind-db-writer-perl
//! (tests/fixtures/make-test-dbs.pl; the .mmdb files beside it are its output), never mocks.

use rampart_geo::{Geo, GeoConfig, GeoError};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn ip(s: &str) -> IpAddr {
    s.parse().expect("address")
}

fn both() -> GeoConfig {
    GeoConfig {
        city: Some(fixture("test-city.mmdb")),
        asn: Some(fixture("test-asn.mmdb")),
        ..GeoConfig::default()
    }
}

#[test]
fn city_and_asn_records_merge_into_one_answer() {
    let mut geo = Geo::open(&both()).expect("open");
    assert!(geo.is_enabled());
    assert_eq!(geo.describe().len(), 2);
    let g = geo
        .lookup(ip("1.2.3.4"))
        .expect("1.2.3.4 is in the test db");
    assert_eq!(g.country.as_deref(), Some("AU"));
    assert_eq!(g.city.as_deref(), Some("Brisbane"));
    assert_eq!(g.coordinates(), Some((-27.4679, 153.0281)));
    assert_eq!(g.accuracy_km, Some(100));
    assert_eq!(
        (g.asn, g.org.as_deref()),
        (Some(64499), Some("Example Net AU"))
    );
    // A range with a country and no city.
    let g = geo.lookup(ip("9.8.8.8")).expect("found");
    assert_eq!(
        (g.country.as_deref(), g.city.as_deref()),
        (Some("US"), None)
    );
    // IPv6, and IPv4 through the IPv4-mapped range the database aliases.
    assert_eq!(
        geo.lookup(ip("2001:db8::1")).and_then(|g| g.country),
        Some("NL".into())
    );
    assert_eq!(
        geo.lookup(ip("::ffff:192.0.2.7")).and_then(|g| g.city),
        Some("Berlin".into())
    );
    // Not in any range.
    assert_eq!(geo.lookup(ip("10.0.0.1")), None);
    assert_eq!(geo.lookup(ip("10.0.0.1")), None);
    let s = geo.stats();
    assert_eq!(
        (s.lookups, s.cache_hits, s.not_found, s.errors),
        (6, 1, 1, 0)
    );
}

#[test]
fn one_database_alone_answers_its_part() {
    let mut geo = Geo::open(&GeoConfig {
        asn: Some(fixture("test-asn.mmdb")),
        ..GeoConfig::default()
    })
    .expect("open");
    let g = geo.lookup(ip("198.51.100.1")).expect("found");
    assert_eq!((g.asn, g.country), (Some(64497), None));
    let mut none = Geo::open(&GeoConfig::default()).expect("no databases");
    assert!(!none.is_enabled());
    assert_eq!(none.lookup(ip("1.2.3.4")), None);
}

#[test]
fn the_cache_is_bounded() {
    let mut geo = Geo::open(&GeoConfig {
        cache_entries: 2,
        ..both()
    })
    .expect("open");
    for a in ["1.2.3.4", "1.2.3.5", "1.2.3.6", "1.2.3.4"] {
        assert_eq!(geo.lookup(ip(a)).and_then(|g| g.asn), Some(64499));
    }
    assert_eq!(geo.stats().cache_resets, 1);
}

struct Scratch(PathBuf);
impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn scratch(name: &str) -> Scratch {
    let dir = std::env::temp_dir().join(format!("rampart-geo-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    Scratch(dir)
}

#[test]
fn a_changed_file_is_reloaded_when_asked_and_a_broken_one_keeps_the_old() {
    let dir = scratch("reload");
    let path = dir.0.join("city.mmdb");
    std::fs::copy(fixture("test-city.mmdb"), &path).expect("copy");
    let mut geo = Geo::open(&GeoConfig {
        city: Some(path.clone()),
        ..GeoConfig::default()
    })
    .expect("open");
    assert_eq!(
        geo.lookup(ip("192.0.2.1")).and_then(|g| g.city),
        Some("Berlin".into())
    );
    assert!(!geo.reload_if_changed().expect("unchanged"));
    // A new release of the database: Berlin's range moved to Vienna.
    std::fs::copy(fixture("test-city-v2.mmdb"), &path).expect("copy v2");
    let later = SystemTime::now() + Duration::from_secs(5);
    std::fs::File::options()
        .write(true)
        .open(&path)
        .and_then(|f| f.set_modified(later))
        .expect("set mtime");
    assert!(geo.reload_if_changed().expect("reloaded"));
    assert_eq!(
        geo.lookup(ip("192.0.2.1")).and_then(|g| g.city),
        Some("Vienna".into())
    );
    // A broken write: the old database stays, the error names the file.
    std::fs::write(&path, b"not a database").expect("write");
    let e = geo.reload_if_changed().expect_err("broken file");
    assert!(e.to_string().contains("city.mmdb"), "{e}");
    assert_eq!(
        geo.lookup(ip("192.0.2.1")).and_then(|g| g.city),
        Some("Vienna".into())
    );
    let s = geo.stats();
    assert_eq!((s.reloads, s.reload_errors), (1, 1));
}

#[test]
fn bad_files_are_refused_by_name() {
    let dir = scratch("bad");
    let junk = dir.0.join("junk.mmdb");
    std::fs::write(&junk, vec![0xabu8; 4096]).expect("write");
    let e = Geo::open(&GeoConfig {
        city: Some(junk.clone()),
        ..GeoConfig::default()
    })
    .expect_err("junk");
    assert!(matches!(e, GeoError::Invalid { .. }), "{e}");
    assert!(e.to_string().contains("junk.mmdb"));
    let e = Geo::open(&GeoConfig {
        city: Some(fixture("test-city.mmdb")),
        max_file_bytes: 1024,
        ..GeoConfig::default()
    })
    .expect_err("too large");
    assert!(matches!(e, GeoError::TooLarge { .. }), "{e}");
    let e = Geo::open(&GeoConfig {
        city: Some(dir.0.join("missing.mmdb")),
        ..GeoConfig::default()
    })
    .expect_err("missing");
    assert!(e.to_string().contains("missing.mmdb: cannot read"), "{e}");
}
