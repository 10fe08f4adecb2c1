//! A BGP speaker for mitigation: it announces blackholes (RFC 7999), diversions and FlowSpec
//! rules (RFC 8955, RFC 8956) to routers, and keeps nobody's routes.
//!
//! The protocol is a deterministic, sans-I/O core in the style of quinn-proto: a
//! [`Session`] takes bytes and `now` and hands back bytes to send, timer deadlines and
//! [`Event`]s; it owns no socket and reads no clock, so tests drive it on a virtual clock.
//! [`Speaker`] is the thin tokio shell: one task per configured peer over TCP, the set of
//! active routes, re-announcement when a session comes back, per-peer counters.
//!
//! Encoding and decoding are our own and tested with wire-byte fixtures, by round trips in
//! a fuzz target, and against BIRD 2 and GoBGP on loopback.

pub mod community;
pub mod config;
pub mod family;
pub mod flowspec;
pub mod notification;
pub mod open;
pub mod route;
pub mod session;
pub mod speaker;
pub mod update;
pub mod wire;

pub use community::{AnyCommunity, Community, ExtendedCommunity, LargeCommunity};
pub use config::{BgpConfig, ConfigError, PeerConfig, ShutdownPolicy};
pub use family::Family;
pub use flowspec::{
    fragment, tcp_flags, BitmaskOp, Component, FlowAction, FlowPrefix, FlowSpecRule, IpVersion,
    NumericOp, Operand, RuleError,
};
pub use notification::Notification;
pub use route::{Attributes, FlowSpecRoute, Origin, Route, RouteError, RouteKey, UnicastRoute};
pub use session::{
    DownReason, Event, Negotiated, Sent, Session, SessionConfig, SessionStats, State,
};
pub use speaker::{
    PeerEvent, PeerOutcome, PeerResult, PeerState, PeerStatus, Report, Speaker, SpeakerError,
};
pub use wire::WireError;
