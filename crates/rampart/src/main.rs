//! `rampart`: one binary for the daemon and the tools around it. Each subcommand lives in
//! its own module; this file only parses the command line and reports errors.

mod decode;
mod input;
mod replay;

use clap::{Parser, Subcommand, ValueEnum};
use std::io::IsTerminal;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, Parser)]
#[command(
    name = "rampart",
    version,
    about = "Network defence: see floods and intrusions, act, share."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the daemon: listen to exporters, detect, respond, serve the console.
    Serve {
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Decode a capture (pcap/pcapng of raw packets or flow exports) or one flow datagram
    /// into flow records.
    Decode {
        file: PathBuf,
        #[arg(long, value_enum, default_value_t = DecodeFormat::Jsonl)]
        format: DecodeFormat,
    },
    /// Resend the flow-export datagrams of a capture to a collector, at the capture's own pace
    /// unless --rate is given.
    Replay {
        file: PathBuf,
        /// Collector address, e.g. 127.0.0.1:2055.
        #[arg(long)]
        to: SocketAddr,
        /// Datagrams per second instead of the capture's own pace.
        #[arg(long)]
        rate: Option<f64>,
        /// Times to send the capture; 0 repeats until interrupted.
        #[arg(long = "loop", default_value_t = 1)]
        loops: u64,
        /// Keep the export timestamps of the capture instead of moving them to the present.
        #[arg(long)]
        keep_time: bool,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum DecodeFormat {
    /// One JSON flow record per line.
    Jsonl,
    /// One line a person reads.
    Text,
}

/// Exit status for bad usage or unreadable input, as INTERFACES.md promises.
const EXIT_USAGE: u8 = 2;

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve { config: _ } => {
            eprintln!(
                "rampart serve: not yet. The daemon (listeners, detection, API and console) is \
                 being built; today `rampart decode` and `rampart replay` work."
            );
            return ExitCode::from(1);
        }
        Command::Decode { file, format } => decode::run(&file, format),
        Command::Replay {
            file,
            to,
            rate,
            loops,
            keep_time,
        } => replay::run(&file, to, rate, loops, !keep_time),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("rampart: {e:#}");
            ExitCode::from(EXIT_USAGE)
        }
    }
}
