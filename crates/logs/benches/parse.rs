//! Lines per second on one core: an internet-facing sshd's auth.log (user probes, PAM
//! password failures, scanners, a few logins; 2.4 lines per event), read through
//! `LogReader` in 64 KiB chunks as `analyze` will; and access and netfilter logs.

use criterion::measurement::{Measurement, ValueFormatter, WallTime};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use rampart_logs::{Format, LineParser, LogReader, TimeContext, Timestamp};
use std::fmt::Write;
use std::hint::black_box;
use std::io::Read;

const LINES: usize = 200_000;

/// Time this thread spent on a CPU (the first field of /proc/thread-self/schedstat, in
/// nanoseconds): the machine is shared, and wall time would count the waits for a core.
struct CpuTime;

fn cpu_nanos() -> u64 {
    let mut buf = [0u8; 128];
    let n = std::fs::File::open("/proc/thread-self/schedstat")
        .and_then(|mut f| f.read(&mut buf))
        .expect("/proc/thread-self/schedstat (Linux with schedstat)");
    std::str::from_utf8(&buf[..n])
        .ok()
        .and_then(|s| s.split(' ').next())
        .and_then(|v| v.parse().ok())
        .expect("schedstat's first field")
}

static WALL: WallTime = WallTime;

impl Measurement for CpuTime {
    type Intermediate = u64;
    type Value = u64;
    fn start(&self) -> u64 {
        cpu_nanos()
    }
    fn end(&self, start: u64) -> u64 {
        cpu_nanos().saturating_sub(start)
    }
    fn add(&self, a: &u64, b: &u64) -> u64 {
        a + b
    }
    fn zero(&self) -> u64 {
        0
    }
    fn to_f64(&self, v: &u64) -> f64 {
        *v as f64
    }
    fn formatter(&self) -> &dyn ValueFormatter {
        WALL.formatter()
    }
}

fn ctx() -> TimeContext {
    TimeContext::new(Timestamp::from_secs(1_796_126_400), 0)
}

/// A fixed pseudo-random sequence, so that every run parses the same log.
struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> u32 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) as u32
    }
}

const USERS: &[&str] = &[
    "admin", "test", "oracle", "ubuntu", "git", "postgres", "user", "guest", "ftpuser", "deploy",
];

/// sshd lines in the proportions of a public server's log: most connections probe a user
/// that does not exist, some guess root's password (with PAM), some are scanners that never
/// authenticate, a few are real logins.
fn sshd_log() -> (String, usize) {
    let mut rng = Lcg(7);
    let mut s = String::with_capacity(LINES * 110);
    let mut n = 0;
    let mut pid = 10_000u32;
    let mut sec = 0u32;
    while n < LINES {
        pid += 1;
        sec += 1;
        let (h, m, ss) = ((sec / 3600) % 24, (sec / 60) % 60, sec % 60);
        let t = format!("Nov 30 {h:02}:{m:02}:{ss:02}");
        let a = rng.next();
        let ip = format!(
            "{}.{}.{}.{}",
            1 + a % 223,
            (a >> 8) & 255,
            (a >> 16) & 255,
            1 + (a >> 24) % 254
        );
        let port = 1024 + rng.next() % 60_000;
        let user = USERS[(rng.next() as usize) % USERS.len()];
        let mut line = |l: String| {
            s.push_str(&t);
            s.push_str(" web1 sshd[");
            let _ = write!(s, "{pid}");
            s.push_str("]: ");
            s.push_str(&l);
            s.push('\n');
            n += 1;
        };
        match rng.next() % 10 {
            0..=5 => {
                line(format!("Invalid user {user} from {ip} port {port}"));
                line("pam_unix(sshd:auth): check pass; user unknown".into());
                line(format!("pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost={ip}"));
                line(format!(
                    "Failed password for invalid user {user} from {ip} port {port} ssh2"
                ));
                line(format!(
                    "Received disconnect from {ip} port {port}:11: Bye Bye [preauth]"
                ));
                line(format!(
                    "Disconnected from invalid user {user} {ip} port {port} [preauth]"
                ));
            }
            6 | 7 => {
                line(format!("pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost={ip}  user=root"));
                line(format!(
                    "Failed password for root from {ip} port {port} ssh2"
                ));
                line(format!("message repeated 2 times: [ Failed password for root from {ip} port {port} ssh2]"));
                line(format!(
                    "Connection closed by authenticating user root {ip} port {port} [preauth]"
                ));
                line(format!("PAM 2 more authentication failures; logname= uid=0 euid=0 tty=ssh ruser= rhost={ip}  user=root"));
            }
            8 => {
                line("error: kex_exchange_identification: Connection closed by remote host".into());
                line(format!("Connection closed by {ip} port {port}"));
            }
            _ => {
                line(format!("Accepted publickey for deploy from {ip} port {port} ssh2: ED25519 SHA256:kzfjfps/WFgXAdNgzvHBLuI072Y+f+91rpinXJAAvkM"));
                line(
                    "pam_unix(sshd:session): session opened for user deploy(uid=1000) by (uid=0)"
                        .into(),
                );
                line(format!(
                    "Received disconnect from {ip} port {port}:11: disconnected by user"
                ));
                line(format!("Disconnected from user deploy {ip} port {port}"));
                line("pam_unix(sshd:session): session closed for user deploy".into());
            }
        }
    }
    (s, n)
}

fn access_log() -> (String, usize) {
    let mut rng = Lcg(9);
    let mut s = String::new();
    for i in 0..LINES {
        let a = rng.next();
        let _ = writeln!(
            s,
            "{}.{}.{}.{} - - [10/Oct/2026:13:{:02}:{:02} +0000] \"GET /item/{} HTTP/1.1\" 200 {} \"-\" \"Mozilla/5.0 (X11; Linux x86_64)\"",
            1 + a % 223,
            (a >> 8) & 255,
            (a >> 16) & 255,
            1 + (a >> 24) % 254,
            (i / 60) % 60,
            i % 60,
            a % 10_000,
            a % 50_000
        );
    }
    (s, LINES)
}

fn netfilter_log() -> (String, usize) {
    let mut rng = Lcg(11);
    let mut s = String::new();
    for _ in 0..LINES {
        let a = rng.next();
        let _ = writeln!(
            s,
            "Sep 30 10:09:23 fw kernel: [19955416.516358] IN=ens2 OUT= MAC=de:1c:88:64:10:19:5e:e1:a4:3b:cf:f0:08:00 SRC={}.{}.{}.{} DST=10.73.140.49 LEN=44 TOS=0x00 PREC=0x00 TTL=43 ID=25313 PROTO=TCP SPT=52220 DPT={} WINDOW=1024 RES=0x00 SYN URGP=0",
            1 + a % 223,
            (a >> 8) & 255,
            (a >> 16) & 255,
            1 + (a >> 24) % 254,
            a % 65_535
        );
    }
    (s, LINES)
}

/// Through `LogReader` in 64 KiB chunks, draining events as `analyze` will.
fn reader_run(format: Format, text: &str) -> u64 {
    let mut r = LogReader::new(format, ctx());
    let mut events = 0u64;
    for chunk in text.as_bytes().chunks(64 * 1024) {
        r.push(chunk);
        while let Some(e) = r.poll_event() {
            black_box(&e);
            events += 1;
        }
    }
    r.finish();
    while r.poll_event().is_some() {
        events += 1;
    }
    events
}

fn bench(c: &mut Criterion<CpuTime>) {
    let mut g = c.benchmark_group("logs");
    g.sample_size(20);
    let (sshd, n) = sshd_log();
    let events = reader_run(Format::Syslog, &sshd);
    eprintln!(
        "sshd log: {n} lines, {} bytes, {events} events ({:.2} lines per event)",
        sshd.len(),
        n as f64 / events as f64
    );
    g.throughput(Throughput::Elements(n as u64));
    g.bench_function("sshd_reader", |b| {
        b.iter(|| reader_run(Format::Syslog, black_box(&sshd)))
    });
    g.bench_function("sshd_line_parser", |b| {
        b.iter(|| {
            let mut p = LineParser::new(Format::Syslog, ctx());
            let mut events = 0u64;
            for line in sshd.lines() {
                p.feed_str(line);
                while p.poll_event().is_some() {
                    events += 1;
                }
            }
            events
        })
    });
    let (access, n) = access_log();
    g.throughput(Throughput::Elements(n as u64));
    g.bench_function("access_reader", |b| {
        b.iter(|| reader_run(Format::Access, black_box(&access)))
    });
    let (nf, n) = netfilter_log();
    g.throughput(Throughput::Elements(n as u64));
    g.bench_function("netfilter_reader", |b| {
        b.iter(|| reader_run(Format::Syslog, black_box(&nf)))
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().with_measurement(CpuTime);
    targets = bench
}
criterion_main!(benches);
