//! The daemon's sections: where telemetry comes in (`[listen]`), the HTTP API and console
//! (`[api]`) and what is kept on disk (`[store]`).

use anyhow::{bail, Result};
use rampart_model::Cidr;
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::PathBuf;

/// `[listen]`: the UDP collectors. Every port takes NetFlow v5, v9, IPFIX and sFlow v5
/// alike: the format is recognised by each datagram's header.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct ListenConfig {
    /// Addresses to collect on. `[::]` takes IPv4 and IPv6 exporters (falling back to
    /// 0.0.0.0 on hosts without IPv6). Port 0 picks a free port, logged at start.
    pub flow: Vec<SocketAddr>,
    /// Sockets per address, bound with SO_REUSEPORT, each read by its own thread: the
    /// kernel spreads exporters over them, so one busy exporter does not starve the others.
    pub sockets_per_port: usize,
    /// Receive buffer asked of the kernel per socket (SO_RCVBUF). The kernel caps it at
    /// `net.core.rmem_max`; the size granted is logged and shown in `/api/v1/status`.
    pub recv_buffer_bytes: usize,
    /// Exporters whose datagrams are accepted; empty accepts any. Others are dropped and
    /// counted per address.
    pub exporters: Vec<Cidr>,
    /// Exporters tracked with their own counters; datagrams from more are still decoded and
    /// counted under "other".
    pub max_exporters: usize,
    /// Flow records waiting between the collectors and the detectors. When full, newer
    /// records are dropped and counted (`rampart_pipeline_dropped_records_total`).
    pub queue_records: usize,
    /// Interfaces to capture packets on (AF_PACKET rings; needs a binary built with the
    /// `capture` feature, and root or CAP_NET_RAW). Each packet becomes one `packet` record,
    /// as in `rampart analyze` of a pcap. Empty: no capture.
    pub interfaces: Vec<String>,
    /// Sockets (and threads) per interface, joined in one PACKET_FANOUT_HASH group: the
    /// kernel spreads flows over them.
    pub capture_threads: usize,
    /// Bytes per ring block (a power of two, at least 64 KiB). Whole frames are kept, so a
    /// block holds about this many bytes of traffic; the kernel hands blocks over when full
    /// or after 50 ms.
    pub capture_block_bytes: usize,
    /// Blocks per ring: a ring holds `capture_block_bytes` x `capture_blocks` bytes of
    /// traffic to absorb bursts, per socket. When it is full the kernel drops packets and
    /// counts them (`rampart_capture_kernel_drops_total`).
    pub capture_blocks: usize,
    /// Put capture interfaces in promiscuous mode (for a tap or a mirror port).
    pub capture_promiscuous: bool,
}

impl Default for ListenConfig {
    fn default() -> Self {
        let any = |port: u16| SocketAddr::from(([0u16; 8], port));
        ListenConfig {
            flow: vec![any(2055), any(4739), any(6343)],
            sockets_per_port: 2,
            recv_buffer_bytes: 32 << 20,
            exporters: Vec::new(),
            max_exporters: 4_096,
            queue_records: 1 << 18,
            interfaces: Vec::new(),
            capture_threads: 1,
            capture_block_bytes: 1 << 20,
            capture_blocks: 64,
            capture_promiscuous: true,
        }
    }
}

/// `[logs]`: access logs in, from syslog senders and from files.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogsConfig {
    /// Addresses to receive syslog on over UDP (RFC 3164 and 5424; a datagram is one
    /// message). Port 0 picks a free port, logged at start.
    pub syslog_udp: Vec<SocketAddr>,
    /// Addresses to receive syslog on over TCP (newline or octet-counted framing, RFC 6587).
    pub syslog_tcp: Vec<SocketAddr>,
    /// Files followed like `tail -F`: rotation by rename or truncation is noticed.
    pub files: Vec<LogFile>,
    /// Read followed files from their beginning at start (otherwise from their end).
    pub read_files_from_start: bool,
    /// Longer lines are counted and skipped.
    pub max_line_bytes: usize,
    /// TCP syslog connections at once; more are refused and counted.
    pub max_tcp_connections: usize,
    /// Offset from UTC, in seconds, of time stamps that carry no zone (RFC 3164, most
    /// files): 0 for hosts that log in UTC.
    pub utc_offset_s: i32,
}

/// One followed log file.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LogFile {
    pub path: PathBuf,
    /// `syslog`, `openvpn`, `access` or `json`; told from the first lines when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
}

impl Default for LogsConfig {
    fn default() -> Self {
        let any = SocketAddr::from(([0u16; 8], 5514));
        LogsConfig {
            syslog_udp: vec![any],
            syslog_tcp: vec![any],
            files: Vec::new(),
            read_files_from_start: false,
            max_line_bytes: 64 << 10,
            max_tcp_connections: 256,
            utc_offset_s: 0,
        }
    }
}

impl LogsConfig {
    pub fn validate(&self) -> Result<()> {
        if !(1024..=1 << 20).contains(&self.max_line_bytes) {
            bail!(
                "logs.max_line_bytes: {} (must be 1 KiB to 1 MiB)",
                self.max_line_bytes
            );
        }
        if !(1..=65_536).contains(&self.max_tcp_connections) {
            bail!(
                "logs.max_tcp_connections: {} (must be 1 to 65536)",
                self.max_tcp_connections
            );
        }
        if !(-14 * 3600..=14 * 3600).contains(&self.utc_offset_s) {
            bail!(
                "logs.utc_offset_s: {} (must be within ±14 h)",
                self.utc_offset_s
            );
        }
        for (i, f) in self.files.iter().enumerate() {
            if let Some(name) = &f.format {
                if rampart_logs::Format::from_name(name).is_none() {
                    bail!("logs.files[{i}].format: `{name}` (syslog, openvpn, access or json)");
                }
            }
        }
        Ok(())
    }
}

/// `[api]`: the HTTP API, the web console and the metrics.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct ApiConfig {
    /// Where the API and console listen. Loopback by default: put a TLS proxy in front to
    /// open it further.
    pub listen: SocketAddr,
    /// Serve `/metrics` without a token (for a Prometheus that cannot send one). false:
    /// it needs a viewer token like the API.
    pub open_metrics: bool,
    /// Largest request body accepted, in bytes.
    pub max_body_bytes: usize,
}

impl Default for ApiConfig {
    fn default() -> Self {
        ApiConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            open_metrics: false,
            max_body_bytes: 1 << 20,
        }
    }
}

/// `[store]`: the embedded database and how long things are kept.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct StoreConfig {
    /// Directory of the SQLite database (`rampart.db`), made if missing.
    pub path: PathBuf,
    /// Detections (attacks, scans) and their timelines are deleted this many days after
    /// they ended.
    pub retention_days: u32,
    /// Per-minute traffic rollups are deleted after this many days.
    pub traffic_retention_days: u32,
    /// Audit entries are deleted after this many days.
    pub audit_retention_days: u32,
    /// Busiest protected hosts kept per minute in the traffic rollups (all prefixes and
    /// the totals are kept).
    pub rollup_top_hosts: usize,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            path: PathBuf::from("rampart-data"),
            retention_days: 365,
            traffic_retention_days: 30,
            audit_retention_days: 730,
            rollup_top_hosts: 100,
        }
    }
}

impl ListenConfig {
    pub fn validate(&self) -> Result<()> {
        if !(1..=16).contains(&self.sockets_per_port) {
            bail!(
                "listen.sockets_per_port: {} (must be 1 to 16)",
                self.sockets_per_port
            );
        }
        if !(64 << 10..=1 << 30).contains(&self.recv_buffer_bytes) {
            bail!(
                "listen.recv_buffer_bytes: {} (must be 64 KiB to 1 GiB)",
                self.recv_buffer_bytes
            );
        }
        if !(1..=1 << 20).contains(&self.max_exporters) {
            bail!(
                "listen.max_exporters: {} (must be 1 to 1048576)",
                self.max_exporters
            );
        }
        if !(1024..=1 << 26).contains(&self.queue_records) {
            bail!(
                "listen.queue_records: {} (must be 1024 to 67108864)",
                self.queue_records
            );
        }
        for (i, name) in self.interfaces.iter().enumerate() {
            // Linux interface names: 1 to 15 bytes (IFNAMSIZ less the NUL), no '/' or space.
            if name.is_empty()
                || name.len() > 15
                || name.contains(|c: char| c == '/' || c.is_whitespace() || c.is_control())
            {
                bail!("listen.interfaces: {name:?} is not an interface name");
            }
            if self.interfaces[..i].contains(name) {
                bail!("listen.interfaces: {name:?} is listed twice");
            }
        }
        if !(1..=16).contains(&self.capture_threads) {
            bail!(
                "listen.capture_threads: {} (must be 1 to 16)",
                self.capture_threads
            );
        }
        if !self.capture_block_bytes.is_power_of_two()
            || !(64 << 10..=64 << 20).contains(&self.capture_block_bytes)
        {
            bail!(
                "listen.capture_block_bytes: {} (must be a power of two from 64 KiB to 64 MiB)",
                self.capture_block_bytes
            );
        }
        if !(2..=65_536).contains(&self.capture_blocks) {
            bail!(
                "listen.capture_blocks: {} (must be 2 to 65536)",
                self.capture_blocks
            );
        }
        let ring = self.capture_block_bytes as u64 * self.capture_blocks as u64;
        if ring > 4 << 30 {
            bail!(
                "listen.capture_blocks: {} blocks of {} bytes is a ring of {ring} bytes \
                 (at most 4 GiB per socket)",
                self.capture_blocks,
                self.capture_block_bytes
            );
        }
        Ok(())
    }
}

impl ApiConfig {
    pub fn validate(&self) -> Result<()> {
        if !(1024..=1 << 30).contains(&self.max_body_bytes) {
            bail!(
                "api.max_body_bytes: {} (must be 1 KiB to 1 GiB)",
                self.max_body_bytes
            );
        }
        Ok(())
    }
}

impl StoreConfig {
    pub fn validate(&self) -> Result<()> {
        if self.path.as_os_str().is_empty() {
            bail!("store.path: empty (a directory is needed)");
        }
        for (key, days) in [
            ("retention_days", self.retention_days),
            ("traffic_retention_days", self.traffic_retention_days),
            ("audit_retention_days", self.audit_retention_days),
        ] {
            if days == 0 {
                bail!("store.{key}: 0 (keep at least a day)");
            }
        }
        if !(1..=10_000).contains(&self.rollup_top_hosts) {
            bail!(
                "store.rollup_top_hosts: {} (must be 1 to 10000)",
                self.rollup_top_hosts
            );
        }
        Ok(())
    }
}
