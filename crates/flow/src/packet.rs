//! Raw frames to the few facts a flow record needs: addresses, protocol, ports, flags, TTL,
//! fragmentation and the L3 length. Used for pcap packets and for the packet headers that sFlow
//! agents copy into their samples, so every length read here comes from hostile bytes.

use crate::error::Be;
use crate::DecodeError;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// How a frame begins: the link layer of a capture (or of an sFlow sampled header).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkType {
    /// Ethernet II, with any 802.1Q / 802.1ad tags, MPLS or PPPoE inside.
    Ethernet,
    /// Linux "cooked" capture v1 (`tcpdump -i any`): 16-byte header.
    LinuxSll,
    /// Linux "cooked" capture v2: 20-byte header.
    LinuxSll2,
    /// An IP header straight away, IPv4 or IPv6 by the version nibble.
    RawIp,
    /// An IPv4 header straight away.
    Ipv4,
    /// An IPv6 header straight away.
    Ipv6,
    /// BSD loopback: a 4-byte address family in the writer's byte order.
    Null,
}

impl LinkType {
    /// From a pcap/pcapng `LINKTYPE_` value: 1 Ethernet, 113 LinuxSll, 276 LinuxSll2, 101, 12
    /// and 14 RawIp, 228 Ipv4, 229 Ipv6, 0 and 108 Null (BSD loopback). `None` for the rest.
    pub fn from_linktype(v: u32) -> Option<LinkType> {
        Some(match v {
            1 => LinkType::Ethernet,
            113 => LinkType::LinuxSll,
            276 => LinkType::LinuxSll2,
            // 12 and 14 are the DLT_RAW values of some BSDs, written as-is by old libpcap.
            12 | 14 | 101 => LinkType::RawIp,
            228 => LinkType::Ipv4,
            229 => LinkType::Ipv6,
            0 | 108 => LinkType::Null,
            _ => return None,
        })
    }
}

/// What one IP packet says about itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PacketSummary {
    pub src_addr: IpAddr,
    pub dst_addr: IpAddr,
    /// The upper-layer protocol, after any IPv6 extension headers. Tunnels (4, 41, 47) are not
    /// entered: the outer packet is what crossed the link.
    pub ip_protocol: u8,
    /// TCP, UDP and SCTP only, and only when the whole fixed L4 header was captured (never for
    /// non-first fragments).
    pub src_port: Option<u16>,
    pub dst_port: Option<u16>,
    pub tcp_flags: Option<u8>,
    /// ICMP (IPv4 protocol 1) and ICMPv6 (IPv6 protocol 58).
    pub icmp_type: Option<u8>,
    pub icmp_code: Option<u8>,
    /// TTL or hop limit.
    pub ttl: u8,
    /// IPv4 with MF set or a non-zero offset; IPv6 with a fragment header.
    pub fragment: bool,
    /// IPv4 total length; IPv6 40 + payload length. The L3 size, as NetFlow counts octets.
    pub ip_len: u32,
    /// For UDP (unfragmented or first fragment): where the UDP payload starts and ends in the
    /// input slice, the end clamped to the captured bytes and to the UDP length.
    pub udp_payload: Option<(usize, usize)>,
}

/// Most tags, MPLS labels or IPv6 extension headers we walk through. Real traffic has one or
/// two; the bound keeps a hostile frame from making us loop.
const MAX_LAYERS: usize = 8;

const ETH_IPV4: u16 = 0x0800;
const ETH_IPV6: u16 = 0x86dd;

/// Which IP header follows the link layer, as far as the link layer says.
#[derive(Clone, Copy)]
enum Next {
    V4,
    V6,
    /// Decided by the version nibble (raw IP).
    Either,
    /// Under MPLS labels: IP by the version nibble, or something else (an Ethernet
    /// pseudowire, ...) that is not an IP packet to us.
    Mpls,
}

impl PacketSummary {
    /// Copies what the packet says into a flow record: addresses, ports, flags, ICMP, TTL,
    /// fragment, and the IP length as its bytes (the layer-3 octets NetFlow counts).
    pub fn fill_record(&self, r: &mut crate::FlowRecord) {
        r.src_addr = self.src_addr;
        r.dst_addr = self.dst_addr;
        r.ip_protocol = self.ip_protocol;
        r.src_port = self.src_port;
        r.dst_port = self.dst_port;
        r.tcp_flags = self.tcp_flags;
        r.icmp_type = self.icmp_type;
        r.icmp_code = self.icmp_code;
        r.ttl = Some(self.ttl);
        r.fragment = Some(self.fragment);
        r.bytes = u64::from(self.ip_len);
    }
}

/// Parses a frame of the given link type down to L4. `Ok(None)` for frames that carry no IP
/// (ARP, LLDP, ...), which callers count and skip. Offsets in `udp_payload` are into `frame`.
pub fn parse_frame(link: LinkType, frame: &[u8]) -> Result<Option<PacketSummary>, DecodeError> {
    let located = match link {
        LinkType::Ethernet => {
            let ethertype = frame
                .be_u16(12)
                .ok_or(DecodeError::Truncated("Ethernet header"))?;
            by_ethertype(frame, 14, ethertype)?
        }
        LinkType::LinuxSll => {
            if frame.len() < 16 {
                return Err(DecodeError::Truncated("Linux SLL header"));
            }
            let protocol = frame
                .be_u16(14)
                .ok_or(DecodeError::Truncated("Linux SLL header"))?;
            by_ethertype(frame, 16, protocol)?
        }
        LinkType::LinuxSll2 => {
            if frame.len() < 20 {
                return Err(DecodeError::Truncated("Linux SLL2 header"));
            }
            let protocol = frame
                .be_u16(0)
                .ok_or(DecodeError::Truncated("Linux SLL2 header"))?;
            by_ethertype(frame, 20, protocol)?
        }
        LinkType::RawIp => Some((0, Next::Either)),
        LinkType::Ipv4 => Some((0, Next::V4)),
        LinkType::Ipv6 => Some((0, Next::V6)),
        LinkType::Null => {
            let b: [u8; 4] = frame
                .get(..4)
                .and_then(|b| b.try_into().ok())
                .ok_or(DecodeError::Truncated("loopback header"))?;
            // The family is in the byte order of the machine that wrote the capture, which
            // the file does not say; the values cannot be confused either way round.
            let family = [u32::from_le_bytes(b), u32::from_be_bytes(b)];
            if family.contains(&2) {
                Some((4, Next::V4))
            } else if family.iter().any(|f| matches!(f, 24 | 28 | 30)) {
                Some((4, Next::V6))
            } else {
                None
            }
        }
    };
    let Some((offset, next)) = located else {
        return Ok(None);
    };
    let ip = frame
        .get(offset..)
        .ok_or(DecodeError::Truncated("IP header"))?;
    let version = ip.first().ok_or(DecodeError::Truncated("IP header"))? >> 4;
    let summary = match (next, version) {
        (Next::V4 | Next::Either | Next::Mpls, 4) => parse_ipv4(ip)?,
        (Next::V6 | Next::Either | Next::Mpls, 6) => parse_ipv6(ip)?,
        (Next::Mpls, _) => return Ok(None),
        _ => return Err(DecodeError::Malformed("IP version")),
    };
    // The payload offsets are within `ip`, which is within `frame`: the sums cannot overflow.
    Ok(Some(PacketSummary {
        udp_payload: summary
            .udp_payload
            .map(|(from, to)| (from + offset, to + offset)),
        ..summary
    }))
}

/// Parses a packet starting at its IP header, IPv4 or IPv6 by the version nibble. Offsets in
/// `udp_payload` are into `bytes`. Never `Ok(None)`: anything but IPv4 or IPv6 is malformed.
pub fn parse_ip(bytes: &[u8]) -> Result<Option<PacketSummary>, DecodeError> {
    match bytes.first().ok_or(DecodeError::Truncated("IP header"))? >> 4 {
        4 => parse_ipv4(bytes).map(Some),
        6 => parse_ipv6(bytes).map(Some),
        _ => Err(DecodeError::Malformed("IP version")),
    }
}

/// Follows an ethertype through VLAN tags, MPLS labels and PPPoE to where the IP header starts.
/// `at` is the offset just past the ethertype. `None` when the frame is not IP.
fn by_ethertype(
    frame: &[u8],
    mut at: usize,
    mut ethertype: u16,
) -> Result<Option<(usize, Next)>, DecodeError> {
    for _ in 0..=MAX_LAYERS {
        match ethertype {
            ETH_IPV4 => return Ok(Some((at, Next::V4))),
            ETH_IPV6 => return Ok(Some((at, Next::V6))),
            // 802.1Q, 802.1ad and the pre-standard QinQ tag: 2 bytes of TCI, then the next
            // ethertype.
            0x8100 | 0x88a8 | 0x9100 => {
                ethertype = frame
                    .be_u16(at + 2)
                    .ok_or(DecodeError::Truncated("VLAN tag"))?;
                at += 4;
            }
            // MPLS unicast and multicast: 4-byte label entries until bottom of stack; what is
            // under the labels is not said, so the IP version nibble decides.
            0x8847 | 0x8848 => {
                for _ in 0..MAX_LAYERS {
                    let entry = frame
                        .be_u32(at)
                        .ok_or(DecodeError::Truncated("MPLS label"))?;
                    at += 4;
                    if entry & 0x100 != 0 {
                        return Ok(Some((at, Next::Mpls)));
                    }
                }
                return Err(DecodeError::Malformed("MPLS label stack"));
            }
            // PPPoE session: 6-byte PPPoE header, then the 2-byte PPP protocol.
            0x8864 => {
                let protocol = frame
                    .be_u16(at + 6)
                    .ok_or(DecodeError::Truncated("PPPoE header"))?;
                at += 8;
                return Ok(match protocol {
                    0x0021 => Some((at, Next::V4)),
                    0x0057 => Some((at, Next::V6)),
                    _ => None,
                });
            }
            // ARP, LLDP, 802.3 length fields, ...
            _ => return Ok(None),
        }
    }
    Err(DecodeError::Malformed("VLAN tag stack"))
}

fn parse_ipv4(bytes: &[u8]) -> Result<PacketSummary, DecodeError> {
    let header = bytes
        .get(..20)
        .ok_or(DecodeError::Truncated("IPv4 header"))?;
    let ihl = usize::from(header.be_u8(0).unwrap_or(0) & 0x0f) * 4;
    let total_len = header.be_u16(2).unwrap_or(0);
    if ihl < 20 {
        return Err(DecodeError::Malformed("IPv4 header length"));
    }
    if usize::from(total_len) < ihl {
        return Err(DecodeError::Malformed("IPv4 total length"));
    }
    if bytes.len() < ihl {
        return Err(DecodeError::Truncated("IPv4 options"));
    }
    let frag = header.be_u16(6).unwrap_or(0);
    let more_fragments = frag & 0x2000 != 0;
    let offset = frag & 0x1fff;
    let (src, dst) = (
        header.be_u32(12).unwrap_or(0),
        header.be_u32(16).unwrap_or(0),
    );
    let mut s = PacketSummary {
        src_addr: IpAddr::V4(Ipv4Addr::from(src)),
        dst_addr: IpAddr::V4(Ipv4Addr::from(dst)),
        ip_protocol: header.be_u8(9).unwrap_or(0),
        src_port: None,
        dst_port: None,
        tcp_flags: None,
        icmp_type: None,
        icmp_code: None,
        ttl: header.be_u8(8).unwrap_or(0),
        fragment: more_fragments || offset != 0,
        ip_len: u32::from(total_len),
        udp_payload: None,
    };
    if offset == 0 {
        // Stop at the total length too: Ethernet pads short frames, and the padding is not L4.
        let end = bytes.len().min(usize::from(total_len));
        parse_l4(&mut s, bytes, ihl, end, false);
    }
    Ok(s)
}

fn parse_ipv6(bytes: &[u8]) -> Result<PacketSummary, DecodeError> {
    let header = bytes
        .get(..40)
        .ok_or(DecodeError::Truncated("IPv6 header"))?;
    let payload_len = header.be_u16(4).unwrap_or(0);
    let mut next = header.be_u8(6).unwrap_or(0);
    let address = |at: usize| -> [u8; 16] {
        header
            .get(at..at + 16)
            .and_then(|a| a.try_into().ok())
            .unwrap_or([0; 16])
    };
    let (src, dst) = (address(8), address(24));
    let mut s = PacketSummary {
        src_addr: IpAddr::V6(Ipv6Addr::from(src)),
        dst_addr: IpAddr::V6(Ipv6Addr::from(dst)),
        ip_protocol: next,
        src_port: None,
        dst_port: None,
        tcp_flags: None,
        icmp_type: None,
        icmp_code: None,
        ttl: header.be_u8(7).unwrap_or(0),
        fragment: false,
        ip_len: 40 + u32::from(payload_len),
        udp_payload: None,
    };
    // A zero payload length is a jumbogram (or a capture of a segmentation-offloaded packet):
    // the captured bytes are all we have to go by.
    let claimed = if payload_len == 0 {
        usize::MAX
    } else {
        40 + usize::from(payload_len)
    };
    let end = bytes.len().min(claimed);
    // A header running past `end` is truncated when the capture stopped first, and malformed
    // when the packet's own payload length ends first.
    let past_end = if claimed < bytes.len() {
        DecodeError::Malformed("IPv6 payload length")
    } else {
        DecodeError::Truncated("IPv6 extension header")
    };
    let mut at = 40usize;
    let mut first_fragment = true;
    let mut headers = 0usize;
    loop {
        let len = match next {
            // Hop-by-hop, routing, destination options: length in 8-byte units, less the first.
            0 | 43 | 60 => {
                (usize::from(
                    bytes
                        .be_u8(at + 1)
                        .filter(|_| at + 2 <= end)
                        .ok_or(past_end)?,
                ) + 1)
                    * 8
            }
            // AH counts 4-byte units, less two.
            51 => {
                (usize::from(
                    bytes
                        .be_u8(at + 1)
                        .filter(|_| at + 2 <= end)
                        .ok_or(past_end)?,
                ) + 2)
                    * 4
            }
            44 => {
                let offset = bytes
                    .be_u16(at + 2)
                    .filter(|_| at + 8 <= end)
                    .ok_or(past_end)?
                    >> 3;
                s.fragment = true;
                first_fragment = offset == 0;
                8
            }
            _ => break,
        };
        if at + len > end {
            return Err(past_end);
        }
        headers += 1;
        if headers > MAX_LAYERS {
            return Err(DecodeError::Malformed("IPv6 extension header chain"));
        }
        next = bytes.be_u8(at).unwrap_or(0);
        at += len;
        if !first_fragment {
            // What follows is the middle of the upper-layer payload, not a header.
            break;
        }
    }
    s.ip_protocol = next;
    if first_fragment {
        parse_l4(&mut s, bytes, at, end, true);
    }
    Ok(s)
}

/// Reads ports, flags or ICMP type/code from `bytes[at..end]`, leaving them `None` when the
/// capture stopped before the fixed L4 header did.
fn parse_l4(s: &mut PacketSummary, bytes: &[u8], at: usize, end: usize, v6: bool) {
    let Some(l4) = bytes.get(at..end) else { return };
    let header_len = match (s.ip_protocol, v6) {
        (6, _) => 20,
        (17, _) => 8,
        (132, _) => 12,
        (1, false) | (58, true) => 2,
        _ => return,
    };
    if l4.len() < header_len {
        return;
    }
    match s.ip_protocol {
        1 | 58 => {
            s.icmp_type = l4.be_u8(0);
            s.icmp_code = l4.be_u8(1);
        }
        proto => {
            s.src_port = l4.be_u16(0);
            s.dst_port = l4.be_u16(2);
            if proto == 6 {
                s.tcp_flags = l4.be_u8(13);
            }
            if proto == 17 {
                let udp_len = usize::from(l4.be_u16(4).unwrap_or(0));
                // Zero is the IPv6 jumbogram value: the IP length rules. Below 8 is nonsense.
                let payload_end = match udp_len {
                    0 => Some(l4.len()),
                    1..=7 => None,
                    n => Some(n.min(l4.len())),
                };
                s.udp_payload = payload_end.map(|e| (at + 8, at + e));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    /// Ethernet II header: dst MAC, src MAC, then `tail` (ethertype and any tags).
    fn eth(tail: &[u8]) -> Vec<u8> {
        let mut f = vec![0x02, 0, 0, 0, 0, 1, 0x02, 0, 0, 0, 0, 2];
        f.extend_from_slice(tail);
        f
    }

    /// A 20-byte IPv4 header with the given total length, flags/fragment field, TTL, protocol
    /// 10.0.0.1 -> 10.0.0.2.
    fn ipv4(total_len: u16, frag: u16, ttl: u8, proto: u8) -> Vec<u8> {
        let mut h = vec![0x45, 0x00]; // version 4, IHL 5; DSCP/ECN
        h.extend_from_slice(&total_len.to_be_bytes()); // total length
        h.extend_from_slice(&[0x12, 0x34]); // identification
        h.extend_from_slice(&frag.to_be_bytes()); // flags + fragment offset
        h.extend_from_slice(&[ttl, proto, 0, 0]); // TTL, protocol, checksum
        h.extend_from_slice(&[10, 0, 0, 1]); // source
        h.extend_from_slice(&[10, 0, 0, 2]); // destination
        h
    }

    /// A 20-byte TCP header from 40000 to 443 with the given flags.
    fn tcp(flags: u8) -> Vec<u8> {
        let mut t = Vec::new();
        t.extend_from_slice(&40000u16.to_be_bytes()); // source port
        t.extend_from_slice(&443u16.to_be_bytes()); // destination port
                                                    // Sequence and acknowledgement numbers.
        t.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 0]);
        // Data offset 5, flags, window, checksum, urgent pointer.
        t.extend_from_slice(&[0x50, flags, 0xff, 0xff, 0, 0, 0, 0]);
        t
    }

    /// An IPv6 header 2001:db8::1 -> 2001:db8::2 with the given payload length and next header.
    fn ipv6(payload_len: u16, next: u8, hop_limit: u8) -> Vec<u8> {
        let mut h = vec![0x60, 0, 0, 0]; // version 6, traffic class, flow label
        h.extend_from_slice(&payload_len.to_be_bytes());
        h.extend_from_slice(&[next, hop_limit]);
        h.extend_from_slice(&[0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
        h.extend_from_slice(&[0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]);
        h
    }

    #[test]
    fn linktypes() {
        assert_eq!(LinkType::from_linktype(1), Some(LinkType::Ethernet));
        assert_eq!(LinkType::from_linktype(113), Some(LinkType::LinuxSll));
        assert_eq!(LinkType::from_linktype(276), Some(LinkType::LinuxSll2));
        for raw in [12, 14, 101] {
            assert_eq!(LinkType::from_linktype(raw), Some(LinkType::RawIp));
        }
        assert_eq!(LinkType::from_linktype(228), Some(LinkType::Ipv4));
        assert_eq!(LinkType::from_linktype(229), Some(LinkType::Ipv6));
        assert_eq!(LinkType::from_linktype(0), Some(LinkType::Null));
        assert_eq!(LinkType::from_linktype(108), Some(LinkType::Null));
        assert_eq!(LinkType::from_linktype(105), None); // 802.11
    }

    #[test]
    fn ethernet_ipv4_tcp_syn() {
        let mut f = eth(&[0x08, 0x00]);
        f.extend(ipv4(40, 0x4000, 64, 6)); // DF set: not a fragment
        f.extend(tcp(0x02));
        let s = parse_frame(LinkType::Ethernet, &f).unwrap().unwrap();
        assert_eq!(s.src_addr, ip("10.0.0.1"));
        assert_eq!(s.dst_addr, ip("10.0.0.2"));
        assert_eq!(s.ip_protocol, 6);
        assert_eq!((s.src_port, s.dst_port), (Some(40000), Some(443)));
        assert_eq!(s.tcp_flags, Some(0x02));
        assert_eq!((s.icmp_type, s.icmp_code), (None, None));
        assert_eq!(s.ttl, 64);
        assert!(!s.fragment);
        assert_eq!(s.ip_len, 40);
        assert_eq!(s.udp_payload, None);
    }

    #[test]
    fn vlan_and_qinq_udp_payload_offsets() {
        // 802.1ad outer tag (VID 100), 802.1Q inner tag (VID 200), then IPv4.
        let mut f = eth(&[0x88, 0xa8, 0x00, 0x64, 0x81, 0x00, 0x00, 0xc8, 0x08, 0x00]);
        assert_eq!(f.len(), 22);
        f.extend(ipv4(20 + 8 + 5, 0, 17, 17));
        f.extend_from_slice(&[0x13, 0x88, 0x08, 0x07]); // UDP 5000 -> 2055
        f.extend_from_slice(&[0, 13, 0, 0]); // UDP length 8 + 5, checksum
        f.extend_from_slice(b"hello");
        f.extend_from_slice(&[0; 9]); // Ethernet padding: beyond both IP and UDP lengths
        let s = parse_frame(LinkType::Ethernet, &f).unwrap().unwrap();
        assert_eq!(s.ip_protocol, 17);
        assert_eq!((s.src_port, s.dst_port), (Some(5000), Some(2055)));
        assert_eq!(s.tcp_flags, None);
        assert_eq!(s.udp_payload, Some((50, 55)));
        assert_eq!(&f[50..55], b"hello");
        assert_eq!(s.ip_len, 33);

        // The same through parse_ip: offsets relative to the IP header.
        let s = parse_ip(&f[22..]).unwrap().unwrap();
        assert_eq!(s.udp_payload, Some((28, 33)));

        // Cut inside the payload: the end is clamped to what was captured.
        let s = parse_frame(LinkType::Ethernet, &f[..52]).unwrap().unwrap();
        assert_eq!(s.udp_payload, Some((50, 52)));
    }

    #[test]
    fn too_many_vlan_tags() {
        let mut tags = Vec::new();
        for _ in 0..20 {
            tags.extend_from_slice(&[0x81, 0x00, 0x00, 0x01]);
        }
        tags.extend_from_slice(&[0x08, 0x00]);
        let mut f = eth(&tags);
        f.extend(ipv4(20, 0, 64, 6));
        assert_eq!(
            parse_frame(LinkType::Ethernet, &f),
            Err(DecodeError::Malformed("VLAN tag stack"))
        );
    }

    #[test]
    fn mpls_and_pppoe() {
        // Two MPLS labels, the second with bottom-of-stack set, then IPv4.
        let mut f = eth(&[0x88, 0x47, 0x00, 0x01, 0x00, 0x40, 0x00, 0x02, 0x01, 0x40]);
        f.extend(ipv4(40, 0, 64, 6));
        f.extend(tcp(0x10));
        let s = parse_frame(LinkType::Ethernet, &f).unwrap().unwrap();
        assert_eq!((s.src_port, s.tcp_flags), (Some(40000), Some(0x10)));

        // PPPoE session header (ver/type 0x11, code 0, session 1, length), PPP protocol IPv6.
        let mut f = eth(&[0x88, 0x64, 0x11, 0x00, 0x00, 0x01, 0x00, 42, 0x00, 0x57]);
        f.extend(ipv6(0, 59, 64));
        let s = parse_frame(LinkType::Ethernet, &f).unwrap().unwrap();
        assert_eq!(s.src_addr, ip("2001:db8::1"));
        assert_eq!(s.ip_protocol, 59);
    }

    #[test]
    fn ipv6_hop_by_hop_and_fragment() {
        // Hop-by-hop (8 bytes: next 44, len 0, PadN), fragment header (next 17, offset 0, M
        // set, id), then UDP.
        let ext = |offset_flags: u16| {
            let mut e = vec![44, 0, 1, 4, 0, 0, 0, 0];
            e.extend_from_slice(&[17, 0]);
            e.extend_from_slice(&offset_flags.to_be_bytes());
            e.extend_from_slice(&[0xde, 0xad, 0xbe, 0xef]);
            e
        };
        // UDP 53 -> 49152, length 12, checksum, 4 bytes of payload.
        let udp = [0x00, 0x35, 0xc0, 0x00, 0x00, 0x0c, 0x00, 0x00, 1, 2, 3, 4];
        let mut f = eth(&[0x86, 0xdd]);
        f.extend(ipv6(16 + 12, 0, 255));
        f.extend(ext(0x0001)); // offset 0, M = 1: first fragment
        f.extend_from_slice(&udp);
        let s = parse_frame(LinkType::Ethernet, &f).unwrap().unwrap();
        assert_eq!(s.src_addr, ip("2001:db8::1"));
        assert_eq!(s.dst_addr, ip("2001:db8::2"));
        assert_eq!(s.ip_protocol, 17);
        assert!(s.fragment);
        assert_eq!(s.ttl, 255);
        assert_eq!(s.ip_len, 68);
        assert_eq!((s.src_port, s.dst_port), (Some(53), Some(49152)));
        assert_eq!(s.udp_payload, Some((14 + 56 + 8, 14 + 56 + 12)));

        let mut f = eth(&[0x86, 0xdd]);
        f.extend(ipv6(16 + 12, 0, 255));
        f.extend(ext(185 << 3)); // offset 185 * 8, M = 0: last fragment
        f.extend_from_slice(&udp);
        let s = parse_frame(LinkType::Ethernet, &f).unwrap().unwrap();
        assert_eq!(s.ip_protocol, 17);
        assert!(s.fragment);
        assert_eq!((s.src_port, s.dst_port, s.udp_payload), (None, None, None));
    }

    #[test]
    fn ipv6_extension_header_errors() {
        // Hop-by-hop claiming 16 bytes, cut by the capture after 8.
        let mut p = ipv6(16, 0, 64);
        p.extend_from_slice(&[6, 1, 0, 0, 0, 0, 0, 0]);
        assert_eq!(
            parse_ip(&p),
            Err(DecodeError::Truncated("IPv6 extension header"))
        );
        // The same header inside a packet whose payload length says 8.
        let mut p = ipv6(8, 0, 64);
        p.extend_from_slice(&[6, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(
            parse_ip(&p),
            Err(DecodeError::Malformed("IPv6 payload length"))
        );
        // A chain of destination options headers longer than the bound.
        let mut p = ipv6(8 * 12, 60, 64);
        for _ in 0..12 {
            p.extend_from_slice(&[60, 0, 1, 4, 0, 0, 0, 0]);
        }
        assert_eq!(
            parse_ip(&p),
            Err(DecodeError::Malformed("IPv6 extension header chain"))
        );
        // AH: length 4 means (4 + 2) * 4 = 24 bytes, then TCP.
        let mut p = ipv6(24 + 20, 51, 64);
        p.extend_from_slice(&[6, 4, 0, 0]);
        p.extend_from_slice(&[0; 20]);
        p.extend(tcp(0x12));
        let s = parse_ip(&p).unwrap().unwrap();
        assert_eq!((s.ip_protocol, s.tcp_flags), (6, Some(0x12)));
    }

    #[test]
    fn ipv4_fragments() {
        // Non-first fragment (offset 100 * 8): the bytes after the header are not a UDP header.
        let mut p = ipv4(28, 100, 64, 17);
        p.extend_from_slice(&[0x13, 0x88, 0x08, 0x07, 0, 8, 0, 0]);
        let s = parse_ip(&p).unwrap().unwrap();
        assert!(s.fragment);
        assert_eq!(s.ip_protocol, 17);
        assert_eq!((s.src_port, s.dst_port, s.udp_payload), (None, None, None));
        // First fragment (MF set, offset 0): ports are there.
        let mut p = ipv4(28, 0x2000, 64, 17);
        p.extend_from_slice(&[0x13, 0x88, 0x08, 0x07, 0, 200, 0, 0]);
        let s = parse_ip(&p).unwrap().unwrap();
        assert!(s.fragment);
        assert_eq!(s.src_port, Some(5000));
        assert_eq!(s.udp_payload, Some((28, 28)));
    }

    #[test]
    fn icmp_echo() {
        let mut p = ipv4(28, 0, 1, 1);
        // Echo request, code 0, checksum, identifier, sequence.
        p.extend_from_slice(&[8, 0, 0xf7, 0xff, 0, 1, 0, 0]);
        let s = parse_frame(LinkType::Ipv4, &p).unwrap().unwrap();
        assert_eq!(
            (s.ip_protocol, s.icmp_type, s.icmp_code),
            (1, Some(8), Some(0))
        );
        assert_eq!((s.src_port, s.dst_port), (None, None));
        assert_eq!(s.ttl, 1);

        let mut p = ipv6(8, 58, 64);
        p.extend_from_slice(&[129, 0, 0, 0, 0, 1, 0, 1]); // ICMPv6 echo reply
        let s = parse_frame(LinkType::Ipv6, &p).unwrap().unwrap();
        assert_eq!(
            (s.ip_protocol, s.icmp_type, s.icmp_code),
            (58, Some(129), Some(0))
        );
    }

    #[test]
    fn linux_cooked_captures() {
        // SLL: packet type 0, ARPHRD_ETHER, address length 6, 8 address bytes, protocol.
        let mut f = vec![0, 0, 0, 1, 0, 6, 2, 0, 0, 0, 0, 1, 0, 0, 0x08, 0x00];
        f.extend(ipv4(40, 0, 64, 6));
        f.extend(tcp(0x02));
        let s = parse_frame(LinkType::LinuxSll, &f).unwrap().unwrap();
        assert_eq!((s.src_addr, s.dst_port), (ip("10.0.0.1"), Some(443)));

        // SLL2: protocol, reserved, interface index, ARPHRD, packet type, address length, 8
        // address bytes.
        let mut f = vec![
            0x86, 0xdd, 0, 0, 0, 0, 0, 2, 0, 1, 0, 6, 2, 0, 0, 0, 0, 1, 0, 0,
        ];
        f.extend(ipv6(20, 6, 64));
        f.extend(tcp(0x11));
        let s = parse_frame(LinkType::LinuxSll2, &f).unwrap().unwrap();
        assert_eq!((s.src_addr, s.tcp_flags), (ip("2001:db8::1"), Some(0x11)));

        assert_eq!(
            parse_frame(LinkType::LinuxSll, &[0; 15]),
            Err(DecodeError::Truncated("Linux SLL header"))
        );
        assert_eq!(
            parse_frame(LinkType::LinuxSll2, &[0; 19]),
            Err(DecodeError::Truncated("Linux SLL2 header"))
        );
    }

    #[test]
    fn bsd_loopback_either_byte_order() {
        for family in [[2, 0, 0, 0], [0, 0, 0, 2]] {
            let mut f = family.to_vec();
            f.extend(ipv4(20, 0, 64, 6));
            let s = parse_frame(LinkType::Null, &f).unwrap().unwrap();
            assert_eq!(s.src_addr, ip("10.0.0.1"));
        }
        for family in [[24, 0, 0, 0], [0, 0, 0, 28], [30, 0, 0, 0]] {
            let mut f = family.to_vec();
            f.extend(ipv6(0, 59, 64));
            assert!(parse_frame(LinkType::Null, &f).unwrap().is_some());
        }
        assert_eq!(parse_frame(LinkType::Null, &[7, 0, 0, 0, 0x45]), Ok(None));
    }

    #[test]
    fn non_ip_frames() {
        // ARP request.
        let mut f = eth(&[0x08, 0x06]);
        f.extend_from_slice(&[0, 1, 8, 0, 6, 4, 0, 1]);
        f.extend_from_slice(&[0; 20]);
        assert_eq!(parse_frame(LinkType::Ethernet, &f), Ok(None));
        // LLDP, and an 802.3 frame with a length in place of the ethertype.
        assert_eq!(
            parse_frame(LinkType::Ethernet, &eth(&[0x88, 0xcc, 0, 0])),
            Ok(None)
        );
        assert_eq!(
            parse_frame(LinkType::Ethernet, &eth(&[0x00, 0x40, 0xaa, 0xaa])),
            Ok(None)
        );
    }

    #[test]
    fn tunnels_are_not_entered() {
        // IPv6 in IPv4 (protocol 41) and GRE (47): the outer packet is reported.
        for proto in [4, 41, 47] {
            let mut p = ipv4(60, 0, 64, proto);
            p.extend(ipv6(0, 59, 64));
            let s = parse_ip(&p).unwrap().unwrap();
            assert_eq!(
                (s.ip_protocol, s.src_addr, s.src_port),
                (proto, ip("10.0.0.1"), None)
            );
        }
    }

    #[test]
    fn truncated_and_malformed() {
        let mut f = eth(&[0x08, 0x00]);
        f.extend(ipv4(40, 0, 64, 6));
        f.extend(tcp(0x02));
        assert_eq!(
            parse_frame(LinkType::Ethernet, &f[..13]),
            Err(DecodeError::Truncated("Ethernet header"))
        );
        assert_eq!(
            parse_frame(LinkType::Ethernet, &f[..14]),
            Err(DecodeError::Truncated("IP header"))
        );
        assert_eq!(
            parse_frame(LinkType::Ethernet, &f[..33]),
            Err(DecodeError::Truncated("IPv4 header"))
        );
        // IP header complete, TCP cut: addresses but no ports or flags.
        let s = parse_frame(LinkType::Ethernet, &f[..44]).unwrap().unwrap();
        assert_eq!(
            (s.ip_protocol, s.src_port, s.dst_port, s.tcp_flags),
            (6, None, None, None)
        );
        assert_eq!(s.ip_len, 40);

        let mut bad = f.clone();
        bad[14] = 0x44; // IHL 4
        assert_eq!(
            parse_frame(LinkType::Ethernet, &bad),
            Err(DecodeError::Malformed("IPv4 header length"))
        );
        let mut bad = f.clone();
        bad[16..18].copy_from_slice(&19u16.to_be_bytes()); // total length below the header
        assert_eq!(
            parse_frame(LinkType::Ethernet, &bad),
            Err(DecodeError::Malformed("IPv4 total length"))
        );
        let mut bad = f.clone();
        bad[14] = 0x4f; // IHL 15: 60 bytes of header, only 40 captured
        bad[16..18].copy_from_slice(&60u16.to_be_bytes());
        assert_eq!(
            parse_frame(LinkType::Ethernet, &bad),
            Err(DecodeError::Truncated("IPv4 options"))
        );
        let mut bad = f.clone();
        bad[14] = 0x55; // version 5
        assert_eq!(
            parse_frame(LinkType::Ethernet, &bad),
            Err(DecodeError::Malformed("IP version"))
        );
        // IPv4 total length shorter than the TCP header: the rest is padding, not L4.
        let mut short = f.clone();
        short[16..18].copy_from_slice(&30u16.to_be_bytes());
        let s = parse_frame(LinkType::Ethernet, &short).unwrap().unwrap();
        assert_eq!(s.src_port, None);

        assert_eq!(
            parse_ip(&ipv6(0, 59, 64)[..39]),
            Err(DecodeError::Truncated("IPv6 header"))
        );
        assert_eq!(parse_ip(&[]), Err(DecodeError::Truncated("IP header")));
        assert_eq!(
            parse_frame(LinkType::Ipv6, &f[14..]),
            Err(DecodeError::Malformed("IP version"))
        );
    }

    #[test]
    fn every_prefix_of_every_fixture_is_safe() {
        let mut frames = Vec::new();
        let mut f = eth(&[0x88, 0xa8, 0x00, 0x64, 0x81, 0x00, 0x00, 0xc8, 0x86, 0xdd]);
        f.extend(ipv6(16 + 20, 0, 64));
        f.extend_from_slice(&[44, 0, 1, 4, 0, 0, 0, 0, 6, 0, 0, 1, 0, 0, 0, 1]);
        f.extend(tcp(0x02));
        frames.push(f);
        let mut f = eth(&[0x88, 0x47, 0x00, 0x01, 0x01, 0x40]);
        f.extend(ipv4(28, 0, 64, 17));
        f.extend_from_slice(&[0x13, 0x88, 0x08, 0x07, 0, 8, 0, 0]);
        frames.push(f);
        for f in &frames {
            for n in 0..=f.len() {
                let _ = parse_frame(LinkType::Ethernet, &f[..n]);
                let _ = parse_ip(&f[n..]);
                for link in [
                    LinkType::LinuxSll,
                    LinkType::LinuxSll2,
                    LinkType::Null,
                    LinkType::RawIp,
                ] {
                    if let Ok(Some(s)) = parse_frame(link, &f[..n]) {
                        if let Some((a, b)) = s.udp_payload {
                            assert!(a <= b && b <= n);
                        }
                    }
                }
            }
        }
    }
}
