//! STIX 2.1 bundles in: objects are read one at a time from a bounded stream (a bundle or
//! a TAXII envelope), each kept as raw JSON, and indicators turned into [`Indicator`]s.
//! Also the ids and timestamps the exporters and the TAXII server write.

use crate::indicator::{Indicator, Tlp};
use crate::pattern::{self, Pattern};
use rampart_model::Timestamp;
use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::fmt;
use std::io::Read;
use std::ops::Deref;

/// Bounds on what one bundle may hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BundleLimits {
    /// Bytes in the whole bundle.
    pub max_bytes: u64,
    /// Objects in it.
    pub max_objects: u64,
    /// Bytes of one object.
    pub max_object_bytes: usize,
}

impl Default for BundleLimits {
    fn default() -> Self {
        BundleLimits {
            max_bytes: 1 << 30,
            max_objects: 10_000_000,
            max_object_bytes: 1 << 20,
        }
    }
}

/// Why a bundle was refused as a whole.
#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    #[error("{source_name}: not a STIX bundle: {message}")]
    Json {
        source_name: String,
        message: String,
    },
    #[error("{source_name}: larger than {limit} bytes")]
    TooLarge { source_name: String, limit: u64 },
    #[error("{source_name}: more than {limit} objects")]
    TooManyObjects { source_name: String, limit: u64 },
    #[error("{source_name}: {message}")]
    Invalid {
        source_name: String,
        message: String,
    },
}

/// What the container said about itself.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Container {
    /// `bundle`, or empty for a TAXII envelope.
    pub kind: String,
    pub id: Option<String>,
    pub objects: u64,
}

/// Reads `{"type": "bundle", "objects": [...]}` (or a TAXII envelope `{"objects": [...]}`)
/// from `r`, handing each object to `f` as raw JSON. Stops at `limits`. `f` may refuse an
/// object by returning `Err(reason)`, which stops the read.
pub fn for_each_object<R: Read>(
    r: R,
    source_name: &str,
    limits: &BundleLimits,
    f: impl FnMut(&RawValue) -> Result<(), String>,
) -> Result<Container, BundleError> {
    let limited = Limited {
        inner: r,
        left: limits.max_bytes,
        limit: limits.max_bytes,
    };
    let mut de = serde_json::Deserializer::from_reader(std::io::BufReader::with_capacity(
        256 * 1024,
        limited,
    ));
    run::<_, Box<RawValue>>(&mut de, source_name, limits, f)
}

/// As [`for_each_object`] for bytes in memory (faster: no copy through a reader).
pub fn for_each_object_in(
    bytes: &[u8],
    source_name: &str,
    limits: &BundleLimits,
    f: impl FnMut(&RawValue) -> Result<(), String>,
) -> Result<Container, BundleError> {
    if bytes.len() as u64 > limits.max_bytes {
        return Err(BundleError::TooLarge {
            source_name: source_name.into(),
            limit: limits.max_bytes,
        });
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    // Objects borrowed from the bytes: no copy of each one.
    run::<_, &RawValue>(&mut de, source_name, limits, f)
}

fn run<'de, R: serde_json::de::Read<'de>, E: Deserialize<'de> + Deref<Target = RawValue>>(
    de: &mut serde_json::Deserializer<R>,
    source_name: &str,
    limits: &BundleLimits,
    f: impl FnMut(&RawValue) -> Result<(), String>,
) -> Result<Container, BundleError> {
    let mut seed = ContainerSeed::<_, E> {
        f,
        limits,
        count: 0,
        stop: None,
        element: std::marker::PhantomData,
    };
    let result = (&mut seed).deserialize(&mut *de).and_then(|c| {
        de.end()?;
        Ok(c)
    });
    if let Some(stop) = seed.stop.take() {
        return Err(match stop {
            Stop::TooMany => BundleError::TooManyObjects {
                source_name: source_name.into(),
                limit: limits.max_objects,
            },
            Stop::Refused(message) => BundleError::Invalid {
                source_name: source_name.into(),
                message,
            },
        });
    }
    result.map_err(|e| {
        let message = e.to_string();
        if message.contains(LIMIT_MARK) {
            BundleError::TooLarge {
                source_name: source_name.into(),
                limit: limits.max_bytes,
            }
        } else {
            BundleError::Json {
                source_name: source_name.into(),
                message,
            }
        }
    })
}

const LIMIT_MARK: &str = "rampart-read-limit";

/// A reader that fails (rather than ends) past its limit, so a cut bundle reads as "too
/// large", not as broken JSON.
struct Limited<R> {
    inner: R,
    left: u64,
    limit: u64,
}

impl<R: Read> Read for Limited<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.left == 0 {
            // One byte more tells a stream that ends exactly at the limit from a longer one.
            let mut probe = [0u8; 1];
            return match self.inner.read(&mut probe)? {
                0 => Ok(0),
                _ => Err(std::io::Error::other(format!(
                    "{LIMIT_MARK}: over {} bytes",
                    self.limit
                ))),
            };
        }
        let max = buf.len().min(self.left.min(usize::MAX as u64) as usize);
        let n = self.inner.read(&mut buf[..max])?;
        self.left -= n as u64;
        Ok(n)
    }
}

enum Stop {
    TooMany,
    Refused(String),
}

struct ContainerSeed<'l, F, E> {
    f: F,
    limits: &'l BundleLimits,
    count: u64,
    stop: Option<Stop>,
    /// How each object is held: borrowed from bytes in memory, or boxed from a reader.
    element: std::marker::PhantomData<E>,
}

impl<
        'de,
        F: FnMut(&RawValue) -> Result<(), String>,
        E: Deserialize<'de> + Deref<Target = RawValue>,
    > DeserializeSeed<'de> for &mut ContainerSeed<'_, F, E>
{
    type Value = Container;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Container, D::Error> {
        d.deserialize_map(self)
    }
}

impl<
        'de,
        F: FnMut(&RawValue) -> Result<(), String>,
        E: Deserialize<'de> + Deref<Target = RawValue>,
    > Visitor<'de> for &mut ContainerSeed<'_, F, E>
{
    type Value = Container;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object with an `objects` array")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Container, A::Error> {
        let mut c = Container::default();
        let mut saw_objects = false;
        while let Some(key) = map.next_key::<Cow<'de, str>>()? {
            match &*key {
                // A TAXII envelope without objects says `more` (and perhaps `next`).
                "more" => {
                    saw_objects = true;
                    map.next_value::<IgnoredAny>()?;
                }
                "type" => c.kind = map.next_value::<String>()?,
                "id" => c.id = Some(map.next_value::<String>()?),
                "objects" => {
                    saw_objects = true;
                    map.next_value_seed(ObjectsSeed(&mut *self))?;
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        if !c.kind.is_empty() && c.kind != "bundle" {
            return Err(de::Error::custom(format!(
                "type is `{}`, not `bundle`",
                c.kind
            )));
        }
        if !saw_objects && c.kind.is_empty() {
            return Err(de::Error::custom("no `type` and no `objects`"));
        }
        c.objects = self.count;
        Ok(c)
    }
}

struct ObjectsSeed<'a, 'l, F, E>(&'a mut ContainerSeed<'l, F, E>);

impl<
        'de,
        F: FnMut(&RawValue) -> Result<(), String>,
        E: Deserialize<'de> + Deref<Target = RawValue>,
    > DeserializeSeed<'de> for ObjectsSeed<'_, '_, F, E>
{
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<
        'de,
        F: FnMut(&RawValue) -> Result<(), String>,
        E: Deserialize<'de> + Deref<Target = RawValue>,
    > Visitor<'de> for ObjectsSeed<'_, '_, F, E>
{
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of STIX objects")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let s = self.0;
        while let Some(raw) = seq.next_element::<E>()? {
            s.count += 1;
            if s.count > s.limits.max_objects {
                s.stop = Some(Stop::TooMany);
                return Err(de::Error::custom("too many objects"));
            }
            if raw.get().len() > s.limits.max_object_bytes {
                let msg = format!(
                    "object {} is larger than {} bytes",
                    s.count, s.limits.max_object_bytes
                );
                s.stop = Some(Stop::Refused(msg.clone()));
                return Err(de::Error::custom(msg));
            }
            if let Err(msg) = (s.f)(&raw) {
                s.stop = Some(Stop::Refused(msg.clone()));
                return Err(de::Error::custom(msg));
            }
        }
        Ok(())
    }
}

/// The fields every STIX object has that the TAXII server and importers look at.
#[derive(Debug, Deserialize)]
pub struct ObjectHead<'a> {
    #[serde(borrow, rename = "type")]
    pub kind: Cow<'a, str>,
    #[serde(borrow)]
    pub id: Cow<'a, str>,
    #[serde(borrow, default)]
    pub spec_version: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub created: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub modified: Option<Cow<'a, str>>,
}

impl ObjectHead<'_> {
    /// Checks the id is `TYPE--UUID` for the object's type.
    pub fn check(&self) -> Result<(), String> {
        let Some((t, uuid)) = self.id.split_once("--") else {
            return Err(format!("id `{}` is not TYPE--UUID", clip(&self.id)));
        };
        if t != self.kind {
            return Err(format!(
                "id `{}` does not match type `{}`",
                clip(&self.id),
                clip(&self.kind)
            ));
        }
        if uuid::Uuid::try_parse(uuid).is_err() {
            return Err(format!("id `{}` has no valid UUID", clip(&self.id)));
        }
        Ok(())
    }
}

fn clip(s: &str) -> &str {
    let mut end = s.len().min(100);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

#[derive(Deserialize)]
struct IndicatorIn<'a> {
    #[serde(borrow, rename = "type")]
    kind: Cow<'a, str>,
    #[serde(borrow)]
    id: Cow<'a, str>,
    #[serde(borrow)]
    pattern: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pattern_type: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    name: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    created: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    modified: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    valid_from: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    valid_until: Option<Cow<'a, str>>,
    #[serde(default)]
    confidence: Option<i64>,
    #[serde(default)]
    indicator_types: Vec<String>,
    #[serde(default)]
    labels: Vec<String>,
    #[serde(borrow, default)]
    object_marking_refs: Vec<Cow<'a, str>>,
    #[serde(default)]
    revoked: bool,
}

/// Who the indicators come from, and what to assume when they say nothing.
#[derive(Clone, Debug)]
pub struct ImportContext<'a> {
    pub source: &'a str,
    pub now: Timestamp,
    /// The marking when an object carries no TLP marking.
    pub default_tlp: Tlp,
    /// Confidence when the object gives none.
    pub default_confidence: Option<u8>,
}

/// What an import found.
#[derive(Debug, Default)]
pub struct Imported {
    pub indicators: Vec<Indicator>,
    /// Revoked indicators: their ids, so that a store can drop them.
    pub revoked: Vec<String>,
    /// Objects that are not indicators (identities, sightings, reports...).
    pub other_objects: u64,
    pub errors: u64,
    /// The first few refused objects: `ID: why`.
    pub first_errors: Vec<String>,
}

impl Imported {
    pub(crate) fn bad(&mut self, what: String) {
        self.errors += 1;
        if self.first_errors.len() < 10 {
            self.first_errors.push(what);
        }
    }
}

/// One STIX object to an indicator: `Ok(None)` for other types, `Err` for a broken one.
pub fn indicator_from_json(
    raw: &str,
    cx: &ImportContext<'_>,
) -> Result<Option<Result<Indicator, String>>, String> {
    // One parse for the common case; the head alone tells other objects from broken ones.
    let i: IndicatorIn<'_> = match serde_json::from_str(raw) {
        Ok(i) => i,
        Err(e) => {
            let head: ObjectHead<'_> = serde_json::from_str(raw)
                .map_err(|e| format!("object without type and id: {e}"))?;
            if head.kind != "indicator" {
                return Ok(None);
            }
            return Err(format!("{}: {e}", clip(&head.id)));
        }
    };
    if i.kind != "indicator" {
        return Ok(None);
    }
    ObjectHead {
        kind: Cow::Borrowed(&i.kind),
        id: Cow::Borrowed(&i.id),
        spec_version: None,
        created: None,
        modified: None,
    }
    .check()?;
    let id = i.id.to_string();
    let bad = |why: String| Err(format!("{}: {why}", clip(&id)));
    let Some(pattern_text) = i.pattern else {
        return Ok(Some(bad("no pattern".into())));
    };
    let time = |v: &Option<Cow<'_, str>>, field: &str| -> Result<Option<Timestamp>, String> {
        v.as_deref()
            .map(|s| s.parse::<Timestamp>().map_err(|e| format!("{field}: {e}")))
            .transpose()
    };
    let (created, modified, valid_from, valid_until) = match (
        time(&i.created, "created"),
        time(&i.modified, "modified"),
        time(&i.valid_from, "valid_from"),
        time(&i.valid_until, "valid_until"),
    ) {
        (Ok(c), Ok(m), Ok(f), Ok(u)) => (c, m, f, u),
        (Err(e), ..) | (_, Err(e), ..) | (_, _, Err(e), _) | (.., Err(e)) => {
            return Ok(Some(bad(e)))
        }
    };
    let pattern_type = i.pattern_type.as_deref().unwrap_or("stix").to_string();
    let parsed = if pattern_type == "stix" {
        match pattern::parse(&pattern_text) {
            Ok(p) => p,
            Err(e) => return Ok(Some(bad(e.to_string()))),
        }
    } else {
        Pattern::Other(pattern_text.to_string())
    };
    let tlp = i
        .object_marking_refs
        .iter()
        .filter_map(|m| Tlp::from_marking_id(m))
        .max()
        .unwrap_or(cx.default_tlp);
    let created = created.unwrap_or(cx.now);
    let confidence = match i.confidence {
        Some(c) if (0..=100).contains(&c) => Some(c as u8),
        Some(c) => return Ok(Some(bad(format!("confidence {c} is not 0..100")))),
        None => cx.default_confidence,
    };
    let mut ind = Indicator {
        id,
        pattern: pattern_text.into_owned(),
        pattern_type,
        parsed,
        types: i.indicator_types,
        labels: i.labels,
        name: i.name.map(Cow::into_owned),
        valid_from: valid_from.unwrap_or(created),
        valid_until,
        confidence,
        tlp,
        source: cx.source.to_string(),
        detect: !i.revoked,
        created,
        modified: modified.unwrap_or(created),
        first_seen: cx.now,
        last_seen: cx.now,
        sightings: 0,
    };
    if i.revoked {
        ind.detect = false;
    }
    Ok(Some(Ok(ind)))
}

/// Reads a bundle (or TAXII envelope) and keeps its indicators.
pub fn import_bundle<R: Read>(
    r: R,
    cx: &ImportContext<'_>,
    limits: &BundleLimits,
) -> Result<Imported, BundleError> {
    let mut out = Imported::default();
    for_each_object(r, cx.source, limits, |raw| {
        take_object(raw.get(), cx, &mut out);
        Ok(())
    })?;
    Ok(out)
}

/// As [`import_bundle`] for bytes in memory.
pub fn import_bundle_bytes(
    bytes: &[u8],
    cx: &ImportContext<'_>,
    limits: &BundleLimits,
) -> Result<Imported, BundleError> {
    let mut out = Imported::default();
    for_each_object_in(bytes, cx.source, limits, |raw| {
        take_object(raw.get(), cx, &mut out);
        Ok(())
    })?;
    Ok(out)
}

/// Sorts one raw object into `out`: an indicator, a revoked id, another object or an error.
pub fn take_object(raw: &str, cx: &ImportContext<'_>, out: &mut Imported) {
    match indicator_from_json(raw, cx) {
        Ok(None) => out.other_objects += 1,
        Ok(Some(Ok(ind))) => {
            if ind.detect || ind.valid_until.is_some() {
                out.indicators.push(ind);
            } else {
                out.revoked.push(ind.id);
            }
        }
        Ok(Some(Err(e))) | Err(e) => out.bad(e),
    }
}

/// A new random STIX id of this type.
pub fn new_id(kind: &str) -> String {
    format!("{kind}--{}", uuid::Uuid::new_v4())
}

/// The same id for the same name every time, so that re-exporting one reflector updates
/// one indicator instead of minting another. Its bits come from a UUIDv5 hash in Rampart's
/// namespace, shaped as version 4, which STIX asks of domain objects.
pub fn derived_id(kind: &str, name: &str) -> String {
    let ns = uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_URL, b"https://rampart.invalid/stix");
    let hashed = uuid::Uuid::new_v5(&ns, name.as_bytes());
    let id = uuid::Builder::from_random_bytes(*hashed.as_bytes()).into_uuid();
    format!("{kind}--{id}")
}

/// RFC 3339 with microseconds (TAXII `date_added`, whose order paging relies on).
pub fn fmt_micros(t: Timestamp) -> String {
    let ms = t.to_string(); // 2026-11-22T10:00:00.123Z
    let micros = (t.as_nanos() / 1_000) % 1_000;
    format!("{}{micros:03}Z", &ms[..ms.len() - 1])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cx() -> ImportContext<'static> {
        ImportContext {
            source: "test",
            now: Timestamp::from_secs(1_800_000_000),
            default_tlp: Tlp::Amber,
            default_confidence: None,
        }
    }

    const BUNDLE: &str = r#"{"type":"bundle","id":"bundle--5d0092c5-5f74-4287-9642-33f4c354e56d","objects":[
      {"type":"identity","spec_version":"2.1","id":"identity--f431f809-377b-45e0-aa1c-6a4751cae5ff","created":"2026-01-01T00:00:00Z","modified":"2026-01-01T00:00:00Z","name":"x"},
      {"type":"indicator","spec_version":"2.1","id":"indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f","created":"2026-01-01T00:00:00.000Z","modified":"2026-01-02T00:00:00.000Z","pattern":"[ipv4-addr:value = '203.0.113.5']","pattern_type":"stix","valid_from":"2026-01-01T00:00:00Z","confidence":70,"indicator_types":["malicious-activity"],"object_marking_refs":["marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb"]},
      {"type":"indicator","spec_version":"2.1","id":"indicator--1e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f","created":"2026-01-01T00:00:00Z","modified":"2026-01-01T00:00:00Z","pattern":"alert tcp any any","pattern_type":"snort","valid_from":"2026-01-01T00:00:00Z"},
      {"type":"indicator","spec_version":"2.1","id":"indicator--2e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f","created":"2026-01-01T00:00:00Z","modified":"2026-01-01T00:00:00Z","pattern":"[broken","pattern_type":"stix","valid_from":"2026-01-01T00:00:00Z"},
      {"type":"indicator","id":"indicator--nope","pattern":"[ipv4-addr:value = '1.2.3.4']"}
    ]}"#;

    #[test]
    fn imports_indicators_and_counts_the_rest() {
        let got = import_bundle(BUNDLE.as_bytes(), &cx(), &BundleLimits::default()).unwrap();
        assert_eq!(got.indicators.len(), 2);
        assert_eq!(got.other_objects, 1);
        assert_eq!(got.errors, 2, "{:?}", got.first_errors);
        let i = &got.indicators[0];
        assert_eq!(i.tlp, Tlp::Green);
        assert_eq!(i.confidence, Some(70));
        assert_eq!(i.modified.to_string(), "2026-01-02T00:00:00.000Z");
        assert!(matches!(i.parsed, Pattern::Observables(_)));
        assert!(matches!(got.indicators[1].parsed, Pattern::Other(_)));
        assert_eq!(got.indicators[1].tlp, Tlp::Amber);
        let same = import_bundle_bytes(BUNDLE.as_bytes(), &cx(), &BundleLimits::default()).unwrap();
        assert_eq!(same.indicators, got.indicators);
    }

    #[test]
    fn hostile_bundles_are_refused_clearly() {
        let limits = BundleLimits {
            max_bytes: 600,
            max_objects: 2,
            max_object_bytes: 400,
        };
        let e = import_bundle(BUNDLE.as_bytes(), &cx(), &limits).unwrap_err();
        assert!(matches!(e, BundleError::TooLarge { .. }), "{e}");
        let e = import_bundle_bytes(BUNDLE.as_bytes(), &cx(), &limits).unwrap_err();
        assert!(e.to_string().contains("larger than 600 bytes"), "{e}");
        let limits = BundleLimits {
            max_objects: 2,
            ..BundleLimits::default()
        };
        let e = import_bundle(BUNDLE.as_bytes(), &cx(), &limits).unwrap_err();
        assert!(e.to_string().contains("more than 2 objects"), "{e}");
        // Deep nesting never overflows the stack: as an object it is counted as broken,
        // inside an indicator's field it is refused as of the wrong type.
        let deep = format!(
            r#"{{"type":"bundle","objects":[{}{}]}}"#,
            "[".repeat(100_000),
            "]".repeat(100_000)
        );
        let got = import_bundle(deep.as_bytes(), &cx(), &BundleLimits::default()).unwrap();
        assert_eq!((got.errors, got.indicators.len()), (1, 0));
        let deep = format!(
            r#"{{"type":"bundle","objects":[{{"type":"indicator","id":"indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f","labels":{}{}}}]}}"#,
            "[".repeat(10_000),
            "]".repeat(10_000)
        );
        let got = import_bundle(deep.as_bytes(), &cx(), &BundleLimits::default()).unwrap();
        assert_eq!(got.errors, 1);
        let e = import_bundle(
            "[".repeat(100_000).as_bytes(),
            &cx(),
            &BundleLimits::default(),
        )
        .unwrap_err();
        assert!(e.to_string().contains("not a STIX bundle"), "{e}");
        for bad in [
            "",
            "[]",
            "{\"type\":\"report\",\"objects\":[]}",
            "{\"type\":\"bundle\",\"objects\":[",
            "{\"type\":\"bundle\",\"objects\":{}}",
            "{}",
            "{\"type\":\"bundle\"} trailing",
        ] {
            let e = import_bundle(bad.as_bytes(), &cx(), &BundleLimits::default());
            assert!(e.is_err(), "{bad}");
            assert!(e.unwrap_err().to_string().starts_with("test: "));
        }
        // An exactly-at-limit bundle is fine.
        let ok = r#"{"type":"bundle","objects":[]}"#;
        let limits = BundleLimits {
            max_bytes: ok.len() as u64,
            ..BundleLimits::default()
        };
        assert!(import_bundle(ok.as_bytes(), &cx(), &limits).is_ok());
    }

    #[test]
    fn ids_and_times() {
        let a = derived_id("indicator", "203.0.113.5");
        assert_eq!(a, derived_id("indicator", "203.0.113.5"));
        assert_ne!(a, derived_id("indicator", "203.0.113.6"));
        assert!(a.starts_with("indicator--"));
        assert_ne!(new_id("sighting"), new_id("sighting"));
        let t = Timestamp::from_nanos(1_795_341_600_123_456_789);
        assert_eq!(fmt_micros(t), "2026-11-22T10:00:00.123456Z");
        assert_eq!(
            fmt_micros(t).parse::<Timestamp>().unwrap().as_nanos(),
            1_795_341_600_123_456_000
        );
    }
}
