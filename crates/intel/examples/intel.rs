//! A small `rampart intel` for scripts and tests until the daemon's binary wires it:
//!   intel --store DIR import FILE_OR_URL [--name NAME] [--kind stix|misp|list|csv] [--column C]
//!   intel --store DIR list [--source NAME] [--limit N]
//!   intel export DETECTIONS.json [--protect CIDR]... [--tlp LEVEL]
//! (`export` reads `rampart analyze --format json` output and writes one STIX bundle.)

use anyhow::{bail, Context};
use rampart_intel::export::{export_json, SharePolicy};
use rampart_intel::feeds::{FeedConfig, FeedKind, Intel, IntelConfig};
use rampart_intel::store::{IndicatorQuery, IndicatorStore, SqliteIntelStore, DB_FILE};
use rampart_intel::taxii::server::system_now;
use std::path::PathBuf;
use std::sync::Arc;

fn main() -> anyhow::Result<()> {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let mut take = |flag: &str| -> Option<String> {
        let i = args.iter().position(|a| a == flag)?;
        args.remove(i);
        (i < args.len()).then(|| args.remove(i))
    };
    let store_dir = take("--store")
        .map(PathBuf::from)
        .unwrap_or_else(|| "rampart-data".into());
    let name = take("--name");
    let kind = take("--kind");
    let column = take("--column");
    let source = take("--source");
    let limit = take("--limit")
        .map(|l| l.parse())
        .transpose()?
        .unwrap_or(100);
    let tlp = take("--tlp")
        .map(|t| t.parse().map_err(anyhow::Error::msg))
        .transpose()?;
    let mut protect = Vec::new();
    while let Some(p) = take("--protect") {
        protect.push(p.parse().map_err(anyhow::Error::msg)?);
    }
    let now = system_now();
    match args.first().map(String::as_str) {
        Some("import") => {
            let what = args.get(1).context("import needs a file or URL")?;
            let kind = match kind.as_deref() {
                Some("stix") | None if what.ends_with(".json") => FeedKind::Stix,
                Some("misp") => FeedKind::Misp,
                Some("csv") => FeedKind::Csv,
                Some("list") | None => FeedKind::List,
                Some("stix") => FeedKind::Stix,
                Some(k) => bail!("unknown kind `{k}` (stix, misp, list or csv)"),
            };
            if kind == FeedKind::List || kind == FeedKind::Csv {
                bail!("lists are read by the daemon at each refresh; add them as [[intel.feeds]]");
            }
            let mut feed = FeedConfig::new(name.as_deref().unwrap_or("import"), kind);
            if what.starts_with("http://") || what.starts_with("https://") {
                feed.url = Some(what.clone());
            } else {
                feed.path = Some(what.into());
            }
            feed.column = column;
            // A manual import is not refreshed; its indicators stay until removed.
            feed.expire_after_s = u64::MAX / 2_000_000;
            let store = Arc::new(SqliteIntelStore::open(&store_dir.join(DB_FILE))?);
            let intel = Intel::new(
                IntelConfig {
                    feeds: vec![feed.clone()],
                    ..IntelConfig::default()
                },
                store,
            );
            let r = intel.refresh(&feed.name, now)?;
            println!("{}", serde_json::to_string_pretty(&r)?);
        }
        Some("list") => {
            let store = SqliteIntelStore::open(&store_dir.join(DB_FILE))?;
            let list = store.indicators(&IndicatorQuery {
                source,
                limit,
                ..Default::default()
            })?;
            for i in list {
                println!(
                    "{}\t{}\t{}\t{}\t{}\t{}",
                    i.source,
                    i.id,
                    i.tlp,
                    i.confidence.map_or("-".into(), |c| c.to_string()),
                    if i.is_active(now) { "match" } else { "kept" },
                    i.pattern
                );
            }
        }
        Some("export") => {
            let file = args
                .get(1)
                .context("export needs the detections' JSON file")?;
            let f = std::fs::File::open(file).with_context(|| file.clone())?;
            let v: serde_json::Value = serde_json::from_reader(std::io::BufReader::new(f))
                .with_context(|| file.clone())?;
            let dets = v
                .get("detections")
                .and_then(|d| d.as_array())
                .cloned()
                .unwrap_or_default();
            let policy = SharePolicy {
                tlp: tlp.unwrap_or_default(),
                ..SharePolicy::default()
            };
            let e = export_json(&dets, &protect, &policy, now);
            for (addr, why) in &e.withheld {
                eprintln!("withheld {addr}: {why:?}");
            }
            println!("{}", e.to_json_pretty());
        }
        _ => bail!("usage: intel [--store DIR] import FILE_OR_URL | list | export DETECTIONS.json"),
    }
    Ok(())
}
