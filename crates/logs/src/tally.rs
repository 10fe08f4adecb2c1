//! Per-source counts of auth events, for tests and summaries: how many failed and
//! successful attempts each address made, and how many distinct users it tried.

use rampart_model::{AuthEvent, Outcome};
use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

/// What one source did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SourceTally {
    /// Failed attempts (sums of `attempts`).
    pub failures: u64,
    /// Of those, for users the service said do not exist.
    pub invalid_user_failures: u64,
    pub successes: u64,
    /// Events of the information outcomes (disconnects, handshake errors, too many).
    pub other: u64,
    pub users: BTreeSet<String>,
}

/// Sums events by source address; events without one are left out.
pub fn tally_by_source<'a>(
    events: impl IntoIterator<Item = &'a AuthEvent>,
) -> BTreeMap<IpAddr, SourceTally> {
    let mut by: BTreeMap<IpAddr, SourceTally> = BTreeMap::new();
    for e in events {
        let Some(src) = e.source else { continue };
        let t = by.entry(src).or_default();
        let n = u64::from(e.attempts);
        match e.outcome {
            Outcome::Failure => {
                t.failures += n;
                if e.invalid_user {
                    t.invalid_user_failures += n;
                }
            }
            Outcome::Success => t.successes += n,
            _ => t.other += n,
        }
        if let Some(u) = &e.user {
            t.users.insert(u.clone());
        }
    }
    by
}
