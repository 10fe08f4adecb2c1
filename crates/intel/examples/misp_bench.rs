//! Times importing a MISP feed of N indicators (default 1,000,000: 100 events of 10,000
//! `ip-dst` attributes, `to_ids` true) the way the daemon refreshes it: read manifest.json
//! and every event file, store each indicator in SQLite, rebuild the matchers and swap
//! them in. Several runs on fresh stores; the median is printed.
//! `cargo run --release -p rampart-intel --example misp_bench -- [N] [RUNS]`

use rampart_intel::feeds::{FeedConfig, FeedKind, Intel, IntelConfig};
use rampart_intel::store::SqliteIntelStore;
use rampart_model::Timestamp;
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Instant;

const PER_EVENT: usize = 10_000;

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let n: usize = args
        .next()
        .map(|a| a.parse())
        .transpose()?
        .unwrap_or(1_000_000);
    let runs: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(3);
    let dir = std::env::temp_dir().join(format!("rampart-misp-bench-{}", std::process::id()));
    let feed_dir = dir.join("feed");
    std::fs::create_dir_all(&feed_dir)?;
    let mut manifest = String::from("{");
    let mut bytes = 0usize;
    for e in 0..n.div_ceil(PER_EVENT) {
        let uuid = format!("{e:08x}-0000-4000-8000-000000000000");
        let mut attrs = String::new();
        for i in e * PER_EVENT..((e + 1) * PER_EVENT).min(n) {
            let addr = std::net::Ipv4Addr::from(0x0b00_0000u32 + i as u32);
            if !attrs.is_empty() {
                attrs.push(',');
            }
            write!(
                attrs,
                "{{\"uuid\":\"{i:08x}-1111-4000-8000-000000000000\",\"type\":\"ip-dst\",\"category\":\"Network activity\",\"value\":\"{addr}\",\"to_ids\":true,\"timestamp\":\"1790000000\",\"comment\":\"\",\"deleted\":false}}"
            )?;
        }
        let event = format!(
            "{{\"Event\":{{\"uuid\":\"{uuid}\",\"info\":\"bench {e}\",\"date\":\"2026-11-01\",\"timestamp\":\"1790000000\",\"analysis\":\"2\",\"threat_level_id\":\"1\",\"Orgc\":{{\"name\":\"bench\"}},\"Tag\":[{{\"name\":\"tlp:green\"}}],\"Attribute\":[{attrs}],\"Object\":[]}}}}"
        );
        bytes += event.len();
        std::fs::write(feed_dir.join(format!("{uuid}.json")), event)?;
        if manifest.len() > 1 {
            manifest.push(',');
        }
        write!(
            manifest,
            "\"{uuid}\":{{\"info\":\"bench {e}\",\"timestamp\":\"1790000000\",\"Orgc\":{{\"name\":\"bench\"}},\"date\":\"2026-11-01\"}}"
        )?;
    }
    manifest.push('}');
    std::fs::write(feed_dir.join("manifest.json"), manifest)?;
    println!(
        "{n} indicators in {} event files, {:.1} MB",
        n.div_ceil(PER_EVENT),
        bytes as f64 / 1e6
    );
    let now = Timestamp::from_secs(1_800_000_000);
    let mut times = Vec::new();
    for run in 0..runs {
        let db = dir.join(format!("intel-{run}.db"));
        let store = Arc::new(SqliteIntelStore::open(&db)?);
        let mut feed = FeedConfig::new("misp-bench", FeedKind::Misp);
        feed.path = Some(feed_dir.clone());
        let intel = Intel::new(
            IntelConfig {
                feeds: vec![feed],
                ..IntelConfig::default()
            },
            store,
        );
        let t = Instant::now();
        let r = intel.refresh("misp-bench", now)?;
        let s = t.elapsed().as_secs_f64();
        assert_eq!(r.written, n as u64, "{r:?}");
        assert_eq!(intel.indicators().load().stats().indicators, n);
        println!(
            "run {}: MISP feed refresh (files→SQLite→matchers) {s:.2} s",
            run + 1
        );
        times.push(s);
        drop(intel);
        let _ = std::fs::remove_file(&db);
    }
    times.sort_by(|a, b| a.total_cmp(b));
    println!("median of {runs}: {:.2} s", times[times.len() / 2]);
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
