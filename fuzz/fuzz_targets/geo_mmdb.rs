#![no_main]
//! Opens arbitrary bytes as a MaxMind database (maxminddb's `Reader::from_source`, through
//! `Geo::from_bytes`) as a City and as an ASN database, and looks up addresses: fixed ones
//! of every family and shape, and ones taken from the input's last bytes. Nothing may
//! panic, and every answer must be sane: coordinates on the globe, names bounded.
use libfuzzer_sys::fuzz_target;
use rampart_geo::{Geo, GeoInfo};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

fn check(g: &GeoInfo) {
    if let Some((lat, lon)) = g.coordinates() {
        assert!((-90.0..=90.0).contains(&lat) && (-180.0..=180.0).contains(&lon));
    }
    assert!(g.city.as_ref().is_none_or(|c| c.chars().count() <= 128));
    assert!(g.org.as_ref().is_none_or(|c| c.chars().count() <= 128));
    assert!(g.country.as_ref().is_none_or(|c| c.len() <= 3));
}

fuzz_target!(|data: &[u8]| {
    let mut addrs: Vec<IpAddr> = vec![
        Ipv4Addr::new(1, 2, 3, 4).into(),
        Ipv4Addr::new(0, 0, 0, 0).into(),
        Ipv4Addr::new(255, 255, 255, 255).into(),
        Ipv6Addr::LOCALHOST.into(),
        "2001:db8::1".parse().unwrap(),
        "::ffff:192.0.2.1".parse().unwrap(),
    ];
    if data.len() >= 16 {
        let tail: [u8; 16] = data[data.len() - 16..].try_into().unwrap();
        addrs.push(Ipv6Addr::from(tail).into());
        addrs.push(Ipv4Addr::new(tail[0], tail[1], tail[2], tail[3]).into());
    }
    for (city, asn) in [(Some(data.to_vec()), None), (None, Some(data.to_vec()))] {
        if let Ok(mut geo) = Geo::from_bytes(city, asn) {
            for a in &addrs {
                if let Some(g) = geo.lookup(*a) {
                    check(&g);
                }
            }
        }
    }
});
