//! OPEN messages and capabilities (RFC 4271 §4.2, RFC 5492): multiprotocol (RFC 4760),
//! route refresh (RFC 2918), 4-octet AS (RFC 6793), graceful restart (RFC 4724), and the
//! extended optional parameters length of RFC 9072 on receipt.

use crate::family::Family;
use crate::wire::{begin_message, code, finish_message, MessageType, Reader, WireError};
use std::net::Ipv4Addr;

/// RFC 6793: the 2-byte stand-in for an AS number above 65535.
pub const AS_TRANS: u16 = 23456;

const CAP_MULTIPROTOCOL: u8 = 1;
const CAP_ROUTE_REFRESH: u8 = 2;
const CAP_GRACEFUL_RESTART: u8 = 64;
const CAP_FOUR_OCTET_AS: u8 = 65;
const PARAM_CAPABILITIES: u8 = 2;

/// One capability from an OPEN.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Capability {
    /// An AFI/SAFI pair, known to us or not.
    Multiprotocol {
        afi: u16,
        safi: u8,
    },
    RouteRefresh,
    FourOctetAs(u32),
    /// Restart time in seconds (12 bits) and the families whose routes the peer should
    /// keep while we are gone.
    GracefulRestart {
        restart_time: u16,
        families: Vec<Family>,
    },
    /// Any other capability: its code, kept so the API can show what the peer offers.
    Other(u8),
}

/// A decoded OPEN.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Open {
    pub version: u8,
    /// The 2-byte "My Autonomous System" field (AS_TRANS when the AS needs 4 bytes).
    pub my_as: u16,
    pub hold_time: u16,
    pub bgp_id: Ipv4Addr,
    pub capabilities: Vec<Capability>,
}

impl Open {
    /// Our OPEN: version 4, AS_TRANS in the 2-byte field when our AS needs more.
    pub fn ours(
        local_as: u32,
        hold_time: u16,
        router_id: Ipv4Addr,
        families: &[Family],
        graceful_restart: Option<u16>,
    ) -> Self {
        let mut capabilities: Vec<Capability> = families
            .iter()
            .map(|f| Capability::Multiprotocol {
                afi: f.afi(),
                safi: f.safi(),
            })
            .collect();
        capabilities.push(Capability::RouteRefresh);
        capabilities.push(Capability::FourOctetAs(local_as));
        if let Some(restart_time) = graceful_restart {
            capabilities.push(Capability::GracefulRestart {
                restart_time: restart_time.min(0x0fff),
                families: families.to_vec(),
            });
        }
        Open {
            version: 4,
            my_as: u16::try_from(local_as).unwrap_or(AS_TRANS),
            hold_time,
            bgp_id: router_id,
            capabilities,
        }
    }

    /// The peer's AS: from the 4-octet capability when present, else the 2-byte field.
    pub fn asn(&self) -> u32 {
        self.capabilities
            .iter()
            .find_map(|c| match c {
                Capability::FourOctetAs(a) => Some(*a),
                _ => None,
            })
            .unwrap_or(u32::from(self.my_as))
    }

    pub fn has(&self, wanted: &Capability) -> bool {
        self.capabilities.iter().any(|c| c == wanted)
    }

    pub fn four_octet_as(&self) -> bool {
        self.capabilities
            .iter()
            .any(|c| matches!(c, Capability::FourOctetAs(_)))
    }

    /// Families the peer offers. With no multiprotocol capability at all, IPv4 unicast is
    /// implied (RFC 4760 §8).
    pub fn families(&self) -> Vec<Family> {
        let mut any = false;
        let mut out = Vec::new();
        for c in &self.capabilities {
            if let Capability::Multiprotocol { afi, safi } = *c {
                any = true;
                if let Some(f) = Family::from_afi_safi(afi, safi) {
                    out.push(f);
                }
            }
        }
        if !any {
            out.push(Family::Ipv4Unicast);
        }
        out
    }

    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        let start = begin_message(out, MessageType::Open);
        out.push(self.version);
        out.extend_from_slice(&self.my_as.to_be_bytes());
        out.extend_from_slice(&self.hold_time.to_be_bytes());
        out.extend_from_slice(&self.bgp_id.octets());
        let mut caps = Vec::new();
        for c in &self.capabilities {
            match c {
                Capability::Multiprotocol { afi, safi } => {
                    caps.extend_from_slice(&[CAP_MULTIPROTOCOL, 4]);
                    caps.extend_from_slice(&afi.to_be_bytes());
                    caps.extend_from_slice(&[0, *safi]);
                }
                Capability::RouteRefresh => caps.extend_from_slice(&[CAP_ROUTE_REFRESH, 0]),
                Capability::FourOctetAs(a) => {
                    caps.extend_from_slice(&[CAP_FOUR_OCTET_AS, 4]);
                    caps.extend_from_slice(&a.to_be_bytes());
                }
                Capability::GracefulRestart {
                    restart_time,
                    families,
                } => {
                    caps.extend_from_slice(&[CAP_GRACEFUL_RESTART, 2 + 4 * families.len() as u8]);
                    caps.extend_from_slice(&(restart_time & 0x0fff).to_be_bytes());
                    for f in families {
                        // Forwarding state bit set: keep our routes when we come back, until
                        // our End-of-RIB says which ones we still mean.
                        caps.extend_from_slice(&f.afi().to_be_bytes());
                        caps.extend_from_slice(&[f.safi(), 0x80]);
                    }
                }
                Capability::Other(_) => {}
            }
        }
        // One capabilities parameter; ours is far below the 255-byte limit.
        out.push(caps.len() as u8 + 2);
        out.extend_from_slice(&[PARAM_CAPABILITIES, caps.len() as u8]);
        out.extend_from_slice(&caps);
        finish_message(out, start);
    }

    /// Decodes and checks an OPEN body. Checks that need our configuration (peer AS,
    /// identifier clash) are the session's.
    pub fn decode(body: &[u8]) -> Result<Self, WireError> {
        let short = WireError::new(code::OPEN_MESSAGE, 0, "OPEN shorter than its fields say");
        let mut r = Reader::new(body);
        let version = r.u8(short)?;
        if version != 4 {
            return Err(WireError::new(
                code::OPEN_MESSAGE,
                code::UNSUPPORTED_VERSION,
                "BGP version other than 4",
            )
            .with_u16(4));
        }
        let my_as = r.u16(short)?;
        let hold_time = r.u16(short)?;
        if hold_time == 1 || hold_time == 2 {
            return Err(WireError::new(
                code::OPEN_MESSAGE,
                code::UNACCEPTABLE_HOLD_TIME,
                "hold time of 1 or 2 seconds",
            ));
        }
        let bgp_id = Ipv4Addr::from(r.u32(short)?);
        if bgp_id.is_unspecified() {
            return Err(WireError::new(
                code::OPEN_MESSAGE,
                code::BAD_BGP_IDENTIFIER,
                "BGP identifier 0.0.0.0",
            ));
        }
        let mut params_len = usize::from(r.u8(short)?);
        // RFC 9072: 255 followed by type 255 announces a 2-byte length and 2-byte
        // parameter lengths.
        let extended = params_len == 255 && r.peek() == Some(255);
        if extended {
            r.u8(short)?;
            params_len = usize::from(r.u16(short)?);
        }
        let mut params = Reader::new(r.take(params_len, short)?);
        if !r.is_empty() {
            return Err(WireError::new(
                code::MESSAGE_HEADER,
                code::BAD_MESSAGE_LENGTH,
                "bytes after the OPEN optional parameters",
            )
            .with_u16((body.len() + crate::wire::HEADER_LEN) as u16));
        }
        let mut capabilities = Vec::new();
        while !params.is_empty() {
            let kind = params.u8(short)?;
            let len = if extended {
                usize::from(params.u16(short)?)
            } else {
                usize::from(params.u8(short)?)
            };
            let value = params.take(len, short)?;
            if kind != PARAM_CAPABILITIES {
                return Err(WireError::new(
                    code::OPEN_MESSAGE,
                    code::UNSUPPORTED_OPTIONAL_PARAMETER,
                    "optional parameter other than capabilities",
                ));
            }
            decode_capabilities(value, &mut capabilities)?;
        }
        Ok(Open {
            version,
            my_as,
            hold_time,
            bgp_id,
            capabilities,
        })
    }
}

fn decode_capabilities(value: &[u8], out: &mut Vec<Capability>) -> Result<(), WireError> {
    let bad = WireError::new(code::OPEN_MESSAGE, 0, "malformed capability");
    let mut r = Reader::new(value);
    while !r.is_empty() {
        let kind = r.u8(bad)?;
        let len = usize::from(r.u8(bad)?);
        let v = r.take(len, bad)?;
        let cap = match (kind, len) {
            (CAP_MULTIPROTOCOL, 4) => Capability::Multiprotocol {
                afi: u16::from_be_bytes([v[0], v[1]]),
                safi: v[3],
            },
            (CAP_ROUTE_REFRESH, 0) => Capability::RouteRefresh,
            (CAP_FOUR_OCTET_AS, 4) => {
                Capability::FourOctetAs(u32::from_be_bytes([v[0], v[1], v[2], v[3]]))
            }
            (CAP_GRACEFUL_RESTART, n) if n >= 2 && (n - 2) % 4 == 0 => {
                Capability::GracefulRestart {
                    restart_time: u16::from_be_bytes([v[0], v[1]]) & 0x0fff,
                    families: v[2..]
                        .chunks_exact(4)
                        .filter_map(|c| {
                            Family::from_afi_safi(u16::from_be_bytes([c[0], c[1]]), c[2])
                        })
                        .collect(),
                }
            }
            (
                CAP_MULTIPROTOCOL | CAP_ROUTE_REFRESH | CAP_FOUR_OCTET_AS | CAP_GRACEFUL_RESTART,
                _,
            ) => return Err(bad),
            (other, _) => Capability::Other(other),
        };
        out.push(cap);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn our_open_on_the_wire() {
        let open = Open::ours(
            4_200_000_001,
            90,
            Ipv4Addr::new(192, 0, 2, 1),
            &[Family::Ipv4Unicast, Family::Ipv6FlowSpec],
            None,
        );
        let mut out = Vec::new();
        open.encode(&mut out);
        #[rustfmt::skip]
        let want: &[u8] = &[
            0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
            0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
            0, 51, 1,             // length 51, OPEN
            4,                    // version
            0x5b, 0xa0,           // AS_TRANS 23456
            0, 90,                // hold time
            192, 0, 2, 1,         // BGP identifier
            22,                   // optional parameters length
            2, 20,                // capabilities parameter
            1, 4, 0, 1, 0, 1,     // multiprotocol IPv4 unicast
            1, 4, 0, 2, 0, 133,   // multiprotocol IPv6 FlowSpec
            2, 0,                 // route refresh
            65, 4, 0xfa, 0x56, 0xea, 0x01, // 4-octet AS 4200000001
        ];
        assert_eq!(out, want);
        let back = Open::decode(&out[19..]).unwrap();
        assert_eq!(back, open);
        assert_eq!(back.asn(), 4_200_000_001);
        assert_eq!(
            back.families(),
            vec![Family::Ipv4Unicast, Family::Ipv6FlowSpec]
        );
    }

    #[test]
    fn graceful_restart_capability() {
        let open = Open::ours(
            65001,
            0,
            Ipv4Addr::new(10, 0, 0, 1),
            &[Family::Ipv4Unicast],
            Some(300),
        );
        let mut out = Vec::new();
        open.encode(&mut out);
        let gr = &out[out.len() - 8..];
        assert_eq!(gr, &[64, 6, 0x01, 0x2c, 0, 1, 1, 0x80]);
        assert_eq!(Open::decode(&out[19..]).unwrap(), open);
    }

    #[test]
    fn peer_opens() {
        // A BIRD-style OPEN: two capability parameters, an unknown capability (73, FQDN),
        // no 4-octet AS: the 2-byte field is the AS.
        #[rustfmt::skip]
        let body: &[u8] = &[
            4, 0xfd, 0xea, 0, 240, 10, 0, 0, 2,
            16,
            2, 6, 1, 4, 0, 2, 0, 1,
            2, 6, 73, 4, b'b', b'i', b'r', b'd',
        ];
        let open = Open::decode(body).unwrap();
        assert_eq!(open.asn(), 65002);
        assert!(!open.four_octet_as());
        assert_eq!(open.families(), vec![Family::Ipv6Unicast]);
        assert!(open.has(&Capability::Other(73)));

        // No capabilities at all: IPv4 unicast implied.
        let bare = Open::decode(&[4, 0, 1, 0, 0, 1, 2, 3, 4, 0]).unwrap();
        assert_eq!(bare.families(), vec![Family::Ipv4Unicast]);

        // RFC 9072 extended parameters.
        let ext =
            Open::decode(&[4, 0, 1, 0, 3, 1, 2, 3, 4, 255, 255, 0, 5, 2, 0, 2, 2, 0]).unwrap();
        assert!(ext.has(&Capability::RouteRefresh));
    }

    #[test]
    fn refuses_bad_opens() {
        let cases: &[(&[u8], (u8, u8))] = &[
            (&[3, 0, 1, 0, 90, 1, 2, 3, 4, 0], (2, 1)),
            (&[4, 0, 1, 0, 2, 1, 2, 3, 4, 0], (2, 6)),
            (&[4, 0, 1, 0, 90, 0, 0, 0, 0, 0], (2, 3)),
            (&[4, 0, 1, 0, 90, 1, 2, 3, 4, 3, 9, 1, 0], (2, 4)),
            (&[4, 0, 1, 0, 90, 1, 2, 3, 4, 4, 2, 2, 65, 4], (2, 0)),
            (&[4, 0, 1, 0, 90, 1, 2, 3, 4, 9], (2, 0)),
            (&[4, 0, 1, 0, 90, 1, 2, 3, 4, 0, 0], (1, 2)),
            (&[4, 0, 1], (2, 0)),
        ];
        for (body, want) in cases {
            let e = Open::decode(body).unwrap_err();
            assert_eq!((e.code, e.subcode), *want, "{body:?}: {e}");
        }
    }
}
