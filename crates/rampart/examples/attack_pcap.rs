//! Writes one attack scenario of the end-to-end tests as a pcap, for benchmarks and for
//! trying `rampart analyze` by hand:
//!
//! ```sh
//! cargo run --release -p rampart --example attack_pcap -- SCENARIO OUT.pcap [--factor F] [--seconds S] [--seed N] [--snaplen N]
//! ```
//!
//! SCENARIO is `benign` (background only), `every-vector` (every vector at once, each on its
//! own target), `carpet`, `outbound`, `scans`, or a vector name (`syn_flood`,
//! `dns_amplification`, ...: that attack on 203.0.113.100 over the background). `--factor` is
//! the attack rate as a multiple of its threshold (default 2). The thresholds the scenario
//! is built against, as `rampart analyze` arguments, and each attack's first packet time
//! (for latency) are printed on standard output.

use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::process::ExitCode;

#[path = "../tests/support/traffic.rs"]
mod traffic;

use traffic::{Scenario, Target, Vector};

const USAGE: &str =
    "usage: attack_pcap SCENARIO OUT.pcap [--factor F] [--seconds S] [--seed N] [--snaplen N]
SCENARIO: benign | every-vector | carpet | outbound | scans | VECTOR (e.g. syn_flood)";

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
    while let Some(flag) = args.next() {
        let value = args.next().ok_or(format!("{flag} needs a value"))?;
        let bad = |e: &dyn std::fmt::Display| format!("{flag} {value}: {e}");
        match flag.as_str() {
            "--factor" => factor = value.parse().map_err(|e| bad(&e))?,
            "--seconds" => seconds = Some(value.parse().map_err(|e| bad(&e))?),
            "--seed" => seed = value.parse().map_err(|e| bad(&e))?,
            "--snaplen" => snaplen = value.parse().map_err(|e| bad(&e))?,
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
    let mut scenario = match name.as_str() {
        "benign" => Scenario::new(seed, seconds),
        "every-vector" => traffic::every_vector(seed, seconds, factor),
        "carpet" => traffic::carpet(seed, seconds, factor),
        "outbound" => traffic::outbound(seed, seconds, factor),
        "scans" => traffic::scans(seed, seconds),
        v => {
            let vector = Vector::parse(v).ok_or(format!("unknown scenario {v}"))?;
            let target = Target::Host(IpAddr::V4(Ipv4Addr::new(203, 0, 113, 100)));
            Scenario::new(seed, seconds).attack(
                vector,
                target,
                traffic::ATTACK_START_S,
                seconds - traffic::ATTACK_START_S,
                factor,
            )
        }
    };
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
    Ok(())
}
