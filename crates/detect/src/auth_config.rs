//! Login-abuse settings (`[detect.auth]`), with defaults for a mid-size enterprise edge: an
//! SSH and VPN gateway facing the Internet, some thousands of users who mistype now and then.

use rampart_model::Cidr;
use serde::{Deserialize, Serialize};

/// `[detect.auth]`. Every field has a default; `validate()` after loading.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthConfig {
    /// Failed attempts from one source within `window_s` that make a brute force. 5, as
    /// fail2ban's `maxretry`: people mistype two or three times, tools try hundreds.
    pub failures: u64,
    /// The counting window in seconds, from a source's first failure (a new window starts
    /// with the first failure after it ends). A detection ends once its source has failed
    /// no more for this long. 60.
    pub window_s: u64,
    /// Distinct user names that do not exist, tried from one source within `window_s`,
    /// that make a user enumeration. 5.
    pub enumeration_users: u64,
    /// Distinct existing users tried from one prefix (see `spray_prefix_len_v4`) within
    /// `spray_window_s` that make a password spray, when each was tried at most
    /// `spray_max_per_user` times on average. 10.
    pub spray_users: u64,
    /// Average failed attempts per user at most, for a spray (more is guessing one
    /// account's password: brute force). 3.
    pub spray_max_per_user: f64,
    /// The spray counting window in seconds: sprays go slowly to stay under lockouts. 3600.
    pub spray_window_s: u64,
    /// Sources are pooled per prefix of this length for sprays. 32 (per address); 24
    /// pools a /24 rented for the job.
    pub spray_prefix_len_v4: u8,
    /// The same for IPv6 (default 64: one host's usual allocation).
    pub spray_prefix_len_v6: u8,
    /// Distinct sources failing against one service (and host) within
    /// `stuffing_window_s`, each with at most `stuffing_max_per_source` failures, that make
    /// credential stuffing, with `stuffing_users` users and a success rate of at most
    /// `stuffing_max_success`. 20.
    pub stuffing_sources: u64,
    /// Distinct users tried, for credential stuffing. 20.
    pub stuffing_users: u64,
    /// A source with more failures than this in `window_s` is a brute forcer and does not
    /// count toward stuffing. 5.
    pub stuffing_max_per_source: u64,
    /// Successful share of attempts at most, for stuffing (leaked lists work sometimes;
    /// a busy legitimate service succeeds mostly). 0.2.
    pub stuffing_max_success: f64,
    /// The stuffing counting window in seconds. 600.
    pub stuffing_window_s: u64,
    /// Failed attempts of one source, decayed with `slow_half_life_s`, that make a slow
    /// brute force (when no brute force was reported for it). 20: one try every ten
    /// minutes reaches it in about four hours.
    pub slow_failures: f64,
    /// Half-life in seconds of the slow brute-force counter. 21600 (6 h).
    pub slow_half_life_s: u64,
    /// Failed attempts before a successful login that make it a login after failures:
    /// from the same source, or for the same user from a source that failed for it. 5.
    pub after_failures: u64,
    /// How long in seconds failures are remembered for that: the last failure at most
    /// this long before the success. 3600.
    pub after_failures_lookback_s: u64,
    /// Speed in km/h between two successful logins of one user above which the second is
    /// impossible travel (an airliner does 900). 1000.
    pub travel_max_kmh: f64,
    /// Distance in km (less both places' accuracy radii) below which logins are never
    /// impossible travel: GeoIP places are approximate. 100.
    pub travel_min_km: f64,
    /// Sources exempt from impossible travel, new country and new network: your VPN
    /// egress, cloud ranges your people work from. CIDRs.
    pub exempt: Vec<Cidr>,
    /// Autonomous systems exempt in the same way (a cloud provider's ASN).
    pub exempt_asns: Vec<u32>,
    /// A user's history is learned this long (seconds, from their first successful
    /// login) before new countries, networks and hours are reported. 604800 (a week).
    pub learning_s: u64,
    /// ...and for at least this many successful logins. 5.
    pub learning_logins: u64,
    /// Successful logins a user's hour-of-week profile needs before unusual hours are
    /// reported. 30.
    pub hours_min_logins: u64,
    /// Sources counted at once (about 250 bytes each); the least recently active is
    /// evicted and counted. 65536.
    pub max_sources: usize,
    /// Prefixes counted for sprays at once (about 200 bytes each). 16384.
    pub max_prefixes: usize,
    /// Sources with a slow brute-force counter (about 40 bytes each). 262144.
    pub max_slow_sources: usize,
    /// Users with a login history (about 420 bytes each). 65536.
    pub max_users: usize,
    /// Services (service and host) counted for stuffing. 1024.
    pub max_services: usize,
    /// Detections open at once; more are counted and not reported. 4096.
    pub max_open: usize,
    /// Seed of the tables' hashes; fixed so that runs are reproducible.
    pub hash_seed: u64,
}

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig {
            failures: 5,
            window_s: 60,
            enumeration_users: 5,
            spray_users: 10,
            spray_max_per_user: 3.0,
            spray_window_s: 3600,
            spray_prefix_len_v4: 32,
            spray_prefix_len_v6: 64,
            stuffing_sources: 20,
            stuffing_users: 20,
            stuffing_max_per_source: 5,
            stuffing_max_success: 0.2,
            stuffing_window_s: 600,
            slow_failures: 20.0,
            slow_half_life_s: 21_600,
            after_failures: 5,
            after_failures_lookback_s: 3600,
            travel_max_kmh: 1000.0,
            travel_min_km: 100.0,
            exempt: Vec::new(),
            exempt_asns: Vec::new(),
            learning_s: 604_800,
            learning_logins: 5,
            hours_min_logins: 30,
            max_sources: 65_536,
            max_prefixes: 16_384,
            max_slow_sources: 262_144,
            max_users: 65_536,
            max_services: 1024,
            max_open: 4096,
            hash_seed: 0x6175_7468_6175_7468,
        }
    }
}

/// A setting that cannot work, named by its config key.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("detect.{section}.{key}: {problem}")]
pub struct AccessConfigError {
    pub section: &'static str,
    pub key: &'static str,
    pub problem: String,
}

/// Checks of one section, each naming its key.
pub(crate) struct Checks {
    pub(crate) section: &'static str,
}

impl Checks {
    /// Counts and seconds (`u64`) and factors (`f64`) alike.
    pub(crate) fn range<T: PartialOrd + std::fmt::Display>(
        &self,
        key: &'static str,
        v: T,
        range: std::ops::RangeInclusive<T>,
    ) -> Result<(), AccessConfigError> {
        if range.contains(&v) {
            return Ok(());
        }
        Err(self.bad(
            key,
            format!("{v} is not in {}..={}", range.start(), range.end()),
        ))
    }

    pub(crate) fn bad(&self, key: &'static str, problem: String) -> AccessConfigError {
        AccessConfigError {
            section: self.section,
            key,
            problem,
        }
    }
}

impl AuthConfig {
    /// Checks what serde cannot: ranges.
    pub fn validate(&self) -> Result<(), AccessConfigError> {
        let c = Checks { section: "auth" };
        c.range("failures", self.failures, 1..=1_000_000)?;
        c.range("window_s", self.window_s, 1..=86_400)?;
        c.range("enumeration_users", self.enumeration_users, 2..=100_000)?;
        c.range("spray_users", self.spray_users, 2..=100_000)?;
        c.range("spray_max_per_user", self.spray_max_per_user, 1.0..=1000.0)?;
        c.range("spray_window_s", self.spray_window_s, 1..=7 * 86_400)?;
        c.range(
            "spray_prefix_len_v4",
            self.spray_prefix_len_v4.into(),
            8..=32,
        )?;
        c.range(
            "spray_prefix_len_v6",
            self.spray_prefix_len_v6.into(),
            16..=128,
        )?;
        c.range("stuffing_sources", self.stuffing_sources, 2..=100_000)?;
        c.range("stuffing_users", self.stuffing_users, 1..=100_000)?;
        c.range(
            "stuffing_max_per_source",
            self.stuffing_max_per_source,
            1..=1000,
        )?;
        c.range("stuffing_max_success", self.stuffing_max_success, 0.0..=1.0)?;
        c.range("stuffing_window_s", self.stuffing_window_s, 1..=86_400)?;
        c.range("slow_failures", self.slow_failures, 2.0..=1e9)?;
        c.range("slow_half_life_s", self.slow_half_life_s, 60..=30 * 86_400)?;
        c.range("after_failures", self.after_failures, 1..=1_000_000)?;
        c.range(
            "after_failures_lookback_s",
            self.after_failures_lookback_s,
            1..=30 * 86_400,
        )?;
        c.range("travel_max_kmh", self.travel_max_kmh, 1.0..=1e6)?;
        c.range("travel_min_km", self.travel_min_km, 0.0..=20_000.0)?;
        c.range("learning_s", self.learning_s, 0..=365 * 86_400)?;
        c.range("learning_logins", self.learning_logins, 0..=1_000_000)?;
        c.range("hours_min_logins", self.hours_min_logins, 1..=1_000_000)?;
        for (key, v) in [
            ("max_sources", self.max_sources),
            ("max_prefixes", self.max_prefixes),
            ("max_slow_sources", self.max_slow_sources),
            ("max_users", self.max_users),
            ("max_services", self.max_services),
            ("max_open", self.max_open),
        ] {
            c.range(key, v as u64, 1..=1 << 24)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_validate_and_errors_name_the_key() {
        AuthConfig::default().validate().unwrap();
        let c: AuthConfig = serde_json::from_str(r#"{"failures": 10}"#).unwrap();
        assert_eq!((c.failures, c.window_s), (10, 60));
        assert!(serde_json::from_str::<AuthConfig>(r#"{"failure": 1}"#).is_err());
        let e = AuthConfig {
            window_s: 0,
            ..AuthConfig::default()
        }
        .validate()
        .unwrap_err();
        assert_eq!(e.to_string(), "detect.auth.window_s: 0 is not in 1..=86400");
    }
}
