//! The login-abuse detector on hand-made event streams with known truth: each kind of
//! abuse found with its counts (attempts summed, not events), benign use not, state bounded.

use rampart_detect::{AuthConfig, AuthDetector, DetectionEvent, Phase};
use rampart_model::{AuthEvent, Detection, GeoInfo, Outcome, Service, Timestamp};
use std::net::IpAddr;

/// 2026-11-30T00:00:00Z, a Monday.
const T0: u64 = 1_795_996_800;

fn ip(s: &str) -> IpAddr {
    s.parse().expect("address")
}

fn ev(t: u64, src: &str, user: &str, outcome: Outcome) -> AuthEvent {
    let mut e = AuthEvent::new(Timestamp::from_secs(t), Service::Ssh, outcome);
    e.source = Some(ip(src));
    e.user = Some(user.to_string());
    e.host = Some("gw1".into());
    e
}

fn fail(t: u64, src: &str, user: &str) -> AuthEvent {
    ev(t, src, user, Outcome::Failure)
}

fn ok(t: u64, src: &str, user: &str) -> AuthEvent {
    ev(t, src, user, Outcome::Success)
}

/// Runs events in order with a tick each second of event time and at the end `tail_s`
/// later; returns every event polled.
fn run(
    det: &mut AuthDetector,
    events: &[(AuthEvent, Option<GeoInfo>)],
    tail_s: u64,
) -> Vec<DetectionEvent> {
    let mut out = Vec::new();
    let mut last = 0;
    for (e, g) in events {
        let s = e.time.as_secs();
        for t in last.max(s.saturating_sub(3600))..s {
            det.tick(Timestamp::from_secs(t));
        }
        last = s;
        det.observe(e, g.as_ref());
        while let Some(x) = det.poll_event() {
            out.push(x);
        }
    }
    for t in last..=last + tail_s {
        det.tick(Timestamp::from_secs(t));
    }
    while let Some(x) = det.poll_event() {
        out.push(x);
    }
    out
}

fn no_geo(v: Vec<AuthEvent>) -> Vec<(AuthEvent, Option<GeoInfo>)> {
    v.into_iter().map(|e| (e, None)).collect()
}

fn kinds(out: &[DetectionEvent], phase: Phase) -> Vec<&'static str> {
    out.iter()
        .filter(|e| e.phase == phase)
        .map(|e| e.detection.kind())
        .collect()
}

fn started<'a>(out: &'a [DetectionEvent], kind: &str) -> Vec<&'a Detection> {
    out.iter()
        .filter(|e| e.phase == Phase::Started && e.detection.kind() == kind)
        .map(|e| &e.detection)
        .collect()
}

fn ended<'a>(out: &'a [DetectionEvent], kind: &str) -> Vec<&'a Detection> {
    out.iter()
        .filter(|e| e.phase == Phase::Ended && e.detection.kind() == kind)
        .map(|e| &e.detection)
        .collect()
}

#[test]
fn brute_force_sums_attempts_and_ends_after_a_quiet_window() {
    let mut det = AuthDetector::new(AuthConfig::default());
    // Four attempts, then one folded line standing for eight more, all as root.
    let mut v: Vec<AuthEvent> = (0..4)
        .map(|i| fail(T0 + i, "203.0.113.7", "root"))
        .collect();
    let mut folded = fail(T0 + 5, "203.0.113.7", "root");
    folded.attempts = 8;
    v.push(folded);
    v.push(fail(T0 + 40, "203.0.113.7", "root"));
    // Someone mistyping twice is no attack.
    v.push(fail(T0 + 10, "198.51.100.20", "alice"));
    v.push(fail(T0 + 12, "198.51.100.20", "alice"));
    v.sort_by_key(|e| e.time);
    let out = run(&mut det, &no_geo(v), 120);
    assert_eq!(kinds(&out, Phase::Started), ["brute_force"]);
    let Detection::BruteForce(start) = started(&out, "brute_force")[0] else {
        unreachable!()
    };
    // Crossed at the folded line: 4 + 8.
    assert_eq!(start.failures, 12);
    assert_eq!(start.source, Some(ip("203.0.113.7")));
    assert_eq!(start.user.as_deref(), Some("root"));
    assert_eq!(start.target.as_deref(), Some("gw1"));
    assert_eq!(start.first_seen, Timestamp::from_secs(T0));
    let Detection::BruteForce(end) = ended(&out, "brute_force")[0] else {
        unreachable!()
    };
    assert_eq!(end.failures, 13);
    assert_eq!(end.end, Some(Timestamp::from_secs(T0 + 40)));
    assert!(
        end.evidence.contains("13 failed ssh on gw1 logins"),
        "{}",
        end.evidence
    );
    let s = det.stats();
    assert_eq!((s.failures, s.open), (15, 0));
}

#[test]
fn user_enumeration_counts_distinct_names_that_do_not_exist() {
    let mut det = AuthDetector::new(AuthConfig::default());
    let v: Vec<AuthEvent> = (0..6)
        .map(|i| {
            let mut e = fail(T0 + i, "35.188.49.176", &format!("pascal{i}"));
            e.invalid_user = true;
            e
        })
        .collect();
    let out = run(&mut det, &no_geo(v), 0);
    assert_eq!(
        kinds(&out, Phase::Started),
        ["brute_force", "user_enumeration"]
    );
    let Detection::UserEnumeration(d) = started(&out, "user_enumeration")[0] else {
        unreachable!()
    };
    assert_eq!((d.users, d.invalid_users, d.failures), (5, 5, 5));
    // Still open when the input ends: the active list has both, with all six.
    let active = det.active();
    assert_eq!(active.len(), 2);
    assert!(active.iter().all(|(_, d)| d
        .as_auth()
        .is_some_and(|a| a.failures == 6 && a.end.is_none())));
}

#[test]
fn password_spray_is_few_tries_on_many_users_slowly() {
    let mut det = AuthDetector::new(AuthConfig::default());
    // One try every two and a half minutes, each on another existing user: no brute force.
    let v: Vec<AuthEvent> = (0..12)
        .map(|i| fail(T0 + i * 150, "192.0.2.66", &format!("user{i}")))
        .collect();
    let out = run(&mut det, &no_geo(v), 0);
    assert_eq!(kinds(&out, Phase::Started), ["password_spray"]);
    let Detection::PasswordSpray(d) = started(&out, "password_spray")[0] else {
        unreachable!()
    };
    assert_eq!((d.users, d.failures, d.sources), (10, 10, 1));
    assert_eq!(d.source, Some(ip("192.0.2.66")));
    // One user hammered is not a spray.
    let mut det = AuthDetector::new(AuthConfig::default());
    let v: Vec<AuthEvent> = (0..40)
        .map(|i| {
            fail(
                T0 + i * 150,
                "192.0.2.67",
                if i % 4 == 0 { "a" } else { "b" },
            )
        })
        .collect();
    let out = run(&mut det, &no_geo(v), 0);
    assert!(started(&out, "password_spray").is_empty());
}

#[test]
fn spray_from_a_few_addresses_of_one_prefix_pools_with_a_prefix_length() {
    let cfg = AuthConfig {
        spray_prefix_len_v4: 24,
        ..AuthConfig::default()
    };
    let mut det = AuthDetector::new(cfg);
    let v: Vec<AuthEvent> = (0..12)
        .map(|i| {
            fail(
                T0 + i * 200,
                &format!("192.0.2.{}", 10 + i % 3),
                &format!("user{i}"),
            )
        })
        .collect();
    let out = run(&mut det, &no_geo(v), 0);
    let Detection::PasswordSpray(d) = started(&out, "password_spray")[0] else {
        unreachable!()
    };
    assert_eq!((d.users, d.sources), (10, 3));
    assert_eq!(d.top_sources.len(), 3);
}

#[test]
fn credential_stuffing_is_many_sources_few_attempts_each_low_success() {
    let mut det = AuthDetector::new(AuthConfig::default());
    let mut v = Vec::new();
    for i in 0..30u64 {
        let src = format!("198.18.{}.{}", i / 200, i % 200 + 1);
        v.push(fail(T0 + i * 7, &src, &format!("leaked{}", 2 * i)));
        v.push(fail(T0 + i * 7 + 1, &src, &format!("leaked{}", 2 * i + 1)));
    }
    // One pair from the list works.
    v.push(ok(T0 + 250, "198.18.0.5", "leaked8"));
    v.sort_by_key(|e| e.time);
    let out = run(&mut det, &no_geo(v), 700);
    let s = started(&out, "credential_stuffing");
    assert_eq!(s.len(), 1);
    let Detection::CredentialStuffing(d) = s[0] else {
        unreachable!()
    };
    assert_eq!(d.source, None);
    assert_eq!(d.sources, 20);
    assert!(d.users >= 20);
    assert_eq!(d.top_sources.len(), 5);
    let Detection::CredentialStuffing(end) = ended(&out, "credential_stuffing")[0] else {
        unreachable!()
    };
    assert_eq!((end.sources, end.failures, end.successes), (30, 60, 1));
    // No source alone did enough for anything else.
    assert_eq!(kinds(&out, Phase::Started), ["credential_stuffing"]);
}

#[test]
fn slow_brute_force_over_hours_without_a_burst() {
    let mut det = AuthDetector::new(AuthConfig::default());
    // One try every ten minutes for six hours: never 5 in a minute.
    let v: Vec<AuthEvent> = (0..36)
        .map(|i| fail(T0 + i * 600, "203.0.113.99", "admin"))
        .collect();
    let out = run(&mut det, &no_geo(v), 0);
    assert_eq!(kinds(&out, Phase::Started), ["slow_brute_force"]);
    let Detection::SlowBruteForce(d) = started(&out, "slow_brute_force")[0] else {
        unreachable!()
    };
    // 20 decayed with a 6 h half-life: reached at the 25th try, four hours in.
    assert_eq!(d.failures, 25);
    assert_eq!(d.first_seen, Timestamp::from_secs(T0));
    // A fast brute forcer is reported as such, not again as slow.
    let mut det = AuthDetector::new(AuthConfig::default());
    let v: Vec<AuthEvent> = (0..100)
        .map(|i| fail(T0 + i * 2, "203.0.113.98", "admin"))
        .collect();
    let out = run(&mut det, &no_geo(v), 0);
    assert_eq!(kinds(&out, Phase::Started), ["brute_force"]);
}

#[test]
fn login_after_failures_from_the_source_or_for_the_user() {
    let mut det = AuthDetector::new(AuthConfig::default());
    let mut v: Vec<AuthEvent> = (0..7)
        .map(|i| fail(T0 + i * 20, "203.0.113.50", &format!("u{}", i % 2)))
        .collect();
    v.push(ok(T0 + 200, "203.0.113.50", "u1"));
    // A user who mistyped twice and got in is not compromised.
    v.push(fail(T0 + 300, "198.51.100.1", "carol"));
    v.push(fail(T0 + 301, "198.51.100.1", "carol"));
    v.push(ok(T0 + 310, "198.51.100.1", "carol"));
    let out = run(&mut det, &no_geo(v), 0);
    let s = started(&out, "login_after_failures");
    assert_eq!(s.len(), 1);
    let Detection::LoginAfterFailures(d) = s[0] else {
        unreachable!()
    };
    assert_eq!(d.source, Some(ip("203.0.113.50")));
    assert_eq!(d.user.as_deref(), Some("u1"));
    assert_eq!((d.failures, d.users, d.successes), (7, 2, 1));
    assert!(d.confidence >= 0.8);
    assert!(d.evidence.contains("likely compromise"), "{}", d.evidence);
    assert_eq!(ended(&out, "login_after_failures").len(), 1);

    // Guessing one user's password from a few addresses, each under the source rule,
    // then getting in from one of them.
    let mut det = AuthDetector::new(AuthConfig::default());
    let mut v = Vec::new();
    for i in 0..6u64 {
        v.push(fail(T0 + i * 30, &format!("192.0.2.{}", 1 + i % 3), "dave"));
    }
    v.push(ok(T0 + 400, "192.0.2.2", "dave"));
    let out = run(&mut det, &no_geo(v), 0);
    let s = started(&out, "login_after_failures");
    assert_eq!(s.len(), 1);
    assert_eq!(s[0].source(), Some(ip("192.0.2.2")));
    assert!(s[0].evidence().contains("this user, some from this source"));

    // A spray tries erin's name from elsewhere; erin mistypes once at home and gets in.
    let mut det = AuthDetector::new(AuthConfig::default());
    let mut v = Vec::new();
    for i in 0..6u64 {
        v.push(fail(T0 + i * 30, &format!("192.0.2.{}", 10 + i), "erin"));
    }
    v.push(fail(T0 + 300, "198.51.100.7", "erin"));
    v.push(ok(T0 + 310, "198.51.100.7", "erin"));
    let out = run(&mut det, &no_geo(v), 0);
    assert!(started(&out, "login_after_failures").is_empty(), "{out:?}");
}

fn place(country: &str, lat: f64, lon: f64, asn: u32) -> Option<GeoInfo> {
    Some(GeoInfo {
        country: Some(country.into()),
        city: None,
        latitude: Some(lat),
        longitude: Some(lon),
        accuracy_km: Some(20),
        asn: Some(asn),
        org: None,
    })
}

#[test]
fn impossible_travel_by_speed_and_exempt_ranges() {
    let cfg = AuthConfig {
        exempt: vec!["198.51.100.0/24".parse().expect("cidr")],
        ..AuthConfig::default()
    };
    let mut det = AuthDetector::new(cfg);
    let berlin = place("DE", 52.52, 13.40, 3320);
    let sydney = place("AU", -33.87, 151.21, 1221);
    let paris = place("FR", 48.86, 2.35, 3215);
    let v = vec![
        (ok(T0, "192.0.2.10", "erin"), berlin.clone()),
        // Berlin to Paris (880 km) in three hours: a flight, fine.
        (ok(T0 + 3 * 3600, "192.0.2.20", "erin"), paris.clone()),
        // Paris to Sydney in an hour: no.
        (ok(T0 + 4 * 3600, "203.0.113.30", "erin"), sydney.clone()),
        // From the VPN egress (exempt), wherever it maps.
        (ok(T0 + 4 * 3600 + 60, "198.51.100.9", "erin"), berlin),
    ];
    let out = run(&mut det, &v, 0);
    let s = started(&out, "impossible_travel");
    assert_eq!(s.len(), 1, "{out:?}");
    let Detection::ImpossibleTravel(l) = s[0] else {
        unreachable!()
    };
    assert_eq!(l.user, "erin");
    assert_eq!(l.source, ip("203.0.113.30"));
    let prev = l.previous.as_ref().expect("previous login");
    assert_eq!(prev.source, ip("192.0.2.20"));
    let d = l.distance_km.expect("distance");
    // 16,960 km less both 20 km radii.
    assert!((16_850.0..16_950.0).contains(&d), "{d}");
    assert!(l.speed_kmh.expect("speed") > 16_000.0);
    assert!(
        l.evidence.contains("erin logged in from 203.0.113.30 (AU)"),
        "{}",
        l.evidence
    );
}

#[test]
fn new_country_and_new_network_after_learning() {
    let mut det = AuthDetector::new(AuthConfig::default());
    let home = place("DE", 50.11, 8.68, 3320);
    let mut v = Vec::new();
    for day in 0..8 {
        v.push((
            ok(T0 + day * 86_400 + 9 * 3600, "192.0.2.10", "frank"),
            home.clone(),
        ));
    }
    // Same country, another provider's network.
    v.push((
        ok(T0 + 8 * 86_400 + 9 * 3600, "192.0.2.99", "frank"),
        place("DE", 50.11, 8.68, 6805),
    ));
    // Another country (close enough to drive: no travel alarm).
    v.push((
        ok(T0 + 9 * 86_400 + 9 * 3600, "203.0.113.5", "frank"),
        place("NL", 52.37, 4.90, 1136),
    ));
    // During learning, a new country is learned silently.
    v.push((
        ok(T0 + 9 * 86_400, "203.0.113.6", "grace"),
        place("BR", -23.5, -46.6, 28573),
    ));
    v.push((
        ok(T0 + 9 * 86_400 + 7200, "203.0.113.7", "grace"),
        place("AR", -34.6, -58.4, 7303),
    ));
    let out = run(&mut det, &v, 0);
    assert_eq!(kinds(&out, Phase::Started), ["new_network", "new_country"]);
    let c = started(&out, "new_country")[0].as_login().expect("login");
    assert_eq!((c.user.as_str(), c.logins_known), ("frank", 9));
    assert_eq!(
        c.geo.as_ref().and_then(|g| g.country.as_deref()),
        Some("NL")
    );
}

#[test]
fn unusual_hours_after_a_learned_profile() {
    let mut det = AuthDetector::new(AuthConfig::default());
    let mut v = Vec::new();
    // Six weeks of weekday logins between 08:00 and 10:00 UTC.
    for week in 0..6 {
        for day in 0..5 {
            let base = T0 + week * 7 * 86_400 + day * 86_400;
            v.push(ok(base + 8 * 3600 + 600, "192.0.2.10", "heidi"));
            v.push(ok(base + 9 * 3600 + 1200, "192.0.2.10", "heidi"));
        }
    }
    // Tuesday 10:30 is usual enough (an hour from what she does), 03:15 is not.
    v.push(ok(
        T0 + 42 * 86_400 + 86_400 + 10 * 3600 + 1800,
        "192.0.2.10",
        "heidi",
    ));
    v.push(ok(
        T0 + 42 * 86_400 + 2 * 86_400 + 3 * 3600 + 900,
        "192.0.2.10",
        "heidi",
    ));
    let out = run(&mut det, &no_geo(v), 0);
    let s = started(&out, "unusual_hours");
    assert_eq!(s.len(), 1);
    let l = s[0].as_login().expect("login");
    // Wednesday 03:00 is hour 2 * 24 + 3.
    assert_eq!(l.hour_of_week, Some(51));
    assert_eq!(l.logins_known, 61);
}

#[test]
fn state_is_bounded_and_evictions_are_counted() {
    let cfg = AuthConfig {
        max_sources: 1000,
        max_prefixes: 1000,
        max_slow_sources: 1000,
        max_users: 1000,
        ..AuthConfig::default()
    };
    let mut det = AuthDetector::new(cfg);
    for i in 0..50_000u32 {
        let src = IpAddr::from((0xc612_0000u32 + i).to_be_bytes());
        let mut e = AuthEvent::new(
            Timestamp::from_secs(T0 + u64::from(i) / 100),
            Service::Ssh,
            Outcome::Failure,
        );
        e.source = Some(src);
        e.user = Some(format!("u{i}"));
        det.observe(&e, None);
    }
    let s = det.stats();
    assert!(
        s.sources_tracked <= 1000 && s.users_tracked <= 1000,
        "{s:?}"
    );
    assert_eq!(s.sources_evicted, 49_000);
    assert_eq!(s.users_evicted, 49_000);
    assert!(s.state_bytes < 4 << 20, "{s:?}");
}
