//! What every parser family writes into: the queue of events waiting for `poll_event`, the
//! counters, and the line context (time, host, pid, repeat count) events are made from.

use crate::stats::ParseStats;
use crate::text::{bounded, MAX_HOST};
use crate::LogEvent;
use rampart_model::{AuthEvent, Outcome, Service, Timestamp};
use std::collections::VecDeque;

/// Where a line came from, as its header says.
#[derive(Clone, Copy, Debug)]
pub struct Ctx<'a> {
    pub time: Timestamp,
    pub host: Option<&'a str>,
    pub pid: Option<u32>,
    /// How many lines this one stands for: 1, or N for the message inside rsyslog's
    /// "message repeated N times: [ ... ]" (the N repeats after the line itself).
    pub repeat: u32,
}

/// What a parser made of one line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// Events were queued.
    Emitted,
    /// Nothing to report now, but the line changed per-connection state (it is one more
    /// line of an attempt, or names the peer of a later one).
    Absorbed,
    /// Nothing to report.
    Ignored,
    /// A line of this family that could not be read.
    Malformed,
    /// No parser knows the program.
    OtherProgram,
    /// The line has no header of its format.
    BadHeader,
}

#[derive(Debug, Default)]
pub struct Out {
    pub events: VecDeque<LogEvent>,
    pub stats: ParseStats,
}

impl Out {
    /// A bounded copy, counting a cut.
    pub fn text(&mut self, s: &str, max: usize) -> String {
        let (t, cut) = bounded(s, max);
        if cut {
            self.stats.truncated_fields += 1;
        }
        t
    }

    /// A user name, or `None` for the placeholders devices write when there is none.
    pub fn user(&mut self, s: &str) -> Option<String> {
        let s = s.trim();
        if s.is_empty() || s == "N/A" || s == "-" || s == "(null)" || s.bytes().all(|c| c == b'*') {
            return None;
        }
        Some(self.trimmed(s, crate::text::MAX_USER))
    }

    pub fn reason(&mut self, s: &str) -> Option<String> {
        let s = s.trim();
        (!s.is_empty()).then(|| self.trimmed(s, crate::text::MAX_REASON))
    }

    /// A bounded copy without white space at its ends, even where the cut made some.
    fn trimmed(&mut self, s: &str, max: usize) -> String {
        let t = self.text(s, max);
        if t.ends_with(char::is_whitespace) {
            t.trim_end().to_string()
        } else {
            t
        }
    }

    /// An event of the line's time, host and repeat count.
    pub fn auth(&mut self, ctx: &Ctx, service: Service, outcome: Outcome) -> AuthEvent {
        let mut e = AuthEvent::new(ctx.time, service, outcome);
        e.host = ctx.host.map(|h| self.text(h, MAX_HOST));
        e.attempts = ctx.repeat.max(1);
        e
    }

    pub fn push(&mut self, e: LogEvent) {
        match &e {
            LogEvent::Auth(_) => self.stats.auth_events += 1,
            LogEvent::Http(_) => self.stats.http_events += 1,
            LogEvent::Flow(_) => self.stats.flow_records += 1,
        }
        self.events.push_back(e);
    }

    pub fn push_auth(&mut self, e: AuthEvent) -> Status {
        self.push(LogEvent::Auth(e));
        Status::Emitted
    }
}
