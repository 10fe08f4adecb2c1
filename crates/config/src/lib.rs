//! The configuration file (TOML) and the command-line overrides of every command that reads
//! it: `--config FILE`, `--set KEY=VALUE` (a dotted key and a TOML value) and `--protect
//! CIDR`. Unknown keys are errors, so that a typo never silently leaves a default in force.

use anyhow::{bail, Context, Result};
use rampart_detect::{AuthConfig, DdosConfig, ExfilConfig, HttpFloodConfig, ScanConfig};
use rampart_geo::GeoConfig;
use rampart_model::Cidr;
use rampart_respond::RespondConfig;
use serde::{Deserialize, Serialize};
use std::fs::File;
use std::io::Read;
use std::path::Path;

mod serve;
pub use serve::{ApiConfig, ListenConfig, LogFile, LogsConfig, StoreConfig};

/// `rampart config default`: every key with its default and a comment saying what it does.
/// A test checks that it parses to `Config::default()` and documents every key.
pub const DEFAULT_TOML: &str = include_str!("../default.toml");

/// Config files larger than this are refused: a real one is a few kilobytes.
const MAX_CONFIG_BYTES: u64 = 1 << 20;

/// The whole configuration. Sections appear as features land; each has defaults.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// The protected address space, shared by every detector. Empty: every destination
    /// counts as protected, and nothing is counted as outbound.
    pub protect: Vec<Cidr>,
    pub detect: DetectConfig,
    pub respond: RespondConfig,
    pub notify: rampart_notify::NotifyConfig,
    pub listen: ListenConfig,
    pub logs: LogsConfig,
    pub api: ApiConfig,
    pub store: StoreConfig,
    pub geo: GeoConfig,
    /// Threat intelligence: feeds, sharing policy, the TAXII server (`[intel]`).
    pub intel: rampart_intel::feeds::IntelConfig,
}

/// `[detect]`: one table per detector.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct DetectConfig {
    pub ddos: DdosConfig,
    pub scan: ScanConfig,
    pub auth: AuthConfig,
    pub exfil: ExfilConfig,
    pub http: HttpFloodConfig,
    /// Flows and log events against the indicators of `[intel]` feeds.
    pub ioc: rampart_intel::detector::IocConfig,
}

/// Where the settings of one run come from, in increasing precedence.
#[derive(Clone, Debug, Default)]
pub struct Sources<'a> {
    pub file: Option<&'a Path>,
    pub set: &'a [String],
    pub protect: &'a [Cidr],
}

impl Config {
    /// Reads the file (if any), applies `--set` overrides, then `--protect`, then checks
    /// every section. Errors name the file or the key.
    pub fn load(src: &Sources<'_>) -> Result<Config> {
        let mut table = match src.file {
            Some(path) => read_table(path)?,
            None => toml::Table::new(),
        };
        for assignment in src.set {
            apply_set(&mut table, assignment)?;
        }
        // Re-rendered so that serde's errors point at a line of the merged document.
        let merged = toml::to_string(&table).context("rendering the configuration")?;
        let mut config: Config = toml::from_str(&merged).map_err(|e| {
            let origin = src
                .file
                .map_or("the --set options".to_string(), |p| p.display().to_string());
            anyhow::anyhow!("{origin}: {}", e.message().trim()).context(format!(
                "invalid configuration (merged from {origin} and --set):\n{e}"
            ))
        })?;
        config.protect.extend_from_slice(src.protect);
        config.protect.sort();
        config.protect.dedup();
        config.validate()?;
        Ok(config)
    }

    /// Checks what serde cannot and hands the shared settings to each detector.
    pub fn validate(&mut self) -> Result<()> {
        self.detect.ddos.protect = self.protect.clone();
        self.detect.ddos.validate()?;
        self.detect.scan.protect = self.protect.clone();
        self.detect.scan.validate()?;
        self.detect.auth.validate()?;
        self.detect.exfil.protect = self.protect.clone();
        self.detect.exfil.validate()?;
        self.detect.http.validate()?;
        self.geo.validate()?;
        self.respond.protect = self.protect.clone();
        self.respond.validate()?;
        self.notify.validate().map_err(|e| anyhow::anyhow!("{e}"))?;
        self.listen.validate()?;
        self.logs.validate()?;
        self.api.validate()?;
        self.store.validate()?;
        self.intel.validate().map_err(|e| anyhow::anyhow!("{e}"))?;
        if self.detect.ioc.min_confidence > 100 {
            bail!("detect.ioc.min_confidence is 0..100");
        }
        Ok(())
    }

    /// The configuration as TOML, for `rampart config show|default`.
    pub fn to_toml(&self) -> Result<String> {
        toml::to_string_pretty(self).context("rendering the configuration")
    }
}

fn read_table(path: &Path) -> Result<toml::Table> {
    let name = path.display();
    let file = File::open(path).with_context(|| format!("{name}: cannot open"))?;
    let mut text = String::new();
    #[allow(clippy::disallowed_methods)] // bounded by take()
    file.take(MAX_CONFIG_BYTES + 1)
        .read_to_string(&mut text)
        .with_context(|| format!("{name}: cannot read (is it UTF-8 text?)"))?;
    if text.len() as u64 > MAX_CONFIG_BYTES {
        bail!("{name}: larger than {MAX_CONFIG_BYTES} bytes; not a configuration file");
    }
    toml::from_str(&text).map_err(|e| anyhow::anyhow!("{name}: {e}"))
}

/// `KEY=VALUE`: a dotted key and a TOML value. A value that is not valid TOML is taken as a
/// string, so `--set store.path=/var/lib/rampart` needs no shell-quoted quotes.
fn apply_set(table: &mut toml::Table, assignment: &str) -> Result<()> {
    let Some((key, raw)) = assignment.split_once('=') else {
        bail!("--set {assignment}: expected KEY=VALUE, e.g. detect.ddos.host_pps=50000");
    };
    let key = key.trim();
    let parts: Vec<&str> = key.split('.').map(str::trim).collect();
    if parts.iter().any(|p| p.is_empty()) {
        bail!("--set {assignment}: `{key}` is not a dotted key");
    }
    let value = match toml::from_str::<toml::Table>(&format!("v = {raw}")) {
        Ok(mut t) => t
            .remove("v")
            .unwrap_or(toml::Value::String(raw.to_string())),
        Err(_) => toml::Value::String(raw.trim().to_string()),
    };
    let (last, path) = parts.split_last().unwrap_or((&"", &[]));
    let mut at = table;
    for (i, p) in path.iter().enumerate() {
        let entry = at
            .entry(p.to_string())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        at = match entry {
            toml::Value::Table(t) => t,
            _ => bail!(
                "--set {assignment}: `{}` is a value, not a table",
                parts[..=i].join(".")
            ),
        };
    }
    at.insert(last.to_string(), value);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn load(file: Option<&str>, set: &[&str], protect: &[&str]) -> Result<Config> {
        let tmp = file.map(|text| {
            let mut f = tempfile();
            f.1.write_all(text.as_bytes()).unwrap();
            f
        });
        let set: Vec<String> = set.iter().map(|s| s.to_string()).collect();
        let protect: Vec<Cidr> = protect.iter().map(|s| s.parse().unwrap()).collect();
        Config::load(&Sources {
            file: tmp.as_ref().map(|t| t.0.as_path()),
            set: &set,
            protect: &protect,
        })
    }

    fn tempfile() -> (std::path::PathBuf, File) {
        let dir = std::env::temp_dir().join(format!("rampart-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let n = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let path = dir.join(format!("{n}.toml"));
        let f = File::create(&path).unwrap();
        (path, f)
    }

    #[test]
    fn defaults_file_set_and_protect_layer_in_order() {
        let c = load(None, &[], &[]).unwrap();
        assert_eq!(c, {
            let mut d = Config::default();
            d.validate().unwrap();
            d
        });
        let c = load(
            Some("protect = [\"198.51.100.0/24\"]\n[detect.ddos]\nhost_pps = 1000\nhost_bps = 5000000\n"),
            &["detect.ddos.host_pps=2000", "detect.ddos.vector_pps.syn_flood = 300"],
            &["203.0.113.0/24"],
        )
        .unwrap();
        assert_eq!(c.detect.ddos.host_pps, 2000);
        assert_eq!(c.detect.ddos.host_bps, 5_000_000);
        assert_eq!(c.detect.ddos.vector_pps.syn_flood, 300);
        assert_eq!(c.detect.ddos.vector_pps.icmp_flood, 2000);
        let want: Vec<Cidr> = vec![
            "198.51.100.0/24".parse().unwrap(),
            "203.0.113.0/24".parse().unwrap(),
        ];
        assert_eq!(c.protect, want);
        assert_eq!(c.detect.ddos.protect, want);
    }

    #[test]
    fn errors_name_the_key_or_file() {
        let e = load(None, &["detect.ddos.host_ppz=1"], &[]).unwrap_err();
        assert!(format!("{e:#}").contains("host_ppz"), "{e:#}");
        let e = load(None, &["detect.ddos.tick_ms=300"], &[]).unwrap_err();
        assert!(format!("{e:#}").contains("detect.ddos.tick_ms"), "{e:#}");
        let e = load(None, &["detect.ddos.host_pps"], &[]).unwrap_err();
        assert!(format!("{e:#}").contains("KEY=VALUE"), "{e:#}");
        let e = load(None, &["detect.ddos.host_pps=many"], &[]).unwrap_err();
        assert!(format!("{e:#}").contains("host_pps"), "{e:#}");
        let e = load(Some("[detect.ddos\n"), &[], &[]).unwrap_err();
        assert!(format!("{e:#}").contains(".toml"), "{e:#}");
        let e = load(None, &["protect=[\"10.0.0.1/8\"]"], &[]).unwrap_err();
        assert!(format!("{e:#}").contains("host bits"), "{e:#}");
    }

    #[test]
    fn scan_keys_layer_validate_and_get_the_protected_space() {
        let c = load(
            Some("[detect.scan]\nports = 200\n"),
            &["detect.scan.hosts=50", "detect.scan.window_s=30"],
            &["203.0.113.0/24"],
        )
        .unwrap();
        assert_eq!(
            (
                c.detect.scan.ports,
                c.detect.scan.hosts,
                c.detect.scan.window_s
            ),
            (200, 50, 30)
        );
        assert_eq!(c.detect.scan.max_sources, ScanConfig::default().max_sources);
        assert_eq!(c.detect.scan.protect, c.protect);
        let e = load(None, &["detect.scan.ports=1"], &[]).unwrap_err();
        assert!(format!("{e:#}").contains("detect.scan.ports: 1"), "{e:#}");
        let e = load(None, &["detect.scan.window=60"], &[]).unwrap_err();
        assert!(format!("{e:#}").contains("window"), "{e:#}");
        // `protect` is top-level only.
        assert!(load(None, &["detect.scan.protect=[\"10.0.0.0/8\"]"], &[]).is_err());
    }

    #[test]
    fn access_and_geo_keys_layer_and_validate_by_name() {
        let c = load(
            Some("[detect.auth]\nfailures = 8\n[geo]\ncity = \"/var/lib/GeoIP/GeoLite2-City.mmdb\"\n"),
            &[
                "detect.auth.window_s=120",
                "detect.exfil.min_bytes=1000000",
                "detect.http.rps=20.5",
                "detect.auth.exempt=[\"198.51.100.0/24\"]",
            ],
            &["203.0.113.0/24"],
        )
        .unwrap();
        assert_eq!((c.detect.auth.failures, c.detect.auth.window_s), (8, 120));
        assert_eq!(c.detect.auth.exempt.len(), 1);
        assert_eq!(c.detect.exfil.min_bytes, 1_000_000);
        assert_eq!(c.detect.exfil.protect, c.protect);
        assert_eq!(c.detect.http.rps, 20.5);
        assert_eq!(
            c.geo.city.as_deref(),
            Some(Path::new("/var/lib/GeoIP/GeoLite2-City.mmdb"))
        );
        assert_eq!(c.geo.asn, None);
        for (set, key) in [
            ("detect.auth.failures=0", "detect.auth.failures"),
            ("detect.exfil.window_s=0", "detect.exfil.window_s"),
            ("detect.http.factor=0.5", "detect.http.factor"),
            ("geo.cache_entries=0", "geo.cache_entries"),
            ("detect.auth.failure=3", "failure"),
        ] {
            let e = load(None, &[set], &[]).unwrap_err();
            assert!(format!("{e:#}").contains(key), "{set}: {e:#}");
        }
    }

    #[test]
    fn respond_and_serve_keys_validate_by_name() {
        let c = load(
            None,
            &[
                "respond.dry_run=false",
                "respond.never=[\"203.0.113.53/32\"]",
            ],
            &[],
        )
        .unwrap();
        assert!(!c.respond.dry_run);
        assert_eq!(c.respond.never.len(), 1);
        for (set, key) in [
            ("respond.max_active=0", "respond.max_active"),
            (
                "respond.blackhole.communities=[\"65535:666666\"]",
                "respond.blackhole.communities",
            ),
            (
                "respond.flowspec_max_collateral=2.0",
                "respond.flowspec_max_collateral",
            ),
            ("listen.sockets_per_port=0", "listen.sockets_per_port"),
            ("listen.interfaces=[\"a b\"]", "listen.interfaces"),
            ("listen.interfaces=[\"\"]", "listen.interfaces"),
            (
                "listen.interfaces=[\"eth0\", \"eth0\"]",
                "listen.interfaces",
            ),
            ("listen.capture_threads=0", "listen.capture_threads"),
            (
                "listen.capture_block_bytes=100000",
                "listen.capture_block_bytes",
            ),
            ("listen.capture_blocks=1", "listen.capture_blocks"),
            ("listen.capture_blocks=65536", "listen.capture_blocks"),
            ("store.retention_days=0", "store.retention_days"),
            ("api.max_body_bytes=1", "api.max_body_bytes"),
        ] {
            let e = load(None, &[set], &[]).unwrap_err();
            assert!(format!("{e:#}").contains(key), "{set}: {e:#}");
        }
    }

    #[test]
    fn default_renders_and_reads_back() {
        let text = Config::default().to_toml().unwrap();
        assert!(text.contains("host_pps = 20000"), "{text}");
        assert!(
            text.contains("[detect.scan]\nports = 100\nhosts = 64\nwindow_s = 60\n"),
            "{text}"
        );
        let back: Config = toml::from_str(&text).unwrap();
        assert_eq!(back, Config::default());
    }

    /// Dotted paths of every leaf key of a table.
    fn leaf_keys(prefix: &str, t: &toml::Table, out: &mut Vec<String>) {
        for (k, v) in t {
            let path = if prefix.is_empty() {
                k.clone()
            } else {
                format!("{prefix}.{k}")
            };
            match v {
                toml::Value::Table(inner) => leaf_keys(&path, inner, out),
                _ => out.push(path),
            }
        }
    }

    #[test]
    fn documented_default_is_the_default_and_documents_every_key() {
        let parsed: Config = toml::from_str(DEFAULT_TOML).unwrap();
        assert_eq!(parsed, Config::default());
        let mut want = Vec::new();
        let table: toml::Table = toml::from_str(&Config::default().to_toml().unwrap()).unwrap();
        leaf_keys("", &table, &mut want);
        want.sort();
        // Keys set in the documented file, each right under a comment line. An array of
        // tables (`[[respond.rules]]`) is one key, documented above its first header.
        let (mut section, mut commented, mut documented) = (String::new(), false, Vec::new());
        let mut in_array = false;
        for line in DEFAULT_TOML.lines() {
            let line = line.trim();
            if let Some(name) = line.strip_prefix("[[").and_then(|l| l.strip_suffix("]]")) {
                if !documented.contains(&name.to_string()) {
                    assert!(commented, "[[{name}]] has no comment in default.toml");
                    documented.push(name.to_string());
                }
                in_array = true;
            } else if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
                section = name.to_string();
                in_array = false;
            } else if let Some((key, _)) = line.split_once(" = ").filter(|_| !line.starts_with('#'))
            {
                if !in_array {
                    assert!(commented, "{section}.{key} has no comment in default.toml");
                    documented.push(if section.is_empty() {
                        key.to_string()
                    } else {
                        format!("{section}.{key}")
                    });
                }
            }
            commented = line.starts_with('#');
        }
        documented.sort();
        assert_eq!(
            documented, want,
            "default.toml and Config::default() differ in keys"
        );
    }
}
