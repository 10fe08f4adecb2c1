//! Log timestamps to [`Timestamp`]s: RFC 3339 and its relatives, BSD syslog's "Nov 30
//! 10:00:01" (no year, no zone: both come from a [`TimeContext`]), and civil dates.

use rampart_model::{civil_from_days, days_from_civil, Timestamp};

/// What a zone-less or year-less timestamp is read against. Offline, `reference` is the
/// file's modification time (its last line can be no later); live, it is the clock.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TimeContext {
    /// Seconds since the Unix epoch. Year-less stamps take the latest year that puts them
    /// no more than a day after this (so a December line read in January is last year's).
    pub reference_secs: i64,
    /// Offset of local time from UTC in seconds (east positive), for stamps without a zone.
    pub utc_offset_secs: i32,
}

/// Clock skew allowed between a logging host and the reference.
const FUTURE_SLACK_SECS: i64 = 86_400;

impl TimeContext {
    pub const fn new(reference: Timestamp, utc_offset_secs: i32) -> Self {
        TimeContext {
            reference_secs: reference.as_secs() as i64,
            utc_offset_secs,
        }
    }

    pub fn reference(&self) -> Timestamp {
        Timestamp::from_secs(self.reference_secs.max(0) as u64)
    }

    /// A local wall-clock time with a known year.
    pub fn local(&self, date: Civil, nanos: u32) -> Option<Timestamp> {
        let secs = date.unix_secs()? - i64::from(self.utc_offset_secs);
        Some(from_unix(secs, nanos))
    }

    /// A local time of a year-less stamp (month 1-12, day 1-31): the year is inferred from
    /// the reference, which also handles December lines in a file that ends in January.
    pub fn yearless(
        &self,
        month: u32,
        day: u32,
        hms: (u32, u32, u32),
        nanos: u32,
    ) -> Option<Timestamp> {
        let local_ref = self.reference_secs + i64::from(self.utc_offset_secs);
        let (ref_year, _, _) = civil_from_days(local_ref.div_euclid(86_400));
        // Down to four years back, for 29 February.
        for year in (ref_year - 4..=ref_year + 1).rev() {
            let date = Civil {
                year,
                month,
                day,
                hour: hms.0,
                minute: hms.1,
                second: hms.2,
            };
            let Some(local) = date.unix_secs() else {
                continue; // 29 February of a common year
            };
            if local <= local_ref + FUTURE_SLACK_SECS {
                return Some(from_unix(local - i64::from(self.utc_offset_secs), nanos));
            }
        }
        None
    }
}

/// A [`TimeContext`] that remembers the last year-less day it placed, so that the lines of
/// a file (mostly of one day) cost a comparison instead of a calendar computation.
#[derive(Clone, Copy, Debug, Default)]
pub struct Clock {
    pub ctx: TimeContext,
    /// (month, day, local midnight of the year chosen, local midnight a year later if
    /// that date exists): the year holds for a time of day while the first is within the
    /// limit and the second is not.
    memo: Option<(u32, u32, i64, Option<i64>)>,
}

impl Clock {
    pub fn new(ctx: TimeContext) -> Self {
        Clock { ctx, memo: None }
    }

    pub fn set_reference(&mut self, secs: i64) {
        self.ctx.reference_secs = secs;
        self.memo = None;
    }

    pub fn yearless(
        &mut self,
        month: u32,
        day: u32,
        hms: (u32, u32, u32),
        nanos: u32,
    ) -> Option<Timestamp> {
        if hms.0 > 23 || hms.1 > 59 || hms.2 > 60 {
            return None;
        }
        let sod = i64::from(hms.0 * 3600 + hms.1 * 60 + hms.2);
        let limit =
            self.ctx.reference_secs + i64::from(self.ctx.utc_offset_secs) + FUTURE_SLACK_SECS;
        let offset = i64::from(self.ctx.utc_offset_secs);
        if let Some((m, d, midnight, next)) = self.memo {
            if m == month
                && d == day
                && midnight + sod <= limit
                && next.is_none_or(|n| n + sod > limit)
            {
                return Some(from_unix(midnight + sod - offset, nanos));
            }
        }
        let t = self.ctx.yearless(month, day, hms, nanos)?;
        let local = t.as_secs() as i64 + offset;
        let midnight = local - sod;
        let (year, _, _) = civil_from_days(midnight.div_euclid(86_400));
        let next = Civil {
            year: year + 1,
            month,
            day,
            hour: 0,
            minute: 0,
            second: 0,
        }
        .unix_secs();
        self.memo = Some((month, day, midnight, next));
        Some(t)
    }
}

fn from_unix(secs: i64, nanos: u32) -> Timestamp {
    Timestamp::from_secs_nanos(secs.max(0) as u64, nanos)
}

/// A calendar date and time of day, as written in a log.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Civil {
    pub year: i64,
    pub month: u32,
    pub day: u32,
    pub hour: u32,
    pub minute: u32,
    pub second: u32,
}

impl Civil {
    /// Seconds since the epoch, reading the fields as UTC; `None` for impossible dates.
    pub fn unix_secs(&self) -> Option<i64> {
        if !(1..=12).contains(&self.month)
            || self.day == 0
            || self.day > days_in_month(self.year, self.month)
            || self.hour > 23
            || self.minute > 59
            || self.second > 60
            || !(1970..=9999).contains(&self.year)
        {
            return None;
        }
        let days = days_from_civil(self.year, self.month, self.day);
        Some(days * 86_400 + i64::from(self.hour * 3600 + self.minute * 60 + self.second))
    }
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// "Jan".."Dec" to 1..12 (case as syslog writes it, plus all-caps).
pub fn month_abbr(b: &[u8]) -> Option<u32> {
    let m = match b {
        b"Jan" | b"JAN" => 1,
        b"Feb" | b"FEB" => 2,
        b"Mar" | b"MAR" => 3,
        b"Apr" | b"APR" => 4,
        b"May" | b"MAY" => 5,
        b"Jun" | b"JUN" => 6,
        b"Jul" | b"JUL" => 7,
        b"Aug" | b"AUG" => 8,
        b"Sep" | b"SEP" => 9,
        b"Oct" | b"OCT" => 10,
        b"Nov" | b"NOV" => 11,
        b"Dec" | b"DEC" => 12,
        _ => return None,
    };
    Some(m)
}

/// Exactly `n` ASCII digits at the start of `b`.
#[inline]
pub fn digits(b: &[u8], n: usize) -> Option<u32> {
    let d = b.get(..n)?;
    let mut v = 0u32;
    for &c in d {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v * 10 + u32::from(c - b'0');
    }
    Some(v)
}

/// "hh:mm:ss" at the start of `b`.
#[inline]
pub fn hms(b: &[u8]) -> Option<(u32, u32, u32)> {
    if b.len() < 8 || b[2] != b':' || b[5] != b':' {
        return None;
    }
    Some((digits(b, 2)?, digits(&b[3..], 2)?, digits(&b[6..], 2)?))
}

/// An optional ".fff…" fraction at the start of `b`: nanoseconds and bytes used.
#[inline]
pub fn fraction(b: &[u8]) -> (u32, usize) {
    if b.first() != Some(&b'.') && b.first() != Some(&b',') {
        return (0, 0);
    }
    let mut nanos = 0u32;
    let mut scale = 100_000_000u32;
    let mut i = 1;
    while i < b.len() && b[i].is_ascii_digit() {
        nanos += u32::from(b[i] - b'0') * scale;
        scale /= 10;
        i += 1;
    }
    if i == 1 {
        return (0, 0);
    }
    (nanos, i)
}

/// A zone designator at the start of `b`: "Z", "+hh:mm", "+hhmm" or "+hh". Returns the
/// offset in seconds (east positive) and bytes used.
#[inline]
pub fn zone(b: &[u8]) -> Option<(i32, usize)> {
    match b.first()? {
        b'Z' | b'z' => Some((0, 1)),
        s @ (b'+' | b'-') => {
            let sign = if *s == b'-' { -1 } else { 1 };
            let h = digits(&b[1..], 2)? as i32;
            let (m, used) = if b.get(3) == Some(&b':') {
                (digits(&b[4..], 2)? as i32, 6)
            } else if let Some(m) = digits(&b[3..], 2) {
                (m as i32, 5)
            } else {
                (0, 3)
            };
            if h > 23 || m > 59 {
                return None;
            }
            Some((sign * (h * 3600 + m * 60), used))
        }
        _ => None,
    }
}

/// "YYYY-MM-DD" then 'T' or ' ' then "hh:mm:ss", an optional fraction and an optional
/// zone (the caller's offset when absent). Returns the time and bytes used.
pub fn iso8601(b: &[u8], ctx: &TimeContext) -> Option<(Timestamp, usize)> {
    if b.len() < 19 || b[4] != b'-' || b[7] != b'-' || !(b[10] == b'T' || b[10] == b' ') {
        return None;
    }
    let (hour, minute, second) = hms(&b[11..])?;
    let date = Civil {
        year: i64::from(digits(b, 4)?),
        month: digits(&b[5..], 2)?,
        day: digits(&b[8..], 2)?,
        hour,
        minute,
        second,
    };
    let (nanos, f) = fraction(&b[19..]);
    let mut used = 19 + f;
    let secs = date.unix_secs()?;
    let offset = match zone(&b[used..]) {
        Some((off, z)) => {
            used += z;
            off
        }
        None => ctx.utc_offset_secs,
    };
    Some((from_unix(secs - i64::from(offset), nanos), used))
}

/// Epoch seconds, milliseconds, microseconds or nanoseconds, told apart by their number of
/// digits (FortiGate's `eventtime` is any of these depending on the release).
pub fn epoch_any(s: &str) -> Option<Timestamp> {
    if s.is_empty() || s.len() > 19 || !s.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let v: u64 = s.parse().ok()?;
    Some(match s.len() {
        0..=10 => Timestamp::from_secs(v),
        11..=13 => Timestamp::from_millis(v),
        14..=16 => Timestamp::from_micros(v),
        _ => Timestamp::from_nanos(v),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(reference: &str) -> TimeContext {
        let (t, _) = iso8601(reference.as_bytes(), &TimeContext::default()).unwrap();
        TimeContext::new(t, 0)
    }

    #[test]
    fn iso_forms() {
        let c = TimeContext::default();
        let t = |s: &str| iso8601(s.as_bytes(), &c).map(|(t, n)| (t.to_string(), n));
        assert_eq!(
            t("2024-02-18T02:29:57+08:00 x"),
            Some(("2024-02-17T18:29:57.000Z".into(), 25))
        );
        assert_eq!(
            t("2026-11-30T10:00:01+0000 host"),
            Some(("2026-11-30T10:00:01.000Z".into(), 24))
        );
        assert_eq!(
            t("2026-11-30T10:00:01.123456Z"),
            Some(("2026-11-30T10:00:01.123Z".into(), 27))
        );
        assert_eq!(
            t("2024-12-15 14:12:12 x"),
            Some(("2024-12-15T14:12:12.000Z".into(), 19))
        );
        assert_eq!(t("2024-02-30T00:00:00Z"), None);
        assert_eq!(t("2024-12-15"), None);
    }

    #[test]
    fn yearless_takes_the_year_of_the_reference() {
        let c = ctx("2026-06-01T00:00:00Z");
        let t = c.yearless(2, 12, (14, 10, 21), 0).unwrap();
        assert_eq!(t.to_string(), "2026-02-12T14:10:21.000Z");
        // A day of slack for clocks ahead of the reference.
        let t = c.yearless(6, 1, (23, 0, 0), 0).unwrap();
        assert_eq!(t.to_string(), "2026-06-01T23:00:00.000Z");
        // Later than that is last year's.
        let t = c.yearless(6, 3, (0, 0, 0), 0).unwrap();
        assert_eq!(t.to_string(), "2025-06-03T00:00:00.000Z");
    }

    #[test]
    fn december_lines_read_in_january_are_last_years() {
        let c = ctx("2027-01-02T08:00:00Z");
        assert_eq!(
            c.yearless(12, 31, (23, 59, 59), 0).unwrap().to_string(),
            "2026-12-31T23:59:59.000Z"
        );
        assert_eq!(
            c.yearless(1, 1, (0, 0, 1), 0).unwrap().to_string(),
            "2027-01-01T00:00:01.000Z"
        );
        // Live, a sender a few seconds ahead across New Year.
        let c = ctx("2026-12-31T23:59:59Z");
        assert_eq!(
            c.yearless(1, 1, (0, 0, 5), 0).unwrap().to_string(),
            "2027-01-01T00:00:05.000Z"
        );
    }

    #[test]
    fn leap_day_finds_a_leap_year() {
        let c = ctx("2026-03-01T00:00:00Z");
        assert_eq!(
            c.yearless(2, 29, (0, 0, 0), 0).unwrap().to_string(),
            "2024-02-29T00:00:00.000Z"
        );
        assert_eq!(c.yearless(2, 30, (0, 0, 0), 0), None);
    }

    #[test]
    fn local_offset_applies() {
        let c = TimeContext {
            reference_secs: 1_800_000_000,
            utc_offset_secs: 3600,
        };
        assert_eq!(
            c.yearless(3, 1, (10, 0, 0), 0).unwrap().to_string(),
            "2026-03-01T09:00:00.000Z"
        );
    }

    #[test]
    fn clock_memo_agrees_with_the_context() {
        let c = ctx("2027-01-01T00:00:30Z");
        let mut clock = Clock::new(c);
        // The same date either side of the reference's limit, in both orders.
        for (m, d) in [(1, 2), (1, 1), (12, 31), (1, 2), (2, 29)] {
            for hms in [(0, 0, 0), (23, 59, 59), (0, 0, 31), (0, 0, 29), (12, 0, 0)] {
                assert_eq!(
                    clock.yearless(m, d, hms, 5),
                    c.yearless(m, d, hms, 5),
                    "{m}/{d} {hms:?}"
                );
            }
        }
    }

    #[test]
    fn epoch_widths() {
        assert_eq!(
            epoch_any("1728938800841267391").unwrap().to_string(),
            "2024-10-14T20:46:40.841Z"
        );
        assert_eq!(
            epoch_any("1728938800").unwrap().to_string(),
            "2024-10-14T20:46:40.000Z"
        );
        assert_eq!(epoch_any("17289388008412673910"), None);
        assert_eq!(epoch_any("-1"), None);
    }
}
