//! When a webhook delivery is tried again: which outcomes are worth a retry (connection
//! errors, timeouts, 5xx, 429), how long to wait (exponential backoff with jitter, or the
//! server's Retry-After), and when to give up. Pure: time and randomness are arguments.

use std::time::{Duration, SystemTime};

/// The longest Retry-After we believe; longer ones are cut to this.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(86_400);

/// How one attempt ended.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Outcome {
    Delivered,
    /// Worth another try, perhaps after the server's Retry-After.
    Retry {
        error: String,
        retry_after: Option<Duration>,
    },
    /// Trying again would get the same answer (4xx other than 429, 3xx).
    Reject {
        error: String,
    },
}

impl Outcome {
    /// From an HTTP status and its Retry-After header.
    pub(crate) fn of_status(status: u16, retry_after: Option<&str>, now: SystemTime) -> Outcome {
        match status {
            200..=299 => Outcome::Delivered,
            429 | 500..=599 => Outcome::Retry {
                error: format!("HTTP {status}"),
                retry_after: retry_after.and_then(|v| parse_retry_after(v, now)),
            },
            _ => Outcome::Reject {
                error: format!("HTTP {status}"),
            },
        }
    }
}

/// `Retry-After` as delay-seconds or an HTTP date; `None` when it is neither.
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let v = value.trim();
    if v.is_empty() || v.len() > 64 {
        return None;
    }
    let d = if v.bytes().all(|b| b.is_ascii_digit()) {
        Duration::from_secs(v.parse::<u64>().unwrap_or(u64::MAX))
    } else {
        let at = httpdate::parse_http_date(v).ok()?;
        at.duration_since(now).unwrap_or(Duration::ZERO)
    };
    Some(d.min(MAX_RETRY_AFTER))
}

/// The retry schedule of one endpoint.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Schedule {
    pub max_attempts: u32,
    pub max_age: Duration,
    pub backoff: Duration,
    pub backoff_max: Duration,
}

impl Schedule {
    /// After `attempts` failed attempts (1 for the first), with the notification queued
    /// `age` ago: how long to wait before the next, or `None` to give up. `jitter` in
    /// [0, 1) picks the wait between half and all of the backoff step, so that many
    /// daemons whose endpoint came back do not all retry at the same instant.
    pub(crate) fn next_wait(
        &self,
        attempts: u32,
        age: Duration,
        retry_after: Option<Duration>,
        jitter: f64,
    ) -> Option<Duration> {
        if attempts >= self.max_attempts {
            return None;
        }
        let wait = match retry_after {
            Some(ra) => ra,
            None => {
                let step = self
                    .backoff
                    .saturating_mul(1u32 << (attempts - 1).min(20))
                    .min(self.backoff_max);
                step.mul_f64(0.5 + 0.5 * jitter.clamp(0.0, 1.0))
            }
        };
        (age.saturating_add(wait) <= self.max_age).then_some(wait)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schedule() -> Schedule {
        Schedule {
            max_attempts: 5,
            max_age: Duration::from_secs(60),
            backoff: Duration::from_millis(500),
            backoff_max: Duration::from_secs(4),
        }
    }

    #[test]
    fn backoff_doubles_with_jitter_and_stops() {
        let s = schedule();
        let ms = |a, j| {
            s.next_wait(a, Duration::ZERO, None, j)
                .map(|d| d.as_millis())
        };
        assert_eq!(ms(1, 0.0), Some(250));
        assert_eq!(ms(1, 0.999_999), Some(499));
        assert_eq!(ms(2, 0.0), Some(500));
        assert_eq!(ms(3, 1.0), Some(2000));
        assert_eq!(ms(4, 1.0), Some(4000), "capped at backoff_max");
        assert_eq!(ms(5, 0.0), None, "max_attempts reached");
    }

    #[test]
    fn age_and_retry_after_bound_the_wait() {
        let s = schedule();
        assert_eq!(
            s.next_wait(1, Duration::from_secs(59), None, 0.0),
            Some(Duration::from_millis(250))
        );
        assert_eq!(s.next_wait(1, Duration::from_secs(60), None, 0.0), None);
        assert_eq!(
            s.next_wait(1, Duration::ZERO, Some(Duration::from_secs(7)), 0.5),
            Some(Duration::from_secs(7)),
            "Retry-After replaces the backoff"
        );
        assert_eq!(
            s.next_wait(
                1,
                Duration::from_secs(50),
                Some(Duration::from_secs(11)),
                0.5
            ),
            None,
            "a Retry-After past max_age gives up"
        );
    }

    #[test]
    fn statuses() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(Outcome::of_status(204, None, now), Outcome::Delivered);
        assert!(matches!(
            Outcome::of_status(503, None, now),
            Outcome::Retry {
                retry_after: None,
                ..
            }
        ));
        assert!(matches!(
            Outcome::of_status(429, Some("3"), now),
            Outcome::Retry { retry_after: Some(d), .. } if d == Duration::from_secs(3)
        ));
        for s in [301, 400, 401, 404, 408, 413] {
            assert!(
                matches!(Outcome::of_status(s, None, now), Outcome::Reject { .. }),
                "{s}"
            );
        }
    }

    #[test]
    fn retry_after_forms() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_445_412_480);
        assert_eq!(
            parse_retry_after(" 120 ", now),
            Some(Duration::from_secs(120))
        );
        // 1445412480 is Wed, 21 Oct 2015 07:28:00 GMT.
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:30 GMT", now),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:00:00 GMT", now),
            Some(Duration::ZERO),
            "a date in the past: now"
        );
        assert_eq!(
            parse_retry_after("99999999999999999999999", now),
            Some(MAX_RETRY_AFTER)
        );
        for junk in ["", "-1", "soon", "1.5", "Wed, 32 Oct 2015 07:28:00 GMT"] {
            assert_eq!(parse_retry_after(junk, now), None, "{junk}");
        }
    }
}
