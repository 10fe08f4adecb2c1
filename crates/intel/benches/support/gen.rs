//! Synthetic feeds for the benchmarks: blocklist-shaped prefixes and STIX bundles of
//! mixed indicators, from a fixed-seed generator so every run sees the same data.
#![allow(dead_code)]

use rampart_intel::Observable;
use rampart_model::Cidr;
use std::net::{IpAddr, Ipv4Addr};

#[derive(Debug)]
pub struct Rng(pub u64);
impl Rng {
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// Prefixes shaped like blocklists: most single addresses, some /24s, a few shorter.
pub fn v4_prefixes(n: usize, rng: &mut Rng) -> Vec<Observable> {
    (0..n)
        .map(|_| {
            let r = rng.next_u64();
            let len = match r % 100 {
                0..=79 => 32,
                80..=94 => 24,
                95..=98 => 20,
                _ => 16,
            };
            let addr = Ipv4Addr::from((r >> 32) as u32);
            Observable::Ip(Cidr::new(IpAddr::V4(addr), len).expect("length fits"))
        })
        .collect()
}

/// A bundle of `n` indicators: IPv4 addresses and networks, domains, URLs and hashes.
pub fn bundle_text(n: usize, rng: &mut Rng) -> String {
    let mut s = String::with_capacity(n * 420);
    s.push_str("{\"type\":\"bundle\",\"id\":\"bundle--5d0092c5-5f74-4287-9642-33f4c354e56d\",\"objects\":[");
    for i in 0..n {
        let r = rng.next_u64();
        let pattern = match i % 10 {
            0..=5 => format!("[ipv4-addr:value = '{}']", Ipv4Addr::from(r as u32)),
            6 => format!(
                "[ipv4-addr:value ISSUBSET '{}/24']",
                Ipv4Addr::from(r as u32 & 0xffff_ff00)
            ),
            7 => format!("[domain-name:value = 'h{i}.example{}.com']", r % 1000),
            8 => format!("[url:value = 'http://h{i}.example.net/p/{r}']"),
            _ => format!(
                "[file:hashes.'SHA-256' = '{:016x}{:016x}{:016x}{:016x}']",
                r,
                r ^ 1,
                r ^ 2,
                r ^ 3
            ),
        };
        if i > 0 {
            s.push(',');
        }
        s.push_str(&format!(
            "{{\"type\":\"indicator\",\"spec_version\":\"2.1\",\"id\":\"indicator--{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}\",\"created\":\"2026-01-01T00:00:00.000Z\",\"modified\":\"2026-01-01T00:00:00.000Z\",\"name\":\"bench {i}\",\"indicator_types\":[\"malicious-activity\"],\"pattern\":\"{pattern}\",\"pattern_type\":\"stix\",\"valid_from\":\"2026-01-01T00:00:00Z\",\"confidence\":{},\"object_marking_refs\":[\"marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb\"]}}",
            i,
            (r >> 16) & 0xffff,
            (r >> 32) & 0xfff,
            (r >> 44) & 0xfff,
            r & 0xffff_ffff_ffff,
            r % 101
        ));
    }
    s.push_str("]}");
    s
}
