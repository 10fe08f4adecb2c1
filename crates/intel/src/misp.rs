//! MISP feeds in the layout MISP publishes them: `manifest.json` listing events by UUID
//! with their timestamps, one `UUID.json` per event. Attributes of the network and file
//! types become indicators; only `to_ids` ones are matched, the others kept as context.

use crate::indicator::{HashAlgo, Indicator, Observable, Tlp};
use crate::matcher::normalize_domain;
use crate::pattern::{normalize_url, Pattern};
use crate::stix::{derived_id, ImportContext, Imported};
use rampart_model::{Cidr, Timestamp};
use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer};
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;

/// Why a MISP document was refused as a whole.
#[derive(Debug, thiserror::Error)]
pub enum MispError {
    #[error("{what}: not a MISP {kind}: {message}")]
    Json {
        what: String,
        kind: &'static str,
        message: String,
    },
}

/// One event as the manifest lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestEntry {
    pub uuid: String,
    /// The event's last change (Unix seconds), to fetch only what changed.
    pub timestamp: u64,
    pub info: String,
}

#[derive(Deserialize)]
struct ManifestEvent {
    #[serde(default)]
    info: String,
    #[serde(default, deserialize_with = "lenient_u64")]
    timestamp: u64,
}

/// Reads `manifest.json`. Entries whose key is not a UUID are dropped (their file name
/// would be unsafe to open) and counted in the second value.
pub fn parse_manifest(bytes: &[u8], what: &str) -> Result<(Vec<ManifestEntry>, u64), MispError> {
    let map: BTreeMap<String, ManifestEvent> =
        serde_json::from_slice(bytes).map_err(|e| MispError::Json {
            what: what.into(),
            kind: "manifest",
            message: e.to_string(),
        })?;
    let mut bad = 0;
    let mut out = Vec::with_capacity(map.len());
    for (uuid, ev) in map {
        // The key names a file to fetch: only the plain hyphenated form is let through.
        let Ok(parsed) = uuid::Uuid::try_parse(&uuid) else {
            bad += 1;
            continue;
        };
        out.push(ManifestEntry {
            uuid: parsed.hyphenated().to_string(),
            timestamp: ev.timestamp,
            info: ev.info,
        });
    }
    Ok((out, bad))
}

#[derive(Deserialize)]
struct EventFile<'a> {
    #[serde(rename = "Event", borrow)]
    event: Event<'a>,
}

#[derive(Deserialize)]
struct Event<'a> {
    #[serde(default)]
    uuid: String,
    #[serde(default)]
    info: String,
    #[serde(default, deserialize_with = "lenient_u64")]
    timestamp: u64,
    #[serde(rename = "Orgc", default)]
    orgc: Option<Org>,
    #[serde(rename = "Tag", default)]
    tags: Vec<Tag>,
    #[serde(rename = "Attribute", default, borrow)]
    attributes: Vec<Attribute<'a>>,
    #[serde(rename = "Object", default, borrow)]
    objects: Vec<Object<'a>>,
}

#[derive(Deserialize)]
struct Org {
    #[serde(default)]
    name: String,
}

#[derive(Deserialize)]
struct Tag {
    #[serde(default)]
    name: String,
}

#[derive(Deserialize)]
struct Object<'a> {
    #[serde(rename = "Attribute", default, borrow)]
    attributes: Vec<Attribute<'a>>,
}

/// Borrowed from the file where JSON allows it (no escapes): a feed has millions of these.
#[derive(Deserialize)]
struct Attribute<'a> {
    #[serde(default, borrow)]
    uuid: Cow<'a, str>,
    #[serde(rename = "type", borrow)]
    kind: Cow<'a, str>,
    #[serde(default, borrow)]
    category: Cow<'a, str>,
    #[serde(borrow)]
    value: Cow<'a, str>,
    #[serde(default, deserialize_with = "lenient_bool")]
    to_ids: bool,
    #[serde(default, deserialize_with = "lenient_bool")]
    deleted: bool,
    #[serde(default, deserialize_with = "lenient_u64")]
    timestamp: u64,
    #[serde(default, borrow)]
    comment: Cow<'a, str>,
    #[serde(rename = "Tag", default)]
    tags: Vec<Tag>,
}

/// MISP writes numbers as strings and flags as `true`, `"1"` or `1`. Visitors rather than
/// untagged enums: those buffer every value first, which was most of an import's parse time.
fn lenient_u64<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    struct V;
    impl Visitor<'_> for V {
        type Value = u64;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a number or a number in a string")
        }
        fn visit_u64<E: de::Error>(self, n: u64) -> Result<u64, E> {
            Ok(n)
        }
        fn visit_i64<E: de::Error>(self, n: i64) -> Result<u64, E> {
            Ok(u64::try_from(n).unwrap_or(0))
        }
        fn visit_f64<E: de::Error>(self, n: f64) -> Result<u64, E> {
            Ok(if n.is_finite() && n > 0.0 {
                n as u64
            } else {
                0
            })
        }
        fn visit_str<E: de::Error>(self, s: &str) -> Result<u64, E> {
            Ok(s.trim().parse().unwrap_or(0))
        }
        fn visit_bool<E: de::Error>(self, _: bool) -> Result<u64, E> {
            Ok(0)
        }
        fn visit_unit<E: de::Error>(self) -> Result<u64, E> {
            Ok(0)
        }
    }
    d.deserialize_any(V)
}

fn lenient_bool<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    struct V;
    impl Visitor<'_> for V {
        type Value = bool;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("true, false, 0, 1 or one of them in a string")
        }
        fn visit_bool<E: de::Error>(self, b: bool) -> Result<bool, E> {
            Ok(b)
        }
        fn visit_u64<E: de::Error>(self, n: u64) -> Result<bool, E> {
            Ok(n != 0)
        }
        fn visit_i64<E: de::Error>(self, n: i64) -> Result<bool, E> {
            Ok(n != 0)
        }
        fn visit_str<E: de::Error>(self, s: &str) -> Result<bool, E> {
            Ok(matches!(s.trim(), "1" | "true" | "True"))
        }
        fn visit_unit<E: de::Error>(self) -> Result<bool, E> {
            Ok(false)
        }
    }
    d.deserialize_any(V)
}

/// The observables a MISP attribute names; `None` for types we do not match on.
pub fn attribute_observables(kind: &str, value: &str) -> Option<Vec<Observable>> {
    let ip = |v: &str| -> Option<Observable> {
        let v = v.trim();
        v.parse::<Cidr>().ok().map(Observable::Ip)
    };
    let domain = |v: &str| -> Option<Observable> {
        normalize_domain(v).map(|name| Observable::Domain {
            name,
            subdomains: false,
        })
    };
    let hash = |algo: HashAlgo, v: &str| -> Option<Observable> {
        algo.normalize(v).map(|hex| Observable::Hash { algo, hex })
    };
    let (first, second) = match value.split_once('|') {
        Some((a, b)) => (a, Some(b)),
        None => (value, None),
    };
    let one = |o: Option<Observable>| o.map(|o| vec![o]);
    match kind {
        "ip-src" | "ip-dst" => one(ip(value)),
        "ip-src|port" | "ip-dst|port" => one(ip(first)),
        "domain" | "hostname" => one(domain(value)),
        "hostname|port" => one(domain(first)),
        "domain|ip" => {
            let v: Vec<_> = [domain(first), second.and_then(ip)]
                .into_iter()
                .flatten()
                .collect();
            (!v.is_empty()).then_some(v)
        }
        "url" | "uri" => one(normalize_url(value).map(Observable::Url)),
        "md5" | "sha1" | "sha256" => one(hash(HashAlgo::from_name(kind)?, value)),
        "filename|md5" | "filename|sha1" | "filename|sha256" => {
            let algo = HashAlgo::from_name(kind.split_once('|')?.1)?;
            one(hash(algo, second?))
        }
        _ => None,
    }
}

/// Reads one event file into indicators. Attributes of unknown types are counted in
/// `other_objects`; malformed values are counted as errors.
pub fn parse_event(
    bytes: &[u8],
    what: &str,
    cx: &ImportContext<'_>,
) -> Result<Imported, MispError> {
    let file: EventFile = serde_json::from_slice(bytes).map_err(|e| MispError::Json {
        what: what.into(),
        kind: "event",
        message: e.to_string(),
    })?;
    let ev = file.event;
    let event_tlp = tlp_of(&ev.tags);
    let org = ev.orgc.map(|o| o.name).unwrap_or_default();
    let mut out = Imported::default();
    let attrs = ev
        .attributes
        .iter()
        .chain(ev.objects.iter().flat_map(|o| o.attributes.iter()));
    for a in attrs {
        if a.deleted {
            continue;
        }
        let Some(observables) = attribute_observables(&a.kind, &a.value) else {
            if is_matchable_type(&a.kind) {
                out.bad(format!(
                    "event {}: attribute {} ({}): `{}` is not a valid value",
                    ev.uuid,
                    a.uuid,
                    a.kind,
                    a.value.chars().take(80).collect::<String>()
                ));
            } else {
                out.other_objects += 1;
            }
            continue;
        };
        let when = Timestamp::from_secs(if a.timestamp > 0 {
            a.timestamp
        } else {
            ev.timestamp
        });
        let id = if uuid::Uuid::try_parse(&a.uuid).is_ok() {
            format!("indicator--{}", a.uuid.to_ascii_lowercase())
        } else {
            derived_id(
                "indicator",
                &format!("misp:{}:{}:{}", ev.uuid, a.kind, a.value),
            )
        };
        let pattern = observables
            .iter()
            .map(Observable::to_pattern)
            .collect::<Vec<_>>()
            .join(" OR ");
        let mut labels: Vec<String> = ev
            .tags
            .iter()
            .chain(a.tags.iter())
            .map(|t| t.name.clone())
            .filter(|t| !t.is_empty())
            .collect();
        if !a.category.is_empty() {
            labels.push(format!("misp-category:{}", a.category));
        }
        if !org.is_empty() {
            labels.push(format!("misp-org:{org}"));
        }
        let name = if a.comment.is_empty() {
            ev.info.clone()
        } else {
            format!("{}: {}", ev.info, a.comment)
        };
        out.indicators.push(Indicator {
            id,
            pattern,
            pattern_type: "stix".into(),
            parsed: Pattern::Observables(observables),
            types: vec![if a.to_ids {
                "malicious-activity".into()
            } else {
                "unknown".into()
            }],
            labels,
            name: Some(name.chars().take(500).collect()),
            valid_from: when,
            valid_until: None,
            confidence: cx.default_confidence,
            tlp: tlp_of(&a.tags).or(event_tlp).unwrap_or(cx.default_tlp),
            source: cx.source.into(),
            detect: a.to_ids,
            created: when,
            modified: when,
            first_seen: cx.now,
            last_seen: cx.now,
            sightings: 0,
        });
    }
    Ok(out)
}

fn is_matchable_type(kind: &str) -> bool {
    matches!(
        kind,
        "ip-src"
            | "ip-dst"
            | "ip-src|port"
            | "ip-dst|port"
            | "domain"
            | "hostname"
            | "hostname|port"
            | "domain|ip"
            | "url"
            | "uri"
            | "md5"
            | "sha1"
            | "sha256"
            | "filename|md5"
            | "filename|sha1"
            | "filename|sha256"
    )
}

/// The most restrictive `tlp:` tag.
fn tlp_of(tags: &[Tag]) -> Option<Tlp> {
    tags.iter()
        .filter(|t| t.name.to_ascii_lowercase().starts_with("tlp:"))
        .filter_map(|t| t.name.parse::<Tlp>().ok())
        .max()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cx() -> ImportContext<'static> {
        ImportContext {
            source: "misp-test",
            now: Timestamp::from_secs(1_800_000_000),
            default_tlp: Tlp::Amber,
            default_confidence: Some(60),
        }
    }

    #[test]
    fn manifest_keeps_uuid_keys_only() {
        let m = br#"{"5f1b9c5e-0d3c-4a0e-9b0e-0a0b0c0d0e0f":{"info":"ev","timestamp":"1700000000","Orgc":{"name":"x"}},
                    "../../etc/passwd":{"info":"evil","timestamp":"1"}}"#;
        let (entries, bad) = parse_manifest(m, "manifest.json").unwrap();
        assert_eq!(bad, 1);
        assert_eq!(entries[0].timestamp, 1_700_000_000);
        assert!(parse_manifest(b"[1,2]", "m").is_err());
    }

    /// MISP's number and flag spellings, and values with JSON escapes (which cannot be
    /// borrowed from the file).
    #[test]
    fn lenient_flags_numbers_and_escaped_values() {
        let ev = br#"{"Event":{"uuid":"5f1b9c5e-0d3c-4a0e-9b0e-0a0b0c0d0e0f","info":"x","timestamp":1700000000,
          "Attribute":[
            {"uuid":"11111111-1111-4111-8111-111111111111","type":"domain","value":"c2\u002eexample","to_ids":1,"timestamp":1700000005},
            {"uuid":"22222222-2222-4222-8222-222222222222","type":"domain","value":"a.example","to_ids":"true","deleted":"0"},
            {"uuid":"33333333-3333-4333-8333-333333333333","type":"domain","value":"b.example","to_ids":0,"deleted":null},
            {"uuid":"44444444-4444-4444-8444-444444444444","type":"domain","value":"c.example","to_ids":false,"deleted":1}
          ]}}"#;
        let got = parse_event(ev, "x.json", &cx()).unwrap();
        assert_eq!(got.indicators.len(), 3);
        let i = &got.indicators[0];
        assert_eq!(i.pattern, "[domain-name:value = 'c2.example']");
        assert_eq!(
            (i.detect, i.valid_from),
            (true, Timestamp::from_secs(1_700_000_005))
        );
        assert!(got.indicators[1].detect);
        assert_eq!(
            got.indicators[1].valid_from,
            Timestamp::from_secs(1_700_000_000)
        );
        assert!(!got.indicators[2].detect);
    }

    #[test]
    fn event_attributes_to_indicators() {
        let ev = br#"{"Event":{"uuid":"5f1b9c5e-0d3c-4a0e-9b0e-0a0b0c0d0e0f","info":"Botnet C2","timestamp":"1700000000",
          "Orgc":{"name":"CIRCL"},"Tag":[{"name":"tlp:green"}],
          "Attribute":[
            {"uuid":"11111111-1111-4111-8111-111111111111","type":"ip-dst","category":"Network activity","value":"203.0.113.5","to_ids":true,"timestamp":"1700000001"},
            {"uuid":"22222222-2222-4222-8222-222222222222","type":"domain","value":"c2.example","to_ids":false},
            {"uuid":"33333333-3333-4333-8333-333333333333","type":"ip-src|port","value":"198.51.100.7|4444","to_ids":"1","Tag":[{"name":"tlp:red"}]},
            {"uuid":"44444444-4444-4444-8444-444444444444","type":"email-src","value":"a@b.example","to_ids":true},
            {"uuid":"55555555-5555-4555-8555-555555555555","type":"ip-dst","value":"not-an-ip","to_ids":true},
            {"uuid":"66666666-6666-4666-8666-666666666666","type":"sha256","value":"E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855","to_ids":true,"deleted":true}
          ],
          "Object":[{"name":"file","Attribute":[{"uuid":"77777777-7777-4777-8777-777777777777","type":"md5","value":"d41d8cd98f00b204e9800998ecf8427e","to_ids":true}]}]}}"#;
        let got = parse_event(ev, "x.json", &cx()).unwrap();
        assert_eq!(got.indicators.len(), 4);
        assert_eq!(got.other_objects, 1);
        assert_eq!(got.errors, 1);
        let i = &got.indicators[0];
        assert_eq!(i.id, "indicator--11111111-1111-4111-8111-111111111111");
        assert_eq!(i.pattern, "[ipv4-addr:value = '203.0.113.5']");
        assert_eq!(
            (i.tlp, i.detect, i.confidence),
            (Tlp::Green, true, Some(60))
        );
        assert!(i.labels.contains(&"misp-org:CIRCL".to_string()));
        assert!(!got.indicators[1].detect);
        assert_eq!(got.indicators[2].tlp, Tlp::Red);
        assert!(got.indicators[2].detect);
        assert_eq!(
            got.indicators[3].pattern,
            "[file:hashes.'MD5' = 'd41d8cd98f00b204e9800998ecf8427e']"
        );
        assert!(parse_event(b"{\"Event\":\"x\"}", "bad.json", &cx())
            .unwrap_err()
            .to_string()
            .starts_with("bad.json: not a MISP event"));
    }
}
