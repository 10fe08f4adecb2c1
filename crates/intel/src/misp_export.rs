//! Indicators as one MISP event, in the JSON of a MISP feed's event file: an attribute per
//! observable (`ip-src`/`ip-dst`, `domain`, `url`, `md5`/`sha1`/`sha256`), `to_ids` from the
//! indicator's detect flag, TLP as tags. What [`crate::misp::parse_event`] reads back.

use crate::indicator::{HashAlgo, Indicator, Observable, Tlp};
use crate::pattern::Pattern;
use crate::stix::derived_id;
use rampart_model::Timestamp;
use serde_json::{json, Value};

/// The export's roles for addresses we saw attacking us (see [`crate::export`]): those are
/// MISP's `ip-src`; any other address is one to watch traffic go to, `ip-dst`.
pub const ATTACKER_ROLES: &[&str] = &["reflector", "scanner", "login-abuse"];

/// What the event says of itself.
#[derive(Clone, Debug)]
pub struct EventMeta<'a> {
    /// Our organisation (`Orgc`).
    pub org: &'a str,
    /// The event's title.
    pub info: &'a str,
    /// The event's TLP when it holds no indicator; otherwise the most restrictive of theirs.
    pub tlp: Tlp,
    pub now: Timestamp,
}

/// An event and what could not go into it.
#[derive(Clone, Debug)]
pub struct MispEvent {
    /// `{"Event": {...}}`.
    pub event: Value,
    pub attributes: usize,
    /// Ids of indicators MISP attributes cannot say (patterns beyond one observable or an
    /// OR of them, other pattern languages).
    pub skipped: Vec<String>,
}

/// MISP's type and category for an observable.
fn attribute_type(o: &Observable, attacker: bool) -> (&'static str, &'static str) {
    match o {
        Observable::Ip(_) if attacker => ("ip-src", "Network activity"),
        Observable::Ip(_) => ("ip-dst", "Network activity"),
        // MISP's `hostname` is a host, `domain` a zone; a STIX domain-name may be either,
        // and MISP tools match `domain` on both.
        Observable::Domain { .. } => ("domain", "Network activity"),
        Observable::Url(_) => ("url", "Network activity"),
        Observable::Hash { algo, .. } => (
            match algo {
                HashAlgo::Md5 => "md5",
                HashAlgo::Sha1 => "sha1",
                HashAlgo::Sha256 => "sha256",
            },
            "Payload delivery",
        ),
    }
}

fn value_of(o: &Observable) -> String {
    match o {
        Observable::Hash { hex, .. } => hex.clone(),
        other => other.to_string(),
    }
}

fn tag(tlp: Tlp) -> Value {
    json!({ "name": format!("tlp:{}", tlp.as_str()) })
}

/// One event holding `indicators`, each with the comment its attributes carry.
pub fn event<'a>(
    indicators: impl IntoIterator<Item = (&'a Indicator, &'a str)>,
    meta: &EventMeta<'_>,
) -> MispEvent {
    let indicators: Vec<(&Indicator, &str)> = indicators.into_iter().collect();
    let event_tlp = indicators
        .iter()
        .map(|(i, _)| i.tlp)
        .max()
        .unwrap_or(meta.tlp);
    let mut attributes = Vec::new();
    let mut skipped = Vec::new();
    for (ind, comment) in indicators {
        let Pattern::Observables(observables) = &ind.parsed else {
            skipped.push(ind.id.clone());
            continue;
        };
        let attacker = ind
            .labels
            .iter()
            .any(|l| ATTACKER_ROLES.contains(&l.as_str()));
        let own_uuid = ind
            .id
            .strip_prefix("indicator--")
            .and_then(|u| uuid::Uuid::try_parse(u).ok())
            .filter(|_| observables.len() == 1);
        for o in observables {
            let uuid = match own_uuid {
                Some(u) => u.hyphenated().to_string(),
                None => derived_id("indicator", &format!("{}|{o}", ind.id))
                    .trim_start_matches("indicator--")
                    .to_string(),
            };
            let (kind, category) = attribute_type(o, attacker);
            let mut a = json!({
                "uuid": uuid,
                "type": kind,
                "category": category,
                "value": value_of(o),
                "to_ids": ind.detect,
                "distribution": "5",
                "timestamp": ind.modified.as_secs().to_string(),
                "comment": comment,
                "deleted": false,
                "disable_correlation": false,
            });
            // A less restricted indicator in a stricter event keeps its own marking.
            if ind.tlp != event_tlp {
                a["Tag"] = json!([tag(ind.tlp)]);
            }
            attributes.push(a);
        }
    }
    let secs = meta.now.as_secs().to_string();
    let day = meta.now.to_string();
    let n = attributes.len();
    let event = json!({
        "Event": {
            "uuid": uuid::Uuid::new_v4().hyphenated().to_string(),
            "info": meta.info,
            "date": day.get(..10).unwrap_or(""),
            "timestamp": secs,
            "publish_timestamp": secs,
            "published": true,
            "analysis": "2",
            "threat_level_id": "3",
            "distribution": "0",
            "extends_uuid": "",
            "Orgc": {
                "name": meta.org,
                "uuid": derived_id("identity", meta.org).trim_start_matches("identity--"),
            },
            "Tag": [tag(event_tlp)],
            "Attribute": attributes,
        }
    });
    MispEvent {
        event,
        attributes: n,
        skipped,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::misp::parse_event;
    use crate::stix::ImportContext;

    fn ind(id: &str, o: Observable, tlp: Tlp, detect: bool, labels: &[&str]) -> Indicator {
        let mut i = Indicator::for_observable(
            id.into(),
            o,
            "test",
            Timestamp::from_secs(1_800_000_000),
            tlp,
        );
        i.detect = detect;
        i.labels = labels.iter().map(|l| l.to_string()).collect();
        i
    }

    fn meta() -> EventMeta<'static> {
        EventMeta {
            org: "Example Org",
            info: "test export",
            tlp: Tlp::Amber,
            now: Timestamp::from_secs(1_800_000_100),
        }
    }

    #[test]
    fn every_kind_round_trips_through_our_misp_parser() {
        let id = |n: u8| format!("indicator--{n:02}345678-1234-4234-8234-123456789abc");
        let host = |s: &str| Observable::Ip(s.parse().unwrap());
        let hash = |algo, hex: &str| Observable::Hash {
            algo,
            hex: hex.into(),
        };
        let inds = [
            ind(&id(1), host("198.51.100.7"), Tlp::Green, true, &["scanner"]),
            ind(&id(2), host("2001:db8::66"), Tlp::Amber, true, &[]),
            ind(&id(3), host("203.0.113.0/24"), Tlp::Amber, false, &[]),
            ind(
                &id(4),
                Observable::Domain {
                    name: "evil.example".into(),
                    subdomains: true,
                },
                Tlp::Red,
                true,
                &[],
            ),
            ind(
                &id(5),
                Observable::Url("http://evil.example/x?y=1".into()),
                Tlp::Clear,
                true,
                &[],
            ),
            ind(
                &id(6),
                hash(HashAlgo::Md5, "d41d8cd98f00b204e9800998ecf8427e"),
                Tlp::Amber,
                true,
                &[],
            ),
            ind(
                &id(7),
                hash(HashAlgo::Sha1, "da39a3ee5e6b4b0d3255bfef95601890afd80709"),
                Tlp::Amber,
                false,
                &[],
            ),
            ind(
                &id(8),
                hash(
                    HashAlgo::Sha256,
                    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
                ),
                Tlp::Amber,
                true,
                &[],
            ),
        ];
        let mut kept = ind(&id(9), host("192.0.2.1"), Tlp::Amber, true, &[]);
        kept.parsed = Pattern::Other("[a:b = 'c'] AND [d:e = 'f']".into());
        let all: Vec<(&Indicator, &str)> = inds
            .iter()
            .chain(std::iter::once(&kept))
            .map(|i| (i, "why"))
            .collect();
        let e = event(all, &meta());
        assert_eq!(e.attributes, 8);
        assert_eq!(e.skipped, vec![id(9)]);
        let ev = &e.event["Event"];
        assert_eq!(ev["Tag"][0]["name"], "tlp:red");
        assert_eq!(ev["date"], "2027-01-15");
        assert!(uuid::Uuid::try_parse(ev["uuid"].as_str().unwrap()).is_ok());
        assert!(uuid::Uuid::try_parse(ev["Orgc"]["uuid"].as_str().unwrap()).is_ok());
        let types: Vec<&str> = ev["Attribute"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["type"].as_str().unwrap())
            .collect();
        assert_eq!(
            types,
            ["ip-src", "ip-dst", "ip-dst", "domain", "url", "md5", "sha1", "sha256"]
        );

        let cx = ImportContext {
            source: "back",
            now: Timestamp::from_secs(1_800_000_200),
            default_tlp: Tlp::Amber,
            default_confidence: None,
        };
        let bytes = serde_json::to_vec(&e.event).unwrap();
        let back = parse_event(&bytes, "export.json", &cx).unwrap();
        assert_eq!((back.errors, back.other_objects), (0, 0));
        assert_eq!(back.indicators.len(), inds.len());
        for (a, b) in inds.iter().zip(&back.indicators) {
            assert_eq!(a.id, b.id);
            // The pattern says the observable (a domain's `subdomains` is not MISP's to say).
            assert_eq!(a.pattern, b.pattern, "{}", a.id);
            assert_eq!((a.detect, a.tlp), (b.detect, b.tlp), "{}", a.id);
            assert_eq!(b.modified, a.modified);
            assert_eq!(b.name.as_deref(), Some("test export: why"));
        }
    }

    #[test]
    fn an_or_pattern_is_one_attribute_per_observable_and_an_empty_event_has_the_policy_tlp() {
        let mut i = ind(
            "indicator--11111111-2222-4333-8444-555555555555",
            Observable::Ip("198.51.100.1".parse().unwrap()),
            Tlp::Green,
            true,
            &[],
        );
        i.pattern =
            "[ipv4-addr:value = '198.51.100.1'] OR [domain-name:value = 'a.example']".into();
        i.reparse();
        let e = event([(&i, "")], &meta());
        let attrs = e.event["Event"]["Attribute"].as_array().unwrap().clone();
        assert_eq!(attrs.len(), 2);
        assert_ne!(attrs[0]["uuid"], attrs[1]["uuid"]);
        assert!(attrs.iter().all(|a| a.get("Tag").is_none()));
        let empty = event([], &meta());
        assert_eq!(empty.event["Event"]["Tag"][0]["name"], "tlp:amber");
        assert_eq!(empty.event["Event"]["Attribute"], json!([]));
    }

    #[test]
    fn our_exported_attackers_are_ip_src() {
        let s = crate::export::Subject {
            addr: "198.51.100.9".parse().unwrap(),
            role: "scanner",
            kind: "vertical-scan".into(),
            first_seen: Timestamp::from_secs(1_800_000_000),
            last_seen: Timestamp::from_secs(1_800_000_060),
            count: 100,
            confidence: 0.9,
            description: "scanned".into(),
            users: vec![],
        };
        let policy = crate::export::SharePolicy::default();
        let x = crate::export::export_subjects(
            vec![s],
            vec![],
            &[],
            &policy,
            Timestamp::from_secs(1_800_000_100),
        );
        let cx = ImportContext {
            source: "export",
            now: Timestamp::from_secs(1_800_000_100),
            default_tlp: policy.tlp,
            default_confidence: None,
        };
        let got = crate::stix::import_bundle_bytes(
            x.bundle.to_string().as_bytes(),
            &cx,
            &crate::stix::BundleLimits::default(),
        )
        .unwrap();
        let e = event(got.indicators.iter().map(|i| (i, "")), &meta());
        assert_eq!(e.event["Event"]["Attribute"][0]["type"], "ip-src");
    }
}
