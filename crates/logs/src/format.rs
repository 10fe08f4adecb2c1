//! Which kind of file a log is: named by the caller, or told from its first lines. A syslog
//! file mixes programs; its lines are dispatched by their tag, so one format covers them.

use crate::time::TimeContext;

/// A log file's line format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Format {
    /// Syslog in any header form (RFC 3164, RFC 5424, ISO-stamped file lines, priority
    /// only), and the vendor lines that come bare in such files (FortiGate key=value, Palo
    /// Alto CSV, Cisco %ASA). Each line goes to the parser its program tag names.
    Syslog,
    /// OpenVPN's own log file (`--log`): "2024-12-15 14:12:12 message" or the older
    /// "Sun Dec 15 14:12:12 2024 message".
    Openvpn,
    /// nginx / Apache access log: common or combined, optionally led by a virtual host.
    Access,
    /// One JSON event per line (see docs/logs.md).
    Json,
}

impl Format {
    pub const ALL: [Format; 4] = [
        Format::Syslog,
        Format::Openvpn,
        Format::Access,
        Format::Json,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            Format::Syslog => "syslog",
            Format::Openvpn => "openvpn",
            Format::Access => "access",
            Format::Json => "json",
        }
    }

    /// The format a user names (`--set` / config): the names above and common aliases.
    pub fn from_name(name: &str) -> Option<Format> {
        Some(match name.to_ascii_lowercase().as_str() {
            "syslog" | "auth" | "sshd" | "ssh" | "secure" | "journal" | "fortigate"
            | "fortinet" | "paloalto" | "globalprotect" | "asa" | "cisco" | "anyconnect"
            | "charon" | "strongswan" | "ipsec" | "kernel" | "iptables" | "nftables"
            | "wireguard" => Format::Syslog,
            "openvpn" => Format::Openvpn,
            "access" | "nginx" | "apache" | "httpd" | "combined" | "common" => Format::Access,
            "json" | "jsonl" | "ndjson" => Format::Json,
            _ => return None,
        })
    }

    /// Whether one line reads as this format.
    fn matches(self, line: &str) -> bool {
        // Any year will do to tell a header; the reference only picks one.
        let ctx = TimeContext {
            reference_secs: 253_000_000_000,
            utc_offset_secs: 0,
        };
        let mut clock = crate::time::Clock::new(ctx);
        match self {
            Format::Json => line.starts_with('{') && crate::json::looks_like_event(line),
            Format::Access => crate::access::looks_like(line),
            Format::Openvpn => crate::openvpn::file_prefix(line, &ctx).is_some(),
            Format::Syslog => {
                crate::syslog::parse(line, &mut clock).is_some()
                    || crate::fortigate::looks_like(line)
            }
        }
    }
}

/// The format most of the given first lines of a file read as (empty lines ignored), or
/// `None` when none fits. Syslog wins ties: its header is the most specific.
pub fn detect_format(lines: &[&str]) -> Option<Format> {
    let mut best = None;
    let mut best_n = 0;
    let lines: Vec<&str> = lines
        .iter()
        .map(|l| l.trim_end())
        .filter(|l| !l.is_empty())
        .collect();
    // Access and OpenVPN lines also parse as syslog-ish text sometimes; test the specific
    // formats first and let syslog win only by count.
    for f in [
        Format::Json,
        Format::Access,
        Format::Openvpn,
        Format::Syslog,
    ] {
        let n = lines.iter().filter(|l| f.matches(l)).count();
        if n > 0 && n >= best_n {
            best = Some(f);
            best_n = n;
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_each_format() {
        assert_eq!(
            detect_format(&["Feb 12 14:10:21 sd-126005 sshd[16378]: Invalid user pascal from 35.188.49.176 port 53502"]),
            Some(Format::Syslog)
        );
        assert_eq!(
            detect_format(&[
                r#"<30>1 2024-02-18T02:29:57+08:00 exmaple.com charon 15894 - [meta sequenceId="31"] 06[NET] x"#
            ]),
            Some(Format::Syslog)
        );
        assert_eq!(
            detect_format(&[
                r#"date=2024-10-14 time=13:46:40 eventtime=1728938800841267391 tz="-0700" logid="1234567890" type="event" subtype="vpn""#
            ]),
            Some(Format::Syslog)
        );
        assert_eq!(
            detect_format(&["2024-12-15 14:12:12 192.168.1.31:45321 TLS Error: incoming packet authentication failed from [AF_INET]192.168.1.31:45321"]),
            Some(Format::Openvpn)
        );
        assert_eq!(
            detect_format(&[
                r#"203.0.113.9 - - [10/Oct/2026:13:55:36 -0700] "GET / HTTP/1.1" 200 2326 "-" "curl/8.0""#,
                ""
            ]),
            Some(Format::Access)
        );
        assert_eq!(
            detect_format(&[
                r#"{"type":"auth","time":"2026-11-30T10:00:00Z","service":"ssh","outcome":"failure"}"#
            ]),
            Some(Format::Json)
        );
        assert_eq!(detect_format(&["just some text", ""]), None);
        assert_eq!(detect_format(&[]), None);
    }

    #[test]
    fn names() {
        for f in Format::ALL {
            assert_eq!(Format::from_name(f.as_str()), Some(f));
        }
        assert_eq!(Format::from_name("NGINX"), Some(Format::Access));
        assert_eq!(Format::from_name("xml"), None);
    }
}
