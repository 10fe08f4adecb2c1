//! sshd sequences as OpenSSH 9.x writes them (Debian 12's 9.2p1 with and without UsePAM,
//! and 9.8+'s sshd-session), with the number of attempts each really is.

use rampart_logs::{
    tally_by_source, AuthEvent, AuthMethod, Format, LogReader, Outcome, TimeContext, Timestamp,
};

/// 2026-12-01T12:00:00Z: the logs below are from the days before.
fn ctx() -> TimeContext {
    TimeContext::new(Timestamp::from_secs(1_796_126_400), 0)
}

fn auth(text: &str) -> Vec<AuthEvent> {
    let (events, stats) = LogReader::read_all(Format::Syslog, ctx(), text.as_bytes());
    assert_eq!(stats.errors(), 0, "{stats:?}");
    events
        .into_iter()
        .map(|e| e.as_auth().cloned().expect("only auth events"))
        .collect()
}

fn attempts(events: &[AuthEvent], outcome: Outcome) -> u32 {
    events
        .iter()
        .filter(|e| e.outcome == outcome)
        .map(|e| e.attempts)
        .sum()
}

#[test]
fn invalid_user_with_pam_three_passwords() {
    let log = "\
Nov 30 10:00:01 web1 sshd[2001]: Invalid user admin from 203.0.113.5 port 50022
Nov 30 10:00:03 web1 sshd[2001]: pam_unix(sshd:auth): check pass; user unknown
Nov 30 10:00:03 web1 sshd[2001]: pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=203.0.113.5
Nov 30 10:00:05 web1 sshd[2001]: Failed password for invalid user admin from 203.0.113.5 port 50022 ssh2
Nov 30 10:00:07 web1 sshd[2001]: pam_unix(sshd:auth): check pass; user unknown
Nov 30 10:00:09 web1 sshd[2001]: Failed password for invalid user admin from 203.0.113.5 port 50022 ssh2
Nov 30 10:00:11 web1 sshd[2001]: pam_unix(sshd:auth): check pass; user unknown
Nov 30 10:00:13 web1 sshd[2001]: Failed password for invalid user admin from 203.0.113.5 port 50022 ssh2
Nov 30 10:00:13 web1 sshd[2001]: Connection closed by invalid user admin 203.0.113.5 port 50022 [preauth]
Nov 30 10:00:13 web1 sshd[2001]: PAM 2 more authentication failures; logname= uid=0 euid=0 tty=ssh ruser= rhost=203.0.113.5
";
    let ev = auth(log);
    assert_eq!(attempts(&ev, Outcome::Failure), 3);
    assert_eq!(attempts(&ev, Outcome::Disconnect), 1);
    let first = &ev[0];
    assert_eq!(first.time.to_string(), "2026-11-30T10:00:01.000Z");
    assert_eq!(first.user.as_deref(), Some("admin"));
    assert!(first.invalid_user);
    assert_eq!(first.source, Some("203.0.113.5".parse().unwrap()));
    assert_eq!(first.source_port, Some(50022));
    assert_eq!(first.host.as_deref(), Some("web1"));
    assert!(ev
        .iter()
        .filter(|e| e.outcome == Outcome::Failure)
        .all(|e| e.invalid_user));
    // The later failures carry the method.
    assert_eq!(ev[1].method, Some(AuthMethod::Password));
}

#[test]
fn valid_user_with_pam_folded_repeats_and_max_tries() {
    let log = "\
Nov 30 10:05:00 web1 sshd[2100]: pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=198.51.100.23  user=root
Nov 30 10:05:02 web1 sshd[2100]: Failed password for root from 198.51.100.23 port 41234 ssh2
Nov 30 10:05:06 web1 sshd[2100]: message repeated 5 times: [ Failed password for root from 198.51.100.23 port 41234 ssh2]
Nov 30 10:05:06 web1 sshd[2100]: error: maximum authentication attempts exceeded for root from 198.51.100.23 port 41234 ssh2 [preauth]
Nov 30 10:05:06 web1 sshd[2100]: Disconnecting authenticating user root 198.51.100.23 port 41234: Too many authentication failures [preauth]
Nov 30 10:05:06 web1 sshd[2100]: PAM 5 more authentication failures; logname= uid=0 euid=0 tty=ssh ruser= rhost=198.51.100.23  user=root
";
    let ev = auth(log);
    assert_eq!(attempts(&ev, Outcome::Failure), 6);
    // The folded line is one event standing for five attempts.
    assert_eq!(
        ev.iter().filter(|e| e.outcome == Outcome::Failure).count(),
        2
    );
    assert_eq!(ev[1].attempts, 5);
    assert_eq!(attempts(&ev, Outcome::TooManyAttempts), 1);
    assert!(ev
        .iter()
        .all(|e| e.user.as_deref() == Some("root") && !e.invalid_user));
}

#[test]
fn success_after_failures_without_pam() {
    let log = "\
Nov 30 11:00:00 bastion sshd[3000]: Failed password for alice from 192.0.2.44 port 60000 ssh2
Nov 30 11:00:04 bastion sshd[3000]: Failed password for alice from 192.0.2.44 port 60000 ssh2
Nov 30 11:00:09 bastion sshd[3000]: Accepted password for alice from 192.0.2.44 port 60000 ssh2
Nov 30 12:00:00 bastion sshd[3000]: Received disconnect from 192.0.2.44 port 60000:11: disconnected by user
Nov 30 12:00:00 bastion sshd[3000]: Disconnected from user alice 192.0.2.44 port 60000
";
    let ev = auth(log);
    let outcomes: Vec<Outcome> = ev.iter().map(|e| e.outcome).collect();
    assert_eq!(
        outcomes,
        [
            Outcome::Failure,
            Outcome::Failure,
            Outcome::Success,
            Outcome::Disconnect
        ]
    );
    assert_eq!(ev[2].time.to_string(), "2026-11-30T11:00:09.000Z");
    assert_eq!(ev[2].method, Some(AuthMethod::Password));
    assert_eq!(
        ev[3].reason.as_deref(),
        Some("received disconnect 11: disconnected by user")
    );
}

#[test]
fn publickey_success() {
    let ev = auth("Sep  6 09:57:21 bullseye sshd[581]: Accepted publickey for vagrant from 1.2.3.4 port 56296 ssh2: RSA SHA256:1M4RzhMyWuFS/86uPY/ce2prh/dVTHW7iD2RhpquOZA\n");
    assert_eq!(ev.len(), 1);
    assert_eq!(ev[0].outcome, Outcome::Success);
    assert_eq!(ev[0].method, Some(AuthMethod::Publickey));
    assert_eq!(ev[0].user.as_deref(), Some("vagrant"));
    assert_eq!(ev[0].source_port, Some(56296));
}

#[test]
fn scanners_make_handshake_errors_not_failures() {
    let log = "\
Nov 30 12:10:00 web1 sshd[4000]: error: kex_exchange_identification: Connection closed by remote host
Nov 30 12:10:00 web1 sshd[4000]: Connection closed by 203.0.113.77 port 39876
Nov 30 12:10:05 web1 sshd[4001]: error: kex_exchange_identification: client sent invalid protocol identifier \"GET / HTTP/1.1\"
Nov 30 12:10:05 web1 sshd[4001]: banner exchange: Connection from 203.0.113.77 port 39900: invalid format
Nov 30 12:10:07 web1 sshd[4002]: Unable to negotiate with 203.0.113.77 port 39910: no matching key exchange method found. Their offer: diffie-hellman-group1-sha1 [preauth]
Nov 30 12:10:09 web1 sshd[4003]: Did not receive identification string from 203.0.113.77 port 39920
Nov 30 12:10:11 web1 sshd[4004]: Connection closed by 203.0.113.77 port 39930 [preauth]
";
    let ev = auth(log);
    assert_eq!(attempts(&ev, Outcome::Failure), 0);
    assert_eq!(attempts(&ev, Outcome::HandshakeError), 4);
    assert_eq!(attempts(&ev, Outcome::Disconnect), 1);
    assert_eq!(
        ev[0].reason.as_deref(),
        Some("Connection closed by remote host")
    );
    assert_eq!(
        ev[1].reason.as_deref(),
        Some("client sent invalid protocol identifier \"GET / HTTP/1.1\"")
    );
    assert_eq!(
        ev[2].reason.as_deref(),
        Some("no matching key exchange method found")
    );
    assert!(ev
        .iter()
        .all(|e| e.source == Some("203.0.113.77".parse().unwrap())));
}

#[test]
fn sshd_session_user_probe_then_bye() {
    let log = "\
Dec  1 00:00:01 h sshd-session[5000]: Invalid user oracle from 203.0.113.9 port 51000
Dec  1 00:00:01 h sshd-session[5000]: Received disconnect from 203.0.113.9 port 51000:11: Bye Bye [preauth]
Dec  1 00:00:01 h sshd-session[5000]: Disconnected from invalid user oracle 203.0.113.9 port 51000 [preauth]
";
    let ev = auth(log);
    assert_eq!(ev.len(), 2);
    assert_eq!(ev[0].outcome, Outcome::Failure);
    assert!(ev[0].invalid_user);
    assert_eq!(ev[1].outcome, Outcome::Disconnect);
    assert_eq!(
        ev[1].reason.as_deref(),
        Some("received disconnect 11: Bye Bye")
    );
}

#[test]
fn keyboard_interactive_pam_failure_without_failed_line_counts_at_close() {
    let log = "\
Nov 30 14:00:00 h sshd[6000]: pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=203.0.113.10  user=bob
Nov 30 14:00:00 h sshd[6000]: error: PAM: Authentication failure for bob from 203.0.113.10
Nov 30 14:00:00 h sshd[6000]: Failed keyboard-interactive/pam for bob from 203.0.113.10 port 40000 ssh2
Nov 30 14:00:04 h sshd[6000]: pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=203.0.113.10  user=bob
Nov 30 14:00:04 h sshd[6000]: error: PAM: Authentication failure for bob from 203.0.113.10
Nov 30 14:00:05 h sshd[6000]: Connection closed by authenticating user bob 203.0.113.10 port 40000 [preauth]
";
    let ev = auth(log);
    assert_eq!(attempts(&ev, Outcome::Failure), 2);
    assert_eq!(ev[0].method, Some(AuthMethod::KeyboardInteractive));
    assert_eq!(ev[1].reason.as_deref(), Some("PAM authentication failure"));
    assert_eq!(ev[1].user.as_deref(), Some("bob"));
}

#[test]
fn last_message_repeated_replays_the_line_before() {
    let log = "\
Nov 30 13:00:00 fw sshd[7000]: Invalid user test from 203.0.113.50 port 1111
Nov 30 13:00:02 fw sshd[7000]: Failed password for invalid user test from 203.0.113.50 port 1111 ssh2
Nov 30 13:00:30 fw last message repeated 4 times
";
    let ev = auth(log);
    // "Invalid user" and the first "Failed" are one attempt; four more came after.
    assert_eq!(attempts(&ev, Outcome::Failure), 5);
    assert_eq!(
        ev.last().unwrap().time.to_string(),
        "2026-11-30T13:00:30.000Z"
    );
}

#[test]
fn connections_are_told_apart_by_pid() {
    let log = "\
Nov 30 15:00:00 h sshd[8001]: Invalid user git from 203.0.113.60 port 2001
Nov 30 15:00:00 h sshd[8002]: Invalid user git from 203.0.113.60 port 2002
Nov 30 15:00:01 h sshd[8001]: Failed password for invalid user git from 203.0.113.60 port 2001 ssh2
Nov 30 15:00:01 h sshd[8002]: Failed password for invalid user git from 203.0.113.60 port 2002 ssh2
Nov 30 15:00:02 h sshd[8002]: Failed password for invalid user git from 203.0.113.60 port 2002 ssh2
";
    let ev = auth(log);
    assert_eq!(attempts(&ev, Outcome::Failure), 3);
    let t = tally_by_source(&ev);
    let s = &t[&"203.0.113.60".parse().unwrap()];
    assert_eq!((s.failures, s.invalid_user_failures), (3, 3));
    assert_eq!(s.users.len(), 1);
}

#[test]
fn user_name_cannot_forge_the_address() {
    let ev = auth("Nov 30 16:00:00 h sshd[9000]: Failed password for invalid user x from 10.0.0.1 port 1 ssh2 from 203.0.113.8 port 2222 ssh2\n");
    assert_eq!(ev[0].source, Some("203.0.113.8".parse().unwrap()));
    assert_eq!(ev[0].source_port, Some(2222));
    assert_eq!(ev[0].user.as_deref(), Some("x from 10.0.0.1 port 1 ssh2"));
}

#[test]
fn ipv6_and_empty_user() {
    let log = "\
Nov 30 16:10:00 h sshd[9100]: Invalid user  from 2001:db8::7 port 40022
Nov 30 16:10:01 h sshd[9101]: Failed password for root from ::ffff:192.0.2.99 port 40023 ssh2
";
    let ev = auth(log);
    assert_eq!(ev[0].source, Some("2001:db8::7".parse().unwrap()));
    assert_eq!(ev[0].user, None);
    assert_eq!(ev[1].source, Some("192.0.2.99".parse().unwrap()));
}

#[test]
fn denied_by_allowusers_counts_once_with_its_failed_line() {
    let log = "\
Nov 30 17:00:00 h sshd[9200]: User root from 203.0.113.70 not allowed because not listed in AllowUsers
Nov 30 17:00:02 h sshd[9200]: Failed password for invalid user root from 203.0.113.70 port 5000 ssh2
Nov 30 17:00:04 h sshd[9200]: Failed password for invalid user root from 203.0.113.70 port 5000 ssh2
";
    let ev = auth(log);
    assert_eq!(attempts(&ev, Outcome::Failure), 2);
    assert_eq!(
        ev[0].reason.as_deref(),
        Some("not allowed because not listed in AllowUsers")
    );
}

#[test]
fn journald_short_iso_lines() {
    let ev = auth("2026-11-30T10:00:01+0000 host sshd[123]: Failed password for root from 192.0.2.1 port 22 ssh2\n");
    assert_eq!(ev[0].time.to_string(), "2026-11-30T10:00:01.000Z");
    assert_eq!(ev[0].host.as_deref(), Some("host"));
}

#[test]
fn json_shape() {
    let ev =
        auth("Nov 30 10:00:01 web1 sshd[2001]: Invalid user admin from 203.0.113.5 port 50022\n");
    assert_eq!(
        serde_json::to_string(&rampart_logs::LogEvent::Auth(ev[0].clone())).unwrap(),
        r#"{"type":"auth","time":"2026-11-30T10:00:01.000Z","service":"ssh","outcome":"failure","user":"admin","invalid_user":true,"source":"203.0.113.5","source_port":50022,"host":"web1","attempts":1}"#
    );
}

#[test]
fn pam_failure_of_a_connection_still_open_at_the_end_counts() {
    let log = "\
Nov 30 18:00:00 h sshd[9300]: pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=203.0.113.80  user=root
";
    let ev = auth(log);
    assert_eq!(attempts(&ev, Outcome::Failure), 1);
    assert_eq!(ev[0].source, Some("203.0.113.80".parse().unwrap()));
}

/// A real OpenSSH 9.2p1 with PAM through rsyslog (fixtures/own/ORIGIN.md): six wrong
/// passwords (one for a user that does not exist), MaxAuthTries reached once, a key login,
/// two connections that never sent a banner.
#[test]
fn real_openssh_with_pam_through_rsyslog() {
    let ev = auth(include_str!("fixtures/own/openssh-9.2p1-pam-rsyslog.log"));
    assert_eq!(attempts(&ev, Outcome::Failure), 6);
    let invalid: u32 = ev
        .iter()
        .filter(|e| e.outcome == Outcome::Failure && e.invalid_user)
        .map(|e| e.attempts)
        .sum();
    assert_eq!(invalid, 1);
    assert_eq!(attempts(&ev, Outcome::TooManyAttempts), 1);
    assert_eq!(attempts(&ev, Outcome::HandshakeError), 2);
    assert_eq!(attempts(&ev, Outcome::Success), 1);
    assert_eq!(attempts(&ev, Outcome::Disconnect), 4);
    // The folded "message repeated 2 times" is one event of two attempts.
    assert!(ev
        .iter()
        .any(|e| e.outcome == Outcome::Failure && e.attempts == 2));
}
