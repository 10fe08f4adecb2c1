//! Lines per second on one core, parsing plus login-abuse detection: a day of an
//! Internet-facing sshd (crates/rampart/tests/fixtures/auth/sshd-day.log: brute forcers,
//! dictionary scanners, probes, a spray, stuffing, key logins, noise; 2,438 lines) read 20
//! times over through `LogReader` in 64 KiB chunks, each event into `AuthDetector`, as
//! `rampart analyze` does; the parser alone; and the detector alone on the parsed events.
//! Timed in CPU time of the thread.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use rampart_detect::{AuthConfig, AuthDetector};
use rampart_logs::{Format, LogEvent, LogReader, TimeContext, Timestamp};
use std::hint::black_box;
use std::io::Read;
use std::time::Duration;

const COPIES: usize = 20;

/// CPU time of this thread (the first field of /proc/thread-self/schedstat, ns): the
/// machine is shared, and wall time would count the waits for a core.
fn cpu() -> Duration {
    let mut s = String::new();
    #[allow(clippy::disallowed_methods)] // bounded by take()
    std::fs::File::open("/proc/thread-self/schedstat")
        .and_then(|f| f.take(256).read_to_string(&mut s))
        .expect("/proc/thread-self/schedstat");
    let ns = s
        .split(' ')
        .next()
        .and_then(|v| v.parse().ok())
        .expect("schedstat");
    Duration::from_nanos(ns)
}

/// `iters` runs of `f`, timed in CPU time.
fn cpu_time<T>(iters: u64, mut f: impl FnMut() -> T) -> Duration {
    let start = cpu();
    for _ in 0..iters {
        black_box(f());
    }
    cpu() - start
}

fn log() -> Vec<u8> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../rampart/tests/fixtures/auth/sshd-day.log"
    );
    let mut day = Vec::new();
    #[allow(clippy::disallowed_methods)] // bounded by take()
    std::fs::File::open(path)
        .and_then(|f| f.take(16 << 20).read_to_end(&mut day))
        .expect("the sshd-day fixture");
    day.repeat(COPIES)
}

fn ctx() -> TimeContext {
    TimeContext::new(Timestamp::from_secs(1_796_126_400), 0)
}

fn run(text: &[u8]) -> u64 {
    let mut reader = LogReader::new(Format::Syslog, ctx());
    let mut det = AuthDetector::new(AuthConfig::default());
    let mut found = 0;
    let mut last = 0;
    for chunk in text.chunks(1 << 16) {
        reader.push(chunk);
        while let Some(e) = reader.poll_event() {
            if let LogEvent::Auth(a) = e {
                det.observe(&a, None);
                let s = a.time.as_secs();
                if s != last {
                    last = s;
                    det.tick(a.time);
                }
            }
            while det.poll_event().is_some() {
                found += 1;
            }
        }
    }
    reader.finish();
    found
}

fn bench(c: &mut Criterion) {
    let text = log();
    let lines = text.iter().filter(|&&b| b == b'\n').count() as u64;
    let mut g = c.benchmark_group("auth");
    g.throughput(Throughput::Elements(lines));
    g.bench_function("sshd_parse_detect", |b| {
        b.iter_custom(|n| cpu_time(n, || run(&text)))
    });
    g.bench_function("sshd_parse_only", |b| {
        b.iter_custom(|n| cpu_time(n, || LogReader::read_all(Format::Syslog, ctx(), &text).1))
    });
    let (events, _) = LogReader::read_all(Format::Syslog, ctx(), &text);
    let auth: Vec<_> = events
        .into_iter()
        .filter_map(|e| match e {
            LogEvent::Auth(a) => Some(a),
            _ => None,
        })
        .collect();
    g.throughput(Throughput::Elements(auth.len() as u64));
    g.bench_function("detect_only_events", |b| {
        b.iter_custom(|n| {
            cpu_time(n, || {
                let mut det = AuthDetector::new(AuthConfig::default());
                for a in &auth {
                    det.observe(a, None);
                }
                while det.poll_event().is_some() {}
                det.stats().failures
            })
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
