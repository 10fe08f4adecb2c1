//! One test per parser family with lines shaped as each product writes them, and the bad
//! input every reader must survive: binary junk, a 1 MB line, broken UTF-8, cut-off lines,
//! and more connections than the state holds.

use rampart_logs::{
    AuthEvent, AuthMethod, Format, Framing, LogEvent, LogReader, Outcome, Service, TimeContext,
    Timestamp,
};
use std::net::IpAddr;

/// 2026-12-01T12:00:00Z.
fn ctx() -> TimeContext {
    TimeContext::new(Timestamp::from_secs(1_796_126_400), 0)
}

fn ip(s: &str) -> IpAddr {
    s.parse().expect("address")
}

fn read(format: Format, text: &str) -> (Vec<LogEvent>, rampart_logs::ParseStats) {
    LogReader::read_all(format, ctx(), text.as_bytes())
}

fn auth(format: Format, text: &str) -> Vec<AuthEvent> {
    let (ev, stats) = read(format, text);
    assert_eq!(stats.errors(), 0, "{stats:?}");
    ev.iter().filter_map(LogEvent::as_auth).cloned().collect()
}

fn summary(ev: &[AuthEvent]) -> Vec<(Outcome, Option<&str>, Option<IpAddr>)> {
    ev.iter()
        .map(|e| (e.outcome, e.user.as_deref(), e.source))
        .collect()
}

#[test]
fn cisco_asa_anyconnect() {
    let log = r#"<166>Dec 01 2026 10:00:00 asa01 : %ASA-6-113015: AAA user authentication Rejected : reason = Invalid password : local database : user = admin : user IP = 198.51.100.7
<166>Dec 01 2026 10:00:00 asa01 : %ASA-6-716039: Group <DfltGrpPolicy> User <admin> IP <198.51.100.7> Authentication: rejected, Session Type: WebVPN.
<166>Dec 01 2026 10:00:03 asa01 : %ASA-6-113015: AAA user authentication Rejected : reason = Invalid password : local database : user = admin : user IP = 198.51.100.7
<166>Dec 01 2026 10:00:03 asa01 : %ASA-6-716039: Group <DfltGrpPolicy> User <admin> IP <198.51.100.7> Authentication: rejected, Session Type: WebVPN.
<166>Dec 01 2026 10:00:05 asa01 : %ASA-6-113015: AAA user authentication Rejected : reason = Invalid password : local database : user = admin : user IP = 198.51.100.7
<166>Dec 01 2026 10:01:00 asa01 : %ASA-6-113004: AAA user authentication Successful : server = 10.0.0.5 : user = alice
<166>Dec 01 2026 10:01:00 asa01 : %ASA-6-716038: Group <GP-Staff> User <alice> IP <192.0.2.10> Authentication: successful, Session Type: WebVPN.
<166>Dec 01 2026 10:01:01 asa01 : %ASA-4-722051: Group <GP-Staff> User <alice> IP <192.0.2.10> IPv4 Address <10.10.1.5> IPv6 address <::> assigned to session
<166>Dec 01 2026 11:00:00 asa01 : %ASA-4-722037: Group <GP-Staff> User <alice> IP <192.0.2.10> SVC closing connection: DPD failure.
<166>Dec 01 2026 11:05:00 asa01 : %ASA-6-605004: Login denied from 203.0.113.4/51234 to outside:192.0.2.1/ssh for user "admin"
"#;
    let ev = auth(Format::Syslog, log);
    assert_eq!(
        summary(&ev),
        [
            (Outcome::Failure, Some("admin"), Some(ip("198.51.100.7"))),
            (Outcome::Failure, Some("admin"), Some(ip("198.51.100.7"))),
            (Outcome::Failure, Some("admin"), Some(ip("198.51.100.7"))),
            (Outcome::Success, Some("alice"), Some(ip("192.0.2.10"))),
            (Outcome::Disconnect, Some("alice"), Some(ip("192.0.2.10"))),
            (Outcome::Failure, Some("admin"), Some(ip("203.0.113.4"))),
        ]
    );
    assert_eq!(ev[0].service, Service::Anyconnect);
    assert_eq!(ev[0].reason.as_deref(), Some("Invalid password"));
    assert_eq!(ev[0].host.as_deref(), Some("asa01"));
    assert_eq!(ev[0].time.to_string(), "2026-12-01T10:00:00.000Z");
    assert_eq!(ev[4].reason.as_deref(), Some("DPD failure"));
    assert_eq!(ev[5].service, Service::Ssh);
}

#[test]
fn palo_alto_globalprotect() {
    let log = concat!(
        "<14>Dec  1 10:00:00 PA-VM 1,2026/12/01 10:00:00,013201001234,GLOBALPROTECT,0,2817,2026/12/01 10:00:00,vsys1,gateway-auth,login,LDAP,,corp\\jdoe,US,LAPTOP-1,203.0.113.44,::,0.0.0.0,::,hostid-1,serial-1,6.1.0,Windows,\"Microsoft Windows 10 Pro , 64-bit\",1,,Authentication failed: Invalid username or password,,failure,,0,user-logon,0,GP-Portal,7298393902,0x8000000000000000,2026-12-01T10:00:00.123+00:00,,,,,,0,0,0,0,,PA-VM,1,\n",
        "<14>Dec  1 10:00:30 PA-VM 1,2026/12/01 10:00:30,013201001234,GLOBALPROTECT,0,2817,2026/12/01 10:00:30,vsys1,gateway-auth,login,LDAP,,corp\\jdoe,US,LAPTOP-1,203.0.113.44,::,0.0.0.0,::,hostid-1,serial-1,6.1.0,Windows,\"Microsoft Windows 10 Pro , 64-bit\",1,,,,success,,0,user-logon,0,GP-Portal,7298393903,0x8000000000000000,2026-12-01T10:00:30.000+00:00,,,,,,0,0,0,0,,PA-VM,1,\n",
        "<14>Dec  1 10:05:00 PA-VM 1,2026/12/01 10:05:00,013201001234,SYSTEM,globalprotect,0,2026/12/01 10:05:00,,globalprotectgateway-auth-fail,GP-Gateway,0,0,general,informational,\"GlobalProtect gateway user authentication failed. Login from: 203.0.113.45, Source region: US, User name: mallory, Client OS version: Microsoft Windows 10 Pro , 64-bit, Reason: Authentication failed: Invalid username or password, Auth type: profile.\",7298393904,0x0,0,0,0,0,,PA-VM\n",
    );
    let ev = auth(Format::Syslog, log);
    assert_eq!(
        summary(&ev),
        [
            (
                Outcome::Failure,
                Some("corp\\jdoe"),
                Some(ip("203.0.113.44"))
            ),
            (
                Outcome::Success,
                Some("corp\\jdoe"),
                Some(ip("203.0.113.44"))
            ),
            (Outcome::Failure, Some("mallory"), Some(ip("203.0.113.45"))),
        ]
    );
    assert!(ev.iter().all(|e| e.service == Service::Globalprotect));
    assert_eq!(ev[0].time.to_string(), "2026-12-01T10:00:00.123Z");
    assert_eq!(
        ev[0].reason.as_deref(),
        Some("Authentication failed: Invalid username or password")
    );
    assert_eq!(
        ev[2].reason.as_deref(),
        Some("Authentication failed: Invalid username or password")
    );
}

#[test]
fn wireguard_dynamic_debug() {
    let log = "\
Dec  1 10:00:00 vpn kernel: [12345.678901] wireguard: wg0: Receiving handshake initiation from peer 5 (203.0.113.7:51820)
Dec  1 10:00:00 vpn kernel: [12345.679001] wireguard: wg0: Sending handshake response to peer 5 (203.0.113.7:51820)
Dec  1 10:00:00 vpn kernel: [12345.679101] wireguard: wg0: Keypair 7 created for peer 5
Dec  1 10:00:01 vpn kernel: [12345.778901] wireguard: wg0: Invalid handshake initiation from 198.51.100.9:4444
Dec  1 10:00:02 vpn kernel: [12345.878901] wireguard: wg0: Invalid MAC of handshake, dropping packet from [2001:db8::9]:4444
";
    let ev = auth(Format::Syslog, log);
    assert_eq!(
        summary(&ev),
        [
            (Outcome::Success, Some("peer 5"), Some(ip("203.0.113.7"))),
            (Outcome::Failure, None, Some(ip("198.51.100.9"))),
            (Outcome::HandshakeError, None, Some(ip("2001:db8::9"))),
        ]
    );
    assert_eq!(ev[0].source_port, Some(51820));
    assert!(ev.iter().all(|e| e.service == Service::Wireguard));
}

#[test]
fn openvpn_through_syslog_with_passwords_and_certificates() {
    let log = "\
Dec  1 09:00:00 vpn openvpn[900]: 203.0.113.20:50001 TLS: Username/Password authentication deferred for username 'carol'
Dec  1 09:00:00 vpn openvpn[900]: AUTH-PAM: BACKGROUND: user 'carol' failed to authenticate: Authentication failure
Dec  1 09:00:00 vpn openvpn[900]: 203.0.113.20:50001 PLUGIN_CALL: POST /usr/lib/openvpn/openvpn-plugin-auth-pam.so/PLUGIN_AUTH_USER_PASS_VERIFY status=1
Dec  1 09:00:00 vpn openvpn[900]: 203.0.113.20:50001 TLS Auth Error: Auth Username/Password verification failed for peer
Dec  1 09:00:30 vpn openvpn[900]: AUTH-PAM: BACKGROUND: user 'frank' failed to authenticate: Authentication failure
Dec  1 09:00:30 vpn openvpn[900]: 203.0.113.24:50005 TLS Auth Error: Auth Username/Password verification failed for peer
Dec  1 09:01:00 vpn openvpn[900]: 203.0.113.21:50002 VERIFY ERROR: depth=0, error=certificate has expired: C=US, O=Example, CN=dave
Dec  1 09:02:00 vpn openvpn[900]: 203.0.113.22:50003 TLS: Username/Password authentication succeeded for username 'erin'
Dec  1 09:02:00 vpn openvpn[900]: 203.0.113.22:50003 [erin] Peer Connection Initiated with [AF_INET]203.0.113.22:50003
Dec  1 09:03:00 vpn openvpn[900]: 203.0.113.23:50004 TLS Error: TLS handshake failed
Dec  1 10:02:00 vpn openvpn[900]: erin/203.0.113.22:50003 SIGTERM[soft,remote-exit] received, client-instance exiting
";
    let ev = auth(Format::Syslog, log);
    assert_eq!(
        summary(&ev),
        [
            (Outcome::Failure, Some("carol"), Some(ip("203.0.113.20"))),
            (Outcome::Failure, Some("frank"), Some(ip("203.0.113.24"))),
            (Outcome::Failure, Some("dave"), Some(ip("203.0.113.21"))),
            (Outcome::Success, Some("erin"), Some(ip("203.0.113.22"))),
            (Outcome::HandshakeError, None, Some(ip("203.0.113.23"))),
            (Outcome::Disconnect, Some("erin"), Some(ip("203.0.113.22"))),
        ]
    );
    let methods: Vec<_> = ev.iter().map(|e| e.method).collect();
    assert_eq!(
        methods,
        [
            Some(AuthMethod::Password),
            Some(AuthMethod::Password),
            Some(AuthMethod::Certificate),
            Some(AuthMethod::Password),
            None,
            None
        ]
    );
    assert_eq!(ev[2].reason.as_deref(), Some("certificate has expired"));
}

#[test]
fn openvpn_own_file_old_timestamps() {
    let ev = auth(
        Format::Openvpn,
        "Sun Dec 15 14:12:12 2024 us=123456 192.168.1.31:45321 TLS Error: tls-crypt unwrapping failed from [AF_INET]192.168.1.31:45321\n",
    );
    assert_eq!(ev.len(), 1);
    assert_eq!(ev[0].time.to_string(), "2024-12-15T14:12:12.000Z");
    assert_eq!(ev[0].method, Some(AuthMethod::Psk));
}

#[test]
fn strongswan_psk_mismatch_and_eap_success() {
    let log = "\
Dec  1 08:00:00 gw charon: 10[NET] <5> received packet: from 198.51.100.50[500] to 192.0.2.1[500] (464 bytes)
Dec  1 08:00:00 gw charon: 10[IKE] <5> 198.51.100.50 is initiating an IKE_SA
Dec  1 08:00:01 gw charon: 10[IKE] <site|5> tried 1 shared key for 'gw.example.com' - 'branch7', but MAC mismatched
Dec  1 08:00:01 gw charon: 10[ENC] <site|5> generating IKE_AUTH response 1 [ N(AUTH_FAILED) ]
Dec  1 08:05:00 gw charon: 11[NET] <rw|6> received packet: from 198.51.100.60[4500] to 192.0.2.1[4500] (80 bytes)
Dec  1 08:05:00 gw charon: 11[IKE] <rw|6> authentication of 'alice@example.com' with EAP successful
Dec  1 08:05:00 gw charon: 11[IKE] <rw|6> IKE_SA rw[6] established between 192.0.2.1[gw.example.com]...198.51.100.60[alice@example.com]
";
    let ev = auth(Format::Syslog, log);
    assert_eq!(
        summary(&ev),
        [
            (Outcome::Failure, Some("branch7"), Some(ip("198.51.100.50"))),
            (
                Outcome::Success,
                Some("alice@example.com"),
                Some(ip("198.51.100.60"))
            ),
        ]
    );
    assert_eq!(ev[0].method, Some(AuthMethod::Psk));
    assert_eq!(ev[1].method, Some(AuthMethod::Eap));
    assert_eq!(ev[1].source_port, Some(4500));
}

#[test]
fn fortigate_through_syslog_tunnel_up_and_admin_login() {
    let log = concat!(
        "<189>date=2026-11-30 time=10:00:00 devname=\"FGT-HQ\" devid=\"FG100F\" eventtime=1796032800000000000 tz=\"+0000\" logid=\"0101039424\" type=\"event\" subtype=\"vpn\" level=\"information\" vd=\"root\" logdesc=\"SSL VPN tunnel up\" action=\"tunnel-up\" tunneltype=\"ssl-tunnel\" tunnelid=1 remip=192.0.2.30 user=\"bob\" group=\"vpn\" reason=\"N/A\" msg=\"SSL tunnel established\"\n",
        "<189>date=2026-11-30 time=10:01:00 devname=\"FGT-HQ\" logid=\"0100032002\" type=\"event\" subtype=\"system\" level=\"alert\" vd=\"root\" logdesc=\"Admin login failed\" sn=\"0\" user=\"admin\" ui=\"https(203.0.113.3)\" method=\"https\" srcip=203.0.113.3 dstip=192.0.2.1 action=\"login\" status=\"failed\" reason=\"passwd_invalid\" msg=\"Administrator admin login failed from https(203.0.113.3) because of invalid password\"\n",
    );
    let ev = auth(Format::Syslog, log);
    assert_eq!(
        summary(&ev),
        [
            (Outcome::Success, Some("bob"), Some(ip("192.0.2.30"))),
            (Outcome::Failure, Some("admin"), Some(ip("203.0.113.3"))),
        ]
    );
    assert_eq!(ev[0].service, Service::FortigateSslvpn);
    assert_eq!(ev[0].host.as_deref(), Some("FGT-HQ"));
    assert_eq!(ev[0].time.to_string(), "2026-11-30T10:00:00.000Z");
    assert_eq!(ev[1].service, Service::Other);
    // No eventtime: date and time in the zone the caller gives (UTC here).
    assert_eq!(ev[1].time.to_string(), "2026-11-30T10:01:00.000Z");
    assert_eq!(ev[1].reason.as_deref(), Some("passwd_invalid"));
}

#[test]
fn access_logs() {
    let log = r#"203.0.113.9 - - [10/Oct/2026:13:55:36 -0700] "GET /index.html HTTP/1.1" 200 2326 "http://example.com/" "Mozilla/5.0 (X11)"
www.example.com:443 2001:db8::1 - bob [10/Oct/2026:13:55:37 +0000] "POST /login?x=1 HTTP/2.0" 401 - "-" "curl/8.0"
198.51.100.1 - - [10/Oct/2026:13:55:38 +0000] "\x16\x03\x01\x00\xa5\x01" 400 157 "-" "-"
192.0.2.5 - - [10/Oct/2026:13:55:39 +0000] "GET / HTTP/1.0" 200 10
"#;
    let (ev, stats) = read(Format::Access, log);
    assert_eq!(stats.errors(), 0);
    let h: Vec<_> = ev.iter().filter_map(LogEvent::as_http).collect();
    assert_eq!(h.len(), 4);
    assert_eq!(h[0].time.to_string(), "2026-10-10T20:55:36.000Z");
    assert_eq!(
        (
            h[0].method.as_deref(),
            h[0].path.as_str(),
            h[0].status,
            h[0].bytes
        ),
        (Some("GET"), "/index.html", 200, 2326)
    );
    assert_eq!(h[0].user_agent.as_deref(), Some("Mozilla/5.0 (X11)"));
    assert_eq!(h[0].referer.as_deref(), Some("http://example.com/"));
    assert_eq!(h[1].vhost.as_deref(), Some("www.example.com"));
    assert_eq!(h[1].client, ip("2001:db8::1"));
    assert_eq!(h[1].user.as_deref(), Some("bob"));
    assert_eq!((h[1].status, h[1].bytes), (401, 0));
    assert_eq!(h[1].user_agent.as_deref(), Some("curl/8.0"));
    assert_eq!(h[2].method, None);
    assert_eq!(h[2].path, r"\x16\x03\x01\x00\xa5\x01");
    assert_eq!(h[3].user_agent, None);
    assert_eq!(
        serde_json::to_string(&ev[3]).unwrap(),
        r#"{"type":"http","time":"2026-10-10T13:55:39.000Z","client":"192.0.2.5","method":"GET","path":"/","status":200,"bytes":10}"#
    );
}

#[test]
fn nginx_through_syslog() {
    let (ev, _) = read(
        Format::Syslog,
        "Oct 10 13:55:36 web nginx: 203.0.113.9 - - [10/Oct/2026:13:55:36 +0000] \"GET / HTTP/1.1\" 404 0 \"-\" \"x\"\n",
    );
    assert_eq!(ev[0].as_http().unwrap().status, 404);
}

#[test]
fn json_events() {
    let log = r#"{"type":"auth","time":"2026-11-30T10:00:00Z","service":"openvpn","outcome":"failure","user":"zed","source":"192.0.2.77","attempts":3,"extra":"ignored"}
{"type":"http","time":1796126400,"client":"192.0.2.78","path":"/","status":200}
{"type":"auth","time":"yesterday","service":"ssh","outcome":"failure"}
{"type":"nope"}
{"type":"auth","time":"2026-11-30T10:00:00Z","service":"ssh","outcome":"success","user":"root","attempts":0}
"#;
    let (ev, stats) = read(Format::Json, log);
    assert_eq!(stats.malformed, 2);
    assert_eq!(ev.len(), 3);
    let a = ev[0].as_auth().unwrap();
    assert_eq!(
        (a.service, a.outcome, a.attempts),
        (Service::Openvpn, Outcome::Failure, 3)
    );
    assert_eq!(a.source, Some(ip("192.0.2.77")));
    assert_eq!(
        ev[1].as_http().unwrap().time.to_string(),
        "2026-12-01T12:00:00.000Z"
    );
    // attempts is at least 1.
    assert_eq!(ev[2].as_auth().unwrap().attempts, 1);
    // What we write, we read back.
    let line = serde_json::to_string(&ev[0]).unwrap();
    let (again, _) = read(Format::Json, &line);
    assert_eq!(again, vec![ev[0].clone()]);
}

#[test]
fn netfilter_udp_icmp_and_ipv6() {
    let log = "\
Dec  1 10:00:00 fw kernel: [UFW BLOCK] IN=eth0 OUT= MAC=00:00:00:00:00:00:00:00:00:00:00:00:08:00 SRC=198.51.100.3 DST=192.0.2.1 LEN=78 TOS=0x00 PREC=0x00 TTL=50 ID=1 PROTO=UDP SPT=5353 DPT=161 LEN=58
Dec  1 10:00:01 fw kernel: nft-drop: IN=eth0 OUT= SRC=198.51.100.4 DST=192.0.2.1 LEN=84 TOS=0x00 PREC=0x00 TTL=60 ID=2 DF PROTO=ICMP TYPE=8 CODE=0 ID=77 SEQ=1
Dec  1 10:00:02 fw kernel: IN=eth0 OUT= SRC=2001:db8::5 DST=2001:db8::1 LEN=80 TC=0 HOPLIMIT=57 FLOWLBL=0 PROTO=TCP SPT=40000 DPT=22 WINDOW=64240 RES=0x00 ACK FIN URGP=0
Dec  1 10:00:03 fw kernel: IN=eth0 OUT= SRC=198.51.100.6 DST=192.0.2.1 LEN=576 TOS=0x00 PREC=0x00 TTL=52 ID=3 PROTO=ICMP TYPE=3 CODE=3 [SRC=192.0.2.1 DST=198.51.100.6 LEN=548 TOS=0x00 PREC=0x00 TTL=64 ID=9 PROTO=UDP SPT=53 DPT=4444 LEN=528 ]
";
    let (ev, stats) = read(Format::Syslog, log);
    assert_eq!(stats.errors(), 0);
    let f: Vec<_> = ev.iter().filter_map(LogEvent::as_flow).collect();
    assert_eq!(f.len(), 4);
    assert_eq!(
        (
            f[0].ip_protocol,
            f[0].src_port,
            f[0].dst_port,
            f[0].bytes,
            f[0].tcp_flags
        ),
        (17, Some(5353), Some(161), 78, None)
    );
    assert_eq!(
        (f[1].ip_protocol, f[1].icmp_type, f[1].icmp_code, f[1].ttl),
        (1, Some(8), Some(0), Some(60))
    );
    assert_eq!(
        (f[2].src_addr, f[2].tcp_flags, f[2].ttl),
        (ip("2001:db8::5"), Some(0x11), Some(57))
    );
    // The quoted packet of an ICMP error is not read as this packet's ports.
    assert_eq!(
        (f[3].icmp_type, f[3].src_port, f[3].dst_port),
        (Some(3), None, None)
    );
}

#[test]
fn octet_counted_tcp_syslog() {
    let frames = [
        "<38>1 2026-11-30T10:00:00Z host sshd 123 - - Invalid user x from 192.0.2.1 port 5",
        "<38>Nov 30 10:00:01 host sshd[124]: Invalid user y from 192.0.2.2 port 6",
    ];
    let mut stream = Vec::new();
    for f in frames {
        stream.extend_from_slice(format!("{} {f}", f.len()).as_bytes());
    }
    stream.extend_from_slice(
        b"<38>Nov 30 10:00:02 host sshd[125]: Invalid user z from 192.0.2.3 port 7\n",
    );
    let mut r = LogReader::with_framing(Format::Syslog, ctx(), Framing::Syslog, 1024);
    let mut users = Vec::new();
    // Byte by byte: frames cut anywhere.
    for b in &stream {
        r.push(std::slice::from_ref(b));
        while let Some(e) = r.poll_event() {
            users.push(e.as_auth().unwrap().user.clone().unwrap());
        }
    }
    r.finish();
    while let Some(e) = r.poll_event() {
        users.push(e.as_auth().unwrap().user.clone().unwrap());
    }
    assert_eq!(users, ["x", "y", "z"]);
}

#[test]
fn chunking_does_not_change_the_result() {
    let text = include_bytes!("fixtures/crowdsec/charon-ipsec-bf.log");
    let (whole, _) = LogReader::read_all(Format::Syslog, ctx(), text);
    for size in [1, 7, 100, 4096] {
        let mut r = LogReader::new(Format::Syslog, ctx());
        let mut got = Vec::new();
        for chunk in text.chunks(size) {
            r.push(chunk);
            while let Some(e) = r.poll_event() {
                got.push(e);
            }
        }
        r.finish();
        while let Some(e) = r.poll_event() {
            got.push(e);
        }
        assert_eq!(got, whole, "chunks of {size}");
    }
}

#[test]
fn bad_lines_are_counted_and_skipped() {
    let mut input = Vec::new();
    // Binary junk with NULs and control bytes.
    input.extend((0u8..=255).cycle().take(3000).filter(|&b| b != b'\n'));
    input.push(b'\n');
    // A 1 MB line, then a good one right after it.
    input.extend_from_slice(b"Nov 30 10:00:00 h sshd[1]: Failed password for ");
    input.extend(std::iter::repeat_n(b'a', 1 << 20));
    input.extend_from_slice(b" from 192.0.2.1 port 1 ssh2\n");
    input.extend_from_slice(
        b"Nov 30 10:00:01 h sshd[2]: Failed password for root from 192.0.2.2 port 2 ssh2\n",
    );
    // Broken UTF-8 in a user name: still counted as an attempt.
    input.extend_from_slice(
        b"Nov 30 10:00:02 h sshd[3]: Invalid user \xff\xfeadm from 192.0.2.3 port 3\n",
    );
    // Cut off mid-address.
    input.extend_from_slice(b"Nov 30 10:00:03 h sshd[4]: Failed password for root from 192.0.\n");
    // Not syslog at all.
    input.extend_from_slice(b"hello\n");
    // A known program with nothing to say, and an unknown program.
    input.extend_from_slice(b"Nov 30 10:00:04 h sshd[5]: Server listening on 0.0.0.0 port 22.\n");
    input.extend_from_slice(b"Nov 30 10:00:05 h CRON[6]: (root) CMD (true)\n");
    let mut r = LogReader::new(Format::Syslog, ctx());
    let mut ev = Vec::new();
    for chunk in input.chunks(64 * 1024) {
        r.push(chunk);
        while let Some(e) = r.poll_event() {
            ev.push(e);
        }
        // Never more than a line's limit and a chunk held.
        assert!(r.buffered() <= 2 * 64 * 1024);
    }
    r.finish();
    while let Some(e) = r.poll_event() {
        ev.push(e);
    }
    let s = r.stats();
    assert_eq!(s.too_long, 1);
    assert_eq!(s.invalid_utf8, 2, "{s:?}");
    assert_eq!(s.malformed, 1);
    assert_eq!(s.bad_header, 2);
    assert_eq!(s.other_program, 1);
    assert_eq!(s.ignored, 1);
    let users: Vec<_> = ev
        .iter()
        .filter_map(|e| e.as_auth()?.user.clone())
        .collect();
    assert_eq!(users, ["root", "\u{fffd}\u{fffd}adm"]);
}

#[test]
fn connection_state_is_bounded() {
    let mut r = LogReader::new(Format::Syslog, ctx());
    let mut n = 0u64;
    let mut line = String::new();
    for pid in 0..100_000u32 {
        line.clear();
        line.push_str(&format!(
            "Nov 30 10:00:00 h sshd[{pid}]: Invalid user u{pid} from 10.{}.{}.{} port 22\n",
            pid >> 16,
            (pid >> 8) & 255,
            pid & 255
        ));
        r.push(line.as_bytes());
        while r.poll_event().is_some() {
            n += 1;
        }
    }
    assert_eq!(n, 100_000);
    assert!(r.parser().state_len() <= 65_536);
    assert_eq!(r.stats().state_evictions, 100_000 - 65_536);
}
