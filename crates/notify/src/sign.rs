//! Webhook signatures: `X-Rampart-Signature: sha256=HEX`, the HMAC-SHA256 of
//! `TIMESTAMP + "." + BODY` under the shared secret, and the check a receiver makes
//! (signature, then the timestamp's age, to refuse replays).

use hmac::{KeyInit, Mac};
use sha2::Sha256;

type HmacSha256 = hmac::Hmac<Sha256>;

/// The header value for one delivery: `sha256=` and 64 lower-case hex digits.
pub fn sign(secret: &[u8], timestamp: u64, body: &[u8]) -> String {
    let mut mac = mac(secret);
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("sha256={}", hex(&mac.finalize().into_bytes()))
}

/// Why a receiver refuses a delivery.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("signature header is not `sha256=` and 64 hex digits")]
    Malformed,
    #[error("timestamp header is not a number of seconds")]
    BadTimestamp,
    #[error("signature does not match")]
    Mismatch,
    #[error("timestamp is {0} s away from now, outside the tolerance (a replay?)")]
    Stale(u64),
}

/// What a receiver does with `X-Rampart-Timestamp` and `X-Rampart-Signature`: the
/// signature must match (compared in constant time) and the timestamp be within
/// `tolerance_s` of `now_s` (Unix seconds). Receivers also drop repeated `id`s.
pub fn verify(
    secret: &[u8],
    timestamp: &str,
    body: &[u8],
    signature: &str,
    now_s: u64,
    tolerance_s: u64,
) -> Result<(), VerifyError> {
    let ts: u64 = timestamp.parse().map_err(|_| VerifyError::BadTimestamp)?;
    let sig = signature
        .strip_prefix("sha256=")
        .and_then(unhex)
        .ok_or(VerifyError::Malformed)?;
    let mut mac = mac(secret);
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body);
    mac.verify_slice(&sig).map_err(|_| VerifyError::Mismatch)?;
    let skew = now_s.abs_diff(ts);
    if skew > tolerance_s {
        return Err(VerifyError::Stale(skew));
    }
    Ok(())
}

fn mac(secret: &[u8]) -> HmacSha256 {
    // HMAC takes keys of any length (long ones are hashed first), so this cannot fail.
    match HmacSha256::new_from_slice(secret) {
        Ok(m) => m,
        Err(_) => unreachable!("HMAC accepts keys of every length"),
    }
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[(b >> 4) as usize] as char);
        s.push(DIGITS[(b & 15) as usize] as char);
    }
    s
}

fn unhex(s: &str) -> Option<[u8; 32]> {
    let b = s.as_bytes();
    if b.len() != 64 {
        return None;
    }
    let nibble = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    let mut out = [0u8; 32];
    for (i, pair) in b.chunks_exact(2).enumerate() {
        out[i] = nibble(pair[0])? << 4 | nibble(pair[1])?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_openssl() {
        // printf '%s' '1700000000.{"a":1}' | openssl dgst -sha256 -hmac secret
        assert_eq!(
            sign(b"secret", 1_700_000_000, br#"{"a":1}"#),
            "sha256=49f24e537407743fa4a0242bb63b94b9a47ee99cbbe071ccd8a22550ae411686"
        );
    }

    #[test]
    fn verify_accepts_its_own_and_refuses_the_rest() {
        let body = br#"{"event":"attack.started"}"#;
        let sig = sign(b"k", 1000, body);
        assert_eq!(verify(b"k", "1000", body, &sig, 1100, 300), Ok(()));
        assert_eq!(
            verify(b"k", "1000", body, &sig, 1400, 300),
            Err(VerifyError::Stale(400))
        );
        assert_eq!(
            verify(b"other", "1000", body, &sig, 1000, 300),
            Err(VerifyError::Mismatch)
        );
        assert_eq!(
            verify(b"k", "1001", body, &sig, 1000, 300),
            Err(VerifyError::Mismatch)
        );
        assert_eq!(
            verify(b"k", "1000", b"{}", &sig, 1000, 300),
            Err(VerifyError::Mismatch)
        );
        assert_eq!(
            verify(b"k", "x", body, &sig, 1000, 300),
            Err(VerifyError::BadTimestamp)
        );
        assert_eq!(
            verify(b"k", "1000", body, "sha1=00", 1000, 300),
            Err(VerifyError::Malformed)
        );
        assert_eq!(
            verify(
                b"k",
                "1000",
                body,
                &sig.to_uppercase().replace("SHA256", "sha256"),
                1000,
                300
            ),
            Ok(()),
            "hex digits of either case"
        );
    }
}
