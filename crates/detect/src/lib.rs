//! Detectors as deterministic state machines: records and events in through `observe`, time
//! in through `tick(now)`, detections out through `poll_event`: DDoS and scans from flow
//! records, login abuse from auth events, exfiltration from flows, HTTP floods from requests. No sockets, clocks or threads, so offline
//! analysis and the daemon give the same detections for the same input.

mod auth;
mod auth_config;
mod baseline;
mod bounded;
mod class;
mod config;
mod ddos;
mod exfil;
mod http_flood;
mod limits;
mod login;
mod protect;
mod scan;
mod scan_config;
mod sketch;
mod table;

pub use auth::{AuthDetector, AuthStats};
pub use auth_config::{AccessConfigError, AuthConfig};
pub use bounded::DetectionEvent;
pub use config::{
    BaselineConfig, ConfigError, DdosConfig, GroupThresholds, HostGroup, VectorThresholds,
};
pub use ddos::{AttackEvent, DdosDetector, DdosStats, LearnedBaseline, Phase};
pub use exfil::{ExfilConfig, ExfilDetector, ExfilStats};
pub use http_flood::{HttpFloodConfig, HttpFloodDetector, HttpFloodStats};
pub use rampart_model::{DdosDetection, DdosVector, Direction};
pub use rampart_model::{ScanDetection, ScanProtocol, ScanType};
pub use scan::{ScanDetector, ScanEvent, ScanStats};
pub use scan_config::{ScanConfig, ScanConfigError, MAX_SCAN_THRESHOLD};

/// Bytes of counting state per tracked protected address (IPv4, IPv6) at the size limit:
/// the entry and its share of the table's index (97 and 109). On the way to the limit the
/// index is up to a quarter emptier, which costs at most 1.25 bytes more.
pub const HOST_ENTRY_BYTES: (usize, usize) = (
    table::bytes_per_address::<u32>(),
    table::bytes_per_address::<[u32; 4]>(),
);

/// The vector class a record's packets count in, as the DDoS detector counts them: one
/// class per record by protocol, TCP flag pattern and UDP reflection port (fragments are
/// counted apart by the detector and are not this class).
#[inline]
pub fn vector_of(r: &rampart_model::FlowRecord) -> DdosVector {
    class::vector(class::classify(r))
}
