//! Event time as Unix nanoseconds. Offline runs take it from captures, live runs from the
//! clock; either way it is a plain value passed in, never read from the OS here.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// Nanoseconds since the Unix epoch (UTC). Times before 1970 are clamped to the epoch:
/// no exporter we decode can describe them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(u64);

impl Timestamp {
    pub const EPOCH: Timestamp = Timestamp(0);

    pub const fn from_nanos(nanos: u64) -> Self {
        Timestamp(nanos)
    }
    pub const fn from_micros(micros: u64) -> Self {
        Timestamp(micros.saturating_mul(1_000))
    }
    pub const fn from_millis(millis: u64) -> Self {
        Timestamp(millis.saturating_mul(1_000_000))
    }
    pub const fn from_secs(secs: u64) -> Self {
        Timestamp(secs.saturating_mul(1_000_000_000))
    }
    /// Seconds plus a nanosecond part, as pcap and NetFlow v5 headers carry them.
    pub const fn from_secs_nanos(secs: u64, nanos: u32) -> Self {
        Timestamp(
            secs.saturating_mul(1_000_000_000)
                .saturating_add(nanos as u64),
        )
    }
    /// NTP-format seconds since 1900 plus a 2^-32 fraction (IPFIX dateTimeNanoseconds).
    pub const fn from_ntp(secs_1900: u32, fraction: u32) -> Self {
        const NTP_TO_UNIX: u64 = 2_208_988_800;
        let secs = (secs_1900 as u64).saturating_sub(NTP_TO_UNIX);
        let nanos = ((fraction as u64) * 1_000_000_000) >> 32;
        Timestamp::from_secs_nanos(secs, nanos as u32)
    }

    pub const fn as_nanos(self) -> u64 {
        self.0
    }
    pub const fn as_millis(self) -> u64 {
        self.0 / 1_000_000
    }
    pub const fn as_secs(self) -> u64 {
        self.0 / 1_000_000_000
    }
    pub const fn saturating_add_millis(self, ms: u64) -> Self {
        Timestamp(self.0.saturating_add(ms.saturating_mul(1_000_000)))
    }
    pub const fn saturating_sub_millis(self, ms: u64) -> Self {
        Timestamp(self.0.saturating_sub(ms.saturating_mul(1_000_000)))
    }
}

/// RFC 3339 in UTC with milliseconds, e.g. `2026-11-22T10:00:00.000Z`.
impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secs = self.0 / 1_000_000_000;
        let millis = (self.0 / 1_000_000) % 1_000;
        let days = secs / 86_400;
        let rem = secs % 86_400;
        let (y, m, d) = civil_from_days(days as i64);
        write!(
            f,
            "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{millis:03}Z",
            rem / 3600,
            (rem / 60) % 60,
            rem % 60
        )
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// RFC 3339 (`2026-11-22T10:00:00Z`, fractions and `+01:00` offsets too), or a plain
/// number of Unix seconds. Times before 1970 are refused.
impl std::str::FromStr for Timestamp {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("`{s}` is not an RFC 3339 time (e.g. 2026-11-22T10:00:00Z)");
        if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
            return s
                .parse::<u64>()
                .map(Timestamp::from_secs)
                .map_err(|_| bad());
        }
        let b = s.as_bytes();
        if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
            return Err(bad());
        }
        if b[13] != b':' || b[16] != b':' {
            return Err(bad());
        }
        let num = |from: usize, to: usize| -> Result<i64, String> {
            s.get(from..to)
                .filter(|d| d.bytes().all(|c| c.is_ascii_digit()))
                .and_then(|d| d.parse().ok())
                .ok_or_else(bad)
        };
        let (y, mo, d) = (num(0, 4)?, num(5, 7)?, num(8, 10)?);
        let (h, mi, sec) = (num(11, 13)?, num(14, 16)?, num(17, 19)?);
        if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || sec > 60 {
            return Err(bad());
        }
        let mut i = 19;
        let mut nanos = 0u64;
        if b.get(i) == Some(&b'.') {
            i += 1;
            let start = i;
            while i < b.len() && b[i].is_ascii_digit() {
                if i - start < 9 {
                    nanos = nanos * 10 + u64::from(b[i] - b'0');
                }
                i += 1;
            }
            if i == start {
                return Err(bad());
            }
            for _ in (i - start).min(9)..9 {
                nanos *= 10;
            }
        }
        let offset_s = match &s[i..] {
            "Z" | "z" => 0,
            zone if zone.len() == 6 && matches!(zone.as_bytes()[0], b'+' | b'-') => {
                let (zh, zm) = (num(i + 1, i + 3)?, num(i + 4, i + 6)?);
                let sign = if zone.starts_with('-') { -1 } else { 1 };
                sign * (zh * 3600 + zm * 60)
            }
            _ => return Err(bad()),
        };
        let secs =
            days_from_civil(y, mo as u32, d as u32) * 86_400 + h * 3600 + mi * 60 + sec - offset_s;
        if secs < 0 {
            return Err(format!("`{s}` is before 1970"));
        }
        Ok(Timestamp::from_secs_nanos(secs as u64, nanos as u32))
    }
}

/// A proleptic Gregorian date to days since 1970-01-01 (Howard Hinnant's algorithm).
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = i64::from((m + 9) % 12);
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Days since 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's algorithm).
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_rfc3339_millis() {
        assert_eq!(Timestamp::EPOCH.to_string(), "1970-01-01T00:00:00.000Z");
        // 2026-11-22T10:00:00.123Z
        let t = Timestamp::from_millis(1_795_341_600_123);
        assert_eq!(t.to_string(), "2026-11-22T10:00:00.123Z");
        // A leap day.
        assert_eq!(
            Timestamp::from_secs(951_782_400).to_string(),
            "2000-02-29T00:00:00.000Z"
        );
    }

    #[test]
    fn parses_what_it_writes_and_common_rfc3339_forms() {
        for t in [0, 951_782_400_123, 1_795_341_600_123, 4_102_444_799_999] {
            let ts = Timestamp::from_millis(t);
            assert_eq!(ts.to_string().parse::<Timestamp>(), Ok(ts));
        }
        let t = |s: &str| s.parse::<Timestamp>().map(|t| t.as_nanos());
        assert_eq!(t("2026-11-22T10:00:00Z"), Ok(1_795_341_600_000_000_000));
        assert_eq!(
            t("2026-11-22T11:30:00+01:30"),
            Ok(1_795_341_600_000_000_000)
        );
        assert_eq!(t("2026-11-22T10:00:00.5Z"), Ok(1_795_341_600_500_000_000));
        assert_eq!(
            t("2026-11-22T10:00:00.123456789Z"),
            Ok(1_795_341_600_123_456_789)
        );
        assert_eq!(t("1795341600"), Ok(1_795_341_600_000_000_000));
        for bad in [
            "",
            "yesterday",
            "2026-13-01T00:00:00Z",
            "2026-11-22T10:00:00",
            "1969-12-31T23:59:59Z",
            "2026-11-22T10:00:00.Z",
            "2026-11-22T10:00:00+1",
        ] {
            assert!(t(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn ntp_time_converts() {
        // 2015-05-13T11:20:26Z in NTP seconds.
        let t = Timestamp::from_ntp(1_431_516_026 + 2_208_988_800, 1 << 31);
        assert_eq!(t.to_string(), "2015-05-13T11:20:26.500Z");
    }
}
