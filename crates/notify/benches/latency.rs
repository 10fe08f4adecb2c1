//! How long from `Notifier::notify` to the webhook receiver having the request: 1,000
//! notifications one at a time to a receiver on loopback (an axum server on its own
//! thread), signed JSON and Slack format; then a burst of 1,000 at once; then the cost of
//! formatting one notification for each sink. Run: `cargo bench -p rampart-notify --bench
//! latency`. Prints medians and tails; docs/benchmarks.md keeps the results.

#![allow(clippy::unwrap_used)] // a benchmark: a panic is the failure report

#[path = "../tests/common/receiver.rs"]
mod receiver;

use rampart_model::Timestamp;
use rampart_notify::{
    cef, rfc5424, sign, slack, EventKind, Notification, Notifier, NotifyConfig, WebhookConfig,
    WebhookFormat,
};
use std::time::{Duration, Instant};

const N: usize = 1_000;

fn sample() -> Notification {
    let detection = serde_json::json!({
        "kind": "ddos", "vector": "syn_flood", "vectors": ["syn_flood", "udp_flood"],
        "target": "203.0.113.10", "direction": "inbound",
        "start": "2026-11-22T10:00:00.000Z", "end": null,
        "peak_pps": 1_200_000, "peak_bps": 9_800_000_000u64, "confidence": 0.97,
        "top_sources": [{"addr": "198.51.100.1", "packets": 1000, "share": 0.1}],
        "top_src_ports": [], "top_dst_ports": [{"port": 443, "packets": 900, "share": 0.9}],
        "spoofed_sources": false, "samples": 5000,
        "evidence": "SYN packets 40x the learned baseline",
        "id": 12, "state": "active", "updated": "2026-11-22T10:00:02.000Z", "timeline": []
    });
    Notification::new(
        EventKind::AttackStarted,
        Timestamp::from_secs(1_795_000_000),
        "bench",
        Some(detection),
        None,
        None,
    )
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

fn report(label: &str, mut v: Vec<Duration>) {
    v.sort();
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    println!(
        "{label:<34} n={} median {:>7.0} µs  p90 {:>7.0} µs  p99 {:>7.0} µs  max {:>7.0} µs",
        v.len(),
        us(percentile(&v, 0.5)),
        us(percentile(&v, 0.9)),
        us(percentile(&v, 0.99)),
        us(*v.last().unwrap())
    );
}

/// A receiver and a notifier with one signed webhook to it.
fn start(
    rt: &tokio::runtime::Runtime,
    format: WebhookFormat,
    queue: usize,
) -> (receiver::Receiver, Notifier) {
    let rx = receiver::Receiver::start();
    let cfg = NotifyConfig {
        name: Some("bench".into()),
        webhooks: vec![WebhookConfig {
            url: rx.url("/hook"),
            secret: Some("bench secret".into()),
            format,
            queue,
            ..WebhookConfig::default()
        }],
        ..NotifyConfig::default()
    };
    let (notifier, _dead) = rt.block_on(async { Notifier::start(&cfg) }).unwrap();
    (rx, notifier)
}

fn one_at_a_time(rt: &tokio::runtime::Runtime, format: WebhookFormat, label: &str) {
    let (rx, notifier) = start(rt, format, 1_024);
    let notes: Vec<Notification> = (0..N + 50).map(|_| sample()).collect();
    let mut notes = notes.into_iter();
    // Warm up: the connection, the allocator, the caches.
    for i in 1..=50 {
        notifier.notify(notes.next().unwrap());
        rx.wait_nth(i, Duration::from_secs(10)).unwrap();
    }
    let mut lat = Vec::with_capacity(N);
    for i in 51..=50 + N {
        let n = notes.next().unwrap();
        let t0 = Instant::now();
        notifier.notify(n);
        let at = rx.wait_nth(i, Duration::from_secs(10)).unwrap();
        lat.push(at.duration_since(t0));
    }
    report(label, lat);
    let stats = rt.block_on(notifier.shutdown(Duration::from_secs(5)));
    assert_eq!(stats.sinks[0].sent as usize, N + 50);
}

fn burst(rt: &tokio::runtime::Runtime) {
    let (rx, notifier) = start(rt, WebhookFormat::Json, N);
    notifier.notify(sample());
    rx.wait_nth(1, Duration::from_secs(10)).unwrap();
    let notes: Vec<Notification> = (0..N).map(|_| sample()).collect();
    let t0 = Instant::now();
    for n in notes {
        notifier.notify(n);
    }
    let queued = t0.elapsed();
    let last = rx.wait_nth(N + 1, Duration::from_secs(60)).unwrap();
    let all = last.duration_since(t0);
    println!(
        "burst of {N}: notify() calls {:.0} µs in all, last received after {:.1} ms ({:.0}/s)",
        queued.as_secs_f64() * 1e6,
        all.as_secs_f64() * 1e3,
        N as f64 / all.as_secs_f64()
    );
    rt.block_on(notifier.shutdown(Duration::from_secs(5)));
}

fn formatting() {
    let n = sample();
    let origin = rfc5424::Origin::new(16, "bench", 1);
    let time = |label: &str, f: &mut dyn FnMut() -> usize| {
        let iters = 20_000;
        let t0 = Instant::now();
        let mut bytes = 0;
        for _ in 0..iters {
            bytes += std::hint::black_box(f());
        }
        let per = t0.elapsed() / iters;
        println!(
            "{label:<34} {:>6.2} µs each ({} bytes)",
            per.as_secs_f64() * 1e6,
            bytes / iters as usize
        );
    };
    time("JSON body", &mut || n.to_json().len());
    time("JSON body + HMAC-SHA256 signature", &mut || {
        let b = n.to_json();
        sign::sign(b"bench secret", 1_795_000_000, &b).len() + b.len()
    });
    time("Slack body", &mut || slack::slack_body(&n).len());
    time("RFC 5424 line", &mut || {
        rfc5424::rfc5424(&n, &origin, 2048).len()
    });
    time("CEF record", &mut || cef::cef(&n).len());
    time("Notification::new (words)", &mut || sample().text.len());
}

fn main() {
    // `cargo test --benches` runs this with --test... or --bench; only a bench run measures.
    if !std::env::args().any(|a| a == "--bench") {
        println!("latency: run with `cargo bench -p rampart-notify --bench latency`");
        return;
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    one_at_a_time(&rt, WebhookFormat::Json, "notify() → received, JSON");
    one_at_a_time(&rt, WebhookFormat::Slack, "notify() → received, Slack");
    burst(&rt);
    formatting();
}
