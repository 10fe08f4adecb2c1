//! Indicator matchers: an [`IndicatorSet`] is an immutable snapshot holding every active
//! indicator in lookup form (CIDR longest-prefix match, exact and suffix domain sets, URL
//! and hash sets); [`SharedIndicators`] swaps snapshots atomically so reloads never pause
//! lookups. One lookup call per address, name, URL or hash.

mod prefix;

pub use prefix::{Bits, PrefixMap, NONE};

use crate::indicator::{HashAlgo, Indicator, Observable, Tlp};
use crate::pattern::{normalize_url, Pattern};
use arc_swap::ArcSwap;
use rampart_model::Cidr;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

type Map<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

/// Entry has no STIX id (a line of a plain list).
const NO_ID: u32 = u32::MAX;

/// What an indicator contributes to a match, kept compact: one per STIX indicator, one per
/// plain list (its lines share it).
#[derive(Clone, Copy, Debug)]
struct Entry {
    id: u32,
    source: u32,
    confidence: u8,
    tlp: Tlp,
}

/// One indicator that matched.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Match<'a> {
    /// The STIX id, when the indicator has one (plain list lines have none).
    pub indicator_id: Option<&'a str>,
    /// The feed it came from.
    pub source: &'a str,
    pub confidence: Option<u8>,
    pub tlp: Tlp,
    /// What the indicator names: the prefix or domain that covered the lookup, or the URL
    /// or hash itself.
    pub matched: Matched<'a>,
}

/// What matched.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Matched<'a> {
    Prefix(Cidr),
    Domain(&'a str),
    Url(&'a str),
    Hash(HashAlgo),
}

impl std::fmt::Display for Matched<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Matched::Prefix(c) => write!(f, "{c}"),
            Matched::Domain(d) | Matched::Url(d) => f.write_str(d),
            Matched::Hash(a) => f.write_str(a.stix_name()),
        }
    }
}

/// Sizes of a set, for the API and benchmarks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct SetStats {
    pub indicators: usize,
    pub v4_prefixes: usize,
    pub v6_prefixes: usize,
    pub domains: usize,
    pub urls: usize,
    pub hashes: usize,
    pub heap_bytes: usize,
}

/// Contiguous runs of entry numbers in `post`, one per distinct key.
type Run = (u32, u32);

#[derive(Clone, Copy, Debug, Default)]
struct DomainSlot {
    exact: Run,
    sub: Run,
}

/// A snapshot of every active indicator, ready for lookups. Immutable: build a new one with
/// [`SetBuilder`] and swap it in through [`SharedIndicators`].
#[derive(Debug, Default)]
pub struct IndicatorSet {
    sources: Vec<Box<str>>,
    ids: Vec<Box<str>>,
    entries: Vec<Entry>,
    post: Vec<u32>,
    v4: PrefixMap<u32>,
    v4_prefixes: Vec<(u32, u8, Run)>,
    v6: PrefixMap<u128>,
    v6_prefixes: Vec<(u128, u8, Run)>,
    domains: Map<Box<str>, DomainSlot>,
    urls: Map<Box<str>, Run>,
    hashes: Map<(HashAlgo, [u8; 32]), Run>,
    indicators: usize,
}

impl IndicatorSet {
    /// Indicators whose prefixes contain `addr`, most specific first. Empty (and no
    /// allocation) when none does.
    pub fn lookup_ip(&self, addr: IpAddr) -> Vec<Match<'_>> {
        let mut out = Vec::new();
        match addr {
            IpAddr::V4(a) => {
                let mut p = self.v4.lookup(u32::from(a));
                while p != NONE {
                    let (net, len, run) = self.v4_prefixes[p as usize];
                    let cidr = Cidr::new(IpAddr::V4(net.into()), len);
                    self.push_run(run, cidr.map(Matched::Prefix), &mut out);
                    p = self.v4.parent(p);
                }
            }
            IpAddr::V6(a) => {
                let mut p = self.v6.lookup(u128::from(a));
                while p != NONE {
                    let (net, len, run) = self.v6_prefixes[p as usize];
                    let cidr = Cidr::new(IpAddr::V6(net.into()), len);
                    self.push_run(run, cidr.map(Matched::Prefix), &mut out);
                    p = self.v6.parent(p);
                }
            }
        }
        out
    }

    /// True when any indicator covers `addr`: the cheapest check, for the hot path.
    #[inline]
    pub fn contains_ip(&self, addr: IpAddr) -> bool {
        match addr {
            IpAddr::V4(a) => self.v4.lookup(u32::from(a)) != NONE,
            IpAddr::V6(a) => self.v6.lookup(u128::from(a)) != NONE,
        }
    }

    /// Indicators naming `name` exactly, or a domain above it when they cover subdomains;
    /// the longest name first. Case and a trailing dot do not matter.
    pub fn lookup_domain(&self, name: &str) -> Vec<Match<'_>> {
        let mut out = Vec::new();
        if self.domains.is_empty() {
            return out;
        }
        let mut buf = [0u8; 253];
        let lower: std::borrow::Cow<'_, str> = {
            let n = name.strip_suffix('.').unwrap_or(name);
            if n.is_empty() || n.len() > buf.len() {
                return out;
            }
            if n.is_ascii() {
                buf[..n.len()].copy_from_slice(n.as_bytes());
                buf[..n.len()].make_ascii_lowercase();
                match std::str::from_utf8(&buf[..n.len()]) {
                    Ok(s) => std::borrow::Cow::Borrowed(s),
                    Err(_) => return out,
                }
            } else {
                std::borrow::Cow::Owned(n.to_lowercase())
            }
        };
        let mut rest: &str = &lower;
        let mut first = true;
        loop {
            if let Some((key, slot)) = self.domains.get_key_value(rest) {
                if first {
                    self.push_run(slot.exact, Some(Matched::Domain(key)), &mut out);
                }
                self.push_run(slot.sub, Some(Matched::Domain(key)), &mut out);
            }
            first = false;
            match rest.split_once('.') {
                Some((_, r)) if !r.is_empty() => rest = r,
                _ => break,
            }
        }
        out
    }

    /// Indicators naming this URL (scheme and host compared without case).
    pub fn lookup_url(&self, url: &str) -> Vec<Match<'_>> {
        let mut out = Vec::new();
        if self.urls.is_empty() {
            return out;
        }
        if let Some(u) = normalize_url(url) {
            if let Some((key, run)) = self.urls.get_key_value(u.as_str()) {
                self.push_run(*run, Some(Matched::Url(key)), &mut out);
            }
        }
        out
    }

    /// Indicators naming this file hash (hex, any case).
    pub fn lookup_hash(&self, algo: HashAlgo, hex: &str) -> Vec<Match<'_>> {
        let mut out = Vec::new();
        if let Some(key) = hash_key(algo, hex) {
            if let Some(run) = self.hashes.get(&(algo, key)) {
                self.push_run(*run, Some(Matched::Hash(algo)), &mut out);
            }
        }
        out
    }

    fn push_run<'a>(&'a self, run: Run, matched: Option<Matched<'a>>, out: &mut Vec<Match<'a>>) {
        let Some(matched) = matched else { return };
        for &e in &self.post[run.0 as usize..run.1 as usize] {
            let entry = self.entries[e as usize];
            out.push(Match {
                indicator_id: (entry.id != NO_ID).then(|| &*self.ids[entry.id as usize]),
                source: &self.sources[entry.source as usize],
                confidence: (entry.confidence <= 100).then_some(entry.confidence),
                tlp: entry.tlp,
                matched: matched.clone(),
            });
        }
    }

    pub fn stats(&self) -> SetStats {
        SetStats {
            indicators: self.indicators,
            v4_prefixes: self.v4_prefixes.len(),
            v6_prefixes: self.v6_prefixes.len(),
            domains: self.domains.len(),
            urls: self.urls.len(),
            hashes: self.hashes.len(),
            heap_bytes: self.v4.heap_bytes()
                + self.v6.heap_bytes()
                + self.v4_prefixes.capacity() * 16
                + self.v6_prefixes.capacity() * 32
                + self.post.capacity() * 4
                + self.entries.capacity() * std::mem::size_of::<Entry>()
                + self.ids.iter().map(|s| s.len() + 16).sum::<usize>()
                + self.domains.keys().map(|k| k.len() + 40).sum::<usize>()
                + self.urls.keys().map(|k| k.len() + 32).sum::<usize>()
                + self.hashes.len() * 48,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.indicators == 0
    }
}

fn hash_key(algo: HashAlgo, hex: &str) -> Option<[u8; 32]> {
    let hex = hex.trim().as_bytes();
    if hex.len() != algo.hex_len() {
        return None;
    }
    let mut key = [0u8; 32];
    for (i, pair) in hex.chunks_exact(2).enumerate() {
        let d = |c: u8| (c as char).to_digit(16).map(|v| v as u8);
        key[i] = d(pair[0])? << 4 | d(pair[1])?;
    }
    Some(key)
}

/// A domain name as the matchers compare it: lower case, no trailing dot, labels of 1..63
/// characters, at most 253 in all. `None` for text that cannot be a host name.
pub fn normalize_domain(s: &str) -> Option<String> {
    let s = s.trim();
    let s = s.strip_suffix('.').unwrap_or(s);
    if s.is_empty() || s.len() > 253 {
        return None;
    }
    let lower = s.to_lowercase();
    for label in lower.split('.') {
        if label.is_empty() || label.len() > 63 {
            return None;
        }
        if label
            .chars()
            .any(|c| c.is_ascii() && !(c.is_ascii_alphanumeric() || c == '-' || c == '_'))
        {
            return None;
        }
    }
    Some(lower)
}

/// Collects indicators and plain list entries, then builds an [`IndicatorSet`].
#[derive(Debug, Default)]
pub struct SetBuilder {
    sources: Vec<Box<str>>,
    source_index: Map<Box<str>, u32>,
    ids: Vec<Box<str>>,
    entries: Vec<Entry>,
    v4: Vec<(u32, u8, u32)>,
    v6: Vec<(u128, u8, u32)>,
    domains: Vec<(Box<str>, bool, u32)>,
    urls: Vec<(Box<str>, u32)>,
    hashes: Vec<((HashAlgo, [u8; 32]), u32)>,
    indicators: usize,
}

impl SetBuilder {
    pub fn new() -> Self {
        Self::default()
    }

    fn source(&mut self, name: &str) -> u32 {
        if let Some(i) = self.source_index.get(name) {
            return *i;
        }
        let i = self.sources.len() as u32;
        self.sources.push(name.into());
        self.source_index.insert(name.into(), i);
        i
    }

    fn entry(&mut self, id: Option<&str>, source: &str, confidence: Option<u8>, tlp: Tlp) -> u32 {
        let source = self.source(source);
        let id = match id {
            Some(id) => {
                self.ids.push(id.into());
                (self.ids.len() - 1) as u32
            }
            None => NO_ID,
        };
        self.entries.push(Entry {
            id,
            source,
            confidence: confidence.map_or(u8::MAX, |c| c.min(100)),
            tlp,
        });
        (self.entries.len() - 1) as u32
    }

    fn add_observable(&mut self, o: &Observable, entry: u32) {
        match o {
            Observable::Ip(c) => match c.addr() {
                IpAddr::V4(a) => self.v4.push((u32::from(a), c.prefix_len(), entry)),
                IpAddr::V6(a) => self.v6.push((u128::from(a), c.prefix_len(), entry)),
            },
            Observable::Domain { name, subdomains } => {
                self.domains
                    .push((name.as_str().into(), *subdomains, entry))
            }
            Observable::Url(u) => self.urls.push((u.as_str().into(), entry)),
            Observable::Hash { algo, hex } => {
                if let Some(k) = hash_key(*algo, hex) {
                    self.hashes.push(((*algo, k), entry));
                }
            }
        }
    }

    /// Adds an indicator when it is active at `now` (meant for detection, matchable, not
    /// past `valid_until`). Returns whether it was added.
    pub fn add_indicator(&mut self, ind: &Indicator, now: rampart_model::Timestamp) -> bool {
        if !ind.is_active(now) {
            return false;
        }
        let Pattern::Observables(obs) = &ind.parsed else {
            return false;
        };
        let e = self.entry(Some(&ind.id), &ind.source, ind.confidence, ind.tlp);
        for o in obs {
            self.add_observable(o, e);
        }
        self.indicators += 1;
        true
    }

    /// Adds a stored indicator (its pattern parsed here) when it is still valid at `now`.
    pub fn add_matchable(
        &mut self,
        m: &crate::store::Matchable<'_>,
        now: rampart_model::Timestamp,
    ) -> bool {
        if m.valid_until.is_some_and(|u| u <= now) {
            return false;
        }
        let Ok(Pattern::Observables(obs)) = crate::pattern::parse(m.pattern) else {
            return false;
        };
        let e = self.entry(Some(m.id), m.source, m.confidence, m.tlp);
        for o in &obs {
            self.add_observable(o, e);
        }
        self.indicators += 1;
        true
    }

    /// Adds the lines of a plain list: they share one source, confidence and TLP.
    pub fn add_list<'a>(
        &mut self,
        source: &str,
        confidence: Option<u8>,
        tlp: Tlp,
        observables: impl IntoIterator<Item = &'a Observable>,
    ) {
        let e = self.entry(None, source, confidence, tlp);
        for o in observables {
            self.add_observable(o, e);
            self.indicators += 1;
        }
    }

    pub fn build(self) -> IndicatorSet {
        let mut post = Vec::with_capacity(
            self.v4.len()
                + self.v6.len()
                + self.domains.len()
                + self.urls.len()
                + self.hashes.len(),
        );
        let (v4, v4_prefixes) = build_prefixes(self.v4, &mut post);
        let (v6, v6_prefixes) = build_prefixes(self.v6, &mut post);

        let mut domains = self.domains;
        domains.sort_unstable();
        domains.dedup();
        let mut dmap: Map<Box<str>, DomainSlot> = Map::default();
        dmap.reserve(domains.len());
        let mut i = 0;
        while i < domains.len() {
            let mut slot = DomainSlot::default();
            let name = domains[i].0.clone();
            for sub in [false, true] {
                let start = post.len() as u32;
                while i < domains.len() && domains[i].0 == name && domains[i].1 == sub {
                    post.push(domains[i].2);
                    i += 1;
                }
                let run = (start, post.len() as u32);
                if sub {
                    slot.sub = run;
                } else {
                    slot.exact = run;
                }
            }
            dmap.insert(name, slot);
        }

        let urls = group(self.urls, &mut post);
        let hashes = group(self.hashes, &mut post);
        post.shrink_to_fit();
        IndicatorSet {
            sources: self.sources,
            ids: self.ids,
            entries: self.entries,
            post,
            v4,
            v4_prefixes,
            v6,
            v6_prefixes,
            domains: dmap,
            urls,
            hashes,
            indicators: self.indicators,
        }
    }
}

/// Sorts keyed entries, groups equal keys into runs of `post`.
fn group<K: Ord + std::hash::Hash + Eq + Clone>(
    mut items: Vec<(K, u32)>,
    post: &mut Vec<u32>,
) -> Map<K, Run> {
    items.sort_unstable();
    items.dedup();
    let mut map: Map<K, Run> = Map::default();
    let mut i = 0;
    while i < items.len() {
        let start = post.len() as u32;
        let key = items[i].0.clone();
        while i < items.len() && items[i].0 == key {
            post.push(items[i].1);
            i += 1;
        }
        map.insert(key, (start, post.len() as u32));
    }
    map
}

#[allow(clippy::type_complexity)]
fn build_prefixes<A: Bits>(
    mut items: Vec<(A, u8, u32)>,
    post: &mut Vec<u32>,
) -> (PrefixMap<A>, Vec<(A, u8, Run)>) {
    items.sort_unstable();
    items.dedup();
    let mut prefixes: Vec<(A, u8, Run)> = Vec::new();
    let mut i = 0;
    while i < items.len() {
        let (a, l) = (items[i].0, items[i].1);
        let start = post.len() as u32;
        while i < items.len() && items[i].0 == a && items[i].1 == l {
            post.push(items[i].2);
            i += 1;
        }
        prefixes.push((a, l, (start, post.len() as u32)));
    }
    let map = PrefixMap::build(
        prefixes
            .iter()
            .enumerate()
            .map(|(n, p)| (p.0, p.1, n as u32))
            .collect(),
    );
    prefixes.shrink_to_fit();
    (map, prefixes)
}

/// The set in force, swapped whole on reload: lookups load the current snapshot without a
/// lock and never wait for a rebuild.
#[derive(Debug, Default)]
pub struct SharedIndicators(ArcSwap<IndicatorSet>);

impl SharedIndicators {
    pub fn new(set: IndicatorSet) -> Self {
        SharedIndicators(ArcSwap::from_pointee(set))
    }

    /// The current snapshot. Cheap; hold it for a batch of lookups.
    pub fn load(&self) -> Arc<IndicatorSet> {
        self.0.load_full()
    }

    /// A guard for one or a few lookups (cheaper than [`load`](Self::load)).
    pub fn guard(&self) -> arc_swap::Guard<Arc<IndicatorSet>> {
        self.0.load()
    }

    /// Puts a new snapshot in force; lookups in flight finish on the old one.
    pub fn replace(&self, set: IndicatorSet) {
        self.0.store(Arc::new(set));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rampart_model::Timestamp;

    fn ind(id: &str, pattern: &str, source: &str) -> Indicator {
        let mut i = Indicator::for_observable(
            id.into(),
            Observable::Url("http://x/".into()),
            source,
            Timestamp::from_secs(1),
            Tlp::Green,
        );
        i.pattern = pattern.into();
        i.confidence = Some(80);
        i.reparse();
        i
    }

    #[test]
    fn lookups_of_every_kind() {
        let mut b = SetBuilder::new();
        let now = Timestamp::from_secs(10);
        assert!(b.add_indicator(
            &ind(
                "indicator--1",
                "[ipv4-addr:value = '203.0.113.5']",
                "feed-a"
            ),
            now
        ));
        b.add_indicator(
            &ind(
                "indicator--2",
                "[ipv4-addr:value ISSUBSET '203.0.113.0/24']",
                "feed-b",
            ),
            now,
        );
        b.add_indicator(
            &ind(
                "indicator--3",
                "[domain-name:value = 'evil.example']",
                "feed-a",
            ),
            now,
        );
        b.add_indicator(
            &ind(
                "indicator--4",
                "[url:value = 'http://evil.example/x']",
                "feed-a",
            ),
            now,
        );
        b.add_indicator(
            &ind(
                "indicator--5",
                "[file:hashes.MD5 = 'd41d8cd98f00b204e9800998ecf8427e']",
                "feed-a",
            ),
            now,
        );
        b.add_indicator(
            &ind(
                "indicator--6",
                "[ipv6-addr:value = '2001:db8::/32']",
                "feed-c",
            ),
            now,
        );
        let mut expired = ind("indicator--7", "[ipv4-addr:value = '192.0.2.7']", "feed-a");
        expired.valid_until = Some(Timestamp::from_secs(5));
        assert!(!b.add_indicator(&expired, now));
        let other = ind("indicator--8", "[a:b = 'c'] AND [d:e = 'f']", "feed-a");
        assert!(!b.add_indicator(&other, now));
        let list = [
            Observable::Ip("198.51.100.0/24".parse().unwrap()),
            Observable::Domain {
                name: "bad.example".into(),
                subdomains: true,
            },
        ];
        b.add_list("blocklist", Some(50), Tlp::Clear, &list);
        let set = b.build();
        assert_eq!(set.stats().indicators, 8);

        let m = set.lookup_ip("203.0.113.5".parse().unwrap());
        assert_eq!(m.len(), 2);
        assert_eq!(m[0].indicator_id, Some("indicator--1"));
        assert_eq!(m[0].matched.to_string(), "203.0.113.5");
        assert_eq!(m[1].indicator_id, Some("indicator--2"));
        assert_eq!(m[1].source, "feed-b");
        assert_eq!(m[1].confidence, Some(80));
        assert_eq!(m[1].matched.to_string(), "203.0.113.0/24");
        assert_eq!(set.lookup_ip("203.0.113.6".parse().unwrap()).len(), 1);
        assert!(set.lookup_ip("192.0.2.7".parse().unwrap()).is_empty());
        assert!(!set.contains_ip("192.0.2.7".parse().unwrap()));
        let l = set.lookup_ip("198.51.100.77".parse().unwrap());
        assert_eq!((l[0].indicator_id, l[0].source), (None, "blocklist"));
        assert_eq!(l[0].tlp, Tlp::Clear);
        assert_eq!(set.lookup_ip("2001:db8:5::1".parse().unwrap()).len(), 1);

        assert_eq!(set.lookup_domain("EVIL.example.").len(), 1);
        assert!(set.lookup_domain("www.evil.example").is_empty());
        assert_eq!(set.lookup_domain("a.b.bad.example").len(), 1);
        assert_eq!(set.lookup_domain("bad.example").len(), 1);
        assert!(set.lookup_domain("notbad.example").is_empty());
        assert!(set.lookup_domain("example").is_empty());
        assert!(set.lookup_domain(&"a.".repeat(200)).is_empty());

        assert_eq!(set.lookup_url("HTTP://EVIL.example/x").len(), 1);
        assert!(set.lookup_url("http://evil.example/X").is_empty());
        assert_eq!(
            set.lookup_hash(HashAlgo::Md5, "D41D8CD98F00B204E9800998ECF8427E")
                .len(),
            1
        );
        assert!(set
            .lookup_hash(HashAlgo::Sha1, "d41d8cd98f00b204e9800998ecf8427e")
            .is_empty());
    }

    #[test]
    fn the_same_value_from_two_feeds_matches_both() {
        let mut b = SetBuilder::new();
        let now = Timestamp::from_secs(10);
        for (id, src) in [("indicator--a", "one"), ("indicator--b", "two")] {
            b.add_indicator(&ind(id, "[domain-name:value = 'x.example']", src), now);
        }
        let set = b.build();
        let m = set.lookup_domain("x.example");
        let mut srcs: Vec<_> = m.iter().map(|m| m.source).collect();
        srcs.sort();
        assert_eq!(srcs, ["one", "two"]);
    }

    #[test]
    fn swapping_keeps_readers_going() {
        let shared = Arc::new(SharedIndicators::default());
        let reader = {
            let shared = shared.clone();
            std::thread::spawn(move || {
                let mut seen = 0u64;
                for _ in 0..20_000 {
                    seen += shared.guard().contains_ip("192.0.2.1".parse().unwrap()) as u64;
                }
                seen
            })
        };
        for i in 0..50 {
            let mut b = SetBuilder::new();
            if i % 2 == 0 {
                b.add_list(
                    "l",
                    None,
                    Tlp::Clear,
                    &[Observable::Ip("192.0.2.0/24".parse().unwrap())],
                );
            }
            shared.replace(b.build());
        }
        reader.join().unwrap();
        assert_eq!(
            normalize_domain("Ex-Ample.COM."),
            Some("ex-ample.com".into())
        );
        assert_eq!(normalize_domain("a..b"), None);
        assert_eq!(normalize_domain("a b.example"), None);
    }
}
