//! How a storm of events becomes a few mails: each notification gets a mail of its own
//! while fewer than `max_per_minute` went out in the last minute; past that, the sink
//! holds notifications and sends them as one digest a minute, until a minute passes with
//! nothing to hold. Pure: time is an argument.

use crate::notification::{EventKind, Notification, Severity};
use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

const MINUTE: Duration = Duration::from_secs(60);
/// Notifications a digest lists one by one; the others are only counted.
pub const DIGEST_LIST_MAX: usize = 100;

/// What to send.
#[derive(Clone, Debug, PartialEq)]
pub enum Mail {
    Single(Arc<Notification>),
    Digest(Digest),
}

impl Mail {
    /// The notifications it carries in full (for dead letters when it cannot be sent).
    pub fn notifications(&self) -> Vec<Arc<Notification>> {
        match self {
            Mail::Single(n) => vec![n.clone()],
            Mail::Digest(d) => d.listed.clone(),
        }
    }

    /// How many notifications it stands for, listed or counted.
    pub fn count(&self) -> usize {
        match self {
            Mail::Single(_) => 1,
            Mail::Digest(d) => d.total,
        }
    }
}

/// Notifications held back during a storm.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Digest {
    /// The first [`DIGEST_LIST_MAX`], oldest first.
    pub listed: Vec<Arc<Notification>>,
    /// Every notification held, listed or not.
    pub total: usize,
    pub by_event: BTreeMap<EventKind, usize>,
    pub highest: Severity,
}

impl Digest {
    fn add(&mut self, n: Arc<Notification>) {
        self.total += 1;
        *self.by_event.entry(n.event).or_default() += 1;
        self.highest = self.highest.max(n.severity);
        if self.listed.len() < DIGEST_LIST_MAX {
            self.listed.push(n);
        }
    }
}

#[derive(Debug)]
pub struct MailLimiter {
    per_minute: usize,
    /// When the mails of the last minute went out.
    sent: VecDeque<Instant>,
    held: Digest,
    /// Set while in a storm: when the next digest goes.
    digest_due: Option<Instant>,
}

impl MailLimiter {
    pub fn new(per_minute: u32) -> MailLimiter {
        MailLimiter {
            per_minute: (per_minute as usize).max(1),
            sent: VecDeque::new(),
            held: Digest::default(),
            digest_due: None,
        }
    }

    /// A notification arrives: a mail to send now, or `None` when it is held.
    pub fn offer(&mut self, now: Instant, n: Arc<Notification>) -> Option<Mail> {
        self.expire(now);
        if self.digest_due.is_none() && self.sent.len() < self.per_minute {
            self.sent.push_back(now);
            return Some(Mail::Single(n));
        }
        self.held.add(n);
        self.digest_due.get_or_insert(now + MINUTE);
        None
    }

    /// The digest, when it is due.
    pub fn poll(&mut self, now: Instant) -> Option<Mail> {
        let due = self.digest_due?;
        if now < due {
            return None;
        }
        if self.held.total == 0 {
            // A quiet minute: the storm is over, mails go one by one again.
            self.digest_due = None;
            return None;
        }
        self.expire(now);
        self.sent.push_back(now);
        self.digest_due = Some(now + MINUTE);
        Some(Mail::Digest(std::mem::take(&mut self.held)))
    }

    /// When [`MailLimiter::poll`] has something to do.
    pub fn next_wake(&self) -> Option<Instant> {
        self.digest_due
    }

    /// At shutdown: whatever is held, at once.
    pub fn flush(&mut self) -> Option<Mail> {
        self.digest_due = None;
        (self.held.total > 0).then(|| Mail::Digest(std::mem::take(&mut self.held)))
    }

    fn expire(&mut self, now: Instant) {
        while self
            .sent
            .front()
            .is_some_and(|t| now.duration_since(*t) >= MINUTE)
        {
            self.sent.pop_front();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rampart_model::Timestamp;

    fn n(e: EventKind) -> Arc<Notification> {
        Arc::new(Notification::new(
            e,
            Timestamp::EPOCH,
            "d",
            None,
            None,
            None,
        ))
    }

    #[test]
    fn a_storm_gives_the_limit_then_one_digest_a_minute() {
        let t0 = Instant::now();
        let s = |secs: u64| t0 + Duration::from_secs(secs);
        let mut l = MailLimiter::new(3);
        let mut mails = Vec::new();
        // 500 events over 150 s.
        for i in 0..500u64 {
            let now = t0 + Duration::from_millis(i * 300);
            if let Some(m) = l.poll(now) {
                mails.push((now, m));
            }
            if let Some(m) = l.offer(now, n(EventKind::AttackUpdated)) {
                mails.push((now, m));
            }
        }
        // Then quiet: one more digest with the tail, then nothing held.
        for secs in 150..400 {
            if let Some(m) = l.poll(s(secs)) {
                mails.push((s(secs), m));
            }
        }
        let singles = mails
            .iter()
            .filter(|(_, m)| matches!(m, Mail::Single(_)))
            .count();
        let digests: Vec<&Digest> = mails
            .iter()
            .filter_map(|(_, m)| match m {
                Mail::Digest(d) => Some(d),
                _ => None,
            })
            .collect();
        assert_eq!(singles, 3);
        assert_eq!(digests.len(), 3, "at 60.9 s, 120.9 s and 181 s");
        let total: usize = mails.iter().map(|(_, m)| m.count()).sum();
        assert_eq!(total, 500, "nothing lost");
        assert_eq!(digests[0].total, 200);
        assert_eq!(digests[0].listed.len(), DIGEST_LIST_MAX);
        assert_eq!(digests[0].by_event[&EventKind::AttackUpdated], 200);
        // Never more than 3 mails in any minute.
        for (i, (t, _)) in mails.iter().enumerate() {
            let in_minute = mails[i..]
                .iter()
                .filter(|(u, _)| u.duration_since(*t) < MINUTE)
                .count();
            assert!(in_minute <= 3);
        }
        // The storm is over: mails go one by one again.
        assert!(l.next_wake().is_none());
        assert!(matches!(
            l.offer(s(400), n(EventKind::AttackEnded)),
            Some(Mail::Single(_))
        ));
    }

    #[test]
    fn flush_sends_what_is_held() {
        let t0 = Instant::now();
        let mut l = MailLimiter::new(1);
        assert!(l.offer(t0, n(EventKind::AttackStarted)).is_some());
        assert!(l.offer(t0, n(EventKind::MitigationFailed)).is_none());
        assert!(l.offer(t0, n(EventKind::AttackEnded)).is_none());
        assert_eq!(l.next_wake(), Some(t0 + MINUTE));
        let Some(Mail::Digest(d)) = l.flush() else {
            panic!("a digest")
        };
        assert_eq!((d.total, d.highest), (2, Severity::Critical));
        assert!(l.flush().is_none());
    }
}
