//! Times importing a 1,000,000-indicator feed, three ways, several runs each (medians
//! printed): a plain list into matchers; a STIX bundle into matchers; and the whole feed
//! refresh a daemon does (read the bundle file, store every indicator in SQLite, rebuild
//! the matchers from the store and swap them in).
//! `cargo run --release -p rampart-intel --example import_bench -- [N] [RUNS]`
//! With `LIST_ONLY=1`, only the list into matchers (for 10 million: the bundle and the
//! SQLite refresh of that many take minutes and gigabytes).

#[path = "../benches/support/gen.rs"]
mod gen;

use rampart_intel::feeds::{FeedConfig, FeedKind, Intel, IntelConfig};
use rampart_intel::lists::read_list;
use rampart_intel::stix::{import_bundle_bytes, BundleLimits, ImportContext};
use rampart_intel::store::SqliteIntelStore;
use rampart_intel::{SetBuilder, Tlp};
use rampart_model::Timestamp;
use std::sync::Arc;
use std::time::Instant;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let n: usize = args
        .next()
        .map(|a| a.parse())
        .transpose()?
        .unwrap_or(1_000_000);
    let runs: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(3);
    let dir = std::env::temp_dir().join(format!("rampart-import-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let mut rng = gen::Rng(0x9e37_79b9_7f4a_7c15);
    let list: String = gen::v4_prefixes(n, &mut rng)
        .iter()
        .map(|o| format!("{o}\n"))
        .collect();
    let list_only = std::env::var_os("LIST_ONLY").is_some();
    let bundle = if list_only {
        String::new()
    } else {
        gen::bundle_text(n, &mut rng)
    };
    std::fs::write(dir.join("list.txt"), &list)?;
    std::fs::write(dir.join("bundle.json"), &bundle)?;
    println!(
        "{n} indicators: list {:.1} MB, bundle {:.1} MB",
        list.len() as f64 / 1e6,
        bundle.len() as f64 / 1e6
    );
    let now = Timestamp::from_secs(1_800_000_000);
    let cx = ImportContext {
        source: "bench",
        now,
        default_tlp: Tlp::Amber,
        default_confidence: None,
    };
    let (mut t_list, mut t_bundle, mut t_feed) = (vec![], vec![], vec![]);
    for run in 0..runs {
        let t = Instant::now();
        let l = read_list(std::io::BufReader::new(std::fs::File::open(
            dir.join("list.txt"),
        )?))?;
        let mut b = SetBuilder::new();
        b.add_list("list", None, Tlp::Clear, &l.observables);
        let s = b.build().stats();
        t_list.push(t.elapsed().as_secs_f64());
        assert_eq!(s.indicators, n);
        if list_only {
            println!("run {}: list→set {:.2} s", run + 1, t_list[run]);
            continue;
        }

        let t = Instant::now();
        let bytes =
            rampart_intel::feeds::fetch(None, Some(&dir.join("bundle.json")), None, 4 << 30)
                .map_err(anyhow::Error::msg)?;
        let got = import_bundle_bytes(&bytes, &cx, &BundleLimits::default())?;
        let mut b = SetBuilder::new();
        for i in &got.indicators {
            b.add_indicator(i, now);
        }
        let s = b.build().stats();
        t_bundle.push(t.elapsed().as_secs_f64());
        assert_eq!(s.indicators, n);
        drop((got, bytes));

        let db = dir.join(format!("intel-{run}.db"));
        let store = Arc::new(SqliteIntelStore::open(&db)?);
        let mut feed = FeedConfig::new("bench", FeedKind::Stix);
        feed.path = Some(dir.join("bundle.json"));
        feed.max_bytes = 4 << 30;
        let intel = Intel::new(
            IntelConfig {
                feeds: vec![feed],
                ..IntelConfig::default()
            },
            store,
        );
        let t = Instant::now();
        let r = intel.refresh("bench", now)?;
        t_feed.push(t.elapsed().as_secs_f64());
        // Where the refresh's time goes, on a second store: store only, then rebuild only.
        let store2 = Arc::new(SqliteIntelStore::open(
            &dir.join(format!("phases-{run}.db")),
        )?);
        let bytes =
            rampart_intel::feeds::fetch(None, Some(&dir.join("bundle.json")), None, 4 << 30)
                .map_err(anyhow::Error::msg)?;
        let got = import_bundle_bytes(&bytes, &cx, &BundleLimits::default())?;
        drop(bytes);
        let t = Instant::now();
        rampart_intel::store::IndicatorStore::upsert_indicators(&*store2, &got.indicators, now)?;
        let t_store = t.elapsed().as_secs_f64();
        let intel2 = Intel::new(IntelConfig::default(), store2);
        let t = Instant::now();
        intel2.rebuild(now)?;
        println!(
            "  phases: store {t_store:.2} s, rebuild from store {:.2} s",
            t.elapsed().as_secs_f64()
        );
        drop((got, intel2));
        let _ = std::fs::remove_file(dir.join(format!("phases-{run}.db")));
        assert_eq!(r.written, n as u64);
        assert_eq!(intel.indicators().load().stats().indicators, n);
        println!(
            "run {}: list→set {:.2} s, bundle→set {:.2} s, feed refresh (bundle→SQLite→set) {:.2} s",
            run + 1,
            t_list[run],
            t_bundle[run],
            t_feed[run]
        );
        drop(intel);
        let _ = std::fs::remove_file(&db);
    }
    if list_only {
        println!("median of {runs}: list→set {:.2} s", median(t_list));
        let _ = std::fs::remove_dir_all(&dir);
        return Ok(());
    }
    println!(
        "median of {runs}: list→set {:.2} s, bundle→set {:.2} s, feed refresh {:.2} s",
        median(t_list),
        median(t_bundle),
        median(t_feed)
    );
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
