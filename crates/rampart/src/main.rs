//! `rampart`: one binary for the daemon and the tools around it. Each subcommand lives in
//! its own module; this file only parses the command line and reports errors.

mod analyze;
mod decode;
mod input;
mod intel;
mod mitigate;
mod progress;
mod replay;
mod simulate;
mod token;

use clap::{Args, Parser, Subcommand, ValueEnum};
use rampart_config::{self as config, Config};
use rampart_model::{Cidr, Role};
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
        #[command(flatten)]
        settings: Settings,
    },
    /// Run the detectors over captures (raw packets or flow exports) in their own time and
    /// report the attacks found.
    Analyze {
        #[arg(required = true)]
        files: Vec<PathBuf>,
        #[command(flatten)]
        settings: Settings,
        #[arg(long, value_enum, default_value_t = analyze::AnalyzeFormat::Text)]
        format: analyze::AnalyzeFormat,
        /// The format of the text logs among FILE (syslog, openvpn, access, json, or an
        /// alias such as sshd or nginx); without it, told from each log's first lines.
        #[arg(long, value_name = "NAME", value_parser = parse_log_format)]
        log_format: Option<rampart_logs::Format>,
    },
    /// Check a configuration, show it with every default filled in, or print the defaults.
    Config {
        #[arg(value_enum)]
        action: ConfigAction,
        #[command(flatten)]
        settings: Settings,
    },
    /// Decode a capture (pcap/pcapng of raw packets or flow exports) or one flow datagram
    /// into flow records.
    Decode {
        file: PathBuf,
        #[arg(long, value_enum, default_value_t = DecodeFormat::Jsonl)]
        format: DecodeFormat,
    },
    /// Announce, withdraw, list, approve or reject mitigations through the running daemon.
    Mitigate {
        #[command(subcommand)]
        action: mitigate::MitigateAction,
        /// The daemon's API.
        #[arg(long, global = true, default_value = "http://127.0.0.1:8080")]
        api: String,
        /// An analyst's token (or set RAMPART_TOKEN).
        #[arg(long, global = true)]
        token: Option<String>,
    },
    /// Import, export or list threat intelligence (in the store the daemon uses).
    Intel {
        #[command(subcommand)]
        action: intel::IntelAction,
        #[command(flatten)]
        settings: Settings,
    },
    /// Make, list or revoke API tokens (in the store the daemon uses).
    Token {
        #[command(subcommand)]
        action: TokenAction,
        #[command(flatten)]
        settings: Settings,
    },
    /// Resend the flow-export datagrams of a capture to a collector, at the capture's own pace
    /// unless --rate is given.
    Replay {
        file: PathBuf,
        /// Collector address, e.g. 127.0.0.1:2055.
        #[arg(long)]
        to: SocketAddr,
        /// Datagrams per second instead of the capture's own pace.
        #[arg(long, conflicts_with = "rate_records")]
        rate: Option<f64>,
        /// Flow records per second instead of the capture's own pace (each datagram counts
        /// the records it carries).
        #[arg(long, value_name = "RPS")]
        rate_records: Option<f64>,
        /// Times to send the capture; 0 repeats until interrupted.
        #[arg(long = "loop", default_value_t = 1)]
        loops: u64,
        /// Keep the export timestamps of the capture instead of moving them to the present.
        #[arg(long)]
        keep_time: bool,
    },
    /// Send synthetic NetFlow of a small network's day to a collector, with attacks on
    /// request: `--scenario tour` shows every attack in turn.
    Simulate(simulate::SimulateArgs),
}

#[derive(Debug, Subcommand)]
enum TokenAction {
    /// Make a token; its secret is printed once, as the last word of the last line.
    Create {
        #[arg(long, value_parser = parse_role)]
        role: Role,
        /// A name for the audit log (default: the role and the time).
        #[arg(long)]
        name: Option<String>,
    },
    /// List live tokens (never their secrets).
    List,
    /// Revoke a token by id.
    Revoke { id: u64 },
}

fn parse_role(s: &str) -> Result<Role, String> {
    s.parse()
}

/// Where settings come from, for every command that reads the configuration.
#[derive(Clone, Debug, Args)]
struct Settings {
    /// TOML configuration file.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Override one key: a dotted path and a TOML value, e.g. detect.ddos.host_pps=50000.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    set: Vec<String>,
    /// Protected address space (repeatable); with none here or in the config, every
    /// destination counts as protected.
    #[arg(long, value_name = "CIDR")]
    protect: Vec<Cidr>,
}

impl Settings {
    fn load(&self) -> anyhow::Result<Config> {
        Config::load(&config::Sources {
            file: self.config.as_deref(),
            set: &self.set,
            protect: &self.protect,
        })
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum ConfigAction {
    /// Load and validate; exit 0 and say so, or exit 2 naming the problem.
    Check,
    /// Print the configuration in force, defaults included.
    Show,
    /// Print the built-in defaults.
    Default,
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
        Command::Serve { settings } => {
            let config = match settings.load() {
                Ok(c) => c,
                Err(e) => {
                    eprintln!("rampart: {e:#}");
                    return ExitCode::from(EXIT_USAGE);
                }
            };
            let again = settings.clone();
            let reload: rampart_server::ReloadFn = Box::new(move || again.load());
            return match rampart_server::serve(config, Some(reload)) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("rampart serve: {e:#}");
                    ExitCode::from(1)
                }
            };
        }
        Command::Mitigate { action, api, token } => {
            return match mitigate::run(action, &api, token) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) if e.is::<mitigate::Refused>() => {
                    eprintln!("rampart mitigate: {e}");
                    ExitCode::from(mitigate::EXIT_REFUSED)
                }
                Err(e) => {
                    eprintln!("rampart mitigate: {e:#}");
                    ExitCode::from(1)
                }
            };
        }
        Command::Intel { action, settings } => settings
            .load()
            .and_then(|config| intel::run(action, &config)),
        Command::Token { action, settings } => settings
            .load()
            .and_then(|config| token::run(action, &config)),
        Command::Analyze {
            files,
            settings,
            format,
            log_format,
        } => settings
            .load()
            .and_then(|config| analyze::run(&files, &config, format, log_format)),
        Command::Config { action, settings } => run_config(action, &settings),
        Command::Decode { file, format } => decode::run(&file, format),
        Command::Replay {
            file,
            to,
            rate,
            rate_records,
            loops,
            keep_time,
        } => {
            let pace = match (rate, rate_records) {
                (Some(r), _) => replay::Pace::Datagrams(r),
                (None, Some(r)) => replay::Pace::Records(r),
                (None, None) => replay::Pace::Capture,
            };
            replay::run(&file, to, pace, loops, !keep_time)
        }
        Command::Simulate(args) => simulate::run(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("rampart: {e:#}");
            ExitCode::from(EXIT_USAGE)
        }
    }
}

fn run_config(action: ConfigAction, settings: &Settings) -> anyhow::Result<()> {
    let text = match action {
        ConfigAction::Check => {
            settings.load()?;
            let from = settings
                .config
                .as_ref()
                .map_or("built-in defaults".to_string(), |p| p.display().to_string());
            println!("configuration OK ({from})");
            return Ok(());
        }
        ConfigAction::Show => settings.load()?.to_toml()?,
        ConfigAction::Default => config::DEFAULT_TOML.to_string(),
    };
    print!("{text}");
    Ok(())
}

fn parse_log_format(name: &str) -> Result<rampart_logs::Format, String> {
    rampart_logs::Format::from_name(name).ok_or_else(|| {
        format!("unknown log format `{name}` (syslog, openvpn, access, json, or an alias: sshd, nginx, apache, fortigate, ...)")
    })
}
