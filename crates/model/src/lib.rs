//! Plain data shared by every Rampart stage. No I/O and no logic beyond constructors
//! and formatting, so that decoders, detectors and the store agree on one shape.

mod access;
mod detection;
mod event;
mod flow;
mod mitigation;
mod net;
mod time;

pub use access::Role;
pub use detection::{
    AuthDetection, DdosDetection, DdosVector, DestinationBytes, Detection, Direction,
    ExfilDetection, ExfilReason, GeoInfo, HttpFloodDetection, IocMatchDetection, IocWhere,
    LoginAnomaly, PreviousLogin, Range, ScanDetection, ScanProtocol, ScanType, SourceAttempts,
    TopAddr, TopPort,
};
pub use event::{AuthEvent, AuthMethod, HttpEvent, Outcome, Service};
pub use flow::{FlowFormat, FlowRecord};
pub use mitigation::{ActionKind, FlowAction, FlowRule, Mitigation, MitigationState, TcpFlags};
pub use net::{mask, Cidr, CidrError};
pub use time::{civil_from_days, days_from_civil, Timestamp};
