//! `rampart intel import|export|list`: indicators into and out of the store `rampart serve`
//! uses (`intel.db` in the config's data directory), and the stored detections exported
//! as one STIX 2.1 bundle or MISP event under the `[intel.share]` policy.

use anyhow::{bail, Context, Result};
use clap::{Subcommand, ValueEnum};
use rampart_config::Config;
use rampart_intel::export::export_json;
use rampart_intel::feeds::{FeedConfig, FeedKind, Intel, IntelConfig};
use rampart_intel::store::{IndicatorQuery, IndicatorStore, SqliteIntelStore, DB_FILE};
use rampart_intel::{Indicator, Tlp};
use rampart_model::Timestamp;
use rampart_store::{DetectionQuery, SqliteStore, Store};
use serde_json::{json, Value};
use std::sync::Arc;

#[derive(Debug, Subcommand)]
pub enum IntelAction {
    /// Import indicators from a file or URL: a STIX 2.1 bundle (.json), a MISP feed (a
    /// directory or URL holding manifest.json), or a plain list (one address, network,
    /// domain, URL or hash a line). They stay until removed; a running serve notices the
    /// write and matches them within a second.
    Import {
        /// The file, directory or http(s) URL.
        what: String,
        /// The source name the indicators are stored under.
        #[arg(long, default_value = "import")]
        name: String,
        /// stix, misp or list (default: told from the name).
        #[arg(long, value_parser = ["stix", "misp", "list"])]
        kind: Option<String>,
    },
    /// Export stored detections the sharing policy lets out.
    Export {
        #[arg(long, value_enum, default_value_t = ExportFormat::Stix)]
        format: ExportFormat,
        /// Only detections active within this long before now (30s, 15m, 24h, 7d).
        #[arg(long, value_name = "DURATION")]
        since: Option<String>,
    },
    /// List stored indicators: source, id, TLP, confidence, matched or kept, pattern.
    List {
        /// Only this source (feed name).
        #[arg(long)]
        source: Option<String>,
        #[arg(long, default_value_t = 1000)]
        limit: usize,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ExportFormat {
    /// One STIX 2.1 bundle.
    Stix,
    /// One MISP event (the JSON of a MISP feed's event file).
    Misp,
}

fn now() -> Timestamp {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    Timestamp::from_secs_nanos(d.as_secs(), d.subsec_nanos())
}

/// `30s`, `15m`, `24h`, `7d`, or plain seconds.
pub fn parse_duration(s: &str) -> Result<u64> {
    let s = s.trim();
    let (n, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: u64 = n
        .parse()
        .with_context(|| format!("--since {s}: expected a number and s, m, h or d"))?;
    let mult = match unit {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3_600,
        "d" => 86_400,
        _ => bail!("--since {s}: the unit is s, m, h or d"),
    };
    Ok(n.saturating_mul(mult))
}

pub fn run(action: IntelAction, config: &Config) -> Result<()> {
    let dir = &config.store.path;
    std::fs::create_dir_all(dir).with_context(|| format!("{}", dir.display()))?;
    let db = dir.join(DB_FILE);
    let open =
        || SqliteIntelStore::open(&db).with_context(|| format!("indicator store {}", db.display()));
    let now = now();
    match action {
        IntelAction::Import { what, name, kind } => {
            let store = Arc::new(open()?);
            let remote = what.starts_with("http://") || what.starts_with("https://");
            let kind = match kind.as_deref() {
                Some("stix") => FeedKind::Stix,
                Some("misp") => FeedKind::Misp,
                Some(_) => FeedKind::List,
                None if what.ends_with(".json") => FeedKind::Stix,
                None if !remote && std::path::Path::new(&what).is_dir() => FeedKind::Misp,
                None => FeedKind::List,
            };
            let mut feed = FeedConfig::new(&name, kind);
            if remote {
                feed.url = Some(what.clone());
            } else {
                feed.path = Some(what.clone().into());
            }
            // Imported by hand: kept until removed, not expired by a refresh schedule.
            feed.expire_after_s = 100 * 365 * 86_400;
            feed.validate().map_err(anyhow::Error::msg)?;
            if kind == FeedKind::List {
                return import_list(&feed, store.as_ref(), now);
            }
            let intel = Intel::new(
                IntelConfig {
                    feeds: vec![feed.clone()],
                    ..config.intel.clone()
                },
                store,
            );
            let r = intel.refresh(&feed.name, now)?;
            println!("{}", serde_json::to_string_pretty(&r)?);
        }
        IntelAction::List { source, limit } => {
            let store = open()?;
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
        IntelAction::Export { format, since } => {
            let since = since
                .map(|s| parse_duration(&s))
                .transpose()?
                .map(|s| Timestamp::from_nanos(now.as_nanos().saturating_sub(s * 1_000_000_000)));
            let store =
                SqliteStore::open(dir).with_context(|| format!("store {}", dir.display()))?;
            let found = store.detections(&DetectionQuery {
                since,
                limit: 100_000,
                ..Default::default()
            })?;
            let bodies: Vec<Value> = found.into_iter().map(|d| d.body).collect();
            let e = export_json(&bodies, &config.protect, &config.intel.share, now);
            for (addr, why) in &e.withheld {
                eprintln!("withheld {addr}: {why:?}");
            }
            match format {
                ExportFormat::Stix => println!("{}", e.to_json_pretty()),
                ExportFormat::Misp => println!(
                    "{}",
                    serde_json::to_string_pretty(&misp_event(&e.bundle, config, now)?)?
                ),
            }
        }
    }
    Ok(())
}

/// A list file's lines as stored indicators (ids derived from source and value, so a
/// second import of the same list updates rather than repeats).
fn import_list(feed: &FeedConfig, store: &dyn IndicatorStore, now: Timestamp) -> Result<()> {
    let bytes = rampart_intel::feeds::fetch(
        feed.url.as_deref(),
        feed.path.as_deref(),
        None,
        feed.max_bytes,
    )
    .map_err(anyhow::Error::msg)?;
    let load = rampart_intel::lists::read_list(&bytes[..]).map_err(|e| anyhow::anyhow!("{e}"))?;
    let inds: Vec<Indicator> = load
        .observables
        .iter()
        .map(|o| {
            let id = rampart_intel::stix::derived_id("indicator", &format!("{}|{o}", feed.name));
            Indicator::for_observable(id, o.clone(), &feed.name, now, Tlp::default())
        })
        .collect();
    let stats = store.upsert_indicators(&inds, now)?;
    println!(
        "{}",
        serde_json::to_string_pretty(&json!({
            "feed": feed.name,
            "read": inds.len(),
            "written": stats.written,
            "errors": load.errors,
            "first_errors": load.first_errors,
        }))?
    );
    Ok(())
}

/// The indicators of an exported bundle as one MISP event: an attribute per observable
/// (`ip-src` for the sources we saw attacking), `to_ids` from each indicator's detect flag,
/// their description as comment, tagged with their TLP.
fn misp_event(bundle: &Value, config: &Config, now: Timestamp) -> Result<Value> {
    let share = &config.intel.share;
    let cx = rampart_intel::stix::ImportContext {
        source: "export",
        now,
        default_tlp: share.tlp,
        default_confidence: None,
    };
    let got = rampart_intel::stix::import_bundle_bytes(
        bundle.to_string().as_bytes(),
        &cx,
        &rampart_intel::stix::BundleLimits::default(),
    )
    .context("reading back the exported bundle")?;
    let descriptions: std::collections::HashMap<&str, &str> = bundle["objects"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|o| Some((o["id"].as_str()?, o["description"].as_str()?)))
        .collect();
    let info = format!("{}: sources seen attacking", share.identity_name);
    let e = rampart_intel::misp_export::event(
        got.indicators
            .iter()
            .map(|i| (i, descriptions.get(i.id.as_str()).copied().unwrap_or(""))),
        &rampart_intel::misp_export::EventMeta {
            org: &share.identity_name,
            info: &info,
            tlp: share.tlp,
            now,
        },
    );
    for id in &e.skipped {
        eprintln!("left out of the MISP event {id}: its pattern is not one MISP attributes say");
    }
    Ok(e.event)
}
