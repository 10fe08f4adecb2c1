//! `rampart simulate`: synthetic NetFlow v9 (or IPFIX) of a small network's normal day, with
//! attacks on request, sent to a collector at the wall clock, so that a newcomer sees
//! `rampart serve` come alive in a minute. The generator is sans-I/O ([`Simulator`]); the
//! command is a thin loop that sends what it makes every 100 ms.

mod attacks;
mod flows;
mod rng;
mod traffic;

pub use attacks::{AttackKind, Notice, Scenario};

use anyhow::{bail, Context, Result};
use attacks::{schedule, Attack};
use flows::FlowCache;
use rampart_flow::export::{ExportConfig, ExportProtocol, Exporter};
use rampart_flow::{FlowRecord, Timestamp};
use rng::Rng;
use std::collections::VecDeque;
use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use traffic::Normal;

/// The generator advances in steps of this much time, whenever it is asked.
const STEP_NS: u64 = 100_000_000;

/// A caller that stalled longer than this (a stopped process, a laptop asleep) gets the
/// present, not a burst of everything it missed.
const MAX_CATCH_UP_NS: u64 = 10_000_000_000;

/// `rampart simulate`'s options.
#[derive(Clone, Debug, clap::Args)]
pub struct SimulateArgs {
    /// Collector address, e.g. 127.0.0.1:2055.
    #[arg(long)]
    pub to: SocketAddr,
    /// Traffic to send: normal, or normal with an attack (from 10 s to 70 s of every two
    /// minutes), or a tour of every attack in turn.
    #[arg(long, value_enum, default_value_t = Scenario::Normal)]
    pub scenario: Scenario,
    /// Seconds to run; until interrupted when not given.
    #[arg(long, value_name = "SECONDS")]
    pub duration: Option<f64>,
    /// Scale of the normal traffic (2 = twice the flows); attacks keep their rates.
    #[arg(long, value_name = "SCALE", default_value_t = 1.0)]
    pub rate: f64,
    /// Seed of the random traffic: the same seed gives the same traffic.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Packet sampling of the simulated router: one packet in N (1: every packet).
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub sampling: u32,
    /// Seconds of wall time a simulated day takes.
    #[arg(long, value_name = "SECONDS", default_value_t = 300.0)]
    pub day: f64,
    /// Export protocol.
    #[arg(long, value_enum, default_value_t = Protocol::Netflow9)]
    pub protocol: Protocol,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Protocol {
    Netflow9,
    Ipfix,
}

/// What a [`Simulator`] makes.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SimConfig {
    pub scenario: Scenario,
    /// Scale of the normal traffic.
    pub rate: f64,
    pub seed: u64,
    /// One packet in `sampling` is exported.
    pub sampling: u32,
    /// Wall-clock nanoseconds of a simulated day.
    pub day_ns: u64,
    /// Simulated hour (0..24) at the start: the morning, so the office is busy.
    pub start_hour: f64,
    pub protocol: ExportProtocol,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            scenario: Scenario::Normal,
            rate: 1.0,
            seed: 1,
            sampling: 1,
            day_ns: 300_000_000_000,
            start_hour: 9.0,
            protocol: ExportProtocol::Netflow9,
        }
    }
}

/// Counters of a run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SimStats {
    pub records: u64,
    /// Packets the records stand for, before sampling.
    pub packets: u64,
    pub datagrams: u64,
    /// Flows not simulated because the flow cache was full (a very large `rate`).
    pub flows_refused: u64,
}

/// The traffic generator: normal traffic and scheduled attacks of a simulated network, as
/// the flow records (and NetFlow v9 or IPFIX datagrams) of its border router. Time is only
/// what the caller passes in, so the same seed and times give the same output.
#[derive(Debug)]
pub struct Simulator {
    cfg: SimConfig,
    rng: Rng,
    start_ns: u64,
    /// Simulated up to here.
    clock_ns: u64,
    normal: Normal,
    cache: FlowCache,
    attack: Option<Attack>,
    /// The schedule's last attack instance started, so that each starts once.
    last_instance: Option<(u64, AttackKind)>,
    exporter: Exporter,
    notices: VecDeque<Notice>,
    datagrams: u64,
}

impl Simulator {
    pub fn new(cfg: SimConfig, start: Timestamp) -> Result<Simulator> {
        if !(cfg.rate.is_finite() && cfg.rate >= 0.0 && cfg.rate <= 1_000.0) {
            bail!(
                "--rate must be a scale between 0 and 1000, not {}",
                cfg.rate
            );
        }
        if cfg.day_ns < 10_000_000_000 {
            bail!("--day must be at least 10 seconds");
        }
        let exporter = Exporter::new(ExportConfig {
            protocol: cfg.protocol,
            sampling_rate: cfg.sampling.max(1),
            // A router up for a while: about three days.
            system_init: start.saturating_sub_millis(3 * 86_400_000 + 12_345),
            ..ExportConfig::default()
        })?;
        let mut rng = Rng::new(cfg.seed);
        Ok(Simulator {
            normal: Normal::new(cfg.rate, &mut rng),
            cache: FlowCache::new(cfg.sampling.max(1)),
            rng,
            start_ns: start.as_nanos(),
            clock_ns: start.as_nanos(),
            attack: None,
            last_instance: None,
            exporter,
            notices: VecDeque::new(),
            datagrams: 0,
            cfg,
        })
    }

    /// The simulated hour of the day at `t_ns`.
    fn hour(&self, t_ns: u64) -> f64 {
        let elapsed = t_ns.saturating_sub(self.start_ns) as f64;
        (self.cfg.start_hour + 24.0 * elapsed / self.cfg.day_ns as f64).rem_euclid(24.0)
    }

    /// Advances to `now` and returns the flow records exported meanwhile: every piece of
    /// traffic that ended by `now`, in steps of 100 ms.
    pub fn records(&mut self, now: Timestamp) -> Vec<FlowRecord> {
        let mut out = Vec::new();
        let behind = now.as_nanos().saturating_sub(self.clock_ns);
        if behind > MAX_CATCH_UP_NS {
            self.clock_ns += (behind - STEP_NS) / STEP_NS * STEP_NS;
        }
        while self.clock_ns + STEP_NS <= now.as_nanos() {
            let (from, to) = (self.clock_ns, self.clock_ns + STEP_NS);
            self.step(from, to, &mut out);
            self.clock_ns = to;
        }
        out
    }

    /// Advances to `now` and returns the datagrams exported meanwhile.
    pub fn next_datagrams(&mut self, now: Timestamp) -> Vec<Vec<u8>> {
        let records = self.records(now);
        let datagrams = self.exporter.export(now, &records);
        self.datagrams += datagrams.len() as u64;
        datagrams
    }

    /// Attacks that started or stopped, in order.
    pub fn poll_notice(&mut self) -> Option<Notice> {
        self.notices.pop_front()
    }

    pub fn stats(&self) -> SimStats {
        SimStats {
            records: self.cache.stats.records,
            packets: self.cache.stats.packets,
            datagrams: self.datagrams,
            flows_refused: self.cache.stats.flows_refused,
        }
    }

    fn step(&mut self, from: u64, to: u64, out: &mut Vec<FlowRecord>) {
        let elapsed = from - self.start_ns;
        let due = schedule(self.cfg.scenario, elapsed);
        if let Some(a) = &self.attack {
            if to > a.end_ns || due.is_none_or(|(i, k, _, _)| (i, k) != (a.instance, a.kind)) {
                self.notices.push_back(Notice {
                    at: Timestamp::from_nanos(a.end_ns.min(to)),
                    kind: a.kind,
                    started: false,
                });
                self.attack = None;
            }
        }
        if let Some((instance, kind, start, end)) = due {
            if self.attack.is_none() && self.last_instance != Some((instance, kind)) {
                self.last_instance = Some((instance, kind));
                let (start, end) = (self.start_ns + start, self.start_ns + end);
                self.notices.push_back(Notice {
                    at: Timestamp::from_nanos(start),
                    kind,
                    started: true,
                });
                self.attack = Some(Attack::start(
                    instance,
                    kind,
                    start,
                    end,
                    &mut self.cache,
                    &mut self.rng,
                ));
            }
        }
        let hour = self.hour(from);
        self.normal.step(
            from,
            to,
            hour,
            self.cfg.day_ns,
            &mut self.cache,
            &mut self.rng,
        );
        if let Some(a) = &mut self.attack {
            a.step(from, to, &mut self.cache, &mut self.rng, out);
        }
        self.cache.export(to, &mut self.rng, out);
    }
}

fn wall_clock() -> Timestamp {
    let d = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    Timestamp::from_secs_nanos(d.as_secs(), d.subsec_nanos())
}

/// Sends the simulation to `args.to` at the wall clock until `--duration` has passed (or
/// forever), telling stderr when attacks start and stop.
pub fn run(args: &SimulateArgs) -> Result<()> {
    if args.day.is_nan() || args.day < 10.0 || args.day > 86_400.0 * 7.0 {
        bail!(
            "--day must be between 10 and 604800 seconds, not {}",
            args.day
        );
    }
    if args.sampling == 0 {
        bail!("--sampling must be at least 1");
    }
    if let Some(d) = args.duration {
        if !(d.is_finite() && d > 0.0) {
            bail!("--duration must be a positive number of seconds, not {d}");
        }
    }
    let cfg = SimConfig {
        scenario: args.scenario,
        rate: args.rate,
        seed: args.seed,
        sampling: args.sampling,
        day_ns: (args.day * 1e9) as u64,
        protocol: match args.protocol {
            Protocol::Netflow9 => ExportProtocol::Netflow9,
            Protocol::Ipfix => ExportProtocol::Ipfix,
        },
        ..SimConfig::default()
    };
    let bind: SocketAddr = if args.to.is_ipv4() {
        ([0, 0, 0, 0], 0).into()
    } else {
        ([0u16; 8], 0).into()
    };
    let socket = UdpSocket::bind(bind).context("cannot open a UDP socket")?;
    socket
        .connect(args.to)
        .with_context(|| format!("cannot send to {}", args.to))?;
    let mut sim = Simulator::new(cfg, wall_clock())?;
    let name = |v: Option<clap::builder::PossibleValue>| {
        v.map_or(String::new(), |v| v.get_name().to_string())
    };
    eprintln!(
        "simulate: sending {} to {}: scenario {}, a simulated day every {} s, sampling 1 in {}; \
         the network is {} and {} (`rampart serve --protect {} --protect {}` also watches \
         its outbound traffic)",
        match args.protocol {
            Protocol::Netflow9 => "NetFlow v9",
            Protocol::Ipfix => "IPFIX",
        },
        args.to,
        name(clap::ValueEnum::to_possible_value(&args.scenario)),
        args.day,
        args.sampling,
        traffic::PROTECTED_V4,
        traffic::PROTECTED_V6,
        traffic::PROTECTED_V4,
        traffic::PROTECTED_V6,
    );
    let began = Instant::now();
    let limit = args.duration.map(Duration::from_secs_f64);
    let mut refused = 0u64;
    let mut tick = began;
    loop {
        for d in sim.next_datagrams(wall_clock()) {
            // Nobody listening yet (ICMP port unreachable comes back as an error on the
            // next send): keep going, a collector may start at any time.
            if let Err(e) = socket.send(&d) {
                if e.kind() != std::io::ErrorKind::ConnectionRefused {
                    return Err(e).with_context(|| format!("sending to {}", args.to));
                }
                refused += 1;
            }
        }
        while let Some(n) = sim.poll_notice() {
            eprintln!("simulate: {n}");
        }
        if limit.is_some_and(|l| began.elapsed() >= l) {
            break;
        }
        tick += Duration::from_nanos(STEP_NS);
        match tick.checked_duration_since(Instant::now()) {
            Some(wait) => std::thread::sleep(wait),
            // Far behind (the process was stopped): start the beat again from now.
            None if tick.elapsed() > Duration::from_secs(1) => tick = Instant::now(),
            None => {}
        }
    }
    let s = sim.stats();
    let secs = began.elapsed().as_secs_f64();
    eprintln!(
        "simulate: sent {} datagrams, {} records ({} packets) in {:.1} s{}",
        s.datagrams,
        s.records,
        s.packets,
        secs,
        if refused > 0 {
            format!("; {refused} refused (no collector listening)")
        } else {
            String::new()
        }
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    //! The generator driven in virtual time through the decoder into the detectors with
    //! their default thresholds, as `rampart serve` runs them: no sockets, no clock.
    use super::*;
    use rampart_detect::{DdosConfig, DdosDetector, ScanConfig, ScanDetector, ScanType};
    use rampart_flow::FlowDecoder;
    use rampart_model::{Cidr, DdosDetection, ScanDetection};
    use std::collections::BTreeMap;
    use std::net::IpAddr;

    /// 2026-11-22T09:00:00Z
    const START: Timestamp = Timestamp::from_secs(1_795_338_000);

    struct Outcome {
        ddos: Vec<DdosDetection>,
        scans: Vec<ScanDetection>,
        notices: Vec<Notice>,
        stats: SimStats,
    }

    fn drive(scenario: Scenario, secs: u64, protect: bool, sampling: u32) -> Outcome {
        drive_seed(scenario, secs, protect, sampling, 1)
    }

    /// More seeds and samplings than the suite can afford in a debug build:
    /// `SEEDS=10 cargo test --release -p rampart many_seeds -- --ignored`.
    #[test]
    #[ignore]
    fn many_seeds() {
        let seeds: u64 = std::env::var("SEEDS").map_or(4, |s| s.parse().unwrap());
        for seed in 1..=seeds {
            for protect in [true, false] {
                for sampling in [1, 1000] {
                    let o = drive_seed(Scenario::Normal, 3_600, protect, sampling, seed);
                    let found = describe(&o);
                    assert!(
                        found.is_empty(),
                        "seed {seed}, protect {protect}, 1:{sampling}:\n{found}"
                    );
                }
            }
        }
    }

    fn drive_seed(
        scenario: Scenario,
        secs: u64,
        protect: bool,
        sampling: u32,
        seed: u64,
    ) -> Outcome {
        let cfg = SimConfig {
            scenario,
            sampling,
            seed,
            ..SimConfig::default()
        };
        let mut sim = Simulator::new(cfg, START).unwrap();
        let protect: Vec<Cidr> = if protect {
            vec![
                traffic::PROTECTED_V4.parse().unwrap(),
                traffic::PROTECTED_V6.parse().unwrap(),
            ]
        } else {
            Vec::new()
        };
        let mut ddos = DdosDetector::new(DdosConfig {
            protect: protect.clone(),
            ..DdosConfig::default()
        });
        let mut scan = ScanDetector::new(ScanConfig {
            protect,
            ..ScanConfig::default()
        });
        let mut decoder = FlowDecoder::default();
        let exporter: IpAddr = "192.0.2.1".parse().unwrap();
        let (mut attacks, mut scans) = (BTreeMap::new(), BTreeMap::new());
        let mut notices = Vec::new();
        for step in 1..=secs * 10 {
            let now = START.saturating_add_millis(step * 100);
            for d in sim.next_datagrams(now) {
                decoder
                    .decode(&d, exporter, now, &mut |r: &FlowRecord| {
                        ddos.observe(r);
                        scan.observe(r);
                    })
                    .unwrap();
            }
            ddos.tick(now);
            scan.tick(now);
            while let Some(e) = ddos.poll_event() {
                attacks.insert(e.id, e.detection);
            }
            while let Some(e) = scan.poll_event() {
                scans.insert(e.id, e.detection);
            }
            while let Some(n) = sim.poll_notice() {
                notices.push(n);
            }
        }
        assert_eq!(decoder.stats().errors, 0);
        assert_eq!(decoder.stats().records, sim.stats().records);
        Outcome {
            ddos: attacks.into_values().collect(),
            scans: scans.into_values().collect(),
            notices,
            stats: sim.stats(),
        }
    }

    fn describe(o: &Outcome) -> String {
        let mut s = String::new();
        for d in &o.ddos {
            s += &format!(
                "ddos {} {} {:?} start {} end {:?} peak {} pps: {}\n",
                d.vector, d.target, d.direction, d.start, d.end, d.peak_pps, d.evidence
            );
        }
        for d in &o.scans {
            s += &format!(
                "scan {:?} {} -> {} {:?} ports {} hosts {}: {}\n",
                d.scan_type, d.source, d.target, d.direction, d.ports, d.hosts, d.evidence
            );
        }
        s
    }

    /// What one attack must look like to the detectors.
    fn assert_found(o: &Outcome, kind: AttackKind, after: Timestamp) {
        let all = describe(o);
        if kind == AttackKind::Scan {
            let found: Vec<&ScanDetection> = o.scans.iter().filter(|d| d.start >= after).collect();
            assert!(!found.is_empty(), "{kind:?} not found:\n{all}");
            for d in found {
                assert_eq!(d.source, attacks::SCANNER, "{all}");
                assert_eq!(d.target.to_string(), kind.target(), "{all}");
                assert_eq!(d.scan_type, ScanType::Horizontal, "{all}");
            }
            return;
        }
        let found: Vec<&DdosDetection> = o.ddos.iter().filter(|d| d.start >= after).collect();
        assert!(!found.is_empty(), "{kind:?} not found:\n{all}");
        for d in found {
            assert_eq!(d.target.to_string(), kind.target(), "{kind:?}:\n{all}");
            assert_eq!(d.vector.as_str(), kind.vector(), "{kind:?}:\n{all}");
        }
    }

    #[test]
    fn normal_traffic_raises_nothing() {
        // An hour: about 12 simulated days, busy hours, nights and backups, with the
        // protected space given (outbound traffic counted too); shorter runs with every
        // destination protected and with a sampling router.
        for (secs, protect, sampling) in [(3_600, true, 1), (900, false, 1), (900, true, 1000)] {
            let o = drive(Scenario::Normal, secs, protect, sampling);
            let found = describe(&o);
            assert!(
                found.is_empty(),
                "{secs} s, protect {protect}, 1:{sampling}:\n{found}"
            );
            assert!(o.notices.is_empty());
            assert!(
                o.stats.records > secs * 100 / u64::from(sampling),
                "{:?}",
                o.stats
            );
        }
    }

    #[test]
    fn each_attack_is_found_with_its_vector_and_target() {
        for sampling in [1, 100] {
            for (scenario, kind) in [
                (Scenario::SynFlood, AttackKind::SynFlood),
                (Scenario::UdpFlood, AttackKind::UdpFlood),
                (Scenario::DnsAmplification, AttackKind::DnsAmplification),
                (Scenario::NtpAmplification, AttackKind::NtpAmplification),
                (Scenario::CarpetBombing, AttackKind::CarpetBombing),
                (Scenario::Scan, AttackKind::Scan),
            ] {
                if kind == AttackKind::Scan && sampling > 1 {
                    // 25 probes/s sampled 1 in 100 leave a handful of probes a minute: no
                    // scan detector sees a sweep through that.
                    continue;
                }
                let o = drive(scenario, 40, true, sampling);
                assert_found(&o, kind, START);
                let found = describe(&o);
                if kind == AttackKind::Scan {
                    assert!(o.ddos.is_empty(), "1:{sampling}: {found}");
                } else {
                    assert!(o.scans.is_empty(), "1:{sampling}: {found}");
                }
                // Found within two seconds of the attack's start (10 s in).
                let start = o
                    .ddos
                    .first()
                    .map(|d| d.start)
                    .or(o.scans.first().map(|d| d.start));
                assert!(
                    start <= Some(START.saturating_add_millis(12_000)),
                    "1:{sampling}: {found}"
                );
                assert_eq!(o.notices.len(), 1);
                assert!(o.notices[0].started && o.notices[0].kind == kind);
            }
        }
    }

    #[test]
    fn a_stalled_caller_gets_the_present_not_a_burst() {
        let mut sim = Simulator::new(SimConfig::default(), START).unwrap();
        assert!(!sim.records(START.saturating_add_millis(2_000)).is_empty());
        let hour_later = START.saturating_add_millis(3_600_000);
        let got = sim.records(hour_later);
        // The last ten seconds or so, and what was in the flow cache: not an hour's worth.
        assert!(got.len() < 20_000, "{} records", got.len());
        assert!(got.iter().all(|r| r.end <= hour_later));
    }

    #[test]
    fn the_tour_shows_every_attack_in_turn_and_each_ends() {
        // Up to just before the tour starts over at 320 s.
        let o = drive(Scenario::Tour, 318, true, 10);
        let found = describe(&o);
        let kinds: Vec<AttackKind> = o
            .notices
            .iter()
            .filter(|n| n.started)
            .map(|n| n.kind)
            .collect();
        assert_eq!(kinds, AttackKind::TOUR);
        assert_eq!(o.notices.iter().filter(|n| !n.started).count(), 6);
        for (i, kind) in AttackKind::TOUR.into_iter().enumerate() {
            let from = START.saturating_add_millis(20_000 + 50_000 * i as u64);
            let to = from.saturating_add_millis(30_000);
            if kind == AttackKind::Scan {
                let scans: Vec<_> = o
                    .scans
                    .iter()
                    .filter(|d| d.start >= from && d.start < to)
                    .collect();
                assert_eq!(scans.len(), 1, "{kind:?}:\n{found}");
                assert_eq!(scans[0].target.to_string(), kind.target());
                continue;
            }
            let hits: Vec<_> = o
                .ddos
                .iter()
                .filter(|d| d.start >= from && d.start < to)
                .collect();
            assert_eq!(hits.len(), 1, "{kind:?}:\n{found}");
            let d = hits[0];
            assert_eq!(
                (d.target.to_string().as_str(), d.vector.as_str()),
                (kind.target(), kind.vector()),
                "{found}"
            );
            // Over before the next attack starts: 30 s on, then 10 s to end, of 20 s apart.
            let end = d
                .end
                .unwrap_or_else(|| panic!("{kind:?} never ended:\n{found}"));
            assert!(end < to.saturating_add_millis(20_000), "{kind:?}:\n{found}");
        }
        assert_eq!(o.ddos.len(), 5, "{found}");
    }
}
