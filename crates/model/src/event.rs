//! What access logs say happened: one login attempt (or its end) on a remote-access service,
//! or one HTTP request. Built by `logs` from sshd, VPN and web-server lines; counted by the
//! access-abuse detectors. Strings are bounded by the parser that fills them.

use crate::Timestamp;
use serde::{Deserialize, Serialize};
use std::net::IpAddr;

/// The remote-access service a login was for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Service {
    Ssh,
    Openvpn,
    /// IKE / IPsec (strongSwan's charon).
    Ipsec,
    Wireguard,
    FortigateSslvpn,
    Globalprotect,
    /// Cisco ASA / FTD remote access (AnyConnect, WebVPN) and the box's own AAA.
    Anyconnect,
    Http,
    Other,
}

impl Service {
    pub const fn as_str(self) -> &'static str {
        match self {
            Service::Ssh => "ssh",
            Service::Openvpn => "openvpn",
            Service::Ipsec => "ipsec",
            Service::Wireguard => "wireguard",
            Service::FortigateSslvpn => "fortigate_sslvpn",
            Service::Globalprotect => "globalprotect",
            Service::Anyconnect => "anyconnect",
            Service::Http => "http",
            Service::Other => "other",
        }
    }
}

/// What came of an attempt. `Success` and `Failure` are attempts; the others tell how a
/// connection ended without (another) attempt and count as information only.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The service let the user in (or brought the tunnel up for them).
    Success,
    /// The service refused the credentials, or the user (see `AuthEvent::invalid_user`).
    Failure,
    /// The service cut the connection because it had too many failures.
    TooManyAttempts,
    /// The peer went away (or timed out) before, during or after authentication.
    Disconnect,
    /// The handshake never reached authentication: protocol banners, key exchange or TLS
    /// failed (scanners and incompatible clients).
    HandshakeError,
}

impl Outcome {
    pub const fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Failure => "failure",
            Outcome::TooManyAttempts => "too_many_attempts",
            Outcome::Disconnect => "disconnect",
            Outcome::HandshakeError => "handshake_error",
        }
    }

    /// Success or failure: a credential (or user name) was tried.
    pub const fn is_attempt(self) -> bool {
        matches!(self, Outcome::Success | Outcome::Failure)
    }
}

/// How the user tried to authenticate.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthMethod {
    Password,
    Publickey,
    KeyboardInteractive,
    Hostbased,
    Gssapi,
    /// X.509 client certificate (OpenVPN, IKE, AnyConnect).
    Certificate,
    /// A pre-shared key (IKE PSK, OpenVPN tls-auth / tls-crypt, WireGuard's static keys).
    Psk,
    /// IKEv2 EAP (MSCHAPv2, TLS, ...).
    Eap,
    /// IKEv1 XAuth user name and password.
    Xauth,
    /// Single sign-on through an identity provider.
    Saml,
    Other,
}

impl AuthMethod {
    pub const fn as_str(self) -> &'static str {
        match self {
            AuthMethod::Password => "password",
            AuthMethod::Publickey => "publickey",
            AuthMethod::KeyboardInteractive => "keyboard_interactive",
            AuthMethod::Hostbased => "hostbased",
            AuthMethod::Gssapi => "gssapi",
            AuthMethod::Certificate => "certificate",
            AuthMethod::Psk => "psk",
            AuthMethod::Eap => "eap",
            AuthMethod::Xauth => "xauth",
            AuthMethod::Saml => "saml",
            AuthMethod::Other => "other",
        }
    }
}

/// One login attempt, or the end of a connection, on a remote-access service. An attempt
/// that wrote several log lines is one event; a line that syslog folded ("message repeated
/// N times") is one event with `attempts = N`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AuthEvent {
    pub time: Timestamp,
    pub service: Service,
    pub outcome: Outcome,
    /// The user name tried, when the log names it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// The service said that this user does not exist (sshd "invalid user", FortiGate
    /// "unknown user", strongSwan "no EAP key found").
    #[serde(skip_serializing_if = "is_false", default)]
    pub invalid_user: bool,
    /// The client's address, when the log names it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<IpAddr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_port: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub method: Option<AuthMethod>,
    /// The service's own words for why, when it gives them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The logging host (syslog hostname, FortiGate devname), when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// How many attempts (or, for information outcomes, occurrences) this event stands
    /// for; at least 1.
    pub attempts: u32,
}

impl AuthEvent {
    /// An event with nothing known but its time, service and outcome.
    pub const fn new(time: Timestamp, service: Service, outcome: Outcome) -> Self {
        AuthEvent {
            time,
            service,
            outcome,
            user: None,
            invalid_user: false,
            source: None,
            source_port: None,
            method: None,
            reason: None,
            host: None,
            attempts: 1,
        }
    }
}

/// One HTTP request from an access log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct HttpEvent {
    pub time: Timestamp,
    pub client: IpAddr,
    /// The request method as sent ("GET"); absent when the request line was unreadable.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// Path and query as sent (not decoded), bounded.
    pub path: String,
    pub status: u16,
    /// Response bytes sent (0 when the log says "-").
    pub bytes: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub referer: Option<String>,
    /// The virtual host, for formats that log it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vhost: Option<String>,
    /// The authenticated (HTTP basic) user, when logged.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
}

fn is_false(b: &bool) -> bool {
    !*b
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auth_json_omits_absent_fields() {
        let mut e = AuthEvent::new(Timestamp::from_secs(1), Service::Ssh, Outcome::Failure);
        e.user = Some("root".into());
        e.source = Some("192.0.2.7".parse().unwrap());
        e.method = Some(AuthMethod::KeyboardInteractive);
        assert_eq!(
            serde_json::to_string(&e).unwrap(),
            r#"{"time":"1970-01-01T00:00:01.000Z","service":"ssh","outcome":"failure","user":"root","source":"192.0.2.7","method":"keyboard_interactive","attempts":1}"#
        );
        e.invalid_user = true;
        assert!(serde_json::to_string(&e)
            .unwrap()
            .contains(r#""invalid_user":true"#));
    }

    #[test]
    fn names_match_serde() {
        for s in [Service::FortigateSslvpn, Service::Globalprotect] {
            assert_eq!(
                serde_json::to_string(&s).unwrap(),
                format!("\"{}\"", s.as_str())
            );
        }
        for o in [Outcome::TooManyAttempts, Outcome::HandshakeError] {
            assert_eq!(
                serde_json::to_string(&o).unwrap(),
                format!("\"{}\"", o.as_str())
            );
        }
    }
}
