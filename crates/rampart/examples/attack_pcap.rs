//! Writes one attack scenario of the end-to-end tests as a pcap, for benchmarks and for
//! trying `rampart analyze` by hand:
//!
//! ```sh
//! cargo run --release -p rampart --example attack_pcap -- SCENARIO OUT.pcap [--factor F] [--seconds S] [--seed N] [--snaplen N] [--threshold PPS]
//! ```
//!
//! SCENARIO is `benign` (background only), `every-vector` (every vector at once, each on its
//! own target), `carpet`, `outbound`, `scans`, a vector name (`syn_flood`,
//! `dns_amplification`, ...: that attack on 203.0.113.100 over the background), or vector
//! names joined by commas (each on its own target from 203.0.113.100 up, starts 13 ms apart).
//! `--factor` is the attack rate as a multiple of its threshold (default 2). `--threshold`
//! makes every per-vector threshold PPS packets/s (one threshold for all, as when comparing
//! with a tool that has only per-protocol ones), except ack_flood's, which stays above the
//! background's 4,200 pps bulk download. The thresholds the scenario is built against, as
//! `rampart analyze` arguments, and each attack's and scan's first packet time (for latency)
//! are printed on standard output.

use std::path::PathBuf;
use std::process::ExitCode;

#[path = "../tests/support/traffic.rs"]
mod traffic;

use traffic::{Scan, Scenario, Target, Vector};

const USAGE: &str =
    "usage: attack_pcap SCENARIO OUT.pcap [--factor F] [--seconds S] [--seed N] [--snaplen N] [--threshold PPS]
SCENARIO: benign | every-vector | carpet | outbound | scans | VECTOR[,VECTOR...] (e.g. syn_flood)";

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("attack_pcap: {e}\n{USAGE}");
            ExitCode::from(2)
        }
    }
}

fn run() -> Result<(), String> {
    let mut args = std::env::args().skip(1);
    let (Some(name), Some(out)) = (args.next(), args.next()) else {
        return Err("SCENARIO and OUT.pcap are required".into());
    };
    let (mut factor, mut seconds, mut seed, mut snaplen) =
        (2.0f64, None::<f64>, 1u64, traffic::SNAPLEN);
    let mut threshold = None::<u64>;
    while let Some(flag) = args.next() {
        let value = args.next().ok_or(format!("{flag} needs a value"))?;
        let bad = |e: &dyn std::fmt::Display| format!("{flag} {value}: {e}");
        match flag.as_str() {
            "--factor" => factor = value.parse().map_err(|e| bad(&e))?,
            "--seconds" => seconds = Some(value.parse().map_err(|e| bad(&e))?),
            "--seed" => seed = value.parse().map_err(|e| bad(&e))?,
            "--snaplen" => snaplen = value.parse().map_err(|e| bad(&e))?,
            "--threshold" => threshold = Some(value.parse().map_err(|e| bad(&e))?),
            _ => return Err(format!("unknown option {flag}")),
        }
    }
    if !(factor > 0.0 && factor < 1000.0) {
        return Err(format!("--factor {factor}: must be above 0 and below 1000"));
    }
    // Long enough by default for every attack to be found and to run a while.
    let attack_end = traffic::ATTACK_START_S + traffic::ATTACK_S + 1.0;
    let seconds = seconds.unwrap_or(attack_end);
    if !(seconds > 0.0 && seconds <= 3600.0) {
        return Err(format!("--seconds {seconds}: must be in (0, 3600]"));
    }
    if threshold.is_some_and(|t| !(1..=10_000_000).contains(&t)) {
        return Err("--threshold: must be 1 to 10,000,000 packets/s".into());
    }
    let mut scenario = match name.as_str() {
        "benign" => Scenario::new(seed, seconds),
        "every-vector" => traffic::every_vector(seed, seconds, factor),
        "carpet" => traffic::carpet(seed, seconds, factor),
        "outbound" => traffic::outbound(seed, seconds, factor),
        "scans" => traffic::scans(seed, seconds),
        list => {
            let mut s = Scenario::new(seed, seconds);
            for (i, v) in list.split(',').enumerate() {
                let vector = Vector::parse(v).ok_or(format!("unknown scenario {v}"))?;
                let start = traffic::ATTACK_START_S + i as f64 * 0.013;
                if i >= 100 || start >= seconds {
                    return Err(format!(
                        "{list}: attack {} would start at {start:.3} s, past --seconds {seconds} (at most 100 attacks)",
                        i + 1
                    ));
                }
                let target = Target::Host(traffic::vector_target(i));
                s = s.attack(vector, target, start, seconds - start, factor);
            }
            s
        }
    };
    // Attacks are sized against the thresholds when the capture is built, below.
    if let Some(pps) = threshold {
        for (key, v) in &mut scenario.thresholds.vector_pps {
            if *key != "ack_flood" {
                *v = pps;
            }
        }
    }
    scenario.snaplen = snaplen;
    let path = PathBuf::from(&out);
    let written = scenario
        .write(&path)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let mut analyze = scenario.thresholds.args();
    if name == "scans" {
        analyze.extend(traffic::scan_args());
    }
    println!(
        "# {out}: {} packets, {} bytes",
        written.packets, written.bytes
    );
    println!("# rampart analyze {out} {}", analyze.join(" "));
    print!("{}", traffic::describe(&written.truths));
    for scan in &scenario.scans {
        println!("{}", describe_scan(scan));
    }
    Ok(())
}

/// A scan's line, shaped like an attack's: kind, direction, target, first probe time.
fn describe_scan(scan: &Scan) -> String {
    let (kind, target, source, start_s, probes) = match *scan {
        Scan::Vertical {
            source,
            target,
            ports,
            start_s,
            ..
        } => ("vertical_scan", target.to_string(), source, start_s, ports),
        Scan::Horizontal {
            source,
            net,
            start_s,
            ..
        } => ("horizontal_scan", format!("{net}/24"), source, start_s, 254),
    };
    format!("{kind} inbound {target} from {source}: first packet {start_s:.6} s, {probes} probes")
}
