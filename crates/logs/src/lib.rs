//! Access-log parsers, sans-I/O: bytes of sshd, VPN (OpenVPN, strongSwan, WireGuard,
//! FortiGate SSL-VPN, GlobalProtect, Cisco ASA/AnyConnect), web-server and netfilter logs in,
//! [`AuthEvent`]s, [`HttpEvent`]s and packet [`FlowRecord`]s out.
//!
//! [`LogReader`] takes chunks of a file or a syslog stream (`push`, `poll_event`, `finish`);
//! [`LineParser`] takes one line at a time. Both count attempts, not lines: the several
//! lines one failed login writes make one event. Lines are bounded, state is bounded, and
//! everything skipped is counted in [`ParseStats`]. Time comes from the lines, and for
//! year-less or zone-less stamps from the caller's [`TimeContext`]; no clock is read here.

mod access;
mod asa;
mod format;
mod fortigate;
mod framing;
mod json;
mod netfilter;
mod openvpn;
mod out;
mod paloalto;
mod parser;
mod reader;
mod sshd;
mod state;
mod stats;
mod strongswan;
mod syslog;
mod tally;
mod text;
mod time;
mod wireguard;

pub use format::{detect_format, Format};
pub use framing::{FrameStats, Framer, Framing, DEFAULT_MAX_LINE};
pub use parser::LineParser;
pub use rampart_model::{
    AuthEvent, AuthMethod, FlowRecord, HttpEvent, Outcome, Service, Timestamp,
};
pub use reader::LogReader;
pub use stats::ParseStats;
pub use tally::{tally_by_source, SourceTally};
pub use time::TimeContext;

use serde::Serialize;

/// What a log line can give. The JSON form carries the kind as `"type"` beside the
/// event's own fields: `{"type":"auth",...}`, `{"type":"http",...}`, `{"type":"flow",...}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum LogEvent {
    Auth(AuthEvent),
    Http(HttpEvent),
    /// One packet from a netfilter LOG line (format `packet`).
    Flow(FlowRecord),
}

impl LogEvent {
    pub fn as_auth(&self) -> Option<&AuthEvent> {
        match self {
            LogEvent::Auth(e) => Some(e),
            _ => None,
        }
    }

    pub fn as_http(&self) -> Option<&HttpEvent> {
        match self {
            LogEvent::Http(e) => Some(e),
            _ => None,
        }
    }

    pub fn as_flow(&self) -> Option<&FlowRecord> {
        match self {
            LogEvent::Flow(r) => Some(r),
            _ => None,
        }
    }

    pub fn time(&self) -> Timestamp {
        match self {
            LogEvent::Auth(e) => e.time,
            LogEvent::Http(e) => e.time,
            LogEvent::Flow(r) => r.start,
        }
    }
}
