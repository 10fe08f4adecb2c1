//! Plain data shared by every Rampart stage. No I/O and no logic beyond constructors
//! and formatting, so that decoders, detectors and the store agree on one shape.

mod flow;
mod time;

pub use flow::{FlowFormat, FlowRecord};
pub use time::Timestamp;
