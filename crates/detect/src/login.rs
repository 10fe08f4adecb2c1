//! Per-user login history for the auth detector: recent failures and the sources they came
//! from, the last located login (for impossible travel), the countries and networks seen,
//! and an hour-of-week profile. Bounded: at most `max_users` users, a few hundred bytes each.

use crate::auth_config::AuthConfig;
use crate::bounded::{hash_of, Bounded};
use foldhash::fast::FixedState;
use rampart_model::{Cidr, GeoInfo, PreviousLogin, Timestamp};
use std::net::IpAddr;

const NS: u64 = 1_000_000_000;
/// Sources of a user's recent failures remembered (the latest ones).
const FAILING_SOURCES: usize = 4;
/// Countries and networks remembered per user; beyond, the oldest is forgotten.
const PLACES: usize = 8;
const HOURS: usize = 168;
/// 1970-01-01 was a Thursday: three days after the Monday that starts hour 0.
const EPOCH_HOUR_OF_WEEK: u64 = 72;
/// Mean Earth radius (IUGG), km.
const EARTH_KM: f64 = 6371.0088;

/// The last located login.
#[derive(Clone, Copy, Debug)]
struct Located {
    time: u64,
    source: IpAddr,
    lat: f64,
    lon: f64,
    accuracy_km: f64,
    country: [u8; 2],
    asn: u32,
}

#[derive(Clone, Debug)]
struct UserState {
    failures: u64,
    last_failure: u64,
    /// The last few sources the failures came from, each with its own count.
    failing: [(Option<IpAddr>, u64); FAILING_SOURCES],
    failing_next: u8,
    first_login: u64,
    logins: u64,
    last: Option<Located>,
    countries: Recent<[u8; 2]>,
    asns: Recent<u32>,
    hours: [u8; HOURS],
}

impl UserState {
    fn new() -> Self {
        UserState {
            failures: 0,
            last_failure: 0,
            failing: [(None, 0); FAILING_SOURCES],
            failing_next: 0,
            first_login: 0,
            logins: 0,
            last: None,
            countries: Recent::new([0; 2]),
            asns: Recent::new(0),
            hours: [0; HOURS],
        }
    }
}

/// The last few distinct values seen; a new one beyond `PLACES` replaces the oldest.
#[derive(Clone, Copy, Debug)]
struct Recent<T> {
    values: [T; PLACES],
    len: u8,
    next: u8,
}

impl<T: Copy + PartialEq> Recent<T> {
    fn new(fill: T) -> Self {
        Recent {
            values: [fill; PLACES],
            len: 0,
            next: 0,
        }
    }

    fn contains(&self, v: T) -> bool {
        self.values[..self.len as usize].contains(&v)
    }

    fn add(&mut self, v: T) {
        if (self.len as usize) < PLACES {
            self.values[self.len as usize] = v;
            self.len += 1;
        } else {
            self.values[self.next as usize % PLACES] = v;
            self.next = (self.next + 1) % PLACES as u8;
        }
    }
}

/// What one login did not fit.
#[derive(Clone, Debug)]
pub(crate) enum AnomalyKind {
    Travel {
        previous: PreviousLogin,
        distance_km: f64,
        speed_kmh: f64,
    },
    NewCountry,
    NewNetwork,
    Hours {
        hour_of_week: u8,
    },
}

#[derive(Clone, Debug)]
pub(crate) struct Anomaly {
    pub(crate) kind: AnomalyKind,
    /// Successful logins of the user learned before this one.
    pub(crate) logins_known: u64,
}

#[derive(Debug)]
pub(crate) struct Logins {
    users: Bounded<u64, UserState>,
    hasher: FixedState,
    lookback_ns: u64,
    learning_ns: u64,
    learning_logins: u64,
    hours_min_logins: u64,
    travel_max_kmh: f64,
    travel_min_km: f64,
    exempt: Vec<Cidr>,
    exempt_asns: Vec<u32>,
}

/// The hour of the week (UTC, Monday 00:00 is 0) of a time in ns.
pub(crate) fn hour_of_week(t_ns: u64) -> usize {
    ((t_ns / NS / 3600 + EPOCH_HOUR_OF_WEEK) % HOURS as u64) as usize
}

/// Great-circle distance in km (haversine).
pub(crate) fn distance_km(a: (f64, f64), b: (f64, f64)) -> f64 {
    let (la1, lo1) = (a.0.to_radians(), a.1.to_radians());
    let (la2, lo2) = (b.0.to_radians(), b.1.to_radians());
    let h = ((la2 - la1) / 2.0).sin().powi(2)
        + la1.cos() * la2.cos() * ((lo2 - lo1) / 2.0).sin().powi(2);
    2.0 * EARTH_KM * h.sqrt().min(1.0).asin()
}

fn country_code(g: &GeoInfo) -> Option<[u8; 2]> {
    let c = g.country.as_deref()?.as_bytes();
    (c.len() == 2).then(|| [c[0].to_ascii_uppercase(), c[1].to_ascii_uppercase()])
}

impl Logins {
    pub(crate) fn new(cfg: &AuthConfig) -> Self {
        Logins {
            users: Bounded::new(cfg.max_users.clamp(1, 1 << 24), cfg.hash_seed ^ 4),
            hasher: FixedState::with_seed(cfg.hash_seed ^ 5),
            lookback_ns: cfg.after_failures_lookback_s * NS,
            learning_ns: cfg.learning_s * NS,
            learning_logins: cfg.learning_logins,
            hours_min_logins: cfg.hours_min_logins,
            travel_max_kmh: cfg.travel_max_kmh,
            travel_min_km: cfg.travel_min_km,
            exempt: cfg.exempt.clone(),
            exempt_asns: cfg.exempt_asns.clone(),
        }
    }

    /// New thresholds from a reload; the table and its hashes stay.
    pub(crate) fn set_config(&mut self, cfg: &AuthConfig) {
        self.lookback_ns = cfg.after_failures_lookback_s * NS;
        self.learning_ns = cfg.learning_s * NS;
        self.learning_logins = cfg.learning_logins;
        self.hours_min_logins = cfg.hours_min_logins;
        self.travel_max_kmh = cfg.travel_max_kmh;
        self.travel_min_km = cfg.travel_min_km;
        self.exempt = cfg.exempt.clone();
        self.exempt_asns = cfg.exempt_asns.clone();
    }

    pub(crate) fn len(&self) -> usize {
        self.users.len()
    }
    pub(crate) fn evicted(&self) -> u64 {
        self.users.evicted
    }
    pub(crate) fn refused(&self) -> u64 {
        self.users.refused
    }
    pub(crate) fn bytes(&self) -> usize {
        self.users.bytes()
    }

    fn key(&self, user: &str) -> u64 {
        hash_of(&self.hasher, user)
    }

    pub(crate) fn failure(&mut self, user: &str, src: Option<IpAddr>, t: u64, n: u64) {
        let lookback = self.lookback_ns;
        let key = self.key(user);
        let Some(u) = self.users.entry(key, UserState::new, |_| false) else {
            return;
        };
        if t.saturating_sub(u.last_failure) > lookback {
            u.failures = 0;
            u.failing = [(None, 0); FAILING_SOURCES];
        }
        u.failures += n;
        u.last_failure = u.last_failure.max(t);
        if let Some(src) = src {
            match u.failing.iter_mut().find(|(s, _)| *s == Some(src)) {
                Some((_, count)) => *count += n,
                None => {
                    u.failing[u.failing_next as usize % FAILING_SOURCES] = (Some(src), n);
                    u.failing_next = u.failing_next.wrapping_add(1);
                }
            }
        }
    }

    pub(crate) fn forget_failures(&mut self, user: &str) {
        let key = self.key(user);
        if let Some(u) = self.users.get_mut(&key) {
            u.failures = 0;
            u.failing = [(None, 0); FAILING_SOURCES];
        }
    }

    /// The user's recent failures from `src` and from the other sources that failed on
    /// this user at least `repeated` times (one try is a spray's or a stuffing list's, not
    /// a guess at this user) and that `known` does not already account for (an open spray
    /// or brute force is its own story); and how many came from `src`, when any did.
    pub(crate) fn failures_before_success(
        &self,
        user: &str,
        src: IpAddr,
        t: u64,
        repeated: u64,
        known: impl Fn(IpAddr) -> bool,
    ) -> Option<(u64, u64)> {
        let u = self.users.get(&self.key(user))?;
        let own = u
            .failing
            .iter()
            .find(|(s, _)| *s == Some(src))
            .map(|(_, n)| *n)?;
        let others: u64 = u
            .failing
            .iter()
            .filter(|(_, n)| *n >= repeated)
            .filter_map(|(s, n)| s.filter(|&s| s != src && !known(s)).map(|_| *n))
            .sum();
        (t.saturating_sub(u.last_failure) <= self.lookback_ns).then_some((own + others, own))
    }

    fn exempt(&self, src: IpAddr, geo: Option<&GeoInfo>) -> bool {
        self.exempt.iter().any(|c| c.contains(src))
            || geo
                .and_then(|g| g.asn)
                .is_some_and(|a| self.exempt_asns.contains(&a))
    }

    /// Learns a successful login and says what about it does not fit the user's history.
    pub(crate) fn success(
        &mut self,
        user: &str,
        src: IpAddr,
        t: u64,
        geo: Option<&GeoInfo>,
    ) -> Vec<Anomaly> {
        let key = self.key(user);
        let exempt = self.exempt(src, geo);
        let prev_exempt = self
            .users
            .get(&key)
            .and_then(|u| u.last)
            .is_some_and(|l| self.exempt.iter().any(|c| c.contains(l.source)));
        let (learning_ns, learning_logins, hours_min) = (
            self.learning_ns,
            self.learning_logins,
            self.hours_min_logins,
        );
        let (max_kmh, min_km) = (self.travel_max_kmh, self.travel_min_km);
        let Some(u) = self.users.entry(key, UserState::new, |_| false) else {
            return Vec::new();
        };
        u.failures = 0;
        u.failing = [(None, 0); FAILING_SOURCES];
        let mut out = Vec::new();
        let known = u.logins;
        if u.logins == 0 {
            u.first_login = t;
        }
        let history = t.saturating_sub(u.first_login);
        let learned = u.logins >= learning_logins && history >= learning_ns;
        let coords = geo.and_then(GeoInfo::coordinates);
        let country = geo.and_then(country_code);
        let asn = geo.and_then(|g| g.asn);

        // Impossible travel: against the last located login.
        if let (Some(prev), Some((lat, lon))) = (u.last, coords) {
            if !exempt && !prev_exempt && prev.source != src && t >= prev.time {
                let acc = f64::from(geo.and_then(|g| g.accuracy_km).unwrap_or(0));
                let d = distance_km((prev.lat, prev.lon), (lat, lon)) - prev.accuracy_km - acc;
                let hours = (t - prev.time).max(NS) as f64 / (3600.0 * NS as f64);
                let speed = d / hours;
                if d >= min_km && speed > max_kmh {
                    out.push(Anomaly {
                        kind: AnomalyKind::Travel {
                            previous: PreviousLogin {
                                source: prev.source,
                                time: Timestamp::from_nanos(prev.time),
                                geo: Some(GeoInfo {
                                    country: (prev.country != [0; 2])
                                        .then(|| String::from_utf8_lossy(&prev.country).into()),
                                    city: None,
                                    latitude: Some(prev.lat),
                                    longitude: Some(prev.lon),
                                    accuracy_km: (prev.accuracy_km > 0.0)
                                        .then_some(prev.accuracy_km as u32),
                                    asn: (prev.asn != 0).then_some(prev.asn),
                                    org: None,
                                }),
                            },
                            distance_km: d,
                            speed_kmh: speed,
                        },
                        logins_known: known,
                    });
                }
            }
        }
        // New country, else new network.
        let mut new_country = false;
        if let Some(c) = country {
            if !u.countries.contains(c) {
                if learned && !exempt {
                    out.push(Anomaly {
                        kind: AnomalyKind::NewCountry,
                        logins_known: known,
                    });
                    new_country = true;
                }
                u.countries.add(c);
            }
        }
        if let Some(a) = asn {
            if !u.asns.contains(a) {
                if learned && !exempt && !new_country {
                    out.push(Anomaly {
                        kind: AnomalyKind::NewNetwork,
                        logins_known: known,
                    });
                }
                u.asns.add(a);
            }
        }
        // Unusual hours: nobody-home within an hour either side, on any day of the week.
        let h = hour_of_week(t);
        if u.logins >= hours_min && history >= learning_ns {
            let hod = h % 24;
            let near: u32 = (0..7)
                .flat_map(|day| [23, 0, 1].map(|d| day * 24 + (hod + d) % 24))
                .map(|i| u32::from(u.hours[i]))
                .sum();
            if near == 0 {
                out.push(Anomaly {
                    kind: AnomalyKind::Hours {
                        hour_of_week: h as u8,
                    },
                    logins_known: known,
                });
            }
        }
        if u.hours[h] == u8::MAX {
            for x in &mut u.hours {
                *x /= 2;
            }
        }
        u.hours[h] += 1;
        u.logins += 1;
        if let Some((lat, lon)) = coords {
            u.last = Some(Located {
                time: t,
                source: src,
                lat,
                lon,
                accuracy_km: f64::from(geo.and_then(|g| g.accuracy_km).unwrap_or(0)),
                country: country.unwrap_or([0; 2]),
                asn: asn.unwrap_or(0),
            });
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distances_and_hours() {
        // Berlin to Sydney: about 16,000 km.
        let d = distance_km((52.52, 13.405), (-33.87, 151.21));
        assert!((15_900.0..16_200.0).contains(&d), "{d}");
        assert!(distance_km((1.0, 1.0), (1.0, 1.0)) < 1e-9);
        // 2026-11-30 is a Monday.
        assert_eq!(hour_of_week(1_795_996_800 * NS), 0);
        assert_eq!(hour_of_week((1_795_996_800 + 3600 * 25) * NS), 25);
    }
}
