//! Small helpers over borrowed text: bounded copies for what an event keeps, addresses and
//! numbers, and the word scanning that every parser family shares.

use memchr::memmem::{Finder, FinderRev};
use std::net::{IpAddr, Ipv4Addr};
use std::sync::LazyLock;

/// Searchers for the words sshd lines are cut at, built once (building one per search cost
/// more than the search).
pub static FROM_REV: LazyLock<FinderRev<'static>> = LazyLock::new(|| FinderRev::new(" from "));
pub static PORT: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new(" port "));
pub static PORT_REV: LazyLock<FinderRev<'static>> = LazyLock::new(|| FinderRev::new(" port "));
pub static FOR: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new(" for "));
pub static PAM_AUTH_FAILURE: LazyLock<Finder<'static>> =
    LazyLock::new(|| Finder::new("(sshd:auth): authentication failure;"));

/// `s` split at its first space (the space dropped); memchr is quicker than a char
/// pattern on these short fields.
#[inline]
pub fn split_space(s: &str) -> Option<(&str, &str)> {
    let i = memchr::memchr(b' ', s.as_bytes())?;
    Some((&s[..i], &s[i + 1..]))
}

/// `s` split at its last space.
#[inline]
pub fn rsplit_space(s: &str) -> Option<(&str, &str)> {
    let i = memchr::memrchr(b' ', s.as_bytes())?;
    Some((&s[..i], &s[i + 1..]))
}

/// `s` split around the first match of `f`.
#[inline]
pub fn split_at<'a>(s: &'a str, f: &Finder, len: usize) -> Option<(&'a str, &'a str)> {
    let i = f.find(s.as_bytes())?;
    Some((s.get(..i)?, s.get(i + len..)?))
}

/// `s` split around the last match of `f`.
#[inline]
pub fn rsplit_at<'a>(s: &'a str, f: &FinderRev, len: usize) -> Option<(&'a str, &'a str)> {
    let i = f.rfind(s.as_bytes())?;
    Some((s.get(..i)?, s.get(i + len..)?))
}

/// Longest user name kept (longer ones are cut at a character boundary).
pub const MAX_USER: usize = 128;
/// Longest reason, user agent or referer kept.
pub const MAX_REASON: usize = 256;
/// Longest host or virtual host kept.
pub const MAX_HOST: usize = 255;
/// Longest HTTP path kept.
pub const MAX_PATH: usize = 1024;
/// Longest HTTP method kept.
pub const MAX_METHOD: usize = 16;

/// A copy of `s` of at most `max` bytes, cut at a character boundary; the bool tells
/// whether it was cut.
pub fn bounded(s: &str, max: usize) -> (String, bool) {
    if s.len() <= max {
        return (s.to_owned(), false);
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    (s[..end].to_owned(), true)
}

/// An IPv4 or IPv6 address; IPv4-mapped IPv6 addresses become IPv4 (sshd and OpenVPN on
/// dual-stack sockets write them so).
#[inline]
pub fn ip(s: &str) -> Option<IpAddr> {
    // Cheap rejection before std's parser: addresses are short and start with a hex digit
    // or ':'.
    let b = s.as_bytes();
    if b.is_empty() || b.len() > 45 || !(b[0].is_ascii_hexdigit() || b[0] == b':') {
        return None;
    }
    if let Some(v4) = ipv4(b) {
        return Some(IpAddr::V4(v4));
    }
    if !b.contains(&b':') {
        return None;
    }
    let a: IpAddr = s.parse().ok()?;
    Some(a.to_canonical())
}

/// Dotted-quad IPv4 as std reads it (no leading zeros), without its general parser.
#[inline]
fn ipv4(b: &[u8]) -> Option<Ipv4Addr> {
    let mut octets = [0u8; 4];
    let mut i = 0;
    for (n, o) in octets.iter_mut().enumerate() {
        if n > 0 {
            if b.get(i) != Some(&b'.') {
                return None;
            }
            i += 1;
        }
        let start = i;
        let mut v = 0u32;
        while i < b.len() && b[i].is_ascii_digit() && i - start < 3 {
            v = v * 10 + u32::from(b[i] - b'0');
            i += 1;
        }
        let len = i - start;
        if len == 0 || v > 255 || (len > 1 && b[start] == b'0') {
            return None;
        }
        *o = v as u8;
    }
    (i == b.len()).then_some(Ipv4Addr::from(octets))
}

/// A decimal u16 (a port).
#[inline]
pub fn port(s: &str) -> Option<u16> {
    let b = s.as_bytes();
    if b.is_empty() || b.len() > 5 || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    s.parse().ok()
}

/// A decimal u32 of at most 10 digits.
#[inline]
pub fn number(s: &str) -> Option<u32> {
    let b = s.as_bytes();
    if b.is_empty() || b.len() > 10 || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    s.parse().ok()
}

/// "ADDR:PORT", "[ADDR]:PORT" or "[AF_INET]ADDR:PORT" (OpenVPN, WireGuard); IPv6 without
/// brackets is split at its last colon.
pub fn addr_port(s: &str) -> Option<(IpAddr, u16)> {
    let s = s
        .strip_prefix("[AF_INET]")
        .or_else(|| s.strip_prefix("[AF_INET6]"))
        .unwrap_or(s);
    let (a, p) = s.rsplit_once(':')?;
    let a = a
        .strip_prefix('[')
        .and_then(|a| a.strip_suffix(']'))
        .unwrap_or(a);
    Some((ip(a)?, port(p)?))
}

/// The text between the first `open` and the next `close` after it.
pub fn between<'a>(s: &'a str, open: &str, close: &str) -> Option<&'a str> {
    let start = s.find(open)? + open.len();
    let len = s[start..].find(close)?;
    Some(&s[start..start + len])
}

/// A quoted name as sshd, strongSwan and OpenVPN write them: 'name'.
pub fn quoted(s: &str) -> Option<&str> {
    between(s, "'", "'")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_cuts_at_char_boundary() {
        assert_eq!(bounded("héllo", 2), ("h".to_string(), true));
        assert_eq!(bounded("hello", 5), ("hello".to_string(), false));
    }

    #[test]
    fn addresses() {
        assert_eq!(ip("::ffff:192.0.2.1"), Some("192.0.2.1".parse().unwrap()));
        assert_eq!(ip("2001:db8::1"), Some("2001:db8::1".parse().unwrap()));
        assert_eq!(ip("host"), None);
        assert_eq!(ip("1.2.3.4"), Some("1.2.3.4".parse().unwrap()));
        for bad in [
            "1.2.3",
            "1.2.3.4.5",
            "1.2.3.256",
            "01.2.3.4",
            "1.2.3.4 ",
            "1..3.4",
            "1.2.3.1234",
        ] {
            assert_eq!(ip(bad), None, "{bad}");
        }
        assert_eq!(
            addr_port("[AF_INET]192.168.1.31:45321"),
            Some(("192.168.1.31".parse().unwrap(), 45321))
        );
        assert_eq!(
            addr_port("[2001:db8::5]:51820"),
            Some(("2001:db8::5".parse().unwrap(), 51820))
        );
        assert_eq!(
            addr_port("[AF_INET6]2001:db8::5:1194"),
            Some(("2001:db8::5".parse().unwrap(), 1194))
        );
        assert_eq!(addr_port("1.2.3.4:99999"), None);
    }
}
