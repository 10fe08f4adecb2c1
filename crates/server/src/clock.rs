//! The wall clock, read in one place: live detection runs on it, offline analysis on the
//! capture's own timestamps.

use rampart_model::Timestamp;
use std::time::{SystemTime, UNIX_EPOCH};

pub fn now() -> Timestamp {
    let d = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    Timestamp::from_secs_nanos(d.as_secs(), d.subsec_nanos())
}
